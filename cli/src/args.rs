//! The command line, as clap derives it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes (the same for every command, so a CI job can gate on them):
  0  success (scan: scanned); for evaluate check, image add --wait and report: the policy verdict is pass
  1  the policy verdict is fail (evaluate check, image add --wait, report)
  2  error: bad arguments, bad reference, unreachable or failing API, analysis failed, timeout

Connection (flags, else environment, else default):
  --url       CUSTOMS_URL, ANCHORE_CLI_URL          default http://127.0.0.1:8228/v1
  --user      CUSTOMS_USER, ANCHORE_CLI_USER        default admin
  --password  CUSTOMS_PASSWORD, ANCHORE_CLI_PASS, CUSTOMS_ADMIN_PASSWORD

Tables are coloured only when stdout is a terminal (and NO_COLOR is unset); --json prints
the API's JSON instead, for scripts.";

/// customs: inspect container images and enforce policy on what they contain.
#[derive(Debug, Parser)]
#[command(name = "customs", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The customs API, including /v1.
    #[arg(long, global = true, env = "CUSTOMS_URL", hide_env = true)]
    pub url: Option<String>,
    /// API user.
    #[arg(
        long,
        short = 'u',
        global = true,
        env = "CUSTOMS_USER",
        hide_env = true
    )]
    pub user: Option<String>,
    /// API password.
    #[arg(
        long,
        short = 'p',
        global = true,
        env = "CUSTOMS_PASSWORD",
        hide_env_values = true,
        hide_env = true
    )]
    pub password: Option<String>,
    /// Act as this account (admins only; sent as x-anchore-account).
    #[arg(long, global = true)]
    pub account: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Never colour the output.
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list, inspect and delete images.
    #[command(subcommand)]
    Image(ImageCmd),
    /// Evaluate an image against the active policy bundle.
    #[command(subcommand)]
    Evaluate(EvaluateCmd),
    /// Manage policy bundles.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Manage registry credentials.
    #[command(subcommand)]
    Registry(RegistryCmd),
    /// List and switch subscriptions (tag_update, policy_eval, vuln_update, analysis_update).
    #[command(subcommand)]
    Subscription(SubscriptionCmd),
    /// Read the event log.
    #[command(subcommand)]
    Event(EventCmd),
    /// Service status.
    #[command(subcommand)]
    System(SystemCmd),
    /// Vulnerability feeds.
    #[command(subcommand)]
    Feeds(FeedsCmd),
    /// Print an image's SBOM (CycloneDX 1.6 or SPDX 2.3 JSON).
    Sbom {
        /// Tag (registry/repo:tag) or digest (sha256:…) of an analysed image.
        image: String,
        #[arg(long, short = 'f', value_enum, default_value_t = SbomFormat::Cyclonedx)]
        format: SbomFormat,
        /// Write to this file instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Scan an image in this process, no services: fetch (or read an archive), stage
    /// locally, catalog. SOURCE: registry/repo:tag, oci-dir:PATH, oci-archive:PATH or
    /// docker-archive:PATH.
    Scan {
        source: String,
        /// Print this SBOM instead of the package table.
        #[arg(long, value_enum)]
        sbom: Option<SbomFormat>,
        /// Staging directory, reused across scans (default $XDG_CACHE_HOME/customs, else
        /// ~/.cache/customs).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Platform of a multi-platform image, os/arch[/variant] (default linux/amd64).
        #[arg(long)]
        platform: Option<String>,
        /// Plain HTTP / unverified TLS for a non-loopback registry.
        #[arg(long)]
        insecure: bool,
    },
    /// Write a self-contained HTML report: verdict, vulnerabilities, packages, policy rows.
    Report {
        /// Tag (registry/repo:tag) or digest (sha256:…) of an analysed image.
        image: String,
        /// The HTML file to write.
        #[arg(long, value_name = "FILE")]
        html: PathBuf,
        /// The tag to evaluate (needed when IMAGE is a digest with several tags).
        #[arg(long)]
        tag: Option<String>,
        /// Seconds to wait for the evaluation to be ready.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    Cyclonedx,
    Spdx,
}

impl SbomFormat {
    pub fn api_name(self) -> &'static str {
        match self {
            Self::Cyclonedx => "cyclonedx-json",
            Self::Spdx => "spdx-json",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Add an image by tag (registry/repo:tag) or digest reference (registry/repo@sha256:…),
    /// or upload a locally built one: docker-archive:PATH (`docker save`) or
    /// oci-archive:PATH (a tar of an OCI layout).
    Add {
        reference: String,
        /// With an archive: the registry/repo:tag to list the image under (needed for --wait).
        #[arg(long)]
        tag: Option<String>,
        /// Analyse again even if it was analysed before.
        #[arg(long)]
        force: bool,
        /// Do not subscribe to tag updates.
        #[arg(long)]
        noautosubscribe: bool,
        /// Platform of a multi-platform image, os/arch[/variant].
        #[arg(long)]
        platform: Option<String>,
        /// Annotation key=value (repeatable).
        #[arg(long = "annotation", value_name = "KEY=VALUE")]
        annotations: Vec<String>,
        /// Wait with a live progress display until the analysis and the evaluation are done;
        /// the exit code is then the verdict.
        #[arg(long)]
        wait: bool,
        /// Seconds to wait with --wait.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Wait for an image's analysis (and evaluation) with a live progress display.
    Wait {
        image: String,
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// List images.
    List {
        /// Show every digest of a tag, not just the newest.
        #[arg(long)]
        full: bool,
    },
    /// Show one image.
    Get { image: String },
    /// Show the packages or files of an image (no TYPE: the available types).
    Content {
        image: String,
        content_type: Option<String>,
    },
    /// Show an image's manifest, docker_history or dockerfile (no TYPE: the available types).
    Metadata {
        image: String,
        metadata_type: Option<String>,
    },
    /// Show an image's vulnerabilities (os, non-os or all).
    Vuln {
        image: String,
        #[arg(default_value = "all")]
        vuln_type: String,
        /// Drop matches the vendor will not fix (true/false).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        vendor_only: bool,
    },
    /// Delete an image.
    Del {
        image: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvaluateCmd {
    /// Evaluate an image: exit 0 on pass, 1 on fail.
    Check {
        image: String,
        /// The tag to evaluate (default: the image's first tag).
        #[arg(long)]
        tag: Option<String>,
        /// A policy bundle id other than the active one.
        #[arg(long)]
        policy: Option<String>,
        /// Show every gate/trigger row.
        #[arg(long)]
        detail: bool,
        /// Seconds to wait for a queued evaluation.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Upload a policy bundle (JSON file).
    Add { file: PathBuf },
    /// List policy bundles.
    List,
    /// Show a policy bundle.
    Get {
        policy_id: String,
        /// Print the bundle itself.
        #[arg(long)]
        detail: bool,
    },
    /// Make a bundle the active one.
    Activate { policy_id: String },
    /// Delete a bundle (not the active one).
    Del { policy_id: String },
}

#[derive(Debug, Subcommand)]
pub enum RegistryCmd {
    /// Store credentials for a registry (validated unless --skip-validate).
    Add {
        registry: String,
        /// The registry user (not the API user).
        #[arg(id = "registry_user", value_name = "USER")]
        registry_user: String,
        /// The registry password.
        #[arg(id = "registry_pass", value_name = "PASSWORD")]
        registry_pass: String,
        /// Do not verify TLS certificates.
        #[arg(long)]
        insecure: bool,
        #[arg(long)]
        skip_validate: bool,
        #[arg(long, default_value = "docker_v2")]
        registry_type: String,
        #[arg(long)]
        registry_name: Option<String>,
    },
    /// List registries with stored credentials.
    List,
    /// Delete a registry's credentials.
    Del { registry: String },
}

#[derive(Debug, Subcommand)]
pub enum SubscriptionCmd {
    /// List subscriptions.
    List,
    /// Activate a subscription (TYPE KEY, e.g. tag_update registry/repo:tag).
    Activate {
        subscription_type: String,
        subscription_key: String,
    },
    /// Deactivate a subscription.
    Deactivate {
        subscription_type: String,
        subscription_key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventCmd {
    /// List events, newest first.
    List {
        /// Only events about this resource id (e.g. a digest or a tag).
        resource: Option<String>,
        #[arg(long)]
        level: Option<String>,
        #[arg(long)]
        event_type: Option<String>,
        #[arg(long)]
        resource_type: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        before: Option<String>,
        /// Every page, not just the first.
        #[arg(long)]
        all: bool,
    },
    /// Show one event.
    Get { event_id: String },
}

#[derive(Debug, Subcommand)]
pub enum SystemCmd {
    /// Service status.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum FeedsCmd {
    /// List feeds and their groups.
    List,
    /// Sync the feeds now.
    Sync {
        /// Drop the stored records first.
        #[arg(long)]
        flush: bool,
    },
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn registry_credentials_do_not_shadow_the_api_login() {
        let cli = Cli::try_parse_from([
            "customs",
            "--password",
            "api-pass",
            "registry",
            "add",
            "r:5000",
            "ruser",
            "rpass",
        ])
        .expect("parses");
        assert_eq!(cli.global.password.as_deref(), Some("api-pass"));
        assert_eq!(cli.global.user, None);
        let Command::Registry(RegistryCmd::Add {
            registry_user,
            registry_pass,
            ..
        }) = cli.command
        else {
            panic!("registry add")
        };
        assert_eq!(
            (registry_user.as_str(), registry_pass.as_str()),
            ("ruser", "rpass")
        );
    }
}
