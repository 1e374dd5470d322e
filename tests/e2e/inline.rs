//! Images whose unstaged layers total at most `inline_staging_bytes` (compressed) are
//! staged by the analyze invocation itself, a few layers at once, with no stage-layer
//! message: the staging job, its progress and its exactly-once assembly work as on the
//! fan-out path, and the result is the same.

use std::time::Duration;

use anyhow::{Context, Result};
use customs_contracts::{queue, route};
use customs_runtime::sqs::{BatchResponse, Event};
use customs_tests::{CountingProxy, Stack, push_image, registry};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fanout::{GZ, fanning_out, jobs_left, layer, only, record, send, sha, take_all};
use crate::images::add;

/// One analyze-queue record with message id `id`, received for the `receive`th time.
fn delivery(body: &str, id: &str, receive: u32) -> Result<Event> {
    Ok(serde_json::from_value(json!({ "Records": [{
        "messageId": id,
        "body": body,
        "attributes": { "ApproximateReceiveCount": receive.to_string() },
        "messageAttributes": {},
    }]}))?)
}

/// `customs_progress` of the image as `GET /v1/images/{digest}` shows it.
async fn progress(stack: &Stack, img: &Value) -> Result<Value> {
    let digest = img["imageDigest"].as_str().context("no digest")?;
    let got: Value = stack
        .request(reqwest::Method::GET, &format!("/v1/images/{digest}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(got[0]["customs_progress"].clone())
}

/// The image's packages, as comparable JSON, sorted.
async fn packages(stack: &Stack, id: Uuid) -> Result<Vec<String>> {
    let mut out: Vec<String> = stack
        .app
        .store
        .image_packages(id)
        .await?
        .iter()
        .map(|p| serde_json::to_string(p).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    out.sort();
    Ok(out)
}

/// Nothing left on `q` or its dead-letter queue.
async fn quiet(stack: &Stack, q: &str) -> Result<()> {
    assert!(
        take_all(stack, q).await?.is_empty(),
        "{q}: a message is left"
    );
    assert!(
        take_all(stack, &format!("{q}-dlq")).await?.is_empty(),
        "{q}: a message reached the DLQ"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_image_is_staged_by_analyze_alone_with_the_fan_out_result() -> Result<()> {
    let stack = Stack::start().await?;
    let proxy = CountingProxy::start().await?;
    let tag = format!("{}/customs/debian-app:latest", proxy.addr);
    add(&stack, json!({ "tag": tag })).await?;
    // The analyze queue alone finishes the analysis: no stage-layer message is sent.
    only(&stack, queue::ANALYZE)
        .await?
        .drain_until_idle(Duration::from_secs(120))
        .await?;
    assert!(
        take_all(&stack, queue::STAGE_LAYER).await?.is_empty(),
        "nothing fanned out"
    );
    let (img, rec) = record(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(rec.record_version, 2, "added (1), then assembled once (+1)");
    assert_eq!(
        jobs_left(&stack).await?,
        0,
        "the job ended with the assembly"
    );
    let digests: Vec<String> = img["layers"]
        .as_array()
        .context("no layers")?
        .iter()
        .filter_map(|l| l["digest"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(digests.len(), 3, "{img}");
    let gets = proxy.blob_gets();
    for d in &digests {
        assert_eq!(
            gets.iter().filter(|g| *g == d).count(),
            1,
            "{d} fetched once: {gets:?}"
        );
    }
    let p = progress(&stack, &img).await?;
    assert_eq!(
        (
            p["layers_total"].as_i64(),
            p["layers_staged"].as_i64(),
            p["layers_reused"].as_i64()
        ),
        (Some(3), Some(3), Some(0)),
        "{p}"
    );
    assert_eq!(p["bytes_staged"], p["bytes_total"], "{p}");
    stack.drain().await?;

    // The same image through the fan-out (its own bucket: staged afresh): the same result.
    let fanned = fanning_out().await?;
    let tag2 = format!("{}/customs/debian-app:latest", registry());
    add(&fanned, json!({ "tag": tag2 })).await?;
    fanned.drain().await?;
    let (img2, rec2) = record(&fanned, &tag2).await?;
    assert_eq!(img2["analysis_status"], "analyzed", "{img2}");
    assert_eq!(img2["imageDigest"], img["imageDigest"]);
    assert_eq!(
        (rec2.file_count, rec2.package_count),
        (rec.file_count, rec.package_count)
    );
    assert_eq!(img2["findings"], img["findings"]);
    let (inline, fanned_out) = (
        packages(&stack, rec.id).await?,
        packages(&fanned, rec2.id).await?,
    );
    assert!(
        inline.iter().any(|p| p.contains("\"coreutils\"")),
        "dpkg packages recorded"
    );
    assert!(
        inline.iter().any(|p| p.contains("\"requests\"")),
        "python packages recorded"
    );
    assert_eq!(inline, fanned_out);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_analyze_message_stages_and_records_nothing_twice() -> Result<()> {
    let stack = Stack::start().await?;
    let run = Uuid::new_v4().simple().to_string();
    let layers: Vec<_> = ["etc/a", "etc/b", "etc/c"]
        .iter()
        .map(|p| layer(p, format!("{run} {p}\n").as_bytes()))
        .collect();
    let tag = format!("redelivered-{}", &run[..8]);
    push_image("customs/inline", &tag, &layers, None).await?;
    let full = format!("{}/customs/inline:{tag}", registry());
    add(&stack, json!({ "tag": full })).await?;
    let bodies = take_all(&stack, queue::ANALYZE).await?;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    // The message delivered twice at once (a visibility timeout that ran out mid-analysis):
    // the same message id, the second receive.
    let consumer = stack
        .app
        .consumer_for(route(queue::ANALYZE).context("no route")?)?;
    let id = Uuid::new_v4().to_string();
    let (a, b) = (
        tokio::spawn(consumer(delivery(&bodies[0], &id, 1)?)),
        tokio::spawn(consumer(delivery(&bodies[0], &id, 2)?)),
    );
    let responses: Vec<BatchResponse> = vec![a.await?, b.await?];
    for r in &responses {
        assert!(
            r.batch_item_failures.is_empty(),
            "no delivery failed: {responses:?}"
        );
    }
    assert!(
        take_all(&stack, queue::STAGE_LAYER).await?.is_empty(),
        "nothing fanned out"
    );
    let (img, rec) = record(&stack, &full).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(rec.record_version, 2, "added (1), then assembled once (+1)");
    assert_eq!(rec.file_count, Some(3), "etc/a, etc/b and etc/c");
    assert_eq!(jobs_left(&stack).await?, 0);
    let p = progress(&stack, &img).await?;
    assert_eq!(
        (p["layers_total"].as_i64(), p["layers_staged"].as_i64()),
        (Some(3), Some(3)),
        "{p}"
    );
    let staged = stack
        .app
        .store
        .staged_at(&layers.iter().map(|l| sha(&l.1)).collect::<Vec<_>>())
        .await?;
    assert_eq!(
        staged.len(),
        3,
        "each layer recorded staged once: {staged:?}"
    );
    stack.drain().await?;

    // Delivered again after the fact: acknowledged, nothing recorded again.
    send(&stack, queue::ANALYZE, &bodies[0]).await?;
    stack.drain().await?;
    let (img, again) = record(&stack, &full).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(
        (again.record_version, again.analyzed_at),
        (rec.record_version, rec.analyzed_at)
    );
    quiet(&stack, queue::ANALYZE).await?;
    quiet(&stack, queue::STAGE_LAYER).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_layer_under_the_threshold_fails_the_image_once_with_the_reason() -> Result<()> {
    let stack = Stack::start().await?;
    let run = Uuid::new_v4().simple().to_string();
    let good = layer("etc/good", run.as_bytes());
    let (_, gz, diff_id) = layer("etc/broken", run.as_bytes());
    let truncated = (GZ, gz[..gz.len() - 12].to_vec(), diff_id);
    let not_gzip = (GZ, run.as_bytes().to_vec(), sha(run.as_bytes()));
    let tag = format!("broken-{}", &run[..8]);
    push_image(
        "customs/inline",
        &tag,
        &[good.clone(), truncated, not_gzip],
        None,
    )
    .await?;
    let full = format!("{}/customs/inline:{tag}", registry());
    add(&stack, json!({ "tag": full })).await?;
    only(&stack, queue::ANALYZE)
        .await?
        .drain_until_idle(Duration::from_secs(60))
        .await?;
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
    // A permanent failure is not retried, and nothing was fanned out.
    quiet(&stack, queue::ANALYZE).await?;
    quiet(&stack, queue::STAGE_LAYER).await?;
    stack.drain().await?;
    let (img, again) = record(&stack, &full).await?;
    assert_eq!(
        img["analysis_error"].as_str(),
        Some(err),
        "the first reason stays"
    );
    assert_eq!(again.record_version, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_threshold_is_the_compressed_size_of_the_unstaged_layers() -> Result<()> {
    let run = Uuid::new_v4().simple().to_string();
    let layers: Vec<_> = ["etc/x", "etc/y"]
        .iter()
        .map(|p| layer(p, format!("{run} {p}\n").as_bytes()))
        .collect();
    let bytes = u64::try_from(layers.iter().map(|l| l.1.len()).sum::<usize>())?;
    let tag = format!("threshold-{}", &run[..8]);
    push_image("customs/inline", &tag, &layers, None).await?;
    let full = format!("{}/customs/inline:{tag}", registry());
    for (threshold, fans_out) in [(bytes - 1, true), (bytes, false)] {
        let stack = Stack::start_tuned(|s| s.inline_staging_bytes = threshold).await?;
        add(&stack, json!({ "tag": full })).await?;
        only(&stack, queue::ANALYZE)
            .await?
            .drain_until_idle(Duration::from_secs(60))
            .await?;
        let sent = take_all(&stack, queue::STAGE_LAYER).await?;
        assert_eq!(
            sent.len(),
            if fans_out { 2 } else { 0 },
            "threshold {threshold} for {bytes} bytes: {sent:?}"
        );
        let (img, _) = record(&stack, &full).await?;
        let want = if fans_out { "analyzing" } else { "analyzed" };
        assert_eq!(
            img["analysis_status"], want,
            "threshold {threshold} for {bytes} bytes: {img}"
        );
    }
    Ok(())
}
