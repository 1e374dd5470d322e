//! `files`: file names, attributes, setuid/setgid bits and content-search hits.

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator, py_re};
use crate::pyfmt::py_oct;

pub(crate) const GATE_NAME: &str = "files";
pub(crate) const CONTENT_REGEX_MATCH: &str = "content_regex_match";
pub(crate) const NAME_MATCH: &str = "name_match";
pub(crate) const ATTRIBUTE_MATCH: &str = "attribute_match";
pub(crate) const SUID_OR_GUID_SET: &str = "suid_or_guid_set";

const EQ_OPS: &[&str] = &["equals", "not_equals"];

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef {
            name: CONTENT_REGEX_MATCH,
            params: &[ParamDef::new("regex_name", false, Validator::Str)],
            eval: content_regex_match,
        },
        TriggerDef { name: NAME_MATCH, params: &[ParamDef::new("regex", true, Validator::Str)], eval: name_match },
        TriggerDef {
            name: ATTRIBUTE_MATCH,
            params: &[
                ParamDef::new("filename", true, Validator::Str),
                ParamDef::new("checksum_algorithm", false, Validator::Enum(&["sha256"])),
                ParamDef::new("checksum", false, Validator::Str),
                ParamDef::new("checksum_match", false, Validator::Enum(EQ_OPS)),
                ParamDef::new("mode", false, Validator::Str),
                ParamDef::new("mode_op", false, Validator::Enum(EQ_OPS)),
                ParamDef::new("skip_missing", false, Validator::BoolStr),
            ],
            eval: attribute_match,
        },
        TriggerDef { name: SUID_OR_GUID_SET, params: &[], eval: suid_or_guid_set },
    ],
};

/// Splits a configured content-search regex into `(name, regex)`; unnamed ones have no name.
pub(crate) fn split_named_regex(configured: &str) -> (Option<&str>, &str) {
    match configured.split_once('=') {
        Some((name, re)) => (Some(name), re),
        None => (None, configured),
    }
}

fn content_regex_match(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let wanted = input.params.str("regex_name").filter(|s| !s.is_empty());
    let mut fired = Vec::new();
    for hit in &input.facts.content_matches {
        let (name, regex) = split_named_regex(&hit.regex);
        let found = match wanted {
            None => true,
            Some(w) => regex == w || name == Some(w),
        };
        if found {
            fired.push(Fired::msg(format!(
                "File content analyzer found regexp match in container: file={} regexp={}",
                hit.path, hit.regex
            )));
        }
    }
    Ok(fired)
}

fn name_match(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let pattern = input.params.str("regex").unwrap_or_default();
    let re = py_re(pattern)?;
    Ok(input
        .facts
        .files
        .iter()
        .filter(|f| re.is_match(&f.path))
        .map(|f| {
            Fired::msg(format!("Application of regex matched file found in container: file={} regexp={pattern}", f.path))
        })
        .collect())
}

fn attribute_match(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let p = input.params;
    let filename = p.str("filename").unwrap_or_default();
    let checksum = p.str("checksum").filter(|s| !s.is_empty());
    let checksum_op = p.str("checksum_match").unwrap_or("equals");
    let mode = p.str("mode").filter(|s| !s.is_empty());
    let mode_op = p.str("mode_op").unwrap_or("equals");
    let skip_missing = p.bool("skip_missing").unwrap_or(true);

    let mut parts = Vec::new();
    match input.facts.files.iter().find(|f| f.path == filename) {
        Some(file) => {
            if let Some(want) = checksum {
                let have = file.sha256.as_deref().unwrap_or("");
                let equal = have == want;
                if (checksum_op == "equals") == equal {
                    parts.push(format!("checksum={have} op={checksum_op} specified_checksum={want}"));
                } else {
                    return Ok(vec![]);
                }
            }
            if let Some(want) = mode {
                let want = u32::from_str_radix(want.trim(), 8)
                    .map_err(|_| format!("invalid literal for int() with base 8: '{want}'"))?;
                let have = py_oct(file.mode & 0o7777);
                let want = py_oct(want);
                if (mode_op == "equals") == (have == want) {
                    parts.push(format!("mode={have} op={mode_op} specified_mode={want}"));
                } else {
                    return Ok(vec![]);
                }
            }
        }
        None => {
            if skip_missing {
                return Ok(vec![]);
            }
            parts.push("skip_missing=False".to_string());
        }
    }
    if parts.is_empty() {
        return Ok(vec![]);
    }
    let mut msg = format!("filename={filename}");
    for part in parts {
        msg.push_str(" and ");
        msg.push_str(&part);
    }
    Ok(vec![Fired::msg(msg)])
}

fn suid_or_guid_set(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(input
        .facts
        .files
        .iter()
        .filter(|f| f.mode & 0o6000 != 0)
        .map(|f| Fired::msg(format!("SUID or SGID found set on file {}. Mode: {}", f.path, py_oct(f.mode))))
        .collect())
}
