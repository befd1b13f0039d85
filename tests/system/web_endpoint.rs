//! The dashboard's endpoint page against a running collector, on SQLite and
//! on a real PostgreSQL server: an endpoint of a commune of Đắk Lắk sends two
//! reports (the second with its anti-malware stopped); a central
//! administrator's page names it, its product, its verdicts as
//! `GET /api/v1/endpoints/{id}` gives them with the evidence of what fails,
//! the time it was last seen the Vietnamese way, and both reports; the KPI
//! list links to it; an account of Hà Nội is refused it, an unknown id is not
//! found, and `?lang=en` is English.

use super::web::{Page, browser, get, login};
use khien_proto::Timestamp;
use khien_tests::collector::{Agent, Collector, sample_facts};
use khien_tests::postgres::Postgres;
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "cà phê sữa đá Buôn Ma Thuột";
const COMMUNE: &str = "DLK-HOAPHU";
const HOSTNAME: &str = "hoaphu-pc-02";

/// The page's words for a verdict, as the API spells it.
fn verdict_vi(status: &str) -> &'static str {
    match status {
        "pass" => "Đạt",
        "fail" => "Không đạt",
        "error" => "Lỗi",
        "not_applicable" => "Không áp dụng",
        "manual" => "Đánh giá thủ công",
        "waived" => "Được miễn trừ",
        other => panic!("an unknown status {other}"),
    }
}

/// `dd/mm/yyyy HH:MM` in Hà Nội of an RFC 3339 instant.
fn vietnam_time(rfc3339: &str) -> String {
    let t = Timestamp::parse(rfc3339).expect("an RFC 3339 time").inner();
    let t = t.to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap());
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// The row of a requirement in the first results table.
fn requirement_row<'a>(body: &'a str, requirement: &str) -> &'a str {
    let table = &body[body.find("id=\"scope-0-requirements\"").expect("a results table")..];
    let table = &table[..table.find("</table>").expect("its end")];
    table
        .split("<tr>")
        .find(|r| r.contains(&format!(">{requirement}</th>")))
        .unwrap_or_else(|| panic!("a row for {requirement} in {table}"))
}

fn assert_accessible(p: &Page, what: &str) {
    assert!(!p.body.contains("style="), "{what}: the CSP forbids inline styles");
    for table in p.body.split("<table").skip(1) {
        let table = &table[..table.find("</table>").expect("a closed table")];
        assert!(table.contains("<caption"), "{what}: a caption in {table}");
        assert!(table.contains("<th scope=\"col\">"), "{what}: column headers in {table}");
    }
    // A tag always says what it means; the colour only helps.
    for tag in p.body.split("<span class=\"tag ").skip(1) {
        let text = tag
            .split_once('>')
            .map(|(_, rest)| rest.split('<').next().unwrap_or_default())
            .unwrap_or_default();
        assert!(!text.trim().is_empty(), "{what}: a tag without words: {tag}");
    }
}

async fn endpoint_page(database: Option<String>) {
    let c = Collector::with_demo(database);
    c.users(
        PASSWORD,
        &[("tw-admin", "central-admin", None), ("hn-admin", "unit-admin", Some("HN"))],
    );

    let token = c.token(COMMUNE, &[], 1, "1h");
    let agent = Agent::enroll(&token, "");
    let raw = agent.raw(&c.url());
    let mut facts = sample_facts(HOSTNAME);
    assert_eq!(raw.send_full(1, &facts).await.status, 200);
    facts.antivirus.products[0].running = false;
    facts.antivirus.products[0].realtime = Some(false);
    assert_eq!(raw.send_full(2, &facts).await.status, 200);
    let id = raw.agent_id.clone();
    let path = format!("/endpoints/{id}");

    let b = browser(&c);
    assert_eq!(get(&b, &c, &path).await.location(), "/login", "no session: to the login page");
    assert_eq!(login(&b, &c, "tw-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let api: Value = b
        .get(format!("{}/api/v1/endpoints/{id}", c.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["hostname"], HOSTNAME, "{api:#}");

    let p = get(&b, &c, &path).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_accessible(&p, &path);
    let last_seen = vietnam_time(api["last_seen"].as_str().expect("last seen"));
    for text in [
        "<html lang=\"vi\">".to_string(),
        format!("<title>{HOSTNAME} — Khiên</title>"),
        format!("<h1>{HOSTNAME} <span class=\"code\">({id})</span></h1>"),
        "<li><a href=\"/org-units/DLK\">Tỉnh ủy Đắk Lắk</a></li>".into(),
        "<a href=\"/org-units/DLK-HOAPHU\">Đảng ủy xã Hòa Phú</a>".into(),
        format!("<span aria-current=\"page\">{HOSTNAME}</span>"),
        format!("<dd id=\"last-seen\">{last_seen}</dd>"),
        "<dt>Phiên bản tác tử</dt><dd>test</dd>".into(),
        "<span class=\"tag good\">Đang hoạt động</span>".into(),
        "<h2 id=\"ep-av\">Phòng chống mã độc</h2>".into(),
        "<th scope=\"row\">ClamAV".into(),
        "27830".into(),
        "<h2 id=\"ep-fw\">Tường lửa</h2>".into(),
        "<h2 id=\"ep-net\">Mạng</h2>".into(),
        "<th scope=\"row\">eth0</th>".into(),
        "52:54:00:00:00:01".into(),
        "<h2 id=\"ep-hardening\">Tài khoản và cấu hình an toàn</h2>".into(),
        "<dt>Số gói phần mềm</dt><dd>0</dd>".into(),
        "<h2 id=\"ep-results\">Kết quả đánh giá</h2>".into(),
        "Cấp độ mặc định của đơn vị".into(),
        "<h2 id=\"ep-history\">Lịch sử báo cáo</h2>".into(),
    ] {
        assert!(p.body.contains(&text), "{text} in {}", p.body);
    }
    // The stopped anti-malware reads as such.
    let av = &p.body[p.body.find("<th scope=\"row\">ClamAV").unwrap()..];
    let av = &av[..av.find("</tr>").unwrap()];
    assert!(av.contains("<span class=\"tag poor\">Không</span>"), "{av}");

    // ---- verdicts: the API's, failing first, with evidence ----------------------------------
    let eval = &api["evaluations"][0];
    let requirements = eval["requirements"].as_object().expect("requirements");
    assert!(!requirements.is_empty(), "{eval:#}");
    for (req, status) in requirements {
        let status = status.as_str().unwrap();
        let row = requirement_row(&p.body, req);
        assert!(
            row.contains(&format!("data-status=\"{status}\">{}</span>", verdict_vi(status))),
            "{req} is {status} in the API: {row}"
        );
    }
    let failing: Vec<&String> = requirements.iter().filter(|(_, s)| *s == "fail").map(|(r, _)| r).collect();
    assert!(!failing.is_empty(), "stopped anti-malware fails a requirement: {eval:#}");
    for req in &failing {
        let row = requirement_row(&p.body, req);
        assert!(
            row.contains("<dt>Ghi nhận</dt>") && row.contains("<dt>Yêu cầu đạt</dt>"),
            "evidence of {req}: {row}"
        );
    }
    // Failures come before every pass.
    let table = &p.body[p.body.find("id=\"scope-0-requirements\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let last_fail = table.rfind("data-status=\"fail\"").unwrap();
    if let Some(first_pass) = table.find("data-status=\"pass\"") {
        assert!(last_fail < first_pass, "failing first");
    }

    // ---- history: both reports; the second changed verdicts ------------------------------
    let history = &p.body[p.body.find("id=\"ep-history\"").unwrap()..];
    for seq in ["2", "1"] {
        assert!(
            history.contains(&format!("<th scope=\"row\" class=\"num\">{seq}</th>")),
            "{history}"
        );
    }
    let second = history.split("<tr>").find(|r| r.contains("class=\"num\">2</th>")).unwrap();
    assert!(
        second.contains("data-status=\"pass\">Đạt</span> → <span class=\"tag poor\" data-status=\"fail\">Không đạt</span>"),
        "a verdict change on report 2: {second}"
    );

    // ---- the KPI list links to the page -------------------------------------------------------
    let list = get(&b, &c, "/org-units/DLK/kpi/reporting_24h?state=met").await;
    assert!(list.body.contains(&format!("<a href=\"{path}\">{HOSTNAME}</a>")), "{}", list.body);
    let list = get(&b, &c, "/org-units/DLK/kpi/reporting_24h?state=met&lang=en").await;
    assert!(list.body.contains(&format!("<a href=\"{path}?lang=en\">{HOSTNAME}</a>")));

    // ---- English ---------------------------------------------------------------------------
    let en = get(&b, &c, &format!("{path}?lang=en")).await;
    assert_eq!(en.status, StatusCode::OK);
    assert_accessible(&en, "English");
    for text in [
        "<html lang=\"en\">",
        "<h2 id=\"ep-av\">Anti-malware</h2>",
        "<h2 id=\"ep-fw\">Firewall</h2>",
        "<h2 id=\"ep-net\">Network</h2>",
        "<h2 id=\"ep-results\">Evaluation results</h2>",
        "<h2 id=\"ep-history\">Report history</h2>",
        "data-status=\"fail\">Fail</span>",
        "href=\"/org-units/DLK-HOAPHU?lang=en\"",
        &last_seen,
    ] {
        assert!(en.body.contains(text), "{text} in {}", en.body);
    }

    // ---- refusals ----------------------------------------------------------------------------
    let missing = get(&b, &c, "/endpoints/no-such-endpoint").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    assert!(missing.body.contains("Không có máy trạm này."), "{}", missing.body);
    let hn = browser(&c);
    assert_eq!(login(&hn, &c, "hn-admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let refused = get(&hn, &c, &path).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("nằm ngoài phạm vi"), "{}", refused.body);
    assert!(!refused.body.contains(HOSTNAME) && !refused.body.contains("ClamAV"));
}

#[tokio::test]
async fn web_endpoint_on_sqlite() {
    endpoint_page(None).await;
}

#[tokio::test]
async fn web_endpoint_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    endpoint_page(Some(pg.database("web_endpoint"))).await;
}
