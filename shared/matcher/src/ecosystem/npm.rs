//! npm packages: namespace `npm`, the package name as published (scoped names included), node-semver order.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Npm;

impl Matcher for Npm {
    fn name(&self) -> &'static str {
        "npm"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Npm]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        super::one_key("npm", p.name.clone())
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Semver, &p.version, a)
    }
}
