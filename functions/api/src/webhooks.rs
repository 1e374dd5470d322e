//! `/v1/webhooks`: where an account's notifications are POSTed, and
//! `POST /v1/system/webhooks/{type}/test`. Secrets are sealed at rest and never returned
//! or logged; URLs are checked against the outbound address policy when saved (and
//! again by notify at every delivery).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use crate::params::paginate;
use crate::routes::{Api, Kind, Operation, q};
use crate::schemas::WEBHOOK;
use customs_contracts::Notify;
use customs_store::{EventLevel, NewEvent, WebhookRecord, event_type};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::info;
use uuid::Uuid;

use crate::auth::Caller;
use crate::params::Params;
use crate::{ApiError, AppState, render};

/// The notification types a webhook can take (Anchore's subscription types).
const NOTIFICATION_TYPES: [&str; 4] = ["tag_update", "policy_eval", "vuln_update", "analysis_update"];
const FORMATS: [&str; 2] = ["anchore", "customs"];
const MIN_SECRET_LEN: usize = 16;

pub(crate) fn routes(api: Api) -> Api {
    let t = "Webhooks";
    api.op(Operation::get("/webhooks", "List webhooks").tag(t).list(), list)
        .op(Operation::post("/webhooks", "Add a webhook").tag(t).body(WEBHOOK), add)
        .op(Operation::get("/webhooks/{id}", "Get a webhook").tag(t), get_one)
        .op(Operation::put("/webhooks/{id}", "Change a webhook").tag(t).body(WEBHOOK), update)
        .op(Operation::delete("/webhooks/{id}", "Delete a webhook").tag(t), remove)
        .op(
            Operation::post("/system/webhooks/{webhook_type}/test", "Send a test notification").tag(t)
                .query(&[q("notification_type", Kind::Str, "the notification type to send")]),
            test,
        )
}

fn render(w: &WebhookRecord) -> Value {
    json!({
        "id": w.id,
        "userId": w.account,
        "url": w.url,
        "notification_types": w.notification_types,
        "payload_format": w.payload_format,
        "active": w.active,
        "secret": "<set>",
        "created_at": render::ts(w.created_at),
        "last_updated": render::ts(w.last_updated),
    })
}

#[derive(Debug, Default, Deserialize)]
struct Body {
    url: Option<String>,
    secret: Option<String>,
    notification_types: Option<Vec<String>>,
    payload_format: Option<String>,
    active: Option<bool>,
}

/// `(host, port)` of an absolute http(s) URL without credentials.
fn host_port(url: &str) -> Result<(String, u16), ApiError> {
    let bad = || ApiError::bad_request(format!("url {url:?} must be an absolute http:// or https:// URL"));
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (rest, default_port) = if let Some(r) = url.strip_prefix("https://") {
        (r, 443)
    } else if let Some(r) = url.strip_prefix("http://") {
        (r, 80)
    } else {
        return Err(bad());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(ApiError::bad_request("webhook URLs must not carry credentials; use the secret"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6.split_once(']').ok_or_else(bad)?;
        (h, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad())?,
        None => default_port,
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Resolves the URL's host and refuses it if any address is outside the policy.
async fn check_url(deps: &AppState, url: &str) -> Result<(), ApiError> {
    let (host, port) = host_port(url)?;
    let addrs: Vec<IpAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot resolve webhook host {host}: {e}")))?
        .map(|a| a.ip())
        .collect();
    if let Some(bad) = addrs.iter().find(|ip| !deps.webhook_policy.allows(**ip)) {
        return Err(ApiError::BadRequest {
            message: format!(
                "webhook host {host} resolves to {bad}, which the outbound policy forbids (link-local and metadata addresses always; loopback and private networks unless CUSTOMS_ALLOW_PRIVATE_WEBHOOKS=true)"
            ),
            detail: json!({ "error_codes": ["WEBHOOK_URL_FORBIDDEN"] }),
        });
    }
    Ok(())
}

fn check_types(types: &[String]) -> Result<(), ApiError> {
    match types.iter().find(|t| !NOTIFICATION_TYPES.contains(&t.as_str())) {
        Some(t) => Err(ApiError::bad_request(format!(
            "notification type {t:?} is not one of {}",
            NOTIFICATION_TYPES.join(", ")
        ))),
        None => Ok(()),
    }
}

fn check_format(f: &str) -> Result<(), ApiError> {
    if FORMATS.contains(&f) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("payload_format {f:?} must be anchore or customs")))
    }
}

fn check_secret(s: &str) -> Result<(), ApiError> {
    if s.len() < MIN_SECRET_LEN {
        return Err(ApiError::bad_request(format!(
            "secret must be at least {MIN_SECRET_LEN} characters (it keys the HMAC-SHA256 signature)"
        )));
    }
    Ok(())
}

fn parse(body: &Bytes) -> Result<Body, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("webhook body is not valid JSON: {e}")))
}

async fn add(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse(&body)?;
    let url = b.url.ok_or_else(|| ApiError::bad_request("url is required"))?;
    let secret = b.secret.ok_or_else(|| ApiError::bad_request("secret is required"))?;
    check_secret(&secret)?;
    let types = b.notification_types.unwrap_or_default();
    check_types(&types)?;
    let format = b.payload_format.unwrap_or_else(|| "anchore".into());
    check_format(&format)?;
    check_url(&deps, &url).await?;
    let w = deps
        .store
        .add_webhook(&deps.secrets, &caller.account, &url, &types, &format, &secret)
        .await?;
    info!(webhook = %w.id, "Webhook added");
    Ok(Json(render(&w)))
}

fn webhook_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound(format!("webhook {id} not found")))
}

async fn update(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse(&body)?;
    if let Some(s) = &b.secret {
        check_secret(s)?;
    }
    if let Some(t) = &b.notification_types {
        check_types(t)?;
    }
    if let Some(f) = &b.payload_format {
        check_format(f)?;
    }
    if let Some(u) = &b.url {
        check_url(&deps, u).await?;
    }
    let w = deps
        .store
        .update_webhook(
            &deps.secrets,
            &caller.account,
            webhook_id(&id)?,
            b.url.as_deref(),
            b.notification_types.as_deref(),
            b.payload_format.as_deref(),
            b.active,
            b.secret.as_deref(),
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("webhook {id} not found")))?;
    Ok(Json(render(&w)))
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let hooks = deps.store.webhooks(&caller.account).await?;
    Ok(Json(paginate(&q, hooks)?.iter().map(render).collect()))
}

async fn get_one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = deps
        .store
        .webhook(&caller.account, webhook_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("webhook {id} not found")))?;
    Ok(Json(render(&w)))
}

async fn remove(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !deps.store.delete_webhook(&caller.account, webhook_id(&id)?).await? {
        return Err(ApiError::NotFound(format!("webhook {id} not found")));
    }
    Ok(Json(json!("deleted")))
}

/// A synthetic notification of `notification_type` (default `tag_update`), delivered
/// through notify like any other, whatever the subscriptions say.
async fn test(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(webhook_type): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    if webhook_type != "general" && !NOTIFICATION_TYPES.contains(&webhook_type.as_str()) {
        return Err(ApiError::bad_request(format!(
            "webhook type {webhook_type:?} must be general or one of {}",
            NOTIFICATION_TYPES.join(", ")
        )));
    }
    let default = if webhook_type == "general" { "tag_update" } else { webhook_type.as_str() };
    let kind = q.get("notification_type").filter(|t| !t.is_empty()).map_or(default, String::as_str).to_owned();
    check_types(std::slice::from_ref(&kind))?;
    let digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let details = match kind.as_str() {
        "tag_update" => json!({ "curr_eval": [digest], "last_eval": [digest], "annotations": {} }),
        "policy_eval" => json!({
            "curr_eval": { "image_digest": digest, "status": "pass" },
            "last_eval": { "image_digest": digest, "status": "pass" },
            "annotations": {},
        }),
        "vuln_update" => json!({
            "diff_vulnerability_result": { "added": [], "updated": [], "removed": [] },
            "imageDigest": digest,
            "annotations": {},
        }),
        _ => json!({
            "curr_eval": { "imageDigest": digest, "analysis_status": "analyzed", "annotations": {} },
            "last_eval": { "imageDigest": digest, "analysis_status": "analyzing", "annotations": {} },
            "annotations": {},
        }),
    };
    let e = deps
        .store
        .record_event(&NewEvent {
            account: caller.account.clone(),
            event_type: event_type::WEBHOOK_TEST.into(),
            level: EventLevel::Info,
            message: format!("Test {kind} notification"),
            details,
            resource_type: "image_tag".into(),
            resource_id: "customs/test:latest".into(),
            source: "api".into(),
            notification_type: Some(kind.clone()),
            force_notify: true,
            dedupe_key: None,
        })
        .await?
        .ok_or_else(|| ApiError::Internal("test event not recorded".into()))?;
    deps.queues
        .send(&Notify { account: caller.account.clone(), event_id: e.id })
        .await
        .map_err(|err| ApiError::Unavailable(format!("could not queue the test notification: {err}")))?;
    Ok(Json(json!({ "event_id": e.id, "notification_type": kind, "status": "queued" })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_host_and_port_and_credentials_refused() {
        assert_eq!(host_port("http://127.0.0.1:8080/hook").ok(), Some(("127.0.0.1".into(), 8080)));
        assert_eq!(host_port("https://example.com").ok(), Some(("example.com".into(), 443)));
        assert_eq!(host_port("http://[::1]:9/x?y").ok(), Some(("::1".into(), 9)));
        assert!(host_port("http://user:pw@example.com/").is_err());
        assert!(host_port("ftp://example.com/").is_err());
        assert!(host_port("http://:80/").is_err());
        assert!(host_port("http://example.com:99999/").is_err());
    }
}
