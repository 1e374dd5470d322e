//! HTTP Basic authentication of account users.
//!
//! The `admin` user's password is configuration (`CUSTOMS_ADMIN_PASSWORD`); every other
//! user's is an argon2id hash in `account_users`. argon2 is deliberately slow, so a
//! verified credential is remembered (as a SHA-256 of user and password, never the
//! password) for [`CACHE_TTL`]; changes to users and accounts clear the memory. Failed
//! logins are counted per user and client address: after [`MAX_FAILURES`] within
//! [`FAILURE_WINDOW`] that pair gets 429 until the window ends, and a user failing from
//! many addresses is throttled as a whole after [`MAX_FAILURES_PER_USER`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use customs_store::ADMIN_ACCOUNT;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::{ApiError, AppState};

/// The configured user of the admin account.
pub(crate) const ADMIN_USER: &str = "admin";
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(60);
pub(crate) const MAX_FAILURES: u32 = 5;
pub(crate) const MAX_FAILURES_PER_USER: u32 = 50;
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Bounds on the in-memory maps, so that a flood of distinct names cannot grow them.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
struct Verified {
    caller: Caller,
    until: Instant,
}

#[derive(Default)]
struct Memory {
    verified: HashMap<[u8; 32], Verified>,
    /// (username, client address or `*`) → (failures, start of the window).
    failures: HashMap<(String, String), (u32, Instant)>,
}

#[derive(Clone)]
pub struct AuthConfig {
    /// SHA-256 of the admin password; the plain text is not kept.
    admin_password_sha256: [u8; 32],
    memory: Arc<Mutex<Memory>>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthConfig { .. }")
    }
}

impl AuthConfig {
    pub fn new(admin_password: &str) -> Self {
        Self {
            admin_password_sha256: Sha256::digest(admin_password.as_bytes()).into(),
            memory: Arc::default(),
        }
    }

    /// `CUSTOMS_ADMIN_PASSWORD` is required: there is no default password.
    pub fn from_env() -> Result<Self, customs_runtime::RuntimeError> {
        let pw = customs_runtime::config::required(
            "CUSTOMS_ADMIN_PASSWORD",
            " (the admin user's password)",
        )?;
        Ok(Self::new(&pw))
    }

    fn is_admin_password(&self, password: &str) -> bool {
        let got: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        // Compare without an early exit, so timing says nothing about the password.
        got.iter()
            .zip(self.admin_password_sha256.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding the lock leaves plain maps behind; keep using them.
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets every verified credential (after a user or account changed).
    pub(crate) fn forget_verified(&self) {
        self.memory().verified.clear();
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Caller> {
        let mut m = self.memory();
        match m.verified.get(key) {
            Some(v) if v.until > Instant::now() => Some(v.caller.clone()),
            Some(_) => {
                m.verified.remove(key);
                None
            }
            None => None,
        }
    }

    fn remember(&self, key: [u8; 32], caller: &Caller) {
        let mut m = self.memory();
        if m.verified.len() >= MAX_ENTRIES {
            let now = Instant::now();
            m.verified.retain(|_, v| v.until > now);
            if m.verified.len() >= MAX_ENTRIES {
                m.verified.clear();
            }
        }
        m.verified.insert(
            key,
            Verified {
                caller: caller.clone(),
                until: Instant::now() + CACHE_TTL,
            },
        );
    }

    /// Seconds until `user` may try again from `addr`, if it is throttled now.
    fn throttled(&self, user: &str, addr: &str) -> Option<u64> {
        let m = self.memory();
        let now = Instant::now();
        [(addr, MAX_FAILURES), ("*", MAX_FAILURES_PER_USER)]
            .into_iter()
            .filter_map(|(a, max)| {
                let (n, since) = m.failures.get(&(user.to_owned(), a.to_owned()))?;
                let left = FAILURE_WINDOW.checked_sub(now.duration_since(*since))?;
                (*n >= max).then(|| left.as_secs().max(1))
            })
            .max()
    }

    fn failed(&self, user: &str, addr: &str) {
        let mut m = self.memory();
        let now = Instant::now();
        if m.failures.len() >= MAX_ENTRIES {
            m.failures
                .retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
        }
        for a in [addr, "*"] {
            let e = m
                .failures
                .entry((user.to_owned(), a.to_owned()))
                .or_insert((0, now));
            if now.duration_since(e.1) >= FAILURE_WINDOW {
                *e = (0, now);
            }
            e.0 += 1;
        }
    }

    fn succeeded(&self, user: &str, addr: &str) {
        let mut m = self.memory();
        m.failures.remove(&(user.to_owned(), addr.to_owned()));
    }
}

/// An argon2id hash (PHC string) of `password`, computed off the async threads.
pub(crate) async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("argon2 task: {e}")))?
}

/// Verifies `password` against a PHC string; a hash that does not parse never matches.
async fn verify_password(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of no one's password: unknown users cost as much as known ones, so
/// timing does not tell which usernames exist.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$Y3VzdG9tcy1kZWNveQ$0Ox3aDdXZrmX3Gzc6vqdnL2cbx1rGLVNyVpRPwB6F0A";

/// The authenticated caller, put into request extensions by `require_user`.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The account the request acts on (the user's own, or the one an admin named in
    /// `x-anchore-account`).
    pub account: String,
    pub username: String,
    /// The user's own account.
    pub home_account: String,
    /// Whether the user belongs to an admin account.
    pub admin: bool,
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// The client's address as the last proxy saw it: behind API Gateway the last
/// `X-Forwarded-For` entry is the one API Gateway appended; locally there is none.
fn client_addr(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// Who `user:password` is, or `None` for wrong credentials or a disabled account.
async fn verify(deps: &AppState, user: &str, password: &str) -> Result<Option<Caller>, ApiError> {
    if user == ADMIN_USER {
        return Ok(deps.auth.is_admin_password(password).then(|| Caller {
            account: ADMIN_ACCOUNT.into(),
            username: ADMIN_USER.into(),
            home_account: ADMIN_ACCOUNT.into(),
            admin: true,
        }));
    }
    let login = deps.store.login(user).await?;
    let phc = login
        .as_ref()
        .and_then(|l| l.password_hash.clone())
        .unwrap_or_else(|| DECOY_HASH.to_owned());
    let ok = verify_password(password.to_owned(), phc).await;
    Ok(match login {
        Some(l) if ok && l.password_hash.is_some() && l.account_state == "enabled" => {
            Some(Caller {
                account: l.account.clone(),
                username: l.username,
                home_account: l.account,
                admin: l.account_kind == "admin",
            })
        }
        _ => None,
    })
}

pub(crate) async fn require_user(
    State(deps): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some((user, password)) = basic_credentials(req.headers()) else {
        return Err(ApiError::Unauthorized);
    };
    let addr = client_addr(req.headers());
    if let Some(secs) = deps.auth.throttled(&user, &addr) {
        return Err(ApiError::TooManyRequests(secs));
    }
    let key: [u8; 32] = Sha256::new()
        .chain_update(user.as_bytes())
        .chain_update([0u8])
        .chain_update(password.as_bytes())
        .finalize()
        .into();
    let mut caller = match deps.auth.cached(&key) {
        Some(c) => c,
        None => match verify(&deps, &user, &password).await? {
            Some(c) => {
                deps.auth.succeeded(&user, &addr);
                deps.auth.remember(key, &c);
                c
            }
            None => {
                deps.auth.failed(&user, &addr);
                warn!(user = %user, addr = %addr, "Failed login");
                return Err(ApiError::Unauthorized);
            }
        },
    };
    if let Some(target) = req
        .headers()
        .get("x-anchore-account")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != caller.home_account)
    {
        if !caller.admin {
            return Err(ApiError::Forbidden(
                "x-anchore-account is honoured for admin users only; drop the header to act on your own account".into(),
            ));
        }
        match deps.store.account(target).await? {
            Some(a) if a.state != "deleting" => {
                info!(user = %caller.username, account = %a.name, "Acting as account");
                caller.account = a.name;
            }
            _ => {
                return Err(ApiError::NotFound(format!(
                    "account {target} (from x-anchore-account) not found"
                )));
            }
        }
    }
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

/// Only users of an admin account pass (after `require_user`).
pub(crate) async fn require_admin(req: Request, next: Next) -> Result<Response, ApiError> {
    match req.extensions().get::<Caller>() {
        Some(c) if c.admin => Ok(next.run(req).await),
        Some(_) => Err(ApiError::Forbidden(
            "this operation needs a user of an admin account".into(),
        )),
        None => Err(ApiError::Unauthorized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_admin_password_matches() {
        let a = AuthConfig::new("s3cret");
        assert!(a.is_admin_password("s3cret"));
        assert!(!a.is_admin_password("s3cret "));
        assert_eq!(format!("{a:?}"), "AuthConfig { .. }");
    }

    #[test]
    fn repeated_failures_throttle_the_user_from_that_address_only() {
        let a = AuthConfig::new("x");
        for _ in 0..MAX_FAILURES {
            assert_eq!(a.throttled("bob", "1.2.3.4"), None);
            a.failed("bob", "1.2.3.4");
        }
        assert!(
            a.throttled("bob", "1.2.3.4")
                .is_some_and(|s| (1..=60).contains(&s))
        );
        assert_eq!(a.throttled("bob", "5.6.7.8"), None);
        assert_eq!(a.throttled("alice", "1.2.3.4"), None);
    }

    #[test]
    fn the_decoy_hash_parses_and_matches_nothing_obvious() {
        let h = PasswordHash::new(DECOY_HASH).expect("decoy parses");
        assert!(Argon2::default().verify_password(b"", &h).is_err());
        assert!(Argon2::default().verify_password(b"admin", &h).is_err());
    }

    #[tokio::test]
    async fn hashes_verify() {
        let h = hash_password("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), h.clone()).await);
        assert!(!verify_password("wrong".into(), h).await);
    }

    #[test]
    fn the_last_forwarded_address_counts() {
        let mut h = HeaderMap::new();
        assert_eq!(client_addr(&h), "local");
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 10.0.0.1".parse().expect("header"),
        );
        assert_eq!(client_addr(&h), "10.0.0.1");
    }
}
