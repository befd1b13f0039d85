//! Who can log in and how: local accounts, password and lockout policy,
//! second factors, session timeouts and the SSH server's effective settings.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accounts {
    /// Local accounts from the account database (`/etc/passwd` and `/etc/shadow`).
    pub local: Vec<Account>,
    /// Names of every account with UID 0.
    pub uid0: Vec<String>,
    /// UIDs that more than one local account uses, as `1000: alice, bob`,
    /// sorted. Found by the agent: a check comparing every pair of accounts
    /// in CEL cost the collector milliseconds per report.
    pub shared_uids: Vec<String>,
    /// The built-in superuser cannot log in with a password.
    pub root_locked: Option<bool>,
    /// Groups that grant administrator rights and exist here (`sudo`, `wheel`, `admin`).
    pub admin_groups: Vec<String>,
    /// Members of those groups, directly or by primary group, sorted.
    pub admins: Vec<String>,
    /// Users (`alice`) and groups (`%ops`) granted rights in sudoers; `None` when sudoers is unreadable.
    pub sudoers: Option<Vec<String>>,
    /// `INACTIVE` of `/etc/default/useradd`: days after password expiry before a new account is locked; `-1` is never.
    pub default_inactive_days: Option<i64>,
    /// Display managers set to log a user in without a password, as `manager:user`.
    pub autologin: Vec<String>,
    /// The password hashes could be read; without them, password states are `unknown`.
    pub shadow_readable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub shell: String,
    /// The shell allows an interactive login (not `nologin`, `false` or `sync`).
    pub interactive: bool,
    /// `set` (a usable password), `locked` (`!` or `*`), `empty` (no password needed) or `unknown`.
    pub password: String,
    /// `yescrypt`, `sha512`, `sha256`, `bcrypt`, `md5`, `des`, … for a set password.
    pub hash_scheme: Option<String>,
    pub password_changed: Option<Timestamp>,
    /// Shadow fields: days a password stays valid, days before it may change, inactivity after expiry.
    pub max_days: Option<i64>,
    pub min_days: Option<i64>,
    pub inactive_days: Option<i64>,
    pub expires: Option<Timestamp>,
    /// The account is expired (shadow field 8 in the past).
    pub expired: bool,
    /// Member of an administrator group.
    pub admin: bool,
    /// Last login from lastlog; `None` when never or unknown.
    pub last_login: Option<Timestamp>,
}

/// Password rules the system enforces when a password is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// The quality module in the password stack (`pam_pwquality`, `pam_cracklib`, `pam_passwdqc`); `None` when none.
    pub quality_module: Option<String>,
    /// Effective minimum length: module argument, else its configuration file, else the module default.
    pub min_length: Option<u32>,
    /// Character classes required: the larger of `minclass` and the classes with a negative credit.
    pub min_classes: Option<u32>,
    /// Classes required one by one (negative credits): `digit`, `upper`, `lower`, `other`.
    pub required_classes: Vec<String>,
    /// The rules also bind root.
    pub enforce_for_root: Option<bool>,
    /// `PASS_MAX_DAYS`, `PASS_MIN_DAYS`, `PASS_WARN_AGE` of `login.defs` (defaults for new accounts).
    pub max_days: Option<i64>,
    pub min_days: Option<i64>,
    pub warn_days: Option<i64>,
    /// Previous passwords that may not be reused (`pam_pwhistory` or `pam_unix remember=`).
    pub history: Option<u32>,
    /// Hash method for new passwords (`ENCRYPT_METHOD` or the `pam_unix`
    /// argument), lower case, with crypt's aliases folded: `yescrypt`,
    /// `gost-yescrypt`, `sha512`, `sha256`, `bcrypt` (blowfish), `md5`, `des`.
    pub hash_method: Option<String>,
    /// Files the values came from.
    pub sources: Vec<String>,
}

/// Lockout after failed logins.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lockout {
    /// `pam_faillock` or `pam_tally2` in the authentication stack; `None` when none.
    pub module: Option<String>,
    /// Failures before the account locks.
    pub deny: Option<u32>,
    /// Seconds before it unlocks by itself; `0` means only an administrator unlocks it.
    pub unlock_time_seconds: Option<u64>,
    /// Window in which failures are counted, seconds.
    pub fail_interval_seconds: Option<u64>,
    pub even_deny_root: Option<bool>,
    pub sources: Vec<String>,
}

/// Second factors wired into authentication.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mfa {
    /// Second-factor PAM modules in use (`pam_u2f`, `pam_google_authenticator`, `pam_oath`, `pam_duo`, …).
    pub modules: Vec<String>,
    /// PAM services whose stack includes one of them (`sshd`, `sudo`, `login`, `common-auth`, …).
    pub services: Vec<String>,
}

/// Idle timeouts outside the desktop.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Session {
    /// The smallest system-wide shell `TMOUT`, seconds.
    pub shell_timeout_seconds: Option<u64>,
    /// `TMOUT` is made read-only, so a user cannot lift it.
    pub shell_timeout_readonly: Option<bool>,
    pub sources: Vec<String>,
}

/// The graphical desktop's system-wide settings (GNOME dconf defaults).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Desktop {
    /// A graphical desktop is installed.
    pub installed: bool,
    /// Desktops found: `gnome`, `kde`, `xfce`, `cinnamon`, `mate`, `lxqt`.
    pub environments: Vec<String>,
    /// `org/gnome/desktop/session/idle-delay`, seconds; 0 means never idle.
    pub idle_delay_seconds: Option<u64>,
    /// `org/gnome/desktop/screensaver/lock-enabled`.
    pub lock_enabled: Option<bool>,
    /// `org/gnome/desktop/screensaver/lock-delay`, seconds after the screen blanks.
    pub lock_delay_seconds: Option<u64>,
    /// `org/gnome/desktop/media-handling/autorun-never`.
    pub autorun_never: Option<bool>,
    /// dconf keys locked against user changes, e.g. `/org/gnome/desktop/session/idle-delay`.
    pub locked_keys: Vec<String>,
    pub sources: Vec<String>,
}

/// The SSH server as its configuration files make it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ssh {
    /// An SSH server is installed (`sshd` binary or `sshd_config`).
    pub installed: bool,
    pub running: bool,
    /// Global settings, lower-case keyword → first value obtained, after expanding `Include`.
    pub settings: BTreeMap<String, String>,
    /// `Match` blocks, which override the global settings for the connections they match.
    pub match_blocks: Vec<SshMatch>,
    /// Configuration files read, in order.
    pub files: Vec<String>,
    /// Effective values with OpenSSH's defaults filled in where no file sets them.
    pub ports: Vec<u16>,
    pub permit_root_login: Option<String>,
    pub password_authentication: Option<bool>,
    pub permit_empty_passwords: Option<bool>,
    pub kbd_interactive_authentication: Option<bool>,
    pub pubkey_authentication: Option<bool>,
    pub authentication_methods: Option<String>,
    pub max_auth_tries: Option<u32>,
    pub client_alive_interval: Option<u32>,
    pub client_alive_count_max: Option<u32>,
    pub use_pam: Option<bool>,
    pub x11_forwarding: Option<bool>,
    pub allow_users: Vec<String>,
    pub allow_groups: Vec<String>,
    pub ciphers: Vec<String>,
    pub macs: Vec<String>,
    pub kex_algorithms: Vec<String>,
    /// Settings taken from OpenSSH's defaults, because no file sets them.
    pub defaults_used: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshMatch {
    /// The criteria as written, e.g. `User backup Address 10.0.0.0/8`.
    pub criteria: String,
    pub settings: BTreeMap<String, String>,
    pub file: String,
}
