//! `/v1/accounts`: accounts and their users (admin users only), and the caller's own
//! `GET /v1/account` and `GET /v1/user`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use customs_store::{ADMIN_ACCOUNT, AccountDeletion, AccountRecord, UserRecord};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::info;

use crate::auth::{ADMIN_USER, Caller, hash_password};
use crate::params::{Params, paginate};
use crate::routes::{Api, Kind, Operation, q};
use crate::schemas::{ACCOUNT_CREATE, ACCOUNT_STATE, CREDENTIAL, USER_CREATE};
use crate::{ApiError, AppState, render};

pub(crate) fn routes(api: Api) -> Api {
    let t = "Accounts";
    api.op(
        Operation::get("/account", "The caller's account").tag("Identity"),
        whoami,
    )
    .op(
        Operation::get("/user", "The caller's user record").tag("Identity"),
        me,
    )
    .op(
        Operation::get("/accounts", "List accounts")
            .tag(t)
            .admin()
            .list()
            .query(&[q(
                "state",
                Kind::Str,
                "only accounts in this state: enabled, disabled or deleting",
            )]),
        list,
    )
    .op(
        Operation::post(
            "/accounts",
            "Create an account (with the default policy bundle active)",
        )
        .tag(t)
        .admin()
        .body(ACCOUNT_CREATE),
        create,
    )
    .op(
        Operation::get("/accounts/{accountname}", "Get an account")
            .tag(t)
            .admin(),
        get_one,
    )
    .op(
        Operation::delete(
            "/accounts/{accountname}",
            "Delete a disabled account and everything it owns",
        )
        .tag(t)
        .admin(),
        delete,
    )
    .op(
        Operation::put(
            "/accounts/{accountname}/state",
            "Enable or disable an account",
        )
        .tag(t)
        .admin()
        .body(ACCOUNT_STATE),
        set_state,
    )
    .op(
        Operation::get(
            "/accounts/{accountname}/users",
            "List the users of an account",
        )
        .tag(t)
        .admin()
        .list(),
        users,
    )
    .op(
        Operation::post(
            "/accounts/{accountname}/users",
            "Create a user with a password",
        )
        .tag(t)
        .admin()
        .body(USER_CREATE),
        create_user,
    )
    .op(
        Operation::get("/accounts/{accountname}/users/{username}", "Get a user")
            .tag(t)
            .admin(),
        get_user,
    )
    .op(
        Operation::delete("/accounts/{accountname}/users/{username}", "Delete a user")
            .tag(t)
            .admin(),
        delete_user,
    )
    .op(
        Operation::post(
            "/accounts/{accountname}/users/{username}/credentials",
            "Set a user's password",
        )
        .tag(t)
        .admin()
        .body(CREDENTIAL),
        set_password,
    )
}

fn account_json(a: &AccountRecord) -> Value {
    json!({
        "name": a.name, "email": a.email, "type": a.kind, "state": a.state,
        "created_at": render::ts(a.created_at), "last_updated": render::ts(a.last_updated),
    })
}

fn user_json(u: &UserRecord) -> Value {
    json!({
        "username": u.username, "type": u.kind, "source": Value::Null,
        "created_at": render::ts(u.created_at), "last_updated": render::ts(u.last_updated),
    })
}

/// A JSON body of the given shape; unknown fields are refused with their name.
fn strict<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// Anchore's name rule: 3 to 128 characters, letters and digits at both ends.
fn valid_name(what: &str, name: &str) -> Result<(), ApiError> {
    let inner_ok = |c: char| c.is_ascii_alphanumeric() || "@.!#$+=^_`~;-".contains(c);
    let ends_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if (3..=128).contains(&name.len()) && ends_ok && name.chars().all(inner_ok) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "{what} {name:?} is not valid: use 3 to 128 characters (letters, digits and @.!#$+=^_`~;-), starting and ending with a letter or digit"
    )))
}

fn valid_password(p: &str) -> Result<(), ApiError> {
    if (6..=128).contains(&p.chars().count()) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "password must be 6 to 128 characters long",
    ))
}

async fn existing(deps: &AppState, name: &str) -> Result<AccountRecord, ApiError> {
    deps.store
        .account(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("account {name} not found")))
}

async fn whoami(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(account_json(&existing(&deps, &caller.account).await?)))
}

async fn me(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let u = deps
        .store
        .user(&caller.home_account, &caller.username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {} not found", caller.username)))?;
    Ok(Json(user_json(&u)))
}

async fn list(
    State(deps): State<AppState>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let state = match q.get("state").map(String::as_str) {
        None | Some("") => None,
        Some(s @ ("enabled" | "disabled" | "deleting")) => Some(s),
        Some(s) => {
            return Err(ApiError::bad_request(format!(
                "state={s:?}: expected enabled, disabled or deleting"
            )));
        }
    };
    let accounts = deps.store.accounts(state).await?;
    Ok(Json(
        paginate(&q, accounts)?.iter().map(account_json).collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
    email: Option<String>,
}

async fn create(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: NewAccount = strict(&body, "expected {\"name\": \"…\", \"email\": \"…\"}")?;
    valid_name("account name", &b.name)?;
    if let Some(e) = &b.email
        && (e.len() > 254 || !e.contains('@') || e.chars().any(char::is_whitespace))
    {
        return Err(ApiError::bad_request(format!(
            "email {e:?} is not an email address"
        )));
    }
    let a = deps
        .store
        .create_account(&b.name, b.email.as_deref())
        .await?
        .ok_or_else(|| ApiError::bad_request(format!("account {} already exists", b.name)))?;
    // A new account starts with Anchore's default bundle active, as in the engine.
    let default: Value = serde_json::from_str(customs_policy::DEFAULT_BUNDLE)
        .map_err(|e| ApiError::Internal(format!("default bundle: {e}")))?;
    let id = default
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("default");
    deps.store
        .ensure_active_policy(
            &a.name,
            id,
            default.get("name").and_then(Value::as_str),
            &default,
        )
        .await?;
    info!(account = %a.name, by = %caller.username, "Account created");
    Ok(Json(account_json(&a)))
}

async fn get_one(
    State(deps): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(account_json(&existing(&deps, &name).await?)))
}

async fn delete(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if name == ADMIN_ACCOUNT || name == caller.home_account {
        return Err(ApiError::bad_request(format!(
            "account {name} cannot be deleted: it is the admin account or your own"
        )));
    }
    match deps.store.delete_account(&name).await? {
        AccountDeletion::Deleted => {
            deps.auth.forget_verified();
            info!(account = %name, by = %caller.username, "Account deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        AccountDeletion::NotFound => Err(ApiError::NotFound(format!("account {name} not found"))),
        AccountDeletion::StillEnabled => Err(ApiError::bad_request(format!(
            "account {name} is enabled: disable it first (PUT /v1/accounts/{name}/state {{\"state\": \"disabled\"}})"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewState {
    state: String,
}

async fn set_state(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: NewState = strict(
        &body,
        "expected {\"state\": \"enabled\"} or {\"state\": \"disabled\"}",
    )?;
    if !matches!(b.state.as_str(), "enabled" | "disabled") {
        return Err(ApiError::bad_request(format!(
            "state {:?}: expected enabled or disabled",
            b.state
        )));
    }
    if b.state == "disabled" && (name == ADMIN_ACCOUNT || name == caller.home_account) {
        return Err(ApiError::bad_request(format!(
            "account {name} cannot be disabled: it is the admin account or your own"
        )));
    }
    let a = deps
        .store
        .set_account_state(&name, &b.state)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("account {name} not found")))?;
    deps.auth.forget_verified();
    info!(account = %name, state = %a.state, by = %caller.username, "Account state set");
    Ok(Json(json!({ "state": a.state })))
}

async fn users(
    State(deps): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Vec<Value>>, ApiError> {
    existing(&deps, &name).await?;
    let users = deps.store.users(&name).await?;
    Ok(Json(paginate(&q, users)?.iter().map(user_json).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
}

async fn create_user(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: NewUser = strict(&body, "expected {\"username\": \"…\", \"password\": \"…\"}")?;
    valid_name("username", &b.username)?;
    valid_password(&b.password)?;
    existing(&deps, &name).await?;
    let hash = hash_password(b.password).await?;
    let u = deps
        .store
        .create_user(&name, &b.username, &hash)
        .await?
        .ok_or_else(|| ApiError::bad_request(format!("user {} already exists", b.username)))?;
    info!(account = %name, user = %u.username, by = %caller.username, "User created");
    Ok(Json(user_json(&u)))
}

async fn get_user(
    State(deps): State<AppState>,
    Path((name, user)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let u =
        deps.store.user(&name, &user).await?.ok_or_else(|| {
            ApiError::NotFound(format!("user {user} not found in account {name}"))
        })?;
    Ok(Json(user_json(&u)))
}

async fn delete_user(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if user == ADMIN_USER || user == caller.username {
        return Err(ApiError::bad_request(format!(
            "user {user} cannot be deleted: it is the configured admin or yourself"
        )));
    }
    if !deps.store.delete_user(&name, &user).await? {
        return Err(ApiError::NotFound(format!(
            "user {user} not found in account {name}"
        )));
    }
    deps.auth.forget_verified();
    info!(account = %name, user = %user, by = %caller.username, "User deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credential {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    #[allow(dead_code)]
    #[serde(default)]
    created_at: Option<Value>,
}

async fn set_password(
    State(deps): State<AppState>,
    Path((name, user)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: Credential = strict(&body, "expected {\"type\": \"password\", \"value\": \"…\"}")?;
    if b.kind != "password" {
        return Err(ApiError::bad_request(format!(
            "credential type {:?}: only \"password\" is supported",
            b.kind
        )));
    }
    valid_password(&b.value)?;
    if user == ADMIN_USER {
        return Err(ApiError::bad_request(
            "the admin user's password is configuration (CUSTOMS_ADMIN_PASSWORD)",
        ));
    }
    let hash = hash_password(b.value).await?;
    if !deps.store.set_user_password(&name, &user, &hash).await? {
        return Err(ApiError::NotFound(format!(
            "user {user} not found in account {name}"
        )));
    }
    deps.auth.forget_verified();
    let u =
        deps.store.user(&name, &user).await?.ok_or_else(|| {
            ApiError::NotFound(format!("user {user} not found in account {name}"))
        })?;
    Ok(Json(user_json(&u)))
}
