//! Feed sync end to end: real upstream records (shared/feeds/testdata) served over a local
//! HTTP server, synced into the stack's fresh database by the feed-sync pipeline, read
//! back from the tables and through `GET/POST/PUT /v1/system/feeds`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{ensure, Context, Result};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use customs_feed_sync::{sync_all, Deps, FeedReport, Sources};
use customs_tests::Stack;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

const OSV_RECORDS: &[&str] = &[
    "osv/pypi/PYSEC-2023-74.yaml",
    "osv/pypi/PYSEC-2023-212.yaml",
    "osv/pypi/PYSEC-2014-8.yaml",
    "osv/npm/GHSA-35jh-r3h4-6jhm.json",
    "osv/maven/GHSA-jfh8-c2jp-5v3q.json",
    "osv/go/GO-2024-2442.json",
    "osv/go/GO-2022-0969.json",
    "osv/crates/RUSTSEC-2019-0031.json",
    "osv/crates/RUSTSEC-2021-0124.json",
    "osv/ubuntu/UBUNTU-CVE-2021-3782.json",
    "osv/debian/DSA-3029-1.json",
    "osv/alpine/CVE-2022-27449.json",
];

/// One synthetic document with one malformed record (the fixtures are all well formed).
const MALFORMED: &str = r#"[{"id": "CUSTOMS-BAD-1", "affected": "not a list"}]"#;

#[derive(Clone, Default)]
struct Served {
    requests: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
    /// A secdb document the test rewrites between syncs.
    mutable: Arc<Mutex<String>>,
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/feeds/testdata")
}

fn body_with_etag(s: &Served, headers: &HeaderMap, body: Vec<u8>) -> Response {
    let etag = format!("\"{}\"", Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect::<String>());
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        s.not_modified.fetch_add(1, Ordering::Relaxed);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([(header::ETAG, etag)], body).into_response()
}

async fn file(State(s): State<Served>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let body = match path.as_str() {
        "osv/malformed.json" => MALFORMED.as_bytes().to_vec(),
        "alpine/mutable.json" => s.mutable.lock().map(|m| m.clone()).unwrap_or_default().into_bytes(),
        p if p.contains("..") => return StatusCode::BAD_REQUEST.into_response(),
        p => match std::fs::read(testdata().join(p)) {
            Ok(b) => b,
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    body_with_etag(&s, &headers, body)
}

/// NVD's API: the first page at startIndex=0, the second after it (dates are ignored).
async fn nvd(State(s): State<Served>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let page = if q.get("startIndex").map(String::as_str) == Some("0") { "respPage1" } else { "respPage2" };
    match std::fs::read(testdata().join(format!("nvd/vuln-list-update-{page}.json"))) {
        Ok(b) => ([(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn secdb(entries: &str) -> String {
    format!(r#"{{"distroversion": "v3.99", "reponame": "main", "packages": [{entries}]}}"#)
}

async fn serve() -> Result<(String, Served)> {
    let served = Served::default();
    *served.mutable.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = secdb(
        r#"{"pkg": {"name": "xfix", "secfixes": {"1.0-r0": ["CVE-2099-0001", "CVE-2099-0002"]}}}"#,
    );
    let app = Router::new().route("/nvd/cves", get(nvd)).route("/{*path}", get(file)).with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, served))
}

fn sources(base: &str) -> Sources {
    let u = |p: &str| format!("{base}/{p}");
    let mut osv: Vec<String> = OSV_RECORDS.iter().map(|p| u(p)).collect();
    osv.push(u("osv/malformed.json"));
    let urls = BTreeMap::from([
        ("osv".to_owned(), osv),
        ("debian".to_owned(), vec![u("debian/vunnel-debian.json")]),
        ("alpine".to_owned(), vec![u("alpine/v3.15/main.json"), u("alpine/v3.10/main.yaml"), u("alpine/mutable.json")]),
        ("nvd".to_owned(), vec![u("nvd/cves")]),
        ("redhat".to_owned(), vec![u("redhat/cve-2024-24786.json")]),
        ("kev".to_owned(), vec![u("kev/known_exploited_vulnerabilities.json")]),
        ("epss".to_owned(), vec![u("epss/example-1.csv")]),
    ]);
    Sources::new(urls)
}

fn by_feed(reports: &[FeedReport]) -> BTreeMap<&str, &FeedReport> {
    reports.iter().map(|r| (r.feed.as_str(), r)).collect()
}

async fn db(stack: &Stack) -> Result<tokio_postgres::Client> {
    let (c, conn) = tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(c)
}

async fn count(c: &tokio_postgres::Client, sql: &str, feed: &str) -> Result<i64> {
    Ok(c.query_one(sql, &[&feed]).await.with_context(|| sql.to_owned())?.get(0))
}

#[tokio::test]
async fn real_feeds_sync_incrementally_and_show_in_anchores_feed_api() -> Result<()> {
    let stack = Stack::start().await?;
    let (base, served) = serve().await?;
    let deps = Deps { store: stack.app.store.clone(), sources: sources(&base), queues: None };

    // First sync: everything is new.
    let first = sync_all(&deps, "api", false).await?;
    let r = by_feed(&first);
    assert_eq!(r.len(), 7, "{:?}", r.keys());
    for (feed, rep) in &r {
        assert!(rep.ok, "{feed}: {:?}", rep.errors);
        assert!(rep.summary.records_written > 0, "{feed}: {:?}", rep.summary);
    }
    let osv = &r["osv"].summary;
    assert_eq!(osv.records, OSV_RECORDS.len() as i32);
    assert_eq!(osv.records_written, OSV_RECORDS.len() as i32);
    assert_eq!(osv.skipped.get("malformed record"), Some(&1), "{:?}", osv.skipped);
    assert!(osv.skipped.get("git range").copied().unwrap_or(0) >= 1, "{:?}", osv.skipped);
    assert_eq!(r["nvd"].summary.records, 3);
    assert_eq!(r["kev"].summary.records_written, 1404);
    assert_eq!(r["epss"].summary.records_written, 5);
    for (feed, rep) in &r {
        println!("first sync {feed}: {:?}", rep.summary);
    }

    let c = db(&stack).await?;
    let row = c
        .query_one(
            "SELECT fixed, state FROM vulnerability_packages
              WHERE feed = 'debian' AND vuln_id = 'CVE-2008-7220' AND namespace = 'debian:10' AND package = 'prototypejs'",
            &[],
        )
        .await?;
    assert_eq!((row.get::<_, Vec<String>>(0), row.get::<_, String>(1)), (vec!["1.6.0.2-1".to_owned()], "fixed".to_owned()));
    let row = c
        .query_one("SELECT fixed FROM vulnerability_packages WHERE feed = 'alpine' AND vuln_id = 'CVE-2016-0634' AND namespace = 'alpine:3.15'", &[])
        .await?;
    assert_eq!(row.get::<_, Vec<String>>(0), ["4.4.12-r1"]);
    let row = c
        .query_one("SELECT aliases, severity, cvss FROM vulnerabilities WHERE feed = 'osv' AND id = 'GHSA-35jh-r3h4-6jhm'", &[])
        .await?;
    assert_eq!(row.get::<_, Vec<String>>(0), ["CVE-2021-23337"]);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("High"));
    assert_eq!(row.get::<_, Value>(2)[0]["vector"], "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H");
    let kev: i64 = c.query_one("SELECT count(*) FROM vulnerability_enrichments WHERE kev_date_added IS NOT NULL", &[]).await?.get(0);
    assert_eq!(kev, 1404);
    let epss = c.query_one("SELECT epss_score FROM vulnerability_enrichments WHERE cve = 'CVE-1999-0005'", &[]).await?;
    assert_eq!(epss.get::<_, Option<f64>>(0), Some(0.91963));
    let changes = stack.app.store.feed_changes(r["osv"].sync_id).await?;
    assert!(changes.iter().any(|k| (k.namespace.as_str(), k.package.as_str(), k.change.as_str()) == ("pypi", "requests", "added")), "{changes:?}");
    let vulns = count(&c, "SELECT count(*) FROM vulnerabilities WHERE feed = $1", "debian").await?;
    ensure!(vulns > 0);

    // Second sync, upstream unchanged: validators answer 304 or bodies hash the same; nothing is written.
    let before = served.not_modified.load(Ordering::Relaxed);
    let second = sync_all(&deps, "schedule", false).await?;
    for rep in &second {
        assert!(rep.ok, "{}: {:?}", rep.feed, rep.errors);
        assert_eq!((rep.summary.records_written, rep.summary.records_removed), (0, 0), "{}: {:?}", rep.feed, rep.summary);
        if rep.feed != "nvd" {
            assert_eq!(rep.summary.unchanged_documents, rep.summary.documents, "{}: {:?}", rep.feed, rep.summary);
        }
        assert!(stack.app.store.feed_changes(rep.sync_id).await?.is_empty(), "{}", rep.feed);
    }
    assert!(served.not_modified.load(Ordering::Relaxed) > before);
    assert_eq!(count(&c, "SELECT count(*) FROM vulnerabilities WHERE feed = $1", "debian").await?, vulns);

    // Upstream drops one advisory and changes another: both keys are recorded.
    *served.mutable.lock().map_err(|_| anyhow::anyhow!("poisoned"))? =
        secdb(r#"{"pkg": {"name": "xfix", "secfixes": {"1.1-r0": ["CVE-2099-0001"]}}}"#);
    let third = sync_all(&deps, "schedule", false).await?;
    let alpine = by_feed(&third)["alpine"];
    assert_eq!((alpine.summary.records_written, alpine.summary.records_removed), (1, 1), "{:?}", alpine.summary);
    let changes: Vec<(String, String, String)> = stack
        .app
        .store
        .feed_changes(alpine.sync_id)
        .await?
        .into_iter()
        .map(|k| (k.namespace, k.vuln_id, k.change))
        .collect();
    assert_eq!(
        changes,
        [
            ("alpine:3.99".to_owned(), "CVE-2099-0001".to_owned(), "changed".to_owned()),
            ("alpine:3.99".to_owned(), "CVE-2099-0002".to_owned(), "removed".to_owned())
        ]
    );

    // Anchore's feed API.
    let feeds: Value = stack.request(Method::GET, "/v1/system/feeds").send().await?.error_for_status()?.json().await?;
    let list = feeds.as_array().context("a list")?;
    assert_eq!(list.len(), 7, "{feeds}");
    for f in list {
        for k in ["name", "created_at", "updated_at", "last_full_sync", "enabled", "groups"] {
            assert!(f.get(k).is_some(), "{k} missing in {f}");
        }
        assert!(f["last_full_sync"].is_string() && f["enabled"] == true, "{f}");
        for g in f["groups"].as_array().context("groups")? {
            for k in ["name", "created_at", "updated_at", "last_sync", "enabled", "record_count"] {
                assert!(g.get(k).is_some(), "{k} missing in {g}");
            }
            assert!(g["last_sync"].is_string() && g["record_count"].is_i64(), "{g}");
        }
    }
    let osv = list.iter().find(|f| f["name"] == "osv").context("osv feed")?;
    let pypi = osv["groups"].as_array().and_then(|g| g.iter().find(|g| g["name"] == "pypi")).context("pypi group")?;
    assert_eq!(pypi["record_count"], 3);
    let kev = list.iter().find(|f| f["name"] == "kev").context("kev")?;
    assert_eq!(kev["groups"][0]["record_count"], 1404);

    let queued: Value = stack.request(Method::POST, "/v1/system/feeds?flush=False").send().await?.error_for_status()?.json().await?;
    let first_result = &queued[0];
    for k in ["feed", "status", "total_time_seconds", "groups"] {
        assert!(first_result.get(k).is_some(), "{k} missing in {queued}");
    }
    assert!(first_result["groups"][0]["total_time_seconds"].is_f64(), "{queued}");

    let off: Value = stack.request(Method::PUT, "/v1/system/feeds/epss?enabled=false").send().await?.error_for_status()?.json().await?;
    assert_eq!(off["enabled"], false);
    let resp = stack.request(Method::PUT, "/v1/system/feeds/nope?enabled=false").send().await?;
    assert_eq!(resp.status(), 404);
    let fourth = sync_all(&deps, "api", false).await?;
    assert!(fourth.iter().all(|r| r.feed != "epss"));

    // A disabled group's records leave the store on the next sync (as removals, so the
    // images holding them are re-evaluated) and come back when it is enabled again.
    let pypi = "SELECT count(*) FROM vulnerability_packages WHERE feed = $1 AND namespace = 'pypi'";
    assert_eq!(count(&c, pypi, "osv").await?, 3);
    let npm = "SELECT count(*) FROM vulnerability_packages WHERE feed = $1 AND namespace = 'npm'";
    let npm_before = count(&c, npm, "osv").await?;
    let groups: Value =
        stack.request(Method::PUT, "/v1/system/feeds/osv/pypi?enabled=false").send().await?.error_for_status()?.json().await?;
    let g = groups.as_array().and_then(|g| g.iter().find(|g| g["name"] == "pypi")).context("pypi group")?;
    assert_eq!(g["enabled"], false, "{groups}");
    assert_eq!(stack.request(Method::PUT, "/v1/system/feeds/osv/nope?enabled=false").send().await?.status(), 404);
    let off = sync_all(&deps, "api", false).await?;
    let osv = by_feed(&off)["osv"];
    assert_eq!(count(&c, pypi, "osv").await?, 0, "{:?}", osv.summary);
    let changes = stack.app.store.feed_changes(osv.sync_id).await?;
    assert!(changes.iter().any(|k| (k.namespace.as_str(), k.package.as_str(), k.change.as_str()) == ("pypi", "requests", "removed")), "{changes:?}");
    assert_eq!(count(&c, npm, "osv").await?, npm_before, "other groups untouched");
    stack.request(Method::PUT, "/v1/system/feeds/osv/pypi?enabled=true").send().await?.error_for_status()?;
    sync_all(&deps, "api", false).await?;
    assert_eq!(count(&c, pypi, "osv").await?, 3);
    Ok(())
}

/// An SQS event of one message, as the event source mapping delivers it.
fn sqs_event(id: &str, body: &str) -> Result<customs_runtime::sqs::Event> {
    Ok(serde_json::from_value(serde_json::json!({
        "Records": [{ "messageId": id, "body": body, "eventSource": "aws:sqs" }]
    }))?)
}

/// Sync runs per feed.
async fn runs(c: &tokio_postgres::Client) -> Result<Vec<(String, i64)>> {
    let rows = c.query("SELECT feed, count(*) FROM feed_syncs GROUP BY feed ORDER BY feed", &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Every FeedSync message waiting on the stack's feed-sync queue (received and deleted).
async fn take_feed_syncs(stack: &Stack) -> Result<Vec<customs_contracts::FeedSync>> {
    let sqs = aws_sdk_sqs::Client::new(&stack.app.sdk);
    let url = stack.app.queues.url(customs_contracts::queue::FEED_SYNC).await?;
    let mut out = Vec::new();
    loop {
        let got = sqs.receive_message().queue_url(&url).max_number_of_messages(10).wait_time_seconds(1).send().await?;
        let msgs = got.messages.unwrap_or_default();
        if msgs.is_empty() {
            return Ok(out);
        }
        for m in msgs {
            out.push(customs_contracts::decode(m.body.as_deref().unwrap_or_default())?);
            sqs.delete_message().queue_url(&url).set_receipt_handle(m.receipt_handle).send().await?;
        }
    }
}

/// A scheduled sync without a feed does no syncing itself: it fans out one message per
/// enabled driver through the feed-sync queue, and each of those syncs only its driver.
#[tokio::test]
async fn a_sync_fans_out_one_message_per_enabled_feed() -> Result<()> {
    // Only this test's messages on the queue: the schedules start disabled (no early tick).
    let stack = Stack::start_tuned(|s| s.schedules_enabled = false).await?;
    take_feed_syncs(&stack).await?;
    let (base, _served) = serve().await?;
    let deps = Deps { store: stack.app.store.clone(), sources: sources(&base), queues: Some(stack.app.queues.clone()) };
    let c = db(&stack).await?;

    let tick = customs_contracts::FeedSync { trigger: customs_contracts::FeedSyncTrigger::Schedule, flush: false, feed: None };
    let resp = customs_feed_sync::handle(sqs_event("tick", &customs_contracts::encode(&tick))?, &deps).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert!(runs(&c).await?.is_empty(), "the fan-out itself syncs nothing");
    let mut fanned = take_feed_syncs(&stack).await?;
    fanned.sort_by(|a, b| a.feed.cmp(&b.feed));
    let names: Vec<&str> = fanned.iter().filter_map(|m| m.feed.as_deref()).collect();
    assert_eq!(names, ["alpine", "debian", "epss", "kev", "nvd", "osv", "redhat"]);
    assert!(fanned.iter().all(|m| m.trigger == customs_contracts::FeedSyncTrigger::Schedule && !m.flush));

    // Each message is one invocation that syncs exactly its driver.
    for (i, m) in fanned.iter().enumerate() {
        let resp = customs_feed_sync::handle(sqs_event(&format!("m{i}"), &customs_contracts::encode(m))?, &deps).await;
        assert!(resp.batch_item_failures.is_empty(), "{m:?}: {resp:?}");
        let feed = m.feed.as_deref().context("feed")?;
        let got = runs(&c).await?;
        assert_eq!(got.len(), i + 1, "{feed}: {got:?}");
        assert!(got.contains(&(feed.to_owned(), 1)), "{feed}: {got:?}");
    }
    assert!(take_feed_syncs(&stack).await?.is_empty(), "per-feed messages fan out nothing");
    let kev: i64 = c.query_one("SELECT count(*) FROM vulnerability_enrichments WHERE kev_date_added IS NOT NULL", &[]).await?.get(0);
    assert_eq!(kev, 1404);

    // A disabled feed is left out of the next fan-out; an unknown feed is acknowledged.
    stack.app.store.set_feed_enabled("nvd", false).await?;
    customs_feed_sync::handle(sqs_event("tick2", &customs_contracts::encode(&tick))?, &deps).await;
    let names: Vec<String> = take_feed_syncs(&stack).await?.into_iter().filter_map(|m| m.feed).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(!names.iter().any(|n| n == "nvd"), "{names:?}");
    let unknown = customs_contracts::FeedSync { feed: Some("nope".into()), ..tick };
    let resp = customs_feed_sync::handle(sqs_event("nope", &customs_contracts::encode(&unknown))?, &deps).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    Ok(())
}

/// A memory line of `/proc/self/status` (`VmHWM:` peak, `VmRSS:` current), in KiB.
fn rss_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    rss_kib("VmHWM:")
}

/// Restarts the peak (`VmHWM`) at the current resident size, so a phase's own peak can be
/// read (Linux: `5` to `/proc/self/clear_refs`). False when the kernel refused.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Throughput: imports a synthetic OSV archive (`CUSTOMS_BENCH_RECORDS`, default 300 000)
/// into a fresh database through the osv driver and the batched store writes, after a
/// third-size warm-up archive; prints records/s and the peak RSS after each, so a growing
/// peak (memory that follows the feed size) shows. Needs only PostgreSQL. Run:
/// `cargo test --workspace --test e2e -- --ignored osv_import_throughput --nocapture`.
#[tokio::test]
#[ignore = "benchmark: minutes in a debug build"]
async fn osv_import_throughput() -> Result<()> {
    let n: usize = std::env::var("CUSTOMS_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    let dir = std::env::temp_dir().join(format!("customs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = customs_store::Store::connect(&customs_tests::fresh_database().await?, 4)?;
    let fetcher = customs_feed_sync::Fetcher::new(std::time::Duration::from_secs(600), std::time::Duration::from_millis(50))?;
    let osv = customs_feeds::by_name("osv").context("osv driver")?;
    for (label, count) in [("warm-up", n / 3), ("full", n)] {
        let archive = dir.join(format!("{label}-all.zip"));
        let t = std::time::Instant::now();
        customs_feed_sync::testing::synthetic_osv_archive(&archive, count)?;
        let size = std::fs::metadata(&archive)?.len();
        println!(
            "{label}: generated {count} records, {:.1} MB zip, in {:.1}s; peak RSS (VmHWM) {} MiB, now (VmRSS) {} MiB",
            size as f64 / 1e6,
            t.elapsed().as_secs_f64(),
            peak_rss_kib() / 1024,
            rss_kib("VmRSS:") / 1024
        );
        let sources = Sources::new(BTreeMap::from([(
            "osv".to_owned(),
            vec![format!("file://{}", archive.display())],
        )]));
        // The generator's own memory (the zip writer's directory) is not the import's.
        let before = rss_kib("VmRSS:");
        let reset = reset_peak_rss();
        let t = std::time::Instant::now();
        let report = customs_feed_sync::sync_feed(&store, &fetcher, &sources, osv, "bench", false).await?;
        let secs = t.elapsed().as_secs_f64();
        assert!(report.ok, "{:?}", report.errors);
        assert_eq!(report.summary.records as usize, count, "{:?}", report.summary);
        println!(
            "{label}: imported {count} records in {secs:.1}s = {:.0} records/s ({:.1}s waiting on writes); RSS before {} MiB, \
             peak during import{} {} MiB, now {} MiB",
            count as f64 / secs,
            report.summary.write_seconds,
            before / 1024,
            if reset {
                ""
            } else {
                " (process peak: the kernel refused a reset)"
            },
            peak_rss_kib() / 1024,
            rss_kib("VmRSS:") / 1024
        );
        // A second sync of the same archive (new validators, same content): every record
        // is read and hashed again, none is written.
        let _ = store
            .save_feed_cursor(
                "osv",
                &format!("file://{}", archive.display()),
                &customs_store::FeedCursor::default(),
            )
            .await;
        let t = std::time::Instant::now();
        let again =
            customs_feed_sync::sync_feed(&store, &fetcher, &sources, osv, "bench", false).await?;
        let secs = t.elapsed().as_secs_f64();
        std::fs::remove_file(&archive)?;
        assert!(again.ok, "{:?}", again.errors);
        assert_eq!(
            (
                again.summary.records as usize,
                again.summary.records_written,
                again.summary.records_removed
            ),
            (count, 0, 0)
        );
        println!(
            "{label}: re-synced unchanged {count} records in {secs:.1}s = {:.0} records/s, 0 written",
            count as f64 / secs
        );
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

/// `(startIndex, lastModStartDate)` of one NVD request.
type Asked = (String, Option<String>);

#[derive(Clone, Default)]
struct FlakyNvd {
    /// Every request, in order.
    asked: Arc<Mutex<Vec<Asked>>>,
    /// Fail every page after the first while set (the "crash" after page 1).
    broken: Arc<std::sync::atomic::AtomicBool>,
}

async fn flaky_nvd(State(s): State<FlakyNvd>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let start = q.get("startIndex").cloned().unwrap_or_default();
    if let Ok(mut a) = s.asked.lock() {
        a.push((start.clone(), q.get("lastModStartDate").cloned()));
    }
    let page = if start == "0" { "respPage1" } else { "respPage2" };
    if page == "respPage2" && s.broken.load(Ordering::Relaxed) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    match std::fs::read(testdata().join(format!("nvd/vuln-list-update-{page}.json"))) {
        Ok(b) => ([(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// NVD pages are checkpointed: a sync that dies after page 1 (real NVD response pages,
/// served locally) resumes at page 2 without fetching page 1 again, then continues with
/// date windows from where the interrupted pass ended.
#[tokio::test]
async fn an_interrupted_nvd_sync_resumes_at_the_next_page() -> Result<()> {
    let store = customs_store::Store::connect(&customs_tests::fresh_database().await?, 2)?;
    let nvd = FlakyNvd::default();
    nvd.broken.store(true, Ordering::Relaxed);
    let app = Router::new().route("/nvd/cves", get(flaky_nvd)).with_state(nvd.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/nvd/cves", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let deps = Deps { store: store.clone(), sources: Sources::new(BTreeMap::from([("nvd".to_owned(), vec![url])])), queues: None };
    let asked = |nvd: &FlakyNvd| nvd.asked.lock().map(|mut a| std::mem::take(&mut *a)).unwrap_or_default();

    let first = sync_all(&deps, "api", false).await?;
    assert!(!first[0].ok, "page 2 failed: {:?}", first[0]);
    assert_eq!(first[0].summary.records, 2, "page 1's records are stored: {:?}", first[0].summary);
    assert_eq!(asked(&nvd), [("0".to_owned(), None), ("2".to_owned(), None)]);

    nvd.broken.store(false, Ordering::Relaxed);
    let second = sync_all(&deps, "api", false).await?;
    assert!(second[0].ok, "{:?}", second[0].errors);
    // Resumed at page 2 of the undated first pass; page 1 of that pass is not fetched again.
    // (Then the seconds since the interrupted pass began are fetched as a dated window.)
    let a = asked(&nvd);
    assert_eq!(a.first(), Some(&("2".to_owned(), None)), "{a:?}");
    assert!(!a.contains(&("0".to_owned(), None)), "{a:?}");
    assert!(a[1..].iter().all(|(_, since)| since.is_some()), "{a:?}");
    let stored: i64 = {
        let c = store.feeds_status().await?;
        c.iter().find(|f| f.name == "nvd").map(|f| f.groups.iter().map(|g| g.record_count).sum()).unwrap_or(0)
    };
    assert_eq!(stored, 3, "every CVE of both pages stored once");

    Ok(())
}

/// A first import COPYs each batch without looking its ids up; a stored id (repeated in
/// the feed, or written by a concurrent sync) fails that COPY, and the batch is written
/// again the checked way: changed, new and unchanged advisories as usual. A key that new
/// advisories add is recorded once per run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_import_falls_back_to_looking_ids_up_when_one_is_already_stored() -> Result<()> {
    use customs_store::{write_lane, AdvisoryRow, PackageRow, WriteLaneState};
    let stack = Stack::start().await?;
    let store = &stack.app.store;
    let (feed, scope) = ("osv", "file:///first-import.zip");
    let sync_id = store.begin_feed_sync(feed, "test").await?;
    ensure!(store.feed_scope_is_empty(feed, scope).await?);
    // Ids of one lane, as the feed writer batches them.
    let ids: Vec<String> = (0..).map(|i| format!("FIRST-{i}")).filter(|id| write_lane(id) == 0).take(3).collect();
    let row = |id: &str, package: &str, hash: &str| AdvisoryRow {
        id: id.to_owned(),
        aliases: vec![],
        summary: None,
        description: None,
        severity: None,
        severity_source: None,
        cvss: Value::Array(vec![]).into(),
        published: None,
        modified: None,
        withdrawn: None,
        references: vec![],
        packages: vec![PackageRow {
            namespace: "pypi".into(),
            package: package.into(),
            version_format: "python".into(),
            ranges: Value::Array(vec![]).into(),
            versions: vec![],
            fixed: vec!["1.0".into()],
            state: "fixed".into(),
            severity: None,
        }],
        content_hash: hash.to_owned(),
    };
    let mut lane = WriteLaneState::new(true);
    let s = store.write_advisories(sync_id, feed, scope, &[row(&ids[0], "a", "h1"), row(&ids[1], "b", "h1")], &mut lane).await?;
    assert_eq!((s.written, s.unchanged), (2, 0));
    ensure!(!store.feed_scope_is_empty(feed, scope).await?);
    // ids[0] again, changed, beside a new advisory of an already added key.
    let again = [row(&ids[0], "c", "h2"), row(&ids[2], "a", "h1")];
    let s = store.write_advisories(sync_id, feed, scope, &again, &mut lane).await?;
    assert_eq!((s.written, s.unchanged), (2, 0));
    let s = store.write_advisories(sync_id, feed, scope, &again, &mut lane).await?;
    assert_eq!((s.written, s.unchanged), (0, 2), "a repeat writes nothing");
    let c = db(&stack).await?;
    let n: i64 = c.query_one("SELECT count(*) FROM vulnerability_packages WHERE scope = $1", &[&scope]).await?.get(0);
    assert_eq!(n, 3);
    let pkg: String = c
        .query_one("SELECT package FROM vulnerability_packages WHERE scope = $1 AND vuln_id = $2", &[&scope, &ids[0]])
        .await?
        .get(0);
    assert_eq!(pkg, "c");
    let changes: Vec<(String, String, String)> =
        store.feed_changes(sync_id).await?.into_iter().map(|k| (k.package, k.vuln_id, k.change)).collect();
    assert_eq!(
        changes,
        [
            ("a".to_owned(), ids[0].clone(), "removed".to_owned()),
            ("b".to_owned(), ids[1].clone(), "added".to_owned()),
            ("c".to_owned(), ids[0].clone(), "added".to_owned()),
        ]
    );
    // The same advisory in a second scope of the run (an OSV record in two ecosystems'
    // archives), also a first import: its key is already recorded under that id, so the
    // COPY of added keys conflicts; the keys are recorded the checked way and the
    // advisory itself still written.
    let other = "file:///first-import-other.zip";
    let mut lane = WriteLaneState::new(true);
    let s = store.write_advisories(sync_id, feed, other, &[row(&ids[1], "b", "h1")], &mut lane).await?;
    assert_eq!((s.written, s.unchanged), (1, 0));
    let n: i64 = c.query_one("SELECT count(*) FROM vulnerability_packages WHERE scope = $1", &[&other]).await?.get(0);
    assert_eq!(n, 1);
    assert_eq!(store.feed_changes(sync_id).await?.len(), 3, "the key is recorded once");
    Ok(())
}
