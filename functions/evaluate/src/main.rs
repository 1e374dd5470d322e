use customs_runtime::{config, sqs, tracing};
use customs_store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init();
    let deps = customs_evaluate::Deps {
        store: Store::connect(&config::database_url()?, 2)?,
        queues: Some(customs_runtime::Queues::new(customs_runtime::aws::sqs(&customs_runtime::aws::load().await), config::queue_prefix())),
    };
    sqs::serve(|event| customs_evaluate::handle(event, &deps)).await
}
