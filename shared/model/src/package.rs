//! Packages found in an image, the distribution it is built on, and the files that could
//! not be read: what the catalog engine produces and the store and API share.
//!
//! Location paths are absolute (`/var/lib/dpkg/status`), the way users, Anchore and SBOMs
//! show them; [`crate::fs`] paths are relative to the image root.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Anchore Engine's package types. OS package types are matched against distribution
/// feeds, the others against language advisories and NVD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    Dpkg,
    Apkg,
    Rpm,
    Python,
    Npm,
    Gem,
    Java,
    Go,
    Rust,
    Nuget,
    Php,
    Binary,
}

impl PackageType {
    pub const ALL: [Self; 12] = [
        Self::Dpkg,
        Self::Apkg,
        Self::Rpm,
        Self::Python,
        Self::Npm,
        Self::Gem,
        Self::Java,
        Self::Go,
        Self::Rust,
        Self::Nuget,
        Self::Php,
        Self::Binary,
    ];

    /// The name Anchore uses (`dpkg`, `APKG` is spelled `apkg` here, `python`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dpkg => "dpkg",
            Self::Apkg => "apkg",
            Self::Rpm => "rpm",
            Self::Python => "python",
            Self::Npm => "npm",
            Self::Gem => "gem",
            Self::Java => "java",
            Self::Go => "go",
            Self::Rust => "rust",
            Self::Nuget => "nuget",
            Self::Php => "php",
            Self::Binary => "binary",
        }
    }

    /// Whether the package belongs to the distribution (Anchore's `os` content type).
    pub const fn is_os(self) -> bool {
        matches!(self, Self::Dpkg | Self::Apkg | Self::Rpm)
    }

    /// Anchore's content type for `GET /images/{digest}/content/{type}`.
    pub const fn content_type(self) -> &'static str {
        if self.is_os() { "os" } else { self.as_str() }
    }

    /// syft's name for the same type, for comparing results with it.
    pub const fn syft_type(self) -> &'static str {
        match self {
            Self::Dpkg => "deb",
            Self::Apkg => "apk",
            Self::Rpm => "rpm",
            Self::Python => "python",
            Self::Npm => "npm",
            Self::Gem => "gem",
            Self::Java => "java-archive",
            Self::Go => "go-module",
            Self::Rust => "rust-crate",
            Self::Nuget => "dotnet",
            Self::Php => "php-composer",
            Self::Binary => "binary",
        }
    }
}

impl std::fmt::Display for PackageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where evidence of a package was found: an absolute path and the index of the layer
/// (bottom first) that last wrote that file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    pub layer: usize,
}

/// A package's ecosystem details, by key, in key order. Held as a sorted vector: most
/// packages have none or a few, and a map allocates a whole node (about half a kilobyte)
/// for its first key, once per package of an image with tens of thousands of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(Vec<(String, String)>);

impl Metadata {
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key`, giving back the value it replaces.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Keys and values, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for Metadata {
    type Output = String;

    /// The value of `key`; panics when there is none (for tests and known keys).
    fn index(&self, key: &str) -> &String {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no metadata {key:?}"),
        }
    }
}

impl FromIterator<(String, String)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(items: I) -> Self {
        let mut m = Self::default();
        for (k, v) in items {
            m.insert(k, v);
        }
        m
    }
}

/// Written as a JSON object, as the map it replaced.
impl Serialize for Metadata {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<String, String>::deserialize(d)?.into_iter().collect())
    }
}

/// One package found in an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// Package URL (<https://github.com/package-url/purl-spec>).
    pub purl: String,
    /// CPE 2.3 formatted strings to match against NVD, most likely first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<String>,
    /// Licenses as declared: an SPDX expression where the package declares one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    pub locations: Vec<Location>,
    /// Source package (dpkg `Source:`, apk origin, rpm source rpm name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Version of the source package, when it differs from the binary package's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Who ships the package (maintainer, vendor, author), what Anchore shows as `origin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Absolute paths of the files the package owns, where its database records them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Digests of those files as the package database records them (`sha256:<hex>`,
    /// `md5:<hex>`), in the order of `files`, `""` for entries without content
    /// (directories, links); empty when the database records none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_digests: Vec<String>,
    /// Ecosystem details policy gates and the API show (architecture, size, group id,
    /// Go version, …), keys in snake_case.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl Package {
    /// A package with the required fields; the rest empty.
    pub fn new(
        kind: PackageType,
        name: impl Into<String>,
        version: impl Into<String>,
        purl: impl Into<String>,
        location: Location,
    ) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            kind,
            purl: purl.into(),
            cpes: Vec::new(),
            licenses: Vec::new(),
            locations: vec![location],
            source_name: None,
            source_version: None,
            origin: None,
            files: Vec::new(),
            file_digests: Vec::new(),
            metadata: Metadata::default(),
        }
    }
}

/// The Linux distribution an image is built on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID` from os-release, lower case: `debian`, `alpine`, `rhel`, `ubuntu`, …
    pub id: String,
    /// `VERSION_ID` as written (`12`, `3.18.4`, `9.3`), or what the release file says.
    pub version: String,
    /// The vulnerability feed namespace: `debian:12`, `alpine:3.18`, `rhel:9`.
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

/// A file a cataloger could not (fully) read. The rest of the image is still catalogued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unknown {
    /// Name of the cataloger that gave up (`dpkg-db-cataloger`, …).
    pub cataloger: String,
    /// Absolute path; `outer.jar:inner.jar` for a file inside an archive.
    pub path: String,
    pub layer: usize,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchore_names_match_the_serde_names() {
        // serde's rename_all = "lowercase" spells each variant as its lower-cased name.
        for t in PackageType::ALL {
            assert_eq!(t.as_str(), format!("{t:?}").to_lowercase());
        }
        assert_eq!(PackageType::Dpkg.content_type(), "os");
        assert_eq!(PackageType::Java.content_type(), "java");
        assert_eq!(PackageType::Go.syft_type(), "go-module");
    }

    #[test]
    fn metadata_is_kept_in_key_order_and_written_as_an_object() {
        let mut m = Metadata::default();
        assert_eq!(m.insert("source".into(), "crates.io".into()), None);
        assert_eq!(m.insert("arch".into(), "amd64".into()), None);
        assert_eq!(m.insert("source".into(), "git".into()), Some("crates.io".into()));
        assert_eq!(m.len(), 2);
        assert_eq!(m["arch"], "amd64");
        assert!(m.contains_key("source") && m.get("size").is_none());
        let json = serde_json::to_string(&m).expect("json");
        assert_eq!(json, r#"{"arch":"amd64","source":"git"}"#);
        assert_eq!(serde_json::from_str::<Metadata>(&json).expect("back"), m);
        assert!(serde_json::from_str::<Metadata>(r#"{"arch": 1}"#).is_err(), "values are strings");
    }
}
