//! `/v1/events` and `/v1/event_types`: the account's event log, Anchore's shapes.

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use crate::routes::{Api, Kind, LIMIT, Operation, PAGE, q};
use customs_store::{EventFilter, EventRecord, event_type};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::auth::Caller;
use crate::params::Params;
use crate::{ApiError, AppState, render};

pub(crate) fn routes(api: Api) -> Api {
    let t = "Events";
    let filters = [
        q("event_type", Kind::Str, "event type, `*` as a wildcard (user.*)"),
        q("resource_type", Kind::Str, "image_tag, image_digest, …"),
        q("resource_id", Kind::Str, "the resource's id"),
        q("level", Kind::Str, "info or error"),
        q("source_servicename", Kind::Str, "service that generated the event"),
        q("source_hostid", Kind::Str, "host that generated the event"),
        q("since", Kind::Str, "ISO-8601 time: only newer events"),
        q("before", Kind::Str, "ISO-8601 time: only older events"),
    ];
    api.op(Operation::get("/events", "List events, newest first ({results, next_page, item_count, page})").tag(t).query(&filters).query(&[PAGE, LIMIT]), list)
        .op(
            Operation::delete("/events", "Delete events").tag(t).query(&[filters[3], filters[6], filters[7]]),
            remove_many,
        )
        .op(Operation::get("/events/{id}", "Get an event").tag(t), get_one)
        .op(Operation::delete("/events/{id}", "Delete an event").tag(t), remove)
        .op(Operation::get("/event_types", "The event types, by category").tag(t).list(), types)
}

/// `EventResponse`.
pub(crate) fn render_event(e: &EventRecord) -> Value {
    let category: String = e.event_type.split('.').take(2).collect::<Vec<_>>().join(".");
    json!({
        "generated_uuid": e.id,
        "created_at": render::ts(e.created_at),
        "event": {
            "type": e.event_type,
            "category": category,
            "level": e.level,
            "message": e.message,
            "details": e.details,
            "timestamp": render::ts(e.created_at),
            "resource": { "user_id": e.account, "id": e.resource_id, "type": e.resource_type },
            "source": {
                "servicename": e.source_servicename,
                "hostid": e.source_hostid,
                "base_url": null,
                "request_id": null,
            },
        },
    })
}

/// ISO-8601 / RFC 3339 times; a time without a zone is taken as UTC (as anchore-cli
/// users tend to type it).
fn time_param(q: &Params, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    let Some(v) = q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let candidates = [v.to_owned(), format!("{v}Z"), format!("{v}T00:00:00Z")];
    candidates
        .iter()
        .find_map(|c| OffsetDateTime::parse(c, &Rfc3339).ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request(format!("{name}={v:?} is not an ISO-8601 time such as 2024-05-01T12:00:00Z")))
}

fn text(q: &Params, name: &str) -> Option<String> {
    q.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn number(q: &Params, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
    match text(q, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("{name}={v:?} must be a whole number from 1 to {max}"))),
    }
}

fn level(q: &Params) -> Result<Option<String>, ApiError> {
    match text(q, "level") {
        None => Ok(None),
        Some(l) if matches!(l.to_ascii_lowercase().as_str(), "info" | "error") => Ok(Some(l.to_ascii_uppercase())),
        Some(l) => Err(ApiError::bad_request(format!("level={l:?} must be info or error"))),
    }
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let page = number(&q, "page", 1, i64::from(i32::MAX))?;
    let f = EventFilter {
        event_type: text(&q, "event_type"),
        resource_type: text(&q, "resource_type"),
        resource_id: text(&q, "resource_id"),
        level: level(&q)?,
        source_servicename: text(&q, "source_servicename"),
        source_hostid: text(&q, "source_hostid"),
        since: time_param(&q, "since")?,
        before: time_param(&q, "before")?,
        page,
        limit: number(&q, "limit", 100, 1000)?,
    };
    let (events, more) = deps.store.events(&caller.account, &f).await?;
    Ok(Json(json!({
        "results": events.iter().map(render_event).collect::<Vec<_>>(),
        "next_page": more,
        "item_count": events.len(),
        "page": page,
    })))
}

fn event_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound(format!("event {id} not found")))
}

async fn get_one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = deps
        .store
        .event(&caller.account, event_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event {id} not found")))?;
    // Where each notification target stands (customs' addition; anchore-cli ignores it).
    let deliveries: Vec<Value> = deps
        .store
        .deliveries(e.id)
        .await?
        .iter()
        .map(|d| {
            json!({
                "target": d.target, "status": d.status, "attempts": d.attempts,
                "last_http_status": d.last_status, "last_error": d.last_error,
                "delivered_at": d.delivered_at.map(crate::render::ts),
            })
        })
        .collect();
    let mut out = render_event(&e);
    if let Value::Object(m) = &mut out {
        m.insert("customs_deliveries".into(), Value::Array(deliveries));
    }
    Ok(Json(out))
}

async fn remove(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !deps.store.delete_event(&caller.account, event_id(&id)?).await? {
        return Err(ApiError::NotFound(format!("event {id} not found")));
    }
    Ok(Json(json!("deleted")))
}

async fn remove_many(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<String>>, ApiError> {
    let ids = deps
        .store
        .delete_events(
            &caller.account,
            time_param(&q, "since")?,
            time_param(&q, "before")?,
            level(&q)?.as_deref(),
        )
        .await?;
    Ok(Json(ids.iter().map(Uuid::to_string).collect()))
}

/// `EventTypesList`: categories (`user.image`, …) holding the event types.
async fn types(Query(q): Query<Params>) -> Result<Json<Value>, ApiError> {
    let mut cats: Vec<(String, Vec<Value>)> = Vec::new();
    for t in event_type::ALL {
        let cat: String = t.split('.').take(2).collect::<Vec<_>>().join(".");
        let entry = json!({ "name": t, "type": t });
        match cats.iter_mut().find(|(c, _)| *c == cat) {
            Some((_, v)) => v.push(entry),
            None => cats.push((cat, vec![entry])),
        }
    }
    let cats = crate::params::paginate(&q, cats)?;
    Ok(Json(Value::Array(
        cats.into_iter()
            .map(|(c, events)| json!({ "name": c, "description": null, "subcategories": [{ "name": c, "description": null, "events": events }] }))
            .collect(),
    )))
}
