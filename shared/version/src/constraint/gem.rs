//! RubyGems requirements (`Gem::Requirement`, rubygems 3.3).
//!
//! A comma-separated list (as advisories write `>= 1.2, < 2`; RubyGems takes the parts as
//! separate arguments) of `\s*(=|!=|>|<|>=|<=|~>)?\s*VERSION\s*`, all of which must hold; no
//! operator means `=`. `~> V` is `>= V` and, for the version's release (letters and what
//! follows dropped), `< V.bump` (`~> 1.2.3` is `>= 1.2.3, < 1.3`; `~> 1` is `< 2`).

use crate::GemVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Pessimistic,
}

#[derive(Debug, Clone)]
pub(crate) struct Requirement {
    parts: Vec<(Op, GemVersion, GemVersion)>,
}

fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

impl Requirement {
    pub(crate) fn parse(input: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        // RubyGems with no requirement at all is `>= 0`, which every version satisfies.
        let pieces = if input.is_empty() {
            Vec::new()
        } else {
            input.split(',').collect()
        };
        for piece in pieces {
            let s = piece.trim_start_matches(is_ruby_space);
            let (op, rest) = [
                ("~>", Op::Pessimistic),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                ("=", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
            ]
            .into_iter()
            .find_map(|(text, op)| s.strip_prefix(text).map(|r| (op, r)))
            .unwrap_or((Op::Eq, s));
            let v = rest.trim_matches(is_ruby_space);
            if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("ill-formed requirement {piece:?}"));
            }
            let version = GemVersion::parse(v)
                .map_err(|e| format!("ill-formed requirement {piece:?}: {}", e.reason))?;
            let bump = version.bump();
            parts.push((op, version, bump));
        }
        Ok(Self { parts })
    }

    pub(crate) fn matches(&self, v: &GemVersion) -> bool {
        self.parts.iter().all(|(op, r, bump)| match op {
            Op::Eq => v == r,
            Op::Ne => v != r,
            Op::Gt => v > r,
            Op::Lt => v < r,
            Op::Ge => v >= r,
            Op::Le => v <= r,
            Op::Pessimistic => v >= r && v.release() < *bump,
        })
    }
}
