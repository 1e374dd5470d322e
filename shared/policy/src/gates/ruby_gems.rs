//! `ruby_gems`: gems against the (legacy) packages feed, and a gem deny list.

use super::npms::{FeedMessages, bad_version, deny_listed, not_latest, not_official};
use super::{Fired, GateDef, ParamDef, TriggerDef, TriggerInput, Validator};

pub(crate) const GATE_NAME: &str = "ruby_gems";
pub(crate) const NEWER_VERSION_FOUND_IN_FEED: &str = "newer_version_found_in_feed";
pub(crate) const NOT_FOUND_IN_FEED: &str = "not_found_in_feed";
pub(crate) const VERSION_NOT_FOUND_IN_FEED: &str = "version_not_found_in_feed";
pub(crate) const BLACKLIST: &str = "blacklist";
pub(crate) const FEED_DATA_UNAVAILABLE: &str = "feed_data_unavailable";

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[
        TriggerDef { name: NEWER_VERSION_FOUND_IN_FEED, params: &[], eval: newer },
        TriggerDef { name: NOT_FOUND_IN_FEED, params: &[], eval: unknown },
        TriggerDef { name: VERSION_NOT_FOUND_IN_FEED, params: &[], eval: bad },
        TriggerDef {
            name: BLACKLIST,
            params: &[ParamDef::new("name", true, Validator::Str), ParamDef::new("version", false, Validator::Str)],
            eval: deny,
        },
        TriggerDef { name: FEED_DATA_UNAVAILABLE, params: &[], eval: no_feed },
    ],
};

const GEM_MESSAGES: FeedMessages = FeedMessages {
    not_latest_prefix: "",
    not_official: |n| format!("GEMNOTOFFICIAL Package ({n}) in container but not in official GEM feed."),
    bad_version_prefix: "GEMBADVERSION ",
    deny_prefix: "Gem Package is blacklisted: ",
};

fn newer(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(not_latest(input.facts, input.ctx.gem_feed.as_ref(), "gem", &GEM_MESSAGES))
}

fn unknown(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(not_official(input.facts, input.ctx.gem_feed.as_ref(), "gem", &GEM_MESSAGES))
}

fn bad(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(bad_version(input.facts, input.ctx.gem_feed.as_ref(), "gem", &GEM_MESSAGES))
}

fn deny(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(deny_listed(input, "gem", &GEM_MESSAGES))
}

fn no_feed(input: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(if input.ctx.gem_feed.as_ref().is_some_and(|f| f.last_sync.is_some()) {
        vec![]
    } else {
        vec![Fired::msg(
            "Gem packages are present but the anchore gem feed is not available - will be unable to perform checks that require feed data",
        )]
    })
}
