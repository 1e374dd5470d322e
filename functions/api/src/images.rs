//! `/v1/images`: add, list and get images.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use customs_contracts::AnalyzeImage;
use customs_model::{AnalysisStatus, ImageRef, ImageStatus};
use customs_store::ImageFilter;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::auth::Caller;
use crate::params::{Params, flag, window};
use crate::routes::{Api, Kind, Operation, q};
use crate::schemas::IMAGE_ADD;
use crate::{ApiError, AppState, render};

pub(crate) fn routes(api: Api) -> Api {
    let t = "Images";
    let history = q("history", Kind::Bool, "accepted for compatibility; ignored");
    api.op(
        Operation::get("/images", "List images, newest first").tag(t).list().query(&[
            q("fulltag", Kind::Str, "only images with this tag"),
            q("digest", Kind::Str, "only the image with this digest"),
            q("image_status", Kind::Str, "active (default), inactive, deleting or all"),
            q("analysis_status", Kind::Str, "not_analyzed, analyzing, analyzed or analysis_failed"),
            history,
        ]),
        list,
    )
    .op(
        Operation::post("/images", "Add an image to analyse, by tag or digest").tag(t).body(IMAGE_ADD).query(&[
            q("force", Kind::Bool, "analyse again even if analysed"),
            q("autosubscribe", Kind::Bool, "subscribe the tag (default true)"),
        ]),
        add,
    )
    .op(
        Operation::post("/images/uploads", "A presigned URL to upload a docker-archive or OCI layout archive to (customs extension)").tag(t),
        create_upload,
    )
    .op(Operation::get("/images/{digest}", "Get an image (a one-element list)").tag(t).query(&[history]), get_one)
    .op(
        Operation::delete("/images/{digest}", "Delete an image").tag(t).query(&[q("force", Kind::Bool, "delete even while analysing")]),
        delete_one,
    )
}

/// The accepted `POST /images` bodies: the legacy `{"tag"}` / `{"digest","tag"}` that
/// anchore-cli sends, and the newer `{"source": {"tag": {"pullstring"}}}`.
#[derive(Debug, Default, Deserialize)]
struct AddBody {
    tag: Option<String>,
    digest: Option<String>,
    source: Option<Source>,
    #[serde(default)]
    annotations: Option<serde_json::Map<String, Value>>,
    /// customs extension: `os/arch[/variant]`, default `linux/amd64`.
    platform: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Source {
    tag: Option<PullString>,
    digest: Option<DigestSource>,
    /// customs extension: an archive uploaded through `POST /v1/images/uploads`.
    archive: Option<ArchiveSource>,
}

#[derive(Debug, Deserialize)]
struct ArchiveSource {
    upload_id: String,
    /// `docker-archive` (`docker save`) or `oci-archive` (a tar of an OCI layout).
    format: String,
    /// Optional `registry/repo:tag` the image is listed under.
    tag: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PullString {
    pullstring: String,
}

#[derive(Debug, Deserialize)]
struct DigestSource {
    pullstring: String,
    tag: Option<String>,
}

fn json_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "request body is not valid JSON for this operation: {e}"
        ))
    })
}

fn bad_reference(e: customs_model::ReferenceError) -> ApiError {
    ApiError::BadRequest {
        message: e.to_string(),
        detail: json!({ "error_codes": ["BAD_REFERENCE"] }),
    }
}

/// Builds the reference to analyse from the body's fields.
fn reference(b: &AddBody) -> Result<ImageRef, ApiError> {
    let (tag, digest) = match (&b.source, &b.tag, &b.digest) {
        (Some(Source { tag: Some(t), .. }), _, _) => (Some(t.pullstring.clone()), None),
        (
            Some(Source {
                digest: Some(d), ..
            }),
            _,
            _,
        ) => (d.tag.clone(), Some(d.pullstring.clone())),
        (_, tag, digest) => (tag.clone(), digest.clone()),
    };
    match (tag, digest) {
        (Some(t), None) => {
            let r = ImageRef::parse(&t).map_err(bad_reference)?;
            Ok(r)
        }
        (tag, Some(d)) => {
            // A full `repo@sha256:…` pull string, or a bare digest with the tag naming the repo.
            let mut r = if d.contains('@') {
                ImageRef::parse(&d).map_err(bad_reference)?
            } else {
                let t = tag.as_deref().ok_or_else(|| ApiError::bad_request("a bare digest needs a tag naming the repository"))?;
                let base = ImageRef::parse(t).map_err(bad_reference)?;
                ImageRef::parse(&format!("{}/{}@{}", base.registry, base.repo, d)).map_err(bad_reference)?
            };
            if let Some(t) = tag {
                let tr = ImageRef::parse(&t).map_err(bad_reference)?;
                if (tr.registry.as_str(), tr.repo.as_str()) != (r.registry.as_str(), r.repo.as_str()) {
                    return Err(ApiError::bad_request(format!("tag {t} and digest {d} name different repositories")));
                }
                r.tag = tr.tag;
            }
            Ok(r)
        }
        (None, None) => Err(ApiError::BadRequest {
            message: "request must name an image: {\"tag\": \"registry/repo:tag\"} or {\"source\": {\"tag\": {\"pullstring\": …}}}".into(),
            detail: json!({ "error_codes": ["BAD_REQUEST"] }),
        }),
    }
}

async fn add(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let force = flag(&q, "force", false)?;
    let autosubscribe = flag(&q, "autosubscribe", true)?;
    let b: AddBody = json_body(&body)?;
    if let Some(archive) = b.source.as_ref().and_then(|s| s.archive.as_ref()) {
        return add_uploaded(&deps, &caller, archive, &b).await;
    }
    let r = reference(&b)?;
    let platform = b.platform.as_deref().unwrap_or("linux/amd64");
    if platform.split('/').filter(|p| !p.is_empty()).count() < 2 || platform.split('/').count() > 3
    {
        return Err(ApiError::bad_request(format!(
            "platform {platform:?} is not os/arch[/variant], e.g. linux/arm64/v8"
        )));
    }
    let annotations = Value::Object(b.annotations.unwrap_or_default());
    // Resolve the digest now, as Anchore does, when the registry answers quickly; if it
    // does not, the analysis resolves it and records why it could not.
    let resolved = resolve_digest(&deps, &caller.account, &r, platform).await;
    let outcome = deps
        .store
        .add_image(&caller.account, &r, platform, &annotations, force, resolved.as_ref().map(|(d, p)| (d.as_str(), p.as_deref())))
        .await?;
    if let Some(fulltag) = r.full_tag() {
        deps.store
            .ensure_tag_subscriptions(&caller.account, &fulltag, autosubscribe)
            .await?;
    }
    let mut image = outcome.image;
    if outcome.needs_analysis {
        let msg = AnalyzeImage {
            account: caller.account.clone(),
            image_id: image.id,
        };
        if let Err(e) = deps.queues.send(&msg).await {
            // Never leave a record waiting for a message that was not sent.
            let reason = format!("could not queue the analysis: {e}");
            warn!(image_id = %image.id, error = %e, "Analysis not queued");
            deps.store
                .fail_analysis(&caller.account, image.id, &reason)
                .await?;
            return Err(ApiError::Unavailable(format!(
                "{reason}; the image is marked analysis_failed, add it again to retry"
            )));
        }
        info!(image_id = %image.id, reference = %r, "Queued analysis");
        if let Some(fresh) = deps.store.image(&caller.account, image.id).await? {
            image = fresh;
        }
    }
    Ok(Json(vec![render::image(&image)]))
}

/// The platform manifest digest of `r`, within a few seconds, or `None`.
async fn resolve_digest(deps: &AppState, account: &str, r: &ImageRef, platform: &str) -> Option<(String, Option<String>)> {
    let platform = customs_image::Platform::parse(platform)?;
    let cred = deps.store.registry_credential(&deps.secrets, account, &r.registry).await.ok().flatten();
    let creds = cred.as_ref().map(|c| customs_image::Credentials { username: c.record.registry_user.clone(), password: c.password.clone() });
    let insecure = cred.as_ref().is_some_and(|c| !c.record.registry_verify);
    let attempt = deps.registry.resolve(r, creds.as_ref(), &platform, insecure);
    match tokio::time::timeout(std::time::Duration::from_secs(5), attempt).await {
        Ok(Ok(d)) => Some(d),
        Ok(Err(e)) => {
            info!(reference = %r, error = %e, "Digest not resolved on add; the analysis will report why");
            None
        }
        Err(_) => None,
    }
}

#[derive(Debug, Default, Deserialize)]
struct ListBody {
    tag: Option<String>,
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    flag(&q, "history", false)?;
    // Old clients put the tag in a GET body instead of `fulltag`.
    let tag = match q.get("fulltag").filter(|t| !t.is_empty()) {
        Some(t) => Some(t.clone()),
        None => json_body::<ListBody>(&body)?.tag,
    };
    let tag = tag
        .map(|t| ImageRef::parse(&t))
        .transpose()
        .map_err(bad_reference)?;
    let image_status = match q.get("image_status").map(String::as_str) {
        None | Some("") => Some(ImageStatus::Active),
        Some("all") => None,
        Some(s) => Some(s.parse::<ImageStatus>().map_err(|_| {
            ApiError::bad_request(format!(
                "image_status={s:?}: expected active, inactive, deleting or all"
            ))
        })?),
    };
    let digest = q.get("digest").filter(|d| !d.is_empty()).cloned();
    let analysis_status = match q.get("analysis_status").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<AnalysisStatus>().map_err(|_| {
            ApiError::bad_request(format!(
                "analysis_status={s:?}: expected not_analyzed, analyzing, analyzed or analysis_failed"
            ))
        })?),
    };
    let filter = ImageFilter {
        tag,
        digest,
        image_status,
        analysis_status,
        window: window(&q)?,
    };
    if filter.tag.is_none() && filter.digest.is_none() && filter.window.is_none() {
        // The whole account, possibly thousands of images: rendered as the rows arrive.
        let images = deps.store.stream_image_summaries(&caller.account, filter.image_status, filter.analysis_status).await?;
        let account = caller.account.clone();
        return Ok(render::json_array(images, move |img, buf| render::write_image(&render::summary_view(img, &account), buf)));
    }
    let images = deps.store.list_images(&caller.account, &filter).await?;
    if filter.tag.is_some() {
        let mut out = Vec::with_capacity(images.len());
        for img in &images {
            let layers = deps.store.image_layers(img.id).await?;
            out.push(render::image_with_layers(img, &layers));
        }
        return Ok(Json(out).into_response());
    }
    Ok(Json(images.iter().map(render::image_view).collect::<Vec<_>>()).into_response())
}

async fn get_one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(digest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    flag(&q, "history", false)?;
    let filter = ImageFilter {
        digest: Some(digest.clone()),
        ..ImageFilter::default()
    };
    let images = deps.store.list_images(&caller.account, &filter).await?;
    if images.is_empty() {
        return Err(ApiError::NotFound(format!("image {digest} not found")));
    }
    let mut out = Vec::with_capacity(images.len());
    for img in &images {
        let layers = deps.store.image_layers(img.id).await?;
        let mut v = render::image_with_layers(img, &layers);
        if let (Some((p, at)), Some(o)) = (deps.store.staging_progress(img.id).await?, v.as_object_mut()) {
            o.insert("customs_progress".into(), progress_json(&p, at));
        }
        out.push(v);
    }
    Ok(Json(out))
}

/// Anchore's `DeleteImageResponse`: always 200, the outcome in `status`.
async fn delete_one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(digest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let force = flag(&q, "force", false)?;
    let (status, detail) = match deps.store.delete_image(&caller.account, &digest, force).await? {
        None => ("not_found", Some(format!("image {digest} not found"))),
        Some(AnalysisStatus::Analyzing) if !force => (
            "delete_failed",
            Some("cannot delete an image that is being analyzed; wait for the analysis or use force=true".to_owned()),
        ),
        Some(_) => {
            info!(digest = %digest, "Image deleted");
            ("deleting", None)
        }
    };
    Ok(Json(json!({ "digest": digest, "status": status, "detail": detail })))
}

/// Archive formats an upload may hold, as `customs scan` names them.
const ARCHIVE_FORMATS: &[&str] = &["docker-archive", "oci-archive"];
/// How long an upload URL stays valid.
const UPLOAD_URL_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The caller's folder of uploads: only the caller's own uploads can be named by id.
fn upload_scope(account: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(account.as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn uploads(deps: &AppState) -> Result<&customs_image::Staging, ApiError> {
    deps.uploads.as_ref().ok_or_else(|| ApiError::Unavailable("image uploads are not configured on this deployment (no staging bucket)".into()))
}

/// `POST /v1/images/uploads` (customs extension): a presigned URL to `PUT` an image
/// archive to, straight into the staging bucket (API Gateway caps request bodies at
/// 10 MB, so archives never pass through the API). Then `POST /v1/images` with
/// `{"source": {"archive": {"upload_id", "format"}}}` analyses it.
async fn create_upload(State(deps): State<AppState>, Extension(caller): Extension<Caller>) -> Result<Json<Value>, ApiError> {
    let staging = uploads(&deps)?;
    let id = uuid::Uuid::new_v4().to_string();
    let key = customs_image::Staging::upload_key(&upload_scope(&caller.account), &id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let url = staging.presign_upload(&key, UPLOAD_URL_TTL).await.map_err(|e| {
        warn!(error = %e, "Upload URL not signed");
        ApiError::Unavailable("could not create an upload URL; try again".into())
    })?;
    let expires = time::OffsetDateTime::now_utc() + UPLOAD_URL_TTL;
    Ok(Json(json!({
        "upload_id": id,
        "url": url,
        "method": "PUT",
        "headers": { "Content-Type": "application/x-tar" },
        "expires_at": expires.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "formats": ARCHIVE_FORMATS,
    })))
}

async fn add_uploaded(deps: &AppState, caller: &Caller, a: &ArchiveSource, b: &AddBody) -> Result<Json<Vec<Value>>, ApiError> {
    if !ARCHIVE_FORMATS.contains(&a.format.as_str()) {
        return Err(ApiError::bad_request(format!("archive format {:?} is not one of {}", a.format, ARCHIVE_FORMATS.join(", "))));
    }
    uploads(deps)?;
    let id = uuid::Uuid::parse_str(&a.upload_id)
        .map_err(|_| ApiError::bad_request(format!("upload_id {:?} is not an id from POST /v1/images/uploads", a.upload_id)))?;
    let key = customs_image::Staging::upload_key(&upload_scope(&caller.account), &id.to_string()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let tag = match a.tag.as_deref().or(b.tag.as_deref()) {
        Some(t) => Some(ImageRef::parse(t).map_err(bad_reference)?),
        None => None,
    };
    let platform = b.platform.as_deref().unwrap_or("linux/amd64");
    if customs_image::Platform::parse(platform).is_none() {
        return Err(ApiError::bad_request(format!("platform {platform:?} is not os/arch[/variant], e.g. linux/arm64/v8")));
    }
    let annotations = Value::Object(b.annotations.clone().unwrap_or_default());
    let source_ref = format!("upload:{}:{key}", a.format);
    let image = deps.store.add_uploaded_image(&caller.account, &source_ref, tag.as_ref(), platform, &annotations).await?;
    let msg = AnalyzeImage { account: caller.account.clone(), image_id: image.id };
    if let Err(e) = deps.queues.send(&msg).await {
        let reason = format!("could not queue the analysis: {e}");
        warn!(image_id = %image.id, error = %e, "Analysis not queued");
        deps.store.fail_analysis(&caller.account, image.id, &reason).await?;
        return Err(ApiError::Unavailable(format!("{reason}; the image is marked analysis_failed, add it again to retry")));
    }
    info!(image_id = %image.id, format = %a.format, "Queued analysis of an uploaded archive");
    let image = deps.store.image(&caller.account, image.id).await?.unwrap_or(image);
    Ok(Json(vec![render::image(&image)]))
}

/// `customs_progress` (customs extension): how far staging of the image's layers has gone.
fn progress_json(p: &customs_store::StagingProgress, at: time::OffsetDateTime) -> Value {
    json!({
        "layers_total": p.layers_total,
        "layers_staged": p.layers_staged,
        "layers_reused": p.layers_reused,
        "bytes_total": p.bytes_total,
        "bytes_staged": p.bytes_staged,
        "updated_at": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
}
