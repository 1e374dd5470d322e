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

impl Cli {
    /// Runs as `user` with `stdin` fed to the prompt and `env` added (e.g. ANCHORE_CLI_ACCOUNT).
    async fn run_with(&self, user: (&str, &str), args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Result<(i32, String)> {
        use std::io::Write;
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("ANCHORE_CLI_URL", &self.url)
            .env("ANCHORE_CLI_USER", user.0)
            .env("ANCHORE_CLI_PASS", user.1)
            .env_remove("ANCHORE_CLI_API_VERSION")
            .env_remove("ANCHORE_CLI_ACCOUNT")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let input = stdin.unwrap_or_default().to_owned();
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn()?;
            if let Some(mut s) = child.stdin.take() {
                s.write_all(input.as_bytes())?;
            }
            child.wait_with_output()
        })
        .await?
        .context("running anchore-cli")?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
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

#[tokio::test]
async fn anchore_cli_policy_evaluation_vuln_registry_and_system_commands() -> Result<()> {
    let bin = env("ANCHORE_CLI")?;
    let stack = Stack::start().await?;
    let cli = Cli { bin, url: stack.url("/v1") };
    let ok = |r: (i32, String), what: &str| -> Result<String> {
        ensure!(r.0 == 0, "{what} exited {}: {}", r.0, r.1);
        Ok(r.1)
    };

    let out = ok(cli.run(&["system", "status"]).await?, "system status")?;
    assert!(out.contains("Service apiext") && out.contains("up"), "{out}");
    let out = ok(cli.run(&["account", "whoami"]).await?, "account whoami")?;
    assert!(out.contains("admin"), "{out}");
    ok(cli.run(&["system", "feeds", "list"]).await?, "system feeds list")?;

    // Not analysed yet: the digest is resolved on add, and the engine's exact 404 message
    // makes anchore-cli exit 101.
    let tag = format!("{}/customs/tiny:latest", registry());
    let out = ok(cli.run(&["image", "add", &tag]).await?, "image add")?;
    assert!(field(&out, "Image Digest").is_some_and(|d| d.starts_with("sha256:")), "{out}");
    let (code, out) = cli.run(&["image", "vuln", &tag, "all"]).await?;
    assert_eq!(code, 101, "{out}");
    stack.drain().await?;
    let out = ok(cli.run(&["image", "vuln", &tag, "all"]).await?, "image vuln")?;
    assert!(!out.contains("failed to format"), "{out}");
    let out = ok(cli.run(&["image", "content", &tag, "go"]).await?, "image content go")?;
    assert!(out.contains("github.com/google/uuid"), "{out}");
    let out = ok(cli.run(&["image", "content", &tag, "files"]).await?, "image content files")?;
    assert!(out.contains("/usr/local/bin/demo-go") && out.contains("/bin/busybox"), "{out}");

    // The default bundle: tiny has no vulnerabilities and no HEALTHCHECK: a warning, a pass.
    let (code, out) = cli.run(&["evaluate", "check", &tag, "--detail"]).await?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Status: pass") && out.contains("HEALTHCHECK"), "{out}");

    // A bundle that stops everything: upload, activate, re-evaluate, fail with exit 1.
    let bundle = serde_json::json!({
        "id": "stop-all", "name": "stop all", "version": "1_0", "comment": "",
        "policies": [{ "id": "p", "name": "p", "version": "1_0", "rules": [
            { "id": "r", "gate": "always", "trigger": "always", "action": "STOP", "params": [] }]}],
        "whitelists": [], "whitelisted_images": [], "blacklisted_images": [],
        "mappings": [{ "id": "m", "name": "m", "registry": "*", "repository": "*", "image": { "type": "tag", "value": "*" }, "policy_ids": ["p"], "whitelist_ids": [] }]
    });
    let file = std::env::temp_dir().join(format!("{}-bundle.json", stack.prefix));
    std::fs::write(&file, serde_json::to_vec(&bundle)?)?;
    let out = ok(cli.run(&["policy", "add", file.to_str().unwrap_or_default()]).await?, "policy add")?;
    assert!(out.contains("stop-all"), "{out}");
    let out = ok(cli.run(&["policy", "list"]).await?, "policy list")?;
    assert!(out.contains("stop-all") && out.contains("2c53a13c-1765-11e8-82ef-23527761d060"), "{out}");
    ok(cli.run(&["policy", "get", "stop-all", "--detail"]).await?, "policy get")?;
    let out = ok(cli.run(&["policy", "activate", "stop-all"]).await?, "policy activate")?;
    assert!(out.contains("Success"), "{out}");
    stack.drain().await?;
    let (code, out) = cli.run(&["evaluate", "check", &tag]).await?;
    assert_eq!(code, 1, "a failed evaluation exits 1: {out}");
    assert!(out.contains("Status: fail"), "{out}");
    let (code, out) = cli.run(&["policy", "del", "stop-all"]).await?;
    assert_ne!(code, 0, "the active policy cannot be deleted: {out}");
    ok(cli.run(&["policy", "activate", "2c53a13c-1765-11e8-82ef-23527761d060"]).await?, "policy activate default")?;
    ok(cli.run(&["policy", "del", "stop-all"]).await?, "policy del")?;

    // Registries: credentials validated and stored, never shown.
    let out = ok(cli.run(&["registry", "add", &customs_tests::basic_registry(), "customs", "customs-pass", "--insecure"]).await?, "registry add")?;
    assert!(!out.contains("customs-pass"), "{out}");
    let out = ok(cli.run(&["registry", "list"]).await?, "registry list")?;
    assert!(out.contains(&customs_tests::basic_registry()), "{out}");
    let (code, out) = cli.run(&["registry", "add", "127.0.0.1:5002", "customs", "wrong"]).await?;
    assert_ne!(code, 0, "an unreachable registry fails validation: {out}");
    ok(cli.run(&["registry", "del", &customs_tests::basic_registry()]).await?, "registry del")?;

    ok(cli.run(&["subscription", "list"]).await?, "subscription list")?;
    let out = ok(cli.run(&["image", "del", &tag, "--force"]).await?, "image del")?;
    assert!(out.contains("Success"), "{out}");
    Ok(())
}

#[tokio::test]
async fn anchore_cli_subscriptions_events_registry_update_feeds_sync_image_del_and_accounts() -> Result<()> {
    let bin = env("ANCHORE_CLI")?;
    let stack = Stack::start().await?;
    let cli = Cli { bin, url: stack.url("/v1") };
    let admin = ("admin", ADMIN_PASSWORD);
    let ok = |r: (i32, String), what: &str| -> Result<String> {
        ensure!(r.0 == 0, "{what} exited {}: {}", r.0, r.1);
        assert!(!r.1.contains("failed to format"), "{what}: {}", r.1);
        Ok(r.1)
    };
    let tag = format!("{}/customs/tiny:latest", registry());
    ok(cli.run(&["image", "add", &tag]).await?, "image add")?;
    stack.drain().await?;

    // evaluate check --detail: the engine's header lines and the gate table.
    let (code, out) = cli.run(&["evaluate", "check", &tag, "--detail"]).await?;
    assert_eq!(code, 0, "{out}");
    for line in ["Image Digest: sha256:", "Full Tag: ", "Status: pass", "Policy ID: 2c53a13c-1765-11e8-82ef-23527761d060", "Final Action: warn", "Gate", "Trigger"] {
        assert!(out.contains(line), "{line:?} missing: {out}");
    }

    // Subscriptions: the tag was auto-subscribed; deactivate and activate it again.
    let out = ok(cli.run(&["subscription", "list", "--full"]).await?, "subscription list")?;
    assert!(out.contains(&tag) && out.contains("tag_update"), "{out}");
    let out = ok(cli.run(&["subscription", "deactivate", "tag_update", &tag]).await?, "subscription deactivate")?;
    assert!(out.contains("Success"), "{out}");
    let out = ok(cli.run(&["subscription", "list"]).await?, "subscription list")?;
    let row = out.lines().find(|l| l.contains(&tag) && l.contains("tag_update")).context("tag_update row")?;
    assert!(row.contains("False"), "{out}");
    let out = ok(cli.run(&["subscription", "activate", "tag_update", &tag]).await?, "subscription activate")?;
    assert!(out.contains("Success"), "{out}");
    let out = ok(cli.run(&["subscription", "list"]).await?, "subscription list")?;
    let row = out.lines().find(|l| l.contains(&tag) && l.contains("tag_update")).context("tag_update row")?;
    assert!(row.contains("True"), "{out}");

    // Events: list, get one (YAML of the event), delete it, then it is gone (404 → exit 1).
    let out = ok(cli.run(&["event", "list"]).await?, "event list")?;
    assert!(out.contains("user.image.analysis.completed"), "{out}");
    let id = out
        .lines()
        .find(|l| l.contains("user.image.analysis.completed"))
        .and_then(|l| l.split_whitespace().last())
        .context("event id")?
        .to_owned();
    let out = ok(cli.run(&["event", "get", &id]).await?, "event get")?;
    assert!(out.contains("type: user.image.analysis.completed") && out.contains("level: INFO"), "{out}");
    // anchore-cli 0.9.3 prints nothing for a deleted event id.
    let out = ok(cli.run(&["event", "delete", &id]).await?, "event delete")?;
    assert!(out.trim().is_empty(), "{out}");
    let (code, out) = cli.run(&["event", "get", &id]).await?;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("HTTP Code: 404"), "{out}");
    let out = ok(cli.run(&["event", "delete", "--all", "--dontask"]).await?, "event delete --all")?;
    assert!(out.contains("Deleted") || out.contains("No matching events found"), "{out}");

    // Registry update: validated against the real registry, printed like add.
    let reg = customs_tests::basic_registry();
    ok(cli.run(&["registry", "add", &reg, "customs", "customs-pass", "--insecure"]).await?, "registry add")?;
    let out = ok(cli.run(&["registry", "update", &reg, "customs", "customs-pass", "--insecure", "--registry-name", "basic"]).await?, "registry update")?;
    assert_eq!(field(&out, "Registry"), Some(reg.as_str()), "{out}");
    assert_eq!(field(&out, "Name"), Some("basic"), "{out}");
    assert_eq!(field(&out, "Verify TLS"), Some("False"), "{out}");
    assert!(!out.contains("customs-pass"), "{out}");
    let (code, out) = cli.run(&["registry", "update", &reg, "customs", "wrong-pass", "--insecure"]).await?;
    assert_ne!(code, 0, "a wrong password fails validation: {out}");
    let (code, out) = cli.run(&["registry", "update", "127.0.0.1:5998", "u", "p", "--skip-validate"]).await?;
    assert_eq!(code, 1, "updating an unknown registry is a 404: {out}");

    // Feed sync asks first; "y" queues it and prints the table.
    let (code, out) = cli.run_with(admin, &["system", "feeds", "sync"], Some("y\n"), &[]).await?;
    assert_eq!(code, 0, "{out}");
    // A fresh stack has no feed rows yet, so the printed table is empty.
    assert!(out.contains("Really perform a manual feed data sync/flush?") && !out.contains("Error"), "{out}");
    let (code, out) = cli.run_with(admin, &["system", "feeds", "sync"], Some("n\n"), &[]).await?;
    assert_eq!(code, 0, "declining does nothing: {out}");

    // image del: Success, then the image is no longer listed.
    let out = ok(cli.run(&["image", "del", &tag]).await?, "image del")?;
    assert!(out.contains("Success"), "{out}");
    let out = ok(cli.run(&["image", "list"]).await?, "image list")?;
    assert!(!out.contains(&tag), "{out}");

    // Accounts: a user of another account sees only its own; admin may act as it.
    stack.add_account("cli-team", "cli-user", "cli-user-pass").await?;
    let out = ok(cli.run_with(("cli-user", "cli-user-pass"), &["account", "whoami"], None, &[]).await?, "whoami")?;
    assert_eq!(field(&out, "Username"), Some("cli-user"), "{out}");
    assert_eq!(field(&out, "AccountName"), Some("cli-team"), "{out}");
    assert_eq!(field(&out, "AccountType"), Some("user"), "{out}");
    let out = ok(cli.run_with(("cli-user", "cli-user-pass"), &["image", "list"], None, &[]).await?, "image list")?;
    assert!(!out.contains(&tag), "{out}");
    let out = ok(cli.run_with(admin, &["account", "whoami"], None, &[("ANCHORE_CLI_ACCOUNT", "cli-team")]).await?, "as-account whoami")?;
    assert_eq!(field(&out, "Username"), Some("admin"), "{out}");
    assert_eq!(field(&out, "AccountName"), Some("cli-team"), "{out}");
    let (code, out) = cli.run_with(("cli-user", "cli-user-pass"), &["image", "list"], None, &[("ANCHORE_CLI_ACCOUNT", "admin")]).await?;
    assert_eq!(code, 1, "only admins may switch accounts (403): {out}");
    let (code, out) = cli.run_with(("cli-user", "wrong-pass"), &["image", "list"], None, &[]).await?;
    assert_eq!(code, 2, "{out}");
    Ok(())
}
