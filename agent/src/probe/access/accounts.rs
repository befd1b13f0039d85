//! Local accounts from `/etc/passwd`, `/etc/shadow` and `/etc/group`, with
//! who holds administrator rights (admin groups, sudoers) and what logs in
//! by itself (display-manager auto-login).
//!
//! Accounts from SSSD/LDAP are not in these files and are not listed.
//! `/etc/shadow` is readable by root only; without it every password state is
//! `unknown` rather than a guess.

use super::lastlog::{self, LASTLOG};
use super::{autologin, read_noting, sudoers};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::Timestamp;
use khien_proto::facts::{Account, Accounts};
use std::collections::BTreeMap;

const PROBE: &str = "accounts";
const PASSWD: &str = "/etc/passwd";
const SHADOW: &str = "/etc/shadow";
const GROUP: &str = "/etc/group";
const USERADD_DEFAULTS: &str = "/etc/default/useradd";
/// `sudo` (Debian, Ubuntu), `wheel` (RHEL, SUSE, Arch), `admin` (Ubuntu before 12.04).
const ADMIN_GROUPS: [&str; 3] = ["sudo", "wheel", "admin"];
/// useradd's compiled-in `INACTIVE`: accounts are never locked for inactivity.
const USERADD_DEFAULT_INACTIVE: i64 = -1;
const DAY: i64 = 86_400;

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Accounts {
    let passwd = read_noting(&ctx.root, PASSWD, PROBE, errors)
        .map(|t| parse_passwd(&t))
        .unwrap_or_default();
    let shadow = match ctx.root.read_optional(SHADOW) {
        Ok(text) => text.map(|t| parse_shadow(&t)),
        Err(e) => {
            errors.push(PROBE, describe(ctx.root.path(SHADOW), &e));
            None
        }
    };
    let groups = read_noting(&ctx.root, GROUP, PROBE, errors)
        .map(|t| parse_group(&t))
        .unwrap_or_default();
    let uids: Vec<u32> = passwd.iter().map(|p| p.uid).collect();
    let last_logins = lastlog::read_last_logins(&ctx.root.path(LASTLOG), &uids).unwrap_or_else(|e| {
        errors.push(PROBE, describe(ctx.root.path(LASTLOG), &e));
        BTreeMap::new()
    });
    let mut accounts = build_accounts(&passwd, shadow.as_deref(), &groups, &last_logins, Timestamp::now());
    accounts.sudoers = sudoers::collect(ctx, errors);
    accounts.default_inactive_days = Some(
        read_noting(&ctx.root, USERADD_DEFAULTS, PROBE, errors)
            .and_then(|t| parse_useradd_inactive(&t))
            .unwrap_or(USERADD_DEFAULT_INACTIVE),
    );
    accounts.autologin = autologin::collect(ctx, errors);
    accounts
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    /// `x` when the hash is in shadow.
    pub password: String,
    pub uid: u32,
    pub gid: u32,
    pub shell: String,
}

/// `name:password:uid:gid:gecos:home:shell`; NIS `+`/`-` lines and malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                password: f[1].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                shell: f[6].trim().to_string(),
            })
        })
        .collect()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    pub hash: String,
    /// Days since the epoch; 0 means the password must change at next login.
    pub last_change: Option<i64>,
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    pub inactive_days: Option<i64>,
    /// Days since the epoch.
    pub expire: Option<i64>,
}

/// `name:hash:lastchg:min:max:warn:inactive:expire:reserved`; empty fields are unset.
pub fn parse_shadow(text: &str) -> Vec<ShadowEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 2 {
                return None;
            }
            let days = |i: usize| f.get(i).map(|s| s.trim()).filter(|s| !s.is_empty()).and_then(|s| s.parse().ok());
            Some(ShadowEntry {
                name: f[0].to_string(),
                hash: f[1].to_string(),
                last_change: days(2),
                min_days: days(3),
                max_days: days(4),
                inactive_days: days(6),
                expire: days(7),
            })
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// `name:password:gid:member,member`.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// The crypt(5) scheme of a hash, from its `$id$` prefix or its shape.
pub fn hash_scheme(hash: &str) -> Option<&'static str> {
    if let Some(rest) = hash.strip_prefix('$') {
        return match rest.split('$').next()? {
            "y" => Some("yescrypt"),
            "gy" => Some("gost-yescrypt"),
            "7" => Some("scrypt"),
            "6" => Some("sha512"),
            "5" => Some("sha256"),
            "2a" | "2b" | "2x" | "2y" => Some("bcrypt"),
            "1" => Some("md5"),
            "sha1" => Some("sha1"),
            "md5" => Some("sunmd5"),
            "3" => Some("nt"),
            _ => None,
        };
    }
    let crypt_alphabet = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    if hash.len() == 13 && crypt_alphabet(hash) {
        Some("des")
    } else if hash.len() == 20 && hash.starts_with('_') && crypt_alphabet(&hash[1..]) {
        Some("bsdicrypt")
    } else {
        None
    }
}

/// `set`, `locked` or `empty`, and the scheme of a set password.
pub fn password_state(hash: &str) -> (&'static str, Option<&'static str>) {
    if hash.is_empty() {
        return ("empty", None);
    }
    if hash.starts_with(['!', '*']) {
        return ("locked", None);
    }
    match hash_scheme(hash) {
        Some(scheme) => ("set", Some(scheme)),
        // A `$id$` libxcrypt may know and this table does not.
        None if hash.starts_with('$') => ("set", None),
        // `x`, `NP`, `LK`…: crypt(3) matches no password against it.
        None => ("locked", None),
    }
}

/// Shells that run no interactive session; an empty shell is `/bin/sh`.
pub fn interactive_shell(shell: &str) -> bool {
    let name = shell.rsplit('/').next().unwrap_or(shell);
    !matches!(name, "nologin" | "false" | "true" | "sync" | "shutdown" | "halt")
}

/// `INACTIVE=` of `/etc/default/useradd`.
pub fn parse_useradd_inactive(text: &str) -> Option<i64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("INACTIVE="))
        .next_back()
        .and_then(|v| v.trim().trim_matches('"').parse().ok())
}

pub fn build_accounts(
    passwd: &[PasswdEntry],
    shadow: Option<&[ShadowEntry]>,
    groups: &[GroupEntry],
    last_logins: &BTreeMap<u32, Timestamp>,
    now: Timestamp,
) -> Accounts {
    let today = now.unix().div_euclid(DAY);
    let admin_groups: Vec<&GroupEntry> = ADMIN_GROUPS
        .iter()
        .filter_map(|name| groups.iter().find(|g| g.name == *name))
        .collect();
    let mut admins: Vec<String> = admin_groups.iter().flat_map(|g| g.members.iter().cloned()).collect();
    admins.extend(
        passwd
            .iter()
            .filter(|p| admin_groups.iter().any(|g| g.gid == p.gid))
            .map(|p| p.name.clone()),
    );
    admins.sort();
    admins.dedup();

    let day = |d: i64| Timestamp::from_unix(d.saturating_mul(DAY));
    let local: Vec<Account> = passwd
        .iter()
        .map(|p| {
            let entry = shadow.and_then(|s| s.iter().find(|e| e.name == p.name));
            // pam_unix uses the passwd field unless it defers to shadow with `x`.
            // Without a shadow entry pam_unix refuses every password: locked.
            let hash = if p.password != "x" {
                Some(p.password.as_str())
            } else {
                shadow.map(|_| entry.map_or("*", |e| e.hash.as_str()))
            };
            let (password, hash_scheme) = hash.map_or(("unknown", None), password_state);
            Account {
                name: p.name.clone(),
                uid: p.uid,
                gid: p.gid,
                shell: p.shell.clone(),
                interactive: interactive_shell(&p.shell),
                password: password.to_string(),
                hash_scheme: hash_scheme.map(str::to_string),
                // A 0 (change at next login) becomes the epoch: as old as a password can be.
                password_changed: entry.and_then(|e| e.last_change).and_then(day),
                max_days: entry.and_then(|e| e.max_days),
                min_days: entry.and_then(|e| e.min_days),
                inactive_days: entry.and_then(|e| e.inactive_days),
                expires: entry.and_then(|e| e.expire).and_then(day),
                // pam_unix refuses from the expiry day on.
                expired: entry.and_then(|e| e.expire).is_some_and(|d| today >= d),
                admin: admins.contains(&p.name),
                last_login: last_logins.get(&p.uid).copied(),
            }
        })
        .collect();

    let root_locked = match shadow {
        None => None,
        Some(_) => local.iter().find(|a| a.name == "root").map(|a| a.password == "locked" || a.expired),
    };
    let mut by_uid: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for p in passwd {
        by_uid.entry(p.uid).or_default().push(&p.name);
    }
    let shared_uids = by_uid
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(uid, names)| format!("{uid}: {}", names.join(", ")))
        .collect();
    Accounts {
        uid0: passwd.iter().filter(|p| p.uid == 0).map(|p| p.name.clone()).collect(),
        shared_uids,
        root_locked,
        admin_groups: admin_groups.iter().map(|g| g.name.clone()).collect(),
        admins,
        shadow_readable: shadow.is_some(),
        local,
        ..Accounts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    const PASSWD_TEXT: &str = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
toor:x:0:0::/root:/bin/sh
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
bob:x:1001:27:Bob:/home/bob:/bin/zsh
carol:x:1002:1002::/home/carol:
svc:x:998:998::/var/lib/svc:/bin/false
legacy:$1$abcdefgh$ABCDEFGHIJKLMNOPQRSTUV:1003:1003::/home/legacy:/bin/sh
+@netgroup::::::
broken line
";

    const SHADOW_TEXT: &str = "\
root:!:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
sync:*:19700:0:99999:7:::
toor::19700:0:99999:7:::
alice:$y$j9T$yqJ7DkDnoZ2I3x9RwH4Bd/$Zr0Ab.sBHHXp6xzNmMMq0F0Y2QRo4hYqQ5rXlvKtGn5:19850:1:60:7:30::
bob:$6$rounds=5000$saltsalt$Xb7m2qMJH9Fqgrd6jv6yZ4UZv6pWz1r8dXxg0S1h8JqEJxQpB0rX5qQ8y7m3yI8aZk0uF2vN6c9QeT4hLs1wP.:0:0:99999:7::19000:
svc:!!:19700::::::
";

    const GROUP_TEXT: &str = "\
root:x:0:
sudo:x:27:alice,dave
wheel:x:10:
users:x:100:carol
alice:x:1000:
";

    fn now() -> Timestamp {
        // 2024-06-01
        Timestamp::from_unix(19_875 * DAY).unwrap()
    }

    #[test]
    fn parses_the_three_databases() {
        let passwd = parse_passwd(PASSWD_TEXT);
        assert_eq!(passwd.len(), 9);
        assert_eq!(passwd[4].name, "alice");
        assert_eq!(passwd[6].shell, "");
        let shadow = parse_shadow(SHADOW_TEXT);
        assert_eq!(shadow[4].max_days, Some(60));
        assert_eq!(shadow[4].inactive_days, Some(30));
        assert_eq!(shadow[5].expire, Some(19000));
        assert_eq!(shadow[6].last_change, Some(19700));
        assert_eq!(shadow[6].max_days, None);
        let groups = parse_group(GROUP_TEXT);
        assert_eq!(groups[1].members, vec!["alice", "dave"]);
        assert!(groups[2].members.is_empty());
    }

    #[test]
    fn recognises_hash_schemes_and_locks() {
        assert_eq!(password_state("$y$j9T$salt$hash"), ("set", Some("yescrypt")));
        assert_eq!(password_state("$6$salt$hash"), ("set", Some("sha512")));
        assert_eq!(password_state("$5$salt$hash"), ("set", Some("sha256")));
        assert_eq!(password_state("$2b$12$hash"), ("set", Some("bcrypt")));
        assert_eq!(password_state("$1$salt$hash"), ("set", Some("md5")));
        assert_eq!(password_state("abJnggxhB/yWI"), ("set", Some("des")));
        assert_eq!(password_state("$argon2id$v=19$x"), ("set", None));
        assert_eq!(password_state("!$6$salt$hash"), ("locked", None));
        assert_eq!(password_state("!!"), ("locked", None));
        assert_eq!(password_state("*"), ("locked", None));
        assert_eq!(password_state("NP"), ("locked", None));
        assert_eq!(password_state(""), ("empty", None));
        assert!(interactive_shell("/bin/bash"));
        assert!(interactive_shell(""));
        assert!(!interactive_shell("/usr/sbin/nologin"));
        assert!(!interactive_shell("/bin/false"));
        assert!(!interactive_shell("/bin/sync"));
    }

    #[test]
    fn builds_accounts_admins_and_expiry() {
        let passwd = parse_passwd(PASSWD_TEXT);
        let shadow = parse_shadow(SHADOW_TEXT);
        let groups = parse_group(GROUP_TEXT);
        let logins = BTreeMap::from([(1000, Timestamp::from_unix(1_717_000_000).unwrap())]);
        let a = build_accounts(&passwd, Some(&shadow), &groups, &logins, now());
        assert_eq!(a.uid0, vec!["root", "toor"]);
        assert_eq!(a.shared_uids, vec!["0: root, toor"]);
        assert_eq!(a.root_locked, Some(true));
        assert_eq!(a.admin_groups, vec!["sudo", "wheel"]);
        // dave has no passwd entry but is a member; bob is in sudo by primary group.
        assert_eq!(a.admins, vec!["alice", "bob", "dave"]);
        assert!(a.shadow_readable);
        let by = |n: &str| a.local.iter().find(|x| x.name == n).unwrap();
        let alice = by("alice");
        assert_eq!(alice.password, "set");
        assert_eq!(alice.hash_scheme.as_deref(), Some("yescrypt"));
        assert_eq!(alice.password_changed.unwrap().unix(), 19_850 * DAY);
        assert_eq!((alice.max_days, alice.min_days, alice.inactive_days), (Some(60), Some(1), Some(30)));
        assert!(alice.admin && alice.interactive && !alice.expired);
        assert_eq!(alice.last_login.unwrap().unix(), 1_717_000_000);
        let bob = by("bob");
        assert!(bob.expired && bob.admin);
        assert_eq!(bob.expires.unwrap().unix(), 19_000 * DAY);
        assert_eq!(bob.password_changed.unwrap().unix(), 0);
        assert_eq!(by("toor").password, "empty");
        assert_eq!(by("svc").password, "locked");
        assert!(!by("svc").interactive);
        assert_eq!(by("carol").password, "locked", "no shadow entry: pam_unix refuses");
        assert_eq!(by("legacy").hash_scheme.as_deref(), Some("md5"));
        assert_eq!(by("daemon").last_login, None);
    }

    #[test]
    fn without_shadow_passwords_are_unknown() {
        let passwd = parse_passwd(PASSWD_TEXT);
        let a = build_accounts(&passwd, None, &[], &BTreeMap::new(), now());
        assert_eq!(a.root_locked, None);
        assert!(!a.shadow_readable);
        assert!(a.admin_groups.is_empty() && a.admins.is_empty());
        assert!(a.local.iter().filter(|x| x.name != "legacy").all(|x| x.password == "unknown"));
        assert_eq!(a.local.iter().find(|x| x.name == "legacy").unwrap().password, "set");
    }

    #[test]
    fn reads_useradd_inactive() {
        assert_eq!(
            parse_useradd_inactive("# useradd defaults file\nGROUP=100\nINACTIVE=45\nEXPIRE=\n"),
            Some(45)
        );
        assert_eq!(parse_useradd_inactive("SHELL=/bin/sh\n# INACTIVE=-1\n"), None);
    }

    fn write(dir: &std::path::Path, path: &str, data: &[u8]) {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    #[test]
    fn collects_accounts_from_a_root() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), PASSWD, PASSWD_TEXT.as_bytes());
        write(dir.path(), SHADOW, SHADOW_TEXT.as_bytes());
        write(dir.path(), GROUP, GROUP_TEXT.as_bytes());
        write(
            dir.path(),
            LASTLOG,
            &super::super::lastlog::tests::build(&[(0, 1_716_000_000, "pts/0", "10.1.2.3")]),
        );
        write(dir.path(), USERADD_DEFAULTS, b"SHELL=/bin/sh\nINACTIVE=30\n");
        write(
            dir.path(),
            "/etc/sudoers",
            b"root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
        );
        write(
            dir.path(),
            "/etc/sudoers.d/ops",
            b"deploy ALL=(root) NOPASSWD: /usr/bin/systemctl\n",
        );
        write(
            dir.path(),
            "/etc/gdm3/custom.conf",
            b"[daemon]\nAutomaticLoginEnable=true\nAutomaticLogin=kiosk\n",
        );
        let config = ProbeConfig {
            root: dir.path().into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        let a = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(a.local.len(), 9);
        assert_eq!(a.local[0].last_login.unwrap().unix(), 1_716_000_000);
        assert_eq!(a.root_locked, Some(true));
        assert_eq!(a.sudoers, Some(vec!["%sudo".to_string(), "deploy".to_string(), "root".to_string()]));
        assert_eq!(a.default_inactive_days, Some(30));
        assert_eq!(a.autologin, vec!["gdm:kiosk"]);

        std::fs::remove_file(dir.path().join("etc/default/useradd")).unwrap();
        std::fs::remove_file(dir.path().join("etc/shadow")).unwrap();
        std::fs::create_dir(dir.path().join("etc/shadow")).unwrap();
        let mut errors = Errors::default();
        let a = collect(&ctx, &mut errors);
        assert_eq!(errors.0.len(), 1, "{:?}", errors.0);
        assert_eq!(errors.0[0].probe, PROBE);
        assert!(!a.shadow_readable);
        assert_eq!(a.root_locked, None);
        assert_eq!(a.default_inactive_days, Some(-1));
    }
}
