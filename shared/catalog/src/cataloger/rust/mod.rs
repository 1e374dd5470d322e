//! Rust crates from `Cargo.lock` files (lockfile versions 1–4): `[[package]]` tables with
//! `name`, `version`, `source` and `checksum`. Workspace members (no `source`) are the
//! project's own crates and are reported too, marked `source = local`.
//!
//! `cargo auditable` dependency lists embedded in executables: [`auditable`].

mod auditable;

pub(crate) use auditable::AuditableCataloger;

use customs_model::fs::FileSource;
use customs_model::package::{Package, PackageType};

use crate::cataloger::{Cataloger, Context, Found, file_name, files, location, read_text};
use crate::{cpe, purl};

pub(crate) struct CargoLockCataloger;

impl Cataloger for CargoLockCataloger {
    fn name(&self) -> &'static str {
        "rust-cargo-lock-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "rust"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let locks: Vec<_> = files(source)
            .filter(|e| file_name(&e.entry.path) == "Cargo.lock")
            .collect();
        for e in locks {
            let path = e.entry.path.as_str();
            let text = match read_text(source, path) {
                Ok(t) => t,
                Err(err) => {
                    found.unknown(path, e.layer, err);
                    continue;
                }
            };
            // Each `[[package]]` table up to the next table header.
            for (i, table) in text.split("[[package]]").skip(1).enumerate() {
                let table = table.split("\n[").next().unwrap_or(table);
                let get = |key: &str| {
                    table.lines().find_map(|l| {
                        let (k, v) = l.split_once('=')?;
                        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
                    })
                };
                let (Some(name), Some(version)) = (get("name"), get("version")) else {
                    found.unknown(
                        path,
                        e.layer,
                        format!("package #{}: no name or version", i + 1),
                    );
                    continue;
                };
                let mut p = Package::new(
                    PackageType::Rust,
                    &name,
                    &version,
                    purl::purl("cargo", "", &name, &version, &[]),
                    location(e),
                );
                p.cpes = cpe::generic(&name, &version, "rust");
                p.metadata.insert(
                    "source".into(),
                    get("source").unwrap_or_else(|| "local".into()),
                );
                if let Some(c) = get("checksum") {
                    p.metadata.insert("checksum".into(), c);
                }
                found.packages.push(p);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{find, run};

    #[test]
    fn this_repository_s_lock_file() {
        let found = run(&CargoLockCataloger, &["rust/workspace"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        assert_eq!(found.packages.len(), 12);
        let aead = find(&found.packages, "aead", "0.5.2");
        assert_eq!(aead.purl, "pkg:cargo/aead@0.5.2");
        assert_eq!(
            aead.metadata["source"],
            "registry+https://github.com/rust-lang/crates.io-index"
        );
        assert_eq!(
            find(&found.packages, "customs-model", "0.1.0").metadata["source"],
            "local"
        );
    }
}
