//! Rust crates compiled into ELF executables by `cargo auditable`: a `.dep-v0` section
//! holding zlib-compressed JSON (`{"packages": [{"name", "version", "source", "kind",
//! "dependencies": [indices], "root"}]}`, rust-secure-code/cargo-auditable
//! `auditable-serde`). Build-time dependencies (`"kind": "build"`) are not in the binary
//! and are left out, as syft does.
//!
//! Executables are streamed: a first pass looks for the section name in the section name
//! table (`\0.dep-v0\0`), so binaries without it cost one read; only those with it are
//! opened again to read the section headers and then the section.

use std::io::{self, Read};

use customs_model::fs::{FileSource, ViewEntry};
use customs_model::package::{Package, PackageType};
use serde::Deserialize;

use crate::cataloger::{Cataloger, Context, Found, files, location};
use crate::scan::scan;
use crate::{cpe, purl};

pub(crate) struct AuditableCataloger;

const NAME: &[u8] = b"\0.dep-v0\0";
/// Largest `.dep-v0` section and decompressed JSON accepted.
const MAX_SECTION: u64 = 8 << 20;
const MAX_JSON: u64 = 64 << 20;

impl Cataloger for AuditableCataloger {
    fn name(&self) -> &'static str {
        "rust-cargo-auditable-binary-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "rust"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let bins: Vec<_> = files(source)
            .filter(|e| e.entry.staged && e.entry.mode & 0o111 != 0)
            .collect();
        for e in bins {
            match audit_data(source, e) {
                Ok(Some(deps)) => found.packages.extend(deps.packages(e)),
                Ok(None) => {}
                Err(reason) => found.unknown(&e.entry.path, e.layer, reason),
            }
        }
        found
    }
}

#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<Dep>,
}

#[derive(Deserialize)]
struct Dep {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kind: String,
}

impl VersionInfo {
    fn packages(self, e: &ViewEntry) -> Vec<Package> {
        self.packages
            .into_iter()
            .filter(|d| d.kind != "build" && !d.name.is_empty() && !d.version.is_empty())
            .map(|d| {
                let mut p = Package::new(
                    PackageType::Rust,
                    &d.name,
                    &d.version,
                    purl::purl("cargo", "", &d.name, &d.version, &[]),
                    location(e),
                );
                p.cpes = cpe::generic(&d.name, &d.version, "rust");
                if !d.source.is_empty() {
                    p.metadata.insert("source".into(), d.source);
                }
                p
            })
            .collect()
    }
}

fn skip(r: &mut dyn Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file ends early",
        ));
    }
    Ok(())
}

/// ELF layout facts needed to find a section: byte order, class, section header table.
struct Elf {
    le: bool,
    is64: bool,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
    shstrndx: usize,
}

impl Elf {
    fn int(&self, b: &[u8], at: usize, width: usize) -> u64 {
        let s = b.get(at..at + width).unwrap_or(&[]);
        let it: Box<dyn Iterator<Item = &u8>> = if self.le {
            Box::new(s.iter().rev())
        } else {
            Box::new(s.iter())
        };
        it.fold(0, |acc, x| (acc << 8) | u64::from(*x))
    }

    fn parse(h: &[u8; 64]) -> Option<Self> {
        if &h[..4] != b"\x7fELF" {
            return None;
        }
        let mut elf = Self {
            le: h[5] == 1,
            is64: h[4] == 2,
            shoff: 0,
            shentsize: 0,
            shnum: 0,
            shstrndx: 0,
        };
        if elf.is64 {
            elf.shoff = elf.int(h, 0x28, 8);
            elf.shentsize = elf.int(h, 0x3a, 2);
            elf.shnum = elf.int(h, 0x3c, 2);
            elf.shstrndx = elf.int(h, 0x3e, 2) as usize;
        } else {
            elf.shoff = elf.int(h, 0x20, 4);
            elf.shentsize = elf.int(h, 0x2e, 2);
            elf.shnum = elf.int(h, 0x30, 2);
            elf.shstrndx = elf.int(h, 0x32, 2) as usize;
        }
        Some(elf)
    }

    /// (name offset, file offset, size) of section header `raw`.
    fn section(&self, raw: &[u8]) -> (u64, u64, u64) {
        if self.is64 {
            (
                self.int(raw, 0, 4),
                self.int(raw, 24, 8),
                self.int(raw, 32, 8),
            )
        } else {
            (
                self.int(raw, 0, 4),
                self.int(raw, 16, 4),
                self.int(raw, 20, 4),
            )
        }
    }
}

fn audit_data(source: &dyn FileSource, e: &ViewEntry) -> Result<Option<VersionInfo>, String> {
    let path = e.entry.path.as_str();
    let open = || {
        source
            .open(path)
            .ok_or_else(|| "content was not staged".to_owned())
    };
    // Pass 1: is it an ELF file naming a .dep-v0 section?
    let mut r = open()?;
    let mut head = [0u8; 64];
    if r.read_exact(&mut head).is_err() || Elf::parse(&head).is_none() {
        return Ok(None);
    }
    let mut name_at = None;
    scan(io::Cursor::new(head).chain(r), &[NAME], NAME.len(), |hit| {
        name_at = Some(hit.offset + 1);
        true
    })
    .map_err(|e| e.to_string())?;
    let Some(name_at) = name_at else {
        return Ok(None);
    };
    // Pass 2: the section headers; the one whose name is at `name_at` in .shstrtab.
    let mut r = open()?;
    r.read_exact(&mut head).map_err(|e| e.to_string())?;
    let elf = Elf::parse(&head).ok_or("not an ELF file")?;
    let table = elf.shentsize.saturating_mul(elf.shnum);
    if elf.shoff < 64 || table > (1 << 20) || elf.shentsize < if elf.is64 { 64 } else { 40 } {
        return Err("invalid ELF section header table".into());
    }
    skip(&mut r, elf.shoff - 64).map_err(|e| e.to_string())?;
    let mut raw = vec![0u8; table as usize];
    r.read_exact(&mut raw)
        .map_err(|e| format!("section headers: {e}"))?;
    let sections: Vec<_> = raw
        .chunks_exact(elf.shentsize as usize)
        .map(|s| elf.section(s))
        .collect();
    let (_, strtab_off, _) = *sections.get(elf.shstrndx).ok_or("no section name table")?;
    let Some(&(_, off, size)) = sections
        .iter()
        .find(|(n, _, _)| strtab_off.checked_add(*n) == Some(name_at))
    else {
        return Ok(None);
    };
    if size > MAX_SECTION {
        return Err(format!(".dep-v0 section of {size} bytes is too large"));
    }
    // Pass 3: the section itself.
    let mut r = open()?;
    skip(&mut r, off).map_err(|e| e.to_string())?;
    let mut compressed = vec![0u8; size as usize];
    r.read_exact(&mut compressed)
        .map_err(|e| format!(".dep-v0: {e}"))?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_JSON)
        .read_to_end(&mut json)
        .map_err(|e| format!(".dep-v0 is not zlib data: {e}"))?;
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|e| format!(".dep-v0 JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{find, run};

    #[test]
    fn auditable_binary_runtime_dependencies() {
        let found = run(&AuditableCataloger, &["rust/auditable"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        let got: Vec<_> = found
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(
            got,
            ["hello-auditable@0.1.0", "serde@1.0.210", "itoa@1.0.11"]
        );
        let serde = find(&found.packages, "serde", "1.0.210");
        assert_eq!(serde.purl, "pkg:cargo/serde@1.0.210");
        assert_eq!(serde.metadata["source"], "crates.io");
        assert_eq!(serde.locations[0].path, "/usr/local/bin/hello-auditable");

        // Other executables (a Go binary, shell scripts) are not reported.
        let go = run(&AuditableCataloger, &["go/demo-go"]);
        assert!(go.packages.is_empty() && go.unknowns.is_empty());
    }
}
