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
