//! The registers API and the bulk import, end to end over the real server and database: every
//! import kind from its own template to the API, idempotence, revisits, both modes, the error
//! workbook, every bad-input class, jurisdictions, GCJ-02, the CLI, and a SIGKILL mid-import.

use echinomap_geodata::gcj02::{LonLat, wgs84_to_gcj02};
use echinomap_programme::auth::Role;
use echinomap_tests::{ApiClient, Result, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const VILLAGE: &str = "654022100200";
const OWN_TOWNSHIP: &str = "654022100";

/// A valid 18-digit ID number from its first 17 digits.
fn id_number(first17: &str) -> String {
    format!(
        "{first17}{}",
        echinomap_domain::IdNumber::check_character(first17)
    )
}

async fn import(
    c: &ApiClient,
    query: &str,
    body: impl Into<reqwest::Body>,
) -> Result<(u16, Value)> {
    let r = c
        .request(Method::POST, &format!("/api/imports?{query}"))
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("import answer is not JSON ({e}): {status} {text}"))?;
    Ok((status, v))
}

async fn send(c: &ApiClient, method: Method, path: &str, body: &Value) -> Result<(u16, Value)> {
    let r = c.request(method, path).json(body).send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// The canonical field of a template header: `犬牌号(dog_tag)*` → `dog_tag`.
fn field_of(header: &str) -> String {
    let h = header.trim_start_matches('\u{feff}').trim_end_matches('*');
    match (h.find('('), h.find(')')) {
        (Some(a), Some(b)) => h[a + 1..b].to_owned(),
        _ => h.to_owned(),
    }
}

/// One record per kind, as a county would fill the template, and where the API shows it.
fn fill(kind: &str, field: &str, lonlat: (f64, f64), idn: &str) -> Option<String> {
    let (lon, lat) = lonlat;
    let v = match (kind, field) {
        ("villages", "village_code") => VILLAGE.into(),
        ("villages", "lon") => format!("{:.6}", lon + 0.001),
        ("villages", "lat") => format!("{:.6}", lat + 0.001),
        ("villages", "remote") => "是".into(),
        ("villages", _) => return None,
        (_, "village_code") if kind != "stock_movements" => VILLAGE.into(),
        ("households", "household_no") | ("dogs", "household_no") => "RT-H1".into(),
        ("households", "head_name") => "王五".into(),
        (_, "dog_tag") => "RT-D1".into(),
        ("dogs", "dog_kind") => "牧犬".into(),
        ("dogs", "registered_on") => "2024/3/5".into(),
        ("dewormings", "dosed_on") => "2024年4月1日".into(),
        ("faecal_tests", "sample_id") => "RT-S1".into(),
        ("faecal_tests", "sampled_on") => "2024-04-02".into(),
        ("faecal_tests", "result") => "阳性".into(),
        (_, "point_code") => "RT-P1".into(),
        ("slaughter_points", "point_name") => "测试屠宰点".into(),
        ("slaughter_points", "point_kind") => "定点".into(),
        ("slaughter_points", "disposal_facility") => "焚烧炉".into(),
        ("slaughter_points", "lon") => format!("{lon:.6}"),
        ("slaughter_points", "lat") => format!("{lat:.6}"),
        ("slaughter_inspections", "inspected_on") => "2024-05-01".into(),
        ("slaughter_inspections", "species") => "羊".into(),
        ("slaughter_inspections", "slaughtered") => "10".into(),
        ("slaughter_inspections", "infected") => "1".into(),
        ("slaughter_inspections", "organ") => "肝".into(),
        ("slaughter_inspections", "disposal_method") => "焚烧".into(),
        ("slaughter_inspections", "disposal_done") => "是".into(),
        ("cases", "name") => "赵六".into(),
        ("cases", "id_number") => idn.into(),
        ("cases", "case_type") => "囊型".into(),
        ("cases", "diagnosis_class") => "确诊".into(),
        ("cases", "organ") => "肝".into(),
        ("cases", "discovery_route") => "筛查".into(),
        ("cases", "reported_on") => "2024-06-01".into(),
        (_, "nndrs_id") => "RT-N1".into(),
        ("followups", "due_on") => "2024-07-01".into(),
        ("livestock_census", "year") => "1999".into(),
        ("livestock_census", "population") => "100".into(),
        ("livestock_census", "households") => "30".into(),
        ("livestock_census", "dogs_estimated") => "10".into(),
        ("vaccinations", "campaign") => "RT-C1".into(),
        ("vaccinations", "vaccinated_on") => "2024-04-10".into(),
        ("vaccinations", "target") => "100".into(),
        ("vaccinations", "immunised") => "90".into(),
        ("vaccinations", "doses") => "90".into(),
        ("stock_movements", "item_code") => "RT-I1".into(),
        ("stock_movements", "moved_on") => "2024-03-01".into(),
        ("stock_movements", "movement_kind") => "入库".into(),
        ("stock_movements", "quantity") => "100".into(),
        ("stock_movements", "batch") => "RT-B1".into(),
        _ => return None,
    };
    Some(v)
}

/// Where the API shows the record of `kind` made by [`fill`]: path and (key, value).
fn shown(kind: &str) -> (String, &'static str, &'static str) {
    let v = format!("village={VILLAGE}");
    match kind {
        "villages" => (format!("/api/villages/{VILLAGE}"), "code", VILLAGE),
        "households" => (
            format!("/api/households?{v}&q=RT-H1"),
            "household_no",
            "RT-H1",
        ),
        "dogs" => (format!("/api/dogs?{v}&q=RT-D1"), "dog_tag", "RT-D1"),
        "dewormings" => (
            format!("/api/dewormings?{v}&from=2024-04-01&to=2024-04-01"),
            "dog_tag",
            "RT-D1",
        ),
        "faecal_tests" => (
            format!("/api/faecal_tests?{v}&q=RT-S1"),
            "sample_id",
            "RT-S1",
        ),
        "slaughter_points" => (
            "/api/slaughter_points?q=RT-P1".to_owned(),
            "point_code",
            "RT-P1",
        ),
        "slaughter_inspections" => (
            format!("/api/slaughter_inspections?{v}&from=2024-05-01&to=2024-05-01"),
            "point_code",
            "RT-P1",
        ),
        "cases" => (
            "/api/cases?limit=500&unit=654022100200".to_owned(),
            "nndrs_id",
            "RT-N1",
        ),
        "followups" => (
            format!("/api/followups?{v}&from=2024-07-01&to=2024-07-01"),
            "due_on",
            "2024-07-01",
        ),
        "livestock_census" => (format!("/api/livestock_census?{v}"), "year", "1999"),
        "vaccinations" => (format!("/api/vaccinations?{v}"), "campaign", "RT-C1"),
        // The import writes the stock ledger, read at /api/stock/movements (the lot's batch).
        "stock_movements" => (
            "/api/stock/movements?from=2024-03-01&to=2024-03-01".to_owned(),
            "batch",
            "RT-B1",
        ),
        other => panic!("no place for {other}"),
    }
}

fn find<'a>(body: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    let matches = |x: &Value| {
        x[key].as_str() == Some(value)
            || x[key].as_i64().map(|n| n.to_string()).as_deref() == Some(value)
            || x["lot"][key].as_str() == Some(value)
    };
    match body.get("items") {
        Some(items) => items.as_array()?.iter().find(|x| matches(x)),
        None => matches(body).then_some(body),
    }
}

#[tokio::test]
async fn every_kind_round_trips_from_its_template_and_a_second_import_changes_nothing() -> Result<()>
{
    let app = TestApp::with_demo().await?;
    let admin = app.user(Role::Admin, "654022").await?;
    let village = admin
        .get_json(&format!("/api/villages/{VILLAGE}"), 200)
        .await?;
    let lonlat = (
        village["lon"].as_f64().expect("lon"),
        village["lat"].as_f64().expect("lat"),
    );
    // What the sheets refer to but do not create.
    admin
        .post_json(
            "/api/vaccination_campaigns",
            &json!({"name": "RT-C1", "year": 2024, "vaccine": "EG95", "starts_on": "2024-04-01", "ends_on": "2024-05-31"}),
            201,
        )
        .await?;
    admin
        .post_json(
            "/api/stock_items",
            &json!({"item_code": "RT-I1", "item_name": "吡喹酮片", "item_kind": "吡喹酮", "unit": "片"}),
            201,
        )
        .await?;
    let idn = id_number("65402219800101123");
    for kind in [
        "villages",
        "households",
        "dogs",
        "dewormings",
        "faecal_tests",
        "slaughter_points",
        "slaughter_inspections",
        "cases",
        "followups",
        "livestock_census",
        "vaccinations",
        "stock_movements",
    ] {
        let template = admin
            .get(&format!("/api/imports/templates/{kind}.csv"))
            .await?
            .text()
            .await?;
        let headers: Vec<&str> = template
            .lines()
            .next()
            .expect("a header row")
            .split(',')
            .collect();
        let row: Vec<String> = headers
            .iter()
            .map(|h| fill(kind, &field_of(h), lonlat, &idn).unwrap_or_default())
            .collect();
        let csv = format!("{}\n{}\n", headers.join(","), row.join(","));
        let (status, report) =
            import(&admin, &format!("kind={kind}&format=csv"), csv.clone()).await?;
        assert_eq!(status, 200, "{kind}: {report}");
        let written =
            report["inserted"].as_u64().unwrap_or(0) + report["updated"].as_u64().unwrap_or(0);
        assert_eq!(written, 1, "{kind}: {report}");
        let (path, key, value) = shown(kind);
        let body = admin.get_json(&path, 200).await?;
        let record = find(&body, key, value)
            .unwrap_or_else(|| panic!("{kind}: {value} not in {path}: {body}"));
        if kind == "villages" {
            assert_eq!(record["synthetic"], false, "{record}");
            assert!(
                (record["lon"].as_f64().unwrap_or(0.0) - (lonlat.0 + 0.001)).abs() < 1e-6,
                "{record}"
            );
        }
        // The same file again: nothing changes.
        let (status, again) = import(&admin, &format!("kind={kind}&format=csv"), csv).await?;
        assert_eq!(status, 200, "{kind} again: {again}");
        assert_eq!(
            (
                again["inserted"].as_u64(),
                again["updated"].as_u64(),
                again["unchanged"].as_u64()
            ),
            (Some(0), Some(0), Some(1)),
            "{kind} again: {again}"
        );
    }
    // A changed row updates its record.
    let csv = "犬牌号,犬只类型,登记日期,村代码\nRT-D1,流浪犬,2024-03-05,654022100200\n";
    let (status, report) = import(&admin, "kind=dogs&format=csv", csv).await?;
    assert_eq!(
        (status, report["updated"].as_u64()),
        (200, Some(1)),
        "{report}"
    );
    let dogs = admin
        .get_json(&format!("/api/dogs?village={VILLAGE}&q=RT-D1"), 200)
        .await?;
    assert_eq!(
        find(&dogs, "dog_tag", "RT-D1").expect("the dog")["dog_kind"],
        "stray"
    );
    Ok(())
}

#[tokio::test]
async fn an_xlsx_template_filled_in_excel_imports() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let r = epi.get("/api/imports/templates/dogs.xlsx").await?;
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await?;
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))?;
    let range = wb.worksheet_range_at(0).expect("a sheet")?;
    let headers: Vec<String> = range
        .rows()
        .next()
        .expect("headers")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(
        headers.iter().any(|h| h.starts_with("犬牌号")),
        "{headers:?}"
    );
    // Filled in Excel: the date is an Excel date, the kind in Chinese.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (i, h) in headers.iter().enumerate() {
        sheet.write_string(0, i as u16, h)?;
        let field = field_of(h);
        match field.as_str() {
            "dog_tag" => {
                sheet.write_string(1, i as u16, "XL-D1")?;
            }
            "dog_kind" => {
                sheet.write_string(1, i as u16, "家犬")?;
            }
            "registered_on" => {
                let d = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 3, 5)?;
                sheet.write_datetime_with_format(
                    1,
                    i as u16,
                    &d,
                    &rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
                )?;
            }
            "village" => {
                sheet.write_string(1, i as u16, "宁古齐牛录")?;
            }
            _ => {}
        }
    }
    let (status, report) = import(&epi, "kind=dogs&format=xlsx", book.save_to_buffer()?).await?;
    assert_eq!(
        (status, report["inserted"].as_u64()),
        (200, Some(1)),
        "{report}"
    );
    let dogs = epi
        .get_json(&format!("/api/dogs?village={VILLAGE}&q=XL-D1"), 200)
        .await?;
    let dog = find(&dogs, "dog_tag", "XL-D1").expect("the dog");
    // The Excel date, and the village found by its name without the 村 suffix.
    assert_eq!(dog["registered_on"], "2024-03-05");
    assert!(
        matches!(dog["link_method"].as_str(), Some("name" | "name_fuzzy")),
        "{dog}"
    );
    assert_eq!(dog["village_code"], VILLAGE);
    Ok(())
}

#[tokio::test]
async fn atomic_refuses_everything_valid_rows_keeps_the_good_and_the_error_sheet_marks_the_bad()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM dogs")
        .fetch_one(&app.db.pool)
        .await?;
    let csv = "dog_tag,dog_kind,registered_on,village_code\nAT-1,herding,2024-01-01,654022100200\nAT-2,cat,2024-01-01,654022100200\nAT-3,herding,2024-02-30,654022100200\nAT-4,herding,2024-01-01,999999999999\n";
    let (status, body) = import(&epi, "kind=dogs", csv).await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "import_refused");
    let report = &body["error"]["details"];
    assert_eq!(
        (
            report["read"].as_u64(),
            report["rejected"].as_u64(),
            report["inserted"].as_u64()
        ),
        (Some(4), Some(3), Some(0)),
        "{report}"
    );
    let errors = report["errors"].as_array().expect("errors");
    let at = |row: u64| {
        errors
            .iter()
            .find(|e| e["row"] == row)
            .unwrap_or_else(|| panic!("no error on row {row}: {report}"))
    };
    assert_eq!(at(3)["column"], "dog_kind");
    assert_eq!(at(3)["value"], "cat");
    assert_eq!(at(4)["field"], "registered_on");
    assert!(
        at(5)["reason"]
            .as_str()
            .unwrap_or("")
            .contains("999999999999"),
        "{report}"
    );
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM dogs")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(before, after, "an atomic import with errors writes nothing");
    // The error workbook: the sheet again with an error column.
    let id = report["id"].as_str().expect("id");
    let r = epi.get(&format!("/api/imports/{id}/errors.xlsx")).await?;
    assert_eq!(r.status().as_u16(), 200);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.bytes().await?.to_vec()))?;
    let range = wb.worksheet_range_at(0).expect("a sheet")?;
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 5, "header + every row in atomic mode: {rows:?}");
    assert!(rows[0][4].contains("错误"), "{:?}", rows[0]);
    assert!(
        rows[1][4].is_empty() && rows[2][4].contains("cat"),
        "{rows:?}"
    );
    // valid_rows: the good row goes in, the bad are reported.
    let (status, report) = import(&epi, "kind=dogs&mode=valid_rows", csv).await?;
    assert_eq!(
        (
            status,
            report["inserted"].as_u64(),
            report["rejected"].as_u64()
        ),
        (200, Some(1), Some(3)),
        "{report}"
    );
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM dogs")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(after, before + 1);
    // The history keeps both.
    let history = epi.get_json("/api/imports", 200).await?;
    assert!(
        history["items"].as_array().expect("items").len() >= 2,
        "{history}"
    );
    // dry_run checks and writes nothing.
    let (status, report) = import(
        &epi,
        "kind=dogs&dry_run=true",
        "dog_tag,dog_kind,registered_on,village_code\nDRY-1,herding,2024-01-01,654022100200\n",
    )
    .await?;
    assert_eq!(
        (
            status,
            report["status"].as_str(),
            report["inserted"].as_u64()
        ),
        (200, Some("dry_run"), Some(1)),
        "{report}"
    );
    let dry: i64 = sqlx::query_scalar("SELECT count(*) FROM dogs WHERE tag = 'DRY-1'")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(dry, 0);
    Ok(())
}

#[tokio::test]
async fn a_new_case_for_a_known_person_attaches_to_that_person_as_a_revisit() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let idn = id_number("65402219750505456");
    let first = format!(
        "姓名,身份证号,村代码,病例类型,诊断分类,病变部位,发现途径,报告日期\n钱七,{idn},{VILLAGE},CE,confirmed,liver,screening,2024-03-05\n"
    );
    let (status, r1) = import(&epi, "kind=cases", first).await?;
    assert_eq!(
        (status, r1["inserted"].as_u64(), r1["revisits"].as_u64()),
        (200, Some(1), Some(0)),
        "{r1}"
    );
    // Next year the same person is reported again, with the ID number in lower case.
    let second = format!(
        "姓名,身份证号,村代码,病例类型,诊断分类,病变部位,发现途径,报告日期\n钱七,{},{VILLAGE},CE,confirmed,liver,hospital_report,2025-05-06\n",
        idn.to_lowercase()
    );
    let (status, r2) = import(&epi, "kind=cases", second).await?;
    assert_eq!(
        (status, r2["inserted"].as_u64(), r2["revisits"].as_u64()),
        (200, Some(1), Some(1)),
        "{r2}"
    );
    let rows: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT c.person_id, c.is_revisit FROM cases c JOIN people p ON p.id = c.person_id WHERE p.id_number = $1 ORDER BY c.reported_on",
    )
    .bind(&idn)
    .fetch_all(&app.db.pool)
    .await?;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, rows[1].0, "one person");
    assert_eq!((rows[0].1, rows[1].1), (false, true));
    // Sex and birth date came from the ID number.
    let (sex, birth): (String, chrono::NaiveDate) =
        sqlx::query_as("SELECT sex::text, birth_date FROM people WHERE id_number = $1")
            .bind(&idn)
            .fetch_one(&app.db.pool)
            .await?;
    assert_eq!(
        (sex.as_str(), birth.to_string().as_str()),
        ("female", "1975-05-05")
    );
    // People lists mask the ID number.
    let people = epi.get_json("/api/people?q=钱七", 200).await?;
    let listed = people["items"].as_array().expect("items");
    assert!(!listed.is_empty(), "{people}");
    let mut masked = 0;
    for person in listed {
        // Every listed person, not only the first: a middle of stars, never the whole number.
        if let Some(shown) = person["id_number"].as_str() {
            let n = shown.chars().count();
            assert!(
                n > 10 && shown.chars().skip(6).take(n - 10).all(|c| c == '*'),
                "{shown}"
            );
            masked += 1;
        }
    }
    assert!(
        masked > 0,
        "the person just imported has an ID number: {people}"
    );
    assert!(
        !people.to_string().contains(&idn),
        "a whole ID number in a list"
    );
    Ok(())
}

#[tokio::test]
async fn the_api_validates_with_the_field_and_scopes_by_jurisdiction() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let ts = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    // 422 naming the field.
    let (status, body) = send(&ts, Method::POST, "/api/dogs", &json!({"dog_tag": "API-1", "dog_kind": "herding", "registered_on": "yesterday", "village_code": VILLAGE})).await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["field"], "registered_on");
    let (status, body) = send(
        &ts,
        Method::POST,
        "/api/dogs",
        &json!({"dog_tag": "API-1", "colour": "black"}),
    )
    .await?;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (422, Some("colour")),
        "{body}"
    );
    // Outside the jurisdiction: refused, naming it.
    let sibling_village: String = sqlx::query_scalar(
        "SELECT code::text FROM villages WHERE township_code = '654022101' ORDER BY code LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await?;
    let (status, body) = send(&ts, Method::POST, "/api/dogs", &json!({"dog_tag": "API-2", "dog_kind": "herding", "registered_on": "2024-01-01", "village_code": sibling_village})).await?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("jurisdiction"),
        "{body}"
    );
    // Create, read, update, soft delete.
    let (status, dog) = send(&ts, Method::POST, "/api/dogs", &json!({"dog_tag": "API-1", "dog_kind": "牧犬", "registered_on": "2024-01-01", "village": "宁古齐牛录村"})).await?;
    assert_eq!(status, 201, "{dog}");
    assert_eq!(
        (dog["village_code"].as_str(), dog["link_method"].as_str()),
        (Some(VILLAGE), Some("name"))
    );
    let id = dog["id"].as_i64().expect("id");
    let (status, _) = send(&ts, Method::POST, "/api/dogs", &json!({"dog_tag": "API-1", "dog_kind": "牧犬", "registered_on": "2024-01-01", "village_code": VILLAGE})).await?;
    assert_eq!(status, 409, "a second dog with the same tag");
    let (status, body) = send(
        &ts,
        Method::PATCH,
        &format!("/api/dogs/{id}"),
        &json!({"status": "dead"}),
    )
    .await?;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (422, Some("status_on")),
        "{body}"
    );
    let (status, body) = send(
        &ts,
        Method::PATCH,
        &format!("/api/dogs/{id}"),
        &json!({"status": "dead", "status_on": "2024-06-01"}),
    )
    .await?;
    assert_eq!(
        (status, body["status"].as_str(), body["dog_kind"].as_str()),
        (200, Some("dead"), Some("herding")),
        "{body}"
    );
    // A deworming names its dog by tag; the village is the dog's.
    let (status, dose) = send(
        &ts,
        Method::POST,
        "/api/dewormings",
        &json!({"dog_tag": "API-1", "dosed_on": "2024-02-01", "dose_mg": 50}),
    )
    .await?;
    assert_eq!(
        (status, dose["village_code"].as_str()),
        (201, Some(VILLAGE)),
        "{dose}"
    );
    let (status, _) = send(
        &ts,
        Method::DELETE,
        &format!("/api/dogs/{id}"),
        &json!(null),
    )
    .await?;
    assert_eq!(status, 204);
    ts.get_json(&format!("/api/dogs/{id}"), 404).await?;
    let list = ts
        .get_json(&format!("/api/dogs?village={VILLAGE}&q=API-1"), 200)
        .await?;
    assert!(
        find(&list, "dog_tag", "API-1").is_none(),
        "deleted dogs are not listed"
    );
    // A record of the sibling township is unknown to this user.
    let sibling: i64 = sqlx::query_scalar("SELECT d.id FROM dogs d JOIN villages v ON v.id = d.village_id WHERE v.township_code = '654022101' LIMIT 1")
        .fetch_one(&app.db.pool)
        .await?;
    ts.get_json(&format!("/api/dogs/{sibling}"), 404).await?;
    let (status, _) = send(
        &ts,
        Method::PATCH,
        &format!("/api/dogs/{sibling}"),
        &json!({"status": "moved", "status_on": "2025-01-01"}),
    )
    .await?;
    assert_eq!(status, 404);
    // Lists: filters and cursor paging, never outside the jurisdiction.
    let mut cursor: Option<i64> = None;
    let mut seen = 0;
    loop {
        let path = match cursor {
            Some(c) => format!(
                "/api/dewormings?township={OWN_TOWNSHIP}&from=2025-01-01&to=2025-03-31&limit=500&cursor={c}"
            ),
            None => format!(
                "/api/dewormings?township={OWN_TOWNSHIP}&from=2025-01-01&to=2025-03-31&limit=500"
            ),
        };
        let page = ts.get_json(&path, 200).await?;
        for d in page["items"].as_array().expect("items") {
            assert!(
                d["village_code"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(OWN_TOWNSHIP)
            );
            let on = d["dosed_on"].as_str().unwrap_or("");
            assert!(("2025-01-01"..="2025-03-31").contains(&on), "{on}");
            seen += 1;
        }
        cursor = page["next_cursor"].as_i64();
        if cursor.is_none() {
            break;
        }
    }
    let expected: i64 = sqlx::query_scalar("SELECT count(*) FROM dewormings d JOIN villages v ON v.id = d.village_id WHERE v.township_code = $1 AND d.dosed_on BETWEEN '2025-01-01' AND '2025-03-31' AND d.deleted_at IS NULL")
        .bind(OWN_TOWNSHIP)
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(seen, expected);
    assert!(seen > 500, "the paging was exercised: {seen}");
    // Bad filters are 400 naming the parameter.
    let (status, body) = send(&ts, Method::GET, "/api/dogs?township=12", &Value::Null).await?;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("township"))
    );
    // An import row outside the jurisdiction is refused like the API's.
    let (status, body) = import(
        &ts,
        "kind=dogs",
        format!("dog_tag,dog_kind,registered_on,village_code\nAPI-3,herding,2024-01-01,{sibling_village}\n"),
    )
    .await?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["details"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("jurisdiction"),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn gcj02_coordinates_are_stored_as_wgs84() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let village = epi
        .get_json(&format!("/api/villages/{VILLAGE}"), 200)
        .await?;
    let wgs = LonLat::new(
        village["lon"].as_f64().expect("lon"),
        village["lat"].as_f64().expect("lat"),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let gcj = wgs84_to_gcj02(wgs);
    // GCJ-02 is hundreds of metres off here; the stored point must be the WGS84 one.
    assert!((gcj.lon() - wgs.lon()).abs() > 1e-3);
    let csv = format!(
        "point_code,point_name,point_kind,disposal_facility,lon,lat\nGCJ-1,高德点,designated,pit,{:.8},{:.8}\n",
        gcj.lon(),
        gcj.lat()
    );
    let (status, report) = import(&epi, "kind=slaughter_points&crs=gcj02", csv).await?;
    assert_eq!(status, 200, "{report}");
    let points = epi.get_json("/api/slaughter_points?q=GCJ-1", 200).await?;
    let p = find(&points, "point_code", "GCJ-1").expect("the point");
    let (lon, lat) = (
        p["lon"].as_f64().expect("lon"),
        p["lat"].as_f64().expect("lat"),
    );
    let metres = ((lon - wgs.lon()) * 111_320.0 * wgs.lat().to_radians().cos())
        .hypot((lat - wgs.lat()) * 110_540.0);
    assert!(metres < 1.0, "{metres} m from the WGS84 position");
    assert_eq!(p["village_code"], VILLAGE);
    // The API takes crs=gcj02 too.
    let (status, body) = send(&epi, Method::POST, "/api/stray_dog_events?crs=gcj02", &json!({"occurred_on": "2024-05-05", "n_dogs": 2, "action": "发现", "lon": gcj.lon(), "lat": gcj.lat()})).await?;
    assert_eq!(
        (status, body["village_code"].as_str()),
        (201, Some(VILLAGE)),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_files_get_a_clear_error_and_write_nothing() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM dogs")
            .fetch_one(&app.db.pool)
            .await
    };
    let before = count().await?;
    let header = "dog_tag,dog_kind,registered_on,village_code\n";
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "kind=dogs",
            format!("{header}\"BAD-1,herding,2024-01-01,{VILLAGE}\n").into_bytes(),
            "malformed_file",
            "never closed",
        ),
        (
            "kind=dogs",
            format!("{header}BAD-1,herding,2024-01-01\n").into_bytes(),
            "malformed_file",
            "columns",
        ),
        (
            "kind=dogs&format=xlsx",
            b"PK\x03\x04 this is not a workbook".to_vec(),
            "not_the_format",
            "XLSX",
        ),
        (
            "kind=dogs",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "",
            "",
        ),
        (
            "kind=dogs",
            b"tag\xff\xfe,\x81\x30\n\xc0\xc1\xf5\xff,1\n".to_vec(),
            "",
            "",
        ),
        (
            "kind=dogs",
            b"colour,size\nblack,big\n".to_vec(),
            "bad_headers",
            "dog_tag",
        ),
        (
            "kind=cats",
            header.as_bytes().to_vec(),
            "invalid_parameter",
            "kind",
        ),
        (
            "kind=dogs&format=geojson",
            b"{\"type\":\"Point\"}".to_vec(),
            "not_the_format",
            "FeatureCollection",
        ),
    ];
    for (query, body, code, words) in cases {
        let (status, answer) = import(&epi, query, body).await?;
        assert!(matches!(status, 400 | 422), "{query}: {status} {answer}");
        let err = &answer["error"];
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
        if !code.is_empty() {
            assert_eq!(err["code"], code, "{answer}");
            assert!(
                err["message"].as_str().unwrap_or("").contains(words),
                "{answer}"
            );
        }
    }
    // A zip bomb disguised as a workbook.
    let bomb = {
        use std::io::Write;
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/worksheets/sheet1.xml", opts)?;
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..600 {
            zip.write_all(&zeros)?;
        }
        zip.finish()?;
        buf.into_inner()
    };
    let (status, answer) = import(&epi, "kind=dogs&format=xlsx", bomb).await?;
    assert_eq!(status, 422, "{answer}");
    assert!(
        matches!(
            answer["error"]["code"].as_str(),
            Some("file_too_large" | "not_the_format")
        ),
        "{answer}"
    );
    // Over 200 MiB.
    let huge = vec![b'a'; 200 * 1024 * 1024 + 1];
    let (status, answer) = import(&epi, "kind=dogs", huge).await?;
    assert!(matches!(status, 400 | 413 | 422), "{status} {answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("200"),
        "{answer}"
    );
    assert_eq!(count().await?, before, "nothing was written");
    // GBK is read as such.
    let text = "犬牌号,犬只类型,登记日期,村名\nGBK-1,牧犬,2024-01-01,宁古齐牛录村\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let (status, answer) = import(&epi, "kind=dogs", gbk.into_owned()).await?;
    assert_eq!(
        (status, answer["inserted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    Ok(())
}

#[tokio::test]
async fn the_quality_report_finds_what_does_not_fit_with_links_to_the_records() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let village = epi
        .get_json(&format!("/api/villages/{VILLAGE}"), 200)
        .await?;
    let (lon, lat) = (
        village["lon"].as_f64().expect("lon"),
        village["lat"].as_f64().expect("lat"),
    );
    // A household whose coordinates were typed the wrong way round, linked by its code.
    let (s, swapped) = send(&epi, Method::POST, "/api/households", &json!({"household_no": "Q-H1", "head_name": "孙八", "village_code": VILLAGE, "lon": lat, "lat": lon})).await?;
    assert_eq!(s, 201, "{swapped}");
    // A dog registered in the future, and a dead dog dosed after its death.
    let (s, future) = send(&epi, Method::POST, "/api/dogs", &json!({"dog_tag": "Q-D1", "dog_kind": "herding", "registered_on": "2031-01-01", "village_code": VILLAGE})).await?;
    assert_eq!(s, 201, "{future}");
    let (s, dead) = send(&epi, Method::POST, "/api/dogs", &json!({"dog_tag": "Q-D2", "dog_kind": "herding", "registered_on": "2024-01-01", "status": "dead", "status_on": "2024-02-01", "village_code": VILLAGE})).await?;
    assert_eq!(s, 201, "{dead}");
    let (s, dose) = send(
        &epi,
        Method::POST,
        "/api/dewormings",
        &json!({"dog_tag": "Q-D2", "dosed_on": "2024-03-01"}),
    )
    .await?;
    assert_eq!(s, 201, "{dose}");
    // An ID number whose birth date disagrees with the record, and a likely duplicate person.
    let idn = id_number("65402219900101123");
    let (s, odd) = send(&epi, Method::POST, "/api/people", &json!({"name": "周九", "id_number": idn, "sex": "male", "birth_date": "1991-01-01", "village_code": VILLAGE})).await?;
    assert_eq!(s, 201, "{odd}");
    let (s, first) = send(&epi, Method::POST, "/api/people", &json!({"name": "吴十", "sex": "female", "birth_date": "1970-07-07", "village_code": VILLAGE})).await?;
    assert_eq!(s, 201, "{first}");
    // The API finds her again by name + birth date + village (409); a second row comes from an
    // older register loaded around the API.
    let (s, _) = send(&epi, Method::POST, "/api/people", &json!({"name": "吴十", "sex": "female", "birth_date": "1970-07-07", "village_code": VILLAGE})).await?;
    assert_eq!(s, 409);
    sqlx::query("INSERT INTO people (village_id, name, sex, birth_date, link_method) SELECT id, '吴十', 'female', '1970-07-07', 'code' FROM villages WHERE code = $1")
        .bind(VILLAGE)
        .execute(&app.db.pool)
        .await?;
    let q = epi.get_json("/api/quality?limit=5000", 200).await?;
    let items = q["items"].as_array().expect("items");
    let has = |check: &str, register: &str, id: i64| {
        items.iter().any(|i| {
            i["check"] == check
                && i["register"] == register
                && i["id"] == id
                && i["link"] == format!("/api/{register}/{id}")
        })
    };
    assert!(
        has(
            "swapped_lat_lon",
            "households",
            swapped["id"].as_i64().expect("id")
        ),
        "{q}"
    );
    assert!(has(
        "future_date",
        "dogs",
        future["id"].as_i64().expect("id")
    ));
    assert!(has(
        "dead_dog_dewormed",
        "dewormings",
        dose["id"].as_i64().expect("id")
    ));
    assert!(has(
        "id_number_mismatch",
        "people",
        odd["id"].as_i64().expect("id")
    ));
    assert!(
        items
            .iter()
            .any(|i| i["check"] == "duplicate_person" && i["village_code"] == VILLAGE)
    );
    let by_village = q["by_village"].as_array().expect("by_village");
    assert!(by_village.iter().any(|v| v["village_code"] == VILLAGE && v["counts"]["future_date"].as_i64() >= Some(1)));
    assert!(
        q["by_township"]
            .as_array()
            .expect("by_township")
            .iter()
            .any(|t| t["township_code"] == OWN_TOWNSHIP)
    );
    // A vet sees the animal checks only; a township user only their township.
    let vet = app.user(Role::Vet, "654022").await?;
    let qv = vet.get_json("/api/quality", 200).await?;
    assert!(
        !qv["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c == "duplicate_person")
    );
    let sibling = app.user(Role::TownshipStaff, "654022101").await?;
    let qs = sibling.get_json("/api/quality?limit=5000", 200).await?;
    let sibling_items = qs["items"].as_array().expect("items");
    assert!(
        !sibling_items.is_empty(),
        "the demo township 654022101 should have findings: {qs}"
    );
    assert!(
        sibling_items
            .iter()
            .all(|i| i["township_code"] == "654022101"
                && i["village_code"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("654022101"))),
        "{qs}"
    );
    let bad = epi.get("/api/quality?check=everything").await?;
    assert_eq!(bad.status().as_u16(), 400);
    Ok(())
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_the_docs_page_is_offline() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let doc = app.get_json("/api/openapi.json", 200).await?;
    assert_eq!(doc["openapi"], "3.1.0");
    for route in echinomap_server::http::routes() {
        let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} is not described",
            route.method,
            route.path
        );
        assert!(op["responses"].is_object());
    }
    let input = &doc["components"]["schemas"]["DewormingsInput"];
    assert_eq!(input["properties"]["dosed_on"]["format"], "date");
    assert!(
        input["required"]
            .as_array()
            .expect("required")
            .iter()
            .any(|r| r == "dog_tag")
    );
    let result = &doc["components"]["schemas"]["FaecalTestsInput"]["properties"]["result"]["enum"];
    assert_eq!(result, &json!(["positive", "negative", "inconclusive"]));
    let page = app.get("/api/docs").await?.text().await?;
    assert!(page.contains("/api/openapi.json"));
    for remote in ["http://", "https://", "//cdn", "fonts.googleapis"] {
        assert!(
            !page.contains(remote),
            "the docs page must not load {remote}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_multipart_upload_takes_the_format_from_the_file_name() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let boundary = "----echinomap-test-boundary";
    let csv = format!("犬牌号,犬只类型,登记日期,村代码\nMP-1,牧犬,2024-01-01,{VILLAGE}\n");
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"犬只登记.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let r = epi
        .request(Method::POST, "/api/imports?kind=dogs")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let report: Value = r.json().await?;
    assert_eq!(
        (report["inserted"].as_u64(), report["format"].as_str()),
        (Some(1), Some("csv")),
        "{report}"
    );
    let history = epi.get_json("/api/imports", 200).await?;
    assert_eq!(history["items"][0]["filename"], "犬只登记.csv");
    Ok(())
}

#[tokio::test]
async fn a_resent_offline_entry_with_its_client_id_creates_nothing() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let vd = app.user(Role::VillageDoctor, VILLAGE).await?;
    let village = vd
        .get_json(&format!("/api/villages/{VILLAGE}"), 200)
        .await?;
    // A sighting is a point (GPS of the phone).
    let entry = json!({"occurred_on": "2024-05-05", "n_dogs": 3, "action": "observed", "lon": village["lon"], "lat": village["lat"]});
    let send_once = || async {
        let r = vd
            .request(Method::POST, "/api/stray_dog_events")
            .header("Idempotency-Key", "device-7f3a-0001")
            .json(&entry)
            .send()
            .await?;
        let status = r.status().as_u16();
        let body: Value = r.json().await?;
        anyhow::Ok((status, body))
    };
    let (s1, first) = send_once().await?;
    let (s2, again) = send_once().await?;
    assert_eq!((s1, s2), (201, 200), "{first} {again}");
    assert_eq!(first["id"], again["id"]);
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stray_dog_events WHERE occurred_on = '2024-05-05' AND n_dogs = 3",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(n, 1);
    Ok(())
}
