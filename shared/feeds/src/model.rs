//! The normalised record every driver produces, whatever its upstream format.

use serde::{Deserialize, Serialize};

/// Version formats named in `Affected::version_format` (the matcher picks a comparator by it).
pub mod format {
    pub const DEB: &str = "deb";
    pub const RPM: &str = "rpm";
    pub const APK: &str = "apk";
    pub const PEP440: &str = "pep440";
    pub const SEMVER: &str = "semver";
    pub const NPM: &str = "npm";
    pub const MAVEN: &str = "maven";
    pub const GEM: &str = "gem";
    pub const GO: &str = "go";
    pub const NUGET: &str = "nuget";
    pub const COMPOSER: &str = "composer";
    pub const CPE: &str = "cpe";
    pub const UNKNOWN: &str = "unknown";
}

/// One advisory from one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub severity: Option<Severity>,
    pub cvss: Vec<Cvss>,
    /// RFC 3339 timestamps as the source gave them (dates are widened to midnight UTC).
    pub published: Option<String>,
    pub modified: Option<String>,
    pub withdrawn: Option<String>,
    pub references: Vec<String>,
    pub affected: Vec<Affected>,
}

/// A qualitative severity and who said so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    /// `Critical`, `High`, `Medium`, `Low`, `Negligible` or `Unknown`.
    pub label: String,
    pub source: String,
}

/// One CVSS assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: String,
    pub vector: String,
    pub base_score: Option<f64>,
    pub source: String,
}

/// What a vendor says about one package in one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorState {
    /// Affected within `ranges` / `versions`; fixed from `fixed` on.
    Affected,
    Fixed,
    NotAffected,
    WontFix,
    Unimportant,
    /// Known, no fix yet.
    Open,
    /// Debian: fixed or to be fixed in a point release, no security advisory.
    NoDsa,
}

impl VendorState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::NotAffected => "not_affected",
            Self::WontFix => "wont_fix",
            Self::Unimportant => "unimportant",
            Self::Open => "open",
            Self::NoDsa => "no_dsa",
        }
    }
}

/// One affected package: a namespace (`debian:12`, `alpine:3.19`, `pypi`, `nvd:cpe`…),
/// a package name, and the versions concerned, as the source states them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    pub namespace: String,
    pub package: String,
    pub version_format: String,
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions (OSV `versions`).
    pub versions: Vec<String>,
    pub fixed: Vec<String>,
    pub state: VendorState,
    /// Per-package severity or urgency where the source has one.
    pub severity: Option<String>,
}

/// A version range as a sequence of events, OSV style.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// `ecosystem`, `semver` or `cpe`.
    pub kind: String,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Affected from this version on (inclusive); `0` means from the beginning.
    Introduced(String),
    /// Affected from just after this version (NVD `versionStartExcluding`).
    After(String),
    /// Not affected from this version on.
    Fixed(String),
    /// Affected up to and including this version.
    LastAffected(String),
    Limit(String),
}

/// Facts attached to a CVE id from another source (CISA KEV, FIRST EPSS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub cve: String,
    pub kev: Option<Kev>,
    pub epss: Option<Epss>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kev {
    pub date_added: String,
    pub due_date: Option<String>,
    pub ransomware: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    pub score: f64,
    pub percentile: f64,
    pub date: Option<String>,
}

/// Why (part of) a record was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The record id, or where in the document when there is no id.
    pub at: String,
    /// A short fixed reason, used as a counter key (`malformed record`, `git range`…).
    pub reason: &'static str,
    pub detail: String,
    /// True when the whole record was dropped; false when only a part was (a GIT range).
    pub dropped: bool,
}

/// What `Feed::normalize` emits, one item at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Advisory(Advisory),
    Enrichment(Enrichment),
    Skipped(Skip),
}

pub(crate) fn skip(out: &mut dyn FnMut(Output), at: impl Into<String>, reason: &'static str, detail: impl ToString) {
    out(Output::Skipped(Skip { at: at.into(), reason, detail: detail.to_string(), dropped: true }));
}

/// Severity labels in one spelling.
pub fn severity_label(s: &str) -> String {
    match s.trim().to_ascii_lowercase().as_str() {
        "critical" => "Critical",
        "high" | "important" => "High",
        "medium" | "moderate" => "Medium",
        "low" => "Low",
        "negligible" | "unimportant" | "none" => "Negligible",
        _ => "Unknown",
    }
    .to_owned()
}

/// Severity from a CVSS base score (CVSS v3 bands).
pub fn severity_from_score(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "Critical",
        s if s >= 7.0 => "High",
        s if s >= 4.0 => "Medium",
        s if s > 0.0 => "Low",
        _ => "Negligible",
    }
}

/// [`timestamp`] of an owned string, kept (not copied) when it is one already.
pub fn timestamp_owned(s: String) -> Option<String> {
    let t = s.trim();
    let widened = t.len() == 10 || (t.len() >= 19 && !t.ends_with('Z') && t.get(19..).is_none_or(|zone| !zone.contains(['+', '-'])));
    if !t.is_empty() && t.len() == s.len() && !widened {
        return Some(s);
    }
    timestamp(&s)
}

/// A date (`2024-01-31`) widened to an RFC 3339 timestamp; timestamps kept as they are.
pub fn timestamp(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        return Some(format!("{s}T00:00:00Z"));
    }
    // NVD omits the zone: `2024-03-29T17:15:21.150`.
    if s.len() >= 19 && !s.ends_with('Z') && !s[19..].contains(['+', '-']) {
        return Some(format!("{s}Z"));
    }
    Some(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_timestamps_read_as_borrowed_ones() {
        for s in ["", "  ", "2024-01-31", "2024-03-29T17:15:21.150", "2024-03-29T17:15:21Z", " 2024-03-29T17:15:21Z ", "2024-03-29T17:15:21+02:00", "garbage"] {
            assert_eq!(timestamp_owned(s.to_owned()), timestamp(s), "{s:?}");
        }
    }
}
