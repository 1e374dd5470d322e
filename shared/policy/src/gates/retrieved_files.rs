//! `retrieved_files`: presence and content of files stored at analysis time.

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator, py_re};

pub(crate) const GATE_NAME: &str = "retrieved_files";
pub(crate) const CONTENT_NOT_AVAILABLE: &str = "content_not_available";
pub(crate) const CONTENT_REGEX: &str = "content_regex";

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef {
            name: CONTENT_NOT_AVAILABLE,
            params: &[ParamDef::new("path", true, Validator::Str)],
            eval: content_not_available,
        },
        TriggerDef {
            name: CONTENT_REGEX,
            params: &[
                ParamDef::new("path", true, Validator::Str),
                ParamDef::new("check", true, Validator::Enum(&["match", "no_match"])),
                ParamDef::new("regex", true, Validator::Str),
            ],
            eval: content_regex,
        },
    ],
};

const NOT_AVAILABLE: &str = "Cannot locate file in the image analysis";

fn content_not_available(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let path = input.params.str("path").unwrap_or_default();
    let mut fired = Vec::new();
    // Anchore fires once when nothing at all was retrieved and once more when this path is missing.
    if input.facts.retrieved_files.is_empty() {
        fired.push(Fired::msg(NOT_AVAILABLE));
    }
    if !input.facts.retrieved_files.iter().any(|f| f.path == path) {
        fired.push(Fired::msg(NOT_AVAILABLE));
    }
    Ok(fired)
}

fn content_regex(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    if input.facts.retrieved_files.is_empty() {
        return Ok(vec![]);
    }
    let path = input.params.str("path").unwrap_or_default();
    let regex = input.params.str("regex").unwrap_or_default();
    let check = input.params.str("check").unwrap_or_default();
    let re = py_re(regex)?;
    let Some(content) = input.facts.retrieved_files.iter().find(|f| f.path == path).and_then(|f| f.content.as_deref())
    else {
        return Ok(vec![]);
    };
    let found = content.split_whitespace().any(|tok| re.is_match(tok));
    Ok(if found == (check == "match") {
        vec![Fired::with_id(
            format!("{}+file://{path}", input.rule_id.unwrap_or("None")),
            format!("Content regex '{regex}' check '{check}' found in retrieved file '{path}'"),
        )]
    } else {
        vec![]
    })
}
