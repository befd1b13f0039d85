//! The agent's configuration file (`/etc/khien/agent.toml`), parsed once into
//! typed settings. Every error names the file, the key and the problem.
//!
//! ```toml
//! role = "server"                      # default: detected
//! policies_dir = "/usr/share/khien/policies"
//!
//! [probe]
//! command_timeout_ms = 3000            # deadline for tools such as `nft -j`
//!
//! [report]                            # khien-agent run
//! interval_secs = 300                  # a report (or heartbeat) at least this often
//! full_every_hours = 24                # facts in full at least this often
//! debounce_ms = 2000                   # wait after a watched file changes
//!
//! [spool]
//! max_reports = 10000                  # oldest dropped beyond these, and counted
//! max_bytes = 268435456
//!
//! [antivirus.clamav]
//! clamd_conf = "/etc/clamav/clamd.conf"
//!
//! [[antivirus.product]]                # more products, same form as the built-in table
//! id = "acme"
//! ...
//! ```

use crate::probe::antivirus::products::ProductSpec;
use khien_proto::Role;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_PATH: &str = "/etc/khien/agent.toml";

/// The configuration file read when none is named: [`DEFAULT_PATH`], on
/// Windows `%ProgramData%\Khien\agent.toml`.
pub fn default_path() -> PathBuf {
    if cfg!(windows) {
        windows_data_dir(std::env::var_os("ProgramData")).join("agent.toml")
    } else {
        PathBuf::from(DEFAULT_PATH)
    }
}

/// The state folder when neither `--state-dir` nor `state_dir` names one:
/// `/var/lib/khien-agent`, on Windows `%ProgramData%\Khien`.
pub fn default_state_dir() -> PathBuf {
    if cfg!(windows) {
        windows_data_dir(std::env::var_os("ProgramData"))
    } else {
        PathBuf::from(crate::state::DEFAULT_DIR)
    }
}

/// `%ProgramData%\Khien`; the variable is missing only from a stripped
/// environment, where Windows' own default is still the right place.
pub fn windows_data_dir(program_data: Option<std::ffi::OsString>) -> PathBuf {
    program_data
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join("Khien")
}

#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The key at fault, dotted (`probe.command_timeout_ms`), when known.
    pub key: Option<String>,
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.problem)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    role: Option<Role>,
    policies_dir: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    #[serde(default)]
    probe: RawProbe,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    spool: RawSpool,
    #[serde(default)]
    antivirus: RawAntivirus,
    #[serde(default)]
    host: HostFlags,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    root: Option<PathBuf>,
    command_timeout_ms: Option<u64>,
    egress_target: Option<String>,
}

/// What the operator declares about the machine, because no probe can see it.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFlags {
    /// The machine holds State-secret documents (levels.md §5.1, PX-01).
    #[serde(default)]
    pub state_secrets: bool,
    /// The machine is used from outside the agency's network (HT-01).
    #[serde(default)]
    pub remote: bool,
    /// The machine administers other systems (HT-02, TK-07).
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    interval_secs: Option<u64>,
    full_every_hours: Option<u64>,
    debounce_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    max_reports: Option<usize>,
    max_bytes: Option<u64>,
}

/// How `khien-agent run` reports.
#[derive(Clone, Debug)]
pub struct ReportConfig {
    pub interval: Duration,
    pub full_every: Duration,
    pub debounce: Duration,
    pub spool_max_reports: usize,
    pub spool_max_bytes: u64,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            interval: Duration::from_secs(300),
            full_every: Duration::from_secs(24 * 3600),
            debounce: Duration::from_millis(2000),
            spool_max_reports: 10_000,
            spool_max_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAntivirus {
    #[serde(default)]
    clamav: ClamavConfig,
    #[serde(default)]
    product: Vec<ProductSpec>,
}

/// Where ClamAV keeps its configuration; each unset path is searched in the
/// standard locations of Debian, Fedora/RHEL and source installs.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClamavConfig {
    pub clamd_conf: Option<PathBuf>,
    pub freshclam_conf: Option<PathBuf>,
    pub database_dir: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// The role set by the operator; detected when `None`.
    pub role: Option<Role>,
    /// Prefix under which probes read files (`/` except in tests).
    pub root: PathBuf,
    pub command_timeout: Duration,
    pub clamav: ClamavConfig,
    /// Products added by the operator to the built-in table.
    pub extra_products: Vec<ProductSpec>,
    /// `host:port` the egress probe tries to reach directly (HT-02); no probe when `None`.
    pub egress_target: Option<String>,
    pub host: HostFlags,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            role: None,
            root: PathBuf::from("/"),
            command_timeout: Duration::from_millis(3000),
            clamav: ClamavConfig::default(),
            extra_products: Vec::new(),
            egress_target: None,
            host: HostFlags::default(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The file read, if any.
    pub source: Option<PathBuf>,
    pub policies_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub probe: ProbeConfig,
    pub report: ReportConfig,
}

impl Config {
    /// Reads `path`, or the default file when none is given and it exists.
    /// A file named explicitly must exist.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (default_path(), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(Config::default()),
            Err(e) => Err(ConfigError {
                file: path,
                key: None,
                line: None,
                problem: format!("cannot read: {e}"),
            }),
        }
    }

    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            key: None,
            line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            problem: e.message().trim().to_string(),
        })?;
        let err = |key: &str, problem: String| ConfigError {
            file: file.to_path_buf(),
            key: Some(key.to_string()),
            line: None,
            problem,
        };
        let mut probe = ProbeConfig::default();
        if let Some(ms) = raw.probe.command_timeout_ms {
            if !(100..=60_000).contains(&ms) {
                return Err(err("probe.command_timeout_ms", format!("{ms} is out of range; use 100 to 60000")));
            }
            probe.command_timeout = Duration::from_millis(ms);
        }
        if let Some(root) = raw.probe.root {
            if !root.is_absolute() || !root.is_dir() {
                return Err(err("probe.root", format!("{} must be an existing absolute folder", root.display())));
            }
            probe.root = root;
        }
        let mut report = ReportConfig::default();
        if let Some(s) = raw.report.interval_secs {
            if !(1..=86_400).contains(&s) {
                return Err(err("report.interval_secs", format!("{s} is out of range; use 1 to 86400")));
            }
            report.interval = Duration::from_secs(s);
        }
        if let Some(h) = raw.report.full_every_hours {
            if !(1..=168).contains(&h) {
                return Err(err("report.full_every_hours", format!("{h} is out of range; use 1 to 168")));
            }
            report.full_every = Duration::from_secs(h * 3600);
        }
        if let Some(ms) = raw.report.debounce_ms {
            if !(50..=60_000).contains(&ms) {
                return Err(err("report.debounce_ms", format!("{ms} is out of range; use 50 to 60000")));
            }
            report.debounce = Duration::from_millis(ms);
        }
        if let Some(n) = raw.spool.max_reports {
            if n == 0 {
                return Err(err("spool.max_reports", "must be at least 1".into()));
            }
            report.spool_max_reports = n;
        }
        if let Some(b) = raw.spool.max_bytes {
            if b < 1024 * 1024 {
                return Err(err("spool.max_bytes", format!("{b} is below 1 MiB")));
            }
            report.spool_max_bytes = b;
        }
        for (key, path) in [
            ("state_dir", &raw.state_dir),
            ("antivirus.clamav.clamd_conf", &raw.antivirus.clamav.clamd_conf),
            ("antivirus.clamav.freshclam_conf", &raw.antivirus.clamav.freshclam_conf),
            ("antivirus.clamav.database_dir", &raw.antivirus.clamav.database_dir),
            ("policies_dir", &raw.policies_dir),
        ] {
            if let Some(p) = path
                && !p.is_absolute()
            {
                return Err(err(key, format!("{} must be an absolute path", p.display())));
            }
        }
        for (i, product) in raw.antivirus.product.iter().enumerate() {
            product
                .validate()
                .map_err(|problem| err(&format!("antivirus.product[{i}] ({})", product.id), problem))?;
        }
        if let Some(target) = raw.probe.egress_target {
            let valid = target
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            if !valid {
                return Err(err("probe.egress_target", format!("{target:?} is not host:port")));
            }
            probe.egress_target = Some(target);
        }
        probe.host = raw.host;
        probe.role = raw.role;
        probe.clamav = raw.antivirus.clamav;
        probe.extra_products = raw.antivirus.product;
        Ok(Config {
            source: Some(file.to_path_buf()),
            policies_dir: raw.policies_dir,
            state_dir: raw.state_dir,
            probe,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/khien/agent.toml"), text)
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.probe.role, None);
        assert_eq!(c.probe.command_timeout, Duration::from_secs(3));
        assert_eq!(c.probe.root, PathBuf::from("/"));
    }

    #[test]
    fn reads_every_key() {
        let c = parse(
            "role = \"server\"\npolicies_dir = \"/opt/p\"\n[probe]\ncommand_timeout_ms = 500\n\
             [antivirus.clamav]\nclamd_conf = \"/tmp/clamd.conf\"\n",
        )
        .unwrap();
        assert_eq!(c.probe.role, Some(Role::Server));
        assert_eq!(c.policies_dir, Some(PathBuf::from("/opt/p")));
        assert_eq!(c.probe.command_timeout, Duration::from_millis(500));
        assert_eq!(c.probe.clamav.clamd_conf, Some(PathBuf::from("/tmp/clamd.conf")));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = parse("role = \"server\"\n[probe]\ncomand_timeout_ms = 5\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("/etc/khien/agent.toml:3: "), "{msg}");
        assert!(msg.contains("comand_timeout_ms"), "{msg}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = parse("[probe]\ncommand_timeout_ms = 5\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("probe.command_timeout_ms"));
        let e = parse("role = \"laptop\"\n").unwrap_err();
        assert!(e.to_string().contains("laptop"), "{e}");
        let e = parse("[antivirus.clamav]\nclamd_conf = \"clamd.conf\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("antivirus.clamav.clamd_conf"));
    }

    #[test]
    fn windows_paths_follow_program_data() {
        assert_eq!(windows_data_dir(Some("D:\\Data".into())), PathBuf::from("D:\\Data").join("Khien"));
        assert_eq!(windows_data_dir(Some("".into())), PathBuf::from(r"C:\ProgramData").join("Khien"));
        assert_eq!(windows_data_dir(None), PathBuf::from(r"C:\ProgramData").join("Khien"));
        if cfg!(not(windows)) {
            assert_eq!(default_path(), PathBuf::from(DEFAULT_PATH));
            assert_eq!(default_state_dir(), PathBuf::from(crate::state::DEFAULT_DIR));
        }
    }

    #[test]
    fn explicit_missing_file_is_an_error_default_is_not() {
        assert!(Config::load(Some(Path::new("/nonexistent/agent.toml"))).is_err());
    }
}
