//! ufw, from its configuration files and the chains it leaves in the kernel.
//!
//! `ufw status` needs root, takes a lock and is slow; the configuration says
//! what ufw would do, and the presence of its `ufw-user-input` chain says
//! whether it is doing it now, whichever of nftables or iptables-legacy holds it.

use super::{ChainNames, PROBE, flag};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::FirewallBackend;
use std::collections::BTreeMap;

pub const NAME: &str = "ufw";

/// ufw creates this chain when it is enabled and removes it when disabled.
pub const USER_INPUT_CHAIN: &str = "ufw-user-input";

const CONF: &str = "/etc/ufw/ufw.conf";
const DEFAULTS: &str = "/etc/default/ufw";

/// The value of `KEY=value` in ufw's shell-style files, unquoted; the last assignment wins, as in the shell.
pub fn conf_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .next_back()
}

/// `ENABLED=yes|no` of ufw.conf: whether ufw starts at boot.
pub fn parse_enabled(ufw_conf: &str) -> Option<bool> {
    match conf_value(ufw_conf, "ENABLED")?.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// `DEFAULT_INPUT_POLICY` of /etc/default/ufw, lower-cased (`drop`, `reject`, `accept`).
pub fn parse_input_policy(defaults: &str) -> Option<String> {
    conf_value(defaults, "DEFAULT_INPUT_POLICY")
        .map(|p| p.to_ascii_lowercase())
        .filter(|p| !p.is_empty())
}

/// The backend's facts; pure so configurations can be checked anywhere.
///
/// The default-deny answer is unknown (`None`) when ufw is running but its policy could not be read.
pub fn backend(present: bool, active: bool, enabled_at_boot: Option<bool>, input_policy: Option<String>) -> FirewallBackend {
    let denies = input_policy.as_deref().map(|p| p == "drop" || p == "reject");
    let mut details = BTreeMap::new();
    flag(&mut details, "enabled_at_boot", enabled_at_boot);
    FirewallBackend {
        name: NAME.to_string(),
        present,
        active,
        input_policy,
        rules: None,
        inbound_default_deny: if active { denies } else { Some(false) },
        details,
    }
}

/// The ufw backend; `chains` are the chain names nftables and iptables-legacy found.
pub fn collect(ctx: &ProbeContext<'_>, chains: &ChainNames, errors: &mut Errors) -> FirewallBackend {
    let root = &ctx.root;
    let present = root.exists(CONF) || root.exists("/usr/sbin/ufw");
    if !present {
        return backend(false, false, None, None);
    }
    let mut read = |path: &str| match root.read_optional(path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(PROBE, format!("{NAME}: {}", describe(path, &e)));
            None
        }
    };
    let enabled = read(CONF).as_deref().and_then(parse_enabled);
    let policy = read(DEFAULTS).as_deref().and_then(parse_input_policy);
    let active = chains.contains(USER_INPUT_CHAIN);
    if active && policy.is_none() {
        errors.push(PROBE, format!("{NAME}: ufw is running but {DEFAULTS} has no DEFAULT_INPUT_POLICY"));
    }
    backend(true, active, enabled, policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    /// As Debian 12's ufw 0.36.2 installs them, after `ufw enable`.
    const UFW_CONF: &str = "\
# /etc/ufw/ufw.conf
#

# Set to yes to start on boot. If setting this remotely, be sure to add a rule
# to allow your remote connection before starting ufw. Eg: 'ufw allow 22/tcp'
ENABLED=yes

# Please use the 'ufw' command to set the loglevel. Eg: 'ufw logging medium'.
# See 'man ufw' for details.
LOGLEVEL=low
";

    const DEFAULT_UFW: &str = "\
# /etc/default/ufw
#

# Set to yes to apply rules to support IPv6 (no means only IPv6 on loopback
# accepted). You will need to 'disable' and then 'enable' the firewall for
# the changes to take affect.
IPV6=yes

# Set the default input policy to ACCEPT, DROP, or REJECT. Please note that if
# you change this you will most likely want to adjust your rules.
DEFAULT_INPUT_POLICY=\"DROP\"

# Set the default output policy to ACCEPT, DROP, or REJECT. Please note that if
# you change this you will most likely want to adjust your rules.
DEFAULT_OUTPUT_POLICY=\"ACCEPT\"
";

    fn fake_root(conf: Option<&str>, defaults: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/ufw")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc/default")).unwrap();
        if let Some(c) = conf {
            std::fs::write(dir.path().join("etc/ufw/ufw.conf"), c).unwrap();
        }
        if let Some(d) = defaults {
            std::fs::write(dir.path().join("etc/default/ufw"), d).unwrap();
        }
        dir
    }

    fn run(dir: &std::path::Path, chains: &[&str]) -> (FirewallBackend, Errors) {
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(dir), Processes::default(), &config);
        let chains: ChainNames = chains.iter().map(|c| c.to_string()).collect();
        let mut errors = Errors::default();
        (collect(&ctx, &chains, &mut errors), errors)
    }

    #[test]
    fn parses_conf_files() {
        assert_eq!(parse_enabled(UFW_CONF), Some(true));
        assert_eq!(parse_enabled("ENABLED=no\n"), Some(false));
        assert_eq!(parse_enabled("#ENABLED=yes\n"), None);
        assert_eq!(parse_input_policy(DEFAULT_UFW).as_deref(), Some("drop"));
        assert_eq!(parse_input_policy("DEFAULT_INPUT_POLICY='REJECT'\n").as_deref(), Some("reject"));
        assert_eq!(
            parse_input_policy("DEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_INPUT_POLICY=ACCEPT\n").as_deref(),
            Some("accept")
        );
        assert_eq!(parse_input_policy("IPV6=yes\n"), None);
    }

    #[test]
    fn running_ufw_with_drop_policy_denies() {
        let dir = fake_root(Some(UFW_CONF), Some(DEFAULT_UFW));
        let (b, errors) = run(dir.path(), &["INPUT", "ufw-before-input", "ufw-user-input"]);
        assert!(errors.0.is_empty(), "{errors:?}");
        assert!(b.present && b.active);
        assert_eq!(b.input_policy.as_deref(), Some("drop"));
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.details["enabled_at_boot"], "true");
    }

    #[test]
    fn configured_but_not_running_is_inactive() {
        let dir = fake_root(Some(UFW_CONF), Some(DEFAULT_UFW));
        let (b, _) = run(dir.path(), &["INPUT"]);
        assert!(b.present);
        assert!(!b.active);
        assert_eq!(b.inbound_default_deny, Some(false));
        assert_eq!(b.input_policy.as_deref(), Some("drop"));
    }

    #[test]
    fn accept_policy_does_not_deny() {
        let dir = fake_root(Some("ENABLED=yes\n"), Some("DEFAULT_INPUT_POLICY=\"ACCEPT\"\n"));
        let (b, _) = run(dir.path(), &["ufw-user-input"]);
        assert!(b.active);
        assert_eq!(b.inbound_default_deny, Some(false));
        assert_eq!(b.input_policy.as_deref(), Some("accept"));
    }

    #[test]
    fn running_without_a_readable_policy_is_unknown() {
        let dir = fake_root(Some(UFW_CONF), None);
        let (b, errors) = run(dir.path(), &["ufw-user-input"]);
        assert!(b.active);
        assert_eq!(b.inbound_default_deny, None);
        assert_eq!(errors.0.len(), 1);
        assert!(errors.0[0].message.starts_with("ufw: "), "{errors:?}");
        assert_eq!(errors.0[0].probe, "firewall");
    }

    #[test]
    fn absent_without_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let (b, errors) = run(dir.path(), &["ufw-user-input"]);
        assert!(!b.present);
        assert!(errors.0.is_empty());
    }
}
