//! Network namespaces: a private network stack per test, with its own
//! nftables ruleset and listening sockets, removed when the test ends.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("khien-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        run("ip", &["netns", "add", &name], None);
        let ns = Netns { name };
        ns.exec("ip", &["link", "set", "lo", "up"]);
        ns
    }

    /// Runs a command inside the namespace and asserts it succeeded.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run("ip", &full, None)
    }

    /// Joins this namespace to `other` with a veth pair, `addr` here and
    /// `peer_addr` there (both /24), both ends up.
    pub fn link(&self, other: &Netns, addr: &str, peer_addr: &str) {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        // Interface names are at most 15 bytes.
        let (here, there) = (
            format!("kv{}a{n}", std::process::id() % 10_000),
            format!("kv{}b{n}", std::process::id() % 10_000),
        );
        run(
            "ip",
            &[
                "link",
                "add",
                &here,
                "netns",
                &self.name,
                "type",
                "veth",
                "peer",
                "name",
                &there,
                "netns",
                &other.name,
            ],
            None,
        );
        for (ns, dev, a) in [(self, &here, addr), (other, &there, peer_addr)] {
            ns.exec("ip", &["addr", "add", &format!("{a}/24"), "dev", dev]);
            ns.exec("ip", &["link", "set", dev, "up"]);
        }
    }

    /// Loads an nftables ruleset (the text `nft -f` reads) into the namespace.
    pub fn nft(&self, ruleset: &str) {
        run("ip", &["netns", "exec", &self.name, "nft", "-f", "-"], Some(ruleset));
    }

    /// Starts a Python listener inside the namespace and waits until it listens.
    pub fn listen(&self, proto: &str, port: u16) -> Listener {
        let kind = if proto == "udp" { "SOCK_DGRAM" } else { "SOCK_STREAM" };
        let listen = if proto == "udp" { "" } else { "s.listen(16);" };
        // TCP connections are accepted and closed, so that any number of probes can connect.
        let serve = if proto == "udp" {
            "time.sleep(600)"
        } else {
            "while True: s.accept()[0].close()"
        };
        let script = format!(
            "import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.{kind})\n\
             s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',{port}));{listen}\n\
             print('ready',flush=True)\n{serve}\n"
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting python3 listener");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("reading listener");
        assert_eq!(line.trim(), "ready", "listener on {proto}/{port} did not start");
        Listener { child }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// A process listening inside a namespace; killed on drop.
pub struct Listener {
    pub child: Child,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("writing stdin");
    }
    let out = child.wait_with_output().expect("waiting");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
