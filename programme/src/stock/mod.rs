//! The stock system of the programme (docs/STOCK.md): the catalogue (items, lots, the barcodes
//! that name them) and the stores ([`catalogue`]), the append-only ledger and stock on hand
//! derived from it ([`ledger`]), stock counts (盘点, [`count`]), the praziquantel reconciliation
//! ([`reconcile`]) and the `stock_movements` import into the ledger ([`import`]).
//!
//! The database holds the rules that must never break whoever writes: the ledger refuses UPDATE
//! and DELETE, every new row moves `stock_on_hand` in the same statement, and a row that would
//! take a lot below zero or issue a lot past its expiry is refused (migration
//! `20261209000002_stock_ledger.sql`). [`refusal`] turns those refusals into the programme's
//! errors with the lot and what is available.
//!
//! Stores are visible to every role with [`Perm::Stock`] (a transfer names its destination);
//! what a store holds and does is read and written only inside the caller's jurisdiction
//! ([`store_in_scope`]).

pub mod catalogue;
pub mod count;
pub mod import;
pub mod ledger;
pub mod reconcile;

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;

use crate::auth::{Caller, Perm};
use crate::error::{Error, Result};

/// Lots expiring within this many days are flagged (`expiry_status` = `soon`).
pub const EXPIRY_WARNING_DAYS: i64 = 90;

/// A store as the other parts name it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoreRef {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `county_cdc`, `vet_station`, `township_centre`, `village_clinic`.
    pub kind: String,
    pub place_code: String,
    pub active: bool,
}

/// The store `id` for an act of `caller` that needs `perm` there: 404 `store_not_found` when
/// there is none, 403 `store_outside_jurisdiction` (naming the store and its place) when it
/// lies outside the caller's jurisdiction. Stores are not secret (every keeper sees the list to
/// send transfers), so outside is a refusal with its reason, not a 404.
pub async fn store_in_scope(
    conn: &mut PgConnection,
    caller: &Caller,
    perm: Perm,
    id: i64,
) -> Result<StoreRef> {
    caller.require(perm)?;
    let store = store(conn, id).await?;
    if !caller.scope.covers(&store.place_code) {
        return Err(Error::forbidden_because(
            "store_outside_jurisdiction",
            format!(
                "the store {} ({}, place {}) lies outside your jurisdiction {}",
                store.code,
                store.name,
                store.place_code,
                caller.scope.prefix()
            ),
        ));
    }
    Ok(store)
}

/// Any store by id (404 `store_not_found`).
pub async fn store(conn: &mut PgConnection, id: i64) -> Result<StoreRef> {
    sqlx::query_as::<_, StoreRef>(
        "SELECT id, code, name, kind::text AS kind, place_code, active
         FROM stock_stores WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("store_not_found", format!("no store with id {id}")))
}

/// `expired`, `soon` (within [`EXPIRY_WARNING_DAYS`]), `ok` or `unknown` (no expiry) for a lot
/// expiring on `expires_on`, seen on `today`.
pub fn expiry_status(
    expires_on: Option<chrono::NaiveDate>,
    today: chrono::NaiveDate,
) -> &'static str {
    match expires_on {
        None => "unknown",
        Some(d) if d < today => "expired",
        Some(d) if (d - today).num_days() <= EXPIRY_WARNING_DAYS => "soon",
        Some(_) => "ok",
    }
}

/// The SQL twin of [`expiry_status`] for a lot aliased `l`, seen on `$today` (a bound date):
/// `format!` it into a query with the parameter's number.
pub fn expiry_status_sql(today_param: usize) -> String {
    format!(
        "CASE WHEN l.expires_on IS NULL THEN 'unknown' \
              WHEN l.expires_on < ${today_param} THEN 'expired' \
              WHEN l.expires_on - ${today_param} <= {EXPIRY_WARNING_DAYS} THEN 'soon' \
              ELSE 'ok' END"
    )
}

/// The programme's error for a refusal of the ledger's rules in the database, or the error as
/// it was: a lot that would go below zero (422 `stock_negative`, field `quantity`, with the
/// lot, its batch, what is available and what was asked), a lot past its expiry issued or used
/// (422 `lot_expired`, field `lot`, with its expiry date), an edit of the ledger (409
/// `ledger_append_only`).
pub fn refusal(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e {
        let detail = db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .and_then(|pg| pg.detail())
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .unwrap_or(serde_json::Value::Null);
        match db.constraint() {
            Some("stock_on_hand_not_negative") => {
                let message = format!(
                    "lot {} has {} on hand: {} cannot be taken out",
                    detail["batch"].as_str().unwrap_or("?"),
                    detail["available"],
                    detail["asked"]
                );
                return Error::field_refused("quantity", "stock_negative", detail, message);
            }
            Some("stock_lot_expired") => {
                let message = format!(
                    "lot {} expired on {}: an expired lot cannot be issued",
                    detail["batch"].as_str().unwrap_or("?"),
                    detail["expires_on"].as_str().unwrap_or("?")
                );
                return Error::field_refused("lot", "lot_expired", detail, message);
            }
            _ => {}
        }
        if db.message().starts_with("the stock ledger is append-only") {
            return Error::Conflict {
                code: "ledger_append_only",
                message: "the stock ledger is append-only: a correction is a new movement"
                    .to_owned(),
            };
        }
    }
    Error::Database(e)
}

/// `{"id", "code", "name"}` of a store, for answers.
pub fn store_json(s: &StoreRef) -> serde_json::Value {
    json!({ "id": s.id, "code": s.code, "name": s.name, "kind": s.kind, "place_code": s.place_code })
}
