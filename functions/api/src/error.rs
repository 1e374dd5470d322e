use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::error;

/// An API failure, rendered as Anchore's error body `{"message", "httpcode", "detail"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    BadRequest { message: String, detail: Value },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Too many failed logins; retry after this many seconds.
    #[error("too many failed logins")]
    TooManyRequests(u64),
    #[error("{0}")]
    Unavailable(String),
    /// Internal failure: logged once here, answered with a generic body.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            detail: json!({}),
        }
    }
}

impl From<customs_store::StoreError> for ApiError {
    fn from(e: customs_store::StoreError) -> Self {
        if e.is_invalid_text() {
            return Self::bad_request("text in the request cannot be stored (it holds a NUL byte or an invalid character)");
        }
        Self::Internal(e.to_string())
    }
}

pub(crate) fn body(status: StatusCode, message: &str, detail: Value) -> Response {
    (
        status,
        Json(json!({ "message": message, "httpcode": status.as_u16(), "detail": detail })),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    "basic realm=\"Authentication required\"",
                )],
                "Unauthorized",
            )
                .into_response(),
            Self::BadRequest { message, detail } => body(StatusCode::BAD_REQUEST, &message, detail),
            Self::Forbidden(m) => body(StatusCode::FORBIDDEN, &m, json!({})),
            Self::NotFound(m) => body(StatusCode::NOT_FOUND, &m, json!({})),
            Self::PayloadTooLarge(n) => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body too large: at most {n} bytes are accepted here"),
                json!({}),
            ),
            Self::TooManyRequests(secs) => {
                let mut r = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("too many failed logins for this user; try again in {secs} s"),
                    json!({}),
                );
                if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Self::Unavailable(m) => body(StatusCode::SERVICE_UNAVAILABLE, &m, json!({})),
            Self::Internal(m) => {
                error!(error = %m, "Internal error");
                body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the service log",
                    json!({}),
                )
            }
        }
    }
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no such route: {}", uri.path()))
}
