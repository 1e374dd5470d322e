//! Records in the shapes Anchore's API returns (`API-CONTRACT.md` §3).

use customs_model::AnalysisStatus;
use customs_store::{ImageRecord, LayerRecord};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// ISO-8601 UTC with a `Z`, whole seconds, as Anchore prints times.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn opt_ts(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ts(t)))
}

/// `AnchoreImage`. `analysis_error` is customs' addition: why the analysis failed.
pub(crate) fn image(img: &ImageRecord) -> Value {
    let image_id = img
        .config_digest
        .as_deref()
        .map(|d| d.trim_start_matches("sha256:").to_owned());
    let details: Vec<Value> = img
        .tags
        .iter()
        .map(|t| {
            json!({
                "registry": t.registry,
                "repo": t.repo,
                "tag": t.tag,
                "fulltag": format!("{}/{}:{}", t.registry, t.repo, t.tag),
                "fulldigest": img.image_digest.as_ref().map(|d| format!("{}/{}@{}", t.registry, t.repo, d)),
                "digest": img.image_digest,
                "imageDigest": img.image_digest,
                "imageId": image_id,
                "tag_detected_at": ts(t.tag_detected_at),
                "created_at": ts(t.created_at),
                "last_updated": ts(t.last_updated),
                "dockerfile": Value::Null,
                "userId": img.account,
            })
        })
        .collect();
    let analyzed = img.analysis_status == AnalysisStatus::Analyzed;
    json!({
        "imageDigest": img.image_digest,
        "parentDigest": img.parent_digest,
        "userId": img.account,
        "image_type": "docker",
        "analysis_status": img.analysis_status.as_str(),
        "analysis_error": img.analysis_error,
        "image_status": img.image_status.as_str(),
        "analyzed_at": opt_ts(img.analyzed_at),
        "created_at": ts(img.created_at),
        "last_updated": ts(img.last_updated),
        "annotations": img.annotations,
        "record_version": img.record_version.to_string(),
        "image_content": {
            "metadata": {
                "arch": img.arch,
                "distro": img.distro,
                "distro_version": img.distro_version,
                "dockerfile_mode": if analyzed { "Guessed" } else { "Unknown" },
                "image_size": img.image_size,
                "layer_count": img.layer_count,
            }
        },
        "image_detail": details,
    })
}

/// `AnchoreImage` plus customs' detail: platform, layers, squashed file count, and the
/// entries left out of the view (`findings`).
pub(crate) fn image_with_layers(img: &ImageRecord, layers: &[LayerRecord]) -> Value {
    let mut v = image(img);
    if let Some(o) = v.as_object_mut() {
        o.insert("platform".into(), json!(img.platform));
        o.insert("file_count".into(), json!(img.file_count));
        o.insert("findings".into(), img.findings.clone());
        o.insert(
            "layers".into(),
            layers
                .iter()
                .map(|l| {
                    json!({
                        "digest": l.digest,
                        "diff_id": l.diff_id,
                        "media_type": l.media_type,
                        "size": l.size,
                        "uncompressed_size": l.uncompressed_size,
                        "entry_count": l.entry_count,
                    })
                })
                .collect(),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_look_like_anchores() {
        let t = time::macros::datetime!(2021-04-02 21:49:35.123456 UTC);
        assert_eq!(ts(t), "2021-04-02T21:49:35Z");
    }
}
