//! Every matcher, in one list.

use customs_model::package::Package;

use crate::ecosystem::{Apk, Cpe, Dpkg, Gem, Go, Java, Npm, Nuget, Php, Python, Rpm, Rust};
use crate::Matcher;

static MATCHERS: [&dyn Matcher; 12] = [
    &Dpkg, &Rpm, &Apk, &Python, &Npm, &Gem, &Java, &Go, &Rust, &Nuget, &Php, &Cpe,
];

/// Every registered matcher.
pub fn all() -> &'static [&'static dyn Matcher] {
    &MATCHERS
}

/// The NVD CPE matcher: primary for binaries, fallback and corroboration for the rest.
pub fn cpe() -> &'static dyn Matcher {
    &Cpe
}

/// The matcher that speaks for `p` (each package type has exactly one).
pub fn primary(p: &Package) -> Option<&'static dyn Matcher> {
    all().iter().copied().find(|m| m.handles(p))
}
