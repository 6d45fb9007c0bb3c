//! `GET /api/worklists/{kind}`: what is due, per village and township of the caller's
//! jurisdiction ([`echinomap_programme::worklists`] builds the lists).
//!
//! Rows (dogs, patients) are listed only to roles that may see those registers; the others get
//! the counts, and small counts of patients are withheld from readers under the small-count
//! rule, which the answer states (`small_counts`) for the pages that show the hidden range.
//! Every answer carries `counts` (total, by township, by village) under the same rule;
//! `followups?include=upcoming&days=N` adds the patients due within N days.

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
    /// `upcoming` (`followups` only): also the patients due within `days`.
    include: Option<String>,
    /// With `include=upcoming`: how many days ahead (1–366, default 30).
    days: Option<u32>,
}

const MAX_UPCOMING_DAYS: u32 = 366;

fn options(kind: Kind, p: &Params) -> AppResult<worklists::Options> {
    let upcoming = match p.include.as_deref() {
        None | Some("") => false,
        Some("upcoming") if kind == Kind::Followups => true,
        Some("upcoming") => {
            return Err(AppError::invalid_param(
                "include",
                "include=upcoming is for the followups work list",
            ));
        }
        Some(other) => {
            return Err(AppError::invalid_param(
                "include",
                format!("include must be upcoming, got {other:?}"),
            ));
        }
    };
    let days = match (upcoming, p.days) {
        (false, None) => return Ok(worklists::Options::default()),
        (false, Some(_)) => {
            return Err(AppError::invalid_param(
                "days",
                "days goes with include=upcoming",
            ));
        }
        (true, days) => days.unwrap_or(30),
    };
    if !(1..=MAX_UPCOMING_DAYS).contains(&days) {
        return Err(AppError::invalid_param(
            "days",
            format!("days must be between 1 and {MAX_UPCOMING_DAYS}"),
        ));
    }
    Ok(worklists::Options {
        upcoming_days: Some(days),
    })
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
    let options = options(kind, &p)?;
    let unit = resolve_unit(&state, &caller, "unit", p.unit.as_deref()).await?;
    let list = worklists::build(&state.pool, &state.programme, kind, &unit.code, options).await?;
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
    let followups = kind == Kind::Followups;
    // A count of lines, and for follow-ups how many of them are overdue and upcoming (both
    // withheld when either is small: the other would give it away as n minus it).
    let counted = |mut entry: Value, n: usize, upcoming: usize| -> Value {
        entry["n"] = count(n);
        if followups {
            let (overdue, upcoming) = (count(n - upcoming), count(upcoming));
            let hidden = overdue.is_null() || upcoming.is_null();
            entry["overdue"] = if hidden { Value::Null } else { overdue };
            entry["upcoming"] = if hidden { Value::Null } else { upcoming };
        }
        entry
    };
    let by_village: Vec<Value> = list
        .villages
        .iter()
        .map(|v| {
            counted(
                json!({ "code": v.code, "name": v.name, "township": v.township_code }),
                v.items.len(),
                v.upcoming,
            )
        })
        .collect();
    let by_township: Vec<Value> = list
        .townships
        .iter()
        .map(|t| {
            counted(
                json!({ "code": t.code, "name": t.name }),
                t.count,
                t.upcoming,
            )
        })
        .collect();
    let counts = {
        let mut c = counted(json!({}), list.total, list.upcoming);
        c["total"] = c["n"].take();
        if let Some(o) = c.as_object_mut() {
            o.remove("n");
        }
        c["by_township"] = json!(by_township);
        c["by_village"] = json!(by_village);
        c
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
        "counts": counts,
        "rows_shown": show_rows,
        "small_counts_suppressed": small_max.is_some(),
        "small_counts": state.programme.small_counts(caller.audience()),
        "townships": townships,
        "villages": villages,
    })))
}
