//! Enrollment: the token an operator hands out, and the exchange that turns it
//! into an agent certificate (ARCHITECTURE.md decision 6).
//!
//! A token is `khien1.` followed by unpadded base64url of a small JSON object:
//! the collector URL, the SHA-256 pin of its CA, a random secret (the
//! collector keeps only its hash), and, for the operator's information, the
//! org unit, systems, expiry and use count. The collector's records are
//! authoritative for everything but the URL and the pin.

use crate::timestamp::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "khien1.";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// `https://host:port` of the collector.
    pub url: String,
    /// `sha256:<hex>` of the collector CA certificate.
    pub ca: String,
    /// Random secret, base64url.
    pub secret: String,
    pub org_unit: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
    pub expires_at: Timestamp,
    pub uses: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("not a Khiên enrollment token (it should start with {PREFIX})")]
    Prefix,
    #[error("the enrollment token is damaged (not base64url): copy it again in full")]
    Encoding,
    #[error("the enrollment token is damaged ({0}): copy it again in full")]
    Content(String),
}

impl Token {
    pub fn encode(&self) -> String {
        // Serialising this struct cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(text: &str) -> Result<Token, TokenError> {
        let body = text.trim().strip_prefix(PREFIX).ok_or(TokenError::Prefix)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError::Encoding)?;
        serde_json::from_slice(&json).map_err(|e| TokenError::Content(e.to_string()))
    }
}

/// `POST /api/v1/enroll`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub secret: String,
    /// PEM certificate signing request for the agent's TLS key.
    pub csr: String,
    /// Raw Ed25519 public key (hex) that will sign the agent's reports.
    pub signing_key: String,
    pub hostname: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    pub agent_id: String,
    /// PEM client certificate issued by the collector CA.
    pub certificate: String,
    /// PEM CA certificate to trust from now on.
    pub ca: String,
    pub org_unit: String,
    pub systems: Vec<String>,
}

/// The collector's answer to a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub seq: u64,
    /// `stored`, `heartbeat` or `duplicate`.
    pub outcome: String,
    /// The collector does not hold facts with the heartbeat's digest: send them in full.
    #[serde(default)]
    pub need_facts: bool,
}

/// Every error the collector's API returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable, machine-readable: `replay`, `bad_signature`, `revoked`, …
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token {
            url: "https://collector.dlk.dang.vn:8443".into(),
            ca: format!("sha256:{}", "ab".repeat(32)),
            secret: "s3cr3t".into(),
            org_unit: "DLK".into(),
            systems: vec!["DLK-DHTN".into()],
            expires_at: Timestamp::from_unix(1_800_000_000).unwrap(),
            uses: 50,
        }
    }

    #[test]
    fn round_trips_and_is_one_copyable_word() {
        let t = token();
        let text = t.encode();
        assert!(text.starts_with("khien1."));
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{text}");
        assert_eq!(Token::decode(&format!("  {text}\n")).unwrap(), t);
    }

    #[test]
    fn damaged_tokens_say_so() {
        let text = token().encode();
        assert_eq!(Token::decode("hello"), Err(TokenError::Prefix));
        assert_eq!(Token::decode(&format!("{text}!")), Err(TokenError::Encoding));
        assert!(matches!(
            Token::decode(&text[..text.len() - 8]),
            Err(TokenError::Encoding | TokenError::Content(_))
        ));
    }
}
