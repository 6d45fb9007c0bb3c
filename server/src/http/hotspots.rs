//! `GET /api/hotspots` (hotspot statistics as GeoJSON) over the service's own data, and the
//! parameters and small-count rule it shares with `GET /api/scan` (`super::scan`). The analyses are
//! [`echinomap_programme::hotspots`]; this module reads the parameters, scopes them to the
//! caller, and withholds the small counts of people (and the rates made from them) from readers
//! under the small-count rule ([`echinomap_programme::config::Programme::small_max`]).

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots::{
    self as hotspots_stats, Analysed, Correction, Diagnosis, EbPrior, GlobalMoran, HotspotOptions,
    LisaCluster, Quadrant, SignificantCounts, Summary, UnitKind, UnitStats, Variable, WeightsInfo,
    why,
};
use echinomap_programme::auth::Perm;
use echinomap_programme::hotspots::{
    self, HotspotSource, HotspotsError, Request, ScanUse, Unit, WeightsChoice,
};
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
    /// `village` (default), `township` or `h3`.
    unit: Option<String>,
    /// `knn` (village default), `distance`, `contiguity` (township default) or `ring` (h3).
    weights: Option<String>,
    /// Neighbours of `knn`, 1–30; default 5.
    k: Option<usize>,
    /// The band of `distance`, km > 0; default the smallest that leaves no unit alone.
    band_km: Option<f64>,
    /// H3 resolution, 6–9; default 7 (h3 only).
    resolution: Option<u8>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// A township (or village) code inside the caller's jurisdiction.
    township: Option<String>,
    /// `count`, `rate` or `eb_rate` (default).
    variable: Option<String>,
    /// Neighbourhood ring, 1–3; default 1 (h3 only).
    ring: Option<u32>,
    /// The significance level, 0 < α ≤ 0.5; default 0.05.
    alpha: Option<f64>,
    /// `fdr` (default), `bonferroni` or `none`.
    correction: Option<String>,
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

/// The widest distance band, km: wider than any county, and a bound on the neighbour lists a
/// request can make (the lists themselves are also capped:
/// [`echinomap_geodata::hotspots::weights::MAX_NEIGHBOUR_ENTRIES`]).
const MAX_BAND_KM: f64 = 500.0;

/// The weights of a village or township analysis from `weights`, `k` and `band_km`; `ring` and
/// `resolution` belong to `unit=h3`.
fn unit_weights(p: &Params, unit: Unit) -> AppResult<WeightsChoice> {
    for (field, given) in [
        ("resolution", p.resolution.is_some()),
        ("ring", p.ring.is_some()),
    ] {
        if given {
            return Err(AppError::invalid_param(
                field,
                format!("{field} applies to unit=h3 only"),
            ));
        }
    }
    let default = if unit == Unit::Township {
        "contiguity"
    } else {
        "knn"
    };
    let choice = match p.weights.as_deref().unwrap_or(default) {
        "knn" => {
            let k = p.k.unwrap_or(5);
            if !(1..=30).contains(&k) {
                return Err(AppError::invalid_param("k", "k must be 1–30"));
            }
            WeightsChoice::Knn { k }
        }
        "distance" => {
            if let Some(km) = p.band_km
                && (!km.is_finite() || km <= 0.0 || km > MAX_BAND_KM)
            {
                return Err(AppError::invalid_param(
                    "band_km",
                    format!(
                        "band_km must be a number of kilometres above 0 and at most {MAX_BAND_KM}"
                    ),
                ));
            }
            WeightsChoice::Distance { km: p.band_km }
        }
        "contiguity" if unit == Unit::Township => WeightsChoice::Contiguity,
        "contiguity" => {
            return Err(AppError::invalid_param(
                "weights",
                "contiguity needs polygons: use unit=township",
            ));
        }
        "ring" => {
            return Err(AppError::invalid_param(
                "weights",
                "ring weights are for H3 cells: use unit=h3, or knn or distance",
            ));
        }
        other => {
            return Err(AppError::invalid_param(
                "weights",
                format!("unknown weights {other:?}: knn, distance, contiguity or ring"),
            ));
        }
    };
    if p.k.is_some() && !matches!(choice, WeightsChoice::Knn { .. }) {
        return Err(AppError::invalid_param(
            "k",
            "k applies to weights=knn only",
        ));
    }
    if p.band_km.is_some() && !matches!(choice, WeightsChoice::Distance { .. }) {
        return Err(AppError::invalid_param(
            "band_km",
            "band_km applies to weights=distance only",
        ));
    }
    Ok(choice)
}

/// The significance level and the correction from `alpha` and `correction`.
fn test_level(p: &Params) -> AppResult<(f64, Correction)> {
    let alpha = p.alpha.unwrap_or(0.05);
    if alpha.is_nan() || alpha <= 0.0 || alpha > 0.5 {
        return Err(AppError::invalid_param(
            "alpha",
            "alpha must be in (0, 0.5]",
        ));
    }
    let correction = match p.correction.as_deref().unwrap_or("fdr") {
        "fdr" => Correction::Fdr,
        "bonferroni" => Correction::Bonferroni,
        "none" => Correction::None,
        other => {
            return Err(AppError::invalid_param(
                "correction",
                format!("unknown correction {other:?}: fdr, bonferroni or none"),
            ));
        }
    };
    Ok((alpha, correction))
}

/// The diagnosis as JSON, with the total count withheld when the total is hidden from the
/// reader: from its `too_few_cases` reason, and from the `longer_period` suggestion, whose
/// number of years is computed from it.
fn diagnosis_json(d: &Diagnosis, cases_hidden: bool) -> Value {
    let mut v = json!(d);
    if cases_hidden && let Some(suggestions) = v["suggestions"].as_array_mut() {
        for s in suggestions
            .iter_mut()
            .filter(|s| s["code"] == "longer_period")
        {
            s["params"]["years"] = Value::Null;
            s["message"] = json!("Use a longer period: a longer one would gather enough cases.");
        }
    }
    if cases_hidden && let Some(reasons) = v["reasons"].as_array_mut() {
        for r in reasons.iter_mut().filter(|r| r["code"] == "too_few_cases") {
            let units = r["params"]["units"].clone();
            r["params"]["cases"] = Value::Null;
            r["message"] = json!(format!(
                "Too few cases in {units} units (fewer than {} in all, or under {} per unit): \
                 too few to tell a cluster from chance.",
                why::MIN_CASES,
                why::MIN_MEAN_CASES
            ));
        }
    }
    v
}

/// The statistics of a unit from which, with its neighbours' shown values, its own value and so
/// its count could be solved: withheld for a unit whose count is withheld. The classes
/// (`gi_star_bin`, `lisa_cluster`, `lisa_quadrant`) stay.
const UNIT_STATISTICS: [&str; 5] = [
    "gi_star_z",
    "gi_star_p",
    "gi_star_p_sim",
    "lisa_i",
    "lisa_p_sim",
];

/// Withholds a unit's small count, its rates and its statistics ([`UNIT_STATISTICS`]); when
/// the total is hidden (`total_hidden`), also every unit's empirical-Bayes rates (made from the
/// mean rate, the total over the population) and statistics, whatever its own count.
fn suppress_unit(
    props: &mut serde_json::Map<String, Value>,
    small_max: Option<i64>,
    total_hidden: bool,
) {
    suppress_props(
        props,
        "count",
        &["rate", "eb_rate", "spatial_eb_rate"],
        small_max,
    );
    if props.get("suppressed") == Some(&Value::Bool(true)) || total_hidden {
        for k in UNIT_STATISTICS {
            props.insert(k.into(), Value::Null);
        }
    }
    if total_hidden {
        for k in ["eb_rate", "spatial_eb_rate"] {
            props.insert(k.into(), Value::Null);
        }
    }
}

/// The summary as JSON; when the total is hidden, without what is made from it: the
/// empirical-Bayes prior (its mean `m` is the total over the shown population) and global
/// Moran's I of the values (`expected`, −1/(n − 1), stays).
fn summary_json(mut v: Value, total_hidden: bool) -> Value {
    if total_hidden {
        v["eb_prior"]["m"] = Value::Null;
        v["eb_prior"]["a"] = Value::Null;
        for k in ["i", "variance", "z", "p_norm", "p_sim"] {
            v["moran"][k] = Value::Null;
        }
    }
    v
}

/// The statistics of one unit as feature properties (the names of the H3 grid's).
fn stats_props(s: &UnitStats) -> serde_json::Map<String, Value> {
    let v = json!({
        "population": s.population,
        "count": s.count,
        "rate": s.rate,
        "eb_rate": s.eb_rate,
        "spatial_eb_rate": s.spatial_eb_rate,
        "neighbors": s.neighbors,
        "gi_star_z": s.gi_star_z,
        "gi_star_p": s.gi_star_p,
        "gi_star_p_sim": s.gi_star_p_sim,
        "gi_star_bin": s.gi_star_bin,
        "lisa_i": s.lisa_i,
        "lisa_quadrant": s.lisa_quadrant.map(|q| q.as_str()),
        "lisa_p_sim": s.lisa_p_sim,
        "lisa_cluster": s.lisa_cluster.as_str(),
        "island": s.island(),
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The summary as the H3 grid stores it (`serde_json::to_value(Summary)`), read back for the
/// diagnosis: the Gi* bins are `significant.gi_star_bins` keyed "-3" … "3".
#[derive(Debug, Deserialize)]
struct StoredSummary {
    n: usize,
    testable: usize,
    #[serde(default)]
    islands: usize,
    eb_prior: StoredPrior,
    moran: StoredMoran,
    significant: StoredSignificant,
}

#[derive(Debug, Deserialize)]
struct StoredPrior {
    m: f64,
    a: f64,
}

#[derive(Debug, Deserialize)]
struct StoredMoran {
    i: Option<f64>,
    expected: Option<f64>,
    variance: Option<f64>,
    z: Option<f64>,
    p_norm: Option<f64>,
    p_sim: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct StoredSignificant {
    gi_star_bins: std::collections::BTreeMap<String, usize>,
    lisa_hh: usize,
    lisa_ll: usize,
    lisa_hl: usize,
    lisa_lh: usize,
    lisa_ns: usize,
}

/// A summary read back from its stored JSON (the H3 grid keeps it so), for the diagnosis; a
/// stored summary of another shape is an internal error, not a summary of zeros.
fn summary_from_json(v: &Value) -> AppResult<Summary> {
    let s = StoredSummary::deserialize(v).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "the stored H3 hotspot summary cannot be read: {e}"
        ))
    })?;
    let mut bins = [0usize; 7];
    for (i, b) in bins.iter_mut().enumerate() {
        *b = s
            .significant
            .gi_star_bins
            .get(&(i as i32 - 3).to_string())
            .copied()
            .unwrap_or(0);
    }
    Ok(Summary {
        n: s.n,
        testable: s.testable,
        islands: s.islands,
        eb_prior: EbPrior {
            m: s.eb_prior.m,
            a: s.eb_prior.a,
        },
        moran: GlobalMoran {
            i: s.moran.i,
            expected: s.moran.expected,
            variance: s.moran.variance,
            z: s.moran.z,
            p_norm: s.moran.p_norm,
            p_sim: s.moran.p_sim,
        },
        significant: SignificantCounts {
            gi_star_bins: bins,
            lisa_hh: s.significant.lisa_hh,
            lisa_ll: s.significant.lisa_ll,
            lisa_hl: s.significant.lisa_hl,
            lisa_lh: s.significant.lisa_lh,
            lisa_ns: s.significant.lisa_ns,
        },
    })
}

/// The length of the request's period in years (for the period the diagnosis suggests).
fn period_years(r: &Request) -> f64 {
    ((r.to - r.from).num_days() + 1) as f64 / 365.25
}

pub async fn hotspots(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    let r = request(&caller, &p.layer, p.from, p.to, p.township.as_deref())?;
    let unit = Unit::parse("unit", p.unit.as_deref().unwrap_or("village"))?;
    let variable: Variable = p
        .variable
        .as_deref()
        .unwrap_or("eb_rate")
        .parse()
        .map_err(|e: String| AppError::invalid_param("variable", e))?;
    let (alpha, correction) = test_level(&p)?;
    if unit == Unit::H3 {
        return h3_hotspots(&state, &caller, &p, r, variable, (alpha, correction)).await;
    }
    let weights = unit_weights(&p, unit)?;
    let opts = HotspotOptions {
        variable,
        alpha,
        correction,
        ..HotspotOptions::default()
    };
    let a = hotspots::units(
        &state.units,
        &state.pool,
        &state.watch,
        &r,
        unit,
        weights,
        opts,
    )
    .await?;
    let small_max = small_max(&state, &caller, r.source);
    let cases_hidden = echinomap_domain::privacy::hidden_under(small_max, a.cases);
    let mut islands = Vec::new();
    let features: Vec<Value> = a
        .units
        .iter()
        .map(|u| {
            let mut props = serde_json::Map::new();
            props.insert("code".into(), json!(u.code));
            props.insert("name".into(), json!(u.name));
            if let Some((code, name)) = &u.township {
                props.insert("township_code".into(), json!(code));
                props.insert("township_name".into(), json!(name));
            }
            props.extend(stats_props(&u.stats));
            if small_max.is_some() {
                suppress_unit(&mut props, small_max, cases_hidden);
            }
            if u.stats.island() {
                islands.push(json!({ "code": u.code, "name": u.name }));
            }
            json!({ "type": "Feature", "id": u.code, "geometry": u.geometry, "properties": props })
        })
        .collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "layer": r.source.as_str(),
            "unit": unit.as_str(),
            "from": r.from,
            "to": r.to,
            "scope": r.scope,
            "variable": variable.as_str(),
            "weights": a.weights,
            "n": a.summary.n,
            "testable": a.summary.testable,
            "islands": islands,
            "n_left_out": a.n_left_out,
            "alpha": alpha,
            "correction": correction.as_str(),
            "cases": if cases_hidden { Value::Null } else { json!(a.cases) },
            "summary": summary_json(json!(a.summary), cases_hidden),
            "diagnosis": diagnosis_json(&a.diagnosis, cases_hidden),
            "computed_at": a.computed_at,
            "small_counts_suppressed": small_max.is_some(),
        },
    })))
}

/// `unit=h3`: the stored H3 grid (read by the hotspots export and the risk model), computed at
/// α = 0.05 with FDR; at another level or correction the Gi* bins and LISA clusters are
/// classified again from the stored z, quadrants and p-values ([`reclassify`]).
async fn h3_hotspots(
    state: &AppState,
    caller: &Caller,
    p: &Params,
    r: Request,
    variable: Variable,
    (alpha, correction): (f64, Correction),
) -> AppResult<Json<Value>> {
    for (field, given) in [("k", p.k.is_some()), ("band_km", p.band_km.is_some())] {
        if given {
            return Err(AppError::invalid_param(
                field,
                format!("{field} does not apply to unit=h3 (its weights are rings)"),
            ));
        }
    }
    if let Some(w) = p.weights.as_deref().filter(|w| *w != "ring") {
        return Err(AppError::invalid_param(
            "weights",
            format!("unit=h3 takes ring weights, not {w:?}: use unit=village or township"),
        ));
    }
    let resolution = p.resolution.unwrap_or(7);
    if !(6..=9).contains(&resolution) {
        return Err(AppError::invalid_param(
            "resolution",
            "resolution must be 6–9",
        ));
    }
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
    let small_max = small_max(state, caller, r.source);
    let cases: f64 = grid
        .cells
        .iter()
        .filter_map(|c| c.stats.get("count").and_then(Value::as_f64))
        .sum();
    let cases_hidden = echinomap_domain::privacy::hidden_under(small_max, cases);
    let counts: Vec<usize> = grid
        .cells
        .iter()
        .map(|c| {
            c.stats
                .get("neighbors")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize
        })
        .collect();
    let weights = WeightsInfo {
        kind: "ring",
        k: None,
        band_km: None,
        ring: Some(ring),
        min_neighbors: counts.iter().copied().min().unwrap_or(0),
        max_neighbors: counts.iter().copied().max().unwrap_or(0),
        mean_neighbors: if counts.is_empty() {
            0.0
        } else {
            counts.iter().sum::<usize>() as f64 / counts.len() as f64
        },
    };
    let mut grid = grid;
    let mut stored_summary = grid.summary.clone();
    if (alpha, correction) != (0.05, Correction::Fdr) {
        reclassify(&mut grid.cells, &mut stored_summary, alpha, correction);
    }
    let summary = summary_from_json(&stored_summary)?;
    let gi_star_p: Vec<Option<f64>> = grid
        .cells
        .iter()
        .map(|c| c.stats.get("gi_star_p").and_then(Value::as_f64))
        .collect();
    let lisa: Vec<LisaCluster> = grid
        .cells
        .iter()
        .map(
            |c| match c.stats.get("lisa_cluster").and_then(Value::as_str) {
                Some("HH") => LisaCluster::HH,
                Some("LL") => LisaCluster::LL,
                Some("HL") => LisaCluster::HL,
                Some("LH") => LisaCluster::LH,
                _ => LisaCluster::NotSignificant,
            },
        )
        .collect();
    let diagnosis = hotspots_stats::diagnose(
        &Analysed {
            summary: &summary,
            gi_star_p: &gi_star_p,
            lisa: &lisa,
            cases,
            weights: &weights,
            unit: UnitKind::H3,
            period_years: period_years(&r),
            below_county: !matches!(r.scope, PlaceCode::County(_)),
        },
        alpha,
        correction,
    );
    let mut islands = Vec::new();
    let features: Vec<Value> = grid
        .cells
        .into_iter()
        .map(|c| {
            let mut props = c.stats;
            let island = props.get("neighbors").and_then(Value::as_u64) == Some(0);
            props.insert("island".into(), json!(island));
            if island {
                islands.push(json!({ "h3_cell": props.get("h3_cell") }));
            }
            if small_max.is_some() {
                suppress_unit(&mut props, small_max, cases_hidden);
            }
            json!({ "type": "Feature", "id": c.cell, "geometry": c.geometry, "properties": props })
        })
        .collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "layer": r.source.as_str(),
            "unit": "h3",
            "resolution": resolution,
            "from": r.from,
            "to": r.to,
            "variable": variable.as_str(),
            "ring": ring,
            "scope": r.scope,
            "weights": weights,
            "n": summary.n,
            "testable": summary.testable,
            "islands": islands,
            "alpha": alpha,
            "correction": correction.as_str(),
            "cases": if cases_hidden { Value::Null } else { json!(cases) },
            "computed_at": grid.computed_at,
            "summary": summary_json(stored_summary, cases_hidden),
            "diagnosis": diagnosis_json(&diagnosis, cases_hidden),
            "small_counts_suppressed": small_max.is_some(),
        },
    })))
}

/// The Gi* bins and LISA clusters of stored H3 cells at `alpha` under `correction`, from their
/// stored `gi_star_z`, `gi_star_p`, `lisa_quadrant` and `lisa_p_sim` (the same functions as the
/// analysis), and the summary's significant counts to match.
fn reclassify(
    cells: &mut [hotspots::GridCell],
    summary: &mut Value,
    alpha: f64,
    correction: Correction,
) {
    let f = |c: &hotspots::GridCell, k: &str| c.stats.get(k).and_then(Value::as_f64);
    let z: Vec<Option<f64>> = cells.iter().map(|c| f(c, "gi_star_z")).collect();
    let p: Vec<Option<f64>> = cells.iter().map(|c| f(c, "gi_star_p")).collect();
    let lisa_p: Vec<Option<f64>> = cells.iter().map(|c| f(c, "lisa_p_sim")).collect();
    let quadrants: Vec<Option<Quadrant>> = cells
        .iter()
        .map(
            |c| match c.stats.get("lisa_quadrant").and_then(Value::as_str) {
                Some("HH") => Some(Quadrant::HH),
                Some("LH") => Some(Quadrant::LH),
                Some("LL") => Some(Quadrant::LL),
                Some("HL") => Some(Quadrant::HL),
                _ => None,
            },
        )
        .collect();
    let bins = hotspots_stats::gi_star_bins(&z, &p, correction);
    let clusters = hotspots_stats::lisa_clusters(&quadrants, &lisa_p, alpha, correction);
    let mut counts = SignificantCounts::default();
    for ((c, b), l) in cells.iter_mut().zip(&bins).zip(&clusters) {
        c.stats.insert("gi_star_bin".into(), json!(b));
        c.stats.insert("lisa_cluster".into(), json!(l.as_str()));
        counts.gi_star_bins[(*b + 3) as usize] += 1;
        match l {
            LisaCluster::HH => counts.lisa_hh += 1,
            LisaCluster::LL => counts.lisa_ll += 1,
            LisaCluster::HL => counts.lisa_hl += 1,
            LisaCluster::LH => counts.lisa_lh += 1,
            LisaCluster::NotSignificant => counts.lisa_ns += 1,
        }
    }
    if let Some(m) = summary.as_object_mut() {
        m.insert("significant".into(), json!(counts));
    }
}
