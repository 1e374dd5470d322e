//! Policy bundles per account and the stored evaluations.

use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRecord {
    pub account: String,
    pub policy_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub active: bool,
    pub bundle: Value,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationRecord {
    pub tag: String,
    pub policy_id: String,
    pub status: String,
    pub final_action: String,
    pub evaluation: Value,
    pub bundle: Value,
    pub evaluated_at: OffsetDateTime,
}

/// One entry of the audit trail: a verdict, the bundle that produced it (by digest and
/// content) and the feed state it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationLogEntry {
    pub id: i64,
    pub tag: String,
    pub policy_id: String,
    pub bundle_digest: String,
    pub bundle: Value,
    pub feed_state: Value,
    pub status: String,
    pub final_action: String,
    pub evaluation: Value,
    pub evaluated_at: OffsetDateTime,
}

/// `sha256:<hex>` of the bundle's JSON text (keys sorted, so equal bundles share a digest).
pub fn bundle_digest(bundle: &Value) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(bundle.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn policy(r: &Row) -> PolicyRecord {
    PolicyRecord {
        account: r.get("account"),
        policy_id: r.get("policy_id"),
        name: r.get("name"),
        description: r.get("description"),
        active: r.get("active"),
        bundle: r.get("bundle"),
        created_at: r.get("created_at"),
        last_updated: r.get("last_updated"),
    }
}

const COLS: &str = "account, policy_id, name, description, active, bundle, created_at, last_updated";

impl Store {
    /// Stores a bundle (replacing one with the same id), inactive as Anchore does.
    pub async fn put_policy(&self, account: &str, id: &str, name: Option<&str>, description: Option<&str>, bundle: &Value) -> Result<PolicyRecord, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO policies (account, policy_id, name, description, bundle) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (account, policy_id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                         bundle = EXCLUDED.bundle, active = false, last_updated = now()
                     RETURNING {COLS}"
                ),
                &[&account, &id, &name, &description, bundle],
            )
            .await?;
        Ok(policy(&row))
    }

    /// Seeds `bundle` as the active policy when the account has none active.
    pub async fn ensure_active_policy(&self, account: &str, id: &str, name: Option<&str>, bundle: &Value) -> Result<PolicyRecord, StoreError> {
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO policies (account, policy_id, name, bundle, active)
             SELECT $1, $2, $3, $4, true WHERE NOT EXISTS (SELECT 1 FROM policies WHERE account = $1 AND active)
             ON CONFLICT DO NOTHING",
            &[&account, &id, &name, bundle],
        )
        .await?;
        let row = conn
            .query_opt(&format!("SELECT {COLS} FROM policies WHERE account = $1 AND active"), &[&account])
            .await?
            .ok_or_else(|| StoreError::Corrupt("no active policy after seeding".into()))?;
        Ok(policy(&row))
    }

    pub async fn policies(&self, account: &str) -> Result<Vec<PolicyRecord>, StoreError> {
        let rows = self.conn().await?.query(&format!("SELECT {COLS} FROM policies WHERE account = $1 ORDER BY created_at"), &[&account]).await?;
        Ok(rows.iter().map(policy).collect())
    }

    pub async fn policy(&self, account: &str, id: &str) -> Result<Option<PolicyRecord>, StoreError> {
        let row = self.conn().await?.query_opt(&format!("SELECT {COLS} FROM policies WHERE account = $1 AND policy_id = $2"), &[&account, &id]).await?;
        Ok(row.as_ref().map(policy))
    }

    /// Makes `id` the account's only active policy. Returns false if there is no such policy.
    pub async fn activate_policy(&self, account: &str, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        if tx.query_opt("SELECT 1 FROM policies WHERE account = $1 AND policy_id = $2 FOR UPDATE", &[&account, &id]).await?.is_none() {
            return Ok(false);
        }
        tx.execute("UPDATE policies SET active = false, last_updated = now() WHERE account = $1 AND active AND policy_id <> $2", &[&account, &id]).await?;
        tx.execute("UPDATE policies SET active = true, last_updated = now() WHERE account = $1 AND policy_id = $2", &[&account, &id]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an inactive policy; `Err` never, `Ok(None)` if absent, `Ok(Some(false))` if active.
    pub async fn delete_policy(&self, account: &str, id: &str) -> Result<Option<bool>, StoreError> {
        let conn = self.conn().await?;
        let Some(row) = conn.query_opt("SELECT active FROM policies WHERE account = $1 AND policy_id = $2", &[&account, &id]).await? else {
            return Ok(None);
        };
        if row.get::<_, bool>(0) {
            return Ok(Some(false));
        }
        conn.execute("DELETE FROM policies WHERE account = $1 AND policy_id = $2", &[&account, &id]).await?;
        Ok(Some(true))
    }

    /// Stores an evaluation: the latest verdict per (image, tag, bundle) for `check`, and an
    /// append-only audit entry with the bundle's digest and the feed state it saw (from
    /// [`Store::feed_state`], read before matching). One transaction, so the two never disagree.
    /// An image deleted meanwhile is [`StoreError::ImageNotFound`].
    pub async fn save_evaluation(&self, image: Uuid, e: &EvaluationRecord, feed_state: &Value) -> Result<(), StoreError> {
        self.try_save_evaluation(image, e, feed_state).await.map_err(|err| err.image_gone(image))
    }

    async fn try_save_evaluation(&self, image: Uuid, e: &EvaluationRecord, feed_state: &Value) -> Result<(), StoreError> {
        let digest = bundle_digest(&e.bundle);
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "INSERT INTO policy_evaluations (image_id, tag, policy_id, status, final_action, evaluation, bundle, evaluated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (image_id, tag, policy_id) DO UPDATE SET status = EXCLUDED.status, final_action = EXCLUDED.final_action,
                 evaluation = EXCLUDED.evaluation, bundle = EXCLUDED.bundle, evaluated_at = EXCLUDED.evaluated_at",
            &[&image, &e.tag, &e.policy_id, &e.status, &e.final_action, &e.evaluation, &e.bundle, &e.evaluated_at],
        )
        .await?;
        tx.execute(
            "INSERT INTO policy_bundle_versions (bundle_digest, bundle) VALUES ($1, $2) ON CONFLICT (bundle_digest) DO NOTHING",
            &[&digest, &e.bundle],
        )
        .await?;
        tx.execute(
            "INSERT INTO policy_evaluation_log (image_id, tag, policy_id, bundle_digest, feed_state, status, final_action, evaluation, evaluated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&image, &e.tag, &e.policy_id, &digest, feed_state, &e.status, &e.final_action, &e.evaluation, &e.evaluated_at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the feeds looked like: per feed, its last successful sync (id, finish time,
    /// records written). Stored with each evaluation.
    pub async fn feed_state(&self) -> Result<Value, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one(
                "SELECT coalesce(jsonb_object_agg(feed, jsonb_build_object('sync_id', id, 'finished_at', finished_at, 'records', records)), '{}'::jsonb)
                 FROM (SELECT DISTINCT ON (feed) feed, id, finished_at, records FROM feed_syncs
                       WHERE status = 'success' ORDER BY feed, id DESC) last",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// The audit trail of an image under one tag (and bundle id, if given), newest first.
    pub async fn evaluation_history(&self, image: Uuid, tag: &str, policy_id: Option<&str>, limit: i64) -> Result<Vec<EvaluationLogEntry>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT l.id, l.tag, l.policy_id, l.bundle_digest, v.bundle, l.feed_state, l.status, l.final_action, l.evaluation, l.evaluated_at
                 FROM policy_evaluation_log l JOIN policy_bundle_versions v USING (bundle_digest)
                 WHERE l.image_id = $1 AND l.tag = $2 AND ($3::text IS NULL OR l.policy_id = $3)
                 ORDER BY l.evaluated_at DESC, l.id DESC LIMIT $4",
                &[&image, &tag, &policy_id, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| EvaluationLogEntry {
                id: r.get(0),
                tag: r.get(1),
                policy_id: r.get(2),
                bundle_digest: r.get(3),
                bundle: r.get(4),
                feed_state: r.get(5),
                status: r.get(6),
                final_action: r.get(7),
                evaluation: r.get(8),
                evaluated_at: r.get(9),
            })
            .collect())
    }

    pub async fn evaluation(&self, image: Uuid, tag: &str, policy_id: &str) -> Result<Option<EvaluationRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                "SELECT tag, policy_id, status, final_action, evaluation, bundle, evaluated_at FROM policy_evaluations
                 WHERE image_id = $1 AND tag = $2 AND policy_id = $3",
                &[&image, &tag, &policy_id],
            )
            .await?;
        Ok(row.map(|r| EvaluationRecord {
            tag: r.get(0),
            policy_id: r.get(1),
            status: r.get(2),
            final_action: r.get(3),
            evaluation: r.get(4),
            bundle: r.get(5),
            evaluated_at: r.get(6),
        }))
    }

    /// The newest evaluation of an image under a tag, whatever the policy.
    pub async fn latest_evaluation(&self, image: Uuid, tag: &str) -> Result<Option<EvaluationRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                "SELECT tag, policy_id, status, final_action, evaluation, bundle, evaluated_at FROM policy_evaluations
                 WHERE image_id = $1 AND tag = $2 ORDER BY evaluated_at DESC LIMIT 1",
                &[&image, &tag],
            )
            .await?;
        Ok(row.map(|r| EvaluationRecord {
            tag: r.get(0),
            policy_id: r.get(1),
            status: r.get(2),
            final_action: r.get(3),
            evaluation: r.get(4),
            bundle: r.get(5),
            evaluated_at: r.get(6),
        }))
    }
}
