//! Image references as users type them, normalised the way Docker and Anchore do:
//! `debian` is `docker.io/library/debian:latest`; the first path component is a
//! registry only if it contains `.` or `:` or is `localhost`.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// Registry host with optional port, e.g. `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/debian`.
    pub repo: String,
    /// Tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// `sha256:<64 hex>` when the reference is digest-pinned.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("image reference is empty")]
    Empty,
    #[error("image reference {0:?} contains whitespace or control characters")]
    BadCharacters(String),
    #[error(
        "image reference {reference:?} has an invalid tag {tag:?}: tags are 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"
    )]
    BadTag { reference: String, tag: String },
    #[error(
        "image reference {reference:?} has an invalid digest {digest:?}: expected sha256:<64 lowercase hex>"
    )]
    BadDigest { reference: String, digest: String },
    #[error(
        "image reference {reference:?} has an invalid repository {repo:?}: components are lowercase [a-z0-9] separated by '.', '_', '__' or '-'"
    )]
    BadRepository { reference: String, repo: String },
    #[error("image reference {reference:?} names a repository of {len} characters with its registry; at most 255 are allowed")]
    NameTooLong { reference: String, len: usize },
}

/// Most characters in `registry/repo`, as Docker's distribution limits a name.
pub const MAX_NAME_LEN: usize = 255;

impl ImageRef {
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ReferenceError::BadCharacters(s.to_owned()));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        // A ':' after the last '/' separates the tag; earlier ones belong to a port.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].find(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        let (registry, repo) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        let repo = if registry == DEFAULT_REGISTRY && !repo.contains('/') {
            format!("library/{repo}")
        } else {
            repo
        };
        if !valid_repo(&repo) {
            return Err(ReferenceError::BadRepository {
                reference: s.to_owned(),
                repo,
            });
        }
        let len = registry.len() + 1 + repo.len();
        if len > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong { reference: s.to_owned(), len });
        }
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(ReferenceError::BadTag {
                reference: s.to_owned(),
                tag: t.to_owned(),
            });
        }
        if let Some(d) = digest
            && !valid_digest(d)
        {
            return Err(ReferenceError::BadDigest {
                reference: s.to_owned(),
                digest: d.to_owned(),
            });
        }
        let tag = match (tag, digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (t, _) => t.map(str::to_owned),
        };
        Ok(Self {
            registry,
            repo,
            tag,
            digest: digest.map(str::to_owned),
        })
    }

    /// `registry/repo:tag`, Anchore's `fulltag`; `None` for digest-only references.
    pub fn full_tag(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|t| format!("{}/{}:{}", self.registry, self.repo, t))
    }

    /// `registry/repo@digest`, Anchore's `fulldigest`, for a resolved digest.
    pub fn full_digest(&self, digest: &str) -> String {
        format!("{}/{}@{}", self.registry, self.repo, digest)
    }

    /// Whether the registry host is a loopback address (plain HTTP is allowed there).
    pub fn is_loopback_registry(&self) -> bool {
        let host = host_of(&self.registry);
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

/// Whether `t` is a tag Docker accepts: 1-128 characters of `[A-Za-z0-9_.-]`, not
/// starting with `.` or `-` (what a registry's tag list is checked against).
pub fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn valid_repo(repo: &str) -> bool {
    !repo.is_empty()
        && repo.split('/').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
                && c.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric)
        })
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repo)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_short_names_are_expanded() {
        let r = p("debian");
        assert_eq!(
            (r.registry.as_str(), r.repo.as_str()),
            ("docker.io", "library/debian")
        );
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(p("anchore/engine:v1").repo, "anchore/engine");
    }

    #[test]
    fn registry_ports_are_not_tags() {
        let r = p("127.0.0.1:5000/customs/tiny:latest");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repo, "customs/tiny");
        assert_eq!(
            r.full_tag().as_deref(),
            Some("127.0.0.1:5000/customs/tiny:latest")
        );
        assert!(r.is_loopback_registry());
        let r = p("localhost:5000/app");
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref()),
            ("localhost:5000", Some("latest"))
        );
        assert!(!p("registry.example.com/app:1").is_loopback_registry());
        assert!(p("[::1]:5000/app:1").is_loopback_registry());
    }

    #[test]
    fn digest_pinned_references_have_no_default_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("127.0.0.1:5000/customs/tiny@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.full_tag(), None);
    }

    #[test]
    fn malformed_references_are_refused_with_the_reason() {
        assert_eq!(ImageRef::parse("  "), Err(ReferenceError::Empty));
        assert!(matches!(
            ImageRef::parse("a b"),
            Err(ReferenceError::BadCharacters(_))
        ));
        assert!(matches!(
            ImageRef::parse("Debian"),
            Err(ReferenceError::BadRepository { .. })
        ));
        assert!(matches!(
            ImageRef::parse("debian:-x"),
            Err(ReferenceError::BadTag { .. })
        ));
        assert!(matches!(
            ImageRef::parse("debian@sha256:abc"),
            Err(ReferenceError::BadDigest { .. })
        ));
    }

    #[test]
    fn names_are_at_most_255_characters_with_their_registry() {
        // "registry.example/" is 17 characters; the repository fills the rest.
        let fits = format!("registry.example/{}", "a".repeat(MAX_NAME_LEN - 17));
        assert_eq!(ImageRef::parse(&fits).map(|r| r.registry.len() + 1 + r.repo.len()), Ok(MAX_NAME_LEN));
        let over = format!("{fits}b:v1");
        assert_eq!(
            ImageRef::parse(&over),
            Err(ReferenceError::NameTooLong { reference: over.clone(), len: MAX_NAME_LEN + 1 })
        );
        assert!(valid_tag("v1.2_3-rc") && !valid_tag(&"t".repeat(129)) && !valid_tag(".x") && !valid_tag("a/b"));
    }
}
