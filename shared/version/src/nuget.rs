//! NuGet versions, ordered as NuGet's `VersionComparer.Default` (NuGet.Versioning).
//!
//! `Major[.Minor[.Patch[.Revision]]][-Label(.Label)*][+Metadata]`: one to four numeric parts
//! (each ≤ `i32::MAX`, missing parts are 0, leading zeros allowed), so `1.0` == `1.0.0` ==
//! `1.0.0.0`. A release is higher than its pre-releases. Labels are compared in turn: labels
//! that parse as a 32-bit integer numerically, below other labels, other labels
//! case-insensitively (ordinal, upper-cased); more labels win when the common ones are equal.
//! Metadata is ignored.
//!
//! No .NET runtime is available here, so this follows the NuGet.Versioning source rules rather
//! than a generated oracle (see README).

use std::cmp::Ordering;

use crate::{Format, ParseError};

/// A `NuGetVersion`.
#[derive(Debug, Clone)]
pub struct NuGetVersion {
    raw: String,
    parts: [u32; 4],
    labels: Vec<String>,
}

crate::format::version_boilerplate!(NuGetVersion);

fn is_label(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `Int32.TryParse` on a label (labels cannot hold `+` or spaces, so only `-?digits` remain).
fn label_number(s: &str) -> Option<i32> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn compare_label(a: &str, b: &str) -> Ordering {
    match (label_number(a), label_number(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

impl NuGetVersion {
    /// Parses a NuGet version.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let err = |reason: String| ParseError::new(Format::NuGet, input, reason);
        if input.is_empty() {
            return Err(err("version is empty".into()));
        }
        let (rest, meta) = match input.split_once('+') {
            Some((r, m)) => (r, Some(m)),
            None => (input, None),
        };
        if let Some(m) = meta
            && !m.split('.').all(is_label)
        {
            return Err(err(format!(
                "metadata {m:?} is not dot-separated [0-9A-Za-z-]+"
            )));
        }
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.len() > 4 {
            return Err(err(format!(
                "{} numeric parts; NuGet allows 1 to 4",
                nums.len()
            )));
        }
        let mut parts = [0u32; 4];
        for (slot, n) in parts.iter_mut().zip(&nums) {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!("version part {n:?} is not a number")));
            }
            *slot = n
                .parse::<u32>()
                .ok()
                .filter(|v| *v <= i32::MAX as u32)
                .ok_or_else(|| err(format!("version part {n:?} is larger than 2147483647")))?;
        }
        let labels = match pre {
            None => Vec::new(),
            Some(p) => {
                if !p.split('.').all(is_label) {
                    return Err(err(format!(
                        "release label {p:?} is not dot-separated [0-9A-Za-z-]+"
                    )));
                }
                p.split('.').map(str::to_owned).collect()
            }
        };
        Ok(Self {
            raw: input.to_owned(),
            parts,
            labels,
        })
    }

    /// True when the version has release labels.
    pub fn is_prerelease(&self) -> bool {
        !self.labels.is_empty()
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| {
            match (self.labels.is_empty(), other.labels.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.labels.iter().zip(&other.labels) {
                        let o = compare_label(a, b);
                        if o.is_ne() {
                            return o;
                        }
                    }
                    self.labels.len().cmp(&other.labels.len())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuget_rules() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.2",
            "1.0.0-alpha.10",
            "1.0.0-BETA",
            "1.0.0-rc.1",
            "1.0",
            "1.0.0.1",
            "1.0.1",
        ];
        for w in order.windows(2) {
            assert_eq!(
                Format::NuGet.compare(w[0], w[1]),
                Ok(Ordering::Less),
                "{w:?}"
            );
        }
        assert_eq!(
            Format::NuGet.compare("1.0.0-Beta", "1.0.0-beta+abc"),
            Ok(Ordering::Equal)
        );
        assert_eq!(Format::NuGet.compare("1.0", "1.0.0.0"), Ok(Ordering::Equal));
        for bad in ["", "1.0.0.0.0", "1.a", "1.0-", "1.0+", "3000000000"] {
            assert!(Format::NuGet.parse(bad).is_err(), "{bad:?}");
        }
    }
}
