//! The indicator engine against raw rows: every indicator recomputed here, with SQL written
//! independently of the engine's, for a village, a township and the county, for a month and a
//! year; the matrix; bad input.

use echinomap_programme::auth::Role;
use echinomap_tests::{Result, TestApp, TestDb, demo_today};
use serde_json::Value;

const VILLAGE: &str = "654022100200";
const TOWNSHIP: &str = "654022100";
const COUNTY: &str = "654022";

async fn app() -> Result<TestApp> {
    TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.programme.today = Some(demo_today());
    })
    .await
}

/// (numerator, denominator) of `indicator` over the villages under `$1`, days `$2`..=`$3`,
/// straight from the registers.
fn raw_sql(indicator: &str) -> &'static str {
    match indicator {
        "dog_registration" => {
            "SELECT (SELECT count(*) FROM dogs d JOIN villages v ON v.id = d.village_id
                      WHERE v.code LIKE $1 || '%' AND d.deleted_at IS NULL AND d.kind <> 'stray'
                        AND d.registered_on <= $3 AND (d.status = 'alive' OR d.status_on > $3)
                        AND EXISTS (SELECT 1 FROM village_denominators x
                                     WHERE x.village_id = v.id AND x.year = extract(year FROM $3::date)))::float8,
                    (SELECT coalesce(sum(x.dogs_estimated), 0) FROM village_denominators x
                       JOIN villages v ON v.id = x.village_id
                      WHERE v.code LIKE $1 || '%' AND x.year = extract(year FROM $3::date))::float8"
        }
        "deworming_coverage" => {
            "SELECT coalesce(sum(n), 0)::float8, coalesce(sum(d), 0)::float8 FROM (
               SELECT m::date AS m,
                 (SELECT count(*) FROM dogs d JOIN villages v ON v.id = d.village_id
                   WHERE v.code LIKE $1 || '%' AND d.deleted_at IS NULL
                     AND d.registered_on < m + interval '1 month'
                     AND (d.status = 'alive' OR d.status_on >= m)) AS d,
                 (SELECT count(*) FROM (SELECT DISTINCT w.dog_id FROM dewormings w
                    JOIN dogs d ON d.id = w.dog_id JOIN villages v ON v.id = w.village_id
                   WHERE v.code LIKE $1 || '%' AND w.deleted_at IS NULL AND d.deleted_at IS NULL
                     AND d.village_id = w.village_id
                     AND w.dosed_on >= m AND w.dosed_on < m + interval '1 month'
                     AND d.registered_on < m + interval '1 month'
                     AND (d.status = 'alive' OR d.status_on >= m)) z) AS n
               FROM generate_series($2::date, $3::date, interval '1 month') m) x"
        }
        "dog_faecal_positivity" => {
            "SELECT count(*) FILTER (WHERE f.result = 'positive')::float8,
                    count(*) FILTER (WHERE f.result <> 'inconclusive')::float8
             FROM faecal_tests f JOIN villages v ON v.id = f.village_id
             WHERE v.code LIKE $1 || '%' AND f.deleted_at IS NULL AND f.sampled_on BETWEEN $2 AND $3"
        }
        "ownerless_dogs" => {
            "SELECT (SELECT coalesce(sum(s.n_dogs), 0) FROM stray_dog_events s JOIN villages v ON v.id = s.village_id
                      WHERE v.code LIKE $1 || '%' AND s.deleted_at IS NULL AND s.occurred_on BETWEEN $2 AND $3)::float8,
                    (SELECT count(*) FROM villages WHERE code LIKE $1 || '%')::float8"
        }
        "offal_disposal" => {
            "SELECT coalesce(sum(CASE WHEN si.disposal_done AND si.disposal_method <> 'none' THEN si.infected ELSE 0 END), 0)::float8,
                    coalesce(sum(si.infected), 0)::float8
             FROM slaughter_inspections si JOIN slaughter_points sp ON sp.id = si.point_id
             JOIN villages v ON v.id = sp.village_id
             WHERE v.code LIKE $1 || '%' AND si.deleted_at IS NULL AND sp.deleted_at IS NULL
               AND si.inspected_on BETWEEN $2 AND $3"
        }
        "livestock_infection" => {
            "SELECT coalesce(sum(si.infected), 0)::float8, coalesce(sum(si.slaughtered), 0)::float8
             FROM slaughter_inspections si JOIN slaughter_points sp ON sp.id = si.point_id
             JOIN villages pv ON pv.id = sp.village_id
             LEFT JOIN villages ov ON ov.id = si.origin_village_id
             WHERE si.deleted_at IS NULL AND sp.deleted_at IS NULL AND si.age_class = 'under_2y'
               AND si.inspected_on BETWEEN $2 AND $3
               AND (ov.code LIKE $1 || '%'
                    OR (si.origin_village_id IS NULL AND length($1) = 6 AND pv.code LIKE $1 || '%'))"
        }
        "child_seropositivity" => {
            "SELECT coalesce(sum(positives), 0)::float8, coalesce(sum(screened), 0)::float8
             FROM screening_campaigns s JOIN villages v ON v.id = s.village_id
             WHERE v.code LIKE $1 || '%' AND s.deleted_at IS NULL AND s.screened_on BETWEEN $2 AND $3
               AND s.method = 'serology_elisa' AND s.target_group = 'school_children'"
        }
        "human_prevalence" => {
            "SELECT coalesce(sum(positives), 0)::float8, coalesce(sum(screened), 0)::float8
             FROM screening_campaigns s JOIN villages v ON v.id = s.village_id
             WHERE v.code LIKE $1 || '%' AND s.deleted_at IS NULL AND s.screened_on BETWEEN $2 AND $3
               AND s.method = 'ultrasound'"
        }
        "new_cases" => {
            "SELECT count(*)::float8, 0::float8 FROM (
               SELECT DISTINCT c.village_id, c.person_id FROM cases c
               JOIN villages v ON v.id = c.village_id JOIN people p ON p.id = c.person_id
               WHERE v.code LIKE $1 || '%' AND c.deleted_at IS NULL AND p.deleted_at IS NULL
                 AND NOT c.is_revisit AND c.diagnosis_class IN ('clinical', 'confirmed')
                 AND c.reported_on BETWEEN $2 AND $3) x"
        }
        "new_child_cases" => {
            "SELECT count(*)::float8, 0::float8 FROM (
               SELECT DISTINCT c.village_id, c.person_id FROM cases c
               JOIN villages v ON v.id = c.village_id JOIN people p ON p.id = c.person_id
               WHERE v.code LIKE $1 || '%' AND c.deleted_at IS NULL AND p.deleted_at IS NULL
                 AND NOT c.is_revisit AND c.diagnosis_class IN ('clinical', 'confirmed')
                 AND c.reported_on BETWEEN $2 AND $3
                 AND p.birth_date > (c.reported_on - interval '13 years')::date) x"
        }
        "vaccination_progress" => {
            "SELECT coalesce(sum(va.immunised), 0)::float8, coalesce(sum(va.target), 0)::float8
             FROM vaccinations va JOIN vaccination_campaigns vc ON vc.id = va.campaign_id
             JOIN villages v ON v.id = va.village_id
             WHERE v.code LIKE $1 || '%' AND va.deleted_at IS NULL AND vc.deleted_at IS NULL
               AND va.vaccinated_on BETWEEN $2 AND $3"
        }
        "patients_managed" => {
            // The follow-up schedule (docs/INDICATORS.md) written out again: first reports under
            // treatment or watch-and-wait; due a month after the first albendazole course (else
            // the diagnosis, else the report) until a visit, then 3 months after the last visit
            // (6 when remote); managed when not overdue on the as-of day (grace 0).
            "WITH a AS (SELECT least($3::date, $4::date) AS d),
             c AS (
               SELECT v.remote,
                 coalesce((SELECT min(t.started_on) FROM treatments t WHERE t.case_id = c.id
                    AND t.kind = 'albendazole' AND t.deleted_at IS NULL AND t.started_on <= a.d),
                    c.diagnosed_on, c.reported_on) AS s,
                 (SELECT max(f.visited_on) FROM followups f WHERE f.case_id = c.id
                    AND f.deleted_at IS NULL AND f.visited_on <= a.d) AS lv
               FROM cases c JOIN villages v ON v.id = c.village_id JOIN people p ON p.id = c.person_id, a
               WHERE v.code LIKE $1 || '%' AND c.deleted_at IS NULL AND p.deleted_at IS NULL
                 AND NOT c.is_revisit
                 AND c.status IN ('under_treatment', 'watch_and_wait') AND c.reported_on <= a.d)
             SELECT count(*) FILTER (WHERE due >= (SELECT d FROM a))::float8, count(*)::float8 FROM (
               SELECT CASE WHEN lv IS NULL OR lv < s THEN (s + interval '1 month')::date
                           WHEN remote THEN (lv + interval '6 months')::date
                           ELSE (lv + interval '3 months')::date END AS due
               FROM c) x"
        }
        "awareness" => {
            "SELECT coalesce(sum(aware), 0)::float8, coalesce(sum(respondents), 0)::float8
             FROM health_education h JOIN villages v ON v.id = h.village_id
             WHERE v.code LIKE $1 || '%' AND h.deleted_at IS NULL AND h.held_on BETWEEN $2 AND $3"
        }
        "rodent_infection" => {
            "SELECT coalesce(sum(infected), 0)::float8, coalesce(sum(dissected), 0)::float8
             FROM rodent_surveys r JOIN villages v ON v.id = r.village_id
             WHERE v.code LIKE $1 || '%' AND r.deleted_at IS NULL AND r.surveyed_on BETWEEN $2 AND $3"
        }
        other => panic!("no raw recomputation for {other}"),
    }
}

async fn raw(
    app: &TestApp,
    indicator: &str,
    unit: &str,
    from: &str,
    to: &str,
) -> Result<(f64, f64)> {
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d");
    let sql = raw_sql(indicator);
    let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(unit)
        .bind(d(from)?)
        .bind(d(to)?);
    let q = if indicator == "patients_managed" {
        q.bind(demo_today())
    } else {
        q
    };
    Ok(q.fetch_one(&app.db.pool).await?)
}

fn find<'a>(body: &'a Value, key: &str) -> &'a Value {
    body["indicators"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["indicator"] == key))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn every_indicator_recomputed_from_raw_rows_agrees_for_a_village_a_township_and_the_county()
-> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    let keys: Vec<&str> = echinomap_programme::indicators::INDICATORS
        .iter()
        .map(|i| i.key)
        .collect();
    let mut nonzero = std::collections::HashSet::new();
    for (period, from, to) in [
        ("2025-06", "2025-06-01", "2025-06-30"),
        ("2025", "2025-01-01", "2025-12-31"),
    ] {
        for unit in [VILLAGE, TOWNSHIP, COUNTY] {
            let body = epi
                .get_json(&format!("/api/indicators?unit={unit}&period={period}"), 200)
                .await?;
            assert_eq!(body["unit"]["code"], unit);
            for key in &keys {
                let got = find(&body, key);
                let (num, den) = raw(&app, key, unit, from, to).await?;
                let what = format!("{key} for {unit} in {period}: {got}");
                assert_eq!(got["numerator"].as_f64(), Some(num), "{what}");
                if got["measure"] == "count" {
                    assert!(got["denominator"].is_null(), "{what}");
                    assert_eq!(got["value"].as_f64(), Some(num), "{what}");
                } else {
                    assert_eq!(got["denominator"].as_f64(), Some(den), "{what}");
                    if den > 0.0 {
                        let v = got["value"].as_f64().expect("a value");
                        assert!((v - num / den).abs() < 1e-12, "{what}");
                        if let Some(t) = got["target"]["value"].as_f64() {
                            let met = match got["target"]["op"].as_str() {
                                Some(">=") => v >= t - 1e-12,
                                _ => v < t - 1e-12,
                            };
                            assert_eq!(
                                got["status"],
                                if met { "met" } else { "not_met" },
                                "{what}"
                            );
                        } else {
                            assert_eq!(got["status"], "no_target", "{what}");
                        }
                    } else {
                        assert!(got["value"].is_null(), "{what}");
                        assert_eq!(got["status"], "no_data", "{what}");
                    }
                }
                if num > 0.0 {
                    nonzero.insert(*key);
                }
            }
        }
    }
    // The comparison means something only if the demo has data for the indicators.
    for key in [
        "deworming_coverage",
        "dog_registration",
        "dog_faecal_positivity",
        "human_prevalence",
        "new_cases",
        "offal_disposal",
        "livestock_infection",
        "awareness",
        "patients_managed",
    ] {
        assert!(nonzero.contains(key), "no data at all for {key}");
    }
    Ok(())
}

#[tokio::test]
async fn a_year_of_deworming_reports_its_rounds_and_the_regime_follows_prevalence() -> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    let body = epi
        .get_json(&format!("/api/indicators?unit={TOWNSHIP}&period=2025&indicator=deworming_coverage,human_prevalence"), 200)
        .await?;
    assert_eq!(body["indicators"].as_array().map(Vec::len), Some(2));
    let d = find(&body, "deworming_coverage");
    assert_eq!(d["extra"]["months"], 12);
    let (mut rounds, mut judged) = (0, 0);
    for m in 1..=12 {
        let month = epi
            .get_json(&format!("/api/indicators?unit={TOWNSHIP}&period=2025-{m:02}&indicator=deworming_coverage"), 200)
            .await?;
        let status = &find(&month, "deworming_coverage")["status"];
        if status == "met" {
            rounds += 1;
        }
        if status == "met" || status == "not_met" {
            judged += 1;
        }
    }
    // Every month had dogs due, so a round or not is a judgement on data, not on its absence.
    assert_eq!(
        judged, 12,
        "months of 2025 without deworming data in {TOWNSHIP}"
    );
    assert_eq!(d["extra"]["rounds"], rounds);
    let h = find(&body, "human_prevalence");
    let v = h["value"].as_f64().expect("prevalence");
    let regime = if v > 0.01 {
        "monthly"
    } else if v >= 0.001 {
        "slaughter_season"
    } else {
        "targeted"
    };
    assert_eq!(h["extra"]["regime"], regime);
    Ok(())
}

#[tokio::test]
async fn the_matrix_gives_the_same_numbers_as_single_requests_and_suppresses_for_planners()
-> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    let m = epi
        .get_json("/api/indicators/matrix?indicator=deworming_coverage&units=village&unit=654022100&from=2025-01&to=2025-06&step=month", 200)
        .await?;
    assert_eq!(m["periods"].as_array().map(Vec::len), Some(6));
    let units = m["units"].as_array().expect("units");
    assert_eq!(units.len(), 10);
    let i = units
        .iter()
        .position(|u| u["code"] == VILLAGE)
        .expect("the village");
    let single = epi
        .get_json(
            &format!("/api/indicators?unit={VILLAGE}&period=2025-03&indicator=deworming_coverage"),
            200,
        )
        .await?;
    let one = find(&single, "deworming_coverage");
    assert_eq!(units[i]["numerators"][2], one["numerator"]);
    assert_eq!(units[i]["denominators"][2], one["denominator"]);
    assert_eq!(units[i]["values"][2], one["value"]);
    assert_eq!(units[i]["cells"][2]["period"], "2025-03");
    assert_eq!(units[i]["cells"][2]["value"], one["value"]);
    // Townships by quarter add up to the county.
    let q = epi
        .get_json("/api/indicators/matrix?indicator=new_cases&units=township&from=2024Q1&to=2025Q4&step=quarter", 200)
        .await?;
    assert_eq!(q["periods"][0], "2024Q1");
    let county = epi
        .get_json(
            "/api/indicators?unit=654022&period=2024Q1&indicator=new_cases",
            200,
        )
        .await?;
    let rows = q["units"].as_array().expect("rows");
    assert_eq!(rows.len(), 17, "every township of the county: {q}");
    let total: f64 = rows
        .iter()
        .map(|r| {
            r["numerators"][0]
                .as_f64()
                .unwrap_or_else(|| panic!("a township without its count: {r}"))
        })
        .sum();
    assert!(total > 0.0, "the demo has new cases in 2024Q1");
    assert_eq!(
        Some(total),
        find(&county, "new_cases")["numerator"].as_f64()
    );
    // Planners: no count of people from 1 to 4, anywhere.
    let planner = app.user(Role::Planner, COUNTY).await?;
    let pm = planner
        .get_json(
            "/api/indicators/matrix?indicator=new_cases&units=village&from=2021&to=2025&step=year",
            200,
        )
        .await?;
    assert_eq!(pm["small_counts_suppressed"], true);
    let mut hidden = 0;
    for row in pm["units"].as_array().expect("rows") {
        for c in row["numerators"].as_array().expect("cells") {
            match c.as_f64() {
                Some(n) => assert!(n == 0.0 || n > 4.0, "{n} shown to a planner"),
                None => hidden += 1,
            }
        }
    }
    assert!(hidden > 0, "the demo has villages with 1–4 cases a year");
    Ok(())
}

#[tokio::test]
async fn bad_units_periods_and_indicators_are_refused_naming_what_is_wrong() -> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    let e = epi
        .get_json("/api/indicators?unit=654022999&period=2025", 404)
        .await?;
    assert_eq!(e["error"]["code"], "unit_not_found");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("654022999")
    );
    let e = epi
        .get_json("/api/indicators?unit=65402&period=2025", 400)
        .await?;
    assert_eq!(e["error"]["details"]["field"], "unit");
    for bad in ["2025-13", "2025Q5", "25", "2025-6", "June"] {
        let e = epi
            .get_json(&format!("/api/indicators?period={bad}"), 400)
            .await?;
        assert_eq!(e["error"]["details"]["field"], "period", "{bad}");
    }
    let e = epi.get_json("/api/indicators?period=2027-01", 400).await?;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("future"),
        "{e}"
    );
    let e = epi
        .get_json("/api/indicators?period=2025&indicator=dog_density", 400)
        .await?;
    assert_eq!(e["error"]["details"]["field"], "indicator");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("dog_density")
    );
    let e = epi
        .get_json("/api/indicators/matrix?indicator=nope", 400)
        .await?;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nope")
    );
    epi.get_json(
        "/api/indicators/matrix?indicator=awareness&from=2025-06&to=2025-01",
        400,
    )
    .await?;
    epi.get_json(
        "/api/indicators/matrix?indicator=awareness&units=hamlet",
        400,
    )
    .await?;
    epi.get_json(
        "/api/indicators/matrix?indicator=awareness&units=township&unit=654022100200",
        400,
    )
    .await?;
    // Outside the jurisdiction.
    let ts = app.user(Role::TownshipStaff, TOWNSHIP).await?;
    ts.get_json("/api/indicators?unit=654022101&period=2025", 403)
        .await?;
    ts.get_json(&format!("/api/indicators?unit={VILLAGE}&period=2025"), 200)
        .await?;
    Ok(())
}

#[tokio::test]
async fn deworming_coverage_follows_every_write_to_doses_and_dogs() -> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    let path =
        format!("/api/indicators?unit={VILLAGE}&period=2026-10&indicator=deworming_coverage");
    let get = |b: &Value| -> (f64, f64) {
        let d = find(b, "deworming_coverage");
        (
            d["numerator"].as_f64().unwrap_or(-1.0),
            d["denominator"].as_f64().unwrap_or(-1.0),
        )
    };
    let (n0, d0) = get(&epi.get_json(&path, 200).await?);
    // A live dog of the village without a dose in October 2026 gets one.
    let dog: i64 = sqlx::query_scalar(
        "SELECT d.id FROM dogs d JOIN villages v ON v.id = d.village_id
         WHERE v.code = $1 AND d.status = 'alive' AND d.registered_on < DATE '2026-10-01'
           AND NOT EXISTS (SELECT 1 FROM dewormings w WHERE w.dog_id = d.id
                            AND w.dosed_on BETWEEN DATE '2026-10-01' AND DATE '2026-10-31')
         ORDER BY d.id LIMIT 1",
    )
    .bind(VILLAGE)
    .fetch_one(&app.db.pool)
    .await?;
    sqlx::query("INSERT INTO dewormings (dog_id, village_id, dosed_on) SELECT id, village_id, DATE '2026-10-20' FROM dogs WHERE id = $1")
        .bind(dog)
        .execute(&app.db.pool)
        .await?;
    assert_eq!(get(&epi.get_json(&path, 200).await?), (n0 + 1.0, d0));
    // Deleting the dog (soft) removes it from both sides.
    sqlx::query("UPDATE dogs SET deleted_at = now() WHERE id = $1")
        .bind(dog)
        .execute(&app.db.pool)
        .await?;
    assert_eq!(get(&epi.get_json(&path, 200).await?), (n0, d0 - 1.0));
    let (num, den) = raw(
        &app,
        "deworming_coverage",
        VILLAGE,
        "2026-10-01",
        "2026-10-31",
    )
    .await?;
    assert_eq!((num, den), (n0, d0 - 1.0));
    Ok(())
}
