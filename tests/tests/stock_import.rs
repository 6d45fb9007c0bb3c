//! The `stock_movements` import writes into the stock ledger (issue 20): a sheet with Chinese
//! headers of receipts, issues to a township (legacy `乡镇代码`) and to a store, a use in a
//! village and an adjustment lands as ledger rows and transfers with the right stock on hand;
//! the same sheet again moves nothing; a sheet that would take a lot below zero is refused
//! naming the row, the column and the lot, and nothing of it is written.

use echinomap_programme::auth::Role;
use echinomap_tests::{ApiClient, Result, TestApp, demo_today};
use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;

const COUNTY: &str = "654022";
const TOWNSHIP: &str = "654022100";
const VILLAGE: &str = "654022100200";
const HEADERS: &str = "物资编码,出入库日期,出入库类型,数量,批号,有效期,库房编码,接收库房编码,乡镇代码,村代码,调整原因,供货单位,单据号,备注";

async fn import(c: &ApiClient, csv: String) -> Result<(u16, Value)> {
    let r = c
        .request(Method::POST, "/api/imports?kind=stock_movements&format=csv")
        .body(csv)
        .send()
        .await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("import answer is not JSON ({e}): {status} {text}"))?;
    Ok((status, v))
}

/// Stock on hand of the lot `batch` of PZQ per store code.
async fn on_hand(pool: &PgPool, batch: &str) -> Result<Vec<(String, i32)>> {
    Ok(sqlx::query_as(
        "SELECT s.code, h.quantity FROM stock_on_hand h
           JOIN stock_stores s ON s.id = h.store_id
           JOIN stock_lots l ON l.id = h.lot_id
           JOIN stock_items i ON i.id = l.item_id
          WHERE i.code = 'PZQ' AND l.batch = $1
          ORDER BY s.code",
    )
    .bind(batch)
    .fetch_all(pool)
    .await?)
}

/// A ledger row as the test reads it: kind, quantity, village code, reason, written by.
type LedgerRow = (String, i32, Option<String>, Option<String>, String);

fn day(n: i64) -> String {
    (demo_today() - chrono::Days::new(n as u64)).to_string()
}

#[tokio::test]
async fn an_import_of_receipts_issues_uses_and_adjustments_lands_in_the_ledger_with_the_right_stock()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let keeper = app.user(Role::StockKeeper, COUNTY).await?;
    let (d1, d2, d3) = (day(20), day(18), day(15));
    let csv = format!(
        "{HEADERS}\n\
         PZQ,{d1},入库,1000,SI-1,2030-12-31,CDC-{COUNTY},,,,,自治区疾控中心,SI-R1,\n\
         PZQ,{d2},出库,300,SI-1,,,,{TOWNSHIP},,,,SI-T1,发往乡卫生院\n\
         PZQ,{d2},调拨,100,SI-1,,,VET-{COUNTY},,,,,SI-T2,\n\
         PZQ,{d3},使用,120,SI-1,,THC-{TOWNSHIP},,,{VILLAGE},,,,驱虫日\n\
         PZQ,{d3},调整,-10,SI-1,,,,,,破损,,,受潮\n"
    );
    let (status, report) = import(&keeper, csv.clone()).await?;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["status"].as_str(), report["inserted"].as_u64()),
        (Some("succeeded"), Some(5)),
        "{report}"
    );
    // 1000 received, 300 to the township centre (it used 120), 100 to the vet station, 10
    // damaged: the store without `库房编码` is the county CDC's.
    let want = vec![
        (format!("CDC-{COUNTY}"), 590),
        (format!("THC-{TOWNSHIP}"), 180),
        (format!("VET-{COUNTY}"), 100),
    ];
    assert_eq!(on_hand(&app.db.pool, "SI-1").await?, want);
    // Both issues are transfers received the same day; the use names its village; every row
    // says who wrote it; the ledger's sum is the stock on hand.
    let (transfers, received): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT t.id), count(r.transfer_id)
           FROM stock_transfers t LEFT JOIN stock_transfer_receipts r
             ON r.transfer_id = t.id AND r.received_on = t.issued_on
          WHERE t.reference IN ('SI-T1', 'SI-T2')",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!((transfers, received), (2, 2));
    let rows: Vec<LedgerRow> = sqlx::query_as(
        "SELECT m.kind::text, m.quantity, v.code::text, m.reason::text, m.created_by
           FROM stock_movements m JOIN stock_lots l ON l.id = m.lot_id
           LEFT JOIN villages v ON v.id = m.village_id
          WHERE l.batch = 'SI-1' ORDER BY m.id",
    )
    .fetch_all(&app.db.pool)
    .await?;
    let kinds: Vec<(&str, i32)> = rows.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(
        kinds,
        [
            ("receipt", 1000),
            ("transfer_out", -300),
            ("transfer_in", 300),
            ("transfer_out", -100),
            ("transfer_in", 100),
            ("use", -120),
            ("adjustment", -10),
        ]
    );
    assert_eq!(rows[5].2.as_deref(), Some(VILLAGE));
    assert_eq!(rows[6].3.as_deref(), Some("damaged"));
    // The harness names its stock keepers `stockkeeper_N`.
    assert!(
        rows.iter().all(|r| r.4.starts_with("stockkeeper_")),
        "{rows:?}"
    );

    // The same file again: every row is one the ledger has, nothing moves.
    let (status, again) = import(&keeper, csv).await?;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["inserted"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(5)),
        "{again}"
    );
    assert_eq!(on_hand(&app.db.pool, "SI-1").await?, want);
    Ok(())
}

#[tokio::test]
async fn a_file_that_would_take_a_lot_below_zero_is_refused_naming_the_row_and_lot_and_writes_nothing()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let keeper = app.user(Role::StockKeeper, COUNTY).await?;
    let movements_before: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_movements")
        .fetch_one(&app.db.pool)
        .await?;
    let (d1, d2) = (day(12), day(10));
    let csv = format!(
        "{HEADERS}\n\
         PZQ,{d1},入库,50,SI-NEG,2030-06-30,,,,,,自治区疾控中心,,\n\
         PZQ,{d2},出库,30,SI-NEG,,,,{TOWNSHIP},,,,,\n\
         PZQ,{d2},使用,80,SI-NEG,,,,,{VILLAGE},,,,\n"
    );
    let (status, body) = import(&keeper, csv).await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "import_refused", "{body}");
    let report = &body["error"]["details"];
    assert_eq!(
        (report["rejected"].as_u64(), report["inserted"].as_u64()),
        (Some(1), Some(0)),
        "{report}"
    );
    let e = &report["errors"][0];
    assert_eq!(e["row"], 4, "the fourth line of the file: {report}");
    assert_eq!(e["code"], "stock_negative", "{report}");
    assert_eq!(e["column"], "数量", "{report}");
    assert_eq!(e["params"]["batch"], "SI-NEG", "{report}");
    assert_eq!(e["params"]["available"], 20, "{report}");
    assert_eq!(e["params"]["asked"], 80, "{report}");
    assert!(
        e["reason"].as_str().is_some_and(|r| r.contains("SI-NEG")),
        "{report}"
    );
    // Nothing of the file is written: no lot, no movement, no transfer.
    let lots: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_lots WHERE batch = 'SI-NEG'")
        .fetch_one(&app.db.pool)
        .await?;
    let movements_after: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_movements")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!((lots, movements_after), (0, movements_before));
    Ok(())
}

#[tokio::test]
async fn a_township_keeper_cannot_import_movements_of_a_store_outside_its_township() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let keeper = app.user(Role::StockKeeper, TOWNSHIP).await?;
    let d = day(5);
    // Its own centre's lot is fine to name; the county CDC's store (the default) is not.
    let csv = format!(
        "{HEADERS}\n\
         PZQ,{d},入库,10,SI-TWN,2030-06-30,THC-{TOWNSHIP},,,,,,,\n\
         PZQ,{d},入库,10,SI-TWN,2030-06-30,,,,,,,,\n"
    );
    let (status, body) = import(&keeper, csv).await?;
    assert_eq!(status, 422, "{body}");
    let report = &body["error"]["details"];
    assert_eq!(report["rejected"].as_u64(), Some(1), "{report}");
    let e = &report["errors"][0];
    assert_eq!(
        (e["row"].as_u64(), e["code"].as_str(), e["column"].as_str()),
        (
            Some(3),
            Some("store_outside_jurisdiction"),
            Some("库房编码")
        ),
        "{report}"
    );
    assert_eq!(e["params"]["store"], format!("CDC-{COUNTY}"), "{report}");
    Ok(())
}

#[tokio::test]
async fn an_issue_to_a_township_outside_the_importers_jurisdiction_is_refused_and_makes_no_store()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let keeper = app.user(Role::StockKeeper, TOWNSHIP).await?;
    let other = "654022101";
    let d = day(5);
    let csv = format!(
        "{HEADERS}\n\
         PZQ,{d},入库,10,SI-OUT,2030-06-30,THC-{TOWNSHIP},,,,,,,\n\
         PZQ,{d},出库,5,SI-OUT,,THC-{TOWNSHIP},,{other},,,,,\n\
         PZQ,{d},调拨,5,SI-OUT,,THC-{TOWNSHIP},CDC-{COUNTY},,,,,,\n"
    );
    let stores_before: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_stores")
        .fetch_one(&app.db.pool)
        .await?;
    let (status, body) = import(&keeper, csv).await?;
    assert_eq!(status, 422, "{body}");
    let report = &body["error"]["details"];
    assert_eq!(report["rejected"].as_u64(), Some(1), "{report}");
    let e = &report["errors"][0];
    assert_eq!(
        (e["row"].as_u64(), e["code"].as_str(), e["column"].as_str()),
        (
            Some(3),
            Some("store_outside_jurisdiction"),
            Some("乡镇代码")
        ),
        "{report}"
    );
    assert_eq!(e["params"]["place_code"], other, "{report}");
    let stores_after: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_stores")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(
        stores_after, stores_before,
        "no township centre made outside it"
    );
    Ok(())
}
