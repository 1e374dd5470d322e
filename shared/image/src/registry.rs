//! Fetching manifests and configs through `oci-client`.

use std::fmt;
use std::time::Duration;

use customs_model::ImageRef;
use oci_client::RegistryOperation;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::debug;

use crate::manifest::{Descriptor, Kind, LayerDescriptor, Platform, classify, media_type, select};
use crate::{NetworkPolicy, RegistryError};

/// Largest image config customs reads (real ones are a few KiB to a few hundred KiB).
const MAX_CONFIG_BYTES: i64 = 16 << 20;
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

/// Talks to registries. A fresh `oci-client` is built per fetch so that credentials and
/// tokens of one account never serve another.
#[derive(Debug, Clone)]
pub struct Registry {
    policy: NetworkPolicy,
    connect_timeout: Duration,
    read_timeout: Duration,
}

fn registry_auth(creds: Option<&Credentials>) -> RegistryAuth {
    match creds {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    }
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
        }
    }

    /// The same registry client with other timeouts: `connect` to establish a connection,
    /// `read` for any one read (a registry that accepts and never answers, or stalls
    /// mid-blob, fails with `TimedOut` after `read`).
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
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
        self.policy.check(&r.registry).await?;
        let client = self.client(&r, insecure);
        let reference = Reference::with_tag(r.registry.clone(), r.repo.clone(), "latest".into());
        let auth = RegistryAuth::Basic(creds.username.clone(), creds.password.clone());
        client
            .auth(&reference, &auth, RegistryOperation::Pull)
            .await
            .map_err(|e| classify_error(&r, false, e))?;
        // A registry with Basic auth accepts any credentials at the challenge: ask for a
        // real resource; anything but 401/403 means the credentials were accepted.
        match client
            .pull_manifest_raw(&reference, &auth, media_type::ACCEPTED)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify_error(&r, false, e) {
                RegistryError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    fn client(&self, r: &ImageRef, insecure: bool) -> Client {
        let protocol = if insecure || r.is_loopback_registry() {
            ClientProtocol::HttpsExcept(vec![r.registry.clone()])
        } else {
            ClientProtocol::Https
        };
        Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(self.connect_timeout),
            read_timeout: Some(self.read_timeout),
            accept_invalid_certificates: insecure,
            user_agent: concat!("customs/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        })
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
        self.policy.check(&r.registry).await?;
        let client = self.client(r, insecure);
        let auth = registry_auth(creds);
        let map = |e| classify_error(r, creds.is_none(), e);
        let reference = match (&r.digest, &r.tag) {
            (Some(d), _) => Reference::with_digest(r.registry.clone(), r.repo.clone(), d.clone()),
            (None, Some(t)) => Reference::with_tag(r.registry.clone(), r.repo.clone(), t.clone()),
            (None, None) => {
                Reference::with_tag(r.registry.clone(), r.repo.clone(), "latest".into())
            }
        };
        if creds.is_some() {
            // Log in first, so a refusal carries the token service's own answer (oci-client
            // otherwise drops it and goes on anonymously to a bare 401). The token is cached
            // for the pulls below.
            client.auth(&reference, &auth, RegistryOperation::Pull).await.map_err(map)?;
        }
        let (raw, _) = client
            .pull_manifest_raw(&reference, &auth, media_type::ACCEPTED)
            .await
            .map_err(map)?;
        let digest = verified(&raw, r.digest.as_deref(), &format!("manifest of {r}"))?;
        let (raw, digest, parent_digest, pinned) = match parse(r, &raw)? {
            Kind::Index(entries) => {
                let entry = select(&entries, platform).map_err(|available| {
                    RegistryError::NoMatchingPlatform {
                        reference: r.to_string(),
                        platform: platform.to_string(),
                        available,
                    }
                })?;
                debug!(index = %digest, platform = %platform, manifest = %entry.digest, "Selected platform manifest");
                let pinned = Reference::with_digest(
                    r.registry.clone(),
                    r.repo.clone(),
                    entry.digest.clone(),
                );
                let (child, _) = client
                    .pull_manifest_raw(&pinned, &auth, media_type::ACCEPTED)
                    .await
                    .map_err(map)?;
                let child_digest = verified(
                    &child,
                    Some(&entry.digest),
                    &format!("platform manifest of {r}"),
                )?;
                (child, child_digest, Some(digest), pinned)
            }
            _ => (raw, digest, None, reference),
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
        let config_raw = self.pull_config(&client, &pinned, &config, r).await?;
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

    async fn pull_config(
        &self,
        client: &Client,
        image: &Reference,
        d: &Descriptor,
        r: &ImageRef,
    ) -> Result<Vec<u8>, RegistryError> {
        if d.size > MAX_CONFIG_BYTES || d.size < 0 {
            return Err(RegistryError::TooLarge {
                what: format!("config of {r}"),
                size: d.size.unsigned_abs(),
                limit: MAX_CONFIG_BYTES as u64,
            });
        }
        let desc = OciDescriptor {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size,
            ..OciDescriptor::default()
        };
        let mut out = Vec::with_capacity(usize::try_from(d.size).unwrap_or(0));
        client
            .pull_blob(image, &desc, &mut out)
            .await
            .map_err(|e| classify_error(r, false, e))?;
        verified(&out, Some(&d.digest), &format!("config of {r}"))?;
        Ok(out)
    }
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

fn classify_error(r: &ImageRef, anonymous: bool, e: OciDistributionError) -> RegistryError {
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
        OciDistributionError::ServerError { code, url, message } if code == 404 => {
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
        let mut client = None;
        for l in layers {
            let diff_id = l.diff_id.clone().ok_or_else(|| RegistryError::Malformed {
                reference: r.to_string(),
                what: "image config",
                reason: format!("no diff_id for layer {}", l.digest),
            })?;
            if let Some(staged) = staging.index(&diff_id).await? {
                out.push(StagedOutcome { layer: staged, fetched: false });
                continue;
            }
            if client.is_none() {
                self.policy.check(&r.registry).await?;
                client = Some(self.client(r, insecure));
            }
            let Some(c) = client.as_ref() else { continue };
            let staged = self.stage_one(c, r, creds, l, &diff_id, limits).await?;
            staging.put(&staged.0, staged.1.path()).await?;
            tracing::info!(diff_id = %diff_id, entries = staged.0.entries.len(), staged_files = staged.0.staged_files, "Staged layer");
            out.push(StagedOutcome { layer: staged.0, fetched: true });
        }
        Ok(out)
    }

    async fn stage_one(
        &self,
        client: &Client,
        r: &ImageRef,
        creds: Option<&Credentials>,
        l: &LayerDescriptor,
        diff_id: &str,
        limits: &crate::layer::Limits,
    ) -> Result<(crate::StagedLayer, tempfile::NamedTempFile), crate::StageError> {
        let auth = registry_auth(creds);
        let reference = Reference::with_digest(r.registry.clone(), r.repo.clone(), l.digest.clone());
        client.store_auth_if_needed(&r.registry, &auth).await;
        let desc = OciDescriptor { media_type: l.media_type.clone(), digest: l.digest.clone(), size: l.size, ..OciDescriptor::default() };
        let blob = client.pull_blob_stream(&reference, &desc).await.map_err(|e| classify_error(r, creds.is_none(), e))?;
        // Transport failures mid-stream (a dropped connection, a stalled read) surface in
        // the tar reader as I/O errors; note them here so they are reported as the
        // registry's fault, with how far the download got, rather than as a corrupt layer.
        let broken: std::sync::Arc<std::sync::Mutex<Option<(bool, String, u64)>>> = std::sync::Arc::default();
        let tap = broken.clone();
        let mut received = 0u64;
        let stream = futures::StreamExt::map(blob.stream, move |chunk| {
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
            insecure,
        };
        crate::head::manifest_digest(&self.policy, &target, creds, self.connect_timeout, self.read_timeout).await
    }

    /// Every tag of `r`'s repository, following the registry's pagination.
    pub async fn list_tags(
        &self,
        r: &ImageRef,
        creds: Option<&Credentials>,
        insecure: bool,
    ) -> Result<Vec<String>, RegistryError> {
        const PAGE: usize = 1000;
        self.policy.check(&r.registry).await?;
        let client = self.client(r, insecure);
        let auth = registry_auth(creds);
        let reference = Reference::with_tag(r.registry.clone(), r.repo.clone(), "latest".into());
        let mut tags: Vec<String> = Vec::new();
        loop {
            let page = client
                .list_tags(&reference, &auth, Some(PAGE), tags.last().map(String::as_str))
                .await
                .map_err(|e| classify_error(r, creds.is_none(), e))?;
            let n = page.tags.len();
            let before = tags.len();
            for t in page.tags {
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
        self.policy.check(&r.registry).await?;
        let client = self.client(r, insecure);
        let auth = registry_auth(creds);
        let reference = match (&r.digest, &r.tag) {
            (Some(d), _) => Reference::with_digest(r.registry.clone(), r.repo.clone(), d.clone()),
            (None, t) => Reference::with_tag(r.registry.clone(), r.repo.clone(), t.clone().unwrap_or_else(|| "latest".into())),
        };
        let (raw, _) = client
            .pull_manifest_raw(&reference, &auth, media_type::ACCEPTED)
            .await
            .map_err(|e| classify_error(r, creds.is_none(), e))?;
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
