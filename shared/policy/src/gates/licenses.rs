//! `licenses`: licenses of the installed OS packages against deny lists.

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator};
use crate::facts::{ImageFacts, is_os_package_type};

pub(crate) const GATE_NAME: &str = "licenses";
pub(crate) const BLACKLIST_EXACT_MATCH: &str = "blacklist_exact_match";
pub(crate) const BLACKLIST_PARTIAL_MATCH: &str = "blacklist_partial_match";

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef {
            name: BLACKLIST_EXACT_MATCH,
            params: &[ParamDef::new("licenses", true, Validator::CsvStrings)],
            eval: exact,
        },
        TriggerDef {
            name: BLACKLIST_PARTIAL_MATCH,
            params: &[ParamDef::new("licenses", true, Validator::CsvStrings)],
            eval: partial,
        },
    ],
};

/// `(package, license)` for each space-separated license name of each OS package.
fn licenses(facts: &ImageFacts) -> Vec<(&str, &str)> {
    facts
        .packages
        .iter()
        .filter(|p| is_os_package_type(&p.pkg_type))
        .flat_map(|p| p.licenses.iter().flat_map(|l| l.split_whitespace()).map(move |l| (p.name.as_str(), l)))
        .collect()
}

fn exact(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let deny = input.params.csv("licenses").unwrap_or_default();
    let hits: Vec<String> = licenses(input.facts)
        .into_iter()
        .filter(|(_, l)| deny.iter().any(|d| d == l))
        .map(|(p, l)| format!("{p}({l})"))
        .collect();
    Ok(if hits.is_empty() {
        vec![]
    } else {
        vec![Fired::msg(format!(
            "LICFULLMATCH Packages are installed that have blacklisted licenses: {}",
            hits.join(", ")
        ))]
    })
}

fn partial(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let deny = input.params.csv("licenses").unwrap_or_default();
    let mut hits = Vec::new();
    for (p, l) in licenses(input.facts) {
        for d in &deny {
            if l.contains(d.as_str()) {
                hits.push(format!("{p}({l})"));
            }
        }
    }
    Ok(if hits.is_empty() {
        vec![]
    } else {
        vec![Fired::msg(format!(
            "LICSUBMATCH Packages are installed that have blacklisted licenses: {}",
            hits.join(", ")
        ))]
    })
}
