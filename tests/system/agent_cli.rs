//! `khien-agent facts`, `check` and `policies` as a user runs them: output shape, exit codes, errors.

use khien_tests::{agent, workspace};
use std::path::Path;

#[test]
fn facts_json_has_the_documented_keys() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let run = agent(&["facts"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = run.json();
    assert!(!f["host"]["hostname"].as_str().unwrap().is_empty());
    assert!(f["host"]["os"]["id"].is_string());
    let names: Vec<&str> = f["network"]["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"lo"), "{names:?}");
    let ours = f["network"]["listening"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["port"] == port)
        .unwrap_or_else(|| panic!("our listener on {port} is missing: {:#}", f["network"]["listening"]));
    assert_eq!(ours["pid"], std::process::id());
    assert!(ours["process"].is_string(), "{ours}");
    for p in f["antivirus"]["products"].as_array().unwrap() {
        for key in ["name", "running", "signature_version", "signature_time"] {
            assert!(p.get(key).is_some(), "product lacks {key}: {p}");
        }
    }
    assert!(f["firewall"]["inbound_default_deny"].is_boolean());
    assert!(f["errors"].is_array());
    drop(listener);
}

#[test]
fn facts_table_speaks_vietnamese_by_default_and_english_on_request() {
    let vi = agent(&["facts", "--format", "table"], None);
    assert_eq!(vi.code, 0, "{}", vi.stderr);
    assert!(vi.stdout.contains("Giao diện mạng"), "{}", vi.stdout);
    let en = agent(&["facts", "--format", "table", "--lang", "en"], None);
    assert!(en.stdout.contains("Network interfaces"), "{}", en.stdout);
}

#[test]
fn check_json_has_the_documented_shape_and_exit_code() {
    let run = agent(&["check", "--level", "3", "--format", "json"], None);
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    let c = run.json();
    assert_eq!(c["level"], 3);
    assert_eq!(c["framework"], "tcvn-14423-2026");
    let results = c["results"].as_array().unwrap();
    assert!(results.len() >= 10);
    for r in results {
        for key in ["requirement", "check", "status", "evidence", "title"] {
            assert!(r.get(key).is_some(), "result lacks {key}: {r}");
        }
        assert!(
            r["evidence"].get("observed").is_some() && r["evidence"]["expected"].is_string(),
            "{r}"
        );
    }
    let problems = results.iter().any(|r| r["status"] == "fail" || r["status"] == "error");
    assert_eq!(run.code, i32::from(problems), "exit code must say whether a required check failed");
    assert_eq!(c["compliant"], !problems);
}

#[test]
fn check_table_is_vietnamese_by_default() {
    let run = agent(&["check", "--level", "1"], None);
    assert!(run.stdout.contains("Kết luận"), "{}", run.stdout);
    assert!(run.stdout.contains("cấp độ 1"), "{}", run.stdout);
    let en = agent(&["check", "--level", "1", "--lang", "en"], None);
    assert!(en.stdout.contains("Verdict"), "{}", en.stdout);
}

#[test]
fn policies_are_found_without_flags_from_any_folder() {
    let run = std::process::Command::new(khien_tests::bin("khien-agent"))
        .args(["check", "--level", "2", "--format", "json"])
        .current_dir("/")
        .output()
        .unwrap();
    let code = run.status.code().unwrap();
    assert!(code == 0 || code == 1, "{}", String::from_utf8_lossy(&run.stderr));
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let r = agent(&["check", "--level", "9"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("9"), "{}", r.stderr);
    let r = agent(&["check", "--level", "3", "--policies", "/nonexistent/policies"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/policies"), "{}", r.stderr);
    let r = agent(&["check", "--level", "3", "--framework", "tcvn-9999"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown framework \"tcvn-9999\""), "{}", r.stderr);
    let r = agent(&["--config", "/nonexistent/agent.toml", "facts"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/agent.toml"), "{}", r.stderr);
}

#[test]
fn a_broken_config_file_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(&cfg, "role = \"server\"\n\n[probe]\ncommand_timeout = 5\n").unwrap();
    let r = agent(&["--config", cfg.to_str().unwrap(), "facts"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&format!("{}:4", cfg.display())), "{}", r.stderr);
    assert!(r.stderr.contains("command_timeout"), "{}", r.stderr);
}

fn copy_policies(to: &Path) {
    let from = workspace().join("policies");
    for fw in std::fs::read_dir(&from).unwrap().flatten() {
        let dest = to.join(fw.file_name());
        std::fs::create_dir_all(&dest).unwrap();
        for f in std::fs::read_dir(fw.path()).unwrap().flatten() {
            std::fs::copy(f.path(), dest.join(f.file_name())).unwrap();
        }
    }
}

#[test]
fn a_broken_policy_names_file_requirement_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    let file = dir.path().join("tcvn-14423-2026/20-ch.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen(
            "facts.firewall.enabled && facts.firewall.inbound_default_deny",
            "facts.firewall.enabled &&& nope",
            1,
        ),
    )
    .unwrap();
    let r = agent(&["check", "--level", "3", "--policies", dir.path().to_str().unwrap()], None);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("20-ch.toml:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("requirement CH-02: check linux: `expr` is not valid CEL"),
        "{}",
        r.stderr
    );

    // A level missing from a per-level threshold.
    copy_policies(dir.path());
    let file = dir.path().join("tcvn-14423-2026/10-md.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("{ 1 = 15, 2 = 15, 3 = 7, 4 = 3, 5 = 3 }", "{ 1 = 15, 2 = 15, 3 = 7, 5 = 3 }"),
    )
    .unwrap();
    let r = agent(&["check", "--level", "3", "--policies", dir.path().to_str().unwrap()], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("requirement MD-02: params.max_signature_age_days: no value for level(s) [4]"),
        "{}",
        r.stderr
    );
}

#[test]
fn policies_list_shows_the_three_frameworks_with_counts_per_level() {
    let run = agent(&["policies", "list", "--format", "json", "--lang", "en"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list = run.json();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["tcvn-14423-2026", "qcvn-12-2026-bca", "tcvn-11930-2017"]);
    for f in list.as_array().unwrap() {
        let levels = f["levels"].as_array().unwrap();
        assert_eq!(levels.len(), 5, "{f:#}");
        let counts: Vec<u64> = levels.iter().map(|l| l["requirements"].as_u64().unwrap()).collect();
        // Higher levels ask for more, never less, in these three standards.
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{} {counts:?}", f["id"]);
        assert!(levels.iter().all(|l| l["automated"].as_u64() <= l["requirements"].as_u64()));
    }
    assert_eq!(list[2]["valid_until"], "2027-07-01");
    assert_eq!(list[1]["base"], "tcvn-14423-2026");

    let table = agent(&["policies", "list"], None);
    assert!(
        table.stdout.contains("cấp độ") && table.stdout.contains("tcvn-14423-2026  [current]"),
        "{}",
        table.stdout
    );
}

#[test]
fn policies_explain_gives_thresholds_per_level_and_the_other_frameworks() {
    let run = agent(&["policies", "explain", "md-02", "--lang", "en"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.starts_with("MD-02  Signatures updated automatically and fresh"), "{out}");
    assert!(out.contains("max_signature_age_days | 15         | 15         | 7"), "{out}");
    assert!(
        out.contains("In the other frameworks:") && out.contains("qcvn-12-2026-bca"),
        "{out}"
    );

    let json = agent(
        &[
            "policies",
            "explain",
            "TK-03",
            "--framework",
            "qcvn-12-2026-bca",
            "--format",
            "json",
        ],
        None,
    )
    .json();
    assert_eq!(json[0]["framework"], "qcvn-12-2026-bca");
    assert_eq!(json.as_array().unwrap().len(), 3, "the requirement in all three frameworks");

    let unknown = agent(&["policies", "explain", "ZZ-99"], None);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("has no requirement ZZ-99") && unknown.stderr.contains("MD-01"),
        "{}",
        unknown.stderr
    );
    let bad_fw = agent(&["policies", "explain", "MD-01", "--framework", "nope"], None);
    assert_eq!(bad_fw.code, 2);
    assert!(bad_fw.stderr.contains("unknown framework \"nope\""), "{}", bad_fw.stderr);
}
