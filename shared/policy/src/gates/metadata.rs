//! `metadata`: image attributes (size, architecture, OS, distro, layer count).

use std::cmp::Ordering;

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator, py_re};
use crate::facts::ImageFacts;

pub(crate) const GATE_NAME: &str = "metadata";
pub(crate) const ATTRIBUTE: &str = "attribute";

const ATTRIBUTES: &[&str] = &["size", "architecture", "os_type", "distro", "distro_version", "like_distro", "layer_count"];
const CHECKS: &[&str] = &["=", "!=", ">", "<", ">=", "<=", "exists", "not_exists", "like", "not_like", "in", "not_in"];

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[TriggerDef {
        name: ATTRIBUTE,
        params: &[
            ParamDef::new("attribute", true, Validator::Enum(ATTRIBUTES)),
            ParamDef::new("check", true, Validator::Enum(CHECKS)),
            ParamDef::new("value", false, Validator::MetadataValue),
        ],
        eval: attribute,
    }],
};

enum Val {
    Int(u64),
    Str(String),
}

fn image_value(facts: &ImageFacts, attr: &str) -> Option<Val> {
    match attr {
        "size" => facts.size.map(Val::Int),
        "layer_count" => Some(Val::Int(facts.layer_count.unwrap_or(0))),
        "architecture" => facts.architecture.clone().map(Val::Str),
        "os_type" => facts.os_type.clone().map(Val::Str),
        "distro" => facts.distro.as_ref().map(|d| Val::Str(d.name.clone())),
        "distro_version" => facts.distro.as_ref().map(|d| Val::Str(d.version.clone())),
        "like_distro" => facts.distro.as_ref().filter(|d| !d.like.is_empty()).map(|d| Val::Str(d.like.join(","))),
        _ => None,
    }
}

/// `10`, `10kb`, `3gb` → bytes (binary multiples).
fn size_bytes(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let (num, mult) = match v.len().checked_sub(2).map(|i| v.split_at(i)) {
        Some((n, "kb")) => (n, 1u64 << 10),
        Some((n, "mb")) => (n, 1 << 20),
        Some((n, "gb")) => (n, 1 << 30),
        Some((n, "tb")) => (n, 1 << 40),
        _ => (v.as_str(), 1),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult))
}

fn attribute(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let (Some(attr), Some(check)) = (input.params.str("attribute"), input.params.str("check")) else {
        return Ok(vec![]);
    };
    let rval = input.params.str("value");
    let needs_value = !matches!(check, "exists" | "not_exists");
    if needs_value && rval.is_none_or(str::is_empty) {
        return Ok(vec![]);
    }
    let rv = rval.unwrap_or("");
    let img = image_value(input.facts, attr);
    let shown = match &img {
        Some(Val::Int(n)) => n.to_string(),
        Some(Val::Str(s)) => s.clone(),
        None => "None".to_string(),
    };
    let hit = match check {
        "exists" => matches!(&img, Some(Val::Int(n)) if *n != 0) || matches!(&img, Some(Val::Str(s)) if !s.is_empty()),
        "not_exists" => !(matches!(&img, Some(Val::Int(n)) if *n != 0) || matches!(&img, Some(Val::Str(s)) if !s.is_empty())),
        "like" | "not_like" => {
            let re = py_re(rv)?;
            let m = re.is_match(&shown);
            if check == "like" { m } else { !m }
        }
        "in" | "not_in" => {
            let inside = rv.split(',').map(str::trim).any(|x| x == shown);
            if check == "in" { inside } else { !inside }
        }
        _ => {
            let ord = match &img {
                Some(Val::Int(n)) => {
                    let r = if attr == "size" { size_bytes(rv) } else { rv.trim().parse().ok() };
                    let Some(r) = r else { return Err(format!("invalid literal for int(): '{rv}'")) };
                    n.cmp(&r)
                }
                Some(Val::Str(s)) => s.as_str().cmp(rv),
                None => return Ok(vec![]),
            };
            match check {
                "=" => ord == Ordering::Equal,
                "!=" => ord != Ordering::Equal,
                ">" => ord == Ordering::Greater,
                "<" => ord == Ordering::Less,
                ">=" => ord != Ordering::Less,
                "<=" => ord != Ordering::Greater,
                _ => false,
            }
        }
    };
    Ok(if hit {
        vec![Fired::msg(format!(
            "Attribute check for attribute: '{attr}' check: '{check}' check_value: '{rv}' matched image value: '{shown}'"
        ))]
    } else {
        vec![]
    })
}

#[cfg(test)]
mod tests {
    use super::size_bytes;

    #[test]
    fn sizes() {
        assert_eq!(size_bytes("10"), Some(10));
        assert_eq!(size_bytes("2kb"), Some(2048));
        assert_eq!(size_bytes("1gb"), Some(1 << 30));
        assert_eq!(size_bytes("x"), None);
    }
}
