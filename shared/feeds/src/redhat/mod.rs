//! Red Hat CSAF VEX (`https://security.access.redhat.com/data/csaf/v2/vex/<year>/<cve>.json`).
//!
//! Chosen over OVAL because Red Hat's VEX files cover every CVE for every product with
//! all vendor states (fixed, known affected with "no fix planned" or "none available",
//! known not affected, under investigation), while OVAL lists only fixed advisories as
//! XML criteria trees that need an evaluator; VEX is one JSON file per CVE, named
//! packages by purl, and `changes.csv` makes incremental syncs cheap. Red Hat also
//! announced OVAL's deprecation in favour of CSAF/VEX.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::feed::{Document, Feed};
use crate::model::{format, severity_label, skip, timestamp, Advisory, Affected, Cvss, Event, Output, Range, Severity, VendorState};

pub const FEED: &str = "redhat";

pub struct RedHat;

#[derive(Default)]
struct Tree {
    /// product id → CPE of a platform (`cpe:/o:redhat:enterprise_linux:9::baseos`).
    cpes: BTreeMap<String, String>,
    /// product id → purl of a component version.
    purls: BTreeMap<String, String>,
    /// full product id → (component, platform).
    relations: BTreeMap<String, (String, String)>,
}

fn walk(branches: &Value, t: &mut Tree) {
    for b in branches.as_array().into_iter().flatten() {
        if let Some(id) = b["product"]["product_id"].as_str() {
            let helper = &b["product"]["product_identification_helper"];
            if let Some(cpe) = helper["cpe"].as_str() {
                t.cpes.insert(id.to_owned(), cpe.to_owned());
            }
            if let Some(purl) = helper["purl"].as_str() {
                t.purls.insert(id.to_owned(), purl.to_owned());
            }
        }
        walk(&b["branches"], t);
    }
}

/// `rhel:9` from a platform CPE; the platform id itself otherwise.
fn namespace(platform: &str, cpe: Option<&str>) -> String {
    if let Some(cpe) = cpe {
        if let Some(rest) = cpe.split("enterprise_linux:").nth(1) {
            let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !major.is_empty() {
                return format!("rhel:{major}");
            }
        }
        if let Some(el) = cpe.rsplit(':').find_map(|p| p.strip_prefix("el")) {
            let major: String = el.chars().take_while(char::is_ascii_digit).collect();
            if !major.is_empty() {
                return format!("rhel:{major}");
            }
        }
    }
    format!("redhat:{}", platform.to_ascii_lowercase())
}

/// Package name and `epoch:version-release` of a component (`cri-tools-0:1.29.0-3.1.el9.aarch64`).
fn component(reference: &str, purl: Option<&str>) -> (String, Option<String>) {
    if let Some(p) = purl.and_then(|p| p.strip_prefix("pkg:rpm/")) {
        let path = p.split(['?', '#']).next().unwrap_or(p);
        let name_ver = path.rsplit('/').next().unwrap_or(path);
        let (name, version) = name_ver.split_once('@').map_or((name_ver, None), |(n, v)| (n, Some(v)));
        let epoch = reference.strip_prefix(&format!("{name}-")).and_then(|r| r.split_once(':')).map(|(e, _)| e.to_owned());
        let version = version.map(|v| match &epoch {
            Some(e) => format!("{e}:{v}"),
            None => v.to_owned(),
        });
        return (name.to_owned(), version);
    }
    (reference.to_owned(), None)
}

fn ids(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn convert(doc: &Value, vuln: &Value, tree: &Tree) -> Option<Advisory> {
    let id = vuln["cve"].as_str().or_else(|| doc["document"]["tracking"]["id"].as_str())?.to_owned();
    let mut a = Advisory {
        id: id.clone(),
        summary: vuln["title"].as_str().map(str::to_owned),
        description: vuln["notes"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["category"] == "description"))
            .and_then(|n| n["text"].as_str())
            .map(str::to_owned),
        published: vuln["release_date"].as_str().or_else(|| doc["document"]["tracking"]["initial_release_date"].as_str()).and_then(timestamp),
        modified: doc["document"]["tracking"]["current_release_date"].as_str().and_then(timestamp),
        references: vuln["references"].as_array().into_iter().flatten().filter_map(|r| r["url"].as_str().map(str::to_owned)).collect(),
        ..Advisory::default()
    };
    let sev = doc["document"]["aggregate_severity"]["text"].as_str().or_else(|| {
        vuln["threats"].as_array()?.iter().find(|t| t["category"] == "impact")?["details"].as_str()
    });
    a.severity = sev.map(|s| Severity { label: severity_label(s), source: FEED.into() });
    for s in vuln["scores"].as_array().into_iter().flatten() {
        for key in ["cvss_v3", "cvss_v2"] {
            if let Some(vector) = s[key]["vectorString"].as_str() {
                let c = Cvss {
                    version: s[key]["version"].as_str().unwrap_or(if key == "cvss_v2" { "2.0" } else { "3.1" }).to_owned(),
                    vector: vector.to_owned(),
                    base_score: s[key]["baseScore"].as_f64(),
                    source: FEED.into(),
                };
                if !a.cvss.contains(&c) {
                    a.cvss.push(c);
                }
            }
        }
    }
    let mut no_fix_planned = std::collections::BTreeSet::new();
    for r in vuln["remediations"].as_array().into_iter().flatten() {
        if r["category"] == "no_fix_planned" {
            no_fix_planned.extend(ids(&r["product_ids"]).map(str::to_owned));
        }
    }
    let status = &vuln["product_status"];
    let lists = [
        ("fixed", VendorState::Fixed),
        ("known_affected", VendorState::Open),
        ("under_investigation", VendorState::Open),
        ("known_not_affected", VendorState::NotAffected),
    ];
    for (key, base_state) in lists {
        for pid in ids(&status[key]) {
            let (comp, platform) = match tree.relations.get(pid) {
                Some((c, p)) => (c.as_str(), p.as_str()),
                None => match pid.split_once(':') {
                    Some((p, c)) => (c, p),
                    None => continue,
                },
            };
            let (package, version) = component(comp, tree.purls.get(comp).map(String::as_str));
            let ns = namespace(platform, tree.cpes.get(platform).map(String::as_str));
            let state = if base_state == VendorState::Open && no_fix_planned.contains(pid) { VendorState::WontFix } else { base_state };
            let (ranges, fixed) = match (state, version) {
                (VendorState::Fixed, Some(v)) => (vec![Range { kind: "ecosystem".into(), events: vec![Event::Introduced("0".into()), Event::Fixed(v.clone())] }], vec![v]),
                (VendorState::NotAffected, _) => (vec![], vec![]),
                _ => (vec![Range { kind: "ecosystem".into(), events: vec![Event::Introduced("0".into())] }], vec![]),
            };
            let entry = Affected { namespace: ns, package, version_format: format::RPM.into(), ranges, versions: vec![], fixed, state, severity: None };
            if !a.affected.contains(&entry) {
                a.affected.push(entry);
            }
        }
    }
    Some(a)
}

impl Feed for RedHat {
    fn name(&self) -> &'static str {
        FEED
    }

    fn description(&self) -> &'static str {
        "Red Hat CSAF VEX: per-CVE product states (fixed, affected, won't fix, not affected) for RHEL"
    }

    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output)) {
        let v: Value = match serde_json::from_slice(doc.bytes) {
            Ok(v) => v,
            Err(e) => return skip(out, doc.name, "malformed document", e),
        };
        if v["document"]["category"].as_str() != Some("csaf_vex") {
            return skip(out, doc.name, "malformed document", "not a CSAF VEX document (document.category)");
        }
        let mut tree = Tree::default();
        walk(&v["product_tree"]["branches"], &mut tree);
        for r in v["product_tree"]["relationships"].as_array().into_iter().flatten() {
            if let (Some(id), Some(c), Some(p)) = (
                r["full_product_name"]["product_id"].as_str(),
                r["product_reference"].as_str(),
                r["relates_to_product_reference"].as_str(),
            ) {
                tree.relations.insert(id.to_owned(), (c.to_owned(), p.to_owned()));
            }
        }
        for (i, vuln) in v["vulnerabilities"].as_array().into_iter().flatten().enumerate() {
            match convert(&v, vuln, &tree) {
                Some(a) => out(Output::Advisory(a)),
                None => skip(out, format!("{}#vulnerabilities[{i}]", doc.name), "malformed record", "no cve id"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::file;

    #[test]
    fn fixed_components_map_to_rhel_namespaces_with_epoch_versions() {
        let c = file(&RedHat, "redhat/cve-2024-24786.json");
        let a = c.get("CVE-2024-24786");
        assert_eq!(a.severity.as_ref().map(|s| s.label.as_str()), Some("Medium"));
        assert_eq!(a.cvss[0].base_score, Some(5.9));
        let p = &a.affected[0];
        assert_eq!((p.namespace.as_str(), p.package.as_str(), p.state), ("rhel:9", "cri-tools", VendorState::Fixed));
        assert_eq!(p.fixed, ["0:1.29.0-3.1.el9"]);
    }
}
