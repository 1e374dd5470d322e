//! Fetching manifests, configs and layers (through customs' own capped, policy-checked
//! client, `session.rs`); errors classified by whether retrying could help.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use customs_model::ImageRef;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::debug;

use crate::manifest::{Descriptor, Kind, LayerDescriptor, Platform, classify, media_type, select};
use crate::session::Session;
use crate::{NetworkPolicy, RegistryError};

/// Largest image config customs reads (real ones are a few KiB to a few hundred KiB).
const MAX_CONFIG_BYTES: i64 = 16 << 20;
/// Largest tag list page read.
const MAX_TAG_PAGE_BYTES: usize = 16 << 20;
/// Largest manifest customs accepts (the distribution spec's suggested limit).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Registry credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An image's manifest and config, verified against their digests.
#[derive(Debug, Clone)]
pub struct FetchedImage {
    /// Digest of the platform manifest (Anchore's `imageDigest`).
    pub digest: String,
    /// Digest of the manifest list / index the platform manifest was selected from.
    pub parent_digest: Option<String>,
    pub media_type: String,
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub config: Value,
    pub layers: Vec<LayerDescriptor>,
    pub os: Option<String>,
    pub arch: Option<String>,
    /// Sum of the compressed layer sizes.
    pub size: i64,
}

/// Talks to registries. A fresh session (token and credentials) is made per fetch so that
/// credentials and tokens of one account never serve another; the HTTP clients under the
/// sessions are shared, so connections are reused and no request pays for building a
/// client (its TLS configuration) again. Authorization travels per request, never in a
/// client, and the clients keep no cookies.
#[derive(Debug, Clone)]
pub struct Registry {
    policy: NetworkPolicy,
    connect_timeout: Duration,
    read_timeout: Duration,
    clients: Arc<HttpClients>,
}

/// The two HTTP clients a registry client needs, built on first use: one verifying TLS
/// certificates, one for registries configured as insecure.
#[derive(Debug, Default)]
struct HttpClients {
    verified: OnceLock<reqwest::Client>,
    insecure: OnceLock<reqwest::Client>,
}

fn sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Registry {
    pub fn new(policy: NetworkPolicy) -> Self {
        Self {
            policy,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            clients: Arc::default(),
        }
    }

    /// The shared HTTP client for `registry` (`insecure`: certificates are not checked).
    /// Redirects are never followed by the client: `Session` follows them by hand, each
    /// target checked against the network policy.
    pub(crate) fn http(&self, registry: &str, insecure: bool) -> Result<reqwest::Client, RegistryError> {
        let slot = if insecure { &self.clients.insecure } else { &self.clients.verified };
        if let Some(c) = slot.get() {
            return Ok(c.clone());
        }
        let built = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(insecure)
            .user_agent(concat!("customs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Unreachable { registry: registry.to_owned(), reason: format!("HTTP client: {e}") })?;
        Ok(slot.get_or_init(|| built).clone())
    }

    /// The same registry client with other timeouts: `connect` to establish a connection,
    /// `read` for any one read (a registry that accepts and never answers, or stalls
    /// mid-blob, fails with `TimedOut` after `read`).
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self.clients = Arc::default();
        self
    }

    /// Checks that `creds` log in to `registry` (for `POST /v1/registries?validate=true`).
    pub async fn check_login(
        &self,
        registry: &str,
        creds: &Credentials,
        insecure: bool,
    ) -> Result<(), RegistryError> {
        let r =
            ImageRef::parse(&format!("{registry}/customs-login-check:latest")).map_err(|e| {
                RegistryError::Malformed {
                    reference: registry.to_owned(),
                    what: "registry name",
                    reason: e.to_string(),
                }
            })?;
        // A registry with Basic auth accepts any credentials at the challenge: ask for a
        // real resource; anything but 401/403 means the credentials were accepted.
        let mut session = self.session(&r, Some(creds), insecure).await?;
        match pull_manifest(&mut session, &r, "latest").await {
            Ok(_) | Err(RegistryError::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn session(&self, r: &ImageRef, creds: Option<&Credentials>, insecure: bool) -> Result<Session, RegistryError> {
        Session::open(self.policy, self.http(&r.registry, insecure)?, r, creds, insecure).await
    }

    /// Resolves `r` and fetches its manifest (for `platform`, through an index if need
    /// be) and config. `insecure` allows plain HTTP to a non-loopback registry.
    pub async fn fetch(
        &self,
        r: &ImageRef,
        creds: Option<&Credentials>,
        platform: &Platform,
        insecure: bool,
    ) -> Result<FetchedImage, RegistryError> {
        let mut session = self.session(r, creds, insecure).await?;
        let raw = pull_manifest(&mut session, r, &reference_of(r)).await?;
        let digest = verified(&raw, r.digest.as_deref(), &format!("manifest of {r}"))?;
        let (raw, digest, parent_digest) = match parse(r, &raw)? {
            Kind::Index(entries) => {
                let entry = select(&entries, platform).map_err(|available| {
                    RegistryError::NoMatchingPlatform {
                        reference: r.to_string(),
                        platform: platform.to_string(),
                        available,
                    }
                })?;
                debug!(index = %digest, platform = %platform, manifest = %entry.digest, "Selected platform manifest");
                let child = pull_manifest(&mut session, r, &entry.digest).await?;
                let child_digest = verified(
                    &child,
                    Some(&entry.digest),
                    &format!("platform manifest of {r}"),
                )?;
                (child, child_digest, Some(digest))
            }
            _ => (raw, digest, None),
        };
        let Kind::Image {
            config,
            layers,
            media_type,
        } = parse(r, &raw)?
        else {
            return Err(RegistryError::UnsupportedMediaType {
                reference: r.to_string(),
                media_type: "nested index (an index entry pointing to another index)".into(),
            });
        };
        let config_raw = pull_config(&mut session, &config, r).await?;
        let config_json: Value =
            serde_json::from_slice(&config_raw).map_err(|e| RegistryError::Malformed {
                reference: r.to_string(),
                what: "image config",
                reason: e.to_string(),
            })?;
        let diff_ids: Vec<String> = config_json
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if diff_ids.len() != layers.len() {
            return Err(RegistryError::Malformed {
                reference: r.to_string(),
                what: "image config",
                reason: format!(
                    "rootfs.diff_ids lists {} layers, the manifest {}",
                    diff_ids.len(),
                    layers.len()
                ),
            });
        }
        let size = layers.iter().map(|l| l.size.max(0)).sum();
        let layers = layers
            .into_iter()
            .zip(diff_ids)
            .map(|(l, diff_id)| LayerDescriptor {
                digest: l.digest,
                media_type: l.media_type,
                size: l.size,
                diff_id: Some(diff_id),
            })
            .collect();
        let text = |k: &str| {
            config_json
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(FetchedImage {
            digest,
            parent_digest,
            media_type,
            manifest: raw.to_vec(),
            config_digest: config.digest,
            os: text("os"),
            arch: text("architecture"),
            config: config_json,
            layers,
            size,
        })
    }

}

/// The tag or digest `r` names (`latest` when it names neither).
fn reference_of(r: &ImageRef) -> String {
    r.digest.clone().or_else(|| r.tag.clone()).unwrap_or_else(|| "latest".into())
}

/// A manifest, read through the cap: a registry that sends more than the limit is
/// abandoned as soon as it has.
async fn pull_manifest(session: &mut Session, r: &ImageRef, reference: &str) -> Result<Vec<u8>, RegistryError> {
    let accept = media_type::ACCEPTED.join(", ");
    session.get_capped(&format!("{}/manifests/{reference}", r.repo), &accept, MAX_MANIFEST_BYTES, &format!("manifest of {r}")).await
}

async fn pull_config(session: &mut Session, d: &Descriptor, r: &ImageRef) -> Result<Vec<u8>, RegistryError> {
    if d.size > MAX_CONFIG_BYTES || d.size < 0 {
        return Err(RegistryError::TooLarge {
            what: format!("config of {r}"),
            size: d.size.unsigned_abs(),
            limit: MAX_CONFIG_BYTES as u64,
        });
    }
    // The descriptor's size is the limit: a config that keeps coming past it is not the one described.
    let limit = usize::try_from(d.size).unwrap_or(0);
    let out = session.get_capped(&format!("{}/blobs/{}", r.repo, d.digest), "*/*", limit, &format!("config of {r}")).await?;
    verified(&out, Some(&d.digest), &format!("config of {r}"))?;
    Ok(out)
}

fn parse(r: &ImageRef, raw: &[u8]) -> Result<Kind, RegistryError> {
    if raw.len() > MAX_MANIFEST_BYTES {
        return Err(RegistryError::TooLarge {
            what: format!("manifest of {r}"),
            size: raw.len() as u64,
            limit: MAX_MANIFEST_BYTES as u64,
        });
    }
    let any = serde_json::from_slice(raw).map_err(|e| RegistryError::Malformed {
        reference: r.to_string(),
        what: "manifest",
        reason: e.to_string(),
    })?;
    match classify(any) {
        Kind::Schema1 => Err(RegistryError::Schema1 {
            reference: r.to_string(),
        }),
        Kind::Unsupported(media_type) => Err(RegistryError::UnsupportedMediaType {
            reference: r.to_string(),
            media_type,
        }),
        k => Ok(k),
    }
}

/// The sha256 digest of `bytes`, checked against `expected` when one is given.
fn verified(bytes: &[u8], expected: Option<&str>, what: &str) -> Result<String, RegistryError> {
    let actual = sha256(bytes);
    match expected {
        Some(e) if e != actual => Err(RegistryError::DigestMismatch {
            what: what.to_owned(),
            expected: e.to_owned(),
            actual,
        }),
        _ => Ok(actual),
    }
}

pub(crate) fn classify_error(r: &ImageRef, anonymous: bool, e: OciDistributionError) -> RegistryError {
    let registry = r.registry.clone();
    match e {
        OciDistributionError::AuthenticationFailure(reason) => RegistryError::Unauthorized {
            registry,
            anonymous,
            reason: format!("the token service refused them: {}", reason.trim()),
        },
        OciDistributionError::UnauthorizedError { url } => RegistryError::Unauthorized {
            registry,
            anonymous,
            reason: format!("401 from {url}"),
        },
        OciDistributionError::ImageManifestNotFoundError(reason) => RegistryError::NotFound {
            reference: r.to_string(),
            reason,
        },
        OciDistributionError::RegistryError { envelope, url } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let reason = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}: {}", e.code, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            let reason = format!("{reason} ({url})");
            if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                RegistryError::NotFound {
                    reference: r.to_string(),
                    reason,
                }
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                RegistryError::Unauthorized {
                    registry,
                    anonymous,
                    reason,
                }
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Toomanyrequests))
            {
                RegistryError::Transient { registry, reason }
            } else {
                RegistryError::Malformed {
                    reference: r.to_string(),
                    what: "registry response",
                    reason,
                }
            }
        }
        OciDistributionError::ServerError { code: 404, url, message } => {
            RegistryError::NotFound {
                reference: r.to_string(),
                reason: format!("404 from {url}: {message}"),
            }
        }
        OciDistributionError::ServerError { code, url, message } if code == 401 || code == 403 => {
            RegistryError::Unauthorized {
                registry,
                anonymous,
                reason: format!("{code} from {url}: {message}"),
            }
        }
        OciDistributionError::ServerError { code, url, message } if code == 429 || code >= 500 => {
            RegistryError::Transient {
                registry,
                reason: format!("{code} from {url}: {message}"),
            }
        }
        OciDistributionError::ServerError { code, url, message } => RegistryError::Malformed {
            reference: r.to_string(),
            what: "registry response",
            reason: format!("{code} from {url}: {message}"),
        },
        OciDistributionError::RequestError(e) => {
            let reason = error_chain(&e);
            if e.is_timeout() {
                RegistryError::TimedOut { registry, reason }
            } else if e.is_connect() || e.is_builder() {
                // No connection (refused, no route, DNS, TLS handshake) or a request that
                // cannot be built. A connection that closes before the answer is transient.
                RegistryError::Unreachable { registry, reason }
            } else {
                RegistryError::Transient { registry, reason }
            }
        }
        OciDistributionError::DigestError(e) => RegistryError::DigestMismatch {
            what: format!("content of {r}"),
            expected: "the descriptor's digest".into(),
            actual: e.to_string(),
        },
        OciDistributionError::IoError(e) => RegistryError::Transient {
            registry,
            reason: e.to_string(),
        },
        other => RegistryError::Malformed {
            reference: r.to_string(),
            what: "registry response",
            reason: other.to_string(),
        },
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// A staged layer and whether this call fetched it (false: reused from staging).
#[derive(Debug, Clone)]
pub struct StagedOutcome {
    pub layer: crate::StagedLayer,
    pub fetched: bool,
}

impl Registry {
    /// Makes sure every layer is staged, fetching from the registry only the ones that
    /// are not: each distinct layer is downloaded and unpacked once, ever. Layers are
    /// streamed (registry → digest check → decompress → tar index), never held whole.
    pub async fn stage_layers(
        &self,
        r: &ImageRef,
        creds: Option<&Credentials>,
        insecure: bool,
        layers: &[LayerDescriptor],
        staging: &crate::Staging,
        limits: &crate::layer::Limits,
    ) -> Result<Vec<StagedOutcome>, crate::StageError> {
        let mut out = Vec::with_capacity(layers.len());
        let mut session = None;
        for l in layers {
            let diff_id = diff_id_of(r, l)?;
            if let Some(staged) = staging.index(&l.digest).await? {
                out.push(StagedOutcome { layer: staged, fetched: false });
                continue;
            }
            let s = match &mut session {
                Some(s) => s,
                None => session.insert(self.session(r, creds, insecure).await?),
            };
            let (layer, _files) = stage_and_put(s, r, l, &diff_id, staging, limits).await?;
            out.push(StagedOutcome { layer, fetched: true });
        }
        Ok(out)
    }

    /// Fetches and stages one layer that the caller has just found unstaged, without
    /// asking the staging store again, and hands back its staged files still on local
    /// disk, so the caller can read them without downloading them back.
    pub async fn stage_unstaged(
        &self,
        r: &ImageRef,
        creds: Option<&Credentials>,
        insecure: bool,
        l: &LayerDescriptor,
        staging: &crate::Staging,
        limits: &crate::layer::Limits,
    ) -> Result<(crate::StagedLayer, tempfile::NamedTempFile), crate::StageError> {
        let diff_id = diff_id_of(r, l)?;
        let mut session = self.session(r, creds, insecure).await?;
        stage_and_put(&mut session, r, l, &diff_id, staging, limits).await
    }
}

/// A layer's diff id, which the image config must give.
fn diff_id_of(r: &ImageRef, l: &LayerDescriptor) -> Result<String, RegistryError> {
    l.diff_id.clone().ok_or_else(|| RegistryError::Malformed {
        reference: r.to_string(),
        what: "image config",
        reason: format!("no diff_id for layer {}", l.digest),
    })
}

/// Stages one layer: fetched, indexed, and stored, its files last read from the returned temporary file.
async fn stage_and_put(
    session: &mut Session,
    r: &ImageRef,
    l: &LayerDescriptor,
    diff_id: &str,
    staging: &crate::Staging,
    limits: &crate::layer::Limits,
) -> Result<(crate::StagedLayer, tempfile::NamedTempFile), crate::StageError> {
    let (layer, files) = stage_one(session, r, l, diff_id, limits).await?;
    staging.put(&layer, files.path()).await?;
    tracing::info!(digest = %l.digest, entries = layer.entries.len(), staged_files = layer.staged_files, "Staged layer");
    Ok((layer, files))
}

/// Streams one layer from the registry into the indexer and a temporary file of staged contents.
async fn stage_one(
    session: &mut Session,
    r: &ImageRef,
    l: &LayerDescriptor,
    diff_id: &str,
    limits: &crate::layer::Limits,
) -> Result<(crate::StagedLayer, tempfile::NamedTempFile), crate::StageError> {
    let blob = session.blob(&l.digest).await?;
    // Transport failures mid-stream (a dropped connection, a stalled read) surface in
    // the tar reader as I/O errors; note them here so they are reported as the
    // registry's fault, with how far the download got, rather than as a corrupt layer.
    let broken: std::sync::Arc<std::sync::Mutex<Option<(bool, String, u64)>>> = std::sync::Arc::default();
    let tap = broken.clone();
    let mut received = 0u64;
    let stream = futures::StreamExt::map(blob, move |chunk| {
        match &chunk {
            Ok(b) => received += b.len() as u64,
            Err(e) => {
                if let Some(http) = e.get_ref().and_then(|i| i.downcast_ref::<reqwest::Error>())
                    && let Ok(mut slot) = tap.lock()
                {
                    slot.get_or_insert((http.is_timeout(), error_chain(http), received));
                }
            }
        }
        chunk
    });
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let indexed = crate::staging::index_blob(
        Box::new(reader),
        Some(l.media_type.clone()),
        l.digest.clone(),
        Some(l.digest.clone()),
        diff_id.to_owned(),
        *limits,
    )
    .await;
    match indexed {
        Ok((mut layer, files)) => {
            layer.digest = l.digest.clone();
            Ok((layer, files))
        }
        Err(e) => {
            // A connection dropped or stalled mid-stream is the registry's fault, worth a retry.
            let Some((timed_out, cause, got)) = broken.lock().ok().and_then(|mut s| s.take()) else { return Err(e) };
            let registry = r.registry.clone();
            let reason = format!("layer {} broke off after {got} of {} bytes: {cause}", l.digest, l.size);
            Err(if timed_out { RegistryError::TimedOut { registry, reason } } else { RegistryError::Transient { registry, reason } }.into())
        }
    }
}

/// Cheap checks for the watch function: what a tag points to, and which tags exist.
impl Registry {
    /// The digest the registry serves for `r` (a HEAD request; registries that send no
    /// `Docker-Content-Digest` header get a GET whose body is hashed). For a multi-platform
    /// tag this is the index digest. `Transient` and `RateLimited` errors (429, 5xx,
    /// timeouts) are retryable; `RateLimited` carries the registry's `Retry-After`.
    pub async fn head_digest(
        &self,
        r: &ImageRef,
        creds: Option<&Credentials>,
        insecure: bool,
    ) -> Result<String, RegistryError> {
        self.policy.check(&r.registry).await?;
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let target = crate::head::Target {
            registry: &r.registry,
            repo: &r.repo,
            reference: r.digest.as_deref().unwrap_or(&tag),
            plain_http: insecure || r.is_loopback_registry(),
        };
        let http = self.http(&r.registry, insecure)?;
        crate::head::manifest_digest(&self.policy, &http, &target, creds, self.read_timeout).await
    }

    /// Every tag of `r`'s repository, following the registry's pagination.
    pub async fn list_tags(
        &self,
        r: &ImageRef,
        creds: Option<&Credentials>,
        insecure: bool,
    ) -> Result<Vec<String>, RegistryError> {
        const PAGE: usize = 1000;
        #[derive(serde::Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let mut session = self.session(r, creds, insecure).await?;
        let mut tags: Vec<String> = Vec::new();
        loop {
            let mut path = format!("{}/tags/list?n={PAGE}", r.repo);
            if let Some(last) = tags.last() {
                path.push_str("&last=");
                path.push_str(last);
            }
            let raw = session.get_capped(&path, "application/json", MAX_TAG_PAGE_BYTES, &format!("tag list of {r}")).await?;
            let page: Page = serde_json::from_slice(&raw).map_err(|e| RegistryError::Malformed { reference: r.to_string(), what: "tag list", reason: e.to_string() })?;
            let page = page.tags.unwrap_or_default();
            let n = page.len();
            let before = tags.len();
            for t in page {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            if n < PAGE || tags.len() == before {
                break;
            }
        }
        Ok(tags)
    }
}

impl Registry {
    /// The platform manifest digest a reference resolves to, and the index digest when it
    /// went through one: what `POST /v1/images` reports before the analysis runs. One or
    /// two small manifest GETs; no config, no layers.
    pub async fn resolve(
        &self,
        r: &ImageRef,
        creds: Option<&Credentials>,
        platform: &Platform,
        insecure: bool,
    ) -> Result<(String, Option<String>), RegistryError> {
        let mut session = self.session(r, creds, insecure).await?;
        let raw = pull_manifest(&mut session, r, &reference_of(r)).await?;
        let digest = verified(&raw, r.digest.as_deref(), &format!("manifest of {r}"))?;
        match parse(r, &raw)? {
            Kind::Index(entries) => {
                let entry = select(&entries, platform).map_err(|available| RegistryError::NoMatchingPlatform {
                    reference: r.to_string(),
                    platform: platform.to_string(),
                    available,
                })?;
                Ok((entry.digest.clone(), Some(digest)))
            }
            _ => Ok((digest, None)),
        }
    }
}
