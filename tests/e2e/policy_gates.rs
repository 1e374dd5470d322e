//! Anchore Enterprise gates end to end: a tag pushed twice with different Debian packages,
//! both versions analysed, and the second checked with `tag_drift` and `distro` rules.

use std::io::Write as _;

use anyhow::{Context, Result, ensure};
use customs_tests::{Stack, push_image, registry};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::evaluate::activate_bundle;
use crate::images::{add, by_tag};

const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A gzip layer holding `files` (path, content): (media type, blob, diff id).
fn layer(files: &[(&str, &str)]) -> (&'static str, Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).ok();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, content.as_bytes()).ok();
    }
    let tar = b.into_inner().unwrap_or_default();
    let diff_id = format!(
        "sha256:{}",
        Sha256::digest(&tar)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    );
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar).ok();
    (GZ, e.finish().unwrap_or_default(), diff_id)
}

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";

/// A dpkg status file with the given (package, version) entries.
fn dpkg_status(pkgs: &[(&str, &str)]) -> String {
    pkgs.iter()
        .map(|(name, version)| {
            format!(
                "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: misc\nInstalled-Size: 10\nMaintainer: Test <t@example.org>\nArchitecture: amd64\nVersion: {version}\nDescription: test package {name}\n\n"
            )
        })
        .collect()
}

fn image(pkgs: &[(&str, &str)]) -> (&'static str, Vec<u8>, String) {
    layer(&[
        ("etc/os-release", OS_RELEASE),
        ("var/lib/dpkg/status", &dpkg_status(pkgs)),
    ])
}

async fn get(stack: &Stack, path: &str) -> Result<Value> {
    Ok(stack
        .request(Method::GET, path)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

#[tokio::test]
async fn tag_drift_compares_with_the_image_the_tag_pointed_to_before() -> Result<()> {
    let stack = Stack::start().await?;
    let repo = format!("customs/drift-{}", &stack.prefix[..8]);
    let tag = format!("{}/{repo}:latest", registry());
    let rule = |id: &str, gate: &str, trigger: &str, params: Value| json!({ "id": id, "gate": gate, "trigger": trigger, "action": "WARN", "params": params });
    let bundle = json!({
        "id": "drift", "name": "drift", "version": "1_0", "comment": "",
        "policies": [{ "id": "p1", "name": "p1", "version": "1_0", "rules": [
            rule("r1", "tag_drift", "packages_added", json!([])),
            rule("r2", "tag_drift", "packages_removed", json!([])),
            rule("r3", "tag_drift", "packages_modified", json!([{ "name": "package_type", "value": "dpkg" }])),
            rule("r4", "distro", "deny", json!([{ "name": "distro", "value": "debian" }, { "name": "version", "value": "13" }, { "name": "check", "value": "<" }])),
        ]}],
        "whitelists": [], "mappings": [{ "id": "m1", "name": "all", "registry": "*", "repository": "*", "image": { "type": "tag", "value": "*" }, "policy_ids": ["p1"], "whitelist_ids": [] }],
        "whitelisted_images": [], "blacklisted_images": []
    });
    activate_bundle(&stack, &bundle).await?;
    // An invalid enterprise rule is refused on upload, naming gate, trigger and parameter.
    let mut bad = bundle.clone();
    bad["id"] = json!("bad");
    bad["policies"][0]["rules"][3]["params"][1]["value"] = json!("bookworm");
    let resp = stack
        .request(Method::POST, "/v1/policies")
        .json(&bad)
        .send()
        .await?;
    ensure!(resp.status() == 400, "{}", resp.status());
    let v: Value = resp.json().await?;
    let details = v["detail"]["validation_details"].to_string();
    ensure!(
        details.contains("gate=distro,trigger=deny") && details.contains("parameter 'version'"),
        "{v}"
    );

    let rows = |check: &Value, digest: &str, image_id: &str| -> Vec<Value> {
        check[0][digest][&tag][0]["detail"]["result"]["result"][image_id]["result"]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };

    let first = push_image(
        &repo,
        "latest",
        &[image(&[
            ("bash", "5.2.15-2"),
            ("openssl", "3.0.11-1"),
            ("wget", "1.21.3-1"),
        ])],
        None,
    )
    .await?;
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    ensure!(
        img["imageDigest"] == first.as_str() && img["analysis_status"] == "analyzed",
        "{img}"
    );
    let image_id = img["image_detail"][0]["imageId"]
        .as_str()
        .context("imageId")?
        .to_owned();
    let check = get(
        &stack,
        &format!("/v1/images/{first}/check?tag={tag}&detail=true"),
    )
    .await?;
    let got = rows(&check, &first, &image_id);
    // No previous image for the tag: only the distro rule fires.
    assert_eq!(got.len(), 1, "{check:#}");
    assert_eq!(got[0][3], "distro");
    assert_eq!(
        got[0][5],
        "Distro check for distro: 'debian' check: '<' version: '13' matched image distro: 'debian' version: '12'"
    );

    let second = push_image(
        &repo,
        "latest",
        &[image(&[
            ("bash", "5.2.15-2"),
            ("openssl", "3.0.15-1"),
            ("curl", "7.88.1-10"),
        ])],
        None,
    )
    .await?;
    ensure!(second != first);
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    ensure!(
        img["imageDigest"] == second.as_str() && img["analysis_status"] == "analyzed",
        "{img}"
    );
    let image_id = img["image_detail"][0]["imageId"]
        .as_str()
        .context("imageId")?
        .to_owned();
    let check = get(
        &stack,
        &format!("/v1/images/{second}/check?tag={tag}&detail=true"),
    )
    .await?;
    let mut got: Vec<(String, String)> = rows(&check, &second, &image_id)
        .iter()
        .map(|r| {
            (
                r[4].as_str().unwrap_or_default().to_owned(),
                r[5].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("deny".to_owned(), "Distro check for distro: 'debian' check: '<' version: '13' matched image distro: 'debian' version: '12'".to_owned()),
            ("packages_added".to_owned(), "Package added since the tag's previous image: curl-7.88.1-10 (type: dpkg)".to_owned()),
            ("packages_modified".to_owned(), "Package modified since the tag's previous image: openssl from version 3.0.11-1 to 3.0.15-1 (type: dpkg)".to_owned()),
            ("packages_removed".to_owned(), "Package removed since the tag's previous image: wget-1.21.3-1 (type: dpkg)".to_owned()),
        ],
        "{check:#}"
    );
    assert_eq!(
        check[0][&second][&tag][0]["status"], "pass",
        "WARN rules only"
    );
    Ok(())
}

/// The `files` gate reads the file index analyze recorded: a rule on file names fires for
/// exactly the recorded files it names.
#[tokio::test]
async fn the_files_gate_reads_the_recorded_file_index() -> Result<()> {
    let stack = Stack::start().await?;
    let repo = format!("customs/files-{}", &stack.prefix[..8]);
    let tag = format!("{}/{repo}:latest", registry());
    let bundle = json!({
        "id": "files", "name": "files", "version": "1_0", "comment": "",
        "policies": [{ "id": "p1", "name": "p1", "version": "1_0", "rules": [
            { "id": "r1", "gate": "files", "trigger": "name_match", "action": "STOP", "params": [{ "name": "regex", "value": ".*/os-release$" }] },
        ]}],
        "whitelists": [], "mappings": [{ "id": "m1", "name": "all", "registry": "*", "repository": "*", "image": { "type": "tag", "value": "*" }, "policy_ids": ["p1"], "whitelist_ids": [] }],
        "whitelisted_images": [], "blacklisted_images": []
    });
    activate_bundle(&stack, &bundle).await?;
    let digest = push_image(&repo, "latest", &[image(&[("bash", "5.2.15-2")])], None).await?;
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    ensure!(img["analysis_status"] == "analyzed", "{img}");
    let image_id = img["image_detail"][0]["imageId"].as_str().context("imageId")?.to_owned();
    let check = get(&stack, &format!("/v1/images/{digest}/check?tag={tag}&detail=true")).await?;
    let result = &check[0][&digest][&tag][0]["detail"]["result"]["result"][&image_id]["result"];
    let rows = result["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{check:#}");
    assert_eq!(rows[0][3], "files");
    assert_eq!(rows[0][5], "Application of regex matched file found in container: file=/etc/os-release regexp=.*/os-release$");
    assert_eq!(check[0][&digest][&tag][0]["status"], "fail", "{check:#}");
    Ok(())
}
