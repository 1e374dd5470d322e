//! Composer (Packagist) versions, read as composer/semver 3.x `VersionParser::normalize` reads
//! them and ordered as its `Comparator` orders them (reference run: composer/semver 3.3.2 on
//! PHP 8.2).
//!
//! **Normalisation** (the version a comparison sees is the normalised string):
//! - surrounding whitespace is trimmed; `1.0 as 2.0` is `1.0`; a trailing `@stable`, `@RC`,
//!   `@beta`, `@alpha` or `@dev` flag is dropped; `master`, `trunk`, `default` become
//!   `dev-master`…; anything starting `dev-` (any case) is a **branch**, kept as written;
//! - `+build` metadata is dropped;
//! - classical versions `v?N(.N){0,3}` (the first number at most 5 digits) are padded to four
//!   parts (`1.2` → `1.2.0.0`); date versions (`20240101`, `2024.01.01.1200`: four digits,
//!   1–6 groups of two, an optional group of 1–3, separated by `.`, `:` or `-`) keep their parts
//!   with `.` between them;
//! - a stability suffix may follow, with an optional `.`/`_`/`-` before it: `stable` (dropped,
//!   spelt in lower case only), `alpha`/`a`, `beta`/`b`, `RC`, `patch`/`pl`/`p`, any case, then
//!   an optional number (`-beta.2` → `-beta2`), then an optional `dev` (`1.0-beta1-dev`);
//! - otherwise a numeric branch `1.x-dev`/`1.2.*-dev` becomes `1.9999999.9999999.9999999-dev`;
//!   everything else is invalid.
//!
//! **Order:** PHP's `version_compare` on the normalised strings: `-_+` and other
//! non-alphanumerics are separators, a separator is also put between digits and letters, then
//! parts are compared in turn. Numbers compare numerically (saturating at 2⁶³−1, as PHP's
//! `strtol` does), words by their first letters: anything else < `dev` < `alpha`/`a` <
//! `beta`/`b` < `RC`/`rc` < a number < `pl`/`p`. A missing part is below a number and compares
//! to a word like a number does. So `1.0-dev` < `1.0-alpha1` < `1.0-beta` < `1.0-RC1` < `1.0`
//! < `1.0-patch1` < `1.0.0.1`, and (a quirk kept) `1.0-STABLE` (upper case, kept as
//! `-stable`) is below `1.0-dev`.
//!
//! **Branches** (`dev-master`) sort below every numbered version, as `Comparator` says. Composer
//! calls two different branches neither less, equal nor greater; here they order by name so
//! that the order is total (see README). Constraints never match a branch with `<`/`>`.

use std::cmp::Ordering;

use crate::{Format, ParseError};

/// A Composer version: the normalised form (`1.2.0.0-beta1`, `dev-main`) of the input.
#[derive(Debug, Clone)]
pub struct ComposerVersion {
    raw: String,
    normalized: String,
}

crate::format::version_boilerplate!(ComposerVersion);

/// PHP's `trim()` default character list.
fn is_php_trim(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0b')
}

/// PCRE's `\s`.
pub(crate) fn is_pcre_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `^([^,\s]++) ++as ++([^,\s]++)$`: the aliased version (`1.0 as 2.0` → `1.0`).
pub(crate) fn strip_alias(s: &str) -> &str {
    let Some(end) = s.find(|c: char| c == ',' || is_pcre_space(c)) else {
        return s;
    };
    if end == 0 {
        return s;
    }
    let rest = &s[end..];
    let after_spaces = rest.trim_start_matches(' ');
    if after_spaces.len() == rest.len() {
        return s;
    }
    let Some(target) = after_spaces.strip_prefix("as") else {
        return s;
    };
    let target_trimmed = target.trim_start_matches(' ');
    if target_trimmed.len() == target.len()
        || target_trimmed.is_empty()
        || target_trimmed.contains(|c: char| c == ',' || is_pcre_space(c))
    {
        return s;
    }
    &s[..end]
}

const STABILITY_FLAGS: [&str; 5] = ["stable", "RC", "beta", "alpha", "dev"];

/// `@(?:stable|RC|beta|alpha|dev)$` (case-insensitive) removed.
fn strip_stability_flag(s: &str) -> &str {
    for flag in STABILITY_FLAGS {
        let n = flag.len() + 1;
        if s.len() >= n
            && s.is_char_boundary(s.len() - n)
            && s.as_bytes()[s.len() - n] == b'@'
            && s[s.len() - flag.len()..].eq_ignore_ascii_case(flag)
        {
            return &s[..s.len() - n];
        }
    }
    s
}

/// What `modifierRegex` captured: the stability word, its number, and whether `dev` followed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Modifier<'a> {
    pub(crate) word: Option<&'a str>,
    pub(crate) number: &'a str,
    pub(crate) dev: bool,
}

const MODIFIER_WORDS: [&str; 9] = [
    "stable", "beta", "b", "RC", "alpha", "a", "patch", "pl", "p",
];

/// Every way `[._-]?(?:(WORD)((?:[.-]?\d+)*+)?)?([.-]?dev)?` can match at the start of `s`,
/// as (length, groups), in the order a backtracking regex engine tries them. `ci`: the
/// pattern's `i` flag (without it only `RC` is upper case, and the subject is lower case).
pub(crate) fn modifier_candidates(s: &str, ci: bool) -> Vec<(usize, Modifier<'_>)> {
    let b = s.as_bytes();
    let eq = |x: &[u8], w: &str| {
        if ci {
            x.eq_ignore_ascii_case(w.as_bytes())
        } else {
            x == w.as_bytes()
        }
    };
    let devs = |at: usize| -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        if matches!(b.get(at), Some(b'.' | b'-'))
            && b.get(at + 1..at + 4).is_some_and(|x| eq(x, "dev"))
        {
            out.push((at + 4, true));
        }
        if b.get(at..at + 3).is_some_and(|x| eq(x, "dev")) {
            out.push((at + 3, true));
        }
        out.push((at, false));
        out
    };
    let mut out = Vec::new();
    let seps: &[usize] = if matches!(b.first(), Some(b'.' | b'_' | b'-')) {
        &[1, 0]
    } else {
        &[0]
    };
    for &start in seps {
        for word in MODIFIER_WORDS {
            let word_end = start + word.len();
            if !b.get(start..word_end).is_some_and(|x| eq(x, word)) {
                continue;
            }
            // `(?:[.-]?\d+)*+`: possessive, as much as possible; the group may also be skipped.
            let mut at = word_end;
            loop {
                let digits_from = if matches!(b.get(at), Some(b'.' | b'-'))
                    && b.get(at + 1).is_some_and(u8::is_ascii_digit)
                {
                    at + 1
                } else if b.get(at).is_some_and(u8::is_ascii_digit) {
                    at
                } else {
                    break;
                };
                at = digits_from + digits_at(b, digits_from);
            }
            let mut number_ends = vec![at];
            if at != word_end {
                number_ends.push(word_end);
            }
            for number_end in number_ends {
                for (end, dev) in devs(number_end) {
                    out.push((
                        end,
                        Modifier {
                            word: Some(&s[start..word_end]),
                            number: &s[word_end..number_end],
                            dev,
                        },
                    ));
                }
            }
        }
        for (end, dev) in devs(start) {
            out.push((
                end,
                Modifier {
                    word: None,
                    number: "",
                    dev,
                },
            ));
        }
    }
    out
}

/// The modifier regex over all of `s` (case-insensitive), with the first match's groups.
fn modifier(s: &str) -> Option<Modifier<'_>> {
    modifier_candidates(s, true)
        .into_iter()
        .find(|(end, _)| *end == s.len())
        .map(|(_, m)| m)
}

fn expand_stability(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        _ => lower,
    }
}

pub(crate) fn digits_at(b: &[u8], at: usize) -> usize {
    b.get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// `\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?` over all of `t`.
fn is_date_version(t: &[u8]) -> bool {
    fn groups(t: &[u8], at: usize, done: usize) -> bool {
        let tail_ok = |at: usize| {
            if at == t.len() {
                return true;
            }
            let at = if matches!(t[at], b'.' | b':' | b'-') {
                at + 1
            } else {
                at
            };
            let n = digits_at(t, at);
            (1..=3).contains(&n) && at + n == t.len()
        };
        if done >= 1 && tail_ok(at) {
            return true;
        }
        if done == 6 {
            return false;
        }
        let mut starts = vec![at];
        if matches!(t.get(at), Some(b'.' | b':' | b'-')) {
            starts.insert(0, at + 1);
        }
        starts.into_iter().any(|s| {
            t.get(s..s + 2)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
                && groups(t, s + 2, done + 1)
        })
    }
    t.len() >= 4 && t[..4].iter().all(u8::is_ascii_digit) && groups(t, 4, 0)
}

/// `^v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?MODIFIER$`: the padded version and the modifier.
fn classical(s: &str) -> Option<(String, Modifier<'_>)> {
    let b = s.as_bytes();
    let mut at = usize::from(matches!(b.first(), Some(b'v' | b'V')));
    let n = digits_at(b, at);
    if n == 0 || n > 5 {
        return None;
    }
    let mut out = s[at..at + n].to_owned();
    at += n;
    let mut parts = 1;
    while parts < 4 && b.get(at) == Some(&b'.') && digits_at(b, at + 1) > 0 {
        let n = digits_at(b, at + 1);
        out.push_str(&s[at..at + 1 + n]);
        at += 1 + n;
        parts += 1;
    }
    for _ in parts..4 {
        out.push_str(".0");
    }
    Some((out, modifier(&s[at..])?))
}

/// `^v?(DATE)MODIFIER$`: the date with non-digits turned into `.`, and the modifier.
fn date(s: &str) -> Option<(String, Modifier<'_>)> {
    let b = s.as_bytes();
    let start = usize::from(matches!(b.first(), Some(b'v' | b'V')));
    // The date part ends after a digit; the modifier cannot start with a digit, so try the
    // ends of digit runs, longest first.
    (start + 4..=b.len())
        .rev()
        .filter(|&e| b[e - 1].is_ascii_digit() && !b.get(e).is_some_and(u8::is_ascii_digit))
        .find_map(|e| {
            if !is_date_version(&b[start..e]) {
                return None;
            }
            let m = modifier(&s[e..])?;
            let d: String = s[start..e]
                .chars()
                .map(|c| if c.is_ascii_digit() { c } else { '.' })
                .collect();
            Some((d, m))
        })
}

/// `VersionParser::normalizeBranch`: `1.x`, `v2.3.*` → `1.9999999.9999999.9999999-dev`;
/// `None` for a non-numeric branch (which `normalize` rejects unless it starts with `dev-`).
fn normalize_numeric_branch(name: &str) -> Option<String> {
    let name = name.trim_matches(is_php_trim);
    let b = name.as_bytes();
    let mut at = usize::from(matches!(b.first(), Some(b'v' | b'V')));
    let n = digits_at(b, at);
    if n == 0 {
        return None;
    }
    let mut out = name[at..at + n].to_owned();
    at += n;
    let mut parts = 1;
    while parts < 4 && b.get(at) == Some(&b'.') {
        let n = digits_at(b, at + 1);
        if n > 0 {
            out.push_str(&name[at..at + 1 + n]);
            at += 1 + n;
        } else if matches!(b.get(at + 1), Some(b'x' | b'X' | b'*')) {
            out.push_str(".x");
            at += 2;
        } else {
            break;
        }
        parts += 1;
    }
    if at != b.len() {
        return None;
    }
    for _ in parts..4 {
        out.push_str(".x");
    }
    Some(out.replace('x', "9999999") + "-dev")
}

/// `VersionParser::normalize`, or why it throws.
pub(crate) fn normalize(input: &str) -> Result<String, &'static str> {
    let v = input.trim_matches(is_php_trim);
    let v = strip_alias(v);
    let v = strip_stability_flag(v);
    let v = match v {
        "master" | "trunk" | "default" => return Ok(format!("dev-{v}")),
        _ => v,
    };
    if v.len() >= 4 && v.is_char_boundary(4) && v[..4].eq_ignore_ascii_case("dev-") {
        return Ok(format!("dev-{}", &v[4..]));
    }
    // `^([^,\s+]++)\+[^\s]++$`
    let v = match v.split_once('+') {
        Some((head, tail))
            if !head.is_empty()
                && !head.contains(|c: char| c == ',' || is_pcre_space(c))
                && !tail.is_empty()
                && !tail.contains(is_pcre_space) =>
        {
            head
        }
        _ => v,
    };
    if let Some((mut out, m)) = classical(v).or_else(|| date(v)) {
        if let Some(word) = m.word {
            if word == "stable" {
                return Ok(out);
            }
            out.push('-');
            out.push_str(&expand_stability(word));
            out.push_str(m.number.trim_start_matches(['.', '-']));
        }
        if m.dev {
            out.push_str("-dev");
        }
        return Ok(out);
    }
    // `(.*?)[.-]?dev$` (case-insensitive; `.` stops at a newline), then a numeric branch.
    let line = v.rsplit('\n').next().unwrap_or_default();
    let lb = line.as_bytes();
    if lb.len() >= 3 && lb[lb.len() - 3..].eq_ignore_ascii_case(b"dev") {
        let mut head = &line[..line.len() - 3];
        if head.ends_with(['.', '-']) {
            head = &head[..head.len() - 1];
        }
        if let Some(n) = normalize_numeric_branch(head) {
            return Ok(n);
        }
    }
    Err(
        "not a Composer version (expected v?N[.N[.N[.N]]][-stability[N]][-dev], a date \
         version, N.x-dev or dev-BRANCH)",
    )
}

/// PHP's `php_canonicalize_version`.
fn canonicalize(v: &str) -> Vec<u8> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len() * 2);
    let Some(&first) = b.first() else {
        return out;
    };
    out.push(first);
    let isdig = |c: u8| c.is_ascii_digit();
    let isndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    let mut lp = first;
    for &c in &b[1..] {
        let lq = out.last().copied().unwrap_or(0);
        if matches!(c, b'-' | b'_' | b'+') {
            if lq != b'.' {
                out.push(b'.');
            }
        } else if (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)) {
            if lq != b'.' {
                out.push(b'.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() {
            if lq != b'.' {
                out.push(b'.');
            }
        } else {
            out.push(c);
        }
        lp = c;
    }
    out
}

/// PHP's `compare_special_version_forms` rank of a part (prefix match, first in list wins).
fn special_rank(form: &[u8]) -> i32 {
    const FORMS: [(&[u8], i32); 10] = [
        (b"dev", 0),
        (b"alpha", 1),
        (b"a", 1),
        (b"beta", 2),
        (b"b", 2),
        (b"RC", 3),
        (b"rc", 3),
        (b"#", 4),
        (b"pl", 5),
        (b"p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name))
        .map_or(-1, |(_, rank)| *rank)
}

/// PHP's `strtol` on a part that starts with a digit (saturates at `i64::MAX`).
fn strtol(part: &[u8]) -> i64 {
    part.iter()
        .take_while(|c| c.is_ascii_digit())
        .try_fold(0i64, |n, d| {
            n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
        .unwrap_or(i64::MAX)
}

const NUMBER_MARK: &[u8] = b"#N#";

/// PHP's `php_version_compare` (`version_compare($a, $b)` without an operator).
pub(crate) fn php_version_compare(a: &[u8], b: &[u8]) -> Ordering {
    if a.is_empty() || b.is_empty() {
        return (!a.is_empty()).cmp(&!b.is_empty());
    }
    let ca = if a[0] == b'#' {
        a.to_vec()
    } else {
        canonicalize(std::str::from_utf8(a).unwrap_or_default())
    };
    let cb = if b[0] == b'#' {
        b.to_vec()
    } else {
        canonicalize(std::str::from_utf8(b).unwrap_or_default())
    };
    let (mut p1, mut p2) = (0usize, 0usize);
    let (mut more1, mut more2) = (true, true);
    let mut compare = Ordering::Equal;
    let part = |s: &[u8], at: usize| -> (usize, bool) {
        match s[at..].iter().position(|&c| c == b'.') {
            Some(i) => (at + i, true),
            None => (s.len(), false),
        }
    };
    while p1 < ca.len() && p2 < cb.len() && more1 && more2 {
        let (e1, m1) = part(&ca, p1);
        let (e2, m2) = part(&cb, p2);
        more1 = m1;
        more2 = m2;
        let (x, y) = (&ca[p1..e1], &cb[p2..e2]);
        let (dx, dy) = (
            x.first().is_some_and(u8::is_ascii_digit),
            y.first().is_some_and(u8::is_ascii_digit),
        );
        compare = match (dx, dy) {
            (true, true) => strtol(x).cmp(&strtol(y)),
            (false, false) => special_rank(x).cmp(&special_rank(y)),
            (true, false) => special_rank(NUMBER_MARK).cmp(&special_rank(y)),
            (false, true) => special_rank(x).cmp(&special_rank(NUMBER_MARK)),
        };
        if compare.is_ne() {
            break;
        }
        if more1 {
            p1 = e1 + 1;
        }
        if more2 {
            p2 = e2 + 1;
        }
    }
    if compare.is_eq() {
        if more1 {
            compare = if ca.get(p1).is_some_and(u8::is_ascii_digit) {
                Ordering::Greater
            } else {
                php_version_compare(&ca[p1..], NUMBER_MARK)
            };
        } else if more2 {
            compare = if cb.get(p2).is_some_and(u8::is_ascii_digit) {
                Ordering::Less
            } else {
                php_version_compare(NUMBER_MARK, &cb[p2..])
            };
        }
    }
    compare
}

impl ComposerVersion {
    /// Parses (normalises) a version as `VersionParser::normalize` does.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::new(Format::Composer, input, "version is empty"));
        }
        let normalized =
            normalize(input).map_err(|r| ParseError::new(Format::Composer, input, r))?;
        Ok(Self {
            raw: input.to_owned(),
            normalized,
        })
    }

    /// The normalised form (`1.2.0.0`, `1.0.0.0-RC1`, `dev-main`).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// True for a branch (`dev-…`), which constraints only match by name.
    pub fn is_branch(&self) -> bool {
        self.normalized.starts_with("dev-")
    }
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.is_branch(), other.is_branch()) {
            (true, true) => self.normalized.cmp(&other.normalized),
            _ => php_version_compare(self.normalized.as_bytes(), other.normalized.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &str) -> String {
        normalize(v).unwrap_or_else(|e| panic!("{v:?}: {e}"))
    }

    #[test]
    fn normalize_like_version_parser() {
        for (input, want) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("v1.0", "1.0.0.0"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("v1.13.11-beta.0", "1.13.11.0-beta0"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("2010.01", "2010.01.0.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010-01-02", "2010.01.02"),
            ("2010-01-02.5", "2010.01.02.5"),
            ("20100102-203040", "20100102.203040"),
            ("20100102203040-10", "20100102203040.10"),
            ("20100102-203040-p1", "20100102.203040-patch1"),
            ("201903.0", "201903.0"),
            ("201903.0-p2", "201903.0-patch2"),
            ("dev-master", "dev-master"),
            ("master", "dev-master"),
            ("dev-trunk", "dev-trunk"),
            ("1.x-dev", "1.9999999.9999999.9999999-dev"),
            ("dev-feature-foo", "dev-feature-foo"),
            ("DEV-FOOBAR", "dev-FOOBAR"),
            ("dev-feature/foo", "dev-feature/foo"),
            ("dev-feature+issue-1", "dev-feature+issue-1"),
            ("dev-master as 1.0.0", "dev-master"),
            (
                "dev-load-varnish-only-when-used as ^2.0",
                "dev-load-varnish-only-when-used",
            ),
            (
                "dev-load-varnish-only-when-used@dev as ^2.0@dev",
                "dev-load-varnish-only-when-used",
            ),
            ("1.0.0+foo", "1.0.0.0"),
            ("1.0.0-alpha.3.1+foo", "1.0.0.0-alpha3.1"),
            ("1.0.0-alpha2.1+foo", "1.0.0.0-alpha2.1"),
            ("1.0.0-alpha-2.1-3+foo", "1.0.0.0-alpha2.1-3"),
            ("1.0.0+foo as 2.0", "1.0.0.0"),
            ("00.01.03.04", "00.01.03.04"),
            ("000.001.003.004", "000.001.003.004"),
            ("0.000.103.204", "0.000.103.204"),
            ("0700", "0700.0.0.0"),
            ("041.x-dev", "041.9999999.9999999.9999999-dev"),
            ("dev-041.003", "dev-041.003"),
            ("dev-1.0.0-dev<1.0.5-dev", "dev-1.0.0-dev<1.0.5-dev"),
            ("dev-foo bar", "dev-foo bar"),
            ("1.0-stable", "1.0.0.0"),
            ("1.0-STABLE", "1.0.0.0-stable"),
            ("1.0-", "1.0.0.0"),
        ] {
            assert_eq!(n(input), want, "{input:?}");
        }
        for bad in [
            "",
            "a",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-foo",
            "1.0 .2",
            "^",
            "1.0.0+foo bar",
            "1.0.0-SNAPSHOT",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert_eq!(n("123456"), "123456", "a date version");
    }

    #[test]
    fn order_like_version_compare() {
        let order = [
            "dev-a",
            "dev-master",
            "1.0-STABLE",
            "1.0-dev",
            "1.0-alpha1",
            "1.0-beta",
            "1.0-RC1",
            "1.0",
            "1.0-patch1",
            "1.0.0.1",
            "1.1-dev",
        ];
        for w in order.windows(2) {
            assert_eq!(
                Format::Composer.compare(w[0], w[1]),
                Ok(Ordering::Less),
                "{w:?}"
            );
        }
        assert_eq!(
            Format::Composer.compare("v1.0", "1.0.0.0"),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            php_version_compare(b"99999999999999999999", b"99999999999999999998"),
            Ordering::Equal,
            "strtol saturates"
        );
    }
}
