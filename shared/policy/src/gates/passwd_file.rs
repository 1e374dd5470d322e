//! `passwd_file`: checks on the stored `/etc/passwd`.

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator};
use crate::facts::ImageFacts;

pub(crate) const GATE_NAME: &str = "passwd_file";
pub(crate) const CONTENT_NOT_AVAILABLE: &str = "content_not_available";
pub(crate) const BLACKLIST_USERNAMES: &str = "blacklist_usernames";
pub(crate) const BLACKLIST_USERIDS: &str = "blacklist_userids";
pub(crate) const BLACKLIST_GROUPIDS: &str = "blacklist_groupids";
pub(crate) const BLACKLIST_SHELLS: &str = "blacklist_shells";
pub(crate) const BLACKLIST_FULL_ENTRY: &str = "blacklist_full_entry";

const PASSWD: &str = "/etc/passwd";

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef { name: CONTENT_NOT_AVAILABLE, params: &[], eval: content_not_available },
        TriggerDef {
            name: BLACKLIST_USERNAMES,
            params: &[ParamDef::new("user_names", true, Validator::CsvStrings)],
            eval: usernames,
        },
        TriggerDef {
            name: BLACKLIST_USERIDS,
            params: &[ParamDef::new("user_ids", true, Validator::CsvNumbers)],
            eval: userids,
        },
        TriggerDef {
            name: BLACKLIST_GROUPIDS,
            params: &[ParamDef::new("group_ids", true, Validator::CsvNumbers)],
            eval: groupids,
        },
        TriggerDef {
            name: BLACKLIST_SHELLS,
            params: &[ParamDef::new("shells", true, Validator::CsvStrings)],
            eval: shells,
        },
        TriggerDef {
            name: BLACKLIST_FULL_ENTRY,
            params: &[ParamDef::new("entry", true, Validator::Str)],
            eval: full_entry,
        },
    ],
};

/// `(user, fields after the user)`, one per user (a later line for the same user replaces the
/// earlier one but keeps its position), as Anchore builds its entry map.
fn entries(facts: &ImageFacts) -> Vec<(String, Vec<String>)> {
    let Some(content) = facts.retrieved_files.iter().find(|f| f.path == PASSWD).and_then(|f| f.content.as_deref())
    else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        let mut parts = line.split(':').map(str::to_string);
        let user = parts.next().unwrap_or_default();
        let rest: Vec<String> = parts.collect();
        match out.iter_mut().find(|(u, _)| *u == user) {
            Some(e) => e.1 = rest,
            None => out.push((user, rest)),
        }
    }
    out
}

fn content_not_available(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(if entries(input.facts).is_empty() {
        vec![Fired::msg("Cannot locate /etc/passwd in image stored files archive: check analyzer settings.")]
    } else {
        vec![]
    })
}

/// `index`: position in the fields after the user name; `None` = the user name itself.
fn deny(input: &TriggerInput<'_>, items: &[String], index: Option<usize>, what: &str) -> Vec<Fired> {
    let mut fired = Vec::new();
    for (user, rest) in entries(input.facts) {
        let candidate = match index {
            None => Some(user.clone()),
            Some(i) => rest.get(i).cloned(),
        };
        let Some(candidate) = candidate else { continue };
        if items.contains(&candidate) {
            let full = std::iter::once(user.as_str()).chain(rest.iter().map(String::as_str)).collect::<Vec<_>>().join(":");
            fired.push(Fired::msg(format!("Blacklisted {what} '{candidate}' found in image's /etc/passwd: pentry={full}")));
        }
    }
    fired
}

fn usernames(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(deny(input, &input.params.csv("user_names").unwrap_or_default(), None, "user"))
}

fn userids(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let ids: Vec<String> = input.params.csv_numbers("user_ids").unwrap_or_default().iter().map(u64::to_string).collect();
    Ok(deny(input, &ids, Some(1), "uid"))
}

fn groupids(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let ids: Vec<String> = input.params.csv_numbers("group_ids").unwrap_or_default().iter().map(u64::to_string).collect();
    Ok(deny(input, &ids, Some(2), "gid"))
}

fn shells(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(deny(input, &input.params.csv("shells").unwrap_or_default(), Some(5), "shell"))
}

fn full_entry(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    let entry = input.params.str("entry").unwrap_or_default().trim().to_string();
    let mut fired = Vec::new();
    for (user, rest) in entries(input.facts) {
        let full = std::iter::once(user.as_str()).chain(rest.iter().map(String::as_str)).collect::<Vec<_>>().join(":");
        if full == entry {
            fired.push(Fired::msg(format!("Blacklisted pentry '{full}' found in image's /etc/passwd: pentry={full}")));
        }
    }
    Ok(fired)
}
