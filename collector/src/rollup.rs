//! The KPI counters of `kpi.rs` in the database (`unit_counters`).
//!
//! Whatever changes an endpoint's row (a report, a heartbeat, an enrollment,
//! a revocation) snapshots the endpoint's contribution before and after, in
//! the same transaction, and [`apply`] adds the difference to the endpoint's
//! unit and to each of its ancestors. Moving a unit shifts its subtree's
//! totals from the old ancestors to the new ones ([`shift_subtree`]).
//! [`rebuild`] recounts everything from the endpoints (after the migration
//! that introduced the counters, or on `khien-collector kpi --rebuild`).
//!
//! Locking: on PostgreSQL the endpoints' rows are read `FOR UPDATE` and their
//! units `FOR SHARE` before any counter is touched, and counters are updated
//! in key order, so that concurrent writers, revocations and moves neither
//! double-count nor deadlock. On SQLite every writer holds the database lock.

use crate::kpi::{Contribution, Counter, DAY_MS, HOUR_MS, delta};
use crate::store::{Engine, Store, StoreError, values};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};
use std::collections::{BTreeMap, HashMap};

type Result<T> = std::result::Result<T, StoreError>;

/// Per endpoint id: its unit and what it contributes (absent: it does not count).
pub type Snapshot = HashMap<String, (i64, Contribution)>;

const ROW: &str = "SELECT id, org_unit_id, revoked, last_seen, av_installed, av_running, av_realtime, av_signature_time,
     fw_default_deny, last_sweep, backup_expected, backup_last FROM endpoints";

/// What an endpoint row contributes; `None` for a revoked endpoint.
fn contribution(r: &AnyRow) -> Result<Option<Contribution>> {
    if r.try_get::<i16, _>("revoked")? != 0 {
        return Ok(None);
    }
    let flag = |c: &str| -> Result<bool> { Ok(r.try_get::<Option<i16>, _>(c)?.unwrap_or(0) != 0) };
    let day = |c: &str| -> Result<Option<i64>> { Ok(r.try_get::<Option<i64>, _>(c)?.filter(|t| *t > 0).map(|t| t.div_euclid(DAY_MS))) };
    let last_seen: i64 = r.try_get("last_seen")?;
    let av_running = flag("av_running")?;
    Ok(Some(Contribution {
        seen_hour: (last_seen > 0).then(|| last_seen.div_euclid(HOUR_MS)),
        av_installed: flag("av_installed")?,
        av_running,
        av_realtime: flag("av_realtime")?,
        // Only a running product's signatures protect anything.
        signature_day: if av_running { day("av_signature_time")? } else { None },
        fw_default_deny: flag("fw_default_deny")?,
        sweep_day: day("last_sweep")?,
        backup_expected: flag("backup_expected")?,
        backup_day: day("backup_last")?,
    }))
}

/// Reads the contributions of these endpoints inside `tx`; `lock` holds their
/// rows until the transaction ends (PostgreSQL), for the "before" snapshot.
pub async fn snapshot(tx: &mut Transaction<'_, Any>, engine: Engine, ids: &[&str], lock: bool) -> Result<Snapshot> {
    let mut out = Snapshot::with_capacity(ids.len());
    let suffix = if lock && engine == Engine::Postgres {
        " ORDER BY id FOR UPDATE"
    } else {
        ""
    };
    for chunk in ids.chunks(500) {
        let sql = format!("{ROW} WHERE id IN {}{suffix}", values(1, chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut **tx).await? {
            if let Some(c) = contribution(&r)? {
                out.insert(r.try_get("id")?, (r.try_get("org_unit_id")?, c));
            }
        }
    }
    Ok(out)
}

/// Each unit with itself and its ancestors, read from the units' paths.
async fn ancestors(tx: &mut Transaction<'_, Any>, engine: Engine, units: &[i64]) -> Result<HashMap<i64, Vec<i64>>> {
    let mut paths: HashMap<i64, String> = HashMap::new();
    // FOR SHARE: a unit being moved (its path rewritten) is waited for.
    let suffix = if engine == Engine::Postgres { " FOR SHARE" } else { "" };
    for chunk in units.chunks(500) {
        let sql = format!("SELECT id, path FROM org_units WHERE id IN {}{suffix}", values(1, chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut **tx).await? {
            paths.insert(r.try_get("id")?, r.try_get("path")?);
        }
    }
    let mut codes: Vec<&str> = paths.values().flat_map(|p| p.split('/').filter(|c| !c.is_empty())).collect();
    codes.sort_unstable();
    codes.dedup();
    let mut ids: HashMap<String, i64> = HashMap::new();
    for chunk in codes.chunks(500) {
        let sql = format!("SELECT id, code FROM org_units WHERE code IN {}", values(1, chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for c in chunk {
            q = q.bind(*c);
        }
        for r in q.fetch_all(&mut **tx).await? {
            ids.insert(r.try_get("code")?, r.try_get("id")?);
        }
    }
    Ok(paths
        .into_iter()
        .map(|(unit, path)| {
            let chain = path
                .split('/')
                .filter(|c| !c.is_empty())
                .filter_map(|c| ids.get(c).copied())
                .collect();
            (unit, chain)
        })
        .collect())
}

/// Adds to the counters what changed between two snapshots of the same
/// endpoints (an endpoint missing from one side did not count there).
pub async fn apply(tx: &mut Transaction<'_, Any>, engine: Engine, before: &Snapshot, after: &Snapshot) -> Result<()> {
    let mut per_unit: BTreeMap<(i64, Counter), i64> = BTreeMap::new();
    let mut add = |unit: i64, changes: Vec<(Counter, i64)>| {
        for (c, n) in changes {
            *per_unit.entry((unit, c)).or_default() += n;
        }
    };
    for (id, (unit, old)) in before {
        match after.get(id) {
            Some((u, new)) if u == unit => add(*unit, delta(Some(old), Some(new))),
            Some((u, new)) => {
                add(*unit, delta(Some(old), None));
                add(*u, delta(None, Some(new)));
            }
            None => add(*unit, delta(Some(old), None)),
        }
    }
    for (id, (unit, new)) in after {
        if !before.contains_key(id) {
            add(*unit, delta(None, Some(new)));
        }
    }
    per_unit.retain(|_, n| *n != 0);
    if per_unit.is_empty() {
        return Ok(());
    }
    let mut units: Vec<i64> = per_unit.keys().map(|(u, _)| *u).collect();
    units.dedup();
    let chains = ancestors(tx, engine, &units).await?;
    let mut rows: BTreeMap<(i64, &'static str, i64), i64> = BTreeMap::new();
    for ((unit, counter), n) in per_unit {
        let (name, bucket) = counter.key();
        for a in chains.get(&unit).map(Vec::as_slice).unwrap_or(&[]) {
            *rows.entry((*a, name, bucket)).or_default() += n;
        }
    }
    add_rows(tx, rows).await
}

/// Upserts counter changes in key order, and deletes the rows they bring to 0
/// (time buckets would otherwise pile up, one per hour and unit).
async fn add_rows(tx: &mut Transaction<'_, Any>, rows: BTreeMap<(i64, &str, i64), i64>) -> Result<()> {
    let rows: Vec<_> = rows.into_iter().filter(|(_, n)| *n != 0).collect();
    let mut zero = Vec::new();
    for chunk in rows.chunks(200) {
        let sql = format!(
            "INSERT INTO unit_counters (unit_id, counter, bucket, n) VALUES {}
             ON CONFLICT (unit_id, counter, bucket) DO UPDATE SET n = unit_counters.n + excluded.n
             RETURNING unit_id, counter, bucket, n",
            values(chunk.len(), 4)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for ((unit, name, bucket), n) in chunk {
            q = q.bind(*unit).bind(*name).bind(*bucket).bind(*n);
        }
        for r in q.fetch_all(&mut **tx).await? {
            if r.try_get::<i64, _>("n")? == 0 {
                zero.push((
                    r.try_get::<i64, _>("unit_id")?,
                    r.try_get::<String, _>("counter")?,
                    r.try_get::<i64, _>("bucket")?,
                ));
            }
        }
    }
    for (unit, name, bucket) in zero {
        sqlx::query("DELETE FROM unit_counters WHERE unit_id = $1 AND counter = $2 AND bucket = $3 AND n = 0")
            .bind(unit)
            .bind(name)
            .bind(bucket)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A unit's counters (its whole subtree).
pub async fn read<'e, E: sqlx::Executor<'e, Database = Any>>(e: E, unit_id: i64) -> Result<BTreeMap<Counter, i64>> {
    let rows = sqlx::query("SELECT counter, bucket, n FROM unit_counters WHERE unit_id = $1")
        .bind(unit_id)
        .fetch_all(e)
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let name: String = r.try_get("counter")?;
        if let Some(c) = Counter::from_key(&name, r.try_get("bucket")?) {
            let n: i64 = r.try_get("n")?;
            if n != 0 {
                out.insert(c, n);
            }
        }
    }
    Ok(out)
}

/// Several units' counters, 500 units a statement, by primary-key prefix (a
/// join on a parent or a path would scan every unit's counters).
pub async fn read_many(pool: &sqlx::AnyPool, units: &[i64]) -> Result<HashMap<i64, BTreeMap<Counter, i64>>> {
    let mut out: HashMap<i64, BTreeMap<Counter, i64>> = HashMap::new();
    for chunk in units.chunks(500) {
        let sql = format!(
            "SELECT unit_id, counter, bucket, n FROM unit_counters WHERE unit_id IN {}",
            values(1, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(pool).await? {
            let name: String = r.try_get("counter")?;
            let n: i64 = r.try_get("n")?;
            if let (Some(c), true) = (Counter::from_key(&name, r.try_get("bucket")?), n != 0) {
                out.entry(r.try_get("unit_id")?).or_default().insert(c, n);
            }
        }
    }
    Ok(out)
}

/// Before a unit moves from under `old_chain` to under `new_chain` (the
/// ancestors' ids, root first, without the unit), moves its subtree's totals
/// between them. Common ancestors are left alone.
pub async fn shift_subtree(tx: &mut Transaction<'_, Any>, unit_id: i64, old_chain: &[i64], new_chain: &[i64]) -> Result<()> {
    let totals = read(&mut **tx, unit_id).await?;
    let mut rows: BTreeMap<(i64, &'static str, i64), i64> = BTreeMap::new();
    for (counter, n) in &totals {
        let (name, bucket) = counter.key();
        for a in old_chain.iter().filter(|a| !new_chain.contains(a)) {
            *rows.entry((*a, name, bucket)).or_default() -= n;
        }
        for a in new_chain.iter().filter(|a| !old_chain.contains(a)) {
            *rows.entry((*a, name, bucket)).or_default() += n;
        }
    }
    add_rows(tx, rows).await
}

/// Recounts every unit's counters from the endpoints, in one transaction.
pub async fn rebuild(store: &Store) -> Result<()> {
    // Writers wait while the counters are rebuilt, then add their deltas on top.
    let mut tx = store.begin_locking("unit_counters").await?;
    sqlx::query("DELETE FROM unit_counters").execute(&mut *tx).await?;
    let mut parent: HashMap<i64, Option<i64>> = HashMap::new();
    for r in sqlx::query("SELECT id, parent_id FROM org_units").fetch_all(&mut *tx).await? {
        parent.insert(r.try_get("id")?, r.try_get("parent_id")?);
    }
    let mut own: HashMap<i64, BTreeMap<Counter, i64>> = HashMap::new();
    {
        use futures_util::TryStreamExt as _;
        let mut rows = sqlx::query(ROW).fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            if let Some(c) = contribution(&r)? {
                let unit: i64 = r.try_get("org_unit_id")?;
                let counters = own.entry(unit).or_default();
                for k in c.counters() {
                    *counters.entry(k).or_default() += 1;
                }
            }
        }
    }
    let mut total: BTreeMap<(i64, &'static str, i64), i64> = BTreeMap::new();
    for (unit, counters) in own {
        let mut at = Some(unit);
        // The parent chain; the guard stops a corrupt cycle.
        let mut hops = 0;
        while let Some(u) = at {
            for (c, n) in &counters {
                let (name, bucket) = c.key();
                *total.entry((u, name, bucket)).or_default() += n;
            }
            at = parent.get(&u).copied().flatten();
            hops += 1;
            if hops > 64 {
                return Err(StoreError::Invalid(format!("org unit {unit} has more than 64 ancestors: a cycle?")));
            }
        }
    }
    add_rows(&mut tx, total).await?;
    sqlx::query(
        "INSERT INTO collector_state (name, value) VALUES ('kpi_counters', 1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // The table was just rewritten: fresh planner statistics, or PostgreSQL
    // plans the KPI reads blind until autovacuum comes by.
    sqlx::query("ANALYZE unit_counters").execute(store.pool()).await?;
    Ok(())
}

/// Builds the counters once, the first time a store has the table.
pub async fn ensure_built(store: &Store) -> Result<()> {
    if store.state_value("kpi_counters").await?.is_none() {
        rebuild(store).await?;
    }
    Ok(())
}
