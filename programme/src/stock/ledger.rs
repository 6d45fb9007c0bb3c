//! The ledger: receipts from suppliers, transfers between stores (issued, in transit, received
//! once with the quantity the receiving store got), tablets handed to a village for a deworming
//! round (`use`), adjustments with a reason; stock on hand per store × lot, the ledger's rows and
//! the first-expiry-first-out (FEFO) proposal for an issue.
//!
//! Every write is one transaction that only appends ledger rows; the database moves
//! `stock_on_hand` in the same statement and refuses what would go below zero or issue an
//! expired lot ([`super::refusal`] words it). Every write is audited with its answer, and an
//! `Idempotency-Key` makes a resend answer the first answer and write nothing (the key is kept
//! in `client_writes` with the endpoint's register, `stock:receipts`, `stock:transfers`,
//! `stock:receive`, `stock:uses` or `stock:adjustments`, pointing at the audit row of the
//! answer; the same key sent to another endpoint is a 422 `idempotency_key_reused`).
//!
//! Dates: a movement dated after the programme's today is refused (422 `date_in_future`), and a
//! lot past its expiry on today cannot be issued or used whatever date the movement bears.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::catalogue::{self, Lot, actor};
use super::{StoreRef, expiry_status, expiry_status_sql, refusal, store_in_scope};
use crate::audit::{self, Entry};
use crate::auth::{Caller, Perm};
use crate::error::{Error, Result};

/// The register names of stock writes in `client_writes`, one per endpoint.
pub const REGISTER_RECEIPTS: &str = "stock:receipts";
pub const REGISTER_TRANSFERS: &str = "stock:transfers";
pub const REGISTER_RECEIVE: &str = "stock:receive";
pub const REGISTER_USES: &str = "stock:uses";
pub const REGISTER_ADJUSTMENTS: &str = "stock:adjustments";
/// The adjustment reasons a user may give (`opening_balance` is the migration's own).
pub const ADJUSTMENT_REASONS: [&str; 5] =
    ["count_correction", "expired", "damaged", "lost", "returned"];
/// The movement kinds a list may be filtered by.
pub const KINDS: [&str; 5] = [
    "receipt",
    "transfer_out",
    "transfer_in",
    "use",
    "adjustment",
];
/// Most lines one write takes.
const MAX_LINES: usize = 500;
/// Most rows one page of the ledger holds, and the default.
pub const MAX_LIMIT: i64 = 500;
pub const DEFAULT_LIMIT: i64 = 100;

// ── Checks shared by the writes ───────────────────────────────────────────────────────────

fn optional_text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max => Err(Error::invalid_field(
            field,
            format!("{field} is at most {max} characters"),
        )),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn lines_count(n: usize) -> Result<()> {
    if n == 0 || n > MAX_LINES {
        return Err(Error::invalid_field(
            "lines",
            format!("a movement has 1 to {MAX_LINES} lines, not {n}"),
        ));
    }
    Ok(())
}

fn quantity_above_zero(q: i32) -> Result<()> {
    if q <= 0 {
        return Err(Error::invalid_field(
            "quantity",
            format!("a quantity is a whole number above 0, not {q}"),
        ));
    }
    Ok(())
}

/// 422 `date_in_future` on `field`: a movement is dated today at the latest.
fn not_in_future(field: &str, on: NaiveDate, today: NaiveDate) -> Result<()> {
    if on > today {
        return Err(Error::field_refused(
            field,
            "date_in_future",
            json!({ "date": on, "today": today }),
            format!("{field} {on} is after today ({today})"),
        ));
    }
    Ok(())
}

/// 422 `lot_expired` (field `lot`, with its expiry date) for a lot past its expiry on `today`,
/// whatever date the movement bears (a backdated issue cannot hand out an expired lot).
fn not_expired(lot: &Lot, today: NaiveDate) -> Result<()> {
    match lot.expires_on {
        Some(expires_on) if expires_on < today => Err(Error::field_refused(
            "lot",
            "lot_expired",
            json!({ "lot_id": lot.id, "batch": lot.batch, "expires_on": expires_on }),
            format!(
                "lot {} expired on {expires_on}: an expired lot cannot be issued",
                lot.batch
            ),
        )),
        _ => Ok(()),
    }
}

/// A store of the caller's jurisdiction where it may write, and active (422 `store_inactive`).
async fn writable_store(conn: &mut PgConnection, caller: &Caller, id: i64) -> Result<StoreRef> {
    let store = store_in_scope(conn, caller, Perm::StockWrite, id).await?;
    if !store.active {
        return Err(Error::field_refused(
            "store_id",
            "store_inactive",
            json!({ "store_id": id, "code": store.code }),
            format!("the store {} is closed: no movements", store.code),
        ));
    }
    Ok(store)
}

async fn lot_of_item(conn: &mut PgConnection, lot_id: i64, item_id: i64) -> Result<Lot> {
    let lot = catalogue::lot(conn, lot_id).await?;
    if lot.item_id != item_id {
        return Err(Error::invalid_field(
            "lot_id",
            format!(
                "lot {lot_id} ({}) is not a lot of item {item_id}",
                lot.batch
            ),
        ));
    }
    Ok(lot)
}

// ── Idempotency and the end of every write ────────────────────────────────────────────────

/// The answer of the write made earlier with `key` by the caller on the endpoint `register`, if
/// any (a resend); the key used by another write (another endpoint, another user, a record) is a
/// 422 `idempotency_key_reused`.
pub async fn replay(
    pool: &PgPool,
    caller: &Caller,
    key: Option<&str>,
    register: &str,
) -> Result<Option<Value>> {
    let Some(key) = key else { return Ok(None) };
    if !(8..=128).contains(&key.len()) {
        return Err(Error::InvalidRequest {
            code: "invalid_idempotency_key",
            message: "Idempotency-Key is 8 to 128 characters (a client-generated id)".to_owned(),
        });
    }
    let seen: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT user_id, register, record_id FROM client_writes WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?;
    let Some((user_id, used_on, record_id)) = seen else {
        return Ok(None);
    };
    if user_id != caller.user_id || used_on != register {
        return Err(key_reused(register));
    }
    let answer: Option<Option<Value>> =
        sqlx::query_scalar("SELECT after FROM audit_log WHERE id = $1")
            .bind(record_id)
            .fetch_optional(pool)
            .await?;
    Ok(answer.flatten())
}

/// 422 `idempotency_key_reused`: the key names another write than one on `register`.
fn key_reused(register: &str) -> Error {
    Error::field_refused(
        "idempotency_key",
        "idempotency_key_reused",
        json!({ "register": register }),
        format!(
            "this Idempotency-Key was used for another write: a write to {register} needs a new key"
        ),
    )
}

/// Audits the write with its `answer`, keeps the idempotency key, commits. A concurrent resend
/// with the same key that committed first wins: its answer is returned, this write rolled back.
async fn finish(
    pool: &PgPool,
    mut tx: Transaction<'_, Postgres>,
    caller: &Caller,
    key: Option<&str>,
    register: &str,
    (table, row_id): (&str, String),
    answer: Value,
) -> Result<Value> {
    audit::record(
        &mut tx,
        &actor(caller),
        Entry {
            action: "create",
            table: Some(table),
            row_id: Some(row_id),
            after: Some(answer.clone()),
            ..Entry::default()
        },
    )
    .await?;
    if let Some(key) = key {
        let stored = sqlx::query(
            "INSERT INTO client_writes (key, user_id, register, record_id)
             VALUES ($1, $2, $3, currval(pg_get_serial_sequence('audit_log', 'id')))",
        )
        .bind(key)
        .bind(caller.user_id)
        .bind(register)
        .execute(&mut *tx)
        .await;
        if let Err(e) = stored {
            let taken =
                matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"));
            if !taken {
                return Err(e.into());
            }
            tx.rollback().await?;
            return replay(pool, caller, Some(key), register)
                .await?
                .ok_or_else(|| key_reused(register));
        }
    }
    tx.commit().await?;
    Ok(answer)
}

// ── Ledger rows ───────────────────────────────────────────────────────────────────────────

/// One ledger row to append.
struct Move<'a> {
    store_id: i64,
    lot: &'a Lot,
    moved_on: NaiveDate,
    kind: &'static str,
    quantity: i32,
    transfer_id: Option<i64>,
    village_id: Option<i32>,
    reason: Option<&'a str>,
    supplier: Option<&'a str>,
    reference: Option<&'a str>,
    note: Option<&'a str>,
}

impl<'a> Move<'a> {
    fn new(store_id: i64, lot: &'a Lot, moved_on: NaiveDate, kind: &'static str, q: i32) -> Self {
        Self {
            store_id,
            lot,
            moved_on,
            kind,
            quantity: q,
            transfer_id: None,
            village_id: None,
            reason: None,
            supplier: None,
            reference: None,
            note: None,
        }
    }
}

/// Appends a row; the database's refusals come back as [`refusal`]s.
async fn append(conn: &mut PgConnection, caller: &Caller, m: Move<'_>) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO stock_movements (item_id, batch, expires_on, store_id, lot_id, moved_on, kind,
                                      quantity, transfer_id, village_id, reason, supplier,
                                      reference, note, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7::stock_movement_kind, $8, $9, $10,
                 $11::stock_reason, $12, $13, $14, $15)
         RETURNING id",
    )
    .bind(m.lot.item_id)
    .bind(&m.lot.batch)
    .bind(m.lot.expires_on)
    .bind(m.store_id)
    .bind(m.lot.id)
    .bind(m.moved_on)
    .bind(m.kind)
    .bind(m.quantity)
    .bind(m.transfer_id)
    .bind(m.village_id)
    .bind(m.reason)
    .bind(m.supplier)
    .bind(m.reference)
    .bind(m.note)
    .bind(&caller.username)
    .fetch_one(&mut *conn)
    .await
    .map_err(refusal)
}

// ── FEFO ──────────────────────────────────────────────────────────────────────────────────

/// A lot FEFO proposes, what the store has of it and how much to take.
#[derive(Debug, Clone)]
pub struct FefoLot {
    pub lot: Lot,
    pub available: i32,
    pub take: i32,
}

/// The lots of `item` at `store` an issue of `quantity` on `on` takes, earliest expiry first
/// (lots without expiry last; lots expired on `on` skipped: callers pass today or later), and
/// how much is missing (`short`).
pub async fn fefo(
    conn: &mut PgConnection,
    store_id: i64,
    item_id: i64,
    quantity: i32,
    on: NaiveDate,
) -> Result<(Vec<FefoLot>, i32)> {
    let rows: Vec<(i64, i64, String, Option<NaiveDate>, i32)> = sqlx::query_as(
        "SELECT l.id, l.item_id, l.batch, l.expires_on, h.quantity
         FROM stock_on_hand h JOIN stock_lots l ON l.id = h.lot_id
         WHERE h.store_id = $1 AND l.item_id = $2 AND h.quantity > 0
           AND (l.expires_on IS NULL OR l.expires_on >= $3)
         ORDER BY l.expires_on NULLS LAST, l.id",
    )
    .bind(store_id)
    .bind(item_id)
    .bind(on)
    .fetch_all(&mut *conn)
    .await?;
    let mut left = quantity.max(0);
    let lots = rows
        .into_iter()
        .map(|(id, item_id, batch, expires_on, available)| {
            let take = left.min(available);
            left -= take;
            FefoLot {
                lot: Lot {
                    id,
                    item_id,
                    batch,
                    expires_on,
                },
                available,
                take,
            }
        })
        .collect();
    Ok((lots, left))
}

/// `GET /api/stock/fefo`: the FEFO proposal as JSON.
pub async fn fefo_json(
    conn: &mut PgConnection,
    caller: &Caller,
    store_id: i64,
    item_id: i64,
    quantity: i32,
    on: NaiveDate,
    today: NaiveDate,
) -> Result<Value> {
    store_in_scope(conn, caller, Perm::Stock, store_id).await?;
    catalogue::item(conn, item_id).await?;
    // A lot expired today is not proposed for an issue backdated before its expiry.
    let on = on.max(today);
    let (lots, short) = fefo(conn, store_id, item_id, quantity, on).await?;
    let lots: Vec<Value> = lots
        .iter()
        .map(|f| {
            json!({
                "lot": { "id": f.lot.id, "batch": f.lot.batch, "expires_on": f.lot.expires_on },
                "available": f.available,
                "take": f.take,
                "expiry_status": expiry_status(f.lot.expires_on, on),
            })
        })
        .collect();
    Ok(json!({ "lots": lots, "short": short }))
}

/// One line of an issue (a transfer or a use): an item, optionally the lot, a quantity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueLine {
    pub item_id: i64,
    pub lot_id: Option<i64>,
    pub quantity: i32,
}

/// The (lot, quantity) pairs one issue line takes: its lot (422 `lot_expired` when it is past
/// its expiry on `today`), or the FEFO split over the lots unexpired on `today` (422
/// `stock_negative` with what they hold when they are short).
async fn issue_lots(
    conn: &mut PgConnection,
    store_id: i64,
    line: &IssueLine,
    today: NaiveDate,
) -> Result<Vec<(Lot, i32)>> {
    quantity_above_zero(line.quantity)?;
    if let Some(lot_id) = line.lot_id {
        let lot = lot_of_item(conn, lot_id, line.item_id).await?;
        not_expired(&lot, today)?;
        return Ok(vec![(lot, line.quantity)]);
    }
    catalogue::item(conn, line.item_id).await?;
    let (lots, short) = fefo(conn, store_id, line.item_id, line.quantity, today).await?;
    if short > 0 {
        let available: i32 = lots.iter().map(|f| f.available).sum();
        let detail: Vec<Value> = lots
            .iter()
            .map(|f| json!({ "lot_id": f.lot.id, "batch": f.lot.batch, "available": f.available }))
            .collect();
        let batches: Vec<&str> = lots.iter().map(|f| f.lot.batch.as_str()).collect();
        return Err(Error::field_refused(
            "quantity",
            "stock_negative",
            json!({
                "item_id": line.item_id,
                "batch": batches.join(", "),
                "available": available,
                "asked": line.quantity,
                "lots": detail,
            }),
            format!(
                "the store has {available} of item {} in unexpired lots ({}): {} cannot be issued",
                line.item_id,
                if batches.is_empty() {
                    "none".to_owned()
                } else {
                    batches.join(", ")
                },
                line.quantity
            ),
        ));
    }
    Ok(lots
        .into_iter()
        .filter(|f| f.take > 0)
        .map(|f| (f.lot, f.take))
        .collect())
}

/// The (lot, quantity) pairs of all the lines of an issue, in lot-id order: two issues that
/// touch the same lots lock their on-hand rows in the same order (no deadlock).
async fn issue_all(
    conn: &mut PgConnection,
    store_id: i64,
    lines: &[IssueLine],
    today: NaiveDate,
) -> Result<Vec<(Lot, i32)>> {
    let mut pairs = Vec::new();
    for line in lines {
        pairs.extend(issue_lots(conn, store_id, line, today).await?);
    }
    pairs.sort_by_key(|(lot, _)| lot.id);
    Ok(pairs)
}

// ── Receipts ──────────────────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    pub item_id: i64,
    pub batch: String,
    pub expires_on: NaiveDate,
    pub quantity: i32,
    /// Raw codes (veterinary, GTIN, drug traceability) to tie to this item and lot.
    #[serde(default)]
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub store_id: i64,
    pub received_on: NaiveDate,
    pub supplier: String,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub lines: Vec<ReceiptLine>,
}

/// The lot of `item` with `batch`, made when new; an existing lot with another expiry is a 422
/// on `expires_on` (`lot_expiry_mismatch`).
async fn receipt_lot(conn: &mut PgConnection, caller: &Caller, line: &ReceiptLine) -> Result<Lot> {
    let batch = line.batch.trim();
    if batch.is_empty() || batch.chars().count() > 40 {
        return Err(Error::invalid_field(
            "batch",
            "a batch is 1 to 40 characters",
        ));
    }
    sqlx::query(
        "INSERT INTO stock_lots (item_id, batch, expires_on, created_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (item_id, batch) DO NOTHING",
    )
    .bind(line.item_id)
    .bind(batch)
    .bind(line.expires_on)
    .bind(&caller.username)
    .execute(&mut *conn)
    .await?;
    let lot: Lot = sqlx::query_as(
        "SELECT id, item_id, batch, expires_on FROM stock_lots WHERE item_id = $1 AND batch = $2",
    )
    .bind(line.item_id)
    .bind(batch)
    .fetch_one(&mut *conn)
    .await?;
    if lot.expires_on != Some(line.expires_on) {
        return Err(Error::field_refused(
            "expires_on",
            "lot_expiry_mismatch",
            json!({ "lot_id": lot.id, "batch": lot.batch, "expires_on": lot.expires_on,
                    "given": line.expires_on }),
            format!(
                "lot {} of item {} expires on {}, not {}",
                lot.batch,
                lot.item_id,
                lot.expires_on
                    .map_or_else(|| "(no date)".to_owned(), |d| d.to_string()),
                line.expires_on
            ),
        ));
    }
    Ok(lot)
}

/// Ties the codes printed on a received lot's packs to its item (and, for a veterinary code,
/// to the lot): a code mapped to another item is a 422 on `codes`.
async fn tie_codes(
    conn: &mut PgConnection,
    caller: &Caller,
    lot: &Lot,
    codes: &[String],
) -> Result<()> {
    for raw in codes {
        let scanned = catalogue::parse_code(raw)?;
        let (kind, code) = scanned.lookup();
        let lot_id = (kind == "vet_drug").then_some(lot.id);
        let mapped: Option<(i64, Option<i64>)> = sqlx::query_as(
            "WITH new AS (
                 INSERT INTO stock_barcodes (kind, code, item_id, lot_id, created_by)
                 VALUES ($1::stock_code_kind, $2, $3, $4, $5)
                 ON CONFLICT (kind, code) DO NOTHING RETURNING item_id, lot_id)
             SELECT item_id, lot_id FROM new
             UNION ALL
             SELECT item_id, lot_id FROM stock_barcodes WHERE kind = $1::stock_code_kind AND code = $2
             LIMIT 1",
        )
        .bind(kind)
        .bind(code)
        .bind(lot.item_id)
        .bind(lot_id)
        .bind(&caller.username)
        .fetch_optional(&mut *conn)
        .await?;
        // A concurrent receipt mapping the same code committed after this statement's snapshot:
        // the insert did nothing and the select saw nothing; a new statement sees its row.
        let mapped: (i64, Option<i64>) = match mapped {
            Some(m) => m,
            None => sqlx::query_as(
                "SELECT item_id, lot_id FROM stock_barcodes
                 WHERE kind = $1::stock_code_kind AND code = $2",
            )
            .bind(kind)
            .bind(code)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| Error::Conflict {
                code: "barcode_conflict",
                message: format!("the {kind} code {code} is being mapped: try again"),
            })?,
        };
        if mapped.0 != lot.item_id || (lot_id.is_some() && mapped.1 != lot_id) {
            return Err(Error::invalid_field(
                "codes",
                format!("the {kind} code {code} is mapped to another item or lot already"),
            ));
        }
    }
    Ok(())
}

/// `POST /api/stock/receipts`: goods from a supplier into a store of the caller's jurisdiction,
/// dated `today` at the latest.
pub async fn receive_goods_as_of(
    pool: &PgPool,
    caller: &Caller,
    r: Receipt,
    key: Option<&str>,
    today: NaiveDate,
) -> Result<Value> {
    if let Some(answer) = replay(pool, caller, key, REGISTER_RECEIPTS).await? {
        return Ok(answer);
    }
    not_in_future("received_on", r.received_on, today)?;
    let supplier = optional_text("supplier", Some(&r.supplier), 100)?
        .ok_or_else(|| Error::invalid_field("supplier", "the supplier is required"))?;
    let reference = optional_text("reference", r.reference.as_deref(), 100)?;
    let note = optional_text("note", r.note.as_deref(), 500)?;
    lines_count(r.lines.len())?;
    let mut tx = pool.begin().await?;
    let store = writable_store(&mut tx, caller, r.store_id).await?;
    let mut movements = Vec::with_capacity(r.lines.len());
    let mut lots = Vec::with_capacity(r.lines.len());
    for line in &r.lines {
        quantity_above_zero(line.quantity)?;
        catalogue::active_item(&mut tx, line.item_id).await?;
        let lot = receipt_lot(&mut tx, caller, line).await?;
        tie_codes(&mut tx, caller, &lot, &line.codes).await?;
        let mut m = Move::new(store.id, &lot, r.received_on, "receipt", line.quantity);
        m.supplier = Some(&supplier);
        m.reference = reference.as_deref();
        m.note = note.as_deref();
        movements.push(append(&mut tx, caller, m).await?);
        lots.push(
            json!({ "id": lot.id, "item_id": lot.item_id, "batch": lot.batch,
                          "expires_on": lot.expires_on }),
        );
    }
    let answer = json!({ "movements": movements, "lots": lots });
    let row_id = ids_text(&movements);
    finish(
        pool,
        tx,
        caller,
        key,
        REGISTER_RECEIPTS,
        ("stock_movements", row_id),
        answer,
    )
    .await
}

fn ids_text(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

// ── Transfers ─────────────────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    pub from_store_id: i64,
    pub to_store_id: i64,
    pub issued_on: NaiveDate,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub lines: Vec<IssueLine>,
}

const TRANSFER_JSON: &str = "json_build_object(
        'id', t.id,
        'from_store', json_build_object('id', fs.id, 'code', fs.code, 'name', fs.name),
        'to_store', json_build_object('id', ts.id, 'code', ts.code, 'name', ts.name),
        'issued_on', t.issued_on, 'reference', t.reference, 'note', t.note,
        'state', CASE WHEN r.transfer_id IS NULL THEN 'in_transit' ELSE 'received' END,
        'received_on', r.received_on, 'receipt_note', r.note,
        'created_by', t.created_by,
        'lines', coalesce((
            SELECT json_agg(json_build_object(
                       'item', json_build_object('id', i.id, 'code', i.code, 'name', i.name,
                                                 'unit', i.unit),
                       'lot', json_build_object('id', l.id, 'batch', l.batch,
                                                'expires_on', l.expires_on),
                       'sent', x.sent, 'received', x.received) ORDER BY i.code, l.id)
            FROM (SELECT m.lot_id,
                         -sum(m.quantity) FILTER (WHERE m.kind = 'transfer_out') AS sent,
                         sum(m.quantity) FILTER (WHERE m.kind = 'transfer_in') AS received
                  FROM stock_movements m WHERE m.transfer_id = t.id GROUP BY m.lot_id) x
            JOIN stock_lots l ON l.id = x.lot_id JOIN stock_items i ON i.id = l.item_id),
            '[]'::json))
    FROM stock_transfers t
    JOIN stock_stores fs ON fs.id = t.from_store_id
    JOIN stock_stores ts ON ts.id = t.to_store_id
    LEFT JOIN stock_transfer_receipts r ON r.transfer_id = t.id";

async fn transfer_json(conn: &mut PgConnection, id: i64) -> Result<Value> {
    sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(format!(
        "SELECT {TRANSFER_JSON} WHERE t.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("transfer_not_found", format!("no transfer with id {id}")))
}

/// `POST /api/stock/transfers`: issued by a store of the caller's jurisdiction to any active
/// store, dated `today` at the latest, of lots unexpired on `today`; in transit until the other
/// receives it.
pub async fn transfer_as_of(
    pool: &PgPool,
    caller: &Caller,
    t: NewTransfer,
    key: Option<&str>,
    today: NaiveDate,
) -> Result<Value> {
    if let Some(answer) = replay(pool, caller, key, REGISTER_TRANSFERS).await? {
        return Ok(answer);
    }
    not_in_future("issued_on", t.issued_on, today)?;
    let reference = optional_text("reference", t.reference.as_deref(), 100)?;
    let note = optional_text("note", t.note.as_deref(), 500)?;
    lines_count(t.lines.len())?;
    if t.from_store_id == t.to_store_id {
        return Err(Error::invalid_field(
            "to_store_id",
            "a transfer goes to another store",
        ));
    }
    let mut tx = pool.begin().await?;
    let from = writable_store(&mut tx, caller, t.from_store_id).await?;
    let to = super::store(&mut tx, t.to_store_id).await?;
    if !super::catalogue::visible(caller, &to.place_code) {
        return Err(Error::forbidden_because(
            "store_outside_jurisdiction",
            format!(
                "the store {} (place {}) is neither in your jurisdiction {} nor above it: \
                 send through the store of the unit above",
                to.code,
                to.place_code,
                caller.scope.prefix()
            ),
        ));
    }
    if !to.active {
        return Err(Error::field_refused(
            "to_store_id",
            "store_inactive",
            json!({ "store_id": to.id, "code": to.code }),
            format!("the store {} is closed: nothing can be sent to it", to.code),
        ));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stock_transfers (from_store_id, to_store_id, issued_on, reference, note,
                                      created_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(from.id)
    .bind(to.id)
    .bind(t.issued_on)
    .bind(&reference)
    .bind(&note)
    .bind(&caller.username)
    .fetch_one(&mut *tx)
    .await?;
    for (lot, q) in issue_all(&mut tx, from.id, &t.lines, today).await? {
        let mut m = Move::new(from.id, &lot, t.issued_on, "transfer_out", -q);
        m.transfer_id = Some(id);
        m.reference = reference.as_deref();
        m.note = note.as_deref();
        append(&mut tx, caller, m).await?;
    }
    let answer = json!({ "transfer": transfer_json(&mut tx, id).await? });
    finish(
        pool,
        tx,
        caller,
        key,
        REGISTER_TRANSFERS,
        ("stock_transfers", id.to_string()),
        answer,
    )
    .await
}

#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    pub store: Option<i64>,
    /// `in_transit` or `received`.
    pub state: Option<String>,
}

/// `GET /api/stock/transfers`: transfers from or to a store of the caller's jurisdiction,
/// newest first (at most [`MAX_LIMIT`]).
pub async fn transfers(
    conn: &mut PgConnection,
    caller: &Caller,
    filter: &TransferFilter,
) -> Result<Vec<Value>> {
    caller.require(Perm::Stock)?;
    if let Some(store) = filter.store {
        store_in_scope(conn, caller, Perm::Stock, store).await?;
    }
    let state = match filter.state.as_deref() {
        None | Some("") => None,
        Some(s @ ("in_transit" | "received")) => Some(s),
        Some(other) => {
            return Err(Error::invalid_param(
                "state",
                format!("state is in_transit or received, not {other:?}"),
            ));
        }
    };
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {TRANSFER_JSON}
         WHERE (fs.place_code LIKE $1 || '%' OR ts.place_code LIKE $1 || '%')
           AND ($2::bigint IS NULL OR t.from_store_id = $2 OR t.to_store_id = $2)
           AND ($3::text IS NULL OR $3 = CASE WHEN r.transfer_id IS NULL THEN 'in_transit'
                                              ELSE 'received' END)
         ORDER BY t.id DESC LIMIT {MAX_LIMIT}"
    )))
    .bind(caller.scope.prefix())
    .bind(filter.store)
    .bind(state)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    pub lot_id: i64,
    pub quantity: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receive {
    pub received_on: NaiveDate,
    pub note: Option<String>,
    /// What arrived per lot; left out, everything arrived as sent (a lot not listed too).
    pub lines: Option<Vec<ReceivedLine>>,
}

/// `POST /api/stock/transfers/{id}/receive`: the receiving store (active, in the caller's
/// jurisdiction) confirms what it got, once (409 `transfer_received`), on a day between the
/// issue and `today` (422 `date_order` / `date_in_future` on `received_on`); a quantity that
/// differs from what was sent needs a note (422 `difference_needs_note`).
pub async fn receive_transfer_as_of(
    pool: &PgPool,
    caller: &Caller,
    id: i64,
    r: Receive,
    key: Option<&str>,
    today: NaiveDate,
) -> Result<Value> {
    if let Some(answer) = replay(pool, caller, key, REGISTER_RECEIVE).await? {
        return Ok(answer);
    }
    not_in_future("received_on", r.received_on, today)?;
    let note = optional_text("note", r.note.as_deref(), 500)?;
    let mut tx = pool.begin().await?;
    // The row lock makes two receipts of one transfer wait for each other.
    let (to_store, issued_on): (i64, NaiveDate) = sqlx::query_as(
        "SELECT to_store_id, issued_on FROM stock_transfers WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found("transfer_not_found", format!("no transfer with id {id}")))?;
    let store = writable_store(&mut tx, caller, to_store).await?;
    if r.received_on < issued_on {
        return Err(Error::field_refused(
            "received_on",
            "date_order",
            json!({ "first": "issued_on", "second": "received_on",
                    "issued_on": issued_on, "received_on": r.received_on }),
            format!(
                "transfer {id} was issued on {issued_on}: it cannot be received on {} before",
                r.received_on
            ),
        ));
    }
    let received: Option<NaiveDate> = sqlx::query_scalar(
        "SELECT received_on FROM stock_transfer_receipts WHERE transfer_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(on) = received {
        return Err(Error::ConflictWith {
            code: "transfer_received",
            message: format!("transfer {id} was received on {on} already"),
            details: json!({ "transfer_id": id, "received_on": on }),
        });
    }
    let sent: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT lot_id, -sum(quantity)::bigint FROM stock_movements
         WHERE transfer_id = $1 AND kind = 'transfer_out' GROUP BY lot_id ORDER BY lot_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let mut got: Vec<(i64, i64, i64)> = sent.iter().map(|&(lot, q)| (lot, q, q)).collect();
    for line in r.lines.iter().flatten() {
        if line.quantity < 0 {
            return Err(Error::invalid_field(
                "quantity",
                format!("a quantity received is 0 or more, not {}", line.quantity),
            ));
        }
        let Some(entry) = got.iter_mut().find(|(lot, _, _)| *lot == line.lot_id) else {
            return Err(Error::field_refused(
                "lot_id",
                "lot_not_found",
                json!({ "lot_id": line.lot_id, "transfer_id": id }),
                format!("lot {} was not sent with transfer {id}", line.lot_id),
            ));
        };
        entry.2 = i64::from(line.quantity);
    }
    let differences: Vec<Value> = got
        .iter()
        .filter(|(_, sent, received)| sent != received)
        .map(|(lot, sent, received)| json!({ "lot_id": lot, "sent": sent, "received": received }))
        .collect();
    if !differences.is_empty() && note.is_none() {
        return Err(Error::field_refused(
            "note",
            "difference_needs_note",
            json!({ "lines": differences }),
            "what was received differs from what was sent: say why in a note",
        ));
    }
    sqlx::query(
        "INSERT INTO stock_transfer_receipts (transfer_id, received_on, note, created_by)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(r.received_on)
    .bind(&note)
    .bind(&caller.username)
    .execute(&mut *tx)
    .await?;
    for (lot_id, _, received) in &got {
        let lot = catalogue::lot(&mut tx, *lot_id).await?;
        let quantity = i32::try_from(*received)
            .map_err(|_| Error::invalid_field("quantity", "a quantity is too large"))?;
        let mut m = Move::new(store.id, &lot, r.received_on, "transfer_in", quantity);
        m.transfer_id = Some(id);
        m.note = note.as_deref();
        append(&mut tx, caller, m).await?;
    }
    let answer = json!({ "transfer": transfer_json(&mut tx, id).await? });
    finish(
        pool,
        tx,
        caller,
        key,
        REGISTER_RECEIVE,
        ("stock_transfer_receipts", id.to_string()),
        answer,
    )
    .await
}

// ── Uses and adjustments ──────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Use {
    pub store_id: i64,
    pub used_on: NaiveDate,
    pub village_code: String,
    /// Who took them (the village doctor, staff: not patient data), at most 50 characters;
    /// kept in the note as `领取人 <name>`.
    pub recipient: Option<String>,
    pub note: Option<String>,
    pub lines: Vec<IssueLine>,
}

/// `POST /api/stock/uses`: tablets (or doses) handed out of a store for a village's round: a
/// village under the store's place and in the caller's jurisdiction (422
/// `village_outside_store`), dated `today` at the latest, of lots unexpired on `today`. The
/// recipient is the village doctor who took them (staff, not patient data), kept in the note.
pub async fn hand_out_as_of(
    pool: &PgPool,
    caller: &Caller,
    u: Use,
    key: Option<&str>,
    today: NaiveDate,
) -> Result<Value> {
    if let Some(answer) = replay(pool, caller, key, REGISTER_USES).await? {
        return Ok(answer);
    }
    not_in_future("used_on", u.used_on, today)?;
    let recipient = optional_text("recipient", u.recipient.as_deref(), 50)?;
    let note = optional_text("note", u.note.as_deref(), 400)?;
    let note = match (recipient, note) {
        (Some(r), Some(n)) => Some(format!("领取人 {r}；{n}")),
        (Some(r), None) => Some(format!("领取人 {r}")),
        (None, n) => n,
    };
    lines_count(u.lines.len())?;
    let code = u.village_code.trim();
    let mut tx = pool.begin().await?;
    let store = writable_store(&mut tx, caller, u.store_id).await?;
    let village: i32 = sqlx::query_scalar("SELECT id FROM villages WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            Error::field_refused(
                "village_code",
                "village_not_found",
                json!({ "code": code }),
                format!("no village has the code {code}"),
            )
        })?;
    // A village clinic hands out to its village, a township centre to the township's villages,
    // a county store to the county's; and the caller writes for its own jurisdiction only.
    if !code.starts_with(store.place_code.as_str()) || !caller.scope.covers(code) {
        return Err(Error::field_refused(
            "village_code",
            "village_outside_store",
            json!({ "code": code, "store": store.code }),
            format!(
                "the village {code} is not served by the store {} (place {}) in your jurisdiction",
                store.code, store.place_code
            ),
        ));
    }
    let mut movements = Vec::new();
    for (lot, q) in issue_all(&mut tx, store.id, &u.lines, today).await? {
        let mut m = Move::new(store.id, &lot, u.used_on, "use", -q);
        m.village_id = Some(village);
        m.note = note.as_deref();
        movements.push(append(&mut tx, caller, m).await?);
    }
    let answer = json!({ "movements": movements });
    let row_id = ids_text(&movements);
    finish(
        pool,
        tx,
        caller,
        key,
        REGISTER_USES,
        ("stock_movements", row_id),
        answer,
    )
    .await
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustLine {
    pub lot_id: i64,
    /// Signed, not 0.
    pub quantity: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub store_id: i64,
    pub adjusted_on: NaiveDate,
    /// `count_correction`, `expired`, `damaged`, `lost`, `returned`.
    pub reason: String,
    pub note: Option<String>,
    pub lines: Vec<AdjustLine>,
}

/// `POST /api/stock/adjustments`: corrections with a reason, as new rows, dated `today` at the
/// latest.
pub async fn adjust_as_of(
    pool: &PgPool,
    caller: &Caller,
    a: Adjustment,
    key: Option<&str>,
    today: NaiveDate,
) -> Result<Value> {
    if let Some(answer) = replay(pool, caller, key, REGISTER_ADJUSTMENTS).await? {
        return Ok(answer);
    }
    not_in_future("adjusted_on", a.adjusted_on, today)?;
    if !ADJUSTMENT_REASONS.contains(&a.reason.as_str()) {
        return Err(Error::invalid_field(
            "reason",
            format!(
                "the reason is one of {}, not {:?}",
                ADJUSTMENT_REASONS.join(", "),
                a.reason
            ),
        ));
    }
    let note = optional_text("note", a.note.as_deref(), 500)?;
    lines_count(a.lines.len())?;
    let mut tx = pool.begin().await?;
    let store = writable_store(&mut tx, caller, a.store_id).await?;
    let mut movements = Vec::new();
    for line in &a.lines {
        if line.quantity == 0 {
            return Err(Error::invalid_field(
                "quantity",
                "an adjustment moves a quantity other than 0",
            ));
        }
        let lot = catalogue::lot(&mut tx, line.lot_id).await?;
        let mut m = Move::new(store.id, &lot, a.adjusted_on, "adjustment", line.quantity);
        m.reason = Some(&a.reason);
        m.note = note.as_deref();
        movements.push(append(&mut tx, caller, m).await?);
    }
    let answer = json!({ "movements": movements });
    let row_id = ids_text(&movements);
    finish(
        pool,
        tx,
        caller,
        key,
        REGISTER_ADJUSTMENTS,
        ("stock_movements", row_id),
        answer,
    )
    .await
}

// ── Reads ─────────────────────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Default)]
pub struct OnHandFilter {
    pub store: Option<i64>,
    pub item: Option<i64>,
    /// `expired`, `soon`, `ok` or `unknown`.
    pub status: Option<String>,
}

/// `GET /api/stock/on-hand`: what the stores of the caller's jurisdiction hold, per lot, with
/// the expiry status seen on `today` (zero rows left out).
pub async fn on_hand(
    conn: &mut PgConnection,
    caller: &Caller,
    filter: &OnHandFilter,
    today: NaiveDate,
) -> Result<Vec<Value>> {
    caller.require(Perm::Stock)?;
    if let Some(store) = filter.store {
        store_in_scope(conn, caller, Perm::Stock, store).await?;
    }
    let status = match filter.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("expired" | "soon" | "ok" | "unknown")) => Some(s),
        Some(other) => {
            return Err(Error::invalid_param(
                "status",
                format!("status is expired, soon, ok or unknown, not {other:?}"),
            ));
        }
    };
    let status_sql = expiry_status_sql(1);
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT json_build_object(
                'store', json_build_object('id', s.id, 'code', s.code, 'name', s.name),
                'item', json_build_object('id', i.id, 'code', i.code, 'name', i.name, 'unit', i.unit),
                'lot', json_build_object('id', l.id, 'batch', l.batch, 'expires_on', l.expires_on),
                'quantity', CASE WHEN b.blind THEN NULL ELSE h.quantity END,
                'hidden_by_blind_count', b.blind,
                'expiry_status', {status_sql},
                'days_to_expiry', l.expires_on - $1)
         FROM stock_on_hand h
         -- A counter (stock_keeper) does not see the book of a store under a blind count.
         CROSS JOIN LATERAL (SELECT $6 AND EXISTS (
             SELECT 1 FROM stock_counts c WHERE c.store_id = h.store_id AND c.blind
               AND c.finalised_at IS NULL AND c.cancelled_at IS NULL) AS blind) b
         JOIN stock_stores s ON s.id = h.store_id
         JOIN stock_lots l ON l.id = h.lot_id
         JOIN stock_items i ON i.id = l.item_id
         WHERE h.quantity > 0 AND s.place_code LIKE $2 || '%'
           AND ($3::bigint IS NULL OR s.id = $3)
           AND ($4::bigint IS NULL OR i.id = $4)
           AND ($5::text IS NULL OR {status_sql} = $5)
         ORDER BY s.code, i.code, l.expires_on NULLS LAST, l.id"
    )))
    .bind(today)
    .bind(caller.scope.prefix())
    .bind(filter.store)
    .bind(filter.item)
    .bind(status)
    .bind(caller.role == crate::auth::Role::StockKeeper)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

#[derive(Debug, Clone, Default)]
pub struct MovementFilter {
    pub store: Option<i64>,
    pub item: Option<i64>,
    pub kind: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: Option<i64>,
    /// Rows with a smaller id than this (the next page).
    pub before: Option<i64>,
}

/// `GET /api/stock/movements`: the ledger's rows of the stores of the caller's jurisdiction,
/// newest first, a page at a time; `next_before` is the cursor of the next page (None at the end).
pub async fn movements(
    conn: &mut PgConnection,
    caller: &Caller,
    filter: &MovementFilter,
) -> Result<(Vec<Value>, Option<i64>)> {
    caller.require(Perm::Stock)?;
    if let Some(store) = filter.store {
        store_in_scope(conn, caller, Perm::Stock, store).await?;
    }
    let kind = match filter.kind.as_deref() {
        None | Some("") => None,
        Some(k) if KINDS.contains(&k) => Some(k),
        Some(other) => {
            return Err(Error::invalid_param(
                "kind",
                format!("kind is one of {}, not {other:?}", KINDS.join(", ")),
            ));
        }
    };
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid_param(
            "limit",
            format!("limit is 1 to {MAX_LIMIT}"),
        ));
    }
    let rows: Vec<(i64, Value)> = sqlx::query_as(
        "SELECT m.id, json_build_object(
                'id', m.id, 'moved_on', m.moved_on, 'kind', m.kind::text,
                'store', json_build_object('id', s.id, 'code', s.code, 'name', s.name),
                'item', json_build_object('id', i.id, 'code', i.code, 'name', i.name, 'unit', i.unit),
                'lot', json_build_object('id', l.id, 'batch', l.batch, 'expires_on', l.expires_on),
                'quantity', m.quantity, 'transfer_id', m.transfer_id,
                'village', CASE WHEN v.id IS NULL THEN NULL
                                ELSE json_build_object('code', v.code, 'name', v.name) END,
                'reason', m.reason::text, 'supplier', m.supplier, 'reference', m.reference,
                'note', m.note, 'created_by', m.created_by, 'created_at', m.created_at)
         FROM stock_movements m
         JOIN stock_stores s ON s.id = m.store_id
         JOIN stock_lots l ON l.id = m.lot_id
         JOIN stock_items i ON i.id = m.item_id
         LEFT JOIN villages v ON v.id = m.village_id
         WHERE s.place_code LIKE $1 || '%'
           AND ($2::bigint IS NULL OR m.store_id = $2)
           AND ($3::bigint IS NULL OR m.item_id = $3)
           AND ($4::text IS NULL OR m.kind::text = $4)
           AND ($5::date IS NULL OR m.moved_on >= $5)
           AND ($6::date IS NULL OR m.moved_on <= $6)
           AND ($7::bigint IS NULL OR m.id < $7)
         ORDER BY m.id DESC
         LIMIT $8",
    )
    .bind(caller.scope.prefix())
    .bind(filter.store)
    .bind(filter.item)
    .bind(kind)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let next = if rows.len() as i64 == limit {
        rows.last().map(|(id, _)| *id)
    } else {
        None
    };
    Ok((rows.into_iter().map(|(_, v)| v).collect(), next))
}
