//! Test support shared by this crate's benchmark and the end-to-end tests: a synthetic
//! OSV `all.zip` (no I/O beyond writing the file it is asked for), and the sync's reading
//! side alone (no database), to measure what parsing costs apart from writing.

use std::io::Write;
use std::path::Path;

/// Writes `n` PyPI records shaped like osv.dev's, one zip entry each (`SYN-0000000.json`
/// …), to `path`: 50 000 distinct packages, a CVSS vector, one ECOSYSTEM range and a
/// `versions` list per record.
pub fn synthetic_osv_archive(path: &Path, n: usize) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..n {
        let pkg = i % 50_000;
        let record = serde_json::json!({
            "schema_version": "1.6.0",
            "id": format!("SYN-{i:07}"),
            "modified": "2024-05-01T12:00:00Z",
            "published": "2023-01-01T00:00:00Z",
            "aliases": [format!("CVE-2099-{i}")],
            "summary": format!("Synthetic advisory {i} for the import benchmark"),
            "details": "A synthetic record shaped like osv.dev's PyPI records.",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {
                    "ecosystem": "PyPI",
                    "name": format!("synthetic-pkg-{pkg}"),
                    "purl": format!("pkg:pypi/synthetic-pkg-{pkg}")
                },
                "ranges": [{
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": format!("1.{}.{}", i % 40, i % 7)}]
                }],
                "versions": ["0.1", "0.2", format!("1.{}.0", i % 40)],
                "database_specific": {"source": "synthetic"}
            }],
            "references": [{"type": "WEB", "url": format!("https://example.invalid/advisories/{i}")}],
            "database_specific": {"severity": "HIGH"}
        });
        z.start_file(format!("SYN-{i:07}.json"), opts)
            .map_err(std::io::Error::other)?;
        serde_json::to_writer(&mut z, &record)?;
    }
    z.finish().map_err(std::io::Error::other)?.flush()
}

/// Reads an OSV archive as a sync does (entries inflated, records normalised, hashed and
/// turned into rows), writing nothing; returns how many advisories it produced.
pub fn read_osv_archive(path: &Path) -> std::io::Result<usize> {
    let osv = customs_feeds::by_name("osv").ok_or_else(|| std::io::Error::other("no osv driver"))?;
    let mut rows = 0;
    crate::sync::read_archive(path, "file://bench", osv, &mut |o| {
        if let customs_feeds::Output::Advisory(a) = o {
            std::hint::black_box(crate::sync::advisory_row(a));
            rows += 1;
        }
    })
    .map_err(std::io::Error::other)?;
    Ok(rows)
}
