//! This process's copies of staged layers: the staged files of each layer it staged or
//! read back from the bucket on local disk, and the layer's index parsed, in memory, so
//! that assembling an image whose layers this process has seen reads and parses nothing
//! again. Content-addressed by blob digest, as the bucket is, so a copy never goes stale. A
//! Lambda function keeps its process (and `/tmp`) between invocations, so a warm function
//! reuses it; nothing else shares it.
//!
//! Bounded in bytes: the least recently used objects are dropped first; the parsed
//! indexes count at their estimated size in memory and take at most a quarter of the
//! budget. Every failure here only means a miss: the bucket stays the source of truth.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::staging::StagedLayer;

/// A bounded local copy of staged layers (see the module docs).
#[derive(Debug)]
pub struct LayerCache {
    dir: tempfile::TempDir,
    budget: u64,
    state: Mutex<State>,
    /// Locked for as long as the cache lives: a process that was killed leaves its
    /// directory behind, unlocked, and the next cache created removes it.
    _owner: std::fs::File,
}

const PREFIX: &str = "customs-layer-cache-";
const OWNER: &str = "owner.lock";

#[derive(Debug, Default)]
struct State {
    /// Bytes held, and per object name (`<hex>.index` in memory, `<hex>.files` on disk)
    /// its size and when it was last used.
    used: u64,
    objects: HashMap<String, (u64, u64)>,
    clock: u64,
    /// The parsed indexes (by object name) and the bytes they hold.
    indexes: HashMap<String, Arc<StagedLayer>>,
    in_memory: u64,
}

impl State {
    /// The next tick of the clock objects are stamped with when used.
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Marks `name` used; whether it is held.
    fn touch(&mut self, name: &str) -> bool {
        let now = self.tick();
        self.objects.get_mut(name).map(|o| o.1 = now).is_some()
    }

    fn drop_object(&mut self, name: &str, dir: &Path) {
        let Some((size, _)) = self.objects.remove(name) else { return };
        self.used -= size;
        if self.indexes.remove(name).is_some() {
            self.in_memory -= size;
        } else {
            // A reader that linked the file keeps its own link.
            let _ = std::fs::remove_file(dir.join(name));
        }
    }

    fn least_recent(&self, index_only: bool) -> Option<String> {
        self.objects
            .iter()
            .filter(|(n, _)| !index_only || self.indexes.contains_key(*n))
            .min_by_key(|(_, (_, at))| *at)
            .map(|(n, _)| n.clone())
    }
}

impl LayerCache {
    /// A cache of at most `budget` bytes in a new directory under the system's temporary
    /// directory (removed when the cache is dropped).
    pub fn new(budget: u64) -> std::io::Result<Self> {
        let root = std::env::temp_dir();
        remove_abandoned(&root);
        let dir = tempfile::Builder::new().prefix(PREFIX).tempdir_in(&root)?;
        // Locked before it takes its name, so a sweep never sees it unlocked.
        let lock = tempfile::NamedTempFile::new_in(dir.path())?;
        lock.as_file().lock()?;
        let owner = lock.persist(dir.path().join(OWNER)).map_err(|e| e.error)?;
        Ok(Self { dir, budget, state: Mutex::new(State::default()), _owner: owner })
    }

    fn name(digest: &str, what: &str) -> Option<String> {
        crate::is_sha256_digest(digest).then(|| format!("{}.{what}", &digest["sha256:".len()..]))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Marks `name` used; whether it is held.
    fn touch(&self, name: &str) -> bool {
        self.state.lock().is_ok_and(|mut s| s.touch(name))
    }

    /// Records `name` (just stored, `size` bytes) and drops the least recently used
    /// objects until the cache is within its budget.
    fn admit(&self, s: &mut State, name: String, size: u64) {
        let now = s.tick();
        if let Some((old, _)) = s.objects.insert(name, (size, now)) {
            s.used -= old;
        }
        s.used += size;
        while s.in_memory > self.budget / 4 {
            let Some(oldest) = s.least_recent(true) else { break };
            s.drop_object(&oldest, self.dir.path());
        }
        while s.used > self.budget {
            let Some(oldest) = s.least_recent(false) else { break };
            s.drop_object(&oldest, self.dir.path());
        }
    }

    /// Keeps a copy of a layer's index, parsed. The copy is made only when the cache
    /// keeps it (not when it holds the index already or it is over a quarter of the
    /// budget), outside the lock.
    pub fn put_index(&self, layer: &StagedLayer) {
        let Some(name) = Self::name(&layer.digest, "index") else { return };
        let size = held_bytes(layer);
        if size > self.budget / 4 || self.touch(&name) {
            return;
        }
        let copy = Arc::new(layer.clone());
        let Ok(mut s) = self.state.lock() else { return };
        // Another thread may have put it meanwhile.
        if s.objects.contains_key(&name) {
            return;
        }
        s.indexes.insert(name.clone(), copy);
        s.in_memory += size;
        self.admit(&mut s, name, size);
    }

    /// A layer's index, if held.
    pub fn index(&self, digest: &str) -> Option<Arc<StagedLayer>> {
        let name = Self::name(digest, "index")?;
        let mut s = self.state.lock().ok()?;
        let layer = s.indexes.get(&name).cloned()?;
        s.touch(&name);
        Some(layer)
    }

    /// Keeps a layer's staged files (`files`, a tar on local disk): linked, not copied,
    /// when both are on one file system.
    pub fn put_files(&self, digest: &str, files: &Path) {
        let Some(name) = Self::name(digest, "files") else { return };
        let Ok(size) = std::fs::metadata(files).map(|m| m.len()) else { return };
        if size > self.budget || self.touch(&name) {
            return;
        }
        let at = self.path(&name);
        let placed = tempfile::Builder::new()
            .make_in(self.dir.path(), |tmp| std::fs::hard_link(files, tmp).or_else(|_| std::fs::copy(files, tmp).map(|_| ())))
            .and_then(|t| t.persist(&at).map_err(|e| e.error));
        if placed.is_ok() {
            if let Ok(mut s) = self.state.lock() {
                self.admit(&mut s, name, size);
            }
        }
    }

    /// A layer's staged files, if held: a temporary file of the caller's (a link to the
    /// cached one, so dropping it from the cache does not pull it from under the reader).
    pub fn files(&self, digest: &str) -> Option<tempfile::TempPath> {
        let name = Self::name(digest, "files")?;
        if !self.touch(&name) {
            return None;
        }
        let at = self.path(&name);
        tempfile::Builder::new().make(|tmp| std::fs::hard_link(&at, tmp)).ok().map(tempfile::NamedTempFile::into_temp_path)
    }
}

/// About what a parsed index holds in memory.
fn held_bytes(l: &StagedLayer) -> u64 {
    let entries: usize = l
        .entries
        .iter()
        .map(|e| std::mem::size_of_val(e) + e.path.capacity() + e.link.as_ref().map_or(0, String::capacity))
        .sum();
    let findings: usize = l.findings.iter().map(|(p, r)| 48 + p.capacity() + r.capacity()).sum();
    (std::mem::size_of::<StagedLayer>() + entries + findings) as u64
}

/// Removes the cache directories under `root` whose owner is gone (their lock is free).
fn remove_abandoned(root: &Path) {
    let Ok(dirs) = std::fs::read_dir(root) else { return };
    for d in dirs.flatten() {
        if !d.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let Ok(lock) = std::fs::File::open(d.path().join(OWNER)) else { continue };
        if lock.try_lock().is_ok() {
            let _ = std::fs::remove_dir_all(d.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: u8) -> String {
        format!("sha256:{n:064x}")
    }

    fn index(n: u8, paths: usize) -> Arc<StagedLayer> {
        let entry = |i: usize| customs_model::fs::FileEntry {
            path: format!("usr/lib/{i:04}"),
            kind: customs_model::fs::FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            sha256: None,
            link: None,
            staged: false,
        };
        Arc::new(StagedLayer {
            digest: blob(n),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            compressed_size: 1,
            uncompressed_size: 1,
            staged_files: 0,
            staged_bytes: 0,
            entries: (0..paths).map(entry).collect(),
            findings: vec![],
        })
    }

    #[test]
    fn holds_what_it_was_given_and_drops_the_least_recently_used_beyond_its_budget() {
        let one = held_bytes(&index(0, 1)) + 8;
        // Room for four one-entry indexes in memory, sixteen objects in all.
        let cache = LayerCache::new(16 * one).expect("cache");
        let src = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(src.path(), vec![7u8; (11 * one) as usize]).expect("write");
        cache.put_files(&blob(1), src.path());
        cache.put_index(&index(1, 1));
        assert_eq!(std::fs::read(cache.files(&blob(1)).expect("held")).expect("read").len() as u64, 11 * one);
        assert_eq!(cache.index(&blob(1)).expect("held").entries.len(), 1);
        for n in 2..=4 {
            cache.put_index(&index(n, 1));
        }
        assert!(cache.index(&blob(1)).is_some() && cache.files(&blob(1)).is_some(), "within budget");
        // A fifth index is over the memory quarter: the least recently used index goes
        // (2: 1 was read since), not the files.
        cache.put_index(&index(5, 1));
        assert!(cache.index(&blob(2)).is_none());
        assert!(cache.index(&blob(1)).is_some() && cache.files(&blob(1)).is_some());
        // Over the whole budget: the least recently used object goes, here the files. A
        // reader's link survives its object leaving the cache.
        let held = cache.files(&blob(1)).expect("held");
        for n in [1, 3, 4, 5] {
            assert!(cache.index(&blob(n)).is_some());
        }
        let more = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(more.path(), vec![8u8; (2 * one) as usize]).expect("write");
        cache.put_files(&blob(6), more.path());
        assert!(cache.files(&blob(1)).is_none(), "the oldest went");
        assert!(cache.files(&blob(6)).is_some());
        assert_eq!(std::fs::read(&held).expect("still readable").len() as u64, 11 * one);
        // Larger than the memory quarter: not kept.
        cache.put_index(&index(7, 200));
        assert!(cache.index(&blob(7)).is_none());
    }

    #[test]
    fn a_new_cache_removes_the_directories_of_caches_whose_owner_is_gone() {
        let live = LayerCache::new(1 << 20).expect("cache");
        // What a killed process leaves: a cache directory whose lock nobody holds.
        let abandoned = tempfile::Builder::new().prefix(PREFIX).tempdir().expect("dir").keep();
        std::fs::write(abandoned.join(OWNER), b"").expect("lock file");
        std::fs::write(abandoned.join(format!("{:064x}.files", 1)), [0u8; 10]).expect("object");
        let _next = LayerCache::new(1 << 20).expect("cache");
        assert!(!abandoned.exists(), "an abandoned cache is removed");
        assert!(live.dir.path().join(OWNER).exists(), "a live one is not");
    }
}
