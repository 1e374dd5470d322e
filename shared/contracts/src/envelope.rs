use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A message type: its wire kind, its version, and the queue it travels on.
pub trait Message: Serialize + DeserializeOwned {
    const KIND: &'static str;
    const VERSION: u32;
    const QUEUE: &'static str;
}

#[derive(Serialize)]
struct Out<'a, T> {
    kind: &'a str,
    v: u32,
    body: &'a T,
}

#[derive(Deserialize)]
struct In {
    kind: String,
    v: u32,
    #[serde(default)]
    body: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not a customs envelope ({{kind, v, body}}): {0}")]
    NotAnEnvelope(serde_json::Error),
    #[error("message kind {found:?} arrived where {expected:?} was expected")]
    WrongKind {
        expected: &'static str,
        found: String,
    },
    #[error("message {kind:?} has version {found}, this consumer understands version {supported}")]
    UnsupportedVersion {
        kind: &'static str,
        found: u32,
        supported: u32,
    },
    #[error("message {kind:?} v{version} has a malformed body: {source}")]
    BadBody {
        kind: &'static str,
        version: u32,
        source: serde_json::Error,
    },
}

/// Serialises `msg` inside its envelope.
pub fn encode<M: Message>(msg: &M) -> String {
    let out = Out {
        kind: M::KIND,
        v: M::VERSION,
        body: msg,
    };
    // Serialising plain derive(Serialize) structs into a String cannot fail.
    serde_json::to_string(&out).unwrap_or_default()
}

/// Parses an envelope and its body, checking kind and version.
pub fn decode<M: Message>(raw: &str) -> Result<M, DecodeError> {
    let env: In = serde_json::from_str(raw).map_err(DecodeError::NotAnEnvelope)?;
    if env.kind != M::KIND {
        return Err(DecodeError::WrongKind {
            expected: M::KIND,
            found: env.kind,
        });
    }
    if env.v != M::VERSION {
        return Err(DecodeError::UnsupportedVersion {
            kind: M::KIND,
            found: env.v,
            supported: M::VERSION,
        });
    }
    serde_json::from_value(env.body).map_err(|source| DecodeError::BadBody {
        kind: M::KIND,
        version: env.v,
        source,
    })
}
