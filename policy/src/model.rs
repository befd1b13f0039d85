//! The policy catalogue as validated, ready-to-evaluate types.
//!
//! The TOML shapes live in [`crate::load`]; what is here has passed validation:
//! levels are in range, every parameter has a value at every level a
//! requirement applies to, and every CEL expression compiled.

use crate::expr::Compiled;
use khien_proto::{Platform, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Presentation language. Vietnamese first: it is the language of the users
/// and of the standards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// A text in both languages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub vi: String,
    pub en: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }
}

/// Declared in the order frameworks are listed: the current one, overlays, legacy ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameworkStatus {
    /// The basis new approvals use.
    Current,
    /// Adds to a base framework for a class of systems.
    Overlay,
    /// Still valid for systems approved under it, until `valid_until`.
    Legacy,
}

/// How sure the catalogue is of a requirement's wording and values
/// (the tags of levels.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Provenance {
    /// Read verbatim in a primary text.
    V,
    /// Read in a secondary source.
    S,
    /// Inferred; to be verified against the official text.
    I,
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provenance::V => "V",
            Provenance::S => "S",
            Provenance::I => "I",
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Verified on the endpoint.
    #[default]
    Technical,
    /// Organisational; proven by attestation.
    Management,
}

/// Which platforms a check runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlatformSel {
    Any,
    Only(Platform),
}

impl PlatformSel {
    pub fn matches(self, p: Platform) -> bool {
        match self {
            PlatformSel::Any => true,
            PlatformSel::Only(q) => q == p,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PlatformSel::Any => "any",
            PlatformSel::Only(p) => p.as_str(),
        }
    }
}

/// A threshold or list value given to a check as `params.<name>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<ParamValue>),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::String(s) => f.write_str(s),
            ParamValue::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
        }
    }
}

/// A parameter: one value for every level, or a value per level.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Fixed(ParamValue),
    PerLevel(BTreeMap<u8, ParamValue>),
}

impl Param {
    pub fn at(&self, level: u8) -> Option<&ParamValue> {
        match self {
            Param::Fixed(v) => Some(v),
            Param::PerLevel(m) => m.get(&level),
        }
    }
}

#[derive(Debug)]
pub struct Framework {
    pub id: String,
    pub status: FrameworkStatus,
    pub title: Text,
    pub legal_basis: Vec<String>,
    pub levels: Vec<u8>,
    /// Last day approvals under this framework remain valid (legacy frameworks).
    pub valid_until: Option<String>,
    /// For overlays: the framework they add to.
    pub base: Option<String>,
    pub requirements: Vec<Requirement>,
    /// SHA-256 over this framework's files, so a verdict names its exact policy.
    pub digest: String,
}

impl Framework {
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// Requirements in force at `level`, in catalogue order.
    pub fn at_level(&self, level: u8) -> impl Iterator<Item = &Requirement> {
        self.requirements.iter().filter(move |r| r.applies_at(level))
    }
}

#[derive(Debug)]
pub struct Requirement {
    pub id: String,
    /// Clause of the standard, e.g. `x.10.2.1` where `x` is the level's section.
    pub clause: String,
    /// Further references: QCVN clauses, legacy TCVN 11930 clauses, circulars.
    pub sources: Vec<String>,
    pub min_level: u8,
    pub max_level: u8,
    pub roles: Vec<Role>,
    /// Platforms it claims to verify; each has at least one check.
    pub platforms: Vec<Platform>,
    pub provenance: Provenance,
    pub kind: Kind,
    pub title: Text,
    pub remediation: Text,
    pub params: BTreeMap<String, Param>,
    /// `params` as interpreter values, per level (index = level), built once at load.
    pub params_val: Vec<Box<dyn cel::common::value::Val>>,
    pub checks: Vec<Check>,
    /// The file it was read from, for messages.
    pub file: String,
}

impl Requirement {
    pub fn applies_at(&self, level: u8) -> bool {
        (self.min_level..=self.max_level).contains(&level)
    }

    /// `params` at a level, for the interpreter (an empty map outside the requirement's levels).
    pub fn params_val(&self, level: u8) -> &dyn cel::common::value::Val {
        match self.params_val.get(usize::from(level)).or(self.params_val.first()) {
            Some(v) => v.as_ref(),
            None => &cel::common::types::CelNull,
        }
    }

    /// `params` for one level, as the CEL checks see them.
    pub fn params_at(&self, level: u8) -> BTreeMap<&str, &ParamValue> {
        self.params
            .iter()
            .filter_map(|(k, p)| p.at(level).map(|v| (k.as_str(), v)))
            .collect()
    }
}

#[derive(Debug)]
pub struct Check {
    /// `<requirement>/<id>`.
    pub id: String,
    pub platforms: Vec<PlatformSel>,
    pub min_level: u8,
    /// Narrows the requirement's roles.
    pub roles: Vec<Role>,
    /// When present and false for the facts, the check is not applicable.
    pub applies: Option<Compiled>,
    pub rule: Rule,
}

impl Check {
    pub fn runs_on(&self, p: Platform) -> bool {
        self.platforms.iter().any(|s| s.matches(p))
    }
}

// A framework holds a few hundred rules at most; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Rule {
    /// Passes when `expr` is true for the facts.
    Expr {
        expr: Compiled,
        /// What to show as observed; by default the fact values `expr` reads.
        observed: Option<Compiled>,
        /// The pass condition in words; `{param}` is replaced by this level's value.
        expected: Text,
    },
    /// Needs a person's attestation; the text names the evidence to provide.
    Manual(Text),
}

/// Replaces `{name}` with the parameter's value at a level.
pub fn fill_params(template: &str, params: &BTreeMap<&str, &ParamValue>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if params.contains_key(&after[..end]) => {
                out.push_str(&params[&after[..end]].to_string());
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders of a template.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                names.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_placeholders_and_keeps_others() {
        let seven = ParamValue::Int(7);
        let ports = ParamValue::List(vec![ParamValue::Int(21), ParamValue::Int(23)]);
        let params = BTreeMap::from([("days", &seven), ("ports", &ports)]);
        assert_eq!(
            fill_params("≤ {days} days; not {ports}; {unknown} {", &params),
            "≤ 7 days; not 21, 23; {unknown} {"
        );
        assert_eq!(placeholders("{a} and {b}"), vec!["a", "b"]);
    }
}
