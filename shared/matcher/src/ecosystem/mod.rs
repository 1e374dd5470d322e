//! One matcher per ecosystem. OS packages are looked up in their distro's namespace by
//! binary and source package; language packages in their ecosystem's namespace; NVD CPE
//! rows are the fallback for anything without a better source (see `cpe`).

mod apk;
pub(crate) mod cpe;
mod dpkg;
mod gem;
mod go;
mod java;
mod npm;
mod nuget;
mod php;
mod python;
mod rpm;
mod rust;

pub use apk::Apk;
pub use cpe::Cpe;
pub use dpkg::Dpkg;
pub use gem::Gem;
pub use go::Go;
pub use java::Java;
pub use npm::Npm;
pub use nuget::Nuget;
pub use php::Php;
pub use python::Python;
pub use rpm::Rpm;
pub use rust::Rust;

use customs_model::package::{Distro, Package};

use crate::Key;

/// A package's own name in one language ecosystem's namespace.
pub(crate) fn one_key(namespace: &str, name: String) -> Vec<Key> {
    vec![(namespace.to_owned(), name)]
}

/// An OS package in its distro's namespace, by binary and source package name.
pub(crate) fn distro_keys(p: &Package, distro: Option<&Distro>) -> Vec<Key> {
    let Some(d) = distro.filter(|d| !d.namespace.is_empty()) else {
        return vec![];
    };
    let mut keys = vec![(d.namespace.clone(), p.name.clone())];
    if let Some(src) = p
        .source_name
        .as_ref()
        .filter(|s| **s != p.name && !s.is_empty())
    {
        keys.push((d.namespace.clone(), src.clone()));
    }
    keys
}

/// The version an OS advisory speaks of: the source package's version when the advisory
/// is about the source package (Debian's tracker, Alpine's secdb and Red Hat speak of
/// source packages), else the binary's.
pub(crate) fn os_version<'a>(p: &'a Package, a: &crate::Advisory) -> &'a str {
    match (&p.source_name, &p.source_version) {
        (Some(src), Some(v)) if *src == a.package && !v.is_empty() => v,
        _ => &p.version,
    }
}
