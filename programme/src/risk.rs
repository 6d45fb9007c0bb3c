//! Village risk: a composite score 0–100 from eight components (docs/RISK.md), configurable in
//! `config/risk.json` (replaced by `ECHINOMAP_RISK_CONFIG`) and validated at start-up.
//!
//! Every component has a raw value (a rate, a count, a gap), is scaled to 0–1 by its
//! `saturation` (raw / saturation, at most 1) and weighted; the contributions, rounded to 0.01,
//! add up to the score. The numbers come from the indicator engine over calendar windows, so a
//! component means exactly what the indicator of the same name means.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use echinomap_domain::{PlaceCode, VillageCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::indicators::{self, Cell, Grouping, Options, Period, PeriodKind};

pub const DEFAULT_CONFIG: &str = include_str!("../../config/risk.json");

/// The components, in the order they are reported.
pub const COMPONENTS: [&str; 8] = [
    "human_prevalence",
    "new_cases",
    "dog_positivity",
    "deworming_gap",
    "strays",
    "slaughter_without_disposal",
    "livestock_infection",
    "hotspot",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    pub version: String,
    /// Calendar years (the current one included) of screening behind the prevalence.
    pub prevalence_years: u32,
    /// Complete calendar months before the current one behind the other components.
    pub window_months: u32,
    /// Slaughter points within this distance of the village point count as "near".
    pub near_km: f64,
    pub components: HashMap<String, Component>,
    pub tiers: Tiers,
    /// This many new cases in the window make a village high risk whatever its score.
    pub high_if_new_cases_at_least: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub weight: f64,
    /// The raw value that counts in full.
    pub saturation: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tiers {
    pub high: f64,
    pub medium: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RiskConfigError {
    #[error("cannot read the risk configuration {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the risk configuration {path} does not parse: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the risk configuration {path} is invalid: {what}")]
    Invalid { path: String, what: String },
}

impl RiskConfig {
    pub fn load(path: Option<&Path>) -> Result<Self, RiskConfigError> {
        let (text, origin) = match path {
            None => (
                DEFAULT_CONFIG.to_owned(),
                "config/risk.json (built in)".to_owned(),
            ),
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| RiskConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?,
                p.display().to_string(),
            ),
        };
        let c: RiskConfig =
            serde_json::from_str(&text).map_err(|source| RiskConfigError::Parse {
                path: origin.clone(),
                source,
            })?;
        c.validate()
            .map_err(|what| RiskConfigError::Invalid { path: origin, what })?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), String> {
        for k in self.components.keys() {
            if !COMPONENTS.contains(&k.as_str()) {
                return Err(format!(
                    "unknown component {k:?} (known: {})",
                    COMPONENTS.join(", ")
                ));
            }
        }
        let mut total = 0.0;
        for k in COMPONENTS {
            let c = self
                .components
                .get(k)
                .ok_or_else(|| format!("component {k:?} is missing"))?;
            if !(c.weight.is_finite() && c.weight >= 0.0) {
                return Err(format!("component {k:?}: weight must be ≥ 0"));
            }
            if !(c.saturation.is_finite() && c.saturation > 0.0) {
                return Err(format!("component {k:?}: saturation must be > 0"));
            }
            total += c.weight;
        }
        if (total - 100.0).abs() > 1e-9 {
            return Err(format!("the weights add up to {total}, not 100"));
        }
        if !(0.0 < self.tiers.medium
            && self.tiers.medium < self.tiers.high
            && self.tiers.high <= 100.0)
        {
            return Err("tiers: need 0 < medium < high ≤ 100".into());
        }
        if !(1..=20).contains(&self.prevalence_years) || !(1..=60).contains(&self.window_months) {
            return Err("prevalence_years must be 1–20 and window_months 1–60".into());
        }
        if !(self.near_km.is_finite() && self.near_km >= 0.0) {
            return Err("near_km must be ≥ 0".into());
        }
        Ok(())
    }

    fn component(&self, key: &str) -> Component {
        self.components.get(key).copied().unwrap_or(Component {
            weight: 0.0,
            saturation: 1.0,
        })
    }
}

/// The village's raw inputs.
#[derive(Debug, Clone, Default)]
struct Inputs {
    screened: f64,
    positives: f64,
    new_cases: f64,
    tested: f64,
    dog_positive: f64,
    dogs_due: f64,
    dogs_dosed: f64,
    strays: f64,
    inspected: f64,
    infected: f64,
    slaughter_points: Vec<String>,
    hotspot_layers: Vec<String>,
}

/// The windows a risk score is computed over, as calendar periods.
#[derive(Debug, Clone)]
pub struct Windows {
    pub as_of: NaiveDate,
    pub months: Vec<Period>,
    pub years: Vec<Period>,
}

impl Windows {
    pub fn new(config: &RiskConfig, as_of: NaiveDate) -> Self {
        let current = Period::month_of(as_of);
        let mut months = Vec::new();
        let mut m = current;
        for _ in 0..config.window_months {
            m = previous_month(m);
            months.push(m);
        }
        months.reverse();
        let this_year = current.as_kind(PeriodKind::Year);
        let mut years = vec![this_year];
        for _ in 1..config.prevalence_years {
            let y = years[years.len() - 1].year_before();
            years.push(y);
        }
        years.reverse();
        Self {
            as_of,
            months,
            years,
        }
    }
}

fn previous_month(m: Period) -> Period {
    Period::month_of(m.start().pred_opt().unwrap_or(m.start()))
}

fn sum(cells: Option<&Vec<Cell>>) -> (f64, f64) {
    cells.map_or((0.0, 0.0), |c| {
        c.iter()
            .fold((0.0, 0.0), |(n, d), x| (n + x.num, d + x.den))
    })
}

/// The tables [`villages`] reads (through the indicator engine and its own queries): their data
/// versions key [`RiskCache`].
pub const TABLES: &[&str] = &[
    "villages",
    "village_denominators",
    "people",
    "cases",
    "screening_campaigns",
    "faecal_tests",
    "dogs",
    "dewormings",
    "stray_dog_events",
    "slaughter_points",
    "slaughter_inspections",
    "hotspot_results",
];

/// A village's risk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskTier {
    Low,
    Medium,
    High,
}

impl RiskTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Low, Self::Medium, Self::High]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// One component of a village's score: its raw value (null when it is a small count hidden
/// from the caller), where that sits between 0 and its saturation, and the points it adds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RiskComponent {
    pub component: &'static str,
    pub raw: Option<f64>,
    pub normalised: f64,
    pub weight: f64,
    pub saturation: f64,
    pub contribution: f64,
    /// The inputs behind the raw value, as shown to users (counts hidden as `raw` is).
    pub detail: Value,
}

/// A sentence on why the village is where it is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RiskReason {
    pub component: &'static str,
    pub text: String,
}

/// The recommended dog-deworming regime and the prevalence it rests on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Regime {
    pub regime: Option<&'static str>,
    pub human_prevalence: Option<f64>,
    pub basis: &'static str,
    pub years: Vec<String>,
}

/// The months and years the model read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RiskWindow {
    pub months: Vec<String>,
    pub years: Vec<String>,
}

/// The risk of one village as the model computed it: the API shows it as JSON
/// (`GET /api/risk/...`), the tiles colour villages by [`VillageRisk::tier`] and
/// [`VillageRisk::score`], the exports add score, tier and regime as columns.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VillageRisk {
    pub code: VillageCode,
    pub name: String,
    pub township_code: String,
    pub score: f64,
    pub tier: RiskTier,
    pub components: Vec<RiskComponent>,
    pub reasons: Vec<RiskReason>,
    pub regime: Regime,
    pub as_of: NaiveDate,
    pub window: RiskWindow,
    pub config_version: String,
}

/// The risk of every village of a county, kept per (county, day, small-count maximum) beside the
/// data versions of [`TABLES`] it read: a derived layer ([`crate::derived`]) that lags the newest
/// write by at most [`crate::derived::MAX_LAG`] while it is recomputed in the background. The
/// API, the tiles, the exports and the start-up warm-up share it, so the model runs once per
/// change of data or day, not once per reader.
#[derive(Debug, Clone)]
pub struct RiskCache {
    derived: crate::derived::Derived<Vec<VillageRisk>>,
}

impl Default for RiskCache {
    fn default() -> Self {
        Self {
            derived: crate::derived::Derived::new(32),
        }
    }
}

/// The risk of the villages of an area and the data it shows.
#[derive(Debug, Clone)]
pub struct AreaRisk {
    pub villages: Vec<VillageRisk>,
    /// The county's snapshot: its versions and how long newer data has waited.
    pub version: i64,
    pub stale_for: Option<std::time::Duration>,
}

impl RiskCache {
    /// [`villages`] inside `area`, from the county's snapshot ([`RiskCache::county`]).
    pub async fn villages(
        &self,
        pool: &sqlx::PgPool,
        watch: &crate::watch::Watch,
        config: &RiskConfig,
        area: &PlaceCode,
        opts: &Options,
        small_max: Option<i64>,
    ) -> Result<AreaRisk, sqlx::Error> {
        let county = PlaceCode::from(area.county());
        let snap = self
            .county(
                pool,
                watch,
                config,
                &county,
                opts,
                small_max,
                crate::derived::MAX_LAG,
            )
            .await?;
        Ok(AreaRisk {
            villages: snap
                .value
                .iter()
                .filter(|v| area.contains_code(v.code.as_str()))
                .cloned()
                .collect(),
            version: snap.version(),
            stale_for: snap.stale_for,
        })
    }

    /// The risk of every village of `county`, lagging the data by at most `max_lag`
    /// (`Duration::ZERO`: computed from the data as it is now). Kept per small-count maximum:
    /// readers under different rules see different details.
    #[expect(
        clippy::too_many_arguments,
        reason = "the sources and the rule of one reader, as `villages` takes them"
    )]
    pub async fn county(
        &self,
        pool: &sqlx::PgPool,
        watch: &crate::watch::Watch,
        config: &RiskConfig,
        county: &PlaceCode,
        opts: &Options,
        small_max: Option<i64>,
        max_lag: std::time::Duration,
    ) -> Result<crate::derived::Snapshot<Vec<VillageRisk>>, sqlx::Error> {
        let versions = watch.versions(pool, TABLES).await?;
        let key = format!("{county}|{}|{small_max:?}", opts.as_of);
        let (pool, config, county, opts) =
            (pool.clone(), config.clone(), county.clone(), opts.clone());
        self.derived
            .get(&key, &versions, max_lag, move |_| {
                let (pool, config, county, opts) =
                    (pool.clone(), config.clone(), county.clone(), opts.clone());
                async move { villages(&pool, &config, &county, &opts, small_max).await }
            })
            .await
    }
}

/// The risk of every village inside `area` (a county, township or village). The
/// empirical-Bayes priors are taken over the whole county of each village, so a village's score
/// does not depend on who asks; what it shows of small counts does (`small_max`, the largest
/// count hidden from the reader, `None` when nothing is).
pub async fn villages(
    pool: &sqlx::PgPool,
    config: &RiskConfig,
    area: &PlaceCode,
    opts: &Options,
    small_max: Option<i64>,
) -> Result<Vec<VillageRisk>, sqlx::Error> {
    let county = PlaceCode::from(area.county());
    let w = Windows::new(config, opts.as_of);
    let by_village = Grouping::Level(12);
    let run = |key: &'static str, periods: Vec<Period>| {
        let grouping = by_village.clone();
        let county = &county;
        async move {
            let def = indicators::defs::find(key)
                .ok_or_else(|| sqlx::Error::Protocol(format!("indicator {key} is not defined")))?;
            indicators::compute(pool, def, county, &periods, &grouping, opts).await
        }
    };
    let prevalence = run("human_prevalence", w.years.clone()).await?;
    let cases = run("new_cases", w.months.clone()).await?;
    let faecal = run("dog_faecal_positivity", w.months.clone()).await?;
    let deworm = run("deworming_coverage", w.months.clone()).await?;
    let strays = run("ownerless_dogs", w.months.clone()).await?;
    let livestock = run("livestock_infection", w.months.clone()).await?;
    let villages: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT v.code::text, v.name, v.township_code::text FROM villages v
         WHERE v.code LIKE $1 || '%' ORDER BY v.code",
    )
    .bind(county.as_str())
    .fetch_all(pool)
    .await?;
    // Slaughter points without a disposal facility in or near each village of the county.
    let points: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT v.code::text, array_agg(sp.code ORDER BY sp.code)
         FROM villages v
         JOIN slaughter_points sp ON sp.deleted_at IS NULL AND sp.disposal_facility = 'none'
              AND (sp.village_id = v.id
                   -- geography: metres on the spheroid; the village point stands for the village.
                   OR ST_DWithin(sp.geom::geography, v.geom::geography, $2 * 1000.0))
         WHERE v.code LIKE $1 || '%'
         GROUP BY v.code",
    )
    .bind(county.as_str())
    .bind(config.near_km)
    .fetch_all(pool)
    .await?;
    // Stored hotspot results: the latest per layer and resolution whose scope holds the village;
    // member when its cell is a significant hot spot (Gi* bin > 0) or a High-High LISA cluster.
    let hot: Vec<(String, Vec<String>)> = sqlx::query_as(
        "WITH latest AS (
             SELECT DISTINCT ON (layer, resolution, scope) id, layer, resolution, scope
             FROM hotspot_results ORDER BY layer, resolution, scope, computed_at DESC
         )
         SELECT v.code::text, array_agg(DISTINCT l.layer ORDER BY l.layer)
         FROM villages v
         JOIN latest l ON v.code LIKE l.scope || '%'
         JOIN hotspot_cells c ON c.result_id = l.id
              AND c.cell = CASE l.resolution WHEN 7 THEN v.h3_r7 WHEN 8 THEN v.h3_r8
                                             WHEN 9 THEN v.h3_r9 ELSE NULL END
         WHERE v.code LIKE $1 || '%'
           AND (coalesce((c.stats ->> 'gi_star_bin')::int, 0) > 0 OR c.stats ->> 'lisa_cluster' = 'HH')
         GROUP BY v.code",
    )
    .bind(county.as_str())
    .fetch_all(pool)
    .await?;
    let points: HashMap<String, Vec<String>> = points.into_iter().collect();
    let hot: HashMap<String, Vec<String>> = hot.into_iter().collect();
    let inputs: Vec<Inputs> = villages
        .iter()
        .map(|(code, _, _)| {
            let (positives, screened) = sum(prevalence.get(code));
            let (dog_positive, tested) = sum(faecal.get(code));
            let (dogs_dosed, dogs_due) = sum(deworm.get(code));
            let (infected, inspected) = sum(livestock.get(code));
            Inputs {
                screened,
                positives,
                new_cases: sum(cases.get(code)).0,
                tested,
                dog_positive,
                dogs_due,
                dogs_dosed,
                strays: sum(strays.get(code)).0,
                inspected,
                infected,
                slaughter_points: points.get(code).cloned().unwrap_or_default(),
                hotspot_layers: hot.get(code).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let eb_prev = eb(&inputs
        .iter()
        .map(|i| (i.positives, i.screened))
        .collect::<Vec<_>>());
    let eb_dog = eb(&inputs
        .iter()
        .map(|i| (i.dog_positive, i.tested))
        .collect::<Vec<_>>());
    // Township prevalence, for the regime of villages never screened.
    let mut township_prev: HashMap<&str, (f64, f64)> = HashMap::new();
    for ((_, _, t), i) in villages.iter().zip(&inputs) {
        let e = township_prev.entry(t.as_str()).or_default();
        e.0 += i.positives;
        e.1 += i.screened;
    }
    let mut out = Vec::new();
    for (k, ((code, name, township), i)) in villages.iter().zip(&inputs).enumerate() {
        if !area.contains_code(code) {
            continue;
        }
        let code = VillageCode::parse(code).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        out.push(score(
            config,
            &w,
            (code, name, township),
            i,
            eb_prev[k],
            eb_dog[k],
            township_prev
                .get(township.as_str())
                .copied()
                .unwrap_or_default(),
            small_max,
        ));
    }
    Ok(out)
}

/// Global empirical-Bayes rates (Marshall) over the villages with a denominator; villages
/// without one get the prior mean. `None` when no village has data.
fn eb(pairs: &[(f64, f64)]) -> Vec<Option<f64>> {
    let idx: Vec<usize> = (0..pairs.len()).filter(|i| pairs[*i].1 > 0.0).collect();
    if idx.is_empty() {
        return vec![None; pairs.len()];
    }
    let counts: Vec<f64> = idx.iter().map(|i| pairs[*i].0).collect();
    let pops: Vec<f64> = idx.iter().map(|i| pairs[*i].1).collect();
    let (prior, rates) = echinomap_geodata::hotspots::global_eb(&counts, &pops);
    let mut out = vec![Some(prior.m); pairs.len()];
    for (j, i) in idx.iter().enumerate() {
        out[*i] = Some(rates[j]);
    }
    out
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[expect(
    clippy::too_many_arguments,
    reason = "one village's inputs, assembled by the caller"
)]
fn score(
    config: &RiskConfig,
    w: &Windows,
    (code, name, township): (VillageCode, &str, &str),
    i: &Inputs,
    eb_prev: Option<f64>,
    eb_dog: Option<f64>,
    township_prev: (f64, f64),
    small_max: Option<i64>,
) -> VillageRisk {
    let coverage = (i.dogs_due > 0.0).then(|| i.dogs_dosed / i.dogs_due);
    let small = |x: f64| echinomap_domain::privacy::hidden_under(small_max, x);
    // (key, raw value for the score, what to show about it)
    let raw: [(&str, f64, Value); 8] = [
        (
            "human_prevalence",
            eb_prev.unwrap_or(0.0),
            json!({
                "eb_prevalence": eb_prev,
                "screened": if small(i.screened) { Value::Null } else { json!(i.screened) },
                "positives": if small(i.positives) { Value::Null } else { json!(i.positives) },
                "years": w.years.iter().map(Period::key).collect::<Vec<_>>(),
            }),
        ),
        (
            "new_cases",
            i.new_cases,
            json!({ "new_cases": if small(i.new_cases) { Value::Null } else { json!(i.new_cases) } }),
        ),
        (
            "dog_positivity",
            eb_dog.unwrap_or(0.0),
            json!({ "eb_positivity": eb_dog, "tested": i.tested, "positive": i.dog_positive }),
        ),
        (
            "deworming_gap",
            coverage.map_or(0.0, |c| (0.8 - c).max(0.0)),
            json!({ "coverage": coverage, "dogs_dosed": i.dogs_dosed, "dog_months": i.dogs_due, "target": 0.8 }),
        ),
        ("strays", i.strays, json!({ "ownerless_dogs": i.strays })),
        (
            "slaughter_without_disposal",
            i.slaughter_points.len() as f64,
            json!({ "points": i.slaughter_points, "near_km": config.near_km }),
        ),
        (
            "livestock_infection",
            if i.inspected > 0.0 {
                i.infected / i.inspected
            } else {
                0.0
            },
            json!({ "infected": i.infected, "inspected": i.inspected, "age_class": "under_2y" }),
        ),
        (
            "hotspot",
            if i.hotspot_layers.is_empty() {
                0.0
            } else {
                1.0
            },
            json!({ "layers": i.hotspot_layers }),
        ),
    ];
    let mut components = Vec::new();
    let mut total = 0.0;
    for (key, value, detail) in raw {
        let c = config.component(key);
        let normalised = (value / c.saturation).clamp(0.0, 1.0);
        let contribution = round2(c.weight * normalised);
        total += contribution;
        components.push(RiskComponent {
            component: key,
            raw: (!(key == "new_cases" && small(value))).then_some(value),
            normalised,
            weight: c.weight,
            saturation: c.saturation,
            contribution,
            detail,
        });
    }
    let score = round2(total);
    let mut reasons = Vec::new();
    let forced = i.new_cases >= f64::from(config.high_if_new_cases_at_least);
    if forced {
        reasons.push(RiskReason {
            component: "new_cases",
            text: format!(
                "{} new cases in the last {} months (high risk from {} on)",
                if small(i.new_cases) {
                    "some".to_owned()
                } else {
                    i.new_cases.to_string()
                },
                w.months.len(),
                config.high_if_new_cases_at_least
            ),
        });
    }
    let mut ranked: Vec<&RiskComponent> =
        components.iter().filter(|c| c.contribution > 0.0).collect();
    ranked.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    for c in ranked.iter().take(3) {
        reasons.push(RiskReason {
            component: c.component,
            // As JSON prints the number (2.0, not 2), as before the type existed.
            text: format!("{} adds {} points", c.component, json!(c.contribution)),
        });
    }
    let tier = if forced || score >= config.tiers.high {
        RiskTier::High
    } else if score >= config.tiers.medium {
        RiskTier::Medium
    } else {
        RiskTier::Low
    };
    let (regime_prev, basis) = if i.screened > 0.0 {
        (Some(i.positives / i.screened), "village_screening")
    } else if township_prev.1 > 0.0 {
        (
            Some(township_prev.0 / township_prev.1),
            "township_screening",
        )
    } else {
        (None, "no_screening")
    };
    let keys = |periods: &[Period]| periods.iter().map(Period::key).collect::<Vec<_>>();
    VillageRisk {
        code,
        name: name.to_owned(),
        township_code: township.to_owned(),
        score,
        tier,
        components,
        reasons,
        regime: Regime {
            regime: regime_prev.map(indicators::deworming_regime),
            human_prevalence: if small(i.positives) {
                None
            } else {
                regime_prev
            },
            basis,
            years: keys(&w.years),
        },
        as_of: w.as_of,
        window: RiskWindow {
            months: keys(&w.months),
            years: keys(&w.years),
        },
        config_version: config.version.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configuration_is_valid_and_weights_add_up() {
        let c = RiskConfig::load(None).expect("valid");
        let total: f64 = c.components.values().map(|x| x.weight).sum();
        assert_eq!(total, 100.0);
    }

    #[test]
    fn contributions_add_up_to_the_score() {
        let c = RiskConfig::load(None).expect("valid");
        let w = Windows::new(&c, NaiveDate::from_ymd_opt(2026, 11, 15).expect("d"));
        assert_eq!(w.months.len(), 12);
        assert_eq!(w.months[11].key(), "2026-10");
        assert_eq!(w.years[0].key(), "2022");
        let i = Inputs {
            screened: 300.0,
            positives: 4.0,
            new_cases: 2.0,
            tested: 40.0,
            dog_positive: 3.0,
            dogs_due: 120.0,
            dogs_dosed: 70.0,
            strays: 3.0,
            inspected: 50.0,
            infected: 4.0,
            slaughter_points: vec!["SP1".into()],
            hotspot_layers: vec![],
        };
        let v = score(
            &c,
            &w,
            (
                VillageCode::parse("654022100200").unwrap(),
                "x",
                "654022100",
            ),
            &i,
            Some(0.012),
            Some(0.07),
            (4.0, 300.0),
            None,
        );
        let sum: f64 = v.components.iter().map(|c| c.contribution).sum();
        assert!((sum - v.score).abs() < 1e-9);
        assert_eq!(v.regime.regime, Some("monthly"));
        // The JSON the API shows.
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["regime"]["regime"], "monthly");
        assert_eq!(j["code"], "654022100200");
        assert_eq!(j["tier"], v.tier.as_str());
    }

    #[test]
    fn small_counts_of_people_are_hidden_up_to_the_readers_maximum() {
        let c = RiskConfig::load(None).expect("valid");
        let w = Windows::new(&c, NaiveDate::from_ymd_opt(2026, 11, 15).expect("d"));
        let i = Inputs {
            screened: 300.0,
            positives: 5.0,
            new_cases: 5.0,
            ..Inputs::default()
        };
        let code = || VillageCode::parse("654022100200").expect("code");
        let risk = |small_max| {
            score(
                &c,
                &w,
                (code(), "x", "654022100"),
                &i,
                None,
                None,
                (0.0, 0.0),
                small_max,
            )
        };
        let new_cases = |v: &VillageRisk| {
            v.components
                .iter()
                .find(|c| c.component == "new_cases")
                .and_then(|c| c.raw)
        };
        // 5 is shown under the default 1–4 and to case access, hidden under 1–6.
        for shown in [None, Some(4)] {
            let v = risk(shown);
            assert_eq!(new_cases(&v), Some(5.0));
            assert!(v.regime.human_prevalence.is_some());
        }
        let v = risk(Some(6));
        assert_eq!(new_cases(&v), None);
        assert_eq!(v.regime.human_prevalence, None);
        let j = serde_json::to_value(&v).expect("json");
        assert_eq!(j["components"][0]["detail"]["positives"], Value::Null);
        // The score does not depend on who asks.
        assert_eq!(v.score, risk(None).score);
    }
}
