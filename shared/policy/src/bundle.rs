//! The bundle document (`"version": "1_0"`), read leniently so that validation can list every
//! problem instead of stopping at the first missing field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PolicyError;

/// The only bundle, policy and allowlist version Anchore accepts.
pub const SUPPORTED_VERSION: &str = "1_0";

/// A policy bundle as uploaded. Unknown fields (`last_updated`, `description`, …) are kept in
/// `extra` so the stored document round-trips.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<Policy>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelists: Option<Vec<Allowlist>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mappings: Option<Vec<MappingRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelisted_images: Option<Vec<ImageSelectionRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blacklisted_images: Option<Vec<ImageSelectionRule>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<PolicyRule>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<RuleParam>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// `{name, value}`; values are strings on the wire, anything else fails validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleParam {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// A whitelist (allowlist) of fired triggers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Allowlist {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<AllowlistItem>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AllowlistItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
    /// RFC 3339; an item is ignored from this instant on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// `{type: tag|digest|id, value}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageSelector {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub value: String,
}

/// A mapping from images (registry/repository/tag patterns) to policies and allowlists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MappingRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist_ids: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl MappingRule {
    /// `policy_id` or `policy_ids`, whichever is set.
    pub fn policy_ids(&self) -> Vec<String> {
        match (&self.policy_id, &self.policy_ids) {
            (Some(id), _) if !id.is_empty() => vec![id.clone()],
            (_, Some(ids)) => ids.clone(),
            _ => Vec::new(),
        }
    }
}

/// An entry of `whitelisted_images` / `blacklisted_images`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageSelectionRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSelector>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// A rule's action. Anchore orders them `STOP` (-1) < `WARN` (0) < `GO` (1); the decision is the minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Stop,
    Warn,
    Go,
}

impl Action {
    /// Case-insensitive, as Anchore reads rule actions.
    pub fn parse(s: &str) -> Option<Action> {
        match s.to_ascii_lowercase().as_str() {
            "stop" => Some(Action::Stop),
            "warn" => Some(Action::Warn),
            "go" => Some(Action::Go),
            _ => None,
        }
    }

    /// Lower case, as in check responses (`"stop"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Warn => "warn",
            Action::Go => "go",
        }
    }

    /// Upper case, as the catalog stores eval records (`"STOP"`).
    pub fn as_upper(self) -> &'static str {
        match self {
            Action::Stop => "STOP",
            Action::Warn => "WARN",
            Action::Go => "GO",
        }
    }
}

impl Bundle {
    /// Reads a bundle from its JSON text. Shape errors that serde cannot absorb (a list where an
    /// object must be) are reported here; everything else is left to [`Bundle::validate`].
    pub fn from_json_str(s: &str) -> Result<Bundle, PolicyError> {
        Ok(serde_json::from_str(s)?)
    }

    /// Reads a bundle from a JSON value.
    pub fn from_value(v: &Value) -> Result<Bundle, PolicyError> {
        Ok(Bundle::deserialize(v)?)
    }

    /// The document as JSON (what `detail.policy` shows).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn policies(&self) -> &[Policy] {
        self.policies.as_deref().unwrap_or(&[])
    }

    pub fn allowlists(&self) -> &[Allowlist] {
        self.whitelists.as_deref().unwrap_or(&[])
    }

    pub fn mappings(&self) -> &[MappingRule] {
        self.mappings.as_deref().unwrap_or(&[])
    }

    pub fn allowlisted_images(&self) -> &[ImageSelectionRule] {
        self.whitelisted_images.as_deref().unwrap_or(&[])
    }

    pub fn denylisted_images(&self) -> &[ImageSelectionRule] {
        self.blacklisted_images.as_deref().unwrap_or(&[])
    }

    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policies().iter().find(|p| p.id.as_deref() == Some(id))
    }

    pub fn allowlist(&self, id: &str) -> Option<&Allowlist> {
        self.allowlists().iter().find(|w| w.id.as_deref() == Some(id))
    }
}

impl Policy {
    pub fn rules(&self) -> &[PolicyRule] {
        self.rules.as_deref().unwrap_or(&[])
    }
}

impl Allowlist {
    pub fn items(&self) -> &[AllowlistItem] {
        self.items.as_deref().unwrap_or(&[])
    }
}
