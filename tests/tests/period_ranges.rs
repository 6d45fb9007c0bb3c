//! Period ranges (`2022..2026`, `2025-12..2026-11`) and relative periods (`last_12_months`)
//! end to end (issue 18 §5): a range is the ratio of the sums over its parts, never a mean of
//! their ratios; a relative name is its explicit range on the service's today; a range of one
//! part is that part; tiles, exports, OGC and the matrix take them; a refused period says why
//! with a reason code.

use std::collections::HashMap;

use echinomap_tests::read::mvt_number;
use echinomap_tests::{ApiClient, Result, TestApp, TestDb, demo_today};
use serde_json::Value;
use tiles::TileCoord;

const COUNTY: &str = "654022";
const TOWNSHIP: &str = "654022100";

/// The demo with today fixed at 2026-11-15: `last_12_months` is `2025-11..2026-10`.
async fn app() -> Result<TestApp> {
    TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.programme.today = Some(demo_today());
    })
    .await
}

/// `/api/indicators` of `unit` and `period`, by indicator key.
async fn indicators(
    c: &ApiClient,
    unit: &str,
    period: &str,
) -> Result<(Value, HashMap<String, Value>)> {
    let j = c
        .get_json(&format!("/api/indicators?unit={unit}&period={period}"), 200)
        .await?;
    let by_key = j["indicators"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["indicator"].as_str().unwrap_or_default().to_owned(),
                i.clone(),
            )
        })
        .collect();
    Ok((j, by_key))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The refusal of `path`: 400 `invalid_parameter` naming `field`, with its reason code.
async fn refused(c: &ApiClient, path: &str, field: &str) -> Result<Value> {
    let e = c.get_json(path, 400).await?;
    assert_eq!(e["error"]["code"], "invalid_parameter", "{path}: {e}");
    assert_eq!(e["error"]["details"]["field"], field, "{path}: {e}");
    Ok(e)
}

#[tokio::test]
async fn a_range_of_years_is_the_ratio_of_the_sums_of_its_years_not_a_mean_of_their_ratios()
-> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    let (whole, range) = indicators(&epi, COUNTY, "2022..2026").await?;
    assert_eq!(whole["period"]["key"], "2022..2026");
    assert_eq!(whole["period"]["kind"], "year");
    assert_eq!(whole["period"]["range"], true);
    assert_eq!(whole["period"]["months"], 60);
    assert_eq!(whole["period"]["from"], "2022-01-01");
    assert_eq!(whole["period"]["to"], "2026-12-31");
    assert_eq!(whole["period_asked"], "2022..2026");
    let mut years = Vec::new();
    for y in 2022..=2026 {
        years.push(indicators(&epi, COUNTY, &y.to_string()).await?.1);
    }
    let (mut compared, mut differs_from_mean) = (0, 0);
    // Indicators whose numerator and denominator are sums of rows dated in the period (or,
    // for deworming, of months): the range's are the sums of the years'.
    for key in [
        "deworming_coverage",
        "dog_faecal_positivity",
        "offal_disposal",
        "livestock_infection",
        "child_seropositivity",
        "human_prevalence",
        "vaccination_progress",
        "awareness",
        "rodent_infection",
    ] {
        let r = &range[key];
        let n: f64 = years.iter().map(|y| num(&y[key]["numerator"])).sum();
        let d: f64 = years.iter().map(|y| num(&y[key]["denominator"])).sum();
        assert_eq!(num(&r["numerator"]), n, "{key}");
        assert_eq!(num(&r["denominator"]), d, "{key}");
        if d > 0.0 {
            let v = num(&r["value"]);
            assert!((v - n / d).abs() < 1e-12, "{key}: {v} is not {n}/{d}");
            let ratios: Vec<f64> = years
                .iter()
                .filter(|y| num(&y[key]["denominator"]) > 0.0)
                .map(|y| num(&y[key]["value"]))
                .collect();
            let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
            if (mean - n / d).abs() > 1e-9 {
                differs_from_mean += 1;
                assert!((v - mean).abs() > 1e-9, "{key}: the mean of the years");
            }
            compared += 1;
        } else {
            assert_eq!(r["status"], "no_data", "{key}");
        }
    }
    assert!(compared >= 5, "only {compared} indicators had data");
    assert!(
        differs_from_mean >= 1,
        "no indicator tells a ratio of sums from a mean of ratios"
    );
    // Deworming is computed month by month: the months of the five years that have begun by
    // the service's today (59 on 15 November 2026: December is not yet due), rounds counted
    // over them all.
    let dw = &range["deworming_coverage"];
    let months: i64 = years
        .iter()
        .map(|y| {
            y["deworming_coverage"]["extra"]["months"]
                .as_i64()
                .unwrap_or(0)
        })
        .sum();
    assert!((49..=60).contains(&months), "{months} months");
    assert_eq!(dw["extra"]["months"].as_i64(), Some(months));
    let rounds: i64 = years
        .iter()
        .map(|y| {
            y["deworming_coverage"]["extra"]["rounds"]
                .as_i64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(dw["extra"]["rounds"].as_i64(), Some(rounds));
    assert!(num(&dw["denominator"]) > 0.0, "the demo has deworming");
    // A state at the end is the state at the range's end: the last year's.
    for key in ["dog_registration", "patients_managed"] {
        for field in ["numerator", "denominator", "value", "status"] {
            assert_eq!(range[key][field], years[4][key][field], "{key} {field}");
        }
    }
    // New cases count a person once in the range: at most the sum of the years, at least any year.
    let cases = num(&range["new_cases"]["numerator"]);
    let per_year: Vec<f64> = years
        .iter()
        .map(|y| num(&y["new_cases"]["numerator"]))
        .collect();
    assert!(cases <= per_year.iter().sum::<f64>());
    assert!(per_year.iter().all(|y| cases >= *y));
    assert!(cases > 0.0, "the demo has cases");

    // The matrix gives the same numbers, a range as one column beside the years.
    let m = epi
        .get_json(
            &format!(
                "/api/indicators/matrix?indicator=deworming_coverage&units=county&unit={COUNTY}&periods=2022..2026,2022,2023,2024,2025,2026"
            ),
            200,
        )
        .await?;
    assert_eq!(m["step"], Value::Null);
    assert_eq!(m["periods"][0], "2022..2026");
    let row = &m["units"][0];
    assert_eq!(row["code"], COUNTY);
    assert_eq!(row["numerators"][0], dw["numerator"]);
    assert_eq!(row["denominators"][0], dw["denominator"]);
    let n: f64 = (1..=5).map(|j| num(&row["numerators"][j])).sum();
    let d: f64 = (1..=5).map(|j| num(&row["denominators"][j])).sum();
    assert_eq!(
        (num(&row["numerators"][0]), num(&row["denominators"][0])),
        (n, d)
    );
    // Per township too: each township's range is its own ratio of sums.
    let t = epi
        .get_json(
            "/api/indicators/matrix?indicator=dog_faecal_positivity&units=township&periods=2022..2026,2022,2023,2024,2025,2026",
            200,
        )
        .await?;
    let units = t["units"].as_array().expect("townships");
    assert!(units.len() > 5);
    for u in units {
        let n: f64 = (1..=5).map(|j| num(&u["numerators"][j])).sum();
        let d: f64 = (1..=5).map(|j| num(&u["denominators"][j])).sum();
        assert_eq!(
            (num(&u["numerators"][0]), num(&u["denominators"][0])),
            (n, d),
            "{}",
            u["code"]
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_relative_period_is_its_explicit_range_on_the_services_today() -> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    for (relative, explicit) in [
        ("last_12_months", "2025-11..2026-10"),
        ("last_3_months", "2026-08..2026-10"),
        ("last_month", "2026-10"),
        ("this_month", "2026-11"),
        ("this_quarter", "2026Q4"),
        ("last_quarter", "2026Q3"),
        ("this_year", "2026"),
        ("last_year", "2025"),
        ("last_5_years", "2021..2025"),
    ] {
        let (rel, rel_values) = indicators(&epi, TOWNSHIP, relative).await?;
        let (exp, exp_values) = indicators(&epi, TOWNSHIP, explicit).await?;
        assert_eq!(rel["period"], exp["period"], "{relative}");
        assert_eq!(rel["period"]["key"], explicit);
        assert_eq!(rel["period_asked"], relative);
        assert_eq!(exp["period_asked"], explicit);
        assert_eq!(rel_values, exp_values, "{relative}");
    }
    let (rel, values) = indicators(&epi, TOWNSHIP, "last_12_months").await?;
    assert_eq!(rel["period"]["from"], "2025-11-01");
    assert_eq!(rel["period"]["to"], "2026-10-31");
    assert_eq!(values["deworming_coverage"]["extra"]["months"], 12);
    // The matrix echoes what was asked for each column beside its resolved key.
    let m = epi
        .get_json(
            "/api/indicators/matrix?indicator=new_cases&units=township&periods=last_12_months,2025-11..2026-10,last_year",
            200,
        )
        .await?;
    assert_eq!(
        m["periods"],
        serde_json::json!(["2025-11..2026-10", "2025-11..2026-10", "2025"])
    );
    assert_eq!(
        m["periods_asked"],
        serde_json::json!(["last_12_months", "2025-11..2026-10", "last_year"])
    );
    for u in m["units"].as_array().expect("units") {
        assert_eq!(
            u["cells"][0]["numerator"], u["cells"][1]["numerator"],
            "{}",
            u["code"]
        );
    }
    // from/to take relative periods and ranges: the series runs to the last part of `to`.
    let s = epi
        .get_json(
            "/api/indicators/matrix?indicator=new_cases&units=county&from=last_12_months&to=last_12_months&step=month",
            200,
        )
        .await?;
    let keys: Vec<&str> = s["periods"]
        .as_array()
        .expect("periods")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(keys.len(), 12);
    assert_eq!((keys[0], keys[11]), ("2025-11", "2026-10"));
    Ok(())
}

#[tokio::test]
async fn a_range_of_one_period_gives_the_numbers_of_that_period() -> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    for (range, single) in [
        ("2024..2024", "2024"),
        ("2025-03..2025-03", "2025-03"),
        ("2025Q2..2025Q2", "2025Q2"),
    ] {
        let (r, _) = indicators(&epi, COUNTY, range).await?;
        let (s, _) = indicators(&epi, COUNTY, single).await?;
        assert_eq!(r, s, "{range}");
        assert_eq!(r["period"]["key"], single);
        assert_eq!(r["period"]["range"], false);
    }
    // Normalised: spaces, a lower-case q and 2025-Q1 read as the same range.
    let (a, _) = indicators(&epi, COUNTY, "2025-q1%20..%202025Q3").await?;
    let (b, _) = indicators(&epi, COUNTY, "2025Q1..2025Q3").await?;
    assert_eq!(a, b);
    assert_eq!(a["period"]["key"], "2025Q1..2025Q3");
    Ok(())
}

/// A tile as bytes (200) or `None` (204).
async fn tile_bytes(c: &ApiClient, path: &str) -> Result<Option<Vec<u8>>> {
    let r = c.get(path).await?;
    match r.status().as_u16() {
        200 => Ok(Some(r.bytes().await?.to_vec())),
        204 => Ok(None),
        s => anyhow::bail!("{path}: {s} {}", r.text().await?),
    }
}

/// `cases` of every village feature of a villages tile.
fn village_cases(bytes: Vec<u8>) -> Result<HashMap<String, f64>> {
    let reader = mvt_reader::Reader::new(bytes).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let features = reader
        .get_features(0)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(features
        .iter()
        .filter_map(|f| {
            let code = echinomap_tests::read::mvt_text(f, "code")?;
            Some((code, mvt_number(f, "cases").unwrap_or(0.0)))
        })
        .collect())
}

#[tokio::test]
async fn tiles_exports_and_ogc_take_ranges_and_relative_periods() -> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    let (lon, lat): (f64, f64) =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code = '654022100001'")
            .fetch_one(&app.db.pool)
            .await?;
    let t = TileCoord::containing(lon, lat, 9)?;
    let path = |period: &str| {
        format!(
            "/tiles/villages/{}/{}/{}.mvt?period={period}",
            t.z(),
            t.x(),
            t.y()
        )
    };
    let range = tile_bytes(&epi, &path("2022..2026"))
        .await?
        .expect("a tile with villages");
    let year = tile_bytes(&epi, &path("2026"))
        .await?
        .expect("a tile with villages");
    assert_ne!(range, year, "a range's tile is not the year's");
    let range_cases = village_cases(range)?;
    let year_cases = village_cases(year)?;
    assert!(!range_cases.is_empty());
    // Each village's cases are the range's, as the matrix counts them.
    let m = epi
        .get_json(
            &format!("/api/indicators/matrix?indicator=new_cases&units=village&unit={COUNTY}&periods=2022..2026"),
            200,
        )
        .await?;
    let by_code: HashMap<String, f64> = m["units"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            (
                u["code"].as_str().unwrap_or_default().to_owned(),
                u["numerators"][0].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    for (code, n) in &range_cases {
        assert_eq!(Some(n), by_code.get(code), "{code}");
    }
    let sum = |m: &HashMap<String, f64>| m.values().sum::<f64>();
    assert!(
        sum(&range_cases) > sum(&year_cases),
        "five years hold more cases than one"
    );
    // A relative period's tile is its explicit range's.
    let rel = tile_bytes(&epi, &path("last_5_years")).await?;
    let exp = tile_bytes(&epi, &path("2021..2025")).await?;
    assert_eq!(rel, exp);
    // A TileJSON asked with a relative period stays relative.
    let tj = epi
        .get_json("/tiles/villages.json?period=last_12_months", 200)
        .await?;
    assert!(
        tj["tiles"][0]
            .as_str()
            .unwrap_or_default()
            .contains("period=last_12_months"),
        "{tj}"
    );
    let e = refused(&epi, &path("2026..2022"), "period").await?;
    assert_eq!(e["error"]["details"]["reason"], "period_order");

    // A CSV export of a range: 200, named by the range, unlike the year's.
    let csv = |period: &'static str| {
        let epi = &epi;
        async move {
            let r = epi
                .get(&format!("/api/export/villages.csv?period={period}"))
                .await?;
            let status = r.status().as_u16();
            let name = r
                .headers()
                .get("content-disposition")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            Ok::<_, anyhow::Error>((status, name, r.text().await?))
        }
    };
    let (status, name, range_csv) = csv("2022..2026").await?;
    assert_eq!(status, 200, "{range_csv}");
    assert!(name.contains("villages-2022..2026.csv"), "{name}");
    let (status, _, year_csv) = csv("2026").await?;
    assert_eq!(status, 200);
    assert_ne!(range_csv, year_csv);
    assert_eq!(
        range_csv.lines().count(),
        year_csv.lines().count(),
        "one row per village"
    );
    let (status, name, rel_csv) = csv("last_12_months").await?;
    assert_eq!(status, 200);
    assert!(name.contains("villages-2025-11..2026-10.csv"), "{name}");
    let (_, _, exp_csv) = csv("2025-11..2026-10").await?;
    assert_eq!(rel_csv, exp_csv);
    let e = refused(
        &epi,
        "/api/export/villages.csv?period=2022..2026-03",
        "period",
    )
    .await?;
    assert_eq!(e["error"]["details"]["reason"], "period_mixed_kinds");
    // The export's audit entry says what was asked.
    let asked: Option<String> = sqlx::query_scalar(
        "SELECT detail->>'period_asked' FROM audit_log WHERE action = 'export' AND detail->>'period' = '2025-11..2026-10' ORDER BY id LIMIT 1",
    )
    .fetch_optional(&app.db.pool)
    .await?;
    assert_eq!(asked.as_deref(), Some("last_12_months"));

    // OGC: `datetime` takes a period as the rest of the API does.
    let items = |dt: &str| format!("/ogc/collections/case_counts/items?limit=1&datetime={dt}");
    let range = epi.get_json(&items("2022..2026"), 200).await?;
    let days = epi.get_json(&items("2022-01-01/2026-12-31"), 200).await?;
    let year = epi.get_json(&items("2026"), 200).await?;
    assert_eq!(range["numberMatched"], days["numberMatched"]);
    assert!(num(&range["numberMatched"]) > num(&year["numberMatched"]));
    let bad = epi.get_json(&items("2026..2022"), 400).await?;
    assert_eq!(bad["code"], "InvalidParameterValue");
    Ok(())
}

#[tokio::test]
async fn a_refused_period_says_why_with_a_reason_code() -> Result<()> {
    let app = app().await?;
    let epi = app.epi().await?;
    for (period, reason) in [
        ("2026..2022", "period_order"),
        ("2026-03..2026-01", "period_order"),
        ("2022..2026-03", "period_mixed_kinds"),
        ("2025Q1..2026", "period_mixed_kinds"),
        ("2000..2020", "period_too_long"),
        ("2022..2027", "period_future"),
        ("2026-12", "period_future"),
        ("2022..20x6", "period_malformed"),
        ("2022...2026", "period_malformed"),
        ("last_week", "period_malformed"),
        ("1980..1990", "period_year_out_of_range"),
    ] {
        let e = refused(&epi, &format!("/api/indicators?period={period}"), "period").await?;
        assert_eq!(e["error"]["details"]["reason"], reason, "{period}: {e}");
    }
    let e = refused(&epi, "/api/indicators?period=2000..2020", "period").await?;
    assert_eq!(e["error"]["details"]["max_months"], 240);
    assert_eq!(e["error"]["details"]["months"], 252);
    let e = refused(&epi, "/api/indicators?period=2026..2027", "period").await?;
    assert_eq!(e["error"]["details"]["today"], "2026-11-15");
    // The matrix names the parameter that was wrong.
    let e = refused(
        &epi,
        "/api/indicators/matrix?indicator=new_cases&periods=2024,2026..2022",
        "periods",
    )
    .await?;
    assert_eq!(e["error"]["details"]["reason"], "period_order");
    let e = refused(
        &epi,
        "/api/indicators/matrix?indicator=new_cases&from=2026&to=2024&step=year",
        "from",
    )
    .await?;
    assert_eq!(e["error"]["details"]["reason"], "period_order");
    refused(
        &epi,
        "/api/indicators/matrix?indicator=new_cases&periods=2024&step=year",
        "periods",
    )
    .await?;
    // Report forms and the stage take one month, quarter or year: a range is refused, a
    // relative name that resolves to one is taken.
    let e = refused(
        &epi,
        "/api/reports/cases_annual.xlsx?period=2022..2026",
        "period",
    )
    .await?;
    assert_eq!(e["error"]["details"]["reason"], "period_range_not_allowed");
    let e = refused(
        &epi,
        "/api/reports/deworming_monthly.xlsx?period=last_12_months",
        "period",
    )
    .await?;
    assert_eq!(e["error"]["details"]["reason"], "period_range_not_allowed");
    let r = epi
        .get("/api/reports/cases_annual.xlsx?period=last_year")
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let e = refused(&epi, "/api/stage?year=2022..2026", "year").await?;
    assert_eq!(e["error"]["details"]["reason"], "period_range_not_allowed");
    let s = epi.get_json("/api/stage?year=last_year", 200).await?;
    assert_eq!(s["year"], 2025);
    Ok(())
}
