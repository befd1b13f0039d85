//! The dashboard in a real browser (headless Chromium through chromedriver),
//! at the 1366×768 of the offices' screens: log in through the form, read the
//! overview (its figures are the API's), click down the org tree from the root
//! to a commune of Đắk Lắk, open the list behind a KPI card, log out with the
//! header button, and see an account of Hà Nội refused Đắk Lắk. Every page
//! passes axe-core's WCAG 2 A and AA rules, colour contrast included, and
//! leaves a screenshot in `target/screenshots/` for a person to look at.
//!
//! One flow, in steps that each take the session: later pages add their
//! steps to the same walk.

use khien_tests::browser::{self, Browser};
use khien_tests::collector::{Agent, Collector, sample_facts};
use serde_json::Value;

const PASSWORD: &str = "cà phê sữa đá Buôn Ma Thuột";
const COMMUNE: &str = "DLK-HOAPHU";
const HOSTNAME: &str = "hoaphu-pc-01";
const TW: &str = "Văn phòng Trung ương Đảng";
const DLK: &str = "Tỉnh ủy Đắk Lắk";
const HOAPHU: &str = "Đảng ủy xã Hòa Phú";
/// Đắk Lắk's level-3 system, and a workstation in it.
const SYSTEM: &str = "DLK-DHTN";
const SYSTEM_HOST: &str = "dlk-vp-pc-07";

/// What every step works with.
struct Walk {
    c: Collector,
    b: Browser,
    /// A central API key, to compare the pages with `/api/v1`.
    key: String,
    agent_id: String,
    _agent: Agent,
    _system_agent: Agent,
}

impl Walk {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.c.url())
    }

    /// The API's JSON for `path`, read with the central key.
    async fn api(&self, path: &str) -> Value {
        let (status, body) = self.c.get(&self.key, path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The breadcrumbs of a unit's page: every unit above it linked, itself the current page.
    async fn assert_crumbs(&self, expected: &[&str]) {
        self.assert_crumb_names(expected).await;
        let linked = self.b.texts("nav.crumbs li a").await;
        assert_eq!(linked, expected[..expected.len() - 1], "the linked crumbs");
        let current = self.b.find("nav.crumbs [aria-current=page]").await.text().await.unwrap();
        assert_eq!(Some(current.as_str()), expected.last().copied(), "the current crumb");
    }

    async fn assert_crumb_names(&self, expected: &[&str]) {
        let crumbs = self.b.texts("nav.crumbs li").await;
        let crumbs: Vec<&str> = crumbs.iter().map(|c| c.trim_start_matches('›').trim()).collect();
        assert_eq!(crumbs, expected, "breadcrumbs\n{}", self.b.describe().await);
    }

    async fn assert_text(&self, texts: &[&str]) {
        let page = self.b.text().await;
        for t in texts {
            assert!(page.contains(t), "{t:?} on {}:\n{page}", self.b.path().await);
        }
    }

    async fn assert_lang(&self, lang: &str) {
        let html = self.b.find("html").await;
        assert_eq!(html.attr("lang").await.unwrap().as_deref(), Some(lang), "<html lang>");
    }
}

/// The collector with the demo tree, one endpoint reporting from a commune of
/// Đắk Lắk, a central administrator and a unit administrator of Hà Nội.
async fn setup() -> Walk {
    let c = Collector::with_demo(None);
    c.users(
        PASSWORD,
        &[("tw-admin", "central-admin", None), ("hn-admin", "unit-admin", Some("HN"))],
    );
    let token = c.token(COMMUNE, &[], 1, "1h");
    let agent = Agent::enroll(&token, "");
    let raw = agent.raw(&c.url());
    assert_eq!(raw.send_full(1, &sample_facts(HOSTNAME)).await.status, 200);
    // A workstation of the provincial office in its level-3 system, which then fails its level.
    let token = c.token("DLK", &[SYSTEM], 1, "1h");
    let system_agent = Agent::enroll(&token, "");
    let raw_system = system_agent.raw(&c.url());
    assert_eq!(raw_system.send_full(1, &sample_facts(SYSTEM_HOST)).await.status, 200);
    // Today's snapshot, so that the cards draw their trend lines.
    let r = c.cli(&["history", "snapshot"]);
    assert_eq!(r.code, 0, "history snapshot: {}", r.stderr);
    let key = c.apikey(None);
    let b = Browser::start().await;
    Walk {
        key,
        agent_id: raw.agent_id.clone(),
        _agent: agent,
        _system_agent: system_agent,
        b,
        c,
    }
}

// ---- steps ------------------------------------------------------------------------

/// From `/` to the login form, then through it to the overview. With `shot`,
/// the form is photographed and checked first.
async fn log_in(w: &Walk, username: &str, shot: Option<&str>) {
    w.b.open(&w.url("/"), "input#username").await;
    assert_eq!(w.b.path().await, "/login", "/ without a session goes to the login page");
    if let Some(name) = shot {
        w.assert_lang("vi").await;
        w.assert_text(&["Đăng nhập", "Tên đăng nhập", "Mật khẩu"]).await;
        w.b.screenshot(name).await;
        w.b.axe("the login page").await;
    }
    w.b.find("input#username").await.send_keys(username).await.unwrap();
    w.b.find("input#password").await.send_keys(PASSWORD).await.unwrap();
    w.b.click_to("form[action^=\"/login\"] button[type=submit]", "/overview").await;
    w.b.wait_for("article#kpi-endpoints").await;
}

/// The overview shows the root's figures as the API gives them.
async fn overview(w: &Walk) {
    w.assert_lang("vi").await;
    let h1 = w.b.find("main h1").await.text().await.unwrap();
    assert_eq!(h1, format!("Tổng quan: {TW}"));
    w.assert_text(&[
        "Chỉ số máy trạm",
        "Chỉ số hệ thống thông tin",
        "Phần mềm phòng chống mã độc đang chạy",
        "Toàn bộ hệ thống",
        "tw-admin",
        "Đăng xuất",
    ])
    .await;
    // The trend charts are drawn from today's snapshot.
    w.b.find("article#kpi-endpoints svg.trend[role=img]").await;
    let api = w.api("/api/v1/org-units/TW/kpis").await;
    assert_eq!(api["endpoints"], 2, "the commune's endpoint and the system's: {api:#}");
    let shown = w.b.find("article#kpi-endpoints .count").await.text().await.unwrap();
    assert_eq!(shown, api["endpoints"].to_string(), "the endpoints card");
    let reporting = w.b.find("article#kpi-reporting_24h .count").await.text().await.unwrap();
    assert_eq!(reporting, api["reporting_24h"]["count"].to_string(), "the reporting card");
    w.b.screenshot("02-overview.png").await;
    w.b.axe("the overview").await;
}

/// The overview in English is as accessible as in Vietnamese.
async fn overview_english(w: &Walk) {
    w.b.open(&w.url("/overview?lang=en"), "html[lang=en] article#kpi-endpoints").await;
    w.assert_text(&["Overview", "Endpoint KPIs"]).await;
    w.b.screenshot("07-overview-en.png").await;
    w.b.axe("the overview in English").await;
    // Back to Vietnamese through the header's language link.
    w.b.click_to("header a.lang", "/overview").await;
    w.b.wait_for("html[lang=vi] article#kpi-endpoints").await;
}

/// From the overview's heading to the root, then down the children tables to the commune.
async fn drill_down(w: &Walk) {
    w.b.click_to("main h1 a[href=\"/org-units/TW\"]", "/org-units/TW").await;
    w.b.wait_for("table.grid").await;
    w.assert_crumbs(&[TW]).await;

    w.b.click_to("table.grid a[href=\"/org-units/DLK\"]", "/org-units/DLK").await;
    w.assert_crumbs(&[TW, DLK]).await;
    w.assert_text(&["Đơn vị trực thuộc", HOAPHU, "Hệ thống cần chú ý"]).await;
    assert_eq!(w.b.client.title().await.unwrap(), format!("{DLK} — Khiên"));
    w.b.screenshot("03-dlk.png").await;
    w.b.axe("the unit page of Đắk Lắk").await;

    w.b.click_to(
        &format!("table.grid a[href=\"/org-units/{COMMUNE}\"]"),
        &format!("/org-units/{COMMUNE}"),
    )
    .await;
    w.assert_crumbs(&[TW, DLK, HOAPHU]).await;
    w.assert_text(&["Đơn vị này không có đơn vị trực thuộc."]).await;
    let shown = w.b.find("article#kpi-endpoints .count").await.text().await.unwrap();
    assert_eq!(shown, "1", "the commune's endpoint");
    w.b.screenshot("04-commune.png").await;
    w.b.axe("the commune's page").await;
}

/// The list behind the commune's "reporting" card, then its filter form.
async fn kpi_list(w: &Walk) {
    let list = format!("/org-units/{COMMUNE}/kpi/reporting_24h?state=met");
    w.b.click_to(&format!("article#kpi-reporting_24h a[href=\"{list}\"]"), &list).await;
    w.b.wait_for("table#list-reporting_24h").await;
    // Here the commune itself is a link back to its page.
    w.assert_crumb_names(&[TW, DLK, HOAPHU]).await;
    assert_eq!(w.b.texts("nav.crumbs li a").await, [TW, DLK, HOAPHU]);
    w.assert_text(&[HOSTNAME, &w.agent_id]).await;
    w.b.screenshot("05-kpi-list.png").await;
    w.b.axe("a KPI list").await;

    w.b.find("input#q").await.send_keys("HOAPHU-PC").await.unwrap();
    w.b.click_to("form.filter button[type=submit]", &format!("{list}&q=HOAPHU-PC"))
        .await;
    w.b.wait_for("table#list-reporting_24h").await;
    w.assert_text(&[HOSTNAME]).await;
}

/// Đắk Lắk's failing level-3 system, found from the province's page: its
/// requirement matrix, a failing requirement's evidence loaded in place
/// (htmx, under the page's CSP), and its evidence pack from the export link.
async fn failing_system(w: &Walk) {
    w.b.open(&w.url("/org-units/DLK"), "main h1").await;
    let href = format!("/systems/{SYSTEM}");
    w.b.click_to(&format!("main a[href=\"{href}\"]"), &href).await;
    w.b.wait_for("table#requirements").await;
    let h1 = w.b.find("main h1").await.text().await.unwrap();
    assert!(h1.ends_with("cấp độ 3"), "{h1}");
    assert_eq!(w.b.find("#verdict").await.text().await.unwrap(), "Chưa đáp ứng yêu cầu của cấp độ");
    w.assert_crumb_names(&[TW, DLK, &format!("Hệ thống điều hành tác nghiệp ({SYSTEM})")])
        .await;
    w.assert_text(&["Ma trận yêu cầu", "Máy thành viên", SYSTEM_HOST, "Xuất hồ sơ bằng chứng"])
        .await;
    w.b.screenshot("08-system.png").await;
    w.b.axe("a failing system").await;

    // The first row fails (failing first); its evidence comes into the row below it.
    let first = w.b.find("table#requirements tbody tr[data-status=fail]").await;
    let anchor = first.attr("id").await.unwrap().expect("a row id");
    first
        .find(fantoccini::Locator::Css("a[hx-get]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    w.b.wait_for(&format!("#ev-{anchor} .evidence table")).await;
    assert_eq!(w.b.path().await, href, "htmx loaded the evidence without leaving the page");
    let evidence = w.b.find(&format!("#ev-{anchor}")).await.text().await.unwrap();
    assert!(evidence.contains(SYSTEM_HOST) && evidence.contains("Không đạt"), "{evidence}");
    let scroll = format!("document.getElementById('{anchor}').scrollIntoView();");
    w.b.client.execute(&scroll, vec![]).await.expect("scroll to the evidence");
    w.b.screenshot("09-evidence.png").await;
    w.b.axe("a system with evidence open").await;

    // The export link gives the signed pack to this session.
    let export = w.b.find("a#export-html").await.attr("href").await.unwrap().expect("an href");
    let script = "const done = arguments[arguments.length - 1];
        fetch(arguments[0], {credentials: 'same-origin'})
            .then(r => r.text().then(t => done([r.status, t])), e => done([0, String(e)]));";
    let v =
        w.b.client
            .execute_async(script, vec![Value::String(export)])
            .await
            .expect("fetch the pack");
    assert_eq!(v[0], 200, "{v}");
    let pack = v[1].as_str().unwrap();
    assert!(
        pack.contains(SYSTEM) && pack.contains(SYSTEM_HOST) && pack.contains("khien-signature v1"),
        "a signed pack"
    );
}

/// A token for a commune made through the form, shown once with its install
/// commands, then revoked with the row's button.
async fn enrollment(w: &Walk) {
    w.b.open(&w.url("/enrollment"), "form#new-token").await;
    w.b.find("select#org_unit")
        .await
        .select_by_value(COMMUNE)
        .await
        .expect("the commune in the unit list");
    let uses = w.b.find("input#uses").await;
    uses.clear().await.unwrap();
    uses.send_keys("3").await.unwrap();
    w.b.find("form#new-token button[type=submit]").await.click().await.unwrap();
    let token = w.b.wait_for("code#token").await.text().await.unwrap();
    assert!(token.len() > 40, "a token: {token}");
    let linux = w.b.find("code#install-command").await.text().await.unwrap();
    assert!(linux.contains("khien-agent enroll --token") && linux.contains(&token), "{linux}");
    let windows = w.b.find("code#install-command-windows").await.text().await.unwrap();
    assert!(
        windows.contains("khien-agent.exe enroll --token") && windows.contains(&token),
        "{windows}"
    );
    w.b.screenshot("10-enrollment.png").await;
    w.b.axe("a new enrollment token").await;

    // The only active token is the new one (the setup's were used up): revoke it.
    let row = w.b.find("table#tokens tr[data-token-id] form.revoke").await;
    row.find(fantoccini::Locator::Css("button")).await.unwrap().click().await.unwrap();
    w.b.wait_path("/enrollment").await;
    w.b.wait_for("table#tokens").await;
    let rows = w.b.texts("table#tokens tbody tr").await;
    let commune = rows
        .iter()
        .find(|r| r.contains(COMMUNE) && r.contains("3"))
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert!(commune.contains("Đã thu hồi"), "{commune}");
    assert!(w.b.texts("table#tokens form.revoke").await.is_empty(), "no active token is left");
    w.b.screenshot("11-token-revoked.png").await;
    w.b.axe("the enrollment page").await;
}

/// The pages not reached by clicking above, opened by address, each checked
/// with axe-core: an endpoint, a requirement's own page, the waivers and
/// attestations, the audit log.
async fn other_pages(w: &Walk) {
    w.b.open(&w.url(&format!("/endpoints/{}", w.agent_id)), "main h1").await;
    w.assert_text(&[HOSTNAME, "ClamAV"]).await;
    w.b.screenshot("12-endpoint.png").await;
    w.b.axe("an endpoint").await;

    w.b.open(&w.url(&format!("/systems/{SYSTEM}")), "table#requirements").await;
    let href =
        w.b.find("table#requirements tbody tr[data-status=fail] a[hx-get]")
            .await
            .attr("href")
            .await
            .unwrap()
            .expect("an evidence link");
    w.b.open(&w.url(&href), "main h1").await;
    w.assert_text(&[SYSTEM_HOST]).await;
    w.b.screenshot("13-requirement.png").await;
    w.b.axe("a requirement's page").await;

    w.b.open(&w.url(&format!("/exceptions?system={SYSTEM}")), "form#new-waiver").await;
    w.b.screenshot("14-exceptions.png").await;
    w.b.axe("waivers and attestations").await;

    w.b.open(&w.url("/audit"), "table#audit").await;
    w.assert_text(&["user:tw-admin"]).await;
    w.b.screenshot("15-audit.png").await;
    w.b.axe("the audit log").await;
}

/// The information-system and enrollment pages' steps, in the same logged-in
/// session as the steps before.
async fn system_and_enrollment_steps(w: &Walk) {
    failing_system(w).await;
    enrollment(w).await;
    other_pages(w).await;
}

/// The header's button ends the session: the overview then sends to the login page.
async fn log_out(w: &Walk) {
    w.b.open(&w.url("/overview"), "article#kpi-endpoints").await;
    w.b.click_to("form[action^=\"/logout\"] button", "/login").await;
    w.b.wait_for("input#username").await;
    w.b.open(&w.url("/overview"), "input#username").await;
    assert_eq!(w.b.path().await, "/login", "after logout, /overview goes to the login page");
}

/// An administrator of Hà Nội sees Hà Nội, and a refusal for Đắk Lắk.
async fn refused(w: &Walk) {
    log_in(w, "hn-admin", None).await;
    w.assert_text(&["Thành ủy Hà Nội", "hn-admin"]).await;
    w.b.open(&w.url("/org-units/DLK"), "main h1").await;
    assert_eq!(w.b.find("main h1").await.text().await.unwrap(), "Yêu cầu bị từ chối");
    w.assert_text(&["Đơn vị này nằm ngoài phạm vi của tài khoản."]).await;
    let page = w.b.text().await;
    assert!(!page.contains(HOSTNAME), "nothing of Đắk Lắk on the refusal:\n{page}");
    assert_eq!(w.b.status().await, 403, "the refusal's status");
    w.b.screenshot("06-refused.png").await;
    w.b.axe("the refusal page").await;
}

/// The accessibility check can fail: a grey-on-white note and an unlabelled
/// field added to the page are reported.
async fn axe_catches_violations(w: &Walk) {
    let script = "const p = document.createElement('p');
        p.textContent = 'chữ xám nhạt';
        p.style.color = '#c0c0c0';
        p.style.background = '#ffffff';
        document.querySelector('main').append(p, document.createElement('input'));";
    w.b.client.execute(script, vec![]).await.expect("spoil the page");
    let found = w.b.axe_violations("a spoilt page").await;
    for rule in ["color-contrast", "label"] {
        assert!(found.iter().any(|f| f == rule), "axe-core missed {rule}: {found:?}");
    }
}

#[tokio::test]
async fn browser_walkthrough() {
    // Before anything else: without axe-core the check would silently not run.
    browser::axe_source();
    if !khien_tests::can_run(false, &["chromium", "chromedriver"]) {
        return;
    }
    let started = std::time::Instant::now();
    let w = setup().await;
    log_in(&w, "tw-admin", Some("01-login.png")).await;
    overview(&w).await;
    overview_english(&w).await;
    drill_down(&w).await;
    kpi_list(&w).await;
    system_and_enrollment_steps(&w).await;
    log_out(&w).await;
    refused(&w).await;
    axe_catches_violations(&w).await;
    eprintln!(
        "browser walkthrough: {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        browser::screenshots_dir().display()
    );
    let Walk { b, .. } = w;
    b.close().await;
}
