//! `khien-collector` commands. The register's (`org-unit`, `system`,
//! `audit`, `endpoint systems`) are in `cli/register.rs`.

mod exceptions;
mod export;
mod history;
mod kpi;
mod register;
mod token;
mod user;

use crate::config::{Flags, Settings};
use crate::datadir;
use crate::enroll;
use crate::evaluate::Policies;
use crate::seed::Seed;
use crate::server;
use crate::store::Store;
use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
pub use register::{AuditCommand, Format, OrgUnitCommand, SystemCommand};
use std::net::SocketAddr;
use std::path::PathBuf;
pub use token::TokenCommand;

#[derive(Debug, Parser)]
#[command(
    name = "khien-collector",
    version,
    about = "Khiên collector: enrollment, signed reports over mutual TLS, compliance per information system"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct DataDir {
    /// Data folder: CA, certificates, keys, SQLite database, collector.toml
    #[arg(long, env = "KHIEN_DATA_DIR", default_value = "/var/lib/khien-collector")]
    pub data_dir: PathBuf,
    /// Database URL [default: SQLite in the data folder, or as remembered in collector.toml]
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Configuration file [default: <data dir>/collector.toml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve agents and the API over HTTPS
    Serve {
        #[command(flatten)]
        data: DataDir,
        /// Address to listen on [default: 0.0.0.0:8443]
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// URL agents use to reach this collector, written into tokens [default: https://<host>:<port>]
        #[arg(long)]
        url: Option<String>,
        /// Policies folder [default: beside the binary, or /usr/share/khien/policies]
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Load an organisation tree and information systems from TOML (idempotent, audited)
    Seed {
        #[command(flatten)]
        data: DataDir,
        file: PathBuf,
        /// Policies folder, for the frameworks and their levels
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Org units: the tree from the central office down to each commune
    OrgUnit {
        #[command(subcommand)]
        command: OrgUnitCommand,
    },
    /// Information systems: owner unit, level, framework and level dossier
    System {
        #[command(subcommand)]
        command: SystemCommand,
    },
    /// The seed KPIs of an org unit's subtree (anti-malware, monitoring reach, systems), or the list behind one
    Kpi(kpi::KpiArgs),
    /// Daily snapshots of a unit's KPIs or a system's compliance between two dates, and verdict changes
    History(history::HistoryArgs),
    /// The audit log of register changes
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    #[command(flatten)]
    Exceptions(exceptions::ExceptionCommand),
    #[command(flatten)]
    Evidence(export::EvidenceCommand),
    /// Enrollment tokens: create, list, revoke
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// API keys
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Enrolled endpoints
    Endpoint {
        #[command(subcommand)]
        command: EndpointCommand,
    },
    /// Dashboard accounts: create, list, disable, set a password
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Print a new API key (last line of the output)
    Create {
        #[command(flatten)]
        data: DataDir,
        /// Limit the key to this org unit's subtree
        #[arg(long)]
        org_unit: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// Revoke an endpoint's certificates; its reports are refused from then on
    Revoke {
        #[command(flatten)]
        data: DataDir,
        id: String,
    },
    /// Show or set the systems an endpoint belongs to, and its role in them
    Systems {
        #[command(flatten)]
        data: DataDir,
        id: String,
        /// Replace its memberships with these systems (none: belong to no system)
        #[arg(long, value_name = "CODE", num_args = 0..)]
        set: Option<Vec<String>>,
        /// Its role in them: workstation, server, or reported (the role it reports)
        #[arg(long)]
        role: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

pub fn parse_duration(s: &str) -> Result<time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, like 30s, 30m, 24h, 7d or 2w"))?;
    let d = match unit {
        "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        "w" => time::Duration::weeks(n),
        _ => return Err(format!("{s:?}: the unit must be s, m, h, d or w")),
    };
    if d <= time::Duration::ZERO || d > time::Duration::days(366) {
        return Err(format!("{s:?}: must be more than zero and at most a year"));
    }
    Ok(d)
}

fn settings(data: &DataDir) -> anyhow::Result<Settings> {
    Ok(Settings::load(&Flags {
        data_dir: data.data_dir.clone(),
        config: data.config.clone(),
        database: data.database.clone(),
        ..Flags::default()
    })?)
}

pub fn policies(flag: Option<&std::path::Path>, configured: Option<&std::path::Path>) -> anyhow::Result<Policies> {
    let dir = khien_policy::locate::find(flag, configured)?;
    Policies::load(&dir).map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            data,
            listen,
            url,
            policies: policies_dir,
        } => {
            let settings = Settings::load(&Flags {
                data_dir: data.data_dir.clone(),
                config: data.config.clone(),
                database: data.database.clone(),
                listen,
                url,
                policies: policies_dir,
            })?;
            let policies = policies(settings.policies_dir.as_deref(), None)?;
            let running = server::start(&settings, policies).await?;
            settings
                .remember()
                .with_context(|| format!("writing {}", settings.data_dir.join("collector.toml").display()))?;
            println!(
                "Khiên collector listening on https://{} (agents use {})",
                running.addr, settings.url
            );
            println!("Data folder: {}", settings.data_dir.display());
            println!(
                "CA certificate: {} (pin {})",
                settings.data_dir.join("ca.crt").display(),
                running.pin
            );
            println!("Database: {}", redact(&settings.database));
            println!(
                "Policies: {} ({})",
                running.app.ingest.policies().dir.display(),
                running.app.ingest.policies().ids().join(", ")
            );
            wait_for_signal().await;
            println!("Stopping: finishing requests in flight and flushing the database.");
            running.stop().await;
            Ok(())
        }
        Command::Seed {
            data,
            file,
            policies: policies_dir,
        } => {
            let settings = settings(&data)?;
            let seed = Seed::read(&file)?;
            let name = file.display().to_string();
            let (frameworks, _) = register::catalogue(policies_dir.as_deref(), &settings)?;
            seed.validate(&name, Some(&frameworks))?;
            datadir::ensure_dir(&settings.data_dir)?;
            let store = Store::connect(&settings.database).await?;
            let loaded = seed.load(&store, &name, &frameworks).await?;
            settings.remember()?;
            println!(
                "Loaded {} org units and {} systems from {} ({} change(s) recorded in the audit log{})",
                loaded.org_units,
                loaded.systems,
                name,
                loaded.changes,
                if loaded.retired > 0 {
                    format!("; {} retired unit(s) or system(s) left as they are", loaded.retired)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::OrgUnit { command } => register::org_unit(command).await,
        Command::System { command } => register::system(command).await,
        Command::Audit { command } => register::audit(command).await,
        Command::Exceptions(command) => exceptions::run(command).await,
        Command::Evidence(command) => export::run(command).await,
        Command::Kpi(args) => kpi::run(args).await,
        Command::History(args) => history::run(args).await,
        Command::User { command } => user::run(command).await,
        Command::Endpoint {
            command:
                EndpointCommand::Systems {
                    data,
                    id,
                    set,
                    role,
                    format,
                },
        } => register::endpoint_systems(data, id, set, role, format).await,
        Command::Token { command } => token::run(command).await,
        Command::Apikey {
            command: ApikeyCommand::Create { data, org_unit },
        } => {
            let settings = settings(&data)?;
            let store = Store::connect(&settings.database).await?;
            let (id, key) = enroll::create_api_key(&store, org_unit.as_deref()).await?;
            println!(
                "API key {id} for {} (send as `Authorization: Bearer <key>`; the audit log names it apikey:{id}):",
                org_unit.as_deref().unwrap_or("the whole tree")
            );
            println!("{key}");
            Ok(())
        }
        Command::Endpoint {
            command: EndpointCommand::Revoke { data, id },
        } => {
            let settings = settings(&data)?;
            let store = Store::connect(&settings.database).await?;
            let serials = store.revoke_endpoint(&id, khien_proto::Timestamp::now().unix_millis()).await?;
            if serials.is_empty() {
                bail!("endpoint {id} has no certificate");
            }
            println!(
                "Revoked endpoint {id} (certificates {}); a running collector refuses it within seconds.",
                serials.join(", ")
            );
            Ok(())
        }
    }
}

/// The URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d").unwrap(), time::Duration::days(7));
        assert_eq!(parse_duration("30m").unwrap(), time::Duration::minutes(30));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("2y").is_err());
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(redact("postgres://khien:s3cret@db:5432/k"), "postgres://khien:***@db:5432/k");
        assert_eq!(redact("sqlite:///var/lib/k.db"), "sqlite:///var/lib/k.db");
    }
}
