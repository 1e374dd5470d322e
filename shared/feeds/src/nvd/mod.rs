//! NVD CVE API 2.0 response pages (`{totalResults, startIndex, resultsPerPage,
//! vulnerabilities: [{cve}]}`). Affected products come from the CPE match configurations:
//! package `vendor:product` in namespace `nvd:cpe`, ranges from
//! versionStart/End Including/Excluding, or the exact version of the criteria.

use serde::Deserialize;
use serde_json::Value;

use crate::feed::{Document, Feed};
use crate::model::{format, severity_label, skip, timestamp, Advisory, Affected, Cvss, Event, Output, Range, Severity, VendorState};

pub const FEED: &str = "nvd";
pub const NAMESPACE: &str = "nvd:cpe";

pub struct Nvd;

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    vulnerabilities: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cve {
    id: String,
    published: Option<String>,
    last_modified: Option<String>,
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<Text>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    metrics: serde_json::Map<String, Value>,
    #[serde(default)]
    configurations: Vec<Configuration>,
}

#[derive(Debug, Deserialize)]
struct Text {
    lang: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct Reference {
    url: String,
}

#[derive(Debug, Deserialize)]
struct Configuration {
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    cpe_match: Vec<CpeMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpeMatch {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

/// `(package, version)` of a CPE 2.3 name: `cpe:2.3:a:tukaani:xz:5.6.0:*:…` → `tukaani:xz`, `5.6.0`.
fn cpe_parts(cpe: &str) -> Option<(String, String)> {
    let f: Vec<&str> = cpe.split(':').collect();
    if f.len() < 6 || f[0] != "cpe" || f[1] != "2.3" {
        return None;
    }
    Some((format!("{}:{}:{}", f[2], f[3], f[4]), f[5].to_owned()))
}

fn metrics(m: &serde_json::Map<String, Value>) -> (Vec<Cvss>, Option<Severity>) {
    let mut out = Vec::new();
    let mut primary: Option<(String, String)> = None;
    for key in ["cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"] {
        for entry in m.get(key).and_then(Value::as_array).into_iter().flatten() {
            let data = &entry["cvssData"];
            let Some(vector) = data["vectorString"].as_str() else { continue };
            let version = data["version"].as_str().unwrap_or(if key == "cvssMetricV2" { "2.0" } else { "3.1" }).to_owned();
            let source = entry["source"].as_str().unwrap_or("nvd").to_owned();
            let sev = data["baseSeverity"].as_str().or_else(|| entry["baseSeverity"].as_str());
            if let Some(s) = sev.filter(|_| primary.is_none() && entry["type"].as_str() == Some("Primary")) {
                primary = Some((severity_label(s), source.clone()));
            }
            out.push(Cvss { version, vector: vector.to_owned(), base_score: data["baseScore"].as_f64(), source });
        }
    }
    (out, primary.map(|(label, source)| Severity { label, source }))
}

fn affected(configs: Vec<Configuration>) -> Vec<Affected> {
    let mut out: Vec<Affected> = Vec::new();
    for node in configs.into_iter().flat_map(|c| c.nodes) {
        if node.negate {
            continue;
        }
        for m in node.cpe_match.into_iter().filter(|m| m.vulnerable) {
            let Some((package, version)) = cpe_parts(&m.criteria) else { continue };
            let mut events = Vec::new();
            match (m.version_start_including, m.version_start_excluding) {
                (Some(v), _) => events.push(Event::Introduced(v)),
                (None, Some(v)) => events.push(Event::After(v)),
                (None, None) => events.push(Event::Introduced("0".into())),
            }
            let mut fixed = Vec::new();
            match (m.version_end_excluding, m.version_end_including) {
                (Some(v), _) => {
                    fixed.push(v.clone());
                    events.push(Event::Fixed(v));
                }
                (None, Some(v)) => events.push(Event::LastAffected(v)),
                (None, None) => {}
            }
            let bounded = events.len() > 1 || !matches!(events.first(), Some(Event::Introduced(v)) if v == "0");
            let (ranges, versions) = if bounded || version == "*" {
                (vec![Range { kind: "cpe".into(), events }], vec![])
            } else if version == "-" {
                continue;
            } else {
                (vec![], vec![version])
            };
            let entry = Affected {
                namespace: NAMESPACE.into(),
                package,
                version_format: format::CPE.into(),
                ranges,
                versions,
                fixed,
                state: VendorState::Affected,
                severity: None,
            };
            // Exact versions of one product fold into one entry.
            if let Some(a) = out.iter_mut().find(|a| a.package == entry.package && a.ranges.is_empty() && entry.ranges.is_empty()) {
                a.versions.extend(entry.versions);
            } else if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    out
}

impl Feed for Nvd {
    fn name(&self) -> &'static str {
        FEED
    }

    fn description(&self) -> &'static str {
        "NVD CVE API 2.0: descriptions, CVSS v2/v3/v4, CPE match configurations"
    }

    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output)) {
        let page: Page = match serde_json::from_slice(doc.bytes) {
            Ok(p) => p,
            Err(e) => return skip(out, doc.name, "malformed document", e),
        };
        for (i, v) in page.vulnerabilities.into_iter().enumerate() {
            let at = v["cve"]["id"].as_str().map_or_else(|| format!("vulnerabilities[{i}]"), str::to_owned);
            let cve: Cve = match serde_json::from_value(v.get("cve").cloned().unwrap_or(Value::Null)) {
                Ok(c) => c,
                Err(e) => {
                    skip(out, at, "malformed record", e);
                    continue;
                }
            };
            let (cvss, severity) = metrics(&cve.metrics);
            let modified = cve.last_modified.as_deref().and_then(timestamp);
            let withdrawn = if cve.vuln_status.as_deref() == Some("Rejected") { modified.clone() } else { None };
            out(Output::Advisory(Advisory {
                id: cve.id,
                aliases: vec![],
                summary: None,
                description: cve.descriptions.into_iter().find(|d| d.lang == "en").map(|d| d.value),
                severity,
                cvss,
                published: cve.published.as_deref().and_then(timestamp),
                modified,
                withdrawn,
                references: cve.references.into_iter().map(|r| r.url).collect(),
                affected: affected(cve.configurations),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::file;

    #[test]
    fn exact_cpe_versions_and_scores() {
        let c = file(&Nvd, "nvd/CVE-2024-3094.json");
        let a = c.get("CVE-2024-3094");
        assert_eq!(a.severity, Some(Severity { label: "Critical".into(), source: "nvd@nist.gov".into() }));
        assert!(a.cvss.iter().any(|x| x.version == "3.1" && x.base_score == Some(10.0)));
        assert_eq!(a.affected.len(), 1);
        assert_eq!((a.affected[0].package.as_str(), a.affected[0].versions.as_slice()), ("a:tukaani:xz", &["5.6.0".to_owned(), "5.6.1".to_owned()][..]));
        assert_eq!(a.published.as_deref(), Some("2024-03-29T17:15:21.150Z"));
    }

    #[test]
    fn pages_keep_every_cve_and_version_bounds() {
        let c = file(&Nvd, "nvd/vunnel-full-page.json");
        assert_eq!(c.advisories.len(), 38);
        assert!(c.skips.is_empty());
        let bounded: Vec<&Range> = c.advisories.iter().flat_map(|a| &a.affected).flat_map(|p| &p.ranges).filter(|r| r.events.len() > 1).collect();
        assert!(!bounded.is_empty());
        assert!(bounded.iter().all(|r| r.kind == "cpe"));
    }
}
