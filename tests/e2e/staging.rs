//! Layers are streamed, verified, staged once by blob digest, and hostile content is refused.

use std::io::Write as _;

use anyhow::Result;
use customs_image::layer::Limits;
use customs_tests::{push_image, CountingProxy, Stack};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::images::{add, by_tag};

const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("gzip");
    e.finish().expect("gzip")
}

/// A tar entry with a raw (unvalidated) name, so hostile layers can be built.
fn entry(b: &mut tar::Builder<Vec<u8>>, name: &str, t: tar::EntryType, link: Option<&str>, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
    }
    h.set_entry_type(t);
    h.set_size(data.len() as u64);
    h.set_mode(0o755);
    h.set_cksum();
    b.append(&h, data).expect("append");
}

#[tokio::test]
async fn a_layer_shared_by_two_images_is_fetched_and_staged_once() -> Result<()> {
    let stack = Stack::start().await?;
    let proxy = CountingProxy::start().await?;
    let first = format!("{}/customs/debian-app:latest", proxy.addr);
    add(&stack, json!({ "tag": first })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &first).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    let layers = img["layers"].as_array().cloned().unwrap_or_default();
    assert_eq!(layers.len(), 3, "{img}");
    let layer_digests: Vec<String> = layers.iter().filter_map(|l| l["digest"].as_str().map(str::to_owned)).collect();
    let fetched_first = proxy.blob_gets();
    for d in &layer_digests {
        assert_eq!(fetched_first.iter().filter(|g| *g == d).count(), 1, "layer {d} fetched once: {fetched_first:?}");
    }
    // The whiteout layer removed /usr/bin/tac; nothing hostile in this image.
    assert_eq!(img["findings"], json!([]));
    assert!(img["file_count"].as_i64().unwrap_or(0) > 1000, "{img}");
    let staged_before = stack.app.store.staged_at(&layer_digests).await?;
    assert_eq!(staged_before.len(), 3);

    // Same layers under another manifest (Docker schema 2): no layer is downloaded again.
    let second = format!("{}/customs/debian-app:v2s2", proxy.addr);
    add(&stack, json!({ "tag": second })).await?;
    stack.drain().await?;
    let img2 = by_tag(&stack, &second).await?;
    assert_eq!(img2["analysis_status"], "analyzed", "{img2}");
    let fetched_second = proxy.blob_gets()[fetched_first.len()..].to_vec();
    assert!(fetched_second.iter().all(|g| !layer_digests.contains(g)), "layers fetched again: {fetched_second:?}");
    assert_eq!(img2["file_count"], img["file_count"]);
    let staged_after = stack.app.store.staged_at(&staged_before.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>()).await?;
    let mut a = staged_before.clone();
    let mut b = staged_after;
    a.sort();
    b.sort();
    assert_eq!(a, b, "staged once, never restaged");

    // `customs_progress` on GET /v1/images/{digest}: every layer ready; the second image reused all.
    for (image, reused) in [(&img, 0), (&img2, 3)] {
        let digest = image["imageDigest"].as_str().unwrap_or_default();
        let got: Value = stack.request(reqwest::Method::GET, &format!("/v1/images/{digest}")).send().await?.error_for_status()?.json().await?;
        let p = &got[0]["customs_progress"];
        assert_eq!((p["layers_total"].as_i64(), p["layers_staged"].as_i64(), p["layers_reused"].as_i64()), (Some(3), Some(3), Some(reused)), "{got}");
        assert!(p["bytes_total"].as_i64().unwrap_or(0) > 0 && p["bytes_staged"] == p["bytes_total"], "{p}");
    }
    Ok(())
}

#[tokio::test]
async fn hostile_layers_are_analysed_without_escaping_and_reported() -> Result<()> {
    let stack = Stack::start().await?;
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "etc/os-release", tar::EntryType::Regular, None, b"ID=evil\n");
    entry(&mut b, "../../../../tmp/customs-escape", tar::EntryType::Regular, None, b"pwned");
    entry(&mut b, "bin/sh", tar::EntryType::Symlink, Some("/../../../../bin/bash"), b"");
    entry(&mut b, "bin/link", tar::EntryType::Link, Some("../../../etc/shadow"), b"");
    entry(&mut b, "bin/dangling", tar::EntryType::Link, Some("nowhere/at/all"), b"");
    entry(&mut b, "dev/sda", tar::EntryType::Block, None, b"");
    let tar = b.into_inner()?;
    let digest = push_image("customs/hostile", "v1", &[(GZ, gzip(&tar), sha(&tar))], None).await?;
    let tag = format!("{}/customs/hostile:v1", customs_tests::registry());
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(img["imageDigest"], digest);
    let findings = img["findings"].as_array().cloned().unwrap_or_default();
    let paths: Vec<&str> = findings.iter().filter_map(|f| f["path"].as_str()).collect();
    assert!(paths.contains(&"../../../../tmp/customs-escape"), "{findings:?}");
    assert!(paths.contains(&"bin/link"), "{findings:?}");
    assert!(paths.contains(&"bin/dangling"), "{findings:?}");
    assert!(!std::path::Path::new("/tmp/customs-escape").exists(), "a layer entry was written outside staging");
    assert_eq!(img["file_count"], 3, "etc/os-release, bin/sh (kept as a link), dev/sda: {img}");
    Ok(())
}

#[tokio::test]
async fn broken_and_oversized_layers_fail_the_analysis_with_the_reason() -> Result<()> {
    let stack = Stack::start_with(Limits { max_uncompressed_bytes: 1 << 20, ..Limits::default() }).await?;
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "zeros", tar::EntryType::Regular, None, &vec![0u8; 8 << 20]);
    let bomb = b.into_inner()?;
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "etc/hostname", tar::EntryType::Regular, None, b"x\n");
    let small = b.into_inner()?;
    let gz = gzip(&small);
    // (name, layers as (media type, blob, diff_id), config override, expected reason)
    type Case<'a> = (&'a str, Vec<(&'a str, Vec<u8>, String)>, Option<Vec<u8>>, &'a str);
    let cases: Vec<Case> = vec![
        ("bomb", vec![(GZ, gzip(&bomb), sha(&bomb))], None, "decompression bomb"),
        ("truncated", vec![(GZ, gz[..gz.len() - 12].to_vec(), sha(&small))], None, "truncated or corrupt"),
        // An uncompressed layer is its tar: its diff id is checked along with its digest.
        ("wrong-diff-id", vec![(TAR, small.clone(), sha(b"not the tar"))], None, "diff_id"),
        ("not-gzip", vec![(GZ, small.clone(), sha(&small))], None, "content starts like"),
        ("bad-config", vec![(GZ, gz.clone(), sha(&small))], Some(b"{not json".to_vec()), "malformed image config"),
        ("diff-id-count", vec![(GZ, gz.clone(), sha(&small))], Some(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec()), "rootfs.diff_ids lists 0 layers"),
    ];
    for (tag, layers, config, _) in &cases {
        push_image("customs/broken", tag, layers, config.clone()).await?;
        add(&stack, json!({ "tag": format!("{}/customs/broken:{tag}", customs_tests::registry()) })).await?;
    }
    stack.drain().await?;
    for (tag, _, _, reason) in &cases {
        let img: Value = by_tag(&stack, &format!("{}/customs/broken:{tag}", customs_tests::registry())).await?;
        assert_eq!(img["analysis_status"], "analysis_failed", "{tag}: {img}");
        let err = img["analysis_error"].as_str().unwrap_or_default();
        assert!(err.contains(reason), "{tag}: expected {reason:?} in {err:?}");
    }
    // A compressed layer is bound to the image by its blob digest alone: the diff id its
    // config states is recorded as stated, unchecked (hashing the tar again would cost a
    // second pass over every byte), and the layer's content is what was analysed.
    let stated = sha(b"not the tar");
    push_image("customs/broken", "stated-diff-id", &[(GZ, gz.clone(), stated.clone())], None).await?;
    let reference = format!("{}/customs/broken:stated-diff-id", customs_tests::registry());
    add(&stack, json!({ "tag": reference })).await?;
    stack.drain().await?;
    let img: Value = by_tag(&stack, &reference).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(img["layers"][0]["diff_id"], json!(stated), "{img}");
    assert_eq!(img["layers"][0]["digest"], json!(sha(&gz)), "{img}");
    assert_eq!(img["file_count"], json!(1), "etc/hostname: {img}");
    Ok(())
}

#[tokio::test]
async fn the_staging_bucket_is_encrypted_private_and_expires_staged_layers() -> Result<()> {
    let stack = Stack::start().await?;
    let s3 = customs_image::s3_client(&stack.app.sdk, true);
    let bucket = &stack.app.settings.names.bucket;
    let lc = s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await?;
    let rule = &lc.rules()[0];
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(customs_local::provision::STAGED_LAYER_EXPIRY_DAYS));
    let enc = s3.get_bucket_encryption().bucket(bucket).send().await?;
    assert!(enc.server_side_encryption_configuration().is_some());
    let pab = s3.get_public_access_block().bucket(bucket).send().await?;
    assert_eq!(pab.public_access_block_configuration().and_then(|c| c.block_public_acls()), Some(true));
    Ok(())
}

/// Copies `image` from the test registry into `dest` (a skopeo transport) with skopeo.
fn skopeo_copy(image: &str, dest: &str) -> Result<()> {
    let src = format!("docker://{}/customs/{image}:latest", customs_tests::registry());
    let out = std::process::Command::new("skopeo")
        .args(["--insecure-policy", "copy", "-q", "--src-tls-verify=false", &src, dest])
        .output()
        .map_err(|e| anyhow::anyhow!("skopeo (tests/images/build.sh installs it): {e}"))?;
    anyhow::ensure!(out.status.success(), "skopeo copy {src} {dest}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

fn packages(img: &customs_image::ScannedImage) -> Vec<(String, String, String)> {
    let catalog = customs_catalog::catalog(img);
    let mut p: Vec<_> = catalog.packages.iter().map(|p| (format!("{:?}", p.kind), p.name.clone(), p.version.clone())).collect();
    p.sort();
    p
}

/// `customs scan`'s library: the same image read from the registry, an OCI layout, an OCI
/// archive and a `docker save` archive yields the same files and packages; the OCI forms
/// keep the registry's manifest digest; a second scan of the same blobs reuses every
/// staged layer.
#[tokio::test]
async fn scan_reads_registries_oci_layouts_and_docker_archives_alike() -> Result<()> {
    use customs_image::{ScanOptions, scan};
    use customs_model::fs::FileSource as _;
    let tmp = tempfile::tempdir()?;
    let oci_dir = tmp.path().join("layout");
    let oci_archive = tmp.path().join("oci.tar");
    let docker_archive = tmp.path().join("docker.tar");
    skopeo_copy("debian-app", &format!("oci:{}:latest", oci_dir.display()))?;
    skopeo_copy("debian-app", &format!("oci-archive:{}", oci_archive.display()))?;
    skopeo_copy("debian-app", &format!("docker-archive:{}:customs/debian-app:latest", docker_archive.display()))?;
    let opts = ScanOptions::default();
    let work = tmp.path().join("work");
    let reg = scan(&format!("{}/customs/debian-app:latest", customs_tests::registry()), &work, &opts).await?;
    assert!(reg.layers.iter().all(|l| l.fetched), "first scan stages every layer");
    let want = packages(&reg);
    assert!(want.iter().any(|(_, n, v)| n == "requests" && v == "2.31.0"), "{want:?}");
    assert!(want.iter().any(|(k, n, _)| k == "Dpkg" && n == "coreutils"), "{want:?}");
    assert!(!reg.view().entries.contains_key("usr/bin/tac"), "the whiteout layer applied");
    let sources = [
        format!("oci-dir:{}:latest", oci_dir.display()),
        format!("oci-archive:{}", oci_archive.display()),
        format!("docker-archive:{}", docker_archive.display()),
    ];
    for source in &sources {
        // A fresh work dir: every layer is read from the archive and verified.
        let fresh = tmp.path().join(format!("work-{}", source.split(':').next().unwrap_or("x")));
        let img = scan(source, &fresh, &opts).await?;
        assert!(img.layers.iter().all(|l| l.fetched), "{source}");
        assert_eq!(img.image.config_digest, reg.image.config_digest, "{source}");
        if !source.starts_with("docker-archive") {
            assert_eq!(img.digest(), reg.digest(), "{source}: the layout keeps the registry manifest");
        }
        assert_eq!(img.view().entries.len(), reg.view().entries.len(), "{source}");
        assert_eq!(packages(&img), want, "{source}");
        assert!(img.findings().is_empty(), "{source}: {:?}", img.findings());
        // The shared work dir already holds the OCI forms' layers: the registry's blobs,
        // staged by blob digest. A `docker save` archive holds plain tars, other blobs:
        // read once into it, then reused.
        let mut again = scan(source, &work, &opts).await?;
        if source.starts_with("docker-archive") {
            assert!(again.layers.iter().all(|l| l.fetched), "{source}: other blobs");
            again = scan(source, &work, &opts).await?;
        }
        assert!(again.layers.iter().all(|l| !l.fetched), "{source}: reused");
        assert_eq!(again.digest(), img.digest(), "{source}");
        assert_eq!(packages(&again), want, "{source}");
    }
    Ok(())
}

/// Uploads `file` through the presigned-URL flow and adds it; returns the added image.
async fn upload(stack: &Stack, file: Option<&std::path::Path>, format: &str, tag: &str) -> Result<Value> {
    let up: Value = stack.request(reqwest::Method::POST, "/v1/images/uploads").send().await?.error_for_status()?.json().await?;
    let url = up["url"].as_str().ok_or_else(|| anyhow::anyhow!("no url: {up}"))?;
    assert_eq!(up["method"], "PUT");
    if let Some(file) = file {
        let body = tokio::fs::read(file).await?;
        let resp = reqwest::Client::new().put(url).header("Content-Type", "application/x-tar").body(body).send().await?;
        anyhow::ensure!(resp.status().is_success(), "PUT upload: {} {}", resp.status(), resp.text().await.unwrap_or_default());
    }
    add(stack, json!({ "source": { "archive": { "upload_id": up["upload_id"], "format": format, "tag": tag } } })).await
}

/// Images built locally (CI) are uploaded as a `docker save` or OCI archive straight to
/// the staging bucket, then staged and analysed like registry images: same layers reused,
/// same digests as `customs scan` computes, and a missing upload fails with the reason.
#[tokio::test]
async fn uploaded_docker_and_oci_archives_are_staged_and_analysed() -> Result<()> {
    let stack = Stack::start().await?;
    let tmp = tempfile::tempdir()?;
    let docker = tmp.path().join("tiny-docker.tar");
    let oci = tmp.path().join("tiny-oci.tar");
    skopeo_copy("tiny", &format!("docker-archive:{}:customs/tiny:latest", docker.display()))?;
    skopeo_copy("tiny", &format!("oci-archive:{}", oci.display()))?;
    let local = customs_image::scan(&format!("docker-archive:{}", docker.display()), &tmp.path().join("work"), &Default::default()).await?;

    upload(&stack, Some(&docker), "docker-archive", "uploads.example/tiny:docker").await?;
    upload(&stack, Some(&oci), "oci-archive", "uploads.example/tiny:oci").await?;
    upload(&stack, None, "docker-archive", "uploads.example/tiny:never-uploaded").await?;
    let bad = stack
        .request(reqwest::Method::POST, "/v1/images")
        .json(&json!({ "source": { "archive": { "upload_id": "not-an-id", "format": "docker-archive" } } }))
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    let bad = stack
        .request(reqwest::Method::POST, "/v1/images")
        .json(&json!({ "source": { "archive": { "upload_id": uuid::Uuid::new_v4(), "format": "rpm" } } }))
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    stack.drain().await?;

    let d = by_tag(&stack, "uploads.example/tiny:docker").await?;
    assert_eq!(d["analysis_status"], "analyzed", "{d}");
    assert_eq!(d["imageDigest"].as_str(), Some(local.digest()), "the API and customs scan describe a docker save archive alike");
    let o = by_tag(&stack, "uploads.example/tiny:oci").await?;
    assert_eq!(o["analysis_status"], "analyzed", "{o}");
    let (registry_digest, layers) = crate::images::registry_truth("customs/tiny", "latest").await?;
    assert_eq!(o["imageDigest"], registry_digest, "an OCI archive keeps the registry manifest digest");
    assert_eq!(o["layers"].as_array().map(Vec::len), Some(layers));
    assert_eq!(o["file_count"], d["file_count"]);
    for img in [&d, &o] {
        let digest = img["imageDigest"].as_str().unwrap_or_default();
        let go: Value = stack.request(reqwest::Method::GET, &format!("/v1/images/{digest}/content/go")).send().await?.error_for_status()?.json().await?;
        let names: Vec<&str> = go["content"].as_array().map(|a| a.iter().filter_map(|p| p["package"].as_str()).collect()).unwrap_or_default();
        assert!(names.contains(&"github.com/google/uuid"), "{digest}: {go}");
    }
    let never = by_tag(&stack, "uploads.example/tiny:never-uploaded").await?;
    assert_eq!(never["analysis_status"], "analysis_failed", "{never}");
    assert!(never["analysis_error"].as_str().unwrap_or_default().contains("nothing was uploaded"), "{never}");
    Ok(())
}

/// Not in CI: peak memory of `customs scan` on a large image. Run by hand with
/// `CUSTOMS_SCAN_SOURCE=docker-archive:/tmp/big.tar /usr/bin/time -v <e2e binary> --ignored scan_of_a_large_image`.
#[tokio::test]
#[ignore = "measurement: needs CUSTOMS_SCAN_SOURCE naming a large image"]
async fn scan_of_a_large_image() -> Result<()> {
    let source = std::env::var("CUSTOMS_SCAN_SOURCE")?;
    let tmp = tempfile::tempdir()?;
    let img = customs_image::scan(&source, tmp.path(), &Default::default()).await?;
    let uncompressed: u64 = img.layers.iter().map(|l| l.layer.uncompressed_size).sum();
    let catalog = customs_catalog::catalog(&img);
    println!("scanned {} ({uncompressed} bytes unpacked), {} packages", img.digest(), catalog.packages.len());
    Ok(())
}
