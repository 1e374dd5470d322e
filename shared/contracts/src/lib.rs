#![doc = include_str!("../README.md")]

mod envelope;
mod messages;
mod routes;

pub use envelope::{decode, encode, DecodeError, Message};
pub use messages::{AnalyzeImage, EvaluateImage, FeedSync, FeedSyncTrigger, Notify, WatchTick};
pub use routes::{queue, route, Route, Schedule, ROUTES, SCHEDULES};
