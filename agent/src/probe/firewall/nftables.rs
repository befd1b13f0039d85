//! nftables, read from `nft -j list ruleset` (libnftables-json(5)).
//!
//! The JSON output is nft's stable interface; the text output changes between
//! releases. iptables-nft, ufw and firewalld all end up here on current
//! distributions, so this is the backend that usually decides.

use super::{ChainNames, PROBE, default_deny, flag};
use crate::probe::command;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::FirewallBackend;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub const NAME: &str = "nftables";

const NFT: [&str; 3] = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"];

/// The families whose input hook sees traffic addressed to the host; arp, bridge and netdev do not decide that.
const INPUT_FAMILIES: [&str; 3] = ["ip", "ip6", "inet"];

/// Statements that leave the packet's fate alone, so a rule made only of them and a verdict matches every packet.
const PASSIVE_STATEMENTS: [&str; 2] = ["counter", "log"];

/// What a chain does with a packet, as far as this probe follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Accept,
    Drop,
    Reject,
    /// `return` or `goto`: processing leaves the chain, and in a base chain the policy applies.
    Policy,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub family: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    pub family: String,
    pub table: String,
    pub name: String,
    /// Set for base chains only: regular chains see packets only when jumped to.
    pub hook: Option<String>,
    /// nft omits it for regular chains; a base chain without one accepts.
    pub policy: Option<String>,
    pub rules: u32,
    /// The ending of the first rule that matches every packet: rules after it and the policy are never reached.
    pub catch_all: Option<Ending>,
}

impl Chain {
    pub fn is_input(&self) -> bool {
        self.hook.as_deref() == Some("input") && INPUT_FAMILIES.contains(&self.family.as_str())
    }

    pub fn policy_drops(&self) -> bool {
        self.policy.as_deref() == Some("drop")
    }

    /// Whether a packet no earlier rule accepted is dropped or rejected here.
    ///
    /// The first unconditional verdict is what counts, not the last rule: a
    /// catch-all `accept` early in a `policy drop` chain lets everything in.
    pub fn denies(&self) -> bool {
        match self.catch_all {
            Some(Ending::Drop | Ending::Reject) => true,
            Some(Ending::Accept) => false,
            Some(Ending::Policy) | None => self.policy_drops(),
        }
    }

    fn covers(&self, ipv6: bool) -> bool {
        self.family == "inet" || self.family == if ipv6 { "ip6" } else { "ip" }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub tables: Vec<Table>,
    pub chains: Vec<Chain>,
    /// Every rule of every family, including those in chains that do not filter input.
    pub rules: u32,
}

impl Ruleset {
    pub fn input_chains(&self) -> impl Iterator<Item = &Chain> {
        self.chains.iter().filter(|c| c.is_input())
    }

    /// A drop at the input hook is final whichever base chain says it, so one denying chain is enough.
    pub fn ipv4_default_deny(&self) -> bool {
        self.input_chains().any(|c| c.covers(false) && c.denies())
    }

    pub fn ipv6_default_deny(&self) -> bool {
        self.input_chains().any(|c| c.covers(true) && c.denies())
    }

    /// The names of all chains, for managers recognised by theirs (`ufw-user-input`).
    pub fn chain_names(&self) -> ChainNames {
        self.chains.iter().map(|c| c.name.clone()).collect()
    }
}

/// Parses `nft -j list ruleset`. Objects this probe does not need (sets, maps, flowtables, …) are skipped.
pub fn parse_ruleset(json: &str) -> Result<Ruleset, String> {
    // Old releases print nothing at all for an empty ruleset.
    if json.trim().is_empty() {
        return Ok(Ruleset::default());
    }
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("nft printed invalid JSON: {e}"))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("nft JSON has no \"nftables\" array")?;
    let mut ruleset = Ruleset::default();
    // Keyed by (family, table, chain); rules may in principle come before their chain.
    let mut chains: BTreeMap<(String, String, String), Chain> = BTreeMap::new();
    let mut order: Vec<(String, String, String)> = Vec::new();
    for item in items {
        if let Some(t) = item.get("table") {
            ruleset.tables.push(Table {
                family: field(t, "family", "table")?,
                name: field(t, "name", "table")?,
            });
        } else if let Some(c) = item.get("chain") {
            let key = (
                field(c, "family", "chain")?,
                field(c, "table", "chain")?,
                field(c, "name", "chain")?,
            );
            let chain = chains.entry(key.clone()).or_insert_with(|| {
                order.push(key.clone());
                Chain::default()
            });
            (chain.family, chain.table, chain.name) = key;
            chain.hook = c.get("hook").and_then(Value::as_str).map(str::to_string);
            chain.policy = c.get("policy").and_then(Value::as_str).map(str::to_string);
        } else if let Some(r) = item.get("rule") {
            let key = (field(r, "family", "rule")?, field(r, "table", "rule")?, field(r, "chain", "rule")?);
            let chain = chains.entry(key.clone()).or_insert_with(|| {
                order.push(key.clone());
                let (family, table, name) = key;
                Chain {
                    family,
                    table,
                    name,
                    ..Chain::default()
                }
            });
            chain.rules += 1;
            ruleset.rules += 1;
            if chain.catch_all.is_none() {
                let expr = r.get("expr").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                chain.catch_all = catch_all(expr);
            }
        }
    }
    ruleset.chains = order.into_iter().filter_map(|k| chains.remove(&k)).collect();
    Ok(ruleset)
}

fn field(obj: &Value, key: &str, kind: &str) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("nft JSON has a {kind} without a \"{key}\"")),
    }
}

/// The ending of a rule that matches every packet, `None` for a rule with a condition or without a final verdict.
///
/// Anything but a passive statement counts as a condition: a `limit` or a
/// `match` lets some packets through, and an unknown statement might.
pub fn catch_all(expr: &[Value]) -> Option<Ending> {
    let (last, before) = expr.split_last()?;
    let passive = |s: &Value| {
        s.as_object()
            .is_some_and(|o| o.len() == 1 && o.keys().all(|k| PASSIVE_STATEMENTS.contains(&k.as_str())))
    };
    if !before.iter().all(passive) {
        return None;
    }
    let obj = last.as_object().filter(|o| o.len() == 1)?;
    let (key, value) = obj.iter().next()?;
    match key.as_str() {
        "accept" => Some(Ending::Accept),
        "drop" => Some(Ending::Drop),
        "reject" => Some(Ending::Reject),
        "return" | "goto" => Some(Ending::Policy),
        // iptables-nft keeps targets nft cannot express, REJECT among them, as xtables extensions.
        "xt" if value.get("type").and_then(Value::as_str) == Some("target") => match value.get("name").and_then(Value::as_str) {
            Some("ACCEPT") => Some(Ending::Accept),
            Some("DROP") => Some(Ending::Drop),
            Some("REJECT") => Some(Ending::Reject),
            _ => None,
        },
        _ => None,
    }
}

/// The backend's facts from a ruleset; pure so recorded rulesets can be checked anywhere.
pub fn backend(ruleset: &Ruleset, ipv6_disabled: bool) -> FirewallBackend {
    let ipv4 = ruleset.ipv4_default_deny();
    let ipv6 = ruleset.ipv6_default_deny();
    let inputs: Vec<&Chain> = ruleset.input_chains().collect();
    let input_policy = if inputs.is_empty() {
        None
    } else if inputs.iter().any(|c| c.policy_drops()) {
        Some("drop".to_string())
    } else {
        Some("accept".to_string())
    };
    let mut details = BTreeMap::new();
    let tables: Vec<String> = ruleset.tables.iter().map(|t| format!("{}:{}", t.family, t.name)).collect();
    details.insert("tables".to_string(), tables.join(","));
    let chains: Vec<String> = inputs
        .iter()
        .map(|c| format!("{}:{}:{}={}", c.family, c.table, c.name, c.policy.as_deref().unwrap_or("accept")))
        .collect();
    details.insert("input_chains".to_string(), chains.join(","));
    flag(&mut details, "ipv4_default_deny", Some(ipv4));
    flag(&mut details, "ipv6_default_deny", Some(ipv6));
    flag(&mut details, "ipv6_disabled", Some(ipv6_disabled));
    FirewallBackend {
        name: NAME.to_string(),
        present: true,
        active: !ruleset.tables.is_empty(),
        input_policy,
        rules: Some(ruleset.rules),
        inbound_default_deny: default_deny(Some(ipv4), Some(ipv6), ipv6_disabled),
        details,
    }
}

/// Runs `nft -j list ruleset` and parses it; the error names the command and what nft said.
pub fn list_ruleset(nft: &Path, timeout: Duration) -> Result<Ruleset, String> {
    let args = ["-j", "list", "ruleset"];
    let out = command::run(nft, &args, timeout).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "{} {} failed ({}): {}",
            nft.display(),
            args.join(" "),
            out.status,
            out.stderr.trim()
        ));
    }
    parse_ruleset(&out.stdout)
}

/// The nftables backend and its chain names; an empty set when the ruleset could not be read.
pub fn collect(ctx: &ProbeContext<'_>, ipv6_disabled: bool, errors: &mut Errors) -> (FirewallBackend, ChainNames) {
    let absent = FirewallBackend {
        name: NAME.to_string(),
        ..FirewallBackend::default()
    };
    let Some(nft) = command::find_tool(&NFT) else {
        // Rules may be loaded (by iptables-nft, firewalld) while nothing here can show them.
        if ctx.root.exists("/sys/module/nf_tables") {
            errors.push(PROBE, format!("{NAME}: nf_tables is loaded but the nft tool is missing"));
        }
        return (absent, ChainNames::new());
    };
    match list_ruleset(Path::new(nft), ctx.command_timeout) {
        Ok(ruleset) => (backend(&ruleset, ipv6_disabled), ruleset.chain_names()),
        Err(e) => {
            errors.push(PROBE, format!("{NAME}: {e}"));
            (FirewallBackend { present: true, ..absent }, ChainNames::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}}"#;

    fn ruleset(items: &[&str]) -> Ruleset {
        let mut all = vec![META];
        all.extend_from_slice(items);
        parse_ruleset(&format!("{{\"nftables\":[{}]}}", all.join(","))).unwrap()
    }

    const INET_TABLE: &str = r#"{"table":{"family":"inet","name":"filter","handle":1}}"#;

    #[test]
    fn empty_ruleset_is_inactive() {
        let r =
            parse_ruleset(r#"{"nftables":[{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}}]}"#)
                .unwrap();
        let b = backend(&r, false);
        assert!(b.present);
        assert!(!b.active);
        assert_eq!(b.input_policy, None);
        assert_eq!(b.rules, Some(0));
        assert_eq!(b.inbound_default_deny, Some(false));
        assert_eq!(b.details["tables"], "");
        assert_eq!(parse_ruleset("\n").unwrap(), Ruleset::default());
    }

    /// `nft -j list ruleset` of Debian's /etc/nftables.conf with `policy drop` on input.
    #[test]
    fn inet_input_policy_drop_denies_both_families() {
        let r = ruleset(&[
            INET_TABLE,
            r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#,
            r#"{"chain":{"family":"inet","table":"filter","name":"forward","handle":2,"type":"filter","hook":"forward","prio":0,"policy":"accept"}}"#,
            r#"{"chain":{"family":"inet","table":"filter","name":"output","handle":3,"type":"filter","hook":"output","prio":0,"policy":"accept"}}"#,
            r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":4,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}]}}"#,
            r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":5,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iif"}},"right":"lo"}},{"accept":null}]}}"#,
            r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":6,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}}"#,
        ]);
        assert_eq!(r.rules, 3);
        assert!(r.ipv4_default_deny());
        assert!(r.ipv6_default_deny());
        let b = backend(&r, false);
        assert!(b.active);
        assert_eq!(b.input_policy.as_deref(), Some("drop"));
        assert_eq!(b.rules, Some(3));
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.details["tables"], "inet:filter");
        assert_eq!(b.details["input_chains"], "inet:filter:input=drop");
        assert_eq!(b.details["ipv4_default_deny"], "true");
        assert_eq!(b.details["ipv6_default_deny"], "true");
    }

    #[test]
    fn inet_input_policy_accept_with_rules_does_not_deny() {
        let r = ruleset(&[
            INET_TABLE,
            r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}}"#,
            r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":2,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":23}},{"drop":null}]}}"#,
            r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":3,"expr":[{"match":{"op":"==","left":{"ip":{"key":"saddr"}},"right":"192.0.2.1"}},{"counter":{"packets":0,"bytes":0}},{"drop":null}]}}"#,
            r#"{"set":{"family":"inet","name":"blocked","table":"filter","type":"ipv4_addr","handle":4}}"#,
        ]);
        let b = backend(&r, true);
        assert!(b.active);
        assert_eq!(b.input_policy.as_deref(), Some("accept"));
        assert_eq!(b.rules, Some(2));
        assert_eq!(b.inbound_default_deny, Some(false));
        assert_eq!(b.details["input_chains"], "inet:filter:input=accept");
    }

    fn ip_only_drop() -> Ruleset {
        ruleset(&[
            r#"{"table":{"family":"ip","name":"filter","handle":1}}"#,
            r#"{"chain":{"family":"ip","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#,
            r#"{"rule":{"family":"ip","table":"filter","chain":"input","handle":2,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iif"}},"right":"lo"}},{"accept":null}]}}"#,
        ])
    }

    #[test]
    fn ip_only_drop_leaves_ipv6_open() {
        let r = ip_only_drop();
        assert!(r.ipv4_default_deny());
        assert!(!r.ipv6_default_deny());
        let b = backend(&r, false);
        assert_eq!(b.inbound_default_deny, Some(false));
        assert_eq!(b.input_policy.as_deref(), Some("drop"));
        assert_eq!(b.details["ipv6_default_deny"], "false");
    }

    #[test]
    fn ip_only_drop_is_enough_without_ipv6() {
        let b = backend(&ip_only_drop(), true);
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.details["ipv6_disabled"], "true");
    }

    /// Recorded from iptables-nft 1.8.9: `iptables -A INPUT -j REJECT` becomes an xtables target.
    fn iptables_nft(last: &str) -> Ruleset {
        let rule = format!(
            r#"{{"rule":{{"family":"ip","table":"filter","chain":"INPUT","handle":4,"expr":[{{"counter":{{"packets":0,"bytes":0}}}},{last}]}}}}"#
        );
        ruleset(&[
            r#"{"table":{"family":"ip","name":"filter","handle":1}}"#,
            r#"{"chain":{"family":"ip","table":"filter","name":"INPUT","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}}"#,
            r#"{"rule":{"family":"ip","table":"filter","chain":"INPUT","handle":2,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"lo"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}}"#,
            r#"{"rule":{"family":"ip","table":"filter","chain":"INPUT","handle":3,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}}"#,
            &rule,
            r#"{"table":{"family":"ip6","name":"filter","handle":2}}"#,
            r#"{"chain":{"family":"ip6","table":"filter","name":"INPUT","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}}"#,
            r#"{"rule":{"family":"ip6","table":"filter","chain":"INPUT","handle":2,"expr":[{"drop":null}]}}"#,
        ])
    }

    #[test]
    fn iptables_nft_last_rule_reject_or_drop_denies() {
        for last in [
            r#"{"reject":{"type":"icmp","expr":"host-prohibited"}}"#,
            r#"{"reject":null}"#,
            r#"{"drop":null}"#,
            r#"{"xt":{"type":"target","name":"REJECT"}}"#,
        ] {
            let r = iptables_nft(last);
            assert!(r.ipv4_default_deny(), "{last}");
            let b = backend(&r, false);
            assert_eq!(b.inbound_default_deny, Some(true), "{last}");
            // The policy itself still accepts; the rule does the denying.
            assert_eq!(b.input_policy.as_deref(), Some("accept"));
            assert_eq!(b.rules, Some(4));
            assert_eq!(b.details["tables"], "ip:filter,ip6:filter");
            assert_eq!(b.details["input_chains"], "ip:filter:INPUT=accept,ip6:filter:INPUT=accept");
        }
        for last in [r#"{"accept":null}"#, r#"{"xt":{"type":"target","name":"LOG"}}"#] {
            assert!(!iptables_nft(last).ipv4_default_deny(), "{last}");
        }
    }

    #[test]
    fn conditional_or_limited_drops_do_not_deny() {
        let drop = |expr: &str| catch_all(&serde_json::from_str::<Vec<Value>>(expr).unwrap());
        assert_eq!(
            drop(r#"[{"counter":null},{"log":{"prefix":"in "}},{"drop":null}]"#),
            Some(Ending::Drop)
        );
        assert_eq!(drop(r#"[{"limit":{"rate":5,"per":"second"}},{"drop":null}]"#), None);
        assert_eq!(
            drop(r#"[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"tcp"}},{"reject":null}]"#),
            None
        );
        assert_eq!(drop(r#"[{"counter":null}]"#), None);
        assert_eq!(drop(r#"[{"jump":{"target":"other"}}]"#), None);
        assert_eq!(drop(r#"[{"goto":{"target":"other"}}]"#), Some(Ending::Policy));
        assert_eq!(drop("[]"), None);
    }

    #[test]
    fn an_early_catch_all_accept_overrides_a_drop_policy() {
        let r = ruleset(&[
            INET_TABLE,
            r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#,
            r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":2,"expr":[{"counter":null},{"accept":null}]}}"#,
            r#"{"rule":{"family":"inet","table":"filter","chain":"input","handle":3,"expr":[{"drop":null}]}}"#,
        ]);
        assert!(!r.ipv4_default_deny());
        assert_eq!(backend(&r, true).inbound_default_deny, Some(false));
    }

    #[test]
    fn any_denying_base_chain_decides() {
        let r = ruleset(&[
            INET_TABLE,
            r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}}"#,
            r#"{"table":{"family":"inet","name":"firewalld","handle":2}}"#,
            r#"{"chain":{"family":"inet","table":"firewalld","name":"filter_INPUT","handle":1,"type":"filter","hook":"input","prio":10,"policy":"accept"}}"#,
            r#"{"chain":{"family":"inet","table":"firewalld","name":"filter_INPUT_ZONES","handle":2}}"#,
            r#"{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","handle":3,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}]}}"#,
            r#"{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","handle":4,"expr":[{"jump":{"target":"filter_INPUT_ZONES"}}]}}"#,
            r#"{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","handle":5,"expr":[{"reject":{"type":"icmpx","expr":"admin-prohibited"}}]}}"#,
            // An output or arp chain dropping does not protect inbound traffic.
            r#"{"table":{"family":"arp","name":"a","handle":3}}"#,
            r#"{"chain":{"family":"arp","table":"a","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#,
        ]);
        assert!(r.ipv4_default_deny() && r.ipv6_default_deny());
        let b = backend(&r, false);
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.input_policy.as_deref(), Some("accept"));
        assert_eq!(
            b.details["input_chains"],
            "inet:filter:input=accept,inet:firewalld:filter_INPUT=accept"
        );
    }

    /// ufw 0.36 on Debian 12 programs iptables-nft; its chains show in the nft ruleset.
    #[test]
    fn ufw_on_nft_exposes_its_chains() {
        let r = ruleset(&[
            r#"{"table":{"family":"ip","name":"filter","handle":1}}"#,
            r#"{"chain":{"family":"ip","table":"filter","name":"INPUT","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#,
            r#"{"chain":{"family":"ip","table":"filter","name":"ufw-before-input","handle":4}}"#,
            r#"{"chain":{"family":"ip","table":"filter","name":"ufw-user-input","handle":10}}"#,
            r#"{"rule":{"family":"ip","table":"filter","chain":"INPUT","handle":40,"expr":[{"counter":{"packets":120,"bytes":9000}},{"jump":{"target":"ufw-before-input"}}]}}"#,
            r#"{"rule":{"family":"ip","table":"filter","chain":"ufw-before-input","handle":41,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-user-input"}}]}}"#,
            r#"{"rule":{"family":"ip","table":"filter","chain":"ufw-user-input","handle":42,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}}"#,
            r#"{"table":{"family":"ip6","name":"filter","handle":2}}"#,
            r#"{"chain":{"family":"ip6","table":"filter","name":"INPUT","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#,
            r#"{"chain":{"family":"ip6","table":"filter","name":"ufw6-user-input","handle":10}}"#,
        ]);
        let names = r.chain_names();
        assert!(names.contains("ufw-user-input"));
        assert!(names.contains("ufw6-user-input"));
        let b = backend(&r, false);
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.rules, Some(3));
    }

    #[test]
    fn rejects_what_is_not_a_ruleset() {
        assert!(parse_ruleset("Error: syntax error").unwrap_err().contains("invalid JSON"));
        assert!(parse_ruleset(r#"{"other":[]}"#).unwrap_err().contains("nftables"));
        assert!(
            parse_ruleset(r#"{"nftables":[{"chain":{"family":"ip","table":"t"}}]}"#)
                .unwrap_err()
                .contains("name")
        );
    }

    #[test]
    fn reports_a_failing_nft() {
        let err = list_ruleset(Path::new("/bin/false"), Duration::from_secs(5)).unwrap_err();
        assert!(err.contains("/bin/false -j list ruleset failed"), "{err}");
        let err = list_ruleset(Path::new("/nonexistent/nft"), Duration::from_secs(5)).unwrap_err();
        assert!(err.contains("/nonexistent/nft"), "{err}");
    }

    /// Removes the test namespace however the test ends.
    struct Netns<'a> {
        ip: &'a str,
        name: String,
    }

    impl Drop for Netns<'_> {
        fn drop(&mut self) {
            match std::process::Command::new(self.ip).args(["netns", "del", &self.name]).status() {
                Ok(status) if status.success() => {}
                other => eprintln!("could not delete network namespace {}: {other:?}", self.name),
            }
        }
    }

    fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
                .unwrap_or(false)
        })
    }

    /// The parser against what the installed nft really prints, in a private network namespace so the host is untouched.
    #[test]
    fn real_nft_in_a_network_namespace() {
        let (Some(nft), Some(ip)) = (
            command::find_tool(&NFT),
            command::find_tool(&["/usr/sbin/ip", "/sbin/ip", "/bin/ip", "/usr/bin/ip"]),
        ) else {
            println!("skipped: needs root and nft (and ip)");
            return;
        };
        if !is_root() {
            println!("skipped: needs root and nft");
            return;
        }
        let name = format!("khien-fw-{}", std::process::id());
        let added = std::process::Command::new(ip).args(["netns", "add", &name]).output().unwrap();
        if !added.status.success() {
            println!(
                "skipped: cannot create a network namespace: {}",
                String::from_utf8_lossy(&added.stderr).trim()
            );
            return;
        }
        let _guard = Netns { ip, name: name.clone() };

        let ruleset = "table inet filter {\n\
                       \tchain input {\n\
                       \t\ttype filter hook input priority 0; policy drop;\n\
                       \t\tct state established,related accept\n\
                       \t\tiif lo accept\n\
                       \t\ttcp dport 22 counter accept\n\
                       \t}\n\
                       }\n";
        let mut load = std::process::Command::new(ip)
            .args(["netns", "exec", &name, nft, "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = load.stdin.take().unwrap();
            stdin.write_all(ruleset.as_bytes()).unwrap();
        }
        let loaded = load.wait_with_output().unwrap();
        assert!(
            loaded.status.success(),
            "nft -f failed: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );

        let out = command::run(
            Path::new(ip),
            &["netns", "exec", &name, nft, "-j", "list", "ruleset"],
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(out.success(), "nft -j list ruleset failed: {}", out.stderr);
        let r = parse_ruleset(&out.stdout).unwrap();
        assert_eq!(r.rules, 3);
        let b = backend(&r, false);
        assert!(b.active);
        assert_eq!(b.input_policy.as_deref(), Some("drop"));
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.details["input_chains"], "inet:filter:input=drop");
    }
}
