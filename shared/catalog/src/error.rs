//! Why a file could not be catalogued; each becomes the reason of an unknown.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("content was not staged")]
    NotStaged,
    #[error("reading failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid archive: {0}")]
    Zip(#[from] zip::result::ZipError),
}
