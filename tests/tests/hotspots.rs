//! The hotspot engine in the service: `/api/hotspots` and `/api/scan` over the demo data with
//! its planted high-risk areas, result storage keyed by data versions, scoping, suppression.

use std::collections::HashMap;

use echinomap_geodata::hotspots::{self, Place};
use echinomap_programme::auth::Role;
use echinomap_tests::{Result, TestApp};
use serde_json::Value;

/// The village codes of the planted area whose name starts with `name`
/// (`echinomap_geodata::demo::planted_hotspots`).
fn planted(name: &str) -> Vec<&'static str> {
    let areas: Vec<&'static [&'static str]> = echinomap_geodata::demo::planted_hotspots()
        .iter()
        .filter(|h| h.name.starts_with(name))
        .map(|h| h.village_codes)
        .collect();
    assert_eq!(areas.len(), 1, "one planted area named {name}");
    areas.concat()
}

/// The southern pastoral cluster of the demo (加尕斯台镇 and the 山区林场 unit).
fn planted_south() -> Vec<&'static str> {
    planted("南部")
}

/// The eastern CE cluster of the demo (坎乡 and 阔洪奇乡).
fn planted_east() -> Vec<&'static str> {
    planted("东部")
}

async fn cells_of(app: &TestApp, codes: &[&str], column: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT DISTINCT lower(to_hex({column})) FROM villages WHERE code = ANY($1)");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(codes)
        .fetch_all(&app.db.pool)
        .await?)
}

/// The H3 cells at `resolution` that hold the villages `codes` (where the service puts their
/// counts), and those cells with their ring: `grid_disk(cell, 1)`, the neighbourhood Gi* sums.
async fn planted_cells_and_ring(
    app: &TestApp,
    codes: &[&str],
    resolution: u8,
) -> Result<(Vec<String>, Vec<String>)> {
    let points: Vec<(f64, f64)> =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code = ANY($1)")
            .bind(codes)
            .fetch_all(&app.db.pool)
            .await?;
    assert_eq!(
        points.len(),
        codes.len(),
        "every planted village is in the data"
    );
    let places: Vec<Place> = points
        .iter()
        .map(|&(lon, lat)| Place {
            lon,
            lat,
            count: 0.0,
            population: 1.0,
        })
        .collect();
    let occupied = hotspots::aggregate(&places, hotspots::resolution(resolution)?)?;
    let cells: Vec<String> = occupied
        .iter()
        .map(|c| hotspots::cell_hex(c.cell))
        .collect();
    let mut ring: Vec<String> = occupied
        .iter()
        .flat_map(|c| {
            let disk: Vec<_> = c.cell.grid_disk(1);
            disk
        })
        .map(hotspots::cell_hex)
        .collect();
    ring.sort();
    ring.dedup();
    // The stored cells of the villages agree with the ones computed here.
    let mut stored = cells_of(app, codes, &format!("h3_r{resolution}")).await?;
    stored.sort();
    let mut computed = cells.clone();
    computed.sort();
    assert_eq!(stored, computed, "the villages' stored H3 cells");
    Ok((cells, ring))
}

const PERIOD: &str = "from=2021-11-15&to=2026-11-15";

#[tokio::test]
async fn the_hottest_cells_hold_the_planted_southern_cluster_and_results_are_reused() -> Result<()>
{
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let path = format!("/api/hotspots?layer=human_cases&resolution=7&{PERIOD}");
    let fc = epi.get_json(&path, 200).await?;
    assert_eq!(fc["type"], "FeatureCollection");
    let features = fc["features"].as_array().expect("features");
    assert!(features.len() > 10);
    for f in features {
        assert_eq!(f["geometry"]["type"], "Polygon");
        for key in [
            "h3_cell",
            "n_points",
            "population",
            "count",
            "rate",
            "eb_rate",
            "spatial_eb_rate",
            "neighbors",
            "gi_star_z",
            "gi_star_p",
            "gi_star_p_sim",
            "gi_star_bin",
            "lisa_i",
            "lisa_quadrant",
            "lisa_p_sim",
            "lisa_cluster",
        ] {
            assert!(f["properties"].get(key).is_some(), "{key} missing");
        }
    }
    // The hottest cells by Gi* z lie in the planted southern area or its ring (the cells
    // whose Gi* neighbourhood, grid_disk k = 1, holds a planted village).
    let mut by_z: Vec<(f64, &str)> = features
        .iter()
        .filter_map(|f| {
            let p = &f["properties"];
            Some((p["gi_star_z"].as_f64()?, p["h3_cell"].as_str()?))
        })
        .collect();
    assert_eq!(by_z.len(), features.len(), "every cell has a Gi* z");
    by_z.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (planted, ring) = planted_cells_and_ring(&app, &planted_south(), 7).await?;
    // As many of the hottest as the area has cells; one of them may be an ordinary village
    // with a chance high rate (654022105203 here: 9 cases in 944 people, no neighbour).
    let hottest = &by_z[..planted.len()];
    let inside = hottest
        .iter()
        .filter(|(_, cell)| ring.iter().any(|c| c == cell))
        .count();
    assert!(
        inside + 1 >= hottest.len(),
        "only {inside} of the {} hottest cells {hottest:?} lie in the planted southern area \
         {planted:?} or its ring",
        hottest.len()
    );
    assert!(
        planted.iter().any(|c| c == by_z[0].1),
        "the hottest cell {:?} is not a cell of the planted southern area {planted:?}",
        by_z[0]
    );
    assert!(
        by_z[0].0 > 1.96,
        "the hottest cell is not hot: {:?}",
        by_z[0]
    );
    assert!(fc["properties"]["summary"]["moran"].is_object());
    // Stored: the same request is served from the stored result.
    let again = epi.get_json(&path, 200).await?;
    assert_eq!(
        again["properties"]["computed_at"],
        fc["properties"]["computed_at"]
    );
    // New data → a new result.
    sqlx::query(
        "INSERT INTO cases (person_id, village_id, case_type, diagnosis_class, organ, discovery_route, reported_on)
         SELECT id, village_id, 'CE', 'confirmed', 'liver', 'screening', DATE '2026-03-01' FROM people LIMIT 1",
    )
    .execute(&app.db.pool)
    .await?;
    let fresh = epi.get_json(&path, 200).await?;
    assert_ne!(
        fresh["properties"]["computed_at"],
        fc["properties"]["computed_at"]
    );
    Ok(())
}

#[tokio::test]
async fn the_scan_finds_the_planted_dog_infection_cluster() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let fc = epi
        .get_json(&format!("/api/scan?layer=dog_positivity&{PERIOD}"), 200)
        .await?;
    let first = &fc["features"][0];
    assert_eq!(first["properties"]["cluster_rank"], 1);
    assert_eq!(first["geometry"]["type"], "Polygon");
    let members: Vec<&str> = first["properties"]["member_ids"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!members.is_empty(), "cluster 1 has no members");
    assert_eq!(
        first["properties"]["n_locations"].as_u64(),
        Some(members.len() as u64)
    );
    // Mostly one planted area. Not by the number of villages: the southern area is not
    // round, and ordinary villages between and around its villages (1–8% positive, several
    // above the county's 5.7%) enter every circle that holds it. By what the cluster is made
    // of: more than half of its positive tests come from one planted area, more than half of
    // that area's villages are members, and the circle is centred on one of them.
    let observed = first["properties"]["observed"].as_f64().expect("observed");
    let positives: HashMap<String, f64> = sqlx::query_as::<_, (String, f64)>(
        "SELECT v.code::text, count(f.id)::float8 FROM villages v
         JOIN faecal_tests f ON f.village_id = v.id AND f.deleted_at IS NULL AND f.result = 'positive'
              AND f.sampled_on BETWEEN DATE '2021-11-15' AND DATE '2026-11-15'
         WHERE v.code = ANY($1) GROUP BY v.code",
    )
    .bind(&members)
    .fetch_all(&app.db.pool)
    .await?
    .into_iter()
    .collect();
    let of =
        |codes: &[&str]| -> f64 { codes.iter().filter_map(|c| positives.get(*c)).sum::<f64>() };
    assert_eq!(
        of(&members),
        observed,
        "the cluster's positives are its members'"
    );
    let centre = first["properties"]["center_id"]
        .as_str()
        .unwrap_or_default();
    let area = [("southern", planted_south()), ("eastern", planted_east())]
        .into_iter()
        .find(|(_, codes)| codes.contains(&centre))
        .unwrap_or_else(|| panic!("cluster 1 is centred on {centre}, in no planted area"));
    let (name, codes) = area;
    let in_area: Vec<&str> = members
        .iter()
        .copied()
        .filter(|m| codes.contains(m))
        .collect();
    assert!(
        2 * in_area.len() > codes.len(),
        "cluster 1 {members:?} holds only {in_area:?} of the {name} area {codes:?}"
    );
    assert!(
        2.0 * of(&in_area) > observed,
        "only {} of the {observed} positives of cluster 1 {members:?} are in the {name} area {codes:?}",
        of(&in_area)
    );
    assert!(
        first["properties"]["relative_risk"]
            .as_f64()
            .is_some_and(|rr| rr > 1.0)
    );
    assert!(
        first["properties"]["p_value"]
            .as_f64()
            .is_some_and(|p| p <= 0.05)
    );
    Ok(())
}

#[tokio::test]
async fn planners_get_statistics_without_small_counts_and_townships_only_their_cells() -> Result<()>
{
    let app = TestApp::with_demo().await?;
    let planner = app.user(Role::Planner, "654022").await?;
    let epi = app.epi().await?;
    let path = format!("/api/hotspots?layer=human_cases&resolution=8&{PERIOD}");
    let fc = planner.get_json(&path, 200).await?;
    assert_eq!(fc["properties"]["small_counts_suppressed"], true);
    // The epidemiologist's counts are the truth every planner cell is checked against.
    let truth: HashMap<String, Value> = epi.get_json(&path, 200).await?["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["h3_cell"].as_str().unwrap_or_default().to_owned(),
                p.clone(),
            )
        })
        .collect();
    let features = fc["features"].as_array().expect("features");
    assert_eq!(features.len(), truth.len(), "the same cells for both roles");
    let (mut hidden, mut shown) = (0, 0);
    for f in features {
        let p = &f["properties"];
        let cell = p["h3_cell"].as_str().unwrap_or_default();
        let t = truth
            .get(cell)
            .unwrap_or_else(|| panic!("{cell} is not among the epidemiologist's cells"));
        let n = t["count"]
            .as_f64()
            .expect("epidemiologists see every count");
        assert!(p.get("gi_star_z").is_some(), "statistics stay");
        assert_eq!(p["gi_star_z"], t["gi_star_z"], "{cell}");
        if (1.0..=4.0).contains(&n) {
            hidden += 1;
            assert_eq!(p["suppressed"], true, "{cell}: {p}");
            assert!(
                p["count"].is_null(),
                "a count of {n} reached a planner: {p}"
            );
            for key in ["rate", "eb_rate", "spatial_eb_rate"] {
                assert!(p[key].is_null(), "{cell}: {key} of a count of {n}: {p}");
            }
        } else {
            shown += 1;
            assert_eq!(p["suppressed"], false, "{cell}: {p}");
            assert_eq!(p["count"].as_f64(), Some(n), "{cell}");
            assert_eq!(p["rate"], t["rate"], "{cell}");
        }
    }
    assert!(hidden > 0, "the demo has cells of 1–4 cases");
    assert!(shown > 0, "the demo has cells of 0 or more than 4 cases");
    let ts = app.user(Role::TownshipStaff, "654022104").await?;
    let own = ts
        .get_json(
            &format!("/api/hotspots?layer=dog_positivity&resolution=8&{PERIOD}"),
            200,
        )
        .await?;
    let allowed = {
        let codes: Vec<String> =
            sqlx::query_scalar("SELECT code::text FROM villages WHERE township_code = '654022104'")
                .fetch_all(&app.db.pool)
                .await?;
        let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        cells_of(&app, &refs, "h3_r8").await?
    };
    let own_cells = own["features"].as_array().expect("features");
    assert!(!own_cells.is_empty(), "the township has cells of its own");
    for f in own_cells {
        let cell = f["properties"]["h3_cell"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(allowed.contains(&cell), "{cell} is outside the township");
    }
    ts.get_json("/api/hotspots?layer=human_cases&township=654022100", 403)
        .await?;
    Ok(())
}

#[tokio::test]
async fn bad_hotspot_requests_are_clear_400s() -> Result<()> {
    let app = TestApp::empty().await?;
    let epi = app.epi().await?;
    for (path, field) in [
        ("/api/hotspots?layer=goats", "layer"),
        ("/api/hotspots?layer=human_cases&resolution=5", "resolution"),
        (
            "/api/hotspots?layer=human_cases&from=2025-01-01&to=2024-01-01",
            "from",
        ),
        (
            "/api/hotspots?layer=human_cases&variable=median",
            "variable",
        ),
        ("/api/hotspots?layer=human_cases&ring=9", "ring"),
        ("/api/scan?layer=cats", "layer"),
    ] {
        let body = epi.get_json(path, 400).await?;
        assert_eq!(body["error"]["details"]["field"], field, "{path}: {body}");
    }
    epi.get_json("/api/hotspots", 400).await?;
    Ok(())
}
