//! `GET /api/reports` (the report forms) and `GET /api/reports/{form}.xlsx?period=&unit=` (one
//! form filled in for the caller's jurisdiction, as XLSX). Every download is audited as an
//! export; small counts of people are shown as `*` to roles without case access.

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
use echinomap_programme::reports::{FORMS, find};

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
    let rows: Vec<(String, String)> = sqlx::query_as(match unit.code.len() {
        6 => "SELECT code::text, name FROM townships WHERE code LIKE $1 || '%' ORDER BY code",
        _ => "SELECT code::text, name FROM villages WHERE code LIKE $1 || '%' ORDER BY code",
    })
    .bind(&unit.code)
    .fetch_all(&state.pool)
    .await?;
    let opts = state.programme.options();
    let suppress = caller.suppress_small_counts();
    let filled = echinomap_programme::reports::fill(
        &state.pool,
        form,
        (&unit.code, &unit.name),
        &rows,
        period,
        &opts,
        suppress,
        &caller.username,
    )
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
                "suppressed": suppress,
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
