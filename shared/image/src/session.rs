//! customs' own registry client for everything it reads from a registry: manifests,
//! configs, layer blobs, tag lists and the login check.
//!
//! oci-client reads a manifest whole before anyone can look at its size, and answers a
//! registry's `Bearer` challenge by sending the credentials to whatever realm the registry
//! names. Here every body that is read whole is read through a cap (`get_capped`, which
//! stops at the limit), and every challenge is answered by `head::answer_challenge`, which
//! checks the realm against the network policy first. Redirects (registries send blob
//! downloads to a CDN) are followed by hand: each target is checked against the policy and
//! gets no credentials unless it is the registry itself.

use bytes::Bytes;
use customs_model::ImageRef;
use futures::Stream;
use oci_client::errors::{OciDistributionError, OciEnvelope};
use reqwest::header::{ACCEPT, AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};

use crate::head::{Capped, Target, answer_challenge, capped_body, capped_text, named_by};
use crate::registry::{Credentials, classify_error};
use crate::{NetworkPolicy, RegistryError};

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Largest error body kept for a message.
const MAX_ERROR_BODY: usize = 16 << 10;

/// One image reference's conversation with its registry: the HTTP client, and the
/// `Authorization` value once a challenge has been answered.
pub(crate) struct Session {
    http: reqwest::Client,
    policy: NetworkPolicy,
    r: ImageRef,
    base: Url,
    creds: Option<Credentials>,
    auth: Option<String>,
    challenged: bool,
}

impl Session {
    /// Checks the registry against `policy` and starts a conversation over `http` (the
    /// registry client's shared client: its timeouts bound every connection and every
    /// single read, and it follows no redirects by itself).
    pub(crate) async fn open(
        policy: NetworkPolicy,
        http: reqwest::Client,
        r: &ImageRef,
        creds: Option<&Credentials>,
        insecure: bool,
    ) -> Result<Self, RegistryError> {
        policy.check(&r.registry).await?;
        let unreachable = |reason: String| RegistryError::Unreachable { registry: r.registry.clone(), reason };
        let scheme = if insecure || r.is_loopback_registry() { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/v2/", r.registry)).map_err(|e| unreachable(format!("not a registry address: {e}")))?;
        Ok(Self { http, policy, r: r.clone(), base, creds: creds.cloned(), auth: None, challenged: false })
    }

    fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.base.join(path).map_err(|e| RegistryError::Malformed { reference: self.r.to_string(), what: "reference", reason: e.to_string() })
    }

    /// `GET /v2/<path>`, answering one authentication challenge and following redirects;
    /// an answer other than 200 becomes the error it means.
    pub(crate) async fn get(&mut self, path: &str, accept: &str) -> Result<reqwest::Response, RegistryError> {
        let start = self.url(path)?;
        let mut url = start.clone();
        let mut hops = 0;
        loop {
            let on_registry = same_origin(&url, &self.base);
            let mut req = self.http.get(url.clone()).header(ACCEPT, accept);
            if on_registry && let Some(a) = &self.auth {
                req = req.header(AUTHORIZATION, a);
            }
            let resp = req.send().await.map_err(|e| self.transport(e))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && on_registry && !self.challenged && resp.headers().contains_key(WWW_AUTHENTICATE) {
                self.challenged = true;
                let target = Target { registry: &self.r.registry, repo: &self.r.repo, reference: "", plain_http: false };
                self.auth = Some(answer_challenge(&self.policy, &self.http, &target, resp.headers(), self.creds.as_ref()).await?);
                url = start.clone();
                hops = 0;
                continue;
            }
            if status.is_redirection() && let Some(to) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(RegistryError::Unreachable { registry: self.r.registry.clone(), reason: format!("more than {MAX_REDIRECTS} redirects from {start}") });
                }
                let next = url.join(to).map_err(|e| RegistryError::Malformed {
                    reference: self.r.to_string(),
                    what: "registry response",
                    reason: format!("redirect to {to:?}: {e}"),
                })?;
                if !same_origin(&next, &self.base) {
                    let host = next.host_str().unwrap_or_default();
                    let authority = match next.port_or_known_default() {
                        Some(p) => format!("{host}:{p}"),
                        None => host.to_owned(),
                    };
                    self.policy.check(&authority).await.map_err(|e| named_by(&self.r.registry, format!("the redirect to {next} it sent"), e))?;
                }
                url = next;
                continue;
            }
            if status == StatusCode::OK {
                return Ok(resp);
            }
            let url = resp.url().to_string();
            let body = capped_text(resp, MAX_ERROR_BODY).await;
            return Err(classify_error(&self.r, self.creds.is_none(), answer_error(status, body, url)));
        }
    }

    /// `GET /v2/<path>` read whole, but never more than `limit` bytes: an answer that
    /// announces more, or keeps sending past it, is abandoned at once (`TooLarge`, `OverLimit`).
    pub(crate) async fn get_capped(&mut self, path: &str, accept: &str, limit: usize, what: &str) -> Result<Vec<u8>, RegistryError> {
        let resp = self.get(path, accept).await?;
        let announced = resp.content_length();
        capped_body(resp, limit).await.map_err(|e| match e {
            Capped::Transport(e) => self.transport(e),
            Capped::Over(0) => RegistryError::TooLarge { what: what.to_owned(), size: announced.unwrap_or(0), limit: limit as u64 },
            Capped::Over(read) => RegistryError::OverLimit { what: what.to_owned(), limit: limit as u64, read: read as u64 },
        })
    }

    /// The blob `digest` of the session's repository, as a stream of chunks. Transport
    /// failures mid-stream are `io::Error`s wrapping the `reqwest::Error`.
    pub(crate) async fn blob(&mut self, digest: &str) -> Result<std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>, RegistryError> {
        let path = format!("{}/blobs/{digest}", self.r.repo);
        let resp = self.get(&path, "*/*").await?;
        Ok(Box::pin(futures::stream::unfold(Some(resp), |resp| async move {
            let mut resp = resp?;
            match resp.chunk().await {
                Ok(Some(b)) => Some((Ok(b), Some(resp))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e)), None)),
            }
        })))
    }

    fn transport(&self, e: reqwest::Error) -> RegistryError {
        classify_error(&self.r, self.creds.is_none(), OciDistributionError::RequestError(e))
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// What a non-200 answer means, in the terms the rest of the crate classifies (the
/// distribution spec's error envelope when the body is one).
fn answer_error(status: StatusCode, body: String, url: String) -> OciDistributionError {
    if status == StatusCode::UNAUTHORIZED {
        return OciDistributionError::UnauthorizedError { url };
    }
    if status.is_client_error()
        && let Ok(envelope) = serde_json::from_str::<OciEnvelope>(&body)
    {
        return OciDistributionError::RegistryError { envelope, url };
    }
    OciDistributionError::ServerError { code: status.as_u16(), url, message: body }
}
