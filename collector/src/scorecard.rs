//! The KPI answer for an org unit's subtree (`GET /org-units/{code}/kpis`,
//! `khien-collector kpi`): endpoint KPIs read from the unit's counters
//! (rollup.rs), system KPIs over the subtree's systems, each direct child's
//! figures for the drill-down, and on request the endpoints or systems behind
//! one KPI.

use crate::compliance;
use crate::evaluate::Policies;
use crate::kpi::Counter;
use crate::kpi::{DAY_MS, EndpointKpis, HOUR_MS, Ratio, endpoint_kpis};
use crate::register;
use crate::rollup;
use crate::store::{OrgUnit, Store, StoreError};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;
use time::{Date, OffsetDateTime, UtcOffset};

type Result<T> = std::result::Result<T, StoreError>;

/// How old things may be and still count (collector.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Signatures of a running product at most this many days old are fresh.
    pub fresh_signature_days: u32,
    /// A backup agent's last success at most this many days ago is recent.
    pub backup_days: u32,
    /// A malware scan at most this many days ago is a recent sweep.
    pub sweep_days: u32,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            fresh_signature_days: 7,
            backup_days: 2,
            sweep_days: 7,
        }
    }
}

/// The KPIs of the systems owned in a subtree.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SystemKpis {
    pub systems: i64,
    pub dossier_approved: Ratio,
    pub compliant: Ratio,
    pub assessment_overdue: Ratio,
}

/// A unit's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitKpis {
    pub org_unit: String,
    pub name: String,
    pub path: String,
    #[serde(flatten)]
    pub endpoints: EndpointKpis,
    pub sweep_recent: Ratio,
    /// The newest malware sweep in the subtree, `YYYY-MM-DD` (UTC day).
    pub last_sweep: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scorecard {
    pub as_of: String,
    #[serde(flatten)]
    pub unit: UnitKpis,
    pub systems: SystemKpis,
    pub windows: WindowsJson,
    /// Each active direct child unit, for the drill-down.
    pub children: Vec<UnitKpis>,
    /// Each system behind `systems`, for pages that list them (not in the API's answer).
    #[serde(skip)]
    pub standings: Vec<SystemStanding>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowsJson {
    pub fresh_signature_days: u32,
    pub backup_days: u32,
    pub sweep_days: u32,
    pub reporting_hours: u32,
}

/// Calendar dates of dossiers are Vietnamese dates (UTC+7, no daylight saving).
pub fn vietnam_today(now_ms: i64) -> Date {
    let offset = UtcOffset::from_hms(7, 0, 0).expect("valid offset");
    OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
        .date()
}

fn day_text(day: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp(day * 86_400).ok()?;
    Some(format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
}

/// A unit's figures from its counters (`code`, `name` and `path` name it).
pub(crate) fn unit_kpis((code, name, path): (&str, &str, &str), counters: &BTreeMap<Counter, i64>, now_ms: i64, w: Windows) -> UnitKpis {
    let endpoints = endpoint_kpis(counters, now_ms, i64::from(w.fresh_signature_days), i64::from(w.backup_days));
    let today = now_ms.div_euclid(DAY_MS);
    let swept = counters
        .iter()
        .filter(|(c, _)| matches!(c, Counter::SweepDay(d) if *d >= today - i64::from(w.sweep_days)))
        .map(|(_, n)| n)
        .sum();
    UnitKpis {
        org_unit: code.to_string(),
        name: name.to_string(),
        path: path.to_string(),
        sweep_recent: Ratio::new(swept, endpoints.endpoints),
        last_sweep: endpoints.last_sweep_day.and_then(day_text),
        endpoints,
    }
}

/// The scorecard of `unit`'s subtree as of `now_ms`.
pub async fn scorecard(store: &Store, policies: &Policies, unit: &OrgUnit, now_ms: i64, w: Windows) -> Result<Scorecard> {
    let counters = rollup::read(store.pool(), unit.id).await?;
    let children = children(store, unit, now_ms, w).await?;
    let standings = standings(store, policies, &unit.path, now_ms).await?;
    let systems = system_kpis(&standings);
    Ok(Scorecard {
        as_of: khien_proto::Timestamp::from_unix_millis(now_ms)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        unit: unit_kpis((&unit.code, &unit.name, &unit.path), &counters, now_ms, w),
        systems,
        windows: WindowsJson {
            fresh_signature_days: w.fresh_signature_days,
            backup_days: w.backup_days,
            sweep_days: w.sweep_days,
            reporting_hours: 24,
        },
        children,
        standings,
    })
}

/// Each active direct child's figures: two statements, however many children.
async fn children(store: &Store, unit: &OrgUnit, now_ms: i64, w: Windows) -> Result<Vec<UnitKpis>> {
    let units = sqlx::query("SELECT id, code, name, path FROM org_units WHERE parent_id = $1 AND retired_at IS NULL ORDER BY code")
        .bind(unit.id)
        .fetch_all(store.pool())
        .await?;
    let ids: Vec<i64> = units.iter().map(|r| r.try_get("id")).collect::<std::result::Result<_, _>>()?;
    let counters = rollup::read_many(store.pool(), &ids).await?;
    let empty = BTreeMap::new();
    units
        .iter()
        .map(|r| {
            let id: i64 = r.try_get("id")?;
            let (code, name, path): (String, String, String) = (r.try_get("code")?, r.try_get("name")?, r.try_get("path")?);
            Ok(unit_kpis((&code, &name, &path), counters.get(&id).unwrap_or(&empty), now_ms, w))
        })
        .collect()
}

/// One system's standing for the system KPIs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SystemStanding {
    pub code: String,
    pub name: String,
    pub org_unit: String,
    pub level: u8,
    pub dossier_approved: bool,
    pub compliant: bool,
    pub next_assessment_date: Option<String>,
    pub assessment_overdue: bool,
}

/// The standing of each system (a dossier is approved when its decision has a
/// number and a date; an assessment is overdue when its date is before today
/// in Vietnam).
pub async fn standings(store: &Store, policies: &Policies, under: &str, now_ms: i64) -> Result<Vec<SystemStanding>> {
    let systems = register::systems(store, Some(under), false, i64::MAX, 0).await?;
    let compliant = compliance::compliant_systems(store, policies, under, now_ms).await?;
    let today = vietnam_today(now_ms);
    Ok(systems
        .into_iter()
        .map(|s| {
            let d = &s.dossier;
            SystemStanding {
                dossier_approved: d.decision_number.is_some() && d.decision_date.is_some(),
                compliant: compliant.get(&s.code).copied().unwrap_or(false),
                next_assessment_date: d.next_assessment_date.map(|x| x.to_string()),
                assessment_overdue: d.next_assessment_date.is_some_and(|x| x < today),
                code: s.code,
                name: s.name,
                org_unit: s.org_unit,
                level: s.level,
            }
        })
        .collect())
}

fn system_kpis(all: &[SystemStanding]) -> SystemKpis {
    let n = all.len() as i64;
    let count = |f: fn(&SystemStanding) -> bool| all.iter().filter(|s| f(s)).count() as i64;
    SystemKpis {
        systems: n,
        dossier_approved: Ratio::new(count(|s| s.dossier_approved), n),
        compliant: Ratio::new(count(|s| s.compliant), n),
        assessment_overdue: Ratio::new(count(|s| s.assessment_overdue), n),
    }
}

/// The KPIs that have a list behind them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
#[clap(rename_all = "snake_case")]
pub enum Kpi {
    Endpoints,
    #[serde(rename = "reporting_24h")]
    #[value(name = "reporting_24h")]
    Reporting24h,
    AvInstalled,
    AvRunning,
    AvRealtime,
    SignaturesFresh,
    FirewallDefaultDeny,
    SweepRecent,
    BackupRecent,
    DossierApproved,
    Compliant,
    AssessmentOverdue,
}

impl Kpi {
    /// For endpoint KPIs: the SQL condition an endpoint meets, and the one that
    /// puts it in the denominator; `None` for system KPIs.
    fn endpoint_condition(self, now_ms: i64, w: Windows) -> Option<(String, &'static str)> {
        let today = now_ms.div_euclid(DAY_MS);
        // The same bucket edges as the counters, so that lists and figures agree.
        let since_hour = (now_ms.div_euclid(HOUR_MS) - 23) * HOUR_MS;
        let since_day = |days: u32| (today - i64::from(days)) * DAY_MS;
        let all = "1 = 1";
        Some(match self {
            Kpi::Endpoints => (all.into(), all),
            Kpi::Reporting24h => (format!("e.last_seen >= {since_hour}"), all),
            Kpi::AvInstalled => ("e.av_installed = 1".into(), all),
            Kpi::AvRunning => ("e.av_running = 1".into(), all),
            Kpi::AvRealtime => ("e.av_realtime = 1".into(), all),
            Kpi::SignaturesFresh => (
                format!("e.av_running = 1 AND e.av_signature_time >= {}", since_day(w.fresh_signature_days)),
                all,
            ),
            Kpi::FirewallDefaultDeny => ("e.fw_default_deny = 1".into(), all),
            Kpi::SweepRecent => (format!("e.last_sweep >= {}", since_day(w.sweep_days)), all),
            Kpi::BackupRecent => (
                format!("e.backup_expected = 1 AND e.backup_last >= {}", since_day(w.backup_days)),
                "e.backup_expected = 1",
            ),
            Kpi::DossierApproved | Kpi::Compliant | Kpi::AssessmentOverdue => return None,
        })
    }
}

/// An endpoint in a KPI list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListedEndpoint {
    pub id: String,
    pub hostname: String,
    pub org_unit: String,
    pub last_seen: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Listed {
    Endpoints(Vec<ListedEndpoint>),
    Systems(Vec<SystemStanding>),
}

/// Which list: the KPI, those that meet it (`met`) or those in its
/// denominator that do not, and the page.
#[derive(Clone, Debug)]
pub struct ListQuery {
    pub kpi: Kpi,
    pub met: bool,
    /// Only those whose host name, endpoint id or unit code (systems: code,
    /// name or unit) contains this text, case-insensitively; empty: all.
    pub text: String,
    pub limit: i64,
    pub offset: i64,
}

/// The endpoints or systems of the subtree behind a KPI.
pub async fn list(store: &Store, policies: &Policies, unit: &OrgUnit, q: ListQuery, now_ms: i64, w: Windows) -> Result<Listed> {
    let ListQuery {
        kpi,
        met,
        text,
        limit,
        offset,
    } = q;
    if let Some((cond, of)) = kpi.endpoint_condition(now_ms, w) {
        let cond = if met {
            format!("({cond})")
        } else {
            format!("({of}) AND NOT COALESCE(({cond}), 1 = 0)")
        };
        let sql = format!(
            "SELECT e.id, e.hostname, o.code AS org_unit, e.last_seen FROM endpoints e JOIN org_units o ON o.id = e.org_unit_id
             WHERE o.path LIKE $1 AND e.revoked = 0 AND {cond}
               AND ($4 = '%%' OR LOWER(e.hostname) LIKE $4 ESCAPE '\\' OR LOWER(e.id) LIKE $4 ESCAPE '\\'
                    OR LOWER(o.code) LIKE $4 ESCAPE '\\')
             ORDER BY o.path, e.hostname, e.id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(format!("{}%", unit.path))
            .bind(limit)
            .bind(offset)
            .bind(crate::store::like_contains(&text))
            .fetch_all(store.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let seen: i64 = r.try_get("last_seen")?;
            out.push(ListedEndpoint {
                id: r.try_get("id")?,
                hostname: r.try_get("hostname")?,
                org_unit: r.try_get("org_unit")?,
                last_seen: (seen > 0)
                    .then(|| khien_proto::Timestamp::from_unix_millis(seen).map(|t| t.to_string()))
                    .flatten(),
            });
        }
        return Ok(Listed::Endpoints(out));
    }
    let all = standings(store, policies, &unit.path, now_ms).await?;
    let pick = |s: &SystemStanding| match kpi {
        Kpi::DossierApproved => s.dossier_approved,
        Kpi::Compliant => s.compliant,
        _ => s.assessment_overdue,
    };
    let needle = text.to_lowercase();
    let hit = |s: &SystemStanding| needle.is_empty() || [&s.code, &s.name, &s.org_unit].iter().any(|f| f.to_lowercase().contains(&needle));
    Ok(Listed::Systems(
        all.into_iter()
            .filter(|s| pick(s) == met && hit(s))
            .skip(usize::try_from(offset).unwrap_or(0))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_dates_start_at_17_utc() {
        // 2026-11-22T16:59:59Z is still the 22nd in Hà Nội; a second later it is the 23rd.
        let t = 1_795_366_799_000; // 2026-11-22T16:59:59Z
        assert_eq!(vietnam_today(t).to_string(), "2026-11-22");
        assert_eq!(vietnam_today(t + 1000).to_string(), "2026-11-23");
        assert_eq!(day_text(0).as_deref(), Some("1970-01-01"));
    }
}
