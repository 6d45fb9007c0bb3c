//! `GET /api/hotspots` (hotspot statistics as GeoJSON) over the service's own data, and the
//! parameters and small-count rule it shares with `GET /api/scan` (`super::scan`). The analyses are
//! [`echinomap_programme::hotspots`]; this module reads the parameters, scopes them to the
//! caller, and withholds the small counts of people (and the rates made from them) from readers
//! under the small-count rule ([`echinomap_programme::config::Programme::small_max`]).

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots::Variable;
use echinomap_programme::auth::Perm;
use echinomap_programme::hotspots::{self, HotspotSource, HotspotsError, Request, ScanUse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::session::Caller;
use crate::error::{AppError, AppResult};

impl From<HotspotsError> for AppError {
    fn from(e: HotspotsError) -> Self {
        match e {
            e @ HotspotsError::NotComputable(_) => AppError::Unprocessable {
                code: "not_computable",
                message: e.to_string(),
                details: Value::Null,
            },
            HotspotsError::Programme(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    layer: String,
    /// H3 resolution, 6–9; default 7.
    resolution: Option<u8>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// A township (or village) code inside the caller's jurisdiction.
    township: Option<String>,
    /// `count`, `rate` or `eb_rate` (default).
    variable: Option<String>,
    /// Neighbourhood ring, 1–3; default 1.
    ring: Option<u32>,
}

/// Validates the shared parameters: layer, period (default the last 365 days), scope.
pub(super) fn request(
    caller: &Caller,
    layer: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    township: Option<&str>,
) -> AppResult<Request> {
    let source = HotspotSource::parse("layer", layer)?;
    let today = chrono::Local::now().date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Duration::days(364));
    if from > to {
        return Err(AppError::invalid_param("from", "from must not be after to"));
    }
    let scope = match township.filter(|t| !t.is_empty()) {
        None => caller.scope.jurisdiction().clone(),
        Some(t) => {
            let code = PlaceCode::parse(t)
                .map_err(|e| AppError::invalid_param("township", e.to_string()))?;
            if !caller.scope.jurisdiction().contains(&code) {
                return Err(AppError::forbidden(format!(
                    "{code} lies outside your jurisdiction {}",
                    caller.scope.prefix()
                )));
            }
            code
        }
    };
    Ok(Request {
        source,
        from,
        to,
        scope,
    })
}

/// The largest count of the source hidden from the caller: counts of people only, under the
/// caller's audience; `None` when nothing is hidden.
pub(super) fn small_max(state: &AppState, caller: &Caller, source: HotspotSource) -> Option<i64> {
    if source.personal() {
        state.programme.small_max(caller.audience())
    } else {
        None
    }
}

/// Withholds a small count (1 to `small_max`) and the rates made from it, and says so in
/// `suppressed`.
pub(super) fn suppress_props(
    props: &mut serde_json::Map<String, Value>,
    count_key: &str,
    rate_keys: &[&str],
    small_max: Option<i64>,
) {
    let small = props
        .get(count_key)
        .and_then(Value::as_f64)
        .is_some_and(|c| echinomap_domain::privacy::hidden_under(small_max, c));
    props.insert("suppressed".into(), json!(small));
    if small {
        props.insert(count_key.into(), Value::Null);
        for k in rate_keys {
            props.insert((*k).into(), Value::Null);
        }
    }
}

pub async fn hotspots(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    let r = request(&caller, &p.layer, p.from, p.to, p.township.as_deref())?;
    let resolution = p.resolution.unwrap_or(7);
    if !(6..=9).contains(&resolution) {
        return Err(AppError::invalid_param(
            "resolution",
            "resolution must be 6–9",
        ));
    }
    let variable: Variable = p
        .variable
        .as_deref()
        .unwrap_or("eb_rate")
        .parse()
        .map_err(|e: String| AppError::invalid_param("variable", e))?;
    let ring = p.ring.unwrap_or(1);
    if !(1..=3).contains(&ring) {
        return Err(AppError::invalid_param("ring", "ring must be 1–3"));
    }
    // As with the scan: only a role that exports publishes the grid the export reads.
    let using = if caller.can(Perm::Export) {
        ScanUse::Publish
    } else {
        ScanUse::Look
    };
    let grid = hotspots::grid(
        &state.pool,
        &state.watch,
        &r,
        resolution,
        ring,
        variable,
        using,
    )
    .await?;
    let small_max = small_max(&state, &caller, r.source);
    let features: Vec<Value> = grid
        .cells
        .into_iter()
        .map(|c| {
            let mut props = c.stats;
            if small_max.is_some() {
                suppress_props(
                    &mut props,
                    "count",
                    &["rate", "eb_rate", "spatial_eb_rate"],
                    small_max,
                );
            }
            json!({ "type": "Feature", "id": c.cell, "geometry": c.geometry, "properties": props })
        })
        .collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "layer": r.source.as_str(),
            "resolution": resolution,
            "from": r.from,
            "to": r.to,
            "variable": variable.as_str(),
            "ring": ring,
            "scope": r.scope,
            "computed_at": grid.computed_at,
            "summary": grid.summary,
            "small_counts_suppressed": small_max.is_some(),
        },
    })))
}
