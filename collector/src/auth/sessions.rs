//! Dashboard sessions and login throttling. Times are explicit (`now`, unix
//! milliseconds) so that expiry is tested without waiting.
//!
//! The cookie carries a random token; the database keeps only its SHA-256,
//! so a copy of the database (a backup, a replica) logs nobody in. Failed
//! logins are counted in the database rather than in memory: a lock survives
//! a restart, and holds across several collectors sharing one PostgreSQL.

use super::users::{self, User};
use super::{Principal, random_token};
use crate::store::{Store, StoreError};
use khien_proto::report::sha256_hex;
use sqlx::Row as _;

/// A session ends after this long without a request…
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// …and this long after the login, whatever happens.
pub const ABSOLUTE_MS: i64 = 12 * 3600 * 1000;
/// `last_seen` is written at most this often: a page with several requests costs one write.
const TOUCH_MS: i64 = 60 * 1000;

/// Failures per (username, address) within `WINDOW_MS` that lock it…
pub const MAX_FAILURES: i64 = 5;
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// …for this long.
pub const LOCK_MS: i64 = 15 * 60 * 1000;

/// Whether a session created at `created_at` and last used at `last_seen` is still open at `now`.
pub fn live(created_at: i64, last_seen: i64, now: i64) -> bool {
    now < created_at + ABSOLUTE_MS && now < last_seen + IDLE_MS
}

/// A request's session: who, and the token its forms must carry.
#[derive(Clone, Debug)]
pub struct Session {
    pub principal: Principal,
    pub user: User,
    pub csrf: String,
}

/// Opens a session; returns the cookie's token (only its hash is stored) and the CSRF token.
pub async fn create(store: &Store, user_id: i64, now: i64) -> Result<(String, String), StoreError> {
    let token = random_token();
    let csrf = random_token();
    sqlx::query("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(sha256_hex(token.as_bytes()))
        .bind(user_id)
        .bind(&csrf)
        .bind(now)
        .bind(now + ABSOLUTE_MS)
        .bind(now)
        .execute(store.pool())
        .await?;
    Ok((token, csrf))
}

/// The open session of this token, its account enabled; notes the use.
/// An expired session is deleted.
pub async fn find(store: &Store, token: &str, now: i64) -> Result<Option<Session>, StoreError> {
    let id_hash = sha256_hex(token.as_bytes());
    let row = sqlx::query(
        "SELECT s.user_id, s.csrf_token, s.created_at, s.expires_at, s.last_seen, u.username
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND u.disabled = 0",
    )
    .bind(&id_hash)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (created, expires, last_seen): (i64, i64, i64) =
        (row.try_get("created_at")?, row.try_get("expires_at")?, row.try_get("last_seen")?);
    if !live(created, last_seen, now) || now >= expires {
        delete(store, token).await?;
        return Ok(None);
    }
    let username: String = row.try_get("username")?;
    let user = match users::find(store, &username).await {
        Ok(Some((u, _))) if !u.disabled => u,
        Ok(_) => return Ok(None),
        Err(users::UserError::Store(e)) => return Err(e),
        Err(e) => return Err(StoreError::Invalid(e.to_string())),
    };
    if now - last_seen >= TOUCH_MS {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(&id_hash)
            .execute(store.pool())
            .await?;
    }
    Ok(Some(Session {
        principal: Principal::user(user.id, &user.username, user.role, user.scope()),
        csrf: row.try_get("csrf_token")?,
        user,
    }))
}

/// Ends a session (logout, or the old one at a new login).
pub async fn delete(store: &Store, token: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(sha256_hex(token.as_bytes()))
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Drops sessions and login counts that can no longer matter.
pub async fn prune(store: &Store, now: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen <= $2")
        .bind(now)
        .bind(now - IDLE_MS)
        .execute(store.pool())
        .await?;
    sqlx::query("DELETE FROM login_attempts WHERE locked_until <= $1 AND first_failed <= $2")
        .bind(now)
        .bind(now - WINDOW_MS)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Until when logins of this username from this address are refused, if they are.
pub async fn locked_until(store: &Store, username: &str, remote: &str, now: i64) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT locked_until FROM login_attempts WHERE username = $1 AND remote = $2")
        .bind(username)
        .bind(remote)
        .fetch_optional(store.pool())
        .await?;
    let until: Option<i64> = row.map(|r| r.try_get("locked_until")).transpose()?;
    Ok(until.filter(|u| *u > now))
}

/// Counts a failure; the `MAX_FAILURES`th within the window locks. Returns
/// the failures counted in the current window.
pub async fn failed(store: &Store, username: &str, remote: &str, now: i64) -> Result<i64, StoreError> {
    // One statement: concurrent failures each count.
    let row = sqlx::query(
        "INSERT INTO login_attempts (username, remote, failures, first_failed, locked_until) VALUES ($1, $2, 1, $3, 0)
         ON CONFLICT (username, remote) DO UPDATE SET
           failures = CASE WHEN login_attempts.first_failed <= $4 THEN 1 ELSE login_attempts.failures + 1 END,
           first_failed = CASE WHEN login_attempts.first_failed <= $4 THEN $3 ELSE login_attempts.first_failed END
         RETURNING failures",
    )
    .bind(username)
    .bind(remote)
    .bind(now)
    .bind(now - WINDOW_MS)
    .fetch_one(store.pool())
    .await?;
    let failures: i64 = row.try_get("failures")?;
    if failures >= MAX_FAILURES {
        // The count starts again once the lock ends.
        sqlx::query("UPDATE login_attempts SET locked_until = $1, failures = 0, first_failed = $2 WHERE username = $3 AND remote = $4")
            .bind(now + LOCK_MS)
            .bind(now + LOCK_MS - WINDOW_MS)
            .bind(username)
            .bind(remote)
            .execute(store.pool())
            .await?;
    }
    Ok(failures)
}

/// A successful login forgets the failures from that address.
pub async fn succeeded(store: &Store, username: &str, remote: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_attempts WHERE username = $1 AND remote = $2")
        .bind(username)
        .bind(remote)
        .execute(store.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::auth::users::NewUser;
    use crate::register::{self, Caller, Frameworks, NewUnit};

    const T0: i64 = 1_780_000_000_000;

    #[test]
    fn auth_session_expiry() {
        assert!(live(T0, T0, T0));
        assert!(live(T0, T0, T0 + IDLE_MS - 1));
        assert!(!live(T0, T0, T0 + IDLE_MS), "idle for 30 minutes");
        // Kept busy, it still ends 12 h after the login.
        assert!(live(T0, T0 + ABSOLUTE_MS - 1000, T0 + ABSOLUTE_MS - 1));
        assert!(!live(T0, T0 + ABSOLUTE_MS - 1000, T0 + ABSOLUTE_MS));
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .unwrap();
        let root = Caller::seed("test");
        register::apply(&store, &root, &Frameworks::default(), async |c| {
            for (code, parent) in [("TW", None), ("DLK", Some("TW")), ("HN", Some("TW"))] {
                c.create_org_unit(&NewUnit {
                    code: code.into(),
                    parent: parent.map(Into::into),
                    name: code.into(),
                    default_level: 2,
                })
                .await?;
            }
            Ok(())
        })
        .await
        .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn auth_sessions_in_the_store() {
        let (_dir, store) = store().await;
        let cli = Caller::seed("test");
        let new = NewUser {
            username: "Lan",
            role: Role::UnitAdmin,
            org_unit: Some("HN"),
            password: "ngựa phi đường xa",
        };
        let user = users::create(&store, &cli, &new, T0).await.unwrap();
        assert_eq!(user.username, "lan");
        let dup = users::create(&store, &cli, &new, T0).await.unwrap_err();
        assert!(dup.to_string().contains("already exists"), "{dup}");
        let no_unit = NewUser { org_unit: None, ..new };
        assert!(
            users::create(&store, &cli, &no_unit, T0)
                .await
                .unwrap_err()
                .to_string()
                .starts_with("org-unit:")
        );

        let (token, csrf) = create(&store, user.id, T0).await.unwrap();
        let s = find(&store, &token, T0 + 1000).await.unwrap().unwrap();
        assert_eq!(s.csrf, csrf);
        assert_eq!(s.principal.actor, "user:lan");
        assert_eq!(s.principal.scope.as_deref(), Some("/TW/HN/"));
        assert!(find(&store, "not-a-token", T0).await.unwrap().is_none());
        // Used every 20 minutes it lives on; then 30 idle minutes end it, for good.
        let mut t = T0;
        for _ in 0..5 {
            t += 20 * 60 * 1000;
            assert!(find(&store, &token, t).await.unwrap().is_some(), "at {}", t - T0);
        }
        assert!(find(&store, &token, t + IDLE_MS).await.unwrap().is_none());
        assert!(find(&store, &token, t).await.unwrap().is_none(), "deleted, not only refused");

        // Absolute expiry, however busy.
        let (token, _) = create(&store, user.id, T0).await.unwrap();
        let mut t = T0;
        while t + 10 * 60 * 1000 < T0 + ABSOLUTE_MS {
            t += 10 * 60 * 1000;
            assert!(find(&store, &token, t).await.unwrap().is_some());
        }
        assert!(find(&store, &token, T0 + ABSOLUTE_MS).await.unwrap().is_none());

        // Disabling ends its sessions; a new password does too.
        let (token, _) = create(&store, user.id, T0).await.unwrap();
        users::set_password(&store, &cli, "lan", "một mật khẩu mới dài", T0).await.unwrap();
        assert!(find(&store, &token, T0).await.unwrap().is_none());
        let (token, _) = create(&store, user.id, T0).await.unwrap();
        users::disable(&store, &cli, "lan", T0).await.unwrap();
        assert!(find(&store, &token, T0).await.unwrap().is_none());
        assert!(users::disable(&store, &cli, "lan", T0).await.is_err());

        // The audit log has the changes, never the hash.
        let log = crate::audit::since(&store, 0).await.unwrap();
        let mine: Vec<_> = log.iter().filter(|r| r.object_kind == "user").collect();
        assert_eq!(
            mine.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["create", "password", "disable"]
        );
        assert!(mine.iter().all(|r| r.path == "/TW/HN/" && r.actor == "seed:test"));
        let text = format!("{:?}", mine);
        assert!(!text.contains("argon2"), "{text}");
    }

    #[tokio::test]
    async fn auth_throttling() {
        let (_dir, store) = store().await;
        let (u, ip) = ("lan", "10.0.0.1");
        for i in 1..MAX_FAILURES {
            assert_eq!(failed(&store, u, ip, T0 + i).await.unwrap(), i);
            assert_eq!(locked_until(&store, u, ip, T0 + i).await.unwrap(), None);
        }
        failed(&store, u, ip, T0 + 10).await.unwrap();
        assert_eq!(locked_until(&store, u, ip, T0 + 11).await.unwrap(), Some(T0 + 10 + LOCK_MS));
        assert_eq!(locked_until(&store, u, "10.0.0.2", T0 + 11).await.unwrap(), None, "another address");
        assert_eq!(locked_until(&store, u, ip, T0 + 10 + LOCK_MS).await.unwrap(), None, "the lock ends");
        // After the lock, counting starts again from one.
        assert_eq!(failed(&store, u, ip, T0 + 10 + LOCK_MS).await.unwrap(), 1);
        // Failures spread wider than the window never lock.
        for i in 0..10 {
            let n = failed(&store, "minh", ip, T0 + i * WINDOW_MS).await.unwrap();
            assert_eq!(n, 1);
        }
        succeeded(&store, u, ip).await.unwrap();
        assert_eq!(failed(&store, u, ip, T0 + 11 + LOCK_MS).await.unwrap(), 1);
        prune(&store, T0 + 100 * WINDOW_MS).await.unwrap();
    }
}
