//! Enrollment tokens against a running collector, on SQLite and on a real
//! PostgreSQL server: the `/enrollment` page makes a token (CSRF from the
//! page), shows it once with the install commands, and a real agent enrolls
//! with it, which the list counts; a token revoked through the page refuses
//! the next enrollment; a reviewer reads the list but gets no form and its
//! POSTs are refused; a Hà Nội administrator neither sees nor revokes Đắk
//! Lắk's tokens; a POST without the CSRF token is refused. The API and the
//! CLI (`token list`, `token revoke`) list and revoke the same tokens.

use super::web::{Page, browser, get, login, post, send};
use khien_proto::enroll::Token;
use khien_tests::collector::{Agent, Collector};
use khien_tests::postgres::Postgres;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "cà phê sữa đá Buôn Ma Thuột";
const COMMUNE: &str = "DLK-HOAPHU";
const COMMUNE_SYSTEM: &str = "DLK-HOAPHU-LAN";

/// The text of the element with this id (`<code id="token">…</code>`), unescaped.
fn element_text(body: &str, id: &str) -> String {
    let open = format!("id=\"{id}\">");
    let at = body.find(&open).unwrap_or_else(|| panic!("no #{id} in {body}")) + open.len();
    unescape(&body[at..at + body[at..].find('<').expect("the element's end")])
}

/// HTML text as shown: askama writes `'`, `"` and `&` as numeric or named entities.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let entity = &rest[at..rest[at..].find(';').map_or(rest.len(), |e| at + e + 1)];
        let decoded = match entity {
            "&amp;" => Some('&'),
            "&quot;" => Some('"'),
            "&lt;" => Some('<'),
            "&gt;" => Some('>'),
            _ => entity
                .strip_prefix("&#")
                .and_then(|n| n.strip_suffix(';'))
                .and_then(|n| n.parse::<u32>().ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(entity),
        }
        rest = &rest[at + entity.len()..];
    }
    out.push_str(rest);
    out
}

/// The `<tr>` of a token in `table#tokens`, if listed.
fn token_row(body: &str, id: i64) -> Option<&str> {
    let open = format!("<tr data-token-id=\"{id}\">");
    let at = body.find(&open)?;
    let rest = &body[at..];
    Some(&rest[..rest.find("</tr>").expect("the row's end")])
}

/// Whether the text has a time written `dd/mm/yyyy HH:MM`.
fn has_datetime(text: &str) -> bool {
    let shape = b"00/00/0000 00:00";
    text.as_bytes().windows(shape.len()).any(|w| {
        w.iter()
            .zip(shape)
            .all(|(c, s)| if *s == b'0' { c.is_ascii_digit() } else { c == s })
    })
}

/// The ids of the tokens a page lists.
fn listed_ids(body: &str) -> Vec<i64> {
    body.split("<tr data-token-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

fn assert_accessible(p: &Page, what: &str) {
    assert!(!p.body.contains("style="), "{what}: the CSP forbids inline styles");
    assert!(!p.body.contains("<script>"), "{what}: no inline script");
    for input in p.body.split("<input").skip(1).chain(p.body.split("<select").skip(1)) {
        let tag = &input[..input.find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{what}: a field without an id: {tag}"));
        assert!(p.body.contains(&format!("<label for=\"{id}\">")), "{what}: a label for {id}");
    }
    for table in p.body.split("<table").skip(1) {
        assert!(
            table.contains("<th scope=\"col\"") && table.contains("<caption"),
            "{what}: headers and caption"
        );
    }
}

/// Submits the page's creation form as a browser would, with the page's CSRF token.
async fn create_on_page(b: &reqwest::Client, c: &Collector, csrf: &str, unit: &str, systems: &str, uses: &str) -> Page {
    post(
        b,
        c,
        "/enrollment",
        &[
            ("csrf", csrf),
            ("org_unit", unit),
            ("systems", systems),
            ("uses", uses),
            ("valid_hours", "72"),
        ],
    )
    .await
}

/// The id the page gave the token it just made: the newest row.
fn newest_id(body: &str) -> i64 {
    listed_ids(body).into_iter().max().expect("a token in the list")
}

fn enroll_fails(token: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let r = khien_tests::agent(&["enroll", "--token", token, "--state-dir", state.to_str().unwrap()], None);
    assert_ne!(r.code, 0, "enrollment should be refused: {}", r.stdout);
    r.stderr
}

async fn enrollment(database: Option<String>) {
    let c = Collector::with_demo(database);
    c.users(
        PASSWORD,
        &[
            ("tw-admin", "central-admin", None),
            ("dlk-admin", "unit-admin", Some("DLK")),
            ("hn-admin", "unit-admin", Some("HN")),
            ("dlk-reviewer", "reviewer", Some("DLK")),
        ],
    );

    // ---- a unit administrator of Đắk Lắk makes a token on the page ---------------------------
    let b = browser(&c);
    assert_eq!(get(&b, &c, "/enrollment").await.location(), "/login", "no session");
    assert_eq!(login(&b, &c, "dlk-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = get(&b, &c, "/enrollment").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_accessible(&page, "/enrollment");
    for text in [
        "<html lang=\"vi\">",
        "<form id=\"new-token\"",
        "<select id=\"org_unit\" name=\"org_unit\"",
        "<option value=\"DLK\">",
        &format!("<option value=\"{COMMUNE}\">"),
        "id=\"systems\"",
        "id=\"uses\" name=\"uses\" value=\"1\"",
        "id=\"valid_hours\" name=\"valid_hours\" value=\"72\"",
        "Chưa có mã đăng ký nào.",
    ] {
        assert!(page.body.contains(text), "{text} in {}", page.body);
    }
    assert!(!page.body.contains("<option value=\"HN\">"), "HN is outside the account's scope");
    let csrf = page.csrf();

    // Refusals: no CSRF, a forged one, an unknown system (the form keeps what was typed).
    let p = post(
        &b,
        &c,
        "/enrollment",
        &[("org_unit", COMMUNE), ("uses", "2"), ("valid_hours", "72")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "no CSRF token: {}", p.body);
    let p = create_on_page(&b, &c, "forged", COMMUNE, "", "2").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "a forged CSRF token");
    let p = create_on_page(&b, &c, &csrf, COMMUNE, "NOPE-SYS", "2").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("Không có hệ thống thông tin mã NOPE-SYS."), "{}", p.body);
    assert!(p.body.contains("value=\"NOPE-SYS\"") && !p.body.contains("id=\"token\""));
    let p = create_on_page(&b, &c, &csrf, COMMUNE, "", "0").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("Số máy được đăng ký phải là số nguyên dương."), "{}", p.body);

    let made = create_on_page(&b, &c, &csrf, COMMUNE, &COMMUNE_SYSTEM.to_lowercase(), "2").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_accessible(&made, "the page with a new token");
    let token = element_text(&made.body, "token");
    let decoded = Token::decode(&token).expect("a token");
    assert_eq!(decoded.url, c.url(), "the collector's configured URL");
    assert_eq!(
        (decoded.org_unit.as_str(), decoded.systems.as_slice(), decoded.uses),
        (COMMUNE, [COMMUNE_SYSTEM.to_string()].as_slice(), 2)
    );
    assert_eq!(
        element_text(&made.body, "install-command"),
        format!("sudo khien-agent enroll --token '{token}' && sudo khien-agent run --once")
    );
    assert_eq!(
        element_text(&made.body, "install-command-windows"),
        format!("khien-agent.exe enroll --token \"{token}\" && khien-agent.exe run --once")
    );
    for text in [
        "chỉ hiển thị một lần",
        "<button type=\"button\" class=\"copy\" data-copy-target=\"token\"",
        "<button type=\"button\" class=\"copy\" data-copy-target=\"install-command\"",
        "<button type=\"button\" class=\"copy\" data-copy-target=\"install-command-windows\"",
        "<script src=\"/assets/copy.js?v=",
    ] {
        assert!(made.body.contains(text), "{text} in {}", made.body);
    }
    let first = newest_id(&made.body);
    let js = made
        .body
        .split("<script src=\"")
        .find(|s| s.starts_with("/assets/copy.js"))
        .and_then(|s| s.split('"').next())
        .unwrap();
    let js = get(&b, &c, js).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.header("content-type").starts_with("text/javascript") && js.body.contains("data-copy-target"));

    // A real agent enrolls with it; the list counts the use and never shows the token again.
    let agent = Agent::enroll(&token, "");
    assert_eq!(agent.status()["org_unit"], COMMUNE, "{:#}", agent.status());
    let page = get(&b, &c, "/enrollment").await;
    assert!(!page.body.contains(&token), "the token is shown once only");
    let row = token_row(&page.body, first).expect("the token's row");
    for text in [
        "1/2",
        "Còn hiệu lực",
        "user:dlk-admin",
        "Đảng ủy xã Hòa Phú",
        COMMUNE_SYSTEM,
        "Thu hồi",
    ] {
        assert!(row.contains(text), "{text} in {row}");
    }
    assert!(has_datetime(row), "an expiry as dd/mm/yyyy HH:MM: {row}");

    // ---- a second token, revoked on the page --------------------------------------------------
    let second = create_on_page(&b, &c, &csrf, "DLK", "", "1").await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    let revoked_token = element_text(&second.body, "token");
    let second_id = newest_id(&second.body);
    assert_ne!(second_id, first);
    let row = token_row(&second.body, second_id).unwrap();
    assert!(
        row.contains(&format!(
            "<form class=\"revoke\" method=\"post\" action=\"/enrollment/{second_id}/revoke\">"
        )),
        "{row}"
    );
    let path = format!("/enrollment/{second_id}/revoke");
    assert_eq!(post(&b, &c, &path, &[]).await.status, StatusCode::FORBIDDEN, "revoke without CSRF");
    let p = post(&b, &c, &path, &[("csrf", &csrf)]).await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/enrollment"), "{}", p.body);
    let page = get(&b, &c, "/enrollment").await;
    let row = token_row(&page.body, second_id).expect("a revoked token stays listed");
    assert!(row.contains("Đã thu hồi") && !row.contains("form"), "{row}");
    let stderr = enroll_fails(&revoked_token);
    assert!(stderr.contains("revoked"), "{stderr}");
    let p = post(&b, &c, &path, &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains("đã bị thu hồi trước đó"), "{}", p.body);
    let en = get(&b, &c, "/enrollment?lang=en").await;
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Create an enrollment token"));
    assert!(token_row(&en.body, second_id).unwrap().contains("Revoked"));
    assert!(token_row(&en.body, first).unwrap().contains(">Revoke</button>"));

    // Creation and revocation are audited as the account.
    let r = c.cli(&["audit", "list", "--format", "json", "--limit", "1000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let audited: Vec<(String, String)> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_kind"] == "enroll_token" && e["actor"] == "user:dlk-admin")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["object_code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("create".to_string(), first.to_string()),
        ("create".to_string(), second_id.to_string()),
        ("revoke".to_string(), second_id.to_string()),
    ] {
        assert!(audited.contains(&expected), "{expected:?} in {audited:?}");
    }
    assert!(!r.stdout.contains(&decoded.secret), "never the secret");

    // ---- Hà Nội's administrator: neither sees nor revokes Đắk Lắk's tokens ---------------------
    let hn_token = c.token("HN", &[], 1, "1h");
    let hn_id = {
        let r = c.cli(&["token", "list", "--org-unit", "HN", "--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()[0]["id"].as_i64().expect("HN's token")
    };
    let hn = browser(&c);
    assert_eq!(login(&hn, &c, "hn-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = get(&hn, &c, "/enrollment").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(listed_ids(&page.body), [hn_id], "{}", page.body);
    assert!(!page.body.contains(COMMUNE) && page.body.contains("<option value=\"HN-VINHTUY\">"));
    let hn_csrf = page.csrf();
    let p = post(&hn, &c, &format!("/enrollment/{first}/revoke"), &[("csrf", &hn_csrf)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.body.contains("nằm ngoài phạm vi") && !p.body.contains(COMMUNE), "{}", p.body);
    let p = create_on_page(&hn, &c, &hn_csrf, "DLK", "", "1").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(!p.body.contains("id=\"token\""));

    // ---- a reviewer of Đắk Lắk reads, changes nothing ----------------------------------------
    let reviewer = browser(&c);
    assert_eq!(login(&reviewer, &c, "dlk-reviewer", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = get(&reviewer, &c, "/enrollment").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_accessible(&page, "the reviewer's page");
    let mut seen = listed_ids(&page.body);
    seen.sort();
    assert_eq!(seen, [first, second_id]);
    assert!(
        !page.body.contains("new-token") && !page.body.contains("class=\"revoke\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("chỉ cho phép xem"), "{}", page.body);
    let rv_csrf = page.csrf();
    let p = create_on_page(&reviewer, &c, &rv_csrf, COMMUNE, "", "1").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.body.contains("không được tạo hoặc thu hồi") && !p.body.contains("id=\"token\""));
    let p = post(&reviewer, &c, &format!("/enrollment/{first}/revoke"), &[("csrf", &rv_csrf)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    let api = send(
        reviewer
            .post(format!("{}/api/v1/enroll-tokens", c.url()))
            .header("x-csrf-token", &rv_csrf)
            .json(&json!({"org_unit": COMMUNE})),
    )
    .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN, "{}", api.body);
    assert!(api.body.contains("may not make changes"), "{}", api.body);
    assert!(
        token_row(&get(&b, &c, "/enrollment").await.body, first)
            .unwrap()
            .contains("Còn hiệu lực")
    );

    // ---- the API, with a key scoped to Hà Nội ------------------------------------------------
    let key = c.apikey(Some("HN"));
    let (status, list) = c.get(&key, "/api/v1/enroll-tokens").await;
    assert_eq!(status, 200, "{list:#}");
    let ids: Vec<i64> = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [hn_id]);
    let (status, body) = c
        .call(
            "POST",
            &key,
            "/api/v1/enroll-tokens",
            Some(json!({"org_unit": "HN-VINHTUY", "uses": 3, "valid_hours": 2})),
        )
        .await;
    assert_eq!(status, 201, "{body:#}");
    assert_eq!((body["state"].as_str(), body["max_uses"].as_i64()), (Some("active"), Some(3)));
    assert!(Token::decode(body["token"].as_str().unwrap()).is_ok());
    let api_id = body["id"].as_i64().unwrap();
    let (status, body) = c.call("POST", &key, &format!("/api/v1/enroll-tokens/{first}/revoke"), None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "{body:#}");
    let (status, body) = c
        .call("POST", &key, "/api/v1/enroll-tokens", Some(json!({"org_unit": "DLK"})))
        .await;
    assert_eq!(status, 403, "{body:#}");
    let (status, body) = c.call("POST", &key, &format!("/api/v1/enroll-tokens/{api_id}/revoke"), None).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("revoked")), "{body:#}");
    let (status, _) = c.call("POST", &key, &format!("/api/v1/enroll-tokens/{api_id}/revoke"), None).await;
    assert_eq!(status, 409);

    // ---- the CLI ---------------------------------------------------------------------------------
    let r = c.cli(&["token", "list", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let active: Vec<Value> = r.json().as_array().unwrap().clone();
    let ids: Vec<i64> = active.iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert!(ids.contains(&first) && ids.contains(&hn_id) && !ids.contains(&second_id), "{ids:?}");
    let mine = active.iter().find(|t| t["id"] == first).unwrap();
    assert_eq!((mine["used"].as_i64(), mine["max_uses"].as_i64()), (Some(1), Some(2)), "{mine:#}");
    assert_eq!(mine["created_by"], "user:dlk-admin");
    let r = c.cli(&["token", "list", "--all", "--org-unit", "DLK", "--format", "json"]);
    let all = r.json();
    let states: Vec<(i64, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), t["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(second_id, "revoked"), (first, "active")]);
    let r = c.cli(&["token", "list"]);
    assert!(
        r.stdout.starts_with("ID") && r.stdout.contains("1/2") && !r.stdout.contains(&token),
        "{}",
        r.stdout
    );
    let r = c.cli(&["token", "revoke", &hn_id.to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("Revoked enrollment token {hn_id}")), "{}", r.stdout);
    let r = c.cli(&["token", "revoke", &hn_id.to_string()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already revoked"), "{}", r.stderr);
    let r = c.cli(&["token", "revoke", "99999"]);
    assert!(r.code == 2 && r.stderr.contains("no enrollment token 99999"), "{}", r.stderr);
    assert!(enroll_fails(&hn_token).contains("revoked"));
    let r = c.cli(&["audit", "list", "--format", "json", "--org-unit", "HN"]);
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["object_kind"] == "enroll_token" && e["action"] == "revoke" && e["actor"].as_str().unwrap().starts_with("cli:")),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn web_enrollment_on_sqlite() {
    enrollment(None).await;
}

#[tokio::test]
async fn web_enrollment_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    enrollment(Some(pg.database("web_enrollment"))).await;
}
