//! Planner exports and the OGC API – Features, read back by GDAL (Debian's gdal-bin: `ogrinfo`)
//! the way QGIS reads them: RFC 7946 rules, feature counts, suppression by role and audience,
//! paging, and OGC exceptions for bad input.

use std::process::Command;

use echinomap_programme::auth::Role;
use echinomap_tests::{ApiClient, Result, TestApp};
use serde_json::Value;

const COUNTY: &str = "654022";

/// Runs ogrinfo without blocking the runtime that serves the app it reads from.
async fn ogrinfo(args: &[&str], token: &str) -> Result<String> {
    let out = tokio::process::Command::new("ogrinfo")
        .args(args)
        .args([
            "--config",
            "GDAL_HTTP_HEADERS",
            &format!("Authorization: Bearer {token}"),
        ])
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("ogrinfo (apt-get install gdal-bin): {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(out.status.success(), "ogrinfo {args:?} failed: {text}");
    Ok(text)
}

fn feature_count(ogr: &str) -> Option<u64> {
    ogr.lines()
        .find_map(|l| l.trim().strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
}

/// The rings of each polygon of a geometry (the exterior first, then its holes).
fn polygons(g: &Value) -> Vec<Vec<Vec<[f64; 2]>>> {
    let ring = |r: &Value| -> Vec<[f64; 2]> {
        r.as_array()
            .map(|pts| {
                pts.iter()
                    .filter_map(|p| Some([p[0].as_f64()?, p[1].as_f64()?]))
                    .collect()
            })
            .unwrap_or_default()
    };
    let polygon = |p: &Value| -> Vec<Vec<[f64; 2]>> {
        p.as_array()
            .map(|rs| rs.iter().map(ring).collect())
            .unwrap_or_default()
    };
    match g["type"].as_str() {
        Some("Polygon") => vec![polygon(&g["coordinates"])],
        Some("MultiPolygon") => g["coordinates"]
            .as_array()
            .map(|ps| ps.iter().map(polygon).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Every ring of a geometry, polygon after polygon.
fn rings(g: &Value) -> Vec<Vec<[f64; 2]>> {
    polygons(g).into_iter().flatten().collect()
}

fn signed_area(r: &[[f64; 2]]) -> f64 {
    r.windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum::<f64>()
        / 2.0
}

async fn export(c: &ApiClient, path: &str) -> Result<(u16, String)> {
    let r = c.get(path).await?;
    Ok((r.status().as_u16(), r.text().await?))
}

#[tokio::test]
async fn every_export_is_rfc7946_and_gdal_reads_it_with_the_right_counts() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.user(Role::Epidemiologist, COUNTY).await?;
    let dir = echinomap_tests::shared_tempdir();
    for layer in [
        "villages",
        "townships",
        "slaughter_points",
        "case_counts",
        "dog_counts",
    ] {
        let (status, text) =
            export(&epi, &format!("/api/export/{layer}.geojson?period=2025")).await?;
        assert_eq!(status, 200, "{layer}: {text}");
        let doc: Value = serde_json::from_str(&text)?;
        assert_eq!(doc["type"], "FeatureCollection");
        assert!(doc.get("crs").is_none(), "RFC 7946 has no crs member");
        let bbox = doc["bbox"].as_array().expect("bbox");
        assert_eq!(bbox.len(), 4);
        let features = doc["features"].as_array().expect("features");
        assert!(!features.is_empty(), "{layer}");
        let (mut decimals, mut exteriors) = (0, 0);
        for f in features {
            // Six decimals at most.
            let g = f["geometry"].to_string();
            for num in g
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .filter(|s| s.contains('.'))
            {
                assert!(
                    num.split('.').nth(1).map_or(0, str::len) <= 6,
                    "{layer}: {num}"
                );
                decimals += 1;
            }
            // Exterior rings counter-clockwise, holes clockwise (right-hand rule), in every
            // polygon of every feature.
            if layer == "townships" {
                let parts = polygons(&f["geometry"]);
                assert!(!parts.is_empty(), "{layer}: not a polygon: {f}");
                for p in parts {
                    for (i, r) in p.iter().enumerate() {
                        let a = signed_area(r);
                        if i == 0 {
                            exteriors += 1;
                            assert!(
                                a > 0.0,
                                "{layer}: the exterior ring must be counter-clockwise"
                            );
                        } else {
                            assert!(a < 0.0, "{layer}: a hole must be clockwise");
                        }
                    }
                }
            }
        }
        assert!(decimals > 0, "{layer}: no coordinate was checked");
        if layer == "townships" {
            assert!(
                exteriors >= features.len(),
                "{layer}: {exteriors} exterior rings for {} townships",
                features.len()
            );
        }
        if layer == "villages" {
            // The villages carry their risk (issue 6) as of the period's end.
            for f in features {
                let tier = f["properties"]["risk_tier"].as_str().unwrap_or_default();
                assert!(["high", "medium", "low"].contains(&tier), "{f}");
                assert!(f["properties"]["risk_score"].is_number(), "{f}");
            }
        }
        let path = dir.path().join(format!("{layer}.geojson"));
        std::fs::write(&path, &text)?;
        let info = Command::new("ogrinfo")
            .args(["-ro", "-so", "-al"])
            .arg(&path)
            .output()?;
        let info = String::from_utf8_lossy(&info.stdout).into_owned();
        assert_eq!(
            feature_count(&info),
            Some(features.len() as u64),
            "{layer}: {info}"
        );
        let expected: i64 = match layer {
            "villages" | "dog_counts" => sqlx::query_scalar("SELECT count(*) FROM villages").fetch_one(&app.db.pool).await?,
            "townships" => sqlx::query_scalar("SELECT count(*) FROM townships").fetch_one(&app.db.pool).await?,
            "slaughter_points" => sqlx::query_scalar("SELECT count(*) FROM slaughter_points WHERE deleted_at IS NULL").fetch_one(&app.db.pool).await?,
            _ => sqlx::query_scalar("SELECT count(DISTINCT (village_id, date_trunc('month', reported_on))) FROM cases WHERE deleted_at IS NULL AND reported_on BETWEEN '2025-01-01' AND '2025-12-31'").fetch_one(&app.db.pool).await?,
        };
        assert_eq!(features.len() as i64, expected, "{layer}");
    }
    // CSV: BOM, Chinese or English headers, lon/lat.
    let (status, csv) = export(&epi, "/api/export/villages.csv?period=2025").await?;
    assert_eq!(status, 200);
    assert!(csv.starts_with('\u{feff}'));
    let header = csv.lines().next().unwrap_or_default();
    assert!(
        header.contains("名称") && header.contains("经度") && header.contains("纬度"),
        "{header}"
    );
    // Yes/no reads 是/否 in the Chinese sheet, true/false in the English one, on every row.
    let villages: i64 = sqlx::query_scalar("SELECT count(*) FROM villages")
        .fetch_one(&app.db.pool)
        .await?;
    let (_, csv_en) = export(&epi, "/api/export/villages.csv?period=2025&lang=en").await?;
    for (sheet, flags, yes_no) in [
        (&csv, ["位置为示意", "已抑制"], ["是", "否"]),
        (&csv_en, ["synthetic", "suppressed"], ["true", "false"]),
    ] {
        let mut lines = sheet.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let columns = flags.map(|flag| {
            header
                .iter()
                .position(|h| *h == flag)
                .unwrap_or_else(|| panic!("no {flag} column: {header:?}"))
        });
        let mut rows = 0;
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{line}");
            for c in columns {
                assert!(
                    yes_no.contains(&cells[c]),
                    "{} is {:?} in {line}",
                    header[c],
                    cells[c]
                );
            }
            rows += 1;
        }
        assert_eq!(rows, villages, "one line per village");
    }
    assert!(
        csv_en
            .lines()
            .next()
            .unwrap_or_default()
            .contains(",lon,lat,"),
        "{csv_en}"
    );
    assert_eq!(csv_en.lines().count(), csv.lines().count());
    // Every export is audited.
    let exports: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'export'")
        .fetch_one(&app.db.pool)
        .await?;
    assert!(exports >= 7, "{exports}");
    Ok(())
}

#[tokio::test]
async fn planners_get_small_counts_suppressed_and_external_audiences_more() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.user(Role::Epidemiologist, COUNTY).await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    let get = |c: ApiClient, q: &'static str| async move {
        let (s, t) = export(
            &c,
            &format!("/api/export/case_counts.geojson?period=2025{q}"),
        )
        .await?;
        anyhow::ensure!(s == 200, "{t}");
        let v: Value = serde_json::from_str(&t)?;
        anyhow::Ok(v["features"].as_array().cloned().unwrap_or_default())
    };
    let full = get(epi.clone(), "").await?;
    let shared = get(planner.clone(), "").await?;
    let external = get(epi.clone(), "&audience=external").await?;
    assert!(!full.is_empty(), "the demo has cases in 2025");
    assert_eq!(full.len(), shared.len());
    assert_eq!(full.len(), external.len());
    let (mut small, mut checked) = (0, 0);
    for ((f, s), e) in full.iter().zip(&shared).zip(&external) {
        let id = &f["id"];
        assert_eq!(&s["id"], id, "the planner's rows in the same order");
        assert_eq!(&e["id"], id, "the external rows in the same order");
        assert_eq!(f["properties"]["suppressed"], false);
        let (mut any_small, mut any_external) = (false, false);
        for key in ["cases", "ce", "ae"] {
            let n = f["properties"][key]
                .as_i64()
                .unwrap_or_else(|| panic!("epidemiologists see every count: {key} of {id}"));
            if (1..=4).contains(&n) {
                any_small = true;
                if key == "cases" {
                    small += 1;
                }
                assert_eq!(s["properties"][key], Value::Null, "{key}: {s}");
            } else {
                assert_eq!(s["properties"][key].as_i64(), Some(n), "{key}: {s}");
            }
            if (1..=9).contains(&n) {
                any_external = true;
                assert_eq!(e["properties"][key], Value::Null, "{key}: {e}");
            } else {
                assert_eq!(e["properties"][key].as_i64(), Some(n), "{key}: {e}");
            }
        }
        assert_eq!(s["properties"]["suppressed"], any_small, "{s}");
        assert_eq!(e["properties"]["suppressed"], any_external, "{e}");
        checked += 1;
    }
    assert_eq!(checked, full.len());
    assert!(small > 0, "the demo has villages with 1–4 cases a month");
    // Rates from a suppressed count are withheld too: every village against the
    // epidemiologist's export.
    let villages = |c: ApiClient| async move {
        let (s, t) = export(&c, "/api/export/villages.geojson?period=2025").await?;
        anyhow::ensure!(s == 200, "{t}");
        let v: Value = serde_json::from_str(&t)?;
        anyhow::Ok(v["features"].as_array().cloned().unwrap_or_default())
    };
    let truth = villages(epi.clone()).await?;
    let planned = villages(planner.clone()).await?;
    assert!(!truth.is_empty());
    assert_eq!(truth.len(), planned.len());
    let (mut withheld, mut shown) = (0, 0);
    for (t, p) in truth.iter().zip(&planned) {
        assert_eq!(t["id"], p["id"], "the same villages in the same order");
        let (t, p) = (&t["properties"], &p["properties"]);
        let n = t["cases"]
            .as_i64()
            .expect("epidemiologists see every count");
        if (1..=4).contains(&n) {
            withheld += 1;
            assert_eq!(p["suppressed"], true, "{p}");
            assert_eq!(p["cases"], Value::Null, "{p}");
            assert_eq!(p["cases_per_100k"], Value::Null, "{p}");
        } else {
            shown += 1;
            assert_eq!(p["suppressed"], false, "{p}");
            assert_eq!(p["cases"].as_i64(), Some(n), "{p}");
            assert_eq!(p["cases_per_100k"], t["cases_per_100k"], "{p}");
        }
    }
    assert!(withheld > 0, "the demo has villages with 1–4 cases in 2025");
    assert!(
        shown > 0,
        "the demo has villages with 0 or more than 4 cases in 2025"
    );
    Ok(())
}

#[tokio::test]
async fn qgis_reads_the_ogc_api_and_bad_requests_get_ogc_exceptions() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    let base = app.url("/ogc");
    let listing = ogrinfo(&["-ro", "-so", &format!("OAPIF:{base}")], &planner.token).await?;
    for layer in [
        "villages",
        "townships",
        "slaughter_points",
        "case_counts",
        "dog_counts",
        "hotspots",
        "scan_clusters",
    ] {
        assert!(listing.contains(&format!(": {layer} ")), "{listing}");
    }
    assert!(
        !listing.contains(": dogs "),
        "planners do not read the dog register: {listing}"
    );
    let villages: i64 = sqlx::query_scalar("SELECT count(*) FROM villages")
        .fetch_one(&app.db.pool)
        .await?;
    let info = ogrinfo(
        &["-ro", "-al", "-so", &format!("OAPIF:{base}"), "villages"],
        &planner.token,
    )
    .await?;
    assert_eq!(feature_count(&info), Some(villages as u64), "{info}");
    // Paging with next links visits every feature once.
    let mut url = "/ogc/collections/villages/items?limit=10".to_owned();
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = planner.get_json(&url, 200).await?;
        assert_eq!(page["numberMatched"].as_i64(), Some(villages));
        for f in page["features"].as_array().expect("features") {
            assert!(
                seen.insert(f["id"].as_str().unwrap_or_default().to_owned()),
                "a feature twice"
            );
        }
        let next = page["links"]
            .as_array()
            .expect("links")
            .iter()
            .find(|l| l["rel"] == "next");
        match next {
            Some(n) => {
                url = n["href"]
                    .as_str()
                    .expect("href")
                    .trim_start_matches(&app.url(""))
                    .to_owned()
            }
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, villages);
    // One feature; bbox filter.
    let one = planner
        .get_json("/ogc/collections/villages/items/654022100200", 200)
        .await?;
    assert_eq!(one["type"], "Feature");
    let boxed = planner
        .get_json(
            "/ogc/collections/villages/items?bbox=81.0,43.7,81.3,43.9&limit=1000",
            200,
        )
        .await?;
    let inside: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM villages WHERE geom && ST_MakeEnvelope(81.0, 43.7, 81.3, 43.9, 4326)",
    )
    .fetch_one(&app.db.pool)
    .await?;
    assert!(inside > 0, "the box holds the county seat's villages");
    let in_box = boxed["features"].as_array().expect("features");
    assert_eq!(
        in_box.len() as i64,
        inside,
        "every village in the box, no other"
    );
    for f in in_box {
        let (x, y) = (
            f["geometry"]["coordinates"][0].as_f64().expect("lon"),
            f["geometry"]["coordinates"][1].as_f64().expect("lat"),
        );
        assert!((81.0..=81.3).contains(&x) && (43.7..=43.9).contains(&y));
    }
    // Bad input: OGC exceptions, never a 500.
    for (path, status) in [
        ("/ogc/collections/nope/items", 404),
        ("/ogc/collections/villages/items?bbox=1,2,3", 400),
        ("/ogc/collections/villages/items?bbox=10,20,5,30", 400),
        ("/ogc/collections/villages/items?limit=100000", 400),
        ("/ogc/collections/villages/items?datetime=last-tuesday", 400),
        (
            "/ogc/collections/villages/items?datetime=1995-01-01/1995-12-31",
            404,
        ),
        ("/ogc/collections/villages/items/000000000000", 404),
    ] {
        let r = planner.get(path).await?;
        assert_eq!(r.status().as_u16(), status, "{path}");
        let body: Value = r.json().await?;
        assert!(
            body["code"].is_string() && body["description"].is_string(),
            "{path}: {body}"
        );
        // The description says what is wrong, not just the status.
        let words = body["description"].as_str().unwrap_or_default();
        assert!(words.contains(' ') && words.len() > 15, "{path}: {body}");
    }
    for (path, status) in [
        ("/api/export/nope.geojson", 404),
        ("/api/export/villages.shp", 404),
        ("/api/export/villages.geojson?period=2024-13", 400),
        ("/api/export/villages.geojson?period=1995", 404),
        ("/api/export/villages.geojson?period=2099", 400),
    ] {
        let r = planner.get(path).await?;
        assert_eq!(r.status().as_u16(), status, "{path}");
        let body: Value = r.json().await?;
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
    Ok(())
}

/// The features of a GeoJSON export, after GDAL has read the same text with the same count.
async fn gdal_checked_features(c: &ApiClient, path: &str) -> Result<Vec<Value>> {
    let (status, text) = export(c, path).await?;
    anyhow::ensure!(status == 200, "{path}: {status} {text}");
    let doc: Value = serde_json::from_str(&text)?;
    anyhow::ensure!(doc.get("crs").is_none(), "RFC 7946 has no crs member");
    let features = doc["features"]
        .as_array()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{path}: no features array: {text}"))?;
    let dir = echinomap_tests::shared_tempdir();
    let file = dir.path().join("export.geojson");
    std::fs::write(&file, &text)?;
    let info = Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(&file)
        .output()?;
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    anyhow::ensure!(
        feature_count(&info) == Some(features.len() as u64),
        "{path}: GDAL counts differently: {info}"
    );
    Ok(features)
}

#[tokio::test]
async fn a_scan_is_kept_and_exported_as_circles_with_observed_cases_suppressed_for_planners()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.user(Role::Epidemiologist, COUNTY).await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    // Before any scan the layer is empty, not an error.
    let none = gdal_checked_features(&epi, "/api/export/scan_clusters.geojson").await?;
    assert!(none.is_empty());
    // Three months of human cases: small counts, so that suppression has something to do.
    let scan = epi
        .get_json(
            "/api/scan?layer=human_cases&from=2025-03-01&to=2025-05-31&show=all",
            200,
        )
        .await?;
    let clusters = scan["features"].as_array().expect("clusters").len();
    assert!(clusters > 0, "{scan}");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scan_clusters c JOIN scan_results r ON r.id = c.result_id
         WHERE r.scope = $1 AND r.layer = 'human_cases' AND r.period_from = '2025-03-01'",
    )
    .bind(COUNTY)
    .fetch_one(&app.db.pool)
    .await?;
    assert_eq!(stored, clusters as i64);
    let full = gdal_checked_features(&epi, "/api/export/scan_clusters.geojson").await?;
    let shared = gdal_checked_features(&planner, "/api/export/scan_clusters.geojson").await?;
    let external =
        gdal_checked_features(&epi, "/api/export/scan_clusters.geojson?audience=external").await?;
    assert_eq!(full.len(), clusters);
    assert_eq!(shared.len(), clusters);
    assert_eq!(external.len(), clusters);
    let (mut small, mut checked) = (0, 0);
    for ((f, s), e) in full.iter().zip(&shared).zip(&external) {
        assert_eq!(s["id"], f["id"], "the planner's clusters in the same order");
        assert_eq!(e["id"], f["id"], "the external clusters in the same order");
        let p = &f["properties"];
        assert_eq!(p["layer"], "human_cases");
        assert_eq!(p["period_from"], "2025-03-01");
        let members = p["member_codes"].as_array().expect("member codes");
        assert_eq!(p["n_villages"].as_u64(), Some(members.len() as u64));
        assert!(
            members
                .iter()
                .all(|m| m.as_str().is_some_and(|m| m.starts_with(COUNTY)))
        );
        for key in [
            "radius_m",
            "expected",
            "llr",
            "p_value",
            "centre_lon",
            "centre_lat",
        ] {
            assert!(p[key].is_number(), "{key}: {p}");
        }
        // The circle: one exterior ring, counter-clockwise, around the centre.
        let r = rings(&f["geometry"]);
        assert_eq!(r.len(), 1, "{f}");
        assert!(
            signed_area(&r[0]) > 0.0,
            "exterior rings are counter-clockwise"
        );
        let n = p["observed"]
            .as_f64()
            .expect("epidemiologists see every count");
        if (1.0..=4.0).contains(&n) {
            small += 1;
            assert_eq!(s["properties"]["observed"], Value::Null, "{s}");
            assert_eq!(s["properties"]["relative_risk"], Value::Null, "{s}");
            assert_eq!(s["properties"]["suppressed"], true);
        } else {
            assert_eq!(s["properties"]["observed"].as_f64(), Some(n));
            assert_eq!(s["properties"]["suppressed"], false);
        }
        if (1.0..=9.0).contains(&n) {
            assert_eq!(e["properties"]["observed"], Value::Null, "{e}");
            assert_eq!(e["properties"]["relative_risk"], Value::Null, "{e}");
            assert_eq!(e["properties"]["suppressed"], true, "{e}");
        } else {
            assert_eq!(e["properties"]["observed"].as_f64(), Some(n), "{e}");
            assert_eq!(e["properties"]["suppressed"], false, "{e}");
        }
        checked += 1;
    }
    assert_eq!(checked, clusters);
    assert!(small > 0, "a three-month scan has clusters of 1–4 cases");
    // A later scan of dog tests replaces it; animal counts are not suppressed.
    epi.get_json(
        "/api/scan?layer=dog_positivity&from=2025-03-01&to=2025-05-31&show=all",
        200,
    )
    .await?;
    let dogs = gdal_checked_features(&planner, "/api/export/scan_clusters.geojson").await?;
    assert!(!dogs.is_empty(), "the dog scan found clusters");
    for f in &dogs {
        assert_eq!(f["properties"]["layer"], "dog_positivity");
        assert_eq!(f["properties"]["suppressed"], false, "{f}");
        assert!(f["properties"]["observed"].is_number());
    }
    // CSV and the OGC collection carry the same clusters.
    let (_, csv) = export(&planner, "/api/export/scan_clusters.csv?lang=en").await?;
    assert_eq!(csv.lines().count(), dogs.len() + 1, "{csv}");
    let info = ogrinfo(
        &[
            "-ro",
            "-al",
            "-so",
            &format!("OAPIF:{}", app.url("/ogc")),
            "scan_clusters",
        ],
        &planner.token,
    )
    .await?;
    assert_eq!(feature_count(&info), Some(dogs.len() as u64), "{info}");
    Ok(())
}

#[tokio::test]
async fn registered_dogs_are_exported_one_by_one_to_the_dog_register_s_readers_only() -> Result<()>
{
    let app = TestApp::with_demo().await?;
    let epi = app.user(Role::Epidemiologist, COUNTY).await?;
    let township = "654022100";
    // A township's exports are taken by its epidemiologist (township staff do not export).
    let staff = app.user(Role::Epidemiologist, township).await?;
    let planner = app.user(Role::Planner, COUNTY).await?;
    let viewer = app.user(Role::Viewer, COUNTY).await?;
    let count = |prefix: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM dogs d JOIN villages v ON v.id = d.village_id
             WHERE d.deleted_at IS NULL AND v.code LIKE $1 || '%'",
        )
        .bind(prefix)
        .fetch_one(&app.db.pool)
    };
    let all = gdal_checked_features(&epi, "/api/export/dogs.geojson").await?;
    assert_eq!(all.len() as i64, count(COUNTY).await?);
    let declared: std::collections::BTreeSet<&str> = echinomap_programme::exports::layer("dogs")
        .expect("dogs layer")
        .columns
        .iter()
        .map(|c| c.name)
        .chain(["suppressed"])
        .collect();
    // Every dog's village and latest dose, as the registers have them.
    let truth: std::collections::HashMap<i64, (String, Option<chrono::NaiveDate>)> =
        sqlx::query_as::<_, (i64, String, Option<chrono::NaiveDate>)>(
            "SELECT d.id, v.code::text,
                    (SELECT max(w.dosed_on) FROM dewormings w WHERE w.dog_id = d.id AND w.deleted_at IS NULL)
             FROM dogs d JOIN villages v ON v.id = d.village_id WHERE d.deleted_at IS NULL",
        )
        .fetch_all(&app.db.pool)
        .await?
        .into_iter()
        .map(|(id, village, dosed)| (id, (village, dosed)))
        .collect();
    let mut dewormed = 0;
    for f in &all {
        let id = f["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("a dog without id: {f}"));
        let (village, dosed) = truth
            .get(&id)
            .unwrap_or_else(|| panic!("dog {id} is not in the register"));
        assert_eq!(
            f["properties"]["village_code"].as_str(),
            Some(village.as_str()),
            "{f}"
        );
        assert_eq!(
            f["properties"]["last_dewormed_on"]
                .as_str()
                .map(str::to_owned),
            dosed.map(|d| d.to_string()),
            "{f}"
        );
        dewormed += usize::from(dosed.is_some());
    }
    assert!(dewormed > 0, "the demo has dewormed dogs");
    for f in &all {
        assert_eq!(f["geometry"]["type"], "Point", "{f}");
        let keys: std::collections::BTreeSet<&str> = f["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        // No owner names, ID numbers or phones: exactly the declared columns.
        assert_eq!(keys, declared);
    }
    // Within the jurisdiction only.
    let own = gdal_checked_features(&staff, "/api/export/dogs.geojson").await?;
    assert!(!own.is_empty(), "the township has dogs");
    assert_eq!(own.len() as i64, count(township).await?);
    assert!(own.iter().all(|f| {
        f["properties"]["village_code"]
            .as_str()
            .is_some_and(|c| c.starts_with(township))
    }));
    assert!(own.len() < all.len());
    // CSV: one line per dog.
    let (status, csv) = export(&staff, "/api/export/dogs.csv").await?;
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), own.len() + 1);
    // Refused, with the one JSON error shape, to roles without the register and to any
    // external audience; roles that do not export at all are refused before the layer is looked
    // at (tests/tests/auth.rs).
    let r = viewer.get("/api/export/dogs.csv").await?;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await?["error"]["code"], "forbidden");
    for (c, path) in [
        (&planner, "/api/export/dogs.geojson"),
        (&epi, "/api/export/dogs.geojson?audience=external"),
    ] {
        let r = c.get(path).await?;
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let body: Value = r.json().await?;
        assert_eq!(body["error"]["code"], "forbidden", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("dogs")),
            "{body}"
        );
    }
    // The OGC API: a collection for the register's readers, an OGC exception for the others.
    let page = epi
        .get_json("/ogc/collections/dogs/items?limit=10", 200)
        .await?;
    assert_eq!(page["numberMatched"].as_i64(), Some(all.len() as i64));
    assert_eq!(page["features"].as_array().map(Vec::len), Some(10));
    let r = planner.get("/ogc/collections/dogs/items").await?;
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().await?;
    assert!(
        body["code"].is_string() && body["description"].is_string(),
        "{body}"
    );
    Ok(())
}
