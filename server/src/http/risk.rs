//! `GET /api/villages/{code}/risk` and `GET /api/risk?township=`: the composite village risk of
//! [`echinomap_programme::risk`], with every component's raw value, weight and contribution.
//! Risk is a derived layer: it may lag the newest write by at most 5 s
//! ([`echinomap_programme::derived`]), and every answer says which data it shows
//! ([`data_version`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{AppendHeaders, IntoResponse};
use serde::Deserialize;
use serde_json::json;

use echinomap_domain::PlaceCode;
use echinomap_programme::risk::{AreaRisk, RiskTier, VillageRisk};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::indicators::resolve_unit;
use super::session::Caller;
use crate::error::{AppError, AppResult};

/// `X-Data-Version`: the data a derived answer shows, the sum of the data versions of the tables
/// it read (it grows with every write to any of them: a client waits for a larger number after
/// its write). `X-Data-Stale-Ms`: how long newer data has waited, when it has.
pub const DATA_VERSION: HeaderName = HeaderName::from_static("x-data-version");
pub const DATA_STALE_MS: HeaderName = HeaderName::from_static("x-data-stale-ms");

/// The headers of a derived answer computed from data at `version`, lagging by `stale_for`.
pub fn data_version(
    version: i64,
    stale_for: Option<std::time::Duration>,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut h = vec![(DATA_VERSION, HeaderValue::from(version))];
    if let Some(d) = stale_for {
        h.push((
            DATA_STALE_MS,
            HeaderValue::from(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        ));
    }
    h
}

/// The risk of the villages inside `area` as of today, as the caller may see it: small counts
/// hidden under the rule of the caller's audience.
async fn caller_risk(
    state: &AppState,
    caller: &Caller,
    area: &PlaceCode,
) -> Result<AreaRisk, sqlx::Error> {
    state
        .risk
        .as_of(
            &state.pool,
            &state.watch,
            &state.programme,
            area,
            None,
            state.programme.small_max(caller.audience()),
        )
        .await
}

pub async fn village(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> AppResult<impl IntoResponse> {
    let code = super::villages::code_in_scope(&caller, &code)?;
    let mut risk = caller_risk(&state, &caller, &PlaceCode::from(code.clone())).await?;
    match risk.villages.pop() {
        Some(v) if v.code == code => Ok((
            AppendHeaders(data_version(risk.version, risk.stale_for)),
            Json(json!(v)),
        )),
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
) -> AppResult<impl IntoResponse> {
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
    let tier = match p.tier.as_deref() {
        None => None,
        Some(t) => Some(RiskTier::parse(t).ok_or_else(|| {
            AppError::invalid_param(
                "tier",
                format!("tier must be high, medium or low, not {t:?}"),
            )
        })?),
    };
    let opts = state.programme.options();
    let risk = caller_risk(&state, &caller, &unit.code).await?;
    let headers = AppendHeaders(data_version(risk.version, risk.stale_for));
    let mut rows = risk.villages;
    if let Some(t) = tier {
        rows.retain(|r| r.tier == t);
    }
    let key = |r: &VillageRisk| -> f64 {
        if by_component {
            r.components
                .iter()
                .find(|c| c.component == sort)
                .map_or(0.0, |c| c.contribution)
        } else {
            r.score
        }
    };
    match sort {
        "code" => rows.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str())),
        "name" => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => rows.sort_by(|a, b| {
            key(a)
                .total_cmp(&key(b))
                .then_with(|| b.code.as_str().cmp(a.code.as_str()))
        }),
    }
    if descending {
        rows.reverse();
    }
    let count = |t: RiskTier| rows.iter().filter(|r| r.tier == t).count();
    Ok((
        headers,
        Json(json!({
            "unit": unit,
            "as_of": opts.as_of,
            "sort": sort,
            "order": if descending { "desc" } else { "asc" },
            "total": rows.len(),
            "tiers": {
                "high": count(RiskTier::High),
                "medium": count(RiskTier::Medium),
                "low": count(RiskTier::Low),
            },
            "config": state.programme.risk,
            "items": rows,
        })),
    ))
}
