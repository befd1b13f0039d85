//! `khien-collector history`: the daily snapshots of a unit's KPIs or of a
//! system's compliance between two dates (and, for a system, its endpoints'
//! verdict changes); `history snapshot` takes today's now.

use super::register::print_table;
use super::{DataDir, settings};
use crate::history::{self, SystemHistory, UnitHistory};
use crate::store::Store;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    #[default]
    Table,
    Json,
    /// The daily series only (one row a day).
    Csv,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    #[command(flatten)]
    pub data: DataDir,
    #[command(flatten)]
    pub of: Of,
    /// First day, YYYY-MM-DD (Vietnamese calendar day) [default: 30 days before --to]
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD [default: today in Vietnam]
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: HistoryFormat,
    /// For a system: at most this many verdict changes (the newest)
    #[arg(long, default_value_t = 1000)]
    pub limit: i64,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Of {
    /// The unit whose subtree's KPIs to show
    #[arg(long)]
    pub org_unit: Option<String>,
    /// The system whose compliance and verdict changes to show
    #[arg(long)]
    pub system: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Take today's snapshot of every unit and system now (replacing one taken earlier today)
    Snapshot {
        #[command(flatten)]
        data: DataDir,
        /// Policies folder, for the systems' levels
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
}

pub async fn run(a: HistoryArgs) -> anyhow::Result<()> {
    let now = khien_proto::Timestamp::now().unix_millis();
    if let Some(HistoryCommand::Snapshot { data, policies }) = a.command {
        let settings = settings(&data)?;
        let policies = super::policies(policies.as_deref(), settings.policies_dir.as_deref())?;
        let store = Store::connect(&settings.database).await?;
        let s = history::snapshot(&store, &policies, now, settings.kpi_windows).await?;
        println!("Snapshot of {} taken: {} org unit(s), {} system(s).", s.day, s.units, s.systems);
        return Ok(());
    }
    let settings = settings(&a.data)?;
    let store = Store::connect(&settings.database).await?;
    let (from, to) = history::range(a.from.as_deref(), a.to.as_deref(), now)?;
    match (&a.of.org_unit, &a.of.system) {
        (Some(code), _) => {
            let unit = store.org_unit(code).await?.ok_or_else(|| anyhow::anyhow!("no org unit {code}"))?;
            let h = history::unit_history(&store, &unit, from, to).await?;
            show_unit(&h, a.format)
        }
        (None, Some(code)) => {
            let system = store.system(code).await?.ok_or_else(|| anyhow::anyhow!("no system {code}"))?;
            let h = history::system_history(&store, &system, from, to, a.limit.clamp(1, 100_000)).await?;
            show_system(&h, a.format)
        }
        (None, None) => anyhow::bail!("name --org-unit or --system"),
    }
}

fn pct(v: &Value) -> String {
    v["percent"].as_f64().map(|p| format!("{p:.1}")).unwrap_or_default()
}

fn show_unit(h: &UnitHistory, format: HistoryFormat) -> anyhow::Result<()> {
    if format == HistoryFormat::Json {
        println!("{}", serde_json::to_string_pretty(h)?);
        return Ok(());
    }
    let headers = [
        "day",
        "endpoints",
        "reporting %",
        "av running %",
        "fresh %",
        "fw deny %",
        "sweep %",
        "backup %",
        "systems",
        "compliant %",
        "overdue %",
    ];
    let rows: Vec<Vec<String>> = h
        .series
        .iter()
        .map(|d| {
            let k = &d.kpis;
            vec![
                d.day.clone(),
                k["endpoints"].to_string(),
                pct(&k["reporting_24h"]),
                pct(&k["av_running"]),
                pct(&k["signatures_fresh"]),
                pct(&k["firewall_default_deny"]),
                pct(&k["sweep_recent"]),
                pct(&k["backup_recent"]),
                k["systems"]["systems"].to_string(),
                pct(&k["systems"]["compliant"]),
                pct(&k["systems"]["assessment_overdue"]),
            ]
        })
        .collect();
    if format == HistoryFormat::Table {
        println!("{} — {} ({} to {})", h.org_unit, h.name, h.from, h.to);
    }
    emit(format, &headers, &rows)
}

fn show_system(h: &SystemHistory, format: HistoryFormat) -> anyhow::Result<()> {
    if format == HistoryFormat::Json {
        println!("{}", serde_json::to_string_pretty(h)?);
        return Ok(());
    }
    let statuses = ["pass", "fail", "error", "manual", "not_applicable", "waived"];
    let mut headers = vec!["day", "compliant"];
    headers.extend(statuses);
    let rows: Vec<Vec<String>> = h
        .series
        .iter()
        .map(|d| {
            let mut row = vec![d.day.clone(), if d.compliant { "yes" } else { "no" }.to_string()];
            // Requirements per status: how the system stood that day.
            for s in statuses {
                let n = d
                    .requirements
                    .as_object()
                    .map(|m| m.values().filter(|r| r["status"] == s).count())
                    .unwrap_or(0);
                row.push(n.to_string());
            }
            row
        })
        .collect();
    if format == HistoryFormat::Table {
        println!("{} — {} ({} to {}); requirements per status:", h.system, h.name, h.from, h.to);
    }
    emit(format, &headers, &rows)?;
    if format == HistoryFormat::Table {
        println!();
        if h.changes.is_empty() {
            println!("No verdict changed in this range.");
            return Ok(());
        }
        println!(
            "Verdict changes{}:",
            if h.changes_truncated {
                " (the newest; raise --limit for more)"
            } else {
                ""
            }
        );
        let rows: Vec<Vec<String>> = h
            .changes
            .iter()
            .map(|c| {
                vec![
                    c.at.clone(),
                    c.endpoint.clone(),
                    c.requirement.clone(),
                    c.old.clone(),
                    c.new.clone(),
                    c.report_seq.to_string(),
                    c.cause.clone(),
                ]
            })
            .collect();
        print_table(&["at", "endpoint", "requirement", "old", "new", "report", "cause"], &rows);
    }
    Ok(())
}

fn emit(format: HistoryFormat, headers: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    if format == HistoryFormat::Csv {
        let mut w = csv::Writer::from_writer(std::io::stdout());
        w.write_record(headers)?;
        for r in rows {
            w.write_record(r)?;
        }
        w.flush()?;
    } else {
        print_table(headers, rows);
    }
    Ok(())
}
