//! `khien-collector user …`: dashboard accounts. Passwords are read from
//! standard input or a file, never from the command line (where `ps` and
//! the shell history would keep them). Changes are audited as `cli:<os user>`.

use super::register::{Format, print_table};
use super::{DataDir, settings};
use crate::auth::Role;
use crate::auth::users::{self, NewUser};
use crate::register::Caller;
use crate::store::Store;
use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use khien_proto::Timestamp;
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    /// Everything, on the whole tree
    CentralAdmin,
    /// Everything, on its org unit's subtree
    UnitAdmin,
    /// Reads its subtree; changes nothing
    Reviewer,
    /// Reads its subtree, exports evidence packs, makes attestations
    Certifier,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::CentralAdmin => Role::CentralAdmin,
            RoleArg::UnitAdmin => Role::UnitAdmin,
            RoleArg::Reviewer => Role::Reviewer,
            RoleArg::Certifier => Role::Certifier,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct PasswordSource {
    /// Read the password from this file (its first line) [default: standard input]
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a dashboard account; the password (at least 12 characters) comes from standard input
    Create {
        #[command(flatten)]
        data: DataDir,
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The org unit whose subtree it works on (all roles but central-admin)
        #[arg(long, value_name = "CODE")]
        org_unit: Option<String>,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List the accounts
    List {
        #[command(flatten)]
        data: DataDir,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Disable an account and end its sessions
    Disable {
        #[command(flatten)]
        data: DataDir,
        username: String,
    },
    /// Set a new password (from standard input), end the account's sessions and lift its login locks
    Password {
        #[command(flatten)]
        data: DataDir,
        username: String,
        #[command(flatten)]
        password: PasswordSource,
    },
}

/// The password: the first line of the file, or of standard input.
fn read_password(source: &PasswordSource) -> anyhow::Result<String> {
    let text = match &source.password_file {
        Some(path) => read_file(path)?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "Password (at least {} characters; it is shown as you type), then Enter:",
                    users::MIN_PASSWORD_CHARS
                );
                let mut line = String::new();
                stdin.read_line(&mut line).context("password: reading standard input")?;
                line
            } else {
                let mut all = String::new();
                stdin
                    .lock()
                    .read_to_string(&mut all)
                    .context("password: reading standard input (UTF-8 text)")?;
                all
            }
        }
    };
    let first = text.lines().next().unwrap_or_default();
    if first.is_empty() {
        anyhow::bail!("password: empty; pipe it on standard input or give --password-file");
    }
    Ok(first.to_string())
}

fn read_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("password-file: reading {}", path.display()))
}

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    let caller = Caller::cli();
    let now = Timestamp::now().unix_millis();
    match command {
        UserCommand::Create {
            data,
            username,
            role,
            org_unit,
            password,
        } => {
            // Checked before asking for the password, so that a typo costs no typing.
            users::normalize_username(&username)?;
            let pw = read_password(&password)?;
            let store = Store::connect(&settings(&data)?.database).await?;
            let new = NewUser {
                username: &username,
                role: role.into(),
                org_unit: org_unit.as_deref(),
                password: &pw,
            };
            let user = users::create(&store, &caller, &new, now).await?;
            println!(
                "Created {} ({}, {}); recorded in the audit log.",
                user.username,
                user.role.as_str(),
                user.org_unit.as_ref().map(|u| u.0.as_str()).unwrap_or("the whole tree")
            );
            Ok(())
        }
        UserCommand::List { data, format } => {
            let store = Store::connect(&settings(&data)?.database).await?;
            let list = users::list(&store).await?;
            match format {
                Format::Json => {
                    let rows: Vec<_> = list.iter().map(|u| u.json()).collect();
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                }
                Format::Table => {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|u| {
                            vec![
                                u.username.clone(),
                                u.role.as_str().to_string(),
                                u.org_unit.as_ref().map(|o| o.0.clone()).unwrap_or_else(|| "–".into()),
                                if u.disabled { "disabled" } else { "active" }.to_string(),
                                Timestamp::from_unix_millis(u.created_at).map(|t| t.to_string()).unwrap_or_default(),
                            ]
                        })
                        .collect();
                    print_table(&["USERNAME", "ROLE", "ORG UNIT", "STATE", "CREATED"], &rows);
                }
            }
            Ok(())
        }
        UserCommand::Disable { data, username } => {
            let store = Store::connect(&settings(&data)?.database).await?;
            let user = users::disable(&store, &caller, &username, now).await?;
            println!("Disabled {}; its sessions are ended.", user.username);
            Ok(())
        }
        UserCommand::Password { data, username, password } => {
            users::normalize_username(&username)?;
            let pw = read_password(&password)?;
            let store = Store::connect(&settings(&data)?.database).await?;
            let user = users::set_password(&store, &caller, &username, &pw, now).await?;
            println!("New password set for {}; its sessions are ended.", user.username);
            Ok(())
        }
    }
}
