#![doc = include_str!("../README.md")]

mod bundle;
mod check;
mod error;
mod evaluate;
mod facts;
mod gates;
mod matching;
mod params;
mod pyfmt;
mod validate;

pub use bundle::{
    Action, Allowlist, AllowlistItem, Bundle, ImageSelectionRule, ImageSelector, MappingRule,
    Policy, PolicyRule, RuleParam, SUPPORTED_VERSION,
};
pub use check::{CHECK_HEADER, CheckOptions, check_entry_json, policy_evaluation_json, to_anchore_check_json};
pub use error::PolicyError;
pub use evaluate::{
    AllowlistMatch, EvalContext, Evaluation, FinalActionReason, PackageFeed, FeedPackage, PolicyOutcome,
    Row, VulnerabilityFeedStatus, evaluate,
};
pub use facts::{
    ContentMatch, Cvss, Distro, Dockerfile, DockerfileInstruction, DockerfileMode, FileEntry, ImageConfig,
    ImageFacts, MalwareFinding, MalwareScan, NON_OS_PACKAGE_TYPES, Package, PackageDbFile, RetrievedFile,
    Severity, VulnerabilityMatch, is_os_package_type,
};
pub use gates::{ENTERPRISE_GATES, EOL_GATES, GATES, GateDef, ParamDef, TriggerDef, Validator, gate_named};
pub use matching::{TagParts, parse_tag, wildcard_match};
pub use validate::{ValidationProblem, ValidationReport};

#[cfg(test)]
mod tests;

/// Anchore Engine's default bundle, the active policy of an account that has none.
pub const DEFAULT_BUNDLE: &str = include_str!("../testdata/anchore_default_bundle.json");

/// A Dockerfile reconstructed from an image config's `history` (`created_by` lines),
/// what Anchore calls the "Guessed" Dockerfile.
pub fn guess_dockerfile(config: &serde_json::Value) -> String {
    let mut lines = vec!["FROM scratch".to_owned()];
    for h in config.get("history").and_then(serde_json::Value::as_array).into_iter().flatten() {
        let by = h.get("created_by").and_then(serde_json::Value::as_str).unwrap_or_default().trim();
        let line = match by.strip_prefix("/bin/sh -c #(nop)") {
            Some(rest) => rest.trim().to_owned(),
            None => by.strip_prefix("/bin/sh -c").map_or_else(|| by.to_owned(), |rest| format!("RUN {}", rest.trim())),
        };
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines.join("\n") + "\n"
}
