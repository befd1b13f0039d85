//! The software table (`agent/data/software.toml`, compiled in): how to
//! recognise each product, so that adding one is a table entry, not code.

use serde::Deserialize;

/// The built-in table.
const BUILTIN: &str = include_str!("../../../data/software.toml");

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Browser,
    Mail,
    Vpn,
    RemoteAccess,
    Backup,
    Security,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Chromium,
    Firefox,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Chromium, Family::Firefox];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Chromium => "chromium",
            Family::Firefox => "firefox",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareSpec {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub family: Option<Family>,
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub processes: Vec<String>,
    /// Managed policy locations: folders of `*.json` (chromium), `policies.json` files (firefox).
    #[serde(default)]
    pub policies: Vec<String>,
}

impl SoftwareSpec {
    /// Checks what serde cannot: the values that make an entry usable.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || !self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(format!("id {:?} must be lower-case letters, digits and dashes", self.id));
        }
        if self.packages.is_empty() && self.paths.is_empty() && self.processes.is_empty() {
            return Err("needs `packages`, `paths` or `processes` to recognise the product".into());
        }
        if (self.category == Category::Browser) != self.family.is_some() {
            return Err("`family` is required for browsers and only for them".into());
        }
        if !self.policies.is_empty() && self.family.is_none() {
            return Err("`policies` only applies to browsers".into());
        }
        if let Some(p) = self.paths.iter().chain(&self.policies).find(|p| !p.starts_with('/')) {
            return Err(format!("path {p:?} must be absolute"));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    software: Vec<SoftwareSpec>,
}

/// The built-in table; a broken one fails the build's tests, never a running agent.
pub fn builtin() -> Vec<SoftwareSpec> {
    match toml::from_str::<Table>(BUILTIN) {
        Ok(t) => t.software,
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_validates() {
        let table: Table = toml::from_str(BUILTIN).expect("agent/data/software.toml must parse");
        let mut ids = std::collections::BTreeSet::new();
        for s in &table.software {
            s.validate().unwrap_or_else(|e| panic!("{}: {e}", s.id));
            assert!(ids.insert(s.id.clone()), "duplicate id {}", s.id);
        }
        for category in [
            Category::Browser,
            Category::Mail,
            Category::Vpn,
            Category::RemoteAccess,
            Category::Backup,
            Category::Security,
        ] {
            assert!(
                table.software.iter().filter(|s| s.category == category).count() >= 3,
                "{category:?}"
            );
        }
        assert_eq!(builtin().len(), table.software.len());
    }

    #[test]
    fn invalid_entries_are_refused() {
        let base = builtin().into_iter().find(|s| s.id == "google-chrome").unwrap();
        let mut s = base.clone();
        s.family = None;
        assert!(s.validate().unwrap_err().contains("family"));
        let mut s = base.clone();
        s.policies = vec!["etc/opt/chrome".into()];
        assert!(s.validate().unwrap_err().contains("absolute"));
        let mut s = base.clone();
        s.id = "Google Chrome".into();
        assert!(s.validate().is_err());
        let mut s = base;
        s.packages.clear();
        s.paths.clear();
        assert!(s.validate().unwrap_err().contains("recognise"));
    }
}
