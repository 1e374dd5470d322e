use thiserror::Error;

/// Why a bundle could not be read at all (before validation).
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The document is not JSON or not an object with the bundle's shape.
    #[error("bundle is not a valid policy bundle document: {0}")]
    Malformed(#[from] serde_json::Error),
}
