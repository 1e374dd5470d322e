use std::sync::Arc;

use customs_image::{NetworkPolicy, Registry, Staging, s3_client};
use customs_runtime::{Queues, aws, config, tracing};
use customs_store::{SecretBox, Store};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init();
    let sdk = aws::load().await;
    let deps = customs_api::Deps {
        store: Store::connect(&config::database_url()?, 4)?,
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
        auth: customs_api::AuthConfig::from_env()?,
        registry: Registry::new(NetworkPolicy {
            allow_private: config::parsed("CUSTOMS_ALLOW_PRIVATE_REGISTRIES", false)?,
        }),
        secrets: SecretBox::from_base64(&config::required(
            "CUSTOMS_SECRETS_KEY",
            " (base64 of 32 random bytes)",
        )?)?,
        webhook_policy: NetworkPolicy {
            allow_private: config::parsed("CUSTOMS_ALLOW_PRIVATE_WEBHOOKS", false)?,
        },
        uploads: match std::env::var("CUSTOMS_BUCKET") {
            Ok(bucket) if !bucket.is_empty() => Some(Staging::new(
                s3_client(&sdk, config::parsed("CUSTOMS_S3_FORCE_PATH_STYLE", false)?),
                bucket,
            )),
            _ => None,
        },
    };
    lambda_http::run(customs_api::router(Arc::new(deps))).await
}
