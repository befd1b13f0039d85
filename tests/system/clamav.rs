//! MD-01 and MD-02 against a real clamd with a signature database the test built.

use khien_tests::clamd::Clamd;
use khien_tests::{agent, can_run, result};

fn check(config: &std::path::Path, level: &str) -> serde_json::Value {
    let run = agent(
        &["--config", config.to_str().unwrap(), "check", "--level", level, "--format", "json"],
        None,
    );
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    run.json()
}

fn clamav_facts(config: &std::path::Path) -> serde_json::Value {
    let run = agent(&["--config", config.to_str().unwrap(), "facts"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["antivirus"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "clamav")
        .cloned()
        .expect("ClamAV is reported")
}

fn usable() -> bool {
    can_run(false, &["clamd", "sigtool"])
}

#[test]
fn clamd_running_then_stopped() {
    if !usable() {
        return;
    }
    let mut clamd = Clamd::start(2);
    let cfg = clamd.agent_config();

    let p = clamav_facts(&cfg);
    assert_eq!(p["running"], true, "{p:#}");
    assert_eq!(p["reachable"], true, "{p:#}");
    assert!(p["engine_version"].as_str().unwrap().starts_with(char::is_numeric), "{p:#}");
    assert_eq!(
        p["signature_version"],
        clamd.daily_version.to_string(),
        "the .cld (higher version) wins over the .cvd"
    );
    let t = khien_proto::Timestamp::parse(p["signature_time"].as_str().unwrap()).unwrap();
    assert_eq!(t.unix(), clamd.daily_time);
    assert_eq!(p["details"]["socket"], clamd.socket.display().to_string());

    let c = check(&cfg, "3");
    assert_eq!(result(&c, "MD-01/linux-running")["status"], "pass", "{c:#}");
    assert_eq!(result(&c, "MD-02/linux-fresh")["status"], "pass", "{c:#}");
    // No clamonacc: running, but without real-time protection.
    assert_eq!(result(&c, "MD-01/linux-realtime")["status"], "fail");

    clamd.stop();
    let p = clamav_facts(&cfg);
    assert_eq!(p["running"], false, "{p:#}");
    assert_eq!(p["reachable"], false, "{p:#}");
    let c = check(&cfg, "3");
    let r = result(&c, "MD-01/linux-running");
    assert_eq!(r["status"], "fail", "{c:#}");
    assert_eq!(r["evidence"]["observed"][0]["running"], false);
    assert_eq!(
        result(&c, "MD-02/linux-fresh")["status"],
        "fail",
        "stale or not, signatures of a stopped scanner protect nothing"
    );
}

#[test]
fn signature_age_limit_tightens_with_the_level() {
    if !usable() {
        return;
    }
    let clamd = Clamd::start(5);
    let cfg = clamd.agent_config();
    for (level, expected) in [("2", "pass"), ("3", "pass"), ("4", "fail"), ("5", "fail")] {
        let c = check(&cfg, level);
        let r = result(&c, "MD-02/linux-fresh");
        assert_eq!(r["status"], expected, "level {level}: {r:#}");
        let age = r["evidence"]["observed"][0]["age_days"].as_f64().unwrap();
        assert!((age - 5.0).abs() < 0.01, "{age}");
    }
}

#[test]
fn on_access_scanning_turns_real_time_protection_on() {
    // fanotify needs root.
    if !can_run(true, &["clamd", "clamonacc", "sigtool"]) {
        return;
    }
    let mut clamd = Clamd::start_with(1, true);
    let cfg = clamd.agent_config();
    let p = clamav_facts(&cfg);
    assert_eq!(p["realtime"], true, "{p:#}");
    assert!(p["realtime_paths"][0].as_str().unwrap().ends_with("/watched"), "{p:#}");
    let c = check(&cfg, "3");
    assert_eq!(result(&c, "MD-01/linux-running")["status"], "pass");
    assert_eq!(result(&c, "MD-01/linux-realtime")["status"], "pass", "{c:#}");

    clamd.stop_on_access();
    let c = check(&cfg, "3");
    assert_eq!(result(&c, "MD-01/linux-running")["status"], "pass");
    assert_eq!(result(&c, "MD-01/linux-realtime")["status"], "fail");
}
