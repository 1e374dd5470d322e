//! Request body schemas named by the route table (`Operation::body`), for the OpenAPI
//! document. A test checks every name the table uses is defined here.

use serde_json::{Value, json};

pub(crate) const API_ERROR: &str = "ApiError";
pub(crate) const IMAGE_ADD: &str = "ImageAnalysisRequest";
pub(crate) const POLICY_BUNDLE: &str = "PolicyBundle";
pub(crate) const POLICY_RECORD: &str = "PolicyBundleRecord";
pub(crate) const REGISTRY: &str = "RegistryConfigurationRequest";
pub(crate) const SUBSCRIPTION: &str = "SubscriptionRequest";
pub(crate) const SUBSCRIPTION_UPDATE: &str = "SubscriptionUpdate";
pub(crate) const REPOSITORY: &str = "RepositoryWatchRequest";
pub(crate) const WEBHOOK: &str = "Webhook";
pub(crate) const FEED_STATE: &str = "FeedEnabled";
pub(crate) const ACCOUNT_CREATE: &str = "AccountCreationRequest";
pub(crate) const ACCOUNT_STATE: &str = "AccountStatus";
pub(crate) const USER_CREATE: &str = "UserCreationRequest";
pub(crate) const CREDENTIAL: &str = "AccessCredential";

fn strings(names: &[&str]) -> Value {
    Value::Object(
        names
            .iter()
            .map(|n| ((*n).to_owned(), json!({ "type": "string" })))
            .collect(),
    )
}

/// Every schema, by name.
pub(crate) fn all() -> Value {
    let name_pattern = "^[a-zA-Z0-9][a-zA-Z0-9@.!#$+=^_`~;-]{1,126}[a-zA-Z0-9]$";
    json!({
        API_ERROR: {
            "type": "object", "required": ["message", "httpcode"],
            "properties": { "message": { "type": "string" }, "httpcode": { "type": "integer" }, "detail": { "type": "object" } }
        },
        IMAGE_ADD: {
            "type": "object",
            "description": "{\"tag\"}, {\"digest\",\"tag\"} or {\"source\":{\"tag\":{\"pullstring\"}}}",
            "properties": {
                "tag": { "type": "string" }, "digest": { "type": "string" }, "platform": { "type": "string" },
                "annotations": { "type": "object" },
                "source": { "type": "object", "properties": {
                    "tag": { "type": "object", "required": ["pullstring"], "properties": { "pullstring": { "type": "string" } } },
                    "digest": { "type": "object", "required": ["pullstring"], "properties": strings(&["pullstring", "tag"]) }
                } }
            }
        },
        POLICY_BUNDLE: {
            "type": "object", "required": ["id", "name", "version", "policies", "mappings"],
            "properties": {
                "id": { "type": "string" }, "name": { "type": "string" }, "version": { "type": "string" },
                "comment": { "type": "string" }, "policies": { "type": "array", "items": { "type": "object" } },
                "whitelists": { "type": "array", "items": { "type": "object" } },
                "mappings": { "type": "array", "items": { "type": "object" } },
                "whitelisted_images": { "type": "array", "items": { "type": "object" } },
                "blacklisted_images": { "type": "array", "items": { "type": "object" } }
            }
        },
        POLICY_RECORD: {
            "type": "object",
            "properties": {
                "policyId": { "type": "string" }, "active": { "type": "boolean" },
                "name": { "type": "string" }, "policybundle": { "$ref": format!("#/components/schemas/{POLICY_BUNDLE}") }
            }
        },
        REGISTRY: {
            "type": "object", "required": ["registry", "registry_user", "registry_pass"],
            "properties": {
                "registry": { "type": "string" }, "registry_user": { "type": "string" }, "registry_pass": { "type": "string" },
                "registry_type": { "type": "string", "enum": ["docker_v2", "awsecr"] },
                "registry_verify": { "type": "boolean" }, "registry_name": { "type": "string" }
            }
        },
        SUBSCRIPTION: {
            "type": "object", "required": ["subscription_key", "subscription_type"],
            "properties": {
                "subscription_key": { "type": "string" },
                "subscription_type": { "type": "string", "enum": customs_store::SUBSCRIPTION_TYPES },
                "subscription_value": { "type": "string", "nullable": true }, "active": { "type": "boolean" }
            }
        },
        SUBSCRIPTION_UPDATE: {
            "type": "object",
            "properties": { "active": { "type": "boolean" }, "subscription_value": { "type": "string", "nullable": true } }
        },
        REPOSITORY: { "type": "object", "description": "empty; the repository is the `repository` query parameter" },
        WEBHOOK: {
            "type": "object", "required": ["url"],
            "properties": {
                "url": { "type": "string" }, "secret": { "type": "string" },
                "notification_types": { "type": "array", "items": { "type": "string" } },
                "payload_format": { "type": "string" }, "active": { "type": "boolean" }
            }
        },
        FEED_STATE: { "type": "object", "description": "empty; the state is the `enabled` query parameter" },
        ACCOUNT_CREATE: {
            "type": "object", "required": ["name"], "additionalProperties": false,
            "properties": { "name": { "type": "string", "pattern": name_pattern }, "email": { "type": "string" } }
        },
        ACCOUNT_STATE: {
            "type": "object", "required": ["state"], "additionalProperties": false,
            "properties": { "state": { "type": "string", "enum": ["enabled", "disabled"] } }
        },
        USER_CREATE: {
            "type": "object", "required": ["username", "password"], "additionalProperties": false,
            "properties": {
                "username": { "type": "string", "pattern": name_pattern },
                "password": { "type": "string", "minLength": 6, "maxLength": 128 }
            }
        },
        CREDENTIAL: {
            "type": "object", "required": ["type", "value"], "additionalProperties": false,
            "properties": { "type": { "type": "string", "enum": ["password"] }, "value": { "type": "string", "minLength": 6, "maxLength": 128 } }
        },
    })
}
