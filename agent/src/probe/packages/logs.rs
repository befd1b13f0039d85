//! When a package was last installed or upgraded, from the ends of dpkg's and
//! apt's logs. Both write local time without an offset.

use crate::probe::localtime::parse_local;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use time::PrimitiveDateTime;

pub const DPKG_LOGS: [&str; 2] = ["/var/log/dpkg.log", "/var/log/dpkg.log.1"];
pub const APT_HISTORY: [&str; 2] = ["/var/log/apt/history.log", "/var/log/apt/history.log.1"];

/// The newest entry is at the end: a 64 KiB tail holds hundreds of dpkg
/// actions. When it holds none (a long purge after the last install), the
/// whole file is read up to this size; logs rotate monthly, so more is rare.
const TAIL: u64 = 64 * 1024;
const WHOLE_FILE_LIMIT: u64 = 16 * 1024 * 1024;

/// The time of the last `install` or `upgrade` line of a dpkg.log:
/// `2026-11-20 10:31:02 upgrade libc6:amd64 2.36-9 2.36-9+deb12u4`.
pub fn last_dpkg_change(text: &str) -> Option<PrimitiveDateTime> {
    text.lines().rev().find_map(|line| {
        let mut words = line.splitn(4, ' ');
        let (date, time, action) = (words.next()?, words.next()?, words.next()?);
        if action != "install" && action != "upgrade" {
            return None;
        }
        parse_local(&format!("{date} {time}"))
    })
}

/// The `End-Date:` of the last apt run of a history.log that installed,
/// upgraded, reinstalled or downgraded something (a run that only removed
/// packages is not an update). A run whose start is cut off by the tail is
/// taken as it is: its long `Upgrade:` line may be what was cut.
pub fn last_apt_change(text: &str) -> Option<PrimitiveDateTime> {
    let mut last = None;
    // Lines before the first Start-Date belong to a run whose beginning we may not see.
    let mut changed = true;
    for line in text.lines() {
        if line.starts_with("Start-Date:") {
            changed = false;
        } else if ["Install:", "Upgrade:", "Reinstall:", "Downgrade:"]
            .iter()
            .any(|k| line.starts_with(k))
        {
            changed = true;
        } else if let Some(end) = line.strip_prefix("End-Date:")
            && changed
            && let Some(t) = parse_local(end)
        {
            last = Some(t);
        }
    }
    last
}

/// The last `TAIL` bytes of a file, cut to whole lines, or the whole file when
/// `whole` (up to `WHOLE_FILE_LIMIT`); `None` when it does not exist.
pub fn read_tail(path: &Path, whole: bool) -> io::Result<Option<String>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let want = if whole { WHOLE_FILE_LIMIT } else { TAIL };
    let start = len.saturating_sub(want);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    file.take(want).read_to_end(&mut buf)?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if start > 0 {
        // The first line is cut in the middle.
        let first = text.find('\n').map_or(text.len(), |i| i + 1);
        text.drain(..first);
    }
    Ok(Some(text))
}

/// Whether the tail of this file was all of it.
pub fn tail_is_whole(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() <= TAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DPKG_LOG: &str = "\
2026-11-20 10:31:01 startup archives unpack
2026-11-20 10:31:02 upgrade libc6:amd64 2.36-9+deb12u3 2.36-9+deb12u4
2026-11-20 10:31:02 status half-configured libc6:amd64 2.36-9+deb12u3
2026-11-20 10:31:03 status unpacked libc6:amd64 2.36-9+deb12u4
2026-11-20 10:31:04 startup packages configure
2026-11-20 10:31:04 configure libc6:amd64 2.36-9+deb12u4 <none>
2026-11-20 10:31:05 status installed libc6:amd64 2.36-9+deb12u4
2026-11-21 08:00:00 startup packages remove
2026-11-21 08:00:01 remove rsyslog:amd64 8.2302.0-1 <none>
2026-11-21 08:00:02 status not-installed rsyslog:amd64 <none>
";

    #[test]
    fn finds_the_last_install_or_upgrade_in_dpkg_log() {
        assert_eq!(last_dpkg_change(DPKG_LOG), parse_local("2026-11-20 10:31:02"));
        let more = format!("{DPKG_LOG}2026-11-22 22:20:00 install lynis:all <none> 3.0.8-1.1\n");
        assert_eq!(last_dpkg_change(&more), parse_local("2026-11-22 22:20:00"));
        assert_eq!(
            last_dpkg_change("2026-11-21 08:00:01 remove rsyslog:amd64 8.2302.0-1 <none>\n"),
            None
        );
        assert_eq!(last_dpkg_change(""), None);
    }

    const HISTORY: &str = "\
Upgrade: libc6:amd64 (2.36-9+deb12u3, 2.36-9+deb12u4), libc-bin:amd64 (2.36-9+deb12u3, 2.36-9+deb12u4)
End-Date: 2026-09-01  06:00:00

Start-Date: 2026-09-22  04:51:20
Commandline: apt-get install -y qemu-utils
Install: libaio1:amd64 (0.3.113-4, automatic), qemu-utils:amd64 (1:10.0.2+ds-2+deb13u1~bpo12+1)
End-Date: 2026-09-22  04:51:29

Start-Date: 2026-11-22  21:55:04
Commandline: apt-get purge -y rsyslog
Purge: rsyslog:amd64 (8.2302.0-1)
End-Date: 2026-11-22  21:55:12
";

    #[test]
    fn finds_the_last_apt_run_that_installed_something() {
        assert_eq!(last_apt_change(HISTORY), parse_local("2026-09-22 04:51:29"));
        // The tail starts inside a run: its end still counts.
        assert_eq!(
            last_apt_change("libc-bin:amd64 (2.36-9)\nEnd-Date: 2026-09-01  06:00:00\n"),
            parse_local("2026-09-01 06:00:00")
        );
        assert_eq!(last_apt_change(""), None);
    }

    #[test]
    fn reads_whole_lines_of_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dpkg.log");
        let line = "2026-11-20 10:31:05 status installed libc6:amd64 2.36-9+deb12u4\n";
        let text = line.repeat(2000);
        std::fs::write(&path, &text).unwrap();
        let tail = read_tail(&path, false).unwrap().unwrap();
        assert!(tail.len() <= TAIL as usize && tail.len() >= TAIL as usize - line.len());
        assert!(tail.lines().all(|l| l.len() == line.len() - 1), "cut line kept");
        assert!(!tail_is_whole(&path));
        assert_eq!(read_tail(&path, true).unwrap().unwrap(), text);
        assert_eq!(read_tail(&dir.path().join("missing"), false).unwrap(), None);
    }
}
