//! `GET /api/scan` shown honestly, on the demo data: only significant clusters by default, every
//! cluster marked with `show=all`, the window options (`max_population_percent`,
//! `max_radius_km`), village names, the diagnosis when nothing is significant, and 400s that
//! name the bad parameter.

use std::collections::{HashMap, HashSet};

use echinomap_programme::auth::Role;
use echinomap_tests::{Result, TestApp};
use serde_json::Value;

const PERIOD: &str = "from=2021-11-15&to=2026-11-15";

fn features(fc: &Value) -> &Vec<Value> {
    fc["features"].as_array().expect("features")
}

fn p_value(f: &Value) -> f64 {
    f["properties"]["p_value"]
        .as_f64()
        .unwrap_or_else(|| panic!("a cluster without a p-value: {f}"))
}

fn member_ids(f: &Value) -> Vec<String> {
    f["properties"]["member_ids"]
        .as_array()
        .expect("member_ids")
        .iter()
        .map(|m| m.as_str().expect("a member code").to_owned())
        .collect()
}

#[tokio::test]
async fn only_significant_clusters_by_default_and_every_cluster_marked_with_show_all() -> Result<()>
{
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    // Human cases over a year: the planted areas give significant clusters, and the secondary
    // windows of ordinary villages are not.
    let base = "/api/scan?layer=human_cases&from=2025-01-01&to=2025-12-31";
    let shown = epi.get_json(base, 200).await?;
    let all = epi.get_json(&format!("{base}&show=all"), 200).await?;
    let props = &shown["properties"];
    assert_eq!(props["alpha"], 0.05);
    assert_eq!(props["max_population_percent"], 50.0);
    assert_eq!(props["max_radius_km"], Value::Null);
    assert_eq!(props["show"], "significant");
    assert_eq!(all["properties"]["show"], "all");
    // The villages scanned are those with a population (the latest year's), and the total is
    // the year's cases in them.
    let (villages, cases): (i64, i64) = sqlx::query_as(
        "WITH scanned AS (
             SELECT v.id FROM villages v
             WHERE coalesce((SELECT population FROM village_denominators d WHERE d.village_id = v.id
                             ORDER BY year DESC LIMIT 1), 0) > 0)
         SELECT (SELECT count(*) FROM scanned),
                (SELECT count(*) FROM cases c JOIN scanned s ON s.id = c.village_id
                 WHERE c.deleted_at IS NULL
                   AND c.reported_on BETWEEN DATE '2025-01-01' AND DATE '2025-12-31')",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert!(villages > 8);
    assert_eq!(props["n_locations"].as_i64(), Some(villages), "{props}");
    assert_eq!(props["cases"].as_f64(), Some(cases as f64), "{props}");

    // Default: significant clusters only, each p ≤ 0.05 and marked so.
    let sig = features(&shown);
    assert!(!sig.is_empty(), "a year of cases has a significant cluster");
    for f in sig {
        assert_eq!(f["properties"]["significant"], true, "{f}");
        assert!(p_value(f) <= 0.05, "{f}");
    }
    // show=all: every cluster, the others marked not significant with p > α.
    let every = features(&all);
    assert_eq!(
        all["properties"]["clusters_found"].as_u64(),
        Some(every.len() as u64)
    );
    assert_eq!(
        props["clusters_found"].as_u64(),
        Some(every.len() as u64),
        "both requests found the same clusters"
    );
    let not_sig: Vec<&Value> = every
        .iter()
        .filter(|f| f["properties"]["significant"] == false)
        .collect();
    assert!(
        !not_sig.is_empty(),
        "the year's scan has secondary clusters that are not significant: {all}"
    );
    for f in &not_sig {
        assert!(p_value(f) > 0.05, "{f}");
    }
    assert_eq!(props["significant"].as_u64(), Some(sig.len() as u64));
    assert_eq!(
        props["not_significant"].as_u64(),
        Some(not_sig.len() as u64)
    );
    assert_eq!(sig.len() + not_sig.len(), every.len());
    // The significant ones are the same clusters in both answers.
    let ranks = |fs: &[&Value]| -> Vec<u64> {
        fs.iter()
            .filter_map(|f| f["properties"]["cluster_rank"].as_u64())
            .collect()
    };
    let sig_refs: Vec<&Value> = sig.iter().collect();
    let all_sig: Vec<&Value> = every
        .iter()
        .filter(|f| f["properties"]["significant"] == true)
        .collect();
    assert_eq!(ranks(&sig_refs), ranks(&all_sig));
    // Something is significant: no reason is given.
    assert_eq!(
        props["diagnosis"]["significant"].as_u64(),
        Some(sig.len() as u64)
    );
    assert_eq!(props["diagnosis"]["reasons"], serde_json::json!([]));

    // Secondary clusters never share a village.
    let members: Vec<Vec<String>> = every.iter().map(member_ids).collect();
    for (i, a) in members.iter().enumerate() {
        for b in &members[i + 1..] {
            let a: HashSet<&String> = a.iter().collect();
            let shared: Vec<&String> = b.iter().filter(|m| a.contains(m)).collect();
            assert!(shared.is_empty(), "two clusters share {shared:?}");
        }
    }

    // Members carry the villages' names, nearest first = member_ids order; the centre is
    // the first member and named.
    let names: HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT code::text, name FROM villages")
            .fetch_all(&app.db.pool)
            .await?
            .into_iter()
            .collect();
    for f in every {
        let p = &f["properties"];
        let listed = p["members"].as_array().expect("members");
        let ids = member_ids(f);
        assert_eq!(listed.len(), ids.len());
        assert_eq!(p["n_locations"].as_u64(), Some(ids.len() as u64));
        for (m, id) in listed.iter().zip(&ids) {
            assert_eq!(m["code"].as_str(), Some(id.as_str()));
            let name = m["name"].as_str().expect("a member name");
            assert_eq!(Some(name), names.get(id).map(String::as_str), "{id}");
            assert!(
                name.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{id} is named in Chinese: {name}"
            );
        }
        let centre = p["center_id"].as_str().expect("center_id");
        assert_eq!(ids[0], centre, "the centre is the nearest member");
        assert_eq!(
            p["center_name"].as_str(),
            names.get(centre).map(String::as_str)
        );
    }

    // The published scan records its options.
    let params: Value = sqlx::query_scalar(
        "SELECT params FROM scan_results WHERE layer = 'human_cases' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(params["max_population_fraction"], 0.5, "{params}");
    assert_eq!(params["max_radius_km"], Value::Null, "{params}");
    Ok(())
}

#[tokio::test]
async fn the_window_limits_bound_every_cluster() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let base = format!("/api/scan?layer=dog_positivity&{PERIOD}&show=all");
    let published = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM scan_results")
            .fetch_one(&app.db.pool)
            .await
    };
    let before = published().await?;
    // A 2 km radius.
    let near = epi
        .get_json(&format!("{base}&max_radius_km=2"), 200)
        .await?;
    assert_eq!(near["properties"]["max_radius_km"], 2.0);
    assert!(!features(&near).is_empty(), "{near}");
    for f in features(&near) {
        let r = f["properties"]["radius_km"].as_f64().expect("radius_km");
        assert!(r <= 2.0, "a cluster of radius {r} km: {f}");
    }
    // A narrower window is answered, not published: the published scan stays the default one.
    assert_eq!(
        published().await?,
        before,
        "a scan with max_radius_km=2 replaced the published scan"
    );
    // Windows of at most 10% of the dogs tested.
    let small = epi
        .get_json(&format!("{base}&max_population_percent=10"), 200)
        .await?;
    assert_eq!(small["properties"]["max_population_percent"], 10.0);
    let total: f64 = sqlx::query_scalar(
        "SELECT count(*)::float8 FROM faecal_tests f JOIN villages v ON v.id = f.village_id
         WHERE f.deleted_at IS NULL AND f.result <> 'inconclusive'
           AND f.sampled_on BETWEEN DATE '2021-11-15' AND DATE '2026-11-15'",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert!(total > 0.0);
    assert_eq!(
        published().await?,
        before,
        "max_population_percent=10 was published"
    );
    let default = epi.get_json(&base, 200).await?;
    // The default window is published (the epidemiologist exports).
    assert_eq!(
        published().await?,
        before + 1,
        "the default scan was not published"
    );
    let largest = |fc: &Value| -> f64 {
        features(fc)
            .iter()
            .filter_map(|f| f["properties"]["population"].as_f64())
            .fold(0.0, f64::max)
    };
    assert!(!features(&small).is_empty(), "{small}");
    for f in features(&small) {
        let pop = f["properties"]["population"].as_f64().expect("population");
        assert!(
            pop <= 0.1 * total,
            "a cluster of {pop} tests, more than 10% of {total}: {f}"
        );
    }
    assert!(
        largest(&default) > 0.1 * total,
        "the default window lets a cluster grow beyond 10% ({} of {total})",
        largest(&default)
    );
    Ok(())
}

#[tokio::test]
async fn a_period_with_too_few_cases_shows_no_cluster_and_says_why() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    // One week of human cases.
    let (from, to) = ("2025-03-03", "2025-03-09");
    let cases: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cases WHERE deleted_at IS NULL AND reported_on BETWEEN $1::date AND $2::date",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&app.db.pool)
    .await?;
    let fc = epi
        .get_json(
            &format!("/api/scan?layer=human_cases&from={from}&to={to}"),
            200,
        )
        .await?;
    assert!(features(&fc).is_empty(), "{fc}");
    let props = &fc["properties"];
    assert_eq!(props["significant"], 0);
    let d = &props["diagnosis"];
    assert_eq!(d["significant"], 0);
    let reasons = d["reasons"].as_array().expect("reasons");
    let codes: Vec<&str> = reasons.iter().filter_map(|r| r["code"].as_str()).collect();
    if cases < 10 {
        assert_eq!(codes, ["too_few_cases"], "{cases} cases: {d}");
        assert_eq!(reasons[0]["params"]["cases"].as_f64(), Some(cases as f64));
        assert_eq!(reasons[0]["params"]["min"], 10.0);
    } else {
        assert_eq!(codes, ["no_significant_cluster"], "{cases} cases: {d}");
        assert_eq!(reasons[0]["params"]["alpha"], 0.05);
    }
    for r in reasons {
        assert!(
            r["message"].as_str().is_some_and(|m| m.len() > 20),
            "a reason says why in a sentence: {r}"
        );
    }
    let suggestions: Vec<&str> = d["suggestions"]
        .as_array()
        .expect("suggestions")
        .iter()
        .filter_map(|s| s["code"].as_str())
        .collect();
    assert!(suggestions.contains(&"longer_period"), "{d}");
    // The county is scanned: a wider area is not suggested.
    assert!(!suggestions.contains(&"wider_area"), "{d}");
    Ok(())
}

#[tokio::test]
async fn a_suppressed_observed_count_takes_its_llr_with_it() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let planner = app.user(Role::Planner, "654022").await?;
    let max = echinomap_programme::config::ProgrammeSettings::default()
        .small_counts
        .0;
    assert!(max >= 2, "the rule hides 1–{max}");
    // January 2019, before the demo's first case: two cases in two villages, so that every
    // cluster observes 1 or 2 cases, counts the planner may not see.
    sqlx::query(
        "INSERT INTO cases (person_id, village_id, case_type, diagnosis_class, organ, discovery_route, reported_on)
         SELECT id, village_id, 'CE', 'confirmed', 'liver', 'screening', DATE '2019-01-15'
         FROM (SELECT DISTINCT ON (village_id) id, village_id FROM people ORDER BY village_id, id LIMIT 2) p",
    )
    .execute(&app.db.pool)
    .await?;
    let path = "/api/scan?layer=human_cases&from=2019-01-01&to=2019-01-31&show=all";
    let truth = epi.get_json(path, 200).await?;
    assert!(!features(&truth).is_empty(), "{truth}");
    for f in features(&truth) {
        let p = &f["properties"];
        let observed = p["observed"].as_f64().expect("observed");
        assert!((1.0..=2.0).contains(&observed), "{p}");
        assert!(p["llr"].as_f64().is_some_and(|l| l > 0.0), "{p}");
    }
    let seen = planner.get_json(path, 200).await?;
    assert_eq!(features(&seen).len(), features(&truth).len());
    for f in features(&seen) {
        let p = &f["properties"];
        assert_eq!(p["suppressed"], true, "{p}");
        // LLR, expected and the total would give the observed count back.
        for key in ["observed", "relative_risk", "llr"] {
            assert!(p[key].is_null(), "{key}: {p}");
        }
        assert!(p["expected"].is_number(), "{p}");
    }
    // Over five years the clusters observe more than the rule hides: their LLR stays.
    let long = planner
        .get_json(
            &format!("/api/scan?layer=human_cases&{PERIOD}&show=all"),
            200,
        )
        .await?;
    assert!(!features(&long).is_empty());
    for f in features(&long) {
        let p = &f["properties"];
        assert_eq!(p["llr"].is_null(), p["suppressed"] == true, "{p}");
    }
    Ok(())
}

#[tokio::test]
async fn bad_scan_parameters_are_400s_naming_the_field() -> Result<()> {
    let app = TestApp::empty().await?;
    let epi = app.epi().await?;
    for (query, field) in [
        ("max_population_percent=0", "max_population_percent"),
        ("max_population_percent=51", "max_population_percent"),
        ("max_population_percent=half", "max_population_percent"),
        ("max_radius_km=0", "max_radius_km"),
        ("max_radius_km=-3", "max_radius_km"),
        ("max_radius_km=501", "max_radius_km"),
        ("max_radius_km=NaN", "max_radius_km"),
        ("alpha=0", "alpha"),
        ("alpha=0.6", "alpha"),
        ("alpha=x", "alpha"),
        ("show=some", "show"),
    ] {
        let path = format!("/api/scan?layer=human_cases&{query}");
        let body = epi.get_json(&path, 400).await?;
        assert_eq!(body["error"]["details"]["field"], field, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{path}: {message}");
    }
    Ok(())
}
