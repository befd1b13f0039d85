//! The KPI roll-up at national scale: how long `GET /org-units/TW/kpis` takes
//! to compute for the root of a tree of 1 000 000 endpoints, on SQLite and on
//! PostgreSQL.
//!
//! ```sh
//! cargo bench -p khien-tests --bench kpi                       # SQLite, 1 000 000 endpoints
//! KHIEN_BENCH_ENDPOINTS=100000 cargo bench -p khien-tests --bench kpi
//! KHIEN_BENCH_ENGINES=sqlite,postgres cargo bench -p khien-tests --bench kpi
//! ```
//!
//! The store is filled by a bulk loader, not through ingest (a million reports
//! would take minutes and measure ingest, which `khien-loadgen` does):
//!
//! 1. the tree: the central office, 63 provinces, each with 160 communes and
//!    10 information systems at levels 1 to 4, with dossiers (a third of the
//!    assessments overdue) and per-requirement counts;
//! 2. the endpoints, spread over provinces and communes, in multi-row
//!    INSERTs, with summary columns drawn at random as ingest would have
//!    written them (seen in the last 3 days, 90 % with anti-malware…);
//! 3. `rollup::rebuild`, the recount the collector runs after the migration
//!    that introduced the counters, which fills `unit_counters`;
//! 4. `ANALYZE`, as a running store's planner statistics would be;
//! 5. then 2 000 reports through the collector's real writer, so that the
//!    counters are also kept by deltas before they are read.
//!
//! It prints the load and rebuild times, then the median, minimum and
//! maximum of 30 computations of the root's scorecard (counters, 63
//! children, 630 systems' compliance) and of one province's.

#[path = "bulk/mod.rs"]
mod bulk;

use bulk::{COMMUNES, PROVINCES, Rng, load, stats};
use khien_collector::evaluate::Policies;
use khien_collector::rollup;
use khien_collector::scorecard::{self, Windows};
use khien_collector::store::{FactsSummary, Store};
use khien_collector::writer::{ReportWrite, Writer};
use khien_tests::postgres::Postgres;
use std::time::{Duration, Instant};

async fn bench(engine: &str, url: &str, endpoints: usize, policies: &Policies) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    let now = khien_proto::Timestamp::now().unix_millis();
    let t = Instant::now();
    load(&store, policies, endpoints, now).await?;
    let loaded = t.elapsed();
    let t = Instant::now();
    rollup::rebuild(&store).await?;
    let rebuilt = t.elapsed();
    // Planner statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) keep them on a
    // store that has been running: without them PostgreSQL plans the fresh bulk-loaded tables blind.
    sqlx::query("ANALYZE").execute(store.pool()).await?;

    // Deltas through the real writer: 2 000 reports from endpoints anywhere in the tree.
    let (writer, done) = Writer::start(store.clone(), 1);
    let t = Instant::now();
    let mut rng = Rng(11);
    let mut pending = Vec::new();
    for i in 0..2000 {
        let id = format!("ep-{:07}", rng.below(endpoints as u64));
        let w = writer.clone();
        let summary = FactsSummary {
            hostname: id.clone(),
            av_installed: true,
            av_running: true,
            av_realtime: true,
            av_signature_time: Some(now),
            fw_default_deny: rng.chance(50),
            ..FactsSummary::default()
        };
        pending.push(tokio::spawn(async move {
            w.write(ReportWrite {
                endpoint_id: id,
                report: None,
                seq: 2 + i,
                digest: String::new(),
                seen: now,
                summary,
                evaluations: Vec::new(),
                removed_scopes: Vec::new(),
                count_deltas: Vec::new(),
                verdict_changes: Vec::new(),
            })
            .await
        }));
    }
    for p in pending {
        p.await??;
    }
    let written = t.elapsed();
    drop(writer);
    done.await?;

    let root = store.org_unit("TW").await?.expect("root");
    let province = store.org_unit("P07").await?.expect("province");
    let w = Windows::default();
    let mut times = Vec::new();
    let mut card = None;
    for _ in 0..30 {
        let t = Instant::now();
        card = Some(scorecard::scorecard(&store, policies, &root, now, w).await?);
        times.push(t.elapsed());
    }
    let mut ptimes = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        scorecard::scorecard(&store, policies, &province, now, w).await?;
        ptimes.push(t.elapsed());
    }
    let card = card.expect("ran");
    if std::env::var_os("KHIEN_BENCH_PARTS").is_some() {
        let mut parts = [Duration::ZERO; 3];
        for _ in 0..10 {
            let t = Instant::now();
            rollup::read(store.pool(), root.id).await?;
            parts[0] += t.elapsed();
            let t = Instant::now();
            khien_collector::compliance::compliant_systems(&store, policies, &root.path, now).await?;
            parts[1] += t.elapsed();
            let t = Instant::now();
            khien_collector::register::systems(&store, Some(&root.path), false, i64::MAX, 0).await?;
            parts[2] += t.elapsed();
        }
        eprintln!(
            "  parts (mean of 10): counters {:?}, compliant systems {:?}, system list {:?}",
            parts[0] / 10,
            parts[1] / 10,
            parts[2] / 10
        );
    }
    assert_eq!(card.unit.endpoints.endpoints, endpoints as i64, "the root counts every endpoint");
    println!(
        "{engine}: {endpoints} endpoints, {} units, {} systems; bulk load {:.1} s, counters rebuilt in {:.1} s, \
         2000 reports through the writer in {:.2} s",
        1 + PROVINCES * (COMMUNES + 1),
        card.systems.systems,
        loaded.as_secs_f64(),
        rebuilt.as_secs_f64(),
        written.as_secs_f64()
    );
    println!("{engine}: root (TW) KPIs: {}", stats(times));
    println!("{engine}: one province's KPIs: {}", stats(ptimes));
    println!(
        "{engine}: root figures: reporting 24 h {:?}%, anti-malware running {:?}%, fresh signatures {:?}%, systems compliant {}/{}",
        card.unit.endpoints.reporting_24h.percent,
        card.unit.endpoints.av_running.percent,
        card.unit.endpoints.signatures_fresh.percent,
        card.systems.compliant.count,
        card.systems.systems
    );
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --benches` must not run a million rows.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let endpoints: usize = std::env::var("KHIEN_BENCH_ENDPOINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let engines = std::env::var("KHIEN_BENCH_ENGINES").unwrap_or_else(|_| "sqlite,postgres".into());
    let policies = Policies::load(&khien_tests::workspace().join("policies")).map_err(|e| anyhow::anyhow!("{e}"))?;
    for engine in engines.split(',') {
        match engine {
            "sqlite" => {
                let dir = tempfile::tempdir()?;
                bench(
                    "SQLite",
                    &format!("sqlite://{}", dir.path().join("k.db").display()),
                    endpoints,
                    &policies,
                )
                .await?;
            }
            "postgres" => {
                let Some(pg) = Postgres::start() else { continue };
                bench("PostgreSQL", &pg.database("kpi_bench"), endpoints, &policies).await?;
            }
            other => anyhow::bail!("unknown engine {other}: use sqlite and/or postgres"),
        }
    }
    Ok(())
}
