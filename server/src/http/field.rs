//! `/field`: the field team's village lookup, a phone page that works without signal.
//!
//! Deliberately not part of the Vite dashboard: field phones are often on 2G, so the page is a
//! few small hand-written files (`field/`: HTML with inline CSS, one script, a service worker, a
//! manifest and an icon; about 17 kB gzipped in all) embedded with `include_str!`, no framework
//! and no build step. The service worker keeps the page and the last answers of the API so that
//! it opens offline; entries made offline are queued on the phone and sent with an
//! `Idempotency-Key` (see docs/FIELD.md).
//!
//! All files are public: the page asks `/api/auth/session` and shows its own login form. The
//! Content-Security-Policy allows this origin only, so nothing can be fetched from elsewhere.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The files under `/field/`, with their media type.
const FILES: [(&str, &str, &str); 4] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("field/app.js"),
    ),
    (
        "sw.js",
        "text/javascript; charset=utf-8",
        include_str!("field/sw.js"),
    ),
    (
        "manifest.webmanifest",
        "application/manifest+json",
        include_str!("field/manifest.webmanifest"),
    ),
    ("icon.svg", "image/svg+xml", include_str!("field/icon.svg")),
];

/// A weak validator of a file's text (weak: the same for its gzip and brotli encodings), so that
/// a revalidation on a slow line is a 304 of a few bytes rather than the file again.
fn etag(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

fn respond(
    request: &HeaderMap,
    content_type: &'static str,
    body: &'static str,
    extra: &[(&'static str, &'static str)],
) -> Response {
    let tag = etag(body);
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    for (name, value) in [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        // Revalidated on every online visit; the service worker answers when offline.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
    ] {
        headers.insert(name, value);
    }
    for (name, value) in extra {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    response
}

/// `GET /field`: the page, with the route table so that it asks only for endpoints this server
/// has (risk and work lists appear when they land).
pub async fn page(request: HeaderMap) -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let html = PAGE.get_or_init(|| super::web::with_routes_meta(include_str!("field/index.html")));
    respond(&request, "text/html; charset=utf-8", html, &[])
}

/// `GET /field/{file}`: the script, the service worker, the manifest and the icon.
pub async fn file(Path(name): Path<String>, request: HeaderMap) -> Result<Response, AppError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| AppError::not_found("not_found", format!("no such file: /field/{name}")))?;
    // The worker lives under /field/ but must control the page /field itself.
    let extra: &[(&str, &str)] = if name == "sw.js" {
        &[("service-worker-allowed", "/field")]
    } else {
        &[]
    };
    Ok(respond(&request, content_type, body, extra))
}
