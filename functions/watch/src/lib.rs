#![doc = include_str!("../README.md")]

use aws_lambda_events::event::sqs::SqsEvent;
use customs_contracts::{AnalyzeImage, Message, Notify, WatchSubscription, WatchTick};
use customs_image::{Credentials, Registry, RegistryError};
use customs_model::ImageRef;
use customs_runtime::Queues;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::{EventLevel, NewEvent, SecretBox, Store, StoreError, SubscriptionRecord, event_type};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::{info, instrument, warn};

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    pub queues: Queues,
    pub registry: Registry,
    /// Opens the registry credentials stored by `POST /v1/registries`.
    pub secrets: SecretBox,
}

/// Subscriptions read per database page when fanning out a tick.
const PAGE: i64 = 500;
/// Events recorded for notify but not queued within this many seconds are queued again.
const OUTBOX_GRACE_SECS: i64 = 60;
/// Longest a failing subscription waits before its next check.
const MAX_BACKOFF_SECS: i64 = 6 * 3600;

/// The Lambda handler: a batch of `WatchTick` (schedule) and `WatchSubscription`
/// (fan-out) messages, which share the `watch` queue.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    let (mut ticks, mut checks) = (SqsEvent::default(), SqsEvent::default());
    for r in event.records {
        let is_tick = r
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .is_some_and(|v| v["kind"] == WatchTick::KIND);
        if is_tick { ticks.records.push(r) } else { checks.records.push(r) }
    }
    let (a, b) = tokio::join!(
        sqs::for_each(ticks, |msg: WatchTick, d| tick(msg, d, deps)),
        sqs::for_each(checks, |msg: WatchSubscription, d| check(msg, d, deps)),
    );
    let mut resp = a;
    resp.batch_item_failures.extend(b.batch_item_failures);
    resp
}

/// One pass: queue a check per due subscription, and re-queue stranded notifications.
#[instrument(skip_all, fields(message_id = %d.message_id))]
async fn tick(_msg: WatchTick, d: Delivery, deps: &Deps) -> Result<(), Retry> {
    let started = std::time::Instant::now();
    let mut queued = 0;
    for kind in ["tag_update", "repo_update"] {
        let mut after: Option<String> = None;
        loop {
            let page = deps
                .store
                .due_subscriptions(kind, after.as_deref(), PAGE)
                .await
                .map_err(Retry::new)?;
            let Some(last) = page.last() else { break };
            after = Some(last.subscription_id.clone());
            let msgs: Vec<WatchSubscription> = page
                .iter()
                .map(|s| WatchSubscription {
                    account: s.account.clone(),
                    subscription_id: s.subscription_id.clone(),
                })
                .collect();
            queued += deps.queues.send_all(&msgs).await.map_err(Retry::new)?;
            if page.len() < usize::try_from(PAGE).unwrap_or(usize::MAX) {
                break;
            }
        }
    }
    let stranded = deps
        .store
        .unnotified_events(OUTBOX_GRACE_SECS, 1000)
        .await
        .map_err(Retry::new)?;
    for (account, event_id) in &stranded {
        deps.queues
            .send(&Notify { account: account.clone(), event_id: *event_id })
            .await
            .map_err(Retry::new)?;
    }
    info!(queued, stranded = stranded.len(), elapsed_ms = started.elapsed().as_millis() as u64, "Watch tick fanned out");
    Ok(())
}

#[instrument(skip_all, fields(account = %msg.account, subscription = %msg.subscription_id))]
async fn check(msg: WatchSubscription, _d: Delivery, deps: &Deps) -> Result<(), Retry> {
    let Some(sub) = deps
        .store
        .subscription(&msg.account, &msg.subscription_id)
        .await
        .map_err(Retry::new)?
    else {
        return Ok(());
    };
    if !sub.active {
        return Ok(());
    }
    // A registry that asked to be left alone: put the check off, don't count a failure.
    let registry = ImageRef::parse(&sub.subscription_key).map(|r| r.registry).ok();
    if let Some(registry) = &registry
        && let Some(until) = deps.store.registry_hold(registry).await.map_err(Retry::new)? {
            let jitter = time::Duration::seconds(i64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 30);
            info!(registry = %registry, until = %until, "Registry on hold; check deferred");
            deps.store.defer_check(&sub.account, &sub.subscription_id, until + jitter).await.map_err(Retry::new)?;
            return Ok(());
        }
    let outcome = match sub.subscription_type.as_str() {
        "tag_update" => check_tag(&sub, deps).await,
        "repo_update" => check_repo(&sub, deps).await,
        _ => return Ok(()),
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(Failure::Store(e)) => Err(Retry::new(e)),
        Err(Failure::Queue(e)) => Err(Retry(e)),
        Err(Failure::Registry(e)) => {
            let failures = sub.failures.max(0) + 1;
            // The registry's own Retry-After wins over our backoff, and holds every check
            // of that registry (any account) until then.
            let delay = match e.retry_after() {
                Some(after) => i64::try_from(after.as_secs()).unwrap_or(MAX_BACKOFF_SECS).clamp(1, MAX_BACKOFF_SECS),
                None => backoff_secs(failures, e.is_retryable()),
            };
            let next = OffsetDateTime::now_utc() + time::Duration::seconds(delay);
            warn!(error = %e, failures, retry_in_secs = delay, "Watch check failed; backing off");
            if let (Some(_), Some(registry)) = (e.retry_after(), &registry) {
                deps.store.hold_registry(registry, next, &e.to_string()).await.map_err(Retry::new)?;
            }
            deps.store
                .record_check_failure(&sub.account, &sub.subscription_id, &e.to_string(), next)
                .await
                .map_err(Retry::new)?;
            if !e.is_retryable() {
                let (kind, rtype) = if sub.subscription_type == "repo_update" {
                    (event_type::REPOSITORY_LIST_TAGS_FAILED, "repository")
                } else {
                    (event_type::TAG_LOOKUP_FAILED, "image_tag")
                };
                let event = NewEvent {
                    account: sub.account.clone(),
                    event_type: kind.into(),
                    level: EventLevel::Error,
                    message: "Watched reference could not be checked".into(),
                    details: json!({ "error": e.to_string(), "subscription_type": sub.subscription_type }),
                    resource_type: rtype.into(),
                    resource_id: sub.subscription_key.clone(),
                    source: "watch".into(),
                    notification_type: None,
                    force_notify: false,
                    dedupe_key: Some(format!("{kind} {} {e}", sub.subscription_key)),
                };
                deps.store.record_event(&event).await.map_err(Retry::new)?;
            }
            Ok(())
        }
    }
}

/// Seconds until the next check after `failures` failures in a row: exponential from a
/// minute (rate limits and outages), from ten minutes for refusals, with jitter.
fn backoff_secs(failures: i32, retryable: bool) -> i64 {
    let base: i64 = if retryable { 60 } else { 600 };
    let exp = base.saturating_mul(1_i64 << failures.clamp(1, 12).saturating_sub(1));
    let capped = exp.min(MAX_BACKOFF_SECS);
    let jitter = i64::from(uuid::Uuid::new_v4().as_bytes()[0]) * capped / 1024;
    capped + jitter
}

enum Failure {
    Registry(RegistryError),
    Store(StoreError),
    Queue(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Self::Registry(e)
    }
}

async fn credentials(deps: &Deps, account: &str, registry: &str) -> Result<(Option<Credentials>, bool), Failure> {
    match deps.store.registry_credential(&deps.secrets, account, registry).await {
        Ok(Some(c)) => Ok((
            Some(Credentials { username: c.record.registry_user.clone(), password: c.password.clone() }),
            !c.record.registry_verify,
        )),
        Ok(None) => Ok((None, false)),
        Err(StoreError::Secret(e)) => Err(Failure::Registry(RegistryError::Unauthorized {
            registry: registry.to_owned(),
            anonymous: false,
            reason: format!("stored credentials cannot be used: {e}"),
        })),
        Err(e) => Err(e.into()),
    }
}

fn parse(key: &str) -> Result<ImageRef, Failure> {
    ImageRef::parse(key).map_err(|e| {
        Failure::Registry(RegistryError::Malformed {
            reference: key.to_owned(),
            what: "subscription key",
            reason: e.to_string(),
        })
    })
}

/// Adds `r` and queues its analysis when the catalog needs one.
async fn add_and_queue(deps: &Deps, account: &str, r: &ImageRef, platform: &str) -> Result<(), Failure> {
    let outcome = deps.store.add_image(account, r, platform, &json!({}), false, None).await?;
    if outcome.needs_analysis {
        let msg = AnalyzeImage { account: account.to_owned(), image_id: outcome.image.id };
        if let Err(e) = deps.queues.send(&msg).await {
            let reason = format!("could not queue the analysis: {e}");
            deps.store.fail_analysis(account, outcome.image.id, &reason).await?;
            return Err(Failure::Queue(reason));
        }
        info!(image_id = %outcome.image.id, reference = %r, "Queued analysis");
    }
    Ok(())
}

async fn announce(deps: &Deps, e: &NewEvent) -> Result<(), Failure> {
    if let Some(rec) = deps.store.record_event(e).await?
        && rec.notify {
            deps.queues
                .send(&Notify { account: rec.account.clone(), event_id: rec.id })
                .await
                .map_err(|e| Failure::Queue(e.to_string()))?;
        }
    Ok(())
}

/// `tag_update`: HEAD the tag; a digest other than the one last seen adds the image,
/// queues its analysis and raises the event.
async fn check_tag(sub: &SubscriptionRecord, deps: &Deps) -> Result<(), Failure> {
    let r = parse(&sub.subscription_key)?;
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    let (creds, insecure) = credentials(deps, &sub.account, &r.registry).await?;
    let digest = deps.registry.head_digest(&r, creds.as_ref(), insecure).await?;
    let baseline = deps.store.tag_baseline(&sub.account, &r.registry, &r.repo, &tag).await?;
    let Some(previous) = deps.store.record_tag_check(&sub.account, &sub.subscription_id, &digest).await? else {
        return Ok(());
    };
    let Some(old) = previous.or_else(|| baseline.as_ref().map(|(d, _)| d.clone())) else {
        // First sight of a tag the catalog has not resolved yet: nothing moved.
        return Ok(());
    };
    if old == digest {
        return Ok(());
    }
    info!(old = %old, new = %digest, "Tag moved");
    let platform = baseline.map_or_else(|| "linux/amd64".to_owned(), |(_, p)| p);
    let pinned = ImageRef { digest: Some(digest.clone()), tag: Some(tag), ..r.clone() };
    add_and_queue(deps, &sub.account, &pinned, &platform).await?;
    let fulltag = sub.subscription_key.clone();
    announce(
        deps,
        &NewEvent {
            account: sub.account.clone(),
            event_type: event_type::TAG_UPDATED.into(),
            level: EventLevel::Info,
            message: "Tag now points to a new image digest".into(),
            details: json!({
                "last_eval": [old],
                "curr_eval": [digest],
                "subscription_type": "tag_update",
                "annotations": {},
            }),
            resource_type: "image_tag".into(),
            resource_id: fulltag.clone(),
            source: "watch".into(),
            notification_type: Some("tag_update".into()),
            force_notify: false,
            dedupe_key: Some(format!("tag_update {fulltag} {old} {digest}")),
        },
    )
    .await
}

/// `repo_update`: list the repository's tags; each new one is added (with its tag
/// subscriptions, `tag_update` active when the repository was added with autosubscribe).
async fn check_repo(sub: &SubscriptionRecord, deps: &Deps) -> Result<(), Failure> {
    let r = parse(&sub.subscription_key)?;
    let value: Value = sub
        .subscription_value
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_else(|| json!({}));
    let autosubscribe = value["autosubscribe"].as_bool().unwrap_or(false);
    let (creds, insecure) = credentials(deps, &sub.account, &r.registry).await?;
    let mut tags = deps.registry.list_tags(&r, creds.as_ref(), insecure).await?;
    let listed = tags.len();
    // A registry's list is not trusted to hold only tags a reference can name.
    tags.retain(|t| customs_model::valid_tag(t));
    if tags.len() < listed {
        warn!(skipped = listed - tags.len(), "Registry listed tags that are not valid tag names; skipped");
    }
    let new = deps.store.record_repo_check(&sub.account, &sub.subscription_id, &tags).await?;
    if new.is_empty() {
        return Ok(());
    }
    for t in &new {
        let tr = ImageRef { tag: Some(t.clone()), digest: None, ..r.clone() };
        add_and_queue(deps, &sub.account, &tr, "linux/amd64").await?;
        if let Some(fulltag) = tr.full_tag() {
            deps.store.ensure_tag_subscriptions(&sub.account, &fulltag, autosubscribe).await?;
        }
    }
    let mut value = value;
    value["tagcount"] = json!(tags.len());
    let value = value.to_string();
    deps.store
        .update_subscription(&sub.account, &sub.subscription_id, None, Some(Some(value.as_str())))
        .await?;
    info!(new = new.len(), total = tags.len(), "Repository has new tags");
    let mut sorted = new.clone();
    sorted.sort();
    announce(
        deps,
        &NewEvent {
            account: sub.account.clone(),
            event_type: event_type::REPOSITORY_TAGS_ADDED.into(),
            level: EventLevel::Info,
            message: "New tags found in a watched repository".into(),
            details: json!({ "added_tags": sorted, "subscription_type": "repo_update" }),
            resource_type: "repository".into(),
            resource_id: sub.subscription_key.clone(),
            source: "watch".into(),
            notification_type: None,
            force_notify: false,
            dedupe_key: Some(format!("repo_update {} {}", sub.subscription_key, sorted.join(","))),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_is_capped() {
        let first = backoff_secs(1, true);
        assert!((60..=120).contains(&first), "{first}");
        let third = backoff_secs(3, true);
        assert!((240..=480).contains(&third), "{third}");
        let many = backoff_secs(40, true);
        assert!((MAX_BACKOFF_SECS..=2 * MAX_BACKOFF_SECS).contains(&many), "{many}");
        assert!(backoff_secs(1, false) >= 600);
    }
}
