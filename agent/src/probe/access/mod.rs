//! Who can log in and how: accounts, password and lockout policy, second
//! factors, idle timeouts, the desktop's lock settings and the SSH server.
//!
//! Everything here comes from configuration files, read the way the programs
//! that use them read them (first value wins in sshd, last file wins in dconf
//! and pwquality, PAM stacks followed through their includes).

mod accounts;
mod auth;
mod autologin;
mod desktop;
mod keyfile;
mod lastlog;
mod pam;
mod session;
mod ssh;
mod sudoers;

use super::root::{Root, describe};
use super::{Errors, ProbeContext};
use khien_proto::facts::{Accounts, Desktop, Lockout, Mfa, PasswordPolicy, Session, Ssh};
use std::io;

#[derive(Debug, Default)]
pub struct Access {
    pub accounts: Accounts,
    pub password_policy: PasswordPolicy,
    pub lockout: Lockout,
    pub mfa: Mfa,
    pub session: Session,
    pub desktop: Desktop,
    pub ssh: Ssh,
}

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Access {
    let mut pam_errors = Errors::default();
    let pam = pam::PamConfig::load(&ctx.root, &mut pam_errors);
    // An unreadable PAM stack leaves all three sections in doubt; checks find
    // failures by the fact path they read, so each section gets the message.
    for e in pam_errors.0 {
        for section in ["password_policy", "lockout", "mfa"] {
            errors.push(section, format!("{}: {}", e.probe, e.message));
        }
    }
    let auth = auth::collect(ctx, &pam, errors);
    Access {
        accounts: accounts::collect(ctx, errors),
        password_policy: auth.password_policy,
        lockout: auth.lockout,
        mfa: auth.mfa,
        session: session::collect(ctx, errors),
        desktop: desktop::collect(ctx, errors),
        ssh: ssh::collect(ctx, errors),
    }
}

/// A file's text; `None` when it is absent or unreadable, the latter recorded under `probe`.
fn read_noting(root: &Root, path: &str, probe: &str, errors: &mut Errors) -> Option<String> {
    match root.read_optional(path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(probe, describe(root.path(path), &e));
            None
        }
    }
}

/// The existing paths matching a shell pattern (`*`, `?`, `[…]` in any
/// component), sorted as glob(3) sorts them. Names starting with a dot only
/// match a pattern that starts with one, as in glob(3).
fn glob(root: &Root, pattern: &str) -> io::Result<Vec<String>> {
    let mut paths = vec![String::new()];
    for component in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &paths {
            if !has_wildcard(component) {
                next.push(format!("{base}/{component}"));
                continue;
            }
            let dir = if base.is_empty() { "/" } else { base.as_str() };
            let names = match root.list(dir) {
                Ok(names) => names,
                Err(e) if e.kind() == io::ErrorKind::NotADirectory => continue,
                Err(e) => return Err(io::Error::new(e.kind(), describe(root.path(dir), &e))),
            };
            for name in names {
                if (!name.starts_with('.') || component.starts_with('.')) && wildcard_match(component, &name) {
                    next.push(format!("{base}/{name}"));
                }
            }
        }
        paths = next;
    }
    paths.retain(|p| !p.is_empty() && root.exists(p));
    paths.sort();
    Ok(paths)
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// fnmatch(3) without flags, for one path component.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|skip| match_from(&p[1..], &n[skip..])),
        Some('?') => !n.is_empty() && match_from(&p[1..], &n[1..]),
        Some('[') => match (n.first(), bracket(&p[1..])) {
            (Some(c), Some((set, negated, len))) => set_contains(set, *c) != negated && match_from(&p[1 + len..], &n[1..]),
            // An unclosed `[` is a literal character.
            (Some('['), None) => match_from(&p[1..], &n[1..]),
            _ => false,
        },
        Some(c) => n.first() == Some(c) && match_from(&p[1..], &n[1..]),
    }
}

/// The set inside `[…]` (after the `[`): its characters, whether it is negated, and its length including `]`.
fn bracket(p: &[char]) -> Option<(&[char], bool, usize)> {
    let negated = matches!(p.first(), Some('!' | '^'));
    let start = usize::from(negated);
    // A `]` right after the opening is part of the set.
    let close = p.iter().enumerate().skip(start + 1).find(|(_, c)| **c == ']').map(|(i, _)| i)?;
    Some((&p[start..close], negated, close + 1))
}

fn set_contains(set: &[char], c: char) -> bool {
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == '-' {
            if set[i] <= c && c <= set[i + 2] {
                return true;
            }
            i += 3;
        } else {
            if set[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// Pushes `value` unless it is already there, keeping the first order.
fn push_unique(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;

    #[test]
    fn wildcards_follow_fnmatch() {
        assert!(wildcard_match("*.conf", "50-cloud-init.conf"));
        assert!(!wildcard_match("*.conf", "50-cloud-init.conf.bak"));
        assert!(wildcard_match("??-*.conf", "10-x.conf"));
        assert!(wildcard_match("[0-9]*", "00-screensaver"));
        assert!(!wildcard_match("[!0-9]*", "00-screensaver"));
        assert!(wildcard_match("a[]]b", "a]b"));
        assert!(wildcard_match("x[y", "x[y"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn glob_expands_every_component_in_lexical_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "etc/ssh/sshd_config.d/50-b.conf",
            "etc/ssh/sshd_config.d/10-a.conf",
            "etc/ssh/sshd_config.d/.hidden.conf",
        ] {
            std::fs::create_dir_all(dir.path().join(f).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("etc/dconf/db/local.d")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc/dconf/db/gdm.d")).unwrap();
        std::fs::write(dir.path().join("etc/dconf/db/local.d/00-lock"), "").unwrap();
        std::fs::write(dir.path().join("etc/dconf/db/gdm.d/00-lock"), "").unwrap();
        let root = Root::new(dir.path());
        assert_eq!(
            glob(&root, "/etc/ssh/sshd_config.d/*.conf").unwrap(),
            vec!["/etc/ssh/sshd_config.d/10-a.conf", "/etc/ssh/sshd_config.d/50-b.conf"]
        );
        assert_eq!(
            glob(&root, "/etc/dconf/db/*.d/00-*").unwrap(),
            vec!["/etc/dconf/db/gdm.d/00-lock", "/etc/dconf/db/local.d/00-lock"]
        );
        assert_eq!(glob(&root, "/etc/ssh/sshd_config.d/10-a.conf").unwrap().len(), 1);
        assert!(glob(&root, "/etc/ssh/missing.conf").unwrap().is_empty());
        assert!(glob(&root, "/etc/nothere/*.conf").unwrap().is_empty());
        assert!(glob(&root, "/etc/ssh/sshd_config.d/10-a.conf/*").unwrap().is_empty());
    }

    #[test]
    fn an_empty_machine_has_no_access_facts_and_no_errors() {
        let dir = tempfile::tempdir().unwrap();
        let config = ProbeConfig {
            root: dir.path().into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        let access = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(!access.ssh.installed);
        assert!(access.accounts.local.is_empty());
        assert_eq!(access.password_policy.quality_module, None);
        assert_eq!(access.lockout.module, None);
        assert!(access.mfa.modules.is_empty());
        assert!(!access.desktop.installed);
        assert_eq!(access.session.shell_timeout_seconds, None);
    }
}
