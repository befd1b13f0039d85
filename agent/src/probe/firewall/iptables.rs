//! iptables-legacy: the x_tables filter tables that predate nftables.
//!
//! Still used by older distributions, container runtimes and hand-written
//! scripts, and invisible to `nft`. The kernel lists the loaded tables in
//! `/proc/net/ip_tables_names`; the save tool is only run when a filter table
//! is there, because running it would otherwise load the modules.

use super::{ChainNames, PROBE, default_deny, flag};
use crate::probe::command;
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::FirewallBackend;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub const NAME: &str = "iptables-legacy";

/// One address family of the legacy tables.
struct FamilySpec {
    /// As nftables names it, so details read the same for both backends.
    family: &'static str,
    tables_names: &'static str,
    save: [&'static str; 2],
}

const FAMILIES: [FamilySpec; 2] = [
    FamilySpec {
        family: "ip",
        tables_names: "/proc/net/ip_tables_names",
        save: ["/usr/sbin/iptables-legacy-save", "/sbin/iptables-legacy-save"],
    },
    FamilySpec {
        family: "ip6",
        tables_names: "/proc/net/ip6_tables_names",
        save: ["/usr/sbin/ip6tables-legacy-save", "/sbin/ip6tables-legacy-save"],
    },
];

/// The `*filter` section of `iptables-save`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterTable {
    /// Chain name to policy: `ACCEPT`, `DROP` for built-in chains, `-` for user chains.
    pub policies: BTreeMap<String, String>,
    /// `(chain, arguments after the chain name)` in order.
    pub rules: Vec<(String, Vec<String>)>,
}

impl FilterTable {
    pub fn input_policy(&self) -> Option<&str> {
        self.policies.get("INPUT").map(String::as_str)
    }

    /// Whether a packet no earlier rule accepted is dropped or rejected by INPUT.
    ///
    /// Like nftables, the first rule that matches every packet ends the chain,
    /// so it is that one, not the last, that decides over the policy.
    pub fn input_denies(&self) -> bool {
        let catch_all = self
            .rules
            .iter()
            .filter(|(chain, _)| chain == "INPUT")
            .find_map(|(_, args)| catch_all(args));
        match catch_all {
            Some("DROP" | "REJECT") => true,
            Some("ACCEPT") => false,
            _ => self.input_policy() == Some("DROP"),
        }
    }

    /// Filtering happens when there is a rule, or a built-in chain that does not accept everything.
    pub fn filters(&self) -> bool {
        !self.rules.is_empty() || self.policies.values().any(|p| p != "ACCEPT" && p != "-")
    }

    pub fn chain_names(&self) -> ChainNames {
        self.policies.keys().cloned().collect()
    }
}

/// The terminal target of a rule without any match (`-j DROP`, `-j REJECT --reject-with …`), `None` otherwise.
///
/// `RETURN` and `-g` leave the chain for the policy, reported as `POLICY`. A rule with any match or
/// another target (`LOG`, a user chain) does not end the chain for every packet.
pub fn catch_all(args: &[String]) -> Option<&'static str> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["-j", "ACCEPT"] => Some("ACCEPT"),
        ["-j", "DROP"] => Some("DROP"),
        ["-j", "REJECT"] | ["-j", "REJECT", "--reject-with", _] => Some("REJECT"),
        ["-j", "RETURN"] | ["-g", _] => Some("POLICY"),
        _ => None,
    }
}

/// The tables listed in `/proc/net/ip_tables_names`, one a line.
pub fn parse_tables_names(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// Parses the `*filter` section of `iptables-save` output; other tables are skipped.
pub fn parse_save(text: &str) -> Result<FilterTable, String> {
    let mut table = FilterTable::default();
    let mut current: Option<&str> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            current = Some(name.trim());
            continue;
        }
        if line == "COMMIT" {
            current = None;
            continue;
        }
        if current != Some("filter") {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut words = decl.split_whitespace();
            let (Some(chain), Some(policy)) = (words.next(), words.next()) else {
                return Err(format!("line {}: chain declaration without a policy: {line}", n + 1));
            };
            table.policies.insert(chain.to_string(), policy.to_string());
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let mut words = rule.split_whitespace();
            let Some(chain) = words.next() else {
                return Err(format!("line {}: rule without a chain: {line}", n + 1));
            };
            table.rules.push((chain.to_string(), words.map(str::to_string).collect()));
        }
    }
    Ok(table)
}

/// What was learnt about one family's filter table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FamilyState {
    /// No legacy filter table in the kernel: nothing filters here.
    NotLoaded,
    Loaded(FilterTable),
    /// Loaded, but it could not be read; the error says why.
    Unknown,
}

impl FamilyState {
    fn default_deny(&self) -> Option<bool> {
        match self {
            FamilyState::NotLoaded => Some(false),
            FamilyState::Loaded(t) => Some(t.input_denies()),
            FamilyState::Unknown => None,
        }
    }
}

/// The backend's facts from what was found per family; pure so recorded outputs can be checked anywhere.
///
/// `tables` are the loaded tables as `family:name`, whether or not they were read.
pub fn backend(present: bool, tables: &[String], ipv4: &FamilyState, ipv6: &FamilyState, ipv6_disabled: bool) -> FirewallBackend {
    let families = [("ip", ipv4), ("ip6", ipv6)];
    let loaded: Vec<(&str, &FilterTable)> = families
        .iter()
        .filter_map(|(f, s)| match s {
            FamilyState::Loaded(t) => Some((*f, t)),
            _ => None,
        })
        .collect();
    let unknown = families.iter().any(|(_, s)| **s == FamilyState::Unknown);
    let inputs: Vec<(&str, &str)> = loaded.iter().filter_map(|(f, t)| t.input_policy().map(|p| (*f, p))).collect();
    let input_policy = if inputs.is_empty() {
        None
    } else if inputs.iter().any(|(_, p)| *p == "DROP") {
        Some("drop".to_string())
    } else {
        Some("accept".to_string())
    };
    let mut details = BTreeMap::new();
    details.insert("tables".to_string(), tables.join(","));
    let chains: Vec<String> = inputs
        .iter()
        .map(|(f, p)| format!("{f}:filter:INPUT={}", p.to_lowercase()))
        .collect();
    details.insert("input_chains".to_string(), chains.join(","));
    flag(&mut details, "ipv4_default_deny", ipv4.default_deny());
    flag(&mut details, "ipv6_default_deny", ipv6.default_deny());
    flag(&mut details, "ipv6_disabled", Some(ipv6_disabled));
    FirewallBackend {
        name: NAME.to_string(),
        present,
        active: loaded.iter().any(|(_, t)| t.filters()),
        input_policy,
        rules: if unknown {
            None
        } else {
            Some(loaded.iter().map(|(_, t)| t.rules.len() as u32).sum())
        },
        inbound_default_deny: default_deny(ipv4.default_deny(), ipv6.default_deny(), ipv6_disabled),
        details,
    }
}

/// The iptables-legacy backend and its chain names.
pub fn collect(ctx: &ProbeContext<'_>, ipv6_disabled: bool, errors: &mut Errors) -> (FirewallBackend, ChainNames) {
    let present = FAMILIES.iter().any(|f| command::find_tool(&f.save).is_some());
    let mut tables = Vec::new();
    let mut chains = ChainNames::new();
    let mut read_family = |spec: &FamilySpec| {
        let names = match ctx.root.read_optional(spec.tables_names) {
            Ok(text) => parse_tables_names(text.as_deref().unwrap_or_default()),
            Err(e) => {
                errors.push(PROBE, format!("{NAME}: {}", describe(spec.tables_names, &e)));
                Vec::new()
            }
        };
        tables.extend(names.iter().map(|t| format!("{}:{t}", spec.family)));
        if !names.iter().any(|t| t == "filter") {
            return FamilyState::NotLoaded;
        }
        match read_filter(spec, ctx.command_timeout) {
            Ok(table) => {
                chains.extend(table.chain_names());
                FamilyState::Loaded(table)
            }
            Err(e) => {
                errors.push(PROBE, format!("{NAME}: {e}"));
                FamilyState::Unknown
            }
        }
    };
    let [v4, v6] = &FAMILIES;
    let ipv4 = read_family(v4);
    let ipv6 = read_family(v6);
    (backend(present, &tables, &ipv4, &ipv6, ipv6_disabled), chains)
}

/// Dumps one family's filter table with its legacy save tool.
fn read_filter(spec: &FamilySpec, timeout: Duration) -> Result<FilterTable, String> {
    let Some(tool) = command::find_tool(&spec.save) else {
        // The kernel filters with rules nothing here can show.
        return Err(format!(
            "the {} filter table is loaded but {} is missing",
            spec.family, spec.save[0]
        ));
    };
    let args = ["-t", "filter"];
    let out = command::run(Path::new(tool), &args, timeout).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!("{tool} {} failed ({}): {}", args.join(" "), out.status, out.stderr.trim()));
    }
    parse_save(&out.stdout).map_err(|e| format!("{tool}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `iptables-legacy-save -t filter` from iptables 1.8.9 after `-P INPUT DROP` and two rules.
    const LEGACY_DROP: &str = "\
# Generated by iptables-save v1.8.9 on Sun Nov 22 22:09:12 2026
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -s 10.0.0.0/8 -j ACCEPT
COMMIT
# Completed on Sun Nov 22 22:09:12 2026
";

    /// Policy ACCEPT, closed by a final REJECT, the way RHEL 7's iptables-services ships it.
    const LEGACY_REJECT: &str = "\
# Generated by ip6tables-save v1.8.9 on Sun Nov 22 22:09:12 2026
*filter
:INPUT ACCEPT [120:9000]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [80:7000]
:ufw-user-input - [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
COMMIT
";

    const LEGACY_EMPTY: &str = "\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
";

    fn loaded(text: &str) -> FamilyState {
        FamilyState::Loaded(parse_save(text).unwrap())
    }

    fn tables(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_policies_and_rules() {
        let t = parse_save(LEGACY_REJECT).unwrap();
        assert_eq!(t.input_policy(), Some("ACCEPT"));
        assert_eq!(t.policies["ufw-user-input"], "-");
        assert_eq!(t.rules.len(), 3);
        assert_eq!(t.rules[2].1, ["-j", "REJECT", "--reject-with", "icmp-host-prohibited"]);
        assert!(t.chain_names().contains("ufw-user-input"));
        assert!(t.filters());
        assert!(!parse_save(LEGACY_EMPTY).unwrap().filters());
        assert_eq!(parse_save("").unwrap(), FilterTable::default());
    }

    #[test]
    fn skips_other_tables() {
        let t = parse_save("*nat\n:PREROUTING DROP [0:0]\n-A PREROUTING -j DROP\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n").unwrap();
        assert_eq!(t.policies.len(), 1);
        assert!(t.rules.is_empty());
        assert!(!t.input_denies());
    }

    #[test]
    fn drop_policy_or_final_reject_denies() {
        assert!(parse_save(LEGACY_DROP).unwrap().input_denies());
        assert!(parse_save(LEGACY_REJECT).unwrap().input_denies());
        assert!(!parse_save(LEGACY_EMPTY).unwrap().input_denies());
        let with_last =
            |rule: &str| parse_save(&format!("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n{rule}\nCOMMIT\n")).unwrap();
        assert!(with_last("-A INPUT -j DROP").input_denies());
        assert!(with_last("-A INPUT -j REJECT").input_denies());
        assert!(!with_last("-A INPUT -p tcp -j DROP").input_denies());
        assert!(!with_last("-A INPUT -m limit --limit 5/min -j REJECT").input_denies());
        assert!(!with_last("-A INPUT -j LOG --log-prefix drop").input_denies());
        assert!(!with_last("-A FORWARD -j DROP").input_denies());
    }

    #[test]
    fn an_early_catch_all_accept_overrides_a_drop_policy() {
        let t = parse_save("*filter\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n").unwrap();
        assert!(!t.input_denies());
        let t = parse_save("*filter\n:INPUT DROP [0:0]\n-A INPUT -j RETURN\nCOMMIT\n").unwrap();
        assert!(t.input_denies());
    }

    #[test]
    fn reads_loaded_tables() {
        assert_eq!(parse_tables_names("filter\nnat\n\n"), ["filter", "nat"]);
        assert!(parse_tables_names("").is_empty());
    }

    #[test]
    fn both_families_denying_is_default_deny() {
        let b = backend(
            true,
            &tables(&["ip:filter", "ip6:filter"]),
            &loaded(LEGACY_DROP),
            &loaded(LEGACY_REJECT),
            false,
        );
        assert!(b.active);
        assert_eq!(b.input_policy.as_deref(), Some("drop"));
        assert_eq!(b.rules, Some(5));
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.details["tables"], "ip:filter,ip6:filter");
        assert_eq!(b.details["input_chains"], "ip:filter:INPUT=drop,ip6:filter:INPUT=accept");
    }

    #[test]
    fn ipv4_only_needs_ipv6_off() {
        let open = backend(true, &tables(&["ip:filter"]), &loaded(LEGACY_DROP), &FamilyState::NotLoaded, false);
        assert!(open.active);
        assert_eq!(open.inbound_default_deny, Some(false));
        assert_eq!(open.details["ipv6_default_deny"], "false");
        let closed = backend(true, &tables(&["ip:filter"]), &loaded(LEGACY_DROP), &FamilyState::NotLoaded, true);
        assert_eq!(closed.inbound_default_deny, Some(true));
    }

    #[test]
    fn nothing_loaded_is_inactive() {
        let b = backend(true, &[], &FamilyState::NotLoaded, &FamilyState::NotLoaded, false);
        assert!(!b.active);
        assert_eq!(b.input_policy, None);
        assert_eq!(b.rules, Some(0));
        assert_eq!(b.inbound_default_deny, Some(false));
        let empty = backend(true, &tables(&["ip:filter"]), &loaded(LEGACY_EMPTY), &FamilyState::NotLoaded, false);
        assert!(!empty.active);
        assert_eq!(empty.input_policy.as_deref(), Some("accept"));
    }

    #[test]
    fn an_unreadable_family_leaves_the_answer_open() {
        let b = backend(
            true,
            &tables(&["ip:filter", "ip6:filter"]),
            &loaded(LEGACY_DROP),
            &FamilyState::Unknown,
            false,
        );
        assert_eq!(b.inbound_default_deny, None);
        assert_eq!(b.rules, None);
        assert!(!b.details.contains_key("ipv6_default_deny"));
        // An IPv4 table that does not deny settles it whatever IPv6 does.
        let b = backend(true, &[], &loaded(LEGACY_EMPTY), &FamilyState::Unknown, false);
        assert_eq!(b.inbound_default_deny, Some(false));
    }
}
