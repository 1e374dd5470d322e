//! Version constraints as each ecosystem writes them in manifests and advisories, matched as
//! that ecosystem's own tool matches them:
//!
//! | format | syntax | reference |
//! |---|---|---|
//! | [`Format::Gem`] | RubyGems requirements: `~> 1.2`, `= != > >= < <=`, comma lists | `Gem::Requirement#satisfied_by?` |
//! | [`Format::Pep440`] | PEP 440 specifier sets: `~=`, `==`/`!=` with `.*`, `===`, exclusive `<`/`>`; prereleases always considered | packaging `SpecifierSet.contains(v, prereleases=True)` |
//! | [`Format::Semver`] | npm ranges: `^`, `~`, `x`/`X`/`*` and partial versions, `< <= > >= =`, `a - b`, `\|\|`; a pre-release only matches beside a comparator with a pre-release on the same `major.minor.patch` | node-semver 7 `satisfies(v, range)` (default options) |
//! | [`Format::Composer`] | Composer constraints: `^`, `~`, `*`/`x`, `a - b`, `\|\|`/`\|`, AND by space or comma, `@stability` | composer/semver `Semver::satisfies` |

mod composer;
mod gem;
mod npm;
mod pep440;

use std::fmt;

use crate::{ConstraintError, Format, RangeError, Version};

/// A parsed constraint of one format.
#[derive(Debug, Clone)]
pub struct Constraint {
    format: Format,
    raw: String,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Gem(gem::Requirement),
    Pep440(pep440::SpecifierSet),
    Composer(composer::Constraint),
    Npm(npm::Range),
}

impl Constraint {
    /// Parses `input` in `format`'s constraint syntax (see the module table). Formats without
    /// a constraint syntax here are refused with [`ConstraintError::Unsupported`].
    pub fn parse(format: Format, input: &str) -> Result<Self, ConstraintError> {
        let err = |reason: String| ConstraintError::invalid(format, input, reason);
        let body = match format {
            Format::Gem => Body::Gem(gem::Requirement::parse(input).map_err(err)?),
            Format::Pep440 => Body::Pep440(pep440::SpecifierSet::parse(input).map_err(err)?),
            Format::Composer => Body::Composer(composer::Constraint::parse(input).map_err(err)?),
            Format::Semver => Body::Npm(npm::Range::parse(input).map_err(err)?),
            other => return Err(ConstraintError::Unsupported(other)),
        };
        Ok(Self {
            format,
            raw: input.to_owned(),
            body,
        })
    }

    /// The format whose syntax this constraint is written in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The constraint as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether `version` satisfies the constraint; a version of another format is an error.
    pub fn matches(&self, version: &Version) -> Result<bool, RangeError> {
        Ok(match (&self.body, version) {
            (Body::Gem(r), Version::Gem(v)) => r.matches(v),
            (Body::Pep440(r), Version::Pep440(v)) => r.matches(v),
            (Body::Composer(r), Version::Composer(v)) => r.matches(v),
            (Body::Npm(r), Version::Semver(v)) => r.matches(v),
            _ => {
                return Err(RangeError::FormatMismatch {
                    range: self.format,
                    version: version.format(),
                });
            }
        })
    }

    /// Parses `version` in the constraint's format and matches it.
    pub fn matches_str(&self, version: &str) -> Result<bool, RangeError> {
        self.matches(&self.format.parse(version)?)
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
