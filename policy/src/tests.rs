//! Evaluator and loader tests: the shipped catalogue on hand-built facts,
//! broken catalogues giving clear errors, and properties over random facts.

use crate::model::Lang;
use crate::{Catalogue, FactsView, Framework, Target};
use khien_proto::facts::{AvProduct, Firewall, Listener, Protocol};
use khien_proto::{CheckResult, Evaluation, Facts, Platform, Role, Status, Timestamp};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

fn tcvn() -> Framework {
    let cat = Catalogue::open(&shipped()).unwrap_or_else(|e| panic!("{e}"));
    cat.load("tcvn-14423-2026").unwrap_or_else(|e| panic!("{e}"))
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-22T12:00:00Z").unwrap()
}

fn target(level: u8) -> Target {
    Target {
        level,
        role: Role::Workstation,
        platform: Platform::Linux,
        lang: Lang::En,
        now: now(),
        evidence: true,
    }
}

fn clamav(running: bool, realtime: bool, age_days: i64) -> AvProduct {
    AvProduct {
        id: "clamav".into(),
        name: "ClamAV".into(),
        installed: true,
        running,
        reachable: Some(running),
        realtime: Some(realtime),
        signature_version: Some("27830".into()),
        signature_time: Timestamp::from_unix(now().unix() - age_days * 86_400),
        auto_update: Some(true),
        ..AvProduct::default()
    }
}

fn good_facts() -> Facts {
    let mut f = Facts::default();
    f.host.machine_id = Some("abc".into());
    f.network.interfaces.push(khien_proto::facts::Interface {
        name: "eth0".into(),
        mac: Some("52:54:00:12:34:56".into()),
        up: true,
        kind: "ethernet".into(),
        ..Default::default()
    });
    f.antivirus.products.push(clamav(true, true, 1));
    f.firewall = Firewall {
        enabled: true,
        inbound_default_deny: true,
        backends: Vec::new(),
    };
    f.network.dns.resolvers = vec!["10.0.0.53".into()];
    f
}

fn eval(fw: &Framework, facts: &Facts, level: u8) -> Evaluation {
    fw.evaluate(&FactsView::new(facts), &target(level))
}

fn result<'a>(e: &'a Evaluation, check: &str) -> &'a CheckResult {
    e.results
        .iter()
        .find(|r| r.check == check)
        .unwrap_or_else(|| panic!("no result for {check}: {:#?}", e.results))
}

#[test]
fn shipped_catalogue_loads_with_a_default_framework() {
    let cat = Catalogue::open(&shipped()).unwrap();
    assert_eq!(cat.default_framework().unwrap().id, "tcvn-14423-2026");
    assert_eq!(cat.digest().len(), 64);
    let fw = tcvn();
    let checks: usize = fw.requirements.iter().map(|r| r.checks.len()).sum();
    assert!(checks >= 10, "at least 10 checks, found {checks}");
}

// That a compliant machine passes everything is tested on the full baseline, policy/tests/catalogue.rs.

#[test]
fn signature_age_limits_tighten_with_the_level() {
    let fw = tcvn();
    let mut f = good_facts();
    f.antivirus.products = vec![clamav(true, true, 5)];
    for (level, expected) in [
        (1, Status::Pass),
        (2, Status::Pass),
        (3, Status::Pass),
        (4, Status::Fail),
        (5, Status::Fail),
    ] {
        let e = eval(&fw, &f, level);
        let r = result(&e, "MD-02/linux-fresh");
        assert_eq!(r.status, expected, "level {level}: {r:#?}");
        assert!(r.evidence.expected.contains(if level <= 2 {
            "15"
        } else if level == 3 {
            "7"
        } else {
            "3"
        }));
        let age = r.evidence.observed[0]["age_days"].as_f64().unwrap();
        assert!((age - 5.0).abs() < 1e-6, "{age}");
    }
}

#[test]
fn stopped_scanner_fails_md01() {
    let mut f = good_facts();
    f.antivirus.products = vec![clamav(false, false, 1)];
    let e = eval(&tcvn(), &f, 1);
    assert_eq!(result(&e, "MD-01/linux-running").status, Status::Fail);
    assert_eq!(result(&e, "MD-01/linux-realtime").status, Status::Fail);
    assert_eq!(result(&e, "MD-02/linux-fresh").status, Status::Fail);
    assert!(!e.compliant());
    let obs = &result(&e, "MD-01/linux-running").evidence.observed;
    assert_eq!(obs[0]["running"], serde_json::json!(false));
}

#[test]
fn no_antivirus_at_all_fails_rather_than_errors() {
    let mut f = good_facts();
    f.antivirus.products.clear();
    let e = eval(&tcvn(), &f, 1);
    assert_eq!(result(&e, "MD-01/linux-running").status, Status::Fail);
}

#[test]
fn firewall_verdict_and_probe_failures() {
    let fw = tcvn();
    let mut f = good_facts();
    f.firewall.inbound_default_deny = false;
    let e = eval(&fw, &f, 1);
    let r = result(&e, "CH-02/linux");
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.evidence.observed["inbound_default_deny"], serde_json::json!(false));

    // Same facts, but the firewall probe failed: the verdict cannot be trusted.
    f.error("firewall", "nftables: nft -j list ruleset: Operation not permitted");
    let e = eval(&fw, &f, 1);
    let r = result(&e, "CH-02/linux");
    assert_eq!(r.status, Status::Error);
    assert!(r.message.as_deref().unwrap().contains("Operation not permitted"), "{r:#?}");

    // A failure elsewhere does not taint the firewall verdict.
    let mut f = good_facts();
    f.error("network.dns", "cannot read /etc/resolv.conf");
    assert_eq!(result(&eval(&fw, &f, 1), "CH-02/linux").status, Status::Pass);

    // Positive evidence stands even when a related probe had trouble.
    let mut f = good_facts();
    f.error("firewall", "iptables-legacy: timed out");
    assert_eq!(result(&eval(&fw, &f, 1), "CH-02/linux").status, Status::Pass);
}

#[test]
fn insecure_services_apply_from_level_2_and_name_the_port() {
    let fw = tcvn();
    let mut f = good_facts();
    f.network.listening.push(Listener {
        protocol: Protocol::Tcp,
        address: "0.0.0.0".into(),
        port: 23,
        pid: Some(4242),
        process: Some("python3".into()),
        ..Listener::default()
    });
    let e1 = eval(&fw, &f, 1);
    assert!(e1.results.iter().all(|r| r.requirement != "CH-03"));
    let e2 = eval(&fw, &f, 2);
    let r = result(&e2, "CH-03/linux");
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.evidence.observed[0]["port"], serde_json::json!(23));
    assert_eq!(r.evidence.observed[0]["process"], serde_json::json!("python3"));
    assert!(r.evidence.expected.contains("21, 23, 512, 513, 514"), "{}", r.evidence.expected);
}

#[test]
fn unknown_facts_give_error_with_a_reason() {
    let mut f = good_facts();
    f.host.machine_id = None;
    // Removing the interfaces list entirely (older agent) makes the path missing.
    let mut json = serde_json::to_value(&f).unwrap();
    json["network"].as_object_mut().unwrap().remove("interfaces");
    let view = FactsView::from_json(json, Vec::new());
    let e = tcvn().evaluate(&view, &target(1));
    let r = result(&e, "HW-01/linux-inventory");
    // machine_id is null, so the && short-circuits to false: a plain fail.
    assert_eq!(r.status, Status::Fail);
    let mut f = good_facts();
    f.host.machine_id = Some("x".into());
    let mut json = serde_json::to_value(&f).unwrap();
    json["network"].as_object_mut().unwrap().remove("interfaces");
    let e = tcvn().evaluate(&FactsView::from_json(json, Vec::new()), &target(1));
    let r = result(&e, "HW-01/linux-inventory");
    assert_eq!(r.status, Status::Error);
    assert!(r.message.as_deref().unwrap().contains("interfaces"), "{r:#?}");
}

#[test]
fn manual_items_name_their_evidence_with_level_values() {
    let e = eval(&tcvn(), &good_facts(), 5);
    let r = result(&e, "QL-02/attestation");
    assert_eq!(r.status, Status::Manual);
    assert!(r.evidence.expected.contains("6 months"), "{}", r.evidence.expected);
    let e = tcvn().evaluate(
        &FactsView::new(&good_facts()),
        &Target {
            lang: Lang::Vi,
            ..target(3)
        },
    );
    assert!(result(&e, "QL-02/attestation").evidence.expected.contains("12 tháng"));
}

#[test]
fn other_platforms_are_not_applicable_but_listed() {
    let mut t = target(1);
    // macOS claims only MD-01, MD-02, CH-02 and TT-01 so far; the idle lock (CH-01) is not read there.
    t.platform = Platform::Macos;
    let e = tcvn().evaluate(&FactsView::new(&good_facts()), &t);
    let r = result(&e, "CH-01/macos");
    assert_eq!(r.status, Status::NotApplicable);
    assert_eq!(result(&e, "QL-01/attestation").status, Status::Manual);
}

#[test]
fn both_cel_parsers_agree_on_every_catalogue_expression() {
    use crate::model::Rule;
    let cat = Catalogue::open(&shipped()).unwrap();
    let mut seen = 0;
    for id in cat.frameworks.keys() {
        let fw = cat.load(id).unwrap();
        for check in fw.requirements.iter().flat_map(|r| &r.checks) {
            let mut exprs: Vec<&crate::expr::Compiled> = check.applies.iter().collect();
            if let Rule::Expr { expr, observed, .. } = &check.rule {
                exprs.push(expr);
                exprs.extend(observed);
            }
            for e in exprs {
                let reference = cel::Program::compile(&e.source).unwrap_or_else(|err| panic!("{}: {err}", e.source));
                // Node ids are numbered differently; the trees must match otherwise.
                assert_eq!(
                    without_ids(&format!("{:?}", reference.expression())),
                    without_ids(&format!("{:?}", e.tree())),
                    "{}: {}",
                    check.id,
                    e.source
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "{seen}");
}

fn without_ids(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find("id: ") {
        out.push_str(&rest[..i]);
        rest = rest[i + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

// ---- catalogues written for one test ------------------------------------------------

const HEADER: &str = "id = \"fw\"\nstatus = \"current\"\ntitle.vi = \"Khung\"\ntitle.en = \"Frame\"\n";

fn catalogue(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Framework, String>) {
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("fw");
    std::fs::create_dir(&fw).unwrap();
    std::fs::write(fw.join("framework.toml"), HEADER).unwrap();
    for (name, text) in files {
        std::fs::write(fw.join(name), text).unwrap();
    }
    let loaded = Catalogue::open(dir.path())
        .map_err(|e| e.to_string())
        .and_then(|c| c.load("fw").map_err(|e| e.to_string()));
    (dir, loaded)
}

fn requirement(extra: &str, check: &str) -> String {
    format!(
        "[[requirement]]\nid = \"XX-01\"\nclause = \"x.1\"\nmin_level = 1\nroles = [\"server\"]\nplatforms = [\"linux\"]\nprovenance = \"I\"\n\
         title.vi = \"t\"\ntitle.en = \"t\"\nremediation.vi = \"r\"\nremediation.en = \"r\"\n{extra}\n\
         [[requirement.check]]\nid = \"linux\"\nplatforms = [\"linux\"]\n{check}\n"
    )
}

const GOOD_CHECK: &str = "expr = \"facts.firewall.enabled\"\nexpected.vi = \"bật\"\nexpected.en = \"on\"";

fn load_error(files: &[(&str, &str)]) -> String {
    match catalogue(files).1 {
        Ok(_) => panic!("expected an error for {files:?}"),
        Err(e) => e,
    }
}

#[test]
fn role_mismatch_is_not_applicable() {
    let text = requirement("", GOOD_CHECK);
    let (_d, fw) = catalogue(&[("a.toml", &text)]);
    let fw = fw.unwrap();
    let e = fw.evaluate(&FactsView::new(&good_facts()), &target(1));
    assert_eq!(e.results[0].status, Status::NotApplicable);
    assert!(e.results[0].message.as_deref().unwrap().contains("server"));
    let e = fw.evaluate(
        &FactsView::new(&good_facts()),
        &Target {
            role: Role::Server,
            ..target(1)
        },
    );
    assert_eq!(e.results[0].status, Status::Pass);
}

#[test]
fn applies_false_is_not_applicable() {
    let check = format!("applies = \"size(facts.antivirus.products) > 5\"\n{GOOD_CHECK}");
    let text = requirement("", &check);
    let (_d, fw) = catalogue(&[("a.toml", &text)]);
    let e = fw.unwrap().evaluate(
        &FactsView::new(&good_facts()),
        &Target {
            role: Role::Server,
            ..target(1)
        },
    );
    assert_eq!(e.results[0].status, Status::NotApplicable);
}

#[test]
fn toml_syntax_errors_name_file_and_line() {
    let e = load_error(&[("a.toml", "[[requirement]]\nid = \"XX-01\"\nclause = \n")]);
    assert!(e.contains("a.toml:3"), "{e}");
}

#[test]
fn unknown_keys_name_the_requirement() {
    let text = requirement("min_levle = 2", GOOD_CHECK);
    let e = load_error(&[("a.toml", &text)]);
    assert!(e.contains("a.toml:"), "{e}");
    assert!(e.contains("requirement XX-01"), "{e}");
    assert!(e.contains("min_levle"), "{e}");
}

#[test]
fn invalid_cel_names_requirement_check_and_problem() {
    let text = requirement("", "expr = \"facts.firewall.(\"\nexpected.vi = \"x\"\nexpected.en = \"x\"");
    let e = load_error(&[("a.toml", &text)]);
    assert!(e.contains("requirement XX-01: check linux: `expr` is not valid CEL"), "{e}");
}

#[test]
fn unknown_variables_and_params_are_refused() {
    let text = requirement("", "expr = \"fact.firewall.enabled\"\nexpected.vi = \"x\"\nexpected.en = \"x\"");
    assert!(load_error(&[("a.toml", &text)]).contains("unknown variable(s) fact"));
    let text = requirement("", "expr = \"level <= params.limit\"\nexpected.vi = \"x\"\nexpected.en = \"x\"");
    assert!(load_error(&[("a.toml", &text)]).contains("params.limit"));
    let text = requirement("", "expr = \"true\"\nexpected.vi = \"≤ {limit}\"\nexpected.en = \"x\"");
    assert!(load_error(&[("a.toml", &text)]).contains("{limit}"));
}

#[test]
fn per_level_params_must_cover_every_level() {
    let text = requirement("[requirement.params]\nmax = { 1 = 15, 2 = 15, 3 = 7, 5 = 3 }", GOOD_CHECK);
    let e = load_error(&[("a.toml", &text)]);
    assert!(e.contains("params.max: no value for level(s) [4]"), "{e}");
    let text = requirement("[requirement.params]\nmax = { 1 = 15, 2 = \"x\", 3 = 7, 4 = 3, 5 = 3 }", GOOD_CHECK);
    assert!(load_error(&[("a.toml", &text)]).contains("mix types"));
    let text = requirement(
        "[requirement.params]\nmax = { 1 = 15, 2 = 15, 3 = 7, 4 = 3, 5 = 3, 6 = 1 }",
        GOOD_CHECK,
    );
    assert!(load_error(&[("a.toml", &text)]).contains("\"6\" is not a level"));
}

#[test]
fn structural_mistakes_are_all_reported() {
    let both = requirement("", &format!("{GOOD_CHECK}\nmanual.vi = \"m\"\nmanual.en = \"m\""));
    assert!(load_error(&[("a.toml", &both)]).contains("both `expr` and `manual`"));
    let no_expected = requirement("", "expr = \"true\"");
    assert!(load_error(&[("a.toml", &no_expected)]).contains("needs `expected`"));
    let dup = format!("{}\n{}", requirement("", GOOD_CHECK), requirement("", GOOD_CHECK));
    let e = load_error(&[("a.toml", &dup)]);
    assert!(e.contains("duplicate id; first defined at"), "{e}");
    let bad_platform = requirement("", GOOD_CHECK).replace("[\"linux\"]", "[\"solaris\"]");
    assert!(load_error(&[("a.toml", &bad_platform)]).contains("unknown platform \"solaris\""));
    let unchecked_claim = requirement("", GOOD_CHECK).replacen("platforms = [\"linux\"]", "platforms = [\"linux\", \"windows\"]", 1);
    let e = load_error(&[("a.toml", &unchecked_claim)]);
    assert!(e.contains("claims platform windows but no check runs there"), "{e}");
    let unclaimed_check =
        requirement("", GOOD_CHECK).replace("id = \"linux\"\nplatforms = [\"linux\"]", "id = \"linux\"\nplatforms = [\"macos\"]");
    let e = load_error(&[("a.toml", &unclaimed_check)]);
    assert!(e.contains("runs on macos but the requirement does not claim it"), "{e}");
    let bad_id = requirement("", GOOD_CHECK).replace("XX-01", "md1");
    assert!(load_error(&[("a.toml", &bad_id)]).contains("id must look like `MD-01`"));
    // Two broken files: both problems come back at once.
    let e = load_error(&[("a.toml", &no_expected), ("b.toml", "nonsense = [")]);
    assert!(e.contains("2 problems"), "{e}");
}

#[test]
fn broken_headers_and_empty_folders() {
    let dir = tempfile::tempdir().unwrap();
    let e = Catalogue::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("no framework found"), "{e}");
    let fw = dir.path().join("other");
    std::fs::create_dir(&fw).unwrap();
    std::fs::write(fw.join("framework.toml"), HEADER).unwrap();
    let e = Catalogue::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("differs from its folder name"), "{e}");
    assert!(
        Catalogue::open(&dir.path().join("missing"))
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );
}

// ---- properties ---------------------------------------------------------------------

fn arb_product() -> impl Strategy<Value = AvProduct> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0i64..40 * 86_400),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(installed, running, reachable, realtime, age, auto_update)| AvProduct {
            id: "p".into(),
            name: "P".into(),
            installed,
            running,
            reachable,
            realtime,
            signature_time: age.and_then(|a| Timestamp::from_unix(now().unix() - a)),
            auto_update,
            ..AvProduct::default()
        })
}

fn arb_listener() -> impl Strategy<Value = Listener> {
    (
        any::<bool>(),
        prop_oneof![Just(21u16), Just(22), Just(23), Just(69), Just(443), 1u16..65535],
    )
        .prop_map(|(tcp, port)| Listener {
            protocol: if tcp { Protocol::Tcp } else { Protocol::Udp },
            address: "0.0.0.0".into(),
            port,
            ..Listener::default()
        })
}

fn arb_facts() -> impl Strategy<Value = Facts> {
    (
        proptest::collection::vec(arb_product(), 0..3),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(arb_listener(), 0..4),
        proptest::collection::vec(
            prop_oneof![
                Just("firewall"),
                Just("antivirus.products"),
                Just("network.listening"),
                Just("host")
            ],
            0..2,
        ),
    )
        .prop_map(|(products, enabled, deny, listening, errors)| {
            let mut f = good_facts();
            f.antivirus.products = products;
            f.firewall.enabled = enabled;
            f.firewall.inbound_default_deny = deny;
            f.network.listening = listening;
            for e in errors {
                f.error(e, "simulated failure");
            }
            f
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_requirement_in_force_is_answered_and_nothing_else(facts in arb_facts(), level in 1u8..=5) {
        let fw = tcvn();
        let e = eval(&fw, &facts, level);
        for req in &fw.requirements {
            let answered = e.results.iter().any(|r| r.requirement == req.id);
            prop_assert_eq!(answered, req.applies_at(level), "{} at level {}", req.id, level);
        }
        let counted: u32 = Status::ALL.iter().map(|s| e.counts.get(*s)).sum();
        prop_assert_eq!(counted as usize, e.results.len());
        prop_assert_eq!(e.compliant(), e.counts.fail + e.counts.error == 0);
        // Verdicts are a function of facts and level alone.
        prop_assert_eq!(&eval(&fw, &facts, level), &e);
    }

    #[test]
    fn passing_at_a_level_means_passing_below_it(facts in arb_facts(), level in 2u8..=5) {
        let fw = tcvn();
        let upper = eval(&fw, &facts, level);
        let lower = eval(&fw, &facts, level - 1);
        for r in upper.results.iter().filter(|r| r.status == Status::Pass) {
            if let Some(l) = lower.results.iter().find(|x| x.check == r.check) {
                prop_assert_eq!(l.status, Status::Pass, "{} passes at {} but not at {}", r.check, level, level - 1);
            }
        }
    }

    #[test]
    fn firewall_verdict_matches_the_facts(facts in arb_facts()) {
        let e = eval(&tcvn(), &facts, 1);
        let r = result(&e, "CH-02/linux");
        let failed_probe = facts.errors.iter().any(|x| x.probe == "firewall");
        let expected = match (facts.firewall.enabled && facts.firewall.inbound_default_deny, failed_probe) {
            (true, _) => Status::Pass,
            (false, true) => Status::Error,
            (false, false) => Status::Fail,
        };
        prop_assert_eq!(r.status, expected);
    }

    #[test]
    fn evaluation_survives_arbitrary_json_facts(json in arb_json(3)) {
        // Facts from a buggy or hostile agent must give verdicts (mostly errors), never a panic.
        let e = tcvn().evaluate(&FactsView::from_json(json, Vec::new()), &target(3));
        prop_assert!(!e.results.is_empty());
    }
}

fn arb_json(depth: u32) -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z]{0,4}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("antivirus".to_string()),
                    Just("products".to_string()),
                    Just("firewall".to_string()),
                    Just("network".to_string()),
                    "[a-z]{1,3}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn unknown_gives_an_error_with_its_reason_and_null_facts_are_named() {
    let undecidable = requirement(
        "",
        "expr = \"facts.firewall.enabled ? true : unknown('no ruleset was read')\"\nexpected.vi = \"x\"\nexpected.en = \"x\"",
    );
    let (_dir, fw) = catalogue(&[("a.toml", &undecidable)]);
    let fw = fw.unwrap();
    let mut t = target(1);
    t.role = Role::Server;
    let e = fw.evaluate(&FactsView::new(&Facts::default()), &t);
    assert_eq!(e.results[0].status, Status::Error);
    assert_eq!(e.results[0].message.as_deref(), Some("cannot be decided: no ruleset was read"));

    let aged = requirement(
        "",
        "expr = \"age_days(facts.host.boot_time) < 1.0\"\nexpected.vi = \"x\"\nexpected.en = \"x\"",
    );
    let (_dir, fw) = catalogue(&[("a.toml", &aged)]);
    let e = fw.unwrap().evaluate(&FactsView::new(&Facts::default()), &t);
    assert_eq!(e.results[0].status, Status::Error);
    assert!(
        e.results[0].message.as_deref().unwrap().contains("unknown on this endpoint (null)"),
        "{:?}",
        e.results[0].message
    );
}
