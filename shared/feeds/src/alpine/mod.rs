//! Alpine secdb (`https://secdb.alpinelinux.org/v3.19/main.json`, and the legacy YAML of
//! the same shape): `{distroversion, reponame, packages: [{pkg: {name, secfixes: {version:
//! [CVE…]}}}]}`. The `"0"` key lists CVEs that never affected Alpine's package.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::feed::{Document, Feed};
use crate::model::{format, skip, Advisory, Affected, Event, Output, Range, VendorState};

pub const FEED: &str = "alpine";

pub struct Alpine;

#[derive(Debug, Deserialize)]
struct SecDb {
    distroversion: String,
    #[serde(default)]
    packages: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    pkg: Pkg,
}

#[derive(Debug, Deserialize)]
struct Pkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<Option<String>>>>,
}

/// `alpine:3.19` from `v3.19`, `alpine:edge` from `edge`.
pub(crate) fn namespace(distroversion: &str) -> String {
    format!("alpine:{}", distroversion.trim().trim_start_matches('v'))
}

impl Feed for Alpine {
    fn name(&self) -> &'static str {
        FEED
    }

    fn description(&self) -> &'static str {
        "Alpine secdb: secfixes per branch and repository"
    }

    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output)) {
        let parsed: Result<SecDb, String> = if doc.is_yaml() {
            serde_norway::from_slice(doc.bytes).map_err(|e| e.to_string())
        } else {
            serde_json::from_slice(doc.bytes).map_err(|e| e.to_string())
        };
        let db = match parsed {
            Ok(db) => db,
            Err(e) => return skip(out, doc.name, "malformed document", e),
        };
        let ns = namespace(&db.distroversion);
        let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
        for (i, v) in db.packages.into_iter().enumerate() {
            let e: Entry = match serde_json::from_value(v) {
                Ok(e) => e,
                Err(e) => {
                    skip(out, format!("{}[{i}]", doc.name), "malformed record", e);
                    continue;
                }
            };
            for (version, ids) in e.pkg.secfixes {
                for id in ids.unwrap_or_default().into_iter().flatten() {
                    // Entries look like `CVE-2021-1234` or `CVE-2021-1234 GHSA-…`: the first word is the id.
                    let mut words = id.split_whitespace();
                    let Some(first) = words.next() else { continue };
                    let a = by_id.entry(first.to_owned()).or_insert_with(|| Advisory {
                        id: first.to_owned(),
                        references: vec![format!("https://security.alpinelinux.org/vuln/{first}")],
                        ..Advisory::default()
                    });
                    for alias in words {
                        if !a.aliases.iter().any(|x| x == alias) {
                            a.aliases.push(alias.to_owned());
                        }
                    }
                    let (state, ranges, fixed) = if version == "0" {
                        (VendorState::NotAffected, vec![], vec![])
                    } else {
                        (
                            VendorState::Fixed,
                            vec![Range { kind: "ecosystem".into(), events: vec![Event::Introduced("0".into()), Event::Fixed(version.clone())] }],
                            vec![version.clone()],
                        )
                    };
                    a.affected.push(Affected {
                        namespace: ns.clone(),
                        package: e.pkg.name.clone(),
                        version_format: format::APK.into(),
                        ranges,
                        versions: vec![],
                        fixed,
                        state,
                        severity: None,
                    });
                }
            }
        }
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
    fn secfixes_become_fixed_versions_and_the_zero_key_not_affected() {
        let c = file(&Alpine, "alpine/v3.15/main.json");
        assert!(c.skips.is_empty());
        let p = &c.get("CVE-2016-0634").affected[0];
        assert_eq!((p.namespace.as_str(), p.package.as_str(), p.fixed.as_slice()), ("alpine:3.15", "bash", &["4.4.12-r1".to_owned()][..]));
        assert_eq!(p.state, VendorState::Fixed);
        let zero = &c.get("CVE-2021-42373").affected[0];
        assert_eq!((zero.package.as_str(), zero.state), ("busybox", VendorState::NotAffected));
    }

    #[test]
    fn legacy_yaml_is_read_the_same_way() {
        let c = file(&Alpine, "alpine/v3.10/main.yaml");
        assert!(c.advisories.len() > 100, "{}", c.advisories.len());
        assert!(c.advisories.iter().all(|a| a.affected.iter().all(|p| p.namespace == "alpine:3.10" && p.version_format == "apk")));
    }

    #[test]
    fn a_bad_package_entry_is_skipped() {
        let doc = br#"{"distroversion": "v3.19", "packages": [{"pkg": {"name": "a", "secfixes": {"1.0-r0": ["CVE-1"]}}}, {"pkg": 3}]}"#;
        let c = run(&Alpine, "main.json", doc);
        assert_eq!(c.advisories.len(), 1);
        assert_eq!(c.skips.len(), 1);
        assert_eq!(c.get("CVE-1").affected[0].namespace, "alpine:3.19");
    }
}
