//! `khien-agent run`: collect, spool, send, forever (or `--once`).
//!
//! A report is produced at the configured interval and as soon as a watched
//! input of the facts changes. When the facts' digest equals that of the last
//! full report, the report is a heartbeat (sequence number and digest only,
//! not signed); otherwise it carries the facts and is signed. Facts are sent
//! in full at least daily, and whenever the collector asks for them.
//!
//! Every report goes to the durable spool before the first attempt to send it
//! and leaves it only on the collector's 2xx, so that a stopped collector, a
//! broken link or a crash of the agent loses nothing.

use crate::config::Config;
use crate::probe;
use crate::send::{SendError, Sender};
use crate::spool::{Limits, Spool};
use crate::state::{Progress, StateDir, StateError};
use crate::watch::Watch;
use khien_proto::Timestamp;
use khien_proto::report::{Report, facts_digest, sign};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::Ed25519KeyPair;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Inotify misses changes on network filesystems, on overflow and while the agent is down.
const RESCAN: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("spool: {0}")]
    Spool(#[from] crate::spool::SpoolError),
    #[error("{0}")]
    Other(String),
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::State(StateError::Io(e))
    }
}

/// What `--once` achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Once {
    Acknowledged(u64),
    /// Left in the spool; the reason of the last failure.
    Pending(String),
}

/// Paths whose change may change the facts.
pub fn watched_paths(config: &Config) -> Vec<PathBuf> {
    let root = probe::root::Root::new(&config.probe.root);
    let mut paths: Vec<PathBuf> = [
        "/etc/clamav",
        "/etc/clamd.d",
        "/var/lib/clamav",
        "/etc/resolv.conf",
        "/etc/os-release",
        "/etc/hostname",
        "/etc/ufw",
        "/etc/default/ufw",
        "/etc/firewalld",
        "/etc/nftables.conf",
    ]
    .iter()
    .map(|p| root.path(p))
    .collect();
    let clam = &config.probe.clamav;
    paths.extend(
        [&clam.clamd_conf, &clam.freshclam_conf, &clam.database_dir]
            .into_iter()
            .flatten()
            .cloned(),
    );
    paths.sort();
    paths.dedup();
    paths
}

struct Agent {
    config: Config,
    dir: StateDir,
    agent_id: String,
    key: Ed25519KeyPair,
    policy_digest: String,
    spool: Spool,
    sender: Sender,
    progress: Progress,
    backoff: Duration,
    retry_at: Option<Instant>,
}

impl Agent {
    fn save(&mut self) -> Result<(), RunError> {
        let (n, bytes) = self.spool.depth();
        self.progress.spool_reports = n;
        self.progress.spool_bytes = bytes;
        self.progress.dropped = self.spool.dropped_total();
        self.progress.quarantined = self.spool.quarantined_total();
        self.dir.save_progress(&self.progress)?;
        Ok(())
    }

    /// Collects the facts and puts a report (full or heartbeat) in the spool.
    async fn produce(&mut self, force_full: bool) -> Result<u64, RunError> {
        let probe_config = self.config.probe.clone();
        let facts = tokio::task::spawn_blocking(move || probe::collect(&probe_config))
            .await
            .map_err(|e| RunError::Other(format!("fact collection failed: {e}")))?;
        let digest = facts_digest(&facts);
        let full_due = self
            .progress
            .last_full_at
            .is_none_or(|t| t.days_until(Timestamp::now()) * 86_400.0 >= self.config.report.full_every.as_secs_f64());
        let full = force_full || self.progress.need_facts || full_due || digest != self.progress.spooled_digest;
        let seq = self.progress.next_seq.max(self.progress.acked_seq + 1).max(1);
        self.progress.next_seq = seq + 1;
        // The counter is durable before the report exists: a crash never reuses a number.
        self.save()?;
        let report = Report {
            agent_id: self.agent_id.clone(),
            seq,
            collected_at: facts.collected_at,
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            policy_digest: self.policy_digest.clone(),
            facts_digest: digest.clone(),
            facts: full.then_some(facts),
            evaluation: None,
        };
        let body = serde_json::to_vec(&report).map_err(|e| RunError::Other(e.to_string()))?;
        let signature = full.then(|| sign(&self.key, &body));
        let dropped = self.spool.push(seq, &body, signature.as_deref())?;
        if dropped > 0 {
            tracing::error!(dropped, "Spool full: oldest reports dropped.");
        }
        if full {
            self.progress.full_reports += 1;
            self.progress.spooled_digest = digest;
            self.progress.last_full_at = Some(Timestamp::now());
            self.progress.need_facts = false;
        }
        self.save()?;
        tracing::debug!(seq, full, "Report spooled.");
        Ok(seq)
    }

    /// Sends what the spool holds, oldest first, until it is empty or a retryable error.
    async fn drain(&mut self) -> Result<(), RunError> {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        while let Some(entry) = self.spool.oldest()? {
            self.progress.last_attempt_at = Some(Timestamp::now());
            match self.sender.send(&entry).await {
                Ok(ack) => {
                    self.spool.ack(entry.seq)?;
                    self.progress.acked_seq = self.progress.acked_seq.max(entry.seq);
                    self.progress.acked_at = Some(Timestamp::now());
                    self.progress.last_error = None;
                    if ack.need_facts {
                        self.progress.need_facts = true;
                    }
                    if ack.outcome == "duplicate" {
                        self.progress.duplicate_acks += 1;
                    }
                    self.backoff = Duration::ZERO;
                    self.retry_at = None;
                }
                Err(SendError::Permanent(why)) => {
                    tracing::error!(seq = entry.seq, reason = %why, "Report refused by the collector; quarantined.");
                    self.spool.quarantine(entry.seq, &why)?;
                    self.progress.last_error = Some(why);
                }
                Err(SendError::Retryable(why)) => {
                    self.backoff = next_backoff(self.backoff);
                    self.retry_at = Some(Instant::now() + self.backoff);
                    tracing::warn!(seq = entry.seq, reason = %why, retry_in = ?self.backoff, "Collector unavailable; reports kept in the spool.");
                    self.progress.last_error = Some(why);
                    break;
                }
            }
        }
        self.save()
    }
}

/// Doubles up to five minutes, with ±25 % jitter so that a province's agents
/// do not all come back at the same second after an outage.
fn next_backoff(current: Duration) -> Duration {
    let base = if current.is_zero() {
        Duration::from_secs(1)
    } else {
        (current * 2).min(MAX_BACKOFF)
    };
    let mut b = [0u8; 2];
    let _ = SystemRandom::new().fill(&mut b);
    let jitter = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.5 - 0.25;
    base.mul_f64(1.0 + jitter)
}

fn open(config: &Config, dir: &StateDir) -> Result<Agent, RunError> {
    let enrollment = dir.enrollment()?;
    let key = dir.signing_key()?;
    let sender = Sender::new(dir)?;
    let spool = Spool::open(
        &dir.spool_dir(),
        Limits {
            max_reports: config.report.spool_max_reports,
            max_bytes: config.report.spool_max_bytes,
        },
    )?;
    let policy_digest = khien_policy::locate::find(None, config.policies_dir.as_deref())
        .ok()
        .and_then(|d| khien_policy::Catalogue::open(&d).ok())
        .map(|c| c.digest())
        .unwrap_or_default();
    Ok(Agent {
        config: config.clone(),
        dir: dir.clone(),
        agent_id: enrollment.agent_id,
        key,
        policy_digest,
        spool,
        sender,
        progress: dir.progress()?,
        backoff: Duration::ZERO,
        retry_at: None,
    })
}

/// Sends one full report and waits for its acknowledgement (or leaves it in the spool).
pub async fn once(config: &Config, dir: &StateDir) -> Result<Once, RunError> {
    let mut agent = open(config, dir)?;
    let seq = agent.produce(true).await?;
    agent.drain().await?;
    if agent.progress.acked_seq >= seq {
        Ok(Once::Acknowledged(seq))
    } else {
        Ok(Once::Pending(
            agent.progress.last_error.clone().unwrap_or_else(|| "not sent".into()),
        ))
    }
}

/// Runs until `stop` resolves.
pub async fn forever(config: &Config, dir: &StateDir, stop: impl std::future::Future<Output = ()>) -> Result<(), RunError> {
    let mut agent = open(config, dir)?;
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let watch = match Watch::start(&watched_paths(config), config.report.debounce, tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "Cannot watch files; reporting at the interval only.");
            None
        }
    };
    let mut interval = tokio::time::interval(config.report.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rescan = tokio::time::interval_at(Instant::now() + RESCAN, RESCAN);
    tokio::pin!(stop);
    loop {
        let retry = agent.retry_at;
        tokio::select! {
            _ = &mut stop => break,
            _ = interval.tick() => { agent.produce(false).await?; }
            Some(paths) = changes.recv() => {
                tracing::info!(?paths, "Watched input changed; reporting now.");
                agent.produce(false).await?;
            }
            _ = rescan.tick() => {
                if watch.as_ref().is_some_and(|w| !w.rescan().is_empty()) {
                    agent.produce(false).await?;
                }
            }
            _ = async { if let Some(t) = retry { tokio::time::sleep_until(t).await } else { std::future::pending::<()>().await } } => {
                agent.retry_at = None;
            }
        }
        if agent.progress.need_facts {
            agent.produce(true).await?;
        }
        agent.drain().await?;
    }
    agent.save()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        let mut b = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..12 {
            b = next_backoff(b);
            seen.push(b);
        }
        assert!(
            seen[0] >= Duration::from_millis(750) && seen[0] <= Duration::from_millis(1250),
            "{seen:?}"
        );
        assert!(seen.iter().all(|d| *d <= MAX_BACKOFF.mul_f64(1.25)), "{seen:?}");
        assert!(seen[11] >= MAX_BACKOFF.mul_f64(0.75), "{seen:?}");
    }
}
