//! Debian and Ubuntu packages: the distro namespace (`debian:12`, `ubuntu:22.04`), by
//! binary and source package, compared in dpkg order.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Dpkg;

impl Matcher for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Dpkg]
    }

    fn keys(&self, p: &Package, distro: Option<&Distro>) -> Vec<Key> {
        super::distro_keys(p, distro)
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Deb, super::os_version(p, a), a)
    }
}
