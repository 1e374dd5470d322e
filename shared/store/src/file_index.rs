//! The squashed file index of an image as it is recorded: JSON, compressed by the writer
//! (lz4 frame format) and stored as `bytea` (`image_files.files_lz4`, V0210); large
//! packages' JSON likewise (`image_packages.package_lz4`, V0230).

use std::io::{Read as _, Write as _};

use crate::StoreError;

/// A file index ready to record: the JSON text of the entries, lz4-compressed.
#[derive(Debug, Clone)]
pub struct FileIndex(Vec<u8>);

impl FileIndex {
    /// Writes `entries` as JSON straight into the compressor (the text is never held
    /// whole: on an image of 300 000 files it is over 50 MB).
    pub fn encode<T: serde::Serialize + ?Sized>(entries: &T) -> std::io::Result<Self> {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, encoder(0));
        serde_json::to_writer(&mut out, entries)?;
        out.flush()?;
        let encoder = out.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        encoder.finish().map(Self).map_err(std::io::Error::other)
    }

    /// The compressed bytes, as stored.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The JSON text of stored bytes.
    pub(crate) fn text(stored: &[u8]) -> Result<String, StoreError> {
        decompress(stored, "file index")
    }
}

/// An lz4 frame writer into a buffer of `capacity`. With the content checksum, a damaged
/// document is an error, not different JSON.
fn encoder(capacity: usize) -> lz4_flex::frame::FrameEncoder<Vec<u8>> {
    let frame = lz4_flex::frame::FrameInfo::new().content_checksum(true);
    lz4_flex::frame::FrameEncoder::with_frame_info(frame, Vec::with_capacity(capacity))
}

/// `text` as an lz4 frame with its content checksum, as [`FileIndex::encode`] writes it.
pub(crate) fn compress(text: &str) -> Result<Vec<u8>, StoreError> {
    let mut encoder = encoder(text.len() / 3);
    encoder.write_all(text.as_bytes()).map_err(|e| StoreError::Corrupt(format!("compressing a {}-byte document: {e}", text.len())))?;
    encoder.finish().map_err(|e| StoreError::Corrupt(format!("compressing a {}-byte document: {e}", text.len())))
}

/// The text of an lz4 frame as [`compress`] and [`FileIndex::encode`] write them; a
/// damaged frame is `Corrupt` (naming `what`).
pub(crate) fn decompress(stored: &[u8], what: &str) -> Result<String, StoreError> {
    let mut text = String::new();
    lz4_flex::frame::FrameDecoder::new(stored)
        .read_to_string(&mut text)
        .map_err(|e| StoreError::Corrupt(format!("stored {what}: {e}")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_json_text() {
        let entries: Vec<serde_json::Value> =
            (0..5000).map(|i| serde_json::json!({ "path": format!("usr/lib/file-{i}"), "mode": 420, "size": i })).collect();
        let index = FileIndex::encode(&entries).expect("encode");
        let text = serde_json::to_string(&entries).expect("json");
        assert!(index.bytes().len() * 4 < text.len(), "{} bytes for {} of JSON", index.bytes().len(), text.len());
        assert_eq!(FileIndex::text(index.bytes()).expect("decode"), text);
        assert_eq!(decompress(&compress(&text).expect("compress"), "text").expect("decode"), text);
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let entries: Vec<String> = (0..2000).map(|i| format!("etc/file-{i}")).collect();
        let index = FileIndex::encode(&entries).expect("encode");
        let whole = index.bytes();
        for cut in [whole.len() / 2, whole.len() - 3] {
            assert!(matches!(FileIndex::text(&whole[..cut]), Err(StoreError::Corrupt(_))), "cut at {cut}");
        }
        let mut flipped = whole.to_vec();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x40;
        assert!(matches!(FileIndex::text(&flipped), Err(StoreError::Corrupt(_))));
        assert!(matches!(FileIndex::text(b"not lz4 at all"), Err(StoreError::Corrupt(_))));
    }
}
