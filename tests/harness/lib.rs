//! Shared set-up of the end-to-end tests: a private database, private queues, the API on
//! a free port, and the runner, all against the real local services.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use customs_local::provision::Names;
use customs_local::{App, Runner, Settings};
use customs_store::{MIGRATIONS, Store};
use tokio_postgres::NoTls;
use uuid::Uuid;

pub const ADMIN_PASSWORD: &str = "test-admin-password";
/// The key sealing registry passwords in tests (32 bytes, base64).
/// The inline staging threshold of a test stack: the product's default (128 MiB), so the
/// suite runs the path small images take in production. Tests of the fan-out itself set 0
/// (`Stack::start_tuned(|s| s.inline_staging_bytes = 0)`).
pub const INLINE_STAGING_BYTES: u64 = 128 << 20;
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

/// The registry holding the same images behind Bearer token auth (its token service
/// checks the same credentials as the Basic one).
pub fn token_registry() -> String {
    std::env::var("CUSTOMS_TEST_TOKEN_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5002".into())
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connect {url}"))?;
    tokio::spawn(conn);
    Ok(client)
}

fn with_db(url: &str, db: &str) -> Result<String> {
    let (base, _) = url
        .rsplit_once('/')
        .context("DATABASE_URL has no database name")?;
    Ok(format!("{base}/{db}"))
}

/// A new database, cloned from a template that holds every migration.
pub async fn fresh_database() -> Result<String> {
    let url = env("DATABASE_URL")?;
    let admin = admin_client(&url).await?;
    let fingerprint: u64 = MIGRATIONS
        .iter()
        .flat_map(|m| m.sql.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let template = format!("customs_tpl_{fingerprint:016x}");
    admin.execute("SELECT pg_advisory_lock(4242)", &[]).await?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await?
        .is_some();
    if !exists {
        let building = format!("{template}_build");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))
            .await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await?;
        Store::connect(&with_db(&url, &building)?, 1)?
            .migrate()
            .await?;
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .await?;
    }
    admin
        .execute("SELECT pg_advisory_unlock(4242)", &[])
        .await?;
    let db = format!("customs_t_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {db} TEMPLATE {template}"))
        .await?;
    with_db(&url, &db)
}

/// An empty database (no migrations), for migration tests.
pub async fn empty_database() -> Result<String> {
    let url = env("DATABASE_URL")?;
    let admin = admin_client(&url).await?;
    let db = format!("customs_e_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
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
        Self::start_with(customs_image::layer::Limits::default()).await
    }

    /// A stack whose layer limits are `limits` (to test the bounds cheaply).
    pub async fn start_with(limits: customs_image::layer::Limits) -> Result<Self> {
        Self::start_tuned(|s| s.limits = limits).await
    }

    /// A stack whose settings `tune` adjusts (limits, registry timeouts, retry backoff).
    pub async fn start_tuned(tune: impl FnOnce(&mut Settings)) -> Result<Self> {
        customs_runtime::tracing::init();
        env("AWS_ENDPOINT_URL")?;
        let prefix = format!("t{}-", &Uuid::new_v4().simple().to_string()[..10]);
        let mut settings = Settings {
            database_url: fresh_database().await?,
            names: Names {
                queue_prefix: prefix.clone(),
                bucket: format!("{prefix}staging"),
            },
            api_addr: "127.0.0.1:0".parse()?,
            secrets_key: TEST_SECRETS_KEY.into(),
            allow_private_registries: true,
            limits: customs_image::layer::Limits::default(),
            registry_read_timeout: Duration::from_secs(60),
            retry_backoff: Duration::from_secs(1),
            inline_staging_bytes: INLINE_STAGING_BYTES,
            layer_cache_bytes: 256 << 20,
            schedules_enabled: true,
            runner_concurrency: 1,
        };
        tune(&mut settings);
        let sdk = customs_runtime::aws::load().await;
        let app = App::new(sdk, settings, customs_api::AuthConfig::new(ADMIN_PASSWORD)).await?;
        let runner = app.runner().await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?;
        let served = app.clone();
        tokio::spawn(async move { served.serve_api_on(listener).await });
        Ok(Self {
            app,
            runner,
            api,
            prefix,
            http: reqwest::Client::new(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    /// An authenticated request to the API.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// A request to the API as `user`.
    pub fn request_as(&self, method: reqwest::Method, path: &str, user: &str, password: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).basic_auth(user, Some(password))
    }

    /// Creates account `account` with one user `user` (password `password`), as admin.
    pub async fn add_account(&self, account: &str, user: &str, password: &str) -> Result<()> {
        let r = self
            .request(reqwest::Method::POST, "/v1/accounts")
            .json(&serde_json::json!({ "name": account }))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "create account {account}: {} {}", r.status(), r.text().await?);
        let r = self
            .request(reqwest::Method::POST, &format!("/v1/accounts/{account}/users"))
            .json(&serde_json::json!({ "username": user, "password": password }))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "create user {user}: {} {}", r.status(), r.text().await?);
        Ok(())
    }

    pub async fn drain(&self) -> Result<()> {
        self.runner.drain_until_idle(Duration::from_secs(120)).await
    }
}

/// The repo's copies of real upstream feed records (OSV, Debian, KEV, EPSS), synced
/// through `file://` into the stack's database.
pub async fn sync_fixture_feeds(stack: &Stack) -> Result<()> {
    let t = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/feeds/testdata");
    let urls = std::collections::BTreeMap::from([
        ("osv".to_owned(), vec![format!("file://{t}/osv/")]),
        ("debian".to_owned(), vec![format!("file://{t}/debian/vunnel-debian.json")]),
        ("kev".to_owned(), vec![format!("file://{t}/kev/known_exploited_vulnerabilities.json")]),
        ("epss".to_owned(), vec![format!("file://{t}/epss/example-1.csv")]),
    ]);
    let deps = customs_feed_sync::Deps {
        store: stack.app.store.clone(),
        queues: None,
        sources: customs_feed_sync::Sources {
            urls,
            nvd_api_key: None,
            nvd_page_size: 2000,
            nvd_delay: Duration::ZERO,
            backoff: Duration::from_millis(10),
            redhat_max_files: 10,
            timeout: Duration::from_secs(30),
        },
    };
    customs_feed_sync::sync_all(&deps, "test", false).await?;
    Ok(())
}

/// A binary of the workspace (e.g. `customs`), from the target directory this test
/// binary runs from (`target/debug/deps/e2e-…` → `target/debug/NAME`).
/// `cargo test --workspace` builds it; a lone `--test e2e` run uses the last build.
pub fn workspace_bin(name: &str) -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("the test binary is not in target/<profile>/deps")?;
    let bin = dir.join(name);
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace` (or `cargo test --workspace`) first",
        bin.display()
    );
    Ok(bin)
}

/// Pushes a hand-made image (layers as given, which may be hostile) to the test registry
/// through the distribution API, and returns its manifest digest.
pub async fn push_image(repo: &str, tag: &str, layers: &[(&str, Vec<u8>, String)], config: Option<Vec<u8>>) -> Result<String> {
    let http = reqwest::Client::new();
    let base = format!("http://{}/v2/{repo}", registry());
    let sha = |b: &[u8]| format!("sha256:{}", sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>());
    let upload = |blob: Vec<u8>| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let digest = sha(&blob);
            let resp = http.post(format!("{base}/blobs/uploads/")).send().await?.error_for_status()?;
            let loc = resp.headers().get("location").and_then(|l| l.to_str().ok()).context("no upload location")?.to_owned();
            let loc = if loc.starts_with("http") { loc } else { format!("http://{}{loc}", registry()) };
            let sep = if loc.contains('?') { '&' } else { '?' };
            http.put(format!("{loc}{sep}digest={digest}"))
                .header("Content-Type", "application/octet-stream")
                .body(blob)
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok(digest)
        }
    };
    let diff_ids: Vec<&str> = layers.iter().map(|(_, _, d)| d.as_str()).collect();
    let config = config.unwrap_or_else(|| {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
            "config": {}, "history": [],
        }))
        .unwrap_or_default()
    });
    let config_len = config.len();
    let config_digest = upload(config).await?;
    let mut descs = Vec::new();
    for (media_type, blob, _) in layers {
        let size = blob.len();
        let digest = upload(blob.clone()).await?;
        descs.push(serde_json::json!({ "mediaType": media_type, "digest": digest, "size": size }));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_len },
        "layers": descs,
    }))?;
    let digest = sha(&manifest);
    http.put(format!("{base}/manifests/{tag}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await?
        .error_for_status()?;
    Ok(digest)
}

/// What a `CountingProxy` does instead of passing a request through.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a short plain-text body.
    Status(u16),
    /// Accept the request and never answer.
    Hang,
    /// Pass the answer through with its full `Content-Length`, but send only the first
    /// half of the body and then drop the connection.
    Truncate,
    /// Answer 200 with this body (and no `Docker-Content-Digest`), as `Content-Type`.
    Body(&'static str, Vec<u8>),
    /// Answer 200 as `Content-Type` with a body that never ends (the start of a JSON object,
    /// then padding, chunked, without `Content-Length`), up to 1 GiB; the bytes handed to
    /// the connection are counted per request (`endless_served`).
    Endless(&'static str),
    /// Answer 401 with this `WWW-Authenticate` challenge.
    Challenge(String),
}

/// A pass-through proxy in front of the test registry that counts requests, to prove
/// which layers an analysis fetched, and that injects faults (`fail`): the corpus of
/// broken registries.
pub struct CountingProxy {
    pub addr: SocketAddr,
    blob_gets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    faults: std::sync::Arc<std::sync::Mutex<Vec<(String, Fault)>>>,
    endless: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<std::sync::atomic::AtomicU64>>>>,
}

impl CountingProxy {
    pub async fn start() -> Result<Self> {
        use axum::body::{Body, Bytes};
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let blob_gets: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
        let faults: std::sync::Arc<std::sync::Mutex<Vec<(String, Fault)>>> = std::sync::Arc::default();
        let endless: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<std::sync::atomic::AtomicU64>>>> = std::sync::Arc::default();
        let (seen, rules, served) = (blob_gets.clone(), faults.clone(), endless.clone());
        let http = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (http, seen, rules, served) = (http.clone(), seen.clone(), rules.clone(), served.clone());
            async move {
                let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                if method == Method::GET && path.contains("/blobs/sha256:")
                    && let Ok(mut s) = seen.lock() {
                        s.push(path.rsplit('/').next().unwrap_or_default().to_owned());
                    }
                let fault = rules.lock().ok().and_then(|r| r.iter().find(|(p, _)| path.contains(p.as_str())).map(|(_, f)| f.clone()));
                match &fault {
                    Some(Fault::Hang) => std::future::pending::<()>().await,
                    Some(Fault::Status(code)) => {
                        let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        return (status, format!("injected fault: {code}\n")).into_response();
                    }
                    Some(Fault::Body(content_type, body)) => {
                        return ([(axum::http::header::CONTENT_TYPE, *content_type)], body.clone()).into_response();
                    }
                    Some(Fault::Endless(content_type)) => {
                        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                        if let Ok(mut s) = served.lock() {
                            s.push(count.clone());
                        }
                        let head = Bytes::from_static(br#"{"schemaVersion":2,"annotations":{"pad":""#);
                        let pad = Bytes::from(vec![b'x'; 64 << 10]);
                        let chunks = std::iter::once(head).chain(std::iter::repeat_n(pad, 1 << 14));
                        let body = futures::StreamExt::map(futures::stream::iter(chunks), move |c| {
                            count.fetch_add(c.len() as u64, std::sync::atomic::Ordering::Relaxed);
                            Ok::<_, std::io::Error>(c)
                        });
                        return ([(axum::http::header::CONTENT_TYPE, *content_type)], Body::from_stream(body)).into_response();
                    }
                    Some(Fault::Challenge(challenge)) => {
                        return (StatusCode::UNAUTHORIZED, [(axum::http::header::WWW_AUTHENTICATE, challenge.clone())], "injected fault: 401\n").into_response();
                    }
                    Some(Fault::Truncate) | None => {}
                }
                let mut req = http.request(method, format!("http://{}{path}", registry())).body(body);
                for (k, v) in &headers {
                    if k != "host" {
                        req = req.header(k, v);
                    }
                }
                match req.send().await {
                    Ok(resp) => {
                        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                        let mut out = HeaderMap::new();
                        for (k, v) in resp.headers() {
                            if k != "transfer-encoding" && k != "content-length" {
                                out.insert(k.clone(), v.clone());
                            }
                        }
                        let bytes = resp.bytes().await.unwrap_or_default();
                        if matches!(fault, Some(Fault::Truncate)) && status.is_success() {
                            out.insert(axum::http::header::CONTENT_LENGTH, bytes.len().into());
                            let half = bytes.slice(..bytes.len() / 2);
                            // The head and half the body go out first; then the connection drops.
                            let cut = futures::stream::once(async {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                Err::<Bytes, _>(std::io::Error::other("injected fault: connection dropped"))
                            });
                            let body = futures::StreamExt::chain(futures::stream::iter([Ok(half)]), cut);
                            return (status, out, Body::from_stream(body)).into_response();
                        }
                        (status, out, bytes).into_response()
                    }
                    Err(_) => StatusCode::BAD_GATEWAY.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, blob_gets, faults, endless })
    }

    /// From now on, requests whose path (with query) contains `path` get `fault`
    /// (the first matching rule wins).
    pub fn fail(&self, path: &str, fault: Fault) {
        if let Ok(mut f) = self.faults.lock() {
            f.push((path.to_owned(), fault));
        }
    }

    /// Bytes each `Fault::Endless` answer handed to its connection before the client hung
    /// up (or the 1 GiB end), one entry per request, in arrival order.
    pub fn endless_served(&self) -> Vec<u64> {
        self.endless.lock().map(|v| v.iter().map(|c| c.load(std::sync::atomic::Ordering::Relaxed)).collect()).unwrap_or_default()
    }

    /// Digests of the blobs downloaded through the proxy so far.
    pub fn blob_gets(&self) -> Vec<String> {
        self.blob_gets.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

use axum::response::IntoResponse as _;
use sha2::Digest as _;
