//! Shared set-up of the end-to-end tests: a private database, private queues, the API on
//! a free port, and the runner, all against the real local services.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use customs_local::provision::Names;
use customs_local::{App, Runner, Settings};
use customs_store::{Store, MIGRATIONS};
use tokio_postgres::NoTls;
use uuid::Uuid;

pub const ADMIN_PASSWORD: &str = "test-admin-password";
/// The key sealing registry passwords in tests (32 bytes, base64).
pub const TEST_SECRETS_KEY: &str = "dGVzdC1vbmx5LWtleS1mb3ItY3VzdG9tcy10ZXN0cyE=";

/// Reads a variable the test environment must provide, naming it when it is missing.
pub fn env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| {
        format!("{name} is not set: run the tests with `make test`, or `make up` and `eval \"$(make -s env)\"` first")
    })
}

/// The registry holding the test images (no auth).
pub fn registry() -> String {
    std::env::var("CUSTOMS_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into())
}

/// The registry holding the same images behind HTTP Basic auth.
pub fn basic_registry() -> String {
    std::env::var("CUSTOMS_TEST_BASIC_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5001".into())
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.with_context(|| format!("connect {url}"))?;
    tokio::spawn(conn);
    Ok(client)
}

fn with_db(url: &str, db: &str) -> Result<String> {
    let (base, _) = url.rsplit_once('/').context("DATABASE_URL has no database name")?;
    Ok(format!("{base}/{db}"))
}

/// A new database, cloned from a template that holds every migration.
pub async fn fresh_database() -> Result<String> {
    let url = env("DATABASE_URL")?;
    let admin = admin_client(&url).await?;
    let fingerprint: u64 = MIGRATIONS.iter().flat_map(|m| m.sql.bytes()).fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let template = format!("customs_tpl_{fingerprint:016x}");
    admin.execute("SELECT pg_advisory_lock(4242)", &[]).await?;
    let exists = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template]).await?.is_some();
    if !exists {
        let building = format!("{template}_build");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building}")).await?;
        admin.batch_execute(&format!("CREATE DATABASE {building}")).await?;
        Store::connect(&with_db(&url, &building)?, 1)?.migrate().await?;
        admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}")).await?;
    }
    admin.execute("SELECT pg_advisory_unlock(4242)", &[]).await?;
    let db = format!("customs_t_{}", Uuid::new_v4().simple());
    admin.batch_execute(&format!("CREATE DATABASE {db} TEMPLATE {template}")).await?;
    with_db(&url, &db)
}

/// An empty database (no migrations), for migration tests.
pub async fn empty_database() -> Result<String> {
    let url = env("DATABASE_URL")?;
    let admin = admin_client(&url).await?;
    let db = format!("customs_e_{}", Uuid::new_v4().simple());
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await?;
    with_db(&url, &db)
}

/// One test's private slice of the local stack.
pub struct Stack {
    pub app: App,
    pub runner: Runner,
    pub api: SocketAddr,
    pub prefix: String,
    pub http: reqwest::Client,
}

impl Stack {
    pub async fn start() -> Result<Self> {
        customs_runtime::tracing::init();
        env("AWS_ENDPOINT_URL")?;
        let prefix = format!("t{}-", &Uuid::new_v4().simple().to_string()[..10]);
        let settings = Settings {
            database_url: fresh_database().await?,
            names: Names { queue_prefix: prefix.clone(), bucket: format!("{prefix}staging") },
            api_addr: "127.0.0.1:0".parse()?,
            secrets_key: TEST_SECRETS_KEY.into(),
            allow_private_registries: true,
        };
        let sdk = customs_runtime::aws::load().await;
        let app = App::new(sdk, settings, customs_api::AuthConfig::new(ADMIN_PASSWORD)).await?;
        let runner = app.runner().await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?;
        let served = app.clone();
        tokio::spawn(async move { served.serve_api_on(listener).await });
        Ok(Self { app, runner, api, prefix, http: reqwest::Client::new() })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    /// An authenticated request to the API.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    pub async fn drain(&self) -> Result<()> {
        self.runner.drain_until_idle(Duration::from_secs(120)).await
    }
}
