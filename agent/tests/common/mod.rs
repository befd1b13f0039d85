//! What the recorded-host tests share: the shipped catalogue's default
//! framework, one evaluation as `khien-agent check` does it, and the
//! comparison of verdicts with what a host's story implies.

use khien_policy::model::Lang;
use khien_policy::{Catalogue, FactsView, Framework, Target};
use khien_proto::{Facts, Platform, Status, Timestamp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn framework() -> Framework {
    let catalogue = Catalogue::open(&workspace().join("policies")).unwrap_or_else(|e| panic!("{e}"));
    let id = catalogue.default_framework().expect("a default framework").id.clone();
    catalogue.load(&id).unwrap_or_else(|e| panic!("{e}"))
}

/// Every check's status and message (`REQ/check`), and `REQ/<platform>` when
/// none of that platform's checks applies at that level.
pub fn evaluate(fw: &Framework, facts: &Facts, platform: Platform, level: u8, now: Timestamp) -> BTreeMap<String, (Status, String)> {
    let target = Target {
        level,
        role: facts.host.role,
        platform,
        lang: Lang::En,
        now,
        evidence: true,
    };
    fw.evaluate(&FactsView::new(facts), &target)
        .results
        .into_iter()
        .map(|r| (r.check, (r.status, r.message.unwrap_or_default())))
        .collect()
}

/// Fails listing every check whose verdict differs from the one wanted.
pub fn assert_verdicts(host: &str, level: u8, got: &BTreeMap<String, (Status, String)>, want: &[(&str, Status)]) {
    let mut problems = Vec::new();
    for (check, status) in want {
        match got.get(*check) {
            Some((s, _)) if s == status => {}
            Some((s, msg)) => problems.push(format!("{check}: {s:?} ({msg}), expected {status:?}")),
            None => problems.push(format!("{check}: no result, expected {status:?}")),
        }
    }
    assert!(problems.is_empty(), "{host} level {level}:\n{}", problems.join("\n"));
}
