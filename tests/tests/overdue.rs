//! One definition of an overdue follow-up everywhere (issue 18 §4): the case line list and its
//! `overdue` filter, the work list, the village profile's source (the line list of a village),
//! the patient's record and the annual case report give the same number, for the county and
//! for a township account; and the schedule itself on a constructed patient: the first visit a
//! month after albendazole begins, then three months after the last visit (six in a remote
//! village), a later visit closing an earlier planned date, overdue only past the grace days.

use calamine::Data;
use chrono::NaiveDate;
use echinomap_programme::auth::Role;
use echinomap_tests::read::{cell_number, cell_text, sheet};
use echinomap_tests::{ApiClient, Result, TestApp, TestDb, demo_today};
use serde_json::Value;

const COUNTY: &str = "654022";
const TOWNSHIP: &str = "654022100";
const VILLAGE: &str = "654022100200";

async fn app_with_grace(grace: u32) -> Result<TestApp> {
    TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.programme.today = Some(demo_today());
        s.programme.followup_grace_days = grace;
    })
    .await
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
}

/// Every case of `/api/cases?QUERY`, page by page, and the `total` the first page states.
async fn all_cases(c: &ApiClient, query: &str) -> Result<(Vec<Value>, i64)> {
    let mut items = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut total = None;
    loop {
        let path = match cursor {
            None => format!("/api/cases?{query}&limit=50"),
            Some(id) => format!("/api/cases?{query}&limit=50&cursor={id}"),
        };
        let page = c.get_json(&path, 200).await?;
        let stated = page["total"]
            .as_i64()
            .expect("the line list states its total");
        assert_eq!(
            *total.get_or_insert(stated),
            stated,
            "the same total on every page"
        );
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_i64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok((items, total.unwrap_or_default()))
}

/// The annual case report's column `随访逾期病例(例)`, by the row's unit code (合计 as "total").
async fn report_overdue(c: &ApiClient, period: &str) -> Result<Vec<(String, Option<f64>)>> {
    let r = c
        .get(&format!("/api/reports/cases_annual.xlsx?period={period}"))
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let rows = sheet(&r.bytes().await?)?;
    let header = rows
        .iter()
        .find(|r| r.first().map(cell_text).as_deref() == Some("序号"))
        .expect("the header row");
    let col = header
        .iter()
        .position(|h| cell_text(h) == "随访逾期病例(例)")
        .expect("the form counts the patients with an overdue follow-up");
    let unit = |r: &Vec<Data>| {
        if cell_text(&r[0]) == "合计" {
            "total".to_owned()
        } else {
            cell_text(&r[2])
        }
    };
    Ok(rows
        .iter()
        .skip_while(|r| cell_text(&r[0]) != "序号")
        .skip(1)
        .take_while(|r| !cell_text(&r[0]).is_empty())
        .map(|r| (unit(r), r.get(col).and_then(cell_number)))
        .collect())
}

fn count_in(list: &[Value], code: &str) -> i64 {
    list.iter().find(|e| e["code"] == code).map_or(0, |e| {
        e["n"].as_i64().expect("case access sees every count")
    })
}

/// The four places one caller reads the overdue number from, for its jurisdiction `unit`
/// and a village of it; returns the work list's answer.
async fn agree(c: &ApiClient, unit: &str) -> Result<Value> {
    let (items, total) = all_cases(c, "overdue=true").await?;
    assert_eq!(
        items.len() as i64,
        total,
        "{unit}: pages add up to the total"
    );
    assert!(
        items.iter().all(|i| i["followup_overdue"] == true),
        "{unit}: every case the filter lists is flagged overdue"
    );
    let wl = c.get_json("/api/worklists/followups", 200).await?;
    let counts = &wl["counts"];
    assert_eq!(
        wl["total"].as_i64(),
        Some(total),
        "{unit}: work list vs case list"
    );
    assert_eq!(
        counts["total"].as_i64(),
        Some(total),
        "{unit}: counts.total"
    );
    assert_eq!(
        counts["overdue"].as_i64(),
        Some(total),
        "{unit}: counts.overdue"
    );
    assert_eq!(
        counts["upcoming"].as_i64(),
        Some(0),
        "{unit}: nothing upcoming unasked"
    );
    let by_village = counts["by_village"].as_array().expect("by_village");
    let by_township = counts["by_township"].as_array().expect("by_township");
    let sum = |l: &[Value]| l.iter().filter_map(|e| e["n"].as_i64()).sum::<i64>();
    assert_eq!(sum(by_village), total, "{unit}: villages add up");
    assert_eq!(sum(by_township), total, "{unit}: townships add up");
    // The lines are the same patients as the case list's.
    let mut from_list: Vec<i64> = items.iter().filter_map(|i| i["id"].as_i64()).collect();
    let mut from_wl: Vec<i64> = wl["villages"]
        .as_array()
        .expect("villages")
        .iter()
        .flat_map(|v| v["items"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| {
            assert_eq!(i["state"], "overdue");
            assert!(i["days_overdue"].as_i64().is_some_and(|d| d > 0));
            i["case_id"].as_i64()
        })
        .collect();
    from_list.sort_unstable();
    from_wl.sort_unstable();
    assert_eq!(from_list, from_wl, "{unit}: the same patients");
    // The village with the most: the village profile reads the village's line list and counts
    // the flagged cases; the field page reads the work list's village count.
    let village = by_village
        .iter()
        .max_by_key(|v| v["n"].as_i64())
        .expect("a village with overdue follow-ups");
    let code = village["code"].as_str().expect("code");
    let (cases, _) = all_cases(c, &format!("unit={code}")).await?;
    let flagged = cases
        .iter()
        .filter(|c| c["followup_overdue"] == true)
        .count() as i64;
    assert_eq!(
        flagged,
        count_in(by_village, code),
        "{unit}: village {code} profile"
    );
    let (_, filtered) = all_cases(c, &format!("unit={code}&overdue=true")).await?;
    assert_eq!(filtered, flagged, "{unit}: village {code} filter");
    let field = c
        .get_json(&format!("/api/worklists/followups?unit={code}"), 200)
        .await?;
    let row = field["villages"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["code"] == code).cloned())
        .expect("the field page's village row");
    assert_eq!(
        row["count"].as_i64(),
        Some(flagged),
        "{unit}: field page {code}"
    );
    // The annual report of this year (as of today): its total row.
    let report = report_overdue(c, "2026").await?;
    let total_row = report.iter().find(|(u, _)| u == "total").expect("合计");
    assert_eq!(total_row.1, Some(total as f64), "{unit}: the report's 合计");
    for (u, n) in &report {
        if u != "total" {
            let want = if u.len() == 9 {
                count_in(by_township, u)
            } else {
                count_in(by_village, u)
            };
            assert_eq!(*n, Some(want as f64), "{unit}: the report's row {u}");
        }
    }
    Ok(wl)
}

#[tokio::test]
async fn the_overdue_count_agrees_across_case_list_work_list_village_field_page_and_report()
-> Result<()> {
    let app = app_with_grace(0).await?;
    let epi = app.epi().await?;
    let county = agree(&epi, COUNTY).await?;
    let total = county["total"].as_i64().expect("total");
    let followed: i64 = sqlx::query_scalar("SELECT count(*) FROM followup_schedule($1)")
        .bind(demo_today())
        .fetch_one(&app.db.pool)
        .await?;
    assert!(
        total > 0 && total < followed,
        "the demo has some patients overdue, not all: {total} of {followed}"
    );
    // A township account sees its township's share of the county's number, everywhere.
    let ts = app.user(Role::TownshipStaff, TOWNSHIP).await?;
    let township = agree(&ts, TOWNSHIP).await?;
    let share = count_in(
        county["counts"]["by_township"]
            .as_array()
            .expect("by_township"),
        TOWNSHIP,
    );
    assert!(share > 0, "the township has overdue patients");
    assert_eq!(township["total"].as_i64(), Some(share));

    // Upcoming: the overdue lines unchanged, plus the patients due within the days asked.
    let up = epi
        .get_json("/api/worklists/followups?include=upcoming&days=30", 200)
        .await?;
    let lines: Vec<Value> = up["villages"]
        .as_array()
        .expect("villages")
        .iter()
        .flat_map(|v| v["items"].as_array().cloned().unwrap_or_default())
        .collect();
    let overdue = lines.iter().filter(|l| l["state"] == "overdue").count() as i64;
    let upcoming: Vec<&Value> = lines.iter().filter(|l| l["state"] == "upcoming").collect();
    assert_eq!(overdue, total);
    assert!(!upcoming.is_empty(), "some patients are due within 30 days");
    for l in &upcoming {
        let days = l["days_until"].as_i64().expect("days_until");
        assert!((0..=30).contains(&days), "{l}");
        let due = date(l["next_due_on"].as_str().expect("next_due_on"));
        assert_eq!((due - demo_today()).num_days(), days);
        assert!(l["days_overdue"].is_null());
    }
    assert_eq!(up["counts"]["overdue"].as_i64(), Some(total));
    assert_eq!(
        up["counts"]["upcoming"].as_i64(),
        Some(upcoming.len() as i64)
    );
    assert_eq!(up["counts"]["total"].as_i64(), Some(lines.len() as i64));
    assert_eq!(up["rule"]["upcoming_days"], 30);
    epi.get_json("/api/worklists/followups?include=later", 400)
        .await?;
    epi.get_json("/api/worklists/followups?days=30", 400)
        .await?;
    epi.get_json("/api/worklists/followups?include=upcoming&days=0", 400)
        .await?;
    epi.get_json("/api/worklists/deworming?include=upcoming", 400)
        .await?;

    // Readers without case access: counts only, small ones withheld.
    let planner = app.user(Role::Planner, COUNTY).await?;
    let p = planner
        .get_json("/api/worklists/followups?include=upcoming&days=30", 200)
        .await?;
    assert_eq!(p["rows_shown"], false);
    let pv = p["counts"]["by_village"].as_array().expect("by_village");
    assert!(
        pv.iter().any(|v| v["n"].is_null()),
        "small village counts hidden"
    );
    for v in pv {
        if let Some(n) = v["n"].as_i64() {
            assert!(n > 4, "{v}");
        }
        for part in ["overdue", "upcoming"] {
            if let Some(n) = v[part].as_i64() {
                assert!(n == 0 || n > 4, "{v}");
            }
        }
    }
    Ok(())
}

/// A person and a first-report case in `village`, reported and diagnosed on the days given.
async fn new_case(app: &TestApp, village: &str, reported: &str, revisit: bool) -> Result<i64> {
    let person: i64 = sqlx::query_scalar(
        "INSERT INTO people (village_id, name, sex, birth_date, link_method)
         SELECT id, '随访测试', 'female', DATE '1970-01-01', 'code' FROM villages WHERE code = $1
         RETURNING id",
    )
    .bind(village)
    .fetch_one(&app.db.pool)
    .await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO cases (person_id, village_id, case_type, diagnosis_class, organ,
                            discovery_route, diagnosed_on, reported_on, is_revisit, status)
         SELECT $1, id, 'CE', 'confirmed', 'liver', 'screening', $3, $3, $4, 'under_treatment'
         FROM villages WHERE code = $2
         RETURNING id",
    )
    .bind(person)
    .bind(village)
    .bind(date(reported))
    .bind(revisit)
    .fetch_one(&app.db.pool)
    .await?)
}

async fn albendazole(app: &TestApp, case: i64, started: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO treatments (case_id, kind, started_on, dose_mg_per_kg)
         VALUES ($1, 'albendazole', $2, 12)",
    )
    .bind(case)
    .bind(date(started))
    .execute(&app.db.pool)
    .await?;
    Ok(())
}

/// A follow-up row: planned on `due`, visited on `visited` (or not yet).
async fn followup(app: &TestApp, case: i64, due: &str, visited: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO followups (case_id, due_on, visited_on, outcome, ultrasound_done)
         VALUES ($1, $2, $3, CASE WHEN $3 IS NULL THEN NULL ELSE 'stable'::followup_outcome END,
                 $3 IS NOT NULL)",
    )
    .bind(case)
    .bind(date(due))
    .bind(visited.map(date))
    .execute(&app.db.pool)
    .await?;
    Ok(())
}

/// The schedule's (next due, overdue) of `case` as of `as_of` with `grace` days; `None` when
/// the case is not followed.
async fn schedule(
    app: &TestApp,
    case: i64,
    as_of: &str,
    grace: i32,
) -> Result<Option<(NaiveDate, bool)>> {
    Ok(sqlx::query_as(
        "SELECT next_due, followup_overdue(next_due, $2, $3) FROM followup_schedule($2)
         WHERE case_id = $1",
    )
    .bind(case)
    .bind(date(as_of))
    .bind(grace)
    .fetch_optional(&app.db.pool)
    .await?)
}

#[tokio::test]
async fn a_visit_closes_earlier_due_dates_and_the_next_is_due_three_months_on_six_when_remote()
-> Result<()> {
    let app = app_with_grace(0).await?;
    let case = new_case(&app, VILLAGE, "2026-01-05", false).await?;
    let due = |s: &str, overdue: bool| Some((date(s), overdue));
    // No drug yet: the first visit is due a month after the diagnosis.
    assert_eq!(
        schedule(&app, case, "2026-01-20", 0).await?,
        due("2026-02-05", false)
    );
    // Albendazole from 1 February: due a month after its start, overdue the day after.
    albendazole(&app, case, "2026-02-01").await?;
    followup(&app, case, "2026-03-01", None).await?;
    assert_eq!(
        schedule(&app, case, "2026-02-10", 0).await?,
        due("2026-03-01", false)
    );
    assert_eq!(
        schedule(&app, case, "2026-03-01", 0).await?,
        due("2026-03-01", false)
    );
    assert_eq!(
        schedule(&app, case, "2026-03-02", 0).await?,
        due("2026-03-01", true)
    );
    // Grace days: overdue only once they have passed too.
    assert_eq!(
        schedule(&app, case, "2026-03-11", 10).await?,
        due("2026-03-01", false)
    );
    assert_eq!(
        schedule(&app, case, "2026-03-12", 10).await?,
        due("2026-03-01", true)
    );
    // Seen on 20 March, late, on a row of its own: the planned 1 March stays unvisited in the
    // register, but the visit closes it (case 37 of the issue); next due three months later.
    followup(&app, case, "2026-03-20", Some("2026-03-20")).await?;
    assert_eq!(
        schedule(&app, case, "2026-03-20", 0).await?,
        due("2026-06-20", false)
    );
    assert_eq!(
        schedule(&app, case, "2026-06-21", 0).await?,
        due("2026-06-20", true)
    );
    // Before the visit, as of a day in between, the schedule is what it was then.
    assert_eq!(
        schedule(&app, case, "2026-03-15", 0).await?,
        due("2026-03-01", true)
    );
    // A remote village: six months after the last visit.
    sqlx::query("UPDATE villages SET remote = true WHERE code = $1")
        .bind(VILLAGE)
        .execute(&app.db.pool)
        .await?;
    assert_eq!(
        schedule(&app, case, "2026-06-21", 0).await?,
        due("2026-09-20", false)
    );
    sqlx::query("UPDATE villages SET remote = false WHERE code = $1")
        .bind(VILLAGE)
        .execute(&app.db.pool)
        .await?;
    // Not followed: a revisit report, a case cured, a case reported after the day asked.
    let revisit = new_case(&app, VILLAGE, "2026-01-05", true).await?;
    assert_eq!(schedule(&app, revisit, "2026-06-01", 0).await?, None);
    assert_eq!(schedule(&app, case, "2025-12-31", 0).await?, None);
    sqlx::query("UPDATE cases SET status = 'cured' WHERE id = $1")
        .bind(revisit)
        .execute(&app.db.pool)
        .await?;
    assert_eq!(schedule(&app, revisit, "2026-06-01", 0).await?, None);
    Ok(())
}

/// The constructed patient through the API, as of the service's today (2026-11-15).
#[tokio::test]
async fn the_case_list_record_and_work_list_show_a_patient_by_the_schedule() -> Result<()> {
    let app = app_with_grace(0).await?;
    let epi = app.epi().await?;
    let case = new_case(&app, VILLAGE, "2026-09-01", false).await?;
    albendazole(&app, case, "2026-09-10").await?;
    // A planned date long past, never visited: only the schedule decides.
    followup(&app, case, "2026-09-20", None).await?;
    let line = |list: &[Value]| list.iter().find(|c| c["id"] == case).cloned();
    let wl_line = |wl: &Value| {
        wl["villages"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|v| v["items"].as_array().cloned().unwrap_or_default())
            .find(|i| i["case_id"] == case)
    };

    // Due 2026-10-10, a month after the drug began: overdue by 36 days on 2026-11-15.
    let (cases, _) = all_cases(&epi, &format!("unit={VILLAGE}")).await?;
    let c = line(&cases).expect("the case in its village's list");
    assert_eq!(c["next_followup_due"], "2026-10-10");
    assert_eq!(c["followup_overdue"], true);
    let (overdue, _) = all_cases(&epi, &format!("unit={VILLAGE}&overdue=true")).await?;
    assert!(line(&overdue).is_some());
    let record = epi.get_json(&format!("/api/cases/{case}"), 200).await?;
    let next = &record["next_followup"];
    assert_eq!(next["due_on"], "2026-10-10");
    assert_eq!(next["state"], "overdue");
    assert_eq!(next["days_overdue"], 36);
    assert_eq!(next["counted_from"], "start");
    assert_eq!(next["start_on"], "2026-09-10");
    assert_eq!(record["followups"].as_array().map(Vec::len), Some(1));
    let wl = epi
        .get_json(&format!("/api/worklists/followups?unit={VILLAGE}"), 200)
        .await?;
    let l = wl_line(&wl).expect("on the work list");
    assert_eq!(l["state"], "overdue");
    assert_eq!(l["days_overdue"], 36);
    assert_eq!(l["treatment_started_on"], "2026-09-10");

    // Seen on 2026-11-01: next due 2027-02-01, not overdue, upcoming within 90 days.
    followup(&app, case, "2026-11-01", Some("2026-11-01")).await?;
    let (cases, _) = all_cases(&epi, &format!("unit={VILLAGE}")).await?;
    let c = line(&cases).expect("the case");
    assert_eq!(c["next_followup_due"], "2027-02-01");
    assert_eq!(c["followup_overdue"], false);
    let (overdue, _) = all_cases(&epi, &format!("unit={VILLAGE}&overdue=true")).await?;
    assert!(line(&overdue).is_none());
    let record = epi.get_json(&format!("/api/cases/{case}"), 200).await?;
    assert_eq!(record["next_followup"]["state"], "upcoming");
    assert_eq!(record["next_followup"]["days_until"], 78);
    assert_eq!(record["next_followup"]["counted_from"], "last_visit");
    assert_eq!(record["next_followup"]["interval_months"], 3);
    let wl = epi
        .get_json(&format!("/api/worklists/followups?unit={VILLAGE}"), 200)
        .await?;
    assert!(wl_line(&wl).is_none(), "no longer overdue");
    let soon = epi
        .get_json(
            &format!("/api/worklists/followups?unit={VILLAGE}&include=upcoming&days=30"),
            200,
        )
        .await?;
    assert!(wl_line(&soon).is_none(), "not due within 30 days");
    let later = epi
        .get_json(
            &format!("/api/worklists/followups?unit={VILLAGE}&include=upcoming&days=90"),
            200,
        )
        .await?;
    let l = wl_line(&later).expect("upcoming within 90 days");
    assert_eq!(l["state"], "upcoming");
    assert_eq!(l["days_until"], 78);
    assert_eq!(l["next_due_on"], "2027-02-01");

    // In a remote village: six months after the visit.
    sqlx::query("UPDATE villages SET remote = true WHERE code = $1")
        .bind(VILLAGE)
        .execute(&app.db.pool)
        .await?;
    let record = epi.get_json(&format!("/api/cases/{case}"), 200).await?;
    assert_eq!(record["next_followup"]["due_on"], "2027-05-01");
    assert_eq!(record["next_followup"]["interval_months"], 6);
    assert_eq!(record["next_followup_due"], "2027-05-01");

    // A cured patient is no longer followed.
    sqlx::query("UPDATE cases SET status = 'cured' WHERE id = $1")
        .bind(case)
        .execute(&app.db.pool)
        .await?;
    let record = epi.get_json(&format!("/api/cases/{case}"), 200).await?;
    assert!(record["next_followup"].is_null());
    assert!(record["next_followup_due"].is_null());
    assert_eq!(record["followup_overdue"], false);
    Ok(())
}

#[tokio::test]
async fn the_report_form_names_the_compiler_and_states_the_small_count_rule_in_plain_words()
-> Result<()> {
    let app = app_with_grace(0).await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    let text_of = |rows: &[Vec<Data>], prefix: &str| {
        rows.iter()
            .flat_map(|r| r.iter().map(cell_text))
            .find(|t| t.starts_with(prefix))
            .unwrap_or_default()
    };
    let download = |c: &ApiClient| {
        let c = c.clone();
        async move {
            let r = c.get("/api/reports/cases_annual.xlsx?period=2025").await?;
            sheet(&r.bytes().await?)
        }
    };
    let rows = download(&planner).await?;
    let note = text_of(&rows, "说明");
    assert!(note.contains("“*”为小于5的数（1–4）"), "{note}");
    assert!(!note.contains("小数"), "{note}");
    // No display name: the username.
    let username = planner.username.clone();
    assert_eq!(text_of(&rows, "填表人"), format!("填表人：{username}"));
    sqlx::query("UPDATE users SET display_name = '张规划' WHERE username = $1")
        .bind(&username)
        .execute(&app.db.pool)
        .await?;
    let rows = download(&planner).await?;
    assert_eq!(text_of(&rows, "填表人"), "填表人：张规划");
    Ok(())
}
