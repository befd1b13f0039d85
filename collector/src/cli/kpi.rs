//! `khien-collector kpi`: the seed KPIs of an org unit's subtree, or the
//! endpoints and systems behind one of them.

use super::register::print_table;
use super::{DataDir, settings};
use crate::rollup;
use crate::scorecard::{self, Kpi, Listed, Scorecard};
use crate::store::Store;
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum KpiFormat {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct KpiArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The unit whose subtree is counted (e.g. TW for the whole tree)
    #[arg(long)]
    pub org_unit: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: KpiFormat,
    /// List the endpoints or systems behind this KPI instead
    #[arg(long, value_enum)]
    pub list: Option<Kpi>,
    /// With --list: those that do not meet the KPI (but count in its denominator)
    #[arg(long, requires = "list")]
    pub unmet: bool,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[arg(long, default_value_t = 0)]
    pub offset: i64,
    /// Recount every unit's counters from the endpoints first (repair)
    #[arg(long)]
    pub rebuild: bool,
    /// Policies folder, for the systems' levels
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

/// Rows of (KPI, count, of, percent) in a stable order.
fn rows(card: &Scorecard) -> Vec<(&'static str, i64, i64, Option<f64>)> {
    let e = &card.unit.endpoints;
    let s = &card.systems;
    let r = |name, x: &crate::kpi::Ratio| (name, x.count, x.of, x.percent);
    vec![
        ("endpoints", e.endpoints, e.endpoints, None),
        r("reporting_24h", &e.reporting_24h),
        r("av_installed", &e.av_installed),
        r("av_running", &e.av_running),
        r("av_realtime", &e.av_realtime),
        r("signatures_fresh", &e.signatures_fresh),
        r("firewall_default_deny", &e.firewall_default_deny),
        r("sweep_recent", &card.unit.sweep_recent),
        r("backup_recent", &e.backup_recent),
        ("systems", s.systems, s.systems, None),
        r("dossier_approved", &s.dossier_approved),
        r("compliant", &s.compliant),
        r("assessment_overdue", &s.assessment_overdue),
    ]
}

fn pct(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.1}")).unwrap_or_default()
}

pub async fn run(a: KpiArgs) -> anyhow::Result<()> {
    let settings = settings(&a.data)?;
    let policies = super::policies(a.policies.as_deref(), settings.policies_dir.as_deref())?;
    let store = Store::connect(&settings.database).await?;
    if a.rebuild {
        rollup::rebuild(&store).await.context("rebuilding the KPI counters")?;
        eprintln!("KPI counters recounted from the endpoints.");
    }
    let unit = store
        .org_unit(&a.org_unit)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no org unit {}", a.org_unit))?;
    let now = khien_proto::Timestamp::now().unix_millis();
    let w = settings.kpi_windows;
    if let Some(kpi) = a.list {
        let query = scorecard::ListQuery {
            kpi,
            met: !a.unmet,
            text: String::new(),
            limit: a.limit.clamp(1, 100_000),
            offset: a.offset.max(0),
        };
        let items = scorecard::list(&store, &policies, &unit, query, now, w).await?;
        match (a.format, items) {
            (KpiFormat::Json, items) => println!("{}", serde_json::to_string_pretty(&items)?),
            (f, Listed::Endpoints(v)) => {
                let table: Vec<Vec<String>> = v
                    .into_iter()
                    .map(|e| vec![e.id, e.hostname, e.org_unit, e.last_seen.unwrap_or_default()])
                    .collect();
                emit(f, &["id", "hostname", "org_unit", "last_seen"], &table)?;
            }
            (f, Listed::Systems(v)) => {
                let table: Vec<Vec<String>> = v
                    .into_iter()
                    .map(|s| {
                        vec![
                            s.code,
                            s.name,
                            s.org_unit,
                            s.level.to_string(),
                            s.next_assessment_date.unwrap_or_default(),
                        ]
                    })
                    .collect();
                emit(f, &["code", "name", "org_unit", "level", "next_assessment"], &table)?;
            }
        }
        return Ok(());
    }
    let card = scorecard::scorecard(&store, &policies, &unit, now, w).await?;
    match a.format {
        KpiFormat::Json => println!("{}", serde_json::to_string_pretty(&card)?),
        f => {
            if f == KpiFormat::Table {
                println!("{} — {} (as of {})", card.unit.org_unit, card.unit.name, card.as_of);
            }
            let mut table: Vec<Vec<String>> = rows(&card)
                .into_iter()
                .map(|(k, c, of, p)| vec![k.to_string(), c.to_string(), of.to_string(), pct(p)])
                .collect();
            table.push(vec![
                "last_sweep".into(),
                card.unit.last_sweep.clone().unwrap_or_default(),
                String::new(),
                String::new(),
            ]);
            emit(f, &["kpi", "count", "of", "percent"], &table)?;
            if f == KpiFormat::Table && !card.children.is_empty() {
                println!();
                let children: Vec<Vec<String>> = card
                    .children
                    .iter()
                    .map(|u| {
                        let e = &u.endpoints;
                        vec![
                            u.org_unit.clone(),
                            e.endpoints.to_string(),
                            pct(e.reporting_24h.percent),
                            pct(e.av_running.percent),
                            pct(e.signatures_fresh.percent),
                            pct(e.firewall_default_deny.percent),
                            u.last_sweep.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "unit",
                        "endpoints",
                        "reporting %",
                        "av running %",
                        "fresh %",
                        "fw deny %",
                        "last sweep",
                    ],
                    &children,
                );
            }
        }
    }
    Ok(())
}

fn emit(format: KpiFormat, headers: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    if format == KpiFormat::Csv {
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
