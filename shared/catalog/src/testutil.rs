//! The shared test harness: an in-memory [`FileSource`] built from testdata folders, each
//! folder one layer (bottom first), with staging decided by `wanted` exactly
//! as the staging adapter decides it.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use customs_model::fs::{FileEntry, FileKind, FileSource, SquashedView, wanted};
use customs_model::package::Package;

use crate::cataloger::{Cataloger, Context, Found};

pub struct MemSource {
    view: SquashedView,
    content: BTreeMap<String, Vec<u8>>,
}

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

impl MemSource {
    /// Layers from folders under `testdata/` (`"dpkg/bookworm"`, …).
    pub fn layers(dirs: &[&str]) -> Self {
        Self::build(dirs, false)
    }

    /// Like [`Self::layers`], with every regular file staged: for files the catalogers use
    /// when staging keeps them (dpkg `info/*.list`, copyright files).
    pub fn layers_staging_all(dirs: &[&str]) -> Self {
        Self::build(dirs, true)
    }

    fn build(dirs: &[&str], all: bool) -> Self {
        let mut layers = Vec::new();
        let mut content = BTreeMap::new();
        for d in dirs {
            let root = testdata(d);
            assert!(root.is_dir(), "{} is a folder", root.display());
            let mut entries = Vec::new();
            walk(&root, &root, all, &mut entries, &mut content);
            layers.push(entries);
        }
        let view = SquashedView::squash(layers);
        Self { view, content }
    }

    /// One layer with the given files (path relative to the root, content).
    pub fn files(files: &[(&str, &[u8])]) -> Self {
        let mut content = BTreeMap::new();
        let entries: Vec<FileEntry> = files
            .iter()
            .map(|(p, c)| {
                let staged = wanted(p, 0o644, c.len() as u64).keeps(c);
                if staged {
                    content.insert((*p).to_owned(), c.to_vec());
                }
                FileEntry {
                    path: (*p).to_owned(),
                    kind: FileKind::File,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    size: c.len() as u64,
                    sha256: None,
                    link: None,
                    staged,
                }
            })
            .collect();
        let view = SquashedView::squash([entries]);
        Self { view, content }
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    all: bool,
    out: &mut Vec<FileEntry>,
    content: &mut BTreeMap<String, Vec<u8>>,
) {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .expect("read testdata folder")
        .map(|e| e.expect("entry").path())
        .collect();
    children.sort();
    for p in children {
        let rel = p
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        let mode = meta.permissions().mode() & 0o7777;
        let mut e = FileEntry {
            path: rel.clone(),
            kind: FileKind::File,
            mode,
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            size: 0,
            sha256: None,
            link: None,
            staged: false,
        };
        if meta.file_type().is_symlink() {
            e.kind = FileKind::Symlink;
            e.link = Some(
                std::fs::read_link(&p)
                    .expect("link")
                    .to_string_lossy()
                    .into_owned(),
            );
            out.push(e);
        } else if meta.is_dir() {
            e.kind = FileKind::Dir;
            out.push(e);
            walk(root, &p, all, out, content);
        } else {
            e.size = meta.len();
            let bytes = std::fs::read(&p).expect("read");
            e.staged = all || wanted(&rel, mode, e.size).keeps(&bytes);
            if e.staged {
                content.insert(rel, bytes);
            }
            out.push(e);
        }
    }
}

impl FileSource for MemSource {
    fn view(&self) -> &SquashedView {
        &self.view
    }

    fn open(&self, path: &str) -> Option<Box<dyn Read + '_>> {
        let e = self.view.resolve(path)?;
        if e.entry.kind != FileKind::File || !e.entry.staged {
            return None;
        }
        let bytes = self.content.get(&e.entry.path)?;
        Some(Box::new(bytes.as_slice()))
    }
}

/// Runs one cataloger over testdata layers with no distro.
pub fn run(c: &dyn Cataloger, dirs: &[&str]) -> Found {
    c.catalog(&MemSource::layers(dirs), &Context::default())
}

/// The package named `name` (and `version`, when several share a name).
pub fn find<'a>(packages: &'a [Package], name: &str, version: &str) -> &'a Package {
    packages
        .iter()
        .find(|p| p.name == name && p.version == version)
        .unwrap_or_else(|| {
            let all: Vec<_> = packages
                .iter()
                .map(|p| format!("{}@{}", p.name, p.version))
                .collect();
            panic!("no {name}@{version} among {all:?}")
        })
}
