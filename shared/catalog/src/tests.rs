//! The engine over the debian-app test image's real files, checked against the image's
//! ground truth (`tests/images/planted.json`).

use serde_json::Value;

use crate::catalog;
use crate::testutil::MemSource;

/// debian-app's layers as fixture folders: base (os-release, dpkg), then the application.
const DEBIAN_APP: &[&str] = &[
    "distro/debian-12",
    "dpkg/bookworm",
    "python/site-packages",
    "npm/express-app",
    "go/demo-go",
    "java/commons-lang3",
];

#[test]
fn debian_app_finds_everything_planted() {
    let found = catalog(&MemSource::layers(DEBIAN_APP));
    assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
    assert_eq!(
        found.distro.as_ref().map(|d| d.namespace.as_str()),
        Some("debian:12")
    );

    let planted: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/images/planted.json"
        ))
        .expect("planted.json"),
    )
    .expect("json");
    let present = planted["debian-app"]["present"]
        .as_array()
        .expect("present");
    for want in present {
        let syft_type = want["type"].as_str().expect("type");
        let name = want["name"].as_str().expect("name");
        let hit = found.packages.iter().find(|p| {
            p.kind.syft_type() == syft_type
                && p.name == name
                && want["version"].as_str().is_none_or(|v| p.version == v)
        });
        let Some(p) = hit else {
            panic!("planted {syft_type} {name} {:?} not found", want["version"])
        };
        if let Some(purl) = want["purl"].as_str() {
            assert_eq!(p.purl, purl, "{name}");
        }
        if let Some(path) = want["path"].as_str() {
            assert!(
                p.locations.iter().any(|l| l.path == path),
                "{name} at {path}: {:?}",
                p.locations
            );
        }
    }
    let count = |t: &str| {
        found
            .packages
            .iter()
            .filter(|p| p.kind.as_str() == t)
            .count()
    };
    // 96 debs, 8 Python, 52 npm + the app project, 5 Go modules + stdlib, 1 jar.
    assert_eq!(
        [
            count("dpkg"),
            count("python"),
            count("npm"),
            count("go"),
            count("java"),
            count("binary")
        ],
        [96, 8, 53, 6, 1, 0]
    );
    assert_eq!(found.packages.len(), 96 + 8 + 53 + 6 + 1);
}

#[test]
fn a_corrupt_file_never_fails_the_image() {
    let src = MemSource::files(&[
        ("var/lib/dpkg/status", b"Package: ok\nVersion: 1\n"),
        ("app/node_modules/x/package.json", b"{not json"),
        ("opt/app.jar", b"PK\x03\x04 truncated"),
        ("usr/lib/python3/dist-packages/x.egg-info", b"\xff\xfe"),
    ]);
    let found = catalog(&src);
    assert_eq!(found.packages.len(), 1);
    let mut unknown: Vec<_> = found
        .unknowns
        .iter()
        .map(|u| (u.cataloger.as_str(), u.path.as_str()))
        .collect();
    unknown.sort();
    assert_eq!(
        unknown,
        [
            ("java-archive-cataloger", "/opt/app.jar"),
            (
                "javascript-package-cataloger",
                "/app/node_modules/x/package.json"
            ),
            (
                "python-installed-package-cataloger",
                "/usr/lib/python3/dist-packages/x.egg-info"
            ),
        ]
    );
}
