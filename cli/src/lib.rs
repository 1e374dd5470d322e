#![doc = include_str!("../README.md")]

/// `print!` that ignores a closed stdout (`customs … | head` must not panic).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!` that ignores a closed stdout.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod admin;
mod args;
mod client;
mod error;
mod evaluate;
mod images;
mod output;
mod progress;
mod report;
mod scan;

pub use args::Cli;
pub use client::{Client, Config};
pub use error::Error;
pub use report::{ReportData, render_html};

use args::Command;
use output::Style;

/// How a command that did not fail ended: the exit code a CI gate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: done, and any policy verdict is pass.
    Ok,
    /// Exit 1: the policy verdict is fail.
    PolicyFail,
}

impl Outcome {
    pub fn from_verdict(status: &str) -> Self {
        if status.eq_ignore_ascii_case("pass") {
            Self::Ok
        } else {
            Self::PolicyFail
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::PolicyFail => 1,
        }
    }
}

/// The exit code of every error.
pub const ERROR_EXIT: u8 = 2;

/// What every command gets: the API client and the output style.
pub(crate) struct Ctx {
    pub client: Client,
    pub style: Style,
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<Outcome, Error> {
    let g = cli.global;
    let style = Style::detect(g.json, g.no_color);
    let client = Client::new(Config::resolve(g.url, g.user, g.password, g.account))?;
    let ctx = Ctx { client, style };
    match cli.command {
        Command::Image(c) => images::run(&ctx, c).await,
        Command::Evaluate(c) => evaluate::run(&ctx, c).await,
        Command::Policy(c) => evaluate::policy(&ctx, c).await,
        Command::Registry(c) => admin::registry(&ctx, c).await,
        Command::Subscription(c) => admin::subscription(&ctx, c).await,
        Command::Event(c) => admin::event(&ctx, c).await,
        Command::System(c) => admin::system(&ctx, c).await,
        Command::Feeds(c) => admin::feeds(&ctx, c).await,
        Command::Sbom {
            image,
            format,
            output,
        } => images::sbom(&ctx, &image, format, output.as_deref()).await,
        Command::Scan {
            source,
            sbom,
            work_dir,
            platform,
            insecure,
        } => {
            scan::run(
                &ctx,
                scan::ScanArgs {
                    source,
                    sbom,
                    work_dir,
                    platform,
                    insecure,
                },
            )
            .await
        }
        Command::Report {
            image,
            html,
            tag,
            timeout,
        } => report::run(&ctx, &image, &html, tag, timeout).await,
    }
}
