#![doc = include_str!("../README.md")]

mod cataloger;
mod cpe;
mod distro;
mod error;
mod license;
mod purl;
mod sbom;
mod scan;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use customs_model::fs::FileSource;
use customs_model::package::{Distro, Package, Unknown};
use serde::{Deserialize, Serialize};

pub use cataloger::{Cataloger, Context, Found, catalogers};
pub use distro::detect as detect_distro;
pub use error::Error;
pub use sbom::{ImageMetadata, cyclonedx_json, spdx_json};

/// Everything the engine found in one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub distro: Option<Distro>,
    /// Sorted by type, name, version and first location.
    pub packages: Vec<Package>,
    pub unknowns: Vec<Unknown>,
}

/// Catalogs an image: detects its distribution, then runs every registered cataloger
/// over the squashed view, several at once. Never fails: what could not be read becomes an [`Unknown`].
pub fn catalog(source: &dyn FileSource) -> Catalog {
    let distro = distro::detect(source);
    let ctx = Context {
        distro: distro.as_ref(),
    };
    let mut out = Catalog {
        distro: distro.clone(),
        ..Catalog::default()
    };
    // The catalogers run side by side; their results are merged in registry order.
    let catalogers = catalogers();
    let found = cataloger::par_map(&catalogers, |c| c.catalog(source, &ctx));
    for (c, found) in catalogers.iter().zip(found) {
        out.packages.extend(found.packages);
        out.unknowns
            .extend(found.unknowns.into_iter().map(|u| Unknown {
                cataloger: c.name().to_owned(),
                ..u
            }));
    }
    out.packages.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.locations).cmp(&(
            b.kind,
            &b.name,
            &b.version,
            &b.locations,
        ))
    });
    out
}
