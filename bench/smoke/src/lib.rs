//! The catalog path on a local OCI image layout, without S3 or a registry: each layer is
//! streamed through [`customs_image::layer::index_layer`] exactly as the analyze function
//! does, its staged files kept in a local temporary tar, then the squashed view is
//! catalogued by [`customs_catalog::catalog`]. Used by the smoke benchmark
//! (`tests/smoke.rs`), which times it against [`reference_workload`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use customs_image::layer::{LayerIndex, Limits, index_layer};
use customs_model::fs::{FileKind, FileSource, SquashedView};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where a staged file's bytes are: layer, offset in that layer's staged tar, length.
#[derive(Debug, Clone, Copy)]
struct Span {
    layer: usize,
    offset: u64,
    len: u64,
}

/// An indexed local image, as a [`FileSource`].
pub struct LocalImage {
    /// Each layer's index; its entries are in the view (taken by the squash).
    pub layers: Vec<LayerIndex>,
    /// Time spent in [`SquashedView::squash`] (part of [`LocalImage::index`]).
    pub squash_time: Duration,
    view: SquashedView,
    staged: Vec<tempfile::NamedTempFile>,
    spans: HashMap<(usize, String), Span>,
}

fn json(path: &Path) -> Result<Value, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&raw).map_err(|e| format!("{}: {e}", path.display()))
}

fn blob(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout.join("blobs").join(digest.replacen(':', "/", 1))
}

/// One layer indexed: what the index found, its staged files, and where each staged file is.
type IndexedLayer = (LayerIndex, tempfile::NamedTempFile, Vec<(String, Span)>);

/// Streams layer `i` (`descriptor` from the manifest) through `index_layer`.
fn index_one(layout: &Path, i: usize, l: &Value, diff_id: &Value) -> Result<IndexedLayer, String> {
    let digest = l["digest"].as_str().ok_or("layer without digest")?;
    let media_type = l["mediaType"].as_str().ok_or("layer without mediaType")?;
    let diff_id = diff_id.as_str().ok_or("diff_id is not a string")?;
    let raw = File::open(blob(layout, digest)).map_err(|e| format!("layer {digest}: {e}"))?;
    let tmp = tempfile::NamedTempFile::new().map_err(|e| format!("temporary file: {e}"))?;
    let mut builder = tar::Builder::new(tmp.reopen().map_err(|e| e.to_string())?);
    let li = index_layer(raw, media_type, digest, diff_id, &Limits::default(), &mut builder)
        .map_err(|e| e.to_string())?;
    builder.into_inner().map_err(|e| e.to_string())?;
    let mut spans = Vec::new();
    let mut archive = tar::Archive::new(File::open(tmp.path()).map_err(|e| e.to_string())?);
    for e in archive.entries_with_seek().map_err(|e| e.to_string())? {
        let e = e.map_err(|e| e.to_string())?;
        let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        spans.push((p, Span { layer: i, offset: e.raw_file_position(), len: e.size() }));
    }
    Ok((li, tmp, spans))
}

impl LocalImage {
    /// Indexes every layer of the first manifest of an OCI image layout directory, one
    /// layer at a time (the smoke benchmark's stable measure).
    pub fn index(layout: &Path) -> Result<Self, String> {
        Self::index_with(layout, 1)
    }

    /// As [`index`](Self::index), with up to `workers` layers indexed at once, as the
    /// analyze function stages an image's layers at once (one stage-layer message each).
    pub fn index_with(layout: &Path, workers: usize) -> Result<Self, String> {
        let index = json(&layout.join("index.json"))?;
        let manifest_digest = index["manifests"][0]["digest"]
            .as_str()
            .ok_or("index.json names no manifest")?;
        let manifest = json(&blob(layout, manifest_digest))?;
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .ok_or("manifest has no config")?;
        let config = json(&blob(layout, config_digest))?;
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .ok_or("config has no rootfs.diff_ids")?;
        let descriptors = manifest["layers"]
            .as_array()
            .ok_or("manifest has no layers")?;
        if descriptors.len() != diff_ids.len() {
            return Err(format!("{} layers but {} diff ids", descriptors.len(), diff_ids.len()));
        }
        // Workers take the next layer until none is left; results land in layer order.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: Vec<std::sync::Mutex<Option<Result<IndexedLayer, String>>>> =
            descriptors.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..workers.clamp(1, descriptors.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(l) = descriptors.get(i) else { break };
                        let r = index_one(layout, i, l, &diff_ids[i]);
                        let failed = r.is_err();
                        if let Ok(mut slot) = done[i].lock() {
                            *slot = Some(r);
                        }
                        if failed {
                            break;
                        }
                    }
                });
            }
        });
        let mut layers = Vec::with_capacity(done.len());
        let mut staged = Vec::with_capacity(done.len());
        let mut spans = HashMap::new();
        for slot in done {
            let r = slot.into_inner().map_err(|_| "an indexing worker crashed".to_owned())?;
            // A layer after a failed one may not have been reached; the failure is reported.
            let Some(r) = r else { continue };
            let (li, tmp, found) = r?;
            spans.extend(found.into_iter().map(|(p, s)| ((s.layer, p), s)));
            layers.push(li);
            staged.push(tmp);
        }
        if layers.len() != descriptors.len() {
            return Err("an indexing worker stopped early".into());
        }
        let (view, squash_time) =
            timed(|| SquashedView::squash(layers.iter_mut().map(|l| std::mem::take(&mut l.entries))));
        Ok(Self {
            layers,
            squash_time,
            view,
            staged,
            spans,
        })
    }

    /// Bytes of the layers, uncompressed.
    pub fn uncompressed_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.uncompressed_size).sum()
    }
}

impl FileSource for LocalImage {
    fn view(&self) -> &SquashedView {
        &self.view
    }

    fn open(&self, path: &str) -> Option<Box<dyn Read + '_>> {
        let mut e = self.view.resolve(path)?;
        if e.entry.kind == FileKind::Hardlink {
            e = self.view.entries.get(e.entry.link.as_deref()?)?;
        }
        if e.entry.kind != FileKind::File || !e.entry.staged {
            return None;
        }
        let span = self.spans.get(&(e.layer, e.entry.path.clone()))?;
        let mut f = File::open(self.staged.get(span.layer)?.path()).ok()?;
        f.seek(SeekFrom::Start(span.offset)).ok()?;
        Some(Box::new(f.take(span.len)))
    }
}

/// The fixed reference workload: SHA-256 over `mib` MiB of deterministic bytes, built
/// with the same profile as the code under test, so the ratio cancels the machine's
/// speed and the build profile.
pub fn reference_workload(mib: usize) -> Duration {
    let chunk: Vec<u8> = (0..1usize << 20).map(|i| (i * 31 % 251) as u8).collect();
    let t = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..mib {
        h.update(&chunk);
    }
    std::hint::black_box(h.finalize());
    t.elapsed()
}

/// The fixed reference workload for the catalog: parsing `stanzas` package records of a
/// deterministic dpkg-status-like text into owned maps, sorting them and hashing the result
/// in plain Rust (no SIMD, no CPU extensions). Cataloguing is this kind of work (text
/// parsing, small allocations, maps), so the ratio tracks code changes rather than how the
/// machine's CPU happens to favour one kind of work: a SHA-256 reference runs on SHA
/// instructions where the CPU has them, which moved the ratio 2.5x between machines.
pub fn reference_parse_workload(stanzas: usize) -> Duration {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    let mut text = String::new();
    for i in 0..stanzas {
        let _ = write!(
            text,
            "Package: pkg-{i}\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
             Installed-Size: {}\nMaintainer: Team {} <team{}@example.org>\nArchitecture: amd64\n\
             Source: src-{} ({}.{}-{})\nVersion: {}:{}.{}.{}-{}+deb12u{}\n\
             Depends: libc6 (>= 2.{}), libpkg-{} (= {}.{})\nDescription: package number {i}\n \
             a longer description line for package {i}\n .\n more text here\n\n",
            i * 7 % 9000,
            i % 31,
            i % 31,
            i / 3,
            i % 9,
            i % 13,
            i % 5,
            i % 3,
            i % 17,
            i % 11,
            i % 23,
            i % 7,
            i % 4,
            i % 36,
            i + 1,
            i % 10,
            i % 100
        );
    }
    let t = Instant::now();
    let mut records: Vec<BTreeMap<String, String>> = Vec::new();
    for stanza in text.split("\n\n").filter(|s| !s.is_empty()) {
        let mut fields = BTreeMap::new();
        let mut last = String::new();
        for line in stanza.lines() {
            if let Some(cont) = line.strip_prefix(' ') {
                if let Some(v) = fields.get_mut(&last) {
                    let v: &mut String = v;
                    v.push('\n');
                    v.push_str(cont);
                }
            } else if let Some((k, v)) = line.split_once(':') {
                last = k.trim().to_owned();
                fields.insert(last.clone(), v.trim().to_owned());
            }
        }
        records.push(fields);
    }
    records.sort_by(|a, b| {
        b.get("Version")
            .cmp(&a.get("Version"))
            .then(a.get("Package").cmp(&b.get("Package")))
    });
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for r in &records {
        let id = format!(
            "pkg:deb/debian/{}@{}?arch={}",
            r.get("Package").map_or("", |s| s),
            r.get("Version").map_or("", |s| s),
            r.get("Architecture").map_or("", |s| s)
        );
        for b in id.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    std::hint::black_box(hash);
    t.elapsed()
}

/// Times `f`.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}
