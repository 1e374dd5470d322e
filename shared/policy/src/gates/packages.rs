//! `packages`: required and denied OS packages, and package-database integrity.

use std::cmp::Ordering;

use customs_version::Format;

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator};
use crate::facts::{FileEntry, ImageFacts, Package, PackageDbFile, is_os_package_type};
use crate::pyfmt::py_oct;

pub(crate) const GATE_NAME: &str = "packages";
pub(crate) const REQUIRED_PACKAGE: &str = "required_package";
pub(crate) const VERIFY: &str = "verify";
pub(crate) const BLACKLIST: &str = "blacklist";

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef {
            name: REQUIRED_PACKAGE,
            params: &[
                ParamDef::new("name", true, Validator::Str),
                ParamDef::new("version", false, Validator::Str),
                ParamDef::new("version_match_type", false, Validator::Enum(&["exact", "minimum"])),
            ],
            eval: required_package,
        },
        TriggerDef {
            name: VERIFY,
            params: &[
                ParamDef::new("only_packages", false, Validator::CsvStrings),
                ParamDef::new("only_directories", false, Validator::CsvStrings),
                ParamDef::new("check", false, Validator::Enum(&["changed", "missing"])),
            ],
            eval: verify,
        },
        TriggerDef {
            name: BLACKLIST,
            params: &[ParamDef::new("name", true, Validator::Str), ParamDef::new("version", false, Validator::Str)],
            eval: blacklist,
        },
    ],
};

fn os_packages(facts: &ImageFacts) -> impl Iterator<Item = &Package> {
    facts.packages.iter().filter(|p| is_os_package_type(&p.pkg_type))
}

fn required_package(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let name = input.params.str("name").unwrap_or_default();
    let version = input.params.str("version");
    let comparison = input.params.str("version_match_type").unwrap_or("exact");
    if let Some(pkg) = os_packages(input.facts).find(|p| p.name == name) {
        let Some(version) = version else { return Ok(vec![]) };
        if pkg.version == version {
            return Ok(vec![]);
        }
        if comparison == "exact" {
            return Ok(vec![Fired::msg(format!(
                "Required input package ({}) is present ({}), but not at the version specified in policy ({name})",
                pkg.name, pkg.version
            ))]);
        }
        let format = Format::for_package_type(&pkg.pkg_type)
            .ok_or_else(|| format!("no version format for package type {}", pkg.pkg_type))?;
        let ord = format.compare(&pkg.version, version).map_err(|e| e.to_string())?;
        return Ok(if ord == Ordering::Less {
            vec![Fired::msg(format!(
                "Required min-version input package ({}) is present ({}), but is lower version than what is specified in policy ({version})",
                pkg.name, pkg.version
            ))]
        } else {
            vec![]
        });
    }
    Ok(vec![Fired::msg(match version {
        Some(v) => format!("Required input package ({name},{v}) is not present in container image"),
        None => format!("Required input package ({name}) is not present in container image"),
    })])
}

/// Compares a package-db entry with the file found on disk: `Some("missing" | "changed")` or `None`.
fn diff(entry: &PackageDbFile, file: Option<&FileEntry>) -> Option<&'static str> {
    let Some(file) = file else { return Some("missing") };
    if entry.is_config {
        return None;
    }
    if file.file_type == "file" {
        let on_disk = match entry.digest_algorithm.as_deref() {
            Some("sha256") => file.sha256.as_deref(),
            Some("md5") => file.md5.as_deref(),
            Some("sha1") => file.sha1.as_deref(),
            _ => None,
        };
        if let (Some(want), Some(have)) = (entry.digest.as_deref(), on_disk)
            && !want.is_empty()
            && !have.eq_ignore_ascii_case(want)
        {
            return Some("changed");
        }
    }
    if matches!(file.file_type.as_str(), "file" | "dir")
        && let Some(db_mode) = entry.mode.filter(|m| *m != 0)
        && file.mode != 0
    {
        let fs = py_oct(file.mode);
        let db = py_oct(db_mode);
        let (fs, db) = (&fs[2..], &db[2..]);
        let n = fs.len().min(db.len());
        if fs[fs.len() - n..] != db[db.len() - n..] {
            return Some("changed");
        }
    }
    if file.file_type == "file"
        && let Some(db_size) = entry.size.filter(|s| *s != 0)
        && file.size != 0
        && file.size != db_size
    {
        return Some("changed");
    }
    None
}

fn verify(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let only = input.params.csv("only_packages").unwrap_or_default();
    let dirs = input.params.csv("only_directories").unwrap_or_default();
    let check = input.params.str("check");
    let mut fired = Vec::new();
    for pkg in os_packages(input.facts).filter(|p| only.is_empty() || only.contains(&p.name)) {
        let entries: Vec<&PackageDbFile> = if dirs.is_empty() {
            pkg.db_files.iter().collect()
        } else {
            dirs.iter().flat_map(|d| pkg.db_files.iter().filter(move |e| e.path.starts_with(d.as_str()))).collect()
        };
        for entry in entries {
            let file = input.facts.files.iter().find(|f| f.path == entry.path);
            if let Some(status) = diff(entry, file)
                && check.is_none_or(|c| c == status)
            {
                fired.push(Fired::msg(format!(
                    "VERIFY check against package db for package '{}' failed on entry '{}' with status: '{status}'",
                    pkg.name, entry.path
                )));
            }
        }
    }
    Ok(fired)
}

fn blacklist(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let name = input.params.str("name").unwrap_or_default();
    let version = input.params.str("version").filter(|v| !v.is_empty());
    Ok(os_packages(input.facts)
        .filter(|p| p.name == name && version.is_none_or(|v| p.version == v))
        .map(|p| match version {
            Some(_) => Fired::msg(format!("Package is blacklisted: {}-{}", p.name, p.version)),
            None => Fired::msg(format!("Package is blacklisted: {}", p.name)),
        })
        .collect())
}
