//! `/v1/images/{digest}/metadata[/{type}]`: the manifest, the build history and a
//! Dockerfile guessed from it, base64-encoded as anchore-cli expects.

use axum::extract::{Path, State};
use axum::{Extension, Json};

use crate::routes::{Api, Operation};
use base64::Engine;
use customs_model::AnalysisStatus;
use customs_store::{ImageFilter, ImageRecord};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::{ApiError, AppState};

const TYPES: [&str; 3] = ["manifest", "docker_history", "dockerfile"];

pub(crate) fn routes(api: Api) -> Api {
    api.op(Operation::get("/images/{digest}/metadata", "Metadata types of an analysed image").tag("Images"), list)
        .op(Operation::get("/images/{digest}/metadata/{mtype}", "manifest, docker_history or dockerfile (base64)").tag("Images"), one)
}

/// The analysed image with this digest, or the 404s anchore-cli understands.
pub(crate) async fn analyzed(deps: &AppState, account: &str, digest: &str) -> Result<ImageRecord, ApiError> {
    let filter = ImageFilter { digest: Some(digest.to_owned()), ..ImageFilter::default() };
    let img = deps
        .store
        .list_images(account, &filter)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("image {digest} not found")))?;
    if img.analysis_status != AnalysisStatus::Analyzed {
        return Err(ApiError::NotFound(format!("image is not analyzed - analysis_status: {}", img.analysis_status)));
    }
    Ok(img)
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(digest): Path<String>,
) -> Result<Json<Value>, ApiError> {
    analyzed(&deps, &caller.account, &digest).await?;
    Ok(Json(json!(TYPES)))
}

/// The history as Docker reports it (newest first), from the image config.
fn docker_history(config: &Value) -> Value {
    let history = config.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out: Vec<Value> = history
        .iter()
        .map(|h| {
            json!({
                "Created": h.get("created").cloned().unwrap_or(Value::Null),
                "CreatedBy": h.get("created_by").cloned().unwrap_or(json!("")),
                "Comment": h.get("comment").cloned().unwrap_or(json!("")),
                "Id": "<missing>",
                "Size": 0,
                "Tags": Value::Null,
            })
        })
        .collect();
    out.reverse();
    Value::Array(out)
}

async fn one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((digest, mtype)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let img = analyzed(&deps, &caller.account, &digest).await?;
    if !TYPES.contains(&mtype.as_str()) {
        return Err(ApiError::NotFound(format!("metadata type ({mtype}) not available; use one of {}", TYPES.join(", "))));
    }
    let (manifest, config) = deps
        .store
        .image_manifest(&caller.account, img.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("image {digest} has no stored manifest")))?;
    let raw: Vec<u8> = match mtype.as_str() {
        "manifest" => manifest,
        "docker_history" => serde_json::to_vec(&docker_history(&config)).unwrap_or_default(),
        _ => customs_policy::guess_dockerfile(&config).into_bytes(),
    };
    Ok(Json(json!({
        "imageDigest": digest,
        "metadata_type": mtype,
        "metadata": base64::engine::general_purpose::STANDARD.encode(raw),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfiles_are_guessed_from_history() {
        let config = json!({"history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created_by": "/bin/sh -c apt-get update"},
            {"created_by": "ENV A=b", "empty_layer": true},
        ]});
        assert_eq!(customs_policy::guess_dockerfile(&config), "FROM scratch\nADD file:abc in /\nRUN apt-get update\nENV A=b\n");
        let h = docker_history(&config);
        assert_eq!(h[0]["CreatedBy"], "ENV A=b", "newest first");
    }
}
