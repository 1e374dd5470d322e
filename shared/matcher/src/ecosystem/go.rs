//! Go modules: namespace `go` under the module path (the Go vulndb and GHSA), Go's semver
//! order (`v` prefix, pseudo-versions, `+incompatible`). The standard library is module
//! `stdlib`, versioned `go1.21.3` in binaries and `1.21.3` in advisories.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Go;

impl Matcher for Go {
    fn name(&self) -> &'static str {
        "go"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Go]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        super::one_key("go", p.name.clone())
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        let version = if p.name == "stdlib" {
            p.version.trim_start_matches("go")
        } else {
            &p.version
        };
        verdict(Format::Go, version, a)
    }
}
