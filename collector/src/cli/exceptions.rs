//! `khien-collector waiver …`, `attest` and `attestation …`: approved
//! exceptions from the command line. Changes are audited as `cli:<os user>`.

use super::register::{Format, print_table};
use super::{DataDir, parse_duration, policies, settings};
use crate::audit;
use crate::evaluate::Policies;
use crate::exceptions::{self, AttestationRecord, Filter, NewAttestation, NewWaiver, WaiverRecord, WaiverTarget};
use crate::register::Caller;
use crate::store::Store;
use anyhow::Context as _;
use clap::{ArgGroup, Args, Subcommand};
use khien_proto::Timestamp;
use serde_json::json;
use std::path::PathBuf;

/// The exception commands, flattened into the top-level ones.
#[derive(Debug, Subcommand)]
pub enum ExceptionCommand {
    /// Waivers: approved exceptions for one requirement, with an expiry
    Waiver {
        #[command(subcommand)]
        command: WaiverCommand,
    },
    /// Attest that a requirement of a system is met, with the evidence file
    Attest(AttestArgs),
    /// Attestations made with `attest`
    Attestation {
        #[command(subcommand)]
        command: AttestationCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum WaiverCommand {
    /// Approve an exception for a requirement on a system or on one endpoint
    #[command(group(ArgGroup::new("target").required(true).args(["system", "endpoint"])))]
    Create {
        #[command(flatten)]
        data: DataDir,
        /// The system it covers (every member endpoint)
        #[arg(long, value_name = "CODE")]
        system: Option<String>,
        /// The endpoint it covers (in every system it belongs to)
        #[arg(long, value_name = "ID")]
        endpoint: Option<String>,
        /// Requirement id, e.g. MD-01
        #[arg(long, value_name = "REQ")]
        requirement: String,
        /// Why the exception is needed, and what compensates for it
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Who approved it
        #[arg(long, value_name = "NAME")]
        approver: String,
        /// From this date (UTC midnight) or RFC 3339 time [default: now]
        #[arg(long, value_name = "DATE")]
        start: Option<String>,
        /// Until the end of this date (UTC), or this RFC 3339 time
        #[arg(long, value_name = "DATE")]
        expiry: String,
        /// Policies folder, for the requirements of each framework
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// List waivers not expired or revoked (pending ones included)
    List {
        #[command(flatten)]
        data: DataDir,
        /// Only those of this system and of its member endpoints
        #[arg(long, value_name = "CODE")]
        system: Option<String>,
        /// Also the expired and revoked ones
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a waiver: it stops counting at once
    Revoke {
        #[command(flatten)]
        data: DataDir,
        id: i64,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("validity").required(true).args(["valid_for", "valid_until"])))]
pub struct AttestArgs {
    #[command(flatten)]
    data: DataDir,
    #[arg(long, value_name = "CODE")]
    system: String,
    /// A requirement with a manual check, or a management requirement
    #[arg(long, value_name = "REQ")]
    requirement: String,
    /// Who attests
    #[arg(long, value_name = "NAME")]
    by: String,
    /// The evidence file (at most 20 MiB), stored in the collector's database
    #[arg(long, value_name = "PATH")]
    file: PathBuf,
    /// How long the attestation holds from now: 30d, 2w, … (at most a year)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    valid_for: Option<time::Duration>,
    /// Until the end of this date (UTC), or this RFC 3339 time
    #[arg(long, value_name = "DATE")]
    valid_until: Option<String>,
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AttestationCommand {
    /// List attestations not expired or revoked
    List {
        #[command(flatten)]
        data: DataDir,
        #[arg(long, value_name = "CODE")]
        system: Option<String>,
        /// Also the expired and revoked ones
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke an attestation: its requirement needs attesting again at once
    Revoke {
        #[command(flatten)]
        data: DataDir,
        id: i64,
    },
}

async fn open(data: &DataDir) -> anyhow::Result<Store> {
    let settings = settings(data)?;
    Ok(Store::connect(&settings.database).await?)
}

async fn open_with_policies(data: &DataDir, policies_dir: Option<&std::path::Path>) -> anyhow::Result<(Store, Policies)> {
    let settings = settings(data)?;
    let store = Store::connect(&settings.database).await?;
    let loaded = policies(policies_dir, settings.policies_dir.as_deref())?;
    Ok((store, loaded))
}

fn time(field: &str, text: &str, end: bool) -> anyhow::Result<i64> {
    audit::parse_time(field, text, end).map_err(|m| anyhow::anyhow!("--{m}"))
}

fn iso(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).map(|t| t.to_string()).unwrap_or_default()
}

async fn system_id(store: &Store, code: Option<&str>) -> anyhow::Result<Option<i64>> {
    match code {
        Some(code) => Ok(Some(
            store
                .system(code)
                .await?
                .ok_or_else(|| anyhow::anyhow!("system: no system {code}"))?
                .id,
        )),
        None => Ok(None),
    }
}

pub async fn run(command: ExceptionCommand) -> anyhow::Result<()> {
    let caller = Caller::cli();
    let now = Timestamp::now().unix_millis();
    match command {
        ExceptionCommand::Waiver { command } => waiver(command, &caller, now).await,
        ExceptionCommand::Attest(a) => attest(a, &caller, now).await,
        ExceptionCommand::Attestation { command } => attestation(command, &caller, now).await,
    }
}

async fn waiver(command: WaiverCommand, caller: &Caller, now: i64) -> anyhow::Result<()> {
    match command {
        WaiverCommand::Create {
            data,
            system,
            endpoint,
            requirement,
            reason,
            approver,
            start,
            expiry,
            policies,
        } => {
            let (store, policies) = open_with_policies(&data, policies.as_deref()).await?;
            let target = match (system, endpoint) {
                (Some(s), _) => WaiverTarget::System(s),
                (None, Some(e)) => WaiverTarget::Endpoint(e),
                (None, None) => anyhow::bail!("say what the waiver covers: --system CODE or --endpoint ID"),
            };
            let w = NewWaiver {
                target,
                requirement,
                reason,
                approver,
                start: start.as_deref().map(|t| time("start", t, false)).transpose()?,
                expiry: time("expiry", &expiry, true)?,
            };
            let w = exceptions::create_waiver(&store, &policies, caller, &w, now).await?;
            println!(
                "Created waiver {} for {} {}, requirement {}, from {} until {}",
                w.id,
                if w.system.is_some() { "system" } else { "endpoint" },
                w.system.as_deref().or(w.endpoint.as_deref()).unwrap_or_default(),
                w.requirement,
                iso(w.start_at),
                iso(w.expiry_at)
            );
        }
        WaiverCommand::List { data, system, all, format } => {
            let store = open(&data).await?;
            let filter = Filter {
                under: None,
                system_id: system_id(&store, system.as_deref()).await?,
                all,
                now,
            };
            let rows = exceptions::waivers(&store, &filter).await?;
            match format {
                Format::Json => print_json(&json!(rows.iter().map(|w| w.json(now)).collect::<Vec<_>>())),
                Format::Table => print_waivers(&rows, now),
            }
        }
        WaiverCommand::Revoke { data, id } => {
            let store = open(&data).await?;
            let w = exceptions::revoke_waiver(&store, caller, id, now).await?;
            println!("Revoked waiver {} ({} on {})", w.id, w.requirement, target(&w));
        }
    }
    Ok(())
}

fn target(w: &WaiverRecord) -> String {
    match (&w.system, &w.endpoint) {
        (Some(s), _) => format!("system {s}"),
        (None, Some(e)) => format!("endpoint {e}"),
        (None, None) => String::new(),
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn print_waivers(rows: &[WaiverRecord], now: i64) {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|w| {
            vec![
                w.id.to_string(),
                target(w),
                w.requirement.clone(),
                w.state(now).as_str().into(),
                iso(w.start_at),
                iso(w.expiry_at),
                w.approver.clone(),
                w.reason.replace('\n', " "),
            ]
        })
        .collect();
    print_table(
        &["ID", "COVERS", "REQUIREMENT", "STATE", "START", "EXPIRY", "APPROVER", "REASON"],
        &table,
    );
}

fn print_attestations(rows: &[AttestationRecord], now: i64) {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.system.clone(),
                a.requirement.clone(),
                a.state(now).as_str().into(),
                iso(a.attested_at),
                iso(a.valid_until),
                a.attested_by.clone(),
                a.file_name.clone(),
                a.file_sha256.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "SYSTEM",
            "REQUIREMENT",
            "STATE",
            "ATTESTED",
            "VALID UNTIL",
            "BY",
            "FILE",
            "SHA-256",
        ],
        &table,
    );
}

async fn attest(a: AttestArgs, caller: &Caller, now: i64) -> anyhow::Result<()> {
    let AttestArgs {
        data,
        system,
        requirement,
        by,
        file,
        valid_for,
        valid_until,
        policies,
    } = a;
    let valid_until = match (valid_for, valid_until) {
        (Some(d), _) => now.saturating_add(i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)),
        (None, Some(t)) => time("valid-until", &t, true)?,
        (None, None) => anyhow::bail!("say how long it holds: --valid-for DURATION or --valid-until DATE"),
    };
    // The size is checked before reading, so that a wrong path to a disk image fails fast.
    let size = std::fs::metadata(&file)
        .with_context(|| format!("--file {}", file.display()))?
        .len();
    if size > exceptions::MAX_FILE_BYTES as u64 {
        anyhow::bail!(
            "--file {}: {size} bytes is more than the limit of {} bytes (20 MiB)",
            file.display(),
            exceptions::MAX_FILE_BYTES
        );
    }
    let content = std::fs::read(&file).with_context(|| format!("--file {}", file.display()))?;
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (store, policies) = open_with_policies(&data, policies.as_deref()).await?;
    let new = NewAttestation {
        system,
        requirement,
        attested_by: by,
        attested_at: None,
        valid_until,
        file_name,
    };
    let a = exceptions::create_attestation(&store, &policies, caller, &new, &content, now).await?;
    println!(
        "Created attestation {} for system {}, requirement {}, valid until {}; file {} ({} bytes, SHA-256 {})",
        a.id,
        a.system,
        a.requirement,
        iso(a.valid_until),
        a.file_name,
        a.file_size,
        a.file_sha256
    );
    Ok(())
}

async fn attestation(command: AttestationCommand, caller: &Caller, now: i64) -> anyhow::Result<()> {
    match command {
        AttestationCommand::List { data, system, all, format } => {
            let store = open(&data).await?;
            let filter = Filter {
                under: None,
                system_id: system_id(&store, system.as_deref()).await?,
                all,
                now,
            };
            let rows = exceptions::attestations(&store, &filter).await?;
            match format {
                Format::Json => print_json(&json!(rows.iter().map(|a| a.json(now)).collect::<Vec<_>>())),
                Format::Table => print_attestations(&rows, now),
            }
        }
        AttestationCommand::Revoke { data, id } => {
            let store = open(&data).await?;
            let a = exceptions::revoke_attestation(&store, caller, id, now).await?;
            println!(
                "Revoked attestation {} ({} of system {}); the requirement needs attesting again",
                a.id, a.requirement, a.system
            );
        }
    }
    Ok(())
}
