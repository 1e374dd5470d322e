//! The gate registry: one module per Anchore gate, gate and trigger names as Anchore spells them.

mod always;
mod distro;
mod dockerfile;
mod files;
mod licenses;
mod malware;
mod metadata;
mod npms;
mod packages;
mod passwd_file;
mod retrieved_files;
mod ruby_gems;
mod secret_scans;
mod tag_drift;
mod vulnerabilities;

use regex::Regex;

use crate::evaluate::EvalContext;
use crate::facts::ImageFacts;
pub use crate::params::Validator;
use crate::params::Params;

/// One parameter of a trigger.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    pub name: &'static str,
    pub required: bool,
    pub validator: Validator,
    /// Not in Anchore's spec: a customs extension (KEV, EPSS).
    pub extension: bool,
}

impl ParamDef {
    pub(crate) const fn new(name: &'static str, required: bool, validator: Validator) -> ParamDef {
        ParamDef { name, required, validator, extension: false }
    }

    pub(crate) const fn extension(name: &'static str, validator: Validator) -> ParamDef {
        ParamDef { name, required: false, validator, extension: true }
    }
}

/// What a trigger sees when it runs.
pub(crate) struct TriggerInput<'a> {
    pub params: &'a Params,
    pub facts: &'a ImageFacts,
    pub ctx: &'a EvalContext,
    pub rule_id: Option<&'a str>,
}

/// One firing: the message and, when the trigger defines one, its own trigger id
/// (otherwise the id is `md5(gate + trigger + message)`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fired {
    pub id: Option<String>,
    pub msg: String,
}

impl Fired {
    pub(crate) fn msg(msg: impl Into<String>) -> Fired {
        Fired { id: None, msg: msg.into() }
    }

    pub(crate) fn with_id(id: impl Into<String>, msg: impl Into<String>) -> Fired {
        Fired { id: Some(id.into()), msg: msg.into() }
    }
}

pub(crate) type EvalFn = fn(&TriggerInput<'_>) -> Result<Vec<Fired>, String>;

/// A trigger: its Anchore name, parameters and evaluation.
pub struct TriggerDef {
    pub name: &'static str,
    pub params: &'static [ParamDef],
    pub(crate) eval: EvalFn,
}

impl std::fmt::Debug for TriggerDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerDef").field("name", &self.name).field("params", &self.params).finish()
    }
}

impl TriggerDef {
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// A gate and its triggers.
#[derive(Debug)]
pub struct GateDef {
    pub name: &'static str,
    pub triggers: &'static [TriggerDef],
}

impl GateDef {
    /// Trigger names are matched case-insensitively, as Anchore does.
    pub fn trigger(&self, name: &str) -> Option<&'static TriggerDef> {
        self.triggers.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// Every active gate: Anchore Engine's, in the order of its policy spec, then the Anchore
/// Enterprise gates listed in [`ENTERPRISE_GATES`].
pub static GATES: &[GateDef] = &[
    always::GATE,
    dockerfile::GATE,
    files::GATE,
    ruby_gems::GATE,
    metadata::GATE,
    licenses::GATE,
    malware::GATE,
    npms::GATE,
    packages::GATE,
    passwd_file::GATE,
    retrieved_files::GATE,
    secret_scans::GATE,
    vulnerabilities::GATE,
    distro::GATE,
    tag_drift::GATE,
];

/// Gates of Anchore Enterprise, not in Anchore Engine's policy spec (names and parameters from
/// Enterprise's gate reference).
pub static ENTERPRISE_GATES: &[&str] = &[distro::GATE_NAME, tag_drift::GATE_NAME];

/// End-of-lifed gates: `(gate, triggers, superseded by)`. Rules using them fail validation.
pub static EOL_GATES: &[(&str, &[&str], Option<&str>)] = &[
    ("suiddiff", &["suiddiff", "suidfileadd", "suidfiledel", "suidmodediff"], None),
    ("imagecheck", &["baseoutofdate"], None),
    ("pkgdiff", &["pkgversiondiff", "pkgadd", "pkgdel", "pkgdiff"], None),
    (
        "anchoresec",
        &["vulnlow", "vulnmedium", "vulnhigh", "vulncritical", "vulnunknown", "feedoutofdate", "unsupporteddistro"],
        Some("vulnerabilities"),
    ),
    ("pkgcheck", &["pkgnotpresent", "verify"], Some("packages")),
    (
        "dockerfilecheck",
        &[
            "directivecheck", "effectiveuser", "expose", "nofrom", "fromscratch", "notag", "sudo", "volumepresent",
            "nohealthcheck", "nodockerfile",
        ],
        Some("dockerfile"),
    ),
    ("filecheck", &["contentmatch", "filenamematch", "suidsgidcheck"], Some("files")),
    (
        "fileparse_passwd",
        &["filenotstored", "usernamematch", "useridmatch", "groupidmatch", "shellmatch", "pentrymatch"],
        Some("passwd_file"),
    ),
    (
        "gemcheck",
        &["gemnotlatest", "gemnotofficial", "gembadversion", "gempkgfullmatch", "gempkgnamematch", "gemnofeed"],
        Some("ruby_gems"),
    ),
    ("metadatacheck", &["attributecheck"], Some("metadata")),
    ("licblacklist", &["licfullmatch", "licsubmatch"], Some("licenses")),
    (
        "npmcheck",
        &["npmnotlatest", "npmnotofficial", "npmbadversion", "npmpkgfullmatch", "npmpkgnamematch", "npmnofeed"],
        Some("npms"),
    ),
    ("pkgblacklist", &["pkgfullmatch", "pkgnamematch"], Some("packages")),
    ("secretcheck", &["contentmatch", "filenamematch"], Some("secret_scans")),
];

/// The active gate with this name (case-insensitive).
pub fn gate_named(name: &str) -> Option<&'static GateDef> {
    GATES.iter().find(|g| g.name.eq_ignore_ascii_case(name))
}

/// Python's `re.match(pattern, s)`: anchored at the start only.
pub(crate) fn py_re(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})")).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// The parameters that hold regular expressions, so upload can warn when one does not compile.
pub(crate) fn regex_params(gate: &str, trigger: &str, params: &Params) -> Vec<&'static str> {
    match (gate, trigger) {
        ("dockerfile", "instruction") if matches!(params.str("check"), Some("like" | "not_like")) => vec!["value"],
        ("metadata", "attribute") if matches!(params.str("check"), Some("like" | "not_like")) => vec!["value"],
        ("files", "name_match") => vec!["regex"],
        ("secret_scans", "content_regex_checks") => vec!["filename_regex"],
        ("retrieved_files", "content_regex") => vec!["regex"],
        ("vulnerabilities", "package") => vec!["package_path_exclude"],
        _ => Vec::new(),
    }
}
