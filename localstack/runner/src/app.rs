//! Wiring every function's handler to its queue, and the API to its port.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use customs_contracts::{ROUTES, Route};
use customs_image::{NetworkPolicy, Registry};
use customs_runtime::aws::SdkConfig;
use customs_runtime::{Queues, config};
use customs_store::{SecretBox, Store};
use tracing::info;

use crate::provision::{self, Names};
use crate::runner::{Binding, Consumer, Runner, consumer};

/// Settings of the local stack, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub names: Names,
    pub api_addr: SocketAddr,
    /// Base64 of the 32-byte key sealing registry passwords (`CUSTOMS_SECRETS_KEY`).
    pub secrets_key: String,
    /// Whether registries on loopback/private networks may be contacted
    /// (`CUSTOMS_ALLOW_PRIVATE_REGISTRIES`, default true here: this is the local stack).
    pub allow_private_registries: bool,
    /// Bounds on one layer (decompressed size, entries, staged content).
    pub limits: customs_image::layer::Limits,
    /// Longest wait for any one read from a registry (`CUSTOMS_REGISTRY_READ_TIMEOUT_SECS`, 60).
    pub registry_read_timeout: std::time::Duration,
    /// First redelivery delay of a retryable analysis failure (`CUSTOMS_RETRY_BACKOFF_SECS`,
    /// 2 here: the local stack retries quickly; 30 in AWS).
    pub retry_backoff: std::time::Duration,
    /// Largest total of compressed bytes of an image's unstaged layers that analyze stages
    /// itself instead of fanning out stage-layer messages (`CUSTOMS_INLINE_STAGING_BYTES`,
    /// default 128 MiB as in AWS; 0 always fans out).
    pub inline_staging_bytes: u64,
    /// Bytes of staged layers analyze keeps besides the bucket: files on local disk,
    /// indexes in memory (at most a quarter) (`CUSTOMS_LAYER_CACHE_BYTES`, default 256 MiB
    /// as in AWS; 0 keeps none).
    pub layer_cache_bytes: u64,
    /// Whether the schedules' EventBridge rules are created enabled (always, but for tests
    /// that need to be the only source of feed syncs or watch ticks).
    pub schedules_enabled: bool,
    /// Most batches of one queue handled at once by `serve` (`CUSTOMS_RUNNER_CONCURRENCY`,
    /// default the number of cores; never above the route's maximum concurrency). One
    /// process plays every function here, so more than a core each would only queue up.
    pub runner_concurrency: u32,
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        let api_addr = config::or_default("CUSTOMS_API_ADDR", "127.0.0.1:8228");
        Ok(Self {
            database_url: config::database_url()?,
            names: Names {
                queue_prefix: config::queue_prefix(),
                bucket: config::or_default("CUSTOMS_BUCKET", "customs-staging"),
            },
            api_addr: api_addr
                .parse()
                .with_context(|| format!("CUSTOMS_API_ADDR={api_addr:?} is not host:port"))?,
            secrets_key: config::required(
                "CUSTOMS_SECRETS_KEY",
                " (base64 of 32 random bytes; `make env` sets it)",
            )?,
            allow_private_registries: config::parsed("CUSTOMS_ALLOW_PRIVATE_REGISTRIES", true)?,
            limits: customs_image::layer::Limits::default(),
            registry_read_timeout: std::time::Duration::from_secs(config::parsed("CUSTOMS_REGISTRY_READ_TIMEOUT_SECS", 60)?),
            retry_backoff: std::time::Duration::from_secs(config::parsed("CUSTOMS_RETRY_BACKOFF_SECS", 2)?),
            inline_staging_bytes: config::parsed("CUSTOMS_INLINE_STAGING_BYTES", 128 << 20)?,
            layer_cache_bytes: config::parsed("CUSTOMS_LAYER_CACHE_BYTES", 256 << 20)?,
            schedules_enabled: true,
            runner_concurrency: config::parsed(
                "CUSTOMS_RUNNER_CONCURRENCY",
                std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1)),
            )?,
        })
    }
}

/// Every function, linked into one process against one database pool.
#[derive(Clone)]
pub struct App {
    pub sdk: SdkConfig,
    pub settings: Settings,
    pub store: Store,
    pub queues: Queues,
    pub api: Arc<customs_api::Deps>,
    pub registry: Registry,
    pub secrets: SecretBox,
    /// Staged layers kept locally (files on disk, indexes in memory), shared by the analyze
    /// and stage-layer consumers as in one analyze function.
    pub layer_cache: Option<Arc<customs_image::LayerCache>>,
}

impl App {
    pub async fn new(
        sdk: SdkConfig,
        settings: Settings,
        auth: customs_api::AuthConfig,
    ) -> Result<Self> {
        let store = Store::connect(&settings.database_url, 16)?;
        let queues = Queues::new(
            aws_sdk_sqs::Client::new(&sdk),
            settings.names.queue_prefix.clone(),
        );
        let secrets = SecretBox::from_base64(&settings.secrets_key)?;
        let registry = Registry::new(NetworkPolicy {
            allow_private: settings.allow_private_registries,
        })
        .with_timeouts(std::time::Duration::from_secs(10), settings.registry_read_timeout);
        let api = Arc::new(customs_api::Deps {
            store: store.clone(),
            queues: queues.clone(),
            auth,
            registry: registry.clone(),
            secrets: secrets.clone(),
            webhook_policy: NetworkPolicy {
                allow_private: config::parsed(
                    "CUSTOMS_ALLOW_PRIVATE_WEBHOOKS",
                    settings.allow_private_registries,
                )?,
            },
            uploads: Some(customs_image::Staging::new(
                customs_image::s3_client(&sdk, true),
                settings.names.bucket.clone(),
            )),
        });
        let layer_cache = match settings.layer_cache_bytes {
            0 => None,
            n => Some(Arc::new(customs_image::LayerCache::new(n).context("creating the layer cache")?)),
        };
        Ok(Self {
            sdk,
            settings,
            store,
            queues,
            api,
            registry,
            secrets,
            layer_cache,
        })
    }

    /// The staging bucket as analyze sees it: with the process's layer cache, if any.
    fn analyze_staging(&self) -> customs_image::Staging {
        let staging = customs_image::Staging::new(customs_image::s3_client(&self.sdk, true), self.settings.names.bucket.clone());
        match &self.layer_cache {
            Some(c) => staging.with_cache(c.clone()),
            None => staging,
        }
    }

    /// The handler consuming `route`, as the event source mapping would invoke it.
    pub fn consumer_for(&self, route: &Route) -> Result<Consumer> {
        let store = self.store.clone();
        Ok(match route.consumer {
            "analyze" => {
                let deps = Arc::new(customs_analyze::Deps {
                    store,
                    registry: self.registry.clone(),
                    queues: self.queues.clone(),
                    secrets: self.secrets.clone(),
                    staging: self.analyze_staging(),
                    limits: self.settings.limits,
                    retry_backoff: self.settings.retry_backoff,
                    inline_staging_bytes: self.settings.inline_staging_bytes,
                });
                consumer(move |ev| {
                    let deps = deps.clone();
                    async move { customs_analyze::handle(ev, &deps).await }
                })
            }
            "evaluate" => {
                let deps = Arc::new(customs_evaluate::Deps { store, queues: Some(self.queues.clone()) });
                consumer(move |ev| {
                    let deps = deps.clone();
                    async move { customs_evaluate::handle(ev, &deps).await }
                })
            }
            "notify" => {
                let deps = Arc::new(customs_notify::Deps {
                    store,
                    queues: self.queues.clone(),
                    secrets: self.secrets.clone(),
                    topic: customs_runtime::Topic::by_name(
                        customs_runtime::aws::sns(&self.sdk),
                        self.settings.names.topic(),
                    ),
                    settings: customs_notify::Settings {
                        allow_private_webhooks: self.api.webhook_policy.allow_private,
                        // The local stack retries quickly and gives up sooner; AWS uses
                        // the 30 s base and 8 attempts.
                        backoff_base_secs: config::parsed("CUSTOMS_WEBHOOK_BACKOFF_SECS", 1)?,
                        max_attempts: config::parsed("CUSTOMS_WEBHOOK_MAX_ATTEMPTS", 3)?,
                        ..customs_notify::Settings::from_env()?
                    },
                });
                consumer(move |ev| {
                    let deps = deps.clone();
                    async move { customs_notify::handle(ev, &deps).await }
                })
            }
            "feed-sync" => {
                let deps = Arc::new(customs_feed_sync::Deps {
                    store,
                    sources: customs_feed_sync::Sources::from_env()?,
                    queues: Some(self.queues.clone()),
                });
                consumer(move |ev| {
                    let deps = deps.clone();
                    async move { customs_feed_sync::handle(ev, &deps).await }
                })
            }
            "watch" => {
                let deps = Arc::new(customs_watch::Deps {
                    store,
                    queues: self.queues.clone(),
                    registry: self.registry.clone(),
                    secrets: self.secrets.clone(),
                });
                consumer(move |ev| {
                    let deps = deps.clone();
                    async move { customs_watch::handle(ev, &deps).await }
                })
            }
            other => bail!(
                "route {} names consumer {other:?}, which the runner does not link",
                route.queue
            ),
        })
    }

    /// Provisions (idempotently) and binds every route of the routing table.
    pub async fn runner(&self) -> Result<Runner> {
        let pairs = provision::all(&self.sdk, &self.settings.names, self.settings.schedules_enabled).await?;
        let mut bindings = Vec::new();
        for r in ROUTES {
            let pair = pairs
                .get(r.queue)
                .with_context(|| format!("queue {} not provisioned", r.queue))?;
            bindings.push(Binding {
                queue_url: pair.url.clone(),
                queue_arn: pair.arn.clone(),
                batch_size: r.batch_size,
                concurrency: r.max_concurrency.min(self.settings.runner_concurrency),
                consumer: self.consumer_for(r)?,
            });
        }
        let region = self
            .sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        Ok(Runner::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            region,
            bindings,
        ))
    }

    /// Serves the API router on `CUSTOMS_API_ADDR` until the process ends.
    pub async fn serve_api(&self) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(self.settings.api_addr)
            .await
            .with_context(|| format!("cannot listen on {}", self.settings.api_addr))?;
        self.serve_api_on(listener).await
    }

    /// Serves the API router on an already bound listener.
    pub async fn serve_api_on(&self, listener: tokio::net::TcpListener) -> Result<()> {
        info!(addr = ?listener.local_addr().ok(), "API listening");
        axum::serve(listener, customs_api::router(self.api.clone()))
            .await
            .context("API server")
    }
}
