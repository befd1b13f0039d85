//! PAM service stacks: the rules of `/etc/pam.d/<service>` (or
//! `/usr/lib/pam.d/<service>` when `/etc` has no file of that name), with
//! `@include`, `include` and `substack` followed to the rules they bring in.
//! Password, lockout and second-factor facts are all read off these stacks.

use super::read_noting;
use crate::probe::Errors;
use crate::probe::root::{Root, describe};
use std::collections::BTreeMap;

pub const PROBE: &str = "pam";
/// Linux-PAM reads the vendor folder only for services `/etc/pam.d` lacks.
const PAM_DIRS: [&str; 2] = ["/etc/pam.d", "/usr/lib/pam.d"];
/// Guards include loops; real stacks nest two or three deep.
const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PamRule {
    /// `auth`, `account`, `password` or `session`.
    pub kind: String,
    pub control: String,
    /// The module's name without folder and `.so`: `pam_unix`.
    pub module: String,
    pub args: Vec<String>,
    pub file: String,
}

impl PamRule {
    /// The value of `name=value`, or `Some("")` for a bare `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args.iter().find_map(|a| match a.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if a == name => Some(""),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PamLine {
    Rule(PamRule),
    /// `@include x` (every kind, `kind` is `None`) or `<kind> include|substack x`.
    Include {
        kind: Option<String>,
        target: String,
    },
}

const KINDS: [&str; 4] = ["auth", "account", "password", "session"];

pub fn parse_pam(file: &str, text: &str) -> Vec<PamLine> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        // A trailing backslash continues the line.
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let line = line.split('#').next().unwrap_or_default();
        let words = split_words(line);
        let Some(first) = words.first() else { continue };
        if first == "@include" {
            if let Some(target) = words.get(1) {
                out.push(PamLine::Include {
                    kind: None,
                    target: target.clone(),
                });
            }
            continue;
        }
        // `-auth`: the rule is skipped silently when its module is missing.
        let kind = first.trim_start_matches('-').to_ascii_lowercase();
        if !KINDS.contains(&kind.as_str()) || words.len() < 3 {
            continue;
        }
        let control = words[1].clone();
        if control == "include" || control == "substack" {
            out.push(PamLine::Include {
                kind: Some(kind),
                target: words[2].clone(),
            });
            continue;
        }
        out.push(PamLine::Rule(PamRule {
            kind,
            control,
            module: module_name(&words[2]),
            args: words[3..].to_vec(),
            file: file.to_string(),
        }));
    }
    out
}

/// Words separated by whitespace, a `[ … ]` group being one word.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in line.chars() {
        match c {
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' if depth > 0 => {
                depth -= 1;
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn module_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.strip_suffix(".so").unwrap_or(base).to_string()
}

/// Every service file, parsed once.
#[derive(Clone, Debug, Default)]
pub struct PamConfig {
    /// Service name → file path.
    services: BTreeMap<String, String>,
    /// File path → its lines.
    files: BTreeMap<String, Vec<PamLine>>,
}

impl PamConfig {
    pub fn load(root: &Root, errors: &mut Errors) -> PamConfig {
        let mut config = PamConfig::default();
        for dir in PAM_DIRS {
            let names = match root.list(dir) {
                Ok(names) => names,
                Err(e) => {
                    errors.push(PROBE, describe(root.path(dir), &e));
                    continue;
                }
            };
            for name in names.into_iter().filter(|n| is_service_name(n)) {
                let path = format!("{dir}/{name}");
                if config.services.contains_key(&name) || !root.path(&path).is_file() {
                    continue;
                }
                if let Some(text) = read_noting(root, &path, PROBE, errors) {
                    config.files.insert(path.clone(), parse_pam(&path, &text));
                    config.services.insert(name, path);
                }
            }
        }
        // Includes may name a file by absolute path, outside the service folders.
        for _ in 0..MAX_DEPTH {
            let missing: Vec<String> = config
                .files
                .values()
                .flatten()
                .filter_map(|l| match l {
                    PamLine::Include { target, .. } if target.starts_with('/') && !config.files.contains_key(target) => {
                        Some(target.clone())
                    }
                    _ => None,
                })
                .collect();
            if missing.is_empty() {
                break;
            }
            for path in missing {
                let lines = read_noting(root, &path, PROBE, errors)
                    .map(|t| parse_pam(&path, &t))
                    .unwrap_or_default();
                config.files.insert(path, lines);
            }
        }
        config
    }

    /// For tests: services given as (name, text), as if they were in /etc/pam.d.
    #[cfg(test)]
    pub fn from_texts(services: &[(&str, &str)]) -> PamConfig {
        let mut config = PamConfig::default();
        for (name, text) in services {
            let path = format!("/etc/pam.d/{name}");
            config.files.insert(path.clone(), parse_pam(&path, text));
            config.services.insert(name.to_string(), path);
        }
        config
    }

    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    /// The rules a service runs, includes expanded, in order.
    pub fn stack(&self, service: &str) -> Vec<PamRule> {
        let mut out = Vec::new();
        if let Some(path) = self.services.get(service) {
            self.expand(path, None, 0, &mut out);
        }
        out
    }

    fn expand(&self, path: &str, only: Option<&str>, depth: usize, out: &mut Vec<PamRule>) {
        let Some(lines) = self.files.get(path) else { return };
        for line in lines {
            match line {
                PamLine::Rule(rule) => {
                    if only.is_none_or(|k| k == rule.kind) {
                        out.push(rule.clone());
                    }
                }
                PamLine::Include { kind, target } if depth < MAX_DEPTH => {
                    // `auth include x` brings in only x's auth rules.
                    let filter = match (only, kind.as_deref()) {
                        (Some(a), Some(b)) if a != b => continue,
                        (Some(a), _) => Some(a),
                        (None, b) => b,
                    };
                    let resolved = if target.starts_with('/') {
                        Some(target.as_str())
                    } else {
                        self.services.get(target).map(String::as_str)
                    };
                    if let Some(p) = resolved {
                        self.expand(p, filter, depth + 1, out);
                    }
                }
                PamLine::Include { .. } => {}
            }
        }
    }
}

/// Service files, not editor or package-manager leftovers.
fn is_service_name(name: &str) -> bool {
    const LEFTOVERS: [&str; 6] = [".dpkg-", ".rpmnew", ".rpmsave", ".orig", ".bak", ".swp"];
    !name.starts_with('.') && !name.ends_with('~') && !LEFTOVERS.iter().any(|l| name.contains(l))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub const RHEL_SYSTEM_AUTH: &str = "\
# Generated by authselect on Tue Jan 16 10:00:00 2024
# Do not modify this file manually.

auth        required                                     pam_env.so
auth        required                                     pam_faildelay.so delay=2000000
auth        required                                     pam_faillock.so preauth silent
auth        [default=1 ignore=ignore success=ok]         pam_usertype.so isregular
auth        [default=1 ignore=ignore success=ok]         pam_localuser.so
auth        sufficient                                   pam_unix.so nullok
auth        [default=1 ignore=ignore success=ok]         pam_usertype.so isregular
auth        sufficient                                   pam_sss.so forward_pass
auth        required                                     pam_faillock.so authfail
auth        required                                     pam_deny.so

account     required                                     pam_faillock.so
account     required                                     pam_unix.so

password    requisite                                    pam_pwquality.so local_users_only
password    required                                     pam_pwhistory.so use_authtok
password    sufficient                                   pam_unix.so sha512 shadow nullok use_authtok
password    required                                     pam_deny.so

session     optional                                     pam_keyinit.so revoke
-session    optional                                     pam_systemd.so
session     required                                     pam_unix.so
";

    #[test]
    fn parses_rules_brackets_and_includes() {
        let lines = parse_pam("/etc/pam.d/system-auth", RHEL_SYSTEM_AUTH);
        let rules: Vec<&PamRule> = lines
            .iter()
            .filter_map(|l| match l {
                PamLine::Rule(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(rules.len(), 19);
        assert_eq!(rules[2].module, "pam_faillock");
        assert_eq!(rules[2].args, vec!["preauth", "silent"]);
        assert_eq!(rules[3].control, "[default=1 ignore=ignore success=ok]");
        assert_eq!(rules[14].arg("use_authtok"), Some(""));
        assert_eq!(rules[1].arg("delay"), Some("2000000"));
        assert_eq!(rules[17].kind, "session");

        let lines = parse_pam(
            "/etc/pam.d/sshd",
            "#%PAM-1.0\nauth       substack     password-auth\nauth       include      postlogin\n\
             account    required     /lib64/security/pam_nologin.so # trailing\n\
             @include common-account\npassword   include      password-auth\n",
        );
        assert_eq!(
            lines[0],
            PamLine::Include {
                kind: Some("auth".into()),
                target: "password-auth".into()
            }
        );
        assert!(matches!(&lines[2], PamLine::Rule(r) if r.module == "pam_nologin" && r.args.is_empty()));
        assert_eq!(
            lines[3],
            PamLine::Include {
                kind: None,
                target: "common-account".into()
            }
        );
    }

    #[test]
    fn stacks_follow_includes_with_their_kind() {
        let pam = PamConfig::from_texts(&[
            ("password-auth", RHEL_SYSTEM_AUTH),
            (
                "sshd",
                "auth substack password-auth\nauth include postlogin\naccount required pam_nologin.so\n\
                 password include password-auth\nsession include password-auth\n",
            ),
            ("postlogin", "session optional pam_lastlog2.so silent\n"),
            ("loop", "@include loop\nauth required pam_deny.so\n"),
        ]);
        let stack = pam.stack("sshd");
        let auth: Vec<&str> = stack.iter().filter(|r| r.kind == "auth").map(|r| r.module.as_str()).collect();
        assert_eq!(auth.len(), 10);
        assert_eq!(auth[2], "pam_faillock");
        assert_eq!(stack.iter().filter(|r| r.kind == "account").count(), 1);
        assert_eq!(stack.iter().filter(|r| r.kind == "password").count(), 4);
        assert!(stack.iter().all(|r| r.module != "pam_lastlog2"));
        assert_eq!(pam.stack("loop").len(), MAX_DEPTH + 1);
        assert!(pam.stack("missing").is_empty());
    }

    #[test]
    fn loads_etc_before_the_vendor_folder() {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("etc/pam.d/login", "@include common-auth\n"),
            ("etc/pam.d/common-auth", "auth required pam_unix.so\n"),
            ("etc/pam.d/common-auth.dpkg-old", "auth required pam_permit.so\n"),
            ("usr/lib/pam.d/common-auth", "auth required pam_permit.so\n"),
            ("usr/lib/pam.d/sudo", "auth include /etc/security/sudo-auth\n"),
            ("etc/security/sudo-auth", "auth required pam_u2f.so cue\n"),
        ] {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let mut errors = Errors::default();
        let pam = PamConfig::load(&Root::new(dir.path()), &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(pam.services().collect::<Vec<_>>(), vec!["common-auth", "login", "sudo"]);
        assert_eq!(pam.stack("login")[0].module, "pam_unix");
        assert_eq!(pam.stack("sudo")[0].module, "pam_u2f");
        assert_eq!(pam.stack("sudo")[0].file, "/etc/security/sudo-auth");
    }
}
