//! Clock synchronisation: the NTP clients installed, the servers they use, and
//! the kernel's own view of whether the clock is synchronised.
//!
//! The kernel view (`adjtimex`) is daemon-independent: every client that
//! disciplines the clock clears `STA_UNSYNC` and keeps `maxerror` small.

use super::{files, systemd};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::Timestamp;
use khien_proto::facts::{TimeDaemon, TimeSync};

const PROBE: &str = "time_sync";
const MAX_INCLUDE_DEPTH: usize = 4;

const CHRONY_BINARIES: [&str; 2] = ["/usr/sbin/chronyd", "/sbin/chronyd"];
const CHRONY_CONFS: [&str; 2] = ["/etc/chrony/chrony.conf", "/etc/chrony.conf"];
const TIMESYNCD_BINARIES: [&str; 2] = ["/lib/systemd/systemd-timesyncd", "/usr/lib/systemd/systemd-timesyncd"];
/// systemd-timesyncd touches this file at every successful synchronisation (systemd-timesyncd.service(8)).
const TIMESYNCD_CLOCK: &str = "/var/lib/systemd/timesync/clock";
const NTPD_BINARIES: [&str; 2] = ["/usr/sbin/ntpd", "/usr/bin/ntpd"];
/// ntpsec (Debian 12 and later) first, then the classic ntp package.
const NTPD_CONFS: [&str; 2] = ["/etc/ntpsec/ntp.conf", "/etc/ntp.conf"];
const OPENNTPD_BINARIES: [&str; 2] = ["/usr/sbin/openntpd", "/usr/sbin/ntpd"];
/// OpenNTPD installs `ntpd` too; its own configuration tells it from the reference ntpd.
const OPENNTPD_CONFS: [&str; 2] = ["/etc/openntpd/ntpd.conf", "/etc/ntpd.conf"];

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> TimeSync {
    let mut daemons = Vec::new();
    let mut last_sync = None;
    if CHRONY_BINARIES.iter().any(|b| ctx.root.exists(b)) {
        daemons.push(chrony(ctx, errors));
    }
    if TIMESYNCD_BINARIES.iter().any(|b| ctx.root.exists(b)) {
        daemons.push(timesyncd(ctx, errors));
        last_sync = modified(ctx, TIMESYNCD_CLOCK, errors);
    }
    let openntpd_conf = OPENNTPD_CONFS.iter().find(|c| ctx.root.exists(c));
    if let Some(conf) = openntpd_conf
        && OPENNTPD_BINARIES.iter().any(|b| ctx.root.exists(b))
    {
        daemons.push(openntpd(ctx, conf, errors));
    } else if NTPD_BINARIES.iter().any(|b| ctx.root.exists(b)) {
        daemons.push(ntpd(ctx, errors));
    }
    let running = daemons.iter().any(|d| d.running);
    let mut servers: Vec<String> = Vec::new();
    for d in daemons.iter().filter(|d| d.running || !running) {
        for s in &d.servers {
            if !servers.contains(s) {
                servers.push(s.clone());
            }
        }
    }
    let (synchronized, max_error_ms) = if ctx.root.is_system() {
        match kernel_clock() {
            Ok(Some((synced, max_error))) => (Some(synced), Some(max_error)),
            Ok(None) => (None, None),
            Err(e) => {
                errors.push(PROBE, format!("adjtimex: {e}"));
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    TimeSync {
        daemons,
        running,
        synchronized,
        max_error_ms,
        servers,
        last_sync,
    }
}

fn chrony(ctx: &ProbeContext<'_>, errors: &mut Errors) -> TimeDaemon {
    let mut sources = Vec::new();
    let mut servers = Vec::new();
    for conf in CHRONY_CONFS {
        if let Some(text) = files::read(ctx, conf, PROBE, errors, &mut sources) {
            chrony_servers(ctx, &text, 0, errors, &mut sources, &mut servers);
            break;
        }
    }
    TimeDaemon {
        name: "chrony".into(),
        running: ctx.processes.running("chronyd"),
        servers,
        config: sources.into_iter().next(),
    }
}

/// Servers of one chrony file, following `confdir`, `sourcedir` and `include` where they appear.
fn chrony_servers(ctx: &ProbeContext<'_>, text: &str, depth: usize, errors: &mut Errors, sources: &mut Vec<String>, out: &mut Vec<String>) {
    for line in parse_chrony(text) {
        let paths = match line {
            ChronyLine::Server(s) => {
                out.push(s);
                continue;
            }
            ChronyLine::ConfDir(dirs) => dir_files(ctx, &dirs, ".conf", errors),
            ChronyLine::SourceDir(dirs) => dir_files(ctx, &dirs, ".sources", errors),
            ChronyLine::Include(pattern) => files::expand(ctx, &pattern, PROBE, errors),
        };
        if depth >= MAX_INCLUDE_DEPTH {
            continue;
        }
        for file in paths {
            if let Some(text) = files::read(ctx, &file, PROBE, errors, sources) {
                chrony_servers(ctx, &text, depth + 1, errors, sources, out);
            }
        }
    }
}

/// Files ending in `suffix` across folders, sorted by name; a name in an earlier folder hides the same name later.
fn dir_files(ctx: &ProbeContext<'_>, dirs: &[String], suffix: &str, errors: &mut Errors) -> Vec<String> {
    let mut found: Vec<(String, String)> = Vec::new();
    for dir in dirs {
        for name in files::list(ctx, dir, PROBE, errors) {
            if name.ends_with(suffix) && !found.iter().any(|(n, _)| *n == name) {
                let path = files::join(dir, &name);
                found.push((name, path));
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, path)| path).collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChronyLine {
    Server(String),
    ConfDir(Vec<String>),
    SourceDir(Vec<String>),
    Include(String),
}

/// chrony.conf(5) directives that name time sources or other files; `!`, `;`, `#` and `%` start comments.
pub fn parse_chrony(text: &str) -> Vec<ChronyLine> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(['!', ';', '#', '%']) {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(directive) = words.next() else { continue };
        match directive.to_ascii_lowercase().as_str() {
            "server" | "pool" | "peer" => out.extend(words.next().map(|w| ChronyLine::Server(w.to_string()))),
            "confdir" => out.push(ChronyLine::ConfDir(words.map(str::to_string).collect())),
            "sourcedir" => out.push(ChronyLine::SourceDir(words.map(str::to_string).collect())),
            "include" => out.extend(words.next().map(|w| ChronyLine::Include(w.to_string()))),
            _ => {}
        }
    }
    out
}

fn timesyncd(ctx: &ProbeContext<'_>, errors: &mut Errors) -> TimeDaemon {
    let conf = systemd::load(ctx, "timesyncd.conf", "Time", PROBE, errors);
    TimeDaemon {
        name: "systemd-timesyncd".into(),
        running: ctx.processes.running("systemd-timesyncd"),
        servers: timesyncd_servers(&conf),
        config: conf.sources.first().cloned(),
    }
}

/// `NTP=` when set, else `FallbackNTP=`, else the compiled-in fallback the
/// main file documents (`#FallbackNTP=0.debian.pool.ntp.org …`). Servers
/// learnt from DHCP through systemd-networkd are not in any file.
pub fn timesyncd_servers(conf: &systemd::UnitConf) -> Vec<String> {
    let ntp = conf.list("NTP");
    if !ntp.is_empty() {
        return ntp;
    }
    if conf.values.iter().any(|(k, _)| k == "FallbackNTP") {
        return conf.list("FallbackNTP");
    }
    conf.documented_default("FallbackNTP")
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn ntpd(ctx: &ProbeContext<'_>, errors: &mut Errors) -> TimeDaemon {
    let mut sources = Vec::new();
    let servers = NTPD_CONFS
        .iter()
        .find_map(|c| files::read(ctx, c, PROBE, errors, &mut sources))
        .map(|text| parse_ntp_conf(&text))
        .unwrap_or_default();
    TimeDaemon {
        name: "ntpd".into(),
        running: ctx.processes.running("ntpd"),
        servers,
        config: sources.into_iter().next(),
    }
}

/// `server`, `pool` and `peer` lines of ntp.conf(5), without the local reference clocks (`127.127.t.u`).
pub fn parse_ntp_conf(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split('#').next().unwrap_or_default().split_whitespace();
            match words.next() {
                Some("server" | "pool" | "peer") => words.next(),
                _ => None,
            }
        })
        .filter(|s| !s.starts_with("127.127."))
        .map(str::to_string)
        .collect()
}

fn openntpd(ctx: &ProbeContext<'_>, conf: &str, errors: &mut Errors) -> TimeDaemon {
    let mut sources = Vec::new();
    let servers = files::read(ctx, conf, PROBE, errors, &mut sources)
        .map(|text| parse_openntpd_conf(&text))
        .unwrap_or_default();
    TimeDaemon {
        name: "openntpd".into(),
        // Debian runs OpenNTPD's binary as `ntpd`.
        running: ctx.processes.running("openntpd") || ctx.processes.running("ntpd"),
        servers,
        config: sources.into_iter().next(),
    }
}

/// `server` and `servers` lines of ntpd.conf(5) (OpenNTPD).
pub fn parse_openntpd_conf(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split('#').next().unwrap_or_default().split_whitespace();
            match words.next() {
                Some("server" | "servers") => words.next().map(|w| w.trim_matches('"').to_string()),
                _ => None,
            }
        })
        .collect()
}

/// The modification time of a file, `None` when it does not exist.
fn modified(ctx: &ProbeContext<'_>, path: &str, errors: &mut Errors) -> Option<Timestamp> {
    let real = ctx.root.path(path);
    match std::fs::metadata(&real).and_then(|m| m.modified()) {
        Ok(time) => {
            let secs = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
            Timestamp::from_unix(i64::try_from(secs).ok()?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            errors.push(PROBE, describe(real, &e));
            None
        }
    }
}

// adjtimex is Linux's: elsewhere these are only used by the tests.
/// `adjtimex` state `TIME_ERROR`: the clock is not synchronised.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const TIME_ERROR: i32 = 5;
/// `STA_UNSYNC` status bit.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const STA_UNSYNC: i32 = 0x0040;

/// Synchronised and the maximum error in milliseconds, from what adjtimex returns.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn clock_state(state: i32, status: i32, max_error_us: i64) -> (bool, u64) {
    let synchronized = status & STA_UNSYNC == 0 && state != TIME_ERROR;
    (synchronized, u64::try_from(max_error_us).unwrap_or(0) / 1000)
}

/// The kernel clock discipline state, read with `adjtimex` in read-only mode.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn kernel_clock() -> std::io::Result<Option<(bool, u64)>> {
    use nix::libc;
    // SAFETY: `timex` is plain integers, valid when zeroed; `modes = 0` asks
    // adjtimex to only fill it in, which needs no privilege and changes nothing.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, exclusively borrowed `timex` for the whole call.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state == -1 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // `c_long` is 32 bits on some targets
    let max_error = tx.maxerror as i64;
    Ok(Some(clock_state(state, tx.status, max_error)))
}

#[cfg(not(target_os = "linux"))]
fn kernel_clock() -> std::io::Result<Option<(bool, u64)>> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use crate::probe::testing::{process, write};
    use std::path::Path;

    /// Debian 12's chrony.conf.
    const DEBIAN_CHRONY_CONF: &str = "\
# Welcome to the chrony configuration file. See chrony.conf(5) for more
# information about usable directives.

# Include configuration files found in /etc/chrony/conf.d.
confdir /etc/chrony/conf.d

# Use Debian vendor zone.
pool 2.debian.pool.ntp.org iburst

# Use time sources from DHCP.
sourcedir /run/chrony-dhcp

# Use NTP sources found in /etc/chrony/sources.d.
sourcedir /etc/chrony/sources.d

# This directive specify the location of the file containing ID/key pairs for
# NTP authentication.
keyfile /etc/chrony/chrony.keys

# This directive specify the file into which chronyd will store the rate
# information.
driftfile /var/lib/chrony/chrony.drift

# Save NTS keys and cookies.
ntsdumpdir /var/lib/chrony

# Uncomment the following line to turn logging on.
#log tracking measurements statistics

# Log files location.
logdir /var/log/chrony

# Stop bad estimates upsetting machine clock.
maxupdateskew 100.0

# This directive enables kernel synchronisation (every 11 minutes) of the
# real-time clock. Note that it can't be used along with the 'rtcfile' directive.
rtcsync

# Step the system clock instead of slewing it if the adjustment is larger than
# one second, but only in the first three clock updates.
makestep 1 3

# Get TAI-UTC offset and leap seconds from the system tz database.
# This directive must be commented out when using time sources serving
# leap-smeared time.
leapsectz right/UTC
";

    const DEBIAN_TIMESYNCD_CONF: &str = "\
#  This file is part of systemd.
#
# Entries in this file show the compile time defaults. Local configuration
# should be created by either modifying this file, or by creating \"drop-ins\" in
# the timesyncd.conf.d/ subdirectory. The latter is generally recommended.
#
# See timesyncd.conf(5) for details.

[Time]
#NTP=
#FallbackNTP=0.debian.pool.ntp.org 1.debian.pool.ntp.org 2.debian.pool.ntp.org 3.debian.pool.ntp.org
#RootDistanceMaxSec=5
#PollIntervalMinSec=32
#PollIntervalMaxSec=2048
";

    fn probe(root: &Path, processes: Processes) -> (TimeSync, Errors) {
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(root), processes, &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn chrony_follows_confdir_and_sourcedir() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "/usr/sbin/chronyd", "");
        write(root, "/etc/chrony/chrony.conf", DEBIAN_CHRONY_CONF);
        write(
            root,
            "/etc/chrony/conf.d/10-agency.conf",
            "# agency time servers\nserver ntp1.agency.gov.vn iburst prefer\n",
        );
        write(
            root,
            "/etc/chrony/sources.d/local.sources",
            "server 10.0.0.123 iburst\npeer 10.0.0.124\n",
        );
        write(root, "/etc/chrony/sources.d/README", "server ignored.example.com\n");
        let (t, errors) = probe(root, Processes(vec![process(700, "chronyd")]));
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(t.running);
        assert_eq!(t.daemons.len(), 1);
        let chrony = &t.daemons[0];
        assert_eq!(chrony.name, "chrony");
        assert_eq!(chrony.config.as_deref(), Some("/etc/chrony/chrony.conf"));
        assert_eq!(
            chrony.servers,
            vec!["ntp1.agency.gov.vn", "2.debian.pool.ntp.org", "10.0.0.123", "10.0.0.124"]
        );
        assert_eq!(t.servers, chrony.servers);
        assert_eq!(t.synchronized, None, "not asked outside the real root");
        assert_eq!(t.last_sync, None);
    }

    #[test]
    fn timesyncd_uses_ntp_from_drop_ins_and_records_the_last_sync() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "/lib/systemd/systemd-timesyncd", "");
        write(root, "/etc/systemd/timesyncd.conf", DEBIAN_TIMESYNCD_CONF);
        write(
            root,
            "/etc/systemd/timesyncd.conf.d/agency.conf",
            "[Time]\nNTP=ntp1.agency.gov.vn ntp2.agency.gov.vn\n",
        );
        write(root, "/var/lib/systemd/timesync/clock", "");
        let clock = std::fs::File::options()
            .write(true)
            .open(root.join("var/lib/systemd/timesync/clock"))
            .unwrap();
        clock
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_750_000_000))
            .unwrap();
        let (t, errors) = probe(root, Processes(vec![process(400, "systemd-timesyncd")]));
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(t.running);
        assert_eq!(t.daemons[0].name, "systemd-timesyncd");
        assert_eq!(t.daemons[0].config.as_deref(), Some("/etc/systemd/timesyncd.conf"));
        assert_eq!(t.servers, vec!["ntp1.agency.gov.vn", "ntp2.agency.gov.vn"]);
        assert_eq!(t.last_sync, Timestamp::from_unix(1_750_000_000));
    }

    #[test]
    fn timesyncd_without_ntp_uses_the_fallback() {
        let conf = systemd::UnitConf {
            values: systemd::parse_section("[Time]\nFallbackNTP=time.example.com\n", "Time"),
            documented_defaults: systemd::parse_documented_defaults(DEBIAN_TIMESYNCD_CONF, "Time"),
            sources: vec![],
        };
        assert_eq!(timesyncd_servers(&conf), vec!["time.example.com"]);
        let debian = systemd::UnitConf {
            documented_defaults: conf.documented_defaults.clone(),
            ..Default::default()
        };
        assert_eq!(timesyncd_servers(&debian).len(), 4);
        assert_eq!(timesyncd_servers(&debian)[0], "0.debian.pool.ntp.org");
    }

    #[test]
    fn servers_come_from_the_running_client_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "/usr/sbin/chronyd", "");
        write(root, "/etc/chrony.conf", "server a.example.com iburst\n");
        write(root, "/usr/lib/systemd/systemd-timesyncd", "");
        write(root, "/usr/sbin/ntpd", "");
        write(
            root,
            "/etc/ntpsec/ntp.conf",
            "pool 0.debian.pool.ntp.org iburst\nserver 127.127.1.0\nrestrict default kod\n",
        );
        let (t, errors) = probe(root, Processes(vec![process(9, "ntpd")]));
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        let names: Vec<_> = t.daemons.iter().map(|d| (d.name.as_str(), d.running)).collect();
        assert_eq!(names, vec![("chrony", false), ("systemd-timesyncd", false), ("ntpd", true)]);
        assert_eq!(t.servers, vec!["0.debian.pool.ntp.org"]);

        let (t, _) = probe(root, Processes::default());
        assert!(!t.running);
        assert_eq!(t.servers, vec!["a.example.com", "0.debian.pool.ntp.org"]);
    }

    #[test]
    fn openntpd_is_told_apart_by_its_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "/usr/sbin/ntpd", "");
        write(
            root,
            "/etc/openntpd/ntpd.conf",
            "# sample\nservers pool.ntp.org\nserver \"time.example.com\"\nsensor *\nconstraints from \"https://www.google.com/\"\n",
        );
        let (t, errors) = probe(root, Processes(vec![process(9, "ntpd")]));
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(t.daemons.len(), 1);
        assert_eq!(t.daemons[0].name, "openntpd");
        assert!(t.daemons[0].running);
        assert_eq!(t.servers, vec!["pool.ntp.org", "time.example.com"]);
    }

    #[test]
    fn reads_the_kernel_clock_state() {
        assert_eq!(clock_state(0, 0x2001, 16_000), (true, 16));
        assert_eq!(clock_state(5, 0x2001, 16_000), (false, 16));
        assert_eq!(clock_state(0, 0x0041, 16_000_000), (false, 16_000));
        // Reading is allowed without privileges on any Linux machine.
        #[cfg(target_os = "linux")]
        assert!(kernel_clock().unwrap().is_some());
    }
}
