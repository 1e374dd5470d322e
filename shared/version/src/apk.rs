//! Alpine versions, compared exactly as apk-tools 2.x does (`src/version.c`:
//! `apk_version_validate`, `apk_version_compare_blob`), checked against apk-tools'
//! `test/version.data` and the go-apk-version port.
//!
//! Grammar (a Gentoo-style version): `digits{.digits}[letter]{_suffix[digits]}[-rdigits]`
//! - numbers after a `.` with a leading zero are special: the zeros are counted and compare as
//!   a *negative* number, the remaining digits as the next component. So `1.05` < `1.5` and
//!   `1.0` < `1.00` is false: `1.0` > `1.00` (fewer zeros sorts higher);
//! - one lower-case **letter** directly after a number: `1.1a` > `1.1` and `1.1b` > `1.1a`;
//! - **suffixes**, each optionally numbered (`_rc2`). Pre-release suffixes sort *before* the
//!   bare version, in the order `_alpha` < `_beta` < `_pre` < `_rc` < (none); post-release ones
//!   after it: (none) < `_cvs` < `_svn` < `_git` < `_hg` < `_p`. Suffixes chain (`_rc1_p2`).
//!   Suffix names are matched by prefix as apk does;
//! - **`-rN`** package revision last: `1.0-r1` > `1.0` and `1.0-r10` > `1.0-r9`.
//!
//! When two versions agree on a common prefix, the longer one is newer unless what follows is a
//! pre-release suffix (`1.1_rc1` < `1.1` < `1.1.1`, `1.0` < `1.0-r1`).
//!
//! **Quirk kept from apk-tools 2.x**: after a component that starts with `0` (`1.0`, `2.05`) the
//! pre-release check is skipped, so `1.0_rc1` > `1.0` (while `1.1_rc1` < `1.1`). go-apk-version
//! and apk-tools' own `test/version.data` agree; see the README for why this matters. Anything outside the
//! grammar (upper-case letters, two letters, `1.0-1`, a trailing `.`) is rejected with the reason,
//! where `apk` itself would fall back to a plain string comparison.
//!
//! Unlike apk-tools' C `int`, numbers of any length are compared exactly.

use std::cmp::Ordering;

use crate::num::Num;
use crate::{Format, ParseError};

/// An apk-tools version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    raw: String,
}

crate::format::version_boilerplate!(ApkVersion);

type Tok = i8;
const INVALID: Tok = -1;
const DIGIT_OR_ZERO: Tok = 0;
const DIGIT: Tok = 1;
const LETTER: Tok = 2;
const SUFFIX: Tok = 3;
const SUFFIX_NO: Tok = 4;
const REVISION_NO: Tok = 5;
const END: Tok = 6;

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// A token value. apk uses an `int`: leading zeros count as `-zeros`, pre-release suffixes are
/// `-4..=-1`; everything else is non-negative.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Neg(usize),
    NonNeg(Num),
}

impl Ord for Val {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Val::Neg(a), Val::Neg(b)) => b.cmp(a),
            (Val::Neg(_), Val::NonNeg(_)) => Ordering::Less,
            (Val::NonNeg(_), Val::Neg(_)) => Ordering::Greater,
            (Val::NonNeg(a), Val::NonNeg(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Val {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone)]
struct Cursor<'a> {
    b: &'a [u8],
    p: usize,
}

impl Cursor<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(self.p + i).copied().unwrap_or(0)
    }
    fn rem(&self) -> usize {
        self.b.len().saturating_sub(self.p)
    }
    fn rest(&self) -> &[u8] {
        self.b.get(self.p..).unwrap_or_default()
    }
}

fn next_token(t: &mut Tok, c: &mut Cursor<'_>) {
    let ch = c.at(0);
    let mut n = INVALID;
    if c.rem() == 0 || ch == 0 {
        n = END;
    } else if (*t == DIGIT || *t == DIGIT_OR_ZERO) && ch.is_ascii_lowercase() {
        n = LETTER;
    } else if *t == LETTER && ch.is_ascii_digit() {
        n = DIGIT;
    } else if *t == SUFFIX && ch.is_ascii_digit() {
        n = SUFFIX_NO;
    } else {
        match ch {
            b'.' => n = DIGIT_OR_ZERO,
            b'_' => n = SUFFIX,
            b'-' if c.rem() > 1 && c.at(1) == b'r' => {
                n = REVISION_NO;
                c.p += 1;
            }
            _ => {}
        }
        c.p += 1;
    }
    if n < *t
        && !((n == DIGIT_OR_ZERO && *t == DIGIT)
            || (n == SUFFIX && *t == SUFFIX_NO)
            || (n == DIGIT && *t == LETTER))
    {
        n = INVALID;
    }
    *t = n;
}

fn get_token(t: &mut Tok, c: &mut Cursor<'_>) -> Val {
    if c.rem() == 0 {
        *t = END;
        return Val::NonNeg(Num::default());
    }
    let mut i = 0;
    let mut nt = INVALID;
    let v = match *t {
        DIGIT_OR_ZERO if c.at(0) == b'0' => {
            while i < c.rem() && c.at(i) == b'0' {
                i += 1;
            }
            nt = DIGIT;
            Val::Neg(i)
        }
        DIGIT_OR_ZERO | DIGIT | SUFFIX_NO | REVISION_NO => {
            while i < c.rem() && c.at(i).is_ascii_digit() {
                i += 1;
            }
            let digits = std::str::from_utf8(&c.rest()[..i]).unwrap_or_default();
            Val::NonNeg(Num::from_digits(digits))
        }
        LETTER => {
            i = 1;
            Val::NonNeg(Num::from_u64(u64::from(c.at(0))))
        }
        SUFFIX => {
            let rest = c.rest();
            if let Some(k) = PRE_SUFFIXES
                .iter()
                .position(|s| rest.starts_with(s.as_bytes()))
            {
                i = PRE_SUFFIXES[k].len();
                Val::Neg(PRE_SUFFIXES.len() - k)
            } else if let Some(k) = POST_SUFFIXES
                .iter()
                .position(|s| rest.starts_with(s.as_bytes()))
            {
                i = POST_SUFFIXES[k].len();
                Val::NonNeg(Num::from_u64(k as u64))
            } else {
                *t = INVALID;
                return Val::Neg(1);
            }
        }
        _ => {
            *t = INVALID;
            return Val::Neg(1);
        }
    };
    c.p += i;
    if c.rem() == 0 {
        *t = END;
    } else if nt != INVALID {
        *t = nt;
    } else {
        next_token(t, c);
    }
    v
}

/// Why `s` is not a valid apk version, or `None` when it is (`apk_version_validate`).
fn invalid_at(s: &str) -> Option<usize> {
    let mut c = Cursor {
        b: s.as_bytes(),
        p: 0,
    };
    let mut t = DIGIT;
    while t != END && t != INVALID {
        get_token(&mut t, &mut c);
    }
    (t != END).then_some(c.p.saturating_sub(1).min(s.len()))
}

impl ApkVersion {
    /// Parses (validates) an apk version.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::new(Format::Apk, input, "version is empty"));
        }
        if input.bytes().any(|b| b == 0) {
            return Err(ParseError::new(
                Format::Apk,
                input,
                "version contains a NUL byte",
            ));
        }
        if let Some(at) = invalid_at(input) {
            return Err(ParseError::new(
                Format::Apk,
                input,
                format!(
                    "not an apk version (digits{{.digits}}[letter]{{_suffix[N]}}[-rN]); \
                     problem near byte {at}"
                ),
            ));
        }
        Ok(Self {
            raw: input.to_owned(),
        })
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = Cursor {
            b: self.raw.as_bytes(),
            p: 0,
        };
        let mut b = Cursor {
            b: other.raw.as_bytes(),
            p: 0,
        };
        let (mut at, mut bt) = (DIGIT, DIGIT);
        let (mut av, mut bv) = (Val::NonNeg(Num::default()), Val::NonNeg(Num::default()));
        while at == bt && at != END && at != INVALID && av == bv {
            av = get_token(&mut at, &mut a);
            bv = get_token(&mut bt, &mut b);
        }
        match av.cmp(&bv) {
            Ordering::Equal => {}
            o => return o,
        }
        if at == bt {
            return Ordering::Equal;
        }
        let mut tt = at;
        if at == SUFFIX && matches!(get_token(&mut tt, &mut a.clone()), Val::Neg(_)) {
            return Ordering::Less;
        }
        tt = bt;
        if bt == SUFFIX && matches!(get_token(&mut tt, &mut b.clone()), Val::Neg(_)) {
            return Ordering::Greater;
        }
        bt.cmp(&at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        ApkVersion::parse(a)
            .unwrap()
            .cmp(&ApkVersion::parse(b).unwrap())
    }

    #[test]
    fn suffixes_letters_revisions() {
        assert_eq!(cmp("1.0_alpha", "1.0_beta"), Ordering::Less);
        assert_eq!(cmp("1.1_rc1", "1.1"), Ordering::Less);
        // apk-tools 2.x quirk, kept: after a zero component the suffix check is skipped.
        assert_eq!(cmp("1.0_rc1", "1.0"), Ordering::Greater);
        assert_eq!(cmp("1.0", "1.0_p1"), Ordering::Less);
        assert_eq!(cmp("1.0_p1", "1.0.1"), Ordering::Less);
        assert_eq!(cmp("1.0-r1", "1.0-r10"), Ordering::Less);
        assert_eq!(cmp("1.1.1d-r1", "1.1.1c-r5"), Ordering::Greater);
        assert_eq!(cmp("1.05", "1.5"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0-r0"), Ordering::Less);
    }

    #[test]
    fn rejects_outside_grammar() {
        for bad in ["", "1.0A", "1.0-1", "1.0_foo", "1.2bc"] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
