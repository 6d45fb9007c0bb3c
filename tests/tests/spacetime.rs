//! `GET /api/scan/space-time` over the demo data: Kulldorff's retrospective space-time scan finds
//! the planted dog infection cluster with its months, each model answers, bad parameters are
//! 400s naming their field, scoping and small-count suppression hold.

use std::collections::HashMap;

use echinomap_programme::auth::Role;
use echinomap_tests::{Result, TestApp};
use serde_json::Value;

/// The village codes of the demo's southern pastoral cluster (加尕斯台镇 and 山区林场).
fn planted_south() -> Vec<&'static str> {
    let areas: Vec<&'static [&'static str]> = echinomap_geodata::demo::planted_hotspots()
        .iter()
        .filter(|h| h.name.starts_with("南部"))
        .map(|h| h.village_codes)
        .collect();
    assert_eq!(areas.len(), 1, "one planted southern area");
    areas.concat()
}

/// 24 whole months of demo data.
const PERIOD: &str = "from=2024-11-01&to=2026-10-31";

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_space_time_scan_finds_the_planted_cluster_with_its_months() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let fc = epi
        .get_json(
            &format!("/api/scan/space-time?layer=dog_positivity&{PERIOD}&show=all"),
            200,
        )
        .await?;
    let props = &fc["properties"];
    assert_eq!(props["kind"], "space_time");
    assert_eq!(props["model"], "bernoulli");
    assert_eq!(props["max_time_percent"], 50.0);
    let months = strs(&props["months"]);
    assert_eq!(months.len(), 24);
    assert_eq!(months[0], "2024-11");
    assert_eq!(months[23], "2026-10");
    let features = fc["features"].as_array().expect("features");
    assert!(!features.is_empty(), "{props}");
    assert_eq!(
        props["clusters_found"].as_u64(),
        Some(features.len() as u64)
    );

    for f in features {
        let p = &f["properties"];
        assert_eq!(f["geometry"]["type"], "Polygon");
        let (start, end) = (
            p["start_month"].as_str().expect("start_month"),
            p["end_month"].as_str().expect("end_month"),
        );
        let (s, e) = (
            months
                .iter()
                .position(|m| *m == start)
                .expect("a month of the period"),
            months
                .iter()
                .position(|m| *m == end)
                .expect("a month of the period"),
        );
        assert!(
            s <= e && e - s < 12,
            "{start}..{end}: at most half of 24 months"
        );
        let members = p["members"].as_array().expect("members");
        assert_eq!(p["n_locations"].as_u64(), Some(members.len() as u64));
        for m in members {
            assert!(m["code"].as_str().is_some_and(|c| c.len() == 12), "{m}");
            assert!(m["name"].as_str().is_some_and(|n| !n.is_empty()), "{m}");
        }
        assert_eq!(p["center_id"], members[0]["code"]);
        assert!(p["center_name"].as_str().is_some_and(|n| !n.is_empty()));
        let significant = p["p_value"].as_f64().is_some_and(|x| x <= 0.05);
        assert_eq!(p["significant"], significant);
    }

    // The most likely cluster holds the planted southern area, and its positives are its
    // members' in its months.
    let first = &features[0]["properties"];
    assert_eq!(first["cluster_rank"], 1);
    let members = strs(&first["member_ids"]);
    let south = planted_south();
    let inside: Vec<&str> = south
        .iter()
        .copied()
        .filter(|c| members.contains(c))
        .collect();
    assert!(
        2 * inside.len() > south.len(),
        "cluster 1 {members:?} holds only {inside:?} of the southern area {south:?}"
    );
    assert!(
        first["p_value"].as_f64().is_some_and(|p| p <= 0.05),
        "{first}"
    );
    assert!(first["relative_risk"].as_f64().is_some_and(|rr| rr > 1.0));
    let start = format!("{}-01", first["start_month"].as_str().unwrap_or_default());
    let end = first["end_month"].as_str().unwrap_or_default().to_owned();
    let positives: f64 = sqlx::query_scalar(
        "SELECT count(*)::float8 FROM faecal_tests f JOIN villages v ON v.id = f.village_id
         WHERE v.code = ANY($1) AND f.deleted_at IS NULL AND f.result = 'positive'
           AND f.sampled_on >= $2::date
           AND f.sampled_on < ($3 || '-01')::date + interval '1 month'",
    )
    .bind(&members)
    .bind(&start)
    .bind(&end)
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(first["observed"].as_f64(), Some(positives));

    // The permutation model answers on any layer.
    let perm = epi
        .get_json(
            &format!(
                "/api/scan/space-time?layer=dog_positivity&{PERIOD}&model=space_time_permutation&show=all&max_time_percent=25"
            ),
            200,
        )
        .await?;
    assert_eq!(perm["properties"]["model"], "space_time_permutation");
    assert_eq!(perm["properties"]["max_time_percent"], 25.0);
    for f in perm["features"].as_array().expect("features") {
        let p = &f["properties"];
        let s = months
            .iter()
            .position(|m| Some(*m) == p["start_month"].as_str());
        let e = months
            .iter()
            .position(|m| Some(*m) == p["end_month"].as_str());
        assert!(s.zip(e).is_some_and(|(s, e)| e - s < 6), "{p}");
    }

    // A reader without case access gets the same clusters of human cases, small counts withheld.
    let path = format!("/api/scan/space-time?layer=human_cases&{PERIOD}&show=all");
    let truth = epi.get_json(&path, 200).await?;
    assert_eq!(truth["properties"]["model"], "poisson");
    assert_eq!(truth["properties"]["small_counts_suppressed"], false);
    let by_rank: HashMap<u64, Value> = truth["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (p["cluster_rank"].as_u64().unwrap_or_default(), p.clone())
        })
        .collect();
    assert!(!by_rank.is_empty());
    let viewer = app.user(Role::Viewer, "654022").await?;
    let seen = viewer.get_json(&path, 200).await?;
    assert_eq!(seen["properties"]["small_counts_suppressed"], true);
    let features = seen["features"].as_array().expect("features");
    assert_eq!(features.len(), by_rank.len());
    for f in features {
        let p = &f["properties"];
        let t = &by_rank[&p["cluster_rank"].as_u64().unwrap_or_default()];
        assert_eq!(p["start_month"], t["start_month"]);
        let n = t["observed"]
            .as_f64()
            .expect("epidemiologists see every count");
        if (1.0..=4.0).contains(&n) {
            assert_eq!(p["suppressed"], true, "{p}");
            // The LLR with the expected count and the total would give the count back.
            assert!(
                p["observed"].is_null() && p["relative_risk"].is_null() && p["llr"].is_null(),
                "{p}"
            );
        } else {
            assert_eq!(p["suppressed"], false, "{p}");
            assert_eq!(p["observed"].as_f64(), Some(n));
            assert_eq!(p["llr"], t["llr"]);
        }
    }
    Ok(())
}

#[tokio::test]
async fn bad_space_time_requests_are_400s_naming_the_field_and_scope_is_kept() -> Result<()> {
    let app = TestApp::empty().await?;
    let epi = app.epi().await?;
    for (query, field) in [
        ("layer=cats", "layer"),
        ("layer=human_cases&model=bernoulli", "model"),
        ("layer=dog_positivity&model=poisson", "model"),
        ("layer=human_cases&model=linear", "model"),
        ("layer=human_cases&max_time_percent=95", "max_time_percent"),
        ("layer=human_cases&max_time_percent=x", "max_time_percent"),
        (
            "layer=human_cases&max_population_percent=60",
            "max_population_percent",
        ),
        ("layer=human_cases&max_radius_km=-3", "max_radius_km"),
        ("layer=human_cases&alpha=0.9", "alpha"),
        ("layer=human_cases&show=some", "show"),
        ("layer=human_cases&from=2025-01-01&to=2024-01-01", "from"),
        ("layer=human_cases&from=2000-01-01&to=2024-01-01", "from"),
        ("layer=human_cases&township=abc", "township"),
    ] {
        let body = epi
            .get_json(&format!("/api/scan/space-time?{query}"), 400)
            .await?;
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
    let doctor = app.user(Role::VillageDoctor, "654022100200").await?;
    doctor
        .get_json(
            "/api/scan/space-time?layer=human_cases&township=654022104",
            403,
        )
        .await?;
    Ok(())
}
