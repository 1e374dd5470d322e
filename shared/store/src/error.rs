#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error(
        "migration {version} ({name}) was changed after it was applied (checksum {applied} in the database, {found} in this build)"
    )]
    MigrationChanged {
        version: i32,
        name: String,
        applied: String,
        found: String,
    },
    #[error("stored row is inconsistent: {0}")]
    Corrupt(String),
    #[error("stored secret: {0}")]
    Secret(#[from] crate::secrets::SecretError),
    #[error("image {0} not found")]
    ImageNotFound(uuid::Uuid),
}

/// tokio-postgres prints only "db error"; the server's message and detail are in the source.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(": ");
                s.push_str(d);
            }
            s
        }
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

impl StoreError {
    /// A write that named an image deleted meanwhile (the foreign key to `images` refused
    /// it) as [`StoreError::ImageNotFound`]; any other error as it is.
    pub(crate) fn image_gone(self, image: uuid::Uuid) -> Self {
        use tokio_postgres::error::SqlState;
        let gone = match &self {
            Self::Db(e) => e.as_db_error().is_some_and(|d| {
                *d.code() == SqlState::FOREIGN_KEY_VIOLATION && d.constraint().is_some_and(|c| c.ends_with("image_id_fkey"))
            }),
            _ => false,
        };
        if gone { Self::ImageNotFound(image) } else { self }
    }

    /// Text the database cannot store (a NUL byte, an invalid sequence): the caller's
    /// input, not a failure of the store.
    pub fn is_invalid_text(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            Self::Db(e) => e.code().is_some_and(|c| {
                *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE || *c == SqlState::UNTRANSLATABLE_CHARACTER
            }),
            _ => false,
        }
    }
}
