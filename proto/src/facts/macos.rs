//! What only macOS has, beside the platform-neutral sections a macOS agent
//! also fills (XProtect as an anti-malware product, the application
//! firewall, FileVault as disk encryption). Policies read it as
//! `facts.macos.…`; it is `None` on other platforms.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Macos {
    /// Gatekeeper assesses apps before they first run (`spctl --status`).
    pub gatekeeper_enabled: Option<bool>,
    /// System Integrity Protection as `csrutil status` reports it: `enabled`,
    /// `disabled` or `custom` (some of its protections turned off).
    pub sip: Option<String>,
    /// System Integrity Protection is fully on; a custom configuration is not.
    pub sip_enabled: Option<bool>,
    /// FileVault as `fdesetup status` reports it: `on`, `off`, `encrypting`,
    /// `decrypting` or `deferred` (to be turned on at the next login).
    pub filevault: Option<String>,
    pub firewall: ApplicationFirewall,
    /// XProtect's signature set (its bundle's version; the highest of the
    /// bundles present since macOS 15 keeps a second copy).
    pub xprotect_version: Option<String>,
    /// When that version was installed, from the install history.
    pub xprotect_installed_at: Option<Timestamp>,
    /// Software Update installs security data (XProtect, Gatekeeper) by itself.
    pub security_data_auto_install: Option<bool>,
    /// `ProductVersion` of `sw_vers`, e.g. `14.4.1`.
    pub os_version: Option<String>,
    /// `BuildVersion` of `sw_vers`, e.g. `23E224`.
    pub os_build: Option<String>,
}

/// The application firewall (`socketfilterfw`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApplicationFirewall {
    pub enabled: Option<bool>,
    /// Incoming connections are blocked except those the system needs (DHCP, Bonjour, IPsec).
    pub block_all: Option<bool>,
    /// The Mac does not answer probes such as ping or closed-port connections.
    pub stealth: Option<bool>,
}
