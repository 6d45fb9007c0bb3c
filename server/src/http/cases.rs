//! The patient register, read side: `GET /api/cases` (a line list with identifiers masked) and
//! `GET /api/cases/{id}` (one patient in full, every read audited), answered by
//! [`echinomap_programme::records::cases`]. Only roles with case access reach these routes, and
//! only for cases inside their jurisdiction.

use axum::Json;
use axum::extract::State;
use echinomap_domain::PlaceCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::records::cases::{self, AsOf, Filter};

const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A township or village code inside the caller's jurisdiction.
    unit: Option<String>,
    /// Only cases whose next follow-up is overdue (the one schedule, docs/INDICATORS.md).
    overdue: Option<bool>,
    /// Only the cases of one person (a patient's other reports).
    person_id: Option<i64>,
    /// A prefix of the patient's name or of the NNDRS report id.
    q: Option<String>,
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Value>> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid_param(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let unit = match params.unit.as_deref() {
        None | Some("") => None,
        Some(u) => {
            Some(PlaceCode::parse(u).map_err(|e| AppError::invalid_param("unit", e.to_string()))?)
        }
    };
    let filter = Filter {
        unit,
        overdue: params.overdue.unwrap_or(false),
        person: params.person_id,
        q: params.q,
        cursor: params.cursor,
        limit,
    };
    let page = cases::list(&state.pool, &caller.scope, &filter, as_of(&state)).await?;
    // The line list names patients: audited with the cases it showed.
    let who = caller.who();
    if !page.items.is_empty() {
        echinomap_programme::records::one::audit_list(&state.pool, &who, "cases", &page.items)
            .await?;
    }
    Ok(Json(
        json!({ "items": page.items, "next_cursor": page.next_cursor, "total": page.total }),
    ))
}

pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    let who = caller.who();
    Ok(Json(
        cases::detail(&state.pool, &who, id, as_of(&state)).await?,
    ))
}

/// The programme's today and follow-up grace: the work lists read the schedule as of the same.
fn as_of(state: &AppState) -> AsOf {
    AsOf {
        today: state.programme.today(),
        grace_days: i32::try_from(state.programme.followup_grace_days).unwrap_or(i32::MAX),
    }
}
