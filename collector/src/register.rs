//! The register: org units (a tree of any depth: central → province →
//! commune), information systems with their level dossiers, and endpoints'
//! membership of systems with the role they have there.
//!
//! Seed, CLI and API change it only through [`Change`]: one transaction that
//! validates each change (codes, references, levels against the policies
//! catalogue, the caller's subtree), applies it and writes its audit record,
//! then commits all of it or nothing. A change that changes nothing writes no
//! record, so loading a seed twice leaves the log as it was.
//!
//! Retirement is soft (`retired_at`): a retired unit or system leaves listings
//! and evaluations but keeps its row and its code, for history.

use crate::audit::{self, AuditRow, Entry, ObjectKind};
use crate::evaluate::Policies;
use crate::store::{ApiKey, Store, StoreError};
use khien_proto::Timestamp;
use khien_proto::facts::Role;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use time::{Date, Month};

pub const DATE_FORMAT: time::format_description::StaticFormatDescription = time::macros::format_description!("[year]-[month]-[day]");

/// Longest name, decision number or approver accepted, in characters.
const MAX_TEXT: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{0}")]
    NotFound(String),
    /// A value that cannot be accepted; `field` is the name the caller used
    /// (seed key, CLI option without dashes, JSON field).
    #[error("{subject}: {field}: {message}")]
    Invalid {
        subject: String,
        field: &'static str,
        message: String,
    },
    /// The register's state forbids it: a duplicate code, a retired object, a
    /// unit that still has active children.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RegisterError {
    fn from(e: sqlx::Error) -> Self {
        RegisterError::Store(StoreError::Db(e))
    }
}

pub type Result<T, E = RegisterError> = std::result::Result<T, E>;

fn invalid(subject: &str, field: &'static str, message: impl Into<String>) -> RegisterError {
    RegisterError::Invalid {
        subject: subject.to_string(),
        field,
        message: message.into(),
    }
}

// ---- values ------------------------------------------------------------------------

/// A code: ASCII upper-case letters, digits and dashes (they are also path
/// segments and LIKE prefixes, so nothing else may appear in them).
pub fn valid_code(c: &str) -> bool {
    !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

fn check_code(subject: &str, code: &str) -> Result<()> {
    if valid_code(code) {
        Ok(())
    } else {
        Err(invalid(
            subject,
            "code",
            format!("{code:?} is not a code: use 1 to 64 ASCII upper-case letters, digits and dashes"),
        ))
    }
}

/// Trimmed text of at most [`MAX_TEXT`] characters, without control characters.
fn check_text(subject: &str, field: &'static str, text: &str) -> Result<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(invalid(subject, field, "must not be empty"));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(invalid(subject, field, format!("is longer than {MAX_TEXT} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(invalid(subject, field, "must not contain control characters"));
    }
    Ok(t.to_string())
}

pub fn parse_date(subject: &str, field: &'static str, text: &str) -> Result<Date> {
    Date::parse(text.trim(), DATE_FORMAT).map_err(|_| invalid(subject, field, format!("{text:?} is not a date like 2026-03-16")))
}

pub fn format_date(d: Date) -> String {
    d.format(DATE_FORMAT).unwrap_or_default()
}

fn add_months(d: Date, months: i32) -> Date {
    let total = d.year() * 12 + i32::from(u8::from(d.month())) - 1 + months;
    let year = total.div_euclid(12);
    let month = Month::try_from((total.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
    // 31 August + 6 months is the last day of February.
    Date::from_calendar_date(year, month, d.day().min(month.length(year))).unwrap_or(d)
}

/// When the next periodic assessment of a system approved on `decision` is
/// due (levels.md §1.3, Decree 85 Art. 20(2)(c)): every 2 years at levels
/// 1–2, every year at levels 3–4, every 6 months at level 5.
pub fn next_assessment(level: u8, decision: Date) -> Date {
    let months = match level {
        0..=2 => 24,
        3 | 4 => 12,
        _ => 6,
    };
    add_months(decision, months)
}

/// How the next assessment date is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextAssessment {
    /// Computed from the decision date and the level, and recomputed when they change.
    Auto,
    /// Set explicitly; kept as it is when the level or the decision date changes.
    On(Date),
}

impl NextAssessment {
    /// `auto` or a date.
    pub fn parse(subject: &str, text: &str) -> Result<NextAssessment> {
        if text.trim() == "auto" {
            Ok(NextAssessment::Auto)
        } else {
            parse_date(subject, "next_assessment_date", text)
                .map(NextAssessment::On)
                .map_err(|_| {
                    invalid(
                        subject,
                        "next_assessment_date",
                        format!("{text:?} is neither a date like 2027-03-16 nor `auto`"),
                    )
                })
        }
    }
}

/// A role in a system: `workstation` or `server`; `reported` (or nothing):
/// the role the endpoint reports.
pub fn parse_role(subject: &str, text: Option<&str>) -> Result<Option<Role>> {
    match text.map(str::trim) {
        None | Some("reported") => Ok(None),
        Some(t) => Role::parse(t)
            .map(Some)
            .ok_or_else(|| invalid(subject, "role", format!("{t:?} is not a role: use workstation, server or reported"))),
    }
}

/// A system's level dossier ("hồ sơ đề xuất cấp độ").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dossier {
    pub decision_number: Option<String>,
    pub decision_date: Option<Date>,
    pub approver: Option<String>,
    pub next_assessment_date: Option<Date>,
    /// The next assessment date was set explicitly, not computed.
    pub next_assessment_explicit: bool,
}

/// Changes to a dossier: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DossierChanges {
    pub decision_number: Option<Option<String>>,
    pub decision_date: Option<Option<Date>>,
    pub approver: Option<Option<String>>,
    pub next_assessment: Option<NextAssessment>,
}

impl Dossier {
    fn json(&self) -> Value {
        json!({
            "decision_number": self.decision_number,
            "decision_date": self.decision_date.map(format_date),
            "approver": self.approver,
            "next_assessment_date": self.next_assessment_date.map(format_date),
            "next_assessment_explicit": self.next_assessment_explicit,
        })
    }

    /// The dossier after `changes`, for a system at `level`; `level_changed`
    /// says whether the level differs from before (always true for a new system).
    fn apply(&self, subject: &str, changes: &DossierChanges, level: u8, level_changed: bool) -> Result<Dossier> {
        let text = |field: &'static str, v: &Option<Option<String>>, old: &Option<String>| -> Result<Option<String>> {
            match v {
                None => Ok(old.clone()),
                Some(None) => Ok(None),
                Some(Some(t)) if t.trim().is_empty() => Ok(None),
                Some(Some(t)) => check_text(subject, field, t).map(Some),
            }
        };
        let mut d = Dossier {
            decision_number: text("decision_number", &changes.decision_number, &self.decision_number)?,
            approver: text("approver", &changes.approver, &self.approver)?,
            decision_date: changes.decision_date.unwrap_or(self.decision_date),
            next_assessment_date: self.next_assessment_date,
            next_assessment_explicit: self.next_assessment_explicit,
        };
        let computed = d.decision_date.map(|date| next_assessment(level, date));
        match changes.next_assessment {
            Some(NextAssessment::On(date)) => {
                d.next_assessment_date = Some(date);
                d.next_assessment_explicit = true;
            }
            Some(NextAssessment::Auto) => {
                d.next_assessment_date = computed;
                d.next_assessment_explicit = false;
            }
            None if !d.next_assessment_explicit && (level_changed || d.decision_date != self.decision_date) => {
                d.next_assessment_date = computed;
            }
            None => {}
        }
        if let (Some(decision), Some(next)) = (d.decision_date, d.next_assessment_date)
            && next <= decision
        {
            return Err(invalid(
                subject,
                "next_assessment_date",
                format!("{} is not after the decision date {}", format_date(next), format_date(decision)),
            ));
        }
        Ok(d)
    }
}

/// The frameworks a system may name, with their levels: the policies
/// catalogue the collector loads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frameworks(BTreeMap<String, Vec<u8>>);

impl Frameworks {
    pub fn new(frameworks: impl IntoIterator<Item = (String, Vec<u8>)>) -> Frameworks {
        Frameworks(frameworks.into_iter().collect())
    }

    /// From the catalogue's headers, without compiling any check.
    pub fn from_catalogue(c: &khien_policy::Catalogue) -> Frameworks {
        Frameworks::new(c.frameworks.iter().map(|(id, f)| (id.clone(), f.levels.clone())))
    }

    pub fn from_policies(p: &Policies) -> Frameworks {
        Frameworks::new(
            p.ids()
                .into_iter()
                .filter_map(|id| p.framework(id).map(|f| (id.to_string(), f.levels.clone()))),
        )
    }

    pub fn ids(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    pub fn check(&self, subject: &str, framework: &str, level: u8) -> Result<()> {
        let Some(levels) = self.0.get(framework) else {
            return Err(invalid(
                subject,
                "framework",
                format!(
                    "{framework:?} is not in the policies catalogue (installed: {})",
                    self.ids().join(", ")
                ),
            ));
        };
        if !levels.contains(&level) {
            let list: Vec<String> = levels.iter().map(u8::to_string).collect();
            return Err(invalid(
                subject,
                "level",
                format!("{level} is not a level of {framework} (its levels: {})", list.join(", ")),
            ));
        }
        Ok(())
    }
}

/// Who makes a change, and the subtree they may change: the CLI, a seed, or
/// an `auth::Principal` (API key or dashboard account) through its `caller()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `cli:<os user>`, `seed:<file>`, `apikey:<id>` or `user:<username>`.
    pub actor: String,
    /// Subtree path (`/TW/DLK/`); `None` for the whole tree.
    pub scope: Option<String>,
}

impl Caller {
    pub fn cli() -> Caller {
        Caller {
            actor: audit::cli_actor(),
            scope: None,
        }
    }

    pub fn seed(file: &str) -> Caller {
        Caller {
            actor: format!("seed:{file}"),
            scope: None,
        }
    }

    pub fn api_key(key: &ApiKey) -> Caller {
        crate::auth::Principal::api_key(key).caller()
    }

    pub fn allows(&self, path: &str) -> bool {
        crate::auth::in_scope(self.scope.as_deref(), path)
    }

    fn check(&self, path: &str, what: &str) -> Result<()> {
        if self.allows(path) {
            Ok(())
        } else {
            Err(RegisterError::Forbidden(format!("{what} is outside this key's org unit")))
        }
    }
}

// ---- records -----------------------------------------------------------------------

fn iso(ms: Option<i64>) -> Value {
    ms.and_then(Timestamp::from_unix_millis)
        .map(|t| json!(t.to_string()))
        .unwrap_or(Value::Null)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRecord {
    pub id: i64,
    pub code: String,
    pub parent: Option<String>,
    pub name: String,
    pub default_level: u8,
    pub path: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl UnitRecord {
    pub fn json(&self) -> Value {
        json!({
            "code": self.code, "parent": self.parent, "name": self.name, "default_level": self.default_level,
            "path": self.path, "created_at": iso(Some(self.created_at)), "retired_at": iso(self.retired_at),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub org_unit: String,
    pub org_unit_path: String,
    pub level: u8,
    pub framework: String,
    pub dossier: Dossier,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl SystemRecord {
    pub fn json(&self) -> Value {
        json!({
            "code": self.code, "name": self.name, "org_unit": self.org_unit, "level": self.level,
            "framework": self.framework, "dossier": self.dossier.json(),
            "created_at": iso(Some(self.created_at)), "retired_at": iso(self.retired_at),
        })
    }
}

/// An endpoint's membership of a system, as the register holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub system: String,
    /// `None`: the role the endpoint reports.
    pub role: Option<Role>,
}

fn members_json(members: &[Member]) -> Value {
    json!({"systems": members.iter().map(|m| json!({"code": m.system, "role": m.role.map(Role::as_str)})).collect::<Vec<_>>()})
}

const UNIT_SELECT: &str = "SELECT u.id, u.code, p.code AS parent, u.name, u.default_level, u.path, u.created_at, u.retired_at
     FROM org_units u LEFT JOIN org_units p ON p.id = u.parent_id";

const SYSTEM_SELECT: &str = "SELECT s.id, s.code, s.name, o.code AS org_unit, o.path AS org_unit_path, s.level, s.framework,
         s.decision_number, s.decision_date, s.approver, s.next_assessment_date, s.next_assessment_explicit,
         s.created_at, s.retired_at
     FROM systems s JOIN org_units o ON o.id = s.org_unit_id";

fn level_of(v: i16) -> u8 {
    u8::try_from(v).unwrap_or(0)
}

fn unit_from(r: &AnyRow) -> Result<UnitRecord, StoreError> {
    Ok(UnitRecord {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        parent: r.try_get("parent")?,
        name: r.try_get("name")?,
        default_level: level_of(r.try_get("default_level")?),
        path: r.try_get("path")?,
        created_at: r.try_get("created_at")?,
        retired_at: r.try_get("retired_at")?,
    })
}

fn system_from(r: &AnyRow) -> Result<SystemRecord, StoreError> {
    let date = |col: &str| -> Result<Option<Date>, StoreError> {
        Ok(r.try_get::<Option<String>, _>(col)?.and_then(|t| Date::parse(&t, DATE_FORMAT).ok()))
    };
    Ok(SystemRecord {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        org_unit: r.try_get("org_unit")?,
        org_unit_path: r.try_get("org_unit_path")?,
        level: level_of(r.try_get("level")?),
        framework: r.try_get("framework")?,
        dossier: Dossier {
            decision_number: r.try_get("decision_number")?,
            decision_date: date("decision_date")?,
            approver: r.try_get("approver")?,
            next_assessment_date: date("next_assessment_date")?,
            next_assessment_explicit: r.try_get::<i16, _>("next_assessment_explicit")? != 0,
        },
        created_at: r.try_get("created_at")?,
        retired_at: r.try_get("retired_at")?,
    })
}

async fn fetch_unit<'e, E: sqlx::Executor<'e, Database = Any>>(e: E, code: &str) -> Result<Option<UnitRecord>, StoreError> {
    let sql = format!("{UNIT_SELECT} WHERE u.code = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(e).await?;
    row.as_ref().map(unit_from).transpose()
}

async fn fetch_system<'e, E: sqlx::Executor<'e, Database = Any>>(e: E, code: &str) -> Result<Option<SystemRecord>, StoreError> {
    let sql = format!("{SYSTEM_SELECT} WHERE s.code = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(e).await?;
    row.as_ref().map(system_from).transpose()
}

// ---- reads -------------------------------------------------------------------------

/// A unit by code, retired or not.
pub async fn org_unit(store: &Store, code: &str) -> Result<Option<UnitRecord>, StoreError> {
    fetch_unit(store.pool(), code).await
}

/// Units in a subtree (all when `under` is `None`), in tree order.
pub async fn org_units(store: &Store, under: Option<&str>, retired: bool, limit: i64, offset: i64) -> Result<Vec<UnitRecord>, StoreError> {
    let sql = format!(
        "{UNIT_SELECT} WHERE ($1 = '' OR u.path LIKE $1) AND ($2 = 1 OR u.retired_at IS NULL)
         ORDER BY u.path LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(under.map(|p| format!("{p}%")).unwrap_or_default())
        .bind(i16::from(retired))
        .bind(limit)
        .bind(offset)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(unit_from).collect()
}

/// A system by code, retired or not.
pub async fn system(store: &Store, code: &str) -> Result<Option<SystemRecord>, StoreError> {
    fetch_system(store.pool(), code).await
}

/// Systems owned by the units of a subtree (all when `under` is `None`).
pub async fn systems(store: &Store, under: Option<&str>, retired: bool, limit: i64, offset: i64) -> Result<Vec<SystemRecord>, StoreError> {
    let sql = format!(
        "{SYSTEM_SELECT} WHERE ($1 = '' OR o.path LIKE $1) AND ($2 = 1 OR s.retired_at IS NULL)
         ORDER BY o.path, s.code LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(under.map(|p| format!("{p}%")).unwrap_or_default())
        .bind(i16::from(retired))
        .bind(limit)
        .bind(offset)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(system_from).collect()
}

/// An endpoint's memberships of active systems, with the roles the register gives it.
pub async fn members<'e, E: sqlx::Executor<'e, Database = Any>>(e: E, endpoint_id: &str) -> Result<Vec<Member>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.code, es.role FROM endpoint_systems es JOIN systems s ON s.id = es.system_id
         WHERE es.endpoint_id = $1 AND s.retired_at IS NULL ORDER BY s.code",
    )
    .bind(endpoint_id)
    .fetch_all(e)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Member {
                system: r.try_get("code")?,
                role: r.try_get::<Option<String>, _>("role")?.as_deref().and_then(Role::parse),
            })
        })
        .collect()
}

/// The endpoints whose verdicts the audited changes may have changed: members
/// of a system whose level or framework changed or that was retired, the
/// endpoints of a unit whose default level changed, an endpoint whose
/// memberships changed.
pub async fn endpoints_affected(store: &Store, rows: &[AuditRow]) -> Result<BTreeSet<String>, StoreError> {
    let differs = |r: &AuditRow, field: &str| r.before.as_ref().and_then(|v| v.get(field)) != r.after.as_ref().and_then(|v| v.get(field));
    let mut out = BTreeSet::new();
    for r in rows {
        match (r.object_kind.as_str(), r.action.as_str()) {
            ("endpoint", _) => {
                out.insert(r.object_code.clone());
            }
            ("system", "retire") | ("system", "update") => {
                if r.action == "update" && !differs(r, "level") && !differs(r, "framework") {
                    continue;
                }
                if let Some(s) = store.system(&r.object_code).await? {
                    out.extend(store.system_member_ids(s.id).await?);
                }
            }
            ("org_unit", "update") if differs(r, "default_level") => {
                if let Some(u) = store.org_unit(&r.object_code).await? {
                    out.extend(store.unit_endpoint_ids(u.id).await?);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

// ---- changes -----------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUnit {
    pub code: String,
    /// `None` for a root.
    pub parent: Option<String>,
    pub name: String,
    pub default_level: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitChanges {
    pub name: Option<String>,
    pub default_level: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSystem {
    pub code: String,
    pub org_unit: String,
    pub name: String,
    pub level: u8,
    pub framework: String,
    pub dossier: DossierChanges,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemChanges {
    pub name: Option<String>,
    pub level: Option<u8>,
    pub framework: Option<String>,
    pub dossier: DossierChanges,
}

fn check_default_level(subject: &str, level: u8) -> Result<()> {
    if (1..=5).contains(&level) {
        Ok(())
    } else {
        Err(invalid(subject, "default_level", format!("{level} is not a level (1 to 5)")))
    }
}

/// Up to five codes, and how many more.
fn some_codes(codes: &[String]) -> String {
    let mut s = codes.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if codes.len() > 5 {
        s.push_str(&format!(" and {} more", codes.len() - 5));
    }
    s
}

/// One transaction of register changes, each audited.
pub struct Change<'a> {
    tx: Transaction<'static, Any>,
    caller: &'a Caller,
    frameworks: &'a Frameworks,
    now: i64,
    records: usize,
}

impl<'a> Change<'a> {
    pub async fn begin(store: &Store, caller: &'a Caller, frameworks: &'a Frameworks) -> Result<Change<'a>> {
        // Register changes read, check, then write (a subtree's paths, a unit's
        // children): they are serialised. On SQLite IMMEDIATE takes the write
        // lock at once, so the read cannot go stale while ingest commits (a
        // deferred transaction would fail to upgrade); on PostgreSQL the lock on
        // the audit log, which every change writes, orders them without
        // blocking readers or ingest.
        let tx = store.begin_locking("audit_log").await?;
        Ok(Change {
            tx,
            caller,
            frameworks,
            now: Timestamp::now().unix_millis(),
            records: 0,
        })
    }

    /// Commits; returns how many audit records (changes) were written.
    pub async fn commit(self) -> Result<usize> {
        self.tx.commit().await?;
        Ok(self.records)
    }

    async fn audit(&mut self, entry: Entry<'_>) -> Result<()> {
        audit::record(&mut self.tx, self.now, &self.caller.actor, &entry).await?;
        self.records += 1;
        Ok(())
    }

    pub async fn org_unit(&mut self, code: &str) -> Result<Option<UnitRecord>> {
        Ok(fetch_unit(&mut *self.tx, code).await?)
    }

    pub async fn system(&mut self, code: &str) -> Result<Option<SystemRecord>> {
        Ok(fetch_system(&mut *self.tx, code).await?)
    }

    /// The unit, in the caller's subtree, not retired.
    async fn active_unit(&mut self, code: &str) -> Result<UnitRecord> {
        let unit = self
            .org_unit(code)
            .await?
            .ok_or_else(|| RegisterError::NotFound(format!("no org unit {code}")))?;
        self.caller.check(&unit.path, &format!("org unit {code}"))?;
        if unit.retired_at.is_some() {
            return Err(RegisterError::Conflict(format!("org unit {code} has been retired")));
        }
        Ok(unit)
    }

    /// A unit named by a field (`parent`, `org_unit`): it must exist and be active.
    async fn referenced_unit(&mut self, subject: &str, field: &'static str, code: &str) -> Result<UnitRecord> {
        match self.org_unit(code).await? {
            None => Err(invalid(subject, field, format!("no org unit {code}"))),
            Some(u) if u.retired_at.is_some() => Err(invalid(subject, field, format!("org unit {code} has been retired"))),
            Some(u) => Ok(u),
        }
    }

    pub async fn create_org_unit(&mut self, u: &NewUnit) -> Result<UnitRecord> {
        let subject = format!("org unit {}", u.code);
        check_code(&subject, &u.code)?;
        let name = check_text(&subject, "name", &u.name)?;
        check_default_level(&subject, u.default_level)?;
        let (parent_id, path) = match &u.parent {
            Some(p) => {
                let parent = self.referenced_unit(&subject, "parent", p).await?;
                (Some(parent.id), format!("{}{}/", parent.path, u.code))
            }
            None => (None, format!("/{}/", u.code)),
        };
        self.caller.check(&path, &subject)?;
        if let Some(existing) = self.org_unit(&u.code).await? {
            return Err(RegisterError::Conflict(format!(
                "{subject} already exists{}",
                if existing.retired_at.is_some() {
                    " (retired; codes are not reused)"
                } else {
                    ""
                }
            )));
        }
        sqlx::query("INSERT INTO org_units (code, parent_id, name, default_level, path, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&u.code)
            .bind(parent_id)
            .bind(&name)
            .bind(i16::from(u.default_level))
            .bind(&path)
            .bind(self.now)
            .execute(&mut *self.tx)
            .await?;
        let created = self
            .org_unit(&u.code)
            .await?
            .ok_or_else(|| RegisterError::NotFound(subject.clone()))?;
        self.audit(Entry {
            action: "create",
            kind: ObjectKind::OrgUnit,
            code: &u.code,
            path: &path,
            path_before: None,
            before: None,
            after: Some(created.json()),
        })
        .await?;
        Ok(created)
    }

    pub async fn update_org_unit(&mut self, code: &str, c: &UnitChanges) -> Result<UnitRecord> {
        let subject = format!("org unit {code}");
        let before = self.active_unit(code).await?;
        let name = match &c.name {
            Some(n) => check_text(&subject, "name", n)?,
            None => before.name.clone(),
        };
        let default_level = c.default_level.unwrap_or(before.default_level);
        check_default_level(&subject, default_level)?;
        if name == before.name && default_level == before.default_level {
            return Ok(before);
        }
        sqlx::query("UPDATE org_units SET name = $1, default_level = $2 WHERE id = $3")
            .bind(&name)
            .bind(i16::from(default_level))
            .bind(before.id)
            .execute(&mut *self.tx)
            .await?;
        let after = UnitRecord {
            name,
            default_level,
            ..before.clone()
        };
        self.audit(Entry {
            action: "update",
            kind: ObjectKind::OrgUnit,
            code,
            path: &after.path,
            path_before: None,
            before: Some(before.json()),
            after: Some(after.json()),
        })
        .await?;
        Ok(after)
    }

    /// Moves a unit, and its whole subtree, under another parent.
    pub async fn move_org_unit(&mut self, code: &str, parent: &str) -> Result<UnitRecord> {
        let subject = format!("org unit {code}");
        let before = self.active_unit(code).await?;
        let target = self.referenced_unit(&subject, "parent", parent).await?;
        if target.path.starts_with(&before.path) {
            return Err(invalid(
                &subject,
                "parent",
                format!("{parent} is {code} itself or below it: moving {code} there would make a cycle"),
            ));
        }
        let path = format!("{}{code}/", target.path);
        self.caller.check(&path, &format!("the new place of {subject} (under {parent})"))?;
        if before.parent.as_deref() == Some(parent) {
            return Ok(before);
        }
        // The subtree's KPI totals leave the old ancestors for the new ones.
        let old_chain = self.unit_ids(before.path.trim_end_matches(&format!("{code}/"))).await?;
        let new_chain = self.unit_ids(&target.path).await?;
        crate::rollup::shift_subtree(&mut self.tx, before.id, &old_chain, &new_chain).await?;
        sqlx::query("UPDATE org_units SET parent_id = $1 WHERE id = $2")
            .bind(target.id)
            .bind(before.id)
            .execute(&mut *self.tx)
            .await?;
        // Every path of the subtree starts with the unit's: swap that prefix.
        // (Paths are ASCII codes and slashes, so byte and character offsets agree.)
        let old_len = i32::try_from(before.path.len() + 1).unwrap_or(i32::MAX);
        sqlx::query("UPDATE org_units SET path = $1 || SUBSTR(path, CAST($2 AS INTEGER)) WHERE path LIKE $3")
            .bind(&path)
            .bind(old_len)
            .bind(format!("{}%", before.path))
            .execute(&mut *self.tx)
            .await?;
        let after = self.org_unit(code).await?.ok_or_else(|| RegisterError::NotFound(subject.clone()))?;
        self.audit(Entry {
            action: "move",
            kind: ObjectKind::OrgUnit,
            code,
            path: &after.path,
            path_before: Some(&before.path),
            before: Some(before.json()),
            after: Some(after.json()),
        })
        .await?;
        Ok(after)
    }

    /// The ids of the units a path names, root first.
    async fn unit_ids(&mut self, path: &str) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for code in path.split('/').filter(|c| !c.is_empty()) {
            let unit = fetch_unit(&mut *self.tx, code)
                .await?
                .ok_or_else(|| RegisterError::NotFound(format!("org unit {code}")))?;
            ids.push(unit.id);
        }
        Ok(ids)
    }

    /// Retires a unit that has no active child unit, system or endpoint left.
    pub async fn retire_org_unit(&mut self, code: &str) -> Result<UnitRecord> {
        let before = self.active_unit(code).await?;
        let codes = |rows: Vec<AnyRow>| -> Result<Vec<String>> {
            rows.iter()
                .map(|r| r.try_get("code").map_err(|e| RegisterError::from(StoreError::Db(e))))
                .collect()
        };
        let children = codes(
            sqlx::query("SELECT code FROM org_units WHERE parent_id = $1 AND retired_at IS NULL ORDER BY code")
                .bind(before.id)
                .fetch_all(&mut *self.tx)
                .await?,
        )?;
        let systems = codes(
            sqlx::query("SELECT code FROM systems WHERE org_unit_id = $1 AND retired_at IS NULL ORDER BY code")
                .bind(before.id)
                .fetch_all(&mut *self.tx)
                .await?,
        )?;
        let endpoints: i64 = sqlx::query("SELECT COUNT(*) AS n FROM endpoints WHERE org_unit_id = $1 AND revoked = 0")
            .bind(before.id)
            .fetch_one(&mut *self.tx)
            .await?
            .try_get("n")?;
        let mut blockers = Vec::new();
        if !children.is_empty() {
            blockers.push(format!("{} active child unit(s) ({})", children.len(), some_codes(&children)));
        }
        if !systems.is_empty() {
            blockers.push(format!("{} active system(s) ({})", systems.len(), some_codes(&systems)));
        }
        if endpoints > 0 {
            blockers.push(format!("{endpoints} enrolled endpoint(s) not revoked"));
        }
        if !blockers.is_empty() {
            return Err(RegisterError::Conflict(format!(
                "org unit {code} cannot be retired: it still has {}; move or retire them first",
                blockers.join(" and ")
            )));
        }
        sqlx::query("UPDATE org_units SET retired_at = $1 WHERE id = $2")
            .bind(self.now)
            .bind(before.id)
            .execute(&mut *self.tx)
            .await?;
        let after = UnitRecord {
            retired_at: Some(self.now),
            ..before.clone()
        };
        self.audit(Entry {
            action: "retire",
            kind: ObjectKind::OrgUnit,
            code,
            path: &after.path,
            path_before: None,
            before: Some(before.json()),
            after: Some(after.json()),
        })
        .await?;
        Ok(after)
    }

    /// The system, in the caller's subtree, not retired.
    async fn active_system(&mut self, code: &str) -> Result<SystemRecord> {
        let s = self
            .system(code)
            .await?
            .ok_or_else(|| RegisterError::NotFound(format!("no system {code}")))?;
        self.caller.check(&s.org_unit_path, &format!("system {code}"))?;
        if s.retired_at.is_some() {
            return Err(RegisterError::Conflict(format!("system {code} has been retired")));
        }
        Ok(s)
    }

    async fn write_system(&mut self, s: &SystemRecord, org_unit_id: i64) -> Result<()> {
        let d = &s.dossier;
        sqlx::query(
            "UPDATE systems SET org_unit_id = $1, name = $2, level = $3, framework = $4, decision_number = $5, decision_date = $6,
                 approver = $7, next_assessment_date = $8, next_assessment_explicit = $9 WHERE id = $10",
        )
        .bind(org_unit_id)
        .bind(&s.name)
        .bind(i16::from(s.level))
        .bind(&s.framework)
        .bind(d.decision_number.as_deref())
        .bind(d.decision_date.map(format_date))
        .bind(d.approver.as_deref())
        .bind(d.next_assessment_date.map(format_date))
        .bind(i16::from(d.next_assessment_explicit))
        .bind(s.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn create_system(&mut self, s: &NewSystem) -> Result<SystemRecord> {
        let subject = format!("system {}", s.code);
        check_code(&subject, &s.code)?;
        let name = check_text(&subject, "name", &s.name)?;
        self.frameworks.check(&subject, &s.framework, s.level)?;
        let owner = self.referenced_unit(&subject, "org_unit", &s.org_unit).await?;
        self.caller.check(&owner.path, &subject)?;
        if let Some(existing) = self.system(&s.code).await? {
            return Err(RegisterError::Conflict(format!(
                "{subject} already exists{}",
                if existing.retired_at.is_some() {
                    " (retired; codes are not reused)"
                } else {
                    ""
                }
            )));
        }
        let dossier = Dossier::default().apply(&subject, &s.dossier, s.level, true)?;
        let id: i64 = sqlx::query(
            "INSERT INTO systems (code, org_unit_id, name, level, framework, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&s.code)
        .bind(owner.id)
        .bind(&name)
        .bind(i16::from(s.level))
        .bind(&s.framework)
        .bind(self.now)
        .fetch_one(&mut *self.tx)
        .await?
        .try_get("id")?;
        let created = SystemRecord {
            id,
            code: s.code.clone(),
            name,
            org_unit: owner.code.clone(),
            org_unit_path: owner.path.clone(),
            level: s.level,
            framework: s.framework.clone(),
            dossier,
            created_at: self.now,
            retired_at: None,
        };
        self.write_system(&created, owner.id).await?;
        self.audit(Entry {
            action: "create",
            kind: ObjectKind::System,
            code: &s.code,
            path: &owner.path,
            path_before: None,
            before: None,
            after: Some(created.json()),
        })
        .await?;
        Ok(created)
    }

    pub async fn update_system(&mut self, code: &str, c: &SystemChanges) -> Result<SystemRecord> {
        let subject = format!("system {code}");
        let before = self.active_system(code).await?;
        let name = match &c.name {
            Some(n) => check_text(&subject, "name", n)?,
            None => before.name.clone(),
        };
        let level = c.level.unwrap_or(before.level);
        let framework = c.framework.clone().unwrap_or_else(|| before.framework.clone());
        self.frameworks.check(&subject, &framework, level)?;
        let dossier = before.dossier.apply(&subject, &c.dossier, level, level != before.level)?;
        let after = SystemRecord {
            name,
            level,
            framework,
            dossier,
            ..before.clone()
        };
        if after == before {
            return Ok(before);
        }
        let owner_id = self.unit_id(&before.org_unit).await?;
        self.write_system(&after, owner_id).await?;
        self.audit(Entry {
            action: "update",
            kind: ObjectKind::System,
            code,
            path: &after.org_unit_path,
            path_before: None,
            before: Some(before.json()),
            after: Some(after.json()),
        })
        .await?;
        Ok(after)
    }

    async fn unit_id(&mut self, code: &str) -> Result<i64> {
        Ok(self
            .org_unit(code)
            .await?
            .ok_or_else(|| RegisterError::NotFound(format!("no org unit {code}")))?
            .id)
    }

    /// Gives a system to another owner unit.
    pub async fn move_system(&mut self, code: &str, org_unit: &str) -> Result<SystemRecord> {
        let subject = format!("system {code}");
        let before = self.active_system(code).await?;
        let owner = self.referenced_unit(&subject, "org_unit", org_unit).await?;
        self.caller
            .check(&owner.path, &format!("the new owner of {subject} ({org_unit})"))?;
        if owner.code == before.org_unit {
            return Ok(before);
        }
        let after = SystemRecord {
            org_unit: owner.code.clone(),
            org_unit_path: owner.path.clone(),
            ..before.clone()
        };
        self.write_system(&after, owner.id).await?;
        self.audit(Entry {
            action: "move",
            kind: ObjectKind::System,
            code,
            path: &after.org_unit_path,
            path_before: Some(&before.org_unit_path),
            before: Some(before.json()),
            after: Some(after.json()),
        })
        .await?;
        Ok(after)
    }

    /// Retires a system: it leaves listings, and its members are evaluated
    /// without it; its memberships stay recorded for history.
    pub async fn retire_system(&mut self, code: &str) -> Result<SystemRecord> {
        let before = self.active_system(code).await?;
        sqlx::query("UPDATE systems SET retired_at = $1 WHERE id = $2")
            .bind(self.now)
            .bind(before.id)
            .execute(&mut *self.tx)
            .await?;
        let after = SystemRecord {
            retired_at: Some(self.now),
            ..before.clone()
        };
        self.audit(Entry {
            action: "retire",
            kind: ObjectKind::System,
            code,
            path: &after.org_unit_path,
            path_before: None,
            before: Some(before.json()),
            after: Some(after.json()),
        })
        .await?;
        Ok(after)
    }

    /// Replaces an endpoint's memberships of active systems, each with a role
    /// (`None`: the role the endpoint reports).
    pub async fn set_memberships(&mut self, endpoint_id: &str, wanted: &[Member]) -> Result<Vec<Member>> {
        let subject = format!("endpoint {endpoint_id}");
        let row = sqlx::query("SELECT o.path FROM endpoints e JOIN org_units o ON o.id = e.org_unit_id WHERE e.id = $1")
            .bind(endpoint_id)
            .fetch_optional(&mut *self.tx)
            .await?
            .ok_or_else(|| RegisterError::NotFound(format!("no endpoint {endpoint_id}")))?;
        let path: String = row.try_get("path")?;
        self.caller.check(&path, &subject)?;
        let mut seen = BTreeSet::new();
        let mut ids = Vec::with_capacity(wanted.len());
        for m in wanted {
            if !seen.insert(m.system.as_str()) {
                return Err(invalid(&subject, "systems", format!("{} is listed twice", m.system)));
            }
            let s = self
                .system(&m.system)
                .await?
                .ok_or_else(|| RegisterError::NotFound(format!("no system {}", m.system)))?;
            self.caller.check(&s.org_unit_path, &format!("system {}", m.system))?;
            if s.retired_at.is_some() {
                return Err(invalid(&subject, "systems", format!("system {} has been retired", m.system)));
            }
            ids.push(s.id);
        }
        let before = members(&mut *self.tx, endpoint_id).await?;
        let mut after: Vec<Member> = wanted.to_vec();
        after.sort_by(|a, b| a.system.cmp(&b.system));
        if after == before {
            return Ok(before);
        }
        // Memberships of retired systems stay: they are history.
        sqlx::query(
            "DELETE FROM endpoint_systems WHERE endpoint_id = $1
             AND system_id IN (SELECT id FROM systems WHERE retired_at IS NULL)",
        )
        .bind(endpoint_id)
        .execute(&mut *self.tx)
        .await?;
        for (m, id) in wanted.iter().zip(ids) {
            // A retired system's old row may still be there; the system is active here, so it is not.
            sqlx::query("INSERT INTO endpoint_systems (endpoint_id, system_id, role) VALUES ($1, $2, $3)")
                .bind(endpoint_id)
                .bind(id)
                .bind(m.role.map(Role::as_str))
                .execute(&mut *self.tx)
                .await?;
        }
        self.audit(Entry {
            action: "set_systems",
            kind: ObjectKind::Endpoint,
            code: endpoint_id,
            path: &path,
            path_before: None,
            before: Some(members_json(&before)),
            after: Some(members_json(&after)),
        })
        .await?;
        Ok(after)
    }
}

/// Begins, runs one change and commits it.
pub async fn apply<'a, T>(
    store: &Store,
    caller: &'a Caller,
    frameworks: &'a Frameworks,
    f: impl AsyncFnOnce(&mut Change<'a>) -> Result<T>,
) -> Result<T> {
    let mut change = Change::begin(store, caller, frameworks).await?;
    let out = f(&mut change).await?;
    change.commit().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn next_assessment_follows_the_level() {
        assert_eq!(next_assessment(1, date!(2026 - 03 - 16)), date!(2028 - 03 - 16));
        assert_eq!(next_assessment(2, date!(2026 - 03 - 16)), date!(2028 - 03 - 16));
        assert_eq!(next_assessment(3, date!(2026 - 03 - 16)), date!(2027 - 03 - 16));
        assert_eq!(next_assessment(4, date!(2026 - 12 - 31)), date!(2027 - 12 - 31));
        assert_eq!(next_assessment(5, date!(2026 - 03 - 16)), date!(2026 - 09 - 16));
        // Month ends: the last day of the shorter month.
        assert_eq!(next_assessment(5, date!(2026 - 08 - 31)), date!(2027 - 02 - 28));
        assert_eq!(next_assessment(5, date!(2027 - 08 - 31)), date!(2028 - 02 - 29));
        assert_eq!(next_assessment(3, date!(2028 - 02 - 29)), date!(2029 - 02 - 28));
        assert_eq!(next_assessment(5, date!(2026 - 10 - 15)), date!(2027 - 04 - 15));
    }

    #[test]
    fn the_next_assessment_is_recomputed_unless_set() {
        let s = "system X";
        let decided = DossierChanges {
            decision_date: Some(Some(date!(2026 - 03 - 16))),
            ..DossierChanges::default()
        };
        let d = Dossier::default().apply(s, &decided, 3, true).unwrap();
        assert_eq!(d.next_assessment_date, Some(date!(2027 - 03 - 16)));
        assert!(!d.next_assessment_explicit);
        // A new level: recomputed.
        let d5 = d.apply(s, &DossierChanges::default(), 5, true).unwrap();
        assert_eq!(d5.next_assessment_date, Some(date!(2026 - 09 - 16)));
        // A new decision date: recomputed.
        let later = DossierChanges {
            decision_date: Some(Some(date!(2026 - 06 - 01))),
            ..DossierChanges::default()
        };
        assert_eq!(
            d.apply(s, &later, 3, false).unwrap().next_assessment_date,
            Some(date!(2027 - 06 - 01))
        );
        // Set explicitly: kept through level and date changes, until `auto`.
        let explicit = DossierChanges {
            next_assessment: Some(NextAssessment::On(date!(2026 - 12 - 01))),
            ..DossierChanges::default()
        };
        let e = d.apply(s, &explicit, 3, false).unwrap();
        assert_eq!(
            (e.next_assessment_date, e.next_assessment_explicit),
            (Some(date!(2026 - 12 - 01)), true)
        );
        let e4 = e.apply(s, &later, 4, true).unwrap();
        assert_eq!(e4.next_assessment_date, Some(date!(2026 - 12 - 01)));
        let auto = DossierChanges {
            next_assessment: Some(NextAssessment::Auto),
            ..DossierChanges::default()
        };
        let a = e4.apply(s, &auto, 4, false).unwrap();
        assert_eq!(
            (a.next_assessment_date, a.next_assessment_explicit),
            (Some(date!(2027 - 06 - 01)), false)
        );
        // Clearing the decision date clears a computed date.
        let cleared = DossierChanges {
            decision_date: Some(None),
            ..DossierChanges::default()
        };
        assert_eq!(a.apply(s, &cleared, 4, false).unwrap().next_assessment_date, None);
        // An explicit date before the decision is refused, naming the field.
        let early = DossierChanges {
            next_assessment: Some(NextAssessment::On(date!(2025 - 01 - 01))),
            ..DossierChanges::default()
        };
        let e = d.apply(s, &early, 3, false).unwrap_err().to_string();
        assert!(e.starts_with("system X: next_assessment_date:"), "{e}");
    }

    #[test]
    fn values_are_checked_naming_the_field() {
        assert!(valid_code("DLK-BUONMATHUOT") && valid_code("X1"));
        for bad in ["", "dlk", "DLK_1", "DLK/1", "ĐL", "A B", &"A".repeat(65)] {
            assert!(!valid_code(bad), "{bad:?}");
        }
        let e = check_code("org unit dlk", "dlk").unwrap_err().to_string();
        assert!(e.contains(": code: ") && e.contains("upper-case"), "{e}");
        assert!(
            check_text("s", "name", "  ")
                .unwrap_err()
                .to_string()
                .contains("name: must not be empty")
        );
        assert_eq!(check_text("s", "name", " Tỉnh ủy ").unwrap(), "Tỉnh ủy");
        let e = parse_date("system X", "decision_date", "16/03/2026").unwrap_err().to_string();
        assert!(e.contains("decision_date: \"16/03/2026\" is not a date"), "{e}");
        assert_eq!(NextAssessment::parse("s", "auto").unwrap(), NextAssessment::Auto);
        let fw = Frameworks::new([("tcvn-14423-2026".to_string(), vec![1, 2, 3, 4, 5]), ("x".to_string(), vec![3])]);
        assert!(fw.check("s", "tcvn-14423-2026", 5).is_ok());
        let e = fw.check("system A", "nope", 3).unwrap_err().to_string();
        assert!(e.contains("framework: \"nope\" is not in the policies catalogue"), "{e}");
        let e = fw.check("system A", "x", 2).unwrap_err().to_string();
        assert!(e.contains("level: 2 is not a level of x (its levels: 3)"), "{e}");
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .unwrap();
        (dir, store)
    }

    fn unit(code: &str, parent: Option<&str>) -> NewUnit {
        NewUnit {
            code: code.into(),
            parent: parent.map(Into::into),
            name: format!("Unit {code}"),
            default_level: 2,
        }
    }

    fn frameworks() -> Frameworks {
        Frameworks::new([("tcvn-14423-2026".to_string(), vec![1, 2, 3, 4, 5])])
    }

    #[tokio::test]
    async fn moves_rewrite_the_subtree_and_every_change_is_audited() {
        let (_dir, store) = store().await;
        let cli = Caller {
            actor: "cli:test".into(),
            scope: None,
        };
        let fw = frameworks();
        let mut c = Change::begin(&store, &cli, &fw).await.unwrap();
        for (code, parent) in [
            ("TW", None),
            ("DLK", Some("TW")),
            ("HN", Some("TW")),
            ("DLK-A", Some("DLK")),
            ("DLK-A-1", Some("DLK-A")),
        ] {
            c.create_org_unit(&unit(code, parent)).await.unwrap();
        }
        c.create_system(&NewSystem {
            code: "DLK-A-S".into(),
            org_unit: "DLK-A".into(),
            name: "S".into(),
            level: 3,
            framework: "tcvn-14423-2026".into(),
            dossier: DossierChanges {
                decision_date: Some(Some(date!(2026 - 03 - 16))),
                ..DossierChanges::default()
            },
        })
        .await
        .unwrap();
        assert_eq!(c.commit().await.unwrap(), 6);

        let moved = apply(&store, &cli, &fw, async |c| c.move_org_unit("DLK-A", "HN").await)
            .await
            .unwrap();
        assert_eq!((moved.path.as_str(), moved.parent.as_deref()), ("/TW/HN/DLK-A/", Some("HN")));
        let leaf = org_unit(&store, "DLK-A-1").await.unwrap().unwrap();
        assert_eq!(leaf.path, "/TW/HN/DLK-A/DLK-A-1/", "the whole subtree follows");
        assert_eq!(org_unit(&store, "DLK").await.unwrap().unwrap().path, "/TW/DLK/", "others stay");
        assert_eq!(system(&store, "DLK-A-S").await.unwrap().unwrap().org_unit_path, "/TW/HN/DLK-A/");

        // Cycles and unknown parents are refused, naming the field.
        let e = apply(&store, &cli, &fw, async |c| c.move_org_unit("DLK-A", "DLK-A-1").await)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("org unit DLK-A: parent: DLK-A-1 is DLK-A itself or below it"), "{e}");
        let e = apply(&store, &cli, &fw, async |c| c.move_org_unit("DLK-A", "NOPE").await)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("parent: no org unit NOPE"), "{e}");
        let e = apply(&store, &cli, &fw, async |c| c.create_org_unit(&unit("DLK", Some("TW"))).await)
            .await
            .unwrap_err();
        assert!(matches!(e, RegisterError::Conflict(_)), "{e}");

        // Retiring: refused while children or systems are active.
        let e = apply(&store, &cli, &fw, async |c| c.retire_org_unit("DLK-A").await)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1 active child unit(s) (DLK-A-1)") && e.contains("1 active system(s) (DLK-A-S)"),
            "{e}"
        );
        apply(&store, &cli, &fw, async |c| {
            c.retire_org_unit("DLK-A-1").await?;
            c.retire_system("DLK-A-S").await?;
            c.retire_org_unit("DLK-A").await
        })
        .await
        .unwrap();
        let listed: Vec<String> = org_units(&store, None, false, 100, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.code)
            .collect();
        assert_eq!(listed, ["TW", "DLK", "HN"]);
        assert_eq!(
            org_units(&store, None, true, 100, 0).await.unwrap().len(),
            5,
            "retired units stay in history"
        );
        assert!(systems(&store, None, false, 100, 0).await.unwrap().is_empty());

        // The log: one record per change, with the object before and after.
        let log = audit::list(
            &store,
            &audit::Filter {
                limit: 100,
                ..audit::Filter::default()
            },
        )
        .await
        .unwrap();
        let actions: Vec<(&str, &str)> = log.iter().map(|r| (r.action.as_str(), r.object_code.as_str())).collect();
        assert_eq!(
            actions,
            [
                ("retire", "DLK-A"),
                ("retire", "DLK-A-S"),
                ("retire", "DLK-A-1"),
                ("move", "DLK-A"),
                ("create", "DLK-A-S"),
                ("create", "DLK-A-1"),
                ("create", "DLK-A"),
                ("create", "HN"),
                ("create", "DLK"),
                ("create", "TW")
            ]
        );
        let mv = &log[3];
        assert_eq!(
            (mv.path.as_str(), mv.path_before.as_deref()),
            ("/TW/HN/DLK-A/", Some("/TW/DLK/DLK-A/"))
        );
        assert_eq!(mv.before.as_ref().unwrap()["parent"], "DLK");
        assert_eq!(mv.after.as_ref().unwrap()["parent"], "HN");
        assert!(log.iter().all(|r| r.actor == "cli:test"));
        let created = &log[4];
        assert_eq!(created.before, None);
        assert_eq!(created.after.as_ref().unwrap()["dossier"]["next_assessment_date"], "2027-03-16");
        // Scoped reads see both sides of a move.
        let under = |p: &str| audit::Filter {
            under: Some(p.into()),
            limit: 100,
            ..audit::Filter::default()
        };
        let dlk = audit::list(&store, &under("/TW/DLK/")).await.unwrap();
        assert!(dlk.iter().any(|r| r.action == "move") && !dlk.iter().any(|r| r.object_code == "HN"));
    }

    #[tokio::test]
    async fn scoped_callers_stay_in_their_subtree_and_no_op_changes_are_not_logged() {
        let (_dir, store) = store().await;
        let fw = frameworks();
        let root = Caller {
            actor: "seed:t".into(),
            scope: None,
        };
        apply(&store, &root, &fw, async |c| {
            c.create_org_unit(&unit("TW", None)).await?;
            c.create_org_unit(&unit("DLK", Some("TW"))).await?;
            c.create_org_unit(&unit("HN", Some("TW"))).await
        })
        .await
        .unwrap();
        let hn = Caller {
            actor: "apikey:7".into(),
            scope: Some("/TW/HN/".into()),
        };
        let e = apply(&store, &hn, &fw, async |c| c.create_org_unit(&unit("DLK-X", Some("DLK"))).await)
            .await
            .unwrap_err();
        assert!(matches!(e, RegisterError::Forbidden(_)), "{e}");
        let e = apply(&store, &hn, &fw, async |c| c.update_org_unit("DLK", &UnitChanges::default()).await)
            .await
            .unwrap_err();
        assert!(matches!(e, RegisterError::Forbidden(_)), "{e}");
        apply(&store, &hn, &fw, async |c| c.create_org_unit(&unit("HN-X", Some("HN"))).await)
            .await
            .unwrap();
        let e = apply(&store, &hn, &fw, async |c| c.move_org_unit("HN-X", "DLK").await)
            .await
            .unwrap_err();
        assert!(matches!(e, RegisterError::Forbidden(_)), "a move out of the subtree: {e}");
        // The same values again: nothing to record.
        let n = {
            let mut c = Change::begin(&store, &hn, &fw).await.unwrap();
            c.update_org_unit(
                "HN-X",
                &UnitChanges {
                    name: Some("Unit HN-X".into()),
                    default_level: Some(2),
                },
            )
            .await
            .unwrap();
            c.move_org_unit("HN-X", "HN").await.unwrap();
            c.commit().await.unwrap()
        };
        assert_eq!(n, 0);
        let log = audit::list(
            &store,
            &audit::Filter {
                limit: 10,
                ..audit::Filter::default()
            },
        )
        .await
        .unwrap();
        assert_eq!((log.len(), log[0].actor.as_str()), (4, "apikey:7"));
    }
}
