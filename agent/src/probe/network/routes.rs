//! Default routes: where traffic leaves the machine when nothing more specific
//! matches, which tells a policy whether and how the host reaches the outside.

use super::{ipv4_from_host_hex, ipv6_from_hex};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{IpFamily, Route};

const PROBE: &str = "network.default_routes";

const RTF_UP: u32 = 0x0001;
/// Unreachable/prohibit routes; the kernel lists one for `::/0` on `lo` when
/// there is no IPv6 default, and it must not count as a way out.
const RTF_REJECT: u32 = 0x0200;

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<Route> {
    let mut routes = Vec::new();
    match ctx.root.read_to_string("/proc/net/route") {
        Ok(text) => routes.extend(parse_proc_net_route(&text)),
        Err(e) => errors.push(PROBE, describe(ctx.root.path("/proc/net/route"), &e)),
    }
    // The file is absent when the kernel runs without IPv6.
    match ctx.root.read_optional("/proc/net/ipv6_route") {
        Ok(Some(text)) => routes.extend(parse_proc_net_ipv6_route(&text)),
        Ok(None) => {}
        Err(e) => errors.push(PROBE, describe(ctx.root.path("/proc/net/ipv6_route"), &e)),
    }
    routes
}

/// IPv4 default routes from `/proc/net/route`. Columns: Iface, Destination,
/// Gateway, Flags, RefCnt, Use, Metric, Mask, … with addresses and flags in
/// hex and the metric in decimal. Malformed lines are skipped.
pub fn parse_proc_net_route(text: &str) -> Vec<Route> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || f[0] == "Iface" {
                return None;
            }
            let destination = ipv4_from_host_hex(f[1])?;
            let gateway = ipv4_from_host_hex(f[2])?;
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            let metric = f[6].parse::<u32>().ok()?;
            let mask = ipv4_from_host_hex(f[7])?;
            let default = destination.is_unspecified() && mask.is_unspecified() && flags & RTF_UP != 0;
            default.then(|| Route {
                family: IpFamily::Ipv4,
                gateway: (!gateway.is_unspecified()).then(|| gateway.to_string()),
                interface: Some(f[0].to_string()),
                metric,
            })
        })
        .collect()
}

/// IPv6 default routes from `/proc/net/ipv6_route`. Columns: destination,
/// destination prefix length, source, source prefix length, next hop, metric,
/// reference count, use count, flags, interface; all numbers in hex.
pub fn parse_proc_net_ipv6_route(text: &str) -> Vec<Route> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let destination = ipv6_from_hex(f[0])?;
            let prefix = u8::from_str_radix(f[1], 16).ok()?;
            let next_hop = ipv6_from_hex(f[4])?;
            let metric = u32::from_str_radix(f[5], 16).ok()?;
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            let interface = f[9];
            let default = destination.is_unspecified() && prefix == 0 && flags & RTF_REJECT == 0 && interface != "lo";
            default.then(|| Route {
                family: IpFamily::Ipv6,
                gateway: (!next_hop.is_unspecified()).then(|| next_hop.to_string()),
                interface: Some(interface.to_string()),
                metric,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    /// Recorded on an x86_64 laptop: DHCP default via 192.168.1.1 on eth0, a
    /// higher-metric default on wlan0, an on-link VPN default without a
    /// gateway, a down default and the connected routes.
    const ROUTE: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0                                                                               
wlan0\t00000000\t0100A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0                                                                               
tun0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0                                                                               
eth1\t00000000\t0101010A\t0002\t0\t0\t0\t00000000\t0\t0\t0                                                                               
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0                                                                               
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0                                                                               
";

    const IPV6_ROUTE: &str = "\
20010db8000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000064 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe80000000000000022186fffe4b1f20 00000064 00000003 00000000 00450003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 00000032 00000001 00000000 00000001     wg0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_ipv4_default_routes() {
        let routes = parse_proc_net_route(ROUTE);
        assert_eq!(
            routes,
            vec![
                Route {
                    family: IpFamily::Ipv4,
                    gateway: Some("192.168.1.1".into()),
                    interface: Some("eth0".into()),
                    metric: 100,
                },
                Route {
                    family: IpFamily::Ipv4,
                    gateway: Some("192.168.0.1".into()),
                    interface: Some("wlan0".into()),
                    metric: 600,
                },
                Route {
                    family: IpFamily::Ipv4,
                    gateway: None,
                    interface: Some("tun0".into()),
                    metric: 50,
                },
            ]
        );
    }

    #[test]
    fn parses_ipv6_default_routes_without_reject_or_loopback() {
        let routes = parse_proc_net_ipv6_route(IPV6_ROUTE);
        assert_eq!(
            routes,
            vec![
                Route {
                    family: IpFamily::Ipv6,
                    gateway: Some("fe80::221:86ff:fe4b:1f20".into()),
                    interface: Some("eth0".into()),
                    metric: 100,
                },
                Route {
                    family: IpFamily::Ipv6,
                    gateway: None,
                    interface: Some("wg0".into()),
                    metric: 50,
                },
            ]
        );
    }

    #[test]
    fn ignores_garbage() {
        assert!(parse_proc_net_route("").is_empty());
        assert!(parse_proc_net_route("eth0\tzz\t0\n\n").is_empty());
        assert!(parse_proc_net_ipv6_route("0000 00 short\n").is_empty());
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn missing_ipv6_route_file_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/net")).unwrap();
        std::fs::write(dir.path().join("proc/net/route"), ROUTE).unwrap();
        let config = ProbeConfig::default();
        let ctx = crate::probe::ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        let routes = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(routes.len(), 3);

        std::fs::remove_file(dir.path().join("proc/net/route")).unwrap();
        let routes = collect(&ctx, &mut errors);
        assert!(routes.is_empty());
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].probe, PROBE);
    }
}
