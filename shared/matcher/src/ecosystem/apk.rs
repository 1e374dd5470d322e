//! Alpine (and Wolfi) packages: the distro namespace (`alpine:3.19`), by package and by
//! origin (the secdb lists origin packages: `libcrypto3` is fixed under `openssl`).

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Apk;

impl Matcher for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Apkg]
    }

    /// The catalog records the apk origin as the source package.
    fn keys(&self, p: &Package, distro: Option<&Distro>) -> Vec<Key> {
        super::distro_keys(p, distro)
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Apk, super::os_version(p, a), a)
    }
}
