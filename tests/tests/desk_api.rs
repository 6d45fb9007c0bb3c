//! The desk's API over the demo data: the register declaration the forms and lists are drawn
//! from (`GET /api/registers`), sorted and paged lists, a list as a file (masked, audited, only
//! for roles that take data away), a case named by its id inside the jurisdiction only, and the
//! monthly deworming round of a village of 130 and more dogs.

use echinomap_programme::auth::Role;
use echinomap_programme::records::spec::{SPECS, Ty};
use echinomap_tests::{ApiClient, Result, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const COUNTY: &str = "654022";
const OWN_TOWNSHIP: &str = "654022100";
const SIBLING_TOWNSHIP: &str = "654022101";
const VILLAGE: &str = "654022100200";

async fn send(c: &ApiClient, method: Method, path: &str, body: &Value) -> Result<(u16, Value)> {
    let r = c.request(method, path).json(body).send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

async fn bytes(c: &ApiClient, path: &str) -> Result<(u16, Vec<u8>)> {
    let r = c.get(path).await?;
    let status = r.status().as_u16();
    Ok((status, r.bytes().await?.to_vec()))
}

fn register<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema["items"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
}

fn field<'a>(register: &'a Value, name: &str) -> &'a Value {
    register["fields"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["name"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn the_register_schema_declares_every_field_of_every_register_the_caller_may_read()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let schema = epi.get_json("/api/registers", 200).await?;
    // The stock ledger is no desk register: it is read and written at `/api/stock/*`.
    for spec in SPECS.iter().filter(|s| s.generic_api) {
        let r = register(&schema, spec.name)
            .unwrap_or_else(|| panic!("the epidemiologist reads {}", spec.name));
        assert_eq!(r["name_zh"], spec.name_zh);
        assert_eq!(r["may_write"], true, "{}", spec.name);
        let fields = r["fields"].as_array().expect("fields");
        assert_eq!(fields.len(), spec.fields.len(), "{}", spec.name);
        for (f, declared) in fields.iter().zip(spec.fields) {
            assert_eq!(f["name"], declared.name);
            assert_eq!(
                f["required"], declared.required,
                "{}.{}",
                spec.name, declared.name
            );
            let label = f["label_zh"].as_str().unwrap_or_default();
            assert!(
                label
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{}.{}: {label:?}",
                spec.name,
                declared.name
            );
            assert!(f["label_en"].as_str().is_some_and(|l| !l.is_empty()));
            let ty = f["type"].as_str().unwrap_or_default();
            match declared.ty {
                Ty::Enum(e) => {
                    assert_eq!(ty, "enum");
                    let values: Vec<&str> = f["options"]
                        .as_array()
                        .expect("options")
                        .iter()
                        .map(|o| {
                            assert!(o["zh"].as_str().is_some_and(|z| !z.is_empty()));
                            o["value"].as_str().unwrap_or_default()
                        })
                        .collect();
                    assert_eq!(values, e.labels().collect::<Vec<_>>());
                }
                Ty::Int { min, max } => {
                    assert_eq!(ty, "int");
                    assert_eq!(f["min"].as_f64(), Some(min as f64));
                    assert_eq!(f["max"].as_f64(), Some(max as f64));
                }
                Ty::Date => assert_eq!(ty, "date"),
                _ => assert!(f["options"].is_null()),
            }
        }
        assert!(
            !r["list_columns"]
                .as_array()
                .expect("list_columns")
                .is_empty(),
            "{}",
            spec.name
        );
    }
    let dogs = register(&schema, "dogs").expect("dogs");
    assert_eq!(field(dogs, "dog_kind")["column"], "kind");
    assert_eq!(field(dogs, "dog_kind")["label_zh"], "犬类型");
    let sex = &field(dogs, "sex")["options"];
    assert_eq!(sex[0], json!({"value": "male", "zh": "公", "en": "Male"}));
    let people = register(&schema, "people").expect("people");
    assert_eq!(field(people, "sex")["options"][0]["zh"], "男");
    let dewormings = register(&schema, "dewormings").expect("dewormings");
    assert_eq!(
        field(dewormings, "dog_tag")["picker"],
        json!({"register": "dogs", "key": "dog_tag"})
    );
    assert_eq!(field(dewormings, "dog_tag")["column"], "dog_tag");
    assert_eq!(field(dogs, "dog_tag")["picker"], Value::Null);
    let followups = register(&schema, "followups").expect("followups");
    assert_eq!(
        field(followups, "case_id")["picker"],
        json!({"register": "cases", "key": "id"})
    );
    assert_eq!(field(followups, "case_id")["type"], "int");
    let inspections = register(&schema, "slaughter_inspections").expect("inspections");
    assert_eq!(
        field(inspections, "point_code")["picker"]["register"],
        "slaughter_points"
    );
    let cases = register(&schema, "cases").expect("cases");
    assert_eq!(field(cases, "id_number")["person"], true);
    assert_eq!(field(cases, "reported_on")["person"], false);

    // A vet reads the animal registers only, without owners; a township account writes no
    // register of the whole county.
    let vet = app.user(Role::Vet, OWN_TOWNSHIP).await?;
    let schema = vet.get_json("/api/registers", 200).await?;
    assert!(register(&schema, "people").is_none() && register(&schema, "cases").is_none());
    let dogs = register(&schema, "dogs").expect("the vet reads dogs");
    assert!(
        !dogs["list_columns"]
            .as_array()
            .expect("columns")
            .iter()
            .any(|c| c["key"] == "owner"),
        "{dogs}"
    );
    assert_eq!(
        register(&schema, "stock_items").expect("stock")["may_write"],
        false
    );
    assert_eq!(register(&schema, "dogs").expect("dogs")["may_write"], true);
    let viewer = app.user(Role::Viewer, COUNTY).await?;
    let schema = viewer.get_json("/api/registers", 200).await?;
    assert_eq!(schema["items"], json!([]));
    Ok(())
}

/// The dates of a page's `key`, as they come.
fn column(page: &Value, key: &str) -> Vec<Option<String>> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r[key].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn lists_sort_by_their_columns_both_ways_and_page_by_offset() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let base = format!("/api/dogs?village={VILLAGE}&limit=20");
    let page1 = epi
        .get_json(
            &format!("{base}&sort=registered_on&order=desc&count=true"),
            200,
        )
        .await?;
    let dates = column(&page1, "registered_on");
    assert_eq!(dates.len(), 20, "{page1}");
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    let total = page1["total"].as_i64().expect("total");
    let in_db: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE v.code = $1 AND d.deleted_at IS NULL",
    )
    .bind(VILLAGE)
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(total, in_db);
    assert_eq!(page1["next_offset"], 20);
    assert_eq!(
        page1["next_cursor"],
        Value::Null,
        "a sorted list pages by offset"
    );
    let page2 = epi
        .get_json(
            &format!("{base}&sort=registered_on&order=desc&offset=20"),
            200,
        )
        .await?;
    let next = column(&page2, "registered_on");
    assert!(next.first() <= dates.last(), "{next:?} after {dates:?}");
    let ids = |p: &Value| -> Vec<i64> {
        p["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_i64())
            .collect()
    };
    assert!(ids(&page2).iter().all(|id| !ids(&page1).contains(id)));

    // The latest dose, ascending with the never-dosed last; the owner for case-row roles only.
    let dosed = epi
        .get_json(&format!("{base}&sort=last_dosed_on&order=asc"), 200)
        .await?;
    let last = column(&dosed, "last_dosed_on");
    let known: Vec<&String> = last.iter().flatten().collect();
    assert!(known.windows(2).all(|w| w[0] <= w[1]), "{last:?}");
    assert!(dosed["items"][0]["owner"].is_string(), "{dosed}");
    let by_kind = epi.get_json(&format!("{base}&sort=kind"), 200).await?;
    let kinds = column(&by_kind, "kind");
    assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
    let vet = app.user(Role::Vet, OWN_TOWNSHIP).await?;
    let page = vet.get_json(&format!("{base}&sort=tag"), 200).await?;
    assert!(page["items"][0].get("owner").is_none(), "{page}");
    assert!(page["items"][0]["tag"].is_string());
    for (who, bad) in [
        (&vet, "sort=owner"),
        (&epi, "sort=nonsense"),
        (&epi, "order=up"),
        (&epi, "sort=tag&cursor=5"),
    ] {
        let e = who.get_json(&format!("{base}&{bad}"), 400).await?;
        assert_eq!(e["error"]["code"], "invalid_parameter", "{bad}: {e}");
    }
    // The unsorted list still pages by cursor.
    let page = epi.get_json(&base, 200).await?;
    assert!(page["next_cursor"].is_i64(), "{page}");
    Ok(())
}

#[tokio::test]
async fn a_list_export_is_masked_audited_formula_safe_and_only_for_roles_that_take_data_away()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    // People of one village: the ID numbers masked, the age instead of the birth date.
    let (status, csv) = bytes(
        &epi,
        &format!("/api/registers/people/export?format=csv&village={VILLAGE}"),
    )
    .await?;
    assert_eq!(status, 200);
    let text = String::from_utf8(csv)?;
    assert!(text.starts_with('\u{feff}'), "UTF-8 with a BOM");
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    for h in ["姓名", "身份证号", "年龄", "性别"] {
        assert!(headers.iter().any(|x| x == h), "{h} in {headers:?}");
    }
    assert!(!headers.iter().any(|x| x == "出生日期"), "{headers:?}");
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let numbers: Vec<String> = sqlx::query_scalar(
        "SELECT p.id_number::text FROM people p JOIN villages v ON v.id = p.village_id
         WHERE v.code = $1 AND p.deleted_at IS NULL AND p.id_number IS NOT NULL",
    )
    .bind(VILLAGE)
    .fetch_all(&app.db.pool)
    .await?;
    assert!(
        !numbers.is_empty(),
        "the demo village has people with ID numbers"
    );
    assert!(rows.len() >= numbers.len());
    for n in &numbers {
        assert!(
            !text.contains(n.as_str()),
            "a whole ID number in the export"
        );
    }
    let id_col = headers
        .iter()
        .position(|h| h == "身份证号")
        .expect("column");
    assert!(
        rows.iter()
            .filter(|r| !r[id_col].is_empty())
            .all(|r| r[id_col].contains('*')),
        "masked"
    );
    // Enumerations in words.
    let sex_col = headers.iter().position(|h| h == "性别").expect("column");
    assert!(
        rows.iter()
            .all(|r| ["男", "女", "不详"].contains(&&r[sex_col]))
    );
    let audited: Value = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'export' AND table_name = 'people'
           AND username = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(&epi.username)
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(audited["rows"], rows.len(), "{audited}");
    assert_eq!(audited["filters"]["village"], VILLAGE);
    assert_eq!(audited["ids"].as_array().map(Vec::len), Some(rows.len()));

    // A formula typed into a record stays text in both files.
    let (status, dog) = send(
        &epi,
        Method::POST,
        "/api/dogs",
        &json!({"dog_tag": "DESK-F1", "collar_id": "=HYPERLINK(\"http://x\")", "dog_kind": "牧犬",
                "registered_on": "2026-01-05", "village_code": VILLAGE}),
    )
    .await?;
    assert_eq!(status, 201, "{dog}");
    let (status, csv) = bytes(&epi, "/api/registers/dogs/export?format=csv&q=DESK-F").await?;
    assert_eq!(status, 200);
    let text = String::from_utf8(csv)?;
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(text.contains("牧犬") && text.contains("犬牌号"), "{text}");
    let (status, xlsx) = bytes(&epi, "/api/registers/dogs/export?format=xlsx&q=DESK-F").await?;
    assert_eq!(status, 200);
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(xlsx))?;
    use calamine::Reader as _;
    let sheet = wb.worksheet_range("犬只")?;
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(echinomap_tests::read::cell_text).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].iter().any(|h| h == "犬主"),
        "the epidemiologist sees owners"
    );
    assert!(
        rows[1].iter().any(|c| c == "=HYPERLINK(\"http://x\")"),
        "{rows:?}"
    );
    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'export' AND table_name = 'dogs' AND username = $1",
    )
    .bind(&epi.username)
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(audits, 2);

    // Township staff work inside the service: no files. A planner takes data away but reads
    // no animal rows.
    let staff = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    for (who, path) in [
        (&staff, "/api/registers/dogs/export?format=csv"),
        (&planner, "/api/registers/dogs/export?format=csv"),
        (&planner, "/api/registers/people/export?format=xlsx"),
    ] {
        let e = who.get_json(path, 403).await?;
        assert_eq!(e["error"]["code"], "forbidden", "{e}");
    }
    let e = epi.get_json("/api/registers/nothing/export", 404).await?;
    assert!(e["error"]["code"].is_string());
    let e = epi
        .get_json("/api/registers/dogs/export?format=pdf", 400)
        .await?;
    assert_eq!(e["error"]["details"]["field"], "format");
    Ok(())
}

#[tokio::test]
async fn a_case_named_by_its_id_is_found_only_inside_the_writers_jurisdiction() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let case_in = |prefix: &'static str| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT c.id FROM cases c JOIN villages v ON v.id = c.village_id
                 WHERE v.code LIKE $1 || '%' AND c.deleted_at IS NULL ORDER BY c.id LIMIT 1",
            )
            .bind(prefix)
            .fetch_one(&pool)
            .await
        }
    };
    let own = case_in(OWN_TOWNSHIP).await?;
    let sibling = case_in(SIBLING_TOWNSHIP).await?;
    let staff = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    let (status, made) = send(
        &staff,
        Method::POST,
        "/api/followups",
        &json!({"case_id": own, "due_on": "2026-12-20"}),
    )
    .await?;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["case_id"], own);
    let (status, exam) = send(
        &staff,
        Method::POST,
        "/api/imaging_exams",
        &json!({"case_id": own, "examined_on": "2026-11-30", "ce_stage": "CE2"}),
    )
    .await?;
    assert_eq!(status, 201, "{exam}");
    assert_eq!(exam["case_id"], own);
    // Another township's case reads exactly like a case that does not exist.
    let attempt = |id: i64| json!({"case_id": id, "due_on": "2026-12-21"});
    let (status, outside) = send(&staff, Method::POST, "/api/followups", &attempt(sibling)).await?;
    assert_eq!(status, 422, "{outside}");
    let (status, unknown) = send(
        &staff,
        Method::POST,
        "/api/followups",
        &attempt(999_999_999),
    )
    .await?;
    assert_eq!(status, 422, "{unknown}");
    // Word for word, but for the id typed.
    let typed = |v: &Value, id: i64| {
        v.to_string()
            .replace(&format!("\\\"{id}\\\""), "\\\"ID\\\"")
            .replace(&format!("\"{id}\""), "\"ID\"")
    };
    assert_eq!(
        typed(&outside, sibling),
        typed(&unknown, 999_999_999),
        "outside must read like unknown"
    );
    let errors = outside["error"]["details"]["errors"]
        .as_array()
        .expect("errors");
    assert_eq!(errors.len(), 1, "{outside}");
    assert_eq!(errors[0]["field"], "case_id", "the form's field is named");
    let written: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM followups WHERE case_id = $1 AND due_on = '2026-12-21'",
    )
    .bind(sibling)
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(written, 0);
    // The county sees both.
    let epi = app.epi().await?;
    let (status, made) = send(
        &epi,
        Method::POST,
        "/api/treatments",
        &json!({"case_id": sibling, "kind": "阿苯达唑", "started_on": "2026-11-01", "dose_mg_per_kg": 15}),
    )
    .await?;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["case_id"], sibling);
    Ok(())
}

/// A village with at least `n` live dogs, and its township.
async fn village_with_dogs(app: &TestApp, n: i64) -> Result<(String, i64)> {
    let found: Option<(String, i64)> = sqlx::query_as(
        "SELECT v.code::text, count(*) FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE d.status = 'alive' AND d.deleted_at IS NULL
         GROUP BY v.code HAVING count(*) >= $1 ORDER BY count(*) DESC, v.code LIMIT 1",
    )
    .bind(n)
    .fetch_optional(&app.db.pool)
    .await?;
    found.ok_or_else(|| anyhow::anyhow!("the demo has no village with {n} live dogs"))
}

#[tokio::test]
async fn a_deworming_round_of_130_dogs_is_saved_in_one_request_all_or_nothing() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let (village, live) = village_with_dogs(&app, 130).await?;
    let township: &'static str = Box::leak(village[..9].to_owned().into_boxed_str());
    let staff = app.user(Role::TownshipStaff, township).await?;
    let path = format!("/api/dewormings/round?village={village}&month=2026-12");
    let before = staff.get_json(&path, 200).await?;
    assert_eq!(before["counts"]["dogs"], live, "{}", before["counts"]);
    assert_eq!(before["counts"]["dosed"], 0);
    let items = before["items"].as_array().expect("items");
    assert!(
        items
            .iter()
            .all(|d| d["owner"].is_string() || d["owner"].is_null())
    );
    assert!(
        items.iter().any(|d| d["owner"].is_string()),
        "owners for township staff"
    );
    let tags: Vec<&str> = items.iter().filter_map(|d| d["tag"].as_str()).collect();
    assert_eq!(tags.len() as i64, live);

    let body = |day: &str, tags: &[&str]| {
        json!({"village_code": village, "dosed_on": day, "drug": "吡喹酮", "method": "tablet",
               "batch": "B2026-11", "dose_mg": null, "given_by": "desk test", "dog_tags": tags})
    };
    let started = std::time::Instant::now();
    let (status, saved) = send(
        &staff,
        Method::POST,
        "/api/dewormings/round",
        &body("2026-12-03", &tags),
    )
    .await?;
    let took = started.elapsed();
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, json!({"created": live, "unchanged": 0}));
    eprintln!("a round of {live} dogs saved in {took:?}");
    let after = staff.get_json(&path, 200).await?;
    assert_eq!(after["counts"], json!({"dogs": live, "dosed": live}));
    assert!(
        after["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|d| d["dosed_in_month"] == true
                && d["dosed_on"] == "2026-12-03"
                && d["last_dosed_on"] == "2026-12-03")
    );
    // Every new record is audited with what it holds.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'create' AND table_name = 'dewormings' AND username = $1",
    )
    .bind(&staff.username)
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(audited, live);

    // Again: nothing changes, even with another batch.
    let mut again = body("2026-12-03", &tags);
    again["batch"] = json!("B-OTHER");
    let (status, saved) = send(&staff, Method::POST, "/api/dewormings/round", &again).await?;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, json!({"created": 0, "unchanged": live}));
    let other_batch: i64 =
        sqlx::query_scalar("SELECT count(*) FROM dewormings WHERE batch = 'B-OTHER'")
            .fetch_one(&app.db.pool)
            .await?;
    assert_eq!(other_batch, 0);

    // One unknown tag, or a dog of another township, refuses the whole round.
    let foreign: String = sqlx::query_scalar(
        "SELECT d.tag FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE v.code NOT LIKE $1 || '%' AND d.deleted_at IS NULL ORDER BY d.id LIMIT 1",
    )
    .bind(township)
    .fetch_one(&app.db.pool)
    .await?;
    // A dog of another village of the township: the round is the village's.
    let neighbour: String = sqlx::query_scalar(
        "SELECT d.tag FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE v.code LIKE $1 || '%' AND v.code <> $2 AND d.deleted_at IS NULL ORDER BY d.id LIMIT 1",
    )
    .bind(township)
    .bind(&village)
    .fetch_one(&app.db.pool)
    .await?;
    for bad in ["NO-SUCH-TAG", foreign.as_str(), neighbour.as_str()] {
        let mut ticked = tags.clone();
        ticked.insert(7, bad);
        let (status, refused) = send(
            &staff,
            Method::POST,
            "/api/dewormings/round",
            &body("2026-12-04", &ticked),
        )
        .await?;
        assert_eq!(status, 422, "{refused}");
        let errors = refused["error"]["details"]["errors"]
            .as_array()
            .expect("errors");
        assert_eq!(errors.len(), 1, "{refused}");
        assert_eq!(errors[0]["value"], bad, "{refused}");
        assert_eq!(errors[0]["field"], "dog_tag");
        let written: i64 =
            sqlx::query_scalar("SELECT count(*) FROM dewormings WHERE dosed_on = '2026-12-04'")
                .fetch_one(&app.db.pool)
                .await?;
        assert_eq!(written, 0, "nothing of a refused round is written");
    }
    // A deleted dog gets no dose, in a round or alone.
    sqlx::query("UPDATE dogs SET deleted_at = now() WHERE tag = $1")
        .bind(tags[0])
        .execute(&app.db.pool)
        .await?;
    let (status, refused) = send(
        &staff,
        Method::POST,
        "/api/dewormings/round",
        &body("2026-12-05", &tags[..3]),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["error"]["details"]["errors"][0]["code"], "reference_not_found",
        "{refused}"
    );
    let (status, refused) = send(
        &staff,
        Method::POST,
        "/api/dewormings",
        &json!({"dog_tag": tags[0], "dosed_on": "2026-12-05"}),
    )
    .await?;
    assert_eq!(status, 422, "a dose for a deleted dog: {refused}");
    // A tag two live dogs share (another township registered it before the county merged
    // them) is refused for the county's round: the dose would land on either.
    let sibling = app.user(Role::TownshipStaff, SIBLING_TOWNSHIP).await?;
    let sibling_village: String = sqlx::query_scalar(
        "SELECT code::text FROM villages WHERE code LIKE $1 || '%' ORDER BY code LIMIT 1",
    )
    .bind(SIBLING_TOWNSHIP)
    .fetch_one(&app.db.pool)
    .await?;
    let (status, created) = send(
        &sibling,
        Method::POST,
        "/api/dogs",
        &json!({"dog_tag": tags[1], "dog_kind": "herding", "registered_on": "2024-01-01",
                "village_code": sibling_village}),
    )
    .await?;
    assert_eq!(status, 201, "{created}");
    let epi = app.epi().await?;
    let (status, refused) = send(
        &epi,
        Method::POST,
        "/api/dewormings/round",
        &body("2026-12-06", &tags[1..3]),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["error"]["details"]["errors"][0]["code"], "reference_ambiguous",
        "{refused}"
    );
    // A value given once is refused once.
    let (status, refused) = send(
        &staff,
        Method::POST,
        "/api/dewormings/round",
        &json!({"village_code": village, "dosed_on": "not a date", "dog_tags": tags}),
    )
    .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["error"]["details"]["errors"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{refused}"
    );
    // Another township's village is unknown; a vet sees no owners.
    let other = app.user(Role::TownshipStaff, SIBLING_TOWNSHIP).await?;
    if !village.starts_with(SIBLING_TOWNSHIP) {
        let e = other.get_json(&path, 404).await?;
        assert_eq!(e["error"]["code"], "village_not_found");
    }
    let vet = app.user(Role::Vet, township).await?;
    let seen = vet.get_json(&path, 200).await?;
    assert!(
        seen["items"][0].get("owner").is_none(),
        "{}",
        seen["items"][0]
    );
    let e = vet
        .get_json(
            &format!("/api/dewormings/round?village={village}&month=2026-13"),
            400,
        )
        .await?;
    assert_eq!(e["error"]["details"]["field"], "month");
    Ok(())
}

#[tokio::test]
async fn what_a_list_hides_it_neither_searches_nor_sorts_and_the_case_list_finds_a_person()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    // A household head's name: a vet's search does not match it (it is hidden from vets), a
    // case role's does.
    let (head, number): (String, String) = sqlx::query_as(
        "SELECT h.head_name, h.household_no FROM households h JOIN villages v ON v.id = h.village_id
         WHERE v.code LIKE $1 || '%' AND h.deleted_at IS NULL ORDER BY h.id LIMIT 1",
    )
    .bind(COUNTY)
    .fetch_one(&app.db.pool)
    .await?;
    let q: String = head.chars().take(2).collect();
    let path = format!("/api/households?q={}&limit=500", urlencode(&q));
    let vet = app.user(Role::Vet, COUNTY).await?;
    let seen = vet.get_json(&path, 200).await?;
    assert!(
        seen["items"].as_array().expect("items").is_empty(),
        "a vet finds households by their head's name: {seen}"
    );
    let epi = app.epi().await?;
    let seen = epi.get_json(&path, 200).await?;
    assert!(
        seen["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|h| h["household_no"] == number.as_str()),
        "{seen}"
    );
    // A `%` or `_` typed is itself, not a wildcard.
    let all = epi.get_json("/api/households?q=%25&limit=5", 200).await?;
    assert!(all["items"].as_array().expect("items").is_empty(), "{all}");
    // A masked identifier is no sort key (its order would tell the hidden digits).
    for key in ["id_number", "phone"] {
        let (status, _) = send(
            &epi,
            Method::GET,
            &format!("/api/people?sort={key}"),
            &Value::Null,
        )
        .await?;
        assert_eq!(status, 400, "people sorted by {key}");
    }
    // The line list of one person, and by a prefix of the name.
    let (person, name): (i64, String) = sqlx::query_as(
        "SELECT p.id, p.name FROM cases c JOIN people p ON p.id = c.person_id
         WHERE c.deleted_at IS NULL GROUP BY p.id, p.name ORDER BY count(*) DESC, p.id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await?;
    let cases: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cases WHERE person_id = $1 AND deleted_at IS NULL",
    )
    .bind(person)
    .fetch_one(&app.db.pool)
    .await?;
    let page = epi
        .get_json(&format!("/api/cases?person_id={person}"), 200)
        .await?;
    assert_eq!(page["total"], cases, "{page}");
    assert!(
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|c| c["person"]["id"] == person)
    );
    let first: String = name.chars().take(1).collect();
    let page = epi
        .get_json(
            &format!("/api/cases?q={}&limit=500", urlencode(&first)),
            200,
        )
        .await?;
    let items = page["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|c| c["person"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(&first))),
        "{page}"
    );
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn an_edit_of_one_field_is_checked_with_the_stored_values_of_the_others() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    // A visit made: its outcome corrected alone keeps its visit date, so the rule that a
    // visit and its outcome go together holds.
    let id: i64 = sqlx::query_scalar(
        "SELECT id FROM followups WHERE visited_on IS NOT NULL AND outcome IS NOT NULL
           AND deleted_at IS NULL AND outcome <> 'improved' ORDER BY id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await?;
    let (status, body) = send(
        &epi,
        Method::PATCH,
        &format!("/api/followups/{id}"),
        &json!({ "outcome": "improved" }),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let outcome: String = sqlx::query_scalar("SELECT outcome::text FROM followups WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(outcome, "improved");
    // A planned visit not yet made: an outcome alone breaks the rule, with the stored (empty)
    // visit date.
    let planned: i64 = sqlx::query_scalar(
        "SELECT id FROM followups WHERE visited_on IS NULL AND deleted_at IS NULL ORDER BY id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await?;
    let (status, body) = send(
        &epi,
        Method::PATCH,
        &format!("/api/followups/{planned}"),
        &json!({ "outcome": "stable" }),
    )
    .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["details"]["errors"][0]["code"], "together",
        "{body}"
    );
    // A case's status changed alone: the patient's sex and birth date are the person's.
    let case: i64 =
        sqlx::query_scalar("SELECT id FROM cases WHERE deleted_at IS NULL ORDER BY id LIMIT 1")
            .fetch_one(&app.db.pool)
            .await?;
    let (status, body) = send(
        &epi,
        Method::PATCH,
        &format!("/api/cases/{case}"),
        &json!({ "status": "cured" }),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}
