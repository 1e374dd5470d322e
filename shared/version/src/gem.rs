//! RubyGems versions, ordered exactly as `Gem::Version#<=>` (rubygems 3.x; reference run:
//! Ruby 3.1).
//!
//! Accepted: `Gem::Version::ANCHORED_VERSION_PATTERN`,
//! `N(.[0-9A-Za-z]+)*(-[0-9A-Za-z-]+(.[0-9A-Za-z-]+)*)?` with surrounding ASCII whitespace.
//! A `-` is rewritten to `.pre.` (`1.0-rc1` is `1.0.pre.rc1`).
//!
//! Comparison: the version is split into segments, runs of digits (numbers) and of letters
//! (strings), e.g. `1.0.b1` → `1, 0, "b", 1`. Trailing zeros are dropped from the numeric
//! prefix and from the part after the first string separately (`1.0.a.0` == `1.a`). Segments
//! are compared in turn, a missing segment reading as `0`: numbers numerically, strings
//! bytewise, and a string is lower than a number. So any version containing a letter is a
//! pre-release: `1.0.a` < `1.0` < `1.0.1`, `1.0.rc1` < `1.0`, `1.0.b1` < `1.0.rc1`.
//!
//! The empty string (which RubyGems reads as `0`) is rejected here, as in every format.

use std::cmp::Ordering;

use crate::num::Num;
use crate::{Format, ParseError};

/// A `Gem::Version`.
#[derive(Debug, Clone)]
pub struct GemVersion {
    raw: String,
    segments: Vec<Segment>,
}

crate::format::version_boilerplate!(GemVersion);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(Num),
    Str(Box<str>),
}

fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn valid(s: &str) -> bool {
    let (main, pre) = match s.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (s, None),
    };
    let mut parts = main.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

impl GemVersion {
    /// Parses a version as `Gem::Version.new(input)` does.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim_matches(is_ruby_space);
        if s.is_empty() {
            return Err(ParseError::new(Format::Gem, input, "version is empty"));
        }
        if !valid(s) {
            return Err(ParseError::new(
                Format::Gem,
                input,
                "malformed version number string (expected N(.X)*(-X(.X)*)? with X in [0-9A-Za-z])",
            ));
        }
        let s = s.replace('-', ".pre.");
        let mut segs = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let start = i;
            if b[i].is_ascii_digit() {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                segs.push(Segment::Num(Num::from_digits(&s[start..i])));
            } else if b[i].is_ascii_alphabetic() {
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
                segs.push(Segment::Str(s[start..i].into()));
            } else {
                i += 1;
            }
        }
        // canonical_segments: drop trailing zeros of the numeric prefix and of the rest.
        let split = segs
            .iter()
            .position(|s| matches!(s, Segment::Str(_)))
            .unwrap_or(segs.len());
        let mut rest = segs.split_off(split);
        let is_zero = |s: &Segment| matches!(s, Segment::Num(n) if n.is_zero());
        while segs.last().is_some_and(is_zero) {
            segs.pop();
        }
        while rest.last().is_some_and(is_zero) {
            rest.pop();
        }
        segs.extend(rest);
        Ok(Self {
            raw: input.to_owned(),
            segments: segs,
        })
    }

    /// `Gem::Version#segments`: the uncanonicalised runs of digits and letters.
    fn raw_segments(&self) -> Vec<Segment> {
        let s = self.raw.trim_matches(is_ruby_space).replace('-', ".pre.");
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let start = i;
            if b[i].is_ascii_digit() {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(Segment::Num(Num::from_digits(&s[start..i])));
            } else if b[i].is_ascii_alphabetic() {
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
                out.push(Segment::Str(s[start..i].into()));
            } else {
                i += 1;
            }
        }
        out
    }

    fn from_numbers(numbers: &[Num]) -> Self {
        let text: Vec<String> = numbers.iter().map(Num::to_string).collect();
        Self::parse(&text.join(".")).unwrap_or_else(|_| unreachable_version())
    }

    /// `Gem::Version#release`: a pre-release without its letters and everything after the
    /// first of them (`1.2.b3` → `1.2`); a release is itself.
    pub(crate) fn release(&self) -> Self {
        if !self.is_prerelease() {
            return self.clone();
        }
        Self::from_numbers(&numeric_prefix(self.raw_segments()))
    }

    /// `Gem::Version#bump`: the release's second-to-last number incremented, the last dropped
    /// (`1.2.3` → `1.3`, `1` → `2`, `1.2.b3` → `2`).
    pub(crate) fn bump(&self) -> Self {
        let mut numbers = numeric_prefix(self.raw_segments());
        if numbers.len() > 1 {
            numbers.pop();
        }
        if let Some(last) = numbers.last_mut() {
            *last = last.succ();
        }
        Self::from_numbers(&numbers)
    }

    /// True when the version contains a letter (RubyGems' `prerelease?`).
    pub fn is_prerelease(&self) -> bool {
        self.raw.bytes().any(|b| b.is_ascii_alphabetic())
    }
}

/// The segments before the first string (`segments.pop while segments.any? String`).
fn numeric_prefix(segments: Vec<Segment>) -> Vec<Num> {
    segments
        .into_iter()
        .map_while(|s| match s {
            Segment::Num(n) => Some(n),
            Segment::Str(_) => None,
        })
        .collect()
}

/// A version built from numbers always parses; this keeps `from_numbers` panic-free.
fn unreachable_version() -> GemVersion {
    GemVersion {
        raw: "0".into(),
        segments: Vec::new(),
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Num(Num::default());
        for k in 0..self.segments.len().max(other.segments.len()) {
            let l = self.segments.get(k).unwrap_or(&zero);
            let r = other.segments.get(k).unwrap_or(&zero);
            let o = match (l, r) {
                (Segment::Num(a), Segment::Num(b)) => a.cmp(b),
                (Segment::Str(a), Segment::Str(b)) => a.cmp(b),
                (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
                (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
            };
            if o.is_ne() {
                return o;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerelease_letters() {
        let order = ["1.0.a", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.1"];
        for w in order.windows(2) {
            assert_eq!(Format::Gem.compare(w[0], w[1]), Ok(Ordering::Less), "{w:?}");
        }
        assert_eq!(
            Format::Gem.compare("1.0-rc1", "1.0.pre.rc1"),
            Ok(Ordering::Equal)
        );
        assert_eq!(Format::Gem.compare("1.0.a.0", "1.a"), Ok(Ordering::Equal));
        for bad in ["", "a", "1..0", "1.0-", "1.0 1", "-1"] {
            assert!(Format::Gem.parse(bad).is_err(), "{bad:?}");
        }
    }
}
