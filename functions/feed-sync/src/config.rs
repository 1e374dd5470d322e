//! Where each feed comes from: one environment variable per feed, a comma-separated list
//! of http(s):// or file:// URLs (a `file://…/` directory means every record file in it),
//! defaulting to the real upstream. An empty value (or `off`) disables the feed.

use std::collections::BTreeMap;
use std::time::Duration;

use customs_feeds::names;
use customs_runtime::{config, RuntimeError};

const OSV_BASE: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// OSV ecosystems synced by default, one `all.zip` each.
pub const OSV_ECOSYSTEMS: &[&str] = &[
    "PyPI", "npm", "Maven", "Go", "crates.io", "RubyGems", "NuGet", "Packagist", "Debian", "Alpine", "Ubuntu", "AlmaLinux", "Rocky Linux",
];
const DEBIAN: &str = "https://security-tracker.debian.org/tracker/data/json";
const ALPINE_BRANCHES: &[&str] = &["v3.17", "v3.18", "v3.19", "v3.20", "v3.21", "v3.22", "edge"];
const NVD: &str = "https://services.nvd.nist.gov/rest/json/cves/2.0";
const REDHAT: &str = "https://security.access.redhat.com/data/csaf/v2/vex/changes.csv";
const KEV: &str = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
const EPSS: &str = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz";

/// The environment variable naming a feed's sources.
pub fn variable(feed: &str) -> &'static str {
    match feed {
        names::OSV => "CUSTOMS_FEED_OSV_URLS",
        names::DEBIAN => "CUSTOMS_FEED_DEBIAN_URLS",
        names::ALPINE => "CUSTOMS_FEED_ALPINE_URLS",
        names::NVD => "CUSTOMS_FEED_NVD_URL",
        names::REDHAT => "CUSTOMS_FEED_REDHAT_URLS",
        names::KEV => "CUSTOMS_FEED_KEV_URL",
        names::EPSS => "CUSTOMS_FEED_EPSS_URL",
        _ => "CUSTOMS_FEED_UNKNOWN_URLS",
    }
}

fn defaults(feed: &str) -> Vec<String> {
    match feed {
        names::OSV => OSV_ECOSYSTEMS.iter().map(|e| format!("{OSV_BASE}/{}/all.zip", e.replace(' ', "%20"))).collect(),
        names::DEBIAN => vec![DEBIAN.into()],
        names::ALPINE => ALPINE_BRANCHES
            .iter()
            .flat_map(|b| ["main", "community"].map(|r| format!("https://secdb.alpinelinux.org/{b}/{r}.json")))
            .collect(),
        names::NVD => vec![NVD.into()],
        names::REDHAT => vec![REDHAT.into()],
        names::KEV => vec![KEV.into()],
        names::EPSS => vec![EPSS.into()],
        _ => vec![],
    }
}

/// Feed sources and fetch settings, read once per execution environment.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Feed name → source URLs; a feed absent here is not synced.
    pub urls: BTreeMap<String, Vec<String>>,
    /// `NVD_API_KEY`: raises NVD's rate limit (50 instead of 5 requests per 30 s).
    pub nvd_api_key: Option<String>,
    /// NVD results per page (`CUSTOMS_NVD_PAGE_SIZE`, at most 2000).
    pub nvd_page_size: u32,
    /// Pause between NVD requests (`CUSTOMS_NVD_PAGE_DELAY_MS`; default 6 s, 0.6 s with a key).
    pub nvd_delay: Duration,
    /// First wait of the backoff on 403/429/503 (`CUSTOMS_FEED_BACKOFF_MS`), doubled per retry.
    pub backoff: Duration,
    /// Red Hat VEX files fetched per sync at most (`CUSTOMS_REDHAT_MAX_FILES`).
    pub redhat_max_files: usize,
    pub timeout: Duration,
}

impl Sources {
    /// Every feed from the given URLs (tests, the local stack).
    pub fn new(urls: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            urls,
            nvd_api_key: None,
            nvd_page_size: 2000,
            nvd_delay: Duration::ZERO,
            backoff: Duration::from_millis(50),
            redhat_max_files: 5000,
            timeout: Duration::from_secs(300),
        }
    }

    pub fn from_env() -> Result<Self, RuntimeError> {
        let mut urls = BTreeMap::new();
        for feed in customs_feeds::all() {
            let name = feed.name();
            let list = match std::env::var(variable(name)) {
                Ok(v) if v.trim().eq_ignore_ascii_case("off") => vec![],
                Ok(v) => v.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect(),
                Err(_) => defaults(name),
            };
            for u in &list {
                if !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with("file://")) {
                    return Err(RuntimeError::BadEnv { name: variable(name), value: u.clone(), reason: "expected http(s):// or file:// URLs".into() });
                }
            }
            if !list.is_empty() {
                urls.insert(name.to_owned(), list);
            }
        }
        let nvd_api_key = std::env::var("NVD_API_KEY").ok().filter(|k| !k.trim().is_empty());
        let default_delay = if nvd_api_key.is_some() { 600 } else { 6000 };
        Ok(Self {
            urls,
            nvd_page_size: config::parsed("CUSTOMS_NVD_PAGE_SIZE", 2000u32)?.clamp(1, 2000),
            nvd_delay: Duration::from_millis(config::parsed("CUSTOMS_NVD_PAGE_DELAY_MS", default_delay)?),
            backoff: Duration::from_millis(config::parsed("CUSTOMS_FEED_BACKOFF_MS", 2000u64)?),
            redhat_max_files: config::parsed("CUSTOMS_REDHAT_MAX_FILES", 5000usize)?,
            timeout: Duration::from_secs(config::parsed("CUSTOMS_FEED_TIMEOUT_SECS", 600u64)?),
            nvd_api_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feed_defaults_to_its_real_upstream() {
        for f in customs_feeds::all() {
            let d = defaults(f.name());
            assert!(!d.is_empty() && d.iter().all(|u| u.starts_with("https://")), "{}", f.name());
            assert_ne!(variable(f.name()), "CUSTOMS_FEED_UNKNOWN_URLS");
        }
        assert!(defaults("osv").iter().any(|u| u.ends_with("/Rocky%20Linux/all.zip")));
    }
}
