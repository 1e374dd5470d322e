//! Layers are staged in parallel: analyze fans out one stage-layer message per unstaged
//! layer, and the last layer to finish assembles the image, exactly once, whatever the
//! duplicate deliveries and concurrent finishers. (Images under the inline staging
//! threshold are staged by analyze itself: these tests set it to 0.)

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use customs_contracts::{StageLayer, decode, queue, route};
use customs_local::{Binding, Runner};
use customs_runtime::sqs::{BatchResponse, Event};
use customs_store::{NewStagingJob, PendingLayer, StagingProgress};
use customs_tests::{CountingProxy, Stack, push_image, registry};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::images::{add, by_tag};

pub(crate) const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A stack that fans every image's layers out, however small (the path these tests are
/// about; by default analyze stages small images itself, see `inline.rs`).
pub(crate) async fn fanning_out() -> Result<Stack> {
    Stack::start_tuned(|s| s.inline_staging_bytes = 0).await
}

pub(crate) fn sha(b: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

pub(crate) fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("gzip");
    e.finish().expect("gzip")
}

/// A layer holding one file `path` with `data`: (media type, gzipped blob, diff id).
pub(crate) fn layer(path: &str, data: &[u8]) -> (&'static str, Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, path, data).expect("tar");
    let tar = b.into_inner().expect("tar");
    (GZ, gzip(&tar), sha(&tar))
}

/// A runner bound to `queue` alone (to run the analysis but hold back its fan-out).
pub(crate) async fn only(stack: &Stack, q: &str) -> Result<Runner> {
    let r = route(q).context("no route")?;
    let binding = Binding {
        queue_url: stack.app.queues.url(q).await?,
        queue_arn: String::new(),
        batch_size: r.batch_size,
        concurrency: 1,
        consumer: stack.app.consumer_for(r)?,
    };
    Ok(Runner::new(
        stack.app.queues.client().clone(),
        "us-east-1",
        vec![binding],
    ))
}

/// Receives and deletes every message on `q`; returns the bodies.
pub(crate) async fn take_all(stack: &Stack, q: &str) -> Result<Vec<String>> {
    let sqs = stack.app.queues.client();
    let url = stack.app.queues.url(q).await?;
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() {
            return Ok(bodies);
        }
        for m in msgs {
            bodies.push(m.body.clone().unwrap_or_default());
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await?;
        }
    }
}

pub(crate) async fn send(stack: &Stack, q: &str, body: &str) -> Result<()> {
    let url = stack.app.queues.url(q).await?;
    stack
        .app
        .queues
        .client()
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await?;
    Ok(())
}

/// One SQS record (a fresh message id, first receive) as Lambda would deliver it.
pub(crate) fn event(body: &str) -> Result<Event> {
    Ok(serde_json::from_value(json!({ "Records": [{
        "messageId": Uuid::new_v4().to_string(),
        "body": body,
        "attributes": { "ApproximateReceiveCount": "1" },
        "messageAttributes": {},
    }]}))?)
}

/// Runs each body as its own invocation of the stage-layer consumer, all at once (on the
/// multi-threaded runtime, in parallel), and returns the responses.
async fn invoke_all(stack: &Stack, bodies: &[String]) -> Result<Vec<BatchResponse>> {
    let consumer = stack
        .app
        .consumer_for(route(queue::STAGE_LAYER).context("no route")?)?;
    let mut tasks = Vec::new();
    for b in bodies {
        tasks.push(tokio::spawn(consumer(event(b)?)));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?);
    }
    Ok(out)
}

/// The image as the API shows it, and its record.
pub(crate) async fn record(stack: &Stack, digest_or_tag: &str) -> Result<(Value, customs_store::ImageRecord)> {
    let img = by_tag(stack, digest_or_tag).await?;
    let digest = img["imageDigest"].as_str().map(str::to_owned);
    let found = stack
        .app
        .store
        .list_images(
            "admin",
            &customs_store::ImageFilter {
                digest,
                ..Default::default()
            },
        )
        .await?;
    Ok((img, found.into_iter().next().context("no record")?))
}

pub(crate) async fn jobs_left(stack: &Stack) -> Result<i64> {
    let (client, conn) =
        tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client
        .query_one("SELECT count(*) FROM image_staging_jobs", &[])
        .await?
        .get(0))
}

#[tokio::test]
async fn duplicate_stage_layer_deliveries_stage_each_layer_once_and_assemble_once() -> Result<()> {
    let stack = fanning_out().await?;
    let proxy = CountingProxy::start().await?;
    let tag = format!("{}/customs/debian-app:latest", proxy.addr);
    add(&stack, json!({ "tag": tag })).await?;
    only(&stack, queue::ANALYZE)
        .await?
        .drain_until_idle(Duration::from_secs(120))
        .await?;
    let bodies = take_all(&stack, queue::STAGE_LAYER).await?;
    assert_eq!(bodies.len(), 3, "one message per layer: {bodies:?}");
    let img = by_tag(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzing", "{img}");

    // Every layer delivered twice (distinct SQS messages with the same body).
    for b in bodies.iter().chain(&bodies) {
        send(&stack, queue::STAGE_LAYER, b).await?;
    }
    stack.drain().await?;
    let (img, rec) = record(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(rec.record_version, 2, "added (1), then assembled once (+1)");
    let gets = proxy.blob_gets();
    for b in &bodies {
        let m: StageLayer = decode(b)?;
        assert_eq!(
            gets.iter().filter(|g| **g == m.digest).count(),
            1,
            "{} fetched once: {gets:?}",
            m.digest
        );
    }
    let packages = stack.app.store.image_packages(rec.id).await?;
    assert!(
        packages.iter().any(|p| p.name == "coreutils"),
        "dpkg packages recorded"
    );
    assert!(
        packages
            .iter()
            .any(|p| p.name == "requests" && p.version == "2.31.0"),
        "python packages recorded"
    );
    assert_eq!(rec.package_count, i32::try_from(packages.len()).ok());
    assert_eq!(
        jobs_left(&stack).await?,
        0,
        "the job ended with the assembly"
    );
    let digest = img["imageDigest"].as_str().unwrap_or_default();
    let got: Value = stack
        .request(reqwest::Method::GET, &format!("/v1/images/{digest}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let p = &got[0]["customs_progress"];
    assert_eq!(
        (
            p["layers_total"].as_i64(),
            p["layers_staged"].as_i64(),
            p["layers_reused"].as_i64()
        ),
        (Some(3), Some(3), Some(0)),
        "{got}"
    );
    assert_eq!(p["bytes_staged"], p["bytes_total"], "{p}");

    // Late duplicates, after the assembly, are acknowledged without work.
    for b in &bodies {
        send(&stack, queue::STAGE_LAYER, b).await?;
    }
    stack.drain().await?;
    let (_, again) = record(&stack, &tag).await?;
    assert_eq!(
        (again.record_version, again.analyzed_at),
        (rec.record_version, rec.analyzed_at)
    );
    assert_eq!(proxy.blob_gets().len(), gets.len(), "nothing fetched again");

    // The same image again: every layer is staged, so analyze assembles at once.
    let before = proxy.blob_gets().len();
    add(&stack, json!({ "tag": tag, "force": true })).await?;
    only(&stack, queue::ANALYZE)
        .await?
        .drain_until_idle(Duration::from_secs(120))
        .await?;
    assert!(
        take_all(&stack, queue::STAGE_LAYER).await?.is_empty(),
        "nothing to fan out"
    );
    let (img, _) = record(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(proxy.blob_gets().len(), before, "no layer fetched");
    stack.drain().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_finishers_of_an_image_elect_exactly_one_assembler() -> Result<()> {
    let stack = fanning_out().await?;
    let run = Uuid::new_v4().simple().to_string();
    let mut tags = Vec::new();
    for i in 0..4 {
        let a = layer("etc/a", format!("{run} {i} a\n").as_bytes());
        let b = layer("etc/b", format!("{run} {i} b\n").as_bytes());
        let tag = format!("race-{}-{i}", &run[..8]);
        push_image("customs/fanout", &tag, &[a, b], None).await?;
        let full = format!("{}/customs/fanout:{tag}", registry());
        add(&stack, json!({ "tag": full })).await?;
        tags.push(full);
    }
    only(&stack, queue::ANALYZE)
        .await?
        .drain_until_idle(Duration::from_secs(120))
        .await?;
    let bodies = take_all(&stack, queue::STAGE_LAYER).await?;
    assert_eq!(bodies.len(), 8, "two layers for each of four images");
    // Every layer of every image at once, each twice: 16 concurrent invocations.
    let twice: Vec<String> = bodies.iter().chain(&bodies).cloned().collect();
    for resp in invoke_all(&stack, &twice).await? {
        assert!(
            resp.batch_item_failures.is_empty(),
            "no delivery failed (no deadlock, no conflict)"
        );
    }
    stack.drain().await?;
    for tag in &tags {
        let (img, rec) = record(&stack, tag).await?;
        assert_eq!(img["analysis_status"], "analyzed", "{tag}: {img}");
        assert_eq!(rec.record_version, 2, "{tag}: assembled once");
        assert_eq!(
            rec.file_count,
            Some(2),
            "{tag}: etc/a and etc/b, the files of both layers"
        );
        let p = stack
            .app
            .store
            .staging_progress(rec.id)
            .await?
            .map(|(p, _)| p);
        assert_eq!(
            p.map(|p| (p.layers_total, p.layers_staged)),
            Some((2, 2)),
            "{tag}"
        );
    }
    assert_eq!(jobs_left(&stack).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_layer_fails_its_image_once_and_the_other_layers_are_acknowledged() -> Result<()>
{
    let stack = fanning_out().await?;
    let run = Uuid::new_v4().simple().to_string();
    let good = layer("etc/good", run.as_bytes());
    let other = layer("etc/other", run.as_bytes());
    let (_, gz, diff_id) = layer("etc/broken", run.as_bytes());
    let truncated = (GZ, gz[..gz.len() - 12].to_vec(), diff_id.clone());
    let not_gzip = (GZ, run.as_bytes().to_vec(), sha(run.as_bytes()));
    let tag = format!("broken-{}", &run[..8]);
    push_image(
        "customs/fanout",
        &tag,
        &[good.clone(), truncated, not_gzip, other.clone()],
        None,
    )
    .await?;
    let full = format!("{}/customs/fanout:{tag}", registry());
    add(&stack, json!({ "tag": full })).await?;
    only(&stack, queue::ANALYZE)
        .await?
        .drain_until_idle(Duration::from_secs(120))
        .await?;
    let bodies = take_all(&stack, queue::STAGE_LAYER).await?;
    assert_eq!(bodies.len(), 4);
    let (broken, fine): (Vec<String>, Vec<String>) = bodies.into_iter().partition(|b| {
        decode::<StageLayer>(b).is_ok_and(|m| m.diff_id != good.2 && m.diff_id != other.2)
    });
    // Both broken layers fail at once: the image fails once, with one of their reasons.
    for resp in invoke_all(&stack, &broken).await? {
        assert!(
            resp.batch_item_failures.is_empty(),
            "a permanent failure is acknowledged"
        );
    }
    let (img, rec) = record(&stack, &full).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    let err = img["analysis_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("truncated or corrupt") || err.contains("content starts like"),
        "{err}"
    );
    assert_eq!(rec.record_version, 2, "added (1), failed once (+1)");
    assert_eq!(
        jobs_left(&stack).await?,
        0,
        "the job ended with the failure"
    );
    // The good layers' messages come later: acknowledged without work.
    for b in &fine {
        send(&stack, queue::STAGE_LAYER, b).await?;
    }
    stack.drain().await?;
    let (img, again) = record(&stack, &full).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    assert_eq!(
        img["analysis_error"].as_str(),
        Some(err),
        "the first reason stays"
    );
    assert_eq!(again.record_version, 2);
    let staged = stack
        .app
        .store
        .staged_at(&[sha(&good.1), sha(&other.1)])
        .await?;
    assert!(
        staged.is_empty(),
        "the good layers were not staged for a failed image: {staged:?}"
    );
    Ok(())
}

/// A staging job recorded by the release before V0220 (its layers waiting by diff id in
/// `image_staging_job_layers` only), whose stage-layer messages reach this release: one
/// delivery starts the analysis over, the new job replaces the old, and the image is
/// analysed. A job of this release keeps its layers by diff id too, for the release
/// before should it be rolled back to.
#[tokio::test]
async fn a_staging_job_of_the_release_before_is_started_over() -> Result<()> {
    let stack = fanning_out().await?;
    let run = Uuid::new_v4().simple().to_string();
    let layers = [layer("etc/a", run.as_bytes()), layer("etc/b", run.as_bytes())];
    let tag = format!("legacy-{}", &run[..8]);
    push_image("customs/fanout", &tag, &layers, None).await?;
    let full = format!("{}/customs/fanout:{tag}", registry());
    add(&stack, json!({ "tag": full })).await?;
    only(&stack, queue::ANALYZE)
        .await?
        .drain_until_idle(Duration::from_secs(60))
        .await?;
    let bodies = take_all(&stack, queue::STAGE_LAYER).await?;
    assert_eq!(bodies.len(), 2);
    let (client, conn) =
        tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    // The job as this release recorded it: each layer by blob digest, and by diff id for
    // the release before.
    for b in &bodies {
        let m: StageLayer = decode(b)?;
        let rows: i64 = client
            .query_one(
                "SELECT (SELECT count(*) FROM image_staging_job_blobs WHERE job_id = $1 AND digest = $2 AND NOT done)
                      + (SELECT count(*) FROM image_staging_job_layers WHERE job_id = $1 AND diff_id = $3 AND NOT done)",
                &[&m.job_id, &m.digest, &m.diff_id],
            )
            .await?
            .get(0);
        assert_eq!(rows, 2, "{b}");
    }
    // What the release before recorded: the same job, its layers by diff id only.
    client.execute("DELETE FROM image_staging_job_blobs", &[]).await?;
    for resp in invoke_all(&stack, &bodies).await? {
        assert!(resp.batch_item_failures.is_empty());
    }
    let restarts = take_all(&stack, queue::ANALYZE).await?;
    assert_eq!(restarts.len(), 1, "started over once: {restarts:?}");
    send(&stack, queue::ANALYZE, &restarts[0]).await?;
    stack.drain().await?;
    let (img, rec) = record(&stack, &full).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(rec.file_count, Some(2), "etc/a and etc/b");
    assert_eq!(jobs_left(&stack).await?, 0);
    let legacy: i64 = client
        .query_one("SELECT count(*) FROM image_staging_job_layers", &[])
        .await?
        .get(0);
    assert_eq!(legacy, 0, "the old job went with its replacement");
    Ok(())
}

/// The race itself, in PostgreSQL: fifty layers, each finished twice, by a hundred
/// concurrent callers. Exactly one is named assembler, and it is the one that finished
/// the last pending layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_of_many_concurrent_finishers_is_the_only_assembler() -> Result<()> {
    let store = customs_store::Store::connect(&customs_tests::fresh_database().await?, 16)?;
    let reference = customs_model::ImageRef::parse("registry.example/race:latest")?;
    let image = store
        .add_image("admin", &reference, "linux/amd64", &json!({}), false, None)
        .await?
        .image;
    assert!(matches!(
        store.begin_analysis("admin", image.id).await?,
        customs_store::Claim::Claimed(_)
    ));
    let pending: Vec<PendingLayer> = (0..50)
        .map(|i| PendingLayer {
            digest: format!("sha256:{i:064x}"),
            diff_id: format!("sha256:{:064x}", 1000 + i),
            layers: 1,
            bytes: 10,
        })
        .collect();
    let job_id = Uuid::new_v4();
    let started = store
        .start_staging_job(
            "admin",
            image.id,
            &NewStagingJob {
                job_id,
                manifest: b"{}",
                resolved: &json!({}),
                pending: &pending,
                assembler: None,
                progress: StagingProgress {
                    layers_total: 50,
                    bytes_total: 500,
                    ..StagingProgress::default()
                },
            },
        )
        .await?;
    assert!(started);
    let mut tasks = Vec::new();
    for (n, l) in pending.iter().chain(&pending).enumerate() {
        let (store, l, message_id) = (store.clone(), l.clone(), format!("m{n}"));
        tasks.push(tokio::spawn(async move {
            let job = store
                .finish_staged_layer(job_id, &l.digest, &l.diff_id, &message_id, true)
                .await;
            (message_id, job)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (me, job) = t.await?;
        let job = job?.context("job present until assembled")?;
        if job.assembler.as_deref() == Some(me.as_str()) {
            assert_eq!(job.layers_pending, 0);
            assert!(job.pending.is_empty());
            winners.push(me);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let job = store.staging_job(job_id).await?.context("job")?;
    assert_eq!(
        (job.layers_pending, job.assembler),
        (0, Some(winners[0].clone()))
    );
    let (p, _) = store
        .staging_progress(image.id)
        .await?
        .context("progress")?;
    assert_eq!(
        (p.layers_staged, p.layers_reused, p.bytes_staged),
        (50, 0, 500),
        "each layer counted once"
    );
    // A failure after the fact changes nothing twice: the first ends the job, the next is a no-op.
    assert!(
        store
            .fail_staging_job("admin", image.id, job_id, "first")
            .await?
    );
    assert!(
        !store
            .fail_staging_job("admin", image.id, job_id, "second")
            .await?
    );
    assert!(store.staging_job(job_id).await?.is_none());
    Ok(())
}

/// Not in CI: how long the analysis of tiny and debian-app takes from add to `analyzed`,
/// staging every layer afresh (each stack has its own bucket), through the runner's
/// queues, three ways, interleaved: staged inline by analyze (the default under
/// `inline_staging_bytes`), fanned out to the runner's stage-layer poll loop, and fanned
/// out with every stage-layer message its own invocation at once (as Lambda runs them).
/// Run by hand: `cargo test --workspace --test e2e -- --ignored --nocapture analysis_time_of_debian_app`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "measurement"]
async fn analysis_time_of_debian_app() -> Result<()> {
    let runs: usize = std::env::var("CUSTOMS_MEASURE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let mut times: std::collections::BTreeMap<(String, &str), Vec<f64>> = Default::default();
    for _ in 0..runs {
        for image in ["tiny", "debian-app"] {
            for mode in ["inline", "fan-out (runner)", "fan-out (parallel invocations)"] {
                let stack = if mode == "inline" { Stack::start().await? } else { fanning_out().await? };
                let tag = format!("{}/customs/{image}:latest", registry());
                let t0 = std::time::Instant::now();
                add(&stack, json!({ "tag": tag })).await?;
                if mode == "fan-out (parallel invocations)" {
                    only(&stack, queue::ANALYZE).await?.drain_until_idle(Duration::from_secs(120)).await?;
                    invoke_all(&stack, &take_all(&stack, queue::STAGE_LAYER).await?).await?;
                }
                stack.drain().await?;
                let wall = t0.elapsed();
                let (img, rec) = record(&stack, &tag).await?;
                assert_eq!(img["analysis_status"], "analyzed", "{img}");
                let analysis = rec.analyzed_at.map(|a| a - rec.created_at).unwrap_or_default();
                let secs = analysis.as_seconds_f64();
                println!("{image} {mode}: add → analyzed {secs:.3} s, add → queues idle {wall:?}");
                times.entry((image.to_owned(), mode)).or_default().push(secs);
            }
        }
    }
    for ((image, mode), mut t) in times {
        t.sort_by(f64::total_cmp);
        println!("{image} {mode}: median {:.3} s of {:?}", t[t.len() / 2], t);
    }
    Ok(())
}

/// A message that cannot be decoded is never retried and never leaves its image
/// `analyzing`: a stage-layer message cut off mid-body and an analyze message of an
/// unknown version still name their image, which fails with the reason (the other layer
/// of the first image is staged as usual); garbage that names no image is acknowledged and
/// logged. Through the real queues: nothing comes back, nothing reaches a dead-letter queue.
#[tokio::test]
async fn undecodable_messages_fail_their_image_or_are_acknowledged() -> Result<()> {
    let stack = fanning_out().await?;
    let repo = "customs/fanout-garbled";
    let (a, b) = (format!("a-{}", &Uuid::new_v4().simple().to_string()[..8]), format!("b-{}", &Uuid::new_v4().simple().to_string()[..8]));
    let nonce = Uuid::new_v4().to_string();
    push_image(repo, &a, &[layer("etc/a", nonce.as_bytes()), layer("etc/b", b"b")], None).await?;
    push_image(repo, &b, &[layer("etc/c", nonce.as_bytes())], None).await?;
    let (tag_a, tag_b) = (format!("{}/{repo}:{a}", registry()), format!("{}/{repo}:{b}", registry()));

    // Image a: its analysis runs and fans out; one of its two layer messages is cut off
    // after the job id.
    add(&stack, json!({ "tag": tag_a })).await?;
    only(&stack, queue::ANALYZE).await?.drain_until_idle(Duration::from_secs(60)).await?;
    let bodies = take_all(&stack, queue::STAGE_LAYER).await?;
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let cut = &bodies[0][..bodies[0].find("\"digest\"").context("no digest field")?];
    assert!(decode::<StageLayer>(cut).is_err());
    send(&stack, queue::STAGE_LAYER, cut).await?;
    send(&stack, queue::STAGE_LAYER, &bodies[1]).await?;
    // Image b: its analyze message comes back as a version this consumer does not know.
    add(&stack, json!({ "tag": tag_b })).await?;
    let analyze = take_all(&stack, queue::ANALYZE).await?;
    assert_eq!(analyze.len(), 1, "{analyze:?}");
    let future = analyze[0].replace("\"v\":1", "\"v\":99");
    assert_ne!(future, analyze[0]);
    send(&stack, queue::ANALYZE, &future).await?;
    // Garbage naming no image, on both queues.
    send(&stack, queue::ANALYZE, "{not json").await?;
    send(&stack, queue::STAGE_LAYER, r#"{"kind":"stage_layer","v":1,"body":{"account":"admin"}}"#).await?;
    stack.drain().await?;

    let img = by_tag(&stack, &tag_a).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    let err = img["analysis_error"].as_str().unwrap_or_default();
    assert!(err.contains("the stage_layer message for this image could not be read"), "{err}");
    let img = by_tag(&stack, &tag_b).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    let err = img["analysis_error"].as_str().unwrap_or_default();
    assert!(err.contains("the analyze_image message for this image could not be read"), "{err}");
    assert!(err.contains("99"), "the unknown version is named: {err}");
    for q in [queue::ANALYZE, queue::STAGE_LAYER] {
        assert!(take_all(&stack, q).await?.is_empty(), "{q}: a message came back");
        assert!(take_all(&stack, &format!("{q}-dlq")).await?.is_empty(), "{q}: a message reached the DLQ");
    }
    Ok(())
}
