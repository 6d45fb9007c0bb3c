//! `GET /api/stage[?unit=&year=]`: the control stage of the county and each township under the
//! versioned rule set, every rule with pass or fail, its years and the numbers behind them.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::indicators::resolve_unit;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::units::{self, Level};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A county or township; default the jurisdiction (a village jurisdiction has no stage).
    unit: Option<String>,
    /// The last year of evidence; default the last complete year.
    year: Option<String>,
}

pub async fn stage(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    let today = state.programme.today();
    let year = match p.year.as_deref() {
        None => chrono::Datelike::year(&today) - 1,
        Some(y) => {
            let period = super::indicators::parse_period(&state, "year", y)?;
            if period.kind() != echinomap_programme::indicators::PeriodKind::Year {
                return Err(AppError::invalid_param(
                    "year",
                    format!("year must be a year such as 2025, got {y:?}"),
                ));
            }
            period.year_number()
        }
    };
    let unit = resolve_unit(&state, &caller, "unit", p.unit.as_deref()).await?;
    let rules = &state.programme.rules;
    if unit.level() == Level::Village && p.unit.is_none() {
        // A village jurisdiction holds no county or township to judge.
        return Ok(Json(json!({
            "rule_set": { "version": rules.version, "source": rules.source, "case_definition": rules.case_definition },
            "year": year,
            "as_of": today,
            "unit": unit,
            "units": [],
            "note": "stages are judged for counties and townships; a village jurisdiction has none",
        })));
    }
    if unit.level() == Level::Village {
        return Err(AppError::invalid_param(
            "unit",
            format!(
                "stages are judged for a county or a township, not the village {}",
                unit.code
            ),
        ));
    }
    // The county and its townships, or one township.
    let mut judged = vec![unit.clone()];
    if unit.level() == Level::County {
        judged.extend(units::within(&state.pool, &unit.code, Level::Township).await?);
    }
    let opts = state.programme.options();
    let evaluated = echinomap_programme::stage::evaluate(
        &state.pool,
        rules,
        &judged,
        year,
        &opts,
        state.programme.small_max(caller.audience()),
    )
    .await?;
    Ok(Json(json!({
        "rule_set": { "version": rules.version, "source": rules.source, "case_definition": rules.case_definition },
        "year": year,
        "as_of": today,
        "unit": unit,
        "units": evaluated,
    })))
}
