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

pub async fn summary(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
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
    let (counts, from, to): (
        Vec<i64>,
        Option<chrono::NaiveDate>,
        Option<chrono::NaiveDate>,
    ) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(caller.scope.prefix())
        .fetch_one(&state.pool)
        .await?;
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
