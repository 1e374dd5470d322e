//! Java archives (`.jar .war .ear .jpi .hpi`): the archive's own package from its
//! `pom.properties` (or `MANIFEST.MF`, or the file name), packages shaded into it (other
//! `META-INF/maven/**/pom.properties`), and nested archives (`WEB-INF/lib/*.jar`, fat
//! jars) down to [`MAX_DEPTH`] levels.

use std::io::{Cursor, Read};

use customs_model::fs::FileSource;
use customs_model::package::{Location, Package, PackageType};
use zip::ZipArchive;

use crate::cataloger::{Cataloger, Context, Found, file_name, files, location, read_bytes};
use crate::error::Error;
use crate::{cpe, license, purl};

pub(crate) struct JavaCataloger;

const SUFFIXES: &[&str] = &[".jar", ".war", ".ear", ".jpi", ".hpi"];
/// Archives inside archives inside … the image file, at most this deep.
const MAX_DEPTH: usize = 3;
/// Largest archive read into memory (top level or nested).
const MAX_ARCHIVE: u64 = 512 << 20;
/// Largest metadata entry read (manifest, pom.properties).
const MAX_ENTRY: u64 = 1 << 20;

impl Cataloger for JavaCataloger {
    fn name(&self) -> &'static str {
        "java-archive-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "java"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let archives: Vec<_> = files(source)
            .filter(|e| is_archive(&e.entry.path))
            .collect();
        for e in archives {
            let path = e.entry.path.as_str();
            match read_bytes(source, path, MAX_ARCHIVE) {
                Ok(bytes) => archive(bytes, &location(e), &location(e).path, 0, &mut found),
                Err(err) => found.unknown(path, e.layer, err),
            }
        }
        found
    }
}

fn is_archive(path: &str) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Catalogs one archive; `virtual_path` is `outer.war:WEB-INF/lib/inner.jar` for nested ones.
fn archive(bytes: Vec<u8>, loc: &Location, virtual_path: &str, depth: usize, found: &mut Found) {
    let mut zip = match ZipArchive::new(Cursor::new(bytes)) {
        Ok(z) => z,
        Err(err) => {
            found.unknown(virtual_path, loc.layer, Error::from(err));
            return;
        }
    };
    let mut manifest = None;
    let mut poms = Vec::new();
    let mut nested = Vec::new();
    for i in 0..zip.len() {
        let Ok(mut entry) = zip.by_index(i) else {
            found.unknown(virtual_path, loc.layer, format!("unreadable entry #{i}"));
            continue;
        };
        let name = entry.name().to_owned();
        let wanted = name.eq_ignore_ascii_case("META-INF/MANIFEST.MF")
            || (name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties"));
        if wanted {
            let mut text = String::new();
            if (&mut entry)
                .take(MAX_ENTRY)
                .read_to_string(&mut text)
                .is_err()
            {
                found.unknown(
                    &format!("{virtual_path}:{name}"),
                    loc.layer,
                    "unreadable entry",
                );
                continue;
            }
            if name.ends_with("pom.properties") {
                poms.push((name, properties(&text)));
            } else {
                manifest = Some(main_attributes(&text));
            }
        } else if depth < MAX_DEPTH && is_archive(&name) && !entry.is_dir() {
            nested.push(name);
        }
    }
    let (stem_name, stem_version) = split_file_name(file_name(virtual_path));
    let manifest = manifest.unwrap_or_default();
    // The archive's own pom.properties: the one whose artifact is named like the file,
    // or the only one.
    let own = poms
        .iter()
        .position(|(_, p)| p.get("artifactId").is_some_and(|a| *a == stem_name))
        .or_else(|| (poms.len() == 1).then_some(0));
    if let Some(i) = own {
        let (_, pom) = &poms[i];
        if let Some(p) = from_pom(pom, loc, virtual_path, &manifest) {
            found.packages.push(p);
        }
    } else if let Some(p) = from_manifest(&manifest, &stem_name, &stem_version, loc, virtual_path) {
        found.packages.push(p);
    }
    for (i, (_, pom)) in poms.iter().enumerate() {
        if Some(i) != own
            && let Some(p) = from_pom(pom, loc, virtual_path, &[])
        {
            found.packages.push(p);
        }
    }
    for name in nested {
        let inner_path = format!("{virtual_path}:{name}");
        let mut bytes = Vec::new();
        let read = zip.by_name(&name).map_err(Error::from).and_then(|e| {
            e.take(MAX_ARCHIVE + 1)
                .read_to_end(&mut bytes)
                .map_err(Error::from)
        });
        match read {
            Ok(n) if n as u64 > MAX_ARCHIVE => {
                found.unknown(&inner_path, loc.layer, Error::TooLarge(MAX_ARCHIVE))
            }
            Ok(_) => archive(bytes, loc, &inner_path, depth + 1, found),
            Err(err) => found.unknown(&inner_path, loc.layer, err),
        }
    }
}

type Attrs = [(String, String)];

fn attr<'a>(a: &'a Attrs, key: &str) -> Option<&'a str> {
    a.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `key=value` lines of a properties file.
fn properties(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The main section of a manifest; continuation lines start with one space.
fn main_attributes(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(cont);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// `commons-lang3-3.12.0` → (`commons-lang3`, `3.12.0`): the version starts at the last
/// `-` followed by a digit.
fn split_file_name(file: &str) -> (String, String) {
    let stem = match file.rfind('.') {
        Some(i) => &file[..i],
        None => file,
    };
    let cut = stem
        .char_indices()
        .filter(|(i, c)| *c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)
        .next();
    match cut {
        Some(i) => (stem[..i].to_owned(), stem[i + 1..].to_owned()),
        None => (stem.to_owned(), String::new()),
    }
}

fn java_package(
    group: &str,
    artifact: &str,
    version: &str,
    loc: &Location,
    virtual_path: &str,
) -> Package {
    let ns = if group.is_empty() { artifact } else { group };
    let mut p = Package::new(
        PackageType::Java,
        artifact,
        version,
        purl::purl("maven", ns, artifact, version, &[]),
        loc.clone(),
    );
    // NVD vendor: the organisation in the group id (`org.apache.commons` → `apache`).
    let org = group.split('.').nth(1).unwrap_or("");
    p.cpes = cpe::candidates(
        &[org, artifact, &format!("{artifact}_project")],
        artifact,
        version,
        "java",
    );
    if !group.is_empty() {
        p.metadata.insert("group_id".into(), group.to_owned());
    }
    p.metadata.insert("artifact_id".into(), artifact.to_owned());
    if virtual_path != loc.path {
        p.metadata
            .insert("virtual_path".into(), virtual_path.to_owned());
    }
    p
}

fn from_pom(
    pom: &std::collections::BTreeMap<String, String>,
    loc: &Location,
    virtual_path: &str,
    manifest: &Attrs,
) -> Option<Package> {
    let artifact = pom.get("artifactId").filter(|a| !a.is_empty())?;
    let group = pom.get("groupId").map_or("", String::as_str);
    let version = pom.get("version").map_or("", String::as_str);
    let mut p = java_package(group, artifact, version, loc, virtual_path);
    add_manifest_details(&mut p, manifest);
    Some(p)
}

fn from_manifest(
    m: &Attrs,
    stem_name: &str,
    stem_version: &str,
    loc: &Location,
    virtual_path: &str,
) -> Option<Package> {
    let version = [
        "Implementation-Version",
        "Bundle-Version",
        "Specification-Version",
    ]
    .iter()
    .find_map(|k| attr(m, k))
    .unwrap_or(stem_version);
    let name = if stem_name.is_empty() {
        attr(m, "Implementation-Title").or_else(|| attr(m, "Bundle-Name"))?
    } else {
        stem_name
    };
    if version.is_empty() && m.is_empty() {
        return None;
    }
    let group = attr(m, "Implementation-Vendor-Id")
        .map(str::to_owned)
        .or_else(|| {
            let sym = attr(m, "Bundle-SymbolicName")?.split(';').next()?.trim();
            let (g, _) = sym.rsplit_once('.')?;
            g.contains('.').then(|| g.to_owned())
        })
        .unwrap_or_default();
    let mut p = java_package(&group, name, version, loc, virtual_path);
    add_manifest_details(&mut p, m);
    Some(p)
}

fn add_manifest_details(p: &mut Package, m: &Attrs) {
    if let Some(l) = attr(m, "Bundle-License")
        && !l.contains("://")
    {
        p.licenses = vec![license::normalize(l)];
    }
    p.origin = attr(m, "Implementation-Vendor")
        .or_else(|| attr(m, "Bundle-Vendor"))
        .map(str::to_owned);
    for (k, meta) in [
        ("Implementation-Title", "implementation_title"),
        ("Bundle-SymbolicName", "bundle_symbolic_name"),
    ] {
        if let Some(v) = attr(m, k) {
            p.metadata.insert(meta.into(), v.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::testutil::{MemSource, run, testdata};

    #[test]
    fn commons_lang3_from_pom_properties() {
        let found = run(&JavaCataloger, &["java/commons-lang3"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        assert_eq!(found.packages.len(), 1);
        let p = &found.packages[0];
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("commons-lang3", "3.12.0")
        );
        assert_eq!(p.purl, "pkg:maven/org.apache.commons/commons-lang3@3.12.0");
        assert_eq!(p.locations[0].path, "/opt/java/commons-lang3-3.12.0.jar");
        assert_eq!(p.metadata["group_id"], "org.apache.commons");
        assert_eq!(
            p.cpes[0],
            "cpe:2.3:a:apache:commons-lang3:3.12.0:*:*:*:*:java:*:*"
        );
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, data) in entries {
            w.start_file(*name, opts).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn nested_war_manifest_only_jar_and_corrupt_inner_archive() {
        let lang3 = std::fs::read(testdata(
            "java/commons-lang3/opt/java/commons-lang3-3.12.0.jar",
        ))
        .expect("jar");
        let manifest_only = zip_of(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Title: log4j\r\nImplementation-Version: 1.2.17\r\nImplementation-Vendor: Apache Software Foundation\r\n\r\n",
        )]);
        let war = zip_of(&[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
            (
                "META-INF/maven/com.example/shop/pom.properties",
                b"#Generated by Maven\ngroupId=com.example\nartifactId=shop\nversion=2.0.1\n",
            ),
            ("WEB-INF/lib/commons-lang3-3.12.0.jar", &lang3),
            ("WEB-INF/lib/log4j-1.2.17.jar", &manifest_only),
            ("WEB-INF/lib/broken-1.0.jar", b"not a zip"),
        ]);
        let src = MemSource::files(&[
            ("srv/shop.war", &war),
            ("srv/truncated.jar", &lang3[..1000]),
        ]);
        let found = JavaCataloger.catalog(&src, &Context::default());
        let mut got: Vec<_> = found.packages.iter().map(|p| p.purl.as_str()).collect();
        got.sort();
        assert_eq!(
            got,
            [
                "pkg:maven/com.example/shop@2.0.1",
                "pkg:maven/log4j/log4j@1.2.17",
                "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
            ]
        );
        let lang = found
            .packages
            .iter()
            .find(|p| p.name == "commons-lang3")
            .expect("nested");
        assert_eq!(lang.locations[0].path, "/srv/shop.war");
        assert_eq!(
            lang.metadata["virtual_path"],
            "/srv/shop.war:WEB-INF/lib/commons-lang3-3.12.0.jar"
        );
        let log4j = found
            .packages
            .iter()
            .find(|p| p.name == "log4j")
            .expect("manifest only");
        assert_eq!(log4j.origin.as_deref(), Some("Apache Software Foundation"));
        let unknown: Vec<_> = found.unknowns.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(
            unknown,
            [
                "/srv/shop.war:WEB-INF/lib/broken-1.0.jar",
                "/srv/truncated.jar"
            ]
        );
    }

    #[test]
    fn file_names_split_at_the_version() {
        assert_eq!(
            split_file_name("commons-lang3-3.12.0.jar"),
            ("commons-lang3".into(), "3.12.0".into())
        );
        assert_eq!(
            split_file_name("log4j-core-2.14.1.jar"),
            ("log4j-core".into(), "2.14.1".into())
        );
        assert_eq!(split_file_name("app.war"), ("app".into(), String::new()));
    }
}
