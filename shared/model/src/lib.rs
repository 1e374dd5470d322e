#![doc = include_str!("../README.md")]

mod reference;
mod status;

pub use reference::{ImageRef, ReferenceError, DEFAULT_REGISTRY, DEFAULT_TAG};
pub use status::{AnalysisStatus, ImageStatus, UnknownStatus};
