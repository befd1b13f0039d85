//! Dashboard accounts: created, disabled and given new passwords from the
//! command line, each change audited (`ObjectKind::User`, the object without
//! its hash). Passwords are stored as Argon2id PHC strings.

use super::Role;
use crate::audit::{self, Entry, ObjectKind};
use crate::register::Caller;
use crate::store::{Store, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use serde_json::{Value, json};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use std::sync::OnceLock;

pub const MIN_PASSWORD_CHARS: usize = 12;
/// Argon2 hashes whatever it is given; a bound keeps a login request cheap to refuse.
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// `{field}: {message}`, the field named as the CLI option.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        UserError::Store(e.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> UserError {
    UserError::Invalid {
        field,
        message: message.into(),
    }
}

/// An account as listed; never carries the hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// Code, name and path of its unit; `None` for a central administrator.
    pub org_unit: Option<(String, String, String)>,
    pub created_at: i64,
    pub disabled: bool,
}

impl User {
    pub fn json(&self) -> Value {
        json!({
            "username": self.username,
            "role": self.role.as_str(),
            "org_unit": self.org_unit.as_ref().map(|u| &u.0),
            "disabled": self.disabled,
        })
    }

    pub fn scope(&self) -> Option<String> {
        self.org_unit.as_ref().map(|u| u.2.clone())
    }

    /// The audit path: the unit's subtree, or `/` (whole-tree readers only) for central accounts.
    fn path(&self) -> String {
        self.scope().unwrap_or_else(|| "/".into())
    }
}

/// Lower-case ASCII letters, digits, `.`, `_` and `-`, 2 to 64 of them.
pub fn normalize_username(s: &str) -> Result<String, UserError> {
    let u = s.trim().to_ascii_lowercase();
    if u.len() < 2 || u.len() > 64 {
        return Err(invalid("username", format!("{u:?} must be 2 to 64 characters long")));
    }
    if !u
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(invalid(
            "username",
            format!("{u:?} may contain only letters a-z, digits, '.', '_' and '-'"),
        ));
    }
    Ok(u)
}

/// Refuses passwords a guesser would find soon.
pub fn check_password(username: &str, password: &str) -> Result<(), UserError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!(
                "too short: it has {n} characters and needs at least {MIN_PASSWORD_CHARS}; a phrase of several words is easiest to remember"
            ),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(invalid("password", format!("longer than {MAX_PASSWORD_CHARS} characters")));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(invalid("password", "is one character repeated"));
    }
    if password.to_lowercase().contains(username) {
        return Err(invalid("password", "contains the username"));
    }
    Ok(())
}

/// An Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a random salt.
pub fn hash_password(password: &str) -> String {
    use ring::rand::SecureRandom as _;
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .expect("the operating system's random generator");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 with its default parameters")
        .to_string()
}

/// Whether the password matches the PHC string; a malformed string never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash no password matches, verified against for unknown and disabled
/// accounts so that they take as long to refuse as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&super::random_token()))
}

const COLUMNS: &str = "u.id, u.username, u.role, u.created_at, u.disabled, u.password_hash, o.code, o.name, o.path";

fn user_from(r: &AnyRow) -> Result<(User, String), UserError> {
    let role: String = r.try_get("role")?;
    let code: Option<String> = r.try_get("code")?;
    let unit = match code {
        Some(c) => Some((c, r.try_get("name")?, r.try_get("path")?)),
        None => None,
    };
    Ok((
        User {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            role: Role::parse(&role).ok_or_else(|| invalid("role", format!("unknown role {role:?} in the database")))?,
            org_unit: unit,
            created_at: r.try_get("created_at")?,
            disabled: r.try_get::<i16, _>("disabled")? != 0,
        },
        r.try_get("password_hash")?,
    ))
}

/// The account and its hash, disabled or not.
pub async fn find(store: &Store, username: &str) -> Result<Option<(User, String)>, UserError> {
    let sql = format!("SELECT {COLUMNS} FROM users u LEFT JOIN org_units o ON o.id = u.org_unit_id WHERE u.username = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(username)
        .fetch_optional(store.pool())
        .await?;
    row.as_ref().map(user_from).transpose()
}

pub async fn list(store: &Store) -> Result<Vec<User>, UserError> {
    let sql = format!("SELECT {COLUMNS} FROM users u LEFT JOIN org_units o ON o.id = u.org_unit_id ORDER BY u.username");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(store.pool()).await?;
    rows.iter().map(|r| user_from(r).map(|(u, _)| u)).collect()
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub role: Role,
    pub org_unit: Option<&'a str>,
    pub password: &'a str,
}

pub async fn create(store: &Store, caller: &Caller, new: &NewUser<'_>, now: i64) -> Result<User, UserError> {
    let username = normalize_username(new.username)?;
    let unit = match (new.role.scoped(), new.org_unit) {
        (true, None) => {
            return Err(invalid(
                "org-unit",
                format!("the role {} needs --org-unit (the subtree it works on)", new.role.as_str()),
            ));
        }
        (false, Some(_)) => {
            return Err(invalid(
                "org-unit",
                "a central administrator has the whole tree; leave --org-unit out",
            ));
        }
        (_, None) => None,
        (_, Some(code)) => {
            let u = store
                .org_unit(code)
                .await?
                .ok_or_else(|| UserError::NotFound(format!("org-unit: no org unit {code}")))?;
            if u.retired_at.is_some() {
                return Err(UserError::Conflict(format!("org-unit: {code} is retired")));
            }
            if !caller.allows(&u.path) {
                return Err(UserError::Invalid {
                    field: "org-unit",
                    message: format!("{code} is outside the caller's org unit"),
                });
            }
            Some(u)
        }
    };
    check_password(&username, new.password)?;
    let hash = {
        let pw = new.password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| invalid("password", format!("hashing failed: {e}")))?
    };
    let mut tx = store.pool().begin().await?;
    let exists = sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(&username)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(UserError::Conflict(format!("username: {username} already exists")));
    }
    let row = sqlx::query(
        "INSERT INTO users (username, role, org_unit_id, password_hash, created_at, disabled) VALUES ($1, $2, $3, $4, $5, 0) RETURNING id",
    )
    .bind(&username)
    .bind(new.role.as_str())
    .bind(unit.as_ref().map(|u| u.id))
    .bind(&hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let user = User {
        id: row.try_get("id")?,
        username: username.clone(),
        role: new.role,
        org_unit: unit.map(|u| (u.code, u.name, u.path)),
        created_at: now,
        disabled: false,
    };
    let entry = Entry {
        action: "create",
        kind: ObjectKind::User,
        code: &username,
        path: &user.path(),
        path_before: None,
        before: None,
        after: Some(user.json()),
    };
    audit::record(&mut tx, now, &caller.actor, &entry).await?;
    tx.commit().await?;
    Ok(user)
}

async fn existing(store: &Store, caller: &Caller, username: &str) -> Result<User, UserError> {
    let username = normalize_username(username)?;
    let (user, _) = find(store, &username)
        .await?
        .ok_or_else(|| UserError::NotFound(format!("username: no user {username}")))?;
    if !caller.allows(&user.path()) {
        return Err(UserError::NotFound(format!("username: no user {username}")));
    }
    Ok(user)
}

/// Disables the account and ends its sessions. Disabling twice is refused.
pub async fn disable(store: &Store, caller: &Caller, username: &str, now: i64) -> Result<User, UserError> {
    let user = existing(store, caller, username).await?;
    if user.disabled {
        return Err(UserError::Conflict(format!("username: {} is already disabled", user.username)));
    }
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    let after = User {
        disabled: true,
        ..user.clone()
    };
    let entry = Entry {
        action: "disable",
        kind: ObjectKind::User,
        code: &user.username,
        path: &user.path(),
        path_before: None,
        before: Some(user.json()),
        after: Some(after.json()),
    };
    audit::record(&mut tx, now, &caller.actor, &entry).await?;
    tx.commit().await?;
    Ok(after)
}

/// Sets a new password, ends the account's sessions and lifts its login locks.
pub async fn set_password(store: &Store, caller: &Caller, username: &str, password: &str, now: i64) -> Result<User, UserError> {
    let user = existing(store, caller, username).await?;
    check_password(&user.username, password)?;
    let hash = {
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| invalid("password", format!("hashing failed: {e}")))?
    };
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM login_attempts WHERE username = $1")
        .bind(&user.username)
        .execute(&mut *tx)
        .await?;
    // The record says that the password changed, never what it is or its hash.
    let entry = Entry {
        action: "password",
        kind: ObjectKind::User,
        code: &user.username,
        path: &user.path(),
        path_before: None,
        before: Some(user.json()),
        after: Some(json!({"username": user.username, "password_changed": true})),
    };
    audit::record(&mut tx, now, &caller.actor, &entry).await?;
    tx.commit().await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_passwords() {
        assert!(check_password("lan", "short").unwrap_err().to_string().contains("at least 12"));
        assert!(check_password("lan", "aaaaaaaaaaaaaaaa").is_err());
        assert!(check_password("lan", "my-name-is-LAN-ok").is_err());
        check_password("lan", "ngựa phi đường xa").unwrap();
        let h = hash_password("ngựa phi đường xa");
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify_password("ngựa phi đường xa", &h));
        assert!(!verify_password("ngựa phi đường xa!", &h));
        assert!(!verify_password("anything", "not a hash"));
        assert!(!verify_password("", decoy_hash()));
        assert_ne!(hash_password("ngựa phi đường xa"), h, "salted");
    }

    #[test]
    fn auth_usernames() {
        assert_eq!(normalize_username(" Lan.Nguyen ").unwrap(), "lan.nguyen");
        assert!(normalize_username("a").is_err());
        assert!(normalize_username("lan nguyen").unwrap_err().to_string().starts_with("username:"));
    }
}
