//! `GET /api/v1/systems/{code}/evidence?format=html|pdf|csv|json&lang=vi|en`:
//! a system's certification evidence pack, signed, as a download. A key
//! scoped to another subtree gets 403 before anything is built.

use super::{Admin, ApiError, App};
use crate::export::{self, ExportError, Format, Lang};
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use khien_proto::Timestamp;
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/systems/{code}/evidence", get(evidence))
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        let message = e.to_string();
        match e {
            ExportError::NotFound(_) | ExportError::NoRequirement { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            ExportError::Retired(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            ExportError::PdfNotBuilt => ApiError::new(StatusCode::NOT_IMPLEMENTED, "pdf_not_built", message),
            ExportError::FrameworkMissing { .. } | ExportError::Render(..) => {
                tracing::error!(error = %message, "Evidence pack export failed.");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", message)
            }
            ExportError::Store(s) => s.into(),
        }
    }
}

#[derive(Deserialize)]
struct EvidenceQuery {
    format: Option<String>,
    lang: Option<String>,
}

async fn evidence(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(code): Path<String>,
    q: Result<Query<EvidenceQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m);
    let format: Format = q
        .format
        .as_deref()
        .unwrap_or("html")
        .parse()
        .map_err(|e: export::UnknownFormat| bad(e.to_string()))?;
    let lang: Lang = q
        .lang
        .as_deref()
        .unwrap_or("vi")
        .parse()
        .map_err(|e: export::UnknownLang| bad(e.to_string()))?;
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
    if format == Format::Pdf && !export::PDF_SUPPORTED {
        return Err(ExportError::PdfNotBuilt.into());
    }
    let now = Timestamp::now();
    let mut pack = export::evidence_pack(&app.store, app.ingest.policies(), &code, lang, now).await?;
    pack.collector = export::collector_info(&app.url);
    let name = export::file_name(&pack.system.code, format, now);
    // Typesetting a PDF takes CPU for a while: off the request threads.
    let signer = app.clone();
    let bytes = tokio::task::spawn_blocking(move || export::render_signed(&pack, format, &signer.signing))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", "rendering the export stopped"))??;
    tracing::info!(system = %code, %format, %lang, actor = %admin.actor, bytes = bytes.len(), "Evidence pack exported.");
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}
