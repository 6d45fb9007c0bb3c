//! The `stock_movements` import (docs/IMPORT.md "Stock movements"): a sheet of receipts,
//! issues, uses and adjustments written into the ledger, row by row, in one transaction.
//!
//! The rows are parsed and linked by the records' parser with the register's spec (the same
//! values, the same row errors as every import), then each row becomes ledger rows as the
//! stock pages would write them: a receipt at its store (the lot found by item and batch, or
//! created with its expiry), an issue (`出库`/`发放`/`调拨`) as a transfer to `to_store_code`, or
//! to the centre of a legacy `township_code`, received the same day, an issue that names only a
//! village as the tablets handed to it (`use`), and an adjustment with its reason. A row
//! without `store_code` moves the county CDC's store of the importer's county.
//!
//! The database refuses what would take a lot below zero or issue an expired lot; each refusal
//! becomes the row's error, on its column, naming the lot and what is available. The import is
//! atomic (any error: nothing written) unless `mode=valid_rows`, where a refused row is rolled
//! back alone (one savepoint per row). A row repeating a ledger row written before the import
//! (same store, lot, day, kind, quantity, village and reference) is counted unchanged, so that
//! loading a file twice does not move the stock twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::NaiveDate;
use echinomap_geodata::import::headers::Kind;
use echinomap_geodata::linker::Linker;
use serde_json::{Value, json};
use sqlx::{Acquire, PgConnection, PgPool};

use crate::error::Error;
use crate::records::import::{
    self as imports, Counts, Failure, FileError, Mode, Progress, Report, Request, Sheet, Who,
};
use crate::records::parse::{Layout, Options, Reason, RowError, Staged};
use crate::records::spec::{self, RegisterSpec};

/// Runs an import of kind `stock_movements` of an already-read table. Commits unless refused
/// or a dry run; the report has the shape of every import's.
pub async fn run(
    pool: &PgPool,
    linker: &Arc<Linker>,
    who: &Who,
    req: &Request,
    id: &str,
    sheet: Sheet<'_>,
    progress: &Arc<Progress>,
) -> Result<Report, Failure> {
    let Sheet { table, fields } = sheet;
    let started = chrono::Utc::now();
    let spec = spec::by_kind(Kind::StockMovements).ok_or_else(|| {
        Failure::File(FileError {
            code: "unknown_kind",
            message: "no register for kind stock_movements".to_owned(),
            details: Value::Null,
        })
    })?;
    progress.phase.store(1, Ordering::Relaxed);
    progress
        .rows_total
        .store(table.rows.len() as u64, Ordering::Relaxed);
    let layout = Layout::new(spec, table.headers.clone(), fields);
    let (staged, mut errors) = {
        let (table, layout, linker, progress) = (
            table.clone(),
            layout.clone(),
            linker.clone(),
            progress.clone(),
        );
        let (crs, scope) = (req.crs, who.scope.clone());
        tokio::task::spawn_blocking(move || {
            let opts = Options {
                crs,
                scope: scope.as_ref(),
                require_all: true,
                stored: None,
            };
            let mut errors: BTreeMap<usize, Vec<RowError>> = BTreeMap::new();
            let staged = imports::stage_rows(
                spec,
                &layout,
                &linker,
                opts,
                &table.rows,
                &progress,
                &mut errors,
            );
            (staged, errors)
        })
        .await
        .map_err(|e| Failure::Database(sqlx::Error::Protocol(format!("the parser failed: {e}"))))?
    };
    let keep_valid = req.mode == Mode::ValidRows;
    progress.phase.store(2, Ordering::Relaxed);
    let mut tx = crate::db::begin_long(pool).await?;
    let counts = if errors.is_empty() || keep_valid {
        write(&mut tx, who, spec, &staged, &mut errors).await?
    } else {
        Counts::default()
    };
    // Name the column as the file does.
    for es in errors.values_mut() {
        for e in es.iter_mut() {
            if let Some(i) = e
                .field
                .as_deref()
                .and_then(|f| fields.iter().position(|x| *x == Some(f)))
            {
                e.column = table.headers.get(i).cloned();
            }
        }
    }
    let report = imports::report(id, req, table.rows.len(), errors, counts);
    imports::conclude(pool, tx, who, req, &report, started).await?;
    progress.phase.store(3, Ordering::Relaxed);
    Ok(report)
}

/// A staged row's values by field name.
struct Row<'a> {
    spec: &'a RegisterSpec,
    staged: &'a Staged,
}

impl Row<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.spec
            .fields
            .iter()
            .position(|f| f.name == name)
            .and_then(|i| self.staged.values[i].as_deref())
    }

    fn village(&self) -> Option<&str> {
        self.staged.link.as_ref().map(|l| l.0.as_str())
    }

    fn error(&self, field: &str, why: Reason) -> RowError {
        RowError::new(
            self.staged.row,
            None,
            Some(field),
            self.get(field).map(str::to_owned),
            why,
        )
    }
}

/// A store as a row moves it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Store {
    id: i64,
    code: String,
    place_code: String,
    active: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Lot {
    id: i64,
    item_id: i64,
    batch: String,
    expires_on: Option<NaiveDate>,
}

/// The ledger rows one import row becomes, ready to insert.
struct Plan {
    kind: &'static str,
    store: Store,
    lot: Lot,
    quantity: i64,
    village_id: Option<i32>,
    to_store: Option<Store>,
    reason: Option<String>,
}

/// Writes the staged rows into the ledger in file order; refused rows get their error.
async fn write(
    tx: &mut PgConnection,
    who: &Who,
    spec: &RegisterSpec,
    staged: &[Staged],
    errors: &mut BTreeMap<usize, Vec<RowError>>,
) -> Result<Counts, sqlx::Error> {
    // Rows already in the ledger before this import: a row repeating one is left unchanged.
    let before: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM stock_movements")
        .fetch_one(&mut *tx)
        .await?;
    let mut counts = Counts::default();
    for s in staged {
        let row = Row { spec, staged: s };
        let mut sp = tx.begin().await?;
        let outcome = match plan(&mut sp, who, &row).await? {
            Err(e) => Err(e),
            Ok(p) => {
                if repeats(&mut sp, &row, &p, before).await? {
                    Ok(false)
                } else {
                    insert(&mut sp, who, &row, &p).await?.map(|()| true)
                }
            }
        };
        match outcome {
            Ok(inserted) => {
                sp.commit().await?;
                if inserted {
                    counts.inserted += 1;
                } else {
                    counts.unchanged += 1;
                }
            }
            Err(e) => {
                sp.rollback().await?;
                // Atomic mode writes nothing in the end, but every row is still checked, so
                // that the report lists every error at once.
                errors.entry(s.row).or_default().push(e);
            }
        }
    }
    Ok(counts)
}

/// What the row moves: its store, lot and the kind's own columns, or the row's error.
/// Database failures other than a refusal are the import's failure.
async fn plan(
    conn: &mut PgConnection,
    who: &Who,
    row: &Row<'_>,
) -> Result<Result<Plan, RowError>, sqlx::Error> {
    // A file records what happened: a movement dated after today (the machine's date) is refused.
    let today = chrono::Local::now().date_naive();
    if let Some(on) = moved_on(row).filter(|on| *on > today) {
        return Ok(Err(row.error(
            "moved_on",
            Reason::new(
                "date_in_future",
                json!({ "date": on, "today": today }),
                format!("the movement is dated {on}, after today {today}"),
            ),
        )));
    }
    let item_code = row.get("item_code").unwrap_or_default();
    let item: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM stock_items WHERE code = $1 AND deleted_at IS NULL")
            .bind(item_code)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((item_id,)) = item else {
        return Ok(Err(row.error(
            "item_code",
            unknown_ref("stock_items", "item_code", item_code),
        )));
    };
    let store = match from_store(conn, who, row).await? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let village_id: Option<i32> = match row.village() {
        Some(code) => {
            sqlx::query_scalar("SELECT id FROM villages WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    let mut kind = match row.get("movement_kind") {
        Some("receipt") => "receipt",
        Some("transfer_out") => "transfer_out",
        Some("use") => "use",
        _ => "adjustment",
    };
    let mut to_store = None;
    if kind == "transfer_out" {
        match to_store_of(conn, who, row).await? {
            Ok(Some(to)) => {
                if to.id == store.id {
                    return Ok(Err(row.error(
                        "to_store_code",
                        Reason::new(
                            "same_store",
                            json!({ "store": store.code }),
                            format!("the store {} cannot issue to itself", store.code),
                        ),
                    )));
                }
                to_store = Some(to);
            }
            // An issue to a village (the old files): the tablets handed to it.
            Ok(None) => kind = "use",
            Err(e) => return Ok(Err(e)),
        }
    }
    let quantity: i64 = row
        .get("quantity")
        .and_then(|q| q.parse().ok())
        .unwrap_or_default();
    let lot = match lot_of(conn, who, row, item_id, kind == "receipt").await? {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Plan {
        kind,
        store,
        lot,
        quantity: match kind {
            "transfer_out" | "use" => -quantity.abs(),
            _ => quantity,
        },
        village_id,
        to_store,
        reason: row.get("reason").map(str::to_owned),
    }))
}

fn unknown_ref(what: &str, key: &str, value: &str) -> Reason {
    Reason::new(
        "reference_not_found",
        json!({ "what": what, "key": key, "value": value }),
        format!("no {what} with {key} {value:?}"),
    )
}

/// The store a row moves: `store_code`, or the county CDC's store of the importer's county (of
/// the row's village or township on the command line). Inside the importer's jurisdiction.
async fn from_store(
    conn: &mut PgConnection,
    who: &Who,
    row: &Row<'_>,
) -> Result<Result<Store, RowError>, sqlx::Error> {
    let store: Option<Store> = match row.get("store_code") {
        Some(code) => {
            let s = sqlx::query_as::<_, Store>(
                "SELECT id, code, place_code, active FROM stock_stores WHERE code = $1",
            )
            .bind(code)
            .fetch_optional(&mut *conn)
            .await?;
            if s.is_none() {
                return Ok(Err(row.error(
                    "store_code",
                    unknown_ref("stock_stores", "store_code", code),
                )));
            }
            s
        }
        None => {
            let county = who
                .scope
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .or_else(|| row.village().map(str::to_owned))
                .or_else(|| row.get("township_code").map(str::to_owned))
                .map(|c| c.chars().take(6).collect::<String>());
            let county = match county {
                Some(c) => Some(c),
                // The command line on a database of one county.
                None => sqlx::query_scalar("SELECT min(code) FROM counties HAVING count(*) = 1")
                    .fetch_optional(&mut *conn)
                    .await?
                    .flatten(),
            };
            let s = match &county {
                Some(c) => {
                    sqlx::query_as::<_, Store>(
                        "SELECT id, code, place_code, active FROM stock_stores
                         WHERE kind = 'county_cdc' AND place_code = $1 AND active
                         ORDER BY id LIMIT 1",
                    )
                    .bind(c)
                    .fetch_optional(&mut *conn)
                    .await?
                }
                None => None,
            };
            if s.is_none() {
                let county = county.unwrap_or_default();
                return Ok(Err(row.error(
                    "store_code",
                    Reason::new(
                        "reference_not_found",
                        json!({ "what": "stock_stores", "key": "store_code", "value": format!("CDC-{county}") }),
                        format!(
                            "no county CDC store for county {county:?}: name the store in store_code"
                        ),
                    ),
                )));
            }
            s
        }
    };
    let Some(store) = store else {
        return Ok(Err(row.error(
            "store_code",
            unknown_ref("stock_stores", "store_code", ""),
        )));
    };
    if let Some(scope) = &who.scope
        && !store.place_code.starts_with(scope.as_str())
    {
        return Ok(Err(row.error(
            "store_code",
            Reason::new(
                "store_outside_jurisdiction",
                json!({ "store": store.code, "place_code": store.place_code,
                        "jurisdiction": scope.as_str() }),
                format!(
                    "the store {} (place {}) lies outside your jurisdiction {}",
                    store.code,
                    store.place_code,
                    scope.as_str()
                ),
            ),
        )));
    }
    if !store.active {
        return Ok(Err(row.error(
            "store_code",
            Reason::new(
                "store_inactive",
                json!({ "store_id": store.id, "code": store.code }),
                format!("the store {} is closed: no movements", store.code),
            ),
        )));
    }
    Ok(Ok(store))
}

/// Whether a store at `place_code` is one the importer may send to: inside its jurisdiction or
/// above it (the rule of `stock::catalogue::visible`; the whole database without a scope).
fn visible_to(who: &Who, place_code: &str) -> bool {
    let prefix = who.prefix();
    place_code.starts_with(prefix) || prefix.starts_with(place_code)
}

/// 403-like row refusal `store_outside_jurisdiction` on `column` for a destination at `place`.
fn outside(who: &Who, row: &Row<'_>, column: &str, store: &str, place: &str) -> RowError {
    row.error(
        column,
        Reason::new(
            "store_outside_jurisdiction",
            json!({ "store": store, "place_code": place, "jurisdiction": who.prefix() }),
            format!(
                "the store {store} (place {place}) is neither in your jurisdiction {} nor above it",
                who.prefix()
            ),
        ),
    )
}

/// Where an issue goes: `to_store_code`, or the centre of `township_code` (created like the
/// upgrade creates it when the township has none); `None` when the row names only a village.
/// The destination is visible to the importer (in its jurisdiction or above it); a township
/// centre is never created outside it.
async fn to_store_of(
    conn: &mut PgConnection,
    who: &Who,
    row: &Row<'_>,
) -> Result<Result<Option<Store>, RowError>, sqlx::Error> {
    if let Some(code) = row.get("to_store_code") {
        let s = sqlx::query_as::<_, Store>(
            "SELECT id, code, place_code, active FROM stock_stores WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
        return Ok(match s {
            None => Err(row.error(
                "to_store_code",
                unknown_ref("stock_stores", "to_store_code", code),
            )),
            Some(s) if !visible_to(who, &s.place_code) => {
                Err(outside(who, row, "to_store_code", &s.code, &s.place_code))
            }
            Some(s) if !s.active => Err(row.error(
                "to_store_code",
                Reason::new(
                    "store_inactive",
                    json!({ "store_id": s.id, "code": s.code }),
                    format!("the store {} is closed: nothing can be sent to it", s.code),
                ),
            )),
            Some(s) => Ok(Some(s)),
        });
    }
    let Some(township) = row.get("township_code") else {
        return Ok(Ok(None));
    };
    if !visible_to(who, township) {
        return Ok(Err(outside(
            who,
            row,
            "township_code",
            &format!("THC-{township}"),
            township,
        )));
    }
    let found = sqlx::query_as::<_, Store>(
        "SELECT id, code, place_code, active FROM stock_stores
         WHERE kind = 'township_centre' AND place_code = $1 AND active ORDER BY id LIMIT 1",
    )
    .bind(township)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(s) = found {
        return Ok(Ok(Some(s)));
    }
    let created = sqlx::query_as::<_, Store>(
        "INSERT INTO stock_stores (code, name, kind, place_code)
         SELECT 'THC-' || t.code, t.name || '卫生院', 'township_centre', t.code
         FROM townships t WHERE t.code = $1
         ON CONFLICT (code) DO NOTHING
         RETURNING id, code, place_code, active",
    )
    .bind(township)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match created {
        Some(s) => Ok(Some(s)),
        None => Err(row.error(
            "township_code",
            unknown_ref("townships", "township_code", township),
        )),
    })
}

/// The row's lot: by item and batch; a receipt creates it with its expiry (an existing lot
/// with another expiry is refused on `expires_on`).
async fn lot_of(
    conn: &mut PgConnection,
    who: &Who,
    row: &Row<'_>,
    item_id: i64,
    receipt: bool,
) -> Result<Result<Lot, RowError>, sqlx::Error> {
    let batch = row.get("batch").unwrap_or_default();
    let expires: Option<NaiveDate> = row.get("expires_on").and_then(|d| d.parse().ok());
    let found = sqlx::query_as::<_, Lot>(
        "SELECT id, item_id, batch, expires_on FROM stock_lots WHERE item_id = $1 AND batch = $2",
    )
    .bind(item_id)
    .bind(batch)
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        Some(lot) => {
            if let (Some(given), Some(known)) = (expires, lot.expires_on)
                && given != known
                && receipt
            {
                return Ok(Err(row.error(
                    "expires_on",
                    Reason::new(
                        "lot_expiry_mismatch",
                        json!({ "lot_id": lot.id, "batch": lot.batch, "expires_on": known,
                                "given": given }),
                        format!("lot {} expires on {known}, not {given}", lot.batch),
                    ),
                )));
            }
            Ok(Ok(lot))
        }
        None if receipt => {
            let lot = sqlx::query_as::<_, Lot>(
                "INSERT INTO stock_lots (item_id, batch, expires_on, created_by)
                 VALUES ($1, $2, $3, $4) RETURNING id, item_id, batch, expires_on",
            )
            .bind(item_id)
            .bind(batch)
            .bind(expires)
            .bind(&who.actor.username)
            .fetch_one(&mut *conn)
            .await?;
            Ok(Ok(lot))
        }
        None => Ok(Err(row.error(
            "batch",
            Reason::new(
                "lot_not_found",
                json!({ "item": row.get("item_code"), "batch": batch }),
                format!(
                    "no lot {batch:?} of item {}: receive it first",
                    row.get("item_code").unwrap_or_default()
                ),
            ),
        ))),
    }
}

/// Whether a ledger row written before the import (id ≤ `before`) says the same.
async fn repeats(
    conn: &mut PgConnection,
    row: &Row<'_>,
    p: &Plan,
    before: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM stock_movements
                        WHERE id <= $1 AND store_id = $2 AND lot_id = $3 AND moved_on = $4
                          AND kind = $5::stock_movement_kind AND quantity = $6
                          AND village_id IS NOT DISTINCT FROM $7
                          AND reference IS NOT DISTINCT FROM $8)",
    )
    .bind(before)
    .bind(p.store.id)
    .bind(p.lot.id)
    .bind(moved_on(row))
    .bind(p.kind)
    .bind(p.quantity)
    .bind(p.village_id)
    .bind(row.get("reference"))
    .fetch_one(&mut *conn)
    .await
}

fn moved_on(row: &Row<'_>) -> Option<NaiveDate> {
    row.get("moved_on").and_then(|d| d.parse().ok())
}

/// Inserts the row's ledger rows (and its transfer); a refusal of the ledger (below zero, an
/// expired lot) is the row's error on the column it is about, any other failure the import's.
async fn insert(
    conn: &mut PgConnection,
    who: &Who,
    row: &Row<'_>,
    p: &Plan,
) -> Result<Result<(), RowError>, sqlx::Error> {
    let Err(e) = insert_rows(conn, who, row, p).await else {
        return Ok(Ok(()));
    };
    match crate::stock::refusal(e) {
        Error::InvalidField {
            field,
            code,
            message,
            params,
        } => {
            // The ledger's field (`quantity`, `lot`) as the file names it.
            let column = if field == "lot" { "batch" } else { "quantity" };
            Ok(Err(row.error(column, Reason::new(code, params, message))))
        }
        Error::Database(e) => Err(e),
        other => Err(sqlx::Error::Protocol(other.to_string())),
    }
}

async fn insert_rows(
    conn: &mut PgConnection,
    who: &Who,
    row: &Row<'_>,
    p: &Plan,
) -> Result<(), sqlx::Error> {
    let on = moved_on(row);
    let user = &who.actor.username;
    let transfer_id: Option<i64> = match &p.to_store {
        Some(to) => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO stock_transfers (from_store_id, to_store_id, issued_on, reference, note, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(p.store.id)
            .bind(to.id)
            .bind(on)
            .bind(row.get("reference"))
            .bind(row.get("notes"))
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO stock_transfer_receipts (transfer_id, received_on, created_by)
                 VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(on)
            .bind(user)
            .execute(&mut *conn)
            .await?;
            Some(id)
        }
        None => None,
    };
    let mut moves = vec![(p.store.id, p.kind, p.quantity)];
    if let Some(to) = &p.to_store {
        moves.push((to.id, "transfer_in", -p.quantity));
    }
    for (store_id, kind, quantity) in moves {
        sqlx::query(
            "INSERT INTO stock_movements (item_id, batch, expires_on, store_id, lot_id, moved_on,
                 kind, quantity, transfer_id, village_id, reason, supplier, reference,
                 scanned_barcode, note, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7::stock_movement_kind, $8, $9, $10,
                     $11::stock_reason, $12, $13, $14, $15, $16)",
        )
        .bind(p.lot.item_id)
        .bind(&p.lot.batch)
        .bind(p.lot.expires_on)
        .bind(store_id)
        .bind(p.lot.id)
        .bind(on)
        .bind(kind)
        .bind(quantity)
        .bind(transfer_id)
        .bind(if kind == "use" { p.village_id } else { None })
        .bind(if kind == "adjustment" {
            p.reason.as_deref()
        } else {
            None
        })
        .bind(if kind == "receipt" {
            row.get("supplier")
        } else {
            None
        })
        .bind(row.get("reference"))
        .bind(row.get("scanned_barcode"))
        .bind(row.get("notes"))
        .bind(user)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
