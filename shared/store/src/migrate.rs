//! Schema migrations, applied in version order under a PostgreSQL advisory lock so
//! that concurrent migrators (two deploys, two test processes) take turns.

use sha2::{Digest, Sha256};
use tracing::info;

use crate::{Store, StoreError};

/// One migration file, embedded at build time.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sql: include_str!(concat!("../../../migrations/", $file, ".sql")),
        }
    };
}

/// Every file in `migrations/`, in order. A test checks the folder and this list agree.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "V0001__create_images"),
    migration!(2, "V0002__registries"),
    migration!(3, "V0003__staging"),
    migration!(5, "V0005__packages"),
    migration!(6, "V0006__vulnerabilities"),
    migration!(7, "V0007__policies"),
    migration!(20, "V0020__feeds"),
    migration!(40, "V0040__watch_events"),
    migration!(50, "V0050__accounts"),
    migration!(70, "V0070__evaluation_history"),
    migration!(71, "V0071__registry_holds"),
    migration!(80, "V0080__staging_progress"),
    migration!(90, "V0090__staging_jobs"),
    migration!(95, "V0095__feed_bulk_writes"),
    migration!(100, "V0100__feed_unread_vulnerability_id_index"),
    migration!(120, "V0120__images_list_order"),
    migration!(140, "V0140__feed_sync_reevaluation"),
    migration!(150, "V0150__feed_keys_bytewise"),
    migration!(160, "V0160__image_tags_list_order"),
    migration!(170, "V0170__image_tags_list_cover"),
    migration!(180, "V0180__image_files_json"),
    migration!(190, "V0190__feed_json_columns"),
    migration!(200, "V0200__image_packages_json"),
    migration!(210, "V0210__image_files_lz4"),
    migration!(220, "V0220__staged_by_blob_digest"),
    migration!(230, "V0230__image_packages_lz4"),
];

/// Arbitrary constant naming the advisory lock; `customs` in ASCII.
const LOCK_KEY: i64 = 0x63_75_73_74_6f_6d_73;

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Applies every migration not yet applied. Safe to run repeatedly and concurrently.
    /// Returns the versions this call applied.
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        let mut conn = self.conn().await?;
        conn.execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
            .await?;
        let result = apply_all(&mut conn).await;
        // Release even when a migration failed; the session ends with the pool anyway.
        let unlock = conn
            .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
            .await;
        let applied = result?;
        unlock?;
        Ok(applied)
    }
}

async fn apply_all(conn: &mut deadpool_postgres::Object) -> Result<Vec<i32>, StoreError> {
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text        NOT NULL,
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let rows = conn
        .query("SELECT version, name, checksum FROM schema_migrations", &[])
        .await?;
    let mut applied_now = Vec::new();
    for m in MIGRATIONS {
        let sum = checksum(m.sql);
        if let Some(row) = rows.iter().find(|r| r.get::<_, i32>(0) == m.version) {
            let applied: String = row.get(2);
            if applied != sum {
                return Err(StoreError::MigrationChanged {
                    version: m.version,
                    name: m.name.into(),
                    applied,
                    found: sum,
                });
            }
            continue;
        }
        let tx = conn.transaction().await?;
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &sum],
        )
        .await?;
        tx.commit().await?;
        info!(version = m.version, name = m.name, "Applied migration");
        applied_now.push(m.version);
    }
    Ok(applied_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".sql"))
            .map(|n| n.trim_end_matches(".sql").to_owned())
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS.iter().map(|m| m.name.to_owned()).collect();
        assert_eq!(files, embedded);
        for w in MIGRATIONS.windows(2) {
            assert!(
                w[0].version < w[1].version,
                "versions must increase: {} then {}",
                w[0].name,
                w[1].name
            );
        }
        for m in MIGRATIONS {
            assert!(
                m.name.starts_with(&format!("V{:04}__", m.version)),
                "{}",
                m.name
            );
        }
    }
}
