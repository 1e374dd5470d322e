//! `customs registry|subscription|event|system|feeds …`.

use serde_json::{Value, json};

use crate::args::{EventCmd, FeedsCmd, RegistryCmd, SubscriptionCmd, SystemCmd};
use crate::client::{segment, str_at};
use crate::output::{Cell, Table, fields, print_json, status_colour, text};
use crate::{Ctx, Error, Outcome};

fn t(v: &Value, key: &str) -> String {
    text(v.get(key).unwrap_or(&Value::Null))
}

fn coloured(s: String) -> Cell {
    let c = status_colour(&s);
    Cell::coloured(s, c)
}

pub(crate) async fn registry(ctx: &Ctx, cmd: RegistryCmd) -> Result<Outcome, Error> {
    let table = |v: &Value| {
        let mut tb = Table::new(&["Registry", "Name", "Type", "User", "Verify TLS", "Updated"]);
        for r in v.as_array().into_iter().flatten() {
            tb.row(vec![
                t(r, "registry").into(),
                t(r, "registry_name").into(),
                t(r, "registry_type").into(),
                t(r, "registry_user").into(),
                t(r, "registry_verify").into(),
                t(r, "last_updated").into(),
            ]);
        }
        tb.render(&ctx.style)
    };
    let v = match cmd {
        RegistryCmd::Add {
            registry,
            registry_user,
            registry_pass,
            insecure,
            skip_validate,
            registry_type,
            registry_name,
        } => {
            let body = json!({
                "registry": registry, "registry_user": registry_user, "registry_pass": registry_pass,
                "registry_type": registry_type, "registry_verify": !insecure,
                "registry_name": registry_name.unwrap_or_else(|| registry.clone()),
            });
            ctx.client
                .post(
                    "/registries",
                    &[("validate", (!skip_validate).to_string())],
                    &body,
                )
                .await?
        }
        RegistryCmd::List => ctx.client.get("/registries", &[]).await?,
        RegistryCmd::Del { registry } => {
            let v = ctx
                .client
                .delete(&format!("/registries/{}", segment(&registry)), &[])
                .await?;
            if !ctx.style.json {
                outln!("Success: {registry} deleted");
                return Ok(Outcome::Ok);
            }
            v
        }
    };
    if ctx.style.json {
        print_json(&v);
    } else {
        out!("{}", table(&v));
    }
    Ok(Outcome::Ok)
}

pub(crate) async fn subscription(ctx: &Ctx, cmd: SubscriptionCmd) -> Result<Outcome, Error> {
    let (kind, key, active) = match cmd {
        SubscriptionCmd::List => {
            let v = ctx.client.get("/subscriptions", &[]).await?;
            if ctx.style.json {
                print_json(&v);
            } else {
                let mut tb = Table::new(&["Tag", "Subscription Type", "Active", "Subscription ID"]);
                for s in v.as_array().into_iter().flatten() {
                    tb.row(vec![
                        t(s, "subscription_key").into(),
                        t(s, "subscription_type").into(),
                        coloured(t(s, "active")),
                        t(s, "subscription_id").into(),
                    ]);
                }
                out!("{}", tb.render(&ctx.style));
            }
            return Ok(Outcome::Ok);
        }
        SubscriptionCmd::Activate {
            subscription_type,
            subscription_key,
        } => (subscription_type, subscription_key, true),
        SubscriptionCmd::Deactivate {
            subscription_type,
            subscription_key,
        } => (subscription_type, subscription_key, false),
    };
    let found = ctx
        .client
        .get(
            "/subscriptions",
            &[
                ("subscription_key", key.clone()),
                ("subscription_type", kind.clone()),
            ],
        )
        .await?;
    let id = found
        .as_array()
        .and_then(|a| a.first())
        .map(|s| str_at(s, "subscription_id").to_owned())
        .ok_or_else(|| Error::Api {
            status: 404,
            message: format!(
                "no {kind} subscription for {key}; `customs subscription list` shows them"
            ),
            body: Value::Null,
        })?;
    let v = ctx
        .client
        .put(
            &format!("/subscriptions/{}", segment(&id)),
            &[],
            &json!({ "active": active, "subscription_key": key, "subscription_type": kind }),
        )
        .await?;
    if ctx.style.json {
        print_json(&v);
    } else {
        outln!(
            "Success: {kind} {key} {}",
            if active { "activated" } else { "deactivated" }
        );
    }
    Ok(Outcome::Ok)
}

pub(crate) async fn event(ctx: &Ctx, cmd: EventCmd) -> Result<Outcome, Error> {
    match cmd {
        EventCmd::List {
            resource,
            level,
            event_type,
            resource_type,
            since,
            before,
            all,
        } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            for (k, v) in [
                ("resource_id", resource),
                ("level", level),
                ("event_type", event_type),
                ("resource_type", resource_type),
                ("since", since),
                ("before", before),
            ] {
                if let Some(v) = v {
                    query.push((k, v));
                }
            }
            let mut results = Vec::new();
            let mut page = 1u64;
            loop {
                let mut q = query.clone();
                q.push(("page", page.to_string()));
                let v = ctx.client.get("/events", &q).await?;
                results.extend(
                    v.get("results")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
                if !all || v.get("next_page") != Some(&Value::Bool(true)) {
                    break;
                }
                page += 1;
            }
            if ctx.style.json {
                print_json(&Value::Array(results));
                return Ok(Outcome::Ok);
            }
            let mut tb = Table::new(&["Timestamp", "Level", "Event", "Resource", "Event ID"]);
            for r in &results {
                let e = r.get("event").unwrap_or(&Value::Null);
                let level = t(e, "level");
                let resource = e.pointer("/resource/id").map(text).unwrap_or_default();
                tb.row(vec![
                    t(e, "timestamp").into(),
                    coloured(level.to_ascii_lowercase()),
                    t(e, "type").into(),
                    resource.into(),
                    t(r, "generated_uuid").into(),
                ]);
            }
            out!("{}", tb.render(&ctx.style));
        }
        EventCmd::Get { event_id } => {
            let v = ctx
                .client
                .get(&format!("/events/{}", segment(&event_id)), &[])
                .await?;
            if ctx.style.json {
                print_json(&v);
            } else {
                let e = v.get("event").unwrap_or(&Value::Null);
                out!(
                    "{}",
                    fields(
                        &ctx.style,
                        &[
                            ("Event ID", t(&v, "generated_uuid").into()),
                            ("Timestamp", t(e, "timestamp").into()),
                            ("Level", coloured(t(e, "level").to_ascii_lowercase())),
                            ("Type", t(e, "type").into()),
                            (
                                "Resource",
                                format!(
                                    "{} {}",
                                    e.pointer("/resource/type").map(text).unwrap_or_default(),
                                    e.pointer("/resource/id").map(text).unwrap_or_default()
                                )
                                .into()
                            ),
                            ("Message", t(e, "message").into()),
                        ]
                    )
                );
                if let Some(d) = e.get("details").filter(|d| !d.is_null()) {
                    outln!("Details:");
                    print_json(d);
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

pub(crate) async fn system(ctx: &Ctx, cmd: SystemCmd) -> Result<Outcome, Error> {
    let SystemCmd::Status = cmd;
    let v = ctx.client.get("/system", &[]).await?;
    if ctx.style.json {
        print_json(&v);
        return Ok(Outcome::Ok);
    }
    let mut tb = Table::new(&["Service", "Host", "URL", "Status", "Message", "Version"]);
    for s in v
        .get("service_states")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let up = if s.get("status") == Some(&Value::Bool(true)) {
            "up"
        } else {
            "down"
        };
        tb.row(vec![
            t(s, "servicename").into(),
            t(s, "hostid").into(),
            t(s, "base_url").into(),
            coloured(up.into()),
            t(s, "status_message").into(),
            s.pointer("/service_detail/version")
                .map(text)
                .unwrap_or_default()
                .into(),
        ]);
    }
    out!("{}", tb.render(&ctx.style));
    Ok(Outcome::Ok)
}

pub(crate) async fn feeds(ctx: &Ctx, cmd: FeedsCmd) -> Result<Outcome, Error> {
    match cmd {
        FeedsCmd::List => {
            let v = ctx.client.get("/system/feeds", &[]).await?;
            if ctx.style.json {
                print_json(&v);
                return Ok(Outcome::Ok);
            }
            let mut tb = Table::new(&["Feed", "Group", "Enabled", "Last Sync", "Records"]);
            for f in v.as_array().into_iter().flatten() {
                for g in f
                    .get("groups")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let last = g
                        .get("last_sync")
                        .filter(|l| !l.is_null())
                        .map_or_else(|| "pending".to_owned(), text);
                    tb.row(vec![
                        t(f, "name").into(),
                        t(g, "name").into(),
                        t(g, "enabled").into(),
                        coloured(last),
                        t(g, "record_count").into(),
                    ]);
                }
            }
            out!("{}", tb.render(&ctx.style));
        }
        FeedsCmd::Sync { flush } => {
            let v = ctx
                .client
                .post(
                    "/system/feeds",
                    &[("flush", flush.to_string())],
                    &Value::Null,
                )
                .await?;
            if ctx.style.json {
                print_json(&v);
            } else if let Some(list) = v.as_array() {
                let mut tb = Table::new(&[
                    "Feed",
                    "Group",
                    "Status",
                    "Records Updated",
                    "Sync Duration",
                ]);
                for f in list {
                    for g in f
                        .get("groups")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let secs = g
                            .get("total_time_seconds")
                            .and_then(Value::as_f64)
                            .unwrap_or_default();
                        tb.row(vec![
                            t(f, "feed").into(),
                            t(g, "group").into(),
                            coloured(t(g, "status")),
                            t(g, "updated_record_count").into(),
                            format!("{secs:.2}s").into(),
                        ]);
                    }
                }
                if tb.is_empty() {
                    outln!("Success: feed sync requested");
                } else {
                    out!("{}", tb.render(&ctx.style));
                }
            } else {
                outln!("Success: feed sync requested");
            }
        }
    }
    Ok(Outcome::Ok)
}
