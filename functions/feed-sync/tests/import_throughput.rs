//! Feed-import throughput, measurable in a release build without building the whole
//! stack: the same import as the e2e benchmark (`osv_import_throughput`) — a synthetic OSV
//! `all.zip` through `sync_feed`, the osv driver and the store's batched writes — in a
//! test binary that links only this function. Needs a PostgreSQL database it may fill
//! (migrated here; the osv feed is flushed first):
//!
//! ```sh
//! createdb customs_feedbench   # or any empty database
//! CUSTOMS_BENCH_DATABASE_URL=postgres://…/customs_feedbench CUSTOMS_BENCH_RECORDS=300000 \
//!   cargo test --release --workspace --test import_throughput -- --ignored --nocapture
//! ```
//!
//! `CUSTOMS_BENCH_ARCHIVE=…/all.zip` imports an existing archive instead (e.g. the one
//! `bench/gen_osv.py` writes); if there is none there yet, the synthetic one is written
//! there and kept for the next run (generating 300 000 records takes a while). Prints records/s, the seconds spent waiting on writes, the
//! import's own peak RSS, and the same for an unchanged re-sync (every record read and
//! hashed again, none written).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use customs_feed_sync::testing::synthetic_osv_archive;
use customs_feed_sync::{Fetcher, Sources, sync_feed};
use customs_store::{FeedCursor, Store};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A line of `/proc/self/status` (`VmHWM:`, `VmRSS:`), in KiB.
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Restarts the peak (`VmHWM`) at the current size (Linux `clear_refs` 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: needs CUSTOMS_BENCH_DATABASE_URL; run in a release build"]
async fn osv_archive_import_throughput() -> Result<()> {
    let Ok(url) = std::env::var("CUSTOMS_BENCH_DATABASE_URL") else {
        println!("CUSTOMS_BENCH_DATABASE_URL is not set: nothing measured");
        return Ok(());
    };
    let store = Store::connect(&url, 4)?;
    store.migrate().await?;
    store.flush_feed("osv").await?;
    let osv = customs_feeds::by_name("osv").ok_or("osv driver")?;
    let fetcher = Fetcher::new(Duration::from_secs(600), Duration::from_millis(50))?;

    let generated: Option<PathBuf>;
    let archive = match std::env::var("CUSTOMS_BENCH_ARCHIVE") {
        Ok(p) if Path::new(&p).exists() => {
            generated = None;
            PathBuf::from(p)
        }
        keep => {
            let n: usize = std::env::var("CUSTOMS_BENCH_RECORDS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(300_000);
            // A named archive that does not exist yet is generated there and kept.
            let p = keep.map(PathBuf::from).unwrap_or_else(|_| {
                std::env::temp_dir()
                    .join(format!("customs-import-bench-{}.zip", std::process::id()))
            });
            let t = Instant::now();
            synthetic_osv_archive(&p, n)?;
            println!(
                "generated {n} records ({:.1} MB zip) in {:.1}s",
                std::fs::metadata(&p)?.len() as f64 / 1e6,
                t.elapsed().as_secs_f64()
            );
            generated = std::env::var("CUSTOMS_BENCH_ARCHIVE").is_err().then(|| p.clone());
            p
        }
    };
    // The reading side alone (one thread, no database): what the sync's parser can
    // deliver at most.
    let t = Instant::now();
    let n = customs_feed_sync::testing::read_osv_archive(&archive)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "read only: {n} records in {secs:.2}s = {:.0} records/s ({:.1} µs/record)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
    let source = format!("file://{}", archive.display());
    let sources = Sources::new(BTreeMap::from([("osv".to_owned(), vec![source.clone()])]));
    for pass in ["import", "unchanged re-sync"] {
        let before = status_kib("VmRSS:");
        let reset = reset_peak();
        let t = Instant::now();
        let report = sync_feed(&store, &fetcher, &sources, osv, "bench", false).await?;
        let secs = t.elapsed().as_secs_f64();
        assert!(report.ok, "{:?}", report.errors);
        let s = &report.summary;
        println!(
            "{pass}: {} records ({} written) in {secs:.2}s = {:.0} records/s, {:.2}s waiting on writes; \
             RSS before {} MiB, peak{} {} MiB",
            s.records,
            s.records_written,
            f64::from(s.records) / secs,
            s.write_seconds,
            before / 1024,
            if reset { "" } else { " (of the process)" },
            status_kib("VmHWM:") / 1024
        );
        if pass != "import" {
            assert_eq!((s.records_written, s.records_removed), (0, 0), "{s:?}");
        }
        // Forget the validators so the next pass reads the archive again.
        store
            .save_feed_cursor("osv", &source, &FeedCursor::default())
            .await?;
    }
    if let Some(p) = generated {
        std::fs::remove_file(p)?;
    }
    Ok(())
}
