//! ClamAV, found through its own configuration.
//!
//! - clamd's configuration names its socket and database folder; Debian,
//!   Fedora/RHEL and source installs keep it in different places;
//! - `running` means a `clamd` process exists, `reachable` that it answered
//!   `PING` on the configured socket (a daemon can run and not answer: busy,
//!   wrong socket permissions, still loading signatures);
//! - the signature version and build time come from the `daily` database
//!   header (`.cvd` or `.cld`, the higher version wins, as ClamAV itself
//!   decides); `VERSION` over the socket is the fallback;
//! - real-time protection on Linux is only `clamonacc` (on-access scanning).

use super::cvd::{self, CvdHeader};
use crate::probe::{Errors, ProbeContext, root::describe};
use khien_proto::Timestamp;
use khien_proto::facts::AvProduct;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::PrimitiveDateTime;
use time::macros::format_description;

const PROBE: &str = "antivirus.products";

const CLAMD_CONF: [&str; 5] = [
    "/etc/clamav/clamd.conf",
    "/etc/clamd.d/scan.conf",
    "/etc/clamd.conf",
    "/usr/local/etc/clamd.conf",
    "/usr/local/etc/clamav/clamd.conf",
];
const FRESHCLAM_CONF: [&str; 4] = [
    "/etc/clamav/freshclam.conf",
    "/etc/freshclam.conf",
    "/usr/local/etc/freshclam.conf",
    "/usr/local/etc/clamav/freshclam.conf",
];
const BINARIES: [&str; 6] = [
    "/usr/sbin/clamd",
    "/usr/bin/clamd",
    "/usr/local/sbin/clamd",
    "/usr/bin/clamscan",
    "/usr/local/bin/clamscan",
    "/usr/bin/clamdscan",
];
const DEFAULT_DATABASE_DIR: &str = "/var/lib/clamav";

/// The parts of `clamd.conf` / `freshclam.conf` the probe uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClamConf {
    /// The file still has its `Example` line: clamd refuses to start with it.
    pub example: bool,
    pub local_socket: Option<String>,
    pub tcp_socket: Option<u16>,
    pub tcp_addr: Option<String>,
    pub database_dir: Option<String>,
    pub on_access_paths: Vec<String>,
}

/// `Key value` lines; `#` comments; repeated keys add values.
pub fn parse_conf(text: &str) -> ClamConf {
    let mut conf = ClamConf::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim().trim_matches('"')),
            None => (line, ""),
        };
        match key {
            "Example" => conf.example = true,
            "LocalSocket" => conf.local_socket = Some(value.to_string()),
            "TCPSocket" => conf.tcp_socket = value.parse().ok(),
            "TCPAddr" => conf.tcp_addr = Some(value.to_string()),
            "DatabaseDirectory" => conf.database_dir = Some(value.to_string()),
            "OnAccessIncludePath" | "OnAccessMountPath" => conf.on_access_paths.push(value.to_string()),
            _ => {}
        }
    }
    conf
}

/// `ClamAV 1.4.6/27830/Sat Nov 22 08:30:00 2026`: engine, daily version, daily build time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionReply {
    pub engine: String,
    pub daily_version: Option<u64>,
    pub daily_time: Option<Timestamp>,
}

pub fn parse_version(reply: &str) -> Option<VersionReply> {
    let rest = reply
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .strip_prefix("ClamAV ")?;
    let mut parts = rest.splitn(3, '/');
    let engine = parts.next()?.trim().to_string();
    let daily_version = parts.next().and_then(|v| v.trim().parse().ok());
    let daily_time = parts.next().and_then(parse_ctime);
    Some(VersionReply {
        engine,
        daily_version,
        daily_time,
    })
}

/// `ctime(3)` without the newline, as clamd prints it (`Sat Nov 22 08:30:00 2026`), read as UTC.
fn parse_ctime(text: &str) -> Option<Timestamp> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let format = format_description!("[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] [year]");
    PrimitiveDateTime::parse(&text, &format)
        .ok()
        .map(|t| Timestamp::from(t.assume_utc()))
}

/// Where to reach clamd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// Sends one `z`-prefixed command (NUL-terminated, as clamd recommends) and reads the reply.
pub fn command(endpoint: &Endpoint, cmd: &str, timeout: Duration) -> std::io::Result<String> {
    fn exchange<S: Read + Write>(mut s: S, cmd: &str) -> std::io::Result<String> {
        s.write_all(format!("z{cmd}\0").as_bytes())?;
        let mut reply = Vec::new();
        // clamd closes the connection after answering in this mode; the cap guards against a stranger on the socket.
        s.take(64 * 1024).read_to_end(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply).trim_end_matches(['\0', '\n']).to_string())
    }
    match endpoint {
        Endpoint::Unix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            exchange(s, cmd)
        }
        Endpoint::Tcp(addr) => {
            use std::net::ToSocketAddrs;
            let sa = addr
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{addr} does not resolve")))?;
            let s = std::net::TcpStream::connect_timeout(&sa, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            exchange(s, cmd)
        }
    }
}

/// The configuration file a clamd process was started with (`-c FILE`,
/// `--config-file FILE` or `--config-file=FILE`).
pub fn config_arg(args: &[String]) -> Option<&str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-c" || a == "--config-file" {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix("--config-file=") {
            return Some(v);
        }
    }
    None
}

/// Whether a clamd (or clamonacc) with these arguments serves `conf`. Several instances may
/// run (Fedora's `clamd@scan`, test daemons); only the one reading our
/// configuration answers for it. Without `-c`, clamd reads its compiled-in
/// default, which is the distribution's standard path: a discovered
/// configuration, or a configured one that is a standard path.
fn serves_config(args: &[String], conf: Option<&str>, configured: bool) -> bool {
    match (config_arg(args), conf) {
        (Some(arg), Some(conf)) => Path::new(arg) == Path::new(conf),
        (Some(_), None) => false,
        (None, Some(conf)) => !configured || CLAMD_CONF.contains(&conf),
        (None, None) => true,
    }
}

/// The newest header among `<base>.cvd` and `<base>.cld` in a database folder.
fn newest_database(ctx: &ProbeContext<'_>, dir: &str, base: &str, errors: &mut Errors) -> Option<CvdHeader> {
    let mut best: Option<CvdHeader> = None;
    for ext in ["cvd", "cld"] {
        let abs = format!("{}/{base}.{ext}", dir.trim_end_matches('/'));
        let path = ctx.root.path(&abs);
        if !path.exists() {
            continue;
        }
        match cvd::read_header(&path) {
            Ok(h) if best.as_ref().is_none_or(|b| h.version > b.version) => best = Some(h),
            Ok(_) => {}
            Err(e) => errors.push(PROBE, format!("clamav: {}", describe(&abs, &e))),
        }
    }
    best
}

fn first_existing(ctx: &ProbeContext<'_>, configured: Option<&Path>, candidates: &[&str]) -> Option<String> {
    match configured {
        Some(p) => Some(p.display().to_string()),
        None => candidates.iter().find(|c| ctx.root.exists(c)).map(|c| c.to_string()),
    }
}

/// ClamAV as installed on this machine, or `None` when it is not installed.
pub fn probe(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Option<AvProduct> {
    let cfg = &ctx.config.clamav;
    let clamd_conf_path = first_existing(ctx, cfg.clamd_conf.as_deref(), &CLAMD_CONF);
    let freshclam_conf_path = first_existing(ctx, cfg.freshclam_conf.as_deref(), &FRESHCLAM_CONF);
    let binary = BINARIES.iter().find(|b| ctx.root.exists(b));
    // clamonacc reads clamd's configuration too, so both are matched to it.
    let serving = |name: &str| {
        ctx.processes
            .find(name)
            .any(|p| serves_config(&p.args, clamd_conf_path.as_deref(), cfg.clamd_conf.is_some()))
    };
    let running = serving("clamd");
    if clamd_conf_path.is_none() && binary.is_none() && !running {
        return None;
    }

    let mut details = BTreeMap::new();
    let read_conf = |path: &Option<String>, errors: &mut Errors| -> ClamConf {
        match path {
            Some(p) => match ctx.root.read_to_string(p) {
                Ok(text) => parse_conf(&text),
                Err(e) => {
                    errors.push(PROBE, format!("clamav: {}", describe(p, &e)));
                    ClamConf::default()
                }
            },
            None => ClamConf::default(),
        }
    };
    let clamd = read_conf(&clamd_conf_path, errors);
    let freshclam = read_conf(&freshclam_conf_path, errors);
    if let Some(p) = &clamd_conf_path {
        details.insert("clamd_conf".into(), p.clone());
    }
    if let Some(p) = &freshclam_conf_path {
        details.insert("freshclam_conf".into(), p.clone());
    }
    if clamd.example {
        details.insert("clamd_conf_unedited".into(), "true".into());
    }

    let endpoint = match (&clamd.local_socket, clamd.tcp_socket) {
        (Some(sock), _) => Some(Endpoint::Unix(ctx.root.path(sock))),
        (None, Some(port)) => Some(Endpoint::Tcp(format!(
            "{}:{port}",
            clamd.tcp_addr.as_deref().unwrap_or("127.0.0.1")
        ))),
        (None, None) => None,
    };
    let mut reachable = None;
    let mut version = None;
    if let Some(ep) = &endpoint {
        details.insert("socket".into(), ep.to_string());
        let timeout = ctx.command_timeout.min(Duration::from_secs(2));
        match command(ep, "PING", timeout) {
            Ok(reply) if reply == "PONG" => {
                reachable = Some(true);
                match command(ep, "VERSION", timeout) {
                    Ok(reply) => version = parse_version(&reply),
                    Err(e) => errors.push(PROBE, format!("clamav: VERSION on {ep}: {e}")),
                }
            }
            Ok(reply) => {
                reachable = Some(false);
                errors.push(PROBE, format!("clamav: {ep} answered {reply:?} to PING"));
            }
            // A stopped daemon is a finding, not a probe failure; a refused socket of a running one is worth saying.
            Err(e) => {
                reachable = Some(false);
                if running {
                    details.insert("socket_error".into(), e.to_string());
                }
            }
        }
    }

    let db_dir = cfg
        .database_dir
        .as_ref()
        .map(|p| p.display().to_string())
        .or(clamd.database_dir.clone())
        .or(freshclam.database_dir.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE_DIR.to_string());
    details.insert("database_dir".into(), db_dir.clone());
    let daily = newest_database(ctx, &db_dir, "daily", errors);
    for base in ["main", "bytecode"] {
        if let Some(h) = newest_database(ctx, &db_dir, base, errors) {
            details.insert(format!("{base}_version"), h.version.to_string());
        }
    }

    let engine = version.as_ref().map(|v| v.engine.clone());
    Some(AvProduct {
        id: "clamav".into(),
        name: "ClamAV".into(),
        vendor: "Cisco Talos".into(),
        installed: true,
        running,
        reachable,
        realtime: Some(serving("clamonacc")),
        realtime_paths: clamd.on_access_paths.clone(),
        product_version: engine.clone(),
        engine_version: engine,
        signature_version: daily
            .as_ref()
            .map(|h| h.version.to_string())
            .or_else(|| version.as_ref().and_then(|v| v.daily_version).map(|v| v.to_string())),
        signature_time: daily
            .as_ref()
            .and_then(|h| h.build_time)
            .or_else(|| version.as_ref().and_then(|v| v.daily_time)),
        auto_update: Some(ctx.processes.running("freshclam")),
        mode: None,
        managed: None,
        last_scan: None,
        source: if reachable == Some(true) { "clamd" } else { "file" }.into(),
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_clamd_conf() {
        let conf = parse_conf(
            "#Automatically Generated by clamav-daemon postinst\nLocalSocket /var/run/clamav/clamd.ctl\n\
             FixStaleSocket true\nLocalSocketGroup clamav\nDatabaseDirectory /var/lib/clamav\n\
             OnAccessIncludePath /home\nOnAccessIncludePath /srv\n",
        );
        assert_eq!(conf.local_socket.as_deref(), Some("/var/run/clamav/clamd.ctl"));
        assert_eq!(conf.database_dir.as_deref(), Some("/var/lib/clamav"));
        assert_eq!(conf.on_access_paths, vec!["/home", "/srv"]);
        assert!(!conf.example);
    }

    #[test]
    fn recognises_the_unedited_fedora_sample() {
        let conf =
            parse_conf("##\n## Example config file\nExample\n#LocalSocket /run/clamd.scan/clamd.sock\nTCPSocket 3310\nTCPAddr 127.0.0.1\n");
        assert!(conf.example);
        assert_eq!(conf.local_socket, None);
        assert_eq!(conf.tcp_socket, Some(3310));
    }

    #[test]
    fn matches_daemons_to_their_configuration() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            config_arg(&args(&["-c", "/tmp/t/clamd.conf", "--foreground"])),
            Some("/tmp/t/clamd.conf")
        );
        assert_eq!(
            config_arg(&args(&["--config-file=/etc/clamd.d/scan.conf"])),
            Some("/etc/clamd.d/scan.conf")
        );
        assert_eq!(config_arg(&args(&["--foreground=true"])), None);
        // The distribution's daemon, the configuration found by searching.
        assert!(serves_config(&args(&["--foreground=true"]), Some("/etc/clamav/clamd.conf"), false));
        // A test daemon does not answer for the system configuration, nor the reverse.
        assert!(!serves_config(
            &args(&["-c", "/tmp/t/clamd.conf"]),
            Some("/etc/clamav/clamd.conf"),
            false
        ));
        assert!(!serves_config(&args(&["--foreground=true"]), Some("/tmp/t/clamd.conf"), true));
        assert!(serves_config(&args(&["-c", "/tmp/t/clamd.conf"]), Some("/tmp/t/clamd.conf"), true));
    }

    #[test]
    fn parses_version_replies() {
        let v = parse_version("ClamAV 1.4.6/27830/Sat Nov 22 08:30:00 2026\0").unwrap();
        assert_eq!(v.engine, "1.4.6");
        assert_eq!(v.daily_version, Some(27830));
        assert_eq!(v.daily_time.unwrap().to_string(), "2026-11-22T08:30:00Z");
        let v = parse_version("ClamAV 0.103.8/26800/Mon Feb  6 09:25:04 2023").unwrap();
        assert_eq!(v.daily_time.unwrap().to_string(), "2023-02-06T09:25:04Z");
        let bare = parse_version("ClamAV 1.4.6").unwrap();
        assert_eq!((bare.engine.as_str(), bare.daily_version), ("1.4.6", None));
        assert_eq!(parse_version("UNKNOWN COMMAND"), None);
    }

    #[test]
    fn talks_the_clamd_protocol_over_a_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clamd.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            for reply in ["PONG", "ClamAV 1.4.6/27830/Sat Nov 22 08:30:00 2026"] {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).unwrap();
                assert_eq!(buf[0], b'z');
                assert_eq!(buf[n - 1], 0, "commands are NUL-terminated");
                s.write_all(format!("{reply}\0").as_bytes()).unwrap();
            }
        });
        let ep = Endpoint::Unix(path);
        assert_eq!(command(&ep, "PING", Duration::from_secs(2)).unwrap(), "PONG");
        let v = parse_version(&command(&ep, "VERSION", Duration::from_secs(2)).unwrap()).unwrap();
        assert_eq!(v.daily_version, Some(27830));
        server.join().unwrap();
    }
}
