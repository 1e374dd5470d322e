//! The real anchore-cli 0.9.3 against the local stack: image add, wait, get.

use std::process::Command;

use anyhow::{Context, Result, ensure};
use customs_tests::{ADMIN_PASSWORD, Stack, env, registry};

struct Cli {
    bin: String,
    url: String,
}

impl Cli {
    async fn run(&self, args: &[&str]) -> Result<(i32, String)> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("ANCHORE_CLI_URL", &self.url)
            .env("ANCHORE_CLI_USER", "admin")
            .env("ANCHORE_CLI_PASS", ADMIN_PASSWORD)
            .env_remove("ANCHORE_CLI_API_VERSION");
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await?
            .context("running anchore-cli")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.code().unwrap_or(-1), text))
    }
}

fn field<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    out.lines().find_map(|l| {
        l.strip_prefix(name)
            .map(|v| v.trim_start_matches(':').trim())
    })
}

#[tokio::test]
async fn anchore_cli_adds_waits_for_and_gets_an_image() -> Result<()> {
    let bin = env("ANCHORE_CLI")?;
    let stack = Stack::start().await?;
    let runner = stack.runner.clone();
    let polling = tokio::spawn(async move { runner.run().await });
    let cli = Cli {
        bin,
        url: stack.url("/v1"),
    };
    let tag = format!("{}/customs/tiny:latest", registry());

    let (code, out) = cli.run(&["image", "add", &tag]).await?;
    ensure!(code == 0, "image add exited {code}: {out}");
    assert_eq!(
        field(&out, "Analysis Status"),
        Some("not_analyzed"),
        "{out}"
    );
    assert!(!out.contains("failed to format output"), "{out}");

    let (code, out) = cli
        .run(&["image", "wait", &tag, "--timeout", "120", "--interval", "1"])
        .await?;
    ensure!(code == 0, "image wait exited {code}: {out}");
    assert_eq!(field(&out, "Analysis Status"), Some("analyzed"), "{out}");
    let digest = field(&out, "Image Digest")
        .context("no digest printed")?
        .to_owned();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{out}");
    assert_eq!(field(&out, "Architecture"), Some("amd64"), "{out}");

    for r in [tag.as_str(), digest.as_str()] {
        let (code, out) = cli.run(&["image", "get", r]).await?;
        ensure!(code == 0, "image get {r} exited {code}: {out}");
        assert_eq!(field(&out, "Image Digest"), Some(digest.as_str()), "{out}");
        assert!(field(&out, "Full Tag").is_some_and(|t| t == tag), "{out}");
    }

    let (code, out) = cli.run(&["image", "list"]).await?;
    ensure!(code == 0, "image list exited {code}: {out}");
    assert!(out.contains(&tag) && out.contains(&digest), "{out}");

    // Wrong password: exit 2, as anchore-cli maps 401.
    let mut cmd = Command::new(&cli.bin);
    cmd.args(["image", "list"])
        .env("ANCHORE_CLI_URL", &cli.url)
        .env("ANCHORE_CLI_USER", "admin")
        .env("ANCHORE_CLI_PASS", "wrong");
    let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    polling.abort();
    Ok(())
}

#[tokio::test]
async fn anchore_cli_reads_image_metadata() -> Result<()> {
    let bin = env("ANCHORE_CLI")?;
    let stack = Stack::start().await?;
    let cli = Cli { bin, url: stack.url("/v1") };
    let tag = format!("{}/customs/debian-app:latest", registry());
    // Before analysis: the engine's exact 404 text.
    let (code, out) = cli.run(&["image", "add", &tag]).await?;
    ensure!(code == 0, "{out}");
    stack.drain().await?;
    let (code, out) = cli.run(&["image", "metadata", &tag]).await?;
    ensure!(code == 0, "image metadata exited {code}: {out}");
    for t in ["manifest", "docker_history", "dockerfile"] {
        assert!(out.contains(t), "{out}");
    }
    let (code, out) = cli.run(&["image", "metadata", &tag, "manifest"]).await?;
    ensure!(code == 0, "{out}");
    assert!(out.contains("\"layers\""), "the decoded manifest: {out}");
    let (code, out) = cli.run(&["image", "metadata", &tag, "dockerfile"]).await?;
    ensure!(code == 0, "{out}");
    assert!(out.contains("FROM scratch"), "{out}");
    let (code, out) = cli.run(&["image", "metadata", &tag, "docker_history"]).await?;
    ensure!(code == 0, "{out}");
    Ok(())
}
