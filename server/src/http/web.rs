//! The web pages. Until the dashboard build lands, a single self-contained page (no remote
//! assets) with the login screen, the registers and the villages.

use axum::response::Html;

const INDEX_HTML: &str = include_str!("../../../web/index.html");

pub async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}
