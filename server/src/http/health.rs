//! `GET /healthz`: is the service up, can it reach its database
//! ([`echinomap_programme::health::probe`]), and, with the embedded cluster, what its keeper did
//! (`restarts`, `last_restart`, `last_error`: [`echinomap_programme::embedded_pg::Keeper`]).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let probe = echinomap_programme::health::probe(&state.pool);
    let (status, mut body) = match tokio::time::timeout(Duration::from_secs(3), probe).await {
        Ok(Ok(db)) => (
            StatusCode::OK,
            json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "database": { "status": "ok", "postgres": db.postgres, "postgis": db.postgis },
            }),
        ),
        outcome => {
            let reason = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer within 3 s".to_owned(),
            };
            tracing::warn!(error = %reason, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "status": "unavailable",
                    "version": env!("CARGO_PKG_VERSION"),
                    "database": { "status": "unavailable", "reason": reason },
                    "error": { "code": "database_unavailable", "message": "the database is not reachable", "details": null },
                }),
            )
        }
    };
    if let Some(keeper) = &state.keeper
        && let Some(database) = body["database"].as_object_mut()
    {
        let report = keeper.report();
        database.insert("restarts".into(), json!(report.restarts));
        database.insert("last_restart".into(), json!(report.last_restart));
        database.insert("last_error".into(), json!(report.last_error));
    }
    (status, Json(body))
}
