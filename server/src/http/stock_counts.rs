//! `/api/stock/counts`: stock counts (盘点) — open a count of a store, list and read counts,
//! count lines by scanning or typing in batches of entries, give a line's difference its reason,
//! finalise (the adjustments, one transaction) or cancel ([`echinomap_programme::stock::count`]
//! does the work).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, ApiQuery};
use super::session::{Access, Caller};
use super::{AppState, Handler, RouteSpec};
use crate::error::{AppError, AppResult};
use echinomap_domain::barcode::Options;
use echinomap_programme::auth::Perm;
use echinomap_programme::stock::count::{self, Entry};

pub(super) fn routes() -> Vec<(RouteSpec, Handler)> {
    let r = |method, path, access, handler| {
        (
            RouteSpec {
                method,
                path,
                access,
            },
            handler,
        )
    };
    let read = Access::Needs(Perm::Stock);
    let write = Access::Needs(Perm::StockWrite);
    vec![
        r(Method::GET, "/api/stock/counts", read, get(list)),
        r(Method::POST, "/api/stock/counts", write, post(open)),
        r(Method::GET, "/api/stock/counts/{id}", read, get(one)),
        r(
            Method::POST,
            "/api/stock/counts/{id}/entries",
            write,
            post(entries),
        ),
        r(
            Method::POST,
            "/api/stock/counts/{id}/lines/{lot_id}",
            write,
            post(reason),
        ),
        r(
            Method::POST,
            "/api/stock/counts/{id}/finalise",
            write,
            post(finalise),
        ),
        r(
            Method::POST,
            "/api/stock/counts/{id}/cancel",
            write,
            post(cancel),
        ),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    store_id: i64,
    #[serde(default)]
    blind: bool,
    note: Option<String>,
}

/// `POST /api/stock/counts`: opens a count of the store (409 `count_open` when one is open).
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let count = count::open(&state.pool, &caller, body.store_id, body.blind, body.note).await?;
    Ok((StatusCode::CREATED, Json(json!({ "count": count }))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    store: Option<i64>,
    /// `open`, `finalised` or `cancelled`.
    state: Option<String>,
}

/// `GET /api/stock/counts?store=&state=`: the counts of the stores in the caller's jurisdiction.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Json<Value>> {
    let wanted = match p.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(count::State::parse(s).ok_or_else(|| {
            AppError::invalid_param(
                "state",
                format!("state is open, finalised or cancelled, not {s:?}"),
            )
        })?),
    };
    let items = count::list(&state.pool, &caller, p.store, wanted).await?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/stock/counts/{id}`: the count and its lines (a blind count hides the book while
/// it is open).
pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    Ok(Json(count::get(&state.pool, &caller, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesBody {
    entries: Vec<Value>,
}

/// `POST /api/stock/counts/{id}/entries`: a batch of scans and typed entries, with the result
/// of each.
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<EntriesBody>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    // One malformed entry is refused by itself; the others are counted.
    let entries: Vec<Entry> = body.entries.into_iter().map(Entry::from_json).collect();
    let results = count::enter(
        &state.pool,
        &caller,
        id,
        &entries,
        &Options::default(),
        state.programme.today(),
    )
    .await?;
    Ok(Json(json!({ "results": results })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// count_correction, expired, damaged, lost, returned; null clears it.
    reason: Option<String>,
}

/// `POST /api/stock/counts/{id}/lines/{lot_id}`: the reason of the line's difference.
pub async fn reason(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, lot_id)): ApiPath<(i64, i64)>,
    body: Result<Json<ReasonBody>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let line = count::set_reason(&state.pool, &caller, id, lot_id, reason).await?;
    Ok(Json(json!({ "line": line })))
}

/// `POST /api/stock/counts/{id}/finalise`: the adjustments, in one transaction (409
/// `count_recount` names the lines to count again when stock moved during the count).
pub async fn finalise(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        count::finalise(&state.pool, &caller, id, state.programme.today()).await?,
    ))
}

/// `POST /api/stock/counts/{id}/cancel`: ends the count without changing stock.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    Ok(Json(count::cancel(&state.pool, &caller, id).await?))
}
