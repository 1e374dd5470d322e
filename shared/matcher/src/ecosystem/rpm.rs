//! RPM packages (RHEL, AlmaLinux, Rocky): the distro namespace (`rhel:9`), by package and
//! source rpm, compared as `epoch:version-release`.
//!
//! Epochs: a package recorded without one takes the epoch `metadata["epoch"]` when the
//! catalog found it; otherwise it is compared as if it had the advisory's epoch (rpm
//! databases often omit epoch 0, advisories often spell it), as grype does.
//! Modularity: a modular build (`.module+el8…` release, or a `modularity_label`) is only
//! compared with modular fixes, and a non-modular one only with non-modular fixes; the
//! feeds carry no module stream names, so streams themselves are not told apart.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Rpm;

fn has_epoch(v: &str) -> bool {
    v.split_once(':')
        .is_some_and(|(e, _)| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
}

fn is_modular(v: &str) -> bool {
    v.contains(".module+") || v.contains(".module_")
}

/// Every version string the advisory compares against.
fn advisory_versions(a: &Advisory) -> impl Iterator<Item = &str> {
    let events = a
        .ranges
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["events"].as_array().into_iter().flatten());
    events
        .filter_map(|e| e.as_object()?.values().next()?.as_str())
        .filter(|v| *v != "0")
        .chain(a.fixed.iter().map(String::as_str))
        .chain(a.versions.iter().map(String::as_str))
}

/// The package's `epoch:version-release` for comparing with `a`.
pub(crate) fn version_for(p: &Package, a: &Advisory) -> String {
    let v = super::os_version(p, a);
    if has_epoch(v) {
        return v.to_owned();
    }
    if let Some(e) = p.metadata.get("epoch").filter(|e| !e.is_empty()) {
        return format!("{e}:{v}");
    }
    match advisory_versions(a)
        .find(|x| has_epoch(x))
        .and_then(|x| x.split_once(':'))
    {
        Some((e, _)) => format!("{e}:{v}"),
        None => v.to_owned(),
    }
}

impl Matcher for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Rpm]
    }

    fn keys(&self, p: &Package, distro: Option<&Distro>) -> Vec<Key> {
        super::distro_keys(p, distro)
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        let version = version_for(p, a);
        let modular = is_modular(&version)
            || p.metadata
                .get("modularity_label")
                .is_some_and(|l| !l.is_empty());
        let mut fixes = advisory_versions(a).peekable();
        if fixes.peek().is_some() && fixes.all(|f| is_modular(f) != modular) {
            return None;
        }
        verdict(Format::Rpm, &version, a)
    }
}
