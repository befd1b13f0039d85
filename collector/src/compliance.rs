//! A system's compliance with its level, as every reader sees it: the
//! compliance API, the KPIs ("systems compliant with their level"), the
//! evidence pack and the history snapshots all call [`system_compliance`], so
//! they cannot disagree.
//!
//! The per-requirement counts are kept by ingest (`requirement_counts`); this
//! module turns them into one status per requirement for the system, then
//! lets approved exceptions (waivers, attestations: `exceptions.rs`) change
//! what they cover, as of `now`, so that an expired one stops counting
//! without any job running.

use crate::evaluate::Policies;
use crate::store::{OrgUnit, Store, StoreError, System};
use khien_proto::{Counts, Status};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// One requirement of the system's level.
#[derive(Clone, Debug, PartialEq)]
pub struct RequirementState {
    pub id: String,
    /// Member endpoints per status, after exceptions.
    pub counts: Counts,
    /// The requirement's status for the system, after exceptions.
    pub status: Status,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SystemCompliance {
    pub system: System,
    pub unit: OrgUnit,
    /// Member endpoints, and how many of them have a verdict for this system.
    pub members: i64,
    pub evaluated: i64,
    pub framework_installed: bool,
    pub requirements: Vec<RequirementState>,
    /// Every member evaluated, and no requirement fails or errs (after
    /// exceptions: a waived requirement is not a problem).
    pub compliant: bool,
}

/// The status of a requirement over a system's endpoints: the worst any member
/// has (fail, then error, then manual), then `waived` when a waiver is what
/// makes it met, `pass` when all pass or do not apply, `not_applicable` when
/// it applies to none, and `manual` when no member has been evaluated yet
/// (nothing shows that it is met).
pub fn rollup(c: &Counts) -> Status {
    if c.fail > 0 {
        Status::Fail
    } else if c.error > 0 {
        Status::Error
    } else if c.manual > 0 {
        Status::Manual
    } else if c.waived > 0 {
        Status::Waived
    } else if c.pass > 0 {
        Status::Pass
    } else if c.not_applicable > 0 {
        Status::NotApplicable
    } else {
        Status::Manual
    }
}

fn counts_from(map: Option<&std::collections::BTreeMap<String, i64>>) -> Counts {
    let n = |s: Status| u32::try_from(map.and_then(|m| m.get(s.as_str())).copied().unwrap_or(0)).unwrap_or(0);
    Counts {
        pass: n(Status::Pass),
        fail: n(Status::Fail),
        error: n(Status::Error),
        not_applicable: n(Status::NotApplicable),
        manual: n(Status::Manual),
        waived: n(Status::Waived),
    }
}

/// The system's compliance as of `now_ms` (unix milliseconds).
pub async fn system_compliance(store: &Store, policies: &Policies, system: &System, now_ms: i64) -> Result<SystemCompliance, StoreError> {
    let unit = store
        .org_unit_by_id(system.org_unit_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("org unit of system {}", system.code)))?;
    let (members, evaluated) = store.system_members(system).await?;
    let counts = store.requirement_counts(system.id).await?;
    let fw = policies.framework(&system.framework);
    let ids: Vec<String> = match fw {
        Some(fw) => fw.at_level(system.level).map(|r| r.id.clone()).collect(),
        None => counts.keys().cloned().collect(),
    };
    let overlay = crate::exceptions::overlay(store, system, now_ms).await?;
    let requirements: Vec<RequirementState> = ids
        .into_iter()
        .map(|id| {
            let raw = counts_from(counts.get(&id));
            let (counts, status) = if overlay.is_empty() {
                (raw, rollup(&raw))
            } else {
                overlay.apply(&id, &raw)
            };
            RequirementState { status, counts, id }
        })
        .collect();
    // A waived requirement is not a problem: that is what the waiver approves.
    let problems = requirements.iter().any(|r| r.status.is_problem());
    Ok(SystemCompliance {
        compliant: fw.is_some() && members > 0 && evaluated == members && !problems,
        framework_installed: fw.is_some(),
        system: system.clone(),
        unit,
        members,
        evaluated,
        requirements,
    })
}

/// Whether each active system owned in a subtree complies, as of `now_ms`,
/// in a few statements whatever the number of systems: the same answer as
/// [`system_compliance`], which runs only for the systems whose raw counts
/// show a problem that an active waiver might cover.
pub async fn compliant_systems(store: &Store, policies: &Policies, under: &str, now_ms: i64) -> Result<HashMap<String, bool>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.id, s.code, s.level, s.framework, s.members, s.evaluated FROM systems s JOIN org_units o ON o.id = s.org_unit_id
         WHERE o.path LIKE $1 AND s.retired_at IS NULL",
    )
    .bind(format!("{under}%"))
    .fetch_all(store.pool())
    .await?;
    let problems: HashSet<i64> = sqlx::query(
        // Driven from the systems, so that each probes its own counts by primary key.
        "SELECT s.id AS system_id FROM systems s JOIN org_units o ON o.id = s.org_unit_id
         WHERE o.path LIKE $1 AND s.retired_at IS NULL AND EXISTS (SELECT 1 FROM requirement_counts rc
             WHERE rc.system_id = s.id AND rc.status IN ('fail', 'error') AND rc.n > 0)",
    )
    .bind(format!("{under}%"))
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|r| r.try_get("system_id"))
    .collect::<Result<_, _>>()?;
    let waived = crate::exceptions::systems_with_active_waivers(store, now_ms).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let code: String = r.try_get("code")?;
        let framework: String = r.try_get("framework")?;
        let (members, evaluated): (i64, i64) = (r.try_get("members")?, r.try_get("evaluated")?);
        let ok = if !problems.contains(&id) {
            policies.framework(&framework).is_some() && members > 0 && evaluated == members
        } else if waived.contains(&id) {
            match store.system(&code).await? {
                Some(system) => system_compliance(store, policies, &system, now_ms).await?.compliant,
                None => false,
            }
        } else {
            false
        };
        out.insert(code, ok);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_member_decides() {
        let mut c = Counts::default();
        assert_eq!(rollup(&c), Status::Manual);
        c.add(Status::NotApplicable);
        assert_eq!(rollup(&c), Status::NotApplicable);
        c.add(Status::Pass);
        assert_eq!(rollup(&c), Status::Pass);
        c.add(Status::Manual);
        assert_eq!(rollup(&c), Status::Manual);
        c.add(Status::Error);
        assert_eq!(rollup(&c), Status::Error);
        c.add(Status::Fail);
        assert_eq!(rollup(&c), Status::Fail);
        // Met only because a waiver covers some members: it says so.
        let mut w = Counts::default();
        w.add(Status::Pass);
        w.add(Status::Waived);
        assert_eq!(rollup(&w), Status::Waived);
    }
}
