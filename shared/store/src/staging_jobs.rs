//! Staging jobs: the layers of one analysis staged in parallel, and the one delivery that
//! finishes the last of them. Lock order everywhere: image row, job row, layer rows,
//! progress row, so concurrent finishers, a replacing analysis and the assembly never
//! deadlock.

use serde_json::Value;
use uuid::Uuid;

use crate::{StagingProgress, Store, StoreError};

/// A layer (by blob digest) a staging job waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLayer {
    pub digest: String,
    /// Its diff id as the config states it: the key of the release before V0220, which
    /// reads the job if it is rolled back to (see `Store::start_staging_job`).
    pub diff_id: String,
    /// How many of the image's layers are this blob, and their compressed bytes.
    pub layers: i32,
    pub bytes: i64,
}

/// A staging job as recorded.
#[derive(Debug, Clone)]
pub struct StagingJob {
    pub job_id: Uuid,
    pub image_id: Uuid,
    pub manifest: Vec<u8>,
    /// The rest of the resolved image, as the analyze function wrote it.
    pub resolved: Value,
    pub layers_pending: i32,
    /// Message id of the delivery that assembles the image, once the last layer is done.
    pub assembler: Option<String>,
    /// Blob digests not staged yet.
    pub pending: Vec<String>,
    /// Recorded by the release before V0220, which kept a job's layers by diff id only
    /// (`image_staging_job_layers`): such a job is started over, not finished.
    pub legacy: bool,
}

/// A new staging job (see `Store::start_staging_job`).
#[derive(Debug, Clone)]
pub struct NewStagingJob<'a> {
    pub job_id: Uuid,
    pub manifest: &'a [u8],
    pub resolved: &'a Value,
    pub pending: &'a [PendingLayer],
    /// Set when nothing is pending: the caller assembles at once.
    pub assembler: Option<&'a str>,
    pub progress: StagingProgress,
}

impl Store {
    /// Records `job` as the staging job of image `id` (replacing an earlier one, whose
    /// messages then find it gone) with its initial progress, in one transaction. `false`:
    /// the image is no longer `analyzing` (finished, or gone), and nothing was written.
    pub async fn start_staging_job(
        &self,
        account: &str,
        id: Uuid,
        job: &NewStagingJob<'_>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let analyzing = tx
            .query_opt(
                "SELECT 1 FROM images WHERE account = $1 AND id = $2 AND analysis_status = 'analyzing' FOR UPDATE",
                &[&account, &id],
            )
            .await?
            .is_some();
        if !analyzing {
            return Ok(false);
        }
        tx.execute("DELETE FROM image_staging_jobs WHERE image_id = $1", &[&id])
            .await?;
        let pending = i32::try_from(job.pending.len()).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO image_staging_jobs (job_id, image_id, manifest, resolved, layers_pending, assembler)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&job.job_id, &id, &job.manifest, job.resolved, &pending, &job.assembler],
        )
        .await?;
        let digests: Vec<&str> = job.pending.iter().map(|l| l.digest.as_str()).collect();
        let layers: Vec<i32> = job.pending.iter().map(|l| l.layers).collect();
        let bytes: Vec<i64> = job.pending.iter().map(|l| l.bytes).collect();
        tx.execute(
            "INSERT INTO image_staging_job_blobs (job_id, digest, layers, bytes)
             SELECT $1, * FROM UNNEST($2::text[], $3::int[], $4::bigint[])",
            &[&job.job_id, &digests, &layers, &bytes],
        )
        .await?;
        // The same layers by diff id, for the release before V0220 should it be rolled
        // back to while the job runs: it counts a layer done per diff id, and this
        // release marks those rows too. Two blobs stating one diff id are one row there.
        let diff_ids: Vec<&str> = job.pending.iter().map(|l| l.diff_id.as_str()).collect();
        tx.execute(
            "INSERT INTO image_staging_job_layers (job_id, diff_id, layers, bytes)
             SELECT $1, d, sum(l)::int, sum(b)::bigint FROM UNNEST($2::text[], $3::int[], $4::bigint[]) AS t (d, l, b) GROUP BY d",
            &[&job.job_id, &diff_ids, &layers, &bytes],
        )
        .await?;
        let p = &job.progress;
        tx.execute(
            "INSERT INTO image_staging_progress (image_id, layers_total, layers_staged, layers_reused, bytes_total, bytes_staged)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (image_id) DO UPDATE SET layers_total = $2, layers_staged = $3, layers_reused = $4,
                 bytes_total = $5, bytes_staged = $6, updated_at = now()",
            &[&id, &p.layers_total, &p.layers_staged, &p.layers_reused, &p.bytes_total, &p.bytes_staged],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The staging job `job_id`, or `None` when it is over (assembled, failed, replaced,
    /// or its image deleted).
    pub async fn staging_job(&self, job_id: Uuid) -> Result<Option<StagingJob>, StoreError> {
        let conn = self.conn().await?;
        job(&conn, job_id).await
    }

    /// Marks layer `digest` (blob digest; `diff_id` as its config states it) of the job
    /// staged and, when it was the last one pending,
    /// makes delivery `message_id` the job's assembler. Only the first call per layer
    /// counts (a duplicate delivery changes nothing), and the job row is locked while
    /// counting, so of concurrent finishers exactly one takes `layers_pending` to zero.
    /// `fetched`: this delivery downloaded the layer (else it was reused, for progress).
    /// Returns the job as it now is, or `None` when it is over.
    pub async fn finish_staged_layer(
        &self,
        job_id: Uuid,
        digest: &str,
        diff_id: &str,
        message_id: &str,
        fetched: bool,
    ) -> Result<Option<StagingJob>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT image_id FROM image_staging_jobs WHERE job_id = $1 FOR UPDATE",
                &[&job_id],
            )
            .await?
        else {
            return Ok(None);
        };
        let image_id: Uuid = row.get(0);
        let flipped = tx
            .query_opt(
                "UPDATE image_staging_job_blobs SET done = true
                 WHERE job_id = $1 AND digest = $2 AND NOT done RETURNING layers, bytes",
                &[&job_id, &digest],
            )
            .await?;
        if let Some(f) = flipped {
            let (layers, bytes): (i32, i64) = (f.get(0), f.get(1));
            tx.execute(
                "UPDATE image_staging_job_layers SET done = true WHERE job_id = $1 AND diff_id = $2",
                &[&job_id, &diff_id],
            )
            .await?;
            tx.execute(
                "UPDATE image_staging_jobs
                 SET layers_pending = layers_pending - 1,
                     assembler = CASE WHEN layers_pending = 1 THEN $2 ELSE assembler END
                 WHERE job_id = $1",
                &[&job_id, &message_id],
            )
            .await?;
            let reused = if fetched { 0 } else { layers };
            tx.execute(
                "UPDATE image_staging_progress
                 SET layers_staged = layers_staged + $2, layers_reused = layers_reused + $3,
                     bytes_staged = bytes_staged + $4, updated_at = now()
                 WHERE image_id = $1",
                &[&image_id, &layers, &reused, &bytes],
            )
            .await?;
        }
        let now = job(&tx, job_id).await?;
        tx.commit().await?;
        Ok(now)
    }

    /// Claims the start-over of a staging job of the release before V0220 for delivery
    /// `message_id`: true for the first delivery to ask, and for its redeliveries (it
    /// takes the job's assembler, whose one delivery ends a job), false for any other, and
    /// when the job is over.
    pub async fn claim_start_over(&self, job_id: Uuid, message_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .await?
            .query_opt(
                "UPDATE image_staging_jobs SET assembler = $2
                 WHERE job_id = $1 AND (assembler IS NULL OR assembler = $2) RETURNING 1",
                &[&job_id, &message_id],
            )
            .await?
            .is_some())
    }

    /// Ends staging job `job_id` as failed and records `reason` on its image, once: of
    /// several failing layers (or repeated deliveries) only the first call does anything.
    /// Returns whether this call recorded the failure.
    pub async fn fail_staging_job(
        &self,
        account: &str,
        id: Uuid,
        job_id: Uuid,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        if tx
            .query_opt(
                "SELECT 1 FROM images WHERE account = $1 AND id = $2 FOR UPDATE",
                &[&account, &id],
            )
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let ended = tx
            .execute(
                "DELETE FROM image_staging_jobs WHERE job_id = $1 AND image_id = $2",
                &[&job_id, &id],
            )
            .await?;
        if ended != 1 {
            return Ok(false);
        }
        let failed = tx
            .execute(
                "UPDATE images SET analysis_status = 'analysis_failed', analysis_error = $3,
                     last_updated = now(), record_version = record_version + 1
                 WHERE account = $1 AND id = $2 AND analysis_status = 'analyzing'",
                &[&account, &id, &reason],
            )
            .await?;
        tx.commit().await?;
        Ok(failed == 1)
    }
}

async fn job(
    c: &impl deadpool_postgres::GenericClient,
    job_id: Uuid,
) -> Result<Option<StagingJob>, StoreError> {
    let Some(r) = c
        .query_opt(
            "SELECT image_id, manifest, resolved, layers_pending, assembler,
                    ARRAY(SELECT digest FROM image_staging_job_blobs b WHERE b.job_id = j.job_id AND NOT b.done ORDER BY digest),
                    EXISTS (SELECT 1 FROM image_staging_job_layers l WHERE l.job_id = j.job_id)
                        AND NOT EXISTS (SELECT 1 FROM image_staging_job_blobs b WHERE b.job_id = j.job_id)
             FROM image_staging_jobs j WHERE job_id = $1",
            &[&job_id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(StagingJob {
        job_id,
        image_id: r.get(0),
        manifest: r.get(1),
        resolved: r.get(2),
        layers_pending: r.get(3),
        assembler: r.get(4),
        pending: r.get(5),
        legacy: r.get(6),
    }))
}
