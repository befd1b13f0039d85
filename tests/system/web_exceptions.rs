//! The dashboard's waivers-and-attestations page and its audit log against a
//! running collector, on SQLite and on a real PostgreSQL server: a central
//! administrator makes a system waiver through the form, which turns the
//! requirement `waived` in the compliance API and is refused with the field
//! named when its expiry is past; a certifier of Đắk Lắk uploads an
//! attestation's evidence file, which comes back byte for byte, but cannot
//! make a waiver; a reviewer has no forms and cannot revoke; a Hà Nội
//! administrator neither sees nor revokes Đắk Lắk's waiver; forms without
//! the CSRF token are refused; and the audit page lists the changes with the
//! account that made them, scoped and filtered by kind.

use super::web::{Page, browser, get, login, post, send};
use super::web_pages::assert_accessible;
use khien_collector::evaluate::Policies;
use khien_collector::exceptions;
use khien_tests::collector::{Agent, Collector, sample_facts};
use khien_tests::postgres::Postgres;
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "miễn trừ có thời hạn, xác nhận có bằng chứng";
const SYSTEM: &str = "DLK-DHTN";

fn date(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

async fn status_of(b: &reqwest::Client, c: &Collector, requirement: &str) -> String {
    let api: Value = b
        .get(format!("{}/api/v1/systems/{SYSTEM}/compliance", c.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    api["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["requirement"] == requirement)
        .unwrap_or_else(|| panic!("{requirement} in {api:#}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The `<tr>` of a table row carrying `data-<attr>="<id>"`.
fn row<'a>(p: &'a Page, attr: &str, id: &str) -> &'a str {
    let at = p
        .body
        .find(&format!("data-{attr}=\"{id}\""))
        .unwrap_or_else(|| panic!("row {attr} {id}: {}", p.body));
    let rest = &p.body[at..];
    &rest[..rest.find("</tr>").unwrap()]
}

async fn exception_pages(database: Option<String>) {
    let c = Collector::with_demo(database);
    c.users(
        PASSWORD,
        &[
            ("tw-admin", "central-admin", None),
            ("hn-admin", "unit-admin", Some("HN")),
            ("dlk-reviewer", "reviewer", Some("DLK")),
            ("dlk-certifier", "certifier", Some("DLK")),
        ],
    );
    let token = c.token("DLK", &[SYSTEM], 1, "1h");
    let raw = Agent::enroll(&token, "").raw(&c.url());
    assert_eq!(raw.send_full(1, &sample_facts("dlk-vp-pc-09")).await.status, 200);

    let admin = browser(&c);
    assert_eq!(login(&admin, &c, "tw-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let api: Value = admin
        .get(format!("{}/api/v1/systems/{SYSTEM}/compliance", c.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reqs = api["requirements"].as_array().unwrap();
    let failing = reqs.iter().find(|r| r["status"] == "fail").expect("a failing requirement")["requirement"]
        .as_str()
        .unwrap()
        .to_string();
    let policies = Policies::load(&khien_tests::workspace().join("policies")).expect("the policies catalogue");
    let fw = policies.framework(api["framework"].as_str().unwrap()).unwrap();
    let manual = reqs
        .iter()
        .filter(|r| r["status"] == "manual")
        .map(|r| r["requirement"].as_str().unwrap())
        .find(|id| fw.requirement(id).is_some_and(exceptions::attestable))
        .expect("an attestable requirement")
        .to_string();

    // ---- a waiver through the form ----------------------------------------------------------
    let page = get(&admin, &c, &format!("/exceptions?system={SYSTEM}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_accessible(&page, "/exceptions");
    assert!(page.body.contains("id=\"new-waiver\"") && page.body.contains("id=\"new-attestation\""));
    let csrf = page.csrf();
    let reason = "Máy chủ phòng chống mã độc được thay trong quý tới";
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("kind", "system"),
        ("target", SYSTEM),
        ("requirement", failing.as_str()),
        ("reason", reason),
        ("approver", "Chánh Văn phòng Tỉnh ủy"),
        ("start", ""),
    ];
    let past = date(-1);
    let refused = post(
        &admin,
        &c,
        "/exceptions/waivers",
        &[form.clone(), vec![("expiry", past.as_str())]].concat(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("role=\"alert\"") && refused.body.contains("expiry"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(reason), "what was typed is kept");
    let no_csrf = post(&admin, &c, "/exceptions/waivers", &[("kind", "system"), ("target", SYSTEM)]).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let expiry = date(30);
    form.push(("expiry", expiry.as_str()));
    let made = post(&admin, &c, "/exceptions/waivers", &form).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert_eq!(made.location(), format!("/exceptions?done=waiver&system={SYSTEM}"));
    assert_eq!(status_of(&admin, &c, &failing).await, "waived");
    let page = get(&admin, &c, made.location()).await;
    assert!(page.body.contains("Đã tạo miễn trừ."), "{}", page.body);
    let waivers: Value = admin
        .get(format!("{}/api/v1/waivers", c.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let waiver_id = waivers["waivers"][0]["id"].to_string();
    let r = row(&page, "waiver-id", &waiver_id);
    assert!(
        r.contains(reason) && r.contains("Đang hiệu lực") && r.contains("form class=\"revoke\""),
        "{r}"
    );

    // ---- a certifier: attestations, not waivers ---------------------------------------------
    let certifier = browser(&c);
    assert_eq!(login(&certifier, &c, "dlk-certifier", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = get(&certifier, &c, "/exceptions").await;
    assert!(!page.body.contains("id=\"new-waiver\"") && page.body.contains("id=\"new-attestation\""));
    assert!(!row(&page, "waiver-id", &waiver_id).contains("form class=\"revoke\""));
    let csrf = page.csrf();
    let waiver = post(
        &certifier,
        &c,
        "/exceptions/waivers",
        &[("csrf", csrf.as_str()), ("kind", "system")],
    )
    .await;
    assert_eq!(waiver.status, StatusCode::FORBIDDEN);
    let content: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let multipart = |csrf: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.to_string())
            .text("system", SYSTEM)
            .text("requirement", manual.clone())
            .text("attested_by", "Nguyễn Văn A, Chánh Văn phòng")
            .text("valid_until", date(365))
            .part(
                "file",
                reqwest::multipart::Part::bytes(content.clone()).file_name("Quy chế bảo đảm ATTT.pdf"),
            )
    };
    let url = format!("{}/exceptions/attestations", c.url());
    let forged = send(certifier.post(&url).multipart(multipart("wrong"))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let made = send(certifier.post(&url).multipart(multipart(&csrf))).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert_eq!(status_of(&certifier, &c, &manual).await, "pass");
    let page = get(&certifier, &c, made.location()).await;
    assert!(page.body.contains("Đã tạo xác nhận.") && page.body.contains("Quy chế bảo đảm ATTT.pdf"));
    let digest = khien_proto::report::sha256_hex(&content);
    assert!(page.body.contains(&digest));
    let file = certifier
        .get(format!("{}/api/v1/evidence-files/{digest}", c.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.bytes().await.unwrap().as_ref(), content.as_slice(), "byte for byte");

    // ---- a reviewer and another province ----------------------------------------------------
    let reviewer = browser(&c);
    assert_eq!(login(&reviewer, &c, "dlk-reviewer", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = get(&reviewer, &c, "/exceptions").await;
    assert!(!page.body.contains("id=\"new-waiver\"") && !page.body.contains("id=\"new-attestation\""));
    let csrf = page.csrf();
    let path = format!("/exceptions/waivers/{waiver_id}/revoke");
    assert_eq!(
        post(&reviewer, &c, &path, &[("csrf", csrf.as_str())]).await.status,
        StatusCode::FORBIDDEN
    );
    let hn = browser(&c);
    assert_eq!(login(&hn, &c, "hn-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = get(&hn, &c, "/exceptions").await;
    assert!(!page.body.contains(reason) && !page.body.contains(&format!("data-waiver-id=\"{waiver_id}\"")));
    let csrf = page.csrf();
    assert_eq!(post(&hn, &c, &path, &[("csrf", csrf.as_str())]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&hn, &c, &format!("/exceptions?system={SYSTEM}")).await.status,
        StatusCode::NOT_FOUND
    );

    // ---- revoking ---------------------------------------------------------------------------
    let csrf = get(&admin, &c, "/exceptions").await.csrf();
    let revoked = post(&admin, &c, &path, &[("csrf", csrf.as_str()), ("system", SYSTEM)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert_eq!(status_of(&admin, &c, &failing).await, "fail");
    let page = get(&admin, &c, &format!("/exceptions?system={SYSTEM}&all=1")).await;
    assert!(row(&page, "waiver-id", &waiver_id).contains("Đã thu hồi"));
    let again = post(&admin, &c, &path, &[("csrf", csrf.as_str())]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "revoking twice is said, not hidden");

    // ---- the audit page ---------------------------------------------------------------------
    let log = get(&admin, &c, "/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    assert_accessible(&log, "/audit");
    for text in ["user:tw-admin", "user:dlk-certifier", "Miễn trừ", "Xác nhận", "revoke"] {
        assert!(log.body.contains(text), "{text} in {}", log.body);
    }
    let waivers_only = get(&admin, &c, "/audit?kind=waiver").await;
    assert!(waivers_only.body.contains("Miễn trừ <span") && !waivers_only.body.contains("Xác nhận <span"));
    let bad = get(&admin, &c, "/audit?from=hôm-qua").await;
    assert!(bad.body.contains("role=\"alert\"") && bad.body.contains("neither a date"));
    let hn_log = get(&hn, &c, "/audit").await;
    assert!(!hn_log.body.contains("user:dlk-certifier"), "Đắk Lắk's changes are not Hà Nội's");
}

#[tokio::test]
async fn web_exceptions_on_sqlite() {
    exception_pages(None).await;
}

#[tokio::test]
async fn web_exceptions_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    exception_pages(Some(pg.database("web_exceptions"))).await;
}
