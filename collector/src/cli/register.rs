//! `khien-collector org-unit|system|audit …` and `endpoint systems`: the
//! register from the command line. Changes are audited as `cli:<os user>`.

use super::{DataDir, settings};
use crate::audit;
use crate::config::Settings;
use crate::register::{
    self, Caller, DossierChanges, Frameworks, Member, NewSystem, NewUnit, NextAssessment, RegisterError, SystemChanges, UnitChanges,
};
use crate::store::Store;
use clap::{Args, Subcommand, ValueEnum};
use khien_proto::Timestamp;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct Listing {
    /// Only this org unit's subtree
    #[arg(long, value_name = "CODE")]
    pub org_unit: Option<String>,
    /// Include retired ones
    #[arg(long)]
    pub retired: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum OrgUnitCommand {
    /// Create an org unit under a parent (or a root, without --parent)
    Create {
        #[command(flatten)]
        data: DataDir,
        /// Code: ASCII upper-case letters, digits and dashes
        code: String,
        #[arg(long, value_name = "CODE")]
        parent: Option<String>,
        #[arg(long)]
        name: String,
        /// Level for its endpoints that belong to no system (an agency LAN is level 2)
        #[arg(long, default_value_t = 2)]
        default_level: u8,
    },
    /// Change an org unit's name or default level
    Update {
        #[command(flatten)]
        data: DataDir,
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        default_level: Option<u8>,
    },
    /// Move an org unit, with its whole subtree, under another parent
    Move {
        #[command(flatten)]
        data: DataDir,
        code: String,
        #[arg(long, value_name = "CODE")]
        parent: String,
    },
    /// Retire an org unit that has no active child unit, system or endpoint left
    Retire {
        #[command(flatten)]
        data: DataDir,
        code: String,
    },
    /// List org units in tree order
    List {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        listing: Listing,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct DossierArgs {
    /// Number of the level approval decision ('' clears it)
    #[arg(long, value_name = "TEXT")]
    pub decision_number: Option<String>,
    /// Date of the decision, YYYY-MM-DD ('' clears it)
    #[arg(long, value_name = "DATE")]
    pub decision_date: Option<String>,
    /// Who approved the level ('' clears it)
    #[arg(long, value_name = "TEXT")]
    pub approver: Option<String>,
    /// Next periodic assessment, YYYY-MM-DD, or `auto`: computed from the decision date by level
    #[arg(long, value_name = "DATE|auto")]
    pub next_assessment_date: Option<String>,
}

impl DossierArgs {
    fn changes(&self, subject: &str) -> Result<DossierChanges, RegisterError> {
        let text = |v: &Option<String>| v.as_ref().map(|t| (!t.trim().is_empty()).then(|| t.clone()));
        let decision_date = match self.decision_date.as_deref() {
            None => None,
            Some(t) if t.trim().is_empty() => Some(None),
            Some(t) => Some(Some(register::parse_date(subject, "decision_date", t)?)),
        };
        Ok(DossierChanges {
            decision_number: text(&self.decision_number),
            decision_date,
            approver: text(&self.approver),
            next_assessment: self
                .next_assessment_date
                .as_deref()
                .map(|t| NextAssessment::parse(subject, t))
                .transpose()?,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Create an information system owned by an org unit
    Create {
        #[command(flatten)]
        data: DataDir,
        code: String,
        /// The owner unit
        #[arg(long, value_name = "CODE")]
        org_unit: String,
        #[arg(long)]
        name: String,
        /// Approved level (1–5)
        #[arg(long)]
        level: u8,
        /// Framework id from the policies catalogue [default: the current one]
        #[arg(long)]
        framework: Option<String>,
        #[command(flatten)]
        dossier: DossierArgs,
        /// Policies folder, for the frameworks and their levels
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Change a system's name, level, framework or dossier
    Update {
        #[command(flatten)]
        data: DataDir,
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        level: Option<u8>,
        #[arg(long)]
        framework: Option<String>,
        #[command(flatten)]
        dossier: DossierArgs,
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Give a system to another owner unit
    Move {
        #[command(flatten)]
        data: DataDir,
        code: String,
        #[arg(long, value_name = "CODE")]
        org_unit: String,
    },
    /// Retire a system: its members are evaluated without it from then on
    Retire {
        #[command(flatten)]
        data: DataDir,
        code: String,
    },
    /// List systems with their levels and dossiers
    List {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        listing: Listing,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit records, newest first
    List {
        #[command(flatten)]
        data: DataDir,
        /// Records about this org unit's subtree
        #[arg(long, value_name = "CODE")]
        org_unit: Option<String>,
        /// From this date (UTC) or RFC 3339 time
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Up to the end of this date (UTC), or this RFC 3339 time
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

async fn open(data: &DataDir) -> anyhow::Result<(Settings, Store)> {
    let settings = settings(data)?;
    let store = Store::connect(&settings.database).await?;
    Ok((settings, store))
}

/// The frameworks of the policies catalogue (headers only: nothing is
/// compiled), and its current framework.
pub fn catalogue(flag: Option<&Path>, settings: &Settings) -> anyhow::Result<(Frameworks, String)> {
    let dir = khien_policy::locate::find(flag.or(settings.policies_dir.as_deref()), None)?;
    let c = khien_policy::Catalogue::open(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let default = c
        .default_framework()
        .map(|f| f.id.clone())
        .or_else(|| c.frameworks.keys().next().cloned())
        .unwrap_or_default();
    Ok((Frameworks::from_catalogue(&c), default))
}

fn iso(ms: Option<i64>) -> String {
    ms.and_then(Timestamp::from_unix_millis).map(|t| t.to_string()).unwrap_or_default()
}

/// Columns padded to their widest cell (in characters: Vietnamese names are
/// precomposed, one character per glyph).
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w - c.chars().count() + 2));
            }
        }
        println!("{}", s.trim_end());
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// The subtree path of `--org-unit`.
async fn under(store: &Store, org_unit: Option<&str>) -> anyhow::Result<Option<String>> {
    match org_unit {
        Some(code) => Ok(Some(
            register::org_unit(store, code)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no org unit {code}"))?
                .path,
        )),
        None => Ok(None),
    }
}

pub async fn org_unit(command: OrgUnitCommand) -> anyhow::Result<()> {
    let caller = Caller::cli();
    // Org units name no framework.
    let none = Frameworks::default();
    match command {
        OrgUnitCommand::Create {
            data,
            code,
            parent,
            name,
            default_level,
        } => {
            let (_, store) = open(&data).await?;
            let unit = NewUnit {
                code,
                parent,
                name,
                default_level,
            };
            let u = register::apply(&store, &caller, &none, async |c| c.create_org_unit(&unit).await).await?;
            println!("Created org unit {} ({})", u.code, u.path);
        }
        OrgUnitCommand::Update {
            data,
            code,
            name,
            default_level,
        } => {
            let (_, store) = open(&data).await?;
            let changes = UnitChanges { name, default_level };
            let u = register::apply(&store, &caller, &none, async |c| c.update_org_unit(&code, &changes).await).await?;
            println!("Org unit {}: {}, default level {}", u.code, u.name, u.default_level);
        }
        OrgUnitCommand::Move { data, code, parent } => {
            let (_, store) = open(&data).await?;
            let u = register::apply(&store, &caller, &none, async |c| c.move_org_unit(&code, &parent).await).await?;
            println!("Moved org unit {} and its subtree to {}", u.code, u.path);
        }
        OrgUnitCommand::Retire { data, code } => {
            let (_, store) = open(&data).await?;
            let u = register::apply(&store, &caller, &none, async |c| c.retire_org_unit(&code).await).await?;
            println!("Retired org unit {} at {}", u.code, iso(u.retired_at));
        }
        OrgUnitCommand::List { data, listing } => {
            let (_, store) = open(&data).await?;
            let path = under(&store, listing.org_unit.as_deref()).await?;
            let units = register::org_units(&store, path.as_deref(), listing.retired, i64::MAX, 0).await?;
            match listing.format {
                Format::Json => print_json(&json!(units.iter().map(register::UnitRecord::json).collect::<Vec<_>>())),
                Format::Table => {
                    let rows: Vec<Vec<String>> = units
                        .iter()
                        .map(|u| {
                            let depth = u.path.matches('/').count().saturating_sub(2);
                            vec![
                                format!("{}{}", "  ".repeat(depth), u.code),
                                u.parent.clone().unwrap_or_default(),
                                u.default_level.to_string(),
                                if u.retired_at.is_some() { "retired".into() } else { String::new() },
                                u.name.clone(),
                            ]
                        })
                        .collect();
                    print_table(&["CODE", "PARENT", "DEFAULT LEVEL", "STATE", "NAME"], &rows);
                }
            }
        }
    }
    Ok(())
}

pub async fn system(command: SystemCommand) -> anyhow::Result<()> {
    let caller = Caller::cli();
    match command {
        SystemCommand::Create {
            data,
            code,
            org_unit,
            name,
            level,
            framework,
            dossier,
            policies,
        } => {
            let (settings, store) = open(&data).await?;
            let (frameworks, default) = catalogue(policies.as_deref(), &settings)?;
            let system = NewSystem {
                dossier: dossier.changes(&format!("system {code}"))?,
                code,
                org_unit,
                name,
                level,
                framework: framework.unwrap_or(default),
            };
            let s = register::apply(&store, &caller, &frameworks, async |c| c.create_system(&system).await).await?;
            println!(
                "Created system {} of {} at level {} ({}){}",
                s.code,
                s.org_unit,
                s.level,
                s.framework,
                next_line(&s)
            );
        }
        SystemCommand::Update {
            data,
            code,
            name,
            level,
            framework,
            dossier,
            policies,
        } => {
            let (settings, store) = open(&data).await?;
            let (frameworks, _) = catalogue(policies.as_deref(), &settings)?;
            let changes = SystemChanges {
                dossier: dossier.changes(&format!("system {code}"))?,
                name,
                level,
                framework,
            };
            let s = register::apply(&store, &caller, &frameworks, async |c| c.update_system(&code, &changes).await).await?;
            println!("System {}: level {} ({}){}", s.code, s.level, s.framework, next_line(&s));
        }
        SystemCommand::Move { data, code, org_unit } => {
            let (_, store) = open(&data).await?;
            let none = Frameworks::default();
            let s = register::apply(&store, &caller, &none, async |c| c.move_system(&code, &org_unit).await).await?;
            println!("System {} now belongs to {}", s.code, s.org_unit);
        }
        SystemCommand::Retire { data, code } => {
            let (_, store) = open(&data).await?;
            let none = Frameworks::default();
            let s = register::apply(&store, &caller, &none, async |c| c.retire_system(&code).await).await?;
            println!(
                "Retired system {} at {}; a running collector re-evaluates its members within seconds.",
                s.code,
                iso(s.retired_at)
            );
        }
        SystemCommand::List { data, listing } => {
            let (_, store) = open(&data).await?;
            let path = under(&store, listing.org_unit.as_deref()).await?;
            let systems = register::systems(&store, path.as_deref(), listing.retired, i64::MAX, 0).await?;
            match listing.format {
                Format::Json => print_json(&json!(systems.iter().map(register::SystemRecord::json).collect::<Vec<_>>())),
                Format::Table => {
                    let date = |d: Option<time::Date>| d.map(register::format_date).unwrap_or_default();
                    let rows: Vec<Vec<String>> = systems
                        .iter()
                        .map(|s| {
                            vec![
                                s.code.clone(),
                                s.org_unit.clone(),
                                s.level.to_string(),
                                s.framework.clone(),
                                s.dossier.decision_number.clone().unwrap_or_default(),
                                date(s.dossier.decision_date),
                                date(s.dossier.next_assessment_date),
                                if s.retired_at.is_some() { "retired".into() } else { String::new() },
                                s.name.clone(),
                            ]
                        })
                        .collect();
                    print_table(
                        &[
                            "CODE",
                            "ORG UNIT",
                            "LEVEL",
                            "FRAMEWORK",
                            "DECISION",
                            "DATE",
                            "NEXT ASSESSMENT",
                            "STATE",
                            "NAME",
                        ],
                        &rows,
                    );
                }
            }
        }
    }
    Ok(())
}

fn next_line(s: &register::SystemRecord) -> String {
    match s.dossier.next_assessment_date {
        Some(d) => format!(
            "; next periodic assessment {}{}",
            register::format_date(d),
            if s.dossier.next_assessment_explicit {
                " (set)"
            } else {
                " (computed)"
            }
        ),
        None => String::new(),
    }
}

/// `endpoint systems ID [--set CODE…] [--role ROLE]`: without either, lists
/// the memberships; `--role` alone gives every membership that role.
pub async fn endpoint_systems(
    data: DataDir,
    id: String,
    set: Option<Vec<String>>,
    role: Option<String>,
    format: Format,
) -> anyhow::Result<()> {
    let (_, store) = open(&data).await?;
    let subject = format!("endpoint {id}");
    let caller = Caller::cli();
    let none = Frameworks::default();
    let members = if set.is_none() && role.is_none() {
        if store.endpoint(&id).await?.is_none() {
            anyhow::bail!("no endpoint {id}");
        }
        register::members(store.pool(), &id).await?
    } else {
        let role = register::parse_role(&subject, role.as_deref())?;
        let codes: Vec<String> = match set {
            Some(codes) => codes,
            None => register::members(store.pool(), &id).await?.into_iter().map(|m| m.system).collect(),
        };
        let wanted: Vec<Member> = codes.into_iter().map(|system| Member { system, role }).collect();
        let m = register::apply(&store, &caller, &none, async |c| c.set_memberships(&id, &wanted).await).await?;
        eprintln!("Endpoint {id}: memberships set; a running collector re-evaluates it within seconds.");
        m
    };
    match format {
        Format::Json => print_json(&json!({
            "id": id,
            "systems": members.iter().map(|m| json!({"code": m.system, "role": m.role.map(|r| r.as_str())})).collect::<Vec<_>>(),
        })),
        Format::Table => {
            let rows: Vec<Vec<String>> = members
                .iter()
                .map(|m| vec![m.system.clone(), m.role.map_or("(reported)", |r| r.as_str()).to_string()])
                .collect();
            print_table(&["SYSTEM", "ROLE"], &rows);
        }
    }
    Ok(())
}

pub async fn audit(command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        data,
        org_unit,
        since,
        until,
        limit,
        offset,
        format,
    } = command;
    let (_, store) = open(&data).await?;
    let time = |field: &str, v: &Option<String>, end: bool| {
        v.as_deref()
            .map(|t| audit::parse_time(field, t, end))
            .transpose()
            .map_err(|m| anyhow::anyhow!("--{m}"))
    };
    let filter = audit::Filter {
        under: under(&store, org_unit.as_deref()).await?,
        since: time("since", &since, false)?,
        until: time("until", &until, true)?,
        kind: None,
        limit: limit.max(1),
        offset: offset.max(0),
    };
    let rows = audit::list(&store, &filter).await?;
    match format {
        Format::Json => print_json(&json!(rows.iter().map(audit::AuditRow::json).collect::<Vec<_>>())),
        Format::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        iso(Some(r.at)),
                        r.actor.clone(),
                        r.action.clone(),
                        r.object_kind.clone(),
                        r.object_code.clone(),
                        r.summary(),
                    ]
                })
                .collect();
            print_table(&["AT", "ACTOR", "ACTION", "KIND", "CODE", "CHANGES"], &table);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dossier_options_clear_with_empty_text() {
        let args = DossierArgs {
            decision_number: Some(String::new()),
            decision_date: Some("2026-03-16".into()),
            approver: None,
            next_assessment_date: Some("auto".into()),
        };
        let c = args.changes("system X").unwrap();
        assert_eq!(c.decision_number, Some(None));
        assert_eq!(c.decision_date, Some(Some(time::macros::date!(2026 - 03 - 16))));
        assert_eq!(c.approver, None);
        assert_eq!(c.next_assessment, Some(NextAssessment::Auto));
        let bad = DossierArgs {
            next_assessment_date: Some("soon".into()),
            ..DossierArgs::default()
        };
        assert!(bad.changes("system X").unwrap_err().to_string().contains("next_assessment_date"));
    }
}
