//! Village risk, work lists, the control stage and the report forms, against the real server.

use calamine::Data;
use echinomap_programme::auth::Role;
use echinomap_tests::read::{cell_number as num, cell_text as text, sheet};
use echinomap_tests::{Result, TestApp, TestDb, demo_today};
use serde_json::Value;

const TOWNSHIP: &str = "654022100";
const COUNTY: &str = "654022";

async fn app_on(db: TestDb) -> Result<TestApp> {
    TestApp::spawn_with(db, None, |s| {
        s.programme.today = Some(demo_today());
    })
    .await
}

fn contributions_add_up(v: &Value) {
    let sum: f64 = v["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["contribution"].as_f64().expect("contribution"))
        .sum();
    let score = v["score"].as_f64().expect("score");
    assert!(
        (sum - score).abs() < 1e-6,
        "{sum} vs {score} for {}",
        v["code"]
    );
    assert!((0.0..=100.0).contains(&score));
    assert_eq!(v["components"].as_array().map(Vec::len), Some(8));
}

#[tokio::test]
async fn risk_components_add_up_and_new_cases_move_a_village_to_high_with_the_reason() -> Result<()>
{
    let app = app_on(TestDb::demo().await?).await?;
    let epi = app.epi().await?;
    let list = epi
        .get_json(&format!("/api/risk?township={TOWNSHIP}"), 200)
        .await?;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 10);
    let scores: Vec<f64> = items
        .iter()
        .map(|v| v["score"].as_f64().unwrap_or(-1.0))
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "sorted by score: {scores:?}"
    );
    for v in items {
        contributions_add_up(v);
        assert!(
            ["monthly", "slaughter_season", "targeted"]
                .contains(&v["regime"]["regime"].as_str().unwrap_or(""))
        );
    }
    let low = items
        .iter()
        .rev()
        .find(|v| v["tier"] != "high")
        .expect("a village that is not high risk");
    let code = low["code"].as_str().expect("code").to_owned();
    let (one, version) = epi
        .get_versioned(&format!("/api/villages/{code}/risk"))
        .await?;
    assert_eq!(one["score"], low["score"]);
    // Four new confirmed cases last month.
    sqlx::query(
        "WITH v AS (SELECT id FROM villages WHERE code = $1),
         p AS (INSERT INTO people (village_id, name, sex, birth_date, link_method)
               SELECT v.id, '测试' || g, 'female', DATE '1980-01-01', 'code' FROM v, generate_series(1, 4) g
               RETURNING id, village_id)
         INSERT INTO cases (person_id, village_id, case_type, diagnosis_class, organ, discovery_route, reported_on)
         SELECT id, village_id, 'CE', 'confirmed', 'liver', 'screening', DATE '2026-10-20' FROM p",
    )
    .bind(&code)
    .execute(&app.db.pool)
    .await?;
    // Risk is a derived layer: it shows the new cases once recomputed (within 5 s).
    let (after, _) = epi
        .get_newer_than(&format!("/api/villages/{code}/risk"), version)
        .await?;
    contributions_add_up(&after);
    assert_eq!(after["tier"], "high", "{after}");
    assert_eq!(after["reasons"][0]["component"], "new_cases", "{after}");
    let cases = after["components"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["component"] == "new_cases"))
        .expect("new cases component");
    assert_eq!(cases["raw"].as_f64(), Some(4.0));
    assert!(after["score"].as_f64() > low["score"].as_f64());
    // Bad input.
    epi.get_json("/api/villages/65402210020/risk", 400).await?;
    epi.get_json("/api/villages/654022100999/risk", 404).await?;
    epi.get_json("/api/risk?sort=shoe_size", 400).await?;
    epi.get_json("/api/risk?township=654022999", 404).await?;
    Ok(())
}

#[tokio::test]
async fn a_dog_dosed_this_month_leaves_the_deworming_work_list() -> Result<()> {
    let app = app_on(TestDb::demo().await?).await?;
    let vd = app.user(Role::VillageDoctor, "654022100200").await?;
    let path = "/api/worklists/deworming";
    let before = vd.get_json(path, 200).await?;
    assert_eq!(before["rule"]["deworming_day"], 15);
    let total = before["total"].as_i64().expect("total");
    assert!(total > 0);
    let dog = before["villages"][0]["items"][0]["dog_id"]
        .as_i64()
        .expect("a dog");
    sqlx::query(
        "INSERT INTO dewormings (dog_id, village_id, dosed_on) SELECT id, village_id, $2 FROM dogs WHERE id = $1",
    )
    .bind(dog)
    .bind(demo_today())
    .execute(&app.db.pool)
    .await?;
    let before_ids: Vec<i64> = before["villages"][0]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["dog_id"].as_i64())
        .collect();
    let after = vd.get_json(path, 200).await?;
    assert_eq!(after["total"].as_i64(), Some(total - 1));
    let ids: Vec<i64> = after["villages"][0]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["dog_id"].as_i64())
        .collect();
    assert!(!ids.contains(&dog));
    // Only that dog left: every other dog of the list is still on it.
    let others: Vec<i64> = before_ids.into_iter().filter(|d| *d != dog).collect();
    assert!(!others.is_empty(), "the list had more than one dog");
    assert_eq!(ids, others);
    // Follow-ups: case rows for the village doctor, counts only (suppressed) for a planner.
    let f = vd.get_json("/api/worklists/followups", 200).await?;
    assert_eq!(f["rows_shown"], true);
    let planner = app.user(Role::Planner, COUNTY).await?;
    let pf = planner.get_json("/api/worklists/followups", 200).await?;
    assert_eq!(pf["rows_shown"], false);
    // Every village of the planner's list against the epidemiologist's counts.
    let epi = app.epi().await?;
    let ef = epi.get_json("/api/worklists/followups", 200).await?;
    assert_eq!(ef["rows_shown"], true);
    let truth: std::collections::HashMap<String, i64> = ef["villages"]
        .as_array()
        .expect("villages")
        .iter()
        .map(|v| {
            (
                v["code"].as_str().unwrap_or_default().to_owned(),
                v["count"]
                    .as_i64()
                    .expect("epidemiologists see every count"),
            )
        })
        .collect();
    let villages = pf["villages"].as_array().expect("villages");
    assert!(!villages.is_empty(), "the demo has follow-ups due");
    assert_eq!(
        villages.len(),
        truth.len(),
        "the same villages for both roles"
    );
    let mut hidden = 0;
    for v in villages {
        let code = v["code"].as_str().unwrap_or_default();
        let n = *truth
            .get(code)
            .unwrap_or_else(|| panic!("{code} is not on the epidemiologist's list"));
        assert!(v["items"].is_null(), "{v}");
        if (1..=4).contains(&n) {
            hidden += 1;
            assert!(
                v["count"].is_null(),
                "a count of {n} reached a planner: {v}"
            );
        } else {
            assert_eq!(v["count"].as_i64(), Some(n), "{v}");
        }
    }
    assert!(hidden > 0, "the demo has villages with 1–4 follow-ups due");
    for kind in ["followups", "faecal_sampling", "vaccination"] {
        let w = epi.get_json(&format!("/api/worklists/{kind}"), 200).await?;
        assert_eq!(w["kind"], kind);
    }
    let e = epi.get_json("/api/worklists/haircuts", 404).await?;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("haircuts")
    );
    Ok(())
}

/// Synthetic years on an empty county: every township samples dogs, one village is screened,
/// one slaughter point inspects young sheep. Rates per year: (human ‰ of 10,000 screened,
/// children positive of 1,000, dog positives of 200 per township, infected of 1,000 sheep).
async fn plant_years(app: &TestApp) -> Result<()> {
    let years: [(i32, i32, i32, i32, i32); 5] = [
        (2021, 300, 40, 20, 150),
        (2022, 50, 20, 4, 50),
        (2023, 5, 5, 1, 20),
        (2024, 5, 5, 1, 20),
        (2025, 0, 0, 0, 0),
    ];
    let point: i64 = sqlx::query_scalar(
        "INSERT INTO slaughter_points (code, name, kind, village_id, geom, h3_r7, h3_r8, h3_r9, disposal_facility, link_method)
         SELECT 'SP-TEST', '测试屠宰点', 'designated', id, geom, h3_r7, h3_r8, h3_r9, 'incinerator', 'code'
         FROM villages ORDER BY code LIMIT 1 RETURNING id",
    )
    .fetch_one(&app.db.pool)
    .await?;
    for (y, human, child, dog, sheep) in years {
        sqlx::query(
            "INSERT INTO screening_campaigns (village_id, screened_on, method, target_group, min_age, max_age, screened, positives, link_method)
             SELECT id, make_date($1, 5, 1), 'ultrasound', 'general', 3, NULL, 10000, $2, 'code' FROM villages ORDER BY code LIMIT 1",
        )
        .bind(y)
        .bind(human)
        .execute(&app.db.pool)
        .await?;
        sqlx::query(
            "INSERT INTO screening_campaigns (village_id, screened_on, method, target_group, min_age, max_age, screened, positives, link_method)
             SELECT id, make_date($1, 5, 2), 'serology_elisa', 'school_children', 6, 12, 1000, $2, 'code' FROM villages ORDER BY code LIMIT 1",
        )
        .bind(y)
        .bind(child)
        .execute(&app.db.pool)
        .await?;
        sqlx::query(
            "INSERT INTO faecal_tests (sample_id, village_id, sampled_on, result, link_method)
             SELECT format('T-%s-%s-%s', v.id, $1, g), v.id, make_date($1, 6, 1),
                    (CASE WHEN g <= $2 THEN 'positive' ELSE 'negative' END)::test_result, 'code'
             FROM (SELECT DISTINCT ON (township_code) id FROM villages ORDER BY township_code, code) v,
                  generate_series(1, 200) g",
        )
        .bind(y)
        .bind(dog)
        .execute(&app.db.pool)
        .await?;
        sqlx::query(
            "INSERT INTO slaughter_inspections (point_id, inspected_on, species, age_class, slaughtered, infected, organ,
                                                origin_village_id, disposal_method, disposal_done, link_method)
             SELECT $1, make_date($2, 7, 1), 'sheep', 'under_2y', 1000, $3,
                    (CASE WHEN $3 > 0 THEN 'liver' ELSE 'none' END)::cyst_organ, p.village_id, 'incineration', true, 'code'
             FROM slaughter_points p WHERE p.id = $1",
        )
        .bind(point)
        .bind(y)
        .bind(sheep)
        .execute(&app.db.pool)
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_stage_moves_up_as_consecutive_years_meet_the_rules() -> Result<()> {
    let app = app_on(TestDb::empty().await?).await?;
    plant_years(&app).await?;
    let epi = app.epi().await?;
    let stage_of = |body: &Value| {
        body["units"][0]["stage"]["key"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let mut seen = Vec::new();
    for year in 2021..=2025 {
        let body = epi
            .get_json(&format!("/api/stage?unit={COUNTY}&year={year}"), 200)
            .await?;
        assert_eq!(body["units"][0]["code"], COUNTY);
        assert_eq!(body["year"], year);
        seen.push(stage_of(&body));
    }
    assert_eq!(
        seen,
        [
            "not_controlled",
            "epidemic_control",
            "epidemic_control",
            "transmission_control",
            "transmission_control"
        ]
    );
    // The evidence behind a rule: its years and numbers.
    let body = epi
        .get_json(&format!("/api/stage?unit={COUNTY}&year=2024"), 200)
        .await?;
    let tc = &body["units"][0]["stages"][2];
    assert_eq!(tc["passed"], true);
    let human = tc["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["indicator"] == "human_prevalence"))
        .expect("the human prevalence rule");
    assert_eq!(human["years"], serde_json::json!([2023, 2024]));
    assert_eq!(human["evidence"][0]["numerator"], 5);
    assert_eq!(human["evidence"][0]["denominator"], 10000);
    assert!(human["to_confirm"].is_boolean());
    let ti = &body["units"][0]["stages"][3];
    assert_eq!(ti["passed"], false);
    // Townships are judged too; 2021 fails on dogs in every township.
    let y21 = epi
        .get_json(&format!("/api/stage?unit={COUNTY}&year=2021"), 200)
        .await?;
    assert!(y21["units"].as_array().map_or(0, Vec::len) > 10);
    let dog = &y21["units"][0]["stages"][1]["rules"][1];
    assert_eq!(dog["indicator"], "dog_faecal_positivity");
    assert!(
        dog["failing_townships"]
            .as_array()
            .is_some_and(|t| t.len() > 10)
    );
    // Bad input.
    epi.get_json("/api/stage?year=2031", 400).await?;
    epi.get_json("/api/stage?year=2025-01", 400).await?;
    epi.get_json("/api/stage?unit=654022100200", 400).await?;
    Ok(())
}

#[tokio::test]
async fn a_bad_stage_rule_file_stops_the_start_naming_what_is_wrong() -> Result<()> {
    let dir = echinomap_tests::shared_tempdir();
    let unknown = dir.path().join("unknown.json");
    std::fs::write(
        &unknown,
        echinomap_programme::stage::DEFAULT_RULES
            .replace("\"rodent_infection\"", "\"fox_density\""),
    )?;
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{ \"version\": \"x\", ")?;
    for (path, needle) in [(&unknown, "fox_density"), (&broken, "does not parse")] {
        let p = path.clone();
        let err = TestApp::spawn_with(TestDb::empty().await?, None, move |s| {
            s.programme.stage_rules = Some(p);
        })
        .await
        .expect_err("a bad rule file must stop the start");
        let msg = format!("{err:#}");
        assert!(msg.contains(needle), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
    Ok(())
}

async fn download(c: &echinomap_tests::ApiClient, path: &str) -> Result<Vec<Vec<Data>>> {
    let r = c.get(path).await?;
    assert_eq!(r.status().as_u16(), 200, "{path}");
    assert!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("spreadsheetml"))
    );
    let bytes = r.bytes().await?;
    sheet(&bytes)
}

fn api_cell(body: &Value, key: &str, what: &str) -> Option<f64> {
    body["indicators"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["indicator"] == key))
        .and_then(|i| i[what].as_f64())
}

/// A form's column, the indicator it shows, and which of its numbers.
type Column = (usize, &'static str, &'static str);

#[tokio::test]
async fn report_cells_equal_the_api_numbers() -> Result<()> {
    let app = app_on(TestDb::demo().await?).await?;
    let epi = app.epi().await?;
    let forms = epi.get_json("/api/reports", 200).await?;
    assert_eq!(forms["forms"].as_array().map(Vec::len), Some(3));
    // (form, period, [(column, indicator, numerator|denominator)])
    let checks: [(&str, &str, Vec<Column>); 3] = [
        (
            "deworming_monthly",
            "2025-06",
            vec![
                (3, "deworming_coverage", "denominator"),
                (4, "deworming_coverage", "numerator"),
                (6, "dog_registration", "numerator"),
            ],
        ),
        (
            "slaughter_quarterly",
            "2025Q2",
            vec![
                (4, "offal_disposal", "denominator"),
                (5, "offal_disposal", "numerator"),
                (7, "livestock_infection", "denominator"),
                (8, "livestock_infection", "numerator"),
            ],
        ),
        (
            "cases_annual",
            "2025",
            vec![
                (3, "new_cases", "numerator"),
                (6, "new_child_cases", "numerator"),
                (7, "human_prevalence", "denominator"),
                (8, "human_prevalence", "numerator"),
            ],
        ),
    ];
    let mut cases_form = Vec::new();
    let mut compared = 0;
    for (form, period, cols) in checks {
        let rows = download(&epi, &format!("/api/reports/{form}.xlsx?period={period}")).await?;
        assert!(text(&rows[0][0]).contains("察布查尔"), "title");
        assert!(
            rows.iter()
                .any(|r| r.iter().any(|c| text(c).starts_with("填表人")))
        );
        assert!(
            rows.iter()
                .any(|r| r.iter().any(|c| text(c).contains("报告期")))
        );
        let township = rows
            .iter()
            .find(|r| text(&r[2]) == TOWNSHIP)
            .expect("the township row");
        let total = rows
            .iter()
            .find(|r| text(&r[0]) == "合计")
            .expect("the totals row");
        let t_api = epi
            .get_json(
                &format!("/api/indicators?unit={TOWNSHIP}&period={period}"),
                200,
            )
            .await?;
        let c_api = epi
            .get_json(
                &format!("/api/indicators?unit={COUNTY}&period={period}"),
                200,
            )
            .await?;
        for (col, key, what) in cols {
            // Both sides must have the number: a cell missing from the form or the API fails.
            for (side, row, api) in [("township", township, &t_api), ("total", total, &c_api)] {
                let cell = num(&row[col]).unwrap_or_else(|| {
                    panic!(
                        "{form} {key} {what} {side}: no number in the form: {:?}",
                        row[col]
                    )
                });
                let expected = api_cell(api, key, what)
                    .unwrap_or_else(|| panic!("{form} {key} {what} {side}: not in the API: {api}"));
                assert_eq!(cell, expected, "{form} {key} {what} {side}");
                compared += 1;
            }
        }
        if form == "cases_annual" {
            cases_form = rows;
        }
    }
    assert_eq!(compared, 2 * (3 + 4 + 4), "every column on both rows");
    // Planners get the form with small counts of people hidden, and every download is audited.
    let planner = app.user(Role::Planner, COUNTY).await?;
    let rows = download(&planner, "/api/reports/cases_annual.xlsx?period=2025").await?;
    // Every township row and the totals, cell by cell against the epidemiologist's form: the
    // counts of people (new cases, new child cases) of 1–4 read "*", every other the same.
    let is_unit_row = |r: &&Vec<Data>| {
        let code = text(&r[2]);
        text(&r[0]) == "合计" || (code.len() == 9 && code.bytes().all(|b| b.is_ascii_digit()))
    };
    let truth: Vec<&Vec<Data>> = cases_form.iter().filter(is_unit_row).collect();
    let shared: Vec<&Vec<Data>> = rows.iter().filter(is_unit_row).collect();
    assert!(
        truth.len() > 10,
        "the townships and the totals: {}",
        truth.len()
    );
    assert_eq!(shared.len(), truth.len(), "the same rows for the planner");
    let (mut starred, mut shown) = (0, 0);
    for (t, p) in truth.iter().zip(&shared) {
        assert_eq!(text(&t[2]), text(&p[2]), "the same units in the same order");
        for col in [3, 6] {
            let n = num(&t[col])
                .unwrap_or_else(|| panic!("the epidemiologist's form has no number: {:?}", t[col]));
            if (1.0..=4.0).contains(&n) {
                starred += 1;
                assert_eq!(text(&p[col]), "*", "{} column {col}: {n}", text(&p[2]));
            } else {
                shown += 1;
                assert_eq!(num(&p[col]), Some(n), "{} column {col}", text(&p[2]));
            }
        }
    }
    assert!(
        starred > 0,
        "the demo has townships with 1–4 new cases in 2025"
    );
    assert!(shown > 0);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'export'")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(audited, 4);
    epi.get_json("/api/reports/tax_return.xlsx?period=2025", 404)
        .await?;
    epi.get_json("/api/reports/deworming_monthly.xlsx?period=2025", 400)
        .await?;
    epi.get_json("/api/reports/cases_annual.xlsx?period=2099", 400)
        .await?;
    Ok(())
}

/// A demo load ends with the deworming rollup of the 24 months up to its today, so the first
/// start after a load does not read every dose while the first map waits (issue 22).
#[tokio::test]
async fn a_demo_load_holds_the_deworming_rollup_of_its_last_24_months() -> Result<()> {
    let db = TestDb::demo().await?;
    let months: Vec<chrono::NaiveDate> =
        sqlx::query_scalar("SELECT month FROM deworming_rollup_months ORDER BY month")
            .fetch_all(&db.pool)
            .await?;
    assert_eq!(months.len(), 24, "{months:?}");
    assert_eq!(
        months.last().copied(),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
    );
    let (rows, dirty): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM deworming_rollup), (SELECT count(*) FROM deworming_rollup_dirty)",
    )
    .fetch_one(&db.pool)
    .await?;
    let villages: i64 = sqlx::query_scalar("SELECT count(*) FROM villages")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!((rows, dirty), (villages * 24, 0));
    Ok(())
}
