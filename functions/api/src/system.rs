//! Unauthenticated service routes: ping, liveness, versions, API description.

use axum::Json;
use serde_json::{Value, json};

use crate::AppState;
use crate::routes::{Api, Operation};

/// The Anchore API version anchore-cli checks (`info.version`, purely numeric).
pub(crate) const API_VERSION: &str = "0.1.20";
const SERVICE_VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) async fn ping() -> Json<&'static str> {
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

/// The description clients probe for the API version; the full OpenAPI document is
/// `/v1/openapi.json`.
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

/// The ping, the service routes and the caller-independent descriptions.
pub(crate) fn routes(api: Api) -> Api {
    let t = "System";
    api.op(Operation::get("/", "Ping: the JSON string \"v1\"").tag(t).public(), ping)
        .op(Operation::get("/health", "Liveness").tag(t).public(), health)
        .op(Operation::get("/version", "Service, API and schema versions").tag(t).public(), version)
        .op(Operation::get("/swagger.json", "API version probe (info.version), as anchore-cli reads it").tag(t).public(), swagger)
        .op(Operation::get("/openapi.json", "This OpenAPI 3 document, generated from the route table").tag(t).public(), openapi)
        .op(Operation::get("/system", "Service states").tag(t), system_status)
        .op(Operation::get("/status", "Service status").tag(t), status)
}

static OPENAPI: std::sync::OnceLock<Value> = std::sync::OnceLock::new();

/// The whole API's OpenAPI document, built once from the route table.
pub(crate) fn openapi_doc() -> &'static Value {
    OPENAPI.get_or_init(|| crate::routes::openapi(crate::table().operations(), API_VERSION))
}

async fn openapi() -> Json<&'static Value> {
    Json(openapi_doc())
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
