//! `/v1/registries`: registry credentials per account. Passwords are sealed at rest by
//! the store and never returned or logged.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use crate::params::paginate;
use crate::routes::{Api, Kind, Operation, q};
use crate::schemas::REGISTRY;
use customs_image::{Credentials, RegistryError};
use customs_store::RegistryRecord;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::info;

use crate::auth::Caller;
use crate::params::{Params, flag};
use crate::{ApiError, AppState, render};

pub(crate) fn routes(api: Api) -> Api {
    let t = "Registries";
    let validate = q("validate", Kind::Bool, "log in to the registry first (default true)");
    api.op(Operation::get("/registries", "List registry credentials (passwords never shown)").tag(t).list(), list)
        .op(Operation::post("/registries", "Add registry credentials").tag(t).body(REGISTRY).query(&[validate]), add)
        .op(Operation::get("/registries/{registry}", "Get one registry's credentials").tag(t), get_one)
        .op(Operation::put("/registries/{registry}", "Update a registry's credentials").tag(t).body(REGISTRY).query(&[validate]), update)
        .op(Operation::delete("/registries/{registry}", "Delete a registry's credentials").tag(t), remove)
}

#[derive(Deserialize)]
struct Body {
    registry: Option<String>,
    registry_user: Option<String>,
    registry_pass: Option<String>,
    registry_type: Option<String>,
    registry_verify: Option<bool>,
    registry_name: Option<String>,
}

fn render(r: &RegistryRecord) -> Value {
    json!({
        "registry": r.registry,
        "registry_name": r.registry_name,
        "registry_user": r.registry_user,
        "registry_type": r.registry_type,
        "registry_verify": r.registry_verify,
        "userId": r.account,
        "created_at": render::ts(r.created_at),
        "last_updated": render::ts(r.last_updated),
    })
}

fn parse(body: &Bytes) -> Result<Body, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("registry body is not valid JSON: {e}")))
}

/// `host[:port]` only: no scheme, path, credentials or whitespace.
fn valid_registry(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

fn record(caller: &Caller, registry: &str, b: &Body) -> Result<(RegistryRecord, String), ApiError> {
    if !valid_registry(registry) {
        return Err(ApiError::bad_request(format!(
            "registry {registry:?} must be host[:port], without scheme or path"
        )));
    }
    let user = b
        .registry_user
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::bad_request("registry_user is required"))?;
    let pass = b
        .registry_pass
        .clone()
        .ok_or_else(|| ApiError::bad_request("registry_pass is required"))?;
    let registry_type = b
        .registry_type
        .clone()
        .unwrap_or_else(|| "docker_v2".into());
    if registry_type != "docker_v2" {
        return Err(ApiError::bad_request(format!(
            "registry_type {registry_type:?} is not supported; use docker_v2"
        )));
    }
    let now = OffsetDateTime::now_utc();
    Ok((
        RegistryRecord {
            account: caller.account.clone(),
            registry: registry.to_owned(),
            registry_name: b
                .registry_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| registry.to_owned()),
            registry_user: user,
            registry_type,
            registry_verify: b.registry_verify.unwrap_or(true),
            created_at: now,
            last_updated: now,
        },
        pass,
    ))
}

async fn validate(deps: &AppState, rec: &RegistryRecord, password: &str) -> Result<(), ApiError> {
    let creds = Credentials {
        username: rec.registry_user.clone(),
        password: password.to_owned(),
    };
    match deps
        .registry
        .check_login(&rec.registry, &creds, !rec.registry_verify)
        .await
    {
        Ok(()) => Ok(()),
        Err(e @ (RegistryError::Transient { .. } | RegistryError::TimedOut { .. } | RegistryError::Unreachable { .. })) => {
            Err(ApiError::bad_request(format!(
                "cannot validate the registry: {e}; add it with validate=false to skip the check"
            )))
        }
        Err(e) => Err(ApiError::BadRequest {
            message: format!("registry credentials failed validation: {e}"),
            detail: json!({ "error_codes": ["REGISTRY_VALIDATION_FAILED"] }),
        }),
    }
}

async fn add(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let b = parse(&body)?;
    let registry = b
        .registry
        .clone()
        .ok_or_else(|| ApiError::bad_request("registry is required (host[:port])"))?;
    let (rec, pass) = record(&caller, &registry, &b)?;
    if flag(&q, "validate", true)? {
        validate(&deps, &rec, &pass).await?;
    }
    let saved = deps
        .store
        .put_registry(&deps.secrets, &rec, &pass, false)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "registry {registry} already exists; update it with PUT /v1/registries/{registry}"
            ))
        })?;
    info!(registry = %saved.registry, user = %saved.registry_user, "Registry added");
    Ok(Json(vec![render(&saved)]))
}

async fn update(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(registry): Path<String>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let b = parse(&body)?;
    if b.registry.as_deref().is_some_and(|r| r != registry) {
        return Err(ApiError::bad_request(
            "the body's registry differs from the one in the path",
        ));
    }
    let (rec, pass) = record(&caller, &registry, &b)?;
    if flag(&q, "validate", true)? {
        validate(&deps, &rec, &pass).await?;
    }
    let saved = deps
        .store
        .put_registry(&deps.secrets, &rec, &pass, true)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("registry {registry} not found")))?;
    Ok(Json(vec![render(&saved)]))
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let registries = deps.store.registries(&caller.account).await?;
    Ok(Json(paginate(&q, registries)?.iter().map(render).collect()))
}

async fn get_one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(registry): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let r = deps
        .store
        .registry(&caller.account, &registry)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("registry {registry} not found")))?;
    Ok(Json(vec![render(&r)]))
}

async fn remove(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(registry): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !deps
        .store
        .delete_registry(&caller.account, &registry)
        .await?
    {
        return Err(ApiError::NotFound(format!("registry {registry} not found")));
    }
    Ok(Json(json!("deleted")))
}
