//! Files in image layers and the squashed view of an image, as plain data.
//!
//! Paths are normalised the way Docker applies layers: relative to the image root, no
//! leading `/`, `.` components dropped. A path that climbs above the root (`..` past
//! the top) is refused, never clamped, and becomes a finding.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

/// Longest path customs accepts in a layer.
pub const MAX_PATH_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    CharDevice,
    BlockDevice,
    Fifo,
}

/// One entry of a layer's file index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// sha256 of the content, for regular files (written as hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<FileDigest>,
    /// Symlink target as written, or the normalised path a hard link points to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Whether the content is kept in the layer's staged files (an analyser wants it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub staged: bool,
}

/// A file's sha256, held as its 32 bytes (an image has one per file, so not as a
/// 64-character string) and written as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileDigest(pub [u8; 32]);

impl FileDigest {
    /// Lower-case hex, written into `buf` (no allocation).
    pub fn hex_in<'a>(&self, buf: &'a mut [u8; 64]) -> &'a str {
        // 64 bytes for 32: encoding cannot fail, and hex digits are ASCII.
        hex::encode_to_slice(self.0, buf).ok();
        std::str::from_utf8(buf).unwrap_or_default()
    }

    /// Lower-case hex.
    pub fn hex(&self) -> String {
        self.hex_in(&mut [0; 64]).to_owned()
    }
}

impl fmt::Display for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex_in(&mut [0; 64]))
    }
}

impl fmt::Debug for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for FileDigest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut d = [0; 32];
        hex::decode_to_slice(s, &mut d).map_err(|e| format!("{s:?} is not a sha256 in hex: {e}"))?;
        Ok(Self(d))
    }
}

impl From<[u8; 32]> for FileDigest {
    fn from(d: [u8; 32]) -> Self {
        Self(d)
    }
}

impl Serialize for FileDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex_in(&mut [0; 64]))
    }
}

impl<'de> Deserialize<'de> for FileDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Hex;
        impl serde::de::Visitor<'_> for Hex {
            type Value = FileDigest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sha256 as 64 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FileDigest, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Hex)
    }
}

/// Something wrong with one entry that did not stop the analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Index of the layer in the image, bottom first.
    pub layer: usize,
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("path climbs above the image root")]
    Escapes,
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("path contains a NUL byte")]
    Nul,
}

/// Normalises a path from a layer (`./a//b/../c` → `a/c`, `/etc` → `etc`).
/// The root itself normalises to the empty string.
pub fn normalize(raw: &str) -> Result<String, PathProblem> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathProblem::TooLong);
    }
    if raw.contains('\0') {
        return Err(PathProblem::Nul);
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathProblem::Escapes);
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a symlink target relative to the link's directory, staying inside the root:
/// `None` when it would climb above it.
pub fn resolve_link(link_path: &str, target: &str) -> Option<String> {
    let joined = if target.starts_with('/') {
        target.to_owned()
    } else {
        match link_path.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{target}"),
            None => target.to_owned(),
        }
    };
    normalize(&joined).ok()
}

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// A file of the squashed view and the layer it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewEntry {
    #[serde(flatten)]
    pub entry: FileEntry,
    pub layer: usize,
}

/// The entries of a squashed view, sorted by path, each path once. Held as one sorted
/// vector (looked up by binary search): an image can have hundreds of thousands of
/// files, and a map keyed by path would hold every path twice in half-full nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewEntries(Vec<ViewEntry>);

impl ViewEntries {
    fn position(&self, path: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|e| e.entry.path.as_str().cmp(path))
    }

    /// The entry at exactly `path` (symlinks not followed; see [`SquashedView::resolve`]).
    pub fn get(&self, path: &str) -> Option<&ViewEntry> {
        self.position(path).ok().map(|i| &self.0[i])
    }

    pub fn contains_key(&self, path: &str) -> bool {
        self.position(path).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every entry, in path order.
    pub fn iter(&self) -> std::slice::Iter<'_, ViewEntry> {
        self.0.iter()
    }
}

impl std::ops::Index<&str> for ViewEntries {
    type Output = ViewEntry;

    /// The entry at `path`; panics when there is none (for tests and known paths).
    fn index(&self, path: &str) -> &ViewEntry {
        match self.get(path) {
            Some(e) => e,
            None => panic!("no entry {path:?} in the view"),
        }
    }
}

/// Written as the list of entries, in path order (the recorded file index).
impl Serialize for ViewEntries {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.0)
    }
}

impl<'a> IntoIterator for &'a ViewEntries {
    type Item = &'a ViewEntry;
    type IntoIter = std::slice::Iter<'a, ViewEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The image's filesystem after applying every layer in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SquashedView {
    pub entries: ViewEntries,
    pub findings: Vec<Finding>,
}

/// A layer's entry ordered and looked up by its path alone (the set of a layer whose
/// entries must be applied one by one, see [`apply_in_order`]).
struct ByPath(ViewEntry);

impl ByPath {
    fn path(&self) -> &str {
        &self.0.entry.path
    }
}

impl PartialEq for ByPath {
    fn eq(&self, other: &Self) -> bool {
        self.path() == other.path()
    }
}

impl Eq for ByPath {}

impl PartialOrd for ByPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.path().cmp(other.path())
    }
}

impl Borrow<str> for ByPath {
    fn borrow(&self) -> &str {
        self.path()
    }
}

/// Whether `path` is strictly under the directory `dir` (`""` is the root).
fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty() && !path.is_empty() || path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// Whether `path` sorts before `dir/`, where the paths under `dir` begin.
fn before_children(path: &str, dir: &str) -> bool {
    let (p, d) = (path.as_bytes(), dir.as_bytes());
    match p.len().cmp(&d.len()) {
        std::cmp::Ordering::Greater => match p[..d.len()].cmp(d) {
            std::cmp::Ordering::Equal => p[d.len()] < b'/',
            o => o.is_lt(),
        },
        _ => p <= d,
    }
}

/// The positions of the paths strictly under `dir` among `len` sorted paths (`path_at`
/// gives the i-th): one contiguous range.
fn children<'a>(len: usize, dir: &str, path_at: impl Fn(usize) -> &'a str) -> std::ops::Range<usize> {
    if dir.is_empty() {
        let root = usize::from(len > 0 && path_at(0).is_empty());
        return root..len;
    }
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before_children(path_at(mid), dir) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let end = (lo..len).find(|&i| !is_under(path_at(i), dir)).unwrap_or(len);
    lo..end
}

fn find(view: &[ViewEntry], path: &str) -> Result<usize, usize> {
    view.binary_search_by(|e| e.entry.path.as_str().cmp(path))
}

/// Marks the lower entries under `dir` as gone.
fn mark_under(view: &[ViewEntry], dir: &str, gone: &mut [bool]) {
    for g in &mut gone[children(view.len(), dir, |i| view[i].entry.path.as_str())] {
        *g = true;
    }
}

/// The regular file a hard link in this layer finds among the lower entries still there.
fn lower_file<'a>(view: &'a [ViewEntry], gone: &[bool], target: &str) -> Option<&'a FileEntry> {
    let i = find(view, target).ok().filter(|&i| !gone[i])?;
    Some(&view[i].entry).filter(|e| e.kind == FileKind::File)
}

/// Gives a hard link its target's content, or says why it is left out.
fn link_to(e: &mut FileEntry, target: Option<&FileEntry>) -> Result<(), String> {
    match target {
        Some(t) if t.kind == FileKind::File => {
            e.sha256 = t.sha256;
            e.size = t.size;
            e.staged = t.staged;
            Ok(())
        }
        _ => Err(format!(
            "hard link to {:?}, which is not a regular file in the image",
            e.link.as_deref().unwrap_or_default()
        )),
    }
}

fn is_marker(e: &FileEntry) -> bool {
    e.path.is_empty() || e.path.rsplit('/').next().unwrap_or("").starts_with(WHITEOUT)
}

/// The layer's entries (markers left out) in path order, unless applying them depends on
/// their order: a path twice, or a non-directory with entries under it.
fn order_free(entries: &[FileEntry]) -> Option<Vec<u32>> {
    let count = u32::try_from(entries.len()).ok()?;
    let at = |i: u32| &entries[i as usize];
    let mut order: Vec<u32> = (0..count).filter(|&i| !is_marker(at(i))).collect();
    order.sort_unstable_by(|&a, &b| at(a).path.cmp(&at(b).path));
    let dependent = order.windows(2).any(|w| at(w[0]).path == at(w[1]).path)
        || order.iter().enumerate().any(|(k, &i)| {
            let e = at(i);
            e.kind != FileKind::Dir && !children(order.len() - k - 1, &e.path, |j| at(order[k + 1 + j]).path.as_str()).is_empty()
        });
    (!dependent).then_some(order)
}

/// Applies a layer whose entries do not depend on their order: no path twice, and no
/// non-directory with entries of the same layer under it (what nearly every layer is).
/// Hard links still see only what precedes them in the tar. Gives the entries back,
/// untouched, when the layer is not such a layer.
fn apply_sorted(
    view: &[ViewEntry],
    gone: &mut [bool],
    entries: Vec<FileEntry>,
    layer: usize,
    findings: &mut Vec<Finding>,
) -> Result<Vec<ViewEntry>, Vec<FileEntry>> {
    let Some(order) = order_free(&entries) else { return Err(entries) };
    let mut entries = entries;
    let mut dropped = vec![false; entries.len()];
    for i in 0..entries.len() {
        if is_marker(&entries[i]) {
            continue;
        }
        if entries[i].kind == FileKind::Hardlink {
            let target = entries[i].link.as_deref().unwrap_or_default();
            // A path of this layer is never removed again, so the target is the layer's
            // own entry if the tar put it earlier (and it was not left out), else a lower one.
            let own = order
                .binary_search_by(|&x| entries[x as usize].path.as_str().cmp(target))
                .ok()
                .map(|k| order[k] as usize)
                .filter(|&j| j < i && !dropped[j]);
            let found = match own {
                Some(j) => Some(entries[j].clone()).filter(|t| t.kind == FileKind::File),
                None => lower_file(view, gone, target).cloned(),
            };
            if let Err(reason) = link_to(&mut entries[i], found.as_ref()) {
                findings.push(Finding { layer, path: entries[i].path.clone(), reason });
                dropped[i] = true;
                continue;
            }
        }
        if entries[i].kind != FileKind::Dir {
            mark_under(view, &entries[i].path, gone);
        }
    }
    let mut slots: Vec<Option<FileEntry>> = entries.into_iter().map(Some).collect();
    Ok(order
        .iter()
        .filter(|&&i| !dropped[i as usize])
        .filter_map(|&i| slots[i as usize].take())
        .map(|entry| ViewEntry { entry, layer })
        .collect())
}

/// Applies a layer's entries one by one in tar order: a path written twice keeps its
/// last entry, and a non-directory removes what was under it so far.
fn apply_in_order(
    view: &[ViewEntry],
    gone: &mut [bool],
    entries: Vec<FileEntry>,
    layer: usize,
    findings: &mut Vec<Finding>,
) -> Vec<ViewEntry> {
    let mut upper: BTreeSet<ByPath> = BTreeSet::new();
    for mut e in entries {
        if is_marker(&e) {
            continue;
        }
        if e.kind == FileKind::Hardlink {
            let target = e.link.as_deref().unwrap_or_default();
            let found = match upper.get(target) {
                Some(t) => Some(t.0.entry.clone()),
                None => lower_file(view, gone, target).cloned(),
            };
            if let Err(reason) = link_to(&mut e, found.as_ref()) {
                findings.push(Finding { layer, path: e.path, reason });
                continue;
            }
        }
        if e.kind != FileKind::Dir {
            let (lo, hi) = (format!("{}/", e.path), format!("{}0", e.path));
            let under: Vec<String> = upper
                .range::<str, _>((Bound::Included(lo.as_str()), Bound::Excluded(hi.as_str())))
                .map(|v| v.path().to_owned())
                .collect();
            for k in under {
                upper.remove(k.as_str());
            }
            mark_under(view, &e.path, gone);
        }
        upper.replace(ByPath(ViewEntry { entry: e, layer }));
    }
    upper.into_iter().map(|v| v.0).collect()
}

/// An entry that holds a slot while two sorted runs are merged (allocates nothing).
fn placeholder() -> ViewEntry {
    ViewEntry {
        entry: FileEntry {
            path: String::new(),
            kind: FileKind::Dir,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            sha256: None,
            link: None,
            staged: false,
        },
        layer: 0,
    }
}

/// Drops the lower entries that are gone or that `upper` replaces, then merges `upper`
/// (sorted) into the view in place, from the back: the view grows by `upper`'s length
/// and is never copied whole.
fn merge(view: &mut Vec<ViewEntry>, mut gone: Vec<bool>, mut upper: Vec<ViewEntry>) {
    for u in &upper {
        if let Ok(i) = find(view, &u.entry.path) {
            gone[i] = true;
        }
    }
    if gone.contains(&true) {
        let mut k = 0;
        view.retain(|_| {
            k += 1;
            !gone[k - 1]
        });
    }
    let n = view.len();
    view.reserve_exact(upper.len());
    view.resize_with(n + upper.len(), placeholder);
    // Slots i..k hold placeholders; the largest remaining entry goes to k - 1.
    let (mut i, mut k) = (n, view.len());
    while let Some(u) = upper.pop() {
        while i > 0 && view[i - 1].entry.path > u.entry.path {
            view.swap(i - 1, k - 1);
            i -= 1;
            k -= 1;
        }
        k -= 1;
        view[k] = u;
    }
}

impl SquashedView {
    /// Applies layers bottom first: whiteouts delete, opaque markers hide what lower
    /// layers put in a directory, hard links take their target's content (within the
    /// view; a link to a missing target is a finding and is left out). Takes the
    /// layers' entries, so none is held twice; the view is one sorted vector that each
    /// layer is merged into.
    pub fn squash(layers: impl IntoIterator<Item = Vec<FileEntry>>) -> Self {
        let layers: Vec<Vec<FileEntry>> = layers.into_iter().collect();
        // Room for every entry at once: growing the view layer by layer would copy it and
        // leave the old copies to the allocator.
        let mut view: Vec<ViewEntry> = Vec::with_capacity(layers.iter().map(Vec::len).sum());
        let mut findings = Vec::new();
        for (layer, entries) in layers.into_iter().enumerate() {
            // What this layer removes from the lower ones.
            let mut gone = vec![false; view.len()];
            // Opaque markers and whiteouts act on lower layers only, so apply them first.
            for e in &entries {
                let (dir, name) = e.path.rsplit_once('/').unwrap_or(("", e.path.as_str()));
                if name == OPAQUE {
                    mark_under(&view, dir, &mut gone);
                } else if let Some(hidden) = name.strip_prefix(WHITEOUT) {
                    let target = if dir.is_empty() {
                        hidden.to_owned()
                    } else {
                        format!("{dir}/{hidden}")
                    };
                    if let Ok(i) = find(&view, &target) {
                        gone[i] = true;
                    }
                    mark_under(&view, &target, &mut gone);
                }
            }
            let upper = match apply_sorted(&view, &mut gone, entries, layer, &mut findings) {
                Ok(upper) => upper,
                Err(entries) => apply_in_order(&view, &mut gone, entries, layer, &mut findings),
            };
            merge(&mut view, gone, upper);
        }
        view.shrink_to_fit();
        Self { entries: ViewEntries(view), findings }
    }

    /// Follows symlinks (at most 40, like Linux) to the entry a path finally names,
    /// never leaving the image root.
    pub fn resolve(&self, path: &str) -> Option<&ViewEntry> {
        let mut p = normalize(path).ok()?;
        for _ in 0..40 {
            let e = self.entries.get(&p)?;
            match (&e.entry.kind, &e.entry.link) {
                (FileKind::Symlink, Some(t)) => p = resolve_link(&p, t)?,
                _ => return Some(e),
            }
        }
        None
    }
}

/// Whether an analyser needs a file's content, so staging keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    No,
    Yes,
    /// An executable that only matters if it carries build metadata: kept when its bytes
    /// contain one of [`EXECUTABLE_MARKERS`], which is known once it has been read.
    IfMarked,
}

impl Wanted {
    /// Whether a file with this content is kept.
    pub fn keeps(self, content: &[u8]) -> bool {
        match self {
            Self::No => false,
            Self::Yes => true,
            Self::IfMarked => has_executable_marker(content),
        }
    }
}

/// What makes an executable worth staging: Go's build-info header (the Go module
/// cataloger) and the name of cargo-auditable's dependency section (the Rust one). Other
/// executables are read only by name (the runtimes in [`wanted`]), so without a marker
/// their bytes, most of a typical image's staged bytes, stay out of the staged files.
pub const EXECUTABLE_MARKERS: &[&[u8]] = &[b"\xff Go buildinf:", b".dep-v0"];

/// Whether `b` contains one of [`EXECUTABLE_MARKERS`].
pub fn has_executable_marker(b: &[u8]) -> bool {
    EXECUTABLE_MARKERS.iter().any(|m| b.windows(m.len()).any(|w| w == *m))
}

/// Whether an analyser needs the content of this file: package databases, language
/// manifests and lock files, archives, the runtimes recognised by their executable, and
/// (on condition) other executables.
pub fn wanted(path: &str, mode: u32, size: u64) -> Wanted {
    const EXACT: &[&str] = &[
        "etc/os-release",
        "usr/lib/os-release",
        "etc/lsb-release",
        "etc/alpine-release",
        "etc/debian_version",
        "etc/redhat-release",
        "etc/centos-release",
        "etc/system-release",
        "etc/passwd",
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "var/lib/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages",
        "var/lib/rpm/Packages.db",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/Packages.db",
        "usr/lib/sysimage/rpm/Packages",
    ];
    const NAMES: &[&str] = &[
        "METADATA",
        "RECORD",
        "PKG-INFO",
        "package.json",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "Cargo.lock",
        "composer.lock",
        "installed.json",
        "go.mod",
        "Gemfile.lock",
        "pom.properties",
        "pom.xml",
    ];
    const SUFFIXES: &[&str] = &[
        ".gemspec",
        ".jar",
        ".war",
        ".ear",
        ".jpi",
        ".hpi",
        ".deps.json",
        ".egg-info",
    ];
    const RUNTIMES: &[&str] = &["node", "nodejs", "busybox", "java", "go"];
    const MAX_EXECUTABLE: u64 = 256 << 20;
    if EXACT.contains(&path) || path.starts_with("var/lib/dpkg/status.d/") {
        return Wanted::Yes;
    }
    // dpkg file ownership (info/<pkg>.list) and licences (usr/share/doc/<pkg>/copyright).
    if (path.starts_with("var/lib/dpkg/info/") && path.ends_with(".list"))
        || (path.starts_with("usr/share/doc/") && path.ends_with("/copyright") && path.matches('/').count() == 3)
    {
        return Wanted::Yes;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    if NAMES.contains(&name) || SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Wanted::Yes;
    }
    if mode & 0o111 == 0 || !(64..=MAX_EXECUTABLE).contains(&size) {
        return Wanted::No;
    }
    // Runtimes identified by a version string in their executable (the binary cataloger).
    if RUNTIMES.contains(&name) || name.starts_with("python") || name.starts_with("libpython") {
        Wanted::Yes
    } else {
        Wanted::IfMarked
    }
}

/// Read access to an image's squashed filesystem: what catalogers see. Implemented by the
/// staging adapter over staged layers, and by in-memory sources in tests.
/// `Sync`: the catalogers read one source from several threads at once.
pub trait FileSource: Sync {
    fn view(&self) -> &SquashedView;

    /// The content of the regular file at `path` (symlinks resolved inside the root),
    /// or `None` when there is no such file or its content was not staged
    /// (see [`wanted`]).
    fn open(&self, path: &str) -> Option<Box<dyn std::io::Read + '_>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, kind: FileKind) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            sha256: Some(FileDigest([0xaa; 32])),
            link: None,
            staged: false,
        }
    }

    fn link(path: &str, kind: FileKind, to: &str) -> FileEntry {
        FileEntry {
            link: Some(to.into()),
            sha256: None,
            ..f(path, kind)
        }
    }

    #[test]
    fn paths_are_normalised_and_escapes_refused() {
        assert_eq!(normalize("./usr//bin/../lib/x").as_deref(), Ok("usr/lib/x"));
        assert_eq!(normalize("/etc/passwd").as_deref(), Ok("etc/passwd"));
        assert_eq!(normalize("a/../../etc"), Err(PathProblem::Escapes));
        assert_eq!(normalize(&"a/".repeat(3000)), Err(PathProblem::TooLong));
        assert_eq!(
            resolve_link("usr/bin/python", "python3").as_deref(),
            Some("usr/bin/python3")
        );
        assert_eq!(
            resolve_link("usr/bin/x", "/etc/x").as_deref(),
            Some("etc/x")
        );
        assert_eq!(resolve_link("usr/x", "../../../../etc/shadow"), None);
    }

    #[test]
    fn whiteouts_and_opaque_directories_apply_in_layer_order() {
        let l0 = vec![
            f("usr/bin/tac", FileKind::File),
            f("usr/share/doc/bash/README", FileKind::File),
            f("opt/a", FileKind::File),
            f("opt/b", FileKind::File),
        ];
        let l1 = vec![
            f("usr/bin/.wh.tac", FileKind::File),
            f("usr/share/doc/.wh.bash", FileKind::File),
            f("opt/.wh..wh..opq", FileKind::File),
            f("opt/c", FileKind::File),
        ];
        let l2 = vec![f("usr/bin/tac", FileKind::File)];
        let v = SquashedView::squash([l0.clone(), l1.clone()]);
        let paths: Vec<_> = v.entries.iter().map(|e| e.entry.path.as_str()).collect();
        assert_eq!(paths, ["opt/c"]);
        assert_eq!(v.entries["opt/c"].layer, 1);
        let v = SquashedView::squash([l0.clone(), l1.clone(), l2.clone()]);
        assert_eq!(
            v.entries["usr/bin/tac"].layer, 2,
            "re-added above its whiteout"
        );
    }

    #[test]
    fn hard_links_resolve_across_layers_and_dangling_ones_are_findings() {
        let l0 = vec![f("bin/busybox", FileKind::File)];
        let l1 = vec![
            link("bin/sh", FileKind::Hardlink, "bin/busybox"),
            link("bin/ghost", FileKind::Hardlink, "nope"),
        ];
        let v = SquashedView::squash([l0.clone(), l1.clone()]);
        assert_eq!(v.entries["bin/sh"].entry.sha256, Some(FileDigest([0xaa; 32])));
        assert!(!v.entries.contains_key("bin/ghost"));
        assert_eq!(v.findings.len(), 1);
    }

    #[test]
    fn symlinks_resolve_only_inside_the_root() {
        let l0 = vec![
            f("usr/bin/python3.11", FileKind::File),
            link("usr/bin/python3", FileKind::Symlink, "python3.11"),
            link("usr/bin/python", FileKind::Symlink, "/usr/bin/python3"),
            link("etc/evil", FileKind::Symlink, "../../../../etc/shadow"),
            link("loop/a", FileKind::Symlink, "b"),
            link("loop/b", FileKind::Symlink, "a"),
        ];
        let v = SquashedView::squash([l0.clone()]);
        assert_eq!(
            v.resolve("/usr/bin/python").map(|e| e.entry.path.as_str()),
            Some("usr/bin/python3.11")
        );
        assert!(v.resolve("etc/evil").is_none());
        assert!(v.resolve("loop/a").is_none());
    }

    #[test]
    fn catalogers_files_are_wanted_and_others_are_not() {
        for p in [
            "var/lib/rpm/rpmdb.sqlite",
            "var/lib/rpm/Packages",
            "usr/lib/sysimage/rpm/Packages.db",
            "usr/lib/sysimage/rpm/Packages",
            "srv/app/yarn.lock",
            "srv/app/pnpm-lock.yaml",
            "app/node_modules/ms/package.json",
        ] {
            assert_eq!(wanted(p, 0o644, 100), Wanted::Yes, "{p}");
        }
        for p in ["usr/bin/python3.11", "usr/bin/node", "bin/busybox", "usr/lib/jvm/x/bin/java", "usr/local/go/bin/go"] {
            assert_eq!(wanted(p, 0o755, 4096), Wanted::Yes, "runtimes are read by name: {p}");
        }
        assert_eq!(wanted("usr/local/bin/rust-app", 0o755, 4096), Wanted::IfMarked, "other executables (go, cargo auditable)");
        assert_eq!(wanted("usr/local/bin/tiny", 0o755, 10), Wanted::No, "too small to be a binary");
        assert!(Wanted::IfMarked.keeps(b"\x7fELF...\xff Go buildinf:\x08\x02"));
        assert!(Wanted::IfMarked.keeps(b"\x7fELF...\0.text\0.dep-v0\0"));
        assert!(!Wanted::IfMarked.keeps(b"\x7fELF... a plain C program"));
        for p in ["usr/share/doc/x/README", "var/lib/rpm/Basenames", "usr/lib/sysimage/rpm/rpmdb.sqlite-shm"] {
            assert_eq!(wanted(p, 0o644, 100), Wanted::No, "{p}");
        }
    }

    #[test]
    fn a_file_replacing_a_directory_hides_its_contents() {
        let l0 = vec![f("x/y", FileKind::File), f("x", FileKind::Dir)];
        let l1 = vec![f("x", FileKind::File)];
        let v = SquashedView::squash([l0.clone(), l1.clone()]);
        assert_eq!(v.entries.iter().map(|e| e.entry.path.as_str()).collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn digests_are_written_and_read_as_lower_case_hex() {
        let d = FileDigest([0x00, 0x0f, 0xa5, 0xff].into_iter().cycle().take(32).collect::<Vec<_>>().try_into().expect("32"));
        let hex = "000fa5ff".repeat(8);
        assert_eq!(d.to_string(), hex);
        let mut e = f("etc/passwd", FileKind::File);
        e.sha256 = Some(d);
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["sha256"], hex.as_str());
        assert_eq!(serde_json::from_value::<FileEntry>(json).expect("back"), e);
        assert_eq!(hex.to_uppercase().parse::<FileDigest>(), Ok(d), "upper case is read too");
        for bad in ["", "abc", &"zz".repeat(32), &hex[..62]] {
            let r = serde_json::from_value::<FileEntry>(serde_json::json!({
                "path": "x", "kind": "file", "mode": 420, "uid": 0, "gid": 0, "size": 1, "sha256": bad,
            }));
            assert!(r.is_err_and(|e| e.to_string().contains("is not a sha256 in hex")), "{bad:?}");
        }
    }

    #[test]
    fn a_path_written_twice_in_a_layer_keeps_its_last_entry() {
        let mut second = f("etc/motd", FileKind::File);
        second.size = 2;
        let l0 = vec![f("etc/motd", FileKind::File), f("etc", FileKind::Dir), second];
        let v = SquashedView::squash([l0]);
        assert_eq!(v.entries.len(), 2);
        assert_eq!(v.entries["etc/motd"].entry.size, 2);
        assert!(v.entries.get("etc/mot").is_none() && !v.entries.contains_key("etc/motd/x"));
        let paths: Vec<_> = v.entries.iter().map(|e| e.entry.path.as_str()).collect();
        assert_eq!(paths, ["etc", "etc/motd"], "in path order");
    }

    /// The squash as first written: one ordered map for the whole view, every entry
    /// applied in tar order. The reference the sorted merge must agree with.
    fn reference_squash(layers: &[Vec<FileEntry>]) -> (Vec<ViewEntry>, Vec<Finding>) {
        use std::collections::BTreeMap;
        fn remove_under(m: &mut BTreeMap<String, ViewEntry>, dir: &str, doomed: impl Fn(&ViewEntry) -> bool) {
            m.retain(|k, v| !(is_under(k, dir) && doomed(v)));
        }
        let mut m: BTreeMap<String, ViewEntry> = BTreeMap::new();
        let mut findings = Vec::new();
        for (layer, entries) in layers.iter().enumerate() {
            for e in entries {
                let (dir, name) = e.path.rsplit_once('/').unwrap_or(("", e.path.as_str()));
                if name == OPAQUE {
                    remove_under(&mut m, dir, |v| v.layer < layer);
                } else if let Some(hidden) = name.strip_prefix(WHITEOUT) {
                    let target = if dir.is_empty() { hidden.to_owned() } else { format!("{dir}/{hidden}") };
                    if m.get(&target).is_some_and(|v| v.layer < layer) {
                        m.remove(&target);
                    }
                    remove_under(&mut m, &target, |v| v.layer < layer);
                }
            }
            for e in entries {
                if is_marker(e) {
                    continue;
                }
                let mut e = e.clone();
                if e.kind == FileKind::Hardlink {
                    let target = e.link.clone().unwrap_or_default();
                    if let Err(reason) = link_to(&mut e, m.get(&target).map(|t| &t.entry)) {
                        findings.push(Finding { layer, path: e.path, reason });
                        continue;
                    }
                }
                if e.kind != FileKind::Dir {
                    remove_under(&mut m, &e.path, |_| true);
                }
                m.insert(e.path.clone(), ViewEntry { entry: e, layer });
            }
        }
        (m.into_values().collect(), findings)
    }

    #[test]
    fn the_sorted_merge_squashes_exactly_as_entries_applied_one_by_one() {
        const PATHS: &[&str] = &[
            "a", "b", "a/b", "a/c", "a/b/c", "a-x", "a.d/x", "a/b-x", "d", "d/e",
            ".wh.a", "a/.wh.b", "a/.wh..wh..opq", ".wh..wh..opq", "a/b/.wh.c", ".wh.d", "",
        ];
        const KINDS: &[FileKind] = &[FileKind::File, FileKind::File, FileKind::Dir, FileKind::Dir, FileKind::Symlink, FileKind::Hardlink];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut sorted_layers, mut in_order_layers) = (0, 0);
        for case in 0..20_000 {
            let layers: Vec<Vec<FileEntry>> = (0..1 + next(4))
                .map(|l| {
                    (0..next(9))
                        .map(|i| {
                            let kind = KINDS[next(KINDS.len())];
                            let mut e = f(PATHS[next(PATHS.len())], kind);
                            e.size = (case * 100 + l * 10 + i) as u64;
                            e.sha256 = Some(FileDigest([(i + l * 16) as u8; 32]));
                            if kind == FileKind::Hardlink {
                                e.link = Some(PATHS[next(PATHS.len())].to_owned());
                            }
                            e
                        })
                        .collect()
                })
                .collect();
            for l in &layers {
                if order_free(l).is_some() {
                    sorted_layers += 1;
                } else {
                    in_order_layers += 1;
                }
            }
            let (want, want_findings) = reference_squash(&layers);
            let got = SquashedView::squash(layers.clone());
            assert_eq!(got.entries.iter().cloned().collect::<Vec<_>>(), want, "case {case}: {layers:#?}");
            assert_eq!(got.findings, want_findings, "case {case}: {layers:#?}");
        }
        assert!(sorted_layers > 10_000 && in_order_layers > 10_000, "both ways are exercised: {sorted_layers} / {in_order_layers}");
    }
}
