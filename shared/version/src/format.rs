//! The format registry: one enum variant per version format, the ecosystem and package-type
//! mappings, and the parsed [`Version`] that orders like its ecosystem's own tool.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::{
    ApkVersion, ComposerVersion, DebVersion, GemVersion, MavenVersion, NuGetVersion, ParseError,
    Pep440Version, RpmVersion, SemverVersion,
};

/// A version format: how one ecosystem spells and orders versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Debian/Ubuntu dpkg versions (`epoch:upstream-revision`).
    Deb,
    /// RPM `epoch:version-release` (RHEL, AlmaLinux, Rocky, SUSE, …).
    Rpm,
    /// Alpine apk-tools versions.
    Apk,
    /// SemVer 2.0.0 as npm's `semver` and crates.io compare it.
    Semver,
    /// Go module versions (`golang.org/x/mod/semver`), `v` prefix optional.
    Go,
    /// Python PEP 440 (`packaging.version`).
    Pep440,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    Gem,
    /// NuGet `NuGetVersion`.
    NuGet,
    /// Composer (Packagist) versions, `composer/semver`.
    Composer,
}

impl Format {
    /// Every format, in declaration order (the registry the tests walk).
    pub const ALL: [Format; 10] = [
        Format::Deb,
        Format::Rpm,
        Format::Apk,
        Format::Semver,
        Format::Go,
        Format::Pep440,
        Format::Maven,
        Format::Gem,
        Format::NuGet,
        Format::Composer,
    ];

    /// The stable short name (`"deb"`, `"rpm"`, …), as stored and as accepted by [`FromStr`].
    pub const fn name(self) -> &'static str {
        match self {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
            Format::Apk => "apk",
            Format::Semver => "semver",
            Format::Go => "go",
            Format::Pep440 => "pep440",
            Format::Maven => "maven",
            Format::Gem => "gem",
            Format::NuGet => "nuget",
            Format::Composer => "composer",
        }
    }

    /// Parses `input` in this format.
    pub fn parse(self, input: &str) -> Result<Version, ParseError> {
        Ok(match self {
            Format::Deb => Version::Deb(DebVersion::parse(input)?),
            Format::Rpm => Version::Rpm(RpmVersion::parse(input)?),
            Format::Apk => Version::Apk(ApkVersion::parse(input)?),
            Format::Semver => Version::Semver(SemverVersion::parse(input)?),
            Format::Go => Version::Go(SemverVersion::parse_go(input)?),
            Format::Pep440 => Version::Pep440(Pep440Version::parse(input)?),
            Format::Maven => Version::Maven(MavenVersion::parse(input)?),
            Format::Gem => Version::Gem(GemVersion::parse(input)?),
            Format::NuGet => Version::NuGet(NuGetVersion::parse(input)?),
            Format::Composer => Version::Composer(ComposerVersion::parse(input)?),
        })
    }

    /// Parses both strings and compares them as this ecosystem does.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, ParseError> {
        Ok(self.parse(a)?.cmp(&self.parse(b)?))
    }

    /// The format of an OSV `affected[].package.ecosystem` value. A release suffix
    /// (`"Debian:12"`, `"Alpine:v3.20"`, `"Red Hat:enterprise_linux:9"`) is ignored.
    /// `None` for ecosystems without a comparator here.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Format> {
        let base = ecosystem.split(':').next().unwrap_or_default().trim();
        Some(match base {
            "Debian" | "Ubuntu" => Format::Deb,
            "Alpine" | "Wolfi" | "Chainguard" => Format::Apk,
            "AlmaLinux" | "Rocky Linux" | "Red Hat" | "openSUSE" | "SUSE" | "Mageia"
            | "openEuler" => Format::Rpm,
            "PyPI" => Format::Pep440,
            "npm" | "crates.io" | "Hex" | "Pub" => Format::Semver,
            "Go" => Format::Go,
            "Maven" => Format::Maven,
            "RubyGems" => Format::Gem,
            "NuGet" => Format::NuGet,
            "Packagist" => Format::Composer,
            _ => return None,
        })
    }

    /// The format for a package type as catalogers name it (syft/Anchore style:
    /// `dpkg`/`deb`, `rpm`, `apk`, `python`, `npm`, `java`/`maven`, `go`, `rust`, `gem`, `nuget`,
    /// `php`/`composer`). Case-insensitive. `None` for unknown types.
    pub fn for_package_type(package_type: &str) -> Option<Format> {
        Some(match package_type.trim().to_ascii_lowercase().as_str() {
            "dpkg" | "deb" | "debian" => Format::Deb,
            "rpm" => Format::Rpm,
            "apk" | "alpine" => Format::Apk,
            "python" | "pypi" | "pip" | "wheel" | "egg" => Format::Pep440,
            "npm" | "node" | "js" | "javascript" | "rust" | "cargo" | "crate" | "rust-crate" => {
                Format::Semver
            }
            "go" | "golang" | "go-module" | "gomod" => Format::Go,
            "java" | "maven" | "java-archive" | "jar" | "jenkins-plugin" => Format::Maven,
            "gem" | "ruby" | "rubygems" => Format::Gem,
            "nuget" | "dotnet" | ".net" => Format::NuGet,
            "php" | "composer" | "php-composer" | "packagist" => Format::Composer,
            _ => return None,
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown version format {0:?}; known: deb, rpm, apk, semver, go, pep440, maven, gem, nuget, composer"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A parsed version of some format.
///
/// Versions of one format order exactly as that ecosystem's tool does; equality is that
/// ecosystem's equality (`1.0` and `1.0.0` are equal in Maven), not string equality.
/// Versions of different formats are never equal and order by format (only so that
/// `Version` is a total order; ranges refuse to mix formats).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// See [`DebVersion`].
    Deb(DebVersion),
    /// See [`RpmVersion`].
    Rpm(RpmVersion),
    /// See [`ApkVersion`].
    Apk(ApkVersion),
    /// See [`SemverVersion`].
    Semver(SemverVersion),
    /// A Go module version, see [`SemverVersion::parse_go`].
    Go(SemverVersion),
    /// See [`Pep440Version`].
    Pep440(Pep440Version),
    /// See [`MavenVersion`].
    Maven(MavenVersion),
    /// See [`GemVersion`].
    Gem(GemVersion),
    /// See [`NuGetVersion`].
    NuGet(NuGetVersion),
    /// See [`ComposerVersion`].
    Composer(ComposerVersion),
}

impl Version {
    /// The format this version was parsed with.
    pub fn format(&self) -> Format {
        match self {
            Version::Deb(_) => Format::Deb,
            Version::Rpm(_) => Format::Rpm,
            Version::Apk(_) => Format::Apk,
            Version::Semver(_) => Format::Semver,
            Version::Go(_) => Format::Go,
            Version::Pep440(_) => Format::Pep440,
            Version::Maven(_) => Format::Maven,
            Version::Gem(_) => Format::Gem,
            Version::NuGet(_) => Format::NuGet,
            Version::Composer(_) => Format::Composer,
        }
    }

    /// The input string, as given.
    pub fn as_str(&self) -> &str {
        match self {
            Version::Deb(v) => v.as_str(),
            Version::Rpm(v) => v.as_str(),
            Version::Apk(v) => v.as_str(),
            Version::Semver(v) | Version::Go(v) => v.as_str(),
            Version::Pep440(v) => v.as_str(),
            Version::Maven(v) => v.as_str(),
            Version::Gem(v) => v.as_str(),
            Version::NuGet(v) => v.as_str(),
            Version::Composer(v) => v.as_str(),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implements `as_str`, `Display`, and `PartialEq`/`Eq`/`PartialOrd` from `Ord`, so equality
/// always agrees with the ecosystem's ordering.
macro_rules! version_boilerplate {
    ($ty:ty) => {
        impl $ty {
            /// The input string, as given.
            pub fn as_str(&self) -> &str {
                &self.raw
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.raw)
            }
        }
        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == ::std::cmp::Ordering::Equal
            }
        }
        impl Eq for $ty {}
        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<::std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}
pub(crate) use version_boilerplate;
