//! Go modules compiled into executables: the build information the Go linker embeds
//! (`\xff Go buildinf:` header in `.go.buildinfo` on ELF, `__go_buildinfo` on Mach-O, the
//! data section on PE), read by streaming the file, so any executable format works.
//! Reports the main module, every dependency (with `=>` replacements applied) and the
//! standard library (`stdlib`, version `go1.x.y`) with the toolchain version.
//!
//! Go 1.18 and later write the strings inline after the header; older toolchains wrote
//! pointers into the data segment, which this cataloger reports as an unknown rather than
//! guessing (those binaries predate module-aware vulnerability data for most modules).

use std::io::Read;

use customs_model::fs::FileSource;
use customs_model::package::{Location, Package, PackageType};

use crate::cataloger::{Cataloger, Context, Found, files, location};
use crate::scan::scan;
use crate::{cpe, purl};

pub(crate) struct GoCataloger;

const MAGIC: &[u8] = b"\xff Go buildinf:";
/// Bytes kept after the header to hold the version and module strings.
const WINDOW: usize = 512 << 10;

impl Cataloger for GoCataloger {
    fn name(&self) -> &'static str {
        "go-module-binary-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "go"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let bins: Vec<_> = files(source)
            .filter(|e| e.entry.staged && e.entry.mode & 0o111 != 0)
            .collect();
        for e in bins {
            let path = e.entry.path.as_str();
            let Some(mut reader) = source.open(path) else {
                continue;
            };
            let mut head = [0u8; 4];
            if reader.read_exact(&mut head).is_err() || !is_executable_format(&head) {
                continue;
            }
            let mut info: Option<Result<BuildInfo, String>> = None;
            let scanned = scan(
                std::io::Cursor::new(head).chain(reader),
                &[MAGIC],
                WINDOW,
                |hit| {
                    // The header is 16-byte aligned; other copies of the magic are string constants.
                    if hit.offset % 16 != 0 || hit.window.len() < 32 {
                        return false;
                    }
                    info = parse(hit.window);
                    info.is_some()
                },
            );
            match (scanned, info) {
                (Err(err), _) => found.unknown(path, e.layer, err),
                (Ok(_), Some(Ok(bi))) => found.packages.extend(bi.packages(&location(e))),
                (Ok(_), Some(Err(reason))) => found.unknown(path, e.layer, reason),
                (Ok(_), None) => {}
            }
        }
        found
    }
}

fn is_executable_format(head: &[u8; 4]) -> bool {
    head == b"\x7fELF"
        || head[..2] == *b"MZ"
        || matches!(
            u32::from_be_bytes(*head),
            0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe
        )
}

#[derive(Debug, Default)]
struct Module {
    path: String,
    version: String,
    sum: String,
}

#[derive(Debug, Default)]
struct BuildInfo {
    go_version: String,
    main: Module,
    deps: Vec<Module>,
    settings: Vec<(String, String)>,
}

/// Reads a uvarint-prefixed string at `*pos`.
fn varstr<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let (mut len, mut shift) = (0u64, 0u32);
    loop {
        let byte = *b.get(*pos)?;
        *pos += 1;
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let len = usize::try_from(len).ok()?;
    let s = b.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(s)
}

/// `None` when the window is not a build info header; `Err` when it is one we cannot read.
fn parse(w: &[u8]) -> Option<Result<BuildInfo, String>> {
    let (ptr_size, flags) = (w[14], w[15]);
    if !matches!(ptr_size, 4 | 8) {
        return None;
    }
    if flags & 0x2 == 0 {
        return Some(Err(
            "Go build info in the pre-1.18 pointer format is not supported".into(),
        ));
    }
    let mut pos = 32;
    let (Some(version), Some(modinfo)) = (varstr(w, &mut pos), varstr(w, &mut pos)) else {
        return Some(Err("truncated Go build info".into()));
    };
    let mut modinfo = String::from_utf8_lossy(modinfo).into_owned();
    // The module text sits between two 16-byte sentinels.
    if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo = modinfo
            .get(16..modinfo.len() - 16)
            .unwrap_or_default()
            .to_owned();
    }
    let mut bi = BuildInfo {
        go_version: String::from_utf8_lossy(version).into_owned(),
        ..BuildInfo::default()
    };
    for line in modinfo.lines() {
        let mut f = line.split('\t');
        let module = |f: &mut std::str::Split<'_, char>| Module {
            path: f.next().unwrap_or("").to_owned(),
            version: f.next().unwrap_or("").to_owned(),
            sum: f.next().unwrap_or("").to_owned(),
        };
        match f.next() {
            Some("mod") => bi.main = module(&mut f),
            Some("dep") => bi.deps.push(module(&mut f)),
            Some("=>") => {
                let r = module(&mut f);
                if let Some(last) = bi.deps.last_mut() {
                    *last = r;
                } else {
                    bi.main = r;
                }
            }
            Some("build") => {
                if let Some((k, v)) = f.next().unwrap_or("").split_once('=') {
                    bi.settings.push((k.to_owned(), v.to_owned()));
                }
            }
            _ => {}
        }
    }
    Some(Ok(bi))
}

/// (namespace, name) of a module path for its purl: split at the last `/`.
fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn module_cpes(path: &str, version: &str) -> Vec<String> {
    let v = version.strip_prefix('v').unwrap_or(version);
    let segs: Vec<&str> = path.split('/').collect();
    let (vendor, product) = match segs.as_slice() {
        ["golang.org", "x", p, ..] => ("golang", *p),
        [host, owner, repo, ..] if host.contains('.') => (*owner, *repo),
        _ => ("", *segs.last().unwrap_or(&path)),
    };
    cpe::candidates(&[vendor, product], product, v, "go")
}

impl BuildInfo {
    fn packages(&self, loc: &Location) -> Vec<Package> {
        let mut out = Vec::new();
        let module = |m: &Module, main: bool| {
            let purl_version = if m.version == "(devel)" {
                ""
            } else {
                m.version.as_str()
            };
            let (ns, name) = split_path(&m.path);
            let mut p = Package::new(
                PackageType::Go,
                &m.path,
                &m.version,
                purl::purl("golang", ns, name, purl_version, &[]),
                loc.clone(),
            );
            p.cpes = module_cpes(&m.path, purl_version);
            p.metadata
                .insert("go_version".into(), self.go_version.clone());
            p.metadata
                .insert("main_module".into(), self.main.path.clone());
            if !m.sum.is_empty() {
                p.metadata.insert("h1_digest".into(), m.sum.clone());
            }
            if main {
                for (k, v) in &self.settings {
                    p.metadata.insert(format!("build_{k}"), v.clone());
                }
            }
            p
        };
        if !self.main.path.is_empty() {
            out.push(module(&self.main, true));
        }
        for d in &self.deps {
            out.push(module(d, false));
        }
        if let Some(v) = self.go_version.strip_prefix("go") {
            // `go1.21.0 X:boringcrypto` → the version only.
            let go = format!("go{}", v.split_whitespace().next().unwrap_or(v));
            let mut p = Package::new(
                PackageType::Go,
                "stdlib",
                &go,
                // syft's and OSV's purl: the version without the `go` prefix.
                purl::purl("golang", "", "stdlib", &go[2..], &[]),
                loc.clone(),
            );
            p.cpes = vec![cpe::cpe("golang", "go", &go[2..], "")];
            p.licenses = vec!["BSD-3-Clause".into()];
            p.metadata
                .insert("go_version".into(), self.go_version.clone());
            out.push(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{MemSource, find, run};

    #[test]
    fn demo_go_main_module_deps_and_stdlib() {
        let found = run(&GoCataloger, &["go/demo-go"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        let got: Vec<_> = found
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("example.com/customs/demo-go", "(devel)"),
                ("github.com/google/uuid", "v1.3.0"),
                ("golang.org/x/net", "v0.7.0"),
                ("golang.org/x/text", "v0.7.0"),
                ("gopkg.in/yaml.v2", "v2.4.0"),
                ("stdlib", "go1.19.8"),
            ]
        );
        let main = &found.packages[0];
        assert_eq!(main.purl, "pkg:golang/example.com/customs/demo-go");
        assert_eq!(main.metadata["build_GOARCH"], "amd64");
        assert_eq!(main.locations[0].path, "/usr/local/bin/demo-go");
        assert_eq!(
            find(&found.packages, "github.com/google/uuid", "v1.3.0").purl,
            "pkg:golang/github.com/google/uuid@v1.3.0"
        );
        let std = find(&found.packages, "stdlib", "go1.19.8");
        assert_eq!(std.purl, "pkg:golang/stdlib@1.19.8");
        assert_eq!(std.cpes[0], "cpe:2.3:a:golang:go:1.19.8:*:*:*:*:*:*:*");
    }

    #[test]
    fn replacements_old_format_and_non_go_files() {
        let mut w = vec![0u8; 32];
        w[..14].copy_from_slice(MAGIC);
        w[14] = 8;
        w[15] = 2;
        let ver = b"go1.22.1";
        let modinfo = "path\tx/cmd\nmod\tx\tv1.0.0\th1:aa=\ndep\tgithub.com/a/b\tv1.0.0\th1:bb=\n=>\tgithub.com/fork/b\tv1.0.1\th1:cc=\n";
        w.push(ver.len() as u8);
        w.extend_from_slice(ver);
        w.push(modinfo.len() as u8);
        w.extend_from_slice(modinfo.as_bytes());
        let bi = parse(&w).expect("header").expect("parsed");
        assert_eq!(bi.deps[0].path, "github.com/fork/b");
        assert_eq!(bi.deps[0].version, "v1.0.1");

        w[15] = 0;
        assert!(
            parse(&w).expect("header").is_err(),
            "pointer format is an unknown"
        );

        // A shell script is not an executable format; nothing found, nothing unknown.
        let src = MemSource::files(&[(
            "usr/bin/x",
            b"#!/bin/sh\necho hello hello hello hello hello hello hello hello\n",
        )]);
        let found = GoCataloger.catalog(&src, &Context::default());
        assert!(found.packages.is_empty() && found.unknowns.is_empty());
    }
}
