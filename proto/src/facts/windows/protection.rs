//! Windows Security Center, Microsoft Defender and the firewall's profiles.
//!
//! The platform-neutral `antivirus.products` and `firewall` sections carry the
//! verdicts policies share with Linux and macOS; this keeps what Windows alone
//! reports, so that a Windows check can say why (Defender passive, a profile
//! enabled locally but switched off by Group Policy, signatures Security
//! Center calls out of date). Unknown values are `None`, as everywhere.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Protection {
    /// `root\SecurityCenter2` exists: `Some(false)` on Windows Server, which has
    /// no Security Center; `None` when it could not be queried.
    pub security_center_present: Option<bool>,
    /// Anti-virus products registered with Security Center (empty without it).
    pub security_center: Vec<WscProduct>,
    /// Microsoft Defender Antivirus as `MSFT_MpComputerStatus` reports it;
    /// `None` when it is not installed or could not be read.
    pub defender: Option<Defender>,
    /// Domain, private and public profiles, always in that order when read.
    pub firewall_profiles: Vec<FirewallProfile>,
    /// Profiles that connected networks are in (`domain`, `private`, `public`);
    /// `None` when the connection profiles could not be read.
    pub active_profiles: Option<Vec<String>>,
    /// The firewall service (`mpssvc`) runs; without it no profile filters.
    pub firewall_service_running: Option<bool>,
}

/// One `AntiVirusProduct` registration of Security Center.
///
/// Microsoft does not document `productState`; `state`, `signatures_up_to_date`
/// and `microsoft` come from the bit layout that independent decoders agree on
/// (state nibble `0xF000`, owner nibble `0x0F00`, signature nibble `0x00F0`), so
/// `product_state` is kept for anyone who needs to read it again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WscProduct {
    pub name: String,
    pub instance_guid: Option<String>,
    pub product_state: Option<u32>,
    /// `on`, `off`, `snoozed` or `expired`.
    pub state: Option<String>,
    pub signatures_up_to_date: Option<bool>,
    /// Registered by Windows itself (Defender), not a third party.
    pub microsoft: Option<bool>,
    pub product_exe: Option<String>,
    pub reporting_exe: Option<String>,
    /// When the product last reported its state to Security Center.
    pub timestamp: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Defender {
    /// `AMServiceEnabled`: the anti-malware service runs.
    pub service_enabled: Option<bool>,
    /// `normal`, `passive`, `sxs_passive`, `edr_block` or `not_running` (from `AMRunningMode`).
    pub running_mode: Option<String>,
    /// `AMRunningMode` as printed, since Microsoft adds modes.
    pub running_mode_raw: Option<String>,
    pub antivirus_enabled: Option<bool>,
    pub realtime_enabled: Option<bool>,
    /// `Get-MpPreference` `DisableRealtimeMonitoring`.
    pub realtime_disabled_by_preference: Option<bool>,
    /// Policy `ForceDefenderPassiveMode` (servers onboarded to Defender for Endpoint).
    pub passive_mode_forced: Option<bool>,
    pub tamper_protected: Option<bool>,
    /// Defender blocks malware: service on, anti-virus on, in normal mode
    /// (passive and EDR block mode do not scan files on access).
    pub protecting: Option<bool>,
    pub product_version: Option<String>,
    pub engine_version: Option<String>,
    pub signature_version: Option<String>,
    pub signature_updated: Option<Timestamp>,
    /// `AntivirusSignatureAge` as reported at collection time (days).
    pub signature_age_days: Option<u32>,
    pub quick_scan_end: Option<Timestamp>,
    pub full_scan_end: Option<Timestamp>,
    /// Days since the last quick scan at collection time; `None` when never.
    pub quick_scan_age_days: Option<u32>,
    pub full_scan_age_days: Option<u32>,
}

/// One firewall profile in its effective state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirewallProfile {
    /// `domain`, `private` or `public`.
    pub name: String,
    pub enabled: Option<bool>,
    /// `block` or `allow`.
    pub default_inbound: Option<String>,
    pub default_outbound: Option<String>,
    /// Where `enabled` came from: `active` (the effective store, Group Policy
    /// already applied), else `gpo` (policy registry), else `local`.
    pub source: Option<String>,
    /// Where `default_inbound` came from, same values as `source`.
    pub default_inbound_source: Option<String>,
    /// Group Policy's `EnableFirewall`, `None` when not configured; kept to
    /// show a policy that has not reached the effective state yet.
    pub gpo_enabled: Option<bool>,
    pub gpo_default_inbound: Option<String>,
    pub log_allowed: Option<bool>,
    pub log_blocked: Option<bool>,
    pub log_file: Option<String>,
    /// A connected network is in this profile.
    pub connected: Option<bool>,
}
