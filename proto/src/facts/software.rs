//! What is installed and how it is kept up to date: packages, pending
//! updates, package sources, notable software (browsers, VPN clients, backup
//! and security agents) and membership of a central directory.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Packages {
    /// `dpkg` or `rpm`; `None` when neither database is found.
    pub manager: Option<String>,
    pub count: u32,
    /// SHA-256 over the sorted `name version arch` lines: changes when anything is installed or removed.
    pub digest: Option<String>,
    /// Installed packages, sorted by name. Reported for the inventory; not visible to policies.
    pub installed: Vec<Package>,
    /// When a package was last installed or upgraded (dpkg log, apt history or rpm install times).
    pub last_update: Option<Timestamp>,
    /// When the package lists were last refreshed; pending counts are only as fresh as this.
    pub lists_updated: Option<Timestamp>,
    /// Installed packages with a newer version in the local package lists.
    pub pending_updates: Option<u32>,
    /// Of those, the ones whose newer version comes from a security suite.
    pub pending_security: Option<u32>,
    /// Names of the packages with pending security updates (at most 50).
    pub pending_security_packages: Vec<String>,
    /// Updates install by themselves (unattended-upgrades, dnf-automatic).
    pub auto_updates: Option<bool>,
    /// The system asks for a reboot to finish an update.
    pub reboot_required: Option<bool>,
    /// Configured package repositories.
    pub repositories: Vec<Repository>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Repository {
    pub uri: String,
    /// Host name of the URI, lower case (empty for `file:` and `cdrom:` sources).
    pub host: String,
    /// Suite or release (`bookworm-security`), where the format has one.
    pub suite: Option<String>,
    pub enabled: bool,
    pub file: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Software {
    pub browsers: Vec<SoftwareItem>,
    pub mail_clients: Vec<SoftwareItem>,
    pub vpn_clients: Vec<SoftwareItem>,
    pub remote_access: Vec<SoftwareItem>,
    pub backup_agents: Vec<SoftwareItem>,
    /// EDR, HIDS and application-control agents.
    pub security_agents: Vec<SoftwareItem>,
    /// Browser policies that restrict extensions, per browser family.
    pub browser_policies: Vec<BrowserPolicy>,
}

/// A product of the software table, found on this machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SoftwareItem {
    /// Identifier from the software table (`firefox`, `wazuh-agent`, `openvpn`).
    pub id: String,
    pub name: String,
    /// For browsers: `chromium` or `firefox`, the policy format it reads.
    pub family: Option<String>,
    pub version: Option<String>,
    /// One of its processes runs; `None` for software with no resident process.
    pub running: Option<bool>,
    /// It reports to a central manager (known for some agents only).
    pub managed: Option<bool>,
    /// The manager it reports to.
    pub manager: Option<String>,
    /// Its last contact with the manager, where the agent records it.
    pub last_contact: Option<Timestamp>,
    /// How it was found: `package`, `path` or `process`.
    pub source: String,
    pub details: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserPolicy {
    /// `chromium` (Chrome, Chromium, Edge, Cốc Cốc) or `firefox`.
    pub family: String,
    pub files: Vec<String>,
    /// Extensions allowed by the policy.
    pub extension_allowlist: Vec<String>,
    /// Every extension not allowed is blocked (`ExtensionInstallBlocklist: ["*"]`, Firefox `"*": blocked`).
    pub blocks_other_extensions: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Directory {
    /// The machine is joined to a central account directory.
    pub joined: bool,
    /// `sssd`, `winbind`, `ldap` or `ad` (Windows).
    pub kind: Option<String>,
    pub domains: Vec<String>,
    pub sources: Vec<String>,
}
