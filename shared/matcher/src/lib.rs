#![doc = include_str!("../README.md")]

mod ecosystem;
mod matcher;
mod registry;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use customs_model::package::{Distro, Package, PackageType};
use serde::{Deserialize, Serialize};

pub use ecosystem::{Apk, Cpe, Dpkg, Gem, Go, Java, Npm, Nuget, Php, Python, Rpm, Rust};
pub use matcher::{Key, Matcher, Verdict};
pub use registry::{all, cpe, primary};

/// One affected-package statement of one advisory, as the feeds store it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub feed: String,
    pub vuln_id: String,
    pub aliases: Vec<String>,
    pub namespace: String,
    pub package: String,
    pub version_format: String,
    /// `[{kind, events: [{introduced|after|fixed|last_affected|limit: v}]}]`.
    pub ranges: serde_json::Value,
    pub versions: Vec<String>,
    pub fixed: Vec<String>,
    /// `affected`, `fixed`, `not_affected`, `wont_fix`, `unimportant`, `open`, `no_dsa`.
    pub state: String,
    /// Per-package severity (Debian urgency…), else the advisory's.
    pub severity: Option<String>,
    pub vuln_severity: Option<String>,
    pub severity_source: Option<String>,
    pub cvss: serde_json::Value,
    pub refs: Vec<String>,
}

/// One advisory record a finding was seen through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub feed: String,
    pub id: String,
    pub namespace: String,
    /// The record's first reference.
    pub url: Option<String>,
}

/// One vulnerability in one package of the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The CVE when any source names one, else the source's id.
    pub vuln: String,
    /// Every id the finding was seen under, and the feeds that said so.
    pub aliases: Vec<String>,
    pub feeds: Vec<String>,
    /// Every advisory record that matched (the better source first).
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Anchore's scale: Unknown, Negligible, Low, Medium, High, Critical.
    pub severity: String,
    /// Who rated it (`debian`, `github`, `nvd@nist.gov`…).
    pub severity_source: Option<String>,
    /// The first fixed version above the package's, from the source that matched.
    pub fix: Option<String>,
    pub will_not_fix: bool,
    pub package_name: String,
    pub package_version: String,
    pub package_type: PackageType,
    pub package_path: String,
    pub package_cpe: Option<String>,
    /// Where the better source files it (`debian:12`, `pypi`, `nvd:cpe` for binaries).
    pub namespace: String,
    pub feed: String,
    pub url: Option<String>,
    pub cvss: serde_json::Value,
}

/// The keys whose advisories can concern `p`: its own matcher's, plus its CPEs' in NVD
/// (fetched so that NVD can corroborate, or stand in when there is no better source).
pub fn keys_for(p: &Package, distro: Option<&Distro>) -> Vec<Key> {
    let mut keys = primary(p).map(|m| m.keys(p, distro)).unwrap_or_default();
    if primary(p).is_none_or(|m| m.name() != cpe().name()) {
        for k in cpe().keys(p, distro) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Whether `p` is affected by `a` by the rules of the matcher that owns `a`'s namespace.
pub fn is_affected(p: &Package, a: &Advisory) -> bool {
    let m = if a.namespace == ecosystem::cpe::NAMESPACE {
        Some(cpe())
    } else {
        primary(p)
    };
    m.and_then(|m| m.matches(p, a)).is_some()
}

/// Anchore's severity names.
pub fn anchore_severity(s: Option<&str>, state: &str) -> String {
    if state == "unimportant" {
        return "Negligible".into();
    }
    match s.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => "Critical",
        Some("high" | "important") => "High",
        Some("medium" | "moderate") => "Medium",
        Some("low") => "Low",
        Some("negligible" | "unimportant" | "end-of-life") => "Negligible",
        _ => "Unknown",
    }
    .into()
}

/// The CVE an advisory names (its id or an alias), else its own id.
fn canonical(a: &Advisory) -> &str {
    std::iter::once(&a.vuln_id)
        .chain(&a.aliases)
        .find(|i| i.starts_with("CVE-"))
        .unwrap_or(&a.vuln_id)
}

/// One advisory row that matched one package.
struct Hit<'a> {
    advisory: &'a Advisory,
    verdict: Verdict,
    /// From the package's better source (or NVD standing in for one).
    primary: bool,
}

fn finding(p: &Package, path: &str, vuln: &str, hits: &[Hit<'_>]) -> Finding {
    let lead = hits[0].advisory;
    let primary: Vec<&Hit<'_>> = hits.iter().filter(|h| h.primary).collect();
    let fix = primary.iter().find_map(|h| h.verdict.fix.clone());
    let rated = |h: &&Hit<'_>| {
        let a = h.advisory;
        let (label, source) = match a
            .severity
            .as_deref()
            .filter(|s| anchore_severity(Some(s), &a.state) != "Unknown")
        {
            Some(s) => (s, Some(a.feed.clone())),
            None => (
                a.vuln_severity.as_deref().unwrap_or_default(),
                a.severity_source.clone().or_else(|| Some(a.feed.clone())),
            ),
        };
        let sev = anchore_severity(Some(label), &a.state);
        (sev != "Unknown").then_some((sev, source))
    };
    // The better source's rating; another source's only when it has none.
    let (severity, severity_source) = primary
        .iter()
        .find_map(rated)
        .or_else(|| hits.iter().find_map(|h| rated(&h)))
        .unwrap_or_else(|| ("Unknown".into(), None));
    let mut f = Finding {
        vuln: vuln.to_owned(),
        aliases: Vec::new(),
        feeds: Vec::new(),
        sources: Vec::new(),
        severity,
        severity_source,
        will_not_fix: fix.is_none() && primary.iter().any(|h| h.verdict.will_not_fix),
        fix,
        package_name: p.name.clone(),
        package_version: p.version.clone(),
        package_type: p.kind,
        package_path: path.to_owned(),
        package_cpe: p.cpes.first().cloned(),
        namespace: lead.namespace.clone(),
        feed: lead.feed.clone(),
        url: hits.iter().find_map(|h| h.advisory.refs.first().cloned()),
        cvss: serde_json::Value::Array(vec![]),
    };
    let mut cvss: Vec<serde_json::Value> = Vec::new();
    for h in hits {
        let a = h.advisory;
        for id in std::iter::once(&a.vuln_id).chain(&a.aliases) {
            if !f.aliases.contains(id) {
                f.aliases.push(id.clone());
            }
        }
        if !f.feeds.contains(&a.feed) {
            f.feeds.push(a.feed.clone());
        }
        let source = Source {
            feed: a.feed.clone(),
            id: a.vuln_id.clone(),
            namespace: a.namespace.clone(),
            url: a.refs.first().cloned(),
        };
        if !f.sources.contains(&source) {
            f.sources.push(source);
        }
        for c in a.cvss.as_array().into_iter().flatten() {
            if !cvss.contains(c) {
                cvss.push(c.clone());
            }
        }
    }
    f.cvss = serde_json::Value::Array(cvss);
    f
}

/// The rows filed under one key, by namespace then package.
type ByKey<'a> = HashMap<&'a str, HashMap<&'a str, Vec<&'a Advisory>>>;

fn lookup<'m, 'a>(by_key: &'m ByKey<'a>, k: &Key) -> &'m [&'a Advisory] {
    match by_key.get(k.0.as_str()).and_then(|m| m.get(k.1.as_str())) {
        Some(v) => v,
        None => &[],
    }
}

/// Matches every package against the advisories fetched for its keys ([`keys_for`]),
/// de-duplicated across sources: one finding per (CVE or id, package, version, path),
/// named by its CVE, carrying every source's id. A vulnerability the package's own
/// source (its distro, its ecosystem) declares *not affected* is not reported; NVD CPE
/// matches only corroborate where a better source exists.
pub fn match_packages(
    packages: &[Package],
    distro: Option<&Distro>,
    advisories: &[Advisory],
) -> Vec<Finding> {
    let mut by_key: ByKey<'_> = HashMap::new();
    for a in advisories {
        by_key
            .entry(a.namespace.as_str())
            .or_default()
            .entry(a.package.as_str())
            .or_default()
            .push(a);
    }
    let mut out: BTreeMap<(String, String, String, String), Finding> = BTreeMap::new();
    for p in packages {
        let path = p
            .locations
            .first()
            .map(|l| l.path.clone())
            .unwrap_or_default();
        let own = primary(p).filter(|m| m.name() != cpe().name());
        let own_keys = own.map(|m| m.keys(p, distro)).unwrap_or_default();
        let nvd_stands_in = own_keys.is_empty();
        let mut hits: Vec<Hit<'_>> = Vec::new();
        let mut not_affected: BTreeSet<&str> = BTreeSet::new();
        if let Some(m) = own {
            for a in own_keys.iter().flat_map(|k| lookup(&by_key, k)) {
                if a.state == "not_affected" {
                    not_affected.insert(canonical(a));
                } else if let Some(verdict) = m.matches(p, a) {
                    hits.push(Hit {
                        advisory: a,
                        verdict,
                        primary: true,
                    });
                }
            }
        }
        let cpe_keys = cpe().keys(p, distro);
        for a in cpe_keys.iter().flat_map(|k| lookup(&by_key, k)) {
            if let Some(verdict) = cpe().matches(p, a) {
                hits.push(Hit {
                    advisory: a,
                    verdict,
                    primary: nvd_stands_in,
                });
            }
        }
        let mut groups: BTreeMap<&str, Vec<Hit<'_>>> = BTreeMap::new();
        for h in hits {
            groups.entry(canonical(h.advisory)).or_default().push(h);
        }
        for (vuln, mut group) in groups {
            if not_affected.contains(vuln) || !group.iter().any(|h| h.primary) {
                continue;
            }
            // Stable: the better source first, in the order the rows came.
            group.sort_by_key(|h| !h.primary);
            let key = (
                vuln.to_owned(),
                p.name.clone(),
                p.version.clone(),
                path.clone(),
            );
            let f = finding(p, &path, vuln, &group);
            match out.get_mut(&key) {
                // The same package recorded twice at one path: keep one finding.
                Some(existing) => {
                    for id in f.aliases {
                        if !existing.aliases.contains(&id) {
                            existing.aliases.push(id);
                        }
                    }
                }
                None => {
                    out.insert(key, f);
                }
            }
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests;
