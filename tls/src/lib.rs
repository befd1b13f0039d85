//! TLS and PKI for Khiên, in one place.
//!
//! - every rustls configuration is built here with the **ring** provider
//!   explicitly (ARCHITECTURE.md decision 9): a crate that switched on rustls'
//!   default features would otherwise bring aws-lc-rs in and make
//!   `ClientConfig::builder()` panic at run time;
//! - the collector's certificate authority: creating it, issuing the server
//!   certificate and agent certificates from their CSRs (the collector chooses
//!   the subject; the agent only proves it holds the key);
//! - the agent side: its key pair and CSR, and the CA pin check used at
//!   enrollment, before it has the CA;
//! - reading an agent's identity from its certificate.
//!
//! TLS 1.3 and 1.2, ECDSA P-256 keys.

mod pin;
mod pki;

pub use pin::{PinError, PinnedVerifier, ca_pin, check_pin};
pub use pki::{AgentIdentity, Authority, IssuedCert, PkiError, agent_identity, new_key_and_csr};

use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;

/// The only crypto provider Khiên uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate in {0}")]
    NoCertificate(&'static str),
    #[error("cannot read {0}: {1}")]
    Pem(&'static str, String),
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

pub fn certs_from_pem(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(what, e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(what));
    }
    Ok(certs)
}

pub fn key_from_pem(pem: &str, what: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::Pem(what, e.to_string()))
}

fn roots(ca_pem: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in certs_from_pem(ca_pem, "CA certificate")? {
        roots.add(c)?;
    }
    Ok(roots)
}

/// The collector's server configuration: its certificate chain, and client
/// certificates verified against its CA when presented. They are optional at
/// the TLS layer because enrollment and the API (bearer keys) share the port;
/// agent routes refuse requests without one.
pub fn server_config(chain_pem: &str, key_pem: &str, client_ca_pem: &str) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(client_ca_pem)?), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs_from_pem(chain_pem, "server certificate")?,
            key_from_pem(key_pem, "server key")?,
        )?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client that trusts the collector's CA and, once enrolled, presents its certificate.
pub fn client_config(ca_pem: &str, identity: Option<(&str, &str)>) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_pem)?);
    let mut config = match identity {
        Some((cert_pem, key_pem)) => {
            builder.with_client_auth_cert(certs_from_pem(cert_pem, "agent certificate")?, key_from_pem(key_pem, "agent key")?)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client for enrollment: it trusts a server whose chain contains the CA
/// with the given pin, before it has that CA.
pub fn pinned_client_config(pin: &str) -> Result<ClientConfig, TlsError> {
    let verifier: Arc<dyn ServerCertVerifier> = Arc::new(PinnedVerifier::new(pin, provider()));
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests;
