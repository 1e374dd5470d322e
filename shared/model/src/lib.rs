#![doc = include_str!("../README.md")]

pub mod fs;
pub mod package;
mod reference;
mod status;

pub use reference::{DEFAULT_REGISTRY, DEFAULT_TAG, ImageRef, MAX_NAME_LEN, ReferenceError, valid_tag};
pub use status::{AnalysisStatus, ImageStatus, UnknownStatus};
