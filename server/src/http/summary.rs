//! `GET /api/summary`: the row count of every register inside the caller's jurisdiction, and
//! the date range of the data. Counts of people and cases are small-count suppressed for roles
//! without case access.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::auth::{Caller, SMALL_COUNT_MAX, suppress};
use crate::error::AppResult;
use crate::registers::REGISTERS;

/// `WHERE` for one register: live rows inside the scope (`$1`).
fn filter(r: &crate::registers::Register) -> String {
    let mut conditions = Vec::new();
    if r.soft_delete {
        conditions.push("deleted_at IS NULL".to_owned());
    }
    if let Some(scope) = r.scope_sql() {
        conditions.push(scope.to_owned());
    }
    if conditions.is_empty() {
        // Keeps $1 referenced so that the statement always takes one parameter.
        conditions.push("$1::text IS NOT NULL".to_owned());
    }
    format!(" WHERE {}", conditions.join(" AND "))
}

/// The counts and date range of a scope (before suppression).
pub type Counts = (
    Vec<i64>,
    Option<chrono::NaiveDate>,
    Option<chrono::NaiveDate>,
);

/// The counts of every register under `prefix`, from the memo while no register changed: at
/// demo scale 100 counting 40 million rows takes seconds, and the dashboard asks on every load.
pub async fn counts(state: &AppState, prefix: &str) -> AppResult<std::sync::Arc<Counts>> {
    let tables: Vec<&str> = REGISTERS.iter().map(|r| r.table).collect();
    let versions = state.watch.versions(&state.pool, &tables).await?;
    let key = format!("{prefix}|{versions:?}");
    if let Some(hit) = state.summaries.get(&key) {
        return Ok(hit);
    }
    // One statement: the counts are taken from a single snapshot.
    let counts_sql = REGISTERS
        .iter()
        .map(|r| format!("(SELECT count(*) FROM {}{})", r.table, filter(r)))
        .collect::<Vec<_>>()
        .join(", ");
    let range_sql = REGISTERS
        .iter()
        .filter_map(|r| {
            r.date_column.map(|c| {
                format!(
                    "SELECT min({c}) AS lo, max({c}) AS hi FROM {}{}",
                    r.table,
                    filter(r)
                )
            })
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let sql = format!(
        "SELECT ARRAY[{counts_sql}]::bigint[], r.lo, r.hi FROM (SELECT min(lo) AS lo, max(hi) AS hi FROM ({range_sql}) x) r"
    );
    // Built only from the constant register list; the jurisdiction is bound.
    let counts: Counts = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(prefix)
        .fetch_one(&state.pool)
        .await?;
    Ok(state.summaries.put(key, counts))
}

pub async fn summary(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let cached = counts(&state, caller.scope.prefix()).await?;
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
