use std::sync::Arc;
use std::time::Duration;

use customs_image::layer::Limits;
use customs_image::{s3_client, LayerCache, NetworkPolicy, Registry, Staging};
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
        })
        .with_timeouts(
            Duration::from_secs(config::parsed("CUSTOMS_REGISTRY_CONNECT_TIMEOUT_SECS", 10)?),
            Duration::from_secs(config::parsed("CUSTOMS_REGISTRY_READ_TIMEOUT_SECS", 60)?),
        ),
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
        staging: {
            let staging = Staging::new(
                s3_client(&sdk, config::parsed("CUSTOMS_S3_FORCE_PATH_STYLE", false)?),
                config::required("CUSTOMS_BUCKET", " (the staging bucket)")?,
            );
            // Staged layers this function instance has seen, kept between invocations:
            // files in /tmp, indexes in memory, at most a quarter of the budget (0 keeps
            // none; mind the function's ephemeral storage and memory).
            match config::parsed("CUSTOMS_LAYER_CACHE_BYTES", 256u64 << 20)? {
                0 => staging,
                n => staging.with_cache(Arc::new(LayerCache::new(n)?)),
            }
        },
        limits: Limits::default(),
        retry_backoff: Duration::from_secs(config::parsed("CUSTOMS_RETRY_BACKOFF_SECS", 30)?),
        inline_staging_bytes: config::parsed("CUSTOMS_INLINE_STAGING_BYTES", 128 << 20)?,
        secrets: SecretBox::from_base64(&config::required(
            "CUSTOMS_SECRETS_KEY",
            " (base64 of 32 random bytes)",
        )?)?,
    };
    sqs::serve(|event| customs_analyze::handle(event, &deps)).await
}
