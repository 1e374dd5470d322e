//! NuGet packages: namespace `nuget`, NuGet version order (four parts, case-insensitive labels).

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Nuget;

impl Matcher for Nuget {
    fn name(&self) -> &'static str {
        "nuget"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Nuget]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        super::one_key("nuget", p.name.clone())
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::NuGet, &p.version, a)
    }
}
