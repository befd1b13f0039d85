//! The audit log in the dashboard: who changed what and when, newest first,
//! for the account's subtree (records of objects that are or were in it), by
//! period and kind of object. The records are those of `audit.rs`, which the
//! CLI and the API also list.

use super::i18n::Lang;
use super::units::with_lang;
use super::view;
use super::{Shell, html, require_session, unavailable};
use crate::api::App;
use crate::audit::{self, AuditRow, Filter, ObjectKind};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

const PAGE_SIZE: i64 = 50;

pub struct AuditTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub kind: &'static str,
    pub any_kind: &'static str,
    pub show: &'static str,
    pub at: &'static str,
    pub actor: &'static str,
    pub action: &'static str,
    pub object: &'static str,
    pub changes: &'static str,
    pub none: &'static str,
}

static VI: AuditTexts = AuditTexts {
    title: "Nhật ký thay đổi",
    intro: "Mọi thay đổi về đơn vị, hệ thống, máy, miễn trừ, xác nhận, tài khoản và mã đăng ký, mới nhất trước.",
    from: "Từ ngày",
    to: "Đến ngày",
    kind: "Loại đối tượng",
    any_kind: "Tất cả",
    show: "Xem",
    at: "Thời điểm",
    actor: "Người thực hiện",
    action: "Thao tác",
    object: "Đối tượng",
    changes: "Thay đổi",
    none: "Không có bản ghi nào.",
};

static EN: AuditTexts = AuditTexts {
    title: "Audit log",
    intro: "Every change to units, systems, endpoints, waivers, attestations, accounts and enrollment tokens, newest first.",
    from: "From",
    to: "To",
    kind: "Kind of object",
    any_kind: "All",
    show: "Show",
    at: "Time",
    actor: "Actor",
    action: "Action",
    object: "Object",
    changes: "Changes",
    none: "No records.",
};

fn texts(lang: Lang) -> &'static AuditTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

fn kind_label(lang: Lang, kind: &str) -> &'static str {
    let vi = lang == Lang::Vi;
    match kind {
        "org_unit" if vi => "Đơn vị",
        "org_unit" => "Org unit",
        "system" if vi => "Hệ thống",
        "system" => "System",
        "endpoint" if vi => "Máy",
        "endpoint" => "Endpoint",
        "waiver" if vi => "Miễn trừ",
        "waiver" => "Waiver",
        "attestation" if vi => "Xác nhận",
        "attestation" => "Attestation",
        "user" if vi => "Tài khoản",
        "user" => "Account",
        "enroll_token" if vi => "Mã đăng ký",
        "enroll_token" => "Enrollment token",
        _ => "",
    }
}

pub struct KindOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub struct RecordRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub kind: String,
    pub code: String,
    pub changes: String,
}

#[derive(Template)]
#[template(path = "web/audit.html")]
struct AuditPage {
    shell: Shell,
    x: &'static AuditTexts,
    from: String,
    to: String,
    kinds: Vec<KindOption>,
    error: Option<String>,
    records: Vec<RecordRow>,
    page: i64,
    prev_href: Option<String>,
    next_href: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct AuditParams {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    page: String,
}

fn row(r: &AuditRow, lang: Lang) -> RecordRow {
    let label = kind_label(lang, &r.object_kind);
    RecordRow {
        id: r.id,
        at: view::datetime_ms(r.at),
        actor: r.actor.clone(),
        action: r.action.clone(),
        kind: if label.is_empty() {
            r.object_kind.clone()
        } else {
            label.to_string()
        },
        code: r.object_code.clone(),
        changes: r.summary(),
    }
}

pub async fn page(
    State(app): State<Arc<App>>,
    params: Result<Query<AuditParams>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let p = params.map(|Query(p)| p).unwrap_or_default();
    let from: String = p.from.trim().chars().take(40).collect();
    let to: String = p.to.trim().chars().take(40).collect();
    let kind = ObjectKind::ALL.iter().map(|k| k.as_str()).find(|k| *k == p.kind.trim());
    let page_no = p.page.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000);
    let time = |field: &str, v: &str, end: bool| (!v.is_empty()).then(|| audit::parse_time(field, v, end)).transpose();
    // A bad date is said on the page, and the log is shown without it.
    let (since, until, error) = match (time("from", &from, false), time("to", &to, true)) {
        (Ok(s), Ok(u)) => (s, u, None),
        (Err(m), _) | (_, Err(m)) => (None, None, Some(m)),
    };
    let filter = Filter {
        under: session.principal.scope.clone(),
        since,
        until,
        kind: kind.map(str::to_string),
        limit: PAGE_SIZE + 1,
        offset: (page_no - 1) * PAGE_SIZE,
    };
    let mut rows = match audit::list(&app.store, &filter).await {
        Ok(r) => r,
        Err(e) => return unavailable(lang, &e),
    };
    let more = rows.len() > usize::try_from(PAGE_SIZE).unwrap_or(50);
    rows.truncate(usize::try_from(PAGE_SIZE).unwrap_or(50));
    let link = |page: i64| {
        let mut q = Vec::new();
        if !from.is_empty() {
            q.push(format!("from={}", view::query_value(&from)));
        }
        if !to.is_empty() {
            q.push(format!("to={}", view::query_value(&to)));
        }
        if let Some(k) = kind {
            q.push(format!("kind={k}"));
        }
        if page > 1 {
            q.push(format!("page={page}"));
        }
        let href = if q.is_empty() {
            "/audit".to_string()
        } else {
            format!("/audit?{}", q.join("&"))
        };
        with_lang(href, lang)
    };
    let x = texts(lang);
    let page = AuditPage {
        shell: Shell::new(lang, "/audit", |t| t.nav_audit, Some(&session)),
        x,
        kinds: ObjectKind::ALL
            .iter()
            .map(|k| KindOption {
                value: k.as_str(),
                label: kind_label(lang, k.as_str()),
                selected: Some(k.as_str()) == kind,
            })
            .collect(),
        error,
        records: rows.iter().map(|r| row(r, lang)).collect(),
        prev_href: (page_no > 1).then(|| link(page_no - 1)),
        next_href: more.then(|| link(page_no + 1)),
        page: page_no,
        from,
        to,
    };
    html(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_every_kind_of_object_has_a_name() {
        for k in ObjectKind::ALL {
            for lang in [Lang::Vi, Lang::En] {
                assert!(!kind_label(lang, k.as_str()).is_empty(), "{k:?}");
            }
        }
    }
}
