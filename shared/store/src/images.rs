//! Image records: added by the API, resolved and filled in by the analysis.

use std::collections::HashMap;
use std::str::FromStr;

use customs_model::{AnalysisStatus, ImageRef, ImageStatus};
use deadpool_postgres::GenericClient;
use futures::{Stream, TryStreamExt};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{Cached, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct TagRecord {
    pub registry: String,
    pub repo: String,
    pub tag: String,
    pub tag_detected_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerRecord {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub diff_id: Option<String>,
    pub uncompressed_size: Option<i64>,
    pub entry_count: Option<i64>,
}

/// An image as the catalog knows it (the heavy manifest and config are fetched apart).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    pub id: Uuid,
    pub account: String,
    pub source_ref: String,
    pub platform: String,
    pub image_digest: Option<String>,
    pub parent_digest: Option<String>,
    pub manifest_media_type: Option<String>,
    pub config_digest: Option<String>,
    pub arch: Option<String>,
    pub os: Option<String>,
    pub image_size: Option<i64>,
    pub layer_count: Option<i32>,
    pub analysis_status: AnalysisStatus,
    pub analysis_error: Option<String>,
    pub image_status: ImageStatus,
    pub annotations: Value,
    pub analyzed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
    pub record_version: i32,
    pub findings: Value,
    pub file_count: Option<i64>,
    pub distro: Option<String>,
    pub distro_version: Option<String>,
    pub distro_namespace: Option<String>,
    pub package_count: Option<i32>,
    /// Newest first.
    pub tags: Vec<TagRecord>,
}

/// The outcome of trying to claim an image for analysis.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Now `analyzing`; the caller does the work.
    Claimed(ImageRecord),
    /// Already analysed or failed, or no longer active: nothing to do.
    Finished(ImageRecord),
    /// The record no longer exists (deleted, or merged into another with the same digest).
    Gone,
}

/// What `add_image` did.
#[derive(Debug, Clone)]
pub struct AddOutcome {
    pub image: ImageRecord,
    /// True when the image needs an analysis message (new, forced, or failed before).
    pub needs_analysis: bool,
}

/// Everything the analysis learned about an image, written in one transaction.
#[derive(Debug, Clone)]
pub struct AnalysisResult {
    pub image_digest: String,
    pub parent_digest: Option<String>,
    pub manifest_media_type: String,
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub config: Value,
    pub arch: Option<String>,
    pub os: Option<String>,
    pub image_size: i64,
    pub layers: Vec<LayerRecord>,
    /// Entries left out of the squashed view, and why (`[{layer, path, reason}]`).
    pub findings: Value,
    pub file_count: i64,
    pub distro: Option<customs_model::package::Distro>,
    pub packages: Vec<customs_model::package::Package>,
    /// Files catalogers could not (fully) read (`[{cataloger, path, layer, reason}]`).
    pub catalog_unknowns: Value,
    /// The squashed file index (`[ViewEntry]`).
    pub files: crate::FileIndex,
}

/// A layer staged in S3, by its blob digest.
#[derive(Debug, Clone)]
pub struct StagedLayerRecord {
    pub digest: String,
    pub media_type: String,
    pub compressed_size: i64,
    pub uncompressed_size: i64,
    pub entry_count: i64,
    pub staged_files: i64,
    pub staged_bytes: i64,
}

/// How far the staging of an image's layers has gone (`customs_progress` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StagingProgress {
    pub layers_total: i32,
    /// Layers ready (staged by this analysis or reused), bottom first.
    pub layers_staged: i32,
    /// Of `layers_staged`, those already staged by an earlier image.
    pub layers_reused: i32,
    /// Compressed bytes of all layers, and of the ready ones.
    pub bytes_total: i64,
    pub bytes_staged: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    /// Only images whose tag list holds this tag (newest tag detection first).
    pub tag: Option<ImageRef>,
    pub digest: Option<String>,
    /// `None` means any status.
    pub image_status: Option<ImageStatus>,
    /// `None` means any analysis status.
    pub analysis_status: Option<AnalysisStatus>,
    /// `(limit, offset)` of the ordered list; `None` is all of it.
    pub window: Option<(usize, usize)>,
}

const COLUMNS: &str = "id, account, source_ref, platform, image_digest, parent_digest, manifest_media_type, config_digest, \
     arch, os, image_size, layer_count, analysis_status, analysis_error, image_status, annotations, \
     analyzed_at, created_at, last_updated, record_version, findings, file_count, \
     distro, distro_version, distro_namespace, package_count";

/// `COLUMNS` without the findings (NULL in their place): a whole-account list does not
/// show them, and each is a jsonb value PostgreSQL would convert to text for every row.
const LIST_COLUMNS: &str = "id, account, source_ref, platform, image_digest, parent_digest, manifest_media_type, config_digest, \
     arch, os, image_size, layer_count, analysis_status, analysis_error, image_status, annotations, \
     analyzed_at, created_at, last_updated, record_version, NULL::jsonb, file_count, \
     distro, distro_version, distro_namespace, package_count";

/// The columns a whole-account list shows, in the order of [`summary`]'s indices: only
/// what is rendered, since PostgreSQL's cost of sending a row grows with its columns.
const SUMMARY_COLUMNS: &str = "id, image_digest, parent_digest, config_digest, arch, image_size, layer_count, \
     analysis_status, analysis_error, image_status, annotations, analyzed_at, created_at, last_updated, \
     record_version, distro, distro_version";

/// Column positions of `SUMMARY_COLUMNS`.
mod summary {
    pub(super) const ID: usize = 0;
    pub(super) const IMAGE_DIGEST: usize = 1;
    pub(super) const PARENT_DIGEST: usize = 2;
    pub(super) const CONFIG_DIGEST: usize = 3;
    pub(super) const ARCH: usize = 4;
    pub(super) const IMAGE_SIZE: usize = 5;
    pub(super) const LAYER_COUNT: usize = 6;
    pub(super) const ANALYSIS_STATUS: usize = 7;
    pub(super) const ANALYSIS_ERROR: usize = 8;
    pub(super) const IMAGE_STATUS: usize = 9;
    pub(super) const ANNOTATIONS: usize = 10;
    pub(super) const ANALYZED_AT: usize = 11;
    pub(super) const CREATED_AT: usize = 12;
    pub(super) const LAST_UPDATED: usize = 13;
    pub(super) const RECORD_VERSION: usize = 14;
    pub(super) const DISTRO: usize = 15;
    pub(super) const DISTRO_VERSION: usize = 16;
}

/// One image of a whole-account list ([`Store::stream_image_summaries`]): what a list shows
/// and nothing more, its text read in place from the row it arrived in rather than copied
/// field by field (a list of 10 000 images would otherwise allocate and free ~150 000
/// strings). The account is the caller's, so it is not repeated here.
pub struct ImageSummary {
    row: Row,
    analysis_status: AnalysisStatus,
    image_status: ImageStatus,
    annotations: Value,
    /// Newest first.
    pub tags: Vec<TagRecord>,
}

impl ImageSummary {
    fn new(row: Row, tags: Vec<TagRecord>) -> Result<Self, StoreError> {
        let analysis_status = AnalysisStatus::from_str(row.get(summary::ANALYSIS_STATUS))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let image_status = ImageStatus::from_str(row.get(summary::IMAGE_STATUS))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let annotations = row.get(summary::ANNOTATIONS);
        Ok(Self { row, analysis_status, image_status, annotations, tags })
    }
    pub fn id(&self) -> Uuid {
        self.row.get(summary::ID)
    }
    pub fn image_digest(&self) -> Option<&str> {
        self.row.get(summary::IMAGE_DIGEST)
    }
    pub fn parent_digest(&self) -> Option<&str> {
        self.row.get(summary::PARENT_DIGEST)
    }
    pub fn config_digest(&self) -> Option<&str> {
        self.row.get(summary::CONFIG_DIGEST)
    }
    pub fn arch(&self) -> Option<&str> {
        self.row.get(summary::ARCH)
    }
    pub fn image_size(&self) -> Option<i64> {
        self.row.get(summary::IMAGE_SIZE)
    }
    pub fn layer_count(&self) -> Option<i32> {
        self.row.get(summary::LAYER_COUNT)
    }
    pub fn analysis_status(&self) -> AnalysisStatus {
        self.analysis_status
    }
    pub fn analysis_error(&self) -> Option<&str> {
        self.row.get(summary::ANALYSIS_ERROR)
    }
    pub fn image_status(&self) -> ImageStatus {
        self.image_status
    }
    pub fn annotations(&self) -> &Value {
        &self.annotations
    }
    pub fn analyzed_at(&self) -> Option<OffsetDateTime> {
        self.row.get(summary::ANALYZED_AT)
    }
    pub fn created_at(&self) -> OffsetDateTime {
        self.row.get(summary::CREATED_AT)
    }
    pub fn last_updated(&self) -> OffsetDateTime {
        self.row.get(summary::LAST_UPDATED)
    }
    pub fn record_version(&self) -> i32 {
        self.row.get(summary::RECORD_VERSION)
    }
    pub fn distro(&self) -> Option<&str> {
        self.row.get(summary::DISTRO)
    }
    pub fn distro_version(&self) -> Option<&str> {
        self.row.get(summary::DISTRO_VERSION)
    }
}

/// Decodes a row of `COLUMNS` (or `LIST_COLUMNS`) by position (lists decode tens of thousands of rows; a
/// lookup by name would scan the column list for every field).
fn record(row: &Row) -> Result<ImageRecord, StoreError> {
    let status: String = row.get(12);
    let image_status: String = row.get(14);
    Ok(ImageRecord {
        id: row.get(0),
        account: row.get(1),
        source_ref: row.get(2),
        platform: row.get(3),
        image_digest: row.get(4),
        parent_digest: row.get(5),
        manifest_media_type: row.get(6),
        config_digest: row.get(7),
        arch: row.get(8),
        os: row.get(9),
        image_size: row.get(10),
        layer_count: row.get(11),
        analysis_status: AnalysisStatus::from_str(&status)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        analysis_error: row.get(13),
        image_status: ImageStatus::from_str(&image_status)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        annotations: row.get(15),
        analyzed_at: row.get(16),
        created_at: row.get(17),
        last_updated: row.get(18),
        record_version: row.get(19),
        // NULL only from a list that leaves the findings out (`LIST_COLUMNS`).
        findings: row.get::<_, Option<Value>>(20).unwrap_or_else(|| Value::Array(Vec::new())),
        file_count: row.get(21),
        distro: row.get(22),
        distro_version: row.get(23),
        distro_namespace: row.get(24),
        package_count: row.get(25),
        tags: Vec::new(),
    })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Loads the records for `rows` with their tags, keeping the rows' order.
const TAG_COLUMNS: &str = "image_id, registry, repo, tag, tag_detected_at, created_at, last_updated";

async fn with_tags(c: &impl GenericClient, rows: &[Row]) -> Result<Vec<ImageRecord>, StoreError> {
    let out = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<Uuid> = out.iter().map(|r| r.id).collect();
    let tags = c
        .cached_query(&format!("SELECT {TAG_COLUMNS} FROM image_tags WHERE image_id = ANY($1)"), &[&ids])
        .await?;
    Ok(attach_tags(out, &tags))
}

/// Hands each row of `TAG_COLUMNS` to its image in `out` (rows of other images are ignored),
/// newest tag first. The few tags of each image are ordered here rather than all of them in
/// the database (a collation-aware sort of every tag of the account).
fn attach_tags(mut out: Vec<ImageRecord>, tags: &[Row]) -> Vec<ImageRecord> {
    let index: HashMap<Uuid, usize> = out.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for t in tags {
        let id: Uuid = t.get(0);
        if let Some(r) = index.get(&id).and_then(|&i| out.get_mut(i)) {
            r.tags.push(tag_record(t));
        }
    }
    for r in &mut out {
        sort_tags(&mut r.tags);
    }
    out
}

/// Position of `image_created_at`, which the whole-account list reads after `TAG_COLUMNS`.
const TAG_IMAGE_CREATED_AT: usize = 7;

/// The tags of a whole-account list, in list order: streamed from a second connection, or,
/// when the pool has none to spare, read whole from the images' own connection first.
enum TagRows {
    /// The rows, and the connection they arrive on (held until the list ends).
    Streamed { rows: std::pin::Pin<Box<tokio_postgres::RowStream>>, _conn: deadpool_postgres::Object },
    Read(std::vec::IntoIter<Row>),
    /// Every tag has been read; the second connection is back in the pool.
    Done,
}

impl TagRows {
    /// The next tag; `None` once they are all read, however often it is asked again (a
    /// finished `RowStream` asked again reports its connection closed).
    async fn next(&mut self) -> Result<Option<Row>, StoreError> {
        let row = match self {
            Self::Streamed { rows, .. } => rows.try_next().await?,
            Self::Read(rows) => rows.next(),
            Self::Done => None,
        };
        if row.is_none() {
            *self = Self::Done;
        }
        Ok(row)
    }
}

/// Where `a` comes relative to `b` in the list's order: newest image first, then by id.
fn list_order(a: &(OffsetDateTime, Uuid), b: &(OffsetDateTime, Uuid)) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1))
}

/// Decodes a row of `TAG_COLUMNS`.
fn tag_record(t: &Row) -> TagRecord {
    TagRecord {
        registry: t.get(1),
        repo: t.get(2),
        tag: t.get(3),
        tag_detected_at: t.get(4),
        created_at: t.get(5),
        last_updated: t.get(6),
    }
}

/// An image's tags, newest detection first.
fn sort_tags(tags: &mut [TagRecord]) {
    if tags.len() > 1 {
        tags.sort_by(|a, b| b.tag_detected_at.cmp(&a.tag_detected_at).then_with(|| a.tag.cmp(&b.tag)));
    }
}

async fn by_id(
    c: &impl GenericClient,
    account: &str,
    id: Uuid,
) -> Result<Option<ImageRecord>, StoreError> {
    let rows = c
        .cached_query(&format!("SELECT {COLUMNS} FROM images WHERE account = $1 AND id = $2"), &[&account, &id])
        .await?;
    Ok(with_tags(c, &rows).await?.into_iter().next())
}

async fn upsert_tag(
    c: &impl GenericClient,
    account: &str,
    id: Uuid,
    r: &ImageRef,
    tag: &str,
) -> Result<(), StoreError> {
    // The tag already names this image last: nothing to record. Writing anyway (even an
    // ON CONFLICT that changes nothing locks the row) would make every repeat add a
    // write transaction waiting for its commit to reach the disk.
    let newest = c
        .cached_query_opt(
            "SELECT image_id FROM image_tags WHERE account = $1 AND registry = $2 AND repo = $3 AND tag = $4
             ORDER BY tag_detected_at DESC LIMIT 1",
            &[&account, &r.registry, &r.repo, &tag],
        )
        .await?;
    if newest.is_some_and(|row| row.get::<_, Uuid>(0) == id) {
        return Ok(());
    }
    c.execute(
        "INSERT INTO image_tags (image_id, account, registry, repo, tag) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (image_id, registry, repo, tag)
         DO UPDATE SET tag_detected_at = now(), last_updated = now()",
        &[&id, &account, &r.registry, &r.repo, &tag],
    )
    .await?;
    Ok(())
}

impl Store {
    /// Records an image for analysis, Anchore-style: a repeat add of the same reference
    /// returns the existing record unchanged, unless `force` is set or the last
    /// analysis failed, in which case the image is queued again.
    pub async fn add_image(
        &self,
        account: &str,
        reference: &ImageRef,
        platform: &str,
        annotations: &Value,
        force: bool,
        resolved: Option<(&str, Option<&str>)>,
    ) -> Result<AddOutcome, StoreError> {
        let mut conn = self.conn().await?;
        // The commonest add (a pipeline adding the tag it added before) changes nothing:
        // answered by one read, without the lock that serialises adds of a reference.
        if let (false, Some(d)) = (force, resolved.map(|r| r.0).or(reference.digest.as_deref())) {
            let rows = conn
                .cached_query(
                    &format!(
                        "SELECT {COLUMNS} FROM images
                         WHERE account = $1 AND image_digest = $2 AND analysis_status <> 'analysis_failed'
                           AND ($3::text IS NULL OR id = (
                               SELECT image_id FROM image_tags
                               WHERE account = $1 AND registry = $4 AND repo = $5 AND tag = $3
                               ORDER BY tag_detected_at DESC LIMIT 1))"
                    ),
                    &[&account, &d, &reference.tag, &reference.registry, &reference.repo],
                )
                .await?;
            if rows.len() == 1 {
                let mut found = with_tags(&conn, &rows).await?;
                if let Some(image) = found.pop() {
                    return Ok(AddOutcome { image, needs_analysis: false });
                }
            }
        }
        let tx = conn.transaction().await?;
        // Serialise adds of the same reference so two concurrent adds make one record.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("{account} {reference}")],
        )
        .await?;
        let existing = match (resolved.map(|r| r.0).or(reference.digest.as_deref()), &reference.tag) {
            (Some(d), _) => {
                tx.query_opt(
                    "SELECT id FROM images WHERE account = $1 AND image_digest = $2",
                    &[&account, &d],
                )
                .await?
            }
            (None, Some(t)) => {
                tx.query_opt(
                    "SELECT i.id FROM images i JOIN image_tags t ON t.image_id = i.id
                     WHERE t.account = $1 AND t.registry = $2 AND t.repo = $3 AND t.tag = $4
                       AND i.image_status = 'active'
                     ORDER BY t.tag_detected_at DESC LIMIT 1",
                    &[&account, &reference.registry, &reference.repo, t],
                )
                .await?
            }
            (None, None) => None,
        };
        let existing = match existing {
            Some(row) => by_id(&tx, account, row.get(0)).await?,
            None => None,
        };
        if let Some(img) = existing {
            let retry = force || img.analysis_status == AnalysisStatus::AnalysisFailed;
            if !retry {
                if let (true, Some(t)) = (reference.digest.is_some() || resolved.is_some(), &reference.tag) {
                    upsert_tag(&tx, account, img.id, reference, t).await?;
                }
                let image = by_id(&tx, account, img.id)
                    .await?
                    .ok_or(StoreError::ImageNotFound(img.id))?;
                tx.commit().await?;
                return Ok(AddOutcome {
                    image,
                    needs_analysis: false,
                });
            }
            if img.image_digest.is_none() || img.analysis_status != AnalysisStatus::Analyzed || resolved.is_some() {
                // Never resolved or failed: analyse the same record again.
                tx.execute(
                    "UPDATE images SET analysis_status = 'not_analyzed', analysis_error = NULL,
                         source_ref = $3, platform = $4, annotations = annotations || $5,
                         image_status = 'active', last_updated = now(), record_version = record_version + 1
                     WHERE account = $1 AND id = $2",
                    &[&account, &img.id, &reference.to_string(), &platform, annotations],
                )
                .await?;
                if let Some(t) = &reference.tag {
                    upsert_tag(&tx, account, img.id, reference, t).await?;
                }
                let image = by_id(&tx, account, img.id)
                    .await?
                    .ok_or(StoreError::ImageNotFound(img.id))?;
                tx.commit().await?;
                return Ok(AddOutcome {
                    image,
                    needs_analysis: true,
                });
            }
            // Forced re-add of an analysed image: the tag may have moved, so resolve it
            // afresh in a new record; completion merges it if the digest is unchanged.
        }
        let id = Uuid::new_v4();
        tx.execute(
            "INSERT INTO images (id, account, source_ref, platform, annotations, image_digest, parent_digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&id, &account, &reference.to_string(), &platform, annotations, &resolved.map(|r| r.0), &resolved.and_then(|r| r.1)],
        )
        .await?;
        if let Some(t) = &reference.tag {
            upsert_tag(&tx, account, id, reference, t).await?;
        }
        let image = by_id(&tx, account, id)
            .await?
            .ok_or(StoreError::ImageNotFound(id))?;
        tx.commit().await?;
        Ok(AddOutcome {
            image,
            needs_analysis: true,
        })
    }

    /// Records an image uploaded as an archive: always a new record (each upload is its
    /// own source), analysed from `source_ref` (`upload:<format>:<key>`), optionally
    /// tagged. Completion merges it into an existing record with the same digest.
    pub async fn add_uploaded_image(
        &self,
        account: &str,
        source_ref: &str,
        tag: Option<&ImageRef>,
        platform: &str,
        annotations: &Value,
    ) -> Result<ImageRecord, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let id = Uuid::new_v4();
        tx.execute(
            "INSERT INTO images (id, account, source_ref, platform, annotations) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &account, &source_ref, &platform, annotations],
        )
        .await?;
        if let Some((r, t)) = tag.and_then(|r| r.tag.as_ref().map(|t| (r, t))) {
            upsert_tag(&tx, account, id, r, t).await?;
        }
        let image = by_id(&tx, account, id).await?.ok_or(StoreError::ImageNotFound(id))?;
        tx.commit().await?;
        Ok(image)
    }

    /// Records how far an image's staging has gone (replacing what was there).
    pub async fn set_staging_progress(&self, image_id: Uuid, p: &StagingProgress) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO image_staging_progress (image_id, layers_total, layers_staged, layers_reused, bytes_total, bytes_staged)
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM images WHERE id = $1)
             ON CONFLICT (image_id) DO UPDATE SET layers_total = $2, layers_staged = $3, layers_reused = $4,
                 bytes_total = $5, bytes_staged = $6, updated_at = now()",
            &[&image_id, &p.layers_total, &p.layers_staged, &p.layers_reused, &p.bytes_total, &p.bytes_staged],
        )
        .await?;
        Ok(())
    }

    /// The staging progress of an image and when it was last updated, if any was recorded.
    pub async fn staging_progress(&self, image_id: Uuid) -> Result<Option<(StagingProgress, OffsetDateTime)>, StoreError> {
        let conn = self.conn().await?;
        let row = conn
            .cached_query_opt(
                "SELECT layers_total, layers_staged, layers_reused, bytes_total, bytes_staged, updated_at
                 FROM image_staging_progress WHERE image_id = $1",
                &[&image_id],
            )
            .await?;
        Ok(row.map(|r| {
            (
                StagingProgress {
                    layers_total: r.get(0),
                    layers_staged: r.get(1),
                    layers_reused: r.get(2),
                    bytes_total: r.get(3),
                    bytes_staged: r.get(4),
                },
                r.get(5),
            )
        }))
    }

    /// Claims a record for analysis (sets `analyzing`). A redelivered message finds the
    /// record already finished or gone and reports that instead, so handling is idempotent.
    pub async fn begin_analysis(&self, account: &str, id: Uuid) -> Result<Claim, StoreError> {
        let conn = self.conn().await?;
        let n = conn
            .execute(
                "UPDATE images SET analysis_status = 'analyzing', last_updated = now()
                 WHERE account = $1 AND id = $2 AND analysis_status IN ('not_analyzed', 'analyzing')
                   AND image_status = 'active'",
                &[&account, &id],
            )
            .await?;
        let image = by_id(&conn, account, id).await?;
        Ok(match image {
            None => Claim::Gone,
            Some(img) if n == 1 => Claim::Claimed(img),
            Some(img) => Claim::Finished(img),
        })
    }

    /// Stores a finished analysis. When another record of the account already has the
    /// resolved digest, the tags move to it and this record is dropped; the returned
    /// record is the one that now holds the analysis.
    pub async fn complete_analysis(
        &self,
        account: &str,
        id: Uuid,
        r: &AnalysisResult,
    ) -> Result<ImageRecord, StoreError> {
        self.complete(account, id, None, r).await?.ok_or(StoreError::ImageNotFound(id))
    }

    /// Stores the analysis assembled for staging job `job_id`, and ends the job, in one
    /// transaction: only while the job is still the image's and the image `analyzing`,
    /// so of concurrent or repeated assemblies of a job exactly one is recorded. `None`:
    /// nothing was written (the job is over, or a newer analysis replaced it).
    pub async fn complete_staged_analysis(
        &self,
        account: &str,
        id: Uuid,
        job_id: Uuid,
        r: &AnalysisResult,
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.complete(account, id, Some(job_id), r).await
    }

    async fn complete(
        &self,
        account: &str,
        id: Uuid,
        job: Option<Uuid>,
        r: &AnalysisResult,
    ) -> Result<Option<ImageRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT analysis_status FROM images WHERE account = $1 AND id = $2 FOR UPDATE",
                &[&account, &id],
            )
            .await?
        else {
            return Err(StoreError::ImageNotFound(id));
        };
        if let Some(job) = job {
            let status: String = row.get(0);
            let ended = tx
                .execute("DELETE FROM image_staging_jobs WHERE job_id = $1 AND image_id = $2", &[&job, &id])
                .await?;
            if status != AnalysisStatus::Analyzing.as_str() || ended != 1 {
                return Ok(None);
            }
        }
        let other = tx
            .query_opt(
                "SELECT id FROM images WHERE account = $1 AND image_digest = $2 AND id <> $3 FOR UPDATE",
                &[&account, &r.image_digest, &id],
            )
            .await?;
        let target: Uuid = match other {
            Some(row) => {
                let target: Uuid = row.get(0);
                tx.execute(
                    "INSERT INTO image_tags (image_id, account, registry, repo, tag, tag_detected_at)
                     SELECT $3, account, registry, repo, tag, tag_detected_at FROM image_tags
                     WHERE account = $1 AND image_id = $2
                     ON CONFLICT (image_id, registry, repo, tag)
                     DO UPDATE SET tag_detected_at = EXCLUDED.tag_detected_at, last_updated = now()",
                    &[&account, &id, &target],
                )
                .await?;
                tx.execute(
                    "DELETE FROM images WHERE account = $1 AND id = $2",
                    &[&account, &id],
                )
                .await?;
                target
            }
            None => id,
        };
        let layer_count = i32::try_from(r.layers.len()).unwrap_or(i32::MAX);
        tx.execute(
            "UPDATE images SET image_digest = $3, parent_digest = $4, manifest_media_type = $5, manifest = $6,
                 config = $7, arch = $8, os = $9, image_size = $10, layer_count = $11, config_digest = $12, findings = $13, file_count = $14,
                 distro = $15, distro_version = $16, distro_namespace = $17, package_count = $18, catalog_unknowns = $19,
                 analysis_status = 'analyzed', analysis_error = NULL, image_status = 'active',
                 analyzed_at = now(), last_updated = now(), record_version = record_version + 1
             WHERE account = $1 AND id = $2",
            &[
                &account,
                &target,
                &r.image_digest,
                &r.parent_digest,
                &r.manifest_media_type,
                &r.manifest,
                &r.config,
                &r.arch,
                &r.os,
                &r.image_size,
                &layer_count,
                &r.config_digest,
                &r.findings,
                &r.file_count,
                &r.distro.as_ref().map(|d| d.id.clone()),
                &r.distro.as_ref().map(|d| d.version.clone()),
                &r.distro.as_ref().map(|d| d.namespace.clone()),
                &i32::try_from(r.packages.len()).unwrap_or(i32::MAX),
                &r.catalog_unknowns,
            ],
        )
        .await?;
        tx.execute("DELETE FROM image_layers WHERE image_id = $1", &[&target])
            .await?;
        for (i, l) in r.layers.iter().enumerate() {
            let ordinal = i32::try_from(i).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO image_layers (image_id, ordinal, digest, media_type, size, diff_id, uncompressed_size, entry_count)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &target,
                    &ordinal,
                    &l.digest,
                    &l.media_type,
                    &l.size,
                    &l.diff_id,
                    &l.uncompressed_size,
                    &l.entry_count,
                ],
            )
            .await?;
        }
        tx.execute("DELETE FROM image_packages WHERE image_id = $1", &[&target])
            .await?;
        // The file index is sent first, and PostgreSQL stores it while the first batch of
        // packages is built (both requests are pipelined on the connection).
        let files = async {
            tx.execute(
                "INSERT INTO image_files (image_id, files_lz4) VALUES ($1, $2)
                 ON CONFLICT (image_id) DO UPDATE SET files = NULL, files_lz4 = EXCLUDED.files_lz4",
                &[&target, &r.files.bytes()],
            )
            .await
            .map_err(StoreError::from)
        };
        futures::try_join!(files, write_packages(&tx, target, &r.packages))?;
        let image = by_id(&tx, account, target)
            .await?
            .ok_or(StoreError::ImageNotFound(target))?;
        tx.commit().await?;
        Ok(Some(image))
    }

    /// Records why an analysis failed. An analysed image is never downgraded.
    pub async fn fail_analysis(
        &self,
        account: &str,
        id: Uuid,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute(
                "UPDATE images SET analysis_status = 'analysis_failed', analysis_error = $3,
                     last_updated = now(), record_version = record_version + 1
                 WHERE account = $1 AND id = $2 AND analysis_status <> 'analyzed'",
                &[&account, &id, &reason],
            )
            .await?;
        Ok(())
    }

    pub async fn image(&self, account: &str, id: Uuid) -> Result<Option<ImageRecord>, StoreError> {
        by_id(&self.conn().await?, account, id).await
    }

    /// Images of an account, newest first (by tag detection when filtering by tag), ties
    /// broken by id so pages are stable; filtered and paged by the database. A list of the
    /// whole account (no tag, digest or window) leaves each image's findings empty (a list
    /// does not show them).
    pub async fn list_images(
        &self,
        account: &str,
        f: &ImageFilter,
    ) -> Result<Vec<ImageRecord>, StoreError> {
        let conn = self.conn().await?;
        let status = f.image_status.map(ImageStatus::as_str);
        let analysis = f.analysis_status.map(AnalysisStatus::as_str);
        let (limit, offset) = match f.window {
            Some((l, o)) => (Some(to_i64(l)), to_i64(o)),
            None => (None, 0),
        };
        let rows = match &f.tag {
            Some(r) => {
                let tag = r.tag.clone().unwrap_or_default();
                let cols = COLUMNS
                    .split(", ")
                    .map(|c| format!("i.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                conn.cached_query(
                    &format!(
                        "SELECT {cols} FROM images i JOIN image_tags t ON t.image_id = i.id
                         WHERE t.account = $1 AND t.registry = $2 AND t.repo = $3 AND t.tag = $4
                           AND ($5::text IS NULL OR i.image_status = $5)
                           AND ($6::text IS NULL OR i.image_digest = $6)
                           AND ($7::text IS NULL OR i.analysis_status = $7)
                         ORDER BY t.tag_detected_at DESC, i.id LIMIT $8 OFFSET $9"
                    ),
                    &[
                        &account,
                        &r.registry,
                        &r.repo,
                        &tag,
                        &status,
                        &f.digest,
                        &analysis,
                        &limit,
                        &offset,
                    ],
                )
                .await?
            }
            None => {
                let images = format!(
                    "SELECT {COLUMNS} FROM images
                     WHERE account = $1 AND ($2::text IS NULL OR image_status = $2)
                       AND ($3::text IS NULL OR image_digest = $3)
                       AND ($4::text IS NULL OR analysis_status = $4)
                     ORDER BY created_at DESC, id LIMIT $5 OFFSET $6"
                );
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [&account, &status, &f.digest, &analysis, &limit, &offset];
                if f.window.is_none() && f.digest.is_none() {
                    let whole = format!(
                        "SELECT {LIST_COLUMNS} FROM images
                         WHERE account = $1 AND ($2::text IS NULL OR image_status = $2)
                           AND ($3::text IS NULL OR analysis_status = $3)
                         ORDER BY created_at DESC, id"
                    );
                    let rows = conn.cached_query(&whole, &[&account, &status, &analysis]).await?;
                    return with_tags(&conn, &rows).await;
                }
                conn.cached_query(&images, &params).await?
            }
        };
        with_tags(&conn, &rows).await
    }

    /// Every image of an account with these statuses, as [`list_images`](Self::list_images)
    /// orders them, as [`ImageSummary`]s with their tags, in a stream: each image is handed
    /// on as PostgreSQL sends its row, so a caller can render and send the first images of
    /// a long list while the database still produces the last. The tags are read by
    /// account at the same time on a second connection when the pool has one free at once
    /// (no list of ids to send, no wait for the first answer); else they go first on the
    /// same connection, so a busy pool never waits on itself.
    pub async fn stream_image_summaries(
        &self,
        account: &str,
        image_status: Option<ImageStatus>,
        analysis_status: Option<AnalysisStatus>,
    ) -> Result<impl Stream<Item = Result<ImageSummary, StoreError>> + Send + 'static, StoreError> {
        let conn = self.conn().await?;
        let status = image_status.map(ImageStatus::as_str);
        let analysis = analysis_status.map(AnalysisStatus::as_str);
        let images = format!(
            "SELECT {SUMMARY_COLUMNS} FROM images
             WHERE account = $1 AND ($2::text IS NULL OR image_status = $2)
               AND ($3::text IS NULL OR analysis_status = $3)
             ORDER BY created_at DESC, id"
        );
        // The tags in the images' order (V0160), so the two streams pair up as they come.
        let tags = format!(
            "SELECT {TAG_COLUMNS}, image_created_at FROM image_tags WHERE account = $1
             ORDER BY image_created_at DESC, image_id"
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&account, &status, &analysis];
        let now = deadpool_postgres::Timeouts { wait: Some(std::time::Duration::ZERO), ..Default::default() };
        let (rows, tags): (_, TagRows) = match self.pool.timeout_get(&now).await {
            Ok(other) => {
                let (images, tags) = futures::future::try_join(conn.prepare_cached(&images), other.prepare_cached(&tags)).await?;
                let (rows, stream) = futures::future::try_join(
                    conn.query_raw(&images, params),
                    other.query_raw(&tags, [&account as &(dyn tokio_postgres::types::ToSql + Sync)]),
                )
                .await?;
                (rows, TagRows::Streamed { rows: Box::pin(stream), _conn: other })
            }
            Err(_) => {
                // One connection: the tags are read whole first (two streams on one
                // connection would wait on each other), then the images stream.
                let (images, tags) = futures::future::try_join(conn.prepare_cached(&images), conn.prepare_cached(&tags)).await?;
                let tags = conn.query(&tags, &[&account]).await?;
                let rows = conn.query_raw(&images, params).await?;
                (rows, TagRows::Read(tags.into_iter()))
            }
        };
        // The connection stays with the stream until the last row is read.
        let state = (conn, Box::pin(rows), tags, None::<Row>);
        Ok(futures::stream::try_unfold(state, |(conn, mut rows, mut tags, mut held)| async move {
            let Some(row) = rows.try_next().await? else {
                return Ok(None);
            };
            let key: (OffsetDateTime, Uuid) = (row.get(summary::CREATED_AT), row.get(summary::ID));
            let mut mine = Vec::new();
            loop {
                let tag = match held.take() {
                    Some(t) => t,
                    None => match tags.next().await? {
                        Some(t) => t,
                        None => break,
                    },
                };
                match list_order(&(tag.get(TAG_IMAGE_CREATED_AT), tag.get(0)), &key) {
                    // A tag of an image the filters left out (or added since the images were read).
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => mine.push(tag_record(&tag)),
                    std::cmp::Ordering::Greater => {
                        held = Some(tag);
                        break;
                    }
                }
            }
            sort_tags(&mut mine);
            Ok(Some((ImageSummary::new(row, mine)?, (conn, rows, tags, held))))
        }))
    }

    /// The stored raw manifest and config of an analysed image.
    pub async fn image_manifest(
        &self,
        account: &str,
        id: Uuid,
    ) -> Result<Option<(Vec<u8>, Value)>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                "SELECT manifest, config FROM images WHERE account = $1 AND id = $2 AND manifest IS NOT NULL",
                &[&account, &id],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    pub async fn image_layers(&self, id: Uuid) -> Result<Vec<LayerRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .cached_query(
                "SELECT digest, media_type, size, diff_id, uncompressed_size, entry_count
                 FROM image_layers WHERE image_id = $1 ORDER BY ordinal",
                &[&id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LayerRecord {
                digest: r.get(0),
                media_type: r.get(1),
                size: r.get(2),
                diff_id: r.get(3),
                uncompressed_size: r.get(4),
                entry_count: r.get(5),
            })
            .collect())
    }

    /// Records that a layer is staged (idempotent: the first record stays).
    pub async fn record_staged_layer(&self, l: &StagedLayerRecord) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute(
                "INSERT INTO staged_blobs (digest, media_type, compressed_size, uncompressed_size, entry_count, staged_files, staged_bytes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (digest) DO NOTHING",
                &[&l.digest, &l.media_type, &l.compressed_size, &l.uncompressed_size, &l.entry_count, &l.staged_files, &l.staged_bytes],
            )
            .await?;
        Ok(())
    }

    /// When each of the layers `digests` (blob digests) was staged (absent ones are not).
    pub async fn staged_at(&self, digests: &[String]) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query("SELECT digest, staged_at FROM staged_blobs WHERE digest = ANY($1)", &[&digests])
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Deletes an image (tags and layers with it). An image being analysed is kept unless
    /// `force`. Returns the image's state before, or `None` when there was no such image.
    pub async fn delete_image(&self, account: &str, digest: &str, force: bool) -> Result<Option<AnalysisStatus>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT id, analysis_status FROM images WHERE account = $1 AND image_digest = $2 FOR UPDATE",
                &[&account, &digest],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let id: Uuid = row.get(0);
        let status: String = row.get(1);
        let status = AnalysisStatus::from_str(&status).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if status == AnalysisStatus::Analyzing && !force {
            return Ok(Some(status));
        }
        tx.execute("DELETE FROM images WHERE account = $1 AND id = $2", &[&account, &id]).await?;
        tx.commit().await?;
        Ok(Some(status))
    }

    /// The squashed file index recorded for an image as JSON text, for readers that parse
    /// only the fields they need (as a `Value` tree, the index of an image with 300 000
    /// files takes over a gigabyte).
    pub async fn image_files_text(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        let row = self.conn().await?.query_opt("SELECT files::text, files_lz4 FROM image_files WHERE image_id = $1", &[&id]).await?;
        let Some(row) = row else { return Ok(None) };
        // The json document when there is one: recorded before V0210, or over a newer row
        // by an analyze of before it (whose compressed document is then stale).
        match (row.get::<_, Option<String>>(0), row.get::<_, Option<&[u8]>>(1)) {
            (Some(text), _) => Ok(Some(text)),
            (None, Some(stored)) => crate::FileIndex::text(stored).map(Some),
            (None, None) => Err(StoreError::Corrupt(format!("image {id} has a file index row without a document"))),
        }
    }

    /// The packages recorded for an image, in catalog order.
    pub async fn image_packages(&self, id: Uuid) -> Result<Vec<customs_model::package::Package>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query("SELECT package, package_lz4 FROM image_packages WHERE image_id = $1 ORDER BY seq", &[&id])
            .await?;
        rows.iter().map(stored_package).collect()
    }
}

/// A recorded package (a row of `package, package_lz4`), parsed straight from its stored
/// JSON text (no `Value` tree): the json column when it is set, else the compressed one.
fn stored_package(row: &tokio_postgres::Row) -> Result<customs_model::package::Package, StoreError> {
    let text = match (row.try_get::<_, Option<crate::JsonText>>(0)?, row.try_get::<_, Option<&[u8]>>(1)?) {
        (Some(json), _) => json.0,
        (None, Some(stored)) => crate::file_index::decompress(stored, "package")?,
        (None, None) => return Err(StoreError::Corrupt("a stored package has no document".into())),
    };
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("stored package: {e}")))
}

/// Packages whose JSON is longer are compressed by the writer (`package_lz4`, V0230):
/// dpkg packages with their file lists. Shorter ones are not worth a frame.
const COMPRESS_PACKAGES_OVER: usize = 2048;

/// Inserts packages in batches of one statement each (UNNEST over arrays).
async fn write_packages(c: &impl GenericClient, image: Uuid, packages: &[customs_model::package::Package]) -> Result<(), StoreError> {
    use futures::{StreamExt as _, TryStreamExt as _};
    let insert = c
        .prepare(
            "INSERT INTO image_packages (image_id, seq, package, name, version, type, purl, source_name, package_lz4)
             SELECT $1, * FROM UNNEST($2::int[], $3::json[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[])",
        )
        .await?;
    let insert = &insert;
    // A few batches in flight at once: the connection pipelines them, so PostgreSQL goes
    // from one to the next without waiting for a round trip, and only those batches are
    // held as JSON text.
    // The futures are made up front (each builds its batch only when first polled): a
    // stream mapping through a closure would make the caller's future `Send` only for
    // some lifetimes, which `tokio::spawn` refuses.
    let batches: Vec<_> = packages
        .chunks(1000)
        .enumerate()
        .map(|(chunk_no, chunk)| async move {
            let mut seq = Vec::with_capacity(chunk.len());
            let mut json = Vec::with_capacity(chunk.len());
            let mut compressed = Vec::with_capacity(chunk.len());
            let (mut names, mut versions, mut types, mut purls, mut sources) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (i, p) in chunk.iter().enumerate() {
                seq.push(i32::try_from(chunk_no * 1000 + i).unwrap_or(i32::MAX));
                let text = serde_json::to_string(p).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if text.len() > COMPRESS_PACKAGES_OVER {
                    compressed.push(Some(crate::file_index::compress(&text)?));
                    json.push(None);
                } else {
                    compressed.push(None);
                    json.push(Some(crate::JsonText(text)));
                }
                names.push(p.name.as_str());
                versions.push(p.version.as_str());
                types.push(p.kind.as_str());
                purls.push(p.purl.as_str());
                sources.push(p.source_name.as_deref());
            }
            c.execute(insert, &[&image, &seq, &json, &names, &versions, &types, &purls, &sources, &compressed]).await?;
            Ok::<_, StoreError>(())
        })
        .collect();
    futures::stream::iter(batches)
        .buffered(3)
        .try_collect::<()>()
        .await
}

impl Store {
    /// The packages of the image `registry/repo:tag` pointed to before image `id` (for the
    /// `tag_drift` gate): the most recently detected other analysed image of the account with
    /// that tag, detected before `id` was. `None` when there is no such image (or `id` does
    /// not carry the tag).
    pub async fn previous_tag_packages(
        &self,
        account: &str,
        id: Uuid,
        registry: &str,
        repo: &str,
        tag: &str,
    ) -> Result<Option<Vec<customs_model::package::Package>>, StoreError> {
        let conn = self.conn().await?;
        let Some(prev) = conn
            .query_opt(
                "SELECT t.image_id FROM image_tags t JOIN images i ON i.id = t.image_id
                 JOIN image_tags cur ON cur.image_id = $2 AND cur.account = t.account
                      AND cur.registry = t.registry AND cur.repo = t.repo AND cur.tag = t.tag
                 WHERE t.account = $1 AND t.registry = $3 AND t.repo = $4 AND t.tag = $5
                   AND t.image_id <> $2 AND i.analysis_status = 'analyzed'
                   AND t.tag_detected_at < cur.tag_detected_at
                 ORDER BY t.tag_detected_at DESC LIMIT 1",
                &[&account, &id, &registry, &repo, &tag],
            )
            .await?
        else {
            return Ok(None);
        };
        let prev: Uuid = prev.get(0);
        let rows = conn.query("SELECT package, package_lz4 FROM image_packages WHERE image_id = $1 ORDER BY seq", &[&prev]).await?;
        rows.iter().map(stored_package).collect::<Result<Vec<_>, _>>().map(Some)
    }
}
