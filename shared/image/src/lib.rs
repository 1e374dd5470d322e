#![doc = include_str!("../README.md")]

mod cache;
mod error;
mod head;
pub mod layer;
mod local;
mod manifest;
mod policy;
mod registry;
mod session;
mod source;
mod staging;

pub use cache::LayerCache;
pub use error::{RegistryError, ScanError, StageError};
pub use local::{ImageSource, ScanOptions, ScannedImage, scan, stage_archive};
pub use manifest::{LayerDescriptor, Platform, media_type};
pub use policy::NetworkPolicy;
pub use registry::{Credentials, FetchedImage, Registry, StagedOutcome};
pub use source::StagedImage;
pub use staging::{StagedLayer, Staging, is_sha256_digest, s3_client};
