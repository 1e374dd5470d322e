//! `secret_scans`: hits of the analyzer's secret-search regexes.

use super::files::split_named_regex;
use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator, py_re};

pub(crate) const GATE_NAME: &str = "secret_scans";
pub(crate) const CONTENT_REGEX_CHECKS: &str = "content_regex_checks";

/// The secret-search regex names Anchore's analyzer configures by default.
#[allow(dead_code)]
pub(crate) const DEFAULT_SECRET_REGEX_NAMES: &[&str] = &["AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PRIV_KEY", "DOCKER_AUTH", "API_KEY"];

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[TriggerDef {
        name: CONTENT_REGEX_CHECKS,
        params: &[
            ParamDef::new("content_regex_name", false, Validator::Str),
            ParamDef::new("filename_regex", false, Validator::Str),
            ParamDef::new("match_type", false, Validator::Enum(&["notfound", "found"])),
        ],
        eval: content_regex_checks,
    }],
};

fn content_regex_checks(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let wanted = input.params.str("content_regex_name").filter(|s| !s.is_empty());
    let name_filter = input.params.str("filename_regex").filter(|s| !s.is_empty());
    let name_re = name_filter.map(py_re).transpose()?;
    let match_type = input.params.str("match_type").unwrap_or("found");
    let mut fired = Vec::new();
    let mut one_found = false;
    for hit in &input.facts.secret_matches {
        if name_re.as_ref().is_some_and(|r| !r.is_match(&hit.path)) {
            continue;
        }
        let (name, regex) = split_named_regex(&hit.regex);
        // Anchore compares the configured name (or regex) as a substring of the parameter value.
        let found = match wanted {
            None => true,
            Some(w) => w.contains(regex) || name.is_some_and(|n| w.contains(n)),
        };
        if found {
            one_found = true;
            if match_type == "found" {
                fired.push(Fired::msg(format!(
                    "Secret content search analyzer found regexp match in container: file={} regexp={}",
                    hit.path, hit.regex
                )));
            }
        }
    }
    if !one_found && match_type == "notfound" {
        fired.push(Fired::msg(format!(
            "Secret content search analyzer did not find regexp match in container: filename_regex={} content_regex_name={}",
            name_filter.unwrap_or("*"),
            wanted.unwrap_or("all")
        )));
    }
    Ok(fired)
}
