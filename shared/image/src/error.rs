#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry {registry} is unreachable: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error("registry {registry} refused the credentials{with}: {reason}", with = if *.anonymous { " (anonymous access; add credentials with POST /v1/registries)" } else { "" })]
    Unauthorized {
        registry: String,
        anonymous: bool,
        reason: String,
    },
    #[error("{reference} was not found in the registry: {reason}")]
    NotFound { reference: String, reason: String },
    #[error(
        "{reference} uses Docker manifest schema 1, which is deprecated and unsupported; re-push it with a current client (schema 2 or OCI)"
    )]
    Schema1 { reference: String },
    #[error("{reference} has unsupported manifest media type {media_type:?}")]
    UnsupportedMediaType {
        reference: String,
        media_type: String,
    },
    #[error("{reference} has no manifest for platform {platform}; available: {available}")]
    NoMatchingPlatform {
        reference: String,
        platform: String,
        available: String,
    },
    #[error(
        "{what} digest mismatch: expected {expected}, registry served content hashing to {actual}"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{reference}: malformed {what}: {reason}")]
    Malformed {
        reference: String,
        what: &'static str,
        reason: String,
    },
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge { what: String, size: u64, limit: u64 },
    /// A body that kept coming past its limit (no or a false `Content-Length`): reading
    /// stopped there.
    #[error("{what} is over the {limit}-byte limit ({} MiB); customs stopped reading it after {read} bytes", .limit >> 20)]
    OverLimit { what: String, limit: u64, read: u64 },
    #[error("registry {registry} is not allowed: {reason}")]
    Forbidden { registry: String, reason: String },
    #[error("registry {registry} failed transiently: {reason}")]
    Transient { registry: String, reason: String },
    /// The registry accepted the connection but did not answer (or stopped sending) within
    /// the read timeout.
    #[error("registry {registry} timed out: {reason}")]
    TimedOut { registry: String, reason: String },
    #[error("registry {registry} answered {status}{after}", after = match .retry_after { Some(d) => format!(" and asked to retry after {} s", d.as_secs()), None => String::new() })]
    RateLimited {
        registry: String,
        status: u16,
        retry_after: Option<std::time::Duration>,
    },
}

impl RegistryError {
    /// Whether a later attempt could succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::TimedOut { .. } | Self::RateLimited { .. })
    }

    /// How long the registry asked callers to wait (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Why staging a layer failed.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    #[error("staging storage: {0}")]
    Storage(String),
    #[error("staging: {0}")]
    Local(String),
}

impl StageError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Registry(e) => e.is_retryable(),
            Self::Layer(_) => false,
            Self::Storage(_) | Self::Local(_) => true,
        }
    }
}

/// Why `scan` or staging an image archive failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The source is not something customs can read; the message says what it accepts.
    #[error("{0}")]
    Source(String),
    /// The archive or layout is unreadable, incomplete or inconsistent.
    #[error("{path}: {reason}")]
    Archive { path: String, reason: String },
    #[error(transparent)]
    Stage(#[from] StageError),
}

impl From<RegistryError> for ScanError {
    fn from(e: RegistryError) -> Self {
        Self::Stage(StageError::Registry(e))
    }
}

impl From<crate::layer::LayerError> for ScanError {
    fn from(e: crate::layer::LayerError) -> Self {
        Self::Stage(StageError::Layer(e))
    }
}

impl ScanError {
    /// Whether a later attempt could succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Source(_) | Self::Archive { .. } => false,
            Self::Stage(e) => e.is_retryable(),
        }
    }
}
