//! The HTTP surface: one router, one state, one error shape ([`crate::error::AppError`]).

mod extract;
mod health;
mod summary;
mod villages;
mod web;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use sqlx::PgPool;
use tower_http::trace::TraceLayer;

use crate::error::AppError;

/// Shared by every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: PgPool,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/summary", get(summary::summary))
        .route("/api/villages", get(villages::list))
        .route("/api/villages/{code}", get(villages::detail))
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            // Paths and status only: query strings may carry names or ID numbers.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::info_span!("http", http.method = %req.method(), http.path = %req.uri().path())
            }),
        )
        .with_state(state)
}

async fn not_found(uri: Uri) -> AppError {
    AppError::not_found("not_found", format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = format!("{method} is not allowed on {}", uri.path());
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(crate::error::error_body(
            "method_not_allowed",
            &message,
            serde_json::Value::Null,
        )),
    )
        .into_response()
}
