//! Staged layers in S3, content-addressed by blob digest (the manifest's digest of the
//! layer, checked as the blob is read, so no image can plant content under another
//! layer's key): `layers/v2/sha256/<hex>/files.tar` (content analysers need) and
//! `layers/v2/sha256/<hex>/index.json.gz` (every entry; written last, so its presence
//! means the layer is completely staged). `v2` versions the key scheme and format; `v1`
//! keyed layers by diff id, and is never read (the bucket lifecycle expires it).
//!
//! The same keys live either in an S3 bucket (the functions) or under a local directory
//! (`customs scan`), so one staging and indexing path serves both.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use customs_model::fs::FileEntry;
use serde::{Deserialize, Serialize};

use crate::StageError;
use crate::cache::LayerCache;

/// v2: keyed by blob digest (v1, of before, by diff id, is never read).
const SCHEME: &str = "v2";
/// Largest index customs reads back (a layer with two million entries is ~400 MB raw).
const MAX_INDEX_BYTES: u64 = 1 << 30;

/// Everything known about a staged layer, staged under its blob `digest`. Its diff id is
/// not here: that is what an image's config says of the layer (see `index_layer_as`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagedLayer {
    pub digest: String,
    pub media_type: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub staged_files: u64,
    pub staged_bytes: u64,
    pub entries: Vec<FileEntry>,
    /// `(path, reason)` for entries left out of the index.
    pub findings: Vec<(String, String)>,
}

/// Where staged layers are kept: the staging bucket, or a local directory; with a bucket,
/// optionally a [`LayerCache`] of them (files on local disk, indexes in memory).
#[derive(Debug, Clone)]
pub struct Staging {
    backend: Backend,
    cache: Option<Arc<LayerCache>>,
}

#[derive(Debug, Clone)]
enum Backend {
    S3 { s3: aws_sdk_s3::Client, bucket: String },
    Dir(PathBuf),
}

/// An S3 client from the shared SDK config; path-style addressing when asked
/// (`CUSTOMS_S3_FORCE_PATH_STYLE`, needed by LocalStack and S3-compatible stores).
pub fn s3_client(sdk: &aws_types::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(force_path_style).build())
}

/// Whether `d` is `sha256:` and 64 lowercase hex digits: the only digests customs stages,
/// and the check that keeps a hostile manifest's digest from naming any other key or path.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn checked(digest: &str) -> Result<(), StageError> {
    if is_sha256_digest(digest) {
        Ok(())
    } else {
        Err(StageError::Layer(crate::layer::LayerError::Corrupt {
            digest: digest.to_owned(),
            reason: "layer digest is not a sha256 digest (sha256: and 64 hex digits)".into(),
        }))
    }
}

fn prefix(digest: &str) -> String {
    format!("layers/{SCHEME}/{}", digest.replacen(':', "/", 1))
}

fn s3_err(e: impl std::error::Error + 'static) -> StageError {
    StageError::Storage(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

fn local_err(what: &str, path: &Path, e: std::io::Error) -> StageError {
    StageError::Local(format!("{what} {}: {e}", path.display()))
}

impl Staging {
    /// Staging in an S3 bucket.
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { backend: Backend::S3 { s3, bucket: bucket.into() }, cache: None }
    }

    /// Staging under a local directory (created on first use), same key scheme as S3.
    pub fn local(dir: impl Into<PathBuf>) -> Self {
        Self { backend: Backend::Dir(dir.into()), cache: None }
    }

    /// Keeps what this staging stores or reads back from the bucket in `cache` too, and
    /// reads from there first (a bucket only: local staging is on local disk already).
    pub fn with_cache(mut self, cache: Arc<LayerCache>) -> Self {
        if matches!(self.backend, Backend::S3 { .. }) {
            self.cache = Some(cache);
        }
        self
    }

    /// The layer's staged files from the local cache, if it holds them.
    pub(crate) fn cached_files(&self, digest: &str) -> Option<tempfile::TempPath> {
        self.cache.as_ref()?.files(digest)
    }

    /// Keeps a layer's staged files, just read back from the bucket into `path`, in the cache.
    pub(crate) fn keep_files(&self, digest: &str, path: &Path) {
        if let Some(c) = &self.cache {
            c.put_files(digest, path);
        }
    }

    /// The staged files of a layer as a local file, when staging is local.
    pub(crate) fn local_files(&self, digest: &str) -> Option<PathBuf> {
        match &self.backend {
            Backend::Dir(root) if is_sha256_digest(digest) => Some(root.join(Self::files_key(digest))),
            Backend::Dir(_) => None,
            Backend::S3 { .. } => None,
        }
    }

    pub fn files_key(digest: &str) -> String {
        format!("{}/files.tar", prefix(digest))
    }

    pub fn index_key(digest: &str) -> String {
        format!("{}/index.json.gz", prefix(digest))
    }

    /// The key of an uploaded image archive: `uploads/v1/<scope>/<id>.tar`, where `scope`
    /// names the owner (hex) and `id` is random (a UUID). Expired by the bucket lifecycle.
    pub fn upload_key(scope: &str, id: &str) -> Result<String, StageError> {
        let ok = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok(scope) || !ok(id) {
            return Err(StageError::Storage(format!("upload key parts {scope:?}/{id:?} must be letters, digits and dashes")));
        }
        Ok(format!("uploads/{SCHEME}/{scope}/{id}.tar"))
    }

    /// A URL the caller may `PUT` one object to (`key`) for `expires` (S3 staging only).
    pub async fn presign_upload(&self, key: &str, expires: std::time::Duration) -> Result<String, StageError> {
        let Backend::S3 { s3, bucket } = &self.backend else {
            return Err(StageError::Storage("uploads need S3 staging".into()));
        };
        let cfg = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires).map_err(|e| StageError::Storage(e.to_string()))?;
        let req = s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/x-tar")
            .presigned(cfg)
            .await
            .map_err(s3_err)?;
        Ok(req.uri().to_owned())
    }

    /// Downloads object `key` (an upload) into `path`; `Ok(None)` when there is none,
    /// else its size. At most `limit` bytes are accepted.
    pub async fn download_object(&self, key: &str, path: &Path, limit: u64) -> Result<Option<u64>, StageError> {
        let mut out = tokio::fs::File::create(path).await.map_err(|e| local_err("creating", path, e))?;
        let copied = match &self.backend {
            Backend::S3 { s3, bucket } => {
                let obj = match s3.get_object().bucket(bucket).key(key).send().await {
                    Ok(o) => o,
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
                    Err(e) => return Err(s3_err(e)),
                };
                if obj.content_length().is_some_and(|n| n < 0 || n as u64 > limit) {
                    return Err(StageError::Layer(crate::layer::LayerError::OverLimit { digest: key.to_owned(), what: "archive bytes", limit }));
                }
                tokio::io::copy(&mut tokio::io::AsyncReadExt::take(obj.body.into_async_read(), limit), &mut out).await
            }
            Backend::Dir(root) => {
                let from = root.join(key);
                let f = match tokio::fs::File::open(&from).await {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(local_err("opening", &from, e)),
                };
                tokio::io::copy(&mut tokio::io::AsyncReadExt::take(f, limit), &mut out).await
            }
        };
        let n = copied.map_err(|e| StageError::Storage(format!("downloading {key}: {e}")))?;
        tokio::io::AsyncWriteExt::flush(&mut out).await.map_err(|e| local_err("writing", path, e))?;
        Ok(Some(n))
    }

    /// The staged index of a layer, or `None` when it is not (completely) staged.
    pub async fn index(&self, digest: &str) -> Result<Option<StagedLayer>, StageError> {
        checked(digest)?;
        let bytes = match &self.backend {
            Backend::S3 { s3, bucket } => {
                let key = Self::index_key(digest);
                if let Some(held) = self.cache.as_ref().and_then(|c| c.index(digest)) {
                    // The bucket decides whether the layer is staged (its lifecycle
                    // expires layers); the cache saves the transfer and the parse.
                    match s3.head_object().bucket(bucket).key(&key).send().await {
                        Ok(_) => {}
                        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
                        Err(e) => return Err(s3_err(e)),
                    }
                    // The caller takes the entries: a copy (a large layer's takes a few
                    // milliseconds, a tenth of parsing it), off the async workers.
                    return tokio::task::spawn_blocking(move || Some(StagedLayer::clone(&held)))
                        .await
                        .map_err(|e| StageError::Local(format!("reading a staged index: {e}")));
                }
                let got = s3.get_object().bucket(bucket).key(&key).send().await;
                let out = match got {
                    Ok(o) => o,
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
                    Err(e) => return Err(s3_err(e)),
                };
                out.body.collect().await.map_err(|e| StageError::Storage(e.to_string()))?.into_bytes().to_vec()
            }
            Backend::Dir(root) => {
                let path = root.join(Self::index_key(digest));
                match tokio::fs::read(&path).await {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(local_err("reading", &path, e)),
                }
            }
        };
        // Inflating and parsing a large layer's index takes tens of milliseconds: off the
        // async workers, so that the indexes of an image are read side by side.
        let digest = digest.to_owned();
        let cache = self.cache.clone();
        tokio::task::spawn_blocking(move || {
            let layer = parse_index(&digest, &bytes)?;
            if let (Some(c), Some(l)) = (&cache, &layer) {
                c.put_index(l);
            }
            Ok(layer)
        })
        .await
        .map_err(|e| StageError::Local(format!("reading a staged index: {e}")))?
    }

    /// The staged indexes of `digests` (each once), read a few at a time; a layer that is
    /// not (completely) staged is absent from the map.
    pub async fn indexes<'a>(&self, digests: impl IntoIterator<Item = &'a str>) -> Result<HashMap<String, StagedLayer>, StageError> {
        use futures::{StreamExt as _, TryStreamExt as _};
        let mut wanted: Vec<String> = digests.into_iter().map(str::to_owned).collect();
        wanted.sort_unstable();
        wanted.dedup();
        // Owned futures, built up front: a stream over a closure that borrows would make
        // the caller's future `Send` only for some lifetimes, which `tokio::spawn` refuses.
        let reads: Vec<_> = wanted
            .into_iter()
            .map(|d| {
                let staging = self.clone();
                async move { staging.index(&d).await.map(|l| l.map(|l| (d, l))) }
            })
            .collect();
        let found: Vec<Option<(String, StagedLayer)>> = futures::stream::iter(reads).buffered(INDEX_CONCURRENCY).try_collect().await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Streams a layer's staged files (a tar) into `out`.
    pub async fn download_files(&self, digest: &str, out: &mut (impl tokio::io::AsyncWrite + Unpin)) -> Result<(), StageError> {
        checked(digest)?;
        let copied = match &self.backend {
            Backend::S3 { s3, bucket } => {
                let obj = s3.get_object().bucket(bucket).key(Self::files_key(digest)).send().await.map_err(s3_err)?;
                tokio::io::copy(&mut obj.body.into_async_read(), out).await
            }
            Backend::Dir(root) => {
                let path = root.join(Self::files_key(digest));
                let mut f = tokio::fs::File::open(&path).await.map_err(|e| local_err("opening", &path, e))?;
                tokio::io::copy(&mut f, out).await
            }
        };
        copied.map_err(|e| StageError::Storage(format!("staged files of {digest}: {e}")))?;
        Ok(())
    }

    /// Stores the staged files, then the index (the completion marker).
    pub async fn put(&self, layer: &StagedLayer, files: &Path) -> Result<(), StageError> {
        checked(&layer.digest)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        serde_json::to_writer(&mut gz, layer).map_err(|e| StageError::Storage(e.to_string()))?;
        gz.flush().map_err(|e| StageError::Storage(e.to_string()))?;
        // Shared, not copied, between the upload and the cache.
        let index = bytes::Bytes::from(gz.finish().map_err(|e| StageError::Storage(e.to_string()))?);
        match &self.backend {
            Backend::S3 { s3, bucket } => {
                let body = ByteStream::from_path(files).await.map_err(|e| StageError::Storage(e.to_string()))?;
                s3.put_object()
                    .bucket(bucket)
                    .key(Self::files_key(&layer.digest))
                    .content_type("application/x-tar")
                    .body(body)
                    .send()
                    .await
                    .map_err(s3_err)?;
                s3.put_object()
                    .bucket(bucket)
                    .key(Self::index_key(&layer.digest))
                    .content_type("application/json")
                    .content_encoding("gzip")
                    .body(ByteStream::from(index.clone()))
                    .send()
                    .await
                    .map_err(s3_err)?;
                if let Some(c) = &self.cache {
                    c.put_files(&layer.digest, files);
                    c.put_index(layer);
                }
            }
            Backend::Dir(root) => {
                let (root, files) = (root.clone(), files.to_owned());
                let digest = layer.digest.clone();
                tokio::task::spawn_blocking(move || put_local(&root, &digest, &files, &index))
                    .await
                    .map_err(|e| StageError::Local(format!("staging worker: {e}")))??;
            }
        }
        Ok(())
    }
}

/// Writes a layer under `root`: each object through a temporary file renamed into place,
/// the index last, so a crash never leaves a layer that looks staged but is not.
fn put_local(root: &Path, digest: &str, files: &Path, index: &[u8]) -> Result<(), StageError> {
    let files_at = root.join(Staging::files_key(digest));
    let index_at = root.join(Staging::index_key(digest));
    let dir = files_at.parent().unwrap_or(root);
    std::fs::create_dir_all(dir).map_err(|e| local_err("creating", dir, e))?;
    let place = |at: &Path, write: &dyn Fn(&mut std::fs::File) -> std::io::Result<()>| -> Result<(), StageError> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| local_err("creating a file in", dir, e))?;
        write(tmp.as_file_mut()).map_err(|e| local_err("writing", at, e))?;
        tmp.persist(at).map_err(|e| local_err("renaming into", at, e.error))?;
        Ok(())
    };
    place(&files_at, &|f| {
        let mut src = std::fs::File::open(files)?;
        std::io::copy(&mut src, f)?;
        f.sync_all()
    })?;
    place(&index_at, &|f| f.write_all(index))
}

/// Indexes one layer blob on a blocking thread (never holding it whole), its staged files
/// going to a temporary file. `media_type` `None`: told by the blob's magic bytes (a
/// `docker save` layer has none); `expected` `None`: the blob digest is computed, not
/// checked, and the diff id is checked instead (see `index_layer_as` for when it is).
pub(crate) async fn index_blob(
    raw: Box<dyn Read + Send>,
    media_type: Option<String>,
    name: String,
    expected: Option<String>,
    diff_id: String,
    limits: crate::layer::Limits,
) -> Result<(StagedLayer, tempfile::NamedTempFile), StageError> {
    use crate::layer::{Compression, LayerError, index_layer_as};
    let files = tempfile::NamedTempFile::new().map_err(|e| StageError::Local(format!("temporary file: {e}")))?;
    let writer = files.reopen().map_err(|e| StageError::Local(format!("temporary file: {e}")))?;
    let layer = tokio::task::spawn_blocking(move || {
        let mut raw = std::io::BufReader::with_capacity(256 << 10, raw);
        let media_type = match media_type {
            Some(m) => m,
            None => {
                let head = std::io::BufRead::fill_buf(&mut raw)
                    .map_err(|e| LayerError::Corrupt { digest: name.clone(), reason: e.to_string() })?;
                sniffed_media_type(Compression::sniff(head)).to_owned()
            }
        };
        let mut builder = tar::Builder::new(std::io::BufWriter::new(writer));
        let idx = index_layer_as(raw, &media_type, &name, expected.as_deref(), &diff_id, &limits, &mut builder)?;
        builder
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| LayerError::Staging { digest: name.clone(), reason: e.to_string() })?;
        Ok::<_, LayerError>(StagedLayer {
            digest: idx.compressed_digest,
            media_type,
            compressed_size: idx.compressed_size,
            uncompressed_size: idx.uncompressed_size,
            staged_files: idx.staged_files,
            staged_bytes: idx.staged_bytes,
            entries: idx.entries,
            findings: idx.findings,
        })
    })
    .await
    .map_err(|e| StageError::Local(format!("layer worker: {e}")))??;
    Ok((layer, files))
}

/// The Docker layer media type for a blob compressed as `c` (`None`: plain tar).
pub(crate) fn sniffed_media_type(c: Option<crate::layer::Compression>) -> &'static str {
    match c {
        Some(crate::layer::Compression::Gzip) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        Some(crate::layer::Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.docker.image.rootfs.diff.tar",
    }
}

/// How many staged indexes [`Staging::indexes`] reads at once.
const INDEX_CONCURRENCY: usize = 8;

/// A staged index as `index` stored it (gzip JSON); `None` when it cannot be read.
fn parse_index(digest: &str, gz: &[u8]) -> Result<Option<StagedLayer>, StageError> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_INDEX_BYTES)
        .read_to_end(&mut json)
        .map_err(|e| StageError::Storage(format!("staged index of {digest} is corrupt: {e}")))?;
    match serde_json::from_slice(&json) {
        Ok(l) => Ok(Some(l)),
        // An unreadable index is as good as none: the layer is staged again.
        Err(e) => {
            tracing::warn!(digest, error = %e, "Staged index unreadable; restaging");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(digest: &str, path: &str) -> StagedLayer {
        StagedLayer {
            digest: digest.to_owned(),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            compressed_size: 1,
            uncompressed_size: 1,
            staged_files: 0,
            staged_bytes: 0,
            entries: vec![FileEntry {
                path: path.into(),
                kind: customs_model::fs::FileKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: 0,
                sha256: None,
                link: None,
                staged: false,
            }],
            findings: Vec::new(),
        }
    }

    #[tokio::test]
    async fn indexes_reads_each_staged_layer_once_and_leaves_out_the_unstaged() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let staging = Staging::local(dir.path());
        let (a, b, absent) = (format!("sha256:{}", "a".repeat(64)), format!("sha256:{}", "b".repeat(64)), format!("sha256:{}", "d".repeat(64)));
        let files = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        for (d, p) in [(&a, "etc/a"), (&b, "etc/b")] {
            staging.put(&layer(d, p), files.path()).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let got = staging.indexes([a.as_str(), absent.as_str(), b.as_str(), a.as_str()]).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 2);
        assert_eq!(got[&a], layer(&a, "etc/a"));
        assert_eq!(got[&b], layer(&b, "etc/b"));
        assert!(!got.contains_key(&absent));
    }
}
