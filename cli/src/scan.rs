//! `customs scan`: fetch (or read an archive), stage under a local directory and catalog
//! in this process, with no services — the same code the analyze function runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use customs_catalog::{Catalog, ImageMetadata};
use customs_image::{Platform, ScanOptions};

use crate::args::SbomFormat;
use crate::output::{Cell, Colour, Table, fields, print_json, print_serialized};
use crate::{Ctx, Error, Outcome};

pub(crate) struct ScanArgs {
    pub source: String,
    pub sbom: Option<SbomFormat>,
    pub work_dir: Option<PathBuf>,
    pub platform: Option<String>,
    pub insecure: bool,
}

/// `$XDG_CACHE_HOME/customs`, else `~/.cache/customs`.
fn default_work_dir() -> Option<PathBuf> {
    let nonempty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    nonempty("XDG_CACHE_HOME")
        .or_else(|| nonempty("HOME").map(|h| h.join(".cache")))
        .map(|c| c.join("customs"))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub(crate) async fn run(ctx: &Ctx, a: ScanArgs) -> Result<Outcome, Error> {
    let mut opts = ScanOptions {
        insecure: a.insecure,
        ..ScanOptions::default()
    };
    if let Some(p) = &a.platform {
        opts.platform = Platform::parse(p).ok_or_else(|| {
            Error::Usage(format!(
                "platform {p:?} is not os/arch[/variant], e.g. linux/arm64/v8"
            ))
        })?;
    }
    // The staging cache (layers staged once are reused), else a private temporary one.
    let temp;
    let work_dir = match a.work_dir.clone().or_else(default_work_dir) {
        Some(d) => d,
        None => {
            temp = tempfile::Builder::new()
                .prefix("customs-scan-")
                .tempdir()
                .map_err(|e| Error::io("temporary directory", e))?;
            temp.path().to_owned()
        }
    };
    let start = Instant::now();
    let scanned = customs_image::scan(&a.source, &work_dir, &opts)
        .await
        .map_err(|e| Error::Scan(e.to_string()))?;
    let staged_in = start.elapsed();
    let (catalog, scanned) =
        tokio::task::spawn_blocking(move || (customs_catalog::catalog(&scanned), scanned))
            .await
            .map_err(|e| Error::Scan(format!("cataloguing crashed: {e}")))?;
    let total = start.elapsed();
    let digest = scanned.digest().to_owned();

    if let Some(format) = a.sbom {
        let meta = ImageMetadata {
            digest: digest.clone(),
            name: a.source.clone(),
            created: now_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let doc = match format {
            SbomFormat::Cyclonedx => customs_catalog::cyclonedx_json(&catalog, &meta),
            SbomFormat::Spdx => customs_catalog::spdx_json(&catalog, &meta),
        }
        .map_err(|e| Error::Scan(format!("SBOM export: {e}")))?;
        print_json(&doc);
        return Ok(Outcome::Ok);
    }
    let findings = scanned.findings();
    if ctx.style.json {
        // Written from typed values: an image with tens of thousands of packages would
        // otherwise be built as a `Value` tree first.
        let report = ScanReport {
            source: &a.source,
            image_digest: &digest,
            os: scanned.image.os.as_deref(),
            architecture: scanned.image.arch.as_deref(),
            layers: scanned.layers.len(),
            catalog: &catalog,
            findings: &findings,
            seconds: Seconds { staging: staged_in.as_secs_f64(), total: total.as_secs_f64() },
        };
        print_serialized(&report).map_err(|e| Error::Scan(format!("the report cannot be written: {e}")))?;
        return Ok(Outcome::Ok);
    }
    out!(
        "{}",
        summary(
            ctx,
            &a.source,
            &digest,
            &catalog,
            scanned.layers.len(),
            findings.len(),
            total.as_secs_f64()
        )
    );
    let mut t = Table::new(&["Package", "Version", "Type", "Location"]);
    for p in &catalog.packages {
        let loc = p
            .locations
            .first()
            .map(|l| l.path.clone())
            .unwrap_or_default();
        t.row(vec![
            p.name.as_str().into(),
            p.version.as_str().into(),
            p.kind.as_str().into(),
            loc.into(),
        ]);
    }
    if !t.is_empty() {
        outln!();
        out!("{}", t.render(&ctx.style));
    }
    if !catalog.unknowns.is_empty() {
        outln!();
        let mut u = Table::new(&["Unreadable", "Cataloger", "Reason"]);
        for x in &catalog.unknowns {
            u.row(vec![
                x.path.as_str().into(),
                x.cataloger.as_str().into(),
                Cell::coloured(x.reason.as_str(), Some(Colour::Yellow)),
            ]);
        }
        out!("{}", u.render(&ctx.style));
    }
    Ok(Outcome::Ok)
}

fn summary(
    ctx: &Ctx,
    source: &str,
    digest: &str,
    c: &Catalog,
    layers: usize,
    findings: usize,
    secs: f64,
) -> String {
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &c.packages {
        *by_type.entry(p.kind.as_str()).or_insert(0) += 1;
    }
    let counts = by_type
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let distro = c
        .distro
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), |d| d.namespace.clone());
    fields(
        &ctx.style,
        &[
            ("Source", source.into()),
            ("Image Digest", digest.into()),
            ("Distro", distro.into()),
            ("Layers", layers.to_string().into()),
            (
                "Packages",
                format!("{} ({counts})", c.packages.len()).into(),
            ),
            ("Unknowns", c.unknowns.len().to_string().into()),
            ("Findings", findings.to_string().into()),
            ("Scan Time", format!("{secs:.2}s").into()),
        ],
    )
}

/// What `customs scan --json` prints.
#[derive(serde::Serialize)]
struct ScanReport<'a> {
    source: &'a str,
    #[serde(rename = "imageDigest")]
    image_digest: &'a str,
    os: Option<&'a str>,
    architecture: Option<&'a str>,
    layers: usize,
    /// `distro`, `packages` and `unknowns`.
    #[serde(flatten)]
    catalog: &'a Catalog,
    findings: &'a [customs_model::fs::Finding],
    seconds: Seconds,
}

#[derive(serde::Serialize)]
struct Seconds {
    staging: f64,
    total: f64,
}
