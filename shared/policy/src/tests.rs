//! Crate tests: the registry against Anchore's spec, Anchore's bundles, and each gate on
//! hand-built images.

use serde_json::{Value, json};
use time::macros::datetime;

use crate::*;

const SPEC: &str = include_str!("../testdata/generated_policy_spec.json");
const DEFAULT_BUNDLE: &str = include_str!("../testdata/anchore_default_bundle.json");
const ALL_RULES_BUNDLE: &str = include_str!("../testdata/bundle-with-all-rules-2020-08-20.json");

const NOW: time::OffsetDateTime = datetime!(2024-06-01 12:00 UTC);
const TAG: &str = "docker.io/library/app:1.0";

fn ctx() -> EvalContext {
    EvalContext {
        now: NOW,
        vulnerability_feed: VulnerabilityFeedStatus { data_available: true, last_sync: Some(datetime!(2024-06-01 00:00 UTC)) },
        npm_feed: None,
        gem_feed: None,
    }
}

fn base_facts() -> ImageFacts {
    ImageFacts {
        image_id: "b2c3".into(),
        digest: "sha256:d1d1".into(),
        distro: Some(Distro { name: "debian".into(), version: "12".into(), like: vec![] }),
        architecture: Some("amd64".into()),
        os_type: Some("linux".into()),
        size: Some(80 * 1024 * 1024),
        layer_count: Some(3),
        ..ImageFacts::default()
    }
}

/// A one-policy bundle with the given rules, mapped for every image.
fn bundle_with(rules: Value) -> Bundle {
    let v = json!({
        "id": "b1", "version": "1_0", "name": "test",
        "policies": [{"id": "p1", "version": "1_0", "name": "P1", "rules": rules}],
        "whitelists": [],
        "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
                      "image": {"type": "tag", "value": "*"}, "policy_id": "p1", "whitelist_ids": []}],
    });
    let b = Bundle::from_value(&v).expect("bundle reads");
    assert!(b.validate().is_valid(), "{:?}", b.validate());
    b
}

fn rule(gate: &str, trigger: &str, action: &str, params: &[(&str, &str)]) -> Value {
    let params: Vec<Value> = params.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
    json!({"id": format!("{gate}-{trigger}"), "gate": gate, "trigger": trigger, "action": action, "params": params})
}

/// `(gate, trigger, message, action)` of each row.
fn rows(b: &Bundle, facts: &ImageFacts, ctx: &EvalContext) -> Vec<(String, String, String, String)> {
    let e = evaluate(b, facts, TAG, ctx).expect("valid bundle");
    assert!(e.evaluation_problems.is_empty(), "{:?}", e.evaluation_problems);
    e.rows.iter().map(|r| (r.gate.clone(), r.trigger.clone(), r.check_output.clone(), r.gate_action.as_str().into())).collect()
}

fn messages(b: &Bundle, facts: &ImageFacts) -> Vec<String> {
    rows(b, facts, &ctx()).into_iter().map(|r| r.2).collect()
}

#[test]
fn every_spec_gate_trigger_and_parameter_is_registered() {
    let spec: Vec<Value> = serde_json::from_str(SPEC).expect("spec parses");
    let (mut gates, mut triggers) = (0, 0);
    for gate in &spec {
        let name = gate["name"].as_str().expect("gate name");
        if gate["state"] == "eol" {
            let eol = EOL_GATES.iter().find(|(g, _, _)| *g == name).unwrap_or_else(|| panic!("eol gate {name} not listed"));
            for t in gate["triggers"].as_array().expect("triggers") {
                assert!(eol.1.contains(&t["name"].as_str().expect("name")), "{name}/{}", t["name"]);
            }
            continue;
        }
        assert_eq!(gate["state"], "active");
        let def = gate_named(name).unwrap_or_else(|| panic!("gate {name} not registered"));
        gates += 1;
        for t in gate["triggers"].as_array().expect("triggers") {
            let tname = t["name"].as_str().expect("trigger name");
            let tdef = def.trigger(tname).unwrap_or_else(|| panic!("trigger {name}/{tname} not registered"));
            triggers += 1;
            let spec_params = t["parameters"].as_array().expect("params");
            for p in spec_params {
                let pname = p["name"].as_str().expect("param name");
                let pdef = tdef.param(pname).unwrap_or_else(|| panic!("param {name}/{tname}/{pname} not registered"));
                assert_eq!(pdef.required, p["required"].as_bool().expect("required"), "{name}/{tname}/{pname}");
                assert_eq!(pdef.validator.type_name(), p["validator"]["type"], "{name}/{tname}/{pname}");
                assert!(!pdef.extension);
                if let Some(values) = p["validator"]["criteria"]["enum"].as_array()
                    && let Validator::Enum(ours) = pdef.validator
                {
                    let theirs: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                    assert_eq!(ours, theirs.as_slice(), "{name}/{tname}/{pname}");
                }
            }
            for extra in tdef.params.iter().filter(|d| !spec_params.iter().any(|p| p["name"] == d.name)) {
                assert!(extra.extension, "{name}/{tname}/{} is neither in the spec nor an extension", extra.name);
            }
        }
        assert_eq!(def.triggers.len(), gate["triggers"].as_array().map_or(0, Vec::len), "{name}");
    }
    assert_eq!(gates + ENTERPRISE_GATES.len(), GATES.len());
    assert_eq!((gates, triggers), (13, 40));
    for name in ENTERPRISE_GATES {
        assert!(gate_named(name).is_some(), "{name}");
        assert!(!spec.iter().any(|g| g["name"] == *name), "{name} is in Anchore Engine's spec");
    }
}

#[test]
fn anchore_bundles_validate_unchanged() {
    for text in [DEFAULT_BUNDLE, ALL_RULES_BUNDLE] {
        let b = Bundle::from_json_str(text).expect("reads");
        let report = b.validate();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        // Round trip keeps unknown fields (`last_updated`, `description`).
        let original: Value = serde_json::from_str(text).expect("json");
        assert_eq!(b.to_value(), original);
    }
    // `*\.pem` is accepted on upload as Anchore does, but flagged.
    let all = Bundle::from_json_str(ALL_RULES_BUNDLE).expect("reads");
    let lint = all.lint();
    assert_eq!(lint.len(), 1, "{lint:?}");
    assert!(lint[0].details.contains("'regex'") && lint[0].severity == "warn");
}

#[test]
fn invalid_bundles_list_every_problem_in_anchore_shape() {
    let v = json!({
        "id": "bad", "version": "1_0",
        "policies": [{"id": "p", "version": "2_0", "rules": [
            {"id": "r1", "gate": "dockerfile", "trigger": "exposed_ports", "action": "STOP",
             "params": [{"name": "ports", "value": "22,ssh"}, {"name": "type", "value": "graylist"}, {"name": "bogus", "value": "1"}]},
            {"id": "r2", "gate": "vulnerabilities", "trigger": "package", "action": "halt", "params": []},
            {"id": "r3", "gate": "nosuchgate", "trigger": "x", "action": "GO"},
            {"id": "r4", "gate": "anchoresec", "trigger": "vulnhigh", "action": "STOP"},
            {"id": "r5", "gate": "files", "trigger": "nosuch", "action": "GO"},
            {"id": "r6", "gate": "vulnerabilities", "trigger": "stale_feed_data", "action": "WARN",
             "params": [{"name": "MAX_DAYS_SINCE_SYNC", "value": 2}]}
        ]}],
        "mappings": [{"name": "m", "registry": "*", "repository": "*", "image": {"type": "tag", "value": "*"},
                      "policy_id": "missing", "whitelist_ids": ["nowl"]}]
    });
    let report = Bundle::from_value(&v).expect("reads").validate();
    assert!(!report.is_valid());
    let types: Vec<&str> = report.problems.iter().map(|p| p.problem_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "UnsupportedVersionError",
            "InvalidParameterError",
            "ParameterValueInvalidError",
            "ParameterValueInvalidError",
            "InvalidGateAction",
            "RequiredParameterNotSetError",
            "GateNotFoundError",
            "EndOfLifedError",
            "TriggerNotFoundError",
            "ParameterValueInvalidError",
            "ReferencedObjectNotFoundError",
            "ReferencedObjectNotFoundError",
        ]
    );
    let ports = &report.problems[2];
    assert_eq!(ports.severity, "error");
    assert_eq!(
        ports.details,
        "Parameter validation failed: value '22,ssh' for parameter 'ports' is invalid, expected: Comma delimited list of numbers (gate=dockerfile,trigger=exposed_ports,rule_id=r1)"
    );
    assert!(report.problems[7].details.starts_with("Gate anchoresec has been End-of-Lifed"));
    let body = report.to_error_body();
    assert_eq!(body["message"], "Bundle failed validation");
    let first = &body["detail"]["validation_details"][0];
    assert!(first["severity"].is_string() && first["problem_type"].is_string() && first["details"].is_string());
    // Invalid bundles are not evaluated.
    let bad = Bundle::from_value(&v).expect("reads");
    assert!(evaluate(&bad, &base_facts(), TAG, &ctx()).is_err());
}

#[test]
fn default_bundle_on_a_vulnerable_image() {
    let b = Bundle::from_json_str(DEFAULT_BUNDLE).expect("reads");
    let mut facts = base_facts();
    facts.dockerfile = Dockerfile::parse("FROM debian:12\nRUN apt-get install -y openssh-server\nEXPOSE 22 8080\n", DockerfileMode::Guessed);
    facts.vulnerabilities = vec![
        VulnerabilityMatch {
            vulnerability_id: "CVE-2024-0001".into(),
            severity: Severity::Critical,
            package_name: "openssl".into(),
            package_version: "3.0.11-1~deb12u1".into(),
            package_type: "dpkg".into(),
            fix_versions: vec!["3.0.11-1~deb12u2".into()],
            link: Some("https://security-tracker.debian.org/tracker/CVE-2024-0001".into()),
            ..VulnerabilityMatch::default()
        },
        VulnerabilityMatch {
            vulnerability_id: "CVE-2024-0002".into(),
            severity: Severity::Medium,
            package_name: "zlib1g".into(),
            package_type: "dpkg".into(),
            link: Some("https://nvd/CVE-2024-0002".into()),
            ..VulnerabilityMatch::default()
        },
        VulnerabilityMatch {
            vulnerability_id: "CVE-2024-0003".into(),
            severity: Severity::High,
            package_name: "libtiff6".into(),
            package_type: "dpkg".into(),
            will_not_fix: true,
            ..VulnerabilityMatch::default()
        },
    ];
    let e = evaluate(&b, &facts, TAG, &ctx()).expect("valid");
    let got: Vec<(&str, &str, &str, &str)> =
        e.rows.iter().map(|r| (r.trigger_id.as_str(), r.trigger.as_str(), r.check_output.as_str(), r.gate_action.as_str())).collect();
    assert_eq!(got.len(), 4, "{got:#?}");
    assert_eq!(got[0].1, "exposed_ports");
    assert_eq!(got[0].2, "Dockerfile exposes port (22) which is in policy file DENIEDPORTS list");
    assert_eq!(got[0].3, "stop");
    assert_eq!(got[1].2, "Dockerfile directive 'HEALTHCHECK' not found, matching condition 'not_exists' check");
    assert_eq!(got[2], (
        "CVE-2024-0002+zlib1g",
        "package",
        "MEDIUM Vulnerability found in os package type (dpkg) - zlib1g (CVE-2024-0002 - https://nvd/CVE-2024-0002)",
        "warn",
    ));
    assert_eq!(got[3], (
        "CVE-2024-0001+openssl",
        "package",
        "CRITICAL Vulnerability found in os package type (dpkg) - openssl (fixed in: 3.0.11-1~deb12u2)(CVE-2024-0001 - https://security-tracker.debian.org/tracker/CVE-2024-0001)",
        "stop",
    ));
    // md5(gate + trigger + message), as Anchore computes default trigger ids.
    assert_eq!(got[0].0.len(), 32);
    assert_eq!(e.final_action, Action::Stop);
    assert_eq!(e.status(), "fail");
    assert_eq!(e.final_action_reason, FinalActionReason::PolicyEvaluation);

    // The check response, in the shape anchore-cli parses.
    let opts = CheckOptions { user_id: "admin".into(), created_at: 1717243200, last_evaluation: "2024-06-01T12:00:00Z".into(), detail: true };
    let check = to_anchore_check_json(&e, &b.to_value(), &opts);
    let entry = &check[0]["sha256:d1d1"][TAG][0];
    assert_eq!(entry["policyId"], "2c53a13c-1765-11e8-82ef-23527761d060");
    assert_eq!(entry["status"], "fail");
    let result = &entry["detail"]["result"];
    assert_eq!(result["final_action"], "stop");
    assert_eq!(result["final_action_reason"], "policy_evaluation");
    assert_eq!(result["matched_mapping_rule"]["name"], "default");
    assert_eq!(result["matched_blacklisted_images_rule"], false);
    let table = &result["result"]["b2c3"]["result"];
    assert_eq!(table["header"], json!(CHECK_HEADER));
    assert_eq!(table["row_count"], 4);
    assert_eq!(table["rows"][3], json!([
        "b2c3", TAG, "CVE-2024-0001+openssl", "vulnerabilities", "package",
        "CRITICAL Vulnerability found in os package type (dpkg) - openssl (fixed in: 3.0.11-1~deb12u2)(CVE-2024-0001 - https://security-tracker.debian.org/tracker/CVE-2024-0001)",
        "stop", false, "48e6f7d6-1765-11e8-b5f9-8b6f228548b6"
    ]));
    assert_eq!(entry["detail"]["policy"]["id"], "2c53a13c-1765-11e8-82ef-23527761d060");
    let brief = check_entry_json(&e, &b.to_value(), &CheckOptions { detail: false, ..opts });
    assert_eq!(brief["detail"], json!({}));
}

#[test]
fn default_bundle_passes_a_clean_image_and_flags_feed_state() {
    let b = Bundle::from_json_str(DEFAULT_BUNDLE).expect("reads");
    let mut facts = base_facts();
    facts.dockerfile = Dockerfile::parse("FROM scratch\nHEALTHCHECK CMD true\n", DockerfileMode::Actual);
    let e = evaluate(&b, &facts, TAG, &ctx()).expect("valid");
    assert!(e.rows.is_empty());
    assert_eq!((e.final_action, e.status()), (Action::Go, "pass"));

    let stale = EvalContext { vulnerability_feed: VulnerabilityFeedStatus { data_available: false, last_sync: Some(datetime!(2024-05-01 00:00 UTC)) }, ..ctx() };
    let got = rows(&b, &facts, &stale);
    let msgs: Vec<&str> = got.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(msgs, [
        "The vulnerability feed for this image distro is older than MAXAGE (2) days",
        "Distro-specific feed data not found for distro namespace: debian:12. Cannot perform CVE scan OS/distro packages",
    ]);
    assert!(got.iter().all(|r| r.3 == "warn"));
}

#[test]
fn dockerfile_gate() {
    let b = bundle_with(json!([
        rule("dockerfile", "instruction", "WARN", &[("instruction", "FROM"), ("check", "like"), ("value", "debian.*")]),
        rule("dockerfile", "instruction", "WARN", &[("instruction", "RUN"), ("check", "in"), ("value", "a, apt-get update")]),
        rule("dockerfile", "instruction", "WARN", &[("instruction", "USER"), ("check", "exists"), ("actual_dockerfile_only", "true")]),
        rule("dockerfile", "effective_user", "STOP", &[("users", "root,admin"), ("type", "blacklist")]),
        rule("dockerfile", "exposed_ports", "STOP", &[("ports", "80,443"), ("type", "whitelist")]),
        rule("dockerfile", "no_dockerfile_provided", "GO", &[]),
    ]));
    let mut facts = base_facts();
    facts.dockerfile = Dockerfile::parse(
        "# build\nFROM debian:12\nRUN apt-get update\nRUN apt-get install -y \\\n  curl\nUSER admin\nEXPOSE 80/tcp 8080 53/udp\n",
        DockerfileMode::Guessed,
    );
    assert_eq!(messages(&b, &facts), [
        "Dockerfile directive 'FROM' check 'like' matched against 'debian.*' for line 'debian:12'",
        "Dockerfile directive 'RUN' check 'in' matched against 'a, apt-get update' for line 'apt-get update'",
        "User admin found as effective user, which is explicity not allowed list",
        "Dockerfile exposes port (8080) which is not in policy file ALLOWEDPORTS list",
        "Dockerfile exposes port (53/udp) which is not in policy file ALLOWEDPORTS list",
        "Image was not analyzed with an actual Dockerfile",
    ]);
    // Unknown dockerfile: only no_dockerfile_provided can fire.
    facts.dockerfile.mode = DockerfileMode::Unknown;
    assert_eq!(messages(&b, &facts), ["Image was not analyzed with an actual Dockerfile"]);
}

#[test]
fn packages_and_licenses_gates() {
    let b = bundle_with(json!([
        rule("packages", "required_package", "STOP", &[("name", "ca-certificates")]),
        rule("packages", "required_package", "STOP", &[("name", "openssl"), ("version", "3.0.13-1~deb12u1"), ("version_match_type", "minimum")]),
        rule("packages", "required_package", "WARN", &[("name", "bash"), ("version", "5.2.15-2+b2")]),
        rule("packages", "blacklist", "STOP", &[("name", "openssh-server")]),
        rule("packages", "verify", "WARN", &[("only_directories", "/usr/bin")]),
        rule("licenses", "blacklist_exact_match", "WARN", &[("licenses", "GPL-3")]),
        rule("licenses", "blacklist_partial_match", "WARN", &[("licenses", "GPL")]),
    ]));
    let mut facts = base_facts();
    let pkg = |name: &str, version: &str, lic: &str| Package {
        name: name.into(),
        version: version.into(),
        pkg_type: "dpkg".into(),
        licenses: vec![lic.into()],
        ..Package::default()
    };
    let mut bash = pkg("bash", "5.2.15-2+b7", "GPL-3");
    bash.db_files = vec![
        PackageDbFile { path: "/usr/bin/bash".into(), digest_algorithm: Some("md5".into()), digest: Some("aaaa".into()), ..Default::default() },
        PackageDbFile { path: "/usr/bin/bashbug".into(), ..Default::default() },
        PackageDbFile { path: "/etc/bash.bashrc".into(), ..Default::default() },
    ];
    facts.packages = vec![
        pkg("openssl", "3.0.11-1~deb12u2", "OpenSSL"),
        bash,
        pkg("openssh-server", "1:9.2p1-2", "BSD-2-clause"),
        Package { name: "left-pad".into(), version: "1.0.0".into(), pkg_type: "npm".into(), licenses: vec!["GPL-3".into()], ..Package::default() },
    ];
    facts.files = vec![FileEntry { path: "/usr/bin/bash".into(), file_type: "file".into(), mode: 0o755, md5: Some("bbbb".into()), ..Default::default() }];
    assert_eq!(messages(&b, &facts), [
        "Required input package (ca-certificates) is not present in container image",
        "Required min-version input package (openssl) is present (3.0.11-1~deb12u2), but is lower version than what is specified in policy (3.0.13-1~deb12u1)",
        "Required input package (bash) is present (5.2.15-2+b7), but not at the version specified in policy (bash)",
        "Package is blacklisted: openssh-server",
        "VERIFY check against package db for package 'bash' failed on entry '/usr/bin/bash' with status: 'changed'",
        "VERIFY check against package db for package 'bash' failed on entry '/usr/bin/bashbug' with status: 'missing'",
        "LICFULLMATCH Packages are installed that have blacklisted licenses: bash(GPL-3)",
        "LICSUBMATCH Packages are installed that have blacklisted licenses: bash(GPL-3)",
    ]);
}

#[test]
fn files_passwd_secret_and_retrieved_files_gates() {
    let b = bundle_with(json!([
        rule("files", "name_match", "WARN", &[("regex", ".*\\.pem")]),
        rule("files", "suid_or_guid_set", "WARN", &[]),
        rule("files", "attribute_match", "STOP", &[("filename", "/etc/shadow"), ("mode", "00640"), ("mode_op", "not_equals")]),
        rule("files", "attribute_match", "STOP", &[("filename", "/etc/missing"), ("skip_missing", "false")]),
        rule("files", "content_regex_match", "WARN", &[("regex_name", "PASSWORD")]),
        rule("passwd_file", "blacklist_usernames", "STOP", &[("user_names", "ftp, games")]),
        rule("passwd_file", "blacklist_userids", "STOP", &[("user_ids", "0")]),
        rule("passwd_file", "blacklist_shells", "WARN", &[("shells", "/bin/zsh")]),
        rule("passwd_file", "blacklist_full_entry", "WARN", &[("entry", "games:x:5:60:games:/usr/games:/usr/sbin/nologin")]),
        rule("passwd_file", "content_not_available", "WARN", &[]),
        rule("secret_scans", "content_regex_checks", "STOP", &[("content_regex_name", "AWS_ACCESS_KEY"), ("filename_regex", "/app/.*")]),
        rule("secret_scans", "content_regex_checks", "WARN", &[("content_regex_name", "PRIV_KEY"), ("match_type", "notfound")]),
        rule("retrieved_files", "content_regex", "WARN", &[("path", "/etc/httpd.conf"), ("check", "no_match"), ("regex", ".*SSLEnabled.*")]),
        rule("retrieved_files", "content_not_available", "WARN", &[("path", "/etc/nginx.conf")]),
    ]));
    let mut facts = base_facts();
    let file = |path: &str, mode: u32| FileEntry { path: path.into(), mode, file_type: "file".into(), ..Default::default() };
    facts.files = vec![file("/etc/ssl/cert.pem", 0o644), file("/usr/bin/passwd", 0o104755), file("/etc/shadow", 0o100644)];
    facts.content_matches = vec![ContentMatch { path: "/app/config".into(), regex: "PASSWORD=(?i).*password.*".into() }];
    facts.secret_matches = vec![
        ContentMatch { path: "/app/.env".into(), regex: "AWS_ACCESS_KEY=(?i).*aws_access_key_id( *=+ *).*(?<![A-Z0-9])[A-Z0-9]{20}(?![A-Z0-9]).*".into() },
        ContentMatch { path: "/root/.env".into(), regex: "AWS_ACCESS_KEY=x".into() },
    ];
    facts.retrieved_files = vec![
        RetrievedFile {
            path: "/etc/passwd".into(),
            content: Some("root:x:0:0:root:/root:/bin/bash\ngames:x:5:60:games:/usr/games:/usr/sbin/nologin\nftp:x:14:50::/srv/ftp:/bin/zsh\n".into()),
        },
        RetrievedFile { path: "/etc/httpd.conf".into(), content: Some("Listen 80\nSSLEngine off\n".into()) },
    ];
    let e = evaluate(&b, &facts, TAG, &ctx()).expect("valid");
    let msgs: Vec<&str> = e.rows.iter().map(|r| r.check_output.as_str()).collect();
    assert_eq!(msgs, [
        "Application of regex matched file found in container: file=/etc/ssl/cert.pem regexp=.*\\.pem",
        "SUID or SGID found set on file /usr/bin/passwd. Mode: 0o104755",
        "filename=/etc/shadow and mode=0o644 op=not_equals specified_mode=0o640",
        "filename=/etc/missing and skip_missing=False",
        "File content analyzer found regexp match in container: file=/app/config regexp=PASSWORD=(?i).*password.*",
        "Blacklisted user 'games' found in image's /etc/passwd: pentry=games:x:5:60:games:/usr/games:/usr/sbin/nologin",
        "Blacklisted user 'ftp' found in image's /etc/passwd: pentry=ftp:x:14:50::/srv/ftp:/bin/zsh",
        "Blacklisted uid '0' found in image's /etc/passwd: pentry=root:x:0:0:root:/root:/bin/bash",
        "Blacklisted shell '/bin/zsh' found in image's /etc/passwd: pentry=ftp:x:14:50::/srv/ftp:/bin/zsh",
        "Blacklisted pentry 'games:x:5:60:games:/usr/games:/usr/sbin/nologin' found in image's /etc/passwd: pentry=games:x:5:60:games:/usr/games:/usr/sbin/nologin",
        "Secret content search analyzer found regexp match in container: file=/app/.env regexp=AWS_ACCESS_KEY=(?i).*aws_access_key_id( *=+ *).*(?<![A-Z0-9])[A-Z0-9]{20}(?![A-Z0-9]).*",
        "Secret content search analyzer did not find regexp match in container: filename_regex=* content_regex_name=PRIV_KEY",
        "Content regex '.*SSLEnabled.*' check 'no_match' found in retrieved file '/etc/httpd.conf'",
        "Cannot locate file in the image analysis",
    ]);
    let retrieved = e.rows.iter().find(|r| r.trigger == "content_regex").expect("row");
    assert_eq!(retrieved.trigger_id, "retrieved_files-content_regex+file:///etc/httpd.conf");

    // Without /etc/passwd the passwd checks are silent and content_not_available fires.
    facts.retrieved_files.clear();
    let msgs = messages(&b, &facts);
    assert!(msgs.contains(&"Cannot locate /etc/passwd in image stored files archive: check analyzer settings.".to_string()));
    assert!(!msgs.iter().any(|m| m.starts_with("Blacklisted")));
    assert_eq!(msgs.iter().filter(|m| *m == "Cannot locate file in the image analysis").count(), 2);
}

#[test]
fn metadata_always_and_malware_gates() {
    let b = bundle_with(json!([
        rule("metadata", "attribute", "WARN", &[("attribute", "size"), ("check", ">"), ("value", "50mb")]),
        rule("metadata", "attribute", "WARN", &[("attribute", "distro"), ("check", "in"), ("value", "alpine, debian")]),
        rule("metadata", "attribute", "WARN", &[("attribute", "layer_count"), ("check", "<="), ("value", "2")]),
        rule("metadata", "attribute", "WARN", &[("attribute", "architecture"), ("check", "not_like"), ("value", "arm.*")]),
        rule("always", "always", "GO", &[]),
        rule("malware", "scans", "STOP", &[]),
        rule("malware", "scan_not_run", "WARN", &[]),
    ]));
    let mut facts = base_facts();
    let e = evaluate(&b, &facts, TAG, &ctx()).expect("valid");
    let got: Vec<(&str, &str)> = e.rows.iter().map(|r| (r.trigger_id.as_str(), r.check_output.as_str())).collect();
    assert_eq!(got[0].1, "Attribute check for attribute: 'size' check: '>' check_value: '50mb' matched image value: '83886080'");
    assert_eq!(got[1].1, "Attribute check for attribute: 'distro' check: 'in' check_value: 'alpine, debian' matched image value: 'debian'");
    assert_eq!(got[2].1, "Attribute check for attribute: 'architecture' check: 'not_like' check_value: 'arm.*' matched image value: 'amd64'");
    assert_eq!(got[3], ("always", "Unconditional trigger match"));
    assert_eq!(got[4].1, "No malware scans found for image");
    assert_eq!(got.len(), 5);

    facts.malware_scans = Some(vec![MalwareScan {
        scanner: "clamav".into(),
        findings: vec![MalwareFinding { path: "/bin/evil".into(), signature: "Unix.Trojan.Mirai".into() }],
    }]);
    let e = evaluate(&b, &facts, TAG, &ctx()).expect("valid");
    let malware = e.rows.iter().find(|r| r.gate == "malware").expect("row");
    let path_md5: String = {
        use md5::Digest;
        md5::Md5::digest(b"/bin/evil").iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(malware.trigger_id, format!("clamav+Unix.Trojan.Mirai+{path_md5}"));
    assert_eq!(malware.check_output, "Malware scan finding: scanner=clamav file=/bin/evil signature=Unix.Trojan.Mirai");
    assert_eq!(e.final_action, Action::Stop);
}

#[test]
fn npm_and_gem_gates() {
    let b = bundle_with(json!([
        rule("npms", "newer_version_in_feed", "WARN", &[]),
        rule("npms", "unknown_in_feeds", "WARN", &[]),
        rule("npms", "version_not_in_feeds", "WARN", &[]),
        rule("npms", "blacklisted_name_version", "STOP", &[("name", "event-stream"), ("version", "3.3.6")]),
        rule("npms", "feed_data_unavailable", "GO", &[]),
        rule("ruby_gems", "blacklist", "STOP", &[("name", "rest-client")]),
        rule("ruby_gems", "feed_data_unavailable", "GO", &[]),
        rule("ruby_gems", "not_found_in_feed", "WARN", &[]),
    ]));
    let mut facts = base_facts();
    let p = |name: &str, version: &str, t: &str| Package { name: name.into(), version: version.into(), pkg_type: t.into(), ..Package::default() };
    facts.packages = vec![
        p("lodash", "4.17.15", "npm"),
        p("event-stream", "3.3.6", "npm"),
        p("private-thing", "0.0.1", "npm"),
        p("rest-client", "1.6.13", "gem"),
    ];
    let mut npm = PackageFeed { last_sync: Some(datetime!(2024-05-31 00:00 UTC)), ..PackageFeed::default() };
    npm.packages.insert("lodash".into(), FeedPackage { latest: Some("4.17.21".into()), versions: vec!["4.17.20".into(), "4.17.21".into()] });
    npm.packages.insert("event-stream".into(), FeedPackage { latest: Some("4.0.1".into()), versions: vec!["3.3.6".into(), "4.0.1".into()] });
    let c = EvalContext { npm_feed: Some(npm), ..ctx() };
    let msgs: Vec<String> = rows(&b, &facts, &c).into_iter().map(|r| r.2).collect();
    assert_eq!(msgs, [
        "NPMNOTLATEST Package (lodash) version (4.17.15) installed but is not the latest version (4.17.21)",
        "NPMNOTLATEST Package (event-stream) version (3.3.6) installed but is not the latest version (4.0.1)",
        "NPMNOTOFFICIAL Package (private-thing) in container but not in official NPM feed.",
        "NPMBADVERSION Package (lodash) version (4.17.15) installed but version is not in the official feed for this package (['4.17.20', '4.17.21'])",
        "NPM Package is blacklisted: event-stream-3.3.6",
        "Gem Package is blacklisted: rest-client",
        "Gem packages are present but the anchore gem feed is not available - will be unable to perform checks that require feed data",
    ]);
}

fn vuln(id: &str, sev: Severity, pkg: &str, pkg_type: &str) -> VulnerabilityMatch {
    VulnerabilityMatch {
        vulnerability_id: id.into(),
        severity: sev,
        package_name: pkg.into(),
        package_type: pkg_type.into(),
        link: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
        ..VulnerabilityMatch::default()
    }
}

#[test]
fn vulnerabilities_gate_filters() {
    let mut facts = base_facts();
    let mut log4j = vuln("CVE-2021-44228", Severity::Critical, "log4j-core", "java");
    log4j.package_path = Some("/app/lib/log4j-core-2.14.1.jar".into());
    log4j.trigger_package = Some("log4j-core-2.14.1.jar".into());
    log4j.nvd_cvss_v3 = vec![Cvss { base_score: 10.0, exploitability_score: 3.9, impact_score: 6.0 }];
    log4j.fix_versions = vec!["2.15.0".into()];
    log4j.fix_observed_at = Some(datetime!(2021-12-10 00:00 UTC));
    log4j.created_at = Some(datetime!(2021-12-10 00:00 UTC));
    log4j.kev = true;
    log4j.epss_score = Some(0.97);
    let mut testjar = vuln("CVE-2022-1", Severity::High, "junit", "java");
    testjar.package_path = Some("/app/test/junit.jar".into());
    let mut recent = vuln("CVE-2024-9", Severity::High, "curl", "dpkg");
    recent.created_at = Some(datetime!(2024-05-30 00:00 UTC));
    recent.nvd_cvss_v3 = vec![Cvss { base_score: 7.5, exploitability_score: 3.9, impact_score: 3.6 }];
    let mut wontfix = vuln("CVE-2019-1234", Severity::Low, "tar", "dpkg");
    wontfix.will_not_fix = true;
    facts.vulnerabilities = vec![log4j, testjar, recent, wontfix];

    let ids = |params: &[(&str, &str)]| -> Vec<String> {
        let b = bundle_with(json!([rule("vulnerabilities", "package", "STOP", params)]));
        evaluate(&b, &facts, TAG, &ctx()).expect("valid").rows.into_iter().map(|r| r.trigger_id).collect()
    };
    assert_eq!(ids(&[("package_type", "all")]), ["CVE-2021-44228+log4j-core-2.14.1.jar", "CVE-2022-1+junit", "CVE-2024-9+curl"]);
    assert_eq!(ids(&[("package_type", "all"), ("vendor_only", "false")]).len(), 4);
    assert_eq!(ids(&[("package_type", "os")]), ["CVE-2024-9+curl"]);
    assert_eq!(ids(&[("package_type", "non-os"), ("package_path_exclude", ".*/test/.*")]), ["CVE-2021-44228+log4j-core-2.14.1.jar"]);
    assert_eq!(ids(&[("package_type", "all"), ("severity_comparison", ">="), ("severity", "critical")]), ["CVE-2021-44228+log4j-core-2.14.1.jar"]);
    assert_eq!(ids(&[("package_type", "all"), ("max_days_since_creation", "7")]), ["CVE-2021-44228+log4j-core-2.14.1.jar", "CVE-2022-1+junit"]);
    assert_eq!(ids(&[("package_type", "all"), ("fix_available", "true")]), ["CVE-2021-44228+log4j-core-2.14.1.jar"]);
    assert_eq!(ids(&[("package_type", "all"), ("fix_available", "false")]), ["CVE-2022-1+junit", "CVE-2024-9+curl"]);
    assert_eq!(ids(&[("package_type", "all"), ("cvss_v3_base_score", "7.5")]), ["CVE-2021-44228+log4j-core-2.14.1.jar", "CVE-2024-9+curl"]);
    assert_eq!(ids(&[("package_type", "all"), ("cvss_v3_base_score_comparison", "<"), ("cvss_v3_base_score", "8")]), ["CVE-2022-1+junit", "CVE-2024-9+curl"]);
    assert_eq!(ids(&[("package_type", "all"), ("known_exploited", "true")]), ["CVE-2021-44228+log4j-core-2.14.1.jar"]);
    assert_eq!(ids(&[("package_type", "all"), ("epss_score", "0.5")]), ["CVE-2021-44228+log4j-core-2.14.1.jar"]);

    let b = bundle_with(json!([rule("vulnerabilities", "package", "STOP", &[
        ("package_type", "non-os"), ("cvss_v3_base_score", "9"), ("fix_available", "true"), ("max_days_since_fix", "30"), ("max_days_since_creation", "30"), ("known_exploited", "true"),
    ])]));
    assert_eq!(messages(&b, &facts), [
        "CRITICAL Vulnerability found in non-os package type (java) - log4j-core (fixed in: 2.15.0)(cvss_v3_base_score=10.0)(max_days_since_creation=2021-12-10 max_days_since_fix=2021-12-10)(known_exploited=true)(CVE-2021-44228 - https://nvd.nist.gov/vuln/detail/CVE-2021-44228)",
    ]);

    let b = bundle_with(json!([
        rule("vulnerabilities", "blacklist", "STOP", &[("vulnerability_ids", "CVE-2019-1234, CVE-2021-44228, CVE-0000-0")]),
        rule("vulnerabilities", "blacklist", "STOP", &[("vulnerability_ids", "CVE-2019-1234"), ("vendor_only", "false")]),
    ]));
    assert_eq!(messages(&b, &facts), [
        "Blacklisted vulnerabilities detected: ['CVE-2021-44228']",
        "Blacklisted vulnerabilities detected: ['CVE-2019-1234']",
    ]);
}

#[test]
fn allowlists_suppress_matching_rows_until_they_expire() {
    let v = json!({
        "id": "b", "version": "1_0",
        "policies": [{"id": "p", "version": "1_0", "rules": [
            {"id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "STOP", "params": [{"name": "package_type", "value": "all"}]},
            {"id": "r2", "gate": "always", "trigger": "always", "action": "WARN"}
        ]}],
        "whitelists": [
            {"id": "w1", "name": "Exceptions", "version": "1_0", "items": [
                {"id": "i1", "gate": "vulnerabilities", "trigger_id": "CVE-2024-0001+*"},
                {"id": "i2", "gate": "vulnerabilities", "trigger_id": "CVE-2024-0002+zlib1g", "expires_on": "2024-01-01T00:00:00Z"},
                {"id": "i3", "gate": "dockerfile", "trigger_id": "always"},
                {"id": "i4", "gate": "VULNERABILITIES", "trigger_id": "regexp:CVE-2023-.*"}
            ]}
        ],
        "mappings": [{"name": "m", "registry": "*", "repository": "*", "image": {"type": "tag", "value": "*"},
                      "policy_id": "p", "whitelist_ids": ["w1"]}]
    });
    let b = Bundle::from_value(&v).expect("reads");
    let mut facts = base_facts();
    facts.vulnerabilities = vec![
        vuln("CVE-2024-0001", Severity::High, "openssl", "dpkg"),
        vuln("CVE-2024-0002", Severity::High, "zlib1g", "dpkg"),
        vuln("CVE-2023-7", Severity::Critical, "bash", "dpkg"),
    ];
    let e = evaluate(&b, &facts, TAG, &ctx()).expect("valid");
    let got: Vec<(&str, &str, Option<&str>)> = e
        .rows
        .iter()
        .map(|r| (r.trigger_id.as_str(), r.gate_action.as_str(), r.allowlisted.as_ref().and_then(|m| m.matched_rule_id.as_deref())))
        .collect();
    assert_eq!(got, [
        ("CVE-2024-0001+openssl", "go", Some("i1")),
        ("CVE-2024-0002+zlib1g", "stop", None),
        ("CVE-2023-7+bash", "go", Some("i4")),
        ("always", "warn", None),
    ]);
    assert_eq!(e.final_action, Action::Stop);
    let row = crate::check::policy_evaluation_json(&e, &b.to_value(), &CheckOptions {
        user_id: "u".into(), created_at: 0, last_evaluation: String::new(), detail: true,
    })["result"]["b2c3"]["result"]["rows"][0][7].clone();
    assert_eq!(row, json!({"whitelist_name": "Exceptions", "whitelist_id": "w1", "matched_rule_id": "i1"}));

    // Before the expiry, i2 applies too.
    let early = EvalContext { now: datetime!(2023-12-01 00:00 UTC), ..ctx() };
    let e = evaluate(&b, &facts, TAG, &early).expect("valid");
    assert_eq!(e.final_action, Action::Warn);
}

#[test]
fn mappings_pick_the_first_match_and_image_lists_override() {
    let v = json!({
        "id": "b", "version": "1_0",
        "policies": [
            {"id": "strict", "version": "1_0", "rules": [{"id": "s", "gate": "always", "trigger": "always", "action": "STOP"}]},
            {"id": "lenient", "version": "1_0", "rules": [{"id": "l", "gate": "always", "trigger": "always", "action": "WARN"}]},
            {"id": "extra", "version": "1_0", "rules": [{"id": "x", "gate": "always", "trigger": "always", "action": "GO"}]}
        ],
        "mappings": [
            {"name": "prod", "registry": "registry.example.com", "repository": "prod/*", "image": {"type": "tag", "value": "v*"}, "policy_id": "strict"},
            {"name": "by-digest", "registry": "*", "repository": "*", "image": {"type": "digest", "value": "sha256:feed"}, "policy_ids": ["lenient", "extra"]},
            {"name": "dev", "registry": "*", "repository": "dev/*", "image": {"type": "tag", "value": "*"}, "policy_id": "lenient"}
        ],
        "whitelisted_images": [{"name": "golden", "registry": "*", "repository": "dev/golden", "image": {"type": "tag", "value": "*"}}],
        "blacklisted_images": [{"name": "banned", "registry": "*", "repository": "*", "image": {"type": "id", "value": "bad1"}}]
    });
    let b = Bundle::from_value(&v).expect("reads");
    assert!(b.validate().is_valid(), "{:?}", b.validate());
    let facts = base_facts();
    let run = |tag: &str, f: &ImageFacts| evaluate(&b, f, tag, &ctx()).expect("valid");

    let e = run("registry.example.com/prod/api:v2", &facts);
    assert_eq!(e.matched_mapping_rule.as_ref().and_then(|m| m.name.as_deref()), Some("prod"));
    assert_eq!((e.final_action, e.rows[0].policy_id.as_str()), (Action::Stop, "strict"));

    // Tag does not match `v*`, falls to `dev`? No: repository differs, so nothing matches.
    let e = run("registry.example.com/prod/api:latest", &facts);
    assert!(e.matched_mapping_rule.is_none() && e.rows.is_empty());
    assert_eq!((e.final_action, e.final_action_reason), (Action::Go, FinalActionReason::PolicyEvaluation));
    assert_eq!(e.evaluation_problems[0].problem_type, "NoMatchedMappingWarning");

    let e = run("localhost:5000/dev/tool:1", &facts);
    assert_eq!(e.matched_mapping_rule.as_ref().and_then(|m| m.name.as_deref()), Some("dev"));
    assert_eq!(e.final_action, Action::Warn);

    // Digest mapping with two policies: rows of both, the minimum decides.
    let mut by_digest = facts.clone();
    by_digest.digest = "sha256:feed".into();
    let e = run("docker.io/any/thing:1", &by_digest);
    let policies: Vec<&str> = e.rows.iter().map(|r| r.policy_id.as_str()).collect();
    assert_eq!(policies, ["lenient", "extra"]);
    assert_eq!(e.final_action, Action::Warn);

    let e = run("docker.io/dev/golden:1", &facts);
    assert_eq!((e.final_action, e.final_action_reason), (Action::Go, FinalActionReason::Whitelisted));
    assert_eq!(e.policy_final_action, Action::Warn);

    let mut banned = facts.clone();
    banned.image_id = "bad1".into();
    let e = run("docker.io/dev/golden:1", &banned);
    assert_eq!((e.final_action, e.final_action_reason, e.status()), (Action::Stop, FinalActionReason::Blacklisted, "fail"));
}

#[test]
fn all_rules_bundle_evaluates() {
    let b = Bundle::from_json_str(ALL_RULES_BUNDLE).expect("reads");
    let mut facts = base_facts();
    facts.dockerfile = Dockerfile::parse("FROM alpine\nCMD [\"sh\"]\nEXPOSE 443 80\n", DockerfileMode::Guessed);
    facts.files = vec![FileEntry { path: "/bin/su".into(), mode: 0o4755, file_type: "file".into(), ..Default::default() }];
    facts.packages = vec![Package { name: "musl".into(), version: "1.2.4-r2".into(), pkg_type: "APKG".into(), licenses: vec!["MIT BSD-2".into()], ..Default::default() }];
    let e = evaluate(&b, &facts, "docker.io/myapp:1", &ctx()).expect("valid");
    // `*\.pem` cannot compile (in Python either): an evaluation problem, not a failure.
    assert_eq!(e.evaluation_problems.len(), 1, "{:?}", e.evaluation_problems);
    assert_eq!(e.evaluation_problems[0].problem_type, "TriggerEvaluationError");
    assert!(e.evaluation_problems[0].details.starts_with("Trigger evaluation failed for gate files and trigger name_match, with parameters: ({'regex': '*\\\\.pem'})"));
    let triggers: Vec<String> = e.rows.iter().map(|r| format!("{}/{}", r.gate, r.trigger)).collect();
    for expected in [
        "dockerfile/no_dockerfile_provided",
        "dockerfile/instruction",
        "dockerfile/exposed_ports",
        "dockerfile/effective_user",
        "files/suid_or_guid_set",
        "licenses/blacklist_partial_match",
        "licenses/blacklist_exact_match",
        "metadata/attribute",
        "npms/feed_data_unavailable",
        "passwd_file/content_not_available",
        "retrieved_files/content_not_available",
        "ruby_gems/feed_data_unavailable",
    ] {
        assert!(triggers.contains(&expected.to_string()), "{expected} missing from {triggers:?}");
    }
    assert_eq!(e.final_action, Action::Warn);

    // docker.io/alpine:latest is on the bundle's whitelisted_images.
    let e = evaluate(&b, &facts, "docker.io/alpine:latest", &ctx()).expect("valid");
    assert_eq!((e.final_action, e.final_action_reason), (Action::Go, FinalActionReason::Whitelisted));
    assert!(e.matched_whitelisted_images_rule.is_some());
}

#[test]
fn enterprise_distro_gate() {
    let b = bundle_with(json!([
        rule("distro", "deny", "STOP", &[("distro", "debian"), ("version", "13"), ("check", "<")]),
        rule("distro", "deny", "WARN", &[("distro", "Debian"), ("version", "12.0"), ("check", "=")]),
        rule("distro", "deny", "WARN", &[("distro", "debian"), ("version", "12"), ("check", ">")]),
        rule("distro", "deny", "WARN", &[("distro", "alpine"), ("version", "3.20"), ("check", "<")]),
    ]));
    let mut facts = base_facts();
    assert_eq!(
        rows(&b, &facts, &ctx()),
        vec![
            (
                "distro".into(),
                "deny".into(),
                "Distro check for distro: 'debian' check: '<' version: '13' matched image distro: 'debian' version: '12'".into(),
                "stop".into()
            ),
            (
                "distro".into(),
                "deny".into(),
                "Distro check for distro: 'Debian' check: '=' version: '12.0' matched image distro: 'debian' version: '12'".into(),
                "warn".into()
            ),
        ]
    );
    // Dotted numeric order: 3.9 < 3.20 (a string comparison would say otherwise).
    facts.distro = Some(Distro { name: "alpine".into(), version: "3.9.6".into(), like: vec![] });
    assert_eq!(messages(&b, &facts).len(), 1);
    // Debian testing has no numeric version: ordered checks never fire, `=` compares strings.
    facts.distro = Some(Distro { name: "debian".into(), version: "bookworm/sid".into(), like: vec![] });
    assert!(messages(&b, &facts).is_empty());
    let sid = bundle_with(json!([rule("distro", "deny", "STOP", &[("distro", "debian"), ("version", "bookworm/sid"), ("check", "=")])]));
    assert_eq!(messages(&sid, &facts).len(), 1);
    facts.distro = None;
    assert!(messages(&b, &facts).is_empty());

    // Invalid rules: every problem, with gate, trigger and parameter.
    let v = json!({
        "id": "bad", "version": "1_0",
        "policies": [{"id": "p", "version": "1_0", "rules": [
            {"id": "d1", "gate": "distro", "trigger": "deny", "action": "STOP",
             "params": [{"name": "distro", "value": "debian"}, {"name": "version", "value": "bookworm"}, {"name": "check", "value": "~="}]},
            {"id": "d2", "gate": "distro", "trigger": "deny", "action": "STOP", "params": [{"name": "distro", "value": "debian"}]}
        ]}],
        "mappings": []
    });
    let report = Bundle::from_value(&v).expect("reads").validate();
    let got: Vec<(&str, &str)> = report.problems.iter().map(|p| (p.problem_type.as_str(), p.details.as_str())).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().any(|(t, d)| *t == "ParameterValueInvalidError"
        && d.contains("'~=' for parameter 'check'")
        && d.contains("gate=distro,trigger=deny,rule_id=d1")));
    // With `check` not an ordering, `version` "bookworm" passes.
    assert!(!got.iter().any(|(_, d)| d.contains("parameter 'version'")), "{got:?}");
    assert_eq!(got.iter().filter(|(t, d)| *t == "RequiredParameterNotSetError" && d.contains("rule_id=d2")).count(), 2, "{got:?}");
    // A non-numeric version is rejected for an ordering check only.
    let lt = json!({
        "id": "bad", "version": "1_0",
        "policies": [{"id": "p", "version": "1_0", "rules": [
            {"id": "d3", "gate": "distro", "trigger": "deny", "action": "STOP",
             "params": [{"name": "distro", "value": "debian"}, {"name": "version", "value": "bookworm/sid"}, {"name": "check", "value": "<"}]}
        ]}],
        "mappings": []
    });
    let report = Bundle::from_value(&lt).expect("reads").validate();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].details.contains("'bookworm/sid' for parameter 'version'"), "{:?}", report.problems);
    assert!(report.problems[0].details.contains("gate=distro,trigger=deny,rule_id=d3"));
}

fn pkg(name: &str, version: &str, pkg_type: &str) -> Package {
    Package { name: name.into(), version: version.into(), pkg_type: pkg_type.into(), ..Package::default() }
}

#[test]
fn enterprise_tag_drift_gate() {
    let b = bundle_with(json!([
        rule("tag_drift", "packages_added", "WARN", &[]),
        rule("tag_drift", "packages_removed", "STOP", &[]),
        rule("tag_drift", "packages_modified", "WARN", &[("package_type", "deb")]),
    ]));
    let mut facts = base_facts();
    facts.packages = vec![pkg("openssl", "3.0.15-1", "dpkg"), pkg("curl", "7.88.1-10", "dpkg"), pkg("requests", "2.32.0", "python")];
    // No previous image for the tag: nothing fires.
    assert!(messages(&b, &facts).is_empty());
    facts.previous_packages = Some(vec![
        pkg("openssl", "3.0.11-1", "dpkg"),
        pkg("curl", "7.88.1-10", "dpkg"),
        pkg("wget", "1.21.3-1", "dpkg"),
        pkg("requests", "2.31.0", "python"),
    ]);
    assert_eq!(
        rows(&b, &facts, &ctx()),
        vec![
            (
                "tag_drift".into(),
                "packages_removed".into(),
                "Package removed since the tag's previous image: wget-1.21.3-1 (type: dpkg)".into(),
                "stop".into()
            ),
            (
                "tag_drift".into(),
                "packages_modified".into(),
                "Package modified since the tag's previous image: openssl from version 3.0.11-1 to 3.0.15-1 (type: dpkg)".into(),
                "warn".into()
            ),
        ]
    );
    // Without the type filter the python change shows too; an added package fires alone.
    let all = bundle_with(json!([rule("tag_drift", "packages_modified", "WARN", &[]), rule("tag_drift", "packages_added", "WARN", &[])]));
    facts.packages.push(pkg("lodash", "4.17.21", "npm"));
    assert_eq!(
        messages(&all, &facts),
        vec![
            "Package modified since the tag's previous image: openssl from version 3.0.11-1 to 3.0.15-1 (type: dpkg)",
            "Package modified since the tag's previous image: requests from version 2.31.0 to 2.32.0 (type: python)",
            "Package added since the tag's previous image: lodash-4.17.21 (type: npm)",
        ]
    );
    // Same packages as before: nothing fires.
    facts.previous_packages = Some(facts.packages.clone());
    assert!(messages(&all, &facts).is_empty());

    // An unknown parameter is rejected with gate, trigger and parameter named.
    let v = json!({
        "id": "bad", "version": "1_0",
        "policies": [{"id": "p", "version": "1_0", "rules": [
            {"id": "t1", "gate": "tag_drift", "trigger": "packages_added", "action": "WARN",
             "params": [{"name": "package_types", "value": "npm"}]},
            {"id": "t2", "gate": "tag_drift", "trigger": "packages_changed", "action": "WARN"}
        ]}],
        "mappings": []
    });
    let report = Bundle::from_value(&v).expect("reads").validate();
    let types: Vec<&str> = report.problems.iter().map(|p| p.problem_type.as_str()).collect();
    assert_eq!(types, ["InvalidParameterError", "TriggerNotFoundError"], "{:?}", report.problems);
    assert!(report.problems[0].details.contains("parameter=package_types"));
    assert!(report.problems[0].details.contains("gate=tag_drift,trigger=packages_added,rule_id=t1"));
}
