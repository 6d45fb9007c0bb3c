//! `GET /api/villages` and `GET /api/villages/{code}`: the gazetteer of village-level units,
//! read by [`echinomap_programme::villages`].

use axum::Json;
use axum::extract::State;
use echinomap_domain::{TownshipCode, VillageCode};
use echinomap_programme::villages;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::session::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A township code (9 digits) or its exact name.
    township: Option<String>,
    /// Part of the village name, the start of its code, or its pinyin (initials or syllables).
    q: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Value>> {
    let (township_code, township_name) = match params.township.as_deref().map(str::trim) {
        None | Some("") => (None, None),
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) => {
            let code = TownshipCode::parse(t)
                .map_err(|e| AppError::invalid_param("township", e.to_string()))?;
            (Some(code.as_str().to_owned()), None)
        }
        Some(t) => (None, Some(t.to_owned())),
    };
    let filter = villages::Filter {
        township_code: township_code.as_deref(),
        township_name: township_name.as_deref(),
        q: params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()),
    };
    let items = villages::list(&state.pool, caller.scope.jurisdiction(), &filter).await?;
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

/// 404 for a village code: unknown, or outside the caller's jurisdiction (answered alike, so
/// that existence is not disclosed).
pub fn not_found(code: &VillageCode) -> AppError {
    AppError::not_found("village_not_found", format!("no village with code {code}"))
}

/// A village code from a path: 400 when malformed, [`not_found`] outside the jurisdiction.
pub fn code_in_scope(caller: &Caller, raw: &str) -> AppResult<VillageCode> {
    let code =
        VillageCode::parse(raw).map_err(|e| AppError::invalid_param("code", e.to_string()))?;
    if !caller.scope.covers(code.as_str()) {
        return Err(not_found(&code));
    }
    Ok(code)
}

pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let code = code_in_scope(&caller, &code)?;
    let village = villages::detail(&state.pool, &code)
        .await?
        .ok_or_else(|| not_found(&code))?;
    Ok(Json(village))
}

/// `GET /api/villages/{code}/contacts`: who answers for the village on the ground: the enabled
/// village-doctor accounts of the village, then the staff of its township. Names and roles
/// only: accounts carry no phone number, and no other account is listed.
pub async fn contacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let code = code_in_scope(&caller, &code)?;
    let items = villages::contacts(&state.pool, &code)
        .await?
        .ok_or_else(|| not_found(&code))?;
    Ok(Json(
        json!({ "village_code": code.as_str(), "items": items }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocateParams {
    lon: f64,
    lat: f64,
    /// `wgs84` (default) or `gcj02` (WeChat, AMap).
    crs: Option<String>,
    /// How many nearest villages to list (default 5, at most 50).
    n: Option<usize>,
}

/// `GET /api/villages/locate`: the village at a point, the way the linker links records.
pub async fn locate(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<LocateParams>,
) -> AppResult<Json<Value>> {
    use echinomap_geodata::gcj02::{Crs, LonLat};
    let crs: Crs = p.crs.as_deref().unwrap_or("wgs84").parse().map_err(
        |e: echinomap_geodata::gcj02::CoordinateError| {
            AppError::invalid_param("crs", e.to_string())
        },
    )?;
    let given =
        LonLat::new(p.lon, p.lat).map_err(|e| AppError::invalid_param("lon", e.to_string()))?;
    let wgs = crs.to_wgs84(given);
    let n = p.n.unwrap_or(5);
    if !(1..=50).contains(&n) {
        return Err(AppError::invalid_param("n", "n must be 1–50"));
    }
    let linker = state.linker.get(&state.pool, &state.watch).await?;
    let located = linker
        .locate(wgs.lon(), wgs.lat(), n)
        .map_err(|e| AppError::invalid_param("lon", e.to_string()))?;
    let in_scope = |code: &str| caller.scope.covers(code);
    let outside = located.village.as_ref().is_some_and(|v| !in_scope(&v.code));
    let village = located.village.as_ref().filter(|v| in_scope(&v.code));
    let nearest: Vec<_> = located
        .nearest
        .iter()
        .filter(|v| in_scope(&v.code))
        .collect();
    Ok(Json(json!({
        "village": village,
        "method": village.and(located.method.map(|m| m.as_str())),
        "inside": village.is_some() && located.inside,
        "distance_m": village.and(located.distance_m),
        "in_county": located.in_county,
        "outside_jurisdiction": outside,
        "nearest": nearest,
        "point": { "lon": wgs.lon(), "lat": wgs.lat(), "crs": "wgs84", "given": { "lon": p.lon, "lat": p.lat, "crs": crs.as_str() } },
    })))
}
