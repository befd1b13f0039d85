//! Windows protection facts from the snapshot's `protection` section:
//! Security Center, Microsoft Defender, products found by service or
//! Uninstall entry (Server has no Security Center), and the firewall.
//!
//! Windows PowerShell prints enums as numbers and newer versions as names,
//! booleans sometimes as `1`/`"True"`, one-element lists as a bare object:
//! every raw value is read leniently, and a value that fits none of the known
//! forms is unknown (`None`), never a default.

use super::super::Errors;
use khien_proto::facts::windows::{Defender, FirewallProfile, Protection, WscProduct};
use khien_proto::facts::{AvProduct, Firewall, FirewallBackend};
use khien_proto::{Facts, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

const AV: &str = "antivirus.products";
const FW: &str = "firewall";

/// The `protection` section as `ps/protection.ps1` prints it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Value")]
pub struct Raw {
    pub security_center: Part<SecurityCenterRaw>,
    pub defender: Part<DefenderRaw>,
    pub products: Part<ProductsRaw>,
    pub firewall: Part<FirewallRaw>,
    /// The script failed as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the section is not the object the script prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<String>,
}

/// A section that is not even an object must not make the whole snapshot
/// unreadable: the other sections still hold facts.
impl From<Value> for Raw {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Raw::default(),
            Value::Object(mut o) => Raw {
                security_center: Part::from_value(o.remove("security_center")),
                defender: Part::from_value(o.remove("defender")),
                products: Part::from_value(o.remove("products")),
                firewall: Part::from_value(o.remove("firewall")),
                error: o.remove("error").as_ref().and_then(text),
                malformed: None,
            },
            other => Raw {
                malformed: Some(format!("expected an object, got {}", kind(&other))),
                ..Raw::default()
            },
        }
    }
}

/// One query group of the section: absent, read, or present in a shape the
/// decoder does not understand (kept apart so that the rest still decodes).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Part<T> {
    #[default]
    Missing,
    Read(T),
    Malformed(String),
}

impl<T: DeserializeOwned> Part<T> {
    fn from_value(value: Option<Value>) -> Self {
        match value {
            None | Some(Value::Null) => Part::Missing,
            Some(v) => match serde_json::from_value(v) {
                Ok(t) => Part::Read(t),
                Err(e) => Part::Malformed(e.to_string()),
            },
        }
    }
}

impl<T: Serialize> Serialize for Part<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Part::Missing => s.serialize_none(),
            Part::Read(t) => t.serialize(s),
            Part::Malformed(m) => BTreeMap::from([("malformed", m)]).serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Part<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Part::from_value(Some(Value::deserialize(d)?)))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityCenterRaw {
    #[serde(deserialize_with = "list")]
    pub products: Vec<WscRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub error: Option<String>,
}

/// `root\SecurityCenter2` `AntiVirusProduct`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WscRaw {
    #[serde(deserialize_with = "lenient_text")]
    pub display_name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub instance_guid: Option<String>,
    #[serde(deserialize_with = "lenient_number")]
    pub product_state: Option<u64>,
    #[serde(deserialize_with = "lenient_text")]
    pub path_to_signed_product_exe: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub path_to_signed_reporting_exe: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub timestamp: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefenderRaw {
    pub status: Option<MpStatusRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub error: Option<String>,
    pub preference: Option<MpPreferenceRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub preference_error: Option<String>,
    /// `HKLM\SOFTWARE\Policies\Microsoft\Windows Advanced Threat Protection`, `null` when the key is absent.
    pub policy: Option<AtpPolicyRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub policy_error: Option<String>,
}

/// `MSFT_MpComputerStatus`; older platforms lack some properties.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MpStatusRaw {
    #[serde(rename = "AMServiceEnabled", deserialize_with = "lenient_bool")]
    pub am_service_enabled: Option<bool>,
    #[serde(rename = "AMRunningMode", deserialize_with = "lenient_text")]
    pub am_running_mode: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub antivirus_enabled: Option<bool>,
    #[serde(deserialize_with = "lenient_bool")]
    pub real_time_protection_enabled: Option<bool>,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_tamper_protected: Option<bool>,
    #[serde(deserialize_with = "lenient_text")]
    pub antivirus_signature_version: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub antivirus_signature_last_updated: Option<String>,
    #[serde(deserialize_with = "lenient_number")]
    pub antivirus_signature_age: Option<u64>,
    #[serde(rename = "AMEngineVersion", deserialize_with = "lenient_text")]
    pub am_engine_version: Option<String>,
    #[serde(rename = "AMProductVersion", deserialize_with = "lenient_text")]
    pub am_product_version: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub quick_scan_end_time: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub full_scan_end_time: Option<String>,
    #[serde(deserialize_with = "lenient_number")]
    pub quick_scan_age: Option<u64>,
    #[serde(deserialize_with = "lenient_number")]
    pub full_scan_age: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MpPreferenceRaw {
    #[serde(deserialize_with = "lenient_bool")]
    pub disable_realtime_monitoring: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AtpPolicyRaw {
    #[serde(deserialize_with = "lenient_number")]
    pub force_defender_passive_mode: Option<u64>,
}

/// Products recognised by service or Uninstall entry (the script's table).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductsRaw {
    #[serde(deserialize_with = "list")]
    pub products: Vec<FoundRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FoundRaw {
    pub id: String,
    pub name: String,
    pub vendor: String,
    /// Uninstall `DisplayName` patterns (`-like` wildcards), also used to
    /// recognise the product's Security Center registration.
    #[serde(deserialize_with = "list")]
    pub patterns: Vec<String>,
    #[serde(deserialize_with = "list")]
    pub services: Vec<ServiceRaw>,
    #[serde(deserialize_with = "list")]
    pub uninstall: Vec<UninstallRaw>,
}

/// `Win32_Service` (or `Get-Service`, whose status is a number in 5.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceRaw {
    #[serde(deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub display_name: Option<String>,
    pub state: Option<Value>,
    pub start_mode: Option<Value>,
    #[serde(deserialize_with = "lenient_text")]
    pub path_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UninstallRaw {
    #[serde(deserialize_with = "lenient_text")]
    pub display_name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub display_version: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub publisher: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallRaw {
    /// `Get-NetFirewallProfile -PolicyStore ActiveStore`.
    #[serde(deserialize_with = "list")]
    pub profiles: Vec<ProfileRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub profiles_error: Option<String>,
    /// Group Policy registry keys, one per configured profile.
    #[serde(deserialize_with = "list")]
    pub policy: Vec<RegProfileRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub policy_error: Option<String>,
    /// Local registry keys (`SharedAccess\Parameters\FirewallPolicy`).
    #[serde(deserialize_with = "list")]
    pub local: Vec<RegProfileRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub local_error: Option<String>,
    /// `Get-NetConnectionProfile`: the connected networks.
    #[serde(deserialize_with = "list")]
    pub connections: Vec<ConnectionRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub connections_error: Option<String>,
    /// The `mpssvc` service.
    pub service: Option<ServiceRaw>,
    #[serde(deserialize_with = "lenient_text")]
    pub service_error: Option<String>,
}

/// `MSFT_NetFirewallProfile`: `Enabled`, `LogAllowed`, `LogBlocked` are
/// GpoBoolean (0 False, 1 True, 2 NotConfigured); actions are 0 NotConfigured,
/// 2 Allow, 4 Block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ProfileRaw {
    #[serde(deserialize_with = "lenient_text")]
    pub name: Option<String>,
    pub enabled: Option<Value>,
    pub default_inbound_action: Option<Value>,
    pub default_outbound_action: Option<Value>,
    pub log_allowed: Option<Value>,
    pub log_blocked: Option<Value>,
    #[serde(deserialize_with = "lenient_text")]
    pub log_file_name: Option<String>,
}

/// A profile's registry key: DWORDs where, unlike the CIM enum, an action
/// is 0 Allow, 1 Block; a value the key lacks is not configured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RegProfileRaw {
    #[serde(deserialize_with = "lenient_text")]
    pub profile: Option<String>,
    #[serde(deserialize_with = "lenient_number")]
    pub enable_firewall: Option<u64>,
    #[serde(deserialize_with = "lenient_number")]
    pub default_inbound_action: Option<u64>,
    #[serde(deserialize_with = "lenient_number")]
    pub default_outbound_action: Option<u64>,
}

/// `MSFT_NetConnectionProfile`; `NetworkCategory` is 0 Public, 1 Private, 2 DomainAuthenticated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ConnectionRaw {
    #[serde(deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub interface_alias: Option<String>,
    pub network_category: Option<Value>,
    #[serde(rename = "IPv4Connectivity")]
    pub ipv4_connectivity: Option<Value>,
    #[serde(rename = "IPv6Connectivity")]
    pub ipv6_connectivity: Option<Value>,
}

pub fn apply(raw: &Raw, _now: Timestamp, facts: &mut Facts, errors: &mut Errors) {
    let failure = if let Some(m) = &raw.malformed {
        Some(format!("protection section: {m}"))
    } else if let Some(e) = &raw.error {
        Some(format!("protection script failed: {e}"))
    } else if raw == &Raw::default() {
        Some("protection section missing from the snapshot".to_string())
    } else {
        None
    };
    if let Some(message) = failure {
        errors.push(AV, &message);
        errors.push(FW, &message);
        return;
    }
    let mut protection = Protection::default();
    let products = antivirus(raw, &mut protection, errors);
    facts.antivirus.products.extend(products);
    if let Some(firewall) = firewall(&raw.firewall, &mut protection, errors) {
        facts.firewall = firewall;
    }
    super::section(facts).protection = protection;
}

// ---------------------------------------------------------------------------
// Security Center productState

/// Security Center's scanner state, from the `0xF000` nibble of `productState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WscState {
    Off,
    On,
    Snoozed,
    Expired,
}

impl WscState {
    pub fn as_str(self) -> &'static str {
        match self {
            WscState::Off => "off",
            WscState::On => "on",
            WscState::Snoozed => "snoozed",
            WscState::Expired => "expired",
        }
    }
}

/// What `productState` says; each part is `None` for a value outside the known layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodedState {
    pub state: Option<WscState>,
    pub signatures_up_to_date: Option<bool>,
    pub microsoft: Option<bool>,
}

/// Decodes `productState` with the masks glpi-agent and the community scripts
/// agree on (probes.md 1.1). The byte-wise reading that calls `0x01` "snoozed"
/// and `0x11` "expired" contradicts the samples: Defender is 0x060100 when
/// another product is active and 0x061100 when on, so `0x0100` is the
/// Microsoft-owner bit, not part of the state.
pub fn decode_product_state(s: u32) -> DecodedState {
    let state = match (s >> 12) & 0xF {
        0 => Some(WscState::Off),
        1 => Some(WscState::On),
        2 => Some(WscState::Snoozed),
        3 => Some(WscState::Expired),
        _ => None,
    };
    let signatures_up_to_date = match (s >> 4) & 0xF {
        0 => Some(true),
        1 => Some(false),
        _ => None,
    };
    let microsoft = match (s >> 8) & 0xF {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    };
    DecodedState {
        state,
        signatures_up_to_date,
        microsoft,
    }
}

// ---------------------------------------------------------------------------
// Anti-malware

fn antivirus(raw: &Raw, protection: &mut Protection, errors: &mut Errors) -> Vec<AvProduct> {
    let mut wsc: Vec<WscProduct> = Vec::new();
    match &raw.security_center {
        Part::Read(sc) => match &sc.error {
            Some(e) if is_missing_namespace(e) => protection.security_center_present = Some(false),
            Some(e) => errors.push(AV, format!("Security Center: {e}")),
            None => {
                protection.security_center_present = Some(true);
                wsc = sc.products.iter().map(wsc_product).collect();
            }
        },
        Part::Missing => errors.push(AV, "Security Center: not in the snapshot"),
        Part::Malformed(m) => errors.push(AV, format!("Security Center: malformed output: {m}")),
    }
    let defender = match &raw.defender {
        Part::Read(d) => {
            if let Some(e) = &d.preference_error {
                errors.push(AV, format!("Defender preferences: {e}"));
            }
            if let Some(e) = &d.policy_error {
                errors.push(AV, format!("Defender for Endpoint policy: {e}"));
            }
            match (&d.status, &d.error) {
                (Some(status), _) => Some(defender_status(status, d)),
                // Defender removed (Server feature uninstalled): nothing to report, nothing failed.
                (None, Some(e)) if is_missing_namespace(e) || is_missing_class(e) => None,
                (None, Some(e)) => {
                    errors.push(AV, format!("Defender: {e}"));
                    None
                }
                (None, None) => {
                    errors.push(AV, "Defender: no status and no error");
                    None
                }
            }
        }
        Part::Missing => {
            errors.push(AV, "Defender: not in the snapshot");
            None
        }
        Part::Malformed(m) => {
            errors.push(AV, format!("Defender: malformed output: {m}"));
            None
        }
    };
    let found: &[FoundRaw] = match &raw.products {
        Part::Read(p) => {
            if let Some(e) = &p.error {
                errors.push(AV, format!("products by service: {e}"));
            }
            &p.products
        }
        Part::Missing => {
            errors.push(AV, "products by service: not in the snapshot");
            &[]
        }
        Part::Malformed(m) => {
            errors.push(AV, format!("products by service: malformed output: {m}"));
            &[]
        }
    };

    let mut products = Vec::new();
    let wsc_defender = wsc.iter().find(|w| is_defender(w));
    let third_party_on = wsc.iter().any(|w| !is_defender(w) && w.state.as_deref() == Some("on"));
    let mut defender = defender;
    if let Some(d) = defender.as_mut() {
        // Security Center is what Windows itself acts on: Defender off there
        // (another product registered) does not protect, whatever the status says.
        if let Some(w) = wsc_defender
            && w.state.is_some()
            && w.state.as_deref() != Some("on")
        {
            d.protecting = Some(false);
        }
    }
    if defender.is_some() || wsc_defender.is_some() {
        products.push(defender_product(defender.as_ref(), wsc_defender, third_party_on));
    }
    let mut merged = vec![false; found.len()];
    for w in wsc.iter().filter(|w| !is_defender(w)) {
        let i = found.iter().position(|f| f.patterns.iter().any(|p| like(&w.name, p)));
        if let Some(i) = i {
            merged[i] = true;
        }
        products.push(wsc_third_party(w, i.map(|i| &found[i])));
    }
    for (f, _) in found.iter().zip(&merged).filter(|(_, m)| !**m) {
        products.push(found_product(f));
    }
    protection.security_center = wsc;
    protection.defender = defender;
    products
}

fn wsc_product(w: &WscRaw) -> WscProduct {
    let state = w.product_state.and_then(|s| u32::try_from(s).ok());
    let decoded = state.map(decode_product_state);
    WscProduct {
        name: w.display_name.clone().unwrap_or_default(),
        instance_guid: w.instance_guid.clone(),
        product_state: state,
        state: decoded.and_then(|d| d.state).map(|s| s.as_str().to_string()),
        signatures_up_to_date: decoded.and_then(|d| d.signatures_up_to_date),
        microsoft: decoded.and_then(|d| d.microsoft),
        product_exe: w.path_to_signed_product_exe.clone(),
        reporting_exe: w.path_to_signed_reporting_exe.clone(),
        timestamp: w.timestamp.as_deref().and_then(parse_time),
    }
}

fn is_defender(w: &WscProduct) -> bool {
    let name = w.name.to_ascii_lowercase();
    w.product_exe
        .as_deref()
        .is_some_and(|p| p.to_ascii_lowercase().starts_with("windowsdefender:"))
        || ((name.contains("windows defender") || name.contains("microsoft defender")) && w.microsoft != Some(false))
}

/// The namespace or class does not exist: Security Center on Server, Defender
/// removed. The script prefixes the CIM code, which unlike the message is not
/// localised.
fn is_missing_namespace(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    e.contains("invalidnamespace") || e.contains("invalid namespace") || e.contains("0x8004100e")
}

fn is_missing_class(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    e.contains("invalidclass") || e.contains("invalid class") || e.contains("0x80041010")
}

/// `AMRunningMode` in the words of [`AvProduct::mode`].
pub fn running_mode(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    if lower.contains("sxs") {
        "sxs_passive".into()
    } else if lower.contains("passive") {
        "passive".into()
    } else if lower.contains("edr") {
        "edr_block".into()
    } else if lower.starts_with("normal") {
        "normal".into()
    } else if lower.starts_with("not running") {
        "not_running".into()
    } else {
        lower.split_whitespace().collect::<Vec<_>>().join("_")
    }
}

/// Ages Defender reports for "never" (`UInt32`/`UInt16` max).
fn age_days(v: Option<u64>) -> Option<u32> {
    v.filter(|d| *d < 65_535).and_then(|d| u32::try_from(d).ok())
}

fn defender_status(s: &MpStatusRaw, d: &DefenderRaw) -> Defender {
    let mode = s.am_running_mode.as_deref().map(running_mode);
    let pref_off = d.preference.as_ref().and_then(|p| p.disable_realtime_monitoring);
    // Older platforms have no AMRunningMode; they are in normal mode or Security Center says otherwise.
    let normal = mode.as_deref().is_none_or(|m| m == "normal");
    let protecting = match (s.am_service_enabled, s.antivirus_enabled) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        _ if !normal => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    Defender {
        service_enabled: s.am_service_enabled,
        running_mode: mode,
        running_mode_raw: s.am_running_mode.clone(),
        antivirus_enabled: s.antivirus_enabled,
        realtime_enabled: s.real_time_protection_enabled,
        realtime_disabled_by_preference: pref_off,
        passive_mode_forced: d.policy.as_ref().and_then(|p| p.force_defender_passive_mode).map(|v| v == 1),
        tamper_protected: s.is_tamper_protected,
        protecting,
        product_version: s.am_product_version.clone(),
        engine_version: s.am_engine_version.clone(),
        signature_version: s.antivirus_signature_version.clone(),
        signature_updated: s.antivirus_signature_last_updated.as_deref().and_then(parse_time),
        signature_age_days: age_days(s.antivirus_signature_age),
        quick_scan_end: s.quick_scan_end_time.as_deref().and_then(parse_time),
        full_scan_end: s.full_scan_end_time.as_deref().and_then(parse_time),
        quick_scan_age_days: age_days(s.quick_scan_age),
        full_scan_age_days: age_days(s.full_scan_age),
    }
}

fn defender_product(d: Option<&Defender>, wsc: Option<&WscProduct>, third_party_on: bool) -> AvProduct {
    let wsc_on = wsc.and_then(|w| w.state.as_deref()).map(|s| s == "on");
    let protecting = match d {
        Some(d) => d.protecting,
        None => wsc_on,
    };
    let realtime = match protecting {
        // Passive, EDR block and disabled Defender block nothing on access.
        Some(false) => Some(false),
        _ => match d {
            Some(d) if d.realtime_disabled_by_preference == Some(true) => Some(false),
            Some(d) if d.realtime_enabled.is_some() => d.realtime_enabled,
            // Defender's Security Center state follows its real-time switch.
            _ => wsc_on,
        },
    };
    let mut details = BTreeMap::new();
    if let Some(w) = wsc {
        wsc_details(&mut details, w);
    }
    if third_party_on {
        details.insert("third_party_registered".into(), "true".into());
    }
    if let Some(d) = d {
        flag(&mut details, "tamper_protected", d.tamper_protected);
        flag(&mut details, "passive_mode_forced", d.passive_mode_forced);
        if let Some(age) = d.signature_age_days {
            details.insert("signature_age_days".into(), age.to_string());
        }
    }
    AvProduct {
        id: "defender".into(),
        name: "Microsoft Defender Antivirus".into(),
        vendor: "Microsoft".into(),
        installed: true,
        running: protecting == Some(true),
        reachable: d.and_then(|d| d.service_enabled),
        realtime,
        product_version: d.and_then(|d| d.product_version.clone()),
        engine_version: d.and_then(|d| d.engine_version.clone()),
        signature_version: d.and_then(|d| d.signature_version.clone()),
        signature_time: d.and_then(|d| d.signature_updated),
        mode: d.and_then(|d| d.running_mode.clone()),
        last_scan: d.and_then(|d| d.quick_scan_end.max(d.full_scan_end)),
        source: if d.is_some() { "defender" } else { "wsc" }.into(),
        details,
        ..AvProduct::default()
    }
}

fn wsc_details(details: &mut BTreeMap<String, String>, w: &WscProduct) {
    if let Some(s) = &w.state {
        details.insert("wsc_state".into(), s.clone());
    }
    if let Some(u) = w.signatures_up_to_date {
        details.insert("wsc_signatures".into(), if u { "up_to_date" } else { "out_of_date" }.into());
    }
    if let Some(p) = &w.product_exe {
        details.insert("product_exe".into(), p.clone());
    }
}

/// A product registered with Security Center; running and real-time as
/// Security Center reports them (an expired product's scanning is unknown).
fn wsc_third_party(w: &WscProduct, found: Option<&FoundRaw>) -> AvProduct {
    let state = w.state.as_deref();
    let mut details = BTreeMap::new();
    wsc_details(&mut details, w);
    let mut product = AvProduct {
        id: found.map(|f| f.id.clone()).unwrap_or_else(|| format!("wsc-{}", slug(&w.name))),
        name: w.name.clone(),
        vendor: found.map(|f| f.vendor.clone()).unwrap_or_default(),
        installed: true,
        running: state == Some("on"),
        realtime: match state {
            Some("on") => Some(true),
            Some("off" | "snoozed") => Some(false),
            _ => None,
        },
        source: "wsc".into(),
        details,
        ..AvProduct::default()
    };
    if let Some(f) = found {
        found_details(&mut product, f);
    }
    product
}

fn found_product(f: &FoundRaw) -> AvProduct {
    let mut product = AvProduct {
        id: f.id.clone(),
        name: f.name.clone(),
        vendor: f.vendor.clone(),
        installed: true,
        running: f.services.iter().any(|s| service_running(s) == Some(true)),
        source: "service".into(),
        ..AvProduct::default()
    };
    found_details(&mut product, f);
    product
}

fn found_details(product: &mut AvProduct, f: &FoundRaw) {
    if let Some(u) = f.uninstall.iter().find(|u| u.display_version.is_some()) {
        product.product_version = u.display_version.clone();
    }
    if let Some(name) = f.uninstall.iter().find_map(|u| u.display_name.clone()) {
        product.details.insert("uninstall_name".into(), name);
    }
    let services: Vec<String> = f
        .services
        .iter()
        .filter_map(|s| {
            let name = s.name.as_deref()?;
            let state = match service_running(s) {
                Some(true) => "running",
                Some(false) => "stopped",
                None => "unknown",
            };
            Some(format!("{name}={state}"))
        })
        .collect();
    if !services.is_empty() {
        product.details.insert("services".into(), services.join(","));
    }
}

/// `Win32_Service.State` is text; `Get-Service` prints `Status` 4 for Running.
fn service_running(s: &ServiceRaw) -> Option<bool> {
    match s.state.as_ref()? {
        Value::Number(n) => n.as_u64().map(|n| n == 4),
        Value::String(t) => match t.trim().to_ascii_lowercase().as_str() {
            "running" => Some(true),
            "" | "unknown" => None,
            _ => Some(false),
        },
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Firewall

const PROFILES: [&str; 3] = ["domain", "private", "public"];

/// A profile name as the cmdlets and registry spell it; `StandardProfile` is private.
fn profile_name(raw: &str) -> Option<&'static str> {
    let lower = raw.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches("profile");
    match lower {
        "domain" | "domainauthenticated" => Some("domain"),
        "private" | "standard" => Some("private"),
        "public" => Some("public"),
        _ => None,
    }
}

/// `NET_FW_ACTION` as `MSFT_NetFirewallProfile` gives it: `None` for NotConfigured.
pub fn cim_action(v: &Value) -> Option<&'static str> {
    match v {
        Value::Number(n) => match n.as_u64()? {
            2 => Some("allow"),
            4 => Some("block"),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "allow" | "2" => Some("allow"),
            "block" | "4" => Some("block"),
            _ => None,
        },
        _ => None,
    }
}

/// A registry action DWORD: 0 allow, 1 block.
fn reg_action(v: u64) -> Option<&'static str> {
    match v {
        0 => Some("allow"),
        1 => Some("block"),
        _ => None,
    }
}

/// `NetworkCategory`: 0 Public, 1 Private, 2 DomainAuthenticated.
pub fn network_category(v: &Value) -> Option<&'static str> {
    match v {
        Value::Number(n) => match n.as_u64()? {
            0 => Some("public"),
            1 => Some("private"),
            2 => Some("domain"),
            _ => None,
        },
        Value::String(s) => match s.trim().parse::<u64>() {
            Ok(n) => network_category(&Value::from(n)),
            Err(_) => profile_name(s),
        },
        _ => None,
    }
}

fn firewall(part: &Part<FirewallRaw>, protection: &mut Protection, errors: &mut Errors) -> Option<Firewall> {
    let fw = match part {
        Part::Read(fw) => fw,
        Part::Missing => {
            errors.push(FW, "firewall: not in the snapshot");
            return None;
        }
        Part::Malformed(m) => {
            errors.push(FW, format!("firewall: malformed output: {m}"));
            return None;
        }
    };
    for (what, e) in [
        ("Get-NetFirewallProfile -PolicyStore ActiveStore", &fw.profiles_error),
        ("firewall Group Policy registry", &fw.policy_error),
        ("firewall local registry", &fw.local_error),
    ] {
        if let Some(e) = e {
            errors.push(FW, format!("{what}: {e}"));
        }
    }
    let by_name = |list: &[RegProfileRaw], name: &str| -> Option<RegProfileRaw> {
        list.iter()
            .find(|r| r.profile.as_deref().and_then(profile_name) == Some(name))
            .cloned()
    };
    let active_profiles: Option<Vec<String>> = match &fw.connections_error {
        Some(e) => {
            errors.push("windows.protection.active_profiles", format!("Get-NetConnectionProfile: {e}"));
            None
        }
        None => {
            let mut names: Vec<String> = Vec::new();
            for c in &fw.connections {
                match c.network_category.as_ref().and_then(network_category) {
                    Some(n) if !names.iter().any(|x| x == n) => names.push(n.to_string()),
                    Some(_) => {}
                    None => errors.push(
                        "windows.protection.active_profiles",
                        format!(
                            "network {:?}: unknown category {:?}",
                            c.name.as_deref().unwrap_or(""),
                            c.network_category
                        ),
                    ),
                }
            }
            names.sort_by_key(|n| PROFILES.iter().position(|p| p == n));
            Some(names)
        }
    };
    let service_running = match (&fw.service, &fw.service_error) {
        (Some(s), _) => service_running(s),
        (None, Some(e)) => {
            errors.push(FW, format!("firewall service: {e}"));
            None
        }
        // Every Windows has mpssvc; no record of it is a gap, not a stopped service.
        (None, None) => None,
    };

    let mut profiles = Vec::new();
    for name in PROFILES {
        let active = fw.profiles.iter().find(|p| p.name.as_deref().and_then(profile_name) == Some(name));
        let gpo = by_name(&fw.policy, name);
        let local = by_name(&fw.local, name);
        let active_enabled = active.and_then(|p| p.enabled.as_ref()).and_then(gpo_bool);
        let gpo_enabled = gpo.as_ref().and_then(|g| g.enable_firewall).and_then(dword_bool);
        let local_enabled = local.as_ref().and_then(|l| l.enable_firewall).and_then(dword_bool);
        let (enabled, source) = layered(active_enabled, gpo_enabled, local_enabled);
        let active_in = active.and_then(|p| p.default_inbound_action.as_ref()).and_then(cim_action);
        let gpo_in = gpo.as_ref().and_then(|g| g.default_inbound_action).and_then(reg_action);
        let local_in = local.as_ref().and_then(|l| l.default_inbound_action).and_then(reg_action);
        let (default_inbound, default_inbound_source) = layered(active_in, gpo_in, local_in);
        let active_out = active.and_then(|p| p.default_outbound_action.as_ref()).and_then(cim_action);
        let gpo_out = gpo.as_ref().and_then(|g| g.default_outbound_action).and_then(reg_action);
        let local_out = local.as_ref().and_then(|l| l.default_outbound_action).and_then(reg_action);
        let (default_outbound, _) = layered(active_out, gpo_out, local_out);
        profiles.push(FirewallProfile {
            name: name.to_string(),
            enabled,
            default_inbound: default_inbound.map(str::to_string),
            default_outbound: default_outbound.map(str::to_string),
            source: source.map(str::to_string),
            default_inbound_source: default_inbound_source.map(str::to_string),
            gpo_enabled,
            gpo_default_inbound: gpo_in.map(str::to_string),
            log_allowed: active.and_then(|p| p.log_allowed.as_ref()).and_then(gpo_bool),
            log_blocked: active.and_then(|p| p.log_blocked.as_ref()).and_then(gpo_bool),
            log_file: active.and_then(|p| p.log_file_name.clone()),
            connected: active_profiles.as_ref().map(|a| a.iter().any(|n| n == name)),
        });
    }
    let read_anything = !fw.profiles.is_empty() || !fw.policy.is_empty() || !fw.local.is_empty();

    // With no network connected, or connections unknown, every profile may
    // come into use: all must hold.
    let connected: Vec<&FirewallProfile> = profiles.iter().filter(|p| p.connected == Some(true)).collect();
    let in_use: Vec<&FirewallProfile> = if connected.is_empty() {
        profiles.iter().collect()
    } else {
        connected
    };
    let enabled = all(in_use.iter().map(|p| p.enabled));
    let inbound_block = all(in_use.iter().map(|p| p.default_inbound.as_deref().map(|a| a == "block")));
    let deny = all(in_use.iter().map(|p| match (p.enabled, p.default_inbound.as_deref()) {
        (Some(false), _) | (_, Some("allow")) => Some(false),
        (Some(true), Some("block")) => Some(true),
        _ => None,
    }));
    let unknown: Vec<&str> = in_use
        .iter()
        .filter(|p| p.enabled.is_none() || p.default_inbound.is_none())
        .map(|p| p.name.as_str())
        .collect();
    if read_anything && !unknown.is_empty() && enabled != Some(false) {
        errors.push(FW, format!("state of the {} profile(s) unknown", unknown.join(", ")));
    }
    if !read_anything && fw.profiles_error.is_none() && fw.policy_error.is_none() && fw.local_error.is_none() {
        errors.push(FW, "no firewall profile in the output");
    }
    let filtering = enabled == Some(true) && service_running != Some(false);

    let mut details = BTreeMap::new();
    for p in &profiles {
        flag(&mut details, &format!("{}.enabled", p.name), p.enabled);
        if let Some(a) = &p.default_inbound {
            details.insert(format!("{}.default_inbound", p.name), a.clone());
        }
        if let Some(s) = &p.source {
            details.insert(format!("{}.source", p.name), s.clone());
        }
    }
    details.insert(
        "profiles_in_use".into(),
        in_use.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(","),
    );
    flag(&mut details, "service_running", service_running);
    let backend = FirewallBackend {
        name: "windows-firewall".into(),
        present: read_anything || fw.service.is_some(),
        active: filtering,
        input_policy: inbound_block.map(|b| if b { "block" } else { "allow" }.to_string()),
        rules: None,
        inbound_default_deny: deny.map(|d| d && service_running != Some(false)),
        details,
    };
    let firewall = Firewall {
        enabled: filtering,
        inbound_default_deny: filtering && deny == Some(true),
        backends: vec![backend],
    };
    protection.firewall_profiles = profiles;
    protection.active_profiles = active_profiles;
    protection.firewall_service_running = service_running;
    Some(firewall)
}

/// The effective value and where it came from: the active store already
/// merges Group Policy over local settings; without it, policy wins.
fn layered<T>(active: Option<T>, gpo: Option<T>, local: Option<T>) -> (Option<T>, Option<&'static str>) {
    match (active, gpo, local) {
        (Some(v), _, _) => (Some(v), Some("active")),
        (None, Some(v), _) => (Some(v), Some("gpo")),
        (None, None, Some(v)) => (Some(v), Some("local")),
        (None, None, None) => (None, None),
    }
}

/// All true, any false, otherwise unknown.
fn all(values: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut result = Some(true);
    for v in values {
        match v {
            Some(false) => return Some(false),
            None => result = None,
            Some(true) => {}
        }
    }
    result
}

/// GpoBoolean: 0 False, 1 True, 2 NotConfigured (`None`), or the names.
pub fn gpo_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Number(n) => match n.as_u64()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        other => to_bool(other),
    }
}

fn dword_bool(v: u64) -> Option<bool> {
    match v {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

fn flag(details: &mut BTreeMap<String, String>, key: &str, value: Option<bool>) {
    if let Some(v) = value {
        details.insert(key.to_string(), v.to_string());
    }
}

// ---------------------------------------------------------------------------
// Lenient values

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Non-empty text; numbers as their digits (versions sometimes arrive as numbers).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `true`, `1`, `"True"`, `"1"`, `"Yes"`, `"Enabled"` and their opposites.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "enabled" => Some(true),
            "false" | "0" | "no" | "off" | "disabled" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn to_number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64)),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(&Value::deserialize(d)?))
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(to_bool(&Value::deserialize(d)?))
}

fn lenient_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(to_number(&Value::deserialize(d)?))
}

/// A list that PowerShell may print as one bare object, or `null` when empty.
fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let items = match Value::deserialize(d)? {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => vec![other],
    };
    items
        .into_iter()
        .filter(|v| !v.is_null())
        .map(|v| serde_json::from_value(v).map_err(serde::de::Error::custom))
        .collect()
}

/// PowerShell `-like` with `*` and `?`, case-insensitive.
fn like(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('?', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some((c, rest)) => t.first() == Some(c) && go(&t[1..], rest),
        }
    }
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    go(&t, &p)
}

fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A Windows time in any of the forms PowerShell and WMI print: RFC 3339 /
/// ISO 8601 (the script's own), `/Date(ms)/` (5.1's ConvertTo-Json),
/// CIM_DATETIME (`20240601094035.000000+000`, offset in minutes) and RFC 2822
/// (Security Center's `timestamp`). Years before 1980 are Windows' "never"
/// (FILETIME 0 is 1601).
pub fn parse_time(raw: &str) -> Option<Timestamp> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let t = if let Some(inner) = raw.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        let digits: String = inner
            .char_indices()
            .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        Timestamp::from_unix_millis(digits.parse().ok()?)?
    } else if raw.len() >= 21 && raw.as_bytes()[14] == b'.' && raw[..14].bytes().all(|b| b.is_ascii_digit()) {
        cim_datetime(raw)?
    } else if let Ok(t) = Timestamp::parse(raw) {
        t
    } else if let Ok(t) = Timestamp::parse(&format!("{raw}Z")) {
        // No offset: PowerShell's "o" format of an unspecified DateTime; the script prints UTC.
        t
    } else {
        let t = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc2822).ok()?;
        Timestamp::from(t)
    };
    (t.inner().year() >= 1980).then_some(t)
}

fn cim_datetime(raw: &str) -> Option<Timestamp> {
    let n = |r: std::ops::Range<usize>| raw.get(r)?.parse::<u32>().ok();
    let date = time::Date::from_calendar_date(
        i32::try_from(n(0..4)?).ok()?,
        time::Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?,
        u8::try_from(n(6..8)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(n(8..10)?).ok()?,
        u8::try_from(n(10..12)?).ok()?,
        u8::try_from(n(12..14)?).ok()?,
    )
    .ok()?;
    let sign = match raw.as_bytes().get(21)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let minutes: i64 = raw.get(22..)?.trim().parse().ok()?;
    let local = date.with_time(clock).assume_utc();
    Some(Timestamp::from(local - time::Duration::minutes(sign * minutes)))
}

#[cfg(test)]
mod tests {
    use super::super::{Snapshot, decode};
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-22T08:00:00Z").unwrap()
    }

    fn host_dir(host: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/hosts/windows").join(host)
    }

    fn host(name: &str) -> Facts {
        let snapshot = Snapshot::from_dir(&host_dir(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(snapshot.protection, Raw::default(), "{name}: protection.json did not load");
        decode(&snapshot, now())
    }

    fn raw_of(name: &str) -> Value {
        let text = std::fs::read_to_string(host_dir(name).join("protection.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Decodes only this section, from JSON.
    fn decode_raw(value: Value) -> (Facts, Vec<(String, String)>) {
        let raw: Raw = serde_json::from_value(value).unwrap();
        let mut facts = Facts::default();
        let mut errors = Errors::default();
        apply(&raw, now(), &mut facts, &mut errors);
        let errors = errors.0.into_iter().map(|e| (e.probe, e.message)).collect();
        (facts, errors)
    }

    fn product<'a>(facts: &'a Facts, id: &str) -> &'a AvProduct {
        facts
            .antivirus
            .products
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no product {id} in {:?}", facts.antivirus.products))
    }

    fn protection(facts: &Facts) -> &Protection {
        &facts.windows.as_ref().expect("windows section").protection
    }

    fn profile<'a>(facts: &'a Facts, name: &str) -> &'a FirewallProfile {
        protection(facts).firewall_profiles.iter().find(|p| p.name == name).unwrap()
    }

    fn my_errors(facts: &Facts) -> Vec<&str> {
        facts
            .errors
            .iter()
            .filter(|e| e.probe == AV || e.probe == FW || e.probe.starts_with("windows.protection"))
            .map(|e| e.message.as_str())
            .collect()
    }

    fn age(t: Option<Timestamp>) -> f64 {
        t.expect("a time").days_until(now())
    }

    #[test]
    fn product_state_decoding() {
        use WscState::*;
        // (productState, state, signatures up to date, Microsoft-owned)
        let table = [
            (397_568, Some(On), Some(true), Some(true)),   // 0x061100 Defender on
            (393_472, Some(Off), Some(true), Some(true)),  // 0x060100 Defender off, another AV active
            (397_584, Some(On), Some(false), Some(true)),  // 0x061110 Defender on, out of date
            (266_240, Some(On), Some(true), Some(false)),  // 0x041000 third party on
            (266_256, Some(On), Some(false), Some(false)), // 0x041010 third party on, out of date
            (397_312, Some(On), Some(true), Some(false)),  // 0x061000
            (262_144, Some(Off), Some(true), Some(false)), // 0x040000
            (393_216, Some(Off), Some(true), Some(false)), // 0x060000
            (0x042000, Some(Snoozed), Some(true), Some(false)),
            (0x043010, Some(Expired), Some(false), Some(false)),
            (0x04F000, None, Some(true), Some(false)),
            (0x041020, Some(On), None, Some(false)),
            (0x041200, Some(On), Some(true), None),
        ];
        for (s, state, sigs, ms) in table {
            let d = decode_product_state(s);
            assert_eq!(
                (d.state, d.signatures_up_to_date, d.microsoft),
                (state, sigs, ms),
                "productState {s:#x}"
            );
        }
    }

    #[test]
    fn enums_as_numbers_or_names() {
        for (v, want) in [
            (json!(4), Some("block")),
            (json!(2), Some("allow")),
            (json!(0), None),
            (json!("Block"), Some("block")),
            (json!("allow"), Some("allow")),
            (json!("NotConfigured"), None),
            (json!("4"), Some("block")),
            (json!(true), None),
        ] {
            assert_eq!(cim_action(&v), want, "action {v}");
        }
        for (v, want) in [
            (json!(1), Some(true)),
            (json!(0), Some(false)),
            (json!(2), None),
            (json!(true), Some(true)),
            (json!("True"), Some(true)),
            (json!("False"), Some(false)),
            (json!("NotConfigured"), None),
            (json!("1"), Some(true)),
            (json!(null), None),
        ] {
            assert_eq!(gpo_bool(&v), want, "GpoBoolean {v}");
        }
        for (v, want) in [
            (json!(0), Some("public")),
            (json!(1), Some("private")),
            (json!(2), Some("domain")),
            (json!("DomainAuthenticated"), Some("domain")),
            (json!("Private"), Some("private")),
            (json!("2"), Some("domain")),
            (json!(7), None),
        ] {
            assert_eq!(network_category(&v), want, "NetworkCategory {v}");
        }
        for (mode, want) in [
            ("Normal", "normal"),
            ("Passive", "passive"),
            ("Passive Mode", "passive"),
            ("SxS Passive Mode", "sxs_passive"),
            ("EDR Block Mode", "edr_block"),
            ("Not running", "not_running"),
        ] {
            assert_eq!(running_mode(mode), want);
        }
    }

    #[test]
    fn raw_values_are_read_leniently() {
        let s: MpStatusRaw = serde_json::from_value(json!({
            "AMServiceEnabled": "True", "AntivirusEnabled": 1, "RealTimeProtectionEnabled": "False",
            "IsTamperProtected": {"odd": 1}, "AntivirusSignatureAge": "3", "AMProductVersion": 4.18
        }))
        .unwrap();
        assert_eq!(s.am_service_enabled, Some(true));
        assert_eq!(s.antivirus_enabled, Some(true));
        assert_eq!(s.real_time_protection_enabled, Some(false));
        assert_eq!(s.is_tamper_protected, None);
        assert_eq!(s.antivirus_signature_age, Some(3));
        assert_eq!(s.am_product_version.as_deref(), Some("4.18"));
        // One-element lists arrive as a bare object.
        let sc: SecurityCenterRaw = serde_json::from_value(json!({"products": {"displayName": "X", "productState": "266240"}})).unwrap();
        assert_eq!(sc.products.len(), 1);
        assert_eq!(sc.products[0].product_state, Some(266_240));
    }

    #[test]
    fn times_in_every_windows_form() {
        let want = Timestamp::parse("2024-06-01T09:40:35Z").unwrap();
        for raw in [
            "2024-06-01T09:40:35Z",
            "2024-06-01T09:40:35.0000000Z",
            "2024-06-01T16:40:35+07:00",
            "2024-06-01T09:40:35",
            "/Date(1717234835000)/",
            "20240601094035.000000+000",
            "20240601164035.000000+420",
            "Sat, 01 Jun 2024 09:40:35 GMT",
        ] {
            assert_eq!(parse_time(raw), Some(want), "{raw}");
        }
        for never in [
            "",
            "16010101000000.000000+000",
            "1600-12-31T16:00:00Z",
            "/Date(-11644473600000)/",
            "yesterday",
        ] {
            assert_eq!(parse_time(never), None, "{never:?}");
        }
    }

    #[test]
    fn every_host_loads_and_decodes() {
        for name in [
            "win10-defender",
            "win11-defender",
            "server2019-defender",
            "server2022-defender",
            "win11-kaspersky",
            "server2022-bkav",
            "win10-av-disabled",
            "win11-stale-signatures",
        ] {
            let facts = host(name);
            assert!(!facts.antivirus.products.is_empty(), "{name}: no product");
            assert_eq!(protection(&facts).firewall_profiles.len(), 3, "{name}");
            assert_eq!(facts.firewall.backends.len(), 1, "{name}");
            assert_eq!(facts.firewall.backends[0].name, "windows-firewall");
            assert!(my_errors(&facts).is_empty(), "{name}: {:?}", my_errors(&facts));
        }
    }

    #[test]
    fn windows_10_defender_protects() {
        let f = host("win10-defender");
        assert_eq!(f.antivirus.products.len(), 1);
        let d = product(&f, "defender");
        assert!(d.installed && d.running);
        assert_eq!(d.realtime, Some(true));
        assert_eq!(d.mode.as_deref(), Some("normal"));
        assert_eq!(d.source, "defender");
        assert_eq!(d.reachable, Some(true));
        assert_eq!(d.signature_version.as_deref(), Some("1.421.1042.0"));
        assert_eq!(d.product_version.as_deref(), Some("4.18.24090.11"));
        assert!(age(d.signature_time) < 1.0);
        assert_eq!(d.last_scan, Timestamp::parse("2026-11-21T12:30:41Z").ok());
        assert_eq!(d.details.get("wsc_state").map(String::as_str), Some("on"));
        assert_eq!(d.details.get("tamper_protected").map(String::as_str), Some("true"));
        let p = protection(&f);
        assert_eq!(p.security_center_present, Some(true));
        assert_eq!(p.security_center[0].state.as_deref(), Some("on"));
        assert_eq!(p.security_center[0].microsoft, Some(true));
        assert_eq!(p.security_center[0].timestamp, Timestamp::parse("2026-11-21T23:14:05Z").ok());
        let def = p.defender.as_ref().unwrap();
        assert_eq!(def.protecting, Some(true));
        assert_eq!(def.full_scan_end, None);
        assert_eq!(def.full_scan_age_days, None, "4294967295 means never");
        assert_eq!(def.quick_scan_age_days, Some(0));
        assert_eq!(p.active_profiles.as_deref(), Some(&["private".to_string()][..]));
        assert!(f.firewall.enabled && f.firewall.inbound_default_deny);
        let b = &f.firewall.backends[0];
        assert!(b.present && b.active);
        assert_eq!(b.input_policy.as_deref(), Some("block"));
        assert_eq!(b.inbound_default_deny, Some(true));
        let private = profile(&f, "private");
        assert_eq!(private.source.as_deref(), Some("active"));
        assert_eq!(private.default_outbound.as_deref(), Some("allow"));
        assert_eq!(private.log_blocked, Some(false));
        assert_eq!(private.connected, Some(true));
        assert_eq!(profile(&f, "public").connected, Some(false));
    }

    #[test]
    fn gpo_overrides_local_settings() {
        let f = host("win11-defender");
        let public = profile(&f, "public");
        // Locally off, on by Group Policy: the active store shows policy's value.
        assert_eq!(public.enabled, Some(true));
        assert_eq!(public.source.as_deref(), Some("active"));
        assert_eq!(public.gpo_enabled, Some(true));
        assert_eq!(public.gpo_default_inbound.as_deref(), Some("block"));
        assert_eq!(protection(&f).active_profiles.as_deref(), Some(&["domain".to_string()][..]));
        assert!(f.firewall.enabled && f.firewall.inbound_default_deny);

        // Without the active store, policy still wins over the local registry.
        let mut raw = raw_of("win11-defender");
        raw["firewall"]["profiles"] = json!([]);
        raw["firewall"]["profiles_error"] = json!("0x80070005: Access is denied.");
        raw["firewall"]["connections"] = json!([{"Name": "x", "NetworkCategory": "Public"}]);
        let (facts, errors) = decode_raw(raw);
        let public = facts.windows.as_ref().unwrap().protection.firewall_profiles[2].clone();
        assert_eq!(public.name, "public");
        assert_eq!(public.enabled, Some(true));
        assert_eq!(public.source.as_deref(), Some("gpo"));
        assert_eq!(public.default_inbound.as_deref(), Some("block"));
        assert_eq!(public.default_inbound_source.as_deref(), Some("gpo"));
        assert!(facts.firewall.enabled && facts.firewall.inbound_default_deny);
        assert!(errors.iter().any(|(p, m)| p == FW && m.contains("Access is denied")), "{errors:?}");

        // And without policy, the local registry decides, but knows nothing of the inbound action.
        let mut raw = raw_of("win11-defender");
        raw["firewall"]["profiles"] = json!([]);
        raw["firewall"]["profiles_error"] = json!("failed");
        raw["firewall"]["policy"] = json!([]);
        raw["firewall"]["connections"] = json!([{"Name": "x", "NetworkCategory": 0}]);
        let (facts, errors) = decode_raw(raw);
        let public = &facts.windows.as_ref().unwrap().protection.firewall_profiles[2];
        assert_eq!((public.enabled, public.source.as_deref()), (Some(false), Some("local")));
        assert!(!facts.firewall.enabled && !facts.firewall.inbound_default_deny);
        assert_eq!(facts.firewall.backends[0].inbound_default_deny, Some(false));
        assert!(errors.iter().any(|(p, _)| p == FW));
    }

    #[test]
    fn server_2019_without_security_center_still_reports_defender() {
        let f = host("server2019-defender");
        let p = protection(&f);
        assert_eq!(p.security_center_present, Some(false));
        assert!(p.security_center.is_empty());
        let d = product(&f, "defender");
        assert!(d.running);
        assert_eq!(d.realtime, Some(true));
        assert_eq!(d.source, "defender");
        assert!(!d.details.contains_key("wsc_state"));
        assert!((age(d.signature_time) - 1.25).abs() < 1e-6);
        assert_eq!(p.defender.as_ref().unwrap().tamper_protected, Some(false));
        assert!(f.firewall.enabled && f.firewall.inbound_default_deny);
    }

    #[test]
    fn server_2022_profile_not_in_use_does_not_count() {
        let f = host("server2022-defender");
        assert!(product(&f, "defender").running);
        assert_eq!(profile(&f, "public").enabled, Some(false));
        assert_eq!(profile(&f, "public").connected, Some(false));
        assert_eq!(
            f.firewall.backends[0].details.get("profiles_in_use").map(String::as_str),
            Some("domain")
        );
        assert!(f.firewall.enabled && f.firewall.inbound_default_deny);
        assert_eq!(protection(&f).defender.as_ref().unwrap().full_scan_age_days, Some(7));
    }

    #[test]
    fn passive_defender_is_not_counted() {
        let f = host("win11-kaspersky");
        assert_eq!(f.antivirus.products.len(), 2, "{:?}", f.antivirus.products);
        let d = product(&f, "defender");
        assert!(d.installed);
        assert!(!d.running, "passive Defender protects nothing");
        assert_eq!(d.realtime, Some(false), "reported real-time is not blocking in passive mode");
        assert_eq!(d.mode.as_deref(), Some("passive"));
        assert_eq!(d.details.get("third_party_registered").map(String::as_str), Some("true"));
        assert_eq!(d.last_scan, None);
        let k = product(&f, "kaspersky");
        assert!(k.installed && k.running);
        assert_eq!(k.realtime, Some(true));
        assert_eq!(k.name, "Kaspersky Endpoint Security for Windows");
        assert_eq!(k.vendor, "Kaspersky");
        assert_eq!(k.source, "wsc");
        assert_eq!(k.product_version.as_deref(), Some("12.3.0.493"));
        assert_eq!(k.signature_time, None, "Security Center gives no signature date");
        assert_eq!(k.details.get("wsc_signatures").map(String::as_str), Some("up_to_date"));
        assert!(k.details["services"].contains("AVP.KES.12.3=running"));
        let p = protection(&f);
        assert_eq!(p.defender.as_ref().unwrap().protecting, Some(false));
        assert_eq!(p.security_center.len(), 2);
        assert_eq!(p.security_center[0].state.as_deref(), Some("off"));
        assert!(f.firewall.enabled);
        assert_eq!(p.active_profiles.as_deref(), Some(&["public".to_string()][..]));

        // Passive by mode alone, even where Security Center would say on.
        let mut raw = raw_of("win11-kaspersky");
        raw["security_center"] = json!({"products": [], "error": "InvalidNamespace: Invalid namespace"});
        let (facts, _) = decode_raw(raw);
        let d = facts.antivirus.products.iter().find(|p| p.id == "defender").unwrap();
        assert!(!d.running);
    }

    #[test]
    fn bkav_on_server_found_by_service() {
        let f = host("server2022-bkav");
        assert_eq!(
            f.antivirus.products.len(),
            1,
            "Defender removed is not reported: {:?}",
            f.antivirus.products
        );
        let b = product(&f, "bkav");
        assert!(b.installed && b.running);
        assert_eq!(b.vendor, "Bkav");
        assert_eq!(b.source, "service");
        assert_eq!(b.realtime, None, "a service alone says nothing of real-time scanning");
        assert_eq!(b.product_version.as_deref(), Some("5.2.0.1"));
        let p = protection(&f);
        assert_eq!(p.defender, None);
        assert_eq!(p.security_center_present, Some(false));
        // Group Policy turned the domain profile off, and it is the one in use.
        let domain = profile(&f, "domain");
        assert_eq!((domain.enabled, domain.gpo_enabled), (Some(false), Some(false)));
        assert!(!f.firewall.enabled && !f.firewall.inbound_default_deny);
        assert!(!f.firewall.backends[0].active);
        assert_eq!(f.firewall.backends[0].inbound_default_deny, Some(false));

        // A stopped service is installed, not running.
        let mut raw = raw_of("server2022-bkav");
        raw["products"]["products"][0]["services"][0]["State"] = json!("Stopped");
        let (facts, _) = decode_raw(raw);
        assert!(facts.antivirus.products[0].installed && !facts.antivirus.products[0].running);
    }

    #[test]
    fn disabled_real_time_protection() {
        let f = host("win10-av-disabled");
        let d = product(&f, "defender");
        assert!(!d.running);
        assert_eq!(d.realtime, Some(false));
        assert_eq!(d.details.get("wsc_state").map(String::as_str), Some("off"));
        let def = protection(&f).defender.as_ref().unwrap();
        assert_eq!(def.realtime_enabled, Some(false));
        assert_eq!(def.realtime_disabled_by_preference, Some(true));
        assert!(!f.firewall.enabled && !f.firewall.inbound_default_deny);
        assert_eq!(profile(&f, "private").enabled, Some(false));
    }

    #[test]
    fn stale_signatures() {
        let f = host("win11-stale-signatures");
        let d = product(&f, "defender");
        assert!(d.running);
        assert_eq!(d.realtime, Some(true));
        assert!((age(d.signature_time) - 11.9375).abs() < 1e-6);
        assert_eq!(d.details.get("wsc_signatures").map(String::as_str), Some("out_of_date"));
        assert_eq!(d.details.get("signature_age_days").map(String::as_str), Some("12"));
        assert_eq!(protection(&f).security_center[0].signatures_up_to_date, Some(false));
        assert_eq!(protection(&f).defender.as_ref().unwrap().signature_age_days, Some(12));
    }

    #[test]
    fn malformed_section_is_an_error_not_a_value() {
        for bad in [json!("garbage"), json!([1, 2])] {
            let (facts, errors) = decode_raw(bad);
            assert!(facts.antivirus.products.is_empty());
            assert_eq!(facts.firewall, Firewall::default());
            assert!(facts.windows.is_none());
            assert!(
                errors.iter().any(|(p, _)| p == AV) && errors.iter().any(|(p, _)| p == FW),
                "{errors:?}"
            );
        }
        // Missing altogether.
        let (_, errors) = decode_raw(json!(null));
        assert_eq!(errors.len(), 2);

        // One malformed part: an error for it, the rest decoded, nothing guessed.
        let mut raw = raw_of("win10-defender");
        raw["defender"] = json!(["not", "an", "object"]);
        raw["firewall"]["profiles"] = json!("oops");
        let (facts, errors) = decode_raw(raw);
        assert!(errors.iter().any(|(p, m)| p == AV && m.contains("Defender")), "{errors:?}");
        assert!(errors.iter().any(|(p, m)| p == FW && m.contains("malformed")), "{errors:?}");
        let d = facts.antivirus.products.iter().find(|p| p.id == "defender").unwrap();
        assert_eq!(d.source, "wsc");
        assert_eq!(d.signature_time, None);
        assert_eq!(d.mode, None);
        assert!(d.running, "Security Center still says on");
        assert_eq!(facts.firewall, Firewall::default());
        assert!(facts.windows.as_ref().unwrap().protection.firewall_profiles.is_empty());

        // A Security Center failure other than the missing namespace is reported.
        let mut raw = raw_of("win10-defender");
        raw["security_center"] = json!({"products": [], "error": "Timeout: The operation timed out"});
        let (facts, errors) = decode_raw(raw);
        assert!(errors.iter().any(|(p, m)| p == AV && m.contains("timed out")), "{errors:?}");
        assert_eq!(facts.windows.as_ref().unwrap().protection.security_center_present, None);

        // Firewall profile values Windows never prints are unknown, not off.
        let mut raw = raw_of("win10-defender");
        raw["firewall"]["profiles"][1]["Enabled"] = json!("maybe");
        raw["firewall"]["local"] = json!([]);
        let (facts, errors) = decode_raw(raw);
        let private = &facts.windows.as_ref().unwrap().protection.firewall_profiles[1];
        assert_eq!(private.enabled, None);
        assert!(!facts.firewall.enabled);
        assert!(errors.iter().any(|(p, m)| p == FW && m.contains("private")), "{errors:?}");
    }

    #[test]
    fn stopped_firewall_service_filters_nothing() {
        let mut raw = raw_of("win10-defender");
        raw["firewall"]["service"]["State"] = json!("Stopped");
        let (facts, _) = decode_raw(raw);
        assert!(!facts.firewall.enabled && !facts.firewall.inbound_default_deny);
        assert!(!facts.firewall.backends[0].active);
        assert_eq!(facts.windows.as_ref().unwrap().protection.firewall_service_running, Some(false));
        // Profiles still say what is configured.
        assert_eq!(facts.windows.as_ref().unwrap().protection.firewall_profiles[1].enabled, Some(true));
    }

    #[test]
    fn section_survives_a_round_trip() {
        let raw: Raw = serde_json::from_value(raw_of("win11-kaspersky")).unwrap();
        let again: Raw = serde_json::from_value(serde_json::to_value(&raw).unwrap()).unwrap();
        assert_eq!(raw, again);
    }

    #[test]
    fn like_matches_powershell_wildcards() {
        assert!(like("Kaspersky Endpoint Security for Windows", "kaspersky*"));
        assert!(like("AVP.KES.12.3", "AVP*"));
        assert!(like("ekrn", "ekrn"));
        assert!(!like("ekrnx", "ekrn"));
        assert!(like("Bkav Endpoint", "B?av*"));
        assert_eq!(slug("ESET Endpoint Antivirus (x64)"), "eset-endpoint-antivirus-x64");
    }
}
