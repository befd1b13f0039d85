//! The level catalogue on deliberately built hosts: network namespaces for the
//! overlay's "no network at all" (PX-01) and for direct Internet access from
//! admin hosts (HT-02), and recorded host trees (`tests/hosts/<name>/`, read
//! through the probes' root prefix) for the configuration requirements.

use khien_tests::netns::Netns;
use khien_tests::{agent, can_run, workspace};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Statuses of the automated (non-manual) results of one requirement.
fn statuses(check: &Value, requirement: &str) -> BTreeMap<String, String> {
    check["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["requirement"] == requirement && r["status"] != "manual")
        .map(|r| {
            (
                r["check"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn check(config: &str, level: &str, framework: &str, ns: Option<&Netns>) -> Value {
    let run = agent(
        &[
            "--config",
            config,
            "check",
            "--level",
            level,
            "--framework",
            framework,
            "--format",
            "json",
            "--lang",
            "en",
        ],
        ns,
    );
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    run.json()
}

#[test]
fn state_secret_host_must_have_no_network_px01() {
    if !can_run(true, &["ip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[host]\nstate_secrets = true\n");

    // Only loopback: the namespace as created.
    let isolated = Netns::new("pxiso");
    for fw in ["tcvn-14423-2026", "qcvn-12-2026-bca", "tcvn-11930-2017"] {
        let c = check(&config, "1", fw, Some(&isolated));
        let s = statuses(&c, "PX-01");
        assert!(!s.is_empty() && s.values().all(|v| v == "pass"), "{fw}: {s:?}");
    }

    // A cable and a default route.
    let connected = Netns::new("pxnet");
    let gateway = Netns::new("pxgw");
    connected.link(&gateway, "10.77.1.2", "10.77.1.1");
    connected.exec("ip", &["route", "add", "default", "via", "10.77.1.1"]);
    let c = check(&config, "1", "tcvn-14423-2026", Some(&connected));
    let s = statuses(&c, "PX-01");
    assert!(s.values().any(|v| v == "fail"), "{s:?}");

    // The same machine without the flag: the overlay does not apply.
    let plain = write_config(dir.path(), "[host]\nstate_secrets = false\n");
    let c = check(&plain, "1", "tcvn-14423-2026", Some(&connected));
    let s = statuses(&c, "PX-01");
    assert!(s.values().all(|v| v == "not_applicable"), "{s:?}");
}

#[test]
fn admin_host_reaching_the_internet_directly_fails_ht02() {
    if !can_run(true, &["ip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[host]\nadmin = true\n[probe]\negress_target = \"10.77.2.1:443\"\n");

    // No route anywhere: the canary cannot be reached.
    let closed = Netns::new("egclosed");
    let c = check(&config, "5", "tcvn-14423-2026", Some(&closed));
    let facts = agent(&["--config", &config, "facts"], Some(&closed)).json();
    assert_eq!(facts["network"]["egress"]["reachable"], false, "{:#}", facts["network"]["egress"]);
    let s = statuses(&c, "HT-02");
    assert!(!s.is_empty() && s.values().all(|v| v == "pass"), "{s:?}");

    // A path to the canary, which answers.
    let open = Netns::new("egopen");
    let internet = Netns::new("eginet");
    open.link(&internet, "10.77.2.2", "10.77.2.1");
    let _canary = internet.listen("tcp", 443);
    let facts = agent(&["--config", &config, "facts"], Some(&open)).json();
    assert_eq!(facts["network"]["egress"]["reachable"], true, "{:#}", facts["network"]["egress"]);
    let c = check(&config, "5", "tcvn-14423-2026", Some(&open));
    let s = statuses(&c, "HT-02");
    assert!(s.values().any(|v| v == "fail"), "{s:?}");
    // QCVN 12 asks for it from level 3, TCVN 14423 from level 4.
    let q = check(&config, "3", "qcvn-12-2026-bca", Some(&open));
    assert!(statuses(&q, "HT-02").values().any(|v| v == "fail"));
    let t = check(&config, "3", "tcvn-14423-2026", Some(&open));
    assert!(statuses(&t, "HT-02").is_empty(), "HT-02 is not in force at level 3 of TCVN 14423");
}

#[allow(dead_code)]
fn hosts_dir() -> std::path::PathBuf {
    workspace().join("tests/hosts")
}
