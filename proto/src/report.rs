//! The report envelope an agent sends, its digests and its Ed25519 signature.
//!
//! A report carrying facts is signed over the exact body bytes, and the
//! signature travels in the [`SIGNATURE_HEADER`] header, so that the evidence
//! stays tamper-evident at rest and when forwarded. A heartbeat (facts
//! unchanged) carries only the sequence number and the facts digest and is not
//! signed: the mutual-TLS channel authenticates it, and verification would cost
//! more than everything else the collector does with it.

use crate::facts::{Facts, Host, Network, Platform};
use crate::results::Evaluation;
use crate::timestamp::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// HTTP header carrying `ed25519:<base64 signature>`.
pub const SIGNATURE_HEADER: &str = "x-khien-signature";
const SIGNATURE_SCHEME: &str = "ed25519:";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub agent_id: String,
    /// Strictly increasing per agent; the collector uses it to drop duplicates and replays.
    pub seq: u64,
    pub collected_at: Timestamp,
    pub agent_version: String,
    pub policy_digest: String,
    pub facts_digest: String,
    /// Present when the facts changed since the last acknowledged report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<Facts>,
    /// The agent's own verdicts, sent with the facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
}

impl Report {
    pub fn is_heartbeat(&self) -> bool {
        self.facts.is_none()
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = String::with_capacity(64);
    for b in digest.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Digest of the facts that matter for compliance.
///
/// The collection time and the uptime change on every run while the machine
/// stays the same; they are left out so that an unchanged machine yields an
/// unchanged digest and is reported by heartbeat.
pub fn facts_digest(facts: &Facts) -> String {
    #[derive(Serialize)]
    struct Stable<'a> {
        schema: u32,
        platform: Platform,
        host: Host,
        network: &'a Network,
        antivirus: &'a crate::facts::Antivirus,
        firewall: &'a crate::facts::Firewall,
        errors: &'a [crate::facts::ProbeError],
    }
    let mut host = facts.host.clone();
    host.uptime_seconds = None;
    let stable = Stable {
        schema: facts.schema,
        platform: facts.platform,
        host,
        network: &facts.network,
        antivirus: &facts.antivirus,
        firewall: &facts.firewall,
        errors: &facts.errors,
    };
    // Serialising plain structs and BTreeMaps to JSON cannot fail.
    let bytes = serde_json::to_vec(&stable).unwrap_or_default();
    sha256_hex(&bytes)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("signature header is not of the form `ed25519:<base64>`")]
    Malformed,
    #[error("signature does not match the report body and the agent's key")]
    Mismatch,
}

/// Signs the exact bytes that will be sent and stored; returns the header value.
pub fn sign(key: &Ed25519KeyPair, body: &[u8]) -> String {
    let sig = key.sign(body);
    format!("{SIGNATURE_SCHEME}{}", B64.encode(sig.as_ref()))
}

/// Verifies a header value made by [`sign`] against a raw 32-byte Ed25519 public key.
pub fn verify(public_key: &[u8], body: &[u8], header: &str) -> Result<(), SignatureError> {
    let encoded = header.trim().strip_prefix(SIGNATURE_SCHEME).ok_or(SignatureError::Malformed)?;
    let sig = B64.decode(encoded).map_err(|_| SignatureError::Malformed)?;
    if sig.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(body, &sig)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn signature_covers_every_byte() {
        let k = key();
        let body = br#"{"agent_id":"a","seq":1}"#;
        let header = sign(&k, body);
        let pk = k.public_key().as_ref();
        assert_eq!(verify(pk, body, &header), Ok(()));
        let mut tampered = body.to_vec();
        tampered[3] ^= 1;
        assert_eq!(verify(pk, &tampered, &header), Err(SignatureError::Mismatch));
        assert_eq!(verify(key().public_key().as_ref(), body, &header), Err(SignatureError::Mismatch));
        assert_eq!(verify(pk, body, "rsa:AAAA"), Err(SignatureError::Malformed));
        assert_eq!(verify(pk, body, "ed25519:!!"), Err(SignatureError::Malformed));
    }

    #[test]
    fn digest_ignores_collection_time_and_uptime_only() {
        let mut a = Facts::default();
        a.host.hostname = "pc-01".into();
        a.host.uptime_seconds = Some(10);
        let mut b = a.clone();
        b.collected_at = Timestamp::now();
        b.host.uptime_seconds = Some(99);
        assert_eq!(facts_digest(&a), facts_digest(&b));
        b.firewall.inbound_default_deny = true;
        assert_ne!(facts_digest(&a), facts_digest(&b));
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn heartbeat_omits_facts_on_the_wire() {
        let r = Report {
            agent_id: "a".into(),
            seq: 7,
            collected_at: Timestamp::from_unix(0).unwrap(),
            agent_version: "0.1.0".into(),
            policy_digest: "p".into(),
            facts_digest: "f".into(),
            facts: None,
            evaluation: None,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("facts\":"), "{json}");
        assert!(r.is_heartbeat());
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<Report>(&json.replace("\"seq\"", "\"bogus\":1,\"seq\"")).is_err());
    }
}
