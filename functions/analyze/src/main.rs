use customs_image::layer::Limits;
use customs_image::{s3_client, NetworkPolicy, Registry, Staging};
use customs_runtime::{Queues, aws, config, sqs, tracing};
use customs_store::{SecretBox, Store};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init();
    let sdk = aws::load().await;
    let deps = customs_analyze::Deps {
        store: Store::connect(&config::database_url()?, 4)?,
        registry: Registry::new(NetworkPolicy {
            allow_private: config::parsed("CUSTOMS_ALLOW_PRIVATE_REGISTRIES", false)?,
        }),
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
        staging: Staging::new(
            s3_client(&sdk, config::parsed("CUSTOMS_S3_FORCE_PATH_STYLE", false)?),
            config::required("CUSTOMS_BUCKET", " (the staging bucket)")?,
        ),
        limits: Limits::default(),
        secrets: SecretBox::from_base64(&config::required(
            "CUSTOMS_SECRETS_KEY",
            " (base64 of 32 random bytes)",
        )?)?,
    };
    sqs::serve(|event| customs_analyze::handle(event, &deps)).await
}
