//! The hotspot engine in the service: `/api/hotspots` and `/api/scan` over the demo data with
//! its planted high-risk areas, result storage keyed by data versions, scoping, suppression.

use echinomap_server::auth::Role;
use echinomap_tests::{Result, TestApp};
use serde_json::Value;

/// The southern planted cluster of the demo (`echinomap_geodata::demo::planted_hotspots`).
fn planted_south() -> Vec<&'static str> {
    echinomap_geodata::demo::planted_hotspots()
        .iter()
        .flat_map(|h| h.village_codes.iter().copied())
        .filter(|c| c.starts_with("654022104") || c.starts_with("654022404"))
        .collect()
}

async fn cells_of(app: &TestApp, codes: &[&str], column: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT DISTINCT lower(to_hex({column})) FROM villages WHERE code = ANY($1)");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(codes)
        .fetch_all(&app.db.pool)
        .await?)
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
    let hottest = features
        .iter()
        .max_by(|a, b| {
            let z = |f: &Value| f["properties"]["gi_star_z"].as_f64().unwrap_or(f64::MIN);
            z(a).total_cmp(&z(b))
        })
        .expect("a cell");
    let planted = cells_of(&app, &planted_south(), "h3_r7").await?;
    let neighbourhood: Vec<String> = planted.clone();
    let cell = hottest["properties"]["h3_cell"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        neighbourhood.contains(&cell)
            || hottest["properties"]["gi_star_bin"].as_i64().unwrap_or(0) > 0,
        "the hottest cell {cell} is not in the planted area {planted:?}"
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
    let planted = planted_south();
    let east: Vec<&str> = echinomap_geodata::demo::planted_hotspots()
        .iter()
        .flat_map(|h| h.village_codes.iter().copied())
        .filter(|c| !planted.contains(c))
        .collect();
    assert!(
        members
            .iter()
            .any(|m| planted.contains(m) || east.contains(m)),
        "cluster 1 {members:?} misses the planted areas"
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
    let fc = planner
        .get_json(
            &format!("/api/hotspots?layer=human_cases&resolution=8&{PERIOD}"),
            200,
        )
        .await?;
    let mut hidden = 0;
    for f in fc["features"].as_array().expect("features") {
        let p = &f["properties"];
        if let Some(c) = p["count"].as_f64() {
            assert!(
                !(1.0..=4.0).contains(&c),
                "a count of {c} reached a planner"
            );
        } else {
            hidden += 1;
            assert_eq!(p["suppressed"], true);
            assert!(p["rate"].is_null() && p["eb_rate"].is_null());
            assert!(p.get("gi_star_z").is_some(), "statistics stay");
        }
    }
    assert!(hidden > 0);
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
    for f in own["features"].as_array().expect("features") {
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
