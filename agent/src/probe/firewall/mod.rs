//! Host firewall facts, per backend, and the inbound default-deny summary.
//!
//! Linux has several ways to filter packets, and several may be installed at
//! once: the kernel's nftables, the older iptables-legacy tables, and the
//! managers ufw and firewalld, which program one of those two. Each backend is
//! reported on its own so that a policy can say which one it trusts; the
//! summary only answers "is something filtering, and does it drop what it was
//! not told to let in".

pub mod firewalld;
pub mod iptables;
pub mod nftables;
pub mod ufw;

use super::root::Root;
use super::{Errors, ProbeContext};
use khien_proto::facts::{Firewall, FirewallBackend};
use std::collections::{BTreeMap, BTreeSet};

/// Every firewall failure is recorded under this fact path, prefixed with the backend.
pub(crate) const PROBE: &str = "firewall";

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Firewall {
    let ipv6_disabled = ipv6_disabled(&ctx.root);
    let (nft, mut chains) = nftables::collect(ctx, ipv6_disabled, errors);
    let (legacy, legacy_chains) = iptables::collect(ctx, ipv6_disabled, errors);
    chains.extend(legacy_chains);
    // ufw and firewalld only program the kernel; whether they filter shows in what they left there or in their process.
    let ufw = ufw::collect(ctx, &chains, errors);
    let firewalld = firewalld::collect(ctx, errors);
    summarize(vec![nft, legacy, ufw, firewalld])
}

/// The section from the per-backend findings; a backend that is not installed is noise, so it is left out.
pub fn summarize(backends: Vec<FirewallBackend>) -> Firewall {
    let backends: Vec<FirewallBackend> = backends.into_iter().filter(|b| b.present).collect();
    Firewall {
        enabled: backends.iter().any(|b| b.active),
        // A deny configured in a backend that is not running protects nothing.
        inbound_default_deny: backends.iter().any(|b| b.active && b.inbound_default_deny == Some(true)),
        backends,
    }
}

/// Whether the host has no IPv6 to protect, so that an IPv4-only ruleset still denies all inbound traffic.
pub fn ipv6_disabled(root: &Root) -> bool {
    let disable = root.read_optional("/proc/sys/net/ipv6/conf/all/disable_ipv6").ok().flatten();
    let if_inet6 = root.read_optional("/proc/net/if_inet6").ok().flatten();
    parse_ipv6_disabled(disable.as_deref(), if_inet6.as_deref())
}

/// `disable_ipv6` is the switch; an absent or empty `if_inet6` means no interface has an IPv6 address
/// (or the kernel has no IPv6 at all), which amounts to the same.
pub fn parse_ipv6_disabled(disable_ipv6: Option<&str>, if_inet6: Option<&str>) -> bool {
    disable_ipv6.is_some_and(|s| s.trim() == "1") || if_inet6.is_none_or(|s| s.trim().is_empty())
}

/// Inbound default deny of one backend from its IPv4 and IPv6 findings, `None` where a family could not be read.
///
/// Traffic not denied on either family reaches the host, so both must deny, unless IPv6 is off.
pub fn default_deny(ipv4: Option<bool>, ipv6: Option<bool>, ipv6_disabled: bool) -> Option<bool> {
    let ipv6 = if ipv6_disabled { Some(true) } else { ipv6 };
    match (ipv4, ipv6) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// The chain names every backend found, for ufw, which is recognised by its chains.
pub type ChainNames = BTreeSet<String>;

/// Details values are strings; booleans are spelt the way policies compare them.
pub(crate) fn flag(details: &mut BTreeMap<String, String>, key: &str, value: Option<bool>) {
    if let Some(v) = value {
        details.insert(key.to_string(), v.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(name: &str, present: bool, active: bool, deny: Option<bool>) -> FirewallBackend {
        FirewallBackend {
            name: name.to_string(),
            present,
            active,
            inbound_default_deny: deny,
            ..FirewallBackend::default()
        }
    }

    #[test]
    fn summary_lists_present_backends_in_order() {
        let fw = summarize(vec![
            backend("nftables", true, false, Some(false)),
            backend("iptables-legacy", false, false, None),
            backend("ufw", true, false, Some(false)),
            backend("firewalld", true, true, Some(true)),
        ]);
        let names: Vec<&str> = fw.backends.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["nftables", "ufw", "firewalld"]);
        assert!(fw.enabled);
        assert!(fw.inbound_default_deny);
    }

    #[test]
    fn summary_ignores_a_deny_in_an_inactive_backend() {
        let fw = summarize(vec![
            backend("nftables", true, true, Some(false)),
            backend("firewalld", true, false, Some(true)),
        ]);
        assert!(fw.enabled);
        assert!(!fw.inbound_default_deny);
        let fw = summarize(vec![backend("nftables", true, true, None)]);
        assert!(!fw.inbound_default_deny);
        let fw = summarize(Vec::new());
        assert_eq!(fw, Firewall::default());
    }

    #[test]
    fn ipv6_counts_unless_disabled() {
        assert_eq!(default_deny(Some(true), Some(false), false), Some(false));
        assert_eq!(default_deny(Some(true), Some(false), true), Some(true));
        assert_eq!(default_deny(Some(true), Some(true), false), Some(true));
        assert_eq!(default_deny(Some(false), Some(true), true), Some(false));
        assert_eq!(default_deny(None, Some(true), false), None);
        assert_eq!(default_deny(Some(true), None, false), None);
        assert_eq!(default_deny(Some(true), None, true), Some(true));
    }

    #[test]
    fn detects_disabled_ipv6() {
        let if_inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n";
        assert!(!parse_ipv6_disabled(Some("0\n"), Some(if_inet6)));
        assert!(parse_ipv6_disabled(Some("1\n"), Some(if_inet6)));
        assert!(parse_ipv6_disabled(Some("0\n"), Some("")));
        assert!(parse_ipv6_disabled(None, None));
    }

    /// Whatever this machine has, collection finishes and keeps the backend order; errors are allowed (not root).
    #[test]
    fn collects_on_this_machine() {
        let config = crate::config::ProbeConfig::default();
        let ctx = ProbeContext::new(
            Root::default(),
            super::super::procs::Processes::snapshot(&Root::default()).unwrap_or_default(),
            &config,
        );
        let mut errors = Errors::default();
        let fw = collect(&ctx, &mut errors);
        println!("{fw:#?}\n{errors:?}");
        let order = ["nftables", "iptables-legacy", "ufw", "firewalld"];
        let positions: Vec<usize> = fw.backends.iter().filter_map(|b| order.iter().position(|n| *n == b.name)).collect();
        assert_eq!(positions.len(), fw.backends.len());
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert!(errors.0.iter().all(|e| e.probe == PROBE));
    }

    #[test]
    fn reads_ipv6_state_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        assert!(ipv6_disabled(&root));
        std::fs::create_dir_all(dir.path().join("proc/net")).unwrap();
        std::fs::create_dir_all(dir.path().join("proc/sys/net/ipv6/conf/all")).unwrap();
        std::fs::write(
            dir.path().join("proc/net/if_inet6"),
            "00000000000000000000000000000001 01 80 10 80 lo\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("proc/sys/net/ipv6/conf/all/disable_ipv6"), "0\n").unwrap();
        assert!(!ipv6_disabled(&root));
        std::fs::write(dir.path().join("proc/sys/net/ipv6/conf/all/disable_ipv6"), "1\n").unwrap();
        assert!(ipv6_disabled(&root));
    }
}
