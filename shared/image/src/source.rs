//! The catalogers' view of a staged image: the squashed file index, and content read
//! back from each layer's staged files.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use customs_model::fs::{FileKind, FileSource, SquashedView};
use tokio::io::AsyncWriteExt;

use crate::{StageError, StagedLayer, Staging};

/// Where a staged file's bytes are: layer, offset in that layer's tar, length.
#[derive(Debug, Clone, Copy)]
struct Span {
    layer: usize,
    offset: u64,
    len: u64,
}

/// A layer's staged files on local disk: a temporary copy of the S3 object, or the
/// locally staged file itself.
enum Held {
    Temp(tempfile::NamedTempFile),
    /// A link to the local cache's copy (see [`crate::LayerCache`]), removed when dropped.
    Linked(tempfile::TempPath),
    Local(std::path::PathBuf),
}

impl Held {
    fn path(&self) -> &std::path::Path {
        match self {
            Self::Temp(t) => t.path(),
            Self::Linked(p) => p,
            Self::Local(p) => p,
        }
    }
}

/// An image whose layers are staged, as a [`FileSource`]. Each layer's staged files are
/// downloaded once into a temporary file; reads seek into it.
pub struct StagedImage {
    view: SquashedView,
    layers: Vec<Held>,
    spans: HashMap<(usize, String), Span>,
}

impl StagedImage {
    /// Downloads (a few at once) and indexes each layer's staged files. Takes each
    /// layer's entries into the squashed view (leaving `entries` empty), so no file is
    /// held twice.
    pub async fn load(staging: &Staging, layers: &mut [StagedLayer]) -> Result<Self, StageError> {
        Self::load_with(staging, layers, HashMap::new()).await
    }

    /// As [`load`](Self::load), but a layer whose staged files are in `fresh` (by blob digest:
    /// the temporary files of layers this process has just staged) is read from there
    /// instead of being downloaded again.
    pub async fn load_with(
        staging: &Staging,
        layers: &mut [StagedLayer],
        mut fresh: HashMap<String, tempfile::NamedTempFile>,
    ) -> Result<Self, StageError> {
        use futures::{StreamExt as _, TryStreamExt as _};
        // The squash (40 ms on a large image) runs on a blocking thread while the staged
        // files are loaded (hard links from the local cache, downloads, tar headers read).
        let entries: Vec<_> = layers.iter_mut().map(|l| std::mem::take(&mut l.entries)).collect();
        let squash = tokio::task::spawn_blocking(move || SquashedView::squash(entries));
        let layers = &*layers;
        // A layer listed twice takes its fresh file once; the other copy is downloaded.
        let mut held: Vec<Option<Held>> = layers.iter().map(|l| fresh.remove(&l.digest).map(Held::Temp)).collect();
        // Indexes, not `&StagedLayer`s: a closure over a reference would make the future's
        // `Send` proof higher-ranked, which fails in callers that spawn it.
        let loaded: Vec<(Held, Vec<(String, Span)>)> = futures::stream::iter(0..layers.len())
            .map(|i| load_layer(staging, &layers[i], i, held[i].take()))
            .buffered(LOAD_CONCURRENCY)
            .try_collect()
            .await?;
        let view = squash.await.map_err(|e| StageError::Local(format!("squashing the layers: {e}")))?;
        let mut files = Vec::with_capacity(layers.len());
        let mut spans = HashMap::new();
        for (held, found) in loaded {
            for (p, s) in found {
                spans.insert((s.layer, p), s);
            }
            files.push(held);
        }
        Ok(Self { view, layers: files, spans })
    }
}

/// How many layers' staged files are downloaded at once.
const LOAD_CONCURRENCY: usize = 4;

/// Layer `i`'s staged files on local disk, and where each file is in them.
async fn load_layer(staging: &Staging, l: &StagedLayer, i: usize, fresh: Option<Held>) -> Result<(Held, Vec<(String, Span)>), StageError> {
    let fresh = fresh.or_else(|| staging.cached_files(&l.digest).map(Held::Linked));
    let held = match (fresh, staging.local_files(&l.digest)) {
        (Some(h), _) => h,
        (None, Some(p)) => Held::Local(p),
        (None, None) => {
            let tmp = tempfile::NamedTempFile::new().map_err(|e| StageError::Local(format!("temporary file: {e}")))?;
            if l.staged_files > 0 {
                let mut out = tokio::fs::File::create(tmp.path()).await.map_err(|e| StageError::Local(e.to_string()))?;
                staging.download_files(&l.digest, &mut out).await?;
                out.flush().await.map_err(|e| StageError::Local(e.to_string()))?;
                staging.keep_files(&l.digest, tmp.path());
            }
            Held::Temp(tmp)
        }
    };
    if l.staged_files == 0 {
        return Ok((held, Vec::new()));
    }
    let path = held.path().to_owned();
    let found = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<(String, Span)>> {
        let mut archive = tar::Archive::new(File::open(path)?);
        let mut out = Vec::new();
        // Seeking past each file's content: only the headers are read, so a file cut short
        // is found by its length rather than by reading up to its end.
        for e in archive.entries_with_seek()? {
            let e = e?;
            let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            out.push((p, Span { layer: i, offset: e.raw_file_position(), len: e.size() }));
        }
        let end = out.iter().map(|(_, s)| s.offset + s.len).max().unwrap_or(0);
        let have = archive.into_inner().metadata()?.len();
        if end > have {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("{have} bytes, files up to byte {end}")));
        }
        Ok(out)
    })
    .await
    .map_err(|e| StageError::Local(e.to_string()))?
    .map_err(|e| StageError::Storage(format!("staged files of {} are unreadable: {e}", l.digest)))?;
    Ok((held, found))
}

impl FileSource for StagedImage {
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
        let mut f = File::open(self.layers.get(span.layer)?.path()).ok()?;
        f.seek(SeekFrom::Start(span.offset)).ok()?;
        Some(Box::new(f.take(span.len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use customs_model::fs::FileEntry;

    /// A layer whose staged files are `files` (path, content), staged under `dir`.
    async fn staged(dir: &std::path::Path, files: &[(&str, &[u8])]) -> (Staging, StagedLayer) {
        let staging = Staging::local(dir);
        let tar = tempfile::NamedTempFile::new().expect("tmp");
        let mut b = tar::Builder::new(tar.reopen().expect("reopen"));
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, path, *data).expect("append");
        }
        b.finish().expect("finish");
        let entry = |path: &str, size: usize| FileEntry {
            path: path.into(),
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: size as u64,
            sha256: None,
            link: None,
            staged: true,
        };
        let layer = StagedLayer {
            digest: format!("sha256:{}", "e".repeat(64)),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            compressed_size: 1,
            uncompressed_size: 1,
            staged_files: files.len() as u64,
            staged_bytes: files.iter().map(|(_, d)| d.len() as u64).sum(),
            entries: files.iter().map(|(p, d)| entry(p, d.len())).collect(),
            findings: Vec::new(),
        };
        staging.put(&layer, tar.path()).await.expect("put");
        (staging, layer)
    }

    #[tokio::test]
    async fn staged_files_read_back_and_a_staged_tar_cut_short_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let big = vec![b'x'; 10_000];
        let (staging, layer) = staged(dir.path(), &[("etc/os-release", b"ID=debian\n"), ("usr/lib/big", &big)]).await;
        let image = StagedImage::load(&staging, &mut [layer.clone()]).await.expect("load");
        let mut text = String::new();
        image.open("etc/os-release").expect("staged").read_to_string(&mut text).expect("read");
        assert_eq!(text, "ID=debian\n");

        // The last file's content cut off: its header is there, its bytes are not.
        let files = dir.path().join(Staging::files_key(&layer.digest));
        let f = std::fs::OpenOptions::new().write(true).open(&files).expect("open");
        f.set_len(512 + 512 + 512 + 5_000).expect("truncate");
        let err = StagedImage::load(&staging, &mut [layer]).await.err().expect("cut short");
        assert!(err.to_string().contains("files up to byte"), "{err}");
    }
}
