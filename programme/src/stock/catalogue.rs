//! The catalogue: items (PZQ tablets, bait, albendazole, EG95, ELISA kits — data, edited by an
//! administrator), the barcodes that name them, their lots, and the stores that hold them.
//!
//! A scanned code is parsed once, by [`echinomap_domain::barcode`], and looked up here by the
//! (kind, code) pair it names ([`lookup`]): a GTIN-14, the 7-digit product prefix of a Chinese
//! drug traceability code, or a 24-digit veterinary code, which names no product and is tied to
//! the lot it was received with. Every change of the catalogue is audited.

use chrono::NaiveDate;
use echinomap_domain::barcode::{self, Scanned};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use super::{expiry_status, expiry_status_sql};
use crate::audit::{self, Actor, Entry};
use crate::auth::{Caller, Perm};
use crate::error::{Error, Result};

/// The item kinds of the `stock_kind` enum.
pub const ITEM_KINDS: [&str; 5] = [
    "praziquantel",
    "albendazole",
    "vaccine",
    "elisa_kit",
    "other",
];
/// The store kinds of the `stock_store_kind` enum.
pub const STORE_KINDS: [&str; 4] = [
    "county_cdc",
    "vet_station",
    "township_centre",
    "village_clinic",
];

/// The audit actor of a caller.
pub fn actor(caller: &Caller) -> Actor {
    Actor::user(caller.user_id, &caller.username)
}

fn text_field(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(Error::invalid_field(
            field,
            format!("{field} is 1 to {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn positive(field: &str, v: Option<i32>) -> Result<Option<i32>> {
    match v {
        Some(n) if n <= 0 => Err(Error::invalid_field(
            field,
            format!("{field} must be a whole number above 0, not {n}"),
        )),
        v => Ok(v),
    }
}

fn units_per_dose(v: Option<f64>) -> Result<Option<f64>> {
    match v {
        Some(n) if !(n > 0.0 && n < 10_000.0) => Err(Error::invalid_field(
            "units_per_dose",
            format!("units_per_dose must be above 0 and below 10000, not {n}"),
        )),
        v => Ok(v),
    }
}

/// A database refusal of a unique key as a 409 with `code`.
fn unique_conflict(e: sqlx::Error, code: &'static str, message: String) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            Error::Conflict { code, message }
        }
        _ => Error::Database(e),
    }
}

// ── Items ─────────────────────────────────────────────────────────────────────────────────

const ITEM_JSON: &str = "json_build_object(
        'id', i.id, 'code', i.code, 'name', i.name, 'kind', i.kind::text, 'unit', i.unit,
        'pack_size', i.pack_size, 'units_per_dose', i.units_per_dose::float8, 'active', i.active,
        'barcodes', coalesce((
            SELECT json_agg(json_build_object('id', b.id, 'kind', b.kind::text, 'code', b.code,
                                              'pack_quantity', b.pack_quantity, 'lot_id', b.lot_id)
                            ORDER BY b.id)
            FROM stock_barcodes b WHERE b.item_id = i.id), '[]'::json))";

/// Every item of the catalogue (deleted register rows left out), with its barcodes.
pub async fn items(conn: &mut PgConnection) -> Result<Vec<Value>> {
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_JSON} FROM stock_items i WHERE i.deleted_at IS NULL ORDER BY i.code"
    )))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

/// One item (404 `item_not_found`).
pub async fn item(conn: &mut PgConnection, id: i64) -> Result<Value> {
    sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_JSON} FROM stock_items i WHERE i.id = $1 AND i.deleted_at IS NULL"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("item_not_found", format!("no stock item with id {id}")))
}

/// The item `id` for a movement: it exists (404 `item_not_found`) and is active (422
/// `item_inactive`).
pub async fn active_item(conn: &mut PgConnection, id: i64) -> Result<()> {
    let active: Option<bool> =
        sqlx::query_scalar("SELECT active FROM stock_items WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match active {
        None => Err(Error::not_found(
            "item_not_found",
            format!("no stock item with id {id}"),
        )),
        Some(false) => Err(Error::field_refused(
            "item_id",
            "item_inactive",
            json!({ "item_id": id }),
            format!("the stock item {id} is no longer in use"),
        )),
        Some(true) => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub code: String,
    pub name: String,
    /// `praziquantel`, `albendazole`, `vaccine`, `elisa_kit`, `other`.
    pub kind: String,
    /// The base unit (片, 头份, 人份).
    pub unit: String,
    pub pack_size: Option<i32>,
    pub units_per_dose: Option<f64>,
}

/// Adds an item (admin), audited. 409 `item_exists` when the code is taken.
pub async fn create_item(pool: &PgPool, caller: &Caller, new: NewItem) -> Result<Value> {
    caller.require(Perm::Admin)?;
    let code = text_field("code", &new.code, 40)?;
    let name = text_field("name", &new.name, 100)?;
    let unit = text_field("unit", &new.unit, 20)?;
    if !ITEM_KINDS.contains(&new.kind.as_str()) {
        return Err(Error::invalid_field(
            "kind",
            format!(
                "kind is one of {}, not {:?}",
                ITEM_KINDS.join(", "),
                new.kind
            ),
        ));
    }
    let pack_size = positive("pack_size", new.pack_size)?.unwrap_or(1);
    let upd = units_per_dose(new.units_per_dose)?;
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stock_items (code, name, kind, unit, pack_size, units_per_dose, created_by)
         VALUES ($1, $2, $3::stock_kind, $4, $5, $6::float8::numeric(6, 2), $7) RETURNING id",
    )
    .bind(&code)
    .bind(&name)
    .bind(&new.kind)
    .bind(&unit)
    .bind(pack_size)
    .bind(upd)
    .bind(&caller.username)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| unique_conflict(e, "item_exists", format!("an item has the code {code}")))?;
    let after = item(&mut tx, id).await?;
    audit::record(
        &mut tx,
        &actor(caller),
        Entry {
            action: "create",
            table: Some("stock_items"),
            row_id: Some(id.to_string()),
            after: Some(after.clone()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemChanges {
    pub name: Option<String>,
    pub unit: Option<String>,
    pub pack_size: Option<i32>,
    pub units_per_dose: Option<f64>,
    pub active: Option<bool>,
}

/// Changes an item (admin), audited with before and after.
pub async fn update_item(
    pool: &PgPool,
    caller: &Caller,
    id: i64,
    changes: ItemChanges,
) -> Result<Value> {
    caller.require(Perm::Admin)?;
    let name = changes
        .name
        .as_deref()
        .map(|n| text_field("name", n, 100))
        .transpose()?;
    let unit = changes
        .unit
        .as_deref()
        .map(|u| text_field("unit", u, 20))
        .transpose()?;
    let pack_size = positive("pack_size", changes.pack_size)?;
    let upd = units_per_dose(changes.units_per_dose)?;
    let mut tx = pool.begin().await?;
    let before = item(&mut tx, id).await?;
    sqlx::query(
        "UPDATE stock_items SET name = coalesce($2, name), unit = coalesce($3, unit),
                pack_size = coalesce($4, pack_size),
                units_per_dose = coalesce($5::float8::numeric(6, 2), units_per_dose),
                active = coalesce($6, active)
         WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(unit)
    .bind(pack_size)
    .bind(upd)
    .bind(changes.active)
    .execute(&mut *tx)
    .await?;
    let after = item(&mut tx, id).await?;
    audit::record(
        &mut tx,
        &actor(caller),
        Entry {
            action: "update",
            table: Some("stock_items"),
            row_id: Some(id.to_string()),
            before: Some(before),
            after: Some(after.clone()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ── Barcodes ──────────────────────────────────────────────────────────────────────────────

/// Parses a scan or typed code as the API takes it: 422 with the parser's code
/// (`barcode_*`), field `code` and its parameters.
pub fn parse_code(raw: &str) -> Result<Scanned> {
    barcode::parse(raw, &barcode::Options::default()).map_err(|e| code_refused(raw, e))
}

/// [`parse_code`] as of the programme's `today` (what a scan is read against).
pub fn parse_code_on(raw: &str, today: NaiveDate) -> Result<Scanned> {
    barcode::parse_on(raw, &barcode::Options::default(), today).map_err(|e| code_refused(raw, e))
}

fn code_refused(raw: &str, e: barcode::BarcodeError) -> Error {
    {
        let mut params = if e.params.is_object() {
            e.params.clone()
        } else {
            json!({})
        };
        params["code"] = json!(raw);
        Error::field_refused("code", e.code, params, e.message)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBarcode {
    /// A raw scan or the digits.
    pub code: String,
    pub item_id: i64,
    pub pack_quantity: Option<i32>,
    /// Required for a veterinary drug code (it names no product by itself).
    pub lot_id: Option<i64>,
}

const BARCODE_JSON: &str = "json_build_object('id', b.id, 'kind', b.kind::text, 'code', b.code,
        'item_id', b.item_id, 'pack_quantity', b.pack_quantity, 'lot_id', b.lot_id)";

/// Maps a code to an item (admin), audited. The code is parsed: its kind and key come from the
/// parser. 409 `barcode_exists` when the code is mapped already.
pub async fn add_barcode(pool: &PgPool, caller: &Caller, new: NewBarcode) -> Result<Value> {
    caller.require(Perm::Admin)?;
    let scanned = parse_code(&new.code)?;
    let (kind, code) = scanned.lookup();
    let pack_quantity = positive("pack_quantity", new.pack_quantity)?.unwrap_or(1);
    let mut tx = pool.begin().await?;
    active_item(&mut tx, new.item_id).await?;
    if let Some(lot_id) = new.lot_id {
        let lot = lot(&mut tx, lot_id).await?;
        if lot.item_id != new.item_id {
            return Err(Error::invalid_field(
                "lot_id",
                format!("lot {lot_id} is not a lot of item {}", new.item_id),
            ));
        }
    } else if kind == "vet_drug" {
        return Err(Error::invalid_field(
            "lot_id",
            "a veterinary drug code names no product: give the lot it came with (lot_id)",
        ));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stock_barcodes (kind, code, item_id, pack_quantity, lot_id, created_by)
         VALUES ($1::stock_code_kind, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(kind)
    .bind(code)
    .bind(new.item_id)
    .bind(pack_quantity)
    .bind(new.lot_id)
    .bind(&caller.username)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        unique_conflict(
            e,
            "barcode_exists",
            format!("the {kind} code {code} is mapped already"),
        )
    })?;
    let after: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {BARCODE_JSON} FROM stock_barcodes b WHERE b.id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &actor(caller),
        Entry {
            action: "create",
            table: Some("stock_barcodes"),
            row_id: Some(id.to_string()),
            after: Some(after.clone()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes a code's mapping (admin), audited. 404 `barcode_not_found`.
pub async fn delete_barcode(pool: &PgPool, caller: &Caller, id: i64) -> Result<()> {
    caller.require(Perm::Admin)?;
    let mut tx = pool.begin().await?;
    let before: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "DELETE FROM stock_barcodes b WHERE b.id = $1 RETURNING {BARCODE_JSON}"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found("barcode_not_found", format!("no barcode with id {id}")))?;
    audit::record(
        &mut tx,
        &actor(caller),
        Entry {
            action: "delete",
            table: Some("stock_barcodes"),
            row_id: Some(id.to_string()),
            before: Some(before),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the catalogue knows of a scanned code.
#[derive(Debug, Clone)]
pub struct Hit {
    pub barcode_id: i64,
    pub item_id: i64,
    pub pack_quantity: i32,
    /// The lot the code is tied to (a veterinary code), if any.
    pub lot_id: Option<i64>,
}

/// Looks a parsed code up in `stock_barcodes` by the (kind, code) it names.
pub async fn lookup(conn: &mut PgConnection, scanned: &Scanned) -> Result<Option<Hit>> {
    let (kind, code) = scanned.lookup();
    let row: Option<(i64, i64, i32, Option<i64>)> = sqlx::query_as(
        "SELECT id, item_id, pack_quantity, lot_id FROM stock_barcodes
         WHERE kind = $1::stock_code_kind AND code = $2",
    )
    .bind(kind)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(barcode_id, item_id, pack_quantity, lot_id)| Hit {
        barcode_id,
        item_id,
        pack_quantity,
        lot_id,
    }))
}

/// `POST /api/stock/scan`: what a code says and what the catalogue knows of it. The lot is the
/// code's own (a veterinary code) or the item's lot of the GS1 batch; with `store_id` (in
/// scope) the answer adds what the store holds of it.
pub async fn scan(
    conn: &mut PgConnection,
    caller: &Caller,
    raw: &str,
    store_id: Option<i64>,
    today: NaiveDate,
) -> Result<Value> {
    caller.require(Perm::Stock)?;
    if let Some(id) = store_id {
        super::store_in_scope(conn, caller, Perm::Stock, id).await?;
    }
    let scanned = parse_code_on(raw, today)?;
    let parsed = scanned.to_json();
    let Some(hit) = lookup(conn, &scanned).await? else {
        return Ok(json!({ "parsed": parsed, "known": false, "pack_quantity": null }));
    };
    let item = item(conn, hit.item_id).await?;
    let lot_id = match (hit.lot_id, &scanned) {
        (Some(id), _) => Some(id),
        (
            None,
            Scanned::Gs1 {
                batch: Some(batch), ..
            },
        ) => {
            sqlx::query_scalar("SELECT id FROM stock_lots WHERE item_id = $1 AND batch = $2")
                .bind(hit.item_id)
                .bind(batch)
                .fetch_optional(&mut *conn)
                .await?
        }
        _ => None,
    };
    let lot = match lot_id {
        Some(id) => {
            let l = lot(conn, id).await?;
            let mut v = json!({
                "id": l.id, "batch": l.batch, "expires_on": l.expires_on,
                "expiry_status": expiry_status(l.expires_on, today),
            });
            // Not while the store is under a blind count and the caller may be its counter.
            let hidden = match store_id {
                Some(store) if caller.role == crate::auth::Role::StockKeeper => {
                    sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM stock_counts WHERE store_id = $1 AND blind
                           AND finalised_at IS NULL AND cancelled_at IS NULL)",
                    )
                    .bind(store)
                    .fetch_one(&mut *conn)
                    .await?
                }
                _ => false,
            };
            if hidden {
                v["hidden_by_blind_count"] = json!(true);
            } else if let Some(store) = store_id {
                let on_hand: Option<i32> = sqlx::query_scalar(
                    "SELECT quantity FROM stock_on_hand WHERE store_id = $1 AND lot_id = $2",
                )
                .bind(store)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                v["on_hand"] = json!(on_hand.unwrap_or(0));
            }
            v
        }
        None => Value::Null,
    };
    Ok(json!({
        "parsed": parsed,
        "known": true,
        "item": item,
        "lot": lot,
        "pack_quantity": hit.pack_quantity,
    }))
}

// ── Lots ──────────────────────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Lot {
    pub id: i64,
    pub item_id: i64,
    pub batch: String,
    pub expires_on: Option<NaiveDate>,
}

/// One lot (404 `lot_not_found`).
pub async fn lot(conn: &mut PgConnection, id: i64) -> Result<Lot> {
    sqlx::query_as::<_, Lot>("SELECT id, item_id, batch, expires_on FROM stock_lots WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("lot_not_found", format!("no lot with id {id}")))
}

/// The lots of an item (all items when `None`), the latest expiry first.
pub async fn lots(
    conn: &mut PgConnection,
    item: Option<i64>,
    today: NaiveDate,
) -> Result<Vec<Value>> {
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT json_build_object('id', l.id, 'item_id', l.item_id, 'batch', l.batch,
                                  'expires_on', l.expires_on, 'expiry_status', {})
         FROM stock_lots l
         WHERE $2::bigint IS NULL OR l.item_id = $2
         ORDER BY l.item_id, l.expires_on DESC NULLS LAST, l.id",
        expiry_status_sql(1)
    )))
    .bind(today)
    .bind(item)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

// ── Stores ────────────────────────────────────────────────────────────────────────────────

const STORE_JSON: &str = "json_build_object('id', s.id, 'code', s.code, 'name', s.name,
        'kind', s.kind::text, 'place_code', s.place_code,
        'place_name', coalesce((SELECT v.name FROM villages v WHERE v.code = s.place_code),
                               (SELECT t.name FROM townships t WHERE t.code = s.place_code),
                               (SELECT c.name FROM counties c WHERE c.code = s.place_code)),
        'active', s.active, 'in_scope', s.place_code LIKE $1 || '%')";

/// The stores a caller sees: those of its jurisdiction (`in_scope`: it may act there) and those
/// of the units that contain it (a township keeper sends back to the county's stores), never a
/// sibling's. A transfer goes only to a store of this list ([`visible`]).
pub async fn stores(conn: &mut PgConnection, caller: &Caller) -> Result<Vec<Value>> {
    caller.require(Perm::Stock)?;
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {STORE_JSON} FROM stock_stores s
         WHERE s.place_code LIKE $1 || '%' OR $1 LIKE s.place_code || '%'
         ORDER BY s.place_code, s.kind, s.code"
    )))
    .bind(caller.scope.prefix())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

async fn store_json(conn: &mut PgConnection, caller: &Caller, id: i64) -> Result<Value> {
    sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(format!(
        "SELECT {STORE_JSON} FROM stock_stores s WHERE s.id = $2"
    )))
    .bind(caller.scope.prefix())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("store_not_found", format!("no store with id {id}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub place_code: String,
}

/// Adds a store (admin), audited. 409 `store_exists`; a place that is not a county, township or
/// village (or not of the store kind's level) is a 422 on `place_code`.
pub async fn create_store(pool: &PgPool, caller: &Caller, new: NewStore) -> Result<Value> {
    caller.require(Perm::Admin)?;
    let code = new.code.trim().to_owned();
    if code.is_empty()
        || code.len() > 32
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::invalid_field(
            "code",
            "a store code is 1 to 32 letters, digits, - or _",
        ));
    }
    let name = text_field("name", &new.name, 100)?;
    if !STORE_KINDS.contains(&new.kind.as_str()) {
        return Err(Error::invalid_field(
            "kind",
            format!(
                "kind is one of {}, not {:?}",
                STORE_KINDS.join(", "),
                new.kind
            ),
        ));
    }
    let place = new.place_code.trim().to_owned();
    let level_ok = match new.kind.as_str() {
        "village_clinic" => place.len() == 12,
        "township_centre" => place.len() == 9,
        _ => place.len() == 6 || place.len() == 9,
    };
    if !level_ok || !place.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid_field(
            "place_code",
            format!(
                "a {} store is placed at a {} code, not {place:?}",
                new.kind,
                match new.kind.as_str() {
                    "village_clinic" => "village (12-digit)",
                    "township_centre" => "township (9-digit)",
                    _ => "county or township (6- or 9-digit)",
                }
            ),
        ));
    }
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stock_stores (code, name, kind, place_code, created_by)
         VALUES ($1, $2, $3::stock_store_kind, $4, $5) RETURNING id",
    )
    .bind(&code)
    .bind(&name)
    .bind(&new.kind)
    .bind(&place)
    .bind(&caller.username)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23503") => Error::invalid_field(
            "place_code",
            format!("no county, township or village has the code {place}"),
        ),
        _ => unique_conflict(e, "store_exists", format!("a store has the code {code}")),
    })?;
    let after = store_json(&mut tx, caller, id).await?;
    audit::record(
        &mut tx,
        &actor(caller),
        Entry {
            action: "create",
            table: Some("stock_stores"),
            row_id: Some(id.to_string()),
            after: Some(after.clone()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreChanges {
    pub name: Option<String>,
    pub active: Option<bool>,
}

/// Renames or (de)activates a store (admin), audited.
pub async fn update_store(
    pool: &PgPool,
    caller: &Caller,
    id: i64,
    changes: StoreChanges,
) -> Result<Value> {
    caller.require(Perm::Admin)?;
    let name = changes
        .name
        .as_deref()
        .map(|n| text_field("name", n, 100))
        .transpose()?;
    let mut tx = pool.begin().await?;
    let before = store_json(&mut tx, caller, id).await?;
    sqlx::query(
        "UPDATE stock_stores SET name = coalesce($2, name), active = coalesce($3, active)
         WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(changes.active)
    .execute(&mut *tx)
    .await?;
    let after = store_json(&mut tx, caller, id).await?;
    audit::record(
        &mut tx,
        &actor(caller),
        Entry {
            action: "update",
            table: Some("stock_stores"),
            row_id: Some(id.to_string()),
            before: Some(before),
            after: Some(after.clone()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Whether `caller` sees the store placed at `place_code` in [`stores`]: inside the
/// jurisdiction, or a unit that contains it.
pub fn visible(caller: &Caller, place_code: &str) -> bool {
    caller.scope.covers(place_code) || caller.scope.prefix().starts_with(place_code)
}
