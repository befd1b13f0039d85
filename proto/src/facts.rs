//! The endpoint fact model: what an agent observed on one machine at one time.
//!
//! This is the single model shared by the agent (which fills it), the policy
//! evaluator (which reads it through CEL as `facts.…`) and the collector
//! (which stores and re-evaluates it). Field names are part of the policy
//! language: renaming one breaks policies, so add rather than rename.
//!
//! Conventions:
//! - a value the probe could not read is `None` (JSON `null`), never a guessed
//!   `false`; the reason goes to [`Facts::errors`] under the fact path it left
//!   empty (`"antivirus.products"`, `"firewall"`, …);
//! - times are [`Timestamp`]s; ages are not stored, because they change while
//!   the facts do not: policies compute them with `age_days(…)`;
//! - every section has a default, so that facts from an older agent still load.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod access;
mod logs;
pub mod macos;
mod software;
mod system;
pub mod windows;

pub use access::{Account, Accounts, Desktop, Lockout, Mfa, PasswordPolicy, Session, Ssh, SshMatch};
pub use logs::{Audit, Forwarder, Journald, LogTarget, Logging, Rotation, Syslog, TimeDaemon, TimeSync};
pub use software::{BrowserPolicy, Directory, Package, Packages, Repository, Software, SoftwareItem};
pub use system::{Disk, DiskEncryption, Hardening, Hardware, Mac, UsbDevice, UsbStorage, Volume};
pub use windows::Windows;

/// Version of this model; bumped when a field changes meaning.
pub const FACTS_SCHEMA: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Facts {
    pub schema: u32,
    pub collected_at: Timestamp,
    pub platform: Platform,
    pub host: Host,
    pub network: Network,
    pub antivirus: Antivirus,
    pub firewall: Firewall,
    pub accounts: Accounts,
    pub password_policy: PasswordPolicy,
    pub lockout: Lockout,
    pub mfa: Mfa,
    pub session: Session,
    pub desktop: Desktop,
    pub ssh: Ssh,
    pub audit: Audit,
    pub logging: Logging,
    pub time_sync: TimeSync,
    pub packages: Packages,
    pub software: Software,
    pub directory: Directory,
    pub hardware: Hardware,
    pub disk_encryption: DiskEncryption,
    pub usb_storage: UsbStorage,
    pub hardening: Hardening,
    /// Windows only (`None`, and absent from the JSON, elsewhere: a collector
    /// older than this field still reads a Linux agent's facts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<windows::Windows>,
    /// macOS only (`None`, and absent from the JSON, elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macos: Option<macos::Macos>,
    /// Probes that could not read what they were after; collection went on.
    pub errors: Vec<ProbeError>,
}

impl Facts {
    /// Records a probe failure against the fact path it could not fill.
    pub fn error(&mut self, probe: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ProbeError {
            probe: probe.into(),
            message: message.into(),
        });
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    #[default]
    Linux,
    Windows,
    Macos,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Linux, Platform::Windows, Platform::Macos];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Windows => "windows",
            Platform::Macos => "macos",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The platform this binary was built for.
    pub fn current() -> Self {
        if cfg!(windows) {
            Platform::Windows
        } else if cfg!(target_os = "macos") {
            Platform::Macos
        } else {
            Platform::Linux
        }
    }
}

/// What a machine is for; requirements apply per role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Workstation,
    Server,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Workstation, Role::Server];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Workstation => "workstation",
            Role::Server => "server",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Host {
    pub hostname: String,
    pub machine_id: Option<String>,
    pub os: Os,
    pub kernel: Option<String>,
    pub arch: String,
    pub boot_time: Option<Timestamp>,
    pub uptime_seconds: Option<u64>,
    pub role: Role,
    /// `config` when the operator set the role, `detected` otherwise.
    pub role_source: String,
    /// Set by the operator: the machine handles State secrets (the PX requirements apply).
    pub state_secrets: bool,
    /// Set by the operator: the machine is used from outside the agency's network.
    pub remote: bool,
    /// Set by the operator: the machine administers other systems.
    pub admin: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Os {
    /// `ID` of os-release (`debian`, `ubuntu`, `rhel`), or `windows`, `macos`.
    pub id: Option<String>,
    pub id_like: Vec<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    pub interfaces: Vec<Interface>,
    pub default_routes: Vec<Route>,
    pub dns: Dns,
    pub listening: Vec<Listener>,
    /// The outbound connection test, when the configuration names a target.
    pub egress: Option<Egress>,
}

/// An outbound TCP connection attempt to a target outside the agency, to show
/// whether this machine reaches the Internet directly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Egress {
    /// `host:port` as configured.
    pub target: String,
    /// The connection was established.
    pub reachable: bool,
    /// Why it was not: `refused`, `timeout`, `unreachable`, `no route`, …
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    #[default]
    Ipv4,
    Ipv6,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Interface {
    pub name: String,
    /// Lower-case colon-separated hardware address; `None` for interfaces without one.
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Kernel operational state (`up`, `down`, `unknown`, …).
    pub oper_state: Option<String>,
    /// `loopback`, `ethernet`, `wireless`, `wwan`, `bridge`, `tunnel`, `virtual` or `other`.
    pub kind: String,
    pub addresses: Vec<Address>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Address {
    pub family: IpFamily,
    pub address: String,
    pub prefix: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    pub family: IpFamily,
    /// `None` for an on-link default route (point-to-point, VPN).
    pub gateway: Option<String>,
    pub interface: Option<String>,
    pub metric: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dns {
    /// The resolvers the system resolver library uses (resolv.conf `nameserver`).
    pub resolvers: Vec<String>,
    /// The resolvers behind a local stub (systemd-resolved), when there is one.
    pub upstream_resolvers: Vec<String>,
    pub search: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listener {
    pub protocol: Protocol,
    pub family: IpFamily,
    pub address: String,
    pub port: u16,
    pub pid: Option<u32>,
    pub process: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Antivirus {
    pub products: Vec<AvProduct>,
}

/// One anti-malware product as the agent found it. Unknown values stay `None`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AvProduct {
    /// Stable identifier from the product table (`clamav`, `mdatp`, …).
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub installed: bool,
    /// The product's scanning service is running.
    pub running: bool,
    /// The service answered a status request (clamd PING, vendor CLI).
    pub reachable: Option<bool>,
    /// Real-time (on-access) protection is on.
    pub realtime: Option<bool>,
    /// Paths real-time protection covers, where the product says (ClamAV `OnAccessIncludePath`).
    pub realtime_paths: Vec<String>,
    pub product_version: Option<String>,
    pub engine_version: Option<String>,
    pub signature_version: Option<String>,
    /// When the newest signature set was built by the vendor.
    pub signature_time: Option<Timestamp>,
    /// An automatic signature updater is configured and running.
    pub auto_update: Option<bool>,
    /// `normal`, `passive`, `edr_block`, … as the product reports it.
    pub mode: Option<String>,
    /// Managed by a central console.
    pub managed: Option<bool>,
    pub last_scan: Option<Timestamp>,
    /// Where the facts came from: `clamd`, `cli`, `process`, `wsc`, `wmi`, `registry`, `file`.
    pub source: String,
    /// Product-specific evidence (configuration file, socket, database directory, …).
    pub details: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Firewall {
    /// At least one backend is active.
    pub enabled: bool,
    /// Inbound traffic not explicitly allowed is dropped or rejected by an active backend.
    pub inbound_default_deny: bool,
    pub backends: Vec<FirewallBackend>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirewallBackend {
    /// `nftables`, `iptables-legacy`, `ufw`, `firewalld`.
    pub name: String,
    /// Its tools or configuration are installed.
    pub present: bool,
    /// It currently filters traffic.
    pub active: bool,
    /// Default verdict for inbound traffic: `accept`, `drop` or `reject`.
    pub input_policy: Option<String>,
    pub rules: Option<u32>,
    pub inbound_default_deny: Option<bool>,
    pub details: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeError {
    /// The fact path the probe could not fill, e.g. `antivirus.products`.
    pub probe: String,
    pub message: String,
}
