//! Matching input (advisories by package key, enrichments) and stored findings.

use customs_model::AnalysisStatus;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Cached, Store, StoreError};

/// One affected-package row with its advisory, for the matcher.
#[derive(Debug, Clone)]
pub struct MatchCandidate {
    pub feed: String,
    pub vuln_id: String,
    pub aliases: Vec<String>,
    pub namespace: String,
    pub package: String,
    pub version_format: String,
    pub ranges: Value,
    pub versions: Vec<String>,
    pub fixed: Vec<String>,
    pub state: String,
    pub severity: Option<String>,
    pub vuln_severity: Option<String>,
    pub severity_source: Option<String>,
    pub cvss: Value,
    pub refs: Vec<String>,
}

/// KEV and EPSS facts about one CVE.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    pub cve: String,
    pub kev_date_added: Option<time::Date>,
    pub epss_score: Option<f64>,
    pub epss_percentile: Option<f64>,
}

impl Store {
    /// Every advisory row for any of `keys` (`(namespace, package)`), in one query.
    pub async fn match_candidates(&self, keys: &[(String, String)]) -> Result<Vec<MatchCandidate>, StoreError> {
        let (ns, pkgs): (Vec<String>, Vec<String>) = keys.iter().cloned().unzip();
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT vp.feed, vp.vuln_id, v.aliases, vp.namespace, vp.package, vp.version_format, vp.ranges,
                        vp.versions, vp.fixed, vp.state, vp.severity, v.severity, v.severity_source, v.cvss, v.refs
                 FROM UNNEST($1::text[], $2::text[]) AS k(ns, pkg)
                 JOIN vulnerability_packages vp ON vp.namespace = k.ns AND vp.package = k.pkg
                 JOIN vulnerabilities v ON v.feed = vp.feed AND v.scope = vp.scope AND v.id = vp.vuln_id
                 WHERE v.withdrawn IS NULL",
                &[&ns, &pkgs],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| MatchCandidate {
                feed: r.get(0),
                vuln_id: r.get(1),
                aliases: r.get(2),
                namespace: r.get(3),
                package: r.get(4),
                version_format: r.get(5),
                ranges: r.get(6),
                versions: r.get(7),
                fixed: r.get(8),
                state: r.get(9),
                severity: r.get(10),
                vuln_severity: r.get(11),
                severity_source: r.get(12),
                cvss: r.get(13),
                refs: r.get(14),
            })
            .collect())
    }

    pub async fn enrichments(&self, cves: &[String]) -> Result<Vec<Enrichment>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT cve, kev_date_added, epss_score, epss_percentile FROM vulnerability_enrichments WHERE cve = ANY($1)",
                &[&cves],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Enrichment { cve: r.get(0), kev_date_added: r.get(1), epss_score: r.get(2), epss_percentile: r.get(3) })
            .collect())
    }

    /// Replaces an image's findings (idempotent).
    pub async fn save_vulnerabilities(&self, image: Uuid, findings: &Value) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute(
                "INSERT INTO image_vulnerabilities (image_id, findings) VALUES ($1, $2)
                 ON CONFLICT (image_id) DO UPDATE SET findings = EXCLUDED.findings, evaluated_at = now()",
                &[&image, findings],
            )
            .await
            .map_err(|e| StoreError::from(e).image_gone(image))?;
        Ok(())
    }

    /// The stored findings and when they were computed; `None` before the first evaluation.
    pub async fn vulnerabilities(&self, image: Uuid) -> Result<Option<(Value, OffsetDateTime)>, StoreError> {
        let row = self
            .conn()
            .await?
            .cached_query_opt("SELECT findings, evaluated_at FROM image_vulnerabilities WHERE image_id = $1", &[&image])
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// The analysis status and stored findings of `account`'s image with this manifest
    /// digest (the newest such record), in one query: what the vulnerability routes
    /// serve. `None` when the account has no such image; no findings before the first
    /// evaluation.
    pub async fn findings_by_digest(
        &self,
        account: &str,
        digest: &str,
    ) -> Result<Option<(AnalysisStatus, Option<Value>)>, StoreError> {
        let row = self
            .conn()
            .await?
            .cached_query_opt(
                "SELECT i.analysis_status, v.findings FROM images i
                 LEFT JOIN image_vulnerabilities v ON v.image_id = i.id
                 WHERE i.account = $1 AND i.image_digest = $2
                 ORDER BY i.created_at DESC, i.id LIMIT 1",
                &[&account, &digest],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let status: &str = row.get(0);
        let status = status.parse::<AnalysisStatus>().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some((status, row.get(1))))
    }

    /// Whether the feeds hold data for a distro namespace, and the oldest last sync of
    /// its groups (for the policy engine's feed-data triggers).
    pub async fn namespace_feed_status(&self, namespace: &str) -> Result<(bool, Option<OffsetDateTime>), StoreError> {
        let conn = self.conn().await?;
        let has = conn
            .query_one("SELECT EXISTS (SELECT 1 FROM vulnerability_packages WHERE namespace = $1)", &[&namespace])
            .await?
            .get(0);
        let last: Option<OffsetDateTime> = conn
            .query_one("SELECT min(last_sync) FROM feed_groups WHERE grp = $1", &[&namespace])
            .await?
            .get(0);
        Ok((has, last))
    }

    /// The syncs of `feeds` whose changes are still to be handed to re-evaluation: `ours`
    /// (the runs that just ended, always: their last batches may have come after an
    /// earlier look), and every other ended run not yet handed over, failed ones included
    /// (their committed batches changed advisories all the same). A run still marked
    /// running after 15 minutes, the longest a function runs, died without ending: it is
    /// closed as a failure here, and its committed changes go with the others.
    pub async fn syncs_awaiting_reevaluation(&self, feeds: &[String], ours: &[i64]) -> Result<Vec<i64>, StoreError> {
        let c = self.conn().await?;
        c.execute(
            "UPDATE feed_syncs SET status = 'failure', finished_at = now(),
                 error = 'interrupted: still running after 15 minutes (the longest a function runs); its committed changes are re-evaluated by the next sync'
             WHERE feed = ANY($1) AND status = 'running' AND started_at < now() - interval '15 minutes' AND NOT id = ANY($2)",
            &[&feeds, &ours],
        )
        .await?;
        let rows = c
            .query(
                "SELECT id FROM feed_syncs
                 WHERE feed = ANY($1) AND (id = ANY($2) OR (NOT reevaluation_queued AND status <> 'running'))
                 ORDER BY id",
                &[&feeds, &ours],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Records that the images these syncs' changes touch are queued for re-evaluation.
    pub async fn mark_reevaluation_queued(&self, sync_ids: &[i64]) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute("UPDATE feed_syncs SET reevaluation_queued = true WHERE id = ANY($1) AND NOT reevaluation_queued", &[&sync_ids])
            .await?;
        Ok(())
    }

    /// Analysed images holding a package whose advisories changed in these syncs (by
    /// name, source name, or as the product of a `vendor:product` / `group:artifact` key).
    /// Over-selection only costs a re-evaluation; the matcher decides.
    pub async fn images_affected_by_syncs(&self, sync_ids: &[i64]) -> Result<Vec<(String, Uuid)>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT DISTINCT i.account, i.id
                 FROM feed_changes fc
                 JOIN image_packages ip
                   ON ip.name = fc.package OR ip.source_name = fc.package OR lower(ip.name) = fc.package
                   OR fc.package LIKE '%:' || ip.name
                 JOIN images i ON i.id = ip.image_id AND i.analysis_status = 'analyzed'
                 WHERE fc.sync_id = ANY($1)",
                &[&sync_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
