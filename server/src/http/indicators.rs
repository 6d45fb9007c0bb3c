//! `GET /api/indicators` (every indicator of one unit and period) and
//! `GET /api/indicators/matrix` (one indicator, units × periods, for charts and choropleths).
//! Units and periods are checked here once; the numbers come from [`echinomap_programme::indicators`].

use axum::Json;
use axum::extract::State;
use echinomap_domain::PlaceCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::indicators::{self, Grouping, Indicator, Period, PeriodKind, defs};
use echinomap_programme::units::{self, Level, Unit};

/// The unit named in `field` (default: the caller's jurisdiction): well-formed (400), inside
/// the jurisdiction (403), and known (404).
pub async fn resolve_unit(
    state: &AppState,
    caller: &Caller,
    field: &str,
    code: Option<&str>,
) -> AppResult<Unit> {
    let code = match code.map(str::trim).filter(|c| !c.is_empty()) {
        None => caller.scope.jurisdiction().clone(),
        Some(c) => {
            PlaceCode::parse(c).map_err(|e| AppError::invalid_param(field, e.to_string()))?
        }
    };
    if !caller.scope.covers(code.as_str()) {
        return Err(AppError::forbidden(format!(
            "{code} lies outside your jurisdiction {}",
            caller.scope.prefix()
        )));
    }
    units::find(&state.pool, &code).await?.ok_or_else(|| {
        AppError::not_found(
            "unit_not_found",
            format!("no {} with code {code}", Level::of(&code).as_str()),
        )
    })
}

/// A period in `field`, not in the future (400 naming the field otherwise).
pub fn parse_period(state: &AppState, field: &str, s: &str) -> AppResult<Period> {
    Period::parse_not_future(s, state.programme.today())
        .map_err(|e| AppError::invalid_param(field, e.to_string()))
}

/// The indicators named in `field` (comma-separated), or all of them.
fn parse_indicators(field: &str, s: Option<&str>) -> AppResult<Vec<&'static Indicator>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(defs::INDICATORS.iter().collect()),
        Some(list) => list
            .split(',')
            .map(|k| {
                let k = k.trim();
                defs::find(k).ok_or_else(|| {
                    AppError::invalid_param(
                        field,
                        format!("unknown indicator {k:?}; known: {}", defs::keys()),
                    )
                })
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// County, township or village code; default the caller's jurisdiction.
    unit: Option<String>,
    /// `2024-03`, `2024Q1` or `2024`.
    period: String,
    /// One or more indicator keys, comma-separated; default all.
    indicator: Option<String>,
}

pub async fn indicators(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    let wanted = parse_indicators("indicator", p.indicator.as_deref())?;
    let period = parse_period(&state, "period", &p.period)?;
    let unit = resolve_unit(&state, &caller, "unit", p.unit.as_deref()).await?;
    let opts = state.programme.options();
    let small_max = state.programme.small_max(caller.audience());
    let grouping = Grouping::Unit(unit.code.clone());
    let mut out = Vec::with_capacity(wanted.len());
    for def in wanted {
        let cells =
            indicators::compute(&state.pool, def, &unit.code, &[period], &grouping, &opts).await?;
        let cell = cells.get(unit.code.as_str()).and_then(|c| c.first());
        out.push(indicators::evaluate(def, cell, small_max));
    }
    Ok(Json(json!({
        "unit": unit,
        "period": { "key": period.key(), "kind": period.kind(), "from": period.start(), "to": period.end() },
        "as_of": opts.as_of,
        "case_definition": state.programme.rules.case_definition,
        "small_counts_suppressed": small_max.is_some(),
        "indicators": out,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixParams {
    indicator: String,
    /// `county`, `township` (default) or `village`.
    units: Option<String>,
    /// The area whose units are listed; default the caller's jurisdiction.
    unit: Option<String>,
    /// First and last period (any period syntax); default the last 12 steps up to today.
    from: Option<String>,
    to: Option<String>,
    /// `month` (default), `quarter` or `year`.
    step: Option<String>,
}

/// Most periods one matrix may span.
const MAX_PERIODS: usize = 240;

pub async fn matrix(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<MatrixParams>,
) -> AppResult<Json<Value>> {
    let def = defs::find(p.indicator.trim()).ok_or_else(|| {
        AppError::invalid_param(
            "indicator",
            format!(
                "unknown indicator {:?}; known: {}",
                p.indicator,
                defs::keys()
            ),
        )
    })?;
    let units_param = p.units.as_deref().unwrap_or("township");
    let level = Level::parse(units_param).ok_or_else(|| {
        AppError::invalid_param(
            "units",
            format!("units must be county, township or village, got {units_param:?}"),
        )
    })?;
    let step = p.step.as_deref().unwrap_or("month");
    let step = PeriodKind::parse(step).ok_or_else(|| {
        AppError::invalid_param(
            "step",
            format!("step must be month, quarter or year, got {step:?}"),
        )
    })?;
    let today = state.programme.today();
    let to = match p.to.as_deref() {
        Some(t) => parse_period(&state, "to", t)?,
        None => Period::month_of(today).as_kind(step),
    };
    let from = match p.from.as_deref() {
        Some(f) => parse_period(&state, "from", f)?,
        None => {
            let mut f = to.as_kind(step);
            for _ in 0..11 {
                f = Period::month_of(f.start().pred_opt().unwrap_or(f.start())).as_kind(step);
            }
            f
        }
    };
    if from.start() > to.start() {
        return Err(AppError::invalid_param(
            "from",
            format!("from ({from}) is after to ({to})"),
        ));
    }
    let periods = indicators::period::series(from, to, step);
    if periods.len() > MAX_PERIODS {
        return Err(AppError::invalid_param(
            "from",
            format!(
                "at most {MAX_PERIODS} periods per matrix, asked for {}",
                periods.len()
            ),
        ));
    }
    let parent = resolve_unit(&state, &caller, "unit", p.unit.as_deref()).await?;
    if parent.level() > level {
        return Err(AppError::invalid_param(
            "units",
            format!(
                "{} units cannot be listed inside the {} {}",
                level.as_str(),
                parent.level().as_str(),
                parent.code
            ),
        ));
    }
    let units = units::within(&state.pool, &parent.code, level).await?;
    let opts = state.programme.options();
    let started = std::time::Instant::now();
    let cells = indicators::compute(
        &state.pool,
        def,
        &parent.code,
        &periods,
        &Grouping::Level(level.digits()),
        &opts,
    )
    .await?;
    let small_max = state.programme.small_max(caller.audience());
    let period_keys: Vec<String> = periods.iter().map(Period::key).collect();
    let empty = indicators::Cell::default();
    let rows: Vec<Value> = units
        .iter()
        .map(|unit| {
            let (code, name) = (unit.code.as_str(), &unit.name);
            let row = cells.get(code);
            let (mut values, mut numerators, mut denominators, mut status, mut out) =
                (vec![], vec![], vec![], vec![], vec![]);
            for (i, key) in period_keys.iter().enumerate() {
                let cell = row.and_then(|r| r.get(i)).unwrap_or(&empty);
                let (v, n, d, s) = if indicators::is_small(def, cell, small_max) {
                    (Value::Null, Value::Null, Value::Null, json!("suppressed"))
                } else {
                    let value = indicators::value_of(def, cell);
                    let den = if def.measure == indicators::Measure::Count {
                        Value::Null
                    } else {
                        indicators::number(cell.den)
                    };
                    (
                        json!(value),
                        indicators::number(cell.num),
                        den,
                        json!(indicators::status_of(def, value)),
                    )
                };
                out.push(json!({ "period": key, "value": v, "numerator": n, "denominator": d, "status": s }));
                values.push(v);
                numerators.push(n);
                denominators.push(d);
                status.push(s);
            }
            json!({
                "code": code,
                "name": name,
                "values": values,
                "numerators": numerators,
                "denominators": denominators,
                "status": status,
                "cells": out,
            })
        })
        .collect();
    tracing::info!(
        indicator.key = def.key,
        units = units.len(),
        periods = periods.len(),
        duration_ms = started.elapsed().as_millis() as u64,
        "indicator matrix"
    );
    Ok(Json(json!({
        "indicator": indicators::describe(def),
        "parent": parent,
        "units_level": level,
        "step": step,
        "periods": period_keys,
        "units": rows,
        "as_of": opts.as_of,
        "small_counts_suppressed": small_max.is_some(),
    })))
}
