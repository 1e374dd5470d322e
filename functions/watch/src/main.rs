use customs_image::{NetworkPolicy, Registry};
use customs_runtime::{Queues, aws, config, sqs, tracing};
use customs_store::{SecretBox, Store};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init();
    let sdk = aws::load().await;
    let deps = customs_watch::Deps {
        store: Store::connect(&config::database_url()?, 2)?,
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
        registry: Registry::new(NetworkPolicy {
            allow_private: config::parsed("CUSTOMS_ALLOW_PRIVATE_REGISTRIES", false)?,
        }),
        secrets: SecretBox::from_base64(&config::required(
            "CUSTOMS_SECRETS_KEY",
            " (base64 of the 32-byte key sealing registry passwords)",
        )?)?,
    };
    sqs::serve(|event| customs_watch::handle(event, &deps)).await
}
