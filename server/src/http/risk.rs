//! `GET /api/villages/{code}/risk` and `GET /api/risk?township=`: the composite village risk of
//! [`echinomap_programme::risk`], with every component's raw value, weight and contribution.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::indicators::resolve_unit;
use super::session::Caller;
use crate::error::{AppError, AppResult};

pub async fn village(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let code = super::villages::code_in_scope(&caller, &code)?;
    let mut rows = state
        .village_risk(code.as_str(), None, caller.suppress_small_counts())
        .await?;
    match rows.pop() {
        Some(v) if v["code"] == code.as_str() => Ok(Json(v)),
        _ => Err(super::villages::not_found(&code)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A township (or the county) inside the jurisdiction; default the jurisdiction.
    township: Option<String>,
    /// `score` (default), `code`, `name` or a component key.
    sort: Option<String>,
    /// `desc` (default for score and components) or `asc`.
    order: Option<String>,
    /// Only villages of this tier.
    tier: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Json<Value>> {
    let unit = resolve_unit(&state, &caller, "township", p.township.as_deref()).await?;
    let sort = p.sort.as_deref().unwrap_or("score");
    let by_component = echinomap_programme::risk::COMPONENTS.contains(&sort);
    if !by_component && !["score", "code", "name"].contains(&sort) {
        return Err(AppError::invalid_param(
            "sort",
            format!(
                "sort by score, code, name or a component ({}), not {sort:?}",
                echinomap_programme::risk::COMPONENTS.join(", ")
            ),
        ));
    }
    let descending = match p.order.as_deref() {
        None => !matches!(sort, "code" | "name"),
        Some("desc") => true,
        Some("asc") => false,
        Some(o) => {
            return Err(AppError::invalid_param(
                "order",
                format!("order must be asc or desc, not {o:?}"),
            ));
        }
    };
    if let Some(t) = p.tier.as_deref()
        && !["high", "medium", "low"].contains(&t)
    {
        return Err(AppError::invalid_param(
            "tier",
            format!("tier must be high, medium or low, not {t:?}"),
        ));
    }
    let opts = state.programme.options();
    let mut rows = state
        .village_risk(&unit.code, None, caller.suppress_small_counts())
        .await?;
    if let Some(t) = p.tier.as_deref() {
        rows.retain(|r| r["tier"] == t);
    }
    let key = |r: &Value| -> f64 {
        if by_component {
            r["components"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["component"] == sort))
                .and_then(|c| c["contribution"].as_f64())
                .unwrap_or(0.0)
        } else {
            r["score"].as_f64().unwrap_or(0.0)
        }
    };
    match sort {
        "code" | "name" => rows.sort_by(|a, b| {
            a[sort]
                .as_str()
                .unwrap_or("")
                .cmp(b[sort].as_str().unwrap_or(""))
        }),
        _ => rows.sort_by(|a, b| {
            key(a)
                .total_cmp(&key(b))
                .then_with(|| b["code"].as_str().cmp(&a["code"].as_str()))
        }),
    }
    if descending {
        rows.reverse();
    }
    let tiers =
        ["high", "medium", "low"].map(|t| (t, rows.iter().filter(|r| r["tier"] == t).count()));
    Ok(Json(json!({
        "unit": unit.json(),
        "as_of": opts.as_of,
        "sort": sort,
        "order": if descending { "desc" } else { "asc" },
        "total": rows.len(),
        "tiers": { "high": tiers[0].1, "medium": tiers[1].1, "low": tiers[2].1 },
        "config": state.programme.risk,
        "items": rows,
    })))
}
