//! The overview, the org tree's pages and the lists behind the KPIs. The
//! figures are the API's (`scorecard.rs`): the same numbers whether read as
//! JSON or on a page. Every unit page goes through the principal's scope
//! check before anything of the unit is read.

use super::i18n::{self, Lang, Texts};
use super::view::{self, Bar, Trend};
use super::{Shell, html, require_session, unavailable};
use crate::api::App;
use crate::auth::users::User;
use crate::history;
use crate::kpi::Ratio;
use crate::scorecard::{self, Kpi, ListQuery, Listed, Scorecard, SystemKpis, SystemStanding, UnitKpis};
use crate::store::{OrgUnit, StoreError};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// Rows of a KPI list page.
const PAGE_SIZE: usize = 50;
/// Rows of the worst-systems table of a unit page.
const WORST: usize = 10;
/// Days of history drawn as a trend.
const TREND_DAYS: i64 = 30;

const ENDPOINT_KPIS: [Kpi; 8] = [
    Kpi::Reporting24h,
    Kpi::AvInstalled,
    Kpi::AvRunning,
    Kpi::AvRealtime,
    Kpi::SignaturesFresh,
    Kpi::FirewallDefaultDeny,
    Kpi::SweepRecent,
    Kpi::BackupRecent,
];
const SYSTEM_KPIS: [Kpi; 3] = [Kpi::DossierApproved, Kpi::Compliant, Kpi::AssessmentOverdue];

/// The KPI's name in URLs and in the API's JSON (`av_running`).
fn slug(kpi: Kpi) -> String {
    match serde_json::to_value(kpi) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn parse_kpi(s: &str) -> Option<Kpi> {
    serde_json::from_value(Value::String(s.to_string())).ok()
}

fn is_system_kpi(kpi: Kpi) -> bool {
    SYSTEM_KPIS.contains(&kpi)
}

/// For overdue assessments a high figure is bad; for every other KPI, good.
fn lower_is_better(kpi: Kpi) -> bool {
    kpi == Kpi::AssessmentOverdue
}

/// `?lang=en` or `&lang=en` after a path that may already have a query.
pub(super) fn with_lang(href: String, lang: Lang) -> String {
    match (lang, href.contains('?')) {
        (Lang::Vi, _) => href,
        (Lang::En, true) => format!("{href}&lang=en"),
        (Lang::En, false) => format!("{href}?lang=en"),
    }
}

pub(super) fn unit_href(code: &str, lang: Lang) -> String {
    with_lang(format!("/org-units/{}", view::query_value(code)), lang)
}

fn list_href(code: &str, kpi: Kpi, met: bool, lang: Lang) -> String {
    let state = if met { "met" } else { "unmet" };
    with_lang(
        format!("/org-units/{}/kpi/{}?state={state}", view::query_value(code), slug(kpi)),
        lang,
    )
}

// ---- views ------------------------------------------------------------------------

/// One KPI as a figure, a bar, a trend and the links to its lists.
pub struct KpiView {
    pub slug: String,
    pub label: &'static str,
    pub count: String,
    pub of: String,
    pub percent: String,
    pub bar: Option<Bar>,
    pub bar_label: String,
    pub trend: Option<Trend>,
    pub met_label: &'static str,
    pub unmet_label: &'static str,
    pub met_href: String,
    pub unmet_href: String,
}

/// A unit's figures as the overview and the unit page show them.
pub struct CardView {
    pub code: String,
    pub name: String,
    pub as_of: String,
    pub endpoints: String,
    pub endpoints_href: String,
    pub endpoints_trend: Option<Trend>,
    pub last_sweep: String,
    pub endpoint_kpis: Vec<KpiView>,
    pub systems: String,
    pub system_kpis: Vec<KpiView>,
    pub has_history: bool,
}

fn ratio(unit: &UnitKpis, systems: &SystemKpis, kpi: Kpi) -> Ratio {
    let e = &unit.endpoints;
    match kpi {
        Kpi::Endpoints => Ratio::new(e.endpoints, e.endpoints),
        Kpi::Reporting24h => e.reporting_24h,
        Kpi::AvInstalled => e.av_installed,
        Kpi::AvRunning => e.av_running,
        Kpi::AvRealtime => e.av_realtime,
        Kpi::SignaturesFresh => e.signatures_fresh,
        Kpi::FirewallDefaultDeny => e.firewall_default_deny,
        Kpi::SweepRecent => unit.sweep_recent,
        Kpi::BackupRecent => e.backup_recent,
        Kpi::DossierApproved => systems.dossier_approved,
        Kpi::Compliant => systems.compliant,
        Kpi::AssessmentOverdue => systems.assessment_overdue,
    }
}

/// One KPI's value in each day's snapshot (`None` where a day has none).
fn series(days: &[Option<Value>], kpi: Kpi) -> Vec<Option<f64>> {
    let key = slug(kpi);
    days.iter()
        .map(|d| {
            let d = d.as_ref()?;
            let v = if kpi == Kpi::Endpoints {
                &d["endpoints"]
            } else if is_system_kpi(kpi) {
                &d["systems"][&key]["percent"]
            } else {
                &d[&key]["percent"]
            };
            v.as_f64()
        })
        .collect()
}

/// The unit's snapshots of the last `TREND_DAYS` days, one slot per day.
async fn history_days(app: &App, unit: &OrgUnit, now: i64) -> Result<Vec<Option<Value>>, StoreError> {
    let to = scorecard::vietnam_today(now);
    let from = to.saturating_sub(time::Duration::days(TREND_DAYS - 1));
    let snaps = history::unit_series(&app.store, unit, from, to).await?;
    let mut days = vec![None; usize::try_from(TREND_DAYS).unwrap_or(30)];
    for s in snaps {
        if let Ok(d) = history::parse_day("day", &s.day) {
            let i = (d - from).whole_days();
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| days.get_mut(i)) {
                *slot = Some(s.kpis);
            }
        }
    }
    Ok(days)
}

fn trend_label(t: &Texts, lang: Lang, label: &str, values: &[Option<f64>], percent: bool) -> String {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let show = |v: f64| {
        if percent {
            view::percent(lang, Some(v))
        } else {
            view::int(lang, v as i64)
        }
    };
    match (known.first(), known.last()) {
        (Some(&a), Some(&b)) => format!("{} — {label}: {} {} {} {}", t.trend, t.trend_from, show(a), t.trend_to, show(b)),
        _ => format!("{} — {label}", t.trend),
    }
}

fn kpi_view(card: &Scorecard, kpi: Kpi, days: &[Option<Value>], lang: Lang) -> KpiView {
    let t = lang.texts();
    let r = ratio(&card.unit, &card.systems, kpi);
    let (label, _) = i18n::kpi(lang, kpi);
    let values = series(days, kpi);
    let percent = view::percent(lang, r.percent);
    let (met_label, unmet_label) = if kpi == Kpi::AssessmentOverdue {
        (t.overdue_met, t.overdue_unmet)
    } else {
        (t.met, t.unmet)
    };
    KpiView {
        slug: slug(kpi),
        label,
        count: view::int(lang, r.count),
        of: view::int(lang, r.of),
        bar: Bar::new(r.percent, lower_is_better(kpi)),
        bar_label: format!("{label}: {percent}"),
        trend: Trend::new(&values, Some(100.0), trend_label(t, lang, label, &values, true)),
        percent,
        met_label,
        unmet_label,
        met_href: list_href(&card.unit.org_unit, kpi, true, lang),
        unmet_href: list_href(&card.unit.org_unit, kpi, false, lang),
    }
}

fn card_view(card: &Scorecard, days: &[Option<Value>], lang: Lang) -> CardView {
    let t = lang.texts();
    let (endpoints_label, _) = i18n::kpi(lang, Kpi::Endpoints);
    let counts = series(days, Kpi::Endpoints);
    CardView {
        code: card.unit.org_unit.clone(),
        name: card.unit.name.clone(),
        as_of: khien_proto::Timestamp::parse(&card.as_of).map(view::datetime).unwrap_or_default(),
        endpoints: view::int(lang, card.unit.endpoints.endpoints),
        endpoints_href: list_href(&card.unit.org_unit, Kpi::Endpoints, true, lang),
        endpoints_trend: Trend::new(&counts, None, trend_label(t, lang, endpoints_label, &counts, false)),
        last_sweep: card
            .unit
            .last_sweep
            .as_deref()
            .map(view::date)
            .unwrap_or_else(|| t.never.to_string()),
        endpoint_kpis: ENDPOINT_KPIS.iter().map(|&k| kpi_view(card, k, days, lang)).collect(),
        systems: view::int(lang, card.systems.systems),
        system_kpis: SYSTEM_KPIS.iter().map(|&k| kpi_view(card, k, days, lang)).collect(),
        has_history: days.iter().any(Option::is_some),
    }
}

pub struct Crumb {
    pub name: String,
    /// `None` for a unit above the account's scope (shown, not linked) and for the current one.
    pub href: Option<String>,
}

/// From the root down to `unit`; the units above the account's subtree are named but not linked.
pub(super) async fn breadcrumbs(app: &App, session: &super::Session, unit: &OrgUnit, lang: Lang) -> Result<Vec<Crumb>, StoreError> {
    let mut out = Vec::new();
    for code in unit.path.split('/').filter(|c| !c.is_empty()) {
        if code == unit.code {
            break;
        }
        let Some(u) = app.store.org_unit(code).await? else { continue };
        out.push(Crumb {
            href: session.principal.allows(&u.path).then(|| unit_href(&u.code, lang)),
            name: u.name,
        });
    }
    out.push(Crumb {
        name: unit.name.clone(),
        href: None,
    });
    Ok(out)
}

/// The crumbs of something that lives in `unit` (a system, an endpoint): the
/// unit's, with the unit itself linked when the account may open it, then `leaf`.
pub(super) async fn crumbs_in(
    app: &App,
    session: &super::Session,
    unit: Option<&OrgUnit>,
    lang: Lang,
    leaf: Crumb,
) -> Result<Vec<Crumb>, StoreError> {
    let mut crumbs = match unit {
        Some(unit) => {
            let mut c = breadcrumbs(app, session, unit, lang).await?;
            if let Some(last) = c.last_mut()
                && session.principal.allows(&unit.path)
            {
                last.href = Some(unit_href(&unit.code, lang));
            }
            c
        }
        None => Vec::new(),
    };
    crumbs.push(leaf);
    Ok(crumbs)
}

// ---- pages ------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "web/overview.html")]
struct OverviewPage {
    shell: Shell,
    username: String,
    role: &'static str,
    scope: String,
    unit_href: String,
    card: Option<CardView>,
}

pub struct ChildRow {
    pub href: String,
    pub code: String,
    pub name: String,
    pub endpoints: String,
    pub cells: Vec<Cell>,
}

pub struct Cell {
    pub percent: String,
    pub figure: String,
    pub tone: &'static str,
}

pub struct SystemRow {
    pub href: String,
    pub code: String,
    pub name: String,
    pub org_unit: String,
    pub level: u8,
    pub compliant: bool,
    pub dossier_approved: bool,
    pub next_assessment: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "web/org_unit.html")]
struct UnitPage {
    shell: Shell,
    crumbs: Vec<Crumb>,
    card: CardView,
    child_headers: Vec<&'static str>,
    children: Vec<ChildRow>,
    systems: Vec<SystemRow>,
}

pub struct EndpointRow {
    pub id: String,
    pub hostname: String,
    /// The endpoint's own page.
    pub href: String,
    pub org_unit: String,
    pub unit_href: String,
    pub last_seen: String,
}

pub struct Tab {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "web/kpi_list.html")]
struct ListPage {
    shell: Shell,
    crumbs: Vec<Crumb>,
    heading: String,
    action: String,
    kpi_slug: String,
    state: &'static str,
    q: String,
    tabs: Vec<Tab>,
    endpoints: Vec<EndpointRow>,
    systems: Vec<SystemRow>,
    is_systems: bool,
    page: usize,
    prev_href: Option<String>,
    next_href: Option<String>,
}

#[derive(Template)]
#[template(path = "web/notice.html")]
struct NoticePage {
    shell: Shell,
    text: &'static str,
}

/// A refusal or a miss for a logged-in user: the page keeps the header and links back.
pub(super) fn notice(
    status: StatusCode,
    lang: Lang,
    session: &super::Session,
    path: &str,
    title: fn(&'static Texts) -> &'static str,
    text: fn(&'static Texts) -> &'static str,
) -> Response {
    notice_text(status, lang, session, path, title, text(lang.texts()))
}

/// A notice whose words are the page's own rather than the shared ones.
pub(super) fn notice_text(
    status: StatusCode,
    lang: Lang,
    session: &super::Session,
    path: &str,
    title: fn(&'static Texts) -> &'static str,
    text: &'static str,
) -> Response {
    let page = NoticePage {
        shell: Shell::new(lang, path, title, Some(session)),
        text,
    };
    html(status, &page)
}

/// The unit an account's overview shows: its own, or for the whole tree the root.
async fn home_unit(app: &App, user: &User) -> Result<Option<OrgUnit>, StoreError> {
    if let Some((code, _, _)) = &user.org_unit {
        return app.store.org_unit(code).await;
    }
    let root: Option<String> =
        sqlx::query_scalar("SELECT code FROM org_units WHERE parent_id IS NULL AND retired_at IS NULL ORDER BY code")
            .fetch_optional(app.store.pool())
            .await?;
    match root {
        Some(code) => app.store.org_unit(&code).await,
        None => Ok(None),
    }
}

async fn unit_card(app: &App, unit: &OrgUnit, lang: Lang) -> Result<(Scorecard, CardView), StoreError> {
    let now = super::now();
    let card = scorecard::scorecard(&app.store, app.ingest.policies(), unit, now, app.kpi_windows).await?;
    let days = history_days(app, unit, now).await?;
    let view = card_view(&card, &days, lang);
    Ok((card, view))
}

pub async fn overview(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = lang.texts();
    let built = async {
        let Some(unit) = home_unit(&app, &session.user).await? else {
            return Ok(None);
        };
        // The account's own unit is in its scope by construction; checked anyway, in the one place.
        if session.principal.check(&unit.path, "org unit").is_err() {
            return Ok(None);
        }
        unit_card(&app, &unit, lang).await.map(|(_, v)| Some(v))
    }
    .await;
    let card = match built {
        Ok(c) => c,
        Err(e) => return unavailable(lang, &e),
    };
    let page = OverviewPage {
        username: session.user.username.clone(),
        role: session.user.role.label(lang.english()),
        scope: match &session.user.org_unit {
            Some((code, name, _)) => format!("{name} ({code})"),
            None => t.whole_tree.to_string(),
        },
        unit_href: card.as_ref().map(|c| unit_href(&c.code, lang)).unwrap_or_default(),
        card,
        shell: Shell::new(lang, "/overview", |t| t.overview, Some(&session)),
    };
    html(StatusCode::OK, &page)
}

/// The unit named in a page's path, after the scope check; or the page that refuses it.
pub(super) async fn scoped_unit(app: &App, session: &super::Session, code: &str, lang: Lang, path: &str) -> Result<OrgUnit, Response> {
    match app.store.org_unit(code).await {
        Ok(Some(u)) if u.retired_at.is_none() => match session.principal.check(&u.path, &format!("org unit {code}")) {
            Ok(()) => Ok(u),
            Err(e) => {
                tracing::info!(actor = %session.principal.actor, refused = %e, "Dashboard page refused.");
                Err(notice(
                    StatusCode::FORBIDDEN,
                    lang,
                    session,
                    path,
                    |t| t.forbidden_title,
                    |t| t.unit_forbidden,
                ))
            }
        },
        // A retired unit has no page (its figures are in the history); an
        // active one outside the scope is a 403, as in the API.
        Ok(_) => Err(notice(
            StatusCode::NOT_FOUND,
            lang,
            session,
            path,
            |t| t.not_found_title,
            |t| t.no_unit,
        )),
        Err(e) => Err(unavailable(lang, &e)),
    }
}

fn system_row(s: &SystemStanding, lang: Lang) -> SystemRow {
    SystemRow {
        href: with_lang(format!("/systems/{}", view::query_value(&s.code)), lang),
        code: s.code.clone(),
        name: s.name.clone(),
        org_unit: s.org_unit.clone(),
        level: s.level,
        compliant: s.compliant,
        dossier_approved: s.dossier_approved,
        next_assessment: s.next_assessment_date.as_deref().map(view::date).unwrap_or_default(),
        overdue: s.assessment_overdue,
    }
}

/// Not compliant first, then overdue for assessment, then the rest; by level (highest first) and code within.
fn worst_first(mut systems: Vec<SystemStanding>) -> Vec<SystemStanding> {
    systems.sort_by(|a, b| {
        (a.compliant, !a.assessment_overdue, std::cmp::Reverse(a.level), &a.code).cmp(&(
            b.compliant,
            !b.assessment_overdue,
            std::cmp::Reverse(b.level),
            &b.code,
        ))
    });
    systems
}

pub async fn org_unit(State(app): State<Arc<App>>, Path(code): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let path = format!("/org-units/{}", view::query_value(&code));
    let unit = match scoped_unit(&app, &session, &code, lang, &path).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let built = async {
        let (mut card, view) = unit_card(&app, &unit, lang).await?;
        // The scorecard decided every system's standing already: reuse it.
        let standings = std::mem::take(&mut card.standings);
        let crumbs = breadcrumbs(&app, &session, &unit, lang).await?;
        Ok::<_, StoreError>((card, view, standings, crumbs))
    }
    .await;
    let (card, view, standings, crumbs) = match built {
        Ok(x) => x,
        Err(e) => return unavailable(lang, &e),
    };
    let children = card
        .children
        .iter()
        .map(|c| ChildRow {
            href: unit_href(&c.org_unit, lang),
            code: c.org_unit.clone(),
            name: c.name.clone(),
            endpoints: view::int(lang, c.endpoints.endpoints),
            cells: ENDPOINT_KPIS
                .iter()
                .map(|&k| {
                    let r = ratio(c, &card.systems, k);
                    Cell {
                        percent: view::percent(lang, r.percent),
                        figure: format!("{}/{}", view::int(lang, r.count), view::int(lang, r.of)),
                        tone: view::tone(r.percent, false),
                    }
                })
                .collect(),
        })
        .collect();
    let page = UnitPage {
        shell: Shell::new(lang, &path, |t| t.units_nav, Some(&session)),
        crumbs,
        child_headers: ENDPOINT_KPIS.iter().map(|&k| i18n::kpi(lang, k).1).collect(),
        children,
        systems: worst_first(standings).iter().take(WORST).map(|s| system_row(s, lang)).collect(),
        card: view,
    };
    html(StatusCode::OK, &page)
}

/// A paged list's query: which state, which page, and a text filter.
#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub(super) state: String,
    #[serde(default)]
    pub(super) page: String,
    #[serde(default)]
    pub(super) q: String,
}

pub async fn kpi_list(
    State(app): State<Arc<App>>,
    Path((code, kpi)): Path<(String, String)>,
    params: Result<Query<ListParams>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // A malformed query is read as no query: the page is a link target, not an API.
    let p = params.map(|Query(p)| p).unwrap_or_default();
    let base = format!("/org-units/{}/kpi/{}", view::query_value(&code), view::query_value(&kpi));
    let unit = match scoped_unit(&app, &session, &code, lang, &base).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(kpi) = parse_kpi(&kpi) else {
        return notice(StatusCode::NOT_FOUND, lang, &session, &base, |t| t.not_found_title, |t| t.no_kpi);
    };
    let met = p.state != "unmet";
    let state = if met { "met" } else { "unmet" };
    let page_no = p.page.trim().parse::<usize>().unwrap_or(1).clamp(1, 1_000_000);
    let q = p.q.trim().chars().take(100).collect::<String>();
    let query = ListQuery {
        kpi,
        met,
        text: q.clone(),
        limit: i64::try_from(PAGE_SIZE + 1).unwrap_or(51),
        offset: i64::try_from((page_no - 1) * PAGE_SIZE).unwrap_or(0),
    };
    let listed = async {
        let listed = scorecard::list(&app.store, app.ingest.policies(), &unit, query, super::now(), app.kpi_windows).await?;
        let crumbs = breadcrumbs(&app, &session, &unit, lang).await?;
        Ok::<_, StoreError>((listed, crumbs))
    }
    .await;
    let (listed, mut crumbs) = match listed {
        Ok(x) => x,
        Err(e) => return unavailable(lang, &e),
    };
    let window = |n: usize| (0, n.min(PAGE_SIZE), n > PAGE_SIZE);
    let (endpoints, systems, more) = match listed {
        Listed::Endpoints(all) => {
            let (a, b, more) = window(all.len());
            let rows = all[a..b]
                .iter()
                .map(|e| EndpointRow {
                    id: e.id.clone(),
                    href: with_lang(format!("/endpoints/{}", view::query_value(&e.id)), lang),
                    hostname: e.hostname.clone(),
                    unit_href: unit_href(&e.org_unit, lang),
                    org_unit: e.org_unit.clone(),
                    last_seen: e
                        .last_seen
                        .as_deref()
                        .map(view::datetime_text)
                        .unwrap_or_else(|| lang.texts().never.to_string()),
                })
                .collect();
            (rows, Vec::new(), more)
        }
        Listed::Systems(all) => {
            let (a, b, more) = window(all.len());
            (Vec::new(), all[a..b].iter().map(|s| system_row(s, lang)).collect(), more)
        }
    };
    let t = lang.texts();
    let (label, _) = i18n::kpi(lang, kpi);
    let (met_label, unmet_label) = if kpi == Kpi::AssessmentOverdue {
        (t.overdue_met, t.overdue_unmet)
    } else {
        (t.met, t.unmet)
    };
    let link = |page: usize, state: &str| view::list_link(&base, state, &q, page);
    // The unit's crumb links back to its page here: the list is one level below it.
    if let Some(last) = crumbs.last_mut() {
        last.href = Some(unit_href(&unit.code, lang));
    }
    let mut shell = Shell::new(lang, &base, |t| t.list, Some(&session));
    shell.other_lang_href = match lang {
        Lang::Vi => with_lang(link(page_no, state), Lang::En),
        Lang::En => link(page_no, state),
    };
    let page = ListPage {
        shell,
        crumbs,
        heading: format!("{label} — {}", if met { met_label } else { unmet_label }),
        action: base.clone(),
        kpi_slug: slug(kpi),
        state,
        tabs: [(true, met_label), (false, unmet_label)]
            .into_iter()
            .map(|(m, label)| Tab {
                label,
                href: with_lang(link(1, if m { "met" } else { "unmet" }), lang),
                current: m == met,
            })
            .collect(),
        is_systems: is_system_kpi(kpi),
        endpoints,
        systems,
        prev_href: (page_no > 1).then(|| with_lang(link(page_no - 1, state), lang)),
        next_href: more.then(|| with_lang(link(page_no + 1, state), lang)),
        page: page_no,
        q,
    };
    html(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_kpi_slugs_round_trip() {
        for k in ENDPOINT_KPIS.into_iter().chain(SYSTEM_KPIS).chain([Kpi::Endpoints]) {
            assert_eq!(parse_kpi(&slug(k)), Some(k));
        }
        assert_eq!(slug(Kpi::Reporting24h), "reporting_24h");
        assert_eq!(parse_kpi("nope"), None);
    }

    #[test]
    fn web_worst_systems_first() {
        let s = |code: &str, compliant: bool, overdue: bool| SystemStanding {
            code: code.into(),
            name: code.into(),
            org_unit: "X".into(),
            level: 2,
            dossier_approved: false,
            compliant,
            next_assessment_date: None,
            assessment_overdue: overdue,
        };
        let order: Vec<String> = worst_first(vec![
            s("A", true, false),
            s("B", true, true),
            s("C", false, false),
            s("D", false, true),
        ])
        .into_iter()
        .map(|s| s.code)
        .collect();
        assert_eq!(order, ["D", "C", "B", "A"]);
    }
}
