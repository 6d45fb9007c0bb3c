//! `GET /api/summary`: the row count of every register inside the caller's jurisdiction, and
//! the date range of the data. Counts of people and cases are small-count suppressed under the
//! rule of the caller's audience, which the answer states (`small_counts`: the largest hidden
//! count and the range as pages show it).

use super::session::Caller;
use axum::Json;
use axum::extract::State;
use echinomap_programme::registers::REGISTERS;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::error::AppResult;

pub async fn summary(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let cached = state
        .summaries
        .counts(&state.pool, &state.watch, caller.scope.jurisdiction())
        .await?;
    let (counts, from, to) = (cached.0.clone(), cached.1, cached.2);
    let audience = caller.audience();
    let rule = state.programme.suppression;
    let mut suppressed = Vec::new();
    let registers: Map<String, Value> = REGISTERS
        .iter()
        .zip(counts)
        .map(|(r, n)| {
            let value = if r.personal {
                rule.apply(audience, n)
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
        "small_counts": state.programme.small_counts(audience),
    })))
}
