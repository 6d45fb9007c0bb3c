//! `GET /api/scan/space-time`: Kulldorff's retrospective space-time scan over the service's own
//! data, as the circles of `GET /api/scan` (`super::scan`: same parameters, per-cluster
//! properties, `show` filter, diagnosis and small-count rule) plus each cluster's months. The
//! statistic is `echinomap_geodata::hotspots::spacetime`, the data
//! [`echinomap_programme::hotspots::space_time`]; answered only, never stored.

use axum::Json;
use axum::extract::State;
use chrono::{Datelike, Months, NaiveDate};
use echinomap_domain::privacy::hidden_under;
use echinomap_geodata::hotspots::spacetime::{StModel, StOptions};
use echinomap_programme::hotspots::{self, ScanFacts};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::hotspots::{request, small_max};
use super::scan::{ClusterView, Places, cluster_feature, filter_shown, scan_query};
use super::session::Caller;
use crate::error::{AppError, AppResult};

/// The longest period scanned, months: the work grows with the square of the months.
const MAX_MONTHS: usize = 120;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceTimeParams {
    layer: String,
    /// First day; default: the first day of the 24th whole month before this one.
    from: Option<NaiveDate>,
    /// Last day; default: the last day of last month.
    to: Option<NaiveDate>,
    township: Option<String>,
    /// `poisson` (human_cases, default), `bernoulli` (animal layers, default) or
    /// `space_time_permutation` (any layer).
    model: Option<String>,
    /// The largest base, percent of the total (population, trials or cases), 1–50; default 50.
    max_population_percent: Option<String>,
    /// The largest base's radius, km, in (0, 500]; default: no limit.
    max_radius_km: Option<String>,
    /// The longest interval, percent of the months, 1–90; default 50.
    max_time_percent: Option<String>,
    /// Significance level, in (0, 0.5]; default 0.05.
    alpha: Option<String>,
    /// `significant` (default) or `all`.
    show: Option<String>,
}

/// The period asked, or the last 24 whole months: (from, to).
fn period(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let this_month = today.with_day(1).unwrap_or(today);
    let to = to.unwrap_or_else(|| this_month.pred_opt().unwrap_or(today));
    let from = from.unwrap_or_else(|| {
        to.with_day(1)
            .and_then(|m| m.checked_sub_months(Months::new(23)))
            .unwrap_or(to)
    });
    (from, to)
}

/// The number of months from `from`'s to `to`'s, both included.
fn months_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (i64::from(to.year()) * 12 + i64::from(to.month0()))
        - (i64::from(from.year()) * 12 + i64::from(from.month0()))
        + 1
}

/// `max_time_percent`: 1–90, default 50; a 400 naming the field otherwise.
fn time_percent(value: Option<&str>) -> AppResult<f64> {
    const RANGE: &str = "max_time_percent must be a number from 1 to 90";
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(50.0);
    };
    let x: f64 = v.trim().parse().map_err(|_| {
        AppError::invalid_param(
            "max_time_percent",
            format!("{v:?} is not a number: {RANGE}"),
        )
    })?;
    if !(1.0..=90.0).contains(&x) {
        return Err(AppError::invalid_param(
            "max_time_percent",
            format!("{x} is out of range: {RANGE}"),
        ));
    }
    Ok(x)
}

pub async fn space_time(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<SpaceTimeParams>,
) -> AppResult<Json<Value>> {
    let (from, to) = period(p.from, p.to, chrono::Local::now().date_naive());
    let r = request(
        &caller,
        &p.layer,
        Some(from),
        Some(to),
        p.township.as_deref(),
    )?;
    let months = months_between(r.from, r.to);
    if months > MAX_MONTHS as i64 {
        return Err(AppError::invalid_param(
            "from",
            format!("the period spans {months} months; at most {MAX_MONTHS} are scanned"),
        ));
    }
    let model = match p.model.as_deref().filter(|m| !m.is_empty()) {
        None => hotspots::default_model(r.source),
        Some(m) => StModel::parse(m).ok_or_else(|| {
            AppError::invalid_param(
                "model",
                format!("unknown model {m:?}: poisson, bernoulli or space_time_permutation"),
            )
        })?,
    };
    if !hotspots::model_fits(r.source, model) {
        return Err(AppError::invalid_param(
            "model",
            format!(
                "the {} model does not fit the layer {}: use {} or space_time_permutation",
                model.as_str(),
                r.source.as_str(),
                hotspots::default_model(r.source).as_str()
            ),
        ));
    }
    let q = scan_query(
        p.max_population_percent.as_deref(),
        p.max_radius_km.as_deref(),
        p.alpha.as_deref(),
        p.show.as_deref(),
    )?;
    let max_time_percent = time_percent(p.max_time_percent.as_deref())?;
    let opts = StOptions {
        model,
        max_population_fraction: q.settings.max_population_fraction,
        max_radius_km: q.settings.max_radius_km,
        max_time_fraction: max_time_percent / 100.0,
        ..StOptions::default()
    };
    let run = hotspots::space_time(&state.pool, &r, opts).await?;
    let small_max = small_max(&state, &caller, r.source);
    let places = Places {
        codes: &run.codes,
        names: &run.names,
        lon: &run.lon,
        lat: &run.lat,
    };
    let month = |t: usize| run.months.get(t).cloned().unwrap_or_default();
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
            let (significant, mut feature) = cluster_feature(&places, &view, q.alpha, small_max);
            if let Some(props) = feature.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("start_month".into(), json!(month(c.start)));
                props.insert("end_month".into(), json!(month(c.end)));
            }
            (significant, feature)
        })
        .collect();
    let (features, significant, found, not_significant) = filter_shown(features, q.show);
    let cases_shown = !hidden_under(small_max, run.cases);
    let p_values: Vec<Option<f64>> = run.clusters.iter().map(|c| c.p_value).collect();
    let diagnosis = hotspots::diagnose_scan(
        &ScanFacts {
            n_locations: run.codes.len(),
            cases: run.cases,
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
            "kind": "space_time",
            "layer": r.source.as_str(),
            "model": run.options.model.as_str(),
            "from": r.from,
            "to": r.to,
            "scope": r.scope,
            "months": run.months,
            "replications": run.options.replications,
            "alpha": q.alpha,
            "max_population_percent": q.max_population_percent,
            "max_radius_km": q.settings.max_radius_km,
            "max_time_percent": max_time_percent,
            "n_locations": run.codes.len(),
            "cases": if cases_shown { json!(run.cases) } else { Value::Null },
            "significant": significant,
            "clusters_found": found,
            "not_significant": not_significant,
            "show": q.show.as_str(),
            "diagnosis": diagnosis,
            "small_counts_suppressed": small_max.is_some(),
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_default_period_is_the_last_24_whole_months() {
        let (from, to) = period(None, None, d(2026, 12, 7));
        assert_eq!((from, to), (d(2024, 12, 1), d(2026, 11, 30)));
        assert_eq!(months_between(from, to), 24);
        let (from, _) = period(None, Some(d(2025, 6, 30)), d(2026, 12, 7));
        assert_eq!(from, d(2023, 7, 1));
    }

    #[test]
    fn max_time_percent_is_checked() {
        assert_eq!(time_percent(None).unwrap(), 50.0);
        assert_eq!(time_percent(Some("25")).unwrap(), 25.0);
        assert!(time_percent(Some("95")).is_err());
        assert!(time_percent(Some("abc")).is_err());
    }
}
