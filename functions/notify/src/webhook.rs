//! Signed webhook POSTs under the outbound address policy.

use std::net::SocketAddr;
use std::time::Duration;

use customs_image::NetworkPolicy;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use sha2::Sha256;

/// Headers of every webhook POST.
pub mod header {
    /// Unix seconds when the request was signed.
    pub const TIMESTAMP: &str = "Customs-Timestamp";
    /// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
    pub const SIGNATURE: &str = "Customs-Signature";
    /// The event id: the same on every attempt, so a receiver can drop repeats.
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    pub const EVENT_ID: &str = "Customs-Event-Id";
    pub const NOTIFICATION_TYPE: &str = "Customs-Notification-Type";
}

/// `v1=` + hex HMAC-SHA256 over `"<timestamp>.<body>"`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never returns early.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut s = String::with_capacity(3 + 64);
    s.push_str("v1=");
    for b in tag.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("webhook URL {0:?} is not an absolute http(s) URL")]
    Malformed(String),
    #[error("webhook URL must not carry credentials; use the webhook secret")]
    Credentials,
    #[error("cannot resolve webhook host {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error(
        "webhook host {host} resolves to {addr}, which the outbound policy forbids (link-local and metadata addresses always; loopback and private networks unless CUSTOMS_ALLOW_PRIVATE_WEBHOOKS=true)"
    )]
    Forbidden { host: String, addr: std::net::IpAddr },
}

/// Parses `url` and resolves its host, refusing any address the policy forbids. Returns
/// the URL and the addresses to connect to (pinned, so DNS cannot change in between).
pub async fn check(url: &str, policy: NetworkPolicy) -> Result<(Url, String, Vec<SocketAddr>), UrlError> {
    let u = Url::parse(url).map_err(|_| UrlError::Malformed(url.to_owned()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(UrlError::Malformed(url.to_owned()));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = u.host_str().ok_or_else(|| UrlError::Malformed(url.to_owned()))?.to_owned();
    let port = u.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
        .await
        .map_err(|e| UrlError::Resolve { host: host.clone(), reason: e.to_string() })?
        .collect();
    if addrs.is_empty() {
        return Err(UrlError::Resolve { host, reason: "no addresses".into() });
    }
    if let Some(bad) = addrs.iter().find(|a| !policy.allows(a.ip())) {
        return Err(UrlError::Forbidden { host, addr: bad.ip() });
    }
    Ok((u, bare, addrs))
}

/// How a POST ended.
#[derive(Debug)]
pub enum Sent {
    /// 2xx.
    Accepted(u16),
    /// 5xx, 429, timeout or connection failure: worth another attempt.
    Retryable { status: Option<u16>, reason: String },
    /// Refused for good: 4xx (but 429), a redirect, or a forbidden address.
    Refused { status: Option<u16>, reason: String },
}

/// POSTs `body` to `url`, signed with `secret`, connecting only to checked addresses and
/// never following redirects.
pub async fn post(
    url: &str,
    secret: &str,
    body: &[u8],
    event_id: &str,
    notification_type: &str,
    policy: NetworkPolicy,
    timeout: Duration,
) -> Sent {
    let (u, host, addrs) = match check(url, policy).await {
        Ok(x) => x,
        Err(e @ UrlError::Resolve { .. }) => return Sent::Retryable { status: None, reason: e.to_string() },
        Err(e) => return Sent::Refused { status: None, reason: e.to_string() },
    };
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .resolve_to_addrs(&host, &addrs)
        .user_agent(concat!("customs-notify/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Sent::Retryable { status: None, reason: format!("HTTP client: {e}") },
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let resp = client
        .post(u)
        .header("Content-Type", "application/json")
        .header(header::TIMESTAMP, now.to_string())
        .header(header::SIGNATURE, signature(secret.as_bytes(), now, body))
        .header(header::IDEMPOTENCY_KEY, event_id)
        .header(header::EVENT_ID, event_id)
        .header(header::NOTIFICATION_TYPE, notification_type)
        .body(body.to_vec())
        .send()
        .await;
    match resp {
        Ok(r) => {
            let s = r.status().as_u16();
            match s {
                200..=299 => Sent::Accepted(s),
                429 | 500..=599 | 408 => Sent::Retryable { status: Some(s), reason: format!("receiver answered {s}") },
                300..=399 => Sent::Refused { status: Some(s), reason: format!("receiver answered {s}; redirects are not followed") },
                _ => Sent::Refused { status: Some(s), reason: format!("receiver answered {s}") },
            }
        }
        Err(e) => Sent::Retryable { status: None, reason: if e.is_timeout() { "timed out".into() } else { format!("request failed: {e}") } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_timestamp_and_body() {
        // RFC 4231 style check of the construction: HMAC-SHA256("key", "1.{}").
        let a = signature(b"key", 1, b"{}");
        assert!(a.starts_with("v1=") && a.len() == 67, "{a}");
        assert_ne!(a, signature(b"key", 2, b"{}"));
        assert_ne!(a, signature(b"key", 1, b"{ }"));
        assert_ne!(a, signature(b"other", 1, b"{}"));
        assert_eq!(a, signature(b"key", 1, b"{}"));
    }

    #[tokio::test]
    async fn metadata_and_private_addresses_are_refused() {
        let closed = NetworkPolicy::default();
        let open = NetworkPolicy { allow_private: true };
        for url in ["http://169.254.169.254/latest/meta-data", "http://[fe80::1]/", "http://0.0.0.0/"] {
            assert!(matches!(check(url, open).await, Err(UrlError::Forbidden { .. })), "{url}");
        }
        for url in ["http://127.0.0.1:9/", "http://10.0.0.1/", "http://localhost:8080/x"] {
            assert!(matches!(check(url, closed).await, Err(UrlError::Forbidden { .. })), "{url}");
        }
        assert!(check("http://127.0.0.1:9/", open).await.is_ok());
        assert!(matches!(check("ftp://example.com/", open).await, Err(UrlError::Malformed(_))));
        assert!(matches!(check("http://u:p@127.0.0.1/", open).await, Err(UrlError::Credentials)));
    }
}
