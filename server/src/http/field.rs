//! `/field`: the field team's village lookup, a phone page that works without signal.
//!
//! Deliberately not part of the Vite dashboard: field phones are often on 2G, so the page is a
//! few small hand-written files (`field/`: HTML with inline CSS, the page's script and its entry
//! forms, loaded after the first view, a service worker, a manifest and an icon) and the field core it shares with the WeChat mini-program
//! (`web/field-core/`, plain ES modules), about 24 kB gzipped in all, embedded with
//! `include_str!`, no framework and no build step. The service worker keeps the page and the
//! last answers of the API so that it opens offline; entries made offline are queued on the
//! phone and sent with an `Idempotency-Key` (see docs/FIELD.md).
//!
//! All files are public: the page asks `/api/auth/session` and shows its own login form. The
//! Content-Security-Policy allows this origin only, so nothing can be fetched from elsewhere.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The files under `/field/`, with their media type.
const FILES: [(&str, &str, &str); 5] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("field/app.js"),
    ),
    // The entry forms and the queue: imported by app.js after the first view.
    (
        "entry.js",
        "text/javascript; charset=utf-8",
        include_str!("field/entry.js"),
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

/// The field core (`web/field-core/`, docs/FIELD.md): the logic the page shares with the WeChat
/// mini-program, plain ES modules that `app.js` imports from `/field/core/<file>.js` as they are
/// (no build step; `tsc --checkJs` checks their JSDoc types).
macro_rules! core_files {
    ($($name:literal),*) => {
        [$(($name, include_str!(concat!("../../../web/field-core/", $name)))),*]
    };
}
const CORE: [(&str, &str); 10] = core_files!(
    "text.js",
    "time.js",
    "outbox.js",
    "validate.js",
    "coords.js",
    "search.js",
    "risk.js",
    "due.js",
    "uuid.js",
    "reasons.js"
);

/// What `sw.js` says in place of its build: the hash of every file of the page.
const BUILD_PLACEHOLDER: &str = "__FIELD_BUILD__";

/// The hash of all the page's files (the page, its scripts, the core, manifest and icon), once
/// per process: the service worker's cache is named after it and each file carries it in
/// `x-field-build`, so that a phone keeps the files of one build together (a new `app.js` never
/// runs with old core modules, sw.js) and a new build replaces them all at once.
fn build() -> &'static str {
    static BUILD: OnceLock<String> = OnceLock::new();
    BUILD.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let files = std::iter::once(("index.html", include_str!("field/index.html")))
            .chain(FILES.iter().map(|(name, _, body)| (*name, *body)))
            .chain(CORE.iter().copied());
        for (name, body) in files {
            // Name and length first: moving text from one file to another changes the hash.
            hash.update(name.as_bytes());
            hash.update((body.len() as u64).to_le_bytes());
            hash.update(body.as_bytes());
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// The scripts as sent: the repository's files without their whole-line comments (the JSDoc
/// types and the notes are for developers and `tsc`; on 2G they would cost a third of the
/// download), and `sw.js` with its build. Built once; keyed `app.js`, `sw.js`, `core/<file>.js`.
fn scripts() -> &'static HashMap<String, String> {
    static SCRIPTS: OnceLock<HashMap<String, String>> = OnceLock::new();
    SCRIPTS.get_or_init(|| {
        let page = FILES
            .iter()
            .filter(|(name, _, _)| name.ends_with(".js"))
            .map(|(name, _, body)| {
                let served = without_comment_lines(body);
                let served = if *name == "sw.js" {
                    served.replace(BUILD_PLACEHOLDER, build())
                } else {
                    served
                };
                ((*name).to_owned(), served)
            });
        let core = CORE
            .iter()
            .map(|(name, body)| (format!("core/{name}"), without_comment_lines(body)));
        page.chain(core).collect()
    })
}

/// Drops the lines that are only a `//` comment and the `/* … */` blocks that start a line: a
/// line-based cut, not a JavaScript parser, which is safe for these files because none has such
/// a line inside a string or template literal (the browser test runs what this returns, and a
/// unit test below checks the cut on each file). Code after a block's `*/` is kept.
fn without_comment_lines(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut in_block = false;
    for line in source.lines() {
        let code = line.trim_start();
        if in_block {
            if let Some(end) = code.find("*/") {
                in_block = false;
                let rest = code[end + 2..].trim();
                if !rest.is_empty() {
                    out.push_str(rest);
                    out.push('\n');
                }
            }
            continue;
        }
        if code.starts_with("//") {
            continue;
        }
        if code.starts_with("/*") {
            match code.find("*/") {
                // A whole-line comment.
                Some(end) if code[end + 2..].trim().is_empty() => continue,
                // Code after an inline type (`/** @type {X} */ const x = …`).
                Some(_) => {}
                None => {
                    in_block = true;
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

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
    if let Ok(value) = HeaderValue::from_str(build()) {
        headers.insert("x-field-build", value);
    }
    response
}

/// The routes whose presence the page checks (`has(…)` in `app.js`): the page's route table is
/// cut down to these, so that it does not grow with every endpoint of the dashboard (the whole
/// table is about 1 kB gzipped of a 2G download).
const PAGE_ROUTES: [&str; 7] = [
    "GET /api/villages/{code}/risk",
    "GET /api/villages/{code}/contacts",
    "GET /api/risk",
    "GET /api/worklists/{kind}",
    "GET /api/screening_campaigns",
    "GET /api/cases",
    "POST /api/auth/wechat/binding-code",
];

/// `GET /field`: the page, with the route table so that it asks only for endpoints this server
/// has (risk and work lists appear when they land; the binding button when WeChat sign-in does).
pub async fn page(request: HeaderMap) -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let html = PAGE.get_or_init(|| {
        only_page_routes(&super::web::with_routes_meta(include_str!(
            "field/index.html"
        )))
    });
    respond(&request, "text/html; charset=utf-8", html, &[])
}

/// The page with only [`PAGE_ROUTES`] left in its `echinomap-routes` meta.
fn only_page_routes(html: &str) -> String {
    const START: &str = "<meta name=\"echinomap-routes\" content=\"";
    let Some(at) = html.find(START).map(|i| i + START.len()) else {
        return html.to_owned();
    };
    let Some(len) = html[at..].find('"') else {
        return html.to_owned();
    };
    let kept: Vec<&str> = html[at..at + len]
        .split(',')
        .filter(|route| PAGE_ROUTES.contains(route))
        .collect();
    format!("{}{}{}", &html[..at], kept.join(","), &html[at + len..])
}

/// `GET /field/core/{file}`: one module of the field core.
pub async fn core_file(Path(name): Path<String>, request: HeaderMap) -> Result<Response, AppError> {
    let body = scripts().get(&format!("core/{name}")).ok_or_else(|| {
        AppError::not_found("not_found", format!("no such file: /field/core/{name}"))
    })?;
    Ok(respond(
        &request,
        "text/javascript; charset=utf-8",
        body,
        &[],
    ))
}

/// `GET /field/{file}`: the script, the service worker, the manifest and the icon.
pub async fn file(Path(name): Path<String>, request: HeaderMap) -> Result<Response, AppError> {
    let (_, content_type, source) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| AppError::not_found("not_found", format!("no such file: /field/{name}")))?;
    let body = scripts().get(&name).map_or(*source, String::as_str);
    // The worker lives under /field/ but must control the page /field itself.
    let extra: &[(&str, &str)] = if name == "sw.js" {
        &[("service-worker-allowed", "/field")]
    } else {
        &[]
    };
    Ok(respond(&request, content_type, body, extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_keeps_only_the_routes_it_asks_about() {
        let html = "<head>\n<meta name=\"echinomap-routes\" content=\"GET /,GET /api/risk,POST /api/risk,GET /api/cases,DELETE /api/cases/{id}\">\n</head>";
        assert_eq!(
            only_page_routes(html),
            "<head>\n<meta name=\"echinomap-routes\" content=\"GET /api/risk,GET /api/cases\">\n</head>"
        );
        assert_eq!(only_page_routes("<head></head>"), "<head></head>");
    }

    #[test]
    fn comment_lines_and_leading_blocks_go_and_code_stays() {
        let source = "// @ts-check\n/**\n * A doc.\n * @param {number} x\n */\nexport const a = 1; // kept\n  // indented\n/** @type {number} */ let b = 2;\n/* one line */\nconst url = 'http://x'; /*\n still code */\n/* a\n b */ const c = 3;\n";
        assert_eq!(
            without_comment_lines(source),
            "export const a = 1; // kept\n/** @type {number} */ let b = 2;\nconst url = 'http://x'; /*\n still code */\nconst c = 3;\n"
        );
    }

    /// Every script keeps each line that is not a comment, in order: nothing of the code is cut
    /// (a template literal with a line that looks like a comment would show up here).
    #[test]
    fn every_served_script_keeps_all_its_code_lines() {
        let sources = FILES
            .iter()
            .filter(|(n, _, _)| n.ends_with(".js"))
            .map(|(n, _, s)| ((*n).to_owned(), *s))
            .chain(CORE.iter().map(|(n, s)| (format!("core/{n}"), *s)));
        for (name, source) in sources {
            let served = &scripts()[&name];
            assert!(served.len() < source.len(), "{name}");
            let code: Vec<&str> = source
                .lines()
                .filter(|l| {
                    let t = l.trim_start();
                    !(t.starts_with("//") || t.starts_with("/*") || t.starts_with('*'))
                })
                .collect();
            let kept: Vec<&str> = served.lines().collect();
            let code: Vec<String> = code
                .iter()
                .map(|l| l.replace(BUILD_PLACEHOLDER, build()))
                .collect();
            assert_eq!(kept, code, "{name}");
        }
    }

    #[test]
    fn the_worker_names_its_cache_after_the_build_of_all_the_files() {
        let sw = &scripts()["sw.js"];
        assert_eq!(build().len(), 16);
        assert!(build().chars().all(|c| c.is_ascii_hexdigit()));
        assert!(
            sw.contains(&format!("const BUILD = '{}';", build())),
            "{sw}"
        );
        assert!(!sw.contains(BUILD_PLACEHOLDER));
        assert!(include_str!("field/sw.js").contains(BUILD_PLACEHOLDER));
    }
}
