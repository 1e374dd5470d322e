//! Composer packages: namespace `packagist` under `vendor/package` (lower case, as
//! Packagist names are), compared in semver order with the `v` tag prefix dropped;
//! versions semver can't read (four-part `1.2.3.4`) fall back to RubyGems' dotted order,
//! which, like Composer, pads missing parts with zeros.

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
        let version = p.version.strip_prefix(['v', 'V']).unwrap_or(&p.version);
        let format = if Format::Semver.parse(version).is_ok() {
            Format::Semver
        } else {
            Format::Gem
        };
        verdict(format, version, a)
    }
}
