//! SemVer 2.0.0 (<https://semver.org>), as npm's `semver` (`compare`), crates.io and
//! Go's `golang.org/x/mod/semver` order versions.
//!
//! `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`:
//! - numbers have no leading zeros (`01` is rejected) and are compared numerically, any length;
//! - a version with a pre-release is lower than the same version without one
//!   (`1.0.0-rc.1` < `1.0.0`); pre-release identifiers are compared left to right: numeric ones
//!   numerically, alphanumeric ones by ASCII, numeric < alphanumeric, and a shorter list of equal
//!   identifiers is lower (`1.0.0-alpha` < `1.0.0-alpha.1`);
//! - build metadata is ignored (`1.0.0+a` == `1.0.0+b`), as in npm's `compare` and Go.
//!   This includes Go's `+incompatible`.
//!
//! [`Format::Semver`](crate::Format::Semver) accepts an optional leading `v` (npm does;
//! crates.io never writes one). [`Format::Go`](crate::Format::Go) follows `x/mod/semver`: the
//! `v` is optional here because OSV's Go records omit it, and the shorthands `v1` and `v1.2`
//! mean `v1.0.0` and `v1.2.0` (only without pre-release or build). Go pseudo-versions
//! (`v0.0.0-20210101000000-abcdef123456`, `v1.2.4-0.2021…`) are ordinary pre-releases and sort
//! as Go sorts them.

use std::cmp::Ordering;

use crate::num::{Num, all_digits};
use crate::{Format, ParseError};

/// A SemVer 2.0.0 version (also used for Go module versions).
#[derive(Debug, Clone)]
pub struct SemverVersion {
    raw: String,
    major: Num,
    minor: Num,
    patch: Num,
    pre: Vec<Ident>,
    build: Vec<String>,
}

crate::format::version_boilerplate!(SemverVersion);

/// A pre-release identifier; the derived order is SemVer's (numeric < alphanumeric).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    Numeric(Num),
    Alpha(Box<str>),
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn number(part: &str, what: &str, format: Format, input: &str) -> Result<Num, ParseError> {
    if !all_digits(part) {
        return Err(ParseError::new(
            format,
            input,
            format!("{what} version {part:?} is not a number"),
        ));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(ParseError::new(
            format,
            input,
            format!("{what} version {part:?} has a leading zero"),
        ));
    }
    Ok(Num::from_digits(part))
}

impl SemverVersion {
    /// Parses a SemVer 2.0.0 version (npm/crates.io); a leading `v` is allowed.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        Self::parse_as(input, Format::Semver)
    }

    /// Parses a Go module version: `v` optional, `v1` / `v1.2` shorthands allowed.
    pub fn parse_go(input: &str) -> Result<Self, ParseError> {
        Self::parse_as(input, Format::Go)
    }

    fn parse_as(input: &str, format: Format) -> Result<Self, ParseError> {
        let err = |reason: String| ParseError::new(format, input, reason);
        if input.is_empty() {
            return Err(err("version is empty".into()));
        }
        let s = input.strip_prefix('v').unwrap_or(input);
        let (rest, build) = match s.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (s, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        let shorthand = format == Format::Go && pre.is_none() && build.is_none();
        let (major, minor, patch) = match parts.as_slice() {
            [a, b, c] => (*a, *b, *c),
            [a, b] if shorthand => (*a, *b, "0"),
            [a] if shorthand => (*a, "0", "0"),
            _ => {
                return Err(err(format!(
                    "expected MAJOR.MINOR.PATCH, found {} dot-separated part(s) in {core:?}",
                    parts.len()
                )));
            }
        };
        let major = number(major, "major", format, input)?;
        let minor = number(minor, "minor", format, input)?;
        let patch = number(patch, "patch", format, input)?;
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    if id.is_empty() || !id.chars().all(is_ident_char) {
                        Err(err(format!(
                            "pre-release identifier {id:?} is empty or not [0-9A-Za-z-]"
                        )))
                    } else if all_digits(id) {
                        if id.len() > 1 && id.starts_with('0') {
                            Err(err(format!(
                                "numeric pre-release identifier {id:?} has a leading zero"
                            )))
                        } else {
                            Ok(Ident::Numeric(Num::from_digits(id)))
                        }
                    } else {
                        Ok(Ident::Alpha(id.into()))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let build = match build {
            None => Vec::new(),
            Some(b) => b
                .split('.')
                .map(|id| {
                    if id.is_empty() || !id.chars().all(is_ident_char) {
                        Err(err(format!(
                            "build identifier {id:?} is empty or not [0-9A-Za-z-]"
                        )))
                    } else {
                        Ok(id.to_owned())
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            raw: input.to_owned(),
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    /// True for a version with a pre-release part.
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Whether `major.minor.patch` equal `other`'s (node-semver's pre-release rule in ranges).
    pub(crate) fn same_release(&self, other: &Self) -> bool {
        self.major == other.major && self.minor == other.minor && self.patch == other.patch
    }

    /// Build metadata identifiers (ignored by the ordering), e.g. `["incompatible"]`.
    pub fn build(&self) -> &[String] {
        &self.build
    }
}

impl Ord for SemverVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.major
            .cmp(&other.major)
            .then_with(|| self.minor.cmp(&other.minor))
            .then_with(|| self.patch.cmp(&other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(f: Format, a: &str, b: &str) -> Ordering {
        f.compare(a, b).unwrap()
    }

    #[test]
    fn prerelease_rules() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for w in order.windows(2) {
            assert_eq!(cmp(Format::Semver, w[0], w[1]), Ordering::Less, "{w:?}");
        }
        assert_eq!(cmp(Format::Semver, "1.0.0+a", "1.0.0+b"), Ordering::Equal);
    }

    #[test]
    fn go_prefix_shorthand_incompatible() {
        assert_eq!(cmp(Format::Go, "v1.2", "1.2.0"), Ordering::Equal);
        assert_eq!(
            cmp(Format::Go, "v2.0.0+incompatible", "v2.0.0"),
            Ordering::Equal
        );
        assert_eq!(
            cmp(Format::Go, "v0.0.0-20210101000000-abcdef123456", "v0.0.1"),
            Ordering::Less
        );
        assert!(Format::Semver.parse("1.2").is_err());
        assert!(Format::Go.parse("v1.2-pre").is_err());
        assert!(Format::Semver.parse("01.2.3").is_err());
    }
}
