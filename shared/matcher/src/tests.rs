use serde_json::json;

use super::*;
use customs_model::package::Location;

fn pkg(kind: PackageType, name: &str, version: &str, purl: &str) -> Package {
    Package::new(
        kind,
        name,
        version,
        purl,
        Location {
            path: "/x".into(),
            layer: 0,
        },
    )
}

fn debian12() -> Distro {
    Distro {
        id: "debian".into(),
        version: "12".into(),
        namespace: "debian:12".into(),
        id_like: vec![],
        pretty_name: None,
    }
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
    let mut p = pkg(
        PackageType::Dpkg,
        "libssl3",
        "3.0.11-1~deb12u2",
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2",
    );
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
    assert!(
        match_packages(&[p], Some(&d), &[a]).is_empty(),
        "fixed version is not affected"
    );
}

#[test]
fn vendor_states_are_honoured() {
    let p = pkg(
        PackageType::Dpkg,
        "bash",
        "5.2.15-2+b2",
        "pkg:deb/debian/bash@5.2.15-2+b2",
    );
    let d = debian12();
    let mut not = adv("debian", "CVE-1", "debian:12", "bash", "deb");
    not.state = "not_affected".into();
    let mut wont = adv("debian", "CVE-2", "debian:12", "bash", "deb");
    wont.state = "wont_fix".into();
    let mut unimportant = adv("debian", "CVE-3", "debian:12", "bash", "deb");
    unimportant.state = "unimportant".into();
    let found = match_packages(&[p], Some(&d), &[not, wont, unimportant]);
    let ids: Vec<_> = found
        .iter()
        .map(|f| (f.vuln.as_str(), f.will_not_fix, f.severity.as_str()))
        .collect();
    assert_eq!(
        ids,
        [("CVE-2", true, "High"), ("CVE-3", false, "Negligible")]
    );
}

#[test]
fn language_packages_match_osv_ranges_and_aliases_merge() {
    let p = pkg(
        PackageType::Python,
        "Jinja2",
        "2.11.2",
        "pkg:pypi/jinja2@2.11.2",
    );
    let mut ghsa = adv("osv", "GHSA-g3rq-g295-4j3m", "pypi", "jinja2", "pep440");
    ghsa.aliases = vec!["CVE-2020-28493".into()];
    ghsa.ranges =
        json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"fixed": "2.11.3"}]}]);
    ghsa.fixed = vec!["2.11.3".into()];
    let mut nvd = adv("nvd", "CVE-2020-28493", "pypi", "jinja2", "pep440");
    nvd.ranges = json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"last_affected": "2.11.2"}]}]);
    nvd.vuln_severity = Some("MEDIUM".into());
    let found = match_packages(std::slice::from_ref(&p), None, &[ghsa.clone(), nvd]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].vuln, "CVE-2020-28493");
    assert_eq!(found[0].aliases, ["GHSA-g3rq-g295-4j3m", "CVE-2020-28493"]);
    assert_eq!(found[0].severity, "High", "the worst severity is kept");
    let fixed = pkg(
        PackageType::Python,
        "jinja2",
        "2.11.3",
        "pkg:pypi/jinja2@2.11.3",
    );
    assert!(match_packages(&[fixed], None, &[ghsa]).is_empty());
}

#[test]
fn go_maven_and_cpe_keys() {
    let go = pkg(
        PackageType::Go,
        "golang.org/x/net",
        "v0.7.0",
        "pkg:golang/golang.org/x/net@v0.7.0",
    );
    let mut a = adv("osv", "GO-2023-1988", "go", "golang.org/x/net", "go");
    a.ranges = json!([{"kind": "semver", "events": [{"introduced": "0"}, {"fixed": "0.13.0"}]}]);
    let mut b = adv("osv", "GO-2023-1571", "go", "golang.org/x/net", "go");
    b.ranges = json!([{"kind": "semver", "events": [{"introduced": "0"}, {"fixed": "0.7.0"}]}]);
    let found = match_packages(&[go], None, &[a, b]);
    assert_eq!(
        found.iter().map(|f| f.vuln.as_str()).collect::<Vec<_>>(),
        ["GO-2023-1988"]
    );

    let jar = pkg(
        PackageType::Java,
        "commons-lang3",
        "3.12.0",
        "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
    );
    assert_eq!(
        keys_for(&jar, None),
        [(
            "maven".to_owned(),
            "org.apache.commons:commons-lang3".to_owned()
        )]
    );

    let mut bb = pkg(
        PackageType::Binary,
        "busybox",
        "1.35.0",
        "pkg:generic/busybox@1.35.0",
    );
    bb.cpes = vec!["cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*".into()];
    assert_eq!(
        keys_for(&bb, None),
        [("nvd:cpe".to_owned(), "a:busybox:busybox".to_owned())]
    );
    let mut n = adv(
        "nvd",
        "CVE-2022-48174",
        "nvd:cpe",
        "a:busybox:busybox",
        "cpe",
    );
    n.ranges = json!([{"kind": "cpe", "events": [{"introduced": "0"}, {"fixed": "1.36.0"}]}]);
    let found = match_packages(&[bb], None, &[n]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].namespace, "nvd:cpe");
}

#[test]
fn every_package_type_has_exactly_one_matcher_and_names_are_unique() {
    for kind in PackageType::ALL {
        let p = pkg(kind, "x", "1.0.0", "pkg:generic/x@1.0.0");
        let owners: Vec<&str> = all()
            .iter()
            .filter(|m| m.handles(&p))
            .map(|m| m.name())
            .collect();
        assert_eq!(owners.len(), 1, "{kind:?} is handled by {owners:?}");
        assert_eq!(primary(&p).map(|m| m.name()), owners.first().copied());
    }
    let mut names: Vec<&str> = all().iter().map(|m| m.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all().len());
}

fn libssl() -> Package {
    let mut p = pkg(
        PackageType::Dpkg,
        "libssl3",
        "3.0.11-1~deb12u2",
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2",
    );
    p.source_name = Some("openssl".into());
    p.cpes = vec!["cpe:2.3:a:openssl:openssl:3.0.11-1~deb12u2:*:*:*:*:*:*:*".into()];
    p
}

fn nvd_openssl(id: &str, fixed: &str) -> Advisory {
    let mut n = adv("nvd", id, "nvd:cpe", "a:openssl:openssl", "cpe");
    n.ranges = json!([{"kind": "cpe", "events": [{"introduced": "3.0.0"}, {"fixed": fixed}]}]);
    n.fixed = vec![fixed.into()];
    n.vuln_severity = Some("Medium".into());
    n.severity_source = Some("nvd@nist.gov".into());
    n.refs = vec![format!("https://nvd.nist.gov/vuln/detail/{id}")];
    n.cvss = json!([{"version": "3.1", "vector": "CVSS:3.1/AV:L", "base_score": 5.5, "source": "nvd@nist.gov"}]);
    n
}

#[test]
fn nvd_only_corroborates_where_the_distro_speaks_and_stands_in_where_nothing_else_does() {
    let d = debian12();
    let mut deb = adv("debian", "CVE-2024-0727", "debian:12", "openssl", "deb");
    deb.state = "fixed".into();
    deb.ranges = json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]}]);
    deb.fixed = vec!["3.0.13-1~deb12u1".into()];
    deb.vuln_severity = None;
    deb.refs = vec!["https://security-tracker.debian.org/tracker/CVE-2024-0727".into()];
    // NVD alone on a Debian package: no finding (upstream ranges ignore backports).
    let nvd = nvd_openssl("CVE-2024-0727", "3.0.13");
    assert!(match_packages(&[libssl()], Some(&d), std::slice::from_ref(&nvd)).is_empty());
    let other = nvd_openssl("CVE-2099-0001", "3.0.99");
    let found = match_packages(&[libssl()], Some(&d), &[deb, nvd, other]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(
        (f.vuln.as_str(), f.namespace.as_str(), f.feed.as_str()),
        ("CVE-2024-0727", "debian:12", "debian")
    );
    assert_eq!(
        f.fix.as_deref(),
        Some("3.0.13-1~deb12u1"),
        "the distro's fix, not NVD's"
    );
    assert_eq!(f.feeds, ["debian", "nvd"]);
    assert_eq!(
        f.sources
            .iter()
            .map(|s| s.url.as_deref().unwrap_or_default())
            .collect::<Vec<_>>(),
        [
            "https://security-tracker.debian.org/tracker/CVE-2024-0727",
            "https://nvd.nist.gov/vuln/detail/CVE-2024-0727"
        ]
    );
    // Debian rated nothing: NVD's rating, with its source.
    assert_eq!(
        (f.severity.as_str(), f.severity_source.as_deref()),
        ("Medium", Some("nvd@nist.gov"))
    );
    assert_eq!(f.cvss[0]["base_score"], 5.5);

    // Without a distro (unknown OS) NVD stands in.
    let found = match_packages(&[libssl()], None, &[nvd_openssl("CVE-2024-0727", "3.0.13")]);
    assert_eq!(
        found
            .iter()
            .map(|f| (f.vuln.as_str(), f.fix.as_deref()))
            .collect::<Vec<_>>(),
        [("CVE-2024-0727", Some("3.0.13"))]
    );
}

#[test]
fn a_vendor_not_affected_statement_suppresses_other_sources() {
    let d = debian12();
    let mut not = adv("debian", "CVE-2024-0727", "debian:12", "openssl", "deb");
    not.state = "not_affected".into();
    let mut osv = adv("osv", "DSA-0000-1", "debian:12", "openssl", "deb");
    osv.aliases = vec!["CVE-2024-0727".into()];
    osv.ranges = json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]}]);
    assert!(match_packages(&[libssl()], Some(&d), &[osv.clone(), not]).is_empty());
    assert_eq!(match_packages(&[libssl()], Some(&d), &[osv]).len(), 1);
}

#[test]
fn fix_is_the_first_fixed_version_above_the_package() {
    let p = pkg(
        PackageType::Java,
        "log4j-core",
        "2.14.1",
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
    );
    let mut a = adv(
        "osv",
        "GHSA-x",
        "maven",
        "org.apache.logging.log4j:log4j-core",
        "maven",
    );
    a.ranges = json!([{"kind": "ecosystem", "events": [{"introduced": "2.0-beta9"}, {"fixed": "2.3.1"}, {"introduced": "2.4"}, {"fixed": "2.12.2"}, {"introduced": "2.13.0"}, {"fixed": "2.15.0"}]}]);
    a.fixed = vec!["2.3.1".into(), "2.12.2".into(), "2.15.0".into()];
    let found = match_packages(&[p], None, &[a]);
    assert_eq!(found[0].fix.as_deref(), Some("2.15.0"));
}

#[test]
fn rpm_epochs_and_modularity() {
    let rhel9 = Distro {
        id: "rhel".into(),
        version: "9".into(),
        namespace: "rhel:9".into(),
        id_like: vec![],
        pretty_name: None,
    };
    let mut a = adv("redhat", "CVE-2024-1", "rhel:9", "openssl", "rpm");
    a.state = "fixed".into();
    a.ranges = json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"fixed": "1:3.0.7-27.el9"}]}]);
    a.fixed = vec!["1:3.0.7-27.el9".into()];
    // No epoch recorded: compared as if it had the advisory's (1), not as epoch 0.
    let p = pkg(
        PackageType::Rpm,
        "openssl",
        "3.0.7-24.el9",
        "pkg:rpm/redhat/openssl@3.0.7-24.el9",
    );
    let found = match_packages(
        std::slice::from_ref(&p),
        Some(&rhel9),
        std::slice::from_ref(&a),
    );
    assert_eq!(
        found.iter().map(|f| f.fix.as_deref()).collect::<Vec<_>>(),
        [Some("1:3.0.7-27.el9")]
    );
    let fixed = pkg(
        PackageType::Rpm,
        "openssl",
        "3.0.7-27.el9",
        "pkg:rpm/redhat/openssl@3.0.7-27.el9",
    );
    assert!(match_packages(&[fixed], Some(&rhel9), std::slice::from_ref(&a)).is_empty());
    // An explicit lower epoch is older whatever the version.
    let mut old = pkg(
        PackageType::Rpm,
        "openssl",
        "3.0.9-1.el9",
        "pkg:rpm/redhat/openssl@3.0.9-1.el9",
    );
    old.metadata.insert("epoch".into(), "0".into());
    assert_eq!(
        match_packages(&[old], Some(&rhel9), std::slice::from_ref(&a)).len(),
        1
    );
    // A modular build is not compared with a non-modular fix.
    let modular = pkg(
        PackageType::Rpm,
        "openssl",
        "1:3.0.1-1.module+el9.1.0+1234+abcd",
        "pkg:rpm/redhat/openssl",
    );
    assert!(match_packages(&[modular], Some(&rhel9), &[a]).is_empty());
}

#[test]
fn apk_by_origin_and_composer_versions() {
    let alpine = Distro {
        id: "alpine".into(),
        version: "3.19.1".into(),
        namespace: "alpine:3.19".into(),
        id_like: vec![],
        pretty_name: None,
    };
    let mut p = pkg(
        PackageType::Apkg,
        "libcrypto3",
        "3.1.4-r2",
        "pkg:apk/alpine/libcrypto3@3.1.4-r2",
    );
    p.source_name = Some("openssl".into());
    assert_eq!(
        keys_for(&p, Some(&alpine)),
        [
            ("alpine:3.19".to_owned(), "libcrypto3".to_owned()),
            ("alpine:3.19".to_owned(), "openssl".to_owned())
        ]
    );
    let mut a = adv("alpine", "CVE-2024-0727", "alpine:3.19", "openssl", "apk");
    a.state = "fixed".into();
    a.ranges =
        json!([{"kind": "ecosystem", "events": [{"introduced": "0"}, {"fixed": "3.1.4-r5"}]}]);
    assert_eq!(match_packages(&[p], Some(&alpine), &[a]).len(), 1);

    let php = pkg(
        PackageType::Php,
        "Symfony/Http-Kernel",
        "v5.4.1",
        "pkg:composer/symfony/http-kernel@v5.4.1",
    );
    assert_eq!(
        keys_for(&php, None),
        [("packagist".to_owned(), "symfony/http-kernel".to_owned())]
    );
    let mut c = adv(
        "osv",
        "GHSA-c",
        "packagist",
        "symfony/http-kernel",
        "composer",
    );
    c.ranges =
        json!([{"kind": "ecosystem", "events": [{"introduced": "5.0.0"}, {"fixed": "5.4.2"}]}]);
    assert_eq!(
        match_packages(std::slice::from_ref(&php), None, std::slice::from_ref(&c)).len(),
        1
    );
    let four = pkg(
        PackageType::Php,
        "symfony/http-kernel",
        "5.4.2.0",
        "pkg:composer/symfony/http-kernel@5.4.2.0",
    );
    assert!(
        match_packages(&[four], None, std::slice::from_ref(&c)).is_empty(),
        "5.4.2.0 is 5.4.2 in Composer"
    );
    let rc = pkg(
        PackageType::Php,
        "symfony/http-kernel",
        "v5.4.2-RC1",
        "pkg:composer/symfony/http-kernel@v5.4.2-RC1",
    );
    assert_eq!(
        match_packages(&[rc], None, &[c]).len(),
        1,
        "5.4.2-RC1 comes before the fix 5.4.2"
    );
}
