//! Durable report spool (architecture decision 7).
//!
//! A signed report is on disk before the first attempt to send it, and leaves
//! the disk only when the collector acknowledged it ([`Spool::ack`]), refused
//! it for good ([`Spool::quarantine`], the file is moved, not deleted), or when
//! the spool is full and it is the oldest ([`Spool::push`] drops it and counts
//! it). Nothing else removes a report.
//!
//! # Layout
//!
//! ```text
//! <dir>/                          mode 0700
//!     00000000000000000042.report one file per report, mode 0600
//!     counters.json               totals and the journal of an unfinished drop or quarantine
//!     lock                        held (flock) while a Spool is open
//!     tmp/                        files being written; emptied at open
//!     quarantine/                 refused or corrupted reports, each with `<name>.reason`
//! ```
//!
//! A report file is named after its seq, zero-padded to 20 digits (all of
//! `u64`), so that lexical order is seq order, and holds a text header and
//! then the body bytes:
//!
//! ```text
//! KHIEN-SPOOL 1
//! seq: 42
//! signature: ed25519:...      (`-` for a heartbeat, which is not signed)
//! length: 1234
//! sha256: <hex of the body>
//!
//! <body bytes>
//! ```
//!
//! The header is checked strictly on every read: magic, the seq against the
//! file name, the exact body length and its SHA-256. Any mismatch is
//! corruption and the file goes to `quarantine/` with the reason; it is
//! counted and never silently deleted.
//!
//! # Crash safety
//!
//! Every file (reports, reason files, `counters.json`) is written to `tmp/`,
//! fsynced, renamed into place and the folder fsynced, so a crash leaves
//! either the old or the new file, plus perhaps a temp file that
//! [`Spool::open`] removes. Dropping and quarantining change two things (the
//! files and the totals); `counters.json` is written first with the new totals
//! and the pending change, the files are changed, then the pending change is
//! cleared. [`Spool::open`] finishes a pending change without counting it
//! again, so the totals stay exact across a crash.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::durable;
use khien_proto::report::sha256_hex;
use serde::{Deserialize, Serialize};

const MAGIC: &str = "KHIEN-SPOOL 1";
const SUFFIX: &str = ".report";
const SEQ_DIGITS: usize = 20;
const COUNTERS: &str = "counters.json";
const LOCK: &str = "lock";
const TMP: &str = "tmp";
const QUARANTINE: &str = "quarantine";
const NO_SIGNATURE: &str = "-";

/// Bounds of the spool; [`Spool::push`] drops the oldest reports to stay
/// within both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_reports: usize,
    /// On-disk bytes of the report files (header and body).
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_reports: 10_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A spooled report, read back and integrity-checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub body: Vec<u8>,
    /// Header value of `x-khien-signature`, `None` for heartbeats.
    pub signature: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("spool {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    #[error("invalid spool limits: {0}")]
    InvalidLimits(&'static str),
    #[error("report seq {seq} is not greater than the newest spooled seq {newest}")]
    SeqNotIncreasing { seq: u64, newest: u64 },
    #[error("report seq {seq} takes {bytes} bytes on disk, more than the spool limit of {max_bytes}")]
    TooLarge { seq: u64, bytes: u64, max_bytes: u64 },
    #[error("a signature header value must be non-empty visible ASCII and not `-`")]
    InvalidSignature,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Totals kept across restarts, and the journal of a change in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Counters {
    #[serde(default)]
    dropped_total: u64,
    #[serde(default)]
    quarantined_total: u64,
    /// Seqs already counted in `dropped_total` whose files may still exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending_drops: Vec<u64>,
    /// Moves already counted in `quarantined_total` that may be unfinished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending_quarantine: Vec<PendingQuarantine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PendingQuarantine {
    /// File name in the spool folder.
    name: String,
    /// File name chosen in `quarantine/`.
    qname: String,
    reason: String,
}

/// The on-disk queue of reports waiting for the collector.
///
/// One process at a time: [`Spool::open`] takes an exclusive lock on
/// `<dir>/lock`, held until the `Spool` is dropped.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    tmp: PathBuf,
    quarantine: PathBuf,
    limits: Limits,
    /// seq → size of the report file, for O(1) depth and for choosing what to drop.
    index: BTreeMap<u64, u64>,
    bytes: u64,
    counters: Counters,
    _lock: File,
}

impl Spool {
    /// Opens (creating with mode 0700) `dir`, its `tmp/` and `quarantine/`
    /// subfolders; removes leftover temp files from a crash; moves entries
    /// that fail their integrity check to quarantine (counted, never silently
    /// deleted).
    ///
    /// It also finishes a drop or quarantine that a crash interrupted, and
    /// applies `limits` at once (dropping the oldest, counted) in case they
    /// were lowered since the last run. Every report is read and checked, so
    /// opening a full spool reads up to `max_bytes`.
    pub fn open(dir: &Path, limits: Limits) -> Result<Spool, SpoolError> {
        if limits.max_reports == 0 {
            return Err(SpoolError::InvalidLimits("max_reports must be at least 1"));
        }
        if limits.max_bytes == 0 {
            return Err(SpoolError::InvalidLimits("max_bytes must be at least 1"));
        }
        let dir = dir.to_path_buf();
        let tmp = dir.join(TMP);
        let quarantine = dir.join(QUARANTINE);
        private_dir(&dir)?;
        private_dir(&tmp)?;
        private_dir(&quarantine)?;
        sync_dir(&dir)?;
        if let Some(parent) = dir.parent() {
            // The spool folder's own entry must survive a crash too.
            let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
            sync_dir(parent)?;
        }
        let lock = take_lock(&dir.join(LOCK))?;
        let mut spool = Spool {
            dir,
            tmp,
            quarantine,
            limits,
            index: BTreeMap::new(),
            bytes: 0,
            counters: Counters::default(),
            _lock: lock,
        };
        spool.clean_tmp()?;
        spool.load_counters()?;
        spool.finish_pending()?;
        spool.scan()?;
        spool.enforce_limits()?;
        Ok(spool)
    }

    /// Writes a report durably before returning: write to tmp/, fsync the
    /// file, rename into the spool, fsync the directory. `seq` must be greater
    /// than every seq in the spool (else error). When the limits would be
    /// exceeded it drops the OLDEST entries to make room and returns how many
    /// it dropped; the total dropped is persisted in `counters.json`.
    ///
    /// The new report is written before the old ones are dropped, so a crash
    /// in between never loses the new one (the next open drops instead). A
    /// report larger than `max_bytes` on its own is refused with
    /// [`SpoolError::TooLarge`] rather than emptying the spool for nothing.
    /// An error after the rename leaves the report in the spool (it is
    /// indexed), as with any write whose fsync failed.
    pub fn push(&mut self, seq: u64, body: &[u8], signature: Option<&str>) -> Result<usize, SpoolError> {
        if let Some(s) = signature {
            check_signature(s)?;
        }
        if let Some((&newest, _)) = self.index.last_key_value()
            && seq <= newest
        {
            return Err(SpoolError::SeqNotIncreasing { seq, newest });
        }
        let data = encode(seq, body, signature);
        let size = data.len() as u64;
        if size > self.limits.max_bytes {
            return Err(SpoolError::TooLarge {
                seq,
                bytes: size,
                max_bytes: self.limits.max_bytes,
            });
        }
        let name = entry_name(seq);
        if let Err(e) = write_atomic(&self.tmp, &self.dir, &name, &data) {
            if fs::symlink_metadata(self.dir.join(&name)).is_ok() {
                self.index.insert(seq, size);
                self.bytes += size;
            }
            return Err(e);
        }
        self.index.insert(seq, size);
        self.bytes += size;
        self.enforce_limits()
    }

    /// The oldest entry, read and integrity-checked from disk (a corrupted one
    /// is quarantined and the next returned).
    ///
    /// A file deleted behind the spool's back is forgotten and the next one
    /// returned: there is nothing left to send.
    pub fn oldest(&mut self) -> Result<Option<Entry>, SpoolError> {
        loop {
            let Some((&seq, _)) = self.index.first_key_value() else {
                return Ok(None);
            };
            let name = entry_name(seq);
            let path = self.dir.join(&name);
            match read_entry(&path, seq) {
                Ok(Ok(entry)) => return Ok(Some(entry)),
                Ok(Err(problem)) => {
                    self.quarantine_file(&name, &format!("integrity check failed: {problem}"))?;
                    self.forget(seq);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => self.forget(seq),
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
    }

    /// Deletes the entry after the collector's 2xx (fsync the dir). Acking an
    /// absent seq is Ok (idempotent).
    pub fn ack(&mut self, seq: u64) -> Result<(), SpoolError> {
        if !self.index.contains_key(&seq) {
            return Ok(());
        }
        let path = self.dir.join(entry_name(seq));
        remove_if_exists(&path)?;
        self.forget(seq);
        sync_dir(&self.dir)
    }

    /// Moves an entry the collector refused permanently (4xx) to quarantine/
    /// with a `<name>.reason` text file; counted.
    ///
    /// Quarantining an absent seq is Ok and counts nothing, like [`Spool::ack`].
    /// An existing file in quarantine/ is never overwritten: a later one with
    /// the same name gets a `.1`, `.2`, ... suffix.
    pub fn quarantine(&mut self, seq: u64, reason: &str) -> Result<(), SpoolError> {
        if !self.index.contains_key(&seq) {
            return Ok(());
        }
        self.quarantine_file(&entry_name(seq), reason)?;
        self.forget(seq);
        Ok(())
    }

    /// Reports and on-disk bytes in the spool.
    pub fn depth(&self) -> (usize, u64) {
        (self.index.len(), self.bytes)
    }

    /// Reports dropped by the overflow policy, over the spool's whole life.
    pub fn dropped_total(&self) -> u64 {
        self.counters.dropped_total
    }

    /// Reports moved to quarantine (refused or corrupted), over the spool's whole life.
    pub fn quarantined_total(&self) -> u64 {
        self.counters.quarantined_total
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn forget(&mut self, seq: u64) {
        if let Some(size) = self.index.remove(&seq) {
            self.bytes -= size;
        }
    }

    /// Removes whatever a crash left in tmp/: none of it was renamed into
    /// place, so none of it was ever promised to be stored.
    fn clean_tmp(&self) -> Result<(), SpoolError> {
        let mut removed = false;
        for item in fs::read_dir(&self.tmp).map_err(io_err(&self.tmp))? {
            let item = item.map_err(io_err(&self.tmp))?;
            let path = item.path();
            let kind = item.file_type().map_err(io_err(&path))?;
            if kind.is_dir() {
                fs::remove_dir_all(&path).map_err(io_err(&path))?;
            } else {
                remove_if_exists(&path)?;
            }
            removed = true;
        }
        if removed {
            sync_dir(&self.tmp)?;
        }
        Ok(())
    }

    /// Reads `counters.json`. An unreadable one is moved to quarantine (with a
    /// reason) and the totals restart from zero: the totals are statistics,
    /// and refusing to open would stop the agent from spooling reports at all.
    fn load_counters(&mut self) -> Result<(), SpoolError> {
        let path = self.dir.join(COUNTERS);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(&path)(e)),
        };
        match serde_json::from_slice(&text) {
            Ok(counters) => self.counters = counters,
            Err(e) => {
                let qname = self.free_quarantine_name(COUNTERS);
                let to = self.quarantine.join(&qname);
                fs::rename(&path, &to).map_err(io_err(&to))?;
                sync_dir(&self.quarantine)?;
                sync_dir(&self.dir)?;
                let reason = format!("unreadable spool counters ({e}); the totals restarted from zero\n");
                write_atomic(&self.tmp, &self.quarantine, &format!("{qname}.reason"), reason.as_bytes())?;
            }
        }
        Ok(())
    }

    fn save_counters(&mut self, next: Counters) -> Result<(), SpoolError> {
        let data = serde_json::to_vec_pretty(&next).map_err(|e| io_err(&self.dir.join(COUNTERS))(io::Error::other(e)))?;
        write_atomic(&self.tmp, &self.dir, COUNTERS, &data)?;
        self.counters = next;
        Ok(())
    }

    /// Finishes a drop or quarantine that was counted before a crash.
    fn finish_pending(&mut self) -> Result<(), SpoolError> {
        if self.counters.pending_drops.is_empty() && self.counters.pending_quarantine.is_empty() {
            return Ok(());
        }
        for &seq in &self.counters.pending_drops {
            remove_if_exists(&self.dir.join(entry_name(seq)))?;
        }
        sync_dir(&self.dir)?;
        for pending in self.counters.pending_quarantine.clone() {
            self.finish_quarantine(&pending)?;
        }
        let mut next = self.counters.clone();
        next.pending_drops.clear();
        next.pending_quarantine.clear();
        self.save_counters(next)
    }

    /// Indexes the report files, quarantining those that fail the check.
    /// Other names (counters, lock, folders, stray files) are left alone.
    fn scan(&mut self) -> Result<(), SpoolError> {
        let mut corrupt = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let item = item.map_err(io_err(&self.dir))?;
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            let Some(seq) = parse_name(&name) else {
                continue;
            };
            let Some(seq) = seq else {
                corrupt.push((name, "the file name is not a valid seq".to_owned()));
                continue;
            };
            let path = item.path();
            match read_entry(&path, seq) {
                Ok(Ok(_)) => {
                    let size = fs::symlink_metadata(&path).map_err(io_err(&path))?.len();
                    self.index.insert(seq, size);
                    self.bytes += size;
                }
                Ok(Err(problem)) => corrupt.push((name, problem)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        corrupt.sort();
        for (name, problem) in corrupt {
            self.quarantine_file(&name, &format!("integrity check failed at open: {problem}"))?;
        }
        Ok(())
    }

    /// Drops the oldest reports until the spool is within its limits.
    fn enforce_limits(&mut self) -> Result<usize, SpoolError> {
        let (mut count, mut bytes) = (self.index.len(), self.bytes);
        let mut victims = Vec::new();
        for (&seq, &size) in &self.index {
            if count <= self.limits.max_reports && bytes <= self.limits.max_bytes {
                break;
            }
            victims.push(seq);
            count -= 1;
            bytes -= size;
        }
        if victims.is_empty() {
            return Ok(0);
        }
        let mut next = self.counters.clone();
        next.dropped_total += victims.len() as u64;
        next.pending_drops = victims.clone();
        self.save_counters(next)?;
        for &seq in &victims {
            remove_if_exists(&self.dir.join(entry_name(seq)))?;
            self.forget(seq);
        }
        sync_dir(&self.dir)?;
        let mut next = self.counters.clone();
        next.pending_drops.clear();
        self.save_counters(next)?;
        Ok(victims.len())
    }

    /// Moves `name` from the spool folder to quarantine/ with its reason file,
    /// counting it once even if a crash interrupts the move.
    fn quarantine_file(&mut self, name: &str, reason: &str) -> Result<(), SpoolError> {
        let pending = PendingQuarantine {
            name: name.to_owned(),
            qname: self.free_quarantine_name(name),
            reason: reason.to_owned(),
        };
        let mut next = self.counters.clone();
        next.quarantined_total += 1;
        next.pending_quarantine = vec![pending.clone()];
        self.save_counters(next)?;
        self.finish_quarantine(&pending)?;
        let mut next = self.counters.clone();
        next.pending_quarantine.clear();
        self.save_counters(next)
    }

    /// Idempotent: moves the file if it is still in the spool folder, then
    /// writes the reason file if it is missing.
    fn finish_quarantine(&self, pending: &PendingQuarantine) -> Result<(), SpoolError> {
        let from = self.dir.join(&pending.name);
        let mut qname = pending.qname.clone();
        if fs::symlink_metadata(&from).is_ok() {
            if exists(&self.quarantine.join(&qname)) {
                qname = self.free_quarantine_name(&pending.name);
            }
            let to = self.quarantine.join(&qname);
            fs::rename(&from, &to).map_err(io_err(&to))?;
            sync_dir(&self.quarantine)?;
            sync_dir(&self.dir)?;
        }
        let reason_name = format!("{qname}.reason");
        if !exists(&self.quarantine.join(&reason_name)) {
            let mut text = pending.reason.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            write_atomic(&self.tmp, &self.quarantine, &reason_name, text.as_bytes())?;
        }
        Ok(())
    }

    /// `name`, or `name.1`, `name.2`, ... : the first that is free in
    /// quarantine/ together with its reason file.
    fn free_quarantine_name(&self, name: &str) -> String {
        let taken = |q: &str| exists(&self.quarantine.join(q)) || exists(&self.quarantine.join(format!("{q}.reason")));
        if !taken(name) {
            return name.to_owned();
        }
        (1u64..)
            .map(|n| format!("{name}.{n}"))
            .find(|q| !taken(q))
            .unwrap_or_else(|| name.to_owned())
    }
}

fn entry_name(seq: u64) -> String {
    format!("{seq:0width$}{SUFFIX}", width = SEQ_DIGITS)
}

/// `None` for names that are not report files; `Some(None)` for a report
/// file name whose 20 digits overflow `u64`.
fn parse_name(name: &str) -> Option<Option<u64>> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().ok())
}

/// A signature goes into a one-line header here and an HTTP header later.
fn check_signature(s: &str) -> Result<(), SpoolError> {
    if s.is_empty() || s == NO_SIGNATURE || !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(SpoolError::InvalidSignature);
    }
    Ok(())
}

fn encode(seq: u64, body: &[u8], signature: Option<&str>) -> Vec<u8> {
    let header = format!(
        "{MAGIC}\nseq: {seq}\nsignature: {}\nlength: {}\nsha256: {}\n\n",
        signature.unwrap_or(NO_SIGNATURE),
        body.len(),
        sha256_hex(body)
    );
    let mut data = Vec::with_capacity(header.len() + body.len());
    data.extend_from_slice(header.as_bytes());
    data.extend_from_slice(body);
    data
}

/// Parses and checks a report file; `Err` says what is wrong with it.
fn decode(seq: u64, data: &[u8]) -> Result<Entry, String> {
    let mut rest = data;
    if take_line(&mut rest)? != MAGIC {
        return Err("bad magic line".to_owned());
    }
    let header_seq = field(&mut rest, "seq")?;
    if header_seq != seq.to_string() {
        return Err(format!("header seq {header_seq:?} does not match the file name's seq {seq}"));
    }
    let signature = field(&mut rest, "signature")?;
    let signature = if signature == NO_SIGNATURE {
        None
    } else {
        check_signature(signature).map_err(|e| e.to_string())?;
        Some(signature.to_owned())
    };
    let length = field(&mut rest, "length")?;
    let length = match length.parse::<u64>() {
        Ok(n) if n.to_string() == length => n,
        _ => return Err(format!("bad length {length:?}")),
    };
    let sha256 = field(&mut rest, "sha256")?.to_owned();
    if !take_line(&mut rest)?.is_empty() {
        return Err("no blank line after the header".to_owned());
    }
    if rest.len() as u64 != length {
        return Err(format!("body is {} bytes, the header says {length}", rest.len()));
    }
    if sha256_hex(rest) != sha256 {
        return Err("body does not match its sha256".to_owned());
    }
    Ok(Entry {
        seq,
        body: rest.to_vec(),
        signature,
    })
}

fn take_line<'a>(rest: &mut &'a [u8]) -> Result<&'a str, String> {
    let end = rest.iter().position(|&b| b == b'\n').ok_or("header is truncated")?;
    let line = std::str::from_utf8(&rest[..end]).map_err(|_| "header is not UTF-8")?;
    *rest = &rest[end + 1..];
    Ok(line)
}

fn field<'a>(rest: &mut &'a [u8], key: &str) -> Result<&'a str, String> {
    let line = take_line(rest)?;
    line.strip_prefix(key)
        .and_then(|l| l.strip_prefix(": "))
        .ok_or_else(|| format!("expected header field {key:?}"))
}

/// `Ok(Err(problem))` for a corrupt report; `Err` for an I/O error, which is
/// not the file's fault and must not send it to quarantine.
fn read_entry(path: &Path, seq: u64) -> io::Result<Result<Entry, String>> {
    if !fs::symlink_metadata(path)?.file_type().is_file() {
        return Ok(Err("not a regular file".to_owned()));
    }
    let data = fs::read(path)?;
    Ok(decode(seq, &data))
}

/// Write to `tmp/`, fsync, rename into `dest_dir`, fsync `dest_dir`.
fn write_atomic(tmp_dir: &Path, dest_dir: &Path, name: &str, data: &[u8]) -> Result<(), SpoolError> {
    durable::write_atomic(tmp_dir, dest_dir, name, data).map_err(io_err(&dest_dir.join(name)))
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

fn remove_if_exists(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

fn take_lock(path: &Path) -> Result<File, SpoolError> {
    let file = create_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(SpoolError::Locked { path: path.to_path_buf() }),
        Err(fs::TryLockError::Error(e)) => Err(io_err(path)(e)),
    }
}

fn create_options() -> OpenOptions {
    durable::create_options()
}

fn private_dir(path: &Path) -> Result<(), SpoolError> {
    durable::private_dir(path).map_err(io_err(path))
}

fn sync_dir(path: &Path) -> Result<(), SpoolError> {
    durable::sync_dir(path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn limits(max_reports: usize, max_bytes: u64) -> Limits {
        Limits { max_reports, max_bytes }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// The header as documented, written independently of `encode`.
    fn expected_size(seq: u64, body: &[u8], signature: Option<&str>) -> u64 {
        let header = format!(
            "KHIEN-SPOOL 1\nseq: {seq}\nsignature: {}\nlength: {}\nsha256: {}\n\n",
            signature.unwrap_or("-"),
            body.len(),
            sha256_hex(body)
        );
        (header.len() + body.len()) as u64
    }

    fn entry(seq: u64, body: &[u8], signature: Option<&str>) -> Entry {
        Entry {
            seq,
            body: body.to_vec(),
            signature: signature.map(str::to_owned),
        }
    }

    #[test]
    fn push_oldest_ack_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(spool.oldest().unwrap(), None);
        assert_eq!(spool.push(3, b"{\"a\":1}", Some("ed25519:AAAA")).unwrap(), 0);
        assert_eq!(spool.push(7, b"", None).unwrap(), 0);
        assert_eq!(spool.push(8, &[0, 255, b'\n', 10], Some("ed25519:BB==")).unwrap(), 0);
        let bytes = expected_size(3, b"{\"a\":1}", Some("ed25519:AAAA"))
            + expected_size(7, b"", None)
            + expected_size(8, &[0, 255, b'\n', 10], Some("ed25519:BB=="));
        assert_eq!(spool.depth(), (3, bytes));

        assert_eq!(spool.oldest().unwrap(), Some(entry(3, b"{\"a\":1}", Some("ed25519:AAAA"))));
        // Not acked: still the oldest.
        assert_eq!(spool.oldest().unwrap().unwrap().seq, 3);
        spool.ack(3).unwrap();
        assert_eq!(spool.oldest().unwrap(), Some(entry(7, b"", None)));
        spool.ack(7).unwrap();
        assert_eq!(spool.oldest().unwrap(), Some(entry(8, &[0, 255, b'\n', 10], Some("ed25519:BB=="))));
        spool.ack(8).unwrap();
        assert_eq!(spool.oldest().unwrap(), None);
        assert_eq!(spool.depth(), (0, 0));
        assert!(!names(dir.path()).iter().any(|n| n.ends_with(".report")));
    }

    #[test]
    fn entries_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
            spool.push(1, b"one", Some("ed25519:x")).unwrap();
            spool.push(2, b"two", None).unwrap();
            spool.push(3, b"three", None).unwrap();
            spool.ack(1).unwrap();
        }
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(
            spool.depth(),
            (2, expected_size(2, b"two", None) + expected_size(3, b"three", None))
        );
        assert_eq!(spool.oldest().unwrap(), Some(entry(2, b"two", None)));
        // Increasing seq is checked against what was spooled before the restart.
        assert!(matches!(
            spool.push(3, b"x", None),
            Err(SpoolError::SeqNotIncreasing { seq: 3, newest: 3 })
        ));
        spool.push(4, b"four", Some("ed25519:y")).unwrap();
        spool.ack(2).unwrap();
        spool.ack(3).unwrap();
        assert_eq!(spool.oldest().unwrap(), Some(entry(4, b"four", Some("ed25519:y"))));
        assert_eq!((spool.dropped_total(), spool.quarantined_total()), (0, 0));
        assert_eq!(spool.dir(), dir.path());
    }

    #[test]
    fn file_format_matches_the_documented_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        spool.push(42, b"abc", Some("ed25519:SIG")).unwrap();
        spool.push(43, b"", None).unwrap();
        let file = fs::read(dir.path().join("00000000000000000042.report")).unwrap();
        assert_eq!(
            String::from_utf8(file).unwrap(),
            "KHIEN-SPOOL 1\nseq: 42\nsignature: ed25519:SIG\nlength: 3\n\
             sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n\nabc"
        );
        let file = fs::read(dir.path().join("00000000000000000043.report")).unwrap();
        assert!(
            String::from_utf8(file)
                .unwrap()
                .starts_with("KHIEN-SPOOL 1\nseq: 43\nsignature: -\nlength: 0\n")
        );
        assert_eq!(entry_name(u64::MAX), "18446744073709551615.report");
    }

    #[test]
    fn count_limit_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), limits(3, u64::MAX)).unwrap();
        for seq in 1..=3 {
            assert_eq!(spool.push(seq, b"r", None).unwrap(), 0);
        }
        assert_eq!(spool.push(4, b"r", None).unwrap(), 1);
        assert_eq!(spool.push(5, b"r", None).unwrap(), 1);
        assert_eq!(spool.depth().0, 3);
        assert_eq!(spool.dropped_total(), 2);
        assert_eq!(spool.oldest().unwrap().unwrap().seq, 3);
        assert!(!dir.path().join(entry_name(1)).exists());
        assert!(!dir.path().join(entry_name(2)).exists());
    }

    #[test]
    fn byte_limit_drops_the_oldest_and_the_total_persists() {
        let dir = tempfile::tempdir().unwrap();
        let small = expected_size(1, &[1; 10], None);
        let big = expected_size(4, &[4; 100], None);
        {
            let mut spool = Spool::open(dir.path(), limits(100, 3 * small + 5)).unwrap();
            for seq in 1..=3 {
                assert_eq!(spool.push(seq, &[seq as u8; 10], None).unwrap(), 0);
            }
            // 100 more bytes need room of two small ones (and the sizes are
            // of the whole file, header included).
            assert!(big <= 2 * small + 90 + 5);
            assert_eq!(spool.push(4, &[4; 100], None).unwrap(), 2);
            assert_eq!(spool.depth(), (2, small + big));
            assert_eq!(spool.dropped_total(), 2);
        }
        let mut spool = Spool::open(dir.path(), limits(100, 3 * small + 5)).unwrap();
        assert_eq!(spool.dropped_total(), 2);
        assert_eq!(spool.oldest().unwrap(), Some(entry(3, &[3; 10], None)));
        assert_eq!(spool.push(5, &[5; 100], None).unwrap(), 2);
        drop(spool);
        let spool = Spool::open(dir.path(), limits(100, 3 * small + 5)).unwrap();
        assert_eq!(spool.dropped_total(), 4);
        assert_eq!(spool.depth().0, 1);
    }

    #[test]
    fn a_report_larger_than_the_byte_limit_is_refused_without_dropping() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), limits(10, 400)).unwrap();
        spool.push(1, b"small", None).unwrap();
        let err = spool.push(2, &[0; 400], None).unwrap_err();
        assert!(
            matches!(
                err,
                SpoolError::TooLarge {
                    seq: 2,
                    max_bytes: 400,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(spool.depth().0, 1);
        assert_eq!(spool.dropped_total(), 0);
        assert!(names(&dir.path().join("tmp")).is_empty());
    }

    #[test]
    fn open_applies_lowered_limits() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
            for seq in 1..=5 {
                spool.push(seq, b"r", None).unwrap();
            }
        }
        let mut spool = Spool::open(dir.path(), limits(2, u64::MAX)).unwrap();
        assert_eq!(spool.depth().0, 2);
        assert_eq!(spool.dropped_total(), 3);
        assert_eq!(spool.oldest().unwrap().unwrap().seq, 4);
    }

    #[test]
    fn zero_limits_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Spool::open(dir.path(), limits(0, 10)), Err(SpoolError::InvalidLimits(_))));
        assert!(matches!(Spool::open(dir.path(), limits(10, 0)), Err(SpoolError::InvalidLimits(_))));
    }

    #[test]
    fn corrupt_entries_are_quarantined_at_open_and_the_rest_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
            for seq in 1..=7 {
                spool.push(seq, format!("body {seq}").as_bytes(), Some("ed25519:s")).unwrap();
            }
        }
        let path = |seq| dir.path().join(entry_name(seq));
        // 1: truncated body.
        let data = fs::read(path(1)).unwrap();
        fs::write(path(1), &data[..data.len() - 2]).unwrap();
        // 2: one body byte flipped.
        let mut data = fs::read(path(2)).unwrap();
        *data.last_mut().unwrap() ^= 0x01;
        fs::write(path(2), &data).unwrap();
        // 3: bad magic.
        let mut data = fs::read(path(3)).unwrap();
        data[0] = b'X';
        fs::write(path(3), &data).unwrap();
        // 4: a valid report for another seq under this name.
        fs::write(path(4), encode(40, b"body 4", None)).unwrap();
        // 6: empty.
        fs::write(path(6), b"").unwrap();
        // Other names are not reports and are left alone.
        fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        fs::write(dir.path().join("123.report"), b"garbage").unwrap();
        fs::write(dir.path().join("00000000000000000009.report.bak"), b"garbage").unwrap();
        // A report-shaped name that overflows u64, and a folder with a report name.
        fs::write(dir.path().join("99999999999999999999.report"), b"garbage").unwrap();
        fs::create_dir(path(8)).unwrap();

        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(spool.quarantined_total(), 7);
        assert_eq!(spool.depth(), (2, expected_size(5, b"body 5", Some("ed25519:s")) * 2));
        assert_eq!(spool.oldest().unwrap(), Some(entry(5, b"body 5", Some("ed25519:s"))));
        spool.ack(5).unwrap();
        assert_eq!(spool.oldest().unwrap(), Some(entry(7, b"body 7", Some("ed25519:s"))));

        let quarantined = names(&dir.path().join("quarantine"));
        for name in [
            entry_name(1),
            entry_name(2),
            entry_name(3),
            entry_name(4),
            entry_name(6),
            entry_name(8),
        ]
        .into_iter()
        .chain(["99999999999999999999.report".to_owned()])
        {
            assert!(quarantined.contains(&name), "{name} in {quarantined:?}");
            let reason = fs::read_to_string(dir.path().join("quarantine").join(format!("{name}.reason"))).unwrap();
            assert!(reason.starts_with("integrity check failed at open"), "{reason}");
        }
        assert_eq!(quarantined.len(), 14);
        let reason = fs::read_to_string(dir.path().join("quarantine").join(format!("{}.reason", entry_name(4)))).unwrap();
        assert!(reason.contains("does not match the file name"), "{reason}");
        for other in ["notes.txt", "123.report", "00000000000000000009.report.bak"] {
            assert!(dir.path().join(other).exists(), "{other}");
        }
        drop(spool);
        // Counted once: reopening finds nothing more to quarantine.
        assert_eq!(Spool::open(dir.path(), Limits::default()).unwrap().quarantined_total(), 7);
    }

    #[test]
    fn corruption_after_open_is_quarantined_by_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        spool.push(1, b"first", None).unwrap();
        spool.push(2, b"second", None).unwrap();
        spool.push(3, b"third", None).unwrap();
        fs::write(dir.path().join(entry_name(1)), b"KHIEN-SPOOL 1\n").unwrap();
        // Deleted behind the spool's back: nothing to send, nothing to count.
        fs::remove_file(dir.path().join(entry_name(2))).unwrap();
        assert_eq!(spool.oldest().unwrap(), Some(entry(3, b"third", None)));
        assert_eq!(spool.quarantined_total(), 1);
        assert_eq!(spool.depth(), (1, expected_size(3, b"third", None)));
        let reason = fs::read_to_string(dir.path().join("quarantine").join(format!("{}.reason", entry_name(1)))).unwrap();
        assert!(reason.starts_with("integrity check failed: header is truncated"), "{reason}");
    }

    #[test]
    fn leftover_temp_files_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
            spool.push(1, b"kept", None).unwrap();
        }
        // A crash between writing the temp file and renaming it.
        let tmp = dir.path().join("tmp");
        fs::write(tmp.join(format!("{}.tmp", entry_name(2))), encode(2, b"half", None)).unwrap();
        fs::write(tmp.join("counters.json.tmp"), b"{").unwrap();
        fs::create_dir(tmp.join("stray")).unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        assert!(names(&tmp).is_empty());
        assert_eq!(spool.depth().0, 1);
        assert_eq!(spool.oldest().unwrap(), Some(entry(1, b"kept", None)));
        spool.ack(1).unwrap();
        assert_eq!(spool.oldest().unwrap(), None);
        assert_eq!(spool.quarantined_total(), 0);
    }

    #[test]
    fn an_interrupted_drop_is_finished_at_open_without_counting_twice() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
            for seq in 1..=3 {
                spool.push(seq, b"r", None).unwrap();
            }
        }
        // The crash came after counters.json recorded the drop of 1 and 2,
        // before their files were removed.
        let counters = Counters {
            dropped_total: 2,
            pending_drops: vec![1, 2],
            ..Counters::default()
        };
        fs::write(dir.path().join(COUNTERS), serde_json::to_vec(&counters).unwrap()).unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(spool.dropped_total(), 2);
        assert_eq!(spool.depth().0, 1);
        assert_eq!(spool.oldest().unwrap().unwrap().seq, 3);
        let saved: Counters = serde_json::from_slice(&fs::read(dir.path().join(COUNTERS)).unwrap()).unwrap();
        assert_eq!(
            saved,
            Counters {
                dropped_total: 2,
                ..Counters::default()
            }
        );
    }

    #[test]
    fn an_interrupted_quarantine_is_finished_at_open_without_counting_twice() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
            spool.push(1, b"refused", None).unwrap();
            spool.push(2, b"fine", None).unwrap();
        }
        let counters = Counters {
            quarantined_total: 1,
            pending_quarantine: vec![PendingQuarantine {
                name: entry_name(1),
                qname: entry_name(1),
                reason: "HTTP 400: bad report".to_owned(),
            }],
            ..Counters::default()
        };
        fs::write(dir.path().join(COUNTERS), serde_json::to_vec(&counters).unwrap()).unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(spool.quarantined_total(), 1);
        assert_eq!(spool.oldest().unwrap().unwrap().seq, 2);
        let q = dir.path().join("quarantine");
        assert_eq!(
            fs::read_to_string(q.join(format!("{}.reason", entry_name(1)))).unwrap(),
            "HTTP 400: bad report\n"
        );
        assert!(q.join(entry_name(1)).exists());
    }

    #[test]
    fn unreadable_counters_are_quarantined_and_restart_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), limits(1, u64::MAX)).unwrap();
            spool.push(1, b"r", None).unwrap();
            spool.push(2, b"r", None).unwrap();
            assert_eq!(spool.dropped_total(), 1);
        }
        fs::write(dir.path().join(COUNTERS), b"{not json").unwrap();
        let spool = Spool::open(dir.path(), limits(1, u64::MAX)).unwrap();
        assert_eq!((spool.dropped_total(), spool.quarantined_total()), (0, 0));
        assert_eq!(spool.depth().0, 1);
        let q = dir.path().join("quarantine");
        assert_eq!(fs::read(q.join(COUNTERS)).unwrap(), b"{not json");
        assert!(
            fs::read_to_string(q.join("counters.json.reason"))
                .unwrap()
                .contains("unreadable spool counters")
        );
    }

    #[test]
    fn seq_must_increase() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        spool.push(10, b"a", None).unwrap();
        let err = spool.push(10, b"b", None).unwrap_err();
        assert!(matches!(err, SpoolError::SeqNotIncreasing { seq: 10, newest: 10 }));
        assert_eq!(err.to_string(), "report seq 10 is not greater than the newest spooled seq 10");
        assert!(matches!(
            spool.push(9, b"b", None),
            Err(SpoolError::SeqNotIncreasing { seq: 9, newest: 10 })
        ));
        assert_eq!(spool.depth().0, 1);
        assert_eq!(spool.oldest().unwrap(), Some(entry(10, b"a", None)));
    }

    #[test]
    fn invalid_signatures_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        for bad in ["", "-", "ed25519:a\nlength: 0", "ed25519:é"] {
            assert!(
                matches!(spool.push(1, b"x", Some(bad)), Err(SpoolError::InvalidSignature)),
                "{bad:?}"
            );
        }
        assert_eq!(spool.depth(), (0, 0));
    }

    #[test]
    fn ack_of_an_unknown_seq_is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
        spool.ack(5).unwrap();
        spool.push(1, b"a", None).unwrap();
        spool.ack(1).unwrap();
        spool.ack(1).unwrap();
        spool.quarantine(1, "gone already").unwrap();
        assert_eq!(spool.quarantined_total(), 0);
        assert_eq!(spool.depth(), (0, 0));
    }

    #[test]
    fn quarantine_writes_the_reason_file_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("quarantine");
        {
            let mut spool = Spool::open(dir.path(), Limits::default()).unwrap();
            spool.push(1, b"refused", Some("ed25519:s")).unwrap();
            spool.push(2, b"next", None).unwrap();
            spool.quarantine(1, "HTTP 422: report schema 9 is not supported").unwrap();
            assert_eq!(spool.quarantined_total(), 1);
            assert_eq!(spool.oldest().unwrap().unwrap().seq, 2);
            spool.ack(2).unwrap();
            // The agent's seq restarted (state lost): the same name again.
            spool.push(1, b"refused again", None).unwrap();
            spool.quarantine(1, "HTTP 400\n").unwrap();
        }
        assert_eq!(
            fs::read_to_string(q.join(format!("{}.reason", entry_name(1)))).unwrap(),
            "HTTP 422: report schema 9 is not supported\n"
        );
        assert_eq!(decode(1, &fs::read(q.join(entry_name(1))).unwrap()).unwrap().body, b"refused");
        assert_eq!(
            fs::read_to_string(q.join(format!("{}.1.reason", entry_name(1)))).unwrap(),
            "HTTP 400\n"
        );
        assert_eq!(
            decode(1, &fs::read(q.join(format!("{}.1", entry_name(1)))).unwrap()).unwrap().body,
            b"refused again"
        );
        let spool = Spool::open(dir.path(), Limits::default()).unwrap();
        assert_eq!(spool.quarantined_total(), 2);
        assert_eq!(spool.depth(), (0, 0));
    }

    #[test]
    fn a_second_open_of_the_same_spool_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), Limits::default()).unwrap();
        let err = Spool::open(dir.path(), Limits::default()).unwrap_err();
        assert!(matches!(err, SpoolError::Locked { .. }), "{err}");
        drop(spool);
        Spool::open(dir.path(), Limits::default()).unwrap();
    }

    #[test]
    fn io_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        fs::write(&file, b"").unwrap();
        let err = Spool::open(&file.join("spool"), Limits::default()).unwrap_err();
        assert!(matches!(err, SpoolError::Io { .. }));
        assert!(err.to_string().contains("a-file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn folders_are_0700_and_files_0600() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("var/spool");
        fs::create_dir_all(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let mut spool = Spool::open(&root, limits(2, u64::MAX)).unwrap();
        spool.push(1, b"r", None).unwrap();
        spool.push(2, b"r", None).unwrap();
        spool.push(3, b"r", None).unwrap();
        spool.quarantine(3, "refused").unwrap();
        for folder in [root.clone(), root.join("tmp"), root.join("quarantine")] {
            assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        }
        assert_eq!(mode(&root.join(entry_name(2))), 0o600);
        assert_eq!(mode(&root.join(COUNTERS)), 0o600);
        assert_eq!(mode(&root.join(LOCK)), 0o600);
        assert_eq!(mode(&root.join("quarantine").join(entry_name(3))), 0o600);
        assert_eq!(mode(&root.join("quarantine").join(format!("{}.reason", entry_name(3)))), 0o600);
        // A fresh spool folder (and its parents) is created 0700.
        let fresh = dir.path().join("new/spool");
        Spool::open(&fresh, Limits::default()).unwrap();
        assert_eq!(mode(&fresh), 0o700);
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        const LIMITS: Limits = Limits {
            max_reports: 5,
            max_bytes: 2000,
        };

        #[derive(Clone, Debug)]
        enum Action {
            Push {
                gap: u64,
                body: Vec<u8>,
                signature: Option<String>,
            },
            AckOldest,
            QuarantineOldest,
            Reopen,
            CorruptOldest,
        }

        fn action() -> impl Strategy<Value = Action> {
            prop_oneof![
                4 => (1u64..4, prop::collection::vec(any::<u8>(), 0..300), prop::option::of("ed25519:[A-Za-z0-9+/]{1,40}={0,2}"))
                    .prop_map(|(gap, body, signature)| Action::Push { gap, body, signature }),
                2 => Just(Action::AckOldest),
                1 => Just(Action::QuarantineOldest),
                1 => Just(Action::Reopen),
                1 => Just(Action::CorruptOldest),
            ]
        }

        struct Stored {
            entry: Entry,
            size: u64,
            corrupt: bool,
        }

        #[derive(Default)]
        struct Model {
            entries: VecDeque<Stored>,
            newest: u64,
            dropped: u64,
            quarantined: u64,
        }

        impl Model {
            fn depth(&self) -> (usize, u64) {
                (self.entries.len(), self.entries.iter().map(|s| s.size).sum())
            }

            fn push(&mut self, entry: Entry) -> usize {
                let size = expected_size(entry.seq, &entry.body, entry.signature.as_deref());
                self.newest = entry.seq;
                self.entries.push_back(Stored {
                    entry,
                    size,
                    corrupt: false,
                });
                let mut dropped = 0;
                while self.entries.len() > LIMITS.max_reports || self.depth().1 > LIMITS.max_bytes {
                    self.entries.pop_front();
                    dropped += 1;
                }
                self.dropped += dropped as u64;
                dropped
            }

            /// What `oldest()` and `open()` do to corrupted reports.
            fn quarantine_corrupt(&mut self) {
                let before = self.entries.len();
                self.entries.retain(|s| !s.corrupt);
                self.quarantined += (before - self.entries.len()) as u64;
            }
        }

        fn check_counts(spool: &Spool, model: &Model) -> Result<(), TestCaseError> {
            prop_assert_eq!(spool.depth(), model.depth());
            prop_assert_eq!(spool.dropped_total(), model.dropped);
            prop_assert_eq!(spool.quarantined_total(), model.quarantined);
            Ok(())
        }

        fn run(actions: Vec<Action>) -> Result<(), TestCaseError> {
            let dir = tempfile::tempdir().unwrap();
            let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
            let mut model = Model::default();
            for action in actions {
                let mut look = true;
                match action {
                    Action::Push { gap, body, signature } => {
                        let entry = Entry {
                            seq: model.newest + gap,
                            body,
                            signature,
                        };
                        let dropped = spool.push(entry.seq, &entry.body, entry.signature.as_deref()).unwrap();
                        prop_assert_eq!(dropped, model.push(entry));
                    }
                    Action::AckOldest => {
                        let seq = model.entries.pop_front().map_or(model.newest + 100, |s| s.entry.seq);
                        spool.ack(seq).unwrap();
                    }
                    Action::QuarantineOldest => {
                        if let Some(stored) = model.entries.pop_front() {
                            spool.quarantine(stored.entry.seq, "HTTP 400").unwrap();
                            model.quarantined += 1;
                        } else {
                            spool.quarantine(model.newest + 100, "HTTP 400").unwrap();
                        }
                    }
                    Action::Reopen => {
                        drop(spool);
                        spool = Spool::open(dir.path(), LIMITS).unwrap();
                        model.quarantine_corrupt();
                    }
                    Action::CorruptOldest => {
                        if let Some(stored) = model.entries.front_mut() {
                            let path = dir.path().join(entry_name(stored.entry.seq));
                            let len = fs::metadata(&path).unwrap().len();
                            File::options().write(true).open(&path).unwrap().set_len(len / 2).unwrap();
                            stored.corrupt = true;
                        }
                        // Left for the next action to find: a reopen, a push
                        // that drops it, an ack or a quarantine.
                        look = false;
                    }
                }
                check_counts(&spool, &model)?;
                if look {
                    model.quarantine_corrupt();
                    prop_assert_eq!(spool.oldest().unwrap(), model.entries.front().map(|s| s.entry.clone()));
                    check_counts(&spool, &model)?;
                }
            }
            // Every refused or corrupted report is in quarantine/ with its reason.
            let q = names(&dir.path().join("quarantine"));
            let reports = q.iter().filter(|n| !n.ends_with(".reason")).count() as u64;
            prop_assert_eq!(reports, model.quarantined);
            prop_assert_eq!(q.len() as u64, 2 * model.quarantined);
            prop_assert!(names(&dir.path().join("tmp")).is_empty());
            // Draining returns exactly the model's reports, in order.
            drop(spool);
            let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
            model.quarantine_corrupt();
            while let Some(entry) = spool.oldest().unwrap() {
                let expected = model.entries.pop_front().map(|s| s.entry);
                prop_assert_eq!(Some(&entry), expected.as_ref());
                spool.ack(entry.seq).unwrap();
            }
            prop_assert!(model.entries.is_empty());
            check_counts(&spool, &model)?;
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
            #[test]
            fn spool_agrees_with_an_in_memory_model(actions in prop::collection::vec(action(), 1..40)) {
                run(actions)?;
            }
        }
    }
}
