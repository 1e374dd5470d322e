//! Transport edges every route shares: the body size limit and one error body shape,
//! including for the rejections axum produces itself (bad query strings, 405, …).

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Refuses a declared `Content-Length` above `limit` before reading the body; a body
/// without one is cut at the same size by `DefaultBodyLimit` (and mapped by [`json_errors`]).
pub(crate) async fn limit_body(limit: usize, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::PayloadTooLarge(limit).into_response();
    }
    next.run(req).await
}

/// Gives every error that is not already JSON (axum's own rejections) Anchore's error
/// body `{"message", "httpcode", "detail"}`. A 401 keeps its plain `Unauthorized`
/// challenge, as the engine answers it.
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || status == StatusCode::UNAUTHORIZED
    {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            format!("method not allowed on this path; allowed: {allow}")
        }
        (StatusCode::PAYLOAD_TOO_LARGE, _) => format!("request body too large: {text}"),
        (_, true) => status.canonical_reason().unwrap_or("error").to_owned(),
        (_, false) => text,
    };
    let mut out = crate::error::body(status, &message, serde_json::json!({}));
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

/// Whether `d` looks like a manifest digest: `sha256:` or `sha512:` and lower-case hex,
/// no longer than the algorithm's output. (An unknown but well-formed digest is a 404.)
fn is_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let max = match alg {
        "sha256" => 64,
        "sha512" => 128,
        _ => return false,
    };
    !hex.is_empty()
        && hex.len() <= max
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// 400 for a `{digest}` path segment that cannot be a digest, saying what one looks like.
pub(crate) async fn check_digest(
    params: axum::extract::RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    if let Some((_, d)) = params.iter().find(|(k, _)| *k == "digest")
        && !is_digest(d)
    {
        return ApiError::BadRequest {
            message: format!(
                "{d:?} is not an image digest: use sha256: followed by 64 lower-case hex digits"
            ),
            detail: serde_json::json!({ "error_codes": ["BAD_DIGEST"] }),
        }
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::is_digest;

    #[test]
    fn digests_are_recognised() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(is_digest("sha256:0000"));
        assert!(!is_digest("latest"));
        assert!(!is_digest("sha256:"));
        assert!(!is_digest("sha256:XYZ"));
        assert!(!is_digest(&format!("sha256:{}", "a".repeat(65))));
        assert!(!is_digest("md5:abcd"));
    }
}
