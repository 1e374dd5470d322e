#![doc = include_str!("../README.md")]

mod accounts;
mod error;
mod events;
mod feeds;
mod file_index;
mod images;
mod migrate;
mod policies;
mod registries;
mod secrets;
mod staging_jobs;
mod subscriptions;
mod vulns;

pub use accounts::{ADMIN_ACCOUNT, AccountDeletion, AccountRecord, LoginRecord, UserRecord};
pub use error::StoreError;
pub use events::{
    DeliveryOutcome, DeliveryRecord, EventFilter, EventLevel, EventRecord, NewEvent, WebhookRecord, event_type,
};
#[allow(unused_imports)]
pub use feeds::*;
pub use file_index::FileIndex;
pub use images::{
    AddOutcome, AnalysisResult, Claim, ImageFilter, ImageRecord, ImageSummary, LayerRecord, StagedLayerRecord, StagingProgress, TagRecord,
};
pub use migrate::{MIGRATIONS, Migration};
pub use policies::{EvaluationLogEntry, EvaluationRecord, PolicyRecord, bundle_digest};
pub use registries::{RegistryCredential, RegistryRecord};
pub use secrets::{SecretBox, SecretError};
pub use staging_jobs::{NewStagingJob, PendingLayer, StagingJob};
pub use subscriptions::{SUBSCRIPTION_TYPES, SubscriptionFilter, SubscriptionRecord, subscription_id};
pub use vulns::{Enrichment, MatchCandidate};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// A handle on the database: cheap to clone, shared by every handler of a process.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

/// TLS to the database: the CA bundle in `PGSSLROOTCERT` (e.g. the RDS bundle) if set,
/// else the public web roots. Certificates and host names are always verified.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match std::env::var("PGSSLROOTCERT") {
        Ok(path) if !path.is_empty() => {
            for cert in rustls_pki_types::CertificateDer::pem_file_iter(&path)
                .map_err(|e| StoreError::Config(format!("PGSSLROOTCERT={path}: {e}")))?
            {
                let cert = cert.map_err(|e| StoreError::Config(format!("PGSSLROOTCERT={path}: {e}")))?;
                roots.add(cert).map_err(|e| StoreError::Config(format!("PGSSLROOTCERT={path}: {e}")))?;
            }
        }
        _ => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl Store {
    /// Builds a pool for `url` (`postgres://user:pass@host:port/db`). Connections are
    /// opened lazily; the first query reports an unreachable server.
    pub fn connect(url: &str, max_size: usize) -> Result<Self, StoreError> {
        let mut pg: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
        // PostgreSQL's default random_page_cost (4) models spinning disks. customs' working
        // set is cached (or on SSD-backed RDS storage), where an index read costs little
        // more than a sequential one; with the default, the planner sorted a 10 000-image
        // account list (35-45 ms before the first row) instead of streaming it in index
        // order (first row at once, 27 ms in all). `options` in the URL take precedence.
        if pg.get_options().is_none() {
            pg.options("-c random_page_cost=1.1");
        }
        let cfg = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let mgr = match pg.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => Manager::from_config(pg, NoTls, cfg),
            // prefer (the default) tries TLS first; require insists on it.
            _ => Manager::from_config(pg, tls()?, cfg),
        };
        let pool = Pool::builder(mgr).max_size(max_size).build().map_err(|e| StoreError::Config(e.to_string()))?;
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

/// Queries through each pooled connection's statement cache: a statement is prepared
/// once per connection, so a query costs one round trip instead of two (parse, then
/// execute) and PostgreSQL can keep its plan. For the paths the API serves under load.
pub(crate) trait Cached: deadpool_postgres::GenericClient {
    fn cached_query<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)],
    ) -> impl std::future::Future<Output = Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>> + Send + 'a {
        async move {
            let statement = self.prepare_cached(sql).await?;
            self.query(&statement, params).await
        }
    }

    fn cached_query_opt<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)],
    ) -> impl std::future::Future<Output = Result<Option<tokio_postgres::Row>, tokio_postgres::Error>> + Send + 'a {
        async move {
            let statement = self.prepare_cached(sql).await?;
            self.query_opt(&statement, params).await
        }
    }
}

impl<T: deadpool_postgres::GenericClient> Cached for T {}
