//! Watch mode: subscriptions as Anchore makes them, a moved tag found by the scheduled
//! check and analysed, repositories watched for new tags.

use std::io::Write as _;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use customs_contracts::WatchTick;
use customs_tests::{Stack, push_image, registry};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::images::{add, by_tag};
use crate::notify::{Receiver, SECRET, add_webhook, sns_received, sns_sink};

const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A one-file gzip layer: (media type, blob, diff id).
fn layer(content: &str) -> (&'static str, Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("etc/customs-watch").ok();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, content.as_bytes()).ok();
    let tar = b.into_inner().unwrap_or_default();
    let diff_id = format!("sha256:{}", Sha256::digest(&tar).iter().map(|x| format!("{x:02x}")).collect::<String>());
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar).ok();
    (GZ, e.finish().unwrap_or_default(), diff_id)
}

async fn subscriptions(stack: &Stack, query: &str) -> Result<Vec<Value>> {
    let v: Value = stack
        .request(Method::GET, &format!("/v1/subscriptions{query}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

async fn events(stack: &Stack, query: &str) -> Result<Vec<Value>> {
    let v: Value = stack
        .request(Method::GET, &format!("/v1/events{query}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["results"].as_array().cloned().unwrap_or_default())
}

#[tokio::test]
async fn a_re_pushed_tag_is_found_analysed_and_notified() -> Result<()> {
    let stack = Stack::start().await?;
    let repo = format!("customs/watched-{}", &stack.prefix[..8]);
    let first = push_image(&repo, "latest", &[layer("one")], None).await?;
    let tag = format!("{}/{repo}:latest", registry());
    let hook = Receiver::start(&[]).await?;
    let (status, body) = add_webhook(&stack, json!({ "url": hook.url, "secret": SECRET })).await?;
    ensure!(status == 200, "{body}");
    let sink = sns_sink(&stack).await?;

    add(&stack, json!({ "tag": tag })).await?;
    // Anchore's four subscriptions: analysis_update active, tag_update active
    // (autosubscribe defaults to true), the others inactive.
    let subs = subscriptions(&stack, "").await?;
    let active = |kind: &str| subs.iter().find(|s| s["subscription_type"] == kind).map(|s| s["active"].clone());
    assert_eq!(subs.len(), 4, "{subs:?}");
    assert_eq!(active("analysis_update"), Some(json!(true)));
    assert_eq!(active("tag_update"), Some(json!(true)));
    assert_eq!(active("vuln_update"), Some(json!(false)));
    assert_eq!(active("policy_eval"), Some(json!(false)));
    assert!(subs.iter().all(|s| s["subscription_key"] == tag.as_str() && s["created_at"].is_i64()), "{subs:?}");
    stack.drain().await?;
    assert_eq!(by_tag(&stack, &tag).await?["imageDigest"], first.as_str());
    assert_eq!(hook.accepted("analysis_update").len(), 1, "{:?}", hook.seen());

    // Nothing moved: a tick changes nothing.
    stack.app.queues.send(&WatchTick {}).await?;
    stack.drain().await?;
    assert!(events(&stack, "?event_type=user.checks.tag.*").await?.is_empty());

    let second = push_image(&repo, "latest", &[layer("two")], None).await?;
    ensure!(second != first);
    stack.app.queues.send(&WatchTick {}).await?;
    stack.drain().await?;

    let moved = events(&stack, "?event_type=user.checks.tag.digest.update").await?;
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["event"]["resource"]["id"], tag.as_str());
    assert_eq!(moved[0]["event"]["details"]["curr_eval"], json!([second]));
    assert_eq!(moved[0]["event"]["details"]["last_eval"], json!([first]));
    assert_eq!(by_tag(&stack, &tag).await?["imageDigest"], second.as_str(), "the new digest was analysed");
    assert_eq!(by_tag(&stack, &tag).await?["analysis_status"], "analyzed");
    let tag_updates = hook.accepted("tag_update");
    assert_eq!(tag_updates.len(), 1, "{:?}", hook.seen());
    assert_eq!(tag_updates[0].body["data"]["notification_payload"]["curr_eval"], json!([second]));
    let analysed = hook.accepted("analysis_update");
    assert_eq!(analysed.len(), 2, "{:?}", hook.seen());
    assert_eq!(analysed[1].body["data"]["notification_payload"]["curr_eval"]["imageDigest"], second.as_str());
    assert!(hook.seen().iter().all(|r| r.signature_ok));

    let sns = sns_received(&stack, &sink).await?;
    let kinds: Vec<String> = sns.iter().map(|(_, a)| a["notification_type"]["Value"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "tag_update").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "analysis_update").count(), 2, "{kinds:?}");

    // Deactivated: a further move is not watched.
    let id = subscriptions(&stack, &format!("?subscription_type=tag_update&subscription_key={}", tag.replace(':', "%3A").replace('/', "%2F")))
        .await?
        .first()
        .and_then(|s| s["subscription_id"].as_str().map(str::to_owned))
        .context("tag_update subscription")?;
    let updated: Value = stack
        .request(Method::PUT, &format!("/v1/subscriptions/{id}"))
        .json(&json!({ "active": false, "subscription_key": tag, "subscription_type": "tag_update" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(updated[0]["active"], false);
    push_image(&repo, "latest", &[layer("three")], None).await?;
    stack.app.queues.send(&WatchTick {}).await?;
    stack.drain().await?;
    assert_eq!(events(&stack, "?event_type=user.checks.tag.digest.update").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn subscriptions_are_managed_through_the_api() -> Result<()> {
    let stack = Stack::start().await?;
    let tag = format!("{}/customs/tiny:latest", registry());
    let resp = stack
        .request(Method::POST, "/v1/subscriptions")
        .json(&json!({ "subscription_key": tag, "subscription_type": "vuln_update" }))
        .send()
        .await?;
    ensure!(resp.status() == 200);
    let created: Value = resp.json().await?;
    assert_eq!(created[0]["active"], false, "POST defaults active to false: {created}");
    let id = created[0]["subscription_id"].as_str().context("id")?.to_owned();
    let again = stack.request(Method::POST, "/v1/subscriptions").json(&json!({ "subscription_key": tag, "subscription_type": "vuln_update" })).send().await?;
    assert_eq!(again.status(), 400);
    let bad = stack.request(Method::POST, "/v1/subscriptions").json(&json!({ "subscription_key": tag, "subscription_type": "nope" })).send().await?;
    assert_eq!(bad.status(), 400);
    let one: Value = stack.request(Method::GET, &format!("/v1/subscriptions/{id}")).send().await?.error_for_status()?.json().await?;
    assert_eq!(one[0]["subscription_type"], "vuln_update");
    stack.request(Method::DELETE, &format!("/v1/subscriptions/{id}")).send().await?.error_for_status()?;
    let gone = stack.request(Method::GET, &format!("/v1/subscriptions/{id}")).send().await?;
    assert_eq!(gone.status(), 404);

    // --noautosubscribe: tag_update is created inactive.
    stack.request(Method::POST, "/v1/images?autosubscribe=False").json(&json!({ "tag": tag })).send().await?.error_for_status()?;
    let subs = subscriptions(&stack, "?subscription_type=tag_update").await?;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["active"], false);
    Ok(())
}

#[tokio::test]
async fn a_watched_repository_gets_its_new_tags_added() -> Result<()> {
    let stack = Stack::start().await?;
    let repo = format!("customs/repo-{}", &stack.prefix[..8]);
    push_image(&repo, "a", &[layer("a")], None).await?;
    push_image(&repo, "b", &[layer("b")], None).await?;
    let key = format!("{}/{repo}", registry());
    let resp: Value = stack
        .request(Method::POST, "/v1/repositories")
        .query(&[("repository", key.as_str()), ("autosubscribe", "true")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(resp[0]["subscription_type"], "repo_update", "{resp}");
    stack.drain().await?;
    for t in ["a", "b"] {
        assert_eq!(by_tag(&stack, &format!("{key}:{t}")).await?["analysis_status"], "analyzed");
    }
    push_image(&repo, "c", &[layer("c")], None).await?;
    stack.app.queues.send(&WatchTick {}).await?;
    stack.drain().await?;
    assert_eq!(by_tag(&stack, &format!("{key}:c")).await?["analysis_status"], "analyzed");
    let added = events(&stack, "?event_type=user.repository.tags.added").await?;
    assert_eq!(added.len(), 2, "{added:?}");
    assert_eq!(added[0]["event"]["details"]["added_tags"], json!(["c"]));
    let subs = subscriptions(&stack, "?subscription_type=tag_update").await?;
    assert_eq!(subs.len(), 3, "each new tag gets its subscriptions: {subs:?}");
    let missing = stack.request(Method::POST, "/v1/repositories").query(&[("repository", format!("{}/customs/no-such-repo", registry()).as_str())]).send().await?;
    assert_eq!(missing.status(), 400);
    Ok(())
}

/// Fan-out over a few hundred watched tags in the local registry: one tick, every tag
/// checked with a HEAD through its own SQS message, timed.
#[tokio::test]
async fn a_tick_over_hundreds_of_watched_tags_fans_out_and_finishes() -> Result<()> {
    const N: usize = 300;
    let stack = Stack::start().await?;
    let repo = format!("customs/fan-{}", &stack.prefix[..8]);
    let l = layer("fan");
    for i in 0..N {
        push_image(&repo, &format!("t{i}"), std::slice::from_ref(&l), None).await?;
        let r = stack
            .request(Method::POST, "/v1/subscriptions")
            .json(&json!({ "subscription_key": format!("{}/{repo}:t{i}", registry()), "subscription_type": "tag_update", "active": true }))
            .send()
            .await?;
        ensure!(r.status() == 200);
    }
    let started = Instant::now();
    stack.app.queues.send(&WatchTick {}).await?;
    stack.drain().await?;
    let elapsed = started.elapsed();
    eprintln!("watch fan-out: {N} tags checked in {elapsed:?}");
    let (db, conn) = tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let checked: i64 = db
        .query_one("SELECT count(*) FROM subscriptions WHERE last_digest IS NOT NULL AND last_error IS NULL", &[])
        .await?
        .get(0);
    assert_eq!(checked, N as i64, "every tag was checked");
    assert!(elapsed.as_secs() < 120, "{elapsed:?}");
    Ok(())
}

/// A registry that answers 429 with `Retry-After` is left alone until then: the check that
/// met it waits that long (not our own backoff), and every other check of that registry is
/// deferred without contacting it or counting a failure.
#[tokio::test]
async fn a_rate_limited_registry_is_left_alone_for_its_retry_after() -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stack = Stack::start().await?;
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            (axum::http::StatusCode::TOO_MANY_REQUESTS, [("retry-after", "120")], "slow down")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = format!("127.0.0.1:{}", listener.local_addr()?.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    for name in ["a", "b", "c"] {
        let r = stack
            .request(Method::POST, "/v1/subscriptions")
            .json(&json!({ "subscription_key": format!("{host}/limited/{name}:latest"), "subscription_type": "tag_update", "active": true }))
            .send()
            .await?;
        ensure!(r.status() == 200, "{}", r.text().await?);
    }
    let (db, conn) = tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let state = || async {
        let rows = db
            .query(
                "SELECT failures, coalesce(last_error, ''), extract(epoch FROM next_check_at - now())::float8 FROM subscriptions
                 WHERE subscription_key LIKE $1 ORDER BY subscription_key",
                &[&format!("{host}/%")],
            )
            .await?;
        anyhow::Ok(rows.iter().map(|r| (r.get::<_, i32>(0), r.get::<_, String>(1), r.get::<_, f64>(2))).collect::<Vec<_>>())
    };

    stack.app.queues.send(&WatchTick {}).await?;
    stack.drain().await?;
    let first = hits.load(Ordering::SeqCst);
    assert!((1..=3).contains(&first), "the registry was asked, at most once per check: {first}");
    let subs = state().await?;
    assert_eq!(subs.iter().map(|s| s.0).sum::<i32>() as usize, first, "only checks that met the 429 count a failure: {subs:?}");
    assert!(subs.iter().any(|s| s.1.contains("429") && s.1.contains("retry after 120 s")), "{subs:?}");
    assert!(subs.iter().all(|s| (100.0..=200.0).contains(&s.2)), "every check waits for Retry-After, none sooner: {subs:?}");
    let until: f64 = db
        .query_one("SELECT extract(epoch FROM until - now())::float8 FROM registry_holds WHERE registry = $1", &[&host])
        .await?
        .get(0);
    assert!((100.0..=125.0).contains(&until), "held for Retry-After: {until}");

    // Made due again while the hold lasts: deferred, the registry not contacted.
    db.execute("UPDATE subscriptions SET next_check_at = now() - interval '1 second' WHERE subscription_key LIKE $1", &[&format!("{host}/%")]).await?;
    stack.app.queues.send(&WatchTick {}).await?;
    stack.drain().await?;
    assert_eq!(hits.load(Ordering::SeqCst), first, "nobody knocked during the hold");
    let after = state().await?;
    assert_eq!(after.iter().map(|s| s.0).collect::<Vec<_>>(), subs.iter().map(|s| s.0).collect::<Vec<_>>(), "a deferral is not a failure");
    assert!(after.iter().all(|s| s.2 >= 90.0), "{after:?}");
    Ok(())
}
