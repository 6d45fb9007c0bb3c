//! The `villages` import: the county's own positions and boundaries replace the demo's synthetic
//! ones. Rows name existing villages by code (villages are created by the gazetteer, not by
//! sheets); a row may give a position (lon, lat), a boundary (`geometry`, GeoJSON), a name and
//! the remote flag. Imported villages are no longer synthetic.
//!
//! The rows are checked and written here; the report, the refusal rule and the end of the
//! import (commit or roll back, history, audit) are the register import's
//! ([`super::import::report`], [`super::import::conclude`]), so the two kinds cannot drift.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use echinomap_domain::VillageCode;
use echinomap_geodata::gcj02::LonLat;
use echinomap_geodata::import::values;
use serde_json::json;

use super::import::{self, Counts, Failure, Progress, Report, Request, Sheet, Who};
use super::parse::{Reason, RowError};

struct Row {
    row: usize,
    code: String,
    name: Option<String>,
    point: Option<(f64, f64, [u64; 3])>,
    boundary: Option<String>,
    remote: Option<bool>,
}

pub(super) async fn run(
    pool: &sqlx::PgPool,
    who: &Who,
    req: &Request,
    id: &str,
    sheet: Sheet<'_>,
    progress: &Progress,
) -> Result<Report, Failure> {
    let Sheet { table, fields } = sheet;
    let started = chrono::Utc::now();
    let col = |f: &str| fields.iter().position(|x| *x == Some(f));
    let (c_code, c_name, c_lon, c_lat, c_geom, c_remote) = (
        col("village_code"),
        col("village"),
        col("lon"),
        col("lat"),
        col("geometry"),
        col("remote"),
    );
    progress.phase.store(1, Ordering::Relaxed);
    let mut errors: BTreeMap<usize, Vec<RowError>> = BTreeMap::new();
    let mut rows = Vec::new();
    for r in &table.rows {
        let cell = |c: Option<usize>| {
            c.and_then(|c| r.cells.get(c))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let mut errs = Vec::new();
        let mut e = |c: Option<usize>, field: &str, value: Option<&str>, why: Reason| {
            errs.push(RowError::new(
                r.number,
                c.and_then(|c| table.headers.get(c).cloned()),
                Some(field),
                value.map(str::to_owned),
                why,
            ));
        };
        let code = match cell(c_code).map(VillageCode::parse) {
            Some(Ok(code)) => match who
                .scope
                .as_ref()
                .filter(|s| !s.contains_code(code.as_str()))
            {
                None => Some(code.as_str().to_owned()),
                Some(scope) => {
                    let mut why = Reason::outside_jurisdiction(code.as_str(), scope);
                    why.text = format!("outside your jurisdiction {scope}");
                    e(c_code, "village_code", Some(code.as_str()), why);
                    None
                }
            },
            Some(Err(err)) => {
                e(
                    c_code,
                    "village_code",
                    cell(c_code),
                    Reason::new(
                        "bad_code",
                        json!({ "value": cell(c_code), "digits": VillageCode::DIGITS }),
                        err.to_string(),
                    ),
                );
                None
            }
            None => {
                e(
                    c_code,
                    "village_code",
                    None,
                    Reason::plain("required", "village_code is required"),
                );
                None
            }
        };
        let point = match (cell(c_lon), cell(c_lat)) {
            (Some(x), Some(y)) => match (values::parse_decimal(x), values::parse_decimal(y)) {
                (Ok(lon), Ok(lat)) => match LonLat::new(lon, lat) {
                    Ok(p) => {
                        let p = req.crs.to_wgs84(p);
                        echinomap_geodata::gazetteer::h3_cells(p.into())
                            .map(|h| (p.lon(), p.lat(), h))
                            .map_err(|err| {
                                let why = Reason::new(
                                    "bad_coordinate",
                                    json!({ "axis": "lon", "min": -180, "max": 180 }),
                                    err.to_string(),
                                );
                                e(c_lon, "lon", Some(x), why)
                            })
                            .ok()
                    }
                    Err(err) => {
                        e(c_lon, "lon", Some(x), Reason::coordinate(&err));
                        None
                    }
                },
                (Err(err), _) => {
                    e(
                        c_lon,
                        "lon",
                        Some(x),
                        Reason::plain("not_a_number", err.to_string()),
                    );
                    None
                }
                (_, Err(err)) => {
                    e(
                        c_lat,
                        "lat",
                        Some(y),
                        Reason::plain("not_a_number", err.to_string()),
                    );
                    None
                }
            },
            (None, None) => None,
            (x, y) => {
                let code = if x.is_some() {
                    "lon_without_lat"
                } else {
                    "lat_without_lon"
                };
                e(
                    c_lon,
                    "lon",
                    x.or(y),
                    Reason::plain(code, "give both lon and lat"),
                );
                None
            }
        };
        let remote = match cell(c_remote).map(values::parse_bool) {
            Some(Ok(b)) => Some(b),
            Some(Err(err)) => {
                e(
                    c_remote,
                    "remote",
                    cell(c_remote),
                    Reason::plain("bad_bool", err.to_string()),
                );
                None
            }
            None => None,
        };
        let boundary = cell(c_geom).map(str::to_owned);
        if let (Some(code), true) = (code, errs.is_empty()) {
            rows.push(Row {
                row: r.number,
                code,
                name: cell(c_name).map(str::to_owned),
                point,
                boundary,
                remote,
            });
        } else {
            errors.entry(r.number).or_default().extend(errs);
        }
    }
    progress.phase.store(2, Ordering::Relaxed);
    let mut tx = crate::db::begin_long(pool).await?;
    let mut counts = Counts::default();
    for r in &rows {
        // Each row behind a savepoint: a boundary PostGIS refuses fails its statement, and only
        // that row is lost, not the transaction (so `valid_rows` keeps the others, like a
        // register import).
        let mut row_tx = sqlx::Connection::begin(&mut *tx).await?;
        let result = sqlx::query_scalar::<_, bool>(
            "WITH new AS (
               SELECT v.id,
                 coalesce($2, v.name) AS name,
                 coalesce(ST_SetSRID(ST_MakePoint($3, $4), 4326), v.geom) AS geom,
                 coalesce(ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($5), 4326))::geometry(MultiPolygon, 4326), v.boundary) AS boundary,
                 coalesce($6, v.remote) AS remote,
                 coalesce($7, v.h3_r7) AS h3_r7, coalesce($8, v.h3_r8) AS h3_r8, coalesce($9, v.h3_r9) AS h3_r9
               FROM villages v WHERE v.code = $1)
             UPDATE villages v SET name = n.name, geom = n.geom, boundary = n.boundary, remote = n.remote,
                 h3_r7 = n.h3_r7, h3_r8 = n.h3_r8, h3_r9 = n.h3_r9,
                 synthetic = synthetic AND $3::float8 IS NULL AND $5::text IS NULL
             FROM new n WHERE v.id = n.id
               AND (v.name, v.geom, v.boundary, v.remote) IS DISTINCT FROM (n.name, n.geom, n.boundary, n.remote)
             RETURNING true",
        )
        .bind(r.code.as_str())
        .bind(r.name.as_deref())
        .bind(r.point.map(|p| p.0))
        .bind(r.point.map(|p| p.1))
        .bind(r.boundary.as_deref())
        .bind(r.remote)
        .bind(r.point.map(|p| p.2[0] as i64))
        .bind(r.point.map(|p| p.2[1] as i64))
        .bind(r.point.map(|p| p.2[2] as i64))
        .fetch_optional(&mut *row_tx)
        .await;
        match result {
            Ok(Some(_)) => {
                row_tx.commit().await?;
                counts.updated += 1;
            }
            Ok(None) => {
                row_tx.commit().await?;
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT id FROM villages WHERE code = $1")
                        .bind(r.code.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_some() {
                    counts.unchanged += 1;
                } else {
                    errors.entry(r.row).or_default().push(RowError::new(
                        r.row,
                        c_code.and_then(|c| table.headers.get(c).cloned()),
                        Some("village_code"),
                        Some(r.code.clone()),
                        Reason::new(
                            "village_not_found",
                            json!({ "code": r.code }),
                            format!(
                                "no village has code {}; villages come from the gazetteer",
                                r.code
                            ),
                        ),
                    ));
                }
            }
            Err(sqlx::Error::Database(db)) => {
                // A boundary that is not GeoJSON (or not a polygon).
                row_tx.rollback().await?;
                errors.entry(r.row).or_default().push(RowError::new(
                    r.row,
                    c_geom.and_then(|c| table.headers.get(c).cloned()),
                    Some("geometry"),
                    r.boundary.clone(),
                    Reason::plain(
                        "bad_geometry",
                        format!("not a GeoJSON polygon: {}", db.message()),
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let report = import::report(id, req, table.rows.len(), errors, counts);
    import::conclude(pool, tx, who, req, &report, started).await?;
    progress.phase.store(3, Ordering::Relaxed);
    Ok(report)
}
