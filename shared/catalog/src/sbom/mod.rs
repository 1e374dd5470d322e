//! SBOM export from a [`Catalog`]: CycloneDX 1.6 JSON and SPDX 2.3 JSON, built from serde
//! structs. Output is deterministic for the same catalog and metadata (serial number and
//! document namespace derive from the image digest; the caller supplies the timestamp).

mod cyclonedx;
mod spdx;

pub use cyclonedx::cyclonedx_json;
pub use spdx::spdx_json;

/// What the SBOM says about the image itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMetadata {
    /// Manifest digest, `sha256:…`.
    pub digest: String,
    /// How the user named the image (`registry/repo:tag`).
    pub name: String,
    /// Creation time of the document, RFC 3339 (`2024-05-20T00:00:00Z`).
    pub created: String,
    /// Version of customs that wrote the document.
    pub tool_version: String,
}

/// A stable `urn:uuid` (version-5 shaped) from the image digest's hex.
pub(crate) fn serial(digest: &str) -> String {
    let hex: String = digest
        .rsplit(':')
        .next()
        .unwrap_or(digest)
        .chars()
        .filter(char::is_ascii_hexdigit)
        .chain(std::iter::repeat('0'))
        .take(32)
        .collect();
    let b = hex.as_bytes();
    let variant = ['8', '9', 'a', 'b'][usize::from(b[16] % 4)];
    format!(
        "{}-{}-5{}-{variant}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests;
