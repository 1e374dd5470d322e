#![doc = include_str!("../README.md")]

mod payload;
mod webhook;

use std::time::Duration;

use customs_contracts::Notify;
use customs_image::NetworkPolicy;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_runtime::{Queues, RuntimeError, Topic, config};
use customs_store::{DeliveryOutcome, EventRecord, SecretBox, Store};
use tracing::{info, instrument, warn};

pub use payload::{CUSTOMS_SCHEMA, anchore as anchore_payload, customs as customs_payload};
pub use webhook::{header, signature};

/// Delivery settings, read once from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Whether webhooks on loopback/private networks may be called
    /// (`CUSTOMS_ALLOW_PRIVATE_WEBHOOKS`, default false). Link-local and metadata
    /// addresses are refused regardless.
    pub allow_private_webhooks: bool,
    /// Attempts per target before giving up into the DLQ (`CUSTOMS_WEBHOOK_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter, up to SQS's 900 s
    /// (`CUSTOMS_WEBHOOK_BACKOFF_SECS`).
    pub backoff_base_secs: u32,
    /// Per-request timeout (`CUSTOMS_WEBHOOK_TIMEOUT_SECS`).
    pub timeout: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, RuntimeError> {
        Ok(Self {
            allow_private_webhooks: config::parsed("CUSTOMS_ALLOW_PRIVATE_WEBHOOKS", false)?,
            max_attempts: config::parsed("CUSTOMS_WEBHOOK_MAX_ATTEMPTS", 8)?,
            backoff_base_secs: config::parsed("CUSTOMS_WEBHOOK_BACKOFF_SECS", 30)?,
            timeout: Duration::from_secs(config::parsed("CUSTOMS_WEBHOOK_TIMEOUT_SECS", 10)?),
        })
    }

    pub fn policy(&self) -> NetworkPolicy {
        NetworkPolicy { allow_private: self.allow_private_webhooks }
    }
}

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    /// Retries go back on the notify queue with a delay; give-ups into its DLQ.
    pub queues: Queues,
    /// Opens webhook secrets.
    pub secrets: SecretBox,
    /// The events topic (`CUSTOMS_EVENTS_TOPIC_ARN` in AWS, `<prefix>events` locally).
    pub topic: Topic,
    pub settings: Settings,
}

/// The delivery target name of the SNS topic.
const SNS: &str = "sns";

/// The Lambda handler: one SQS batch of `Notify` messages.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    sqs::for_each(event, |msg: Notify, d| process(msg, d, deps)).await
}

/// Delay before attempt `attempt + 1`: exponential from the base, plus up to one base of
/// jitter, capped at SQS's largest delay.
fn backoff_secs(base: u32, attempt: i32) -> u32 {
    let exp = base.max(1).saturating_mul(1_u32 << attempt.clamp(1, 16).saturating_sub(1));
    let jitter = u32::from(uuid::Uuid::new_v4().as_bytes()[0]) * base.max(1) / 256;
    exp.saturating_add(jitter).min(900)
}

enum Result1 {
    Done,
    Again(i32),
    GaveUp,
}

#[instrument(skip_all, fields(account = %msg.account, event_id = %msg.event_id))]
async fn process(msg: Notify, _d: Delivery, deps: &Deps) -> Result<(), Retry> {
    let Some(event) = deps.store.event(&msg.account, msg.event_id).await.map_err(Retry::new)? else {
        info!("Event is gone; nothing to deliver");
        return Ok(());
    };
    deps.store.mark_event_notified(&event.account, event.id).await.map_err(Retry::new)?;
    let kind = payload::notification_type(&event).to_owned();
    let hooks = deps
        .store
        .webhooks_for(&deps.secrets, &event.account, &kind)
        .await
        .map_err(Retry::new)?;
    let mut retry_after: Option<i32> = None;
    let mut gave_up = false;
    let mut targets: Vec<(String, Option<(customs_store::WebhookRecord, String)>)> =
        hooks.into_iter().map(|(w, s)| (format!("webhook:{}", w.id), Some((w, s)))).collect();
    targets.push((SNS.to_owned(), None));
    for (target, hook) in targets {
        let lease = i64::try_from(deps.settings.timeout.as_secs()).unwrap_or(30) + 30;
        let Some(attempt) = deps.store.claim_delivery(event.id, &target, lease).await.map_err(Retry::new)? else {
            continue;
        };
        let outcome = match &hook {
            Some((w, secret)) => deliver_webhook(&event, &kind, w, secret, attempt, deps).await,
            None => publish(&event, &kind, deps).await,
        };
        let outcome = match outcome {
            DeliveryOutcome::Retry { status, error } if attempt >= i32::try_from(deps.settings.max_attempts).unwrap_or(8) => {
                DeliveryOutcome::Failed { status, error: format!("gave up after {attempt} attempts: {error}") }
            }
            o => o,
        };
        let r = match &outcome {
            DeliveryOutcome::Delivered { status } => {
                info!(target = %target, attempt, status = ?status, "Delivered");
                Result1::Done
            }
            DeliveryOutcome::Retry { status, error } => {
                warn!(target = %target, attempt, status = ?status, error = %error, "Delivery failed; will retry");
                Result1::Again(attempt)
            }
            DeliveryOutcome::Failed { status, error } => {
                warn!(target = %target, attempt, status = ?status, error = %error, "Delivery given up");
                if error.starts_with("gave up") { Result1::GaveUp } else { Result1::Done }
            }
        };
        deps.store.finish_delivery(event.id, &target, &outcome).await.map_err(Retry::new)?;
        match r {
            Result1::Again(a) => retry_after = Some(retry_after.map_or(a, |b| b.min(a))),
            Result1::GaveUp => gave_up = true,
            Result1::Done => {}
        }
    }
    if let Some(attempt) = retry_after {
        let delay = backoff_secs(deps.settings.backoff_base_secs, attempt);
        deps.queues.send_delayed(&msg, delay).await.map_err(Retry::new)?;
        info!(delay_secs = delay, "Retry queued");
    }
    if gave_up {
        deps.queues.send_dead_letter(&msg).await.map_err(Retry::new)?;
    }
    Ok(())
}

async fn deliver_webhook(
    event: &EventRecord,
    kind: &str,
    w: &customs_store::WebhookRecord,
    secret: &str,
    attempt: i32,
    deps: &Deps,
) -> DeliveryOutcome {
    let body = if w.payload_format == "customs" {
        payload::customs(event)
    } else {
        payload::anchore(event, attempt - 1)
    };
    let body = body.to_string().into_bytes();
    let sent = webhook::post(
        &w.url,
        secret,
        &body,
        &event.id.to_string(),
        kind,
        deps.settings.policy(),
        deps.settings.timeout,
    )
    .await;
    match sent {
        webhook::Sent::Accepted(s) => DeliveryOutcome::Delivered { status: Some(i32::from(s)) },
        webhook::Sent::Retryable { status, reason } => DeliveryOutcome::Retry { status: status.map(i32::from), error: reason },
        webhook::Sent::Refused { status, reason } => DeliveryOutcome::Failed { status: status.map(i32::from), error: reason },
    }
}

async fn publish(event: &EventRecord, kind: &str, deps: &Deps) -> DeliveryOutcome {
    let body = payload::customs(event).to_string();
    let severity = payload::severity(event);
    let attrs = [
        ("event_type", event.event_type.as_str()),
        ("notification_type", kind),
        ("account", event.account.as_str()),
        ("severity", severity.as_str()),
        ("schema", CUSTOMS_SCHEMA),
    ];
    match deps.topic.publish(&body, &attrs).await {
        Ok(_) => DeliveryOutcome::Delivered { status: None },
        Err(e) => DeliveryOutcome::Retry { status: None, error: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_within_sqs_limits() {
        assert!((1..=2).contains(&backoff_secs(1, 1)));
        assert!((4..=5).contains(&backoff_secs(1, 3)));
        assert!((240..=270).contains(&backoff_secs(30, 4)));
        assert_eq!(backoff_secs(30, 12), 900);
    }
}
