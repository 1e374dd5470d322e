#![doc = include_str!("../README.md")]

use std::collections::HashMap;

use customs_contracts::{AnalyzeImage, EvaluateImage, Message, StageLayer, decode, queue, route};
use customs_image::layer::Limits;
use customs_image::{Credentials, Platform, Registry, Staging};
use customs_model::ImageRef;
use customs_model::fs::FileSource as _;
use customs_runtime::Queues;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::{
    AnalysisResult, Claim, LayerRecord, NewStagingJob, PendingLayer, SecretBox, StagedLayerRecord, StagingProgress, Store,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{Instrument as _, info, instrument, warn};

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    pub registry: Registry,
    pub queues: Queues,
    /// Opens the registry passwords stored by `POST /v1/registries`.
    pub secrets: SecretBox,
    /// The staging bucket, where each distinct layer is unpacked once.
    pub staging: Staging,
    pub limits: Limits,
    /// First redelivery delay of a retryable failure, doubled per receive (capped at 15 min).
    pub retry_backoff: std::time::Duration,
    /// Largest total of compressed bytes of an image's unstaged layers that `analyze`
    /// stages itself, concurrently, instead of fanning out one `StageLayer` per layer
    /// (`CUSTOMS_INLINE_STAGING_BYTES`; 0 always fans out).
    pub inline_staging_bytes: u64,
}

/// How many layers an inline staging fetches at once.
const INLINE_CONCURRENCY: usize = 3;

/// The Lambda handler: a batch of `AnalyzeImage` (the analyze queue) and `StageLayer`
/// (the stage-layer queue, fanned out by `AnalyzeImage`) messages. A message that does not
/// decode is never retried (it would fail alike on every delivery): see `unreadable`.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    let (mut images, mut layers) = (Event::default(), Event::default());
    let mut failed = Vec::new();
    for r in event.records {
        let body = r.body.as_deref().unwrap_or_default();
        let is_layer = field(body, "kind").as_deref() == Some(StageLayer::KIND);
        let undecodable = if is_layer { decode::<StageLayer>(body).err() } else { decode::<AnalyzeImage>(body).err() };
        match undecodable {
            Some(e) => {
                let id = r.message_id.clone().unwrap_or_default();
                let span = tracing::info_span!("message", queue = if is_layer { queue::STAGE_LAYER } else { queue::ANALYZE }, message_id = %id);
                // Boxed: its future nests the failure recording, deep enough to overflow the
                // compiler's layout query limit inline.
                if Box::pin(unreadable(body, &e, is_layer, deps).instrument(span)).await.is_err() {
                    failed.push(id);
                }
            }
            None if is_layer => layers.records.push(r),
            None => images.records.push(r),
        }
    }
    let (a, b) = tokio::join!(
        sqs::for_each(images, |msg: AnalyzeImage, d| guarded(msg, d, deps)),
        sqs::for_each(layers, |msg: StageLayer, d| async move {
            match stage_layer(msg, d.clone(), deps).await {
                Err(e) => retry_later(deps, queue::STAGE_LAYER, &d, e).await,
                ok => ok,
            }
        }),
    );
    let mut resp = a;
    resp.batch_item_failures.extend(b.batch_item_failures);
    for id in failed {
        let mut f = sqs::BatchItemFailure::default();
        f.item_identifier = id;
        resp.batch_item_failures.push(f);
    }
    resp
}

/// A message that does not decode (garbled, truncated, of an unknown version). When what
/// can be read of it names an image (`account` and `image_id`, and for a layer its
/// `job_id`), that image's analysis fails with the reason, since the work the message
/// stood for will never be done; otherwise it is logged and acknowledged. Only a failure
/// to record the failure (the database) is retried.
async fn unreadable(body: &str, e: &customs_contracts::DecodeError, is_layer: bool, deps: &Deps) -> Result<(), Retry> {
    let kind = if is_layer { StageLayer::KIND } else { AnalyzeImage::KIND };
    let account = field(body, "account");
    let image_id = field(body, "image_id").and_then(|v| uuid::Uuid::parse_str(&v).ok());
    let job_id = field(body, "job_id").and_then(|v| uuid::Uuid::parse_str(&v).ok()).filter(|_| is_layer);
    let (Some(account), Some(image_id)) = (account, image_id) else {
        let start: String = body.chars().take(256).collect();
        tracing::error!(error = %e, body = %start, "Unreadable message names no image; acknowledged");
        return Ok(());
    };
    let reason = format!("the {kind} message for this image could not be read, so the analysis cannot go on: {e}");
    record_failure(deps, &account, image_id, job_id, reason).await
}

/// The string value of the first `"key": "…"` in `raw`, read leniently so that a
/// truncated or otherwise broken message still names what it can.
fn field(raw: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let mut rest = raw;
    while let Some(at) = rest.find(&quoted) {
        rest = &rest[at + quoted.len()..];
        let Some(v) = rest.trim_start().strip_prefix(':').map(str::trim_start).and_then(|v| v.strip_prefix('"')) else { continue };
        let mut out = String::new();
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(chars.next()?),
                c => out.push(c),
            }
        }
        return None;
    }
    None
}

/// How long one analysis may run: the function's timeout less a margin to record the
/// outcome, so that a registry trickling bytes slower than any read timeout still ends in
/// a retry (and, on the last delivery, a recorded failure) rather than a killed function.
fn budget() -> std::time::Duration {
    let secs = route(queue::ANALYZE).map_or(300, |r| r.function_timeout_secs);
    std::time::Duration::from_secs(u64::from(secs.saturating_sub(30).max(30)))
}

/// `analyze`, run so that nothing leaves the image `analyzing` for good: a panic or an
/// overrun of the time budget is a retryable failure, and when the last allowed delivery
/// fails anyway (a database hiccup, say) the failure is recorded before SQS gives up on
/// the message.
async fn guarded(msg: AnalyzeImage, delivery: Delivery, deps: &Deps) -> Result<(), Retry> {
    let last = delivery.receive_count >= max_receives();
    let (account, image_id) = (msg.account.clone(), msg.image_id);
    let run = tokio::spawn({
        let (deps, delivery) = (deps.clone(), delivery.clone());
        async move { tokio::time::timeout(budget(), analyze(msg, delivery, &deps)).await }
    });
    let outcome = match run.await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(Retry(format!("the analysis did not finish within {} s", budget().as_secs()))),
        Err(e) if e.is_panic() => Err(Retry(format!("the analysis crashed: {}", panic_message(e.into_panic())))),
        Err(e) => Err(Retry::new(e)),
    };
    match outcome {
        Err(e) if last => {
            let reason = gave_up(&e);
            warn!(reason = %reason, "Last delivery failed; recording the failure");
            deps.store.fail_analysis(&account, image_id, &reason).await.map_err(Retry::new)?;
            announce(deps, &AnalyzeImage { account, image_id }).await;
            Ok(())
        }
        Err(e) => retry_later(deps, queue::ANALYZE, &delivery, e).await,
        Ok(()) => Ok(()),
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}

/// How many times SQS delivers an analyze message before the DLQ.
fn max_receives() -> u32 {
    route(queue::ANALYZE).map_or(1, |r| r.max_receives)
}

/// Whether `d` is the last delivery SQS makes before the DLQ (then a retryable failure
/// is recorded instead of retried).
fn last_delivery(queue: &str, d: &Delivery) -> bool {
    d.receive_count >= route(queue).map_or(1, |r| r.max_receives)
}

/// Hands a retryable failure back to SQS, to come back after the backoff rather than the
/// queue's visibility timeout (sized for the longest analysis). Best effort: if the
/// visibility cannot be changed, the timeout applies.
async fn retry_later(deps: &Deps, queue: &str, delivery: &Delivery, e: Retry) -> Result<(), Retry> {
    let doublings = delivery.receive_count.saturating_sub(1).min(10);
    let delay = deps.retry_backoff.saturating_mul(1 << doublings).min(std::time::Duration::from_secs(900));
    warn!(error = %e, receive = delivery.receive_count, of = max_receives(), retry_in = ?delay, "Retryable failure");
    if let Err(v) = deps.queues.redeliver_after(queue, delivery, delay).await {
        warn!(error = %v, "Redelivery delay not set; the queue's visibility timeout applies");
    }
    Err(e)
}

/// The reason recorded when the last allowed delivery fails retryably.
fn gave_up(e: &Retry) -> String {
    format!("{e} (gave up after {} attempts)", max_receives())
}

/// Resolves the image and records its staging job: with every layer staged already it
/// assembles the image at once; otherwise it sends one `StageLayer` per layer not staged
/// yet, and the last of those to finish assembles it. Uploaded archives are staged and
/// assembled here, in one invocation (the archive is downloaded once, whole).
#[instrument(skip_all, fields(account = %msg.account, image_id = %msg.image_id))]
async fn analyze(msg: AnalyzeImage, delivery: Delivery, deps: &Deps) -> Result<(), Retry> {
    let image = match deps
        .store
        .begin_analysis(&msg.account, msg.image_id)
        .await
        .map_err(Retry::new)?
    {
        Claim::Claimed(img) => img,
        Claim::Finished(img) => {
            info!(status = %img.analysis_status, "Image already finished; nothing to analyse");
            if img.analysis_status == customs_model::AnalysisStatus::Analyzed {
                // A redelivery after a failed send: evaluation is idempotent, queue it again.
                deps.queues
                    .send(&EvaluateImage {
                        account: msg.account.clone(),
                        image_id: img.id,
                    })
                    .await
                    .map_err(Retry::new)?;
            }
            return Ok(());
        }
        Claim::Gone => {
            info!("Image record is gone; nothing to do");
            return Ok(());
        }
    };
    let (account, image_id) = (msg.account.as_str(), msg.image_id);
    let last = last_delivery(queue::ANALYZE, &delivery);
    let fail = |reason: String| record_failure(deps, account, image_id, None, reason);
    let Some(platform) = Platform::parse(&image.platform) else {
        return fail(format!(
            "platform {:?} is not os/arch[/variant]",
            image.platform
        ))
        .await;
    };
    if let Some(upload) = image.source_ref.strip_prefix(UPLOAD_PREFIX) {
        let (fetched, staged) = match fetch_upload(upload, image_id, &platform, deps).await {
            Ok(v) => v,
            Err(Failure::Retry(e)) if !last => return Err(e),
            Err(Failure::Retry(e)) => return fail(e.to_string()).await,
            Err(Failure::Final(reason)) => return fail(reason).await,
        };
        record_staged(deps, &staged).await?;
        let layers = staged.into_iter().map(|s| s.layer).collect();
        return assemble(deps, account, image_id, None, fetched, layers, HashMap::new(), last).await;
    }
    let resolved = match resolve(&image.source_ref, account, &platform, deps).await {
        Ok(v) => v,
        Err(Failure::Retry(e)) if !last => return Err(e),
        Err(Failure::Retry(e)) => return fail(gave_up(&e)).await,
        Err(Failure::Final(reason)) => return fail(reason).await,
    };
    let (fetched, staged, access) = resolved;
    let plan = match plan(&fetched.layers, &staged) {
        Ok(p) => p,
        Err(reason) => return fail(reason).await,
    };
    let job_id = uuid::Uuid::new_v4();
    let record = ResolvedImage::from(&fetched);
    let resolved_json = serde_json::to_value(&record).map_err(Retry::new)?;
    let started = deps
        .store
        .start_staging_job(
            account,
            image_id,
            &NewStagingJob {
                job_id,
                manifest: &fetched.manifest,
                resolved: &resolved_json,
                pending: &plan.pending.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(),
                assembler: plan.pending.is_empty().then_some(delivery.message_id.as_str()),
                progress: plan.progress,
            },
        )
        .await
        .map_err(Retry::new)?;
    if !started {
        info!("Image no longer being analysed; nothing to do");
        return Ok(());
    }
    if plan.pending.is_empty() {
        info!(%job_id, "Every layer staged already; assembling");
        let layers = match ordered(&fetched.layers, staged) {
            Ok(l) => l,
            Err(reason) => return record_failure(deps, account, image_id, Some(job_id), reason).await,
        };
        return assemble(deps, account, image_id, Some(job_id), fetched, layers, HashMap::new(), last).await;
    }
    let pending_bytes: i64 = plan.pending.iter().map(|(l, _)| l.size.max(0)).sum();
    if u64::try_from(pending_bytes).unwrap_or(u64::MAX) <= deps.inline_staging_bytes {
        let pending: Vec<customs_image::LayerDescriptor> = plan.pending.iter().map(|(l, _)| (*l).clone()).collect();
        info!(%job_id, layers = pending.len(), bytes = pending_bytes, reused = plan.progress.layers_reused, "Staging layers inline");
        let job = InlineJob { account, image_id, job_id, delivery: &delivery, last };
        return stage_inline(deps, &job, &access, fetched, staged, &pending).await;
    }
    let msgs: Vec<StageLayer> = plan
        .pending
        .iter()
        .map(|(l, _)| StageLayer {
            account: account.to_owned(),
            image_id,
            job_id,
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            size: l.size,
            diff_id: l.diff_id.clone().unwrap_or_default(),
        })
        .collect();
    // A failed send retries the analysis, whose new job replaces this one.
    deps.queues.send_all(&msgs).await.map_err(Retry::new)?;
    info!(%job_id, layers = msgs.len(), reused = plan.progress.layers_reused, "Fanned out layer staging");
    Ok(())
}

/// The staging job an `AnalyzeImage` delivery stages by itself.
struct InlineJob<'a> {
    account: &'a str,
    image_id: uuid::Uuid,
    job_id: uuid::Uuid,
    delivery: &'a Delivery,
    last: bool,
}

/// Stages `pending` (the job's unstaged layers, one per blob) in this invocation, a
/// few at once, marking each done in the job as the `StageLayer` path does (progress
/// moves; the last one makes this delivery the assembler), then assembles the image from
/// the layers just staged and those `staged` already, without reading any index back.
/// Failures map as on the fan-out path: retryable ones retry the analyze message (its
/// next delivery starts a new job, finding the layers staged so far), final ones and the
/// last delivery's fail the job once.
async fn stage_inline(
    deps: &Deps,
    job: &InlineJob<'_>,
    access: &Access,
    fetched: customs_image::FetchedImage,
    mut staged: HashMap<String, customs_image::StagedLayer>,
    pending: &[customs_image::LayerDescriptor],
) -> Result<(), Retry> {
    use futures::StreamExt as _;
    let fail = |reason: String| record_failure(deps, job.account, job.image_id, Some(job.job_id), reason);
    // Indexes rather than `&LayerDescriptor`s: a closure taking a reference makes the
    // future's `Send` proof higher-ranked, which the compiler cannot do across `spawn`.
    let mut done = futures::stream::iter(0..pending.len())
        .map(|i| stage_pending(deps, job, access, &pending[i]))
        .buffer_unordered(INLINE_CONCURRENCY);
    let mut elected = false;
    let mut fresh = HashMap::new();
    while let Some(r) = done.next().await {
        match r {
            Ok(Some((layer, files, now))) => {
                // Snapshots come back in any order; the one that took the count to zero names us.
                elected |= now.assembler.as_deref() == Some(job.delivery.message_id.as_str());
                info!(digest = %layer.digest, pending = now.layers_pending, "Layer staged inline");
                fresh.insert(layer.digest.clone(), files);
                staged.insert(layer.digest.clone(), layer);
            }
            Ok(None) => {
                info!("Staging job ended meanwhile (a newer delivery replaced it); nothing to do");
                return Ok(());
            }
            Err(Failure::Retry(e)) if !job.last => return Err(e),
            Err(Failure::Retry(e)) => return fail(gave_up(&e)).await,
            Err(Failure::Final(reason)) => return fail(reason).await,
        }
    }
    drop(done);
    if !elected {
        info!("Another delivery assembles this job; nothing to do");
        return Ok(());
    }
    let layers = match ordered(&fetched.layers, staged) {
        Ok(l) => l,
        Err(reason) => return fail(reason).await,
    };
    let (account, image_id, job_id) = (job.account, job.image_id, Some(job.job_id));
    assemble(deps, account, image_id, job_id, fetched, layers, fresh, job.last).await
}

/// Stages one of an inline job's layers (which `resolve` has just found unstaged) and
/// marks it done in the job: the layer, its staged files still on local disk, and the
/// job as it now is; or `None` when the job is over.
async fn stage_pending(
    deps: &Deps,
    job: &InlineJob<'_>,
    (reference, creds, insecure): &Access,
    l: &customs_image::LayerDescriptor,
) -> Result<Option<Staged>, Failure> {
    let (layer, files) = deps
        .registry
        .stage_unstaged(reference, creds.as_ref(), *insecure, l, &deps.staging, &deps.limits)
        .await
        .map_err(|e| {
            let r = e.is_retryable();
            staged_failure(e, r)
        })?;
    record_staged_layer(deps, &layer).await.map_err(Failure::Retry)?;
    let now = deps
        .store
        .finish_staged_layer(job.job_id, &l.digest, l.diff_id.as_deref().unwrap_or_default(), &job.delivery.message_id, true)
        .await
        .map_err(|e| Failure::Retry(Retry::new(e)))?;
    Ok(now.map(|j| (layer, files, j)))
}

/// A layer staged inline, its staged files, and the staging job after it.
type Staged = (customs_image::StagedLayer, tempfile::NamedTempFile, customs_store::StagingJob);

/// Stages one layer (unless it is staged already) and, when it was the last one the job
/// waited for, assembles the image. Messages of a job that is over are acknowledged.
#[instrument(skip_all, fields(account = %msg.account, image_id = %msg.image_id, job_id = %msg.job_id, digest = %msg.digest))]
async fn stage_layer(msg: StageLayer, delivery: Delivery, deps: &Deps) -> Result<(), Retry> {
    let (account, image_id, job_id) = (msg.account.as_str(), msg.image_id, msg.job_id);
    let last = last_delivery(queue::STAGE_LAYER, &delivery);
    let fail = |reason: String| record_failure(deps, account, image_id, Some(job_id), reason);
    let Some(job) = deps.store.staging_job(job_id).await.map_err(Retry::new)? else {
        info!("Staging job is over; nothing to do");
        return requeue_evaluation(&msg, &delivery, deps).await;
    };
    if job.legacy {
        // Its layers wait by diff id, and those it staged are under the old keys: the
        // analysis starts over, once (one delivery claims it), and its new job replaces
        // this one, whose other messages then find it over.
        if !deps.store.claim_start_over(job_id, &delivery.message_id).await.map_err(Retry::new)? {
            info!("Staging job of the release before, started over by another delivery; nothing to do");
            return Ok(());
        }
        info!("Staging job of the release before; analysing the image again");
        return match deps.queues.send(&AnalyzeImage { account: msg.account.clone(), image_id: msg.image_id }).await {
            Ok(_) => Ok(()),
            Err(e) if !last => Err(Retry::new(e)),
            Err(e) => fail(format!("the analysis could not be started over: {e}")).await,
        };
    }
    // This delivery's layer as it found or staged it (with its files still on local disk
    // when it staged them): if it assembles the image, neither is read back again.
    let mut fresh = None;
    if job.pending.contains(&msg.digest) {
        match stage_one(&msg, deps).await {
            Ok(f) => fresh = Some(f),
            Err(Failure::Retry(e)) if !last => return Err(e),
            Err(Failure::Retry(e)) => return fail(gave_up(&e)).await,
            Err(Failure::Final(reason)) => return fail(reason).await,
        }
    }
    let fetched = fresh.as_ref().is_some_and(|(_, files): &(customs_image::StagedLayer, Option<_>)| files.is_some());
    let Some(job) = deps
        .store
        .finish_staged_layer(job_id, &msg.digest, &msg.diff_id, &delivery.message_id, fetched)
        .await
        .map_err(Retry::new)?
    else {
        info!("Staging job ended meanwhile; nothing to do");
        return Ok(());
    };
    if job.assembler.as_deref() != Some(delivery.message_id.as_str()) {
        info!(pending = job.layers_pending, fetched, "Layer ready");
        return Ok(());
    }
    info!(fetched, "Last layer ready; assembling");
    let image = match ResolvedImage::parse(&job.resolved) {
        Ok(r) => r.into_fetched(job.manifest),
        Err(e) => return fail(format!("staging job record is unreadable: {e}")).await,
    };
    let held = fresh.as_ref().map(|(l, _)| l.digest.clone());
    let others = image.layers.iter().map(|l| l.digest.as_str()).filter(|d| held.as_deref() != Some(*d));
    let mut staged = match deps.staging.indexes(others).await {
        Ok(s) => s,
        Err(e) if e.is_retryable() && !last => return Err(Retry::new(e)),
        Err(e) => return fail(e.to_string()).await,
    };
    let mut files = HashMap::new();
    if let Some((layer, tmp)) = fresh {
        if let Some(tmp) = tmp {
            files.insert(layer.digest.clone(), tmp);
        }
        staged.insert(layer.digest.clone(), layer);
    }
    if let Some(d) = image.layers.iter().map(|l| l.digest.as_str()).find(|d| !staged.contains_key(*d)) {
        if !last {
            return Err(Retry(format!("staged layer {d} is missing")));
        }
        return fail(format!("staged layer {d} is missing")).await;
    }
    let layers = match ordered(&image.layers, staged) {
        Ok(l) => l,
        Err(reason) => return fail(reason).await,
    };
    assemble(deps, account, image_id, Some(job_id), image, layers, files, last).await
}

/// A job that is over was assembled or failed. If this message is a redelivery (its
/// first delivery may have assembled the image and crashed before queueing the
/// evaluation), queue the evaluation again: it is idempotent.
async fn requeue_evaluation(msg: &StageLayer, delivery: &Delivery, deps: &Deps) -> Result<(), Retry> {
    if delivery.receive_count < 2 {
        return Ok(());
    }
    let image = deps.store.image(&msg.account, msg.image_id).await.map_err(Retry::new)?;
    if image.is_some_and(|i| i.analysis_status == customs_model::AnalysisStatus::Analyzed) {
        deps.queues
            .send(&EvaluateImage { account: msg.account.clone(), image_id: msg.image_id })
            .await
            .map_err(Retry::new)?;
    }
    Ok(())
}

/// Downloads and stages the message's layer unless its index is in the bucket already.
/// Returns the staged layer, with its staged files (on local disk) when it was downloaded.
async fn stage_one(msg: &StageLayer, deps: &Deps) -> Result<(customs_image::StagedLayer, Option<tempfile::NamedTempFile>), Failure> {
    let image = deps
        .store
        .image(&msg.account, msg.image_id)
        .await
        .map_err(|e| Failure::Retry(Retry::new(e)))?
        .ok_or_else(|| Failure::Final("the image record is gone".into()))?;
    let (reference, creds, insecure) = registry_access(&image.source_ref, &msg.account, deps).await?;
    let layer = customs_image::LayerDescriptor {
        digest: msg.digest.clone(),
        media_type: msg.media_type.clone(),
        size: msg.size,
        diff_id: Some(msg.diff_id.clone()),
    };
    let staged = deps.staging.index(&msg.digest).await.map_err(|e| {
        let r = e.is_retryable();
        staged_failure(e, r)
    })?;
    if let Some(layer) = staged {
        return Ok((layer, None));
    }
    let (layer, files) = deps
        .registry
        .stage_unstaged(&reference, creds.as_ref(), insecure, &layer, &deps.staging, &deps.limits)
        .await
        .map_err(|e| {
            let r = e.is_retryable();
            staged_failure(e, r)
        })?;
    record_staged_layer(deps, &layer).await.map_err(Failure::Retry)?;
    Ok((layer, Some(files)))
}

/// Records the layers this invocation staged (idempotent).
async fn record_staged(deps: &Deps, staged: &[customs_image::StagedOutcome]) -> Result<(), Retry> {
    for s in staged.iter().filter(|s| s.fetched) {
        record_staged_layer(deps, &s.layer).await?;
    }
    Ok(())
}

/// Records one layer this invocation staged (idempotent).
async fn record_staged_layer(deps: &Deps, l: &customs_image::StagedLayer) -> Result<(), Retry> {
    deps.store
        .record_staged_layer(&StagedLayerRecord {
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            compressed_size: n(l.compressed_size),
            uncompressed_size: n(l.uncompressed_size),
            entry_count: n(l.entries.len() as u64),
            staged_files: n(l.staged_files),
            staged_bytes: n(l.staged_bytes),
        })
        .await
        .map_err(Retry::new)?;
    Ok(())
}

/// What a panic said (its payload is a `&str` or a `String` when it said anything).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("no message")
}

fn n(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Records a failed analysis and announces it. With a staging job, only the first
/// failure of the job is recorded (one failing layer fails the image once).
async fn record_failure(deps: &Deps, account: &str, image_id: uuid::Uuid, job: Option<uuid::Uuid>, reason: String) -> Result<(), Retry> {
    warn!(reason = %reason, "Analysis failed");
    let recorded = match job {
        Some(job_id) => deps.store.fail_staging_job(account, image_id, job_id, &reason).await.map_err(Retry::new)?,
        None => {
            deps.store.fail_analysis(account, image_id, &reason).await.map_err(Retry::new)?;
            true
        }
    };
    if recorded {
        announce(deps, &AnalyzeImage { account: account.to_owned(), image_id }).await;
    } else {
        info!("The analysis had ended already; failure not recorded");
    }
    Ok(())
}

/// Catalogs the staged layers, squashes the view and records the analysis (for a
/// staging job: only if the job is still on, ending it), then queues the evaluation.
async fn assemble(
    deps: &Deps,
    account: &str,
    image_id: uuid::Uuid,
    job: Option<uuid::Uuid>,
    fetched: customs_image::FetchedImage,
    mut layers: Vec<customs_image::StagedLayer>,
    fresh: HashMap<String, tempfile::NamedTempFile>,
    last: bool,
) -> Result<(), Retry> {
    let fail = |reason: String| record_failure(deps, account, image_id, job, reason);
    // The view takes the layers' entries; their counts are recorded.
    let entry_counts: Vec<usize> = layers.iter().map(|l| l.entries.len()).collect();
    let source = match customs_image::StagedImage::load_with(&deps.staging, &mut layers, fresh).await {
        Ok(s) => s,
        Err(e) if !last => return Err(Retry::new(e)),
        Err(e) => return fail(gave_up(&Retry::new(e))).await,
    };
    // The file index is written (JSON, compressed) on a thread of its own while the
    // catalogers run: never as a `Value` tree, nor as one whole JSON string.
    let (catalog, files, source) = match tokio::task::spawn_blocking(move || {
        let (catalog, files) = std::thread::scope(|s| {
            let encode = || customs_store::FileIndex::encode(&source.view().entries).map_err(|e| format!("the file index cannot be written: {e}"));
            let files = std::thread::Builder::new().name("file-index".into()).spawn_scoped(s, encode);
            let catalog = customs_catalog::catalog(&source);
            let files = match files {
                Ok(thread) => thread.join().unwrap_or_else(|panic| Err(format!("writing the file index crashed: {}", panic_text(&panic)))),
                // No thread to spare: written here, after the catalogers.
                Err(_) => encode(),
            };
            (catalog, files)
        });
        (catalog, files, source)
    })
    .await
    {
        Ok(done) => done,
        Err(e) => return fail(format!("cataloguing crashed: {e}")).await,
    };
    info!(packages = catalog.packages.len(), distro = ?catalog.distro.as_ref().map(|d| &d.namespace), "Catalogued image");
    let files = match files {
        Ok(files) => files,
        Err(reason) => return fail(reason).await,
    };
    let view = source.view();
    let mut findings: Vec<serde_json::Value> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.findings.iter().map(move |(path, reason)| json!({ "layer": i, "path": path, "reason": reason })))
        .collect();
    findings.extend(view.findings.iter().map(|f| json!({ "layer": f.layer, "path": f.path, "reason": f.reason })));
    if !findings.is_empty() {
        warn!(count = findings.len(), "Entries left out of the squashed view");
    }
    let result = AnalysisResult {
        image_digest: fetched.digest,
        parent_digest: fetched.parent_digest,
        manifest_media_type: fetched.media_type,
        manifest: fetched.manifest,
        config_digest: fetched.config_digest,
        config: fetched.config,
        arch: fetched.arch,
        os: fetched.os,
        image_size: fetched.size,
        layers: fetched
            .layers
            .into_iter()
            .zip(layers.iter().zip(&entry_counts))
            .map(|(l, (s, &entries))| LayerRecord {
                digest: l.digest,
                media_type: l.media_type,
                size: l.size,
                diff_id: l.diff_id,
                uncompressed_size: Some(n(s.uncompressed_size)),
                entry_count: Some(n(entries as u64)),
            })
            .collect(),
        findings: serde_json::Value::Array(findings),
        file_count: n(view.entries.len() as u64),
        catalog_unknowns: serde_json::to_value(&catalog.unknowns).unwrap_or_default(),
        files,
        distro: catalog.distro,
        packages: catalog.packages,
    };
    let stored = match job {
        Some(job_id) => deps.store.complete_staged_analysis(account, image_id, job_id, &result).await,
        None => deps.store.complete_analysis(account, image_id, &result).await.map(Some),
    };
    let stored = match stored {
        Ok(Some(img)) => img,
        Ok(None) => {
            info!("Staging job already assembled, failed or replaced; dropping this assembly");
            return Ok(());
        }
        Err(customs_store::StoreError::ImageNotFound(_)) => {
            info!("Image was deleted during analysis; dropping the result");
            return Ok(());
        }
        Err(e) => return Err(Retry::new(e)),
    };
    info!(digest = ?stored.image_digest, layers = stored.layer_count, "Analyzed image");
    announce(deps, &AnalyzeImage { account: account.to_owned(), image_id: stored.id }).await;
    deps.queues
        .send(&EvaluateImage {
            account: account.to_owned(),
            image_id: stored.id,
        })
        .await
        .map_err(Retry::new)?;
    Ok(())
}

/// What a staging job keeps of the resolved image besides the manifest bytes, so the
/// delivery that finishes the last layer can assemble it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ResolvedImage {
    digest: String,
    parent_digest: Option<String>,
    media_type: String,
    config_digest: String,
    config: serde_json::Value,
    layers: Vec<ResolvedLayer>,
    os: Option<String>,
    arch: Option<String>,
    size: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ResolvedLayer {
    digest: String,
    media_type: String,
    size: i64,
    diff_id: Option<String>,
}

impl From<&customs_image::FetchedImage> for ResolvedImage {
    fn from(f: &customs_image::FetchedImage) -> Self {
        Self {
            digest: f.digest.clone(),
            parent_digest: f.parent_digest.clone(),
            media_type: f.media_type.clone(),
            config_digest: f.config_digest.clone(),
            config: f.config.clone(),
            layers: f
                .layers
                .iter()
                .map(|l| ResolvedLayer { digest: l.digest.clone(), media_type: l.media_type.clone(), size: l.size, diff_id: l.diff_id.clone() })
                .collect(),
            os: f.os.clone(),
            arch: f.arch.clone(),
            size: f.size,
        }
    }
}

impl ResolvedImage {
    fn parse(v: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(v)
    }

    fn into_fetched(self, manifest: Vec<u8>) -> customs_image::FetchedImage {
        customs_image::FetchedImage {
            digest: self.digest,
            parent_digest: self.parent_digest,
            media_type: self.media_type,
            manifest,
            config_digest: self.config_digest,
            config: self.config,
            layers: self
                .layers
                .into_iter()
                .map(|l| customs_image::LayerDescriptor { digest: l.digest, media_type: l.media_type, size: l.size, diff_id: l.diff_id })
                .collect(),
            os: self.os,
            arch: self.arch,
            size: self.size,
        }
    }
}

/// The staging work an image needs: one entry per distinct blob not staged yet (in
/// manifest order, with the first layer that has it), and the progress to start from.
#[derive(Debug, PartialEq)]
struct Plan<'a> {
    pending: Vec<(&'a customs_image::LayerDescriptor, PendingLayer)>,
    progress: StagingProgress,
}

fn plan<'a, T>(layers: &'a [customs_image::LayerDescriptor], staged: &HashMap<String, T>) -> Result<Plan<'a>, String> {
    let mut progress = StagingProgress {
        layers_total: i32::try_from(layers.len()).unwrap_or(i32::MAX),
        bytes_total: layers.iter().map(|l| l.size.max(0)).sum(),
        ..StagingProgress::default()
    };
    let mut pending: Vec<(&customs_image::LayerDescriptor, PendingLayer)> = Vec::new();
    for l in layers {
        let Some(diff_id) = l.diff_id.as_deref() else {
            return Err(format!("malformed image config: no diff_id for layer {}", l.digest));
        };
        let d = l.digest.as_str();
        if staged.contains_key(d) {
            progress.layers_staged += 1;
            progress.layers_reused += 1;
            progress.bytes_staged += l.size.max(0);
        } else if let Some((_, p)) = pending.iter_mut().find(|(_, p)| p.digest == d) {
            p.layers += 1;
            p.bytes += l.size.max(0);
        } else {
            pending.push((l, PendingLayer { digest: d.to_owned(), diff_id: diff_id.to_owned(), layers: 1, bytes: l.size.max(0) }));
        }
    }
    Ok(Plan { pending, progress })
}

/// The staged layers in the image's order. Each is moved out of `staged`, not copied (an
/// index holds every entry of its layer); a layer listed twice is copied for its second place.
fn ordered(layers: &[customs_image::LayerDescriptor], mut staged: HashMap<String, customs_image::StagedLayer>) -> Result<Vec<customs_image::StagedLayer>, String> {
    let mut out: Vec<customs_image::StagedLayer> = Vec::with_capacity(layers.len());
    for l in layers {
        let d = l.digest.as_str();
        let layer = match staged.remove(d) {
            Some(s) => s,
            None => out.iter().find(|s| s.digest == d).cloned().ok_or_else(|| format!("staged layer {d} is missing"))?,
        };
        out.push(layer);
    }
    Ok(out)
}

/// `source_ref` of an uploaded archive: `upload:<format>:<key in the staging bucket>`.
const UPLOAD_PREFIX: &str = "upload:";
/// Largest uploaded archive analysed (Lambda's ephemeral storage goes to 10 GiB).
const MAX_UPLOAD_BYTES: u64 = 8 << 30;

/// Why resolving and staging stopped: worth another delivery, or final (the reason).
enum Failure {
    Retry(Retry),
    Final(String),
}

type Fetched = (customs_image::FetchedImage, Vec<customs_image::StagedOutcome>);

fn staged_failure(e: impl std::error::Error + Send + Sync + 'static, retryable: bool) -> Failure {
    if retryable { Failure::Retry(Retry::new(e)) } else { Failure::Final(e.to_string()) }
}

/// The registry reference of `source_ref`, with the account's credentials for it and
/// whether it is marked insecure.
async fn registry_access(source_ref: &str, account: &str, deps: &Deps) -> Result<Access, Failure> {
    let reference = ImageRef::parse(source_ref).map_err(|e| Failure::Final(e.to_string()))?;
    let stored = deps.store.registry_credential(&deps.secrets, account, &reference.registry).await;
    let (creds, insecure) = match stored {
        Ok(Some(c)) => (
            Some(Credentials { username: c.record.registry_user.clone(), password: c.password.clone() }),
            !c.record.registry_verify,
        ),
        Ok(None) => (None, false),
        Err(customs_store::StoreError::Secret(e)) => {
            return Err(Failure::Final(format!("stored credentials for {} cannot be used: {e}", reference.registry)));
        }
        Err(e) => return Err(Failure::Retry(Retry::new(e))),
    };
    Ok((reference, creds, insecure))
}

/// A registry reference with the account's credentials for it and whether it is insecure.
type Access = (ImageRef, Option<Credentials>, bool);

/// Resolves `source_ref` in its registry (manifest and config, verified) and reads the
/// staged index of each of its layers that is staged already (by blob digest).
async fn resolve(
    source_ref: &str,
    account: &str,
    platform: &Platform,
    deps: &Deps,
) -> Result<(customs_image::FetchedImage, HashMap<String, customs_image::StagedLayer>, Access), Failure> {
    let started = std::time::Instant::now();
    let (reference, creds, insecure) = registry_access(source_ref, account, deps).await?;
    let fetched = deps.registry.fetch(&reference, creds.as_ref(), platform, insecure).await.map_err(|e| {
        let r = e.is_retryable();
        staged_failure(e, r)
    })?;
    let fetch_ms = started.elapsed().as_millis();
    let staged = deps.staging.indexes(fetched.layers.iter().map(|l| l.digest.as_str())).await.map_err(|e| {
        let r = e.is_retryable();
        staged_failure(e, r)
    })?;
    tracing::debug!(fetch_ms, indexes_ms = started.elapsed().as_millis() - fetch_ms, staged = staged.len(), "Resolved image");
    Ok((fetched, staged, (reference, creds, insecure)))
}

/// Downloads an uploaded archive (`<format>:<key>`) to a temporary file and stages it.
async fn fetch_upload(upload: &str, image_id: uuid::Uuid, platform: &Platform, deps: &Deps) -> Result<Fetched, Failure> {
    let Some((format, key)) = upload.split_once(':') else {
        return Err(Failure::Final(format!("upload source {upload:?} is not <format>:<key>")));
    };
    let tmp = tempfile::NamedTempFile::new().map_err(|e| Failure::Retry(Retry::new(e)))?;
    match deps.staging.download_object(key, tmp.path(), MAX_UPLOAD_BYTES).await {
        Ok(Some(n)) if n >= MAX_UPLOAD_BYTES => {
            return Err(Failure::Final(format!("the uploaded archive is over the {MAX_UPLOAD_BYTES}-byte limit")));
        }
        Ok(Some(n)) => info!(bytes = n, format, "Downloaded uploaded archive"),
        Ok(None) => {
            return Err(Failure::Final(
                "nothing was uploaded for this image: PUT the archive to the URL from POST /v1/images/uploads before adding it".into(),
            ));
        }
        Err(e) => {
            let r = e.is_retryable();
            return Err(staged_failure(e, r));
        }
    }
    let path = tmp.path().to_owned();
    let source = match format {
        "docker-archive" => customs_image::ImageSource::DockerArchive { path, reference: None },
        "oci-archive" => customs_image::ImageSource::OciArchive { path, reference: None },
        other => return Err(Failure::Final(format!("unknown archive format {other:?}"))),
    };
    let (fetched, staged) = customs_image::stage_archive(&source, &deps.staging, platform, &deps.limits).await.map_err(|e| {
        let r = e.is_retryable();
        staged_failure(e, r)
    })?;
    let n = i32::try_from(staged.len()).unwrap_or(i32::MAX);
    let progress = StagingProgress {
        layers_total: n,
        layers_staged: n,
        layers_reused: i32::try_from(staged.iter().filter(|s| !s.fetched).count()).unwrap_or(i32::MAX),
        bytes_total: fetched.size,
        bytes_staged: fetched.size,
    };
    record_progress(deps, image_id, &progress).await;
    Ok((fetched, staged))
}

/// Best effort: progress is for people watching, never a reason to fail an analysis.
async fn record_progress(deps: &Deps, image_id: uuid::Uuid, p: &StagingProgress) {
    if let Err(e) = deps.store.set_staging_progress(image_id, p).await {
        warn!(error = %e, "Staging progress not recorded");
    }
}

/// Records the analysis events and hands the wanted ones to notify. Best effort: an
/// event recorded but not queued is queued again by the watch tick's outbox sweep.
async fn announce(deps: &Deps, image: &AnalyzeImage) {
    match deps.store.record_analysis_outcome(&image.account, image.image_id).await {
        Ok(ids) => {
            for event_id in ids {
                let msg = customs_contracts::Notify { account: image.account.clone(), event_id };
                if let Err(e) = deps.queues.send(&msg).await {
                    warn!(error = %e, %event_id, "Notification not queued; the outbox sweep will");
                }
            }
        }
        Err(e) => warn!(error = %e, "Analysis events not recorded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use customs_image::LayerDescriptor;

    /// A layer whose blob is `blob` (its digest `sha256:00…0<blob>`), of `size` bytes.
    fn layer(blob: u8, size: i64) -> LayerDescriptor {
        LayerDescriptor {
            digest: digest(blob),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            size,
            diff_id: Some(diff_id(blob)),
        }
    }

    fn digest(blob: u8) -> String {
        format!("sha256:{blob:064x}")
    }

    fn diff_id(blob: u8) -> String {
        format!("sha256:{:064x}", 0x100 + u32::from(blob))
    }

    #[test]
    fn the_plan_fans_out_each_unstaged_blob_once_and_counts_staged_ones_as_reused() {
        // Layers 1 and 3 are the same blob; layer 2 is staged.
        let layers = [layer(0xa, 100), layer(0xb, 10), layer(0xa, 100), layer(0xc, 1)];
        let staged = HashMap::from([(digest(0xb), ())]);
        let p = plan(&layers, &staged).expect("plan");
        let pending: Vec<_> = p.pending.iter().map(|(l, p)| (l.digest.clone(), p.clone())).collect();
        assert_eq!(
            pending,
            [
                (digest(0xa), PendingLayer { digest: digest(0xa), diff_id: diff_id(0xa), layers: 2, bytes: 200 }),
                (digest(0xc), PendingLayer { digest: digest(0xc), diff_id: diff_id(0xc), layers: 1, bytes: 1 }),
            ]
        );
        assert_eq!(
            p.progress,
            StagingProgress { layers_total: 4, layers_staged: 1, layers_reused: 1, bytes_total: 211, bytes_staged: 10 }
        );
        // Staged and pending together account for every layer and byte.
        let pending_layers: i32 = p.pending.iter().map(|(_, p)| p.layers).sum();
        let pending_bytes: i64 = p.pending.iter().map(|(_, p)| p.bytes).sum();
        assert_eq!(p.progress.layers_staged + pending_layers, p.progress.layers_total);
        assert_eq!(p.progress.bytes_staged + pending_bytes, p.progress.bytes_total);
    }

    #[test]
    fn two_blobs_stating_one_diff_id_are_staged_each() {
        // The same tar compressed twice, or a config that lies: either way two contents.
        let mut layers = [layer(0xa, 5), layer(0xb, 6)];
        layers[1].diff_id = layers[0].diff_id.clone();
        let p = plan(&layers, &HashMap::<String, ()>::new()).expect("plan");
        let pending: Vec<&str> = p.pending.iter().map(|(_, p)| p.digest.as_str()).collect();
        assert_eq!(pending, [digest(0xa), digest(0xb)]);
    }

    #[test]
    fn everything_staged_means_nothing_to_fan_out_and_a_missing_diff_id_is_refused() {
        let layers = [layer(0xa, 5), layer(0xb, 6)];
        let staged: HashMap<String, ()> = layers.iter().map(|l| (l.digest.clone(), ())).collect();
        let p = plan(&layers, &staged).expect("plan");
        assert!(p.pending.is_empty());
        assert_eq!((p.progress.layers_staged, p.progress.bytes_staged), (2, 11));
        let mut broken = layers.clone();
        broken[1].diff_id = None;
        assert!(plan(&broken, &staged).is_err_and(|e| e.contains("no diff_id")));
    }

    #[test]
    fn staged_layers_are_put_in_image_order_and_a_repeated_one_in_each_of_its_places() {
        // Told apart by their media type.
        let staged_layer = |blob: u8, tell: &str| customs_image::StagedLayer {
            digest: digest(blob),
            media_type: tell.into(),
            compressed_size: 0,
            uncompressed_size: 0,
            staged_files: 0,
            staged_bytes: 0,
            entries: Vec::new(),
            findings: Vec::new(),
        };
        // Layers 1 and 3 are the same blob.
        let layers = [layer(0xa, 5), layer(0xb, 6), layer(0xa, 5)];
        let staged: HashMap<String, customs_image::StagedLayer> =
            [staged_layer(0xa, "a"), staged_layer(0xb, "b")].into_iter().map(|l| (l.digest.clone(), l)).collect();
        let got = ordered(&layers, staged.clone()).expect("every layer is staged");
        let told: Vec<&str> = got.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(told, ["a", "b", "a"]);
        let mut missing = staged;
        missing.remove(&digest(0xb));
        assert_eq!(ordered(&layers, missing).err().as_deref(), Some(format!("staged layer {} is missing", digest(0xb)).as_str()));
    }

    #[test]
    fn fields_are_read_from_broken_messages() {
        let id = "0b8f3a52-4a0c-4a57-9d51-7a3e0f7f6c11";
        let truncated = format!(r#"{{"kind":"stage_layer","v":1,"body":{{"account":"ad\"min", "image_id" : "{id}","job_id":"{id}","digest":"sha256:0"#);
        assert_eq!(field(&truncated, "kind").as_deref(), Some("stage_layer"));
        assert_eq!(field(&truncated, "account").as_deref(), Some("ad\"min"));
        assert_eq!(field(&truncated, "image_id").as_deref(), Some(id));
        assert_eq!(field(&truncated, "digest"), None, "cut off before its end");
        assert_eq!(field(&truncated, "size"), None);
        assert_eq!(field(r#"{"image_id": 7, "image_id": "x"}"#, "image_id").as_deref(), Some("x"), "a value that is not a string is skipped");
        assert_eq!(field("{not json", "kind"), None);
    }

    #[test]
    fn the_resolved_image_survives_the_staging_job_record() {
        let fetched = customs_image::FetchedImage {
            digest: "sha256:d".into(),
            parent_digest: Some("sha256:p".into()),
            media_type: customs_image::media_type::OCI_MANIFEST.into(),
            manifest: b"{\"schemaVersion\":2}".to_vec(),
            config_digest: "sha256:c".into(),
            config: json!({ "os": "linux" }),
            layers: vec![layer(0xa, 5)],
            os: Some("linux".into()),
            arch: Some("amd64".into()),
            size: 5,
        };
        let stored = serde_json::to_value(ResolvedImage::from(&fetched)).expect("json");
        let back = ResolvedImage::parse(&stored).expect("parse").into_fetched(fetched.manifest.clone());
        assert_eq!(format!("{back:?}"), format!("{fetched:?}"));
    }
}
