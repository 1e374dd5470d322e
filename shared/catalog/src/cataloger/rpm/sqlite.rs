//! Just enough of the SQLite file format (<https://www.sqlite.org/fileformat2.html>) to
//! read every row of one table: the 100-byte database header, table b-tree pages
//! (interior `0x05`, leaf `0x0d`), records, and overflow page chains. Read-only, over the
//! bytes of the main database file (rpm checkpoints its write-ahead log when it closes,
//! so image builds leave an empty `-wal`).
//!
//! Chosen over `rusqlite` (which compiles the SQLite C library into every function and
//! needs a temporary file, since the staged view hands out bytes): rpm's `Packages` table
//! is `(hnum INTEGER PRIMARY KEY, blob BLOB)`, so a table scan is all the cataloger needs.

const MAGIC: &[u8] = b"SQLite format 3\0";
const INTERIOR_TABLE: u8 = 0x05;
const LEAF_TABLE: u8 = 0x0d;

/// A column value of a record.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value<'a> {
    Null,
    Int(i64),
    Float,
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

pub(super) struct Db<'a> {
    bytes: &'a [u8],
    page_size: usize,
    usable: usize,
    pages: usize,
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(*pos)?;
        *pos += 1;
        if i == 8 {
            return Some((v << 8) | u64::from(byte));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    Some(v)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0, |acc, x| (acc << 8) | u64::from(*x))
}

impl<'a> Db<'a> {
    pub(super) fn open(bytes: &'a [u8]) -> Result<Self, String> {
        if bytes.len() < 100 || &bytes[..16] != MAGIC {
            return Err("not an SQLite 3 database".into());
        }
        let page_size = match be(&bytes[16..18]) {
            1 => 65536,
            n if n >= 512 && n.is_power_of_two() => n as usize,
            n => return Err(format!("invalid page size {n}")),
        };
        let usable = page_size - usize::from(bytes[20]);
        if usable < 480 {
            return Err("invalid reserved space".into());
        }
        Ok(Self {
            bytes,
            page_size,
            usable,
            pages: bytes.len() / page_size,
        })
    }

    fn page(&self, no: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(no).map_err(|_| "page number out of range".to_owned())?;
        if n == 0 || n > self.pages {
            return Err(format!("page {n} outside the file ({} pages)", self.pages));
        }
        Ok(&self.bytes[(n - 1) * self.page_size..n * self.page_size])
    }

    /// The root page of table `name`, from the schema table on page 1.
    pub(super) fn table_root(&self, name: &str) -> Result<u64, String> {
        let mut root = None;
        self.scan(1, &mut |rec| {
            if let [
                Value::Text(b"table"),
                Value::Text(n),
                _,
                Value::Int(page),
                ..,
            ] = rec.as_slice()
                && n.eq_ignore_ascii_case(name.as_bytes())
            {
                root = u64::try_from(*page).ok();
            }
        })?;
        root.ok_or_else(|| format!("no table {name:?}"))
    }

    /// Calls `row(rowid, values)` for every row of the table rooted at `root`. A
    /// corrupt page stops the scan with an error after the rows read so far.
    pub(super) fn rows(
        &self,
        root: u64,
        row: &mut dyn FnMut(i64, Vec<Value<'_>>),
    ) -> Result<(), String> {
        self.walk(root, &mut |rowid, payload| {
            row(rowid, record(payload));
        })
    }

    fn scan(&self, root: u64, f: &mut dyn FnMut(Vec<Value<'_>>)) -> Result<(), String> {
        self.walk(root, &mut |_, payload| f(record(payload)))
    }

    /// Depth-first over a table b-tree, calling `f` with each cell's rowid and full
    /// payload (overflow chains joined).
    fn walk(&self, root: u64, f: &mut dyn FnMut(i64, &[u8])) -> Result<(), String> {
        let mut stack = vec![root];
        let mut visited = std::collections::HashSet::new();
        while let Some(no) = stack.pop() {
            if !visited.insert(no) {
                return Err(format!("page {no} is reachable twice (corrupt b-tree)"));
            }
            let page = self.page(no)?;
            let hdr = if no == 1 { 100 } else { 0 };
            let kind = *page.get(hdr).ok_or("empty page")?;
            let cells = be(&page[hdr + 3..hdr + 5]) as usize;
            let header_len = match kind {
                INTERIOR_TABLE => 12,
                LEAF_TABLE => 8,
                k => {
                    return Err(format!(
                        "page {no}: type {k:#04x} is not a table b-tree page"
                    ));
                }
            };
            let ptrs = page
                .get(hdr + header_len..hdr + header_len + 2 * cells)
                .ok_or_else(|| format!("page {no}: cell pointers past the page"))?;
            let mut children = Vec::new();
            for p in ptrs.chunks_exact(2) {
                let mut at = be(p) as usize;
                if at >= page.len() {
                    return Err(format!("page {no}: cell offset past the page"));
                }
                if kind == INTERIOR_TABLE {
                    let child = page.get(at..at + 4).ok_or("cell past the page")?;
                    children.push(be(child));
                } else {
                    let size = varint(page, &mut at).ok_or("truncated cell")?;
                    let rowid = varint(page, &mut at).ok_or("truncated cell")? as i64;
                    let payload = self.payload(page, at, size)?;
                    f(rowid, &payload);
                }
            }
            if kind == INTERIOR_TABLE {
                children.push(be(&page[hdr + 8..hdr + 12]));
            }
            // Visit children left to right.
            stack.extend(children.into_iter().rev());
        }
        Ok(())
    }

    /// A leaf cell's payload of `size` bytes starting at `at`, following its overflow
    /// chain when it does not fit the page (fileformat2 §1.6, "Cell Payload Overflow").
    fn payload(&self, page: &[u8], at: usize, size: u64) -> Result<Vec<u8>, String> {
        let size = usize::try_from(size).map_err(|_| "payload too large")?;
        if size > self.bytes.len() {
            return Err(format!("payload of {size} bytes is larger than the file"));
        }
        let u = self.usable;
        let x = u - 35;
        let local = if size <= x {
            size
        } else {
            let m = ((u - 12) * 32 / 255) - 23;
            let k = m + (size - m) % (u - 4);
            if k <= x { k } else { m }
        };
        let mut out = page
            .get(at..at + local)
            .ok_or("cell payload past the page")?
            .to_vec();
        if local < size {
            let mut next = be(page
                .get(at + local..at + local + 4)
                .ok_or("overflow pointer past the page")?);
            let mut hops = 0usize;
            while out.len() < size {
                hops += 1;
                if next == 0 || hops > self.pages {
                    return Err("overflow chain ends early".into());
                }
                let ov = self.page(next)?;
                next = be(&ov[..4]);
                let take = (size - out.len()).min(u - 4);
                out.extend_from_slice(&ov[4..4 + take]);
            }
        }
        Ok(out)
    }
}

/// The values of a record (fileformat2 §2.1, "Record Format"); values past the end of
/// a truncated record are left out.
fn record(p: &[u8]) -> Vec<Value<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let Some(hlen) = varint(p, &mut pos) else {
        return out;
    };
    let hlen = usize::try_from(hlen).unwrap_or(usize::MAX).min(p.len());
    let mut body = hlen;
    while pos < hlen {
        let Some(t) = varint(p, &mut pos) else {
            break;
        };
        let len = match t {
            0 | 8 | 9 | 10 | 11 => 0,
            1 => 1,
            2 => 2,
            3 => 3,
            4 => 4,
            5 => 6,
            6 | 7 => 8,
            n => ((n - 12) / 2) as usize,
        };
        let Some(v) = p.get(body..body.saturating_add(len)) else {
            break;
        };
        body += len;
        out.push(match t {
            0 | 10 | 11 => Value::Null,
            8 => Value::Int(0),
            9 => Value::Int(1),
            1..=6 => {
                // Sign-extend the big-endian two's complement integer.
                let shift = 64 - 8 * len as u32;
                Value::Int(((be(v) << shift) as i64) >> shift)
            }
            7 => Value::Float,
            n if n % 2 == 0 => Value::Blob(v),
            _ => Value::Text(v),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_records() {
        let mut pos = 0;
        assert_eq!(varint(&[0x81, 0x00], &mut pos), Some(128));
        // header: len 4, types NULL, int8, text(2)
        let rec = [4u8, 0, 1, 17, 0xff, b'h', b'i'];
        assert_eq!(
            record(&rec),
            [Value::Null, Value::Int(-1), Value::Text(b"hi")]
        );
        assert!(Db::open(b"not a database").is_err());
    }
}
