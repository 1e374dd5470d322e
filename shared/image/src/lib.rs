#![doc = include_str!("../README.md")]

mod error;
mod head;
pub mod layer;
mod manifest;
mod policy;
mod registry;
mod source;
mod staging;

pub use error::{RegistryError, StageError};
pub use manifest::{LayerDescriptor, Platform, media_type};
pub use policy::NetworkPolicy;
pub use registry::{Credentials, FetchedImage, Registry, StagedOutcome};
pub use source::StagedImage;
pub use staging::{s3_client, StagedLayer, Staging};
