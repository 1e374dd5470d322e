//! Notifications: signed webhooks with retries, SNS with attributes, and the event log.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, ensure};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use customs_tests::Stack;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) const SECRET: &str = "a-webhook-secret-for-tests";

/// HMAC-SHA256 written out from RFC 2104, so the test checks the documented scheme
/// independently of the implementation: `v1=<hex HMAC(secret, "<timestamp>.<body>")>`.
fn expected_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |b: u8| key.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(timestamp.as_bytes()).chain_update(b".").chain_update(body).finalize();
    let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    format!("v1={}", outer.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// One POST the receiver saw.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub status: u16,
    pub idempotency_key: String,
    pub signature_ok: bool,
    pub body: Value,
}

/// A webhook receiver on 127.0.0.1 that verifies signatures and answers with the
/// scripted statuses (then 200).
pub(crate) struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start(script: &[u16]) -> Result<Self> {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(script.iter().copied().collect()));
        let (s2, sc) = (seen.clone(), script.clone());
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let (seen, script) = (s2.clone(), sc.clone());
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let ts = h("Customs-Timestamp");
                let expected = expected_signature(SECRET.as_bytes(), &ts, &body);
                let status = script.lock().ok().and_then(|mut s| s.pop_front()).unwrap_or(200);
                if let Ok(mut s) = seen.lock() {
                    s.push(Received {
                        status,
                        idempotency_key: h("Idempotency-Key"),
                        signature_ok: h("Customs-Signature") == expected && ts.parse::<i64>().is_ok(),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                }
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, seen })
    }

    pub(crate) fn seen(&self) -> Vec<Received> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Accepted deliveries of one notification type.
    pub(crate) fn accepted(&self, kind: &str) -> Vec<Received> {
        self.seen()
            .into_iter()
            .filter(|r| r.status < 300 && r.body["queueId"] == kind)
            .collect()
    }
}

pub(crate) async fn add_webhook(stack: &Stack, body: Value) -> Result<(u16, Value)> {
    let resp = stack.request(Method::POST, "/v1/webhooks").json(&body).send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

/// An SQS queue subscribed to the stack's events topic (raw SNS query call: the tests
/// link no SNS client).
pub(crate) async fn sns_sink(stack: &Stack) -> Result<String> {
    let sqs = aws_sdk_sqs::Client::new(&stack.app.sdk);
    let url = sqs
        .create_queue()
        .queue_name(format!("{}sns-sink", stack.prefix))
        .send()
        .await?
        .queue_url
        .context("no queue url")?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .context("no queue arn")?;
    let topic = format!("arn:aws:sns:us-east-1:000000000000:{}events", stack.prefix);
    let enc = |s: &str| s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>();
    let form = format!(
        "Action=Subscribe&Version=2010-03-31&TopicArn={}&Protocol=sqs&Endpoint={}",
        enc(&topic),
        enc(&arn)
    );
    let endpoint = customs_tests::env("AWS_ENDPOINT_URL")?;
    let resp = reqwest::Client::new()
        .post(endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0")
        .body(form)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "SNS Subscribe -> {status}: {text}");
    Ok(url)
}

/// Every SNS notification the sink holds: (message, attributes).
pub(crate) async fn sns_received(stack: &Stack, url: &str) -> Result<Vec<(Value, Value)>> {
    let sqs = aws_sdk_sqs::Client::new(&stack.app.sdk);
    let mut out = Vec::new();
    loop {
        let msgs = sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await?.messages.unwrap_or_default();
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            let env: Value = serde_json::from_str(m.body.as_deref().unwrap_or("{}"))?;
            let msg: Value = serde_json::from_str(env["Message"].as_str().unwrap_or("{}"))?;
            out.push((msg, env["MessageAttributes"].clone()));
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle.unwrap_or_default()).send().await?;
        }
    }
    Ok(out)
}

#[tokio::test]
async fn a_flaky_receiver_gets_exactly_one_accepted_signed_delivery_and_4xx_is_not_retried() -> Result<()> {
    let stack = Stack::start().await?;
    let flaky = Receiver::start(&[503, 500]).await?;
    let refusing = Receiver::start(&[400, 400, 400]).await?;
    let sink = sns_sink(&stack).await?;

    // SSRF: the metadata endpoint is refused at save time, whatever the allow-list says.
    let (status, body) = add_webhook(&stack, json!({ "url": "http://169.254.169.254/latest/meta-data", "secret": SECRET })).await?;
    assert_eq!(status, 400, "{body}");
    let (status, body) = add_webhook(&stack, json!({ "url": flaky.url, "secret": "short" })).await?;
    assert_eq!(status, 400, "{body}");

    let (status, hook) = add_webhook(&stack, json!({ "url": flaky.url, "secret": SECRET, "notification_types": ["tag_update"] })).await?;
    ensure!(status == 200, "{hook}");
    assert!(!hook.to_string().contains(SECRET), "the secret is never returned: {hook}");
    let (status, _) = add_webhook(&stack, json!({ "url": refusing.url, "secret": SECRET, "payload_format": "customs" })).await?;
    ensure!(status == 200);
    let listed: Value = stack.request(Method::GET, "/v1/webhooks").send().await?.json().await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert!(!listed.to_string().contains(SECRET));

    let resp: Value = stack
        .request(Method::POST, "/v1/system/webhooks/general/test?notification_type=tag_update")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let event_id = resp["event_id"].as_str().context("event id")?.to_owned();
    stack.drain().await?;

    let seen = flaky.seen();
    assert_eq!(seen.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 500, 200], "{seen:?}");
    assert!(seen.iter().all(|r| r.signature_ok), "every attempt is signed: {seen:?}");
    assert!(seen.iter().all(|r| r.idempotency_key == event_id), "one idempotency key: {seen:?}");
    assert_eq!(flaky.accepted("tag_update").len(), 1);
    let body = &seen[2].body;
    assert_eq!(body["data"]["notification_type"], "tag_update", "{body}");
    assert_eq!(body["data"]["notification_payload"]["notificationId"], event_id.as_str(), "{body}");
    assert!(body["data"]["notification_payload"]["curr_eval"].is_array(), "{body}");

    let refused = refusing.seen();
    assert_eq!(refused.len(), 1, "a 4xx is not retried: {refused:?}");
    assert_eq!(refused[0].body["schema"], "customs.notification/v1", "{:?}", refused[0].body);

    let sns = sns_received(&stack, &sink).await?;
    assert_eq!(sns.len(), 1, "{sns:?}");
    let (msg, attrs) = &sns[0];
    assert_eq!(msg["id"], event_id.as_str());
    assert_eq!(attrs["notification_type"]["Value"], "tag_update", "{attrs}");
    assert_eq!(attrs["account"]["Value"], "admin", "{attrs}");
    assert_eq!(attrs["severity"]["Value"], "info", "{attrs}");

    // The event log: filters, paging, one event, delete.
    let page: Value = stack.request(Method::GET, "/v1/events?event_type=user.webhook.*&limit=1").send().await?.json().await?;
    assert_eq!(page["item_count"], 1, "{page}");
    assert_eq!(page["results"][0]["generated_uuid"], event_id.as_str(), "{page}");
    assert_eq!(page["results"][0]["event"]["resource"]["type"], "image_tag", "{page}");
    let none: Value = stack.request(Method::GET, "/v1/events?level=error").send().await?.json().await?;
    assert_eq!(none["item_count"], 0, "{none}");
    let later: Value = stack.request(Method::GET, "/v1/events?since=2999-01-01T00:00:00Z").send().await?.json().await?;
    assert_eq!(later["item_count"], 0, "{later}");
    let one: Value = stack.request(Method::GET, &format!("/v1/events/{event_id}")).send().await?.error_for_status()?.json().await?;
    assert_eq!(one["event"]["type"], "user.webhook.test");
    let bad = stack.request(Method::GET, "/v1/events?since=yesterday").send().await?;
    assert_eq!(bad.status(), 400);
    stack.request(Method::DELETE, &format!("/v1/events/{event_id}")).send().await?.error_for_status()?;
    let gone = stack.request(Method::GET, &format!("/v1/events/{event_id}")).send().await?;
    assert_eq!(gone.status(), 404);
    Ok(())
}

#[tokio::test]
async fn anchore_cli_lists_and_gets_events() -> Result<()> {
    let bin = customs_tests::env("ANCHORE_CLI")?;
    let stack = Stack::start().await?;
    let resp: Value = stack
        .request(Method::POST, "/v1/system/webhooks/general/test?notification_type=analysis_update")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = resp["event_id"].as_str().context("event id")?.to_owned();
    let run = |args: Vec<String>| {
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(args)
            .env("ANCHORE_CLI_URL", stack.url("/v1"))
            .env("ANCHORE_CLI_USER", "admin")
            .env("ANCHORE_CLI_PASS", customs_tests::ADMIN_PASSWORD);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
            anyhow::Ok((out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
        }
    };
    let (code, out) = run(vec!["event".into(), "list".into()]).await?;
    ensure!(code == 0, "event list exited {code}: {out}");
    assert!(out.contains("user.webhook.test") && !out.contains("failed to format"), "{out}");
    let (code, out) = run(vec!["event".into(), "get".into(), id.clone()]).await?;
    ensure!(code == 0, "event get exited {code}: {out}");
    assert!(out.contains(&id) || out.contains("user.webhook.test"), "{out}");
    Ok(())
}

/// A receiver that never recovers: the delivery is retried up to the budget (3 attempts on
/// the local stack), then given up into the notify DLQ, and the failure is recorded where the
/// event can be read back. SNS, the other target, is unaffected.
#[tokio::test]
async fn a_receiver_that_never_recovers_is_given_up_into_the_dlq_with_the_failure_recorded() -> Result<()> {
    let stack = Stack::start().await?;
    let down = Receiver::start(&[500; 10]).await?;
    let (status, body) = add_webhook(&stack, json!({ "url": down.url, "secret": SECRET })).await?;
    ensure!(status == 200, "{body}");
    let resp: Value = stack
        .request(Method::POST, "/v1/system/webhooks/general/test?notification_type=policy_eval")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let event_id = resp["event_id"].as_str().context("event id")?.to_owned();
    stack.drain().await?;

    let seen = down.seen();
    assert_eq!(seen.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 500, 500], "three attempts, then no more: {seen:?}");
    assert!(seen.iter().all(|r| r.idempotency_key == event_id));

    let sqs = aws_sdk_sqs::Client::new(&stack.app.sdk);
    let dlq = stack.app.queues.url(&format!("{}-dlq", customs_contracts::queue::NOTIFY)).await?;
    let got = sqs.receive_message().queue_url(&dlq).max_number_of_messages(10).wait_time_seconds(2).send().await?;
    let bodies: Vec<String> = got.messages().iter().filter_map(|m| m.body().map(str::to_owned)).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains(&event_id), "{bodies:?}");

    let event: Value = stack.request(Method::GET, &format!("/v1/events/{event_id}")).send().await?.error_for_status()?.json().await?;
    let deliveries = event["customs_deliveries"].as_array().cloned().unwrap_or_default();
    let hook = deliveries.iter().find(|d| d["target"].as_str().is_some_and(|t| t.starts_with("webhook:"))).context("webhook delivery")?;
    assert_eq!(hook["status"], "failed", "{event:#}");
    assert_eq!(hook["attempts"], 3, "{event:#}");
    assert_eq!(hook["last_http_status"], 500, "{event:#}");
    assert!(hook["last_error"].as_str().is_some_and(|e| e.starts_with("gave up after 3 attempts")), "{event:#}");
    let sns = deliveries.iter().find(|d| d["target"] == "sns").context("sns delivery")?;
    assert_eq!(sns["status"], "delivered", "{event:#}");
    Ok(())
}
