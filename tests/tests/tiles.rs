//! Vector tiles end to end: decoded with an independent reader (mvt-reader, not the PostGIS
//! encoder), feature counts against plain `ST_Intersects` on the same envelope at every zoom,
//! caching by encoding and data version, scoping and suppression.

use std::collections::HashMap;
use std::io::Read;

use echinomap_programme::auth::Role;
use echinomap_tests::read::{mvt_number as number, mvt_text as text};
use echinomap_tests::{ApiClient, Result, TestApp, TestDb, data_version, demo_today};
use mvt_reader::Reader;
use mvt_reader::feature::Value as MvtValue;
use serde_json::Value;
use tiles::TileCoord;
use tiles::layers::{LAYERS, TileArgs, TileValue};

const EXTENT: f32 = 4096.0;
const BUFFER: f32 = 64.0;

struct Decoded {
    layer: String,
    features: Vec<mvt_reader::feature::Feature>,
}

fn decode(bytes: Vec<u8>) -> Result<Decoded> {
    let reader = Reader::new(bytes).map_err(|e| anyhow::anyhow!("not a vector tile: {e:?}"))?;
    let names = reader
        .get_layer_names()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anyhow::ensure!(names.len() == 1, "one layer per tile, got {names:?}");
    let meta = reader
        .get_layer_metadata()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anyhow::ensure!(meta[0].extent == 4096, "extent {}", meta[0].extent);
    let features = reader
        .get_features(0)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(Decoded {
        layer: names[0].clone(),
        features,
    })
}

/// GETs a tile as `client`; `None` for 204.
async fn tile(
    client: &ApiClient,
    layer: &str,
    t: TileCoord,
    query: &str,
) -> Result<Option<Decoded>> {
    let path = format!("/tiles/{layer}/{}/{}/{}.mvt{query}", t.z(), t.x(), t.y());
    let r = client.get(&path).await?;
    match r.status().as_u16() {
        204 => Ok(None),
        200 => {
            assert_eq!(
                r.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/vnd.mapbox-vector-tile")
            );
            Ok(Some(decode(r.bytes().await?.to_vec())?))
        }
        s => anyhow::bail!("{path}: status {s}: {}", r.text().await?),
    }
}

/// The number of features a layer must hold in tile `t`, by plain SQL on the same envelope
/// (with the 64/4096 buffer) and the same scope.
async fn expected_count(app: &TestApp, layer: &str, t: TileCoord, scope: &str) -> Result<i64> {
    let env = "ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326)";
    let res = if t.z() < 7 { "h3_r6" } else { "h3_r7" };
    let sql = match layer {
        "boundaries" => format!(
            "SELECT (SELECT count(*) FROM counties WHERE ST_Intersects(geom, {env}))
                  + (SELECT count(*) FROM townships WHERE ST_Intersects(geom, {env}))
                  + (SELECT count(*) FROM neighbour_counties WHERE ST_Intersects(geom, {env}))"
        ),
        "rivers" => format!("SELECT count(*) FROM rivers WHERE ST_Intersects(geom, {env})"),
        "villages" => format!(
            "SELECT count(*) FROM villages WHERE ST_Intersects(geom, {env}) AND code LIKE $4 || '%'"
        ),
        "slaughter_points" => format!(
            "SELECT count(*) FROM slaughter_points s JOIN villages v ON v.id = s.village_id
             WHERE s.deleted_at IS NULL AND ST_Intersects(s.geom, {env}) AND v.code LIKE $4 || '%'"
        ),
        "case_density" | "dog_density" if t.z() >= 9 => {
            format!(
                "SELECT count(*) FROM villages WHERE ST_Intersects(geom, {env}) AND code LIKE $4 || '%'"
            )
        }
        "case_density" | "dog_density" => format!(
            "SELECT count(DISTINCT c.cell) FROM villages v JOIN h3_cells c ON c.cell = v.{res}
             WHERE v.code LIKE $4 || '%' AND ST_Intersects(c.geom, {env})"
        ),
        "hotspots" => format!(
            "SELECT count(*) FROM hotspot_cells c
             WHERE c.result_id = (SELECT id FROM hotspot_results WHERE layer = 'human_cases' AND resolution = 7
                                  AND scope = $4 ORDER BY computed_at DESC, id DESC LIMIT 1)
               AND ST_Intersects(c.geom, {env})"
        ),
        other => anyhow::bail!("no expectation for layer {other}"),
    };
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(i32::from(t.z()))
        .bind(t.x() as i32)
        .bind(t.y() as i32)
        .bind(scope)
        .fetch_one(&app.db.pool)
        .await?)
}

/// Tiles over the data: those holding the county seat and a few villages, at zoom `z`.
async fn data_tiles(app: &TestApp, z: u8) -> Result<Vec<TileCoord>> {
    let points: Vec<(f64, f64)> = sqlx::query_as(
        "SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code IN ('654022100001', '654022104202', '654022206203', '654022101200')",
    )
    .fetch_all(&app.db.pool)
    .await?;
    let mut tiles: Vec<TileCoord> = points
        .into_iter()
        .chain([(81.1513, 43.8407)])
        .filter_map(|(lon, lat)| TileCoord::containing(lon, lat, z).ok())
        .collect();
    tiles.sort_by_key(|t| (t.x(), t.y()));
    tiles.dedup();
    Ok(tiles)
}

#[tokio::test]
async fn every_layer_decodes_and_holds_exactly_the_features_that_intersect_each_tile_at_every_zoom()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    // The hotspots layer shows stored results: make one.
    epi.get_json(
        "/api/hotspots?layer=human_cases&unit=h3&resolution=7&from=2022-01-01&to=2026-11-15",
        200,
    )
    .await?;
    for layer in LAYERS {
        let query = if layer.uses_source {
            "?source=human_cases&resolution=7"
        } else {
            "?period=2025"
        };
        let mut nonempty = 0;
        for z in 5..=14u8 {
            for t in data_tiles(&app, z).await? {
                let expected = expected_count(&app, layer.id, t, "654022").await?;
                let got = tile(&epi, layer.id, t, query).await?;
                let Some(d) = got else {
                    assert_eq!(
                        expected,
                        0,
                        "{} {z}/{}/{}: 204 but {expected} features intersect",
                        layer.id,
                        t.x(),
                        t.y()
                    );
                    continue;
                };
                nonempty += 1;
                assert_eq!(d.layer, layer.id);
                assert_eq!(
                    d.features.len() as i64,
                    expected,
                    "{} at {z}/{}/{}",
                    layer.id,
                    t.x(),
                    t.y()
                );
                let declared: Vec<&str> = layer.fields.iter().map(|f| f.name).collect();
                let mut ids = std::collections::HashSet::new();
                for f in &d.features {
                    let id =
                        f.id.unwrap_or_else(|| panic!("{} feature without id", layer.id));
                    assert!(ids.insert(id), "{}: duplicate feature id {id}", layer.id);
                    for key in f
                        .properties
                        .as_ref()
                        .map(|p| p.keys().cloned().collect::<Vec<_>>())
                        .unwrap_or_default()
                    {
                        assert!(
                            declared.contains(&key.as_str()),
                            "{}: field {key} is not in TileJSON",
                            layer.id
                        );
                    }
                    let rect = geo::BoundingRect::bounding_rect(&f.geometry);
                    let r = rect.unwrap_or_else(|| panic!("{}: empty geometry", layer.id));
                    for v in [r.min().x, r.min().y, r.max().x, r.max().y] {
                        assert!(
                            (-BUFFER..=EXTENT + BUFFER).contains(&v),
                            "{}: coordinate {v} outside extent+buffer",
                            layer.id
                        );
                    }
                }
            }
        }
        assert!(nonempty > 0, "{} never had a feature", layer.id);
    }
    Ok(())
}

#[tokio::test]
async fn case_tiles_hold_only_the_callers_jurisdiction_and_hide_small_counts_from_planners()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let ts = app.user(Role::TownshipStaff, "654022100").await?;
    let planner = app.user(Role::Planner, "654022").await?;
    let epi = app.epi().await?;
    let period = "?period=2024";
    let mut own = 0;
    for z in [9u8, 11] {
        for t in data_tiles(&app, z).await? {
            let expected = expected_count(&app, "case_density", t, "654022100").await?;
            let Some(d) = tile(&ts, "case_density", t, period).await? else {
                assert_eq!(expected, 0, "{z}/{}/{}: 204 for the township", t.x(), t.y());
                continue;
            };
            assert_eq!(
                d.features.len() as i64,
                expected,
                "{z}/{}/{}: the township's villages",
                t.x(),
                t.y()
            );
            for f in &d.features {
                let code = text(f, "code").unwrap_or_default();
                assert!(code.starts_with("654022100"), "{code} outside the township");
                own += 1;
            }
        }
    }
    assert!(own > 0, "no tile held a village of the township");
    // Planners: no count from 1 to 4, and those features say suppressed; the epidemiologist
    // sees the same features with their counts.
    let (mut suppressed_seen, mut compared) = (0, 0);
    for z in [9u8, 10] {
        for t in data_tiles(&app, z).await? {
            let at = format!("{z}/{}/{}", t.x(), t.y());
            let (p, e) = match (
                tile(&planner, "case_density", t, period).await?,
                tile(&epi, "case_density", t, period).await?,
            ) {
                (Some(p), Some(e)) => (p, e),
                (None, None) => continue,
                (p, e) => panic!(
                    "{at}: the planner's tile {} but the epidemiologist's {}",
                    if p.is_some() {
                        "has features"
                    } else {
                        "is empty"
                    },
                    if e.is_some() {
                        "has features"
                    } else {
                        "is empty"
                    },
                ),
            };
            assert_eq!(
                p.features.len(),
                e.features.len(),
                "{at}: the same features"
            );
            let by_id: HashMap<u64, &mvt_reader::feature::Feature> = e
                .features
                .iter()
                .filter_map(|f| f.id.map(|i| (i, f)))
                .collect();
            for f in &p.features {
                let id = f.id.unwrap_or_else(|| panic!("{at}: a feature without id"));
                let g = by_id.get(&id).unwrap_or_else(|| {
                    panic!("{at}: feature {id} is not in the epidemiologist's tile")
                });
                let cases = number(f, "cases");
                assert!(
                    !cases.is_some_and(|c| (1.0..=4.0).contains(&c)),
                    "a count of 1–4 reached a planner"
                );
                let truth = number(g, "cases");
                let suppressed = f.properties.as_ref().and_then(|p| p.get("suppressed"));
                if truth.is_some_and(|c| (1.0..=4.0).contains(&c)) {
                    suppressed_seen += 1;
                    assert!(cases.is_none(), "{at}: feature {id}");
                    assert!(
                        matches!(suppressed, Some(MvtValue::Bool(true))),
                        "{at}: feature {id} is not marked suppressed"
                    );
                    assert!(number(f, "rate_per_100k").is_none(), "{at}: feature {id}");
                } else {
                    assert_eq!(cases, truth, "{at}: feature {id}");
                    assert!(
                        !matches!(suppressed, Some(MvtValue::Bool(true))),
                        "{at}: feature {id} with {truth:?} cases is marked suppressed"
                    );
                    assert_eq!(
                        number(f, "rate_per_100k"),
                        number(g, "rate_per_100k"),
                        "{at}: feature {id}"
                    );
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 0, "no planner feature was compared");
    assert!(
        suppressed_seen > 0,
        "the demo should have villages with 1–4 cases in 2024"
    );
    Ok(())
}

#[tokio::test]
async fn village_tiles_carry_the_risk_and_the_indicators_of_the_api() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let planner = app.user(Role::Planner, "654022").await?;
    // The risk of every village of the county, as the API computes it.
    let mut risk: HashMap<String, (String, f64)> = HashMap::new();
    let townships: Vec<String> =
        sqlx::query_scalar("SELECT code::text FROM townships WHERE code LIKE '654022%'")
            .fetch_all(&app.db.pool)
            .await?;
    for t in townships {
        let list = epi
            .get_json(&format!("/api/risk?township={t}"), 200)
            .await?;
        let items = list["items"].as_array().expect("risk items");
        assert!(!items.is_empty(), "township {t} has no risk items");
        for v in items {
            risk.insert(
                v["code"].as_str().unwrap_or_default().to_owned(),
                (
                    v["tier"].as_str().unwrap_or_default().to_owned(),
                    v["score"].as_f64().unwrap_or(f64::NAN),
                ),
            );
        }
    }
    // The period's cases and the coverage month's dogs, as the indicator API counts them.
    let by_village = |m: Value| -> HashMap<String, (f64, f64)> {
        m["units"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                (
                    u["code"].as_str().unwrap_or_default().to_owned(),
                    (
                        u["numerators"][0].as_f64().unwrap_or(0.0),
                        u["denominators"][0].as_f64().unwrap_or(0.0),
                    ),
                )
            })
            .collect()
    };
    let cases = by_village(
        epi.get_json("/api/indicators/matrix?indicator=new_cases&units=village&unit=654022&from=2024&to=2024&step=year", 200)
            .await?,
    );
    let coverage = by_village(
        epi.get_json("/api/indicators/matrix?indicator=deworming_coverage&units=village&unit=654022&from=2024-12&to=2024-12&step=month", 200)
            .await?,
    );
    let period = "?period=2024";
    assert!(!risk.is_empty(), "no village risk");
    assert!(
        !cases.is_empty() && !coverage.is_empty(),
        "no indicator units"
    );
    let (mut checked, mut withheld, mut rates) = (0, 0, 0);
    for t in data_tiles(&app, 9).await? {
        let Some(villages) = tile(&epi, "villages", t, period).await? else {
            continue;
        };
        for f in &villages.features {
            let code = text(f, "code").unwrap_or_default();
            let (tier, score) = risk.get(&code).expect("every village has a risk");
            assert_eq!(
                text(f, "risk_tier").as_deref(),
                Some(tier.as_str()),
                "{code}"
            );
            assert!(
                (number(f, "risk_score").unwrap_or(-1.0) - score).abs() < 1e-9,
                "{code}"
            );
            let n = cases
                .get(&code)
                .unwrap_or_else(|| panic!("{code} is not in the new cases matrix"))
                .0;
            assert_eq!(number(f, "cases"), Some(n), "{code}");
            let (dosed, due) = *coverage
                .get(&code)
                .unwrap_or_else(|| panic!("{code} is not in the coverage matrix"));
            assert_eq!(number(f, "dogs_dosed"), Some(dosed), "{code}");
            assert_eq!(number(f, "dogs_due"), Some(due), "{code}");
            if due > 0.0 {
                let value = number(f, "deworming_coverage").unwrap_or(-1.0);
                assert!(
                    (value - (dosed / due * 1e4).round() / 1e4).abs() < 1e-9,
                    "{code}"
                );
                rates += 1;
            }
            checked += 1;
        }
        // Planners get the same villages with the small case counts withheld.
        let p = tile(&planner, "villages", t, period)
            .await?
            .expect("same tile");
        assert_eq!(p.features.len(), villages.features.len());
        for f in &p.features {
            let code = text(f, "code").unwrap_or_default();
            let truth = cases
                .get(&code)
                .unwrap_or_else(|| panic!("the planner's {code:?} is not in the new cases matrix"))
                .0;
            let suppressed = f.properties.as_ref().and_then(|p| p.get("suppressed"));
            if (1.0..=4.0).contains(&truth) {
                withheld += 1;
                assert_eq!(number(f, "cases"), None, "{code}");
                assert!(
                    matches!(suppressed, Some(MvtValue::Bool(true))),
                    "{code} is not marked suppressed"
                );
            } else {
                assert_eq!(number(f, "cases"), Some(truth), "{code}");
                assert!(
                    !matches!(suppressed, Some(MvtValue::Bool(true))),
                    "{code} with {truth} cases is marked suppressed"
                );
            }
        }
    }
    assert!(checked > 10, "only {checked} villages checked");
    assert!(
        rates > 0,
        "no village with dogs due had its coverage checked"
    );
    assert!(
        withheld > 0,
        "the demo should have villages with 1–4 cases in 2024"
    );
    Ok(())
}

/// The ETag of an answer ("" when it has none).
fn etag(r: &reqwest::Response) -> String {
    r.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap_or_default();
    out
}

#[tokio::test]
async fn tiles_are_cached_per_encoding_and_a_write_makes_them_fresh_at_once() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let (lon, lat): (f64, f64) =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code = '654022100001'")
            .fetch_one(&app.db.pool)
            .await?;
    let t = TileCoord::containing(lon, lat, 10)?;
    let path = format!(
        "/tiles/case_density/{}/{}/{}.mvt?period=2026",
        t.z(),
        t.x(),
        t.y()
    );
    let get = |enc: &'static str| {
        let req = epi
            .request(reqwest::Method::GET, &path)
            .header("Accept-Encoding", enc);
        async move { req.send().await }
    };
    let gz = get("gzip").await?;
    assert_eq!(gz.status().as_u16(), 200);
    assert_eq!(
        gz.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    assert_eq!(
        gz.headers().get("vary").and_then(|v| v.to_str().ok()),
        Some("Accept-Encoding")
    );
    let etag_gz = etag(&gz);
    let body_gz = gunzip(&gz.bytes().await?);
    let br = get("br").await?;
    let etag_br = etag(&br);
    let plain = get("identity").await?;
    let etag_plain = etag(&plain);
    let body_plain = plain.bytes().await?.to_vec();
    assert!(
        etag_gz.starts_with('"')
            && etag_gz != etag_br
            && etag_br != etag_plain
            && etag_gz != etag_plain
    );
    assert_eq!(body_gz, body_plain, "gzip decodes to the same tile");
    // Revalidation.
    let r = epi
        .request(reqwest::Method::GET, &path)
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", &etag_gz)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 304);
    // A write: a new case in the county seat's tile changes the tile and its ETag at once.
    let before = decode(body_plain)?;
    let total = |d: &Decoded| {
        d.features
            .iter()
            .filter_map(|f| number(f, "cases"))
            .sum::<f64>()
    };
    sqlx::query(
        "INSERT INTO cases (person_id, village_id, case_type, diagnosis_class, organ, discovery_route, reported_on)
         SELECT p.id, p.village_id, 'CE', 'confirmed', 'liver', 'screening', DATE '2026-06-01'
         FROM people p JOIN villages v ON v.id = p.village_id WHERE v.code = '654022100001' LIMIT 1",
    )
    .execute(&app.db.pool)
    .await?;
    let r = epi
        .request(reqwest::Method::GET, &path)
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", &etag_gz)
        .send()
        .await?;
    assert_eq!(
        r.status().as_u16(),
        200,
        "the old ETag must not match after a write"
    );
    let new_etag = etag(&r);
    assert_ne!(new_etag, etag_gz);
    let after = decode(gunzip(&r.bytes().await?))?;
    assert_eq!(total(&after), total(&before) + 1.0);
    Ok(())
}

/// Derived layers (issue 22): after a field write, records and work lists are fresh at once;
/// the village tiles' colours and the risk model follow within seconds, recomputed in the
/// background, and every answer says which data it shows (`X-Data-Version`) and, while it
/// lags, for how long newer data has waited (`X-Data-Stale-Ms`, at most 5 s). The test waits
/// for the header, never for a time.
#[tokio::test]
async fn village_colours_and_risk_follow_a_deworming_within_seconds_and_say_which_data_they_show()
-> Result<()> {
    let app = TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.programme.today = Some(demo_today());
    })
    .await?;
    let epi = app.epi().await?;
    let code = "654022100200";
    let vd = app.user(Role::VillageDoctor, code).await?;
    let due = vd.get_json("/api/worklists/deworming", 200).await?;
    let dog = due["villages"][0]["items"][0]["dog_id"]
        .as_i64()
        .expect("a dog due this month");
    let (lon, lat): (f64, f64) =
        sqlx::query_as("SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code = $1")
            .bind(code)
            .fetch_one(&app.db.pool)
            .await?;
    let t = TileCoord::containing(lon, lat, 10)?;
    let path = format!("/tiles/villages/{}/{}/{}.mvt", t.z(), t.x(), t.y());
    let dosed = |bytes: Vec<u8>| -> Result<f64> {
        let d = decode(bytes)?;
        d.features
            .iter()
            .find(|f| text(f, "code").as_deref() == Some(code))
            .and_then(|f| number(f, "dogs_dosed"))
            .ok_or_else(|| anyhow::anyhow!("{code} has no dogs_dosed in {path}"))
    };
    let r = epi.get(&path).await?;
    assert_eq!(r.status().as_u16(), 200);
    let tile_version = data_version(&r)?;
    let dosed_before = dosed(r.bytes().await?.to_vec())?;
    let risk_path = format!("/api/villages/{code}/risk");
    let (_, risk_version) = epi.get_versioned(&risk_path).await?;
    let (_, list_version) = epi.get_versioned("/api/risk?township=654022100").await?;
    assert_eq!(list_version, risk_version, "one snapshot of the county");
    // Every tile says which data it shows, the hotspot cells' too.
    let h = TileCoord::containing(lon, lat, 7)?;
    let r = epi
        .get(&format!(
            "/tiles/hotspots/{}/{}/{}.mvt",
            h.z(),
            h.x(),
            h.y()
        ))
        .await?;
    assert!(matches!(r.status().as_u16(), 200 | 204));
    data_version(&r)?;

    sqlx::query(
        "INSERT INTO dewormings (dog_id, village_id, dosed_on) SELECT id, village_id, $2 FROM dogs WHERE id = $1",
    )
    .bind(dog)
    .bind(demo_today())
    .execute(&app.db.pool)
    .await?;
    // Records and work lists: fresh at once.
    let after = vd.get_json("/api/worklists/deworming", 200).await?;
    assert!(
        !after["villages"][0]["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["dog_id"].as_i64() == Some(dog)),
        "the dosed dog left the work list at once"
    );
    // The village tile: asked again until it shows newer data, never lagging more than 5 s.
    let (r, _) = epi.newer_than(&path, tile_version).await?;
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await?.to_vec();
    assert_eq!(
        dosed(bytes)?,
        dosed_before + 1.0,
        "the tile counts the new dose"
    );
    let (_, newer) = epi.get_newer_than(&risk_path, risk_version).await?;
    assert!(newer > risk_version);
    // Once caught up, the answer is current: no X-Data-Stale-Ms.
    let r = epi.get(&risk_path).await?;
    assert!(data_version(&r)? >= newer);
    assert!(r.headers().get("x-data-stale-ms").is_none());
    Ok(())
}

#[tokio::test]
async fn tilejson_catalog_and_bad_tile_paths() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let catalog = epi.get_json("/tiles", 200).await?;
    let ids: Vec<&str> = catalog["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert_eq!(ids, LAYERS.iter().map(|l| l.id).collect::<Vec<_>>());
    let tj = epi
        .get_json("/tiles/dog_density.json?period=2025-06", 200)
        .await?;
    assert_eq!(tj["tilejson"], "3.0.0");
    let url = tj["tiles"][0].as_str().expect("tiles url");
    assert!(
        url.ends_with("/tiles/dog_density/{z}/{x}/{y}.mvt?period=2025-06"),
        "{url}"
    );
    assert_eq!(tj["vector_layers"][0]["id"], "dog_density");
    assert_eq!(tj["vector_layers"][0]["fields"]["coverage"], "Number");
    assert!(tj["bounds"].as_array().is_some_and(|b| b.len() == 4));
    for (path, status, code) in [
        ("/tiles/villages/9/371/186.png", 400, "invalid_parameter"),
        ("/tiles/villages/9/1024/1.mvt", 400, "invalid_parameter"),
        ("/tiles/villages/x/1/1.mvt", 400, "invalid_parameter"),
        ("/tiles/villages/23/1/1.mvt", 400, "invalid_parameter"),
        ("/tiles/nosuch/9/371/186.mvt", 404, "unknown_layer"),
        ("/tiles/nosuch.json", 404, "unknown_layer"),
        (
            "/tiles/case_density/9/371/186.mvt?period=2024-13",
            400,
            "invalid_parameter",
        ),
        (
            "/tiles/hotspots/9/371/186.mvt?source=goats",
            400,
            "invalid_parameter",
        ),
        (
            "/tiles/villages/9/371/186.mvt?colour=red",
            400,
            "invalid_query",
        ),
    ] {
        let body: Value = epi.get_json(path, status).await?;
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    // Far from any data: an empty tile is 204.
    let r = epi.get("/tiles/villages/9/0/0.mvt").await?;
    assert_eq!(r.status().as_u16(), 204);
    // Anonymous callers get nothing.
    assert_eq!(
        app.get("/tiles/villages/9/371/186.mvt")
            .await?
            .status()
            .as_u16(),
        401
    );
    Ok(())
}

/// A cached tile is answered in front of the router (`tiles::fast_path`): the same credentials,
/// permission and scope checks must hold there, and a revoked token must not reach a tile that
/// is in the cache.
#[tokio::test]
async fn a_cached_tile_is_served_only_to_callers_who_may_see_it() -> Result<()> {
    use echinomap_programme::audit::Actor;
    use echinomap_programme::auth::store;
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let ts = app.user(Role::TownshipStaff, "654022100").await?;
    // A tile over the county seat's township and its neighbours.
    let t = TileCoord::containing(81.1513, 43.8407, 9)?;
    let path = format!("/tiles/villages/{}/{}/{}.mvt", t.z(), t.x(), t.y());
    // The county's tile enters the cache first.
    let county = tile(&epi, "villages", t, "")
        .await?
        .expect("county villages");
    let again = epi.get(&path).await?;
    assert_eq!(again.status().as_u16(), 200);
    let county_etag = etag(&again);
    let codes = |d: &Decoded| -> Vec<String> {
        d.features.iter().filter_map(|f| text(f, "code")).collect()
    };
    assert!(
        codes(&county).iter().any(|c| !c.starts_with("654022100")),
        "the tile should hold villages of other townships for this test to mean anything"
    );
    // The township user gets the township's tile, not the county's one from the cache.
    let own = tile(&ts, "villages", t, "")
        .await?
        .expect("township villages");
    assert!(!codes(&own).is_empty());
    assert!(codes(&own).iter().all(|c| c.starts_with("654022100")));
    // Revalidation of a cached tile: 304 for the same caller.
    let r = epi
        .request(reqwest::Method::GET, &path)
        .header("If-None-Match", &county_etag)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 304);
    // No credentials: the router's answer, not the cached tile.
    let body = app.get_json(&path, 401).await?;
    assert_eq!(body["error"]["code"], "login_required");
    // A revoked token stops at once, cached tile or not.
    store::revoke_token(&app.db.pool, ts.token_id, &Actor::cli())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = ts.get_json(&path, 401).await?;
    assert_eq!(body["error"]["code"], "invalid_credentials");
    // A malformed path still gets the router's JSON error.
    let body = epi.get_json("/tiles/villages/9/x/1.mvt", 400).await?;
    assert!(body["error"]["message"].as_str().is_some());
    Ok(())
}

/// Arguments of a county tile at zoom `z` (x = y = 0) for the year 2024, nothing hidden.
fn sample_args(z: u8) -> TileArgs<'static> {
    let day = |m, d| chrono::NaiveDate::from_ymd_opt(2024, m, d).expect("a day of 2024");
    TileArgs {
        z: i32::from(z),
        x: 0,
        y: 0,
        scope: "654022",
        small_max: None,
        d_from: day(1, 1),
        d_to: day(12, 31),
        m_from: day(12, 1),
        m_to: day(12, 31),
        source: "human_cases",
        resolution: 7,
        has_period: false,
        v_tier: &[],
        v_score: &[],
        v_cases: &[],
        v_due: &[],
        v_dosed: &[],
        v_population: &[],
        v_households: &[],
    }
}

/// `v` as an SQL literal (the tests' values have no quotes to escape).
fn sql_literal(v: &TileValue<'_>) -> String {
    fn array<T: ToString>(items: &[T]) -> String {
        let items: Vec<String> = items.iter().map(T::to_string).collect();
        format!("'{{{}}}'", items.join(","))
    }
    match v {
        TileValue::Int(i) => i.to_string(),
        TileValue::OptionalInt8(i) => i.map_or_else(|| "NULL".to_owned(), |i| i.to_string()),
        TileValue::Text(t) => format!("'{t}'"),
        TileValue::Date(d) => format!("'{d}'"),
        TileValue::Bool(b) => b.to_string(),
        TileValue::Int2Array(a) => array(a),
        TileValue::Float8Array(a) => array(a),
        TileValue::Int8Array(a) => array(a),
    }
}

/// The tile pool runs generic plans. In a generic plan, `f.geom && env.e4326` (env a CTE of
/// the bound z/x/y) became a join filter that transformed the envelope again for every row and
/// could not use the spatial index; every layer now reads the envelope through an InitPlan.
#[tokio::test]
async fn generic_tile_plans_transform_the_envelope_once_not_per_row() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let mut conn = app.db.pool.acquire().await?;
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await?;
    let mut checked = 0;
    for (i, layer) in LAYERS.iter().enumerate() {
        for z in [layer.minzoom.max(6), 12] {
            let name = format!("t{i}_{z}");
            // The parameters' types and values as the service binds them (`TileArgs`).
            let args = sample_args(z);
            let values = args.values();
            let types: Vec<&str> = values.iter().map(|(_, v)| v.sql_type()).collect();
            let literals: Vec<String> = values.iter().map(|(_, v)| sql_literal(v)).collect();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "PREPARE {name}({}) AS {}",
                types.join(", "),
                layer.sql(z)
            )))
            .execute(&mut *conn)
            .await?;
            let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "EXPLAIN EXECUTE {name}({})",
                literals.join(", ")
            )))
            .fetch_all(&mut *conn)
            .await?;
            let text = plan.join("\n");
            assert!(
                text.contains("InitPlan"),
                "{} z{z}: the envelope is not an InitPlan:\n{text}",
                layer.id
            );
            for line in &plan {
                assert!(
                    !(line.contains("Filter") && line.contains("st_tileenvelope")),
                    "{} z{z}: the envelope is computed per row:\n{text}",
                    layer.id
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, LAYERS.len() * 2);
    Ok(())
}

/// The small-count rule is the service's, not a constant: a server started with 1–6 hidden
/// inside the organisation (1–11 outside) hides counts up to 6 from planners in every layer that
/// carries counts, still shows them to the epidemiologist, and says 1–6 in its TileJSON.
#[tokio::test]
async fn tiles_follow_the_configured_small_count_rule() -> Result<()> {
    let app = TestApp::spawn_with(TestDb::demo().await?, None, |s| {
        s.programme.small_counts = (6, 11);
    })
    .await?;
    let epi = app.epi().await?;
    let planner = app.user(Role::Planner, "654022").await?;
    // A village with 5 cases in 2024 (new people, one report each), hidden under 1–6 and shown
    // under the default 1–4: the edge that moved.
    sqlx::query(
        "WITH v AS (SELECT id FROM villages WHERE code = '654022100001'),
              n AS (SELECT count(*) AS k FROM cases c JOIN v ON c.village_id = v.id
                    WHERE c.deleted_at IS NULL AND c.reported_on BETWEEN '2024-01-01' AND '2024-12-31')
         INSERT INTO cases (person_id, village_id, case_type, diagnosis_class, organ, discovery_route, reported_on)
         SELECT p.id, p.village_id, 'CE', 'confirmed', 'liver', 'screening', DATE '2024-06-01'
         FROM people p JOIN v ON p.village_id = v.id
         WHERE p.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.person_id = p.id)
         LIMIT (SELECT greatest(5 - k, 0) FROM n)",
    )
    .execute(&app.db.pool)
    .await?;
    let period = "?period=2024";
    let (mut hidden, mut edge, mut shown) = (0, 0, 0);
    for layer in ["case_density", "villages"] {
        for z in [9u8, 10] {
            for t in data_tiles(&app, z).await? {
                let at = format!("{layer} {z}/{}/{}", t.x(), t.y());
                let (Some(p), Some(e)) = (
                    tile(&planner, layer, t, period).await?,
                    tile(&epi, layer, t, period).await?,
                ) else {
                    continue;
                };
                assert_eq!(p.features.len(), e.features.len(), "{at}");
                let truth: HashMap<u64, Option<f64>> = e
                    .features
                    .iter()
                    .filter_map(|f| f.id.map(|id| (id, number(f, "cases"))))
                    .collect();
                for f in &e.features {
                    let suppressed = f.properties.as_ref().and_then(|p| p.get("suppressed"));
                    assert!(
                        !matches!(suppressed, Some(MvtValue::Bool(true))),
                        "{at}: the epidemiologist's tile hides a count"
                    );
                }
                for f in &p.features {
                    let id = f.id.unwrap_or_else(|| panic!("{at}: a feature without id"));
                    let truth = truth.get(&id).copied().unwrap_or_else(|| {
                        panic!("{at}: {id} is not in the epidemiologist's tile")
                    });
                    let suppressed = f.properties.as_ref().and_then(|p| p.get("suppressed"));
                    if truth.is_some_and(|c| (1.0..=6.0).contains(&c)) {
                        hidden += 1;
                        if truth.is_some_and(|c| c > 4.0) {
                            edge += 1;
                        }
                        assert_eq!(number(f, "cases"), None, "{at}: feature {id}");
                        assert!(
                            matches!(suppressed, Some(MvtValue::Bool(true))),
                            "{at}: feature {id} is not marked suppressed"
                        );
                    } else {
                        shown += 1;
                        assert_eq!(number(f, "cases"), truth, "{at}: feature {id}");
                        assert!(
                            !matches!(suppressed, Some(MvtValue::Bool(true))),
                            "{at}: feature {id} with {truth:?} cases is marked suppressed"
                        );
                    }
                }
            }
        }
    }
    assert!(hidden > 0 && shown > 0, "hidden {hidden}, shown {shown}");
    assert!(
        edge > 0,
        "no village or cell with 5 or 6 cases was compared"
    );
    let tj = planner.get_json("/tiles/case_density.json", 200).await?;
    let description = tj["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("counts of 1–6 withheld"),
        "{description}"
    );
    let catalog = planner.get_json("/tiles", 200).await?;
    let listed = catalog["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["id"] == "case_density");
    assert_eq!(
        listed.map(|l| &l["description"]),
        Some(&tj["description"]),
        "the catalogue and TileJSON describe the layer alike"
    );
    Ok(())
}
