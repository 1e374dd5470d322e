//! rpm header blobs as rpm stores them in its database (rpm `lib/header.c`,
//! `headerImport`): no lead and no magic, just
//!
//! ```text
//! il: u32 BE    number of index entries
//! dl: u32 BE    size of the data store
//! il × { tag: i32 BE, type: u32 BE, offset: i32 BE, count: u32 BE }
//! dl bytes of data: strings NUL-terminated, integers big-endian
//! ```
//!
//! Tag numbers from rpm `include/rpm/rpmtag.h`.

/// Header tags this cataloger reads.
pub(super) mod tag {
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const SIZE: u32 = 1009;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const URL: u32 = 1020;
    pub const ARCH: u32 = 1022;
    pub const OLDFILENAMES: u32 = 1027;
    pub const FILEDIGESTS: u32 = 1035;
    pub const SOURCERPM: u32 = 1044;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const FILEDIGESTALGO: u32 = 5011;
    pub const MODULARITYLABEL: u32 = 5096;
}

const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm refuses headers with more entries or data than this (`HEADER_TAGS_MAX`,
/// `HEADER_DATA_MAX`).
const MAX_ENTRIES: usize = 0xffff;
const MAX_DATA: usize = 256 << 20;

/// A parsed header: its index entries over the data store.
pub(super) struct Header<'a> {
    entries: Vec<Entry>,
    data: &'a [u8],
}

#[derive(Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: usize,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Header<'a> {
    pub(super) fn parse(blob: &'a [u8]) -> Result<Self, String> {
        let il = be32(blob, 0).ok_or("header shorter than 8 bytes")? as usize;
        let dl = be32(blob, 4).ok_or("header shorter than 8 bytes")? as usize;
        if il == 0 || il > MAX_ENTRIES || dl > MAX_DATA {
            return Err(format!("implausible header: {il} entries, {dl} data bytes"));
        }
        let data_start = 8 + il * 16;
        let data = blob.get(data_start..data_start + dl).ok_or_else(|| {
            format!(
                "header truncated: {} of {} bytes",
                blob.len(),
                data_start + dl
            )
        })?;
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let at = 8 + i * 16;
            let (Some(tag), Some(kind), Some(offset), Some(count)) = (
                be32(blob, at),
                be32(blob, at + 4),
                be32(blob, at + 8),
                be32(blob, at + 12),
            ) else {
                return Err("header index truncated".into());
            };
            entries.push(Entry {
                tag,
                kind,
                offset: offset as usize,
                count: count as usize,
            });
        }
        Ok(Self { entries, data })
    }

    fn entry(&self, tag: u32) -> Option<Entry> {
        self.entries.iter().find(|e| e.tag == tag).copied()
    }

    /// `count` NUL-terminated strings starting at the entry's offset.
    fn strings_at(&self, e: Entry) -> Vec<&'a str> {
        let mut out = Vec::with_capacity(e.count.min(1 << 16));
        let mut pos = e.offset;
        for _ in 0..e.count {
            let Some(rest) = self.data.get(pos..) else {
                break;
            };
            let Some(end) = memchr::memchr(0, rest) else {
                break;
            };
            out.push(std::str::from_utf8(&rest[..end]).unwrap_or(""));
            pos += end + 1;
        }
        out
    }

    /// A string tag (the C-locale value of an i18n string); `""` when absent.
    pub(super) fn string(&self, tag: u32) -> &'a str {
        match self.entry(tag) {
            Some(e) if matches!(e.kind, TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY) => self
                .strings_at(Entry { count: 1, ..e })
                .first()
                .copied()
                .unwrap_or(""),
            _ => "",
        }
    }

    pub(super) fn strings(&self, tag: u32) -> Vec<&'a str> {
        match self.entry(tag) {
            Some(e) if matches!(e.kind, TYPE_STRING_ARRAY | TYPE_I18NSTRING) => self.strings_at(e),
            _ => Vec::new(),
        }
    }

    /// An integer array tag (int16 or int32), widened.
    pub(super) fn ints(&self, tag: u32) -> Vec<u32> {
        let Some(e) = self.entry(tag) else {
            return Vec::new();
        };
        let width = match e.kind {
            TYPE_INT16 => 2,
            TYPE_INT32 => 4,
            _ => return Vec::new(),
        };
        let Some(bytes) = e
            .count
            .checked_mul(width)
            .and_then(|n| self.data.get(e.offset..e.offset.checked_add(n)?))
        else {
            return Vec::new();
        };
        bytes
            .chunks_exact(width)
            .map(|c| match c {
                [a, b] => u32::from(u16::from_be_bytes([*a, *b])),
                [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
                _ => 0,
            })
            .collect()
    }

    pub(super) fn int(&self, tag: u32) -> Option<u32> {
        self.ints(tag).first().copied()
    }

    /// Absolute paths of the files the package owns: `dirnames[dirindexes[i]] +
    /// basenames[i]`, or the pre-4.0 `oldfilenames`.
    pub(super) fn files(&self) -> Vec<String> {
        let base = self.strings(tag::BASENAMES);
        if base.is_empty() {
            return self
                .strings(tag::OLDFILENAMES)
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        let dirs = self.strings(tag::DIRNAMES);
        let idx = self.ints(tag::DIRINDEXES);
        base.iter()
            .zip(idx)
            .map(|(b, i)| format!("{}{b}", dirs.get(i as usize).copied().unwrap_or("")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with NAME and a two-entry int16 array, built by hand.
    fn blob() -> Vec<u8> {
        let mut data = b"hello\0".to_vec();
        data.extend_from_slice(&[0, 7, 1, 0]);
        let mut b = Vec::new();
        b.extend_from_slice(&2u32.to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, kind, off, count) in [
            (tag::NAME, TYPE_STRING, 0u32, 1u32),
            (1030, TYPE_INT16, 6, 2),
        ] {
            for v in [tag, kind, off, count] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        b.extend_from_slice(&data);
        b
    }

    #[test]
    fn strings_and_ints_and_bad_headers() {
        let b = blob();
        let h = Header::parse(&b).expect("header");
        assert_eq!(h.string(tag::NAME), "hello");
        assert_eq!(h.ints(1030), [7, 256]);
        assert_eq!(h.string(tag::VERSION), "");
        assert!(Header::parse(&b[..b.len() - 1]).is_err(), "truncated data");
        assert!(
            Header::parse(&[0, 0, 0, 0, 0, 0, 0, 0]).is_err(),
            "no entries"
        );
        assert!(Header::parse(&[0xff; 8]).is_err(), "absurd sizes");
    }
}
