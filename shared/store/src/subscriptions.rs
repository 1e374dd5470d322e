//! Subscriptions, Anchore's way: four kinds per tag plus `repo_update` per repository,
//! and the watch state the watch function keeps on them.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::{Cached, Store, StoreError};

/// Every subscription type, as Anchore names them. The first four are keyed by full tag.
pub const SUBSCRIPTION_TYPES: [&str; 5] = [
    "tag_update",
    "policy_eval",
    "vuln_update",
    "analysis_update",
    "repo_update",
];

/// The id of an account's subscription: stable, derived from account, key and type (as
/// Anchore derives it, though with SHA-256 instead of MD5).
pub fn subscription_id(account: &str, key: &str, kind: &str) -> String {
    let d = Sha256::digest(format!("{account}+{key}+{kind}").as_bytes());
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    pub subscription_id: String,
    pub account: String,
    pub subscription_type: String,
    pub subscription_key: String,
    pub subscription_value: Option<String>,
    pub active: bool,
    pub last_digest: Option<String>,
    pub known_tags: Vec<String>,
    pub last_checked_at: Option<OffsetDateTime>,
    pub next_check_at: Option<OffsetDateTime>,
    pub failures: i32,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
}

#[derive(Debug, Clone, Default)]
pub struct SubscriptionFilter {
    pub key: Option<String>,
    pub kind: Option<String>,
}

const COLUMNS: &str = "subscription_id, account, subscription_type, subscription_key, subscription_value, active, \
     last_digest, known_tags, last_checked_at, next_check_at, failures, last_error, created_at, last_updated";

fn record(r: &Row) -> SubscriptionRecord {
    SubscriptionRecord {
        subscription_id: r.get("subscription_id"),
        account: r.get("account"),
        subscription_type: r.get("subscription_type"),
        subscription_key: r.get("subscription_key"),
        subscription_value: r.get("subscription_value"),
        active: r.get("active"),
        last_digest: r.get("last_digest"),
        known_tags: r.get("known_tags"),
        last_checked_at: r.get("last_checked_at"),
        next_check_at: r.get("next_check_at"),
        failures: r.get("failures"),
        last_error: r.get("last_error"),
        created_at: r.get("created_at"),
        last_updated: r.get("last_updated"),
    }
}

impl Store {
    /// Anchore's subscriptions for an added tag: the four tag kinds are created when
    /// missing (`analysis_update` active, `tag_update` active with `autosubscribe`, the
    /// others inactive); an existing `tag_update` is activated by `autosubscribe`.
    pub async fn ensure_tag_subscriptions(
        &self,
        account: &str,
        fulltag: &str,
        autosubscribe: bool,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        // Those already there and active need nothing: a repeat add of a tag (the common
        // case) reads and writes nothing, so it never waits for a commit to reach the disk.
        let present: Vec<(String, bool)> = conn
            .cached_query(
                "SELECT subscription_type, active FROM subscriptions WHERE account = $1 AND subscription_key = $2",
                &[&account, &fulltag],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for kind in &SUBSCRIPTION_TYPES[..4] {
            let active = match *kind {
                "analysis_update" => true,
                "tag_update" => autosubscribe,
                _ => false,
            };
            let settled = present.iter().any(|(k, on)| k == kind && (*on || !(active && *kind == "tag_update")));
            if settled {
                continue;
            }
            // No conflict target: both unique keys (the id, derived from the other three,
            // and account/key/type) arbitrate, so concurrent adds of one tag never fail on
            // the key the statement did not name. A tag_update that exists inactive is then
            // switched on when this add asks for it.
            let id = subscription_id(account, fulltag, kind);
            conn.execute(
                "INSERT INTO subscriptions (subscription_id, account, subscription_type, subscription_key, active)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                &[&id, &account, kind, &fulltag, &active],
            )
            .await?;
            if active && *kind == "tag_update" {
                conn.execute(
                    "UPDATE subscriptions SET active = true, last_updated = now()
                     WHERE account = $1 AND subscription_key = $2 AND subscription_type = 'tag_update' AND NOT active",
                    &[&account, &fulltag],
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Creates a subscription; `None` when the account already has it.
    pub async fn add_subscription(
        &self,
        account: &str,
        kind: &str,
        key: &str,
        value: Option<&str>,
        active: bool,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        let id = subscription_id(account, key, kind);
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!(
                    "INSERT INTO subscriptions (subscription_id, account, subscription_type, subscription_key, subscription_value, active)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
                ),
                &[&id, &account, &kind, &key, &value, &active],
            )
            .await?;
        Ok(row.as_ref().map(record))
    }

    pub async fn subscriptions(
        &self,
        account: &str,
        f: &SubscriptionFilter,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM subscriptions WHERE account = $1
                       AND ($2::text IS NULL OR subscription_key = $2)
                       AND ($3::text IS NULL OR subscription_type = $3)
                     ORDER BY subscription_key, subscription_type"
                ),
                &[&account, &f.key, &f.kind],
            )
            .await?;
        Ok(rows.iter().map(record).collect())
    }

    pub async fn subscription(
        &self,
        account: &str,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM subscriptions WHERE account = $1 AND subscription_id = $2"),
                &[&account, &id],
            )
            .await?;
        Ok(row.as_ref().map(record))
    }

    /// Sets `active` and/or the value; `None` when there is no such subscription.
    pub async fn update_subscription(
        &self,
        account: &str,
        id: &str,
        active: Option<bool>,
        value: Option<Option<&str>>,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        let set_value = value.is_some();
        let value = value.flatten();
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!(
                    "UPDATE subscriptions SET active = COALESCE($3, active),
                         subscription_value = CASE WHEN $4 THEN $5 ELSE subscription_value END,
                         last_updated = now()
                     WHERE account = $1 AND subscription_id = $2 RETURNING {COLUMNS}"
                ),
                &[&account, &id, &active, &set_value, &value],
            )
            .await?;
        Ok(row.as_ref().map(record))
    }

    pub async fn delete_subscription(&self, account: &str, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .await?
            .execute(
                "DELETE FROM subscriptions WHERE account = $1 AND subscription_id = $2",
                &[&account, &id],
            )
            .await?;
        Ok(n > 0)
    }

    /// Whether the account has an active subscription of `kind` on `key`.
    pub async fn subscribed(&self, account: &str, key: &str, kind: &str) -> Result<bool, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                "SELECT 1 FROM subscriptions WHERE account = $1 AND subscription_key = $2
                   AND subscription_type = $3 AND active",
                &[&account, &key, &kind],
            )
            .await?;
        Ok(row.is_some())
    }

    /// One page of the active subscriptions of `kind` across accounts that are due for a
    /// check, ordered by id; pass the last id of a page to get the next.
    pub async fn due_subscriptions(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM subscriptions
                     WHERE active AND subscription_type = $1 AND ($2::text IS NULL OR subscription_id > $2)
                       AND (next_check_at IS NULL OR next_check_at <= now())
                     ORDER BY subscription_id LIMIT $3"
                ),
                &[&kind, &after, &limit],
            )
            .await?;
        Ok(rows.iter().map(record).collect())
    }

    /// Records a successful check: the digest now behind the tag, or the tags now in the
    /// repository. Returns the previous digest (compare-and-set: `None` also when another
    /// check already recorded `digest`).
    pub async fn record_tag_check(
        &self,
        account: &str,
        id: &str,
        digest: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT last_digest FROM subscriptions WHERE account = $1 AND subscription_id = $2 FOR UPDATE",
                &[&account, &id],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let previous: Option<String> = row.get(0);
        tx.execute(
            "UPDATE subscriptions SET last_digest = $3, last_checked_at = now(), next_check_at = NULL,
                 failures = 0, last_error = NULL
             WHERE account = $1 AND subscription_id = $2",
            &[&account, &id, &digest],
        )
        .await?;
        tx.commit().await?;
        if previous.as_deref() == Some(digest) {
            return Ok(None);
        }
        Ok(Some(previous))
    }

    /// Records the tags now in a watched repository; returns the ones not seen before
    /// (all of them on the first check).
    pub async fn record_repo_check(
        &self,
        account: &str,
        id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT known_tags FROM subscriptions WHERE account = $1 AND subscription_id = $2 FOR UPDATE",
                &[&account, &id],
            )
            .await?;
        let Some(row) = row else { return Ok(Vec::new()) };
        let known: Vec<String> = row.get(0);
        let new: Vec<String> = tags.iter().filter(|t| !known.contains(t)).cloned().collect();
        let mut all = known;
        all.extend(new.iter().cloned());
        all.sort();
        all.dedup();
        tx.execute(
            "UPDATE subscriptions SET known_tags = $3, last_checked_at = now(), next_check_at = NULL,
                 failures = 0, last_error = NULL
             WHERE account = $1 AND subscription_id = $2",
            &[&account, &id, &all],
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Records a failed check and when to try again; returns the failure count.
    /// Puts a due check off until `next` without counting a failure (the registry asked
    /// everyone to wait).
    pub async fn defer_check(&self, account: &str, id: &str, next_check_at: OffsetDateTime) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute(
                "UPDATE subscriptions SET next_check_at = $3 WHERE account = $1 AND subscription_id = $2",
                &[&account, &id, &next_check_at],
            )
            .await?;
        Ok(())
    }

    /// Leaves `registry` alone until `until` (a later hold wins over an earlier one).
    pub async fn hold_registry(&self, registry: &str, until: OffsetDateTime, reason: &str) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute(
                "INSERT INTO registry_holds (registry, until, reason) VALUES ($1, $2, $3)
                 ON CONFLICT (registry) DO UPDATE SET until = GREATEST(registry_holds.until, EXCLUDED.until),
                     reason = EXCLUDED.reason, updated_at = now()",
                &[&registry, &until, &reason],
            )
            .await?;
        Ok(())
    }

    /// Until when `registry` is to be left alone, if it is now.
    pub async fn registry_hold(&self, registry: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt("SELECT until FROM registry_holds WHERE registry = $1 AND until > now()", &[&registry])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn record_check_failure(
        &self,
        account: &str,
        id: &str,
        error: &str,
        next_check_at: OffsetDateTime,
    ) -> Result<i32, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                "UPDATE subscriptions SET failures = failures + 1, last_error = $3, last_checked_at = now(),
                     next_check_at = $4
                 WHERE account = $1 AND subscription_id = $2 RETURNING failures",
                &[&account, &id, &error, &next_check_at],
            )
            .await?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    /// The digest an account last analysed behind a tag (the index digest when the image
    /// came from one) and the platform it was analysed for.
    pub async fn tag_baseline(
        &self,
        account: &str,
        registry: &str,
        repo: &str,
        tag: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                "SELECT COALESCE(i.parent_digest, i.image_digest), i.platform FROM images i
                 JOIN image_tags t ON t.image_id = i.id
                 WHERE t.account = $1 AND t.registry = $2 AND t.repo = $3 AND t.tag = $4
                   AND i.image_digest IS NOT NULL
                 ORDER BY t.tag_detected_at DESC LIMIT 1",
                &[&account, &registry, &repo, &tag],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }
}
