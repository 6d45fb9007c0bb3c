//! The H3 hotspot grid of a request: computed once per data version and stored.

use chrono::{DateTime, Utc};
use echinomap_geodata::hotspots::{self, HotspotOptions, Place, Variable};
use serde_json::{Map, Value, json};
use sqlx::PgPool;

use super::{HotspotsError, Request, ScanUse, blocking, places};
use crate::error::Error;
use crate::watch::Watch;

/// The statistics of one H3 cell, as stored and shown (`h3_cell`, `count`, `rate`,
/// `eb_rate`, `gi_star_z`, `lisa_cluster`, …).
#[derive(Debug, Clone)]
pub struct GridCell {
    /// The H3 index.
    pub cell: i64,
    /// The cell's outline, GeoJSON in EPSG:4326.
    pub geometry: Value,
    pub stats: Map<String, Value>,
}

/// A hotspot grid, computed now or read back from an earlier request on the same data.
#[derive(Debug, Clone)]
pub struct Grid {
    pub summary: Value,
    pub computed_at: DateTime<Utc>,
    pub cells: Vec<GridCell>,
}

/// The hotspot grid of `r` at H3 `resolution` (checked by the statistics) with neighbourhood
/// `ring`, from the stored result of the same request on the same data versions when there
/// is one, otherwise computed and stored. With [`ScanUse::Publish`] (a role that may export
/// asked) the result becomes the one the `hotspots` export of the jurisdiction reads, if it is
/// the latest; a look changes no export.
pub async fn grid(
    pool: &PgPool,
    watch: &Watch,
    r: &Request,
    resolution: u8,
    ring: u32,
    variable: Variable,
    using: ScanUse,
) -> Result<Grid, HotspotsError> {
    // The tables are listed in name order, as the stored keys have them.
    let versions = watch.versions(pool, r.source.tables()).await?;
    let key = format!(
        "{}|r{resolution}|{}..{}|{}|ring{ring}|{}|v{:?}",
        r.source.as_str(),
        r.from,
        r.to,
        variable.as_str(),
        r.scope,
        versions
    );
    let publish = using == ScanUse::Publish;
    let stored: Option<(i64, Value, DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT id, summary, computed_at, published FROM hotspot_results WHERE cache_key = $1",
    )
    .bind(&key)
    .fetch_optional(pool)
    .await?;
    let (id, summary, computed_at) = match stored {
        Some((id, summary, computed_at, published)) => {
            if publish && !published {
                sqlx::query("UPDATE hotspot_results SET published = true WHERE id = $1")
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
            (id, summary, computed_at)
        }
        None => compute_and_store(pool, r, (resolution, ring, variable), &key, publish).await?,
    };
    let cells: Vec<(i64, Value, Value)> = sqlx::query_as(
        "SELECT cell, ST_AsGeoJSON(geom, 6)::json, stats FROM hotspot_cells WHERE result_id = $1 ORDER BY cell",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Grid {
        summary,
        computed_at,
        cells: cells
            .into_iter()
            .map(|(cell, geometry, stats)| GridCell {
                cell,
                geometry,
                stats: match stats {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
            })
            .collect(),
    })
}

fn outline_geojson(cell: u64) -> Value {
    echinomap_geodata::cells::outline(cell).map_or(Value::Null, |p| {
        let ring: Vec<[f64; 2]> = p
            .exterior()
            .coords()
            .map(|c| [round6(c.x), round6(c.y)])
            .collect();
        json!({ "type": "Polygon", "coordinates": [ring] })
    })
}

/// Degrees to 6 decimals (about 0.1 m): the precision of every coordinate the service shows.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

async fn compute_and_store(
    pool: &PgPool,
    r: &Request,
    (resolution, ring, variable): (u8, u32, Variable),
    key: &str,
    publish: bool,
) -> Result<(i64, Value, DateTime<Utc>), HotspotsError> {
    let places: Vec<Place> = places(pool, r)
        .await?
        .iter()
        .map(|l| Place {
            lon: l.lon,
            lat: l.lat,
            count: l.count,
            population: l.population,
        })
        .collect();
    let opts = HotspotOptions {
        variable,
        ..HotspotOptions::default()
    };
    let res = hotspots::resolution(resolution).map_err(HotspotsError::NotComputable)?;
    let result = blocking(move || hotspots::analyse(&places, res, ring, &opts)).await?;
    let summary = serde_json::to_value(&result.summary).map_err(|e| Error::Internal(e.into()))?;
    let mut tx = pool.begin().await?;
    let (id, computed_at): (i64, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO hotspot_results (cache_key, layer, resolution, period_from, period_to, scope, params, summary, published)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (cache_key) DO UPDATE
           SET published = hotspot_results.published OR EXCLUDED.published
         RETURNING id, computed_at",
    )
    .bind(key)
    .bind(r.source.as_str())
    .bind(i16::from(resolution))
    .bind(r.from)
    .bind(r.to)
    .bind(r.scope.as_str())
    .bind(json!({ "variable": variable.as_str(), "ring": ring, "permutations": opts.permutations, "seed": opts.seed, "alpha": opts.alpha, "correction": "fdr" }))
    .bind(&summary)
    .bind(publish)
    .fetch_one(&mut *tx)
    .await?;
    let mut cells = Vec::with_capacity(result.cells.len());
    let mut geoms = Vec::with_capacity(result.cells.len());
    let mut stats = Vec::with_capacity(result.cells.len());
    for c in &result.cells {
        let cell = u64::from(c.cell);
        cells.push(cell as i64);
        geoms.push(outline_geojson(cell).to_string());
        stats.push(json!({
            "h3_cell": hotspots::cell_hex(c.cell),
            "n_points": c.n_points,
            "population": c.population,
            "count": c.count,
            "rate": c.rate,
            "eb_rate": c.eb_rate,
            "spatial_eb_rate": c.spatial_eb_rate,
            "neighbors": c.neighbors,
            "gi_star_z": c.gi_star_z,
            "gi_star_p": c.gi_star_p,
            "gi_star_p_sim": c.gi_star_p_sim,
            "gi_star_bin": c.gi_star_bin,
            "lisa_i": c.lisa_i,
            "lisa_quadrant": c.lisa_quadrant.map(|q| q.as_str()),
            "lisa_p_sim": c.lisa_p_sim,
            "lisa_cluster": c.lisa_cluster.as_str(),
        }));
    }
    sqlx::query(
        "INSERT INTO hotspot_cells (result_id, cell, geom, stats)
         SELECT $1, c, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326), s
         FROM unnest($2::bigint[], $3::text[], $4::jsonb[]) AS u(c, g, s)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&cells)
    .bind(&geoms)
    .bind(&stats)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, summary, computed_at))
}
