//! What every answer passes through for safety (issue 17, items 11 and 13): security headers,
//! a guard on query strings, and the one JSON error shape for the errors axum writes as text.
//!
//! - [`security_headers`]: a Content-Security-Policy (the dashboard's, unless the handler set its
//!   own, as the field page and the API docs do), `frame-ancestors 'none'` and
//!   `X-Frame-Options`, `nosniff`, `Referrer-Policy: same-origin` (not `no-referrer`: browsers
//!   then send `Origin: null` on same-origin writes, which the CSRF check refuses), HSTS when
//!   echinomap serves TLS itself (`http::tls`) or `--hsts` says a TLS proxy is in front, and
//!   `Cache-Control: no-store` on every answer that does not choose its own caching (the
//!   pages, assets and tiles do): API answers carry patient rows.
//! - [`guard_query`]: a query parameter with a NUL byte (PostgreSQL cannot store it in text: a
//!   500 before) or longer than [`HttpLimits::max_param_chars`] is a 400 naming it, before any
//!   handler or query runs; a NUL in the path too.
//! - [`json_errors`]: axum's extractor rejections (JSON syntax, a wrong content type, a body
//!   over the limit, a query or path that does not parse) are plain text; they become the JSON
//!   shape of [`crate::error`] with their status kept. Only `text/plain` error answers are
//!   rewritten: HTML pages, JSON and streamed bodies pass untouched.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{AppError, error_body};
use crate::settings::HttpLimits;

/// The dashboard's policy (web/dist): scripts, styles, fonts and the MapLibre worker from this
/// origin only, no `eval`; WebAssembly may be compiled (`'wasm-unsafe-eval'`, which allows no
/// `eval` of JavaScript: the count's camera decoder, zxing-wasm, served from /assets/); MapLibre
/// decodes images through `blob:` URLs (and may start its worker from one); ECharts' tooltips
/// and Vue set `style` attributes, hence
/// `style-src-attr 'unsafe-inline'` (attributes only: no inline `<style>` or script).
pub const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
connect-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A year, as browsers expect for `Strict-Transport-Security`.
const HSTS: &str = "max-age=31536000";

/// The policy of a static page with one inline `<script>` and one inline `<style>` (the API
/// docs): those two allowed by their SHA-256, nothing else inline, nothing from elsewhere.
pub fn inline_page_csp(html: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let hash = |open: &str, close: &str| {
        let body = html
            .split_once(open)
            .and_then(|(_, rest)| rest.split_once(close))
            .map_or("", |(body, _)| body);
        let digest = Sha256::digest(body.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    };
    format!(
        "default-src 'self'; script-src {}; style-src {}; style-src-attr 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
        hash("<script>", "</script>"),
        hash("<style>", "</style>"),
    )
}

/// Outermost layer: the headers of every answer (see the module's documentation).
pub async fn security_headers(hsts: bool, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(DASHBOARD_CSP));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// Refuses a request whose query has a NUL or an over-long parameter, or whose path has a NUL.
pub async fn guard_query(max_chars: usize, req: Request, next: Next) -> Response {
    match check_uri(req.uri(), max_chars) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check_uri(uri: &Uri, max_chars: usize) -> Result<(), AppError> {
    if has_nul_escape(uri.path()) {
        return Err(AppError::invalid_param(
            "path",
            "the path contains a NUL character (%00)",
        ));
    }
    if uri.query().is_none_or(str::is_empty) {
        return Ok(());
    }
    // Decoded as every handler's query extractor decodes it (invalid UTF-8 becomes U+FFFD).
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)?;
    for (name, value) in &pairs {
        let shown = shown_name(name, max_chars);
        for (what, text) in [("name", name), ("value", value)] {
            if text.contains('\0') {
                return Err(AppError::invalid_param(
                    &shown,
                    format!("parameter {shown} contains a NUL character (%00) in its {what}"),
                ));
            }
            let chars = text.chars().count();
            if chars > max_chars {
                let subject = if what == "name" {
                    "a parameter name".to_owned()
                } else {
                    format!("parameter {shown}")
                };
                return Err(AppError::invalid_param(
                    &shown,
                    format!("{subject} is {chars} characters long, the most is {max_chars}"),
                ));
            }
        }
    }
    Ok(())
}

/// A parameter's name as an error may repeat it: NUL shown as `\0`, cut when over-long.
fn shown_name(name: &str, max_chars: usize) -> String {
    let cut: String = name.chars().take(max_chars.min(64)).collect();
    let escaped = cut.replace('\0', "\\0");
    if cut.len() < name.len() {
        format!("{escaped}…")
    } else {
        escaped
    }
}

/// `%00` anywhere in a raw (still percent-encoded) path.
fn has_nul_escape(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| w == b"%00")
}

/// The most of a rejection's text read back (they are a line or two).
const REJECTION_TEXT_MAX: usize = 16 * 1024;

/// Innermost layer: an error answer with a `text/plain` body (axum's rejections) becomes the
/// JSON error shape, status and other headers kept.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let plain_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain_text {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, REJECTION_TEXT_MAX)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if status.is_server_error() {
        tracing::error!(
            http.status = status.as_u16(),
            "request failed with a text answer"
        );
        "internal error; it has been logged".to_owned()
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_owned()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = error_body(rejection_code(status), &message, Value::Null);
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// The error code of a rejection, by its status.
fn rejection_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// The settings these layers read.
#[derive(Debug, Clone, Copy)]
pub struct LayerSettings {
    pub max_param_chars: usize,
    pub hsts: bool,
}

impl From<&HttpLimits> for LayerSettings {
    fn from(limits: &HttpLimits) -> Self {
        Self {
            max_param_chars: limits.max_param_chars,
            hsts: limits.hsts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str, max: usize) -> Result<(), String> {
        let uri: Uri = uri.parse().map_err(|e| format!("{e}"))?;
        check_uri(&uri, max).map_err(|e| e.to_string())
    }

    #[test]
    fn a_nul_in_a_value_a_name_or_the_path_is_refused_naming_the_parameter() {
        let e = check("/api/people?limit=5&q=a%00b", 1000).expect_err("NUL");
        assert!(e.contains("parameter q contains a NUL"), "{e}");
        let e = check("/api/people?q%00=a", 1000).expect_err("NUL");
        assert!(e.contains("parameter q\\0 contains a NUL"), "{e}");
        let e = check("/api/villages/%00", 1000).expect_err("NUL");
        assert!(e.contains("path"), "{e}");
        assert!(check("/api/people?q=a%2500b", 1000).is_ok());
    }

    #[test]
    fn a_value_longer_than_the_limit_is_refused_with_its_length() {
        let long = "x".repeat(1001);
        let e = check(&format!("/api/people?q={long}"), 1000).expect_err("long");
        assert_eq!(e, "parameter q is 1001 characters long, the most is 1000");
        // Characters, not bytes: 1000 Chinese characters pass.
        let han = "%E5%8C%85".repeat(1000);
        assert!(check(&format!("/api/people?q={han}"), 1000).is_ok());
    }

    #[test]
    fn the_inline_page_policy_names_the_hash_of_its_script() {
        let csp = inline_page_csp("<style>a{}</style><script>go()</script>");
        use base64::Engine as _;
        use sha2::{Digest, Sha256};
        let want = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"go()"));
        assert!(
            csp.contains(&format!("script-src 'sha256-{want}'")),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-eval"));
    }
}
