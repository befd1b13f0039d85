//! `khien-agent status`: what the state folder says, without disturbing a running agent
//! (the spool is locked by `run`, so its files are counted, not opened).

use crate::state::{Progress, StateDir, StateError};
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
    /// As `run` last saved it, with the spool counted now.
    #[serde(flatten)]
    pub progress: Progress,
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
        progress: Progress {
            spool_reports: reports,
            spool_bytes: bytes,
            ..progress
        },
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
    let p = &s.progress;
    let _ = writeln!(out, "Last ack:     report {} at {}", p.acked_seq, t(&p.acked_at));
    let _ = writeln!(out, "Last attempt: {}", t(&p.last_attempt_at));
    if let Some(e) = &p.last_error {
        let _ = writeln!(out, "Last error:   {e}");
    }
    let _ = writeln!(
        out,
        "Spool:        {} report(s), {} bytes; {} dropped, {} quarantined",
        p.spool_reports, p.spool_bytes, p.dropped, p.quarantined
    );
    out
}
