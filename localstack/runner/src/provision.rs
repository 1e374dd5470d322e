//! Creating the AWS resources of the routing table, idempotently.

use std::collections::HashMap;

use anyhow::{Context, Result};
use aws_sdk_sqs::types::QueueAttributeName;
use customs_contracts::{ROUTES, Route, SCHEDULES};
use customs_runtime::aws::SdkConfig;
use serde_json::json;
use tracing::info;

/// URLs and ARN of one queue and its DLQ.
#[derive(Debug, Clone)]
pub struct QueuePair {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

async fn arn_of(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("GetQueueAttributes {url}"))?;
    out.attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .with_context(|| format!("queue {url} has no ARN"))
}

/// Creates the queue or, when it exists, brings its attributes up to date.
async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attrs: HashMap<QueueAttributeName, String>,
) -> Result<String> {
    let created = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attrs.clone()))
        .send()
        .await;
    let url = match created {
        Ok(out) => out.queue_url.context("CreateQueue returned no URL")?,
        Err(_) => {
            let url = sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .with_context(|| format!("queue {name} could be neither created nor found"))?
                .queue_url
                .context("GetQueueUrl returned no URL")?;
            sqs.set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attrs))
                .send()
                .await
                .with_context(|| format!("SetQueueAttributes {name}"))?;
            url
        }
    };
    Ok(url)
}

/// A queue named `name` with a DLQ `name-dlq` that takes messages after `max_receives`.
pub async fn queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility_secs: u32,
    max_receives: u32,
) -> Result<QueuePair> {
    let dlq_name = format!("{name}-dlq");
    let dlq_url = ensure_queue(
        sqs,
        &dlq_name,
        HashMap::from([(
            QueueAttributeName::MessageRetentionPeriod,
            "1209600".to_owned(),
        )]),
    )
    .await?;
    let dlq_arn = arn_of(sqs, &dlq_url).await?;
    let redrive =
        json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string() })
            .to_string();
    let url = ensure_queue(
        sqs,
        name,
        HashMap::from([
            (
                QueueAttributeName::VisibilityTimeout,
                visibility_secs.to_string(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                "1209600".to_owned(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive),
        ]),
    )
    .await?;
    let arn = arn_of(sqs, &url).await?;
    Ok(QueuePair {
        url,
        arn,
        dlq_url,
        dlq_arn,
    })
}

/// The physical names the provisioning uses.
#[derive(Debug, Clone)]
pub struct Names {
    pub queue_prefix: String,
    pub bucket: String,
}

impl Names {
    pub fn queue(&self, route: &Route) -> String {
        format!("{}{}", self.queue_prefix, route.queue)
    }
    pub fn topic(&self) -> String {
        format!("{}events", self.queue_prefix)
    }
}

/// Creates bucket, queues + DLQs, topic and schedules. Safe to run again.
pub async fn all(sdk: &SdkConfig, names: &Names, schedules_enabled: bool) -> Result<HashMap<&'static str, QueuePair>> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let sns = aws_sdk_sns::Client::new(sdk);
    let events = aws_sdk_eventbridge::Client::new(sdk);

    match s3.create_bucket().bucket(&names.bucket).send().await {
        Ok(_) => info!(bucket = %names.bucket, "Created bucket"),
        Err(e) => {
            // Already ours is fine; anything else shows up on the HEAD.
            s3.head_bucket()
                .bucket(&names.bucket)
                .send()
                .await
                .with_context(|| {
                    format!(
                        "bucket {}: {}",
                        names.bucket,
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                })?;
        }
    }

    bucket_policies(&s3, &names.bucket).await?;

    let mut pairs = HashMap::new();
    for r in ROUTES {
        let pair = queue(
            &sqs,
            &names.queue(r),
            r.visibility_timeout_secs,
            r.max_receives,
        )
        .await?;
        info!(queue = %names.queue(r), "Queue ready");
        pairs.insert(r.queue, pair);
    }

    sns.create_topic()
        .name(names.topic())
        .send()
        .await
        .context("CreateTopic")?;

    for s in SCHEDULES {
        let pair = pairs
            .get(s.queue)
            .with_context(|| format!("schedule {} targets unknown queue {}", s.name, s.queue))?;
        let rule = format!("{}{}-schedule", names.queue_prefix, s.name);
        let rule_arn = events
            .put_rule()
            .name(&rule)
            .schedule_expression(s.rate)
            .state(if schedules_enabled {
                aws_sdk_eventbridge::types::RuleState::Enabled
            } else {
                aws_sdk_eventbridge::types::RuleState::Disabled
            })
            .send()
            .await
            .with_context(|| format!("PutRule {rule}"))?
            .rule_arn
            .unwrap_or_default();
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": "sqs:SendMessage",
                "Resource": pair.arn,
                "Condition": { "ArnEquals": { "aws:SourceArn": rule_arn } }
            }]
        });
        sqs.set_queue_attributes()
            .queue_url(&pair.url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .context("SetQueueAttributes Policy")?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("queue")
            .arn(&pair.arn)
            .input(s.message())
            .build()
            .context("EventBridge target")?;
        events
            .put_targets()
            .rule(&rule)
            .targets(target)
            .send()
            .await
            .with_context(|| format!("PutTargets {rule}"))?;
        info!(rule = %rule, rate = s.rate, queue = s.queue, "Schedule ready");
    }
    Ok(pairs)
}

/// Days a staged layer is kept after it was written; an expired layer is staged again
/// the next time an image needs it.
pub const STAGED_LAYER_EXPIRY_DAYS: i32 = 90;

/// Encryption at rest, no public access, and expiry of staged layers.
async fn bucket_policies(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<()> {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
        PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
        ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let rule = LifecycleRule::builder()
        .id("expire-staged-layers")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("layers/").build())
        .expiration(LifecycleExpiration::builder().days(STAGED_LAYER_EXPIRY_DAYS).build())
        .build()
        .context("lifecycle rule")?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().context("lifecycle")?)
        .send()
        .await
        .context("PutBucketLifecycleConfiguration")?;
    let sse = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build().context("sse")?,
                )
                .build(),
        )
        .build()
        .context("sse")?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(sse)
        .send()
        .await
        .context("PutBucketEncryption")?;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .context("PutPublicAccessBlock")?;
    Ok(())
}
