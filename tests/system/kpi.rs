//! The KPI roll-ups against a recount, on SQLite and a real PostgreSQL
//! server: random trees, random endpoints, then random reports, heartbeats,
//! revocations and unit moves through the collector's real writer and
//! register. Afterwards every unit's counters must equal both a full rebuild
//! from the endpoints and plain SQL counts over the unit's subtree.

use khien_collector::kpi::{Counter, HOUR_MS};
use khien_collector::register::{Caller, Change, Frameworks};
use khien_collector::rollup;
use khien_collector::store::{FactsSummary, Store, StoredReport};
use khien_collector::writer::{ReportWrite, Writer};
use khien_tests::postgres::Postgres;
use sqlx::Row;
use std::collections::BTreeMap;

/// splitmix64: a seeded generator, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn flip(&mut self) -> bool {
        self.next() & 1 == 1
    }
    /// A time in the last `days` days, or none.
    fn recent(&mut self, now: i64, days: i64) -> Option<i64> {
        (self.below(4) > 0).then(|| now - i64::try_from(self.below(u64::try_from(days * 24).unwrap_or(1))).unwrap_or(0) * HOUR_MS)
    }
}

async fn units(store: &Store) -> Vec<(i64, String, String)> {
    sqlx::query("SELECT id, code, path FROM org_units ORDER BY path")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("code"), r.get("path")))
        .collect()
}

async fn count(store: &Store, path: &str, condition: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM endpoints e JOIN org_units o ON o.id = e.org_unit_id
         WHERE o.path LIKE $1 AND e.revoked = 0 AND {condition}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(format!("{path}%"))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get("n")
}

async fn random_rollups(url: &str, seed: u64, writers: usize) {
    let store = Store::connect(url).await.expect("store");
    let mut rng = Rng(seed);
    let now = khien_proto::Timestamp::now().unix_millis();

    // A random tree: each new unit under a random existing one.
    store.upsert_org_unit("R", None, "Root", 1, now).await.unwrap();
    let mut codes = vec!["R".to_string()];
    for i in 0..12 {
        let parent = codes[usize::try_from(rng.below(codes.len() as u64)).unwrap()].clone();
        let code = format!("U{i}");
        store.upsert_org_unit(&code, Some(&parent), &code, 1, now).await.unwrap();
        codes.push(code);
    }
    let mut ids = Vec::new();
    for i in 0..40 {
        let unit = codes[usize::try_from(rng.below(codes.len() as u64)).unwrap()].clone();
        let unit = store.org_unit(&unit).await.unwrap().unwrap();
        let id = format!("ep-{seed}-{i}");
        let mut tx = store.pool().begin().await.unwrap();
        store
            .insert_endpoint(
                &mut tx,
                &id,
                unit.id,
                &id,
                "00",
                &format!("serial-{id}"),
                now / 1000 + 86_400,
                &[],
                now,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ids.push(id);
    }

    let (writer, done) = Writer::start(store.clone(), writers);
    let mut seq: BTreeMap<String, i64> = BTreeMap::new();
    let frameworks = Frameworks::default();
    let caller = Caller::cli();
    for _ in 0..300 {
        let id = ids[usize::try_from(rng.below(ids.len() as u64)).unwrap()].clone();
        match rng.below(10) {
            0..=5 => {
                let s = seq.entry(id.clone()).or_insert(0);
                *s += 1;
                let summary = FactsSummary {
                    hostname: id.clone(),
                    av_installed: rng.flip(),
                    av_running: rng.flip(),
                    av_realtime: rng.flip(),
                    av_signature_time: rng.recent(now, 20),
                    fw_default_deny: rng.flip(),
                    last_sweep: rng.recent(now, 20),
                    backup_expected: rng.flip(),
                    backup_last: rng.recent(now, 5),
                    ..FactsSummary::default()
                };
                let seen = now - i64::try_from(rng.below(72)).unwrap() * HOUR_MS;
                let write = ReportWrite {
                    endpoint_id: id.clone(),
                    report: Some(StoredReport {
                        seq: *s,
                        received_at: seen,
                        collected_at: seen,
                        signature: String::new(),
                        body: b"{}".to_vec(),
                    }),
                    seq: *s,
                    digest: String::new(),
                    seen,
                    summary,
                    evaluations: Vec::new(),
                    removed_scopes: Vec::new(),
                    count_deltas: Vec::new(),
                    verdict_changes: Vec::new(),
                };
                writer.write(write).await.expect("write");
            }
            6 | 7 => {
                let s = seq.entry(id.clone()).or_insert(0);
                *s += 1;
                writer.heartbeat(&id, *s, now - i64::try_from(rng.below(30)).unwrap() * HOUR_MS);
            }
            8 => {
                if rng.below(4) == 0 {
                    store.revoke_endpoint(&id, now).await.unwrap();
                }
            }
            _ => {
                // Move a random unit under another that is not in its subtree.
                let all = units(&store).await;
                let (_, code, path) = all[usize::try_from(rng.below(all.len() as u64)).unwrap()].clone();
                let targets: Vec<_> = all.iter().filter(|(_, _, p)| !p.starts_with(&path)).collect();
                if code != "R" && !targets.is_empty() {
                    let (_, to, _) = targets[usize::try_from(rng.below(targets.len() as u64)).unwrap()];
                    let mut change = Change::begin(&store, &caller, &frameworks).await.unwrap();
                    change.move_org_unit(&code, to).await.unwrap();
                    change.commit().await.unwrap();
                }
            }
        }
    }
    drop(writer);
    done.await.unwrap();

    let mut incremental = BTreeMap::new();
    for (id, code, path) in units(&store).await {
        let counters = rollup::read(store.pool(), id).await.unwrap();
        // Plain SQL over the subtree, for the counters that need no bucket.
        for (counter, condition) in [
            (Counter::Endpoints, "1 = 1"),
            (Counter::AvRunning, "e.av_running = 1"),
            (Counter::FwDefaultDeny, "e.fw_default_deny = 1"),
            (Counter::BackupExpected, "e.backup_expected = 1"),
        ] {
            assert_eq!(
                counters.get(&counter).copied().unwrap_or(0),
                count(&store, &path, condition).await,
                "seed {seed}: {counter:?} of {code} ({path})"
            );
        }
        let seen: i64 = counters
            .iter()
            .filter(|(c, _)| matches!(c, Counter::SeenHour(_)))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(seen, count(&store, &path, "e.last_seen > 0").await, "seed {seed}: seen of {code}");
        assert!(
            counters.values().all(|n| *n > 0),
            "seed {seed}: {code} keeps zero or negative rows: {counters:?}"
        );
        incremental.insert(code, counters);
    }
    rollup::rebuild(&store).await.unwrap();
    for (id, code, _) in units(&store).await {
        assert_eq!(
            rollup::read(store.pool(), id).await.unwrap(),
            incremental[&code],
            "seed {seed}: counters of {code} differ from a recount"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn rollups_equal_a_recount_on_sqlite() {
    for seed in 1..=4 {
        let dir = tempfile::tempdir().unwrap();
        random_rollups(&format!("sqlite://{}", dir.path().join("k.db").display()), seed, 1).await;
    }
}

#[tokio::test]
async fn rollups_equal_a_recount_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    for seed in 1..=3 {
        // Several writers: concurrent transactions update the shared ancestors' counters.
        random_rollups(&pg.database(&format!("kpi_{seed}")), seed, 3).await;
    }
}
