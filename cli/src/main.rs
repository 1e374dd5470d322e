//! `customs`: parse the command line, run it, exit 0 (pass), 1 (policy fail) or 2 (error).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use customs_cli::{Cli, ERROR_EXIT, run};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            if let Some(body) = e.body().filter(|_| json) {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    serde_json::to_string_pretty(body).unwrap_or_default()
                );
            }
            eprintln!("error: {e}");
            ExitCode::from(ERROR_EXIT)
        }
    }
}
