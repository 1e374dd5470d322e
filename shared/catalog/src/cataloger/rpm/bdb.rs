//! The values of a Berkeley DB hash database, the `Packages` file of rpm before 4.16
//! (RHEL/CentOS ≤ 8, older SUSE and Amazon Linux). Layout from Berkeley DB's
//! `dbinc/db_page.h`:
//!
//! - page 0 is the hash meta page: `magic` u32 at 12 (`0x061561`), `pagesize` u32 at 20,
//!   `encrypt_alg` u8 at 24, `last_pgno` u32 at 32; all integers in the byte order of the
//!   machine that wrote the file (the magic tells which);
//! - every page starts with a 26-byte header: `pgno` u32 at 8, `next_pgno` u32 at 16,
//!   `entries` u16 at 20, `hf_offset` u16 at 22, `type` u8 at 25;
//! - hash pages (type 2 `P_HASH_UNSORTED` or 13 `P_HASH`) hold `entries` items, keys
//!   and values alternating, located by a u16 offset array after the header; an item is
//!   a type byte then `H_KEYDATA` (1) bytes up to the previous item, or `H_OFFPAGE` (3)
//!   `{3 unused bytes, pgno u32, tlen u32}` pointing at a chain of overflow pages;
//! - overflow pages (type 7) carry `hf_offset` bytes of data after the header and link
//!   to the next page with `next_pgno`.
//!
//! rpm keys the headers by instance number; key 0 holds a 4-byte counter, not a header.

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

struct Reader<'a> {
    bytes: &'a [u8],
    swap: bool,
    page_size: usize,
}

impl Reader<'_> {
    fn u32(&self, b: &[u8], at: usize) -> Option<u32> {
        let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if self.swap {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    }

    fn u16(&self, b: &[u8], at: usize) -> Option<usize> {
        let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(usize::from(if self.swap {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        }))
    }

    fn page(&self, no: u32) -> Option<&[u8]> {
        let start = (no as usize).checked_mul(self.page_size)?;
        self.bytes.get(start..start + self.page_size)
    }

    /// The `tlen` bytes of an overflow chain starting at page `no`.
    fn overflow(&self, mut no: u32, tlen: usize) -> Result<Vec<u8>, String> {
        if tlen > self.bytes.len() {
            return Err(format!(
                "overflow item of {tlen} bytes is larger than the file"
            ));
        }
        let mut out = Vec::with_capacity(tlen);
        let mut hops = 0;
        while out.len() < tlen {
            hops += 1;
            let page = self
                .page(no)
                .filter(|_| no != 0 && hops <= self.bytes.len() / self.page_size)
                .ok_or_else(|| format!("overflow chain broken at page {no}"))?;
            if page[25] != P_OVERFLOW {
                return Err(format!("page {no} is not an overflow page"));
            }
            let len = self.u16(page, 22).unwrap_or(0);
            let data = page
                .get(PAGE_HEADER..PAGE_HEADER + len)
                .ok_or_else(|| format!("overflow page {no} claims {len} bytes"))?;
            out.extend_from_slice(data);
            no = self.u32(page, 16).unwrap_or(0);
        }
        out.truncate(tlen);
        Ok(out)
    }
}

/// Every value of the hash database, in page order. Values that cannot be read become
/// errors in the returned list; the rest are still returned.
pub(super) fn values(bytes: &[u8]) -> Result<Vec<Result<Vec<u8>, String>>, String> {
    let magic_le = bytes
        .get(12..16)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    let swap = match magic_le {
        Some(HASH_MAGIC) => false,
        Some(m) if m.swap_bytes() == HASH_MAGIC => true,
        _ => return Err("not a Berkeley DB hash database".into()),
    };
    let mut r = Reader {
        bytes,
        swap,
        page_size: 0,
    };
    let page_size = r.u32(bytes, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("invalid page size {page_size}"));
    }
    if bytes.get(24).copied().unwrap_or(0) != 0 {
        return Err("encrypted Berkeley DB database".into());
    }
    r.page_size = page_size;
    let last = r.u32(bytes, 32).unwrap_or(0);
    let mut out = Vec::new();
    for no in 1..=last {
        let Some(page) = r.page(no) else {
            out.push(Err(format!("page {no} is past the end of the file")));
            break;
        };
        if !matches!(page[25], P_HASH | P_HASH_UNSORTED) {
            continue;
        }
        let entries = r.u16(page, 20).unwrap_or(0);
        let offsets: Vec<usize> = (0..entries)
            .filter_map(|i| r.u16(page, PAGE_HEADER + 2 * i))
            .collect();
        // Values are the odd items; an item ends where the previous one starts.
        for i in (1..offsets.len()).step_by(2) {
            let at = offsets[i];
            let end = offsets[i - 1];
            let Some(&kind) = page.get(at) else {
                out.push(Err(format!("page {no}: item offset past the page")));
                continue;
            };
            match kind {
                H_OFFPAGE => {
                    let (Some(pgno), Some(tlen)) = (r.u32(page, at + 4), r.u32(page, at + 8))
                    else {
                        out.push(Err(format!("page {no}: truncated off-page item")));
                        continue;
                    };
                    out.push(r.overflow(pgno, tlen as usize));
                }
                H_KEYDATA => match page.get(at + 1..end) {
                    Some(v) => out.push(Ok(v.to_vec())),
                    None => out.push(Err(format!("page {no}: item bounds out of order"))),
                },
                _ => {}
            }
        }
    }
    Ok(out)
}
