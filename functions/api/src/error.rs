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
    NotFound(String),
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
        Self::Internal(e.to_string())
    }
}

fn body(status: StatusCode, message: &str, detail: Value) -> Response {
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
            Self::NotFound(m) => body(StatusCode::NOT_FOUND, &m, json!({})),
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
