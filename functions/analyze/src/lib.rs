#![doc = include_str!("../README.md")]

use customs_contracts::{AnalyzeImage, EvaluateImage, queue, route};
use customs_image::layer::Limits;
use customs_image::{Credentials, Platform, Registry, Staging};
use customs_model::fs::SquashedView;
use serde_json::json;
use customs_model::ImageRef;
use customs_runtime::Queues;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::{AnalysisResult, Claim, LayerRecord, SecretBox, StagedLayerRecord, StagingProgress, Store};
use tracing::{info, instrument, warn};

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
}

/// The Lambda handler: one SQS batch of `AnalyzeImage` messages.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    sqs::for_each(event, |msg: AnalyzeImage, d| guarded(msg, d, deps)).await
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
        Err(e) => retry_later(deps, &delivery, e).await,
        Ok(()) => Ok(()),
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}

fn max_receives() -> u32 {
    route(queue::ANALYZE).map_or(1, |r| r.max_receives)
}

/// Hands a retryable failure back to SQS, to come back after the backoff rather than the
/// queue's visibility timeout (sized for the longest analysis). Best effort: if the
/// visibility cannot be changed, the timeout applies.
async fn retry_later(deps: &Deps, delivery: &Delivery, e: Retry) -> Result<(), Retry> {
    let doublings = delivery.receive_count.saturating_sub(1).min(10);
    let delay = deps.retry_backoff.saturating_mul(1 << doublings).min(std::time::Duration::from_secs(900));
    warn!(error = %e, receive = delivery.receive_count, of = max_receives(), retry_in = ?delay, "Retryable failure");
    if let Err(v) = deps.queues.redeliver_after(queue::ANALYZE, delivery, delay).await {
        warn!(error = %v, "Redelivery delay not set; the queue's visibility timeout applies");
    }
    Err(e)
}

/// The reason recorded when the last allowed delivery fails retryably.
fn gave_up(e: &Retry) -> String {
    format!("{e} (gave up after {} attempts)", max_receives())
}

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
    let fail = |reason: String| async move {
        warn!(reason = %reason, "Analysis failed");
        deps.store
            .fail_analysis(account, image_id, &reason)
            .await
            .map_err(Retry::new)?;
        announce(deps, &AnalyzeImage { account: account.to_owned(), image_id }).await;
        Ok(())
    };
    let Some(platform) = Platform::parse(&image.platform) else {
        return fail(format!(
            "platform {:?} is not os/arch[/variant]",
            image.platform
        ))
        .await;
    };
    let got = if let Some(upload) = image.source_ref.strip_prefix(UPLOAD_PREFIX) {
        fetch_upload(upload, image_id, &platform, deps).await
    } else {
        fetch_registry(&image.source_ref, account, image_id, &platform, deps).await
    };
    let (fetched, staged) = match got {
        Ok(v) => v,
        Err(Failure::Retry(e)) if delivery.receive_count < max_receives() => return Err(e),
        Err(Failure::Retry(e)) => return fail(gave_up(&e)).await,
        Err(Failure::Final(reason)) => return fail(reason).await,
    };
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    for s in staged.iter().filter(|s| s.fetched) {
        let l = &s.layer;
        deps.store
            .record_staged_layer(&StagedLayerRecord {
                diff_id: l.diff_id.clone(),
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
    }
    let layers: Vec<customs_image::StagedLayer> = staged.iter().map(|s| s.layer.clone()).collect();
    let source = match customs_image::StagedImage::load(&deps.staging, &layers).await {
        Ok(s) => s,
        Err(e) if delivery.receive_count < max_receives() => return Err(Retry::new(e)),
        Err(e) => return fail(gave_up(&Retry::new(e))).await,
    };
    let catalog = match tokio::task::spawn_blocking(move || {
        let catalog = customs_catalog::catalog(&source);
        (catalog, source)
    })
    .await
    {
        Ok((c, _source)) => c,
        Err(e) => return fail(format!("cataloguing crashed: {e}")).await,
    };
    info!(packages = catalog.packages.len(), distro = ?catalog.distro.as_ref().map(|d| &d.namespace), "Catalogued image");
    let view = SquashedView::squash(staged.iter().map(|s| s.layer.entries.as_slice()));
    let mut findings: Vec<serde_json::Value> = staged
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.layer.findings.iter().map(move |(path, reason)| json!({ "layer": i, "path": path, "reason": reason })))
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
            .zip(&staged)
            .map(|(l, s)| LayerRecord {
                digest: l.digest,
                media_type: l.media_type,
                size: l.size,
                diff_id: l.diff_id,
                uncompressed_size: Some(n(s.layer.uncompressed_size)),
                entry_count: Some(n(s.layer.entries.len() as u64)),
            })
            .collect(),
        findings: serde_json::Value::Array(findings),
        file_count: n(view.entries.len() as u64),
        catalog_unknowns: serde_json::to_value(&catalog.unknowns).unwrap_or_default(),
        files: serde_json::to_value(view.entries.values().collect::<Vec<_>>()).unwrap_or_default(),
        distro: catalog.distro,
        packages: catalog.packages,
    };
    let stored = match deps
        .store
        .complete_analysis(&msg.account, msg.image_id, &result)
        .await
    {
        Ok(img) => img,
        Err(customs_store::StoreError::ImageNotFound(_)) => {
            info!("Image was deleted during analysis; dropping the result");
            return Ok(());
        }
        Err(e) => return Err(Retry::new(e)),
    };
    info!(digest = ?stored.image_digest, layers = stored.layer_count, "Analyzed image");
    announce(deps, &AnalyzeImage { account: msg.account.clone(), image_id: stored.id }).await;
    deps.queues
        .send(&EvaluateImage {
            account: msg.account.clone(),
            image_id: stored.id,
        })
        .await
        .map_err(Retry::new)?;
    Ok(())
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

/// Resolves `source_ref` in its registry and stages every layer not staged yet.
async fn fetch_registry(source_ref: &str, account: &str, image_id: uuid::Uuid, platform: &Platform, deps: &Deps) -> Result<Fetched, Failure> {
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
    let fetched = deps.registry.fetch(&reference, creds.as_ref(), platform, insecure).await.map_err(|e| {
        let r = e.is_retryable();
        staged_failure(e, r)
    })?;
    // One layer at a time, so `customs_progress` moves as each is staged.
    let mut progress = StagingProgress {
        layers_total: i32::try_from(fetched.layers.len()).unwrap_or(i32::MAX),
        bytes_total: fetched.layers.iter().map(|l| l.size.max(0)).sum(),
        ..StagingProgress::default()
    };
    record_progress(deps, image_id, &progress).await;
    let mut staged = Vec::with_capacity(fetched.layers.len());
    for l in &fetched.layers {
        let one = deps
            .registry
            .stage_layers(&reference, creds.as_ref(), insecure, std::slice::from_ref(l), &deps.staging, &deps.limits)
            .await
            .map_err(|e| {
                let r = e.is_retryable();
                staged_failure(e, r)
            })?;
        for s in one {
            progress.layers_staged += 1;
            progress.layers_reused += i32::from(!s.fetched);
            progress.bytes_staged += l.size.max(0);
            staged.push(s);
        }
        record_progress(deps, image_id, &progress).await;
    }
    Ok((fetched, staged))
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
