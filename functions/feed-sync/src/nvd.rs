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

pub async fn sync(store: &Store, fetcher: &Fetcher, sources: &Sources, sync_id: i64, url: &str, s: &mut SyncSummary) -> Result<(), SyncError> {
    let feed = customs_feeds::by_name(names::NVD).ok_or_else(|| SyncError::Worker("nvd driver not registered".into()))?;
    let known = store.feed_cursor(names::NVD, url).await?;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc());
    let since = known.as_ref().and_then(|k| k.cursor.as_deref()).and_then(|c| OffsetDateTime::parse(c, &Rfc3339).ok());
    let plan: Vec<Option<(OffsetDateTime, OffsetDateTime)>> = match since {
        Some(since) => windows(since, now).into_iter().map(Some).collect(),
        None => vec![None],
    };
    let mut headers = HeaderMap::new();
    if let Some(k) = sources.nvd_api_key.as_deref().and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("apiKey", k);
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    for window in plan {
        let mut w = Writer::new(store, sync_id, names::NVD, SCOPE.to_owned(), s);
        let mut start_index = 0u64;
        loop {
            let page_url = if url.starts_with("file://") {
                // A saved response page: read as it is.
                url.to_owned()
            } else {
                let mut u = format!("{url}{sep}resultsPerPage={}&startIndex={start_index}", sources.nvd_page_size);
                if let Some((a, b)) = window {
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
            start_index += n;
            if n == 0 || start_index >= total || url.starts_with("file://") {
                break;
            }
            tokio::time::sleep(sources.nvd_delay).await;
        }
        w.flush().await?;
        // Checkpoint: the next sync starts where this window ended.
        let end = window.map_or(now, |(_, b)| b);
        let cursor = FeedCursor { cursor: end.format(&Rfc3339).ok(), ..FeedCursor::default() };
        store.save_feed_cursor(names::NVD, url, &cursor).await?;
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
}
