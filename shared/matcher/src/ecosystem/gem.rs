//! Ruby gems: namespace `rubygems`, RubyGems version order (`1.0.0.pre` before `1.0.0`).

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Gem;

impl Matcher for Gem {
    fn name(&self) -> &'static str {
        "gem"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Gem]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        super::one_key("rubygems", p.name.clone())
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Gem, &p.version, a)
    }
}
