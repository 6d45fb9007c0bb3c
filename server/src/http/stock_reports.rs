//! `GET /api/stock/reconciliation?unit=&period=&by=`: the praziquantel reconciliation (核销,
//! docs/STOCK.md) of a county, township or village inside the caller's jurisdiction, per
//! village, township or store and month; `GET /api/stock/reconciliation.xlsx` the same numbers as
//! the report form 物资出入库及核销月报 (audited as an export).
//! [`echinomap_programme::stock::reconcile`] computes both.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::ApiQuery;
use super::indicators::{parse_period_or_range, resolve_unit};
use super::session::{Access, Caller};
use super::{AppState, Handler, RouteSpec};
use crate::error::{AppError, AppResult};
use echinomap_programme::audit::{self, Actor, Entry};
use echinomap_programme::auth::Perm;
use echinomap_programme::stock::reconcile::{self, By, Reconciliation};

pub(super) fn routes() -> Vec<(RouteSpec, Handler)> {
    let read = |path: &'static str, handler: Handler| {
        (
            RouteSpec {
                method: Method::GET,
                path,
                access: Access::Needs(Perm::Stock),
            },
            handler,
        )
    };
    vec![
        read("/api/stock/reconciliation", get(reconciliation)),
        read("/api/stock/reconciliation.xlsx", get(reconciliation_xlsx)),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A county, township or village inside the jurisdiction; default the jurisdiction.
    unit: Option<String>,
    /// A month, quarter, year, range or relative name; default `last_12_months`.
    period: Option<String>,
    /// `village`, `township` or `store`; default the townships of a county, the villages of a
    /// township or village.
    by: Option<String>,
}

async fn compute(state: &AppState, caller: &Caller, p: &Params) -> AppResult<Reconciliation> {
    let by = match p.by.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(By::parse(b).ok_or_else(|| {
            AppError::invalid_param(
                "by",
                format!("by must be village, township or store, got {b:?}"),
            )
        })?),
    };
    let period = parse_period_or_range(
        state,
        "period",
        p.period.as_deref().unwrap_or("last_12_months"),
    )?
    .period;
    let unit = resolve_unit(state, caller, "unit", p.unit.as_deref()).await?;
    let opts = state.programme.options();
    Ok(reconcile::reconcile(&state.pool, &unit, period, by, &opts).await?)
}

pub async fn reconciliation(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    let r = compute(&state, &caller, &p).await?;
    Ok(Json(r.to_json()))
}

pub async fn reconciliation_xlsx(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Response> {
    let r = compute(&state, &caller, &p).await?;
    let compiled_by =
        echinomap_programme::reports::compiled_by(&state.pool, &caller.username).await?;
    let today = state.programme.today();
    let bytes = reconcile::to_xlsx(&r, &compiled_by, today).map_err(anyhow::Error::from)?;
    let mut conn = state.pool.acquire().await?;
    audit::record(
        &mut conn,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: "export",
            table: None,
            row_id: None,
            detail: Some(json!({
                "report": "stock_reconciliation",
                "period": r.period.key(),
                "unit": r.unit.code,
                "by": r.by.as_str(),
            })),
            ..Entry::default()
        },
    )
    .await?;
    let filename = format!(
        "stock_reconciliation_{}_{}.xlsx",
        r.unit.code,
        r.period.key().replace("..", "_")
    );
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
