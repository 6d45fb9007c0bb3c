//! `GET /api/summary`: the row count of every register inside the caller's jurisdiction, and
//! the date range of the data. Counts of people and cases are small-count suppressed for roles
//! without case access.

use super::session::Caller;
use axum::Json;
use axum::extract::State;
use echinomap_programme::auth::{SMALL_COUNT_MAX, suppress};
use echinomap_programme::registers::REGISTERS;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::error::AppResult;

pub async fn summary(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let cached = state
        .summaries
        .counts(&state.pool, &state.watch, caller.scope.prefix())
        .await?;
    let (counts, from, to) = (cached.0.clone(), cached.1, cached.2);
    let mut suppressed = Vec::new();
    let registers: Map<String, Value> = REGISTERS
        .iter()
        .zip(counts)
        .map(|(r, n)| {
            let value = if r.personal && caller.suppress_small_counts() {
                suppress(n, SMALL_COUNT_MAX)
            } else {
                Some(n)
            };
            if value.is_none() {
                suppressed.push(r.table);
            }
            (r.table.to_owned(), json!(value))
        })
        .collect();
    Ok(Json(json!({
        "jurisdiction": caller.scope.prefix(),
        "registers": registers,
        "suppressed": suppressed,
        "date_range": { "from": from, "to": to },
    })))
}
