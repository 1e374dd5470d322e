//! FIRST EPSS daily CSV (`#model_version:…,score_date:…` then `cve,epss,percentile`),
//! plain or gzip-decompressed by the fetcher.

use crate::feed::{Document, Feed};
use crate::model::{skip, Enrichment, Epss as EpssFact, Output};

pub const FEED: &str = "epss";

pub struct Epss;

impl Feed for Epss {
    fn name(&self) -> &'static str {
        FEED
    }

    fn description(&self) -> &'static str {
        "FIRST EPSS: exploit prediction score and percentile per CVE"
    }

    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output)) {
        let Ok(text) = std::str::from_utf8(doc.bytes) else {
            return skip(out, doc.name, "malformed document", "not UTF-8");
        };
        let mut date = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(meta) = line.strip_prefix('#') {
                date = meta
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("score_date:"))
                    .map(|d| d.get(..10).unwrap_or(d).to_owned());
                continue;
            }
            if line.is_empty() || line.starts_with("cve,") {
                continue;
            }
            let cols: Vec<&str> = line.split(',').collect();
            let parsed = match cols.as_slice() {
                [cve, score, pct] if cve.starts_with("CVE-") => score.parse::<f64>().ok().zip(pct.parse::<f64>().ok()).map(|s| (cve, s)),
                _ => None,
            };
            match parsed {
                Some((cve, (score, percentile))) => out(Output::Enrichment(Enrichment {
                    cve: (*cve).to_owned(),
                    kev: None,
                    epss: Some(EpssFact { score, percentile, date: date.clone() }),
                })),
                None => skip(out, format!("{}:{}", doc.name, n + 1), "malformed record", line),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{file, run};

    #[test]
    fn rows_become_scores_with_the_score_date() {
        let c = file(&Epss, "epss/example-1.csv");
        assert_eq!(c.enrichments.len(), 5);
        let e = c.enrichments[4].epss.clone().expect("epss");
        assert_eq!(c.enrichments[4].cve, "CVE-1999-0005");
        assert_eq!((e.score, e.percentile, e.date.as_deref()), (0.91963, 0.99214, Some("2025-02-20")));
        let bad = run(&Epss, "x.csv", b"cve,epss,percentile\nCVE-1,0.1,0.2\nCVE-2,abc,0.1\n");
        assert_eq!((bad.enrichments.len(), bad.skips.len()), (1, 1));
    }
}
