use serde_json::json;

use super::*;
use customs_model::package::Location;

fn pkg(kind: PackageType, name: &str, version: &str, purl: &str) -> Package {
    Package::new(kind, name, version, purl, Location { path: "/x".into(), layer: 0 })
}

fn debian12() -> Distro {
    Distro { id: "debian".into(), version: "12".into(), namespace: "debian:12".into(), id_like: vec![], pretty_name: None }
}

fn adv(feed: &str, id: &str, ns: &str, package: &str, format: &str) -> Advisory {
    Advisory {
        feed: feed.into(),
        vuln_id: id.into(),
        aliases: vec![],
        namespace: ns.into(),
        package: package.into(),
        version_format: format.into(),
        ranges: json!([]),
        versions: vec![],
        fixed: vec![],
        state: "affected".into(),
        severity: None,
        vuln_severity: Some("HIGH".into()),
        severity_source: None,
        cvss: json!([]),
        refs: vec![],
    }
}

#[test]
fn debian_packages_match_by_source_package_and_source_version() {
    let mut p = pkg(PackageType::Dpkg, "libssl3", "3.0.11-1~deb12u2", "pkg:deb/debian/libssl3@3.0.11-1~deb12u2");
    p.source_name = Some("openssl".into());
    p.source_version = Some("3.0.11-1~deb12u2".into());
    let mut a = adv("debian", "CVE-2024-0727", "debian:12", "openssl", "deb");
    a.fixed = vec!["3.0.13-1~deb12u1".into()];
    a.state = "fixed".into();
    let d = debian12();
    let found = match_packages(std::slice::from_ref(&p), Some(&d), std::slice::from_ref(&a));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].fix.as_deref(), Some("3.0.13-1~deb12u1"));
    assert_eq!(found[0].severity, "High");
    p.source_version = Some("3.0.13-1~deb12u1".into());
    assert!(match_packages(&[p], Some(&d), &[a]).is_empty(), "fixed version is not affected");
}

#[test]
fn vendor_states_are_honoured() {
    let p = pkg(PackageType::Dpkg, "bash", "5.2.15-2+b2", "pkg:deb/debian/bash@5.2.15-2+b2");
    let d = debian12();
    let mut not = adv("debian", "CVE-1", "debian:12", "bash", "deb");
    not.state = "not_affected".into();
    let mut wont = adv("debian", "CVE-2", "debian:12", "bash", "deb");
    wont.state = "wont_fix".into();
    let mut unimportant = adv("debian", "CVE-3", "debian:12", "bash", "deb");
    unimportant.state = "unimportant".into();
    let found = match_packages(&[p], Some(&d), &[not, wont, unimportant]);
    let ids: Vec<_> = found.iter().map(|f| (f.vuln.as_str(), f.will_not_fix, f.severity.as_str())).collect();
    assert_eq!(ids, [("CVE-2", true, "High"), ("CVE-3", false, "Negligible")]);
}

#[test]
fn language_packages_match_osv_ranges_and_aliases_merge() {
    let p = pkg(PackageType::Python, "Jinja2", "2.11.2", "pkg:pypi/jinja2@2.11.2");
    let mut ghsa = adv("osv", "GHSA-g3rq-g295-4j3m", "pypi", "jinja2", "pep440");
    ghsa.aliases = vec!["CVE-2020-28493".into()];
    ghsa.ranges = json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"fixed": "2.11.3"}]}]);
    ghsa.fixed = vec!["2.11.3".into()];
    let mut nvd = adv("nvd", "CVE-2020-28493", "pypi", "jinja2", "pep440");
    nvd.ranges = json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"last_affected": "2.11.2"}]}]);
    nvd.vuln_severity = Some("MEDIUM".into());
    let found = match_packages(&[p.clone()], None, &[ghsa.clone(), nvd]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].vuln, "CVE-2020-28493");
    assert_eq!(found[0].aliases, ["GHSA-g3rq-g295-4j3m", "CVE-2020-28493"]);
    assert_eq!(found[0].severity, "High", "the worst severity is kept");
    let fixed = pkg(PackageType::Python, "jinja2", "2.11.3", "pkg:pypi/jinja2@2.11.3");
    assert!(match_packages(&[fixed], None, &[ghsa]).is_empty());
}

#[test]
fn go_maven_and_cpe_keys() {
    let go = pkg(PackageType::Go, "golang.org/x/net", "v0.7.0", "pkg:golang/golang.org/x/net@v0.7.0");
    let mut a = adv("osv", "GO-2023-1988", "go", "golang.org/x/net", "go");
    a.ranges = json!([{"kind": "semver", "events": [{"introduced": "0"}, {"fixed": "0.13.0"}]}]);
    let mut b = adv("osv", "GO-2023-1571", "go", "golang.org/x/net", "go");
    b.ranges = json!([{"kind": "semver", "events": [{"introduced": "0"}, {"fixed": "0.7.0"}]}]);
    let found = match_packages(&[go], None, &[a, b]);
    assert_eq!(found.iter().map(|f| f.vuln.as_str()).collect::<Vec<_>>(), ["GO-2023-1988"]);

    let jar = pkg(PackageType::Java, "commons-lang3", "3.12.0", "pkg:maven/org.apache.commons/commons-lang3@3.12.0");
    assert_eq!(keys_for(&jar, None), [("maven".to_owned(), "org.apache.commons:commons-lang3".to_owned())]);

    let mut bb = pkg(PackageType::Binary, "busybox", "1.35.0", "pkg:generic/busybox@1.35.0");
    bb.cpes = vec!["cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*".into()];
    let mut n = adv("nvd", "CVE-2022-48174", "nvd:cpe", "busybox:busybox", "cpe");
    n.ranges = json!([{"kind": "cpe", "events": [{"introduced": "0"}, {"fixed": "1.36.0"}]}]);
    let found = match_packages(&[bb], None, &[n]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].namespace, "nvd:cpe");
}
