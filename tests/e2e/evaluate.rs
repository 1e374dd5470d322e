//! Vulnerabilities and policy verdicts: real feed records synced, an image matched and
//! evaluated against Anchore's default bundle, then against a user's bundle.

use anyhow::{Context, Result, ensure};
use customs_tests::{registry, sync_fixture_feeds, Stack};
use reqwest::Method;
use serde_json::{json, Value};

use crate::images::{add, by_tag};
use crate::notify::{Receiver, SECRET, add_webhook, sns_received, sns_sink};

async fn get(stack: &Stack, path: &str) -> Result<Value> {
    Ok(stack.request(Method::GET, path).send().await?.error_for_status()?.json().await?)
}

#[tokio::test]
async fn images_are_matched_against_synced_feeds_and_evaluated_by_policy() -> Result<()> {
    let stack = Stack::start().await?;
    sync_fixture_feeds(&stack).await?;
    let tag = format!("{}/customs/debian-app:latest", registry());
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    let digest = img["imageDigest"].as_str().context("digest")?.to_owned();

    let all = get(&stack, &format!("/v1/images/{digest}/vuln/all")).await?;
    let vulns = all["vulnerabilities"].as_array().cloned().unwrap_or_default();
    let hit = |id: &str, pkg: &str| vulns.iter().any(|v| v["vuln"] == id && v["package_name"] == pkg);
    // lodash 4.17.15 < 4.17.21: GHSA-35jh-r3h4-6jhm, reported under its CVE alias.
    assert!(hit("CVE-2021-23337", "lodash"), "{vulns:#?}");
    let lodash = vulns.iter().find(|v| v["package_name"] == "lodash").context("lodash")?;
    assert_eq!(lodash["fix"], "4.17.21");
    assert_eq!(lodash["package"], "lodash-4.17.15");
    assert!(lodash["aliases"].as_array().is_some_and(|a| a.contains(&json!("GHSA-35jh-r3h4-6jhm"))));
    // requests 2.31.0 is the fixed version of PYSEC-2023-74: not reported.
    assert!(!vulns.iter().any(|v| v["package_name"] == "requests"), "fixed versions are not vulnerable");
    let os = get(&stack, &format!("/v1/images/{digest}/vuln/os")).await?;
    assert!(os["vulnerabilities"].as_array().is_some_and(|v| v.iter().all(|x| x["package_type"] == "dpkg")), "{os}");
    let non_os = get(&stack, &format!("/v1/images/{digest}/vuln/non-os?vendor_only=False")).await?;
    assert!(non_os["vulnerabilities"].as_array().is_some_and(|v| v.iter().any(|x| x["package_name"] == "lodash")));

    // Anchore's default bundle stops on the High-severity lodash vulnerability.
    let check = get(&stack, &format!("/v1/images/{digest}/check?tag={tag}&detail=true")).await?;
    let entry = &check[0][&digest][&tag][0];
    assert_eq!(entry["status"], "fail", "{check:#}");
    let rows = entry["detail"]["result"]["result"][img["image_detail"][0]["imageId"].as_str().unwrap_or_default()]["result"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(rows.iter().any(|r| r[2].as_str().is_some_and(|t| t.starts_with("CVE-2021-23337+")) && r[6] == "stop"), "{rows:#?}");

    // A user's bundle that only warns: activating it re-evaluates the image to pass.
    let bundle = json!({
        "id": "warn-only", "name": "warn only", "version": "1_0", "comment": "",
        "policies": [{ "id": "p1", "name": "p1", "version": "1_0", "rules": [
            { "id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "WARN",
              "params": [{ "name": "package_type", "value": "all" }, { "name": "severity_comparison", "value": ">=" }, { "name": "severity", "value": "high" }] }
        ]}],
        "whitelists": [], "mappings": [{ "id": "m1", "name": "all", "registry": "*", "repository": "*", "image": { "type": "tag", "value": "*" }, "policy_ids": ["p1"], "whitelist_ids": [] }],
        "whitelisted_images": [], "blacklisted_images": []
    });
    let resp = stack.request(Method::POST, "/v1/policies?detail=True").json(&bundle).send().await?;
    assert_eq!(resp.status(), 200, "{}", resp.text().await?);
    let resp = stack.request(Method::PUT, "/v1/policies/warn-only").json(&json!({ "active": true, "policybundle": {} })).send().await?;
    assert_eq!(resp.status(), 200);
    stack.drain().await?;
    let check = get(&stack, &format!("/v1/images/{digest}/check?tag={tag}")).await?;
    assert_eq!(check[0][&digest][&tag][0]["status"], "pass", "{check:#}");
    assert_eq!(check[0][&digest][&tag][0]["policyId"], "warn-only");
    // The verdict changed (fail under the default bundle, pass now): recorded as an event.
    let events = get(&stack, "/v1/events?event_type=user.checks.tag.policy_evaluation.update").await?;
    assert!(events["results"].as_array().is_some_and(|r| !r.is_empty()), "{events:#}");

    // An invalid bundle is refused with Anchore's validation details; the active one can't be deleted.
    let mut bad = bundle.clone();
    bad["policies"][0]["rules"][0]["gate"] = json!("no_such_gate");
    let resp = stack.request(Method::POST, "/v1/policies").json(&bad).send().await?;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await?;
    assert_eq!(v["message"], "Bundle failed validation", "{v}");
    let resp = stack.request(Method::DELETE, "/v1/policies/warn-only").send().await?;
    assert_eq!(resp.status(), 400);
    Ok(())
}

#[tokio::test]
async fn a_feed_sync_re_evaluates_the_images_it_touches() -> Result<()> {
    customs_tests::env("CUSTOMS_FEED_OSV_URLS")?;
    // LocalStack fires a new rate rule soon after it is created: this stack's schedules
    // start disabled, so the sync below is the only one.
    let stack = Stack::start_tuned(|s| s.schedules_enabled = false).await?;
    let hook = Receiver::start(&[]).await?;
    let (status, body) = add_webhook(&stack, json!({ "url": hook.url, "secret": SECRET })).await?;
    ensure!(status == 200, "{body}");
    let sink = sns_sink(&stack).await?;
    // A bundle that stops on any lodash vulnerability, active before the image arrives.
    let bundle = json!({
        "id": "no-lodash", "name": "no vulnerable lodash", "version": "1_0", "comment": "",
        "policies": [{ "id": "p1", "name": "p1", "version": "1_0", "rules": [
            { "id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "STOP",
              "params": [{ "name": "package_type", "value": "non-os" }, { "name": "severity_comparison", "value": ">=" }, { "name": "severity", "value": "unknown" }] }
        ]}],
        "whitelists": [], "mappings": [{ "id": "m1", "name": "all", "registry": "*", "repository": "*", "image": { "type": "tag", "value": "*" }, "policy_ids": ["p1"], "whitelist_ids": [] }],
        "whitelisted_images": [], "blacklisted_images": []
    });
    activate_bundle(&stack, &bundle).await?;

    let tag = format!("{}/customs/debian-app:latest", registry());
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let digest = by_tag(&stack, &tag).await?["imageDigest"].as_str().context("digest")?.to_owned();
    let before = get(&stack, &format!("/v1/images/{digest}/vuln/all")).await?;
    assert_eq!(before["vulnerabilities"], json!([]), "no feeds yet");
    let check = get(&stack, &format!("/v1/images/{digest}/check?tag={tag}")).await?;
    assert_eq!(check[0][&digest][&tag][0]["status"], "pass", "{check:#}");
    // Watch the tag for vulnerability and verdict changes (Anchore leaves both off).
    let subs = get(&stack, "/v1/subscriptions").await?;
    for kind in ["vuln_update", "policy_eval"] {
        let id = subs
            .as_array()
            .and_then(|a| a.iter().find(|s| s["subscription_type"] == kind && s["subscription_key"] == tag.as_str()))
            .and_then(|s| s["subscription_id"].as_str())
            .with_context(|| format!("{kind} subscription made on add: {subs}"))?;
        let resp = stack
            .request(Method::PUT, &format!("/v1/subscriptions/{id}"))
            .json(&json!({ "active": true, "subscription_key": tag, "subscription_type": kind }))
            .send()
            .await?;
        ensure!(resp.status().is_success(), "{kind}: {}", resp.text().await?);
    }

    // The scheduled path: a FeedSync message on the feed-sync queue, handled by the function.
    stack.app.queues.send(&customs_contracts::FeedSync { trigger: customs_contracts::FeedSyncTrigger::Schedule, flush: false, feed: None }).await?;
    stack.drain().await?;
    let after = get(&stack, &format!("/v1/images/{digest}/vuln/all")).await?;
    let vulns = after["vulnerabilities"].as_array().cloned().unwrap_or_default();
    assert!(vulns.iter().any(|v| v["package_name"] == "lodash"), "re-evaluated after the sync: {after:#}");
    let events = get(&stack, "/v1/events?event_type=user.checks.tag.vulnerabilities.update").await?;
    let first = &events["results"][0]["event"];
    let added = first["details"]["diff_vulnerability_result"]["added"].as_array().cloned().unwrap_or_default();
    assert!(!added.is_empty(), "{events:#}");

    // Both changes reach the subscriber: signed webhooks and SNS with filterable attributes.
    let vuln = hook.accepted("vuln_update");
    assert_eq!(vuln.len(), 1, "{:?}", hook.seen());
    assert!(vuln[0].body.to_string().contains("CVE-2021-23337"), "the new advisory is named: {}", vuln[0].body);
    let verdict = hook.accepted("policy_eval");
    assert_eq!(verdict.len(), 1, "{:?}", hook.seen());
    assert_eq!(verdict[0].body["data"]["notification_payload"]["curr_eval"]["status"], "fail", "{}", verdict[0].body);
    assert_eq!(verdict[0].body["data"]["notification_payload"]["last_eval"]["status"], "pass", "{}", verdict[0].body);
    assert!(hook.seen().iter().all(|r| r.signature_ok));
    let sns = sns_received(&stack, &sink).await?;
    let kinds: Vec<&str> = sns.iter().filter_map(|(_, a)| a["notification_type"]["Value"].as_str()).collect();
    assert!(kinds.contains(&"vuln_update") && kinds.contains(&"policy_eval"), "{kinds:?}");

    // The audit trail: both decisions, newest first, with the bundle and feed state each saw.
    let history = get(&stack, &format!("/v1/images/{digest}/check?tag={tag}&history=true")).await?;
    let entries = history[0][&digest][&tag].as_array().cloned().unwrap_or_default();
    assert!(entries.len() >= 2, "{history:#}");
    let (newest, oldest) = (&entries[0], &entries[entries.len() - 1]);
    assert_eq!(newest["status"], "fail", "{history:#}");
    assert_eq!(oldest["status"], "pass", "{history:#}");
    let audit = |e: &Value, k: &str| e["customs_audit"][k].clone();
    assert_eq!(audit(newest, "bundle_digest"), audit(oldest, "bundle_digest"), "one bundle decided both");
    assert!(audit(newest, "bundle_digest").as_str().is_some_and(|d| d.starts_with("sha256:")));
    assert_eq!(audit(oldest, "feed_state"), json!({}), "no feed had synced at first");
    assert!(audit(newest, "feed_state")["osv"]["sync_id"].is_i64(), "{history:#}");
    let limited = get(&stack, &format!("/v1/images/{digest}/check?tag={tag}&history=true&limit=1")).await?;
    assert_eq!(limited[0][&digest][&tag].as_array().map(Vec::len), Some(1));
    let bad = stack.request(Method::GET, &format!("/v1/images/{digest}/check?tag={tag}&history=true&limit=0")).send().await?;
    assert_eq!(bad.status(), 400);
    Ok(())
}

/// A sync that committed its changes and died before the images they touch were queued
/// (a crash, a timeout, a failed send): the resumed sync finds those records unchanged and
/// records no change of its own, so it must hand over the earlier run's changes.
#[tokio::test]
async fn changes_of_an_interrupted_sync_still_re_evaluate_the_images_they_touch() -> Result<()> {
    customs_tests::env("CUSTOMS_FEED_OSV_URLS")?;
    // No schedule: the syncs below are the only ones.
    let stack = Stack::start_tuned(|s| s.schedules_enabled = false).await?;
    let tag = format!("{}/customs/debian-app:latest", registry());
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let digest = by_tag(&stack, &tag).await?["imageDigest"].as_str().context("digest")?.to_owned();
    let vulns = |v: &Value| v["vulnerabilities"].as_array().cloned().unwrap_or_default();
    let before = vulns(&get(&stack, &format!("/v1/images/{digest}/vuln/all")).await?);
    assert!(before.is_empty(), "no feeds yet: {before:?}");

    // The interrupted run: every batch committed, nothing queued, the run never ended
    // (started 20 minutes ago, past the longest a function can run).
    let deps = customs_feed_sync::Deps { store: stack.app.store.clone(), queues: None, sources: customs_feed_sync::Sources::from_env()? };
    let osv_driver = customs_feeds::by_name("osv").context("osv driver")?;
    customs_feed_sync::sync_one(&deps, osv_driver, "test", false).await?.context("osv synced")?;
    let (db, conn) = tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let crashed: i64 = db
        .query_one(
            "UPDATE feed_syncs SET status = 'running', finished_at = NULL, started_at = now() - interval '20 minutes'
             WHERE id = (SELECT max(id) FROM feed_syncs WHERE feed = 'osv') RETURNING id",
            &[],
        )
        .await?
        .get(0);
    assert!(vulns(&get(&stack, &format!("/v1/images/{digest}/vuln/all")).await?).is_empty(), "not yet re-evaluated");

    // The next sync of that feed, through the queue as the schedule sends it.
    let osv = customs_contracts::FeedSync { trigger: customs_contracts::FeedSyncTrigger::Schedule, flush: false, feed: Some("osv".into()) };
    stack.app.queues.send(&osv).await?;
    stack.drain().await?;
    let row = db.query_one("SELECT records_written, (SELECT count(*) FROM feed_changes WHERE sync_id = s.id) FROM feed_syncs s WHERE feed = 'osv' ORDER BY id DESC LIMIT 1", &[]).await?;
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i64>(1)), (0, 0), "the resumed sync itself changes nothing");
    let after = vulns(&get(&stack, &format!("/v1/images/{digest}/vuln/all")).await?);
    assert!(after.iter().any(|v| v["package_name"] == "lodash"), "re-evaluated from the interrupted run's changes: {after:?}");
    let closed = db.query_one("SELECT status, error, reevaluation_queued FROM feed_syncs WHERE id = $1", &[&crashed]).await?;
    assert_eq!(closed.get::<_, &str>(0), "failure");
    assert!(closed.get::<_, Option<&str>>(1).is_some_and(|e| e.starts_with("interrupted")));
    assert!(closed.get::<_, bool>(2));
    let waiting: i64 = db.query_one("SELECT count(*) FROM feed_syncs WHERE feed = 'osv' AND NOT reevaluation_queued", &[]).await?.get(0);
    assert_eq!(waiting, 0, "every osv run handed over");
    Ok(())
}

/// An image deleted while it is evaluated: the evaluation's writes find it gone (the
/// foreign key refuses them) and say so as `ImageNotFound`, which the evaluate function
/// treats as nothing to do rather than as an error to retry. Nothing is written.
#[tokio::test]
async fn results_for_an_image_deleted_meanwhile_are_refused_as_image_not_found() -> Result<()> {
    use customs_store::StoreError;
    let url = customs_tests::fresh_database().await?;
    let store = customs_store::Store::connect(&url, 2)?;
    let reference = customs_model::ImageRef::parse("registry.example/deleted:latest")?;
    let deleted = store.add_image("admin", &reference, "linux/amd64", &json!({}), false, None).await?.image.id;
    // Deleted behind the evaluation's back, as a DELETE of the API would.
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    ensure!(db.execute("DELETE FROM images WHERE id = $1", &[&deleted]).await? == 1);
    let findings = json!([{ "vuln": "CVE-2024-0001" }]);
    let saved = store.save_vulnerabilities(deleted, &findings).await;
    ensure!(matches!(saved, Err(StoreError::ImageNotFound(id)) if id == deleted), "vulnerabilities: {saved:?}");
    let record = customs_store::EvaluationRecord {
        tag: "registry.example/deleted:latest".into(),
        policy_id: "default".into(),
        status: "pass".into(),
        final_action: "go".into(),
        evaluation: json!({}),
        bundle: json!({ "id": "default" }),
        evaluated_at: time::OffsetDateTime::now_utc(),
    };
    let saved = store.save_evaluation(deleted, &record, &json!({})).await;
    ensure!(matches!(saved, Err(StoreError::ImageNotFound(id)) if id == deleted), "evaluation: {saved:?}");
    ensure!(store.latest_evaluation(deleted, &record.tag).await?.is_none(), "an evaluation was stored");
    ensure!(store.vulnerabilities(deleted).await?.is_none(), "findings were stored");
    Ok(())
}

/// Uploads a policy bundle and makes it the account's active one; both calls must answer 200.
pub(crate) async fn activate_bundle(stack: &Stack, bundle: &Value) -> Result<()> {
    let id = bundle["id"].as_str().context("the bundle has an id")?;
    let resp = stack.request(Method::POST, "/v1/policies").json(bundle).send().await?;
    ensure!(resp.status() == 200, "{}", resp.text().await?);
    let resp = stack.request(Method::PUT, &format!("/v1/policies/{id}")).json(&json!({ "active": true, "policybundle": {} })).send().await?;
    ensure!(resp.status() == 200, "{}", resp.text().await?);
    Ok(())
}
