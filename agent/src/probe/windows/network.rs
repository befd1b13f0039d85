//! Windows network facts from the snapshot's `network` section: adapters
//! and their addresses, default routes, DNS servers and listening sockets.
//!
//! Also home of the tolerant raw values that `hardening` shares: a part of a
//! section is what its query printed or `{"error": …}`, and a scalar may
//! arrive as a number or as text (registry REG_SZ against DWORD, Windows
//! PowerShell 5.1 against 7).

use super::super::Errors;
use khien_proto::Timestamp;
use khien_proto::facts::{Address, Facts, Interface, IpFamily, Listener, Protocol, Route};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The `network` section as `ps/network.ps1` prints it; every part `None`
/// when the section printed nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    /// The whole section failed.
    pub error: Option<String>,
    pub adapters: Option<Part<Many<Adapter>>>,
    pub addresses: Option<Part<Many<IpAddress>>>,
    pub routes: Option<Part<Many<NetRoute>>>,
    pub dns: Option<Part<Many<DnsServers>>>,
    pub dns_search: Option<Part<Many<Value>>>,
    pub tcp: Option<Part<Many<Endpoint>>>,
    pub udp: Option<Part<Many<Endpoint>>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Adapter {
    pub name: Val,
    pub interface_description: Val,
    pub mac_address: Val,
    /// `Up`, `Disconnected`, `Disabled`, `Not Present`.
    pub status: Val,
    pub mtu_size: Val,
    #[serde(rename = "ifIndex")]
    pub if_index: Val,
    /// IANA ifType: 6 ethernet, 24 loopback, 71 wireless, 131 tunnel, 243/244 mobile broadband.
    pub interface_type: Val,
    #[serde(rename = "Virtual")]
    pub is_virtual: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct IpAddress {
    pub interface_index: Val,
    pub interface_alias: Val,
    #[serde(rename = "IPAddress")]
    pub ip_address: Val,
    pub prefix_length: Val,
    /// `IPv4`/`IPv6`, or 2/23 from an older script.
    pub address_family: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetRoute {
    pub destination_prefix: Val,
    pub next_hop: Val,
    pub interface_index: Val,
    pub interface_alias: Val,
    pub route_metric: Val,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DnsServers {
    pub interface_index: Val,
    pub interface_alias: Val,
    pub address_family: Val,
    pub server_addresses: Many<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Endpoint {
    pub local_address: Val,
    pub local_port: Val,
    pub owning_process: Val,
    pub process_name: Val,
}

/// The fact paths this section fills, each left empty when the section is missing.
const PATHS: [&str; 4] = ["network.interfaces", "network.default_routes", "network.dns", "network.listening"];

pub fn apply(raw: &Raw, facts: &mut Facts, errors: &mut Errors) {
    if *raw == Raw::default() {
        for path in PATHS {
            errors.push(path, "the network section is missing from the snapshot");
        }
        return;
    }
    let section = raw;
    if let Some(error) = &section.error {
        for path in PATHS {
            errors.push(path, format!("the network section failed: {error}"));
        }
        return;
    }
    let network = &mut facts.network;

    let adapters = part(&section.adapters, "Get-NetAdapter");
    let adapters_read = adapters.is_ok();
    // ifIndex → (alias, administratively up); DNS and routes name interfaces by it.
    let mut by_index: BTreeMap<i64, (String, bool)> = BTreeMap::new();
    match adapters {
        Ok(adapters) => {
            for adapter in &adapters.0 {
                let Some(name) = text(&adapter.name) else { continue };
                let status = text(&adapter.status);
                let up = !matches!(status.as_deref(), Some("Disabled" | "Not Present"));
                if let Some(index) = int(&adapter.if_index) {
                    by_index.insert(index, (name.clone(), up));
                }
                network.interfaces.push(Interface {
                    name,
                    mac: text(&adapter.mac_address).map(|m| m.replace('-', ":").to_ascii_lowercase()),
                    mtu: uint(&adapter.mtu_size),
                    up,
                    oper_state: status.map(|s| s.to_ascii_lowercase()),
                    kind: kind(uint(&adapter.interface_type), flag(&adapter.is_virtual)).into(),
                    addresses: Vec::new(),
                });
            }
        }
        Err(e) => errors.push("network.interfaces", e),
    }

    match part(&section.addresses, "Get-NetIPAddress") {
        Ok(addresses) if adapters_read => {
            for address in &addresses.0 {
                let Some(ip) = text(&address.ip_address) else { continue };
                // Link-local addresses carry a zone (`%12`) that other platforms do not print.
                let ip = ip.split('%').next().unwrap_or_default().to_string();
                let family = family(&address.address_family, &ip);
                let entry = Address {
                    family,
                    prefix: uint(&address.prefix_length).unwrap_or(if family == IpFamily::Ipv4 { 32 } else { 128 }),
                    address: ip,
                };
                let alias = int(&address.interface_index)
                    .and_then(|i| by_index.get(&i).map(|(name, _)| name.clone()))
                    .or_else(|| text(&address.interface_alias));
                let Some(alias) = alias else { continue };
                match network.interfaces.iter_mut().find(|i| i.name == alias) {
                    Some(interface) => interface.addresses.push(entry),
                    // Get-NetAdapter leaves out the loopback pseudo-interface.
                    None => network.interfaces.push(Interface {
                        kind: if alias.starts_with("Loopback") { "loopback" } else { "other" }.into(),
                        up: true,
                        name: alias,
                        addresses: vec![entry],
                        ..Interface::default()
                    }),
                }
            }
        }
        Ok(_) => {}
        Err(e) => errors.push("network.interfaces", e),
    }

    match part(&section.routes, "Get-NetRoute") {
        Ok(routes) => {
            for route in &routes.0 {
                let prefix = text(&route.destination_prefix).unwrap_or_default();
                let hop = text(&route.next_hop);
                let family = if prefix.contains(':') || hop.as_deref().is_some_and(|h| h.contains(':')) {
                    IpFamily::Ipv6
                } else {
                    IpFamily::Ipv4
                };
                network.default_routes.push(Route {
                    family,
                    // Windows prints an on-link next hop as the unspecified address.
                    gateway: hop.filter(|h| h != "0.0.0.0" && h != "::"),
                    interface: int(&route.interface_index)
                        .and_then(|i| by_index.get(&i).map(|(name, _)| name.clone()))
                        .or_else(|| text(&route.interface_alias)),
                    metric: uint(&route.route_metric).unwrap_or(0),
                });
            }
            network.default_routes.sort_by_key(|r| (r.family, r.metric));
        }
        Err(e) => errors.push("network.default_routes", e),
    }

    match part(&section.dns, "Get-DnsClientServerAddress") {
        Ok(servers) => {
            for entry in &servers.0 {
                // A disabled adapter keeps its DNS servers configured but unused.
                let index = int(&entry.interface_index);
                if index.and_then(|i| by_index.get(&i)).is_some_and(|(_, up)| !up) {
                    continue;
                }
                for server in &entry.server_addresses.0 {
                    let Some(server) = text(&Some(server.clone())) else { continue };
                    // The site-local addresses IPv6 shows when no DNS server is configured.
                    if server.starts_with("fec0:0:0:ffff::") || network.dns.resolvers.contains(&server) {
                        continue;
                    }
                    network.dns.resolvers.push(server);
                }
            }
        }
        Err(e) => errors.push("network.dns", e),
    }
    match part(&section.dns_search, "Get-DnsClientGlobalSetting") {
        Ok(search) => network.dns.search = search.0.iter().filter_map(|s| text(&Some(s.clone()))).collect(),
        Err(e) => errors.push("network.dns.search", e),
    }

    let mut listeners = BTreeSet::new();
    for (protocol, endpoints, query) in [
        (Protocol::Tcp, &section.tcp, "Get-NetTCPConnection"),
        (Protocol::Udp, &section.udp, "Get-NetUDPEndpoint"),
    ] {
        match part(endpoints, query) {
            Ok(endpoints) => {
                for endpoint in &endpoints.0 {
                    let (Some(address), Some(port)) = (text(&endpoint.local_address), uint::<u16>(&endpoint.local_port)) else {
                        continue;
                    };
                    let family = if address.contains(':') { IpFamily::Ipv6 } else { IpFamily::Ipv4 };
                    listeners.insert((
                        protocol,
                        port,
                        family,
                        address,
                        uint::<u32>(&endpoint.owning_process),
                        text(&endpoint.process_name),
                    ));
                }
            }
            Err(e) => errors.push("network.listening", e),
        }
    }
    network.listening = listeners
        .into_iter()
        .map(|(protocol, port, family, address, pid, process)| Listener {
            protocol,
            family,
            address,
            port,
            pid,
            process,
        })
        .collect();
}

fn kind(if_type: Option<u32>, is_virtual: Option<bool>) -> &'static str {
    match if_type {
        Some(71) => "wireless",
        Some(24) => "loopback",
        Some(131) => "tunnel",
        Some(243 | 244) => "wwan",
        Some(53) => "virtual",
        _ if is_virtual == Some(true) => "virtual",
        Some(6) => "ethernet",
        _ => "other",
    }
}

fn family(value: &Val, address: &str) -> IpFamily {
    match value.as_ref() {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("IPv6") => IpFamily::Ipv6,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("IPv4") => IpFamily::Ipv4,
        Some(Value::Number(n)) if n.as_u64() == Some(23) => IpFamily::Ipv6,
        Some(Value::Number(n)) if n.as_u64() == Some(2) => IpFamily::Ipv4,
        _ if address.contains(':') => IpFamily::Ipv6,
        _ => IpFamily::Ipv4,
    }
}

// --- Tolerant raw values, shared with `hardening` -----------------------------

/// A scalar as PowerShell printed it: number, text, boolean or null.
pub type Val = Option<Value>;

/// One part of a section: what its query returned, or why it failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Part<T> {
    Failed {
        error: String,
    },
    Ok(T),
    /// A shape this agent does not know, kept so that the failure names it.
    Unexpected(Value),
}

/// A list that PowerShell may have printed as a single object (one result
/// without `@()`) or as `null` (no result).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Many<T>(pub Vec<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Many<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(deserializer)? {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            one => vec![one],
        };
        items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(D::Error::custom))
            .collect::<Result<_, _>>()
            .map(Many)
    }
}

/// The part's value, or a message for the probe error of the facts it leaves empty.
pub(super) fn part<'a, T>(part: &'a Option<Part<T>>, query: &str) -> Result<&'a T, String> {
    match part {
        Some(Part::Ok(value)) => Ok(value),
        Some(Part::Failed { error }) => Err(format!("{query}: {error}")),
        Some(Part::Unexpected(value)) => {
            let mut shown = value.to_string();
            if shown.len() > 120 {
                let cut = (0..=120).rev().find(|&i| shown.is_char_boundary(i)).unwrap_or(0);
                shown.truncate(cut);
                shown.push('…');
            }
            Err(format!("{query}: unexpected output {shown}"))
        }
        None => Err(format!("{query}: not in the snapshot")),
    }
}

/// An integer from a JSON number or from decimal or `0x` hexadecimal text.
pub(super) fn int(value: &Val) -> Option<i64> {
    match value.as_ref()? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => i64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// An integer that fits `T` (a negative or too large value is not one).
pub(super) fn uint<T: TryFrom<i64>>(value: &Val) -> Option<T> {
    int(value).and_then(|i| T::try_from(i).ok())
}

/// Text, trimmed; empty text is no value. Numbers are printed as text.
pub(super) fn text(value: &Val) -> Option<String> {
    let s = match value.as_ref()? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// A boolean from `true`/`false`, a number (non-zero is true) or such text.
pub(super) fn flag(value: &Val) -> Option<bool> {
    match value.as_ref()? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => int(value).map(|i| i != 0),
    }
}

/// A time from RFC 3339 text, or from the `/Date(ms)/` form that Windows
/// PowerShell 5.1 prints for a `DateTime` the script did not convert.
pub(super) fn time(value: &Val) -> Option<Timestamp> {
    let s = text(value)?;
    if let Some(ms) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        // A `+0700` suffix is the zone it was printed in; the milliseconds are UTC already.
        let ms = ms.split(['+', '-']).find(|p| !p.is_empty()).and_then(|p| p.parse::<i64>().ok())?;
        let ms = if s.starts_with("/Date(-") { -ms } else { ms };
        return Timestamp::from_unix_millis(ms);
    }
    Timestamp::parse(&s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn val(v: Value) -> Val {
        Some(v)
    }

    #[test]
    fn scalars_accept_numbers_and_text() {
        assert_eq!(int(&val(json!(4))), Some(4));
        assert_eq!(int(&val(json!("4"))), Some(4));
        assert_eq!(int(&val(json!(" -1 "))), Some(-1));
        assert_eq!(int(&val(json!("0xff"))), Some(255));
        assert_eq!(int(&val(json!(3389.0))), Some(3389));
        assert_eq!(int(&val(json!("on"))), None);
        assert_eq!(int(&None), None);
        assert_eq!(uint::<u16>(&val(json!(70000))), None);
        assert_eq!(uint::<u32>(&val(json!(-1))), None);
        assert_eq!(flag(&val(json!("1"))), Some(true));
        assert_eq!(flag(&val(json!(0))), Some(false));
        assert_eq!(flag(&val(json!("False"))), Some(false));
        assert_eq!(flag(&val(json!(true))), Some(true));
        assert_eq!(flag(&val(json!("maybe"))), None);
        assert_eq!(text(&val(json!("  "))), None);
        assert_eq!(text(&val(json!(22631))).as_deref(), Some("22631"));
        assert_eq!(time(&val(json!("2024-10-09T07:00:00Z"))).map(|t| t.unix()), Some(1_728_457_200));
        assert_eq!(time(&val(json!("/Date(1728457200000)/"))).map(|t| t.unix()), Some(1_728_457_200));
        assert_eq!(
            time(&val(json!("/Date(1728457200000+0700)/"))).map(|t| t.unix()),
            Some(1_728_457_200)
        );
        assert_eq!(time(&val(json!("09/10/2024"))), None);
    }

    #[test]
    fn parts_are_lists_single_objects_or_errors() {
        let raw: Raw = serde_json::from_value(json!({
            "adapters": {"Name": "Ethernet", "MacAddress": "00-15-5D-0A-0B-0C", "Status": "Up", "MtuSize": "1500", "ifIndex": 7, "InterfaceType": 6},
            "addresses": [{"InterfaceIndex": 7, "IPAddress": "fe80::1%7", "PrefixLength": 64, "AddressFamily": 23}],
            "routes": {"error": "Access is denied."},
            "dns": [],
            "dns_search": [],
            "tcp": "garbage",
            "udp": []
        }))
        .unwrap();
        let mut facts = Facts::default();
        let mut errors = Errors::default();
        apply(&raw, &mut facts, &mut errors);
        let interface = &facts.network.interfaces[0];
        assert_eq!(interface.mac.as_deref(), Some("00:15:5d:0a:0b:0c"));
        assert_eq!(interface.mtu, Some(1500));
        assert_eq!(interface.kind, "ethernet");
        assert_eq!(interface.addresses[0].address, "fe80::1");
        assert_eq!(interface.addresses[0].family, IpFamily::Ipv6);
        assert!(facts.network.default_routes.is_empty());
        assert!(facts.network.dns.resolvers.is_empty());
        let probes: Vec<(&str, &str)> = errors.0.iter().map(|e| (e.probe.as_str(), e.message.as_str())).collect();
        assert_eq!(
            probes,
            [
                ("network.default_routes", "Get-NetRoute: Access is denied."),
                ("network.listening", "Get-NetTCPConnection: unexpected output \"garbage\""),
            ]
        );
    }

    #[test]
    fn a_missing_section_leaves_every_network_fact_empty() {
        let raw = Raw::default();
        let mut facts = Facts::default();
        let mut errors = Errors::default();
        apply(&raw, &mut facts, &mut errors);
        assert_eq!(facts.network, Default::default());
        assert_eq!(errors.0.iter().map(|e| e.probe.as_str()).collect::<Vec<_>>(), PATHS);
    }
}
