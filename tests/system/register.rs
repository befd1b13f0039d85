//! The register (org units, systems, dossiers, memberships) changed through
//! the CLI and the API of a running collector, on SQLite and on a real
//! PostgreSQL server: moves rewrite subtree paths, retirements are refused
//! while something active is left, every change is in the audit log with the
//! object before and after, and a scoped key stays in its subtree.

use khien_tests::Run;
use khien_tests::collector::{Agent, Collector, sample_facts};
use khien_tests::postgres::Postgres;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
}

/// A refused command: exit 2 and a message containing `says`.
fn refused(r: &Run, says: &str) {
    assert_eq!(r.code, 2, "expected a refusal: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(says), "expected {says:?} in: {}", r.stderr);
}

fn records(c: &Collector, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "list", "--format", "json", "--limit", "1000"];
    all.extend(args);
    let r = c.cli(&all);
    ok(&r, "audit list");
    r.json().as_array().expect("a JSON array").clone()
}

/// The newest record of an action on an object.
fn record<'a>(log: &'a [Value], action: &str, code: &str) -> &'a Value {
    log.iter()
        .find(|r| r["action"] == action && r["object_code"] == code)
        .unwrap_or_else(|| panic!("no {action} of {code} in {log:#?}"))
}

async fn through_the_cli(database: Option<String>) {
    let c = Collector::with_demo(database);
    let store = c.store().await;

    // Any depth: a commune under the province, a cell under the commune.
    ok(
        &c.cli(&[
            "org-unit",
            "create",
            "DLK-KRONGPAC",
            "--parent",
            "DLK",
            "--name",
            "Đảng ủy xã Krông Pắc",
        ]),
        "create commune",
    );
    ok(
        &c.cli(&[
            "org-unit",
            "create",
            "DLK-KRONGPAC-T1",
            "--parent",
            "DLK-KRONGPAC",
            "--name",
            "Chi bộ thôn 1",
        ]),
        "create cell",
    );
    let r = c.cli(&[
        "system",
        "create",
        "DLK-KRONGPAC-LAN",
        "--org-unit",
        "DLK-KRONGPAC",
        "--name",
        "Mạng nội bộ Đảng ủy xã Krông Pắc",
        "--level",
        "2",
        "--decision-number",
        "5-QĐ/ĐU",
        "--decision-date",
        "2026-02-10",
        "--approver",
        "Đảng ủy xã Krông Pắc",
    ]);
    ok(&r, "create system");
    assert!(r.stdout.contains("next periodic assessment 2028-02-10 (computed)"), "{}", r.stdout);

    // The next assessment follows the level until it is set, then stays.
    let sys = |code: &str| {
        let r = c.cli(&["system", "list", "--retired", "--format", "json"]);
        ok(&r, "system list");
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("{code} is not listed"))
    };
    ok(&c.cli(&["system", "update", "DLK-KRONGPAC-LAN", "--level", "3"]), "level 3");
    assert_eq!(sys("DLK-KRONGPAC-LAN")["dossier"]["next_assessment_date"], "2027-02-10");
    ok(
        &c.cli(&["system", "update", "DLK-KRONGPAC-LAN", "--next-assessment-date", "2026-12-31"]),
        "explicit date",
    );
    ok(&c.cli(&["system", "update", "DLK-KRONGPAC-LAN", "--level", "5"]), "level 5");
    let s = sys("DLK-KRONGPAC-LAN");
    assert_eq!(
        (
            s["level"].clone(),
            s["dossier"]["next_assessment_date"].clone(),
            s["dossier"]["next_assessment_explicit"].clone()
        ),
        (json!(5), json!("2026-12-31"), json!(true)),
        "{s}"
    );
    ok(
        &c.cli(&["system", "update", "DLK-KRONGPAC-LAN", "--next-assessment-date", "auto"]),
        "auto",
    );
    assert_eq!(
        sys("DLK-KRONGPAC-LAN")["dossier"]["next_assessment_date"],
        "2026-08-10",
        "6 months at level 5"
    );
    // The demo's dossiers came in with the seed.
    assert_eq!(sys("DLK-DHTN")["dossier"]["next_assessment_date"], "2027-03-16");
    assert_eq!(sys("HN-THU")["dossier"]["next_assessment_explicit"], true);

    // Mistakes are refused, naming the field.
    refused(&c.cli(&["org-unit", "create", "dlk-x", "--parent", "DLK", "--name", "x"]), "code:");
    refused(
        &c.cli(&["org-unit", "create", "DLK-X", "--parent", "NOPE", "--name", "x"]),
        "parent: no org unit NOPE",
    );
    refused(
        &c.cli(&["org-unit", "create", "DLK-KRONGPAC", "--parent", "DLK", "--name", "x"]),
        "already exists",
    );
    refused(
        &c.cli(&[
            "org-unit",
            "create",
            "DLK-X",
            "--parent",
            "DLK",
            "--name",
            "x",
            "--default-level",
            "6",
        ]),
        "default_level: 6",
    );
    let base = ["system", "create", "DLK-X", "--org-unit", "DLK", "--name", "x"];
    refused(
        &c.cli(&[&base[..], &["--level", "3", "--framework", "nope"]].concat()),
        "framework: \"nope\" is not in the policies catalogue",
    );
    refused(
        &c.cli(&[&base[..], &["--level", "7"]].concat()),
        "level: 7 is not a level of tcvn-14423-2026",
    );
    refused(
        &c.cli(&[&base[..], &["--level", "3", "--decision-date", "10/02/2026"]].concat()),
        "decision_date:",
    );
    refused(
        &c.cli(&["system", "create", "DLK-X", "--org-unit", "NOPE", "--name", "x", "--level", "3"]),
        "org_unit: no org unit NOPE",
    );
    refused(
        &c.cli(&["org-unit", "move", "DLK-KRONGPAC", "--parent", "DLK-KRONGPAC-T1"]),
        "would make a cycle",
    );

    // A move takes the whole subtree along.
    ok(&c.cli(&["org-unit", "move", "DLK-KRONGPAC", "--parent", "HN"]), "move");
    let path = async |code: &str| store.org_unit(code).await.unwrap().unwrap().path;
    assert_eq!(path("DLK-KRONGPAC").await, "/TW/HN/DLK-KRONGPAC/");
    assert_eq!(path("DLK-KRONGPAC-T1").await, "/TW/HN/DLK-KRONGPAC/DLK-KRONGPAC-T1/");
    assert_eq!(path("DLK-VP").await, "/TW/DLK/DLK-VP/", "the rest of the tree stays");
    let r = c.cli(&["org-unit", "list", "--org-unit", "HN", "--format", "json"]);
    ok(&r, "list");
    let codes: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["HN", "DLK-KRONGPAC", "DLK-KRONGPAC-T1", "HN-VINHTUY"], "tree order");
    let r = c.cli(&["org-unit", "list"]);
    ok(&r, "table");
    assert!(
        r.stdout.starts_with("CODE") && r.stdout.contains("Đảng ủy xã Krông Pắc"),
        "{}",
        r.stdout
    );

    // Retiring: refused while something active is left.
    refused(
        &c.cli(&["org-unit", "retire", "DLK-KRONGPAC"]),
        "it still has 1 active child unit(s) (DLK-KRONGPAC-T1) and 1 active system(s) (DLK-KRONGPAC-LAN)",
    );
    ok(&c.cli(&["org-unit", "retire", "DLK-KRONGPAC-T1"]), "retire cell");
    ok(&c.cli(&["system", "move", "DLK-KRONGPAC-LAN", "--org-unit", "HN"]), "move system");
    ok(&c.cli(&["org-unit", "retire", "DLK-KRONGPAC"]), "retire commune");
    refused(&c.cli(&["org-unit", "update", "DLK-KRONGPAC", "--name", "y"]), "has been retired");
    refused(
        &c.cli(&["org-unit", "create", "DLK-KRONGPAC", "--parent", "DLK", "--name", "x"]),
        "codes are not reused",
    );
    let listed = |args: &[&str]| {
        let r = c.cli(&[&["org-unit", "list", "--format", "json"][..], args].concat());
        ok(&r, "list");
        r.json().as_array().unwrap().iter().any(|u| u["code"] == "DLK-KRONGPAC")
    };
    assert!(!listed(&[]), "retired units leave listings");
    assert!(listed(&["--retired"]), "and stay in history");
    ok(&c.cli(&["system", "retire", "DLK-KRONGPAC-LAN"]), "retire system");
    let r = c.cli(&["system", "list", "--format", "json"]);
    assert!(!r.stdout.contains("DLK-KRONGPAC-LAN"));

    // Every change is in the log, with who and the object before and after.
    let log = records(&c, &[]);
    assert!(log.iter().all(|r| r["at"].is_string()));
    let cli: Vec<&Value> = log.iter().filter(|r| r["actor"].as_str().unwrap().starts_with("cli:")).collect();
    assert_eq!(cli.len(), 12, "one record per change: {cli:#?}");
    for r in &cli {
        assert!(r["after"].is_object(), "{r}");
        assert_eq!(r["before"].is_null(), r["action"] == "create", "only a creation has no before: {r}");
    }
    let created = record(&log, "create", "DLK-KRONGPAC-LAN");
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["dossier"]["decision_number"], "5-QĐ/ĐU");
    let moved = record(&log, "move", "DLK-KRONGPAC");
    assert_eq!(
        (moved["before"]["parent"].clone(), moved["after"]["parent"].clone()),
        (json!("DLK"), json!("HN"))
    );
    assert_eq!(
        (moved["path_before"].clone(), moved["path"].clone()),
        (json!("/TW/DLK/DLK-KRONGPAC/"), json!("/TW/HN/DLK-KRONGPAC/"))
    );
    let retired = record(&log, "retire", "DLK-KRONGPAC");
    assert_eq!(retired["before"]["retired_at"], Value::Null);
    assert!(retired["after"]["retired_at"].is_string());
    let levels: Vec<(Value, Value)> = log
        .iter()
        .filter(|r| r["action"] == "update" && r["object_code"] == "DLK-KRONGPAC-LAN")
        .map(|r| (r["before"]["level"].clone(), r["after"]["level"].clone()))
        .collect();
    assert_eq!(
        levels,
        [
            (json!(5), json!(5)),
            (json!(3), json!(5)),
            (json!(3), json!(3)),
            (json!(2), json!(3))
        ]
    );
    assert!(
        log.iter()
            .any(|r| r["actor"] == "seed:".to_string() + khien_tests::workspace().join("seeds/demo.toml").to_str().unwrap())
    );
    // Scoped to Đắk Lắk: the commune's records up to and including its move out.
    let dlk = records(&c, &["--org-unit", "DLK"]);
    assert!(dlk.iter().any(|r| r["action"] == "move" && r["object_code"] == "DLK-KRONGPAC"));
    assert!(!dlk.iter().any(|r| r["action"] == "retire"), "retired after it left DLK");
    assert!(records(&c, &["--since", "2000-01-01", "--until", "2000-12-31"]).is_empty());
    let table = c.cli(&["audit", "list", "--org-unit", "HN"]);
    ok(&table, "audit table");
    assert!(table.stdout.contains("parent: DLK → HN"), "{}", table.stdout);

    // Loading the seed again changes nothing, and logs nothing.
    let r = c.cli(&["seed", khien_tests::workspace().join("seeds/demo.toml").to_str().unwrap()]);
    ok(&r, "seed again");
    assert!(r.stdout.contains("(0 change(s)"), "{}", r.stdout);
    assert_eq!(records(&c, &[]).len(), log.len());
}

#[tokio::test]
async fn register_through_the_cli_on_sqlite() {
    through_the_cli(None).await;
}

#[tokio::test]
async fn register_through_the_cli_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    through_the_cli(Some(pg.database("register_cli"))).await;
}

/// Polls an endpoint's detail until `done` holds (the collector applies
/// register changes made by other processes within seconds).
async fn eventually(c: &Collector, key: &str, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = c.get(key, &format!("/api/v1/endpoints/{id}")).await;
        assert_eq!(s, 200, "{v}");
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} did not happen: {v:#}\n{}", c.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn scopes(v: &Value) -> Vec<String> {
    v["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["scope"].as_str().unwrap_or("").to_string())
        .collect()
}

fn requirement<'a>(v: &'a Value, scope: &str, req: &str) -> &'a Value {
    let e = v["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["scope"] == scope)
        .unwrap_or_else(|| panic!("no evaluation for {scope}: {v:#}"));
    &e["requirements"][req]
}

/// A key for the whole tree, and its id (what the audit log names).
fn apikey_with_id(c: &Collector) -> (String, String) {
    let r = c.cli(&["apikey", "create"]);
    ok(&r, "apikey create");
    // "API key 7 for the whole tree (…)", then the key.
    let id = r.stdout.split_whitespace().nth(2).expect("the key's id").to_string();
    (id, r.stdout.lines().last().expect("the key").to_string())
}

async fn through_the_api(database: Option<String>) {
    let c = Collector::with_demo(database);
    let (root_id, root) = apikey_with_id(&c);

    let (s, u) = c
        .call(
            "POST",
            &root,
            "/api/v1/org-units",
            Some(json!({"code": "HN-HOANKIEM", "parent": "HN", "name": "Đảng ủy phường Hoàn Kiếm", "default_level": 2})),
        )
        .await;
    assert_eq!((s, u["path"].as_str()), (201, Some("/TW/HN/HN-HOANKIEM/")), "{u}");
    let (s, _) = c
        .call(
            "POST",
            &root,
            "/api/v1/org-units",
            Some(json!({"code": "HN-HOANKIEM-T1", "parent": "HN-HOANKIEM", "name": "Chi bộ 1", "default_level": 2})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, u) = c
        .call("PUT", &root, "/api/v1/org-units/HN-HOANKIEM", Some(json!({"default_level": 3})))
        .await;
    assert_eq!((s, u["default_level"].as_i64()), (200, Some(3)), "{u}");
    let (s, e) = c
        .call("PUT", &root, "/api/v1/org-units/HN-HOANKIEM", Some(json!({"parent": "DLK"})))
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("bad_request")), "a move is not an update: {e}");

    let (s, sys) = c
        .call(
            "POST",
            &root,
            "/api/v1/systems",
            Some(json!({
                "code": "HN-HOANKIEM-HNTT", "org_unit": "HN-HOANKIEM", "name": "Hệ thống họp trực tuyến", "level": 2,
                "dossier": {"decision_number": "12-QĐ/ĐU", "decision_date": "2026-05-01", "approver": "Đảng ủy phường Hoàn Kiếm"}
            })),
        )
        .await;
    assert_eq!(s, 201, "{sys}");
    assert_eq!(sys["framework"], "tcvn-14423-2026", "the current framework by default");
    assert_eq!(sys["dossier"]["next_assessment_date"], "2028-05-01");
    let (s, sys) = c
        .call("PUT", &root, "/api/v1/systems/HN-HOANKIEM-HNTT", Some(json!({"level": 3})))
        .await;
    assert_eq!(
        (s, sys["dossier"]["next_assessment_date"].as_str()),
        (200, Some("2027-05-01")),
        "{sys}"
    );
    let (s, e) = c
        .call("PUT", &root, "/api/v1/systems/HN-HOANKIEM-HNTT", Some(json!({"level": 9})))
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("level: 9 is not a level"), "{e}");
    let (s, e) = c
        .call(
            "PUT",
            &root,
            "/api/v1/systems/HN-HOANKIEM-HNTT",
            Some(json!({"dossier": {"decision_date": "May 1"}})),
        )
        .await;
    assert!(s == 400 && e["message"].as_str().unwrap().contains("decision_date"), "{e}");
    let (s, e) = c
        .call(
            "POST",
            &root,
            "/api/v1/systems",
            Some(json!({"code": "HN-THU", "org_unit": "HN", "name": "x", "level": 3})),
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (409, Some("conflict")), "{e}");
    let (s, sys) = c
        .call(
            "PUT",
            &root,
            "/api/v1/systems/HN-HOANKIEM-HNTT",
            Some(json!({"dossier": {"approver": null}})),
        )
        .await;
    assert_eq!((s, sys["dossier"]["approver"].clone()), (200, Value::Null), "null clears: {sys}");

    // Moves: the subtree's paths follow; a cycle is refused.
    let (s, u) = c
        .call(
            "POST",
            &root,
            "/api/v1/org-units/HN-HOANKIEM/move",
            Some(json!({"parent": "DLK-VP"})),
        )
        .await;
    assert_eq!((s, u["path"].as_str()), (200, Some("/TW/DLK/DLK-VP/HN-HOANKIEM/")), "{u}");
    let (_, child) = c.get(&root, "/api/v1/org-units/HN-HOANKIEM-T1").await;
    assert_eq!(child["path"], "/TW/DLK/DLK-VP/HN-HOANKIEM/HN-HOANKIEM-T1/");
    let (s, e) = c
        .call(
            "POST",
            &root,
            "/api/v1/org-units/HN-HOANKIEM/move",
            Some(json!({"parent": "HN-HOANKIEM-T1"})),
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid")), "{e}");
    let (s, _) = c
        .call("POST", &root, "/api/v1/org-units/HN-HOANKIEM/move", Some(json!({"parent": "HN"})))
        .await;
    assert_eq!(s, 200);
    let (_, child) = c.get(&root, "/api/v1/org-units/HN-HOANKIEM-T1").await;
    assert_eq!(child["path"], "/TW/HN/HN-HOANKIEM/HN-HOANKIEM-T1/");
    let (s, sys) = c
        .call(
            "POST",
            &root,
            "/api/v1/systems/HN-HOANKIEM-HNTT/move",
            Some(json!({"org_unit": "HN-HOANKIEM-T1"})),
        )
        .await;
    assert_eq!((s, sys["org_unit"].as_str()), (200, Some("HN-HOANKIEM-T1")));

    // Retiring: refused while something active is left, then done.
    let (s, e) = c.call("POST", &root, "/api/v1/org-units/HN-HOANKIEM/retire", None).await;
    assert_eq!((s, e["error"].as_str()), (409, Some("conflict")), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("1 active child unit(s) (HN-HOANKIEM-T1)"),
        "{e}"
    );
    let (s, e) = c.call("POST", &root, "/api/v1/org-units/HN-HOANKIEM-T1/retire", None).await;
    assert!(s == 409 && e["message"].as_str().unwrap().contains("HN-HOANKIEM-HNTT"), "{e}");
    for path in [
        "/api/v1/systems/HN-HOANKIEM-HNTT/retire",
        "/api/v1/org-units/HN-HOANKIEM-T1/retire",
        "/api/v1/org-units/HN-HOANKIEM/retire",
    ] {
        let (s, v) = c.call("POST", &root, path, None).await;
        assert_eq!(s, 200, "{path}: {v}");
        assert!(v["retired_at"].is_string());
    }
    let (_, list) = c.get(&root, "/api/v1/org-units?org_unit=HN").await;
    let codes: Vec<&str> = list["org_units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["HN", "HN-VINHTUY"]);
    let (_, list) = c.get(&root, "/api/v1/org-units?org_unit=HN&retired=true").await;
    assert_eq!(list["org_units"].as_array().unwrap().len(), 4);
    let (_, list) = c.get(&root, "/api/v1/systems?org_unit=HN").await;
    assert!(!list.to_string().contains("HN-HOANKIEM-HNTT"));
    let (s, gone) = c.get(&root, "/api/v1/systems/HN-HOANKIEM-HNTT").await;
    assert!(s == 200 && gone["retired_at"].is_string(), "history stays readable: {gone}");

    // The log names the key by its id, never its secret.
    let (s, log) = c.get(&root, "/api/v1/audit?org_unit=HN&limit=100").await;
    assert_eq!(s, 200);
    let log = log["records"].as_array().unwrap().clone();
    let mine: Vec<&Value> = log.iter().filter(|r| r["actor"].as_str().unwrap().starts_with("apikey:")).collect();
    assert_eq!(mine.len(), 12, "one record per change: {mine:#?}");
    assert!(mine.iter().all(|r| r["actor"] == format!("apikey:{root_id}")), "{mine:#?}");
    for r in &mine {
        assert!(r["after"].is_object() && r["at"].is_string(), "{r}");
        assert_eq!(r["before"].is_null(), r["action"] == "create", "only a creation has no before: {r}");
        assert_ne!(r["before"], r["after"], "a record is a change: {r}");
    }
    let upd = record(&log, "update", "HN-HOANKIEM");
    assert_eq!(
        (upd["before"]["default_level"].clone(), upd["after"]["default_level"].clone()),
        (json!(2), json!(3))
    );
    let (s, e) = c.get(&root, "/api/v1/audit?since=yesterday").await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid")), "{e}");
    let (s, e) = c.get(&root, "/api/v1/org-units?retired=yes").await;
    assert_eq!((s, e["error"].as_str()), (400, Some("bad_request")), "{e}");

    // A key scoped to Hà Nội changes Hà Nội only.
    let hn = c.apikey(Some("HN"));
    let unit = |code: &str, parent: &str| Some(json!({"code": code, "parent": parent, "name": "x", "default_level": 2}));
    assert_eq!(c.call("POST", &hn, "/api/v1/org-units", unit("DLK-Y", "DLK")).await.0, 403);
    let (s, e) = c
        .call(
            "POST",
            &hn,
            "/api/v1/org-units",
            Some(json!({"code": "ROOT2", "name": "x", "default_level": 2})),
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (403, Some("forbidden")), "a new root is outside: {e}");
    assert_eq!(c.call("POST", &hn, "/api/v1/org-units", unit("HN-Y", "HN")).await.0, 201);
    assert_eq!(
        c.call("POST", &hn, "/api/v1/org-units/HN-Y/move", Some(json!({"parent": "DLK"})))
            .await
            .0,
        403,
        "a move out of its subtree"
    );
    assert_eq!(
        c.call("POST", &hn, "/api/v1/org-units/DLK-VP/move", Some(json!({"parent": "HN"})))
            .await
            .0,
        403,
        "a move into it from outside"
    );
    assert_eq!(c.call("PUT", &hn, "/api/v1/org-units/DLK", Some(json!({"name": "x"}))).await.0, 403);
    assert_eq!(c.call("POST", &hn, "/api/v1/org-units/DLK-TANAN/retire", None).await.0, 403);
    let sys = |code: &str, owner: &str| Some(json!({"code": code, "org_unit": owner, "name": "x", "level": 2}));
    assert_eq!(c.call("POST", &hn, "/api/v1/systems", sys("DLK-Z", "DLK")).await.0, 403);
    assert_eq!(c.call("POST", &hn, "/api/v1/systems", sys("HN-Z", "HN-Y")).await.0, 201);
    assert_eq!(
        c.call("POST", &hn, "/api/v1/systems/HN-Z/move", Some(json!({"org_unit": "DLK"})))
            .await
            .0,
        403
    );
    assert_eq!(
        c.call("PUT", &hn, "/api/v1/systems/DLK-DHTN", Some(json!({"level": 4}))).await.0,
        403
    );
    assert_eq!(c.get(&hn, "/api/v1/org-units/DLK").await.0, 403);
    assert_eq!(c.get(&hn, "/api/v1/systems/DLK-DHTN").await.0, 403);
    assert_eq!(c.get(&hn, "/api/v1/audit?org_unit=DLK").await.0, 403);
    let (_, units) = c.get(&hn, "/api/v1/org-units").await;
    assert!(
        units["org_units"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["path"].as_str().unwrap().starts_with("/TW/HN/")),
        "{units}"
    );
    let (_, log) = c.get(&hn, "/api/v1/audit?limit=1000").await;
    let log = log["records"].as_array().unwrap();
    assert!(!log.is_empty());
    assert!(
        log.iter()
            .all(|r| r["path"].as_str().unwrap().starts_with("/TW/HN/")
                || r["path_before"].as_str().is_some_and(|p| p.starts_with("/TW/HN/"))),
        "only Hà Nội's records: {log:#?}"
    );
    assert!(log.iter().any(|r| r["action"] == "move" && r["object_code"] == "HN-HOANKIEM"));
    assert!(!log.iter().any(|r| r["object_code"] == "DLK-DHTN"));

    // Memberships and roles. The endpoint reports itself a workstation.
    let token = c.token("HN", &["HN-THU"], 1, "1h");
    let agent = Agent::enroll(&token, "");
    let raw = agent.raw(&c.url());
    let id = raw.agent_id.clone();
    assert_eq!(raw.send_full(1, &sample_facts("hn-pc-01")).await.status, 200);
    let (_, v) = c.get(&root, &format!("/api/v1/endpoints/{id}")).await;
    assert_eq!(v["systems"][0]["role"], "workstation");
    assert_eq!(v["systems"][0]["role_source"], "reported");
    assert_eq!(
        requirement(&v, "HN-THU", "SL-01"),
        "not_applicable",
        "server backups are for servers"
    );

    let (s, m) = c
        .call(
            "PUT",
            &root,
            &format!("/api/v1/endpoints/{id}/systems"),
            Some(json!({"systems": ["HN-THU"], "role": "server"})),
        )
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["members"], json!([{"code": "HN-THU", "role": "server"}]));
    let (_, v) = c.get(&root, &format!("/api/v1/endpoints/{id}")).await;
    assert_eq!(
        (v["systems"][0]["role"].as_str(), v["systems"][0]["role_source"].as_str()),
        (Some("server"), Some("register"))
    );
    assert_ne!(
        requirement(&v, "HN-THU", "SL-01"),
        "not_applicable",
        "evaluated as the server the register says it is"
    );
    let (s, e) = c
        .call(
            "PUT",
            &root,
            &format!("/api/v1/endpoints/{id}/systems"),
            Some(json!({"systems": ["HN-THU"], "role": "laptop"})),
        )
        .await;
    assert!(s == 400 && e["message"].as_str().unwrap().contains("role"), "{e}");
    // Scoped: a Hà Nội key cannot put its endpoint into Đắk Lắk's system.
    let (s, _) = c
        .call(
            "PUT",
            &hn,
            &format!("/api/v1/endpoints/{id}/systems"),
            Some(json!({"systems": ["DLK-DHTN"]})),
        )
        .await;
    assert_eq!(s, 403);

    // Through the CLI, another process: the running collector re-evaluates within seconds.
    let r = c.cli(&[
        "endpoint",
        "systems",
        &id,
        "--set",
        "HN-THU",
        "HN-Z",
        "--role",
        "workstation",
        "--format",
        "json",
    ]);
    ok(&r, "endpoint systems --set");
    assert_eq!(
        r.json()["systems"],
        json!([{"code": "HN-THU", "role": "workstation"}, {"code": "HN-Z", "role": "workstation"}])
    );
    let v = eventually(&c, &root, &id, "evaluation against HN-Z", |v| scopes(v) == ["HN-THU", "HN-Z"]).await;
    assert_eq!(requirement(&v, "HN-THU", "SL-01"), "not_applicable");
    let r = c.cli(&["endpoint", "systems", &id]);
    ok(&r, "endpoint systems");
    assert!(r.stdout.contains("HN-Z") && r.stdout.contains("workstation"), "{}", r.stdout);
    // A level change and a retirement reach the verdicts too.
    ok(&c.cli(&["system", "update", "HN-Z", "--level", "4"]), "HN-Z level 4");
    eventually(&c, &root, &id, "re-evaluation at level 4", |v| v["effective_level"] == 4).await;
    ok(&c.cli(&["system", "retire", "HN-Z"]), "retire HN-Z");
    let v = eventually(&c, &root, &id, "HN-Z leaving the evaluations", |v| scopes(v) == ["HN-THU"]).await;
    assert_eq!(v["effective_level"], 3);
    let (_, comp) = c.get(&root, "/api/v1/systems/HN-THU/compliance").await;
    assert_eq!(comp["evaluated"], 1);
    let log = records(&c, &["--org-unit", "HN"]);
    let set = record(&log, "set_systems", &id);
    assert_eq!(set["before"]["systems"], json!([{"code": "HN-THU", "role": "server"}]));
    assert!(set["actor"].as_str().unwrap().starts_with("cli:"));
}

#[tokio::test]
async fn register_through_the_api_on_sqlite() {
    through_the_api(None).await;
}

#[tokio::test]
async fn register_through_the_api_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    through_the_api(Some(pg.database("register_api"))).await;
}
