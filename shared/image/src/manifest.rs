//! Manifest media types and the parts of manifests customs reads.

use std::fmt;

use serde::Deserialize;

pub mod media_type {
    pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_MANIFEST_V1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

    /// What customs asks registries for, best first.
    pub const ACCEPTED: &[&str] = &[
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST_V2,
    ];
}

/// `os/arch[/variant]`, e.g. `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl Platform {
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.split('/');
        let os = it.next().filter(|p| !p.is_empty())?;
        let architecture = it.next().filter(|p| !p.is_empty())?;
        let variant = it.next().filter(|p| !p.is_empty()).map(str::to_owned);
        if it.next().is_some() {
            return None;
        }
        Some(Self {
            os: os.into(),
            architecture: architecture.into(),
            variant,
        })
    }

    fn matches(&self, p: &PlatformJson) -> bool {
        p.os == self.os
            && p.architecture == self.architecture
            && match (&self.variant, &p.variant) {
                (Some(want), Some(have)) => want == have,
                (Some(_), None) => false,
                (None, _) => true,
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub platform: Option<PlatformJson>,
    #[serde(default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlatformJson {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// The fields shared by every manifest kind, enough to tell them apart.
#[derive(Debug, Deserialize)]
pub struct AnyManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

/// One layer as the manifest describes it, with the config's diff id beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDescriptor {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub diff_id: Option<String>,
}

pub(crate) enum Kind {
    Index(Vec<Descriptor>),
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
        media_type: String,
    },
    Schema1,
    Unsupported(String),
}

/// Classifies a raw manifest; the registry's Content-Type is not trusted, the body is.
pub(crate) fn classify(m: AnyManifest) -> Kind {
    if m.schema_version == Some(1) {
        return Kind::Schema1;
    }
    let mt = m.media_type.clone().unwrap_or_default();
    match mt.as_str() {
        media_type::DOCKER_MANIFEST_V1 | media_type::DOCKER_MANIFEST_V1_SIGNED => Kind::Schema1,
        media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST | "" if m.manifests.is_some() => {
            Kind::Index(m.manifests.unwrap_or_default())
        }
        media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST_V2 | "" => {
            match (m.config, m.layers) {
                (Some(config), Some(layers)) => Kind::Image {
                    config,
                    layers,
                    media_type: if mt.is_empty() {
                        media_type::OCI_MANIFEST.into()
                    } else {
                        mt
                    },
                },
                _ => Kind::Unsupported(if mt.is_empty() {
                    "(none, and no config/layers)".into()
                } else {
                    mt
                }),
            }
        }
        other => Kind::Unsupported(other.to_owned()),
    }
}

/// The index entry for `want`, or a list of what is available.
pub(crate) fn select<'a>(
    entries: &'a [Descriptor],
    want: &Platform,
) -> Result<&'a Descriptor, String> {
    entries
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
        .ok_or_else(|| {
            let mut names: Vec<String> = entries
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                })
                .collect();
            names.dedup();
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Kind {
        classify(serde_json::from_str(s).expect("json"))
    }

    #[test]
    fn schema1_and_unknown_types_are_told_apart() {
        assert!(matches!(
            parse(r#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#),
            Kind::Schema1
        ));
        assert!(matches!(
            parse(r#"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#),
            Kind::Unsupported(t) if t == "application/vnd.example+json"
        ));
        let oci = r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":2},"layers":[]}"#;
        assert!(
            matches!(parse(oci), Kind::Image { media_type, .. } if media_type == media_type::OCI_MANIFEST)
        );
    }

    #[test]
    fn platforms_are_selected_with_variants() {
        let idx = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"m","digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"mediaType":"m","digest":"sha256:b","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}"#;
        let Kind::Index(entries) = parse(idx) else {
            panic!("not an index")
        };
        assert_eq!(
            select(&entries, &Platform::default()).map(|d| d.digest.as_str()),
            Ok("sha256:b")
        );
        let arm = Platform::parse("linux/arm64/v8").expect("platform");
        assert_eq!(
            select(&entries, &arm).map(|d| d.digest.as_str()),
            Ok("sha256:a")
        );
        let s390 = Platform::parse("linux/s390x").expect("platform");
        assert_eq!(
            select(&entries, &s390).err().as_deref(),
            Some("linux/arm64/v8, linux/amd64")
        );
        assert_eq!(Platform::parse("linux"), None);
    }
}
