#![doc = include_str!("../README.md")]

mod app;
pub mod provision;
mod runner;

pub use app::{App, Settings};
pub use runner::{Binding, Consumer, Runner, consumer};
