//! What a notification says: Anchore's webhook shape and customs' own versioned shape.

use customs_store::EventRecord;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

/// The name and version of customs' own payload shape.
pub const CUSTOMS_SCHEMA: &str = "customs.notification/v1";

fn ts(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

/// `info` or `error` from the event level, or the worst vulnerability severity the event
/// names (`details.max_severity`) when it has one.
pub fn severity(e: &EventRecord) -> String {
    e.details["max_severity"]
        .as_str()
        .map_or_else(|| e.level.to_ascii_lowercase(), |s| s.to_ascii_lowercase())
}

/// The notification type (subscription type) the event is delivered as.
pub fn notification_type(e: &EventRecord) -> &str {
    e.notification_type.as_deref().unwrap_or("event_log")
}

/// Anchore's queued-notification record (`generated_test_webhook_notifications.json`):
/// the event's details become the type-specific payload fields.
pub fn anchore(e: &EventRecord, tries: i32) -> Value {
    let kind = notification_type(e);
    let created = e.created_at.unix_timestamp();
    let mut payload = Map::new();
    payload.insert("userId".into(), json!(e.account));
    payload.insert("notificationId".into(), json!(e.id));
    payload.insert("subscription_key".into(), json!(e.resource_id));
    payload.insert("subscription_type".into(), json!(kind));
    if let Value::Object(details) = &e.details {
        for (k, v) in details {
            if k != "subscription_type" {
                payload.insert(k.clone(), v.clone());
            }
        }
    }
    json!({
        "queueId": kind,
        "userId": e.account,
        "dataId": e.id,
        "created_at": created,
        "last_updated": created,
        "record_state_key": "active",
        "record_state_val": null,
        "tries": tries,
        "max_tries": created + 3600,
        "data": {
            "notification_user": e.account,
            "notification_user_email": null,
            "notification_type": kind,
            "notification_payload": payload,
        }
    })
}

/// customs' shape: stable field names, versioned by `schema`.
pub fn customs(e: &EventRecord) -> Value {
    json!({
        "schema": CUSTOMS_SCHEMA,
        "id": e.id,
        "account": e.account,
        "event_type": e.event_type,
        "notification_type": e.notification_type,
        "level": e.level,
        "severity": severity(e),
        "message": e.message,
        "resource": { "type": e.resource_type, "id": e.resource_id },
        "created_at": ts(e.created_at),
        "details": e.details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn event() -> EventRecord {
        EventRecord {
            id: Uuid::nil(),
            account: "admin".into(),
            event_type: "user.checks.tag.digest.update".into(),
            level: "INFO".into(),
            message: "m".into(),
            details: json!({ "curr_eval": ["sha256:b"], "last_eval": ["sha256:a"], "annotations": {}, "subscription_type": "tag_update" }),
            resource_type: "image_tag".into(),
            resource_id: "r/x:1".into(),
            source_servicename: "watch".into(),
            source_hostid: "h".into(),
            notification_type: Some("tag_update".into()),
            notify: true,
            notified_at: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn anchore_shape_matches_the_reference_notification() {
        let reference: Value = serde_json::from_str(include_str!(
            "../testdata/anchore/generated_test_webhook_notifications.json"
        ))
        .expect("reference notifications");
        let ours = anchore(&event(), 0);
        let theirs = &reference["tag_update"];
        let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        assert!(!keys(theirs).is_empty());
        for k in keys(theirs) {
            assert!(ours.get(&k).is_some(), "missing {k}");
        }
        for k in keys(&theirs["data"]) {
            assert!(ours["data"].get(&k).is_some(), "data misses {k}");
        }
        for k in keys(&theirs["data"]["notification_payload"]) {
            assert!(ours["data"]["notification_payload"].get(&k).is_some(), "payload misses {k}");
        }
        assert_eq!(ours["data"]["notification_payload"]["curr_eval"], json!(["sha256:b"]));
        assert_eq!(customs(&event())["schema"], CUSTOMS_SCHEMA);
    }
}
