//! The collector's certificate authority and the agent's certificate request.

use crate::pin::ca_pin;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// Where an agent's identity sits in its certificate's subject alternative names.
const AGENT_URI_PREFIX: &str = "urn:khien:agent:";

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("the certificate signing request is invalid: {0}")]
    BadCsr(rcgen::Error),
    #[error("not a certificate: {0}")]
    BadCert(String),
    #[error("the certificate names no Khiên agent")]
    NoAgentIdentity,
    #[error("random number generator failed")]
    Random,
}

/// A certificate the authority issued.
#[derive(Clone, Debug)]
pub struct IssuedCert {
    pub cert_pem: String,
    /// Only for certificates whose key the authority generated (the server's).
    pub key_pem: Option<String>,
    /// Lower-case hex, as revocation lists and the store keep it.
    pub serial: String,
    /// Unix seconds.
    pub not_after: i64,
}

/// The collector's CA: signs its server certificate and every agent certificate.
pub struct Authority {
    cert_pem: String,
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn random_serial() -> Result<(SerialNumber, String), PkiError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).map_err(|_| PkiError::Random)?;
    // Positive, and without a leading zero byte, so that DER keeps all 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    let hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok((SerialNumber::from_slice(&bytes), hex))
}

fn validity(days: i64) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    // Tolerate clocks a little behind ours.
    (now - Duration::hours(1), now + Duration::days(days))
}

impl Authority {
    /// A new CA named after the collector it belongs to.
    pub fn generate(name: &str) -> Result<Authority, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("Khiên CA {name}"));
        dn.push(DnType::OrganizationName, "Khiên");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        (params.not_before, params.not_after) = validity(365 * 20);
        params.serial_number = Some(random_serial()?.0);
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        Authority::from_pem(&cert_pem, &key.serialize_pem())
    }

    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Authority, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let der = crate::certs_from_pem(cert_pem, "CA certificate")
            .map_err(|e| PkiError::BadCert(e.to_string()))?
            .remove(0);
        let issuer = Issuer::from_ca_cert_der(&der, key)?;
        Ok(Authority {
            cert_pem: cert_pem.to_string(),
            cert_der: der.to_vec(),
            issuer,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// `sha256:<hex>` of the CA certificate, carried in enrollment tokens.
    pub fn pin(&self) -> String {
        ca_pin(&self.cert_der)
    }

    /// A server certificate for the given host names and addresses, with a new key.
    pub fn issue_server(&self, names: &[String], days: i64) -> Result<IssuedCert, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_else(|| "khien-collector".into()),
        );
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let (serial, hex) = random_serial()?;
        params.serial_number = Some(serial);
        (params.not_before, params.not_after) = validity(days);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            // The chain carries the CA so that agents can check the enrollment pin against it.
            cert_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: Some(key.serialize_pem()),
            serial: hex,
            not_after: params.not_after.unix_timestamp(),
        })
    }

    /// An agent certificate for the key in `csr_pem`. The subject is the
    /// collector's choice (the agent id); whatever the request asked for is ignored.
    pub fn issue_agent(&self, csr_pem: &str, agent_id: &str, days: i64) -> Result<IssuedCert, PkiError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(PkiError::BadCsr)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, agent_id);
        dn.push(DnType::OrganizationName, "Khiên agents");
        params.distinguished_name = dn;
        params.subject_alt_names = vec![SanType::URI(format!("{AGENT_URI_PREFIX}{agent_id}").try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let (serial, hex) = random_serial()?;
        params.serial_number = Some(serial);
        (params.not_before, params.not_after) = validity(days);
        let cert = params.signed_by(&csr.public_key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: None,
            serial: hex,
            not_after: params.not_after.unix_timestamp(),
        })
    }
}

/// The agent's TLS key (PKCS#8 PEM) and a certificate request for it.
pub fn new_key_and_csr() -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "khien-agent");
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key)?;
    Ok((key.serialize_pem(), csr.pem()?))
}

/// Who a client certificate names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentIdentity {
    pub agent_id: String,
    /// Lower-case hex serial number.
    pub serial: String,
}

/// Reads the agent id (from the `urn:khien:agent:` URI name) and serial of a certificate.
pub fn agent_identity(cert_der: &[u8]) -> Result<AgentIdentity, PkiError> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der).map_err(|e| PkiError::BadCert(e.to_string()))?;
    let serial = cert
        .tbs_certificate
        .raw_serial()
        .iter()
        .skip_while(|b| **b == 0)
        .map(|b| format!("{b:02x}"))
        .collect();
    let san = cert.subject_alternative_name().map_err(|e| PkiError::BadCert(e.to_string()))?;
    let agent_id = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .find_map(|n| match n {
            GeneralName::URI(uri) => uri.strip_prefix(AGENT_URI_PREFIX).map(str::to_string),
            _ => None,
        })
        .ok_or(PkiError::NoAgentIdentity)?;
    Ok(AgentIdentity { agent_id, serial })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_agent_certificates_with_its_own_subject() {
        let ca = Authority::generate("test").unwrap();
        let (key_pem, csr_pem) = new_key_and_csr().unwrap();
        assert!(key_pem.contains("PRIVATE KEY"));
        let issued = ca.issue_agent(&csr_pem, "0193f0aa-0000-7000-8000-000000000001", 365).unwrap();
        let der = crate::certs_from_pem(&issued.cert_pem, "agent").unwrap().remove(0);
        let id = agent_identity(&der).unwrap();
        assert_eq!(id.agent_id, "0193f0aa-0000-7000-8000-000000000001");
        assert_eq!(id.serial, issued.serial);
        assert_eq!(issued.serial.len(), 32);
    }

    #[test]
    fn reloads_from_pem_with_the_same_pin() {
        let ca = Authority::generate("test").unwrap();
        let again = Authority::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
        assert_eq!(ca.pin(), again.pin());
        assert!(ca.pin().starts_with("sha256:") && ca.pin().len() == 71);
    }

    #[test]
    fn refuses_a_tampered_csr() {
        let ca = Authority::generate("test").unwrap();
        let (_, csr_pem) = new_key_and_csr().unwrap();
        let mut lines: Vec<String> = csr_pem.lines().map(str::to_string).collect();
        let mid = lines.len() / 2;
        lines[mid] = lines[mid].chars().rev().collect();
        assert!(matches!(ca.issue_agent(&lines.join("\n"), "x", 1), Err(PkiError::BadCsr(_))));
        assert!(matches!(ca.issue_agent("garbage", "x", 1), Err(PkiError::BadCsr(_))));
    }

    #[test]
    fn a_server_certificate_is_no_agent() {
        let ca = Authority::generate("test").unwrap();
        let server = ca.issue_server(&["localhost".into(), "127.0.0.1".into()], 30).unwrap();
        let der = crate::certs_from_pem(&server.cert_pem, "server").unwrap().remove(0);
        assert!(matches!(agent_identity(&der), Err(PkiError::NoAgentIdentity)));
    }
}
