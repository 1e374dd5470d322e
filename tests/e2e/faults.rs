//! Broken registries: a fault-injecting proxy in front of the test registry answers 500,
//! hangs, truncates a blob, serves a manifest that is not JSON or is far too big, 404 or
//! 401. Every analysis ends `analysis_failed` with a reason that says which, retryable
//! faults only after the queue's last allowed delivery; none stays `analyzing`.
//! (Unknown tags, unreachable hosts, anonymous access to an auth registry, bombs, corrupt
//! or mismatched layers and configs are in `images.rs` and `staging.rs`.)

use std::time::Duration;

use anyhow::Result;
use customs_tests::{CountingProxy, Fault, Stack, push_image};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::images::{add, by_tag};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A one-layer image of its own for each case (so no two cases share a digest or a
/// staged layer): returns the tag to pull through `proxy` and the layer's digest.
async fn own_image(case: &str, proxy: &CountingProxy) -> Result<(String, String)> {
    use std::io::Write as _;
    let mut b = tar::Builder::new(Vec::new());
    let content = format!("{case} {}\n", uuid::Uuid::new_v4());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "etc/fault-case", content.as_bytes())?;
    let tar = b.into_inner()?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar)?;
    let gz = gz.finish()?;
    let hex = |b: &[u8]| {
        format!(
            "sha256:{}",
            sha2::Sha256::digest(b)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
        )
    };
    let layer = hex(&gz);
    let tag = format!("{case}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    push_image("customs/faults", &tag, &[(GZ, gz, hex(&tar))], None).await?;
    Ok((format!("{}/customs/faults:{tag}", proxy.addr), layer))
}

#[tokio::test]
async fn broken_registries_fail_the_analysis_with_a_precise_reason() -> Result<()> {
    // Reads give up after 2 s (a hang is a timeout, not a stuck image); retries come back
    // after 1 s, then 2 s.
    let stack = Stack::start_tuned(|s| {
        s.registry_read_timeout = Duration::from_secs(2);
        s.retry_backoff = Duration::from_secs(1);
    })
    .await?;
    let huge = {
        // Valid JSON, 5 MiB: over the 4 MiB manifest limit.
        let mut b = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":""#.to_vec();
        b.resize(b.len() + (5 << 20), b'x');
        b.extend_from_slice(br#""}}"#);
        b
    };
    // (case, path fragment ("blob": the layer), fault, words the recorded reason must
    // contain ("LAYER": the layer's digest), retried)
    let cases: Vec<(&str, &str, Fault, Vec<&str>, bool)> = vec![
        (
            "blob-500",
            "blob",
            Fault::Status(500),
            vec!["failed transiently", "500", "gave up after 3 attempts"],
            true,
        ),
        (
            "manifest-hang",
            "/manifests/",
            Fault::Hang,
            vec!["timed out", "gave up after 3 attempts"],
            true,
        ),
        (
            "blob-truncated",
            "blob",
            Fault::Truncate,
            vec!["LAYER", "broke off after", "gave up after 3 attempts"],
            true,
        ),
        (
            "manifest-not-json",
            "/manifests/",
            Fault::Body(
                OCI_MANIFEST,
                b"<html><body>502 Bad Gateway</body></html>".to_vec(),
            ),
            vec!["malformed manifest"],
            false,
        ),
        (
            "manifest-oversized",
            "/manifests/",
            Fault::Body(OCI_MANIFEST, huge),
            vec!["manifest of", "over the 4194304-byte limit"],
            false,
        ),
        (
            "manifest-404",
            "/manifests/",
            Fault::Status(404),
            vec!["was not found in the registry", "404"],
            false,
        ),
        (
            "blob-404",
            "blob",
            Fault::Status(404),
            vec!["was not found in the registry", "404"],
            false,
        ),
        (
            "blob-401",
            "blob",
            Fault::Status(401),
            vec!["refused the credentials", "401"],
            false,
        ),
    ];
    let mut proxies = Vec::new();
    for (name, path, fault, _, _) in &cases {
        let proxy = CountingProxy::start().await?;
        let (tag, layer) = own_image(name, &proxy).await?;
        let path = if *path == "blob" {
            format!("/blobs/{layer}")
        } else {
            (*path).to_owned()
        };
        proxy.fail(&path, fault.clone());
        add(&stack, json!({ "tag": tag })).await?;
        proxies.push((*name, proxy, tag, layer));
    }
    stack.drain().await?;

    for ((name, proxy, tag, layer), (_, _, _, words, retried)) in proxies.iter().zip(&cases) {
        let img = by_tag(&stack, tag).await?;
        assert_eq!(img["analysis_status"], "analysis_failed", "{name}: {img}");
        let err = img["analysis_error"].as_str().unwrap_or_default();
        for w in words {
            let w = if *w == "LAYER" { layer.as_str() } else { w };
            assert!(err.contains(w), "{name}: expected {w:?} in {err:?}");
        }
        assert!(!err.contains("customs-pass"), "{name}: {err}");
        // The blob faults: the layer was asked for once per delivery (three when retried).
        if name.starts_with("blob-") {
            let gets = proxy.blob_gets().iter().filter(|g| *g == layer).count();
            assert_eq!(gets, if *retried { 3 } else { 1 }, "{name}: layer GETs");
        }
        // The same detail on the image's own record, when the add resolved a digest.
        if let Some(digest) = img["imageDigest"]
            .as_str()
            .filter(|d| d.starts_with("sha256:"))
        {
            let v: Value = stack
                .request(Method::GET, &format!("/v1/images/{digest}"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            assert_eq!(v[0]["analysis_status"], "analysis_failed", "{name}: {v}");
            assert_eq!(v[0]["analysis_error"], img["analysis_error"], "{name}");
        }
    }
    Ok(())
}

/// The config digest of a tag pushed by `own_image` (from the registry itself).
async fn config_of(tag: &str) -> Result<String> {
    let name = tag.rsplit(':').next().unwrap_or_default();
    let m: Value = reqwest::Client::new()
        .get(format!("http://{}/v2/customs/faults/manifests/{name}", customs_tests::registry()))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    m["config"]["digest"].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("no config digest in {m}"))
}

/// A registry that streams a manifest or config without end (chunked, no length) is
/// abandoned as soon as the answer passes its limit: the analysis fails at once with the
/// limit as its reason, and the proxy handed the connection little more than the limit
/// (socket buffers) before customs hung up, where reading it whole would have taken 1 GiB.
#[tokio::test]
async fn an_endless_manifest_or_config_is_abandoned_at_the_limit() -> Result<()> {
    const LIMIT: u64 = 4 << 20;
    const SLACK: u64 = 16 << 20;
    let stack = Stack::start().await?;
    let manifests = CountingProxy::start().await?;
    let (manifest_tag, _) = own_image("manifest-endless", &manifests).await?;
    manifests.fail("/manifests/", Fault::Endless(OCI_MANIFEST));
    let configs = CountingProxy::start().await?;
    let (config_tag, _) = own_image("config-endless", &configs).await?;
    let config = config_of(&config_tag).await?;
    configs.fail(&format!("/blobs/{config}"), Fault::Endless("application/vnd.oci.image.config.v1+json"));

    let started = std::time::Instant::now();
    add(&stack, json!({ "tag": manifest_tag })).await?;
    add(&stack, json!({ "tag": config_tag })).await?;
    stack.drain().await?;
    let took = started.elapsed();

    let img = by_tag(&stack, &manifest_tag).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    let err = img["analysis_error"].as_str().unwrap_or_default();
    for w in ["manifest of", "over the 4194304-byte limit (4 MiB)", "stopped reading"] {
        assert!(err.contains(w), "expected {w:?} in {err:?}");
    }
    // The add resolved the tag and the analysis fetched it: two answers, each cut short.
    let served = manifests.endless_served();
    println!("endless manifest: bytes served per request {served:?}");
    assert!(!served.is_empty(), "the manifest was never asked for");
    for n in &served {
        assert!(*n > LIMIT && *n < LIMIT + SLACK, "served {n} bytes of an endless manifest: {served:?}");
    }

    let img = by_tag(&stack, &config_tag).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    let err = img["analysis_error"].as_str().unwrap_or_default();
    for w in ["config of", "-byte limit", "stopped reading"] {
        assert!(err.contains(w), "expected {w:?} in {err:?}");
    }
    let served = configs.endless_served();
    println!("endless config: bytes served per request {served:?}");
    assert_eq!(served.len(), 1, "the config is read once: {served:?}");
    assert!(served[0] < SLACK, "served {} bytes of an endless config", served[0]);
    assert!(took < Duration::from_secs(60), "took {took:?}");
    Ok(())
}

/// A registry whose `Bearer` challenge names a token realm the network policy forbids (a
/// cloud metadata address; `0.0.0.0`, which would reach this host) gets no token request
/// at all, not even with the account's stored credentials: the analysis fails with the
/// policy's reason, and so does the watch function's HEAD check.
#[tokio::test]
async fn a_token_realm_the_network_policy_forbids_is_never_contacted() -> Result<()> {
    let stack = Stack::start().await?;
    // Stands where the forbidden realm `0.0.0.0:<port>` leads; counts connections.
    let realm = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = realm.local_addr()?.port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = hits.clone();
    tokio::spawn(async move {
        while let Ok((_sock, _)) = realm.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let realms = [format!("http://0.0.0.0:{port}/token"), "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_owned()];
    let mut cases = Vec::new();
    for (i, url) in realms.iter().enumerate() {
        let proxy = CountingProxy::start().await?;
        let (tag, _) = own_image(&format!("realm-{i}"), &proxy).await?;
        proxy.fail("/v2/", Fault::Challenge(format!(r#"Bearer realm="{url}",service="customs-test",scope="repository:customs/faults:pull""#)));
        // Stored credentials for the proxy: they must not go to the realm either.
        let resp = stack
            .request(Method::POST, "/v1/registries?validate=false")
            .json(&json!({ "registry": proxy.addr.to_string(), "registry_user": "u", "registry_pass": "customs-secret", "registry_verify": false }))
            .send()
            .await?;
        assert_eq!(resp.status(), 200, "{}", resp.text().await?);
        add(&stack, json!({ "tag": tag })).await?;
        cases.push((url, proxy, tag));
    }
    stack.drain().await?;
    for (url, proxy, tag) in &cases {
        let img = by_tag(&stack, tag).await?;
        assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
        let err = img["analysis_error"].as_str().unwrap_or_default();
        for w in [format!("registry {} is not allowed", proxy.addr), format!("the token realm {url} it names"), "which the network policy forbids".into()] {
            assert!(err.contains(&w), "expected {w:?} in {err:?}");
        }
        assert!(!err.contains("customs-secret"), "{err}");
        let r = customs_model::ImageRef::parse(tag)?;
        let creds = customs_image::Credentials { username: "u".into(), password: "customs-secret".into() };
        let headed = stack.app.registry.head_digest(&r, Some(&creds), false).await;
        assert!(matches!(headed, Err(customs_image::RegistryError::Forbidden { .. })), "{headed:?}");
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "a forbidden realm was contacted");
    Ok(())
}
