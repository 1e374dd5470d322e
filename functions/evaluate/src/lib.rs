#![doc = include_str!("../README.md")]

use std::collections::BTreeSet;

use customs_contracts::EvaluateImage;
use customs_matcher::{match_packages, Advisory};
use customs_model::package::Distro;
use customs_model::AnalysisStatus;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::{Store, StoreError};
use serde_json::{json, Value};
use tracing::{info, instrument};

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    /// Where events for subscribed changes are handed to notify (`None`: record only).
    pub queues: Option<customs_runtime::Queues>,
}

/// The Lambda handler: one SQS batch of `EvaluateImage` messages.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    sqs::for_each(event, |msg: EvaluateImage, d| process(msg, d, deps)).await
}

#[instrument(skip_all, fields(account = %msg.account, image_id = %msg.image_id))]
async fn process(msg: EvaluateImage, _d: Delivery, deps: &Deps) -> Result<(), Retry> {
    let Some(img) = deps.store.image(&msg.account, msg.image_id).await.map_err(Retry::new)? else {
        info!("Image is gone; nothing to evaluate");
        return Ok(());
    };
    if img.analysis_status != AnalysisStatus::Analyzed {
        info!(status = %img.analysis_status, "Image not analysed; nothing to evaluate");
        return Ok(());
    }
    let packages = deps.store.image_packages(img.id).await.map_err(Retry::new)?;
    let distro = match (&img.distro, &img.distro_version, &img.distro_namespace) {
        (Some(id), Some(version), Some(namespace)) => {
            Some(Distro { id: id.clone(), version: version.clone(), namespace: namespace.clone(), id_like: vec![], pretty_name: None })
        }
        _ => None,
    };
    let mut keys: Vec<(String, String)> = packages.iter().flat_map(|p| customs_matcher::keys_for(p, distro.as_ref())).collect();
    keys.sort();
    keys.dedup();
    // One batched query for every package of the image.
    let candidates = deps.store.match_candidates(&keys).await.map_err(Retry::new)?;
    let advisories: Vec<Advisory> = candidates
        .into_iter()
        .map(|c| Advisory {
            feed: c.feed,
            vuln_id: c.vuln_id,
            aliases: c.aliases,
            namespace: c.namespace,
            package: c.package,
            version_format: c.version_format,
            ranges: c.ranges,
            versions: c.versions,
            fixed: c.fixed,
            state: c.state,
            severity: c.severity,
            vuln_severity: c.vuln_severity,
            severity_source: c.severity_source,
            cvss: c.cvss,
            refs: c.refs,
        })
        .collect();
    let findings = match_packages(&packages, distro.as_ref(), &advisories);
    let cves: Vec<String> = findings.iter().map(|f| f.vuln.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let enrich = deps.store.enrichments(&cves).await.map_err(Retry::new)?;
    let stored: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            if let (Some(o), Some(e)) = (v.as_object_mut(), enrich.iter().find(|e| e.cve == f.vuln)) {
                o.insert("kev".into(), json!(e.kev_date_added.map(|d| d.to_string())));
                o.insert("epss".into(), json!({ "score": e.epss_score, "percentile": e.epss_percentile }));
            }
            v
        })
        .collect();
    let previous = deps.store.vulnerabilities(img.id).await.map_err(Retry::new)?;
    match deps.store.save_vulnerabilities(img.id, &Value::Array(stored)).await {
        Ok(()) => {}
        Err(StoreError::ImageNotFound(_)) => {
            deleted_meanwhile();
            return Ok(());
        }
        Err(e) => return Err(Retry::new(e)),
    }
    if let Some((before, _)) = previous {
        let key = |v: &Value| format!("{}+{}-{}", v["vuln"].as_str().unwrap_or_default(), v["package_name"].as_str().unwrap_or_default(), v["package_version"].as_str().unwrap_or_default());
        let old: BTreeSet<String> = before.as_array().into_iter().flatten().map(key).collect();
        let new: BTreeSet<String> = findings.iter().map(|f| format!("{}+{}-{}", f.vuln, f.package_name, f.package_version)).collect();
        let added: Vec<&String> = new.difference(&old).collect();
        let removed: Vec<&String> = old.difference(&new).collect();
        if !added.is_empty() || !removed.is_empty() {
            let details = json!({ "diff_vulnerability_result": { "added": added, "removed": removed }, "imageDigest": img.image_digest });
            let digest_of_set = format!("{:x}", new.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, k| k.bytes().fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))));
            for tag in tags_of(&img) {
                let event = customs_store::NewEvent {
                    account: img.account.clone(),
                    event_type: customs_store::event_type::VULNERABILITIES_UPDATED.into(),
                    level: customs_store::EventLevel::Info,
                    message: format!("vulnerabilities changed: {} added, {} removed", added.len(), removed.len()),
                    details: details.clone(),
                    resource_type: "image_tag".into(),
                    resource_id: tag.clone(),
                    source: "evaluate".into(),
                    notification_type: Some("vuln_update".into()),
                    force_notify: false,
                    dedupe_key: Some(format!("vuln_update:{}:{tag}:{digest_of_set}", img.id)),
                };
                announce(deps, &event).await?;
            }
        }
    }
    info!(packages = packages.len(), candidates = advisories.len(), findings = findings.len(), "Matched vulnerabilities");
    evaluate_policy(deps, &img, distro.as_ref(), &packages, &findings, &enrich).await
}

/// Evaluates the account's active bundle for every tag of the image and stores the result.
async fn evaluate_policy(
    deps: &Deps,
    img: &customs_store::ImageRecord,
    distro: Option<&Distro>,
    packages: &[customs_model::package::Package],
    findings: &[customs_matcher::Finding],
    enrich: &[customs_store::Enrichment],
) -> Result<(), Retry> {
    let default: Value = serde_json::from_str(customs_policy::DEFAULT_BUNDLE).map_err(Retry::new)?;
    let id = default.get("id").and_then(Value::as_str).unwrap_or("default").to_owned();
    let policy = deps
        .store
        .ensure_active_policy(&img.account, &id, default.get("name").and_then(Value::as_str), &default)
        .await
        .map_err(Retry::new)?;
    let bundle = match customs_policy::Bundle::from_value(&policy.bundle) {
        Ok(b) => b,
        Err(e) => {
            // Stored bundles were validated on upload; one that no longer parses is reported, not retried.
            tracing::error!(policy_id = %policy.policy_id, error = %e, "Active bundle does not parse");
            return Ok(());
        }
    };
    let (_, config) = deps.store.image_manifest(&img.account, img.id).await.map_err(Retry::new)?.unwrap_or_default();
    let files: Vec<facts::StoredFile> = match deps.store.image_files_text(img.id).await.map_err(Retry::new)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Retry::new(customs_store::StoreError::Corrupt(format!("file index of image {}: {e}", img.id))))?,
        None => Vec::new(),
    };
    let feed = deps.store.namespace_feed_status(img.distro_namespace.as_deref().unwrap_or_default()).await.map_err(Retry::new)?;
    let mut facts = facts::build(img, distro, packages, findings, enrich, &config, &files);
    let mut ctx = customs_policy::EvalContext::at(time::OffsetDateTime::now_utc());
    ctx.vulnerability_feed = customs_policy::VulnerabilityFeedStatus { data_available: feed.0, last_sync: feed.1 };
    let feed_state = deps.store.feed_state().await.map_err(Retry::new)?;
    let tags = tags_of(img);
    for tag in tags {
        // `tag_drift` compares with the image this tag pointed to before.
        facts.previous_packages = match img.tags.iter().find(|t| format!("{}/{}:{}", t.registry, t.repo, t.tag) == tag) {
            Some(t) => deps
                .store
                .previous_tag_packages(&img.account, img.id, &t.registry, &t.repo, &t.tag)
                .await
                .map_err(Retry::new)?
                .map(|p| facts::policy_packages(&p)),
            None => None,
        };
        let eval = match customs_policy::evaluate(&bundle, &facts, &tag, &ctx) {
            Ok(e) => e,
            Err(report) => {
                tracing::error!(policy_id = %policy.policy_id, problems = ?report.validation_details(), "Active bundle failed validation");
                return Ok(());
            }
        };
        let record = customs_store::EvaluationRecord {
            tag: tag.clone(),
            policy_id: policy.policy_id.clone(),
            status: eval.status().to_owned(),
            final_action: eval.final_action.as_str().to_owned(),
            evaluation: serde_json::to_value(&eval).map_err(Retry::new)?,
            bundle: policy.bundle.clone(),
            evaluated_at: time::OffsetDateTime::now_utc(),
        };
        let last = deps.store.latest_evaluation(img.id, &tag).await.map_err(Retry::new)?;
        match deps.store.save_evaluation(img.id, &record, &feed_state).await {
            Ok(()) => {}
            Err(StoreError::ImageNotFound(_)) => {
                deleted_meanwhile();
                return Ok(());
            }
            Err(e) => return Err(Retry::new(e)),
        }
        if let Some(last) = last.filter(|l| l.status != record.status) {
            let event = customs_store::NewEvent {
                account: img.account.clone(),
                event_type: customs_store::event_type::POLICY_EVAL_UPDATED.into(),
                level: customs_store::EventLevel::Info,
                message: format!("policy evaluation changed from {} to {}", last.status, record.status),
                details: json!({ "last_eval": { "status": last.status, "policyId": last.policy_id }, "curr_eval": { "status": record.status, "policyId": policy.policy_id }, "imageDigest": img.image_digest }),
                resource_type: "image_tag".into(),
                resource_id: tag.clone(),
                source: "evaluate".into(),
                notification_type: Some("policy_eval".into()),
                force_notify: false,
                dedupe_key: Some(format!("policy_eval:{}:{tag}:{}:{}", img.id, policy.policy_id, record.evaluated_at.unix_timestamp())),
            };
            announce(deps, &event).await?;
        }
        info!(tag = %tag, policy_id = %policy.policy_id, status = eval.status(), final_action = eval.final_action.as_str(), rows = eval.rows.len(), "Evaluated policy");
    }
    Ok(())
}

/// The image was deleted while it was evaluated (a delete does not wait for evaluations):
/// its results went with it, and there is nothing to retry.
fn deleted_meanwhile() {
    info!("Image was deleted during evaluation; nothing stored");
}

/// The full tags of an image (its source reference when it has none).
fn tags_of(img: &customs_store::ImageRecord) -> Vec<String> {
    if img.tags.is_empty() {
        vec![img.source_ref.clone()]
    } else {
        img.tags.iter().map(|t| format!("{}/{}:{}", t.registry, t.repo, t.tag)).collect()
    }
}

/// Records an event once and hands it to notify when a subscription wants it.
async fn announce(deps: &Deps, event: &customs_store::NewEvent) -> Result<(), Retry> {
    let Some(rec) = deps.store.record_event(event).await.map_err(Retry::new)? else { return Ok(()) };
    if let (true, Some(q)) = (rec.notify, &deps.queues) {
        q.send(&customs_contracts::Notify { account: rec.account.clone(), event_id: rec.id }).await.map_err(Retry::new)?;
    }
    Ok(())
}

mod facts;
