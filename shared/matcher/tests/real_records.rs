//! The matcher on real upstream records (`testdata/`, see SOURCES.md), normalised by the
//! real feed drivers and turned into the rows the store hands the matcher, against
//! packages built by hand. Every expectation is derived by hand from the records in
//! `testdata/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use customs_feeds::{Document, Output};
use customs_matcher::{match_packages, Advisory, Finding};
use customs_model::package::{Distro, Location, Package, PackageType};
use serde_json::{json, Value};

fn read(rel: &str) -> Vec<u8> {
    let p = format!("{}/testdata/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// What one driver makes of one document.
fn normalize(feed: &str, name: &str, bytes: &[u8]) -> Vec<customs_feeds::Advisory> {
    let driver = customs_feeds::by_name(feed).expect("driver");
    let mut out = Vec::new();
    driver.normalize(&Document::new(name, bytes), &mut |o| {
        if let Output::Advisory(a) = o {
            out.push(a);
        }
    });
    assert!(!out.is_empty(), "{name}: nothing normalised");
    out
}

/// The rows the store's match query returns for these advisories: one per affected
/// package, withdrawn advisories left out (`WHERE v.withdrawn IS NULL`).
fn rows(feed: &str, advisories: &[customs_feeds::Advisory]) -> Vec<Advisory> {
    advisories
        .iter()
        .filter(|a| a.withdrawn.is_none())
        .flat_map(|a| {
            a.affected.iter().map(move |p| Advisory {
                feed: feed.to_owned(),
                vuln_id: a.id.clone(),
                aliases: a.aliases.clone(),
                namespace: p.namespace.clone(),
                package: p.package.clone(),
                version_format: p.version_format.clone(),
                ranges: serde_json::to_value(&p.ranges).unwrap(),
                versions: p.versions.clone(),
                fixed: p.fixed.clone(),
                state: p.state.as_str().to_owned(),
                severity: p.severity.clone(),
                vuln_severity: a.severity.as_ref().map(|s| s.label.clone()),
                severity_source: a.severity.as_ref().map(|s| s.source.clone()),
                cvss: serde_json::to_value(&a.cvss).unwrap(),
                refs: a.references.clone(),
            })
        })
        .collect()
}

fn osv(rels: &[&str]) -> Vec<Advisory> {
    rels.iter()
        .flat_map(|r| rows("osv", &normalize("osv", r, &read(r))))
        .collect()
}

fn all_osv(dir: &str) -> Vec<Advisory> {
    let root = format!("{}/testdata/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&root)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json" || x == "yaml") {
                files.push(
                    p.strip_prefix(format!("{}/testdata/", env!("CARGO_MANIFEST_DIR")))
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    files.sort();
    osv(&files.iter().map(String::as_str).collect::<Vec<_>>())
}

/// An NVD CVE item in vunnel's envelope is one `vulnerabilities[]` entry of an API 2.0
/// page; the test puts it in a page for the NVD driver.
fn nvd_vunnel(rel: &str) -> Vec<Advisory> {
    let v: Value = serde_json::from_slice(&read(rel)).unwrap();
    let page = serde_json::to_vec(&json!({ "vulnerabilities": [v["item"]] })).unwrap();
    rows("nvd", &normalize("nvd", rel, &page))
}

/// A Debian record in vunnel's OS schema, read the way the Debian tracker driver reads
/// the tracker entry it came from: a fixed version is `resolved` (affected below it),
/// `None` with `NoAdvisory` is `no-dsa`, `None` otherwise `open`.
fn debian_vunnel(rel: &str) -> Vec<Advisory> {
    let v: Value = serde_json::from_slice(&read(rel)).unwrap();
    let vuln = &v["item"]["Vulnerability"];
    let name = vuln["Name"].as_str().unwrap();
    vuln["FixedIn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let version = f["Version"].as_str().unwrap();
            let (state, ranges, fixed) = match version {
                "None" if f["VendorAdvisory"]["NoAdvisory"] == true => (
                    "no_dsa",
                    json!([{"kind": "ecosystem", "events": [{"introduced": "0"}]}]),
                    vec![],
                ),
                "None" => (
                    "open",
                    json!([{"kind": "ecosystem", "events": [{"introduced": "0"}]}]),
                    vec![],
                ),
                v => (
                    "fixed",
                    json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"fixed": v}]}]),
                    vec![v.to_owned()],
                ),
            };
            Advisory {
                feed: "debian".into(),
                vuln_id: name.into(),
                aliases: vec![],
                namespace: f["NamespaceName"].as_str().unwrap().into(),
                package: f["Name"].as_str().unwrap().into(),
                version_format: "deb".into(),
                ranges,
                versions: vec![],
                fixed,
                state: state.into(),
                severity: None,
                vuln_severity: vuln["Severity"].as_str().map(str::to_owned),
                severity_source: Some("debian".into()),
                cvss: json!([]),
                refs: vec![vuln["Link"].as_str().unwrap().into()],
            }
        })
        .collect()
}

fn pkg(kind: PackageType, name: &str, version: &str) -> Package {
    let purl = match kind {
        PackageType::Java => {
            let (g, a) = name.split_once(':').unwrap();
            format!("pkg:maven/{g}/{a}@{version}")
        }
        _ => format!("pkg:generic/{name}@{version}"),
    };
    let short = name.rsplit(':').next().unwrap();
    Package::new(
        kind,
        short,
        version,
        purl,
        Location {
            path: format!("/app/{short}"),
            layer: 0,
        },
    )
}

fn deb(name: &str, version: &str, source: &str, source_version: &str) -> Package {
    let mut p = pkg(PackageType::Dpkg, name, version);
    p.source_name = Some(source.into());
    p.source_version = Some(source_version.into());
    p.cpes = vec![format!(
        "cpe:2.3:a:{source}:{source}:{version}:*:*:*:*:*:*:*"
    )];
    p
}

fn distro(id: &str, version: &str) -> Distro {
    Distro {
        id: id.into(),
        version: version.into(),
        namespace: format!("{id}:{version}"),
        id_like: vec![],
        pretty_name: None,
    }
}

/// `(vulnerability, fix)` of every finding, sorted.
fn found(p: Package, distro: Option<&Distro>, rows: &[Advisory]) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = match_packages(&[p], distro, rows)
        .into_iter()
        .map(|f| (f.vuln, f.fix))
        .collect();
    v.sort();
    v
}

fn expect(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(a, b)| ((*a).to_owned(), b.map(str::to_owned)))
        .collect();
    v.sort();
    v
}

fn one(p: Package, distro: Option<&Distro>, rows: &[Advisory]) -> Finding {
    let mut f = match_packages(&[p], distro, rows);
    assert_eq!(f.len(), 1, "{f:#?}");
    f.remove(0)
}

#[test]
fn urllib3_pypa_records() {
    let db = all_osv("osv-pypi/urllib3");
    let py = |v: &str| pkg(PackageType::Python, "urllib3", v);
    assert_eq!(
        found(py("1.26.4"), None, &db),
        expect(&[
            ("CVE-2021-33503", Some("1.26.5")),
            ("CVE-2023-43804", Some("1.26.17")),
            ("CVE-2023-45803", Some("1.26.18"))
        ])
    );
    // Both records list their 2.0 range first and the 1.x range after it.
    assert_eq!(
        found(py("1.26.17"), None, &db),
        expect(&[("CVE-2023-45803", Some("1.26.18"))])
    );
    assert_eq!(found(py("1.26.18"), None, &db), expect(&[]));
    assert_eq!(
        found(py("2.0.6"), None, &db),
        expect(&[("CVE-2023-45803", Some("2.0.7"))])
    );
    assert_eq!(found(py("2.0.7"), None, &db), expect(&[]));
    assert_eq!(
        found(py("1.17"), None, &db).first().map(|f| f.0.as_str()),
        Some("CVE-2016-9015")
    );
}

#[test]
fn requests_pypa_and_github_records_are_one_finding() {
    let mut db = all_osv("osv-pypi/requests");
    db.extend(osv(&["osv-ghsa/pypi/GHSA-j8r2-6x86-q33q.json"]));
    let py = |v: &str| pkg(PackageType::Python, "requests", v);
    let f = one(py("2.30.0"), None, &db);
    assert_eq!(
        (f.vuln.as_str(), f.fix.as_deref()),
        ("CVE-2023-32681", Some("2.31.0"))
    );
    assert!(
        ["PYSEC-2023-74", "GHSA-j8r2-6x86-q33q", "CVE-2023-32681"]
            .iter()
            .all(|id| f.aliases.iter().any(|a| a == id)),
        "{f:#?}"
    );
    assert_eq!(
        f.sources.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["PYSEC-2023-74", "GHSA-j8r2-6x86-q33q"]
    );
    // GHSA rates it Moderate; PyPA gives no rating.
    assert_eq!(
        (f.severity.as_str(), f.severity_source.as_deref()),
        ("Medium", Some("github"))
    );
    assert_eq!(found(py("2.31.0"), None, &db), expect(&[]));
    assert_eq!(
        found(py("2.2.1"), None, &db),
        expect(&[
            ("CVE-2014-1829", Some("2.3.0")),
            ("CVE-2014-1830", Some("2.3.0")),
            ("CVE-2015-2296", Some("2.6.0")),
            ("CVE-2018-18074", Some("2.20.0"))
        ])
    );
}

#[test]
fn jinja2_and_pyyaml_pypa_records() {
    let mut db = all_osv("osv-pypi/jinja2");
    db.extend(all_osv("osv-pypi/pyyaml"));
    let jinja = |v: &str| pkg(PackageType::Python, "Jinja2", v);
    assert_eq!(
        found(jinja("2.11.2"), None, &db),
        expect(&[("CVE-2020-28493", Some("2.11.3"))])
    );
    assert_eq!(
        found(jinja("2.10"), None, &db),
        expect(&[
            ("CVE-2019-10906", Some("2.10.1")),
            ("CVE-2020-28493", Some("2.11.3"))
        ])
    );
    assert_eq!(found(jinja("2.11.3"), None, &db), expect(&[]));
    let yaml = |v: &str| pkg(PackageType::Python, "PyYAML", v);
    assert_eq!(
        found(yaml("5.1"), None, &db),
        expect(&[
            ("CVE-2019-20477", Some("5.2b1")),
            ("CVE-2020-1747", Some("5.3.1")),
            ("CVE-2020-14343", Some("5.4"))
        ])
    );
    assert_eq!(
        found(yaml("5.4b2"), None, &db),
        expect(&[("CVE-2020-14343", Some("5.4"))])
    );
    assert_eq!(found(yaml("5.4"), None, &db), expect(&[]));
}

#[test]
fn lodash_minimist_express_github_records() {
    let db = all_osv("osv-ghsa/npm");
    let npm = |n: &str, v: &str| pkg(PackageType::Npm, n, v);
    assert_eq!(
        found(npm("lodash", "4.17.15"), None, &db),
        expect(&[
            ("CVE-2020-8203", Some("4.17.20")),
            ("CVE-2021-23337", Some("4.17.21"))
        ])
    );
    assert_eq!(
        found(npm("lodash", "4.17.20"), None, &db),
        expect(&[("CVE-2021-23337", Some("4.17.21"))])
    );
    assert_eq!(found(npm("lodash", "4.17.21"), None, &db), expect(&[]));
    assert_eq!(
        found(npm("lodash-es", "4.17.20"), None, &db),
        expect(&[("CVE-2021-23337", Some("4.17.21"))])
    );
    assert_eq!(
        found(npm("minimist", "1.2.5"), None, &db),
        expect(&[("CVE-2021-44906", Some("1.2.6"))])
    );
    assert_eq!(
        found(npm("minimist", "0.2.1"), None, &db),
        expect(&[("CVE-2021-44906", Some("0.2.4"))])
    );
    assert_eq!(
        found(npm("minimist", "0.2.0"), None, &db),
        expect(&[
            ("CVE-2020-7598", Some("0.2.1")),
            ("CVE-2021-44906", Some("0.2.4"))
        ])
    );
    assert_eq!(
        found(npm("express", "4.19.1"), None, &db),
        expect(&[("CVE-2024-29041", Some("4.19.2"))])
    );
    assert_eq!(
        found(npm("express", "5.0.0-beta.1"), None, &db),
        expect(&[("CVE-2024-29041", Some("5.0.0-beta.3"))])
    );
    assert_eq!(found(npm("express", "5.0.0"), None, &db), expect(&[]));
    assert_eq!(found(npm("express", "4.19.2"), None, &db), expect(&[]));
}

#[test]
fn log4j_core_github_records() {
    let db = all_osv("osv-ghsa/maven");
    let jar = |v: &str| pkg(PackageType::Java, "org.apache.logging.log4j:log4j-core", v);
    assert_eq!(
        found(jar("2.14.1"), None, &db),
        expect(&[
            ("CVE-2021-44228", Some("2.15.0")),
            ("CVE-2021-45046", Some("2.16.0"))
        ])
    );
    assert_eq!(
        found(jar("2.15.0"), None, &db),
        expect(&[("CVE-2021-45046", Some("2.16.0"))])
    );
    assert_eq!(
        found(jar("2.12.1"), None, &db),
        expect(&[
            ("CVE-2021-44228", Some("2.12.2")),
            ("CVE-2021-45046", Some("2.12.2"))
        ])
    );
    assert_eq!(
        found(jar("2.3.1"), None, &db),
        expect(&[("CVE-2021-45046", Some("2.12.2"))])
    );
    assert_eq!(found(jar("2.12.2"), None, &db), expect(&[]));
    assert_eq!(found(jar("2.16.0"), None, &db), expect(&[]));
    let f = one(jar("2.15.0"), None, &db);
    assert_eq!(
        (f.severity.as_str(), f.namespace.as_str()),
        ("Critical", "maven")
    );
    let text = |v: &str| pkg(PackageType::Java, "org.apache.commons:commons-text", v);
    assert_eq!(
        found(text("1.9"), None, &db),
        expect(&[("CVE-2022-42889", Some("1.10.0"))])
    );
    assert_eq!(found(text("1.10.0"), None, &db), expect(&[]));
}

#[test]
fn golang_x_net_go_vulndb_records() {
    let db = all_osv("osv-go");
    let net = |v: &str| pkg(PackageType::Go, "golang.org/x/net", v);
    assert_eq!(
        found(net("v0.17.0"), None, &db),
        expect(&[("CVE-2023-45288", Some("0.23.0"))])
    );
    assert_eq!(
        found(net("v0.16.0"), None, &db),
        expect(&[
            ("CVE-2023-39325", Some("0.17.0")),
            ("CVE-2023-45288", Some("0.23.0"))
        ])
    );
    // A pseudo-version: exactly GO-2022-0969's fix, inside GO-2023-1495's pseudo-version range.
    assert_eq!(
        found(net("v0.0.0-20220906165146-f3363e06e74c"), None, &db),
        expect(&[
            (
                "CVE-2022-41721",
                Some("0.1.1-0.20221104162952-702349b0e862")
            ),
            ("CVE-2022-41723", Some("0.7.0")),
            ("CVE-2023-3978", Some("0.13.0")),
            ("CVE-2023-39325", Some("0.17.0")),
            ("CVE-2023-45288", Some("0.23.0")),
        ])
    );
    // `introduced` is inclusive, `fixed` exclusive.
    assert_eq!(
        found(net("v0.50.0"), None, &db),
        expect(&[("CVE-2026-27141", Some("0.51.0"))])
    );
    assert_eq!(found(net("v0.51.0"), None, &db), expect(&[]));
    // The standard library, as binaries record it.
    assert_eq!(
        found(pkg(PackageType::Go, "stdlib", "go1.21.1"), None, &db),
        expect(&[
            ("CVE-2023-39325", Some("1.21.3")),
            ("CVE-2023-45288", Some("1.21.9"))
        ])
    );
}

#[test]
fn withdrawn_records_are_normalised_as_withdrawn_and_never_reach_the_matcher() {
    for rel in ["osv-go/GO-2022-0617.json", "osv-go/GO-2024-2442.json"] {
        let a = normalize("osv", rel, &read(rel));
        assert!(a.iter().all(|a| a.withdrawn.is_some()), "{rel}");
    }
    let db = all_osv("osv-go");
    assert_eq!(
        found(
            pkg(PackageType::Go, "k8s.io/kubernetes", "v1.20.0"),
            None,
            &db
        ),
        expect(&[])
    );
    assert_eq!(
        found(
            pkg(
                PackageType::Go,
                "github.com/gravitational/teleport",
                "v14.0.0"
            ),
            None,
            &db
        ),
        expect(&[])
    );
}

fn openssl_db() -> Vec<Advisory> {
    let mut db = Vec::new();
    for rel in [
        "vunnel-normalized/grype-dbtest-shared-all/debian/results/debian@10/cve-2024-0727.json",
        "vunnel-normalized/grype-dbtest-shared-all/debian/results/debian@11/cve-2022-0778.json",
        "vunnel-normalized/grype-dbtest-shared-all/debian/results/debian@11/cve-2023-0286.json",
        "vunnel-normalized/grype-dbtest-shared-all/debian/results/debian@11/cve-2024-0727.json",
        "vunnel-normalized/grype-dbtest-shared-all/debian/results/debian@12/cve-2024-0727.json",
    ] {
        db.extend(debian_vunnel(rel));
    }
    for rel in [
        "vunnel-normalized/grype-dbtest-shared-all/nvd/results/2022/cve-2022-0778.json",
        "vunnel-normalized/grype-dbtest-shared-all/nvd/results/2023/cve-2023-0286.json",
        "vunnel-normalized/grype-dbtest-shared-all/nvd/results/2024/cve-2024-0727.json",
    ] {
        db.extend(nvd_vunnel(rel));
    }
    db
}

#[test]
fn openssl_in_debian_by_source_package_with_nvd_corroborating() {
    let db = openssl_db();
    let bookworm = distro("debian", "12");
    let f = one(
        deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
        Some(&bookworm),
        &db,
    );
    assert_eq!(
        (f.vuln.as_str(), f.fix.as_deref(), f.namespace.as_str()),
        ("CVE-2024-0727", Some("3.0.13-1~deb12u1"), "debian:12")
    );
    assert_eq!(
        f.feeds,
        ["debian", "nvd"],
        "seen through the tracker and NVD: one finding"
    );
    assert_eq!(
        f.sources[0].url.as_deref(),
        Some("https://security-tracker.debian.org/tracker/CVE-2024-0727")
    );
    // The tracker rated nothing ("Unknown"): NVD's primary CVSS v3.1 rating, 5.5 MEDIUM.
    assert_eq!(
        (f.severity.as_str(), f.severity_source.as_deref()),
        ("Medium", Some("nvd@nist.gov"))
    );
    assert_eq!(
        found(
            deb("libssl3", "3.0.13-1~deb12u1", "openssl", "3.0.13-1~deb12u1"),
            Some(&bookworm),
            &db
        ),
        expect(&[])
    );

    let bullseye = distro("debian", "11");
    assert_eq!(
        found(
            deb(
                "libssl1.1",
                "1.1.1n-0+deb11u3",
                "openssl",
                "1.1.1n-0+deb11u3"
            ),
            Some(&bullseye),
            &db
        ),
        expect(&[
            ("CVE-2023-0286", Some("1.1.1n-0+deb11u4")),
            ("CVE-2024-0727", Some("1.1.1w-0+deb11u2"))
        ])
    );
    let buster = distro("debian", "10");
    let f = one(
        deb("openssl", "1.1.1n-0+deb10u3", "openssl", "1.1.1n-0+deb10u3"),
        Some(&buster),
        &db,
    );
    assert_eq!(
        (f.vuln.as_str(), f.fix.as_deref(), f.will_not_fix),
        ("CVE-2024-0727", None, false)
    );
    // NVD's upstream range (1.1.1 ≤ v < 1.1.1x) would say 1.1.1w-0+deb11u2 is affected;
    // Debian backported the fix, and Debian speaks for its packages.
    assert_eq!(
        found(
            deb(
                "libssl1.1",
                "1.1.1w-0+deb11u2",
                "openssl",
                "1.1.1w-0+deb11u2"
            ),
            Some(&bullseye),
            &db
        ),
        expect(&[])
    );
}

#[test]
fn openssl_and_xz_binaries_by_nvd_cpe() {
    let mut db = openssl_db();
    db.extend(rows(
        "nvd",
        &normalize(
            "nvd",
            "CVE-2024-3094.json",
            &read("nvd-api-2.0/single-cve/CVE-2024-3094.json"),
        ),
    ));
    let bin = |product: &str, v: &str| {
        let mut p = pkg(PackageType::Binary, product, v);
        p.cpes = vec![format!("cpe:2.3:a:{product}:{v}:*:*:*:*:*:*:*")];
        p
    };
    assert_eq!(
        found(bin("openssl:openssl", "3.0.7"), None, &db),
        expect(&[
            ("CVE-2023-0286", Some("3.0.8")),
            ("CVE-2024-0727", Some("3.0.13"))
        ]),
        "CVE-2022-0778 stops at 3.0.2"
    );
    assert_eq!(
        found(bin("openssl:openssl", "3.0.13"), None, &db),
        expect(&[])
    );
    // OpenSSL's letter releases: 1.1.1w < 1.1.1x.
    assert_eq!(
        found(bin("openssl:openssl", "1.1.1w"), None, &db),
        expect(&[("CVE-2024-0727", Some("1.1.1x"))])
    );
    // An exact version in the CPE (3.2.0) is a versions list: affected, no fix named.
    assert_eq!(
        found(bin("openssl:openssl", "3.2.0"), None, &db),
        expect(&[("CVE-2024-0727", None)])
    );
    let f = one(bin("openssl:openssl", "3.2.0"), None, &db);
    assert_eq!((f.namespace.as_str(), f.feed.as_str()), ("nvd:cpe", "nvd"));
    // xz: only 5.6.0 and 5.6.1 are listed.
    assert_eq!(
        found(bin("tukaani:xz", "5.6.1"), None, &db),
        expect(&[("CVE-2024-3094", None)])
    );
    assert_eq!(
        found(bin("tukaani:xz", "5.6.0"), None, &db),
        expect(&[("CVE-2024-3094", None)])
    );
    assert_eq!(found(bin("tukaani:xz", "5.4.6"), None, &db), expect(&[]));
    assert_eq!(found(bin("tukaani:xz", "5.6.2"), None, &db), expect(&[]));
}

#[test]
fn debian_tracker_vendor_states() {
    let db = rows(
        "debian",
        &normalize(
            "debian",
            "vunnel-debian.json",
            &read("debian-security-tracker/json/vunnel-debian.json"),
        ),
    );
    let plain = |name: &str, v: &str| deb(name, v, name, v);
    // bullseye: resolved in 98.0.4758.80-1~deb11u1.
    assert_eq!(
        found(
            plain("chromium", "97.0.4692.99-1~deb11u2"),
            Some(&distro("debian", "11")),
            &db
        ),
        expect(&[("CVE-2022-0456", Some("98.0.4758.80-1~deb11u1"))])
    );
    // buster: open, urgency end-of-life → won't fix.
    let f = one(
        plain("chromium", "90.0.4430.212-1~deb10u1"),
        Some(&distro("debian", "10")),
        &db,
    );
    assert_eq!(
        (f.vuln.as_str(), f.fix.as_deref(), f.will_not_fix),
        ("CVE-2022-0456", None, true)
    );
    // prototypejs in buster: CVE-2008-7220 resolved in 1.6.0.2-1 (high), CVE-2007-2383
    // resolved with version 0 (never affected).
    let f = one(
        plain("libjs-prototype", "1.6.0.1-1").with_source("prototypejs", "1.6.0.1-1"),
        Some(&distro("debian", "10")),
        &db,
    );
    assert_eq!(
        (f.vuln.as_str(), f.fix.as_deref(), f.severity.as_str()),
        ("CVE-2008-7220", Some("1.6.0.2-1"), "High")
    );
    assert_eq!(
        found(
            plain("prototypejs", "1.6.0.2-1"),
            Some(&distro("debian", "10")),
            &db
        ),
        expect(&[])
    );
}

trait WithSource {
    fn with_source(self, name: &str, version: &str) -> Self;
}

impl WithSource for Package {
    fn with_source(mut self, name: &str, version: &str) -> Self {
        self.source_name = Some(name.into());
        self.source_version = Some(version.into());
        self
    }
}
