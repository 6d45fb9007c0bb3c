//! Hotspot statistics over the service's own data: the H3 hotspot grid (Gi*, LISA, empirical
//! Bayes) and Kulldorff's scan. The statistics are `echinomap_geodata::hotspots`; this module
//! chooses the places and denominators of what is counted ([`HotspotSource`]), stores grid
//! results keyed by the data versions they read (so that a repeated request reads them back and
//! village risk can use them), and keeps the clusters of each scan published by a role that
//! exports ([`ScanUse`]) for the `scan_clusters` export.
//!
//! Results are the same for every reader of a scope; what a reader may see of small counts is
//! decided where they are shown (`server::http::hotspots`).

use chrono::{DateTime, NaiveDate, Utc};
use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots::scan::{Cluster, Location, Model, ScanOptions};
use echinomap_geodata::hotspots::{self, HotspotError, HotspotOptions, Place, Variable};
use serde_json::{Map, Value, json};
use sqlx::PgPool;

use crate::error::Error;
use crate::watch::Watch;

/// What a hotspot analysis counts, over which denominator, from which tables. URLs, JSON and
/// the stored results call it the analysed `layer` (`layer=` of the hotspots, `source=` of the
/// hotspot tiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotspotSource {
    /// Human cases reported in the period over the village population.
    HumanCases,
    /// Positive dog faecal tests over dogs tested in the period.
    DogPositivity,
    /// Animals with cysts over animals inspected, by the animals' origin village.
    LivestockInfection,
}

impl HotspotSource {
    /// The source named in `field` (`layer=` for hotspots, `source=` for tiles).
    pub fn parse(field: &str, s: &str) -> Result<Self, Error> {
        match s {
            "human_cases" => Ok(Self::HumanCases),
            "dog_positivity" => Ok(Self::DogPositivity),
            "livestock_infection" => Ok(Self::LivestockInfection),
            other => Err(Error::invalid_param(
                field,
                format!(
                    "unknown layer {other:?}: human_cases, dog_positivity or livestock_infection"
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HumanCases => "human_cases",
            Self::DogPositivity => "dog_positivity",
            Self::LivestockInfection => "livestock_infection",
        }
    }

    /// The tables the source reads, in name order (the order of the versions in stored keys).
    fn tables(self) -> &'static [&'static str] {
        match self {
            Self::HumanCases => &["cases", "village_denominators", "villages"],
            Self::DogPositivity => &["faecal_tests", "villages"],
            Self::LivestockInfection => &["slaughter_inspections", "villages"],
        }
    }

    /// Counts of people are personal (small counts are hidden from readers without case
    /// access); counts of animals are not.
    pub fn personal(self) -> bool {
        self == Self::HumanCases
    }

    /// The scan's model: Poisson for cases over a population, Bernoulli for positives among
    /// animals tested.
    pub fn model(self) -> Model {
        if self == Self::HumanCases {
            Model::Poisson
        } else {
            Model::Bernoulli
        }
    }

    /// One row per village of the scope: code, lon, lat, count, denominator.
    fn places_sql(self) -> &'static str {
        match self {
            Self::HumanCases => {
                "SELECT v.code::text, ST_X(v.geom), ST_Y(v.geom),
                        (SELECT count(*) FROM cases c WHERE c.village_id = v.id AND c.deleted_at IS NULL
                            AND c.reported_on BETWEEN $2 AND $3)::float8,
                        coalesce((SELECT population FROM village_denominators d WHERE d.village_id = v.id
                                  ORDER BY year DESC LIMIT 1), 0)::float8
                 FROM villages v WHERE v.code LIKE $1 || '%' ORDER BY v.code"
            }
            Self::DogPositivity => {
                "SELECT v.code::text, ST_X(v.geom), ST_Y(v.geom),
                        count(f.id) FILTER (WHERE f.result = 'positive')::float8,
                        count(f.id) FILTER (WHERE f.result <> 'inconclusive')::float8
                 FROM villages v
                 LEFT JOIN faecal_tests f ON f.village_id = v.id AND f.deleted_at IS NULL
                      AND f.sampled_on BETWEEN $2 AND $3
                 WHERE v.code LIKE $1 || '%' GROUP BY v.id ORDER BY v.code"
            }
            Self::LivestockInfection => {
                "SELECT v.code::text, ST_X(v.geom), ST_Y(v.geom),
                        coalesce(sum(s.infected), 0)::float8, coalesce(sum(s.slaughtered), 0)::float8
                 FROM villages v
                 LEFT JOIN slaughter_inspections s ON s.origin_village_id = v.id AND s.deleted_at IS NULL
                      AND s.inspected_on BETWEEN $2 AND $3
                 WHERE v.code LIKE $1 || '%' GROUP BY v.id ORDER BY v.code"
            }
        }
    }
}

/// What is analysed: a source over a period (both days included) in the villages of a scope.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: HotspotSource,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// A county, township or village the reader answers for.
    pub scope: PlaceCode,
}

/// A hotspot analysis that failed.
#[derive(Debug, thiserror::Error)]
pub enum HotspotsError {
    /// The data do not allow the statistics (too few places, no denominator): HTTP 422.
    #[error("the statistics cannot be computed on these data: {0}")]
    NotComputable(#[source] HotspotError),
    #[error(transparent)]
    Programme(#[from] Error),
}

impl From<sqlx::Error> for HotspotsError {
    fn from(e: sqlx::Error) -> Self {
        Self::Programme(Error::Database(e))
    }
}

/// Runs a statistic off the async threads: they are CPU-bound for seconds on large scopes.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HotspotError> + Send + 'static,
) -> Result<T, HotspotsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(HotspotsError::NotComputable)
}

/// The villages of the request with a denominator (one without carries no information), as
/// locations named by village code.
async fn places(pool: &PgPool, r: &Request) -> Result<Vec<Location>, sqlx::Error> {
    let rows: Vec<(String, f64, f64, f64, f64)> = sqlx::query_as(r.source.places_sql())
        .bind(r.scope.as_str())
        .bind(r.from)
        .bind(r.to)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|p| p.4 > 0.0)
        .map(|(id, lon, lat, count, population)| Location {
            id,
            lon,
            lat,
            count,
            population,
        })
        .collect())
}

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
