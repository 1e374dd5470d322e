//! The one small trait every ecosystem's matcher implements, and the range logic they share.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::{Format, NvdBounds, OsvEvent, OsvRangeType, Range};

use crate::Advisory;

/// A `(namespace, package)` pair: where the feeds file the advisories about a package
/// (`("debian:12", "openssl")`, `("pypi", "jinja2")`, `("nvd:cpe", "a:openssl:openssl")`).
pub type Key = (String, String);

/// Why a package is affected by one advisory row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The version that was compared (the source package's for distro source advisories).
    pub version: String,
    /// The first fixed version above `version`, when the advisory names one.
    pub fix: Option<String>,
    /// The vendor will not fix it (Debian end-of-life, Red Hat "Will not fix").
    pub will_not_fix: bool,
}

/// One ecosystem's rules: which advisory rows can concern a package, and whether one does.
pub trait Matcher: Send + Sync {
    /// Stable name (`dpkg`, `python`, `cpe`, …).
    fn name(&self) -> &'static str;
    /// The package types this matcher is the primary source for.
    fn package_types(&self) -> &'static [PackageType];
    fn handles(&self, p: &Package) -> bool {
        self.package_types().contains(&p.kind)
    }
    /// The keys whose advisories can concern `p` (empty: this matcher can't look it up).
    fn keys(&self, p: &Package, distro: Option<&Distro>) -> Vec<Key>;
    /// Whether `p` is affected by `a`, one of the rows fetched for its keys.
    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict>;
}

/// The range events of one stored range.
fn events(range: &serde_json::Value) -> Vec<(String, String)> {
    range["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e.as_object()?
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        })
        .collect()
}

/// Whether `version` (in `format`) is inside one stored range; `None` when it can't tell
/// (a version or bound that does not parse in the format).
fn in_range(format: Format, version: &str, range: &serde_json::Value) -> Option<bool> {
    let evs = events(range);
    match range["kind"].as_str().unwrap_or("ecosystem") {
        "cpe" => {
            let find = |k: &str| {
                evs.iter()
                    .find(|(e, v)| e == k && !(k == "introduced" && v == "0"))
                    .map(|(_, v)| v.as_str())
            };
            let bounds = NvdBounds {
                start_including: find("introduced"),
                start_excluding: find("after"),
                end_including: find("last_affected"),
                end_excluding: find("fixed"),
            };
            Range::nvd(format, bounds).ok()?.contains_str(version).ok()
        }
        kind => {
            let t = if kind == "semver" {
                OsvRangeType::Semver
            } else {
                OsvRangeType::Ecosystem
            };
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

/// The lowest of `candidates` above `version`.
fn first_fix_above<'a>(
    format: Format,
    version: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<&str> = None;
    for c in candidates {
        if !format.compare(c, version).is_ok_and(|o| o.is_gt()) {
            continue;
        }
        if best.is_none_or(|b| format.compare(c, b).is_ok_and(|o| o.is_lt())) {
            best = Some(c);
        }
    }
    best.map(str::to_owned)
}

/// Whether `version` (in `format`) is affected by `a`, by the advisory's own rules:
/// explicit versions, then ranges, then a bare fixed list; vendor states honoured
/// (*not affected* never matches, *won't fix* matches with `will_not_fix`).
pub(crate) fn verdict(format: Format, version: &str, a: &Advisory) -> Option<Verdict> {
    let ranges = a.ranges.as_array().map(Vec::as_slice).unwrap_or_default();
    if a.state == "not_affected" || a.state == "fixed" && a.fixed.is_empty() && ranges.is_empty() {
        return None;
    }
    let will_not_fix = a.state == "wont_fix";
    let found = |fix: Option<String>| {
        Some(Verdict {
            version: version.to_owned(),
            fix: fix.filter(|_| !will_not_fix),
            will_not_fix,
        })
    };
    let listed = a
        .versions
        .iter()
        .any(|v| format.compare(v, version).is_ok_and(|o| o.is_eq()));
    let matched: Vec<&serde_json::Value> = ranges
        .iter()
        .filter(|r| in_range(format, version, r) == Some(true))
        .collect();
    if listed || !matched.is_empty() {
        let fixes: Vec<String> = matched
            .iter()
            .flat_map(|r| events(r))
            .filter(|(k, _)| k == "fixed")
            .map(|(_, v)| v)
            .collect();
        let fix = first_fix_above(format, version, fixes.iter().map(String::as_str))
            .or_else(|| first_fix_above(format, version, a.fixed.iter().map(String::as_str)));
        return found(fix);
    }
    if !ranges.is_empty() || !a.versions.is_empty() {
        return None;
    }
    if !a.fixed.is_empty() {
        // Affected below the lowest fixed version.
        let below = a
            .fixed
            .iter()
            .all(|f| format.compare(version, f).is_ok_and(|o| o.is_lt()));
        return if below {
            found(first_fix_above(
                format,
                version,
                a.fixed.iter().map(String::as_str),
            ))
        } else {
            None
        };
    }
    // No versions at all: open, won't fix, no-dsa, unimportant — every version.
    matches!(
        a.state.as_str(),
        "affected" | "open" | "wont_fix" | "unimportant" | "no_dsa"
    )
    .then(|| Verdict {
        version: version.to_owned(),
        fix: None,
        will_not_fix,
    })
}

/// The format an advisory's `version_format` names (`npm` is semver; the
/// formats NVD ranges carry are decided by the matcher).
pub(crate) fn format_named(version_format: &str) -> Option<Format> {
    match version_format {
        "npm" | "semver" => Some(Format::Semver),
        other => other.parse().ok(),
    }
}
