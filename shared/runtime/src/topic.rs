//! Publishing to the events SNS topic.

use std::collections::HashMap;

use aws_sdk_sns::types::MessageAttributeValue;
use tokio::sync::OnceCell;

use crate::RuntimeError;

/// The topic events are published to: known by ARN (`CUSTOMS_EVENTS_TOPIC_ARN` in AWS)
/// or by name (resolved once with an idempotent `CreateTopic`, as the local stack does).
#[derive(Clone, Debug)]
pub struct Topic {
    sns: aws_sdk_sns::Client,
    name: String,
    arn: std::sync::Arc<OnceCell<String>>,
}

impl Topic {
    pub fn by_arn(sns: aws_sdk_sns::Client, arn: impl Into<String>) -> Self {
        let arn: String = arn.into();
        Self {
            sns,
            name: arn.rsplit(':').next().unwrap_or_default().to_owned(),
            arn: std::sync::Arc::new(OnceCell::new_with(Some(arn))),
        }
    }

    pub fn by_name(sns: aws_sdk_sns::Client, name: impl Into<String>) -> Self {
        Self {
            sns,
            name: name.into(),
            arn: std::sync::Arc::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn arn(&self) -> Result<&str, RuntimeError> {
        self.arn
            .get_or_try_init(|| async {
                let out = self
                    .sns
                    .create_topic()
                    .name(&self.name)
                    .send()
                    .await
                    .map_err(|e| RuntimeError::Topic {
                        topic: self.name.clone(),
                        reason: aws_sdk_sns::error::DisplayErrorContext(e).to_string(),
                    })?;
                out.topic_arn.ok_or_else(|| RuntimeError::Topic {
                    topic: self.name.clone(),
                    reason: "CreateTopic returned no ARN".into(),
                })
            })
            .await
            .map(String::as_str)
    }

    /// Publishes `message` with string attributes (for subscription filter policies).
    pub async fn publish(
        &self,
        message: &str,
        attributes: &[(&str, &str)],
    ) -> Result<String, RuntimeError> {
        let arn = self.arn().await?.to_owned();
        let attrs: HashMap<String, MessageAttributeValue> = attributes
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(k, v)| {
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(*v)
                    .build()
                    .ok()
                    .map(|a| ((*k).to_owned(), a))
            })
            .collect();
        let out = self
            .sns
            .publish()
            .topic_arn(&arn)
            .message(message)
            .set_message_attributes(Some(attrs))
            .send()
            .await
            .map_err(|e| RuntimeError::Topic {
                topic: self.name.clone(),
                reason: aws_sdk_sns::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
