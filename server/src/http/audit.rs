//! `GET /api/audit`: the audit log for admins, newest first, with filters (who, what, when, which
//! record) and cursor paging ([`echinomap_programme::audit::list`]).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use crate::error::{AppError, AppResult};
use echinomap_programme::audit::{self, Filter};

const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Username (the account, or the name typed at a failed login), exactly.
    user: Option<String>,
    /// Part of the username or of the account's display name.
    q: Option<String>,
    /// The table of the record (`cases`, `users`, `quality_reviews`, …).
    table: Option<String>,
    /// The id of one record: with `table`, the history of that record.
    record_id: Option<String>,
    action: Option<String>,
    /// First day included (YYYY-MM-DD).
    from: Option<chrono::NaiveDate>,
    /// Last day included (YYYY-MM-DD).
    to: Option<chrono::NaiveDate>,
    limit: Option<i64>,
    /// The `next_cursor` of the previous page: rows older than it.
    cursor: Option<i64>,
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
    let filter = Filter {
        user: p.user,
        q: p.q,
        table: p.table,
        record_id: p
            .record_id
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        action: p.action,
        from: p.from,
        to: p.to,
        cursor: p.cursor,
        limit,
    };
    let (items, next_cursor) = audit::list(&state.pool, &filter).await?;
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })))
}
