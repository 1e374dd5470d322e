//! Composer constraints, parsed as composer/semver 3.x `VersionParser::parseConstraints` and
//! matched as `Semver::satisfies` (reference run: composer/semver 3.3.2, PHP 8.2).
//!
//! - OR: `||` or `|`; AND: a space or a comma between constraints (not around `-`, `as`, or
//!   after an operator);
//! - `*`, `x` → any version (branches too); `v*`, `x.x` → `>= 0.0.0.0-dev`;
//! - `~1.2` → `>=1.2.0.0-dev <2.0.0.0-dev`, `~1.2.3` → `<1.3.0.0-dev` (the last given part
//!   may change); `^1.2.3` → `<2.0.0.0-dev`, `^0.3` → `<0.4.0.0-dev`, `^0.0.3` →
//!   `<0.0.4.0-dev`; without a stability suffix the lower bound takes `-dev`;
//! - `1.2.*` / `1.2.x` → `>=1.2.0.0-dev <1.3.0.0-dev`;
//! - `1.0 - 2.0` → `>=1.0.0.0-dev <2.1.0.0-dev` (a partial upper bound is a prefix), `<=` when
//!   the upper bound is complete or has a stability;
//! - `<`, `<=`, `>`, `>=`, `=`, `==`, `!=`, `<>` then a version; `<V` and `>=V` take `-dev`
//!   unless `V` has a stability suffix; `@beta`-style flags become the suffix of a stable
//!   version for operators other than `=`;
//! - versions are normalised (see [`ComposerVersion`]) and compared with PHP's
//!   `version_compare`; a branch (`dev-main`) matches only `=`/`!=` by name and `*`.

use crate::ComposerVersion;
use crate::composer::{
    Modifier, digits_at, is_pcre_space, modifier_candidates, normalize, php_version_compare,
    strip_alias,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
enum Node {
    Any,
    Atom(Op, String),
    All(Vec<Node>),
    AnyOf(Vec<Node>),
}

#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    root: Node,
}

impl Constraint {
    pub(crate) fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0b'));
        let mut groups = Vec::new();
        for or in split_or(trimmed) {
            let ands = split_and(or);
            let mut atoms = Vec::new();
            for and in ands {
                atoms.extend(parse_one(and)?);
            }
            groups.push(if atoms.len() == 1 {
                atoms.remove(0)
            } else {
                Node::All(atoms)
            });
        }
        let root = if groups.len() == 1 {
            groups.remove(0)
        } else {
            Node::AnyOf(groups)
        };
        Ok(Self { root })
    }

    pub(crate) fn matches(&self, v: &ComposerVersion) -> bool {
        self.root.matches(v.normalized())
    }
}

impl Node {
    fn matches(&self, v: &str) -> bool {
        match self {
            Node::Any => true,
            Node::All(ns) => ns.iter().all(|n| n.matches(v)),
            Node::AnyOf(ns) => ns.iter().any(|n| n.matches(v)),
            Node::Atom(op, c) => {
                let (vb, cb) = (v.starts_with("dev-"), c.starts_with("dev-"));
                let order = || php_version_compare(v.as_bytes(), c.as_bytes());
                match op {
                    Op::Eq if vb || cb => vb && cb && v == c,
                    Op::Ne if vb || cb => v != c,
                    _ if vb || cb => false,
                    Op::Eq => order().is_eq(),
                    Op::Ne => order().is_ne(),
                    Op::Lt => order().is_lt(),
                    Op::Le => order().is_le(),
                    Op::Gt => order().is_gt(),
                    Op::Ge => order().is_ge(),
                }
            }
        }
    }
}

/// `preg_split('{\s*\|\|?\s*}', …)`.
fn split_or(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut piece_start = 0;
    let mut i = 0;
    while i < b.len() {
        // Leftmost match: a run of spaces directly followed by `|`, or a `|`.
        let ws = b[i..]
            .iter()
            .take_while(|c| is_pcre_space(char::from(**c)))
            .count();
        if b.get(i + ws) == Some(&b'|') {
            let mut e = i + ws + 1;
            if b.get(e) == Some(&b'|') {
                e += 1;
            }
            e += b[e..]
                .iter()
                .take_while(|c| is_pcre_space(char::from(**c)))
                .count();
            out.push(&s[piece_start..i]);
            piece_start = e;
            i = e;
        } else {
            i += ws.max(1);
        }
    }
    out.push(&s[piece_start..]);
    out
}

/// `preg_split('{(?<!^|as|[=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)}', …)`.
fn split_and(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let at_end = |e: usize| e == b.len() || (e + 1 == b.len() && b[e] == b'\n');
    let mut out = Vec::new();
    let mut piece_start = 0;
    let mut i = 0;
    'scan: while i < b.len() {
        let behind_ok = i > 0
            && !(i >= 2 && &b[i - 2..i] == b"as")
            && !matches!(b[i - 1], b'=' | b'>' | b'<' | b' ' | b',');
        if behind_ok {
            let spaces = b[i..].iter().take_while(|c| **c == b' ').count();
            for k in (0..=spaces).rev() {
                let j = i + k;
                if b[j - 1] == b'-' || !matches!(b.get(j), Some(b',' | b' ')) {
                    continue;
                }
                if b.get(j + 1) == Some(&b'-') {
                    continue;
                }
                let trailing = b[j + 1..].iter().take_while(|c| **c == b' ').count();
                for m in (0..=trailing).rev() {
                    let e = j + 1 + m;
                    if b.get(e) == Some(&b',') || b[e..].starts_with(b"as") || at_end(e) {
                        continue;
                    }
                    out.push(&s[piece_start..i]);
                    piece_start = e;
                    i = e;
                    continue 'scan;
                }
            }
        }
        i += 1;
    }
    out.push(&s[piece_start..]);
    out
}

/// The groups of composer/semver's `$versionRegex`.
#[derive(Debug, Clone, Default)]
struct VersionGroups<'a> {
    /// The numbers as written; `None` when the group did not take part.
    nums: [Option<&'a str>; 4],
    modifier: Modifier<'a>,
    /// `[xX*][.-]?dev` after a dot.
    x_dev: Option<&'a str>,
}

/// Every match of `v?(\d++)(?:\.(\d++))?{0,3}(?:MODIFIER|\.([xX*][.-]?dev))(?:\+[^\s]+)?` at
/// the start of `s` (case-insensitive), as (end, groups), in the regex engine's order.
fn version_matches(s: &str) -> Vec<(usize, VersionGroups<'_>)> {
    let b = s.as_bytes();
    let mut at = usize::from(matches!(b.first(), Some(b'v' | b'V')));
    let n = digits_at(b, at);
    if n == 0 {
        return Vec::new();
    }
    let mut g = VersionGroups::default();
    g.nums[0] = Some(&s[at..at + n]);
    at += n;
    let mut k = 1;
    while k < 4 && b.get(at) == Some(&b'.') && digits_at(b, at + 1) > 0 {
        let n = digits_at(b, at + 1);
        g.nums[k] = Some(&s[at + 1..at + 1 + n]);
        at += 1 + n;
        k += 1;
    }
    let mut tails: Vec<(usize, VersionGroups<'_>)> = modifier_candidates(&s[at..], true)
        .into_iter()
        .map(|(len, m)| {
            let mut g = g.clone();
            g.modifier = m;
            (at + len, g)
        })
        .collect();
    if b.get(at) == Some(&b'.') && matches!(b.get(at + 1), Some(b'x' | b'X' | b'*')) {
        let mut ends = Vec::new();
        if matches!(b.get(at + 2), Some(b'.' | b'-'))
            && b.get(at + 3..at + 6)
                .is_some_and(|x| x.eq_ignore_ascii_case(b"dev"))
        {
            ends.push(at + 6);
        }
        if b.get(at + 2..at + 5)
            .is_some_and(|x| x.eq_ignore_ascii_case(b"dev"))
        {
            ends.push(at + 5);
        }
        for e in ends {
            let mut g = g.clone();
            g.x_dev = Some(&s[at + 1..e]);
            tails.push((e, g));
        }
    }
    let mut out = Vec::new();
    for (e, g) in tails {
        if b.get(e) == Some(&b'+') {
            let run = b[e + 1..]
                .iter()
                .take_while(|c| !is_pcre_space(char::from(**c)))
                .count();
            for r in (1..=run).rev() {
                out.push((e + 1 + r, g.clone()));
            }
        }
        out.push((e, g));
    }
    out
}

/// `$x += 1` on a PHP numeric string (no leading sign; saturating instead of going to float).
fn php_increment(x: &str) -> String {
    let n: u64 = x
        .bytes()
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .unwrap_or(u64::MAX);
    n.saturating_add(1).to_string()
}

/// `manipulateVersionString($matches, $position, $increment, '0')`.
fn manipulate(nums: [Option<&str>; 4], position: usize, increment: bool) -> String {
    let mut parts: Vec<String> = nums.iter().map(|n| n.unwrap_or("").to_owned()).collect();
    for i in (1..=4).rev() {
        if i > position {
            parts[i - 1] = "0".into();
        } else if i == position && increment {
            parts[i - 1] = php_increment(&parts[i - 1]);
        }
    }
    parts.join(".")
}

fn is_stability_word(s: &str) -> bool {
    ["stable", "RC", "beta", "alpha", "dev"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

/// `VersionParser::parseStability` of a normalised version.
fn parse_stability(v: &str) -> &'static str {
    let v = match v.find('#') {
        Some(i) if i + 1 < v.len() => &v[..i],
        _ => v,
    };
    if v.starts_with("dev-") || v.ends_with("-dev") {
        return "dev";
    }
    let lower = v.to_ascii_lowercase();
    for k in 0..=lower.len() {
        let rest = &lower[k..];
        let found = modifier_candidates(rest, true)
            .into_iter()
            .find(|(len, _)| *len == rest.len() || rest[*len..].starts_with('+'));
        if let Some((_, m)) = found {
            if m.dev {
                return "dev";
            }
            return match m.word {
                Some("beta" | "b") => "beta",
                Some("alpha" | "a") => "alpha",
                Some("rc") => "RC",
                _ => "stable",
            };
        }
    }
    "stable"
}

fn parse_one(input: &str) -> Result<Vec<Node>, String> {
    let bad = |why: &str| format!("could not parse version constraint {input:?}: {why}");
    let mut c = strip_alias(input);
    // `^([^,\s]*?)@(stable|RC|beta|alpha|dev)$`i
    let mut stability_modifier: Option<&str> = None;
    for (i, _) in c.match_indices('@') {
        let (head, flag) = (&c[..i], &c[i + 1..]);
        if head.contains(|ch: char| ch == ',' || is_pcre_space(ch)) {
            break;
        }
        if is_stability_word(flag) {
            if flag != "stable" {
                stability_modifier = Some(flag);
            }
            c = if head.is_empty() { "*" } else { head };
            break;
        }
    }
    // `^(dev-[^,\s@]+?|[^,\s@]+?\.x-dev)#.+$`i
    if let Some(i) = c.find(|ch: char| ch == '#' || ch == ',' || ch == '@' || is_pcre_space(ch)) {
        let head = &c[..i];
        let lower = head.to_ascii_lowercase();
        if c[i..].starts_with('#')
            && c.len() > i + 1
            && !c[i + 1..].contains('\n')
            && ((lower.starts_with("dev-") && head.len() > 4)
                || (lower.ends_with(".x-dev") && head.len() > 6))
        {
            c = head;
        }
    }
    // `^(v)?[xX*](\.[xX*])*$`i
    {
        let body = c.strip_prefix(['v', 'V']);
        let rest = body.unwrap_or(c);
        let parts: Vec<&str> = rest.split('.').collect();
        if !rest.is_empty() && parts.iter().all(|p| matches!(*p, "x" | "X" | "*")) {
            return Ok(vec![if body.is_some() || parts.len() > 1 {
                Node::Atom(Op::Ge, "0.0.0.0-dev".into())
            } else {
                Node::Any
            }]);
        }
    }
    let suffix_dev =
        |g: &VersionGroups<'_>| g.modifier.word.is_none() && !g.modifier.dev && g.x_dev.is_none();
    // Tilde: `^~>?VERSION$`
    if let Some(rest) = c.strip_prefix('~') {
        let (arrow, rest) = match rest.strip_prefix('>') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if let Some((_, g)) = version_matches(rest)
            .into_iter()
            .find(|(e, _)| *e == rest.len())
        {
            if arrow {
                return Err(bad(
                    "invalid operator \"~>\", you probably meant to use the \"~\" operator",
                ));
            }
            let mut position = (1..=4)
                .rev()
                .find(|&i| g.nums[i - 1].is_some())
                .unwrap_or(1);
            if g.x_dev.is_some() {
                position += 1;
            }
            let low_input = format!("{}{}", &c[1..], if suffix_dev(&g) { "-dev" } else { "" });
            let low = normalize(&low_input).map_err(bad)?;
            let high = manipulate(g.nums, position.saturating_sub(1).max(1), true) + "-dev";
            return Ok(vec![Node::Atom(Op::Ge, low), Node::Atom(Op::Lt, high)]);
        }
    }
    // Caret: `^\^VERSION$`
    if let Some(rest) = c.strip_prefix('^')
        && let Some((_, g)) = version_matches(rest)
            .into_iter()
            .find(|(e, _)| *e == rest.len())
    {
        let given = |i: usize| g.nums[i].is_some_and(|n| !n.is_empty());
        let position = if g.nums[0] != Some("0") || !given(1) {
            1
        } else if g.nums[1] != Some("0") || !given(2) {
            2
        } else {
            3
        };
        let low_input = format!("{}{}", &c[1..], if suffix_dev(&g) { "-dev" } else { "" });
        let low = normalize(&low_input).map_err(bad)?;
        let high = manipulate(g.nums, position, true) + "-dev";
        return Ok(vec![Node::Atom(Op::Ge, low), Node::Atom(Op::Lt, high)]);
    }
    // X-range: `^v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.[xX*])++$` (case-sensitive `v`)
    if let Some(nodes) = x_range(c) {
        return Ok(nodes);
    }
    // Hyphen: `^(?P<from>VERSION) +- +(?P<to>VERSION)($)`
    for (from_end, from) in version_matches(c) {
        let rest = &c[from_end..];
        let sp1 = rest.bytes().take_while(|b| *b == b' ').count();
        if sp1 == 0 || !rest[sp1..].starts_with('-') {
            continue;
        }
        let after = &rest[sp1 + 1..];
        let sp2 = after.bytes().take_while(|b| *b == b' ').count();
        if sp2 == 0 {
            continue;
        }
        let to_text = &after[sp2..];
        let Some((_, to)) = version_matches(to_text)
            .into_iter()
            .find(|(e, _)| *e == to_text.len())
        else {
            continue;
        };
        let low =
            normalize(&c[..from_end]).map_err(bad)? + if suffix_dev(&from) { "-dev" } else { "" };
        let given = |n: Option<&str>| n.is_some_and(|n| !n.is_empty());
        let upper = if (given(to.nums[1]) && given(to.nums[2]))
            || to.modifier.word.is_some()
            || to.modifier.dev
            || to.x_dev.is_some()
        {
            Node::Atom(Op::Le, normalize(to_text).map_err(bad)?)
        } else {
            normalize(to_text).map_err(bad)?;
            let position = if given(to.nums[1]) { 2 } else { 1 };
            Node::Atom(Op::Lt, manipulate(to.nums, position, true) + "-dev")
        };
        return Ok(vec![Node::Atom(Op::Ge, low), upper]);
    }
    // Basic comparators: `^(<>|!=|>=?|<=?|==?)?\s*(.*)`
    let (op_text, rest) = ["<>", "!=", ">=", ">", "<=", "<", "==", "="]
        .into_iter()
        .find_map(|o| c.strip_prefix(o).map(|r| (o, r)))
        .unwrap_or(("", c));
    let rest = rest.trim_start_matches(is_pcre_space);
    let rest = rest.split('\n').next().unwrap_or_default();
    let mut version = match normalize(rest) {
        Ok(v) => v,
        Err(e) => {
            let plain = rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'/'));
            match rest.strip_suffix("-dev") {
                Some(head) if plain && !rest.is_empty() => {
                    normalize(&format!("dev-{head}")).map_err(bad)?
                }
                _ => return Err(bad(e)),
            }
        }
    };
    let op = match op_text {
        "" | "=" | "==" => Op::Eq,
        "!=" | "<>" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        _ => Op::Ge,
    };
    if op != Op::Eq && stability_modifier.is_some() && parse_stability(&version) == "stable" {
        version.push('-');
        version.push_str(stability_modifier.unwrap_or_default());
    } else if matches!(op, Op::Lt | Op::Ge) {
        let lower = rest.to_ascii_lowercase();
        let has_modifier = lower.match_indices('-').any(|(i, _)| {
            let tail = &lower[i + 1..];
            modifier_candidates(tail, false)
                .iter()
                .any(|(len, _)| *len == tail.len())
        });
        if !has_modifier && !rest.starts_with("dev-") {
            version.push_str("-dev");
        }
    }
    Ok(vec![Node::Atom(op, version)])
}

fn x_range(c: &str) -> Option<Vec<Node>> {
    let b = c.as_bytes();
    let mut at = usize::from(b.first() == Some(&b'v'));
    let mut nums: [Option<&str>; 4] = [None; 4];
    let n = digits_at(b, at);
    if n == 0 {
        return None;
    }
    nums[0] = Some(&c[at..at + n]);
    at += n;
    let mut k = 1;
    while k < 3 && b.get(at) == Some(&b'.') && digits_at(b, at + 1) > 0 {
        let n = digits_at(b, at + 1);
        nums[k] = Some(&c[at + 1..at + 1 + n]);
        at += 1 + n;
        k += 1;
    }
    let tail = &c[at..];
    if tail.is_empty()
        || !tail
            .as_bytes()
            .chunks(2)
            .all(|p| p.len() == 2 && p[0] == b'.' && matches!(p[1], b'x' | b'X' | b'*'))
    {
        return None;
    }
    let position = k;
    let low = manipulate(nums, position, false) + "-dev";
    let high = manipulate(nums, position, true) + "-dev";
    Some(if low == "0.0.0.0-dev" {
        vec![Node::Atom(Op::Lt, high)]
    } else {
        vec![Node::Atom(Op::Ge, low), Node::Atom(Op::Lt, high)]
    })
}
