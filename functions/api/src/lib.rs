#![doc = include_str!("../README.md")]

mod auth;
mod content;
mod error;
mod events;
mod feeds;
mod images;
mod metadata;
mod params;
mod policies;
mod registries;
mod render;
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

/// The whole API. Every route is served under `/v1` and, like Anchore, without it.
pub fn router(deps: Arc<Deps>) -> Router {
    let authed = images::routes()
        .merge(metadata::routes())
        .merge(content::routes())
        .merge(content::sbom_routes())
        .merge(vulns::routes())
        .merge(policies::routes())
        .merge(system::authed_routes())
        .merge(registries::routes())
        .merge(feeds::routes())
        .merge(subscriptions::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            auth::require_user,
        ));
    let api = system::public_routes().merge(authed);
    Router::new()
        .merge(system::root_routes())
        .nest("/v1", api.clone())
        .merge(api)
        .fallback(error::not_found)
        .with_state(deps)
}
