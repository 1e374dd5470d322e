//! Runtimes that carry no package metadata, recognised by file name and identified by a
//! version string inside the executable (read by streaming): CPython, Node.js, BusyBox,
//! OpenJDK's `java` launcher and the Go toolchain.

use customs_model::fs::FileSource;
use customs_model::package::{Package, PackageType};

use crate::cataloger::{Cataloger, Context, Found, file_name, files, location, parent};
use crate::scan::scan;
use crate::{cpe, purl};

pub(crate) struct BinaryCataloger;

/// One runtime: which files to look at, what to search for, how to read the version.
struct Classifier {
    /// Package name (`pkg:generic/<name>`).
    name: &'static str,
    /// NVD vendor and product.
    cpe: (&'static str, &'static str),
    matches: fn(path: &str) -> bool,
    needles: fn(path: &str) -> Vec<Vec<u8>>,
    /// The version from the bytes that follow a needle.
    version: fn(after_needle: &[u8]) -> Option<String>,
}

const CLASSIFIERS: &[Classifier] = &[
    Classifier {
        name: "python",
        cpe: ("python_software_foundation", "python"),
        matches: |p| python_minor(file_name(p)).is_some(),
        needles: |p| {
            // `\0` + `3.11.` when the file name says the minor version, else any `\0` + `3.`.
            let mm = python_minor(file_name(p)).unwrap_or_else(|| "3".into());
            vec![format!("\0{mm}.").into_bytes()]
        },
        version: |b| {
            // The needle ends inside the version; re-read it from its first digit.
            let v = terminated(b)?;
            looks_like_version(&v).then_some(v)
        },
    },
    Classifier {
        name: "node",
        cpe: ("nodejs", "node.js"),
        matches: |p| matches!(file_name(p), "node" | "nodejs"),
        needles: |_| {
            vec![
                b"nodejs.org/download/release/v".to_vec(),
                b"node.js/v".to_vec(),
            ]
        },
        version: |b| leading_version(b),
    },
    Classifier {
        name: "busybox",
        cpe: ("busybox", "busybox"),
        matches: |p| file_name(p) == "busybox",
        needles: |_| vec![b"BusyBox v".to_vec()],
        version: |b| leading_version(b),
    },
    Classifier {
        name: "openjdk",
        cpe: ("oracle", "openjdk"),
        matches: |p| file_name(p) == "java",
        needles: |_| vec![b"openjdk\0java\0".to_vec()],
        version: |b| {
            // The launcher's constants: `openjdk`, `java`, a dotted launcher version, then
            // the full runtime version (`17.0.15+6-Debian-1deb12u1`, `1.8.0_352-b08`).
            b.split(|c| *c == 0)
                .take(4)
                .filter_map(|t| std::str::from_utf8(t).ok())
                .find(|t| {
                    t.starts_with(|c: char| ('1'..='9').contains(&c)) && t.contains(['.', '+'])
                })
                .map(str::to_owned)
        },
    },
    Classifier {
        name: "go",
        cpe: ("golang", "go"),
        matches: |p| file_name(p) == "go" && file_name(parent(p)) == "bin",
        needles: |_| vec![b"\0go1.".to_vec()],
        version: |b| leading_version(b).map(|v| format!("1.{v}")),
    },
];

/// `python3.11` → `3.11`, `python3` → `3`, `libpython3.11.so.1.0` → `3.11`.
fn python_minor(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("libpython")
        .and_then(|r| r.split_once(".so").map(|(v, _)| v))
        .or_else(|| name.strip_prefix("python"))?;
    let rest = rest.trim_end_matches('m');
    (!rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
        && rest.starts_with(['2', '3']))
    .then(|| rest.to_owned())
}

/// The NUL-terminated string at the start of `b`, after the needle's leading `\0`.
fn terminated(b: &[u8]) -> Option<String> {
    let b = b.strip_prefix(b"\0")?;
    let end = b.iter().position(|c| *c == 0)?;
    std::str::from_utf8(&b[..end]).ok().map(str::to_owned)
}

/// `3.11.2`, `3.12.0rc1`: three dot-separated parts, numeric but for a pre-release tag.
fn looks_like_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts[..2]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[2].starts_with(|c: char| c.is_ascii_digit())
        && parts[2].chars().all(|c| c.is_ascii_alphanumeric())
}

/// Digits and dots at the start of `b` (`1.35.0 (Debian…` → `1.35.0`).
fn leading_version(b: &[u8]) -> Option<String> {
    let end = b
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == b'.'))
        .unwrap_or(b.len());
    let v = std::str::from_utf8(&b[..end]).ok()?.trim_end_matches('.');
    (v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_owned())
}

impl Cataloger for BinaryCataloger {
    fn name(&self) -> &'static str {
        "binary-classifier-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "binary"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        for e in files(source).filter(|e| e.entry.staged) {
            let path = e.entry.path.as_str();
            let Some(c) = CLASSIFIERS.iter().find(|c| (c.matches)(path)) else {
                continue;
            };
            let Some(reader) = source.open(path) else {
                continue;
            };
            let needles = (c.needles)(path);
            let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
            let mut version = None;
            let res = scan(reader, &refs, 256, |hit| {
                let skip = if c.name == "python" {
                    0
                } else {
                    refs[hit.needle].len()
                };
                version = (c.version)(hit.window.get(skip..).unwrap_or_default());
                version.is_some()
            });
            match (res, version) {
                (Err(err), _) => found.unknown(path, e.layer, err),
                (Ok(_), Some(v)) => {
                    let mut p = Package::new(
                        PackageType::Binary,
                        c.name,
                        &v,
                        purl::purl("generic", "", c.name, &v, &[]),
                        location(e),
                    );
                    let cpe_version = v.split(['+', '-', '_']).next().unwrap_or(&v);
                    p.cpes = vec![cpe::cpe(c.cpe.0, c.cpe.1, cpe_version, "")];
                    p.metadata.insert("classifier".into(), c.name.to_owned());
                    found.packages.push(p);
                }
                (Ok(_), None) => {}
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::run;

    fn one(dir: &str) -> Package {
        let found = run(&BinaryCataloger, &[dir]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        assert_eq!(found.packages.len(), 1, "{:?}", found.packages);
        found.packages.into_iter().next().expect("one")
    }

    #[test]
    fn runtimes_from_trimmed_real_executables() {
        let bb = one("binary/busybox");
        assert_eq!(
            (bb.version.as_str(), bb.purl.as_str()),
            ("1.35.0", "pkg:generic/busybox@1.35.0")
        );
        assert_eq!(bb.locations[0].path, "/bin/busybox");
        assert_eq!(one("binary/python").version, "3.11.2");
        let node = one("binary/node");
        assert_eq!(node.version, "20.20.2");
        assert_eq!(
            node.cpes[0],
            "cpe:2.3:a:nodejs:node.js:20.20.2:*:*:*:*:*:*:*"
        );
        let jdk = one("binary/openjdk");
        assert_eq!(jdk.version, "17.0.15+6-Debian-1deb12u1");
        assert_eq!(
            jdk.cpes[0],
            "cpe:2.3:a:oracle:openjdk:17.0.15:*:*:*:*:*:*:*"
        );
        assert_eq!(one("binary/go").version, "1.19.8");
    }

    #[test]
    fn python_file_names() {
        assert_eq!(python_minor("python3.11").as_deref(), Some("3.11"));
        assert_eq!(
            python_minor("libpython3.11.so.1.0").as_deref(),
            Some("3.11")
        );
        assert_eq!(python_minor("python3").as_deref(), Some("3"));
        assert_eq!(python_minor("python3-config"), None);
        assert!(looks_like_version("3.11.2"));
        assert!(looks_like_version("3.12.0rc1"));
        assert!(!looks_like_version("3.11.x y"));
    }
}
