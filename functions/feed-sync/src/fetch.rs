//! Fetching documents over http(s) (conditional requests, backoff on 403/429/503) and from
//! file:// paths. Bodies are hashed as they arrive; archives go to a temporary file so
//! memory stays flat.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use customs_store::FeedCursor;
use reqwest::header::{HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tracing::{debug, warn};

use crate::SyncError;

/// A fetched body: in memory, or in a temporary file (deleted on drop) for archives.
#[derive(Debug)]
pub enum Body {
    Bytes(Vec<u8>),
    File(TempFile),
}

#[derive(Debug)]
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[derive(Debug)]
pub enum Fetched {
    /// The validators matched: nothing new upstream.
    NotModified,
    Body { body: Body, validators: FeedCursor },
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A temporary path no other sync uses at the same time.
fn temp_path() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("customs-feed-{}-{n}.zip", std::process::id()))
}

fn is_archive(url: &str) -> bool {
    url.split(['?', '#']).next().unwrap_or(url).to_ascii_lowercase().ends_with(".zip")
}

/// The path of a file:// URL (percent-escapes of spaces undone).
pub fn file_path(url: &str) -> Option<PathBuf> {
    url.strip_prefix("file://").map(|p| PathBuf::from(p.replace("%20", " ")))
}

/// The record files under a directory, sorted, as file:// URLs.
pub fn list_dir(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x, "json" | "yaml" | "yml" | "zip" | "csv" | "gz")) {
                out.push(format!("file://{}", p.display()));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    backoff: Duration,
}

impl Fetcher {
    pub fn new(timeout: Duration, backoff: Duration) -> Result<Self, SyncError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("customs-feed-sync/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .build()
            .map_err(|e| SyncError::Fetch { url: String::new(), reason: e.to_string() })?;
        Ok(Self { http, backoff })
    }

    /// Fetches `url` unless the stored validators say it has not changed.
    pub async fn get(&self, url: &str, known: Option<&FeedCursor>, headers: &HeaderMap) -> Result<Fetched, SyncError> {
        if url.starts_with("file://") {
            return self.get_file(url, known).await;
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SyncError::Scheme(url.to_owned()));
        }
        let fetch_err = |e: reqwest::Error| SyncError::Fetch { url: url.to_owned(), reason: e.to_string() };
        let mut attempt = 0u32;
        let mut resp = loop {
            let mut req = self.http.get(url).headers(headers.clone());
            if let Some(k) = known {
                if let Some(e) = &k.etag {
                    req = req.header(IF_NONE_MATCH, e);
                }
                if let Some(m) = &k.last_modified {
                    req = req.header(IF_MODIFIED_SINCE, m);
                }
            }
            let resp = req.send().await.map_err(fetch_err)?;
            let s = resp.status();
            let throttled = matches!(s, StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE);
            if throttled && attempt < 5 {
                let wait = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .map_or(self.backoff * 2u32.pow(attempt), Duration::from_secs);
                warn!(url, status = s.as_u16(), wait_ms = wait.as_millis() as u64, "Upstream throttled; backing off");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            break resp;
        };
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !resp.status().is_success() {
            return Err(SyncError::Status { url: url.to_owned(), status: resp.status().as_u16() });
        }
        let header = |h| resp.headers().get(h).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_owned);
        let mut validators = FeedCursor { etag: header(ETAG), last_modified: header(LAST_MODIFIED), ..FeedCursor::default() };
        let mut hash = Sha256::new();
        let body = if is_archive(url) {
            let tmp = TempFile(temp_path());
            let mut f = std::fs::File::create(&tmp.0).map_err(|e| SyncError::Fetch { url: url.to_owned(), reason: e.to_string() })?;
            while let Some(chunk) = resp.chunk().await.map_err(fetch_err)? {
                hash.update(&chunk);
                f.write_all(&chunk).map_err(|e| SyncError::Fetch { url: url.to_owned(), reason: e.to_string() })?;
            }
            Body::File(tmp)
        } else {
            let mut buf = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(fetch_err)? {
                hash.update(&chunk);
                buf.extend_from_slice(&chunk);
            }
            Body::Bytes(buf)
        };
        validators.content_sha256 = Some(hex(&hash.finalize()));
        debug!(url, "Fetched");
        Ok(Fetched::Body { body, validators })
    }

    async fn get_file(&self, url: &str, known: Option<&FeedCursor>) -> Result<Fetched, SyncError> {
        let path = file_path(url).ok_or_else(|| SyncError::Scheme(url.to_owned()))?;
        let io = |e: std::io::Error| SyncError::Fetch { url: url.to_owned(), reason: e.to_string() };
        let meta = tokio::fs::metadata(&path).await.map_err(io)?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| format!("{}.{:09}/{}", d.as_secs(), d.subsec_nanos(), meta.len()));
        if modified.is_some() && known.and_then(|k| k.last_modified.as_ref()) == modified.as_ref() {
            return Ok(Fetched::NotModified);
        }
        if is_archive(url) {
            // Copied and hashed in chunks: an archive is never held in memory whole.
            let src = path.clone();
            let (tmp, sha) = tokio::task::spawn_blocking(move || copy_hashing(&src))
                .await
                .map_err(|e| SyncError::Worker(e.to_string()))?
                .map_err(io)?;
            let validators = FeedCursor { last_modified: modified, content_sha256: Some(sha), ..FeedCursor::default() };
            return Ok(Fetched::Body { body: Body::File(TempFile(tmp)), validators });
        }
        let bytes = tokio::fs::read(&path).await.map_err(io)?;
        let validators = FeedCursor { last_modified: modified, content_sha256: Some(hex(&Sha256::digest(&bytes))), ..FeedCursor::default() };
        let body = Body::Bytes(bytes);
        Ok(Fetched::Body { body, validators })
    }
}

/// Archives are read through a private copy so that the TempFile's removal never touches
/// the caller's file; the copy is hashed on the way, 64 KiB at a time.
fn copy_hashing(path: &Path) -> std::io::Result<(PathBuf, String)> {
    use std::io::Read;
    let dst = temp_path();
    let mut from = std::fs::File::open(path)?;
    let mut to = std::io::BufWriter::new(std::fs::File::create(&dst)?);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        to.write_all(&buf[..n])?;
    }
    to.flush()?;
    Ok((dst, hex(&hash.finalize())))
}
