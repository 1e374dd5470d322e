use customs_image::Registry;
use customs_runtime::{aws, config, sqs, tracing, Queues};
use customs_store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init();
    let sdk = aws::load().await;
    let deps = customs_analyze::Deps {
        store: Store::connect(&config::database_url()?, 4)?,
        registry: Registry::default(),
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
    };
    sqs::serve(|event| customs_analyze::handle(event, &deps)).await
}
