//! Unauthenticated service routes: ping, liveness, versions, API description.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;

/// The Anchore API version anchore-cli checks (`info.version`, purely numeric).
pub(crate) const API_VERSION: &str = "0.1.20";
const SERVICE_VERSION: &str = env!("CARGO_PKG_VERSION");

async fn ping() -> Json<&'static str> {
    Json("v1")
}

async fn health() {}

async fn version() -> Json<Value> {
    Json(json!({
        "service": { "version": SERVICE_VERSION },
        "api": { "version": API_VERSION },
        "db": { "schema_version": customs_store::MIGRATIONS.len().to_string() },
    }))
}

/// The description clients probe for the API version. The full OpenAPI document,
/// generated from the routes, is served at `/v1/openapi.json` once it exists.
async fn swagger() -> Json<Value> {
    Json(json!({
        "swagger": "2.0",
        "info": {
            "title": "customs (Anchore Engine v1 compatible API)",
            "version": API_VERSION,
            "x-customs-version": SERVICE_VERSION,
        },
        "basePath": "/v1",
        "paths": {},
    }))
}

/// `/`, `/v1` and `/v1/` answer the ping.
pub(crate) fn root_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(ping))
        .route("/v1", get(ping))
        .route("/v1/", get(ping))
}

/// Served both under `/v1` and at the root.
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/swagger.json", get(swagger))
}

/// Authenticated service status (`GET /v1/system`, `/v1/account`, `/v1/user`).
pub(crate) fn authed_routes() -> Router<AppState> {
    Router::new()
        .route("/system", get(system_status))
        .route("/status", get(status))
        .route("/account", get(account))
        .route("/user", get(user))
}

/// Anchore's service names (what `anchore-cli system wait` waits for), each answered by
/// the customs function that does that job.
const SERVICES: [(&str, &str); 5] = [
    ("apiext", "api"),
    ("catalog", "analyze"),
    ("analyzer", "analyze"),
    ("policy_engine", "evaluate"),
    ("simplequeue", "sqs"),
];

async fn status(axum::extract::State(deps): axum::extract::State<AppState>) -> Json<Value> {
    let up = deps.store.ping().await.is_ok();
    Json(json!({
        "up": up, "available": up, "busy": false,
        "message": if up { "all good" } else { "database unreachable" },
        "detail": {}, "version": SERVICE_VERSION,
        "db_version": customs_store::MIGRATIONS.len().to_string(),
    }))
}

async fn system_status(axum::extract::State(deps): axum::extract::State<AppState>) -> Json<Value> {
    let up = deps.store.ping().await.is_ok();
    let states: Vec<Value> = SERVICES
        .iter()
        .map(|(name, function)| {
            json!({
                "servicename": name,
                "hostid": format!("customs-{function}"),
                "base_url": "N/A",
                "status": up,
                "status_message": if up { "available" } else { "database unreachable" },
                "version": SERVICE_VERSION,
                "service_detail": {
                    "up": up, "available": up, "busy": false, "message": "", "detail": {},
                    "version": SERVICE_VERSION,
                    "db_version": customs_store::MIGRATIONS.len().to_string(),
                },
            })
        })
        .collect();
    Json(json!({ "service_states": states }))
}

async fn account(axum::Extension(caller): axum::Extension<crate::auth::Caller>) -> Json<Value> {
    Json(json!({
        "name": caller.account, "email": Value::Null, "type": "admin", "state": "enabled",
        "created_at": Value::Null, "last_updated": Value::Null,
    }))
}

async fn user(axum::Extension(caller): axum::Extension<crate::auth::Caller>) -> Json<Value> {
    Json(json!({
        "username": caller.account, "type": "native", "source": Value::Null,
        "created_at": Value::Null, "last_updated": Value::Null,
    }))
}
