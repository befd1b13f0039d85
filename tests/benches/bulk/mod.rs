//! The bulk loader the benchmarks share: a national tree (the central
//! office, 63 provinces of 160 communes, 10 systems each at levels 1 to 4
//! with dossiers and per-requirement counts) and endpoints with the summary
//! columns ingest would have written, in multi-row INSERTs. Not through
//! ingest: a million reports would take minutes and measure ingest, which
//! `khien-loadgen` does.

use khien_collector::evaluate::Policies;
use khien_collector::kpi::{DAY_MS, HOUR_MS};
use khien_collector::store::Store;
use sqlx::AssertSqlSafe;
use std::time::{Duration, Instant};

pub const PROVINCES: usize = 63;
pub const COMMUNES: usize = 160;
pub const SYSTEMS_PER_PROVINCE: usize = 10;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> i64 {
        i64::try_from(self.next() % n).unwrap_or(0)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub fn placeholders(rows: usize, cols: usize) -> String {
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

pub async fn load(store: &Store, policies: &Policies, endpoints: usize, now: i64) -> anyhow::Result<()> {
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

pub fn stats(mut v: Vec<Duration>) -> String {
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
