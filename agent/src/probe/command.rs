//! Running a tool whose output is its stable interface (`nft -j`, `mdatp health`).
//!
//! Always an absolute path, an argument vector (no shell), the C locale, no
//! stdin, a deadline and a cap on output: a hung or chatty tool must not stall
//! or bloat the agent.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Output above this is cut; no tool we call prints that much about posture.
const OUTPUT_CAP: u64 = 16 * 1024 * 1024;

#[derive(Debug)]
pub struct Output {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("{0} did not finish within {1:?} and was stopped")]
    Timeout(String, Duration),
    #[error("waiting for {0}: {1}")]
    Wait(String, std::io::Error),
}

pub fn run(program: &Path, args: &[&str], timeout: Duration) -> Result<Output, CommandError> {
    run_with_input(program, args, None, timeout)
}

/// As [`run`], with `input` written to the tool's stdin, which is then closed
/// (PowerShell reads its script there: `-Command -`).
pub fn run_with_input(program: &Path, args: &[&str], input: Option<&[u8]>, timeout: Duration) -> Result<Output, CommandError> {
    let name = || {
        let mut s = program.display().to_string();
        for a in args {
            s.push(' ');
            s.push_str(a);
        }
        s
    };
    let mut child = Command::new(program)
        .args(args)
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CommandError::Spawn(name(), e))?;
    // Written from a thread: a tool that does not read its input must not block us past the deadline.
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let input = input.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        });
    }

    // Drain both pipes while waiting, or a tool that fills one would block forever.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = pipe {
                let _ = p.take(OUTPUT_CAP).read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));

    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CommandError::Timeout(name(), timeout));
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(CommandError::Wait(name(), e)),
        }
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// The first of `candidates` that exists as a file, for tools installed in different places per distribution.
pub fn find_tool<'a>(candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().copied().find(|p| Path::new(p).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let out = run(
            Path::new("/bin/sh"),
            &["-c", "echo hi; echo err >&2; exit 3"],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.stdout, "hi\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status.code(), Some(3));
        assert!(!out.success());
    }

    #[test]
    fn stops_a_tool_that_hangs() {
        let started = Instant::now();
        let err = run(Path::new("/bin/sleep"), &["10"], Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, CommandError::Timeout(..)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn reports_a_missing_tool() {
        let err = run(Path::new("/nonexistent/tool"), &[], Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tool"), "{err}");
    }

    #[test]
    fn feeds_input_on_stdin() {
        let out = run_with_input(Path::new("/bin/sh"), &["-s"], Some(b"echo from-stdin\n"), Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout, "from-stdin\n");
    }

    #[test]
    fn runs_in_the_c_locale() {
        let out = run(Path::new("/bin/sh"), &["-c", "echo $LC_ALL"], Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout.trim(), "C");
    }
}
