//! The event log (`/v1/events`), webhooks, and the delivery state of notifications.

use std::str::FromStr;

use customs_model::AnalysisStatus;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{SecretBox, Store, StoreError};

/// Event types customs records (Anchore's names where Anchore has one).
pub mod event_type {
    pub const ANALYSIS_COMPLETED: &str = "user.image.analysis.completed";
    pub const ANALYSIS_FAILED: &str = "user.image.analysis.failed";
    pub const TAG_UPDATED: &str = "user.checks.tag.digest.update";
    pub const VULNERABILITIES_UPDATED: &str = "user.checks.tag.vulnerabilities.update";
    pub const POLICY_EVAL_UPDATED: &str = "user.checks.tag.policy_evaluation.update";
    pub const REPOSITORY_TAGS_ADDED: &str = "user.repository.tags.added";
    pub const REPOSITORY_LIST_TAGS_FAILED: &str = "system.repository.list_tags_fail";
    pub const TAG_LOOKUP_FAILED: &str = "system.image_analysis.registry_lookup_failed";
    pub const WEBHOOK_TEST: &str = "user.webhook.test";

    /// Every type, for `GET /v1/event_types`.
    pub const ALL: &[&str] = &[
        ANALYSIS_COMPLETED,
        ANALYSIS_FAILED,
        TAG_UPDATED,
        VULNERABILITIES_UPDATED,
        POLICY_EVAL_UPDATED,
        REPOSITORY_TAGS_ADDED,
        REPOSITORY_LIST_TAGS_FAILED,
        TAG_LOOKUP_FAILED,
        WEBHOOK_TEST,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLevel {
    Info,
    Error,
}

impl EventLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Error => "ERROR",
        }
    }
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub account: String,
    pub event_type: String,
    pub level: EventLevel,
    pub message: String,
    pub details: Value,
    pub resource_type: String,
    pub resource_id: String,
    pub source: String,
    /// The subscription type this event feeds; it is handed to notify when the account
    /// has that subscription active on `resource_id` (or when `force_notify`).
    pub notification_type: Option<String>,
    pub force_notify: bool,
    /// The same key is recorded once per account.
    pub dedupe_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: Uuid,
    pub account: String,
    pub event_type: String,
    pub level: String,
    pub message: String,
    pub details: Value,
    pub resource_type: String,
    pub resource_id: String,
    pub source_servicename: String,
    pub source_hostid: String,
    pub notification_type: Option<String>,
    pub notify: bool,
    pub notified_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Exact type, or a pattern with `*` wildcards (`user.*`).
    pub event_type: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// `INFO` or `ERROR`.
    pub level: Option<String>,
    pub source_servicename: Option<String>,
    pub source_hostid: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub before: Option<OffsetDateTime>,
    /// 1-based.
    pub page: i64,
    pub limit: i64,
}

const EVENT_COLUMNS: &str = "id, account, event_type, level, message, details, resource_type, resource_id, \
     source_servicename, source_hostid, notification_type, notify, notified_at, created_at";

fn event(r: &Row) -> EventRecord {
    EventRecord {
        id: r.get("id"),
        account: r.get("account"),
        event_type: r.get("event_type"),
        level: r.get("level"),
        message: r.get("message"),
        details: r.get("details"),
        resource_type: r.get("resource_type"),
        resource_id: r.get("resource_id"),
        source_servicename: r.get("source_servicename"),
        source_hostid: r.get("source_hostid"),
        notification_type: r.get("notification_type"),
        notify: r.get("notify"),
        notified_at: r.get("notified_at"),
        created_at: r.get("created_at"),
    }
}

/// `*` wildcards to a LIKE pattern, escaping LIKE's own specials.
fn like_pattern(p: &str) -> String {
    let mut s = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '*' => s.push('%'),
            '%' | '_' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            c => s.push(c),
        }
    }
    s
}

fn host_id() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "customs".into())
}

/// A webhook (its secret is never part of the record).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: Uuid,
    pub account: String,
    pub url: String,
    pub notification_types: Vec<String>,
    pub payload_format: String,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
}

const WEBHOOK_COLUMNS: &str =
    "id, account, url, notification_types, payload_format, active, created_at, last_updated";

fn webhook(r: &Row) -> WebhookRecord {
    WebhookRecord {
        id: r.get("id"),
        account: r.get("account"),
        url: r.get("url"),
        notification_types: r.get("notification_types"),
        payload_format: r.get("payload_format"),
        active: r.get("active"),
        created_at: r.get("created_at"),
        last_updated: r.get("last_updated"),
    }
}

fn webhook_context(account: &str, id: Uuid) -> Vec<u8> {
    [b"webhook\0".as_slice(), account.as_bytes(), b"\0", id.as_bytes()].concat()
}

/// Where one target's delivery of one event stands.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub event_id: Uuid,
    pub target: String,
    pub status: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<OffsetDateTime>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered { status: Option<i32> },
    /// Try again later.
    Retry { status: Option<i32>, error: String },
    /// Given up (permanent refusal, or the retry budget is spent).
    Failed { status: Option<i32>, error: String },
}

impl Store {
    /// Records an event unless its dedupe key was recorded before for the account (then
    /// `None`). `notify` on the returned record says whether it should go to notify.
    pub async fn record_event(&self, e: &NewEvent) -> Result<Option<EventRecord>, StoreError> {
        let conn = self.conn().await?;
        let wanted = match &e.notification_type {
            Some(kind) if !e.force_notify => conn
                .query_opt(
                    "SELECT 1 FROM subscriptions WHERE account = $1 AND subscription_key = $2
                       AND subscription_type = $3 AND active",
                    &[&e.account, &e.resource_id, kind],
                )
                .await?
                .is_some(),
            Some(_) => true,
            None => false,
        };
        let row = conn
            .query_opt(
                &format!(
                    "INSERT INTO events (id, account, event_type, level, message, details, resource_type, resource_id,
                         source_servicename, source_hostid, notification_type, notify, dedupe_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT (account, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
                     RETURNING {EVENT_COLUMNS}"
                ),
                &[
                    &Uuid::new_v4(),
                    &e.account,
                    &e.event_type,
                    &e.level.as_str(),
                    &e.message,
                    &e.details,
                    &e.resource_type,
                    &e.resource_id,
                    &e.source,
                    &host_id(),
                    &e.notification_type,
                    &wanted,
                    &e.dedupe_key,
                ],
            )
            .await?;
        Ok(row.as_ref().map(event))
    }

    /// Events after `analysis` finished for `image_id` (call with the id `complete_analysis`
    /// returned, or the failed record's): one `user.image.analysis.completed` or
    /// `.failed` per tag. Returns the ids of the events to hand to notify.
    pub async fn record_analysis_outcome(
        &self,
        account: &str,
        image_id: Uuid,
    ) -> Result<Vec<Uuid>, StoreError> {
        let Some(img) = self.image(account, image_id).await? else {
            return Ok(Vec::new());
        };
        let digest = img.image_digest.clone();
        let mut resources: Vec<String> = img
            .tags
            .iter()
            .map(|t| format!("{}/{}:{}", t.registry, t.repo, t.tag))
            .collect();
        if resources.is_empty() {
            resources.push(img.source_ref.clone());
        }
        let mut out = Vec::new();
        for fulltag in resources {
            let e = match img.analysis_status {
                AnalysisStatus::Analyzed => {
                    let stamp = img.analyzed_at.map_or(0, OffsetDateTime::unix_timestamp);
                    let eval = |status: &str| {
                        json!({ "imageDigest": digest, "analysis_status": status, "annotations": img.annotations })
                    };
                    NewEvent {
                        account: account.to_owned(),
                        event_type: event_type::ANALYSIS_COMPLETED.into(),
                        level: EventLevel::Info,
                        message: "Image analysis completed".into(),
                        details: json!({
                            "last_eval": eval("analyzing"),
                            "curr_eval": eval("analyzed"),
                            "subscription_type": "analysis_update",
                            "annotations": img.annotations,
                        }),
                        resource_type: "image_tag".into(),
                        resource_id: fulltag.clone(),
                        source: "analyzer".into(),
                        notification_type: Some("analysis_update".into()),
                        force_notify: false,
                        dedupe_key: Some(format!(
                            "analysis.completed {fulltag} {} {stamp}",
                            digest.as_deref().unwrap_or_default()
                        )),
                    }
                }
                AnalysisStatus::AnalysisFailed => NewEvent {
                    account: account.to_owned(),
                    event_type: event_type::ANALYSIS_FAILED.into(),
                    level: EventLevel::Error,
                    message: "Image analysis failed".into(),
                    details: json!({ "error": img.analysis_error, "imageDigest": digest }),
                    resource_type: "image_tag".into(),
                    resource_id: fulltag.clone(),
                    source: "analyzer".into(),
                    notification_type: None,
                    force_notify: false,
                    dedupe_key: Some(format!(
                        "analysis.failed {fulltag} {} {}",
                        img.id, img.record_version
                    )),
                },
                _ => continue,
            };
            if let Some(rec) = self.record_event(&e).await?
                && rec.notify {
                    out.push(rec.id);
                }
        }
        Ok(out)
    }

    pub async fn event(&self, account: &str, id: Uuid) -> Result<Option<EventRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE account = $1 AND id = $2"),
                &[&account, &id],
            )
            .await?;
        Ok(row.as_ref().map(event))
    }

    /// One page of an account's events, newest first, and whether another page follows.
    pub async fn events(
        &self,
        account: &str,
        f: &EventFilter,
    ) -> Result<(Vec<EventRecord>, bool), StoreError> {
        let limit = f.limit.clamp(1, 1000);
        let offset = (f.page.max(1) - 1) * limit;
        let pattern = f.event_type.as_deref().map(like_pattern);
        let rows = self
            .conn()
            .await?
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE account = $1
                       AND ($2::text IS NULL OR event_type LIKE $2)
                       AND ($3::text IS NULL OR resource_type = $3)
                       AND ($4::text IS NULL OR resource_id = $4)
                       AND ($5::text IS NULL OR level = upper($5))
                       AND ($6::text IS NULL OR source_servicename = $6)
                       AND ($7::text IS NULL OR source_hostid = $7)
                       AND ($8::timestamptz IS NULL OR created_at >= $8)
                       AND ($9::timestamptz IS NULL OR created_at < $9)
                     ORDER BY created_at DESC, id LIMIT $10 OFFSET $11"
                ),
                &[
                    &account,
                    &pattern,
                    &f.resource_type,
                    &f.resource_id,
                    &f.level,
                    &f.source_servicename,
                    &f.source_hostid,
                    &f.since,
                    &f.before,
                    &(limit + 1),
                    &offset,
                ],
            )
            .await?;
        let mut out: Vec<EventRecord> = rows.iter().map(event).collect();
        let more = out.len() as i64 > limit;
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((out, more))
    }

    pub async fn delete_event(&self, account: &str, id: Uuid) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .await?
            .execute("DELETE FROM events WHERE account = $1 AND id = $2", &[&account, &id])
            .await?;
        Ok(n > 0)
    }

    /// Deletes the account's events in a window (and of a level); returns their ids.
    pub async fn delete_events(
        &self,
        account: &str,
        since: Option<OffsetDateTime>,
        before: Option<OffsetDateTime>,
        level: Option<&str>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "DELETE FROM events WHERE account = $1
                   AND ($2::timestamptz IS NULL OR created_at >= $2)
                   AND ($3::timestamptz IS NULL OR created_at < $3)
                   AND ($4::text IS NULL OR level = upper($4))
                 RETURNING id",
                &[&account, &since, &before, &level],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Events that should have gone to notify but were not picked up within `grace_secs`
    /// (the sender crashed between recording and queueing): the outbox to sweep.
    pub async fn unnotified_events(
        &self,
        grace_secs: i64,
        limit: i64,
    ) -> Result<Vec<(String, Uuid)>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT account, id FROM events WHERE notify AND notified_at IS NULL
                   AND created_at < now() - make_interval(secs => $1::double precision)
                 ORDER BY created_at LIMIT $2",
                &[&(grace_secs as f64), &limit],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Marks an event as taken up by notify (its deliveries track the rest).
    pub async fn mark_event_notified(&self, account: &str, id: Uuid) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute(
                "UPDATE events SET notified_at = COALESCE(notified_at, now()) WHERE account = $1 AND id = $2",
                &[&account, &id],
            )
            .await?;
        Ok(())
    }

    /// Creates a webhook with its secret sealed.
    pub async fn add_webhook(
        &self,
        secrets: &SecretBox,
        account: &str,
        url: &str,
        notification_types: &[String],
        payload_format: &str,
        secret: &str,
    ) -> Result<WebhookRecord, StoreError> {
        let id = Uuid::new_v4();
        let sealed = secrets.seal(secret.as_bytes(), &webhook_context(account, id));
        let row = self
            .conn()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO webhooks (id, account, url, notification_types, payload_format, secret_sealed, key_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {WEBHOOK_COLUMNS}"
                ),
                &[&id, &account, &url, &notification_types, &payload_format, &sealed, &secrets.key_id()],
            )
            .await?;
        Ok(webhook(&row))
    }

    /// Changes a webhook; a `None` leaves the field as it is.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_webhook(
        &self,
        secrets: &SecretBox,
        account: &str,
        id: Uuid,
        url: Option<&str>,
        notification_types: Option<&[String]>,
        payload_format: Option<&str>,
        active: Option<bool>,
        secret: Option<&str>,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let sealed = secret.map(|s| secrets.seal(s.as_bytes(), &webhook_context(account, id)));
        let types = notification_types.map(<[String]>::to_vec);
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!(
                    "UPDATE webhooks SET url = COALESCE($3, url), notification_types = COALESCE($4, notification_types),
                         payload_format = COALESCE($5, payload_format), active = COALESCE($6, active),
                         secret_sealed = COALESCE($7, secret_sealed),
                         key_id = CASE WHEN $7::bytea IS NULL THEN key_id ELSE $8 END, last_updated = now()
                     WHERE account = $1 AND id = $2 RETURNING {WEBHOOK_COLUMNS}"
                ),
                &[&account, &id, &url, &types, &payload_format, &active, &sealed, &secrets.key_id()],
            )
            .await?;
        Ok(row.as_ref().map(webhook))
    }

    pub async fn webhooks(&self, account: &str) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account = $1 ORDER BY created_at, id"),
                &[&account],
            )
            .await?;
        Ok(rows.iter().map(webhook).collect())
    }

    pub async fn webhook(&self, account: &str, id: Uuid) -> Result<Option<WebhookRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account = $1 AND id = $2"),
                &[&account, &id],
            )
            .await?;
        Ok(row.as_ref().map(webhook))
    }

    pub async fn delete_webhook(&self, account: &str, id: Uuid) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .await?
            .execute("DELETE FROM webhooks WHERE account = $1 AND id = $2", &[&account, &id])
            .await?;
        Ok(n > 0)
    }

    /// The active webhooks of an account that take `notification_type`, with their
    /// secrets opened.
    pub async fn webhooks_for(
        &self,
        secrets: &SecretBox,
        account: &str,
        notification_type: &str,
    ) -> Result<Vec<(WebhookRecord, String)>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS}, secret_sealed, key_id FROM webhooks
                     WHERE account = $1 AND active AND (notification_types = '{{}}' OR $2 = ANY(notification_types))
                     ORDER BY created_at, id"
                ),
                &[&account, &notification_type],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let w = webhook(r);
            let sealed: Vec<u8> = r.get("secret_sealed");
            let key_id: String = r.get("key_id");
            let plain = secrets.open(&sealed, &webhook_context(account, w.id), &key_id)?;
            let secret = String::from_utf8(plain)
                .map_err(|_| StoreError::Corrupt("webhook secret is not UTF-8".into()))?;
            out.push((w, secret));
        }
        Ok(out)
    }

    /// Takes a lease on delivering `event_id` to `target` for `lease_secs`. Returns the
    /// attempt number this is, or `None` when it is delivered, given up, or leased by
    /// another worker (duplicate messages then change nothing).
    pub async fn claim_delivery(
        &self,
        event_id: Uuid,
        target: &str,
        lease_secs: i64,
    ) -> Result<Option<i32>, StoreError> {
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO deliveries (event_id, target) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&event_id, &target],
        )
        .await?;
        let row = conn
            .query_opt(
                "UPDATE deliveries SET attempts = attempts + 1,
                     leased_until = now() + make_interval(secs => $3::double precision), updated_at = now()
                 WHERE event_id = $1 AND target = $2 AND status = 'pending'
                   AND (leased_until IS NULL OR leased_until < now())
                 RETURNING attempts",
                &[&event_id, &target, &(lease_secs as f64)],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Records how an attempt ended and releases the lease.
    pub async fn finish_delivery(
        &self,
        event_id: Uuid,
        target: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<(), StoreError> {
        let (status, code, error) = match outcome {
            DeliveryOutcome::Delivered { status } => ("delivered", *status, None),
            DeliveryOutcome::Retry { status, error } => ("pending", *status, Some(error.as_str())),
            DeliveryOutcome::Failed { status, error } => ("failed", *status, Some(error.as_str())),
        };
        self.conn()
            .await?
            .execute(
                "UPDATE deliveries SET status = $3, last_status = $4, last_error = $5, leased_until = NULL,
                     delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END, updated_at = now()
                 WHERE event_id = $1 AND target = $2",
                &[&event_id, &target, &status, &code, &error],
            )
            .await?;
        Ok(())
    }

    pub async fn deliveries(&self, event_id: Uuid) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT event_id, target, status, attempts, last_status, last_error, delivered_at
                 FROM deliveries WHERE event_id = $1 ORDER BY target",
                &[&event_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeliveryRecord {
                event_id: r.get(0),
                target: r.get(1),
                status: r.get(2),
                attempts: r.get(3),
                last_status: r.get(4),
                last_error: r.get(5),
                delivered_at: r.get(6),
            })
            .collect())
    }
}

impl FromStr for EventLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "INFO" => Ok(Self::Info),
            "ERROR" => Ok(Self::Error),
            other => Err(format!("level {other:?} is not info or error")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_become_like_patterns_and_like_specials_are_literal() {
        assert_eq!(like_pattern("user.*"), "user.%");
        assert_eq!(like_pattern("a_b%c"), "a\\_b\\%c");
    }
}
