//! Red Hat family packages from the rpm database, in any of its three container formats,
//! told apart by content: SQLite `rpmdb.sqlite` (rpm ≥ 4.16: RHEL 9, Fedora ≥ 33),
//! Berkeley DB hash `Packages` (RHEL ≤ 8, CentOS, Amazon Linux 2) and NDB `Packages.db`
//! (SUSE), under `/var/lib/rpm/` or `/usr/lib/sysimage/rpm/`. Each holds one rpm header
//! per installed package: name, epoch, version, release, arch, source rpm, license,
//! vendor, and the owned files with their digests.
//!
//! Version is `[epoch:]version-release`, as rpm and the RHEL feeds compare it; the purl
//! keeps `version-release` and puts the epoch in a qualifier (purl-spec `rpm` type).

mod bdb;
mod header;
mod ndb;
mod sqlite;

use customs_model::fs::{FileSource, ViewEntry};
use customs_model::package::{Location, Package, PackageType};

use self::header::{Header, tag};
use crate::cataloger::{Cataloger, Context, Found, MAX_TEXT, location, read_bytes};
use crate::{cpe, distro, license, purl};

pub(crate) struct RpmCataloger;

/// The database files rpm writes (every backend, both database directories).
const DB_PATHS: [&str; 6] = [
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages.db",
];

impl Cataloger for RpmCataloger {
    fn name(&self) -> &'static str {
        "rpm-db-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "rpm"
    }

    fn catalog(&self, source: &dyn FileSource, ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let view = &source.view().entries;
        let dbs: Vec<&ViewEntry> = DB_PATHS
            .iter()
            .filter_map(|p| view.get(*p))
            .filter(|e| e.entry.kind == customs_model::fs::FileKind::File)
            .collect();
        for db in dbs {
            let path = db.entry.path.as_str();
            let bytes = match read_bytes(source, path, MAX_TEXT) {
                Ok(b) => b,
                Err(e) => {
                    found.unknown(path, db.layer, e);
                    continue;
                }
            };
            let blobs = match blobs(&bytes) {
                Ok(b) => b,
                Err(e) => {
                    found.unknown(path, db.layer, e);
                    continue;
                }
            };
            for blob in blobs {
                let parsed = blob.and_then(|b| {
                    let h = Header::parse(&b)?;
                    package(&h, location(db), ctx)
                });
                match parsed {
                    Ok(p) => found.packages.push(p),
                    Err(reason) => found.unknown(path, db.layer, reason),
                }
            }
        }
        found
    }
}

/// The header blobs of a database file, whatever its format. The outer error means the
/// file could not be read at all; inner ones are single unreadable entries.
fn blobs(bytes: &[u8]) -> Result<Vec<Result<Vec<u8>, String>>, String> {
    if bytes.starts_with(b"SQLite format 3\0") {
        let db = sqlite::Db::open(bytes)?;
        let root = db.table_root("Packages")?;
        let mut out = Vec::new();
        let scanned = db.rows(root, &mut |hnum, row| match row.get(1) {
            Some(sqlite::Value::Blob(b)) => out.push(Ok(b.to_vec())),
            _ => out.push(Err(format!("row {hnum}: no header blob"))),
        });
        if let Err(e) = scanned {
            out.push(Err(e));
        }
        Ok(out)
    } else if bytes.starts_with(b"RpmP") {
        Ok(ndb::blobs(bytes)?
            .into_iter()
            .map(|b| b.map(<[u8]>::to_vec))
            .collect())
    } else {
        // rpm's BDB key 0 holds a 4-byte counter, not a header.
        Ok(bdb::values(bytes)?
            .into_iter()
            .filter(|v| !matches!(v, Ok(b) if b.len() <= 8))
            .collect())
    }
}

/// `foo-4.5-7.el9.src.rpm` → (`foo`, `4.5-7.el9`).
fn split_source_rpm(srpm: &str) -> Option<(&str, &str)> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name, &stem[name.len() + 1..])).filter(|_| !version.is_empty() && !release.is_empty())
}

fn package(h: &Header<'_>, loc: Location, ctx: &Context<'_>) -> Result<Package, String> {
    let name = h.string(tag::NAME);
    let (ver, rel) = (h.string(tag::VERSION), h.string(tag::RELEASE));
    if name.is_empty() || ver.is_empty() {
        return Err("header without a name or version".into());
    }
    let epoch = h.int(tag::EPOCH);
    let vr = if rel.is_empty() {
        ver.to_owned()
    } else {
        format!("{ver}-{rel}")
    };
    let version = match epoch {
        Some(e) => format!("{e}:{vr}"),
        None => vr.clone(),
    };
    let arch = h.string(tag::ARCH);
    let srpm = h.string(tag::SOURCERPM);
    let epoch_s = epoch.map(|e| e.to_string()).unwrap_or_default();
    let distro_q = distro::purl_qualifier(ctx.distro);
    let ns = ctx.distro.map_or("", |d| d.id.as_str());
    let mut p = Package::new(
        PackageType::Rpm,
        name,
        &version,
        purl::purl(
            "rpm",
            ns,
            name,
            &vr,
            &[
                ("arch", arch),
                ("epoch", &epoch_s),
                ("upstream", srpm),
                ("distro", &distro_q),
            ],
        ),
        loc,
    );
    let vendor = h.string(tag::VENDOR);
    p.cpes = cpe::candidates(
        &[name, &vendor.to_lowercase().replace(' ', "_")],
        name,
        ver,
        "",
    );
    let lic = h.string(tag::LICENSE);
    if !lic.is_empty() {
        p.licenses = vec![license::normalize(lic)];
    }
    if let Some((src_name, src_version)) = split_source_rpm(srpm) {
        p.source_name = Some(src_name.to_owned());
        if src_version != vr {
            p.source_version = Some(src_version.to_owned());
        }
    }
    p.origin = (!vendor.is_empty()).then(|| vendor.to_owned());
    p.files = h.files();
    let digests = h.strings(tag::FILEDIGESTS);
    if digests.len() == p.files.len() && digests.iter().any(|d| !d.is_empty()) {
        // rpm `rpmpgp.h` PGPHASHALGO_*; MD5 when the header does not say.
        let algo = match h.int(tag::FILEDIGESTALGO).unwrap_or(1) {
            1 => "md5",
            2 => "sha1",
            8 => "sha256",
            9 => "sha384",
            10 => "sha512",
            11 => "sha224",
            _ => "unknown",
        };
        p.file_digests = digests
            .iter()
            .map(|d| {
                if d.is_empty() {
                    String::new()
                } else {
                    format!("{algo}:{d}")
                }
            })
            .collect();
    }
    for (k, v) in [
        ("arch", arch.to_owned()),
        ("release", rel.to_owned()),
        ("epoch", epoch_s),
        ("source_rpm", srpm.to_owned()),
        ("url", h.string(tag::URL).to_owned()),
        (
            "modularity_label",
            h.string(tag::MODULARITYLABEL).to_owned(),
        ),
        (
            "installed_size",
            h.int(tag::SIZE).map(|s| s.to_string()).unwrap_or_default(),
        ),
    ] {
        if !v.is_empty() {
            p.metadata.insert(k.to_owned(), v);
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{MemSource, find, run, testdata};

    /// `name epoch version release arch sourcerpm license` per package, as `rpm -qa`
    /// printed them when the fixtures were generated (generate.sh).
    fn expected() -> Vec<(String, String)> {
        let text = std::fs::read_to_string(testdata("rpm/expected.txt")).expect("expected.txt");
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let v = if f[1] == "0" {
                    format!("{}-{}", f[2], f[3])
                } else {
                    format!("{}:{}-{}", f[1], f[2], f[3])
                };
                (f[0].to_owned(), v)
            })
            .collect()
    }

    fn check(dir: &str, db_path: &str) {
        let found = run(&RpmCataloger, &[dir]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        let mut got: Vec<(String, String)> = found
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        got.sort();
        assert_eq!(got, expected(), "{dir}");

        let libs = find(&found.packages, "foo-libs", "1:4.5-7.el9");
        assert_eq!(libs.locations[0].path, db_path);
        assert_eq!(libs.source_name.as_deref(), Some("foo"));
        assert_eq!(libs.source_version, None);
        assert_eq!(libs.licenses, ["LGPL-2.1-or-later"]);
        assert_eq!(libs.origin.as_deref(), Some("Customs Test"));
        assert_eq!(
            libs.purl,
            "pkg:rpm/foo-libs@4.5-7.el9?arch=x86_64&epoch=1&upstream=foo-4.5-7.el9.src.rpm"
        );
        assert_eq!(libs.files.len(), 151, "the directory and its 150 files");
        assert!(
            libs.files
                .contains(&"/usr/lib64/foo/libfoo-module-with-a-long-file-name-150.so".to_owned())
        );
        assert_eq!(libs.file_digests.len(), libs.files.len());
        assert!(
            libs.file_digests
                .iter()
                .filter(|d| !d.is_empty())
                .all(|d| d.starts_with("sha256:") && d.len() == 71)
        );

        let hello = find(&found.packages, "hello", "2.10-3");
        assert_eq!(
            hello.files,
            ["/usr/bin/hello", "/usr/share/doc/hello/README"]
        );
        assert_eq!(hello.metadata["arch"], "x86_64");
        assert_eq!(hello.licenses, ["GPL-3.0-or-later"]);
        assert!(!hello.metadata.contains_key("epoch"));
    }

    #[test]
    fn sqlite_database() {
        check("rpm/sqlite", "/var/lib/rpm/rpmdb.sqlite");
    }

    #[test]
    fn berkeley_db_database() {
        check("rpm/bdb", "/var/lib/rpm/Packages");
    }

    #[test]
    fn ndb_database() {
        check("rpm/ndb", "/usr/lib/sysimage/rpm/Packages.db");
    }

    #[test]
    fn distro_in_purl_and_corrupt_databases_are_unknowns() {
        let src = MemSource::layers(&["rpm/sqlite", "rpm/rocky-9"]);
        let d = crate::detect_distro(&src).expect("distro");
        let found = RpmCataloger.catalog(&src, &Context { distro: Some(&d) });
        let hello = find(&found.packages, "hello", "2.10-3");
        assert_eq!(
            hello.purl,
            "pkg:rpm/rocky/hello@2.10-3?arch=x86_64&distro=rocky-9.3&upstream=hello-2.10-3.src.rpm"
        );

        // A truncated sqlite file: rows before the damage, then an unknown.
        let bytes = std::fs::read(testdata("rpm/sqlite/var/lib/rpm/rpmdb.sqlite")).expect("db");
        for (path, cut) in [
            ("var/lib/rpm/rpmdb.sqlite", bytes.len() / 2),
            ("var/lib/rpm/Packages", 100),
        ] {
            let src = MemSource::files(&[(path, &bytes[..cut])]);
            let found = RpmCataloger.catalog(&src, &Context::default());
            assert!(!found.unknowns.is_empty(), "{path}");
            assert_eq!(found.unknowns[0].path, format!("/{path}"));
        }
        assert_eq!(
            split_source_rpm("foo-4.5-7.el9.src.rpm"),
            Some(("foo", "4.5-7.el9"))
        );
        assert_eq!(split_source_rpm("garbage"), None);
    }
}
