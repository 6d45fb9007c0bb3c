//! Kulldorff's scan of a request, and the published scan the `scan_clusters` export reads; what a
//! scan run shows about its own significance ([`diagnose_scan`]).

use std::collections::HashMap;

use echinomap_domain::PlaceCode;
use echinomap_geodata::hotspots;
use echinomap_geodata::hotspots::scan::{Cluster, Location, ScanOptions};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{HotspotsError, Request, blocking, places};

/// The windows a scan may try, as a reader chooses them (`GET /api/scan`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanSettings {
    /// The largest window, as a fraction of the total population, in (0, 0.5].
    pub max_population_fraction: f64,
    /// The largest window's radius, km; `None`: no limit but the population's.
    pub max_radius_km: Option<f64>,
}

impl Default for ScanSettings {
    /// Kulldorff's usual window: up to half the population, no radius limit.
    fn default() -> Self {
        Self {
            max_population_fraction: 0.5,
            max_radius_km: None,
        }
    }
}

/// A scan run: the places it read (with their village names, by the same index), the clusters
/// found (ranked, each naming its centre and members by index into `locations`) and the options
/// it ran with.
#[derive(Debug, Clone)]
pub struct Scan {
    pub locations: Vec<Location>,
    /// `villages.name` of each location (the code when a village has none on record).
    pub names: Vec<String>,
    pub clusters: Vec<Cluster>,
    pub options: ScanOptions,
}

impl Scan {
    /// The total count (cases, positives) of the locations scanned.
    pub fn cases(&self) -> f64 {
        self.locations.iter().map(|l| l.count).sum()
    }
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

/// Kulldorff's scan of `r` (the source's [`HotspotSource::model`](super::HotspotSource::model))
/// with the windows of `settings`; with [`ScanUse::Publish`] the clusters (all of them, whatever
/// their p-value) are stored as the latest scan of the scope, for the `scan_clusters` export,
/// with the settings in `scan_results.params`.
pub async fn scan(
    pool: &PgPool,
    r: &Request,
    settings: ScanSettings,
    using: ScanUse,
) -> Result<Scan, HotspotsError> {
    let locations = places(pool, r).await?;
    let names = village_names(pool, &r.scope, &locations).await?;
    let options = ScanOptions {
        model: r.source.model(),
        max_population_fraction: settings.max_population_fraction,
        max_radius_km: settings.max_radius_km,
        ..ScanOptions::default()
    };
    let locs = locations.clone();
    let clusters = blocking(move || hotspots::scan::scan(&locs, &options)).await?;
    if using == ScanUse::Publish {
        store_scan(pool, r, &options, &locations, &clusters).await?;
    }
    Ok(Scan {
        locations,
        names,
        clusters,
        options,
    })
}

/// The names of the villages scanned, by location index, read once for the scope.
async fn village_names(
    pool: &PgPool,
    scope: &PlaceCode,
    locations: &[Location],
) -> Result<Vec<String>, sqlx::Error> {
    let by_code: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT code::text, name FROM villages WHERE code LIKE $1 || '%'",
    )
    .bind(scope.as_str())
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    Ok(locations
        .iter()
        .map(|l| by_code.get(&l.id).cloned().unwrap_or_else(|| l.id.clone()))
        .collect())
}

/// Fewer cases than this in a scan: too few to find a cluster (reason `too_few_cases`).
pub const SCAN_MIN_CASES: f64 = 10.0;
/// Fewer locations than this in a scan: too few to compare windows (reason `too_few_units`).
pub const SCAN_MIN_UNITS: usize = 8;

/// What a scan run found, as [`diagnose_scan`] reads it.
#[derive(Debug, Clone)]
pub struct ScanFacts<'a> {
    /// The locations scanned.
    pub n_locations: usize,
    /// Their total count.
    pub cases: f64,
    /// Whether the reader may see `cases` (false under the small-count rule): when not, the
    /// reasons do not name it.
    pub cases_shown: bool,
    /// The clusters' p-values, rank order (`None`: no replications).
    pub p_values: &'a [Option<f64>],
    /// The window's population limit, percent of the total.
    pub max_population_percent: f64,
    /// The area scanned: a wider one may be suggested when it is narrower than a county.
    pub scope: &'a PlaceCode,
}

/// Why a scan shows what it shows, as JSON: `{significant, reasons: [{code, params, message}],
/// suggestions: [{code, params, message}]}` (docs/ANALYSIS.md, "What /api/scan shows").
/// Reasons are listed only when no cluster has p ≤ `alpha`: `too_few_cases` (total < 10),
/// `too_few_units` (< 8 locations), else `no_significant_cluster` (with the best p). Shared by
/// the spatial and the space-time scan.
pub fn diagnose_scan(facts: &ScanFacts<'_>, alpha: f64) -> Value {
    let significant = facts
        .p_values
        .iter()
        .filter(|p| p.is_some_and(|p| p <= alpha))
        .count();
    let mut reasons = Vec::new();
    let mut suggestions = Vec::new();
    let wider = !matches!(facts.scope, PlaceCode::County(_));
    if significant == 0 {
        if facts.cases < SCAN_MIN_CASES {
            let (cases, message) = if facts.cases_shown {
                (
                    json!(facts.cases),
                    format!(
                        "Only {} cases in this period and area: a scan needs at least {} to find a cluster.",
                        facts.cases, SCAN_MIN_CASES
                    ),
                )
            } else {
                (
                    Value::Null,
                    format!(
                        "Fewer than {SCAN_MIN_CASES} cases in this period and area: too few for a scan to find a cluster."
                    ),
                )
            };
            reasons.push(json!({
                "code": "too_few_cases",
                "params": { "cases": cases, "min": SCAN_MIN_CASES },
                "message": message,
            }));
        }
        if facts.n_locations < SCAN_MIN_UNITS {
            reasons.push(json!({
                "code": "too_few_units",
                "params": { "units": facts.n_locations, "min": SCAN_MIN_UNITS },
                "message": format!(
                    "Only {} villages with a denominator in this area: a scan needs at least {SCAN_MIN_UNITS} to compare windows.",
                    facts.n_locations
                ),
            }));
        }
        if reasons.is_empty() {
            let best_p = facts
                .p_values
                .iter()
                .flatten()
                .copied()
                .min_by(f64::total_cmp);
            let message = match best_p {
                Some(p) => format!(
                    "No cluster is significant at α = {alpha}: the most likely one has p = {p:.3}, which chance alone could give."
                ),
                None => format!(
                    "No cluster is significant at α = {alpha}: no window holds more cases than expected."
                ),
            };
            reasons.push(json!({
                "code": "no_significant_cluster",
                "params": { "alpha": alpha, "best_p": best_p },
                "message": message,
            }));
            if facts.max_population_percent > 10.0 {
                suggestions.push(json!({
                    "code": "smaller_window",
                    "params": { "max_population_percent": 10 },
                    "message": "Try a smaller largest window (max_population_percent=10, or a max_radius_km): fewer windows are tested, and a small cluster is not diluted by the villages around it.",
                }));
            }
        }
        suggestions.insert(
            0,
            json!({
                "code": "longer_period",
                "params": {},
                "message": "Scan a longer period: more cases give the scan more power.",
            }),
        );
        if wider {
            suggestions.insert(1, json!({
                "code": "wider_area",
                "params": {},
                "message": "Scan a wider area (the township or the whole county): more villages and cases to compare.",
            }));
        }
    }
    json!({ "significant": significant, "reasons": reasons, "suggestions": suggestions })
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
        "max_radius_km": opts.max_radius_km,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        n: usize,
        cases: f64,
        p_values: &'a [Option<f64>],
        scope: &'a PlaceCode,
    ) -> ScanFacts<'a> {
        ScanFacts {
            n_locations: n,
            cases,
            cases_shown: true,
            p_values,
            max_population_percent: 50.0,
            scope,
        }
    }

    fn codes(v: &Value, key: &str) -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_significant_cluster_needs_no_reason() -> Result<(), Box<dyn std::error::Error>> {
        let county = PlaceCode::parse("654022")?;
        let d = diagnose_scan(&facts(50, 40.0, &[Some(0.001), Some(0.4)], &county), 0.05);
        assert_eq!(d["significant"], 1);
        assert!(codes(&d, "reasons").is_empty());
        assert!(codes(&d, "suggestions").is_empty());
        Ok(())
    }

    #[test]
    fn nothing_significant_says_why_by_threshold() -> Result<(), Box<dyn std::error::Error>> {
        let county = PlaceCode::parse("654022")?;
        let township = PlaceCode::parse("654022100")?;
        let d = diagnose_scan(&facts(50, 40.0, &[Some(0.2), Some(0.08)], &county), 0.05);
        assert_eq!(codes(&d, "reasons"), ["no_significant_cluster"]);
        assert_eq!(d["reasons"][0]["params"]["best_p"], 0.08);
        assert_eq!(
            codes(&d, "suggestions"),
            ["longer_period", "smaller_window"]
        );
        // At α = 0.1 the second cluster is significant.
        let d = diagnose_scan(&facts(50, 40.0, &[Some(0.2), Some(0.08)], &county), 0.1);
        assert_eq!(d["significant"], 1);
        let d = diagnose_scan(&facts(5, 9.0, &[Some(0.6)], &township), 0.05);
        assert_eq!(codes(&d, "reasons"), ["too_few_cases", "too_few_units"]);
        assert_eq!(d["reasons"][0]["params"]["cases"], 9.0);
        assert!(
            d["reasons"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Only 9 cases"))
        );
        assert_eq!(codes(&d, "suggestions"), ["longer_period", "wider_area"]);
        // A reader under the small-count rule is not told the count.
        let mut hidden = facts(50, 3.0, &[], &county);
        hidden.cases_shown = false;
        let d = diagnose_scan(&hidden, 0.05);
        assert_eq!(d["reasons"][0]["params"]["cases"], Value::Null);
        assert!(
            d["reasons"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.contains('3'))
        );
        Ok(())
    }
}
