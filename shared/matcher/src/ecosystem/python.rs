//! Python distributions: namespace `pypi` (PyPA's PYSEC and GHSA records) under the PEP 503
//! normalised name (`PyYAML` → `pyyaml`, `zope.interface` → `zope-interface`), PEP 440 order.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Python;

/// PEP 503 normalised name.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.extend(c.to_lowercase());
            dash = false;
        }
    }
    out
}

impl Matcher for Python {
    fn name(&self) -> &'static str {
        "python"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Python]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        super::one_key("pypi", pep503(&p.name))
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Pep440, &p.version, a)
    }
}
