//! Last logins from `/var/log/lastlog`: a sparse file of fixed-size records
//! indexed by UID, written by `login` and `sshd` through pam_lastlog.
//!
//! `struct lastlog { time ll_time; char ll_line[32]; char ll_host[256]; }`.
//! glibc keeps `ll_time` 32-bit on x86_64 and most 64-bit ports (compatible
//! with their 32-bit ABIs, 292-byte records); aarch64 and loongarch64 have
//! no such ABI and use a 64-bit time (296-byte records). Only the records of
//! the accounts asked for are read, by seeking: the file's apparent size
//! reaches megabytes because of UID 65534.

use khien_proto::Timestamp;
use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

pub const LASTLOG: &str = "/var/log/lastlog";

pub const TIME_SIZE: usize = if cfg!(any(target_arch = "aarch64", target_arch = "loongarch64")) {
    8
} else {
    4
};

pub const fn record_size(time_size: usize) -> usize {
    time_size + 32 + 256
}

/// Last login per UID for those that have one; an absent file has none.
pub fn read_last_logins(path: &Path, uids: &[u32]) -> io::Result<BTreeMap<u32, Timestamp>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let size = record_size(TIME_SIZE) as u64;
    let mut out = BTreeMap::new();
    let mut buf = vec![0u8; TIME_SIZE];
    for &uid in uids {
        let offset = u64::from(uid) * size;
        if offset + size > len {
            continue;
        }
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf)?;
        if let Some(t) = record_time(&buf) {
            out.insert(uid, t);
        }
    }
    Ok(out)
}

/// The login time at the start of a record (native byte order); `None` for never (zero).
pub fn record_time(bytes: &[u8]) -> Option<Timestamp> {
    let secs = match bytes.len() {
        4 => i64::from(i32::from_ne_bytes(bytes.try_into().ok()?)),
        8 => i64::from_ne_bytes(bytes.try_into().ok()?),
        _ => return None,
    };
    if secs <= 0 {
        return None;
    }
    Timestamp::from_unix(secs)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A lastlog file as pam_lastlog leaves it: records at uid × size, the rest zero.
    pub fn build(records: &[(u32, i64, &str, &str)]) -> Vec<u8> {
        let size = record_size(TIME_SIZE);
        let max = records.iter().map(|r| r.0).max().unwrap_or(0) as usize;
        let mut data = vec![0u8; (max + 1) * size];
        for &(uid, time, line, host) in records {
            let at = uid as usize * size;
            let time = if TIME_SIZE == 4 {
                (time as i32).to_ne_bytes().to_vec()
            } else {
                time.to_ne_bytes().to_vec()
            };
            data[at..at + TIME_SIZE].copy_from_slice(&time);
            data[at + TIME_SIZE..at + TIME_SIZE + line.len()].copy_from_slice(line.as_bytes());
            data[at + TIME_SIZE + 32..at + TIME_SIZE + 32 + host.len()].copy_from_slice(host.as_bytes());
        }
        data
    }

    #[test]
    fn reads_only_the_records_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lastlog");
        std::fs::write(
            &path,
            build(&[(0, 1_716_200_000, "pts/0", "10.0.0.5"), (1000, 1_700_000_000, "tty1", "")]),
        )
        .unwrap();
        let logins = read_last_logins(&path, &[0, 1, 1000, 1001, 65534]).unwrap();
        assert_eq!(logins.len(), 2);
        assert_eq!(logins[&0].unix(), 1_716_200_000);
        assert_eq!(logins[&1000].unix(), 1_700_000_000);
        assert_eq!(record_size(4), 292);
        assert!(read_last_logins(&dir.path().join("absent"), &[0]).unwrap().is_empty());
    }

    #[test]
    fn zero_is_never() {
        assert_eq!(record_time(&[0, 0, 0, 0]), None);
        assert_eq!(record_time(&1i32.to_ne_bytes()).map(|t| t.unix()), Some(1));
        assert_eq!(record_time(&7i64.to_ne_bytes()).map(|t| t.unix()), Some(7));
    }
}
