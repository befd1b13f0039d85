use clap::Parser;
use khien_agent::cli::{self, Cli, Command};
use std::process::ExitCode;

mod service;

fn main() -> ExitCode {
    one_malloc_arena();
    let cli = Cli::parse();
    let result = if let Command::Service { action } = cli.command {
        khien_agent::config::Config::load(cli.config.as_deref())
            .map_err(anyhow::Error::from)
            .and_then(|config| service::command(action, cli.config.as_deref(), &config))
    } else {
        cli::run(cli)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("khien-agent: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One malloc arena for the whole process. glibc gives each probe thread an
/// arena of its own, and what a thread frees there stays resident: 0.5 MiB of
/// the agent's 10 MiB budget (docs/benchmarks.md). The threads allocate
/// little, so sharing one arena costs nothing measurable.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn one_malloc_arena() {
    // SAFETY: mallopt only sets a parameter of the allocator; it is called
    // before any thread exists, and a refusal (return value 0) is harmless.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}
