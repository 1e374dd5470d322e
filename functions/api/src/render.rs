//! Records in the shapes Anchore's API returns (`API-CONTRACT.md` §3).

use customs_model::AnalysisStatus;
use customs_store::{ImageRecord, LayerRecord};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// ISO-8601 UTC with a `Z`, whole seconds, as Anchore prints times.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `AnchoreImage`, serialised straight from the record (lists of thousands of images
/// are written without building a JSON tree). `analysis_error` is customs' addition:
/// why the analysis failed.
#[derive(Serialize)]
pub(crate) struct ImageView<'a> {
    #[serde(rename = "imageDigest")]
    image_digest: Option<&'a str>,
    #[serde(rename = "parentDigest")]
    parent_digest: Option<&'a str>,
    #[serde(rename = "userId")]
    user_id: &'a str,
    image_type: &'static str,
    analysis_status: &'static str,
    analysis_error: Option<&'a str>,
    image_status: &'static str,
    analyzed_at: Option<String>,
    created_at: String,
    last_updated: String,
    annotations: &'a Value,
    record_version: String,
    image_content: ImageContent<'a>,
    image_detail: Vec<ImageDetail<'a>>,
}

#[derive(Serialize)]
struct ImageContent<'a> {
    metadata: ImageMetadata<'a>,
}

#[derive(Serialize)]
struct ImageMetadata<'a> {
    arch: Option<&'a str>,
    distro: Option<&'a str>,
    distro_version: Option<&'a str>,
    dockerfile_mode: &'static str,
    image_size: Option<i64>,
    layer_count: Option<i32>,
}

#[derive(Serialize)]
struct ImageDetail<'a> {
    registry: &'a str,
    repo: &'a str,
    tag: &'a str,
    fulltag: String,
    fulldigest: Option<String>,
    digest: Option<&'a str>,
    #[serde(rename = "imageDigest")]
    image_digest: Option<&'a str>,
    #[serde(rename = "imageId")]
    image_id: Option<&'a str>,
    tag_detected_at: String,
    created_at: String,
    last_updated: String,
    dockerfile: Option<&'a str>,
    #[serde(rename = "userId")]
    user_id: &'a str,
}

pub(crate) fn image_view(img: &ImageRecord) -> ImageView<'_> {
    let image_id = img.config_digest.as_deref().map(|d| d.trim_start_matches("sha256:"));
    let digest = img.image_digest.as_deref();
    let image_detail = img
        .tags
        .iter()
        .map(|t| ImageDetail {
            registry: &t.registry,
            repo: &t.repo,
            tag: &t.tag,
            fulltag: format!("{}/{}:{}", t.registry, t.repo, t.tag),
            fulldigest: digest.map(|d| format!("{}/{}@{}", t.registry, t.repo, d)),
            digest,
            image_digest: digest,
            image_id,
            tag_detected_at: ts(t.tag_detected_at),
            created_at: ts(t.created_at),
            last_updated: ts(t.last_updated),
            dockerfile: None,
            user_id: &img.account,
        })
        .collect();
    let analyzed = img.analysis_status == AnalysisStatus::Analyzed;
    ImageView {
        image_digest: digest,
        parent_digest: img.parent_digest.as_deref(),
        user_id: &img.account,
        image_type: "docker",
        analysis_status: img.analysis_status.as_str(),
        analysis_error: img.analysis_error.as_deref(),
        image_status: img.image_status.as_str(),
        analyzed_at: img.analyzed_at.map(ts),
        created_at: ts(img.created_at),
        last_updated: ts(img.last_updated),
        annotations: &img.annotations,
        record_version: img.record_version.to_string(),
        image_content: ImageContent {
            metadata: ImageMetadata {
                arch: img.arch.as_deref(),
                distro: img.distro.as_deref(),
                distro_version: img.distro_version.as_deref(),
                dockerfile_mode: if analyzed { "Guessed" } else { "Unknown" },
                image_size: img.image_size,
                layer_count: img.layer_count,
            },
        },
        image_detail,
    }
}

/// `AnchoreImage` as a JSON value.
pub(crate) fn image(img: &ImageRecord) -> Value {
    serde_json::to_value(image_view(img)).unwrap_or(Value::Null)
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

/// Bytes of rendered JSON gathered before they are handed to the connection.
const CHUNK: usize = 64 << 10;

/// A JSON array written while `items` arrive, in chunks of about [`CHUNK`] bytes: the
/// first records are on the wire while the database still sends the last, and the whole
/// list is never held twice (records and text). An error before the first item still
/// becomes an error response (the caller awaited the query); one after the body started
/// can only end it early, so the client sees a broken answer, never a short list that
/// looks whole.
pub(crate) fn json_array<S, T, E, F>(items: S, write: F) -> axum::response::Response
where
    S: futures::Stream<Item = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
    F: FnMut(&T, &mut Vec<u8>) -> serde_json::Result<()> + Send + 'static,
{
    use futures::StreamExt;
    struct State<S, F> {
        items: std::pin::Pin<Box<S>>,
        write: F,
        first: bool,
        done: bool,
    }
    let state = State { items: Box::pin(items), write, first: true, done: false };
    let body = futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        if st.first {
            // Only the first chunk can start with no item written.
            buf.push(b'[');
        }
        while buf.len() < CHUNK {
            match st.items.next().await {
                Some(Ok(item)) => {
                    if !st.first {
                        buf.push(b',');
                    }
                    st.first = false;
                    if let Err(e) = (st.write)(&item, &mut buf) {
                        tracing::error!(error = %e, "List rendering failed; the response is cut short");
                        st.done = true;
                        return Some((Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>), st));
                    }
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "List reading failed; the response is cut short");
                    st.done = true;
                    return Some((Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>), st));
                }
                None => {
                    buf.push(b']');
                    st.done = true;
                    break;
                }
            }
        }
        // A chunk ends full (so after an item: `first` is false from here on, and no later
        // chunk opens the array again) or with the closing bracket.
        Some((Ok(axum::body::Bytes::from(buf)), st))
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(body))
        .unwrap_or_else(|_| axum::response::Response::new(axum::body::Body::empty()))
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

