//! History on a running collector, on SQLite and on a real PostgreSQL server:
//! a report that overturns a requirement is listed in the system's history
//! with that report's seq; a snapshot taken through the CLI gives, through the
//! CLI and the API, the figures `GET /org-units/{code}/kpis` gives; snapshots
//! of earlier days (taken through the library with an explicit time against
//! the real store) are selected by `from`/`to` and pruned by the retention;
//! a key of another province sees none of it.

use khien_collector::evaluate::Policies;
use khien_collector::history;
use khien_collector::scorecard::{Windows, vietnam_today};
use khien_tests::Run;
use khien_tests::collector::{Agent, Collector, sample_facts};
use khien_tests::postgres::Postgres;
use serde_json::Value;

const SYSTEM: &str = "DLK-DHTN";
const DAY: i64 = 86_400_000;

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
}

/// The Vietnamese day `days_ago` days before now.
fn day(now: i64, days_ago: i64) -> String {
    vietnam_today(now - days_ago * DAY).to_string()
}

fn days(series: &Value) -> Vec<String> {
    series
        .as_array()
        .unwrap_or_else(|| panic!("a series: {series:#}"))
        .iter()
        .map(|d| d["day"].as_str().unwrap().to_string())
        .collect()
}

async fn history_of_a_system_and_a_unit(database: Option<String>) {
    let c = Collector::with_demo(database);
    let root = c.apikey(None);
    let hanoi = c.apikey(Some("HN"));
    let token = c.token("DLK", &[SYSTEM], 1, "1h");
    let agent = Agent::enroll(&token, "");
    let raw = agent.raw(&c.url());

    // A first verdict is not a change; the second report turns the firewall off.
    assert_eq!(raw.send_full(1, &sample_facts("dlk-pc-01")).await.status, 200);
    let mut off = sample_facts("dlk-pc-01");
    off.firewall.enabled = false;
    off.firewall.inbound_default_deny = false;
    assert_eq!(raw.send_full(2, &off).await.status, 200);

    let (s, h) = c.get(&root, &format!("/api/v1/systems/{SYSTEM}/history")).await;
    assert_eq!(s, 200, "{h:#}");
    let changes = h["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "the firewall's requirement changed: {h:#}");
    for ch in changes {
        assert_eq!(ch["report_seq"], 2, "{ch:#}");
        assert_eq!(ch["cause"], "report");
        assert_eq!(ch["endpoint"], raw.agent_id.as_str());
        assert_eq!(ch["scope"], SYSTEM);
        assert_ne!(ch["old"], ch["new"]);
        assert!(ch["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{ch:#}");
    }
    let failed: Vec<&str> = changes
        .iter()
        .filter(|ch| ch["old"] == "pass" && ch["new"] == "fail")
        .map(|ch| ch["requirement"].as_str().unwrap())
        .collect();
    assert!(!failed.is_empty(), "a requirement went from pass to fail: {h:#}");
    assert_eq!(h["changes_truncated"], false);

    // Today's snapshot, through the CLI, equals the KPIs asked for now.
    let r = c.cli(&["history", "snapshot"]);
    ok(&r, "history snapshot");
    assert!(r.stdout.contains("org unit(s)"), "{}", r.stdout);
    let now = khien_proto::Timestamp::now().unix_millis();
    let today = day(now, 0);
    let (s, mut kpis) = c.get(&root, "/api/v1/org-units/TW/kpis").await;
    assert_eq!(s, 200, "{kpis:#}");
    for transient in ["as_of", "windows", "children"] {
        kpis.as_object_mut().unwrap().remove(transient);
    }
    assert_eq!(kpis["endpoints"], 1, "{kpis:#}");
    let cli = c.cli(&["history", "--org-unit", "TW", "--format", "json"]);
    ok(&cli, "history --org-unit TW");
    let cli = cli.json();
    let (s, api) = c.get(&root, "/api/v1/org-units/TW/history").await;
    assert_eq!(s, 200, "{api:#}");
    for (how, h) in [("CLI", &cli), ("API", &api)] {
        assert_eq!(h["org_unit"], "TW");
        assert_eq!(days(&h["series"]), [today.as_str()], "{how}: {h:#}");
        assert_eq!(h["series"][0]["kpis"], kpis, "{how}: today's snapshot against GET kpis");
    }

    // The system's snapshot has the overturned requirement failing, and the CLI shows the changes.
    let (_, h) = c.get(&root, &format!("/api/v1/systems/{SYSTEM}/history")).await;
    assert_eq!(days(&h["series"]), [today.as_str()]);
    let snap = &h["series"][0];
    assert_eq!(snap["compliant"], false);
    assert_eq!(snap["requirements"][failed[0]]["status"], "fail", "{snap:#}");
    assert_eq!(snap["requirements"][failed[0]]["counts"]["fail"], 1, "{snap:#}");
    let r = c.cli(&["history", "--system", SYSTEM]);
    ok(&r, "history --system");
    assert!(r.stdout.contains(failed[0]) && r.stdout.contains("report"), "{}", r.stdout);
    let r = c.cli(&["history", "--system", SYSTEM, "--format", "csv"]);
    ok(&r, "history --system --format csv");
    assert!(r.stdout.starts_with("day,compliant,pass,fail"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("{today},no,")), "{}", r.stdout);

    // Earlier days, through the library with an explicit time against the real store.
    let store = c.store().await;
    let policies = Policies::load(&khien_tests::workspace().join("policies")).expect("the policies catalogue");
    let mut oldest = None;
    for ago in [10, 40] {
        let s = history::snapshot(&store, &policies, now - ago * DAY, Windows::default())
            .await
            .unwrap();
        assert_eq!(s.day, day(now, ago));
        assert!(s.units > 10 && s.systems > 10, "every active unit and system of the demo: {s:?}");
        oldest = Some(s);
    }
    let oldest = oldest.unwrap();
    let (s, h) = c.get(&root, &format!("/api/v1/org-units/DLK/history?from={}", day(now, 60))).await;
    assert_eq!(s, 200, "{h:#}");
    assert_eq!(days(&h["series"]), [day(now, 40), day(now, 10), today.clone()]);
    let window = format!("from={}&to={}", day(now, 15), day(now, 5));
    let (_, h) = c.get(&root, &format!("/api/v1/systems/{SYSTEM}/history?{window}")).await;
    assert_eq!(days(&h["series"]), [day(now, 10)]);
    assert!(h["changes"].as_array().unwrap().is_empty(), "no change then: {h:#}");
    let (s, h) = c.get(&root, "/api/v1/org-units/TW/history?from=2026-02-30").await;
    assert_eq!((s, h["error"].as_str()), (400, Some("invalid")), "{h:#}");
    assert!(h["message"].as_str().unwrap().starts_with("from:"), "{h:#}");

    // A retention of 30 days drops the snapshot of 40 days ago and keeps the others.
    let pruned = history::prune(&store, 30, now).await.unwrap();
    assert_eq!(
        (pruned.unit_snapshots, pruned.system_snapshots),
        (oldest.units as u64, oldest.systems as u64)
    );
    assert_eq!(pruned.verdict_changes, 0, "today's changes are kept");
    let (_, h) = c.get(&root, &format!("/api/v1/org-units/DLK/history?from={}", day(now, 60))).await;
    assert_eq!(days(&h["series"]), [day(now, 10), today.clone()]);
    store.close().await;

    // A key of another province.
    for path in [
        format!("/api/v1/systems/{SYSTEM}/history"),
        "/api/v1/org-units/DLK/history".to_string(),
        "/api/v1/org-units/TW/history".to_string(),
    ] {
        let (s, body) = c.get(&hanoi, &path).await;
        assert_eq!(s, 403, "{path}: {body:#}");
    }
    let (s, h) = c.get(&hanoi, "/api/v1/org-units/HN/history").await;
    assert_eq!(s, 200, "{h:#}");
    assert_eq!(days(&h["series"]), [day(now, 10), today]);
}

#[tokio::test]
async fn history_on_sqlite() {
    history_of_a_system_and_a_unit(None).await;
}

#[tokio::test]
async fn history_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    history_of_a_system_and_a_unit(Some(pg.database("history"))).await;
}
