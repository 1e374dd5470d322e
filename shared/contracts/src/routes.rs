//! The routing table: which function consumes which queue, how, and what feeds it on a
//! schedule. Infra, the local provisioning and the runner all read these constants.

use crate::envelope::{Message, encode};
use crate::messages::{FeedSync, FeedSyncTrigger, WatchTick};

/// Logical queue names. The physical SQS name is `<prefix><name>`, its DLQ
/// `<prefix><name>-dlq`.
pub mod queue {
    pub const ANALYZE: &str = "analyze";
    /// One layer of an image being analysed (consumed by analyze too).
    pub const STAGE_LAYER: &str = "stage-layer";
    pub const EVALUATE: &str = "evaluate";
    pub const NOTIFY: &str = "notify";
    pub const FEED_SYNC: &str = "feed-sync";
    pub const WATCH: &str = "watch";
}

/// One queue and the function consuming it (an SQS event source mapping in AWS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub queue: &'static str,
    /// Function (crate directory under `functions/`) that consumes the queue.
    pub consumer: &'static str,
    pub batch_size: u32,
    /// Upper bound of one invocation of the consumer.
    pub function_timeout_secs: u32,
    /// At least six times the function timeout, as AWS recommends for SQS sources.
    pub visibility_timeout_secs: u32,
    /// Receives before SQS moves a message to the DLQ.
    pub max_receives: u32,
    /// Concurrent batches (the event source mapping's maximum concurrency).
    pub max_concurrency: u32,
}

/// A schedule that puts one fixed message on a queue (an EventBridge rule in AWS and
/// in LocalStack alike).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub name: &'static str,
    pub queue: &'static str,
    /// EventBridge rate expression.
    pub rate: &'static str,
    message: fn() -> String,
}

impl Schedule {
    /// The envelope the schedule delivers.
    pub fn message(&self) -> String {
        (self.message)()
    }
}

const fn entry(
    queue: &'static str,
    consumer: &'static str,
    batch_size: u32,
    timeout: u32,
    max_receives: u32,
    max_concurrency: u32,
) -> Route {
    Route {
        queue,
        consumer,
        batch_size,
        function_timeout_secs: timeout,
        visibility_timeout_secs: timeout * 6,
        max_receives,
        max_concurrency,
    }
}

pub const ROUTES: &[Route] = &[
    entry(queue::ANALYZE, "analyze", 1, 300, 3, 10),
    // One layer per invocation, so an image's layers are staged in parallel.
    entry(queue::STAGE_LAYER, "analyze", 1, 300, 3, 10),
    entry(queue::EVALUATE, "evaluate", 10, 60, 5, 10),
    entry(queue::NOTIFY, "notify", 10, 30, 8, 5),
    entry(queue::FEED_SYNC, "feed-sync", 1, 900, 3, 2),
    entry(queue::WATCH, "watch", 10, 120, 3, 5),
];

fn feed_sync_tick() -> String {
    encode(&FeedSync {
        trigger: FeedSyncTrigger::Schedule,
        flush: false,
        feed: None,
    })
}

fn watch_tick() -> String {
    encode(&WatchTick {})
}

pub const SCHEDULES: &[Schedule] = &[
    Schedule {
        name: "feed-sync",
        queue: FeedSync::QUEUE,
        rate: "rate(1 hour)",
        message: feed_sync_tick,
    },
    Schedule {
        name: "watch",
        queue: WatchTick::QUEUE,
        rate: "rate(5 minutes)",
        message: watch_tick,
    },
];

/// The route of a logical queue.
pub fn route(queue: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.queue == queue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{AnalyzeImage, EvaluateImage, Notify, StageLayer};

    #[test]
    fn every_message_travels_on_a_routed_queue() {
        for q in [
            AnalyzeImage::QUEUE,
            StageLayer::QUEUE,
            EvaluateImage::QUEUE,
            Notify::QUEUE,
            FeedSync::QUEUE,
            WatchTick::QUEUE,
        ] {
            assert!(route(q).is_some(), "{q} has no route");
        }
        for s in SCHEDULES {
            assert!(
                route(s.queue).is_some(),
                "schedule {} targets unrouted {}",
                s.name,
                s.queue
            );
            assert!(s.rate.starts_with("rate("), "{}", s.rate);
        }
    }

    #[test]
    fn routes_respect_sqs_limits() {
        for r in ROUTES {
            assert!((1..=10).contains(&r.batch_size), "{r:?}");
            assert!(
                r.visibility_timeout_secs >= 6 * r.function_timeout_secs,
                "{r:?}"
            );
            assert!(r.visibility_timeout_secs <= 43_200, "{r:?}");
            assert!(r.function_timeout_secs <= 900, "{r:?}");
            assert!(r.max_receives >= 1, "{r:?}");
        }
        let mut names: Vec<_> = ROUTES.iter().map(|r| r.queue).collect();
        names.dedup();
        assert_eq!(names.len(), ROUTES.len());
    }
}
