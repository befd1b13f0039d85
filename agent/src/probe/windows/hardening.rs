//! Windows hardening facts from the snapshot's `hardening` section: the
//! security policy (`secedit`), local accounts and administrators, idle lock,
//! audit policy, BitLocker, USB storage, SMB1, Remote Desktop, AutoRun, the
//! update source and hotfixes, the OS build, installed software, the domain
//! and time synchronisation.
//!
//! Each goes to the neutral section it fits (`password_policy`, `accounts`,
//! `disk_encryption`, …) and, where Windows has more to say, to
//! `windows.hardening`. Mappings that are not one to one:
//! - `PasswordComplexity` 1 is `min_classes` 3 (Windows asks for three of
//!   upper case, lower case, digits, symbols and other letters) and
//!   `quality_module` `passfilt`; 0 is `min_classes` 0 and no module;
//! - `MaximumPasswordAge` -1 (never) is `max_days` -1; `LockoutDuration` -1
//!   (until an administrator unlocks) is `unlock_time_seconds` 0; minutes
//!   become seconds; `LockoutBadCount` 0 is `deny` 0 and no lockout module;
//! - an account's `uid` is its RID (500 is the built-in administrator), its
//!   `password` is `locked` when disabled, `set` when a password is required
//!   and `unknown` when it is not (the password may then be empty);
//! - `host.os.version_id` is `<Version>.<UBR>` (`10.0.22631.4460`), which a
//!   support table can match by build (`10.0.22631`) or by patch level.

use super::super::Errors;
use super::network::{Many, Part, Val, flag, int, part, text, time, uint};
use khien_proto::facts::windows::{
    Autologon, Autorun, BuiltinAccount, GroupMember, Hotfix, IdleLock, Rdp, ScreenSaver, Smb1, UpdateSource, UsbPolicy, WindowsHardening,
    WindowsOs,
};
use khien_proto::facts::{Account, Package, Repository, Role, SoftwareItem, TimeDaemon, Volume};
use khien_proto::{Facts, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The `hardening` section as `ps/hardening.ps1` prints it; every part `None`
/// when the section printed nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    /// The whole section failed.
    pub error: Option<String>,
    pub secedit: Option<Part<Secedit>>,
    pub users: Option<Part<Many<LocalUser>>>,
    pub admins: Option<Part<Admins>>,
    pub autologon: Option<Part<RawAutologon>>,
    pub idle_lock: Option<Part<RawIdleLock>>,
    pub auditpol: Option<Part<Auditpol>>,
    pub bitlocker: Option<Part<Many<EncryptableVolume>>>,
    pub usb: Option<Part<RawUsb>>,
    pub smb1: Option<Part<RawSmb1>>,
    pub rdp: Option<Part<RawRdp>>,
    pub autorun: Option<Part<RawAutorun>>,
    pub update: Option<Part<RawUpdate>>,
    pub hotfix: Option<Part<RawHotfix>>,
    pub os: Option<Part<RawOs>>,
    pub domain: Option<Part<RawDomain>>,
    pub software: Option<Part<Many<UninstallEntry>>>,
    pub time: Option<Part<RawTime>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Secedit {
    /// The exported INF file, decoded from UTF-16.
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LocalUser {
    pub name: Val,
    #[serde(rename = "SID")]
    pub sid: Val,
    pub enabled: Val,
    pub last_logon: Val,
    pub password_last_set: Val,
    pub password_required: Val,
    /// `null` when the password never expires.
    pub password_expires: Val,
    pub account_expires: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Admins {
    /// The Administrators group's (localized) name.
    pub group: Val,
    pub members: Many<Member>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Member {
    pub name: Val,
    #[serde(rename = "SID")]
    pub sid: Val,
    pub object_class: Val,
    pub principal_source: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawAutologon {
    pub auto_admin_logon: Val,
    pub default_user_name: Val,
    pub default_domain_name: Val,
    pub default_password_present: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawIdleLock {
    pub inactivity_timeout_secs: Val,
    pub screen_savers: Many<RawScreenSaver>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawScreenSaver {
    pub scope: Val,
    pub screen_save_active: Val,
    pub screen_saver_is_secure: Val,
    pub screen_save_time_out: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Auditpol {
    /// `auditpol /get /category:* /r`.
    pub csv: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EncryptableVolume {
    pub drive_letter: Val,
    #[serde(rename = "DeviceID")]
    pub device_id: Val,
    /// 0 operating system, 1 fixed data, 2 removable data.
    pub volume_type: Val,
    /// 0 off, 1 on, 2 unknown (a locked volume).
    pub protection_status: Val,
    /// 0 fully decrypted, 1 fully encrypted, 2–5 converting or paused.
    pub conversion_status: Val,
    pub encryption_percentage: Val,
    pub encryption_method: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawUsb {
    #[serde(rename = "UsbStorStart")]
    pub usbstor_start: Val,
    #[serde(rename = "Deny_All")]
    pub deny_all: Val,
    #[serde(rename = "Deny_Read")]
    pub deny_read: Val,
    #[serde(rename = "Deny_Write")]
    pub deny_write: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawSmb1 {
    #[serde(rename = "EnableSMB1Protocol")]
    pub enable_smb1_protocol: Val,
    pub server_error: Val,
    pub feature_state: Val,
    pub feature_error: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawRdp {
    pub local: RdpValues,
    /// `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services`, which wins.
    pub policy: RdpValues,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RdpValues {
    #[serde(rename = "fDenyTSConnections")]
    pub deny_connections: Val,
    pub user_authentication: Val,
    pub security_layer: Val,
    pub port_number: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawAutorun {
    pub no_drive_type_auto_run: Val,
    pub no_autorun: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawUpdate {
    #[serde(rename = "WUServer")]
    pub wu_server: Val,
    #[serde(rename = "WUStatusServer")]
    pub wu_status_server: Val,
    #[serde(rename = "UseWUServer")]
    pub use_wu_server: Val,
    #[serde(rename = "NoAutoUpdate")]
    pub no_auto_update: Val,
    #[serde(rename = "AUOptions")]
    pub au_options: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawHotfix {
    pub count: Val,
    #[serde(rename = "HotFixID")]
    pub hot_fix_id: Val,
    pub installed_on: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawOs {
    pub caption: Val,
    pub version: Val,
    pub build_number: Val,
    pub product_type: Val,
    #[serde(rename = "CSName")]
    pub cs_name: Val,
    pub last_boot_up_time: Val,
    #[serde(rename = "UBR")]
    pub ubr: Val,
    pub display_version: Val,
    pub release_id: Val,
    #[serde(rename = "EditionID")]
    pub edition_id: Val,
    pub installation_type: Val,
    pub architecture: Val,
    pub system_drive: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawDomain {
    pub name: Val,
    #[serde(rename = "DNSHostName")]
    pub dns_host_name: Val,
    pub part_of_domain: Val,
    pub domain: Val,
    pub domain_role: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UninstallEntry {
    pub display_name: Val,
    pub display_version: Val,
    pub publisher: Val,
    pub install_date: Val,
    /// `machine`, `machine32` (WOW6432Node) or `user:<SID>`.
    pub scope: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RawTime {
    /// `NTP`, `NT5DS` (domain hierarchy), `AllSync` or `NoSync`.
    #[serde(rename = "Type")]
    pub kind: Val,
    pub ntp_server: Val,
    /// The W32Time service's state (`Running`, `Stopped`).
    pub service: Val,
    /// `w32tm /query /status`, when the service runs.
    pub status: Val,
}

/// The fact paths this section fills, each left empty when the section is missing.
const PATHS: [&str; 13] = [
    "host.os",
    "password_policy",
    "lockout",
    "accounts",
    "desktop",
    "disk_encryption",
    "usb_storage",
    "packages",
    "software",
    "directory",
    "time_sync",
    "windows.hardening",
    "windows.hardening.audit_policy",
];

const SECEDIT: &str = "secedit /export";

pub fn apply(raw: &Raw, now: Timestamp, facts: &mut Facts, errors: &mut Errors) {
    if *raw == Raw::default() {
        for path in PATHS {
            errors.push(path, "the hardening section is missing from the snapshot");
        }
        return;
    }
    let section = raw;
    if let Some(error) = &section.error {
        for path in PATHS {
            errors.push(path, format!("the hardening section failed: {error}"));
        }
        return;
    }
    let mut win = WindowsHardening::default();
    facts.host.os.id = Some("windows".into());

    let policy = match part(&section.secedit, SECEDIT) {
        Ok(secedit) => {
            let policy = parse_secedit(&secedit.text).remove("System Access").unwrap_or_default();
            if policy.is_empty() {
                let message = format!("{SECEDIT}: no [System Access] section");
                for path in ["password_policy", "lockout", "windows.hardening.security_policy"] {
                    errors.push(path, &message);
                }
            }
            policy
        }
        Err(e) => {
            for path in ["password_policy", "lockout", "windows.hardening.security_policy"] {
                errors.push(path, &e);
            }
            BTreeMap::new()
        }
    };
    apply_policy(&policy, facts);
    os(section, now, facts, &mut win, errors);
    accounts(section, &policy, now, facts, &mut win, errors);
    desktop(section, facts, &mut win, errors);
    match part(&section.auditpol, "auditpol") {
        Ok(auditpol) => win.audit_policy = parse_auditpol(&auditpol.csv),
        Err(e) => errors.push("windows.hardening.audit_policy", e),
    }
    bitlocker(section, facts, errors);
    usb(section, facts, &mut win, errors);
    smb1(section, &mut win, errors);
    rdp(section, &mut win, errors);
    updates(section, facts, &mut win, errors);
    software(section, facts, errors);
    match part(&section.domain, "Win32_ComputerSystem") {
        Ok(domain) => {
            let joined = flag(&domain.part_of_domain);
            facts.directory.joined = joined == Some(true);
            if joined == Some(true) {
                facts.directory.kind = Some("ad".into());
                facts.directory.domains = text(&domain.domain).into_iter().collect();
            }
            facts.directory.sources = vec!["Win32_ComputerSystem".into()];
            win.domain_role = uint(&domain.domain_role);
            if let Some(name) = text(&domain.dns_host_name).or_else(|| text(&domain.name)) {
                facts.host.hostname = name;
            }
            if joined.is_none() {
                errors.push("directory", "Win32_ComputerSystem: PartOfDomain is missing");
            }
        }
        Err(e) => {
            errors.push("directory", &e);
            errors.push("windows.hardening.domain_role", e);
        }
    }
    time_sync(section, facts, errors);
    super::section(facts).hardening = win;
}

/// Password and lockout policy from `[System Access]`.
fn apply_policy(policy: &BTreeMap<String, String>, facts: &mut Facts) {
    if policy.is_empty() {
        return;
    }
    let number = |key: &str| policy.get(key).and_then(|v| v.trim().parse::<i64>().ok());
    let pw = &mut facts.password_policy;
    pw.min_length = number("MinimumPasswordLength").and_then(|n| u32::try_from(n).ok());
    match number("PasswordComplexity") {
        Some(1) => {
            pw.quality_module = Some("passfilt".into());
            pw.min_classes = Some(3);
        }
        Some(0) => pw.min_classes = Some(0),
        _ => {}
    }
    pw.max_days = number("MaximumPasswordAge");
    pw.min_days = number("MinimumPasswordAge");
    pw.history = number("PasswordHistorySize").and_then(|n| u32::try_from(n).ok());
    // The local policy binds every local account, the built-in administrator included.
    pw.enforce_for_root = Some(true);
    pw.sources = vec!["secedit".into()];

    let lockout = &mut facts.lockout;
    lockout.deny = number("LockoutBadCount").and_then(|n| u32::try_from(n).ok());
    if lockout.deny.is_some_and(|n| n > 0) {
        lockout.module = Some("windows".into());
    }
    lockout.unlock_time_seconds = number("LockoutDuration").and_then(|m| if m < 0 { Some(0) } else { u64::try_from(m * 60).ok() });
    lockout.fail_interval_seconds = number("ResetLockoutCount").and_then(|m| u64::try_from(m * 60).ok());
    lockout.sources = vec!["secedit".into()];
}

fn os(section: &Raw, now: Timestamp, facts: &mut Facts, win: &mut WindowsHardening, errors: &mut Errors) {
    let raw = match part(&section.os, "Win32_OperatingSystem") {
        Ok(raw) => raw,
        Err(e) => {
            errors.push("host.os", &e);
            errors.push("windows.hardening.os", e);
            return;
        }
    };
    let product_type: Option<u32> = uint(&raw.product_type);
    let build: Option<u32> = uint(&raw.build_number);
    let ubr: Option<u32> = uint(&raw.ubr);
    let version = text(&raw.version);
    let display_version = text(&raw.display_version).or_else(|| text(&raw.release_id));
    win.os = WindowsOs {
        caption: text(&raw.caption),
        version: version.clone(),
        build,
        ubr,
        display_version: display_version.clone(),
        edition_id: text(&raw.edition_id),
        installation_type: text(&raw.installation_type),
        product_type,
        product: product_type.map(|t| product(t, build)),
    };
    let host = &mut facts.host;
    host.os.name = win.os.caption.clone();
    host.os.version = display_version.clone();
    host.os.version_id = match (&version, ubr) {
        (Some(v), Some(ubr)) => Some(format!("{v}.{ubr}")),
        (v, _) => v.clone(),
    };
    host.os.pretty_name = match (&win.os.caption, &display_version) {
        (Some(c), Some(d)) => Some(format!("{c} {d}")),
        (c, _) => c.clone(),
    };
    host.kernel = host.os.version_id.clone();
    if let Some(t) = product_type {
        host.role = if t == 1 { Role::Workstation } else { Role::Server };
        host.role_source = "detected".into();
    } else {
        errors.push("host.role", "Win32_OperatingSystem: ProductType is missing");
    }
    if let Some(name) = text(&raw.cs_name) {
        host.hostname = name;
    }
    host.arch = match text(&raw.architecture).as_deref() {
        Some("AMD64") => "x86_64".into(),
        Some("ARM64") => "aarch64".into(),
        Some(other) => other.to_ascii_lowercase(),
        None => String::new(),
    };
    host.boot_time = time(&raw.last_boot_up_time);
    host.uptime_seconds = host.boot_time.and_then(|b| u64::try_from(now.unix() - b.unix()).ok());
    if version.is_none() || build.is_none() {
        errors.push("host.os.version_id", "Win32_OperatingSystem: Version or BuildNumber is missing");
    }
}

/// The product line: Windows 11 still calls itself Windows 10 in places, so the build decides.
fn product(product_type: u32, build: Option<u32>) -> String {
    let known = match (product_type, build) {
        (1, Some(b)) if b >= 22000 => Some("windows-11"),
        (1, Some(b)) if b >= 10240 => Some("windows-10"),
        (_, Some(26100)) if product_type != 1 => Some("server-2025"),
        (_, Some(20348)) if product_type != 1 => Some("server-2022"),
        (_, Some(17763)) if product_type != 1 => Some("server-2019"),
        (_, Some(14393)) if product_type != 1 => Some("server-2016"),
        _ => None,
    };
    known.unwrap_or(if product_type == 1 { "windows" } else { "server" }).into()
}

fn accounts(
    section: &Raw,
    policy: &BTreeMap<String, String>,
    now: Timestamp,
    facts: &mut Facts,
    win: &mut WindowsHardening,
    errors: &mut Errors,
) {
    let accounts = &mut facts.accounts;
    let mut admin_sids = BTreeSet::new();
    match part(&section.admins, "Get-LocalGroupMember") {
        Ok(admins) => {
            accounts.admin_groups = text(&admins.group).into_iter().collect();
            for member in &admins.members.0 {
                let Some(name) = text(&member.name) else { continue };
                let sid = text(&member.sid).unwrap_or_default();
                let source = text(&member.principal_source);
                // Local members by their bare name, as in `accounts.local`; others keep their domain.
                let local = source.as_deref() == Some("Local") || (sid.starts_with("S-1-5-21-") && local_sid(&sid, section));
                let short = if local {
                    name.rsplit('\\').next().unwrap_or(&name).to_string()
                } else {
                    name.clone()
                };
                accounts.admins.push(short);
                admin_sids.insert(sid.clone());
                win.admin_members.push(GroupMember {
                    name,
                    sid,
                    class: text(&member.object_class),
                    source,
                });
            }
            accounts.admins.sort();
            accounts.admins.dedup();
        }
        Err(e) => {
            errors.push("accounts.admins", format!("{e}; the accounts' admin flags are not known"));
            errors.push("windows.hardening.admin_members", e);
        }
    }

    let max_days = policy.get("MaximumPasswordAge").and_then(|v| v.trim().parse::<i64>().ok());
    let min_days = policy.get("MinimumPasswordAge").and_then(|v| v.trim().parse::<i64>().ok());
    match part(&section.users, "Get-LocalUser") {
        Ok(users) => {
            for user in &users.0 {
                let Some(name) = text(&user.name) else { continue };
                let sid = text(&user.sid).unwrap_or_default();
                let enabled = flag(&user.enabled);
                let required = flag(&user.password_required);
                let expires = time(&user.password_expires);
                let account_expires = time(&user.account_expires);
                let rid = sid.rsplit('-').next().and_then(|r| r.parse::<u32>().ok());
                if enabled == Some(true) {
                    if required == Some(false) {
                        win.password_not_required.push(name.clone());
                    }
                    if expires.is_none() {
                        win.password_never_expires.push(name.clone());
                    }
                }
                let builtin = BuiltinAccount {
                    name: name.clone(),
                    sid: sid.clone(),
                    enabled,
                    renamed: false,
                    last_logon: time(&user.last_logon),
                };
                if sid.starts_with("S-1-5-21-") {
                    match rid {
                        Some(500) => {
                            win.administrator = Some(BuiltinAccount {
                                renamed: !name.eq_ignore_ascii_case("Administrator"),
                                ..builtin
                            })
                        }
                        Some(501) => {
                            win.guest = Some(BuiltinAccount {
                                renamed: !name.eq_ignore_ascii_case("Guest"),
                                ..builtin
                            })
                        }
                        _ => {}
                    }
                }
                accounts.local.push(Account {
                    admin: admin_sids.contains(&sid),
                    uid: rid.unwrap_or(0),
                    interactive: true,
                    password: match (enabled, required) {
                        (Some(false), _) => "locked",
                        (Some(true), Some(true)) => "set",
                        _ => "unknown",
                    }
                    .into(),
                    password_changed: time(&user.password_last_set),
                    // No expiry date: the password never expires, whatever the policy says.
                    max_days: if expires.is_none() { Some(-1) } else { max_days },
                    min_days,
                    expires: account_expires,
                    expired: account_expires.is_some_and(|t| t < now),
                    last_login: time(&user.last_logon),
                    name,
                    ..Account::default()
                });
            }
            win.password_not_required.sort();
            win.password_never_expires.sort();
        }
        Err(e) => {
            errors.push("accounts.local", &e);
            errors.push("windows.hardening.administrator", &e);
            // The security policy names and enables the built-in accounts too.
            win.administrator = builtin_from_policy(policy, "NewAdministratorName", "EnableAdminAccount", "Administrator");
            win.guest = builtin_from_policy(policy, "NewGuestName", "EnableGuestAccount", "Guest");
        }
    }
    accounts.root_locked = win.administrator.as_ref().and_then(|a| a.enabled).map(|e| !e);

    match part(&section.autologon, "Winlogon") {
        Ok(raw) => {
            let enabled = flag(&raw.auto_admin_logon).unwrap_or(false);
            let user = match (text(&raw.default_domain_name), text(&raw.default_user_name)) {
                (Some(d), Some(u)) => Some(format!("{d}\\{u}")),
                (_, u) => u,
            };
            if enabled {
                accounts.autologin.push(format!("winlogon:{}", user.as_deref().unwrap_or_default()));
            }
            win.autologon = Autologon {
                enabled: Some(enabled),
                user,
                password_in_registry: flag(&raw.default_password_present),
            };
        }
        Err(e) => {
            errors.push("accounts.autologin", &e);
            errors.push("windows.hardening.autologon", e);
        }
    }
    win.security_policy = policy.clone();
}

/// A SID of this machine's accounts: the built-in administrator's domain part.
fn local_sid(sid: &str, section: &Raw) -> bool {
    let Some(Part::Ok(users)) = &section.users else { return false };
    let domain = |s: &str| s.rsplit_once('-').map(|(d, _)| d.to_string());
    users.0.iter().filter_map(|u| text(&u.sid)).any(|s| domain(&s) == domain(sid))
}

fn builtin_from_policy(policy: &BTreeMap<String, String>, name_key: &str, enabled_key: &str, default: &str) -> Option<BuiltinAccount> {
    let name = policy.get(name_key)?.trim().trim_matches('"').to_string();
    Some(BuiltinAccount {
        renamed: !name.eq_ignore_ascii_case(default),
        name,
        sid: String::new(),
        enabled: policy.get(enabled_key).and_then(|v| v.trim().parse::<i64>().ok()).map(|v| v != 0),
        last_logon: None,
    })
}

const INACTIVITY_KEY: &str = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\InactivityTimeoutSecs";
const AUTORUN_KEY: &str = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\Explorer";

/// Idle lock and AutoRun, as policy sets them: a user's own screen saver
/// does not count, since the user can turn it off.
fn desktop(section: &Raw, facts: &mut Facts, win: &mut WindowsHardening, errors: &mut Errors) {
    let desktop = &mut facts.desktop;
    if let Ok(os) = part(&section.os, "Win32_OperatingSystem") {
        desktop.installed = text(&os.installation_type).is_some_and(|t| t != "Server Core");
        if desktop.installed {
            desktop.environments = vec!["windows".into()];
        }
    }
    match part(&section.idle_lock, "idle lock") {
        Ok(raw) => {
            let inactivity = uint::<u64>(&raw.inactivity_timeout_secs);
            win.idle_lock = IdleLock {
                inactivity_timeout_seconds: inactivity,
                screen_savers: raw
                    .screen_savers
                    .0
                    .iter()
                    .map(|s| ScreenSaver {
                        scope: text(&s.scope).unwrap_or_default(),
                        active: flag(&s.screen_save_active),
                        secure: flag(&s.screen_saver_is_secure),
                        timeout_seconds: uint(&s.screen_save_time_out),
                    })
                    .collect(),
            };
            if inactivity.is_some() {
                desktop.locked_keys.push(INACTIVITY_KEY.into());
            }
            let locks = |s: &ScreenSaver| s.active == Some(true) && s.secure == Some(true) && s.timeout_seconds.is_some_and(|t| t > 0);
            let savers = &win.idle_lock.screen_savers;
            for saver in savers.iter().filter(|s| s.scope.contains("policy") && s.timeout_seconds.is_some()) {
                desktop.locked_keys.push(format!("{}:ScreenSaveTimeOut", saver.scope));
            }
            let machine = savers
                .iter()
                .find(|s| s.scope == "machine-policy")
                .filter(|s| locks(s))
                .and_then(|s| s.timeout_seconds);
            let users: Vec<&ScreenSaver> = savers.iter().filter(|s| s.scope.starts_with("user-policy:")).collect();
            let every_user = (!users.is_empty() && users.iter().all(|s| locks(s)))
                .then(|| users.iter().filter_map(|s| s.timeout_seconds).max())
                .flatten();
            let saver = machine.or(every_user);
            let idle = [inactivity.filter(|&t| t > 0), saver].into_iter().flatten().min();
            desktop.idle_delay_seconds = Some(idle.unwrap_or(0));
            desktop.lock_enabled = Some(idle.is_some());
            desktop.lock_delay_seconds = idle.map(|_| 0);
            desktop.sources.push("registry".into());
        }
        Err(e) => {
            errors.push("desktop.lock_enabled", &e);
            errors.push("windows.hardening.idle_lock", e);
        }
    }
    match part(&section.autorun, "AutoRun policy") {
        Ok(raw) => {
            let mask: Option<u32> = uint(&raw.no_drive_type_auto_run);
            let no_autorun = flag(&raw.no_autorun);
            // Not set: Windows uses 0x91, which leaves fixed and network drives' AutoRun on.
            let all = mask.is_some_and(|m| m & 0xFF == 0xFF) || no_autorun == Some(true);
            win.autorun = Autorun {
                no_drive_type_autorun: mask,
                no_autorun,
                all_drives_disabled: Some(all),
            };
            desktop.autorun_never = Some(all);
            if mask.is_some() {
                desktop.locked_keys.push(format!(r"{AUTORUN_KEY}\NoDriveTypeAutoRun"));
            }
            if no_autorun.is_some() {
                desktop.locked_keys.push(format!(r"{AUTORUN_KEY}\NoAutorun"));
            }
        }
        Err(e) => {
            errors.push("desktop.autorun_never", &e);
            errors.push("windows.hardening.autorun", e);
        }
    }
}

fn bitlocker(section: &Raw, facts: &mut Facts, errors: &mut Errors) {
    let volumes = match part(&section.bitlocker, "Win32_EncryptableVolume") {
        Ok(volumes) => volumes,
        // The BitLocker class lives in a namespace that only exists when the
        // feature is installed (Server without the BitLocker feature, Home
        // editions): then BitLocker protects no volume, which is a fact, not a
        // failure to read one. The agent reads no other disk encryption on Windows.
        Err(e) if is_invalid_namespace(&e) => {
            let encryption = &mut facts.disk_encryption;
            encryption.root_encrypted = Some(false);
            encryption.all_encrypted = Some(false);
            return;
        }
        Err(e) => return errors.push("disk_encryption", e),
    };
    if volumes.0.is_empty() {
        // Every edition with BitLocker lists at least its system volume.
        return errors.push("disk_encryption", "Win32_EncryptableVolume: no volume listed");
    }
    let system_drive = match part(&section.os, "Win32_OperatingSystem") {
        Ok(os) => text(&os.system_drive),
        Err(_) => None,
    };
    let encryption = &mut facts.disk_encryption;
    let mut fixed = Vec::new();
    for raw in &volumes.0 {
        // Volumes without a letter (recovery, EFI) hold no user data.
        let Some(letter) = text(&raw.drive_letter) else { continue };
        let encrypted = match int(&raw.protection_status) {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        };
        let conversion = int(&raw.conversion_status);
        let kind = int(&raw.volume_type);
        let is_system = kind == Some(0) || system_drive.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&letter));
        if is_system {
            encryption.root_encrypted = encrypted;
        }
        if is_system || kind == Some(1) {
            fixed.push(encrypted);
        }
        encryption.volumes.push(Volume {
            mount: letter,
            device: text(&raw.device_id).unwrap_or_default(),
            fstype: String::new(),
            encrypted,
            scheme: (conversion.is_some_and(|c| c != 0) || encrypted == Some(true)).then(|| "bitlocker".into()),
        });
    }
    encryption.all_encrypted = if fixed.contains(&Some(false)) {
        Some(false)
    } else if !fixed.is_empty() && fixed.iter().all(|e| *e == Some(true)) {
        Some(true)
    } else {
        None
    };
}

/// A CIM error for a namespace that does not exist, in English or as the
/// error code that PowerShell prints on every display language.
fn is_invalid_namespace(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    e.contains("invalid namespace") || e.contains("invalidnamespace") || e.contains("0x8004100e")
}

const USBSTOR_KEY: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\USBSTOR";
const REMOVABLE_KEY: &str = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices";

fn usb(section: &Raw, facts: &mut Facts, win: &mut WindowsHardening, errors: &mut Errors) {
    let raw = match part(&section.usb, "USB storage") {
        Ok(raw) => raw,
        Err(e) => {
            errors.push("usb_storage", &e);
            return errors.push("windows.hardening.usb", e);
        }
    };
    win.usb = UsbPolicy {
        usbstor_start: uint(&raw.usbstor_start),
        deny_all: flag(&raw.deny_all),
        removable_disks_deny_read: flag(&raw.deny_read),
        removable_disks_deny_write: flag(&raw.deny_write),
    };
    let storage = &mut facts.usb_storage;
    storage.module_disabled = win.usb.usbstor_start == Some(4);
    let denied = win.usb.deny_all == Some(true)
        || (win.usb.removable_disks_deny_read == Some(true) && win.usb.removable_disks_deny_write == Some(true));
    storage.blocked = storage.module_disabled || denied;
    storage.sources.push(USBSTOR_KEY.into());
    if [
        win.usb.deny_all,
        win.usb.removable_disks_deny_read,
        win.usb.removable_disks_deny_write,
    ]
    .iter()
    .any(Option::is_some)
    {
        storage.sources.push(REMOVABLE_KEY.into());
    }
}

fn smb1(section: &Raw, win: &mut WindowsHardening, errors: &mut Errors) {
    let raw = match part(&section.smb1, "SMB1") {
        Ok(raw) => raw,
        Err(e) => return errors.push("windows.hardening.smb1", e),
    };
    if let Some(e) = text(&raw.server_error) {
        errors.push("windows.hardening.smb1.server_enabled", format!("Get-SmbServerConfiguration: {e}"));
    }
    if let Some(e) = text(&raw.feature_error) {
        errors.push("windows.hardening.smb1.feature_state", format!("Win32_OptionalFeature: {e}"));
    }
    let server = flag(&raw.enable_smb1_protocol);
    let feature = text(&raw.feature_state);
    // Without the feature's binaries the server cannot speak SMB1, whatever its setting.
    let removed = matches!(feature.as_deref(), Some("Disabled" | "Absent"));
    win.smb1 = Smb1 {
        server_enabled: server,
        enabled: if removed { Some(false) } else { server },
        feature_state: feature,
    };
}

fn rdp(section: &Raw, win: &mut WindowsHardening, errors: &mut Errors) {
    let raw = match part(&section.rdp, "Terminal Server") {
        Ok(raw) => raw,
        Err(e) => return errors.push("windows.hardening.rdp", e),
    };
    let mut from_policy = Vec::new();
    let mut pick = |name: &str, policy: &Val, local: &Val| match int(policy) {
        Some(v) => {
            from_policy.push(name.to_string());
            Some(v)
        }
        None => int(local),
    };
    let deny = pick("fDenyTSConnections", &raw.policy.deny_connections, &raw.local.deny_connections);
    let nla = pick(
        "UserAuthentication",
        &raw.policy.user_authentication,
        &raw.local.user_authentication,
    );
    let layer = pick("SecurityLayer", &raw.policy.security_layer, &raw.local.security_layer);
    win.rdp = Rdp {
        enabled: deny.map(|d| d == 0),
        nla: nla.map(|n| n == 1),
        security_layer: layer.and_then(|l| u32::try_from(l).ok()),
        port: uint(&raw.local.port_number),
        source: Some(if from_policy.is_empty() { "local" } else { "policy" }.into()),
        policy_values: from_policy,
    };
}

const WINDOWS_UPDATE_KEY: &str = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate";

fn updates(section: &Raw, facts: &mut Facts, win: &mut WindowsHardening, errors: &mut Errors) {
    match part(&section.update, "Windows Update policy") {
        Ok(raw) => {
            let wsus = text(&raw.wu_server);
            // Not set is a fact too: Windows Update then goes to Microsoft.
            let use_wsus = flag(&raw.use_wu_server).unwrap_or(false);
            win.update_source = UpdateSource {
                wsus_url: wsus.clone(),
                wsus_status_url: text(&raw.wu_status_server),
                use_wsus: Some(use_wsus),
                auto_update_disabled: Some(flag(&raw.no_auto_update).unwrap_or(false)),
                au_options: uint(&raw.au_options),
            };
            if let Some(uri) = wsus {
                facts.packages.repositories.push(Repository {
                    host: url_host(&uri),
                    uri,
                    suite: None,
                    enabled: use_wsus,
                    file: WINDOWS_UPDATE_KEY.into(),
                });
            }
            facts.packages.repositories.push(Repository {
                uri: "https://update.microsoft.com".into(),
                host: "update.microsoft.com".into(),
                suite: None,
                enabled: !use_wsus,
                file: WINDOWS_UPDATE_KEY.into(),
            });
        }
        Err(e) => {
            errors.push("packages.repositories", &e);
            errors.push("windows.hardening.update_source", e);
        }
    }
    match part(&section.hotfix, "Get-HotFix") {
        Ok(raw) => {
            win.hotfix_count = uint(&raw.count);
            win.newest_hotfix = text(&raw.hot_fix_id).map(|id| Hotfix {
                id,
                installed_on: time(&raw.installed_on),
            });
            facts.packages.last_update = win.newest_hotfix.as_ref().and_then(|h| h.installed_on);
            if facts.packages.last_update.is_none() {
                errors.push("packages.last_update", "Get-HotFix: no hotfix has an installation date");
            }
        }
        Err(e) => {
            errors.push("packages.last_update", &e);
            errors.push("windows.hardening.newest_hotfix", e);
        }
    }
}

/// The host of `https://wsus.example:8531/path`, lower case.
fn url_host(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.to_ascii_lowercase()
}

/// The Uninstall keys as a package inventory (`packages.manager` `registry`),
/// and the software table's products found in it by name.
fn software(section: &Raw, facts: &mut Facts, errors: &mut Errors) {
    let entries = match part(&section.software, "Uninstall keys") {
        Ok(entries) => entries,
        Err(e) => {
            errors.push("packages.installed", &e);
            return errors.push("software", e);
        }
    };
    let mut installed: Vec<Package> = entries
        .0
        .iter()
        .filter_map(|e| {
            Some(Package {
                name: text(&e.display_name)?,
                version: text(&e.display_version).unwrap_or_default(),
                arch: (text(&e.scope).as_deref() == Some("machine32")).then(|| "x86".into()),
            })
        })
        .collect();
    installed.sort_by(|a, b| (&a.name, &a.version, &a.arch).cmp(&(&b.name, &b.version, &b.arch)));
    installed.dedup();
    let packages = &mut facts.packages;
    packages.manager = Some("registry".into());
    packages.count = u32::try_from(installed.len()).unwrap_or(u32::MAX);
    packages.digest = Some(crate::probe::packages::digest(&installed));

    let table = crate::probe::software::table::builtin();
    for spec in &table {
        let Some(package) = installed.iter().find(|p| names_product(&p.name, &spec.name)) else {
            continue;
        };
        let item = SoftwareItem {
            id: spec.id.clone(),
            name: spec.name.clone(),
            family: spec.family.map(|f| f.as_str().to_string()),
            version: Some(package.version.clone()).filter(|v| !v.is_empty()),
            source: "package".into(),
            details: BTreeMap::from([("package".to_string(), package.name.clone())]),
            ..SoftwareItem::default()
        };
        use crate::probe::software::table::Category;
        let software = &mut facts.software;
        match spec.category {
            Category::Browser => software.browsers.push(item),
            Category::Mail => software.mail_clients.push(item),
            Category::Vpn => software.vpn_clients.push(item),
            Category::RemoteAccess => software.remote_access.push(item),
            Category::Backup => software.backup_agents.push(item),
            Category::Security => software.security_agents.push(item),
        }
    }
    packages.installed = installed;
}

/// An Uninstall entry's `DisplayName` names the table's product: the same
/// name, or the name followed by a version or a parenthesis (`Mozilla
/// Firefox (x64 en-US)`, `OpenVPN 2.6.12-I001 amd64`), but not another
/// product that starts the same (`OpenVPN Connect`, `Mozilla Firefox ESR`).
fn names_product(display_name: &str, product: &str) -> bool {
    let (Some(head), Some(rest)) = (display_name.get(..product.len()), display_name.get(product.len()..)) else {
        return false;
    };
    head.eq_ignore_ascii_case(product)
        && (rest.is_empty() || rest.starts_with(" (") || rest.starts_with(' ') && rest[1..].starts_with(|c: char| c.is_ascii_digit()))
}

fn time_sync(section: &Raw, facts: &mut Facts, errors: &mut Errors) {
    let raw = match part(&section.time, "W32Time") {
        Ok(raw) => raw,
        Err(e) => return errors.push("time_sync", e),
    };
    let running = text(&raw.service).as_deref() == Some("Running");
    let kind = text(&raw.kind);
    let status = text(&raw.status).map(|s| parse_w32tm_status(&s)).unwrap_or_default();
    let servers: Vec<String> = if kind.as_deref() == Some("NT5DS") {
        // The domain hierarchy: the server is whichever controller w32tm chose.
        status.source.clone().filter(|s| !is_local_clock(s)).into_iter().collect()
    } else {
        text(&raw.ntp_server)
            .unwrap_or_default()
            .split_whitespace()
            .map(|s| s.split(',').next().unwrap_or_default().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let sync = &mut facts.time_sync;
    sync.running = running;
    sync.synchronized = if running { status.synchronized } else { Some(false) };
    sync.servers = servers.clone();
    sync.daemons = vec![TimeDaemon {
        name: "w32time".into(),
        running,
        servers,
        config: kind.map(|k| format!("Type={k}")),
    }];
    if running && sync.synchronized.is_none() {
        errors.push(
            "time_sync.synchronized",
            "w32tm /query /status: no Leap Indicator or Source line (a localized Windows?)",
        );
    }
}

#[derive(Debug, Default)]
struct W32tmStatus {
    source: Option<String>,
    synchronized: Option<bool>,
}

fn is_local_clock(source: &str) -> bool {
    source.eq_ignore_ascii_case("Local CMOS Clock")
        || source.eq_ignore_ascii_case("Free-running System Clock")
        || source.eq_ignore_ascii_case("VM IC Time Synchronization Provider")
}

/// `w32tm /query /status` in English: the clock is synchronised when the leap
/// indicator is not 3 (alarm) and the source is not the machine's own clock.
fn parse_w32tm_status(text: &str) -> W32tmStatus {
    let mut leap = None;
    let mut source = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        match key.trim() {
            "Leap Indicator" => leap = value.trim().chars().next().and_then(|c| c.to_digit(10)),
            "Source" => source = Some(value.trim().split(',').next().unwrap_or_default().trim().to_string()).filter(|s| !s.is_empty()),
            _ => {}
        }
    }
    let synchronized = match (leap, &source) {
        (Some(3), _) => Some(false),
        (_, Some(s)) if is_local_clock(s) => Some(false),
        (Some(_), Some(_)) => Some(true),
        _ => None,
    };
    W32tmStatus { source, synchronized }
}

/// `secedit /export` INF text: section → key → value, as written. The file
/// is UTF-16; PowerShell decodes it, but a BOM may survive as U+FEFF.
pub fn parse_secedit(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        let line = line.trim_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_string(), value.trim().to_string());
    }
    sections
}

/// `auditpol /get /category:* /r`: a CSV with a header line, then per
/// subcategory `machine,target,subcategory,GUID,inclusion,exclusion`. Columns
/// are taken by position, since the header is localized with the rest.
pub fn parse_auditpol(csv: &str) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    let mut lines = csv
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '\u{feff}' || c.is_whitespace()))
        .filter(|l| !l.is_empty());
    let _header = lines.next();
    for line in lines {
        let fields = csv_fields(line);
        let (Some(name), Some(guid), Some(setting)) = (fields.get(2), fields.get(3), fields.get(4)) else {
            continue;
        };
        let guid = guid.trim().to_ascii_uppercase();
        if !guid.starts_with('{') {
            continue;
        }
        let setting = setting.trim().to_string();
        let english = AUDIT_SUBCATEGORIES.iter().find(|(g, _)| guid[1..].starts_with(g)).map(|(_, n)| *n);
        settings.insert(english.unwrap_or(name.trim()).to_string(), setting.clone());
        settings.insert(guid, setting);
    }
    settings
}

/// One CSV line's fields, with `"…"` quoting and `""` escapes.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap_or(&mut String::new()).push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

/// Advanced audit subcategories by the first block of their GUID (all end
/// `-69AE-11D9-BED3-505054503030`), with their English names, so that a check
/// reads the same key on a localized Windows.
const AUDIT_SUBCATEGORIES: [(&str, &str); 59] = [
    ("0CCE9210", "Security State Change"),
    ("0CCE9211", "Security System Extension"),
    ("0CCE9212", "System Integrity"),
    ("0CCE9213", "IPsec Driver"),
    ("0CCE9214", "Other System Events"),
    ("0CCE9215", "Logon"),
    ("0CCE9216", "Logoff"),
    ("0CCE9217", "Account Lockout"),
    ("0CCE9218", "IPsec Main Mode"),
    ("0CCE9219", "IPsec Quick Mode"),
    ("0CCE921A", "IPsec Extended Mode"),
    ("0CCE921B", "Special Logon"),
    ("0CCE921C", "Other Logon/Logoff Events"),
    ("0CCE921D", "File System"),
    ("0CCE921E", "Registry"),
    ("0CCE921F", "Kernel Object"),
    ("0CCE9220", "SAM"),
    ("0CCE9221", "Certification Services"),
    ("0CCE9222", "Application Generated"),
    ("0CCE9223", "Handle Manipulation"),
    ("0CCE9224", "File Share"),
    ("0CCE9225", "Filtering Platform Packet Drop"),
    ("0CCE9226", "Filtering Platform Connection"),
    ("0CCE9227", "Other Object Access Events"),
    ("0CCE9228", "Sensitive Privilege Use"),
    ("0CCE9229", "Non Sensitive Privilege Use"),
    ("0CCE922A", "Other Privilege Use Events"),
    ("0CCE922B", "Process Creation"),
    ("0CCE922C", "Process Termination"),
    ("0CCE922D", "DPAPI Activity"),
    ("0CCE922E", "RPC Events"),
    ("0CCE922F", "Audit Policy Change"),
    ("0CCE9230", "Authentication Policy Change"),
    ("0CCE9231", "Authorization Policy Change"),
    ("0CCE9232", "MPSSVC Rule-Level Policy Change"),
    ("0CCE9233", "Filtering Platform Policy Change"),
    ("0CCE9234", "Other Policy Change Events"),
    ("0CCE9235", "User Account Management"),
    ("0CCE9236", "Computer Account Management"),
    ("0CCE9237", "Security Group Management"),
    ("0CCE9238", "Distribution Group Management"),
    ("0CCE9239", "Application Group Management"),
    ("0CCE923A", "Other Account Management Events"),
    ("0CCE923B", "Directory Service Access"),
    ("0CCE923C", "Directory Service Changes"),
    ("0CCE923D", "Directory Service Replication"),
    ("0CCE923E", "Detailed Directory Service Replication"),
    ("0CCE923F", "Credential Validation"),
    ("0CCE9240", "Kerberos Service Ticket Operations"),
    ("0CCE9241", "Other Account Logon Events"),
    ("0CCE9242", "Kerberos Authentication Service"),
    ("0CCE9243", "Network Policy Server"),
    ("0CCE9244", "Detailed File Share"),
    ("0CCE9245", "Removable Storage"),
    ("0CCE9246", "Central Policy Staging"),
    ("0CCE9247", "User / Device Claims"),
    ("0CCE9248", "Plug and Play Events"),
    ("0CCE9249", "Group Membership"),
    ("0CCE924A", "Token Right Adjusted Events"),
];

#[cfg(test)]
mod tests {
    use super::super::{Snapshot, decode};
    use super::*;
    use khien_proto::facts::{IpFamily, Protocol};
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp::parse("2024-11-18T03:00:00Z").unwrap()
    }

    fn host(name: &str) -> Facts {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/hosts/windows")
            .join(name);
        decode(&Snapshot::from_dir(&dir).unwrap(), now())
    }

    fn hardening(facts: &Facts) -> &WindowsHardening {
        &facts.windows.as_ref().unwrap().hardening
    }

    /// Probe errors of the network and hardening sections (protection's are another module's).
    fn errors(facts: &Facts) -> Vec<&str> {
        let ours = |p: &str| !p.starts_with("antivirus") && !p.starts_with("firewall") && !p.starts_with("windows.protection");
        facts.errors.iter().map(|e| e.probe.as_str()).filter(|p| ours(p)).collect()
    }

    fn at(s: &str) -> Option<Timestamp> {
        Some(Timestamp::parse(s).unwrap())
    }

    #[test]
    fn secedit_sections_with_a_stray_bom() {
        let text = "\u{feff}[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordLength = 14\r\nNewGuestName = \"Guest\"\r\n; comment\r\n[Version]\r\nRevision=1\r\n";
        let parsed = parse_secedit(text);
        assert_eq!(parsed["Unicode"]["Unicode"], "yes");
        assert_eq!(parsed["System Access"]["MinimumPasswordLength"], "14");
        assert_eq!(parsed["System Access"]["NewGuestName"], "\"Guest\"");
        assert_eq!(parsed["Version"]["Revision"], "1");
    }

    #[test]
    fn auditpol_csv_by_guid_and_english_name() {
        let csv = "\u{feff}Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting\r\n\r\n\
                   PC,System,Anmelden,{0cce9215-69ae-11d9-bed3-505054503030},Success and Failure,\r\n\
                   PC,System,\"Other, quoted\",{0CCE9999-69AE-11D9-BED3-505054503030},No Auditing,\r\n\
                   PC,System,broken\r\n";
        let settings = parse_auditpol(csv);
        assert_eq!(settings["Logon"], "Success and Failure");
        assert_eq!(settings["{0CCE9215-69AE-11D9-BED3-505054503030}"], "Success and Failure");
        assert_eq!(settings["Other, quoted"], "No Auditing");
        assert_eq!(settings.len(), 4);
    }

    #[test]
    fn w32tm_status() {
        let s = parse_w32tm_status("Leap Indicator: 0(no warning)\nSource: DC01.corp,0x9\n");
        assert_eq!((s.source.as_deref(), s.synchronized), (Some("DC01.corp"), Some(true)));
        let s = parse_w32tm_status("Leap Indicator: 3(not synchronized)\nSource: Local CMOS Clock\n");
        assert_eq!(s.synchronized, Some(false));
        assert_eq!(parse_w32tm_status("Chỉ báo: 0\n").synchronized, None);
    }

    #[test]
    fn product_names_match_whole_names_only() {
        assert!(names_product("Mozilla Firefox (x64 en-US)", "Mozilla Firefox"));
        assert!(names_product("OpenVPN 2.6.12-I001 amd64", "OpenVPN"));
        assert!(names_product("wazuh agent", "Wazuh agent"));
        assert!(!names_product("Mozilla Firefox ESR (x64 vi)", "Mozilla Firefox"));
        assert!(!names_product("OpenVPN Connect", "OpenVPN"));
        assert!(!names_product("Cốc", "Cốc Cốc"));
        assert_eq!(url_host("https://WSUS.corp.khien.vn:8531/x"), "wsus.corp.khien.vn");
        assert_eq!(url_host("http://[fd00::5]:8530"), "fd00::5");
    }

    #[test]
    fn numbers_or_strings_in_registry_values() {
        let raw: Raw = serde_json::from_value(json!({
            "secedit": {"text": "[System Access]\nMinimumPasswordLength = 10\nPasswordComplexity = 0\nLockoutBadCount = 0\n"},
            "rdp": {"Local": {"fDenyTSConnections": "0", "UserAuthentication": 1, "SecurityLayer": "2", "PortNumber": "3389"}, "Policy": {"UserAuthentication": "0"}},
            "autorun": {"NoDriveTypeAutoRun": "0xFF"},
            "update": {"UseWUServer": "1", "WUServer": "http://wsus:8530"},
            "usb": {"UsbStorStart": "4"}
        }))
        .unwrap();
        let mut facts = Facts::default();
        let mut errors = Errors::default();
        apply(&raw, now(), &mut facts, &mut errors);
        let win = &facts.windows.as_ref().unwrap().hardening;
        assert_eq!(
            (win.rdp.enabled, win.rdp.nla, win.rdp.security_layer, win.rdp.port),
            (Some(true), Some(false), Some(2), Some(3389))
        );
        assert_eq!(win.rdp.policy_values, ["UserAuthentication"]);
        assert_eq!(win.autorun.all_drives_disabled, Some(true));
        assert_eq!(win.update_source.use_wsus, Some(true));
        assert!(facts.usb_storage.blocked);
        assert_eq!(facts.password_policy.min_length, Some(10));
        assert_eq!(
            (facts.password_policy.min_classes, facts.password_policy.quality_module.as_deref()),
            (Some(0), None)
        );
        assert_eq!((facts.lockout.deny, facts.lockout.module.as_deref()), (Some(0), None));
    }

    #[test]
    fn a_missing_bitlocker_namespace_means_nothing_is_protected() {
        for error in [
            "Invalid namespace ",
            "InvalidNamespace: Không gian tên không hợp lệ",
            "HRESULT 0x8004100e",
        ] {
            let raw: Raw = serde_json::from_value(json!({"bitlocker": {"error": error}})).unwrap();
            let mut facts = Facts::default();
            let mut errors = Errors::default();
            bitlocker(&raw, &mut facts, &mut errors);
            assert_eq!(
                (facts.disk_encryption.root_encrypted, facts.disk_encryption.all_encrypted),
                (Some(false), Some(false))
            );
            assert!(errors.0.is_empty(), "{error}");
        }
    }

    #[test]
    fn failed_parts_leave_their_facts_unknown() {
        let raw: Raw = serde_json::from_value(json!({
            "secedit": {"error": "Access is denied."},
            "users": {"error": "Access is denied."},
            "bitlocker": {"error": "Access is denied."},
            "smb1": {"ServerError": "Access denied"},
        }))
        .unwrap();
        let mut facts = Facts::default();
        let mut errors = Errors::default();
        apply(&raw, now(), &mut facts, &mut errors);
        assert_eq!(facts.password_policy, Default::default());
        assert_eq!(facts.lockout, Default::default());
        assert!(facts.accounts.local.is_empty());
        assert_eq!(facts.accounts.root_locked, None);
        assert_eq!(facts.disk_encryption, Default::default());
        let win = &facts.windows.as_ref().unwrap().hardening;
        assert_eq!((win.smb1.enabled, win.smb1.server_enabled), (None, None));
        assert_eq!(win.administrator, None);
        assert_eq!(win.rdp, Default::default());
        assert_eq!(win.update_source, Default::default());
        let probes: Vec<&str> = errors.0.iter().map(|e| e.probe.as_str()).collect();
        for path in [
            "password_policy",
            "lockout",
            "accounts.local",
            "disk_encryption",
            "windows.hardening.smb1.server_enabled",
            "windows.hardening.rdp",
            "windows.hardening.update_source",
            "host.os",
            "directory",
            "time_sync",
            "packages.installed",
        ] {
            assert!(probes.contains(&path), "{path} missing from {probes:?}");
        }
        let message = &errors.0.iter().find(|e| e.probe == "password_policy").unwrap().message;
        assert_eq!(message, "secedit /export: Access is denied.");
    }

    #[test]
    fn a_missing_section_leaves_every_hardening_fact_empty() {
        let mut facts = Facts::default();
        let mut errors = Errors::default();
        apply(&Raw::default(), now(), &mut facts, &mut errors);
        assert_eq!(facts, Facts::default());
        assert_eq!(errors.0.len(), PATHS.len());
    }

    #[test]
    fn win10_defender_weak_workgroup_machine() {
        let f = host("win10-defender");
        let w = hardening(&f);
        assert_eq!(f.host.hostname, "KT-PC01");
        assert_eq!(f.host.os.version_id.as_deref(), Some("10.0.19045.3570"));
        assert_eq!(f.host.os.version.as_deref(), Some("22H2"));
        assert_eq!((f.host.role, f.host.arch.as_str()), (Role::Workstation, "x86_64"));
        assert_eq!(w.os.product.as_deref(), Some("windows-10"));
        assert_eq!(
            f.network
                .interfaces
                .iter()
                .map(|i| (i.name.as_str(), i.kind.as_str()))
                .collect::<Vec<_>>(),
            [
                ("Ethernet", "ethernet"),
                ("Wi-Fi", "wireless"),
                ("Loopback Pseudo-Interface 1", "loopback")
            ]
        );
        assert_eq!(f.network.interfaces[0].mac.as_deref(), Some("e0:d5:5e:1a:2b:3c"));
        assert_eq!(f.network.interfaces[0].addresses[0].address, "fe80::9d3c:5a1e:1b2f:4c7d");
        assert_eq!(f.network.default_routes[0].gateway.as_deref(), Some("192.168.1.1"));
        // The disconnected Wi-Fi's resolver is configured but the adapter is administratively up.
        assert_eq!(f.network.dns.resolvers, ["192.168.1.1", "8.8.8.8", "192.168.0.1"]);
        let ftp = f.network.listening.iter().find(|l| l.port == 21).unwrap();
        assert_eq!((ftp.pid, ftp.process.as_deref()), (Some(3344), Some("FileZilla Server")));
        let tftp = f.network.listening.iter().find(|l| l.port == 69).unwrap();
        assert_eq!((tftp.protocol, tftp.process.as_deref()), (Protocol::Udp, None));
        assert_eq!(f.password_policy.min_length, Some(0));
        assert_eq!(f.password_policy.min_classes, Some(0));
        assert_eq!(f.password_policy.max_days, Some(42));
        assert_eq!(
            (f.lockout.deny, f.lockout.module.as_deref(), f.lockout.unlock_time_seconds),
            (Some(0), None, None)
        );
        assert_eq!(w.guest.as_ref().map(|g| (g.enabled, g.renamed)), Some((Some(true), false)));
        assert_eq!(w.administrator.as_ref().map(|a| (a.enabled, a.renamed)), Some((Some(true), false)));
        assert_eq!(f.accounts.root_locked, Some(false));
        assert_eq!(f.accounts.autologin, ["winlogon:KT-PC01\\ketoan"]);
        assert_eq!(w.autologon.password_in_registry, Some(true));
        assert_eq!(f.accounts.admins, ["Administrator", "ketoan"]);
        let ketoan = f.accounts.local.iter().find(|a| a.name == "ketoan").unwrap();
        assert_eq!(
            (ketoan.uid, ketoan.admin, ketoan.password.as_str(), ketoan.max_days),
            (1001, true, "set", Some(-1))
        );
        assert_eq!(ketoan.last_login, at("2024-11-18T00:42:05Z"));
        let guest = f.accounts.local.iter().find(|a| a.name == "Guest").unwrap();
        assert_eq!(guest.password, "unknown");
        assert_eq!(w.password_not_required, ["Guest"]);
        assert!(w.password_never_expires.contains(&"ketoan".to_string()));
        // A user's own secure screen saver is not policy.
        assert_eq!((f.desktop.idle_delay_seconds, f.desktop.lock_enabled), (Some(0), Some(false)));
        assert_eq!(f.desktop.autorun_never, Some(false));
        assert_eq!(w.audit_policy["Logon"], "Success and Failure");
        assert_eq!(w.audit_policy["Process Creation"], "No Auditing");
        assert_eq!(
            (f.disk_encryption.root_encrypted, f.disk_encryption.all_encrypted),
            (Some(false), Some(false))
        );
        assert_eq!(f.disk_encryption.volumes[0].scheme, None);
        assert!(!f.usb_storage.blocked);
        assert_eq!(w.smb1.enabled, Some(true));
        assert_eq!(
            (w.rdp.enabled, w.rdp.nla, w.rdp.security_layer, w.rdp.port, w.rdp.source.as_deref()),
            (Some(true), Some(false), Some(0), Some(3389), Some("local"))
        );
        assert_eq!((w.update_source.use_wsus, w.update_source.wsus_url.as_deref()), (Some(false), None));
        assert_eq!(
            f.packages
                .repositories
                .iter()
                .map(|r| (r.host.as_str(), r.enabled))
                .collect::<Vec<_>>(),
            [("update.microsoft.com", true)]
        );
        assert_eq!(w.newest_hotfix.as_ref().map(|h| h.id.as_str()), Some("KB5031356"));
        assert_eq!(f.packages.last_update, at("2023-10-10T17:00:00Z"));
        assert_eq!((f.packages.manager.as_deref(), f.packages.count), (Some("registry"), 7));
        assert!(f.packages.digest.is_some());
        assert_eq!(
            f.software.browsers.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["google-chrome", "microsoft-edge"]
        );
        assert_eq!(
            f.software.remote_access.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["teamviewer"]
        );
        assert!(!f.directory.joined);
        assert_eq!(w.domain_role, Some(0));
        assert_eq!((f.time_sync.running, f.time_sync.synchronized), (true, Some(true)));
        assert_eq!(f.time_sync.servers, ["time.windows.com"]);
        assert_eq!(errors(&f), Vec::<&str>::new());
    }

    #[test]
    fn win11_defender_hardened_domain_member() {
        let f = host("win11-defender");
        let w = hardening(&f);
        assert_eq!(f.host.os.version_id.as_deref(), Some("10.0.22631.4460"));
        assert_eq!(f.host.os.name.as_deref(), Some("Microsoft Windows 11 Enterprise"));
        assert_eq!(w.os.product.as_deref(), Some("windows-11"));
        assert_eq!((w.os.build, w.os.ubr), (Some(22631), Some(4460)));
        assert_eq!(f.host.boot_time, at("2024-11-18T00:55:31Z"));
        assert_eq!(f.host.uptime_seconds, Some(7469));
        // The disabled Wi-Fi adapter's resolver is not in use.
        assert_eq!(f.network.dns.resolvers, ["10.20.0.10", "10.20.0.11"]);
        assert_eq!(f.network.dns.search, ["corp.khien.vn"]);
        assert!(!f.network.interfaces.iter().find(|i| i.name == "Wi-Fi").unwrap().up);
        assert_eq!(f.password_policy.min_length, Some(14));
        assert_eq!(
            (f.password_policy.min_classes, f.password_policy.quality_module.as_deref()),
            (Some(3), Some("passfilt"))
        );
        assert_eq!(
            (f.password_policy.max_days, f.password_policy.min_days, f.password_policy.history),
            (Some(60), Some(1), Some(24))
        );
        assert_eq!(f.password_policy.sources, ["secedit"]);
        assert_eq!(
            (f.lockout.deny, f.lockout.unlock_time_seconds, f.lockout.fail_interval_seconds),
            (Some(5), Some(900), Some(900))
        );
        assert_eq!(f.lockout.module.as_deref(), Some("windows"));
        let admin = w.administrator.as_ref().unwrap();
        assert_eq!(
            (admin.name.as_str(), admin.enabled, admin.renamed),
            ("qtv-local", Some(false), true)
        );
        assert_eq!(w.guest.as_ref().unwrap().enabled, Some(false));
        assert_eq!(f.accounts.root_locked, Some(true));
        assert!(f.accounts.autologin.is_empty());
        assert_eq!(
            f.accounts.admins,
            ["CORP\\Domain Admins", "CORP\\GS-Workstation-Admins", "qtv-local"]
        );
        assert_eq!(f.accounts.admin_groups, ["Administrators"]);
        assert_eq!(w.admin_members[1].source.as_deref(), Some("ActiveDirectory"));
        assert_eq!(f.accounts.local.iter().find(|a| a.name == "qtv-local").unwrap().max_days, Some(60));
        assert_eq!(
            (f.desktop.idle_delay_seconds, f.desktop.lock_enabled, f.desktop.lock_delay_seconds),
            (Some(600), Some(true), Some(0))
        );
        assert_eq!(w.idle_lock.inactivity_timeout_seconds, Some(900));
        assert!(f.desktop.locked_keys.contains(&INACTIVITY_KEY.to_string()));
        assert_eq!(f.desktop.autorun_never, Some(true));
        assert_eq!(w.audit_policy["Process Creation"], "Success");
        assert_eq!(w.audit_policy["{0CCE923F-69AE-11D9-BED3-505054503030}"], "Success and Failure");
        assert_eq!(w.audit_policy.len(), 48);
        assert_eq!(
            f.disk_encryption
                .volumes
                .iter()
                .map(|v| (v.mount.as_str(), v.encrypted))
                .collect::<Vec<_>>(),
            [("C:", Some(true)), ("D:", Some(true))]
        );
        assert_eq!(f.disk_encryption.volumes[0].scheme.as_deref(), Some("bitlocker"));
        assert_eq!(
            (f.disk_encryption.root_encrypted, f.disk_encryption.all_encrypted),
            (Some(true), Some(true))
        );
        assert!(f.usb_storage.blocked && f.usb_storage.module_disabled);
        assert_eq!((w.smb1.enabled, w.smb1.feature_state.as_deref()), (Some(false), Some("Disabled")));
        assert_eq!(
            (w.rdp.enabled, w.rdp.nla, w.rdp.security_layer, w.rdp.source.as_deref()),
            (Some(false), Some(true), Some(2), Some("policy"))
        );
        assert_eq!(w.rdp.policy_values, ["UserAuthentication", "SecurityLayer"]);
        assert_eq!((w.autorun.no_drive_type_autorun, w.autorun.no_autorun), (Some(255), Some(true)));
        assert_eq!(
            (w.update_source.wsus_url.as_deref(), w.update_source.use_wsus),
            (Some("https://wsus.corp.khien.vn:8531"), Some(true))
        );
        assert_eq!(w.update_source.au_options, Some(4));
        assert_eq!(
            f.packages
                .repositories
                .iter()
                .map(|r| (r.host.as_str(), r.enabled))
                .collect::<Vec<_>>(),
            [("wsus.corp.khien.vn", true), ("update.microsoft.com", false)]
        );
        assert_eq!(
            w.newest_hotfix,
            Some(Hotfix {
                id: "KB5046633".into(),
                installed_on: at("2024-11-12T17:00:00Z")
            })
        );
        assert_eq!(w.hotfix_count, Some(6));
        assert_eq!(
            f.software
                .security_agents
                .iter()
                .map(|s| (s.id.as_str(), s.version.as_deref()))
                .collect::<Vec<_>>(),
            [("wazuh-agent", Some("4.9.2"))]
        );
        assert_eq!(
            f.software.vpn_clients.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            Vec::<&str>::new()
        );
        assert_eq!(
            f.software.browsers.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["firefox-esr", "microsoft-edge"]
        );
        assert!(
            f.packages
                .installed
                .iter()
                .any(|p| p.name == "Microsoft Edge" && p.arch.as_deref() == Some("x86"))
        );
        assert!(f.directory.joined);
        assert_eq!(
            (f.directory.kind.as_deref(), f.directory.domains.clone()),
            (Some("ad"), vec!["corp.khien.vn".to_string()])
        );
        assert_eq!(w.domain_role, Some(1));
        assert_eq!(
            (f.time_sync.servers.clone(), f.time_sync.synchronized),
            (vec!["DC01.corp.khien.vn".to_string()], Some(true))
        );
        assert_eq!(errors(&f), Vec::<&str>::new());
    }

    #[test]
    fn server2019_defender_member_server_without_bitlocker() {
        let f = host("server2019-defender");
        let w = hardening(&f);
        assert_eq!(f.host.role, Role::Server);
        assert_eq!(f.host.os.version_id.as_deref(), Some("10.0.17763.6414"));
        // No DisplayVersion before 20H2: ReleaseId instead.
        assert_eq!(f.host.os.version.as_deref(), Some("1809"));
        assert_eq!(w.os.product.as_deref(), Some("server-2019"));
        assert_eq!(
            (w.rdp.enabled, w.rdp.nla, w.rdp.security_layer, w.rdp.port),
            (Some(true), Some(true), Some(1), Some(3390))
        );
        assert!(f.network.listening.iter().any(|l| l.port == 3390 && l.protocol == Protocol::Tcp));
        assert_eq!(f.network.default_routes[0].metric, 256);
        assert_eq!(
            w.administrator.as_ref().map(|a| (a.name.as_str(), a.enabled, a.renamed)),
            Some(("srvadmin", Some(true), true))
        );
        assert_eq!(f.accounts.admins, ["CORP\\Domain Admins", "srvadmin", "svc_backup"]);
        assert_eq!(w.password_never_expires, ["svc_backup"]);
        assert_eq!(
            (f.lockout.deny, f.lockout.unlock_time_seconds, f.lockout.fail_interval_seconds),
            (Some(10), Some(1800), Some(1800))
        );
        assert_eq!((f.desktop.idle_delay_seconds, f.desktop.lock_enabled), (Some(1800), Some(true)));
        assert_eq!(
            (w.autorun.no_drive_type_autorun, w.autorun.all_drives_disabled),
            (Some(145), Some(false))
        );
        // No BitLocker feature on this server: nothing is BitLocker-protected (not an unreadable fact).
        assert!(f.disk_encryption.volumes.is_empty());
        assert_eq!(
            (f.disk_encryption.root_encrypted, f.disk_encryption.all_encrypted),
            (Some(false), Some(false))
        );
        assert_eq!(w.update_source.use_wsus, Some(true));
        assert_eq!(f.packages.repositories[0].host, "wsus01.corp.khien.vn");
        assert_eq!(f.software.backup_agents.len(), 0);
        assert_eq!(w.domain_role, Some(3));
        assert_eq!(errors(&f), Vec::<&str>::new());
    }

    #[test]
    fn server2022_defender_server_core() {
        let f = host("server2022-defender");
        let w = hardening(&f);
        assert_eq!(w.os.product.as_deref(), Some("server-2022"));
        assert_eq!(w.os.installation_type.as_deref(), Some("Server Core"));
        assert!(!f.desktop.installed);
        assert_eq!(f.host.os.version_id.as_deref(), Some("10.0.20348.2849"));
        assert_eq!(f.lockout.unlock_time_seconds, Some(0));
        assert_eq!(
            (w.rdp.enabled, w.rdp.nla, w.rdp.source.as_deref()),
            (Some(true), Some(true), Some("policy"))
        );
        assert_eq!((w.smb1.enabled, w.smb1.feature_state.as_deref()), (Some(false), Some("Absent")));
        assert_eq!(
            (f.disk_encryption.root_encrypted, f.disk_encryption.all_encrypted),
            (Some(true), Some(true))
        );
        assert!(f.usb_storage.module_disabled && f.usb_storage.blocked);
        assert_eq!(w.administrator.as_ref().map(|a| (a.enabled, a.renamed)), Some((Some(true), false)));
        assert_eq!(w.newest_hotfix.as_ref().map(|h| h.id.as_str()), Some("KB5046616"));
        assert_eq!(f.network.interfaces[0].kind, "ethernet");
        assert_eq!(errors(&f), Vec::<&str>::new());
    }

    #[test]
    fn win11_kaspersky_workgroup_laptop() {
        let f = host("win11-kaspersky");
        let w = hardening(&f);
        assert_eq!(w.os.product.as_deref(), Some("windows-11"));
        assert_eq!(f.host.os.pretty_name.as_deref(), Some("Microsoft Windows 11 Pro 24H2"));
        assert_eq!(
            f.network
                .default_routes
                .iter()
                .map(|r| (r.family, r.gateway.as_deref()))
                .collect::<Vec<_>>(),
            [(IpFamily::Ipv4, Some("192.168.10.1")), (IpFamily::Ipv6, Some("fe80::1"))]
        );
        assert_eq!(f.network.dns.resolvers, ["192.168.10.1", "2402:800:20ff:5555::1"]);
        let volume = &f.disk_encryption.volumes[0];
        // Encrypting: BitLocker is there, protection is not on yet.
        assert_eq!((volume.encrypted, volume.scheme.as_deref()), (Some(false), Some("bitlocker")));
        assert_eq!(f.disk_encryption.root_encrypted, Some(false));
        // Read denied but write allowed is not blocked.
        assert!(!f.usb_storage.blocked);
        assert_eq!(w.usb.removable_disks_deny_read, Some(true));
        // One user's policy locks, the other's does not: not every session locks.
        assert_eq!((f.desktop.idle_delay_seconds, f.desktop.lock_enabled), (Some(0), Some(false)));
        assert_eq!(w.password_not_required, ["thuctap"]);
        assert_eq!(f.accounts.local.iter().find(|a| a.name == "thuctap").unwrap().password, "unknown");
        assert_eq!(f.password_policy.min_length, Some(8));
        assert_eq!(f.lockout.unlock_time_seconds, Some(600));
        assert_eq!(
            f.software.security_agents.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["kaspersky-network-agent"]
        );
        assert_eq!(
            f.software.browsers.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["microsoft-edge", "coccoc"]
        );
        assert_eq!((f.time_sync.running, f.time_sync.synchronized), (false, Some(false)));
        assert_eq!(errors(&f), Vec::<&str>::new());
    }

    #[test]
    fn server2022_bkav_partial_failures() {
        let f = host("server2022-bkav");
        let w = hardening(&f);
        assert_eq!(w.os.product.as_deref(), Some("server-2022"));
        assert!(w.audit_policy.is_empty());
        assert_eq!(f.disk_encryption, Default::default());
        assert!(f.network.dns.resolvers.is_empty());
        assert_eq!(w.newest_hotfix, None);
        assert_eq!(f.packages.last_update, None);
        assert!(f.time_sync.daemons.is_empty());
        // SMB1 server setting unreadable, feature installed: not known.
        assert_eq!(
            (w.smb1.server_enabled, w.smb1.enabled, w.smb1.feature_state.as_deref()),
            (None, None, Some("Enabled"))
        );
        assert_eq!((w.rdp.nla, w.rdp.port), (Some(false), Some(13389)));
        assert_eq!(w.update_source.auto_update_disabled, Some(true));
        assert_eq!(
            f.accounts.admins,
            ["Administrator", "S-1-5-21-2780453312-1188520143-3021185720-1502", "vanhanh"]
        );
        assert!(
            f.network
                .listening
                .iter()
                .any(|l| l.port == 23 && l.process.as_deref() == Some("tlntsvr"))
        );
        assert!(!f.network.interfaces.iter().find(|i| i.name == "Ethernet 3").unwrap().up);
        assert_eq!(
            f.software.security_agents.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["bkav"]
        );
        // InactivityTimeoutSecs 0 is no limit.
        assert_eq!((f.desktop.idle_delay_seconds, f.desktop.lock_enabled), (Some(0), Some(false)));
        assert_eq!(
            errors(&f),
            [
                "network.dns",
                "network.dns.search",
                "windows.hardening.audit_policy",
                "disk_encryption",
                "windows.hardening.smb1.server_enabled",
                "packages.last_update",
                "windows.hardening.newest_hotfix",
                "time_sync",
            ]
        );
    }

    #[test]
    fn win10_av_disabled_out_of_support() {
        let f = host("win10-av-disabled");
        let w = hardening(&f);
        assert_eq!(f.host.os.version_id.as_deref(), Some("10.0.19044.2965"));
        assert_eq!(w.os.display_version.as_deref(), Some("21H2"));
        assert_eq!(f.password_policy.max_days, Some(-1));
        assert_eq!(
            w.administrator.as_ref().map(|a| (a.name.as_str(), a.enabled, a.renamed)),
            Some(("admin", Some(true), true))
        );
        assert_eq!(f.accounts.autologin, ["winlogon:letan"]);
        assert_eq!(w.autologon.password_in_registry, Some(false));
        assert_eq!((f.desktop.idle_delay_seconds, f.desktop.lock_enabled), (Some(1200), Some(true)));
        assert_eq!(f.desktop.autorun_never, Some(true));
        assert_eq!(w.autorun.no_drive_type_autorun, Some(255));
        assert!(f.usb_storage.blocked && !f.usb_storage.module_disabled);
        assert!(f.disk_encryption.volumes.is_empty());
        assert_eq!(f.disk_encryption.root_encrypted, None);
        let empty = f
            .errors
            .iter()
            .find(|e| e.probe == "disk_encryption")
            .expect("an empty volume list is said");
        assert_eq!(empty.message, "Win32_EncryptableVolume: no volume listed");
        // Feature installed but the server refuses SMB1.
        assert_eq!(w.smb1.enabled, Some(false));
        assert_eq!(w.audit_policy["Logon"], "No Auditing");
        assert_eq!(f.packages.last_update, at("2023-05-08T17:00:00Z"));
        assert_eq!(f.network.dns.resolvers, ["1.1.1.1", "8.8.4.4"]);
        assert_eq!((f.time_sync.running, f.time_sync.synchronized), (true, Some(false)));
        assert_eq!(errors(&f), ["disk_encryption"]);
    }

    #[test]
    fn win11_stale_signatures_suspended_bitlocker_and_vpn() {
        let f = host("win11-stale-signatures");
        let w = hardening(&f);
        assert_eq!(w.os.product.as_deref(), Some("windows-11"));
        assert_eq!(f.host.os.version_id.as_deref(), Some("10.0.22621.2283"));
        let vpn = f.network.interfaces.iter().find(|i| i.name == "Ethernet 4").unwrap();
        assert_eq!((vpn.kind.as_str(), vpn.mtu), ("virtual", Some(1400)));
        assert_eq!(
            f.network
                .default_routes
                .iter()
                .map(|r| (r.gateway.as_deref(), r.interface.as_deref()))
                .collect::<Vec<_>>(),
            [(None, Some("Ethernet 4")), (Some("192.168.100.1"), Some("Ethernet"))]
        );
        assert_eq!(f.network.dns.resolvers, ["10.20.0.10", "192.168.100.1"]);
        // Suspended: fully encrypted, protection off.
        assert_eq!(
            (
                f.disk_encryption.volumes[0].encrypted,
                f.disk_encryption.volumes[0].scheme.as_deref()
            ),
            (Some(false), Some("bitlocker"))
        );
        assert_eq!(f.disk_encryption.all_encrypted, Some(false));
        assert!(!f.usb_storage.blocked);
        assert_eq!((w.rdp.enabled, w.rdp.source.as_deref()), (Some(false), Some("policy")));
        assert_eq!((w.update_source.wsus_url.is_some(), w.update_source.use_wsus), (true, Some(false)));
        assert_eq!(
            f.packages
                .repositories
                .iter()
                .map(|r| (r.host.as_str(), r.enabled))
                .collect::<Vec<_>>(),
            [("wsus.corp.khien.vn", false), ("update.microsoft.com", true)]
        );
        assert_eq!(f.packages.last_update, at("2023-09-11T17:00:00Z"));
        assert_eq!(f.accounts.admins, ["Administrator", "CORP\\Domain Admins", "CORP\\pham.quoc.huy"]);
        assert!(f.accounts.local.iter().all(|a| a.password == "locked"));
        assert_eq!(errors(&f), Vec::<&str>::new());
    }
}
