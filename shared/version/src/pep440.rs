//! Python versions (PEP 440), parsed and ordered exactly as `packaging.version.Version`
//! (packaging ≥ 22; the reference run here is packaging 26).
//!
//! `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, case-insensitive, surrounding whitespace and
//! a leading `v` ignored, with the normalisations packaging applies: `alpha`→`a`, `beta`→`b`,
//! `c`/`pre`/`preview`→`rc`, `rev`/`r`→`post`, a bare `-N` is a post-release, `.`/`-`/`_`
//! separators optional, a missing pre/post/dev number is 0, `+local` parts split on `.`/`-`/`_`.
//!
//! Order (packaging's `_cmpkey`):
//! 1. epoch (missing = 0);
//! 2. release, ignoring trailing zeros (`1.0` == `1`);
//! 3. pre-release: `a` < `b` < `rc`, then its number; a version with neither pre- nor
//!    post-release but a dev-release sorts before every pre-release of it
//!    (`1.0.dev0` < `1.0a0`), and no pre-release sorts after all of them;
//! 4. post-release: none < any (`1.0` < `1.0.post0`);
//! 5. dev-release: any < none (`1.0a1.dev1` < `1.0a1`);
//! 6. local: none < any; parts compared in turn, numbers numerically and above strings,
//!    strings as ASCII, and more parts win (`1.0` < `1.0+abc` < `1.0+abc.1` < `1.0+1`).
//!
//! Numbers of any length are exact (Python integers are unbounded).

use std::cmp::Ordering;

use crate::num::Num;
use crate::{Format, ParseError};

/// A PEP 440 version.
#[derive(Debug, Clone)]
pub struct Pep440Version {
    raw: String,
    epoch: Num,
    release: Vec<Num>,
    pre: Option<(PreKind, Num)>,
    post: Option<Num>,
    dev: Option<Num>,
    local: Vec<LocalPart>,
    has_local: bool,
    /// Release parts as written (before trailing zeros are dropped), for prefix matching.
    release_len: usize,
}

crate::format::version_boilerplate!(Pep440Version);

/// Pre-release kinds in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PreKind {
    A,
    B,
    Rc,
}

/// A local version part; strings sort below numbers, as in packaging.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Str(Box<str>),
    Int(Num),
}

/// Sort key for the pre-release slot.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey<'a> {
    NegInf,
    Some(PreKind, &'a Num),
    Inf,
}

const PRE_WORDS: [(&str, PreKind); 8] = [
    ("alpha", PreKind::A),
    ("a", PreKind::A),
    ("beta", PreKind::B),
    ("b", PreKind::B),
    ("preview", PreKind::Rc),
    ("pre", PreKind::Rc),
    ("c", PreKind::Rc),
    ("rc", PreKind::Rc),
];
const POST_WORDS: [&str; 3] = ["post", "rev", "r"];

/// A backtracking reader of packaging's `VERSION_PATTERN`. Each optional group returns its
/// candidate matches in the order Python's regex engine tries them; the first combination that
/// consumes the whole string is the regex's match.
struct Src<'a> {
    s: &'a [u8],
}

fn is_sep(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'.')
}

impl Src<'_> {
    fn digits(&self, at: usize) -> usize {
        self.s
            .get(at..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    fn num(&self, at: usize, len: usize) -> Num {
        Num::from_digits(std::str::from_utf8(&self.s[at..at + len]).unwrap_or_default())
    }

    /// `[-_\.]?` : positions after it, greedy first.
    fn opt_sep(&self, at: usize) -> Vec<usize> {
        match self.s.get(at) {
            Some(b) if is_sep(*b) => vec![at + 1, at],
            _ => vec![at],
        }
    }

    /// `([0-9]+)?` : (end, number) candidates, greedy first (all backtracking lengths).
    fn opt_num(&self, at: usize) -> Vec<(usize, Option<Num>)> {
        let n = self.digits(at);
        let mut out: Vec<_> = (1..=n)
            .rev()
            .map(|k| (at + k, Some(self.num(at, k))))
            .collect();
        out.push((at, None));
        out
    }

    fn words<'w>(
        &self,
        at: usize,
        words: impl IntoIterator<Item = &'w str>,
    ) -> Vec<(usize, &'w str)> {
        let rest = self.s.get(at..).unwrap_or_default();
        words
            .into_iter()
            .filter(|w| rest.starts_with(w.as_bytes()))
            .map(|w| (at + w.len(), w))
            .collect()
    }

    fn pre(&self, at: usize) -> Vec<(usize, Option<(PreKind, Num)>)> {
        let mut out = Vec::new();
        for p in self.opt_sep(at) {
            for (q, w) in self.words(p, PRE_WORDS.iter().map(|(w, _)| *w)) {
                let kind = PRE_WORDS
                    .iter()
                    .find(|(x, _)| *x == w)
                    .map(|(_, k)| *k)
                    .unwrap_or(PreKind::A);
                for r in self.opt_sep(q) {
                    for (e, n) in self.opt_num(r) {
                        out.push((e, Some((kind, n.unwrap_or_default()))));
                    }
                }
            }
        }
        out.push((at, None));
        out
    }

    fn post(&self, at: usize) -> Vec<(usize, Option<Num>)> {
        let mut out = Vec::new();
        if self.s.get(at) == Some(&b'-') {
            let n = self.digits(at + 1);
            for k in (1..=n).rev() {
                out.push((at + 1 + k, Some(self.num(at + 1, k))));
            }
        }
        for p in self.opt_sep(at) {
            for (q, _) in self.words(p, POST_WORDS) {
                for r in self.opt_sep(q) {
                    for (e, n) in self.opt_num(r) {
                        out.push((e, Some(n.unwrap_or_default())));
                    }
                }
            }
        }
        out.push((at, None));
        out
    }

    fn dev(&self, at: usize) -> Vec<(usize, Option<Num>)> {
        let mut out = Vec::new();
        for p in self.opt_sep(at) {
            for (q, _) in self.words(p, ["dev"]) {
                for r in self.opt_sep(q) {
                    for (e, n) in self.opt_num(r) {
                        out.push((e, Some(n.unwrap_or_default())));
                    }
                }
            }
        }
        out.push((at, None));
        out
    }

    /// `(?:\+([a-z0-9]+(?:[-_\.][a-z0-9]+)*))?` then end of input.
    fn local_to_end(&self, at: usize) -> Option<Option<Vec<LocalPart>>> {
        let rest = self.s.get(at..).unwrap_or_default();
        if rest.is_empty() {
            return Some(None);
        }
        let body = rest.strip_prefix(b"+")?;
        let text = std::str::from_utf8(body).ok()?;
        let mut parts = Vec::new();
        for part in text.split(['-', '_', '.']) {
            if part.is_empty()
                || !part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return None;
            }
            parts.push(if part.bytes().all(|b| b.is_ascii_digit()) {
                LocalPart::Int(Num::from_digits(part))
            } else {
                LocalPart::Str(part.into())
            });
        }
        Some(Some(parts))
    }
}

type Tail = (
    Option<(PreKind, Num)>,
    Option<Num>,
    Option<Num>,
    Option<Vec<LocalPart>>,
);

impl Pep440Version {
    /// Parses a PEP 440 version as `packaging.version.Version` does.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let err = |reason: &str| ParseError::new(Format::Pep440, input, reason);
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(err("version is empty"));
        }
        if !trimmed.is_ascii() {
            return Err(err("version contains non-ASCII characters"));
        }
        let lower = trimmed.to_ascii_lowercase();
        let src = Src {
            s: lower.as_bytes(),
        };
        let mut at = usize::from(src.s.first() == Some(&b'v'));
        // epoch: `(?:([0-9]+)!)?`
        let mut epoch = Num::default();
        let n = src.digits(at);
        if n > 0 && src.s.get(at + n) == Some(&b'!') {
            epoch = src.num(at, n);
            at += n + 1;
        }
        // release: `[0-9]+(?:\.[0-9]+)*` (greedy; a shorter release can never let the rest match,
        // because nothing after it may start with a digit or `.digit`).
        let mut release = Vec::new();
        loop {
            let n = src.digits(at);
            if n == 0 {
                return Err(err(if release.is_empty() {
                    "release must start with a number (N[.N]…)"
                } else {
                    "release has an empty component"
                }));
            }
            release.push(src.num(at, n));
            at += n;
            if src.s.get(at) == Some(&b'.') && src.digits(at + 1) > 0 {
                at += 1;
            } else {
                break;
            }
        }
        let tail: Option<Tail> = src.pre(at).into_iter().find_map(|(p_end, pre)| {
            src.post(p_end).into_iter().find_map(|(q_end, post)| {
                src.dev(q_end).into_iter().find_map(|(d_end, dev)| {
                    src.local_to_end(d_end)
                        .map(|local| (pre.clone(), post.clone(), dev, local))
                })
            })
        });
        let (pre, post, dev, local) = tail.ok_or_else(|| {
            err("not a PEP 440 version: expected [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]")
        })?;
        let release_len = release.len();
        while release.len() > 1 && release.last().is_some_and(Num::is_zero) {
            release.pop();
        }
        if release.len() == 1 && release[0].is_zero() {
            release.clear();
        }
        Ok(Self {
            raw: input.to_owned(),
            epoch,
            release,
            pre,
            post,
            dev,
            has_local: local.is_some(),
            local: local.unwrap_or_default(),
            release_len,
        })
    }

    /// True for pre-releases and dev-releases (packaging's `is_prerelease`).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// True for post-releases (packaging's `is_postrelease`).
    pub(crate) fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    /// True when the version has a `+local` part.
    pub(crate) fn has_local(&self) -> bool {
        self.has_local
    }

    /// The release parts as written (`1.0` has two).
    pub(crate) fn release_len(&self) -> usize {
        self.release_len
    }

    /// The version without its local part (packaging's `public`).
    pub(crate) fn public(&self) -> Self {
        Self {
            local: Vec::new(),
            has_local: false,
            ..self.clone()
        }
    }

    /// Epoch and release only (packaging's `base_version`).
    pub(crate) fn base(&self) -> Self {
        Self {
            pre: None,
            post: None,
            dev: None,
            ..self.public()
        }
    }

    /// True when `self`'s epoch equals `spec`'s and its release, padded with zeros, starts
    /// with `spec`'s first `len` release parts (PEP 440 prefix matching, `==1.2.*`).
    pub(crate) fn has_release_prefix(&self, spec: &Self, len: usize) -> bool {
        let zero = Num::default();
        self.epoch == spec.epoch
            && (0..len).all(|i| {
                self.release.get(i).unwrap_or(&zero) == spec.release.get(i).unwrap_or(&zero)
            })
    }

    fn pre_key(&self) -> PreKey<'_> {
        match &self.pre {
            Some((k, n)) => PreKey::Some(*k, n),
            None if self.post.is_none() && self.dev.is_some() => PreKey::NegInf,
            None => PreKey::Inf,
        }
    }
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release.cmp(&other.release))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            .then_with(|| self.post.cmp(&other.post))
            .then_with(|| match (&self.dev, &other.dev) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
            .then_with(|| {
                self.has_local
                    .cmp(&other.has_local)
                    .then_with(|| self.local.cmp(&other.local))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep440_order() {
        let order = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
            "1!0.1",
        ];
        for w in order.windows(2) {
            assert_eq!(
                Format::Pep440.compare(w[0], w[1]),
                Ok(Ordering::Less),
                "{w:?}"
            );
        }
    }

    #[test]
    fn normalisation() {
        for (a, b) in [
            ("1.0", "1"),
            ("v1.0", "1.0.0"),
            ("1.0ALPHA1", "1.0a1"),
            ("1.0-c1", "1.0rc1"),
            ("1.0-1", "1.0.post1"),
            ("1.0.r", "1.0.post0"),
            ("1.0-dev", "1.0.dev0"),
            ("1.0+ubuntu-1", "1.0+ubuntu.1"),
            (" 0!1.0 ", "1.0"),
            ("1.0a-1", "1.0a1"),
        ] {
            assert_eq!(
                Format::Pep440.compare(a, b),
                Ok(Ordering::Equal),
                "{a} vs {b}"
            );
        }
        for bad in ["", "1.0+", "a1", "1.0.x", "1..0", "1.0+a..b", "1.0 1"] {
            assert!(Format::Pep440.parse(bad).is_err(), "{bad:?}");
        }
    }
}
