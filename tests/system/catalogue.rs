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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HostExpectations {
    run: Vec<HostRun>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HostRun {
    framework: String,
    level: u8,
    expect: BTreeMap<String, String>,
}

/// Copies a recorded host tree, filling in the dates that must be recent whenever the test runs.
fn materialise(from: &Path, to: &Path, today_days: i64, dpkg_line: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            materialise(&entry.path(), &target, today_days, dpkg_line);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let text = text
                .replace("@TODAY@", &(today_days - 10).to_string())
                .replace("@DPKGLOG@", dpkg_line);
            std::fs::write(&target, text).unwrap();
        }
    }
}

#[test]
fn recorded_hosts_give_the_expected_verdicts() {
    let now = khien_proto::Timestamp::now().unix();
    let five_days_ago = time::OffsetDateTime::from_unix_timestamp(now - 5 * 86_400).unwrap();
    // dpkg writes local time; the probe reads /etc/localtime under the root, absent here, so UTC.
    let dpkg_line = format!(
        "{:04}-{:02}-{:02} 03:00:00 upgrade firefox-esr:amd64 128.4.0esr-1~deb12u1 128.5.0esr-1~deb12u1",
        five_days_ago.year(),
        u8::from(five_days_ago.month()),
        five_days_ago.day()
    );
    let mut checked = 0;
    let mut problems = Vec::new();
    for name in ["weak", "hardened"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        materialise(&hosts_dir().join(name), &root, now / 86_400, &dpkg_line);
        let config = write_config(dir.path(), &format!("[probe]\nroot = \"{}\"\n", root.display()));
        let text = std::fs::read_to_string(hosts_dir().join(format!("{name}.toml"))).unwrap();
        let expectations: HostExpectations = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}.toml: {e}"));
        for run in expectations.run {
            let out = agent(
                &[
                    "--config",
                    &config,
                    "check",
                    "--level",
                    &run.level.to_string(),
                    "--framework",
                    &run.framework,
                    "--role",
                    "workstation",
                    "--format",
                    "json",
                    "--lang",
                    "en",
                ],
                None,
            );
            assert!(out.code == 0 || out.code == 1, "exit {}: {}", out.code, out.stderr);
            let c = out.json();
            for (check, want) in &run.expect {
                let got = c["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["check"] == check.as_str())
                    .map(|r| {
                        (
                            r["status"].as_str().unwrap_or_default().to_string(),
                            r["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .unwrap_or_else(|| ("absent".into(), String::new()));
                checked += 1;
                if &got.0 != want {
                    problems.push(format!(
                        "{name} [{} level {}]: {check} is {} ({}), expected {want}",
                        run.framework, run.level, got.0, got.1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 50, "only {checked} verdicts checked");
}

fn hosts_dir() -> std::path::PathBuf {
    workspace().join("tests/hosts")
}
