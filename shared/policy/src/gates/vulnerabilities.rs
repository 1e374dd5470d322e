//! `vulnerabilities`: matched vulnerabilities, feed freshness and a vulnerability deny list.
//! Beyond Anchore: `known_exploited` (CISA KEV) and EPSS thresholds on the `package` trigger.

use time::Duration;

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator, py_re};
use crate::facts::{Cvss, Severity, VulnerabilityMatch, is_os_package_type};
use crate::pyfmt::{py_float, py_list};

pub(crate) const GATE_NAME: &str = "vulnerabilities";
pub(crate) const PACKAGE: &str = "package";
pub(crate) const STALE_FEED_DATA: &str = "stale_feed_data";
pub(crate) const VULNERABILITY_DATA_UNAVAILABLE: &str = "vulnerability_data_unavailable";
pub(crate) const BLACKLIST: &str = "blacklist";

const CMP: &[&str] = &["=", "!=", "<", ">", "<=", ">="];
const SEVERITIES: &[&str] = &["unknown", "negligible", "low", "medium", "high", "critical"];

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef {
            name: PACKAGE,
            params: &[
                ParamDef::new("package_type", true, Validator::Enum(&["all", "os", "non-os"])),
                ParamDef::new("severity_comparison", false, Validator::Enum(CMP)),
                ParamDef::new("severity", false, Validator::Enum(SEVERITIES)),
                ParamDef::new("cvss_v3_base_score_comparison", false, Validator::Enum(CMP)),
                ParamDef::new("cvss_v3_base_score", false, Validator::FloatStr),
                ParamDef::new("cvss_v3_exploitability_score_comparison", false, Validator::Enum(CMP)),
                ParamDef::new("cvss_v3_exploitability_score", false, Validator::FloatStr),
                ParamDef::new("cvss_v3_impact_score_comparison", false, Validator::Enum(CMP)),
                ParamDef::new("cvss_v3_impact_score", false, Validator::FloatStr),
                ParamDef::new("fix_available", false, Validator::BoolStr),
                ParamDef::new("vendor_only", false, Validator::BoolStr),
                ParamDef::new("max_days_since_creation", false, Validator::IntStr),
                ParamDef::new("max_days_since_fix", false, Validator::IntStr),
                ParamDef::new("vendor_cvss_v3_base_score_comparison", false, Validator::Enum(CMP)),
                ParamDef::new("vendor_cvss_v3_base_score", false, Validator::FloatStr),
                ParamDef::new("vendor_cvss_v3_exploitability_score_comparison", false, Validator::Enum(CMP)),
                ParamDef::new("vendor_cvss_v3_exploitability_score", false, Validator::FloatStr),
                ParamDef::new("vendor_cvss_v3_impact_score_comparison", false, Validator::Enum(CMP)),
                ParamDef::new("vendor_cvss_v3_impact_score", false, Validator::FloatStr),
                ParamDef::new("package_path_exclude", false, Validator::Str),
                ParamDef::extension("known_exploited", Validator::BoolStr),
                ParamDef::extension("epss_score_comparison", Validator::Enum(CMP)),
                ParamDef::extension("epss_score", Validator::FloatStr),
                ParamDef::extension("epss_percentile_comparison", Validator::Enum(CMP)),
                ParamDef::extension("epss_percentile", Validator::FloatStr),
            ],
            eval: package,
        },
        TriggerDef {
            name: STALE_FEED_DATA,
            params: &[ParamDef::new("max_days_since_sync", true, Validator::IntStr)],
            eval: stale_feed_data,
        },
        TriggerDef { name: VULNERABILITY_DATA_UNAVAILABLE, params: &[], eval: data_unavailable },
        TriggerDef {
            name: BLACKLIST,
            params: &[
                ParamDef::new("vulnerability_ids", true, Validator::CsvStrings),
                ParamDef::new("vendor_only", false, Validator::BoolStr),
            ],
            eval: blacklist,
        },
    ],
};

fn compare(op: &str, a: f64, b: f64) -> bool {
    match op {
        "=" => a == b,
        "!=" => a != b,
        "<" => a < b,
        ">" => a > b,
        "<=" => a <= b,
        ">=" => a >= b,
        _ => false,
    }
}

fn compare_ord<T: Ord>(op: &str, a: T, b: T) -> bool {
    match op {
        "=" => a == b,
        "!=" => a != b,
        "<" => a < b,
        ">" => a > b,
        "<=" => a <= b,
        ">=" => a >= b,
        _ => false,
    }
}

/// The highest score of each kind across sources; -1.0 where unknown (as Anchore).
fn max_scores(scores: &[Cvss]) -> (f64, f64, f64) {
    scores.iter().fold((-1.0, -1.0, -1.0), |(b, e, i), s| {
        (b.max(s.base_score), e.max(s.exploitability_score), i.max(s.impact_score))
    })
}

/// Python truthiness of a score placed in the message: 0.0 is left out.
fn score_tuple(out: &mut Vec<String>, name: &str, v: Option<f64>) {
    if let Some(v) = v.filter(|v| *v != 0.0) {
        out.push(format!("{name}={}", py_float(v)));
    }
}

fn package(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let p = input.params;
    let pkg_type = p.str("package_type").unwrap_or("all");
    let severity = Severity::parse(p.str("severity").unwrap_or("unknown"));
    let severity_cmp = p.str("severity_comparison").unwrap_or(">");
    let vendor_only = p.bool("vendor_only").unwrap_or(true);
    let fix_available = p.bool("fix_available");
    let now = input.ctx.now;
    let created_limit = p.int("max_days_since_creation").map(|d| now - Duration::days(d));
    let fix_limit = p.int("max_days_since_fix").map(|d| now - Duration::days(d));
    let cmp_of = |name: &str| p.str(name).unwrap_or(">=").to_string();
    let nvd_thresholds = [
        (p.float("cvss_v3_base_score"), cmp_of("cvss_v3_base_score_comparison"), "cvss_v3_base_score"),
        (p.float("cvss_v3_exploitability_score"), cmp_of("cvss_v3_exploitability_score_comparison"), "cvss_v3_exploitability_score"),
        (p.float("cvss_v3_impact_score"), cmp_of("cvss_v3_impact_score_comparison"), "cvss_v3_impact_score"),
    ];
    let vendor_thresholds = [
        (p.float("vendor_cvss_v3_base_score"), cmp_of("vendor_cvss_v3_base_score_comparison"), "vendor_cvss_v3_base_score"),
        (
            p.float("vendor_cvss_v3_exploitability_score"),
            cmp_of("vendor_cvss_v3_exploitability_score_comparison"),
            "vendor_cvss_v3_exploitability_score",
        ),
        (p.float("vendor_cvss_v3_impact_score"), cmp_of("vendor_cvss_v3_impact_score_comparison"), "vendor_cvss_v3_impact_score"),
    ];
    let path_exclude = p.str("package_path_exclude").map(py_re).transpose()?;
    let known_exploited = p.bool("known_exploited");
    let epss_score = p.float("epss_score");
    let epss_score_cmp = cmp_of("epss_score_comparison");
    let epss_pct = p.float("epss_percentile");
    let epss_pct_cmp = cmp_of("epss_percentile_comparison");

    let mut fired = Vec::new();
    for v in &input.facts.vulnerabilities {
        let os = is_os_package_type(&v.package_type);
        let class = if os { "os" } else { "non-os" };
        if pkg_type != "all" && pkg_type != class {
            continue;
        }
        if let (Some(re), false) = (&path_exclude, os)
            && re.is_match(v.package_path.as_deref().unwrap_or(""))
        {
            continue;
        }
        if !compare_ord(severity_cmp, v.severity, severity) {
            continue;
        }
        if vendor_only && v.will_not_fix {
            continue;
        }
        let mut time_tuples = Vec::new();
        if let Some(limit) = created_limit
            && let Some(created) = v.created_at
        {
            if created > limit {
                continue;
            }
            time_tuples.push(format!("max_days_since_creation={}", created.date()));
        }
        let has_fix = !v.fix_versions.is_empty();
        if fix_available == Some(true)
            && let Some(limit) = fix_limit
            && has_fix
            && let Some(observed) = v.fix_observed_at
        {
            if observed > limit {
                continue;
            }
            time_tuples.push(format!("max_days_since_fix={}", observed.date()));
        }
        let mut score_tuples = Vec::new();
        let nvd = max_scores(&v.nvd_cvss_v3);
        if !scores_pass(&nvd_thresholds, nvd, &mut score_tuples) {
            continue;
        }
        if fix_available.is_some_and(|want| want != has_fix) {
            continue;
        }
        let mut vendor_tuples = Vec::new();
        let vendor = max_scores(&v.vendor_cvss_v3);
        if !scores_pass(&vendor_thresholds, vendor, &mut vendor_tuples) {
            continue;
        }
        let mut extra = Vec::new();
        if let Some(want) = known_exploited {
            if want != v.kev {
                continue;
            }
            extra.push(format!("known_exploited={}", if v.kev { "true" } else { "false" }));
        }
        if let Some(t) = epss_score {
            let Some(s) = v.epss_score.filter(|s| compare(&epss_score_cmp, *s, t)) else { continue };
            extra.push(format!("epss_score={}", py_float(s)));
        }
        if let Some(t) = epss_pct {
            let Some(s) = v.epss_percentile.filter(|s| compare(&epss_pct_cmp, *s, t)) else { continue };
            extra.push(format!("epss_percentile={}", py_float(s)));
        }
        fired.push(Fired::with_id(v.trigger_id(), message(v, class, &score_tuples, &time_tuples, &vendor_tuples, &extra)));
    }
    Ok(fired)
}

/// Applies the three CVSS thresholds; records the scores that were checked for the message.
fn scores_pass(thresholds: &[(Option<f64>, String, &str); 3], have: (f64, f64, f64), tuples: &mut Vec<String>) -> bool {
    let values = [have.0, have.1, have.2];
    for ((threshold, op, name), value) in thresholds.iter().zip(values) {
        if let Some(t) = threshold {
            if !compare(op, value, *t) {
                return false;
            }
            score_tuple(tuples, name, Some(value));
        }
    }
    true
}

fn group(tuples: &[String]) -> String {
    if tuples.is_empty() { String::new() } else { format!("({})", tuples.join(" ")) }
}

fn message(
    v: &VulnerabilityMatch,
    class: &str,
    scores: &[String],
    times: &[String],
    vendor: &[String],
    extra: &[String],
) -> String {
    let fix = if v.fix_versions.is_empty() { String::new() } else { format!("(fixed in: {})", v.fix_versions.join(", ")) };
    format!(
        "{} Vulnerability found in {class} package type ({}) - {} {fix}{}{}{}{}({} - {})",
        v.severity.as_str().to_ascii_uppercase(),
        v.package_type,
        v.package_name,
        group(scores),
        group(times),
        group(vendor),
        group(extra),
        v.vulnerability_id,
        v.link.as_deref().unwrap_or("None"),
    )
}

fn stale_feed_data(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let Some(days) = input.params.int("max_days_since_sync") else { return Ok(vec![]) };
    let stale = match input.ctx.vulnerability_feed.last_sync {
        Some(synced) => synced < input.ctx.now - Duration::days(days),
        None => true,
    };
    Ok(if stale {
        vec![Fired::msg(format!("The vulnerability feed for this image distro is older than MAXAGE ({days}) days"))]
    } else {
        vec![]
    })
}

fn data_unavailable(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(if input.ctx.vulnerability_feed.data_available {
        vec![]
    } else {
        let ns = input.facts.distro.as_ref().map(|d| d.namespace()).unwrap_or_else(|| "None".to_string());
        vec![Fired::msg(format!(
            "Distro-specific feed data not found for distro namespace: {ns}. Cannot perform CVE scan OS/distro packages"
        ))]
    })
}

fn blacklist(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let ids = input.params.csv("vulnerability_ids").unwrap_or_default();
    let vendor_only = input.params.bool("vendor_only").unwrap_or(true);
    let found: Vec<&String> = ids
        .iter()
        .filter(|id| {
            input.facts.vulnerabilities.iter().any(|v| v.vulnerability_id == **id && !(vendor_only && v.will_not_fix))
        })
        .collect();
    Ok(if found.is_empty() {
        vec![]
    } else {
        vec![Fired::msg(format!("Blacklisted vulnerabilities detected: {}", py_list(&found)))]
    })
}
