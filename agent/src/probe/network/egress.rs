//! The outbound connection test of HT-02: admin and management hosts must not
//! reach the Internet directly, so the agent tries a TCP connection to a
//! canary `host:port` outside the agency, named by the configuration
//! (`probe.egress_target`). The host passes when the connection fails.
//!
//! Only a completed handshake counts as reachable. A refusal does not: a
//! firewall's `REJECT` (iptables' default answers with an ICMP port
//! unreachable, `--reject-with tcp-reset` with a RST) gives the same
//! `ECONNREFUSED` as a closed port at the target, so a refusal cannot prove
//! that the path out exists; the canary must listen on its port. The error
//! keeps the reason, for whoever reads the report.

use super::ProbeContext;
use khien_proto::facts::Egress;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Long enough for a TCP handshake across the Internet, short enough that a
/// silently dropped connection (the passing case) does not stall the check.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// A failed connection is the fact being measured, not a probe error.
pub fn collect(ctx: &ProbeContext<'_>) -> Option<Egress> {
    let target = ctx.config.egress_target.as_deref()?;
    Some(probe(target, ctx.command_timeout.min(MAX_WAIT)))
}

/// One connection attempt to `target` (`host:port`) within `timeout`, name
/// resolution included; each address of the name gets an equal share of
/// what is left, so that a dead IPv6 path does not eat the IPv4 attempt.
pub fn probe(target: &str, timeout: Duration) -> Egress {
    let deadline = Instant::now() + timeout;
    let failed = |reason: String| Egress {
        target: target.to_string(),
        reachable: false,
        error: Some(reason),
    };
    let addrs = match resolve(target, timeout) {
        Ok(a) if a.is_empty() => return failed("no address".into()),
        Ok(a) => a,
        Err(reason) => return failed(reason),
    };
    let mut last = String::from("timeout");
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let share = left / (addrs.len() - i) as u32;
        if share.is_zero() {
            last = "timeout".into();
            break;
        }
        match TcpStream::connect_timeout(addr, share) {
            Ok(_) => {
                return Egress {
                    target: target.to_string(),
                    reachable: true,
                    error: None,
                };
            }
            Err(e) => last = reason(&e),
        }
    }
    failed(last)
}

/// The target's addresses. A literal address needs no lookup; a name is
/// resolved on a helper thread, because `getaddrinfo` has no deadline of its
/// own and a dead resolver would hold the whole collection. A lookup that
/// outlives the deadline finishes in the background and is dropped.
fn resolve(target: &str, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let (tx, rx) = mpsc::channel();
    let name = target.to_string();
    std::thread::Builder::new()
        .name("egress-resolve".into())
        .spawn(move || {
            let _ = tx.send(name.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
        })
        .map_err(|e| format!("cannot start name resolution: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(format!("no address: {e}")),
        Err(_) => Err("timeout (name resolution)".into()),
    }
}

/// The short reasons the fact model names, else the system's message.
fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timeout".into(),
        // EHOSTUNREACH: an ICMP host unreachable, or a firewall rejecting with one.
        io::ErrorKind::HostUnreachable => "unreachable".into(),
        // ENETUNREACH: this machine has no route towards the target.
        io::ErrorKind::NetworkUnreachable => "no route".into(),
        // EPERM/EACCES: the local firewall dropped the packet on its way out.
        io::ErrorKind::PermissionDenied => "blocked locally".into(),
        io::ErrorKind::ConnectionReset => "reset".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use std::net::TcpListener;

    #[test]
    fn a_listening_target_is_reachable() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap().to_string();
        let e = probe(&target, Duration::from_secs(2));
        assert_eq!(
            e,
            Egress {
                target,
                reachable: true,
                error: None
            }
        );
    }

    #[test]
    fn a_refusal_is_not_reachable() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // The listener is dropped: nothing listens on the port any more.
        let e = probe(&format!("127.0.0.1:{port}"), Duration::from_secs(2));
        assert!(!e.reachable);
        assert_eq!(e.error.as_deref(), Some("refused"));
    }

    #[test]
    fn an_unroutable_target_fails_within_the_timeout() {
        // TEST-NET-1: never routed; dropped (timeout) or no route at all, depending on the machine.
        let started = Instant::now();
        let e = probe("192.0.2.1:9", Duration::from_millis(300));
        assert!(!e.reachable);
        assert!(e.error.is_some());
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn a_name_without_address_fails() {
        // `.invalid` never resolves (RFC 6761); without DNS it fails or times out, never connects.
        let e = probe("canary.invalid:443", Duration::from_millis(500));
        assert!(!e.reachable);
        assert!(
            e.error
                .as_deref()
                .is_some_and(|r| r.starts_with("no address") || r.starts_with("timeout")),
            "{e:?}"
        );
    }

    #[test]
    fn runs_only_when_a_target_is_configured() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::default(), Processes::default(), &config);
        assert_eq!(collect(&ctx), None);
        config.egress_target = Some(listener.local_addr().unwrap().to_string());
        let ctx = ProbeContext::new(Root::default(), Processes::default(), &config);
        assert!(collect(&ctx).unwrap().reachable);
    }
}
