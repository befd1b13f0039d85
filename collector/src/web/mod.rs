//! The dashboard: server-rendered pages on the collector's HTTPS port, for
//! people in a browser. Accounts and sessions are in `auth/`; this module
//! has the cookies, the CSRF checks, the login throttle's use, the headers
//! every page carries, and the pages themselves.
//!
//! Cookies are `__Host-` prefixed: the browser then accepts them only when
//! Secure, for `Path=/` and without a `Domain`, so a neighbouring host cannot
//! plant one. Every form carries a CSRF token in a hidden field: the
//! session's, or before login a random one that must match a short-lived
//! cookie (the login form is a target too: a forged login puts the victim in
//! the attacker's account).

mod assets;
mod audit;
mod endpoint;
mod enrollment;
mod exceptions;
mod i18n;
mod system;
mod units;
mod view;

use crate::api::{App, RemoteAddr};
use crate::auth::sessions::{self, Session};
use crate::auth::{self, users};
use crate::store::StoreError;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use i18n::{Lang, Texts};
use khien_proto::Timestamp;
use serde::Deserialize;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "__Host-khien_session";
const LOGIN_COOKIE: &str = "__Host-khien_login";
/// Scripts that change things through the API with a session send its CSRF token here.
pub const CSRF_HEADER: &str = "x-csrf-token";

const CSP: &str = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/overview", get(units::overview))
        .route("/org-units/{code}", get(units::org_unit))
        .route("/org-units/{code}/kpi/{kpi}", get(units::kpi_list))
        .route("/endpoints/{id}", get(endpoint::page))
        .route("/systems/{code}", get(system::page))
        .route("/systems/{code}/requirements/{requirement}", get(system::requirement))
        .route("/enrollment", get(enrollment::page).post(enrollment::create))
        .route("/enrollment/{id}/revoke", post(enrollment::revoke))
        .route("/assets/{name}", get(assets::serve))
        .route("/audit", get(audit::page))
        .merge(exceptions::routes())
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages show what one account may see: neither a shared cache nor the
    // back button after logout should keep them. Assets set their own.
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

// ---- cookies ----------------------------------------------------------------------

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The session token a browser sent, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// Session cookies: no `Max-Age`, so they go when the browser closes; the
/// server ends them sooner (idle and absolute expiry).
fn set_cookie(name: &str, value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}={value}; Secure; HttpOnly; SameSite=Strict; Path=/")).expect("cookie values are base64url")
}

fn clear_cookie(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")).expect("a cookie name is ASCII")
}

// ---- pages ------------------------------------------------------------------------

/// What every page's frame shows.
struct Shell {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    css: String,
    htmx: String,
    other_lang_href: String,
    user: Option<UserBox>,
}

struct UserBox {
    username: String,
    csrf: String,
}

impl Shell {
    fn new(lang: Lang, path: &str, title: impl Fn(&'static Texts) -> &'static str, session: Option<&Session>) -> Shell {
        let t = lang.texts();
        Shell {
            lang,
            t,
            title: title(t),
            css: assets::url("khien.css"),
            htmx: assets::url("htmx.min.js"),
            other_lang_href: match lang {
                Lang::Vi => format!("{path}?lang=en"),
                Lang::En => path.to_string(),
            },
            user: session.map(|s| UserBox {
                username: s.user.username.clone(),
                csrf: s.csrf.clone(),
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "web/login.html")]
struct LoginPage {
    shell: Shell,
    csrf: String,
    username: String,
    message: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "web/message.html")]
struct MessagePage {
    shell: Shell,
    text: &'static str,
}

fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "A dashboard page failed to render.");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

fn message(
    status: StatusCode,
    lang: Lang,
    title: fn(&'static Texts) -> &'static str,
    text: fn(&'static Texts) -> &'static str,
) -> Response {
    let t = lang.texts();
    let page = MessagePage {
        shell: Shell::new(lang, "/login", title, None),
        text: text(t),
    };
    html(status, &page)
}

/// A refused form: a missing or wrong CSRF token.
fn csrf_refused(lang: Lang) -> Response {
    message(StatusCode::FORBIDDEN, lang, |t| t.forbidden_title, |t| t.csrf_refused)
}

fn unavailable(lang: Lang, e: &StoreError) -> Response {
    tracing::error!(error = %e, "Database error in the dashboard.");
    message(StatusCode::SERVICE_UNAVAILABLE, lang, |t| t.unavailable_title, |t| t.unavailable)
}

fn now() -> i64 {
    Timestamp::now().unix_millis()
}

async fn current(app: &App, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
    match session_token(headers) {
        Some(token) => sessions::find(&app.store, &token, now()).await,
        None => Ok(None),
    }
}

/// The request's session, or the response that sends the browser to log in.
async fn require_session(app: &App, headers: &HeaderMap, lang: Lang) -> Result<Session, Response> {
    match current(app, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Redirect::to(&format!("/login{}", lang.query())).into_response()),
        Err(e) => Err(unavailable(lang, &e)),
    }
}

/// Every POST of a logged-in page goes through here first; refuse with `csrf_refused`.
fn csrf_ok(session: &Session, sent: &str) -> bool {
    !sent.is_empty() && auth::constant_time_eq(sent.as_bytes(), session.csrf.as_bytes())
}

async fn root(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = Lang::of(&uri);
    match current(&app, &headers).await {
        Ok(Some(_)) => Redirect::to(&format!("/overview{}", lang.query())).into_response(),
        Ok(None) => Redirect::to(&format!("/login{}", lang.query())).into_response(),
        Err(e) => unavailable(lang, &e),
    }
}

/// The login form, with a fresh pre-login CSRF token in the form and in a cookie.
fn login_form(lang: Lang, status: StatusCode, username: &str, message: Option<&'static str>) -> Response {
    let csrf = auth::random_token();
    let page = LoginPage {
        shell: Shell::new(lang, "/login", |t| t.login_title, None),
        csrf: csrf.clone(),
        username: username.to_string(),
        message,
    };
    let mut res = html(status, &page);
    res.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &csrf));
    res
}

async fn login_page(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = Lang::of(&uri);
    match current(&app, &headers).await {
        Ok(Some(_)) => Redirect::to(&format!("/overview{}", lang.query())).into_response(),
        Ok(None) => login_form(lang, StatusCode::OK, "", None),
        Err(e) => unavailable(lang, &e),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(app): State<Arc<App>>,
    remote: Option<Extension<RemoteAddr>>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&uri);
    let Ok(Form(form)) = form else { return csrf_refused(lang) };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !auth::constant_time_eq(form.csrf.as_bytes(), expected.as_bytes()) {
        return csrf_refused(lang);
    }
    let t = lang.texts();
    // Counted under the name as typed (bounded): unknown names lock like known ones.
    let typed: String = form.username.trim().to_lowercase().chars().take(64).collect();
    let remote = remote
        .map(|Extension(RemoteAddr(a))| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let at = now();
    match sessions::locked_until(&app.store, &typed, &remote, at).await {
        Ok(Some(_)) => return login_form(lang, StatusCode::TOO_MANY_REQUESTS, &typed, Some(t.locked)),
        Ok(None) => {}
        Err(e) => return unavailable(lang, &e),
    }
    let account = match users::normalize_username(&typed) {
        Ok(name) => match users::find(&app.store, &name).await {
            Ok(found) => found.filter(|(u, _)| !u.disabled),
            Err(users::UserError::Store(e)) => return unavailable(lang, &e),
            Err(e) => return unavailable(lang, &StoreError::Invalid(e.to_string())),
        },
        Err(_) => None,
    };
    // Unknown and disabled accounts are checked against a decoy hash: every
    // refusal takes one Argon2 verification, so timing tells nothing.
    let phc = account
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| users::decoy_hash().to_string());
    let password = form.password.chars().take(users::MAX_PASSWORD_CHARS + 1).collect::<String>();
    let matches = tokio::task::spawn_blocking(move || users::verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    let user = match (account, matches) {
        (Some((user, _)), true) => user,
        _ => {
            if let Err(e) = sessions::failed(&app.store, &typed, &remote, at).await {
                return unavailable(lang, &e);
            }
            tracing::info!(username = %typed, %remote, "Dashboard login refused.");
            return login_form(lang, StatusCode::UNAUTHORIZED, &typed, Some(t.wrong_login));
        }
    };
    let opened = async {
        sessions::succeeded(&app.store, &typed, &remote).await?;
        // A new session at every login: a token planted before it is worth nothing.
        if let Some(old) = session_token(&headers) {
            sessions::delete(&app.store, &old).await?;
        }
        sessions::prune(&app.store, at).await?;
        sessions::create(&app.store, user.id, at).await
    }
    .await;
    let (token, _) = match opened {
        Ok(x) => x,
        Err(e) => return unavailable(lang, &e),
    };
    tracing::info!(username = %user.username, %remote, "Dashboard login.");
    let mut res = Redirect::to(&format!("/overview{}", lang.query())).into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token));
    res.headers_mut().append(header::SET_COOKIE, clear_cookie(LOGIN_COOKIE));
    res
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap, form: Result<Form<CsrfForm>, FormRejection>) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if !csrf_ok(&session, &sent) {
        return csrf_refused(lang);
    }
    if let Some(token) = session_token(&headers)
        && let Err(e) = sessions::delete(&app.store, &token).await
    {
        return unavailable(lang, &e);
    }
    tracing::info!(username = %session.user.username, "Dashboard logout.");
    let mut res = Redirect::to(&format!("/login{}", lang.query())).into_response();
    res.headers_mut().append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_cookies() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; __Host-khien_session=tok; b=2"));
        assert_eq!(session_token(&h).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(SESSION_COOKIE, "tok");
        assert_eq!(
            c.to_str().unwrap(),
            "__Host-khien_session=tok; Secure; HttpOnly; SameSite=Strict; Path=/"
        );
    }

    #[test]
    fn auth_login_page_labels_every_input() {
        for lang in [Lang::Vi, Lang::En] {
            let page = LoginPage {
                shell: Shell::new(lang, "/login", |t| t.login_title, None),
                csrf: "c<s>rf".into(),
                username: "<lan>".into(),
                message: None,
            }
            .render()
            .unwrap();
            assert!(page.contains(&format!("<html lang=\"{}\">", lang.code())));
            for id in ["username", "password"] {
                assert!(page.contains(&format!("<label for=\"{id}\">")), "{page}");
                assert!(page.contains(&format!("id=\"{id}\"")));
            }
            assert!(
                page.contains("value=\"&#60;lan&#62;\"") || page.contains("value=\"&lt;lan&gt;\""),
                "escaped: {page}"
            );
            assert!(!page.contains("style="), "the CSP forbids inline styles");
        }
    }
}
