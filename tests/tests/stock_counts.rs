//! Stock counts (盘点, issue 20 §3) through the real server: a count opened freezes the book of
//! every lot the store holds; lines counted by scanning (GS1 batch, a plain GTIN naming the
//! item's only line, found stock) and by typing; finalising writes the adjustments and leaves
//! stock on hand equal to what was counted; a blind count hides the book; a difference needs a
//! reason; a movement during the count demands a recount of that lot; a count is finalised
//! once; a serialised pack counts once; a resend adds nothing; a malformed code is refused per
//! entry with its reason; a township keeper cannot count a county store.

use echinomap_programme::auth::Role;
use echinomap_tests::{ApiClient, Result, TestApp};
use serde_json::{Value, json};

const COUNTY: &str = "654022";
const TOWNSHIP: &str = "654022100";
/// A GTIN of no real product (praziquantel tablets here, 100 a box).
const PZQ_GTIN: &str = "06999990000012";
/// An EAN-13 of no real product (an ELISA kit here, one a scan).
const KIT_EAN: &str = "6999990000029";

struct Fixture {
    app: TestApp,
    keeper: ApiClient,
    store: i64,
    pzq: i64,
    kit: i64,
    lot_a: i64,
    lot_b: i64,
    kit_lot: i64,
}

async fn scalar_i64(app: &TestApp, sql: &'static str, binds: &[i64]) -> Result<i64> {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_one(&app.db.pool).await?)
}

async fn lot(app: &TestApp, item: i64, batch: &str, expires_on: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO stock_lots (item_id, batch, expires_on) VALUES ($1, $2, $3::date) RETURNING id",
    )
    .bind(item)
    .bind(batch)
    .bind(expires_on)
    .fetch_one(&app.db.pool)
    .await?)
}

/// A receipt of `quantity` of the lot at the store, written straight into the ledger.
async fn receive(app: &TestApp, store: i64, lot: i64, quantity: i32) -> Result<()> {
    sqlx::query(
        "INSERT INTO stock_movements (item_id, moved_on, kind, quantity, batch, store_id, lot_id,
                                      supplier, created_by)
         SELECT l.item_id, current_date, 'receipt', $3, l.batch, $1, l.id, 'test', 'test'
         FROM stock_lots l WHERE l.id = $2",
    )
    .bind(store)
    .bind(lot)
    .bind(quantity)
    .execute(&app.db.pool)
    .await?;
    Ok(())
}

async fn on_hand(app: &TestApp, store: i64, lot: i64) -> Result<i64> {
    scalar_i64(
        app,
        "SELECT coalesce((SELECT quantity::bigint FROM stock_on_hand
                          WHERE store_id = $1 AND lot_id = $2), 0)",
        &[store, lot],
    )
    .await
}

/// A county CDC store holding praziquantel lots A (300) and B (200) and 10 ELISA kits.
async fn fixture() -> Result<Fixture> {
    let app = TestApp::with_demo().await?;
    let pool = &app.db.pool;
    let store: i64 = sqlx::query_scalar(
        "INSERT INTO stock_stores (code, name, kind, place_code)
         VALUES ('T-CDC', '测试疾控中心库', 'county_cdc', $1) RETURNING id",
    )
    .bind(COUNTY)
    .fetch_one(pool)
    .await?;
    let item = |code: &'static str, name: &'static str, kind: &'static str, unit: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO stock_items (code, name, kind, unit)
             VALUES ($1, $2, $3::stock_kind, $4) RETURNING id",
        )
        .bind(code)
        .bind(name)
        .bind(kind)
        .bind(unit)
        .fetch_one(pool)
    };
    let pzq = item("T-PZQ", "吡喹酮片（测试）", "praziquantel", "片").await?;
    let kit = item("T-KIT", "包虫病抗体检测试剂盒（测试）", "elisa_kit", "盒").await?;
    let kit_gtin = format!("0{KIT_EAN}");
    for (code, item, pack) in [(PZQ_GTIN, pzq, 100), (kit_gtin.as_str(), kit, 1)] {
        sqlx::query(
            "INSERT INTO stock_barcodes (kind, code, item_id, pack_quantity)
             VALUES ('gtin', $1, $2, $3)",
        )
        .bind(code)
        .bind(item)
        .bind(pack)
        .execute(pool)
        .await?;
    }
    let lot_a = lot(&app, pzq, "LOT-A", "2030-12-31").await?;
    let lot_b = lot(&app, pzq, "LOT-B", "2031-06-30").await?;
    let kit_lot = lot(&app, kit, "K1", "2030-06-30").await?;
    receive(&app, store, lot_a, 300).await?;
    receive(&app, store, lot_b, 200).await?;
    receive(&app, store, kit_lot, 10).await?;
    let keeper = app.user(Role::StockKeeper, COUNTY).await?;
    Ok(Fixture {
        app,
        keeper,
        store,
        pzq,
        kit,
        lot_a,
        lot_b,
        kit_lot,
    })
}

impl Fixture {
    async fn open(&self, blind: bool) -> Result<i64> {
        let body = self
            .keeper
            .post_json(
                "/api/stock/counts",
                &json!({ "store_id": self.store, "blind": blind }),
                201,
            )
            .await?;
        body["count"]["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no count id in {body}"))
    }

    async fn enter(&self, count: i64, entries: Value) -> Result<Vec<Value>> {
        let body = self
            .keeper
            .post_json(
                &format!("/api/stock/counts/{count}/entries"),
                &json!({ "entries": entries }),
                200,
            )
            .await?;
        Ok(body["results"].as_array().cloned().unwrap_or_default())
    }

    async fn reason(&self, count: i64, lot: i64, reason: &str) -> Result<()> {
        self.keeper
            .post_json(
                &format!("/api/stock/counts/{count}/lines/{lot}"),
                &json!({ "reason": reason }),
                200,
            )
            .await?;
        Ok(())
    }

    async fn finalise(&self, count: i64, status: u16) -> Result<Value> {
        self.keeper
            .post_json(
                &format!("/api/stock/counts/{count}/finalise"),
                &json!({}),
                status,
            )
            .await
    }

    async fn get(&self, count: i64) -> Result<Value> {
        self.keeper
            .get_json(&format!("/api/stock/counts/{count}"), 200)
            .await
    }

    /// The count's line of `lot`.
    async fn line(&self, count: i64, lot: i64) -> Result<Value> {
        let body = self.get(count).await?;
        body["lines"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["lot"]["id"] == json!(lot)).cloned())
            .ok_or_else(|| anyhow::anyhow!("no line of lot {lot} in {body}"))
    }
}

fn pzq_code(batch: &str) -> String {
    format!("(01){PZQ_GTIN}(17)301231(10){batch}")
}

fn statuses(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn a_count_scanned_and_typed_then_finalised_leaves_on_hand_equal_to_what_was_counted()
-> Result<()> {
    let f = fixture().await?;
    let uncounted = lot(&f.app, f.pzq, "LOT-U", "2031-01-31").await?;
    receive(&f.app, f.store, uncounted, 5).await?;
    let count = f.open(false).await?;
    let opened = f.get(count).await?;
    assert_eq!(
        opened["lines"].as_array().map(Vec::len),
        Some(4),
        "{opened}"
    );
    assert_eq!(f.line(count, f.lot_a).await?["book_quantity"], json!(300));

    let mut entries = vec![
        // Two boxes of lot A by their GS1 DataMatrix (batch and expiry in the code).
        json!({ "client_id": "scan-a-0001", "code": pzq_code("LOT-A"), "mode": "scan" }),
        json!({ "client_id": "scan-a-0002", "code": format!("]d201{PZQ_GTIN}1730123110LOT-A"), "mode": "scan" }),
        // Lot B typed.
        json!({ "client_id": "type-b-0001", "lot_id": f.lot_b, "mode": "set", "quantity": 200 }),
        // A box of a batch the system has never seen: found stock, a new line with book 0.
        json!({ "client_id": "scan-c-0001", "code": pzq_code("LOT-C"), "mode": "scan" }),
    ];
    // Eight kits by their EAN-13, which names the item only: the kit's single line.
    for i in 0..8 {
        entries.push(
            json!({ "client_id": format!("scan-kit-{i:04}"), "code": KIT_EAN, "mode": "scan" }),
        );
    }
    let results = f.enter(count, json!(entries)).await?;
    assert!(
        statuses(&results).iter().all(|s| *s == "counted"),
        "{results:?}"
    );
    assert_eq!(
        results[1]["line"],
        json!({ "lot_id": f.lot_a, "counted": 200 })
    );
    assert_eq!(
        results[11]["line"],
        json!({ "lot_id": f.kit_lot, "counted": 8 })
    );
    let lot_c = results[3]["line"]["lot_id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no lot for the found stock: {results:?}"))?;
    let found = f.line(count, lot_c).await?;
    assert_eq!(found["book_quantity"], json!(0), "{found}");
    assert_eq!(found["counted"], json!(100), "{found}");
    assert_eq!(found["lot"]["batch"], json!("LOT-C"));
    assert_eq!(found["lot"]["expires_on"], json!("2030-12-31"));

    f.reason(count, f.lot_a, "lost").await?;
    f.reason(count, f.kit_lot, "damaged").await?;
    f.reason(count, lot_c, "count_correction").await?;
    let done = f.finalise(count, 200).await?;
    assert_eq!(done["count"]["state"], json!("finalised"), "{done}");
    let adjusted: Vec<(i64, i64)> = done["adjustments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["lot_id"].as_i64().unwrap_or(0),
                        m["quantity"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut expected = vec![(f.lot_a, -100), (f.kit_lot, -2), (lot_c, 100)];
    expected.sort();
    assert_eq!(adjusted, expected, "{done}");
    assert_eq!(done["uncounted"], json!([uncounted]), "{done}");

    assert_eq!(on_hand(&f.app, f.store, f.lot_a).await?, 200);
    assert_eq!(on_hand(&f.app, f.store, f.lot_b).await?, 200);
    assert_eq!(on_hand(&f.app, f.store, f.kit_lot).await?, 8);
    assert_eq!(on_hand(&f.app, f.store, lot_c).await?, 100);
    assert_eq!(
        on_hand(&f.app, f.store, uncounted).await?,
        5,
        "an uncounted line is left"
    );
    let (n, reasons): (i64, Vec<String>) = sqlx::query_as(
        "SELECT count(*), array_agg(reason::text ORDER BY lot_id) FROM stock_movements
         WHERE count_id = $1 AND kind = 'adjustment' AND created_by = $2",
    )
    .bind(count)
    .bind(&f.keeper.username)
    .fetch_one(&f.app.db.pool)
    .await?;
    assert_eq!(n, 3);
    assert_eq!(reasons.len(), 3);
    let audited = scalar_i64(
        &f.app,
        "SELECT count(*) FROM audit_log WHERE table_name = 'stock_counts' AND row_id = $1::text",
        &[count],
    )
    .await?;
    assert!(audited >= 2, "opening and finalising are audited");
    Ok(())
}

#[tokio::test]
async fn a_blind_count_hides_the_book_until_it_is_finalised() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(true).await?;
    f.enter(
        count,
        json!([
            { "client_id": "blind-a-0001", "lot_id": f.lot_a, "mode": "set", "quantity": 300 },
            { "client_id": "blind-b-0001", "lot_id": f.lot_b, "mode": "set", "quantity": 200 },
            { "client_id": "blind-k-0001", "lot_id": f.kit_lot, "mode": "set", "quantity": 10 },
        ]),
    )
    .await?;
    let open = f.get(count).await?;
    assert_eq!(open["count"]["blind"], json!(true));
    for line in open["lines"].as_array().into_iter().flatten() {
        assert!(line.get("book_quantity").is_none(), "book shown: {line}");
        assert!(line.get("difference").is_none(), "difference shown: {line}");
        assert!(line.get("counted").is_some(), "{line}");
    }
    let epi = f.app.epi().await?;
    let read = epi
        .get_json(&format!("/api/stock/counts/{count}"), 200)
        .await?;
    assert!(read["lines"][0].get("book_quantity").is_none(), "{read}");
    let done = f.finalise(count, 200).await?;
    assert_eq!(done["adjustments"], json!([]), "{done}");
    let after = f.line(count, f.lot_a).await?;
    assert_eq!(after["book_quantity"], json!(300), "{after}");
    assert_eq!(after["difference"], json!(0), "{after}");
    Ok(())
}

#[tokio::test]
async fn a_line_that_differs_from_the_book_needs_a_reason_before_finalising() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(false).await?;
    f.enter(
        count,
        json!([{ "client_id": "diff-a-0001", "lot_id": f.lot_a, "mode": "set", "quantity": 250 }]),
    )
    .await?;
    let refused = f.finalise(count, 422).await?;
    assert_eq!(
        refused["error"]["code"],
        json!("reason_required"),
        "{refused}"
    );
    assert_eq!(
        refused["error"]["details"]["lines"],
        json!([f.lot_a]),
        "{refused}"
    );
    assert_eq!(f.get(count).await?["count"]["state"], json!("open"));
    assert_eq!(
        on_hand(&f.app, f.store, f.lot_a).await?,
        300,
        "nothing written"
    );
    let bad = f
        .keeper
        .post_json(
            &format!("/api/stock/counts/{count}/lines/{}", f.lot_a),
            &json!({ "reason": "stolen by wolves" }),
            422,
        )
        .await?;
    assert_eq!(bad["error"]["details"]["field"], json!("reason"), "{bad}");
    f.reason(count, f.lot_a, "damaged").await?;
    let done = f.finalise(count, 200).await?;
    assert_eq!(done["adjustments"][0]["quantity"], json!(-50), "{done}");
    assert_eq!(done["adjustments"][0]["reason"], json!("damaged"), "{done}");
    assert_eq!(on_hand(&f.app, f.store, f.lot_a).await?, 250);
    Ok(())
}

#[tokio::test]
async fn a_movement_during_the_count_demands_a_recount_of_that_lot() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(false).await?;
    let serial = format!("(01){PZQ_GTIN}(10)LOT-A(21)S-0001");
    f.enter(
        count,
        json!([
            { "client_id": "move-a-0001", "lot_id": f.lot_a, "mode": "set", "quantity": 200 },
            { "client_id": "move-a-0002", "code": serial, "mode": "scan" },
            { "client_id": "move-b-0001", "lot_id": f.lot_b, "mode": "set", "quantity": 200 },
        ]),
    )
    .await?;
    // A delivery of lot A arrives while the store is being counted.
    receive(&f.app, f.store, f.lot_a, 50).await?;
    let refused = f.finalise(count, 409).await?;
    assert_eq!(
        refused["error"]["code"],
        json!("count_recount"),
        "{refused}"
    );
    assert_eq!(
        refused["error"]["details"]["lines"],
        json!([f.lot_a]),
        "{refused}"
    );
    let a = f.line(count, f.lot_a).await?;
    assert_eq!(a["counted"], Value::Null, "{a}");
    assert_eq!(a["recount"], json!(true), "{a}");
    assert_eq!(
        a["book_quantity"],
        json!(350),
        "the book is what the store holds now: {a}"
    );
    let b = f.line(count, f.lot_b).await?;
    assert_eq!(b["counted"], json!(200), "another lot keeps its count: {b}");
    assert_eq!(b["recount"], json!(false), "{b}");
    assert_eq!(
        on_hand(&f.app, f.store, f.lot_a).await?,
        350,
        "nothing adjusted"
    );

    // The recount: the serialised box may be scanned again (its first scan was voided).
    let again = f
        .enter(
            count,
            json!([
                { "client_id": "recount-a-01", "code": serial, "mode": "scan" },
                { "client_id": "recount-a-02", "lot_id": f.lot_a, "mode": "scan", "quantity": 250 },
            ]),
        )
        .await?;
    assert_eq!(statuses(&again), ["counted", "counted"], "{again:?}");
    assert_eq!(again[1]["line"]["counted"], json!(350));
    let done = f.finalise(count, 200).await?;
    assert_eq!(done["adjustments"], json!([]), "{done}");
    assert_eq!(on_hand(&f.app, f.store, f.lot_a).await?, 350);
    Ok(())
}

#[tokio::test]
async fn a_count_is_finalised_once_and_then_takes_no_entries() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(false).await?;
    let second = f
        .keeper
        .post_json("/api/stock/counts", &json!({ "store_id": f.store }), 409)
        .await?;
    assert_eq!(second["error"]["code"], json!("count_open"), "{second}");
    assert_eq!(
        second["error"]["details"]["count_id"],
        json!(count),
        "{second}"
    );
    f.enter(
        count,
        json!([{ "client_id": "once-a-0001", "lot_id": f.lot_a, "mode": "set", "quantity": 301 }]),
    )
    .await?;
    f.reason(count, f.lot_a, "returned").await?;
    f.finalise(count, 200).await?;
    let twice = f.finalise(count, 409).await?;
    assert_eq!(twice["error"]["code"], json!("count_finalised"), "{twice}");
    let n = scalar_i64(
        &f.app,
        "SELECT count(*) FROM stock_movements WHERE count_id = $1",
        &[count],
    )
    .await?;
    assert_eq!(n, 1, "one adjustment, written once");
    assert_eq!(on_hand(&f.app, f.store, f.lot_a).await?, 301);
    let late = f
        .keeper
        .post_json(
            &format!("/api/stock/counts/{count}/entries"),
            &json!({ "entries": [{ "client_id": "late-a-0001", "lot_id": f.lot_a, "mode": "set", "quantity": 1 }] }),
            409,
        )
        .await?;
    assert_eq!(late["error"]["code"], json!("count_finalised"), "{late}");
    // The store may be counted again, and a cancelled count takes nothing either.
    let next = f.open(false).await?;
    f.keeper
        .post_json(&format!("/api/stock/counts/{next}/cancel"), &json!({}), 200)
        .await?;
    let cancelled = f.finalise(next, 409).await?;
    assert_eq!(
        cancelled["error"]["code"],
        json!("count_cancelled"),
        "{cancelled}"
    );
    let list = f
        .keeper
        .get_json(
            &format!("/api/stock/counts?store={}&state=finalised", f.store),
            200,
        )
        .await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    Ok(())
}

#[tokio::test]
async fn a_serialised_pack_scanned_twice_counts_once() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(false).await?;
    let code = format!("]d201{PZQ_GTIN}10LOT-A\u{1d}21SN0001");
    let results = f
        .enter(
            count,
            json!([
                { "client_id": "serial-0001", "code": code, "mode": "scan" },
                { "client_id": "serial-0002", "code": code, "mode": "scan" },
                { "client_id": "serial-0003", "code": format!("]d201{PZQ_GTIN}10LOT-A\u{1d}21SN0002"), "mode": "scan" },
            ]),
        )
        .await?;
    assert_eq!(
        statuses(&results),
        ["counted", "already_scanned", "counted"],
        "{results:?}"
    );
    assert_eq!(results[1]["line"]["counted"], json!(100));
    let later = f
        .enter(
            count,
            json!([{ "client_id": "serial-0004", "code": code, "mode": "scan" }]),
        )
        .await?;
    assert_eq!(statuses(&later), ["already_scanned"]);
    assert_eq!(f.line(count, f.lot_a).await?["counted"], json!(200));
    Ok(())
}

#[tokio::test]
async fn a_resend_of_the_same_client_id_adds_nothing() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(false).await?;
    let batch = json!([
        { "client_id": "outbox-00000001", "code": pzq_code("LOT-B"), "mode": "scan" },
        { "client_id": "outbox-00000002", "code": KIT_EAN, "mode": "scan", "quantity": 3 },
    ]);
    let first = f.enter(count, batch.clone()).await?;
    assert_eq!(statuses(&first), ["counted", "counted"], "{first:?}");
    // The answer was lost on the way: the outbox sends the same entries again.
    let resent = f.enter(count, batch).await?;
    assert_eq!(statuses(&resent), ["duplicate", "duplicate"], "{resent:?}");
    assert_eq!(
        resent[0]["line"],
        json!({ "lot_id": f.lot_b, "counted": 100 })
    );
    assert_eq!(
        resent[1]["line"],
        json!({ "lot_id": f.kit_lot, "counted": 3 })
    );
    assert_eq!(f.line(count, f.lot_b).await?["counted"], json!(100));
    assert_eq!(f.line(count, f.kit_lot).await?["counted"], json!(3));
    let n = scalar_i64(
        &f.app,
        "SELECT count(*) FROM stock_count_entries WHERE count_id = $1",
        &[count],
    )
    .await?;
    assert_eq!(n, 2);
    Ok(())
}

#[tokio::test]
async fn a_malformed_barcode_is_refused_with_its_reason_and_counts_nothing() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(false).await?;
    let results = f
        .enter(
            count,
            json!([
                { "client_id": "bad-00000001", "code": "(01)06999990000013(10)LOT-A", "mode": "scan" },
                { "client_id": "bad-00000002", "code": format!("01{PZQ_GTIN}17991332"), "mode": "scan" },
                { "client_id": "bad-00000003", "code": "96385074", "mode": "scan" },
                { "client_id": "bad-00000004", "code": pzq_code("LOT-B"), "mode": "scan" },
            ]),
        )
        .await?;
    assert_eq!(
        statuses(&results),
        ["refused", "refused", "refused", "counted"],
        "{results:?}"
    );
    assert_eq!(
        results[0]["error"]["code"],
        json!("barcode_check_digit"),
        "{results:?}"
    );
    assert!(
        results[0]["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{results:?}"
    );
    assert_eq!(
        results[1]["error"]["code"],
        json!("barcode_bad_date"),
        "{results:?}"
    );
    // A well-formed code no item has.
    assert_eq!(
        results[2]["error"]["code"],
        json!("barcode_unknown"),
        "{results:?}"
    );
    assert_eq!(
        f.line(count, f.lot_a).await?["counted"],
        Value::Null,
        "nothing counted"
    );
    let n = scalar_i64(
        &f.app,
        "SELECT count(*) FROM stock_count_entries WHERE count_id = $1",
        &[count],
    )
    .await?;
    assert_eq!(n, 1, "only the good scan is kept");
    Ok(())
}

#[tokio::test]
async fn a_code_that_names_no_lot_asks_which_lot_and_the_resend_names_it() -> Result<()> {
    let f = fixture().await?;
    let k2 = lot(&f.app, f.kit, "K2", "2031-03-31").await?;
    receive(&f.app, f.store, k2, 4).await?;
    let count = f.open(false).await?;
    let asked = f
        .enter(
            count,
            json!([{ "client_id": "which-0000001", "code": KIT_EAN, "mode": "scan" }]),
        )
        .await?;
    assert_eq!(
        asked[0]["error"]["code"],
        json!("lot_ambiguous"),
        "{asked:?}"
    );
    let offered = asked[0]["error"]["params"]["lots"].as_array().map(Vec::len);
    assert_eq!(offered, Some(2), "{asked:?}");
    let chosen = f
        .enter(
            count,
            json!([{ "client_id": "which-0000001", "code": KIT_EAN, "lot_id": k2, "mode": "scan" }]),
        )
        .await?;
    assert_eq!(
        chosen[0]["line"],
        json!({ "lot_id": k2, "counted": 1 }),
        "{chosen:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_township_keeper_cannot_count_a_county_store() -> Result<()> {
    let f = fixture().await?;
    let township = f.app.user(Role::StockKeeper, TOWNSHIP).await?;
    let refused = township
        .post_json("/api/stock/counts", &json!({ "store_id": f.store }), 403)
        .await?;
    assert_eq!(
        refused["error"]["code"],
        json!("store_outside_jurisdiction"),
        "{refused}"
    );
    let count = f.open(false).await?;
    let scan = township
        .post_json(
            &format!("/api/stock/counts/{count}/entries"),
            &json!({ "entries": [{ "client_id": "far-00000001", "code": pzq_code("LOT-A"), "mode": "scan" }] }),
            403,
        )
        .await?;
    assert_eq!(
        scan["error"]["code"],
        json!("store_outside_jurisdiction"),
        "{scan}"
    );
    let finalise = township
        .post_json(
            &format!("/api/stock/counts/{count}/finalise"),
            &json!({}),
            403,
        )
        .await?;
    assert_eq!(
        finalise["error"]["code"],
        json!("store_outside_jurisdiction")
    );
    let list = township.get_json("/api/stock/counts", 200).await?;
    for c in list["items"].as_array().into_iter().flatten() {
        let place: String = sqlx::query_scalar("SELECT place_code FROM stock_stores WHERE id = $1")
            .bind(c["store"]["id"].as_i64().unwrap_or_default())
            .fetch_one(&f.app.db.pool)
            .await?;
        assert!(
            c["id"] != json!(count) && place.starts_with(TOWNSHIP),
            "a township keeper sees only its stores' counts: {c}"
        );
    }
    assert_eq!(f.line(count, f.lot_a).await?["counted"], Value::Null);
    // An epidemiologist reads counts but does not count.
    let epi = f.app.epi().await?;
    let not_allowed = epi
        .post_json("/api/stock/counts", &json!({ "store_id": f.store }), 403)
        .await?;
    assert_eq!(
        not_allowed["error"]["code"],
        json!("forbidden"),
        "{not_allowed}"
    );
    Ok(())
}

/// An issue of `quantity` of the lot from the store (a transfer out), straight into the ledger.
async fn issue(app: &TestApp, store: i64, lot: i64, quantity: i32) -> Result<()> {
    sqlx::query(
        "INSERT INTO stock_movements (item_id, moved_on, kind, quantity, batch, store_id, lot_id,
                                      reason, created_by)
         SELECT l.item_id, current_date, 'adjustment', -$3, l.batch, $1, l.id, 'lost', 'test'
         FROM stock_lots l WHERE l.id = $2",
    )
    .bind(store)
    .bind(lot)
    .bind(quantity)
    .execute(&app.db.pool)
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_lot_that_moved_and_came_back_to_its_book_quantity_is_still_counted_again() -> Result<()>
{
    let f = fixture().await?;
    let kit_store: i64 = sqlx::query_scalar(
        "INSERT INTO stock_stores (code, name, kind, place_code)
         VALUES ('T-CDC2', '测试疾控中心二库', 'county_cdc', $1) RETURNING id",
    )
    .bind(COUNTY)
    .fetch_one(&f.app.db.pool)
    .await?;
    receive(&f.app, kit_store, f.lot_a, 100).await?;
    let count = f
        .keeper
        .post_json("/api/stock/counts", &json!({ "store_id": kit_store }), 201)
        .await?["count"]["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no count id"))?;
    f.enter(
        count,
        json!([{ "client_id": "back-a-0001", "lot_id": f.lot_a, "mode": "set", "quantity": 100 }]),
    )
    .await?;
    // 10 out, 10 in: the quantity is the book's again, but the lot moved while it was counted.
    issue(&f.app, kit_store, f.lot_a, 10).await?;
    receive(&f.app, kit_store, f.lot_a, 10).await?;
    let refused = f.finalise(count, 409).await?;
    assert_eq!(
        refused["error"]["code"],
        json!("count_recount"),
        "{refused}"
    );
    assert_eq!(
        refused["error"]["details"]["lines"],
        json!([f.lot_a]),
        "{refused}"
    );
    let a = f.line(count, f.lot_a).await?;
    assert_eq!(a["counted"], Value::Null, "{a}");
    assert_eq!(a["recount"], json!(true), "{a}");
    // Counted again, it finalises (the book now carries the lot's last movement).
    f.enter(
        count,
        json!([{ "client_id": "back-a-0002", "lot_id": f.lot_a, "mode": "set", "quantity": 100 }]),
    )
    .await?;
    let done = f.finalise(count, 200).await?;
    assert_eq!(done["adjustments"], json!([]), "{done}");
    Ok(())
}

#[tokio::test]
async fn one_malformed_entry_is_refused_and_the_rest_of_the_batch_counts() -> Result<()> {
    let f = fixture().await?;
    let count = f.open(false).await?;
    let results = f
        .enter(
            count,
            json!([
                { "client_id": "good-a-0001", "lot_id": f.lot_a, "mode": "set", "quantity": 300 },
                { "client_id": "bad-0000001", "lot_id": f.lot_b, "mode": "add", "quantity": 1 },
                { "client_id": "bad-0000002", "lot_id": f.lot_b, "mode": "set", "quantity": 5_000_000 },
                { "client_id": "bad-0000003", "lot_id": "not a number", "mode": "set" },
                { "client_id": "x", "lot_id": f.lot_b, "mode": "set", "quantity": 1 },
            ]),
        )
        .await?;
    assert_eq!(
        statuses(&results),
        ["counted", "refused", "refused", "refused", "refused"],
        "{results:?}"
    );
    assert_eq!(results[0]["line"]["counted"], json!(300), "{results:?}");
    for (i, field) in [(1, "mode"), (2, "quantity"), (3, "entry"), (4, "client_id")] {
        assert_eq!(
            results[i]["error"]["code"],
            json!("invalid_field"),
            "{results:?}"
        );
        assert_eq!(
            results[i]["error"]["params"]["field"],
            json!(field),
            "{results:?}"
        );
    }
    assert_eq!(f.line(count, f.lot_a).await?["counted"], json!(300));
    assert_eq!(f.line(count, f.lot_b).await?["counted"], Value::Null);
    // Only a body that is not a list of entries, or more than 500, is refused whole.
    f.keeper
        .post_json(
            &format!("/api/stock/counts/{count}/entries"),
            &json!({ "entries": "none" }),
            400,
        )
        .await?;
    let many: Vec<Value> = (0..501)
        .map(|i| json!({ "client_id": format!("many-{i:06}"), "lot_id": f.lot_a, "mode": "scan", "quantity": 1 }))
        .collect();
    f.keeper
        .post_json(
            &format!("/api/stock/counts/{count}/entries"),
            &json!({ "entries": many }),
            400,
        )
        .await?;
    assert_eq!(f.line(count, f.lot_a).await?["counted"], json!(300));
    Ok(())
}

#[tokio::test]
async fn a_blind_count_hides_the_stores_on_hand_from_the_keeper_not_from_the_epidemiologist()
-> Result<()> {
    let f = fixture().await?;
    let url = format!("/api/stock/on-hand?store={}", f.store);
    let before = f.keeper.get_json(&url, 200).await?;
    assert!(
        before["items"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["quantity"].is_number()),
        "{before}"
    );
    f.open(true).await?;
    let hidden = f.keeper.get_json(&url, 200).await?;
    let rows = hidden["items"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "{hidden}");
    for r in &rows {
        assert_eq!(r["quantity"], Value::Null, "{r}");
        assert_eq!(r["hidden_by_blind_count"], json!(true), "{r}");
    }
    let epi = f.app.epi().await?;
    let seen = epi.get_json(&url, 200).await?;
    assert!(
        seen["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["quantity"] == json!(300)),
        "{seen}"
    );
    let scan = f
        .keeper
        .post_json(
            "/api/stock/scan",
            &json!({ "code": pzq_code("LOT-A"), "store_id": f.store }),
            200,
        )
        .await?;
    assert!(scan["lot"].get("on_hand").is_none(), "{scan}");
    assert_eq!(scan["lot"]["hidden_by_blind_count"], json!(true), "{scan}");
    Ok(())
}
