//! A small client for the customs (Anchore v1) API: Basic auth, JSON in and out, the
//! API's `{"message", "httpcode", "detail"}` errors turned into [`Error::Api`].

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::Error;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8228/v1";

/// Where and as whom to talk to the API.
#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    pub user: String,
    pub password: Option<String>,
    pub account: Option<String>,
}

impl Config {
    /// Flags first, then the environment (customs' names, then anchore-cli's), then defaults.
    pub fn resolve(
        url: Option<String>,
        user: Option<String>,
        password: Option<String>,
        account: Option<String>,
    ) -> Self {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        Self {
            url: url
                .or_else(|| var(&["ANCHORE_CLI_URL"]))
                .unwrap_or_else(|| DEFAULT_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            user: user
                .or_else(|| var(&["ANCHORE_CLI_USER"]))
                .unwrap_or_else(|| "admin".to_owned()),
            password: password.or_else(|| var(&["ANCHORE_CLI_PASS", "CUSTOMS_ADMIN_PASSWORD"])),
            account: account.or_else(|| var(&["ANCHORE_CLI_ACCOUNT"])),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Config,
}

/// Percent-encodes one path segment (digests, registry names, ids).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    pub fn new(config: Config) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("customs-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Transport {
                url: config.url.clone(),
                source,
            })?;
        Ok(Self { http, config })
    }

    /// The HTTP client without the API's credentials (for presigned URLs).
    pub fn raw(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// One request; `path` starts with `/` and is relative to the API URL (which holds /v1).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let url = format!("{}{path}", self.config.url);
        let mut req = self
            .http
            .request(method, &url)
            .basic_auth(&self.config.user, self.config.password.as_deref())
            .header("Content-Type", "application/json")
            .query(query);
        if let Some(a) = &self.config.account {
            req = req.header("x-anchore-account", a);
        }
        if let Some(b) = body.filter(|b| !b.is_null()) {
            req = req.body(b.to_string());
        }
        let transport = |source| Error::Transport {
            url: url.clone(),
            source,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let text = resp.text().await.map_err(transport)?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        if status.is_success() {
            return Ok(json);
        }
        let message = match &json {
            Value::Object(o) => o
                .get("message")
                .or_else(|| o.get("detail"))
                .or_else(|| o.get("title"))
                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
                .unwrap_or_else(|| json.to_string()),
            Value::String(s) if status.as_u16() == 401 => format!(
                "{s}: check the user and password (--user/--password, CUSTOMS_USER/CUSTOMS_PASSWORD)"
            ),
            Value::String(s) => s.clone(),
            _ => status.canonical_reason().unwrap_or("error").to_owned(),
        };
        Err(Error::Api {
            status: status.as_u16(),
            message,
            body: json,
        })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Error> {
        self.request(Method::GET, path, query, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &Value,
    ) -> Result<Value, Error> {
        self.request(Method::POST, path, query, Some(body)).await
    }

    pub async fn put(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &Value,
    ) -> Result<Value, Error> {
        self.request(Method::PUT, path, query, Some(body)).await
    }

    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Error> {
        self.request(Method::DELETE, path, query, None).await
    }

    /// The image record behind a tag or a digest. `Ok(None)` when there is none.
    pub async fn find_image(&self, image: &str) -> Result<Option<Value>, Error> {
        let list = if is_digest(image) {
            match self.get(&format!("/images/{}", segment(image)), &[]).await {
                Err(Error::Api { status: 404, .. }) => return Ok(None),
                other => other?,
            }
        } else {
            self.get("/images", &[("fulltag", image.to_owned())])
                .await?
        };
        let Value::Array(items) = list else {
            return Err(Error::Unexpected {
                path: "/images".into(),
                reason: "not a list".into(),
            });
        };
        // The newest record of the tag (a tag may have pointed at several digests).
        Ok(items
            .into_iter()
            .max_by(|a, b| str_at(a, "created_at").cmp(str_at(b, "created_at"))))
    }

    /// Like [`find_image`](Self::find_image), but a missing image is an error.
    pub async fn image(&self, image: &str) -> Result<Value, Error> {
        self.find_image(image).await?.ok_or_else(|| Error::Api {
            status: 404,
            message: format!("image {image} not found; add it with `customs image add {image}`"),
            body: Value::Null,
        })
    }

    /// The digest of an image, which must have one (i.e. be resolved).
    pub async fn digest(&self, image: &str) -> Result<String, Error> {
        if is_digest(image) {
            return Ok(image.to_owned());
        }
        let rec = self.image(image).await?;
        digest_of(&rec).ok_or_else(|| Error::Api {
            status: 404,
            message: format!(
                "image {image} has no digest yet (analysis_status: {})",
                str_at(&rec, "analysis_status")
            ),
            body: Value::Null,
        })
    }
}

pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn digest_of(rec: &Value) -> Option<String> {
    rec.get("imageDigest")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
}

/// A string field, or "" when absent or not a string.
pub fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("sha256:ab"), "sha256%3Aab");
        assert_eq!(segment("127.0.0.1:5000"), "127.0.0.1%3A5000");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn digests_are_recognised() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest("127.0.0.1:5000/customs/tiny:latest"));
    }
}
