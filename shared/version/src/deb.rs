//! Debian versions, compared exactly as dpkg does (`lib/dpkg/version.c` `dpkg_version_compare`,
//! parsed as `lib/dpkg/parsehelp.c` `parseversion`).
//!
//! `[epoch:]upstream[-revision]`:
//! - **epoch**: the digits before the first `:`; missing means 0; compared numerically first.
//!   Must be a number no larger than `i32::MAX` (dpkg's limit).
//! - **revision**: everything after the *last* `-`; missing means empty, and an empty revision
//!   compares equal to `0` (so `1.0` == `1.0-0`, as dpkg says).
//! - **upstream** and **revision** are compared with dpkg's `verrevcmp`: alternately a run of
//!   non-digits, compared character by character where `~` sorts before everything, even the end
//!   of the string (`1.0~rc1` < `1.0`), then letters, then all other characters (by byte value +
//!   256); then a run of digits, compared numerically (leading zeros ignored, any length).
//!
//! Errors are dpkg's hard errors (empty, embedded spaces, bad epoch, nothing after the colon,
//! empty revision). dpkg only *warns* about an upstream that does not start with a digit or an
//! unusual character and still compares such versions; so does this parser.

use std::cmp::Ordering;

use crate::{Format, ParseError};

/// A dpkg version.
#[derive(Debug, Clone)]
pub struct DebVersion {
    raw: String,
    epoch: u32,
    upstream: String,
    revision: String,
}

crate::format::version_boilerplate!(DebVersion);

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl DebVersion {
    /// Parses a dpkg version string.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let err = |reason: &str| ParseError::new(Format::Deb, input, reason);
        let s = input.trim_matches(is_blank);
        if s.is_empty() {
            return Err(err("version string is empty"));
        }
        if s.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(err(
                "version string has embedded spaces or control characters",
            ));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() {
                    return Err(err("epoch in version is empty"));
                }
                // dpkg reads the epoch with strtol: an optional sign, then digits.
                let (negative, digits) = match e.as_bytes()[0] {
                    b'+' => (false, &e[1..]),
                    b'-' => (true, &e[1..]),
                    _ => (false, e),
                };
                if !crate::num::all_digits(digits) {
                    return Err(err("epoch in version is not a number"));
                }
                let value = crate::num::Num::from_digits(digits);
                if negative && !value.is_zero() {
                    return Err(err("epoch in version is negative"));
                }
                let epoch = if value.is_zero() {
                    0
                } else {
                    digits
                        .trim_start_matches('0')
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n <= i32::MAX as u32)
                        .ok_or_else(|| err("epoch in version is too big"))?
                };
                if rest.is_empty() {
                    return Err(err("nothing after colon in version number"));
                }
                (epoch, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((_, "")) => return Err(err("revision number is empty")),
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(err("version number is empty"));
        }
        Ok(Self {
            raw: input.to_owned(),
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The Debian revision (empty when absent).
    pub fn revision(&self) -> &str {
        &self.revision
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

/// dpkg's `order()`: `~` < end of string (0) < letters < everything else. Bytes ≥ 0x80 are
/// negative `char`s in dpkg (x86 and most Debian ports), so they land at 128..=255.
fn order(c: u8) -> i32 {
    match c {
        b'~' => -1,
        0 => 0,
        c if c.is_ascii_digit() => 0,
        c if c.is_ascii_alphabetic() => i32::from(c),
        c if c >= 0x80 => i32::from(c),
        c => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let at = |i: usize| a.get(i).copied().unwrap_or(0);
    let bt = |j: usize| b.get(j).copied().unwrap_or(0);
    let (mut i, mut j) = (0, 0);
    while at(i) != 0 || bt(j) != 0 {
        while (at(i) != 0 && !at(i).is_ascii_digit()) || (bt(j) != 0 && !bt(j).is_ascii_digit()) {
            let (ac, bc) = (order(at(i)), order(bt(j)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(i) == b'0' {
            i += 1;
        }
        while bt(j) == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while at(i).is_ascii_digit() && bt(j).is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = at(i).cmp(&bt(j));
            }
            i += 1;
            j += 1;
        }
        if at(i).is_ascii_digit() {
            return Ordering::Greater;
        }
        if bt(j).is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        DebVersion::parse(a)
            .unwrap()
            .cmp(&DebVersion::parse(b).unwrap())
    }

    #[test]
    fn tilde_epoch_revision() {
        assert_eq!(cmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0~~", "1.0~"), Ordering::Less);
        assert_eq!(cmp("1:0.1", "2.0"), Ordering::Greater);
        assert_eq!(cmp("1.0", "1.0-0"), Ordering::Equal);
        assert_eq!(cmp("1.0-1", "1.0-1ubuntu0.1"), Ordering::Less);
        assert_eq!(cmp("2.30-1+deb12u1", "2.30-1"), Ordering::Greater);
        assert_eq!(cmp("1.0a", "1.0+"), Ordering::Less);
    }

    #[test]
    fn rejects_what_dpkg_rejects() {
        for bad in [
            "",
            "  ",
            "1.0 2",
            "a:1",
            ":1",
            "1:",
            "1.0-",
            "99999999999:1",
            "-1",
        ] {
            let e = DebVersion::parse(bad).unwrap_err();
            assert_eq!(e.format, Format::Deb, "{bad:?}");
        }
        assert!(DebVersion::parse(" 1.0 ").is_ok());
    }
}
