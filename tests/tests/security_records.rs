//! Issue 17, items 1–4 and 7: what a hostile insider can learn or change through the registers.
//! A masked ID number cannot be rebuilt from any list; a record outside the jurisdiction reads
//! exactly like an unknown one in writes, imports and conflicts (a repeated ID number elsewhere
//! becomes a possible duplicate for the county); county-wide registers are written by the county
//! only; every reference a write resolves lies inside the writer's jurisdiction; every write is
//! audited with what it changed.

use echinomap_domain::IdNumber;
use echinomap_programme::auth::Role;
use echinomap_tests::{ApiClient, Result, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const OWN_TOWNSHIP: &str = "654022100";
const OTHER_TOWNSHIP: &str = "654022101";

async fn send(c: &ApiClient, method: Method, path: &str, body: &Value) -> Result<(u16, Value)> {
    let res = c.request(method, path).json(body).send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The error of an answer with every occurrence of `value` replaced, to compare two answers
/// that differ only in the key they were asked about.
fn shape(status: u16, body: &Value, value: &str) -> String {
    format!(
        "{status} {}",
        body["error"].to_string().replace(value, "<KEY>")
    )
}

async fn scalar(app: &TestApp, sql: &str) -> Result<String> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.db.pool)
        .await?)
}

/// A valid ID number that nobody in the demo has.
fn fresh_id_number(seq: u32) -> String {
    let first17 = format!("654022199001{:03}{:02}", 200 + seq % 700, seq % 100);
    let first17 = &first17[..17];
    format!("{first17}{}", IdNumber::check_character(first17))
}

/// Every ID number consistent with what a list row shows: the visible first six and last four
/// characters of the mask, and every date the row gives (as a birth date) or the age it gives.
fn candidates(masked: &str, row: &Value, today: chrono::NaiveDate) -> Vec<String> {
    let (head, tail) = (&masked[..6], &masked[14..]);
    let mut dates: Vec<chrono::NaiveDate> = Vec::new();
    let mut ages: Vec<i64> = Vec::new();
    fn walk(v: &Value, dates: &mut Vec<chrono::NaiveDate>, ages: &mut Vec<i64>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "age" {
                        ages.extend(x.as_i64());
                    }
                    walk(x, dates, ages);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, dates, ages)),
            Value::String(s) => dates.extend(
                s.get(..10)
                    .and_then(|d| d.parse::<chrono::NaiveDate>().ok()),
            ),
            _ => {}
        }
    }
    walk(row, &mut dates, &mut ages);
    let mut born: Vec<chrono::NaiveDate> = dates;
    for age in ages {
        // Everyone of that age today: born in the 366 days before their birthday.
        let mut d = today - chrono::Duration::days(366 * (age + 1) + 1);
        let until = today - chrono::Duration::days(365 * age - 1);
        while d <= until.min(today) {
            if echinomap_domain::privacy::age_years(d, today) as i64 == age {
                born.push(d);
            }
            d += chrono::Duration::days(1);
        }
    }
    born.sort();
    born.dedup();
    born.iter()
        .map(|d| format!("{head}{}{tail}", d.format("%Y%m%d")))
        .filter(|id| IdNumber::parse(id).is_ok())
        .collect()
}

#[tokio::test]
async fn no_list_a_role_reads_rebuilds_a_masked_id_number() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let today = chrono::Utc::now().date_naive();
    let mut rows_checked = 0;
    let real: std::collections::HashSet<String> =
        sqlx::query_scalar("SELECT id_number::text FROM people WHERE id_number IS NOT NULL")
            .fetch_all(&app.db.pool)
            .await?
            .into_iter()
            .collect();
    for (role, area) in [
        (Role::TownshipStaff, OWN_TOWNSHIP),
        (Role::VillageDoctor, "654022100200"),
        (Role::Epidemiologist, "654022"),
    ] {
        let c = app.user(role, area).await?;
        for path in [
            "/api/people?limit=500",
            "/api/cases?limit=500",
            "/api/worklists/followups",
        ] {
            let body = c.get_json(path, 200).await?;
            let text = body.to_string();
            for run in text.split(|ch: char| !(ch.is_ascii_digit() || ch == 'X')) {
                assert!(!real.contains(run), "{path}: a whole ID number in a list");
            }
            let items = body["items"].as_array().cloned().unwrap_or_default();
            for row in items {
                let row_text = row.to_string();
                let Some(start) = row_text.find("********") else {
                    continue;
                };
                let masked = &row_text[start - 6..start + 12];
                let found = candidates(masked, &row, today);
                rows_checked += 1;
                assert!(
                    found.len() > 1,
                    "{path} as {role:?}: the row rebuilds its ID number ({} candidate): {row_text}",
                    found.len()
                );
            }
        }
    }
    assert!(
        rows_checked > 50,
        "only {rows_checked} rows with masked ID numbers were checked"
    );
    eprintln!("figures: {rows_checked} list rows with a masked ID number, 0 rebuilt");
    Ok(())
}

#[tokio::test]
async fn outside_the_jurisdiction_reads_exactly_like_unknown() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let ts = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    let doctor = app.user(Role::VillageDoctor, "654022100200").await?;
    let (their_dog_id, their_tag): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.tag FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE v.township_code = '{OTHER_TOWNSHIP}' AND d.deleted_at IS NULL ORDER BY d.id LIMIT 1"
    )))
    .fetch_one(&app.db.pool)
    .await?;
    let (own_dog_id, own_household): (i64, Option<i64>) = sqlx::query_as(
        "SELECT d.id, d.household_id FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE v.code = '654022100200' AND d.deleted_at IS NULL ORDER BY d.id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await?;
    let their_household = scalar(
        &app,
        &format!(
            "SELECT h.household_no FROM households h JOIN villages v ON v.id = h.village_id
             WHERE v.township_code = '{OTHER_TOWNSHIP}' ORDER BY h.id LIMIT 1"
        ),
    )
    .await?;
    let mut compared = 0;

    // A deworming naming another township's dog, and a dog nobody has.
    for who in [&ts, &doctor] {
        let body =
            |tag: &str| json!({"dog_tag": tag, "dosed_on": "2026-11-15", "drug": "praziquantel"});
        let (s1, b1) = send(who, Method::POST, "/api/dewormings", &body(&their_tag)).await?;
        let (s2, b2) = send(who, Method::POST, "/api/dewormings", &body("NO-SUCH-TAG-1")).await?;
        assert!(
            s1 >= 400,
            "a deworming of another township's dog was written: {b1}"
        );
        assert_eq!(shape(s1, &b1, &their_tag), shape(s2, &b2, "NO-SUCH-TAG-1"));
        compared += 2;
    }
    // Changing, deleting another township's dog, and an id nobody has.
    let unknown = 900_000_000_i64;
    for method in [Method::PATCH, Method::DELETE, Method::GET] {
        let b = json!({"status_on": "2026-11-01"});
        let (s1, b1) = send(
            &ts,
            method.clone(),
            &format!("/api/dogs/{their_dog_id}"),
            &b,
        )
        .await?;
        let (s2, b2) = send(&ts, method.clone(), &format!("/api/dogs/{unknown}"), &b).await?;
        assert!(s1 >= 400, "{method} on another township's dog: {s1} {b1}");
        assert_eq!(
            shape(s1, &b1, &their_dog_id.to_string()),
            shape(s2, &b2, &unknown.to_string()),
            "{method}"
        );
        compared += 2;
    }
    // Moving one's own dog to another township's household.
    let (s1, b1) = send(
        &ts,
        Method::PATCH,
        &format!("/api/dogs/{own_dog_id}"),
        &json!({"household_no": their_household}),
    )
    .await?;
    let (s2, b2) = send(
        &ts,
        Method::PATCH,
        &format!("/api/dogs/{own_dog_id}"),
        &json!({"household_no": "NO-SUCH-HH"}),
    )
    .await?;
    assert!(
        s1 >= 400,
        "the dog moved to another township's household: {b1}"
    );
    assert_eq!(
        shape(s1, &b1, &their_household),
        shape(s2, &b2, "NO-SUCH-HH")
    );
    let household_now: Option<i64> =
        sqlx::query_scalar("SELECT household_id FROM dogs WHERE id = $1")
            .bind(own_dog_id)
            .fetch_one(&app.db.pool)
            .await?;
    assert_eq!(household_now, own_household);
    compared += 2;

    // A new dog with another township's tag: accepted like a new tag, and queued for the county.
    let dog = |tag: &str| json!({"dog_tag": tag, "dog_kind": "herding", "registered_on": "2026-11-01", "village_code": "654022100200"});
    let (s1, b1) = send(&ts, Method::POST, "/api/dogs", &dog(&their_tag)).await?;
    let (s2, b2) = send(&ts, Method::POST, "/api/dogs", &dog("NEW-TAG-17")).await?;
    assert_eq!((s1, s2), (201, 201), "{b1} {b2}");
    let strip = |b: &Value| {
        let mut b = b.clone();
        for k in ["id", "dog_tag", "tag", "created_at", "updated_at"] {
            b.as_object_mut().map(|m| m.remove(k));
        }
        b
    };
    assert_eq!(
        strip(&b1),
        strip(&b2),
        "the two answers differ beyond id and tag"
    );
    compared += 2;

    // A person whose ID number a person of another township has: accepted the same way.
    let (their_id_number, their_person): (String, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.id_number::text, p.id FROM people p JOIN villages v ON v.id = p.village_id
         WHERE v.township_code = '{OTHER_TOWNSHIP}' AND p.id_number IS NOT NULL ORDER BY p.id LIMIT 1"
    )))
    .fetch_one(&app.db.pool)
    .await?;
    let born = IdNumber::parse(&their_id_number)?
        .birth_date()
        .expect("birth date");
    let person = |idn: &str, born: chrono::NaiveDate| json!({"name": "测试人", "id_number": idn, "sex": "male", "birth_date": born, "village_code": "654022100200"});
    let fresh = fresh_id_number(17);
    let fresh_born = IdNumber::parse(&fresh)?.birth_date().expect("birth date");
    let (s1, b1) = send(
        &ts,
        Method::POST,
        "/api/people",
        &person(&their_id_number, born),
    )
    .await?;
    let (s2, b2) = send(
        &ts,
        Method::POST,
        "/api/people",
        &person(&fresh, fresh_born),
    )
    .await?;
    assert_eq!((s1, s2), (201, 201), "{b1} {b2}");
    compared += 2;
    let new_person = b1["id"].as_i64().expect("id");

    // The same through an import: a row naming another township's dog reads like an unknown dog.
    // (another of their dogs: the first one's tag is now also a dog of ours, registered above)
    let their_tag = scalar(
        &app,
        &format!(
            "SELECT d.tag FROM dogs d JOIN villages v ON v.id = d.village_id
             WHERE v.township_code = '{OTHER_TOWNSHIP}' AND d.tag <> '{their_tag}' ORDER BY d.id LIMIT 1"
        ),
    )
    .await?;
    let csv = format!(
        "dog_tag,dosed_on,drug\n{their_tag},2026-11-16,praziquantel\nNO-SUCH-TAG-2,2026-11-16,praziquantel\n"
    );
    let res = ts
        .request(Method::POST, "/api/imports?kind=dewormings&format=csv")
        .body(csv)
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 422);
    let body: Value = res.json().await?;
    let errors = body["error"]["details"]["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let at = |row: u64| {
        errors
            .iter()
            .find(|e| e["row"] == row)
            .cloned()
            .unwrap_or_else(|| panic!("no error on row {row}: {body}"))
    };
    assert_eq!(
        at(2).to_string().replace(&their_tag, "<KEY>"),
        at(3)
            .to_string()
            .replace("NO-SUCH-TAG-2", "<KEY>")
            .replace("\"row\":3", "\"row\":2"),
        "{body}"
    );
    compared += 2;

    // The county sees both pairs, and merges the person: nothing of the other township changes
    // but the duplicate disappears.
    let epi = app.epi().await?;
    let dups = epi.get_json("/api/duplicates", 200).await?;
    let items = dups["items"].as_array().cloned().unwrap_or_default();
    let pair = items
        .iter()
        .find(|p| p["register"] == "people" && p["record"]["id"] == new_person)
        .unwrap_or_else(|| panic!("the repeated ID number is not queued: {dups}"));
    assert_eq!(pair["other"]["id"], their_person);
    assert!(items.iter().any(|p| p["register"] == "dogs"), "{dups}");
    let (s, _) = send(&ts, Method::GET, "/api/duplicates", &Value::Null).await?;
    assert_eq!(s, 200);
    let ts_view = ts.get_json("/api/duplicates", 200).await?;
    assert_eq!(ts_view["items"], json!([]), "township staff review nothing");
    let id = pair["id"].as_i64().expect("pair id");
    let (s, merged) = send(
        &epi,
        Method::POST,
        &format!("/api/duplicates/{id}/merge"),
        &json!({"keep": their_person}),
    )
    .await?;
    assert_eq!(s, 200, "{merged}");
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM people WHERE id = $1 AND deleted_at IS NULL")
            .bind(new_person)
            .fetch_one(&app.db.pool)
            .await?;
    assert_eq!(live, 0, "the merged person is still live");
    assert!(compared >= 16);
    eprintln!(
        "figures: {compared} answers about records outside the jurisdiction compared with unknown ones, 0 differ"
    );
    Ok(())
}

#[tokio::test]
async fn county_registers_are_written_by_the_county_only() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let campaign: i64 =
        sqlx::query_scalar("SELECT id FROM vaccination_campaigns ORDER BY id LIMIT 1")
            .fetch_one(&app.db.pool)
            .await?;
    let item: i64 = sqlx::query_scalar("SELECT id FROM stock_items ORDER BY id LIMIT 1")
        .fetch_one(&app.db.pool)
        .await?;
    for (role, area) in [
        (Role::VillageDoctor, "654022100200"),
        (Role::TownshipStaff, OWN_TOWNSHIP),
        (Role::Vet, OWN_TOWNSHIP),
    ] {
        let c = app.user(role, area).await?;
        for (method, path, body) in [
            (
                Method::PATCH,
                format!("/api/vaccination_campaigns/{campaign}"),
                json!({"vaccine": "x"}),
            ),
            (
                Method::DELETE,
                format!("/api/vaccination_campaigns/{campaign}"),
                Value::Null,
            ),
            (
                Method::POST,
                "/api/vaccination_campaigns".to_owned(),
                json!({"name": "X", "year": 2026, "starts_on": "2026-01-01"}),
            ),
            (
                Method::PATCH,
                format!("/api/stock_items/{item}"),
                json!({"item_name": "x"}),
            ),
            (
                Method::DELETE,
                format!("/api/stock_items/{item}"),
                Value::Null,
            ),
        ] {
            let (s, b) = send(&c, method.clone(), &path, &body).await?;
            assert_eq!(s, 403, "{role:?} {method} {path}: {b}");
        }
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_items WHERE id = $1")
        .bind(item)
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(n, 1);
    let epi = app.epi().await?;
    let (s, b) = send(
        &epi,
        Method::DELETE,
        &format!("/api/stock_items/{item}"),
        &Value::Null,
    )
    .await?;
    assert!(
        s == 204 || s == 409,
        "the county deletes a stock item: {s} {b}"
    );
    Ok(())
}

#[tokio::test]
async fn every_write_is_audited_with_what_it_changed_and_vets_see_no_household_heads() -> Result<()>
{
    let app = TestApp::with_demo().await?;
    let ts = app.user(Role::TownshipStaff, OWN_TOWNSHIP).await?;
    let (dog_id, status): (i64, String) = sqlx::query_as(
        "SELECT d.id, d.status::text FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE v.code = '654022100200' AND d.status = 'alive' AND d.deleted_at IS NULL ORDER BY d.id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await?;
    let (s, b) = send(
        &ts,
        Method::PATCH,
        &format!("/api/dogs/{dog_id}"),
        &json!({"status": "dead", "status_on": "2026-11-20"}),
    )
    .await?;
    assert_eq!(s, 200, "{b}");
    let (before, after): (Option<Value>, Option<Value>) = sqlx::query_as(
        "SELECT before, after FROM audit_log WHERE action = 'update' AND table_name = 'dogs' AND row_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(dog_id.to_string())
    .fetch_one(&app.db.pool)
    .await?;
    let (before, after) = (before.unwrap_or_default(), after.unwrap_or_default());
    assert_eq!(before["status"], status, "{before}");
    assert_eq!(after["status"], "dead", "{after}");
    assert_eq!(after["status_on"], "2026-11-20", "{after}");
    assert!(
        after.get("tag").is_none(),
        "unchanged fields are not repeated: {after}"
    );
    // A create keeps what was written, a delete what was deleted.
    let (s, dog) = send(&ts, Method::POST, "/api/dogs", &json!({"dog_tag": "AUDIT-1", "dog_kind": "herding", "registered_on": "2026-11-01", "village_code": "654022100200"})).await?;
    assert_eq!(s, 201, "{dog}");
    let id = dog["id"].as_i64().expect("id");
    let (s, _) = send(
        &ts,
        Method::DELETE,
        &format!("/api/dogs/{id}"),
        &Value::Null,
    )
    .await?;
    assert_eq!(s, 204);
    let kept: Vec<(String, Option<Value>, Option<Value>)> = sqlx::query_as(
        "SELECT action::text, before, after FROM audit_log WHERE table_name = 'dogs' AND row_id = $1 ORDER BY id",
    )
    .bind(id.to_string())
    .fetch_all(&app.db.pool)
    .await?;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0].0, "create");
    assert_eq!(
        kept[0].2.as_ref().map(|a| a["tag"].clone()),
        Some(json!("AUDIT-1"))
    );
    assert_eq!(kept[1].0, "delete");
    assert_eq!(
        kept[1].1.as_ref().map(|a| a["dog_tag"].clone()),
        Some(json!("AUDIT-1"))
    );
    // A list that shows people by name is audited with the ids it showed.
    let people = ts.get_json("/api/people?limit=5", 200).await?;
    let listed: Option<Value> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'list' AND table_name = 'people' ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&app.db.pool)
    .await?
    .flatten();
    let ids: Vec<Value> = people["items"]
        .as_array()
        .map(|a| a.iter().map(|r| r["id"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(listed.map(|d| d["ids"].clone()), Some(json!(ids)));
    // The vet: households without heads' names, addresses or positions.
    let vet = app.user(Role::Vet, OWN_TOWNSHIP).await?;
    let households = vet.get_json("/api/households?limit=50", 200).await?;
    let rows = households["items"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty());
    for r in &rows {
        for k in ["head_name", "address", "lon", "lat"] {
            assert!(r.get(k).is_none(), "the vet reads {k}: {r}");
        }
    }
    let one = vet
        .get_json(&format!("/api/households/{}", rows[0]["id"]), 200)
        .await?;
    assert!(one.get("head_name").is_none(), "{one}");
    let ts_households = ts.get_json("/api/households?limit=5", 200).await?;
    assert!(ts_households["items"][0].get("head_name").is_some());
    Ok(())
}
