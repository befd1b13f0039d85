//! `khien-collector token …`: enrollment tokens. A token's text is printed
//! once, at creation: only the hash of its secret is stored. Changes are
//! audited as `cli:<os user>`.

use super::register::{Format, print_table};
use super::{DataDir, parse_duration, settings};
use crate::datadir;
use crate::enroll::{self, NewToken, TokenInfo, TokenState};
use crate::register::Caller;
use crate::store::Store;
use clap::Subcommand;
use khien_proto::Timestamp;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new enrollment token (last line of the output)
    Create {
        #[command(flatten)]
        data: DataDir,
        /// Org unit the enrolled machines belong to
        #[arg(long)]
        org_unit: String,
        /// Information system the machines join (repeatable)
        #[arg(long = "system")]
        systems: Vec<String>,
        /// How many machines may enroll with it
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it stays valid: 30s, 30m, 24h, 7d, 2w
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        expires: time::Duration,
    },
    /// List the tokens that can still enroll a machine (with --all: every token); never their text
    List {
        #[command(flatten)]
        data: DataDir,
        /// Only the tokens of this org unit's subtree
        #[arg(long, value_name = "CODE")]
        org_unit: Option<String>,
        /// Also the used-up, expired and revoked ones
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a token: no machine enrolls with it any more (those enrolled stay)
    Revoke {
        #[command(flatten)]
        data: DataDir,
        id: i64,
    },
}

fn iso(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).map(|t| t.to_string()).unwrap_or_default()
}

fn print_tokens(rows: &[TokenInfo]) {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.org_unit.clone(),
                if t.systems.is_empty() { "–".into() } else { t.systems.join(",") },
                format!("{}/{}", t.used, t.max_uses),
                t.state.as_str().into(),
                iso(t.expires_at),
                iso(t.created_at),
                if t.created_by.is_empty() {
                    "–".into()
                } else {
                    t.created_by.clone()
                },
            ]
        })
        .collect();
    print_table(&["ID", "ORG UNIT", "SYSTEMS", "USED", "STATE", "EXPIRES", "CREATED", "BY"], &table);
}

pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    let caller = Caller::cli();
    let now = Timestamp::now().unix_millis();
    match command {
        TokenCommand::Create {
            data,
            org_unit,
            systems,
            uses,
            expires,
        } => {
            let settings = settings(&data)?;
            let authority = datadir::load_authority(&settings.data_dir)?;
            let store = Store::connect(&settings.database).await?;
            let new = NewToken {
                org_unit: org_unit.clone(),
                systems,
                uses,
                valid_for: expires,
            };
            let created = enroll::create_token(&store, &authority, &settings.url, &caller, &new, now).await?;
            println!(
                "Enrollment token {} for {org_unit} ({uses} use(s), valid {expires}; `token revoke {}` stops it):",
                created.info.id, created.info.id
            );
            println!("  khien-agent enroll --token <token>");
            println!("{}", created.text);
        }
        TokenCommand::List {
            data,
            org_unit,
            all,
            format,
        } => {
            let store = Store::connect(&settings(&data)?.database).await?;
            let under = match &org_unit {
                Some(code) => Some(
                    store
                        .org_unit(code)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("org-unit: no org unit {code}"))?
                        .path,
                ),
                None => None,
            };
            let rows: Vec<TokenInfo> = enroll::list_tokens(&store, under.as_deref(), now)
                .await?
                .into_iter()
                .filter(|t| all || t.state == TokenState::Active)
                .collect();
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&json!(rows.iter().map(TokenInfo::json).collect::<Vec<_>>()))?
                ),
                Format::Table => print_tokens(&rows),
            }
        }
        TokenCommand::Revoke { data, id } => {
            let store = Store::connect(&settings(&data)?.database).await?;
            let t = enroll::revoke_token(&store, &caller, id, now).await?;
            println!(
                "Revoked enrollment token {} ({}, {}/{} used); no machine enrolls with it any more.",
                t.id, t.org_unit, t.used, t.max_uses
            );
        }
    }
    Ok(())
}
