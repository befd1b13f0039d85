//! HTTP routes: enrollment, agent reports (client certificate), and the JSON
//! API (bearer key, scoped to an org unit's subtree). Every error is JSON:
//! `{"error": "<code>", "message": "<what to do>"}` (the dashboard's pages,
//! merged in here, are in `web/`). The register's routes
//! (org units, systems, memberships, audit log) are in `api/register.rs`.

mod enroll_tokens;
mod exceptions;
mod export;
mod history;
mod register;

use crate::auth::{self, Action, Forbidden, Principal};
use crate::compliance;
use crate::enroll::{self, EnrollError};
use crate::evaluate::{self, Policies, Scope};
use crate::ingest::{Ingest, IngestError};
use crate::register::Frameworks;
use crate::scorecard::{self, Kpi};
use crate::store::{EndpointRow, EvaluationRow, Membership, Store, StoreError, StoredReport};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use khien_policy::FactsView;
use khien_proto::enroll::{ApiErrorBody, EnrollRequest};
use khien_proto::report::{Report, SIGNATURE_HEADER, sha256_hex};
use khien_proto::{CheckResult, Facts, Timestamp};
use khien_tls::{AgentIdentity, Authority};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct App {
    pub store: Store,
    pub ingest: Ingest,
    pub authority: Authority,
    pub url: String,
    pub max_report_bytes: usize,
    pub kpi_windows: scorecard::Windows,
    /// The frameworks and levels systems may name (from the loaded policies).
    pub frameworks: Frameworks,
    /// Wakes the task that re-evaluates endpoints after register changes.
    pub register_changed: Arc<tokio::sync::Notify>,
    /// Signs evidence packs (`signing.pk8`).
    pub signing: ring::signature::Ed25519KeyPair,
}

/// The client certificate of the connection a request came on, if any.
#[derive(Clone, Debug)]
pub struct Peer(pub Option<Result<AgentIdentity, String>>);

/// The address a request's connection came from (login throttling).
#[derive(Clone, Copy, Debug)]
pub struct RemoteAddr(pub std::net::SocketAddr);

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: self.code.to_string(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            StoreError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", m),
            other => {
                tracing::error!(error = %other, "Database error.");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again",
                )
            }
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let status = match &e {
            IngestError::UnknownAgent | IngestError::Revoked | IngestError::AgentMismatch(_) => StatusCode::FORBIDDEN,
            IngestError::Malformed(_) | IngestError::MissingSignature | IngestError::BadSignature(_) | IngestError::DigestMismatch => {
                StatusCode::BAD_REQUEST
            }
            IngestError::Replay { .. } => StatusCode::CONFLICT,
            IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v1/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/api/v1/enroll", post(enroll).layer(DefaultBodyLimit::max(64 * 1024)))
        // The report handler enforces the limit itself, with a JSON error.
        .route("/api/v1/reports", post(report).layer(DefaultBodyLimit::disable()))
        .route("/api/v1/endpoints", get(endpoints))
        .route("/api/v1/endpoints/{id}", get(endpoint))
        .route("/api/v1/systems/{code}/compliance", get(compliance))
        .route("/api/v1/org-units/{code}/kpis", get(kpis))
        .merge(register::routes())
        .merge(enroll_tokens::routes())
        .merge(exceptions::routes())
        .merge(export::routes())
        .merge(history::routes())
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(app)
}

async fn enroll(State(app): State<Arc<App>>, body: Result<Json<EnrollRequest>, JsonRejection>) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    match enroll::enroll(&app.store, &app.authority, &req).await {
        Ok(resp) => Ok((StatusCode::CREATED, Json(resp)).into_response()),
        Err(EnrollError::Refused(r)) => Err(ApiError::new(StatusCode::FORBIDDEN, "token_refused", r.to_string())),
        Err(EnrollError::BadRequest(m)) => Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m)),
        Err(EnrollError::Store(e)) => Err(e.into()),
    }
}

async fn report(State(app): State<Arc<App>>, Extension(peer): Extension<Arc<Peer>>, request: Request) -> Result<Response, ApiError> {
    let identity = match &peer.0 {
        Some(Ok(id)) => id,
        Some(Err(why)) => return Err(ApiError::new(StatusCode::FORBIDDEN, "bad_certificate", why.clone())),
        None => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "client_certificate_required",
                "reports must come over mutual TLS with the agent's certificate",
            ));
        }
    };
    // The request is taken whole: extracting a HeaderMap would copy every header of every report.
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let limit = app.max_report_bytes;
    let body = axum::body::to_bytes(request.into_body(), limit).await.map_err(|e| {
        let too_large = e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some();
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than {limit} bytes"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_body", "the request body could not be read")
        }
    })?;
    let ack = app.ingest.ingest(identity, &body, signature.as_deref()).await?;
    Ok(Json(ack).into_response())
}

/// The caller of an API route: a bearer key or, from a browser logged into
/// the dashboard, its session (changes then need the session's CSRF token in
/// `X-CSRF-Token`). Scope and role checks are the principal's (`auth.rs`);
/// the role is checked here, once, against what the request does.
pub struct Admin(pub Principal);

impl std::ops::Deref for Admin {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl From<Forbidden> for ApiError {
    fn from(e: Forbidden) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.0)
    }
}

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let principal = if let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let key = header.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "api_key_required",
                    "send `Authorization: Bearer <API key>`",
                )
            })?;
            match app.store.api_key(&sha256_hex(key.trim().as_bytes())).await? {
                Some(key) => Principal::api_key(&key),
                None => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "bad_api_key", "unknown or revoked API key")),
            }
        } else if let Some(token) = crate::web::session_token(&parts.headers) {
            let now = Timestamp::now().unix_millis();
            let session = auth::sessions::find(&app.store, &token, now).await?.ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "session_ended",
                    "the dashboard session has ended; log in again",
                )
            })?;
            if !matches!(parts.method, Method::GET | Method::HEAD) {
                let sent = parts.headers.get(crate::web::CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
                if !auth::constant_time_eq(sent, session.csrf.as_bytes()) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        format!("send the session's CSRF token in {}", crate::web::CSRF_HEADER),
                    ));
                }
            }
            session.principal
        } else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "api_key_required",
                "send `Authorization: Bearer <API key>`",
            ));
        };
        principal.require(Action::of_api_request(&parts.method, parts.uri.path()))?;
        Ok(Admin(principal))
    }
}

fn iso(ms: i64) -> Value {
    if ms <= 0 {
        return Value::Null;
    }
    Timestamp::from_unix_millis(ms).map(|t| json!(t.to_string())).unwrap_or(Value::Null)
}

#[derive(Deserialize)]
struct ListQuery {
    org_unit: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn endpoints(State(app): State<Arc<App>>, admin: Admin, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let under = match &q.org_unit {
        Some(code) => {
            let unit = app
                .store
                .org_unit(code)
                .await?
                .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no org unit {code}")))?;
            admin.check(&unit.path, &format!("org unit {code}"))?;
            Some(unit.path)
        }
        None => admin.scope.clone(),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = app.store.endpoints(under.as_deref(), limit, q.offset.unwrap_or(0).max(0)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let evals = app.store.evaluations(&r.id).await?;
        // The counts of the verdict at the endpoint's effective level.
        let main = evals
            .iter()
            .filter(|e| e.level == r.effective_level)
            .min_by(|a, b| a.scope.cmp(&b.scope));
        let counts = main.map(|e| {
            json!({"pass": e.counts[0], "fail": e.counts[1], "error": e.counts[2], "not_applicable": e.counts[3], "manual": e.counts[4]})
        });
        out.push(json!({
            "id": r.id, "hostname": r.hostname, "org_unit": r.org_unit, "effective_level": r.effective_level,
            "last_seen": iso(r.last_seen), "platform": r.platform, "role": r.role, "revoked": r.revoked,
            "compliant": main.map(|e| e.compliant), "status_counts": counts,
        }));
    }
    Ok(Json(json!({"endpoints": out, "limit": limit, "offset": q.offset.unwrap_or(0)})))
}

/// What the API's and the dashboard's endpoint views show beyond the endpoint's row.
pub struct EndpointDetail {
    pub memberships: Vec<Membership>,
    /// The stored report with the latest facts, and its parsed body.
    pub report: Option<StoredReport>,
    pub parsed: Option<Report>,
    /// Each stored verdict, with its checks' evidence when the facts could be read.
    pub evaluations: Vec<(EvaluationRow, Option<Vec<CheckResult>>)>,
}

impl EndpointDetail {
    pub fn facts(&self) -> Option<&Facts> {
        self.parsed.as_ref().and_then(|r| r.facts.as_ref())
    }
}

/// Reads an endpoint's latest facts and verdicts. Ingest keeps no evidence,
/// so it is reproduced here from the stored report, as of each evaluation.
pub async fn endpoint_detail(store: &Store, policies: &Policies, row: &EndpointRow) -> Result<EndpointDetail, StoreError> {
    let memberships = store.memberships(&row.id).await?;
    let report = store.report(&row.id, row.facts_seq).await?;
    let parsed: Option<Report> = report.as_ref().and_then(|r| serde_json::from_slice(&r.body).ok());
    let facts = parsed.as_ref().and_then(|r| r.facts.as_ref());
    let mut evaluations = Vec::new();
    for e in store.evaluations(&row.id).await? {
        let results = facts.and_then(|f| {
            let scope = Scope {
                code: e.scope.clone(),
                system_id: None,
                level: e.level,
                framework: e.framework.clone(),
                role: memberships.iter().find(|m| m.system.code == e.scope).and_then(|m| m.role),
            };
            let at = Timestamp::from_unix_millis(e.evaluated_at).unwrap_or_default();
            let (v, _) = evaluate::evaluate(policies, f, &FactsView::new(f), std::slice::from_ref(&scope), at, true);
            v.into_iter().next().map(|v| v.evaluation.results)
        });
        evaluations.push((e, results));
    }
    Ok(EndpointDetail {
        memberships,
        report,
        parsed,
        evaluations,
    })
}

async fn endpoint(State(app): State<Arc<App>>, admin: Admin, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (row, path) = app
        .store
        .endpoint(&id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no endpoint {id}")))?;
    admin.check(&path, &format!("endpoint {id}"))?;
    let detail = endpoint_detail(&app.store, app.ingest.policies(), &row).await?;
    let memberships = &detail.memberships;
    let evaluations: Vec<Value> = detail
        .evaluations
        .iter()
        .map(|(e, results)| {
            json!({
                "scope": if e.scope.is_empty() { Value::Null } else { json!(e.scope) },
                "framework": e.framework, "level": e.level, "compliant": e.compliant,
                "evaluated_at": iso(e.evaluated_at), "report_seq": e.report_seq, "policy_digest": e.policy_digest,
                "counts": {"pass": e.counts[0], "fail": e.counts[1], "error": e.counts[2], "not_applicable": e.counts[3], "manual": e.counts[4]},
                "requirements": e.requirements,
                "results": results.as_ref().map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
            })
        })
        .collect();
    Ok(Json(json!({
        "id": row.id, "hostname": row.hostname, "org_unit": row.org_unit, "effective_level": row.effective_level,
        "last_seen": iso(row.last_seen), "last_seq": row.last_seq, "platform": row.platform, "role": row.role, "revoked": row.revoked,
        "systems": memberships.iter().map(|m| json!({
            "code": m.system.code, "name": m.system.name, "level": m.system.level, "framework": m.system.framework,
            // The role the register gives it in this system, else the one it reports.
            "role": m.role.map(|r| r.as_str()).unwrap_or(row.role.as_str()),
            "role_source": if m.role.is_some() { "register" } else { "reported" },
        })).collect::<Vec<_>>(),
        "facts": detail.facts(), "facts_received_at": detail.report.as_ref().map(|r| iso(r.received_at)),
        "evaluations": evaluations,
    })))
}

async fn compliance(State(app): State<Arc<App>>, admin: Admin, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let system = app
        .store
        .system(&code)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no system {code}")))?;
    let c = compliance::system_compliance(&app.store, app.ingest.policies(), &system, Timestamp::now().unix_millis()).await?;
    admin.check(&c.unit.path, &format!("system {code}"))?;
    let fw = app.ingest.policies().framework(&system.framework);
    let requirements: Vec<Value> = c
        .requirements
        .iter()
        .map(|r| {
            let title = fw.and_then(|f| f.requirement(&r.id)).map(|q| q.title.vi.clone());
            json!({
                "requirement": r.id, "title": title, "status": r.status,
                "pass": r.counts.pass, "fail": r.counts.fail, "error": r.counts.error,
                "not_applicable": r.counts.not_applicable, "manual": r.counts.manual, "waived": r.counts.waived,
            })
        })
        .collect();
    Ok(Json(json!({
        "system": system.code, "name": system.name, "org_unit": c.unit.code, "level": system.level,
        "framework": system.framework, "framework_installed": c.framework_installed,
        "endpoints": c.members, "evaluated": c.evaluated,
        "requirements": requirements,
        // Compliant when every member has been evaluated and none fails or errs on a requirement.
        "compliant": c.compliant,
    })))
}

#[derive(Deserialize)]
struct KpiQuery {
    /// The KPI whose endpoints or systems to list.
    list: Option<Kpi>,
    /// `met` (default) or `unmet`: those that count, or those that do not.
    state: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn kpis(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    q: Result<Query<KpiQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let unit = app
        .store
        .org_unit(&code)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no org unit {code}")))?;
    admin.check(&unit.path, &format!("org unit {code}"))?;
    let now = Timestamp::now().unix_millis();
    let policies = app.ingest.policies();
    let Some(kpi) = q.list else {
        let card = scorecard::scorecard(&app.store, policies, &unit, now, app.kpi_windows).await?;
        return Ok(Json(serde_json::to_value(card).unwrap_or(Value::Null)));
    };
    let met = match q.state.as_deref() {
        None | Some("met") => true,
        Some("unmet") => false,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("state={other}: use met or unmet"),
            ));
        }
    };
    let (limit, offset) = (q.limit.unwrap_or(100).clamp(1, 1000), q.offset.unwrap_or(0).max(0));
    let query = scorecard::ListQuery {
        kpi,
        met,
        text: String::new(),
        limit,
        offset,
    };
    let items = scorecard::list(&app.store, policies, &unit, query, now, app.kpi_windows).await?;
    Ok(Json(json!({
        "org_unit": unit.code, "kpi": kpi, "state": if met { "met" } else { "unmet" },
        "items": items, "limit": limit, "offset": offset,
    })))
}
