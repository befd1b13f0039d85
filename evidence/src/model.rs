//! The evidence pack: plain data that the collector fills and the renderers print.
//!
//! Every text is already in the pack's [`Lang`] (the collector picks the `vi`
//! or `en` title of each requirement); the renderers add only their labels.
//! Statuses, counts and times are the wire types of `khien-proto`, so that a
//! pack says exactly what the API says.

use khien_proto::{Counts, Status, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::Date;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// `Option<Date>` as `"2026-03-16"` or `null`.
mod opt_iso_date {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use time::Date;

    #[derive(Serialize, Deserialize)]
    struct Wrap(#[serde(with = "super::iso_date")] Date);

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Wrap).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

/// The language of a pack: its texts and the renderers' labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?}: expected vi or en")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vi" => Ok(Lang::Vi),
            "en" => Ok(Lang::En),
            _ => Err(UnknownLang(s.to_string())),
        }
    }
}

/// A certification evidence pack for one information system at its level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidencePack {
    pub generated_at: Timestamp,
    pub collector: CollectorInfo,
    pub language: Lang,
    pub system: SystemInfo,
    pub summary: Summary,
    /// Every requirement in force at the system's level, in catalogue order.
    pub requirements: Vec<RequirementEvidence>,
}

/// The collector that produced (and signs) the pack.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorInfo {
    pub name: String,
    pub url: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemInfo {
    pub code: String,
    pub name: String,
    pub owner: OrgUnitRef,
    /// Cấp độ 1–5.
    pub level: u8,
    pub framework: FrameworkRef,
    pub dossier: Dossier,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgUnitRef {
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkRef {
    /// e.g. `tcvn-14423-2026`.
    pub id: String,
    /// In the pack's language, e.g. `TCVN 14423:2026`.
    pub title: String,
}

/// The approved level dossier (hồ sơ đề xuất cấp độ); any part may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dossier {
    pub decision_number: Option<String>,
    #[serde(with = "opt_iso_date")]
    pub decision_date: Option<Date>,
    pub approver: Option<String>,
    #[serde(with = "opt_iso_date")]
    pub next_assessment_date: Option<Date>,
}

/// The overall answer for the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No requirement fails, errs or waits for an attestation.
    Compliant,
    /// At least one requirement fails or could not be decided.
    NotCompliant,
    /// Nothing fails, but some `manual` requirements have no valid attestation yet.
    Pending,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Requirements in force at the system's level (the length of `requirements`).
    pub requirements: u32,
    /// Requirements whose status is `pass`.
    pub compliant: u32,
    /// Requirements whose status is `fail` or `error`.
    pub failing: u32,
    pub manual: u32,
    pub waived: u32,
    pub not_applicable: u32,
    /// Endpoints that are members of the system.
    pub endpoints: u32,
    pub verdict: Verdict,
}

impl Summary {
    /// The summary that `requirements` imply; the collector may use it or fill its own.
    pub fn from_requirements(requirements: &[RequirementEvidence], endpoints: u32) -> Self {
        let mut by = Counts::default();
        for r in requirements {
            by.add(r.status);
        }
        let failing = by.fail + by.error;
        let verdict = if failing > 0 {
            Verdict::NotCompliant
        } else if by.manual > 0 {
            Verdict::Pending
        } else {
            Verdict::Compliant
        };
        Summary {
            requirements: u32::try_from(requirements.len()).unwrap_or(u32::MAX),
            compliant: by.pass,
            failing,
            manual: by.manual,
            waived: by.waived,
            not_applicable: by.not_applicable,
            endpoints,
            verdict,
        }
    }
}

/// How sure the catalogue is of a requirement's wording (the V/S/I tags of the policies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provenance {
    /// Read verbatim in a primary text.
    V,
    /// Read in a secondary source.
    S,
    /// Inferred; to be verified against the official text.
    I,
}

impl FromStr for Provenance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "V" => Ok(Provenance::V),
            "S" => Ok(Provenance::S),
            "I" => Ok(Provenance::I),
            _ => Err(format!("unknown provenance {s:?}: expected V, S or I")),
        }
    }
}

/// One requirement of the level, with its verdict over the system's endpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementEvidence {
    /// e.g. `TK-02`.
    pub id: String,
    pub title: String,
    /// Clause of the standard, e.g. `8.3.2.1`.
    pub clause: String,
    pub provenance: Provenance,
    /// The verdict for the system.
    pub status: Status,
    /// Member endpoints per status for this requirement.
    pub counts: Counts,
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    #[serde(default)]
    pub waivers: Vec<Waiver>,
    #[serde(default)]
    pub attestations: Vec<Attestation>,
}

/// What one check saw on one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceItem {
    pub endpoint: String,
    /// `<requirement>/<check id>`.
    pub check: String,
    pub status: Status,
    pub observed: serde_json::Value,
    pub expected: String,
    /// Why the status is `error`, `not_applicable` or `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the endpoint's report that carried these facts was collected.
    pub reported_at: Timestamp,
}

/// An approved exception.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The endpoint it covers; `None` for the whole system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub reason: String,
    pub approver: String,
    pub start: Timestamp,
    pub expiry: Timestamp,
}

/// A person's statement, with its evidence file, for a `manual` requirement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub attested_by: String,
    pub attested_at: Timestamp,
    pub valid_until: Timestamp,
    pub file_name: String,
    /// SHA-256 of the evidence file, lowercase hex (its content address in the store).
    pub file_sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::demo_pack;

    #[test]
    fn json_round_trip_keeps_every_field() {
        let pack = demo_pack(Lang::Vi, 12, 3);
        let text = serde_json::to_string(&pack).unwrap();
        let back: EvidencePack = serde_json::from_str(&text).unwrap();
        assert_eq!(back, pack);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["language"], "vi");
        assert_eq!(v["system"]["dossier"]["decision_date"], "2025-06-20");
        assert_eq!(v["requirements"][0]["provenance"], "V");
    }

    #[test]
    fn summary_verdicts() {
        let mut pack = demo_pack(Lang::En, 6, 2);
        for r in &mut pack.requirements {
            r.status = Status::Pass;
        }
        assert_eq!(Summary::from_requirements(&pack.requirements, 2).verdict, Verdict::Compliant);
        pack.requirements[1].status = Status::Manual;
        pack.requirements[2].status = Status::Waived;
        let s = Summary::from_requirements(&pack.requirements, 2);
        assert_eq!((s.verdict, s.manual, s.waived, s.compliant), (Verdict::Pending, 1, 1, 4));
        pack.requirements[3].status = Status::Error;
        let s = Summary::from_requirements(&pack.requirements, 2);
        assert_eq!((s.verdict, s.failing, s.requirements), (Verdict::NotCompliant, 1, 6));
    }

    #[test]
    fn lang_parses() {
        assert_eq!("vi".parse::<Lang>().unwrap(), Lang::Vi);
        assert_eq!(" EN ".parse::<Lang>().unwrap(), Lang::En);
        assert!("fr".parse::<Lang>().is_err());
    }
}
