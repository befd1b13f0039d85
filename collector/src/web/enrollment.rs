//! `/enrollment`: the enrollment tokens of the account's subtree, a form to
//! make one and a button to revoke one. A token's text can be shown only in
//! the answer to the form that made it (its secret is stored hashed), so that
//! answer is a page, not a redirect. Roles that may not `Manage` see the list
//! read-only, and their POSTs are refused as the API refuses them.

use super::i18n::Lang;
use super::units::with_lang;
use super::{Session, Shell, assets, csrf_ok, csrf_refused, html, require_session, unavailable, view};
use crate::api::App;
use crate::auth::Action;
use crate::enroll::{self, NewToken, TokenError, TokenInfo, TokenState};
use crate::store::StoreError;
use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sqlx::Row as _;
use std::sync::Arc;

/// Up to this many units the form offers a `<select>`; beyond, a text input
/// with the shallowest units as suggestions (a province has thousands of communes).
const SELECT_MAX: usize = 300;
const DATALIST_MAX: usize = 200;
/// Tokens no longer usable shown by default, newest first; `?state=all` shows them all, up to `ALL_MAX`.
const ENDED_SHOWN: usize = 20;
const ALL_MAX: usize = 2000;
const DEFAULT_USES: &str = "1";
const DEFAULT_VALID_HOURS: &str = "72";
const MAX_VALID_HOURS: u32 = 366 * 24;

/// This page's words.
pub struct EnrollmentTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub new_token: &'static str,
    pub org_unit: &'static str,
    pub org_unit_hint: &'static str,
    pub systems: &'static str,
    pub systems_hint: &'static str,
    pub uses: &'static str,
    pub valid_hours: &'static str,
    pub create: &'static str,
    pub read_only: &'static str,
    pub created: &'static str,
    pub token: &'static str,
    pub shown_once: &'static str,
    pub linux: &'static str,
    pub linux_note: &'static str,
    pub windows: &'static str,
    pub windows_note: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub tokens: &'static str,
    pub tokens_caption: &'static str,
    pub no_tokens: &'static str,
    pub id: &'static str,
    pub systems_col: &'static str,
    pub used: &'static str,
    pub expires: &'static str,
    pub created_by: &'static str,
    pub state: &'static str,
    pub action: &'static str,
    pub revoke: &'static str,
    pub active: &'static str,
    pub used_up: &'static str,
    pub expired: &'static str,
    pub revoked: &'static str,
    pub unknown_creator: &'static str,
    pub show_all: &'static str,
    pub show_recent: &'static str,
    pub bad_uses: &'static str,
    pub bad_hours: &'static str,
    pub no_unit_given: &'static str,
    pub may_not_manage: &'static str,
}

static VI: EnrollmentTexts = EnrollmentTexts {
    title: "Đăng ký máy",
    intro: "Mã đăng ký cho phép máy trạm hoặc máy chủ cài tác tử Khiên và gia nhập đơn vị, hệ thống thông tin đã chọn.",
    new_token: "Tạo mã đăng ký",
    org_unit: "Đơn vị",
    org_unit_hint: "Nhập mã đơn vị; danh sách gợi ý các đơn vị cấp trên.",
    systems: "Hệ thống thông tin (mã, cách nhau bởi dấu phẩy; có thể bỏ trống)",
    systems_hint: "Ví dụ: DLK-DHTN, DLK-HNTH",
    uses: "Số máy được đăng ký",
    valid_hours: "Hiệu lực (giờ)",
    create: "Tạo mã",
    read_only: "Vai trò của tài khoản chỉ cho phép xem danh sách mã đăng ký.",
    created: "Đã tạo mã đăng ký",
    token: "Mã đăng ký",
    shown_once: "Mã này chỉ hiển thị một lần: máy chủ thu thập không lưu mã, chỉ lưu giá trị băm. Hãy sao chép ngay.",
    linux: "Cài trên Linux",
    linux_note: "Chạy trong cửa sổ dòng lệnh trên máy cần đăng ký. Lệnh run --once gửi báo cáo đầu tiên để kiểm tra kết nối; sau đó để khien-agent run chạy thường trực (dịch vụ) để máy báo cáo định kỳ.",
    windows: "Cài trên Windows",
    windows_note: "Chạy trong Command Prompt mở bằng quyền quản trị (Run as administrator).",
    copy: "Sao chép",
    copied: "Đã sao chép",
    tokens: "Mã đăng ký",
    tokens_caption: "Mã đăng ký trong phạm vi của tài khoản: mã còn hiệu lực trước, sau đó là mã đã dùng hết, hết hạn hoặc bị thu hồi",
    no_tokens: "Chưa có mã đăng ký nào.",
    id: "Số",
    systems_col: "Hệ thống",
    used: "Đã dùng",
    expires: "Hết hạn",
    created_by: "Người tạo",
    state: "Trạng thái",
    action: "Thao tác",
    revoke: "Thu hồi",
    active: "Còn hiệu lực",
    used_up: "Đã dùng hết",
    expired: "Đã hết hạn",
    revoked: "Đã thu hồi",
    unknown_creator: "Không rõ",
    show_all: "Hiện tất cả mã",
    show_recent: "Chỉ hiện mã gần đây",
    bad_uses: "Số máy được đăng ký phải là số nguyên dương.",
    bad_hours: "Hiệu lực phải từ 1 đến 8784 giờ (một năm).",
    no_unit_given: "Hãy chọn đơn vị.",
    may_not_manage: "Vai trò của tài khoản không được tạo hoặc thu hồi mã đăng ký.",
};

static EN: EnrollmentTexts = EnrollmentTexts {
    title: "Enrollment",
    intro: "An enrollment token lets a workstation or server install the Khiên agent and join the chosen unit and information systems.",
    new_token: "Create an enrollment token",
    org_unit: "Org unit",
    org_unit_hint: "Type the unit's code; the suggestions list the upper units.",
    systems: "Information systems (codes, comma-separated; optional)",
    systems_hint: "For example: DLK-DHTN, DLK-HNTH",
    uses: "Machines it may enroll",
    valid_hours: "Valid for (hours)",
    create: "Create",
    read_only: "Your account's role may only view the enrollment tokens.",
    created: "Enrollment token created",
    token: "Enrollment token",
    shown_once: "This token is shown only once: the collector does not keep it, only its hash. Copy it now.",
    linux: "Install on Linux",
    linux_note: "Run in a terminal on the machine to enroll. run --once sends a first report to check the connection; then keep khien-agent run running (as a service) so that the machine reports regularly.",
    windows: "Install on Windows",
    windows_note: "Run in a Command Prompt opened as administrator (Run as administrator).",
    copy: "Copy",
    copied: "Copied",
    tokens: "Enrollment tokens",
    tokens_caption: "Enrollment tokens in your account's scope: active ones first, then those used up, expired or revoked",
    no_tokens: "No enrollment tokens yet.",
    id: "No.",
    systems_col: "Systems",
    used: "Used",
    expires: "Expires",
    created_by: "Created by",
    state: "State",
    action: "Action",
    revoke: "Revoke",
    active: "Active",
    used_up: "Used up",
    expired: "Expired",
    revoked: "Revoked",
    unknown_creator: "Unknown",
    show_all: "Show every token",
    show_recent: "Show recent tokens only",
    bad_uses: "The number of machines must be a positive whole number.",
    bad_hours: "The validity must be from 1 to 8784 hours (a year).",
    no_unit_given: "Choose an org unit.",
    may_not_manage: "Your account's role may not create or revoke enrollment tokens.",
};

pub fn texts(lang: Lang) -> &'static EnrollmentTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// A library refusal in the page's language.
fn describe(lang: Lang, e: &TokenError) -> String {
    let en = lang.english();
    match e {
        TokenError::UnknownUnit(c) if en => format!("There is no org unit {c}."),
        TokenError::UnknownUnit(c) => format!("Không có đơn vị mã {c}."),
        TokenError::RetiredUnit(c) if en => format!("Org unit {c} has been retired."),
        TokenError::RetiredUnit(c) => format!("Đơn vị {c} đã giải thể."),
        TokenError::UnknownSystem(c) if en => format!("There is no information system {c}."),
        TokenError::UnknownSystem(c) => format!("Không có hệ thống thông tin mã {c}."),
        TokenError::RetiredSystem(c) if en => format!("Information system {c} has been retired."),
        TokenError::RetiredSystem(c) => format!("Hệ thống thông tin {c} đã ngừng sử dụng."),
        TokenError::OtherBranch { system, org_unit } if en => {
            format!("Information system {system} belongs neither to {org_unit} nor to a unit above or below it.")
        }
        TokenError::OtherBranch { system, org_unit } => {
            format!("Hệ thống {system} không thuộc đơn vị {org_unit}, đơn vị cấp trên hay cấp dưới của đơn vị này.")
        }
        TokenError::NoUses => texts(lang).bad_uses.to_string(),
        TokenError::Validity => texts(lang).bad_hours.to_string(),
        TokenError::NotFound(id) if en => format!("There is no enrollment token {id}."),
        TokenError::NotFound(id) => format!("Không có mã đăng ký số {id}."),
        TokenError::AlreadyRevoked { id, .. } if en => format!("Enrollment token {id} has already been revoked."),
        TokenError::AlreadyRevoked { id, .. } => format!("Mã đăng ký số {id} đã bị thu hồi trước đó."),
        TokenError::Forbidden(_) if en => "This is outside your account's scope.".to_string(),
        TokenError::Forbidden(_) => "Việc này nằm ngoài phạm vi của tài khoản.".to_string(),
        TokenError::Store(_) => String::new(),
    }
}

fn status_of(e: &TokenError) -> StatusCode {
    match e {
        TokenError::Forbidden(_) => StatusCode::FORBIDDEN,
        TokenError::NotFound(_) => StatusCode::NOT_FOUND,
        TokenError::AlreadyRevoked { .. } => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    }
}

// ---- views ------------------------------------------------------------------------

pub struct UnitOption {
    pub code: String,
    /// Indented by depth below the account's unit, for the `<select>`.
    pub label: String,
    pub selected: bool,
}

/// What the form shows in its fields: the defaults, or what was sent when it is refused.
#[derive(Deserialize, Default)]
pub struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org_unit: String,
    #[serde(default)]
    systems: String,
    #[serde(default)]
    uses: String,
    #[serde(default)]
    valid_hours: String,
}

pub struct TokenRow {
    pub id: i64,
    pub unit_name: String,
    pub unit_code: String,
    pub systems: String,
    pub uses: String,
    pub expires: String,
    pub created_by: String,
    pub state: &'static str,
    pub tone: &'static str,
    pub active: bool,
    pub revoke_action: String,
}

pub struct CreatedView {
    pub token: String,
    pub linux: String,
    pub windows: String,
}

#[derive(Template)]
#[template(path = "web/enrollment.html")]
struct EnrollmentPage {
    shell: Shell,
    e: &'static EnrollmentTexts,
    csrf: String,
    copy_js: String,
    can_manage: bool,
    action: String,
    unit_select: bool,
    units: Vec<UnitOption>,
    form: NewTokenForm,
    error: Option<String>,
    created: Option<CreatedView>,
    rows: Vec<TokenRow>,
    more_href: Option<String>,
    less_href: Option<String>,
}

/// `'` and `"` cannot occur in a token (base64url and dots), so quoting it is enough.
fn install_commands(token: &str) -> (String, String) {
    (
        format!("sudo khien-agent enroll --token '{token}' && sudo khien-agent run --once"),
        format!("khien-agent.exe enroll --token \"{token}\" && khien-agent.exe run --once"),
    )
}

fn state_view(lang: Lang, s: TokenState) -> (&'static str, &'static str) {
    let e = texts(lang);
    match s {
        TokenState::Active => (e.active, "good"),
        TokenState::UsedUp => (e.used_up, "ended"),
        TokenState::Expired => (e.expired, "ended"),
        TokenState::Revoked => (e.revoked, "poor"),
    }
}

fn row(t: &TokenInfo, lang: Lang) -> TokenRow {
    let (state, tone) = state_view(lang, t.state);
    TokenRow {
        id: t.id,
        unit_name: t.org_unit_name.clone(),
        unit_code: t.org_unit.clone(),
        systems: if t.systems.is_empty() { "—".into() } else { t.systems.join(", ") },
        uses: format!("{}/{}", view::int(lang, t.used), view::int(lang, t.max_uses)),
        expires: view::datetime_ms(t.expires_at),
        created_by: if t.created_by.is_empty() {
            texts(lang).unknown_creator.to_string()
        } else {
            t.created_by.clone()
        },
        state,
        tone,
        active: t.state == TokenState::Active,
        revoke_action: with_lang(format!("/enrollment/{}/revoke", t.id), lang),
    }
}

/// The units the form offers: every active unit of the subtree when few,
/// else the shallowest ones as suggestions. Sorted by path (bytewise, not by
/// the database's collation), which lists each unit right above its children.
async fn unit_options(app: &App, scope: Option<&str>, selected: &str) -> Result<(bool, Vec<UnitOption>), StoreError> {
    if scope.is_some_and(|p| !p.starts_with('/')) {
        return Ok((true, Vec::new()));
    }
    let rows = sqlx::query(
        "SELECT code, name, path FROM org_units WHERE retired_at IS NULL AND ($1 = '' OR path LIKE $1)
         ORDER BY LENGTH(path), path LIMIT $2",
    )
    .bind(scope.map(|p| format!("{p}%")).unwrap_or_default())
    .bind(i64::try_from(SELECT_MAX + 1).unwrap_or(301))
    .fetch_all(app.store.pool())
    .await?;
    let mut units: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("name")?, r.try_get("path")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let select = units.len() <= SELECT_MAX;
    units.truncate(if select { SELECT_MAX } else { DATALIST_MAX });
    units.sort_by(|a, b| a.2.cmp(&b.2));
    let top = units.iter().map(|u| u.2.matches('/').count()).min().unwrap_or(0);
    Ok((
        select,
        units
            .into_iter()
            .map(|(code, name, path)| {
                let depth = path.matches('/').count().saturating_sub(top);
                UnitOption {
                    selected: code == selected,
                    label: format!("{}{name} ({code})", "\u{a0}\u{a0}\u{a0}".repeat(depth)),
                    code,
                }
            })
            .collect(),
    ))
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    state: String,
}

/// What differs between the page's answers: a refusal, or a token just made.
#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    error: Option<String>,
    created: Option<CreatedView>,
    form: Option<NewTokenForm>,
}

async fn render(app: &App, session: &Session, lang: Lang, show_all: bool, outcome: Outcome) -> Response {
    let principal = &session.principal;
    let can_manage = principal.can(Action::Manage);
    let form = outcome.form.unwrap_or_else(|| NewTokenForm {
        uses: DEFAULT_USES.into(),
        valid_hours: DEFAULT_VALID_HOURS.into(),
        ..NewTokenForm::default()
    });
    let now = super::now();
    let built = async {
        let tokens = enroll::list_tokens(&app.store, principal.scope.as_deref(), now).await?;
        let units = if can_manage {
            unit_options(app, principal.scope.as_deref(), form.org_unit.trim()).await?
        } else {
            (true, Vec::new())
        };
        Ok::<_, StoreError>((tokens, units))
    }
    .await;
    let (tokens, (unit_select, units)) = match built {
        Ok(x) => x,
        Err(e) => return unavailable(lang, &e),
    };
    // Active first, each group newest first (the store lists newest first).
    let (active, ended): (Vec<&TokenInfo>, Vec<&TokenInfo>) = tokens.iter().partition(|t| t.state == TokenState::Active);
    let limit = if show_all { ALL_MAX } else { ENDED_SHOWN };
    let hidden = ended.len() > limit;
    let rows = active
        .iter()
        .chain(ended.iter().take(limit))
        .take(ALL_MAX)
        .map(|t| row(t, lang))
        .collect();
    let base = "/enrollment";
    let mut shell = Shell::new(lang, base, |t| t.nav_enrollment, Some(session));
    if show_all {
        shell.other_lang_href = match lang {
            Lang::Vi => "/enrollment?state=all&lang=en".into(),
            Lang::En => "/enrollment?state=all".into(),
        };
    }
    let page = EnrollmentPage {
        e: texts(lang),
        csrf: session.csrf.clone(),
        copy_js: assets::url("copy.js"),
        can_manage,
        action: with_lang(base.into(), lang),
        unit_select,
        units,
        form,
        error: outcome.error,
        created: outcome.created,
        rows,
        more_href: (!show_all && hidden).then(|| with_lang(format!("{base}?state=all"), lang)),
        less_href: show_all.then(|| with_lang(base.into(), lang)),
        shell,
    };
    html(outcome.status.unwrap_or(StatusCode::OK), &page)
}

pub async fn page(
    State(app): State<Arc<App>>,
    params: Result<Query<ListParams>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let p = params.map(|Query(p)| p).unwrap_or_default();
    render(&app, &session, lang, p.state == "all", Outcome::default()).await
}

/// Codes as typed: separated by commas or spaces, in upper case (codes are).
fn codes(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in text.split([',', ';', ' ', '\n', '\t']).map(str::trim).filter(|c| !c.is_empty()) {
        let c = c.to_ascii_uppercase();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The form's values as a token to make, or what is wrong with them.
fn parse_form(lang: Lang, f: &NewTokenForm) -> Result<NewToken, String> {
    let e = texts(lang);
    let org_unit = f.org_unit.trim().to_ascii_uppercase();
    if org_unit.is_empty() {
        return Err(e.no_unit_given.into());
    }
    let uses = f.uses.trim().parse::<u32>().ok().filter(|&n| n > 0).ok_or(e.bad_uses)?;
    let hours = f
        .valid_hours
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|&h| (1..=MAX_VALID_HOURS).contains(&h))
        .ok_or(e.bad_hours)?;
    Ok(NewToken {
        org_unit,
        systems: codes(&f.systems),
        uses,
        valid_for: time::Duration::hours(i64::from(hours)),
    })
}

pub async fn create(
    State(app): State<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<NewTokenForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if !csrf_ok(&session, &form.csrf) {
        return csrf_refused(lang);
    }
    let refuse = |status: StatusCode, error: String, form: NewTokenForm| Outcome {
        status: Some(status),
        error: Some(error),
        form: Some(form),
        ..Outcome::default()
    };
    if let Err(e) = session.principal.require(Action::Manage) {
        tracing::info!(actor = %session.principal.actor, refused = %e, "Enrollment token creation refused.");
        let out = refuse(StatusCode::FORBIDDEN, texts(lang).may_not_manage.into(), NewTokenForm::default());
        return render(&app, &session, lang, false, out).await;
    }
    let new = match parse_form(lang, &form) {
        Ok(n) => n,
        Err(message) => return render(&app, &session, lang, false, refuse(StatusCode::BAD_REQUEST, message, form)).await,
    };
    let caller = session.principal.caller();
    match enroll::create_token(&app.store, &app.authority, &app.url, &caller, &new, super::now()).await {
        Ok(created) => {
            tracing::info!(actor = %caller.actor, token = created.info.id, org_unit = %created.info.org_unit, "Enrollment token created.");
            let (linux, windows) = install_commands(&created.text);
            let out = Outcome {
                status: Some(StatusCode::CREATED),
                created: Some(CreatedView {
                    token: created.text,
                    linux,
                    windows,
                }),
                ..Outcome::default()
            };
            render(&app, &session, lang, false, out).await
        }
        Err(TokenError::Store(e)) => unavailable(lang, &e),
        Err(e) => {
            tracing::info!(actor = %caller.actor, refused = %e, "Enrollment token creation refused.");
            render(&app, &session, lang, false, refuse(status_of(&e), describe(lang, &e), form)).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    State(app): State<Arc<App>>,
    id: Result<Path<i64>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if !csrf_ok(&session, &sent) {
        return csrf_refused(lang);
    }
    let refuse = |status: StatusCode, error: String| Outcome {
        status: Some(status),
        error: Some(error),
        ..Outcome::default()
    };
    if let Err(e) = session.principal.require(Action::Manage) {
        tracing::info!(actor = %session.principal.actor, refused = %e, "Enrollment token revocation refused.");
        return render(
            &app,
            &session,
            lang,
            false,
            refuse(StatusCode::FORBIDDEN, texts(lang).may_not_manage.into()),
        )
        .await;
    }
    let Ok(Path(id)) = id else {
        let e = TokenError::NotFound(0);
        return render(&app, &session, lang, false, refuse(StatusCode::NOT_FOUND, describe(lang, &e))).await;
    };
    let caller = session.principal.caller();
    match enroll::revoke_token(&app.store, &caller, id, super::now()).await {
        Ok(_) => {
            tracing::info!(actor = %caller.actor, token = id, "Enrollment token revoked.");
            Redirect::to(&format!("/enrollment{}", lang.query())).into_response()
        }
        Err(TokenError::Store(e)) => unavailable(lang, &e),
        Err(e) => {
            tracing::info!(actor = %caller.actor, refused = %e, "Enrollment token revocation refused.");
            render(&app, &session, lang, false, refuse(status_of(&e), describe(lang, &e))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_enrollment_codes_and_form() {
        assert_eq!(codes(" dlk-dhtn, DLK-HNTH ;dlk-dhtn\n"), ["DLK-DHTN", "DLK-HNTH"]);
        assert!(codes(" , ").is_empty());
        let f = |uses: &str, hours: &str| NewTokenForm {
            org_unit: " dlk ".into(),
            uses: uses.into(),
            valid_hours: hours.into(),
            ..NewTokenForm::default()
        };
        let ok = parse_form(Lang::Vi, &f("5", "72")).unwrap();
        assert_eq!((ok.org_unit.as_str(), ok.uses, ok.valid_for), ("DLK", 5, time::Duration::hours(72)));
        assert_eq!(parse_form(Lang::Vi, &f("0", "72")).unwrap_err(), VI.bad_uses);
        assert_eq!(parse_form(Lang::En, &f("x", "72")).unwrap_err(), EN.bad_uses);
        assert_eq!(parse_form(Lang::Vi, &f("1", "8785")).unwrap_err(), VI.bad_hours);
        assert_eq!(parse_form(Lang::Vi, &f("1", "0")).unwrap_err(), VI.bad_hours);
        let none = NewTokenForm::default();
        assert_eq!(parse_form(Lang::Vi, &none).unwrap_err(), VI.no_unit_given);
    }

    fn page(lang: Lang, unit_select: bool, can_manage: bool, created: bool) -> String {
        let unit = |code: &str| UnitOption {
            code: code.into(),
            label: format!("{code} <&>"),
            selected: code == "DLK",
        };
        let t = TokenInfo {
            id: 7,
            org_unit: "DLK".into(),
            org_unit_name: "Tỉnh ủy Đắk Lắk".into(),
            org_unit_path: "/TW/DLK/".into(),
            systems: vec![],
            max_uses: 2,
            used: 1,
            expires_at: 1_777_593_600_000,
            created_at: 0,
            created_by: String::new(),
            revoked_at: None,
            state: TokenState::Active,
        };
        let (linux, windows) = install_commands("khien1.x");
        EnrollmentPage {
            shell: Shell::new(lang, "/enrollment", |t| t.nav_enrollment, None),
            e: texts(lang),
            csrf: "c".into(),
            copy_js: assets::url("copy.js"),
            can_manage,
            action: "/enrollment".into(),
            unit_select,
            units: vec![unit("TW"), unit("DLK")],
            form: NewTokenForm {
                org_unit: "DLK".into(),
                uses: "1".into(),
                valid_hours: "72".into(),
                ..NewTokenForm::default()
            },
            error: Some("<b>".into()),
            created: created.then(|| CreatedView {
                token: "khien1.x".into(),
                linux,
                windows,
            }),
            rows: vec![row(&t, lang)],
            more_href: None,
            less_href: None,
        }
        .render()
        .unwrap()
    }

    #[test]
    fn web_enrollment_page_labels_every_field() {
        for (lang, select, manage, created) in [
            (Lang::Vi, true, true, true),
            (Lang::En, false, true, false),
            (Lang::Vi, true, false, false),
        ] {
            let html = page(lang, select, manage, created);
            assert!(!html.contains("style=") && !html.contains("<b>"), "{html}");
            assert!(html.contains("/assets/copy.js?v="), "the script is an asset");
            for field in html.split("<input").skip(1).chain(html.split("<select").skip(1)) {
                let tag = &field[..field.find('>').unwrap()];
                if tag.contains("type=\"hidden\"") {
                    continue;
                }
                let id = tag.split("id=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
                assert!(html.contains(&format!("<label for=\"{id}\">")), "a label for {id}: {html}");
            }
            assert_eq!(html.contains("<form id=\"new-token\""), manage);
            assert_eq!(html.contains("class=\"revoke\""), manage);
            assert_eq!(html.contains("<code id=\"install-command\">"), created);
            assert!(
                html.contains("<tr data-token-id=\"7\">") && html.contains("01/05/2026 07:00"),
                "{html}"
            );
            if manage && select {
                assert!(html.contains("<option value=\"DLK\" selected>"), "{html}");
            }
            if manage && !select {
                assert!(html.contains("list=\"org_units\"") && html.contains("<datalist id=\"org_units\">"));
                assert!(html.contains("value=\"DLK\""), "what was typed stays");
            }
        }
        assert!(page(Lang::En, true, true, false).contains(">Revoke</button>"));
        assert!(page(Lang::Vi, true, true, false).contains(">Thu hồi</button>"));
    }

    #[test]
    fn web_enrollment_install_commands_quote_the_token() {
        let (linux, windows) = install_commands("khien1.abc_-");
        assert_eq!(
            linux,
            "sudo khien-agent enroll --token 'khien1.abc_-' && sudo khien-agent run --once"
        );
        assert_eq!(
            windows,
            "khien-agent.exe enroll --token \"khien1.abc_-\" && khien-agent.exe run --once"
        );
    }

    #[test]
    fn web_enrollment_refusals_are_translated() {
        let e = TokenError::AlreadyRevoked { id: 4, at: "x".into() };
        assert_eq!(describe(Lang::Vi, &e), "Mã đăng ký số 4 đã bị thu hồi trước đó.");
        assert_eq!(describe(Lang::En, &e), "Enrollment token 4 has already been revoked.");
        assert_eq!(status_of(&e), StatusCode::CONFLICT);
        assert_eq!(status_of(&TokenError::Forbidden("x".into())), StatusCode::FORBIDDEN);
        assert_eq!(state_view(Lang::Vi, TokenState::Revoked).0, "Đã thu hồi");
        assert_eq!(state_view(Lang::En, TokenState::Revoked).0, "Revoked");
    }
}
