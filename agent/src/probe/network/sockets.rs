//! Listening sockets: the services a machine offers to the network, and which
//! process offers each one.

use super::{ipv4_from_host_hex, ipv6_from_host_hex};
use crate::probe::root::{Root, describe};
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{IpFamily, Listener, Protocol};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

const PROBE: &str = "network.listening";

const TCP_LISTEN: &str = "0A";
/// UDP sockets reuse the TCP state numbers; an unconnected one is "closed".
const TCP_CLOSE: &str = "07";

/// The socket tables of the agent's network namespace. The IPv6 ones are
/// absent when the kernel runs without IPv6.
const TABLES: [(&str, Protocol, IpFamily, bool); 4] = [
    ("/proc/net/tcp", Protocol::Tcp, IpFamily::Ipv4, true),
    ("/proc/net/tcp6", Protocol::Tcp, IpFamily::Ipv6, false),
    ("/proc/net/udp", Protocol::Udp, IpFamily::Ipv4, true),
    ("/proc/net/udp6", Protocol::Udp, IpFamily::Ipv6, false),
];

/// A listening socket as the kernel table shows it, before it is tied to a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub protocol: Protocol,
    pub address: IpAddr,
    pub port: u16,
    /// Socket inode, the only link from the table to the process holding it.
    pub inode: u64,
}

impl Socket {
    fn family(&self) -> IpFamily {
        match self.address {
            IpAddr::V4(_) => IpFamily::Ipv4,
            IpAddr::V6(_) => IpFamily::Ipv6,
        }
    }
}

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<Listener> {
    #[cfg(target_os = "linux")]
    let from_netlink = if ctx.root.is_system() {
        super::sock_diag::listening().ok()
    } else {
        None
    };
    #[cfg(not(target_os = "linux"))]
    let from_netlink: Option<Vec<Socket>> = None;
    // The /proc tables are the fallback (netlink refused, or a test root).
    let sockets = match from_netlink {
        Some(s) => s,
        None => read_tables(ctx, errors),
    };
    with_owners(ctx, sockets, errors)
}

fn read_tables(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<Socket> {
    let mut sockets = Vec::new();
    for (path, protocol, family, required) in TABLES {
        match ctx.root.read_optional(path) {
            Ok(Some(text)) => sockets.extend(parse_proc_net_sockets(&text, protocol, family)),
            Ok(None) if !required => {}
            Ok(None) => errors.push(PROBE, format!("{} does not exist", ctx.root.path(path).display())),
            Err(e) => errors.push(PROBE, describe(ctx.root.path(path), &e)),
        }
    }
    sockets
}

fn with_owners(ctx: &ProbeContext<'_>, sockets: Vec<Socket>, errors: &mut Errors) -> Vec<Listener> {
    let wanted: BTreeSet<u64> = sockets.iter().map(|s| s.inode).filter(|i| *i != 0).collect();
    let owners = if wanted.is_empty() {
        BTreeMap::new()
    } else {
        match socket_owners(&ctx.root, &wanted) {
            Ok(owners) => owners,
            Err(e) => {
                errors.push(PROBE, describe(ctx.root.path("/proc"), &e));
                BTreeMap::new()
            }
        }
    };
    let mut found: Vec<(IpAddr, Listener)> = sockets
        .into_iter()
        .map(|s| {
            let pid = owners.get(&s.inode).copied();
            let process = pid
                .and_then(|pid| ctx.processes.by_pid(pid))
                .map(|p| if p.argv0.is_empty() { p.comm.clone() } else { p.argv0.clone() });
            let listener = Listener {
                protocol: s.protocol,
                family: s.family(),
                address: s.address.to_string(),
                port: s.port,
                pid,
                process,
            };
            (s.address, listener)
        })
        .collect();
    // Addresses in numeric order (IPv4 before IPv6), not as text.
    found.sort_by_key(|(ip, l)| (l.protocol, l.port, *ip, l.pid));
    // SO_REUSEPORT services (nginx workers) list one socket per worker.
    found.dedup_by(|a, b| a.1 == b.1);
    found.into_iter().map(|(_, l)| l).collect()
}

/// Listening sockets of one `/proc/net/{tcp,tcp6,udp,udp6}` table. A TCP
/// socket listens in state `0A`; UDP has no listen state, so an unconnected
/// bound socket (state `07`, no remote port) is what receives from anyone.
pub fn parse_proc_net_sockets(text: &str, protocol: Protocol, family: IpFamily) -> Vec<Socket> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[0] == "sl" {
                return None;
            }
            let (address, port) = parse_endpoint(f[1], family)?;
            let (_, remote_port) = parse_endpoint(f[2], family)?;
            let listening = match protocol {
                Protocol::Tcp => f[3].eq_ignore_ascii_case(TCP_LISTEN),
                Protocol::Udp => f[3] == TCP_CLOSE && remote_port == 0,
            };
            if !listening {
                return None;
            }
            Some(Socket {
                protocol,
                address,
                port,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// `ADDR:PORT` with the address in host-order hex words and the port in hex.
fn parse_endpoint(text: &str, family: IpFamily) -> Option<(IpAddr, u16)> {
    let (address, port) = text.split_once(':')?;
    let address = match family {
        IpFamily::Ipv4 => IpAddr::V4(ipv4_from_host_hex(address)?),
        IpFamily::Ipv6 => IpAddr::V6(ipv6_from_host_hex(address)?),
    };
    Some((address, u16::from_str_radix(port, 16).ok()?))
}

/// The inode of a `socket:[12345]` file descriptor target.
pub fn parse_socket_link(target: &str) -> Option<u64> {
    target.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// Which process holds each wanted socket, found through the `socket:[inode]`
/// links in `/proc/<pid>/fd`. Processes are visited by ascending pid and the
/// first holder wins, so a socket shared after `fork` (or passed by systemd
/// socket activation) goes to the process that opened it. Processes we may not
/// inspect, or that exit meanwhile, are skipped: their sockets stay unowned.
pub fn socket_owners(root: &Root, wanted: &BTreeSet<u64>) -> std::io::Result<BTreeMap<u64, u32>> {
    let mut pids: Vec<u32> = root.list("/proc")?.iter().filter_map(|n| n.parse().ok()).collect();
    pids.sort_unstable();
    let mut owners = BTreeMap::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(root.path(format!("/proc/{pid}/fd"))) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let Some(inode) = target.to_str().and_then(parse_socket_link) else {
                continue;
            };
            if wanted.contains(&inode) {
                owners.entry(inode).or_insert(pid);
            }
        }
        if owners.len() == wanted.len() {
            break;
        }
    }
    Ok(owners)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::path::Path;

    /// Recorded on an x86_64 server: sshd on 0.0.0.0:22, a resolver stub on
    /// 127.0.0.53:53, an established SSH session (ignored).
    const TCP: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0                     
   1: 3500007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 23456 1 0000000000000000 100 0 0 10 5                     
   2: 0F02000A:0016 0202000A:D8A4 01 00000000:00000000 02:0009E3F6 00000000     0        0 34567 4 0000000000000000 20 4 29 10 -1                   
";

    /// nginx on [::]:80, an IPv4-mapped loopback listener, and a TIME_WAIT (ignored).
    const TCP6: &str = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 45678 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 45679 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000001000000:0050 00000000000000000000000001000000:C2A0 06 00000000:00000000 03:00000F2D 00000000     0        0 0 3 0000000000000000
";

    /// dhclient on 0.0.0.0:68, the resolver stub on 127.0.0.53:53, and a
    /// connected (state 01) NTP client socket that must be ignored.
    const UDP: &str = "\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  512: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 56789 2 0000000000000000 0          
  789: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 23457 2 0000000000000000 0          
  900: 0F02000A:A1B2 7B7B7B7B:007B 01 00000000:00000000 00:00000000 00000000   102        0 67890 2 0000000000000000 0          
";

    const UDP6: &str = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  412: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 78901 2 0000000000000000 0
";

    fn sock(protocol: Protocol, address: IpAddr, port: u16, inode: u64) -> Socket {
        Socket {
            protocol,
            address,
            port,
            inode,
        }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_tcp_listeners_and_ignores_connections() {
        assert_eq!(
            parse_proc_net_sockets(TCP, Protocol::Tcp, IpFamily::Ipv4),
            vec![
                sock(Protocol::Tcp, Ipv4Addr::UNSPECIFIED.into(), 22, 12345),
                sock(Protocol::Tcp, Ipv4Addr::new(127, 0, 0, 53).into(), 53, 23456),
            ]
        );
        assert_eq!(
            parse_proc_net_sockets(TCP6, Protocol::Tcp, IpFamily::Ipv6),
            vec![
                sock(Protocol::Tcp, Ipv6Addr::UNSPECIFIED.into(), 80, 45678),
                sock(Protocol::Tcp, Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), 8080, 45679),
            ]
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_unconnected_udp_sockets() {
        assert_eq!(
            parse_proc_net_sockets(UDP, Protocol::Udp, IpFamily::Ipv4),
            vec![
                sock(Protocol::Udp, Ipv4Addr::UNSPECIFIED.into(), 68, 56789),
                sock(Protocol::Udp, Ipv4Addr::new(127, 0, 0, 53).into(), 53, 23457),
            ]
        );
        assert_eq!(
            parse_proc_net_sockets(UDP6, Protocol::Udp, IpFamily::Ipv6),
            vec![sock(Protocol::Udp, Ipv6Addr::UNSPECIFIED.into(), 5353, 78901)]
        );
    }

    #[test]
    fn ignores_malformed_lines() {
        assert!(parse_proc_net_sockets("", Protocol::Tcp, IpFamily::Ipv4).is_empty());
        let bad = "   0: 00000000 00000000:0000 0A 0 0 0 0 0 12345\n   1: 0000:0016 00000000:0000 0A 0 0 0 0 0 1\n";
        assert!(parse_proc_net_sockets(bad, Protocol::Tcp, IpFamily::Ipv4).is_empty());
        assert!(parse_proc_net_sockets(TCP, Protocol::Tcp, IpFamily::Ipv6).is_empty());
        assert_eq!(parse_socket_link("socket:[12345]"), Some(12345));
        assert_eq!(parse_socket_link("pipe:[12345]"), None);
        assert_eq!(parse_socket_link("/dev/null"), None);
    }

    fn fake_process(root: &Path, pid: u32, comm: &str, cmdline: &[u8], fds: &[&str]) {
        let dir = root.join(format!("proc/{pid}"));
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        std::fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
        std::fs::write(dir.join("cmdline"), cmdline).unwrap();
        for (n, target) in fds.iter().enumerate() {
            std::os::unix::fs::symlink(target, dir.join("fd").join(n.to_string())).unwrap();
        }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn maps_inodes_to_processes_in_a_fake_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/net")).unwrap();
        std::fs::write(root.join("proc/net/tcp"), TCP).unwrap();
        std::fs::write(root.join("proc/net/tcp6"), TCP6).unwrap();
        std::fs::write(root.join("proc/net/udp"), UDP).unwrap();
        // No udp6: IPv6 UDP is off, which is not an error.
        fake_process(root, 1, "systemd", b"/sbin/init\0", &["/dev/null", "anon_inode:[eventfd]"]);
        fake_process(
            root,
            812,
            "sshd",
            b"sshd: /usr/sbin/sshd -D [listener]\0",
            &["/dev/null", "socket:[12345]"],
        );
        fake_process(
            root,
            845,
            "nginx",
            b"nginx: master process /usr/sbin/nginx\0",
            &["socket:[45678]", "pipe:[999]"],
        );
        fake_process(root, 90, "dhclient", b"", &["socket:[56789]"]);
        // A later fork of sshd still holding the socket: the parent keeps it.
        fake_process(root, 9001, "sshd", b"sshd: alice [priv]\0", &["socket:[12345]"]);
        std::fs::create_dir_all(root.join("proc/self")).unwrap();
        std::fs::create_dir_all(root.join("proc/4242")).unwrap(); // exited: no fd folder

        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(root), Processes::snapshot(&Root::new(root)).unwrap(), &config);
        let mut errors = Errors::default();
        let listening = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        let l = |protocol, family, address: &str, port, pid: Option<u32>, process: Option<&str>| Listener {
            protocol,
            family,
            address: address.to_string(),
            port,
            pid,
            process: process.map(str::to_string),
        };
        assert_eq!(
            listening,
            vec![
                l(Protocol::Tcp, IpFamily::Ipv4, "0.0.0.0", 22, Some(812), Some("sshd")),
                l(Protocol::Tcp, IpFamily::Ipv4, "127.0.0.53", 53, None, None),
                l(Protocol::Tcp, IpFamily::Ipv6, "::", 80, Some(845), Some("nginx")),
                l(Protocol::Tcp, IpFamily::Ipv6, "::ffff:127.0.0.1", 8080, None, None),
                l(Protocol::Udp, IpFamily::Ipv4, "127.0.0.53", 53, None, None),
                l(Protocol::Udp, IpFamily::Ipv4, "0.0.0.0", 68, Some(90), Some("dhclient")),
            ]
        );
    }

    #[test]
    fn missing_ipv4_table_is_an_error_but_missing_ipv6_is_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/net")).unwrap();
        std::fs::write(dir.path().join("proc/net/tcp"), "  sl  local_address rem_address   st\n").unwrap();
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        assert!(collect(&ctx, &mut errors).is_empty());
        assert_eq!(errors.0.len(), 1, "{:?}", errors.0);
        assert_eq!(errors.0[0].probe, PROBE);
        assert!(errors.0[0].message.contains("proc/net/udp"));
    }

    #[test]
    fn finds_this_process_listening_on_a_real_system() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let root = Root::default();
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(root.clone(), Processes::snapshot(&root).unwrap(), &config);
        let mut errors = Errors::default();
        let listening = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        let found = listening
            .iter()
            .find(|l| l.protocol == Protocol::Tcp && l.port == port && l.address == "127.0.0.1")
            .unwrap_or_else(|| panic!("port {port} not in {listening:?}"));
        assert_eq!(found.family, IpFamily::Ipv4);
        assert_eq!(found.pid, Some(std::process::id()));
        assert!(found.process.is_some());
        drop(listener);
    }
}
