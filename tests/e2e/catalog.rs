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
            // Each entry in anchore-cli's shape: a regular file with its digest and octal
            // mode, a symlink with its target.
            let passwd = files.iter().find(|f| f["filename"] == "/etc/passwd").context("/etc/passwd is in the file index")?;
            assert_eq!((&passwd["type"], &passwd["mode"], &passwd["uid"], &passwd["linkdest"]), (&json!("file"), &json!("00644"), &json!(0), &Value::Null), "{passwd}");
            assert!(passwd["size"].as_u64().is_some_and(|n| n > 0), "{passwd}");
            assert!(passwd["sha256"].as_str().is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())), "{passwd}");
            let link = files.iter().find(|f| f["type"] == "slink").context("a symlink is in the file index")?;
            assert!(link["linkdest"].as_str().is_some_and(|t| !t.is_empty()) && link["sha256"].is_null(), "{link}");
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

/// Runs `tests/sbom/validate.py` (pinned `jsonschema` in a venv `validator.sh` installs)
/// over one document; returns the violations it printed.
fn schema_violations(schema: &str, doc: &Value) -> Result<Option<String>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sbom");
    let out = std::process::Command::new("bash").arg(format!("{dir}/validator.sh")).arg("path").output()?;
    anyhow::ensure!(out.status.success(), "validator.sh path failed: {}", String::from_utf8_lossy(&out.stderr));
    let python = String::from_utf8(out.stdout)?.trim().to_owned();
    let file = std::env::temp_dir().join(format!("customs-sbom-{}.json", uuid_like()));
    std::fs::write(&file, serde_json::to_vec(doc)?)?;
    let run = std::process::Command::new(python).arg(format!("{dir}/validate.py")).arg(schema).arg(&file).output();
    let _ = std::fs::remove_file(&file);
    let run = run?;
    match run.status.code() {
        Some(0) => Ok(None),
        Some(1) => Ok(Some(String::from_utf8_lossy(&run.stdout).into_owned())),
        _ => anyhow::bail!("validate.py failed: {}", String::from_utf8_lossy(&run.stderr)),
    }
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), std::time::SystemTime::now())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[tokio::test]
async fn sboms_validate_against_the_official_schemas() -> Result<()> {
    // The validator rejects what the schemas reject: a wrong license id, a missing field.
    let bad = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "x", "licenses": [{"license": {"id": "NOT-A-LICENSE"}}]}]});
    assert!(schema_violations("bom-1.6.SNAPSHOT.schema.json", &bad)?.is_some());
    assert!(schema_violations("spdx_2_3.json", &json!({"spdxVersion": "SPDX-2.3"}))?.is_some());

    let stack = Stack::start().await?;
    let images = ["debian-app", "tiny"];
    for image in images {
        add(&stack, json!({ "tag": format!("{}/customs/{image}:latest", registry()) })).await?;
    }
    stack.drain().await?;
    for image in images {
        let img = by_tag(&stack, &format!("{}/customs/{image}:latest", registry())).await?;
        let digest = img["imageDigest"].as_str().context("digest")?.to_owned();
        for (path, schema) in [("cyclonedx-json", "bom-1.6.SNAPSHOT.schema.json"), ("spdx-json", "spdx_2_3.json")] {
            let doc: Value = stack.request(Method::GET, &format!("/v1/images/{digest}/sbom/{path}")).send().await?.error_for_status()?.json().await?;
            if let Some(violations) = schema_violations(schema, &doc)? {
                panic!("{image} {path} violates {schema}:\n{violations}");
            }
            let n = doc["components"].as_array().or(doc["packages"].as_array()).map_or(0, Vec::len);
            assert!(n > if image == "tiny" { 5 } else { 100 }, "{image} {path}: {n} packages");
        }
    }
    Ok(())
}

/// customs against syft on the repo's test images and the formats image (issue 4's accuracy bar): syft from PyPI
/// (`tests/accuracy/syft.sh`) scans the same registry images, `tests/accuracy/compare.py`
/// prints found-by-both / only-syft / only-customs per ecosystem and fails when syft finds
/// a dpkg/apk/rpm/python/npm/gem/java/go package customs does not (unless explained there).
/// Skipped, saying so, only when syft cannot be installed. Reports are kept under
/// `target/tmp/accuracy-<image>.txt`.
#[tokio::test]
async fn accuracy_against_syft() -> Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/accuracy");
    let install = std::process::Command::new("bash").arg(format!("{dir}/syft.sh")).arg("install").output()?;
    if install.status.code() == Some(3) {
        eprintln!("SKIPPED accuracy_against_syft: syft could not be installed: {}", String::from_utf8_lossy(&install.stderr));
        return Ok(());
    }
    anyhow::ensure!(install.status.success(), "syft.sh install: {}", String::from_utf8_lossy(&install.stderr));

    let stack = Stack::start().await?;
    let images = [
        ("debian-app", format!("{}/customs/debian-app:latest", registry())),
        ("tiny", format!("{}/customs/tiny:latest", registry())),
        ("formats", push_formats_image().await?),
    ];
    for (_, tag) in &images {
        add(&stack, json!({ "tag": tag })).await?;
    }
    stack.drain().await?;
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut failures = Vec::new();
    for (image, tag) in &images {
        let digest = by_tag(&stack, tag).await?["imageDigest"].as_str().context("digest")?.to_owned();
        let cdx: Value = stack.request(Method::GET, &format!("/v1/images/{digest}/sbom/cyclonedx-json")).send().await?.error_for_status()?.json().await?;
        let customs_json = out.join(format!("accuracy-{image}-customs.cdx.json"));
        let syft_json = out.join(format!("accuracy-{image}-syft.json"));
        std::fs::write(&customs_json, serde_json::to_vec(&cdx)?)?;
        let syft = std::process::Command::new("bash").arg(format!("{dir}/syft.sh")).arg(format!("registry:{tag}")).arg(&syft_json).output()?;
        anyhow::ensure!(syft.status.success(), "syft failed on {tag}: {}", String::from_utf8_lossy(&syft.stderr));
        let cmp = std::process::Command::new("python3").arg(format!("{dir}/compare.py")).arg(&syft_json).arg(&customs_json).arg(image).output()?;
        let report = String::from_utf8_lossy(&cmp.stdout).into_owned();
        std::fs::write(out.join(format!("accuracy-{image}.txt")), &report)?;
        println!("{report}");
        match cmp.status.code() {
            Some(0) => {}
            Some(1) => failures.push(report),
            _ => anyhow::bail!("compare.py failed: {}", String::from_utf8_lossy(&cmp.stderr)),
        }
    }
    assert!(failures.is_empty(), "syft found packages customs missed:\n{}", failures.join("\n"));
    Ok(())
}

/// Pushes an image of the formats the Debian test images do not have (a Rocky Linux 9 rpm
/// database, yarn and pnpm lock files, a `cargo auditable` binary), built from the
/// catalog's fixtures, to the test registry under a fresh name; returns its tag.
async fn push_formats_image() -> Result<String> {
    use sha2::Digest as _;
    use std::io::Write as _;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/catalog/testdata");
    let files: [(&str, String, u32); 7] = [
        ("etc/os-release", format!("{fixtures}/rpm/rocky-9/etc/os-release"), 0o644),
        ("var/lib/rpm/rpmdb.sqlite", format!("{fixtures}/rpm/sqlite/var/lib/rpm/rpmdb.sqlite"), 0o644),
        ("srv/yarn/package.json", format!("{fixtures}/npm/yarn-v1/app/package.json"), 0o644),
        ("srv/yarn/yarn.lock", format!("{fixtures}/npm/yarn-v1/app/yarn.lock"), 0o644),
        ("srv/berry/yarn.lock", format!("{fixtures}/npm/yarn-berry/app/yarn.lock"), 0o644),
        ("srv/pnpm/pnpm-lock.yaml", format!("{fixtures}/npm/pnpm-v9/app/pnpm-lock.yaml"), 0o644),
        ("usr/local/bin/hello-auditable", format!("{fixtures}/rust/auditable/usr/local/bin/hello-auditable"), 0o755),
    ];
    let mut tar = tar::Builder::new(Vec::new());
    for (path, src, mode) in &files {
        let data = std::fs::read(src).with_context(|| src.clone())?;
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        tar.append_data(&mut h, path, data.as_slice())?;
    }
    let tar = tar.into_inner()?;
    let diff_id = format!("sha256:{:x}", sha2::Sha256::digest(&tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar)?;
    let layer = ("application/vnd.oci.image.layer.v1.tar+gzip", gz.finish()?, diff_id);
    let repo = format!("customs/catalog-formats-{}", uuid_like().to_lowercase());
    customs_tests::push_image(&repo, "latest", &[layer], None).await?;

    Ok(format!("{}/{repo}:latest", registry()))
}

/// The formats image ([`push_formats_image`]) through staging (which must keep those
/// files), the catalogers, the database, the content API and both SBOMs.
#[tokio::test]
async fn rpm_lock_files_and_auditable_binaries_through_the_pipeline() -> Result<()> {
    let tag = push_formats_image().await?;
    let stack = Stack::start().await?;
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(img["image_content"]["metadata"]["distro"], "rocky", "{img}");
    let digest = img["imageDigest"].as_str().context("digest")?.to_owned();

    let os = content(&stack, &digest, "os").await?;
    assert_eq!(os.len(), 28, "every rpm of the database");
    let libs = os.iter().find(|p| p["package"] == "foo-libs").context("foo-libs")?;
    assert_eq!((libs["version"].as_str(), libs["type"].as_str(), libs["sourcepkg"].as_str()), (Some("1:4.5-7.el9"), Some("rpm"), Some("foo")));
    let npm = content(&stack, &digest, "npm").await?;
    let npm: BTreeSet<(String, String)> = npm.iter().map(|p| (p["package"].as_str().unwrap_or_default().to_owned(), p["location"].as_str().unwrap_or_default().trim_start_matches('/').to_owned())).collect();
    for lock in ["srv/yarn/yarn.lock", "srv/berry/yarn.lock", "srv/pnpm/pnpm-lock.yaml"] {
        assert!(npm.contains(&("debug".to_owned(), lock.to_owned())), "debug from /{lock}: {npm:?}");
    }
    let rust = content(&stack, &digest, "rust").await?;
    let crates: BTreeSet<&str> = rust.iter().filter_map(|p| p["package"].as_str()).collect();
    assert_eq!(crates, BTreeSet::from(["hello-auditable", "itoa", "serde"]));

    for (path, schema) in [("cyclonedx-json", "bom-1.6.SNAPSHOT.schema.json"), ("spdx-json", "spdx_2_3.json")] {
        let doc: Value = stack.request(Method::GET, &format!("/v1/images/{digest}/sbom/{path}")).send().await?.error_for_status()?.json().await?;
        if let Some(violations) = schema_violations(schema, &doc)? {
            panic!("{path} violates {schema}:\n{violations}");
        }
        let text = doc.to_string();
        assert!(text.contains("pkg:rpm/rocky/foo-libs@4.5-7.el9?arch=x86_64&distro=rocky-9.3&epoch=1&upstream=foo-4.5-7.el9.src.rpm"), "{path}: rpm purl");
    }
    Ok(())
}
