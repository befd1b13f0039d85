//! Facts → verdicts on the recorded Windows hosts (`tests/hosts/windows/`):
//! each snapshot is decoded as the agent decodes it and evaluated with the
//! shipped catalogue's default framework, as `khien-agent check` does; the
//! verdicts asserted are the ones each host's story implies (README there).
//!
//! The recorded sections were written at two different dates: the protection
//! files (signature times, scans) around 2026-11-22, the hardening files
//! (hotfixes, log-ons) around 2024-11-18. Checks that measure an age in the
//! hardening facts (LH-01, LH-03, TK-05) are therefore evaluated at the
//! hardening date, everything else at the protection date.
//!
//! The per-requirement case files of `policies/tests/` run on a Linux target
//! only, so the Windows checks' pass/fail cases on small fact changes are here
//! too ([`cases_on_small_fact_changes`]).

mod common;

use common::{assert_verdicts, evaluate, framework, workspace};
use khien_agent::probe::windows::{Snapshot, decode};
use khien_policy::Framework;
use khien_policy::model::Rule;
use khien_proto::{Facts, Platform, Status, Timestamp};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

const HOSTS: [&str; 8] = [
    "win10-defender",
    "win11-defender",
    "server2019-defender",
    "server2022-defender",
    "win11-kaspersky",
    "server2022-bkav",
    "win10-av-disabled",
    "win11-stale-signatures",
];

/// When the protection sections were recorded (signature and scan times).
const PROTECTION_NOW: &str = "2026-11-22T08:00:00Z";
/// When the hardening sections were recorded (hotfix and log-on times).
const HARDENING_NOW: &str = "2024-11-18T03:00:00Z";

/// Requirements whose Windows checks measure an age in the hardening facts.
const HARDENING_DATED: [&str; 3] = ["LH-01", "LH-03", "TK-05"];

use Status::{Error, Fail, NotApplicable as Na, Pass};

fn now(at: &str) -> Timestamp {
    Timestamp::parse(at).unwrap()
}

fn snapshot(host: &str) -> Snapshot {
    Snapshot::from_dir(&workspace().join("tests/hosts/windows").join(host)).unwrap_or_else(|e| panic!("{host}: {e}"))
}

/// A host's verdicts at `level`: age checks on hardening facts at the hardening date, the rest at the protection date.
fn verdicts(fw: &Framework, host: &str, level: u8, edit: impl Fn(&mut Facts)) -> BTreeMap<String, (Status, String)> {
    let snap = snapshot(host);
    let mut out = BTreeMap::new();
    for (at, dated) in [(PROTECTION_NOW, false), (HARDENING_NOW, true)] {
        let mut facts = decode(&snap, now(at));
        edit(&mut facts);
        for (check, v) in evaluate(fw, &facts, Platform::Windows, level, now(at)) {
            let req = check.split('/').next().unwrap_or_default();
            if HARDENING_DATED.contains(&req) == dated {
                out.insert(check, v);
            }
        }
    }
    out
}

fn check_host(fw: &Framework, host: &str, level: u8, want: &[(&str, Status)]) {
    assert_verdicts(host, level, &verdicts(fw, host, level, |_| {}), want);
}

#[test]
fn win10_defender_weak_workgroup_pc() {
    let fw = framework();
    check_host(
        &fw,
        "win10-defender",
        3,
        &[
            ("MD-01/windows-realtime", Pass),
            ("MD-02/windows-fresh", Pass),
            ("MD-03/windows-autorun", Fail),
            // Only the user's own screen saver, without a password: no policy locks the session.
            ("CH-01/windows-idle-lock", Fail),
            ("CH-02/windows-firewall", Pass),
            // FTP (21/tcp) and TFTP (69/udp) listening; SMB1 on.
            ("CH-03/windows-services", Fail),
            ("CH-03/windows-smb1", Fail),
            // RDP on without NLA, security layer RDP, on 3389.
            ("CH-04/windows-rdp", Fail),
            ("CH-04/windows-rdp-port", Fail),
            ("TK-01/windows-administrator", Fail),
            ("TK-01/windows-guest", Fail),
            ("TK-01/windows-autologon", Fail),
            ("TK-01/windows-empty-password", Fail),
            ("TK-02/windows-length", Fail),
            ("TK-02/windows-complexity", Fail),
            ("TK-03/windows-max-age", Pass),
            ("TK-03/windows-admin-max-age", Fail),
            ("TK-03/windows-history", Fail),
            ("TK-04/windows-deny", Fail),
            // The enabled Guest has neither a log-on nor a password change time.
            ("TK-05/windows-inactive-accounts", Error),
            ("TK-06/windows-named-admins", Fail),
            ("TK-08/windows-directory", Fail),
            // Newest hotfix from October 2023, 13 months before the hardening date.
            ("LH-01/windows-recent", Fail),
            ("LH-02/windows-wsus", Fail),
            // Windows 10 22H2 was in support until 2025-10-14.
            ("LH-03/windows-os", Pass),
            ("NK-01/windows-audit", Pass),
            ("NK-01/windows-process-creation", Fail),
            ("NK-02/windows-sync", Pass),
            ("NK-02/windows-source", Fail),
            ("TT-01/windows-bitlocker", Fail),
            ("SW-01/windows-inventory", Pass),
            // No Windows check: exploit protection is not read on Windows.
            ("MD-04/windows", Na),
        ],
    );
    // The port rule starts at level 3; the threshold of failed log-ons is 10 at level 1.
    let level1 = verdicts(&fw, "win10-defender", 1, |_| {});
    assert!(!level1.contains_key("CH-04/windows-rdp-port"));
    assert!(!level1.contains_key("NK-01/windows-process-creation"));
    assert_verdicts(
        "win10-defender",
        1,
        &level1,
        &[("CH-04/windows-rdp", Fail), ("TK-01/windows-guest", Fail)],
    );
}

#[test]
fn win11_defender_hardened_domain_member() {
    let fw = framework();
    check_host(
        &fw,
        "win11-defender",
        3,
        &[
            ("MD-01/windows-realtime", Pass),
            ("MD-02/windows-fresh", Pass),
            ("MD-03/windows-autorun", Pass),
            ("CH-01/windows-idle-lock", Pass),
            ("CH-02/windows-firewall", Pass),
            ("CH-03/windows-services", Pass),
            ("CH-03/windows-smb1", Pass),
            // RDP is off: its checks do not apply.
            ("CH-04/windows-rdp", Na),
            ("CH-04/windows-rdp-port", Na),
            ("TK-01/windows-administrator", Pass),
            ("TK-01/windows-guest", Pass),
            ("TK-01/windows-autologon", Pass),
            ("TK-01/windows-empty-password", Pass),
            ("TK-02/windows-length", Pass),
            ("TK-02/windows-complexity", Pass),
            ("TK-03/windows-max-age", Pass),
            ("TK-03/windows-admin-max-age", Pass),
            ("TK-03/windows-history", Pass),
            ("TK-04/windows-deny", Pass),
            // 15 minutes: the catalogue asks for 12 hours to 30 days, or until an administrator unlocks.
            ("TK-04/windows-unlock", Fail),
            ("TK-05/windows-inactive-accounts", Pass),
            ("TK-06/windows-named-admins", Pass),
            ("TK-08/windows-directory", Pass),
            ("LH-01/windows-recent", Pass),
            ("LH-02/windows-wsus", Pass),
            ("LH-03/windows-os", Pass),
            ("NK-01/windows-audit", Pass),
            ("NK-01/windows-process-creation", Pass),
            ("NK-02/windows-sync", Pass),
            ("NK-02/windows-source", Pass),
            ("TT-01/windows-bitlocker", Pass),
            ("SW-01/windows-inventory", Pass),
            // Not a State-secrets machine.
            ("PX-02/windows-usb", Na),
        ],
    );
    // Windows 11 23H2 Enterprise left support on 2026-11-10: at the protection date it fails.
    let snap = snapshot("win11-defender");
    let later = evaluate(&fw, &decode(&snap, now(PROTECTION_NOW)), Platform::Windows, 3, now(PROTECTION_NOW));
    assert_verdicts("win11-defender", 3, &later, &[("LH-03/windows-os", Fail)]);
}

#[test]
fn server2019_defender_without_security_center() {
    check_host(
        &framework(),
        "server2019-defender",
        3,
        &[
            // Defender read from MSFT_MpComputerStatus alone.
            ("MD-01/windows-realtime", Pass),
            ("MD-02/windows-fresh", Pass),
            // 30 minutes: a server must lock within 5.
            ("CH-01/windows-idle-lock", Fail),
            ("CH-02/windows-firewall", Pass),
            // RDP with NLA but security layer "negotiate", on 3390.
            ("CH-04/windows-rdp", Fail),
            ("CH-04/windows-rdp-port", Pass),
            ("TK-01/windows-administrator", Pass),
            ("LH-02/windows-wsus", Pass),
            ("LH-03/windows-os", Pass),
            ("NK-01/windows-process-creation", Pass),
            // No BitLocker feature (its CIM namespace is missing): nothing is protected.
            ("TT-01/windows-bitlocker", Fail),
        ],
    );
}

#[test]
fn server2022_defender_core_member() {
    check_host(
        &framework(),
        "server2022-defender",
        3,
        &[
            ("MD-01/windows-realtime", Pass),
            // The public profile is off, but only the domain network is connected.
            ("CH-02/windows-firewall", Pass),
            // SMB1 payload removed.
            ("CH-03/windows-smb1", Pass),
            // RDP by policy with NLA and TLS, on the default port.
            ("CH-04/windows-rdp", Pass),
            ("CH-04/windows-rdp-port", Fail),
            // Locked until an administrator unlocks.
            ("TK-04/windows-unlock", Pass),
            ("TK-04/windows-deny", Pass),
            ("TT-01/windows-bitlocker", Pass),
            ("LH-01/windows-recent", Pass),
            ("LH-02/windows-wsus", Pass),
        ],
    );
}

#[test]
fn win11_kaspersky_with_defender_passive() {
    let fw = framework();
    check_host(
        &fw,
        "win11-kaspersky",
        3,
        &[
            // Kaspersky, seen through Security Center, protects; Defender is passive.
            ("MD-01/windows-realtime", Pass),
            // Kaspersky reports no signature time: Security Center says they are up to date.
            ("MD-02/windows-fresh", Pass),
            // BitLocker still encrypting, protection not yet on.
            ("TT-01/windows-bitlocker", Fail),
            // A user with PasswordRequired off.
            ("TK-01/windows-empty-password", Fail),
            // W32Time stopped, and time.windows.com configured.
            ("NK-02/windows-sync", Fail),
            ("NK-02/windows-source", Fail),
            ("LH-03/windows-os", Pass),
        ],
    );
    // Defender alone (Kaspersky gone) does not count while it stays passive.
    let got = verdicts(&fw, "win11-kaspersky", 3, |f| f.antivirus.products.retain(|p| p.id == "defender"));
    assert_verdicts("win11-kaspersky without Kaspersky", 3, &got, &[("MD-01/windows-realtime", Fail)]);
}

#[test]
fn server2022_bkav_partial_failures() {
    check_host(
        &framework(),
        "server2022-bkav",
        3,
        &[
            // Bkav is found by its service only: it runs, but whether real-time protection is on and how
            // old its signatures are cannot be read, and there is no Security Center to say it. The
            // checks then give `error` with that reason (`unknown(…)`), not `fail`: nothing shows the
            // protection off, and `pass` would take a running service for protection.
            ("MD-01/windows-realtime", Error),
            ("MD-02/windows-fresh", Error),
            // Group Policy turns the domain profile off while the domain network is connected.
            ("CH-02/windows-firewall", Fail),
            // Telnet listening; the SMB server setting could not be read and the SMB1 feature is installed.
            ("CH-03/windows-services", Fail),
            ("CH-03/windows-smb1", Error),
            // RDP on 13389 without NLA.
            ("CH-04/windows-rdp", Fail),
            ("CH-04/windows-rdp-port", Pass),
            // An unresolvable domain SID and "Administrator" among the administrators.
            ("TK-06/windows-named-admins", Fail),
            // auditpol, BitLocker, Get-HotFix and W32Time failed: error, with the probe's message.
            ("NK-01/windows-audit", Error),
            ("TT-01/windows-bitlocker", Error),
            ("LH-01/windows-recent", Error),
            ("NK-02/windows-sync", Error),
            ("LH-02/windows-wsus", Fail),
        ],
    );
    let got = verdicts(&framework(), "server2022-bkav", 3, |_| {});
    assert!(
        got["MD-01/windows-realtime"].1.contains("real-time"),
        "{:?}",
        got["MD-01/windows-realtime"]
    );
    assert!(
        got["NK-01/windows-audit"].1.contains("auditpol"),
        "{:?}",
        got["NK-01/windows-audit"]
    );
}

#[test]
fn win10_av_disabled() {
    check_host(
        &framework(),
        "win10-av-disabled",
        3,
        &[
            ("MD-01/windows-realtime", Fail),
            // The private profile is off on a private network.
            ("CH-02/windows-firewall", Fail),
            // NoDriveTypeAutoRun written as the text 0xff.
            ("MD-03/windows-autorun", Pass),
            // 20-minute screen saver by policy: more than 15.
            ("CH-01/windows-idle-lock", Fail),
            // Renamed but enabled Administrator; auto-logon without a stored password.
            ("TK-01/windows-administrator", Pass),
            ("TK-01/windows-autologon", Fail),
            ("TK-03/windows-max-age", Fail),
            ("TK-06/windows-named-admins", Fail),
            ("NK-01/windows-audit", Fail),
            ("NK-02/windows-sync", Fail),
            // Windows 10 21H2 Pro left support on 2023-06-13.
            ("LH-03/windows-os", Fail),
            ("LH-01/windows-recent", Fail),
        ],
    );
}

#[test]
fn win11_stale_signatures() {
    let fw = framework();
    check_host(
        &fw,
        "win11-stale-signatures",
        3,
        &[
            ("MD-01/windows-realtime", Pass),
            // 12 days old: the limit is 7 days at level 3.
            ("MD-02/windows-fresh", Fail),
            // WSUS configured but UseWUServer 0.
            ("LH-02/windows-wsus", Fail),
            // BitLocker suspended.
            ("TT-01/windows-bitlocker", Fail),
            ("LH-01/windows-recent", Fail),
            ("LH-03/windows-os", Pass),
        ],
    );
    // 15 days at level 1.
    check_host(&fw, "win11-stale-signatures", 1, &[("MD-02/windows-fresh", Pass)]);
}

#[test]
fn state_secrets_machines_have_usb_storage_checked() {
    let fw = framework();
    let secret = |f: &mut Facts| f.host.state_secrets = true;
    assert_verdicts(
        "win11-defender",
        1,
        &verdicts(&fw, "win11-defender", 1, secret),
        &[("PX-02/windows-usb", Pass)],
    );
    assert_verdicts(
        "win10-defender",
        1,
        &verdicts(&fw, "win10-defender", 1, secret),
        &[("PX-02/windows-usb", Fail)],
    );
}

#[test]
fn every_windows_requirement_is_decided_on_some_host() {
    let fw = framework();
    let claiming: BTreeSet<&str> = fw
        .requirements
        .iter()
        .filter(|r| r.platforms.contains(&Platform::Windows))
        .filter(|r| {
            r.checks
                .iter()
                .any(|c| matches!(c.rule, Rule::Expr { .. }) && c.runs_on(Platform::Windows))
        })
        .map(|r| r.id.as_str())
        .collect();
    let mut decided = BTreeSet::new();
    let secret = |f: &mut Facts| f.host.state_secrets = true;
    for host in HOSTS {
        for level in fw.levels.clone() {
            for (check, (status, _)) in verdicts(&fw, host, level, secret) {
                if matches!(status, Pass | Fail | Error) && check.split('/').nth(1).is_some_and(|c| c.starts_with("windows-")) {
                    decided.insert(check.split('/').next().unwrap_or_default().to_string());
                }
            }
        }
    }
    let missing: Vec<&&str> = claiming.iter().filter(|id| !decided.contains(**id)).collect();
    assert!(
        missing.is_empty(),
        "requirements claiming windows without a Windows verdict on any host: {missing:?}"
    );
    assert!(claiming.len() >= 20, "{claiming:?}");
}

/// Sets `value` at a dotted path of the facts' JSON; numeric segments index lists.
fn set(facts: &Facts, edits: &[(&str, Json)]) -> Facts {
    let mut json = serde_json::to_value(facts).unwrap();
    for (path, value) in edits {
        let mut cur = &mut json;
        let segs: Vec<&str> = path.split('.').collect();
        for seg in &segs[..segs.len() - 1] {
            cur = match seg.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[*seg],
            };
        }
        let last = segs[segs.len() - 1];
        match last.parse::<usize>() {
            Ok(i) => cur[i] = value.clone(),
            Err(_) => cur[last] = value.clone(),
        }
    }
    serde_json::from_value(json).unwrap_or_else(|e| panic!("{edits:?}: {e}"))
}

/// One Windows check on a recorded host changed in a few facts: (name, host, edits, check, [(level, status)]).
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, Json)>,
    &'static str,
    Vec<(u8, Option<Status>)>,
);

#[test]
fn cases_on_small_fact_changes() {
    use serde_json::json;
    let fw = framework();
    let p = |s| Some(s);
    let cases: Vec<Case> = vec![
        (
            "Defender in passive mode",
            "win11-defender",
            vec![("antivirus.products.0.mode", json!("passive"))],
            "MD-01/windows-realtime",
            vec![(1, p(Fail))],
        ),
        (
            "real-time off",
            "win11-defender",
            vec![("antivirus.products.0.realtime", json!(false))],
            "MD-01/windows-realtime",
            vec![(1, p(Fail))],
        ),
        (
            "real-time unknown",
            "win11-defender",
            vec![("antivirus.products.0.realtime", json!(null))],
            "MD-01/windows-realtime",
            vec![(1, p(Error))],
        ),
        (
            "signatures 10 days old",
            "win11-defender",
            vec![("antivirus.products.0.signature_time", json!("2026-11-12T08:00:00Z"))],
            "MD-02/windows-fresh",
            vec![(2, p(Pass)), (3, p(Fail))],
        ),
        (
            "Security Center: third-party signatures out of date",
            "win11-kaspersky",
            vec![("windows.protection.security_center.1.signatures_up_to_date", json!(false))],
            "MD-02/windows-fresh",
            vec![(1, p(Fail))],
        ),
        (
            "AutoRun left at the default 0x91",
            "win11-defender",
            vec![(
                "windows.hardening.autorun",
                json!({"no_drive_type_autorun": 145, "all_drives_disabled": false}),
            )],
            "MD-03/windows-autorun",
            vec![(1, p(Fail))],
        ),
        (
            "inactivity limit 20 minutes, no screen-saver policy",
            "win11-defender",
            vec![(
                "windows.hardening.idle_lock",
                json!({"inactivity_timeout_seconds": 1200, "screen_savers": []}),
            )],
            "CH-01/windows-idle-lock",
            vec![(1, p(Fail))],
        ),
        (
            "screen-saver policy of 5 minutes on a server",
            "server2019-defender",
            vec![(
                "windows.hardening.idle_lock",
                json!({"inactivity_timeout_seconds": null, "screen_savers": [{"scope": "machine-policy", "active": true, "secure": true, "timeout_seconds": 300}]}),
            )],
            "CH-01/windows-idle-lock",
            vec![(1, p(Pass))],
        ),
        (
            "the user's own screen saver does not count",
            "server2019-defender",
            vec![(
                "windows.hardening.idle_lock",
                json!({"inactivity_timeout_seconds": null, "screen_savers": [{"scope": "user:S-1-5-21-1-2-3-1001", "active": true, "secure": true, "timeout_seconds": 300}]}),
            )],
            "CH-01/windows-idle-lock",
            vec![(1, p(Fail))],
        ),
        (
            "firewall profile in use off",
            "win11-defender",
            vec![("firewall.enabled", json!(false))],
            "CH-02/windows-firewall",
            vec![(1, p(Fail))],
        ),
        (
            "SMB1 accepted",
            "win11-defender",
            vec![("windows.hardening.smb1.enabled", json!(true))],
            "CH-03/windows-smb1",
            vec![(1, None), (2, p(Fail))],
        ),
        (
            "RDP on with NLA and TLS on port 3390",
            "win11-defender",
            vec![(
                "windows.hardening.rdp",
                json!({"enabled": true, "nla": true, "security_layer": 2, "port": 3390, "policy_values": []}),
            )],
            "CH-04/windows-rdp",
            vec![(1, p(Pass)), (3, p(Pass))],
        ),
        (
            "RDP on 3389: fails from level 3",
            "win11-defender",
            vec![(
                "windows.hardening.rdp",
                json!({"enabled": true, "nla": true, "security_layer": 2, "port": 3389, "policy_values": []}),
            )],
            "CH-04/windows-rdp-port",
            vec![(1, None), (3, p(Fail))],
        ),
        (
            "Guest enabled",
            "win11-defender",
            vec![("windows.hardening.guest.enabled", json!(true))],
            "TK-01/windows-guest",
            vec![(1, p(Fail))],
        ),
        (
            "Administrator enabled under its own name",
            "win11-defender",
            vec![
                ("windows.hardening.administrator.enabled", json!(true)),
                ("windows.hardening.administrator.renamed", json!(false)),
            ],
            "TK-01/windows-administrator",
            vec![(1, p(Fail))],
        ),
        (
            "minimum length 12",
            "win11-defender",
            vec![("password_policy.min_length", json!(12))],
            "TK-02/windows-length",
            vec![(1, p(Fail))],
        ),
        (
            "complexity off",
            "win11-defender",
            vec![("password_policy.quality_module", json!(null))],
            "TK-02/windows-complexity",
            vec![(1, p(Fail))],
        ),
        (
            "passwords never expire (0)",
            "win11-defender",
            vec![("password_policy.max_days", json!(0))],
            "TK-03/windows-max-age",
            vec![(1, p(Fail))],
        ),
        (
            "history of 5",
            "win11-defender",
            vec![("password_policy.history", json!(5))],
            "TK-03/windows-history",
            vec![(1, None), (3, p(Fail))],
        ),
        (
            "lockout after 8 failures",
            "win11-defender",
            vec![("lockout.deny", json!(8))],
            "TK-04/windows-deny",
            vec![(1, p(Pass)), (3, p(Fail))],
        ),
        (
            "lockout for 12 hours",
            "win11-defender",
            vec![("lockout.unlock_time_seconds", json!(43200))],
            "TK-04/windows-unlock",
            vec![(1, p(Pass))],
        ),
        (
            "a generic admin name in another letter case",
            "win11-defender",
            vec![("accounts.admins", json!(["ADMIN"]))],
            "TK-06/windows-named-admins",
            vec![(1, p(Fail))],
        ),
        (
            "not joined",
            "win11-defender",
            vec![("directory.joined", json!(false))],
            "TK-08/windows-directory",
            vec![(3, p(Fail))],
        ),
        (
            "WSUS not used",
            "win11-defender",
            vec![("windows.hardening.update_source.use_wsus", json!(false))],
            "LH-02/windows-wsus",
            vec![(1, None), (3, p(Fail))],
        ),
        (
            "Server 2022 in support until 2031",
            "server2022-defender",
            vec![],
            "LH-03/windows-os",
            vec![(1, p(Pass))],
        ),
        (
            "an edition missing from the support table",
            "server2022-defender",
            vec![("windows.hardening.os.edition_id", json!("EnterpriseS"))],
            "LH-03/windows-os",
            vec![(1, p(Fail))],
        ),
        (
            "logon events not audited",
            "win11-defender",
            vec![("windows.hardening.audit_policy.Logon", json!("No Auditing"))],
            "NK-01/windows-audit",
            vec![(1, p(Fail))],
        ),
        (
            "process creation not audited",
            "win11-defender",
            vec![("windows.hardening.audit_policy.Process Creation", json!("No Auditing"))],
            "NK-01/windows-process-creation",
            vec![(2, None), (3, p(Fail))],
        ),
        (
            "a public time server",
            "win11-defender",
            vec![("time_sync.servers", json!(["time.windows.com"]))],
            "NK-02/windows-source",
            vec![(1, p(Fail))],
        ),
        (
            "D: not protected",
            "win11-defender",
            vec![("disk_encryption.all_encrypted", json!(false))],
            "TT-01/windows-bitlocker",
            vec![(1, None), (2, p(Fail))],
        ),
        (
            "inventory empty",
            "win11-defender",
            vec![("packages.count", json!(0))],
            "SW-01/windows-inventory",
            vec![(1, p(Fail))],
        ),
    ];
    let at = now(PROTECTION_NOW);
    let mut problems = Vec::new();
    for (name, host, edits, check, expect) in cases {
        let facts = set(&decode(&snapshot(host), at), &edits);
        for (level, want) in expect {
            let got = evaluate(&fw, &facts, Platform::Windows, level, at).get(check).map(|(s, _)| *s);
            if got != want {
                problems.push(format!("{name} ({host}, level {level}): {check} is {got:?}, expected {want:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
