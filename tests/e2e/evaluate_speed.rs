//! Speed of evaluation: an image of 1 000 packages, inserted directly through the store,
//! matched against every fixture feed the repo holds (synced into a fresh database) and
//! evaluated against Anchore's default bundle by the evaluate handler itself. Prints the
//! median time of the whole handler and of its matching query and matching CPU alone;
//! also checks the planted packages' findings, so the fast path is the correct one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use customs_matcher::{keys_for, match_packages, Advisory};
use customs_tests::Stack;
use serde_json::{json, Value};

const ACCOUNT: &str = "admin";
const RUNS: usize = 7;

/// Every record file the repo keeps, read through `file://`.
async fn sync_all_fixture_feeds(stack: &Stack) -> Result<()> {
    let feeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/feeds/testdata");
    let matcher = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/matcher/testdata");
    let urls = BTreeMap::from([
        (
            "osv".to_owned(),
            vec![
                format!("file://{feeds}/osv/"),
                format!("file://{matcher}/osv-pypi/"),
                format!("file://{matcher}/osv-ghsa/"),
                format!("file://{matcher}/osv-go/"),
            ],
        ),
        (
            "debian".to_owned(),
            vec![
                format!("file://{feeds}/debian/vunnel-debian.json"),
                format!("file://{feeds}/debian/osvdev-debian_security_tracker_mock.json"),
            ],
        ),
        (
            "alpine".to_owned(),
            vec![
                format!("file://{feeds}/alpine/v3.10/main.yaml"),
                format!("file://{feeds}/alpine/v3.15/main.json"),
            ],
        ),
        (
            "nvd".to_owned(),
            vec![
                format!("file://{feeds}/nvd/vunnel-full-page.json"),
                format!("file://{feeds}/nvd/vuln-list-update-respPage1.json"),
                format!("file://{feeds}/nvd/vuln-list-update-respPage2.json"),
                format!("file://{feeds}/nvd/CVE-2024-3094.json"),
            ],
        ),
        (
            "kev".to_owned(),
            vec![format!(
                "file://{feeds}/kev/known_exploited_vulnerabilities.json"
            )],
        ),
        (
            "epss".to_owned(),
            vec![format!("file://{feeds}/epss/example-1.csv")],
        ),
    ]);
    let deps = customs_feed_sync::Deps {
        store: stack.app.store.clone(),
        queues: None,
        sources: customs_feed_sync::Sources {
            urls,
            nvd_api_key: None,
            nvd_page_size: 2000,
            nvd_delay: Duration::ZERO,
            backoff: Duration::from_millis(10),
            redhat_max_files: 10,
            timeout: Duration::from_secs(30),
        },
    };
    customs_feed_sync::sync_all(&deps, "test", false).await?;
    Ok(())
}

fn package(kind: &str, name: &str, version: &str, purl: &str, extra: Value) -> Value {
    let mut p = json!({ "name": name, "version": version, "type": kind, "purl": purl, "locations": [{ "path": format!("/usr/lib/{kind}/{name}"), "layer": 0 }] });
    if let (Some(o), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    p
}

/// 1 000 packages shaped like a large Debian application image: the planted ones the
/// feeds know about, and the rest under names no advisory mentions.
fn packages() -> Vec<Value> {
    let mut p = vec![
        package(
            "npm",
            "lodash",
            "4.17.15",
            "pkg:npm/lodash@4.17.15",
            json!({}),
        ),
        package(
            "npm",
            "minimist",
            "1.2.5",
            "pkg:npm/minimist@1.2.5",
            json!({}),
        ),
        package(
            "python",
            "requests",
            "2.30.0",
            "pkg:pypi/requests@2.30.0",
            json!({}),
        ),
        package(
            "python",
            "urllib3",
            "1.26.4",
            "pkg:pypi/urllib3@1.26.4",
            json!({}),
        ),
        package("python", "PyYAML", "5.1", "pkg:pypi/pyyaml@5.1", json!({})),
        package(
            "java",
            "log4j-core",
            "2.14.1",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            json!({}),
        ),
        package(
            "go",
            "golang.org/x/net",
            "v0.16.0",
            "pkg:golang/golang.org/x/net@v0.16.0",
            json!({}),
        ),
        package(
            "go",
            "k8s.io/kubernetes",
            "v1.20.0",
            "pkg:golang/k8s.io/kubernetes@v1.20.0",
            json!({}),
        ),
        package(
            "binary",
            "xz",
            "5.6.1",
            "pkg:generic/xz@5.6.1",
            json!({ "cpes": ["cpe:2.3:a:tukaani:xz:5.6.1:*:*:*:*:*:*:*"] }),
        ),
        package(
            "dpkg",
            "libssl3",
            "3.0.11-1~deb12u2",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2",
            json!({ "source_name": "openssl", "cpes": ["cpe:2.3:a:openssl:openssl:3.0.11-1~deb12u2:*:*:*:*:*:*:*"] }),
        ),
    ];
    let kinds = [
        ("dpkg", "deb/debian"),
        ("npm", "npm"),
        ("python", "pypi"),
        ("java", "maven/org.example"),
        ("go", "golang/example.com"),
    ];
    let mut i = 0;
    while p.len() < 1000 {
        let (kind, purl) = kinds[i % kinds.len()];
        let name = format!("{kind}-filler-{i}");
        let extra = if kind == "dpkg" {
            json!({ "source_name": format!("src-{i}"), "cpes": [format!("cpe:2.3:a:{name}:{name}:1.{i}.0:*:*:*:*:*:*:*")] })
        } else {
            json!({ "cpes": [format!("cpe:2.3:a:{name}:{name}:1.{i}.0:*:*:*:*:*:*:*")] })
        };
        p.push(package(
            kind,
            &name,
            &format!("1.{i}.0"),
            &format!("pkg:{purl}/{name}@1.{i}.0"),
            extra,
        ));
        i += 1;
    }
    p
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test]
async fn evaluate_speed_of_an_image_with_1000_packages() -> Result<()> {
    let stack = Stack::start().await?;
    sync_all_fixture_feeds(&stack).await?;
    let store = &stack.app.store;

    let reference = customs_tests::registry() + "/customs/speed:1000";
    let added = store
        .add_image(
            ACCOUNT,
            &customs_model::ImageRef::parse(&reference)?,
            "linux/amd64",
            &json!({}),
            false,
            None,
        )
        .await?;
    let id = added.image.id;
    store.begin_analysis(ACCOUNT, id).await?;
    let distro =
        json!({ "id": "debian", "version": "12", "namespace": "debian:12", "id_like": [] });
    let result = customs_store::AnalysisResult {
        image_digest: format!("sha256:{}", "5".repeat(64)),
        parent_digest: None,
        manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        manifest: b"{}".to_vec(),
        config_digest: format!("sha256:{}", "6".repeat(64)),
        config: json!({ "architecture": "amd64", "os": "linux", "config": { "User": "app" } }),
        arch: Some("amd64".into()),
        os: Some("linux".into()),
        image_size: 1,
        layers: vec![],
        findings: json!([]),
        file_count: 0,
        distro: Some(serde_json::from_value(distro)?),
        packages: serde_json::from_value(Value::Array(packages()))?,
        catalog_unknowns: json!([]),
        files: customs_store::FileIndex::encode(&[0u8; 0])?,
    };
    store.complete_analysis(ACCOUNT, id, &result).await?;

    // The whole evaluate handler, as Lambda runs it (reads, matching, policy, writes).
    let deps = customs_evaluate::Deps {
        store: store.clone(),
        queues: None,
    };
    let body = customs_contracts::encode(&customs_contracts::EvaluateImage {
        account: ACCOUNT.into(),
        image_id: id,
    });
    let mut handler = Vec::new();
    for i in 0..RUNS {
        let event: customs_runtime::sqs::Event = serde_json::from_value(
            json!({ "Records": [{ "messageId": format!("m{i}"), "body": body }] }),
        )?;
        let t = Instant::now();
        let resp = customs_evaluate::handle(event, &deps).await;
        handler.push(t.elapsed());
        assert!(resp.batch_item_failures.is_empty(), "evaluation failed");
    }

    // Its steps alone: reading the packages, the one batched query, the matching CPU.
    let mut read = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        store.image_packages(id).await?;
        read.push(t.elapsed());
    }
    let pkgs = store.image_packages(id).await?;
    assert_eq!(pkgs.len(), 1000);
    let d: customs_model::package::Distro = serde_json::from_value(
        json!({ "id": "debian", "version": "12", "namespace": "debian:12", "id_like": [] }),
    )?;
    let mut keys: Vec<(String, String)> = pkgs.iter().flat_map(|p| keys_for(p, Some(&d))).collect();
    keys.sort();
    keys.dedup();
    let (mut query, mut cpu) = (Vec::new(), Vec::new());
    let mut advisories: Vec<Advisory> = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let rows = store.match_candidates(&keys).await?;
        query.push(t.elapsed());
        advisories = rows
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
        let t = Instant::now();
        let found = match_packages(&pkgs, Some(&d), &advisories);
        cpu.push(t.elapsed());
        assert!(!found.is_empty());
    }
    let (handler, read, query, cpu) = (median(handler), median(read), median(query), median(cpu));
    println!(
        "evaluate_speed: 1000 packages, {} keys, {} candidate rows: handler median {:.1} ms (reading packages {:.1} ms, match query {:.1} ms, matching {:.1} ms, the rest is policy and writes), {} runs, {} build",
        keys.len(),
        advisories.len(),
        ms(handler),
        ms(read),
        ms(query),
        ms(cpu),
        RUNS,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );

    // The planted packages' findings, as stored by the handler.
    let (stored, _) = store
        .vulnerabilities(id)
        .await?
        .context("findings stored")?;
    let findings = stored.as_array().cloned().unwrap_or_default();
    let hit = |vuln: &str, pkg: &str| {
        findings
            .iter()
            .find(|f| f["vuln"] == vuln && f["package_name"] == pkg)
    };
    let log4j = hit("CVE-2021-44228", "log4j-core").context("log4j")?;
    assert_eq!(log4j["fix"], "2.15.0");
    assert!(!log4j["kev"].is_null(), "KEV lists Log4Shell: {log4j}");
    assert!(hit("CVE-2021-23337", "lodash").is_some());
    assert!(hit("CVE-2021-44906", "minimist").is_some());
    let requests = hit("CVE-2023-32681", "requests").context("requests")?;
    assert!(requests["aliases"].as_array().is_some_and(|a| a
        .contains(&json!("GHSA-j8r2-6x86-q33q"))
        && a.contains(&json!("PYSEC-2023-74"))));
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["package_name"] == "requests")
            .count(),
        1,
        "one finding across PyPA and GHSA"
    );
    assert!(hit("CVE-2023-45803", "urllib3").is_some());
    assert!(hit("CVE-2023-39325", "golang.org/x/net").is_some());
    assert!(hit("CVE-2024-3094", "xz").is_some_and(|f| f["namespace"] == "nvd:cpe"));
    assert!(
        !findings
            .iter()
            .any(|f| f["package_name"] == "k8s.io/kubernetes"),
        "GO-2022-0617 is withdrawn"
    );
    assert!(!findings.iter().any(|f| f["package_name"]
        .as_str()
        .is_some_and(|n| n.contains("filler"))));

    let bound = if cfg!(debug_assertions) {
        Duration::from_millis(250)
    } else {
        Duration::from_millis(50)
    };
    assert!(
        query + cpu < bound,
        "matching took {:.1} ms (query {:.1} + matching {:.1}), bound {bound:?}",
        ms(query + cpu),
        ms(query),
        ms(cpu)
    );
    assert!(
        handler < bound * 4,
        "evaluate handler took {:.1} ms",
        ms(handler)
    );
    Ok(())
}
