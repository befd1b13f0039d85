//! The dashboard's overview, org-tree and KPI-list pages against a running
//! collector, on SQLite and on a real PostgreSQL server, with one enrolled
//! endpoint in a commune of Đắk Lắk: the overview's figures are those of
//! `GET /api/v1/org-units/TW/kpis`, written the Vietnamese way; the drill-down
//! goes from the root to DLK and to the commune, with breadcrumbs, children
//! and worst systems; the list behind a KPI holds the endpoint and filters by
//! text; an account of Hà Nội is refused Đắk Lắk; and the HTML is
//! Vietnamese, with labelled charts, table headers and no inline style.

use super::web::{Page, browser, get, login};
use khien_tests::collector::{Agent, Collector, sample_facts};
use khien_tests::postgres::Postgres;
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "cà phê sữa đá Buôn Ma Thuột";
const COMMUNE: &str = "DLK-HOAPHU";
const HOSTNAME: &str = "hoaphu-pc-01";

fn percent_vi(p: &Value) -> String {
    match p.as_f64() {
        Some(p) => format!("{p:.1} %").replace('.', ","),
        None => "—".into(),
    }
}

/// The `<article>` of one KPI on a page.
fn kpi_card<'a>(body: &'a str, slug: &str) -> &'a str {
    let at = body
        .find(&format!("id=\"kpi-{slug}\""))
        .unwrap_or_else(|| panic!("a card for {slug}: {body}"));
    let rest = &body[at..];
    &rest[..rest.find("</article>").expect("the card's end")]
}

/// Every KPI card of the page shows the API's count, denominator and percentage.
fn assert_figures(page: &Page, api: &Value) {
    for slug in [
        "reporting_24h",
        "av_installed",
        "av_running",
        "av_realtime",
        "signatures_fresh",
        "firewall_default_deny",
        "sweep_recent",
        "backup_recent",
    ] {
        assert_figure(page, slug, &api[slug]);
    }
    for slug in ["dossier_approved", "compliant", "assessment_overdue"] {
        assert_figure(page, slug, &api["systems"][slug]);
    }
    let total = kpi_card(&page.body, "endpoints");
    assert!(
        total.contains(&format!("<span class=\"count\">{}</span>", api["endpoints"])),
        "{total}"
    );
    let systems = kpi_card(&page.body, "systems");
    assert!(
        systems.contains(&format!("<span class=\"count\">{}</span>", api["systems"]["systems"])),
        "{systems}"
    );
}

fn assert_figure(page: &Page, slug: &str, ratio: &Value) {
    let card = kpi_card(&page.body, slug);
    let expected = format!(
        "<span class=\"count\">{}</span> / <span class=\"of\">{}</span> <span class=\"percent\">{}</span>",
        ratio["count"],
        ratio["of"],
        percent_vi(&ratio["percent"])
    );
    assert!(card.contains(&expected), "{slug}: {expected} in {card}");
}

pub(crate) fn assert_accessible(p: &Page, what: &str) {
    assert!(p.body.contains("<html lang=\"vi\">"), "{what}: lang");
    assert!(!p.body.contains("style="), "{what}: the CSP forbids inline styles");
    assert!(p.header("content-security-policy").contains("default-src 'self'"), "{what}: CSP");
    // Every chart is an image with a name; every table has column headers.
    for svg in p.body.split("<svg").skip(1) {
        let tag = &svg[..svg.find('>').unwrap()];
        assert!(tag.contains("role=\"img\"") && tag.contains("aria-label=\""), "{what}: {tag}");
        assert!(svg.contains("<title>"), "{what}: an SVG title");
    }
    for table in p.body.split("<table").skip(1) {
        assert!(table.contains("<th scope=\"col\">"), "{what}: column headers");
    }
    for input in p.body.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("an input with an id");
        assert!(p.body.contains(&format!("<label for=\"{id}\">")), "{what}: a label for {id}");
    }
}

async fn pages(database: Option<String>) {
    let c = Collector::with_demo(database);
    c.users(
        PASSWORD,
        &[("tw-admin", "central-admin", None), ("hn-admin", "unit-admin", Some("HN"))],
    );

    // One endpoint in a commune of Đắk Lắk, and today's snapshot for the trends.
    let token = c.token(COMMUNE, &[], 1, "1h");
    let agent = Agent::enroll(&token, "");
    let raw = agent.raw(&c.url());
    assert_eq!(raw.send_full(1, &sample_facts(HOSTNAME)).await.status, 200);
    let r = c.cli(&["history", "snapshot"]);
    assert_eq!(r.code, 0, "history snapshot: {}", r.stderr);

    let b = browser(&c);
    assert_eq!(
        get(&b, &c, "/org-units/DLK").await.location(),
        "/login",
        "no session: to the login page"
    );
    assert_eq!(login(&b, &c, "tw-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);

    // ---- the overview: the root's figures, as the API gives them ------------------------------
    let api: Value = b
        .get(format!("{}/api/v1/org-units/TW/kpis", c.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["endpoints"], 1, "{api:#}");
    let o = get(&b, &c, "/overview").await;
    assert_eq!(o.status, StatusCode::OK, "{}", o.body);
    assert_accessible(&o, "/overview");
    assert_figures(&o, &api);
    for text in [
        "Tổng quan",
        "Văn phòng Trung ương Đảng",
        "Chỉ số máy trạm",
        "Chỉ số hệ thống thông tin",
        "Phần mềm phòng chống mã độc đang chạy",
        "Toàn bộ hệ thống",
        "href=\"/org-units/TW/kpi/av_running?state=unmet\"",
        "href=\"/org-units/TW/kpi/compliant?state=met\"",
        "<svg class=\"bar\"",
        "<svg class=\"trend\"",
        "Xu hướng 30 ngày",
    ] {
        assert!(o.body.contains(text), "{text} in {}", o.body);
    }
    let en = get(&b, &c, "/overview?lang=en").await;
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Endpoint KPIs"));

    // ---- drill down: TW → DLK → the commune ---------------------------------------------------
    let dlk = get(&b, &c, "/org-units/DLK").await;
    assert_eq!(dlk.status, StatusCode::OK, "{}", dlk.body);
    assert_accessible(&dlk, "/org-units/DLK");
    let dlk_api: Value = b
        .get(format!("{}/api/v1/org-units/DLK/kpis", c.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_figures(&dlk, &dlk_api);
    for text in [
        "<title>Tỉnh ủy Đắk Lắk — Khiên</title>",
        "<li><a href=\"/org-units/TW\">Văn phòng Trung ương Đảng</a></li>",
        "<span aria-current=\"page\">Tỉnh ủy Đắk Lắk</span>",
        "Đơn vị trực thuộc",
        "<a href=\"/org-units/DLK-HOAPHU\">Đảng ủy xã Hòa Phú</a>",
        "Hệ thống cần chú ý",
        "href=\"/systems/DLK-",
        "Không tuân thủ",
        "<th scope=\"row\">",
    ] {
        assert!(dlk.body.contains(text), "{text} in {}", dlk.body);
    }
    // The commune's row: one endpoint, reporting 100 %.
    let row = dlk.body.split("<tr>").find(|r| r.contains("/org-units/DLK-HOAPHU\"")).unwrap();
    assert!(row.contains("<td class=\"num\">1</td>") && row.contains("100,0 %"), "{row}");
    let commune = get(&b, &c, &format!("/org-units/{COMMUNE}")).await;
    assert_eq!(commune.status, StatusCode::OK, "{}", commune.body);
    assert_accessible(&commune, "the commune");
    for text in [
        "<li><a href=\"/org-units/DLK\">Tỉnh ủy Đắk Lắk</a></li>",
        "<span aria-current=\"page\">Đảng ủy xã Hòa Phú</span>",
        "Đơn vị này không có đơn vị trực thuộc.",
        "href=\"/systems/DLK-HOAPHU-LAN\"",
    ] {
        assert!(commune.body.contains(text), "{text} in {}", commune.body);
    }
    assert!(kpi_card(&commune.body, "endpoints").contains("<span class=\"count\">1</span>"));
    let en = get(&b, &c, "/org-units/DLK?lang=en").await;
    assert!(en.body.contains("Subordinate units") && en.body.contains("href=\"/org-units/DLK-HOAPHU?lang=en\""));
    assert_eq!(get(&b, &c, "/org-units/NOPE").await.status, StatusCode::NOT_FOUND);

    // ---- the list behind a KPI ---------------------------------------------------------------
    let list = get(&b, &c, "/org-units/DLK/kpi/reporting_24h?state=met").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_accessible(&list, "a KPI list");
    assert!(list.body.contains(HOSTNAME) && list.body.contains(&raw.agent_id), "{}", list.body);
    assert!(list.body.contains("<label for=\"q\">"), "{}", list.body);
    let unmet = get(&b, &c, "/org-units/DLK/kpi/reporting_24h?state=unmet").await;
    assert!(!unmet.body.contains(HOSTNAME) && unmet.body.contains("Không có mục nào."));
    let found = get(&b, &c, "/org-units/TW/kpi/endpoints?state=met&q=HOAPHU-PC").await;
    assert!(found.body.contains(HOSTNAME), "a filter by hostname: {}", found.body);
    let none = get(&b, &c, "/org-units/TW/kpi/endpoints?state=met&q=kh%C3%B4ng-c%C3%B3").await;
    assert!(!none.body.contains(HOSTNAME) && none.body.contains("value=\"không-có\""));
    let systems = get(&b, &c, "/org-units/DLK/kpi/compliant?state=unmet&page=1").await;
    assert_eq!(systems.status, StatusCode::OK);
    assert!(systems.body.contains("href=\"/systems/DLK-DHTN\""), "{}", systems.body);
    let page2 = get(&b, &c, "/org-units/DLK/kpi/compliant?state=unmet&page=2").await;
    assert!(page2.body.contains("Không có mục nào.") && page2.body.contains("rel=\"prev\""));
    assert_eq!(get(&b, &c, "/org-units/DLK/kpi/nope").await.status, StatusCode::NOT_FOUND);

    // ---- a unit administrator of Hà Nội ------------------------------------------------------
    let hn = browser(&c);
    assert_eq!(login(&hn, &c, "hn-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    for path in ["/org-units/DLK", "/org-units/DLK/kpi/endpoints?state=met", "/org-units/TW"] {
        let p = get(&hn, &c, path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}: {}", p.body);
        assert!(p.body.contains("nằm ngoài phạm vi"), "{}", p.body);
        assert!(!p.body.contains(HOSTNAME));
    }
    let o = get(&hn, &c, "/overview").await;
    assert!(o.body.contains("Thành ủy Hà Nội") && o.body.contains("href=\"/org-units/HN\""));
    assert!(kpi_card(&o.body, "endpoints").contains("<span class=\"count\">0</span>"));
    let p = get(&hn, &c, "/org-units/HN").await;
    assert_eq!(p.status, StatusCode::OK);
    // The root is named in the breadcrumbs but not linked: it is outside the account's subtree.
    assert!(p.body.contains("<li>Văn phòng Trung ương Đảng</li>"), "{}", p.body);
    assert!(!p.body.contains("href=\"/org-units/TW\""));
}

#[tokio::test]
async fn web_pages_on_sqlite() {
    pages(None).await;
}

#[tokio::test]
async fn web_pages_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    pages(Some(pg.database("web_pages"))).await;
}
