//! `GET /api/scan` (Kulldorff clusters as GeoJSON circles) over the service's own data, scoped to
//! the caller, small counts of people withheld as in `super::hotspots`. Every cluster found says
//! whether it is significant (p ≤ `alpha`); by default only those are answered as features, and
//! the collection says how many were found, how many are hidden and why nothing is significant
//! (`diagnosis`). The parameters, the per-cluster properties and the `show` filter are shared
//! with `GET /api/scan/space-time` (`super::spacetime`) through the `pub(super)` helpers here.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use echinomap_domain::privacy::hidden_under;
use echinomap_programme::auth::Perm;
use echinomap_programme::hotspots::{self, ScanFacts, ScanSettings, ScanUse, round6};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::hotspots::{request, small_max, suppress_props};
use super::session::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanParams {
    layer: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    township: Option<String>,
    /// The largest window, percent of the total population, 1–50; default 50.
    max_population_percent: Option<String>,
    /// The largest window's radius, km, in (0, 500]; default: no limit.
    max_radius_km: Option<String>,
    /// Significance level, in (0, 0.5]; default 0.05.
    alpha: Option<String>,
    /// `significant` (default) or `all`.
    show: Option<String>,
}

/// Which clusters a scan answers as features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Show {
    /// Only clusters with p ≤ α (the default: what a reader should act on).
    Significant,
    /// Every cluster found, each marked `significant` true or false.
    All,
}

impl Show {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Significant => "significant",
            Self::All => "all",
        }
    }
}

/// The scan options of a request, validated: the windows, α and the `show` filter.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScanQuery {
    pub settings: ScanSettings,
    /// `max_population_percent` as asked (or 50).
    pub max_population_percent: f64,
    pub alpha: f64,
    pub show: Show,
}

/// A number parameter, or a 400 naming `field` and what it allows.
fn number(field: &str, value: Option<&str>, allowed: &str) -> AppResult<Option<f64>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.trim().parse::<f64>().map_err(|_| {
                AppError::invalid_param(field, format!("{v:?} is not a number: {allowed}"))
            })
        })
        .transpose()
}

/// Validates the scan options shared by `/api/scan` and `/api/scan/space-time`:
/// `max_population_percent` 1–50 (default 50), `max_radius_km` in (0, 500] (default none),
/// `alpha` in (0, 0.5] (default 0.05), `show` `significant` (default) or `all`. Each bad value
/// is a 400 `invalid_parameter` naming its field.
pub(super) fn scan_query(
    max_population_percent: Option<&str>,
    max_radius_km: Option<&str>,
    alpha: Option<&str>,
    show: Option<&str>,
) -> AppResult<ScanQuery> {
    const PERCENT: &str = "max_population_percent must be a number from 1 to 50";
    const RADIUS: &str = "max_radius_km must be a number of km above 0 and at most 500";
    const ALPHA: &str = "alpha must be above 0 and at most 0.5";
    let percent =
        number("max_population_percent", max_population_percent, PERCENT)?.unwrap_or(50.0);
    if !(1.0..=50.0).contains(&percent) {
        return Err(AppError::invalid_param(
            "max_population_percent",
            format!("{percent} is out of range: {PERCENT}"),
        ));
    }
    let radius = number("max_radius_km", max_radius_km, RADIUS)?;
    if let Some(r) = radius
        && !(r > 0.0 && r <= 500.0)
    {
        return Err(AppError::invalid_param(
            "max_radius_km",
            format!("{r} is out of range: {RADIUS}"),
        ));
    }
    let alpha = number("alpha", alpha, ALPHA)?.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha <= 0.5) {
        return Err(AppError::invalid_param(
            "alpha",
            format!("{alpha} is out of range: {ALPHA}"),
        ));
    }
    let show = match show.filter(|s| !s.is_empty()) {
        None | Some("significant") => Show::Significant,
        Some("all") => Show::All,
        Some(other) => {
            return Err(AppError::invalid_param(
                "show",
                format!("unknown show {other:?}: significant or all"),
            ));
        }
    };
    Ok(ScanQuery {
        settings: ScanSettings {
            max_population_fraction: percent / 100.0,
            max_radius_km: radius,
        },
        max_population_percent: percent,
        alpha,
        show,
    })
}

/// The places a scan ran on, by index: village codes, names and points.
pub(super) struct Places<'a> {
    pub codes: &'a [String],
    pub names: &'a [String],
    pub lon: &'a [f64],
    pub lat: &'a [f64],
}

/// One cluster of a scan, spatial or space-time, by index into its [`Places`].
pub(super) struct ClusterView<'a> {
    pub rank: usize,
    pub center: usize,
    pub radius_km: f64,
    /// Nearest first.
    pub members: &'a [usize],
    pub population: f64,
    pub observed: f64,
    pub expected: f64,
    /// Infinite when every case is inside: answered `null`.
    pub relative_risk: f64,
    pub llr: f64,
    pub p_value: Option<f64>,
}

/// A cluster as a GeoJSON feature (its circle, id = rank) with the properties of docs/API.md
/// "GET /api/scan", `significant` = p ≤ `alpha`, and the observed count, relative risk and LLR
/// withheld under `small_max`. Returns whether it is significant, for the `show` filter.
pub(super) fn cluster_feature(
    places: &Places<'_>,
    c: &ClusterView<'_>,
    alpha: f64,
    small_max: Option<i64>,
) -> (bool, Value) {
    let name = |i: usize| places.names.get(i).cloned().unwrap_or_default();
    let code = |i: usize| places.codes.get(i).cloned().unwrap_or_default();
    let significant = c.p_value.is_some_and(|p| p <= alpha);
    let members: Vec<Value> = c
        .members
        .iter()
        .map(|&i| json!({ "code": code(i), "name": name(i) }))
        .collect();
    let member_ids: Vec<String> = c.members.iter().map(|&i| code(i)).collect();
    let mut props = Map::new();
    props.insert("cluster_rank".into(), json!(c.rank));
    props.insert("center_id".into(), json!(code(c.center)));
    props.insert("center_name".into(), json!(name(c.center)));
    props.insert("radius_km".into(), json!(c.radius_km));
    props.insert("n_locations".into(), json!(c.members.len()));
    props.insert("member_ids".into(), json!(member_ids));
    props.insert("members".into(), Value::Array(members));
    props.insert("population".into(), json!(c.population));
    props.insert("observed".into(), json!(c.observed));
    props.insert("expected".into(), json!(c.expected));
    props.insert(
        "relative_risk".into(),
        if c.relative_risk.is_finite() {
            json!(c.relative_risk)
        } else {
            Value::Null
        },
    );
    props.insert("llr".into(), json!(c.llr));
    props.insert("p_value".into(), json!(c.p_value));
    props.insert("significant".into(), json!(significant));
    if small_max.is_some() {
        // The log-likelihood ratio with `expected` and the total `cases` solves for the
        // observed count: withheld with it.
        suppress_props(&mut props, "observed", &["relative_risk", "llr"], small_max);
    }
    let lon = places.lon.get(c.center).copied().unwrap_or_default();
    let lat = places.lat.get(c.center).copied().unwrap_or_default();
    let feature = json!({
        "type": "Feature",
        "id": c.rank,
        "geometry": circle(lon, lat, c.radius_km),
        "properties": props,
    });
    (significant, feature)
}

/// The features `show` lets through and the counts the collection reports:
/// (features, `significant`, `clusters_found`, `not_significant`). `not_significant` counts the
/// clusters with p > α, whether `show=all` answers them or the default hides them.
pub(super) fn filter_shown(
    features: Vec<(bool, Value)>,
    show: Show,
) -> (Vec<Value>, usize, usize, usize) {
    let found = features.len();
    let significant = features.iter().filter(|(s, _)| *s).count();
    let shown: Vec<Value> = features
        .into_iter()
        .filter(|(s, _)| *s || show == Show::All)
        .map(|(_, f)| f)
        .collect();
    (shown, significant, found, found - significant)
}

/// A circle of `radius_km` around (lon, lat) as a GeoJSON polygon (64 vertices, haversine).
pub(super) fn circle(lon: f64, lat: f64, radius_km: f64) -> Value {
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
    let q = scan_query(
        p.max_population_percent.as_deref(),
        p.max_radius_km.as_deref(),
        p.alpha.as_deref(),
        p.show.as_deref(),
    )?;
    // Only the roles that publish exports change what `scan_clusters` exports, and only with
    // the default window (50 % of the population, no radius limit): a viewer's scan of an odd
    // period or layer, or anyone's scan with a narrower window, is answered and forgotten.
    let default_window = q.max_population_percent == 50.0 && q.settings.max_radius_km.is_none();
    let using = if caller.can(Perm::Export) && default_window {
        ScanUse::Publish
    } else {
        ScanUse::Look
    };
    let run = hotspots::scan(&state.pool, &r, q.settings, using).await?;
    let small_max = small_max(&state, &caller, r.source);
    let codes: Vec<String> = run.locations.iter().map(|l| l.id.clone()).collect();
    let lon: Vec<f64> = run.locations.iter().map(|l| l.lon).collect();
    let lat: Vec<f64> = run.locations.iter().map(|l| l.lat).collect();
    let places = Places {
        codes: &codes,
        names: &run.names,
        lon: &lon,
        lat: &lat,
    };
    let features: Vec<(bool, Value)> = run
        .clusters
        .iter()
        .map(|c| {
            let view = ClusterView {
                rank: c.rank,
                center: c.center,
                radius_km: c.radius_km,
                members: &c.members,
                population: c.population,
                observed: c.observed,
                expected: c.expected,
                relative_risk: c.relative_risk,
                llr: c.llr,
                p_value: c.p_value,
            };
            cluster_feature(&places, &view, q.alpha, small_max)
        })
        .collect();
    let (features, significant, found, not_significant) = filter_shown(features, q.show);
    let cases = run.cases();
    let cases_shown = !hidden_under(small_max, cases);
    let p_values: Vec<Option<f64>> = run.clusters.iter().map(|c| c.p_value).collect();
    let diagnosis = hotspots::diagnose_scan(
        &ScanFacts {
            n_locations: run.locations.len(),
            cases,
            cases_shown,
            p_values: &p_values,
            max_population_percent: q.max_population_percent,
            scope: &r.scope,
        },
        q.alpha,
    );
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "layer": r.source.as_str(),
            "model": run.options.model.as_str(),
            "from": r.from,
            "to": r.to,
            "scope": r.scope,
            "replications": run.options.replications,
            "alpha": q.alpha,
            "max_population_percent": q.max_population_percent,
            "max_radius_km": q.settings.max_radius_km,
            "n_locations": run.locations.len(),
            "cases": if cases_shown { json!(cases) } else { Value::Null },
            "significant": significant,
            "clusters_found": found,
            "not_significant": not_significant,
            "show": q.show.as_str(),
            "diagnosis": diagnosis,
            "small_counts_suppressed": small_max.is_some(),
        },
    })))
}
