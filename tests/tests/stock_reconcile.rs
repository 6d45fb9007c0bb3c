//! The praziquantel reconciliation (docs/STOCK.md, 核销) against a fixture of its own: a new
//! township with two villages, a village clinic and the township's health centre, a PZQ tablet
//! item of 2 tablets a dose, PZQ bait without a dose size, albendazole (not PZQ), uses,
//! dewormings and dogs over three months, every number computed by hand below. Then the XLSX
//! report form cell by cell against the JSON, and scoping.

use echinomap_programme::auth::Role;
use echinomap_tests::read::{cell_number, cell_text, sheet};
use echinomap_tests::{ApiClient, Result, TestApp, TestDb, demo_today};
use serde_json::{Value, json};
use sqlx::PgPool;

const TOWNSHIP: &str = "654022990";
const V1: &str = "654022990001";
const V2: &str = "654022990002";
const PERIOD: &str = "2026-06..2026-08";

async fn app() -> Result<TestApp> {
    TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.programme.today = Some(demo_today());
    })
    .await
}

async fn exec(conn: &mut sqlx::PgConnection, sql: &str) -> Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await?;
    Ok(())
}

/// The key of the deworming rollup's advisory lock (programme/src/indicators/rollup.rs).
const ROLLUP_LOCK: i64 = 0x6563_686e_6f5f_6477;

/// A ledger row of the fixture: date, store, item, kind, quantity, village.
type Move = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i32,
    Option<&'static str>,
);

/// The fixture. Ledger (S1 = clinic of V1, S2 = health centre of the township; T = PZQ tablets,
/// 2 a dose; B = PZQ bait, no dose size; A = albendazole):
///   05-20 S2 receives 200 T · 06-02 S1 receives 100 T and 50 A · 06-05 S1 uses 60 T for V1 ·
///   06-07 S1 uses 10 A for V1 · 06-10 S2 uses 40 T for V2 · 07-03 S1 uses 20 T for V1 ·
///   08-01 S1 receives 10 B · 08-02 S1 uses 4 B for V1.
/// Dewormings (praziquantel, not deleted): V1 28 in June, 25 in July, 40 in August; V2 5 in June,
/// 3 in July; plus one deleted and one of another drug in V1 in June (not counted).
/// Dogs: V1 a (2025, alive), b (registered 2026-07-15), c (dead 2026-07-10), d (deleted);
/// V2 e (2024, alive).
async fn fixture(pool: &PgPool) -> Result<()> {
    // Written while no rollup refresh runs: the server's start-up warm-up fills the rollup's
    // first months, and dogs written during that first fill would be missed by it and not
    // marked either (the marking starts once months are held).
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ROLLUP_LOCK)
        .execute(&mut *tx)
        .await?;
    exec(
        &mut tx,
        &format!(
            "INSERT INTO townships (code, county_code, name, kind, seat, seat_synthetic,
                                    seat_confidence, geom, synthetic)
             SELECT '{TOWNSHIP}', county_code, '核销测试乡', kind, seat, seat_synthetic,
                    seat_confidence, geom, synthetic
             FROM townships ORDER BY code LIMIT 1;
             INSERT INTO villages (code, township_code, name, kind, geom, synthetic, h3_r7, h3_r8, h3_r9)
             SELECT c.code, '{TOWNSHIP}', c.name, v.kind, v.geom, v.synthetic, v.h3_r7, v.h3_r8, v.h3_r9
             FROM (SELECT * FROM villages ORDER BY id LIMIT 1) v,
                  (VALUES ('{V1}', '一村'), ('{V2}', '二村')) c(code, name);
             -- Only the fixture's tablets give the dose factor.
             UPDATE stock_items SET active = false WHERE kind = 'praziquantel';
             INSERT INTO stock_items (code, name, kind, unit, units_per_dose) VALUES
                 ('T-PZQ', '吡喹酮片(测试)', 'praziquantel', '片', 2),
                 ('T-BAIT', '吡喹酮饵剂(测试)', 'praziquantel', '块', NULL),
                 ('T-ALB', '阿苯达唑(测试)', 'albendazole', '片', 1);
             INSERT INTO stock_lots (item_id, batch, expires_on)
             SELECT id, 'L-' || code, DATE '2030-12-31' FROM stock_items
             WHERE code IN ('T-PZQ', 'T-BAIT', 'T-ALB');
             INSERT INTO stock_stores (code, name, kind, place_code) VALUES
                 ('T-S1', '一村卫生室', 'village_clinic', '{V1}'),
                 ('T-S2', '核销测试乡卫生院', 'township_centre', '{TOWNSHIP}');"
        ),
    )
    .await?;
    let moves: [Move; 10] = [
        ("2026-05-20", "T-S2", "T-PZQ", "receipt", 200, None),
        ("2026-06-02", "T-S1", "T-PZQ", "receipt", 100, None),
        ("2026-06-02", "T-S1", "T-ALB", "receipt", 50, None),
        ("2026-06-05", "T-S1", "T-PZQ", "use", -60, Some(V1)),
        ("2026-06-07", "T-S1", "T-ALB", "use", -10, Some(V1)),
        ("2026-06-10", "T-S2", "T-PZQ", "use", -40, Some(V2)),
        ("2026-07-03", "T-S1", "T-PZQ", "use", -20, Some(V1)),
        ("2026-08-01", "T-S1", "T-BAIT", "receipt", 10, None),
        ("2026-08-02", "T-S1", "T-BAIT", "use", -4, Some(V1)),
        // Outside the period: changes nothing of it.
        ("2026-09-01", "T-S1", "T-PZQ", "use", -2, Some(V1)),
    ];
    for (on, store, item, kind, quantity, village) in moves {
        sqlx::query(
            "INSERT INTO stock_movements (item_id, lot_id, batch, store_id, moved_on, kind,
                                          quantity, village_id, supplier, created_by)
             SELECT i.id, l.id, l.batch, s.id, $1::date, $4::stock_movement_kind, $5,
                    (SELECT id FROM villages WHERE code = $6),
                    CASE WHEN $4 = 'receipt' THEN '测试供应商' END, 'test'
             FROM stock_items i JOIN stock_lots l ON l.item_id = i.id, stock_stores s
             WHERE i.code = $3 AND s.code = $2",
        )
        .bind(on)
        .bind(store)
        .bind(item)
        .bind(kind)
        .bind(quantity)
        .bind(village)
        .execute(&mut *tx)
        .await?;
    }
    exec(
        &mut tx,
        &format!(
            "INSERT INTO dogs (tag, village_id, kind, status, status_on, registered_on, link_method, deleted_at)
             SELECT t.tag, v.id, 'herding', t.status::dog_status, t.status_on::date, t.reg::date, 'code',
                    t.deleted::timestamptz
             FROM (VALUES ('RC-A', '{V1}', 'alive', NULL, '2025-01-01', NULL),
                          ('RC-B', '{V1}', 'alive', NULL, '2026-07-15', NULL),
                          ('RC-C', '{V1}', 'dead', '2026-07-10', '2025-01-01', NULL),
                          ('RC-D', '{V1}', 'alive', NULL, '2025-01-01', '2026-01-01'),
                          ('RC-E', '{V2}', 'alive', NULL, '2024-03-01', NULL))
                  t(tag, village, status, status_on, reg, deleted)
             JOIN villages v ON v.code = t.village;
             INSERT INTO dewormings (dog_id, village_id, dosed_on)
             SELECT d.id, d.village_id, x.first + k
             FROM (VALUES ('RC-A', DATE '2026-06-01', 28), ('RC-A', DATE '2026-07-01', 25),
                          ('RC-A', DATE '2026-08-01', 31), ('RC-B', DATE '2026-08-01', 9),
                          ('RC-E', DATE '2026-06-01', 5), ('RC-E', DATE '2026-07-01', 3))
                  x(tag, first, n)
             JOIN dogs d ON d.tag = x.tag
             CROSS JOIN LATERAL generate_series(0, x.n - 1) k;
             INSERT INTO dewormings (dog_id, village_id, dosed_on, drug, deleted_at)
             SELECT d.id, d.village_id, x.on_, x.drug::deworming_drug, x.deleted::timestamptz
             FROM (VALUES (DATE '2026-06-03', 'praziquantel', now()::text),
                          (DATE '2026-06-04', 'other', NULL)) x(on_, drug, deleted)
             JOIN dogs d ON d.tag = 'RC-C';"
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The numbers of a row, as the answer gives them.
fn numbers(row: &Value) -> Value {
    json!({
        "month": row["month"],
        "issued_units": row["issued_units"].as_f64(),
        "issued_doses": row["issued_doses"].as_f64(),
        "recorded_doses": row["recorded_doses"].as_f64(),
        "recorded_units": row["recorded_units"].as_f64(),
        "dogs": row["dogs"].as_f64(),
        "expected_doses": row["expected_doses"].as_f64(),
        "stock_left_units": row["stock_left_units"].as_f64(),
        "flags": row["flags"],
    })
}

/// A row written by hand: month, issued units and doses, recorded doses and units, dogs (the
/// expected doses), stock left, flags.
fn expected(
    month: &str,
    (issued_units, issued_doses): (f64, f64),
    (recorded_doses, recorded_units): (f64, f64),
    dogs: f64,
    stock_left_units: f64,
    flags: &[&str],
) -> Value {
    json!({
        "month": month,
        "issued_units": issued_units,
        "issued_doses": issued_doses,
        "recorded_doses": recorded_doses,
        "recorded_units": recorded_units,
        "dogs": dogs,
        "expected_doses": dogs,
        "stock_left_units": stock_left_units,
        "flags": flags,
    })
}

fn subject_code(row: &Value) -> String {
    row["unit"]["code"]
        .as_str()
        .or_else(|| row["store"]["code"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// (subject code, numbers) of every row.
fn rows_of(answer: &Value, key: &str) -> Vec<(String, Value)> {
    answer[key]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (subject_code(r), numbers(r)))
        .collect()
}

async fn reconciliation(c: &ApiClient, query: &str) -> Result<Value> {
    c.get_json(&format!("/api/stock/reconciliation?{query}"), 200)
        .await
}

#[tokio::test]
async fn every_column_and_every_flag_of_villages_stores_and_totals_match_the_hand_computed_numbers()
-> Result<()> {
    let app = app().await?;
    fixture(&app.db.pool).await?;
    let epi = app.epi().await?;

    let by_village =
        reconciliation(&epi, &format!("unit={TOWNSHIP}&period={PERIOD}&by=village")).await?;
    assert_eq!(by_village["unit"]["code"], TOWNSHIP);
    assert_eq!(by_village["by"], "village");
    assert_eq!(
        by_village["months"],
        json!(["2026-06", "2026-07", "2026-08"])
    );
    let settings = &by_village["settings"];
    assert_eq!(settings["tolerance_pct"], 20.0);
    assert_eq!(settings["min_doses"], 10.0);
    assert_eq!(settings["units_per_dose"], 2.0);
    assert_eq!(settings["factor_item"]["code"], "T-PZQ");
    let v = |code: &str, e: Value| (code.to_owned(), e);
    assert_eq!(
        rows_of(&by_village, "rows"),
        vec![
            // V1, June: 60 tablets = 30 doses issued, 28 recorded (56 tablets); dogs a and c;
            // the clinic keeps 40 (the albendazole is not PZQ).
            v(
                V1,
                expected("2026-06", (60.0, 30.0), (28.0, 56.0), 2.0, 40.0, &[])
            ),
            // July: 20 tablets = 10 doses, 25 recorded; dogs a, b (registered 07-15), c (dead
            // 07-10). Since June 28 + 25 = 53 recorded > 30 + 10 issued, and the village's
            // clinic held nothing at the period's start (its receipt came on 06-02), nothing
            // carried in from March to May.
            v(
                V1,
                expected(
                    "2026-07",
                    (20.0, 10.0),
                    (25.0, 50.0),
                    3.0,
                    20.0,
                    &["recorded_above_issued"]
                )
            ),
            // August: 4 bait (no dose size: 4 doses), 93 recorded since June > 44 issued.
            v(
                V1,
                expected(
                    "2026-08",
                    (4.0, 4.0),
                    (40.0, 80.0),
                    2.0,
                    26.0,
                    &["recorded_above_issued"]
                )
            ),
            // V2, June: 20 doses issued by the health centre, 5 recorded: 20 > 6 and 15 ≥ 10.
            v(
                V2,
                expected(
                    "2026-06",
                    (40.0, 20.0),
                    (5.0, 10.0),
                    1.0,
                    0.0,
                    &["issued_above_recorded"]
                )
            ),
            // July: 3 doses recorded, nothing issued, no store in V2, but 15 doses of June's
            // hand-out left with the village doctor (20 − 5): 8 recorded since June ≤ 20.
            v(
                V2,
                expected("2026-07", (0.0, 0.0), (3.0, 6.0), 1.0, 0.0, &[])
            ),
            v(
                V2,
                expected("2026-08", (0.0, 0.0), (0.0, 0.0), 1.0, 0.0, &[])
            ),
        ]
    );
    // The township, month by month: both villages, both stores (the health centre held 200
    // tablets = 100 doses at the start of June and keeps 160 after the 40 it used): 101 doses
    // recorded by August ≤ 64 issued + 100 held at the period's start.
    let totals = vec![
        v(
            TOWNSHIP,
            expected(
                "2026-06",
                (100.0, 50.0),
                (33.0, 66.0),
                3.0,
                200.0,
                &["issued_above_recorded"],
            ),
        ),
        v(
            TOWNSHIP,
            expected("2026-07", (20.0, 10.0), (28.0, 56.0), 4.0, 180.0, &[]),
        ),
        v(
            TOWNSHIP,
            expected("2026-08", (4.0, 4.0), (40.0, 80.0), 3.0, 186.0, &[]),
        ),
    ];
    assert_eq!(rows_of(&by_village, "totals_by_month"), totals);
    assert_eq!(
        by_village["totals"],
        json!({
            "issued_units": 124, "issued_doses": 64.0, "recorded_doses": 101,
            "recorded_units": 202.0, "dogs": 3, "expected_doses": 10,
            "stock_left_units": 186, "rows_flagged": 3,
        })
    );

    // By store: a store's issue is its own `use` rows, its stock its own, its villages those it
    // handed PZQ to in the month (the health centre: V2 in June, none after; not the whole
    // township, which would count V1's doses twice).
    let by_store =
        reconciliation(&epi, &format!("unit={TOWNSHIP}&period={PERIOD}&by=store")).await?;
    assert_eq!(
        rows_of(&by_store, "rows"),
        vec![
            // 20 doses to V2, 5 recorded there: 20 > 6 and 15 ≥ 10.
            v(
                "T-S2",
                expected(
                    "2026-06",
                    (40.0, 20.0),
                    (5.0, 10.0),
                    1.0,
                    160.0,
                    &["issued_above_recorded"]
                )
            ),
            v(
                "T-S2",
                expected("2026-07", (0.0, 0.0), (0.0, 0.0), 0.0, 160.0, &[])
            ),
            v(
                "T-S2",
                expected("2026-08", (0.0, 0.0), (0.0, 0.0), 0.0, 160.0, &[])
            ),
            // The clinic handed to V1 only: V1's numbers and flags (it held nothing on 06-01).
            v(
                "T-S1",
                expected("2026-06", (60.0, 30.0), (28.0, 56.0), 2.0, 40.0, &[])
            ),
            v(
                "T-S1",
                expected(
                    "2026-07",
                    (20.0, 10.0),
                    (25.0, 50.0),
                    3.0,
                    20.0,
                    &["recorded_above_issued"]
                )
            ),
            v(
                "T-S1",
                expected(
                    "2026-08",
                    (4.0, 4.0),
                    (40.0, 80.0),
                    2.0,
                    26.0,
                    &["recorded_above_issued"]
                )
            ),
        ]
    );
    assert_eq!(by_store["rows"][0]["store"]["kind"], "township_centre");
    assert_eq!(rows_of(&by_store, "totals_by_month"), totals);

    // By township: the township itself, equal to its totals.
    let by_township = reconciliation(
        &epi,
        &format!("unit={TOWNSHIP}&period={PERIOD}&by=township"),
    )
    .await?;
    assert_eq!(rows_of(&by_township, "rows"), totals);

    // A village alone: its rows, and its totals are the same.
    let village = reconciliation(&epi, &format!("unit={V2}&period={PERIOD}")).await?;
    assert_eq!(village["by"], "village");
    assert_eq!(
        rows_of(&village, "rows")
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>(),
        rows_of(&village, "totals_by_month")
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
    );
    assert_eq!(village["rows"][1]["flags"], json!([]));
    Ok(())
}

/// A third village of the township, V3, supplied in bulk: the health centre receives 60 tablets
/// on 2026-01-15 and hands all 60 (30 doses, three months' worth) to V3 on 2026-02-03; V3's one
/// dog is dosed 10 times in each of February, March and April, and 5 times in May.
async fn bulk_fixture(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ROLLUP_LOCK)
        .execute(&mut *tx)
        .await?;
    exec(
        &mut tx,
        &format!(
            "INSERT INTO villages (code, township_code, name, kind, geom, synthetic, h3_r7, h3_r8, h3_r9)
             SELECT '{V3}', '{TOWNSHIP}', '三村', v.kind, v.geom, v.synthetic, v.h3_r7, v.h3_r8, v.h3_r9
             FROM villages v WHERE v.code = '{V1}';
             INSERT INTO stock_movements (item_id, lot_id, batch, store_id, moved_on, kind,
                                          quantity, village_id, supplier, created_by)
             SELECT i.id, l.id, l.batch, s.id, x.on_, x.kind::stock_movement_kind, x.q,
                    (SELECT id FROM villages WHERE code = x.village),
                    CASE WHEN x.kind = 'receipt' THEN '测试供应商' END, 'test'
             FROM (VALUES (DATE '2026-01-15', 'receipt', 60, NULL),
                          (DATE '2026-02-03', 'use', -60, '{V3}')) x(on_, kind, q, village),
                  stock_items i JOIN stock_lots l ON l.item_id = i.id, stock_stores s
             WHERE i.code = 'T-PZQ' AND s.code = 'T-S2'
             ORDER BY x.on_;
             INSERT INTO dogs (tag, village_id, kind, status, registered_on, link_method)
             SELECT 'RC-F', id, 'herding', 'alive', DATE '2025-01-01', 'code'
             FROM villages WHERE code = '{V3}';
             INSERT INTO dewormings (dog_id, village_id, dosed_on)
             SELECT d.id, d.village_id, x.first + k
             FROM (VALUES (DATE '2026-02-01', 10), (DATE '2026-03-01', 10),
                          (DATE '2026-04-01', 10), (DATE '2026-05-01', 5)) x(first, n)
             CROSS JOIN dogs d
             CROSS JOIN LATERAL generate_series(0, x.n - 1) k
             WHERE d.tag = 'RC-F';"
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

const V3: &str = "654022990003";

#[tokio::test]
async fn a_bulk_hand_out_covers_the_next_months_doses_until_it_is_used_up() -> Result<()> {
    let app = app().await?;
    fixture(&app.db.pool).await?;
    bulk_fixture(&app.db.pool).await?;
    let epi = app.epi().await?;
    let v = |code: &str, e: Value| (code.to_owned(), e);

    // February: 30 doses handed out, 10 recorded (issued above recorded in the month). March
    // and April: 10 recorded each, nothing issued, but the doctor still holds February's
    // tablets (20, then 10 left): no flag. May: 35 recorded since February > 30 issued, and
    // nothing left: recorded above issued, dosing without stock.
    let rows = reconciliation(&epi, &format!("unit={V3}&period=2026-02..2026-05")).await?;
    assert_eq!(
        rows_of(&rows, "rows"),
        vec![
            v(
                V3,
                expected(
                    "2026-02",
                    (60.0, 30.0),
                    (10.0, 20.0),
                    1.0,
                    0.0,
                    &["issued_above_recorded"]
                )
            ),
            v(
                V3,
                expected("2026-03", (0.0, 0.0), (10.0, 20.0), 1.0, 0.0, &[])
            ),
            v(
                V3,
                expected("2026-04", (0.0, 0.0), (10.0, 20.0), 1.0, 0.0, &[])
            ),
            v(
                V3,
                expected(
                    "2026-05",
                    (0.0, 0.0),
                    (5.0, 10.0),
                    1.0,
                    0.0,
                    &["recorded_above_issued", "dosing_without_stock"]
                )
            ),
        ]
    );

    // A period starting after the hand-out: the 20 doses left (30 issued − 10 recorded in the
    // three months before March) are carried in.
    let later = reconciliation(&epi, &format!("unit={V3}&period=2026-03..2026-05")).await?;
    let flags: Vec<&Value> = later["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| &r["flags"])
        .collect();
    assert_eq!(
        flags,
        [
            &json!([]),
            &json!([]),
            &json!(["recorded_above_issued", "dosing_without_stock"])
        ]
    );

    // The health centre's store rows: V3's doses and dog in February, the month it handed
    // tablets out; nothing recorded and no flag in the months it handed nothing.
    let stores = reconciliation(
        &epi,
        &format!("unit={TOWNSHIP}&period=2026-02..2026-05&by=store"),
    )
    .await?;
    let centre: Vec<(String, Value)> = rows_of(&stores, "rows")
        .into_iter()
        .filter(|(c, _)| c == "T-S2")
        .collect();
    assert_eq!(
        centre,
        vec![
            v(
                "T-S2",
                expected(
                    "2026-02",
                    (60.0, 30.0),
                    (10.0, 20.0),
                    1.0,
                    0.0,
                    &["issued_above_recorded"]
                )
            ),
            v(
                "T-S2",
                expected("2026-03", (0.0, 0.0), (0.0, 0.0), 0.0, 0.0, &[])
            ),
            v(
                "T-S2",
                expected("2026-04", (0.0, 0.0), (0.0, 0.0), 0.0, 0.0, &[])
            ),
            v(
                "T-S2",
                expected("2026-05", (0.0, 0.0), (0.0, 0.0), 0.0, 200.0, &[])
            ),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn the_xlsx_report_form_has_the_answers_numbers_and_flags_in_every_cell() -> Result<()> {
    let app = app().await?;
    fixture(&app.db.pool).await?;
    let epi = app.epi().await?;
    for by in ["village", "store"] {
        let query = format!("unit={TOWNSHIP}&period={PERIOD}&by={by}");
        let answer = reconciliation(&epi, &query).await?;
        let r = epi
            .get(&format!("/api/stock/reconciliation.xlsx?{query}"))
            .await?;
        assert_eq!(r.status().as_u16(), 200);
        assert!(
            r.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()?
                .contains("spreadsheetml")
        );
        let bytes = r.bytes().await?;
        let rows = sheet(&bytes)?;
        assert_eq!(cell_text(&rows[0][0]), "核销测试乡物资出入库及核销月报");
        assert_eq!(cell_text(&rows[1][0]), "填报单位：核销测试乡");
        let header: Vec<String> = rows[3].iter().map(cell_text).collect();
        assert_eq!(
            header,
            [
                "序号",
                "单位名称",
                "代码",
                "月份",
                "发放数量(片)",
                "发放折合剂数(剂)",
                "登记驱虫剂数(剂)",
                "登记折合片数(片)",
                "登记存活犬数(只)",
                "应驱虫剂数(剂)",
                "月末库存(片)",
                "核销提示",
            ]
        );
        let json_rows = answer["rows"].as_array().expect("rows");
        let json_totals = answer["totals_by_month"].as_array().expect("totals");
        assert_eq!(json_rows.len(), 6);
        let zh = |flags: &Value| -> String {
            flags
                .as_array()
                .expect("flags")
                .iter()
                .map(|f| match f.as_str() {
                    Some("issued_above_recorded") => "发放多于记录",
                    Some("recorded_above_issued") => "记录多于发放",
                    Some("dosing_without_stock") => "无库存却有驱虫记录",
                    other => panic!("unknown flag {other:?}"),
                })
                .collect::<Vec<_>>()
                .join("；")
        };
        let subject = |row: &Value| -> (String, String) {
            let s = if row["store"].is_object() {
                &row["store"]
            } else {
                &row["unit"]
            };
            (
                s["name"].as_str().expect("name").to_owned(),
                s["code"].as_str().expect("code").to_owned(),
            )
        };
        let keys = [
            "issued_units",
            "issued_doses",
            "recorded_doses",
            "recorded_units",
            "dogs",
            "expected_doses",
            "stock_left_units",
        ];
        let lines = json_rows
            .iter()
            .map(|r| (false, r))
            .chain(json_totals.iter().map(|r| (true, r)));
        for (i, (total, row)) in lines.enumerate() {
            let cells = &rows[4 + i];
            let (name, code) = subject(row);
            if total {
                assert_eq!(cell_text(&cells[0]), "合计");
            } else {
                assert_eq!(cell_number(&cells[0]), Some((i + 1) as f64));
            }
            assert_eq!(cell_text(&cells[1]), name, "row {i}");
            assert_eq!(cell_text(&cells[2]), code, "row {i}");
            assert_eq!(cell_text(&cells[3]), row["month"].as_str().expect("month"));
            for (j, k) in keys.iter().enumerate() {
                assert_eq!(
                    cell_number(&cells[4 + j]),
                    row[k].as_f64(),
                    "{by} row {i} column {k}"
                );
            }
            assert_eq!(
                cell_text(&cells[11]),
                zh(&row["flags"]),
                "{by} row {i} flags"
            );
        }
        // The flags read in Chinese where the answer has them.
        let all: String = rows.iter().flat_map(|r| r.get(11)).map(cell_text).collect();
        for f in ["发放多于记录", "记录多于发放"] {
            assert!(all.contains(f), "{by}: {f} missing");
        }
    }
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'export'
         AND detail->>'report' = 'stock_reconciliation'",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(audited, 2);
    Ok(())
}

#[tokio::test]
async fn the_reconciliation_is_scoped_to_the_jurisdiction_and_needs_the_stock_permission()
-> Result<()> {
    let app = app().await?;
    fixture(&app.db.pool).await?;
    let other: String = sqlx::query_scalar(
        "SELECT code::text FROM townships WHERE code <> $1 ORDER BY code LIMIT 1",
    )
    .bind(TOWNSHIP)
    .fetch_one(&app.db.pool)
    .await?;
    // The township's own staff: its township by default, its stores only.
    let staff = app.user(Role::TownshipStaff, TOWNSHIP).await?;
    let own = staff
        .get_json(
            &format!("/api/stock/reconciliation?period={PERIOD}&by=store"),
            200,
        )
        .await?;
    assert_eq!(own["unit"]["code"], TOWNSHIP);
    let stores: std::collections::BTreeSet<String> =
        rows_of(&own, "rows").into_iter().map(|(c, _)| c).collect();
    assert_eq!(stores, ["T-S1", "T-S2"].map(str::to_owned).into());
    // Another township's keeper: refused ours, and its own answer has none of our stores.
    let keeper = app.user(Role::StockKeeper, &other).await?;
    let e = keeper
        .get_json(
            &format!("/api/stock/reconciliation?unit={TOWNSHIP}&period={PERIOD}"),
            403,
        )
        .await?;
    assert_eq!(e["error"]["code"], "forbidden");
    keeper
        .get_json(
            &format!("/api/stock/reconciliation.xlsx?unit={V1}&period={PERIOD}"),
            403,
        )
        .await?;
    let theirs = keeper
        .get_json(
            &format!("/api/stock/reconciliation?period={PERIOD}&by=store"),
            200,
        )
        .await?;
    assert!(
        rows_of(&theirs, "rows")
            .iter()
            .all(|(c, _)| c != "T-S1" && c != "T-S2")
    );
    // The county sees the township among its townships by default.
    let epi = app.epi().await?;
    let county = epi
        .get_json(&format!("/api/stock/reconciliation?period={PERIOD}"), 200)
        .await?;
    assert_eq!(county["by"], "township");
    assert!(rows_of(&county, "rows").iter().any(|(c, _)| c == TOWNSHIP));
    // A unit that does not exist, a bad `by`, a township's rows of a village, a bad period.
    epi.get_json("/api/stock/reconciliation?unit=654022998", 404)
        .await?;
    let e = epi
        .get_json(
            &format!("/api/stock/reconciliation?unit={V1}&by=township"),
            400,
        )
        .await?;
    assert_eq!(e["error"]["details"]["field"], "by");
    let e = epi
        .get_json("/api/stock/reconciliation?by=household", 400)
        .await?;
    assert_eq!(e["error"]["details"]["field"], "by");
    let e = epi
        .get_json("/api/stock/reconciliation?period=2026-13", 400)
        .await?;
    assert_eq!(e["error"]["details"]["field"], "period");
    // The default period: the last 12 months.
    let default = epi
        .get_json(&format!("/api/stock/reconciliation?unit={V1}"), 200)
        .await?;
    assert_eq!(default["months"].as_array().map(Vec::len), Some(12));
    // Roles without the stock permission.
    for (role, place) in [
        (Role::Planner, "654022"),
        (Role::Viewer, "654022"),
        (Role::VillageDoctor, V1),
    ] {
        let c = app.user(role, place).await?;
        c.get_json("/api/stock/reconciliation", 403).await?;
        let r = c.get("/api/stock/reconciliation.xlsx").await?;
        assert_eq!(r.status().as_u16(), 403, "{role:?}");
    }
    Ok(())
}
