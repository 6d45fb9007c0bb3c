//! `GET /api/reports` (the report forms) and `GET /api/reports/{form}.xlsx?period=&unit=` (one
//! form filled in for the caller's jurisdiction, as XLSX). Every download is audited as an
//! export; small counts of people are shown as `*` to readers under the small-count rule
//! (`Programme::small_max` of the caller's audience), and the form's note states the range.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::indicators::{parse_period, resolve_unit};
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::audit::{self, Actor, Entry};
use echinomap_programme::reports::{FORMS, Reader, find};

pub async fn list(State(_state): State<AppState>, _caller: Caller) -> Json<Value> {
    let forms: Vec<Value> = FORMS
        .iter()
        .map(|f| {
            json!({
                "form": f.key,
                "name_zh": f.name_zh,
                "name_en": f.name_en,
                "period_kind": f.period,
                "example": format!("/api/reports/{}.xlsx?period={}", f.key, f.example),
            })
        })
        .collect();
    Json(json!({ "forms": forms }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    period: String,
    /// The reporting unit; default the jurisdiction.
    unit: Option<String>,
}

pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(file): ApiPath<String>,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Response> {
    let key = file.strip_suffix(".xlsx").ok_or_else(|| {
        AppError::not_found(
            "report_not_found",
            format!("no report {file:?}: reports are FORM.xlsx"),
        )
    })?;
    let form = find(key).ok_or_else(|| {
        AppError::not_found(
            "report_not_found",
            format!(
                "no report form {key:?}; forms: {}",
                FORMS.map(|f| f.key).join(", ")
            ),
        )
    })?;
    let period = parse_period(&state, "period", &p.period)?;
    if period.kind() != form.period {
        return Err(AppError::invalid_param(
            "period",
            format!(
                "{} is a {} report: period like {}, got {:?}",
                form.key,
                form.period.as_str(),
                form.example,
                p.period
            ),
        ));
    }
    let unit = resolve_unit(&state, &caller, "unit", p.unit.as_deref()).await?;
    let opts = state.programme.options();
    let reader = Reader {
        name: &caller.username,
        audience: caller.audience(),
        suppression: state.programme.suppression,
    };
    let filled =
        echinomap_programme::reports::fill(&state.pool, form, &unit, period, &opts, &reader)
            .await?;
    let bytes = echinomap_programme::reports::to_xlsx(&filled).map_err(anyhow::Error::from)?;
    let mut conn = state.pool.acquire().await?;
    audit::record(
        &mut conn,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: "export",
            table: None,
            row_id: None,
            detail: Some(json!({
                "report": form.key,
                "period": period.key(),
                "unit": unit.code,
                "suppressed": state.programme.small_max(caller.audience()).is_some(),
            })),
            ..Entry::default()
        },
    )
    .await?;
    let filename = format!("{}_{}_{}.xlsx", form.key, unit.code, period.key());
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
