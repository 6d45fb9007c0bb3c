//! Hotspot statistics over the service's own data: the H3 hotspot grid (Gi*, LISA, empirical
//! Bayes) and Kulldorff's scan. The statistics are `echinomap_geodata::hotspots`; this module
//! chooses the places and denominators of what is counted ([`HotspotSource`]), stores grid
//! results keyed by the data versions they read (so that a repeated request reads them back and
//! village risk can use them), and keeps the clusters of each scan published by a role that
//! exports ([`ScanUse`]) for the `scan_clusters` export.
//!
//! Results are the same for every reader of a scope; what a reader may see of small counts is
//! decided where they are shown (`server::http::hotspots`).

use chrono::NaiveDate;
use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots::HotspotError;
use echinomap_geodata::hotspots::scan::{Location, Model};
use sqlx::PgPool;

use crate::error::Error;

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
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HotspotError> + Send + 'static,
) -> Result<T, HotspotsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(HotspotsError::NotComputable)
}

/// The villages of the request with a denominator (one without carries no information), as
/// locations named by village code.
pub(crate) async fn places(pool: &PgPool, r: &Request) -> Result<Vec<Location>, sqlx::Error> {
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

mod grid;
mod scan;
mod spacetime;
mod units;

pub use grid::{Grid, GridCell, grid, round6};
pub use scan::{
    SCAN_MIN_CASES, SCAN_MIN_UNITS, Scan, ScanFacts, ScanSettings, ScanUse, diagnose_scan, scan,
};
pub use spacetime::{SpaceTimeScan, default_model, model_fits, space_time};
pub use units::{AnalysedUnit, Unit, UnitsAnalysis, UnitsCache, WeightsChoice, units};
