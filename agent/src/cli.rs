//! Command line: `khien-agent facts`, `check`, `policies`, `enroll`, `run`, `status` and `service`.
//!
//! Exit codes: 0 when nothing required fails, 1 when a required check fails
//! or errors, 2 when no verdict could be given (usage, configuration or
//! policy errors; the message names the problem).

use crate::config::Config;
use crate::enroll;
use crate::explain;
use crate::probe;
use crate::render;
use crate::state::StateDir;
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
    /// Configuration file [default: /etc/khien/agent.toml, on Windows %ProgramData%\Khien\agent.toml, if it exists]
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
    /// Enroll this machine with a collector, using a token from `khien-collector token create`
    Enroll {
        #[arg(long, env = "KHIEN_TOKEN", hide_env_values = true)]
        token: String,
        /// State folder [default: /var/lib/khien-agent, on Windows %ProgramData%\Khien]
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Enroll again, with a new identity, even if already enrolled
        #[arg(long)]
        force: bool,
    },
    /// Report to the collector: at the interval, and at once when a watched input changes
    Run {
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Send one full report, wait for its acknowledgement, and exit (0 when acknowledged)
        #[arg(long)]
        once: bool,
    },
    /// Show enrollment, the last acknowledgement and the spool
    Status {
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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
    /// Install and control the agent as a Windows service (elsewhere systemd or launchd runs `run`)
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// Show the policy catalogue: frameworks and levels, or one requirement in detail
    Policies {
        #[command(subcommand)]
        action: PoliciesAction,
        /// Policies folder [default: found beside the binary, or /usr/share/khien/policies]
        #[arg(long, value_name = "DIR", global = true)]
        policies: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
        format: Format,
        #[arg(long, value_enum, default_value_t = LangArg::Vi, global = true)]
        lang: LangArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum PoliciesAction {
    /// Frameworks with their status, levels and requirement counts per level
    List,
    /// One requirement: clause, sources, thresholds per level and its checks
    Explain {
        /// Requirement id, e.g. TK-02
        id: String,
        /// Framework id [default: the current one]; the others are summarised below it
        #[arg(long, value_name = "ID")]
        framework: Option<String>,
    },
}

/// Carried out by the binary (`service.rs`), which owns the process when the
/// Service Control Manager starts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum ServiceAction {
    /// Register the service (started at boot, as LocalSystem) with this binary and `--config`
    Install,
    /// Stop the service if it runs and remove it; the state folder is kept
    Uninstall,
    /// Start the installed service
    Start,
    /// Stop the service
    Stop,
    /// What the Service Control Manager starts; not for use from a console
    #[command(hide = true)]
    Run,
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

pub fn state_dir(flag: Option<PathBuf>, config: &Config) -> StateDir {
    StateDir::new(
        flag.or_else(|| config.state_dir.clone())
            .unwrap_or_else(crate::config::default_state_dir),
    )
}

/// The name the collector shows for this machine.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().or_else(|| {
        if cfg!(windows) {
            std::env::var("COMPUTERNAME").ok()
        } else {
            let out = probe::command::run(std::path::Path::new("/bin/hostname"), &[], std::time::Duration::from_secs(3)).ok()?;
            Some(out.stdout)
        }
    });
    name.map(|h| h.trim().to_string()).unwrap_or_default()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Enroll {
            token,
            state_dir: dir,
            force,
        } => {
            let dir = state_dir(dir, &config);
            let e = runtime()?.block_on(enroll::enroll(&token, &dir, &hostname(), force))?;
            println!(
                "Enrolled as {} in {} (systems: {}).",
                e.agent_id,
                e.org_unit,
                if e.systems.is_empty() {
                    "none".into()
                } else {
                    e.systems.join(", ")
                }
            );
            println!("Collector: {}; state in {}", e.collector_url, dir.path.display());
            println!("Start reporting with: khien-agent run");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { state_dir: dir, once } => {
            init_logs();
            let dir = state_dir(dir, &config);
            let rt = runtime()?;
            if once {
                match rt.block_on(crate::run::once(&config, &dir))? {
                    crate::run::Once::Acknowledged(seq) => {
                        println!("Report {seq} acknowledged by the collector.");
                        Ok(ExitCode::SUCCESS)
                    }
                    crate::run::Once::Pending(why) => {
                        eprintln!("Report not acknowledged; it stays in the spool: {why}");
                        Ok(ExitCode::from(1))
                    }
                }
            } else {
                rt.block_on(crate::run::forever(&config, &dir, async {
                    let _ = tokio::signal::ctrl_c().await;
                }))?;
                Ok(ExitCode::SUCCESS)
            }
        }
        Command::Service { .. } => anyhow::bail!("`service` is carried out by the khien-agent binary, not the library"),
        Command::Status { state_dir: dir, format } => {
            let dir = state_dir(dir, &config);
            let status = crate::status::read(&dir)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&status)?),
                Format::Table => print!("{}", crate::status::table(&status)),
            }
            Ok(if status.enrolled { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Facts { format, lang } => {
            let facts = probe::collect(&config.probe);
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&facts)?),
                Format::Table => print!("{}", render::facts_table(&facts, lang.into(), Timestamp::now())),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Policies {
            action,
            policies,
            format,
            lang,
        } => {
            let lang: Lang = lang.into();
            let dir = locate::find(policies.as_deref(), config.policies_dir.as_deref())?;
            let catalogue = Catalogue::open(&dir)?;
            let mut frameworks = Vec::new();
            for id in catalogue.frameworks.keys() {
                frameworks.push(catalogue.load(id)?);
            }
            // The current framework first, then overlays, then legacy ones.
            frameworks.sort_by_key(|f| (f.status as u8, f.id.clone()));
            match action {
                PoliciesAction::List => {
                    let platform = khien_proto::Platform::current();
                    let summaries: Vec<_> = frameworks.iter().map(|f| explain::summary(f, platform, lang)).collect();
                    match format {
                        Format::Json => println!("{}", serde_json::to_string_pretty(&summaries)?),
                        Format::Table => print!("{}", explain::list_table(&summaries, platform, lang)),
                    }
                }
                PoliciesAction::Explain { id, framework } => {
                    let id = id.to_uppercase();
                    let main = match framework {
                        Some(f) => f,
                        None => catalogue
                            .default_framework()
                            .map(|f| f.id.clone())
                            .ok_or_else(|| anyhow::anyhow!("{}: no single current framework; pass --framework", dir.display()))?,
                    };
                    let fw = frameworks.iter().find(|f| f.id == main).ok_or_else(|| {
                        anyhow::anyhow!(
                            "unknown framework {main:?}; known: {}",
                            catalogue.frameworks.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    })?;
                    let req = fw.requirement(&id).ok_or_else(|| {
                        let known: Vec<&str> = fw.requirements.iter().map(|r| r.id.as_str()).collect();
                        anyhow::anyhow!("{main} has no requirement {id}; it has: {}", known.join(", "))
                    })?;
                    let explained = explain::explain(fw, req, lang);
                    let others: Vec<_> = frameworks
                        .iter()
                        .filter(|f| f.id != main)
                        .filter_map(|f| f.requirement(&id).map(|r| explain::explain(f, r, lang)))
                        .collect();
                    match format {
                        Format::Json => {
                            let mut all = vec![explained];
                            all.extend(others);
                            println!("{}", serde_json::to_string_pretty(&all)?);
                        }
                        Format::Table => print!("{}", explain::explain_table(&explained, &others, lang)),
                    }
                }
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
