//! `/v1/subscriptions` (Anchore's four tag kinds and `repo_update`) and
//! `POST /v1/repositories`, which watches a whole repository.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use crate::params::paginate;
use crate::routes::{Api, Kind, Operation, q};
use crate::schemas::{SUBSCRIPTION, SUBSCRIPTION_UPDATE};
use customs_contracts::WatchSubscription;
use customs_image::Credentials;
use customs_model::ImageRef;
use customs_store::{SUBSCRIPTION_TYPES, SubscriptionFilter, SubscriptionRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::info;

use crate::auth::Caller;
use crate::params::{Params, flag};
use crate::{ApiError, AppState};

pub(crate) fn routes(api: Api) -> Api {
    let t = "Subscriptions";
    api.op(
        Operation::get("/subscriptions", "List subscriptions").tag(t).list().query(&[
            q("subscription_key", Kind::Str, "only this key (e.g. a full tag)"),
            q("subscription_type", Kind::Str, "only this type"),
        ]),
        list,
    )
    .op(Operation::post("/subscriptions", "Add a subscription").tag(t).body(SUBSCRIPTION), add)
    .op(Operation::get("/subscriptions/{id}", "Get a subscription").tag(t), get_one)
    .op(Operation::put("/subscriptions/{id}", "Activate, deactivate or change a subscription").tag(t).body(SUBSCRIPTION_UPDATE), update)
    .op(Operation::delete("/subscriptions/{id}", "Delete a subscription").tag(t), remove)
    .op(
        Operation::post("/repositories", "Watch a repository for new tags").tag(t).query(&[
            crate::routes::required("repository", Kind::Str, "registry/repo to watch"),
            q("autosubscribe", Kind::Bool, "subscribe new tags"),
            q("dryrun", Kind::Bool, "list the tags without adding them"),
        ]),
        watch_repository,
    )
}

/// Anchore's `Subscription`; times are epoch seconds, as Anchore returns them.
fn render(s: &SubscriptionRecord) -> Value {
    json!({
        "subscription_id": s.subscription_id,
        "userId": s.account,
        "subscription_type": s.subscription_type,
        "subscription_key": s.subscription_key,
        "subscription_value": s.subscription_value,
        "active": s.active,
        "created_at": s.created_at.unix_timestamp(),
        "last_updated": s.last_updated.unix_timestamp(),
    })
}

/// The stored form of a key: the normalised full tag for tag kinds, `registry/repo` for
/// `repo_update`.
fn normalise_key(kind: &str, key: &str) -> Result<String, ApiError> {
    let bad = |e: String| ApiError::bad_request(format!("subscription_key {key:?}: {e}"));
    let r = ImageRef::parse(key).map_err(|e| bad(e.to_string()))?;
    if kind == "repo_update" {
        if key.contains('@') {
            return Err(bad("a repository takes no digest".into()));
        }
        return Ok(format!("{}/{}", r.registry, r.repo));
    }
    if r.digest.is_some() {
        return Err(bad("subscriptions are on tags, not digests".into()));
    }
    r.full_tag().ok_or_else(|| bad("expected registry/repo:tag".into()))
}

fn check_kind(kind: &str) -> Result<(), ApiError> {
    if SUBSCRIPTION_TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "subscription_type {kind:?} is not one of {}",
            SUBSCRIPTION_TYPES.join(", ")
        )))
    }
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let kind = q.get("subscription_type").filter(|s| !s.is_empty()).cloned();
    let key = q.get("subscription_key").filter(|s| !s.is_empty()).map(|k| normalise_key(kind.as_deref().unwrap_or("tag_update"), k).unwrap_or_else(|_| k.clone()));
    let subs = deps
        .store
        .subscriptions(&caller.account, &SubscriptionFilter { key, kind })
        .await?;
    Ok(Json(paginate(&q, subs)?.iter().map(render).collect()))
}

#[derive(Debug, Default, Deserialize)]
struct AddBody {
    subscription_key: Option<String>,
    subscription_type: Option<String>,
    subscription_value: Option<String>,
    active: Option<bool>,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("subscription body is not valid JSON: {e}")))
}

async fn add(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let b: AddBody = parse(&body)?;
    let kind = b
        .subscription_type
        .ok_or_else(|| ApiError::bad_request("subscription_type is required"))?;
    check_kind(&kind)?;
    let key = b
        .subscription_key
        .ok_or_else(|| ApiError::bad_request("subscription_key is required (a full tag, or a repository for repo_update)"))?;
    let key = normalise_key(&kind, &key)?;
    let rec = deps
        .store
        .add_subscription(
            &caller.account,
            &kind,
            &key,
            b.subscription_value.as_deref(),
            b.active.unwrap_or(false),
        )
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "subscription {kind} on {key} already exists; change it with PUT /v1/subscriptions/{{id}}"
            ))
        })?;
    info!(kind = %kind, key = %key, "Subscription added");
    Ok(Json(vec![render(&rec)]))
}

async fn get_one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let s = deps
        .store
        .subscription(&caller.account, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("subscription {id} not found")))?;
    Ok(Json(vec![render(&s)]))
}

#[derive(Debug, Default, Deserialize)]
struct UpdateBody {
    active: Option<bool>,
    #[serde(default, deserialize_with = "some")]
    subscription_value: Option<Option<String>>,
    subscription_key: Option<String>,
    subscription_type: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

async fn update(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Vec<Value>>, ApiError> {
    let b: UpdateBody = parse(&body)?;
    let current = deps
        .store
        .subscription(&caller.account, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("subscription {id} not found")))?;
    if let Some(t) = &b.subscription_type
        && *t != current.subscription_type {
            return Err(ApiError::bad_request("subscription_type cannot be changed; delete and add instead"));
        }
    if let Some(k) = &b.subscription_key {
        let k = normalise_key(&current.subscription_type, k).unwrap_or_else(|_| k.clone());
        if k != current.subscription_key {
            return Err(ApiError::bad_request("subscription_key cannot be changed; delete and add instead"));
        }
    }
    let value = b.subscription_value.as_ref().map(Option::as_deref);
    let s = deps
        .store
        .update_subscription(&caller.account, &id, b.active, value)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("subscription {id} not found")))?;
    Ok(Json(vec![render(&s)]))
}

async fn remove(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !deps.store.delete_subscription(&caller.account, &id).await? {
        return Err(ApiError::NotFound(format!("subscription {id} not found")));
    }
    Ok(Json(json!("deleted")))
}

/// `POST /repositories?repository=&autosubscribe=&dryrun=`: lists the repository's tags
/// now (so a wrong name fails here), records the `repo_update` subscription, and has the
/// watch function add every tag.
async fn watch_repository(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let repository = q
        .get("repository")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("query parameter repository is required (registry/repo)"))?;
    let autosubscribe = flag(&q, "autosubscribe", false)?;
    let dryrun = flag(&q, "dryrun", false)?;
    let key = normalise_key("repo_update", repository)?;
    let r = ImageRef::parse(&key).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let stored = deps
        .store
        .registry_credential(&deps.secrets, &caller.account, &r.registry)
        .await?;
    let (creds, insecure) = match stored {
        Some(c) => (
            Some(Credentials { username: c.record.registry_user.clone(), password: c.password.clone() }),
            !c.record.registry_verify,
        ),
        None => (None, false),
    };
    let tags = deps
        .registry
        .list_tags(&r, creds.as_ref(), insecure)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot list the tags of {key}: {e}")))?;
    let value = json!({ "autosubscribe": autosubscribe, "lookuptag": "latest", "tagcount": tags.len() }).to_string();
    if dryrun {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        return Ok(Json(vec![json!({
            "subscription_id": customs_store::subscription_id(&caller.account, &key, "repo_update"),
            "userId": caller.account,
            "subscription_type": "repo_update",
            "subscription_key": key,
            "subscription_value": value,
            "active": true,
            "created_at": now,
            "last_updated": now,
        })]));
    }
    let rec = match deps
        .store
        .add_subscription(&caller.account, "repo_update", &key, Some(&value), true)
        .await?
    {
        Some(r) => r,
        None => {
            let id = customs_store::subscription_id(&caller.account, &key, "repo_update");
            deps.store
                .update_subscription(&caller.account, &id, Some(true), Some(Some(value.as_str())))
                .await?
                .ok_or_else(|| ApiError::Internal("repo_update subscription vanished".into()))?
        }
    };
    deps.queues
        .send(&WatchSubscription { account: caller.account.clone(), subscription_id: rec.subscription_id.clone() })
        .await
        .map_err(|e| ApiError::Unavailable(format!("could not queue the repository scan: {e}")))?;
    info!(repository = %key, tags = tags.len(), "Repository watched");
    Ok(Json(vec![render(&rec)]))
}
