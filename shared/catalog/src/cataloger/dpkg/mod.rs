//! Debian packages from `/var/lib/dpkg/status` and the one-file-per-package
//! `/var/lib/dpkg/status.d/*` of distroless images, with source package and version,
//! per-package file lists (`info/<pkg>[:<arch>].list`, or `status.d/<pkg>.md5sums`) and
//! licenses from machine-readable `usr/share/doc/<pkg>/copyright` files, when staged.

use std::collections::BTreeSet;

use customs_model::fs::{FileSource, ViewEntry};
use customs_model::package::{Package, PackageType};

use crate::cataloger::{Cataloger, Context, Found, abs, files, location, read_text};
use crate::{cpe, distro, license, purl};

pub(crate) struct DpkgCataloger;

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d/";
const INFO: &str = "var/lib/dpkg/info/";

impl Cataloger for DpkgCataloger {
    fn name(&self) -> &'static str {
        "dpkg-db-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "dpkg"
    }

    fn catalog(&self, source: &dyn FileSource, ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let dbs: Vec<&ViewEntry> = files(source)
            .filter(|e| {
                let p = e.entry.path.as_str();
                p == STATUS
                    || p.strip_prefix(STATUS_D)
                        .is_some_and(|n| !n.contains('/') && !n.ends_with(".md5sums"))
            })
            .collect();
        for db in dbs {
            let path = db.entry.path.as_str();
            let text = match read_text(source, path) {
                Ok(t) => t,
                Err(e) => {
                    found.unknown(path, db.layer, e);
                    continue;
                }
            };
            for (i, stanza) in stanzas(&text).enumerate() {
                match package(&stanza, db, source, ctx) {
                    Ok(Some(p)) => found.packages.push(p),
                    Ok(None) => {}
                    Err(reason) => {
                        found.unknown(path, db.layer, format!("entry {}: {reason}", i + 1))
                    }
                }
            }
        }
        found
    }
}

/// `Key: value` fields of one paragraph; continuation lines are joined with `\n`.
type Stanza<'a> = Vec<(&'a str, String)>;

fn stanzas(text: &str) -> impl Iterator<Item = Stanza<'_>> {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|para| {
            let mut fields: Stanza<'_> = Vec::new();
            for line in para.lines() {
                if line.starts_with([' ', '\t']) {
                    if let Some((_, v)) = fields.last_mut() {
                        v.push('\n');
                        v.push_str(line.trim());
                    }
                } else if let Some((k, v)) = line.split_once(':') {
                    fields.push((k.trim(), v.trim().to_owned()));
                }
            }
            fields
        })
}

fn field<'a>(s: &'a Stanza<'_>, key: &str) -> Option<&'a str> {
    s.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn package(
    s: &Stanza<'_>,
    db: &ViewEntry,
    source: &dyn FileSource,
    ctx: &Context<'_>,
) -> Result<Option<Package>, String> {
    let name = field(s, "Package").ok_or("no Package field")?;
    let version = field(s, "Version").ok_or_else(|| format!("{name}: no Version field"))?;
    // `deinstall ok config-files` and `not-installed` leave no package behind.
    if let Some(status) = field(s, "Status") {
        let state = status.split_whitespace().nth(2).unwrap_or("");
        if matches!(state, "config-files" | "not-installed") {
            return Ok(None);
        }
    }
    let arch = field(s, "Architecture").unwrap_or("");
    // `Source: bash (5.2.15-2)` or `Source: glibc`.
    let (src_name, src_version) = match field(s, "Source") {
        Some(v) => match v.split_once('(') {
            Some((n, rest)) => (Some(n.trim()), Some(rest.trim_end_matches(')').trim())),
            None => (Some(v.trim()), None),
        },
        None => (None, None),
    };
    let src_name = src_name.filter(|n| *n != name || src_version.is_some());
    let src_version = src_version.filter(|v| *v != version);
    let ns = ctx.distro.map_or("debian", |d| d.id.as_str());
    let distro = distro::purl_qualifier(ctx.distro);
    let upstream = purl::upstream(src_name, src_version);
    let mut p = Package::new(
        PackageType::Dpkg,
        name,
        version,
        purl::purl(
            "deb",
            ns,
            name,
            version,
            &[("arch", arch), ("distro", &distro), ("upstream", &upstream)],
        ),
        location(db),
    );
    p.cpes = cpe::candidates(&[name], name, version, "");
    p.source_name = src_name.map(str::to_owned);
    p.source_version = src_version.map(str::to_owned);
    p.origin = field(s, "Maintainer").map(str::to_owned);
    for (key, meta) in [
        ("Architecture", "arch"),
        ("Installed-Size", "installed_size_kib"),
        ("Section", "section"),
        ("Priority", "priority"),
        ("Depends", "depends"),
        ("Pre-Depends", "pre_depends"),
        ("Provides", "provides"),
    ] {
        if let Some(v) = field(s, key) {
            p.metadata.insert(meta.to_owned(), v.replace('\n', " "));
        }
    }
    // File ownership.
    let mut owned = BTreeSet::new();
    let lists = [
        format!("{INFO}{name}:{arch}.list"),
        format!("{INFO}{name}.list"),
    ];
    if let Some(list) = lists.iter().find_map(|l| read_text(source, l).ok()) {
        owned.extend(
            list.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != "/.")
                .map(abs),
        );
        p.locations.push(customs_model::package::Location {
            path: abs(lists
                .iter()
                .find(|l| source.open(l).is_some())
                .unwrap_or(&lists[1])),
            layer: db.layer,
        });
    } else if db.entry.path.starts_with(STATUS_D) {
        let sums = format!("{}.md5sums", db.entry.path);
        if let Ok(t) = read_text(source, &sums) {
            owned.extend(
                t.lines()
                    .filter_map(|l| l.split_once("  "))
                    .map(|(_, f)| abs(f.trim())),
            );
        }
    }
    p.files = owned.into_iter().collect();
    // Licenses from the DEP-5 copyright file.
    let copyright = format!("usr/share/doc/{name}/copyright");
    if let Ok(text) = read_text(source, &copyright) {
        p.licenses = dep5_licenses(&text);
    }
    Ok(Some(p))
}

/// The license short names of a machine-readable copyright file, in SPDX form where
/// known, first-seen order, without duplicates.
fn dep5_licenses(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some(v) = line.strip_prefix("License:") else {
            continue;
        };
        for part in v
            .split([','])
            .flat_map(|p| p.split(" and "))
            .flat_map(|p| p.split(" or "))
        {
            let part = part.trim();
            if part.is_empty() || part.contains(' ') {
                continue;
            }
            let l = license::normalize(part);
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{MemSource, find, run};
    use customs_model::package::Distro;

    #[test]
    fn bookworm_status_with_sources_files_and_licenses() {
        let src = MemSource::layers_staging_all(&["dpkg/bookworm"]);
        let distro = Distro {
            id: "debian".into(),
            version: "12".into(),
            namespace: "debian:12".into(),
            id_like: vec![],
            pretty_name: None,
        };
        let found = DpkgCataloger.catalog(
            &src,
            &Context {
                distro: Some(&distro),
            },
        );
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        assert_eq!(found.packages.len(), 96);

        let bash = find(&found.packages, "bash", "5.2.15-2+b13");
        assert_eq!(bash.source_name.as_deref(), Some("bash"));
        assert_eq!(bash.source_version.as_deref(), Some("5.2.15-2"));
        assert_eq!(
            bash.purl,
            "pkg:deb/debian/bash@5.2.15-2%2Bb13?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2"
        );
        assert_eq!(bash.locations[0].path, "/var/lib/dpkg/status");

        let libc = found
            .packages
            .iter()
            .find(|p| p.name == "libc6")
            .expect("libc6");
        assert_eq!(libc.source_name.as_deref(), Some("glibc"));
        assert!(libc.purl.contains("upstream=glibc"), "{}", libc.purl);
        assert!(
            libc.files
                .iter()
                .any(|f| f == "/lib/x86_64-linux-gnu/libc.so.6"),
            "libc6:amd64.list read"
        );

        let coreutils = found
            .packages
            .iter()
            .find(|p| p.name == "coreutils")
            .expect("coreutils");
        assert!(coreutils.files.iter().any(|f| f == "/usr/bin/tac"));
        assert_eq!(coreutils.licenses[0], "GPL-3.0-or-later");
        assert!(coreutils.licenses.contains(&"ISC".to_owned()));
        assert_eq!(coreutils.metadata["arch"], "amd64");
        assert!(coreutils.origin.as_deref().is_some_and(|o| o.contains('@')));
    }

    #[test]
    fn without_staged_lists_packages_still_come_out() {
        let found = run(&DpkgCataloger, &["dpkg/bookworm"]);
        assert_eq!(found.packages.len(), 96);
        assert!(
            found
                .packages
                .iter()
                .all(|p| p.purl.starts_with("pkg:deb/debian/"))
        );
    }

    #[test]
    fn distroless_status_d_with_md5sums() {
        let found = run(&DpkgCataloger, &["dpkg/distroless"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        let names: Vec<_> = found.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["base-files", "libc6"]);
        let base = &found.packages[0];
        assert_eq!(base.locations[0].path, "/var/lib/dpkg/status.d/base-files");
        assert_eq!(base.files[0], "/usr/lib/os-release");
    }

    #[test]
    fn a_broken_entry_is_an_unknown_and_the_rest_is_kept() {
        let status = b"Package: good\nStatus: install ok installed\nVersion: 1.0\n\nPackage: broken\nStatus: install ok installed\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 2\n\n\x00\xff garbage\n";
        let src = MemSource::files(&[("var/lib/dpkg/status", status)]);
        let found = DpkgCataloger.catalog(&src, &Context::default());
        assert_eq!(found.packages.len(), 1);
        assert_eq!(found.packages[0].name, "good");
        assert_eq!(found.unknowns.len(), 2, "{:?}", found.unknowns);
        assert!(found.unknowns[0].reason.contains("broken: no Version"));
        assert_eq!(found.unknowns[0].path, "/var/lib/dpkg/status");
    }
}
