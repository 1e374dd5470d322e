//! Composer packages: namespace `packagist` under `vendor/package` (lower case, as
//! Packagist names are), compared as Composer does (`Format::Composer`: `v` prefix, four-part
//! normalisation, stability suffixes, PHP's `version_compare`).

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Php;

impl Matcher for Php {
    fn name(&self) -> &'static str {
        "php"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Php]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        super::one_key("packagist", p.name.to_ascii_lowercase())
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Composer, &p.version, a)
    }
}
