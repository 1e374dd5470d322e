#![doc = include_str!("../README.md")]

pub mod aws;
pub mod config;
mod error;
mod queues;
pub mod sqs;
mod topic;
pub mod tracing;

pub use error::RuntimeError;
pub use queues::Queues;
pub use topic::Topic;
