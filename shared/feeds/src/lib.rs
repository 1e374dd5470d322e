#![doc = include_str!("../README.md")]

mod feed;
mod model;
mod registry;

mod alpine;
mod debian;
mod epss;
mod kev;
mod nvd;
mod osv;
mod redhat;

pub use feed::{Document, Feed};
pub use model::{
    format, severity_from_score, severity_label, timestamp, Advisory, Affected, Cvss, Enrichment, Epss, Event, Kev, Output,
    Range, Severity, Skip, VendorState,
};
pub use registry::{all, by_name};

/// Stable feed names.
pub mod names {
    pub use crate::alpine::FEED as ALPINE;
    pub use crate::debian::FEED as DEBIAN;
    pub use crate::epss::FEED as EPSS;
    pub use crate::kev::FEED as KEV;
    pub use crate::nvd::FEED as NVD;
    pub use crate::osv::FEED as OSV;
    pub use crate::redhat::FEED as REDHAT;
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::{Advisory, Document, Enrichment, Feed, Output, Skip};

    pub fn testdata(rel: &str) -> Vec<u8> {
        let p = format!("{}/testdata/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[derive(Default, Debug)]
    pub struct Collected {
        pub advisories: Vec<Advisory>,
        pub enrichments: Vec<Enrichment>,
        pub skips: Vec<Skip>,
    }

    impl Collected {
        pub fn get(&self, id: &str) -> &Advisory {
            self.advisories.iter().find(|a| a.id == id).unwrap_or_else(|| panic!("{id} not emitted"))
        }
    }

    pub fn run(feed: &dyn Feed, name: &str, bytes: &[u8]) -> Collected {
        let mut c = Collected::default();
        feed.normalize(&Document::new(name, bytes), &mut |o| match o {
            Output::Advisory(a) => c.advisories.push(a),
            Output::Enrichment(e) => c.enrichments.push(e),
            Output::Skipped(s) => c.skips.push(s),
        });
        c
    }

    pub fn file(feed: &dyn Feed, rel: &str) -> Collected {
        run(feed, rel, &testdata(rel))
    }
}
