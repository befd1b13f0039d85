//! Reading the policy catalogue from disk and validating it.
//!
//! Layout: `<root>/<framework-id>/framework.toml` holds the header; every other
//! `*.toml` file of that folder holds `[[requirement]]` tables, read in file
//! name order. Files are read once, when the catalogue is opened; a framework's
//! expressions are compiled only when it is loaded, so `check` pays for one
//! framework, not all of them.
//!
//! Every problem found is reported, each naming the file (and line where the
//! TOML parser knows it), the requirement, the check and what is wrong.

use crate::expr::{Compiled, VARIABLES};
use crate::model::{
    Check, Framework, FrameworkStatus, Kind, Param, ParamValue, PlatformSel, Provenance, Requirement, Rule, Text, placeholders,
};
use khien_proto::report::sha256_hex;
use khien_proto::{Platform, Role};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

const HEADER_FILE: &str = "framework.toml";

/// One problem in the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// `path` or `path:line`.
    pub location: String,
    pub requirement: Option<String>,
    pub check: Option<String>,
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(r) = &self.requirement {
            write!(f, "requirement {r}: ")?;
        }
        if let Some(c) = &self.check {
            write!(f, "check {c}: ")?;
        }
        f.write_str(&self.problem)
    }
}

/// Every problem found while loading; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<PolicyError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        if n > 1 {
            writeln!(f, "{n} problems in the policy catalogue:")?;
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if n > 1 {
                f.write_str("  - ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

impl LoadErrors {
    fn one(location: impl Into<String>, problem: impl Into<String>) -> Self {
        LoadErrors(vec![PolicyError {
            location: location.into(),
            requirement: None,
            check: None,
            problem: problem.into(),
        }])
    }
}

/// A framework's header, available without compiling its checks.
#[derive(Clone, Debug)]
pub struct FrameworkInfo {
    pub id: String,
    pub status: FrameworkStatus,
    pub title: Text,
    pub legal_basis: Vec<String>,
    pub levels: Vec<u8>,
    pub valid_until: Option<String>,
    pub base: Option<String>,
    pub dir: PathBuf,
    /// The framework's files, header included, sorted; read again when the framework is loaded,
    /// so that opening a catalogue costs only the headers.
    paths: Vec<PathBuf>,
}

impl FrameworkInfo {
    fn read_files(&self) -> Result<Vec<SourceFile>, LoadErrors> {
        self.paths
            .iter()
            .map(|path| {
                std::fs::read_to_string(path)
                    .map(|text| SourceFile { path: path.clone(), text })
                    .map_err(|e| LoadErrors::one(path.display().to_string(), format!("cannot read: {e}")))
            })
            .collect()
    }

    /// SHA-256 over the framework's files (name and text), the `policy_digest` of its evaluations.
    pub fn digest(&self) -> String {
        match self.read_files() {
            Ok(files) => digest_of(&files),
            // Still an identifier: it differs from any readable catalogue's.
            Err(e) => sha256_hex(e.to_string().as_bytes()),
        }
    }
}

fn digest_of(files: &[SourceFile]) -> String {
    let mut input = Vec::new();
    for f in files {
        input.extend_from_slice(f.path.file_name().unwrap_or_default().as_encoded_bytes());
        input.push(0);
        input.extend_from_slice(f.text.as_bytes());
        input.push(0);
    }
    sha256_hex(&input)
}

#[derive(Clone, Debug)]
struct SourceFile {
    path: PathBuf,
    text: String,
}

/// The frameworks found under a policies folder.
#[derive(Debug)]
pub struct Catalogue {
    pub root: PathBuf,
    pub frameworks: BTreeMap<String, FrameworkInfo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: String,
    status: FrameworkStatus,
    title: Text,
    #[serde(default)]
    legal_basis: Vec<String>,
    #[serde(default = "all_levels")]
    levels: Vec<u8>,
    valid_until: Option<String>,
    base: Option<String>,
}

fn all_levels() -> Vec<u8> {
    vec![1, 2, 3, 4, 5]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    requirement: Vec<RawRequirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: Spanned<String>,
    clause: String,
    #[serde(default)]
    sources: Vec<String>,
    min_level: u8,
    max_level: Option<u8>,
    roles: Vec<Role>,
    /// The platforms the requirement claims to cover; each needs a check.
    platforms: Vec<String>,
    provenance: Provenance,
    #[serde(default)]
    kind: Kind,
    title: Text,
    remediation: Text,
    #[serde(default)]
    params: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    check: Vec<RawCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: Spanned<String>,
    platforms: Vec<String>,
    min_level: Option<u8>,
    roles: Option<Vec<Role>>,
    applies: Option<String>,
    expr: Option<String>,
    observed: Option<String>,
    expected: Option<Text>,
    manual: Option<Text>,
}

impl Catalogue {
    /// Reads every framework under `root`. Fails when there is none, or when a
    /// header is broken: a catalogue that half loads would give half verdicts.
    pub fn open(root: &Path) -> Result<Catalogue, LoadErrors> {
        let loc = root.display().to_string();
        let entries = std::fs::read_dir(root).map_err(|e| LoadErrors::one(&loc, format!("cannot read the policies folder: {e}")))?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(HEADER_FILE).is_file())
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(LoadErrors::one(
                &loc,
                format!("no framework found (expected <framework-id>/{HEADER_FILE} under it)"),
            ));
        }
        let mut errors = Vec::new();
        let mut frameworks = BTreeMap::new();
        for dir in dirs {
            match read_framework(&dir) {
                Ok(info) => {
                    if let Some(prev) = frameworks.insert(info.id.clone(), info) {
                        errors.push(PolicyError {
                            location: prev.dir.join(HEADER_FILE).display().to_string(),
                            requirement: None,
                            check: None,
                            problem: format!("framework id {:?} is used twice", prev.id),
                        });
                    }
                }
                Err(mut e) => errors.append(&mut e.0),
            }
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        Ok(Catalogue {
            root: root.to_path_buf(),
            frameworks,
        })
    }

    /// SHA-256 over every policy file (path and text), reported with each agent report.
    pub fn digest(&self) -> String {
        let mut bundle = Vec::new();
        for info in self.frameworks.values() {
            let files = match info.read_files() {
                Ok(files) => files,
                Err(e) => {
                    bundle.extend_from_slice(e.to_string().as_bytes());
                    continue;
                }
            };
            for f in &files {
                let rel = f.path.strip_prefix(&self.root).unwrap_or(&f.path);
                bundle.extend_from_slice(rel.to_string_lossy().as_bytes());
                bundle.push(0);
                bundle.extend_from_slice(f.text.as_bytes());
                bundle.push(0);
            }
        }
        sha256_hex(&bundle)
    }

    /// The framework new assessments use when none is named.
    pub fn default_framework(&self) -> Option<&FrameworkInfo> {
        let mut current = self.frameworks.values().filter(|f| f.status == FrameworkStatus::Current);
        match (current.next(), current.next()) {
            (Some(f), None) => Some(f),
            _ => None,
        }
    }

    pub fn info(&self, id: &str) -> Option<&FrameworkInfo> {
        self.frameworks.get(id)
    }

    /// Parses, validates and compiles one framework.
    pub fn load(&self, id: &str) -> Result<Framework, LoadErrors> {
        let info = self.frameworks.get(id).ok_or_else(|| {
            let known: Vec<&str> = self.frameworks.keys().map(String::as_str).collect();
            LoadErrors::one(
                self.root.display().to_string(),
                format!("unknown framework {id:?}; known: {}", known.join(", ")),
            )
        })?;
        load_framework(info)
    }
}

fn read_framework(dir: &Path) -> Result<FrameworkInfo, LoadErrors> {
    let header_path = dir.join(HEADER_FILE);
    let loc = header_path.display().to_string();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| LoadErrors::one(dir.display().to_string(), format!("cannot read: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    let header_text = std::fs::read_to_string(&header_path).map_err(|e| LoadErrors::one(&loc, format!("cannot read: {e}")))?;
    let raw: RawHeader = toml::from_str(&header_text).map_err(|e| toml_error(&header_path, &header_text, &e))?;
    let mut problems = Vec::new();
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if raw.id != dir_name {
        problems.push(format!("id {:?} differs from its folder name {dir_name:?}", raw.id));
    }
    if raw.levels.is_empty() || raw.levels.iter().any(|l| !(1..=5).contains(l)) {
        problems.push(format!("levels {:?} must be a non-empty list of levels 1 to 5", raw.levels));
    }
    if raw.status == FrameworkStatus::Legacy && raw.valid_until.is_none() {
        problems.push("a legacy framework needs `valid_until`".into());
    }
    if raw.status == FrameworkStatus::Overlay && raw.base.is_none() {
        problems.push("an overlay framework needs `base`, the framework it adds to".into());
    }
    check_text(&raw.title, "title", &mut problems);
    if !problems.is_empty() {
        return Err(LoadErrors(
            problems
                .into_iter()
                .map(|problem| PolicyError {
                    location: loc.clone(),
                    requirement: None,
                    check: None,
                    problem,
                })
                .collect(),
        ));
    }
    Ok(FrameworkInfo {
        id: raw.id,
        status: raw.status,
        title: raw.title,
        legal_basis: raw.legal_basis,
        levels: raw.levels,
        valid_until: raw.valid_until,
        base: raw.base,
        dir: dir.to_path_buf(),
        paths,
    })
}

fn load_framework(info: &FrameworkInfo) -> Result<Framework, LoadErrors> {
    let mut errors = Vec::new();
    let mut requirements: Vec<Requirement> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let files = info.read_files()?;
    for file in files.iter().filter(|f| f.path.file_name().is_some_and(|n| n != HEADER_FILE)) {
        let raw: RawFile = match toml::from_str(&file.text) {
            Ok(raw) => raw,
            Err(e) => {
                errors.push(toml_error(&file.path, &file.text, &e).0.remove(0));
                continue;
            }
        };
        for req in raw.requirement {
            let at = Location::new(&file.path, &file.text, req.id.span().start);
            if let Some(first) = seen.get(req.id.get_ref()) {
                errors.push(at.error(Some(req.id.get_ref()), None, format!("duplicate id; first defined at {first}")));
                continue;
            }
            seen.insert(req.id.get_ref().clone(), at.to_string());
            match validate_requirement(req, info, file) {
                Ok(r) => requirements.push(r),
                Err(mut e) => errors.append(&mut e),
            }
        }
    }
    if requirements.is_empty() && errors.is_empty() {
        errors.push(PolicyError {
            location: info.dir.display().to_string(),
            requirement: None,
            check: None,
            problem: "the framework has no requirement".into(),
        });
    }
    if !errors.is_empty() {
        return Err(LoadErrors(errors));
    }
    Ok(Framework {
        id: info.id.clone(),
        status: info.status,
        title: info.title.clone(),
        legal_basis: info.legal_basis.clone(),
        levels: info.levels.clone(),
        valid_until: info.valid_until.clone(),
        base: info.base.clone(),
        requirements,
        digest: digest_of(&files),
    })
}

/// `path:line` of a byte offset in a file.
struct Location(String);

impl Location {
    fn new(path: &Path, text: &str, offset: usize) -> Self {
        let line = text[..offset.min(text.len())].matches('\n').count() + 1;
        Location(format!("{}:{line}", path.display()))
    }

    fn error(&self, requirement: Option<&str>, check: Option<&str>, problem: impl Into<String>) -> PolicyError {
        PolicyError {
            location: self.0.clone(),
            requirement: requirement.map(str::to_string),
            check: check.map(str::to_string),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns a TOML error into one naming the line and, when the error sits inside
/// a `[[requirement]]` table, that requirement's id.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> LoadErrors {
    let offset = e.span().map(|s| s.start).unwrap_or(0);
    let at = Location::new(path, text, offset);
    let requirement = e.span().and_then(|s| enclosing_requirement_id(text, s.start));
    LoadErrors(vec![at.error(requirement.as_deref(), None, e.message().trim().to_string())])
}

/// The `id` of the `[[requirement]]` table that contains `offset`, read from the source text.
fn enclosing_requirement_id(text: &str, offset: usize) -> Option<String> {
    let head = text.get(..offset)?;
    let start = head.rfind("[[requirement]]")?;
    let block = &text[start..];
    for line in block.lines().skip(1) {
        let line = line.trim();
        if line.starts_with("[[requirement]]") {
            break;
        }
        if let Some(rest) = line.strip_prefix("id")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

fn check_text(t: &Text, name: &str, problems: &mut Vec<String>) {
    if t.vi.trim().is_empty() {
        problems.push(format!("`{name}.vi` is empty"));
    }
    if t.en.trim().is_empty() {
        problems.push(format!("`{name}.en` is empty"));
    }
}

fn is_requirement_id(id: &str) -> bool {
    let (group, num) = match id.split_once('-') {
        Some(x) => x,
        None => return false,
    };
    (2..=3).contains(&group.len())
        && group.bytes().all(|b| b.is_ascii_uppercase())
        && num.len() == 2
        && num.bytes().all(|b| b.is_ascii_digit())
}

fn is_check_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn validate_requirement(raw: RawRequirement, fw: &FrameworkInfo, file: &SourceFile) -> Result<Requirement, Vec<PolicyError>> {
    let id = raw.id.get_ref().clone();
    let at = Location::new(&file.path, &file.text, raw.id.span().start);
    let mut errors = Vec::new();
    let mut problem = |p: String| errors.push(at.error(Some(&id), None, p));

    if !is_requirement_id(&id) {
        problem("id must look like `MD-01`: two or three capital letters, a dash, two digits".into());
    }
    let max_level = raw.max_level.unwrap_or(*fw.levels.iter().max().unwrap_or(&5));
    if !fw.levels.contains(&raw.min_level) {
        problem(format!(
            "min_level {} is not a level of this framework ({:?})",
            raw.min_level, fw.levels
        ));
    }
    if max_level < raw.min_level || !fw.levels.contains(&max_level) {
        problem(format!(
            "max_level {max_level} must be a level of this framework, not below min_level"
        ));
    }
    if raw.clause.trim().is_empty() {
        problem("`clause` is empty: name the clause of the standard".into());
    }
    if raw.roles.is_empty() {
        problem("`roles` is empty: list workstation, server or both".into());
    }
    let mut text_problems = Vec::new();
    check_text(&raw.title, "title", &mut text_problems);
    check_text(&raw.remediation, "remediation", &mut text_problems);
    for p in text_problems {
        problem(p);
    }
    if raw.check.is_empty() {
        problem("has no check: add an automated `expr` check or a `manual` one".into());
    }
    let mut claimed = Vec::new();
    for p in &raw.platforms {
        match Platform::parse(p) {
            Some(p) => claimed.push(p),
            None => problem(format!("unknown platform {p:?} in `platforms`; use linux, windows or macos")),
        }
    }
    if raw.platforms.is_empty() {
        problem("`platforms` is empty: list the platforms this requirement is verified on".into());
    }
    let levels: Vec<u8> = fw
        .levels
        .iter()
        .copied()
        .filter(|l| (raw.min_level..=max_level).contains(l))
        .collect();

    let mut params = BTreeMap::new();
    for (name, value) in raw.params {
        let pat = Location::new(&file.path, &file.text, value.span().start);
        match parse_param(value.into_inner(), &levels) {
            Ok(p) => {
                params.insert(name, p);
            }
            Err(p) => errors.push(pat.error(Some(&id), None, format!("params.{name}: {p}"))),
        }
    }

    let mut checks = Vec::new();
    let mut check_ids = BTreeSet::new();
    for rc in raw.check {
        let cid = rc.id.get_ref().clone();
        let cat = Location::new(&file.path, &file.text, rc.id.span().start);
        if !check_ids.insert(cid.clone()) {
            errors.push(cat.error(Some(&id), Some(&cid), "duplicate check id in this requirement"));
            continue;
        }
        match validate_check(rc, &id, raw.min_level, &raw.roles, &params) {
            Ok(c) => checks.push(c),
            Err(problems) => errors.extend(problems.into_iter().map(|p| cat.error(Some(&id), Some(&cid), p))),
        }
    }
    for p in &claimed {
        if !checks.is_empty() && !checks.iter().any(|c| c.runs_on(*p)) {
            errors.push(at.error(
                Some(&id),
                None,
                format!(
                    "claims platform {} but no check runs there; add one (a `manual` check naming the evidence will do)",
                    p.as_str()
                ),
            ));
        }
    }
    for c in &checks {
        if let Some(p) = c.platforms.iter().find_map(|s| match s {
            PlatformSel::Only(p) if !claimed.contains(p) => Some(*p),
            _ => None,
        }) {
            errors.push(at.error(
                Some(&id),
                Some(c.id.rsplit('/').next().unwrap_or(&c.id)),
                format!("runs on {} but the requirement does not claim it in `platforms`", p.as_str()),
            ));
        }
    }
    if raw.kind == Kind::Management && checks.iter().any(|c| matches!(c.rule, Rule::Expr { .. })) {
        errors.push(at.error(
            Some(&id),
            None,
            "a management requirement is attested, so its checks must be `manual`",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut requirement = Requirement {
        id,
        clause: raw.clause,
        sources: raw.sources,
        min_level: raw.min_level,
        max_level,
        roles: raw.roles,
        platforms: claimed,
        provenance: raw.provenance,
        kind: raw.kind,
        title: raw.title,
        remediation: raw.remediation,
        params,
        params_val: Vec::new(),
        checks,
        file: file.path.display().to_string(),
    };
    requirement.params_val = (0..=5u8)
        .map(|l| crate::eval::to_val(&crate::eval::params_to_cel(&requirement.params_at(l))))
        .collect();
    Ok(requirement)
}

fn parse_param(value: toml::Value, levels: &[u8]) -> Result<Param, String> {
    match value {
        toml::Value::Table(t) => {
            let mut per_level = BTreeMap::new();
            for (k, v) in t {
                let level: u8 = k
                    .parse()
                    .ok()
                    .filter(|l| levels.contains(l))
                    .ok_or_else(|| format!("key {k:?} is not a level this requirement applies to ({levels:?})"))?;
                per_level.insert(level, param_value(v)?);
            }
            let missing: Vec<u8> = levels.iter().copied().filter(|l| !per_level.contains_key(l)).collect();
            if !missing.is_empty() {
                return Err(format!("no value for level(s) {missing:?}; give one per level from {levels:?}"));
            }
            let kinds: BTreeSet<&str> = per_level.values().map(kind_of).collect();
            if kinds.len() > 1 {
                return Err(format!(
                    "values mix types ({}) across levels",
                    kinds.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            Ok(Param::PerLevel(per_level))
        }
        v => Ok(Param::Fixed(param_value(v)?)),
    }
}

fn kind_of(v: &ParamValue) -> &'static str {
    match v {
        ParamValue::Bool(_) => "bool",
        ParamValue::Int(_) | ParamValue::Float(_) => "number",
        ParamValue::String(_) => "string",
        ParamValue::List(_) => "list",
    }
}

fn param_value(v: toml::Value) -> Result<ParamValue, String> {
    Ok(match v {
        toml::Value::Boolean(b) => ParamValue::Bool(b),
        toml::Value::Integer(i) => ParamValue::Int(i),
        toml::Value::Float(f) => ParamValue::Float(f),
        toml::Value::String(s) => ParamValue::String(s),
        toml::Value::Array(items) => ParamValue::List(items.into_iter().map(param_value).collect::<Result<_, _>>()?),
        toml::Value::Datetime(d) => ParamValue::String(d.to_string()),
        toml::Value::Table(_) => return Err("a table is only allowed as the per-level form `{ 1 = …, 2 = … }`".into()),
    })
}

fn validate_check(
    rc: RawCheck,
    req_id: &str,
    req_min_level: u8,
    req_roles: &[Role],
    params: &BTreeMap<String, Param>,
) -> Result<Check, Vec<String>> {
    let mut problems = Vec::new();
    let cid = rc.id.get_ref().clone();
    if !is_check_id(&cid) {
        problems.push("id must be lower-case letters, digits and dashes (e.g. `linux`, `linux-realtime`)".into());
    }
    let mut platforms = Vec::new();
    for p in &rc.platforms {
        match p.as_str() {
            "any" => platforms.push(PlatformSel::Any),
            other => match Platform::parse(other) {
                Some(p) => platforms.push(PlatformSel::Only(p)),
                None => problems.push(format!("unknown platform {other:?}; use linux, windows, macos or any")),
            },
        }
    }
    if rc.platforms.is_empty() {
        problems.push("`platforms` is empty".into());
    }
    let min_level = rc.min_level.unwrap_or(req_min_level);
    if min_level < req_min_level {
        problems.push(format!(
            "min_level {min_level} is below the requirement's min_level {req_min_level}"
        ));
    }
    let roles = rc.roles.unwrap_or_else(|| req_roles.to_vec());
    if let Some(r) = roles.iter().find(|r| !req_roles.contains(r)) {
        problems.push(format!("role {} is not a role of the requirement", r.as_str()));
    }

    let mut compile = |what: &str, src: &str| -> Option<Compiled> {
        match Compiled::new(src) {
            Ok(c) => {
                if !c.unknown_variables.is_empty() {
                    let names: Vec<&str> = c.unknown_variables.iter().map(String::as_str).collect();
                    problems.push(format!(
                        "`{what}` uses unknown variable(s) {}; available: {}",
                        names.join(", "),
                        VARIABLES.join(", ")
                    ));
                }
                for p in &c.params {
                    if !params.contains_key(p) {
                        problems.push(format!("`{what}` reads params.{p}, which the requirement does not define"));
                    }
                }
                Some(c)
            }
            Err(e) => {
                problems.push(format!("`{what}` is not valid CEL: {e}"));
                None
            }
        }
    };
    let applies = rc.applies.as_deref().and_then(|s| compile("applies", s));
    let rule = match (rc.expr, rc.manual) {
        (Some(expr), None) => {
            let expr = compile("expr", &expr);
            let observed = rc.observed.as_deref().and_then(|s| compile("observed", s));
            match rc.expected {
                Some(expected) => {
                    let mut text_problems = Vec::new();
                    check_text(&expected, "expected", &mut text_problems);
                    problems.extend(text_problems);
                    for name in placeholders(&expected.vi).into_iter().chain(placeholders(&expected.en)) {
                        if !params.contains_key(name) {
                            problems.push(format!("`expected` mentions {{{name}}}, which is not a parameter"));
                        }
                    }
                    expr.map(|expr| Rule::Expr { expr, observed, expected })
                }
                None => {
                    problems.push("an `expr` check needs `expected`: the pass condition in words (vi and en)".into());
                    None
                }
            }
        }
        (None, Some(manual)) => {
            if rc.observed.is_some() || rc.expected.is_some() {
                problems.push("a `manual` check takes no `observed` or `expected`".into());
            }
            let mut text_problems = Vec::new();
            check_text(&manual, "manual", &mut text_problems);
            problems.extend(text_problems);
            Some(Rule::Manual(manual))
        }
        (Some(_), Some(_)) => {
            problems.push("has both `expr` and `manual`; a check is one or the other".into());
            None
        }
        (None, None) => {
            problems.push("needs `expr` (automated) or `manual` (the evidence an attestation must give)".into());
            None
        }
    };
    match rule {
        Some(rule) if problems.is_empty() => Ok(Check {
            id: format!("{req_id}/{cid}"),
            platforms,
            min_level,
            roles,
            applies,
            rule,
        }),
        _ => Err(problems),
    }
}
