//! One small-count rule for every output that carries counts of people (DOMAIN.md §7): the API
//! (hotspots, work lists, village risk), vector tiles (decoded), the exports (GeoJSON and CSV),
//! OGC API – Features and the XLSX report forms. For every audience an output serves, each count
//! is judged against the same count as a role with case access sees it: a count from 1 to the
//! audience's maximum is hidden (each output in its own way: `null`, an empty CSV cell, `*`),
//! every other count is shown as it is.
//!
//! The suite runs twice: with the county's rule (1–4 inside the organisation, 1–9 outside) and
//! with a rule made up for the test (1–6 and 1–11). The second run proves that every output takes
//! the threshold from the one rule (`domain::privacy`, configured in `ProgrammeSettings`) rather
//! than from a number of its own: counts of 5 and 6 (10 and 11 outside) must disappear from all
//! of them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use calamine::Data;
use echinomap_programme::auth::Role;
use echinomap_tests::read::{cell_number, cell_text, mvt_number, mvt_text, sheet};
use echinomap_tests::{ApiClient, Result, TestApp, TestDb};
use serde_json::Value;

const COUNTY: &str = "654022";
const PERIOD: &str = "2025";

/// The thresholds a run applies: the largest hidden count inside and outside.
#[derive(Debug, Clone, Copy)]
struct Rule {
    inside: i64,
    outside: i64,
}

const COUNTY_RULE: Rule = Rule {
    inside: 4,
    outside: 9,
};

/// What one output showed one audience, cell by cell, against the truth.
#[derive(Debug, Default)]
struct Tally {
    hidden: usize,
    shown: usize,
    /// Hidden counts above the county's own maximum for that audience: they prove that the
    /// output follows a rule other than the county's when told to.
    hidden_above_county_rule: usize,
}

#[derive(Debug, Default)]
struct Judge {
    tallies: BTreeMap<String, Tally>,
}

impl Judge {
    /// `truth` is the count a role with case access sees; `shown` what the audience got
    /// (`None`: hidden). `max` is the audience's maximum in this run, `county_max` under the
    /// county's rule.
    fn cell(
        &mut self,
        output: &str,
        truth: f64,
        shown: Option<f64>,
        (max, county_max): (i64, i64),
        at: &str,
    ) {
        let t = self.tallies.entry(output.to_owned()).or_default();
        if truth >= 1.0 && truth <= max as f64 {
            assert_eq!(
                shown, None,
                "{output} {at}: a count of {truth} reached an audience whose maximum is {max}"
            );
            t.hidden += 1;
            if truth > county_max as f64 {
                t.hidden_above_county_rule += 1;
            }
        } else {
            assert_eq!(
                shown,
                Some(truth),
                "{output} {at}: a count of {truth} must be shown as it is (maximum {max})"
            );
            t.shown += 1;
        }
    }

    /// Every output hid some counts and showed others; under a wider rule than the county's,
    /// the outputs hid counts the county's rule shows.
    fn finish(self, rule: Rule) {
        for (output, t) in &self.tallies {
            eprintln!("{output}: {t:?}");
            assert!(t.hidden > 0, "{output}: no count was hidden: {t:?}");
            assert!(t.shown > 0, "{output}: no count was shown: {t:?}");
        }
        let expected = [
            "tiles villages (inside)",
            "export case_counts.geojson (inside)",
            "export case_counts.geojson (outside)",
            "export case_counts.csv (inside)",
            "export case_counts.csv (outside)",
            "ogc case_counts (inside)",
            "api hotspots human_cases (inside)",
            "api worklists followups (inside)",
            "api risk new_cases (inside)",
            "api indicators new_cases (inside)",
            "api summary (inside)",
            "xlsx cases_annual (inside)",
        ];
        let seen: HashSet<&str> = self.tallies.keys().map(String::as_str).collect();
        for e in expected {
            assert!(seen.contains(e), "{e} was not judged");
        }
        if rule.inside > COUNTY_RULE.inside {
            for (output, t) in &self.tallies {
                assert!(
                    t.hidden_above_county_rule > 0,
                    "{output} showed no count the county's rule would show and this one hides: {t:?}"
                );
            }
        }
    }
}

async fn app_with(rule: Rule) -> Result<TestApp> {
    TestApp::spawn_with(TestDb::demo().await?, None, move |s| {
        s.programme.small_counts = (rule.inside, rule.outside);
    })
    .await
}

async fn text_of(c: &ApiClient, path: &str) -> Result<String> {
    let r = c.get(path).await?;
    let status = r.status().as_u16();
    let body = r.text().await?;
    anyhow::ensure!(status == 200, "{path}: {status} {body}");
    Ok(body)
}

async fn bytes_of(c: &ApiClient, path: &str) -> Result<Vec<u8>> {
    let r = c.get(path).await?;
    let status = r.status().as_u16();
    anyhow::ensure!(status == 200, "{path}: {status}");
    Ok(r.bytes().await?.to_vec())
}

/// The features of a GeoJSON export or OGC page, by id.
fn features_by_id(doc: &Value) -> BTreeMap<String, Value> {
    doc["features"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    let id = f["id"]
                        .as_str()
                        .map_or_else(|| f["id"].to_string(), str::to_owned);
                    (id, f["properties"].clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

const CASE_COUNT_COLUMNS: [&str; 3] = ["cases", "ce", "ae"];

async fn exports(
    judge: &mut Judge,
    rule: Rule,
    epi: &ApiClient,
    planner: &ApiClient,
) -> Result<()> {
    let geojson = |q: &str| format!("/api/export/case_counts.geojson?period={PERIOD}{q}");
    let truth: Value = serde_json::from_str(&text_of(epi, &geojson("")).await?)?;
    let truth = features_by_id(&truth);
    assert!(!truth.is_empty(), "the demo has cases in {PERIOD}");
    let audiences = [
        ("inside", planner, "", (rule.inside, COUNTY_RULE.inside)),
        (
            "outside",
            epi,
            "&audience=external",
            (rule.outside, COUNTY_RULE.outside),
        ),
    ];
    for (name, client, query, max) in audiences {
        let output = format!("export case_counts.geojson ({name})");
        let got: Value = serde_json::from_str(&text_of(client, &geojson(query)).await?)?;
        let got = features_by_id(&got);
        assert_eq!(got.len(), truth.len(), "{output}: the same rows");
        for (id, t) in &truth {
            let g = &got[id];
            let mut any_hidden = false;
            for key in CASE_COUNT_COLUMNS {
                let n = t[key].as_f64().expect("case access sees every count");
                judge.cell(&output, n, g[key].as_f64(), max, &format!("{id} {key}"));
                any_hidden |= g[key].is_null();
            }
            assert_eq!(g["suppressed"], any_hidden, "{output} {id}: the flag");
        }
        // The same rows as CSV: an empty cell where GeoJSON has null.
        let output = format!("export case_counts.csv ({name})");
        let csv = text_of(
            client,
            &format!("/api/export/case_counts.csv?period={PERIOD}&lang=en{query}"),
        )
        .await?;
        let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
        let headers = reader.headers()?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{output}: no column {name} in {headers:?}"))
        };
        // A row is a village and a month (the GeoJSON id `village-month`).
        let (code_col, month_col) = (col("village_code"), col("month"));
        let cols: Vec<(&str, usize)> = CASE_COUNT_COLUMNS.iter().map(|k| (*k, col(k))).collect();
        let mut rows = 0;
        for record in reader.records() {
            let record = record?;
            let id = format!("{}-{}", &record[code_col], &record[month_col]);
            let t = truth
                .get(&id)
                .unwrap_or_else(|| panic!("{output}: row {id} is not in the GeoJSON"));
            for (key, c) in &cols {
                let n = t[*key].as_f64().expect("case access sees every count");
                let cell = &record[*c];
                let shown = if cell.is_empty() {
                    None
                } else {
                    Some(cell.parse::<f64>()?)
                };
                judge.cell(&output, n, shown, max, &format!("{id} {key}"));
            }
            rows += 1;
        }
        assert_eq!(rows, truth.len(), "{output}: every row");
    }
    // OGC API – Features serves the organisation (planners' QGIS): the inside rule.
    let items = |c: &ApiClient| {
        let c = c.clone();
        async move {
            let mut all = BTreeMap::new();
            let mut url = format!(
                "/ogc/collections/case_counts/items?limit=1000&datetime={PERIOD}-01-01/{PERIOD}-12-31"
            );
            loop {
                let page: Value = serde_json::from_str(&text_of(&c, &url).await?)?;
                all.extend(features_by_id(&page));
                let next = page["links"].as_array().and_then(|ls| {
                    ls.iter()
                        .find(|l| l["rel"] == "next")
                        .and_then(|l| l["href"].as_str())
                        .map(str::to_owned)
                });
                match next {
                    Some(href) => {
                        url = href
                            .split_once("/ogc/")
                            .map(|(_, rest)| format!("/ogc/{rest}"))
                            .unwrap_or(href)
                    }
                    None => break,
                }
            }
            anyhow::Ok(all)
        }
    };
    let truth = items(epi).await?;
    let got = items(planner).await?;
    assert!(!truth.is_empty());
    assert_eq!(got.len(), truth.len(), "ogc: the same features");
    for (id, t) in &truth {
        for key in CASE_COUNT_COLUMNS {
            let n = t[key].as_f64().expect("case access sees every count");
            judge.cell(
                "ogc case_counts (inside)",
                n,
                got[id][key].as_f64(),
                (rule.inside, COUNTY_RULE.inside),
                &format!("{id} {key}"),
            );
        }
    }
    Ok(())
}

async fn village_tile(c: &ApiClient, t: tiles::TileCoord) -> Result<HashMap<String, Option<f64>>> {
    let path = format!(
        "/tiles/villages/{}/{}/{}.mvt?period={PERIOD}",
        t.z(),
        t.x(),
        t.y()
    );
    let r = c.get(&path).await?;
    let status = r.status().as_u16();
    if status == 204 {
        return Ok(HashMap::new());
    }
    anyhow::ensure!(status == 200, "{path}: {status}");
    let gzipped = r
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let mut bytes = r.bytes().await?.to_vec();
    if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut out)?;
        bytes = out;
    }
    let reader = mvt_reader::Reader::new(bytes).map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
    let features = reader
        .get_features(0)
        .map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
    Ok(features
        .iter()
        .filter_map(|f| mvt_text(f, "code").map(|code| (code, mvt_number(f, "cases"))))
        .collect())
}

async fn tiles(
    judge: &mut Judge,
    rule: Rule,
    app: &TestApp,
    epi: &ApiClient,
    planner: &ApiClient,
) -> Result<()> {
    let points: Vec<(f64, f64)> =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code LIKE $1 || '%'")
            .bind(COUNTY)
            .fetch_all(&app.db.pool)
            .await?;
    let coords: HashSet<(u32, u32)> = points
        .iter()
        .filter_map(|(lon, lat)| tiles::TileCoord::containing(*lon, *lat, 9).ok())
        .map(|t| (t.x(), t.y()))
        .collect();
    let mut seen = HashSet::new();
    for (x, y) in coords {
        let t = tiles::TileCoord::new(9, x, y)?;
        let truth = village_tile(epi, t).await?;
        let got = village_tile(planner, t).await?;
        assert_eq!(got.len(), truth.len(), "tile {x}/{y}: the same villages");
        for (code, n) in &truth {
            let n = n.unwrap_or_else(|| panic!("case access sees the cases of {code}"));
            let shown = *got
                .get(code)
                .unwrap_or_else(|| panic!("tile {x}/{y}: {code} is missing for the planner"));
            judge.cell(
                "tiles villages (inside)",
                n,
                shown,
                (rule.inside, COUNTY_RULE.inside),
                code,
            );
            seen.insert(code.clone());
        }
    }
    assert_eq!(
        seen.len(),
        points.len(),
        "every village of the county on its tile"
    );
    Ok(())
}

async fn api(
    judge: &mut Judge,
    rule: Rule,
    epi: &ApiClient,
    planner: &ApiClient,
    viewer: &ApiClient,
) -> Result<()> {
    let inside = (rule.inside, COUNTY_RULE.inside);
    // Hot spots of human cases: the count of each cell.
    let path = "/api/hotspots?layer=human_cases&unit=h3&resolution=8&from=2021-11-15&to=2026-11-15";
    let cells = |v: Value| -> BTreeMap<String, Value> {
        v["features"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .map(|f| {
                        let p = &f["properties"];
                        (
                            p["h3_cell"].as_str().unwrap_or_default().to_owned(),
                            p.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let truth = cells(epi.get_json(path, 200).await?);
    let got = cells(planner.get_json(path, 200).await?);
    assert_eq!(got.len(), truth.len(), "hotspots: the same cells");
    for (cell, t) in &truth {
        let n = t["count"].as_f64().expect("case access sees every count");
        judge.cell(
            "api hotspots human_cases (inside)",
            n,
            got[cell]["count"].as_f64(),
            inside,
            cell,
        );
    }
    // Follow-ups due: the count of each village, each township and the total.
    let counts = |v: Value| -> BTreeMap<String, Option<f64>> {
        let mut out: BTreeMap<String, Option<f64>> = ["villages", "townships"]
            .into_iter()
            .flat_map(|level| {
                v[level]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |u| {
                        let code = u["code"].as_str().or(u["township_code"].as_str());
                        (
                            format!("{level} {}", code.unwrap_or_default()),
                            u["count"].as_f64(),
                        )
                    })
            })
            .collect();
        out.insert("total".to_owned(), v["total"].as_f64());
        out
    };
    let truth = counts(epi.get_json("/api/worklists/followups", 200).await?);
    let got = counts(planner.get_json("/api/worklists/followups", 200).await?);
    assert_eq!(
        got.len(),
        truth.len(),
        "follow-ups: the same villages and townships"
    );
    for (unit, n) in &truth {
        let n = n.expect("case access sees every count");
        judge.cell(
            "api worklists followups (inside)",
            n,
            got[unit],
            inside,
            unit,
        );
    }
    // The indicator matrix: new cases of each village in the year.
    let numerators = |v: Value| -> BTreeMap<String, Option<f64>> {
        v["units"]
            .as_array()
            .map(|us| {
                us.iter()
                    .map(|u| {
                        (
                            u["code"].as_str().unwrap_or_default().to_owned(),
                            u["numerators"][0].as_f64(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let path = format!(
        "/api/indicators/matrix?indicator=new_cases&units=village&unit={COUNTY}&from={PERIOD}&to={PERIOD}&step=year"
    );
    let truth = numerators(epi.get_json(&path, 200).await?);
    let got = numerators(viewer.get_json(&path, 200).await?);
    assert!(!truth.is_empty(), "the matrix has villages");
    assert_eq!(got.len(), truth.len(), "indicators: the same villages");
    for (code, n) in &truth {
        let n = n.expect("case access sees every count");
        judge.cell(
            "api indicators new_cases (inside)",
            n,
            got[code],
            inside,
            code,
        );
    }
    // Village risk: the raw value of the new-cases component.
    let new_cases = |v: Value| -> BTreeMap<String, Option<f64>> {
        v["items"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .map(|v| {
                        let raw = v["components"]
                            .as_array()
                            .and_then(|cs| cs.iter().find(|c| c["component"] == "new_cases"))
                            .and_then(|c| c["raw"].as_f64());
                        (v["code"].as_str().unwrap_or_default().to_owned(), raw)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let path = format!("/api/risk?township={COUNTY}");
    let truth = new_cases(epi.get_json(&path, 200).await?);
    let got = new_cases(viewer.get_json(&path, 200).await?);
    assert_eq!(got.len(), truth.len(), "risk: the same villages");
    for (code, n) in &truth {
        let n = n.expect("case access sees every count");
        judge.cell("api risk new_cases (inside)", n, got[code], inside, code);
    }
    Ok(())
}

/// `/api/summary` of a village: the counts of the registers of people, for a viewer of that
/// village against an epidemiologist of the same village.
async fn summaries(
    judge: &mut Judge,
    rule: Rule,
    app: &TestApp,
    villages: &[String],
) -> Result<()> {
    for village in villages {
        let truth = app
            .user(Role::Epidemiologist, village)
            .await?
            .get_json("/api/summary", 200)
            .await?;
        let got = app
            .user(Role::Viewer, village)
            .await?
            .get_json("/api/summary", 200)
            .await?;
        for register in echinomap_programme::registers::REGISTERS
            .iter()
            .filter(|r| r.personal)
        {
            let n = truth["registers"][register.table]
                .as_f64()
                .expect("case access sees every count");
            judge.cell(
                "api summary (inside)",
                n,
                got["registers"][register.table].as_f64(),
                (rule.inside, COUNTY_RULE.inside),
                &format!("{village} {}", register.table),
            );
        }
    }
    Ok(())
}

async fn reports(
    judge: &mut Judge,
    rule: Rule,
    epi: &ApiClient,
    planner: &ApiClient,
) -> Result<()> {
    let path = format!("/api/reports/cases_annual.xlsx?period={PERIOD}");
    let truth = sheet(&bytes_of(epi, &path).await?)?;
    let got = sheet(&bytes_of(planner, &path).await?)?;
    // The township rows and the totals: new cases (column 3) and new cases in children (6).
    let unit_rows = |rows: &[Vec<Data>]| -> Vec<Vec<Data>> {
        rows.iter()
            .filter(|r| {
                let code = cell_text(&r[2]);
                cell_text(&r[0]) == "合计"
                    || (code.len() == 9 && code.bytes().all(|b| b.is_ascii_digit()))
            })
            .cloned()
            .collect()
    };
    let (truth, got) = (unit_rows(&truth), unit_rows(&got));
    assert!(truth.len() > 10, "the townships and the totals");
    assert_eq!(got.len(), truth.len(), "the same rows");
    for (t, g) in truth.iter().zip(&got) {
        for col in [3, 6] {
            let n = cell_number(&t[col]).expect("case access sees every count");
            let shown = match cell_text(&g[col]).as_str() {
                "*" => None,
                _ => Some(cell_number(&g[col]).expect("a number or *")),
            };
            judge.cell(
                "xlsx cases_annual (inside)",
                n,
                shown,
                (rule.inside, COUNTY_RULE.inside),
                &format!("{} column {col}", cell_text(&t[2])),
            );
        }
    }
    Ok(())
}

/// Gives the first village without any case `n` new cases (new patients, one report each) on
/// `day` (SQL date expression): a count on the edge between the county's rule and the wider
/// one, which the demo data alone does not always have.
async fn plant(app: &TestApp, n: i64, day: &str) -> Result<String> {
    let sql = format!(
        "WITH v AS (
             SELECT v.id, v.code FROM villages v
             WHERE v.code LIKE '{COUNTY}%'
               AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.village_id = v.id)
               AND (SELECT count(*) FROM people p WHERE p.village_id = v.id AND p.deleted_at IS NULL) >= $1
             ORDER BY v.code LIMIT 1),
         planted AS (
             INSERT INTO cases (person_id, village_id, case_type, diagnosis_class, organ, discovery_route, reported_on)
             SELECT p.id, p.village_id, 'CE', 'confirmed', 'liver', 'screening', {day}
             FROM people p JOIN v ON p.village_id = v.id
             WHERE p.deleted_at IS NULL
             ORDER BY p.id LIMIT $1
             RETURNING village_id)
         SELECT v.code::text FROM v WHERE (SELECT count(*) FROM planted) = $1"
    );
    let code: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(n)
        .fetch_optional(&app.db.pool)
        .await?;
    code.ok_or_else(|| anyhow::anyhow!("no village without cases has {n} people"))
}

async fn every_output_follows(rule: Rule) -> Result<()> {
    let app = app_with(rule).await?;
    // Counts just above the county's maximum inside (5) and outside (10), in 2025 (exports, OGC,
    // tiles and the report of that year) and in the last months (the risk model's window).
    let three = plant(&app, 3, "DATE '2025-05-01'").await?;
    let five = plant(&app, 5, "DATE '2025-06-01'").await?;
    plant(&app, 10, "DATE '2025-07-01'").await?;
    plant(&app, 5, "CURRENT_DATE - 20").await?;
    let epi = app.user(Role::Epidemiologist, COUNTY).await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    let viewer = app.user(Role::Viewer, COUNTY).await?;
    let mut judge = Judge::default();
    exports(&mut judge, rule, &epi, &planner).await?;
    tiles(&mut judge, rule, &app, &epi, &planner).await?;
    api(&mut judge, rule, &epi, &planner, &viewer).await?;
    summaries(&mut judge, rule, &app, &[three, five]).await?;
    reports(&mut judge, rule, &epi, &planner).await?;
    judge.finish(rule);
    Ok(())
}

#[tokio::test]
async fn every_output_hides_counts_of_1_to_4_inside_and_1_to_9_outside() -> Result<()> {
    every_output_follows(COUNTY_RULE).await
}

#[tokio::test]
async fn every_output_follows_a_rule_of_1_to_6_inside_and_1_to_11_outside() -> Result<()> {
    every_output_follows(Rule {
        inside: 6,
        outside: 11,
    })
    .await
}
