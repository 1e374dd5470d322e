#![doc = include_str!("../README.md")]

pub mod aws;
pub mod config;
mod error;
mod queues;
pub mod sqs;
pub mod tracing;

pub use error::RuntimeError;
pub use queues::Queues;
