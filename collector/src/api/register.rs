//! The register over the API: org units, systems, endpoints' memberships and
//! the audit log. A key scoped to a subtree reads and changes only that
//! subtree; creating or moving something outside it is 403. Every change is
//! audited as `apikey:<key id>`.

use super::{Admin, ApiError, App};
use crate::audit;
use crate::register::{
    self, Change, DossierChanges, Member, NewSystem, NewUnit, NextAssessment, RegisterError, SystemChanges, UnitChanges,
};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use khien_proto::facts::Role;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/org-units", get(list_units).post(create_unit))
        .route("/api/v1/org-units/{code}", get(get_unit).put(update_unit))
        .route("/api/v1/org-units/{code}/move", post(move_unit))
        .route("/api/v1/org-units/{code}/retire", post(retire_unit))
        .route("/api/v1/systems", get(list_systems).post(create_system))
        .route("/api/v1/systems/{code}", get(get_system).put(update_system))
        .route("/api/v1/systems/{code}/move", post(move_system))
        .route("/api/v1/systems/{code}/retire", post(retire_system))
        .route("/api/v1/endpoints/{id}/systems", put(set_systems))
        .route("/api/v1/audit", get(audit_log))
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        let message = e.to_string();
        match e {
            RegisterError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            RegisterError::Invalid { .. } => ApiError::new(StatusCode::BAD_REQUEST, "invalid", message),
            RegisterError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            RegisterError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            RegisterError::Store(s) => s.into(),
        }
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))
}

/// Query parameters, with a JSON error like every other (`retired=yes`).
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))
}

/// Runs one change as the key's caller, then wakes the re-evaluation of
/// whatever endpoints it touched.
async fn change<T>(app: &Arc<App>, admin: &Admin, f: impl AsyncFnOnce(&mut Change<'_>) -> register::Result<T>) -> Result<T, ApiError> {
    let caller = admin.caller();
    let out = register::apply(&app.store, &caller, &app.frameworks, f).await?;
    app.register_changed.notify_one();
    Ok(out)
}

/// A field that may be absent (unchanged), `null` (cleared) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct ListQuery {
    /// The subtree: units under (and including) this one.
    org_unit: Option<String>,
    /// Include retired units or systems.
    #[serde(default)]
    retired: bool,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The subtree a listing covers: the named unit's (which the key must be
/// allowed to see), else the key's own.
async fn subtree(app: &App, admin: &Admin, org_unit: Option<&str>) -> Result<Option<String>, ApiError> {
    match org_unit {
        Some(code) => {
            let unit = register::org_unit(&app.store, code)
                .await?
                .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no org unit {code}")))?;
            admin.check(&unit.path, &format!("org unit {code}"))?;
            Ok(Some(unit.path))
        }
        None => Ok(admin.scope.clone()),
    }
}

fn page(q: &ListQuery, default: i64) -> (i64, i64) {
    (q.limit.unwrap_or(default).clamp(1, 10_000), q.offset.unwrap_or(0).max(0))
}

// ---- org units -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitBody {
    code: String,
    parent: Option<String>,
    name: String,
    default_level: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitUpdate {
    name: Option<String>,
    default_level: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitMove {
    parent: String,
}

async fn list_units(
    State(app): State<Arc<App>>,
    admin: Admin,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let under = subtree(&app, &admin, q.org_unit.as_deref()).await?;
    let (limit, offset) = page(&q, 1000);
    let units = register::org_units(&app.store, under.as_deref(), q.retired, limit, offset).await?;
    Ok(Json(json!({
        "org_units": units.iter().map(register::UnitRecord::json).collect::<Vec<_>>(),
        "limit": limit, "offset": offset,
    })))
}

async fn get_unit(State(app): State<Arc<App>>, admin: Admin, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let unit = register::org_unit(&app.store, &code)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no org unit {code}")))?;
    admin.check(&unit.path, &format!("org unit {code}"))?;
    Ok(Json(unit.json()))
}

async fn create_unit(State(app): State<Arc<App>>, admin: Admin, b: Result<Json<UnitBody>, JsonRejection>) -> Result<Response, ApiError> {
    let b = body(b)?;
    let unit = NewUnit {
        code: b.code,
        parent: b.parent,
        name: b.name,
        default_level: b.default_level,
    };
    let created = change(&app, &admin, async |c| c.create_org_unit(&unit).await).await?;
    Ok((StatusCode::CREATED, Json(created.json())).into_response())
}

async fn update_unit(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    b: Result<Json<UnitUpdate>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let changes = UnitChanges {
        name: b.name,
        default_level: b.default_level,
    };
    let unit = change(&app, &admin, async |c| c.update_org_unit(&code, &changes).await).await?;
    Ok(Json(unit.json()))
}

async fn move_unit(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    b: Result<Json<UnitMove>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let unit = change(&app, &admin, async |c| c.move_org_unit(&code, &b.parent).await).await?;
    Ok(Json(unit.json()))
}

async fn retire_unit(State(app): State<Arc<App>>, admin: Admin, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let unit = change(&app, &admin, async |c| c.retire_org_unit(&code).await).await?;
    Ok(Json(unit.json()))
}

// ---- systems ---------------------------------------------------------------------------

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DossierBody {
    #[serde(default, deserialize_with = "present")]
    decision_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    decision_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    approver: Option<Option<String>>,
    /// A date, `"auto"` or `null` (both: computed from the decision date and level).
    #[serde(default, deserialize_with = "present")]
    next_assessment_date: Option<Option<String>>,
}

impl DossierBody {
    fn changes(&self, subject: &str) -> Result<DossierChanges, RegisterError> {
        let decision_date = match &self.decision_date {
            None => None,
            Some(None) => Some(None),
            Some(Some(t)) => Some(Some(register::parse_date(subject, "decision_date", t)?)),
        };
        let next_assessment = match &self.next_assessment_date {
            None => None,
            Some(None) => Some(NextAssessment::Auto),
            Some(Some(t)) => Some(NextAssessment::parse(subject, t)?),
        };
        Ok(DossierChanges {
            decision_number: self.decision_number.clone(),
            decision_date,
            approver: self.approver.clone(),
            next_assessment,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemBody {
    code: String,
    org_unit: String,
    name: String,
    level: u8,
    /// Default: the catalogue's current framework.
    framework: Option<String>,
    #[serde(default)]
    dossier: DossierBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemUpdate {
    name: Option<String>,
    level: Option<u8>,
    framework: Option<String>,
    #[serde(default)]
    dossier: DossierBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemMove {
    org_unit: String,
}

async fn list_systems(
    State(app): State<Arc<App>>,
    admin: Admin,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let under = subtree(&app, &admin, q.org_unit.as_deref()).await?;
    let (limit, offset) = page(&q, 1000);
    let systems = register::systems(&app.store, under.as_deref(), q.retired, limit, offset).await?;
    Ok(Json(json!({
        "systems": systems.iter().map(register::SystemRecord::json).collect::<Vec<_>>(),
        "limit": limit, "offset": offset,
    })))
}

async fn get_system(State(app): State<Arc<App>>, admin: Admin, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let system = register::system(&app.store, &code)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no system {code}")))?;
    admin.check(&system.org_unit_path, &format!("system {code}"))?;
    Ok(Json(system.json()))
}

async fn create_system(
    State(app): State<Arc<App>>,
    admin: Admin,
    b: Result<Json<SystemBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    let subject = format!("system {}", b.code);
    let system = NewSystem {
        dossier: b.dossier.changes(&subject)?,
        code: b.code,
        org_unit: b.org_unit,
        name: b.name,
        level: b.level,
        framework: b.framework.unwrap_or_else(|| app.ingest.policies().default_framework.clone()),
    };
    let created = change(&app, &admin, async |c| c.create_system(&system).await).await?;
    Ok((StatusCode::CREATED, Json(created.json())).into_response())
}

async fn update_system(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    b: Result<Json<SystemUpdate>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let changes = SystemChanges {
        dossier: b.dossier.changes(&format!("system {code}"))?,
        name: b.name,
        level: b.level,
        framework: b.framework,
    };
    let system = change(&app, &admin, async |c| c.update_system(&code, &changes).await).await?;
    Ok(Json(system.json()))
}

async fn move_system(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    b: Result<Json<SystemMove>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let system = change(&app, &admin, async |c| c.move_system(&code, &b.org_unit).await).await?;
    Ok(Json(system.json()))
}

async fn retire_system(State(app): State<Arc<App>>, admin: Admin, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let system = change(&app, &admin, async |c| c.retire_system(&code).await).await?;
    Ok(Json(system.json()))
}

// ---- memberships -----------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemsBody {
    systems: Vec<MemberItem>,
    /// The role for every system listed without its own; absent or `null`:
    /// the role the endpoint reports.
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MemberItem {
    Code(String),
    Full(MemberObject),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberObject {
    code: String,
    role: Option<String>,
}

async fn set_systems(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(id): Path<String>,
    b: Result<Json<SystemsBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let subject = format!("endpoint {id}");
    let default_role = register::parse_role(&subject, b.role.as_deref())?;
    let mut wanted = Vec::with_capacity(b.systems.len());
    for item in b.systems {
        wanted.push(match item {
            MemberItem::Code(code) => Member {
                system: code,
                role: default_role,
            },
            MemberItem::Full(m) => Member {
                role: match m.role {
                    Some(r) => register::parse_role(&subject, Some(&r))?,
                    None => default_role,
                },
                system: m.code,
            },
        });
    }
    let members = change(&app, &admin, async |c| c.set_memberships(&id, &wanted).await).await?;
    // The new verdicts are there when the answer is.
    app.ingest.reevaluate(&id).await?;
    Ok(Json(json!({
        "id": id,
        "systems": members.iter().map(|m| &m.system).collect::<Vec<_>>(),
        "members": members.iter().map(|m| json!({"code": m.system, "role": m.role.map(Role::as_str)})).collect::<Vec<_>>(),
    })))
}

// ---- audit log -------------------------------------------------------------------------

#[derive(Deserialize)]
struct AuditQuery {
    org_unit: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn audit_log(
    State(app): State<Arc<App>>,
    admin: Admin,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let under = subtree(&app, &admin, q.org_unit.as_deref()).await?;
    let time = |field: &str, v: &Option<String>, end: bool| {
        v.as_deref()
            .map(|t| audit::parse_time(field, t, end))
            .transpose()
            .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m))
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let offset = q.offset.unwrap_or(0).max(0);
    let filter = audit::Filter {
        under,
        since: time("since", &q.since, false)?,
        until: time("until", &q.until, true)?,
        kind: None,
        limit,
        offset,
    };
    let rows = audit::list(&app.store, &filter).await?;
    Ok(Json(json!({
        "records": rows.iter().map(audit::AuditRow::json).collect::<Vec<_>>(),
        "limit": limit, "offset": offset,
    })))
}
