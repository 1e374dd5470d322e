//! The header blobs of rpm's own NDB package file `Packages.db` (SUSE since 15 SP3;
//! rpm `lib/backend/ndb/rpmpkg.c`). Little-endian throughout:
//!
//! ```text
//! offset 0   header (32 bytes): 'RpmP', version 0, generation, slot pages, next pkgidx
//! offset 32  slots to the end of the slot pages (4096 bytes each), 16 bytes each:
//!            'Slot', pkgidx (0 = free), blkoff, blkcnt   (blkoff/blkcnt in 16-byte blocks)
//! blkoff*16  blob: 'BlbS', pkgidx, generation, bloblen, bloblen bytes of header,
//!            padding, then a tail (adler32, bloblen, 'BlbE') ending the last block
//! ```

const PAGE: usize = 4096;
const BLOCK: usize = 16;
const HEADER_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_MAGIC: &[u8; 4] = b"BlbS";

fn le(b: &[u8], at: usize) -> Option<usize> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(s) as usize)
}

/// Every header blob the slots point to, in slot order; a blob that cannot be read is an
/// error in the list.
pub(super) fn blobs(bytes: &[u8]) -> Result<Vec<Result<&[u8], String>>, String> {
    if bytes.get(..4) != Some(HEADER_MAGIC) {
        return Err("not an rpm NDB package database".into());
    }
    if le(bytes, 4) != Some(0) {
        return Err(format!("unsupported NDB version {:?}", le(bytes, 4)));
    }
    let slot_pages = le(bytes, 12).unwrap_or(0);
    let slot_end = slot_pages
        .checked_mul(PAGE)
        .filter(|&e| e > 0 && e <= bytes.len())
        .ok_or_else(|| format!("invalid slot page count {slot_pages}"))?;
    let mut out = Vec::new();
    for at in (32..slot_end).step_by(BLOCK) {
        let slot = &bytes[at..at + BLOCK];
        let pkgidx = le(slot, 4).unwrap_or(0);
        if &slot[..4] != SLOT_MAGIC || pkgidx == 0 {
            continue;
        }
        let (blkoff, blkcnt) = (le(slot, 8).unwrap_or(0), le(slot, 12).unwrap_or(0));
        let start = blkoff.saturating_mul(BLOCK);
        let blob = (|| {
            let area = bytes
                .get(start..start.checked_add(blkcnt.checked_mul(BLOCK)?)?)
                .filter(|a| a.len() >= BLOCK && start >= slot_end)?;
            if area.get(..4)? != BLOB_MAGIC || le(area, 4)? != pkgidx {
                return None;
            }
            let len = le(area, 12)?;
            area.get(BLOCK..BLOCK.checked_add(len)?)
        })();
        out.push(
            blob.ok_or_else(|| {
                format!("slot of package {pkgidx}: blob at block {blkoff} is invalid")
            }),
        );
    }
    Ok(out)
}
