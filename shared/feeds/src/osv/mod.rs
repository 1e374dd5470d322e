//! OSV (osv.dev schema): single records in JSON or YAML, and the entries of the
//! per-ecosystem `all.zip` archives (each entry is one JSON record). GHSA, PYSEC, GO,
//! RUSTSEC and the distro ecosystems all arrive in this one format.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::feed::{Document, Feed};
use crate::model::{format, severity_label, skip, timestamp_owned, Advisory, Affected, Cvss, Event, Output, Range, Severity, Skip, VendorState};

pub const FEED: &str = "osv";

pub struct Osv;

#[derive(Debug, Deserialize)]
struct Record {
    id: String,
    summary: Option<String>,
    details: Option<String>,
    aliases: Option<Vec<String>>,
    /// Ubuntu's records name the CVE they track here.
    upstream: Option<Vec<String>>,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    severity: Option<Vec<SeverityIn>>,
    affected: Option<Vec<AffectedIn>>,
    references: Option<Vec<Reference>>,
    database_specific: Option<Specific>,
}

#[derive(Debug, Deserialize)]
struct SeverityIn {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct Reference {
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AffectedIn {
    package: Option<Package>,
    ranges: Option<Vec<RangeIn>>,
    versions: Option<Vec<String>>,
    ecosystem_specific: Option<Specific>,
    database_specific: Option<Specific>,
}

/// The only strings read from a `database_specific` / `ecosystem_specific` object:
/// `severity` and `urgency` when they are strings. Anything else there (and a value that
/// is not an object at all) is skipped without being built, rather than parsed into a
/// `Value` tree that is read once and dropped.
#[derive(Debug, Default)]
struct Specific {
    severity: Option<String>,
    urgency: Option<String>,
}

impl<'de> Deserialize<'de> for Specific {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        /// A value kept only if it is a string.
        struct MaybeStr(Option<String>);
        impl<'de> Deserialize<'de> for MaybeStr {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct S;
                impl<'de> Visitor<'de> for S {
                    type Value = MaybeStr;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("any value")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(Some(v.to_owned())))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(Some(v)))
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(None))
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(None))
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(None))
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(None))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(None))
                    }
                    fn visit_none<E: de::Error>(self) -> Result<MaybeStr, E> {
                        Ok(MaybeStr(None))
                    }
                    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<MaybeStr, D::Error> {
                        MaybeStr::deserialize(d)
                    }
                    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<MaybeStr, A::Error> {
                        while a.next_element::<IgnoredAny>()?.is_some() {}
                        Ok(MaybeStr(None))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<MaybeStr, A::Error> {
                        while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        Ok(MaybeStr(None))
                    }
                }
                d.deserialize_any(S)
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = Specific;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Specific, A::Error> {
                #[derive(Deserialize)]
                #[serde(field_identifier, rename_all = "snake_case")]
                enum Key {
                    Severity,
                    Urgency,
                    #[serde(other)]
                    Other,
                }
                let mut out = Specific::default();
                while let Some(key) = a.next_key::<Key>()? {
                    // A repeated key keeps its last value, as a `Value` map would.
                    match key {
                        Key::Severity => out.severity = a.next_value::<MaybeStr>()?.0,
                        Key::Urgency => out.urgency = a.next_value::<MaybeStr>()?.0,
                        Key::Other => {
                            a.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Specific, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Specific::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Specific, E> {
                Ok(Specific::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Specific, E> {
                Ok(Specific::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Specific, E> {
                Ok(Specific::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Specific, E> {
                Ok(Specific::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Specific, E> {
                Ok(Specific::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Specific, E> {
                Ok(Specific::default())
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct RangeIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<EventIn>,
}

/// One OSV range event object (`{"introduced": "1.0"}`), read without a map per event.
/// Every value must be a string (as before, when events were string maps); the known
/// keys come out in key order (`fixed`, `introduced`, `last_affected`, `limit`), the
/// order a sorted map gave them, so stored ranges and content hashes are unchanged.
#[derive(Debug, Default)]
struct EventIn {
    fixed: Option<String>,
    introduced: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

impl<'de> Deserialize<'de> for EventIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventIn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of version strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<EventIn, A::Error> {
                #[derive(Deserialize)]
                #[serde(field_identifier, rename_all = "snake_case")]
                enum Key {
                    Fixed,
                    Introduced,
                    LastAffected,
                    Limit,
                    #[serde(other)]
                    Other,
                }
                /// A string value of a key we do not read (checked, not kept).
                struct AnyStr;
                impl<'de> Deserialize<'de> for AnyStr {
                    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        struct S;
                        impl<'de> Visitor<'de> for S {
                            type Value = AnyStr;
                            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                                f.write_str("a string")
                            }
                            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyStr, E> {
                                Ok(AnyStr)
                            }
                        }
                        d.deserialize_str(S)
                    }
                }
                let mut e = EventIn::default();
                while let Some(key) = a.next_key::<Key>()? {
                    let slot = match key {
                        Key::Fixed => &mut e.fixed,
                        Key::Introduced => &mut e.introduced,
                        Key::LastAffected => &mut e.last_affected,
                        Key::Limit => &mut e.limit,
                        Key::Other => {
                            a.next_value::<AnyStr>()?;
                            continue;
                        }
                    };
                    *slot = Some(a.next_value::<String>()?);
                }
                Ok(e)
            }
        }
        d.deserialize_map(V)
    }
}

/// The namespace and version format of an OSV ecosystem string (`PyPI`, `Debian:12`,
/// `Ubuntu:Pro:18.04:LTS`, `Alpine:v3.19`, `Rocky Linux:9`…).
pub(crate) fn ecosystem(eco: &str) -> (String, &'static str) {
    let mut parts = eco.split(':').map(str::trim);
    let base = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.filter(|p| !p.is_empty() && *p != "LTS").collect();
    let release = |name: &str| {
        if rest.is_empty() {
            name.to_owned()
        } else {
            let r: Vec<String> = rest.iter().map(|p| p.trim_start_matches('v').to_ascii_lowercase()).collect();
            format!("{name}:{}", r.join(":"))
        }
    };
    match base {
        "PyPI" => ("pypi".into(), format::PEP440),
        "npm" => ("npm".into(), format::NPM),
        "Maven" => ("maven".into(), format::MAVEN),
        "Go" => ("go".into(), format::GO),
        "crates.io" => ("crates.io".into(), format::SEMVER),
        "RubyGems" => ("rubygems".into(), format::GEM),
        "NuGet" => ("nuget".into(), format::NUGET),
        "Packagist" => ("packagist".into(), format::COMPOSER),
        "Hex" | "Pub" | "SwiftURL" => (base.to_ascii_lowercase(), format::SEMVER),
        "Debian" => (release("debian"), format::DEB),
        "Ubuntu" => (release("ubuntu"), format::DEB),
        "Alpine" => (release("alpine"), format::APK),
        "AlmaLinux" => (release("almalinux"), format::RPM),
        "Rocky Linux" => (release("rocky"), format::RPM),
        "Red Hat" => (release("rhel"), format::RPM),
        other => (release(&other.to_ascii_lowercase().replace(' ', "-")), format::UNKNOWN),
    }
}

fn cvss(kind: &str, vector: &str, source: &str) -> Option<Cvss> {
    let version = match kind {
        "CVSS_V2" => "2.0".to_owned(),
        "CVSS_V3" | "CVSS_V4" => vector.strip_prefix("CVSS:")?.split('/').next()?.to_owned(),
        _ => return None,
    };
    Some(Cvss { version, vector: vector.to_owned(), base_score: None, source: source.to_owned() })
}

/// Who published a record, from its id prefix.
fn source_of(id: &str) -> String {
    let prefix = id.split('-').next().unwrap_or(id);
    match prefix {
        "GHSA" => "github".into(),
        "PYSEC" => "pypa".into(),
        "GO" => "go".into(),
        "RUSTSEC" => "rustsec".into(),
        "DSA" | "DLA" | "DTSA" => "debian".into(),
        "UBUNTU" | "USN" => "ubuntu".into(),
        "ALSA" | "ALBA" | "ALEA" => "almalinux".into(),
        "RLSA" | "RXSA" => "rocky".into(),
        _ => format!("osv:{}", prefix.to_ascii_lowercase()),
    }
}

fn convert(r: Record, out: &mut dyn FnMut(Output)) -> Option<Advisory> {
    if r.id.trim().is_empty() {
        skip(out, "(no id)", "malformed record", "empty id");
        return None;
    }
    let source = source_of(&r.id);
    let mut a = Advisory {
        id: r.id.clone(),
        summary: r.summary.filter(|s| !s.trim().is_empty()),
        description: r.details.map(|d| if d.trim().len() == d.len() { d } else { d.trim().to_owned() }).filter(|d| !d.is_empty()),
        published: r.published.and_then(timestamp_owned),
        modified: r.modified.and_then(timestamp_owned),
        withdrawn: r.withdrawn.and_then(timestamp_owned),
        references: r.references.unwrap_or_default().into_iter().filter_map(|x| x.url).collect(),
        ..Advisory::default()
    };
    for alias in r.aliases.unwrap_or_default().into_iter().chain(r.upstream.unwrap_or_default()) {
        if alias != a.id && !a.aliases.contains(&alias) {
            a.aliases.push(alias);
        }
    }
    let mut label: Option<String> = r.database_specific.as_ref().and_then(|d| d.severity.as_deref()).map(severity_label);
    for s in r.severity.unwrap_or_default() {
        if let Some(c) = cvss(&s.kind, &s.score, &source) {
            if !a.cvss.contains(&c) {
                a.cvss.push(c);
            }
        } else if label.is_none() && !s.kind.starts_with("CVSS") {
            // Distro severities (`{"type": "Ubuntu", "score": "medium"}`).
            label = Some(severity_label(&s.score));
        }
    }
    for (i, aff) in r.affected.unwrap_or_default().into_iter().enumerate() {
        let Some(pkg) = aff.package else {
            out(Output::Skipped(Skip { at: a.id.clone(), reason: "affected without package", detail: format!("affected[{i}]"), dropped: false }));
            continue;
        };
        let (namespace, version_format) = ecosystem(&pkg.ecosystem);
        let mut ranges = Vec::new();
        let mut fixed = Vec::new();
        for rg in aff.ranges.unwrap_or_default() {
            if rg.kind.eq_ignore_ascii_case("GIT") {
                out(Output::Skipped(Skip {
                    at: a.id.clone(),
                    reason: "git range",
                    detail: format!("{}: commit ranges are not matched against package versions", pkg.name),
                    dropped: false,
                }));
                continue;
            }
            if !rg.kind.eq_ignore_ascii_case("ECOSYSTEM") && !rg.kind.eq_ignore_ascii_case("SEMVER") {
                out(Output::Skipped(Skip { at: a.id.clone(), reason: "unknown range type", detail: rg.kind.clone(), dropped: false }));
                continue;
            }
            let mut events = Vec::new();
            for e in rg.events {
                if let Some(v) = e.fixed {
                    fixed.push(v.clone());
                    events.push(Event::Fixed(v));
                }
                if let Some(v) = e.introduced {
                    events.push(Event::Introduced(v));
                }
                if let Some(v) = e.last_affected {
                    events.push(Event::LastAffected(v));
                }
                if let Some(v) = e.limit {
                    events.push(Event::Limit(v));
                }
            }
            if !events.is_empty() {
                let mut kind = rg.kind;
                kind.make_ascii_lowercase();
                ranges.push(Range { kind, events });
            }
        }
        let versions = aff.versions.unwrap_or_default();
        if ranges.is_empty() && versions.is_empty() {
            out(Output::Skipped(Skip {
                at: a.id.clone(),
                reason: "no usable range",
                detail: format!("{} {}: only commit ranges or nothing", pkg.ecosystem, pkg.name),
                dropped: false,
            }));
            continue;
        }
        let (eco, db) = (aff.ecosystem_specific.unwrap_or_default(), aff.database_specific.unwrap_or_default());
        let severity = eco.severity.or(eco.urgency).or(db.severity);
        a.affected.push(Affected {
            namespace,
            package: pkg.name,
            version_format: version_format.to_owned(),
            ranges,
            versions,
            fixed,
            state: VendorState::Affected,
            severity,
        });
    }
    a.severity = label.map(|l| Severity { label: l, source: source.clone() });
    Some(a)
}

impl Feed for Osv {
    fn name(&self) -> &'static str {
        FEED
    }

    fn description(&self) -> &'static str {
        "OSV records (JSON, YAML, all.zip entries): language ecosystems, GHSA and distro advisories"
    }

    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output)) {
        // The common case (an `all.zip` entry: one JSON object) is read straight into a
        // record; anything else, or anything that fails, takes the general path below,
        // which also says where a record went wrong.
        if !doc.is_yaml()
            && doc.bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
            && let Ok(r) = serde_json::from_slice::<Record>(doc.bytes)
        {
            if let Some(a) = convert(r, out) {
                out(Output::Advisory(a));
            }
            return;
        }
        let parsed: Result<Value, String> = if doc.is_yaml() {
            serde_norway::from_slice(doc.bytes).map_err(|e| e.to_string())
        } else {
            serde_json::from_slice(doc.bytes).map_err(|e| e.to_string())
        };
        let values = match parsed {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(e) => return skip(out, doc.name, "malformed document", e),
        };
        for (i, v) in values.into_iter().enumerate() {
            let at = v.get("id").and_then(Value::as_str).map_or_else(|| format!("{}[{i}]", doc.name), str::to_owned);
            match serde_json::from_value::<Record>(v) {
                Ok(r) => {
                    if let Some(a) = convert(r, out) {
                        out(Output::Advisory(a));
                    }
                }
                Err(e) => skip(out, at, "malformed record", e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{file, run};

    #[test]
    fn yaml_records_keep_ecosystem_ranges_and_versions_and_count_git_ranges() {
        let c = file(&Osv, "osv/pypi/PYSEC-2023-74.yaml");
        let a = c.get("PYSEC-2023-74");
        assert!(a.aliases.contains(&"CVE-2023-32681".to_owned()), "{:?}", a.aliases);
        let p = &a.affected[0];
        assert_eq!((p.namespace.as_str(), p.package.as_str(), p.version_format.as_str()), ("pypi", "requests", "pep440"));
        assert_eq!(p.ranges, vec![Range { kind: "ecosystem".into(), events: vec![Event::Introduced("2.3.0".into()), Event::Fixed("2.31.0".into())] }]);
        assert_eq!(p.fixed, ["2.31.0"]);
        assert!(p.versions.contains(&"2.30.0".to_owned()));
        assert_eq!(c.skips.iter().filter(|s| s.reason == "git range" && !s.dropped).count(), 1);
    }

    #[test]
    fn ghsa_json_has_cvss_vectors_and_database_specific_severity() {
        let c = file(&Osv, "osv/npm/GHSA-35jh-r3h4-6jhm.json");
        let a = c.get("GHSA-35jh-r3h4-6jhm");
        assert_eq!(a.severity, Some(Severity { label: "High".into(), source: "github".into() }));
        assert_eq!(a.cvss[0].version, "3.1");
        assert_eq!(a.cvss[0].vector, "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H");
        assert_eq!(a.aliases, ["CVE-2021-23337"]);
        assert_eq!(a.affected.iter().map(|p| p.package.as_str()).collect::<Vec<_>>(), ["lodash", "lodash-es"]);
        assert_eq!(a.published.as_deref(), Some("2021-05-06T16:05:51Z"));
    }

    #[test]
    fn withdrawn_semver_go_records_and_distro_namespaces() {
        let c = file(&Osv, "osv/go/GO-2024-2442.json");
        let a = c.get("GO-2024-2442");
        assert_eq!(a.withdrawn.as_deref(), Some("2024-01-23T12:50:23Z"));
        assert_eq!(a.affected[0].ranges[0].kind, "semver");
        let u = file(&Osv, "osv/ubuntu/UBUNTU-CVE-2021-3782.json");
        let a = u.get("UBUNTU-CVE-2021-3782");
        assert!(a.affected.iter().any(|p| p.namespace == "ubuntu:pro:16.04" && p.version_format == "deb"));
        assert_eq!(a.severity.as_ref().map(|s| s.label.as_str()), Some("Medium"));
        assert_eq!(a.aliases, ["CVE-2021-3782"]);
        let d = file(&Osv, "osv/debian/DSA-3029-1.json");
        assert_eq!(d.get("DSA-3029-1").affected[0].namespace, "debian:7");
        let al = file(&Osv, "osv/alpine/CVE-2022-27449.json");
        assert_eq!(al.get("CVE-2022-27449").affected[0].namespace, "alpine:3.12");
        assert_eq!(ecosystem("Rocky Linux:8"), ("rocky:8".to_owned(), format::RPM));
    }

    #[test]
    fn a_malformed_record_is_skipped_with_a_reason_and_its_neighbours_kept() {
        let doc = br#"[{"id": "X-1", "affected": "not a list"}, {"id": "X-2", "affected": []}, 17]"#;
        let c = run(&Osv, "list.json", doc);
        assert_eq!(c.advisories.len(), 1);
        assert_eq!(c.skips.iter().filter(|s| s.reason == "malformed record" && s.dropped).count(), 2);
        assert_eq!(c.skips[0].at, "X-1");
        let c = run(&Osv, "broken.json", b"{not json");
        assert_eq!(c.skips[0].reason, "malformed document");
    }
}
