//! Windows settings for the catalogue's checks: policies, services, updates.
//!
//! What the neutral sections already say (password and lockout policy,
//! accounts, disk encryption, USB storage, directory) is not repeated here;
//! this holds what only Windows has, or the Windows detail behind a neutral
//! value. Unknown stays `None`, as everywhere in the fact model.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowsHardening {
    pub os: WindowsOs,
    /// `Win32_ComputerSystem.DomainRole`: 0 standalone workstation, 1 member
    /// workstation, 2 standalone server, 3 member server, 4 backup and 5 primary domain controller.
    pub domain_role: Option<u32>,
    /// The built-in administrator, found by its RID 500 whatever its name.
    pub administrator: Option<BuiltinAccount>,
    /// The built-in guest, found by its RID 501.
    pub guest: Option<BuiltinAccount>,
    /// Enabled local accounts that may have an empty password (`PasswordRequired` off), sorted.
    pub password_not_required: Vec<String>,
    /// Enabled local accounts whose password never expires, sorted.
    pub password_never_expires: Vec<String>,
    /// Members of the local Administrators group (SID `S-1-5-32-544`), domain groups not expanded.
    pub admin_members: Vec<GroupMember>,
    pub autologon: Autologon,
    /// `[System Access]` of `secedit /export` as written (`MinimumPasswordLength` → `14`).
    pub security_policy: BTreeMap<String, String>,
    /// Advanced audit policy (`auditpol /get /category:*`): subcategory →
    /// `Success`, `Failure`, `Success and Failure` or `No Auditing`. Every
    /// subcategory is there twice: under its GUID as auditpol prints it
    /// (`{0CCE9215-69AE-11D9-BED3-505054503030}`) and under its English name
    /// (`Logon`), also on a localized Windows. The setting is auditpol's text,
    /// which a localized Windows translates.
    pub audit_policy: BTreeMap<String, String>,
    pub idle_lock: IdleLock,
    pub smb1: Smb1,
    pub rdp: Rdp,
    pub autorun: Autorun,
    pub update_source: UpdateSource,
    /// The most recently installed hotfix (`Get-HotFix`).
    pub newest_hotfix: Option<Hotfix>,
    pub hotfix_count: Option<u32>,
    pub usb: UsbPolicy,
}

/// Version, build and edition; `facts.host.os` has the same in neutral form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowsOs {
    /// `Win32_OperatingSystem.Caption`, e.g. `Microsoft Windows 11 Enterprise`.
    pub caption: Option<String>,
    /// `Win32_OperatingSystem.Version`, e.g. `10.0.22631`.
    pub version: Option<String>,
    pub build: Option<u32>,
    /// Update build revision (`UBR`): the patch level within the build.
    pub ubr: Option<u32>,
    /// `DisplayVersion` (`23H2`), or `ReleaseId` on releases before 20H2.
    pub display_version: Option<String>,
    /// `EditionID`: `Enterprise`, `Professional`, `ServerStandard`, …
    pub edition_id: Option<String>,
    /// `Client`, `Server` or `Server Core`.
    pub installation_type: Option<String>,
    /// `Win32_OperatingSystem.ProductType`: 1 workstation, 2 domain controller, 3 server.
    pub product_type: Option<u32>,
    /// The product line, from product type and build (the product name says
    /// "Windows 10" on Windows 11): `windows-10`, `windows-11`, `server-2016`,
    /// `server-2019`, `server-2022`, `server-2025`; `windows` or `server` with
    /// an unknown build.
    pub product: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuiltinAccount {
    pub name: String,
    pub sid: String,
    pub enabled: Option<bool>,
    /// The name is no longer the English default (`Administrator`, `Guest`).
    /// A localized default name counts as renamed.
    pub renamed: bool,
    pub last_logon: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupMember {
    /// `MACHINE\user` or `DOMAIN\group`, as Windows resolves it.
    pub name: String,
    pub sid: String,
    /// `User` or `Group`.
    pub class: Option<String>,
    /// `Local`, `ActiveDirectory`, `AzureAD`, `MicrosoftAccount`.
    pub source: Option<String>,
}

/// Winlogon's automatic log-on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Autologon {
    /// `AutoAdminLogon` is `1`.
    pub enabled: Option<bool>,
    /// `DefaultDomainName\DefaultUserName`, or the user name alone.
    pub user: Option<String>,
    /// A `DefaultPassword` value exists (in clear text); its value is never read.
    pub password_in_registry: Option<bool>,
}

/// What locks an idle session, as policy sets it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdleLock {
    /// Machine inactivity limit (`…\Policies\System\InactivityTimeoutSecs`), seconds; `None` when not set.
    pub inactivity_timeout_seconds: Option<u64>,
    /// Screen-saver settings per scope: the machine policy and each loaded user profile.
    pub screen_savers: Vec<ScreenSaver>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreenSaver {
    /// `machine-policy`, `user-policy:<SID>` or `user:<SID>` (the user's own setting, which the user can change).
    pub scope: String,
    pub active: Option<bool>,
    /// A password is asked to leave the screen saver.
    pub secure: Option<bool>,
    pub timeout_seconds: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Smb1 {
    /// The SMB server accepts SMB1 (`Get-SmbServerConfiguration`).
    pub server_enabled: Option<bool>,
    /// State of the `SMB1Protocol` optional feature: `Enabled`, `Disabled` or `Absent` (payload removed).
    pub feature_state: Option<String>,
    /// SMB1 is available: the server accepts it, or the feature is installed when the server was not read.
    pub enabled: Option<bool>,
}

/// Remote Desktop, with group policy taking precedence over local settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rdp {
    /// Connections are allowed (`fDenyTSConnections` is 0).
    pub enabled: Option<bool>,
    /// Network Level Authentication is required (`UserAuthentication` is 1).
    pub nla: Option<bool>,
    /// `SecurityLayer`: 0 RDP, 1 negotiate, 2 TLS.
    pub security_layer: Option<u32>,
    /// `RDP-Tcp\PortNumber`.
    pub port: Option<u16>,
    /// `policy` when a group policy value decided one of the above, else `local`.
    pub source: Option<String>,
    /// The values that came from group policy.
    pub policy_values: Vec<String>,
}

/// AutoRun and AutoPlay machine policy (`…\Policies\Explorer`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Autorun {
    /// `NoDriveTypeAutoRun` bit mask; `None` when not set (Windows then uses 0x91).
    pub no_drive_type_autorun: Option<u32>,
    /// `NoAutorun` is 1: no autorun commands run.
    pub no_autorun: Option<bool>,
    /// AutoRun is off for every drive type (`NoDriveTypeAutoRun` 0xFF or `NoAutorun` 1).
    pub all_drives_disabled: Option<bool>,
}

/// Where Windows Update takes updates from (`…\Policies\Microsoft\Windows\WindowsUpdate`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateSource {
    /// `WUServer`: the WSUS server.
    pub wsus_url: Option<String>,
    /// `WUStatusServer`.
    pub wsus_status_url: Option<String>,
    /// `AU\UseWUServer` is 1: the WSUS server is used. `false` when the policy is not set.
    pub use_wsus: Option<bool>,
    /// `AU\NoAutoUpdate` is 1.
    pub auto_update_disabled: Option<bool>,
    /// `AU\AUOptions`: 2 notify, 3 download, 4 install on schedule, 5 local admin chooses.
    pub au_options: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hotfix {
    /// `KB5044284`.
    pub id: String,
    /// The day it was installed (`InstalledOn`, local midnight as UTC).
    pub installed_on: Option<Timestamp>,
}

/// USB mass-storage settings behind `facts.usb_storage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsbPolicy {
    /// `Services\USBSTOR\Start`: 3 on demand (default), 4 disabled.
    pub usbstor_start: Option<u32>,
    /// `RemovableStorageDevices\Deny_All` is 1: every removable storage class is denied.
    pub deny_all: Option<bool>,
    /// Removable disks class (`{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}`): `Deny_Read` and `Deny_Write` are 1.
    pub removable_disks_deny_read: Option<bool>,
    pub removable_disks_deny_write: Option<bool>,
}
