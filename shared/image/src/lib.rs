#![doc = include_str!("../README.md")]

mod error;
mod manifest;
mod policy;
mod registry;

pub use error::RegistryError;
pub use manifest::{media_type, LayerDescriptor, Platform};
pub use policy::NetworkPolicy;
pub use registry::{Credentials, FetchedImage, Registry};
