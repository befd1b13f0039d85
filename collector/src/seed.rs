//! Loading an organisation tree and its information systems from TOML,
//! idempotently: loading the same file twice changes nothing the second time.
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
//! ```

use crate::store::{Store, StoreError};
use khien_proto::Timestamp;
use serde::Deserialize;
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
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: {1}")]
    Parse(String, String),
    #[error("{file}: {problems}")]
    Invalid { file: String, problems: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub org_units: usize,
    pub systems: usize,
}

fn valid_code(c: &str) -> bool {
    !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

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

    /// Checks codes, levels, references and that the tree has no cycle.
    /// With `frameworks`, also that every system's framework is installed.
    pub fn validate(&self, file: &str, frameworks: Option<&[&str]>) -> Result<(), SeedError> {
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
                && !fws.contains(&s.framework.as_str())
            {
                problems.push(format!(
                    "system {}: framework {} is not installed (installed: {})",
                    s.code,
                    s.framework,
                    fws.join(", ")
                ));
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

    /// Writes the units parents first, then the systems.
    pub async fn load(&self, store: &Store) -> Result<Loaded, SeedError> {
        let now = Timestamp::now().unix_millis();
        let mut done: BTreeSet<&str> = BTreeSet::new();
        while done.len() < self.org_unit.len() {
            let before = done.len();
            for u in &self.org_unit {
                if done.contains(u.code.as_str()) || u.parent.as_deref().is_some_and(|p| !done.contains(p)) {
                    continue;
                }
                store
                    .upsert_org_unit(&u.code, u.parent.as_deref(), &u.name, u.default_level, now)
                    .await?;
                done.insert(&u.code);
            }
            if done.len() == before {
                break;
            }
        }
        for s in &self.system {
            store
                .upsert_system(&s.code, &s.org_unit, &s.name, s.level, &s.framework, now)
                .await?;
        }
        Ok(Loaded {
            org_units: self.org_unit.len(),
            systems: self.system.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Seed, SeedError> {
        let s: Seed = toml::from_str(text).map_err(|e| SeedError::Parse("t".into(), e.to_string()))?;
        s.validate("t", Some(&["tcvn-14423-2026"]))?;
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
            e.contains("default_level 9") && e.contains("upper-case") && e.contains("framework nope is not installed"),
            "{e}"
        );
    }
}
