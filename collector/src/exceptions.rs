//! Approved exceptions to the verdicts: waivers and attestations.
//!
//! A **waiver** is an approved exception for one requirement, on a whole
//! system or on one endpoint (in every system it belongs to), from its start
//! to its expiry. An **attestation** is a person's dated statement, with an
//! evidence file, that a requirement of a system that needs one (a `manual`
//! check or a management requirement) is met, until it is due again.
//!
//! Neither changes a stored verdict: [`crate::compliance::system_compliance`]
//! reads the exceptions active at the time it is asked about and lays them
//! over the raw counts ([`Overlay`]), so an expired or revoked exception stops
//! counting by itself, and the evidence of what the endpoints reported stays
//! as it was. Like the register, every creation and revocation is validated,
//! scoped to the caller's subtree and written with its audit record in one
//! transaction. Evidence files are content-addressed: the same bytes uploaded
//! twice are stored once.

use crate::audit::{self, Entry, ObjectKind};
use crate::evaluate::Policies;
use crate::register::Caller;
use crate::store::{Store, StoreError, System};
use khien_policy::model::{Kind, Rule};
use khien_proto::report::sha256_hex;
use khien_proto::{Counts, Status, Timestamp};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::{BTreeMap, BTreeSet};

/// The largest evidence file accepted: scans of signed decisions and
/// exports fit; whole disk images do not belong in the database.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// Longest approver or attester name, and file name, in characters.
const MAX_NAME: usize = 300;
/// Longest reason, in characters: a paragraph, not a document (that is what evidence files are for).
const MAX_REASON: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum ExceptionError {
    #[error("{0}")]
    NotFound(String),
    /// A value that cannot be accepted; `field` is the name the caller used
    /// (CLI option without dashes, JSON field or query parameter).
    #[error("{subject}: {field}: {message}")]
    Invalid {
        subject: String,
        field: &'static str,
        message: String,
    },
    #[error("{subject}: file: {size} bytes is more than the limit of {MAX_FILE_BYTES} bytes (20 MiB)")]
    TooLarge { subject: String, size: usize },
    /// The exception's state forbids it (revoking one already revoked).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ExceptionError {
    fn from(e: sqlx::Error) -> Self {
        ExceptionError::Store(StoreError::Db(e))
    }
}

pub type Result<T, E = ExceptionError> = std::result::Result<T, E>;

fn invalid(subject: &str, field: &'static str, message: impl Into<String>) -> ExceptionError {
    ExceptionError::Invalid {
        subject: subject.to_string(),
        field,
        message: message.into(),
    }
}

fn check(caller: &Caller, paths: &[&str], what: &str) -> Result<()> {
    if paths.iter().any(|p| caller.allows(p)) {
        Ok(())
    } else {
        Err(ExceptionError::Forbidden(format!("{what} is outside this key's org unit")))
    }
}

/// Trimmed text of at most `max` characters; line breaks are allowed in a
/// reason only.
fn check_text(subject: &str, field: &'static str, text: &str, max: usize, lines: bool) -> Result<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(invalid(subject, field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(invalid(subject, field, format!("is longer than {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && !(lines && (c == '\n' || c == '\t'))) {
        return Err(invalid(subject, field, "must not contain control characters"));
    }
    Ok(t.to_string())
}

fn iso(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).map(|t| t.to_string()).unwrap_or_default()
}

fn iso_opt(ms: Option<i64>) -> Value {
    ms.map(|m| json!(iso(m))).unwrap_or(Value::Null)
}

/// Where an exception stands at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Approved, not started yet.
    Pending,
    Active,
    Expired,
    Revoked,
}

impl State {
    fn at(now: i64, start: i64, end: i64, revoked_at: Option<i64>) -> State {
        // A revocation counts from its time on, so that asking about an
        // earlier time (history, snapshots) still sees the exception.
        if revoked_at.is_some_and(|r| r <= now) {
            State::Revoked
        } else if now < start {
            State::Pending
        } else if now < end {
            State::Active
        } else {
            State::Expired
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Active => "active",
            State::Expired => "expired",
            State::Revoked => "revoked",
        }
    }
}

// ---- records -----------------------------------------------------------------------

/// A waiver as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaiverRecord {
    pub id: i64,
    /// The system it covers (code), or `None` for an endpoint waiver.
    pub system: Option<String>,
    /// The endpoint it covers, or `None` for a system waiver.
    pub endpoint: Option<String>,
    pub requirement: String,
    pub reason: String,
    pub approver: String,
    pub start_at: i64,
    pub expiry_at: i64,
    pub created_at: i64,
    /// The actor, as in the audit log.
    pub created_by: String,
    pub revoked_at: Option<i64>,
    /// Org-unit path of the system's owner or the endpoint's unit at creation.
    pub path: String,
    /// The same today (the system may have moved since).
    pub current_path: String,
}

impl WaiverRecord {
    pub fn state(&self, now: i64) -> State {
        State::at(now, self.start_at, self.expiry_at, self.revoked_at)
    }

    pub fn is_active(&self, now: i64) -> bool {
        self.state(now) == State::Active
    }

    /// Without the state: what the audit log keeps.
    fn record_json(&self) -> Value {
        json!({
            "id": self.id, "system": self.system, "endpoint": self.endpoint, "requirement": self.requirement,
            "reason": self.reason, "approver": self.approver, "start": iso(self.start_at), "expiry": iso(self.expiry_at),
            "created_at": iso(self.created_at), "created_by": self.created_by, "revoked_at": iso_opt(self.revoked_at),
            "path": self.path,
        })
    }

    /// With its state at `now`.
    pub fn json(&self, now: i64) -> Value {
        let mut v = self.record_json();
        v["state"] = json!(self.state(now).as_str());
        v
    }

    /// As the evidence pack lists it.
    pub fn evidence(&self) -> khien_evidence::model::Waiver {
        khien_evidence::model::Waiver {
            endpoint: self.endpoint.clone(),
            reason: self.reason.clone(),
            approver: self.approver.clone(),
            start: Timestamp::from_unix_millis(self.start_at).unwrap_or_default(),
            expiry: Timestamp::from_unix_millis(self.expiry_at).unwrap_or_default(),
        }
    }
}

/// An attestation as stored (without its file's bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationRecord {
    pub id: i64,
    pub system: String,
    pub requirement: String,
    pub attested_by: String,
    pub attested_at: i64,
    pub valid_until: i64,
    pub file_name: String,
    pub file_sha256: String,
    pub file_size: i64,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
    /// Org-unit path of the system's owner at creation.
    pub path: String,
    /// The same today.
    pub current_path: String,
}

impl AttestationRecord {
    pub fn state(&self, now: i64) -> State {
        State::at(now, self.attested_at, self.valid_until, self.revoked_at)
    }

    pub fn is_active(&self, now: i64) -> bool {
        self.state(now) == State::Active
    }

    fn record_json(&self) -> Value {
        json!({
            "id": self.id, "system": self.system, "requirement": self.requirement, "attested_by": self.attested_by,
            "attested_at": iso(self.attested_at), "valid_until": iso(self.valid_until),
            "file_name": self.file_name, "file_sha256": self.file_sha256, "file_size": self.file_size,
            "created_at": iso(self.created_at), "created_by": self.created_by, "revoked_at": iso_opt(self.revoked_at),
            "path": self.path,
        })
    }

    pub fn json(&self, now: i64) -> Value {
        let mut v = self.record_json();
        v["state"] = json!(self.state(now).as_str());
        v
    }

    pub fn evidence(&self) -> khien_evidence::model::Attestation {
        khien_evidence::model::Attestation {
            attested_by: self.attested_by.clone(),
            attested_at: Timestamp::from_unix_millis(self.attested_at).unwrap_or_default(),
            valid_until: Timestamp::from_unix_millis(self.valid_until).unwrap_or_default(),
            file_name: self.file_name.clone(),
            file_sha256: self.file_sha256.clone(),
        }
    }
}

/// An evidence file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceFile {
    pub sha256: String,
    pub size: i64,
    pub content: Vec<u8>,
    pub created_at: i64,
}

const WAIVER_SELECT: &str = "SELECT w.id, s.code AS system_code, w.endpoint_id, w.requirement, w.reason, w.approver,
         w.start_at, w.expiry_at, w.created_at, w.created_by, w.revoked_at, w.path,
         COALESCE(so.path, eo.path, w.path) AS current_path
     FROM waivers w
     LEFT JOIN systems s ON s.id = w.system_id
     LEFT JOIN org_units so ON so.id = s.org_unit_id
     LEFT JOIN endpoints e ON e.id = w.endpoint_id
     LEFT JOIN org_units eo ON eo.id = e.org_unit_id";

const ATTESTATION_SELECT: &str = "SELECT a.id, s.code AS system_code, a.requirement, a.attested_by, a.attested_at, a.valid_until,
         a.file_name, a.file_sha256, f.size AS file_size, a.created_at, a.created_by, a.revoked_at, a.path,
         o.path AS current_path
     FROM attestations a
     JOIN systems s ON s.id = a.system_id
     JOIN org_units o ON o.id = s.org_unit_id
     JOIN evidence_files f ON f.sha256 = a.file_sha256";

fn waiver_from(r: &AnyRow) -> Result<WaiverRecord, StoreError> {
    Ok(WaiverRecord {
        id: r.try_get("id")?,
        system: r.try_get("system_code")?,
        endpoint: r.try_get("endpoint_id")?,
        requirement: r.try_get("requirement")?,
        reason: r.try_get("reason")?,
        approver: r.try_get("approver")?,
        start_at: r.try_get("start_at")?,
        expiry_at: r.try_get("expiry_at")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        revoked_at: r.try_get("revoked_at")?,
        path: r.try_get("path")?,
        current_path: r.try_get("current_path")?,
    })
}

fn attestation_from(r: &AnyRow) -> Result<AttestationRecord, StoreError> {
    Ok(AttestationRecord {
        id: r.try_get("id")?,
        system: r.try_get("system_code")?,
        requirement: r.try_get("requirement")?,
        attested_by: r.try_get("attested_by")?,
        attested_at: r.try_get("attested_at")?,
        valid_until: r.try_get("valid_until")?,
        file_name: r.try_get("file_name")?,
        file_sha256: r.try_get("file_sha256")?,
        file_size: r.try_get("file_size")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        revoked_at: r.try_get("revoked_at")?,
        path: r.try_get("path")?,
        current_path: r.try_get("current_path")?,
    })
}

async fn fetch_waiver<'e, E: sqlx::Executor<'e, Database = Any>>(e: E, id: i64) -> Result<Option<WaiverRecord>, StoreError> {
    let sql = format!("{WAIVER_SELECT} WHERE w.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(e).await?;
    row.as_ref().map(waiver_from).transpose()
}

async fn fetch_attestation<'e, E: sqlx::Executor<'e, Database = Any>>(e: E, id: i64) -> Result<Option<AttestationRecord>, StoreError> {
    let sql = format!("{ATTESTATION_SELECT} WHERE a.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(e).await?;
    row.as_ref().map(attestation_from).transpose()
}

// ---- reads -------------------------------------------------------------------------

/// Which exceptions to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Subtree path (`/TW/DLK/`): exceptions that were created in it or whose
    /// system or endpoint is in it now. `None`: everywhere.
    pub under: Option<String>,
    /// A system's id: its own exceptions and, for waivers, those of its
    /// current member endpoints.
    pub system_id: Option<i64>,
    /// Also the expired and revoked ones (as of `now`).
    pub all: bool,
    pub now: i64,
}

pub async fn waivers(store: &Store, f: &Filter) -> Result<Vec<WaiverRecord>, StoreError> {
    let sql = format!(
        "{WAIVER_SELECT}
         WHERE ($1 = '' OR w.path LIKE $1 OR COALESCE(so.path, eo.path, '') LIKE $1)
           AND ($2 = 1 OR ((w.revoked_at IS NULL OR w.revoked_at > $3) AND w.expiry_at > $3))
           AND ($4 = 0 OR w.system_id = $4
                OR w.endpoint_id IN (SELECT endpoint_id FROM endpoint_systems WHERE system_id = $4))
         ORDER BY w.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.under.as_ref().map(|p| format!("{p}%")).unwrap_or_default())
        .bind(i16::from(f.all))
        .bind(f.now)
        .bind(f.system_id.unwrap_or(0))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(waiver_from).collect()
}

pub async fn attestations(store: &Store, f: &Filter) -> Result<Vec<AttestationRecord>, StoreError> {
    let sql = format!(
        "{ATTESTATION_SELECT}
         WHERE ($1 = '' OR a.path LIKE $1 OR o.path LIKE $1)
           AND ($2 = 1 OR ((a.revoked_at IS NULL OR a.revoked_at > $3) AND a.valid_until > $3))
           AND ($4 = 0 OR a.system_id = $4)
         ORDER BY a.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.under.as_ref().map(|p| format!("{p}%")).unwrap_or_default())
        .bind(i16::from(f.all))
        .bind(f.now)
        .bind(f.system_id.unwrap_or(0))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(attestation_from).collect()
}

pub async fn waiver(store: &Store, id: i64) -> Result<Option<WaiverRecord>, StoreError> {
    fetch_waiver(store.pool(), id).await
}

pub async fn attestation(store: &Store, id: i64) -> Result<Option<AttestationRecord>, StoreError> {
    fetch_attestation(store.pool(), id).await
}

/// An evidence file by its SHA-256 (lowercase hex).
pub async fn get_file(store: &Store, sha256: &str) -> Result<Option<EvidenceFile>, StoreError> {
    let row = sqlx::query("SELECT sha256, size, content, created_at FROM evidence_files WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| {
        Ok(EvidenceFile {
            sha256: r.try_get("sha256")?,
            size: r.try_get("size")?,
            content: r.try_get("content")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

/// How many evidence files are stored, and their bytes in all.
pub async fn files_stored(store: &Store) -> Result<(i64, i64), StoreError> {
    let r = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM evidence_files")
        .fetch_one(store.pool())
        .await?;
    Ok((r.try_get("n")?, r.try_get("bytes")?))
}

/// The attestations that carry a file (revoked and expired ones too: the
/// file stays their evidence).
pub async fn file_attestations(store: &Store, sha256: &str) -> Result<Vec<AttestationRecord>, StoreError> {
    let sql = format!("{ATTESTATION_SELECT} WHERE a.file_sha256 = $1 ORDER BY a.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(sha256).fetch_all(store.pool()).await?;
    rows.iter().map(attestation_from).collect()
}

/// Whether a caller may see an exception: it was created in the caller's
/// subtree, or its system or endpoint is there now.
pub fn visible(caller_scope: Option<&str>, path: &str, current_path: &str) -> bool {
    caller_scope.is_none_or(|s| path.starts_with(s) || current_path.starts_with(s))
}

// ---- changes -----------------------------------------------------------------------

/// Exceptions read, check, then write, like register changes, and are
/// serialised with them the same way (see `register::Change::begin`): a
/// membership or a retirement cannot slip between the check and the write.
async fn begin(store: &Store) -> Result<Transaction<'static, Any>> {
    Ok(store.begin_locking("audit_log").await?)
}

/// The audit record of a change, in its transaction.
#[allow(clippy::too_many_arguments)]
async fn audit(
    tx: &mut Transaction<'_, Any>,
    at: i64,
    actor: &str,
    action: &str,
    kind: ObjectKind,
    id: i64,
    path: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<()> {
    let code = id.to_string();
    let entry = Entry {
        action,
        kind,
        code: &code,
        path,
        path_before: None,
        before,
        after,
    };
    audit::record(tx, at, actor, &entry).await?;
    Ok(())
}

/// An active system, with its owner's path.
struct Owned {
    system: System,
    path: String,
}

/// The system, in the caller's subtree (checked before anything else is said about it), not retired.
async fn active_system(tx: &mut Transaction<'_, Any>, caller: &Caller, subject: &str, code: &str) -> Result<Owned> {
    let row = sqlx::query(
        "SELECT s.id, s.code, s.org_unit_id, s.name, s.level, s.framework, s.retired_at, o.path
         FROM systems s JOIN org_units o ON o.id = s.org_unit_id WHERE s.code = $1",
    )
    .bind(code)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| invalid(subject, "system", format!("no system {code}")))?;
    let system = System {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        org_unit_id: row.try_get("org_unit_id")?,
        name: row.try_get("name")?,
        level: u8::try_from(row.try_get::<i16, _>("level")?).unwrap_or(0),
        framework: row.try_get("framework")?,
        retired_at: row.try_get("retired_at")?,
    };
    let path: String = row.try_get("path")?;
    check(caller, &[&path], &format!("system {code}"))?;
    if system.retired_at.is_some() {
        return Err(invalid(subject, "system", format!("system {code} has been retired")));
    }
    Ok(Owned { system, path })
}

/// The requirement, in force at the system's level.
fn in_force(policies: &Policies, subject: &str, system: &System, id: &str) -> Result<std::sync::Arc<khien_policy::Framework>> {
    let fw = policies.framework(&system.framework).ok_or_else(|| {
        invalid(
            subject,
            "requirement",
            format!(
                "system {} names framework {:?}, which is not installed: its requirements cannot be checked",
                system.code, system.framework
            ),
        )
    })?;
    let Some(r) = fw.requirement(id) else {
        return Err(invalid(
            subject,
            "requirement",
            format!("{id:?} is not a requirement of {}", system.framework),
        ));
    };
    if !r.applies_at(system.level) {
        return Err(invalid(
            subject,
            "requirement",
            format!(
                "{id} does not apply at level {} (it applies at levels {}–{})",
                system.level, r.min_level, r.max_level
            ),
        ));
    }
    Ok(fw.clone())
}

/// What a waiver covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaiverTarget {
    /// A system, by code: the requirement for the whole system.
    System(String),
    /// An endpoint, by id: the requirement on that endpoint, in every system it belongs to.
    Endpoint(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWaiver {
    pub target: WaiverTarget,
    pub requirement: String,
    pub reason: String,
    pub approver: String,
    /// Unix ms; `None`: from now.
    pub start: Option<i64>,
    pub expiry: i64,
}

/// Creates a waiver, as of `now` (unix ms).
pub async fn create_waiver(store: &Store, policies: &Policies, caller: &Caller, w: &NewWaiver, now: i64) -> Result<WaiverRecord> {
    let subject = match &w.target {
        WaiverTarget::System(code) => format!("waiver for system {code}"),
        WaiverTarget::Endpoint(id) => format!("waiver for endpoint {id}"),
    };
    let reason = check_text(&subject, "reason", &w.reason, MAX_REASON, true)?;
    let approver = check_text(&subject, "approver", &w.approver, MAX_NAME, false)?;
    let requirement = w.requirement.trim();
    if requirement.is_empty() {
        return Err(invalid(&subject, "requirement", "must not be empty"));
    }
    let start = w.start.unwrap_or(now);
    if w.expiry <= start {
        return Err(invalid(
            &subject,
            "expiry",
            format!("{} is not after the start {}", iso(w.expiry), iso(start)),
        ));
    }
    if w.expiry <= now {
        return Err(invalid(&subject, "expiry", format!("{} is already past", iso(w.expiry))));
    }
    let mut tx = begin(store).await?;
    let (system_id, endpoint_id, path) = match &w.target {
        WaiverTarget::System(code) => {
            let owned = active_system(&mut tx, caller, &subject, code).await?;
            in_force(policies, &subject, &owned.system, requirement)?;
            (Some(owned.system.id), None, owned.path)
        }
        WaiverTarget::Endpoint(id) => {
            let row = sqlx::query("SELECT e.revoked, o.path FROM endpoints e JOIN org_units o ON o.id = e.org_unit_id WHERE e.id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| invalid(&subject, "endpoint", format!("no enrolled endpoint {id}")))?;
            let path: String = row.try_get("path")?;
            check(caller, &[&path], &format!("endpoint {id}"))?;
            if row.try_get::<i16, _>("revoked")? != 0 {
                return Err(invalid(&subject, "endpoint", format!("endpoint {id} has been revoked")));
            }
            // The frameworks it is evaluated against: its systems', and its
            // unit's default one when it belongs to none.
            let rows = sqlx::query(
                "SELECT DISTINCT s.framework FROM endpoint_systems es JOIN systems s ON s.id = es.system_id
                 WHERE es.endpoint_id = $1 AND s.retired_at IS NULL",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let mut frameworks: Vec<String> = rows.iter().map(|r| r.try_get("framework")).collect::<Result<_, _>>()?;
            if frameworks.is_empty() {
                frameworks.push(policies.default_framework.clone());
            }
            let known = frameworks
                .iter()
                .filter_map(|f| policies.framework(f))
                .any(|f| f.requirement(requirement).is_some());
            if !known {
                return Err(invalid(
                    &subject,
                    "requirement",
                    format!(
                        "{requirement:?} is not a requirement of the framework(s) endpoint {id} is evaluated against ({})",
                        frameworks.join(", ")
                    ),
                ));
            }
            (None, Some(id.clone()), path)
        }
    };
    let row = sqlx::query(
        "INSERT INTO waivers (system_id, endpoint_id, requirement, reason, approver, start_at, expiry_at, created_at, created_by, path)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(system_id)
    .bind(endpoint_id)
    .bind(requirement)
    .bind(&reason)
    .bind(&approver)
    .bind(start)
    .bind(w.expiry)
    .bind(now)
    .bind(&caller.actor)
    .bind(&path)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    let created = fetch_waiver(&mut *tx, id)
        .await?
        .ok_or_else(|| ExceptionError::NotFound(format!("waiver {id}")))?;
    audit(
        &mut tx,
        now,
        &caller.actor,
        "create",
        ObjectKind::Waiver,
        id,
        &path,
        None,
        Some(created.record_json()),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Revokes a waiver from `now` on.
pub async fn revoke_waiver(store: &Store, caller: &Caller, id: i64, now: i64) -> Result<WaiverRecord> {
    let mut tx = begin(store).await?;
    let before = fetch_waiver(&mut *tx, id)
        .await?
        .ok_or_else(|| ExceptionError::NotFound(format!("no waiver {id}")))?;
    check(caller, &[&before.path, &before.current_path], &format!("waiver {id}"))?;
    if let Some(at) = before.revoked_at {
        return Err(ExceptionError::Conflict(format!("waiver {id} was already revoked at {}", iso(at))));
    }
    sqlx::query("UPDATE waivers SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let after = WaiverRecord {
        revoked_at: Some(now),
        ..before.clone()
    };
    audit(
        &mut tx,
        now,
        &caller.actor,
        "revoke",
        ObjectKind::Waiver,
        id,
        &after.current_path,
        Some(before.record_json()),
        Some(after.record_json()),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttestation {
    /// System code.
    pub system: String,
    pub requirement: String,
    pub attested_by: String,
    /// Unix ms; `None`: now. Not in the future.
    pub attested_at: Option<i64>,
    pub valid_until: i64,
    /// The evidence file's name, as the people who read the evidence pack will see it.
    pub file_name: String,
}

/// A file name without folders.
fn check_file_name(subject: &str, name: &str) -> Result<String> {
    let n = check_text(subject, "file_name", name, MAX_NAME, false)?;
    if n.contains(['/', '\\']) || n == "." || n == ".." {
        return Err(invalid(subject, "file_name", format!("{n:?} must be a file name without folders")));
    }
    Ok(n)
}

/// Whether a requirement is proven by attestation: a management requirement,
/// or one with a check that needs a person.
pub fn attestable(r: &khien_policy::Requirement) -> bool {
    r.kind == Kind::Management || r.checks.iter().any(|c| matches!(c.rule, Rule::Manual(_)))
}

/// Records an attestation with its evidence file, as of `now` (unix ms).
pub async fn create_attestation(
    store: &Store,
    policies: &Policies,
    caller: &Caller,
    a: &NewAttestation,
    content: &[u8],
    now: i64,
) -> Result<AttestationRecord> {
    let subject = format!("attestation for system {}", a.system);
    if content.is_empty() {
        return Err(invalid(&subject, "file", "is empty: attach the evidence document"));
    }
    if content.len() > MAX_FILE_BYTES {
        return Err(ExceptionError::TooLarge {
            subject,
            size: content.len(),
        });
    }
    let attested_by = check_text(&subject, "attested_by", &a.attested_by, MAX_NAME, false)?;
    let file_name = check_file_name(&subject, &a.file_name)?;
    let requirement = a.requirement.trim();
    if requirement.is_empty() {
        return Err(invalid(&subject, "requirement", "must not be empty"));
    }
    let attested_at = a.attested_at.unwrap_or(now);
    if attested_at > now {
        return Err(invalid(&subject, "attested_at", format!("{} is in the future", iso(attested_at))));
    }
    if a.valid_until <= attested_at {
        return Err(invalid(
            &subject,
            "valid_until",
            format!("{} is not after the attestation {}", iso(a.valid_until), iso(attested_at)),
        ));
    }
    if a.valid_until <= now {
        return Err(invalid(&subject, "valid_until", format!("{} is already past", iso(a.valid_until))));
    }
    let mut tx = begin(store).await?;
    let owned = active_system(&mut tx, caller, &subject, &a.system).await?;
    let fw = in_force(policies, &subject, &owned.system, requirement)?;
    if !fw.requirement(requirement).is_some_and(attestable) {
        return Err(invalid(
            &subject,
            "requirement",
            format!(
                "{requirement} is verified on the endpoints (no manual check, not a management requirement): \
                 it cannot be attested; fix what fails, or approve a waiver"
            ),
        ));
    }
    let sha = sha256_hex(content);
    // Content-addressed: a second upload of the same bytes keeps the first row.
    sqlx::query("INSERT INTO evidence_files (sha256, size, content, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING")
        .bind(&sha)
        .bind(i64::try_from(content.len()).unwrap_or(i64::MAX))
        .bind(content.to_vec())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(
        "INSERT INTO attestations (system_id, requirement, attested_by, attested_at, valid_until, file_name, file_sha256,
             created_at, created_by, path)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(owned.system.id)
    .bind(requirement)
    .bind(&attested_by)
    .bind(attested_at)
    .bind(a.valid_until)
    .bind(&file_name)
    .bind(&sha)
    .bind(now)
    .bind(&caller.actor)
    .bind(&owned.path)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    let created = fetch_attestation(&mut *tx, id)
        .await?
        .ok_or_else(|| ExceptionError::NotFound(format!("attestation {id}")))?;
    audit(
        &mut tx,
        now,
        &caller.actor,
        "create",
        ObjectKind::Attestation,
        id,
        &owned.path,
        None,
        Some(created.record_json()),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Revokes an attestation from `now` on; its file stays (it is evidence of what was claimed).
pub async fn revoke_attestation(store: &Store, caller: &Caller, id: i64, now: i64) -> Result<AttestationRecord> {
    let mut tx = begin(store).await?;
    let before = fetch_attestation(&mut *tx, id)
        .await?
        .ok_or_else(|| ExceptionError::NotFound(format!("no attestation {id}")))?;
    check(caller, &[&before.path, &before.current_path], &format!("attestation {id}"))?;
    if let Some(at) = before.revoked_at {
        return Err(ExceptionError::Conflict(format!(
            "attestation {id} was already revoked at {}",
            iso(at)
        )));
    }
    sqlx::query("UPDATE attestations SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let after = AttestationRecord {
        revoked_at: Some(now),
        ..before.clone()
    };
    audit(
        &mut tx,
        now,
        &caller.actor,
        "revoke",
        ObjectKind::Attestation,
        id,
        &after.current_path,
        Some(before.record_json()),
        Some(after.record_json()),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ---- per system ------------------------------------------------------------------

/// One requirement's exceptions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequirementExceptions {
    /// The system's waivers and those of its member endpoints.
    pub waivers: Vec<WaiverRecord>,
    pub attestations: Vec<AttestationRecord>,
}

/// A system's exceptions, per requirement: for the evidence pack and the
/// compliance overlay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemExceptions {
    pub now_ms: i64,
    /// Those active at `now_ms`.
    pub active: BTreeMap<String, RequirementExceptions>,
    /// All of them, pending, expired and revoked included, for listings
    /// (each record's `state(now_ms)` says which).
    pub all: BTreeMap<String, RequirementExceptions>,
}

impl SystemExceptions {
    pub fn from_records(now_ms: i64, waivers: Vec<WaiverRecord>, attestations: Vec<AttestationRecord>) -> SystemExceptions {
        let mut out = SystemExceptions {
            now_ms,
            ..SystemExceptions::default()
        };
        for w in waivers {
            if w.is_active(now_ms) {
                out.active.entry(w.requirement.clone()).or_default().waivers.push(w.clone());
            }
            out.all.entry(w.requirement.clone()).or_default().waivers.push(w);
        }
        for a in attestations {
            if a.is_active(now_ms) {
                out.active.entry(a.requirement.clone()).or_default().attestations.push(a.clone());
            }
            out.all.entry(a.requirement.clone()).or_default().attestations.push(a);
        }
        out
    }

    /// The requirement's active exceptions (empty when none).
    pub fn active_for(&self, requirement: &str) -> RequirementExceptions {
        self.active.get(requirement).cloned().unwrap_or_default()
    }
}

/// The systems that an active waiver covers, on their own or through one of
/// their member endpoints (the only exceptions that can make a failing system
/// compliant: attestations turn `manual` into `pass`, and `manual` fails nothing).
pub async fn systems_with_active_waivers(store: &Store, now_ms: i64) -> Result<BTreeSet<i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT w.system_id AS system_id FROM waivers w
         WHERE w.system_id IS NOT NULL AND w.start_at <= $1 AND w.expiry_at > $1 AND (w.revoked_at IS NULL OR w.revoked_at > $1)
         UNION
         SELECT es.system_id AS system_id FROM waivers w JOIN endpoint_systems es ON es.endpoint_id = w.endpoint_id
         WHERE w.start_at <= $1 AND w.expiry_at > $1 AND (w.revoked_at IS NULL OR w.revoked_at > $1)",
    )
    .bind(now_ms)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|r| r.try_get("system_id").map_err(StoreError::from)).collect()
}

/// A system's waivers (its own and its current member endpoints') and
/// attestations, as of `now_ms`.
pub async fn for_system(store: &Store, system: &System, now_ms: i64) -> Result<SystemExceptions, StoreError> {
    let filter = Filter {
        under: None,
        system_id: Some(system.id),
        all: true,
        now: now_ms,
    };
    let waivers = waivers(store, &filter).await?;
    let attestations = attestations(store, &filter).await?;
    Ok(SystemExceptions::from_records(now_ms, waivers, attestations))
}

/// The statuses, for a system, of the member endpoints that have an active
/// waiver: `endpoint -> requirement -> status`.
async fn waived_endpoint_statuses(
    store: &Store,
    system: &System,
    ex: &SystemExceptions,
) -> Result<BTreeMap<String, BTreeMap<String, Status>>, StoreError> {
    let wanted: BTreeSet<&str> = ex
        .active
        .values()
        .flat_map(|r| r.waivers.iter().filter_map(|w| w.endpoint.as_deref()))
        .collect();
    let mut out = BTreeMap::new();
    for id in wanted {
        let row = sqlx::query("SELECT requirements FROM evaluations WHERE endpoint_id = $1 AND scope = $2")
            .bind(id)
            .bind(&system.code)
            .fetch_optional(store.pool())
            .await?;
        if let Some(row) = row {
            let map: BTreeMap<String, String> = serde_json::from_str(&row.try_get::<String, _>("requirements")?).unwrap_or_default();
            let statuses = map
                .into_iter()
                .filter_map(|(req, s)| Status::ALL.into_iter().find(|x| x.as_str() == s).map(|s| (req, s)))
                .collect();
            out.insert(id.to_string(), statuses);
        }
    }
    Ok(out)
}

/// The overlay of a system's exceptions as of `now_ms`, ready to apply.
pub async fn overlay(store: &Store, system: &System, now_ms: i64) -> Result<Overlay, StoreError> {
    let ex = for_system(store, system, now_ms).await?;
    let statuses = waived_endpoint_statuses(store, system, &ex).await?;
    Ok(Overlay::new(&ex, &statuses))
}

// ---- the overlay -------------------------------------------------------------------

/// What the active exceptions do to a system's per-requirement counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlay {
    /// Requirements an active system waiver covers.
    system_waived: BTreeSet<String>,
    /// Requirements an active attestation covers.
    attested: BTreeSet<String>,
    /// Per requirement, the statuses (for this system) of the member
    /// endpoints an active waiver covers, one per endpoint.
    endpoint_waived: BTreeMap<String, Vec<Status>>,
}

impl Overlay {
    /// From the exceptions active at their `now_ms`, and the statuses of the
    /// waived endpoints (`endpoint -> requirement -> status` for this system;
    /// an endpoint missing there has no verdict for the system, and nothing
    /// to waive).
    pub fn new(ex: &SystemExceptions, statuses: &BTreeMap<String, BTreeMap<String, Status>>) -> Overlay {
        let mut o = Overlay::default();
        for (req, r) in &ex.active {
            if r.waivers.iter().any(|w| w.endpoint.is_none()) {
                o.system_waived.insert(req.clone());
            }
            if !r.attestations.is_empty() {
                o.attested.insert(req.clone());
            }
            // Two waivers for one endpoint still waive it once.
            let endpoints: BTreeSet<&str> = r.waivers.iter().filter_map(|w| w.endpoint.as_deref()).collect();
            let waived: Vec<Status> = endpoints
                .into_iter()
                .filter_map(|e| statuses.get(e).and_then(|m| m.get(req)).copied())
                .collect();
            if !waived.is_empty() {
                o.endpoint_waived.insert(req.clone(), waived);
            }
        }
        o
    }

    pub fn is_empty(&self) -> bool {
        self.system_waived.is_empty() && self.attested.is_empty() && self.endpoint_waived.is_empty()
    }

    /// A requirement's counts and status for the system after the exceptions.
    ///
    /// An attestation makes `manual` verdicts `pass` (it is the statement
    /// they wait for). An endpoint waiver moves that endpoint's `fail`,
    /// `error` or `manual` verdict to `waived`, unless an attestation already
    /// made a `manual` one `pass`. A system waiver moves every remaining
    /// `fail`, `error` and `manual` to `waived`. The status is the worst left:
    /// fail, error, manual, then waived before pass (a requirement met only
    /// thanks to an exception says so).
    pub fn apply(&self, requirement: &str, raw: &Counts) -> (Counts, Status) {
        let mut c = *raw;
        let attested = self.attested.contains(requirement);
        for s in self.endpoint_waived.get(requirement).into_iter().flatten() {
            let slot = match s {
                Status::Fail => &mut c.fail,
                Status::Error => &mut c.error,
                Status::Manual if !attested => &mut c.manual,
                _ => continue,
            };
            // The counts and the endpoint's verdict are written apart; never below zero.
            if *slot > 0 {
                *slot -= 1;
                c.waived += 1;
            }
        }
        if attested {
            c.pass += c.manual;
            c.manual = 0;
        }
        if self.system_waived.contains(requirement) && c.fail + c.error + c.manual > 0 {
            c.waived += c.fail + c.error + c.manual;
            (c.fail, c.error, c.manual) = (0, 0, 0);
        }
        let nothing = c == Counts::default();
        let status = if nothing && attested {
            // No member verdict, but the statement the requirement needs is there.
            Status::Pass
        } else if nothing && self.system_waived.contains(requirement) {
            Status::Waived
        } else {
            crate::compliance::rollup(&c)
        };
        (c, status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit;
    use crate::compliance::system_compliance;
    use crate::register::{self, Frameworks, NewSystem, NewUnit};

    const DAY: i64 = 86_400_000;

    fn waiver(id: i64, endpoint: Option<&str>, req: &str, start: i64, expiry: i64, revoked_at: Option<i64>) -> WaiverRecord {
        WaiverRecord {
            id,
            system: endpoint.is_none().then(|| "S".to_string()),
            endpoint: endpoint.map(str::to_string),
            requirement: req.into(),
            reason: "r".into(),
            approver: "a".into(),
            start_at: start,
            expiry_at: expiry,
            created_at: 0,
            created_by: "cli:t".into(),
            revoked_at,
            path: "/TW/".into(),
            current_path: "/TW/".into(),
        }
    }

    fn attestation(req: &str, at: i64, until: i64, revoked_at: Option<i64>) -> AttestationRecord {
        AttestationRecord {
            id: 1,
            system: "S".into(),
            requirement: req.into(),
            attested_by: "b".into(),
            attested_at: at,
            valid_until: until,
            file_name: "f.pdf".into(),
            file_sha256: "00".repeat(32),
            file_size: 1,
            created_at: 0,
            created_by: "cli:t".into(),
            revoked_at,
            path: "/TW/".into(),
            current_path: "/TW/".into(),
        }
    }

    fn counts(pass: u32, fail: u32, error: u32, manual: u32) -> Counts {
        Counts {
            pass,
            fail,
            error,
            manual,
            ..Counts::default()
        }
    }

    fn waived(mut c: Counts, n: u32) -> Counts {
        c.waived = n;
        c
    }

    /// The requirement's counts and status at `now`.
    fn at(
        now: i64,
        w: &[WaiverRecord],
        a: &[AttestationRecord],
        statuses: &BTreeMap<String, BTreeMap<String, Status>>,
        req: &str,
        raw: Counts,
    ) -> (Counts, Status) {
        let ex = SystemExceptions::from_records(now, w.to_vec(), a.to_vec());
        Overlay::new(&ex, statuses).apply(req, &raw)
    }

    #[test]
    fn a_system_waiver_counts_from_its_start_to_its_expiry() {
        let w = [waiver(1, None, "MD-01", 100, 200, None)];
        let none = BTreeMap::new();
        let raw = counts(1, 1, 1, 0);
        let waived = Counts {
            pass: 1,
            waived: 2,
            ..Counts::default()
        };
        assert_eq!(at(99, &w, &[], &none, "MD-01", raw), (raw, Status::Fail), "before its start");
        assert_eq!(at(100, &w, &[], &none, "MD-01", raw), (waived, Status::Waived), "from its start");
        assert_eq!(at(199, &w, &[], &none, "MD-01", raw), (waived, Status::Waived));
        assert_eq!(at(200, &w, &[], &none, "MD-01", raw), (raw, Status::Fail), "reverts at its expiry");
        assert_eq!(
            at(150, &w, &[], &none, "MD-02", raw),
            (raw, Status::Fail),
            "other requirements are untouched"
        );
        // Passing and not-applicable verdicts stay what they are.
        let fine = Counts {
            pass: 2,
            not_applicable: 1,
            ..Counts::default()
        };
        assert_eq!(at(150, &w, &[], &none, "MD-01", fine), (fine, Status::Pass));
        // No member verdict yet: `manual`, which the waiver covers.
        assert_eq!(at(150, &w, &[], &none, "MD-01", Counts::default()).1, Status::Waived);
        assert_eq!(at(250, &w, &[], &none, "MD-01", Counts::default()).1, Status::Manual);
    }

    #[test]
    fn a_revoked_waiver_stops_counting_from_its_revocation() {
        let w = [waiver(1, None, "MD-01", 100, 200, Some(150))];
        let none = BTreeMap::new();
        let raw = counts(0, 1, 0, 0);
        assert_eq!(
            at(149, &w, &[], &none, "MD-01", raw).1,
            Status::Waived,
            "asked about before the revocation"
        );
        assert_eq!(at(150, &w, &[], &none, "MD-01", raw), (raw, Status::Fail));
        assert_eq!(w[0].state(150), State::Revoked);
        assert_eq!(w[0].state(99), State::Pending);
        assert_eq!(waiver(2, None, "X", 1, 2, None).state(2), State::Expired);
    }

    #[test]
    fn an_endpoint_waiver_covers_that_endpoint_only() {
        let statuses: BTreeMap<String, BTreeMap<String, Status>> = [
            ("e1", Status::Fail),
            ("e2", Status::Error),
            ("e3", Status::Pass),
            ("e4", Status::Manual),
        ]
        .into_iter()
        .map(|(e, s)| (e.to_string(), BTreeMap::from([("MD-01".to_string(), s)])))
        .collect();
        let raw = counts(1, 2, 1, 1);
        let one = [waiver(1, Some("e1"), "MD-01", 0, 100, None)];
        let (c, s) = at(50, &one, &[], &statuses, "MD-01", raw);
        assert_eq!((c.fail, c.waived, s), (1, 1, Status::Fail), "another endpoint still fails");
        // Twice for one endpoint: waived once.
        let twice = [
            waiver(1, Some("e1"), "MD-01", 0, 100, None),
            waiver(2, Some("e1"), "MD-01", 10, 90, None),
        ];
        assert_eq!(at(50, &twice, &[], &statuses, "MD-01", raw).0.waived, 1);
        let all: Vec<WaiverRecord> = ["e1", "e2", "e3", "e4", "e5"]
            .iter()
            .enumerate()
            .map(|(i, e)| waiver(i as i64, Some(e), "MD-01", 0, 100, None))
            .collect();
        let (c, s) = at(50, &all, &[], &statuses, "MD-01", raw);
        assert_eq!(c, waived(counts(1, 1, 0, 0), 3), "e3 passes and e5 is no member: nothing to waive");
        assert_eq!(s, Status::Fail);
        let mut raw2 = raw;
        raw2.fail = 1;
        let (c, s) = at(50, &all, &[], &statuses, "MD-01", raw2);
        assert_eq!(
            (c, s),
            (waived(counts(1, 0, 0, 0), 3), Status::Waived),
            "met only thanks to waivers"
        );
        assert_eq!(at(100, &all, &[], &statuses, "MD-01", raw2), (raw2, Status::Fail), "expired");
        // A system waiver covers every endpoint.
        let sys = [waiver(9, None, "MD-01", 0, 100, None)];
        assert_eq!(
            at(50, &sys, &[], &statuses, "MD-01", raw),
            (waived(counts(1, 0, 0, 0), 4), Status::Waived)
        );
    }

    #[test]
    fn an_attestation_turns_manual_into_pass_until_it_is_due() {
        let a = [attestation("QL-01", 100, 200, None)];
        let none = BTreeMap::new();
        let raw = counts(0, 0, 0, 2);
        assert_eq!(at(99, &[], &a, &none, "QL-01", raw), (raw, Status::Manual), "before it was made");
        assert_eq!(at(100, &[], &a, &none, "QL-01", raw), (counts(2, 0, 0, 0), Status::Pass));
        assert_eq!(
            at(200, &[], &a, &none, "QL-01", raw),
            (raw, Status::Manual),
            "back to manual when due"
        );
        let revoked = [attestation("QL-01", 100, 200, Some(120))];
        assert_eq!(at(130, &[], &revoked, &none, "QL-01", raw).1, Status::Manual);
        // It does not hide a failing check.
        assert_eq!(
            at(150, &[], &a, &none, "QL-01", counts(0, 1, 0, 1)),
            (counts(1, 1, 0, 0), Status::Fail)
        );
        // Nothing evaluated yet: the statement is there.
        assert_eq!(at(150, &[], &a, &none, "QL-01", Counts::default()).1, Status::Pass);
        // An attested manual endpoint passes rather than being waived.
        let statuses = BTreeMap::from([("e1".to_string(), BTreeMap::from([("QL-01".to_string(), Status::Manual)]))]);
        let w = [waiver(1, Some("e1"), "QL-01", 0, 300, None)];
        assert_eq!(
            at(150, &w, &a, &statuses, "QL-01", counts(0, 0, 0, 1)),
            (counts(1, 0, 0, 0), Status::Pass)
        );
        assert_eq!(
            at(250, &w, &a, &statuses, "QL-01", counts(0, 0, 0, 1)),
            (waived(counts(0, 0, 0, 0), 1), Status::Waived),
            "after the attestation, the waiver"
        );
    }

    #[test]
    fn records_map_to_the_evidence_pack() {
        let w = waiver(1, Some("e1"), "MD-01", 1_777_593_600_000, 1_777_593_600_000 + DAY, None);
        let e = w.evidence();
        assert_eq!(
            (e.endpoint.as_deref(), e.start.unix_millis(), e.expiry.unix_millis()),
            (Some("e1"), w.start_at, w.expiry_at)
        );
        let a = attestation("QL-01", 1_777_593_600_000, 1_777_593_600_000 + DAY, None).evidence();
        assert_eq!(
            (a.file_name.as_str(), a.valid_until.unix_millis()),
            ("f.pdf", 1_777_593_600_000 + DAY)
        );
    }

    // ---- against a store -----------------------------------------------------------

    fn policies() -> Policies {
        Policies::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")).unwrap()
    }

    /// TW and two provinces; a level-3 system in DLK with one member endpoint
    /// that fails MD-01 and waits for an attestation on QL-01.
    async fn setup(policies: &Policies) -> (tempfile::TempDir, Store, System) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .unwrap();
        let root = Caller::seed("test");
        let fw = Frameworks::from_policies(policies);
        register::apply(&store, &root, &fw, async |c| {
            for (code, parent) in [("TW", None), ("DLK", Some("TW")), ("HN", Some("TW"))] {
                c.create_org_unit(&NewUnit {
                    code: code.into(),
                    parent: parent.map(Into::into),
                    name: code.into(),
                    default_level: 2,
                })
                .await?;
            }
            c.create_system(&NewSystem {
                code: "DLK-S".into(),
                org_unit: "DLK".into(),
                name: "S".into(),
                level: 3,
                framework: "tcvn-14423-2026".into(),
                dossier: Default::default(),
            })
            .await
        })
        .await
        .unwrap();
        let system = store.system("DLK-S").await.unwrap().unwrap();
        let dlk = store.org_unit("DLK").await.unwrap().unwrap();
        sqlx::query("INSERT INTO endpoints (id, org_unit_id, hostname, signing_key, enrolled_at) VALUES ('e1', $1, 'pc', 'k', 0)")
            .bind(dlk.id)
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO endpoint_systems (endpoint_id, system_id) VALUES ('e1', $1)")
            .bind(system.id)
            .execute(store.pool())
            .await
            .unwrap();
        let fw = policies.framework("tcvn-14423-2026").unwrap();
        let mut statuses = BTreeMap::new();
        for r in fw.at_level(3) {
            let s = match r.id.as_str() {
                "MD-01" => "fail",
                "QL-01" => "manual",
                _ => "pass",
            };
            statuses.insert(r.id.clone(), s.to_string());
            sqlx::query("INSERT INTO requirement_counts (system_id, requirement, status, n) VALUES ($1, $2, $3, 1)")
                .bind(system.id)
                .bind(&r.id)
                .bind(s)
                .execute(store.pool())
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO evaluations (endpoint_id, scope, framework, level, policy_digest, report_seq, evaluated_at, compliant,
                 n_pass, n_fail, n_error, n_na, n_manual, requirements)
             VALUES ('e1', 'DLK-S', 'tcvn-14423-2026', 3, '', 1, 0, 0, 0, 1, 0, 0, 1, $1)",
        )
        .bind(serde_json::to_string(&statuses).unwrap())
        .execute(store.pool())
        .await
        .unwrap();
        (dir, store, system)
    }

    fn status(c: &crate::compliance::SystemCompliance, req: &str) -> (Status, Counts) {
        let r = c.requirements.iter().find(|r| r.id == req).unwrap();
        (r.status, r.counts)
    }

    fn cli() -> Caller {
        Caller {
            actor: "cli:test".into(),
            scope: None,
        }
    }

    #[tokio::test]
    async fn exceptions_change_compliance_as_of_the_time_asked_and_are_audited() {
        let policies = policies();
        let (_dir, store, system) = setup(&policies).await;
        let now = Timestamp::now().unix_millis();
        let c = system_compliance(&store, &policies, &system, now).await.unwrap();
        assert_eq!(status(&c, "MD-01").0, Status::Fail);
        assert!(!c.compliant);

        let w = create_waiver(
            &store,
            &policies,
            &cli(),
            &NewWaiver {
                target: WaiverTarget::System("DLK-S".into()),
                requirement: "MD-01".into(),
                reason: "The anti-malware server is replaced next month".into(),
                approver: "Chánh Văn phòng".into(),
                start: None,
                expiry: now + 30 * DAY,
            },
            now,
        )
        .await
        .unwrap();
        assert_eq!((w.system.as_deref(), w.path.as_str()), (Some("DLK-S"), "/TW/DLK/"));
        let c = system_compliance(&store, &policies, &system, now + 1).await.unwrap();
        assert_eq!(status(&c, "MD-01"), (Status::Waived, waived(counts(0, 0, 0, 0), 1)));
        assert!(c.compliant, "a waived requirement is no problem");
        let later = system_compliance(&store, &policies, &system, now + 31 * DAY).await.unwrap();
        assert_eq!(
            status(&later, "MD-01").0,
            Status::Fail,
            "expired: back to what the endpoint reports"
        );

        let bytes = b"%PDF-1.7 Quy che bao dam an ninh mang".to_vec();
        let new = NewAttestation {
            system: "DLK-S".into(),
            requirement: "QL-01".into(),
            attested_by: "Nguyễn Văn A".into(),
            attested_at: None,
            valid_until: now + 365 * DAY,
            file_name: "quy-che.pdf".into(),
        };
        let a = create_attestation(&store, &policies, &cli(), &new, &bytes, now).await.unwrap();
        assert_eq!((a.file_sha256.clone(), a.file_size), (sha256_hex(&bytes), bytes.len() as i64));
        let again = create_attestation(&store, &policies, &cli(), &new, &bytes, now).await.unwrap();
        assert_eq!(again.file_sha256, a.file_sha256);
        assert_eq!(
            files_stored(&store).await.unwrap(),
            (1, bytes.len() as i64),
            "the same bytes are stored once"
        );
        assert_eq!(get_file(&store, &a.file_sha256).await.unwrap().unwrap().content, bytes);
        let c = system_compliance(&store, &policies, &system, now + 1).await.unwrap();
        assert_eq!(status(&c, "QL-01"), (Status::Pass, counts(1, 0, 0, 0)));
        let due = system_compliance(&store, &policies, &system, now + 366 * DAY).await.unwrap();
        assert_eq!(status(&due, "QL-01"), (Status::Manual, counts(0, 0, 0, 1)));

        // The evidence pack's view.
        let ex = for_system(&store, &system, now + 1).await.unwrap();
        assert_eq!(ex.active_for("MD-01").waivers.len(), 1);
        assert_eq!(ex.active_for("QL-01").attestations.len(), 2);
        let ex = for_system(&store, &system, now + 31 * DAY).await.unwrap();
        assert!(ex.active_for("MD-01").waivers.is_empty());
        assert_eq!(ex.all["MD-01"].waivers[0].state(ex.now_ms), State::Expired);

        // Revocation: at once, once.
        revoke_waiver(&store, &cli(), w.id, now + 2).await.unwrap();
        let c = system_compliance(&store, &policies, &system, now + 3).await.unwrap();
        assert_eq!(status(&c, "MD-01").0, Status::Fail);
        let e = revoke_waiver(&store, &cli(), w.id, now + 4).await.unwrap_err();
        assert!(matches!(e, ExceptionError::Conflict(_)), "{e}");
        revoke_attestation(&store, &cli(), a.id, now + 2).await.unwrap();
        let f = Filter {
            now: now + 5,
            ..Filter::default()
        };
        assert!(
            waivers(&store, &f).await.unwrap().is_empty(),
            "revoked ones leave the default listing"
        );
        assert_eq!(attestations(&store, &f).await.unwrap().len(), 1);
        assert_eq!(waivers(&store, &Filter { all: true, ..f.clone() }).await.unwrap().len(), 1);

        // An endpoint waiver.
        let ew = create_waiver(
            &store,
            &policies,
            &cli(),
            &NewWaiver {
                target: WaiverTarget::Endpoint("e1".into()),
                requirement: "MD-01".into(),
                reason: "r".into(),
                approver: "a".into(),
                start: Some(now + DAY),
                expiry: now + 2 * DAY,
            },
            now,
        )
        .await
        .unwrap();
        assert_eq!((ew.endpoint.as_deref(), ew.system.as_deref()), (Some("e1"), None));
        let c = system_compliance(&store, &policies, &system, now + 10).await.unwrap();
        assert_eq!(status(&c, "MD-01").0, Status::Fail, "not started yet");
        let c = system_compliance(&store, &policies, &system, now + DAY).await.unwrap();
        assert_eq!(status(&c, "MD-01"), (Status::Waived, waived(counts(0, 0, 0, 0), 1)));
        let listed = waivers(
            &store,
            &Filter {
                system_id: Some(system.id),
                ..f.clone()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            listed.iter().map(|w| w.id).collect::<Vec<_>>(),
            [ew.id],
            "a member's waivers list with its system"
        );

        let log = audit::list(
            &store,
            &audit::Filter {
                limit: 100,
                ..audit::Filter::default()
            },
        )
        .await
        .unwrap();
        let mine: Vec<(&str, &str)> = log
            .iter()
            .filter(|r| r.object_kind == "waiver" || r.object_kind == "attestation")
            .map(|r| (r.action.as_str(), r.object_kind.as_str()))
            .collect();
        assert_eq!(
            mine,
            [
                ("create", "waiver"),
                ("revoke", "attestation"),
                ("revoke", "waiver"),
                ("create", "attestation"),
                ("create", "attestation"),
                ("create", "waiver")
            ]
        );
        let revoked = log.iter().find(|r| r.action == "revoke" && r.object_kind == "waiver").unwrap();
        assert_eq!(revoked.before.as_ref().unwrap()["revoked_at"], Value::Null);
        assert!(revoked.after.as_ref().unwrap()["revoked_at"].is_string());
        assert_eq!((revoked.path.as_str(), revoked.actor.as_str()), ("/TW/DLK/", "cli:test"));
    }

    #[tokio::test]
    async fn mistakes_are_refused_naming_the_field_and_scopes_are_kept() {
        let policies = policies();
        let (_dir, store, _) = setup(&policies).await;
        let now = Timestamp::now().unix_millis();
        let base = NewWaiver {
            target: WaiverTarget::System("DLK-S".into()),
            requirement: "MD-01".into(),
            reason: "r".into(),
            approver: "a".into(),
            start: None,
            expiry: now + DAY,
        };
        let refused = async |w: NewWaiver| create_waiver(&store, &policies, &cli(), &w, now).await.unwrap_err().to_string();
        let e = refused(NewWaiver {
            requirement: "XX-99".into(),
            ..base.clone()
        })
        .await;
        assert!(
            e.contains("waiver for system DLK-S: requirement: \"XX-99\" is not a requirement of tcvn-14423-2026"),
            "{e}"
        );
        let e = refused(NewWaiver {
            start: Some(now + 2 * DAY),
            ..base.clone()
        })
        .await;
        assert!(e.contains(": expiry: ") && e.contains("is not after the start"), "{e}");
        let e = refused(NewWaiver {
            expiry: now - 1,
            start: Some(now - DAY),
            ..base.clone()
        })
        .await;
        assert!(e.contains(": expiry: ") && e.contains("already past"), "{e}");
        let e = refused(NewWaiver {
            approver: " ".into(),
            ..base.clone()
        })
        .await;
        assert!(e.contains("approver: must not be empty"), "{e}");
        let e = refused(NewWaiver {
            target: WaiverTarget::Endpoint("nope".into()),
            ..base.clone()
        })
        .await;
        assert!(e.contains("endpoint: no enrolled endpoint nope"), "{e}");
        let e = refused(NewWaiver {
            target: WaiverTarget::System("NOPE".into()),
            ..base.clone()
        })
        .await;
        assert!(e.contains("system: no system NOPE"), "{e}");

        let att = NewAttestation {
            system: "DLK-S".into(),
            requirement: "QL-01".into(),
            attested_by: "b".into(),
            attested_at: None,
            valid_until: now + DAY,
            file_name: "a.pdf".into(),
        };
        let refused =
            async |a: NewAttestation, bytes: &[u8]| create_attestation(&store, &policies, &cli(), &a, bytes, now).await.unwrap_err();
        let e = refused(
            NewAttestation {
                requirement: "MD-01".into(),
                ..att.clone()
            },
            b"x",
        )
        .await
        .to_string();
        assert!(e.contains("requirement: MD-01 is verified on the endpoints"), "{e}");
        let e = refused(att.clone(), b"").await.to_string();
        assert!(e.contains("file: is empty"), "{e}");
        let big = vec![0u8; MAX_FILE_BYTES + 1];
        let e = refused(att.clone(), &big).await;
        assert!(matches!(e, ExceptionError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("file: 20971521 bytes is more than the limit"), "{e}");
        let e = refused(
            NewAttestation {
                file_name: "../etc/passwd".into(),
                ..att.clone()
            },
            b"x",
        )
        .await
        .to_string();
        assert!(e.contains("file_name:"), "{e}");
        let e = refused(
            NewAttestation {
                valid_until: now - 1,
                ..att.clone()
            },
            b"x",
        )
        .await
        .to_string();
        assert!(e.contains("valid_until:"), "{e}");

        // A key scoped to Hà Nội neither creates nor revokes for Đắk Lắk, nor lists its exceptions.
        let hn = Caller {
            actor: "apikey:2".into(),
            scope: Some("/TW/HN/".into()),
        };
        let e = create_waiver(&store, &policies, &hn, &base, now).await.unwrap_err();
        assert!(matches!(e, ExceptionError::Forbidden(_)), "{e}");
        let e = create_attestation(&store, &policies, &hn, &att, b"x", now).await.unwrap_err();
        assert!(matches!(e, ExceptionError::Forbidden(_)), "{e}");
        let w = create_waiver(&store, &policies, &cli(), &base, now).await.unwrap();
        let e = revoke_waiver(&store, &hn, w.id, now).await.unwrap_err();
        assert!(matches!(e, ExceptionError::Forbidden(_)), "{e}");
        let f = |under: &str| Filter {
            under: Some(under.into()),
            now,
            ..Filter::default()
        };
        assert!(waivers(&store, &f("/TW/HN/")).await.unwrap().is_empty());
        assert_eq!(waivers(&store, &f("/TW/DLK/")).await.unwrap().len(), 1);
        assert!(!visible(Some("/TW/HN/"), &w.path, &w.current_path));
        assert!(visible(None, &w.path, &w.current_path));
    }
}
