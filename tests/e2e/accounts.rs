//! Accounts and users: lifecycle, admin-only operations, `x-anchore-account`, throttled
//! logins, cached verification, and the isolation of one account from another across
//! every route of the route table.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use customs_tests::{Stack, basic_registry, registry};
use reqwest::Method;
use serde_json::{Value, json};

const DEFAULT_BUNDLE_ID: &str = "2c53a13c-1765-11e8-82ef-23527761d060";

async fn status_and_json(r: reqwest::RequestBuilder) -> Result<(u16, Value)> {
    let resp = r.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

#[tokio::test]
async fn accounts_and_users_have_a_lifecycle_and_admin_only_management() -> Result<()> {
    let stack = Stack::start().await?;
    stack.add_account("acme", "alice", "alice-pass-1").await?;
    let alice = |m: Method, p: &str| stack.request_as(m, p, "alice", "alice-pass-1");

    // whoami, and the default bundle is active in the new account.
    let (s, who) = status_and_json(alice(Method::GET, "/v1/account")).await?;
    assert_eq!(
        (s, who["name"].as_str(), who["type"].as_str()),
        (200, Some("acme"), Some("user")),
        "{who}"
    );
    let (s, user) = status_and_json(alice(Method::GET, "/v1/user")).await?;
    assert_eq!(
        (s, user["username"].as_str()),
        (200, Some("alice")),
        "{user}"
    );
    let (_, policies) = status_and_json(alice(Method::GET, "/v1/policies")).await?;
    assert!(
        policies.as_array().is_some_and(|p| p
            .iter()
            .any(|p| p["policyId"] == DEFAULT_BUNDLE_ID && p["active"] == true)),
        "{policies}"
    );

    // Account management is for admins; the header for admins only.
    let (s, body) = status_and_json(alice(Method::GET, "/v1/accounts")).await?;
    assert_eq!(s, 403, "{body}");
    let (s, _) =
        status_and_json(alice(Method::GET, "/v1/images").header("x-anchore-account", "admin"))
            .await?;
    assert_eq!(s, 403);
    let (s, _) =
        status_and_json(alice(Method::GET, "/v1/images").header("x-anchore-account", "acme"))
            .await?;
    assert_eq!(s, 200, "naming one's own account is harmless");
    let (s, acct) = status_and_json(
        stack
            .request(Method::GET, "/v1/account")
            .header("x-anchore-account", "acme"),
    )
    .await?;
    assert_eq!((s, acct["name"].as_str()), (200, Some("acme")), "{acct}");
    let (s, _) = status_and_json(
        stack
            .request(Method::GET, "/v1/account")
            .header("x-anchore-account", "nope"),
    )
    .await?;
    assert_eq!(s, 404);

    // Validation says what to fix.
    let (s, e) = status_and_json(
        stack
            .request(Method::POST, "/v1/accounts")
            .json(&json!({ "name": "acme" })),
    )
    .await?;
    assert_eq!(s, 400);
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("already exists")),
        "{e}"
    );
    let (s, e) = status_and_json(
        stack
            .request(Method::POST, "/v1/accounts")
            .json(&json!({ "name": "-x" })),
    )
    .await?;
    assert!(
        s == 400
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("3 to 128")),
        "{e}"
    );
    let (s, e) = status_and_json(
        stack
            .request(Method::POST, "/v1/accounts")
            .json(&json!({ "name": "zeta", "colour": "red" })),
    )
    .await?;
    assert!(
        s == 400 && e["message"].as_str().is_some_and(|m| m.contains("colour")),
        "unknown field named: {e}"
    );
    let (s, e) = status_and_json(
        stack
            .request(Method::POST, "/v1/accounts/acme/users")
            .json(&json!({ "username": "shorty", "password": "12" })),
    )
    .await?;
    assert!(
        s == 400
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("6 to 128")),
        "{e}"
    );
    let (s, users) = status_and_json(stack.request(Method::GET, "/v1/accounts/acme/users")).await?;
    assert_eq!(
        (s, users.as_array().map(Vec::len)),
        (200, Some(1)),
        "{users}"
    );

    // A password change: the old password stops working at once (this instance forgets
    // what it verified), the new one works.
    let (s, _) = status_and_json(
        stack
            .request(Method::POST, "/v1/accounts/acme/users/alice/credentials")
            .json(&json!({ "type": "password", "value": "alice-pass-2" })),
    )
    .await?;
    assert_eq!(s, 200);
    assert_eq!(
        status_and_json(alice(Method::GET, "/v1/account")).await?.0,
        401
    );
    let alice2 = |m: Method, p: &str| stack.request_as(m, p, "alice", "alice-pass-2");
    assert_eq!(
        status_and_json(alice2(Method::GET, "/v1/account")).await?.0,
        200
    );

    // Disable: users cannot log in; delete needs a disabled account.
    let (s, e) = status_and_json(stack.request(Method::DELETE, "/v1/accounts/acme")).await?;
    assert!(
        s == 400
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("disable it first")),
        "{e}"
    );
    let (s, st) = status_and_json(
        stack
            .request(Method::PUT, "/v1/accounts/acme/state")
            .json(&json!({ "state": "disabled" })),
    )
    .await?;
    assert_eq!((s, st), (200, json!({ "state": "disabled" })));
    assert_eq!(
        status_and_json(alice2(Method::GET, "/v1/account")).await?.0,
        401
    );
    let (s, _) = status_and_json(
        stack
            .request(Method::PUT, "/v1/accounts/admin/state")
            .json(&json!({ "state": "disabled" })),
    )
    .await?;
    assert_eq!(s, 400, "the admin account cannot be disabled");
    let (_, listed) =
        status_and_json(stack.request(Method::GET, "/v1/accounts?state=disabled")).await?;
    assert_eq!(
        listed.as_array().map(|a| a
            .iter()
            .filter_map(|x| x["name"].as_str())
            .collect::<Vec<_>>()),
        Some(vec!["acme"])
    );
    status_and_json(
        stack
            .request(Method::PUT, "/v1/accounts/acme/state")
            .json(&json!({ "state": "enabled" })),
    )
    .await?;
    assert_eq!(
        status_and_json(alice2(Method::GET, "/v1/account")).await?.0,
        200
    );

    // Deleting a user; then the account and everything it owns.
    let (s, _) =
        status_and_json(stack.request(Method::DELETE, "/v1/accounts/acme/users/alice")).await?;
    assert_eq!(s, 204);
    assert_eq!(
        status_and_json(alice2(Method::GET, "/v1/account")).await?.0,
        401
    );
    status_and_json(
        stack
            .request(Method::PUT, "/v1/accounts/acme/state")
            .json(&json!({ "state": "disabled" })),
    )
    .await?;
    let (s, _) = status_and_json(stack.request(Method::DELETE, "/v1/accounts/acme")).await?;
    assert_eq!(s, 204);
    assert_eq!(
        status_and_json(stack.request(Method::GET, "/v1/accounts/acme"))
            .await?
            .0,
        404
    );
    let (_, pol) = status_and_json(
        stack
            .request(Method::GET, "/v1/policies")
            .header("x-anchore-account", "acme"),
    )
    .await?;
    assert!(
        !pol.to_string().contains(DEFAULT_BUNDLE_ID),
        "the account's policies went with it: {pol}"
    );
    Ok(())
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_user_and_address() -> Result<()> {
    let stack = Stack::start().await?;
    stack.add_account("bobs", "bob", "bob-right-pass").await?;
    for i in 0..5 {
        let (s, _) = status_and_json(stack.request_as(
            Method::GET,
            "/v1/account",
            "bob",
            &format!("wrong-{i}"),
        ))
        .await?;
        assert_eq!(s, 401, "attempt {i}");
    }
    // Even the right password now waits, with a Retry-After.
    let resp = stack
        .request_as(Method::GET, "/v1/account", "bob", "bob-right-pass")
        .send()
        .await?;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .context("Retry-After")?;
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = resp.json().await?;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many failed logins")),
        "{body}"
    );
    // Other users, and the same user from another address, are not affected.
    assert_eq!(
        status_and_json(stack.request(Method::GET, "/v1/account"))
            .await?
            .0,
        200
    );
    let (s, _) = status_and_json(
        stack
            .request_as(Method::GET, "/v1/account", "bob", "bob-right-pass")
            .header("x-forwarded-for", "192.0.2.7"),
    )
    .await?;
    assert_eq!(s, 200);
    Ok(())
}

#[tokio::test]
async fn verified_credentials_are_remembered_so_argon2_runs_once() -> Result<()> {
    let stack = Stack::start().await?;
    let users: Vec<String> = (0..4).map(|i| format!("cache-user-{i}")).collect();
    stack
        .add_account("cachers", &users[0], "cache-pass")
        .await?;
    for u in &users[1..] {
        let (s, _) = status_and_json(
            stack
                .request(Method::POST, "/v1/accounts/cachers/users")
                .json(&json!({ "username": u, "password": "cache-pass" })),
        )
        .await?;
        ensure!(s == 200);
    }
    // First request per user: an argon2 verification. Then 25 more each: from memory.
    let mut first = Duration::ZERO;
    for u in &users {
        let t = Instant::now();
        assert_eq!(
            status_and_json(stack.request_as(Method::GET, "/v1/health", u, "cache-pass"))
                .await?
                .0,
            200
        );
        assert_eq!(
            status_and_json(stack.request_as(Method::GET, "/v1/account", u, "cache-pass"))
                .await?
                .0,
            200
        );
        first += t.elapsed();
    }
    let t = Instant::now();
    let mut n = 0u32;
    for _ in 0..25 {
        for u in &users {
            assert_eq!(
                status_and_json(stack.request_as(Method::GET, "/v1/account", u, "cache-pass"))
                    .await?
                    .0,
                200
            );
            n += 1;
        }
    }
    let cached = t.elapsed() / n;
    let uncached = first / u32::try_from(users.len())?;
    println!("login: first (argon2) {uncached:?} per request, remembered {cached:?} per request");
    assert!(
        cached * 2 < uncached,
        "remembered {cached:?} vs verified {uncached:?}"
    );
    Ok(())
}

/// B's identifiers, by path parameter name; the same for an id that does not exist.
struct Ids {
    digest: String,
    policy: String,
    subscription: String,
    webhook: String,
    event: String,
    registry: String,
}

impl Ids {
    fn for_param(&self, path: &str, name: &str) -> String {
        match name {
            "digest" => self.digest.clone(),
            "registry" => self.registry.clone(),
            "accountname" => "b-corp".into(),
            "username" => "b-user".into(),
            "ctype" => "os".into(),
            "mtype" => "manifest".into(),
            "vtype" => "all".into(),
            "format" => "cyclonedx-json".into(),
            "webhook_type" => "general".into(),
            "feed" => "osv".into(),
            "group" => "pypi".into(),
            "id" if path.starts_with("/policies") => self.policy.clone(),
            "id" if path.starts_with("/subscriptions") => self.subscription.clone(),
            "id" if path.starts_with("/webhooks") => self.webhook.clone(),
            "id" if path.starts_with("/events") => self.event.clone(),
            other => panic!(
                "no value for path parameter {other} of {path}: teach the isolation test about it"
            ),
        }
    }

    fn all(&self) -> [&str; 6] {
        [
            &self.digest,
            &self.policy,
            &self.subscription,
            &self.webhook,
            &self.event,
            &self.registry,
        ]
    }
}

/// A body that would succeed for the caller's own item, by schema name.
fn body_for(schema: &str) -> Value {
    match schema {
        "ImageAnalysisRequest" => {
            json!({ "tag": format!("{}/customs/isolation-none:nope", registry()) })
        }
        "PolicyBundle" => {
            json!({ "id": "a-own-policy", "name": "a", "version": "1_0", "policies": [], "mappings": [] })
        }
        "PolicyBundleRecord" => json!({ "active": true }),
        "RegistryConfigurationRequest" => {
            json!({ "registry": "127.0.0.1:5999", "registry_user": "a", "registry_pass": "a-pass", "registry_verify": false })
        }
        "SubscriptionRequest" => {
            json!({ "subscription_key": "127.0.0.1:5999/a/own:latest", "subscription_type": "tag_update" })
        }
        "SubscriptionUpdate" => json!({ "active": false }),
        "Webhook" => {
            json!({ "url": "http://127.0.0.1:9/a-hook", "secret": "a-hook-secret-0123456789" })
        }
        "AccountCreationRequest" => json!({ "name": "a-made-this" }),
        "AccountStatus" => json!({ "state": "disabled" }),
        "UserCreationRequest" => json!({ "username": "a-made-user", "password": "secret-pass" }),
        "AccessCredential" => json!({ "type": "password", "value": "taken-over" }),
        _ => json!({}),
    }
}

#[tokio::test]
async fn no_route_lets_one_account_read_change_or_infer_another_accounts_data() -> Result<()> {
    let stack = Stack::start().await?;
    stack.add_account("a-corp", "a-user", "a-pass-123").await?;
    stack.add_account("b-corp", "b-user", "b-pass-123").await?;
    let a = |m: Method, p: &str| stack.request_as(m, p, "a-user", "a-pass-123");
    let b = |m: Method, p: &str| stack.request_as(m, p, "b-user", "b-pass-123");

    // B owns one of everything.
    let tag = format!("{}/customs/tiny:latest", registry());
    let (s, img) =
        status_and_json(b(Method::POST, "/v1/images").json(&json!({ "tag": tag }))).await?;
    ensure!(s == 200, "{img}");
    stack.drain().await?;
    let (_, img) = status_and_json(b(Method::GET, &format!("/v1/images?fulltag={tag}"))).await?;
    let digest = img[0]["imageDigest"]
        .as_str()
        .context("B's digest")?
        .to_owned();
    ensure!(img[0]["analysis_status"] == "analyzed", "{img}");
    let bundle = json!({ "id": "b-secret-policy", "name": "b", "version": "1_0", "policies": [], "mappings": [] });
    let (s, p) = status_and_json(b(Method::POST, "/v1/policies").json(&bundle)).await?;
    ensure!(s == 200, "{p}");
    let (s, r) = status_and_json(b(Method::POST, "/v1/registries?validate=false").json(
        &json!({ "registry": basic_registry(), "registry_user": "customs", "registry_pass": "customs-pass", "registry_verify": false }),
    ))
    .await?;
    ensure!(s == 200, "{r}");
    let (_, subs) = status_and_json(b(Method::GET, "/v1/subscriptions")).await?;
    let subscription = subs[0]["subscription_id"]
        .as_str()
        .context("B's subscription")?
        .to_owned();
    let (s, w) = status_and_json(b(Method::POST, "/v1/webhooks").json(
        &json!({ "url": "http://127.0.0.1:9/b-hook", "secret": "b-hook-secret-0123456789" }),
    ))
    .await?;
    ensure!(s == 200, "{w}");
    let webhook = w["id"].as_str().context("B's webhook")?.to_owned();
    let (_, events) = status_and_json(b(Method::GET, "/v1/events")).await?;
    let event = events["results"][0]["generated_uuid"]
        .as_str()
        .context("B's event")?
        .to_owned();
    let ids = Ids {
        digest,
        policy: "b-secret-policy".into(),
        subscription,
        webhook,
        event,
        registry: basic_registry(),
    };
    let fake = Ids {
        digest: format!("sha256:{}", "0".repeat(64)),
        policy: "no-such-policy".into(),
        subscription: "0".repeat(32),
        webhook: uuid::Uuid::new_v4().to_string(),
        event: uuid::Uuid::new_v4().to_string(),
        registry: "127.0.0.1:5998".into(),
    };
    let before = snapshot(&b).await?;

    let ops = customs_api::operations();
    ensure!(
        ops.len() > 40,
        "the route table lists {} operations",
        ops.len()
    );
    let mut checked = 0;
    for op in &ops {
        if op.access == customs_api::Access::Public {
            continue;
        }
        let method = Method::from_bytes(op.method.as_bytes())?;
        let params = op.path_params();
        let path_with = |ids: &Ids| {
            let mut p = op.path.to_owned();
            for name in &params {
                let v = ids.for_param(op.path, name);
                p = p.replace(&format!("{{{name}}}"), &urlencode(&v));
            }
            format!("/v1{p}")
        };
        let query: String = op
            .query
            .iter()
            .filter(|q| q.required)
            .map(|q| match q.name {
                "tag" => format!("tag={}", urlencode(&tag)),
                "enabled" => "enabled=false".into(),
                "repository" => format!(
                    "repository={}",
                    urlencode(&format!("{}/customs/tiny", registry()))
                ),
                other => format!("{other}=x"),
            })
            .collect::<Vec<_>>()
            .join("&");
        let send = |ids: &Ids| {
            let url = if query.is_empty() {
                path_with(ids)
            } else {
                format!("{}?{query}", path_with(ids))
            };
            let mut r = a(method.clone(), &url);
            if let Some(schema) = op.body {
                r = r.json(&body_for(schema));
            }
            status_and_json(r)
        };
        let (s, got) = send(&ids).await?;
        let shown = got.to_string();
        let identifying = params.iter().any(|p| {
            matches!(
                *p,
                "digest" | "id" | "registry" | "accountname" | "username"
            )
        });
        if op.access == customs_api::Access::Admin {
            assert_eq!(s, 403, "{} {}: {shown}", op.method, op.path);
        } else if identifying {
            // Exactly what a made-up identifier gets, so nothing can be inferred.
            let (s2, other) = send(&fake).await?;
            let mut mine = shown.clone();
            let mut theirs = other.to_string();
            for (real, made_up) in ids.all().iter().zip(fake.all()) {
                mine = mine.replace(real, "<id>");
                theirs = theirs.replace(made_up, "<id>");
            }
            assert_eq!(
                (s, &mine),
                (s2, &theirs),
                "{} {}: B's identifier answers differently from a made-up one",
                op.method,
                op.path
            );
            assert!(
                !(200..300).contains(&s) || op.method == "DELETE" && op.path == "/images/{digest}",
                "{} {}: {s} {shown}",
                op.method,
                op.path
            );
        } else {
            for id in ids.all() {
                assert!(
                    !shown.contains(id),
                    "{} {} shows B's {id}: {shown}",
                    op.method,
                    op.path
                );
            }
            assert!(
                !shown.contains("b-corp") && !shown.contains("b-hook"),
                "{} {}: {shown}",
                op.method,
                op.path
            );
        }
        checked += 1;
    }
    println!("isolation: {checked} operations checked as account A against account B's data");

    // Nothing of B's changed.
    let after = snapshot(&b).await?;
    assert_eq!(before, after);
    Ok(())
}

/// Percent-encodes a path segment or query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (c as char).to_string()
            }
            _ => format!("%{c:02X}"),
        })
        .collect()
}

/// What B sees of its own data, minus timestamps that move by themselves.
async fn snapshot(
    b: &impl Fn(Method, &str) -> reqwest::RequestBuilder,
) -> Result<BTreeMap<&'static str, Value>> {
    let mut out = BTreeMap::new();
    for (name, path) in [
        ("images", "/v1/images?image_status=all"),
        ("policies", "/v1/policies"),
        ("registries", "/v1/registries"),
        ("subscriptions", "/v1/subscriptions"),
        ("webhooks", "/v1/webhooks"),
        ("account", "/v1/account"),
    ] {
        let (s, v) = status_and_json(b(Method::GET, path)).await?;
        ensure!(s == 200, "{path}: {s} {v}");
        out.insert(name, strip_times(v));
    }
    let (s, v) = status_and_json(b(Method::GET, "/v1/events?limit=1000")).await?;
    ensure!(s == 200);
    let ids: Vec<Value> = v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["generated_uuid"].clone())
        .collect();
    out.insert("events", Value::Array(ids));
    Ok(out)
}

fn strip_times(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "last_updated" | "last_checked" | "next_check" | "analyzed_at"
                    )
                })
                .map(|(k, v)| (k, strip_times(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_times).collect()),
        other => other,
    }
}
