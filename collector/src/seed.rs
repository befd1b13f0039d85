//! Loading an organisation tree and its information systems from TOML,
//! idempotently: loading the same file twice changes nothing the second time
//! (and writes nothing to the audit log). The whole file is one transaction
//! of register changes, audited as `seed:<file>`: it loads entirely or not at
//! all. An entry updates the unit or system of its code in place (a new
//! parent or owner is a move); dossier fields left out are left as they are;
//! retired units and systems are left retired and untouched.
//!
//! ```toml
//! [[org_unit]]
//! code = "DLK"
//! parent = "TW"              # omitted for the root
//! name = "Tỉnh ủy Đắk Lắk"
//! default_level = 2
//!
//! [[system]]
//! code = "DLK-DHTN"
//! org_unit = "DLK"
//! name = "Hệ thống điều hành tác nghiệp"
//! level = 3
//! framework = "tcvn-14423-2026"
//! # The level dossier, all optional:
//! decision_number = "125-QĐ/TU"
//! decision_date = 2026-03-16          # a TOML date, or "2026-03-16"
//! approver = "Ban Thường vụ Tỉnh ủy"
//! next_assessment_date = 2027-03-16   # default: from the decision date by level; "auto" to recompute
//! ```

use crate::register::{
    self, Caller, Change, DossierChanges, Frameworks, NewSystem, NewUnit, NextAssessment, RegisterError, SystemChanges, UnitChanges,
};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub org_unit: Vec<SeedUnit>,
    #[serde(default)]
    pub system: Vec<SeedSystem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUnit {
    pub code: String,
    pub parent: Option<String>,
    pub name: String,
    pub default_level: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSystem {
    pub code: String,
    pub org_unit: String,
    pub name: String,
    pub level: u8,
    pub framework: String,
    pub decision_number: Option<String>,
    pub decision_date: Option<SeedDate>,
    pub approver: Option<String>,
    pub next_assessment_date: Option<SeedDate>,
}

/// A date written as a TOML date (`2026-03-16`) or a string (`"2026-03-16"`,
/// and `"auto"` where it means something).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedDate(pub String);

impl<'de> Deserialize<'de> for SeedDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(SeedDate(s)),
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => Ok(SeedDate(dt.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a date like 2026-03-16, found {}",
                other.type_str()
            ))),
        }
    }
}

impl SeedSystem {
    fn dossier(&self) -> Result<DossierChanges, RegisterError> {
        let subject = format!("system {}", self.code);
        let date = |field: &'static str, d: &Option<SeedDate>| {
            d.as_ref()
                .map(|d| register::parse_date(&subject, field, &d.0).map(Some))
                .transpose()
        };
        Ok(DossierChanges {
            decision_number: self.decision_number.clone().map(Some),
            decision_date: date("decision_date", &self.decision_date)?,
            approver: self.approver.clone().map(Some),
            next_assessment: self
                .next_assessment_date
                .as_ref()
                .map(|d| NextAssessment::parse(&subject, &d.0))
                .transpose()?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: {1}")]
    Parse(String, String),
    #[error("{file}: {problems}")]
    Invalid { file: String, problems: String },
    #[error("{file}: {source}")]
    Register { file: String, source: RegisterError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub org_units: usize,
    pub systems: usize,
    /// Audit records written: 0 when the register already matched the file.
    pub changes: usize,
    /// Entries left alone because their unit or system has been retired.
    pub retired: usize,
}

use register::valid_code;

impl Seed {
    pub fn read(path: &Path) -> Result<Seed, SeedError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SeedError::Read(name.clone(), e))?;
        let seed: Seed = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            SeedError::Parse(
                line.map(|l| format!("{name}:{l}")).unwrap_or(name.clone()),
                e.message().trim().to_string(),
            )
        })?;
        seed.validate(&name, None)?;
        Ok(seed)
    }

    /// Checks codes, levels, references, dossier dates and that the tree has
    /// no cycle. With `frameworks`, also that every system's framework is in
    /// the catalogue and has its level.
    pub fn validate(&self, file: &str, frameworks: Option<&Frameworks>) -> Result<(), SeedError> {
        let mut problems = Vec::new();
        let mut units = BTreeMap::new();
        for u in &self.org_unit {
            if !valid_code(&u.code) {
                problems.push(format!("org unit {:?}: a code is upper-case letters, digits and dashes", u.code));
            }
            if !(1..=5).contains(&u.default_level) {
                problems.push(format!("org unit {}: default_level {} is not 1 to 5", u.code, u.default_level));
            }
            if units.insert(u.code.as_str(), u.parent.as_deref()).is_some() {
                problems.push(format!("org unit {} is defined twice", u.code));
            }
        }
        for u in &self.org_unit {
            if let Some(p) = &u.parent
                && !units.contains_key(p.as_str())
            {
                problems.push(format!("org unit {}: parent {p} is not defined in this file", u.code));
            }
            let mut seen = BTreeSet::new();
            let mut cur = Some(u.code.as_str());
            while let Some(c) = cur {
                if !seen.insert(c) {
                    problems.push(format!("org unit {}: its parents form a cycle", u.code));
                    break;
                }
                cur = units.get(c).copied().flatten();
            }
        }
        let mut systems = BTreeSet::new();
        for s in &self.system {
            if !valid_code(&s.code) {
                problems.push(format!("system {:?}: a code is upper-case letters, digits and dashes", s.code));
            }
            if !systems.insert(s.code.as_str()) {
                problems.push(format!("system {} is defined twice", s.code));
            }
            if !(1..=5).contains(&s.level) {
                problems.push(format!("system {}: level {} is not 1 to 5", s.code, s.level));
            }
            if !units.contains_key(s.org_unit.as_str()) {
                problems.push(format!("system {}: org unit {} is not defined in this file", s.code, s.org_unit));
            }
            if let Some(fws) = frameworks
                && let Err(e) = fws.check(&format!("system {}", s.code), &s.framework, s.level)
            {
                problems.push(e.to_string());
            }
            if let Err(e) = s.dossier() {
                problems.push(e.to_string());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SeedError::Invalid {
                file: file.to_string(),
                problems: problems.join("; "),
            })
        }
    }

    /// Writes the units parents first, then the systems, in one transaction
    /// audited as `seed:<file>`.
    pub async fn load(&self, store: &Store, file: &str, frameworks: &Frameworks) -> Result<Loaded, SeedError> {
        let caller = Caller::seed(file);
        let err = |source: RegisterError| SeedError::Register {
            file: file.to_string(),
            source,
        };
        let mut c = Change::begin(store, &caller, frameworks).await.map_err(err)?;
        let mut retired = 0;
        let mut done: BTreeSet<&str> = BTreeSet::new();
        while done.len() < self.org_unit.len() {
            let before = done.len();
            for u in &self.org_unit {
                if done.contains(u.code.as_str()) || u.parent.as_deref().is_some_and(|p| !done.contains(p)) {
                    continue;
                }
                done.insert(&u.code);
                retired += usize::from(load_unit(&mut c, u).await.map_err(err)?);
            }
            if done.len() == before {
                break;
            }
        }
        for s in &self.system {
            retired += usize::from(load_system(&mut c, s).await.map_err(err)?);
        }
        let changes = c.commit().await.map_err(err)?;
        Ok(Loaded {
            org_units: self.org_unit.len(),
            systems: self.system.len(),
            changes,
            retired,
        })
    }
}

/// Creates or updates one unit; true when it is retired and was left alone.
async fn load_unit(c: &mut Change<'_>, u: &SeedUnit) -> Result<bool, RegisterError> {
    let Some(existing) = c.org_unit(&u.code).await? else {
        c.create_org_unit(&NewUnit {
            code: u.code.clone(),
            parent: u.parent.clone(),
            name: u.name.clone(),
            default_level: u.default_level,
        })
        .await?;
        return Ok(false);
    };
    if existing.retired_at.is_some() {
        return Ok(true);
    }
    c.update_org_unit(
        &u.code,
        &UnitChanges {
            name: Some(u.name.clone()),
            default_level: Some(u.default_level),
        },
    )
    .await?;
    match (&u.parent, &existing.parent) {
        (Some(p), old) if old.as_ref() != Some(p) => {
            c.move_org_unit(&u.code, p).await?;
        }
        (None, Some(old)) => {
            return Err(RegisterError::Invalid {
                subject: format!("org unit {}", u.code),
                field: "parent",
                message: format!("it is under {old} in the register; a unit cannot be made a root again"),
            });
        }
        _ => {}
    }
    Ok(false)
}

/// Creates or updates one system; true when it is retired and was left alone.
async fn load_system(c: &mut Change<'_>, s: &SeedSystem) -> Result<bool, RegisterError> {
    let dossier = s.dossier()?;
    let Some(existing) = c.system(&s.code).await? else {
        c.create_system(&NewSystem {
            code: s.code.clone(),
            org_unit: s.org_unit.clone(),
            name: s.name.clone(),
            level: s.level,
            framework: s.framework.clone(),
            dossier,
        })
        .await?;
        return Ok(false);
    };
    if existing.retired_at.is_some() {
        return Ok(true);
    }
    c.update_system(
        &s.code,
        &SystemChanges {
            name: Some(s.name.clone()),
            level: Some(s.level),
            framework: Some(s.framework.clone()),
            dossier,
        },
    )
    .await?;
    if existing.org_unit != s.org_unit {
        c.move_system(&s.code, &s.org_unit).await?;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Seed, SeedError> {
        let s: Seed = toml::from_str(text).map_err(|e| SeedError::Parse("t".into(), e.to_string()))?;
        s.validate("t", Some(&Frameworks::new([("tcvn-14423-2026".to_string(), vec![1, 2, 3, 4, 5])])))?;
        Ok(s)
    }

    #[test]
    fn the_demo_seed_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/demo.toml");
        let seed = Seed::read(&path).unwrap();
        assert!(seed.org_unit.iter().filter(|u| u.parent.is_none()).count() == 1);
        assert!(seed.system.iter().any(|s| s.code == "DLK-DHTN" && s.level == 3));
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("[[org_unit]]\ncode = \"A\"\nparent = \"B\"\nname = \"a\"\ndefault_level = 2\n").unwrap_err();
        assert!(e.to_string().contains("parent B is not defined"), "{e}");
        let e = parse(
            "[[org_unit]]\ncode = \"A\"\nparent = \"B\"\nname = \"a\"\ndefault_level = 2\n\
             [[org_unit]]\ncode = \"B\"\nparent = \"A\"\nname = \"b\"\ndefault_level = 2\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");
        let e = parse(
            "[[org_unit]]\ncode = \"A\"\nname = \"a\"\ndefault_level = 9\n\
             [[system]]\ncode = \"s\"\norg_unit = \"A\"\nname = \"x\"\nlevel = 3\nframework = \"nope\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("default_level 9") && e.contains("upper-case") && e.contains("framework: \"nope\" is not in the policies catalogue"),
            "{e}"
        );
        let e = parse(
            "[[org_unit]]\ncode = \"A\"\nname = \"a\"\ndefault_level = 2\n\
             [[system]]\ncode = \"S\"\norg_unit = \"A\"\nname = \"x\"\nlevel = 3\nframework = \"tcvn-14423-2026\"\n\
             decision_date = \"16/03/2026\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("system S: decision_date: \"16/03/2026\" is not a date"), "{e}");
        let e = parse(
            "[[org_unit]]\ncode = \"A\"\nname = \"a\"\ndefault_level = 2\n\
             [[system]]\ncode = \"S\"\norg_unit = \"A\"\nname = \"x\"\nlevel = 3\nframework = \"tcvn-14423-2026\"\n\
             decision_date = 2026-03-16T08:00:00\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("expected a date like 2026-03-16"), "{e}");
    }

    fn catalogue() -> Frameworks {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        Frameworks::from_catalogue(&khien_policy::Catalogue::open(&dir).unwrap())
    }

    #[test]
    fn demo_dossiers_are_dated_and_their_next_assessment_follows_the_level() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/demo.toml");
        let seed = Seed::read(&path).unwrap();
        seed.validate("demo.toml", Some(&catalogue())).unwrap();
        let level3: Vec<&SeedSystem> = seed.system.iter().filter(|s| s.level == 3).collect();
        assert!(!level3.is_empty());
        for s in level3 {
            assert!(s.decision_number.is_some() && s.approver.is_some(), "{} has a dossier", s.code);
            assert!(s.dossier().unwrap().decision_date.is_some(), "{} has a decision date", s.code);
        }
    }

    #[tokio::test]
    async fn loading_twice_changes_nothing_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/demo.toml");
        let seed = Seed::read(&path).unwrap();
        let fw = catalogue();
        let first = seed.load(&store, "demo.toml", &fw).await.unwrap();
        assert_eq!(first.changes, seed.org_unit.len() + seed.system.len(), "one record per creation");
        let second = seed.load(&store, "demo.toml", &fw).await.unwrap();
        assert_eq!(second.changes, 0);
        let dhtn = register::system(&store, "DLK-DHTN").await.unwrap().unwrap();
        let d = &dhtn.dossier;
        assert_eq!(
            d.next_assessment_date,
            d.decision_date.map(|date| register::next_assessment(3, date)),
            "computed from the decision date: every year at level 3"
        );
        let log = crate::audit::list(
            &store,
            &crate::audit::Filter {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(log[0].actor, "seed:demo.toml");
    }
}
