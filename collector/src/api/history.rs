//! `GET /api/v1/org-units/{code}/history?from=&to=` and
//! `GET /api/v1/systems/{code}/history?from=&to=&limit=`: the daily snapshots
//! between two Vietnamese days (default: the last 30), and for a system its
//! endpoints' verdict changes. A key scoped to another subtree gets 403.

use super::{Admin, ApiError, App};
use crate::history;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::get;
use khien_proto::Timestamp;
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/org-units/{code}/history", get(unit))
        .route("/api/v1/systems/{code}/history", get(system))
}

#[derive(Deserialize)]
struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    /// Systems: at most this many verdict changes (the newest), 1 to 10 000.
    limit: Option<i64>,
}

fn query(q: Result<Query<HistoryQuery>, QueryRejection>) -> Result<HistoryQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))
}

async fn unit(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<history::UnitHistory>, ApiError> {
    let q = query(q)?;
    let unit = app
        .store
        .org_unit(&code)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no org unit {code}")))?;
    admin.check(&unit.path, &format!("org unit {code}"))?;
    let (from, to) = history::range(q.from.as_deref(), q.to.as_deref(), Timestamp::now().unix_millis())?;
    Ok(Json(history::unit_history(&app.store, &unit, from, to).await?))
}

async fn system(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<history::SystemHistory>, ApiError> {
    let q = query(q)?;
    let system = app
        .store
        .system(&code)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no system {code}")))?;
    let unit = app
        .store
        .org_unit_by_id(system.org_unit_id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no owner unit for system {code}")))?;
    admin.check(&unit.path, &format!("system {code}"))?;
    let (from, to) = history::range(q.from.as_deref(), q.to.as_deref(), Timestamp::now().unix_millis())?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("limit: {limit} is out of range; use 1 to 10000"),
        ));
    }
    Ok(Json(history::system_history(&app.store, &system, from, to, limit).await?))
}
