//! Bundle validation, reporting every problem in Anchore's `validation_details` shape.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bundle::{Action, Bundle, PolicyRule, SUPPORTED_VERSION};
use crate::gates::{EOL_GATES, GATES, TriggerDef, gate_named, py_re, regex_params};
use crate::params::Params;
use crate::pyfmt::{py_list, py_str_repr};

/// One entry of `validation_details` (and of `evaluation_problems`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationProblem {
    /// `error` or `warn`.
    pub severity: String,
    /// Anchore's exception class name, e.g. `ParameterValueInvalidError`.
    pub problem_type: String,
    pub details: String,
}

impl ValidationProblem {
    pub(crate) fn error(problem_type: &str, details: String) -> ValidationProblem {
        ValidationProblem { severity: "error".into(), problem_type: problem_type.into(), details }
    }

    pub(crate) fn warn(problem_type: &str, details: String) -> ValidationProblem {
        ValidationProblem { severity: "warn".into(), problem_type: problem_type.into(), details }
    }
}

/// The outcome of validating a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub problems: Vec<ValidationProblem>,
}

impl ValidationReport {
    /// Valid when no problem has severity `error`.
    pub fn is_valid(&self) -> bool {
        !self.problems.iter().any(|p| p.severity == "error")
    }

    /// `[{severity, problem_type, details}]`.
    pub fn validation_details(&self) -> Value {
        serde_json::to_value(&self.problems).unwrap_or(Value::Null)
    }

    /// The 400 body Anchore returns for an invalid bundle.
    pub fn to_error_body(&self) -> Value {
        json!({"message": "Bundle failed validation", "detail": {"validation_details": self.validation_details()}})
    }
}

/// `message (k=v,k=v)`, as Anchore's `ValidationError.details()` renders.
fn details(message: &str, vars: &[(&str, String)]) -> String {
    let kv: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{message} ({})", kv.join(","))
}

fn opt(s: Option<&str>) -> String {
    s.unwrap_or("None").to_string()
}

fn missing(object: &str, field: &str, id: Option<&str>) -> ValidationProblem {
    ValidationProblem::error(
        "ValidationError",
        format!("'{field}' is a required property of {object} (id={})", opt(id)),
    )
}

fn version_problem(object: &str, version: Option<&str>, id: Option<&str>, out: &mut Vec<ValidationProblem>) {
    match version {
        None => out.push(missing(object, "version", id)),
        Some(SUPPORTED_VERSION) => {}
        Some(v) => out.push(ValidationProblem::error(
            "UnsupportedVersionError",
            details(
                &format!(
                    "Found version {v}, expected one of supported versions {}. Detail:\"Unsupported {object} version\"",
                    py_list(&[SUPPORTED_VERSION])
                ),
                &[("supported_versions", py_list(&[SUPPORTED_VERSION])), ("found_version", v.to_string())],
            ),
        )),
    }
}

/// Resolves a rule to its trigger and typed parameters, or the problems that prevent it.
pub(crate) fn check_rule(rule: &PolicyRule) -> Result<(&'static TriggerDef, Params), Vec<ValidationProblem>> {
    let gate_name = rule.gate.as_deref().unwrap_or("");
    let trigger_name = rule.trigger.as_deref().unwrap_or("");
    let rule_id = rule.id.as_deref();
    let ctx = |extra: Vec<(&'static str, String)>| {
        let mut v = vec![
            ("gate", gate_name.to_string()),
            ("trigger", trigger_name.to_string()),
            ("rule_id", opt(rule_id)),
        ];
        v.extend(extra);
        v
    };
    let mut problems = Vec::new();
    if rule.gate.is_none() {
        problems.push(missing("rule", "gate", rule_id));
    }
    if rule.trigger.is_none() {
        problems.push(missing("rule", "trigger", rule_id));
    }
    match rule.action.as_deref() {
        None => problems.push(missing("rule", "action", rule_id)),
        Some(a) if Action::parse(a).is_none() => problems.push(ValidationProblem::error(
            "InvalidGateAction",
            details(
                "Invalid gate action specified",
                &ctx(vec![("action", a.to_string()), ("valid_actions", py_list(&["STOP", "WARN", "GO"]))]),
            ),
        )),
        Some(_) => {}
    }
    if let Some((eol, _, superseded)) = EOL_GATES.iter().find(|(g, _, _)| g.eq_ignore_ascii_case(gate_name)) {
        let mut msg = format!(
            "Gate {eol} has been End-of-Lifed. It will not be evaluated, and should be removed from policies"
        );
        if let Some(s) = superseded {
            msg.push_str(&format!(" and replaced with '{s}'"));
        }
        problems.push(ValidationProblem::error("EndOfLifedError", msg));
        return Err(problems);
    }
    let Some(gate) = gate_named(gate_name) else {
        if rule.gate.is_some() {
            let names: Vec<&str> = GATES.iter().map(|g| g.name).collect();
            problems.push(ValidationProblem::error(
                "GateNotFoundError",
                details(
                    "The specified gate is not found in the policy engine as a valid gate name",
                    &ctx(vec![("valid_gates", py_list(&names))]),
                ),
            ));
        }
        return Err(problems);
    };
    let Some(trigger) = gate.trigger(trigger_name) else {
        if rule.trigger.is_some() {
            let names: Vec<&str> = gate.triggers.iter().map(|t| t.name).collect();
            problems.push(ValidationProblem::error(
                "TriggerNotFoundError",
                details(&format!("Trigger not found for specified gate. Valid triggers are: {}", py_list(&names)), &ctx(vec![])),
            ));
        }
        return Err(problems);
    };

    let mut values = BTreeMap::new();
    let mut not_strings = HashSet::new();
    for p in rule.params.as_deref().unwrap_or(&[]) {
        let name = p.name.to_ascii_lowercase();
        match &p.value {
            Value::Null => {}
            Value::String(s) => {
                values.insert(name, s.clone());
            }
            other => {
                problems.push(ValidationProblem::error(
                    "ParameterValueInvalidError",
                    details(
                        &format!(
                            "Parameter validation failed: value {other} for parameter '{name}' must be a string (e.g. \"{}\")",
                            other.to_string().trim_matches('"')
                        ),
                        &ctx(vec![]),
                    ),
                ));
                not_strings.insert(name.clone());
                values.insert(name, String::new());
            }
        }
    }
    let params = Params::new(values);
    for (name, value) in params.iter() {
        match trigger.param(name) {
            None => {
                let valid: Vec<&str> = trigger.params.iter().map(|p| p.name).collect();
                problems.push(ValidationProblem::error(
                    "InvalidParameterError",
                    details(
                        "Rule validation error",
                        &ctx(vec![("parameter", name.clone()), ("valid_parameters", py_list(&valid))]),
                    ),
                ));
            }
            Some(_) if not_strings.contains(name) => {}
            Some(def) => {
                if let Err(why) = def.validator.check(value, &params) {
                    problems.push(ValidationProblem::error(
                        "ParameterValueInvalidError",
                        details(
                            &format!(
                                "Parameter validation failed: value {} for parameter '{name}' is invalid, expected: {why}",
                                py_str_repr(value)
                            ),
                            &ctx(vec![]),
                        ),
                    ));
                }
            }
        }
    }
    for def in trigger.params.iter().filter(|d| d.required) {
        if params.str(def.name).is_none() {
            problems.push(ValidationProblem::error(
                "RequiredParameterNotSetError",
                details("Required parameter", &ctx(vec![("required_parameter", def.name.to_string())])),
            ));
        }
    }
    if problems.is_empty() { Ok((trigger, params)) } else { Err(problems) }
}

impl Bundle {
    /// Validates the whole bundle, listing every problem (empty report = valid).
    pub fn validate(&self) -> ValidationReport {
        let mut out = Vec::new();
        let bundle_id = self.id.as_deref();
        if self.id.is_none() {
            out.push(missing("bundle", "id", None));
        }
        version_problem("bundle", self.version.as_deref(), bundle_id, &mut out);
        if self.policies.is_none() {
            out.push(missing("bundle", "policies", bundle_id));
        }
        if self.mappings.is_none() {
            out.push(missing("bundle", "mappings", bundle_id));
        }

        let mut seen = HashSet::new();
        for policy in self.policies() {
            let pid = policy.id.as_deref();
            match pid {
                None => out.push(missing("policy", "id", None)),
                Some(id) if !seen.insert(("policy", id)) => out.push(duplicate("policy", id)),
                Some(_) => {}
            }
            version_problem("policy", policy.version.as_deref(), pid, &mut out);
            for rule in policy.rules() {
                if let Err(problems) = check_rule(rule) {
                    out.extend(problems);
                }
            }
        }
        for allowlist in self.allowlists() {
            let wid = allowlist.id.as_deref();
            match wid {
                None => out.push(missing("whitelist", "id", None)),
                Some(id) if !seen.insert(("whitelist", id)) => out.push(duplicate("whitelist", id)),
                Some(_) => {}
            }
            version_problem("whitelist", allowlist.version.as_deref(), wid, &mut out);
            for item in allowlist.items() {
                if item.gate.is_none() {
                    out.push(missing("whitelist item", "gate", item.id.as_deref()));
                }
                if item.trigger_id.is_none() {
                    out.push(missing("whitelist item", "trigger_id", item.id.as_deref()));
                }
                if let Some(e) = item.expires_on.as_deref()
                    && time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).is_err()
                {
                    out.push(ValidationProblem::error(
                        "ValidationError",
                        details(
                            &format!("expires_on must be an RFC 3339 date-time, e.g. 2030-01-01T00:00:00Z, got '{e}'"),
                            &[("whitelist_item_id", opt(item.id.as_deref()))],
                        ),
                    ));
                }
            }
        }
        for mapping in self.mappings() {
            let mid = mapping.id.as_deref();
            for (field, present) in [
                ("name", mapping.name.is_some()),
                ("registry", mapping.registry.is_some()),
                ("repository", mapping.repository.is_some()),
                ("image", mapping.image.is_some()),
            ] {
                if !present {
                    out.push(missing("mapping", field, mid));
                }
            }
            if let Some(image) = &mapping.image
                && !matches!(image.kind.as_str(), "tag" | "digest" | "id")
            {
                out.push(ValidationProblem::error(
                    "ValidationError",
                    details(&format!("image.type must be one of tag, digest, id, got '{}'", image.kind), &[("mapping_id", opt(mid))]),
                ));
            }
            let has_one = mapping.policy_id.as_deref().is_some_and(|s| !s.is_empty());
            let has_many = mapping.policy_ids.as_ref().is_some_and(|v| !v.is_empty());
            if has_one && has_many {
                out.push(ValidationProblem::error(
                    "ValidationError",
                    details(
                        "Cannot specify both policy_id and policy_ids properties in mapping rule, must use one or the other",
                        &[],
                    ),
                ));
            } else if !has_one && !has_many {
                out.push(ValidationProblem::error(
                    "ValidationError",
                    details(
                        &format!("No policy_id or policy_ids property found for mapping rule: {}", opt(mid)),
                        &[],
                    ),
                ));
            }
            for pid in mapping.policy_ids() {
                if self.policy(&pid).is_none() {
                    out.push(not_found("policy", &pid));
                }
            }
            for wid in mapping.whitelist_ids.as_deref().unwrap_or(&[]) {
                if self.allowlist(wid).is_none() {
                    out.push(not_found("whitelist", wid));
                }
            }
        }
        for (kind, rules) in [("whitelisted_images", self.allowlisted_images()), ("blacklisted_images", self.denylisted_images())] {
            for rule in rules {
                for (field, present) in [
                    ("name", rule.name.is_some()),
                    ("registry", rule.registry.is_some()),
                    ("repository", rule.repository.is_some()),
                    ("image", rule.image.is_some()),
                ] {
                    if !present {
                        out.push(missing(kind, field, rule.id.as_deref()));
                    }
                }
            }
        }
        ValidationReport { problems: out }
    }

    /// Warnings that do not make a bundle invalid (Anchore accepts it) but that show the bundle
    /// will not work as written: regex parameters this engine cannot compile (they become
    /// evaluation problems, and the trigger does not fire).
    pub fn lint(&self) -> Vec<ValidationProblem> {
        let mut out = Vec::new();
        for policy in self.policies() {
            for rule in policy.rules() {
                let Ok((trigger, params)) = check_rule(rule) else { continue };
                let gate = rule.gate.as_deref().unwrap_or("").to_ascii_lowercase();
                for name in regex_params(&gate, trigger.name, &params) {
                    if let Some(v) = params.str(name)
                        && let Err(e) = py_re(v)
                    {
                        out.push(ValidationProblem::warn(
                            "ParameterValueInvalidError",
                            details(
                                &format!("Parameter '{name}' is not a valid regular expression: {e}"),
                                &[("gate", gate.clone()), ("trigger", trigger.name.to_string()), ("rule_id", opt(rule.id.as_deref()))],
                            ),
                        ));
                    }
                }
            }
        }
        out
    }
}

fn duplicate(kind: &str, id: &str) -> ValidationProblem {
    ValidationProblem::error(
        "DuplicateIdentifierFoundError",
        details(
            "Object identifier found multiple times, not unique",
            &[("identifier", id.to_string()), ("identifier_type", kind.to_string())],
        ),
    )
}

fn not_found(kind: &str, id: &str) -> ValidationProblem {
    ValidationProblem::error(
        "ReferencedObjectNotFoundError",
        details("Referenced object not found", &[("reference_type", kind.to_string()), ("reference_id", id.to_string())]),
    )
}
