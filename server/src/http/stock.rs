//! `/api/stock`: the catalogue (items, barcodes, lots, a scan's lookup), the stores, and the
//! ledger (stock on hand, the movements, the FEFO proposal, receipts, transfers and their
//! receipt, uses, adjustments). [`echinomap_programme::stock::catalogue`] and
//! [`echinomap_programme::stock::ledger`] do the work; writes take an optional
//! `Idempotency-Key` (a resend answers the first answer and writes nothing).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{delete, get, patch, post};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, ApiQuery};
use super::session::{Access, Caller};
use super::{AppState, Handler, RouteSpec};
use crate::error::AppResult;
use echinomap_programme::auth::Perm;
use echinomap_programme::stock::catalogue::{
    self, ItemChanges, NewBarcode, NewItem, NewStore, StoreChanges,
};
use echinomap_programme::stock::ledger::{
    self, Adjustment, MovementFilter, NewTransfer, OnHandFilter, Receipt, Receive, TransferFilter,
    Use,
};

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
    let admin = Access::Needs(Perm::Admin);
    vec![
        r(Method::GET, "/api/stock/items", read, get(items)),
        r(Method::POST, "/api/stock/items", admin, post(create_item)),
        r(
            Method::PATCH,
            "/api/stock/items/{id}",
            admin,
            patch(update_item),
        ),
        r(
            Method::POST,
            "/api/stock/barcodes",
            admin,
            post(add_barcode),
        ),
        r(
            Method::DELETE,
            "/api/stock/barcodes/{id}",
            admin,
            delete(delete_barcode),
        ),
        r(Method::POST, "/api/stock/scan", read, post(scan)),
        r(Method::GET, "/api/stock/stores", read, get(stores)),
        r(Method::POST, "/api/stock/stores", admin, post(create_store)),
        r(
            Method::PATCH,
            "/api/stock/stores/{id}",
            admin,
            patch(update_store),
        ),
        r(Method::GET, "/api/stock/lots", read, get(lots)),
        r(Method::GET, "/api/stock/on-hand", read, get(on_hand)),
        r(Method::GET, "/api/stock/movements", read, get(movements)),
        r(Method::GET, "/api/stock/fefo", read, get(fefo)),
        r(Method::POST, "/api/stock/receipts", write, post(receipts)),
        r(Method::GET, "/api/stock/transfers", read, get(transfers)),
        r(Method::POST, "/api/stock/transfers", write, post(transfer)),
        r(
            Method::POST,
            "/api/stock/transfers/{id}/receive",
            write,
            post(receive),
        ),
        r(Method::POST, "/api/stock/uses", write, post(uses)),
        r(
            Method::POST,
            "/api/stock/adjustments",
            write,
            post(adjustments),
        ),
    ]
}

/// The client's own id of a write it may send again.
fn idempotency_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

// ── Catalogue ─────────────────────────────────────────────────────────────────────────────

async fn items(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let items = catalogue::items(&mut conn).await?;
    Ok(Json(json!({ "items": items })))
}

async fn create_item(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewItem>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let item = catalogue::create_item(&state.pool, &caller.0, body).await?;
    Ok((StatusCode::CREATED, Json(json!({ "item": item }))))
}

async fn update_item(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<ItemChanges>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let item = catalogue::update_item(&state.pool, &caller.0, id, body).await?;
    Ok(Json(json!({ "item": item })))
}

async fn add_barcode(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewBarcode>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let barcode = catalogue::add_barcode(&state.pool, &caller.0, body).await?;
    Ok((StatusCode::CREATED, Json(json!({ "barcode": barcode }))))
}

async fn delete_barcode(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    catalogue::delete_barcode(&state.pool, &caller.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    code: String,
    store_id: Option<i64>,
}

async fn scan(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<ScanBody>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let mut conn = state.pool.acquire().await?;
    let today = state.programme.today();
    let answer = catalogue::scan(&mut conn, &caller.0, &body.code, body.store_id, today).await?;
    Ok(Json(answer))
}

async fn stores(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let stores = catalogue::stores(&mut conn, &caller.0).await?;
    Ok(Json(json!({ "items": stores })))
}

async fn create_store(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewStore>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let store = catalogue::create_store(&state.pool, &caller.0, body).await?;
    Ok((StatusCode::CREATED, Json(json!({ "store": store }))))
}

async fn update_store(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<StoreChanges>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let store = catalogue::update_store(&state.pool, &caller.0, id, body).await?;
    Ok(Json(json!({ "store": store })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LotParams {
    item: Option<i64>,
}

async fn lots(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<LotParams>,
) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let lots = catalogue::lots(&mut conn, p.item, state.programme.today()).await?;
    Ok(Json(json!({ "items": lots })))
}

// ── Ledger: reads ─────────────────────────────────────────────────────────────────────────

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnHandParams {
    store: Option<i64>,
    item: Option<i64>,
    status: Option<String>,
}

async fn on_hand(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<OnHandParams>,
) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let today = state.programme.today();
    let filter = OnHandFilter {
        store: p.store,
        item: p.item,
        status: p.status,
    };
    let items = ledger::on_hand(&mut conn, &caller.0, &filter, today).await?;
    Ok(Json(json!({ "items": items, "today": today })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MovementParams {
    store: Option<i64>,
    item: Option<i64>,
    kind: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    limit: Option<i64>,
    before: Option<i64>,
}

async fn movements(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<MovementParams>,
) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let filter = MovementFilter {
        store: p.store,
        item: p.item,
        kind: p.kind,
        from: p.from,
        to: p.to,
        limit: p.limit,
        before: p.before,
    };
    let (items, next_before) = ledger::movements(&mut conn, &caller.0, &filter).await?;
    Ok(Json(json!({ "items": items, "next_before": next_before })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FefoParams {
    store: i64,
    item: i64,
    quantity: i32,
    on: Option<NaiveDate>,
}

async fn fefo(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<FefoParams>,
) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let today = state.programme.today();
    let on = p.on.unwrap_or(today);
    let answer =
        ledger::fefo_json(&mut conn, &caller.0, p.store, p.item, p.quantity, on, today).await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferParams {
    store: Option<i64>,
    state: Option<String>,
}

async fn transfers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<TransferParams>,
) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let filter = TransferFilter {
        store: p.store,
        state: p.state,
    };
    let items = ledger::transfers(&mut conn, &caller.0, &filter).await?;
    Ok(Json(json!({ "items": items })))
}

// ── Ledger: writes ────────────────────────────────────────────────────────────────────────

async fn receipts(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<Receipt>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let key = idempotency_key(&headers);
    let answer =
        ledger::receive_goods_as_of(&state.pool, &caller.0, body, key, state.programme.today())
            .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<NewTransfer>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let key = idempotency_key(&headers);
    let answer =
        ledger::transfer_as_of(&state.pool, &caller.0, body, key, state.programme.today()).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn receive(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    body: Result<Json<Receive>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let key = idempotency_key(&headers);
    let answer = ledger::receive_transfer_as_of(
        &state.pool,
        &caller.0,
        id,
        body,
        key,
        state.programme.today(),
    )
    .await?;
    Ok(Json(answer))
}

/// `POST /api/stock/uses`. The `recipient` (at most 50 characters, kept in the movement's note
/// as `领取人 <name>`) is the village doctor or staff member who took the goods: staff, not
/// patient data; no patient or dog owner is named in the ledger.
async fn uses(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<Use>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let key = idempotency_key(&headers);
    let answer =
        ledger::hand_out_as_of(&state.pool, &caller.0, body, key, state.programme.today()).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn adjustments(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<Adjustment>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let key = idempotency_key(&headers);
    let answer =
        ledger::adjust_as_of(&state.pool, &caller.0, body, key, state.programme.today()).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}
