//! `GET /api/hotspots` (H3 hotspot grid as GeoJSON) and `GET /api/scan` (Kulldorff clusters as
//! GeoJSON circles) over the service's own data. The statistics are
//! `echinomap_geodata::hotspots`; this module chooses the places and denominators of a layer,
//! scopes them to the caller, stores results keyed by the data versions they read, and
//! withholds counts of 1–4 (and the rates made from them) from roles without case access.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots::scan::{Location, Model, ScanOptions};
use echinomap_geodata::hotspots::{self, HotspotOptions, Place, Variable};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::auth::SMALL_COUNT_MAX;

/// A hotspot layer: what is counted, over which denominator, from which tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// Human cases reported in the period over the village population.
    HumanCases,
    /// Positive dog faecal tests over dogs tested in the period.
    DogPositivity,
    /// Animals with cysts over animals inspected, by the animals' origin village.
    LivestockInfection,
}

impl Layer {
    /// The analysed layer named in `field` (`layer=` here, `source=` for tiles).
    pub(crate) fn parse(field: &str, s: &str) -> AppResult<Self> {
        match s {
            "human_cases" => Ok(Self::HumanCases),
            "dog_positivity" => Ok(Self::DogPositivity),
            "livestock_infection" => Ok(Self::LivestockInfection),
            other => Err(AppError::invalid_param(
                field,
                format!(
                    "unknown layer {other:?}: human_cases, dog_positivity or livestock_infection"
                ),
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::HumanCases => "human_cases",
            Self::DogPositivity => "dog_positivity",
            Self::LivestockInfection => "livestock_infection",
        }
    }

    /// The tables the layer reads, in name order (the order of the versions in stored keys).
    fn tables(self) -> &'static [&'static str] {
        match self {
            Self::HumanCases => &["cases", "village_denominators", "villages"],
            Self::DogPositivity => &["faecal_tests", "villages"],
            Self::LivestockInfection => &["slaughter_inspections", "villages"],
        }
    }

    /// Counts of people are personal; counts of animals are not suppressed.
    fn personal(self) -> bool {
        self == Self::HumanCases
    }

    /// One row per village of the scope: code, lon, lat, count, denominator.
    fn places_sql(self) -> &'static str {
        match self {
            Self::HumanCases => {
                "SELECT v.code::text, ST_X(v.geom), ST_Y(v.geom),
                        (SELECT count(*) FROM cases c WHERE c.village_id = v.id AND c.deleted_at IS NULL
                            AND c.reported_on BETWEEN $2 AND $3)::float8,
                        coalesce((SELECT population FROM village_denominators d WHERE d.village_id = v.id
                                  ORDER BY year DESC LIMIT 1), 0)::float8
                 FROM villages v WHERE v.code LIKE $1 || '%' ORDER BY v.code"
            }
            Self::DogPositivity => {
                "SELECT v.code::text, ST_X(v.geom), ST_Y(v.geom),
                        count(f.id) FILTER (WHERE f.result = 'positive')::float8,
                        count(f.id) FILTER (WHERE f.result <> 'inconclusive')::float8
                 FROM villages v
                 LEFT JOIN faecal_tests f ON f.village_id = v.id AND f.deleted_at IS NULL
                      AND f.sampled_on BETWEEN $2 AND $3
                 WHERE v.code LIKE $1 || '%' GROUP BY v.id ORDER BY v.code"
            }
            Self::LivestockInfection => {
                "SELECT v.code::text, ST_X(v.geom), ST_Y(v.geom),
                        coalesce(sum(s.infected), 0)::float8, coalesce(sum(s.slaughtered), 0)::float8
                 FROM villages v
                 LEFT JOIN slaughter_inspections s ON s.origin_village_id = v.id AND s.deleted_at IS NULL
                      AND s.inspected_on BETWEEN $2 AND $3
                 WHERE v.code LIKE $1 || '%' GROUP BY v.id ORDER BY v.code"
            }
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

struct Request {
    layer: Layer,
    from: NaiveDate,
    to: NaiveDate,
    scope: String,
}

/// Validates the shared parameters: layer, period (default the last 365 days), scope.
fn request(
    caller: &Caller,
    layer: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    township: Option<&str>,
) -> AppResult<Request> {
    let layer = Layer::parse("layer", layer)?;
    let today = chrono::Local::now().date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Duration::days(364));
    if from > to {
        return Err(AppError::invalid_param("from", "from must not be after to"));
    }
    let scope = match township.filter(|t| !t.is_empty()) {
        None => caller.scope.prefix().to_owned(),
        Some(t) => {
            let code = PlaceCode::parse(t)
                .map_err(|e| AppError::invalid_param("township", e.to_string()))?;
            if !caller.scope.jurisdiction().contains(&code) {
                return Err(AppError::forbidden(format!(
                    "{code} lies outside your jurisdiction {}",
                    caller.scope.prefix()
                )));
            }
            code.as_str().to_owned()
        }
    };
    Ok(Request {
        layer,
        from,
        to,
        scope,
    })
}

async fn places(state: &AppState, r: &Request) -> AppResult<Vec<(String, f64, f64, f64, f64)>> {
    let rows: Vec<(String, f64, f64, f64, f64)> = sqlx::query_as(r.layer.places_sql())
        .bind(&r.scope)
        .bind(r.from)
        .bind(r.to)
        .fetch_all(&state.pool)
        .await?;
    // A village without a denominator in the period carries no information.
    Ok(rows.into_iter().filter(|p| p.4 > 0.0).collect())
}

fn stat_error(e: hotspots::HotspotError) -> AppError {
    AppError::Unprocessable {
        code: "not_computable",
        message: format!("the statistics cannot be computed on these data: {e}"),
        details: Value::Null,
    }
}

fn outline_geojson(cell: u64) -> Value {
    echinomap_geodata::cells::outline(cell).map_or(Value::Null, |p| {
        let ring: Vec<[f64; 2]> = p
            .exterior()
            .coords()
            .map(|c| [round6(c.x), round6(c.y)])
            .collect();
        json!({ "type": "Polygon", "coordinates": [ring] })
    })
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Withholds a count of 1–4 and the rates made from it.
fn suppress_props(props: &mut serde_json::Map<String, Value>, count_key: &str, rate_keys: &[&str]) {
    let small = props
        .get(count_key)
        .and_then(Value::as_f64)
        .is_some_and(|c| c >= 1.0 && c <= SMALL_COUNT_MAX as f64);
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
    // The tables are listed in name order, as the stored keys have them.
    let versions = state.watch.versions(&state.pool, r.layer.tables()).await?;
    let key = format!(
        "{}|r{resolution}|{}..{}|{}|ring{ring}|{}|v{:?}",
        r.layer.as_str(),
        r.from,
        r.to,
        variable.as_str(),
        r.scope,
        versions
    );
    let stored: Option<(i64, Value, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT id, summary, computed_at FROM hotspot_results WHERE cache_key = $1")
            .bind(&key)
            .fetch_optional(&state.pool)
            .await?;
    let (id, summary, computed_at) = match stored {
        Some(s) => s,
        None => compute_and_store(&state, &r, resolution, ring, variable, &key).await?,
    };
    let cells: Vec<(i64, Value, Value)> =
        sqlx::query_as("SELECT cell, ST_AsGeoJSON(geom, 6)::json, stats FROM hotspot_cells WHERE result_id = $1 ORDER BY cell")
            .bind(id)
            .fetch_all(&state.pool)
            .await?;
    let suppress = r.layer.personal() && caller.suppress_small_counts();
    let features: Vec<Value> = cells
        .into_iter()
        .map(|(cell, geometry, stats)| {
            let mut props = stats.as_object().cloned().unwrap_or_default();
            if suppress {
                suppress_props(&mut props, "count", &["rate", "eb_rate", "spatial_eb_rate"]);
            }
            json!({ "type": "Feature", "id": cell, "geometry": geometry, "properties": props })
        })
        .collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "layer": r.layer.as_str(),
            "resolution": resolution,
            "from": r.from,
            "to": r.to,
            "variable": variable.as_str(),
            "ring": ring,
            "scope": r.scope,
            "computed_at": computed_at,
            "summary": summary,
            "small_counts_suppressed": suppress,
        },
    })))
}

async fn compute_and_store(
    state: &AppState,
    r: &Request,
    resolution: u8,
    ring: u32,
    variable: Variable,
    key: &str,
) -> AppResult<(i64, Value, chrono::DateTime<chrono::Utc>)> {
    let rows = places(state, r).await?;
    let places: Vec<Place> = rows
        .iter()
        .map(|(_, lon, lat, count, population)| Place {
            lon: *lon,
            lat: *lat,
            count: *count,
            population: *population,
        })
        .collect();
    let opts = HotspotOptions {
        variable,
        ..HotspotOptions::default()
    };
    let res = hotspots::resolution(resolution).map_err(stat_error)?;
    let result = tokio::task::spawn_blocking(move || hotspots::analyse(&places, res, ring, &opts))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(stat_error)?;
    let summary = serde_json::to_value(&result.summary).map_err(anyhow::Error::from)?;
    let mut tx = state.pool.begin().await?;
    let (id, computed_at): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "INSERT INTO hotspot_results (cache_key, layer, resolution, period_from, period_to, scope, params, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (cache_key) DO UPDATE SET computed_at = hotspot_results.computed_at
         RETURNING id, computed_at",
    )
    .bind(key)
    .bind(r.layer.as_str())
    .bind(i16::from(resolution))
    .bind(r.from)
    .bind(r.to)
    .bind(&r.scope)
    .bind(json!({ "variable": variable.as_str(), "ring": ring, "permutations": opts.permutations, "seed": opts.seed, "alpha": opts.alpha, "correction": "fdr" }))
    .bind(&summary)
    .fetch_one(&mut *tx)
    .await?;
    let mut cells = Vec::with_capacity(result.cells.len());
    let mut geoms = Vec::with_capacity(result.cells.len());
    let mut stats = Vec::with_capacity(result.cells.len());
    for c in &result.cells {
        let cell = u64::from(c.cell);
        cells.push(cell as i64);
        geoms.push(outline_geojson(cell).to_string());
        stats.push(json!({
            "h3_cell": hotspots::cell_hex(c.cell),
            "n_points": c.n_points,
            "population": c.population,
            "count": c.count,
            "rate": c.rate,
            "eb_rate": c.eb_rate,
            "spatial_eb_rate": c.spatial_eb_rate,
            "neighbors": c.neighbors,
            "gi_star_z": c.gi_star_z,
            "gi_star_p": c.gi_star_p,
            "gi_star_p_sim": c.gi_star_p_sim,
            "gi_star_bin": c.gi_star_bin,
            "lisa_i": c.lisa_i,
            "lisa_quadrant": c.lisa_quadrant.map(|q| q.as_str()),
            "lisa_p_sim": c.lisa_p_sim,
            "lisa_cluster": c.lisa_cluster.as_str(),
        }));
    }
    sqlx::query(
        "INSERT INTO hotspot_cells (result_id, cell, geom, stats)
         SELECT $1, c, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326), s
         FROM unnest($2::bigint[], $3::text[], $4::jsonb[]) AS u(c, g, s)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&cells)
    .bind(&geoms)
    .bind(&stats)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, summary, computed_at))
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

/// Keeps the clusters of one scan run for the `scan_clusters` export (the latest per scope).
async fn store_scan(
    state: &AppState,
    r: &Request,
    opts: &ScanOptions,
    locations: &[Location],
    clusters: &[hotspots::scan::Cluster],
) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO scan_results (layer, period_from, period_to, scope, model, params)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(r.layer.as_str())
    .bind(r.from)
    .bind(r.to)
    .bind(&r.scope)
    .bind(opts.model.as_str())
    .bind(json!({
        "max_population_fraction": opts.max_population_fraction,
        "replications": opts.replications,
        "seed": opts.seed,
        "max_clusters": opts.max_clusters,
        "locations": locations.len(),
    }))
    .fetch_one(&mut *tx)
    .await?;
    let rows: Vec<Value> = clusters
        .iter()
        .map(|c| {
            let centre = &locations[c.center];
            json!({
                "rank": c.rank,
                "lon": centre.lon,
                "lat": centre.lat,
                "code": centre.id,
                "radius_m": c.radius_km * 1000.0,
                "population": c.population,
                "observed": c.observed,
                "expected": c.expected,
                "relative_risk": c.relative_risk.is_finite().then_some(c.relative_risk),
                "llr": c.llr,
                "p_value": c.p_value,
                "members": c.members.iter().map(|i| locations[*i].id.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO scan_clusters (result_id, rank, centre, centre_code, radius_m, population,
                                    observed, expected, relative_risk, llr, p_value, member_codes)
         SELECT $1, x.rank, ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326), x.code, x.radius_m,
                x.population, x.observed, x.expected, x.relative_risk, x.llr, x.p_value, x.members
         FROM jsonb_to_recordset($2) AS x(rank int, lon float8, lat float8, code text, radius_m float8,
              population float8, observed float8, expected float8, relative_risk float8, llr float8,
              p_value float8, members text[])",
    )
    .bind(id)
    .bind(Value::Array(rows))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(scan.id = id, scan.layer = r.layer.as_str(), scan.scope = %r.scope, scan.clusters = clusters.len(), "scan stored");
    Ok(())
}

pub async fn scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ScanParams>,
) -> AppResult<Json<Value>> {
    let r = request(&caller, &p.layer, p.from, p.to, p.township.as_deref())?;
    let rows = places(&state, &r).await?;
    let locations: Vec<Location> = rows
        .iter()
        .map(|(code, lon, lat, count, population)| Location {
            id: code.clone(),
            lon: *lon,
            lat: *lat,
            count: *count,
            population: *population,
        })
        .collect();
    let model = if r.layer == Layer::HumanCases {
        Model::Poisson
    } else {
        Model::Bernoulli
    };
    let opts = ScanOptions {
        model,
        ..ScanOptions::default()
    };
    let locs = locations.clone();
    let clusters = tokio::task::spawn_blocking(move || hotspots::scan::scan(&locs, &opts))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(stat_error)?;
    store_scan(&state, &r, &opts, &locations, &clusters).await?;
    let suppress = r.layer.personal() && caller.suppress_small_counts();
    let features: Vec<Value> = clusters
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
            if suppress {
                suppress_props(&mut props, "observed", &["relative_risk"]);
            }
            json!({ "type": "Feature", "id": c.rank, "geometry": circle(centre.lon, centre.lat, c.radius_km), "properties": props })
        })
        .collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "properties": { "layer": r.layer.as_str(), "from": r.from, "to": r.to, "scope": r.scope, "model": model.as_str(), "replications": opts.replications },
    })))
}
