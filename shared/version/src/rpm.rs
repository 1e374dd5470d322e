//! RPM versions, compared exactly as rpm's `rpmvercmp` (rpmio/rpmvercmp.c, rpm ≥ 4.15 with
//! caret support) and `rpmverCmp` (lib/rpmver.c) do.
//!
//! `[epoch:]version[-release]`, split like rpm's `parseEVR`: the epoch is the leading digits
//! when they are followed by `:` (an empty epoch `:1.0` is 0; a missing epoch is 0); the release
//! is everything after the last `-`.
//!
//! Each part is compared by `rpmvercmp`: the string is cut into maximal runs of ASCII digits and
//! of ASCII letters; every other character (`.`, `_`, `+`, non-ASCII…) only separates runs and is
//! otherwise ignored (`1.0a` == `1.0.a`, `2_0` == `2.0`). Runs are compared left to right:
//! digits numerically (leading zeros ignored, any length), letters with `strcmp`, and a digit run
//! is newer than a letter run. Two special characters are items in their own right:
//! - `~` sorts before anything, even the end of the string: `1.0~rc1` < `1.0`;
//! - `^` sorts after the end of the string but before anything else: `1.0` < `1.0^git1` < `1.0.1`.
//!
//! Put together, each position holds one of (lowest first) `~`, end, `^`, letters, digits.
//!
//! **Missing release**: rpm's `rpmverCmp` compares releases only when *both* sides have one, so
//! rpm says `1.0` == `1.0-1` and `1.0` == `1.0-2` while `1.0-1` < `1.0-2`. That is not an order,
//! so here a missing release sorts before any release (`1.0` < `1.0-1`). Feeds and rpmdb always
//! carry releases; the difference only shows when one side is a bare version.

use std::cmp::Ordering;

use crate::num::Num;
use crate::{Format, ParseError};

/// An RPM `[epoch:]version[-release]`.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    raw: String,
    epoch: Num,
    version: Vec<Item>,
    release: Option<Vec<Item>>,
}

crate::format::version_boilerplate!(RpmVersion);

/// One `rpmvercmp` item. The derived order is rpm's: `~` < end < `^` < letters < digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Tilde,
    End,
    Caret,
    Alpha(Box<str>),
    Digits(Num),
}

fn items(s: &str) -> Vec<Item> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'~' {
            out.push(Item::Tilde);
            i += 1;
        } else if c == b'^' {
            out.push(Item::Caret);
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Item::Digits(Num::from_digits(&s[start..i])));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Item::Alpha(s[start..i].into()));
        } else {
            i += 1;
        }
    }
    out
}

/// `rpmvercmp` over item lists: lexicographic, with a missing item read as [`Item::End`].
fn cmp_items(a: &[Item], b: &[Item]) -> Ordering {
    let n = a.len().max(b.len());
    for k in 0..n {
        let x = a.get(k).unwrap_or(&Item::End);
        let y = b.get(k).unwrap_or(&Item::End);
        match x.cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    Ordering::Equal
}

impl RpmVersion {
    /// Parses `[epoch:]version[-release]`.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let err = |reason: &str| ParseError::new(Format::Rpm, input, reason);
        if input.is_empty() {
            return Err(err("version is empty"));
        }
        if input.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(err("version contains whitespace or control characters"));
        }
        let digits = input.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = match input[digits..].strip_prefix(':') {
            Some(rest) => (Num::from_digits(&input[..digits]), rest),
            None => (Num::default(), input),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r)),
            None => (rest, None),
        };
        Ok(Self {
            raw: input.to_owned(),
            epoch,
            version: items(version),
            release: release.map(items),
        })
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| cmp_items(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => cmp_items(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
    }
}

/// Bare `rpmvercmp(a, b)` on one part (no epoch/release splitting); used by the vector tests.
#[cfg(test)]
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    cmp_items(&items(a), &items(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        RpmVersion::parse(a)
            .unwrap()
            .cmp(&RpmVersion::parse(b).unwrap())
    }

    #[test]
    fn epoch_release_tilde_caret() {
        assert_eq!(cmp("1:1.0-1", "2.0-1"), Ordering::Greater);
        assert_eq!(cmp("0:1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(cmp(":1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(cmp("1.0~rc1-1", "1.0-1"), Ordering::Less);
        assert_eq!(cmp("1.0^git1-1", "1.0-1"), Ordering::Greater);
        assert_eq!(cmp("1.0^git1-1", "1.0.1-1"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0-1"), Ordering::Less);
        assert_eq!(cmp("2.17-326.el7_9", "2.17-326.el7_9.3"), Ordering::Less);
    }

    #[test]
    fn rejects_malformed() {
        // rpm itself accepts an empty version or release (`1.0-`, `-1`, `1:`); so does this.
        for bad in ["", "1.0 -1", "1\t0"] {
            assert!(RpmVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
