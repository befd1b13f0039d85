use clap::Parser;
use khien_agent::cli::{self, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("khien-agent: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
