//! The web pages: the dashboard built by Vite from `web/` into `web/dist` (see web/README.md).
//!
//! Release builds embed `web/dist` in the binary; debug builds read it from the workspace at
//! run time, so a `npm run build` shows without recompiling. `index.html` names the hashed
//! asset files, so a new web build changes it and makes cargo re-embed the directory. Without a
//! web build (`cargo build` alone) the home page says how to make one instead of failing the
//! compile. Nothing here refers to another host.
//!
//! The page carries the route table (`<meta name="echinomap-routes">`) so that the app calls
//! only endpoints this server has: features that land later (registers, indicators, risk) appear
//! without probing for them, and without a 404 in the browser console.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::Embed;

use crate::error::AppError;

#[derive(Embed)]
#[folder = "../web/dist/"]
#[allow_missing = true]
struct Dist;

const NOT_BUILT: &str = "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<title>包虫病防控监测 · echinomap</title></head><body>\
<h1>包虫病防控监测平台</h1><p>网页尚未构建：请运行 <code>make run</code>（或 \
<code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>）。</p>\
<p>The web app is not built: run <code>make run</code>.</p></body></html>";

/// `index.html` with the route table as a meta tag (`GET /api/cases POST /api/users …`).
fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        let Some(file) = Dist::get("index.html") else {
            return NOT_BUILT.to_owned();
        };
        let html = String::from_utf8_lossy(&file.data).into_owned();
        with_routes_meta(&html)
    })
}

/// A page with the route table put before its `</head>` as
/// `<meta name="echinomap-routes" content="GET /healthz,GET /,…">`: the dashboard and the field
/// page read it to call only endpoints this server has. The running version follows as
/// `<meta name="echinomap-version" content="0.1.0">` (the dashboard's footer shows it), and
/// [`VERSION_MARK`] in the page's text becomes the version (the field page's footer).
pub(super) fn with_routes_meta(html: &str) -> String {
    let routes: Vec<String> = super::routes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    let meta = format!(
        "<meta name=\"echinomap-routes\" content=\"{}\">\n<meta name=\"echinomap-version\" content=\"{version}\">\n</head>",
        routes.join(",")
    );
    html.replacen("</head>", &meta, 1)
        .replace(VERSION_MARK, version)
}

/// Where a page's text shows the running version (replaced by [`with_routes_meta`]).
pub(super) const VERSION_MARK: &str = "%ECHINOMAP_VERSION%";

/// `GET /`: the dashboard's page. Never cached, so a new build's asset names are seen at once.
pub async fn index() -> Response {
    let mut response = Html(page()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /assets/{file}`: a built asset. Their names carry a content hash, so they are immutable.
pub async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    let path = format!("assets/{file}");
    let found = Dist::get(&path)
        .ok_or_else(|| AppError::not_found("not_found", format!("no such asset: /{path}")))?;
    let mime = HeaderValue::from_str(found.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        found.data.into_owned(),
    )
        .into_response())
}
