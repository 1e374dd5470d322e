//! Red Hat CSAF VEX through `changes.csv` (`"2024/cve-2024-24786.json","<timestamp>"`
//! per line): only files changed since the stored cursor are fetched, oldest first, at
//! most `redhat_max_files` per sync; the cursor advances as they are stored.

use customs_feeds::names;
use customs_store::{FeedCursor, Store, SyncSummary};

use crate::fetch::{Body, Fetched, Fetcher};
use crate::sync::{normalize_into, Writer};
use crate::{Sources, SyncError};

const SCOPE: &str = "vex";

/// `(path, timestamp)` rows of changes.csv, oldest first.
pub fn parse_changes(text: &str) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let (p, t) = l.split_once(',')?;
            Some((p.trim().trim_matches('"').to_owned(), t.trim().trim_matches('"').to_owned()))
        })
        .filter(|(p, _)| p.ends_with(".json"))
        .collect();
    rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

pub async fn sync(store: &Store, fetcher: &Fetcher, sources: &Sources, sync_id: i64, url: &str, s: &mut SyncSummary) -> Result<(), SyncError> {
    let feed = customs_feeds::by_name(names::REDHAT).ok_or_else(|| SyncError::Worker("redhat driver not registered".into()))?;
    let known = store.feed_cursor(names::REDHAT, url).await?.unwrap_or_default();
    let text = match fetcher.get(url, None, &Default::default()).await? {
        Fetched::Body { body: Body::Bytes(b), .. } => String::from_utf8_lossy(&b).into_owned(),
        _ => return Ok(()),
    };
    let base = url.trim_end_matches("changes.csv");
    let since = known.cursor.clone().unwrap_or_default();
    let todo: Vec<(String, String)> = parse_changes(&text).into_iter().filter(|(_, t)| *t > since).take(sources.redhat_max_files).collect();
    if todo.is_empty() {
        s.unchanged_documents += 1;
        return Ok(());
    }
    let mut w = Writer::new(store, sync_id, names::REDHAT, SCOPE.to_owned(), s);
    let mut cursor = since;
    for (path, stamp) in todo {
        let doc_url = format!("{base}{path}");
        match fetcher.get(&doc_url, None, &Default::default()).await {
            Ok(Fetched::Body { body, .. }) => {
                w.summary.documents += 1;
                normalize_into(feed, &doc_url, body, &mut w).await?;
            }
            Ok(Fetched::NotModified) => {}
            Err(SyncError::Status { status: 404, .. }) => {}
            Err(e) => {
                w.flush().await?;
                store.save_feed_cursor(names::REDHAT, url, &FeedCursor { cursor: Some(cursor), ..FeedCursor::default() }).await?;
                return Err(e);
            }
        }
        cursor = stamp;
    }
    w.flush().await?;
    store.save_feed_cursor(names::REDHAT, url, &FeedCursor { cursor: Some(cursor), ..FeedCursor::default() }).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_read_oldest_first() {
        let rows = parse_changes("\"2024/b.json\",\"2024-05-01T00:00:00+00:00\"\n\"2023/a.json\",\"2024-01-01T00:00:00+00:00\"\nbad\n");
        assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["2023/a.json", "2024/b.json"]);
    }
}
