//! Times whole commands as a user runs them: median wall time and peak
//! resident memory over repeated runs, for Khiên and for the tools it replaces
//! on the same machine.
//!
//! Each run goes through `khien-bench measure -- CMD…`, a fresh process that
//! starts the command, waits for it and reads its peak RSS with
//! `getrusage(RUSAGE_CHILDREN)`: that figure is the maximum over all children
//! a process has waited for, so one measuring process per run keeps runs apart.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Parser)]
#[command(name = "khien-bench", about = "Khiên benchmarks (figures go to docs/benchmarks.md)")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// `khien-agent check --level N`, and OpenSCAP's ANSSI profile when installed
    Check {
        #[arg(long, default_value_t = 3)]
        level: u8,
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// The agent binary to time, as shipped (`cargo build --profile agent -p khien-agent`)
        #[arg(long, default_value = "target/agent/khien-agent")]
        agent: PathBuf,
        /// Runs of OpenSCAP (each takes seconds); 0 to skip it
        #[arg(long, default_value_t = 5)]
        oscap_runs: usize,
    },
    /// The steps of ingesting one report with facts, each timed alone (µs per operation)
    Ingest {
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
        #[arg(long, default_value_t = 3)]
        level: u8,
        /// Also time each requirement alone and print the slowest
        #[arg(long)]
        per_requirement: bool,
    },
    /// Runs one command and prints `wall_ns peak_rss_kib exit_code` (used by the others)
    Measure {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Ingest {
            iterations,
            level,
            per_requirement,
        } => ingest_steps(iterations, level, per_requirement),
        Cmd::Measure { command } => {
            let started = Instant::now();
            let status = Command::new(&command[0])
                .args(&command[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .with_context(|| format!("running {}", command[0]))?;
            let wall = started.elapsed();
            let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
            println!("{} {} {}", wall.as_nanos(), usage.max_rss(), status.code().unwrap_or(-1));
            Ok(())
        }
        Cmd::Check {
            level,
            runs,
            agent,
            oscap_runs,
        } => {
            if !agent.is_file() {
                bail!("{} not found; run `cargo build --release -p khien-agent` first", agent.display());
            }
            let level = level.to_string();
            let agent = agent.display().to_string();
            let ours = series(&[&agent, "check", "--level", &level, "--format", "json"], runs, 3)?;
            ours.print(&format!("khien-agent check --level {level}"));
            if oscap_runs > 0 {
                match oscap_datastream() {
                    Some(ds) => {
                        let profile = "xccdf_org.ssgproject.content_profile_anssi_np_nt28_high";
                        let theirs = series(&["oscap", "xccdf", "eval", "--profile", profile, &ds], oscap_runs, 1)?;
                        theirs.print("oscap xccdf eval, SSG ANSSI NT28 high (ssg-debian11 content, platform check widened to Debian 12)");
                        println!(
                            "ratio: khien-agent is {:.0}x faster and uses {:.0}x less memory",
                            theirs.median_wall_ms() / ours.median_wall_ms(),
                            theirs.median_rss_mib() / ours.median_rss_mib()
                        );
                    }
                    None => println!("oscap: skipped (install openscap-scanner and ssg-debian)"),
                }
            }
            Ok(())
        }
    }
}

struct Series {
    wall_ns: Vec<u128>,
    rss_kib: Vec<i64>,
    exit: i32,
}

impl Series {
    fn median_wall_ms(&self) -> f64 {
        median(&self.wall_ns) as f64 / 1e6
    }

    fn median_rss_mib(&self) -> f64 {
        median(&self.rss_kib) as f64 / 1024.0
    }

    fn print(&self, what: &str) {
        let ms = |n: u128| n as f64 / 1e6;
        println!(
            "{what}: runs={} exit={} wall_ms median={:.1} min={:.1} max={:.1} peak_rss_mib median={:.1} max={:.1}",
            self.wall_ns.len(),
            self.exit,
            self.median_wall_ms(),
            ms(*self.wall_ns.iter().min().unwrap_or(&0)),
            ms(*self.wall_ns.iter().max().unwrap_or(&0)),
            self.median_rss_mib(),
            *self.rss_kib.iter().max().unwrap_or(&0) as f64 / 1024.0,
        );
    }
}

fn median<T: Copy + Ord>(v: &[T]) -> T {
    let mut s = v.to_vec();
    s.sort_unstable();
    s[s.len() / 2]
}

/// `runs` measured runs after `warmup` unmeasured ones (page cache, first-run costs).
fn series(cmd: &[&str], runs: usize, warmup: usize) -> anyhow::Result<Series> {
    let me = std::env::current_exe()?;
    let mut s = Series {
        wall_ns: Vec::new(),
        rss_kib: Vec::new(),
        exit: 0,
    };
    for i in 0..runs + warmup {
        let out = Command::new(&me).arg("measure").arg("--").args(cmd).output()?;
        let text = String::from_utf8(out.stdout)?;
        let mut f = text.split_whitespace();
        let (Some(w), Some(r), Some(e)) = (f.next(), f.next(), f.next()) else {
            bail!("measure printed {text:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        if i >= warmup {
            s.wall_ns.push(w.parse()?);
            s.rss_kib.push(r.parse()?);
            s.exit = e.parse()?;
        }
    }
    Ok(s)
}

/// The SSG Debian 11 datastream with its platform check widened to Debian 12,
/// so that OpenSCAP evaluates the profile's rules here instead of marking them
/// all "notapplicable" (which would flatter its time).
fn oscap_datastream() -> Option<String> {
    let src = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml";
    let text = std::fs::read_to_string(src).ok()?;
    Command::new("oscap").arg("--version").output().ok()?;
    let widened = std::env::temp_dir().join("khien-bench-ssg-debian11-on-12-ds.xml");
    std::fs::write(&widened, text.replace("^11.[0-9]+$", "^1[12].[0-9]+$")).ok()?;
    Some(widened.display().to_string())
}

/// Median µs of `f` over `n` calls.
fn time_it(n: usize, mut f: impl FnMut()) -> f64 {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_nanos());
    }
    median(&samples) as f64 / 1000.0
}

/// This machine's facts through each step the collector takes for a report that carries them.
fn ingest_steps(n: usize, level: u8, per_requirement: bool) -> anyhow::Result<()> {
    use khien_policy::{Catalogue, FactsView, Target};
    use khien_proto::report::{Report, facts_digest, sign, verify};
    use ring::signature::KeyPair as _;
    let facts = khien_agent::probe::collect(&khien_agent::config::ProbeConfig::default());
    let dir = khien_policy::locate::find(None, None)?;
    let catalogue = Catalogue::open(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = catalogue.default_framework().map(|f| f.id.clone()).unwrap_or_default();
    let framework = catalogue.load(&id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = Report {
        agent_id: "bench".into(),
        seq: 1,
        collected_at: facts.collected_at,
        agent_version: "bench".into(),
        policy_digest: String::new(),
        facts_digest: facts_digest(&facts),
        facts: Some(facts.clone()),
        evaluation: None,
    };
    let body = serde_json::to_vec(&report)?;
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).map_err(|_| anyhow::anyhow!("key"))?;
    let key = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("key"))?;
    let sig = sign(&key, &body);
    let public = key.public_key().as_ref().to_vec();
    let mut target = Target::for_facts(&facts, level);
    let view = FactsView::new(&facts);
    println!(
        "report body: {} bytes, framework {id} at level {level}, {n} iterations (median µs)",
        body.len()
    );
    println!(
        "verify signature      {:8.1}",
        time_it(n, || assert!(verify(&public, &body, &sig).is_ok()))
    );
    println!(
        "parse report          {:8.1}",
        time_it(n, || drop(std::hint::black_box(serde_json::from_slice::<Report>(&body).ok())))
    );
    println!(
        "facts digest          {:8.1}",
        time_it(n, || drop(std::hint::black_box(facts_digest(&facts))))
    );
    println!(
        "facts view            {:8.1}",
        time_it(n, || drop(std::hint::black_box(FactsView::new(&facts))))
    );
    target.evidence = false;
    println!(
        "evaluate (statuses)   {:8.1}",
        time_it(n, || drop(std::hint::black_box(framework.evaluate(&view, &target))))
    );
    target.evidence = true;
    println!(
        "evaluate (evidence)   {:8.1}",
        time_it(n, || drop(std::hint::black_box(framework.evaluate(&view, &target))))
    );
    if per_requirement {
        // Each requirement in a framework of its own, less the cost of an empty one:
        // where the evaluation's time goes.
        target.evidence = false;
        let alone = |only: Option<&str>| -> anyhow::Result<f64> {
            let mut f = catalogue.load(&id).map_err(|e| anyhow::anyhow!("{e}"))?;
            f.requirements.retain(|r| Some(r.id.as_str()) == only);
            Ok(time_it(n / 4, || drop(std::hint::black_box(f.evaluate(&view, &target)))))
        };
        let base = alone(None)?;
        let mut costs: Vec<(f64, String, usize)> = Vec::new();
        for r in framework.at_level(level) {
            costs.push((alone(Some(&r.id))? - base, r.id.clone(), r.checks.len()));
        }
        costs.sort_by(|a, b| b.0.total_cmp(&a.0));
        println!("empty framework         {base:8.1}");
        for (us, id, checks) in costs.iter().take(15) {
            println!("  {id:<8} {checks:>2} checks {us:8.1}");
        }
        println!("  sum of all requirements {:8.1}", costs.iter().map(|c| c.0).sum::<f64>());
    }
    Ok(())
}
