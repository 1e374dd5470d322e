#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("migration {version} ({name}) was changed after it was applied (checksum {applied} in the database, {found} in this build)")]
    MigrationChanged { version: i32, name: String, applied: String, found: String },
    #[error("stored row is inconsistent: {0}")]
    Corrupt(String),
    #[error("image {0} not found")]
    ImageNotFound(uuid::Uuid),
}
