//! Command line: `khien-agent facts` and `khien-agent check`.
//!
//! Exit codes: 0 when nothing required fails, 1 when a required check fails
//! or errors, 2 when no verdict could be given (usage, configuration or
//! policy errors; the message names the problem).

use crate::config::Config;
use crate::probe;
use crate::render;
use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use khien_policy::{Catalogue, FactsView, Lang, Target, locate};
use khien_proto::{Role, Timestamp};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "khien-agent",
    version,
    about = "Khiên endpoint agent: security facts and level compliance of this machine"
)]
pub struct Cli {
    /// Configuration file [default: /etc/khien/agent.toml, if it exists]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the facts read from this machine
    Facts {
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        #[arg(long, value_enum, default_value_t = LangArg::Vi)]
        lang: LangArg,
    },
    /// Evaluate this machine against the requirements of a security level
    Check {
        /// Security level (cấp độ) 1 to 5
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        level: u8,
        /// Framework id [default: the current one, tcvn-14423-2026]
        #[arg(long, value_name = "ID")]
        framework: Option<String>,
        /// Policies folder [default: found beside the binary, or /usr/share/khien/policies]
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
        /// Role of this machine [default: from the configuration, else detected]
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long, value_enum, default_value_t = LangArg::Vi)]
        lang: LangArg,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LangArg {
    Vi,
    En,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::Vi => Lang::Vi,
            LangArg::En => Lang::En,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    Workstation,
    Server,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Workstation => Role::Workstation,
            RoleArg::Server => Role::Server,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Facts { format, lang } => {
            let facts = probe::collect(&config.probe);
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&facts)?),
                Format::Table => print!("{}", render::facts_table(&facts, lang.into(), Timestamp::now())),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            level,
            framework,
            policies,
            role,
            format,
            lang,
        } => {
            let dir = locate::find(policies.as_deref(), config.policies_dir.as_deref())?;
            let catalogue = Catalogue::open(&dir)?;
            let id = match framework {
                Some(id) => id,
                None => catalogue
                    .default_framework()
                    .map(|f| f.id.clone())
                    .ok_or_else(|| anyhow::anyhow!("{}: no single current framework; pass --framework", dir.display()))?,
            };
            let framework = catalogue.load(&id)?;
            if !framework.levels.contains(&level) {
                anyhow::bail!("framework {id} has no level {level} (levels {:?})", framework.levels);
            }
            let mut probe_config = config.probe.clone();
            if let Some(r) = role {
                probe_config.role = Some(r.into());
            }
            let facts = probe::collect(&probe_config);
            let target = Target {
                lang: lang.into(),
                ..Target::for_facts(&facts, level)
            };
            let evaluation = framework.evaluate(&FactsView::new(&facts), &target);
            match format {
                Format::Json => {
                    let out = render::check_json(&framework, &evaluation, &facts, lang.into());
                    println!("{}", serde_json::to_string_pretty(&out).context("encoding the result")?);
                }
                Format::Table => print!("{}", render::check_table(&framework, &evaluation, &facts, lang.into())),
            }
            Ok(if evaluation.compliant() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
