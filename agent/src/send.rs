//! Sending spooled reports to the collector over mutual TLS.
//!
//! Errors come in two classes (ARCHITECTURE.md decision 7): retryable ones
//! (network, TLS, timeouts, 5xx, 429) keep the report in the spool and back
//! off; permanent ones (other 4xx: the collector will never accept this
//! report) move it to quarantine so that it does not block those behind it.

use crate::enroll::error_chain;
use crate::spool::Entry;
use crate::state::{StateDir, StateError};
use khien_proto::enroll::{Ack, ApiErrorBody};
use khien_proto::report::SIGNATURE_HEADER;
use std::time::Duration;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SendError {
    #[error("{0} (will retry)")]
    Retryable(String),
    #[error("{0} (report quarantined)")]
    Permanent(String),
}

pub struct Sender {
    client: reqwest::Client,
    url: String,
}

impl Sender {
    pub fn new(dir: &StateDir) -> Result<Sender, StateError> {
        let enrollment = dir.enrollment()?;
        let (ca, cert, key) = dir.tls_identity()?;
        let tls =
            khien_tls::client_config(&ca, Some((&cert, &key))).map_err(|e| StateError::Corrupt(dir.file("tls.crt"), e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| StateError::Corrupt(dir.file("tls.crt"), e.to_string()))?;
        Ok(Sender {
            client,
            url: format!("{}/api/v1/reports", enrollment.collector_url.trim_end_matches('/')),
        })
    }

    pub async fn send(&self, entry: &Entry) -> Result<Ack, SendError> {
        let mut req = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(entry.body.clone());
        if let Some(sig) = &entry.signature {
            req = req.header(SIGNATURE_HEADER, sig);
        }
        let resp = req.send().await.map_err(|e| SendError::Retryable(error_chain(&e)))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| SendError::Retryable(error_chain(&e)))?;
        classify(status.as_u16(), &body, entry.seq)
    }
}

/// Turns an HTTP answer into an acknowledgement or an error of the right class.
pub fn classify(status: u16, body: &[u8], seq: u64) -> Result<Ack, SendError> {
    match status {
        200..=299 => Ok(serde_json::from_slice(body).unwrap_or(Ack {
            seq,
            outcome: "stored".into(),
            need_facts: false,
        })),
        _ => {
            let message = serde_json::from_slice::<ApiErrorBody>(body)
                .map(|b| format!("{}: {}", b.error, b.message))
                .unwrap_or_else(|_| String::from_utf8_lossy(body).chars().take(300).collect());
            let text = format!("collector answered {status}: {message}");
            if status == 429 || status >= 500 {
                Err(SendError::Retryable(text))
            } else {
                Err(SendError::Permanent(text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classes() {
        assert!(
            classify(200, br#"{"seq":4,"outcome":"stored","need_facts":true}"#, 4)
                .unwrap()
                .need_facts
        );
        assert_eq!(classify(201, b"", 9).unwrap().seq, 9);
        assert!(matches!(classify(503, b"", 1), Err(SendError::Retryable(_))));
        assert!(matches!(classify(429, b"", 1), Err(SendError::Retryable(_))));
        let e = classify(409, br#"{"error":"replay","message":"old"}"#, 1).unwrap_err();
        assert_eq!(e, SendError::Permanent("collector answered 409: replay: old".into()));
        assert!(matches!(classify(413, b"too large", 1), Err(SendError::Permanent(_))));
    }
}
