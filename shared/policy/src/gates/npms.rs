//! `npms`: npm packages against the (legacy) packages feed, and an npm deny list.

use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator};
use crate::evaluate::PackageFeed;
use crate::facts::ImageFacts;
use crate::pyfmt::py_list;

pub(crate) const GATE_NAME: &str = "npms";
pub(crate) const NEWER_VERSION_IN_FEED: &str = "newer_version_in_feed";
pub(crate) const UNKNOWN_IN_FEEDS: &str = "unknown_in_feeds";
pub(crate) const VERSION_NOT_IN_FEEDS: &str = "version_not_in_feeds";
pub(crate) const BLACKLISTED_NAME_VERSION: &str = "blacklisted_name_version";
pub(crate) const FEED_DATA_UNAVAILABLE: &str = "feed_data_unavailable";

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef { name: NEWER_VERSION_IN_FEED, params: &[], eval: newer },
        TriggerDef { name: UNKNOWN_IN_FEEDS, params: &[], eval: unknown },
        TriggerDef { name: VERSION_NOT_IN_FEEDS, params: &[], eval: bad_version_npm },
        TriggerDef {
            name: BLACKLISTED_NAME_VERSION,
            params: &[ParamDef::new("name", true, Validator::Str), ParamDef::new("version", false, Validator::Str)],
            eval: deny,
        },
        TriggerDef { name: FEED_DATA_UNAVAILABLE, params: &[], eval: no_feed },
    ],
};

/// Installed packages of one type: name → versions, in first-seen order.
pub(crate) fn installed<'a>(facts: &'a ImageFacts, pkg_type: &str) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for p in facts.packages.iter().filter(|p| p.pkg_type.eq_ignore_ascii_case(pkg_type)) {
        match out.iter_mut().find(|(n, _)| *n == p.name) {
            Some((_, versions)) => versions.push(&p.version),
            None => out.push((&p.name, vec![&p.version])),
        }
    }
    out
}

/// The messages that differ between the npm and gem gates.
pub(crate) struct FeedMessages {
    pub not_latest_prefix: &'static str,
    pub not_official: fn(&str) -> String,
    pub bad_version_prefix: &'static str,
    pub deny_prefix: &'static str,
}

const NPM_MESSAGES: FeedMessages = FeedMessages {
    not_latest_prefix: "NPMNOTLATEST ",
    not_official: |n| format!("NPMNOTOFFICIAL Package ({n}) in container but not in official NPM feed."),
    bad_version_prefix: "NPMBADVERSION ",
    deny_prefix: "NPM Package is blacklisted: ",
};

/// Image packages that the feed knows, or `None` when Anchore would skip (no feed match at all).
fn matched<'a>(facts: &'a ImageFacts, feed: Option<&PackageFeed>, pkg_type: &str) -> Option<Vec<(&'a str, Vec<&'a str>)>> {
    let feed = feed?;
    let pkgs = installed(facts, pkg_type);
    if pkgs.is_empty() || !pkgs.iter().any(|(n, _)| feed.packages.contains_key(*n)) {
        return None;
    }
    Some(pkgs)
}

pub(crate) fn not_latest(facts: &ImageFacts, feed: Option<&PackageFeed>, pkg_type: &str, m: &FeedMessages) -> Vec<Fired> {
    let (Some(feed), Some(pkgs)) = (feed, matched(facts, feed, pkg_type)) else { return vec![] };
    let mut fired = Vec::new();
    for (name, versions) in pkgs {
        let Some(record) = feed.packages.get(name) else { continue };
        let latest = record.latest.as_deref().unwrap_or("None");
        for v in versions {
            if !v.is_empty() && Some(v) != record.latest.as_deref() {
                fired.push(Fired::msg(format!(
                    "{}Package ({name}) version ({v}) installed but is not the latest version ({latest})",
                    m.not_latest_prefix
                )));
            }
        }
    }
    fired
}

pub(crate) fn not_official(facts: &ImageFacts, feed: Option<&PackageFeed>, pkg_type: &str, m: &FeedMessages) -> Vec<Fired> {
    let (Some(feed), Some(pkgs)) = (feed, matched(facts, feed, pkg_type)) else { return vec![] };
    pkgs.iter()
        .filter(|(n, _)| !feed.packages.contains_key(*n))
        .map(|(n, _)| Fired::msg((m.not_official)(n)))
        .collect()
}

pub(crate) fn bad_version(facts: &ImageFacts, feed: Option<&PackageFeed>, pkg_type: &str, m: &FeedMessages) -> Vec<Fired> {
    let (Some(feed), Some(pkgs)) = (feed, matched(facts, feed, pkg_type)) else { return vec![] };
    let mut fired = Vec::new();
    for (name, versions) in pkgs {
        let Some(record) = feed.packages.get(name) else { continue };
        let mut seen: Vec<&str> = Vec::new();
        for v in versions {
            if !record.versions.iter().any(|x| x == v) && !seen.contains(&v) {
                seen.push(v);
                fired.push(Fired::msg(format!(
                    "{}Package ({name}) version ({v}) installed but version is not in the official feed for this package ({})",
                    m.bad_version_prefix,
                    py_list(&record.versions)
                )));
            }
        }
    }
    fired
}

pub(crate) fn deny_listed(input: &TriggerInput<'_>, pkg_type: &str, m: &FeedMessages) -> Vec<Fired> {
    let pkgs = installed(input.facts, pkg_type);
    let Some(name) = input.params.str("name") else { return vec![] };
    let version = input.params.str("version");
    let Some((_, versions)) = pkgs.iter().find(|(n, _)| *n == name) else { return vec![] };
    match version {
        Some(v) if !v.is_empty() => {
            if versions.contains(&v) {
                vec![Fired::msg(format!("{}{name}-{v}", m.deny_prefix))]
            } else {
                vec![]
            }
        }
        Some(_) => vec![],
        None => vec![Fired::msg(format!("{}{name}", m.deny_prefix))],
    }
}

fn newer(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(not_latest(input.facts, input.ctx.npm_feed.as_ref(), "npm", &NPM_MESSAGES))
}

fn unknown(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(not_official(input.facts, input.ctx.npm_feed.as_ref(), "npm", &NPM_MESSAGES))
}

fn bad_version_npm(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(bad_version(input.facts, input.ctx.npm_feed.as_ref(), "npm", &NPM_MESSAGES))
}

fn deny(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(deny_listed(input, "npm", &NPM_MESSAGES))
}

fn no_feed(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(if input.ctx.npm_feed.as_ref().is_some_and(|f| f.last_sync.is_some()) {
        vec![]
    } else {
        vec![Fired::msg(
            "NPM packages are present but the anchore npm feed is not available - will be unable to perform checks that require feed data",
        )]
    })
}
