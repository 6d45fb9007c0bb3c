//! Hotspot statistics on villages and townships (issue 22): the units the programme works in,
//! with k-nearest-neighbour, distance-band or contiguity weights, and the diagnosis of a result
//! without significant units. Unlike the H3 grid ([`super::grid`]) the results are not stored:
//! they are kept in memory by the data versions they read ([`UnitsCache`]).

use chrono::{DateTime, Utc};
use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots::weights::{self, WeightsInfo, WeightsKind};
use echinomap_geodata::hotspots::{
    self, Analysed, Diagnosis, HotspotOptions, LisaCluster, Neighbours, Summary, UnitData,
    UnitKind, UnitStats,
};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{HotspotsError, Request, blocking, round6};
use crate::error::Error;
use crate::watch::{Memo, Watch};

/// The units of a hotspot analysis (`unit=` of `/api/hotspots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Villages, as points (the default).
    Village,
    /// Townships, as polygons; counts and denominators added up over their villages.
    Township,
    /// H3 cells: the stored grid of [`super::grid`], not this module.
    H3,
}

impl Unit {
    /// The unit named in `field`: `village`, `township` or `h3`.
    pub fn parse(field: &str, s: &str) -> Result<Self, Error> {
        match s {
            "village" => Ok(Self::Village),
            "township" => Ok(Self::Township),
            "h3" => Ok(Self::H3),
            other => Err(Error::invalid_param(
                field,
                format!("unknown unit {other:?}: village, township or h3"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Village => "village",
            Self::Township => "township",
            Self::H3 => "h3",
        }
    }

    /// The kind the diagnosis works with.
    pub fn kind(self) -> UnitKind {
        match self {
            Self::Village => UnitKind::Village,
            Self::Township => UnitKind::Township,
            Self::H3 => UnitKind::H3,
        }
    }
}

/// The spatial weights asked for villages or townships.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightsChoice {
    /// The k nearest units (by the village point or the township's point on surface).
    Knn { k: usize },
    /// Every unit within `km`; `None`: the smallest band that leaves no unit alone.
    Distance { km: Option<f64> },
    /// Townships whose polygons touch (queen); townships only.
    Contiguity,
}

/// One analysed village or township.
#[derive(Debug, Clone)]
pub struct AnalysedUnit {
    /// Village (12 digits) or township (9 digits) code.
    pub code: String,
    pub name: String,
    /// The township of a village (code, name); `None` for a township.
    pub township: Option<(String, String)>,
    /// GeoJSON in EPSG:4326: the village point, or the township polygon.
    pub geometry: Value,
    pub stats: UnitStats,
}

/// A village or township analysis: every unit with its statistics, the summary, the weights
/// used and the diagnosis.
#[derive(Debug, Clone)]
pub struct UnitsAnalysis {
    pub unit: Unit,
    pub units: Vec<AnalysedUnit>,
    pub summary: Summary,
    pub weights: WeightsInfo,
    pub diagnosis: Diagnosis,
    /// The total count over the analysed units.
    pub cases: f64,
    /// Units of the scope left out because they have no denominator.
    pub n_left_out: usize,
    pub options: HotspotOptions,
    pub computed_at: DateTime<Utc>,
}

/// Village and township analyses kept in memory by request, weights, options and the data
/// versions they read (fresh by construction). Cheap to clone: the service state holds one.
#[derive(Debug, Clone)]
pub struct UnitsCache {
    memo: Memo<UnitsAnalysis>,
}

impl Default for UnitsCache {
    fn default() -> Self {
        Self {
            memo: Memo::new(64),
        }
    }
}

/// A unit read from the database before the statistics.
struct RawUnit {
    code: String,
    name: String,
    township: Option<(String, String)>,
    geometry: Value,
    lon: f64,
    lat: f64,
    count: f64,
    population: f64,
}

/// The villages or townships of `r` analysed with `weights` and `opts`, from `cache` when the
/// same analysis ran on the same data versions. `Unit::H3` and contiguity between villages are
/// invalid parameters (`unit`, `weights`); data the statistics cannot use (no unit with a
/// denominator) are [`HotspotsError::NotComputable`].
pub async fn units(
    cache: &UnitsCache,
    pool: &PgPool,
    watch: &Watch,
    r: &Request,
    unit: Unit,
    weights: WeightsChoice,
    opts: HotspotOptions,
) -> Result<std::sync::Arc<UnitsAnalysis>, HotspotsError> {
    match (unit, weights) {
        (Unit::H3, _) => {
            return Err(Error::invalid_param(
                "unit",
                "the H3 grid is computed by hotspots::grid, not by units",
            )
            .into());
        }
        (Unit::Village, WeightsChoice::Contiguity) => {
            return Err(Error::invalid_param(
                "weights",
                "contiguity needs polygons: use unit=township",
            )
            .into());
        }
        _ => {}
    }
    let mut tables: Vec<&str> = r.source.tables().to_vec();
    tables.extend(["townships", "villages"]);
    tables.sort_unstable();
    tables.dedup();
    let versions = watch.versions(pool, &tables).await?;
    let key = format!(
        "{}|{}..{}|{}|{}|{weights:?}|{opts:?}|{tables:?}={versions:?}",
        r.source.as_str(),
        r.from,
        r.to,
        r.scope,
        unit.as_str(),
    );
    if let Some(hit) = cache.memo.get(&key) {
        return Ok(hit);
    }
    let (raw, n_left_out) = match unit {
        Unit::Village => villages(pool, r).await?,
        _ => townships(pool, r).await?,
    };
    let pairs = if weights == WeightsChoice::Contiguity {
        touching(pool, &raw).await?
    } else {
        Vec::new()
    };
    let points: Vec<(f64, f64)> = raw.iter().map(|u| (u.lon, u.lat)).collect();
    let data: Vec<UnitData> = raw
        .iter()
        .map(|u| UnitData {
            count: u.count,
            population: u.population,
        })
        .collect();
    let cases: f64 = data.iter().map(|u| u.count).sum();
    let period_years = ((r.to - r.from).num_days() + 1) as f64 / 365.25;
    let (result, info) = blocking(move || {
        if points.is_empty() {
            return Err(hotspots::HotspotError::Empty);
        }
        let (kind, band, nb): (WeightsKind, Option<f64>, Neighbours) = match weights {
            WeightsChoice::Knn { k } => (WeightsKind::Knn { k }, None, weights::knn(&points, k)?),
            WeightsChoice::Distance { km } => {
                let band = km.unwrap_or_else(|| weights::min_band_km(&points));
                (
                    WeightsKind::DistanceBand { km },
                    Some(band),
                    weights::distance_band_capped(&points, band, weights::MAX_NEIGHBOUR_ENTRIES)?,
                )
            }
            WeightsChoice::Contiguity => (
                WeightsKind::Contiguity,
                None,
                weights::from_pairs(points.len(), &pairs)?,
            ),
        };
        let result = hotspots::analyse_units(&data, &nb, &opts)?;
        Ok((result, WeightsInfo::of(kind, band, &nb)))
    })
    .await
    .map_err(|e| too_many_neighbours(e, weights))?;
    let gi_star_p: Vec<Option<f64>> = result.units.iter().map(|u| u.gi_star_p).collect();
    let lisa: Vec<LisaCluster> = result.units.iter().map(|u| u.lisa_cluster).collect();
    let diagnosis = hotspots::diagnose(
        &Analysed {
            summary: &result.summary,
            gi_star_p: &gi_star_p,
            lisa: &lisa,
            cases,
            weights: &info,
            unit: unit.kind(),
            period_years,
            below_county: !matches!(r.scope, PlaceCode::County(_)),
        },
        opts.alpha,
        opts.correction,
    );
    let analysis = UnitsAnalysis {
        unit,
        units: raw
            .into_iter()
            .zip(result.units)
            .map(|(u, stats)| AnalysedUnit {
                code: u.code,
                name: u.name,
                township: u.township,
                geometry: u.geometry,
                stats,
            })
            .collect(),
        summary: result.summary,
        weights: info,
        diagnosis,
        cases,
        n_left_out,
        options: opts,
        computed_at: Utc::now(),
    };
    Ok(cache.memo.put(key, analysis))
}

/// A distance band refused for holding too many neighbour pairs is the caller's parameter: the
/// `band_km` asked for, or, when the band was automatic, the `weights` (a remote unit stretched
/// it).
fn too_many_neighbours(e: HotspotsError, weights: WeightsChoice) -> HotspotsError {
    match e {
        HotspotsError::NotComputable(hotspots::HotspotError::InvalidOption {
            option: "band_km",
            problem,
        }) => match weights {
            WeightsChoice::Distance { km: Some(_) } => {
                Error::invalid_param("band_km", problem).into()
            }
            _ => Error::invalid_param(
                "weights",
                format!(
                    "the automatic distance band (the one that leaves no unit alone) is too \
                     wide here: {problem}"
                ),
            )
            .into(),
        },
        e => e,
    }
}

/// The villages of `r` with a denominator, and how many were left out for having none.
async fn villages(pool: &PgPool, r: &Request) -> Result<(Vec<RawUnit>, usize), HotspotsError> {
    let sql = format!(
        "WITH p(code, lon, lat, count, population) AS ({})
         SELECT p.code, p.lon, p.lat, p.count, p.population, v.name, t.code::text, t.name
         FROM p JOIN villages v ON v.code::text = p.code
         JOIN townships t ON t.code = v.township_code
         ORDER BY p.code",
        r.source.places_sql()
    );
    type Row = (String, f64, f64, f64, f64, String, String, String);
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(r.scope.as_str())
        .bind(r.from)
        .bind(r.to)
        .fetch_all(pool)
        .await?;
    let all = rows.len();
    let units: Vec<RawUnit> = rows
        .into_iter()
        .filter(|row| row.4 > 0.0)
        .map(
            |(code, lon, lat, count, population, name, t_code, t_name)| RawUnit {
                code,
                name,
                township: Some((t_code, t_name)),
                geometry: json!({ "type": "Point", "coordinates": [round6(lon), round6(lat)] }),
                lon,
                lat,
                count,
                population,
            },
        )
        .collect();
    let left_out = all - units.len();
    Ok((units, left_out))
}

/// The townships of `r`'s villages, their counts and denominators added up over the villages
/// with a denominator; a township with none is left out (and counted).
async fn townships(pool: &PgPool, r: &Request) -> Result<(Vec<RawUnit>, usize), HotspotsError> {
    let sql = format!(
        "WITH p(code, lon, lat, count, population) AS ({}),
         s AS (
             SELECT v.township_code AS code,
                    coalesce(sum(p.count) FILTER (WHERE p.population > 0), 0)::float8 AS count,
                    coalesce(sum(p.population) FILTER (WHERE p.population > 0), 0)::float8 AS population
             FROM p JOIN villages v ON v.code::text = p.code
             GROUP BY v.township_code
         )
         SELECT t.code::text, t.name, ST_X(ST_PointOnSurface(t.geom)), ST_Y(ST_PointOnSurface(t.geom)),
                ST_AsGeoJSON(t.geom, 6)::json, s.count, s.population
         FROM s JOIN townships t ON t.code = s.code
         ORDER BY t.code",
        r.source.places_sql()
    );
    type Row = (String, String, f64, f64, Value, f64, f64);
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(r.scope.as_str())
        .bind(r.from)
        .bind(r.to)
        .fetch_all(pool)
        .await?;
    let all = rows.len();
    let units: Vec<RawUnit> = rows
        .into_iter()
        .filter(|row| row.6 > 0.0)
        .map(
            |(code, name, lon, lat, geometry, count, population)| RawUnit {
                code,
                name,
                township: None,
                geometry,
                lon,
                lat,
                count,
                population,
            },
        )
        .collect();
    let left_out = all - units.len();
    Ok((units, left_out))
}

/// The pairs (by position in `units`) of townships whose polygons intersect: queen contiguity,
/// a shared point is enough.
async fn touching(pool: &PgPool, units: &[RawUnit]) -> Result<Vec<(usize, usize)>, HotspotsError> {
    let codes: Vec<&str> = units.iter().map(|u| u.code.as_str()).collect();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.code::text, b.code::text FROM townships a
         JOIN townships b ON a.code < b.code AND ST_Intersects(a.geom, b.geom)
         WHERE a.code::text = ANY($1) AND b.code::text = ANY($1)",
    )
    .bind(&codes)
    .fetch_all(pool)
    .await?;
    let position = |c: &str| codes.iter().position(|x| *x == c);
    Ok(rows
        .iter()
        .filter_map(|(a, b)| Some((position(a)?, position(b)?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: HotspotsError) -> Option<String> {
        match e {
            HotspotsError::Programme(Error::InvalidParam { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn a_band_with_too_many_pairs_is_the_callers_parameter() {
        let refused = || {
            HotspotsError::NotComputable(hotspots::HotspotError::InvalidOption {
                option: "band_km",
                problem: "too many".into(),
            })
        };
        let asked = WeightsChoice::Distance { km: Some(300.0) };
        assert_eq!(
            field(too_many_neighbours(refused(), asked)).as_deref(),
            Some("band_km")
        );
        let automatic = WeightsChoice::Distance { km: None };
        assert_eq!(
            field(too_many_neighbours(refused(), automatic)).as_deref(),
            Some("weights")
        );
        // Anything else passes through.
        let other = too_many_neighbours(
            HotspotsError::NotComputable(hotspots::HotspotError::Empty),
            asked,
        );
        assert!(matches!(
            other,
            HotspotsError::NotComputable(hotspots::HotspotError::Empty)
        ));
    }
}
