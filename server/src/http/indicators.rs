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

/// A county, township or village that exists, inside the caller's jurisdiction.
#[derive(Debug, Clone)]
pub struct Unit {
    pub code: String,
    pub name: String,
}

impl Unit {
    pub fn level(&self) -> &'static str {
        level_name(self.code.len())
    }

    pub fn json(&self) -> Value {
        json!({ "code": self.code, "name": self.name, "level": self.level() })
    }
}

pub fn level_name(len: usize) -> &'static str {
    match len {
        6 => "county",
        9 => "township",
        _ => "village",
    }
}

/// The unit named in `field` (default: the caller's jurisdiction): well-formed (400), inside
/// the jurisdiction (403), and known (404).
pub async fn resolve_unit(
    state: &AppState,
    caller: &Caller,
    field: &str,
    code: Option<&str>,
) -> AppResult<Unit> {
    let code = match code.map(str::trim).filter(|c| !c.is_empty()) {
        None => caller.scope.prefix().to_owned(),
        Some(c) => PlaceCode::parse(c)
            .map_err(|e| AppError::invalid_param(field, e.to_string()))?
            .as_str()
            .to_owned(),
    };
    if !caller.scope.covers(&code) {
        return Err(AppError::forbidden(format!(
            "{code} lies outside your jurisdiction {}",
            caller.scope.prefix()
        )));
    }
    let name: Option<String> = sqlx::query_scalar(
        "SELECT name FROM counties WHERE code = $1
         UNION ALL SELECT name FROM townships WHERE code = $1
         UNION ALL SELECT name FROM villages WHERE code = $1",
    )
    .bind(&code)
    .fetch_optional(&state.pool)
    .await?;
    let name = name.ok_or_else(|| {
        AppError::not_found(
            "unit_not_found",
            format!("no {} with code {code}", level_name(code.len())),
        )
    })?;
    Ok(Unit { code, name })
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
    let suppress = caller.suppress_small_counts();
    let grouping = Grouping::Unit(unit.code.clone());
    let mut out = Vec::with_capacity(wanted.len());
    for def in wanted {
        let cells =
            indicators::compute(&state.pool, def, &unit.code, &[period], &grouping, &opts).await?;
        let cell = cells.get(&unit.code).and_then(|c| c.first());
        out.push(indicators::evaluate(def, cell, suppress));
    }
    Ok(Json(json!({
        "unit": unit.json(),
        "period": { "key": period.key(), "kind": period.kind(), "from": period.start(), "to": period.end() },
        "as_of": opts.as_of,
        "case_definition": state.programme.rules.case_definition,
        "small_counts_suppressed": suppress,
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
    let level_len = match p.units.as_deref().unwrap_or("township") {
        "county" => 6,
        "township" => 9,
        "village" => 12,
        other => {
            return Err(AppError::invalid_param(
                "units",
                format!("units must be county, township or village, got {other:?}"),
            ));
        }
    };
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
    if parent.code.len() > level_len {
        return Err(AppError::invalid_param(
            "units",
            format!(
                "{} units cannot be listed inside the {} {}",
                level_name(level_len),
                parent.level(),
                parent.code
            ),
        ));
    }
    let units: Vec<(String, String)> = sqlx::query_as(match level_len {
        6 => "SELECT code::text, name FROM counties WHERE code LIKE $1 || '%' ORDER BY code",
        9 => "SELECT code::text, name FROM townships WHERE code LIKE $1 || '%' ORDER BY code",
        _ => "SELECT code::text, name FROM villages WHERE code LIKE $1 || '%' ORDER BY code",
    })
    .bind(&parent.code)
    .fetch_all(&state.pool)
    .await?;
    let opts = state.programme.options();
    let started = std::time::Instant::now();
    let cells = indicators::compute(
        &state.pool,
        def,
        &parent.code,
        &periods,
        &Grouping::Level(level_len),
        &opts,
    )
    .await?;
    let suppress = caller.suppress_small_counts();
    let period_keys: Vec<String> = periods.iter().map(Period::key).collect();
    let empty = indicators::Cell::default();
    let rows: Vec<Value> = units
        .iter()
        .map(|(code, name)| {
            let row = cells.get(code);
            let (mut values, mut numerators, mut denominators, mut status, mut out) =
                (vec![], vec![], vec![], vec![], vec![]);
            for (i, key) in period_keys.iter().enumerate() {
                let cell = row.and_then(|r| r.get(i)).unwrap_or(&empty);
                let (v, n, d, s) = if suppress && indicators::is_small(def, cell) {
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
        "parent": parent.json(),
        "units_level": level_name(level_len),
        "step": step,
        "periods": period_keys,
        "units": rows,
        "as_of": opts.as_of,
        "small_counts_suppressed": suppress,
    })))
}
