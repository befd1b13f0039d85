//! CH-02 against real nftables rulesets, the agent running inside the namespace.

use khien_tests::netns::Netns;
use khien_tests::{agent, can_run, result};

fn ruleset(policy: &str) -> String {
    format!(
        "table inet filter {{\n  chain input {{\n    type filter hook input priority 0; policy {policy};\n    ct state established,related accept\n    iif lo accept\n    tcp dport 22 accept\n  }}\n}}\n"
    )
}

fn check_in(ns: &Netns) -> serde_json::Value {
    let run = agent(&["check", "--level", "3", "--format", "json"], Some(ns));
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    run.json()
}

#[test]
fn nftables_input_drop_passes_accept_fails() {
    if !can_run(true, &["ip", "nft"]) {
        return;
    }
    let drop = Netns::new("fwdrop");
    drop.nft(&ruleset("drop"));
    let c = check_in(&drop);
    let r = result(&c, "CH-02/linux");
    assert_eq!(r["status"], "pass", "{r:#}");
    assert_eq!(r["evidence"]["observed"]["inbound_default_deny"], true);

    let accept = Netns::new("fwaccept");
    accept.nft(&ruleset("accept"));
    let c = check_in(&accept);
    let r = result(&c, "CH-02/linux");
    assert_eq!(r["status"], "fail", "{r:#}");
    assert_eq!(r["evidence"]["observed"]["enabled"], true);
    assert_eq!(r["evidence"]["observed"]["inbound_default_deny"], false);
}

#[test]
fn no_ruleset_at_all_fails_ch02() {
    if !can_run(true, &["ip", "nft"]) {
        return;
    }
    let empty = Netns::new("fwnone");
    let run = agent(&["facts"], Some(&empty));
    let f = run.json();
    assert_eq!(f["firewall"]["enabled"], false, "{:#}", f["firewall"]);
    let c = check_in(&empty);
    assert_eq!(result(&c, "CH-02/linux")["status"], "fail");
}

#[test]
fn an_ipv4_only_drop_leaves_ipv6_open() {
    if !can_run(true, &["ip", "nft"]) {
        return;
    }
    let ns = Netns::new("fwv4");
    ns.nft("table ip filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n");
    // The namespace has IPv6 on loopback, so inbound IPv6 is still allowed.
    let c = check_in(&ns);
    assert_eq!(result(&c, "CH-02/linux")["status"], "fail");
    ns.nft("table ip6 filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n");
    let c = check_in(&ns);
    assert_eq!(result(&c, "CH-02/linux")["status"], "pass");
}

#[test]
fn exit_code_is_0_when_every_required_check_passes() {
    if !can_run(true, &["ip", "nft"]) {
        return;
    }
    // A catalogue with one automated requirement, so the outcome depends on the firewall alone.
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("only-fw");
    std::fs::create_dir(&fw).unwrap();
    std::fs::write(
        fw.join("framework.toml"),
        "id = \"only-fw\"\nstatus = \"current\"\ntitle.vi = \"Tường lửa\"\ntitle.en = \"Firewall\"\n",
    )
    .unwrap();
    let ch02 = std::fs::read_to_string(khien_tests::workspace().join("policies/tcvn-14423-2026/20-ch.toml")).unwrap();
    let only = ch02.split("[[requirement]]").find(|r| r.contains("id = \"CH-02\"")).unwrap();
    // Its manual checks would not change the exit code; keep the automated one.
    let automated: Vec<&str> = only.split("[[requirement.check]]").filter(|c| !c.contains("manual.vi")).collect();
    std::fs::write(
        fw.join("ch.toml"),
        format!("[[requirement]]{}", automated.join("[[requirement.check]]")),
    )
    .unwrap();
    let policies = dir.path().to_str().unwrap();

    let ns = Netns::new("fwexit");
    ns.nft(&ruleset("drop"));
    let run = agent(&["check", "--level", "1", "--policies", policies], Some(&ns));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    ns.nft("flush ruleset\n");
    ns.nft(&ruleset("accept"));
    let run = agent(&["check", "--level", "1", "--policies", policies], Some(&ns));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}
