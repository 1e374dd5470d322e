#![doc = include_str!("../README.md")]

use std::collections::BTreeMap;

use customs_model::package::{Distro, Package, PackageType};
use customs_version::{Format, NvdBounds, OsvEvent, OsvRangeType, Range};
use serde::{Deserialize, Serialize};

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

/// One vulnerability in one package of the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The CVE when any source names one, else the source's id.
    pub vuln: String,
    /// Every id the finding was seen under, and the feeds that said so.
    pub aliases: Vec<String>,
    pub feeds: Vec<String>,
    /// Anchore's scale: Unknown, Negligible, Low, Medium, High, Critical.
    pub severity: String,
    pub severity_source: Option<String>,
    pub fix: Option<String>,
    pub will_not_fix: bool,
    pub package_name: String,
    pub package_version: String,
    pub package_type: PackageType,
    pub package_path: String,
    pub package_cpe: Option<String>,
    pub namespace: String,
    pub feed: String,
    pub url: Option<String>,
    pub cvss: serde_json::Value,
}

/// PEP 503 normalised Python name.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.extend(c.to_lowercase());
            dash = false;
        }
    }
    out
}

/// `pkg:maven/<group>/<artifact>@v` → `group:artifact`.
fn maven_key(p: &Package) -> Option<String> {
    let rest = p.purl.strip_prefix("pkg:maven/")?;
    let path = rest.split(['@', '?']).next()?;
    let (group, artifact) = path.rsplit_once('/')?;
    Some(format!("{group}:{artifact}"))
}

/// `vendor:product` of each CPE 2.3 string.
fn cpe_keys(p: &Package) -> Vec<String> {
    p.cpes
        .iter()
        .filter_map(|c| {
            let parts: Vec<&str> = c.split(':').collect();
            (parts.len() > 5 && parts[0] == "cpe" && parts[1] == "2.3").then(|| format!("{}:{}", parts[3], parts[4]))
        })
        .collect()
}

/// The `(namespace, package)` keys whose advisories can concern `p`.
pub fn keys_for(p: &Package, distro: Option<&Distro>) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let mut push = |ns: &str, name: String| {
        let k = (ns.to_owned(), name);
        if !keys.contains(&k) {
            keys.push(k);
        }
    };
    match p.kind {
        PackageType::Dpkg | PackageType::Apkg | PackageType::Rpm => {
            if let Some(d) = distro {
                push(&d.namespace, p.name.clone());
                if let Some(src) = p.source_name.as_ref().or(p.origin.as_ref().filter(|_| p.kind == PackageType::Apkg)) {
                    push(&d.namespace, src.clone());
                }
            }
        }
        PackageType::Python => push("pypi", pep503(&p.name)),
        PackageType::Npm => push("npm", p.name.clone()),
        PackageType::Java => {
            if let Some(k) = maven_key(p) {
                push("maven", k);
            }
        }
        PackageType::Go => push("go", p.name.clone()),
        PackageType::Rust => push("crates.io", p.name.clone()),
        PackageType::Gem => push("rubygems", p.name.clone()),
        PackageType::Nuget => push("nuget", p.name.clone()),
        PackageType::Php => push("packagist", p.name.clone()),
        PackageType::Binary => {}
    }
    for k in cpe_keys(p) {
        push("nvd:cpe", k);
    }
    keys
}

/// The version format to compare `p` in against an advisory of `version_format`.
fn format_for(p: &Package, version_format: &str) -> Option<Format> {
    match version_format {
        "npm" | "semver" => Some(Format::Semver),
        // NVD ranges carry no format: use the package's own, else a lenient dotted order.
        "cpe" | "unknown" => Format::for_package_type(p.kind.as_str()).or(Some(Format::Deb)),
        other => other.parse().ok(),
    }
}

/// The version an advisory about `key` speaks of: source packages use the source version.
fn version_for<'a>(p: &'a Package, a: &Advisory) -> &'a str {
    match (&p.source_name, &p.source_version) {
        (Some(src), Some(v)) if *src == a.package && p.kind.is_os() && *src != p.name => v,
        // Go's standard library is versioned `go1.19.8` in binaries, `1.19.8` in advisories.
        _ if p.kind == PackageType::Go && p.name == "stdlib" => p.version.trim_start_matches("go"),
        _ => &p.version,
    }
}

fn events(range: &serde_json::Value) -> Vec<(String, String)> {
    range["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_object()?.iter().next().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())))
        .collect()
}

/// Whether `version` (in `format`) is inside one advisory range.
fn in_range(format: Format, version: &str, range: &serde_json::Value) -> Option<bool> {
    let evs = events(range);
    match range["kind"].as_str().unwrap_or("ecosystem") {
        "cpe" => {
            let find = |k: &str| evs.iter().find(|(e, v)| e == k && !(k == "introduced" && v == "0")).map(|(_, v)| v.as_str());
            let bounds = NvdBounds {
                start_including: find("introduced"),
                start_excluding: find("after"),
                end_including: find("last_affected"),
                end_excluding: find("fixed"),
            };
            Range::nvd(format, bounds).ok()?.contains_str(version).ok()
        }
        kind => {
            let t = if kind == "semver" { OsvRangeType::Semver } else { OsvRangeType::Ecosystem };
            let osv: Vec<OsvEvent> = evs
                .into_iter()
                .filter_map(|(k, v)| match k.as_str() {
                    "introduced" => Some(OsvEvent::Introduced(v)),
                    "fixed" => Some(OsvEvent::Fixed(v)),
                    "last_affected" => Some(OsvEvent::LastAffected(v)),
                    "limit" => Some(OsvEvent::Limit(v)),
                    _ => None,
                })
                .collect();
            Range::osv(t, format, &osv).ok()?.contains_str(version).ok()
        }
    }
}

/// Whether `p` is affected by `a`, by the advisory's own rules.
pub fn is_affected(p: &Package, a: &Advisory) -> bool {
    if a.state == "not_affected" || a.state == "fixed" && a.fixed.is_empty() && a.ranges.as_array().is_none_or(Vec::is_empty) {
        return false;
    }
    let Some(format) = format_for(p, &a.version_format) else { return false };
    let version = version_for(p, a);
    if a.versions.iter().any(|v| format.compare(v, version).is_ok_and(|o| o.is_eq())) {
        return true;
    }
    let ranges = a.ranges.as_array().cloned().unwrap_or_default();
    if !ranges.is_empty() {
        return ranges.iter().any(|r| in_range(format, version, r) == Some(true));
    }
    if !a.versions.is_empty() {
        return false;
    }
    if !a.fixed.is_empty() {
        // Affected below the lowest fixed version.
        return a.fixed.iter().all(|f| format.compare(version, f).is_ok_and(|o| o.is_lt()));
    }
    // No versions at all: open, won't fix, no-dsa, unimportant — every version.
    matches!(a.state.as_str(), "affected" | "open" | "wont_fix" | "unimportant" | "no_dsa")
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
        Some("negligible" | "unimportant" | "not yet assigned" | "end-of-life") => "Negligible",
        _ => "Unknown",
    }
    .into()
}

fn rank(sev: &str) -> u8 {
    ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"].iter().position(|s| *s == sev).unwrap_or(0) as u8
}

/// Matches every package against the advisories fetched for its keys, de-duplicated
/// across sources: one finding per (CVE or id, package, version, path).
pub fn match_packages(packages: &[Package], distro: Option<&Distro>, advisories: &[Advisory]) -> Vec<Finding> {
    let mut by_key: BTreeMap<(&str, &str), Vec<&Advisory>> = BTreeMap::new();
    for a in advisories {
        by_key.entry((a.namespace.as_str(), a.package.as_str())).or_default().push(a);
    }
    let mut out: BTreeMap<(String, String, String, String), Finding> = BTreeMap::new();
    for p in packages {
        let path = p.locations.first().map(|l| l.path.clone()).unwrap_or_default();
        for (ns, name) in keys_for(p, distro) {
            for a in by_key.get(&(ns.as_str(), name.as_str())).into_iter().flatten() {
                if !is_affected(p, a) {
                    continue;
                }
                let canonical = std::iter::once(&a.vuln_id)
                    .chain(&a.aliases)
                    .find(|i| i.starts_with("CVE-"))
                    .cloned()
                    .unwrap_or_else(|| a.vuln_id.clone());
                let severity = anchore_severity(a.severity.as_deref().or(a.vuln_severity.as_deref()), &a.state);
                let fix = (!a.fixed.is_empty() && a.state != "wont_fix").then(|| a.fixed.join(","));
                let key = (canonical.clone(), p.name.clone(), p.version.clone(), path.clone());
                let f = out.entry(key).or_insert_with(|| Finding {
                    vuln: canonical.clone(),
                    aliases: Vec::new(),
                    feeds: Vec::new(),
                    severity: severity.clone(),
                    severity_source: a.severity_source.clone(),
                    fix: fix.clone(),
                    will_not_fix: a.state == "wont_fix",
                    package_name: p.name.clone(),
                    package_version: p.version.clone(),
                    package_type: p.kind,
                    package_path: path.clone(),
                    package_cpe: p.cpes.first().cloned(),
                    namespace: a.namespace.clone(),
                    feed: a.feed.clone(),
                    url: a.refs.first().cloned(),
                    cvss: a.cvss.clone(),
                });
                // The distro's own statement wins for fix and state; the worst severity is kept.
                if a.namespace != "nvd:cpe" && f.namespace == "nvd:cpe" {
                    f.namespace = a.namespace.clone();
                    f.feed = a.feed.clone();
                    f.fix = fix;
                    f.will_not_fix = a.state == "wont_fix";
                }
                if rank(&severity) > rank(&f.severity) {
                    f.severity = severity;
                    f.severity_source = a.severity_source.clone();
                }
                for id in std::iter::once(&a.vuln_id).chain(&a.aliases) {
                    if !f.aliases.contains(id) {
                        f.aliases.push(id.clone());
                    }
                }
                if !f.feeds.contains(&a.feed) {
                    f.feeds.push(a.feed.clone());
                }
                if f.cvss.as_array().is_none_or(Vec::is_empty) {
                    f.cvss = a.cvss.clone();
                }
            }
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests;
