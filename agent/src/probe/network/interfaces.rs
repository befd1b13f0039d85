//! Network interfaces: which links exist, whether they are up, what they are
//! (a wireless card and a WWAN modem are different exposures from a docker
//! bridge) and which addresses they carry.

use super::ipv6_from_hex;
use crate::probe::root::{Root, describe};
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{Address, Interface, IpFamily};
use std::collections::BTreeMap;
use std::io;

const PROBE: &str = "network.interfaces";
const SYS_CLASS_NET: &str = "/sys/class/net";

const IFF_UP: u32 = 0x1;

// ARPHRD_* link types from <linux/if_arp.h>, as `/sys/class/net/<if>/type` prints them.
const ARPHRD_ETHER: u32 = 1;
const ARPHRD_RAWIP: u32 = 519;
const ARPHRD_TUNNEL: u32 = 768;
const ARPHRD_TUNNEL6: u32 = 769;
const ARPHRD_LOOPBACK: u32 = 772;
const ARPHRD_SIT: u32 = 776;
const ARPHRD_IPGRE: u32 = 778;
const ARPHRD_IP6GRE: u32 = 823;
/// No link layer at all: tun devices, WireGuard.
const ARPHRD_NONE: u32 = 65534;

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<Interface> {
    let root = &ctx.root;
    let names = match root.list(SYS_CLASS_NET) {
        Ok(names) => names,
        Err(e) => {
            errors.push(PROBE, describe(root.path(SYS_CLASS_NET), &e));
            return Vec::new();
        }
    };
    let mut addresses = addresses(root, errors);
    let mut interfaces: Vec<Interface> = names
        .iter()
        // `bonding_masters` is a file beside the interface links.
        .filter(|name| root.path(format!("{SYS_CLASS_NET}/{name}")).is_dir())
        .map(|name| {
            let mut interface = read_interface(root, name, errors);
            interface.addresses = addresses.remove(name).unwrap_or_default();
            interface
        })
        .collect();
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));
    interfaces
}

fn read_interface(root: &Root, name: &str, errors: &mut Errors) -> Interface {
    let dir = format!("{SYS_CLASS_NET}/{name}");
    let mut attr = |file: &str| -> Option<String> {
        let path = format!("{dir}/{file}");
        match root.read_optional(&path) {
            Ok(text) => text.map(|t| t.trim().to_string()),
            Err(e) => {
                errors.push(PROBE, describe(root.path(&path), &e));
                None
            }
        }
    };
    let mac = attr("address").and_then(|a| parse_mac(&a));
    let mtu = attr("mtu").and_then(|m| m.parse().ok());
    let up = attr("flags").and_then(|f| parse_flags(&f)).is_some_and(|f| f & IFF_UP != 0);
    let oper_state = attr("operstate").filter(|s| !s.is_empty());
    let arphrd = attr("type").and_then(|t| t.parse().ok());
    // Presence tests use the link itself: `device` and `phy80211` are symlinks
    // that a fake root may leave dangling.
    let present = |file: &str| std::fs::symlink_metadata(root.path(format!("{dir}/{file}"))).is_ok();
    let traits = LinkTraits {
        arphrd,
        wireless: present("wireless") || present("phy80211"),
        bridge: present("bridge"),
        device: present("device"),
    };
    Interface {
        name: name.to_string(),
        mac,
        mtu,
        up,
        oper_state,
        kind: classify(name, &traits).to_string(),
        addresses: Vec::new(),
    }
}

/// What `/sys/class/net/<if>` reveals about the nature of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkTraits {
    /// The ARPHRD link type.
    pub arphrd: Option<u32>,
    /// A `wireless` or `phy80211` entry: the link is driven by cfg80211.
    pub wireless: bool,
    /// A `bridge` folder: the link is a software bridge.
    pub bridge: bool,
    /// A `device` link: real hardware (or a paravirtual NIC) backs the link;
    /// veth, docker, bond and VLAN links have none.
    pub device: bool,
}

/// The `kind` of an interface. Wireless and bridge links report
/// ARPHRD_ETHER too, so they are told apart before the link type decides.
pub fn classify(name: &str, t: &LinkTraits) -> &'static str {
    match t.arphrd {
        Some(ARPHRD_LOOPBACK) => return "loopback",
        // systemd names WWAN links `ww…`; raw-IP is what QMI/MBIM modems use.
        Some(ARPHRD_RAWIP) => return "wwan",
        _ if name.starts_with("ww") => return "wwan",
        _ => {}
    }
    if t.wireless {
        return "wireless";
    }
    if t.bridge {
        return "bridge";
    }
    match t.arphrd {
        Some(ARPHRD_TUNNEL | ARPHRD_TUNNEL6 | ARPHRD_SIT | ARPHRD_IPGRE | ARPHRD_IP6GRE | ARPHRD_NONE) => "tunnel",
        Some(ARPHRD_ETHER) if t.device => "ethernet",
        Some(ARPHRD_ETHER) => "virtual",
        _ => "other",
    }
}

/// Lower-case hardware address; links without one print zeros or nothing.
pub fn parse_mac(text: &str) -> Option<String> {
    let mac = text.trim().to_ascii_lowercase();
    let meaningful = mac.chars().any(|c| c.is_ascii_hexdigit() && c != '0');
    meaningful.then_some(mac)
}

/// The `flags` attribute, printed by the kernel as `0x1003`.
pub fn parse_flags(text: &str) -> Option<u32> {
    let text = text.trim();
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    u32::from_str_radix(hex, 16).ok()
}

/// Addresses per interface name, IPv4 first.
fn addresses(root: &Root, errors: &mut Errors) -> BTreeMap<String, Vec<Address>> {
    let found = if root.is_system() {
        system_addresses().map_err(|e| format!("getifaddrs: {e}"))
    } else {
        // Only IPv6 is in /proc; a fake root has no way to show IPv4 addresses.
        match root.read_optional("/proc/net/if_inet6") {
            Ok(text) => Ok(parse_if_inet6(&text.unwrap_or_default())),
            Err(e) => Err(describe(root.path("/proc/net/if_inet6"), &e)),
        }
    };
    let found = found.unwrap_or_else(|message| {
        errors.push(PROBE, message);
        Vec::new()
    });
    let mut by_name: BTreeMap<String, Vec<Address>> = BTreeMap::new();
    for (name, address) in found {
        let list = by_name.entry(name).or_default();
        if !list.contains(&address) {
            list.push(address);
        }
    }
    for list in by_name.values_mut() {
        list.sort_by_key(|a| a.family);
    }
    by_name
}

#[cfg(target_os = "linux")]
fn system_addresses() -> io::Result<Vec<(String, Address)>> {
    use nix::sys::socket::SockaddrStorage;
    let netmask_v4 = |m: Option<&SockaddrStorage>| m.and_then(|m| m.as_sockaddr_in()).map(|m| u32::from(m.ip()));
    let netmask_v6 = |m: Option<&SockaddrStorage>| m.and_then(|m| m.as_sockaddr_in6()).map(|m| u128::from(m.ip()));
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        let Some(address) = ifa.address.as_ref() else { continue };
        let netmask = ifa.netmask.as_ref();
        let address = if let Some(v4) = address.as_sockaddr_in() {
            Address {
                family: IpFamily::Ipv4,
                address: v4.ip().to_string(),
                prefix: netmask_v4(netmask).map_or(32, |m| m.leading_ones() as u8),
            }
        } else if let Some(v6) = address.as_sockaddr_in6() {
            Address {
                family: IpFamily::Ipv6,
                address: v6.ip().to_string(),
                prefix: netmask_v6(netmask).map_or(128, |m| m.leading_ones() as u8),
            }
        } else {
            // Link-layer (AF_PACKET) entries: the MAC is read from sysfs instead.
            continue;
        };
        out.push((ifa.interface_name, address));
    }
    Ok(out)
}

#[cfg(not(target_os = "linux"))]
fn system_addresses() -> io::Result<Vec<(String, Address)>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "not implemented on this platform"))
}

/// `/proc/net/if_inet6`: address (32 hex digits), interface index, prefix
/// length, scope and flags (hex), interface name.
pub fn parse_if_inet6(text: &str) -> Vec<(String, Address)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            let address = ipv6_from_hex(f[0])?;
            let prefix = u8::from_str_radix(f[2], 16).ok().filter(|p| *p <= 128)?;
            Some((
                f[5].to_string(),
                Address {
                    family: IpFamily::Ipv6,
                    address: address.to_string(),
                    prefix,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use std::path::Path;

    /// Recorded on a laptop running docker and a WireGuard tunnel.
    const IF_INET6: &str = "\
00000000000000000000000000000001 01 80 10 80       lo
20010db8000000010a2a7c0e5d1c3f44 02 40 00 00     eth0
fe800000000000000221869afe4b1f20 02 40 20 80     eth0
fe80000000000000a0c2f3fffe7c11d0 05 40 20 80  vethab12cd3
fd000000000000000000000000000002 07 80 00 80      wg0
";

    #[test]
    fn parses_if_inet6() {
        let addresses = parse_if_inet6(IF_INET6);
        assert_eq!(addresses.len(), 5);
        assert_eq!(
            addresses[0],
            (
                "lo".to_string(),
                Address {
                    family: IpFamily::Ipv6,
                    address: "::1".into(),
                    prefix: 128
                }
            )
        );
        assert_eq!(addresses[1].0, "eth0");
        assert_eq!(addresses[1].1.address, "2001:db8:0:1:a2a:7c0e:5d1c:3f44");
        assert_eq!(addresses[1].1.prefix, 64);
        assert_eq!(addresses[3].0, "vethab12cd3");
        assert!(parse_if_inet6("nonsense line\n0000 01 zz 10 80 lo\n").is_empty());
    }

    #[test]
    fn parses_mac_and_flags() {
        assert_eq!(parse_mac("3C:52:82:0A:1B:FF\n").as_deref(), Some("3c:52:82:0a:1b:ff"));
        assert_eq!(parse_mac("00:00:00:00:00:00"), None);
        assert_eq!(parse_mac("00:00:00:00"), None);
        assert_eq!(parse_mac(""), None);
        assert_eq!(parse_flags("0x1003\n"), Some(0x1003));
        assert_eq!(parse_flags("0x1002"), Some(0x1002));
        assert_eq!(parse_flags("up"), None);
    }

    #[test]
    fn classifies_links() {
        let t = |arphrd: u32| LinkTraits {
            arphrd: Some(arphrd),
            ..LinkTraits::default()
        };
        let hw = LinkTraits { device: true, ..t(1) };
        assert_eq!(classify("lo", &t(772)), "loopback");
        assert_eq!(classify("enp3s0", &hw), "ethernet");
        assert_eq!(classify("wlp2s0", &LinkTraits { wireless: true, ..hw }), "wireless");
        assert_eq!(classify("wwan0", &t(65534)), "wwan");
        assert_eq!(classify("wwp0s20f0u6", &hw), "wwan");
        assert_eq!(classify("rmnet_data0", &t(519)), "wwan");
        assert_eq!(classify("docker0", &LinkTraits { bridge: true, ..t(1) }), "bridge");
        assert_eq!(classify("veth1a2b3c", &t(1)), "virtual");
        assert_eq!(classify("tun0", &t(65534)), "tunnel");
        assert_eq!(classify("wg0", &t(65534)), "tunnel");
        assert_eq!(classify("sit0", &t(776)), "tunnel");
        assert_eq!(classify("tunl0", &t(768)), "tunnel");
        assert_eq!(classify("ip6tnl0", &t(769)), "tunnel");
        assert_eq!(classify("ib0", &t(32)), "other");
        assert_eq!(classify("odd0", &LinkTraits::default()), "other");
    }

    fn fake_link(root: &Path, name: &str, arphrd: u32, address: &str, flags: &str, operstate: &str) -> std::path::PathBuf {
        let dir = root.join("sys/class/net").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("type"), format!("{arphrd}\n")).unwrap();
        std::fs::write(dir.join("address"), format!("{address}\n")).unwrap();
        std::fs::write(dir.join("flags"), format!("{flags}\n")).unwrap();
        std::fs::write(dir.join("operstate"), format!("{operstate}\n")).unwrap();
        std::fs::write(dir.join("mtu"), "1500\n").unwrap();
        dir
    }

    #[test]
    fn reads_a_fake_sys_class_net() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let lo = fake_link(root, "lo", 772, "00:00:00:00:00:00", "0x9", "unknown");
        std::fs::write(lo.join("mtu"), "65536\n").unwrap();
        let eth = fake_link(root, "eth0", 1, "3C:52:82:0A:1B:FF", "0x1003", "up");
        std::os::unix::fs::symlink("../../../devices/pci0000:00/0000:00:1f.6", eth.join("device")).unwrap();
        let wlan = fake_link(root, "wlan0", 1, "a4:c3:f0:11:22:33", "0x1002", "down");
        std::fs::create_dir_all(wlan.join("wireless")).unwrap();
        std::os::unix::fs::symlink("../../../devices/pci0000:00/0000:00:14.3", wlan.join("device")).unwrap();
        let br = fake_link(root, "docker0", 1, "02:42:ac:11:00:01", "0x1003", "down");
        std::fs::create_dir_all(br.join("bridge")).unwrap();
        fake_link(root, "veth9f3e2a1", 1, "b6:1e:4f:00:aa:01", "0x1003", "up");
        fake_link(root, "wg0", 65534, "", "0x91", "unknown");
        std::fs::write(root.join("sys/class/net/bonding_masters"), "\n").unwrap();
        std::fs::create_dir_all(root.join("proc/net")).unwrap();
        std::fs::write(
            root.join("proc/net/if_inet6"),
            "fe800000000000000221869afe4b1f20 02 40 20 80     eth0\n\
             20010db8000000010a2a7c0e5d1c3f44 02 40 00 00     eth0\n\
             00000000000000000000000000000001 01 80 10 80       lo\n",
        )
        .unwrap();

        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(root), Processes::default(), &config);
        let mut errors = Errors::default();
        let interfaces = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        let summary: Vec<(&str, &str, bool)> = interfaces.iter().map(|i| (i.name.as_str(), i.kind.as_str(), i.up)).collect();
        assert_eq!(
            summary,
            vec![
                ("docker0", "bridge", true),
                ("eth0", "ethernet", true),
                ("lo", "loopback", true),
                ("veth9f3e2a1", "virtual", true),
                ("wg0", "tunnel", true),
                ("wlan0", "wireless", false),
            ]
        );
        let eth0 = &interfaces[1];
        assert_eq!(eth0.mac.as_deref(), Some("3c:52:82:0a:1b:ff"));
        assert_eq!(eth0.mtu, Some(1500));
        assert_eq!(eth0.oper_state.as_deref(), Some("up"));
        let eth0_addresses: Vec<(&str, u8)> = eth0.addresses.iter().map(|a| (a.address.as_str(), a.prefix)).collect();
        assert_eq!(
            eth0_addresses,
            vec![("fe80::221:869a:fe4b:1f20", 64), ("2001:db8:0:1:a2a:7c0e:5d1c:3f44", 64)]
        );
        let lo = &interfaces[2];
        assert_eq!(lo.mac, None);
        assert_eq!(lo.mtu, Some(65536));
        assert_eq!(lo.addresses[0].address, "::1");
        assert_eq!(interfaces[4].mac, None);
        assert!(interfaces[5].addresses.is_empty());
    }

    #[test]
    fn an_absent_sys_class_net_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        assert!(collect(&ctx, &mut errors).is_empty());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
    }

    #[test]
    fn finds_loopback_on_a_real_system() {
        if !Path::new("/sys/class/net/lo").exists() {
            eprintln!("skipped: /sys/class/net/lo is absent");
            return;
        }
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::default(), Processes::default(), &config);
        let mut errors = Errors::default();
        let interfaces = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        let lo = interfaces.iter().find(|i| i.name == "lo").expect("lo is listed");
        assert_eq!(lo.kind, "loopback");
        assert!(lo.up);
        assert_eq!(lo.mac, None);
        assert_eq!(
            lo.addresses.first(),
            Some(&Address {
                family: IpFamily::Ipv4,
                address: "127.0.0.1".into(),
                prefix: 8
            })
        );
    }
}
