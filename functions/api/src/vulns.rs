//! `/v1/images/{digest}/vuln[/{os|non-os|all}]`: the stored findings in Anchore's record
//! shape (`API-CONTRACT.md` §4). A request never re-matches.

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use crate::routes::{Api, Kind, Operation, q};
use serde_json::{json, Value};

use crate::auth::Caller;
use customs_model::AnalysisStatus;
use crate::params::{flag, Params};
use crate::{ApiError, AppState};

const TYPES: [&str; 3] = ["os", "non-os", "all"];
const NON_OS: [&str; 11] = ["java", "python", "npm", "gem", "maven", "js", "composer", "nuget", "binary", "go", "rust"];

pub(crate) fn routes(api: Api) -> Api {
    api.op(Operation::get("/images/{digest}/vuln", "Vulnerability types of an analysed image").tag("Images"), list)
        .op(
            Operation::get("/images/{digest}/vuln/{vtype}", "Vulnerabilities: os, non-os or all").tag("Images")
                .query(&[q("vendor_only", Kind::Bool, "drop findings the vendor will not fix")]),
            one,
        )
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(digest): Path<String>,
) -> Result<Json<Value>, ApiError> {
    findings(&deps, &caller.account, &digest).await?;
    Ok(Json(json!(TYPES)))
}

/// The stored findings of the account's analysed image `digest` (none before its first
/// evaluation); 404 for an image the account does not have or that is not analysed, as
/// [`crate::metadata::analyzed`] answers.
async fn findings(deps: &AppState, account: &str, digest: &str) -> Result<Value, ApiError> {
    match deps.store.findings_by_digest(account, digest).await? {
        None => Err(ApiError::NotFound(format!("image {digest} not found"))),
        Some((AnalysisStatus::Analyzed, f)) => Ok(f.unwrap_or_else(|| json!([]))),
        Some((status, _)) => Err(ApiError::NotFound(format!("image is not analyzed - analysis_status: {status}"))),
    }
}

/// `"None"` where Anchore has no value (its clients expect the string).
fn or_none(v: &Value) -> Value {
    match v {
        Value::Null => json!("None"),
        Value::String(s) if s.is_empty() => json!("None"),
        v => v.clone(),
    }
}

fn cvss_scores(cvss: &Value, id: &str) -> Value {
    let mut v2 = json!({ "base_score": -1.0, "exploitability_score": -1.0, "impact_score": -1.0 });
    let mut v3 = v2.clone();
    for c in cvss.as_array().into_iter().flatten() {
        let score = c["base_score"].as_f64().unwrap_or(-1.0);
        let version = c["version"].as_str().unwrap_or_default();
        if version.starts_with('2') {
            v2["base_score"] = json!(score);
        } else if version.starts_with('3') {
            v3["base_score"] = json!(score);
        }
    }
    json!([{ "id": id, "cvss_v2": v2, "cvss_v3": v3 }])
}

fn record(f: &Value) -> Value {
    let name = f["package_name"].as_str().unwrap_or_default();
    let version = f["package_version"].as_str().unwrap_or_default();
    let vuln = f["vuln"].as_str().unwrap_or_default();
    let ptype = f["package_type"].as_str().unwrap_or_default();
    json!({
        "vuln": vuln,
        "severity": f["severity"],
        "url": or_none(&f["url"]),
        "fix": or_none(&f["fix"]),
        "package": format!("{name}-{version}"),
        "package_name": name,
        "package_version": version,
        "package_type": if ptype == "apkg" { "APKG".to_owned() } else { ptype.to_owned() },
        "package_cpe": or_none(&f["package_cpe"]),
        "package_cpe23": or_none(&f["package_cpe"]),
        "package_path": if ["dpkg", "apkg", "rpm"].contains(&ptype) { json!("pkgdb") } else { or_none(&f["package_path"]) },
        "feed": "vulnerabilities",
        "feed_group": f["namespace"],
        "will_not_fix": f["will_not_fix"],
        "nvd_data": if vuln.starts_with("CVE-") { cvss_scores(&f["cvss"], vuln) } else { json!([]) },
        "vendor_data": [],
        "aliases": f["aliases"],
        "kev": f.get("kev").cloned().unwrap_or(Value::Null),
        "epss": f.get("epss").cloned().unwrap_or(Value::Null),
    })
}

async fn one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((digest, vtype)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let findings = findings(&deps, &caller.account, &digest).await?;
    if !TYPES.contains(&vtype.as_str()) {
        return Err(ApiError::NotFound(format!("content type ({vtype}) not available")));
    }
    let vendor_only = flag(&q, "vendor_only", true)?;
    flag(&q, "force_refresh", false)?;
    let vulns: Vec<Value> = findings
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            let t = f["package_type"].as_str().unwrap_or_default();
            match vtype.as_str() {
                "os" => !NON_OS.contains(&t),
                "non-os" => NON_OS.contains(&t),
                _ => true,
            }
        })
        .filter(|f| !(vendor_only && f["will_not_fix"].as_bool() == Some(true)))
        .map(record)
        .collect();
    Ok(Json(json!({ "imageDigest": digest, "vulnerability_type": vtype, "vulnerabilities": vulns })))
}
