//! Collector settings: command-line flags over `<data dir>/collector.toml`
//! over defaults, parsed once into [`Settings`].
//!
//! ```toml
//! listen = "0.0.0.0:8443"
//! url = "https://collector.dlk.example:8443"   # what enrollment tokens point agents at
//! database = "sqlite:///var/lib/khien-collector/khien.db"   # or postgres://…
//! server_names = ["collector.dlk.example", "10.1.2.3"]     # added to the server certificate
//! policies_dir = "/usr/share/khien/policies"
//! max_report_bytes = 1048576
//! report_retention_days = 400
//! fresh_signature_days = 7                                  # KPIs: signatures this old are fresh
//! backup_max_age_days = 2                                   # KPIs: a backup this old is recent
//! sweep_max_age_days = 7                                    # KPIs: a malware scan this old is a recent sweep
//! database_writers = 1                                       # PostgreSQL: concurrent writers
//! history_retention_days = 730                              # daily KPI/compliance snapshots and verdict changes: 30 to 3650
//! ```

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "collector.toml";

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_report_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_retention_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_signature_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_max_age_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_max_age_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_writers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_retention_days: Option<u32>,
}

/// Overrides from the command line.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub data_dir: PathBuf,
    pub config: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub url: Option<String>,
    pub database: Option<String>,
    pub policies: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `https://host:port` agents use; written into enrollment tokens.
    pub url: String,
    pub database: String,
    pub server_names: Vec<String>,
    pub policies_dir: Option<PathBuf>,
    pub max_report_bytes: usize,
    pub report_retention_days: u32,
    /// How old signatures, backups and sweeps may be for the KPIs.
    pub kpi_windows: crate::scorecard::Windows,
    /// Concurrent database writers (PostgreSQL only).
    pub database_writers: usize,
    /// How long daily snapshots and verdict changes are kept (history.rs).
    pub history_retention_days: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {problem}", .key.as_ref().map(|k| format!(": key `{k}`")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub key: Option<String>,
    pub problem: String,
}

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";

impl Settings {
    pub fn load(flags: &Flags) -> Result<Settings, ConfigError> {
        let path = flags.config.clone().unwrap_or_else(|| flags.data_dir.join(CONFIG_FILE));
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError {
                file: match e.span() {
                    Some(s) => format!("{}:{}", path.display(), text[..s.start.min(text.len())].matches('\n').count() + 1),
                    None => path.display().to_string(),
                },
                key: None,
                problem: e.message().trim().to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && flags.config.is_none() => FileConfig::default(),
            Err(e) => {
                return Err(ConfigError {
                    file: path.display().to_string(),
                    key: None,
                    problem: format!("cannot read: {e}"),
                });
            }
        };
        let err = |key: &str, problem: String| ConfigError {
            file: path.display().to_string(),
            key: Some(key.to_string()),
            problem,
        };
        let listen = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
        let url = match flags.url.clone().or(file.url) {
            Some(u) => u,
            None => default_url(listen),
        };
        if !url.starts_with("https://") {
            return Err(err("url", format!("{url:?} must start with https://")));
        }
        let database = flags
            .database
            .clone()
            .or(file.database)
            .unwrap_or_else(|| format!("sqlite://{}", flags.data_dir.join("khien.db").display()));
        let max_report_bytes = file.max_report_bytes.unwrap_or(1024 * 1024);
        if !(64 * 1024..=64 * 1024 * 1024).contains(&max_report_bytes) {
            return Err(err(
                "max_report_bytes",
                format!("{max_report_bytes} is out of range; use 65536 to 67108864"),
            ));
        }
        let report_retention_days = file.report_retention_days.unwrap_or(400);
        if report_retention_days < 30 {
            return Err(err(
                "report_retention_days",
                format!("{report_retention_days} is too short: level 2 needs a month of logs, QCVN 12 a year"),
            ));
        }
        let database_writers = file.database_writers.unwrap_or(1);
        if !(1..=16).contains(&database_writers) {
            return Err(err("database_writers", format!("{database_writers} is out of range; use 1 to 16")));
        }
        let history_retention_days = file.history_retention_days.unwrap_or(730);
        if !(30..=3650).contains(&history_retention_days) {
            return Err(err(
                "history_retention_days",
                format!("{history_retention_days} is out of range; use 30 to 3650 days"),
            ));
        }
        let days = |key: &str, v: Option<u32>, default: u32| match v.unwrap_or(default) {
            d @ 1..=366 => Ok(d),
            d => Err(err(key, format!("{d} is out of range; use 1 to 366 days"))),
        };
        let kpi_windows = crate::scorecard::Windows {
            fresh_signature_days: days("fresh_signature_days", file.fresh_signature_days, 7)?,
            backup_days: days("backup_max_age_days", file.backup_max_age_days, 2)?,
            sweep_days: days("sweep_max_age_days", file.sweep_max_age_days, 7)?,
        };
        Ok(Settings {
            data_dir: flags.data_dir.clone(),
            listen,
            url,
            database,
            server_names: file.server_names,
            policies_dir: flags.policies.clone().or(file.policies_dir),
            max_report_bytes,
            report_retention_days,
            kpi_windows,
            database_writers,
            history_retention_days,
        })
    }

    /// Records the choices of the first start, so that later commands on the
    /// same data dir (`token create`, `seed`) reach the same database and URL.
    pub fn remember(&self) -> std::io::Result<()> {
        let path = self.data_dir.join(CONFIG_FILE);
        if path.exists() {
            return Ok(());
        }
        let file = FileConfig {
            listen: Some(self.listen),
            url: Some(self.url.clone()),
            database: Some(self.database.clone()),
            ..FileConfig::default()
        };
        let text = format!(
            "# Written at the first start of khien-collector; edit freely (see README).\n{}",
            toml::to_string(&file).unwrap_or_default()
        );
        // It may hold a database password.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())
    }
}

/// `https://<this host>:<port>`, or loopback when listening there.
fn default_url(listen: SocketAddr) -> String {
    let host = if listen.ip().is_loopback() {
        listen.ip().to_string()
    } else {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    };
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    format!("https://{host}:{}", listen.port())
}

/// The host part of a URL, for the server certificate.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
    };
    (!host.is_empty()).then(|| host.to_string())
}

pub fn data_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load(&Flags {
            data_dir: dir.path().into(),
            listen: Some("127.0.0.1:9443".parse().unwrap()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(s.url, "https://127.0.0.1:9443");
        assert!(s.database.starts_with("sqlite://") && s.database.ends_with("khien.db"));
        s.remember().unwrap();
        let again = Settings::load(&Flags {
            data_dir: dir.path().into(),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(again.url, s.url);
        assert_eq!(again.listen, s.listen);
    }

    #[test]
    fn bad_files_name_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "url = \"https://x:1\"\nlisen = \"1\"\n").unwrap();
        let e = Settings::load(&Flags {
            data_dir: dir.path().into(),
            ..Flags::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("collector.toml:2") && e.contains("lisen"), "{e}");
        std::fs::write(dir.path().join(CONFIG_FILE), "url = \"http://x:1\"\n").unwrap();
        let e = Settings::load(&Flags {
            data_dir: dir.path().into(),
            ..Flags::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("key `url`") && e.contains("https://"), "{e}");
        std::fs::write(dir.path().join(CONFIG_FILE), "history_retention_days = 7\n").unwrap();
        let e = Settings::load(&Flags {
            data_dir: dir.path().into(),
            ..Flags::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("key `history_retention_days`") && e.contains("30 to 3650"), "{e}");
        std::fs::write(dir.path().join(CONFIG_FILE), "backup_max_age_days = 0\n").unwrap();
        let e = Settings::load(&Flags {
            data_dir: dir.path().into(),
            ..Flags::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("key `backup_max_age_days`") && e.contains("1 to 366"), "{e}");
    }

    #[test]
    fn reads_url_hosts() {
        assert_eq!(url_host("https://collector.example:8443/x").as_deref(), Some("collector.example"));
        assert_eq!(url_host("https://[::1]:8443").as_deref(), Some("::1"));
        assert_eq!(url_host("https://10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(url_host("http://x"), None);
    }
}
