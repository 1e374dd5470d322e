//! The `customs` binary without a server: its help documents the exit codes, and usage
//! errors, a bad policy file and an unreachable API all exit 2.

use std::process::{Command, Output};

fn customs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(args)
        .env_remove("CUSTOMS_URL")
        .env_remove("ANCHORE_CLI_URL")
        .output()
        .expect("customs runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn help_documents_the_exit_codes_and_every_verb() {
    let o = customs(&["--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    for needle in [
        "0  success",
        "1  the policy verdict is fail",
        "2  error",
        "image",
        "evaluate",
        "policy",
        "registry",
        "subscription",
        "event",
        "system",
        "feeds",
        "sbom",
        "report",
    ] {
        assert!(out.contains(needle), "{needle} missing from --help:\n{out}");
    }
    let o = customs(&["image", "add", "--help"]);
    assert!(text(&o).contains("--wait"), "{}", text(&o));
}

#[test]
fn usage_errors_exit_2() {
    let o = customs(&["image", "frobnicate"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = customs(&["sbom", "x", "--format", "xml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn an_unreachable_api_exits_2_with_the_url() {
    // Port 9 (discard) on loopback: nothing listens there.
    let o = customs(&["--url", "http://127.0.0.1:9/v1", "image", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot talk to the customs API at http://127.0.0.1:9/v1"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_policy_file_that_is_not_json_exits_2() {
    let dir = std::env::temp_dir().join(format!("customs-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f = dir.join("bundle.json");
    std::fs::write(&f, "not json").expect("write");
    let o = customs(&[
        "--url",
        "http://127.0.0.1:9/v1",
        "policy",
        "add",
        f.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("is not a JSON policy bundle"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(dir);
}
