#![doc = include_str!("../README.md")]

mod error;
mod feeds;
mod images;
mod migrate;
mod registries;
mod secrets;

pub use error::StoreError;
#[allow(unused_imports)]
pub use feeds::*;
pub use images::{
    AddOutcome, AnalysisResult, Claim, ImageFilter, ImageRecord, LayerRecord, StagedLayerRecord, TagRecord,
};
pub use migrate::{MIGRATIONS, Migration};
pub use registries::{RegistryCredential, RegistryRecord};
pub use secrets::{SecretBox, SecretError};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// A handle on the database: cheap to clone, shared by every handler of a process.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Builds a pool for `url` (`postgres://user:pass@host:port/db`). Connections are
    /// opened lazily; the first query reports an unreachable server.
    pub fn connect(url: &str, max_size: usize) -> Result<Self, StoreError> {
        let pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
        let mgr = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(max_size)
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Self { pool })
    }

    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Round trip to the server; used by health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn().await?.simple_query("SELECT 1").await?;
        Ok(())
    }
}
