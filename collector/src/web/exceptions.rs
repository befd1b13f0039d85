//! Waivers and attestations in the dashboard: the lists of the account's
//! subtree (or of one system), the forms that create them (an attestation
//! with its evidence file, uploaded as multipart), and revocation. Every
//! change goes through `exceptions.rs` with the account as the actor, so the
//! checks, the scope and the audit record are those of the CLI and the API.

use super::i18n::Lang;
use super::system::system_href;
use super::units::{notice, with_lang};
use super::view;
use super::{Session, Shell, csrf_ok, csrf_refused, html, require_session, unavailable};
use crate::api::App;
use crate::audit;
use crate::auth::Action;
use crate::exceptions::{self, AttestationRecord, ExceptionError, Filter, NewAttestation, NewWaiver, WaiverRecord, WaiverTarget};
use crate::store::StoreError;
use askama::Template;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use khien_proto::Timestamp;
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/exceptions", get(page))
        .route("/exceptions/waivers", post(create_waiver))
        .route("/exceptions/waivers/{id}/revoke", post(revoke_waiver))
        // The evidence file's limit is enforced while reading it, with a page that says so.
        .route(
            "/exceptions/attestations",
            post(create_attestation).layer(DefaultBodyLimit::max(exceptions::MAX_FILE_BYTES + 64 * 1024)),
        )
        .route("/exceptions/attestations/{id}/revoke", post(revoke_attestation))
}

pub struct ExceptionTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub waivers: &'static str,
    pub attestations: &'static str,
    pub new_waiver: &'static str,
    pub new_attestation: &'static str,
    pub target_kind: &'static str,
    pub kind_system: &'static str,
    pub kind_endpoint: &'static str,
    pub target: &'static str,
    pub target_hint: &'static str,
    pub system: &'static str,
    pub requirement: &'static str,
    pub requirement_hint: &'static str,
    pub reason: &'static str,
    pub approver: &'static str,
    pub start: &'static str,
    pub start_hint: &'static str,
    pub expiry: &'static str,
    pub attested_by: &'static str,
    pub valid_until: &'static str,
    pub file: &'static str,
    pub file_hint: &'static str,
    pub create: &'static str,
    pub revoke: &'static str,
    pub state: &'static str,
    pub show_all: &'static str,
    pub show_active: &'static str,
    pub none: &'static str,
    pub created_waiver: &'static str,
    pub created_attestation: &'static str,
    pub revoked: &'static str,
    pub refused: &'static str,
    pub for_system: &'static str,
    pub id: &'static str,
    pub dates_note: &'static str,
}

static VI: ExceptionTexts = ExceptionTexts {
    title: "Miễn trừ và xác nhận",
    intro: "Miễn trừ cho phép một yêu cầu chưa đạt trong một thời hạn đã được phê duyệt; xác nhận là tuyên bố của người có thẩm quyền, kèm tệp bằng chứng, cho một yêu cầu quản lý hoặc cần kiểm tra thủ công. Cả hai hết tác dụng khi hết hạn.",
    waivers: "Miễn trừ",
    attestations: "Xác nhận",
    new_waiver: "Tạo miễn trừ",
    new_attestation: "Tạo xác nhận",
    target_kind: "Áp dụng cho",
    kind_system: "Hệ thống thông tin",
    kind_endpoint: "Một máy",
    target: "Mã hệ thống hoặc mã máy",
    target_hint: "Ví dụ: DLK-DHTN",
    system: "Mã hệ thống",
    requirement: "Mã yêu cầu",
    requirement_hint: "Ví dụ: PM-01",
    reason: "Lý do",
    approver: "Người phê duyệt",
    start: "Bắt đầu",
    start_hint: "Để trống: từ bây giờ",
    expiry: "Hết hạn",
    attested_by: "Người xác nhận",
    valid_until: "Có hiệu lực đến",
    file: "Tệp bằng chứng",
    file_hint: "Tối đa 20 MiB; lưu kèm mã SHA-256 trong hồ sơ bằng chứng.",
    create: "Tạo",
    revoke: "Thu hồi",
    state: "Trạng thái",
    show_all: "Hiện cả mục đã hết hạn hoặc thu hồi",
    show_active: "Chỉ hiện mục còn hiệu lực",
    none: "Không có mục nào.",
    created_waiver: "Đã tạo miễn trừ.",
    created_attestation: "Đã tạo xác nhận.",
    revoked: "Đã thu hồi.",
    refused: "Không thực hiện được",
    for_system: "Của hệ thống",
    id: "Số",
    dates_note: "Ngày hết hạn tính đến hết ngày đó (giờ UTC).",
};

static EN: ExceptionTexts = ExceptionTexts {
    title: "Waivers and attestations",
    intro: "A waiver accepts an unmet requirement for an approved period; an attestation is a responsible person's statement, with an evidence file, for a management or manual requirement. Both stop counting when they expire.",
    waivers: "Waivers",
    attestations: "Attestations",
    new_waiver: "New waiver",
    new_attestation: "New attestation",
    target_kind: "Applies to",
    kind_system: "Information system",
    kind_endpoint: "One endpoint",
    target: "System code or endpoint id",
    target_hint: "For example DLK-DHTN",
    system: "System code",
    requirement: "Requirement id",
    requirement_hint: "For example PM-01",
    reason: "Reason",
    approver: "Approved by",
    start: "Start",
    start_hint: "Empty: from now",
    expiry: "Expiry",
    attested_by: "Attested by",
    valid_until: "Valid until",
    file: "Evidence file",
    file_hint: "At most 20 MiB; its SHA-256 goes into the evidence pack.",
    create: "Create",
    revoke: "Revoke",
    state: "State",
    show_all: "Also show expired and revoked ones",
    show_active: "Only those in force",
    none: "None.",
    created_waiver: "Waiver created.",
    created_attestation: "Attestation created.",
    revoked: "Revoked.",
    refused: "Not done",
    for_system: "For system",
    id: "No.",
    dates_note: "An expiry date counts to the end of that day (UTC).",
};

fn texts(lang: Lang) -> &'static ExceptionTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// The label and colour class of an exception's state, for every page that lists them.
pub(super) fn state_label(lang: Lang, state: exceptions::State) -> (&'static str, &'static str) {
    use exceptions::State as S;
    match (state, lang) {
        (S::Active, Lang::Vi) => ("Đang hiệu lực", "good"),
        (S::Active, Lang::En) => ("Active", "good"),
        (S::Pending, Lang::Vi) => ("Chưa bắt đầu", "fair"),
        (S::Pending, Lang::En) => ("Not started", "fair"),
        (S::Expired, Lang::Vi) => ("Hết hạn", "none"),
        (S::Expired, Lang::En) => ("Expired", "none"),
        (S::Revoked, Lang::Vi) => ("Đã thu hồi", "none"),
        (S::Revoked, Lang::En) => ("Revoked", "none"),
    }
}

// ---- views ----------------------------------------------------------------------------

pub struct WaiverRow {
    pub id: i64,
    pub target: String,
    pub target_href: Option<String>,
    pub requirement: String,
    pub reason: String,
    pub approver: String,
    pub start: String,
    pub expiry: String,
    pub state: &'static str,
    pub tone: &'static str,
    pub revoke_action: Option<String>,
}

pub struct AttestationRow {
    pub id: i64,
    pub system: String,
    pub system_href: String,
    pub requirement: String,
    pub attested_by: String,
    pub attested_at: String,
    pub valid_until: String,
    pub file_name: String,
    pub file_href: Option<String>,
    pub sha256: String,
    pub state: &'static str,
    pub tone: &'static str,
    pub revoke_action: Option<String>,
}

/// What the forms held when a change was refused, to show them again.
#[derive(Default, Deserialize)]
pub struct WaiverForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    requirement: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    approver: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    expiry: String,
}

#[derive(Default)]
pub struct AttestationForm {
    csrf: String,
    system: String,
    requirement: String,
    attested_by: String,
    valid_until: String,
}

#[derive(Template)]
#[template(path = "web/exceptions.html")]
struct ExceptionsPage {
    shell: Shell,
    x: &'static ExceptionTexts,
    csrf: String,
    system: String,
    system_href: Option<String>,
    all: bool,
    toggle_href: String,
    notice: Option<&'static str>,
    error: Option<String>,
    can_waive: bool,
    can_attest: bool,
    w: WaiverForm,
    a: AttestationForm,
    waivers: Vec<WaiverRow>,
    attestations: Vec<AttestationRow>,
}

#[derive(Deserialize, Default)]
pub struct PageParams {
    #[serde(default)]
    system: String,
    #[serde(default)]
    all: String,
    #[serde(default)]
    done: String,
}

fn page_href(system: &str, all: bool, lang: Lang) -> String {
    let mut q = Vec::new();
    if !system.is_empty() {
        q.push(format!("system={}", view::query_value(system)));
    }
    if all {
        q.push("all=1".to_string());
    }
    let href = if q.is_empty() {
        "/exceptions".to_string()
    } else {
        format!("/exceptions?{}", q.join("&"))
    };
    with_lang(href, lang)
}

/// What a page shows after a change, or with a refusal: the lists, the forms (with what was typed).
struct Render {
    system: String,
    all: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    w: WaiverForm,
    a: AttestationForm,
}

impl Render {
    /// The page after a refused change, saying why.
    fn refused(message: String) -> Render {
        Render {
            system: String::new(),
            all: false,
            notice: None,
            error: Some(message),
            w: WaiverForm::default(),
            a: AttestationForm::default(),
        }
    }
}

async fn render(app: &App, session: &Session, lang: Lang, status: StatusCode, r: Render) -> Response {
    let principal = &session.principal;
    let now = Timestamp::now().unix_millis();
    let read = async {
        let system_id = if r.system.is_empty() {
            None
        } else {
            match crate::register::system(&app.store, &r.system).await? {
                Some(s) if principal.allows(&s.org_unit_path) => Some(s.id),
                _ => return Ok(None),
            }
        };
        let f = Filter {
            under: principal.scope.clone(),
            system_id,
            all: r.all,
            now,
        };
        let w = exceptions::waivers(&app.store, &f).await?;
        let a = exceptions::attestations(&app.store, &f).await?;
        Ok::<_, StoreError>(Some((w, a)))
    }
    .await;
    let (waivers, attestations) = match read {
        Ok(Some(x)) => x,
        Ok(None) => {
            return notice(
                StatusCode::NOT_FOUND,
                lang,
                session,
                "/exceptions",
                |t| t.not_found_title,
                |t| t.no_system,
            );
        }
        Err(e) => return unavailable(lang, &e),
    };
    let can_waive = principal.can(Action::Manage);
    let can_attest = principal.can(Action::Attest);
    let can_files = principal.can(Action::Export);
    let x = texts(lang);
    let page = ExceptionsPage {
        shell: Shell::new(lang, &page_href(&r.system, r.all, Lang::Vi), |t| t.nav_exceptions, Some(session)),
        x,
        csrf: session.csrf.clone(),
        system_href: (!r.system.is_empty()).then(|| system_href(&r.system, lang)),
        toggle_href: page_href(&r.system, !r.all, lang),
        all: r.all,
        notice: r.notice,
        error: r.error,
        can_waive,
        can_attest,
        waivers: waivers.iter().map(|w| waiver_row(w, lang, now, can_waive)).collect(),
        attestations: attestations
            .iter()
            .map(|a| attestation_row(a, lang, now, can_attest, can_files))
            .collect(),
        w: r.w,
        a: AttestationForm {
            system: if r.a.system.is_empty() { r.system.clone() } else { r.a.system },
            ..r.a
        },
        system: r.system,
    };
    html(status, &page)
}

fn waiver_row(w: &WaiverRecord, lang: Lang, now: i64, can_revoke: bool) -> WaiverRow {
    let x = texts(lang);
    let state = w.state(now);
    let (label, tone) = state_label(lang, state);
    let (target, target_href) = match (&w.system, &w.endpoint) {
        (Some(s), _) => (format!("{}: {s}", x.kind_system), Some(system_href(s, lang))),
        (None, Some(e)) => (
            format!("{}: {e}", x.kind_endpoint),
            Some(with_lang(format!("/endpoints/{}", view::query_value(e)), lang)),
        ),
        (None, None) => (String::new(), None),
    };
    WaiverRow {
        id: w.id,
        target,
        target_href,
        requirement: w.requirement.clone(),
        reason: w.reason.clone(),
        approver: w.approver.clone(),
        start: view::datetime_ms(w.start_at),
        expiry: view::datetime_ms(w.expiry_at),
        state: label,
        tone,
        revoke_action: (can_revoke && matches!(state, exceptions::State::Active | exceptions::State::Pending))
            .then(|| with_lang(format!("/exceptions/waivers/{}/revoke", w.id), lang)),
    }
}

fn attestation_row(a: &AttestationRecord, lang: Lang, now: i64, can_revoke: bool, can_files: bool) -> AttestationRow {
    let state = a.state(now);
    let (label, tone) = state_label(lang, state);
    AttestationRow {
        id: a.id,
        system_href: system_href(&a.system, lang),
        system: a.system.clone(),
        requirement: a.requirement.clone(),
        attested_by: a.attested_by.clone(),
        attested_at: view::datetime_ms(a.attested_at),
        valid_until: view::datetime_ms(a.valid_until),
        file_name: a.file_name.clone(),
        file_href: can_files.then(|| format!("/api/v1/evidence-files/{}", a.file_sha256)),
        sha256: a.file_sha256.clone(),
        state: label,
        tone,
        revoke_action: (can_revoke && matches!(state, exceptions::State::Active | exceptions::State::Pending))
            .then(|| with_lang(format!("/exceptions/attestations/{}/revoke", a.id), lang)),
    }
}

/// A refusal in words a person can act on; the library's messages name the field.
fn refusal(e: &ExceptionError) -> (StatusCode, String) {
    let status = match e {
        ExceptionError::NotFound(_) => StatusCode::NOT_FOUND,
        ExceptionError::Invalid { .. } => StatusCode::BAD_REQUEST,
        ExceptionError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ExceptionError::Conflict(_) => StatusCode::CONFLICT,
        ExceptionError::Forbidden(_) => StatusCode::FORBIDDEN,
        ExceptionError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.to_string())
}

fn done_notice(x: &'static ExceptionTexts, done: &str) -> Option<&'static str> {
    match done {
        "waiver" => Some(x.created_waiver),
        "attestation" => Some(x.created_attestation),
        "revoked" => Some(x.revoked),
        _ => None,
    }
}

// ---- handlers -------------------------------------------------------------------------

pub async fn page(
    State(app): State<Arc<App>>,
    params: Result<Query<PageParams>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let p = params.map(|Query(p)| p).unwrap_or_default();
    let system: String = p.system.trim().chars().take(64).collect();
    let r = Render {
        notice: done_notice(texts(lang), &p.done),
        all: p.all == "1",
        system,
        error: None,
        w: WaiverForm {
            kind: "system".into(),
            target: p.system.trim().chars().take(64).collect(),
            ..WaiverForm::default()
        },
        a: AttestationForm::default(),
    };
    render(&app, &session, lang, StatusCode::OK, r).await
}

fn after_change(system: &str, done: &str, lang: Lang) -> Response {
    let mut href = format!("/exceptions?done={done}");
    if !system.is_empty() {
        href.push_str(&format!("&system={}", view::query_value(system)));
    }
    Redirect::to(&with_lang(href, lang)).into_response()
}

async fn create_waiver(
    State(app): State<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<WaiverForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(Form(f)) = form else { return csrf_refused(lang) };
    if !csrf_ok(&session, &f.csrf) {
        return csrf_refused(lang);
    }
    if session.principal.require(Action::Manage).is_err() {
        return notice(
            StatusCode::FORBIDDEN,
            lang,
            &session,
            "/exceptions",
            |t| t.forbidden_title,
            |t| t.role_forbidden,
        );
    }
    let target = f.target.trim().to_string();
    let system = if f.kind == "endpoint" { String::new() } else { target.clone() };
    let parsed = (|| {
        let start = match f.start.trim() {
            "" => None,
            t => Some(audit::parse_time("start", t, false)?),
        };
        let expiry = audit::parse_time("expiry", &f.expiry, true)?;
        Ok::<_, String>((start, expiry))
    })();
    let outcome = match parsed {
        Err(m) => Err((StatusCode::BAD_REQUEST, m)),
        Ok((start, expiry)) => {
            let new = NewWaiver {
                target: if f.kind == "endpoint" {
                    WaiverTarget::Endpoint(target.clone())
                } else {
                    WaiverTarget::System(target.clone())
                },
                requirement: f.requirement.clone(),
                reason: f.reason.clone(),
                approver: f.approver.clone(),
                start,
                expiry,
            };
            let now = Timestamp::now().unix_millis();
            exceptions::create_waiver(&app.store, app.ingest.policies(), &session.principal.caller(), &new, now)
                .await
                .map_err(|e| refusal(&e))
        }
    };
    match outcome {
        Ok(w) => {
            tracing::info!(actor = %session.principal.actor, waiver = w.id, "Waiver created from the dashboard.");
            after_change(&system, "waiver", lang)
        }
        Err((status, message)) => {
            let r = Render {
                system,
                w: f,
                ..Render::refused(message)
            };
            render(&app, &session, lang, status, r).await
        }
    }
}

/// Reads the attestation form: its fields and the file, refusing a file over the limit while reading it.
async fn read_attestation(mut m: Multipart) -> Result<(AttestationForm, String, Vec<u8>), (StatusCode, String)> {
    let mut f = AttestationForm::default();
    let mut file_name = String::new();
    let mut content = Vec::new();
    let bad = |e: axum::extract::multipart::MultipartError| (e.status(), e.body_text());
    while let Some(mut field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            file_name = field.file_name().unwrap_or_default().to_string();
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                if content.len() + chunk.len() > exceptions::MAX_FILE_BYTES {
                    return Err((
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("file: more than the limit of {} bytes (20 MiB)", exceptions::MAX_FILE_BYTES),
                    ));
                }
                content.extend_from_slice(&chunk);
            }
            continue;
        }
        let value: String = field.text().await.map_err(bad)?.chars().take(4000).collect();
        match name.as_str() {
            "csrf" => f.csrf = value,
            "system" => f.system = value,
            "requirement" => f.requirement = value,
            "attested_by" => f.attested_by = value,
            "valid_until" => f.valid_until = value,
            _ => {}
        }
    }
    Ok((f, file_name, content))
}

async fn create_attestation(
    State(app): State<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    m: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(m) = m else { return csrf_refused(lang) };
    let (f, file_name, content) = match read_attestation(m).await {
        Ok(x) => x,
        Err((status, message)) => {
            return render(&app, &session, lang, status, Render::refused(message)).await;
        }
    };
    // The CSRF field comes before the file in the form, but it is checked only
    // once the whole body is read: nothing is stored before this check.
    if !csrf_ok(&session, &f.csrf) {
        return csrf_refused(lang);
    }
    if session.principal.require(Action::Attest).is_err() {
        return notice(
            StatusCode::FORBIDDEN,
            lang,
            &session,
            "/exceptions",
            |t| t.forbidden_title,
            |t| t.role_forbidden,
        );
    }
    let system = f.system.trim().to_string();
    let outcome = match audit::parse_time("valid_until", &f.valid_until, true) {
        Err(m) => Err((StatusCode::BAD_REQUEST, m)),
        Ok(valid_until) => {
            let new = NewAttestation {
                system: system.clone(),
                requirement: f.requirement.clone(),
                attested_by: f.attested_by.clone(),
                attested_at: None,
                valid_until,
                file_name,
            };
            let now = Timestamp::now().unix_millis();
            exceptions::create_attestation(&app.store, app.ingest.policies(), &session.principal.caller(), &new, &content, now)
                .await
                .map_err(|e| refusal(&e))
        }
    };
    match outcome {
        Ok(a) => {
            tracing::info!(actor = %session.principal.actor, attestation = a.id, "Attestation created from the dashboard.");
            after_change(&system, "attestation", lang)
        }
        Err((status, message)) => {
            let r = Render {
                a: f,
                ..Render::refused(message)
            };
            render(&app, &session, lang, status, r).await
        }
    }
}

#[derive(Deserialize, Default)]
struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    system: String,
}

async fn revoke(
    app: &App,
    uri: &Uri,
    headers: &HeaderMap,
    form: Result<Form<RevokeForm>, FormRejection>,
    id: i64,
    waiver: bool,
) -> Response {
    let lang = Lang::of(uri);
    let session = match require_session(app, headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = form.map(|Form(f)| f).unwrap_or_default();
    if !csrf_ok(&session, &f.csrf) {
        return csrf_refused(lang);
    }
    let action = if waiver { Action::Manage } else { Action::Attest };
    if session.principal.require(action).is_err() {
        return notice(
            StatusCode::FORBIDDEN,
            lang,
            &session,
            "/exceptions",
            |t| t.forbidden_title,
            |t| t.role_forbidden,
        );
    }
    let caller = session.principal.caller();
    let now = Timestamp::now().unix_millis();
    let outcome = if waiver {
        exceptions::revoke_waiver(&app.store, &caller, id, now).await.map(|_| ())
    } else {
        exceptions::revoke_attestation(&app.store, &caller, id, now).await.map(|_| ())
    };
    match outcome {
        Ok(()) => after_change(f.system.trim(), "revoked", lang),
        Err(e) => {
            let (status, message) = refusal(&e);
            render(app, &session, lang, status, Render::refused(message)).await
        }
    }
}

async fn revoke_waiver(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    revoke(&app, &uri, &headers, form, id, true).await
}

async fn revoke_attestation(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    revoke(&app, &uri, &headers, form, id, false).await
}
