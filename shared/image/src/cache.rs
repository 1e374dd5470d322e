//! This process's copies of staged layers on local disk: the index and the staged files of
//! each layer it staged or read back from the bucket, so that assembling an image whose
//! layers this process has seen reads nothing back from S3. Content-addressed by diff id,
//! as the bucket is, so a copy never goes stale. A Lambda function keeps its process (and
//! `/tmp`) between invocations, so a warm function reuses it; nothing else shares it.
//!
//! Bounded in bytes: the least recently used layers are dropped first. Every failure here
//! only means a miss: the bucket stays the source of truth.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// Bytes held, and per object name (`<hex>.index.gz`, `<hex>.files`) its size and
    /// when it was last used.
    used: u64,
    objects: HashMap<String, (u64, u64)>,
    clock: u64,
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

    fn name(diff_id: &str, what: &str) -> Option<String> {
        crate::is_sha256_digest(diff_id).then(|| format!("{}.{what}", &diff_id["sha256:".len()..]))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Marks `name` used; whether it is held.
    fn touch(&self, name: &str) -> bool {
        let Ok(mut s) = self.state.lock() else { return false };
        s.clock += 1;
        let now = s.clock;
        s.objects.get_mut(name).map(|o| o.1 = now).is_some()
    }

    /// Records `name` (just written, `size` bytes) and drops the least recently used
    /// objects until the cache is within its budget.
    fn admit(&self, name: String, size: u64) {
        let Ok(mut s) = self.state.lock() else { return };
        s.clock += 1;
        let now = s.clock;
        if let Some((old, _)) = s.objects.insert(name, (size, now)) {
            s.used -= old;
        }
        s.used += size;
        while s.used > self.budget {
            let Some(oldest) = s.objects.iter().min_by_key(|(_, (_, at))| *at).map(|(n, _)| n.clone()) else { break };
            if let Some((size, _)) = s.objects.remove(&oldest) {
                s.used -= size;
            }
            // A reader that linked the file keeps its own link.
            let _ = std::fs::remove_file(self.path(&oldest));
        }
    }

    /// Keeps a layer's index (as stored: gzip JSON).
    pub fn put_index(&self, diff_id: &str, gz: &[u8]) {
        let Some(name) = Self::name(diff_id, "index.gz") else { return };
        if gz.len() as u64 > self.budget || self.touch(&name) {
            return;
        }
        let written = tempfile::NamedTempFile::new_in(self.dir.path()).and_then(|mut t| {
            std::io::Write::write_all(&mut t, gz)?;
            t.persist(self.path(&name)).map_err(|e| e.error)
        });
        if written.is_ok() {
            self.admit(name, gz.len() as u64);
        }
    }

    /// A layer's index (gzip JSON), if held.
    pub fn index(&self, diff_id: &str) -> Option<Vec<u8>> {
        let name = Self::name(diff_id, "index.gz")?;
        if !self.touch(&name) {
            return None;
        }
        std::fs::read(self.path(&name)).ok()
    }

    /// Keeps a layer's staged files (`files`, a tar on local disk): linked, not copied,
    /// when both are on one file system.
    pub fn put_files(&self, diff_id: &str, files: &Path) {
        let Some(name) = Self::name(diff_id, "files") else { return };
        let Ok(size) = std::fs::metadata(files).map(|m| m.len()) else { return };
        if size > self.budget || self.touch(&name) {
            return;
        }
        let at = self.path(&name);
        let placed = tempfile::Builder::new()
            .make_in(self.dir.path(), |tmp| std::fs::hard_link(files, tmp).or_else(|_| std::fs::copy(files, tmp).map(|_| ())))
            .and_then(|t| t.persist(&at).map_err(|e| e.error));
        if placed.is_ok() {
            self.admit(name, size);
        }
    }

    /// A layer's staged files, if held: a temporary file of the caller's (a link to the
    /// cached one, so dropping it from the cache does not pull it from under the reader).
    pub fn files(&self, diff_id: &str) -> Option<tempfile::TempPath> {
        let name = Self::name(diff_id, "files")?;
        if !self.touch(&name) {
            return None;
        }
        let at = self.path(&name);
        tempfile::Builder::new().make(|tmp| std::fs::hard_link(&at, tmp)).ok().map(tempfile::NamedTempFile::into_temp_path)
    }
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

    fn diff(n: u8) -> String {
        format!("sha256:{n:064x}")
    }

    #[test]
    fn holds_what_it_was_given_and_drops_the_least_recently_used_beyond_its_budget() {
        let cache = LayerCache::new(250).expect("cache");
        let src = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(src.path(), [7u8; 100]).expect("write");
        cache.put_files(&diff(1), src.path());
        cache.put_index(&diff(1), &[1; 100]);
        assert_eq!(std::fs::read(cache.files(&diff(1)).expect("held")).expect("read"), [7u8; 100]);
        // Layer 1's files are now used more recently than its index, which goes first.
        cache.put_index(&diff(2), &[2; 100]);
        assert_eq!(cache.index(&diff(1)), None, "over budget: the oldest went");
        assert!(cache.files(&diff(1)).is_some());
        assert_eq!(cache.index(&diff(2)), Some(vec![2; 100]));
        // A reader's link survives its object leaving the cache.
        let held = cache.files(&diff(1)).expect("held");
        cache.put_index(&diff(3), &[3; 100]);
        cache.put_index(&diff(4), &[4; 100]);
        assert!(cache.files(&diff(1)).is_none());
        assert_eq!(std::fs::read(&held).expect("still readable"), [7u8; 100]);
        // Larger than the whole budget, or not a sha256 digest: not kept.
        cache.put_index(&diff(5), &[5; 300]);
        assert_eq!(cache.index(&diff(5)), None);
        cache.put_index("sha256:../../etc", &[1]);
        assert_eq!(cache.index("sha256:../../etc"), None);
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
