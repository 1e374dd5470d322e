//! `customs report <image> --html out.html`: one self-contained page (inline CSS, an
//! inline SVG chart, no scripts or external assets) with the verdict, the vulnerabilities
//! by severity, the packages by ecosystem, and the policy rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{segment, str_at};
use crate::evaluate::{Row, check_with_wait};
use crate::images::severity_rank;
use crate::output::text;
use crate::{Ctx, Error, Outcome};

/// The severities, most severe first, with their chart colours.
const SEVERITIES: [(&str, &str); 6] = [
    ("Critical", "#7b1fa2"),
    ("High", "#d32f2f"),
    ("Medium", "#f57c00"),
    ("Low", "#fbc02d"),
    ("Negligible", "#90a4ae"),
    ("Unknown", "#b0bec5"),
];

/// One vulnerability row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vuln {
    pub id: String,
    pub severity: String,
    pub package: String,
    pub fix: String,
    pub url: String,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub image: String,
    pub digest: String,
    pub distro: String,
    pub analyzed_at: String,
    /// pass or fail.
    pub verdict: String,
    pub policy_id: String,
    pub evaluated_at: String,
    pub vulns: Vec<Vuln>,
    /// Ecosystem → package count.
    pub packages: BTreeMap<String, usize>,
    pub rows: Vec<Row>,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Counts per severity, in [`SEVERITIES`] order (anything else counts as Unknown).
pub fn severity_counts(vulns: &[Vuln]) -> Vec<(&'static str, &'static str, usize)> {
    SEVERITIES
        .iter()
        .map(|(name, colour)| {
            let n = vulns
                .iter()
                .filter(|v| {
                    let known = SEVERITIES
                        .iter()
                        .any(|(s, _)| s.eq_ignore_ascii_case(&v.severity));
                    if known {
                        v.severity.eq_ignore_ascii_case(name)
                    } else {
                        *name == "Unknown"
                    }
                })
                .count();
            (*name, *colour, n)
        })
        .collect()
}

/// A horizontal bar chart as inline SVG.
fn bar_chart(title: &str, bars: &[(String, String, usize)]) -> String {
    let max = bars.iter().map(|b| b.2).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (110, 360, 28);
    let height = bars.len() * row_h + 10;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{height}" viewBox="0 0 {} {height}">"#,
        esc(title),
        label_w + bar_w + 60,
        label_w + bar_w + 60
    );
    for (i, (label, colour, n)) in bars.iter().enumerate() {
        let y = i * row_h + 5;
        let w = if *n == 0 { 0 } else { (n * bar_w / max).max(2) };
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="lbl">{}</text><rect x="{label_w}" y="{y}" width="{w}" height="{}" rx="3" fill="{}"><title>{}: {n}</title></rect><text x="{}" y="{}" class="num">{n}</text>"#,
            label_w - 8,
            y + 15,
            esc(label),
            row_h - 8,
            esc(colour),
            esc(label),
            label_w + w + 6,
            y + 15,
        );
    }
    svg.push_str("</svg>");
    svg
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1f2328}
header{background:#1f2937;color:#fff;padding:24px 40px;display:flex;align-items:center;gap:28px}
header h1{font-size:22px;margin:0 0 6px 0;word-break:break-all}
header .meta{font-size:13px;color:#cbd5e1;line-height:1.6;word-break:break-all}
.verdict{font-size:34px;font-weight:800;letter-spacing:2px;padding:18px 34px;border-radius:10px;color:#fff;min-width:120px;text-align:center}
.verdict.pass{background:#2e7d32}.verdict.fail{background:#c62828}
main{padding:24px 40px;display:grid;grid-template-columns:1fr 1fr;gap:24px}
section{background:#fff;border-radius:10px;padding:18px 22px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section.wide{grid-column:1 / span 2}
h2{font-size:16px;margin:0 0 12px 0;text-transform:uppercase;letter-spacing:1px;color:#475569}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{color:#64748b;font-weight:600}
.lbl{font-size:13px;fill:#334155}.num{font-size:13px;fill:#0f172a;font-weight:600}
.action{font-weight:700;text-transform:uppercase;font-size:12px;padding:2px 8px;border-radius:4px;color:#fff}
.action.stop{background:#c62828}.action.warn{background:#ef6c00}.action.go{background:#2e7d32}.action.whitelisted{background:#607d8b}
.sev{font-weight:600}
.muted{color:#64748b}
footer{padding:0 40px 24px;color:#94a3b8;font-size:12px}
";

/// The whole page.
pub fn render_html(d: &ReportData) -> String {
    let verdict = if d.verdict.eq_ignore_ascii_case("pass") {
        "pass"
    } else {
        "fail"
    };
    let sev_bars: Vec<(String, String, usize)> = severity_counts(&d.vulns)
        .into_iter()
        .map(|(n, c, k)| (n.to_owned(), c.to_owned(), k))
        .collect();
    let pkg_bars: Vec<(String, String, usize)> = d
        .packages
        .iter()
        .map(|(e, n)| (e.clone(), "#1976d2".to_owned(), *n))
        .collect();
    let total_pkgs: usize = d.packages.values().sum();
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>customs report: {image}</title><style>{CSS}</style></head><body>
<header><div id="verdict" class="verdict {verdict}">{verdict_up}</div><div><h1>{image}</h1><div class="meta">digest {digest}<br>distro {distro} · analysed {analyzed}<br>policy {policy} · evaluated {evaluated}</div></div></header>
<main>"#,
        image = esc(&d.image),
        verdict_up = verdict.to_ascii_uppercase(),
        digest = esc(&d.digest),
        distro = esc(if d.distro.is_empty() {
            "unknown"
        } else {
            &d.distro
        }),
        analyzed = esc(&d.analyzed_at),
        policy = esc(&d.policy_id),
        evaluated = esc(&d.evaluated_at),
    );
    let _ = write!(
        h,
        r#"<section id="severity"><h2>Vulnerabilities by severity ({})</h2>{}</section>"#,
        d.vulns.len(),
        bar_chart("vulnerabilities by severity", &sev_bars)
    );
    let _ = write!(
        h,
        r#"<section id="packages"><h2>Packages by ecosystem ({total_pkgs})</h2>{}</section>"#,
        if pkg_bars.is_empty() {
            r#"<p class="muted">No packages found.</p>"#.to_owned()
        } else {
            bar_chart("packages by ecosystem", &pkg_bars)
        }
    );
    h.push_str(r#"<section id="policy" class="wide"><h2>Policy evaluation</h2>"#);
    if d.rows.is_empty() {
        h.push_str(r#"<p class="muted">No gate triggered.</p>"#);
    } else {
        h.push_str("<table><tr><th>Gate</th><th>Trigger</th><th>Detail</th><th>Action</th></tr>");
        for r in &d.rows {
            let action = if r.whitelisted {
                "whitelisted"
            } else {
                r.action.as_str()
            };
            let class = match action {
                "stop" | "warn" | "go" | "whitelisted" => action,
                _ => "",
            };
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td><span class="action {class}">{}</span></td></tr>"#,
                esc(&r.gate),
                esc(&r.trigger),
                esc(&r.output),
                esc(action)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
    h.push_str(r#"<section id="vulnerabilities" class="wide"><h2>Vulnerabilities</h2>"#);
    if d.vulns.is_empty() {
        h.push_str(r#"<p class="muted">No vulnerabilities found.</p>"#);
    } else {
        h.push_str("<table><tr><th>ID</th><th>Severity</th><th>Package</th><th>Fix</th></tr>");
        let mut vulns: Vec<&Vuln> = d.vulns.iter().collect();
        vulns.sort_by(|a, b| {
            severity_rank(&b.severity)
                .cmp(&severity_rank(&a.severity))
                .then(a.id.cmp(&b.id))
        });
        for v in vulns {
            let colour = SEVERITIES
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(&v.severity))
                .map_or("#b0bec5", |(_, c)| c);
            let id = if v.url.starts_with("https://") || v.url.starts_with("http://") {
                format!(r#"<a href="{}">{}</a>"#, esc(&v.url), esc(&v.id))
            } else {
                esc(&v.id)
            };
            let _ = write!(
                h,
                r#"<tr><td>{id}</td><td class="sev" style="color:{colour}">{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&v.severity),
                esc(&v.package),
                esc(&v.fix)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section></main>");
    let _ = writeln!(
        h,
        "<footer>Generated by customs {}.</footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    h
}

/// Gathers the report's data from the API.
async fn gather(
    ctx: &Ctx,
    image: &str,
    tag: Option<String>,
    timeout: u64,
) -> Result<ReportData, Error> {
    let rec = ctx.client.image(image).await?;
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let tag = tag.or_else(|| {
        (!crate::client::is_digest(image) && !image.contains('@')).then(|| image.to_owned())
    });
    let check = check_with_wait(ctx, &rec, tag, None, true, deadline, timeout, &mut |_| {}).await?;
    let seg = segment(&check.digest);
    let vuln = ctx
        .client
        .get(&format!("/images/{seg}/vuln/all"), &[])
        .await?;
    let vulns = vuln
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| Vuln {
            id: str_at(v, "vuln").into(),
            severity: str_at(v, "severity").into(),
            package: str_at(v, "package").into(),
            fix: str_at(v, "fix").into(),
            url: str_at(v, "url").into(),
        })
        .collect();
    let mut packages = BTreeMap::new();
    let types = ctx
        .client
        .get(&format!("/images/{seg}/content"), &[])
        .await?;
    for ty in types
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if matches!(
            ty,
            "files"
                | "malware"
                | "secret_search"
                | "content_search"
                | "retrieved_files"
                | "manifest"
                | "dockerfile"
                | "docker_history"
        ) {
            continue;
        }
        let c = ctx
            .client
            .get(&format!("/images/{seg}/content/{}", segment(ty)), &[])
            .await?;
        for p in c
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // OS packages by their package type (dpkg, apkg, rpm); the rest by content type.
            let eco = if ty == "os" {
                str_at(p, "type").to_ascii_lowercase()
            } else {
                ty.to_owned()
            };
            *packages
                .entry(if eco.is_empty() { ty.to_owned() } else { eco })
                .or_insert(0) += 1;
        }
    }
    let meta = rec
        .pointer("/image_content/metadata")
        .cloned()
        .unwrap_or(Value::Null);
    let distro = format!(
        "{} {}",
        text(meta.get("distro").unwrap_or(&Value::Null)),
        text(meta.get("distro_version").unwrap_or(&Value::Null))
    )
    .trim()
    .to_owned();
    Ok(ReportData {
        image: check.tag.clone(),
        digest: check.digest.clone(),
        distro,
        analyzed_at: str_at(&rec, "analyzed_at").to_owned(),
        verdict: check.status.clone(),
        policy_id: check.policy_id.clone(),
        evaluated_at: check.last_evaluation.clone(),
        vulns,
        packages,
        rows: check.rows,
    })
}

pub(crate) async fn run(
    ctx: &Ctx,
    image: &str,
    html: &Path,
    tag: Option<String>,
    timeout: u64,
) -> Result<Outcome, Error> {
    let d = gather(ctx, image, tag, timeout).await?;
    std::fs::write(html, render_html(&d)).map_err(|e| Error::io(html.display(), e))?;
    let pkgs: usize = d.packages.values().sum();
    if ctx.style.json {
        crate::output::print_json(&serde_json::json!({
            "file": html.display().to_string(), "image": d.image, "digest": d.digest, "status": d.verdict,
            "policyId": d.policy_id, "vulnerabilities": d.vulns.len(), "packages": pkgs,
        }));
    } else {
        outln!(
            "Wrote {}: {} is {} ({} vulnerabilities, {pkgs} packages, {} policy rows)",
            html.display(),
            d.image,
            d.verdict,
            d.vulns.len(),
            d.rows.len()
        );
    }
    Ok(Outcome::from_verdict(&d.verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ReportData {
        ReportData {
            image: "127.0.0.1:5000/x/y:1".into(),
            digest: "sha256:abc".into(),
            distro: "debian 12".into(),
            analyzed_at: "2026-01-01T00:00:00Z".into(),
            verdict: "fail".into(),
            policy_id: "p".into(),
            evaluated_at: "2026-01-01T00:00:01Z".into(),
            vulns: vec![
                Vuln {
                    id: "CVE-1".into(),
                    severity: "High".into(),
                    package: "a-1".into(),
                    fix: "2".into(),
                    url: "https://x/CVE-1".into(),
                },
                Vuln {
                    id: "CVE-2".into(),
                    severity: "High".into(),
                    package: "b-1".into(),
                    fix: "None".into(),
                    url: "None".into(),
                },
                Vuln {
                    id: "CVE-3".into(),
                    severity: "weird".into(),
                    package: "<script>".into(),
                    fix: "None".into(),
                    url: "".into(),
                },
            ],
            packages: BTreeMap::from([("dpkg".into(), 90), ("python".into(), 3)]),
            rows: vec![Row {
                gate: "vulnerabilities".into(),
                trigger: "package".into(),
                output: "High vuln <b>".into(),
                action: "stop".into(),
                whitelisted: false,
            }],
        }
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let h = render_html(&data());
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(h.contains(r#"<div id="verdict" class="verdict fail">FAIL</div>"#));
        assert!(
            h.contains("<svg")
                && h.contains("Vulnerabilities by severity (3)")
                && h.contains("Packages by ecosystem (93)")
        );
        assert!(
            h.contains("&lt;script&gt;") && !h.contains("<script"),
            "no script, input escaped"
        );
        assert!(h.contains("High vuln &lt;b&gt;"));
        for external in ["<link", "src=", "@import", "url("] {
            assert!(!h.contains(external), "external asset: {external}");
        }
    }

    #[test]
    fn severities_are_counted_in_order() {
        let c = severity_counts(&data().vulns);
        assert_eq!(
            c.iter().map(|(n, _, k)| (*n, *k)).collect::<Vec<_>>(),
            [
                ("Critical", 0),
                ("High", 2),
                ("Medium", 0),
                ("Low", 0),
                ("Negligible", 0),
                ("Unknown", 1)
            ]
        );
    }
}
