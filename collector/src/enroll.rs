//! Enrollment tokens and the exchange that turns one into an agent certificate.

use crate::store::{Store, StoreError, TokenRefusal};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use khien_proto::Timestamp;
use khien_proto::enroll::{EnrollRequest, EnrollResponse, Token};
use khien_proto::report::sha256_hex;
use khien_tls::Authority;
use ring::rand::{SecureRandom, SystemRandom};

/// Agent certificates last a year; the agent renews before expiry (later work).
pub const AGENT_CERT_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Refused(#[from] TokenRefusal),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// 32 random bytes, base64url.
pub fn random_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Invalid("the system random number generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Creates a token: stores the hash of its secret, returns the text to hand out.
pub async fn create_token(
    store: &Store,
    authority: &Authority,
    url: &str,
    org_unit: &str,
    systems: &[String],
    uses: u32,
    valid_for: time::Duration,
) -> Result<String, StoreError> {
    let unit = store
        .org_unit(org_unit)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("org unit {org_unit} does not exist (load a seed first)")))?;
    if unit.retired_at.is_some() {
        return Err(StoreError::Invalid(format!("org unit {org_unit} has been retired")));
    }
    for code in systems {
        let s = store
            .system(code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("system {code} does not exist")))?;
        if s.retired_at.is_some() {
            return Err(StoreError::Invalid(format!("system {code} has been retired")));
        }
        let owner = store.org_unit_by_id(s.org_unit_id).await?.map(|u| u.path).unwrap_or_default();
        // A unit may enroll machines into its own systems and those of units above it.
        if !unit.path.starts_with(&owner) && !owner.starts_with(&unit.path) {
            return Err(StoreError::Invalid(format!(
                "system {code} belongs to another branch of the tree than {org_unit}"
            )));
        }
    }
    if uses == 0 {
        return Err(StoreError::Invalid("a token must allow at least one use".into()));
    }
    let secret = random_secret()?;
    let now = Timestamp::now();
    let expires = Timestamp::from(now.inner() + valid_for);
    store
        .insert_token(
            &sha256_hex(secret.as_bytes()),
            unit.id,
            systems,
            i64::from(uses),
            expires.unix_millis(),
            now.unix_millis(),
        )
        .await?;
    Ok(Token {
        url: url.to_string(),
        ca: authority.pin(),
        secret,
        org_unit: unit.code,
        systems: systems.to_vec(),
        expires_at: expires.truncate_to_seconds(),
        uses,
    }
    .encode())
}

/// Checks the token, issues the certificate and records the endpoint, atomically.
pub async fn enroll(store: &Store, authority: &Authority, req: &EnrollRequest) -> Result<EnrollResponse, EnrollError> {
    let key_ok = req.signing_key.len() == 64 && req.signing_key.bytes().all(|b| b.is_ascii_hexdigit());
    if !key_ok {
        return Err(EnrollError::BadRequest(
            "signing_key must be a raw Ed25519 public key in hex (64 digits)".into(),
        ));
    }
    if req.hostname.len() > 253 {
        return Err(EnrollError::BadRequest("hostname is longer than 253 characters".into()));
    }
    let now = Timestamp::now().unix_millis();
    let mut tx = store.pool().begin().await.map_err(StoreError::from)?;
    let grant = store.consume_token(&mut tx, &sha256_hex(req.secret.as_bytes()), now).await??;
    // The unit may have been retired since the token was made; the use taken is rolled back.
    if grant.org_unit.retired_at.is_some() {
        return Err(TokenRefusal::UnitRetired(grant.org_unit.code).into());
    }
    let agent_id = uuid::Uuid::now_v7().to_string();
    let cert = authority
        .issue_agent(&req.csr, &agent_id, AGENT_CERT_DAYS)
        .map_err(|e| EnrollError::BadRequest(e.to_string()))?;
    store
        .insert_endpoint(
            &mut tx,
            &agent_id,
            grant.org_unit.id,
            &req.hostname,
            &req.signing_key.to_ascii_lowercase(),
            &cert.serial,
            cert.not_after,
            &grant.systems,
            now,
        )
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(agent = %agent_id, org_unit = %grant.org_unit.code, hostname = %req.hostname, "Agent enrolled.");
    Ok(EnrollResponse {
        agent_id,
        certificate: cert.cert_pem,
        ca: authority.cert_pem().to_string(),
        org_unit: grant.org_unit.code,
        systems: grant.systems,
    })
}

/// Creates an API key, optionally scoped to an org unit's subtree; returns
/// its id (what the audit log names) and the key itself, shown only once.
pub async fn create_api_key(store: &Store, org_unit: Option<&str>) -> Result<(i64, String), StoreError> {
    let unit_id = match org_unit {
        Some(code) => {
            let unit = store
                .org_unit(code)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("org unit {code} does not exist")))?;
            if unit.retired_at.is_some() {
                return Err(StoreError::Invalid(format!("org unit {code} has been retired")));
            }
            Some(unit.id)
        }
        None => None,
    };
    let key = format!("khk_{}", random_secret()?);
    let id = store
        .insert_api_key(&sha256_hex(key.as_bytes()), unit_id, Timestamp::now().unix_millis())
        .await?;
    Ok((id, key))
}
