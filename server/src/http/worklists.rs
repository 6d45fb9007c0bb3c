//! `GET /api/worklists/{kind}`: what is due, per village and township of the caller's
//! jurisdiction ([`echinomap_programme::worklists`] builds the lists).
//!
//! Rows (dogs, patients) are listed only to roles that may see those registers; the others get
//! the counts, and small counts of patients are withheld from readers under the small-count
//! rule, which the answer states (`small_counts`) for the pages that show the hidden range.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::indicators::resolve_unit;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_domain::privacy::hidden_under;
use echinomap_programme::worklists::{self, Kind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A township or village inside the jurisdiction; default the jurisdiction.
    unit: Option<String>,
}

pub async fn worklist(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(kind): ApiPath<String>,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    let Some(kind) = Kind::parse(&kind) else {
        return Err(AppError::not_found(
            "worklist_not_found",
            format!(
                "no work list {kind:?}; kinds: {}",
                Kind::ALL.map(Kind::as_str).join(", ")
            ),
        ));
    };
    let unit = resolve_unit(&state, &caller, "unit", p.unit.as_deref()).await?;
    let list = worklists::build(&state.pool, &state.programme, kind, &unit.code).await?;
    let show_rows = caller.can(list.row_perm);
    let small_max = if list.personal {
        state.programme.small_max(caller.audience())
    } else {
        None
    };
    let count = |n: usize| -> Value {
        if hidden_under(small_max, n as f64) {
            Value::Null
        } else {
            json!(n)
        }
    };
    let villages: Vec<Value> = list
        .villages
        .into_iter()
        .map(|v| {
            json!({
                "code": v.code,
                "name": v.name,
                "township_code": v.township_code,
                "count": count(v.items.len()),
                "items": if show_rows { json!(v.items) } else { Value::Null },
            })
        })
        .collect();
    let townships: Vec<Value> = list
        .townships
        .into_iter()
        .map(|t| {
            json!({
                "township_code": t.code,
                "name": t.name,
                "count": count(t.count),
            })
        })
        .collect();
    Ok(Json(json!({
        "kind": kind.as_str(),
        "unit": unit,
        "as_of": list.as_of,
        "rule": list.rule,
        "total": count(list.total),
        "rows_shown": show_rows,
        "small_counts_suppressed": small_max.is_some(),
        "small_counts": state.programme.small_counts(caller.audience()),
        "townships": townships,
        "villages": villages,
    })))
}
