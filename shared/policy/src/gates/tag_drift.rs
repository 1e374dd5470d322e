//! `tag_drift` (Anchore Enterprise): packages added, removed or modified since the image the
//! evaluated tag pointed to before.
//!
//! The previous image's packages come in `ImageFacts::previous_packages`; without a previous
//! image (`None`) no trigger fires. Packages are keyed by type and name: a key only in the new
//! image is added, only in the old one removed. When a key is in both and its versions differ,
//! the versions only in one side are paired as modified, highest with highest (string order); any left over are
//! added or removed. One firing per package.

use std::collections::BTreeMap;

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator};
use crate::facts::Package;

pub(crate) const GATE_NAME: &str = "tag_drift";

const PACKAGE_TYPE: ParamDef = ParamDef::new("package_type", false, Validator::Str);

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef {
            name: "packages_added",
            params: &[PACKAGE_TYPE],
            eval: added,
        },
        TriggerDef {
            name: "packages_removed",
            params: &[PACKAGE_TYPE],
            eval: removed,
        },
        TriggerDef {
            name: "packages_modified",
            params: &[PACKAGE_TYPE],
            eval: modified,
        },
    ],
};

/// One package type under its several spellings (Anchore's `dpkg`/`APKG`, syft's `deb`/`apk`, …).
fn normal_type(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    match t.as_str() {
        "deb" => "dpkg".into(),
        "apk" => "apkg".into(),
        "java-archive" | "jenkins-plugin" => "java".into(),
        "go-module" => "go".into(),
        "rust-crate" => "rust".into(),
        "dotnet" => "nuget".into(),
        "php-composer" => "php".into(),
        _ => t,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Change<'a> {
    Added {
        pkg_type: &'a str,
        name: &'a str,
        version: &'a str,
    },
    Removed {
        pkg_type: &'a str,
        name: &'a str,
        version: &'a str,
    },
    Modified {
        pkg_type: &'a str,
        name: &'a str,
        old: &'a str,
        new: &'a str,
    },
}

type Groups<'a> = BTreeMap<(String, &'a str), (&'a str, Vec<&'a str>)>;

fn group<'a>(pkgs: &'a [Package], only: Option<&str>) -> Groups<'a> {
    let mut out: Groups<'a> = BTreeMap::new();
    for p in pkgs {
        let t = normal_type(&p.pkg_type);
        if only.is_some_and(|o| o != t) {
            continue;
        }
        out.entry((t, p.name.as_str()))
            .or_insert_with(|| (p.pkg_type.as_str(), Vec::new()))
            .1
            .push(p.version.as_str());
    }
    for (_, versions) in out.values_mut() {
        versions.sort_unstable();
    }
    out
}

/// Every change from `old` to `new`, in type/name order.
fn changes<'a>(old: &'a [Package], new: &'a [Package], only: Option<&str>) -> Vec<Change<'a>> {
    let only = only
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(normal_type);
    let (old, new) = (group(old, only.as_deref()), group(new, only.as_deref()));
    let mut out = Vec::new();
    let mut keys: Vec<&(String, &str)> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let name = key.1;
        match (old.get(key), new.get(key)) {
            (None, Some((t, vs))) => out.extend(vs.iter().map(|v| Change::Added {
                pkg_type: t,
                name,
                version: v,
            })),
            (Some((t, vs)), None) => out.extend(vs.iter().map(|v| Change::Removed {
                pkg_type: t,
                name,
                version: v,
            })),
            (Some((_, ov)), Some((t, nv))) => {
                let mut gone: Vec<&str> = ov.clone();
                let mut came: Vec<&str> = Vec::new();
                for v in nv {
                    match gone.iter().position(|g| g == v) {
                        Some(i) => {
                            gone.remove(i);
                        }
                        None => came.push(v),
                    }
                }
                // Pair from the highest down, so the leftovers are the lowest versions.
                let pairs = gone.len().min(came.len());
                let (gone_rest, gone_paired) = gone.split_at(gone.len() - pairs);
                let (came_rest, came_paired) = came.split_at(came.len() - pairs);
                for (o, n) in gone_paired.iter().zip(came_paired) {
                    out.push(Change::Modified {
                        pkg_type: t,
                        name,
                        old: o,
                        new: n,
                    });
                }
                out.extend(came_rest.iter().map(|v| Change::Added {
                    pkg_type: t,
                    name,
                    version: v,
                }));
                out.extend(gone_rest.iter().map(|v| Change::Removed {
                    pkg_type: t,
                    name,
                    version: v,
                }));
            }
            (None, None) => {}
        }
    }
    out
}

fn fire(
    input: &TriggerInput<'_>,
    pick: fn(&Change<'_>) -> Option<String>,
) -> Result<Vec<Fired>, String> {
    let Some(previous) = input.facts.previous_packages.as_deref() else {
        return Ok(vec![]);
    };
    let only = input.params.str("package_type");
    Ok(changes(previous, &input.facts.packages, only)
        .iter()
        .filter_map(pick)
        .map(Fired::msg)
        .collect())
}

fn added(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    fire(input, |c| match c {
        Change::Added {
            pkg_type,
            name,
            version,
        } => Some(format!(
            "Package added since the tag's previous image: {name}-{version} (type: {pkg_type})"
        )),
        _ => None,
    })
}

fn removed(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    fire(input, |c| match c {
        Change::Removed {
            pkg_type,
            name,
            version,
        } => Some(format!(
            "Package removed since the tag's previous image: {name}-{version} (type: {pkg_type})"
        )),
        _ => None,
    })
}

fn modified(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    fire(input, |c| match c {
        Change::Modified {
            pkg_type,
            name,
            old,
            new,
        } => Some(format!(
            "Package modified since the tag's previous image: {name} from version {old} to {new} (type: {pkg_type})"
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::{Change, changes};
    use crate::facts::Package;

    fn pkg(name: &str, version: &str, pkg_type: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            pkg_type: pkg_type.into(),
            ..Package::default()
        }
    }

    #[test]
    fn pairs_versions_of_one_name() {
        let old = [
            pkg("lodash", "4.17.20", "npm"),
            pkg("lodash", "3.10.1", "npm"),
            pkg("zlib1g", "1.2", "dpkg"),
        ];
        let new = [
            pkg("lodash", "4.17.21", "npm"),
            pkg("lodash", "3.10.1", "npm"),
            pkg("lodash", "2.0.0", "npm"),
        ];
        let c = changes(&old, &new, None);
        assert_eq!(
            c,
            vec![
                Change::Removed {
                    pkg_type: "dpkg",
                    name: "zlib1g",
                    version: "1.2"
                },
                Change::Modified {
                    pkg_type: "npm",
                    name: "lodash",
                    old: "4.17.20",
                    new: "4.17.21"
                },
                Change::Added {
                    pkg_type: "npm",
                    name: "lodash",
                    version: "2.0.0"
                },
            ]
        );
        // syft's `deb` selects Anchore's `dpkg`.
        assert_eq!(changes(&old, &new, Some("deb")).len(), 1);
        assert_eq!(changes(&old, &new, Some("NPM")).len(), 2);
        assert!(changes(&old, &old, None).is_empty());
    }
}
