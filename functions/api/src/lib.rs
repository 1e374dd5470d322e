#![doc = include_str!("../README.md")]

mod accounts;
mod auth;
mod content;
mod edges;
mod error;
mod events;
mod feeds;
mod images;
mod metadata;
mod params;
mod policies;
mod registries;
mod render;
mod routes;
mod schemas;
mod subscriptions;
mod system;
mod webhooks;
mod vulns;

use std::sync::Arc;

use axum::Router;
use customs_image::{NetworkPolicy, Registry};
use customs_runtime::Queues;
use customs_store::{SecretBox, Store};

pub use auth::AuthConfig;
pub use error::ApiError;
pub use routes::{Access, Kind, Operation, Param};

/// What the handlers need, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    pub queues: Queues,
    pub auth: AuthConfig,
    /// Validates registry credentials on `POST /v1/registries?validate=true`.
    pub registry: Registry,
    /// Seals registry passwords at rest.
    pub secrets: SecretBox,
    /// Which addresses webhook URLs may resolve to (checked when a webhook is saved).
    pub webhook_policy: NetworkPolicy,
    /// The staging bucket, where image archives are uploaded (`POST /v1/images/uploads`);
    /// `None` turns uploads off.
    pub uploads: Option<customs_image::Staging>,
}

pub(crate) type AppState = Arc<Deps>;

/// Every route, each added with its description (see `routes.rs`).
pub(crate) fn table() -> routes::Api {
    let api = routes::Api::new();
    let api = system::routes(api);
    let api = accounts::routes(api);
    let api = images::routes(api);
    let api = metadata::routes(api);
    let api = content::routes(api);
    let api = content::sbom_routes(api);
    let api = vulns::routes(api);
    let api = policies::routes(api);
    let api = registries::routes(api);
    let api = feeds::routes(api);
    let api = subscriptions::routes(api);
    let api = events::routes(api);
    webhooks::routes(api)
}

/// The description of every operation the router serves (paths below `/v1`).
pub fn operations() -> Vec<Operation> {
    table().operations().to_vec()
}

/// Routes added without a description; the OpenAPI test requires this to be empty.
pub fn undocumented_routes() -> Vec<String> {
    table().undocumented().to_vec()
}

/// The OpenAPI 3 document served at `/v1/openapi.json`.
pub fn openapi() -> serde_json::Value {
    system::openapi_doc().clone()
}

/// The whole API. Every route is served under `/v1` and, like Anchore, without it.
pub fn router(deps: Arc<Deps>) -> Router {
    let (public, user, admin) = table().into_routers();
    let authed = user
        .merge(admin.layer(axum::middleware::from_fn(auth::require_admin)))
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            auth::require_user,
        ));
    let api = public.merge(authed);
    Router::new()
        .route("/v1/", axum::routing::get(system::ping))
        .nest("/v1", api.clone())
        .merge(api)
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(edges::json_errors))
        .with_state(deps)
}
