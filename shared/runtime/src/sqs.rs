//! The one SQS batch driver every consumer uses.

use std::future::Future;

pub use aws_lambda_events::event::sqs::BatchItemFailure;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use customs_contracts::{Message, decode};
use futures::future::join_all;
use tracing::{Instrument, error, info_span, warn};

pub use aws_lambda_events::event::sqs::{SqsBatchResponse as BatchResponse, SqsEvent as Event};

/// Facts about one delivery of a message.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    /// SQS `ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: u32,
    /// The receipt handle of this delivery, to change its visibility (`Queues::redeliver_after`).
    pub receipt_handle: Option<String>,
}

/// A handler's verdict on a message it could not finish. Permanent problems (a bad
/// image, a hostile layer) are not errors here: the handler records them where the user
/// sees them and returns `Ok`. `Retry` asks SQS to deliver the message again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Retry(pub String);

impl Retry {
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

fn receive_count(m: &SqsMessage) -> u32 {
    m.attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Runs `handle` on every record of `event` concurrently and reports the failures.
/// A record that is not a valid `M` envelope is reported failed (it will reach the DLQ
/// after the queue's maximum receives, where it can be inspected).
pub async fn for_each<M, F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    M: Message,
    F: Fn(M, Delivery) -> Fut,
    Fut: Future<Output = Result<(), Retry>>,
{
    let runs = event.records.into_iter().map(|record| {
        let id = record.message_id.clone().unwrap_or_default();
        let delivery = Delivery {
            message_id: id.clone(),
            receive_count: receive_count(&record),
            receipt_handle: record.receipt_handle.clone(),
        };
        let span = info_span!("message", queue = M::QUEUE, message_id = %id, receive = delivery.receive_count);
        let handle = &handle;
        async move {
            let body = record.body.as_deref().unwrap_or_default();
            let msg = match decode::<M>(body) {
                Ok(m) => m,
                Err(e) => {
                    error!(error = %e, "Undecodable message");
                    return Some(id);
                }
            };
            match handle(msg, delivery).await {
                Ok(()) => None,
                Err(e) => {
                    warn!(error = %e, "Message failed; SQS will redeliver it");
                    Some(id)
                }
            }
        }
        .instrument(span)
    });
    let failed = join_all(runs).await;
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failed
        .into_iter()
        .flatten()
        .map(|item_identifier| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = item_identifier;
            f
        })
        .collect();
    resp
}

/// Serves an SQS consumer under `lambda_runtime` (the body of a function's `main`).
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    lambda_runtime::run(lambda_runtime::service_fn(
        |ev: lambda_runtime::LambdaEvent<SqsEvent>| {
            let fut = handler(ev.payload);
            async move { Ok::<_, lambda_runtime::Error>(fut.await) }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use customs_contracts::{WatchTick, encode};

    fn record(id: &str, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m
    }

    #[tokio::test]
    async fn only_failed_and_undecodable_records_are_reported() {
        let mut ev = SqsEvent::default();
        ev.records = vec![
            record("ok", &encode(&WatchTick {})),
            record("garbage", "{"),
            record("fails", &encode(&WatchTick {})),
        ];
        let resp = for_each(ev, |_m: WatchTick, d| async move {
            if d.message_id == "fails" {
                Err(Retry("boom".into()))
            } else {
                Ok(())
            }
        })
        .await;
        let mut ids: Vec<_> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        ids.sort();
        assert_eq!(ids, ["fails", "garbage"]);
    }
}
