use customs_runtime::{config, sqs, tracing};
use customs_store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init();
    let deps = customs_watch::Deps {
        store: Store::connect(&config::database_url()?, 2)?,
    };
    sqs::serve(|event| customs_watch::handle(event, &deps)).await
}
