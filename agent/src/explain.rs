//! `khien-agent policies list|explain`: the catalogue as people read it, so
//! that an officer can see what a level asks for before running a check.

use khien_policy::model::{Kind, Rule};
use khien_policy::{Framework, Lang, Requirement};
use khien_proto::Platform;
use serde::Serialize;
use std::fmt::Write as _;

fn w(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// One framework's summary line per level.
#[derive(Debug, Serialize)]
pub struct FrameworkSummary {
    pub id: String,
    pub status: String,
    pub title: String,
    pub base: Option<String>,
    pub valid_until: Option<String>,
    pub legal_basis: Vec<String>,
    pub levels: Vec<LevelCounts>,
}

#[derive(Debug, Serialize)]
pub struct LevelCounts {
    pub level: u8,
    pub requirements: usize,
    pub technical: usize,
    pub management: usize,
    /// Requirements with at least one automated check on this platform.
    pub automated: usize,
    pub checks: usize,
}

pub fn summary(fw: &Framework, platform: Platform, lang: Lang) -> FrameworkSummary {
    let levels = fw
        .levels
        .iter()
        .map(|&level| {
            let reqs: Vec<&Requirement> = fw.at_level(level).collect();
            LevelCounts {
                level,
                requirements: reqs.len(),
                technical: reqs.iter().filter(|r| r.kind == Kind::Technical).count(),
                management: reqs.iter().filter(|r| r.kind == Kind::Management).count(),
                automated: reqs
                    .iter()
                    .filter(|r| {
                        r.checks
                            .iter()
                            .any(|c| c.runs_on(platform) && c.min_level <= level && matches!(c.rule, Rule::Expr { .. }))
                    })
                    .count(),
                checks: reqs
                    .iter()
                    .flat_map(|r| r.checks.iter())
                    .filter(|c| c.runs_on(platform) && c.min_level <= level)
                    .count(),
            }
        })
        .collect();
    FrameworkSummary {
        id: fw.id.clone(),
        status: format!("{:?}", fw.status).to_lowercase(),
        title: fw.title.get(lang).to_string(),
        base: fw.base.clone(),
        valid_until: fw.valid_until.clone(),
        legal_basis: fw.legal_basis.clone(),
        levels,
    }
}

pub fn list_table(summaries: &[FrameworkSummary], platform: Platform, lang: Lang) -> String {
    let mut s = String::new();
    for f in summaries {
        let _ = writeln!(s, "{}  [{}]", f.id, f.status);
        let _ = writeln!(s, "  {}", f.title);
        if let Some(base) = &f.base {
            let _ = writeln!(s, "  {} {base}", w(lang, "bổ sung cho", "adds to"));
        }
        if let Some(until) = &f.valid_until {
            let _ = writeln!(s, "  {} {until}", w(lang, "áp dụng đến", "valid until"));
        }
        let _ = writeln!(
            s,
            "  {:<7} {:>9} {:>9} {:>9} {:>13} {:>9}",
            w(lang, "cấp độ", "level"),
            w(lang, "yêu cầu", "reqs"),
            w(lang, "kỹ thuật", "technical"),
            w(lang, "quản lý", "mgmt"),
            match lang {
                Lang::Vi => format!("tự động/{}", platform.as_str()),
                Lang::En => format!("auto/{}", platform.as_str()),
            },
            w(lang, "kiểm tra", "checks"),
        );
        for l in &f.levels {
            let _ = writeln!(
                s,
                "  {:<7} {:>9} {:>9} {:>9} {:>13} {:>9}",
                l.level, l.requirements, l.technical, l.management, l.automated, l.checks
            );
        }
        s.push('\n');
    }
    s
}

/// The requirement as one framework states it, with thresholds per level.
#[derive(Debug, Serialize)]
pub struct Explained {
    pub framework: String,
    pub id: String,
    pub title: String,
    pub clause: String,
    pub sources: Vec<String>,
    pub levels: Vec<u8>,
    pub roles: Vec<&'static str>,
    pub platforms: Vec<&'static str>,
    pub provenance: String,
    pub kind: String,
    pub remediation: String,
    /// Parameter → level → value.
    pub params: std::collections::BTreeMap<String, std::collections::BTreeMap<u8, String>>,
    pub checks: Vec<ExplainedCheck>,
}

#[derive(Debug, Serialize)]
pub struct ExplainedCheck {
    pub id: String,
    pub platforms: Vec<&'static str>,
    pub from_level: u8,
    pub roles: Vec<&'static str>,
    pub applies: Option<String>,
    pub expr: Option<String>,
    /// What passing means, per level (thresholds filled in).
    pub expected: Vec<(u8, String)>,
    pub manual: Option<String>,
}

pub fn explain(fw: &Framework, req: &Requirement, lang: Lang) -> Explained {
    let levels: Vec<u8> = fw.levels.iter().copied().filter(|l| req.applies_at(*l)).collect();
    let mut params = std::collections::BTreeMap::new();
    for (name, p) in &req.params {
        let per: std::collections::BTreeMap<u8, String> = levels.iter().filter_map(|l| p.at(*l).map(|v| (*l, v.to_string()))).collect();
        params.insert(name.clone(), per);
    }
    let checks = req
        .checks
        .iter()
        .map(|c| {
            let (expr, expected, manual) = match &c.rule {
                Rule::Expr { expr, expected, .. } => {
                    let mut per_level: Vec<(u8, String)> = Vec::new();
                    for l in levels.iter().copied().filter(|l| *l >= c.min_level) {
                        let text = khien_policy::model::fill_params(expected.get(lang), &req.params_at(l));
                        match per_level.last_mut() {
                            // Levels with the same wording are shown once, from the lowest.
                            Some((_, prev)) if *prev == text => {}
                            _ => per_level.push((l, text)),
                        }
                    }
                    (Some(expr.source.clone()), per_level, None)
                }
                Rule::Manual(text) => (None, Vec::new(), Some(text.get(lang).to_string())),
            };
            ExplainedCheck {
                id: c.id.rsplit('/').next().unwrap_or(&c.id).to_string(),
                platforms: c.platforms.iter().map(|p| p.as_str()).collect(),
                from_level: c.min_level,
                roles: c.roles.iter().map(|r| r.as_str()).collect(),
                applies: c.applies.as_ref().map(|a| a.source.clone()),
                expr,
                expected,
                manual,
            }
        })
        .collect();
    Explained {
        framework: fw.id.clone(),
        id: req.id.clone(),
        title: req.title.get(lang).to_string(),
        clause: req.clause.clone(),
        sources: req.sources.clone(),
        levels,
        roles: req.roles.iter().map(|r| r.as_str()).collect(),
        platforms: req.platforms.iter().map(|p| p.as_str()).collect(),
        provenance: req.provenance.to_string(),
        kind: format!("{:?}", req.kind).to_lowercase(),
        remediation: req.remediation.get(lang).to_string(),
        params,
        checks,
    }
}

fn level_range(levels: &[u8]) -> String {
    match (levels.first(), levels.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => "-".into(),
    }
}

pub fn explain_table(e: &Explained, elsewhere: &[Explained], lang: Lang) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}  {}", e.id, e.title);
    let _ = writeln!(s, "  {:<14}{}", w(lang, "khung", "framework"), e.framework);
    let _ = writeln!(s, "  {:<14}{}", w(lang, "điều khoản", "clause"), e.clause);
    if !e.sources.is_empty() {
        let _ = writeln!(s, "  {:<14}{}", w(lang, "nguồn", "sources"), e.sources.join("; "));
    }
    let _ = writeln!(s, "  {:<14}{}", w(lang, "cấp độ", "levels"), level_range(&e.levels));
    let _ = writeln!(s, "  {:<14}{}", w(lang, "vai trò", "roles"), e.roles.join(", "));
    let _ = writeln!(s, "  {:<14}{}", w(lang, "nền tảng", "platforms"), e.platforms.join(", "));
    let _ = writeln!(
        s,
        "  {:<14}{} ({})",
        w(lang, "nguồn gốc", "provenance"),
        e.provenance,
        match e.provenance.as_str() {
            "V" => w(lang, "nguyên văn", "verbatim"),
            "S" => w(lang, "nguồn thứ cấp", "secondary source"),
            _ => w(lang, "suy luận", "inferred"),
        }
    );
    let _ = writeln!(s, "  {:<14}{}", w(lang, "khắc phục", "remediation"), e.remediation);
    if !e.params.is_empty() {
        let _ = writeln!(s, "\n  {}", w(lang, "Ngưỡng theo cấp độ:", "Thresholds per level:"));
        let width = e.params.keys().map(String::len).max().unwrap_or(0).max(10);
        let mut header = format!("  {:<width$}", "");
        for l in &e.levels {
            let _ = write!(header, " | {l:<10}");
        }
        let _ = writeln!(s, "{}", header.trim_end());
        for (name, per) in &e.params {
            let mut line = format!("  {name:<width$}");
            for l in &e.levels {
                let v = per.get(l).map(String::as_str).unwrap_or("-");
                let _ = write!(line, " | {v:<10}");
            }
            let _ = writeln!(s, "{}", line.trim_end());
        }
    }
    let _ = writeln!(s, "\n  {}", w(lang, "Kiểm tra:", "Checks:"));
    for c in &e.checks {
        let kind = if c.manual.is_some() {
            w(lang, "thủ công", "manual")
        } else {
            w(lang, "tự động", "automated")
        };
        let _ = writeln!(
            s,
            "  - {} ({kind}; {}; {} {})",
            c.id,
            c.platforms.join("/"),
            w(lang, "từ cấp độ", "from level"),
            c.from_level
        );
        if let Some(a) = &c.applies {
            let _ = writeln!(s, "      {}: {a}", w(lang, "áp dụng khi", "applies when"));
        }
        if let Some(x) = &c.expr {
            let _ = writeln!(s, "      expr: {x}");
        }
        for (l, text) in &c.expected {
            let _ = writeln!(s, "      {} {l}+: {text}", w(lang, "cấp độ", "level"));
        }
        if let Some(m) = &c.manual {
            let _ = writeln!(s, "      {}: {m}", w(lang, "bằng chứng", "evidence"));
        }
    }
    if !elsewhere.is_empty() {
        let _ = writeln!(s, "\n  {}", w(lang, "Trong các khung khác:", "In the other frameworks:"));
        for o in elsewhere {
            let _ = writeln!(
                s,
                "  - {}: {} {}, {} {}, {} {}",
                o.framework,
                w(lang, "điều khoản", "clause"),
                o.clause,
                w(lang, "cấp độ", "levels"),
                level_range(&o.levels),
                w(lang, "nguồn gốc", "provenance"),
                o.provenance
            );
            for (name, per) in &o.params {
                if e.params.get(name) != Some(per) {
                    let values: Vec<String> = per.iter().map(|(l, v)| format!("{l}: {v}")).collect();
                    let _ = writeln!(s, "      {name} = {}", values.join(", "));
                }
            }
        }
    }
    s
}
