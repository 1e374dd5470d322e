//! Debian security tracker JSON (`https://security-tracker.debian.org/tracker/data/json`):
//! `{package: {CVE: {description, releases: {codename: {status, fixed_version, urgency,
//! nodsa}}}}}`. The document is read one package at a time; advisories are grouped by
//! CVE so that each id is emitted once with every (release, package) it concerns.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::feed::{Document, Feed};
use crate::model::{format, severity_label, skip, Advisory, Affected, Event, Output, Range, Severity, VendorState};

pub const FEED: &str = "debian";

pub struct Debian;

#[derive(Debug, Deserialize)]
struct CveIn {
    description: Option<String>,
    /// A map of release codename to state; the tracker writes `[]` when there is none.
    #[serde(default, deserialize_with = "releases")]
    releases: BTreeMap<String, ReleaseIn>,
}

fn releases<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, ReleaseIn>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(BTreeMap::new()),
        Value::Array(a) if a.is_empty() => Ok(BTreeMap::new()),
        v => serde_json::from_value(v).map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Deserialize)]
struct ReleaseIn {
    status: String,
    fixed_version: Option<String>,
    urgency: Option<String>,
    nodsa: Option<String>,
}

/// `debian:<number>` for a release codename (`unstable` for sid).
pub(crate) fn namespace(codename: &str) -> String {
    let n = match codename {
        "wheezy" => "7",
        "jessie" => "8",
        "stretch" => "9",
        "buster" => "10",
        "bullseye" => "11",
        "bookworm" => "12",
        "trixie" => "13",
        "forky" => "14",
        "duke" => "15",
        "sid" => "unstable",
        other => other,
    };
    format!("debian:{n}")
}

fn rank(label: &str) -> u8 {
    match label {
        "Critical" => 5,
        "High" => 4,
        "Medium" => 3,
        "Low" => 2,
        "Negligible" => 1,
        _ => 0,
    }
}

fn affected(package: &str, codename: &str, r: ReleaseIn) -> Affected {
    let urgency = r.urgency.as_deref().map(|u| u.trim_end_matches('*').to_owned()).filter(|u| !u.is_empty());
    let fixed = r.fixed_version.filter(|v| !v.is_empty());
    let (state, ranges, fixed) = match (r.status.as_str(), fixed) {
        (_, Some(v)) if v == "0" => (VendorState::NotAffected, vec![], vec![]),
        ("resolved", Some(v)) => (
            VendorState::Fixed,
            vec![Range { kind: "ecosystem".into(), events: vec![Event::Introduced("0".into()), Event::Fixed(v.clone())] }],
            vec![v],
        ),
        _ if urgency.as_deref() == Some("unimportant") => (VendorState::Unimportant, vec![], vec![]),
        _ if r.nodsa.is_some() => (VendorState::NoDsa, vec![], vec![]),
        _ if urgency.as_deref() == Some("end-of-life") => (VendorState::WontFix, vec![], vec![]),
        _ => (VendorState::Open, vec![], vec![]),
    };
    let ranges = if ranges.is_empty() && !matches!(state, VendorState::NotAffected) {
        vec![Range { kind: "ecosystem".into(), events: vec![Event::Introduced("0".into())] }]
    } else {
        ranges
    };
    Affected {
        namespace: namespace(codename),
        package: package.to_owned(),
        version_format: format::DEB.into(),
        ranges,
        versions: vec![],
        fixed,
        state,
        severity: urgency,
    }
}

struct Collect<'o> {
    out: &'o mut dyn FnMut(Output),
    by_id: BTreeMap<String, Advisory>,
}

impl Collect<'_> {
    fn package(&mut self, package: &str, cves: BTreeMap<String, Value>) {
        for (id, v) in cves {
            let c: CveIn = match serde_json::from_value(v) {
                Ok(c) => c,
                Err(e) => {
                    skip(self.out, format!("{package}/{id}"), "malformed record", e);
                    continue;
                }
            };
            let a = self.by_id.entry(id.clone()).or_insert_with(|| Advisory {
                id: id.clone(),
                references: vec![format!("https://security-tracker.debian.org/tracker/{id}")],
                ..Advisory::default()
            });
            if a.description.is_none() {
                a.description = c.description.filter(|d| !d.trim().is_empty());
            }
            for (codename, r) in c.releases {
                let p = affected(package, &codename, r);
                if let Some(u) = p.severity.as_deref() {
                    let label = severity_label(u);
                    if a.severity.as_ref().is_none_or(|s| rank(&label) > rank(&s.label)) {
                        a.severity = Some(Severity { label, source: FEED.into() });
                    }
                }
                a.affected.push(p);
            }
        }
    }
}

struct Packages<'c, 'o>(&'c mut Collect<'o>);

impl<'de> Visitor<'de> for Packages<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of package name to CVE map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(package) = map.next_key::<String>()? {
            let cves: Value = map.next_value()?;
            match serde_json::from_value::<BTreeMap<String, Value>>(cves) {
                Ok(cves) => self.0.package(&package, cves),
                Err(e) => skip(self.0.out, package, "malformed record", e),
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Packages<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl Feed for Debian {
    fn name(&self) -> &'static str {
        FEED
    }

    fn description(&self) -> &'static str {
        "Debian security tracker JSON: fixed versions per release, unimportant, open, not affected, no-DSA"
    }

    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output)) {
        let mut c = Collect { out, by_id: BTreeMap::new() };
        let mut de = serde_json::Deserializer::from_slice(doc.bytes);
        if let Err(e) = Packages(&mut c).deserialize(&mut de) {
            // What was read before the damage is kept.
            skip(c.out, doc.name, "malformed document", e);
        }
        let Collect { out, by_id } = c;
        for (_, a) in by_id {
            out(Output::Advisory(a));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{file, run};

    #[test]
    fn releases_become_namespaces_with_vendor_states() {
        let c = file(&Debian, "debian/vunnel-debian.json");
        assert!(c.skips.is_empty(), "{:?}", c.skips);
        let a = c.get("CVE-2008-7220");
        assert_eq!(a.description.as_deref().map(|d| d.starts_with("Unspecified vulnerability in Prototype")), Some(true));
        let buster = a.affected.iter().find(|p| p.namespace == "debian:10").expect("buster");
        assert_eq!((buster.package.as_str(), buster.state, buster.fixed.as_slice()), ("prototypejs", VendorState::Fixed, &["1.6.0.2-1".to_owned()][..]));
        assert!(a.affected.iter().any(|p| p.namespace == "debian:unstable"));
        assert_eq!(a.severity.as_ref().map(|s| s.label.as_str()), Some("High"));
        let not_affected = c.get("CVE-2007-2383");
        assert!(not_affected.affected.iter().all(|p| p.state == VendorState::NotAffected && p.ranges.is_empty()));
        let chromium = c.get("CVE-2022-0456");
        let eol = chromium.affected.iter().find(|p| p.namespace == "debian:10").expect("buster");
        assert_eq!(eol.state, VendorState::WontFix);
        assert_eq!(chromium.affected.iter().find(|p| p.namespace == "debian:11").map(|p| p.fixed.clone()), Some(vec!["98.0.4758.80-1~deb11u1".to_owned()]));
    }

    #[test]
    fn open_unimportant_and_nodsa_and_a_malformed_entry() {
        let doc = br#"{
          "curl": {
            "CVE-1": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}},
            "CVE-2": {"releases": {"bookworm": {"status": "open", "urgency": "unimportant"}}},
            "CVE-3": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue"}}},
            "CVE-4": {"releases": "broken"}
          },
          "zlib": {"CVE-1": {"releases": {"trixie": {"status": "resolved", "fixed_version": "1:1.3-1", "urgency": "medium"}}}}
        }"#;
        let c = run(&Debian, "json", doc);
        let states = |id: &str| c.get(id).affected.iter().map(|p| p.state).collect::<Vec<_>>();
        assert_eq!(states("CVE-1"), [VendorState::Open, VendorState::Fixed]);
        assert_eq!(c.get("CVE-1").affected[1].namespace, "debian:13");
        assert_eq!(states("CVE-2"), [VendorState::Unimportant]);
        assert_eq!(states("CVE-3"), [VendorState::NoDsa]);
        assert_eq!(c.skips.len(), 1);
        assert_eq!(c.skips[0].at, "curl/CVE-4");
    }
}
