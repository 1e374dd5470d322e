//! Rust crates: namespace `crates.io` (RustSec and GHSA), semver order.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Rust;

impl Matcher for Rust {
    fn name(&self) -> &'static str {
        "rust"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Rust]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        super::one_key("crates.io", p.name.clone())
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Semver, &p.version, a)
    }
}
