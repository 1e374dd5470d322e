//! HTTP Basic authentication of the admin user.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// The account every authenticated request acts as (until accounts land).
pub(crate) const ADMIN: &str = "admin";

#[derive(Clone)]
pub struct AuthConfig {
    /// SHA-256 of the admin password; the plain text is not kept.
    admin_password_sha256: [u8; 32],
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

    fn check(&self, user: &str, password: &str) -> bool {
        let got: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        // Compare without an early exit, so timing says nothing about the password.
        let diff = got
            .iter()
            .zip(self.admin_password_sha256.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (user == ADMIN) & (diff == 0)
    }
}

/// The authenticated caller, put into request extensions by `require_user`.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub account: String,
}

pub(crate) async fn require_user(
    State(deps): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let creds = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let Some((user, password)) = creds.as_deref().and_then(|c| c.split_once(':')) else {
        return Err(ApiError::Unauthorized);
    };
    if !deps.auth.check(user, password) {
        return Err(ApiError::Unauthorized);
    }
    req.extensions_mut().insert(Caller {
        account: ADMIN.to_owned(),
    });
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_admin_with_the_right_password_passes() {
        let a = AuthConfig::new("s3cret");
        assert!(a.check("admin", "s3cret"));
        assert!(!a.check("admin", "s3cret "));
        assert!(!a.check("root", "s3cret"));
        assert_eq!(format!("{a:?}"), "AuthConfig { .. }");
    }
}
