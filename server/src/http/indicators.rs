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
use echinomap_programme::indicators::period::Asked;
use echinomap_programme::indicators::{
    self, Grouping, Indicator, Period, PeriodError, PeriodKind, defs,
};
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

/// A refused period parameter: 400 `invalid_parameter` with `details.field` and
/// `details.reason` ([`PeriodError::reason`]: `period_malformed`, `period_order`, …), plus the
/// limit or the day it was judged against.
pub fn period_error(field: &str, e: &PeriodError) -> AppError {
    let mut details = json!({ "field": field, "reason": e.reason() });
    match e {
        PeriodError::TooLong { months, max, .. } => {
            details["months"] = json!(months);
            details["max_months"] = json!(max);
        }
        PeriodError::Future { today, .. } => details["today"] = json!(today),
        _ => {}
    }
    AppError::BadRequest {
        code: "invalid_parameter",
        message: e.to_string(),
        details,
    }
}

/// A period in `field`: a month, quarter, year, a range of one kind (`2022..2026`) or a
/// relative name (`last_12_months`) resolved against the service's today; not in the future.
pub fn parse_period_or_range(state: &AppState, field: &str, s: &str) -> AppResult<Asked> {
    let today = state.programme.today();
    let asked = Period::resolve(s, today).map_err(|e| period_error(field, &e))?;
    asked
        .period
        .not_future(today)
        .map_err(|e| period_error(field, &e))?;
    Ok(asked)
}

/// A single month, quarter or year in `field` (a relative name that resolves to one, such as
/// `last_month`, too), not in the future; a range is refused (`period_range_not_allowed`).
pub fn parse_period(state: &AppState, field: &str, s: &str) -> AppResult<Period> {
    parse_period_or_range(state, field, s)?
        .period
        .single_only()
        .map_err(|e| period_error(field, &e))
}

/// The period as the JSON answers echo it.
fn period_json(p: &Period) -> Value {
    json!({
        "key": p.key(),
        "kind": p.kind(),
        "from": p.start(),
        "to": p.end(),
        "range": p.is_range(),
        "months": p.month_count(),
    })
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
    /// `2024-03`, `2024Q1`, `2024`, a range (`2022..2026`) or a relative name (`last_12_months`).
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
    let asked = parse_period_or_range(&state, "period", &p.period)?;
    let period = asked.period;
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
        "period": period_json(&period),
        "period_asked": asked.asked(),
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
    /// First and last period (any period syntax, ranges and relative names too: the series
    /// runs from the step containing `from`'s first day to the step containing the start of
    /// `to`'s last part); default the last 12 steps up to today.
    from: Option<String>,
    to: Option<String>,
    /// `month` (default), `quarter` or `year`.
    step: Option<String>,
    /// Instead of `from`/`to`/`step`: the columns, comma-separated, each any period (a range or
    /// a relative name is one column, the ratio of the sums over its months).
    periods: Option<String>,
}

/// Most periods one matrix may span.
const MAX_PERIODS: usize = 240;

/// The matrix's columns from `from`, `to` and `step`, and the step.
fn series_of(state: &AppState, p: &MatrixParams) -> AppResult<(Vec<Period>, PeriodKind)> {
    let step = p.step.as_deref().unwrap_or("month");
    let step = PeriodKind::parse(step).ok_or_else(|| {
        AppError::invalid_param(
            "step",
            format!("step must be month, quarter or year, got {step:?}"),
        )
    })?;
    let today = state.programme.today();
    let to = match p.to.as_deref() {
        Some(t) => parse_period_or_range(state, "to", t)?.period,
        None => Period::month_of(today).as_kind(step),
    };
    let from = match p.from.as_deref() {
        Some(f) => parse_period_or_range(state, "from", f)?.period,
        None => {
            let mut f = to.last().as_kind(step);
            for _ in 0..11 {
                f = Period::month_of(f.start().pred_opt().unwrap_or(f.start())).as_kind(step);
            }
            f
        }
    };
    if from.start() > to.last().start() {
        return Err(AppError::BadRequest {
            code: "invalid_parameter",
            message: format!("from ({from}) is after to ({to})"),
            details: json!({ "field": "from", "reason": "period_order" }),
        });
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
    Ok((periods, step))
}

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
    let (periods, asked, step): (Vec<Period>, Vec<String>, Option<PeriodKind>) =
        match p.periods.as_deref() {
            Some(list) => {
                if p.from.is_some() || p.to.is_some() || p.step.is_some() {
                    return Err(AppError::invalid_param(
                        "periods",
                        "periods names the columns: leave out from, to and step",
                    ));
                }
                let asked = list
                    .split(',')
                    .map(|s| parse_period_or_range(&state, "periods", s))
                    .collect::<AppResult<Vec<Asked>>>()?;
                if asked.len() > MAX_PERIODS {
                    return Err(AppError::invalid_param(
                        "periods",
                        format!(
                            "at most {MAX_PERIODS} periods per matrix, asked for {}",
                            asked.len()
                        ),
                    ));
                }
                let periods: Vec<Period> = asked.iter().map(|a| a.period).collect();
                (periods, asked.iter().map(Asked::asked).collect(), None)
            }
            None => {
                let (periods, step) = series_of(&state, &p)?;
                let keys = periods.iter().map(Period::key).collect();
                (periods, keys, Some(step))
            }
        };
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
        "periods_asked": asked,
        "units": rows,
        "as_of": opts.as_of,
        "small_counts_suppressed": small_max.is_some(),
    })))
}
