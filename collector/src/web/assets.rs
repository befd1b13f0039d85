//! Files the pages use, compiled into the binary: the dashboard works on a
//! network with no way out, and a page never waits on another server. URLs
//! carry a digest of the content (`?v=`), so a file can be cached for a year
//! and an upgrade still reaches every browser at once.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use khien_proto::report::sha256_hex;
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

static ASSETS: &[Asset] = &[
    Asset {
        name: "khien.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/khien.css"),
    },
    // htmx 2.0.11 (0BSD), from npm's htmx.org: fetches parts of pages
    // (a requirement's evidence) without a page load. Pages work without it.
    // It runs under the CSP with eval off (the `htmx-config` meta in base.html).
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/htmx.min.js"),
    },
    // Copy buttons of the enrollment page (`web/enrollment.rs`); the page
    // works without it.
    Asset {
        name: "copy.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/copy.js"),
    },
    // DejaVu Sans has every Vietnamese letter and tone mark; office machines
    // without a good system font still render names right.
    Asset {
        name: "DejaVuSans.ttf",
        content_type: "font/ttf",
        bytes: include_bytes!("../../../evidence/fonts/DejaVuSans.ttf"),
    },
];

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `/assets/<name>?v=<digest>`, for templates.
pub fn url(name: &str) -> String {
    static DIGESTS: OnceLock<Vec<String>> = OnceLock::new();
    let digests = DIGESTS.get_or_init(|| ASSETS.iter().map(|a| sha256_hex(a.bytes)[..12].to_string()).collect());
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => format!("/assets/{name}?v={}", digests[i]),
        None => format!("/assets/{name}"),
    }
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match find(&name) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "no such asset").into_response(),
    }
}
