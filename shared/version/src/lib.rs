#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod apk;
mod composer;
mod constraint;
mod deb;
mod error;
mod format;
mod gem;
mod maven;
mod nuget;
mod num;
mod pep440;
mod range;
mod rpm;
mod semver;

pub use apk::ApkVersion;
pub use composer::ComposerVersion;
pub use constraint::Constraint;
pub use deb::DebVersion;
pub use error::{ConstraintError, ParseError, RangeError};
pub use format::{Format, UnknownFormat, Version};
pub use gem::GemVersion;
pub use maven::MavenVersion;
pub use nuget::NuGetVersion;
pub use pep440::Pep440Version;
pub use range::{NvdBounds, OsvEvent, OsvRangeType, Range};
pub use rpm::RpmVersion;
pub use semver::SemverVersion;

#[cfg(test)]
mod tests;
