//! The shipped catalogue, driven by data: `policies/tests/baseline.toml` is
//! a compliant Linux host, and each `policies/tests/<REQ>.toml` changes a few
//! facts and states the verdicts expected per check and level (the style of
//! vector's behaviour tests). The lints below keep the catalogue honest: every
//! automated check has a failing case, every threshold that differs between
//! levels is exercised at two levels, every fact a check reads exists in the
//! fact model, and every requirement of levels.md §4 and §5.1 is present.
//!
//! Case format:
//! ```toml
//! requirement = "MD-02"
//! [[case]]
//! name = "signatures ten days old"
//! levels = [2, 3]                     # or `level = 3`
//! role = "server"                     # default: workstation
//! platform = "macos"                  # the target's platform; default: linux
//! frameworks = ["tcvn-14423-2026"]    # default: every framework that has the requirement
//! set."antivirus.products.0.signature_time" = "2026-11-12T12:00:00Z"
//! expect.linux-fresh = { 2 = "pass", 3 = "fail" }
//! expect.linux-auto-update = "pass"   # the same at every level of the case
//! ```
//! Statuses are those of reports, plus `absent` when the requirement or the
//! check does not apply at that level.
//!
//! The baseline stays one set of facts: with `platform = "macos"` a case is
//! evaluated as a Mac reporting them (its `facts.macos` section filled, the
//! rest Linux-shaped unless the case sets it), which is enough for checks
//! that read a few facts each. The failing-case lint covers the Linux and
//! macOS checks; the Windows checks' cases are in
//! `agent/tests/windows_hosts.rs`, on the recorded Windows hosts.

use khien_policy::model::{Lang, Rule};
use khien_policy::{Catalogue, FactsView, Framework, Target};
use khien_proto::{Facts, Platform, Role, Timestamp};
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Requirement ids of levels.md §4 (agent-checkable) and §5.1 (PX overlay).
const REQUIRED_IDS: &[&str] = &[
    "MD-01", "MD-02", "MD-03", "MD-04", "MD-05", "MD-06", "TK-01", "TK-02", "TK-03", "TK-04", "TK-05", "TK-06", "TK-07", "TK-08", "CH-01",
    "CH-02", "CH-03", "CH-04", "CH-05", "CH-06", "LH-01", "LH-02", "LH-03", "NK-01", "NK-02", "NK-03", "NK-04", "WE-01", "WE-02", "SW-01",
    "HW-01", "TT-01", "TT-02", "SL-01", "HT-01", "HT-02", "GS-01", "PX-01", "PX-02",
];

/// Platforms whose automated checks must each have a failing case here.
const LINTED_PLATFORMS: [Platform; 2] = [Platform::Linux, Platform::Macos];

/// The shipped catalogue, or the folder `KHIEN_POLICIES` names (to try a catalogue being edited elsewhere).
fn policies() -> PathBuf {
    std::env::var_os("KHIEN_POLICIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies"))
}

fn frameworks() -> Vec<Framework> {
    let cat = Catalogue::open(&policies()).unwrap_or_else(|e| panic!("{e}"));
    cat.frameworks
        .keys()
        .map(|id| cat.load(id).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Baseline {
    now: String,
    facts: toml::Table,
}

fn baseline() -> (Timestamp, Json) {
    let path = policies().join("tests/baseline.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let b: Baseline = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let now = Timestamp::parse(&b.now).unwrap_or_else(|e| panic!("{}: now: {e}", path.display()));
    let json = serde_json::to_value(&b.facts).expect("TOML converts to JSON");
    // Through the model and back: unknown keys fail here, and every field the model has appears.
    let facts: Facts = serde_json::from_value(json).unwrap_or_else(|e| panic!("{}: facts do not fit the model: {e}", path.display()));
    (now, serde_json::to_value(&facts).expect("facts serialise"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    requirement: String,
    #[serde(default)]
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    level: Option<u8>,
    levels: Option<Vec<u8>>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    platform: Option<Platform>,
    frameworks: Option<Vec<String>>,
    #[serde(default)]
    set: BTreeMap<String, toml::Value>,
    expect: BTreeMap<String, Expect>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Expect {
    Same(String),
    PerLevel(BTreeMap<String, String>),
}

impl Case {
    fn levels(&self) -> Vec<u8> {
        match (&self.level, &self.levels) {
            (Some(l), None) => vec![*l],
            (None, Some(ls)) if !ls.is_empty() => ls.clone(),
            _ => panic!("case {:?}: give `level` or `levels`", self.name),
        }
    }

    fn expected(&self, check: &str, level: u8) -> Option<String> {
        match self.expect.get(check)? {
            Expect::Same(s) => Some(s.clone()),
            Expect::PerLevel(m) => m.get(&level.to_string()).cloned(),
        }
    }
}

/// Sets `value` at a dotted path; numeric segments index lists.
fn set_path(root: &mut Json, path: &str, value: Json) -> Result<(), String> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        cur = match cur {
            Json::Object(map) => {
                if last {
                    map.insert(seg.to_string(), value);
                    return Ok(());
                }
                map.entry(seg.to_string()).or_insert(Json::Object(Default::default()))
            }
            Json::Array(items) => {
                let idx: usize = seg.parse().map_err(|_| format!("{path}: {seg:?} indexes a list; use a number"))?;
                if idx > items.len() {
                    return Err(format!("{path}: index {idx} is past the end of a list of {}", items.len()));
                }
                if idx == items.len() {
                    // Appending: the new element starts as a copy of the first, or empty.
                    let proto = items.first().cloned().unwrap_or(Json::Object(Default::default()));
                    items.push(proto);
                }
                if last {
                    items[idx] = value;
                    return Ok(());
                }
                &mut items[idx]
            }
            Json::Null => {
                return Err(format!(
                    "{path}: {} is null in the baseline; set the whole object",
                    segs[..i].join(".")
                ));
            }
            _ => return Err(format!("{path}: {} is not an object or a list", segs[..i].join("."))),
        };
    }
    Ok(())
}

fn status_name(s: khien_proto::Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn target(level: u8, role: Role, platform: Platform, now: Timestamp) -> Target {
    Target {
        level,
        role,
        platform,
        lang: Lang::En,
        now,
        evidence: true,
    }
}

fn case_files() -> Vec<(PathBuf, CaseFile)> {
    let dir = policies().join("tests");
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.file_name().is_some_and(|n| n != "baseline.toml"))
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: CaseFile = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            file.requirement,
            stem,
            "{}: the file is named after its requirement",
            path.display()
        );
        out.push((path, file));
    }
    out
}

#[test]
fn baseline_passes_every_automated_check_everywhere() {
    let (now, json) = baseline();
    let view = FactsView::from_json(json, Vec::new());
    let mut problems = Vec::new();
    for fw in frameworks() {
        for &level in &fw.levels {
            for role in Role::ALL {
                let e = fw.evaluate(&view, &target(level, role, Platform::Linux, now));
                for r in &e.results {
                    if matches!(r.status, khien_proto::Status::Fail | khien_proto::Status::Error) {
                        problems.push(format!(
                            "{} level {level} {}: {} is {} ({})",
                            fw.id,
                            role.as_str(),
                            r.check,
                            status_name(r.status),
                            r.message.as_deref().unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "the compliant baseline must pass:\n{}", problems.join("\n"));
}

/// Runs every case; returns, per framework and check, the statuses seen per level.
fn run_cases() -> BTreeMap<(String, String), BTreeMap<(String, u8), String>> {
    let (now, base) = baseline();
    let fws = frameworks();
    let mut seen: BTreeMap<(String, String), BTreeMap<(String, u8), String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (path, file) in case_files() {
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let with_req: Vec<&Framework> = fws.iter().filter(|f| f.requirement(&file.requirement).is_some()).collect();
        assert!(!with_req.is_empty(), "{file_name}: no framework has {}", file.requirement);
        for case in &file.case {
            let mut json = base.clone();
            for (p, v) in &case.set {
                let v = serde_json::to_value(v).expect("TOML converts to JSON");
                if let Err(e) = set_path(&mut json, p, v) {
                    problems.push(format!("{file_name} / {}: {e}", case.name));
                }
            }
            let facts: Facts = match serde_json::from_value(json.clone()) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(format!("{file_name} / {}: facts do not fit the model: {e}", case.name));
                    continue;
                }
            };
            let view = FactsView::new(&facts);
            for fw in &with_req {
                if case.frameworks.as_ref().is_some_and(|l| !l.contains(&fw.id)) {
                    continue;
                }
                let req = fw.requirement(&file.requirement).unwrap();
                for check in case.expect.keys() {
                    if !req.checks.iter().any(|c| c.id.rsplit('/').next() == Some(check.as_str())) {
                        problems.push(format!(
                            "{file_name} / {}: {} has no check {check:?} in {}",
                            case.name, req.id, fw.id
                        ));
                    }
                }
                for level in case.levels() {
                    let e = fw.evaluate(
                        &view,
                        &target(level, case.role.unwrap_or_default(), case.platform.unwrap_or_default(), now),
                    );
                    for check in case.expect.keys() {
                        let full = format!("{}/{check}", req.id);
                        let got = e
                            .results
                            .iter()
                            .find(|r| r.check == full)
                            .map(|r| (status_name(r.status), r.message.clone().unwrap_or_default()))
                            .unwrap_or_else(|| ("absent".into(), String::new()));
                        seen.entry((fw.id.clone(), full.clone()))
                            .or_default()
                            .insert((case.name.clone(), level), got.0.clone());
                        if let Some(want) = case.expected(check, level)
                            && want != got.0
                        {
                            problems.push(format!(
                                "{file_name} / {} [{} level {level}]: {check} is {} ({}), expected {want}",
                                case.name, fw.id, got.0, got.1
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} case problem(s):\n{}", problems.len(), problems.join("\n"));
    seen
}

#[test]
fn cases_give_the_expected_verdicts() {
    run_cases();
}

#[test]
fn every_automated_check_has_a_failing_case_and_thresholds_are_tested_across_levels() {
    let seen = run_cases();
    let mut problems = Vec::new();
    for fw in frameworks() {
        for req in &fw.requirements {
            let varying: BTreeSet<&str> = req
                .params
                .iter()
                .filter(|(_, p)| {
                    let values: Vec<String> = fw.levels.iter().filter_map(|l| p.at(*l)).map(|v| v.to_string()).collect();
                    values.windows(2).any(|w| w[0] != w[1])
                })
                .map(|(k, _)| k.as_str())
                .collect();
            for check in &req.checks {
                let Rule::Expr { expr, .. } = &check.rule else { continue };
                // Windows checks are exercised on the recorded Windows hosts (agent/tests/windows_hosts.rs).
                if !LINTED_PLATFORMS.iter().any(|p| check.runs_on(*p)) {
                    continue;
                }
                let statuses = seen.get(&(fw.id.clone(), check.id.clone()));
                let fails = statuses.is_some_and(|s| s.values().any(|v| v == "fail"));
                if !fails {
                    problems.push(format!(
                        "{}: {} has no case where it fails (policies/tests/{}.toml)",
                        fw.id, check.id, req.id
                    ));
                }
                if expr.params.iter().any(|p| varying.contains(p.as_str())) {
                    // Some case must give this check different verdicts at two levels.
                    let mut by_case: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
                    for ((case, _), status) in statuses.into_iter().flatten() {
                        by_case.entry(case).or_default().insert(status);
                    }
                    if !by_case.values().any(|s| s.contains("pass") && s.contains("fail")) {
                        problems.push(format!(
                            "{}: {} reads a threshold that changes with the level, but no case passes at one level and fails at another",
                            fw.id, check.id
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} gap(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn checks_read_only_facts_the_model_has() {
    let (_, base) = baseline();
    let empty = serde_json::to_value(Facts::default()).unwrap();
    let mut problems = Vec::new();
    for fw in frameworks() {
        for req in &fw.requirements {
            for check in &req.checks {
                let mut compiled = Vec::new();
                if let Rule::Expr { expr, observed, .. } = &check.rule {
                    compiled.push(expr);
                    compiled.extend(observed.iter());
                }
                compiled.extend(check.applies.iter());
                for c in compiled {
                    for path in &c.fact_paths {
                        if khien_policy::expr::path_covers("packages.installed", path) {
                            problems.push(format!(
                                "{}: {} reads facts.{path}: the package inventory is not visible to policies",
                                fw.id, check.id
                            ));
                        }
                        if khien_policy::expr::lookup(&base, path).is_none() {
                            let why = if khien_policy::expr::lookup(&empty, path).is_none() && !path.contains('.') {
                                "is not in the fact model"
                            } else {
                                "is not in the fact model, or is null in policies/tests/baseline.toml (fill it there)"
                            };
                            problems.push(format!("{}: {} reads facts.{path}, which {why}", fw.id, check.id));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_requirement_of_levels_md_is_in_every_framework_on_linux() {
    let mut problems = Vec::new();
    for fw in frameworks() {
        for id in REQUIRED_IDS {
            match fw.requirement(id) {
                None => problems.push(format!("{}: {id} is missing", fw.id)),
                Some(r) if !r.platforms.contains(&Platform::Linux) => problems.push(format!("{}: {id} does not claim linux", fw.id)),
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn set_path_edits_objects_and_lists() {
    let mut j = serde_json::json!({"a": {"b": [{"c": 1}]}, "n": null});
    set_path(&mut j, "a.b.0.c", Json::from(2)).unwrap();
    set_path(&mut j, "a.b.1.c", Json::from(3)).unwrap();
    set_path(&mut j, "a.d", Json::from(true)).unwrap();
    assert_eq!(j, serde_json::json!({"a": {"b": [{"c": 2}, {"c": 3}], "d": true}, "n": null}));
    assert!(set_path(&mut j, "a.b.5.c", Json::from(1)).unwrap_err().contains("past the end"));
    assert!(set_path(&mut j, "n.x", Json::from(1)).unwrap_err().contains("null in the baseline"));
}
