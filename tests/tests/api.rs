//! The HTTP API over the demo data: health, summary, the village gazetteer, and the one JSON
//! error shape for every failure.

use echinomap_tests::{Result, TestApp, demo_today};
use serde_json::Value;

fn assert_error_shape(body: &Value, code: &str) {
    let err = &body["error"];
    assert_eq!(err["code"], code, "{body}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(err.get("details").is_some(), "{body}");
}

#[tokio::test]
async fn health_reports_the_database_and_postgis() -> Result<()> {
    let app = TestApp::empty().await?;
    let body = app.get_json("/healthz", 200).await?;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["status"], "ok");
    assert!(
        body["database"]["postgis"]
            .as_str()
            .is_some_and(|v| v.starts_with('3')),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn a_new_database_gets_the_gazetteer_without_demo_records() -> Result<()> {
    let app = TestApp::empty().await?;
    let epi = app.epi().await?;
    let summary = epi.get_json("/api/summary", 200).await?;
    let reg = &summary["registers"];
    assert_eq!(reg["counties"], 1, "{summary}");
    assert_eq!(
        reg["townships"], 17,
        "19 units less the two XPCC regiments: {summary}"
    );
    assert_eq!(
        reg["villages"], 84,
        "94 units less the 10 of the XPCC regiments: {summary}"
    );
    assert_eq!(reg["dogs"], 0);
    assert_eq!(reg["cases"], 0);
    assert_eq!(summary["date_range"]["from"], Value::Null);
    Ok(())
}

#[tokio::test]
async fn the_summary_counts_every_register_and_the_date_range_ends_by_today() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let summary = app.epi().await?.get_json("/api/summary", 200).await?;
    let reg = summary["registers"].as_object().expect("registers object");
    for table in [
        "villages",
        "households",
        "people",
        "dogs",
        "dewormings",
        "faecal_tests",
        "stray_dog_events",
        "slaughter_points",
        "slaughter_inspections",
        "vaccinations",
        "rodent_surveys",
        "cases",
        "imaging_exams",
        "treatments",
        "followups",
        "screening_campaigns",
        "stock_items",
        "stock_movements",
    ] {
        let n = reg.get(table).and_then(Value::as_i64).unwrap_or(0);
        assert!(n > 0, "{table} is empty in the demo: {summary}");
    }
    let dosed: i64 = sqlx::query_scalar("SELECT count(*) FROM dewormings")
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(reg["dewormings"], dosed);
    let to = summary["date_range"]["to"].as_str().expect("to");
    assert!(to <= demo_today().to_string().as_str(), "{to}");
    let from = summary["date_range"]["from"].as_str().expect("from");
    assert!(from < to);
    // The counts are kept between requests, but a write by anyone shows in the next one.
    sqlx::query(
        "UPDATE dewormings SET deleted_at = now() WHERE id = (SELECT min(id) FROM dewormings)",
    )
    .execute(&app.db.pool)
    .await?;
    let again = app.epi().await?.get_json("/api/summary", 200).await?;
    assert_eq!(again["registers"]["dewormings"], dosed - 1);
    Ok(())
}

#[tokio::test]
async fn villages_list_with_their_township_position_and_population() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let app = app.epi().await?;
    let all = app.get_json("/api/villages", 200).await?;
    assert_eq!(all["total"], 84);
    let items = all["items"].as_array().expect("items");
    assert_eq!(items.len(), 84);
    for v in items {
        for field in [
            "code",
            "name",
            "township_code",
            "township_name",
            "lon",
            "lat",
            "population",
            "synthetic",
        ] {
            assert!(
                v.get(field).is_some_and(|x| !x.is_null()),
                "{field} missing in {v}"
            );
        }
        let code = v["code"].as_str().expect("code");
        assert_eq!(code.len(), 12);
        assert!(code.starts_with(v["township_code"].as_str().expect("township")));
        assert_eq!(v["synthetic"], true);
        let (lon, lat) = (
            v["lon"].as_f64().expect("lon"),
            v["lat"].as_f64().expect("lat"),
        );
        assert!(
            (80.3..=81.9).contains(&lon) && (43.2..=44.0).contains(&lat),
            "{v}"
        );
    }
    let seat = app
        .get_json("/api/villages?township=654022100", 200)
        .await?;
    assert_eq!(seat["total"], 10);
    let seat_items = seat["items"].as_array().expect("items");
    assert_eq!(seat_items.len(), 10, "{seat}");
    assert!(
        seat_items
            .iter()
            .all(|v| v["township_name"] == "察布查尔镇" && v["township_code"] == "654022100"),
        "{seat}"
    );
    let by_name = app
        .get_json(
            "/api/villages?township=%E5%AF%9F%E5%B8%83%E6%9F%A5%E5%B0%94%E9%95%87",
            200,
        )
        .await?;
    assert_eq!(by_name["total"], 10);
    let q = app
        .get_json("/api/villages?q=%E7%A4%BE%E5%8C%BA", 200)
        .await?; // 社区
    let n = q["total"].as_u64().expect("total");
    assert!((10..84).contains(&n), "{q}");
    let q_items = q["items"].as_array().expect("items");
    assert_eq!(q_items.len() as u64, n, "{q}");
    assert!(
        q_items
            .iter()
            .all(|v| v["name"].as_str().is_some_and(|s| s.contains("社区"))),
        "{q}"
    );
    let by_code = app.get_json("/api/villages?q=654022100", 200).await?;
    assert_eq!(by_code["total"], 10);
    let code_items = by_code["items"].as_array().expect("items");
    assert_eq!(code_items.len(), 10, "{by_code}");
    assert!(
        code_items.iter().all(|v| v["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("654022100"))),
        "{by_code}"
    );
    Ok(())
}

#[tokio::test]
async fn a_village_detail_has_its_denominators_and_cells() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let v = app
        .epi()
        .await?
        .get_json("/api/villages/654022100001", 200)
        .await?;
    assert_eq!(v["name"], "果尔敏东街社区");
    assert_eq!(v["township_code"], "654022100");
    let years = v["denominators"].as_array().expect("denominators");
    assert!(!years.is_empty());
    assert_eq!(v["population"], years.last().expect("a year")["population"]);
    for r in ["r7", "r8", "r9"] {
        let cell = v["h3"][r].as_str().expect("cell");
        assert_eq!(cell.len(), 15, "{cell}");
    }
    Ok(())
}

#[tokio::test]
async fn every_error_answers_in_the_one_json_shape() -> Result<()> {
    let server = TestApp::empty().await?;
    let app = server.epi().await?;
    let body = app.get_json("/api/villages/654022999999", 404).await?;
    assert_error_shape(&body, "village_not_found");
    let body = app.get_json("/api/villages/12ab", 400).await?;
    assert_error_shape(&body, "invalid_parameter");
    assert_eq!(body["error"]["details"]["field"], "code");
    let body = app.get_json("/api/villages?township=65402", 400).await?;
    assert_error_shape(&body, "invalid_parameter");
    assert_eq!(body["error"]["details"]["field"], "township");
    let body = app.get_json("/api/villages?colour=red", 400).await?;
    assert_error_shape(&body, "invalid_query");
    let body = server.get_json("/api/no-such-thing", 404).await?;
    assert_error_shape(&body, "not_found");
    let body = server.get_json("/api/villages", 401).await?;
    assert_error_shape(&body, "login_required");
    let body = app.get_json("/api/no-such-thing", 404).await?;
    assert_error_shape(&body, "not_found");
    let r = app
        .request(reqwest::Method::DELETE, "/api/villages")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 405);
    assert_error_shape(&r.json().await?, "method_not_allowed");
    Ok(())
}

#[tokio::test]
async fn the_home_page_is_served_in_chinese_without_remote_assets() -> Result<()> {
    let app = TestApp::empty().await?;
    let r = app.get("/").await?;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await?;
    assert!(html.contains("lang=\"zh-CN\"") && html.contains("包虫病"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "remote asset in the page"
    );
    Ok(())
}

#[tokio::test]
async fn locate_finds_the_village_at_a_point_also_from_gcj02_coordinates() -> Result<()> {
    use echinomap_geodata::gcj02::{LonLat, wgs84_to_gcj02};
    let server = TestApp::with_demo().await?;
    let app = server.epi().await?;
    let v = app.get_json("/api/villages/654022104202", 200).await?;
    let (lon, lat) = (
        v["lon"].as_f64().expect("lon"),
        v["lat"].as_f64().expect("lat"),
    );
    let here = app
        .get_json(&format!("/api/villages/locate?lon={lon}&lat={lat}"), 200)
        .await?;
    assert_eq!(here["village"]["code"], "654022104202", "{here}");
    assert_eq!(here["inside"], false, "demo villages have no boundary");
    assert!(here["distance_m"].as_f64().is_some_and(|d| d < 1.0));
    assert_eq!(here["method"], "nearest");
    assert!(here["nearest"].as_array().is_some_and(|n| n.len() == 5));
    // The same place as WeChat/AMap report it (GCJ-02, some 280 m off here).
    let g = wgs84_to_gcj02(LonLat::new(lon, lat).map_err(|e| anyhow::anyhow!("{e}"))?);
    let gcj = app
        .get_json(
            &format!(
                "/api/villages/locate?lon={}&lat={}&crs=gcj02",
                g.lon(),
                g.lat()
            ),
            200,
        )
        .await?;
    assert_eq!(gcj["village"]["code"], "654022104202");
    assert!(gcj["distance_m"].as_f64().is_some_and(|d| d < 1.0), "{gcj}");
    // Ürümqi is not in Qapqal.
    let far = app
        .get_json("/api/villages/locate?lon=87.6&lat=43.8", 200)
        .await?;
    assert_eq!(far["village"], Value::Null);
    assert_eq!(far["in_county"], false);
    for bad in [
        "lon=81.1&lat=95",
        "lon=81.1&lat=43.8&crs=bd09",
        "lat=43.8",
        "lon=east&lat=43.8",
    ] {
        let body = app
            .get_json(&format!("/api/villages/locate?{bad}"), 400)
            .await?;
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // A village doctor sees only their own village in the answer.
    let vd = server
        .user(
            echinomap_programme::auth::Role::VillageDoctor,
            "654022100200",
        )
        .await?;
    let other = vd
        .get_json(&format!("/api/villages/locate?lon={lon}&lat={lat}"), 200)
        .await?;
    assert_eq!(other["village"], Value::Null);
    assert_eq!(other["outside_jurisdiction"], true);
    Ok(())
}
