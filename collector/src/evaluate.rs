//! Evaluation at the collector: the endpoint's facts against the level of
//! every information system it belongs to, with the evaluator the agent uses.
//!
//! An endpoint that belongs to no system is held to its org unit's default
//! level (scope `""`); one that belongs to several gets a verdict per system,
//! and its effective level is the highest of them (the highest-level rule of
//! Decree 85 Art. 5 and Decree 331 Đ8.2).

use crate::store::{EvaluationRow, FactsSummary, Membership, OrgUnit};
use khien_policy::{Catalogue, FactsView, Framework, Lang, Target};
use khien_proto::facts::{Facts, Role};
use khien_proto::{Evaluation, Status, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every framework of the catalogue, compiled once at start.
pub struct Policies {
    pub dir: PathBuf,
    pub digest: String,
    pub default_framework: String,
    frameworks: HashMap<String, Arc<Framework>>,
}

impl Policies {
    pub fn load(dir: &Path) -> Result<Policies, khien_policy::LoadErrors> {
        let catalogue = Catalogue::open(dir)?;
        let mut frameworks = HashMap::new();
        for id in catalogue.frameworks.keys() {
            frameworks.insert(id.clone(), Arc::new(catalogue.load(id)?));
        }
        let default_framework = catalogue
            .default_framework()
            .map(|f| f.id.clone())
            .unwrap_or_else(|| frameworks.keys().min().cloned().unwrap_or_default());
        Ok(Policies {
            dir: dir.to_path_buf(),
            digest: catalogue.digest(),
            default_framework,
            frameworks,
        })
    }

    pub fn framework(&self, id: &str) -> Option<&Arc<Framework>> {
        self.frameworks.get(id)
    }

    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.frameworks.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

/// What an endpoint is evaluated against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// System code, or `""` for the org unit's default level.
    pub code: String,
    pub system_id: Option<i64>,
    pub level: u8,
    pub framework: String,
    /// The role the register gives the endpoint in this system; `None`: the role it reports.
    pub role: Option<Role>,
}

pub fn scopes(memberships: &[Membership], unit: &OrgUnit, default_framework: &str) -> Vec<Scope> {
    if memberships.is_empty() {
        return vec![Scope {
            code: String::new(),
            system_id: None,
            level: unit.default_level,
            framework: default_framework.to_string(),
            role: None,
        }];
    }
    memberships
        .iter()
        .map(|m| Scope {
            code: m.system.code.clone(),
            system_id: Some(m.system.id),
            level: m.system.level,
            framework: m.system.framework.clone(),
            role: m.role,
        })
        .collect()
}

pub fn effective_level(scopes: &[Scope]) -> u8 {
    scopes.iter().map(|s| s.level).max().unwrap_or(0)
}

/// The verdict of one scope.
pub struct ScopeVerdict {
    pub scope: Scope,
    pub evaluation: Evaluation,
    /// Per requirement, the worst status of its checks.
    pub requirements: BTreeMap<String, Status>,
}

/// How bad a status is when a requirement's checks disagree.
fn severity(s: Status) -> u8 {
    match s {
        Status::Fail => 5,
        Status::Error => 4,
        Status::Manual => 3,
        Status::Waived => 2,
        Status::Pass => 1,
        Status::NotApplicable => 0,
    }
}

pub fn requirement_statuses(e: &Evaluation) -> BTreeMap<String, Status> {
    let mut out: BTreeMap<String, Status> = BTreeMap::new();
    for r in &e.results {
        out.entry(r.requirement.clone())
            .and_modify(|s| {
                if severity(r.status) > severity(*s) {
                    *s = r.status;
                }
            })
            .or_insert(r.status);
    }
    out
}

/// Evaluates every scope. A scope whose framework is not installed is skipped
/// and named in the returned list, so that the caller can say so. Without
/// `evidence`, only the statuses are computed (ingest keeps no evidence).
pub fn evaluate(
    policies: &Policies,
    facts: &Facts,
    view: &FactsView,
    scopes: &[Scope],
    now: Timestamp,
    evidence: bool,
) -> (Vec<ScopeVerdict>, Vec<String>) {
    let mut verdicts = Vec::with_capacity(scopes.len());
    let mut missing = Vec::new();
    for scope in scopes {
        let Some(fw) = policies.framework(&scope.framework) else {
            missing.push(format!(
                "{} ({})",
                scope.framework,
                if scope.code.is_empty() { "default level" } else { &scope.code }
            ));
            continue;
        };
        if !fw.levels.contains(&scope.level) {
            missing.push(format!("{} has no level {}", scope.framework, scope.level));
            continue;
        }
        let target = Target {
            level: scope.level,
            role: scope.role.unwrap_or(facts.host.role),
            platform: facts.platform,
            lang: Lang::Vi,
            now,
            evidence,
        };
        let evaluation = fw.evaluate(view, &target);
        let requirements = requirement_statuses(&evaluation);
        verdicts.push(ScopeVerdict {
            scope: scope.clone(),
            evaluation,
            requirements,
        });
    }
    (verdicts, missing)
}

pub fn evaluation_row(v: &ScopeVerdict, report_seq: i64) -> EvaluationRow {
    let c = &v.evaluation.counts;
    EvaluationRow {
        scope: v.scope.code.clone(),
        framework: v.scope.framework.clone(),
        level: v.scope.level,
        policy_digest: v.evaluation.policy_digest.clone(),
        report_seq,
        evaluated_at: v.evaluation.evaluated_at.unix_millis(),
        compliant: v.evaluation.compliant(),
        counts: [c.pass, c.fail, c.error, c.not_applicable, c.manual].map(i64::from),
        requirements: v.requirements.iter().map(|(k, s)| (k.clone(), s.as_str().to_string())).collect(),
    }
}

/// The endpoint columns the organisation summary counts.
pub fn summary(facts: &Facts, effective_level: u8) -> FactsSummary {
    let running: Vec<_> = facts.antivirus.products.iter().filter(|p| p.running).collect();
    FactsSummary {
        hostname: facts.host.hostname.clone(),
        platform: facts.platform.as_str().to_string(),
        role: facts.host.role.as_str().to_string(),
        effective_level,
        av_installed: facts.antivirus.products.iter().any(|p| p.installed),
        av_running: !running.is_empty(),
        av_realtime: running.iter().any(|p| p.realtime == Some(true)),
        av_signature_time: running.iter().filter_map(|p| p.signature_time).map(|t| t.unix_millis()).max(),
        fw_default_deny: facts.firewall.enabled && facts.firewall.inbound_default_deny,
        last_sweep: facts
            .antivirus
            .products
            .iter()
            .filter_map(|p| p.last_scan)
            .map(|t| t.unix_millis())
            .max(),
        backup_expected: facts.host.role == Role::Server || !facts.software.backup_agents.is_empty(),
        backup_last: facts
            .software
            .backup_agents
            .iter()
            .filter_map(|b| b.last_contact)
            .map(|t| t.unix_millis())
            .max(),
    }
}

/// Changes to a system's per-requirement counts when an endpoint's verdicts
/// go from `old` to `new` (either may be absent: joining or leaving).
pub fn count_deltas(
    system_id: i64,
    old: Option<&BTreeMap<String, Status>>,
    new: Option<&BTreeMap<String, Status>>,
) -> Vec<(i64, String, String, i64)> {
    let mut delta: BTreeMap<(String, Status), i64> = BTreeMap::new();
    for (req, s) in old.into_iter().flatten() {
        *delta.entry((req.clone(), *s)).or_default() -= 1;
    }
    for (req, s) in new.into_iter().flatten() {
        *delta.entry((req.clone(), *s)).or_default() += 1;
    }
    delta
        .into_iter()
        .filter(|(_, d)| *d != 0)
        .map(|((req, s), d)| (system_id, req, s.as_str().to_string(), d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_wins_per_requirement() {
        let e: Evaluation = serde_json::from_value(serde_json::json!({
            "framework": "f", "level": 1, "platform": "linux", "role": "server",
            "evaluated_at": "2026-01-01T00:00:00Z", "policy_digest": "d",
            "counts": {},
            "results": [
                {"requirement": "MD-01", "check": "MD-01/a", "status": "pass", "evidence": {"observed": null, "expected": ""}},
                {"requirement": "MD-01", "check": "MD-01/b", "status": "fail", "evidence": {"observed": null, "expected": ""}},
                {"requirement": "QL-01", "check": "QL-01/a", "status": "manual", "evidence": {"observed": null, "expected": ""}},
                {"requirement": "CH-05", "check": "CH-05/windows", "status": "not_applicable", "evidence": {"observed": null, "expected": ""}}
            ]
        }))
        .unwrap();
        let s = requirement_statuses(&e);
        assert_eq!(s["MD-01"], Status::Fail);
        assert_eq!(s["QL-01"], Status::Manual);
        assert_eq!(s["CH-05"], Status::NotApplicable);
    }

    #[test]
    fn deltas_move_one_endpoint_between_statuses() {
        let old = BTreeMap::from([("MD-01".to_string(), Status::Fail), ("CH-02".to_string(), Status::Pass)]);
        let new = BTreeMap::from([("MD-01".to_string(), Status::Pass), ("CH-02".to_string(), Status::Pass)]);
        let mut d = count_deltas(7, Some(&old), Some(&new));
        d.sort();
        assert_eq!(
            d,
            vec![
                (7, "MD-01".to_string(), "fail".to_string(), -1),
                (7, "MD-01".to_string(), "pass".to_string(), 1)
            ]
        );
        assert_eq!(count_deltas(7, None, Some(&new)).len(), 2);
        assert!(count_deltas(7, Some(&new), None).iter().all(|x| x.3 == -1));
        assert!(count_deltas(7, Some(&new), Some(&new)).is_empty());
    }

    #[test]
    fn default_scope_without_systems_and_highest_level_with() {
        let unit = OrgUnit {
            id: 1,
            code: "DLK".into(),
            parent_id: None,
            name: "x".into(),
            default_level: 2,
            path: "/DLK/".into(),
            retired_at: None,
        };
        let s = scopes(&[], &unit, "tcvn-14423-2026");
        assert_eq!(s[0].code, "");
        assert_eq!(effective_level(&s), 2);
        let sys = |code: &str, level, role| Membership {
            system: crate::store::System {
                id: 1,
                code: code.into(),
                org_unit_id: 1,
                name: "x".into(),
                level,
                framework: "tcvn-14423-2026".into(),
                retired_at: None,
            },
            role,
        };
        let s = scopes(&[sys("A", 3, None), sys("B", 4, Some(Role::Server))], &unit, "tcvn-14423-2026");
        assert_eq!(effective_level(&s), 4);
        assert_eq!(
            (s[0].role, s[1].role),
            (None, Some(Role::Server)),
            "the register's role rides with its scope"
        );
    }
}
