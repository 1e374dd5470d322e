//! Every planted package of the test images is found, through the real pipeline
//! (registry → staging → squashed view → catalogers → database → content API).

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use customs_tests::{registry, Stack};
use reqwest::Method;
use serde_json::{json, Value};

use crate::images::{add, by_tag};

fn planted() -> Result<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/images/planted.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// The content type anchore's API lists a planted package under.
fn content_type(planted_type: &str) -> &'static str {
    match planted_type {
        "deb" => "os",
        "python" => "python",
        "npm" => "npm",
        "go-module" => "go",
        "java-archive" => "java",
        _ => "binary",
    }
}

async fn content(stack: &Stack, digest: &str, ctype: &str) -> Result<Vec<Value>> {
    let v: Value = stack
        .request(Method::GET, &format!("/v1/images/{digest}/content/{ctype}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["content"].as_array().cloned().unwrap_or_default())
}

#[tokio::test]
async fn every_planted_package_is_found_and_no_ghosts() -> Result<()> {
    let stack = Stack::start().await?;
    let truth = planted()?;
    for image in ["debian-app", "tiny"] {
        let tag = format!("{}/customs/{image}:latest", registry());
        add(&stack, json!({ "tag": tag })).await?;
    }
    stack.drain().await?;
    for image in ["debian-app", "tiny"] {
        let img = by_tag(&stack, &format!("{}/customs/{image}:latest", registry())).await?;
        assert_eq!(img["analysis_status"], "analyzed", "{img}");
        let digest = img["imageDigest"].as_str().context("digest")?.to_owned();
        let mut found = BTreeSet::new();
        for ctype in ["os", "python", "npm", "go", "java", "binary"] {
            for p in content(&stack, &digest, ctype).await? {
                let name = p["package"].as_str().unwrap_or_default().to_lowercase();
                let version = p["version"].as_str().unwrap_or_default().to_owned();
                found.insert((ctype.to_owned(), name, version));
            }
        }
        let mut missing = Vec::new();
        for p in truth[image]["present"].as_array().context("present")? {
            let ctype = content_type(p["type"].as_str().unwrap_or_default());
            let name = p["name"].as_str().unwrap_or_default().to_lowercase();
            let version = p["version"].as_str();
            let hit = found.iter().any(|(t, n, v)| t == ctype && *n == name && version.is_none_or(|want| v == want));
            if !hit {
                missing.push(format!("{ctype}:{name}@{}", version.unwrap_or("*")));
            }
        }
        assert!(missing.is_empty(), "{image}: not found: {missing:?}");
        for p in truth[image]["absent"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default().to_lowercase();
            assert!(!found.iter().any(|(_, n, _)| *n == name), "{image}: ghost package {name} reported");
        }
        if image == "debian-app" {
            assert_eq!(img["image_content"]["metadata"]["distro"], "debian", "{img}");
            let files = content(&stack, &digest, "files").await?;
            let names: BTreeSet<&str> = files.iter().filter_map(|f| f["filename"].as_str()).collect();
            assert!(names.contains("/usr/bin/bash") || names.contains("/bin/bash"), "bash is in the file index");
            assert!(!names.contains("/usr/bin/tac"), "the whiteout removed /usr/bin/tac");
        }
    }
    Ok(())
}

#[tokio::test]
async fn sboms_are_exported_as_cyclonedx_and_spdx() -> Result<()> {
    let stack = Stack::start().await?;
    let tag = format!("{}/customs/tiny:latest", registry());
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let digest = by_tag(&stack, &tag).await?["imageDigest"].as_str().context("digest")?.to_owned();
    let cdx: Value = stack.request(Method::GET, &format!("/v1/images/{digest}/sbom/cyclonedx-json")).send().await?.error_for_status()?.json().await?;
    assert_eq!(cdx["bomFormat"], "CycloneDX");
    let purls: Vec<&str> = cdx["components"].as_array().into_iter().flatten().filter_map(|c| c["purl"].as_str()).collect();
    assert!(purls.contains(&"pkg:golang/github.com/google/uuid@v1.3.0"), "{purls:?}");
    let spdx: Value = stack.request(Method::GET, &format!("/v1/images/{digest}/sbom/spdx-json")).send().await?.error_for_status()?.json().await?;
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert!(spdx["packages"].as_array().is_some_and(|p| p.len() >= 7), "{spdx}");
    let resp = stack.request(Method::GET, &format!("/v1/images/{digest}/sbom/xml")).send().await?;
    assert_eq!(resp.status(), 404);
    Ok(())
}
