use serde_json::Value;

use super::*;
use crate::testutil::MemSource;

fn image() -> ImageMetadata {
    ImageMetadata {
        digest: "sha256:eac26be5980e18ba38b59faac36fb3d5e0f8b580be12e45fe04851addabf09b2".into(),
        name: "127.0.0.1:5000/customs/debian-app:latest".into(),
        created: "2024-05-20T00:00:00Z".into(),
        tool_version: "0.1.0".into(),
    }
}

fn catalog() -> crate::Catalog {
    crate::catalog(&MemSource::layers(&[
        "distro/debian-12",
        "dpkg/distroless",
        "java/commons-lang3",
        "apk/multiple",
    ]))
}

#[test]
fn serial_numbers_are_uuid_shaped_and_stable() {
    let s = serial(&image().digest);
    assert_eq!(s, "eac26be5-980e-58ba-b8b5-9faac36fb3d5");
    assert_eq!(s.len(), 36);
}

#[test]
fn cyclonedx_components_licenses_and_dependencies() {
    let bom = cyclonedx_json(&catalog(), &image()).expect("bom");
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(bom["metadata"]["component"]["type"], "container");
    let comps = bom["components"].as_array().expect("components");
    assert_eq!(comps[0]["type"], "operating-system");
    let lang = comps
        .iter()
        .find(|c| c["name"] == "commons-lang3")
        .expect("jar");
    assert_eq!(lang["group"], "org.apache.commons");
    assert_eq!(
        lang["purl"],
        "pkg:maven/org.apache.commons/commons-lang3@3.12.0"
    );
    let ca = comps
        .iter()
        .find(|c| c["name"] == "ca-certificates-bundle")
        .expect("apk");
    assert_eq!(
        ca["licenses"],
        serde_json::json!([{"expression": "MPL-2.0 AND MIT"}])
    );
    let musl = comps.iter().find(|c| c["name"] == "musl").expect("apk");
    assert_eq!(
        musl["licenses"],
        serde_json::json!([{"license": {"id": "MIT"}}])
    );
    let deps = bom["dependencies"][0]["dependsOn"]
        .as_array()
        .expect("deps");
    assert_eq!(
        deps.len(),
        comps.len(),
        "the image contains every component"
    );
    let refs: std::collections::BTreeSet<&str> =
        comps.iter().filter_map(|c| c["bom-ref"].as_str()).collect();
    assert_eq!(refs.len(), comps.len(), "bom-refs are unique");
}

#[test]
fn spdx_packages_refs_and_relationships() {
    let doc = spdx_json(&catalog(), &image()).expect("doc");
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    let pkgs = doc["packages"].as_array().expect("packages");
    assert_eq!(pkgs[0]["primaryPackagePurpose"], "CONTAINER");
    let ids: std::collections::BTreeSet<&str> =
        pkgs.iter().filter_map(|p| p["SPDXID"].as_str()).collect();
    assert_eq!(ids.len(), pkgs.len(), "SPDX ids are unique");
    assert!(ids.iter().all(|id| {
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    }));
    let lang = pkgs
        .iter()
        .find(|p| p["name"] == "commons-lang3")
        .expect("jar");
    assert_eq!(lang["externalRefs"][0]["referenceType"], "purl");
    assert_eq!(lang["externalRefs"][1]["referenceType"], "cpe23Type");
    let ca = pkgs
        .iter()
        .find(|p| p["name"] == "ca-certificates-bundle")
        .expect("apk");
    assert_eq!(ca["licenseDeclared"], "MPL-2.0 AND MIT");
    let rels = doc["relationships"].as_array().expect("relationships");
    assert_eq!(rels[0]["relationshipType"], "DESCRIBES");
    assert_eq!(
        rels.len(),
        pkgs.len(),
        "DESCRIBES + one CONTAINS per package"
    );
    // Every license that is not SPDX is declared as an extracted LicenseRef.
    let refs: Vec<&Value> = pkgs
        .iter()
        .map(|p| &p["licenseDeclared"])
        .filter(|l| l.as_str().is_some_and(|l| l.contains("LicenseRef-")))
        .collect();
    if !refs.is_empty() {
        assert!(
            doc["hasExtractedLicensingInfos"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        );
    }
}
