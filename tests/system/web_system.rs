//! The dashboard's information-system page and its requirements' pages
//! against a running collector, on SQLite and on a real PostgreSQL server,
//! with an endpoint of Đắk Lắk's level-3 system DLK-DHTN: the requirement
//! matrix says per requirement what `GET /api/v1/systems/{code}/compliance`
//! says, failing ones first; the member list links the endpoint; a waiver
//! made with the CLI shows; a failing requirement's page (and its htmx
//! fragment) reproduces the endpoint's evidence; the export links give a
//! signed pack to a certifier and are absent for a reviewer; and a Hà Nội
//! account is refused the system.

use super::web::{Page, browser, get, login};
use super::web_pages::assert_accessible;
use khien_tests::collector::{Agent, Collector, sample_facts};
use khien_tests::postgres::Postgres;
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "hồ sơ cấp độ ba đã được phê duyệt";
const SYSTEM: &str = "DLK-DHTN";
const HOSTNAME: &str = "dlk-vp-pc-07";

/// The matrix's rows, in order: (requirement id, data-status).
fn matrix(p: &Page) -> Vec<(String, String)> {
    let table = &p.body[p.body.find("id=\"requirements\"").expect("the matrix")..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<tr id=\"")
        .skip(1)
        .map(|row| {
            let status = row.split("data-status=\"").nth(1).unwrap().split('"').next().unwrap();
            let id = row
                .split("<th scope=\"row\" class=\"code\">")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            (id.to_string(), status.to_string())
        })
        .collect()
}

fn ok(r: &khien_tests::Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
}

async fn system_pages(database: Option<String>) {
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
    let endpoint = raw.agent_id.clone();
    assert_eq!(raw.send_full(1, &sample_facts(HOSTNAME)).await.status, 200);

    let b = browser(&c);
    assert_eq!(get(&b, &c, &format!("/systems/{SYSTEM}")).await.location(), "/login");
    assert_eq!(login(&b, &c, "tw-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let api: Value = b
        .get(format!("{}/api/v1/systems/{SYSTEM}/compliance", c.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reqs = api["requirements"].as_array().unwrap();
    let failing = reqs
        .iter()
        .find(|r| r["status"] == "fail")
        .unwrap_or_else(|| panic!("something fails at level 3: {api:#}"))["requirement"]
        .as_str()
        .unwrap()
        .to_string();

    // ---- the system page: the API's verdicts, failing first -------------------------------------
    let p = get(&b, &c, &format!("/systems/{SYSTEM}")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p, "the system page");
    for text in [
        "cấp độ 3</h1>",
        "<span aria-current=\"page\">",
        "<li><a href=\"/org-units/DLK\">Tỉnh ủy Đắk Lắk</a></li>",
        "Ma trận yêu cầu",
        "Không tuân thủ",
        "id=\"export-html\"",
        &format!("href=\"/api/v1/systems/{SYSTEM}/evidence?format=csv\""),
        &format!("<a href=\"/endpoints/{endpoint}\">{HOSTNAME}</a>"),
        "Không đạt (1)",
        "Tất cả (1)",
    ] {
        assert!(p.body.contains(text), "{text} in {}", p.body);
    }
    let rows = matrix(&p);
    assert_eq!(rows.len(), reqs.len(), "one row per requirement of the level");
    for r in reqs {
        let id = r["requirement"].as_str().unwrap();
        let shown = rows.iter().find(|(x, _)| x == id).unwrap_or_else(|| panic!("{id} in the matrix"));
        assert_eq!(shown.1, r["status"].as_str().unwrap(), "{id}");
    }
    assert_eq!(rows[0].1, "fail", "failing requirements first: {rows:?}");
    let firsts: Vec<&str> = rows.iter().map(|(_, s)| s.as_str()).collect();
    assert!(firsts.windows(2).all(|w| !(w[0] == "pass" && w[1] == "fail")), "{firsts:?}");

    // Member filter: nothing is compliant; the text filter finds the host.
    let m = get(&b, &c, &format!("/systems/{SYSTEM}?state=compliant")).await;
    assert!(
        !m.body.contains(&format!(">{HOSTNAME}</a>")) && m.body.contains("Đạt (0)"),
        "{}",
        m.body
    );
    let m = get(&b, &c, &format!("/systems/{SYSTEM}?q=VP-PC")).await;
    assert!(m.body.contains(&format!(">{HOSTNAME}</a>")));
    let m = get(&b, &c, &format!("/systems/{SYSTEM}?q=50%25_x")).await;
    assert!(!m.body.contains(&format!(">{HOSTNAME}</a>")), "LIKE characters are literal");

    // ---- a failing requirement's evidence -------------------------------------------------------
    let path = format!("/systems/{SYSTEM}/requirements/{failing}");
    assert!(
        p.body.contains(&format!("hx-get=\"{path}\"")),
        "the matrix loads evidence with htmx"
    );
    let r = get(&b, &c, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_accessible(&r, "the requirement page");
    assert!(r.body.contains(&format!("<th scope=\"row\">{HOSTNAME}</th>")), "{}", r.body);
    assert!(r.body.contains("<span class=\"tag poor\">Không đạt</span>"), "{}", r.body);
    let frag = super::web::send(b.get(format!("{}{path}", c.url())).header("HX-Request", "true")).await;
    assert_eq!(frag.status, StatusCode::OK);
    assert!(!frag.body.contains("<html") && frag.body.contains(HOSTNAME), "{}", frag.body);
    assert_eq!(
        get(&b, &c, &format!("/systems/{SYSTEM}/requirements/NO-SUCH")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&b, &c, "/systems/NO-SUCH").await.status, StatusCode::NOT_FOUND);

    // ---- a waiver made with the CLI shows on the page ------------------------------------------
    let expiry = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    ok(
        &c.cli(&[
            "waiver",
            "create",
            "--system",
            SYSTEM,
            "--requirement",
            &failing,
            "--reason",
            "Thay máy chủ trong tháng tới",
            "--approver",
            "Chánh Văn phòng Tỉnh ủy",
            "--expiry",
            &expiry.to_string(),
        ]),
        "waiver create",
    );
    let p = get(&b, &c, &format!("/systems/{SYSTEM}")).await;
    let waivers = &p.body[p.body.find("id=\"waivers\"").expect("the waivers table")..];
    assert!(waivers.contains("Thay máy chủ trong tháng tới") && waivers.contains("Đang hiệu lực"));
    let row = matrix(&p).into_iter().find(|(id, _)| *id == failing).unwrap();
    assert_eq!(row.1, "waived");

    let en = get(&b, &c, &format!("/systems/{SYSTEM}?lang=en")).await;
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Requirement matrix") && en.body.contains("level 3"));

    // ---- roles and scope ------------------------------------------------------------------------
    let certifier = browser(&c);
    assert_eq!(login(&certifier, &c, "dlk-certifier", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let p = get(&certifier, &c, &format!("/systems/{SYSTEM}")).await;
    assert!(p.body.contains("id=\"export-html\""));
    let pack = get(&certifier, &c, &format!("/api/v1/systems/{SYSTEM}/evidence?format=html")).await;
    assert_eq!(pack.status, StatusCode::OK);
    assert!(pack.body.contains(SYSTEM) && pack.body.contains("khien-signature"), "a signed pack");

    let reviewer = browser(&c);
    assert_eq!(login(&reviewer, &c, "dlk-reviewer", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let p = get(&reviewer, &c, &format!("/systems/{SYSTEM}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.body.contains("id=\"export-html\""), "a reviewer cannot export");

    let hn = browser(&c);
    assert_eq!(login(&hn, &c, "hn-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    for path in [format!("/systems/{SYSTEM}"), format!("/systems/{SYSTEM}/requirements/{failing}")] {
        let p = get(&hn, &c, &path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!p.body.contains(HOSTNAME));
    }
}

#[tokio::test]
async fn web_system_on_sqlite() {
    system_pages(None).await;
}

#[tokio::test]
async fn web_system_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    system_pages(Some(pg.database("web_system"))).await;
}
