//! Real TLS handshakes on loopback between the configurations of this crate.

use super::*;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

struct Pki {
    ca: Authority,
    server_chain: String,
    server_key: String,
}

fn pki() -> Pki {
    let ca = Authority::generate("test").unwrap();
    let server = ca.issue_server(&["localhost".into(), "127.0.0.1".into()], 30).unwrap();
    Pki {
        server_chain: server.cert_pem,
        server_key: server.key_pem.unwrap(),
        ca,
    }
}

/// Runs one connection; returns what the server saw of the client (its agent id) or the error.
fn handshake(server: ServerConfig, client: ClientConfig, name: &str) -> (Result<Option<String>, String>, Result<(), String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = ServerConnection::new(Arc::new(server)).unwrap();
        let mut tls = StreamOwned::new(conn, sock);
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
        let who = tls
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| agent_identity(c).map(|i| i.agent_id).map_err(|e| e.to_string()))
            .transpose()?;
        tls.write_all(b"hello").map_err(|e| e.to_string())?;
        Ok(who)
    });
    let conn = ClientConnection::new(Arc::new(client), ServerName::try_from(name.to_string()).unwrap()).unwrap();
    let mut tls = StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    let client_result = (|| {
        tls.write_all(b"hello").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
        Ok(())
    })();
    drop(tls);
    (srv.join().unwrap(), client_result)
}

fn agent_cert(ca: &Authority, id: &str) -> (String, String) {
    let (key, csr) = new_key_and_csr().unwrap();
    (ca.issue_agent(&csr, id, 30).unwrap().cert_pem, key)
}

#[test]
fn mutual_tls_names_the_agent() {
    let p = pki();
    let (cert, key) = agent_cert(&p.ca, "agent-1");
    let server = server_config(&p.server_chain, &p.server_key, p.ca.cert_pem()).unwrap();
    let client = client_config(p.ca.cert_pem(), Some((&cert, &key))).unwrap();
    let (srv, cli) = handshake(server, client, "localhost");
    assert_eq!(srv, Ok(Some("agent-1".to_string())));
    assert_eq!(cli, Ok(()));
}

#[test]
fn no_client_certificate_is_allowed_but_anonymous() {
    let p = pki();
    let server = server_config(&p.server_chain, &p.server_key, p.ca.cert_pem()).unwrap();
    let client = client_config(p.ca.cert_pem(), None).unwrap();
    assert_eq!(handshake(server, client, "127.0.0.1").0, Ok(None));
}

#[test]
fn a_certificate_from_a_foreign_ca_is_refused() {
    let p = pki();
    let foreign = Authority::generate("foreign").unwrap();
    let (cert, key) = agent_cert(&foreign, "intruder");
    let server = server_config(&p.server_chain, &p.server_key, p.ca.cert_pem()).unwrap();
    let client = client_config(p.ca.cert_pem(), Some((&cert, &key))).unwrap();
    let (srv, _) = handshake(server, client, "localhost");
    let err = srv.unwrap_err();
    assert!(err.contains("UnknownIssuer") || err.contains("unknown issuer"), "{err}");
}

#[test]
fn enrollment_trusts_only_the_pinned_ca() {
    let p = pki();
    let server = || server_config(&p.server_chain, &p.server_key, p.ca.cert_pem()).unwrap();
    let (_, cli) = handshake(server(), pinned_client_config(&p.ca.pin()).unwrap(), "localhost");
    assert_eq!(cli, Ok(()));
    let other = Authority::generate("other").unwrap();
    let (_, cli) = handshake(server(), pinned_client_config(&other.pin()).unwrap(), "localhost");
    assert!(cli.unwrap_err().contains("pinned CA"));
    // The right CA, but a host name the server certificate does not carry.
    let (_, cli) = handshake(server(), pinned_client_config(&p.ca.pin()).unwrap(), "collector.example");
    assert!(cli.is_err());
}

#[test]
fn pins_are_validated() {
    let p = pki();
    assert_eq!(check_pin(&p.ca.pin()), Ok(()));
    assert!(check_pin("sha256:abc").is_err());
    assert!(check_pin("md5:00").is_err());
}
