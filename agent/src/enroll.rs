//! `khien-agent enroll`: one token in, a certificate and keys out.
//!
//! The agent generates its TLS key and CSR and its Ed25519 report-signing key
//! locally; only the public halves leave the machine. It trusts the collector
//! by the CA pin in the token, and from then on by the CA it received.

use crate::state::{Enrollment, StateDir, StateError};
use khien_proto::Timestamp;
use khien_proto::enroll::{ApiErrorBody, EnrollRequest, EnrollResponse, Token, TokenError};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("this agent is already enrolled as {0}; pass --force to enroll again with a new identity")]
    AlreadyEnrolled(String),
    #[error("the token expired at {0}; ask for a new one")]
    Expired(Timestamp),
    #[error("cannot reach the collector at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the collector refused the enrollment: {0}")]
    Refused(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Local(String),
}

impl From<std::io::Error> for EnrollError {
    fn from(e: std::io::Error) -> Self {
        EnrollError::State(StateError::Io(e))
    }
}

pub async fn enroll(token_text: &str, dir: &StateDir, hostname: &str, force: bool) -> Result<Enrollment, EnrollError> {
    let token = Token::decode(token_text)?;
    khien_tls::check_pin(&token.ca).map_err(|e| EnrollError::Local(e.to_string()))?;
    if !force && let Ok(existing) = dir.enrollment() {
        return Err(EnrollError::AlreadyEnrolled(existing.agent_id));
    }
    if token.expires_at < Timestamp::now() {
        return Err(EnrollError::Expired(token.expires_at));
    }
    dir.ensure()?;
    let (tls_key, csr) = khien_tls::new_key_and_csr().map_err(|e| EnrollError::Local(e.to_string()))?;
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| EnrollError::Local("cannot generate a signing key".into()))?;
    let signing = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| EnrollError::Local("cannot use the signing key".into()))?;

    let tls = khien_tls::pinned_client_config(&token.ca).map_err(|e| EnrollError::Local(e.to_string()))?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| EnrollError::Local(e.to_string()))?;
    let url = format!("{}/api/v1/enroll", token.url.trim_end_matches('/'));
    let request = EnrollRequest {
        secret: token.secret.clone(),
        csr,
        signing_key: hex::encode(signing.public_key().as_ref()),
        hostname: hostname.to_string(),
    };
    let resp = client
        .post(&url)
        .json(&request)
        .send()
        .await
        .map_err(|e| EnrollError::Unreachable {
            url: token.url.clone(),
            reason: error_chain(&e),
        })?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ApiErrorBody>(&body).map(|b| b.message).unwrap_or(body);
        return Err(EnrollError::Refused(format!("{status}: {message}")));
    }
    let granted: EnrollResponse = resp
        .json()
        .await
        .map_err(|e| EnrollError::Refused(format!("unreadable answer: {e}")))?;

    // Keys first, enrollment.json last: an interrupted enrollment leaves the agent unenrolled, not half-enrolled.
    dir.write("tls.key", tls_key.as_bytes())?;
    dir.write("signing.pk8", pkcs8.as_ref())?;
    dir.write("tls.crt", granted.certificate.as_bytes())?;
    dir.write("ca.crt", granted.ca.as_bytes())?;
    let _ = std::fs::remove_file(dir.file("progress.json"));
    let enrollment = Enrollment {
        agent_id: granted.agent_id,
        collector_url: token.url,
        org_unit: granted.org_unit,
        systems: granted.systems,
        enrolled_at: Timestamp::now().truncate_to_seconds(),
    };
    dir.save_enrollment(&enrollment)?;
    Ok(enrollment)
}

/// An error with its causes, for messages that must say why a connection failed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}
