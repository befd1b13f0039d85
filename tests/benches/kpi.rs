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

use khien_collector::evaluate::Policies;
use khien_collector::kpi::{DAY_MS, HOUR_MS};
use khien_collector::rollup;
use khien_collector::scorecard::{self, Windows};
use khien_collector::store::{FactsSummary, Store};
use khien_collector::writer::{ReportWrite, Writer};
use khien_tests::postgres::Postgres;
use sqlx::AssertSqlSafe;
use std::time::{Duration, Instant};

const PROVINCES: usize = 63;
const COMMUNES: usize = 160;
const SYSTEMS_PER_PROVINCE: usize = 10;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> i64 {
        i64::try_from(self.next() % n).unwrap_or(0)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            format!(
                "({})",
                (1..=cols).map(|c| format!("${}", r * cols + c)).collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn load(store: &Store, policies: &Policies, endpoints: usize, now: i64) -> anyhow::Result<()> {
    let mut rng = Rng(7);
    let t = Instant::now();
    let mut tx = store.pool().begin().await?;
    let unit = |code: String, parent: Option<i64>, path: String| (code, parent, path);
    sqlx::query(
        "INSERT INTO org_units (code, parent_id, name, default_level, path, created_at) VALUES ('TW', NULL, 'Trung ương', 3, '/TW/', $1)",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let root: i64 = sqlx::Row::get(
        &sqlx::query("SELECT id FROM org_units WHERE code = 'TW'")
            .fetch_one(&mut *tx)
            .await?,
        "id",
    );
    let mut leaves = Vec::new();
    let mut systems: Vec<(i64, i64)> = Vec::new();
    let framework = policies.default_framework.clone();
    let requirements: Vec<Vec<String>> = (1..=4u8)
        .map(|level| {
            policies
                .framework(&framework)
                .map(|f| f.at_level(level).map(|r| r.id.clone()).collect())
                .unwrap_or_default()
        })
        .collect();
    for p in 0..PROVINCES {
        let code = format!("P{p:02}");
        let id: i64 = sqlx::Row::get(
            &sqlx::query(
                "INSERT INTO org_units (code, parent_id, name, default_level, path, created_at) VALUES ($1, $2, $3, 2, $4, $5) RETURNING id",
            )
            .bind(&code)
            .bind(root)
            .bind(format!("Tỉnh ủy {p}"))
            .bind(format!("/TW/{code}/"))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?,
            "id",
        );
        leaves.push(id);
        let communes: Vec<_> = (0..COMMUNES)
            .map(|c| unit(format!("{code}-X{c:03}"), Some(id), format!("/TW/{code}/{code}-X{c:03}/")))
            .collect();
        for chunk in communes.chunks(100) {
            let sql = format!(
                "INSERT INTO org_units (code, parent_id, name, default_level, path, created_at) VALUES {} RETURNING id",
                placeholders(chunk.len(), 6)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (code, parent, path) in chunk {
                q = q
                    .bind(code)
                    .bind(*parent)
                    .bind(format!("Đảng ủy xã {code}"))
                    .bind(1i16)
                    .bind(path)
                    .bind(now);
            }
            for r in q.fetch_all(&mut *tx).await? {
                leaves.push(sqlx::Row::get(&r, "id"));
            }
        }
        for s in 0..SYSTEMS_PER_PROVINCE {
            let level = u8::try_from(s % 4 + 1).unwrap_or(1);
            let overdue = s % 3 == 0;
            let system: i64 = sqlx::Row::get(
                &sqlx::query(
                    "INSERT INTO systems (code, org_unit_id, name, level, framework, created_at, decision_number, decision_date, approver,
                         next_assessment_date) VALUES ($1, $2, $3, $4, $5, $6, $7, '2025-06-01', 'Ban Bí thư', $8) RETURNING id",
                )
                .bind(format!("{code}-S{s}"))
                .bind(id)
                .bind(format!("Hệ thống {s} của tỉnh {p}"))
                .bind(i16::from(level))
                .bind(&framework)
                .bind(now)
                .bind(format!("{s}-QĐ/TU"))
                .bind(if overdue { "2026-01-01" } else { "2027-06-01" })
                .fetch_one(&mut *tx)
                .await?,
                "id",
            );
            // Per requirement, the members' statuses as ingest counts them.
            let members = 50 + rng.below(100);
            systems.push((system, members));
            let reqs = &requirements[usize::from(level - 1)];
            // A third of the systems fail a few requirements.
            let failing = rng.chance(33);
            for chunk in reqs.chunks(100) {
                let sql = format!(
                    "INSERT INTO requirement_counts (system_id, requirement, status, n) VALUES {}",
                    placeholders(chunk.len() * 2, 4)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for r in chunk {
                    let fail = if failing && rng.chance(10) { rng.below(5) + 1 } else { 0 };
                    q = q.bind(system).bind(r).bind("pass").bind(members - fail);
                    q = q.bind(system).bind(r).bind("fail").bind(fail);
                }
                q.execute(&mut *tx).await?;
            }
        }
    }
    tx.commit().await?;
    let tree_done = t.elapsed();

    let mut done = 0;
    let mut tx = store.pool().begin().await?;
    while done < endpoints {
        // SQLite looks `$N` parameters up by name, linearly: keep statements under ~1 000 values.
        let n = (endpoints - done).min(50);
        let sql = format!(
            "INSERT INTO endpoints (id, org_unit_id, hostname, signing_key, enrolled_at, last_seen, last_seq, facts_seq, platform, role,
                 effective_level, av_installed, av_running, av_realtime, av_signature_time, fw_default_deny, last_sweep, backup_expected,
                 backup_last) VALUES {}",
            placeholders(n, 19)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for i in done..done + n {
            let unit = leaves[usize::try_from(rng.below(leaves.len() as u64)).unwrap_or(0)];
            let installed = rng.chance(95);
            let running = installed && rng.chance(95);
            let server = rng.chance(5);
            q = q
                .bind(format!("ep-{i:07}"))
                .bind(unit)
                .bind(format!("host-{i}"))
                .bind("00")
                .bind(now - 400 * DAY_MS)
                .bind(now - rng.below(72) * HOUR_MS)
                .bind(1i64)
                .bind(1i64)
                .bind("windows")
                .bind(if server { "server" } else { "workstation" })
                .bind(2i16)
                .bind(i16::from(installed))
                .bind(i16::from(running))
                .bind(i16::from(running && rng.chance(90)))
                .bind(running.then(|| now - rng.below(20) * DAY_MS))
                .bind(i16::from(rng.chance(70)))
                .bind(rng.chance(80).then(|| now - rng.below(30) * DAY_MS))
                .bind(i16::from(server))
                .bind((server && rng.chance(90)).then(|| now - rng.below(4) * DAY_MS));
        }
        q.execute(&mut *tx).await?;
        done += n;
        if done % 50_000 == 0 {
            tx.commit().await?;
            tx = store.pool().begin().await?;
        }
    }
    tx.commit().await?;
    let endpoints_done = t.elapsed();

    // Memberships: each system's members among the endpoints (the triggers
    // count them); all evaluated, as ingest would have left them.
    let mut tx = store.pool().begin().await?;
    let mut next = 0usize;
    for (system, members) in &systems {
        let ids: Vec<String> = (0..*members)
            .map(|_| {
                next = (next + 1) % endpoints;
                format!("ep-{next:07}")
            })
            .collect();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "INSERT INTO endpoint_systems (endpoint_id, system_id) VALUES {}",
                placeholders(chunk.len(), 2)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for id in chunk {
                q = q.bind(id).bind(*system);
            }
            q.execute(&mut *tx).await?;
        }
    }
    sqlx::query("UPDATE systems SET evaluated = members").execute(&mut *tx).await?;
    tx.commit().await?;
    eprintln!(
        "  load: tree and systems {:.1} s, endpoints {:.1} s, memberships {:.1} s",
        tree_done.as_secs_f64(),
        (endpoints_done - tree_done).as_secs_f64(),
        (t.elapsed() - endpoints_done).as_secs_f64()
    );
    Ok(())
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.1} ms (min {:.1}, max {:.1}, n={})",
        ms(v[v.len() / 2]),
        ms(v[0]),
        ms(v[v.len() - 1]),
        v.len()
    )
}

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
