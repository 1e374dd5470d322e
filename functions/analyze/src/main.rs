use customs_image::{NetworkPolicy, Registry};
use customs_runtime::{aws, config, sqs, tracing, Queues};
use customs_store::{SecretBox, Store};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init();
    let sdk = aws::load().await;
    let deps = customs_analyze::Deps {
        store: Store::connect(&config::database_url()?, 4)?,
        registry: Registry::new(NetworkPolicy { allow_private: config::parsed("CUSTOMS_ALLOW_PRIVATE_REGISTRIES", false)? }),
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
        secrets: SecretBox::from_base64(&config::required("CUSTOMS_SECRETS_KEY", " (base64 of 32 random bytes)")?)?,
    };
    sqs::serve(|event| customs_analyze::handle(event, &deps)).await
}
