//! Network facts: interfaces, default routes, DNS resolvers, listening sockets.
//!
//! Everything is read from `/sys/class/net`, `/proc/net` and `/etc` through the
//! probe root, so that the parsers run on recorded files in tests and the
//! probe needs no privileges; listening sockets come from netlink `sock_diag`
//! on the real system, because `/proc/net/tcp` is slow (see [`sock_diag`]).
//! Both belong to the network namespace of the agent, the one being assessed.

pub mod dns;
pub mod egress;
pub mod interfaces;
pub mod routes;
#[cfg(target_os = "linux")]
pub mod sock_diag;
pub mod sockets;

use super::{Errors, ProbeContext};
use khien_proto::facts::Network;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Everything but `egress`, which waits on the network and runs beside the other probes.
pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Network {
    Network {
        interfaces: interfaces::collect(ctx, errors),
        default_routes: routes::collect(ctx, errors),
        dns: dns::collect(ctx, errors),
        listening: sockets::collect(ctx, errors),
        egress: None,
    }
}

/// An IPv4 address as `/proc/net/route` and `/proc/net/tcp` print it: the
/// 32-bit word in host byte order, so `0101A8C0` is 192.168.1.1 on x86.
pub fn ipv4_from_host_hex(hex: &str) -> Option<Ipv4Addr> {
    if hex.len() != 8 {
        return None;
    }
    let word = u32::from_str_radix(hex, 16).ok()?;
    Some(Ipv4Addr::from(word.to_ne_bytes()))
}

/// An IPv6 address as `/proc/net/tcp6` prints it: four 32-bit words, each in
/// host byte order, unlike the plain byte order of `ipv6_route` and `if_inet6`.
pub fn ipv6_from_host_hex(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Some(Ipv6Addr::from(bytes))
}

/// An IPv6 address as `/proc/net/ipv6_route` and `/proc/net/if_inet6` print
/// it: 32 hex digits in network byte order.
pub fn ipv6_from_hex(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_proc_addresses() {
        let gateway = u32::from_ne_bytes([192, 168, 1, 1]);
        assert_eq!(ipv4_from_host_hex(&format!("{gateway:08X}")), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(ipv4_from_host_hex("00000000"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(ipv4_from_host_hex("0101A8C"), None);
        assert_eq!(ipv4_from_host_hex("zz01A8C0"), None);
        let loopback: String = [0u32, 0, 0, u32::from_ne_bytes([0, 0, 0, 1])]
            .iter()
            .map(|w| format!("{w:08X}"))
            .collect();
        assert_eq!(ipv6_from_host_hex(&loopback), Some(Ipv6Addr::LOCALHOST));
        assert_eq!(ipv6_from_host_hex("00"), None);
        assert_eq!(
            ipv6_from_hex("fe800000000000000203fffffe000001"),
            "fe80::203:ffff:fe00:1".parse().ok()
        );
        assert_eq!(ipv6_from_hex("fe80::1"), None);
    }
}
