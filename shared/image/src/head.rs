//! The watch function's cheap tag check: one `HEAD /v2/<repo>/manifests/<ref>`, done with
//! a plain HTTP client rather than oci-client so that a rate-limited answer's
//! `Retry-After` reaches the caller (oci-client keeps only the status and body).
//!
//! Auth follows the distribution spec: anonymous first; a `401` with a `Bearer` challenge
//! gets a token from the realm (with the stored credentials, if any) and one retry; a
//! `Basic` challenge is answered with the credentials. The realm is an address the
//! registry chose, so it goes through the same network policy as the registry.

use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::error::RegistryError;
use crate::manifest::media_type;
use crate::policy::NetworkPolicy;
use crate::registry::Credentials;

/// A manifest bigger than this is not one (the GET fallback reads at most this much).
const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// Largest token-service answer read (a JWT is a few KiB).
const MAX_TOKEN_BYTES: usize = 1 << 20;
/// Longest `Retry-After` honoured; a registry asking for more is checked again after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

pub(crate) struct Target<'a> {
    pub registry: &'a str,
    pub repo: &'a str,
    pub reference: &'a str,
    pub plain_http: bool,
}

/// `http` is the registry client's shared client; `timeout` bounds each whole request.
pub(crate) async fn manifest_digest(
    policy: &NetworkPolicy,
    http: &reqwest::Client,
    t: &Target<'_>,
    creds: Option<&Credentials>,
    timeout: Duration,
) -> Result<String, RegistryError> {
    let scheme = if t.plain_http { "http" } else { "https" };
    let url = format!("{scheme}://{}/v2/{}/manifests/{}", t.registry, t.repo, t.reference);
    let accept = media_type::ACCEPTED.join(", ");

    let mut auth: Option<String> = None;
    for attempt in 0..2 {
        let mut req = http.request(Method::HEAD, &url).header(ACCEPT, &accept).timeout(timeout);
        if let Some(a) = &auth {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        let resp = req.send().await.map_err(|e| transport(t.registry, &e))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED && attempt == 0 {
            auth = Some(answer_challenge(policy, http, t, resp.headers(), creds).await?);
            continue;
        }
        if status.is_success() {
            if let Some(d) = resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()) {
                return Ok(d.to_owned());
            }
            return get_and_hash(http, &url, &accept, auth.as_deref(), t.registry, timeout).await;
        }
        return Err(status_error(t, status, resp.headers(), creds.is_none()));
    }
    Err(RegistryError::Unauthorized {
        registry: t.registry.to_owned(),
        anonymous: creds.is_none(),
        reason: "the registry kept answering 401 after authentication".into(),
    })
}

/// Registries that send no `Docker-Content-Digest`: the digest is the hash of the body.
async fn get_and_hash(http: &reqwest::Client, url: &str, accept: &str, auth: Option<&str>, registry: &str, timeout: Duration) -> Result<String, RegistryError> {
    let mut req = http.get(url).header(ACCEPT, accept).timeout(timeout);
    if let Some(a) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    let mut resp = req.send().await.map_err(|e| transport(registry, &e))?;
    let mut hasher = Sha256::new();
    let mut read = 0usize;
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(registry, &e))? {
        read += chunk.len();
        if read > MAX_MANIFEST_BYTES {
            return Err(RegistryError::OverLimit { what: "manifest".into(), limit: MAX_MANIFEST_BYTES as u64, read: read as u64 });
        }
        hasher.update(&chunk);
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

/// The `Authorization` value answering a 401's challenge. Shared with the analysis path
/// (`session.rs`): every token request customs makes goes through here, so every realm a
/// registry names is checked against the network policy before anything is sent to it.
pub(crate) async fn answer_challenge(
    policy: &NetworkPolicy,
    http: &reqwest::Client,
    t: &Target<'_>,
    headers: &HeaderMap,
    creds: Option<&Credentials>,
) -> Result<String, RegistryError> {
    let refused = |reason: String| RegistryError::Unauthorized { registry: t.registry.to_owned(), anonymous: creds.is_none(), reason };
    let challenge = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (scheme, params) = parse_challenge(challenge);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let c = creds.ok_or_else(|| refused("the registry requires credentials".into()))?;
            Ok(basic(c))
        }
        "bearer" => {
            let realm = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.as_str()).ok_or_else(|| refused("Bearer challenge without a realm".into()))?;
            let mut url = Url::parse(realm).map_err(|e| refused(format!("Bearer realm {realm:?} is not a URL: {e}")))?;
            let host = url.host_str().ok_or_else(|| refused(format!("Bearer realm {realm:?} has no host")))?;
            let authority = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            };
            policy.check(&authority).await.map_err(|e| named_by(t.registry, format!("the token realm {realm} it names"), e))?;
            {
                let mut q = url.query_pairs_mut();
                if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
                    q.append_pair("service", s);
                }
                let scope = params.iter().find(|(k, _)| k == "scope").map_or_else(|| format!("repository:{}:pull", t.repo), |(_, s)| s.clone());
                q.append_pair("scope", &scope);
            }
            let mut req = http.get(url);
            if let Some(c) = creds {
                req = req.header(reqwest::header::AUTHORIZATION, basic(c));
            }
            let resp = req.send().await.map_err(|e| transport(t.registry, &e))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let said = capped_text(resp, 1 << 10).await;
                return Err(refused(format!("the token service refused them ({status}): {}", said.trim())));
            }
            if !status.is_success() {
                return Err(status_error(t, status, resp.headers(), creds.is_none()));
            }
            let bytes = capped_body(resp, MAX_TOKEN_BYTES).await.map_err(|e| match e {
                Capped::Transport(e) => transport(t.registry, &e),
                Capped::Over(_) => refused(format!("token response is over the {MAX_TOKEN_BYTES}-byte limit")),
            })?;
            let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| refused(format!("token response is not JSON: {e}")))?;
            let token = body["token"].as_str().or_else(|| body["access_token"].as_str()).ok_or_else(|| refused("token response has no token".into()))?;
            Ok(format!("Bearer {token}"))
        }
        _ => Err(refused(format!("unsupported authentication challenge {challenge:?}"))),
    }
}

/// Why a capped read stopped.
pub(crate) enum Capped {
    Transport(reqwest::Error),
    /// More than the limit arrived; this many bytes were read before giving up.
    Over(usize),
}

/// The body of `resp`, read chunk by chunk and abandoned as soon as it passes `limit`
/// (a body announcing more than `limit` in `Content-Length` is not read at all), so a
/// registry streaming an endless answer costs at most `limit` plus one chunk of memory.
pub(crate) async fn capped_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Capped> {
    if let Some(n) = resp.content_length().and_then(|n| usize::try_from(n).ok())
        && n > limit
    {
        return Err(Capped::Over(0));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Transport)? {
        if out.len() + chunk.len() > limit {
            return Err(Capped::Over(out.len() + chunk.len()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// At most `limit` bytes of an error body, as text (for messages; errors are dropped).
pub(crate) async fn capped_text(mut resp: reqwest::Response, limit: usize) -> String {
    let mut out = Vec::new();
    while out.len() < limit {
        match resp.chunk().await {
            Ok(Some(c)) => out.extend_from_slice(&c[..c.len().min(limit - out.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy refusal of an address the registry named (a token realm, a redirect), said of
/// the registry that named it.
pub(crate) fn named_by(registry: &str, what: String, e: RegistryError) -> RegistryError {
    match e {
        RegistryError::Forbidden { reason, .. } => RegistryError::Forbidden { registry: registry.to_owned(), reason: format!("{what}: {reason}") },
        other => other,
    }
}

pub(crate) fn basic(c: &Credentials) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password)))
}

/// `Bearer realm="…",service="…",scope="…"` → ("Bearer", [(k, v)…]).
fn parse_challenge(h: &str) -> (String, Vec<(String, String)>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else { break };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (q[..end].to_owned(), &q[end + 1..]),
                None => (q.to_owned(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_owned(), &after[end..]),
                None => (after.trim().to_owned(), ""),
            }
        };
        params.push((k, v));
        rest = tail.trim_start_matches([',', ' ']).trim();
    }
    (scheme.to_owned(), params)
}

/// `Retry-After`: delta-seconds or an HTTP date, capped.
pub(crate) fn retry_after(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = OffsetDateTime::parse(v, &Rfc2822).ok()?;
            let secs = (at - now).whole_seconds().max(0);
            Duration::from_secs(u64::try_from(secs).unwrap_or(0))
        }
    };
    Some(d.min(MAX_RETRY_AFTER))
}

fn status_error(t: &Target<'_>, status: StatusCode, headers: &HeaderMap, anonymous: bool) -> RegistryError {
    let reference = format!("{}/{}:{}", t.registry, t.repo, t.reference);
    match status {
        StatusCode::NOT_FOUND => RegistryError::NotFound { reference, reason: "the registry answered 404".into() },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            RegistryError::Unauthorized { registry: t.registry.to_owned(), anonymous, reason: format!("the registry answered {status}") }
        }
        s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => RegistryError::RateLimited {
            registry: t.registry.to_owned(),
            status: s.as_u16(),
            retry_after: retry_after(headers, OffsetDateTime::now_utc()),
        },
        s => RegistryError::Unreachable { registry: t.registry.to_owned(), reason: format!("unexpected answer {s} to a manifest HEAD") },
    }
}

pub(crate) fn transport(registry: &str, e: &reqwest::Error) -> RegistryError {
    let reason = crate::registry::error_chain(e);
    if e.is_timeout() {
        RegistryError::TimedOut { registry: registry.to_owned(), reason }
    } else {
        RegistryError::Transient { registry: registry.to_owned(), reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn challenges_are_parsed_with_quotes_and_commas() {
        let (s, p) = parse_challenge(r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#);
        assert_eq!(s, "Bearer");
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.example".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull,push".into()));
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "Basic");
        assert_eq!(p, vec![("realm".to_owned(), "Registry Realm".to_owned())]);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        let now = OffsetDateTime::parse("Sat, 28 Nov 2026 18:00:00 GMT", &Rfc2822).expect("date");
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Sat, 28 Nov 2026 18:05:00 GMT"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(300)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Fri, 27 Nov 2026 18:05:00 GMT"));
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO), "a date in the past means now");
        h.insert(RETRY_AFTER, HeaderValue::from_static("999999"));
        assert_eq!(retry_after(&h, now), Some(MAX_RETRY_AFTER));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
