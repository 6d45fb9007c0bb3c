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
    if unit.code.len() == 12 && p.unit.is_none() {
        // A village jurisdiction holds no county or township to judge.
        return Ok(Json(json!({
            "rule_set": { "version": rules.version, "source": rules.source, "case_definition": rules.case_definition },
            "year": year,
            "as_of": today,
            "unit": unit.json(),
            "units": [],
            "note": "stages are judged for counties and townships; a village jurisdiction has none",
        })));
    }
    if unit.code.len() == 12 {
        return Err(AppError::invalid_param(
            "unit",
            format!(
                "stages are judged for a county or a township, not the village {}",
                unit.code
            ),
        ));
    }
    // The county and its townships, or one township.
    let mut units = vec![(unit.code.clone(), unit.name.clone())];
    if unit.code.len() == 6 {
        let townships: Vec<(String, String)> = sqlx::query_as(
            "SELECT code::text, name FROM townships WHERE code LIKE $1 || '%' ORDER BY code",
        )
        .bind(&unit.code)
        .fetch_all(&state.pool)
        .await?;
        units.extend(townships);
    }
    let opts = state.programme.options();
    let evaluated = echinomap_programme::stage::evaluate(
        &state.pool,
        rules,
        &units,
        year,
        &opts,
        caller.suppress_small_counts(),
    )
    .await?;
    Ok(Json(json!({
        "rule_set": { "version": rules.version, "source": rules.source, "case_definition": rules.case_definition },
        "year": year,
        "as_of": today,
        "unit": unit.json(),
        "units": evaluated,
    })))
}
