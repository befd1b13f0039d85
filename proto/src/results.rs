//! Verdicts: what a policy check concluded about one endpoint, with evidence.

use crate::facts::{Platform, Role};
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The probe behind the check failed, or the facts it needs are missing.
    Error,
    /// Not for this platform, role or configuration.
    NotApplicable,
    /// Needs an attestation by a person.
    Manual,
    /// An approved exception covers it until its expiry.
    Waived,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Error,
        Status::NotApplicable,
        Status::Manual,
        Status::Waived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::NotApplicable => "not_applicable",
            Status::Manual => "manual",
            Status::Waived => "waived",
        }
    }

    /// A required check that failed or could not be decided.
    pub fn is_problem(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was seen and what the policy wanted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The fact values the check looked at (JSON), or what it summarised of them.
    pub observed: serde_json::Value,
    /// The condition for passing, in words, with this level's thresholds filled in.
    pub expected: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub requirement: String,
    /// `<requirement>/<check id>`, unique within a framework.
    pub check: String,
    pub status: Status,
    pub evidence: Evidence,
    /// Why the status is `error`, `not_applicable` or `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Counts {
    pub pass: u32,
    pub fail: u32,
    pub error: u32,
    pub not_applicable: u32,
    pub manual: u32,
    pub waived: u32,
}

impl Counts {
    pub fn add(&mut self, status: Status) {
        *self.slot(status) += 1;
    }

    pub fn get(&self, status: Status) -> u32 {
        match status {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Error => self.error,
            Status::NotApplicable => self.not_applicable,
            Status::Manual => self.manual,
            Status::Waived => self.waived,
        }
    }

    fn slot(&mut self, status: Status) -> &mut u32 {
        match status {
            Status::Pass => &mut self.pass,
            Status::Fail => &mut self.fail,
            Status::Error => &mut self.error,
            Status::NotApplicable => &mut self.not_applicable,
            Status::Manual => &mut self.manual,
            Status::Waived => &mut self.waived,
        }
    }

    pub fn of<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Self {
        let mut counts = Counts::default();
        for r in results {
            counts.add(r.status);
        }
        counts
    }
}

/// The outcome of evaluating one framework at one level against one set of facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub framework: String,
    pub level: u8,
    pub platform: Platform,
    pub role: Role,
    pub evaluated_at: Timestamp,
    /// SHA-256 of the policy bundle the verdicts came from.
    pub policy_digest: String,
    pub counts: Counts,
    pub results: Vec<CheckResult>,
}

impl Evaluation {
    /// True when no required check failed or errored.
    pub fn compliant(&self) -> bool {
        !self.results.iter().any(|r| r.status.is_problem())
    }
}
