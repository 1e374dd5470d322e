//! Bundle evaluation: image selection, mapping, gates, allowlists and the final decision.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::bundle::{Action, Allowlist, Bundle, ImageSelectionRule, MappingRule};
use crate::facts::ImageFacts;
use crate::gates::TriggerInput;
use crate::matching::{parse_tag, selects, wildcard_match};
use crate::validate::{ValidationProblem, ValidationReport, check_rule};

/// What the engine needs besides the image: the clock and the state of the feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalContext {
    /// "Now" for expirations and age checks (the engine never reads the clock).
    pub now: OffsetDateTime,
    pub vulnerability_feed: VulnerabilityFeedStatus,
    /// The legacy npm packages feed, `None` when not synced (as everywhere today).
    pub npm_feed: Option<PackageFeed>,
    /// The legacy gem packages feed, `None` when not synced.
    pub gem_feed: Option<PackageFeed>,
}

impl EvalContext {
    /// A context at `now` with no feed data at all.
    pub fn at(now: OffsetDateTime) -> EvalContext {
        EvalContext { now, vulnerability_feed: VulnerabilityFeedStatus::default(), npm_feed: None, gem_feed: None }
    }
}

/// Vulnerability data for the image's distro namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VulnerabilityFeedStatus {
    /// The feeds hold vulnerability data for the image's distro (`vulnerability_data_unavailable`).
    pub data_available: bool,
    /// Oldest last sync of the feed groups covering the distro (`stale_feed_data`).
    pub last_sync: Option<OffsetDateTime>,
}

/// A package-metadata feed (Anchore's `packages` feed, groups `npm` and `gem`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageFeed {
    pub last_sync: Option<OffsetDateTime>,
    pub packages: BTreeMap<String, FeedPackage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedPackage {
    pub latest: Option<String>,
    pub versions: Vec<String>,
}

/// Why the final action is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalActionReason {
    PolicyEvaluation,
    Whitelisted,
    Blacklisted,
}

impl FinalActionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalActionReason::PolicyEvaluation => "policy_evaluation",
            FinalActionReason::Whitelisted => "whitelisted",
            FinalActionReason::Blacklisted => "blacklisted",
        }
    }
}

/// The allowlist item that suppressed a row (`Whitelisted` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistMatch {
    pub whitelist_name: Option<String>,
    pub whitelist_id: Option<String>,
    pub matched_rule_id: Option<String>,
}

/// One fired trigger: a row of the check table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub image_id: String,
    pub tag: String,
    pub trigger_id: String,
    pub gate: String,
    pub trigger: String,
    pub check_output: String,
    /// The rule's action, or `go` when allowlisted.
    pub gate_action: Action,
    pub rule_action: Action,
    pub allowlisted: Option<AllowlistMatch>,
    pub policy_id: String,
    pub rule_id: Option<String>,
}

/// The decision of one mapped policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    pub policy_id: String,
    pub policy_name: Option<String>,
    pub final_action: Action,
}

/// The result of evaluating a bundle against one image under one tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub bundle_id: String,
    pub image_id: String,
    pub image_digest: String,
    pub tag: String,
    pub matched_mapping_rule: Option<MappingRule>,
    pub matched_whitelisted_images_rule: Option<ImageSelectionRule>,
    pub matched_blacklisted_images_rule: Option<ImageSelectionRule>,
    pub policies: Vec<PolicyOutcome>,
    /// Minimum over the mapped policies, before the image allow/deny override (`go` when unmapped).
    pub policy_final_action: Action,
    pub final_action: Action,
    pub final_action_reason: FinalActionReason,
    pub rows: Vec<Row>,
    pub evaluation_problems: Vec<ValidationProblem>,
}

impl Evaluation {
    /// `pass` for go or warn, `fail` for stop.
    pub fn status(&self) -> &'static str {
        if self.final_action == Action::Stop { "fail" } else { "pass" }
    }
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn allowlist_hit(allowlists: &[&Allowlist], gate: &str, trigger_id: &str, now: OffsetDateTime) -> Option<AllowlistMatch> {
    for list in allowlists {
        for item in list.items() {
            let expired = item
                .expires_on
                .as_deref()
                .and_then(|e| OffsetDateTime::parse(e, &Rfc3339).ok())
                .is_some_and(|e| now >= e);
            if expired {
                continue;
            }
            let Some(item_gate) = item.gate.as_deref() else { continue };
            let Some(item_tid) = item.trigger_id.as_deref() else { continue };
            if item_gate.eq_ignore_ascii_case(gate) && (item_tid == trigger_id || wildcard_match(item_tid, trigger_id)) {
                return Some(AllowlistMatch {
                    whitelist_name: list.name.clone(),
                    whitelist_id: list.id.clone(),
                    matched_rule_id: item.id.clone(),
                });
            }
        }
    }
    None
}

/// Evaluates `bundle` against `facts` under `tag` (a full tag such as `docker.io/alpine:3.12`).
/// An invalid bundle is not evaluated: its validation report is returned instead.
pub fn evaluate(bundle: &Bundle, facts: &ImageFacts, tag: &str, ctx: &EvalContext) -> Result<Evaluation, ValidationReport> {
    let report = bundle.validate();
    if !report.is_valid() {
        return Err(report);
    }
    let parts = parse_tag(tag);
    let pick = |rules: &[ImageSelectionRule]| {
        rules
            .iter()
            .find(|r| {
                selects(r.registry.as_deref(), r.repository.as_deref(), r.image.as_ref(), &parts, &facts.image_id, &facts.digest)
            })
            .cloned()
    };
    let denied = pick(bundle.denylisted_images());
    let allowed = pick(bundle.allowlisted_images());
    let mapping = bundle
        .mappings()
        .iter()
        .find(|m| selects(m.registry.as_deref(), m.repository.as_deref(), m.image.as_ref(), &parts, &facts.image_id, &facts.digest))
        .cloned();

    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut outcomes = Vec::new();
    match &mapping {
        None => problems.push(ValidationProblem::warn(
            "NoMatchedMappingWarning",
            format!("No mapping rule matched the given tag {tag} for the bundle"),
        )),
        Some(m) => {
            let allowlists: Vec<&Allowlist> =
                m.whitelist_ids.as_deref().unwrap_or(&[]).iter().filter_map(|id| bundle.allowlist(id)).collect();
            for pid in m.policy_ids() {
                let Some(policy) = bundle.policy(&pid) else { continue };
                let mut policy_action = Action::Go;
                for rule in policy.rules() {
                    let Ok((trigger, params)) = check_rule(rule) else { continue };
                    let gate = rule.gate.as_deref().unwrap_or("").to_ascii_lowercase();
                    let rule_action = rule.action.as_deref().and_then(Action::parse).unwrap_or(Action::Go);
                    let input = TriggerInput { params: &params, facts, ctx, rule_id: rule.id.as_deref() };
                    let fired = match (trigger.eval)(&input) {
                        Ok(f) => f,
                        Err(e) => {
                            problems.push(ValidationProblem::error(
                                "TriggerEvaluationError",
                                format!(
                                    "Trigger evaluation failed for gate {gate} and trigger {}, with parameters: ({}) due to: {e}",
                                    trigger.name,
                                    params.py_repr()
                                ),
                            ));
                            continue;
                        }
                    };
                    for f in fired {
                        let trigger_id = f.id.unwrap_or_else(|| md5_hex(&format!("{gate}{}{}", trigger.name, f.msg)));
                        let allowlisted = allowlist_hit(&allowlists, &gate, &trigger_id, ctx.now);
                        let gate_action = if allowlisted.is_some() { Action::Go } else { rule_action };
                        policy_action = policy_action.min(gate_action);
                        rows.push(Row {
                            image_id: facts.image_id.clone(),
                            tag: tag.to_string(),
                            trigger_id,
                            gate: gate.clone(),
                            trigger: trigger.name.to_string(),
                            check_output: f.msg,
                            gate_action,
                            rule_action,
                            allowlisted,
                            policy_id: pid.clone(),
                            rule_id: rule.id.clone(),
                        });
                    }
                }
                outcomes.push(PolicyOutcome { policy_id: pid.clone(), policy_name: policy.name.clone(), final_action: policy_action });
            }
        }
    }
    let policy_final_action = outcomes.iter().map(|o| o.final_action).min().unwrap_or(Action::Go);
    let (final_action, final_action_reason) = if denied.is_some() {
        (Action::Stop, FinalActionReason::Blacklisted)
    } else if allowed.is_some() {
        (Action::Go, FinalActionReason::Whitelisted)
    } else {
        (policy_final_action, FinalActionReason::PolicyEvaluation)
    };
    Ok(Evaluation {
        bundle_id: bundle.id.clone().unwrap_or_default(),
        image_id: facts.image_id.clone(),
        image_digest: facts.digest.clone(),
        tag: tag.to_string(),
        matched_mapping_rule: mapping,
        matched_whitelisted_images_rule: allowed,
        matched_blacklisted_images_rule: denied,
        policies: outcomes,
        policy_final_action,
        final_action,
        final_action_reason,
        rows,
        evaluation_problems: problems,
    })
}
