//! What the machine records about itself and how it keeps time: the audit
//! subsystem, the system logs and where they go, and clock synchronisation.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// The audit daemon is installed (`auditd` binary or `/etc/audit`).
    pub installed: bool,
    pub running: bool,
    /// `audit=1` on the kernel command line: processes started before the daemon are audited too.
    pub boot_enabled: Option<bool>,
    /// Rules as the rule files give them (`rules.d/*.rules`, else `audit.rules`), comments dropped.
    pub rules: Vec<String>,
    /// A rule audits program execution (`-S execve`).
    pub execve: bool,
    /// Paths watched for writes or attribute changes (`-w PATH` and `-F path=`/`-F dir=`).
    pub watches: Vec<String>,
    /// A rule audits log-ins (a watch on `/var/log/lastlog`, `faillog` or `tallylog`, or `-S` of the login records).
    pub logins: bool,
    /// The rules end with `-e 2`: they cannot change until reboot.
    pub immutable: bool,
    /// `auditd.conf`: size of one log file (MB), files kept, and actions when space runs low or out.
    pub max_log_file_mb: Option<u64>,
    pub num_logs: Option<u32>,
    pub max_log_file_action: Option<String>,
    pub space_left_action: Option<String>,
    pub admin_space_left_action: Option<String>,
    pub disk_full_action: Option<String>,
    /// File-integrity checking is installed and scheduled (AIDE with a cron job or timer).
    pub file_integrity: Option<String>,
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Logging {
    pub journald: Journald,
    pub syslog: Syslog,
    /// Rotation of text logs from `logrotate.conf` (global defaults).
    pub rotation: Rotation,
    /// Log shippers found (filebeat, vector, fluent-bit, nxlog, wazuh-agent, …).
    pub forwarders: Vec<Forwarder>,
    /// How many days of logs the machine keeps, the longest of journald and rotated text logs.
    pub local_retention_days: Option<u64>,
    /// Logs leave the machine: a syslog forwarding rule or a running shipper.
    pub forwarding: bool,
    /// Every syslog forwarding rule is encrypted, or a shipper does the forwarding.
    pub forwarding_encrypted: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Journald {
    pub installed: bool,
    pub running: bool,
    /// `Storage=` as configured (`auto` by default).
    pub storage: Option<String>,
    /// The journal survives a reboot (`persistent`, or `auto` with `/var/log/journal` present).
    pub persistent: Option<bool>,
    /// `MaxRetentionSec=`, seconds; `None` when unset (kept until the size limit).
    pub max_retention_seconds: Option<u64>,
    /// `SystemMaxUse=` as written.
    pub system_max_use: Option<String>,
    pub forward_to_syslog: Option<bool>,
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Syslog {
    /// `rsyslog` or `syslog-ng`; `None` when neither is installed.
    pub daemon: Option<String>,
    pub running: bool,
    /// Where it forwards to.
    pub targets: Vec<LogTarget>,
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogTarget {
    pub host: String,
    pub port: Option<u16>,
    /// `udp`, `tcp` or `relp`.
    pub protocol: String,
    /// The connection is encrypted (TLS stream driver, `@@(o)` with gtls, RELP over TLS).
    pub tls: bool,
    pub file: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rotation {
    /// `daily`, `weekly`, `monthly` or `yearly`.
    pub period: Option<String>,
    pub rotate: Option<u32>,
    /// Days a rotated log survives: the period times `rotate`.
    pub retention_days: Option<u64>,
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Forwarder {
    pub id: String,
    pub name: String,
    pub running: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeSync {
    /// Clients found: `chrony`, `systemd-timesyncd`, `ntpd`, `openntpd`.
    pub daemons: Vec<TimeDaemon>,
    /// A client is running.
    pub running: bool,
    /// The kernel considers the clock synchronised (`adjtimex`, no `STA_UNSYNC`); `None` when not asked.
    pub synchronized: Option<bool>,
    /// The kernel's estimate of the clock error, milliseconds.
    pub max_error_ms: Option<u64>,
    /// Servers and pools of the running client (or of every client when none runs).
    pub servers: Vec<String>,
    /// The last successful synchronisation, where the client records it.
    pub last_sync: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeDaemon {
    pub name: String,
    pub running: bool,
    pub servers: Vec<String>,
    pub config: Option<String>,
}
