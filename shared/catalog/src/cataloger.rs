//! The cataloger trait, the registry of every cataloger, and helpers they share.

use std::io::Read;

use customs_model::fs::{FileKind, FileSource, ViewEntry};
use customs_model::package::{Distro, Location, Package, Unknown};

use crate::error::Error;

mod apk;
mod binary;
mod dotnet;
mod dpkg;
mod gem;
mod go;
mod java;
mod npm;
mod php;
mod python;
mod rpm;
mod rust;

/// What every cataloger may know about the image besides its files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub distro: Option<&'a Distro>,
}

/// What one cataloger found: packages, and the files it could not read.
#[derive(Debug, Default)]
pub struct Found {
    pub packages: Vec<Package>,
    pub unknowns: Vec<Unknown>,
}

impl Found {
    /// Records a file that could not be read; the cataloger name is filled in by
    /// [`crate::catalog`].
    pub(crate) fn unknown(&mut self, path: &str, layer: usize, reason: impl std::fmt::Display) {
        self.unknowns.push(Unknown {
            cataloger: String::new(),
            path: abs(path),
            layer,
            reason: reason.to_string(),
        });
    }
}

/// One ecosystem's package finder: selects its files from the view, parses them, and
/// returns what it could read. Never fails as a whole.
pub trait Cataloger: Sync {
    /// Stable name, stored with unknowns (`dpkg-db-cataloger`, …).
    fn name(&self) -> &'static str;
    /// The folder under `src/cataloger/` that holds it.
    fn ecosystem(&self) -> &'static str;
    fn catalog(&self, source: &dyn FileSource, ctx: &Context<'_>) -> Found;
}

/// Every cataloger, in the order they run.
pub fn catalogers() -> Vec<&'static dyn Cataloger> {
    vec![
        &dpkg::DpkgCataloger,
        &apk::ApkCataloger,
        &rpm::RpmCataloger,
        &python::PythonCataloger,
        &npm::NpmCataloger,
        &java::JavaCataloger,
        &go::GoCataloger,
        &gem::GemCataloger,
        &rust::CargoLockCataloger,
        &rust::AuditableCataloger,
        &dotnet::DepsJsonCataloger,
        &php::ComposerCataloger,
        &binary::BinaryCataloger,
    ]
}

/// `f` applied to every item, on up to [`MAX_THREADS`] threads (as many as the machine
/// has cores), results in the order of `items`. Work is handed out a few items at a time,
/// so one slow item does not hold back a thread's whole share, and each result is written
/// straight into its place in the output, which is the only copy of the results.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_THREADS)
        .min(items.len());
    if threads < 2 {
        return items.iter().map(f).collect();
    }
    // Single items for few (catalogers), batches of up to 64 for many (manifests).
    let batch = (items.len() / (threads * 16)).clamp(1, 64);
    let mut out: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let work = std::sync::Mutex::new(items.chunks(batch).zip(out.chunks_mut(batch)));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    // A worker that panicked poisons the lock; the scope re-raises its panic.
                    let Some((from, to)) = work.lock().ok().and_then(|mut w| w.next()) else {
                        break;
                    };
                    for (item, slot) in from.iter().zip(to) {
                        *slot = Some(f(item));
                    }
                }
            });
        }
    });
    // Every batch was taken by exactly one worker, and every worker ran to the end.
    out.into_iter().flatten().collect()
}

/// Most threads [`par_map`] uses: cataloguing is one step of an analysis, and a Lambda
/// function has at most six cores.
const MAX_THREADS: usize = 4;

/// Largest manifest or database read into memory (archives and binaries are streamed or
/// bounded separately).
pub(crate) const MAX_TEXT: u64 = 64 << 20;

/// The absolute form of a view path (`etc/os-release` → `/etc/os-release`).
pub(crate) fn abs(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

pub(crate) fn location(entry: &ViewEntry) -> Location {
    Location {
        path: abs(&entry.entry.path),
        layer: entry.layer,
    }
}

/// Regular files of the view (hard links included), in path order.
pub(crate) fn files(source: &dyn FileSource) -> impl Iterator<Item = &ViewEntry> {
    source
        .view()
        .entries
        .iter()
        .filter(|e| matches!(e.entry.kind, FileKind::File | FileKind::Hardlink))
}

/// The file name part of a path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directory part of a path (`""` at the root).
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Reads a whole staged file, at most `limit` bytes.
pub(crate) fn read_bytes(
    source: &dyn FileSource,
    path: &str,
    limit: u64,
) -> Result<Vec<u8>, Error> {
    let reader = source.open(path).ok_or(Error::NotStaged)?;
    let mut buf = Vec::new();
    reader.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(Error::TooLarge(limit));
    }
    Ok(buf)
}

/// Reads a whole staged text file (invalid UTF-8 replaced).
pub(crate) fn read_text(source: &dyn FileSource, path: &str) -> Result<String, Error> {
    let bytes = read_bytes(source, path, MAX_TEXT)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn par_map_keeps_the_order_of_its_items() {
        for n in [0, 1, 2, 3, 63, 64, 65, 1000, 10_007] {
            let items: Vec<usize> = (0..n).collect();
            let out = par_map(&items, |i| i * 3);
            assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>(), "{n} items");
        }
    }

    #[test]
    fn every_cataloger_folder_is_registered_and_names_are_unique() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/cataloger");
        let folders: BTreeSet<String> = std::fs::read_dir(dir)
            .expect("cataloger folder")
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let registered: BTreeSet<String> = catalogers()
            .iter()
            .map(|c| c.ecosystem().to_owned())
            .collect();
        assert_eq!(folders, registered, "src/cataloger/<folder> ↔ catalogers()");
        let names: BTreeSet<&str> = catalogers().iter().map(|c| c.name()).collect();
        assert_eq!(
            names.len(),
            catalogers().len(),
            "cataloger names are unique"
        );
    }
}
