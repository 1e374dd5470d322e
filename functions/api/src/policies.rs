//! `/v1/policies` (Anchore's bundle format) and `/v1/images/{digest}/check`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use crate::params::paginate;
use crate::routes::{Api, Kind, Operation, q};
use crate::schemas::{POLICY_BUNDLE, POLICY_RECORD};
use customs_contracts::EvaluateImage;
use customs_policy::{Bundle, CheckOptions, Evaluation};
use customs_store::{ImageFilter, PolicyRecord};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::auth::Caller;
use crate::metadata::analyzed;
use crate::params::{flag, Params};
use crate::{render, ApiError, AppState};

pub(crate) fn routes(api: Api) -> Api {
    let t = "Policies";
    let detail = q("detail", Kind::Bool, "include the bundle");
    api.op(Operation::get("/policies", "List policy bundles").tag(t).list().query(&[detail]), list)
        .op(Operation::post("/policies", "Add a policy bundle (stored inactive)").tag(t).body(POLICY_BUNDLE), add)
        .op(Operation::get("/policies/{id}", "Get a policy bundle").tag(t).query(&[detail]), get_one)
        .op(
            Operation::put("/policies/{id}", "Update or activate a policy bundle").tag(t).body(POLICY_RECORD)
                .query(&[q("active", Kind::Bool, "activate the bundle")]),
            update,
        )
        .op(Operation::delete("/policies/{id}", "Delete an inactive policy bundle").tag(t), remove)
        .op(
            Operation::get("/images/{digest}/check", "Policy evaluation of an image").tag(t).query(&[
                crate::routes::required("tag", Kind::Str, "the tag to evaluate, e.g. docker.io/alpine:3.12"),
                q("policyId", Kind::Str, "a bundle other than the active one"),
                detail,
                q("history", Kind::Bool, "all stored evaluations"),
                q("interactive", Kind::Bool, "evaluate without storing"),
            ]),
            check,
        )
}

fn record(p: &PolicyRecord, detail: bool) -> Value {
    json!({
        "policyId": p.policy_id,
        "userId": p.account,
        "active": p.active,
        "policy_source": "local",
        "name": p.name,
        "description": p.description,
        "created_at": render::ts(p.created_at),
        "last_updated": render::ts(p.last_updated),
        "policybundle": if detail { p.bundle.clone() } else { json!({}) },
    })
}

/// Parses and validates a bundle as Anchore does before storing it.
fn validated(v: &Value) -> Result<(), ApiError> {
    let bundle = Bundle::from_value(v).map_err(|e| ApiError::BadRequest {
        message: "Bundle failed validation".into(),
        detail: json!({ "validation_details": [{ "severity": "error", "problem_type": "InvalidBundle", "details": e.to_string() }] }),
    })?;
    let report = bundle.validate();
    if !report.is_valid() {
        return Err(ApiError::BadRequest {
            message: "Bundle failed validation".into(),
            detail: json!({ "validation_details": report.validation_details() }),
        });
    }
    Ok(())
}

fn bundle_id(caller: &Caller, v: &Value) -> String {
    match v.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
            Md5::digest(format!("{}:{name}", caller.account).as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// The account's active policy, Anchore's default bundle when it has none.
pub(crate) async fn active_policy(deps: &AppState, account: &str) -> Result<PolicyRecord, ApiError> {
    let default: Value = serde_json::from_str(customs_policy::DEFAULT_BUNDLE).map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = default.get("id").and_then(Value::as_str).unwrap_or("default");
    let name = default.get("name").and_then(Value::as_str);
    Ok(deps.store.ensure_active_policy(account, id, name, &default).await?)
}

/// Re-evaluates every analysed image of the account (after the active policy changed).
async fn reevaluate_all(deps: &AppState, account: &str) -> Result<(), ApiError> {
    let images = deps.store.list_images(account, &ImageFilter::default()).await?;
    for img in images.iter().filter(|i| i.analysis_status == customs_model::AnalysisStatus::Analyzed) {
        if let Err(e) = deps.queues.send(&EvaluateImage { account: account.to_owned(), image_id: img.id }).await {
            warn!(image_id = %img.id, error = %e, "Re-evaluation not queued");
            return Err(ApiError::Unavailable(format!("could not queue re-evaluation: {e}")));
        }
    }
    Ok(())
}

async fn add(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let detail = flag(&q, "detail", true)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("policy bundle is not valid JSON: {e}")))?;
    validated(&v)?;
    let id = bundle_id(&caller, &v);
    let mut bundle = v.clone();
    if let Some(o) = bundle.as_object_mut() {
        o.insert("id".into(), json!(id));
    }
    let name = v.get("name").and_then(Value::as_str);
    let description = v.get("comment").or_else(|| v.get("description")).and_then(Value::as_str);
    active_policy(&deps, &caller.account).await?;
    let p = deps.store.put_policy(&caller.account, &id, name, description, &bundle).await?;
    info!(policy_id = %id, "Policy stored");
    Ok(Json(record(&p, detail)))
}

async fn list(State(deps): State<AppState>, Extension(caller): Extension<Caller>, Query(q): Query<Params>) -> Result<Json<Vec<Value>>, ApiError> {
    let detail = flag(&q, "detail", false)?;
    active_policy(&deps, &caller.account).await?;
    let mut policies = deps.store.policies(&caller.account).await?;
    policies.sort_by(|a, b| (a.created_at, &a.policy_id).cmp(&(b.created_at, &b.policy_id)));
    Ok(Json(paginate(&q, policies)?.iter().map(|p| record(p, detail)).collect()))
}

async fn get_one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let detail = flag(&q, "detail", true)?;
    active_policy(&deps, &caller.account).await?;
    let p = deps.store.policy(&caller.account, &id).await?.ok_or_else(|| ApiError::NotFound(format!("policy {id} not found")))?;
    Ok(Json(vec![record(&p, detail)]))
}

async fn update(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) { json!({}) } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("policy record is not valid JSON: {e}")))?
    };
    let current = deps.store.policy(&caller.account, &id).await?.ok_or_else(|| ApiError::NotFound(format!("policy {id} not found")))?;
    if let Some(b) = v.get("policybundle").filter(|b| b.as_object().is_some_and(|o| !o.is_empty()))
        && *b != current.bundle {
            validated(b)?;
            deps.store.put_policy(&caller.account, &id, b.get("name").and_then(Value::as_str), current.description.as_deref(), b).await?;
        }
    let want_active = match v.get("active").and_then(Value::as_bool) {
        Some(a) => Some(a),
        None if q.contains_key("active") => Some(flag(&q, "active", false)?),
        None => None,
    };
    match want_active {
        Some(true) => {
            deps.store.activate_policy(&caller.account, &id).await?;
            reevaluate_all(&deps, &caller.account).await?;
        }
        Some(false) if current.active => {
            return Err(ApiError::bad_request("cannot deactivate the active policy; activate another one instead"));
        }
        _ => {}
    }
    let p = deps.store.policy(&caller.account, &id).await?.ok_or_else(|| ApiError::NotFound(format!("policy {id} not found")))?;
    Ok(Json(vec![record(&p, true)]))
}

async fn remove(State(deps): State<AppState>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    match deps.store.delete_policy(&caller.account, &id).await? {
        None => Err(ApiError::NotFound(format!("policy {id} not found"))),
        Some(false) => Err(ApiError::BadRequest {
            message: "cannot delete an active policy bundle; activate another one first".into(),
            detail: json!({}),
        }),
        Some(true) => Ok(Json(json!("deleted"))),
    }
}

async fn check(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(digest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let detail = flag(&q, "detail", false)?;
    let history = flag(&q, "history", false)?;
    let img = analyzed(&deps, &caller.account, &digest).await?;
    let tag = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => customs_model::ImageRef::parse(t).ok().and_then(|r| r.full_tag()).unwrap_or_else(|| t.clone()),
        None => img.tags.first().map(|t| format!("{}/{}:{}", t.registry, t.repo, t.tag)).ok_or_else(|| ApiError::bad_request("tag is required for an untagged image"))?,
    };
    let policy_id = match q.get("policyId").filter(|p| !p.is_empty()) {
        Some(p) => p.clone(),
        None => active_policy(&deps, &caller.account).await?.policy_id,
    };
    if history {
        return check_history(&deps, &caller, &img, &digest, &tag, &policy_id, detail, &q).await;
    }
    let Some(e) = deps.store.evaluation(img.id, &tag, &policy_id).await? else {
        deps.queues.send(&EvaluateImage { account: caller.account.clone(), image_id: img.id }).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
        return Err(ApiError::NotFound(format!("image {digest} has no evaluation for tag {tag} against policy {policy_id} yet; it has been queued, retry shortly")));
    };
    let eval: Evaluation = serde_json::from_value(e.evaluation).map_err(|err| ApiError::Internal(format!("stored evaluation: {err}")))?;
    let opts = CheckOptions {
        user_id: caller.account.clone(),
        created_at: e.evaluated_at.unix_timestamp(),
        last_evaluation: render::ts(e.evaluated_at),
        detail,
    };
    Ok(Json(customs_policy::to_anchore_check_json(&eval, &e.bundle, &opts)))
}

/// `check?history=true`: every stored evaluation of the image under the tag and bundle id,
/// newest first, each in Anchore's entry shape plus `customs_audit` (the digest of the bundle
/// that decided, the feed state it saw, when). `limit` caps the list (default 100, max 1000).
#[allow(clippy::too_many_arguments)]
async fn check_history(
    deps: &AppState,
    caller: &Caller,
    img: &customs_store::ImageRecord,
    digest: &str,
    tag: &str,
    policy_id: &str,
    detail: bool,
    q: &Params,
) -> Result<Json<Value>, ApiError> {
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        None => 100,
        Some(l) => l.parse::<i64>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| ApiError::bad_request(format!("limit={l:?}: expected a number from 1 to 1000")))?,
    };
    let entries = deps.store.evaluation_history(img.id, tag, Some(policy_id), limit).await?;
    if entries.is_empty() {
        return Err(ApiError::NotFound(format!("image {digest} has no evaluation for tag {tag} against policy {policy_id}")));
    }
    let mut list = Vec::with_capacity(entries.len());
    for e in entries {
        let eval: Evaluation = serde_json::from_value(e.evaluation).map_err(|err| ApiError::Internal(format!("stored evaluation: {err}")))?;
        let opts = CheckOptions {
            user_id: caller.account.clone(),
            created_at: e.evaluated_at.unix_timestamp(),
            last_evaluation: render::ts(e.evaluated_at),
            detail,
        };
        let one = customs_policy::to_anchore_check_json(&eval, &e.bundle, &opts);
        let Some(mut entry) = one.pointer(&format!("/0/{}/{}/0", pointer_escape(&eval.image_digest), pointer_escape(&eval.tag))).cloned() else {
            return Err(ApiError::Internal("check entry missing from rendered evaluation".into()));
        };
        if let Value::Object(m) = &mut entry {
            m.insert(
                "customs_audit".into(),
                json!({ "bundle_digest": e.bundle_digest, "feed_state": e.feed_state, "evaluated_at": render::ts(e.evaluated_at), "evaluation_id": e.id }),
            );
        }
        list.push(entry);
    }
    let (digest, tag) = (img.image_digest.clone().unwrap_or_else(|| digest.to_owned()), tag.to_owned());
    Ok(Json(json!([{ digest: { tag: list } }])))
}

/// RFC 6901 escaping for a JSON pointer segment.
fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
