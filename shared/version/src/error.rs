//! Errors: a version string a format rejects, and a range that cannot be built or evaluated.

use crate::Format;

/// Longest input echoed back in an error message; longer inputs are cut (a feed can carry junk).
const MAX_ECHO: usize = 120;

/// A version string that `format` does not accept, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {format} version {input:?}: {reason}")]
pub struct ParseError {
    /// The format that rejected the input.
    pub format: Format,
    /// The input (cut to 120 characters).
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(format: Format, input: &str, reason: impl Into<String>) -> Self {
        let input = if input.chars().count() > MAX_ECHO {
            let mut cut: String = input.chars().take(MAX_ECHO).collect();
            cut.push('…');
            cut
        } else {
            input.to_owned()
        };
        Self {
            format,
            input,
            reason: reason.into(),
        }
    }
}

/// A range that cannot be built, or a version it cannot be asked about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// A bound or event version does not parse in the range's format.
    #[error(transparent)]
    Version(#[from] ParseError),
    /// The version asked about is of another format than the range.
    #[error("cannot test a {version} version against a {range} range")]
    FormatMismatch {
        /// The range's format.
        range: Format,
        /// The version's format.
        version: Format,
    },
    /// OSV `GIT` ranges name commits, not versions; they cannot be evaluated here.
    #[error("OSV GIT ranges name commits, not versions, and cannot be evaluated")]
    GitRange,
    /// An NVD CPE match gave both the inclusive and the exclusive form of one bound.
    #[error("NVD CPE match sets both version{side}Including and version{side}Excluding")]
    ConflictingBounds {
        /// `"Start"` or `"End"` (rendered into the field names).
        side: &'static str,
    },
}

/// A constraint that cannot be parsed, or a format without a constraint syntax here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// The input is not a valid constraint in the format's syntax.
    #[error("invalid {format} constraint {input:?}: {reason}")]
    Invalid {
        /// The format whose syntax was used.
        format: Format,
        /// The input (cut to 120 characters).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No constraint syntax is implemented for this format.
    #[error("no constraint syntax for {0} versions (supported: gem, pep440, composer)")]
    Unsupported(Format),
}

impl ConstraintError {
    pub(crate) fn invalid(format: Format, input: &str, reason: String) -> Self {
        let ParseError { input, .. } = ParseError::new(format, input, "");
        Self::Invalid {
            format,
            input,
            reason,
        }
    }
}
