//! What can go wrong, and the exit code each failure maps to.

use serde_json::Value;

/// Every failure is exit code 2; a policy verdict of fail is not an error (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status.
    #[error("{message} (HTTP {status})")]
    Api {
        status: u16,
        message: String,
        body: Value,
    },
    /// The API could not be reached, or the answer could not be read.
    #[error("cannot talk to the customs API at {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The API answered something this client does not understand.
    #[error("unexpected answer from {path}: {reason}")]
    Unexpected { path: String, reason: String },
    /// The arguments are wrong (beyond what clap checks).
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The image's analysis failed.
    #[error("analysis of {image} failed: {reason}")]
    AnalysisFailed { image: String, reason: String },
    /// `customs scan` could not read, fetch or stage the image.
    #[error("scan failed: {0}")]
    Scan(String),
    #[error("gave up after {seconds} s waiting for {what}")]
    Timeout { seconds: u64, what: String },
}

impl Error {
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_string(),
            source,
        }
    }

    /// The API's JSON error body, if any (printed by `--json`).
    pub fn body(&self) -> Option<&Value> {
        match self {
            Self::Api { body, .. } if !body.is_null() => Some(body),
            _ => None,
        }
    }
}
