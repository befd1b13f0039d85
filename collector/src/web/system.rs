//! An information system's page and its requirements' pages. What they say
//! comes from the evidence pack (`export::pack`): the page is the pack a
//! certifier would be handed, with its words, minus the endpoints' evidence,
//! which each requirement's page adds (htmx loads it into the matrix; without
//! script the link opens the page). The member list is the one thing only the
//! page has: it pages through the system's endpoints with their verdicts.

use super::exceptions::state_label;
use super::i18n::Lang;
use super::units::{Crumb, ListParams, crumbs_in, notice, unit_href, with_lang};
use super::view;
use super::{Session, Shell, html, require_session, unavailable};
use crate::api::App;
use crate::auth::Action;
use crate::exceptions::{self, Filter};
use crate::export::{self, Detail, ExportError};
use crate::register;
use crate::scorecard;
use crate::store::{Store, StoreError, System};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use khien_evidence::view::{RequirementView, View};
use khien_proto::Timestamp;
use serde::Deserialize;
use sqlx::{AssertSqlSafe, Row as _};
use std::sync::Arc;

/// Member endpoints per page.
const PAGE_SIZE: i64 = 50;

/// This page's words; the pack's own labels (`view.l`) name everything the pack has.
pub struct SystemTexts {
    pub export: &'static str,
    pub export_note: &'static str,
    pub requirements: &'static str,
    pub requirements_note: &'static str,
    pub show_evidence: &'static str,
    pub members: &'static str,
    pub members_all: &'static str,
    pub members_failing: &'static str,
    pub members_pending: &'static str,
    pub members_compliant: &'static str,
    pub member_verdict: &'static str,
    pub revoked: &'static str,
    pub not_evaluated: &'static str,
    pub exceptions: &'static str,
    pub manage_exceptions: &'static str,
    pub no_waivers: &'static str,
    pub no_attestations: &'static str,
    pub state: &'static str,
    pub remediation_note: &'static str,
    pub back_to_system: &'static str,
}

static VI: SystemTexts = SystemTexts {
    export: "Xuất hồ sơ bằng chứng",
    export_note: "Tệp xuất ra có chữ ký số của máy chủ thu thập; kiểm tra bằng lệnh khien-collector verify.",
    requirements: "Ma trận yêu cầu",
    requirements_note: "Yêu cầu của cấp độ, các yêu cầu chưa đạt lên trước; số máy theo từng kết quả",
    show_evidence: "Xem bằng chứng",
    members: "Máy thành viên",
    members_all: "Tất cả",
    members_failing: "Không đạt",
    members_pending: "Chưa đánh giá",
    members_compliant: "Đạt",
    member_verdict: "Kết quả với hệ thống",
    revoked: "Đã thu hồi",
    not_evaluated: "Chưa đánh giá",
    exceptions: "Miễn trừ và xác nhận",
    manage_exceptions: "Tạo miễn trừ hoặc xác nhận",
    no_waivers: "Không có miễn trừ nào.",
    no_attestations: "Không có xác nhận nào.",
    state: "Trạng thái",
    remediation_note: "Máy không đạt được liệt kê trước (tối đa 20), kèm một máy đạt làm ví dụ.",
    back_to_system: "Về trang hệ thống",
};

static EN: SystemTexts = SystemTexts {
    export: "Export the evidence pack",
    export_note: "Exports carry the collector's digital signature; check one with khien-collector verify.",
    requirements: "Requirement matrix",
    requirements_note: "The level's requirements, those not met first; endpoints per result",
    show_evidence: "Show evidence",
    members: "Member endpoints",
    members_all: "All",
    members_failing: "Failing",
    members_pending: "Not evaluated",
    members_compliant: "Compliant",
    member_verdict: "Verdict for the system",
    revoked: "Revoked",
    not_evaluated: "Not evaluated",
    exceptions: "Waivers and attestations",
    manage_exceptions: "Create a waiver or attestation",
    no_waivers: "No waivers.",
    no_attestations: "No attestations.",
    state: "State",
    remediation_note: "Failing endpoints come first (at most 20), with one passing endpoint as an example.",
    back_to_system: "Back to the system",
};

pub fn texts(lang: Lang) -> &'static SystemTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

fn evidence_lang(lang: Lang) -> khien_evidence::Lang {
    match lang {
        Lang::Vi => khien_evidence::Lang::Vi,
        Lang::En => khien_evidence::Lang::En,
    }
}

pub fn system_href(code: &str, lang: Lang) -> String {
    with_lang(format!("/systems/{}", view::query_value(code)), lang)
}

fn requirement_href(system: &str, requirement: &str, lang: Lang) -> String {
    with_lang(
        format!(
            "/systems/{}/requirements/{}",
            view::query_value(system),
            view::query_value(requirement)
        ),
        lang,
    )
}

// ---- members ------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemberState {
    All,
    Failing,
    Pending,
    Compliant,
}

impl MemberState {
    fn parse(s: &str) -> MemberState {
        match s {
            "failing" => MemberState::Failing,
            "pending" => MemberState::Pending,
            "compliant" => MemberState::Compliant,
            _ => MemberState::All,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            MemberState::All => "all",
            MemberState::Failing => "failing",
            MemberState::Pending => "pending",
            MemberState::Compliant => "compliant",
        }
    }

    /// The SQL condition on `ev` (the member's evaluation for the system, if any).
    fn condition(self) -> &'static str {
        match self {
            MemberState::All => "1 = 1",
            MemberState::Failing => "ev.compliant = 0",
            MemberState::Pending => "ev.compliant IS NULL",
            MemberState::Compliant => "ev.compliant = 1",
        }
    }
}

struct MemberRecord {
    id: String,
    hostname: String,
    org_unit: String,
    last_seen: i64,
    revoked: bool,
    /// `None`: no evaluation for the system yet.
    compliant: Option<bool>,
    failing: i64,
}

const MEMBERS_FROM: &str = "FROM endpoint_systems es
     JOIN endpoints e ON e.id = es.endpoint_id
     JOIN org_units o ON o.id = e.org_unit_id
     LEFT JOIN evaluations ev ON ev.endpoint_id = e.id AND ev.scope = $2
     WHERE es.system_id = $1 AND ($3 = '%%' OR LOWER(e.hostname) LIKE $3 ESCAPE '\\' OR LOWER(e.id) LIKE $3 ESCAPE '\\')";

/// How many members match the text, per state (all, failing, pending, compliant).
async fn member_counts(store: &Store, system: &System, pattern: &str) -> Result<[i64; 4], StoreError> {
    // Built from constants only: the text comes in as a bound parameter.
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n,
                COALESCE(SUM(CASE WHEN ev.compliant = 0 THEN 1 ELSE 0 END), 0) AS failing,
                COALESCE(SUM(CASE WHEN ev.compliant IS NULL THEN 1 ELSE 0 END), 0) AS pending,
                COALESCE(SUM(CASE WHEN ev.compliant = 1 THEN 1 ELSE 0 END), 0) AS compliant
         {MEMBERS_FROM}"
    )))
    .bind(system.id)
    .bind(&system.code)
    .bind(pattern)
    .fetch_one(store.pool())
    .await?;
    Ok([
        row.try_get("n")?,
        row.try_get("failing")?,
        row.try_get("pending")?,
        row.try_get("compliant")?,
    ])
}

/// One page of members: failing first, then not evaluated, then compliant; by host name within.
async fn members(store: &Store, system: &System, pattern: &str, state: MemberState, page: i64) -> Result<Vec<MemberRecord>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT e.id, e.hostname, o.code AS org_unit, e.last_seen, e.revoked, ev.compliant, ev.n_fail + ev.n_error AS failing
         {MEMBERS_FROM} AND {}
         ORDER BY CASE WHEN ev.compliant = 0 THEN 0 WHEN ev.compliant IS NULL THEN 1 ELSE 2 END, e.hostname, e.id
         LIMIT $4 OFFSET $5",
        state.condition()
    )))
    .bind(system.id)
    .bind(&system.code)
    .bind(pattern)
    .bind(PAGE_SIZE + 1)
    .bind((page - 1) * PAGE_SIZE)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MemberRecord {
                id: r.try_get("id")?,
                hostname: r.try_get("hostname")?,
                org_unit: r.try_get("org_unit")?,
                last_seen: r.try_get("last_seen")?,
                revoked: r.try_get::<i16, _>("revoked")? != 0,
                compliant: r.try_get::<Option<i16>, _>("compliant")?.map(|c| c != 0),
                failing: r.try_get::<Option<i64>, _>("failing")?.unwrap_or(0),
            })
        })
        .collect()
}

// ---- views ----------------------------------------------------------------------------

pub struct MatrixRow {
    pub r: RequirementView,
    pub tone: &'static str,
    pub href: String,
}

pub struct MemberRow {
    pub hostname: String,
    pub href: String,
    pub id: String,
    pub org_unit: String,
    pub unit_href: String,
    pub last_seen: String,
    pub verdict: String,
    pub tone: &'static str,
    pub revoked: bool,
}

pub struct ExceptionRow {
    pub requirement: String,
    pub scope: String,
    pub text: String,
    pub who: String,
    pub from: String,
    pub until: String,
    pub state: &'static str,
    pub tone: &'static str,
    pub file_href: Option<String>,
    pub file_name: String,
}

pub struct MemberTab {
    pub label: String,
    pub href: String,
    pub current: bool,
}

pub struct ExportLinks {
    pub html: String,
    pub pdf: Option<String>,
    pub csv: String,
}

#[derive(Template)]
#[template(path = "web/system.html")]
struct SystemPage {
    shell: Shell,
    st: &'static SystemTexts,
    crumbs: Vec<Crumb>,
    pack: View,
    overdue: bool,
    exports: Option<ExportLinks>,
    matrix: Vec<MatrixRow>,
    members: Vec<MemberRow>,
    member_tabs: Vec<MemberTab>,
    members_action: String,
    member_state: &'static str,
    q: String,
    page: i64,
    prev_href: Option<String>,
    next_href: Option<String>,
    waivers: Vec<ExceptionRow>,
    attestations: Vec<ExceptionRow>,
    exceptions_href: Option<String>,
}

#[derive(Template)]
#[template(path = "web/requirement.html")]
struct RequirementPage {
    shell: Shell,
    st: &'static SystemTexts,
    crumbs: Vec<Crumb>,
    pack: View,
    req: RequirementView,
    tone: &'static str,
    system_href: String,
}

/// The evidence of one requirement alone, for htmx to put into the matrix.
#[derive(Template)]
#[template(path = "web/requirement_evidence.html")]
struct EvidenceFragment {
    st: &'static SystemTexts,
    pack: View,
    req: RequirementView,
}

// ---- pages ----------------------------------------------------------------------------

/// The system named in a path, after the scope check, with its owner unit's path; or the page that refuses it.
async fn scoped_system(app: &App, session: &Session, code: &str, lang: Lang, path: &str) -> Result<(System, String), Response> {
    let found = async {
        let Some(system) = app.store.system(code).await? else {
            return Ok(None);
        };
        let record = register::system(&app.store, code).await?;
        Ok::<_, StoreError>(record.map(|r| (system, r.org_unit_path)))
    }
    .await;
    match found {
        Ok(Some((system, unit_path))) if system.retired_at.is_none() => {
            match session.principal.check(&unit_path, &format!("system {code}")) {
                Ok(()) => Ok((system, unit_path)),
                Err(e) => {
                    tracing::info!(actor = %session.principal.actor, refused = %e, "Dashboard page refused.");
                    Err(notice(
                        StatusCode::FORBIDDEN,
                        lang,
                        session,
                        path,
                        |t| t.forbidden_title,
                        |t| t.system_forbidden,
                    ))
                }
            }
        }
        Ok(_) => Err(notice(
            StatusCode::NOT_FOUND,
            lang,
            session,
            path,
            |t| t.not_found_title,
            |t| t.no_system,
        )),
        Err(e) => Err(unavailable(lang, &e)),
    }
}

/// From the root to the system's owner unit, then the system (linked when `linked`).
async fn system_crumbs(app: &App, session: &Session, system: &System, lang: Lang, linked: bool) -> Result<Vec<Crumb>, StoreError> {
    let unit = app.store.org_unit_by_id(system.org_unit_id).await?;
    let leaf = Crumb {
        name: format!("{} ({})", system.name, system.code),
        href: linked.then(|| system_href(&system.code, lang)),
    };
    crumbs_in(app, session, unit.as_ref(), lang, leaf).await
}

fn export_error(lang: Lang, e: ExportError) -> Response {
    match e {
        ExportError::Store(e) => unavailable(lang, &e),
        other => unavailable(lang, &StoreError::Invalid(other.to_string())),
    }
}

pub async fn page(
    State(app): State<Arc<App>>,
    Path(code): Path<String>,
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
    let base = format!("/systems/{}", view::query_value(&code));
    let (system, _) = match scoped_system(&app, &session, &code, lang, &base).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = Timestamp::now();
    let pack = match export::pack(&app.store, app.ingest.policies(), &code, evidence_lang(lang), now, &Detail::Summary).await {
        Ok(p) => p,
        Err(e) => return export_error(lang, e),
    };
    let state = MemberState::parse(&p.state);
    let page_no = p.page.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000);
    let q: String = p.q.trim().chars().take(100).collect();
    let pattern = crate::store::like_contains(&q);
    let read = async {
        let crumbs = system_crumbs(&app, &session, &system, lang, false).await?;
        let counts = member_counts(&app.store, &system, &pattern).await?;
        let members = members(&app.store, &system, &pattern, state, page_no).await?;
        let filter = Filter {
            under: None,
            system_id: Some(system.id),
            all: true,
            now: now.unix_millis(),
        };
        let waivers = exceptions::waivers(&app.store, &filter).await?;
        let attestations = exceptions::attestations(&app.store, &filter).await?;
        Ok::<_, StoreError>((crumbs, counts, members, waivers, attestations))
    }
    .await;
    let (crumbs, counts, mut members, waivers, attestations) = match read {
        Ok(x) => x,
        Err(e) => return unavailable(lang, &e),
    };
    let t = lang.texts();
    let st = texts(lang);
    let more = members.len() > usize::try_from(PAGE_SIZE).unwrap_or(50);
    members.truncate(usize::try_from(PAGE_SIZE).unwrap_or(50));
    let link =
        |page: i64, state: MemberState| with_lang(view::list_link(&base, state.as_str(), &q, usize::try_from(page).unwrap_or(1)), lang);
    let mut pack_view = View::new(&pack);
    let mut matrix: Vec<MatrixRow> = std::mem::take(&mut pack_view.requirements)
        .into_iter()
        .map(|r| MatrixRow {
            tone: view::status_tone(view::parse_status(r.status_class)),
            href: requirement_href(&code, &r.id, lang),
            r,
        })
        .collect();
    // Stable: the catalogue's order within each status.
    matrix.sort_by_key(|m| view::status_rank(view::parse_status(m.r.status_class)));
    let today = scorecard::vietnam_today(now.unix_millis());
    let overdue = pack.system.dossier.next_assessment_date.is_some_and(|d| d < today);
    let principal = &session.principal;
    let exports = principal.can(Action::Export).then(|| {
        let href = |format: &str| {
            let mut h = format!("/api/v1/systems/{}/evidence?format={format}", view::query_value(&code));
            if lang.english() {
                h.push_str("&lang=en");
            }
            h
        };
        ExportLinks {
            html: href("html"),
            pdf: export::PDF_SUPPORTED.then(|| href("pdf")),
            csv: href("csv"),
        }
    });
    let can_files = principal.can(Action::Export);
    let tabs = [
        (MemberState::All, st.members_all, counts[0]),
        (MemberState::Failing, st.members_failing, counts[1]),
        (MemberState::Pending, st.members_pending, counts[2]),
        (MemberState::Compliant, st.members_compliant, counts[3]),
    ];
    let member_rows = members
        .into_iter()
        .map(|m| {
            let (verdict, tone) = match m.compliant {
                None => (st.not_evaluated.to_string(), "fair"),
                Some(true) => (t.compliant.to_string(), "good"),
                Some(false) => (format!("{} ({})", t.not_compliant, view::int(lang, m.failing)), "poor"),
            };
            MemberRow {
                href: with_lang(format!("/endpoints/{}", view::query_value(&m.id)), lang),
                unit_href: unit_href(&m.org_unit, lang),
                last_seen: if m.last_seen > 0 {
                    view::datetime_ms(m.last_seen)
                } else {
                    t.never.to_string()
                },
                hostname: m.hostname,
                id: m.id,
                org_unit: m.org_unit,
                verdict,
                tone,
                revoked: m.revoked,
            }
        })
        .collect();
    let ms = now.unix_millis();
    let waiver_rows = waivers
        .iter()
        .filter(|w| exceptions::visible(principal.scope.as_deref(), &w.path, &w.current_path))
        .map(|w| {
            let (state, tone) = state_label(lang, w.state(ms));
            ExceptionRow {
                requirement: w.requirement.clone(),
                scope: w.endpoint.clone().unwrap_or_else(|| pack_view.l.whole_system.to_string()),
                text: w.reason.clone(),
                who: w.approver.clone(),
                from: view::datetime_ms(w.start_at),
                until: view::datetime_ms(w.expiry_at),
                state,
                tone,
                file_href: None,
                file_name: String::new(),
            }
        })
        .collect();
    let attestation_rows = attestations
        .iter()
        .filter(|a| exceptions::visible(principal.scope.as_deref(), &a.path, &a.current_path))
        .map(|a| {
            let (state, tone) = state_label(lang, a.state(ms));
            ExceptionRow {
                requirement: a.requirement.clone(),
                scope: pack_view.l.whole_system.to_string(),
                text: String::new(),
                who: a.attested_by.clone(),
                from: view::datetime_ms(a.attested_at),
                until: view::datetime_ms(a.valid_until),
                state,
                tone,
                file_href: can_files.then(|| format!("/api/v1/evidence-files/{}", a.file_sha256)),
                file_name: a.file_name.clone(),
            }
        })
        .collect();
    let mut shell = Shell::new(lang, &base, |t| t.system_title, Some(&session));
    shell.other_lang_href = match lang {
        Lang::Vi => with_lang(link(page_no, state), Lang::En),
        Lang::En => link(page_no, state).replace("&lang=en", "").replace("?lang=en", ""),
    };
    let page = SystemPage {
        shell,
        st,
        crumbs,
        overdue,
        exports,
        matrix,
        members: member_rows,
        member_tabs: tabs
            .into_iter()
            .map(|(s, label, n)| MemberTab {
                label: format!("{label} ({})", view::int(lang, n)),
                href: link(1, s),
                current: s == state,
            })
            .collect(),
        members_action: base.clone(),
        member_state: state.as_str(),
        q: q.clone(),
        page: page_no,
        prev_href: (page_no > 1).then(|| link(page_no - 1, state)),
        next_href: more.then(|| link(page_no + 1, state)),
        waivers: waiver_rows,
        attestations: attestation_rows,
        exceptions_href: (principal.can(Action::Manage) || principal.can(Action::Attest))
            .then(|| with_lang(format!("/exceptions?system={}", view::query_value(&code)), lang)),
        pack: pack_view,
    };
    html(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
pub struct RequirementParams {
    /// `1`: only the evidence, for htmx (which also says so in `HX-Request`).
    #[serde(default)]
    fragment: String,
}

pub async fn requirement(
    State(app): State<Arc<App>>,
    Path((code, requirement)): Path<(String, String)>,
    params: Result<Query<RequirementParams>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let base = format!(
        "/systems/{}/requirements/{}",
        view::query_value(&code),
        view::query_value(&requirement)
    );
    let (system, _) = match scoped_system(&app, &session, &code, lang, &base).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let detail = Detail::Requirement(requirement.clone());
    let pack = match export::pack(
        &app.store,
        app.ingest.policies(),
        &code,
        evidence_lang(lang),
        Timestamp::now(),
        &detail,
    )
    .await
    {
        Ok(p) => p,
        Err(ExportError::NoRequirement { .. }) => {
            return notice(
                StatusCode::NOT_FOUND,
                lang,
                &session,
                &base,
                |t| t.not_found_title,
                |t| t.no_requirement,
            );
        }
        Err(e) => return export_error(lang, e),
    };
    let mut pack_view = View::new(&pack);
    let Some(req) = pack_view.requirements.pop() else {
        return notice(
            StatusCode::NOT_FOUND,
            lang,
            &session,
            &base,
            |t| t.not_found_title,
            |t| t.no_requirement,
        );
    };
    let st = texts(lang);
    let fragment = params.map(|Query(p)| p.fragment == "1").unwrap_or(false) || headers.contains_key("hx-request");
    if fragment {
        return html(StatusCode::OK, &EvidenceFragment { st, pack: pack_view, req });
    }
    let crumbs = match system_crumbs(&app, &session, &system, lang, true).await {
        Ok(c) => c,
        Err(e) => return unavailable(lang, &e),
    };
    let page = RequirementPage {
        shell: Shell::new(lang, &base, |t| t.requirement_title, Some(&session)),
        st,
        crumbs,
        tone: view::status_tone(view::parse_status(req.status_class)),
        req,
        pack: pack_view,
        system_href: system_href(&code, lang),
    };
    html(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_problems_come_first() {
        let mut v = vec!["pass", "not_applicable", "manual", "fail", "waived", "error"];
        v.sort_by_key(|s| view::status_rank(view::parse_status(s)));
        assert_eq!(v, ["fail", "error", "manual", "waived", "pass", "not_applicable"]);
        assert_eq!(view::status_tone(view::parse_status("fail")), "poor");
        assert_eq!(view::status_tone(view::parse_status("waived")), "good");
        assert_eq!(view::status_tone(view::parse_status("nonsense")), "none");
    }

    #[test]
    fn web_member_states_parse_and_filter() {
        for s in [MemberState::All, MemberState::Failing, MemberState::Pending, MemberState::Compliant] {
            assert_eq!(MemberState::parse(s.as_str()), s);
        }
        assert_eq!(MemberState::parse("nonsense"), MemberState::All);
        assert_eq!(MemberState::Pending.condition(), "ev.compliant IS NULL");
    }
}
