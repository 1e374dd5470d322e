//! Alpine packages from `/lib/apk/db/installed`: one paragraph per package of
//! single-letter `K:value` lines (`P` name, `V` version, `A` arch, `o` origin, `L`
//! license, `m` maintainer, `F`/`R` owned directories and files).

use customs_model::fs::FileSource;
use customs_model::package::{Package, PackageType};

use crate::cataloger::{Cataloger, Context, Found, files, location, read_text};
use crate::{cpe, distro, license, purl};

pub(crate) struct ApkCataloger;

const DB: &str = "lib/apk/db/installed";

impl Cataloger for ApkCataloger {
    fn name(&self) -> &'static str {
        "apk-db-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "apk"
    }

    fn catalog(&self, source: &dyn FileSource, ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        for db in files(source).filter(|e| e.entry.path == DB) {
            let text = match read_text(source, DB) {
                Ok(t) => t,
                Err(e) => {
                    found.unknown(DB, db.layer, e);
                    continue;
                }
            };
            for (i, para) in text
                .split("\n\n")
                .filter(|p| !p.trim().is_empty())
                .enumerate()
            {
                let mut p = Record::default();
                let mut dir = String::new();
                for line in para.lines() {
                    let Some((k, v)) = line.split_once(':') else {
                        continue;
                    };
                    match k {
                        "P" => p.name = v.to_owned(),
                        "V" => p.version = v.to_owned(),
                        "A" => p.arch = v.to_owned(),
                        "o" => p.origin = v.to_owned(),
                        "L" => p.license = v.to_owned(),
                        "m" => p.maintainer = v.to_owned(),
                        "I" => p.size = v.to_owned(),
                        "U" => p.url = v.to_owned(),
                        "F" => dir = v.to_owned(),
                        "R" if dir.is_empty() => p.files.push(format!("/{v}")),
                        "R" => p.files.push(format!("/{dir}/{v}")),
                        _ => {}
                    }
                }
                if p.name.is_empty() || p.version.is_empty() {
                    found.unknown(
                        DB,
                        db.layer,
                        format!("entry {}: no package name or version", i + 1),
                    );
                    continue;
                }
                found.packages.push(p.into_package(location(db), ctx));
            }
        }
        found
    }
}

#[derive(Default)]
struct Record {
    name: String,
    version: String,
    arch: String,
    origin: String,
    license: String,
    maintainer: String,
    size: String,
    url: String,
    files: Vec<String>,
}

impl Record {
    fn into_package(self, loc: customs_model::package::Location, ctx: &Context<'_>) -> Package {
        let ns = ctx.distro.map_or("alpine", |d| d.id.as_str());
        let distro = distro::purl_qualifier(ctx.distro);
        let upstream = if self.origin != self.name {
            self.origin.as_str()
        } else {
            ""
        };
        let mut p = Package::new(
            PackageType::Apkg,
            &self.name,
            &self.version,
            purl::purl(
                "apk",
                ns,
                &self.name,
                &self.version,
                &[
                    ("arch", &self.arch),
                    ("distro", &distro),
                    ("upstream", upstream),
                ],
            ),
            loc,
        );
        p.cpes = cpe::candidates(&[&self.name], &self.name, &self.version, "");
        if !self.license.is_empty() {
            p.licenses = vec![apk_license(&self.license)];
        }
        p.source_name = (!self.origin.is_empty()).then(|| self.origin.clone());
        p.origin = (!self.maintainer.is_empty()).then_some(self.maintainer);
        p.files = self.files;
        for (k, v) in [
            ("arch", self.arch),
            ("installed_size", self.size),
            ("url", self.url),
        ] {
            if !v.is_empty() {
                p.metadata.insert(k.to_owned(), v);
            }
        }
        p
    }
}

/// Older packages list licenses separated by spaces (`MIT BSD-3-Clause`): all apply.
fn apk_license(raw: &str) -> String {
    if license::is_expression(raw) {
        return raw.to_owned();
    }
    let parts: Vec<String> = raw.split_whitespace().map(license::normalize).collect();
    if parts.len() > 1 && parts.iter().all(|p| license::is_expression(p)) {
        parts.join(" AND ")
    } else {
        license::normalize(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::run;

    #[test]
    fn installed_db_with_origins_files_and_a_broken_entry() {
        let found = run(&ApkCataloger, &["apk/multiple"]);
        let names: Vec<_> = found.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "musl",
                "busybox-binsh",
                "ca-certificates-bundle",
                "libcrypto3"
            ]
        );
        assert_eq!(found.unknowns.len(), 1);
        assert_eq!(found.unknowns[0].path, "/lib/apk/db/installed");

        let sh = &found.packages[1];
        assert_eq!(sh.source_name.as_deref(), Some("busybox"));
        assert_eq!(
            sh.purl,
            "pkg:apk/alpine/busybox-binsh@1.36.1-r5?arch=x86_64&upstream=busybox"
        );
        assert_eq!(sh.files, ["/bin/sh"]);
        assert_eq!(sh.licenses, ["GPL-2.0-only"]);

        let ca = &found.packages[2];
        assert_eq!(
            ca.files,
            ["/etc/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt"]
        );
        assert_eq!(ca.licenses, ["MPL-2.0 AND MIT"]);
        assert_eq!(
            found.packages[0].purl,
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"
        );
        assert_eq!(apk_license("MIT BSD-3-Clause"), "MIT AND BSD-3-Clause");
    }
}
