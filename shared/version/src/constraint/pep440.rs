//! PEP 440 version specifier sets, matched as packaging's
//! `SpecifierSet(s).contains(v, prereleases=True)`.
//!
//! Comma-separated clauses (empty ones ignored; an empty set matches everything), all of
//! which must hold:
//! - `==V` / `!=V`: equal (not equal) as versions; the candidate's `+local` part is ignored
//!   unless `V` has one. `==V.*` / `!=V.*`: the candidate's epoch and release, padded with
//!   zeros, start (do not start) with `V`'s release (no pre/post/dev/local allowed in `V`).
//! - `~=V` (at least two release parts): `>=V` and `==P.*` with `P` = `V`'s release minus its
//!   last part.
//! - `<=V` / `>=V`: compared without the candidate's local part.
//! - `<V`: less, and not a pre-release of `V`'s release unless `V` is a pre-release.
//!   `>V`: greater, and neither a post-release of `V`'s release (unless `V` is one) nor `V`'s
//!   release with a local part.
//! - `===V`: the candidate, as written, equals `V` ignoring ASCII case.

use crate::Pep440Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Compatible,
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
    Arbitrary,
}

#[derive(Debug, Clone)]
struct Spec {
    op: Op,
    /// `V.*` (only with `==`/`!=`).
    wildcard: bool,
    /// `None` only for `===`.
    version: Option<Pep440Version>,
    text: String,
}

#[derive(Debug, Clone)]
pub(crate) struct SpecifierSet {
    specs: Vec<Spec>,
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace()
}

fn parse_spec(piece: &str) -> Result<Spec, String> {
    let bad = |why: &str| format!("invalid specifier {piece:?}: {why}");
    let (op, rest) = [
        ("===", Op::Arbitrary),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("~=", Op::Compatible),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .into_iter()
    .find_map(|(text, op)| piece.strip_prefix(text).map(|r| (op, r)))
    .ok_or_else(|| bad("expected one of ~= == != <= >= < > ==="))?;
    let text = rest.trim_start_matches(is_py_space);
    if text.is_empty() {
        return Err(bad("no version"));
    }
    if op == Op::Arbitrary {
        if text.contains(|c: char| is_py_space(c) || c == ';' || c == ')') {
            return Err(bad("=== takes one word"));
        }
        return Ok(Spec {
            op,
            wildcard: false,
            version: None,
            text: text.to_owned(),
        });
    }
    if !text.is_ascii() || text.contains(is_py_space) {
        return Err(bad("not a version"));
    }
    let (wildcard, vtext) = match text.strip_suffix(".*") {
        Some(v) if matches!(op, Op::Eq | Op::Ne) => (true, v),
        _ => (false, text),
    };
    let lower = vtext.to_ascii_lowercase();
    if wildcard {
        // `v?([0-9]+!)?[0-9]+(\.[0-9]+)*` exactly.
        let body = lower.strip_prefix('v').unwrap_or(&lower);
        let body = match body.split_once('!') {
            Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => r,
            _ => body,
        };
        if !body
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("a .* prefix must be a plain release (N.N…)"));
        }
    }
    let version = Pep440Version::parse(vtext).map_err(|e| bad(&e.reason))?;
    if version.has_local() && !matches!(op, Op::Eq | Op::Ne) {
        return Err(bad("a local version (+…) is allowed only with == and !="));
    }
    if op == Op::Compatible && version.release_len() < 2 {
        return Err(bad("~= needs at least two release parts"));
    }
    Ok(Spec {
        op,
        wildcard,
        version: Some(version),
        text: text.to_owned(),
    })
}

impl SpecifierSet {
    pub(crate) fn parse(input: &str) -> Result<Self, String> {
        let specs = input
            .split(',')
            .map(|p| p.trim_matches(is_py_space))
            .filter(|p| !p.is_empty())
            .map(parse_spec)
            .collect::<Result<_, _>>()?;
        Ok(Self { specs })
    }

    pub(crate) fn matches(&self, v: &Pep440Version) -> bool {
        self.specs.iter().all(|s| s.matches(v))
    }
}

impl Spec {
    fn matches(&self, v: &Pep440Version) -> bool {
        let Some(spec) = &self.version else {
            return v.as_str().eq_ignore_ascii_case(&self.text);
        };
        match self.op {
            Op::Arbitrary => false,
            Op::Eq | Op::Ne => {
                let equal = if self.wildcard {
                    v.has_release_prefix(spec, spec.release_len())
                } else if spec.has_local() {
                    v == spec
                } else {
                    v.public() == *spec
                };
                equal == (self.op == Op::Eq)
            }
            Op::Compatible => {
                v.public() >= *spec
                    && v.has_release_prefix(spec, spec.release_len().saturating_sub(1))
            }
            Op::Le => v.public() <= *spec,
            Op::Ge => v.public() >= *spec,
            Op::Lt => {
                v < spec && !(!spec.is_prerelease() && v.is_prerelease() && v.base() == spec.base())
            }
            Op::Gt => {
                v > spec
                    && !(!spec.is_postrelease() && v.is_postrelease() && v.base() == spec.base())
                    && !(v.has_local() && v.base() == spec.base())
            }
        }
    }
}
