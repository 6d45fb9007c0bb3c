//! `GET /api/audit`: the audit log for admins, newest first, with filters and cursor paging.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use crate::error::{AppError, AppResult};

const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Username (the account, or the name typed at a failed login).
    user: Option<String>,
    table: Option<String>,
    action: Option<String>,
    /// First day included (YYYY-MM-DD).
    from: Option<chrono::NaiveDate>,
    /// Last day included (YYYY-MM-DD).
    to: Option<chrono::NaiveDate>,
    limit: Option<i64>,
    /// The `next_cursor` of the previous page: rows older than it.
    cursor: Option<i64>,
}

#[derive(Debug, sqlx::FromRow, serde::Serialize)]
struct Row {
    id: i64,
    at: chrono::DateTime<chrono::Utc>,
    user_id: Option<i64>,
    username: Option<String>,
    action: String,
    table_name: Option<String>,
    row_id: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    detail: Option<Value>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid_param(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if let (Some(from), Some(to)) = (p.from, p.to)
        && from > to
    {
        return Err(AppError::invalid_param("from", "from must not be after to"));
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, user_id, username, action::text AS action, table_name, row_id, before, after, detail
         FROM audit_log
         WHERE ($1::text IS NULL OR username = $1)
           AND ($2::text IS NULL OR table_name = $2)
           AND ($3::text IS NULL OR action::text = $3)
           AND ($4::date IS NULL OR at >= $4::date)
           AND ($5::date IS NULL OR at < $5::date + 1)
           AND ($6::bigint IS NULL OR id < $6)
         ORDER BY id DESC
         LIMIT $7",
    )
    .bind(p.user)
    .bind(p.table)
    .bind(p.action)
    .bind(p.from)
    .bind(p.to)
    .bind(p.cursor)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let page: Vec<&Row> = rows.iter().take(limit as usize).collect();
    let next_cursor = if more {
        page.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(json!({ "items": page, "next_cursor": next_cursor })))
}
