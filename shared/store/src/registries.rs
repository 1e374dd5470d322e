//! Registry credentials per account, the password sealed at rest.

use std::fmt;

use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::{Cached, SecretBox, Store, StoreError};

/// What the API shows of a registry (never the password).
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryRecord {
    pub account: String,
    pub registry: String,
    pub registry_name: String,
    pub registry_user: String,
    pub registry_type: String,
    pub registry_verify: bool,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
}

/// A registry with its opened password, for fetching. `Debug` hides the password.
#[derive(Clone)]
pub struct RegistryCredential {
    pub record: RegistryRecord,
    pub password: String,
}

impl fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredential")
            .field("record", &self.record)
            .field("password", &"<redacted>")
            .finish()
    }
}

fn context(account: &str, registry: &str) -> Vec<u8> {
    [account.as_bytes(), b"\0", registry.as_bytes()].concat()
}

fn record(r: &Row) -> RegistryRecord {
    RegistryRecord {
        account: r.get("account"),
        registry: r.get("registry"),
        registry_name: r.get("registry_name"),
        registry_user: r.get("registry_user"),
        registry_type: r.get("registry_type"),
        registry_verify: r.get("registry_verify"),
        created_at: r.get("created_at"),
        last_updated: r.get("last_updated"),
    }
}

const COLUMNS: &str = "account, registry, registry_name, registry_user, registry_type, registry_verify, created_at, last_updated";

impl Store {
    /// Inserts (`replace = false`, `None` if it exists) or updates (`replace = true`,
    /// `None` if it does not) a registry's credentials.
    pub async fn put_registry(
        &self,
        secrets: &SecretBox,
        rec: &RegistryRecord,
        password: &str,
        replace: bool,
    ) -> Result<Option<RegistryRecord>, StoreError> {
        let sealed = secrets.seal(password.as_bytes(), &context(&rec.account, &rec.registry));
        let conn = self.conn().await?;
        let sql = if replace {
            format!(
                "UPDATE registries SET registry_name = $3, registry_user = $4, registry_type = $5, registry_verify = $6,
                     password_sealed = $7, key_id = $8, last_updated = now()
                 WHERE account = $1 AND registry = $2 RETURNING {COLUMNS}"
            )
        } else {
            format!(
                "INSERT INTO registries (account, registry, registry_name, registry_user, registry_type, registry_verify, password_sealed, key_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
            )
        };
        let row = conn
            .query_opt(
                &sql,
                &[
                    &rec.account,
                    &rec.registry,
                    &rec.registry_name,
                    &rec.registry_user,
                    &rec.registry_type,
                    &rec.registry_verify,
                    &sealed,
                    &secrets.key_id(),
                ],
            )
            .await?;
        Ok(row.as_ref().map(record))
    }

    pub async fn registries(&self, account: &str) -> Result<Vec<RegistryRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!("SELECT {COLUMNS} FROM registries WHERE account = $1 ORDER BY registry"),
                &[&account],
            )
            .await?;
        Ok(rows.iter().map(record).collect())
    }

    pub async fn registry(
        &self,
        account: &str,
        registry: &str,
    ) -> Result<Option<RegistryRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM registries WHERE account = $1 AND registry = $2"),
                &[&account, &registry],
            )
            .await?;
        Ok(row.as_ref().map(record))
    }

    /// The credentials to use for `registry`, opened.
    pub async fn registry_credential(
        &self,
        secrets: &SecretBox,
        account: &str,
        registry: &str,
    ) -> Result<Option<RegistryCredential>, StoreError> {
        let row = self
            .conn()
            .await?
            .cached_query_opt(
                &format!("SELECT {COLUMNS}, password_sealed, key_id FROM registries WHERE account = $1 AND registry = $2"),
                &[&account, &registry],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Vec<u8> = row.get("password_sealed");
        let key_id: String = row.get("key_id");
        let plain = secrets.open(&sealed, &context(account, registry), &key_id)?;
        let password = String::from_utf8(plain)
            .map_err(|_| StoreError::Corrupt("registry password is not UTF-8".into()))?;
        Ok(Some(RegistryCredential {
            record: record(&row),
            password,
        }))
    }

    /// Returns whether a registry was deleted.
    pub async fn delete_registry(&self, account: &str, registry: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .await?
            .execute(
                "DELETE FROM registries WHERE account = $1 AND registry = $2",
                &[&account, &registry],
            )
            .await?;
        Ok(n > 0)
    }
}
