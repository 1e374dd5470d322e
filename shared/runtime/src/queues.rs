use std::collections::HashMap;
use std::sync::Arc;

use customs_contracts::{Message, encode};
use tokio::sync::RwLock;

use crate::RuntimeError;

/// Sends typed messages to their queues. Cheap to clone.
#[derive(Clone)]
pub struct Queues {
    sqs: aws_sdk_sqs::Client,
    prefix: String,
    urls: Arc<RwLock<HashMap<String, String>>>,
}

impl Queues {
    pub fn new(sqs: aws_sdk_sqs::Client, prefix: impl Into<String>) -> Self {
        Self {
            sqs,
            prefix: prefix.into(),
            urls: Arc::default(),
        }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// Physical name of a logical queue.
    pub fn name(&self, queue: &str) -> String {
        format!("{}{}", self.prefix, queue)
    }

    /// URL of a logical queue, resolved once and cached.
    pub async fn url(&self, queue: &str) -> Result<String, RuntimeError> {
        if let Some(u) = self.urls.read().await.get(queue) {
            return Ok(u.clone());
        }
        let name = self.name(queue);
        let out = self
            .sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .map_err(|e| RuntimeError::Queue {
                queue: name.clone(),
                reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            })?;
        let url = out.queue_url.ok_or_else(|| RuntimeError::Queue {
            queue: name.clone(),
            reason: "GetQueueUrl returned no URL".into(),
        })?;
        self.urls
            .write()
            .await
            .insert(queue.to_owned(), url.clone());
        Ok(url)
    }

    fn refused(&self, queue: &str, e: impl std::error::Error + 'static) -> RuntimeError {
        RuntimeError::Queue { queue: self.name(queue), reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string() }
    }

    /// Sends one message to its queue; returns the SQS message id.
    pub async fn send<M: Message>(&self, msg: &M) -> Result<String, RuntimeError> {
        self.send_delayed(msg, 0).await
    }

    /// Sends one message that becomes visible after `delay_secs` (at most 900, SQS's
    /// limit): retries with backoff.
    pub async fn send_delayed<M: Message>(&self, msg: &M, delay_secs: u32) -> Result<String, RuntimeError> {
        let url = self.url(M::QUEUE).await?;
        let mut req = self.sqs.send_message().queue_url(&url).message_body(encode(msg));
        if delay_secs > 0 {
            req = req.delay_seconds(i32::try_from(delay_secs.min(900)).unwrap_or(900));
        }
        let out = req.send().await.map_err(|e| self.refused(M::QUEUE, e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    /// Sends many messages of one type, ten per request (fan-out). Returns how many were
    /// accepted; the first refusal is an error.
    pub async fn send_all<M: Message>(&self, msgs: &[M]) -> Result<usize, RuntimeError> {
        let url = self.url(M::QUEUE).await?;
        let mut sent = 0;
        for chunk in msgs.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(encode(m))
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| self.refused(M::QUEUE, e))?;
            if let Some(f) = out.failed.first() {
                return Err(RuntimeError::Queue {
                    queue: self.name(M::QUEUE),
                    reason: format!("SendMessageBatch refused an entry: {} {}", f.code, f.message.clone().unwrap_or_default()),
                });
            }
            sent += out.successful.len();
        }
        Ok(sent)
    }

    /// Makes a message the handler is about to report failed visible again after `delay`
    /// instead of the queue's visibility timeout (which is sized for the longest run, e.g.
    /// 30 minutes for analyze): retryable failures come back soon, with backoff chosen
    /// by the caller. SQS caps the timeout at 12 hours.
    pub async fn redeliver_after(&self, queue: &str, delivery: &crate::sqs::Delivery, delay: std::time::Duration) -> Result<(), RuntimeError> {
        let Some(receipt) = &delivery.receipt_handle else { return Ok(()) };
        let url = self.url(queue).await?;
        let secs = i32::try_from(delay.as_secs().min(43_200)).unwrap_or(43_200);
        self.sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| self.refused(queue, e))?;
        Ok(())
    }

    /// Puts a message straight into its queue's dead-letter queue (`<queue>-dlq`), for a
    /// handler that gave up on it deliberately.
    pub async fn send_dead_letter<M: Message>(&self, msg: &M) -> Result<String, RuntimeError> {
        let dlq = format!("{}-dlq", M::QUEUE);
        let url = self.url(&dlq).await?;
        let out = self
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(encode(msg))
            .send()
            .await
            .map_err(|e| RuntimeError::Queue {
                queue: self.name(&dlq),
                reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
