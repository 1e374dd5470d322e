//! CISA Known Exploited Vulnerabilities catalog JSON: flags CVE ids.

use serde::Deserialize;
use serde_json::Value;

use crate::feed::{Document, Feed};
use crate::model::{skip, Enrichment, Kev as KevFact, Output};

pub const FEED: &str = "kev";

pub struct Kev;

#[derive(Debug, Deserialize)]
struct Catalog {
    vulnerabilities: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "cveID")]
    cve_id: String,
    date_added: String,
    due_date: Option<String>,
    known_ransomware_campaign_use: Option<String>,
    vulnerability_name: Option<String>,
}

impl Feed for Kev {
    fn name(&self) -> &'static str {
        FEED
    }

    fn description(&self) -> &'static str {
        "CISA Known Exploited Vulnerabilities: KEV flag and date per CVE"
    }

    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output)) {
        let cat: Catalog = match serde_json::from_slice(doc.bytes) {
            Ok(c) => c,
            Err(e) => return skip(out, doc.name, "malformed document", e),
        };
        for (i, v) in cat.vulnerabilities.into_iter().enumerate() {
            match serde_json::from_value::<Entry>(v) {
                Ok(e) if e.cve_id.starts_with("CVE-") => out(Output::Enrichment(Enrichment {
                    cve: e.cve_id,
                    kev: Some(KevFact {
                        date_added: e.date_added,
                        due_date: e.due_date,
                        ransomware: e.known_ransomware_campaign_use,
                        name: e.vulnerability_name,
                    }),
                    epss: None,
                })),
                Ok(e) => skip(out, e.cve_id, "malformed record", "cveID is not a CVE id"),
                Err(e) => skip(out, format!("vulnerabilities[{i}]"), "malformed record", e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::file;

    #[test]
    fn the_whole_catalog_flags_cves() {
        let c = file(&Kev, "kev/known_exploited_vulnerabilities.json");
        assert_eq!(c.enrichments.len(), 1404);
        assert!(c.skips.is_empty());
        let e = c.enrichments.iter().find(|e| e.cve == "CVE-2025-48384").expect("git");
        assert_eq!(e.kev.as_ref().map(|k| k.date_added.as_str()), Some("2025-08-25"));
        assert_eq!(e.kev.as_ref().and_then(|k| k.due_date.as_deref()), Some("2025-09-15"));
    }
}
