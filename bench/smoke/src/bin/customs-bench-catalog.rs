//! `customs-bench-catalog LAYOUT OUT.json`: the catalog path on a local OCI image layout
//! (index every layer as the analyze function does, one layer per core at a time,
//! squash, catalog) with the catalog
//! written as JSON. The benchmark's stand-in for a standalone `customs scan`; prints the
//! time of each phase to stderr.

use std::path::Path;
use std::process::ExitCode;

use customs_bench::{LocalImage, timed};
use customs_model::fs::FileSource;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, layout, out] = args.as_slice() else {
        eprintln!("usage: customs-bench-catalog OCI_LAYOUT_DIR OUT.json");
        return ExitCode::from(2);
    };
    // Layers are indexed at once, as many as there are cores, as analyze stages them.
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let (image, t_index) = timed(|| LocalImage::index_with(Path::new(layout), workers));
    let image = match image {
        Ok(i) => i,
        Err(e) => {
            eprintln!("customs-bench-catalog: {layout}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (catalog, t_catalog) = timed(|| customs_catalog::catalog(&image));
    // Streamed to the file, as `customs scan` writes its report (never whole in memory).
    let (written, t_write) = timed(|| -> Result<(), String> {
        use std::io::Write as _;
        let mut w = std::io::BufWriter::new(std::fs::File::create(out).map_err(|e| e.to_string())?);
        serde_json::to_writer(&mut w, &catalog).map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())
    });
    if let Err(e) = written {
        eprintln!("customs-bench-catalog: {out}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "index {:.3} s ({} layers, {} entries; squash {:.3} s of it), catalog {:.3} s ({} packages), write {:.3} s",
        t_index.as_secs_f64(),
        image.layers.len(),
        image.view().entries.len(),
        image.squash_time.as_secs_f64(),
        t_catalog.as_secs_f64(),
        catalog.packages.len(),
        t_write.as_secs_f64()
    );
    ExitCode::SUCCESS
}
