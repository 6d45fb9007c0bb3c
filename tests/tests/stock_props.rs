//! The ledger's invariants as a property test against PostgreSQL: any sequence of receipts,
//! transfers, receipts of transfers, uses and adjustments on two stores × three lots (one of them
//! expired), written through the programme's own functions. After every step stock on hand
//! equals the ledger's sum per store × lot and is never negative; a movement is accepted exactly
//! when a simple model says it may be (enough stock, a lot not expired, a transfer received
//! once), and a refused movement changes nothing (ledger rows and on hand as they were).
//!
//! One database for the whole run (the demo's gazetteer, made once); every case makes stores
//! and lots of its own, so cases (and proptest's shrinking runs) do not see each other.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, Local, NaiveDate};
use echinomap_domain::PlaceCode;
use echinomap_programme::auth::{AuthVia, Caller, Role, Scope};
use echinomap_programme::stock::ledger::{
    self, AdjustLine, Adjustment, IssueLine, NewTransfer, Receipt, ReceiptLine, Receive, Use,
};
use echinomap_tests::{Result, TestDb, api_client};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sqlx::PgPool;

const COUNTY: &str = "654022";
const VILLAGE: &str = "654022100200";
const STORES: usize = 2;
const LOTS: usize = 3;
/// The lot (index) that expired yesterday: it may be received and adjusted, never issued.
const EXPIRED: usize = 2;

static CASE: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone)]
enum Op {
    Receipt {
        store: usize,
        lot: usize,
        qty: i32,
    },
    Transfer {
        from: usize,
        lot: usize,
        qty: i32,
    },
    /// Receive the `nth` transfer made so far (modulo their number), as sent.
    Receive {
        nth: usize,
    },
    Use {
        store: usize,
        lot: usize,
        qty: i32,
    },
    Adjust {
        store: usize,
        lot: usize,
        qty: i32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let store = 0..STORES;
    let lot = 0..LOTS;
    prop_oneof![
        (store.clone(), lot.clone(), 1..50i32).prop_map(|(store, lot, qty)| Op::Receipt {
            store,
            lot,
            qty
        }),
        (store.clone(), lot.clone(), 1..60i32).prop_map(|(from, lot, qty)| Op::Transfer {
            from,
            lot,
            qty
        }),
        (0..8usize).prop_map(|nth| Op::Receive { nth }),
        (store.clone(), lot.clone(), 1..60i32).prop_map(|(store, lot, qty)| Op::Use {
            store,
            lot,
            qty
        }),
        (store, lot, -40..40i32).prop_map(|(store, lot, qty)| Op::Adjust {
            store,
            lot,
            qty: if qty == 0 { 1 } else { qty },
        }),
    ]
}

/// What a case works on.
struct Case {
    stores: [i64; STORES],
    lots: [(i64, String, NaiveDate); LOTS],
    item: i64,
}

fn caller(user_id: i64, username: &str) -> Caller {
    Caller {
        user_id,
        username: username.to_owned(),
        role: Role::StockKeeper,
        scope: Scope::new(PlaceCode::parse(COUNTY).expect("the county's code")),
        via: AuthVia::Token { token_id: 0 },
        must_change_password: false,
    }
}

async fn new_case(pool: &PgPool, item: i64, today: NaiveDate) -> Result<Case> {
    let n = CASE.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    let mut stores = [0; STORES];
    for (i, store) in stores.iter_mut().enumerate() {
        *store = sqlx::query_scalar(
            "INSERT INTO stock_stores (code, name, kind, place_code)
             VALUES ($1, $2, 'county_cdc', $3) RETURNING id",
        )
        .bind(format!("P{pid}-{n}-{i}"))
        .bind(format!("性质测试库 {n}-{i}"))
        .bind(COUNTY)
        .fetch_one(pool)
        .await?;
    }
    let mut lots = Vec::with_capacity(LOTS);
    for i in 0..LOTS {
        let batch = format!("P{pid}-{n}-L{i}");
        let expires_on = if i == EXPIRED {
            today - Duration::days(1)
        } else {
            today + Duration::days(30 + 200 * i as i64)
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO stock_lots (item_id, batch, expires_on) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(item)
        .bind(&batch)
        .bind(expires_on)
        .fetch_one(pool)
        .await?;
        lots.push((id, batch, expires_on));
    }
    Ok(Case {
        stores,
        lots: lots.try_into().map_err(|_| anyhow::anyhow!("three lots"))?,
        item,
    })
}

/// On hand (the table) and the ledger's sum, per store × lot of the case, and the case's
/// number of ledger rows.
async fn snapshot(pool: &PgPool, case: &Case) -> Result<(BTreeMap<(i64, i64), (i64, i64)>, i64)> {
    let lots: Vec<i64> = case.lots.iter().map(|l| l.0).collect();
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT s.id, l.id,
                coalesce((SELECT quantity FROM stock_on_hand h
                          WHERE h.store_id = s.id AND h.lot_id = l.id), 0)::bigint,
                coalesce((SELECT sum(quantity) FROM stock_movements m
                          WHERE m.store_id = s.id AND m.lot_id = l.id), 0)::bigint
         FROM unnest($1::bigint[]) s(id) CROSS JOIN unnest($2::bigint[]) l(id)",
    )
    .bind(case.stores.to_vec())
    .bind(&lots)
    .fetch_all(pool)
    .await?;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stock_movements WHERE store_id = ANY($1)")
            .bind(case.stores.to_vec())
            .fetch_one(pool)
            .await?;
    Ok((
        rows.into_iter()
            .map(|(s, l, hand, sum)| ((s, l), (hand, sum)))
            .collect(),
        count,
    ))
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

/// Runs one sequence; an `Err(TestCaseError)` is a counterexample.
async fn run_case(
    pool: &PgPool,
    who: &Caller,
    item: i64,
    ops: &[Op],
) -> std::result::Result<(), TestCaseError> {
    let today = Local::now().date_naive();
    let case = new_case(pool, item, today)
        .await
        .map_err(|e| fail(format!("setting up: {e}")))?;
    // The model: on hand per (store index, lot index); transfers (from, lot, qty, received).
    let mut model = [[0i64; LOTS]; STORES];
    let mut transfers: Vec<(i64, usize, usize, i64, bool)> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let (before, rows_before) = snapshot(pool, &case)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let lot_of = |i: usize| case.lots[i].0;
        let (expect_ok, outcome) = match op.clone() {
            Op::Receipt { store, lot, qty } => {
                let (_, batch, expires_on) = &case.lots[lot];
                let r = Receipt {
                    store_id: case.stores[store],
                    received_on: today,
                    supplier: "性质测试".to_owned(),
                    reference: None,
                    note: None,
                    lines: vec![ReceiptLine {
                        item_id: case.item,
                        batch: batch.clone(),
                        expires_on: *expires_on,
                        quantity: qty,
                        codes: Vec::new(),
                    }],
                };
                let out = ledger::receive_goods_as_of(pool, who, r, None, today).await;
                if out.is_ok() {
                    model[store][lot] += i64::from(qty);
                }
                (true, out.map(|_| ()))
            }
            Op::Transfer { from, lot, qty } => {
                let to = 1 - from;
                let ok = lot != EXPIRED && model[from][lot] >= i64::from(qty);
                let t = NewTransfer {
                    from_store_id: case.stores[from],
                    to_store_id: case.stores[to],
                    issued_on: today,
                    reference: None,
                    note: None,
                    lines: vec![IssueLine {
                        item_id: case.item,
                        lot_id: Some(lot_of(lot)),
                        quantity: qty,
                    }],
                };
                let out = ledger::transfer_as_of(pool, who, t, None, today).await;
                if let Ok(answer) = &out {
                    model[from][lot] -= i64::from(qty);
                    let id = answer["transfer"]["id"].as_i64().unwrap_or_default();
                    transfers.push((id, to, lot, i64::from(qty), false));
                }
                (ok, out.map(|_| ()))
            }
            Op::Receive { nth } => {
                if transfers.is_empty() {
                    continue;
                }
                let k = nth % transfers.len();
                let (id, to, lot, qty, received) = transfers[k];
                let r = Receive {
                    received_on: today,
                    note: None,
                    lines: None,
                };
                let out = ledger::receive_transfer_as_of(pool, who, id, r, None, today).await;
                if out.is_ok() {
                    model[to][lot] += qty;
                    transfers[k].4 = true;
                }
                (!received, out.map(|_| ()))
            }
            Op::Use { store, lot, qty } => {
                let ok = lot != EXPIRED && model[store][lot] >= i64::from(qty);
                let u = Use {
                    store_id: case.stores[store],
                    used_on: today,
                    village_code: VILLAGE.to_owned(),
                    recipient: None,
                    note: None,
                    lines: vec![IssueLine {
                        item_id: case.item,
                        lot_id: Some(lot_of(lot)),
                        quantity: qty,
                    }],
                };
                let out = ledger::hand_out_as_of(pool, who, u, None, today).await;
                if out.is_ok() {
                    model[store][lot] -= i64::from(qty);
                }
                (ok, out.map(|_| ()))
            }
            Op::Adjust { store, lot, qty } => {
                let ok = model[store][lot] + i64::from(qty) >= 0;
                let a = Adjustment {
                    store_id: case.stores[store],
                    adjusted_on: today,
                    reason: if qty < 0 { "lost" } else { "returned" }.to_owned(),
                    note: None,
                    lines: vec![AdjustLine {
                        lot_id: lot_of(lot),
                        quantity: qty,
                    }],
                };
                let out = ledger::adjust_as_of(pool, who, a, None, today).await;
                if out.is_ok() {
                    model[store][lot] += i64::from(qty);
                }
                (ok, out.map(|_| ()))
            }
        };
        let (after, rows_after) = snapshot(pool, &case)
            .await
            .map_err(|e| fail(e.to_string()))?;
        match (&outcome, expect_ok) {
            (Ok(()), true) => {}
            (Ok(()), false) => {
                return Err(fail(format!(
                    "step {step} {op:?} was accepted; the model refuses it"
                )));
            }
            (Err(e), true) => {
                return Err(fail(format!(
                    "step {step} {op:?} was refused ({e}); the model accepts it"
                )));
            }
            (Err(e), false) => {
                let code = match e {
                    echinomap_programme::Error::InvalidField { code, .. }
                    | echinomap_programme::Error::ConflictWith { code, .. } => *code,
                    _ => "",
                };
                prop_assert!(
                    ["stock_negative", "lot_expired", "transfer_received"].contains(&code),
                    "step {step} {op:?}: refused with {e:?}"
                );
                prop_assert_eq!(
                    &before,
                    &after,
                    "step {} {:?}: a refusal changed on hand",
                    step,
                    op
                );
                prop_assert_eq!(
                    rows_before,
                    rows_after,
                    "step {} {:?}: a refusal wrote rows",
                    step,
                    op
                );
            }
        }
        for ((store, lot), (hand, sum)) in &after {
            prop_assert!(
                *hand >= 0,
                "step {step}: store {store} lot {lot} on hand {hand}"
            );
            prop_assert_eq!(
                hand,
                sum,
                "step {}: store {} lot {}: on hand vs ledger",
                step,
                store,
                lot
            );
        }
        for (s, store) in case.stores.iter().enumerate() {
            for (l, lot) in case.lots.iter().enumerate() {
                let got = after.get(&(*store, lot.0)).map_or(0, |x| x.0);
                prop_assert_eq!(
                    got,
                    model[s][l],
                    "step {}: store {} lot {} vs the model",
                    step,
                    s,
                    l
                );
            }
        }
    }
    Ok(())
}

#[test]
fn on_hand_equals_the_ledger_sum_never_goes_negative_and_a_refused_movement_writes_nothing()
-> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (db, who, item) = rt.block_on(async {
        let db = TestDb::demo().await?;
        let client = api_client(&db.pool, "http://127.0.0.1:9", Role::StockKeeper, COUNTY).await?;
        let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(&client.username)
            .fetch_one(&db.pool)
            .await?;
        let item: i64 = sqlx::query_scalar(
            "INSERT INTO stock_items (code, name, kind, unit) VALUES ('PROP-PZQ', '吡喹酮（性质测试）', 'praziquantel', '片') RETURNING id",
        )
        .fetch_one(&db.pool)
        .await?;
        anyhow::Ok((db, caller(user_id, &client.username), item))
    })?;
    let mut runner = TestRunner::new(Config {
        cases: 24,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(), 1..=30);
    let outcome = runner.run(&strategy, |ops| {
        rt.block_on(run_case(&db.pool, &who, item, &ops))
    });
    if let Err(e) = outcome {
        anyhow::bail!("{e}");
    }
    Ok(())
}
