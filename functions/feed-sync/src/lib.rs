#![doc = include_str!("../README.md")]

mod config;
mod error;
mod fetch;
mod nvd;
mod redhat;
mod sync;
pub mod testing;

pub use config::{variable, Sources, OSV_ECOSYSTEMS};
pub use error::SyncError;
pub use fetch::Fetcher;
pub use sync::{sync_feed, FeedReport};

use customs_contracts::{FeedSync, FeedSyncTrigger};
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::Store;
use tracing::{info, instrument, warn};

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    /// Feed source URLs and fetch settings (`Sources::from_env()`).
    pub sources: Sources,
    /// Where re-evaluations of affected images are queued (`None`: sync only).
    pub queues: Option<customs_runtime::Queues>,
}

/// The Lambda handler: one SQS batch of `FeedSync` messages.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    sqs::for_each(event, |msg: FeedSync, d| process(msg, d, deps)).await
}

#[instrument(skip_all, fields(trigger = ?msg.trigger, feed = msg.feed.as_deref().unwrap_or("*"), message_id = %d.message_id))]
async fn process(msg: FeedSync, d: Delivery, deps: &Deps) -> Result<(), Retry> {
    let trigger = match msg.trigger {
        FeedSyncTrigger::Schedule => "schedule",
        FeedSyncTrigger::Api => "api",
    };
    info!(flush = msg.flush, "Feed sync requested");
    let reports = match (&msg.feed, &deps.queues) {
        // Fan out: one message per enabled driver, so each invocation syncs one feed.
        (None, Some(queues)) => {
            let feeds = enabled_feeds(deps).await.map_err(Retry::new)?;
            let msgs: Vec<FeedSync> = feeds
                .iter()
                .map(|f| FeedSync {
                    trigger: msg.trigger,
                    flush: msg.flush,
                    feed: Some(f.name().to_owned()),
                })
                .collect();
            let sent = queues.send_all(&msgs).await.map_err(Retry::new)?;
            info!(feeds = sent, "Fanned out one feed sync per enabled feed");
            return Ok(());
        }
        // No queues (a one-process caller): sync every feed here, one after the other.
        (None, None) => sync_all(deps, trigger, msg.flush)
            .await
            .map_err(Retry::new)?,
        (Some(name), _) => {
            let Some(feed) = customs_feeds::by_name(name) else {
                // Permanent: no redelivery makes an unknown driver known.
                warn!(feed = %name, "Unknown feed in a feed-sync message; acknowledged without syncing");
                return Ok(());
            };
            match sync_one(deps, feed, trigger, msg.flush)
                .await
                .map_err(Retry::new)?
            {
                Some(report) => vec![report],
                None => return Ok(()),
            }
        }
    };
    if let Some(queues) = &deps.queues {
        // This run's changes, and those of earlier runs of the same feeds that crashed or
        // could not queue everything: marked handed over only once every message is sent,
        // so a failure here is retried and loses nothing (an evaluation queued twice only
        // evaluates twice).
        let ours: Vec<i64> = reports.iter().map(|r| r.sync_id).collect();
        let feeds: Vec<String> = reports.iter().map(|r| r.feed.clone()).collect();
        let ids = deps
            .store
            .syncs_awaiting_reevaluation(&feeds, &ours)
            .await
            .map_err(Retry::new)?;
        let affected = deps
            .store
            .images_affected_by_syncs(&ids)
            .await
            .map_err(Retry::new)?;
        for (account, image_id) in &affected {
            queues
                .send(&customs_contracts::EvaluateImage {
                    account: account.clone(),
                    image_id: *image_id,
                })
                .await
                .map_err(Retry::new)?;
        }
        deps.store
            .mark_reevaluation_queued(&ids)
            .await
            .map_err(Retry::new)?;
        info!(
            images = affected.len(),
            syncs = ids.len(),
            "Queued re-evaluation of images the sync touched"
        );
    }
    Ok(())
}

/// The drivers a sync without a feed covers: registered, with sources, and enabled.
pub async fn enabled_feeds(
    deps: &Deps,
) -> Result<Vec<&'static dyn customs_feeds::Feed>, SyncError> {
    let mut out = Vec::new();
    for feed in customs_feeds::all() {
        if !deps.sources.urls.contains_key(feed.name()) {
            continue;
        }
        if !deps.store.feed_enabled(feed.name()).await? {
            warn!(feed = feed.name(), "Feed disabled; not synced");
            continue;
        }
        out.push(*feed);
    }
    Ok(out)
}

/// Syncs one driver if it has sources and is enabled (`None` otherwise).
pub async fn sync_one(
    deps: &Deps,
    feed: &'static dyn customs_feeds::Feed,
    trigger: &str,
    flush: bool,
) -> Result<Option<FeedReport>, SyncError> {
    if !deps.sources.urls.contains_key(feed.name()) {
        warn!(
            feed = feed.name(),
            "Feed has no sources configured; not synced"
        );
        return Ok(None);
    }
    if !deps.store.feed_enabled(feed.name()).await? {
        warn!(feed = feed.name(), "Feed disabled; not synced");
        return Ok(None);
    }
    let fetcher = Fetcher::new(deps.sources.timeout, deps.sources.backoff)?;
    Ok(Some(
        sync_feed(&deps.store, &fetcher, &deps.sources, feed, trigger, flush).await?,
    ))
}

/// Syncs every enabled feed that has sources, one after the other. An upstream failure
/// is recorded on that feed's run; only a database failure stops the sync (and asks for
/// a redelivery, which resumes from the stored cursors).
pub async fn sync_all(
    deps: &Deps,
    trigger: &str,
    flush: bool,
) -> Result<Vec<FeedReport>, SyncError> {
    let fetcher = Fetcher::new(deps.sources.timeout, deps.sources.backoff)?;
    let mut reports = Vec::new();
    for feed in enabled_feeds(deps).await? {
        reports.push(sync_feed(&deps.store, &fetcher, &deps.sources, feed, trigger, flush).await?);
    }
    Ok(reports)
}
