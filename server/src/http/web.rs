//! The web pages. Until the dashboard build lands, a single self-contained page (no remote
//! assets) that shows the registers and the villages.

use axum::Router;
use axum::response::Html;
use axum::routing::get;

use super::AppState;

const INDEX_HTML: &str = include_str!("../../../web/index.html");

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(|| async { Html(INDEX_HTML) }))
}
