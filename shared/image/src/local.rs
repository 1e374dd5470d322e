//! Images that never saw a registry — an OCI image layout (a directory or its tar) or a
//! `docker save` tarball — staged by the same indexing and staging code as registry
//! images, and [`scan`]: one image from any source, staged under a local directory, as a
//! [`FileSource`] for the catalogers (`customs scan`).
//!
//! Archives are read in place: a tar is scanned once for its members' offsets and each
//! blob is then streamed from its offset, so nothing is unpacked to disk and no member
//! name is ever used as a filesystem path. Every digest the archive states is verified
//! (manifest, config, layer blobs; a layer's diff id where the archive states no blob
//! digest, or where checking it is free, see `index_layer_as`).

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use customs_model::ImageRef;
use customs_model::fs::{FileSource, Finding, SquashedView, normalize, resolve_link};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::layer::{Compression, Limits};
use crate::manifest::{AnyManifest, Descriptor, Kind, classify, media_type, select};
use crate::staging::{index_blob, is_sha256_digest, sniffed_media_type};
use crate::{
    Credentials, FetchedImage, LayerDescriptor, NetworkPolicy, Platform, Registry, ScanError,
    StagedImage, StagedLayer, StagedOutcome, Staging,
};

/// Largest manifest, index or `manifest.json` read from an archive.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest image config read from an archive.
const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// Most members an image archive may have (a layout holds a few blobs per layer).
const MAX_MEMBERS: usize = 100_000;
/// Annotation naming an image in an OCI layout's `index.json` (what `oci:PATH:REF` names).
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A registry reference (`[docker://]registry/repo[:tag][@sha256:…]`).
    Registry(ImageRef),
    /// An OCI image layout directory (`oci-dir:PATH[:REF]`, also `oci:`).
    OciDir {
        path: PathBuf,
        reference: Option<String>,
    },
    /// A tar of an OCI image layout (`oci-archive:PATH[:REF]`).
    OciArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// A `docker save` tarball (`docker-archive:PATH[:REPO:TAG]`).
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
}

const SOURCE_FORMS: &str = "a registry reference (registry/repo:tag or repo@sha256:…), oci-dir:PATH, oci-archive:PATH or docker-archive:PATH";

/// `PATH[:REF]`: the longest prefix that exists is the path (paths may contain `:`).
fn path_and_ref(kind: &str, rest: &str) -> Result<(PathBuf, Option<String>), ScanError> {
    if rest.is_empty() {
        return Err(ScanError::Source(format!(
            "{kind}: needs a path, as in {kind}:./image"
        )));
    }
    if Path::new(rest).exists() {
        return Ok((rest.into(), None));
    }
    let mut at = rest.len();
    while let Some(i) = rest[..at].rfind(':') {
        let (p, r) = (&rest[..i], &rest[i + 1..]);
        if !p.is_empty() && !r.is_empty() && Path::new(p).exists() {
            return Ok((p.into(), Some(r.to_owned())));
        }
        at = i;
    }
    Ok((rest.into(), None))
}

impl ImageSource {
    /// Parses what `customs scan` accepts.
    pub fn parse(s: &str) -> Result<Self, ScanError> {
        let s = s.trim();
        if let Some(rest) = s
            .strip_prefix("oci-dir:")
            .or_else(|| s.strip_prefix("oci:"))
        {
            let (path, reference) = path_and_ref("oci-dir", rest)?;
            return Ok(Self::OciDir { path, reference });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (path, reference) = path_and_ref("oci-archive", rest)?;
            return Ok(Self::OciArchive { path, reference });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (path, reference) = path_and_ref("docker-archive", rest)?;
            return Ok(Self::DockerArchive { path, reference });
        }
        let r = s.strip_prefix("docker://").unwrap_or(s);
        if r.is_empty() {
            return Err(ScanError::Source(format!(
                "no image given: expected {SOURCE_FORMS}"
            )));
        }
        ImageRef::parse(r)
            .map(Self::Registry)
            .map_err(|e| ScanError::Source(format!("{s:?} is not {SOURCE_FORMS}: {e}")))
    }
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, path, reference) = match self {
            Self::Registry(r) => return write!(f, "{r}"),
            Self::OciDir { path, reference } => ("oci-dir", path, reference),
            Self::OciArchive { path, reference } => ("oci-archive", path, reference),
            Self::DockerArchive { path, reference } => ("docker-archive", path, reference),
        };
        write!(f, "{kind}:{}", path.display())?;
        if let Some(r) = reference {
            write!(f, ":{r}")?;
        }
        Ok(())
    }
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Which image of a multi-platform index (default linux/amd64).
    pub platform: Platform,
    pub limits: Limits,
    /// Registry credentials (registry sources only).
    pub credentials: Option<Credentials>,
    /// Plain HTTP / unverified TLS for a non-loopback registry.
    pub insecure: bool,
    /// Outbound policy for registry sources. `scan` runs on the user's own machine, so
    /// the default allows private and loopback registries.
    pub network: NetworkPolicy,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            platform: Platform::default(),
            limits: Limits::default(),
            credentials: None,
            insecure: false,
            network: NetworkPolicy {
                allow_private: true,
            },
        }
    }
}

/// A scanned image: what was resolved, each staged layer, and its files.
pub struct ScannedImage {
    /// Manifest digest, manifest, config, per-layer descriptors (with diff ids), platform.
    /// For a `docker save` archive, which has no manifest, the manifest is the Docker
    /// schema 2 manifest describing the archive's config and layer blobs as stored.
    pub image: FetchedImage,
    /// Each layer, bottom first, as staged; `fetched` false when it was staged already.
    /// Their entries are in the squashed view ([`FileSource::view`]), not here.
    pub layers: Vec<StagedOutcome>,
    files: StagedImage,
}

impl fmt::Debug for ScannedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScannedImage")
            .field("digest", &self.image.digest)
            .field("layers", &self.layers.len())
            .field("files", &self.files.view().entries.len())
            .finish()
    }
}

impl ScannedImage {
    /// The manifest digest (Anchore's `imageDigest`).
    pub fn digest(&self) -> &str {
        &self.image.digest
    }

    /// Entries left out of the image: hostile paths and links found while indexing each
    /// layer, and dangling hard links of the squashed view.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .layers
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                s.layer.findings.iter().map(move |(path, reason)| Finding {
                    layer: i,
                    path: path.clone(),
                    reason: reason.clone(),
                })
            })
            .collect();
        out.extend(self.files.view().findings.iter().cloned());
        out
    }
}

impl FileSource for ScannedImage {
    fn view(&self) -> &SquashedView {
        self.files.view()
    }

    fn open(&self, path: &str) -> Option<Box<dyn Read + '_>> {
        self.files.open(path)
    }
}

/// Scans one image from `source` (see [`ImageSource::parse`]), staging its layers under
/// `work_dir` (`layers/v2/sha256/<hex>/…`, the S3 key scheme; layers staged by an earlier
/// scan are reused, never read again).
pub async fn scan(
    source: &str,
    work_dir: &Path,
    opts: &ScanOptions,
) -> Result<ScannedImage, ScanError> {
    let source = ImageSource::parse(source)?;
    let staging = Staging::local(work_dir);
    let (image, mut layers) = match &source {
        ImageSource::Registry(r) => {
            let registry = Registry::new(opts.network);
            let image = registry
                .fetch(r, opts.credentials.as_ref(), &opts.platform, opts.insecure)
                .await?;
            let layers = registry
                .stage_layers(
                    r,
                    opts.credentials.as_ref(),
                    opts.insecure,
                    &image.layers,
                    &staging,
                    &opts.limits,
                )
                .await?;
            (image, layers)
        }
        local => stage_archive(local, &staging, &opts.platform, &opts.limits).await?,
    };
    // The view takes the entries (each file is then held once, in the view).
    let mut staged: Vec<_> = layers
        .iter_mut()
        .map(|s| {
            let entries = std::mem::take(&mut s.layer.entries);
            StagedLayer { entries, ..s.layer.clone() }
        })
        .collect();
    let files = StagedImage::load(&staging, &mut staged).await?;
    Ok(ScannedImage {
        image,
        layers,
        files,
    })
}

/// Stages an image from an OCI layout or a `docker save` archive into `staging` (S3 or
/// local), each layer once by blob digest; what [`scan`] and the analysis of uploaded
/// archives share. A registry source is refused (use [`Registry::fetch`]).
pub async fn stage_archive(
    source: &ImageSource,
    staging: &Staging,
    platform: &Platform,
    limits: &Limits,
) -> Result<(FetchedImage, Vec<StagedOutcome>), ScanError> {
    let (path, reference, docker) = match source {
        ImageSource::Registry(r) => {
            return Err(ScanError::Source(format!(
                "{r} is a registry reference, not an archive"
            )));
        }
        ImageSource::OciDir { path, reference } => (path.clone(), reference.clone(), false),
        ImageSource::OciArchive { path, reference } => (path.clone(), reference.clone(), false),
        ImageSource::DockerArchive { path, reference } => (path.clone(), reference.clone(), true),
    };
    let dir = matches!(source, ImageSource::OciDir { .. });
    let label = source.to_string();
    let platform = platform.clone();
    let resolved = blocking(move || {
        let container = if dir {
            Container::dir(&path)?
        } else {
            Container::tar(&path)?
        };
        let resolved = if docker {
            read_docker(&container, reference.as_deref(), &label)?
        } else {
            read_oci(&container, reference.as_deref(), &platform, &label)?
        };
        Ok((Arc::new(container), resolved))
    })
    .await?;
    let (container, mut resolved) = resolved;
    // Layers are staged at once, one per core, in the order of the image.
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let staged: Vec<(StagedOutcome, String, String, i64)> = {
        use futures::{StreamExt as _, TryStreamExt as _};
        futures::stream::iter(resolved.layers.iter().cloned())
            .map(|l| stage_archive_layer(container.clone(), l, staging, limits))
            .buffered(workers)
            .try_collect()
            .await?
    };
    let mut out = Vec::with_capacity(staged.len());
    for (l, (outcome, digest, media_type, size)) in resolved.layers.iter_mut().zip(staged) {
        l.digest = Some(digest);
        l.media_type = Some(media_type);
        l.size = size;
        out.push(outcome);
    }
    let layers: Vec<LayerDescriptor> = resolved
        .layers
        .iter()
        .map(|l| LayerDescriptor {
            digest: l.digest.clone().unwrap_or_default(),
            media_type: l.media_type.clone().unwrap_or_default(),
            size: l.size,
            diff_id: Some(l.diff_id.clone()),
        })
        .collect();
    let (manifest, digest, mt) = match resolved.manifest {
        Some(m) => (m.bytes, m.digest, m.media_type),
        None => {
            let m = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": media_type::DOCKER_MANIFEST_V2,
                "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": resolved.config_size, "digest": resolved.config_digest },
                "layers": layers.iter().map(|l| serde_json::json!({ "mediaType": l.media_type, "size": l.size, "digest": l.digest })).collect::<Vec<_>>(),
            });
            let bytes = serde_json::to_vec(&m).map_err(|e| ScanError::Source(e.to_string()))?;
            let digest = sha256(&bytes);
            (bytes, digest, media_type::DOCKER_MANIFEST_V2.to_owned())
        }
    };
    let text = |k: &str| {
        resolved
            .config
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let image = FetchedImage {
        digest,
        parent_digest: resolved.parent_digest,
        media_type: mt,
        manifest,
        config_digest: resolved.config_digest.clone(),
        os: text("os"),
        arch: text("architecture"),
        size: layers.iter().map(|l| l.size.max(0)).sum(),
        config: resolved.config,
        layers,
    };
    Ok((image, out))
}

/// Stages one layer of an archive unless it is staged already: the outcome, and the
/// layer's compressed digest, media type and size as staged (or described). Staged layers
/// are keyed by blob digest. A `docker save` layer named by path states none; when it is a
/// plain tar (as `docker save` writes it), its blob digest is its diff id, and it is looked
/// up by the diff id its config states. That claim is not checked for a layer found staged
/// (the staged blob hashes to its key; a config that lies reads the content it names,
/// in its own analysis), as when layers were staged by diff id. A compressed one is read.
async fn stage_archive_layer(
    container: Arc<Container>,
    l: ArchiveLayer,
    staging: &Staging,
    limits: &Limits,
) -> Result<(StagedOutcome, String, String, i64), ScanError> {
    let media_type = match &l.media_type {
        Some(m) => m.clone(),
        None => {
            let (c, name) = (container.clone(), l.name.clone());
            blocking(move || c.sniff(&name)).await?
        }
    };
    let key = match &l.digest {
        Some(d) => Some(d.as_str()),
        None if Compression::for_media_type(&media_type) == Some(Compression::None) => Some(l.diff_id.as_str()),
        None => None,
    };
    if let Some(key) = key
        && let Some(staged) = staging.index(key).await?
    {
        let digest = staged.digest.clone();
        return Ok((StagedOutcome { layer: staged, fetched: false }, digest, media_type, l.size));
    }
    let name = l.name.clone();
    let raw = blocking(move || container.open(&name).map(|(r, _)| r)).await?;
    let (layer, files) = index_blob(raw, Some(media_type), l.name, l.digest, l.diff_id, *limits).await?;
    staging.put(&layer, files.path()).await?;
    tracing::info!(digest = %layer.digest, entries = layer.entries.len(), staged_files = layer.staged_files, "Staged layer");
    let (digest, media_type) = (layer.digest.clone(), layer.media_type.clone());
    let size = i64::try_from(layer.compressed_size).unwrap_or(i64::MAX);
    Ok((StagedOutcome { layer, fetched: true }, digest, media_type, size))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ScanError> + Send + 'static,
) -> Result<T, ScanError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ScanError::Stage(crate::StageError::Local(format!("archive worker: {e}"))))?
}

fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// A layer of an archive before staging: the member holding its blob, and what is known.
#[derive(Debug, Clone)]
struct ArchiveLayer {
    name: String,
    /// Compressed digest when the archive states it (OCI layouts; `docker save` blobs
    /// stored as `blobs/sha256/<hex>`), verified while staging.
    digest: Option<String>,
    /// `None`: sniffed from the blob (`docker save`).
    media_type: Option<String>,
    size: i64,
    diff_id: String,
}

struct ArchiveManifest {
    bytes: Vec<u8>,
    digest: String,
    media_type: String,
}

struct Resolved {
    /// `None` for `docker save` archives (the manifest is described after staging).
    manifest: Option<ArchiveManifest>,
    parent_digest: Option<String>,
    config_digest: String,
    config_size: usize,
    config: Value,
    layers: Vec<ArchiveLayer>,
}

/// A member of an image tar.
#[derive(Debug, Clone)]
enum Member {
    File {
        offset: u64,
        size: u64,
    },
    /// A symbolic or hard link, its target normalised to an archive path.
    Link(String),
}

/// The files of an image layout or archive.
enum Container {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        members: HashMap<String, Member>,
    },
}

impl Container {
    fn dir(path: &Path) -> Result<Self, ScanError> {
        let meta =
            std::fs::metadata(path).map_err(|e| archive_err(path, format!("cannot read: {e}")))?;
        if !meta.is_dir() {
            return Err(archive_err(
                path,
                "is not a directory (an OCI layout directory was expected; for a tar use oci-archive:)",
            ));
        }
        Ok(Self::Dir(path.to_owned()))
    }

    /// Reads a tar's headers once (seeking over the data), recording where each member is.
    fn tar(path: &Path) -> Result<Self, ScanError> {
        let mut f = File::open(path).map_err(|e| archive_err(path, format!("cannot open: {e}")))?;
        if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(archive_err(
                path,
                "is a directory (use oci-dir: for an OCI layout directory)",
            ));
        }
        let mut head = [0u8; 4];
        let n = f
            .read(&mut head)
            .map_err(|e| archive_err(path, e.to_string()))?;
        if Compression::sniff(&head[..n]).is_some() {
            return Err(archive_err(
                path,
                "is compressed; decompress it first (gunzip / zstd -d), an uncompressed tar is expected",
            ));
        }
        f.seek(SeekFrom::Start(0))
            .map_err(|e| archive_err(path, e.to_string()))?;
        let mut archive = tar::Archive::new(BufReader::new(f));
        let mut members = HashMap::new();
        let bad = |e: std::io::Error| archive_err(path, format!("not a readable tar: {e}"));
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            if members.len() >= MAX_MEMBERS {
                return Err(archive_err(
                    path,
                    format!("has more than {MAX_MEMBERS} members; not an image archive"),
                ));
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Ok(name) = normalize(&raw) else { continue };
            let target = entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned());
            let member = match (entry.header().entry_type(), target) {
                (tar::EntryType::Regular | tar::EntryType::Continuous, _) => Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                (tar::EntryType::Symlink, Some(t)) => match resolve_link(&name, &t) {
                    Some(t) => Member::Link(t),
                    None => continue,
                },
                (tar::EntryType::Link, Some(t)) => match normalize(&t) {
                    Ok(t) => Member::Link(t),
                    Err(_) => continue,
                },
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Self::Tar {
            path: path.to_owned(),
            members,
        })
    }

    fn path(&self) -> &Path {
        match self {
            Self::Dir(p) | Self::Tar { path: p, .. } => p,
        }
    }

    fn exists(&self, name: &str) -> bool {
        self.locate(name).is_ok()
    }

    /// Where `name` is: a file path and a byte range in it.
    fn locate(&self, name: &str) -> Result<(PathBuf, u64, u64), ScanError> {
        let missing = || archive_err(self.path(), format!("has no {name}"));
        let mut name = normalize(name)
            .map_err(|e| archive_err(self.path(), format!("member {name:?}: {e}")))?;
        match self {
            Self::Dir(root) => {
                let p = root.join(&name);
                let meta = std::fs::metadata(&p).map_err(|_| missing())?;
                if !meta.is_file() {
                    return Err(missing());
                }
                Ok((p, 0, meta.len()))
            }
            Self::Tar { path, members } => {
                for _ in 0..8 {
                    match members.get(&name).ok_or_else(missing)? {
                        Member::File { offset, size } => return Ok((path.clone(), *offset, *size)),
                        Member::Link(t) => name = t.clone(),
                    }
                }
                Err(archive_err(path, format!("{name}: too many links")))
            }
        }
    }

    /// A member's content as a stream, and its size.
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), ScanError> {
        let (path, offset, size) = self.locate(name)?;
        let mut f =
            File::open(&path).map_err(|e| archive_err(&path, format!("cannot open: {e}")))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| archive_err(&path, e.to_string()))?;
        Ok((Box::new(f.take(size)), size))
    }

    /// A small member read whole, refused over `limit`.
    fn read(&self, name: &str, limit: u64, what: &str) -> Result<Vec<u8>, ScanError> {
        let (mut r, size) = self.open(name)?;
        if size > limit {
            return Err(archive_err(
                self.path(),
                format!("{what} ({name}) is {size} bytes, over the {limit}-byte limit"),
            ));
        }
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        r.read_to_end(&mut out)
            .map_err(|e| archive_err(self.path(), format!("reading {name}: {e}")))?;
        if out.len() as u64 != size {
            return Err(archive_err(self.path(), format!("{name} is truncated")));
        }
        Ok(out)
    }

    /// The media type of a layer as its first bytes tell it (a `docker save` layer, reused
    /// from staging, whose type the archive does not state).
    fn sniff(&self, name: &str) -> Result<String, ScanError> {
        let (r, _) = self.open(name)?;
        let mut r = BufReader::with_capacity(64, r);
        let head = std::io::BufRead::fill_buf(&mut r)
            .map_err(|e| archive_err(self.path(), format!("reading {name}: {e}")))?;
        Ok(sniffed_media_type(Compression::sniff(head)).to_owned())
    }
}

fn archive_err(path: &Path, reason: impl Into<String>) -> ScanError {
    ScanError::Archive {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// `blobs/sha256/<hex>` for a digest, refusing anything but a sha256 digest.
fn blob_path(c: &Container, digest: &str) -> Result<String, ScanError> {
    if !is_sha256_digest(digest) {
        return Err(archive_err(
            c.path(),
            format!("digest {digest:?} is not sha256: and 64 hex digits"),
        ));
    }
    Ok(format!("blobs/{}", digest.replacen(':', "/", 1)))
}

/// Reads a blob and checks it against its digest.
fn verified_blob(
    c: &Container,
    d: &Descriptor,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ScanError> {
    let bytes = c.read(&blob_path(c, &d.digest)?, limit, what)?;
    let actual = sha256(&bytes);
    if actual != d.digest {
        return Err(crate::RegistryError::DigestMismatch {
            what: format!("{what} in {}", c.path().display()),
            expected: d.digest.clone(),
            actual,
        }
        .into());
    }
    Ok(bytes)
}

fn diff_ids(config: &Value) -> Vec<String> {
    config
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_config(
    c: &Container,
    bytes: &[u8],
    layers: usize,
) -> Result<(Value, Vec<String>), ScanError> {
    let config: Value = serde_json::from_slice(bytes)
        .map_err(|e| archive_err(c.path(), format!("malformed image config: {e}")))?;
    let ids = diff_ids(&config);
    if ids.len() != layers {
        return Err(archive_err(
            c.path(),
            format!(
                "malformed image config: rootfs.diff_ids lists {} layers, the manifest {layers}",
                ids.len()
            ),
        ));
    }
    if let Some(bad) = ids.iter().find(|d| !is_sha256_digest(d)) {
        return Err(archive_err(
            c.path(),
            format!("malformed image config: diff id {bad:?} is not a sha256 digest"),
        ));
    }
    Ok((config, ids))
}

fn parse_manifest(c: &Container, bytes: &[u8], what: &str) -> Result<Kind, ScanError> {
    let any: AnyManifest = serde_json::from_slice(bytes)
        .map_err(|e| archive_err(c.path(), format!("malformed {what}: {e}")))?;
    match classify(any) {
        Kind::Schema1 => Err(archive_err(
            c.path(),
            format!("{what} is Docker schema 1, which is unsupported"),
        )),
        Kind::Unsupported(mt) => Err(archive_err(
            c.path(),
            format!("{what} has unsupported media type {mt:?}"),
        )),
        k => Ok(k),
    }
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

/// An OCI image layout: `oci-layout`, `index.json`, `blobs/sha256/…`.
fn read_oci(
    c: &Container,
    reference: Option<&str>,
    platform: &Platform,
    label: &str,
) -> Result<Resolved, ScanError> {
    if !c.exists("oci-layout") {
        let hint = if c.exists("manifest.json") {
            " (it looks like a docker save archive: use docker-archive:)"
        } else {
            ""
        };
        return Err(archive_err(
            c.path(),
            format!("is not an OCI image layout: no oci-layout file{hint}"),
        ));
    }
    let index = c.read("index.json", MAX_MANIFEST_BYTES, "index.json")?;
    let Kind::Index(entries) = parse_manifest(c, &index, "index.json")? else {
        return Err(archive_err(c.path(), "index.json is not an image index"));
    };
    let names = || {
        let n: Vec<&str> = entries.iter().filter_map(ref_name).collect();
        if n.is_empty() {
            "none".to_owned()
        } else {
            n.join(", ")
        }
    };
    let chosen: Vec<&Descriptor> = match reference {
        Some(r) => entries.iter().filter(|d| ref_name(d) == Some(r)).collect(),
        None => entries.iter().collect(),
    };
    let entry = match chosen.as_slice() {
        [] if reference.is_some() => {
            return Err(archive_err(
                c.path(),
                format!(
                    "index.json names no image {:?}; named: {}",
                    reference.unwrap_or_default(),
                    names()
                ),
            ));
        }
        [] => return Err(archive_err(c.path(), "index.json lists no image")),
        [one] => (*one).clone(),
        many => {
            let owned: Vec<Descriptor> = many.iter().map(|d| (*d).clone()).collect();
            select(&owned, platform)
                .map_err(|available| {
                    archive_err(c.path(), format!("index.json lists {} images and none for {platform} (platforms: {available}); name one as {label}:REF (named: {})", owned.len(), names()))
                })?
                .clone()
        }
    };
    let mut desc = entry;
    let mut parent = None;
    for _ in 0..3 {
        let bytes = verified_blob(c, &desc, MAX_MANIFEST_BYTES, "manifest")?;
        match parse_manifest(c, &bytes, "manifest")? {
            Kind::Index(children) => {
                let child = select(&children, platform).map_err(|available| {
                    crate::RegistryError::NoMatchingPlatform {
                        reference: label.to_owned(),
                        platform: platform.to_string(),
                        available,
                    }
                })?;
                parent = Some(desc.digest.clone());
                desc = child.clone();
            }
            Kind::Image {
                config,
                layers,
                media_type,
            } => {
                if config.size < 0 || config.size as u64 > MAX_CONFIG_BYTES {
                    return Err(archive_err(
                        c.path(),
                        format!(
                            "config is {} bytes, over the {MAX_CONFIG_BYTES}-byte limit",
                            config.size
                        ),
                    ));
                }
                let raw = verified_blob(c, &config, MAX_CONFIG_BYTES, "image config")?;
                let (config_json, ids) = parse_config(c, &raw, layers.len())?;
                let layers = layers
                    .iter()
                    .zip(ids)
                    .map(|(l, diff_id)| {
                        Ok(ArchiveLayer {
                            name: blob_path(c, &l.digest)?,
                            digest: Some(l.digest.clone()),
                            media_type: Some(l.media_type.clone()),
                            size: l.size,
                            diff_id,
                        })
                    })
                    .collect::<Result<Vec<_>, ScanError>>()?;
                return Ok(Resolved {
                    manifest: Some(ArchiveManifest {
                        bytes,
                        digest: desc.digest.clone(),
                        media_type,
                    }),
                    parent_digest: parent,
                    config_digest: config.digest.clone(),
                    config_size: raw.len(),
                    config: config_json,
                    layers,
                });
            }
            Kind::Schema1 | Kind::Unsupported(_) => {
                return Err(archive_err(c.path(), "unsupported manifest"));
            }
        }
    }
    Err(archive_err(c.path(), "indexes nested more than two deep"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The sha256 digest a member name states (`blobs/sha256/<hex>`, `<hex>.json`, `<hex>.tar`).
fn digest_in_name(name: &str) -> Option<String> {
    let base = name.rsplit('/').next()?;
    let hex = base
        .strip_suffix(".json")
        .or_else(|| base.strip_suffix(".tar"))
        .unwrap_or(base);
    let d = format!("sha256:{hex}");
    is_sha256_digest(&d).then_some(d)
}

/// A `docker save` archive: `manifest.json` naming the config and layer tars.
fn read_docker(c: &Container, reference: Option<&str>, label: &str) -> Result<Resolved, ScanError> {
    if !c.exists("manifest.json") {
        let hint = if c.exists("oci-layout") {
            " (it is an OCI layout: use oci-archive:)"
        } else {
            ""
        };
        return Err(archive_err(
            c.path(),
            format!("is not a docker save archive: no manifest.json{hint}"),
        ));
    }
    let raw = c.read("manifest.json", MAX_MANIFEST_BYTES, "manifest.json")?;
    let entries: Vec<DockerEntry> = serde_json::from_slice(&raw)
        .map_err(|e| archive_err(c.path(), format!("malformed manifest.json: {e}")))?;
    let tags = |e: &DockerEntry| e.repo_tags.clone().unwrap_or_default();
    let all: Vec<String> = entries.iter().flat_map(tags).collect();
    let entry = match reference {
        Some(r) => entries
            .iter()
            .find(|e| {
                tags(e)
                    .iter()
                    .any(|t| t == r || t.ends_with(&format!("/{r}")))
            })
            .ok_or_else(|| {
                archive_err(
                    c.path(),
                    format!("holds no image tagged {r:?}; tags: {}", all.join(", ")),
                )
            })?,
        None => match entries.as_slice() {
            [] => return Err(archive_err(c.path(), "manifest.json lists no image")),
            [one] => one,
            _ => {
                return Err(archive_err(
                    c.path(),
                    format!(
                        "holds {} images; name one as {label}:REPO:TAG (tags: {})",
                        entries.len(),
                        all.join(", ")
                    ),
                ));
            }
        },
    };
    let config_raw = c.read(&entry.config, MAX_CONFIG_BYTES, "image config")?;
    let config_digest = sha256(&config_raw);
    if let Some(stated) = digest_in_name(&entry.config).filter(|d| *d != config_digest) {
        return Err(crate::RegistryError::DigestMismatch {
            what: format!("image config {} in {}", entry.config, c.path().display()),
            expected: stated,
            actual: config_digest,
        }
        .into());
    }
    let (config, ids) = parse_config(c, &config_raw, entry.layers.len())?;
    let layers = entry
        .layers
        .iter()
        .zip(ids)
        .map(|(name, diff_id)| {
            let (_, _, size) = c.locate(name)?;
            Ok(ArchiveLayer {
                name: name.clone(),
                digest: name
                    .starts_with("blobs/")
                    .then(|| digest_in_name(name))
                    .flatten(),
                media_type: None,
                size: i64::try_from(size).unwrap_or(i64::MAX),
                diff_id,
            })
        })
        .collect::<Result<Vec<_>, ScanError>>()?;
    Ok(Resolved {
        manifest: None,
        parent_digest: None,
        config_digest,
        config_size: config_raw.len(),
        config,
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).expect("gzip");
        e.finish().expect("gzip")
    }

    fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).expect("append");
        }
        b.into_inner().expect("tar")
    }

    fn os_release_layer() -> Vec<u8> {
        layer_tar(&[
            ("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.0\n"),
            ("bin/tool", b"#!/bin/sh\n"),
        ])
    }

    fn config(diff_ids: &[String]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": { "type": "layers", "diff_ids": diff_ids }, "config": {},
        }))
        .expect("json")
    }

    /// An OCI layout in memory: (path, bytes) pairs and the manifest digest.
    fn oci_layout(layers: &[Vec<u8>], tamper: Option<usize>) -> (Vec<(String, Vec<u8>)>, String) {
        let mut files = vec![(
            "oci-layout".to_owned(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        )];
        let mut blob = |b: Vec<u8>| {
            let d = sha256(&b);
            files.push((format!("blobs/{}", d.replacen(':', "/", 1)), b));
            d
        };
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
        let cfg = config(&diff_ids);
        let cfg_len = cfg.len();
        let cfg_digest = blob(cfg);
        let mut descs = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let gz = gzip(l);
            let size = gz.len();
            let mut d = blob(gz);
            if tamper == Some(i) {
                d = sha256(b"something else");
            }
            descs.push(serde_json::json!({ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size }));
        }
        let m = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST,
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": cfg_len },
            "layers": descs,
        }))
        .expect("json");
        let (mlen, md) = (m.len(), blob(m));
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_INDEX,
            "manifests": [{ "mediaType": media_type::OCI_MANIFEST, "digest": md, "size": mlen, "annotations": { REF_NAME: "latest" } }],
        }))
        .expect("json");
        files.push(("index.json".into(), index));
        (files, md)
    }

    fn write_tar(path: &Path, files: &[(String, Vec<u8>)]) {
        let mut b = tar::Builder::new(File::create(path).expect("create"));
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, data.as_slice())
                .expect("append");
        }
        b.finish().expect("finish");
    }

    fn write_dir(root: &Path, files: &[(String, Vec<u8>)]) {
        for (name, data) in files {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, data).expect("write");
        }
    }

    fn read_all(img: &ScannedImage, path: &str) -> Option<String> {
        let mut s = String::new();
        img.open(path)?.read_to_string(&mut s).ok()?;
        Some(s)
    }

    #[test]
    fn sources_parse_with_paths_and_references() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("img.tar");
        std::fs::write(&p, b"").expect("write");
        let s = p.display().to_string();
        assert_eq!(
            ImageSource::parse(&format!("oci-archive:{s}")).ok(),
            Some(ImageSource::OciArchive {
                path: p.clone(),
                reference: None
            })
        );
        assert_eq!(
            ImageSource::parse(&format!("docker-archive:{s}:repo/app:1.0")).ok(),
            Some(ImageSource::DockerArchive {
                path: p.clone(),
                reference: Some("repo/app:1.0".into())
            })
        );
        assert_eq!(
            ImageSource::parse(&format!("oci:{s}:latest")).ok(),
            Some(ImageSource::OciDir {
                path: p,
                reference: Some("latest".into())
            })
        );
        assert!(
            matches!(ImageSource::parse("docker://127.0.0.1:5000/customs/tiny:latest"), Ok(ImageSource::Registry(r)) if r.repo == "customs/tiny")
        );
        assert!(
            matches!(ImageSource::parse("oci-dir:"), Err(ScanError::Source(m)) if m.contains("needs a path"))
        );
        assert!(matches!(ImageSource::parse(""), Err(ScanError::Source(_))));
        assert!(
            matches!(ImageSource::parse("Not A Ref!"), Err(ScanError::Source(m)) if m.contains("oci-archive:PATH"))
        );
    }

    #[tokio::test]
    async fn oci_layouts_and_archives_scan_and_reuse_staged_layers() {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = os_release_layer();
        let top = layer_tar(&[("app/requirements.txt", b"flask==3.0.0\n")]);
        let (files, digest) = oci_layout(&[base.clone(), top], None);
        let dir = tmp.path().join("layout");
        write_dir(&dir, &files);
        let archive = tmp.path().join("layout.tar");
        write_tar(&archive, &files);
        let work = tmp.path().join("work");
        let opts = ScanOptions::default();

        let img = scan(&format!("oci-dir:{}", dir.display()), &work, &opts)
            .await
            .expect("scan dir");
        assert_eq!(img.digest(), digest);
        assert_eq!(img.image.layers.len(), 2);
        assert!(img.layers.iter().all(|l| l.fetched));
        assert_eq!(
            read_all(&img, "etc/os-release").as_deref(),
            Some("ID=alpine\nVERSION_ID=3.20.0\n")
        );
        assert!(img.view().entries.contains_key("bin/tool"));
        assert_eq!(img.image.os.as_deref(), Some("linux"));
        assert!(
            work.join(Staging::index_key(&img.image.layers[0].digest)).is_file(),
            "staged under the S3 key scheme"
        );

        // The same layers in a tar, by reference name: nothing is staged again.
        let again = scan(
            &format!("oci-archive:{}:latest", archive.display()),
            &work,
            &opts,
        )
        .await
        .expect("scan archive");
        assert_eq!(again.digest(), digest);
        assert!(again.layers.iter().all(|l| !l.fetched), "reused");
        assert_eq!(
            read_all(&again, "etc/os-release"),
            read_all(&img, "etc/os-release")
        );

        let missing = scan(
            &format!("oci-archive:{}:v9", archive.display()),
            &work,
            &opts,
        )
        .await;
        assert!(
            matches!(&missing, Err(ScanError::Archive { reason, .. }) if reason.contains("names no image \"v9\"") && reason.contains("latest")),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn oci_digest_mismatches_and_wrong_kinds_fail_with_the_reason() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (files, _) = oci_layout(&[os_release_layer()], Some(0));
        let archive = tmp.path().join("bad.tar");
        write_tar(&archive, &files);
        let work = tmp.path().join("work");
        let r = scan(
            &format!("oci-archive:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        // The manifest names a blob that is not there under its (wrong) digest.
        assert!(
            matches!(&r, Err(ScanError::Archive { reason, .. }) if reason.contains("has no blobs/sha256/")),
            "{r:?}"
        );

        // A blob whose content does not match its name.
        let (mut files, _) = oci_layout(&[os_release_layer()], None);
        let layer = files
            .iter_mut()
            .find(|(_, b)| b.starts_with(&[0x1f, 0x8b]))
            .expect("layer");
        layer.1 = gzip(&layer_tar(&[("etc/os-release", b"ID=debian\n")]));
        write_tar(&archive, &files);
        let r = scan(
            &format!("oci-archive:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        assert!(
            matches!(&r, Err(ScanError::Stage(e)) if e.to_string().contains("compressed digest mismatch")),
            "{r:?}"
        );

        let r = scan(
            &format!("docker-archive:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        assert!(
            matches!(&r, Err(ScanError::Archive { reason, .. }) if reason.contains("use oci-archive:")),
            "{r:?}"
        );
        let r = scan(
            &format!("oci-dir:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        assert!(
            matches!(&r, Err(ScanError::Archive { reason, .. }) if reason.contains("not a directory")),
            "{r:?}"
        );
        std::fs::write(&archive, gzip(b"x")).expect("write");
        let r = scan(
            &format!("oci-archive:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        assert!(
            matches!(&r, Err(ScanError::Archive { reason, .. }) if reason.contains("compressed")),
            "{r:?}"
        );
        let r = scan(
            &format!("oci-archive:{}", tmp.path().join("nope.tar").display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        assert!(
            matches!(&r, Err(ScanError::Archive { reason, .. }) if reason.contains("cannot open")),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn docker_save_archives_scan_verify_diff_ids_and_describe_a_manifest() {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = os_release_layer();
        let top = layer_tar(&[("usr/lib/python3/dist-packages/x.py", b"x = 1\n")]);
        let ids = vec![sha256(&base), sha256(&top)];
        let cfg = config(&ids);
        let cfg_name = format!("{}.json", sha256(&cfg).trim_start_matches("sha256:"));
        let manifest = serde_json::to_vec(&serde_json::json!([{ "Config": cfg_name, "RepoTags": ["example/app:1.0"], "Layers": ["aaa/layer.tar", "bbb/layer.tar"] }])).expect("json");
        let files = vec![
            ("manifest.json".to_owned(), manifest.clone()),
            (cfg_name.clone(), cfg.clone()),
            ("aaa/layer.tar".to_owned(), base.clone()),
            ("bbb/layer.tar".to_owned(), gzip(&top)),
        ];
        let archive = tmp.path().join("saved.tar");
        write_tar(&archive, &files);
        let work = tmp.path().join("work");
        let img = scan(
            &format!("docker-archive:{}:example/app:1.0", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await
        .expect("scan");
        assert_eq!(img.image.config_digest, sha256(&cfg));
        assert_eq!(img.image.media_type, media_type::DOCKER_MANIFEST_V2);
        assert_eq!(img.digest(), sha256(&img.image.manifest));
        assert_eq!(
            img.image.layers[0].digest, ids[0],
            "a plain layer's blob digest is its diff id"
        );
        assert_eq!(
            img.image.layers[1].media_type,
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        assert_eq!(
            read_all(&img, "etc/os-release").as_deref(),
            Some("ID=alpine\nVERSION_ID=3.20.0\n")
        );
        // Scanned again: the plain layer is reused (found by its diff id, which is its
        // blob digest); the compressed one, named by path, is read again (staged by a
        // blob digest nothing states); the described manifest is the same.
        let again = scan(
            &format!("docker-archive:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await
        .expect("again");
        let fetched: Vec<bool> = again.layers.iter().map(|l| l.fetched).collect();
        assert_eq!(fetched, [false, true]);
        assert_eq!(again.digest(), img.digest());

        // A layer that does not hash to the config's diff id.
        let bad_cfg = config(&[ids[0].clone(), sha256(b"other")]);
        let bad_name = format!("{}.json", sha256(&bad_cfg).trim_start_matches("sha256:"));
        let files = vec![
            ("manifest.json".to_owned(), serde_json::to_vec(&serde_json::json!([{ "Config": bad_name, "Layers": ["aaa/layer.tar", "bbb/layer.tar"] }])).expect("json")),
            (bad_name, bad_cfg),
            ("aaa/layer.tar".to_owned(), base),
            ("bbb/layer.tar".to_owned(), top),
        ];
        write_tar(&archive, &files);
        let r = scan(
            &format!("docker-archive:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        assert!(
            matches!(&r, Err(ScanError::Stage(e)) if e.to_string().contains("diff_id")),
            "{r:?}"
        );

        // A config that does not hash to its name; hostile member names lead nowhere.
        let files = vec![
            ("manifest.json".to_owned(), serde_json::to_vec(&serde_json::json!([{ "Config": cfg_name, "Layers": ["../../etc/passwd", "x"] }])).expect("json")),
            (cfg_name, b"{}".to_vec()),
        ];
        write_tar(&archive, &files);
        let r = scan(
            &format!("docker-archive:{}", archive.display()),
            &work,
            &ScanOptions::default(),
        )
        .await;
        assert!(
            matches!(&r, Err(ScanError::Stage(e)) if e.to_string().contains("digest mismatch")),
            "{r:?}"
        );
    }
}
