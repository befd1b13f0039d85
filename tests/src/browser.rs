//! Headless Chromium driven through chromedriver (WebDriver), for tests that
//! look at the dashboard as a person does: real clicks, real CSS, and
//! screenshots to look at afterwards; plus an axe-core accessibility check of
//! each page against WCAG 2 A and AA.
//!
//! chromedriver is spoken to over plain HTTP on loopback, so fantoccini is
//! built without a TLS stack (a second rustls provider would break the
//! collector's ring-only rule).

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The office screen the dashboard is designed for.
pub const WIDTH: u32 = 1366;
pub const HEIGHT: u32 = 768;

/// Where axe-core is, relative to the workspace (`npm ci --prefix tests/browser`).
pub const AXE_PATH: &str = "tests/browser/node_modules/axe-core/axe.min.js";

/// axe-core's source. A missing file fails the test: an accessibility check
/// that silently does not run would read as a pass.
pub fn axe_source() -> String {
    let path = crate::workspace().join(AXE_PATH);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing ({}: {e}); run `npm ci --prefix tests/browser` in the workspace first",
            path.display()
        )
    })
}

/// The workspace's target folder: `CARGO_TARGET_DIR` when set, else `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => crate::workspace().join(d),
        _ => crate::workspace().join("target"),
    }
}

/// Screenshots go here; CI keeps the folder as an artifact.
pub fn screenshots_dir() -> PathBuf {
    target_dir().join("screenshots")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One chromedriver with one Chromium session. Both go when it is dropped,
/// even when a test panics half-way.
pub struct Browser {
    pub client: Client,
    axe: String,
    driver: Driver,
}

/// The chromedriver process, with its log and Chromium's profile folder.
struct Driver {
    child: Child,
    dir: tempfile::TempDir,
}

impl Driver {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited with {status}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver did not listen within 30 s:\n{}", self.log());
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium it started.
        let pgid = self.child.id();
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at 1366×768 that accepts
    /// the collector's own CA.
    pub async fn start() -> Browser {
        let axe = axe_source();
        let chromium = crate::tool("chromium").expect("chromium is installed");
        let chromedriver = crate::tool("chromedriver").expect("chromedriver is installed");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let log = dir.path().join("chromedriver.log");
        let mut cmd = Command::new(chromedriver);
        cmd.arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that dropping the browser can end Chromium
        // too: chromedriver killed outright leaves its Chromium behind.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut driver = Driver {
            child: cmd.spawn().expect("starting chromedriver"),
            dir,
        };
        driver.wait_listening(port);

        let profile = driver.dir.path().join("profile");
        let args = vec![
            "--headless".to_string(),
            "--disable-gpu".into(),
            // The build machines' network is closed: Chromium's own background
            // connections fail, many at a time, and slow every page down.
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={WIDTH},{HEIGHT}"),
            format!("--user-data-dir={}", profile.display()),
            // Vietnamese first, as on the offices' machines.
            "--lang=vi".into(),
            // Chromium's sandbox refuses root (CI runs as root) and needs user
            // namespaces that containers often lack; the pages are our own.
            "--no-sandbox".into(),
        ];
        let caps: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }))
        .expect("capabilities");
        let url = format!("http://127.0.0.1:{port}");
        let client = match ClientBuilder::new(HttpConnector::new()).capabilities(caps).connect(&url).await {
            Ok(c) => c,
            Err(e) => panic!("a Chromium session through chromedriver: {e}\n{}", driver.log()),
        };
        client.set_window_size(WIDTH, HEIGHT).await.expect("window size");
        Browser { client, axe, driver }
    }

    /// chromedriver's log, for failure messages.
    pub fn driver_log(&self) -> String {
        self.driver.log()
    }

    /// Opens `url` and waits for `ready` (a CSS selector) to be on the page.
    pub async fn open(&self, url: &str, ready: &str) -> fantoccini::elements::Element {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
        self.wait_for(ready).await
    }

    /// Waits for an element; on a timeout, says which page was shown instead.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("waiting for {css}: {e}\n{}", self.describe().await),
        }
    }

    /// The element for `css`, which must be on the page now.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("finding {css}: {e}\n{}", self.describe().await),
        }
    }

    /// Clicks the element for `css` and waits until the browser is at `path`
    /// (path and query, e.g. `/org-units/DLK`).
    pub async fn click_to(&self, css: &str, path: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
        self.wait_path(path).await;
    }

    /// Waits until the current URL's path and query are `path`.
    pub async fn wait_path(&self, path: &str) {
        let here = self.client.current_url().await.expect("current URL");
        let want = here.join(path).expect("a path");
        if let Err(e) = self.client.wait().at_most(Duration::from_secs(20)).for_url(&want).await {
            panic!("waiting to reach {want}: {e}\n{}", self.describe().await);
        }
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.expect("current URL");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// The visible text of the whole page.
    pub async fn text(&self) -> String {
        self.find("body").await.text().await.expect("the page's text")
    }

    /// The texts of every element matching `css`, in page order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.client.find_all(Locator::Css(css)).await.expect("find_all") {
            out.push(e.text().await.expect("an element's text"));
        }
        out
    }

    /// The URL and text of the current page, for failure messages.
    pub async fn describe(&self) -> String {
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let text = match self.client.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        format!("at {url}:\n{text}")
    }

    /// The HTTP status of the current page, asked again from inside it (WebDriver does not tell it).
    pub async fn status(&self) -> u16 {
        let script = "const done = arguments[arguments.length - 1];
            fetch(location.href, {credentials: 'same-origin', redirect: 'manual'})
                .then(r => done(r.status), e => done(String(e)));";
        let v = self.client.execute_async(script, vec![]).await.expect("fetch the page again");
        v.as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("a status: {v}"))
    }

    /// Saves a PNG of the viewport as `target/screenshots/<name>`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// Runs axe-core on the current page against WCAG 2 A and AA (colour
    /// contrast included) and fails listing every violation.
    pub async fn axe(&self, page_name: &str) {
        let r = self.axe_run(page_name).await;
        // A run that checked nothing (axe not loaded, an empty page) is no pass.
        let passed = r["passes"].as_array().map_or(0, Vec::len);
        assert!(passed > 0, "axe-core checked nothing on {page_name}: {r}");
        let violations = r["violations"].as_array().cloned().unwrap_or_default();
        if violations.is_empty() {
            // What axe could not decide (e.g. contrast over a gradient) needs a person's eye.
            let incomplete: Vec<&str> = r["incomplete"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["id"].as_str())
                .collect();
            if !incomplete.is_empty() {
                eprintln!("axe-core on {page_name}: to check by eye: {}", incomplete.join(", "));
            }
            return;
        }
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let list: Vec<String> = violations.iter().map(describe_violation).collect();
        panic!(
            "axe-core: {} WCAG 2 A/AA violation(s) on {page_name} ({url}):\n{}",
            violations.len(),
            list.join("\n")
        );
    }

    /// The ids of the WCAG 2 A/AA rules the current page breaks.
    pub async fn axe_violations(&self, page_name: &str) -> Vec<String> {
        let r = self.axe_run(page_name).await;
        r["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect()
    }

    /// axe-core's results for the current page: `violations` (with the first
    /// targets of each), and the ids of the rules that `passes` or stay `incomplete`.
    async fn axe_run(&self, page_name: &str) -> Value {
        // WebDriver's scripts are not the page's: its CSP does not apply to them.
        self.client
            .execute(&self.axe, vec![])
            .await
            .unwrap_or_else(|e| panic!("axe-core injection on {page_name}: {e}"));
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})
                .then(r => done({
                    violations: r.violations.map(v => ({
                        id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
                        nodes: v.nodes.length,
                        summary: v.nodes.length ? v.nodes[0].failureSummary : ''
                    })),
                    passes: r.passes.map(v => v.id),
                    incomplete: r.incomplete.map(v => ({id: v.id}))
                }), e => done({error: String(e)}));";
        let r = self
            .client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("axe.run on {page_name}: {e}"));
        if let Some(e) = r.get("error") {
            panic!("axe.run on {page_name} failed: {e}");
        }
        r
    }

    /// Ends the session and chromedriver.
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        let _ = client.close().await;
        drop(driver);
    }
}

fn describe_violation(v: &Value) -> String {
    let targets: Vec<&str> = v["targets"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    format!(
        "- {} [{}] {} — {} element(s), e.g. {}\n  {}",
        v["id"].as_str().unwrap_or("?"),
        v["impact"].as_str().unwrap_or("?"),
        v["help"].as_str().unwrap_or("?"),
        v["nodes"],
        targets.join(" | "),
        v["summary"].as_str().unwrap_or("").replace('\n', "\n  ")
    )
}
