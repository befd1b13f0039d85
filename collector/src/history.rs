//! History (issue 5, item 4): a daily snapshot of every active unit's KPIs and
//! every active system's compliance, kept for `history_retention_days`, and
//! every change of an endpoint's verdict on a requirement, with the report
//! that caused it.
//!
//! The KPIs are read from counters of the present (`rollup.rs`) and
//! compliance from the verdicts and exceptions of the present; neither can be
//! asked about last month, so the past has to be written down as it happens.
//! Days are Vietnamese calendar days (UTC+7), like the dossiers' dates: the
//! snapshot of a day is taken in its first hour, and re-taking it replaces it.
//!
//! Verdict changes are written by the writer, in the transaction that stores
//! the new verdict (`ingest::plan_scope_changes` finds them), so that a change
//! is never recorded for a report that was not stored, nor lost for one that
//! was.

use crate::api::App;
use crate::compliance;
use crate::evaluate::Policies;
use crate::kpi::{DAY_MS, HOUR_MS, Ratio};
use crate::register::{self, format_date};
use crate::rollup;
use crate::scorecard::{self, SystemKpis, UnitKpis, Windows, vietnam_today};
use crate::store::{OrgUnit, Store, StoreError, System, values};
use khien_proto::{Status, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use time::Date;

type Result<T> = std::result::Result<T, StoreError>;

/// Unix day 0 (1970-01-01) as a Julian day.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// SQLite looks `$N` up linearly: statements stay under ~1000 bound values.
const MAX_VALUES: usize = 960;

/// A requirement whose status changed in one endpoint's verdict for a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictChange {
    /// Unix milliseconds.
    pub at: i64,
    /// System code, or `""` for the unit's default level.
    pub scope: String,
    pub requirement: String,
    pub old: Status,
    pub new: Status,
}

/// The requirements whose status differs between the stored and the new
/// verdict of the same scope. A scope's first verdict, a scope that goes
/// away, and a requirement on one side only (its level changed) are not
/// changes of a verdict: nothing was overturned.
pub fn diff_verdicts(
    at: i64,
    old: &HashMap<String, BTreeMap<String, Status>>,
    new: &HashMap<String, BTreeMap<String, Status>>,
) -> Vec<VerdictChange> {
    let mut out = Vec::new();
    for (scope, before) in old {
        let Some(after) = new.get(scope) else { continue };
        for (req, was) in before {
            match after.get(req) {
                Some(now) if now != was => out.push(VerdictChange {
                    at,
                    scope: scope.clone(),
                    requirement: req.clone(),
                    old: *was,
                    new: *now,
                }),
                _ => {}
            }
        }
    }
    // HashMap order would make the rows' ids differ from run to run.
    out.sort_by(|a, b| (&a.scope, &a.requirement).cmp(&(&b.scope, &b.requirement)));
    out
}

/// One row to insert: endpoint, report seq, cause, and the change.
pub type ChangeRow<'a> = (&'a str, i64, &'static str, &'a VerdictChange);

/// Inserts verdict changes inside the writer's transaction.
pub async fn insert_changes(tx: &mut Transaction<'_, Any>, rows: &[ChangeRow<'_>]) -> Result<()> {
    const COLS: usize = 8;
    for chunk in rows.chunks(MAX_VALUES / COLS) {
        let sql = format!(
            "INSERT INTO verdict_changes (at, endpoint_id, scope, requirement, old_status, new_status, report_seq, cause) VALUES {}",
            values(chunk.len(), COLS)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for (endpoint, seq, cause, c) in chunk {
            q = q
                .bind(c.at)
                .bind(*endpoint)
                .bind(c.scope.as_str())
                .bind(c.requirement.as_str())
                .bind(c.old.as_str())
                .bind(c.new.as_str())
                .bind(*seq)
                .bind(*cause);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

// ---- days ---------------------------------------------------------------------------

/// The unix millisecond at which a Vietnamese day begins (00:00 UTC+7).
pub fn day_start_ms(day: Date) -> i64 {
    (i64::from(day.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY) * DAY_MS - 7 * HOUR_MS
}

/// A `from`/`to` value: `YYYY-MM-DD`.
pub fn parse_day(field: &str, text: &str) -> Result<Date> {
    Date::parse(text.trim(), register::DATE_FORMAT)
        .map_err(|_| StoreError::Invalid(format!("{field}: {text:?} is not a date like 2026-03-16")))
}

/// The days asked for: `to` defaults to today (in Vietnam), `from` to 30 days before `to`.
pub fn range(from: Option<&str>, to: Option<&str>, now_ms: i64) -> Result<(Date, Date)> {
    let to = match to {
        Some(t) => parse_day("to", t)?,
        None => vietnam_today(now_ms),
    };
    let from = match from {
        Some(f) => parse_day("from", f)?,
        None => to.saturating_sub(time::Duration::days(30)),
    };
    if from > to {
        return Err(StoreError::Invalid(format!("from: {from} is after to ({to})")));
    }
    Ok((from, to))
}

// ---- snapshots ----------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnapshotStats {
    /// The Vietnamese day, `YYYY-MM-DD`.
    pub day: String,
    pub units: usize,
    pub systems: usize,
}

/// What a unit's snapshot keeps: its scorecard without the children.
#[derive(Serialize)]
struct UnitFigures<'a> {
    #[serde(flatten)]
    unit: &'a UnitKpis,
    systems: &'a SystemKpis,
}

/// The systems KPIs of a subtree, summed as systems are visited.
#[derive(Default)]
struct SystemTally {
    systems: i64,
    approved: i64,
    compliant: i64,
    overdue: i64,
}

impl SystemTally {
    fn kpis(&self) -> SystemKpis {
        let n = self.systems;
        SystemKpis {
            systems: n,
            dossier_approved: Ratio::new(self.approved, n),
            compliant: Ratio::new(self.compliant, n),
            assessment_overdue: Ratio::new(self.overdue, n),
        }
    }
}

struct UnitRow {
    id: i64,
    code: String,
    name: String,
    path: String,
}

/// Takes the snapshot of the Vietnamese day of `now_ms`, replacing one taken
/// earlier that day. Each system's compliance is computed once and added to
/// its owner and every ancestor; each unit's counters are read once.
pub async fn snapshot(store: &Store, policies: &Policies, now_ms: i64, w: Windows) -> Result<SnapshotStats> {
    let today = vietnam_today(now_ms);
    let day = format_date(today);

    let mut tallies: HashMap<String, SystemTally> = HashMap::new();
    let mut system_rows: Vec<(i64, bool, String)> = Vec::new();
    for rec in register::systems(store, None, false, i64::MAX, 0).await? {
        let Some(system) = store.system(&rec.code).await? else { continue };
        let c = compliance::system_compliance(store, policies, &system, now_ms).await?;
        let d = &rec.dossier;
        let approved = d.decision_number.is_some() && d.decision_date.is_some();
        let overdue = d.next_assessment_date.is_some_and(|x| x < today);
        for code in rec.org_unit_path.split('/').filter(|c| !c.is_empty()) {
            let t = tallies.entry(code.to_string()).or_default();
            t.systems += 1;
            t.approved += i64::from(approved);
            t.compliant += i64::from(c.compliant);
            t.overdue += i64::from(overdue);
        }
        let requirements: serde_json::Map<String, Value> = c
            .requirements
            .iter()
            .map(|r| (r.id.clone(), json!({"status": r.status, "counts": r.counts})))
            .collect();
        system_rows.push((system.id, c.compliant, Value::Object(requirements).to_string()));
    }

    let units: Vec<UnitRow> = sqlx::query("SELECT id, code, name, path FROM org_units WHERE retired_at IS NULL ORDER BY path")
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(UnitRow {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                path: r.try_get("path")?,
            })
        })
        .collect::<Result<_>>()?;
    let mut unit_rows: Vec<(i64, String)> = Vec::with_capacity(units.len());
    let empty_tally = SystemTally::default();
    let empty = BTreeMap::new();
    let ids: Vec<i64> = units.iter().map(|u| u.id).collect();
    let counters = rollup::read_many(store.pool(), &ids).await?;
    {
        let chunk = &units;
        for u in chunk {
            let unit = scorecard::unit_kpis((&u.code, &u.name, &u.path), counters.get(&u.id).unwrap_or(&empty), now_ms, w);
            let systems = tallies.get(&u.code).unwrap_or(&empty_tally).kpis();
            let text = serde_json::to_string(&UnitFigures {
                unit: &unit,
                systems: &systems,
            })
            .map_err(|e| StoreError::Invalid(format!("unit {}: figures: {e}", u.code)))?;
            unit_rows.push((u.id, text));
        }
    }

    let mut tx = begin(store).await?;
    // Rows of units and systems retired since an earlier snapshot of the day go too.
    sqlx::query("DELETE FROM unit_snapshots WHERE day = $1")
        .bind(&day)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM system_snapshots WHERE day = $1")
        .bind(&day)
        .execute(&mut *tx)
        .await?;
    for chunk in unit_rows.chunks(MAX_VALUES / 3) {
        // ON CONFLICT: another process (the CLI, a second collector) may take the same day's snapshot at once.
        let sql = format!(
            "INSERT INTO unit_snapshots (unit_id, day, kpis) VALUES {} ON CONFLICT (unit_id, day) DO UPDATE SET kpis = excluded.kpis",
            values(chunk.len(), 3)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for (id, kpis) in chunk {
            q = q.bind(*id).bind(&day).bind(kpis.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    for chunk in system_rows.chunks(MAX_VALUES / 4) {
        let sql = format!(
            "INSERT INTO system_snapshots (system_id, day, compliant, requirements) VALUES {}
             ON CONFLICT (system_id, day) DO UPDATE SET compliant = excluded.compliant, requirements = excluded.requirements",
            values(chunk.len(), 4)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for (id, compliant, requirements) in chunk {
            q = q.bind(*id).bind(&day).bind(i16::from(*compliant)).bind(requirements.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(SnapshotStats {
        day,
        units: unit_rows.len(),
        systems: system_rows.len(),
    })
}

async fn begin(store: &Store) -> Result<Transaction<'static, Any>> {
    store.begin_write().await
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub unit_snapshots: u64,
    pub system_snapshots: u64,
    pub verdict_changes: u64,
}

/// Deletes what is older than `retention_days` Vietnamese days before the
/// day of `now_ms`: the snapshot of that day itself stays.
pub async fn prune(store: &Store, retention_days: u32, now_ms: i64) -> Result<Pruned> {
    let cutoff = vietnam_today(now_ms).saturating_sub(time::Duration::days(i64::from(retention_days)));
    let day = format_date(cutoff);
    let mut tx = begin(store).await?;
    let unit_snapshots = sqlx::query("DELETE FROM unit_snapshots WHERE day < $1")
        .bind(&day)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let system_snapshots = sqlx::query("DELETE FROM system_snapshots WHERE day < $1")
        .bind(&day)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let verdict_changes = sqlx::query("DELETE FROM verdict_changes WHERE at < $1")
        .bind(day_start_ms(cutoff))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(Pruned {
        unit_snapshots,
        system_snapshots,
        verdict_changes,
    })
}

/// The Julian day of the last snapshot taken (`collector_state`).
const SNAPSHOT_DAY: &str = "history_snapshot_day";
/// How often the day is checked: the snapshot comes within this of midnight in Vietnam.
const CHECK_EVERY: Duration = Duration::from_secs(3600);

/// Takes the day's snapshot and prunes, unless done already today; `None` when it was.
pub async fn daily(
    store: &Store,
    policies: &Policies,
    w: Windows,
    retention_days: u32,
    now_ms: i64,
) -> Result<Option<(SnapshotStats, Pruned)>> {
    let day = i64::from(vietnam_today(now_ms).to_julian_day());
    if store.state_value(SNAPSHOT_DAY).await? == Some(day) {
        return Ok(None);
    }
    let stats = snapshot(store, policies, now_ms, w).await?;
    let pruned = prune(store, retention_days, now_ms).await?;
    store.set_state_value(SNAPSHOT_DAY, day).await?;
    Ok(Some((stats, pruned)))
}

/// Checks at start, then hourly, whether today's snapshot has been taken.
pub fn spawn(app: Arc<App>, retention_days: u32) {
    let weak = Arc::downgrade(&app);
    drop(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(app) = weak.upgrade() else { return };
            let now = Timestamp::now().unix_millis();
            match daily(&app.store, app.ingest.policies(), app.kpi_windows, retention_days, now).await {
                Ok(Some((s, p))) => tracing::info!(
                    day = %s.day, units = s.units, systems = s.systems,
                    pruned_snapshots = p.unit_snapshots + p.system_snapshots, pruned_changes = p.verdict_changes,
                    "History snapshot taken."
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "History snapshot failed; trying again within the hour."),
            }
        }
    });
}

// ---- reads --------------------------------------------------------------------------

/// A unit's snapshot of one day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitDay {
    pub day: String,
    /// The scorecard figures of that day (without the children), as written then.
    pub kpis: Value,
}

/// A system's snapshot of one day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SystemDay {
    pub day: String,
    pub compliant: bool,
    /// `{"<requirement>": {"status": …, "counts": {…}}}`
    pub requirements: Value,
}

/// The unit's snapshots of the days `from..=to`, oldest first.
pub async fn unit_series(store: &Store, unit: &OrgUnit, from: Date, to: Date) -> Result<Vec<UnitDay>> {
    let rows = sqlx::query("SELECT day, kpis FROM unit_snapshots WHERE unit_id = $1 AND day >= $2 AND day <= $3 ORDER BY day")
        .bind(unit.id)
        .bind(format_date(from))
        .bind(format_date(to))
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(UnitDay {
                day: r.try_get("day")?,
                kpis: serde_json::from_str(&r.try_get::<String, _>("kpis")?).unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// The system's snapshots of the days `from..=to`, oldest first.
pub async fn system_series(store: &Store, system: &System, from: Date, to: Date) -> Result<Vec<SystemDay>> {
    let rows = sqlx::query(
        "SELECT day, compliant, requirements FROM system_snapshots WHERE system_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
    )
    .bind(system.id)
    .bind(format_date(from))
    .bind(format_date(to))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SystemDay {
                day: r.try_get("day")?,
                compliant: r.try_get::<i16, _>("compliant")? != 0,
                requirements: serde_json::from_str(&r.try_get::<String, _>("requirements")?).unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// Whose verdict changes to read.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A system code (or `""`: default-level verdicts).
    Scope(&'a str),
    Endpoint(&'a str),
}

/// A recorded change of verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangeRecord {
    pub endpoint: String,
    pub scope: String,
    pub requirement: String,
    pub old: String,
    pub new: String,
    /// RFC 3339.
    pub at: String,
    pub report_seq: i64,
    /// `report` or `reevaluation`.
    pub cause: String,
}

/// The changes of the Vietnamese days `from..=to`, oldest first; at most
/// `limit`, the newest ones when there are more.
pub async fn verdict_changes(store: &Store, subject: Subject<'_>, from: Date, to: Date, limit: i64) -> Result<Vec<ChangeRecord>> {
    let (column, value) = match subject {
        Subject::Scope(s) => ("scope", s),
        Subject::Endpoint(e) => ("endpoint_id", e),
    };
    let sql = format!(
        "SELECT at, endpoint_id, scope, requirement, old_status, new_status, report_seq, cause FROM verdict_changes
         WHERE {column} = $1 AND at >= $2 AND at < $3 ORDER BY at DESC, id DESC LIMIT $4"
    );
    let end = to.next_day().map(day_start_ms).unwrap_or(i64::MAX);
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(value)
        .bind(day_start_ms(from))
        .bind(end)
        .bind(limit.max(0))
        .fetch_all(store.pool())
        .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            let at: i64 = r.try_get("at")?;
            Ok(ChangeRecord {
                endpoint: r.try_get("endpoint_id")?,
                scope: r.try_get("scope")?,
                requirement: r.try_get("requirement")?,
                old: r.try_get("old_status")?,
                new: r.try_get("new_status")?,
                at: Timestamp::from_unix_millis(at).map(|t| t.to_string()).unwrap_or_default(),
                report_seq: r.try_get("report_seq")?,
                cause: r.try_get("cause")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.reverse();
    Ok(out)
}

/// The answer for a unit: `GET /org-units/{code}/history`, `history --org-unit`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitHistory {
    pub org_unit: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub series: Vec<UnitDay>,
}

pub async fn unit_history(store: &Store, unit: &OrgUnit, from: Date, to: Date) -> Result<UnitHistory> {
    Ok(UnitHistory {
        org_unit: unit.code.clone(),
        name: unit.name.clone(),
        from: format_date(from),
        to: format_date(to),
        series: unit_series(store, unit, from, to).await?,
    })
}

/// The answer for a system: `GET /systems/{code}/history`, `history --system`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SystemHistory {
    pub system: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub series: Vec<SystemDay>,
    /// Its endpoints' verdict changes in the range, oldest first.
    pub changes: Vec<ChangeRecord>,
    /// More changes than the limit: the oldest were left out.
    pub changes_truncated: bool,
}

pub async fn system_history(store: &Store, system: &System, from: Date, to: Date, limit: i64) -> Result<SystemHistory> {
    let limit = limit.max(1);
    let mut changes = verdict_changes(store, Subject::Scope(&system.code), from, to, limit + 1).await?;
    let changes_truncated = changes.len() as i64 > limit;
    if changes_truncated {
        changes.remove(0);
    }
    Ok(SystemHistory {
        system: system.code.clone(),
        name: system.name.clone(),
        from: format_date(from),
        to: format_date(to),
        series: system_series(store, system, from, to).await?,
        changes,
        changes_truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(entries: &[(&str, &[(&str, Status)])]) -> HashMap<String, BTreeMap<String, Status>> {
        entries
            .iter()
            .map(|(scope, reqs)| (scope.to_string(), reqs.iter().map(|(r, s)| (r.to_string(), *s)).collect()))
            .collect()
    }

    #[test]
    fn only_overturned_statuses_are_changes() {
        let old = verdicts(&[
            ("SYS-A", &[("r1", Status::Pass), ("r2", Status::Fail), ("gone", Status::Pass)]),
            ("SYS-OLD", &[("r1", Status::Pass)]),
        ]);
        let new = verdicts(&[
            ("SYS-A", &[("r1", Status::Fail), ("r2", Status::Fail), ("added", Status::Fail)]),
            ("SYS-NEW", &[("r1", Status::Fail)]),
        ]);
        let changes = diff_verdicts(42, &old, &new);
        assert_eq!(
            changes,
            vec![VerdictChange {
                at: 42,
                scope: "SYS-A".into(),
                requirement: "r1".into(),
                old: Status::Pass,
                new: Status::Fail,
            }]
        );
        assert!(
            diff_verdicts(0, &HashMap::new(), &new).is_empty(),
            "a first verdict is not a change"
        );
    }

    #[test]
    fn vietnamese_days_begin_at_17_utc() {
        let day = Date::from_calendar_date(2026, time::Month::November, 23).unwrap();
        // 2026-11-22T17:00:00Z
        assert_eq!(day_start_ms(day), 1_795_366_800_000);
        assert_eq!(vietnam_today(day_start_ms(day)), day);
        assert_eq!(vietnam_today(day_start_ms(day) - 1), day.previous_day().unwrap());
    }

    #[test]
    fn ranges_default_to_the_last_30_days_and_name_the_field() {
        let now = 1_795_366_800_000; // the first millisecond of 2026-11-23 in Vietnam
        let (from, to) = range(None, None, now).unwrap();
        assert_eq!((format_date(from), format_date(to)), ("2026-10-24".into(), "2026-11-23".into()));
        let (from, _) = range(None, Some("2026-01-31"), now).unwrap();
        assert_eq!(format_date(from), "2026-01-01");
        let e = range(Some("2026-02-30"), None, now).unwrap_err().to_string();
        assert!(e.starts_with("from:"), "{e}");
        let e = range(Some("2026-03-02"), Some("2026-03-01"), now).unwrap_err().to_string();
        assert!(e.contains("after"), "{e}");
    }

    #[test]
    fn statements_stay_under_a_thousand_values() {
        assert_eq!(values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        for cols in [3, 4, 8] {
            assert!((MAX_VALUES / cols) * cols <= 1000);
        }
    }

    fn policies() -> Policies {
        Policies::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")).unwrap()
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .unwrap();
        (dir, store)
    }

    fn day(text: &str) -> Date {
        parse_day("day", text).unwrap()
    }

    /// Noon in Vietnam on that day.
    fn noon(text: &str) -> i64 {
        day_start_ms(day(text)) + 12 * HOUR_MS
    }

    #[tokio::test]
    async fn snapshots_are_per_vietnamese_day_replaced_and_pruned() {
        let (_dir, store) = store().await;
        let now = noon("2026-11-23");
        let root = store.upsert_org_unit("TW", None, "Root", 3, now).await.unwrap();
        store.upsert_org_unit("HN", Some("TW"), "Hà Nội", 2, now).await.unwrap();
        let policies = policies();
        let w = Windows::default();

        // 16:59:59.999 UTC is still the 22nd in Hà Nội; a millisecond later it is the 23rd.
        let first = snapshot(&store, &policies, day_start_ms(day("2026-11-23")) - 1, w).await.unwrap();
        assert_eq!((first.day.as_str(), first.units, first.systems), ("2026-11-22", 2, 0));
        snapshot(&store, &policies, day_start_ms(day("2026-11-23")), w).await.unwrap();
        // Taking a day's snapshot again replaces it.
        snapshot(&store, &policies, now, w).await.unwrap();
        let series = unit_series(&store, &root, day("2026-11-01"), day("2026-11-30")).await.unwrap();
        let days: Vec<&str> = series.iter().map(|d| d.day.as_str()).collect();
        assert_eq!(days, ["2026-11-22", "2026-11-23"]);
        assert_eq!(series[1].kpis["endpoints"], 0);
        assert_eq!(series[1].kpis["systems"]["systems"], 0);
        let only = unit_series(&store, &root, day("2026-11-23"), day("2026-11-23")).await.unwrap();
        assert_eq!(only.len(), 1);

        // Changes at the edges of the 22nd (Vietnam) and of the retention.
        let mut tx = store.pool().begin().await.unwrap();
        let change = |at: i64| VerdictChange {
            at,
            scope: "SYS".into(),
            requirement: "r".into(),
            old: Status::Pass,
            new: Status::Fail,
        };
        let edges = [
            change(day_start_ms(day("2026-11-22")) - 1),
            change(day_start_ms(day("2026-11-22"))),
            change(day_start_ms(day("2026-11-23")) - 1),
            change(day_start_ms(day("2026-11-23"))),
        ];
        let rows: Vec<ChangeRow<'_>> = edges.iter().map(|c| ("ep", 7, "report", c)).collect();
        insert_changes(&mut tx, &rows).await.unwrap();
        tx.commit().await.unwrap();
        let on_22 = verdict_changes(&store, Subject::Scope("SYS"), day("2026-11-22"), day("2026-11-22"), 100)
            .await
            .unwrap();
        assert_eq!(on_22.len(), 2, "{on_22:?}");
        assert!(on_22[0].at < on_22[1].at);
        assert_eq!(
            (on_22[0].report_seq, on_22[0].cause.as_str(), on_22[0].new.as_str()),
            (7, "report", "fail")
        );
        let newest = verdict_changes(&store, Subject::Endpoint("ep"), day("2026-11-01"), day("2026-11-30"), 1)
            .await
            .unwrap();
        assert_eq!(newest[0].at, "2026-11-22T17:00:00Z", "the limit keeps the newest");
        assert!(
            verdict_changes(&store, Subject::Scope("OTHER"), day("2026-11-01"), day("2026-11-30"), 10)
                .await
                .unwrap()
                .is_empty()
        );

        // Thirty days after the 22nd, its snapshots are exactly as old as the retention: kept;
        // the change made on the 21st in Vietnam is not.
        let pruned = prune(&store, 30, noon("2026-11-22") + 30 * DAY_MS).await.unwrap();
        assert_eq!((pruned.unit_snapshots, pruned.verdict_changes), (0, 1));
        let pruned = prune(&store, 30, noon("2026-11-22") + 31 * DAY_MS).await.unwrap();
        assert_eq!((pruned.unit_snapshots, pruned.verdict_changes), (2, 2), "the 22nd's, in Vietnam");
        let left = unit_series(&store, &root, day("2026-11-01"), day("2026-11-30")).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].day, "2026-11-23");
    }

    #[tokio::test]
    async fn the_daily_pass_runs_once_a_day() {
        let (_dir, store) = store().await;
        store.upsert_org_unit("TW", None, "Root", 3, 0).await.unwrap();
        let policies = policies();
        let now = noon("2026-11-23");
        assert!(daily(&store, &policies, Windows::default(), 730, now).await.unwrap().is_some());
        assert!(
            daily(&store, &policies, Windows::default(), 730, now + HOUR_MS)
                .await
                .unwrap()
                .is_none()
        );
        let next = daily(&store, &policies, Windows::default(), 730, now + DAY_MS).await.unwrap();
        assert_eq!(next.map(|(s, _)| s.day).as_deref(), Some("2026-11-24"));
    }
}
