use std::sync::Arc;

use customs_runtime::{aws, config, tracing, Queues};
use customs_store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init();
    let sdk = aws::load().await;
    let deps = customs_api::Deps {
        store: Store::connect(&config::database_url()?, 4)?,
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
        auth: customs_api::AuthConfig::from_env()?,
    };
    lambda_http::run(customs_api::router(Arc::new(deps))).await
}
