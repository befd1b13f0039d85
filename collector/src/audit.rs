//! The audit log of the register: who changed what, when, and the object
//! before and after the change.
//!
//! A record is written in the transaction of the change it describes, so a
//! change and its record are committed together or not at all. Actors are
//! `cli:<os user>`, `seed:<file>`, `apikey:<key id>` (never the key) and
//! `user:<username>` (dashboard accounts).
//! Each record carries the org-unit path of the object after the change and,
//! for moves, before it: a key scoped to a subtree reads the records of
//! everything that was or is in its subtree, as it was at the time.

use crate::store::{Store, StoreError};
use khien_proto::Timestamp;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// What kind of object a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    OrgUnit,
    System,
    /// An endpoint's memberships and roles.
    Endpoint,
    /// An exception for a requirement (`exceptions.rs`); its code is its id.
    Waiver,
    /// A person's statement for a `manual` requirement; its code is its id.
    Attestation,
    /// A dashboard account (`auth/users.rs`); its code is its username.
    User,
    /// An enrollment token (`enroll.rs`); its code is its id, never its secret.
    EnrollToken,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::OrgUnit,
        ObjectKind::System,
        ObjectKind::Endpoint,
        ObjectKind::Waiver,
        ObjectKind::Attestation,
        ObjectKind::User,
        ObjectKind::EnrollToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::OrgUnit => "org_unit",
            ObjectKind::System => "system",
            ObjectKind::Endpoint => "endpoint",
            ObjectKind::Waiver => "waiver",
            ObjectKind::Attestation => "attestation",
            ObjectKind::User => "user",
            ObjectKind::EnrollToken => "enroll_token",
        }
    }
}

/// One change, as the register describes it.
pub struct Entry<'a> {
    /// `create`, `update`, `move`, `retire`, `set_systems` or (exceptions) `revoke`.
    pub action: &'a str,
    pub kind: ObjectKind,
    pub code: &'a str,
    /// Org-unit path of the object after the change.
    pub path: &'a str,
    /// Org-unit path before the change, when it differs (moves).
    pub path_before: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Writes a record in the change's transaction; returns its id.
pub async fn record(tx: &mut Transaction<'_, Any>, at: i64, actor: &str, e: &Entry<'_>) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO audit_log (at, actor, action, object_kind, object_code, path, path_before, before_json, after_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(at)
    .bind(actor)
    .bind(e.action)
    .bind(e.kind.as_str())
    .bind(e.code)
    .bind(e.path)
    .bind(e.path_before.filter(|p| *p != e.path))
    .bind(e.before.as_ref().map(Value::to_string))
    .bind(e.after.as_ref().map(Value::to_string))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// A stored record.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object_code: String,
    pub path: String,
    pub path_before: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditRow {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "at": Timestamp::from_unix_millis(self.at).map(|t| t.to_string()),
            "actor": self.actor,
            "action": self.action,
            "object_kind": self.object_kind,
            "object_code": self.object_code,
            "path": self.path,
            "path_before": self.path_before,
            "before": self.before,
            "after": self.after,
        })
    }

    /// The fields that changed, `field: old → new`, for tables.
    pub fn summary(&self) -> String {
        let mut out = Vec::new();
        diff("", self.before.as_ref(), self.after.as_ref(), &mut out);
        out.join("; ")
    }
}

fn short(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn diff(prefix: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<String>) {
    let (b, a) = (before.and_then(Value::as_object), after.and_then(Value::as_object));
    // Objects (and an object against nothing: a creation) are compared field by field.
    if (b.is_some() || a.is_some()) && (b.is_some() || before.is_none()) && (a.is_some() || after.is_none()) {
        let mut keys: Vec<&String> = b.into_iter().chain(a).flat_map(|o| o.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            diff(&format!("{prefix}{k}."), b.and_then(|o| o.get(k)), a.and_then(|o| o.get(k)), out);
        }
        return;
    }
    let field = prefix.trim_end_matches('.');
    match (before, after) {
        (b, a) if b == a => {}
        // A creation lists what it set, without what the table shows already.
        (None, None | Some(Value::Null) | Some(Value::Bool(false))) => {}
        (None, _) if field == "code" || field == "created_at" => {}
        (None, a) => out.push(format!("{field}: {}", short(a))),
        (b, a) => out.push(format!("{field}: {} → {}", short(b), short(a))),
    }
}

/// Which records to read.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Subtree path (`/TW/DLK/`): records whose object is or was in it.
    pub under: Option<String>,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
    /// Only records about this kind of object (`ObjectKind::as_str`).
    pub kind: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

const COLUMNS: &str = "id, at, actor, action, object_kind, object_code, path, path_before, before_json, after_json";

/// Records matching the filter, newest first.
pub async fn list(store: &Store, f: &Filter) -> Result<Vec<AuditRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log
         WHERE ($1 = '' OR path LIKE $1 OR path_before LIKE $1) AND at >= $2 AND at < $3 AND ($6 = '' OR object_kind = $6)
         ORDER BY id DESC LIMIT $4 OFFSET $5"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.under.as_ref().map(|p| format!("{p}%")).unwrap_or_default())
        .bind(f.since.unwrap_or(0))
        .bind(f.until.unwrap_or(i64::MAX))
        .bind(f.limit)
        .bind(f.offset)
        .bind(f.kind.clone().unwrap_or_default())
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(row_from).collect()
}

/// Records written at or after `at` (ms), oldest first: what the collector
/// has to apply to its evaluations.
pub async fn since(store: &Store, at: i64) -> Result<Vec<AuditRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE at >= $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at).fetch_all(store.pool()).await?;
    rows.iter().map(row_from).collect()
}

fn row_from(r: &AnyRow) -> Result<AuditRow, StoreError> {
    let json = |col: &str| -> Result<Option<Value>, StoreError> {
        Ok(r.try_get::<Option<String>, _>(col)?
            .map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s))))
    };
    Ok(AuditRow {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        object_kind: r.try_get("object_kind")?,
        object_code: r.try_get("object_code")?,
        path: r.try_get("path")?,
        path_before: r.try_get("path_before")?,
        before: json("before_json")?,
        after: json("after_json")?,
    })
}

/// A time for `since`/`until`: a date (`2026-05-01`, a whole day in UTC) or
/// an RFC 3339 time. With `end`, a date means the end of that day, so that
/// `until=2026-05-01` includes the 1st of May.
pub fn parse_time(field: &str, text: &str, end: bool) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(d) = time::Date::parse(text, crate::register::DATE_FORMAT) {
        let d = if end { d.next_day().unwrap_or(d) } else { d };
        return Ok(d.midnight().assume_utc().unix_timestamp() * 1000);
    }
    Timestamp::parse(text)
        .map(|t| t.unix_millis())
        .map_err(|_| format!("{field} {text:?} is neither a date (2026-05-01) nor an RFC 3339 time (2026-05-01T08:00:00+07:00)"))
}

/// The actor of a command-line change: `cli:<os user>`.
pub fn cli_actor() -> String {
    format!("cli:{}", os_user())
}

/// The name of the user running this process: the password-database entry of
/// its real uid (what `sudo` and service managers set), else `$USER`.
pub fn os_user() -> String {
    let uid = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
    });
    if let Some(uid) = &uid
        && let Ok(passwd) = std::fs::read_to_string("/etc/passwd")
        && let Some(name) = user_of_uid(&passwd, uid)
    {
        return name;
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| uid.map(|u| format!("uid-{u}")))
        .unwrap_or_else(|| "unknown".into())
}

fn user_of_uid(passwd: &str, uid: &str) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        (f.next()? == uid && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_found_by_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nan:x:1000:1000:An:/home/an:/bin/bash\n";
        assert_eq!(user_of_uid(passwd, "1000").as_deref(), Some("an"));
        assert_eq!(user_of_uid(passwd, "0").as_deref(), Some("root"));
        assert_eq!(user_of_uid(passwd, "7"), None);
        assert!(cli_actor().starts_with("cli:") && cli_actor().len() > 4);
    }

    #[test]
    fn times_are_dates_or_rfc3339() {
        let day = 1_777_593_600_000; // 2026-05-01T00:00:00Z
        assert_eq!(parse_time("since", "2026-05-01", false), Ok(day));
        assert_eq!(parse_time("until", "2026-05-01", true), Ok(day + 86_400_000));
        assert_eq!(parse_time("since", "2026-05-01T07:00:00+07:00", false), Ok(day));
        let e = parse_time("since", "yesterday", false).unwrap_err();
        assert!(e.starts_with("since \"yesterday\""), "{e}");
    }

    #[test]
    fn summaries_name_the_changed_fields() {
        let row = AuditRow {
            id: 1,
            at: 0,
            actor: "cli:an".into(),
            action: "update".into(),
            object_kind: "system".into(),
            object_code: "DLK-X".into(),
            path: "/TW/DLK/".into(),
            path_before: None,
            before: Some(json!({"level": 3, "name": "x", "dossier": {"approver": null}})),
            after: Some(json!({"level": 4, "name": "x", "dossier": {"approver": "VP"}})),
        };
        assert_eq!(row.summary(), "dossier.approver: – → VP; level: 3 → 4");
        let created = AuditRow {
            before: None,
            after: Some(json!({"code": "A"})),
            ..row
        };
        assert_eq!(created.summary(), "");
        let created = AuditRow {
            after: Some(json!({"code": "A", "name": "a", "parent": null, "dossier": {"next_assessment_explicit": false}})),
            ..created
        };
        assert_eq!(created.summary(), "name: a");
    }
}
