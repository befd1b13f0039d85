//! Enrollment tokens (made, listed and revoked within the caller's subtree,
//! each change audited) and the exchange that turns one into an agent
//! certificate.

use crate::audit::{self, Entry, ObjectKind};
use crate::register::Caller;
use crate::store::{Store, StoreError, TokenRefusal};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use khien_proto::Timestamp;
use khien_proto::enroll::{EnrollRequest, EnrollResponse, Token};
use khien_proto::report::sha256_hex;
use khien_tls::Authority;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

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

/// The longest a token may stay valid: the CLI's `--expires` allows a year too.
pub const MAX_VALID_DAYS: i64 = 366;

/// Why a token cannot be made, listed or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("org unit {0} does not exist")]
    UnknownUnit(String),
    #[error("org unit {0} has been retired")]
    RetiredUnit(String),
    #[error("system {0} does not exist")]
    UnknownSystem(String),
    #[error("system {0} has been retired")]
    RetiredSystem(String),
    #[error("system {system} belongs to another branch of the tree than {org_unit}")]
    OtherBranch { system: String, org_unit: String },
    #[error("a token must allow at least one use")]
    NoUses,
    #[error("a token must stay valid for more than zero and at most {MAX_VALID_DAYS} days")]
    Validity,
    #[error("no enrollment token {0}")]
    NotFound(i64),
    #[error("enrollment token {id} was already revoked at {at}")]
    AlreadyRevoked { id: i64, at: String },
    /// Outside the caller's subtree.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        TokenError::Store(StoreError::Db(e))
    }
}

/// Where a token stands, derived from its row at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    Active,
    UsedUp,
    Expired,
    Revoked,
}

impl TokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::UsedUp => "used_up",
            TokenState::Expired => "expired",
            TokenState::Revoked => "revoked",
        }
    }

    /// A revocation says most (someone stopped it), then a token spent
    /// before it expired; the order enrollment refuses in is not the point here.
    fn of(revoked: bool, used: i64, max_uses: i64, expires_at: i64, now: i64) -> TokenState {
        if revoked {
            TokenState::Revoked
        } else if used >= max_uses {
            TokenState::UsedUp
        } else if expires_at <= now {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }
}

/// A stored token as listings show it: everything but its secret, which is
/// not stored (only its SHA-256) and so can be shown only once, at creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub org_unit: String,
    pub org_unit_name: String,
    pub org_unit_path: String,
    pub systems: Vec<String>,
    pub max_uses: i64,
    pub used: i64,
    /// Unix ms.
    pub expires_at: i64,
    pub created_at: i64,
    /// The audit log's actor; empty for tokens made before creators were recorded.
    pub created_by: String,
    pub revoked_at: Option<i64>,
    pub state: TokenState,
}

fn iso(ms: i64) -> Option<String> {
    Timestamp::from_unix_millis(ms).map(|t| t.to_string())
}

impl TokenInfo {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "org_unit": self.org_unit,
            "org_unit_name": self.org_unit_name,
            "org_unit_path": self.org_unit_path,
            "systems": self.systems,
            "max_uses": self.max_uses,
            "used": self.used,
            "expires_at": iso(self.expires_at),
            "created_at": iso(self.created_at),
            "created_by": if self.created_by.is_empty() { Value::Null } else { json!(self.created_by) },
            "revoked_at": self.revoked_at.and_then(iso),
            "state": self.state.as_str(),
        })
    }

    /// What the audit log keeps: no state (it depends on when it is read).
    fn record_json(&self) -> Value {
        json!({
            "org_unit": self.org_unit,
            "systems": self.systems,
            "max_uses": self.max_uses,
            "used": self.used,
            "expires_at": iso(self.expires_at),
            "created_by": self.created_by,
            "revoked": self.state == TokenState::Revoked,
            "revoked_at": self.revoked_at.and_then(iso),
        })
    }
}

const TOKEN_COLUMNS: &str = "t.id, t.systems, t.max_uses, t.used, t.expires_at, t.revoked, t.revoked_at, t.created_at, t.created_by,
     o.code, o.name, o.path";

fn token_from(r: &AnyRow, now: i64) -> Result<TokenInfo, StoreError> {
    let (used, max_uses, expires_at): (i64, i64, i64) = (r.try_get("used")?, r.try_get("max_uses")?, r.try_get("expires_at")?);
    let revoked = r.try_get::<i16, _>("revoked")? != 0;
    Ok(TokenInfo {
        id: r.try_get("id")?,
        org_unit: r.try_get("code")?,
        org_unit_name: r.try_get("name")?,
        org_unit_path: r.try_get("path")?,
        systems: serde_json::from_str(&r.try_get::<String, _>("systems")?).unwrap_or_default(),
        max_uses,
        used,
        expires_at,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        revoked_at: r.try_get("revoked_at")?,
        state: TokenState::of(revoked, used, max_uses, expires_at, now),
    })
}

async fn fetch_token(conn: &mut AnyConnection, id: i64, now: i64) -> Result<Option<TokenInfo>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM enroll_tokens t JOIN org_units o ON o.id = t.org_unit_id WHERE t.id = $1");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.map(|r| token_from(&r, now)).transpose()
}

fn check_scope(caller: &Caller, path: &str, what: &str) -> Result<(), TokenError> {
    if caller.allows(path) {
        Ok(())
    } else {
        Err(TokenError::Forbidden(format!("{what} is outside the org unit of {}", caller.actor)))
    }
}

/// The tokens of the units under `scope_path` (every token when `None`),
/// newest first, in every state.
pub async fn list_tokens(store: &Store, scope_path: Option<&str>, now: i64) -> Result<Vec<TokenInfo>, StoreError> {
    // A scope that is no path (an account that lost its unit) sees nothing:
    // it must not widen, nor reach the database as a pattern.
    if scope_path.is_some_and(|p| !p.starts_with('/')) {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM enroll_tokens t JOIN org_units o ON o.id = t.org_unit_id
         WHERE $1 = '' OR o.path LIKE $1 ORDER BY t.id DESC"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(scope_path.map(|p| format!("{p}%")).unwrap_or_default())
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(|r| token_from(r, now)).collect()
}

/// What a new token is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    /// Org unit code.
    pub org_unit: String,
    /// System codes the enrolled machines join.
    pub systems: Vec<String>,
    pub uses: u32,
    pub valid_for: time::Duration,
}

/// A token just made: the text to hand out, shown this once, and its row.
#[derive(Clone, Debug)]
pub struct CreatedToken {
    pub text: String,
    pub info: TokenInfo,
}

/// Creates a token in the caller's subtree: stores the hash of its secret
/// and its creator, audited; returns the text to hand out.
pub async fn create_token(
    store: &Store,
    authority: &Authority,
    url: &str,
    caller: &Caller,
    new: &NewToken,
    now: i64,
) -> Result<CreatedToken, TokenError> {
    let code = new.org_unit.as_str();
    let unit = store
        .org_unit(code)
        .await?
        .ok_or_else(|| TokenError::UnknownUnit(code.to_string()))?;
    check_scope(caller, &unit.path, &format!("org unit {code}"))?;
    if unit.retired_at.is_some() {
        return Err(TokenError::RetiredUnit(code.to_string()));
    }
    for system in &new.systems {
        let s = store
            .system(system)
            .await?
            .ok_or_else(|| TokenError::UnknownSystem(system.clone()))?;
        if s.retired_at.is_some() {
            return Err(TokenError::RetiredSystem(system.clone()));
        }
        let owner = store.org_unit_by_id(s.org_unit_id).await?.map(|u| u.path).unwrap_or_default();
        // A unit may enroll machines into its own systems and those of units above it.
        if !unit.path.starts_with(&owner) && !owner.starts_with(&unit.path) {
            return Err(TokenError::OtherBranch {
                system: system.clone(),
                org_unit: code.to_string(),
            });
        }
    }
    if new.uses == 0 {
        return Err(TokenError::NoUses);
    }
    if new.valid_for <= time::Duration::ZERO || new.valid_for > time::Duration::days(MAX_VALID_DAYS) {
        return Err(TokenError::Validity);
    }
    let secret = random_secret()?;
    // Whole seconds: the token's text carries seconds, and the row must agree with it.
    let valid_ms = i64::try_from(new.valid_for.whole_milliseconds()).unwrap_or(i64::MAX);
    let expires = Timestamp::from_unix_millis(now.saturating_add(valid_ms))
        .ok_or(TokenError::Validity)?
        .truncate_to_seconds();
    let mut tx = store.begin_write().await?;
    let id = Store::insert_token(
        &mut tx,
        &sha256_hex(secret.as_bytes()),
        unit.id,
        &new.systems,
        i64::from(new.uses),
        expires.unix_millis(),
        &caller.actor,
        now,
    )
    .await?;
    let info = TokenInfo {
        id,
        org_unit: unit.code.clone(),
        org_unit_name: unit.name.clone(),
        org_unit_path: unit.path.clone(),
        systems: new.systems.clone(),
        max_uses: i64::from(new.uses),
        used: 0,
        expires_at: expires.unix_millis(),
        created_at: now,
        created_by: caller.actor.clone(),
        revoked_at: None,
        state: TokenState::Active,
    };
    let entry = Entry {
        action: "create",
        kind: ObjectKind::EnrollToken,
        code: &id.to_string(),
        path: &unit.path,
        path_before: None,
        before: None,
        after: Some(info.record_json()),
    };
    audit::record(&mut tx, now, &caller.actor, &entry).await?;
    tx.commit().await?;
    let text = Token {
        url: url.to_string(),
        ca: authority.pin(),
        secret,
        org_unit: unit.code,
        systems: new.systems.clone(),
        expires_at: expires,
        uses: new.uses,
    }
    .encode();
    Ok(CreatedToken { text, info })
}

/// Revokes a token of the caller's subtree, audited: no machine enrolls
/// with it from the moment this commits. Machines enrolled with it stay.
pub async fn revoke_token(store: &Store, caller: &Caller, id: i64, now: i64) -> Result<TokenInfo, TokenError> {
    let mut tx = store.begin_write().await?;
    let before = fetch_token(&mut tx, id, now).await?.ok_or(TokenError::NotFound(id))?;
    check_scope(caller, &before.org_unit_path, &format!("enrollment token {id}"))?;
    if before.state == TokenState::Revoked {
        let at = before.revoked_at.and_then(iso).unwrap_or_else(|| "an unrecorded time".into());
        return Err(TokenError::AlreadyRevoked { id, at });
    }
    sqlx::query("UPDATE enroll_tokens SET revoked = 1, revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let after = TokenInfo {
        revoked_at: Some(now),
        state: TokenState::Revoked,
        ..before.clone()
    };
    let entry = Entry {
        action: "revoke",
        kind: ObjectKind::EnrollToken,
        code: &id.to_string(),
        path: &after.org_unit_path,
        path_before: None,
        before: Some(before.record_json()),
        after: Some(after.record_json()),
    };
    audit::record(&mut tx, now, &caller.actor, &entry).await?;
    tx.commit().await?;
    Ok(after)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{Change, DossierChanges, Frameworks, NewSystem, NewUnit};

    fn caller(actor: &str, scope: Option<&str>) -> Caller {
        Caller {
            actor: actor.into(),
            scope: scope.map(Into::into),
        }
    }

    /// TW with DLK (a system) and HN below it.
    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .unwrap();
        let fw = Frameworks::new([("tcvn-14423-2026".to_string(), vec![1, 2, 3, 4, 5])]);
        let cli = caller("cli:test", None);
        let mut c = Change::begin(&store, &cli, &fw).await.unwrap();
        for (code, parent) in [("TW", None), ("DLK", Some("TW")), ("HN", Some("TW"))] {
            let unit = NewUnit {
                code: code.into(),
                parent: parent.map(Into::into),
                name: format!("Unit {code}"),
                default_level: 2,
            };
            c.create_org_unit(&unit).await.unwrap();
        }
        c.create_system(&NewSystem {
            code: "DLK-S".into(),
            org_unit: "DLK".into(),
            name: "S".into(),
            level: 2,
            framework: "tcvn-14423-2026".into(),
            dossier: DossierChanges::default(),
        })
        .await
        .unwrap();
        c.commit().await.unwrap();
        (dir, store)
    }

    fn new(unit: &str, systems: &[&str], uses: u32) -> NewToken {
        NewToken {
            org_unit: unit.into(),
            systems: systems.iter().map(|s| s.to_string()).collect(),
            uses,
            valid_for: time::Duration::hours(72),
        }
    }

    #[test]
    fn token_states() {
        use TokenState::*;
        assert_eq!(TokenState::of(false, 0, 1, 10, 5), Active);
        assert_eq!(TokenState::of(false, 1, 1, 10, 5), UsedUp);
        assert_eq!(TokenState::of(false, 0, 1, 5, 5), Expired);
        assert_eq!(TokenState::of(false, 1, 1, 5, 5), UsedUp, "spent, then expired");
        assert_eq!(TokenState::of(true, 1, 1, 5, 5), Revoked);
        assert_eq!(Revoked.as_str(), "revoked");
    }

    #[tokio::test]
    async fn tokens_are_made_listed_and_revoked_within_the_scope_and_audited() {
        let (_dir, store) = store().await;
        let ca = Authority::generate("Khiên test CA").unwrap();
        let now = Timestamp::now().unix_millis();
        let url = "https://collector.example:8443";
        let central = caller("user:root", None);
        let dlk = caller("user:dlk-admin", Some("/TW/DLK/"));
        let hn = caller("apikey:3", Some("/TW/HN/"));

        let made = create_token(&store, &ca, url, &dlk, &new("DLK", &["DLK-S"], 5), now).await.unwrap();
        let token = Token::decode(&made.text).unwrap();
        assert_eq!((token.url.as_str(), token.org_unit.as_str(), token.uses), (url, "DLK", 5));
        assert_eq!(token.ca, ca.pin());
        assert_eq!(token.expires_at.unix_millis(), made.info.expires_at, "the row and the text agree");
        assert_eq!(made.info.created_by, "user:dlk-admin");
        let other = create_token(&store, &ca, url, &hn, &new("HN", &[], 1), now).await.unwrap();

        // Scope: a subtree sees and changes its own tokens only.
        let e = create_token(&store, &ca, url, &hn, &new("DLK", &[], 1), now).await.unwrap_err();
        assert!(matches!(e, TokenError::Forbidden(_)), "{e}");
        assert_eq!(e.to_string(), "org unit DLK is outside the org unit of apikey:3");
        let ids = |l: Vec<TokenInfo>| l.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(list_tokens(&store, Some("/TW/DLK/"), now).await.unwrap()), [made.info.id]);
        assert_eq!(ids(list_tokens(&store, None, now).await.unwrap()), [other.info.id, made.info.id]);
        assert!(
            list_tokens(&store, Some("\u{0}"), now).await.unwrap().is_empty(),
            "no unit, no tokens"
        );
        let listed = &list_tokens(&store, Some("/TW/DLK/"), now).await.unwrap()[0];
        assert_eq!(listed, &made.info);
        assert_eq!(listed.json()["state"], "active");
        let e = revoke_token(&store, &hn, made.info.id, now).await.unwrap_err();
        assert!(matches!(e, TokenError::Forbidden(_)), "{e}");

        // Refusals name what is wrong.
        for (n, expected) in [
            (new("NOPE", &[], 1), "org unit NOPE does not exist"),
            (new("DLK", &["NOPE"], 1), "system NOPE does not exist"),
            (
                new("HN", &["DLK-S"], 1),
                "system DLK-S belongs to another branch of the tree than HN",
            ),
            (new("DLK", &[], 0), "a token must allow at least one use"),
        ] {
            let e = create_token(&store, &ca, url, &central, &n, now).await.unwrap_err();
            assert_eq!(e.to_string(), expected);
        }
        let long = NewToken {
            valid_for: time::Duration::days(MAX_VALID_DAYS + 1),
            ..new("DLK", &[], 1)
        };
        assert!(matches!(
            create_token(&store, &ca, url, &central, &long, now).await,
            Err(TokenError::Validity)
        ));

        // Revocation: once, then a clear error; enrollment refuses it.
        let r = revoke_token(&store, &dlk, made.info.id, now + 1).await.unwrap();
        assert_eq!((r.state, r.revoked_at), (TokenState::Revoked, Some(now + 1)));
        let e = revoke_token(&store, &central, made.info.id, now + 2).await.unwrap_err();
        assert!(matches!(e, TokenError::AlreadyRevoked { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("enrollment token {} was already revoked at ", made.info.id))
        );
        assert!(matches!(
            revoke_token(&store, &central, 999, now).await,
            Err(TokenError::NotFound(999))
        ));
        let mut tx = store.pool().begin().await.unwrap();
        let refused = store
            .consume_token(&mut tx, &sha256_hex(token.secret.as_bytes()), now + 3)
            .await
            .unwrap();
        assert_eq!(refused, Err(TokenRefusal::Revoked));
        drop(tx);

        // Creations and the revocation are in the audit log, without the secret.
        let log = crate::audit::since(&store, 0).await.unwrap();
        let mine: Vec<_> = log.iter().filter(|r| r.object_kind == "enroll_token").collect();
        let seen: Vec<_> = mine.iter().map(|r| (r.action.as_str(), r.actor.as_str())).collect();
        assert_eq!(
            seen,
            [("create", "user:dlk-admin"), ("create", "apikey:3"), ("revoke", "user:dlk-admin")]
        );
        assert_eq!(mine[2].object_code, made.info.id.to_string());
        assert_eq!(mine[2].path, "/TW/DLK/");
        assert!(mine[2].summary().contains("revoked: false → true"), "{}", mine[2].summary());
        for r in &mine {
            let text = r.json().to_string();
            assert!(!text.contains(&token.secret) && !text.contains(&sha256_hex(token.secret.as_bytes())));
        }
    }
}
