//! `/v1/system/feeds`: feed status and sync requests, in Anchore's shapes
//! (FeedMetadata, FeedSyncResults).

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use crate::routes::{Api, Kind, Operation, q};
use customs_contracts::{FeedSync, FeedSyncTrigger};
use customs_store::FeedStatus;
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::auth::Caller;
use crate::params::{flag, Params};
use crate::render::ts;
use crate::{ApiError, AppState};

pub(crate) fn routes(api: Api) -> Api {
    api.op(Operation::get("/system/feeds", "Feeds and their groups, with sync state").tag("System").list(), list)
        .op(
            Operation::post("/system/feeds", "Sync the feeds now").tag("System").admin()
                .query(&[q("flush", Kind::Bool, "drop the feed data first"), q("sync", Kind::Bool, "sync (default true)")]),
            sync,
        )
        .op(
            Operation::put("/system/feeds/{feed}", "Enable or disable a feed").tag("System").admin()
                .query(&[crate::routes::required("enabled", Kind::Bool, "true to enable, false to disable")]),
            set_enabled,
        )
        .op(
            Operation::put("/system/feeds/{feed}/{group}", "Enable or disable one group of a feed").tag("System").admin()
                .query(&[crate::routes::required("enabled", Kind::Bool, "true to enable, false to disable")]),
            set_group_enabled,
        )
}

fn feed_metadata(f: &FeedStatus) -> Value {
    json!({
        "name": f.name,
        "created_at": ts(f.created_at),
        "updated_at": ts(f.updated_at),
        "last_full_sync": f.last_full_sync.map(ts),
        "enabled": f.enabled,
        "groups": f.groups.iter().map(|g| json!({
            "name": g.name,
            "created_at": ts(g.created_at),
            "updated_at": ts(g.updated_at),
            // null means "pending" to anchore-cli
            "last_sync": g.last_sync.map(ts),
            "enabled": g.enabled,
            "record_count": g.record_count,
        })).collect::<Vec<_>>(),
    })
}

async fn list(State(deps): State<AppState>, Extension(_caller): Extension<Caller>, Query(q): Query<Params>) -> Result<Json<Vec<Value>>, ApiError> {
    let feeds = deps.store.feeds_status().await?;
    Ok(Json(crate::params::paginate(&q, feeds)?.iter().map(feed_metadata).collect()))
}

/// Queues a sync of every enabled feed. The sync runs in the feed-sync function, so each
/// feed is reported `queued`; `GET /v1/system/feeds` shows the outcome.
async fn sync(State(deps): State<AppState>, Extension(caller): Extension<Caller>, Query(q): Query<Params>) -> Result<Json<Vec<Value>>, ApiError> {
    let flush = flag(&q, "flush", false)?;
    flag(&q, "sync", true)?;
    let msg = FeedSync { trigger: FeedSyncTrigger::Api, flush, feed: None };
    let id = deps.queues.send(&msg).await.map_err(|e| {
        warn!(error = %e, "Feed sync not queued");
        ApiError::Unavailable(format!("could not queue the feed sync: {e}; try again"))
    })?;
    info!(account = %caller.account, flush, message_id = %id, "Queued feed sync");
    let feeds = deps.store.feeds_status().await?;
    let result = |name: &str, groups: Vec<Value>| json!({ "feed": name, "status": "queued", "total_time_seconds": 0.0, "groups": groups });
    let mut out: Vec<Value> = feeds
        .iter()
        .filter(|f| f.enabled)
        .map(|f| {
            let groups = f
                .groups
                .iter()
                .filter(|g| g.enabled)
                .map(|g| json!({ "group": g.name, "status": "queued", "updated_image_count": 0, "updated_record_count": 0, "total_time_seconds": 0.0 }))
                .collect();
            result(&f.name, groups)
        })
        .collect();
    if out.is_empty() {
        out.push(result("all", vec![]));
    }
    Ok(Json(out))
}

/// `PUT /system/feeds/{feed}?enabled=`: a disabled feed is skipped by syncs.
async fn set_enabled(
    State(deps): State<AppState>,
    Extension(_caller): Extension<Caller>,
    Path(feed): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    if q.get("enabled").is_none_or(|v| v.is_empty()) {
        return Err(ApiError::bad_request("query parameter enabled=true|false is required"));
    }
    let enabled = flag(&q, "enabled", true)?;
    if !deps.store.set_feed_enabled(&feed, enabled).await? {
        return Err(ApiError::NotFound(format!("feed {feed} not found; GET /v1/system/feeds lists the feeds")));
    }
    let feeds = deps.store.feeds_status().await?;
    let f = feeds.iter().find(|f| f.name == feed).ok_or_else(|| ApiError::NotFound(format!("feed {feed} not found")))?;
    Ok(Json(feed_metadata(f)))
}

/// `PUT /system/feeds/{feed}/{group}?enabled=`: a disabled group's records are left out of
/// syncs (Anchore's FeedGroupMetadata list of the feed is returned).
async fn set_group_enabled(
    State(deps): State<AppState>,
    Extension(_caller): Extension<Caller>,
    Path((feed, group)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    if q.get("enabled").is_none_or(|v| v.is_empty()) {
        return Err(ApiError::bad_request("query parameter enabled=true|false is required"));
    }
    let enabled = flag(&q, "enabled", true)?;
    if !deps.store.set_feed_group_enabled(&feed, &group, enabled).await? {
        return Err(ApiError::NotFound(format!("group {group} of feed {feed} not found; GET /v1/system/feeds lists the groups")));
    }
    let feeds = deps.store.feeds_status().await?;
    let f = feeds.iter().find(|f| f.name == feed).ok_or_else(|| ApiError::NotFound(format!("feed {feed} not found")))?;
    Ok(Json(feed_metadata(f)["groups"].clone()))
}
