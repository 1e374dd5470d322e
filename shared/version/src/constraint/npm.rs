//! npm ranges as node-semver 7 (`new Range(text)`, default options: not loose, no
//! `includePrerelease`) reads and tests them.
//!
//! node-semver does not parse a range with a grammar: it rewrites the text in stages and only
//! then reads the result as a list of comparators. Which inputs are accepted, and what odd ones
//! mean, follows from that order, so this module performs the same stages on the same text:
//!
//! 1. trim, collapse every run of whitespace to one space, split at `||`;
//! 2. per alternative: trim, delete every `+build`, rewrite a whole-alternative hyphen range
//!    (`A - B`), join operators to their versions (`> 1` → `>1`), `~ `/`~> ` → `~`, `^ ` → `^`;
//! 3. per space-separated token: caret, tilde, x-range and `*` rewrites into plain comparators
//!    (`^1.2` → `>=1.2.0 <2.0.0-0`, `<=1.x` → `<2.0.0-0`, `>x` → `<0.0.0-0`, `*` → any),
//!    `>=0.0.0` → any;
//! 4. each result must be `[<|>][=]` plus a full version (`v` allowed) or empty (any); anything
//!    else makes the whole range invalid. Duplicates merge, a `<0.0.0-0` (nothing) wins its
//!    alternative, a lone any beside others is dropped; if several alternatives remain and one
//!    is exactly any, it replaces the whole range.
//!
//! A version matches when some alternative's comparators all hold and, if the version is a
//! pre-release, some comparator of that alternative has a pre-release on the same
//! `major.minor.patch` (so `1.2.4-rc.1` is not in `^1.2.3`, and not in `*`).

use crate::semver::SemverVersion;

/// node-semver's `MAX_LENGTH` and `MAX_SAFE_BUILD_LENGTH`, the caps of its "safe" regexes.
const MAX_LENGTH: usize = 256;
const MAX_SAFE_BUILD_LENGTH: usize = MAX_LENGTH - 6;

#[derive(Debug, Clone)]
pub(crate) struct Range {
    sets: Vec<Vec<Comparator>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    /// `None` is node-semver's `ANY` (the empty comparator).
    version: Option<SemverVersion>,
    /// node-semver's `value`: operator (`=` dropped) plus the version without `v` and build.
    value: String,
}

const NULL_SET: &str = "<0.0.0-0";

impl Comparator {
    /// node-semver's `COMPARATOR` regex: `^((?:<|>)?=?)\s*(FULLPLAIN)$|^$`.
    fn parse(comp: &str) -> Result<Self, String> {
        if comp.is_empty() {
            return Ok(Self {
                op: Op::Eq,
                version: None,
                value: String::new(),
            });
        }
        let (op, rest) = if let Some(r) = comp.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = comp.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = comp.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = comp.strip_prefix('>') {
            (Op::Gt, r)
        } else if let Some(r) = comp.strip_prefix('=') {
            (Op::Eq, r)
        } else {
            (Op::Eq, comp)
        };
        let bad = || format!("comparator {comp:?} is not an operator and a full version");
        if rest.starts_with(|c: char| c != 'v' && !c.is_ascii_digit()) {
            return Err(bad());
        }
        let version = SemverVersion::parse(rest).map_err(|_| bad())?;
        let plain = rest.strip_prefix('v').unwrap_or(rest);
        let plain = plain.split_once('+').map_or(plain, |(p, _)| p);
        let op_text = match op {
            Op::Eq => "",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        };
        Ok(Self {
            op,
            version: Some(version),
            value: format!("{op_text}{plain}"),
        })
    }

    fn test(&self, v: &SemverVersion) -> bool {
        let Some(own) = &self.version else {
            return true;
        };
        let ord = v.cmp(own);
        match self.op {
            Op::Eq => ord.is_eq(),
            Op::Lt => ord.is_lt(),
            Op::Le => ord.is_le(),
            Op::Gt => ord.is_gt(),
            Op::Ge => ord.is_ge(),
        }
    }
}

impl Range {
    pub(crate) fn parse(input: &str) -> Result<Self, String> {
        let raw = collapse_whitespace(input);
        let mut sets = raw
            .split("||")
            .map(|alt| parse_alternative(alt.trim_matches(' ')))
            .collect::<Result<Vec<_>, _>>()?;
        if sets.len() > 1 {
            let first = sets[0].clone();
            sets.retain(|c| c[0].value != NULL_SET);
            if sets.is_empty() {
                sets = vec![first];
            } else if sets.len() > 1
                && let Some(any) = sets.iter().find(|c| c.len() == 1 && c[0].value.is_empty())
            {
                sets = vec![any.clone()];
            }
        }
        Ok(Self { sets })
    }

    pub(crate) fn matches(&self, v: &SemverVersion) -> bool {
        self.sets.iter().any(|set| {
            set.iter().all(|c| c.test(v))
                && (!v.is_prerelease()
                    || set.iter().any(|c| {
                        c.version
                            .as_ref()
                            .is_some_and(|a| a.is_prerelease() && a.same_release(v))
                    }))
        })
    }
}

/// JavaScript's `\s` (what `trim()` and `/\s+/` treat as whitespace).
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `range.trim().replace(/\s+/g, ' ')`. Afterwards the only whitespace is a single space.
fn collapse_whitespace(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending = false;
    for c in input.trim_matches(is_js_space).chars() {
        if is_js_space(c) {
            pending = true;
        } else {
            if pending {
                out.push(' ');
                pending = false;
            }
            out.push(c);
        }
    }
    out
}

/// `s.split(/\s+/)` on text whose only whitespace is spaces.
fn split_ws(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            out.push(&s[start..i]);
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_alternative(alt: &str) -> Result<Vec<Comparator>, String> {
    let alt = strip_builds(alt, true);
    let alt = hyphen_replace(&alt).unwrap_or(alt);
    let alt = trim_comparator_whitespace(&alt);
    let alt = trim_after(&alt, b'~');
    let alt = trim_after(&alt, b'^');
    let rewritten: Vec<String> = alt.split(' ').map(parse_comparator).collect();
    let joined = rewritten.join(" ");
    let comparators = split_ws(&joined)
        .into_iter()
        .map(|c| {
            let c = c.trim_matches(' ');
            Comparator::parse(if c == ">=0.0.0" { "" } else { c })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<Comparator> = Vec::new();
    for c in comparators {
        if c.value == NULL_SET {
            return Ok(vec![c]);
        }
        if !out.iter().any(|o| o.value == c.value) {
            out.push(c);
        }
    }
    if out.len() > 1 {
        out.retain(|c| !c.value.is_empty());
    }
    Ok(out)
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Deletes `+ident(.ident)*` (node-semver's `BUILD` regex): every match, or the first only.
fn strip_builds(s: &str, all: bool) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut copy) = (0, 0);
    let mut done = false;
    while i < b.len() {
        if !done && b[i] == b'+' {
            let end = build_end(b, i);
            if end != i {
                out.push_str(&s[copy..i]);
                copy = end;
                i = end;
                done = !all;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[copy..]);
    out
}

/// The end of `+ident(.ident)*` starting at `start`, or `start` when there is none.
fn build_end(b: &[u8], start: usize) -> usize {
    if b.get(start) != Some(&b'+') {
        return start;
    }
    let ident_end = |from: usize| {
        let mut e = from;
        while e - from < MAX_SAFE_BUILD_LENGTH && b.get(e).is_some_and(|&c| is_ident(c)) {
            e += 1;
        }
        e
    };
    let mut end = ident_end(start + 1);
    if end == start + 1 {
        return start;
    }
    while b.get(end) == Some(&b'.') {
        let next = ident_end(end + 1);
        if next == end + 1 {
            break;
        }
        end = next;
    }
    end
}

/// The parts of an `XRANGEPLAIN` match: `[v=\s]*` then `M(.m(.p(-pre)?(+build)?)?)?`, each of
/// M/m/p a number without leading zero or `x`/`X`/`*`.
struct XParts<'a> {
    major: &'a str,
    minor: Option<&'a str>,
    patch: Option<&'a str>,
    pre: Option<&'a str>,
}

fn is_x(part: Option<&str>) -> bool {
    matches!(part, None | Some("" | "x" | "X" | "*"))
}

/// One `XRANGEIDENTIFIER` at the start of `s`: its length.
fn xid_len(s: &[u8]) -> Option<usize> {
    match s.first()? {
        b'x' | b'X' | b'*' | b'0' => Some(1),
        b'1'..=b'9' => Some(1 + s[1..].iter().take_while(|c| c.is_ascii_digit()).count()),
        _ => None,
    }
}

/// Whether `s` is node-semver's strict `PRERELEASE` body (dot-separated identifiers; numeric
/// ones without leading zeros).
fn is_strict_pre(s: &str) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(is_ident)
            && (!id.bytes().all(|c| c.is_ascii_digit()) || id == "0" || !id.starts_with('0'))
    })
}

fn is_build_body(s: &str) -> bool {
    s.split('.')
        .all(|id| !id.is_empty() && id.bytes().all(is_ident))
}

/// Anchored `XRANGEPLAIN` on all of `s`.
fn xrange_plain(s: &str) -> Option<XParts<'_>> {
    let s = s.trim_start_matches(['v', '=', ' ']);
    let b = s.as_bytes();
    let l1 = xid_len(b)?;
    let major = &s[..l1];
    if l1 == b.len() {
        return Some(XParts {
            major,
            minor: None,
            patch: None,
            pre: None,
        });
    }
    if b[l1] != b'.' {
        return None;
    }
    let at = l1 + 1;
    let l2 = xid_len(&b[at..])?;
    let minor = &s[at..at + l2];
    let at = at + l2;
    if at == b.len() {
        return Some(XParts {
            major,
            minor: Some(minor),
            patch: None,
            pre: None,
        });
    }
    if b[at] != b'.' {
        return None;
    }
    let at = at + 1;
    let l3 = xid_len(&b[at..])?;
    let patch = &s[at..at + l3];
    let rest = &s[at + l3..];
    let (rest, build) = match rest.split_once('+') {
        Some((r, bld)) => (r, Some(bld)),
        None => (rest, None),
    };
    if build.is_some_and(|bld| !is_build_body(bld)) {
        return None;
    }
    let pre = match rest {
        "" => None,
        _ => {
            let p = rest.strip_prefix('-')?;
            if !is_strict_pre(p) {
                return None;
            }
            Some(p)
        }
    };
    Some(XParts {
        major,
        minor: Some(minor),
        patch: Some(patch),
        pre,
    })
}

/// A decimal string plus one (node-semver's `+M + 1`, here exact at any length).
fn plus_one(s: &str) -> String {
    let mut d: Vec<u8> = s.bytes().collect();
    let mut i = d.len();
    loop {
        if i == 0 {
            d.insert(0, b'1');
            break;
        }
        i -= 1;
        if d[i] == b'9' {
            d[i] = b'0';
        } else {
            d[i] += 1;
            break;
        }
    }
    String::from_utf8(d).expect("digits")
}

/// The whole-alternative hyphen range (`HYPHENRANGE`): `A - B`, or `None` when it is not one.
fn hyphen_replace(alt: &str) -> Option<String> {
    let mut search = 0;
    while let Some(off) = alt[search..].find(" - ") {
        let i = search + off;
        search = i + 1;
        let (from_text, to_text) = (&alt[..i], &alt[i + 3..]);
        let (Some(f), Some(t)) = (xrange_plain(from_text), xrange_plain(to_text)) else {
            continue;
        };
        let from = if is_x(Some(f.major)) {
            String::new()
        } else if is_x(f.minor) {
            format!(">={}.0.0", f.major)
        } else if is_x(f.patch) {
            format!(">={}.{}.0", f.major, f.minor.unwrap_or_default())
        } else {
            format!(">={from_text}")
        };
        let to = if is_x(Some(t.major)) {
            String::new()
        } else if is_x(t.minor) {
            format!("<{}.0.0-0", plus_one(t.major))
        } else if is_x(t.patch) {
            format!("<{}.{}.0-0", t.major, plus_one(t.minor.unwrap_or_default()))
        } else if let Some(pre) = t.pre {
            format!(
                "<={}.{}.{}-{pre}",
                t.major,
                t.minor.unwrap_or_default(),
                t.patch.unwrap_or_default()
            )
        } else {
            format!("<={to_text}")
        };
        return Some(format!("{from} {to}").trim_matches(' ').to_owned());
    }
    None
}

/// `~ `/`~> ` → `~` (`TILDETRIM`) or `^ ` → `^` (`CARETTRIM`).
fn trim_after(s: &str, mark: u8) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut copy) = (0, 0);
    while i < b.len() {
        if b[i] == mark {
            let skip = if mark == b'~' && b.get(i + 1) == Some(&b'>') && b.get(i + 2) == Some(&b' ')
            {
                2
            } else if b.get(i + 1) == Some(&b' ') {
                1
            } else {
                0
            };
            if skip > 0 {
                out.push_str(&s[copy..=i]);
                i += 1 + skip;
                copy = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[copy..]);
    out
}

// --- node-semver's trimComparatorWhitespace (the COMPARATORTRIM replacement) ---------------

fn is_prefix(c: Option<u8>) -> bool {
    matches!(c, Some(b'v' | b'=' | b' '))
}

fn is_version_start(c: Option<u8>) -> bool {
    matches!(c, Some(b'0'..=b'9' | b'x' | b'X' | b'*'))
}

fn digits_end(b: &[u8], start: usize, limit: usize) -> usize {
    let mut end = start;
    while b.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    end.min(start + limit)
}

fn number_end(b: &[u8], start: usize, loose: bool) -> usize {
    if !loose && b.get(start) == Some(&b'0') {
        return start + 1;
    }
    digits_end(b, start, if loose { MAX_LENGTH } else { MAX_LENGTH + 1 })
}

fn pre_ident_end(b: &[u8], start: usize, loose: bool) -> usize {
    let d = digits_end(b, start, MAX_LENGTH);
    if b.get(d)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'-')
    {
        let mut end = d + 1;
        let limit = end + MAX_SAFE_BUILD_LENGTH;
        while end < limit && b.get(end).is_some_and(|&c| is_ident(c)) {
            end += 1;
        }
        return end;
    }
    number_end(b, start, loose)
}

fn pre_end(b: &[u8], start: usize, loose: bool) -> usize {
    let hyphen = b.get(start) == Some(&b'-');
    if !loose && !hyphen {
        return start;
    }
    let id_start = start + usize::from(hyphen);
    let mut end = pre_ident_end(b, id_start, loose);
    if end == id_start {
        if !loose || !hyphen {
            return start;
        }
        end = pre_ident_end(b, start, loose);
    }
    while b.get(end) == Some(&b'.') {
        let next = pre_ident_end(b, end + 1, loose);
        if next == end + 1 {
            break;
        }
        end = next;
    }
    end
}

fn loose_full_end(b: &[u8], start: usize) -> usize {
    let mut end = start;
    for component in 0..3 {
        let next = number_end(b, end, true);
        if next == end {
            return start;
        }
        end = next;
        if component < 2 {
            if b.get(end) != Some(&b'.') {
                return start;
            }
            end += 1;
        }
    }
    build_end(b, pre_end(b, end, true))
}

fn partial_component_end(b: &[u8], start: usize) -> usize {
    match b.get(start) {
        Some(c) if c.is_ascii_digit() => number_end(b, start, false),
        c if is_version_start(c.copied()) => start + 1,
        _ => start,
    }
}

fn partial_end(b: &[u8], start: usize) -> usize {
    let mut end = partial_component_end(b, start);
    for _ in 0..2 {
        if b.get(end) != Some(&b'.') {
            return end;
        }
        let next = partial_component_end(b, end + 1);
        if next == end + 1 {
            return end;
        }
        end = next;
    }
    build_end(b, pre_end(b, end, false))
}

fn version_end(b: &[u8], start: usize) -> usize {
    let full = loose_full_end(b, start);
    if full != start {
        full
    } else {
        partial_end(b, start)
    }
}

fn removable_space(b: &[u8], match_start: usize) -> Option<usize> {
    let mut p = match_start;
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    if matches!(b.get(p), Some(b'<' | b'>')) {
        p += 1;
    }
    if b.get(p) == Some(&b'=') {
        p += 1;
    }
    (b.get(p) == Some(&b' ')).then_some(p)
}

/// Joins an operator to its version (`> 1.2.3` → `>1.2.3`), exactly where node-semver's
/// `COMPARATORTRIM` replacement does.
fn trim_comparator_whitespace(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut copy, mut cursor) = (0, 0);
    while cursor < b.len() {
        let match_start = cursor;
        if matches!(b[cursor], b'<' | b'>') {
            cursor += 1;
        } else if !is_prefix(Some(b[cursor])) && !is_version_start(Some(b[cursor])) {
            cursor += 1;
            continue;
        }
        while cursor < b.len() && is_prefix(Some(b[cursor])) {
            cursor += 1;
        }
        if !is_version_start(b.get(cursor).copied()) {
            continue;
        }
        if let Some(ws) = removable_space(b, match_start) {
            out.push_str(&s[copy..ws]);
            copy = ws + 1;
        }
        cursor = version_end(b, cursor);
    }
    out.push_str(&s[copy..]);
    out
}

// --- parseComparator: caret, tilde, x-range, star ------------------------------------------

fn parse_comparator(comp: &str) -> String {
    let comp = strip_builds(comp, false);
    let comp = map_tokens(comp.trim_matches(' '), replace_caret);
    let comp = map_tokens(comp.trim_matches(' '), replace_tilde);
    let comp = map_tokens(&comp, replace_xrange);
    replace_star(comp.trim_matches(' '))
}

fn map_tokens(s: &str, f: fn(&str) -> String) -> String {
    split_ws(s).into_iter().map(f).collect::<Vec<_>>().join(" ")
}

fn replace_caret(comp: &str) -> String {
    let Some(x) = comp.strip_prefix('^').and_then(xrange_plain) else {
        return comp.to_owned();
    };
    let (mj, mn, pt) = (
        x.major,
        x.minor.unwrap_or_default(),
        x.patch.unwrap_or_default(),
    );
    if is_x(Some(mj)) {
        String::new()
    } else if is_x(x.minor) {
        format!(">={mj}.0.0 <{}.0.0-0", plus_one(mj))
    } else if is_x(x.patch) {
        if mj == "0" {
            format!(">={mj}.{mn}.0 <{mj}.{}.0-0", plus_one(mn))
        } else {
            format!(">={mj}.{mn}.0 <{}.0.0-0", plus_one(mj))
        }
    } else {
        let low = match x.pre {
            Some(pre) => format!(">={mj}.{mn}.{pt}-{pre}"),
            None => format!(">={mj}.{mn}.{pt}"),
        };
        if mj == "0" {
            if mn == "0" {
                format!("{low} <{mj}.{mn}.{}-0", plus_one(pt))
            } else {
                format!("{low} <{mj}.{}.0-0", plus_one(mn))
            }
        } else {
            format!("{low} <{}.0.0-0", plus_one(mj))
        }
    }
}

fn replace_tilde(comp: &str) -> String {
    let Some(x) = comp
        .strip_prefix("~>")
        .and_then(xrange_plain)
        .or_else(|| comp.strip_prefix('~').and_then(xrange_plain))
    else {
        return comp.to_owned();
    };
    let (mj, mn, pt) = (
        x.major,
        x.minor.unwrap_or_default(),
        x.patch.unwrap_or_default(),
    );
    if is_x(Some(mj)) {
        String::new()
    } else if is_x(x.minor) {
        format!(">={mj}.0.0 <{}.0.0-0", plus_one(mj))
    } else if is_x(x.patch) {
        format!(">={mj}.{mn}.0 <{mj}.{}.0-0", plus_one(mn))
    } else if let Some(pre) = x.pre {
        format!(">={mj}.{mn}.{pt}-{pre} <{mj}.{}.0-0", plus_one(mn))
    } else {
        format!(">={mj}.{mn}.{pt} <{mj}.{}.0-0", plus_one(mn))
    }
}

fn replace_xrange(comp: &str) -> String {
    let comp = comp.trim_matches(' ');
    let gtlt_len = match comp.as_bytes() {
        [b'<' | b'>', b'=', ..] => 2,
        [b'<' | b'>' | b'=', ..] => 1,
        _ => 0,
    };
    let mut gtlt = &comp[..gtlt_len];
    let Some(x) = xrange_plain(&comp[gtlt_len..]) else {
        return comp.to_owned();
    };
    let (xm_major, xm_minor, xm_patch) = (is_x(Some(x.major)), is_x(x.minor), is_x(x.patch));
    if (xm_major && !xm_minor) || (xm_minor && x.patch.is_some() && !xm_patch) {
        return comp.to_owned();
    }
    let xm = xm_major || xm_minor;
    let any_x = xm || xm_patch;
    if gtlt == "=" && any_x {
        gtlt = "";
    }
    let mj = x.major;
    let mn = x.minor.unwrap_or_default();
    if xm_major {
        if gtlt == ">" || gtlt == "<" {
            NULL_SET.to_owned()
        } else {
            "*".to_owned()
        }
    } else if !gtlt.is_empty() && any_x {
        let (mut mj, mut mn) = (
            mj.to_owned(),
            if xm { "0".to_owned() } else { mn.to_owned() },
        );
        let mut op = gtlt;
        if gtlt == ">" {
            op = ">=";
            if xm {
                mj = plus_one(&mj);
                mn = "0".to_owned();
            } else {
                mn = plus_one(&mn);
            }
        } else if gtlt == "<=" {
            op = "<";
            if xm {
                mj = plus_one(&mj);
            } else {
                mn = plus_one(&mn);
            }
        }
        let pr = if op == "<" { "-0" } else { "" };
        format!("{op}{mj}.{mn}.0{pr}")
    } else if xm {
        format!(">={mj}.0.0 <{}.0.0-0", plus_one(mj))
    } else if xm_patch {
        format!(">={mj}.{mn}.0 <{mj}.{}.0-0", plus_one(mn))
    } else {
        comp.to_owned()
    }
}

/// Deletes the first `(<|>)?=?\s*\*` (`STAR`).
fn replace_star(comp: &str) -> String {
    let b = comp.as_bytes();
    for start in 0..b.len() {
        let mut options = Vec::with_capacity(4);
        let after_gt = if matches!(b[start], b'<' | b'>') {
            vec![start + 1, start]
        } else {
            vec![start]
        };
        for p in after_gt {
            if b.get(p) == Some(&b'=') {
                options.push(p + 1);
            }
            options.push(p);
        }
        for mut p in options {
            if b.get(p) == Some(&b' ') {
                p += 1;
            }
            if b.get(p) == Some(&b'*') {
                return format!("{}{}", &comp[..start], &comp[p + 1..]);
            }
        }
    }
    comp.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sat(range: &str, v: &str) -> bool {
        Range::parse(range)
            .unwrap()
            .matches(&SemverVersion::parse(v).unwrap())
    }

    #[test]
    fn node_semver_examples() {
        assert!(sat("^1.2.3", "1.9.0"));
        assert!(!sat("^1.2.3", "2.0.0-0"));
        assert!(!sat("^0.0.3", "0.0.4"));
        assert!(sat("~1.2", "1.2.9"));
        assert!(sat("1.2.3 - 2.3", "2.3.9"));
        assert!(!sat("1.2.3 - 2.3.4", "2.3.5"));
        assert!(sat(">=1.2.3-beta <2", "1.2.3-rc.1"));
        assert!(!sat(">=1.2.3-beta <2", "1.2.4-rc.1"));
        assert!(!sat("*", "1.0.0-rc.1"));
        assert!(!sat("* || >=1.0.0-rc.0", "1.0.0-rc.1"));
        assert!(sat("<=1.x", "1.99.0"));
        assert!(!sat(">1.x", "1.99.0"));
        assert!(sat("> 1 || ~ 0.1", "0.1.5"));
        assert!(Range::parse("1.x.3").is_err());
        assert!(Range::parse("latest").is_err());
        assert!(Range::parse("").is_ok());
    }
}
