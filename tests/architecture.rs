//! The crate dependency rule (`../shared/STYLE.md`), enforced from `cargo metadata`:
//! core ← engines ← adapters ← functions ← runner, CLI and tests; functions never depend on
//! each other; only adapters (and the runner) touch the AWS SDK and PostgreSQL drivers.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

fn layer(name: &str) -> Option<u8> {
    let short = name.strip_prefix("customs-")?;
    Some(match short {
        "model" | "version" | "contracts" => 0,
        "catalog" | "matcher" | "policy" | "feeds" => 1,
        "store" | "image" | "runtime" => 2,
        "api" | "analyze" | "evaluate" | "feed-sync" | "notify" | "watch" => 3,
        "local" | "cli" | "tests" | "bench" => 4,
        _ => return None,
    })
}

fn workspace() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(str::to_owned))
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect()
}

#[test]
fn every_crate_has_a_known_layer() {
    for name in workspace().keys() {
        assert!(
            layer(name).is_some(),
            "crate {name} has no place in the dependency rule; add it to tests/architecture.rs"
        );
    }
}

#[test]
fn crates_depend_only_on_lower_layers_and_functions_not_on_each_other() {
    for (name, deps) in workspace() {
        let own = layer(&name).expect("known crate");
        for d in deps.iter().filter(|d| d.starts_with("customs-")) {
            let theirs = layer(d).unwrap_or_else(|| panic!("{name} depends on unknown crate {d}"));
            assert!(
                theirs < own || (own == 4 && theirs <= 4 && d != &name),
                "{name} (layer {own}) must not depend on {d} (layer {theirs})"
            );
        }
    }
}

#[test]
fn only_adapters_touch_aws_and_postgres() {
    for (name, deps) in workspace() {
        let own = layer(&name).expect("known crate");
        for d in &deps {
            if d.starts_with("aws-sdk-") || d == "aws-config" {
                assert!(
                    matches!(
                        name.as_str(),
                        "customs-runtime" | "customs-image" | "customs-local" | "customs-tests"
                    ),
                    "{name} uses {d}"
                );
            }
            if d == "tokio-postgres" || d == "deadpool-postgres" {
                assert!(
                    name == "customs-store" || own == 4,
                    "{name} uses {d}; only customs-store speaks to PostgreSQL"
                );
            }
            if own <= 1 {
                assert!(
                    !matches!(
                        d.as_str(),
                        "tokio" | "reqwest" | "oci-client" | "lambda_runtime" | "axum"
                    ),
                    "{name} is pure but uses {d}"
                );
            }
        }
    }
}
