//! The dashboard's accounts and sessions against a running collector, on
//! SQLite and on a real PostgreSQL server, with a client that keeps cookies
//! like a browser: accounts made with the CLI (weak passwords refused, every
//! change audited without the hash), login and logout, the same refusal for
//! an unknown user and a wrong password, the lock after five failures, CSRF
//! on every form, the cookie's attributes, a logged-out session refused
//! server-side, the security headers, and the API answering a session within
//! the account's subtree and role.

use khien_tests::Run;
use khien_tests::collector::Collector;
use khien_tests::postgres::Postgres;
use reqwest::{Client, StatusCode};
use serde_json::Value;

const WRONG_VI: &str = "Tên đăng nhập hoặc mật khẩu không đúng.";
const LOCKED_VI: &str = "Đăng nhập sai quá nhiều lần";

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
}

fn refused(r: &Run, says: &str) {
    assert_eq!(r.code, 2, "expected a refusal: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(says), "expected {says:?} in: {}", r.stderr);
}

pub(crate) use khien_tests::web::{Page, browser, get, login, post, send};

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

fn assert_security_headers(p: &Page, what: &str) {
    let csp = p.header("content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{what}: CSP {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: CSP {csp:?}");
    assert_eq!(p.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(p.header("referrer-policy"), "no-referrer", "{what}");
}

async fn dashboard(database: Option<String>) {
    let c = Collector::with_demo(database);
    let pw_file = |name: &str, pw: &str| {
        let p = c.dir.path().join(name);
        std::fs::write(&p, format!("{pw}\n")).expect("password file");
        p.to_str().expect("utf-8 path").to_string()
    };
    let strong = pw_file("strong", "cà phê sữa đá Buôn Ma Thuột");
    let weak = pw_file("weak", "short-pw");

    // ---- accounts from the CLI ----------------------------------------------------------
    refused(
        &c.cli(&[
            "user",
            "create",
            "hn-admin",
            "--role",
            "unit-admin",
            "--org-unit",
            "HN",
            "--password-file",
            &weak,
        ]),
        "at least 12",
    );
    refused(
        &c.cli(&["user", "create", "hn-admin", "--role", "unit-admin", "--password-file", &strong]),
        "org-unit",
    );
    refused(
        &c.cli(&[
            "user",
            "create",
            "x-admin",
            "--role",
            "unit-admin",
            "--org-unit",
            "NOPE",
            "--password-file",
            &strong,
        ]),
        "no org unit NOPE",
    );
    for (user, role, unit) in [
        ("tw-admin", "central-admin", None),
        ("hn-admin", "unit-admin", Some("HN")),
        ("dlk-reviewer", "reviewer", Some("DLK")),
        ("dlk-certifier", "certifier", Some("DLK")),
    ] {
        let mut args = vec!["user", "create", user, "--role", role, "--password-file", &strong];
        if let Some(u) = unit {
            args.extend(["--org-unit", u]);
        }
        ok(&c.cli(&args), "user create");
    }
    refused(
        &c.cli(&[
            "user",
            "create",
            "HN-Admin",
            "--role",
            "reviewer",
            "--org-unit",
            "HN",
            "--password-file",
            &strong,
        ]),
        "already exists",
    );
    let r = c.cli(&["user", "list", "--format", "json"]);
    ok(&r, "user list");
    let list = r.json();
    assert_eq!(list.as_array().map(Vec::len), Some(4), "{list:#}");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "hn-admin" && u["role"] == "unit_admin" && u["org_unit"] == "HN")
    );
    assert!(!r.stdout.contains("argon2"), "{}", r.stdout);
    let r = c.cli(&["audit", "list", "--format", "json", "--limit", "1000"]);
    ok(&r, "audit list");
    let created: Vec<Value> = r
        .json()
        .as_array()
        .expect("records")
        .iter()
        .filter(|e| e["object_kind"] == "user")
        .cloned()
        .collect();
    assert_eq!(created.len(), 4, "{created:#?}");
    assert!(
        created
            .iter()
            .all(|e| e["action"] == "create" && e["actor"].as_str().unwrap().starts_with("cli:"))
    );
    assert!(!r.stdout.contains("argon2") && !r.stdout.contains("password_hash"), "{}", r.stdout);

    // ---- pages before login -----------------------------------------------------------------
    let b = browser(&c);
    let root = get(&b, &c, "/").await;
    assert_eq!((root.status, root.location()), (StatusCode::SEE_OTHER, "/login"));
    assert_security_headers(&root, "GET /");
    let page = get(&b, &c, "/overview").await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/login"), "no session");
    let form = get(&b, &c, "/login").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_security_headers(&form, "GET /login");
    assert!(
        form.body.contains("<html lang=\"vi\">") && form.body.contains("Tên đăng nhập"),
        "{}",
        form.body
    );
    for id in ["username", "password"] {
        assert!(form.body.contains(&format!("<label for=\"{id}\">")), "a label for {id}");
    }
    let en = get(&b, &c, "/login?lang=en").await;
    assert!(
        en.body.contains("<html lang=\"en\">") && en.body.contains("Username"),
        "{}",
        en.body
    );
    // The stylesheet and the font are in the binary, cached for long.
    let css = form
        .body
        .split("href=\"")
        .find(|s| s.starts_with("/assets/khien.css"))
        .expect("a stylesheet link");
    let css = css.split('"').next().unwrap();
    let asset = get(&b, &c, css).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(asset.header("content-type").starts_with("text/css"));
    assert!(asset.header("cache-control").contains("max-age=31536000"));
    assert!(asset.body.contains("@media print"));
    let font = get(&b, &c, "/assets/DejaVuSans.ttf").await;
    assert_eq!((font.status, font.header("content-type")), (StatusCode::OK, "font/ttf"));
    assert_eq!(get(&b, &c, "/assets/nope.js").await.status, StatusCode::NOT_FOUND);

    // ---- CSRF on the login form -------------------------------------------------------------
    let strong_pw = "cà phê sữa đá Buôn Ma Thuột";
    let p = post(&b, &c, "/login", &[("username", "hn-admin"), ("password", strong_pw)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "no CSRF token: {}", p.body);
    let _ = get(&b, &c, "/login").await;
    let p = post(
        &b,
        &c,
        "/login",
        &[("username", "hn-admin"), ("password", strong_pw), ("csrf", "forged")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    assert!(p.set_cookie("__Host-khien_session").is_none());

    // ---- the same refusal for a wrong password and an unknown user; then the lock -----------
    let wrong = login(&b, &c, "hn-admin", "not the password at all").await;
    let unknown = login(&b, &c, "nobody", "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains(WRONG_VI) && unknown.body.contains(WRONG_VI), "{}", wrong.body);
    for i in 1..=5 {
        let p = login(&b, &c, "dlk-certifier", "not the password at all").await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED, "failure {i}");
        assert!(p.body.contains(WRONG_VI));
    }
    let locked = login(&b, &c, "dlk-certifier", strong_pw).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "6th attempt, right password: {}",
        locked.body
    );
    assert!(locked.body.contains(LOCKED_VI), "{}", locked.body);
    assert!(locked.set_cookie("__Host-khien_session").is_none());
    // A new password lifts the lock.
    let other = pw_file("other", "một mật khẩu khác đủ dài");
    ok(
        &c.cli(&["user", "password", "dlk-certifier", "--password-file", &other]),
        "user password",
    );
    assert_eq!(
        login(&b, &c, "dlk-certifier", strong_pw).await.status,
        StatusCode::UNAUTHORIZED,
        "the old password"
    );
    let p = login(&b, &c, "dlk-certifier", "một mật khẩu khác đủ dài").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);

    // ---- a session -------------------------------------------------------------------------
    let b = browser(&c);
    let p = login(&b, &c, "HN-Admin", strong_pw).await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/overview"), "{}", p.body);
    let set = p.set_cookie("__Host-khien_session").expect("a session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.split("; ").any(|a| a == attr), "{attr} in {set}");
    }
    assert!(!set.contains("Domain"), "{set}");
    let token = cookie_value(&set);
    assert_eq!(token.len(), 43);
    let overview = get(&b, &c, "/overview").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert_security_headers(&overview, "GET /overview");
    assert_eq!(overview.header("cache-control"), "no-store");
    for text in ["hn-admin", "Quản trị viên đơn vị", "(HN)"] {
        assert!(overview.body.contains(text), "{text} in {}", overview.body);
    }
    let en = get(&b, &c, "/overview?lang=en").await;
    assert!(en.body.contains("Unit administrator"), "{}", en.body);
    assert_eq!(get(&b, &c, "/").await.location(), "/overview");
    // The database keeps a hash of the token, not the token.
    let store = c.store().await;
    let hashes: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(!hashes.is_empty() && !hashes.contains(&token), "{hashes:?}");
    store.close().await;

    // The API answers the session within its subtree and role.
    let api = |b: &Client, path: &str| b.get(format!("{}{path}", c.url()));
    let dlk = send(api(&b, "/api/v1/org-units/DLK/kpis")).await;
    assert_eq!(dlk.status, StatusCode::FORBIDDEN, "HN's admin reading DLK: {}", dlk.body);
    assert!(dlk.body.contains("outside this account's org unit"), "{}", dlk.body);
    let hn = send(api(&b, "/api/v1/org-units/HN/kpis")).await;
    assert_eq!(hn.status, StatusCode::OK, "{}", hn.body);
    let csrf = overview.csrf();
    let create = |csrf: Option<&str>| {
        let mut req = b
            .post(format!("{}/api/v1/org-units", c.url()))
            .json(&serde_json::json!({"code": "HN-NEW", "parent": "HN", "name": "Mới", "default_level": 2}));
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        send(req)
    };
    let p = create(None).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "an API change without the CSRF header: {}", p.body);
    let p = create(Some(&csrf)).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let r = c.cli(&["audit", "list", "--format", "json", "--org-unit", "HN-NEW"]);
    assert!(r.stdout.contains("\"user:hn-admin\""), "{}", r.stdout);

    // ---- logout ------------------------------------------------------------------------------
    assert_eq!(
        post(&b, &c, "/logout", &[]).await.status,
        StatusCode::FORBIDDEN,
        "logout without CSRF"
    );
    assert_eq!(post(&b, &c, "/logout", &[("csrf", "forged")]).await.status, StatusCode::FORBIDDEN);
    let out = post(&b, &c, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/login"), "{}", out.body);
    assert!(out.set_cookie("__Host-khien_session").is_some_and(|s| s.contains("Max-Age=0")));
    // The old cookie, replayed by another client, is refused: the session is gone server-side.
    let replay = browser(&c);
    let old = format!("__Host-khien_session={token}");
    let p = send(replay.get(format!("{}/overview", c.url())).header("cookie", &old)).await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/login"));
    let p = send(replay.get(format!("{}/api/v1/org-units/HN/kpis", c.url())).header("cookie", &old)).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED, "{}", p.body);

    // ---- roles -------------------------------------------------------------------------------
    let tw = browser(&c);
    assert_eq!(login(&tw, &c, "tw-admin", strong_pw).await.status, StatusCode::SEE_OTHER);
    let p = send(api(&tw, "/api/v1/org-units/DLK/kpis")).await;
    assert_eq!(p.status, StatusCode::OK, "the central admin reads DLK: {}", p.body);
    let o = get(&tw, &c, "/overview").await;
    assert!(o.body.contains("Toàn bộ hệ thống"), "{}", o.body);

    let reviewer = browser(&c);
    assert_eq!(login(&reviewer, &c, "dlk-reviewer", strong_pw).await.status, StatusCode::SEE_OTHER);
    assert_eq!(send(api(&reviewer, "/api/v1/org-units/DLK/kpis")).await.status, StatusCode::OK);
    let csrf = get(&reviewer, &c, "/overview").await.csrf();
    let p = send(
        reviewer
            .post(format!("{}/api/v1/org-units/DLK-VP/retire", c.url()))
            .header("x-csrf-token", &csrf),
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "a reviewer changes nothing: {}", p.body);
    assert!(p.body.contains("may not make changes"), "{}", p.body);
    let p = send(api(&reviewer, "/api/v1/systems/DLK-DHTN/evidence?format=json")).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "nor exports evidence: {}", p.body);

    // Disabling an account ends its sessions at once.
    ok(&c.cli(&["user", "disable", "dlk-reviewer"]), "user disable");
    let p = get(&reviewer, &c, "/overview").await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/login"));
    let p = login(&reviewer, &c, "dlk-reviewer", strong_pw).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED, "a disabled account: {}", p.body);
    assert!(p.body.contains(WRONG_VI));
    refused(&c.cli(&["user", "disable", "dlk-reviewer"]), "already disabled");
}

#[tokio::test]
async fn web_on_sqlite() {
    dashboard(None).await;
}

#[tokio::test]
async fn web_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    dashboard(Some(pg.database("web"))).await;
}
