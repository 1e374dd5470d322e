//! The runner behaves as an SQS event source mapping with ReportBatchItemFailures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use customs_contracts::{WatchTick, encode};
use customs_local::provision;
use customs_local::{Binding, Runner, consumer};
use customs_runtime::sqs::{self, Retry};
use uuid::Uuid;

type Seen = Arc<Mutex<HashMap<String, u32>>>;

struct Fixture {
    sqs: aws_sdk_sqs::Client,
    pair: provision::QueuePair,
}

impl Fixture {
    async fn new(max_receives: u32) -> Result<Self> {
        customs_tests::env("AWS_ENDPOINT_URL")?;
        let sqs = aws_sdk_sqs::Client::new(&customs_runtime::aws::load().await);
        let name = format!("t{}-semantics", &Uuid::new_v4().simple().to_string()[..10]);
        let pair = provision::queue(&sqs, &name, 1, max_receives).await?;
        Ok(Self { sqs, pair })
    }

    /// Sends tick messages tagged by a message attribute-free body and returns their ids.
    async fn send(&self, n: usize) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let out = self
                .sqs
                .send_message()
                .queue_url(&self.pair.url)
                .message_body(encode(&WatchTick {}))
                .send()
                .await?;
            ids.push(out.message_id.unwrap_or_default());
        }
        Ok(ids)
    }

    fn runner(&self, binding: Binding) -> Runner {
        Runner::new(self.sqs.clone(), "us-east-1", vec![binding])
    }

    fn binding(&self, c: customs_local::Consumer) -> Binding {
        Binding {
            queue_url: self.pair.url.clone(),
            queue_arn: self.pair.arn.clone(),
            batch_size: 10,
            concurrency: 1,
            consumer: c,
        }
    }

    async fn dlq_ids(&self) -> Result<Vec<String>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.pair.dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.message_id)
            .collect())
    }
}

#[tokio::test]
async fn only_the_failed_message_of_a_batch_is_redelivered_and_poison_lands_in_the_dlq()
-> Result<()> {
    let fx = Fixture::new(3).await?;
    let ids = fx.send(4).await?;
    let poison = ids[1].clone();
    let seen: Seen = Arc::default();
    let (s, p) = (seen.clone(), poison.clone());
    let c = consumer(move |ev| {
        let (s, p) = (s.clone(), p.clone());
        async move {
            sqs::for_each(ev, |_m: WatchTick, d| {
                let (s, p) = (s.clone(), p.clone());
                async move {
                    *s.lock()
                        .expect("lock")
                        .entry(d.message_id.clone())
                        .or_default() += 1;
                    if d.message_id == p {
                        Err(Retry("always fails".into()))
                    } else {
                        Ok(())
                    }
                }
            })
            .await
        }
    });
    fx.runner(fx.binding(c))
        .drain_until_idle(Duration::from_secs(60))
        .await?;
    let seen = seen.lock().expect("lock").clone();
    for id in &ids {
        let expected = if *id == poison { 3 } else { 1 };
        assert_eq!(seen.get(id), Some(&expected), "{id}: {seen:?}");
    }
    assert_eq!(fx.dlq_ids().await?, vec![poison]);
    Ok(())
}

#[tokio::test]
async fn serving_handles_up_to_the_bindings_concurrency_of_batches_at_once() -> Result<()> {
    let fx = Fixture::new(3).await?;
    let ids = fx.send(6).await?;
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let done: Seen = Arc::default();
    let (r2, m2, d2) = (running.clone(), most.clone(), done.clone());
    let c = consumer(move |ev| {
        let (running, most, done) = (r2.clone(), m2.clone(), d2.clone());
        async move {
            sqs::for_each(ev, |_m: WatchTick, d| {
                let (running, most, done) = (running.clone(), most.clone(), done.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    *done.lock().expect("lock").entry(d.message_id).or_default() += 1;
                    Ok(())
                }
            })
            .await
        }
    });
    // One message per batch, two batches at once (a stage-layer mapping, scaled down).
    let runner = fx.runner(Binding { batch_size: 1, concurrency: 2, ..fx.binding(c) });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(async move { runner.run_until(stop_rx).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while done.lock().expect("lock").len() < ids.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(true)?;
    serving.await?;
    let done = done.lock().expect("lock").clone();
    for id in &ids {
        assert_eq!(done.get(id), Some(&1), "{id} handled once: {done:?}");
    }
    assert_eq!(most.load(Ordering::SeqCst), 2, "two batches at once, never more");
    assert!(fx.dlq_ids().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_crash_mid_batch_loses_no_message() -> Result<()> {
    let fx = Fixture::new(5).await?;
    let ids = fx.send(5).await?;
    let crashed = Arc::new(AtomicBool::new(false));
    let done: Seen = Arc::default();
    let (c2, d2) = (crashed.clone(), done.clone());
    let c = consumer(move |ev| {
        let (crashed, done) = (c2.clone(), d2.clone());
        async move {
            sqs::for_each(ev, |_m: WatchTick, d| {
                let (crashed, done) = (crashed.clone(), done.clone());
                async move {
                    // The first message handled brings the whole invocation down.
                    assert!(crashed.swap(true, Ordering::SeqCst), "simulated crash");
                    *done.lock().expect("lock").entry(d.message_id).or_default() += 1;
                    Ok(())
                }
            })
            .await
        }
    });
    fx.runner(fx.binding(c))
        .drain_until_idle(Duration::from_secs(60))
        .await?;
    assert!(crashed.load(Ordering::SeqCst));
    let done = done.lock().expect("lock").clone();
    for id in &ids {
        assert!(done.contains_key(id), "{id} was lost: {done:?}");
    }
    assert!(fx.dlq_ids().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn schedules_are_eventbridge_rules_putting_their_message_on_the_queue() -> Result<()> {
    let stack = customs_tests::Stack::start().await?;
    let events = aws_sdk_eventbridge::Client::new(&stack.app.sdk);
    for s in customs_contracts::SCHEDULES {
        let rule = format!("{}{}-schedule", stack.prefix, s.name);
        let r = events.describe_rule().name(&rule).send().await?;
        assert_eq!(r.schedule_expression(), Some(s.rate), "{rule}");
        assert_eq!(r.state().map(|s| s.as_str()), Some("ENABLED"));
        let targets = events.list_targets_by_rule().rule(&rule).send().await?;
        let t = &targets.targets()[0];
        assert!(
            t.arn().ends_with(&format!(":{}{}", stack.prefix, s.queue)),
            "{rule} targets {}",
            t.arn()
        );
        assert_eq!(t.input(), Some(s.message().as_str()));
    }
    Ok(())
}
