//! One feed's sync: for each source, fetch (unless unchanged), normalise on a blocking
//! thread, and store in batches, then record the run.

use std::collections::BTreeSet;
use std::io::Read;
use std::time::Instant;

use customs_feeds::{names, Advisory, Document, Enrichment, Feed, Output};
use customs_store::{
    write_lane, AdvisoryRow, EpssRow, FeedCursor, JsonText, KevRow, PackageRow, Store, SyncSummary, WriteLaneState, WRITE_LANES,
};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::fetch::{file_path, list_dir, Body, Fetched, Fetcher};
use crate::{nvd, redhat, Sources, SyncError};

/// Records per transaction.
pub(crate) const BATCH: usize = 1000;

/// Records written or removed by a sync past which it refreshes the planner's statistics
/// of the advisory tables before it ends.
const ANALYZE_AFTER: i64 = 10_000;

/// What one feed's sync did (rendered as Anchore's FeedSyncResults by the API's caller).
#[derive(Debug, Clone, Default)]
pub struct FeedReport {
    pub feed: String,
    pub sync_id: i64,
    pub ok: bool,
    pub seconds: f64,
    pub summary: SyncSummary,
    pub errors: Vec<String>,
}

fn parse_time(s: &Option<String>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.as_deref()?, &Rfc3339).ok()
}

fn parse_date(s: Option<&str>) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s?.get(..10)?, &fmt).ok()
}

fn hex(d: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(d.len() * 2);
    for b in d {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The row of one advisory (its content hash over the whole normalised record). Takes
/// the advisory so its strings move into the row rather than being copied; its CVSS
/// scores and package ranges become JSON text directly (no `Value` tree in between).
pub(crate) fn advisory_row(a: Advisory) -> AdvisoryRow {
    thread_local! {
        /// The serialised record being hashed, reused from record to record.
        static SERIALISED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let content_hash = SERIALISED.with_borrow_mut(|buf| {
        buf.clear();
        let _ = serde_json::to_writer(&mut *buf, &a);
        hex(&Sha256::digest(buf.as_slice()))
    });
    AdvisoryRow {
        cvss: JsonText(serde_json::to_string(&a.cvss).unwrap_or_else(|_| "[]".into())),
        severity: a.severity.as_ref().map(|s| s.label.clone()),
        severity_source: a.severity.map(|s| s.source),
        published: parse_time(&a.published),
        modified: parse_time(&a.modified),
        withdrawn: parse_time(&a.withdrawn),
        id: a.id,
        aliases: a.aliases,
        summary: a.summary,
        description: a.description,
        references: a.references,
        packages: a
            .affected
            .into_iter()
            .map(|p| PackageRow {
                ranges: JsonText(serde_json::to_string(&p.ranges).unwrap_or_else(|_| "[]".into())),
                state: p.state.as_str().to_owned(),
                namespace: p.namespace,
                package: p.package,
                version_format: p.version_format,
                versions: p.versions,
                fixed: p.fixed,
                severity: p.severity,
            })
            .collect(),
        content_hash,
    }
}

/// An advisory without the packages of disabled groups, as its row.
fn prepare(mut a: Advisory, disabled: &BTreeSet<String>) -> AdvisoryRow {
    if !disabled.is_empty() {
        a.affected.retain(|p| !disabled.contains(&p.namespace));
    }
    advisory_row(a)
}

/// The ids a snapshot scope has seen, compactly: one string of NUL-terminated ids (about
/// the ids' own bytes; a set of `String`s costs several times that), sorted for lookups
/// only when the scope ends.
#[derive(Default)]
pub(crate) struct SeenIds(String);

impl SeenIds {
    fn insert(&mut self, id: &str) {
        self.0.push_str(id);
        self.0.push('\0');
    }

    /// A sorted view for membership tests.
    fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.0.split_terminator('\0').collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// A batch in id order, each id once (the last row given for it). Archives list their
/// entries by id already, so the (stable) sort finds one run and moves nothing; a map
/// keyed by id did the same job with a copied id and tree nodes of whole rows per record.
fn one_row_per_id(mut batch: Vec<AdvisoryRow>) -> Vec<AdvisoryRow> {
    batch.sort_by(|a, b| a.id.cmp(&b.id));
    // `dedup_by` keeps the first of equal neighbours: hand it the later row first.
    batch.dedup_by(|later, kept| {
        let same = later.id == kept.id;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    batch
}

/// What the normalising thread hands to the writer: advisories already turned into rows
/// (hashing and conversion happen there, beside parsing, not on the writer's task).
enum Item {
    Row(AdvisoryRow),
    Other(Output),
}

/// What a write lane's task is asked to do.
enum LaneMsg {
    /// Write one batch (ids of this lane only, each once).
    Batch(Vec<AdvisoryRow>),
    /// Answer with the records written since the last barrier, once everything sent
    /// before it is committed.
    Barrier(oneshot::Sender<u64>),
}

/// One batch writer of a scope: a task with its own connection (taken per batch) and
/// its own advisory-lock key, writing the ids [`write_lane`] gives it.
struct Lane {
    tx: mpsc::Sender<LaneMsg>,
    task: Option<tokio::task::JoinHandle<Result<u64, SyncError>>>,
}

impl Lane {
    fn spawn(store: Store, sync_id: i64, feed: &'static str, scope: String, mut state: WriteLaneState) -> Self {
        // One batch queued per lane (plus one being written): the parser runs ahead by
        // that much and no more.
        let (tx, mut rx) = mpsc::channel::<LaneMsg>(1);
        let task = tokio::spawn(async move {
            let mut written = 0;
            while let Some(msg) = rx.recv().await {
                match msg {
                    LaneMsg::Batch(batch) => {
                        written += store.write_advisories(sync_id, feed, &scope, &batch, &mut state).await?.written;
                    }
                    LaneMsg::Barrier(ack) => {
                        let _ = ack.send(std::mem::take(&mut written));
                    }
                }
            }
            Ok(written)
        });
        Self { tx, task: Some(task) }
    }

    /// Hands `msg` to the lane; if the lane has stopped, its error.
    async fn send(&mut self, msg: LaneMsg) -> Result<(), SyncError> {
        if self.tx.send(msg).await.is_ok() {
            return Ok(());
        }
        Err(self.failure().await)
    }

    /// Why the lane's task stopped.
    async fn failure(&mut self) -> SyncError {
        match self.task.take() {
            Some(t) => match t.await {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => SyncError::Worker("feed write lane stopped".into()),
                Err(e) => SyncError::Worker(e.to_string()),
            },
            None => SyncError::Worker("feed write lane stopped".into()),
        }
    }
}

/// Accumulates one scope's outputs and writes them in batches, advisories through
/// [`WRITE_LANES`] writers side by side.
pub(crate) struct Writer<'s> {
    pub store: &'s Store,
    pub sync_id: i64,
    pub feed: &'static str,
    pub scope: String,
    pub summary: &'s mut SyncSummary,
    seen: SeenIds,
    /// Per lane, the advisories of its next batch, in arrival order (sorted by id, and
    /// an id given twice reduced to its last row, when the batch is sent).
    advisories: Vec<Vec<AdvisoryRow>>,
    /// Started with the first advisory batch.
    lanes: Vec<Lane>,
    kev: Vec<KevRow>,
    epss: Vec<EpssRow>,
    /// Groups (namespaces) disabled through the feed API, loaded on first use.
    disabled: Option<BTreeSet<String>>,
}

impl<'s> Writer<'s> {
    pub fn new(
        store: &'s Store,
        sync_id: i64,
        feed: &'static str,
        scope: String,
        summary: &'s mut SyncSummary,
    ) -> Self {
        Self {
            store,
            sync_id,
            feed,
            scope,
            summary,
            seen: SeenIds::default(),
            advisories: (0..WRITE_LANES).map(|_| Vec::with_capacity(BATCH)).collect(),
            lanes: Vec::new(),
            kev: vec![],
            epss: vec![],
            disabled: None,
        }
    }

    /// The feed's disabled groups (namespaces), loaded on first use.
    async fn disabled(&mut self) -> Result<&BTreeSet<String>, SyncError> {
        if self.disabled.is_none() {
            self.disabled = Some(self.store.disabled_feed_groups(self.feed).await?);
        }
        Ok(self.disabled.get_or_insert_with(BTreeSet::new))
    }

    pub async fn push(&mut self, o: Output) -> Result<(), SyncError> {
        match o {
            Output::Advisory(a) => {
                let row = prepare(a, self.disabled().await?);
                return self.push_row(row).await;
            }
            Output::Enrichment(e) => {
                self.summary.records += 1;
                self.enrichment(e);
            }
            Output::Skipped(s) => {
                *self.summary.skipped.entry(s.reason.to_owned()).or_default() += 1;
                if s.dropped {
                    warn!(feed = self.feed, at = %s.at, reason = s.reason, detail = %s.detail, "Record skipped");
                } else {
                    debug!(feed = self.feed, at = %s.at, reason = s.reason, detail = %s.detail, "Part of a record skipped");
                }
            }
        }
        if self.kev.len() + self.epss.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Takes one advisory already prepared (disabled groups left out).
    async fn push_row(&mut self, row: AdvisoryRow) -> Result<(), SyncError> {
        self.summary.records += 1;
        self.seen.insert(&row.id);
        let lane = write_lane(&row.id);
        self.advisories[lane].push(row);
        if self.advisories[lane].len() >= BATCH {
            self.send_batch(lane).await?;
        }
        Ok(())
    }

    /// Hands lane `lane` its pending batch (waiting while the lane is a batch behind).
    async fn send_batch(&mut self, lane: usize) -> Result<(), SyncError> {
        if self.advisories[lane].is_empty() {
            return Ok(());
        }
        let batch = one_row_per_id(std::mem::replace(&mut self.advisories[lane], Vec::with_capacity(BATCH)));
        if self.lanes.is_empty() {
            let first = WriteLaneState::new(self.store.feed_scope_is_empty(self.feed, &self.scope).await?);
            self.lanes = (0..WRITE_LANES)
                .map(|_| Lane::spawn(self.store.clone(), self.sync_id, self.feed, self.scope.clone(), first.sibling()))
                .collect();
        }
        let started = Instant::now();
        let r = self.lanes[lane].send(LaneMsg::Batch(batch)).await;
        self.summary.write_seconds += started.elapsed().as_secs_f64();
        r
    }

    fn enrichment(&mut self, e: Enrichment) {
        if let Some(k) = e.kev {
            self.kev.push(KevRow {
                cve: e.cve.clone(),
                date_added: parse_date(Some(&k.date_added)),
                due_date: parse_date(k.due_date.as_deref()),
                ransomware: k.ransomware,
                name: k.name,
            });
        }
        if let Some(p) = e.epss {
            self.epss.push(EpssRow { cve: e.cve, score: p.score, percentile: p.percentile, date: parse_date(p.date.as_deref()) });
        }
    }

    /// Writes everything pending and returns once it is committed (a checkpoint may
    /// follow).
    pub async fn flush(&mut self) -> Result<(), SyncError> {
        for lane in 0..WRITE_LANES {
            self.send_batch(lane).await?;
        }
        let started = Instant::now();
        let mut written = 0;
        for lane in &mut self.lanes {
            let (ack, done) = oneshot::channel();
            lane.send(LaneMsg::Barrier(ack)).await?;
            match done.await {
                Ok(n) => written += n,
                Err(_) => return Err(lane.failure().await),
            }
        }
        let k = self.store.write_kev(&std::mem::take(&mut self.kev)).await?;
        let e = self
            .store
            .write_epss(&std::mem::take(&mut self.epss))
            .await?;
        self.summary.records_written +=
            i32::try_from(written + k.written + e.written).unwrap_or(i32::MAX);
        self.summary.write_seconds += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Ends a full-snapshot scope: flushes, then removes what upstream no longer has.
    pub async fn finish_snapshot(mut self) -> Result<(), SyncError> {
        self.flush().await?;
        if !matches!(self.feed, names::KEV | names::EPSS) {
            let seen = self.seen.sorted();
            let is_seen = |id: &str| seen.binary_search(&id).is_ok();
            let started = Instant::now();
            let removed = self
                .store
                .remove_missing_advisories(self.sync_id, self.feed, &self.scope, &is_seen)
                .await?;
            self.summary.write_seconds += started.elapsed().as_secs_f64();
            self.summary.records_removed += i32::try_from(removed).unwrap_or(i32::MAX);
        }
        Ok(())
    }
}

/// Normalises `body` on a blocking thread (zip entries one by one, gzip decompressed)
/// and hands the outputs to `w` in batches.
pub(crate) async fn normalize_into(
    feed: &'static dyn Feed,
    url: &str,
    body: Body,
    w: &mut Writer<'_>,
) -> Result<(), SyncError> {
    let (tx, mut rx) = mpsc::channel::<Vec<Item>>(4);
    let name = url
        .rsplit('/')
        .next()
        .unwrap_or(url)
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let url_owned = url.to_owned();
    let disabled = w.disabled().await?.clone();
    let worker = tokio::task::spawn_blocking(move || -> Result<(), SyncError> {
        let mut buf = Vec::with_capacity(BATCH);
        let mut emit = |o: Output| {
            buf.push(match o {
                Output::Advisory(a) => Item::Row(prepare(a, &disabled)),
                other => Item::Other(other),
            });
            if buf.len() >= BATCH {
                let _ = tx.blocking_send(std::mem::replace(&mut buf, Vec::with_capacity(BATCH)));
            }
        };
        match body {
            Body::Bytes(bytes) if name.ends_with(".gz") => {
                let mut plain = Vec::new();
                match flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut plain) {
                    Ok(_) => feed.normalize(&Document::new(name.trim_end_matches(".gz"), &plain), &mut emit),
                    Err(e) => emit(Output::Skipped(customs_feeds::Skip { at: name.clone(), reason: "malformed document", detail: e.to_string(), dropped: true })),
                }
            }
            Body::Bytes(bytes) => feed.normalize(&Document::new(&name, &bytes), &mut emit),
            Body::File(tmp) => read_archive(&tmp.0, &url_owned, feed, &mut emit)?,
        }
        if !buf.is_empty() {
            let _ = tx.blocking_send(buf);
        }
        Ok(())
    });
    while let Some(batch) = rx.recv().await {
        for item in batch {
            match item {
                Item::Row(r) => w.push_row(r).await?,
                Item::Other(o) => w.push(o).await?,
            }
        }
    }
    worker.await.map_err(|e| SyncError::Worker(e.to_string()))?
}

/// Normalises every entry of a zip archive (OSV's `all.zip`: one record per entry), one
/// entry in memory at a time; an unreadable entry is skipped with its reason. Entries are
/// read in file order from their local headers, so memory stays flat however many there
/// are (the central directory of 300 000 entries alone would take ~100 MB), and inflated
/// by one decompressor reset from entry to entry (a fresh one per entry cost more than
/// parsing the record). An entry the local header cannot describe (sizes only in a
/// trailing data descriptor, zip64 sizes, encryption, a method other than deflate or
/// stored) or a broken header hands the rest of the archive to the central directory.
pub(crate) fn read_archive(
    path: &std::path::Path,
    url: &str,
    feed: &dyn Feed,
    emit: &mut dyn FnMut(Output),
) -> Result<(), SyncError> {
    let failed = |e: &dyn std::fmt::Display| SyncError::Archive {
        url: url.to_owned(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|e| failed(&e))?;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut inflater = flate2::Decompress::new(false);
    let (mut compressed, mut entry_buf) = (Vec::new(), Vec::new());
    let mut entries = 0usize;
    loop {
        let entry = match local_entry(&mut reader, &mut compressed) {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(()),
            Err(LocalEntry::Handover(why)) => {
                debug!(url, entries, why, "Archive read through its central directory from here");
                return read_archive_indexed(path, url, entries, feed, emit);
            }
            Err(LocalEntry::Broken(e)) if entries == 0 => return Err(failed(&e)),
            // A broken local header: the central directory still knows where the rest are.
            Err(LocalEntry::Broken(e)) => {
                warn!(url, entries, error = %e, "Archive entry header unreadable; reading on through the central directory");
                return read_archive_indexed(path, url, entries, feed, emit);
            }
        };
        entries += 1;
        if entry.name.ends_with('/') {
            continue;
        }
        match entry.extract(&mut inflater, &compressed, &mut entry_buf) {
            Ok(()) => feed.normalize(&Document::new(&entry.name, &entry_buf), emit),
            Err(detail) => emit(Output::Skipped(customs_feeds::Skip {
                at: entry.name,
                reason: "unreadable archive entry",
                detail,
                dropped: true,
            })),
        }
    }
}

/// One entry as its local header describes it (its compressed bytes read beside).
struct ZipEntry {
    name: String,
    /// 0 stored, 8 deflated.
    method: u16,
    crc: u32,
    size: usize,
}

/// Why an entry is not read from its local header.
enum LocalEntry {
    /// The header cannot say where the entry ends or how to read it.
    Handover(&'static str),
    Broken(std::io::Error),
}

/// Reads the next local header and the entry's compressed bytes into `data`; `None` at
/// the central directory (or a clean end of file).
fn local_entry(r: &mut impl std::io::BufRead, data: &mut Vec<u8>) -> Result<Option<ZipEntry>, LocalEntry> {
    const LOCAL: u32 = 0x0403_4b50;
    const CENTRAL: u32 = 0x0201_4b50;
    const END: u32 = 0x0605_4b50;
    if r.fill_buf().map_err(LocalEntry::Broken)?.is_empty() {
        return Ok(None);
    }
    let mut h = [0u8; 30];
    r.read_exact(&mut h[..4]).map_err(LocalEntry::Broken)?;
    let u16_at = |h: &[u8; 30], i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let u32_at = |h: &[u8; 30], i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    match u32_at(&h, 0) {
        LOCAL => {}
        CENTRAL | END => return Ok(None),
        _ => return Err(LocalEntry::Broken(std::io::Error::other("not a local file header"))),
    }
    r.read_exact(&mut h[4..]).map_err(LocalEntry::Broken)?;
    let (flags, method) = (u16_at(&h, 6), u16_at(&h, 8));
    let (crc, csize, size) = (u32_at(&h, 14), u32_at(&h, 18), u32_at(&h, 22));
    if flags & 0x0001 != 0 {
        return Err(LocalEntry::Handover("encrypted entry"));
    }
    if flags & 0x0008 != 0 {
        return Err(LocalEntry::Handover("sizes in a data descriptor"));
    }
    if csize == u32::MAX || size == u32::MAX {
        return Err(LocalEntry::Handover("zip64 sizes"));
    }
    if method != 0 && method != 8 {
        return Err(LocalEntry::Handover("compression method"));
    }
    let mut name = vec![0u8; usize::from(u16_at(&h, 26))];
    r.read_exact(&mut name).map_err(LocalEntry::Broken)?;
    let extra = u64::from(u16_at(&h, 28));
    if std::io::copy(&mut r.by_ref().take(extra), &mut std::io::sink()).map_err(LocalEntry::Broken)? != extra {
        return Err(LocalEntry::Broken(std::io::ErrorKind::UnexpectedEof.into()));
    }
    data.clear();
    let want = u64::from(csize);
    if r.by_ref().take(want).read_to_end(data).map_err(LocalEntry::Broken)? as u64 != want {
        return Err(LocalEntry::Broken(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(Some(ZipEntry {
        name: String::from_utf8_lossy(&name).into_owned(),
        method,
        crc,
        size: size as usize,
    }))
}

impl ZipEntry {
    /// The entry's bytes into `out` (inflated by `d`, reset first), checked against the
    /// size and CRC-32 its header states.
    fn extract(&self, d: &mut flate2::Decompress, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        if self.method == 0 {
            out.extend_from_slice(data);
        } else {
            d.reset(false);
            // The stated size is a hint only (a hostile header may claim gigabytes).
            out.reserve(self.size.clamp(64, 1 << 24));
            loop {
                let (used, made) = (d.total_in(), d.total_out());
                let rest = data.get(usize::try_from(used).unwrap_or(usize::MAX)..).unwrap_or_default();
                let status = d
                    .decompress_vec(rest, out, flate2::FlushDecompress::Finish)
                    .map_err(|e| e.to_string())?;
                if status == flate2::Status::StreamEnd {
                    break;
                }
                if out.len() == out.capacity() {
                    out.reserve(out.capacity().max(4096));
                } else if d.total_in() == used && d.total_out() == made {
                    return Err("truncated deflate stream".into());
                }
            }
        }
        if out.len() != self.size {
            return Err(format!("{} bytes where the header states {}", out.len(), self.size));
        }
        let mut crc = flate2::Crc::new();
        crc.update(out);
        if crc.sum() != self.crc {
            return Err("CRC-32 mismatch".into());
        }
        Ok(())
    }
}

/// The entries of a zip archive from index `from` on, through its central directory.
fn read_archive_indexed(
    path: &std::path::Path,
    url: &str,
    from: usize,
    feed: &dyn Feed,
    emit: &mut dyn FnMut(Output),
) -> Result<(), SyncError> {
    let file = std::fs::File::open(path).map_err(|e| SyncError::Archive {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| SyncError::Archive {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    let mut entry_buf = Vec::new();
    for i in from..zip.len() {
        let (entry_name, read) = match zip.by_index(i) {
            Ok(mut f) if !f.is_dir() => {
                entry_buf.clear();
                let r = f.read_to_end(&mut entry_buf).map(|_| ());
                (f.name().to_owned(), r)
            }
            Ok(_) => continue,
            Err(e) => (format!("entry {i}"), Err(std::io::Error::other(e.to_string()))),
        };
        match read {
            Ok(()) => feed.normalize(&Document::new(&entry_name, &entry_buf), emit),
            Err(e) => emit(Output::Skipped(customs_feeds::Skip { at: entry_name, reason: "unreadable archive entry", detail: e.to_string(), dropped: true })),
        }
    }
    Ok(())
}

/// Expands `file://…/` directories into their files; other URLs stay as they are.
fn expand(urls: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for u in urls {
        match file_path(u) {
            Some(p) if p.is_dir() => match list_dir(&p) {
                Ok(files) => out.extend(files),
                Err(e) => {
                    warn!(url = %u, error = %e, "Feed directory unreadable");
                    out.push(u.clone());
                }
            },
            _ => out.push(u.clone()),
        }
    }
    out
}

/// Syncs one snapshot source (a whole document or archive that replaces its scope).
async fn sync_snapshot(store: &Store, fetcher: &Fetcher, feed: &'static dyn Feed, sync_id: i64, url: &str, s: &mut SyncSummary) -> Result<(), SyncError> {
    let known = store.feed_cursor(feed.name(), url).await?;
    let fetched = fetcher.get(url, known.as_ref(), &Default::default()).await?;
    s.documents += 1;
    let (body, validators) = match fetched {
        Fetched::NotModified => {
            s.unchanged_documents += 1;
            return Ok(());
        }
        Fetched::Body { body, validators } => (body, validators),
    };
    if known.as_ref().and_then(|k| k.content_sha256.as_ref()) == validators.content_sha256.as_ref() {
        s.unchanged_documents += 1;
        // Same bytes under new validators: remember them, write nothing else.
        store.save_feed_cursor(feed.name(), url, &FeedCursor { cursor: None, ..validators }).await?;
        return Ok(());
    }
    let mut w = Writer::new(store, sync_id, feed.name(), url.to_owned(), s);
    normalize_into(feed, url, body, &mut w).await?;
    w.finish_snapshot().await?;
    store.save_feed_cursor(feed.name(), url, &validators).await?;
    Ok(())
}

/// Syncs one feed from its sources; failures of one source do not stop the others.
pub async fn sync_feed(store: &Store, fetcher: &Fetcher, sources: &Sources, feed: &'static dyn Feed, trigger: &str, flush: bool) -> Result<FeedReport, SyncError> {
    let started = Instant::now();
    let name = feed.name();
    if flush {
        store.flush_feed(name).await?;
    }
    let sync_id = store.begin_feed_sync(name, trigger).await?;
    let mut summary = SyncSummary::default();
    let mut errors = Vec::new();
    let urls = expand(sources.urls.get(name).map(Vec::as_slice).unwrap_or_default());
    info!(feed = name, sources = urls.len(), sync_id, "Feed sync started");
    for url in &urls {
        let r = match name {
            names::NVD => nvd::sync(store, fetcher, sources, sync_id, url, &mut summary).await,
            names::REDHAT if url.ends_with("changes.csv") => redhat::sync(store, fetcher, sources, sync_id, url, &mut summary).await,
            _ => sync_snapshot(store, fetcher, feed, sync_id, url, &mut summary).await,
        };
        if let Err(e) = r {
            if e.is_retryable() {
                let _ = store.finish_feed_sync(sync_id, name, &SyncSummary { error: Some(e.to_string()), ..summary.clone() }).await;
                return Err(e);
            }
            warn!(feed = name, url = %url, error = %e, "Feed source failed");
            errors.push(e.to_string());
        }
    }
    summary.full = errors.is_empty();
    if i64::from(summary.records_written) + i64::from(summary.records_removed) >= ANALYZE_AFTER {
        // Fresh planner statistics for the next sync's id lookups (see analyze_feed_tables).
        if let Err(e) = store.analyze_feed_tables().await {
            warn!(feed = name, error = %e, "Feed tables not analysed");
        }
    }
    if !errors.is_empty() {
        summary.error = Some(errors.join("; "));
    }
    store.finish_feed_sync(sync_id, name, &summary).await?;
    let report = FeedReport { feed: name.to_owned(), sync_id, ok: errors.is_empty(), seconds: started.elapsed().as_secs_f64(), summary, errors };
    info!(
        feed = name,
        sync_id,
        documents = report.summary.documents,
        unchanged = report.summary.unchanged_documents,
        records = report.summary.records,
        written = report.summary.records_written,
        removed = report.summary.records_removed,
        skipped = ?report.summary.skipped,
        seconds = report.seconds,
        write_seconds = report.summary.write_seconds,
        "Feed sync finished"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        let p = format!("{}/../../shared/feeds/testdata/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn osv_all_zip_entries_are_normalised_one_by_one() {
        let path = std::env::temp_dir().join(format!("customs-feed-test-{}.zip", std::process::id()));
        {
            let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
            let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            for (name, rel) in [("GO-2022-0969.json", "osv/go/GO-2022-0969.json"), ("GO-2024-2442.json", "osv/go/GO-2024-2442.json")] {
                z.start_file(name, opts).expect("entry");
                z.write_all(&fixture(rel)).expect("write");
            }
            z.start_file("BROKEN.json", opts).expect("entry");
            z.write_all(b"{").expect("write");
            z.finish().expect("finish");
        }
        let feed = customs_feeds::by_name("osv").expect("osv");
        let mut ids = Vec::new();
        let mut skips = Vec::new();
        read_archive(&path, "file://all.zip", feed, &mut |o| match o {
            Output::Advisory(a) => ids.push(a.id),
            Output::Skipped(s) => skips.push(s.reason),
            Output::Enrichment(_) => {}
        })
        .expect("archive");
        let _ = std::fs::remove_file(&path);
        assert_eq!(ids, ["GO-2022-0969", "GO-2024-2442"]);
        assert_eq!(skips, ["malformed document"]);
    }

    #[test]
    fn archives_with_data_descriptors_continue_through_the_central_directory() {
        let path = std::env::temp_dir().join(format!("customs-feed-dd-{}.zip", std::process::id()));
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, rel) in [
            ("GO-2022-0969.json", "osv/go/GO-2022-0969.json"),
            ("GO-2024-2442.json", "osv/go/GO-2024-2442.json"),
        ] {
            z.start_file(name, opts).expect("entry");
            z.write_all(&fixture(rel)).expect("write");
        }
        let bytes = z.finish().expect("finish").into_inner();
        let feed = customs_feeds::by_name("osv").expect("osv");
        // Flag the n-th local header "sizes in a data descriptor" (bit 3), as streaming
        // writers do: the stream reader cannot size that entry and hands over.
        for n in [0, 1] {
            let mut patched = bytes.clone();
            let at = patched
                .windows(4)
                .enumerate()
                .filter(|(_, w)| *w == b"PK\x03\x04")
                .nth(n)
                .map(|(i, _)| i)
                .expect("local header");
            patched[at + 6] |= 8;
            std::fs::write(&path, &patched).expect("write");
            let mut ids = Vec::new();
            read_archive(&path, "file://all.zip", feed, &mut |o| {
                if let Output::Advisory(a) = o {
                    ids.push(a.id);
                }
            })
            .expect("archive");
            assert_eq!(
                ids,
                ["GO-2022-0969", "GO-2024-2442"],
                "data descriptor on entry {n}"
            );
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_corrupt_or_stored_entry_is_read_from_its_local_header() {
        let path = std::env::temp_dir().join(format!("customs-feed-crc-{}.zip", std::process::id()));
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, rel, opts) in [
            ("GO-2022-0969.json", "osv/go/GO-2022-0969.json", deflated),
            ("GO-2024-2442.json", "osv/go/GO-2024-2442.json", stored),
        ] {
            z.start_file(name, opts).expect("entry");
            z.write_all(&fixture(rel)).expect("write");
        }
        let bytes = z.finish().expect("finish").into_inner();
        let feed = customs_feeds::by_name("osv").expect("osv");
        let read = |bytes: &[u8]| {
            std::fs::write(&path, bytes).expect("write");
            let (mut ids, mut skips) = (Vec::new(), Vec::new());
            read_archive(&path, "file://all.zip", feed, &mut |o| match o {
                Output::Advisory(a) => ids.push(a.id),
                Output::Skipped(s) => skips.push((s.at, s.reason)),
                Output::Enrichment(_) => {}
            })
            .expect("archive");
            (ids, skips)
        };
        let (ids, skips) = read(&bytes);
        assert_eq!(ids, ["GO-2022-0969", "GO-2024-2442"]);
        assert!(skips.is_empty(), "{skips:?}");
        // The first entry's stated CRC-32 no longer matches its content: that entry is
        // skipped with its reason, the next one still read.
        let mut patched = bytes.clone();
        patched[14] ^= 0xff;
        let (ids, skips) = read(&patched);
        let _ = std::fs::remove_file(&path);
        assert_eq!(ids, ["GO-2024-2442"]);
        assert_eq!(skips, [("GO-2022-0969.json".to_owned(), "unreadable archive entry")]);
    }

    #[test]
    fn a_batch_holds_each_id_once_in_id_order_with_its_last_row() {
        let row = |id: &str, hash: &str| advisory_row(customs_feeds::Advisory { id: id.into(), summary: Some(hash.into()), ..Default::default() });
        let batch = one_row_per_id(vec![row("B", "1"), row("A", "1"), row("B", "2"), row("C", "1"), row("B", "3")]);
        let got: Vec<(&str, Option<&str>)> = batch.iter().map(|r| (r.id.as_str(), r.summary.as_deref())).collect();
        assert_eq!(got, [("A", Some("1")), ("B", Some("3")), ("C", Some("1"))]);
    }

    #[test]
    fn seen_ids_are_exact() {
        let mut seen = SeenIds::default();
        for id in ["GHSA-b", "GHSA-a", "GHSA-b", "CVE-1"] {
            seen.insert(id);
        }
        let sorted = seen.sorted();
        assert_eq!(sorted, ["CVE-1", "GHSA-a", "GHSA-b"]);
        assert!(sorted.binary_search(&"GHSA-c").is_err());
    }

    #[test]
    fn content_hashes_are_stable_and_follow_content() {
        let a = customs_feeds::Advisory { id: "X".into(), ..Default::default() };
        let mut b = a.clone();
        assert_eq!(
            advisory_row(a.clone()).content_hash,
            advisory_row(b.clone()).content_hash
        );
        b.summary = Some("changed".into());
        assert_ne!(
            advisory_row(a.clone()).content_hash,
            advisory_row(b).content_hash
        );
        // The same bytes as hashing the serialised record in one piece.
        let whole = Sha256::digest(serde_json::to_vec(&a).unwrap_or_default());
        assert_eq!(advisory_row(a).content_hash, hex(&whole));
    }
}
