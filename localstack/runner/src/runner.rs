//! The event source mapping, played locally: poll, invoke, delete what succeeded.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use futures::future::BoxFuture;
use tracing::{debug, error, warn};

/// A function's SQS handler, type-erased.
pub type Consumer = Arc<dyn Fn(SqsEvent) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// Wraps an async handler as a `Consumer`.
pub fn consumer<F, Fut>(f: F) -> Consumer
where
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send + 'static,
{
    Arc::new(move |ev| Box::pin(f(ev)))
}

/// One queue bound to its consumer, as an event source mapping.
#[derive(Clone)]
pub struct Binding {
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: u32,
    /// Batches handled at once by [`Runner::run_until`] (the mapping's maximum
    /// concurrency: in AWS, that many invocations of the function run side by side).
    pub concurrency: u32,
    pub consumer: Consumer,
}

#[derive(Clone)]
pub struct Runner {
    sqs: aws_sdk_sqs::Client,
    region: String,
    bindings: Vec<Binding>,
}

impl Runner {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        region: impl Into<String>,
        bindings: Vec<Binding>,
    ) -> Self {
        Self {
            sqs,
            region: region.into(),
            bindings,
        }
    }

    /// Receives one batch from `b` (waiting up to `wait_secs`), invokes the consumer and
    /// deletes the records it did not report as failed. Returns how many were received.
    pub async fn poll_once(&self, b: &Binding, wait_secs: i32) -> Result<usize> {
        let messages = self.receive(b, wait_secs).await?;
        self.process(b, messages).await
    }

    /// Receives one batch from `b`, waiting up to `wait_secs` (empty: nothing came).
    async fn receive(&self, b: &Binding, wait_secs: i32) -> Result<Vec<aws_sdk_sqs::types::Message>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&b.queue_url)
            .max_number_of_messages(i32::try_from(b.batch_size).unwrap_or(10))
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .with_context(|| format!("ReceiveMessage {}", b.queue_url))?;
        Ok(out.messages.unwrap_or_default())
    }

    /// Invokes the consumer with a received batch and deletes the records it did not
    /// report as failed. Returns how many there were.
    async fn process(&self, b: &Binding, messages: Vec<aws_sdk_sqs::types::Message>) -> Result<usize> {
        if messages.is_empty() {
            return Ok(0);
        }
        let n = messages.len();
        let mut receipts = HashMap::new();
        let mut event = SqsEvent::default();
        for m in messages {
            let id = m.message_id.clone().unwrap_or_default();
            receipts.insert(id, m.receipt_handle.clone().unwrap_or_default());
            event.records.push(self.record(b, m));
        }
        let consumer = b.consumer.clone();
        // A panicking handler fails the whole batch: nothing is deleted, so every record
        // comes back after the visibility timeout, exactly as a crashed Lambda would.
        let failed: Vec<String> = match tokio::spawn(async move { consumer(event).await }).await {
            Ok(resp) => resp
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(e) => {
                error!(queue = %b.queue_url, error = %e, "Handler crashed; the whole batch will be redelivered");
                return Ok(n);
            }
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = receipts
            .iter()
            .filter(|(id, _)| !failed.contains(id))
            .enumerate()
            .filter_map(|(i, (_, receipt))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(receipt)
                    .build()
                    .ok()
            })
            .collect();
        if !failed.is_empty() {
            warn!(queue = %b.queue_url, failed = failed.len(), of = n, "Batch item failures; SQS will redeliver them");
        }
        if !entries.is_empty() {
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&b.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .with_context(|| format!("DeleteMessageBatch {}", b.queue_url))?;
            if !out.failed.is_empty() {
                warn!(queue = %b.queue_url, failed = out.failed.len(), "Some deletes failed; those messages will be redelivered");
            }
        }
        Ok(n)
    }

    fn record(&self, b: &Binding, m: aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut r = SqsMessage::default();
        r.message_id = m.message_id;
        r.receipt_handle = m.receipt_handle;
        r.body = m.body;
        r.md5_of_body = m.md5_of_body;
        r.md5_of_message_attributes = m.md5_of_message_attributes;
        r.attributes = m
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect();
        r.event_source = Some("aws:sqs".into());
        r.event_source_arn = Some(b.queue_arn.clone());
        r.aws_region = Some(self.region.clone());
        r
    }

    /// Polls every queue forever (one long-polling loop per binding).
    pub async fn run(&self) {
        let (_keep, stop) = tokio::sync::watch::channel(false);
        self.run_until(stop).await;
    }

    /// Polls every queue until `stop` turns true, then returns once the polls in flight
    /// have come back and their messages are handled: a receive is never abandoned, so
    /// no message is left invisible behind a dead connection. Polls wait at most 2 s.
    /// Each binding has one long-polling loop, which hands every batch to a task of its
    /// own, up to the binding's `concurrency` batches at once (as the mapping invokes
    /// that many functions side by side): an image's stage-layer messages are staged in
    /// parallel, as in AWS, rather than one after the other.
    pub async fn run_until(&self, stop: tokio::sync::watch::Receiver<bool>) {
        let loops = self.bindings.iter().map(|b| {
            let stop = stop.clone();
            let slots = Arc::new(tokio::sync::Semaphore::new(b.concurrency.max(1) as usize));
            async move {
                let mut running = tokio::task::JoinSet::new();
                while !*stop.borrow() {
                    let Ok(slot) = slots.clone().acquire_owned().await else { break };
                    while running.try_join_next().is_some() {}
                    match self.receive(b, 2).await {
                        Ok(messages) if messages.is_empty() => {}
                        Ok(messages) => {
                            let (runner, b) = (self.clone(), b.clone());
                            running.spawn(async move {
                                if let Err(e) = runner.process(&b, messages).await {
                                    error!(queue = %b.queue_url, error = format!("{e:#}"), "Handling a batch failed; SQS will redeliver it");
                                }
                                drop(slot);
                            });
                        }
                        Err(e) => {
                            error!(queue = %b.queue_url, error = format!("{e:#}"), "Polling failed; retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                // A received batch is always handled to its end (see above).
                while running.join_next().await.is_some() {}
            }
        });
        futures::future::join_all(loops).await;
    }

    async fn outstanding(&self, b: &Binding) -> Result<u64> {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&b.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .with_context(|| format!("GetQueueAttributes {}", b.queue_url))?
            .attributes
            .unwrap_or_default();
        Ok(attrs.values().filter_map(|v| v.parse::<u64>().ok()).sum())
    }

    /// Processes messages until every bound queue is empty with nothing in flight or
    /// delayed (failed messages are waited for until they come back or reach the DLQ).
    pub async fn drain_until_idle(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut received = 0;
            for b in &self.bindings {
                received += self.poll_once(b, 0).await?;
            }
            if received > 0 {
                continue;
            }
            let mut pending = 0;
            for b in &self.bindings {
                pending += self.outstanding(b).await?;
            }
            if pending == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("queues not idle after {timeout:?}: {pending} messages still pending");
            }
            debug!(pending, "Waiting for in-flight messages");
            // Long-poll the first non-empty queue briefly instead of sleeping blindly.
            for b in &self.bindings {
                if self.outstanding(b).await? > 0 {
                    self.poll_once(b, 1).await?;
                    break;
                }
            }
        }
    }
}
