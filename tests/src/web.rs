//! A browser's view of the dashboard without a browser: an HTTPS client
//! that keeps cookies and does not follow redirects (the tests look at
//! them), with the login form filled in as a person would. The system tests
//! and the page-time benchmark share it.

use crate::collector::Collector;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Client, StatusCode};
use std::time::Duration;

/// A browser: keeps cookies, does not follow redirects (the tests look at them).
pub fn browser(c: &Collector) -> Client {
    let tls = khien_tls::client_config(&c.ca_pem(), None).expect("TLS client configuration");
    Client::builder()
        .tls_backend_preconfigured(tls)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The hidden CSRF field of the page's (first) form.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
        self.body[at..].split('"').next().expect("its value").to_string()
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Page {
    let resp = req.send().await.expect("a response");
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap_or_default(),
    }
}

pub async fn get(b: &Client, c: &Collector, path: &str) -> Page {
    send(b.get(format!("{}{path}", c.url()))).await
}

pub async fn post(b: &Client, c: &Collector, path: &str, form: &[(&str, &str)]) -> Page {
    send(b.post(format!("{}{path}", c.url())).form(form)).await
}

/// Opens the login page and submits it.
pub async fn login(b: &Client, c: &Collector, username: &str, password: &str) -> Page {
    let form = get(b, c, "/login").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form.csrf();
    post(b, c, "/login", &[("username", username), ("password", password), ("csrf", &csrf)]).await
}
