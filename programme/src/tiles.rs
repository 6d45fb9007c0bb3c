//! The tile service: a vector tile of a layer, rendered from the database.
//!
//! The layers, their SQL and the parameters it reads by name are `echinomap_tiles::layers`
//! ([`TileArgs`]); here a [`TileRequest`] becomes those arguments, bound in the order the
//! statement declares them ([`TileArgs::values`]) and run on the tile pool (generic plans,
//! `db::Database::tile_pool`). For the villages layer, what the map shows of each village comes
//! from the same engines as the API (the risk model and the indicator definitions): the
//! [`VillageArrays`], kept by [`TileService`] per scope, rule, day and period: a derived layer
//! ([`crate::derived`]) that may lag the newest write by at most 5 s.
//!
//! The data versions that key a tile are those of [`tables`] (what the layer's SQL reads: fresh
//! at once) and, for the villages layer, those the arrays it shows were computed from
//! ([`derived_tables`]). The HTTP side (request parameters, access, the tile cache, ETags and
//! encodings) is `server::http::tiles`.

use std::collections::HashMap;
use std::sync::Arc;

use echinomap_domain::{Period, PlaceCode};
use echinomap_tiles::TileCoord;
use echinomap_tiles::layers::{TileArgs, TileLayer, TileValue};
use sqlx::PgPool;
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::QueryScalar;

use crate::config::Programme;
use crate::derived::{Derived, Snapshot};
use crate::indicators::{self, Grouping};
use crate::risk::{RiskCache, RiskTier};
use crate::watch::Watch;

/// The indicators behind the village arrays: cases in the period, deworming in the month.
const ARRAY_INDICATORS: [&str; 2] = ["new_cases", "deworming_coverage"];

/// The villages of a scope with their latest denominators, in one read.
const VILLAGE_DENOMINATORS: &str =
    "SELECT v.id, v.code::text, d.population::int8, d.households::int8
     FROM villages v
     LEFT JOIN LATERAL (
         SELECT population, households FROM village_denominators
         WHERE village_id = v.id ORDER BY year DESC LIMIT 1) d ON true
     WHERE v.code LIKE $1 || '%'";

/// The tables the village arrays read besides the risk model's ([`crate::risk::TABLES`]):
/// [`VILLAGE_DENOMINATORS`] and the SQL of the [`ARRAY_INDICATORS`] (a test reads them all).
const ARRAY_TABLES: &[&str] = &[
    "villages",
    "village_denominators",
    "cases",
    "people",
    "dogs",
    "dewormings",
];

/// The tables a layer's tiles read themselves (`TileLayer::tables`): their data versions key the
/// tile cache, so a write to any of them makes the tile fresh at once. A layer that shows village
/// risk also reads the [`VillageArrays`], a derived layer that lags by at most
/// [`crate::derived::MAX_LAG`]: its tiles are keyed by the versions the arrays were computed
/// from ([`derived_tables`]) as well.
pub fn tables(layer: &TileLayer) -> Vec<&'static str> {
    layer.tables.to_vec()
}

/// The tables the [`VillageArrays`] read: the risk model's ([`crate::risk::TABLES`]) and
/// [`ARRAY_TABLES`], in a fixed order, without repeats.
pub fn derived_tables() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::with_capacity(32);
    for t in crate::risk::TABLES.iter().chain(ARRAY_TABLES) {
        if !all.contains(t) {
            all.push(t);
        }
    }
    all
}

/// What rendering needs of the service: the pools, the data-version watch, the risk cache and
/// the programme's rules.
#[derive(Debug, Clone, Copy)]
pub struct TileSources<'a> {
    /// The main pool (risk model, indicators, denominators).
    pub pool: &'a PgPool,
    /// Tile statements only: generic plans.
    pub tile_pool: &'a PgPool,
    pub watch: &'a Watch,
    pub risk: &'a RiskCache,
    pub programme: &'a Arc<Programme>,
}

/// One tile to render, resolved from the request.
#[derive(Debug, Clone, Copy)]
pub struct TileRequest<'a> {
    pub layer: &'static TileLayer,
    pub coord: TileCoord,
    /// The caller's jurisdiction for scoped layers, else `None`.
    pub scope: Option<&'a PlaceCode>,
    /// The largest count of people hidden from the caller in this layer: `None` when nothing is
    /// hidden (roles with case access, layers that are not suppressible).
    pub small_max: Option<i64>,
    /// The period shown (the current year unless one was asked for).
    pub period: Period,
    /// A period was asked for.
    pub has_period: bool,
    /// The month whose deworming coverage is shown.
    pub coverage_month: Period,
    /// Hotspots: the analysed layer and the H3 resolution.
    pub source: &'a str,
    pub resolution: u8,
    /// The village arrays the tile shows (layers that show village risk), as the tile's cache
    /// key names them ([`TileService::village_arrays`]).
    pub arrays: Option<&'a VillageArrays>,
}

impl TileRequest<'_> {
    /// The statement's arguments, with `village` as the per-village arrays.
    fn args<'a>(&'a self, village: &'a VillageArrays) -> TileArgs<'a> {
        TileArgs {
            z: i32::from(self.coord.z()),
            x: self.coord.x() as i32,
            y: self.coord.y() as i32,
            // The layer SQL reads the empty prefix as "everywhere".
            scope: self.scope.map_or("", PlaceCode::as_str),
            small_max: self.small_max,
            d_from: self.period.start(),
            d_to: self.period.end(),
            m_from: self.coverage_month.start(),
            m_to: self.coverage_month.end(),
            source: self.source,
            resolution: i32::from(self.resolution),
            has_period: self.has_period,
            v_tier: &village.tier,
            v_score: &village.score,
            v_cases: &village.cases,
            v_due: &village.dogs_due,
            v_dosed: &village.dogs_dosed,
            v_population: &village.population,
            v_households: &village.households,
        }
    }
}

/// Binds one argument as the type the statement declares for it.
fn bind<'q, O>(
    query: QueryScalar<'q, Postgres, O, PgArguments>,
    value: TileValue<'q>,
) -> QueryScalar<'q, Postgres, O, PgArguments> {
    match value {
        TileValue::Int(v) => query.bind(v),
        TileValue::OptionalInt8(v) => query.bind(v),
        TileValue::Text(v) => query.bind(v),
        TileValue::Date(v) => query.bind(v),
        TileValue::Bool(v) => query.bind(v),
        TileValue::Int2Array(v) => query.bind(v),
        TileValue::Float8Array(v) => query.bind(v),
        TileValue::Int8Array(v) => query.bind(v),
    }
}

/// What the villages layer shows of each village of a scope, from the same engines as the API
/// (risk model, indicator definitions) and the latest denominators, as the arrays the layer
/// binds (the `v_*` of [`TileArgs`]), indexed by `villages.id` (position id − 1), −1 (tier: 0)
/// where a village has no value. The denominators are here rather than joined in the tile
/// statement: a lateral lookup per village cost a z6 tile a third of its time.
#[derive(Debug, Default)]
pub struct VillageArrays {
    /// 1 low, 2 medium, 3 high.
    tier: Vec<i16>,
    score: Vec<f64>,
    /// `new_cases` in the tile's period.
    cases: Vec<i64>,
    /// `deworming_coverage` of the coverage month: dogs due and dogs dosed.
    dogs_due: Vec<i64>,
    dogs_dosed: Vec<i64>,
    /// The latest year's `village_denominators`.
    population: Vec<i64>,
    households: Vec<i64>,
}

/// Renders tiles, keeping the village arrays by scope, small-count rule, day and period (a
/// derived layer, [`crate::derived`]): the engines run once per change of data, day or period,
/// not once per tile (also when the tile cache is off: this is a computation, not a tile), and
/// a write does not make every reader wait for them.
#[derive(Debug, Clone)]
pub struct TileService {
    arrays: Derived<VillageArrays>,
}

impl Default for TileService {
    fn default() -> Self {
        Self {
            arrays: Derived::new(64),
        }
    }
}

/// Which village arrays a tile shows.
#[derive(Debug, Clone, Copy)]
pub struct ArraysOf<'a> {
    pub scope: &'a PlaceCode,
    pub small_max: Option<i64>,
    pub period: Period,
    pub coverage_month: Period,
}

impl TileService {
    /// The tile's bytes (Mapbox Vector Tile, uncompressed); empty when no feature meets it.
    /// A layer that shows village risk needs `req.arrays`.
    pub async fn render(
        &self,
        src: &TileSources<'_>,
        req: &TileRequest<'_>,
    ) -> crate::Result<Vec<u8>> {
        let empty = VillageArrays::default();
        let village = match (req.layer.uses_risk, req.arrays) {
            (false, _) => &empty,
            (true, Some(a)) => a,
            (true, None) => {
                return Err(anyhow::anyhow!(
                    "the {} layer shows village risk and needs its arrays",
                    req.layer.id
                )
                .into());
            }
        };
        let args = req.args(village);
        let query = args.values().into_iter().fold(
            sqlx::query_scalar::<_, Option<Vec<u8>>>(req.layer.sql(req.coord.z())),
            |query, (_, value)| bind(query, value),
        );
        Ok(query.fetch_one(src.tile_pool).await?.unwrap_or_default())
    }

    /// The village arrays of `of`, lagging the newest write by at most
    /// [`crate::derived::MAX_LAG`]; the snapshot's versions are those of [`derived_tables`].
    pub async fn village_arrays(
        &self,
        src: &TileSources<'_>,
        of: ArraysOf<'_>,
    ) -> crate::Result<Snapshot<VillageArrays>> {
        let opts = src.programme.options();
        let key = format!(
            "{}|{:?}|{}|{}|{}",
            of.scope, of.small_max, opts.as_of, of.period, of.coverage_month
        );
        let versions = src.watch.versions(src.pool, &derived_tables()).await?;
        let (pool, watch, risk, programme) = (
            src.pool.clone(),
            src.watch.clone(),
            src.risk.clone(),
            src.programme.clone(),
        );
        let (scope, small_max, period, month) =
            (of.scope.clone(), of.small_max, of.period, of.coverage_month);
        self.arrays
            .get(&key, &versions, crate::derived::MAX_LAG, move |_| {
                let (pool, watch, risk, programme, scope) = (
                    pool.clone(),
                    watch.clone(),
                    risk.clone(),
                    programme.clone(),
                    scope.clone(),
                );
                async move {
                    let src = TileSources {
                        pool: &pool,
                        tile_pool: &pool,
                        watch: &watch,
                        risk: &risk,
                        programme: &programme,
                    };
                    compute_arrays(&src, &scope, small_max, period, month).await
                }
            })
            .await
    }
}

/// The village arrays of `scope`, from the data as it is now (the risk model's too).
async fn compute_arrays(
    src: &TileSources<'_>,
    scope: &PlaceCode,
    small_max: Option<i64>,
    period: Period,
    month: Period,
) -> crate::Result<VillageArrays> {
    let opts = src.programme.options();
    let county = PlaceCode::from(scope.county());
    let risk = src
        .risk
        .county(
            src.pool,
            src.watch,
            &src.programme.risk,
            &county,
            &opts,
            small_max,
            std::time::Duration::ZERO,
        )
        .await?;
    let run = |key: &'static str, p: Period| {
        let opts = opts.clone();
        async move {
            let def = indicators::defs::find(key)
                .ok_or_else(|| sqlx::Error::Protocol(format!("indicator {key} is not defined")))?;
            indicators::compute(src.pool, def, scope, &[p], &Grouping::Level(12), &opts).await
        }
    };
    let [cases_key, coverage_key] = ARRAY_INDICATORS;
    let cases = run(cases_key, period).await?;
    let coverage = run(coverage_key, month).await?;
    let first = |cells: &indicators::Cells, code: &str| {
        cells
            .get(code)
            .and_then(|c| c.first())
            .map_or((0, 0), |c| (c.num.round() as i64, c.den.round() as i64))
    };
    let villages: Vec<(i32, String, Option<i64>, Option<i64>)> =
        sqlx::query_as(VILLAGE_DENOMINATORS)
            .bind(scope.as_str())
            .fetch_all(src.pool)
            .await?;
    let len = villages
        .iter()
        .filter_map(|v| usize::try_from(v.0).ok())
        .max()
        .unwrap_or(0);
    let mut arrays = VillageArrays {
        tier: vec![0; len],
        score: vec![-1.0; len],
        cases: vec![-1; len],
        dogs_due: vec![-1; len],
        dogs_dosed: vec![-1; len],
        population: vec![-1; len],
        households: vec![-1; len],
    };
    let mut ids = HashMap::with_capacity(villages.len());
    for (id, code, population, households) in villages {
        let Some(i) = usize::try_from(id).ok().and_then(|id| id.checked_sub(1)) else {
            continue;
        };
        arrays.population[i] = population.unwrap_or(-1);
        arrays.households[i] = households.unwrap_or(-1);
        ids.insert(code, i);
    }
    for r in risk
        .value
        .iter()
        .filter(|r| scope.contains_code(r.code.as_str()))
    {
        let Some(&i) = ids.get(r.code.as_str()) else {
            continue;
        };
        arrays.tier[i] = match r.tier {
            RiskTier::Low => 1,
            RiskTier::Medium => 2,
            RiskTier::High => 3,
        };
        arrays.score[i] = r.score;
        let (dosed, due) = first(&coverage, r.code.as_str());
        arrays.cases[i] = first(&cases, r.code.as_str()).0;
        arrays.dogs_due[i] = due;
        arrays.dogs_dosed[i] = dosed;
    }
    Ok(arrays)
}

#[cfg(test)]
mod tests {
    use super::*;

    use echinomap_tiles::layers::LAYERS;

    /// The tables after `FROM` and `JOIN` in `sql`, without the CTEs it defines (`name AS (`)
    /// and those of the indicator engine's header (`p`, `per`, `vil`: `vil` reads `villages`).
    fn tables_read(sql: &str) -> Vec<String> {
        let code: String = sql
            .lines()
            .map(|l| l.split("--").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        let words: Vec<String> = code
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '('))
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let mut ctes = vec!["p".to_owned(), "per".to_owned(), "vil".to_owned()];
        ctes.extend(
            words
                .windows(3)
                .filter(|w| w[1] == "as" && w[2].starts_with('('))
                .map(|w| w[0].clone()),
        );
        let mut read: Vec<String> = words
            .windows(2)
            .filter(|w| w[0] == "from" || w[0] == "join")
            .map(|w| w[1].clone())
            .filter(|t| !t.contains('(') && !ctes.contains(t) && t != "lateral")
            .collect();
        if words.iter().any(|w| w == "vil") {
            read.push("villages".to_owned());
        }
        read.sort();
        read.dedup();
        read
    }

    #[test]
    fn the_table_reader_finds_tables_and_skips_ctes() {
        assert_eq!(
            tables_read(
                "-- read from the registers\n\
                 WITH den AS (SELECT 1 FROM dogs d JOIN vil ON true) SELECT * FROM den \
                 LEFT JOIN LATERAL (SELECT 1 FROM cases) c ON true CROSS JOIN p"
            ),
            ["cases", "dogs", "villages"]
        );
    }

    #[test]
    fn the_villages_arrays_are_keyed_by_every_table_they_and_the_risk_model_read() {
        let keyed = derived_tables();
        for t in crate::risk::TABLES {
            assert!(keyed.contains(t), "{t} is not in the villages tiles' key");
        }
        let mut sql = vec![VILLAGE_DENOMINATORS];
        for key in ARRAY_INDICATORS {
            let def = indicators::defs::find(key).expect("an array indicator");
            sql.push(def.sql);
            if def.rollup {
                // The rollup holds what this SQL computes from the registers.
                sql.push(include_str!("indicators/sql/deworming_coverage_raw.sql"));
            }
        }
        for text in sql {
            for t in tables_read(text) {
                if t == "deworming_rollup" {
                    continue;
                }
                assert!(
                    keyed.iter().any(|k| *k == t),
                    "the village arrays read {t}, which is not in their key"
                );
            }
        }
        let mut unique = keyed.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keyed.len(), "a table twice in {keyed:?}");
    }

    #[test]
    fn layers_are_keyed_by_their_own_tables() {
        for l in LAYERS {
            assert_eq!(tables(l), l.tables, "{}", l.id);
        }
    }
}
