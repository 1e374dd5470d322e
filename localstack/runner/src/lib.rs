#![doc = include_str!("../README.md")]

mod app;
pub mod provision;
mod runner;

pub use app::{App, Settings};
pub use runner::{consumer, Binding, Consumer, Runner};
