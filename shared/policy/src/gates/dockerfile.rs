//! `dockerfile`: checks on the actual Dockerfile, or the one guessed from the image history.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator, py_re};
use crate::facts::{DockerfileMode, ImageFacts};

pub(crate) const GATE_NAME: &str = "dockerfile";
pub(crate) const INSTRUCTION: &str = "instruction";
pub(crate) const EFFECTIVE_USER: &str = "effective_user";
pub(crate) const EXPOSED_PORTS: &str = "exposed_ports";
pub(crate) const NO_DOCKERFILE_PROVIDED: &str = "no_dockerfile_provided";

const DIRECTIVES: &[&str] = &[
    "ADD", "ARG", "COPY", "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
    "USER", "RUN", "SHELL", "STOPSIGNAL", "VOLUME", "WORKDIR",
];
const CONDITIONS: &[&str] = &["=", "!=", "exists", "not_exists", "like", "not_like", "in", "not_in"];
const LIST_TYPES: &[&str] = &["whitelist", "blacklist"];

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef {
            name: INSTRUCTION,
            params: &[
                ParamDef::new("instruction", true, Validator::Enum(DIRECTIVES)),
                ParamDef::new("check", true, Validator::Enum(CONDITIONS)),
                ParamDef::new("value", false, Validator::Str),
                ParamDef::new("actual_dockerfile_only", false, Validator::BoolStr),
            ],
            eval: instruction,
        },
        TriggerDef {
            name: EFFECTIVE_USER,
            params: &[
                ParamDef::new("users", true, Validator::Str),
                ParamDef::new("type", true, Validator::Enum(LIST_TYPES)),
            ],
            eval: effective_user,
        },
        TriggerDef {
            name: EXPOSED_PORTS,
            params: &[
                ParamDef::new("ports", true, Validator::CsvNumbers),
                ParamDef::new("type", true, Validator::Enum(LIST_TYPES)),
                ParamDef::new("actual_dockerfile_only", false, Validator::BoolStr),
            ],
            eval: exposed_ports,
        },
        TriggerDef { name: NO_DOCKERFILE_PROVIDED, params: &[], eval: no_dockerfile_provided },
    ],
};

/// Instruction → argument lines, or `None` when Anchore would have no prepared Dockerfile
/// (mode unknown, or no instructions at all).
fn prepared(facts: &ImageFacts) -> Option<BTreeMap<String, Vec<String>>> {
    if facts.dockerfile.mode == DockerfileMode::Unknown || facts.dockerfile.instructions.is_empty() {
        return None;
    }
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in &facts.dockerfile.instructions {
        map.entry(i.instruction.to_ascii_uppercase()).or_default().push(i.args.trim().to_string());
    }
    Some(map)
}

fn actual_only_skips(input: &TriggerInput<'_>) -> bool {
    input.params.bool("actual_dockerfile_only").unwrap_or(false)
        && input.facts.dockerfile.mode != DockerfileMode::Actual
}

fn instruction(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let Some(df) = prepared(input.facts) else { return Ok(vec![]) };
    if actual_only_skips(input) {
        return Ok(vec![]);
    }
    let (Some(directive), Some(condition)) = (input.params.str("instruction"), input.params.str("check")) else {
        return Ok(vec![]);
    };
    let value = input.params.str("value");
    let needs_value = !matches!(condition, "exists" | "not_exists");
    if needs_value && value.is_none() {
        return Ok(vec![]);
    }
    let v = value.unwrap_or("");
    let like = if matches!(condition, "like" | "not_like") { Some(py_re(v)?) } else { None };
    let list: Vec<&str> = v.split(',').map(str::trim).collect();
    let mut fired = Vec::new();
    if let Some(lines) = df.get(directive) {
        for line in lines {
            let hit = match condition {
                "=" => line == v,
                "!=" => line != v,
                "exists" => true,
                "not_exists" => false,
                "like" => like.as_ref().is_some_and(|r| r.is_match(line)),
                "not_like" => !like.as_ref().is_some_and(|r| r.is_match(line)),
                "in" => list.contains(&line.as_str()),
                "not_in" => !list.contains(&line.as_str()),
                _ => false,
            };
            if hit {
                fired.push(Fired::msg(format!(
                    "Dockerfile directive '{directive}' check '{condition}' matched against '{v}' for line '{line}'"
                )));
            }
        }
    }
    if condition == "not_exists" && !df.contains_key(directive) {
        fired.push(Fired::msg(format!(
            "Dockerfile directive '{directive}' not found, matching condition '{condition}' check"
        )));
    }
    Ok(fired)
}

static USER_RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\s*USER\s+\[?([^\]]+)\]?\s*").ok());

fn effective_user(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let Some(df) = prepared(input.facts) else { return Ok(vec![]) };
    let users = input.params.csv("users").unwrap_or_default();
    let allowed = input.params.str("type").is_some_and(|t| t.eq_ignore_ascii_case("whitelist"));
    let last = df.get("USER").and_then(|l| l.last()).map(|a| format!("USER {a}")).unwrap_or_else(|| "USER root".into());
    let Some(caps) = USER_RE.as_ref().and_then(|r| r.captures(last.trim())) else { return Ok(vec![]) };
    let user = caps.get(1).map(|m| m.as_str()).unwrap_or_default().to_string();
    let listed = users.contains(&user);
    Ok(if allowed && !listed {
        vec![Fired::msg(format!("User {user} found as effective user, which is not on the allowed list"))]
    } else if !allowed && listed {
        vec![Fired::msg(format!("User {user} found as effective user, which is explicity not allowed list"))]
    } else {
        vec![]
    })
}

fn exposed_ports(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let Some(df) = prepared(input.facts) else { return Ok(vec![]) };
    if actual_only_skips(input) {
        return Ok(vec![]);
    }
    let ports: Vec<String> =
        input.params.csv_numbers("ports").unwrap_or_default().iter().map(u64::to_string).collect();
    let kind = input.params.str("type").unwrap_or_default().to_ascii_lowercase();
    let mut fired = Vec::new();
    for args in df.get("EXPOSE").map(Vec::as_slice).unwrap_or(&[]) {
        let mut exposed: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        if exposed.is_empty() {
            continue;
        }
        if kind == "blacklist" {
            for p in &ports {
                for candidate in [p.clone(), format!("{p}/tcp"), format!("{p}/udp")] {
                    if exposed.contains(&candidate) {
                        fired.push(Fired::msg(format!(
                            "Dockerfile exposes port ({candidate}) which is in policy file DENIEDPORTS list"
                        )));
                        break;
                    }
                }
            }
        } else if kind == "whitelist" {
            exposed.retain(|e| !ports.iter().any(|p| *e == *p || *e == format!("{p}/tcp") || *e == format!("{p}/udp")));
            for e in exposed {
                fired.push(Fired::msg(format!(
                    "Dockerfile exposes port ({e}) which is not in policy file ALLOWEDPORTS list"
                )));
            }
        }
    }
    Ok(fired)
}

fn no_dockerfile_provided(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(if input.facts.dockerfile.mode != DockerfileMode::Actual {
        vec![Fired::msg("Image was not analyzed with an actual Dockerfile")]
    } else {
        vec![]
    })
}
