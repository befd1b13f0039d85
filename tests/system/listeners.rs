//! CH-03 with real listeners on forbidden ports inside a namespace.

use khien_tests::netns::Netns;
use khien_tests::{agent, can_run, result};

fn check(ns: &Netns, level: &str) -> serde_json::Value {
    let run = agent(&["check", "--level", level, "--format", "json"], Some(ns));
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    run.json()
}

#[test]
fn a_telnet_port_fails_ch03_and_the_evidence_names_it() {
    if !can_run(true, &["ip", "python3"]) {
        return;
    }
    let ns = Netns::new("telnet");
    let c = check(&ns, "2");
    assert_eq!(result(&c, "CH-03/linux")["status"], "pass", "a clean namespace passes");

    let _telnet = ns.listen("tcp", 23);
    let c = check(&ns, "2");
    let r = result(&c, "CH-03/linux");
    assert_eq!(r["status"], "fail", "{r:#}");
    let seen = &r["evidence"]["observed"][0];
    assert_eq!(seen["port"], 23, "{r:#}");
    assert_eq!(seen["protocol"], "tcp");
    assert_eq!(seen["process"], "python3");
    assert!(seen["pid"].as_u64().unwrap() > 0);

    // CH-03 starts at level 2.
    let c = check(&ns, "1");
    assert!(c["results"].as_array().unwrap().iter().all(|r| r["requirement"] != "CH-03"));
}

#[test]
fn a_tftp_port_fails_ch03() {
    if !can_run(true, &["ip", "python3"]) {
        return;
    }
    let ns = Netns::new("tftp");
    let _tftp = ns.listen("udp", 69);
    let c = check(&ns, "3");
    let r = result(&c, "CH-03/linux");
    assert_eq!(r["status"], "fail", "{r:#}");
    assert_eq!(r["evidence"]["observed"][0]["port"], 69);
    assert_eq!(r["evidence"]["observed"][0]["protocol"], "udp");
}

#[test]
fn an_allowed_port_passes_ch03() {
    if !can_run(true, &["ip", "python3"]) {
        return;
    }
    let ns = Netns::new("https");
    let _https = ns.listen("tcp", 443);
    let c = check(&ns, "3");
    assert_eq!(result(&c, "CH-03/linux")["status"], "pass");
}
