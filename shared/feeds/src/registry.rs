//! Every driver, in one list.

use crate::feed::Feed;
use crate::{alpine, debian, epss, kev, nvd, osv, redhat};

static ALL: &[&dyn Feed] = &[
    &osv::Osv,
    &debian::Debian,
    &alpine::Alpine,
    &nvd::Nvd,
    &redhat::RedHat,
    &kev::Kev,
    &epss::Epss,
];

/// Every registered feed driver.
pub fn all() -> &'static [&'static dyn Feed] {
    ALL
}

/// The driver called `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Feed> {
    ALL.iter().copied().find(|f| f.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_driver_folder_is_registered_once() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut folders: Vec<String> = std::fs::read_dir(dir)
            .expect("src dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        folders.sort();
        let mut registered: Vec<String> = all().iter().map(|f| f.name().to_owned()).collect();
        registered.sort();
        assert_eq!(folders, registered, "each folder under src/ is one feed, registered in registry::ALL");
        for f in all() {
            assert!(by_name(f.name()).is_some());
            assert!(!f.description().is_empty());
        }
    }
}
