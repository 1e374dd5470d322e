//! NVD CVE API 2.0: a first sync pages through every CVE; later syncs page through
//! `lastModStartDate/lastModEndDate` windows of at most 120 days from the stored cursor.
//! An API key is sent when configured; throttling answers are retried with backoff.

use std::time::Duration;

use customs_feeds::names;
use customs_store::{FeedCursor, Store, SyncSummary};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::fetch::{Body, Fetched, Fetcher};
use crate::sync::{normalize_into, Writer};
use crate::{Sources, SyncError};
use tracing::info;

/// NVD refuses windows longer than 120 days.
pub const MAX_WINDOW: Duration = Duration::from_secs(120 * 24 * 3600);
const SCOPE: &str = "nvd";

fn nvd_time(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// The windows from `since` to `now`, each at most 120 days.
pub fn windows(since: OffsetDateTime, now: OffsetDateTime) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let mut out = Vec::new();
    let mut start = since;
    while start < now {
        let end = (start + MAX_WINDOW).min(now);
        out.push((start, end));
        start = end;
    }
    out
}

/// Where an NVD sync stands, stored as the source's cursor after every committed page.
/// `since`: end of the last complete window (`None` before the first complete sync).
/// `page`: a window in progress: its bounds (`None` for the first sync, which pages
/// through every CVE without dates), the time it runs up to, and the next `startIndex`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checkpoint {
    pub since: Option<OffsetDateTime>,
    pub page: Option<PageCheckpoint>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageCheckpoint {
    pub window: Option<(OffsetDateTime, OffsetDateTime)>,
    pub until: OffsetDateTime,
    pub next_index: u64,
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn parse_rfc(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok()
}

impl Checkpoint {
    /// A plain RFC 3339 time (a complete sync, the original format) or the JSON form.
    pub fn decode(cursor: Option<&str>) -> Checkpoint {
        let Some(c) = cursor else { return Checkpoint::default() };
        if let Ok(t) = OffsetDateTime::parse(c, &Rfc3339) {
            return Checkpoint { since: Some(t), page: None };
        }
        let v: Value = serde_json::from_str(c).unwrap_or_default();
        let page = v.get("page").and_then(|p| {
            let window = match (parse_rfc(&p["window_start"]), parse_rfc(&p["window_end"])) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            };
            Some(PageCheckpoint { window, until: parse_rfc(&p["until"])?, next_index: p["next_index"].as_u64()? })
        });
        Checkpoint { since: parse_rfc(&v["since"]), page }
    }

    pub fn encode(&self) -> String {
        match (&self.page, self.since) {
            (None, Some(since)) => rfc(since),
            (page, since) => serde_json::json!({
                "since": since.map(rfc),
                "page": page.as_ref().map(|p| serde_json::json!({
                    "window_start": p.window.map(|w| rfc(w.0)),
                    "window_end": p.window.map(|w| rfc(w.1)),
                    "until": rfc(p.until),
                    "next_index": p.next_index,
                })),
            })
            .to_string(),
        }
    }
}

async fn save(store: &Store, url: &str, cp: &Checkpoint) -> Result<(), SyncError> {
    let cursor = FeedCursor { cursor: Some(cp.encode()), ..FeedCursor::default() };
    Ok(store.save_feed_cursor(names::NVD, url, &cursor).await?)
}

pub async fn sync(store: &Store, fetcher: &Fetcher, sources: &Sources, sync_id: i64, url: &str, s: &mut SyncSummary) -> Result<(), SyncError> {
    let feed = customs_feeds::by_name(names::NVD).ok_or_else(|| SyncError::Worker("nvd driver not registered".into()))?;
    let known = store.feed_cursor(names::NVD, url).await?;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc());
    let mut cp = Checkpoint::decode(known.as_ref().and_then(|k| k.cursor.as_deref()));
    // The plan: an interrupted window first (from its next page), then fresh windows.
    let mut plan: Vec<PageCheckpoint> = Vec::new();
    let resume_from = match &cp.page {
        Some(p) => {
            info!(url, next_index = p.next_index, "Resuming an interrupted NVD sync at its checkpoint");
            plan.push(p.clone());
            Some(p.until)
        }
        None => cp.since,
    };
    match resume_from {
        Some(from) => plan.extend(windows(from, now).into_iter().map(|w| PageCheckpoint { window: Some(w), until: w.1, next_index: 0 })),
        None => plan.push(PageCheckpoint { window: None, until: now, next_index: 0 }),
    }
    let mut headers = HeaderMap::new();
    if let Some(k) = sources.nvd_api_key.as_deref().and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("apiKey", k);
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    for mut page in plan {
        let mut w = Writer::new(store, sync_id, names::NVD, SCOPE.to_owned(), s);
        loop {
            let page_url = if url.starts_with("file://") {
                // A saved response page: read as it is.
                url.to_owned()
            } else {
                let mut u = format!("{url}{sep}resultsPerPage={}&startIndex={}", sources.nvd_page_size, page.next_index);
                if let Some((a, b)) = page.window {
                    u.push_str(&format!("&lastModStartDate={}&lastModEndDate={}", nvd_time(a), nvd_time(b)));
                }
                u
            };
            let bytes = match fetcher.get(&page_url, None, &headers).await? {
                Fetched::Body { body: Body::Bytes(b), .. } => b,
                _ => break,
            };
            let meta: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let total = meta["totalResults"].as_u64().unwrap_or(0);
            let n = meta["vulnerabilities"].as_array().map_or(0, Vec::len) as u64;
            w.summary.documents += 1;
            normalize_into(feed, "cves.json", Body::Bytes(bytes), &mut w).await?;
            // Checkpoint: this page's records are committed; a crash resumes at the next page.
            w.flush().await?;
            page.next_index += n;
            let done = n == 0 || page.next_index >= total || url.starts_with("file://");
            if !done {
                cp.page = Some(page.clone());
                save(store, url, &cp).await?;
                tokio::time::sleep(sources.nvd_delay).await;
                continue;
            }
            break;
        }
        // The window is complete: the next sync starts where it ended.
        cp = Checkpoint { since: Some(page.until), page: None };
        save(store, url, &cp).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_never_exceed_120_days_and_cover_the_span() {
        let since = time::macros::datetime!(2024-01-01 0:00 UTC);
        let now = time::macros::datetime!(2024-12-31 12:00 UTC);
        let w = windows(since, now);
        assert_eq!(w.len(), 4);
        assert!(w.iter().all(|(a, b)| *b - *a <= time::Duration::days(120)));
        assert_eq!((w[0].0, w[3].1), (since, now));
        assert!(windows(now, now).is_empty());
        assert_eq!(nvd_time(since), "2024-01-01T00:00:00.000Z");
    }

    #[test]
    fn checkpoints_round_trip_and_read_the_old_plain_cursor() {
        let a = time::macros::datetime!(2024-01-01 0:00 UTC);
        let b = time::macros::datetime!(2024-03-01 0:00 UTC);
        assert_eq!(Checkpoint::decode(Some("2024-01-01T00:00:00Z")), Checkpoint { since: Some(a), page: None });
        assert_eq!(Checkpoint::decode(None), Checkpoint::default());
        for cp in [
            Checkpoint { since: Some(a), page: None },
            Checkpoint { since: Some(a), page: Some(PageCheckpoint { window: Some((a, b)), until: b, next_index: 4000 }) },
            Checkpoint { since: None, page: Some(PageCheckpoint { window: None, until: b, next_index: 2 }) },
        ] {
            assert_eq!(Checkpoint::decode(Some(&cp.encode())), cp, "{}", cp.encode());
        }
    }
}
