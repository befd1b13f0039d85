//! Password rules, lockout and second factors, read off the PAM stacks and
//! the configuration files of the modules in them.
//!
//! - Password rules: the `password` rules of `passwd` (what `passwd` runs),
//!   else of Debian's `common-password` or RHEL's `system-auth` and
//!   `password-auth`. pam_pwquality reads `pwquality.conf.d/*.conf`, then
//!   `pwquality.conf`, then its own arguments, each overriding the last.
//! - Lockout: pam_faillock (or the older pam_tally2) among the `auth` rules
//!   of the shared stacks; its arguments override `faillock.conf`.
//! - Second factors: any service whose `auth` rules use one of the modules.

use super::pam::{PamConfig, PamRule};
use super::{glob, push_unique, read_noting};
use crate::probe::root::Root;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{Lockout, Mfa, PasswordPolicy};
use std::collections::BTreeMap;

const PASSWORD_SERVICES: [&str; 4] = ["passwd", "common-password", "system-auth", "password-auth"];
const AUTH_SERVICES: [&str; 5] = ["common-auth", "system-auth", "password-auth", "sshd", "login"];
const QUALITY_MODULES: [&str; 3] = ["pam_pwquality", "pam_cracklib", "pam_passwdqc"];
const MFA_MODULES: [&str; 5] = ["pam_u2f", "pam_google_authenticator", "pam_oath", "pam_duo", "pam_yubico"];

const LOGIN_DEFS: &str = "/etc/login.defs";
const PWQUALITY_CONF: &str = "/etc/security/pwquality.conf";
const PWQUALITY_DROP_INS: &str = "/etc/security/pwquality.conf.d/*.conf";
const PWHISTORY_CONF: &str = "/etc/security/pwhistory.conf";
const FAILLOCK_CONF: &str = "/etc/security/faillock.conf";

/// libpwquality's `minlen` default, and the floor it raises lower values to.
const PWQUALITY_MINLEN: i64 = 8;
const PWQUALITY_MINLEN_FLOOR: i64 = 6;
const CRACKLIB_MINLEN: i64 = 9;
/// pam_unix's own `minlen`, checked even without a quality module.
const UNIX_MINLEN: i64 = 6;
/// passwdqc's `min=disabled,24,11,8,7`.
const PASSWDQC_MIN: [Option<i64>; 5] = [None, Some(24), Some(11), Some(8), Some(7)];
/// pam_pwhistory's `remember` default.
const PWHISTORY_REMEMBER: u32 = 10;
/// pam_faillock's defaults: `deny`, `unlock_time`, `fail_interval`.
const FAILLOCK_DEFAULTS: (u32, u64, u64) = (3, 600, 900);

pub struct Auth {
    pub password_policy: PasswordPolicy,
    pub lockout: Lockout,
    pub mfa: Mfa,
}

pub fn collect(ctx: &ProbeContext<'_>, pam: &PamConfig, errors: &mut Errors) -> Auth {
    Auth {
        password_policy: password_policy(&ctx.root, pam, errors),
        lockout: lockout(&ctx.root, pam, errors),
        mfa: mfa(pam),
    }
}

/// `key = value` lines (pwquality.conf, faillock.conf, pwhistory.conf); a
/// bare word is a flag, with an empty value.
pub fn parse_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// `KEY value` lines of login.defs; the last one wins.
pub fn parse_login_defs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once(char::is_whitespace)?;
            Some((k.to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn args_as_settings(rule: &PamRule) -> Vec<(String, String)> {
    rule.args
        .iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (a.clone(), String::new()),
        })
        .collect()
}

/// What a quality module enforces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quality {
    pub min_length: Option<u32>,
    pub min_classes: Option<u32>,
    pub required_classes: Vec<String>,
    pub enforce_for_root: Option<bool>,
}

/// pam_pwquality or pam_cracklib from their settings in the order they are
/// applied (files, then arguments).
pub fn credit_quality(module: &str, settings: &[(String, String)]) -> Quality {
    let cracklib = module == "pam_cracklib";
    // cracklib counts each class once by default (credit 1); pwquality since 1.2 does not (credit 0).
    let default_credit = i64::from(cracklib);
    let mut minlen = if cracklib { CRACKLIB_MINLEN } else { PWQUALITY_MINLEN };
    let mut minclass = 0i64;
    let mut credits = [default_credit; 4];
    let mut enforce_for_root = false;
    for (key, value) in settings {
        let number = value.parse::<i64>().ok();
        match (key.as_str(), number) {
            ("minlen", Some(n)) => minlen = n,
            ("minclass", Some(n)) => minclass = n,
            ("dcredit", Some(n)) => credits[0] = n,
            ("ucredit", Some(n)) => credits[1] = n,
            ("lcredit", Some(n)) => credits[2] = n,
            ("ocredit", Some(n)) => credits[3] = n,
            // A bare flag, or `enforce_for_root = 1` in a file.
            ("enforce_for_root", n) => enforce_for_root = n.is_none_or(|n| n != 0),
            _ => {}
        }
    }
    let required: Vec<String> = ["digit", "upper", "lower", "other"]
        .iter()
        .zip(credits)
        .filter(|(_, c)| *c < 0)
        .map(|(name, _)| name.to_string())
        .collect();
    let minclass = minclass.clamp(0, 4);
    Quality {
        min_length: u32::try_from(minlen.max(PWQUALITY_MINLEN_FLOOR)).ok(),
        min_classes: u32::try_from(minclass.max(required.len() as i64)).ok(),
        required_classes: required,
        enforce_for_root: Some(enforce_for_root),
    }
}

/// pam_passwdqc: `min=N0,N1,N2,N3,N4`, the shortest length allowed for
/// passwords of one, two, (passphrases), three and four classes.
pub fn passwdqc_quality(settings: &[(String, String)]) -> Quality {
    let mut min = PASSWDQC_MIN;
    let mut enforce = "everyone".to_string();
    for (key, value) in settings {
        match key.as_str() {
            "min" => {
                for (slot, v) in min.iter_mut().zip(value.split(',')) {
                    *slot = if v.trim() == "disabled" { None } else { v.trim().parse().ok() };
                }
            }
            "enforce" => enforce = value.clone(),
            _ => {}
        }
    }
    let classes_for = [(0, 1), (1, 2), (3, 3), (4, 4)];
    Quality {
        min_length: min.iter().flatten().min().and_then(|n| u32::try_from(*n).ok()),
        min_classes: classes_for.iter().find(|(slot, _)| min[*slot].is_some()).map(|(_, c)| *c),
        required_classes: Vec::new(),
        // `enforce=users` only warns root.
        enforce_for_root: Some(enforce == "everyone"),
    }
}

/// Hash names as pam_unix and login.defs spell them, in the scheme names accounts use.
fn hash_name(method: &str) -> Option<String> {
    let m = method.to_ascii_lowercase();
    let name = match m.as_str() {
        "yescrypt" | "sha512" | "sha256" | "md5" | "des" | "bigcrypt" => m.as_str(),
        "gost_yescrypt" => "gost-yescrypt",
        "blowfish" | "bcrypt" => "bcrypt",
        _ => return None,
    };
    Some(name.to_string())
}

fn password_policy(root: &Root, pam: &PamConfig, errors: &mut Errors) -> PasswordPolicy {
    const PROBE: &str = "password_policy";
    let mut policy = PasswordPolicy::default();
    let rules: Vec<PamRule> = PASSWORD_SERVICES
        .iter()
        .flat_map(|s| pam.stack(s))
        .filter(|r| r.kind == "password")
        .collect();
    let find = |module: &str| rules.iter().find(|r| r.module == module);
    let mut sources = Vec::new();

    if let Some(rule) = rules.iter().find(|r| QUALITY_MODULES.contains(&r.module.as_str())) {
        push_unique(&mut sources, &rule.file);
        let quality = match rule.module.as_str() {
            "pam_passwdqc" => {
                let mut settings = Vec::new();
                // passwdqc reads a file only when told to.
                if let Some(path) = rule.arg("config").filter(|p| !p.is_empty())
                    && let Some(text) = read_noting(root, path, PROBE, errors)
                {
                    push_unique(&mut sources, path);
                    settings.extend(parse_settings(&text));
                }
                settings.extend(args_as_settings(rule));
                passwdqc_quality(&settings)
            }
            module => {
                let mut settings = Vec::new();
                if module == "pam_pwquality" {
                    let mut files = glob(root, PWQUALITY_DROP_INS).unwrap_or_else(|e| {
                        errors.push(PROBE, e);
                        Vec::new()
                    });
                    files.push(PWQUALITY_CONF.to_string());
                    for path in files {
                        if let Some(text) = read_noting(root, &path, PROBE, errors) {
                            let found = parse_settings(&text);
                            if !found.is_empty() {
                                push_unique(&mut sources, &path);
                            }
                            settings.extend(found);
                        }
                    }
                }
                settings.extend(args_as_settings(rule));
                credit_quality(module, &settings)
            }
        };
        policy.quality_module = Some(rule.module.clone());
        policy.min_length = quality.min_length;
        policy.min_classes = quality.min_classes;
        policy.required_classes = quality.required_classes;
        policy.enforce_for_root = quality.enforce_for_root;
    }

    let unix = find("pam_unix");
    if let Some(unix) = unix {
        push_unique(&mut sources, &unix.file);
        let unix_min = unix.arg("minlen").and_then(|v| v.parse::<i64>().ok()).unwrap_or(UNIX_MINLEN);
        // pam_unix checks its own minimum too (except for root): the stricter of the two holds.
        policy.min_length = Some(policy.min_length.map_or(unix_min, |q| i64::from(q).max(unix_min))).and_then(|n| u32::try_from(n).ok());
        policy.min_classes = policy.min_classes.or(Some(0));
    }

    policy.history = if let Some(rule) = find("pam_pwhistory") {
        push_unique(&mut sources, &rule.file);
        let mut settings = Vec::new();
        if let Some(text) = read_noting(root, PWHISTORY_CONF, PROBE, errors) {
            let found = parse_settings(&text);
            if found.iter().any(|(k, _)| k == "remember") {
                push_unique(&mut sources, PWHISTORY_CONF);
            }
            settings.extend(found);
        }
        settings.extend(args_as_settings(rule));
        let remember = settings
            .iter()
            .rev()
            .find(|(k, _)| k == "remember")
            .and_then(|(_, v)| v.parse().ok());
        Some(remember.unwrap_or(PWHISTORY_REMEMBER))
    } else if let Some(remember) = unix.and_then(|u| u.arg("remember")) {
        remember.parse().ok()
    } else if rules.is_empty() {
        None
    } else {
        Some(0)
    };

    let defs = read_noting(root, LOGIN_DEFS, PROBE, errors)
        .map(|t| parse_login_defs(&t))
        .unwrap_or_default();
    let days = |key: &str| defs.get(key).and_then(|v| v.parse::<i64>().ok());
    policy.max_days = days("PASS_MAX_DAYS");
    policy.min_days = days("PASS_MIN_DAYS");
    policy.warn_days = days("PASS_WARN_AGE");
    // pam_unix falls back to ENCRYPT_METHOD when no method is among its arguments.
    let unix_method = unix.and_then(|u| u.args.iter().find_map(|a| hash_name(a).filter(|_| a != "des")));
    policy.hash_method = unix_method.or_else(|| defs.get("ENCRYPT_METHOD").and_then(|m| hash_name(m)));
    if ["PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE", "ENCRYPT_METHOD"]
        .iter()
        .any(|k| defs.contains_key(*k))
    {
        push_unique(&mut sources, LOGIN_DEFS);
    }
    policy.sources = sources;
    policy
}

fn lockout(root: &Root, pam: &PamConfig, errors: &mut Errors) -> Lockout {
    const PROBE: &str = "lockout";
    let is_lockout = |r: &PamRule| r.kind == "auth" && (r.module == "pam_faillock" || r.module == "pam_tally2");
    let Some(rules) = AUTH_SERVICES
        .iter()
        .map(|s| pam.stack(s).into_iter().filter(is_lockout).collect::<Vec<_>>())
        .find(|rules| !rules.is_empty())
    else {
        return Lockout::default();
    };
    let mut sources: Vec<String> = Vec::new();
    for rule in &rules {
        push_unique(&mut sources, &rule.file);
    }
    let module = rules[0].module.clone();
    let mut settings = Vec::new();
    if module == "pam_faillock" {
        let conf = rules
            .iter()
            .find_map(|r| r.arg("conf"))
            .filter(|c| !c.is_empty())
            .unwrap_or(FAILLOCK_CONF);
        if let Some(text) = read_noting(root, conf, PROBE, errors) {
            let found = parse_settings(&text);
            if !found.is_empty() {
                push_unique(&mut sources, conf);
            }
            settings.extend(found);
        }
    }
    // Later rules' arguments (authfail) override earlier ones (preauth).
    for rule in &rules {
        settings.extend(args_as_settings(rule));
    }
    let mut lockout = if module == "pam_faillock" {
        faillock_settings(&settings)
    } else {
        tally2_settings(&settings)
    };
    lockout.module = Some(module);
    lockout.sources = sources;
    lockout
}

/// pam_faillock from its settings in order (file, then arguments).
pub fn faillock_settings(settings: &[(String, String)]) -> Lockout {
    let (mut deny, mut unlock, mut interval) = FAILLOCK_DEFAULTS;
    let mut even_deny_root = false;
    for (key, value) in settings {
        match key.as_str() {
            "deny" => deny = value.parse().unwrap_or(deny),
            // `never` is accepted as 0: only an administrator unlocks.
            "unlock_time" => unlock = if value == "never" { 0 } else { value.parse().unwrap_or(unlock) },
            "fail_interval" => interval = value.parse().unwrap_or(interval),
            "even_deny_root" => even_deny_root = true,
            _ => {}
        }
    }
    Lockout {
        deny: Some(deny),
        unlock_time_seconds: Some(unlock),
        fail_interval_seconds: Some(interval),
        even_deny_root: Some(even_deny_root),
        ..Lockout::default()
    }
}

/// pam_tally2 locks nothing without `deny=`, and without `unlock_time=` only
/// an administrator unlocks; it has no counting window.
pub fn tally2_settings(settings: &[(String, String)]) -> Lockout {
    let get = |key: &str| settings.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let deny = get("deny").and_then(|v| v.parse().ok()).filter(|d: &u32| *d > 0);
    Lockout {
        deny,
        unlock_time_seconds: deny.map(|_| get("unlock_time").and_then(|v| v.parse().ok()).unwrap_or(0)),
        fail_interval_seconds: None,
        even_deny_root: Some(get("even_deny_root").is_some()),
        ..Lockout::default()
    }
}

fn mfa(pam: &PamConfig) -> Mfa {
    let mut mfa = Mfa::default();
    for service in pam.services() {
        for rule in pam
            .stack(service)
            .iter()
            .filter(|r| r.kind == "auth" && MFA_MODULES.contains(&r.module.as_str()))
        {
            push_unique(&mut mfa.modules, &rule.module);
            push_unique(&mut mfa.services, service);
        }
    }
    mfa.modules.sort();
    mfa.services.sort();
    mfa
}

#[cfg(test)]
mod tests {
    use super::super::pam::tests::RHEL_SYSTEM_AUTH;
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;

    /// Debian 12 with libpam-pwquality installed.
    const DEBIAN_COMMON_PASSWORD: &str = "\
#
# /etc/pam.d/common-password - password-related modules common to all services
#
# here are the per-package modules (the \"Primary\" block)
password\trequisite\t\t\tpam_pwquality.so retry=3
password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
# here's the fallback if no module succeeds
password\trequisite\t\t\tpam_deny.so
password\trequired\t\t\tpam_permit.so
# and here are more per-package modules (the \"Additional\" block)
# end of pam-auth-update config
";

    const DEBIAN_PASSWD: &str = "#\n# The PAM configuration file for the Shadow `passwd' service\n#\n\n@include common-password\n\n";

    const LOGIN_DEFS_TEXT: &str = "\
MAIL_DIR        /var/mail
PASS_MAX_DAYS\t99999
PASS_MIN_DAYS\t0
PASS_WARN_AGE\t7
#ENCRYPT_METHOD DES
ENCRYPT_METHOD SHA512
";

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn probe(dir: &std::path::Path) -> (Auth, Errors) {
        let config = ProbeConfig {
            root: dir.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir), Processes::default(), &config);
        let mut errors = Errors::default();
        let pam = PamConfig::load(&ctx.root, &mut errors);
        (collect(&ctx, &pam, &mut errors), errors)
    }

    #[test]
    fn pwquality_files_then_arguments() {
        let mut settings = parse_settings(
            "# Configuration for systemwide password quality limits\n# minlen = 8\nminlen = 12\ndcredit = -1\n\
             ucredit=-1\nminclass = 2\nenforce_for_root\n",
        );
        settings.extend(parse_settings("minlen = 14\nocredit = -1\n"));
        settings.push(("lcredit".into(), "-1".into()));
        let q = credit_quality("pam_pwquality", &settings);
        assert_eq!(q.min_length, Some(14));
        assert_eq!(q.required_classes, vec!["digit", "upper", "lower", "other"]);
        assert_eq!(q.min_classes, Some(4));
        assert_eq!(q.enforce_for_root, Some(true));

        let q = credit_quality("pam_pwquality", &[("minlen".into(), "4".into())]);
        assert_eq!((q.min_length, q.min_classes, q.enforce_for_root), (Some(6), Some(0), Some(false)));
        let q = credit_quality("pam_cracklib", &[("minclass".into(), "3".into()), ("dcredit".into(), "-2".into())]);
        assert_eq!((q.min_length, q.min_classes), (Some(9), Some(3)));
        assert_eq!(q.required_classes, vec!["digit"]);
    }

    #[test]
    fn passwdqc_lengths_per_class_count() {
        let q = passwdqc_quality(&[]);
        assert_eq!((q.min_length, q.min_classes, q.enforce_for_root), (Some(7), Some(2), Some(true)));
        let q = passwdqc_quality(&[
            ("min".into(), "disabled,disabled,16,14,12".into()),
            ("enforce".into(), "users".into()),
        ]);
        assert_eq!((q.min_length, q.min_classes, q.enforce_for_root), (Some(12), Some(3), Some(false)));
    }

    #[test]
    fn faillock_defaults_file_and_arguments() {
        let l = faillock_settings(&[]);
        assert_eq!(
            (l.deny, l.unlock_time_seconds, l.fail_interval_seconds),
            (Some(3), Some(600), Some(900))
        );
        let mut settings = parse_settings(
            "# Configuration for locking the user after multiple failed\n# deny = 3\ndeny = 5\nunlock_time = never\neven_deny_root\n",
        );
        settings.push(("unlock_time".into(), "43200".into()));
        let l = faillock_settings(&settings);
        assert_eq!(
            (l.deny, l.unlock_time_seconds, l.even_deny_root),
            (Some(5), Some(43200), Some(true))
        );
        let l = tally2_settings(&[("onerr".into(), "fail".into()), ("deny".into(), "5".into())]);
        assert_eq!((l.deny, l.unlock_time_seconds, l.fail_interval_seconds), (Some(5), Some(0), None));
        assert_eq!(tally2_settings(&[]).deny, None);
    }

    #[test]
    fn debian_with_pwquality_and_no_lockout() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/etc/pam.d/common-password", DEBIAN_COMMON_PASSWORD);
        write(dir.path(), "/etc/pam.d/passwd", DEBIAN_PASSWD);
        write(
            dir.path(),
            "/etc/pam.d/common-auth",
            "auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\t\t\tpam_deny.so\n",
        );
        write(dir.path(), "/etc/pam.d/sshd", "@include common-auth\n");
        write(dir.path(), LOGIN_DEFS, LOGIN_DEFS_TEXT);
        write(dir.path(), PWQUALITY_CONF, "# minlen = 8\n# dcredit = 0\n");
        write(
            dir.path(),
            "/etc/security/pwquality.conf.d/50-site.conf",
            "minlen = 14\nminclass = 3\n",
        );
        write(dir.path(), "/etc/security/faillock.conf", "deny = 4\n");
        let (auth, errors) = probe(dir.path());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        let p = auth.password_policy;
        assert_eq!(p.quality_module.as_deref(), Some("pam_pwquality"));
        assert_eq!((p.min_length, p.min_classes, p.enforce_for_root), (Some(14), Some(3), Some(false)));
        assert!(p.required_classes.is_empty());
        assert_eq!((p.max_days, p.min_days, p.warn_days), (Some(99999), Some(0), Some(7)));
        assert_eq!(p.history, Some(0));
        assert_eq!(
            p.hash_method.as_deref(),
            Some("yescrypt"),
            "the pam_unix argument beats ENCRYPT_METHOD"
        );
        assert_eq!(
            p.sources,
            vec![
                "/etc/pam.d/common-password",
                "/etc/security/pwquality.conf.d/50-site.conf",
                LOGIN_DEFS
            ]
        );
        // faillock.conf alone locks nothing: the module is not in the stack.
        assert_eq!(auth.lockout, Lockout::default());
        assert_eq!(auth.mfa, Mfa::default());
    }

    #[test]
    fn rhel_authselect_with_faillock_and_history() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/etc/pam.d/system-auth", RHEL_SYSTEM_AUTH);
        write(dir.path(), "/etc/pam.d/password-auth", RHEL_SYSTEM_AUTH);
        write(
            dir.path(),
            "/etc/pam.d/passwd",
            "#%PAM-1.0\nauth       include\tsystem-auth\npassword   substack\tsystem-auth\n",
        );
        write(
            dir.path(),
            "/etc/pam.d/sshd",
            "#%PAM-1.0\nauth       required     pam_google_authenticator.so nullok\nauth       substack     password-auth\n",
        );
        write(dir.path(), "/etc/pam.d/sudo", "#%PAM-1.0\nauth       include      system-auth\n");
        write(dir.path(), "/etc/security/faillock.conf", "# deny = 3\ndeny = 5\nunlock_time = 0\n");
        write(dir.path(), PWHISTORY_CONF, "# remember = 10\nremember = 24\n");
        write(
            dir.path(),
            PWQUALITY_CONF,
            "minlen = 15\ndcredit = -1\nucredit = -1\nenforce_for_root\n",
        );
        let (auth, errors) = probe(dir.path());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        let l = auth.lockout;
        assert_eq!(l.module.as_deref(), Some("pam_faillock"));
        assert_eq!(
            (l.deny, l.unlock_time_seconds, l.fail_interval_seconds),
            (Some(5), Some(0), Some(900))
        );
        assert_eq!(l.even_deny_root, Some(false));
        assert_eq!(l.sources, vec!["/etc/pam.d/system-auth", FAILLOCK_CONF]);
        let p = auth.password_policy;
        assert_eq!(p.min_length, Some(15));
        assert_eq!(p.min_classes, Some(2));
        assert_eq!(p.required_classes, vec!["digit", "upper"]);
        assert_eq!(p.enforce_for_root, Some(true));
        assert_eq!(p.history, Some(24));
        assert_eq!(p.hash_method.as_deref(), Some("sha512"));
        assert_eq!((p.max_days, p.warn_days), (None, None));
        assert_eq!(auth.mfa.modules, vec!["pam_google_authenticator"]);
        assert_eq!(auth.mfa.services, vec!["sshd"]);
    }

    #[test]
    fn no_pam_means_unknown_policy() {
        let dir = tempfile::tempdir().unwrap();
        let (auth, errors) = probe(dir.path());
        assert!(errors.0.is_empty());
        assert_eq!(auth.password_policy, PasswordPolicy::default());
    }
}
