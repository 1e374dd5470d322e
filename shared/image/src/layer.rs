//! Reading one layer blob as a stream: verify its digest, decompress, index every tar
//! entry, and keep the content of the files analysers need — without ever writing an
//! entry to the local filesystem, so no path, symlink or hard link in a layer can reach
//! outside the staging area.

use std::io::{self, BufRead, BufReader, Read, Write};

use customs_model::fs::{EXECUTABLE_MARKERS, FileDigest, FileEntry, FileKind, Wanted, normalize, wanted};
use sha2::{Digest, Sha256};

/// Bounds on what one layer may cost. Over a bound the analysis fails with that reason.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_uncompressed_bytes: u64,
    pub max_entries: u64,
    /// Largest single file whose content is staged; larger ones are hashed and indexed.
    pub max_staged_file_bytes: u64,
    /// Total content staged per layer.
    pub max_staged_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_uncompressed_bytes: 16 << 30,
            max_entries: 2_000_000,
            max_staged_file_bytes: 256 << 20,
            max_staged_bytes: 2 << 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// The compression a layer media type declares (`None` for an unknown type).
    pub fn for_media_type(mt: &str) -> Option<Self> {
        let mt = mt.trim();
        if mt.ends_with("tar+gzip")
            || mt.ends_with(".tar.gzip")
            || mt == "application/vnd.docker.image.rootfs.diff.tar.gzip"
        {
            Some(Self::Gzip)
        } else if mt.ends_with("tar+zstd") {
            Some(Self::Zstd)
        } else if mt.ends_with(".tar") || mt == "application/vnd.oci.image.layer.v1.tar" {
            Some(Self::None)
        } else {
            None
        }
    }

    /// The compression a blob's first bytes show (`None`: no known magic, a plain tar).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {digest}: unsupported media type {media_type:?}")]
    UnsupportedMediaType { digest: String, media_type: String },
    #[error("layer {digest}: media type says {declared:?} but the content starts like {found:?}")]
    CompressionMismatch {
        digest: String,
        declared: Compression,
        found: Option<Compression>,
    },
    #[error(
        "layer {digest}: {what} digest mismatch: expected {expected}, content hashes to {actual}"
    )]
    DigestMismatch {
        digest: String,
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "layer {digest}: over the limit of {limit} {what}; the image is refused as a possible decompression bomb"
    )]
    OverLimit {
        digest: String,
        what: &'static str,
        limit: u64,
    },
    #[error("layer {digest}: truncated or corrupt stream: {reason}")]
    Corrupt { digest: String, reason: String },
    #[error("layer {digest}: cannot write staged files: {reason}")]
    Staging { digest: String, reason: String },
}

/// What indexing one layer produced.
#[derive(Debug, Clone)]
pub struct LayerIndex {
    pub entries: Vec<FileEntry>,
    /// Entries left out, with why (path escapes, absurd names…).
    pub findings: Vec<(String, String)>,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub staged_files: u64,
    pub staged_bytes: u64,
    /// sha256 of the blob as read (equal to the expected digest when one was given).
    pub compressed_digest: String,
}

/// Counts what passes through, and hashes it when it has a hasher.
struct Hashing<R> {
    inner: R,
    hasher: Option<Sha256>,
    count: u64,
    limit: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(OverLimitMarker));
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct OverLimitMarker;
impl std::fmt::Display for OverLimitMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("over the decompressed size limit")
    }
}
impl std::error::Error for OverLimitMarker {}

/// zstd streams may hold several frames back to back; decode them all.
struct ZstdFrames<R: BufRead> {
    current: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
    idle: Option<R>,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(dec) = self.current.as_mut() {
                let n = dec.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.idle = self
                    .current
                    .take()
                    .map(ruzstd::decoding::StreamingDecoder::into_inner);
            }
            let Some(mut src) = self.idle.take() else {
                return Ok(0);
            };
            if src.fill_buf()?.is_empty() {
                self.idle = Some(src);
                return Ok(0);
            }
            self.current =
                Some(ruzstd::decoding::StreamingDecoder::new(src).map_err(io::Error::other)?);
        }
    }
}

fn kind(t: tar::EntryType) -> Option<FileKind> {
    use tar::EntryType as T;
    Some(match t {
        T::Regular | T::Continuous => FileKind::File,
        T::Directory => FileKind::Dir,
        T::Symlink => FileKind::Symlink,
        T::Link => FileKind::Hardlink,
        T::Char => FileKind::CharDevice,
        T::Block => FileKind::BlockDevice,
        T::Fifo => FileKind::Fifo,
        _ => return None,
    })
}

/// Streams one layer: `raw` is the blob as the registry serves it. Files analysers need
/// are appended to `staged` (a tar of their content, keyed by normalised path).
pub fn index_layer<R: Read + Send, W: StagedSink>(
    raw: R,
    media_type: &str,
    digest: &str,
    diff_id: &str,
    limits: &Limits,
    staged: &mut tar::Builder<W>,
) -> Result<LayerIndex, LayerError> {
    index_layer_as(raw, media_type, digest, Some(digest), diff_id, limits, staged)
}

/// [`index_layer`] for a blob known by `name` whose compressed digest may be unknown
/// (`expected` `None`: a `docker save` layer, named by path).
///
/// The blob's digest binds the bytes to the image: it is always computed, and checked
/// against `expected`. The diff id (the decompressed tar's digest) is checked too:
/// - when that costs nothing: an uncompressed layer's blob is its tar;
/// - when nothing else binds the content: no `expected` (the tar is hashed as it is read);
/// - for zstd, whose decoder here (ruzstd) is younger than the runtimes' own: the diff id
///   is what a runtime checks its decompression against, so a blob that ruzstd decoded
///   otherwise would be refused here rather than analysed as other content.
///
/// A gzip layer with a checked blob digest is not hashed a second time, decompressed (a
/// second SHA-256 pass over every byte, about a sixth of an analysis' CPU): deflate has one
/// decoding, and decoders differ only in what they refuse. Its diff id is recorded as the
/// config states it (the config is bound to the manifest by its digest).
pub fn index_layer_as<R: Read + Send, W: StagedSink>(
    raw: R,
    media_type: &str,
    name: &str,
    expected: Option<&str>,
    diff_id: &str,
    limits: &Limits,
    staged: &mut tar::Builder<W>,
) -> Result<LayerIndex, LayerError> {
    let digest = name;
    let d = || digest.to_owned();
    let declared = Compression::for_media_type(media_type).ok_or_else(|| {
        LayerError::UnsupportedMediaType {
            digest: d(),
            media_type: media_type.to_owned(),
        }
    })?;
    let mut compressed = BufReader::with_capacity(
        256 << 10,
        Hashing {
            inner: raw,
            hasher: Some(Sha256::new()),
            count: 0,
            limit: u64::MAX,
        },
    );
    let head = compressed.fill_buf().map_err(|e| LayerError::Corrupt {
        digest: d(),
        reason: e.to_string(),
    })?;
    let found = Compression::sniff(head);
    // Uncompressed tars have no magic at offset 0; anything compressed must say so.
    let actual = match (declared, found) {
        (Compression::None, None) => Compression::None,
        (want, Some(got)) if want == got => got,
        (_, found) => {
            return Err(LayerError::CompressionMismatch {
                digest: d(),
                declared,
                found,
            });
        }
    };
    // The tar's own digest, when it is not the blob's (see above).
    let hash_tar = match actual {
        Compression::None => false,
        Compression::Zstd => true,
        Compression::Gzip => expected.is_none(),
    };
    let corrupt = |e: io::Error| {
        if e.get_ref().is_some_and(|i| i.is::<OverLimitMarker>()) {
            LayerError::OverLimit {
                digest: d(),
                what: "decompressed bytes",
                limit: limits.max_uncompressed_bytes,
            }
        } else {
            LayerError::Corrupt {
                digest: d(),
                reason: e.to_string(),
            }
        }
    };
    let mut index = LayerIndex {
        entries: Vec::new(),
        findings: Vec::new(),
        compressed_size: 0,
        uncompressed_size: 0,
        staged_files: 0,
        staged_bytes: 0,
        compressed_digest: String::new(),
    };
    // Decompression runs on a thread of its own (see `decompress_behind`); the scope ends
    // it on every return, early ones included.
    std::thread::scope(|scope| {
        let (decoded, decompressor) = decompress_behind(scope, compressed, actual);
        let uncompressed = {
            let mut tar_stream = Hashing {
                inner: decoded,
                hasher: hash_tar.then(Sha256::new),
                count: 0,
                limit: limits.max_uncompressed_bytes,
            };
            {
                let mut archive = tar::Archive::new(&mut tar_stream);
                let entries = archive.entries().map_err(corrupt)?;
                for entry in entries {
                    let mut entry = entry.map_err(corrupt)?;
                    if index.entries.len() as u64 + index.findings.len() as u64 >= limits.max_entries {
                        return Err(LayerError::OverLimit {
                            digest: d(),
                            what: "entries",
                            limit: limits.max_entries,
                        });
                    }
                    let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                    let header = entry.header();
                    let Some(kind) = kind(header.entry_type()) else {
                        continue;
                    };
                    let path = match normalize(&raw_path) {
                        Ok(p) if p.is_empty() => continue,
                        Ok(p) => p,
                        Err(problem) => {
                            index.findings.push((raw_path, problem.to_string()));
                            continue;
                        }
                    };
                    let mode = header.mode().unwrap_or(0);
                    let size = header.entry_size().unwrap_or(0);
                    let link = match entry.link_name_bytes() {
                        Some(l) if kind == FileKind::Hardlink => {
                            match normalize(&String::from_utf8_lossy(&l)) {
                                Ok(p) => Some(p),
                                Err(problem) => {
                                    index.findings.push((
                                        path,
                                        format!(
                                            "hard link target {}: {problem}",
                                            String::from_utf8_lossy(&l)
                                        ),
                                    ));
                                    continue;
                                }
                            }
                        }
                        Some(l) => Some(String::from_utf8_lossy(&l).into_owned()),
                        None => None,
                    };
                    let mut fe = FileEntry {
                        path,
                        kind,
                        mode,
                        uid: header.uid().unwrap_or(0),
                        gid: header.gid().unwrap_or(0),
                        size: if kind == FileKind::File { size } else { 0 },
                        sha256: None,
                        link,
                        staged: false,
                    };
                    if kind == FileKind::File {
                        let wanted = wanted(&fe.path, mode, size);
                        let keep = wanted != Wanted::No
                            && size <= limits.max_staged_file_bytes
                            && index.staged_bytes + size <= limits.max_staged_bytes;
                        let mut hasher = Sha256::new();
                        let staging_err = |e: io::Error| LayerError::Staging {
                            digest: d(),
                            reason: e.to_string(),
                        };
                        if keep {
                            let mark = staged.get_mut().position().map_err(staging_err)?;
                            let mut markers = (wanted == Wanted::IfMarked).then(Markers::default);
                            let mut h = tar::Header::new_gnu();
                            h.set_size(size);
                            h.set_mode(mode);
                            h.set_entry_type(tar::EntryType::Regular);
                            let mut tee = Tee {
                                inner: &mut entry,
                                hasher: &mut hasher,
                                markers: markers.as_mut(),
                            };
                            staged
                                .append_data(&mut h, &fe.path, &mut tee)
                                .map_err(|e| {
                                    if e.kind() == io::ErrorKind::Other {
                                        corrupt(e)
                                    } else {
                                        staging_err(e)
                                    }
                                })?;
                            if markers.is_some_and(|m| !m.found) {
                                // An executable without build metadata: no analyser reads it.
                                staged.get_mut().cut(mark).map_err(staging_err)?;
                            } else {
                                fe.staged = true;
                                index.staged_files += 1;
                                index.staged_bytes += size;
                            }
                        } else {
                            let mut tee = Tee {
                                inner: &mut entry,
                                hasher: &mut hasher,
                                markers: None,
                            };
                            io::copy(&mut tee, &mut io::sink()).map_err(corrupt)?;
                        }
                        fe.sha256 = Some(FileDigest(hasher.finalize().into()));
                    }
                    index.entries.push(fe);
                }
            }
            // Whatever follows the tar's end marker still belongs to the digests.
            io::copy(&mut tar_stream, &mut io::sink()).map_err(corrupt)?;
            index.uncompressed_size = tar_stream.count;
            tar_stream.hasher.map(|h| format!("sha256:{}", hex::encode(h.finalize())))
        };
        let inner = match decompressor.join() {
            Ok(read) => read.map_err(corrupt)?,
            Err(_) => {
                return Err(LayerError::Corrupt {
                    digest: d(),
                    reason: "the decompressor crashed".into(),
                });
            }
        };
        index.compressed_size = inner.count;
        let compressed_digest =
            format!("sha256:{}", hex::encode(inner.hasher.unwrap_or_default().finalize()));
        if let Some(expected) = expected.filter(|e| *e != compressed_digest) {
            return Err(LayerError::DigestMismatch {
                digest: d(),
                what: "compressed",
                expected: expected.to_owned(),
                actual: compressed_digest,
            });
        }
        // An uncompressed blob is its tar.
        let uncompressed = uncompressed.or_else(|| (actual == Compression::None).then(|| compressed_digest.clone()));
        index.compressed_digest = compressed_digest;
        if let Some(uncompressed) = uncompressed.filter(|u| u != diff_id) {
            return Err(LayerError::DigestMismatch {
                digest: d(),
                what: "uncompressed (diff_id)",
                expected: diff_id.to_owned(),
                actual: uncompressed,
            });
        }
        // The index is held until the image is squashed: no room for entries that never come.
        index.entries.shrink_to_fit();
        Ok(index)
    })
}

/// Bytes of decompressed tar handed from the decompressing thread at a time, and how many
/// such chunks may wait between the threads (about 1 MiB in flight).
const CHUNK: usize = 256 << 10;
const CHUNKS_IN_FLIGHT: usize = 4;

/// Decompresses `compressed` (which also computes the blob's digest) on a thread of its own,
/// so that inflating overlaps with reading the tar and hashing its files on this one: on
/// debian-app those were 45 % and 55 % of one core's work, one after the other. Returns the
/// decompressed stream and the thread, which hands back the compressed side (its count and
/// digest) once the blob is read to its end, bytes after the last compressed frame included.
/// Decompression errors arrive in the stream after the bytes decoded before them, as they
/// did when the tar was read straight from the decoder. When the reader is dropped early
/// (a limit hit, a bad entry), the thread stops at its next chunk.
fn decompress_behind<'scope, R: Read + Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    mut compressed: BufReader<Hashing<R>>,
    format: Compression,
) -> (Chunks, std::thread::ScopedJoinHandle<'scope, io::Result<Hashing<R>>>) {
    use std::sync::mpsc;
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    let (give_back, spent) = mpsc::channel::<Vec<u8>>();
    let stopped = || io::Error::other("the layer's reader stopped");
    let thread = scope.spawn(move || {
        {
            let mut decoded: Box<dyn Read + '_> = match format {
                Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(&mut compressed)),
                Compression::Zstd => Box::new(ZstdFrames {
                    current: None,
                    idle: Some(&mut compressed),
                }),
                Compression::None => Box::new(&mut compressed),
            };
            loop {
                let mut buf = spent.try_recv().unwrap_or_default();
                buf.resize(CHUNK, 0);
                let mut filled = 0;
                let mut failed = None;
                while filled < CHUNK {
                    match decoded.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let end = filled < CHUNK;
                buf.truncate(filled);
                if filled > 0 && tx.send(Ok(buf)).is_err() {
                    return Err(stopped());
                }
                if let Some(e) = failed {
                    let reason = e.to_string();
                    return Err(match tx.send(Err(e)) {
                        Ok(()) => io::Error::other(reason),
                        Err(_) => stopped(),
                    });
                }
                if end {
                    break;
                }
            }
        }
        io::copy(&mut compressed, &mut io::sink())?;
        Ok(compressed.into_inner())
    });
    (Chunks { rx, give_back, buf: Vec::new(), pos: 0 }, thread)
}

/// The decompressed stream as it arrives from [`decompress_behind`]'s thread.
struct Chunks {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    give_back: std::sync::mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    let done = std::mem::replace(&mut self.buf, next);
                    self.pos = 0;
                    // Reused by the other thread; gone once it has finished.
                    let _ = self.give_back.send(done);
                }
                Ok(Err(e)) => return Err(e),
                // The thread has sent everything.
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

struct Tee<'a, R> {
    inner: R,
    hasher: &'a mut Sha256,
    markers: Option<&'a mut Markers>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(m) = self.markers.as_deref_mut() {
            m.feed(&buf[..n]);
        }
        Ok(n)
    }
}

/// Looks for [`EXECUTABLE_MARKERS`] in a file read piece by piece, across the pieces'
/// boundaries too.
#[derive(Default)]
struct Markers {
    /// The last bytes read, too few to hold a whole marker.
    tail: Vec<u8>,
    found: bool,
}

impl Markers {
    fn feed(&mut self, piece: &[u8]) {
        if self.found || piece.is_empty() {
            return;
        }
        let keep = EXECUTABLE_MARKERS.iter().map(|m| m.len()).max().unwrap_or(1) - 1;
        let mut edge = std::mem::take(&mut self.tail);
        edge.extend_from_slice(&piece[..piece.len().min(keep)]);
        self.found = EXECUTABLE_MARKERS
            .iter()
            .any(|m| memchr::memmem::find(&edge, m).is_some() || memchr::memmem::find(piece, m).is_some());
        if piece.len() >= keep {
            edge.clear();
            edge.extend_from_slice(&piece[piece.len() - keep..]);
        } else {
            edge.drain(..edge.len().saturating_sub(keep));
        }
        self.tail = edge;
    }
}

/// Where a layer's staged files are written: a writer that can take back what it wrote
/// last, so an executable is dropped again once read when it turns out to carry no
/// build metadata.
pub trait StagedSink: Write {
    /// Bytes written so far.
    fn position(&mut self) -> io::Result<u64>;
    /// Drops everything written after `at` (a former [`position`](Self::position)).
    fn cut(&mut self, at: u64) -> io::Result<()>;
}

impl StagedSink for Vec<u8> {
    fn position(&mut self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }

    fn cut(&mut self, at: u64) -> io::Result<()> {
        self.truncate(usize::try_from(at).map_err(io::Error::other)?);
        Ok(())
    }
}

impl StagedSink for std::fs::File {
    fn position(&mut self) -> io::Result<u64> {
        io::Seek::stream_position(self)
    }

    fn cut(&mut self, at: u64) -> io::Result<()> {
        self.set_len(at)?;
        io::Seek::seek(self, io::SeekFrom::Start(at)).map(drop)
    }
}

impl<W: StagedSink> StagedSink for io::BufWriter<W> {
    fn position(&mut self) -> io::Result<u64> {
        let buffered = self.buffer().len() as u64;
        Ok(self.get_mut().position()? + buffered)
    }

    fn cut(&mut self, at: u64) -> io::Result<()> {
        self.flush()?;
        self.get_mut().cut(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar entry with a raw name (no validation, so hostile names can be built).
    fn entry(
        b: &mut tar::Builder<Vec<u8>>,
        name: &str,
        t: tar::EntryType,
        link: Option<&str>,
        data: &[u8],
        mode: u32,
    ) {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(t);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append(&h, data).expect("append");
    }

    fn sha(b: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(b)))
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).expect("gzip");
        e.finish().expect("gzip")
    }

    const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

    fn run(
        blob: &[u8],
        mt: &str,
        diff_id: &str,
        limits: &Limits,
    ) -> (Result<LayerIndex, LayerError>, Vec<u8>) {
        let mut staged = tar::Builder::new(Vec::new());
        let r = index_layer(blob, mt, &sha(blob), diff_id, limits, &mut staged);
        (r, staged.into_inner().unwrap_or_default())
    }

    fn hostile_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        entry(
            &mut b,
            "etc/os-release",
            tar::EntryType::Regular,
            None,
            b"ID=debian\n",
            0o644,
        );
        entry(
            &mut b,
            "../../etc/passwd",
            tar::EntryType::Regular,
            None,
            b"root:x:0:0",
            0o644,
        );
        entry(
            &mut b,
            "/abs/file",
            tar::EntryType::Regular,
            None,
            b"x",
            0o644,
        );
        entry(
            &mut b,
            "evil",
            tar::EntryType::Symlink,
            Some("../../../../etc/shadow"),
            b"",
            0o777,
        );
        entry(
            &mut b,
            "hard",
            tar::EntryType::Link,
            Some("../../outside"),
            b"",
            0o644,
        );
        entry(&mut b, "dev/null", tar::EntryType::Char, None, b"", 0o666);
        entry(
            &mut b,
            "big.bin",
            tar::EntryType::Regular,
            None,
            &[7u8; 100_000],
            0o644,
        );
        b.into_inner().expect("tar")
    }

    #[test]
    fn executables_are_staged_only_with_build_metadata_or_a_runtime_name() {
        let pad = |middle: &[u8]| {
            let mut b = b"\x7fELF".to_vec();
            b.resize(300_000, 7);
            b.extend_from_slice(middle);
            b.resize(600_000, 9);
            b
        };
        let go = pad(b"\xff Go buildinf:\x08\x02");
        let rust = pad(b"\0.text\0.dep-v0\0");
        let plain = pad(b"no metadata here");
        let mut t = tar::Builder::new(Vec::new());
        for (name, data, mode) in [
            ("usr/bin/plain-c", &plain, 0o755),
            ("usr/bin/go-app", &go, 0o755),
            ("usr/bin/plain-too", &plain, 0o755),
            ("usr/bin/rust-app", &rust, 0o755),
            ("usr/bin/python3.11", &plain, 0o755),
            ("etc/os-release", &b"ID=debian\n".to_vec(), 0o644),
        ] {
            entry(&mut t, name, tar::EntryType::Regular, None, data, mode);
        }
        let layer = t.into_inner().expect("tar");
        let blob = gzip(&layer);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("staged.tar");
        let mut staged = tar::Builder::new(io::BufWriter::new(std::fs::File::create(&path).expect("create")));
        let idx = index_layer(&blob[..], GZ, &sha(&blob), &sha(&layer), &Limits::default(), &mut staged).expect("indexed");
        staged.into_inner().expect("finish").flush().expect("flush");
        let kept: Vec<&str> = idx.entries.iter().filter(|e| e.staged).map(|e| e.path.as_str()).collect();
        assert_eq!(kept, ["usr/bin/go-app", "usr/bin/rust-app", "usr/bin/python3.11", "etc/os-release"]);
        assert!(idx.entries.iter().all(|e| e.sha256.is_some()), "every file is hashed, staged or not");
        assert_eq!(idx.staged_files, 4);
        assert_eq!(idx.staged_bytes, 3 * 600_000 + 10);
        // The staged tar holds exactly the kept files, whole, with nothing of the dropped ones.
        let mut archive = tar::Archive::new(std::fs::File::open(&path).expect("open"));
        let mut seen = Vec::new();
        for e in archive.entries().expect("entries") {
            let mut e = e.expect("entry");
            let mut body = Vec::new();
            e.read_to_end(&mut body).expect("read");
            seen.push((e.path().expect("path").to_string_lossy().into_owned(), body));
        }
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, kept);
        assert_eq!(seen[0].1, go);
        assert_eq!(seen[1].1, rust);
        assert_eq!(seen[3].1, b"ID=debian\n");
    }

    #[test]
    fn markers_are_found_across_the_pieces_a_file_is_read_in() {
        let data = b"0123456789\xff Go buildinf:abcdef";
        for size in 1..data.len() {
            let mut m = Markers::default();
            for piece in data.chunks(size) {
                m.feed(piece);
            }
            assert!(m.found, "pieces of {size}");
        }
        let mut m = Markers::default();
        for piece in b"\xff Go buildin plus f: later".chunks(3) {
            m.feed(piece);
        }
        assert!(!m.found);
    }

    #[test]
    fn hostile_entries_are_findings_and_nothing_escapes() {
        let tar = hostile_tar();
        let (r, staged) = run(&gzip(&tar), GZ, &sha(&tar), &Limits::default());
        let idx = r.expect("indexed");
        let paths: Vec<_> = idx.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["etc/os-release", "abs/file", "evil", "dev/null", "big.bin"]
        );
        assert_eq!(idx.findings.len(), 2, "{:?}", idx.findings);
        assert!(
            idx.findings
                .iter()
                .any(|(p, why)| p == "../../etc/passwd" && why.contains("above the image root"))
        );
        assert!(
            idx.findings
                .iter()
                .any(|(p, why)| p == "hard" && why.contains("above the image root"))
        );
        let evil = idx
            .entries
            .iter()
            .find(|e| e.path == "evil")
            .expect("symlink");
        assert_eq!(
            evil.link.as_deref(),
            Some("../../../../etc/shadow"),
            "recorded, never followed"
        );
        assert_eq!(
            idx.entries
                .iter()
                .find(|e| e.path == "dev/null")
                .map(|e| e.kind),
            Some(FileKind::CharDevice)
        );
        // Only the wanted file is staged, under its normalised path.
        let mut a = tar::Archive::new(staged.as_slice());
        let names: Vec<String> = a
            .entries()
            .expect("staged")
            .map(|e| e.expect("e").path().expect("p").display().to_string())
            .collect();
        assert_eq!(names, ["etc/os-release"]);
        assert_eq!(
            idx.entries[0].sha256.map(|d| d.hex()).as_deref(),
            Some(sha(b"ID=debian\n").trim_start_matches("sha256:"))
        );
        assert_eq!(idx.uncompressed_size, tar.len() as u64);
    }

    #[test]
    fn uncompressed_and_zstd_layers_are_read_and_sniffed() {
        let tar = hostile_tar();
        let (r, _) = run(
            &tar,
            "application/vnd.docker.image.rootfs.diff.tar",
            &sha(&tar),
            &Limits::default(),
        );
        assert_eq!(r.expect("plain").entries.len(), 5);
        let z = ruzstd::encoding::compress_to_vec(
            tar.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let mut two_frames = z.clone();
        let (r, _) = run(
            &z,
            "application/vnd.oci.image.layer.v1.tar+zstd",
            &sha(&tar),
            &Limits::default(),
        );
        assert_eq!(r.expect("zstd").entries.len(), 5);
        // Trailing frames after the tar still count toward the blob digest.
        two_frames.extend(ruzstd::encoding::compress_to_vec(
            &[0u8; 1024][..],
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        let mut both = tar.clone();
        both.extend([0u8; 1024]);
        let (r, _) = run(
            &two_frames,
            "application/vnd.oci.image.layer.v1.tar+zstd",
            &sha(&both),
            &Limits::default(),
        );
        assert!(r.is_ok(), "{r:?}");
        let (r, _) = run(&tar, GZ, &sha(&tar), &Limits::default());
        assert!(
            matches!(r, Err(LayerError::CompressionMismatch { .. })),
            "{r:?}"
        );
        let (r, _) = run(
            &tar,
            "application/vnd.example.weird",
            &sha(&tar),
            &Limits::default(),
        );
        assert!(
            matches!(r, Err(LayerError::UnsupportedMediaType { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn bombs_truncation_and_digest_mismatches_fail_with_the_reason() {
        let mut b = tar::Builder::new(Vec::new());
        entry(
            &mut b,
            "zeros",
            tar::EntryType::Regular,
            None,
            &vec![0u8; 4 << 20],
            0o644,
        );
        let bomb = b.into_inner().expect("tar");
        let small = Limits {
            max_uncompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        let (r, _) = run(&gzip(&bomb), GZ, &sha(&bomb), &small);
        assert!(
            matches!(
                r,
                Err(LayerError::OverLimit {
                    what: "decompressed bytes",
                    ..
                })
            ),
            "{r:?}"
        );

        let few = Limits {
            max_entries: 3,
            ..Limits::default()
        };
        let tar = hostile_tar();
        let (r, _) = run(&gzip(&tar), GZ, &sha(&tar), &few);
        assert!(
            matches!(
                r,
                Err(LayerError::OverLimit {
                    what: "entries",
                    ..
                })
            ),
            "{r:?}"
        );

        let gz = gzip(&tar);
        let cut = &gz[..gz.len() / 2];
        let (r, _) = run(cut, GZ, &sha(&tar), &Limits::default());
        assert!(matches!(r, Err(LayerError::Corrupt { .. })), "{r:?}");

        let mut staged = tar::Builder::new(Vec::new());
        let r = index_layer(
            gz.as_slice(),
            GZ,
            &sha(b"other"),
            &sha(&tar),
            &Limits::default(),
            &mut staged,
        );
        assert!(
            matches!(
                r,
                Err(LayerError::DigestMismatch {
                    what: "compressed",
                    ..
                })
            ),
            "{r:?}"
        );
        // The diff id is checked where it costs nothing (a plain tar is its own blob) and
        // where nothing else binds the content (no blob digest given); a compressed layer
        // with a checked blob digest takes its diff id as stated.
        let diff_id_mismatch = |r: &Result<LayerIndex, LayerError>| {
            matches!(r, Err(LayerError::DigestMismatch { what: "uncompressed (diff_id)", .. }))
        };
        let (r, _) = run(&tar, "application/vnd.oci.image.layer.v1.tar", &sha(b"other"), &Limits::default());
        assert!(diff_id_mismatch(&r), "{r:?}");
        let mut staged = tar::Builder::new(Vec::new());
        let r = index_layer_as(gz.as_slice(), GZ, "layer.tar", None, &sha(b"other"), &Limits::default(), &mut staged);
        assert!(diff_id_mismatch(&r), "{r:?}");
        let mut staged = tar::Builder::new(Vec::new());
        let r = index_layer_as(gz.as_slice(), GZ, "layer.tar", None, &sha(&tar), &Limits::default(), &mut staged);
        assert!(r.is_ok_and(|i| i.compressed_digest == sha(&gz)), "unstated blob digest: computed");
        let (r, _) = run(&gz, GZ, &sha(b"other"), &Limits::default());
        assert!(r.is_ok(), "{r:?}");
        // zstd is checked whatever its blob digest (see `index_layer_as`).
        let z = ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest);
        let (r, _) = run(&z, "application/vnd.oci.image.layer.v1.tar+zstd", &sha(b"other"), &Limits::default());
        assert!(diff_id_mismatch(&r), "{r:?}");

        // Garbage never panics.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in [0usize, 1, 2, 10, 512, 4096] {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for mt in [
                GZ,
                "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ] {
                let _ = run(&junk, mt, &sha(&junk), &Limits::default());
            }
        }
    }
}
