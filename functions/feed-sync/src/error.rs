/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("fetch {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("fetch {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("feed source {0:?} is not an http(s):// or file:// URL")]
    Scheme(String),
    #[error("reading archive {url}: {reason}")]
    Archive { url: String, reason: String },
    #[error(transparent)]
    Store(#[from] customs_store::StoreError),
    #[error("normaliser stopped: {0}")]
    Worker(String),
}

impl SyncError {
    /// Database failures are worth a redelivery; an upstream's failure is recorded and
    /// waits for the next scheduled sync.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}
