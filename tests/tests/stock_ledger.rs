//! The stock ledger through the API, on the demo database: the catalogue and the stores, receipts,
//! transfers (in transit, received once, a difference with its note), uses and adjustments;
//! first-expiry-first-out issues, expired lots refused with their date, stock that would go
//! negative refused naming the lot; two concurrent issues of one lot; a ledger the database
//! itself keeps append-only; resends with an Idempotency-Key; and who sees and writes what.

use chrono::{Duration, Local, NaiveDate};
use echinomap_programme::auth::Role;
use echinomap_tests::{ApiClient, Result, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const COUNTY: &str = "654022";
const TOWNSHIP: &str = "654022100";
const OTHER_TOWNSHIP: &str = "654022101";
const VILLAGE: &str = "654022100200";

async fn send(c: &ApiClient, method: Method, path: &str, body: &Value) -> Result<(u16, Value)> {
    send_keyed(c, method, path, body, None).await
}

async fn send_keyed(
    c: &ApiClient,
    method: Method,
    path: &str,
    body: &Value,
    key: Option<&str>,
) -> Result<(u16, Value)> {
    let mut r = c.request(method, path).json(body);
    if let Some(key) = key {
        r = r.header("Idempotency-Key", key);
    }
    let r = r.send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn today() -> NaiveDate {
    Local::now().date_naive()
}

fn day(offset: i64) -> String {
    (today() + Duration::days(offset)).to_string()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// The stores and items of a test, made through the admin API.
struct Stock {
    app: TestApp,
    admin: ApiClient,
    /// The county keeper (the CDC's store).
    keeper: ApiClient,
    /// The keeper of township 654022100.
    township_keeper: ApiClient,
    cdc: i64,
    thc: i64,
    other_thc: i64,
    pzq: i64,
}

async fn stock() -> Result<Stock> {
    let app = TestApp::with_demo().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let keeper = app.user(Role::StockKeeper, COUNTY).await?;
    let township_keeper = app.user(Role::StockKeeper, TOWNSHIP).await?;
    let store = |code: &str, kind: &str, place: &str| json!({ "code": code, "name": format!("测试库 {code}"), "kind": kind, "place_code": place });
    let cdc = admin
        .post_json(
            "/api/stock/stores",
            &store("T-CDC", "county_cdc", COUNTY),
            201,
        )
        .await?;
    let thc = admin
        .post_json(
            "/api/stock/stores",
            &store("T-THC-100", "township_centre", TOWNSHIP),
            201,
        )
        .await?;
    let other_thc = admin
        .post_json(
            "/api/stock/stores",
            &store("T-THC-101", "township_centre", OTHER_TOWNSHIP),
            201,
        )
        .await?;
    let item = admin
        .post_json(
            "/api/stock/items",
            &json!({ "code": "T-PZQ", "name": "吡喹酮片（测试）", "kind": "praziquantel",
                     "unit": "片", "pack_size": 100, "units_per_dose": 1 }),
            201,
        )
        .await?;
    Ok(Stock {
        cdc: id(&cdc["store"]),
        thc: id(&thc["store"]),
        other_thc: id(&other_thc["store"]),
        pzq: id(&item["item"]),
        app,
        admin,
        keeper,
        township_keeper,
    })
}

impl Stock {
    /// Receives `quantity` of a PZQ lot `batch` expiring on `expires_on` at `store`; the lot id.
    async fn receive(
        &self,
        store: i64,
        batch: &str,
        expires_on: &str,
        quantity: i32,
    ) -> Result<i64> {
        let answer = self
            .keeper
            .post_json(
                "/api/stock/receipts",
                &json!({
                    "store_id": store, "received_on": day(-10), "supplier": "药厂", "reference": "PO-1",
                    "lines": [{ "item_id": self.pzq, "batch": batch, "expires_on": expires_on,
                                "quantity": quantity }],
                }),
                201,
            )
            .await?;
        Ok(id(&answer["lots"][0]))
    }

    async fn on_hand(&self, c: &ApiClient, store: i64, lot: i64) -> Result<i64> {
        let v = c
            .get_json(&format!("/api/stock/on-hand?store={store}"), 200)
            .await?;
        Ok(v["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["lot"]["id"] == lot)
            .map_or(0, |r| r["quantity"].as_i64().expect("quantity")))
    }

    async fn ledger_rows(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM stock_movements")
            .fetch_one(&self.app.db.pool)
            .await?)
    }
}

#[tokio::test]
async fn the_catalogue_maps_barcodes_to_items_and_a_scan_says_what_it_knows() -> Result<()> {
    let s = stock().await?;
    let lot = s.receive(s.cdc, "B2026", &day(400), 500).await?;
    // A GTIN (EAN-13 → GTIN-14) of a box of 100 tablets.
    let barcode = s
        .admin
        .post_json(
            "/api/stock/barcodes",
            &json!({ "code": "4006381333931", "item_id": s.pzq, "pack_quantity": 100 }),
            201,
        )
        .await?;
    assert_eq!(barcode["barcode"]["kind"], "gtin");
    assert_eq!(barcode["barcode"]["code"], "04006381333931");
    let items = s.keeper.get_json("/api/stock/items", 200).await?;
    let item = items["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == s.pzq)
        .expect("the new item is listed")
        .clone();
    assert_eq!(item["pack_size"], 100);
    assert_eq!(item["barcodes"][0]["code"], "04006381333931");
    // A GS1 DataMatrix of the same GTIN naming the batch finds the lot, with the store's stock.
    let scan = s
        .keeper
        .post_json(
            "/api/stock/scan",
            &json!({ "code": "]d2010400638133393110B2026\u{1d}17301231", "store_id": s.cdc }),
            200,
        )
        .await?;
    assert_eq!(scan["known"], true, "{scan}");
    assert_eq!(scan["item"]["id"], s.pzq);
    assert_eq!(scan["lot"]["id"], lot);
    assert_eq!(scan["lot"]["on_hand"], 500);
    assert_eq!(scan["pack_quantity"], 100);
    // An unknown but well-formed code: known false. A bad check digit: 422 naming the field.
    let unknown = s
        .keeper
        .post_json("/api/stock/scan", &json!({ "code": "9501101530003" }), 200)
        .await?;
    assert_eq!(unknown["known"], false);
    assert_eq!(unknown["parsed"]["gtin"], "09501101530003");
    let (status, bad) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/scan",
        &json!({ "code": "4006381333932" }),
    )
    .await?;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["error"]["code"], "barcode_check_digit");
    assert_eq!(bad["error"]["details"]["field"], "code");
    // A veterinary code needs its lot; with it, it is tied to the lot.
    let vet = "123456789012345678901234";
    let (status, refused) = send(
        &s.admin,
        Method::POST,
        "/api/stock/barcodes",
        &json!({ "code": vet, "item_id": s.pzq }),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "lot_id");
    s.admin
        .post_json(
            "/api/stock/barcodes",
            &json!({ "code": vet, "item_id": s.pzq, "lot_id": lot }),
            201,
        )
        .await?;
    let scan = s
        .keeper
        .post_json("/api/stock/scan", &json!({ "code": vet }), 200)
        .await?;
    assert_eq!(scan["lot"]["id"], lot);
    // The keeper may not edit the catalogue; the admin's edits are audited.
    let (status, _) = send(
        &s.keeper,
        Method::PATCH,
        &format!("/api/stock/items/{}", s.pzq),
        &json!({ "active": false }),
    )
    .await?;
    assert_eq!(status, 403);
    let (status, patched) = send(
        &s.admin,
        Method::PATCH,
        &format!("/api/stock/items/{}", s.pzq),
        &json!({ "units_per_dose": 2.5 }),
    )
    .await?;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["item"]["units_per_dose"], 2.5);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE table_name IN ('stock_items', 'stock_barcodes', 'stock_stores')",
    )
    .fetch_one(&s.app.db.pool)
    .await?;
    assert!(audited >= 7, "{audited} audit rows of the catalogue");
    let lots = s
        .keeper
        .get_json(&format!("/api/stock/lots?item={}", s.pzq), 200)
        .await?;
    assert_eq!(lots["items"][0]["batch"], "B2026");
    assert_eq!(lots["items"][0]["expiry_status"], "ok");
    Ok(())
}

#[tokio::test]
async fn a_transfer_is_in_transit_until_received_once_and_a_difference_needs_a_note() -> Result<()>
{
    let s = stock().await?;
    let lot = s.receive(s.cdc, "T1", &day(300), 1000).await?;
    let sent = s
        .keeper
        .post_json(
            "/api/stock/transfers",
            &json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(-2),
                     "reference": "调拨单 7", "lines": [{ "item_id": s.pzq, "quantity": 400 }] }),
            201,
        )
        .await?;
    let transfer = &sent["transfer"];
    assert_eq!(transfer["state"], "in_transit");
    assert_eq!(transfer["lines"][0]["lot"]["id"], lot);
    assert_eq!(transfer["lines"][0]["sent"], 400);
    assert_eq!(transfer["lines"][0]["received"], Value::Null);
    let tid = id(transfer);
    assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 600);
    // In transit: the township's store holds nothing yet, and lists the transfer as coming.
    assert_eq!(s.on_hand(&s.township_keeper, s.thc, lot).await?, 0);
    let coming = s
        .township_keeper
        .get_json(
            &format!("/api/stock/transfers?state=in_transit&store={}", s.thc),
            200,
        )
        .await?;
    assert_eq!(coming["items"][0]["id"], tid);
    // A keeper of another township cannot receive it.
    let other = s.app.user(Role::StockKeeper, OTHER_TOWNSHIP).await?;
    let path = format!("/api/stock/transfers/{tid}/receive");
    let (status, refused) = send(
        &other,
        Method::POST,
        &path,
        &json!({ "received_on": day(0) }),
    )
    .await?;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "store_outside_jurisdiction");
    // Got 390: without a note, refused, nothing written.
    let rows = s.ledger_rows().await?;
    let short = json!({ "received_on": day(0), "lines": [{ "lot_id": lot, "quantity": 390 }] });
    let (status, refused) = send(&s.township_keeper, Method::POST, &path, &short).await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "difference_needs_note");
    assert_eq!(refused["error"]["details"]["lines"][0]["sent"], 400);
    assert_eq!(refused["error"]["details"]["lines"][0]["received"], 390);
    assert_eq!(s.ledger_rows().await?, rows);
    let mut noted = short.clone();
    noted["note"] = json!("一盒破损 10 片");
    let (status, received) = send(&s.township_keeper, Method::POST, &path, &noted).await?;
    assert_eq!(status, 200, "{received}");
    assert_eq!(received["transfer"]["state"], "received");
    assert_eq!(received["transfer"]["receipt_note"], "一盒破损 10 片");
    assert_eq!(s.on_hand(&s.township_keeper, s.thc, lot).await?, 390);
    // Once only.
    let (status, again) = send(&s.township_keeper, Method::POST, &path, &noted).await?;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "transfer_received");
    assert_eq!(s.on_hand(&s.township_keeper, s.thc, lot).await?, 390);
    // The list shows sent against received.
    let list = s
        .keeper
        .get_json(&format!("/api/stock/transfers?store={}", s.thc), 200)
        .await?;
    let line = &list["items"][0]["lines"][0];
    assert_eq!(
        (line["sent"].clone(), line["received"].clone()),
        (json!(400), json!(390))
    );
    // The ledger: receipt, transfer_out, transfer_in, newest first.
    let ledger = s
        .keeper
        .get_json(&format!("/api/stock/movements?item={}", s.pzq), 200)
        .await?;
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["transfer_in", "transfer_out", "receipt"]);
    assert_eq!(ledger["items"][1]["quantity"], -400);
    assert_eq!(ledger["items"][2]["supplier"], "药厂");
    let transit = s
        .keeper
        .get_json(
            &format!("/api/stock/transfers?state=in_transit&store={}", s.thc),
            200,
        )
        .await?;
    assert!(transit["items"].as_array().expect("items").is_empty());
    Ok(())
}

#[tokio::test]
async fn an_issue_without_a_lot_takes_the_earliest_expiring_lots_and_an_expired_lot_is_refused_with_its_date()
-> Result<()> {
    let s = stock().await?;
    let late = s.receive(s.cdc, "LATE", &day(500), 100).await?;
    let soon = s.receive(s.cdc, "SOON", &day(30), 50).await?;
    let expired = s.receive(s.cdc, "OLD", &day(-1), 80).await?;
    // The proposal: SOON first, then LATE; the expired lot is not offered.
    let fefo = s
        .keeper
        .get_json(
            &format!("/api/stock/fefo?store={}&item={}&quantity=70", s.cdc, s.pzq),
            200,
        )
        .await?;
    let lots = fefo["lots"].as_array().expect("lots");
    assert_eq!(lots.len(), 2, "{fefo}");
    assert_eq!(
        (lots[0]["lot"]["id"].clone(), lots[0]["take"].clone()),
        (json!(soon), json!(50))
    );
    assert_eq!(
        (lots[1]["lot"]["id"].clone(), lots[1]["take"].clone()),
        (json!(late), json!(20))
    );
    assert_eq!(lots[0]["expiry_status"], "soon");
    assert_eq!(fefo["short"], 0);
    // Handing out 70 without naming a lot takes exactly that.
    let used = s
        .keeper
        .post_json(
            "/api/stock/uses",
            &json!({ "store_id": s.cdc, "used_on": day(0), "village_code": VILLAGE,
                     "recipient": "村医", "lines": [{ "item_id": s.pzq, "quantity": 70 }] }),
            201,
        )
        .await?;
    assert_eq!(used["movements"].as_array().map(Vec::len), Some(2));
    assert_eq!(s.on_hand(&s.keeper, s.cdc, soon).await?, 0);
    assert_eq!(s.on_hand(&s.keeper, s.cdc, late).await?, 80);
    let uses = s
        .keeper
        .get_json(
            &format!("/api/stock/movements?kind=use&store={}", s.cdc),
            200,
        )
        .await?;
    assert_eq!(uses["items"][0]["village"]["code"], VILLAGE);
    // The expired lot, named: refused with its expiry date.
    let (status, refused) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/uses",
        &json!({ "store_id": s.cdc, "used_on": day(0), "village_code": VILLAGE,
                 "lines": [{ "item_id": s.pzq, "lot_id": expired, "quantity": 1 }] }),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "lot_expired");
    assert_eq!(refused["error"]["details"]["expires_on"], day(-1));
    assert_eq!(refused["error"]["details"]["batch"], "OLD");
    // On hand flags it; filtered by status.
    let expired_rows = s
        .keeper
        .get_json(
            &format!("/api/stock/on-hand?store={}&status=expired", s.cdc),
            200,
        )
        .await?;
    let rows = expired_rows["items"].as_array().expect("items");
    assert_eq!(rows.len(), 1, "{expired_rows}");
    assert_eq!(rows[0]["lot"]["batch"], "OLD");
    assert_eq!(rows[0]["days_to_expiry"], -1);
    // Written off as expired: an adjustment with its reason.
    s.keeper
        .post_json(
            "/api/stock/adjustments",
            &json!({ "store_id": s.cdc, "adjusted_on": day(0), "reason": "expired",
                     "lines": [{ "lot_id": expired, "quantity": -80 }] }),
            201,
        )
        .await?;
    assert_eq!(s.on_hand(&s.keeper, s.cdc, expired).await?, 0);
    // More than the unexpired lots hold: stock_negative with what is available.
    let (status, short) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/transfers",
        &json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(0),
                 "lines": [{ "item_id": s.pzq, "quantity": 81 }] }),
    )
    .await?;
    assert_eq!(status, 422, "{short}");
    assert_eq!(short["error"]["code"], "stock_negative");
    assert_eq!(short["error"]["details"]["available"], 80);
    Ok(())
}

#[tokio::test]
async fn a_movement_that_would_make_stock_negative_is_refused_naming_the_lot_and_writes_nothing()
-> Result<()> {
    let s = stock().await?;
    let lot = s.receive(s.cdc, "NEG-1", &day(200), 30).await?;
    let rows = s.ledger_rows().await?;
    let transfers: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_transfers")
        .fetch_one(&s.app.db.pool)
        .await?;
    for (path, body) in [
        (
            "/api/stock/adjustments",
            json!({ "store_id": s.cdc, "adjusted_on": day(0), "reason": "lost",
                    "lines": [{ "lot_id": lot, "quantity": -31 }] }),
        ),
        (
            "/api/stock/transfers",
            json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(0),
                    "lines": [{ "item_id": s.pzq, "lot_id": lot, "quantity": 10 },
                              { "item_id": s.pzq, "lot_id": lot, "quantity": 21 }] }),
        ),
        (
            "/api/stock/uses",
            json!({ "store_id": s.cdc, "used_on": day(0), "village_code": VILLAGE,
                    "lines": [{ "item_id": s.pzq, "lot_id": lot, "quantity": 31 }] }),
        ),
    ] {
        let (status, refused) = send(&s.keeper, Method::POST, path, &body).await?;
        assert_eq!(status, 422, "{path}: {refused}");
        assert_eq!(refused["error"]["code"], "stock_negative", "{path}");
        let details = &refused["error"]["details"];
        assert_eq!(details["field"], "quantity");
        assert_eq!(details["batch"], "NEG-1", "{path}: {details}");
        assert_eq!(details["lot_id"], lot);
        assert!(
            details["available"] == 30 || details["available"] == 20,
            "{details}"
        );
        assert!(
            refused["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("NEG-1")),
            "{refused}"
        );
        assert_eq!(s.ledger_rows().await?, rows, "{path} wrote nothing");
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_transfers")
        .fetch_one(&s.app.db.pool)
        .await?;
    assert_eq!(
        after, transfers,
        "the refused transfer left no transfer behind"
    );
    assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 30);
    Ok(())
}

#[tokio::test]
async fn two_concurrent_issues_that_together_would_go_negative_one_succeeds_one_is_refused()
-> Result<()> {
    let s = stock().await?;
    let lot = s.receive(s.cdc, "RACE", &day(200), 100).await?;
    let other_keeper = s.app.user(Role::StockKeeper, COUNTY).await?;
    for round in 0..3 {
        let body = json!({ "store_id": s.cdc, "used_on": day(0), "village_code": VILLAGE,
                           "lines": [{ "item_id": s.pzq, "lot_id": lot, "quantity": 20 }] });
        let before = s.on_hand(&s.keeper, s.cdc, lot).await?;
        // Take the lot down to 30, then race two issues of 20.
        if before > 30 {
            s.keeper
                .post_json(
                    "/api/stock/adjustments",
                    &json!({ "store_id": s.cdc, "adjusted_on": day(0), "reason": "damaged",
                             "lines": [{ "lot_id": lot, "quantity": 30 - before }] }),
                    201,
                )
                .await?;
        } else if before < 30 {
            s.keeper
                .post_json(
                    "/api/stock/adjustments",
                    &json!({ "store_id": s.cdc, "adjusted_on": day(0), "reason": "returned",
                             "lines": [{ "lot_id": lot, "quantity": 30 - before }] }),
                    201,
                )
                .await?;
        }
        let (a, b) = tokio::join!(
            send(&s.keeper, Method::POST, "/api/stock/uses", &body),
            send(&other_keeper, Method::POST, "/api/stock/uses", &body),
        );
        let (a, b) = (a?, b?);
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 422], "round {round}: {a:?} {b:?}");
        let refused = if a.0 == 422 { &a.1 } else { &b.1 };
        assert_eq!(refused["error"]["code"], "stock_negative");
        assert_eq!(refused["error"]["details"]["available"], 10);
        assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 10);
    }
    let (sum, hand): (i64, i32) = sqlx::query_as(
        "SELECT (SELECT sum(quantity) FROM stock_movements WHERE store_id = $1 AND lot_id = $2),
                (SELECT quantity FROM stock_on_hand WHERE store_id = $1 AND lot_id = $2)",
    )
    .bind(s.cdc)
    .bind(lot)
    .fetch_one(&s.app.db.pool)
    .await?;
    assert_eq!(sum, i64::from(hand));
    Ok(())
}

#[tokio::test]
async fn the_database_refuses_update_and_delete_on_the_ledger() -> Result<()> {
    let s = stock().await?;
    let lot = s.receive(s.cdc, "FIXED", &day(200), 10).await?;
    let pool = &s.app.db.pool;
    let update = sqlx::query("UPDATE stock_movements SET quantity = 1000 WHERE lot_id = $1")
        .bind(lot)
        .execute(pool)
        .await;
    let e = update.expect_err("UPDATE of the ledger is refused");
    assert!(e.to_string().contains("append-only"), "{e}");
    let delete = sqlx::query("DELETE FROM stock_movements WHERE lot_id = $1")
        .bind(lot)
        .execute(pool)
        .await;
    assert!(delete.is_err(), "DELETE of the ledger is refused");
    let on_hand = sqlx::query("UPDATE stock_on_hand SET quantity = 5 WHERE lot_id = $1")
        .bind(lot)
        .execute(pool)
        .await;
    assert!(on_hand.is_err(), "stock on hand is not written directly");
    let mapped = echinomap_programme::stock::refusal(e);
    assert!(
        matches!(
            mapped,
            echinomap_programme::Error::Conflict {
                code: "ledger_append_only",
                ..
            }
        ),
        "{mapped:?}"
    );
    assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 10);
    Ok(())
}

#[tokio::test]
async fn a_resend_with_the_same_idempotency_key_answers_the_first_answer_and_writes_nothing()
-> Result<()> {
    let s = stock().await?;
    let lot = s.receive(s.cdc, "IDEM", &day(200), 100).await?;
    let body = json!({ "store_id": s.cdc, "used_on": day(0), "village_code": VILLAGE,
                       "lines": [{ "item_id": s.pzq, "quantity": 15 }] });
    let key = "use-3f9a2c1e-0001";
    let (status, first) =
        send_keyed(&s.keeper, Method::POST, "/api/stock/uses", &body, Some(key)).await?;
    assert_eq!(status, 201, "{first}");
    let rows = s.ledger_rows().await?;
    let (status, second) =
        send_keyed(&s.keeper, Method::POST, "/api/stock/uses", &body, Some(key)).await?;
    assert_eq!(status, 201, "{second}");
    assert_eq!(first, second);
    assert_eq!(s.ledger_rows().await?, rows);
    assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 85);
    // A transfer resent answers the same transfer.
    let transfer = json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(0),
                           "lines": [{ "item_id": s.pzq, "quantity": 5 }] });
    let (_, t1) = send_keyed(
        &s.keeper,
        Method::POST,
        "/api/stock/transfers",
        &transfer,
        Some("transfer-key-1"),
    )
    .await?;
    let (_, t2) = send_keyed(
        &s.keeper,
        Method::POST,
        "/api/stock/transfers",
        &transfer,
        Some("transfer-key-1"),
    )
    .await?;
    assert_eq!(t1["transfer"]["id"], t2["transfer"]["id"]);
    assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 80);
    // Every write is audited, with who made it.
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name, username FROM audit_log
         WHERE table_name IN ('stock_movements', 'stock_transfers') ORDER BY id",
    )
    .fetch_all(&s.app.db.pool)
    .await?;
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert!(audited.iter().all(|(_, u)| *u == s.keeper.username));
    let (status, _) = send_keyed(
        &s.keeper,
        Method::POST,
        "/api/stock/uses",
        &body,
        Some("short"),
    )
    .await?;
    assert_eq!(status, 400);
    Ok(())
}

#[tokio::test]
async fn a_township_keeper_sees_and_moves_only_the_stock_of_its_township() -> Result<()> {
    let s = stock().await?;
    let lot = s.receive(s.cdc, "SCOPE", &day(200), 100).await?;
    for to in [s.thc, s.other_thc] {
        let sent = s
            .keeper
            .post_json(
                "/api/stock/transfers",
                &json!({ "from_store_id": s.cdc, "to_store_id": to, "issued_on": day(0),
                         "lines": [{ "item_id": s.pzq, "quantity": 10 }] }),
                201,
            )
            .await?;
        let tid = id(&sent["transfer"]);
        s.keeper
            .post_json(
                &format!("/api/stock/transfers/{tid}/receive"),
                &json!({ "received_on": day(0) }),
                200,
            )
            .await?;
    }
    // On hand and movements: only the township's store.
    let t = &s.township_keeper;
    let on_hand = t
        .get_json(&format!("/api/stock/on-hand?item={}", s.pzq), 200)
        .await?;
    let stores: Vec<i64> = on_hand["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["store"]["id"].as_i64().expect("store"))
        .collect();
    assert_eq!(stores, [s.thc], "{on_hand}");
    let moves = t
        .get_json(&format!("/api/stock/movements?item={}", s.pzq), 200)
        .await?;
    assert!(
        moves["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|m| m["store"]["id"] == s.thc),
        "{moves}"
    );
    assert_eq!(moves["items"].as_array().map(Vec::len), Some(1));
    // Every store is listed, with whether the keeper may act there.
    let list = t.get_json("/api/stock/stores", 200).await?;
    let in_scope = |store: i64| {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["id"] == store)
            .map(|r| r["in_scope"].clone())
    };
    assert_eq!(in_scope(s.thc), Some(json!(true)));
    assert_eq!(in_scope(s.cdc), Some(json!(false)));
    // Asking for another store, or writing there: refused with the reason.
    let (status, refused) = send(
        t,
        Method::GET,
        &format!("/api/stock/on-hand?store={}", s.cdc),
        &Value::Null,
    )
    .await?;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (403, json!("store_outside_jurisdiction"))
    );
    let (status, refused) = send(
        t,
        Method::POST,
        "/api/stock/adjustments",
        &json!({ "store_id": s.cdc, "adjusted_on": day(0), "reason": "lost",
                 "lines": [{ "lot_id": lot, "quantity": -1 }] }),
    )
    .await?;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "store_outside_jurisdiction");
    // Its own store it may move.
    t.post_json(
        "/api/stock/uses",
        &json!({ "store_id": s.thc, "used_on": day(0), "village_code": VILLAGE,
                 "lines": [{ "item_id": s.pzq, "quantity": 4 }] }),
        201,
    )
    .await?;
    // The epidemiologist reads everything and writes nothing.
    let epi = s.app.epi().await?;
    let all = epi
        .get_json(&format!("/api/stock/on-hand?item={}", s.pzq), 200)
        .await?;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3), "{all}");
    let (status, _) = send(
        &epi,
        Method::POST,
        "/api/stock/adjustments",
        &json!({ "store_id": s.cdc, "adjusted_on": day(0), "reason": "lost",
                 "lines": [{ "lot_id": lot, "quantity": -1 }] }),
    )
    .await?;
    assert_eq!(status, 403);
    // Roles without stock: 403 on every stock route.
    for role in [Role::Planner, Role::Viewer, Role::VillageDoctor] {
        let jurisdiction = if role == Role::VillageDoctor {
            VILLAGE
        } else {
            COUNTY
        };
        let c = s.app.user(role, jurisdiction).await?;
        for path in [
            "/api/stock/items",
            "/api/stock/stores",
            "/api/stock/on-hand",
            "/api/stock/movements",
            "/api/stock/transfers",
        ] {
            let r = c.get(path).await?;
            assert_eq!(r.status().as_u16(), 403, "{role:?} {path}");
        }
        let (status, _) = send(
            &c,
            Method::POST,
            "/api/stock/scan",
            &json!({ "code": "4006381333931" }),
        )
        .await?;
        assert_eq!(status, 403, "{role:?} scan");
    }
    Ok(())
}

#[tokio::test]
async fn a_receipt_finds_or_makes_the_lot_refuses_another_expiry_and_ties_the_codes_of_its_packs()
-> Result<()> {
    let s = stock().await?;
    let vet = "987654321098765432109876";
    let receipt = |batch: &str, expires_on: String, codes: Vec<&str>| {
        json!({ "store_id": s.cdc, "received_on": day(0), "supplier": "兽药厂",
                "lines": [{ "item_id": s.pzq, "batch": batch, "expires_on": expires_on,
                            "quantity": 20, "codes": codes }] })
    };
    let first = s
        .keeper
        .post_json(
            "/api/stock/receipts",
            &receipt("V-1", day(365), vec![vet]),
            201,
        )
        .await?;
    let lot = id(&first["lots"][0]);
    // The same batch again: the same lot, stock added.
    let again = s
        .keeper
        .post_json(
            "/api/stock/receipts",
            &receipt("V-1", day(365), vec![]),
            201,
        )
        .await?;
    assert_eq!(id(&again["lots"][0]), lot);
    assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 40);
    // The same batch with another expiry: refused on expires_on, nothing written.
    let rows = s.ledger_rows().await?;
    let (status, refused) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/receipts",
        &receipt("V-1", day(366), vec![]),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "lot_expiry_mismatch");
    assert_eq!(refused["error"]["details"]["field"], "expires_on");
    assert_eq!(s.ledger_rows().await?, rows);
    // The veterinary code received with the lot now names it.
    let scan = s
        .keeper
        .post_json(
            "/api/stock/scan",
            &json!({ "code": format!("https://zs.example.cn/q?c={vet}"), "store_id": s.cdc }),
            200,
        )
        .await?;
    assert_eq!(scan["known"], true, "{scan}");
    assert_eq!(scan["lot"]["id"], lot);
    assert_eq!(scan["lot"]["on_hand"], 40);
    // A use for a village that does not exist is refused on village_code.
    let (status, refused) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/uses",
        &json!({ "store_id": s.cdc, "used_on": day(0), "village_code": "654022999999",
                 "lines": [{ "item_id": s.pzq, "quantity": 1 }] }),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "village_not_found");
    // A closed store takes no movements.
    let (status, closed) = send(
        &s.admin,
        Method::PATCH,
        &format!("/api/stock/stores/{}", s.cdc),
        &json!({ "active": false }),
    )
    .await?;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["store"]["active"], false);
    let (status, refused) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/receipts",
        &receipt("V-2", day(365), vec![]),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "store_inactive");
    Ok(())
}

#[tokio::test]
async fn a_use_names_a_village_the_store_serves_inside_the_callers_jurisdiction() -> Result<()> {
    let s = stock().await?;
    let lot = s.receive(s.cdc, "VIL", &day(200), 100).await?;
    let sent = s
        .keeper
        .post_json(
            "/api/stock/transfers",
            &json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(0),
                     "lines": [{ "item_id": s.pzq, "lot_id": lot, "quantity": 40 }] }),
            201,
        )
        .await?;
    s.keeper
        .post_json(
            &format!("/api/stock/transfers/{}/receive", id(&sent["transfer"])),
            &json!({ "received_on": day(0) }),
            200,
        )
        .await?;
    let elsewhere: String = sqlx::query_scalar(
        "SELECT code::text FROM villages WHERE code::text LIKE $1 || '%' ORDER BY code LIMIT 1",
    )
    .bind(OTHER_TOWNSHIP)
    .fetch_one(&s.app.db.pool)
    .await?;
    let rows = s.ledger_rows().await?;
    let hand_out = |store: i64, village: &str| {
        json!({ "store_id": store, "used_on": day(0), "village_code": village,
                "lines": [{ "item_id": s.pzq, "lot_id": lot, "quantity": 1 }] })
    };
    // The township centre serves its own township's villages only, whoever hands out.
    for c in [&s.keeper, &s.township_keeper] {
        let (status, refused) = send(
            c,
            Method::POST,
            "/api/stock/uses",
            &hand_out(s.thc, &elsewhere),
        )
        .await?;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["error"]["code"], "village_outside_store");
        assert_eq!(refused["error"]["details"]["field"], "village_code");
        assert_eq!(refused["error"]["details"]["code"], elsewhere.as_str());
        assert_eq!(refused["error"]["details"]["store"], "T-THC-100");
    }
    // The county store serves the whole county: the other township's village is fine.
    s.keeper
        .post_json("/api/stock/uses", &hand_out(s.cdc, &elsewhere), 201)
        .await?;
    // Its own village: fine.
    s.township_keeper
        .post_json("/api/stock/uses", &hand_out(s.thc, VILLAGE), 201)
        .await?;
    assert_eq!(s.ledger_rows().await?, rows + 2);
    Ok(())
}

#[tokio::test]
async fn a_backdated_issue_cannot_hand_out_a_lot_expired_today_and_future_dates_are_refused()
-> Result<()> {
    let s = stock().await?;
    // A lot that expired yesterday; ten days ago it was still good.
    let old = s.receive(s.cdc, "BACK", &day(-1), 50).await?;
    let rows = s.ledger_rows().await?;
    let (status, refused) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/uses",
        &json!({ "store_id": s.cdc, "used_on": day(-10), "village_code": VILLAGE,
                 "lines": [{ "item_id": s.pzq, "lot_id": old, "quantity": 5 }] }),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "lot_expired");
    assert_eq!(refused["error"]["details"]["expires_on"], day(-1));
    let (status, refused) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/transfers",
        &json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(-10),
                 "lines": [{ "item_id": s.pzq, "lot_id": old, "quantity": 5 }] }),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "lot_expired");
    // FEFO, backdated too, does not offer it: nothing unexpired to take.
    let (status, short) = send(
        &s.keeper,
        Method::POST,
        "/api/stock/transfers",
        &json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(-10),
                 "lines": [{ "item_id": s.pzq, "quantity": 5 }] }),
    )
    .await?;
    assert_eq!(status, 422, "{short}");
    assert_eq!(short["error"]["code"], "stock_negative");
    let fefo = s
        .keeper
        .get_json(
            &format!(
                "/api/stock/fefo?store={}&item={}&quantity=5&on={}",
                s.cdc,
                s.pzq,
                day(-10)
            ),
            200,
        )
        .await?;
    assert_eq!(fefo["lots"], json!([]), "{fefo}");
    // Dated after today: refused, receipts included.
    let good = s.receive(s.cdc, "GOOD", &day(300), 50).await?;
    let rows_good = s.ledger_rows().await?;
    assert_eq!(rows_good, rows + 1);
    for (path, field, body) in [
        (
            "/api/stock/uses",
            "used_on",
            json!({ "store_id": s.cdc, "used_on": day(1), "village_code": VILLAGE,
                    "lines": [{ "item_id": s.pzq, "lot_id": good, "quantity": 5 }] }),
        ),
        (
            "/api/stock/transfers",
            "issued_on",
            json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(1),
                    "lines": [{ "item_id": s.pzq, "lot_id": good, "quantity": 5 }] }),
        ),
        (
            "/api/stock/receipts",
            "received_on",
            json!({ "store_id": s.cdc, "received_on": day(1), "supplier": "药厂",
                    "lines": [{ "item_id": s.pzq, "batch": "GOOD", "expires_on": day(300),
                                "quantity": 5 }] }),
        ),
    ] {
        let (status, refused) = send(&s.keeper, Method::POST, path, &body).await?;
        assert_eq!(status, 422, "{path}: {refused}");
        assert_eq!(refused["error"]["code"], "date_in_future", "{path}");
        assert_eq!(refused["error"]["details"]["field"], field, "{path}");
    }
    // A transfer cannot be received before it was issued.
    let sent = s
        .keeper
        .post_json(
            "/api/stock/transfers",
            &json!({ "from_store_id": s.cdc, "to_store_id": s.thc, "issued_on": day(-2),
                     "lines": [{ "item_id": s.pzq, "lot_id": good, "quantity": 5 }] }),
            201,
        )
        .await?;
    let (status, refused) = send(
        &s.township_keeper,
        Method::POST,
        &format!("/api/stock/transfers/{}/receive", id(&sent["transfer"])),
        &json!({ "received_on": day(-3) }),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "date_order");
    assert_eq!(refused["error"]["details"]["field"], "received_on");
    assert_eq!(s.ledger_rows().await?, rows_good + 1);
    Ok(())
}

#[tokio::test]
async fn an_idempotency_key_reused_on_another_endpoint_is_refused_and_writes_nothing() -> Result<()>
{
    let s = stock().await?;
    let lot = s.receive(s.cdc, "KEY", &day(200), 100).await?;
    let key = "stock-key-2b7e9d01";
    let (status, first) = send_keyed(
        &s.keeper,
        Method::POST,
        "/api/stock/uses",
        &json!({ "store_id": s.cdc, "used_on": day(0), "village_code": VILLAGE,
                 "lines": [{ "item_id": s.pzq, "lot_id": lot, "quantity": 10 }] }),
        Some(key),
    )
    .await?;
    assert_eq!(status, 201, "{first}");
    let rows = s.ledger_rows().await?;
    let (status, refused) = send_keyed(
        &s.keeper,
        Method::POST,
        "/api/stock/adjustments",
        &json!({ "store_id": s.cdc, "adjusted_on": day(0), "reason": "lost",
                 "lines": [{ "lot_id": lot, "quantity": -3 }] }),
        Some(key),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");
    assert_eq!(s.ledger_rows().await?, rows);
    assert_eq!(s.on_hand(&s.keeper, s.cdc, lot).await?, 90);
    // Another user sending the same key: refused too, the first answer is not shown.
    let (status, refused) = send_keyed(
        &s.township_keeper,
        Method::POST,
        "/api/stock/uses",
        &json!({ "store_id": s.thc, "used_on": day(0), "village_code": VILLAGE,
                 "lines": [{ "item_id": s.pzq, "quantity": 1 }] }),
        Some(key),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");
    Ok(())
}
