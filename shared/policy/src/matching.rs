//! Image selection: tag parsing and the wildcard patterns of mappings and allowlists.

use regex::Regex;

use crate::bundle::ImageSelector;

/// Anchore's wildcard match: `*` matches anything, the rest literally, whole string; a pattern
/// starting with `regexp:` is a raw regex matched at the start.
pub fn wildcard_match(pattern: &str, input: &str) -> bool {
    let regex = if let Some(raw) = pattern.trim().strip_prefix("regexp:") {
        // `regexp:` is stripped from the untrimmed pattern, as Anchore does.
        let raw = &pattern[pattern.len() - raw.len()..];
        format!("^(?:{raw})")
    } else {
        let parts: Vec<String> = pattern.split('*').map(regex::escape).collect();
        format!("^{}$", parts.join("(.*)"))
    };
    Regex::new(&regex).is_ok_and(|r| r.is_match(input))
}

/// A full tag split into Anchore's `registry`, `repo` and `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagParts {
    pub registry: String,
    pub repo: String,
    pub tag: String,
}

/// Parses `docker.io/library/alpine:3.12`, `alpine`, `localhost:5000/app:1`, with
/// `dockerhub/` read as `docker.io/`; the registry defaults to `docker.io`, the tag to `latest`.
pub fn parse_tag(full: &str) -> TagParts {
    let full = match full.strip_prefix("dockerhub/") {
        Some(rest) => format!("docker.io/{rest}"),
        None => full.to_string(),
    };
    let without_digest = full.split('@').next().unwrap_or_default();
    let (registry, rest) = match without_digest.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), without_digest.to_string()),
    };
    let (repo, tag) = match rest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (rest.clone(), "latest".to_string()),
    };
    TagParts { registry, repo, tag }
}

/// Does a mapping / image-selection rule select this image under this tag?
pub(crate) fn selects(
    registry: Option<&str>,
    repository: Option<&str>,
    image: Option<&ImageSelector>,
    tag: &TagParts,
    image_id: &str,
    digest: &str,
) -> bool {
    if !wildcard_match(registry.unwrap_or(""), &tag.registry) || !wildcard_match(repository.unwrap_or(""), &tag.repo) {
        return false;
    }
    let Some(sel) = image else { return false };
    let id_match = !image_id.is_empty() && sel.value == image_id;
    let digest_match = !digest.is_empty() && sel.value == digest;
    match sel.kind.as_str() {
        "digest" => digest_match,
        "id" => id_match,
        "tag" => wildcard_match(&sel.value, &tag.tag) || id_match || digest_match,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_anchore() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("docker.io", "docker.io"));
        assert!(!wildcard_match("docker.io", "dockerXio"));
        assert!(wildcard_match("library/*", "library/alpine"));
        assert!(wildcard_match("CVE-2020-*+*", "CVE-2020-1234+openssl"));
        assert!(!wildcard_match("CVE-2020-*", "CVE-2021-1"));
        assert!(wildcard_match("regexp:CVE-20(19|20)-.*", "CVE-2019-9"));
    }

    #[test]
    fn tags_parse_like_anchore() {
        assert_eq!(
            parse_tag("docker.io/alpine:3.12"),
            TagParts { registry: "docker.io".into(), repo: "alpine".into(), tag: "3.12".into() }
        );
        assert_eq!(parse_tag("alpine").tag, "latest");
        let local = parse_tag("127.0.0.1:5000/customs/debian-app:latest");
        assert_eq!((local.registry.as_str(), local.repo.as_str()), ("127.0.0.1:5000", "customs/debian-app"));
        assert_eq!(parse_tag("dockerhub/library/nginx:1").registry, "docker.io");
    }
}
