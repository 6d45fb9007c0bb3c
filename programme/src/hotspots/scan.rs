//! Kulldorff's scan of a request, and the published scan the `scan_clusters` export reads.

use echinomap_geodata::hotspots;
use echinomap_geodata::hotspots::scan::{Cluster, Location, ScanOptions};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{HotspotsError, Request, blocking, places};

/// A scan run: the places it read, the clusters found (ranked, each naming its centre and
/// members by index into `locations`) and the options it ran with.
#[derive(Debug, Clone)]
pub struct Scan {
    pub locations: Vec<Location>,
    pub clusters: Vec<Cluster>,
    pub options: ScanOptions,
}

/// Whether a scan run is kept as the scope's published scan (what the `scan_clusters` export and
/// OGC collection show) or only answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanUse {
    /// Kept: run by a role that publishes exports ([`crate::auth::Perm::Export`]).
    Publish,
    /// Answered only: anyone else's scan, whatever its layer, period or township, changes
    /// nothing another reader sees.
    Look,
}

/// Kulldorff's scan of `r` (the source's [`HotspotSource::model`]); with [`ScanUse::Publish`] the
/// clusters are stored as the latest scan of the scope, for the `scan_clusters` export.
pub async fn scan(pool: &PgPool, r: &Request, using: ScanUse) -> Result<Scan, HotspotsError> {
    let locations = places(pool, r).await?;
    let options = ScanOptions {
        model: r.source.model(),
        ..ScanOptions::default()
    };
    let locs = locations.clone();
    let clusters = blocking(move || hotspots::scan::scan(&locs, &options)).await?;
    if using == ScanUse::Publish {
        store_scan(pool, r, &options, &locations, &clusters).await?;
    }
    Ok(Scan {
        locations,
        clusters,
        options,
    })
}

/// Keeps the clusters of one scan run for the `scan_clusters` export (the latest per scope).
async fn store_scan(
    pool: &PgPool,
    r: &Request,
    opts: &ScanOptions,
    locations: &[Location],
    clusters: &[Cluster],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO scan_results (layer, period_from, period_to, scope, model, params)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(r.source.as_str())
    .bind(r.from)
    .bind(r.to)
    .bind(r.scope.as_str())
    .bind(opts.model.as_str())
    .bind(json!({
        "max_population_fraction": opts.max_population_fraction,
        "replications": opts.replications,
        "seed": opts.seed,
        "max_clusters": opts.max_clusters,
        "locations": locations.len(),
    }))
    .fetch_one(&mut *tx)
    .await?;
    let rows: Vec<Value> = clusters
        .iter()
        .map(|c| {
            let centre = &locations[c.center];
            json!({
                "rank": c.rank,
                "lon": centre.lon,
                "lat": centre.lat,
                "code": centre.id,
                "radius_m": c.radius_km * 1000.0,
                "population": c.population,
                "observed": c.observed,
                "expected": c.expected,
                "relative_risk": c.relative_risk.is_finite().then_some(c.relative_risk),
                "llr": c.llr,
                "p_value": c.p_value,
                "members": c.members.iter().map(|i| locations[*i].id.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO scan_clusters (result_id, rank, centre, centre_code, radius_m, population,
                                    observed, expected, relative_risk, llr, p_value, member_codes)
         SELECT $1, x.rank, ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326), x.code, x.radius_m,
                x.population, x.observed, x.expected, x.relative_risk, x.llr, x.p_value, x.members
         FROM jsonb_to_recordset($2) AS x(rank int, lon float8, lat float8, code text, radius_m float8,
              population float8, observed float8, expected float8, relative_risk float8, llr float8,
              p_value float8, members text[])",
    )
    .bind(id)
    .bind(Value::Array(rows))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(scan.id = id, scan.layer = r.source.as_str(), scan.scope = %r.scope, scan.clusters = clusters.len(), "scan stored");
    Ok(())
}
