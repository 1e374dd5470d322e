#![doc = include_str!("../README.md")]

mod envelope;
mod messages;
mod routes;

pub use envelope::{DecodeError, Message, decode, encode};
pub use messages::WatchSubscription;
pub use messages::{
    AnalyzeImage, EvaluateImage, FeedSync, FeedSyncTrigger, Notify, StageLayer, WatchTick,
};
pub use routes::{ROUTES, Route, SCHEDULES, Schedule, queue, route};
