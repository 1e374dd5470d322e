//! `distro` (Anchore Enterprise): deny images on a given distribution and version.
//!
//! Fires when the image's distro name equals `distro` (case-insensitive) and its version
//! compares with `version` per `check`. Versions compare as dotted numbers, component by
//! component, missing components counting as 0 (`12` = `12.0`, `3.9` < `3.19`). A version that
//! is not dotted numbers (Debian testing's `bookworm/sid`, `rolling`) has no order: `=` and
//! `!=` then compare the strings exactly, and `<`, `<=`, `>`, `>=` never fire (upload rejects a
//! non-numeric `version` for those checks). An image without a detected distro never fires.

use std::cmp::Ordering;

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator};

pub(crate) const GATE_NAME: &str = "distro";
pub(crate) const DENY: &str = "deny";

const CHECKS: &[&str] = &["=", "!=", "<", "<=", ">", ">="];

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[TriggerDef {
        name: DENY,
        params: &[
            ParamDef::new("distro", true, Validator::Str),
            ParamDef::new("version", true, Validator::DistroVersion),
            ParamDef::new("check", true, Validator::Enum(CHECKS)),
        ],
        eval: deny,
    }],
};

/// `3.19.1` → `[3, 19, 1]`; `None` unless every component is a number.
fn dotted(v: &str) -> Option<Vec<u64>> {
    v.trim().split('.').map(|c| c.parse::<u64>().ok()).collect()
}

/// Numeric dotted order, missing components as 0; `None` when either side is not numeric.
pub(crate) fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (dotted(a)?, dotted(b)?);
    let n = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    Some(
        (0..n)
            .map(|i| at(&a, i).cmp(&at(&b, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
    )
}

fn deny(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let (Some(name), Some(version), Some(check)) = (
        input.params.str("distro"),
        input.params.str("version"),
        input.params.str("check"),
    ) else {
        return Ok(vec![]);
    };
    let Some(d) = input.facts.distro.as_ref() else {
        return Ok(vec![]);
    };
    if !d.name.eq_ignore_ascii_case(name.trim()) {
        return Ok(vec![]);
    }
    let ord = compare_versions(&d.version, version);
    let hit = match (check, ord) {
        ("=", Some(o)) => o.is_eq(),
        ("!=", Some(o)) => o.is_ne(),
        ("=", None) => d.version == version.trim(),
        ("!=", None) => d.version != version.trim(),
        ("<", Some(o)) => o.is_lt(),
        ("<=", Some(o)) => o.is_le(),
        (">", Some(o)) => o.is_gt(),
        (">=", Some(o)) => o.is_ge(),
        _ => false,
    };
    Ok(if hit {
        vec![Fired::msg(format!(
            "Distro check for distro: '{name}' check: '{check}' version: '{version}' matched image distro: '{}' version: '{}'",
            d.name, d.version
        ))]
    } else {
        vec![]
    })
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::compare_versions;

    #[test]
    fn dotted_numeric_order() {
        assert_eq!(compare_versions("3.9", "3.19"), Some(Ordering::Less));
        assert_eq!(compare_versions("12", "12.0"), Some(Ordering::Equal));
        assert_eq!(compare_versions("12.4", "12"), Some(Ordering::Greater));
        assert_eq!(compare_versions(" 9 ", "10"), Some(Ordering::Less));
        assert_eq!(compare_versions("bookworm/sid", "12"), None);
        assert_eq!(compare_versions("12", "1.x"), None);
    }
}
