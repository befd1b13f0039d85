//! How long the dashboard's pages take for a store of 100 000 endpoints: a
//! real `khien-collector serve` (release build, embedded SQLite, or
//! PostgreSQL) filled by the benchmarks' bulk loader, one real agent
//! reporting into a level-3 system, and a logged-in central administrator
//! fetching each page over HTTPS on loopback.
//!
//! ```sh
//! cargo bench -p khien-tests --bench web                        # SQLite, 100 000 endpoints
//! KHIEN_BENCH_ENDPOINTS=20000 cargo bench -p khien-tests --bench web
//! KHIEN_BENCH_PG=postgres://user:pw@127.0.0.1:5499 cargo bench -p khien-tests --bench web
//! ```
//!
//! Times are taken by the client, from sending the request to the last byte
//! of the body, on a kept-alive connection: the server's time plus a
//! loopback round trip. The budget (issue 6) is 200 ms of server time per
//! page; each page is fetched 20 times after one warm-up, and the median,
//! minimum and maximum are printed.

#[path = "bulk/mod.rs"]
mod bulk;

use bulk::{load, stats};
use khien_collector::evaluate::Policies;
use khien_collector::rollup;
use khien_tests::collector::{Agent, Collector, sample_facts};
use khien_tests::web::{browser, get, login};
use std::time::Instant;

const RUNS: usize = 20;
const PASSWORD: &str = "đo thời gian hiển thị trang";
/// A level-3 system of the bulk tree (systems `S<n>` are at level n % 4 + 1), and a commune of its province.
const SYSTEM: &str = "P07-S2";
const COMMUNE: &str = "P07-X001";

async fn bench(database: Option<String>, endpoints: usize, policies: &Policies) -> anyhow::Result<()> {
    let engine = if database.is_some() { "postgres" } else { "sqlite" };
    let c = Collector::start(database);
    let store = c.store().await;
    let now = khien_proto::Timestamp::now().unix_millis();
    let t = Instant::now();
    load(&store, policies, endpoints, now).await?;
    rollup::rebuild(&store).await?;
    sqlx::query("ANALYZE").execute(store.pool()).await?;
    eprintln!("{engine}: loaded {endpoints} endpoints in {:.1} s", t.elapsed().as_secs_f64());

    // One real endpoint with real facts, in the system: its page, and the system's evidence, have something to show.
    let token = c.token(COMMUNE, &[SYSTEM], 1, "1h");
    let agent = Agent::enroll(&token, "");
    let raw = agent.raw(&c.url());
    anyhow::ensure!(
        raw.send_full(1, &sample_facts("p07-x001-pc-01")).await.status == 200,
        "the report was refused"
    );
    let pw = c.dir.path().join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n"))?;
    let r = c.cli(&[
        "user",
        "create",
        "tw-admin",
        "--role",
        "central-admin",
        "--password-file",
        pw.to_str().unwrap_or_default(),
    ]);
    anyhow::ensure!(r.code == 0, "user create: {}", r.stderr);

    let b = browser(&c);
    anyhow::ensure!(login(&b, &c, "tw-admin", PASSWORD).await.status == 303, "login refused");
    let failing = {
        let p = get(&b, &c, &format!("/systems/{SYSTEM}")).await;
        let at = p
            .body
            .find("data-status=\"fail\"")
            .ok_or_else(|| anyhow::anyhow!("no failing requirement"))?;
        let row = &p.body[at..];
        let id = row
            .split("<th scope=\"row\" class=\"code\">")
            .nth(1)
            .and_then(|s| s.split('<').next());
        id.unwrap_or_default().to_string()
    };
    let pages = [
        "/overview".to_string(),
        "/org-units/TW".to_string(),
        "/org-units/P07".to_string(),
        format!("/org-units/{COMMUNE}"),
        "/org-units/TW/kpi/av_running?state=unmet".to_string(),
        "/org-units/TW/kpi/av_running?state=unmet&q=host-99".to_string(),
        "/org-units/TW/kpi/compliant?state=unmet".to_string(),
        format!("/systems/{SYSTEM}"),
        format!("/systems/{SYSTEM}/requirements/{failing}"),
        format!("/endpoints/{}", raw.agent_id),
        "/enrollment".to_string(),
        format!("/exceptions?system={SYSTEM}"),
        "/audit".to_string(),
    ];
    println!("{engine}: {endpoints} endpoints; page times over HTTPS on loopback, {RUNS} runs each:");
    for path in &pages {
        let first = get(&b, &c, path).await;
        anyhow::ensure!(first.status == 200, "{path}: {} {}", first.status, first.body);
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            let p = get(&b, &c, path).await;
            times.push(t.elapsed());
            anyhow::ensure!(p.status == 200, "{path}: {}", p.status);
        }
        println!("  {path:<55} {} ({} kB)", stats(times), first.body.len() / 1024);
    }
    store.close().await;
    drop(agent);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --benches` must not load 100 000 endpoints.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let endpoints: usize = std::env::var("KHIEN_BENCH_ENDPOINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let policies = Policies::load(&khien_tests::workspace().join("policies"))?;
    match std::env::var("KHIEN_BENCH_PG") {
        Ok(server) => {
            // A fresh database on the given server, so that the bulk loader starts from nothing.
            let admin = khien_collector::store::Store::connect(&format!("{server}/postgres")).await?;
            let name = format!("khien_web_bench_{}", std::process::id());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(admin.pool())
                .await?;
            admin.close().await;
            bench(Some(format!("{server}/{name}")), endpoints, &policies).await
        }
        Err(_) => bench(None, endpoints, &policies).await,
    }
}
