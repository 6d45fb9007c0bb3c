//! `GET /api/hotspots` (H3 hotspot grid as GeoJSON) and `GET /api/scan` (Kulldorff clusters as
//! GeoJSON circles) over the service's own data. The analyses are
//! [`echinomap_programme::hotspots`]; this module reads the parameters, scopes them to the
//! caller, and withholds the small counts of people (and the rates made from them) from readers
//! under the small-count rule ([`echinomap_programme::config::Programme::small_max`]).

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots::Variable;
use echinomap_programme::auth::Perm;
use echinomap_programme::hotspots::{self, HotspotSource, HotspotsError, Request, ScanUse, round6};
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
fn request(
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
fn small_max(state: &AppState, caller: &Caller, source: HotspotSource) -> Option<i64> {
    if source.personal() {
        state.programme.small_max(caller.audience())
    } else {
        None
    }
}

/// Withholds a small count (1 to `small_max`) and the rates made from it, and says so in
/// `suppressed`.
fn suppress_props(
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanParams {
    layer: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    township: Option<String>,
}

/// A circle of `radius_km` around (lon, lat) as a GeoJSON polygon (64 vertices, haversine).
fn circle(lon: f64, lat: f64, radius_km: f64) -> Value {
    let r = (radius_km.max(0.2)) / 6371.0088;
    let (phi1, lam1) = (lat.to_radians(), lon.to_radians());
    let ring: Vec<[f64; 2]> = (0..=64)
        .map(|i| {
            let theta = f64::from(i % 64) / 64.0 * std::f64::consts::TAU;
            let phi2 = (phi1.sin() * r.cos() + phi1.cos() * r.sin() * theta.cos()).asin();
            let lam2 = lam1
                + (theta.sin() * r.sin() * phi1.cos()).atan2(r.cos() - phi1.sin() * phi2.sin());
            [round6(lam2.to_degrees()), round6(phi2.to_degrees())]
        })
        .collect();
    json!({ "type": "Polygon", "coordinates": [ring] })
}

pub async fn scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ScanParams>,
) -> AppResult<Json<Value>> {
    let r = request(&caller, &p.layer, p.from, p.to, p.township.as_deref())?;
    // Only the roles that publish exports change what `scan_clusters` exports: a viewer's
    // scan of an odd period or layer is answered and forgotten.
    let using = if caller.can(Perm::Export) {
        ScanUse::Publish
    } else {
        ScanUse::Look
    };
    let run = hotspots::scan(&state.pool, &r, using).await?;
    let small_max = small_max(&state, &caller, r.source);
    let locations = &run.locations;
    let features: Vec<Value> = run
        .clusters
        .iter()
        .map(|c| {
            let centre = &locations[c.center];
            let members: Vec<&str> = c.members.iter().map(|i| locations[*i].id.as_str()).collect();
            let mut props = json!({
                "cluster_rank": c.rank,
                "center_id": centre.id,
                "radius_km": c.radius_km,
                "n_locations": c.members.len(),
                "member_ids": members,
                "population": c.population,
                "observed": c.observed,
                "expected": c.expected,
                "relative_risk": if c.relative_risk.is_finite() { json!(c.relative_risk) } else { Value::Null },
                "llr": c.llr,
                "p_value": c.p_value,
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            if small_max.is_some() {
                suppress_props(&mut props, "observed", &["relative_risk"], small_max);
            }
            json!({ "type": "Feature", "id": c.rank, "geometry": circle(centre.lon, centre.lat, c.radius_km), "properties": props })
        })
        .collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "properties": { "layer": r.source.as_str(), "from": r.from, "to": r.to, "scope": r.scope, "model": run.options.model.as_str(), "replications": run.options.replications },
    })))
}
