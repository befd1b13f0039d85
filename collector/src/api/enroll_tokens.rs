//! Enrollment tokens over the API: list, create (the token's text is in that
//! answer only: its secret is stored hashed) and revoke. A key or account
//! scoped to a subtree sees and changes the tokens of its subtree's units
//! only; anything else is 403. Creating and revoking are `Manage` (`auth.rs`),
//! audited as the caller (`apikey:<id>`, `user:<username>`).

use super::{Admin, ApiError, App};
use crate::enroll::{self, NewToken, TokenError, TokenInfo, TokenState};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use khien_proto::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/enroll-tokens", get(list).post(create))
        .route("/api/v1/enroll-tokens/{id}/revoke", post(revoke))
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        let message = e.to_string();
        match e {
            TokenError::UnknownUnit(_) | TokenError::UnknownSystem(_) | TokenError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            TokenError::RetiredUnit(_)
            | TokenError::RetiredSystem(_)
            | TokenError::OtherBranch { .. }
            | TokenError::NoUses
            | TokenError::Validity => ApiError::new(StatusCode::BAD_REQUEST, "invalid", message),
            TokenError::AlreadyRevoked { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            TokenError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            TokenError::Store(s) => s.into(),
        }
    }
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only the tokens of this unit's subtree (which must be in the caller's).
    org_unit: Option<String>,
    /// Also the used-up, expired and revoked ones.
    #[serde(default)]
    all: bool,
}

async fn list(State(app): State<Arc<App>>, admin: Admin, q: Result<Query<ListQuery>, QueryRejection>) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
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
    let now = Timestamp::now().unix_millis();
    let rows: Vec<Value> = enroll::list_tokens(&app.store, under.as_deref(), now)
        .await?
        .iter()
        .filter(|t| q.all || t.state == TokenState::Active)
        .map(TokenInfo::json)
        .collect();
    Ok(Json(json!({ "tokens": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    org_unit: String,
    #[serde(default)]
    systems: Vec<String>,
    /// How many machines may enroll with it.
    #[serde(default = "one")]
    uses: u32,
    /// How long it stays valid.
    #[serde(default = "three_days")]
    valid_hours: u32,
}

fn one() -> u32 {
    1
}

fn three_days() -> u32 {
    72
}

async fn create(State(app): State<Arc<App>>, admin: Admin, body: Result<Json<CreateBody>, JsonRejection>) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| bad_request(e.body_text()))?;
    let new = NewToken {
        org_unit: b.org_unit,
        systems: b.systems,
        uses: b.uses,
        valid_for: time::Duration::hours(i64::from(b.valid_hours)),
    };
    let now = Timestamp::now().unix_millis();
    let created = enroll::create_token(&app.store, &app.authority, &app.url, &admin.caller(), &new, now).await?;
    let mut out = created.info.json();
    out["token"] = json!(created.text);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn revoke(State(app): State<Arc<App>>, admin: Admin, id: Result<Path<i64>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|_| bad_request("the token id must be a whole number".into()))?;
    let t = enroll::revoke_token(&app.store, &admin.caller(), id, Timestamp::now().unix_millis()).await?;
    Ok(Json(t.json()))
}
