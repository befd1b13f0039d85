//! Harness for Khiên's whole-system tests: the built binaries, and real parts
//! started for one test and torn down after it (clamd, network namespaces
//! with nftables rules, listeners on forbidden ports).
//!
//! Tests that need root or a missing tool print why and return early; CI
//! installs everything and runs as root, so there nothing is skipped.

pub mod browser;
pub mod clamd;
pub mod collector;
pub mod netns;
pub mod postgres;
pub mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace checkout.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path of a workspace binary, built first unless the test runner says it already did
/// (`KHIEN_PREBUILT=1`, set by `scripts/test` after `cargo build --bins`).
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    // target/<profile>/deps/<test binary> → target/<profile>/<name>
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let path = dir.join(name);
    BUILT.get_or_init(|| {
        if std::env::var_os("KHIEN_PREBUILT").is_none() || !path.exists() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(workspace()).args(["build", "--bins", "--quiet"]);
            if dir.file_name().is_some_and(|p| p == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("running cargo build");
            assert!(status.success(), "cargo build --bins failed");
        }
    });
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// True when running as root (uid 0), read from `/proc/self/status`.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The path of a tool on `PATH` or in the sbin folders.
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Returns false (and says why) when a test cannot run here.
pub fn can_run(needs_root: bool, tools: &[&str]) -> bool {
    if needs_root && !is_root() {
        eprintln!("skipped: this test needs root (network namespaces, nftables)");
        return false;
    }
    for t in tools {
        if tool(t).is_none() {
            eprintln!("skipped: `{t}` is not installed (scripts/test installs it when run as root)");
            return false;
        }
    }
    true
}

/// Sends `signal` (`TERM`, `INT`) to a child and waits for it to exit; kills
/// it if it has not within `timeout`.
pub fn stop_process(child: &mut std::process::Child, signal: &str, timeout: std::time::Duration) {
    let _ = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Output of a command, with its text decoded for assertions.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `khien-agent` with arguments, optionally inside a network namespace.
pub fn agent(args: &[&str], ns: Option<&netns::Netns>) -> Run {
    let agent = bin("khien-agent");
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns.name]).arg(&agent);
            c
        }
        None => Command::new(&agent),
    };
    cmd.args(args).output().expect("running khien-agent").into()
}

/// The result for one check in `check --format json` output.
pub fn result<'a>(check_json: &'a serde_json::Value, check: &str) -> &'a serde_json::Value {
    check_json["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["check"] == check))
        .unwrap_or_else(|| panic!("no result for {check} in {check_json:#}"))
}
