//! Waivers, attestations and their evidence files over the API. A key scoped
//! to a subtree sees and changes only the exceptions created in it or whose
//! system or endpoint is in it now, and downloads only the files of the
//! attestations it sees; anything else is 403. Every change is audited as
//! `apikey:<key id>`.

use super::{Admin, ApiError, App};
use crate::exceptions::{self, ExceptionError, Filter, NewAttestation, NewWaiver, WaiverTarget};
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use khien_proto::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/waivers", get(list_waivers).post(create_waiver))
        .route("/api/v1/waivers/{id}/revoke", post(revoke_waiver))
        .route("/api/v1/attestations", get(list_attestations))
        .route("/api/v1/attestations/{id}/revoke", post(revoke_attestation))
        // The handler enforces the file limit itself, with a JSON error.
        .route(
            "/api/v1/systems/{code}/attestations",
            post(create_attestation).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/evidence-files/{sha256}", get(evidence_file))
}

impl From<ExceptionError> for ApiError {
    fn from(e: ExceptionError) -> Self {
        let message = e.to_string();
        match e {
            ExceptionError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            ExceptionError::Invalid { .. } => ApiError::new(StatusCode::BAD_REQUEST, "invalid", message),
            ExceptionError::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message),
            ExceptionError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            ExceptionError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            ExceptionError::Store(s) => s.into(),
        }
    }
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| bad_request(e.body_text()))
}

fn time(field: &str, text: &str, end: bool) -> Result<i64, ApiError> {
    crate::audit::parse_time(field, text, end).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m))
}

fn now() -> i64 {
    Timestamp::now().unix_millis()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// A system: its exceptions, and for waivers its member endpoints'.
    system: Option<String>,
    /// Also the expired and revoked ones.
    #[serde(default)]
    all: bool,
}

/// The listing's filter: the key's subtree, and the system if one is named
/// (which the key must be allowed to see).
async fn filter(app: &App, admin: &Admin, q: &ListQuery, now: i64) -> Result<Filter, ApiError> {
    let system_id = match &q.system {
        Some(code) => {
            let s = crate::register::system(&app.store, code)
                .await?
                .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no system {code}")))?;
            admin.check(&s.org_unit_path, &format!("system {code}"))?;
            Some(s.id)
        }
        None => None,
    };
    Ok(Filter {
        under: admin.scope.clone(),
        system_id,
        all: q.all,
        now,
    })
}

async fn list_waivers(
    State(app): State<Arc<App>>,
    admin: Admin,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let now = now();
    let rows = exceptions::waivers(&app.store, &filter(&app, &admin, &q, now).await?).await?;
    Ok(Json(json!({"waivers": rows.iter().map(|w| w.json(now)).collect::<Vec<_>>()})))
}

async fn list_attestations(
    State(app): State<Arc<App>>,
    admin: Admin,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let now = now();
    let rows = exceptions::attestations(&app.store, &filter(&app, &admin, &q, now).await?).await?;
    Ok(Json(json!({"attestations": rows.iter().map(|a| a.json(now)).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverBody {
    /// Exactly one of `system` and `endpoint`.
    system: Option<String>,
    endpoint: Option<String>,
    requirement: String,
    reason: String,
    approver: String,
    /// A date (UTC midnight) or an RFC 3339 time; default: now.
    start: Option<String>,
    /// A date (its end, UTC) or an RFC 3339 time.
    expiry: String,
}

async fn create_waiver(
    State(app): State<Arc<App>>,
    admin: Admin,
    b: Result<Json<WaiverBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = b.map_err(|e| bad_request(e.body_text()))?;
    let target = match (b.system, b.endpoint) {
        (Some(s), None) => WaiverTarget::System(s),
        (None, Some(e)) => WaiverTarget::Endpoint(e),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "waiver: system, endpoint: give exactly one of them",
            ));
        }
    };
    let w = NewWaiver {
        target,
        requirement: b.requirement,
        reason: b.reason,
        approver: b.approver,
        start: b.start.as_deref().map(|t| time("start", t, false)).transpose()?,
        expiry: time("expiry", &b.expiry, true)?,
    };
    let now = now();
    let created = exceptions::create_waiver(&app.store, app.ingest.policies(), &admin.caller(), &w, now).await?;
    Ok((StatusCode::CREATED, Json(created.json(now))).into_response())
}

async fn revoke_waiver(State(app): State<Arc<App>>, admin: Admin, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let now = now();
    let w = exceptions::revoke_waiver(&app.store, &admin.caller(), id, now).await?;
    Ok(Json(w.json(now)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestQuery {
    requirement: String,
    attested_by: String,
    /// A date (its end, UTC) or an RFC 3339 time.
    valid_until: String,
    file_name: String,
}

/// The body is the evidence file itself, so that a 20 MiB scan is not
/// inflated by a third through base64 in JSON.
async fn create_attestation(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    q: Result<Query<AttestQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let limit = exceptions::MAX_FILE_BYTES;
    let content = axum::body::to_bytes(request.into_body(), limit).await.map_err(|e| {
        if e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("attestation for system {code}: file: more than the limit of {limit} bytes (20 MiB)"),
            )
        } else {
            bad_request("the request body could not be read".into())
        }
    })?;
    let new = NewAttestation {
        system: code,
        requirement: q.requirement,
        attested_by: q.attested_by,
        attested_at: None,
        valid_until: time("valid_until", &q.valid_until, true)?,
        file_name: q.file_name,
    };
    let now = now();
    let created = exceptions::create_attestation(&app.store, app.ingest.policies(), &admin.caller(), &new, &content, now).await?;
    Ok((StatusCode::CREATED, Json(created.json(now))).into_response())
}

async fn revoke_attestation(State(app): State<Arc<App>>, admin: Admin, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let now = now();
    let a = exceptions::revoke_attestation(&app.store, &admin.caller(), id, now).await?;
    Ok(Json(a.json(now)))
}

/// The file's bytes, if an attestation the key may see carries it.
async fn evidence_file(State(app): State<Arc<App>>, admin: Admin, Path(sha256): Path<String>) -> Result<Response, ApiError> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("sha256: {sha256:?} is not a SHA-256 in lowercase hex (64 characters)"),
        ));
    }
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no evidence file {sha256}"));
    let carriers = exceptions::file_attestations(&app.store, &sha256).await?;
    if carriers.is_empty() {
        return Err(missing());
    }
    let Some(shown) = carriers
        .iter()
        .find(|a| exceptions::visible(admin.scope.as_deref(), &a.path, &a.current_path))
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("evidence file {sha256} is outside this key's org unit"),
        ));
    };
    let file = exceptions::get_file(&app.store, &sha256).await?.ok_or_else(missing)?;
    // Quotes and non-ASCII would need RFC 5987 encoding; the ASCII fallback keeps the header valid.
    let ascii: String = shown
        .file_name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{ascii}\"")),
            (header::ETAG, format!("\"{}\"", file.sha256)),
        ],
        Body::from(file.content),
    )
        .into_response())
}
