//! `GET /healthz`: is the service up, and can it reach its database
//! ([`echinomap_programme::health::probe`]).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let probe = echinomap_programme::health::probe(&state.pool);
    match tokio::time::timeout(Duration::from_secs(3), probe).await {
        Ok(Ok(db)) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "database": { "status": "ok", "postgres": db.postgres, "postgis": db.postgis },
            })),
        ),
        outcome => {
            let reason = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer within 3 s".to_owned(),
            };
            tracing::warn!(error = %reason, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "version": env!("CARGO_PKG_VERSION"),
                    "database": { "status": "unavailable", "reason": reason },
                    "error": { "code": "database_unavailable", "message": "the database is not reachable", "details": null },
                })),
            )
        }
    }
}
