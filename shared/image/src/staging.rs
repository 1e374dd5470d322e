//! Staged layers in S3, content-addressed by diff id:
//! `layers/v1/sha256/<hex>/files.tar` (content analysers need) and
//! `layers/v1/sha256/<hex>/index.json.gz` (every entry; written last, so its presence
//! means the layer is completely staged). `v1` versions the key scheme and format.

use std::io::{Read, Write};
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use customs_model::fs::FileEntry;
use serde::{Deserialize, Serialize};

use crate::StageError;

const SCHEME: &str = "v1";
/// Largest index customs reads back (a layer with two million entries is ~400 MB raw).
const MAX_INDEX_BYTES: u64 = 1 << 30;

/// Everything known about a staged layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagedLayer {
    pub digest: String,
    pub diff_id: String,
    pub media_type: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub staged_files: u64,
    pub staged_bytes: u64,
    pub entries: Vec<FileEntry>,
    /// `(path, reason)` for entries left out of the index.
    pub findings: Vec<(String, String)>,
}

/// The staging bucket.
#[derive(Debug, Clone)]
pub struct Staging {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// An S3 client from the shared SDK config; path-style addressing when asked
/// (`CUSTOMS_S3_FORCE_PATH_STYLE`, needed by LocalStack and S3-compatible stores).
pub fn s3_client(sdk: &aws_types::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(force_path_style).build())
}

fn prefix(diff_id: &str) -> String {
    format!("layers/{SCHEME}/{}", diff_id.replacen(':', "/", 1))
}

fn s3_err(e: impl std::error::Error + 'static) -> StageError {
    StageError::Storage(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

impl Staging {
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { s3, bucket: bucket.into() }
    }

    pub fn files_key(diff_id: &str) -> String {
        format!("{}/files.tar", prefix(diff_id))
    }

    pub fn index_key(diff_id: &str) -> String {
        format!("{}/index.json.gz", prefix(diff_id))
    }

    /// The staged index of a layer, or `None` when it is not (completely) staged.
    pub async fn index(&self, diff_id: &str) -> Result<Option<StagedLayer>, StageError> {
        let got = self.s3.get_object().bucket(&self.bucket).key(Self::index_key(diff_id)).send().await;
        let out = match got {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(s3_err(e)),
        };
        let bytes = out.body.collect().await.map_err(|e| StageError::Storage(e.to_string()))?.into_bytes();
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_ref())
            .take(MAX_INDEX_BYTES)
            .read_to_end(&mut json)
            .map_err(|e| StageError::Storage(format!("staged index of {diff_id} is corrupt: {e}")))?;
        match serde_json::from_slice(&json) {
            Ok(l) => Ok(Some(l)),
            // An unreadable index is as good as none: the layer is staged again.
            Err(e) => {
                tracing::warn!(diff_id, error = %e, "Staged index unreadable; restaging");
                Ok(None)
            }
        }
    }

    /// Streams a layer's staged files (a tar) into `out`.
    pub async fn download_files(&self, diff_id: &str, out: &mut (impl tokio::io::AsyncWrite + Unpin)) -> Result<(), StageError> {
        let obj = self.s3.get_object().bucket(&self.bucket).key(Self::files_key(diff_id)).send().await.map_err(s3_err)?;
        let mut body = obj.body.into_async_read();
        tokio::io::copy(&mut body, out).await.map_err(|e| StageError::Storage(format!("staged files of {diff_id}: {e}")))?;
        Ok(())
    }

    /// Uploads the staged files, then the index (the completion marker).
    pub async fn put(&self, layer: &StagedLayer, files: &Path) -> Result<(), StageError> {
        let body = ByteStream::from_path(files).await.map_err(|e| StageError::Storage(e.to_string()))?;
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(Self::files_key(&layer.diff_id))
            .content_type("application/x-tar")
            .body(body)
            .send()
            .await
            .map_err(s3_err)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        serde_json::to_writer(&mut gz, layer).map_err(|e| StageError::Storage(e.to_string()))?;
        gz.flush().map_err(|e| StageError::Storage(e.to_string()))?;
        let index = gz.finish().map_err(|e| StageError::Storage(e.to_string()))?;
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(Self::index_key(&layer.diff_id))
            .content_type("application/json")
            .content_encoding("gzip")
            .body(ByteStream::from(index))
            .send()
            .await
            .map_err(s3_err)?;
        Ok(())
    }
}
