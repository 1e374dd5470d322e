//! Streaming search for byte strings in large files (executables), so a binary is read
//! once, in bounded memory, and never loaded whole.

use std::io::{self, Read};

use memchr::memmem;

const CHUNK: usize = 1 << 20;

/// A match: which needle, the absolute offset of its first byte, and up to `after` bytes
/// starting at the match (fewer at the end of the file).
pub(crate) struct Hit<'a> {
    pub needle: usize,
    pub offset: u64,
    pub window: &'a [u8],
}

/// Calls `on_hit` for every occurrence of any needle in file order until it returns
/// `true` (done). Returns whether it did.
pub(crate) fn scan(
    mut reader: impl Read,
    needles: &[&[u8]],
    after: usize,
    mut on_hit: impl FnMut(Hit<'_>) -> bool,
) -> io::Result<bool> {
    let finders: Vec<_> = needles.iter().map(memmem::Finder::new).collect();
    let longest = needles.iter().map(|n| n.len()).max().unwrap_or(1).max(1);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + after);
    let mut base = 0u64; // absolute offset of buf[0]
    let mut from = 0usize; // next position in buf a match may start at
    let mut eof = false;
    loop {
        // Fill up to one more chunk.
        if !eof {
            let old = buf.len();
            buf.resize(old + CHUNK, 0);
            let mut filled = old;
            while filled < buf.len() {
                let n = reader.read(&mut buf[filled..])?;
                if n == 0 {
                    eof = true;
                    break;
                }
                filled += n;
            }
            buf.truncate(filled);
        }
        // Report every complete hit in the buffer.
        loop {
            let hit = finders
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.find(&buf[from..]).map(|p| (from + p, i)))
                .min();
            let Some((pos, needle)) = hit else {
                from = buf.len().saturating_sub(longest - 1).max(from);
                break;
            };
            if pos + after > buf.len() && !eof {
                from = pos; // wait for the rest of the window
                break;
            }
            let end = (pos + after).min(buf.len());
            if on_hit(Hit {
                needle,
                offset: base + pos as u64,
                window: &buf[pos..end],
            }) {
                return Ok(true);
            }
            from = pos + 1;
        }
        if eof {
            return Ok(false);
        }
        // Drop what no future match can start in.
        buf.drain(..from);
        base += from as u64;
        from = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_needles_across_chunk_boundaries_with_their_windows() {
        let mut data = vec![0u8; CHUNK - 3];
        data.extend_from_slice(b"BusyBox v1.35.0 (x)");
        data.extend(vec![0u8; CHUNK]);
        data.extend_from_slice(b"go1.19.8\0");
        let mut hits = Vec::new();
        let done = scan(data.as_slice(), &[b"BusyBox v", b"go1."], 12, |h| {
            hits.push((h.needle, h.offset, h.window.to_vec()));
            false
        })
        .expect("scan");
        assert!(!done);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].1, (CHUNK - 3) as u64);
        assert_eq!(hits[0].2, b"BusyBox v1.3");
        assert_eq!(hits[1].0, 1);
        assert_eq!(
            hits[1].2, b"go1.19.8\0",
            "window shortened at the end of file"
        );
    }
}
