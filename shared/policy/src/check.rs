//! Rendering an [`Evaluation`] as Anchore's check response (API-CONTRACT §7).

use serde_json::{Value, json};

use crate::evaluate::Evaluation;

/// The columns of the check table, in Anchore's order.
pub const CHECK_HEADER: [&str; 9] =
    ["Image_Id", "Repo_Tag", "Trigger_Id", "Gate", "Trigger", "Check_Output", "Gate_Action", "Whitelisted", "Policy_Id"];

/// What the check response needs besides the evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    pub user_id: String,
    /// When the evaluation was made, Unix seconds (`created_at`, `last_modified`).
    pub created_at: i64,
    /// The same instant as ISO 8601 (`last_evaluation`, e.g. `2021-04-02T21:55:00Z`).
    pub last_evaluation: String,
    /// `detail=true`: include the bundle and the table.
    pub detail: bool,
}

/// `detail.result`: Anchore's PolicyEvaluation with its result table.
pub fn policy_evaluation_json(eval: &Evaluation, bundle: &Value, opts: &CheckOptions) -> Value {
    let rows: Vec<Value> = eval
        .rows
        .iter()
        .map(|r| {
            let allow = match &r.allowlisted {
                None => Value::Bool(false),
                Some(m) => json!({
                    "whitelist_name": m.whitelist_name,
                    "whitelist_id": m.whitelist_id,
                    "matched_rule_id": m.matched_rule_id,
                }),
            };
            json!([r.image_id, r.tag, r.trigger_id, r.gate, r.trigger, r.check_output, r.gate_action.as_str(), allow, r.policy_id])
        })
        .collect();
    let mut table = serde_json::Map::new();
    table.insert(
        eval.image_id.clone(),
        json!({"result": {
            "header": CHECK_HEADER,
            "row_count": rows.len(),
            "rows": rows,
            "final_action": eval.policy_final_action.as_str(),
        }}),
    );
    table.insert("policy_data".into(), json!([]));
    table.insert("whitelist_data".into(), json!([]));
    table.insert("policy_name".into(), json!(""));
    table.insert("whitelist_names".into(), json!([]));
    let rule = |r: Option<Value>| r.unwrap_or(Value::Bool(false));
    json!({
        "user_id": opts.user_id,
        "image_id": eval.image_id,
        "tag": eval.tag,
        "bundle": bundle,
        "matched_mapping_rule": rule(eval.matched_mapping_rule.as_ref().and_then(|m| serde_json::to_value(m).ok())),
        "matched_whitelisted_images_rule": rule(eval.matched_whitelisted_images_rule.as_ref().and_then(|m| serde_json::to_value(m).ok())),
        "matched_blacklisted_images_rule": rule(eval.matched_blacklisted_images_rule.as_ref().and_then(|m| serde_json::to_value(m).ok())),
        "created_at": opts.created_at,
        "last_modified": opts.created_at,
        "final_action": eval.final_action.as_str(),
        "final_action_reason": eval.final_action_reason.as_str(),
        "evaluation_problems": eval.evaluation_problems,
        "result": Value::Object(table),
    })
}

/// One element of the per-tag list: `{policyId, status, last_evaluation, detail}`.
pub fn check_entry_json(eval: &Evaluation, bundle: &Value, opts: &CheckOptions) -> Value {
    let detail = if opts.detail {
        json!({"policy": bundle, "result": policy_evaluation_json(eval, bundle, opts)})
    } else {
        json!({})
    };
    json!({
        "policyId": eval.bundle_id,
        "status": eval.status(),
        "last_evaluation": opts.last_evaluation,
        "detail": detail,
    })
}

/// The whole check response for one evaluation: `[{digest: {tag: [entry]}}]`.
pub fn to_anchore_check_json(eval: &Evaluation, bundle: &Value, opts: &CheckOptions) -> Value {
    let mut by_tag = serde_json::Map::new();
    by_tag.insert(eval.tag.clone(), json!([check_entry_json(eval, bundle, opts)]));
    let mut by_digest = serde_json::Map::new();
    by_digest.insert(eval.image_digest.clone(), Value::Object(by_tag));
    json!([Value::Object(by_digest)])
}
