//! `GET /api/scan` (Kulldorff clusters as GeoJSON circles) over the service's own data, scoped to
//! the caller, small counts of people withheld as in `super::hotspots`.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use echinomap_programme::auth::Perm;
use echinomap_programme::hotspots::{self, ScanUse, round6};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::hotspots::{request, small_max, suppress_props};
use super::session::Caller;
use crate::error::AppResult;

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
