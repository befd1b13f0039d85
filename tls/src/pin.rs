//! Trusting the collector at enrollment, before the agent has its CA.
//!
//! The enrollment token carries the SHA-256 of the collector CA's certificate.
//! The collector sends its CA in the TLS chain; the agent accepts the server
//! only if a certificate of the chain has that digest and the server
//! certificate verifies against it as the sole root, host name included.

use khien_proto::report::sha256_hex;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// `sha256:<hex>` of a DER certificate.
pub fn ca_pin(der: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(der))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("CA pin {0:?} is not of the form sha256:<64 hex digits>")]
pub struct PinError(pub String);

pub fn check_pin(pin: &str) -> Result<(), PinError> {
    match pin.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
        _ => Err(PinError(pin.to_string())),
    }
}

#[derive(Debug)]
pub struct PinnedVerifier {
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    pub fn new(pin: &str, provider: Arc<CryptoProvider>) -> Self {
        PinnedVerifier {
            pin: pin.to_ascii_lowercase(),
            provider,
        }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let ca = intermediates
            .iter()
            .find(|c| ca_pin(c) == self.pin)
            .ok_or_else(|| Error::General(format!("no certificate of the server's chain matches the pinned CA {}", self.pin)))?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| Error::General(e.to_string()))?;
        verifier.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
