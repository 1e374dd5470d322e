use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::envelope::Message;
use crate::routes::queue;

/// Fetch and analyse one image record (created by `POST /v1/images` or by watch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzeImage {
    pub account: String,
    pub image_id: Uuid,
}

impl Message for AnalyzeImage {
    const KIND: &'static str = "analyze_image";
    const VERSION: u32 = 1;
    const QUEUE: &'static str = queue::ANALYZE;
}

/// Stage one layer of an image being analysed. `AnalyzeImage` resolves the image and
/// fans out one message per layer (by blob digest) not staged yet; the consumer stages it
/// unless it already is, and the delivery that finishes the last pending layer of the
/// staging job assembles the image (catalog and record), once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageLayer {
    pub account: String,
    pub image_id: Uuid,
    /// The image's staging job: a new analysis of the image starts a new job, and
    /// messages of a job that is over are acknowledged without work.
    pub job_id: Uuid,
    /// The layer as the manifest describes it (compressed blob) and its config diff id.
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub diff_id: String,
}

impl Message for StageLayer {
    const KIND: &'static str = "stage_layer";
    const VERSION: u32 = 1;
    const QUEUE: &'static str = queue::STAGE_LAYER;
}

/// Match vulnerabilities and evaluate policy for an analysed image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluateImage {
    pub account: String,
    pub image_id: Uuid,
}

impl Message for EvaluateImage {
    const KIND: &'static str = "evaluate_image";
    const VERSION: u32 = 1;
    const QUEUE: &'static str = queue::EVALUATE;
}

/// Deliver one recorded event to the subscribers that want it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    pub account: String,
    pub event_id: Uuid,
}

impl Message for Notify {
    const KIND: &'static str = "notify";
    const VERSION: u32 = 1;
    const QUEUE: &'static str = queue::NOTIFY;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedSyncTrigger {
    Schedule,
    Api,
}

/// Sync vulnerability feeds; sent by the schedule or by `POST /v1/system/feeds`.
///
/// Without `feed` the consumer fans out one message per enabled feed driver (so no
/// invocation syncs everything); with `feed` it syncs only that driver. Version 1
/// messages without the field still decode (`feed` defaults to `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSync {
    pub trigger: FeedSyncTrigger,
    #[serde(default)]
    pub flush: bool,
    /// One feed driver's name (`osv`, `nvd`, …); `None`: every enabled driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
}

impl Message for FeedSync {
    const KIND: &'static str = "feed_sync";
    const VERSION: u32 = 1;
    const QUEUE: &'static str = queue::FEED_SYNC;
}

/// One scheduled pass over the watched tags and repositories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchTick {}

impl Message for WatchTick {
    const KIND: &'static str = "watch_tick";
    const VERSION: u32 = 1;
    const QUEUE: &'static str = queue::WATCH;
}

/// Check one watched tag or repository (fanned out by the watch tick, one per
/// subscription, so a large watch list spreads over many invocations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchSubscription {
    pub account: String,
    pub subscription_id: String,
}

impl Message for WatchSubscription {
    const KIND: &'static str = "watch_subscription";
    const VERSION: u32 = 1;
    const QUEUE: &'static str = queue::WATCH;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{DecodeError, decode, encode};

    #[test]
    fn messages_round_trip_in_their_envelope() {
        let m = AnalyzeImage {
            account: "admin".into(),
            image_id: Uuid::nil(),
        };
        let wire = encode(&m);
        assert!(
            wire.starts_with(r#"{"kind":"analyze_image","v":1,"body":"#),
            "{wire}"
        );
        assert_eq!(decode::<AnalyzeImage>(&wire).ok(), Some(m));
        let s = StageLayer {
            account: "admin".into(),
            image_id: Uuid::nil(),
            job_id: Uuid::max(),
            digest: "sha256:aa".into(),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            size: 42,
            diff_id: "sha256:bb".into(),
        };
        let wire = encode(&s);
        assert!(
            wire.starts_with(r#"{"kind":"stage_layer","v":1,"body":"#),
            "{wire}"
        );
        assert_eq!(decode::<StageLayer>(&wire).ok(), Some(s));
        assert!(matches!(
            decode::<AnalyzeImage>(&wire),
            Err(DecodeError::WrongKind { .. })
        ));
    }

    #[test]
    fn foreign_or_future_messages_are_refused_with_the_reason() {
        let wire = encode(&WatchTick {});
        assert!(matches!(
            decode::<AnalyzeImage>(&wire),
            Err(DecodeError::WrongKind { .. })
        ));
        let future = r#"{"kind":"analyze_image","v":2,"body":{}}"#;
        assert!(matches!(
            decode::<AnalyzeImage>(future),
            Err(DecodeError::UnsupportedVersion { found: 2, .. })
        ));
        assert!(matches!(
            decode::<AnalyzeImage>("not json"),
            Err(DecodeError::NotAnEnvelope(_))
        ));
        let bad = r#"{"kind":"analyze_image","v":1,"body":{"account":1}}"#;
        assert!(matches!(
            decode::<AnalyzeImage>(bad),
            Err(DecodeError::BadBody { .. })
        ));
    }

    #[test]
    fn feed_sync_v1_messages_without_a_feed_still_decode() {
        let old = r#"{"kind":"feed_sync","v":1,"body":{"trigger":"schedule","flush":false}}"#;
        let m = decode::<FeedSync>(old).expect("v1 message");
        assert_eq!(m.feed, None);
        let one = FeedSync {
            trigger: FeedSyncTrigger::Api,
            flush: true,
            feed: Some("osv".into()),
        };
        assert_eq!(decode::<FeedSync>(&encode(&one)).ok(), Some(one));
    }
}
