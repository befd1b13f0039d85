//! `khien-agent status`: what the state folder says, without disturbing a running agent
//! (the spool is locked by `run`, so its files are counted, not opened).

use crate::state::{StateDir, StateError};
use khien_proto::Timestamp;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Serialize)]
pub struct Status {
    pub state_dir: String,
    pub enrolled: bool,
    pub agent_id: Option<String>,
    pub collector_url: Option<String>,
    pub org_unit: Option<String>,
    pub systems: Vec<String>,
    pub acked_seq: u64,
    pub acked_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub spool_reports: usize,
    pub spool_bytes: u64,
    pub dropped: u64,
    pub quarantined: u64,
    pub full_reports: u64,
    pub duplicate_acks: u64,
}

pub fn read(dir: &StateDir) -> Result<Status, StateError> {
    let enrollment = match dir.enrollment() {
        Ok(e) => Some(e),
        Err(StateError::NotEnrolled(_)) => None,
        Err(e) => return Err(e),
    };
    let progress = dir.progress()?;
    let (mut reports, mut bytes) = (0usize, 0u64);
    if let Ok(entries) = std::fs::read_dir(dir.spool_dir()) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".report") {
                reports += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    Ok(Status {
        state_dir: dir.path.display().to_string(),
        enrolled: enrollment.is_some(),
        agent_id: enrollment.as_ref().map(|e| e.agent_id.clone()),
        collector_url: enrollment.as_ref().map(|e| e.collector_url.clone()),
        org_unit: enrollment.as_ref().map(|e| e.org_unit.clone()),
        systems: enrollment.map(|e| e.systems).unwrap_or_default(),
        acked_seq: progress.acked_seq,
        acked_at: progress.acked_at,
        last_attempt_at: progress.last_attempt_at,
        last_error: progress.last_error,
        spool_reports: reports,
        spool_bytes: bytes,
        dropped: progress.dropped,
        quarantined: progress.quarantined,
        full_reports: progress.full_reports,
        duplicate_acks: progress.duplicate_acks,
    })
}

pub fn table(s: &Status) -> String {
    let mut out = String::new();
    let t = |t: &Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_else(|| "never".into());
    if !s.enrolled {
        let _ = writeln!(
            out,
            "Not enrolled (state folder {}). Run `khien-agent enroll --token …`.",
            s.state_dir
        );
        return out;
    }
    let _ = writeln!(out, "Agent:        {}", s.agent_id.as_deref().unwrap_or("-"));
    let _ = writeln!(out, "Collector:    {}", s.collector_url.as_deref().unwrap_or("-"));
    let _ = writeln!(
        out,
        "Org unit:     {} (systems: {})",
        s.org_unit.as_deref().unwrap_or("-"),
        if s.systems.is_empty() {
            "none".into()
        } else {
            s.systems.join(", ")
        }
    );
    let _ = writeln!(out, "Last ack:     report {} at {}", s.acked_seq, t(&s.acked_at));
    let _ = writeln!(out, "Last attempt: {}", t(&s.last_attempt_at));
    if let Some(e) = &s.last_error {
        let _ = writeln!(out, "Last error:   {e}");
    }
    let _ = writeln!(
        out,
        "Spool:        {} report(s), {} bytes; {} dropped, {} quarantined",
        s.spool_reports, s.spool_bytes, s.dropped, s.quarantined
    );
    out
}
