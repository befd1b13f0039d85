//! Facts → verdicts on the recorded macOS hosts (`tests/hosts/macos/`): each
//! folder is decoded as the agent decodes it and evaluated at level 3 with the
//! shipped catalogue's default framework, as `khien-agent check` does; the
//! verdicts asserted are the ones each host's story implies (README there).
//!
//! The hosts were written for different dates (their XProtect install times),
//! so each is evaluated at its own fixed time, a few days after its newest
//! XProtect update ([`HOSTS`]).

mod common;

use common::{assert_verdicts, evaluate, framework, workspace};
use khien_agent::probe::macos::{decode, recorded};
use khien_policy::Framework;
use khien_policy::model::Rule;
use khien_proto::{Facts, Platform, Status, Timestamp};
use std::collections::{BTreeMap, BTreeSet};

use Status::{Error, Fail, NotApplicable as Na, Pass};

/// Each host and the time it is evaluated at.
const HOSTS: [(&str, &str); 3] = [
    // XProtect 2192 installed on 2024-04-02.
    ("sonoma-hardened", "2024-04-05T08:00:00Z"),
    // XProtect 2166 from 2023-05-09, eleven months old at that date.
    ("ventura-weak", "2024-04-05T08:00:00Z"),
    // XProtect 5287 in use, absent from the install history.
    ("sequoia-custom", "2025-03-01T12:00:00Z"),
];

fn at(host: &str) -> Timestamp {
    let (_, at) = HOSTS
        .iter()
        .find(|(h, _)| *h == host)
        .unwrap_or_else(|| panic!("{host}: not in HOSTS"));
    Timestamp::parse(at).unwrap()
}

fn facts(host: &str) -> Facts {
    let dir = workspace().join("tests/hosts/macos").join(host);
    assert!(dir.is_dir(), "{}: missing", dir.display());
    decode(&recorded(&dir), at(host))
}

fn verdicts(fw: &Framework, host: &str, level: u8, edit: impl Fn(&mut Facts)) -> BTreeMap<String, (Status, String)> {
    let mut f = facts(host);
    edit(&mut f);
    evaluate(fw, &f, Platform::Macos, level, at(host))
}

fn check_host(fw: &Framework, host: &str, level: u8, want: &[(&str, Status)]) {
    assert_verdicts(host, level, &verdicts(fw, host, level, |_| {}), want);
}

#[test]
fn sonoma_hardened_passes_the_four() {
    check_host(
        &framework(),
        "sonoma-hardened",
        3,
        &[
            ("MD-01/macos-protection", Pass),
            // Three days old; the limit is 7 at level 3.
            ("MD-02/macos-fresh", Pass),
            ("CH-02/macos-firewall", Pass),
            ("TT-01/macos-filevault", Pass),
            // Exploit protection is not read on macOS: no macOS check.
            ("MD-04/macos", Na),
        ],
    );
}

#[test]
fn sonoma_hardened_signatures_age_out() {
    let fw = framework();
    let f = facts("sonoma-hardened");
    // Ten days after the update: enough at level 2 (15 days), too old at level 3 (7 days).
    let later = Timestamp::parse("2024-04-12T10:00:00Z").unwrap();
    assert_verdicts(
        "sonoma-hardened",
        2,
        &evaluate(&fw, &f, Platform::Macos, 2, later),
        &[("MD-02/macos-fresh", Pass)],
    );
    assert_verdicts(
        "sonoma-hardened",
        3,
        &evaluate(&fw, &f, Platform::Macos, 3, later),
        &[("MD-02/macos-fresh", Fail)],
    );
}

#[test]
fn ventura_weak_fails_the_four() {
    check_host(
        &framework(),
        "ventura-weak",
        3,
        &[
            // Gatekeeper off: XProtect alone does not count.
            ("MD-01/macos-protection", Fail),
            ("MD-02/macos-fresh", Fail),
            ("CH-02/macos-firewall", Fail),
            ("TT-01/macos-filevault", Fail),
        ],
    );
}

#[test]
fn sequoia_custom() {
    let fw = framework();
    let got = verdicts(&fw, "sequoia-custom", 3, |_| {});
    assert_verdicts(
        "sequoia-custom",
        3,
        &got,
        &[
            ("MD-01/macos-protection", Pass),
            // The XProtect in use (5287) is not in the install history: its age cannot be known.
            ("MD-02/macos-fresh", Error),
            // Block all set by "Firewall has block all state set to enabled."
            ("CH-02/macos-firewall", Pass),
            // FileVault still encrypting.
            ("TT-01/macos-filevault", Fail),
        ],
    );
    assert!(
        got["MD-02/macos-fresh"].1.contains("install history"),
        "{:?}",
        got["MD-02/macos-fresh"]
    );
}

#[test]
fn small_fact_changes() {
    let fw = framework();
    // A third-party product with real-time protection passes MD-01 even with Gatekeeper off.
    let third_party = |f: &mut Facts| {
        let mut p = f.antivirus.products[0].clone();
        p.id = "sentinelone".into();
        p.name = "SentinelOne".into();
        p.realtime = Some(true);
        f.antivirus.products.push(p);
    };
    assert_verdicts(
        "ventura-weak + third-party",
        3,
        &verdicts(&fw, "ventura-weak", 3, third_party),
        &[("MD-01/macos-protection", Pass)],
    );
    // Firewall on without block all: signed apps still accept connections.
    let no_block_all = |f: &mut Facts| {
        f.firewall.inbound_default_deny = false;
        if let Some(m) = f.macos.as_mut() {
            m.firewall.block_all = Some(false);
        }
    };
    assert_verdicts(
        "sonoma-hardened without block all",
        3,
        &verdicts(&fw, "sonoma-hardened", 3, no_block_all),
        &[("CH-02/macos-firewall", Fail)],
    );
    // TT-01 starts at level 2 in the default framework.
    assert!(!verdicts(&fw, "ventura-weak", 1, |_| {}).contains_key("TT-01/macos-filevault"));
}

#[test]
fn every_macos_requirement_is_decided_on_some_host() {
    let fw = framework();
    let claiming: BTreeSet<&str> = fw
        .requirements
        .iter()
        .filter(|r| r.platforms.contains(&Platform::Macos))
        .filter(|r| {
            r.checks
                .iter()
                .any(|c| matches!(c.rule, Rule::Expr { .. }) && c.runs_on(Platform::Macos))
        })
        .map(|r| r.id.as_str())
        .collect();
    let mut decided = BTreeSet::new();
    for (host, _) in HOSTS {
        for level in fw.levels.clone() {
            for (check, (status, _)) in verdicts(&fw, host, level, |_| {}) {
                if matches!(status, Pass | Fail | Error) && check.split('/').nth(1).is_some_and(|c| c.starts_with("macos-")) {
                    decided.insert(check.split('/').next().unwrap_or_default().to_string());
                }
            }
        }
    }
    let missing: Vec<&&str> = claiming.iter().filter(|id| !decided.contains(**id)).collect();
    assert!(
        missing.is_empty(),
        "requirements claiming macos without a macOS verdict on any host: {missing:?}"
    );
    assert!(claiming.len() >= 4, "{claiming:?}");
}
