//! Repository chores that produce checked-in files, each with a `--check` mode
//! that CI runs so the files never drift from their sources.

mod coverage;
mod generate;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Khiên repository chores")]
struct Cli {
    /// The repository to work on (default: this checkout); policies/ and docs/ are read and written under it.
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes policies/<framework>/ from policies/source/.
    Policies {
        /// Only compare; fail when a generated file differs from what is checked in.
        #[arg(long)]
        check: bool,
    },
    /// Writes docs/coverage.md from the catalogue.
    Coverage {
        #[arg(long)]
        check: bool,
    },
}

fn repo_root() -> PathBuf {
    // xtask/ sits directly under the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Writes or compares generated files; returns the paths that differ.
pub fn sync(files: &[(PathBuf, String)], check: bool) -> Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    for (path, text) in files {
        let current = std::fs::read_to_string(path).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        stale.push(path.clone());
        if !check {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, text)?;
        }
    }
    Ok(stale)
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let root = cli.root.unwrap_or_else(repo_root);
    let (what, stale, check) = match cli.command {
        Command::Policies { check } => ("policies", generate::run(&root, check)?, check),
        Command::Coverage { check } => ("docs/coverage.md", coverage::run(&root, check)?, check),
    };
    for p in &stale {
        let rel = p.strip_prefix(&root).unwrap_or(p).display();
        if check {
            eprintln!("out of date: {rel}");
        } else {
            println!("wrote {rel}");
        }
    }
    if check && !stale.is_empty() {
        eprintln!(
            "{what} is not current; run `cargo xtask {}` and commit the result",
            what.split('/').next_back().unwrap_or(what).trim_end_matches(".md")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
