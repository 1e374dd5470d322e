//! Smoke benchmark of the catalog path (seconds, runs in `cargo test --workspace`, so in CI's
//! `make test`, in whatever profile the tests are built). Never compares absolute times: the
//! indexing and cataloguing of the debian-app test image are each divided by a fixed reference
//! workload of the same kind (indexing: SHA-256 over 256 MiB, as indexing hashes every file;
//! cataloguing: parsing package records in plain Rust, as cataloguing parses package databases;
//! same profile, same process, measured around them), and the test fails when a ratio exceeds twice the committed baseline `bench/smoke-baseline.json`
//! for the profile. Each time is the minimum of several interleaved repetitions, which is
//! what resists a busy machine best.
//!
//! The image is `tests/images/build.sh`'s (`$CUSTOMS_STATE/images/oci/debian-app`, as for the
//! end-to-end tests). `BENCH_SMOKE_UPDATE=1` rewrites the baseline of the current profile.

use std::path::PathBuf;
use std::time::Duration;

use customs_bench::{LocalImage, reference_parse_workload, reference_workload, timed};
use serde_json::{Value, json};

const REFERENCE_MIB: usize = 256;
const REFERENCE_STANZAS: usize = 20_000;
const REPEATS: usize = 3;
/// A ratio above this multiple of the baseline fails the test.
const TOLERANCE: f64 = 2.0;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn layout() -> PathBuf {
    let state = std::env::var_os("CUSTOMS_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".local"));
    state.join("images/oci/debian-app")
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

fn min(xs: &[Duration]) -> f64 {
    xs.iter().min().copied().unwrap_or_default().as_secs_f64()
}

#[test]
fn catalog_path_has_not_regressed_against_the_reference_workload() {
    let layout = layout();
    assert!(
        layout.join("index.json").exists(),
        "no test image at {}: build it with tests/images/build.sh (make test does)",
        layout.display()
    );
    let mut reference = vec![reference_workload(REFERENCE_MIB)];
    let (image, index_time) = timed(|| LocalImage::index(&layout));
    let image = image.unwrap_or_else(|e| panic!("indexing {}: {e}", layout.display()));
    reference.push(reference_workload(REFERENCE_MIB));
    let mut parse_reference = vec![reference_parse_workload(REFERENCE_STANZAS)];
    let mut catalog_times = Vec::new();
    let mut packages = 0;
    for _ in 0..REPEATS {
        let (catalog, t) = timed(|| customs_catalog::catalog(&image));
        packages = catalog.packages.len();
        catalog_times.push(t);
        parse_reference.push(reference_parse_workload(REFERENCE_STANZAS));
    }
    assert!(
        packages > 100,
        "the debian-app image has well over 100 packages, got {packages}"
    );

    let (r, pr) = (min(&reference), min(&parse_reference));
    let measured = json!({
        "index_ratio": index_time.as_secs_f64() / r,
        "catalog_ratio": min(&catalog_times) / pr,
    });
    eprintln!(
        "smoke ({}): references {:.3} s ({REFERENCE_MIB} MiB SHA-256) and {:.3} s ({REFERENCE_STANZAS} records parsed), index {:.3} s ({} MB), catalog {:.3} s ({packages} packages): {measured}",
        profile(),
        r,
        pr,
        index_time.as_secs_f64(),
        image.uncompressed_bytes() / 1_000_000,
        min(&catalog_times),
    );

    let path = repo().join("bench/smoke-baseline.json");
    let mut baseline: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    if std::env::var_os("BENCH_SMOKE_UPDATE").is_some() {
        baseline[profile()] = measured;
        let text = serde_json::to_string_pretty(&baseline).expect("JSON") + "\n";
        std::fs::write(&path, text).expect("write the baseline");
        return;
    }
    let base = &baseline[profile()];
    assert!(
        base.is_object(),
        "{} has no {} baseline; write it with BENCH_SMOKE_UPDATE=1",
        path.display(),
        profile()
    );
    for key in ["index_ratio", "catalog_ratio"] {
        let (now, then) = (
            measured[key].as_f64().unwrap_or(0.0),
            base[key].as_f64().unwrap_or(0.0),
        );
        assert!(then > 0.0, "baseline {key} is missing");
        assert!(
            now <= then * TOLERANCE,
            "{key} regressed: {now:.3} now vs {then:.3} in {} (limit {TOLERANCE}x)",
            path.display()
        );
    }
}
