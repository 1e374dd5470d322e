//! Java archives: namespace `maven` under `group:artifact`, taken from the Maven purl (or
//! the `group_id`/`artifact_id` the catalog read from the POM), Maven version order.

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::verdict;
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Java;

/// `pkg:maven/<group>/<artifact>@v` → `group:artifact`.
fn maven_key(p: &Package) -> Option<String> {
    if let Some(rest) = p.purl.strip_prefix("pkg:maven/") {
        let path = rest.split(['@', '?', '#']).next()?;
        let (group, artifact) = path.rsplit_once('/')?;
        return Some(format!("{group}:{artifact}"));
    }
    let group = p.metadata.get("group_id").filter(|g| !g.is_empty())?;
    let artifact = p
        .metadata
        .get("artifact_id")
        .filter(|a| !a.is_empty())
        .unwrap_or(&p.name);
    Some(format!("{group}:{artifact}"))
}

impl Matcher for Java {
    fn name(&self) -> &'static str {
        "java"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Java]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        maven_key(p)
            .map(|k| super::one_key("maven", k))
            .unwrap_or_default()
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        verdict(Format::Maven, &p.version, a)
    }
}
