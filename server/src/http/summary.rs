//! `GET /api/summary`: the row count of every register and the date range of the data.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::error::AppResult;
use crate::registers::REGISTERS;

pub async fn summary(State(state): State<AppState>) -> AppResult<Json<Value>> {
    // One statement: the counts are taken from a single snapshot.
    let counts_sql = REGISTERS
        .iter()
        .map(|r| {
            let live = if r.soft_delete {
                " WHERE deleted_at IS NULL"
            } else {
                ""
            };
            format!("(SELECT count(*) FROM {}{live})", r.table)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let dated: Vec<_> = REGISTERS
        .iter()
        .filter_map(|r| r.date_column.map(|c| (r.table, c)))
        .collect();
    let range_sql = dated
        .iter()
        .map(|(t, c)| {
            format!("SELECT min({c}) AS lo, max({c}) AS hi FROM {t} WHERE deleted_at IS NULL")
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let sql = format!(
        "SELECT ARRAY[{counts_sql}]::bigint[], (SELECT min(lo) FROM ({range_sql}) r), (SELECT max(hi) FROM ({range_sql}) r)"
    );
    let (counts, from, to): (Vec<i64>, Option<chrono::NaiveDate>, Option<chrono::NaiveDate>) =
        // Built only from the constant table list, never from input.
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(&state.pool).await?;
    let registers: Map<String, Value> = REGISTERS
        .iter()
        .zip(counts)
        .map(|(r, n)| (r.table.to_owned(), json!(n)))
        .collect();
    Ok(Json(json!({
        "registers": registers,
        "date_range": { "from": from, "to": to },
    })))
}
