//! The agent's state folder (default `/var/lib/khien-agent`, 0700).
//!
//! ```text
//! enrollment.json   agent id, collector URL, org unit, systems
//! ca.crt            the collector CA, pinned at enrollment
//! tls.crt tls.key   the agent's client certificate and key (0600)
//! signing.pk8       Ed25519 key that signs reports with facts (0600)
//! progress.json     sequence numbers, last acknowledgement, spool counters
//! spool/            reports waiting for the collector's acknowledgement
//! ```

use crate::durable;
use khien_proto::Timestamp;
use ring::signature::Ed25519KeyPair;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

pub const DEFAULT_DIR: &str = "/var/lib/khien-agent";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub agent_id: String,
    pub collector_url: String,
    pub org_unit: String,
    pub systems: Vec<String>,
    pub enrolled_at: Timestamp,
}

/// What survives restarts of `run`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Progress {
    /// The next report's sequence number; saved before the report is spooled,
    /// so that a crash never reuses one.
    pub next_seq: u64,
    pub acked_seq: u64,
    pub acked_at: Option<Timestamp>,
    /// Digest of the facts of the last full report put in the spool.
    pub spooled_digest: String,
    pub last_full_at: Option<Timestamp>,
    /// The collector asked for the facts in full.
    pub need_facts: bool,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub spool_reports: usize,
    pub spool_bytes: u64,
    pub dropped: u64,
    pub quarantined: u64,
    /// Reports with facts put in the spool, since enrollment.
    pub full_reports: u64,
    /// Acknowledgements that said "duplicate": the collector had the report already.
    pub duplicate_acks: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{0}: {1}")]
    Corrupt(PathBuf, String),
    #[error("this agent is not enrolled (no {0}); run `khien-agent enroll --token …` first")]
    NotEnrolled(PathBuf),
}

#[derive(Clone, Debug)]
pub struct StateDir {
    pub path: PathBuf,
}

impl StateDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateDir { path: path.into() }
    }

    pub fn ensure(&self) -> io::Result<()> {
        durable::private_dir(&self.path)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.file("spool")
    }

    pub fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        durable::write_atomic(&self.path, &self.path, name, data)
    }

    pub fn read(&self, name: &str) -> Result<String, StateError> {
        let path = self.file(name);
        std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StateError::NotEnrolled(path),
            _ => StateError::Io(durable::with_path(&path, e)),
        })
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, StateError> {
        let text = self.read(name)?;
        serde_json::from_str(&text).map_err(|e| StateError::Corrupt(self.file(name), e.to_string()))
    }

    pub fn enrollment(&self) -> Result<Enrollment, StateError> {
        self.json("enrollment.json")
    }

    pub fn is_enrolled(&self) -> bool {
        self.file("enrollment.json").exists()
    }

    pub fn save_enrollment(&self, e: &Enrollment) -> io::Result<()> {
        self.write("enrollment.json", &serde_json::to_vec_pretty(e).unwrap_or_default())
    }

    pub fn progress(&self) -> Result<Progress, StateError> {
        match self.json("progress.json") {
            Err(StateError::NotEnrolled(_)) => Ok(Progress::default()),
            other => other,
        }
    }

    pub fn save_progress(&self, p: &Progress) -> io::Result<()> {
        self.write("progress.json", &serde_json::to_vec_pretty(p).unwrap_or_default())
    }

    /// (CA, certificate, key) PEM.
    pub fn tls_identity(&self) -> Result<(String, String, String), StateError> {
        Ok((self.read("ca.crt")?, self.read("tls.crt")?, self.read("tls.key")?))
    }

    pub fn signing_key(&self) -> Result<Ed25519KeyPair, StateError> {
        let path = self.file("signing.pk8");
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StateError::NotEnrolled(path.clone()),
            _ => StateError::Io(durable::with_path(&path, e)),
        })?;
        Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| StateError::Corrupt(path, "not an Ed25519 PKCS#8 key".into()))
    }

    pub fn exists(path: &Path) -> bool {
        path.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_defaults_until_saved_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path().join("state"));
        s.ensure().unwrap();
        assert_eq!(s.progress().unwrap(), Progress::default());
        let p = Progress {
            next_seq: 7,
            acked_seq: 6,
            ..Progress::default()
        };
        s.save_progress(&p).unwrap();
        assert_eq!(s.progress().unwrap(), p);
        assert!(matches!(s.enrollment(), Err(StateError::NotEnrolled(_))));
        std::fs::write(s.file("progress.json"), "{broken").unwrap();
        assert!(matches!(s.progress(), Err(StateError::Corrupt(..))));
    }
}
