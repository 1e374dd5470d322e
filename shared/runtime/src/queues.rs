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

    /// Sends one message to its queue; returns the SQS message id.
    pub async fn send<M: Message>(&self, msg: &M) -> Result<String, RuntimeError> {
        let url = self.url(M::QUEUE).await?;
        let out = self
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(encode(msg))
            .send()
            .await
            .map_err(|e| RuntimeError::Queue {
                queue: self.name(M::QUEUE),
                reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
