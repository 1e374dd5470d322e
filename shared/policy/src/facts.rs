//! What the engine knows about one image: pure data, filled in by the evaluate function from
//! the catalogue, the matcher and the analysis records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Package types Anchore counts as "non-os" (everything else is an OS package).
pub const NON_OS_PACKAGE_TYPES: &[&str] =
    &["java", "python", "npm", "gem", "maven", "js", "composer", "nuget", "binary", "go"];

/// True for OS package types (dpkg, rpm, apkg, kb, …), compared case-insensitively.
pub fn is_os_package_type(pkg_type: &str) -> bool {
    let t = pkg_type.to_ascii_lowercase();
    !NON_OS_PACKAGE_TYPES.contains(&t.as_str())
}

/// Everything the gates read about one image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// Image id (config digest hex, no `sha256:`), the first column of every row.
    pub image_id: String,
    /// Manifest digest (`sha256:…`).
    pub digest: String,
    pub distro: Option<Distro>,
    /// `Architecture` of the image config.
    pub architecture: Option<String>,
    /// `Os` of the image config.
    pub os_type: Option<String>,
    /// Image size in bytes.
    pub size: Option<u64>,
    pub layer_count: Option<u64>,
    pub packages: Vec<Package>,
    pub config: ImageConfig,
    pub dockerfile: Dockerfile,
    /// Every file of the squashed filesystem.
    pub files: Vec<FileEntry>,
    /// Hits of the analyzer's `content_search` regexes.
    pub content_matches: Vec<ContentMatch>,
    /// Hits of the analyzer's `secret_search` regexes.
    pub secret_matches: Vec<ContentMatch>,
    /// Files whose content was stored at analysis time (`/etc/passwd` is read from here).
    pub retrieved_files: Vec<RetrievedFile>,
    /// `None` (or empty) when no malware scan ran.
    pub malware_scans: Option<Vec<MalwareScan>>,
    pub vulnerabilities: Vec<VulnerabilityMatch>,
    /// Packages of the image the evaluated tag pointed to before (for `tag_drift`); `None`
    /// when there is no such image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_packages: Option<Vec<Package>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distro {
    /// e.g. `debian`, `alpine`, `rhel`.
    pub name: String,
    /// e.g. `12`, `3.19`.
    pub version: String,
    /// `ID_LIKE` distros, e.g. `["debian"]` for ubuntu.
    pub like: Vec<String>,
}

impl Distro {
    /// Anchore's distro namespace string, `name:version`.
    pub fn namespace(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    /// The full installed version (for rpm `[epoch:]version-release`).
    pub version: String,
    /// `dpkg`, `rpm`, `apkg`, `npm`, `gem`, `python`, `java`, `go`, …
    pub pkg_type: String,
    /// Location of the package (`pkgdb` for OS packages, the file path otherwise).
    pub path: Option<String>,
    /// License strings as declared (each may hold several space-separated names).
    pub licenses: Vec<String>,
    pub cpes: Vec<String>,
    /// Files the package database says the package owns (for `packages/verify`).
    pub db_files: Vec<PackageDbFile>,
}

/// One file entry of a package database (dpkg md5sums, rpm file list, apk checksums).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageDbFile {
    pub path: String,
    /// `sha256`, `md5` or `sha1`.
    pub digest_algorithm: Option<String>,
    pub digest: Option<String>,
    pub mode: Option<u32>,
    pub size: Option<u64>,
    pub is_config: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub env: Vec<String>,
    pub user: Option<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DockerfileMode {
    /// The user supplied the Dockerfile.
    Actual,
    /// Reconstructed from the image history.
    Guessed,
    #[default]
    Unknown,
}

impl DockerfileMode {
    /// As in `image_content.metadata.dockerfile_mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            DockerfileMode::Actual => "Actual",
            DockerfileMode::Guessed => "Guessed",
            DockerfileMode::Unknown => "Unknown",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dockerfile {
    pub mode: DockerfileMode,
    pub instructions: Vec<DockerfileInstruction>,
}

/// `EXPOSE 22/tcp` is `{instruction: "EXPOSE", args: "22/tcp"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DockerfileInstruction {
    pub instruction: String,
    pub args: String,
}

impl Dockerfile {
    /// Parses Dockerfile text the way Anchore prepares it: trimmed lines, comments and blank
    /// lines skipped, `\` continuations joined, the instruction upper-cased.
    pub fn parse(contents: &str, mode: DockerfileMode) -> Dockerfile {
        let mut instructions = Vec::new();
        let mut buf = String::new();
        for line in contents.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(stripped) = line.strip_suffix('\\') {
                buf.push_str(stripped);
                continue;
            }
            buf.push_str(line);
            let (directive, rest) = match buf.split_once(' ') {
                Some((d, r)) => (d, r),
                None => (buf.as_str(), ""),
            };
            instructions.push(DockerfileInstruction {
                instruction: directive.to_ascii_uppercase(),
                args: rest.trim().to_string(),
            });
            buf.clear();
        }
        Dockerfile { mode, instructions }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    /// `st_mode` (permission bits, optionally with the file-type bits).
    pub mode: u32,
    pub size: u64,
    /// `file`, `dir`, `symlink`, …
    pub file_type: String,
    pub sha256: Option<String>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
}

/// A content/secret search hit: the file and the configured regex that matched, as configured
/// (`NAME=regex`, or just the regex when it has no name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentMatch {
    pub path: String,
    pub regex: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetrievedFile {
    pub path: String,
    /// Text content, `None` if stored but unreadable.
    pub content: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MalwareScan {
    pub scanner: String,
    pub findings: Vec<MalwareFinding>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MalwareFinding {
    pub path: String,
    pub signature: String,
}

/// Anchore's severity scale, lowest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    #[default]
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Case-insensitive; anything unrecognised is `Unknown`.
    pub fn parse(s: &str) -> Severity {
        match s.to_ascii_lowercase().as_str() {
            "negligible" => Severity::Negligible,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => Severity::Unknown,
        }
    }

    /// `Medium`, as in vulnerability listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "Unknown",
            Severity::Negligible => "Negligible",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

/// CVSS v3 scores of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    pub base_score: f64,
    pub exploitability_score: f64,
    pub impact_score: f64,
}

/// One vulnerability matched against one package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VulnerabilityMatch {
    pub vulnerability_id: String,
    pub severity: Severity,
    pub package_name: String,
    pub package_version: String,
    pub package_type: String,
    pub package_path: Option<String>,
    /// The `<pkg>` of the trigger id when it is not `package_name` (Anchore used the jar/gem
    /// file name or npm directory name for some non-os packages).
    pub trigger_package: Option<String>,
    /// Fixed-in versions; empty when no fix is known.
    pub fix_versions: Vec<String>,
    /// When the fix was first observed.
    pub fix_observed_at: Option<OffsetDateTime>,
    /// The vendor marked the fix as will-not-fix.
    pub will_not_fix: bool,
    pub feed_group: Option<String>,
    pub link: Option<String>,
    /// NVD CVSS v3 scores (the maximum of each is used).
    pub nvd_cvss_v3: Vec<Cvss>,
    /// Vendor CVSS v3 scores (the maximum of each is used).
    pub vendor_cvss_v3: Vec<Cvss>,
    /// When the vulnerability record was created/published.
    pub created_at: Option<OffsetDateTime>,
    /// Listed in CISA's Known Exploited Vulnerabilities catalogue.
    pub kev: bool,
    pub epss_score: Option<f64>,
    pub epss_percentile: Option<f64>,
}

impl VulnerabilityMatch {
    /// `<vuln_id>+<pkg>`, the trigger id allowlist items target.
    pub fn trigger_id(&self) -> String {
        format!(
            "{}+{}",
            self.vulnerability_id,
            self.trigger_package.as_deref().unwrap_or(&self.package_name)
        )
    }
}
