//! Stock counts (盘点): a count session per store. Opening one freezes the book quantity of every
//! lot the store holds ([`open`]); lines are counted by scanning or typing, in batches of
//! entries each with the client's id so that a resend adds nothing ([`enter`]); a serialised
//! code counts once per count; a blind count hides the book from the counter while it is open
//! ([`get`]); a line that differs from its book needs a reason ([`set_reason`]); finalising
//! writes one adjustment per differing line through the ledger in one transaction, after
//! checking that no counted lot moved since its book was frozen ([`finalise`]): a lot that did
//! is reset for a recount and named in the 409 `count_recount`.
//!
//! Every write locks the count's row first: entries, reasons, finalising and cancelling of one
//! count are serialised, and a count finalised or cancelled takes no more entries.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use super::{StoreRef, store_in_scope};
use crate::audit::{self, Actor};
use crate::auth::{Caller, Perm};
use crate::error::{Error, Result};
use echinomap_domain::barcode::{self, Options, Scanned};

/// Entries one request may carry (an offline outbox sends its queue in batches of this size).
pub const MAX_ENTRIES: usize = 500;

/// The reasons a counted line may give for its difference (`opening_balance` is the migration's).
pub const REASONS: [&str; 5] = ["count_correction", "expired", "damaged", "lost", "returned"];

/// Where a count is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    Finalised,
    Cancelled,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "open" => Some(State::Open),
            "finalised" => Some(State::Finalised),
            "cancelled" => Some(State::Cancelled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Finalised => "finalised",
            State::Cancelled => "cancelled",
        }
    }
}

/// The SQL of a count's state for a count aliased `c`.
const STATE_SQL: &str = "CASE WHEN c.finalised_at IS NOT NULL THEN 'finalised' \
                         WHEN c.cancelled_at IS NOT NULL THEN 'cancelled' ELSE 'open' END";

/// One scan or typed entry as the client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The client's id of the entry (8–64 characters): a resend with the same id adds nothing.
    pub client_id: String,
    /// The scanned text (a GS1 element string, a GTIN, a traceability code).
    #[serde(default)]
    pub code: Option<String>,
    /// The lot, when typed, or when the client resends a scan that was `lot_ambiguous`.
    #[serde(default)]
    pub lot_id: Option<i64>,
    /// `scan` adds to the line, `set` makes it the line's count.
    pub mode: String,
    /// Base units; a scan without it counts the code's pack quantity.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Set by the caller when the entry's JSON was not an entry (why): it is refused by itself.
    #[serde(skip)]
    pub malformed: Option<String>,
}

impl Entry {
    /// An entry from its JSON: a malformed one keeps its client id (when it has one) and is
    /// refused by [`enter`] alone, the rest of the batch counted.
    pub fn from_json(v: Value) -> Entry {
        let client_id = v["client_id"].as_str().unwrap_or_default().to_owned();
        serde_json::from_value::<Entry>(v).unwrap_or_else(|e| Entry {
            client_id,
            code: None,
            lot_id: None,
            mode: String::new(),
            quantity: None,
            malformed: Some(format!("the entry is not valid: {e}")),
        })
    }
}

/// A count's row, as read under its lock.
#[derive(Debug, sqlx::FromRow)]
struct CountRow {
    id: i64,
    store_id: i64,
    blind: bool,
    state: String,
}

fn actor(caller: &Caller) -> Actor {
    Actor::user(caller.user_id, &caller.username)
}

fn not_found(id: i64) -> Error {
    Error::not_found("count_not_found", format!("no stock count with id {id}"))
}

/// The count `id`, locked for update when `lock`, with its store checked against the caller's
/// jurisdiction for `perm`.
async fn load(
    conn: &mut PgConnection,
    caller: &Caller,
    perm: Perm,
    id: i64,
    lock: bool,
) -> Result<(CountRow, StoreRef)> {
    caller.require(perm)?;
    let sql = if lock {
        "SELECT c.id, c.store_id, c.blind, CASE WHEN c.finalised_at IS NOT NULL THEN 'finalised' \
         WHEN c.cancelled_at IS NOT NULL THEN 'cancelled' ELSE 'open' END AS state \
         FROM stock_counts c WHERE c.id = $1 FOR UPDATE"
    } else {
        "SELECT c.id, c.store_id, c.blind, CASE WHEN c.finalised_at IS NOT NULL THEN 'finalised' \
         WHEN c.cancelled_at IS NOT NULL THEN 'cancelled' ELSE 'open' END AS state \
         FROM stock_counts c WHERE c.id = $1"
    };
    let row: CountRow = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| not_found(id))?;
    let store = store_in_scope(conn, caller, perm, row.store_id).await?;
    Ok((row, store))
}

/// 409 `count_finalised` / `count_cancelled` unless the count is open.
fn require_open(row: &CountRow) -> Result<()> {
    match row.state.as_str() {
        "finalised" => Err(Error::Conflict {
            code: "count_finalised",
            message: format!(
                "stock count {} is finalised: it takes no more changes",
                row.id
            ),
        }),
        "cancelled" => Err(Error::Conflict {
            code: "count_cancelled",
            message: format!(
                "stock count {} was cancelled: it takes no more changes",
                row.id
            ),
        }),
        _ => Ok(()),
    }
}

/// The count's header as the API shows it.
async fn header(conn: &mut PgConnection, id: i64) -> Result<Value> {
    let v: Option<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT json_build_object(
             'id', c.id,
             'store', json_build_object('id', s.id, 'code', s.code, 'name', s.name,
                                        'kind', s.kind, 'place_code', s.place_code),
             'blind', c.blind, 'note', c.note, 'opened_by', c.opened_by, 'opened_at', c.opened_at,
             'state', {STATE_SQL}, 'finalised_by', c.finalised_by, 'finalised_at', c.finalised_at,
             'cancelled_at', c.cancelled_at,
             'lines', (SELECT count(*) FROM stock_count_lines l WHERE l.count_id = c.id),
             'counted', (SELECT count(*) FROM stock_count_lines l
                         WHERE l.count_id = c.id AND l.counted IS NOT NULL))
         FROM stock_counts c JOIN stock_stores s ON s.id = c.store_id WHERE c.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    v.ok_or_else(|| not_found(id))
}

/// `POST /api/stock/counts`: opens a count of the store, its lines the lots it holds (more than
/// zero on hand), each with the book quantity frozen now. 409 `count_open` (details
/// `{count_id}`) when the store has an open count.
pub async fn open(
    pool: &PgPool,
    caller: &Caller,
    store_id: i64,
    blind: bool,
    note: Option<String>,
) -> Result<Value> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(Error::invalid_field(
            "note",
            "the note is longer than 500 characters",
        ));
    }
    let mut tx = pool.begin().await?;
    let store = store_in_scope(&mut tx, caller, Perm::StockWrite, store_id).await?;
    let open_one = |count_id: Option<i64>| Error::ConflictWith {
        code: "count_open",
        message: format!(
            "the store {} has an open stock count{}: finalise or cancel it first",
            store.code,
            count_id.map(|i| format!(" ({i})")).unwrap_or_default()
        ),
        details: json!({ "count_id": count_id }),
    };
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM stock_counts
         WHERE store_id = $1 AND finalised_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(store.id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = existing {
        return Err(open_one(Some(id)));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stock_counts (store_id, blind, note, opened_by) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(store.id)
    .bind(blind)
    .bind(&note)
    .bind(&caller.username)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => open_one(None),
        _ => Error::Database(e),
    })?;
    // FOR SHARE: a movement of the store in flight is waited for, and none starts until the
    // count's lines are written with the quantities read here.
    let lines = sqlx::query(
        "INSERT INTO stock_count_lines (count_id, lot_id, book_quantity, book_movement_id)
         SELECT $1, h.lot_id, h.quantity, h.last_movement_id FROM stock_on_hand h
         WHERE h.store_id = $2 AND h.quantity > 0
         FOR SHARE",
    )
    .bind(id)
    .bind(store.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    audit::record(
        &mut tx,
        &actor(caller),
        audit::Entry {
            action: "create",
            table: Some("stock_counts"),
            row_id: Some(id.to_string()),
            after: Some(json!({ "store_id": store.id, "blind": blind, "lines": lines })),
            ..Default::default()
        },
    )
    .await?;
    let count = header(&mut tx, id).await?;
    tx.commit().await?;
    Ok(count)
}

/// `GET /api/stock/counts`: the counts of the stores in the caller's jurisdiction, newest
/// first, optionally of one store and in one state.
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    store: Option<i64>,
    state: Option<State>,
) -> Result<Vec<Value>> {
    caller.require(Perm::Stock)?;
    let mut conn = pool.acquire().await?;
    if let Some(id) = store {
        store_in_scope(&mut conn, caller, Perm::Stock, id).await?;
    }
    let items: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT json_build_object(
             'id', c.id,
             'store', json_build_object('id', s.id, 'code', s.code, 'name', s.name),
             'blind', c.blind, 'note', c.note, 'opened_by', c.opened_by, 'opened_at', c.opened_at,
             'state', {STATE_SQL}, 'finalised_by', c.finalised_by, 'finalised_at', c.finalised_at,
             'cancelled_at', c.cancelled_at,
             'lines', (SELECT count(*) FROM stock_count_lines l WHERE l.count_id = c.id),
             'counted', (SELECT count(*) FROM stock_count_lines l
                         WHERE l.count_id = c.id AND l.counted IS NOT NULL))
         FROM stock_counts c JOIN stock_stores s ON s.id = c.store_id
         WHERE s.place_code LIKE $1 || '%'
           AND ($2::bigint IS NULL OR c.store_id = $2)
           AND ($3::text IS NULL OR {STATE_SQL} = $3)
         ORDER BY c.opened_at DESC, c.id DESC
         LIMIT 500"
    )))
    .bind(caller.scope.prefix())
    .bind(store)
    .bind(state.map(State::as_str))
    .fetch_all(&mut *conn)
    .await?;
    Ok(items)
}

/// `GET /api/stock/counts/{id}`: the count and its lines; while a blind count is open, without
/// the book quantities and the differences.
pub async fn get(pool: &PgPool, caller: &Caller, id: i64) -> Result<Value> {
    let mut conn = pool.acquire().await?;
    let (row, _store) = load(&mut conn, caller, Perm::Stock, id, false).await?;
    let hide = row.blind && row.state == "open";
    let count = header(&mut conn, id).await?;
    let lines: Vec<Value> = sqlx::query_scalar(
        "SELECT json_build_object(
             'lot', json_build_object('id', lo.id, 'batch', lo.batch, 'expires_on', lo.expires_on),
             'item', json_build_object('id', i.id, 'code', i.code, 'name', i.name, 'unit', i.unit),
             'book_quantity', l.book_quantity, 'counted', l.counted,
             'difference', l.counted - l.book_quantity,
             'reason', l.reason, 'recount', l.recount,
             'counted_by', l.counted_by, 'counted_at', l.counted_at)
         FROM stock_count_lines l
         JOIN stock_lots lo ON lo.id = l.lot_id
         JOIN stock_items i ON i.id = lo.item_id
         WHERE l.count_id = $1
         ORDER BY i.name, i.id, lo.expires_on NULLS LAST, lo.batch, lo.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let lines = if hide {
        lines
            .into_iter()
            .map(|mut l| {
                if let Some(m) = l.as_object_mut() {
                    m.remove("book_quantity");
                    m.remove("difference");
                }
                l
            })
            .collect()
    } else {
        lines
    };
    Ok(json!({ "count": count, "lines": lines }))
}

/// What became of one entry.
fn result(client_id: &str, status: &str, line: Option<(i64, Option<i64>)>) -> Value {
    let mut out = json!({ "client_id": client_id, "status": status });
    if let Some((lot_id, counted)) = line {
        out["line"] = json!({ "lot_id": lot_id, "counted": counted });
    }
    out
}

fn refused(client_id: &str, code: &str, message: String, params: Value) -> Value {
    json!({
        "client_id": client_id,
        "status": "refused",
        "error": { "code": code, "message": message, "params": params },
    })
}

/// Checks a batch as a whole: more than [`MAX_ENTRIES`] is a 400 (one malformed entry is
/// refused by itself, see [`check_entry`]).
fn check_batch(entries: &[Entry]) -> Result<()> {
    if entries.len() > MAX_ENTRIES {
        return Err(Error::invalid_param(
            "entries",
            format!(
                "at most {MAX_ENTRIES} entries a request, not {}",
                entries.len()
            ),
        ));
    }
    Ok(())
}

/// The largest quantity an entry may give (the client caps what is typed the same way).
pub const MAX_QUANTITY: i64 = 1_000_000;

/// What is wrong with one entry, as its refusal (`invalid_field`, params `{field}`), or None.
fn check_entry(e: &Entry) -> Option<Value> {
    let bad = |f: &str, message: String| {
        Some(refused(
            &e.client_id,
            "invalid_field",
            message,
            json!({ "field": f }),
        ))
    };
    if let Some(why) = &e.malformed {
        return bad("entry", why.clone());
    }
    let n = e.client_id.chars().count();
    if !(8..=64).contains(&n) || e.client_id.chars().any(char::is_control) {
        return bad(
            "client_id",
            "a client id has 8 to 64 printable characters".to_owned(),
        );
    }
    if e.mode != "scan" && e.mode != "set" {
        return bad("mode", format!("mode is scan or set, not {:?}", e.mode));
    }
    if let Some(q) = e.quantity
        && !(0..=MAX_QUANTITY).contains(&q)
    {
        return bad(
            "quantity",
            format!("a quantity is a whole number from 0 to {MAX_QUANTITY}, not {q}"),
        );
    }
    let code = e.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if code.is_none() && e.lot_id.is_none() {
        return bad(
            "code",
            "an entry names a code (scanned) or a lot_id (typed)".to_owned(),
        );
    }
    if e.mode == "set" && e.quantity.is_none() {
        return bad(
            "quantity",
            "a set entry gives the quantity counted".to_owned(),
        );
    }
    if code.is_none() && e.quantity.is_none() {
        return bad("quantity", "a typed entry gives its quantity".to_owned());
    }
    if e.code.as_deref().is_some_and(|c| c.chars().count() > 200) {
        return bad(
            "code",
            "a scanned code has at most 200 characters".to_owned(),
        );
    }
    None
}

/// A lot as the entries name it.
#[derive(Debug, sqlx::FromRow)]
struct LotRow {
    id: i64,
    item_id: i64,
}

/// What a scanned code resolves to, or the refusal of the entry.
enum Resolved {
    Lot {
        lot_id: i64,
        pack_quantity: i64,
        serial_key: Option<String>,
    },
    Refused(&'static str, String, Value),
}

/// The lot a scan names: the code's GS1 batch, the lot a veterinary code was tied to, the lot
/// the client chose, or the item's only line in the count.
async fn resolve(
    conn: &mut PgConnection,
    caller: &Caller,
    count_id: i64,
    scanned: &Scanned,
    chosen_lot: Option<i64>,
) -> Result<Resolved> {
    let (kind, code) = scanned.lookup();
    let known: Option<(i64, i32, Option<i64>)> = sqlx::query_as(
        "SELECT item_id, pack_quantity, lot_id FROM stock_barcodes
         WHERE kind = $1::stock_code_kind AND code = $2",
    )
    .bind(kind)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((item_id, pack_quantity, code_lot)) = known else {
        return Ok(Resolved::Refused(
            "barcode_unknown",
            format!("no item has the {kind} code {code}: an administrator can map it to an item"),
            json!({ "kind": kind, "code": code, "parsed": scanned.to_json() }),
        ));
    };
    let serial_key = scanned.serial_key();
    let found = |lot_id: i64| Resolved::Lot {
        lot_id,
        pack_quantity: i64::from(pack_quantity),
        serial_key: serial_key.clone(),
    };
    if let Some(lot_id) = code_lot {
        return Ok(found(lot_id));
    }
    if let Scanned::Gs1 {
        batch: Some(batch),
        expiry,
        ..
    } = scanned
    {
        // Found stock: a batch the catalogue does not know yet becomes a lot with the code's
        // expiry (a receipt of the same batch later finds it).
        sqlx::query(
            "INSERT INTO stock_lots (item_id, batch, expires_on, created_by)
             VALUES ($1, $2, $3, $4) ON CONFLICT (item_id, batch) DO NOTHING",
        )
        .bind(item_id)
        .bind(batch)
        .bind(expiry)
        .bind(&caller.username)
        .execute(&mut *conn)
        .await?;
        let lot_id: i64 =
            sqlx::query_scalar("SELECT id FROM stock_lots WHERE item_id = $1 AND batch = $2")
                .bind(item_id)
                .bind(batch)
                .fetch_one(&mut *conn)
                .await?;
        return Ok(found(lot_id));
    }
    if let Some(lot_id) = chosen_lot {
        let lot: Option<LotRow> =
            sqlx::query_as("SELECT id, item_id FROM stock_lots WHERE id = $1")
                .bind(lot_id)
                .fetch_optional(&mut *conn)
                .await?;
        return Ok(match lot {
            Some(l) if l.item_id == item_id => found(l.id),
            _ => Resolved::Refused(
                "lot_not_found",
                format!("the item of code {code} has no lot with id {lot_id}"),
                json!({ "lot_id": lot_id, "item_id": item_id }),
            ),
        });
    }
    let lines: Vec<Value> = sqlx::query_scalar(
        "SELECT json_build_object('id', lo.id, 'batch', lo.batch, 'expires_on', lo.expires_on)
         FROM stock_count_lines l JOIN stock_lots lo ON lo.id = l.lot_id
         WHERE l.count_id = $1 AND lo.item_id = $2
         ORDER BY lo.expires_on NULLS LAST, lo.id",
    )
    .bind(count_id)
    .bind(item_id)
    .fetch_all(&mut *conn)
    .await?;
    if let [only] = lines.as_slice()
        && let Some(lot_id) = only["id"].as_i64()
    {
        return Ok(found(lot_id));
    }
    // None or several: the counter says which lot (the item's lots, when the count has none).
    let lots = if lines.is_empty() {
        sqlx::query_scalar(
            "SELECT json_build_object('id', lo.id, 'batch', lo.batch, 'expires_on', lo.expires_on)
             FROM stock_lots lo WHERE lo.item_id = $1
             ORDER BY lo.expires_on NULLS LAST, lo.id LIMIT 50",
        )
        .bind(item_id)
        .fetch_all(&mut *conn)
        .await?
    } else {
        lines
    };
    let item: Value = sqlx::query_scalar(
        "SELECT json_build_object('id', id, 'code', code, 'name', name, 'unit', unit)
         FROM stock_items WHERE id = $1",
    )
    .bind(item_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Resolved::Refused(
        "lot_ambiguous",
        format!(
            "the code {code} names the item {} but not its lot: choose the lot",
            item["name"].as_str().unwrap_or("?")
        ),
        json!({ "item": item, "lots": lots }),
    ))
}

/// The line of `lot_id` in the count, made (book = what the store holds of it now, 0 for found
/// stock) when the lot was not among the lines.
async fn ensure_line(
    conn: &mut PgConnection,
    count_id: i64,
    store_id: i64,
    lot_id: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO stock_count_lines (count_id, lot_id, book_quantity, book_movement_id)
         SELECT $1, $3, coalesce(h.quantity, 0), h.last_movement_id
         FROM (SELECT 1) one
         LEFT JOIN stock_on_hand h ON h.store_id = $2 AND h.lot_id = $3
         ON CONFLICT (count_id, lot_id) DO NOTHING",
    )
    .bind(count_id)
    .bind(store_id)
    .bind(lot_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `POST /api/stock/counts/{id}/entries`: counts a batch of scans and typed entries, in one
/// transaction (codes read as of `today`), and says what became of each (`counted`, `duplicate` for a client id seen
/// before, `already_scanned` for a serialised pack counted before, `refused` with the reason).
pub async fn enter(
    pool: &PgPool,
    caller: &Caller,
    id: i64,
    entries: &[Entry],
    options: &Options,
    today: NaiveDate,
) -> Result<Vec<Value>> {
    check_batch(entries)?;
    let mut tx = pool.begin().await?;
    let (row, store) = load(&mut tx, caller, Perm::StockWrite, id, true).await?;
    require_open(&row)?;
    let mut results = Vec::with_capacity(entries.len());
    for e in entries {
        if let Some(refusal) = check_entry(e) {
            results.push(refusal);
            continue;
        }
        let cid = e.client_id.as_str();
        // A resend: nothing added, the line as it is.
        let seen: Option<i64> = sqlx::query_scalar(
            "SELECT lot_id FROM stock_count_entries WHERE count_id = $1 AND client_id = $2",
        )
        .bind(id)
        .bind(cid)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(lot_id) = seen {
            let counted = line_counted(&mut tx, id, lot_id).await?;
            results.push(result(cid, "duplicate", Some((lot_id, counted))));
            continue;
        }
        let code = e.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let (lot_id, quantity, serial_key) = match code {
            Some(raw) => {
                let scanned = match barcode::parse_on(raw, options, today) {
                    Ok(s) => s,
                    Err(b) => {
                        results.push(refused(cid, b.code, b.message, b.params));
                        continue;
                    }
                };
                match resolve(&mut tx, caller, id, &scanned, e.lot_id).await? {
                    Resolved::Refused(code, message, params) => {
                        results.push(refused(cid, code, message, params));
                        continue;
                    }
                    Resolved::Lot {
                        lot_id,
                        pack_quantity,
                        serial_key,
                    } => (
                        lot_id,
                        e.quantity.unwrap_or(pack_quantity),
                        // A set replaces the line's count: no pack of it is counted by itself.
                        serial_key.filter(|_| e.mode == "scan"),
                    ),
                }
            }
            None => {
                let lot_id = e.lot_id.unwrap_or_default();
                let exists: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM stock_lots WHERE id = $1)")
                        .bind(lot_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if !exists {
                    results.push(refused(
                        cid,
                        "lot_not_found",
                        format!("no lot with id {lot_id}"),
                        json!({ "lot_id": lot_id }),
                    ));
                    continue;
                }
                (lot_id, e.quantity.unwrap_or_default(), None)
            }
        };
        if let Some(key) = &serial_key {
            let before: Option<i64> = sqlx::query_scalar(
                "SELECT lot_id FROM stock_count_entries
                 WHERE count_id = $1 AND serial_key = $2 AND NOT void",
            )
            .bind(id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(lot) = before {
                let counted = line_counted(&mut tx, id, lot).await?;
                results.push(result(cid, "already_scanned", Some((lot, counted))));
                continue;
            }
        }
        let before = if e.mode == "set" {
            0
        } else {
            line_counted(&mut tx, id, lot_id).await?.unwrap_or(0)
        };
        if before + quantity > i64::from(i32::MAX) {
            results.push(refused(
                cid,
                "invalid_field",
                format!("the line's count would exceed what is possible ({before} + {quantity})"),
                json!({ "field": "quantity" }),
            ));
            continue;
        }
        ensure_line(&mut tx, id, store.id, lot_id).await?;
        sqlx::query(
            "INSERT INTO stock_count_entries
                 (count_id, client_id, lot_id, mode, quantity, code, serial_key, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(cid)
        .bind(lot_id)
        .bind(&e.mode)
        .bind(i32::try_from(quantity).unwrap_or(i32::MAX))
        .bind(code)
        .bind(&serial_key)
        .bind(&caller.username)
        .execute(&mut *tx)
        .await?;
        let counted: i32 = sqlx::query_scalar(
            "UPDATE stock_count_lines
             SET counted = CASE WHEN $3 = 'set' THEN $4 ELSE coalesce(counted, 0) + $4 END,
                 counted_by = $5, counted_at = now()
             WHERE count_id = $1 AND lot_id = $2
             RETURNING counted",
        )
        .bind(id)
        .bind(lot_id)
        .bind(&e.mode)
        .bind(i32::try_from(quantity).unwrap_or(i32::MAX))
        .bind(&caller.username)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            // An integer overflow of the line's count: a typing error, not a count.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22003") => {
                Error::invalid_param("quantity", "the line's count would exceed what is possible")
            }
            _ => Error::Database(e),
        })?;
        results.push(result(
            cid,
            "counted",
            Some((lot_id, Some(i64::from(counted)))),
        ));
    }
    tx.commit().await?;
    Ok(results)
}

async fn line_counted(conn: &mut PgConnection, count_id: i64, lot_id: i64) -> Result<Option<i64>> {
    let counted: Option<Option<i32>> = sqlx::query_scalar(
        "SELECT counted FROM stock_count_lines WHERE count_id = $1 AND lot_id = $2",
    )
    .bind(count_id)
    .bind(lot_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(counted.flatten().map(i64::from))
}

/// `POST /api/stock/counts/{id}/lines/{lot_id}`: the reason of a line's difference (null clears
/// it).
pub async fn set_reason(
    pool: &PgPool,
    caller: &Caller,
    id: i64,
    lot_id: i64,
    reason: Option<&str>,
) -> Result<Value> {
    if let Some(r) = reason
        && !REASONS.contains(&r)
    {
        return Err(Error::invalid_field(
            "reason",
            format!("a reason is one of {}, not {r:?}", REASONS.join(", ")),
        ));
    }
    let mut tx = pool.begin().await?;
    let (row, _store) = load(&mut tx, caller, Perm::StockWrite, id, true).await?;
    require_open(&row)?;
    let n = sqlx::query(
        "UPDATE stock_count_lines SET reason = $3::stock_reason WHERE count_id = $1 AND lot_id = $2",
    )
    .bind(id)
    .bind(lot_id)
    .bind(reason)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::not_found(
            "lot_not_found",
            format!("stock count {id} has no line of lot {lot_id}"),
        ));
    }
    tx.commit().await?;
    Ok(json!({ "lot_id": lot_id, "reason": reason }))
}

/// `POST /api/stock/counts/{id}/finalise`: in one transaction, checks that no counted lot moved
/// since its book was frozen (else resets those lines for a recount, commits that and answers
/// 409 `count_recount` naming them), that every differing line has a reason (422
/// `reason_required`), then writes one adjustment per differing counted line through the
/// ledger and marks the count finalised. Lines not counted are left as they are (`uncounted`).
/// The adjustments are dated `today` (the programme's today).
pub async fn finalise(pool: &PgPool, caller: &Caller, id: i64, today: NaiveDate) -> Result<Value> {
    let mut tx = pool.begin().await?;
    let (row, store) = load(&mut tx, caller, Perm::StockWrite, id, true).await?;
    require_open(&row)?;
    // The counted lots' stock, locked: no movement of them until this commits. Every row is
    // returned (FOR UPDATE locks only the rows a query returns) and compared here; one pass of
    // index probes whatever the planner knows of the count's fresh lines.
    // (lot, book quantity, book's last movement, on hand now, last movement now)
    type Held = (i64, i32, Option<i64>, Option<i32>, Option<i64>);
    let held: Vec<Held> = sqlx::query_as(
        "SELECT l.lot_id, l.book_quantity, l.book_movement_id, h.quantity, h.last_movement_id
         FROM stock_count_lines l
         LEFT JOIN LATERAL (
             SELECT quantity, last_movement_id FROM stock_on_hand
             WHERE store_id = $2 AND lot_id = l.lot_id
             FOR UPDATE) h ON true
         WHERE l.count_id = $1 AND l.counted IS NOT NULL
         ORDER BY l.lot_id",
    )
    .bind(id)
    .bind(store.id)
    .fetch_all(&mut *tx)
    .await?;
    // A lot moved when its last movement is not the one frozen with the book, even when the
    // quantity came back to the same number (issue 10, receive 10).
    let stale: Vec<i64> = held
        .iter()
        .filter(|(_, book, book_mv, now, now_mv)| now.unwrap_or(0) != *book || now_mv != book_mv)
        .map(|(lot, ..)| *lot)
        .collect();
    if !stale.is_empty() {
        reset_lines(&mut tx, caller, id, store.id, &stale).await?;
        tx.commit().await?;
        return Err(recount(id, &stale));
    }
    let missing: Vec<i64> = sqlx::query_scalar(
        "SELECT lot_id FROM stock_count_lines
         WHERE count_id = $1 AND counted IS NOT NULL AND counted <> book_quantity
           AND reason IS NULL
         ORDER BY lot_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !missing.is_empty() {
        return Err(Error::field_refused(
            "reason",
            "reason_required",
            json!({ "lines": missing }),
            format!(
                "{} line(s) differ from the book without a reason: give each a reason first",
                missing.len()
            ),
        ));
    }
    let adjustments: Vec<Value> = sqlx::query_scalar(
        "WITH written AS (
             INSERT INTO stock_movements (item_id, moved_on, kind, quantity, batch, store_id,
                                          lot_id, count_id, reason, note, created_by)
             SELECT lo.item_id, $4, 'adjustment'::stock_movement_kind, l.counted - l.book_quantity, lo.batch,
                    $2, l.lot_id, $1, l.reason, '盘点 ' || $1, $3
             FROM stock_count_lines l JOIN stock_lots lo ON lo.id = l.lot_id
             WHERE l.count_id = $1 AND l.counted IS NOT NULL AND l.counted <> l.book_quantity
             ORDER BY l.lot_id
             RETURNING id, lot_id, quantity, reason)
         SELECT json_build_object('id', id, 'lot_id', lot_id, 'quantity', quantity,
                                  'reason', reason)
         FROM written ORDER BY lot_id",
    )
    .bind(id)
    .bind(store.id)
    .bind(&caller.username)
    .bind(today)
    .fetch_all(&mut *tx)
    .await
    .map_err(super::refusal)?;
    // A lot the store did not hold when it was locked above may have been received since:
    // the stock must now be what was counted, or the count is refused and counted again.
    let moved: Vec<i64> = sqlx::query_scalar(
        "SELECT l.lot_id FROM stock_count_lines l
         LEFT JOIN stock_on_hand h ON h.store_id = $2 AND h.lot_id = l.lot_id
         WHERE l.count_id = $1 AND l.counted IS NOT NULL
           AND coalesce(h.quantity, 0) <> l.counted
         ORDER BY l.lot_id",
    )
    .bind(id)
    .bind(store.id)
    .fetch_all(&mut *tx)
    .await?;
    if !moved.is_empty() {
        // Nothing of the adjustments stays; the lines are reset for a recount in a new
        // transaction, as above.
        tx.rollback().await?;
        let mut tx = pool.begin().await?;
        let (row, store) = load(&mut tx, caller, Perm::StockWrite, id, true).await?;
        require_open(&row)?;
        reset_lines(&mut tx, caller, id, store.id, &moved).await?;
        tx.commit().await?;
        return Err(recount(id, &moved));
    }
    let uncounted: Vec<i64> = sqlx::query_scalar(
        "SELECT lot_id FROM stock_count_lines WHERE count_id = $1 AND counted IS NULL
         ORDER BY lot_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("UPDATE stock_counts SET finalised_at = now(), finalised_by = $2 WHERE id = $1")
        .bind(id)
        .bind(&caller.username)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &actor(caller),
        audit::Entry {
            action: "update",
            table: Some("stock_counts"),
            row_id: Some(id.to_string()),
            after: Some(json!({ "state": "finalised" })),
            detail: Some(json!({
                "adjustments": adjustments.len(),
                "uncounted": uncounted.len(),
            })),
            ..Default::default()
        },
    )
    .await?;
    let count = header(&mut tx, id).await?;
    tx.commit().await?;
    Ok(json!({ "count": count, "adjustments": adjustments, "uncounted": uncounted }))
}

/// Resets `lots`' lines for a recount: book refreshed (quantity and last movement), counted and
/// reason cleared, `recount` set, their entries voided; audited.
async fn reset_lines(
    conn: &mut PgConnection,
    caller: &Caller,
    id: i64,
    store_id: i64,
    lots: &[i64],
) -> Result<()> {
    sqlx::query(
        "UPDATE stock_count_lines l
         SET book_quantity = coalesce(h.quantity, 0), book_movement_id = h.last_movement_id,
             counted = NULL, reason = NULL, recount = true, counted_by = NULL, counted_at = NULL
         FROM stock_count_lines l2
         LEFT JOIN stock_on_hand h ON h.store_id = $2 AND h.lot_id = l2.lot_id
         WHERE l.count_id = $1 AND l.lot_id = ANY($3)
           AND l2.count_id = l.count_id AND l2.lot_id = l.lot_id",
    )
    .bind(id)
    .bind(store_id)
    .bind(lots)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE stock_count_entries SET void = true
         WHERE count_id = $1 AND lot_id = ANY($2) AND NOT void",
    )
    .bind(id)
    .bind(lots)
    .execute(&mut *conn)
    .await?;
    audit::record(
        &mut *conn,
        &actor(caller),
        audit::Entry {
            action: "update",
            table: Some("stock_counts"),
            row_id: Some(id.to_string()),
            detail: Some(json!({ "recount": lots })),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

fn recount(id: i64, lots: &[i64]) -> Error {
    Error::ConflictWith {
        code: "count_recount",
        message: format!(
            "stock moved during count {id}: {} line(s) must be counted again",
            lots.len()
        ),
        details: json!({ "lines": lots }),
    }
}

/// `POST /api/stock/counts/{id}/cancel`: the count ends without changing any stock.
pub async fn cancel(pool: &PgPool, caller: &Caller, id: i64) -> Result<Value> {
    let mut tx = pool.begin().await?;
    let (row, _store) = load(&mut tx, caller, Perm::StockWrite, id, true).await?;
    require_open(&row)?;
    sqlx::query("UPDATE stock_counts SET cancelled_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &actor(caller),
        audit::Entry {
            action: "update",
            table: Some("stock_counts"),
            row_id: Some(id.to_string()),
            after: Some(json!({ "state": "cancelled" })),
            ..Default::default()
        },
    )
    .await?;
    let count = header(&mut tx, id).await?;
    tx.commit().await?;
    Ok(json!({ "count": count }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        client_id: &str,
        code: Option<&str>,
        lot: Option<i64>,
        mode: &str,
        q: Option<i64>,
    ) -> Entry {
        Entry {
            client_id: client_id.to_owned(),
            code: code.map(str::to_owned),
            lot_id: lot,
            mode: mode.to_owned(),
            quantity: q,
            malformed: None,
        }
    }

    #[test]
    fn a_malformed_entry_is_refused_by_itself() {
        let refused_field = |e: &Entry| {
            check_entry(e).map(|v| {
                assert_eq!(v["status"], "refused");
                assert_eq!(v["error"]["code"], "invalid_field");
                v["error"]["params"]["field"]
                    .as_str()
                    .expect("a field")
                    .to_owned()
            })
        };
        let ok = entry("abcdefgh", Some("4006381333931"), None, "scan", None);
        assert_eq!(refused_field(&ok), None);
        let short = entry("abc", Some("4006381333931"), None, "scan", None);
        assert_eq!(refused_field(&short).as_deref(), Some("client_id"));
        let typed = entry("abcdefgh", None, Some(3), "scan", None);
        assert_eq!(refused_field(&typed).as_deref(), Some("quantity"));
        let set = entry("abcdefgh", Some("4006381333931"), None, "set", None);
        assert_eq!(refused_field(&set).as_deref(), Some("quantity"));
        let nothing = entry("abcdefgh", None, None, "scan", Some(1));
        assert_eq!(refused_field(&nothing).as_deref(), Some("code"));
        let mode = entry("abcdefgh", None, Some(1), "add", Some(1));
        assert_eq!(refused_field(&mode).as_deref(), Some("mode"));
        let negative = entry("abcdefgh", None, Some(1), "set", Some(-1));
        assert_eq!(refused_field(&negative).as_deref(), Some("quantity"));
        let broken = Entry::from_json(json!({ "client_id": "abcdefgh", "quantity": "x" }));
        assert_eq!(refused_field(&broken).as_deref(), Some("entry"));
        let huge = entry("abcdefgh", None, Some(1), "set", Some(MAX_QUANTITY + 1));
        assert_eq!(refused_field(&huge).as_deref(), Some("quantity"));
        let many = vec![ok; MAX_ENTRIES + 1];
        assert!(check_batch(&many).is_err(), "more than 500 is a 400");
    }

    #[test]
    fn states_read_back() {
        for s in [State::Open, State::Finalised, State::Cancelled] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("closed"), None);
    }
}
