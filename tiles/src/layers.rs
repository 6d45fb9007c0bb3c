//! The layer catalogue: what each vector-tile layer holds, at which zooms, which tables it reads
//! (their data versions are part of the cache key), and its SQL.
//!
//! Every layer's SQL takes the same bound parameters, [`TileArgs`], declared by name with their
//! types in the `p` CTE that opens it (`args.rs`: one list gives the struct, the binding order
//! and the CTE). Small counts are hidden with the bound `p.small_max` (`BETWEEN 1 AND
//! p.small_max`, never a literal): NULL hides nothing, so the rule is whatever the service runs.
//!
//! Descriptions that name the hidden range say `{hidden}`; [`TileLayer::description`] and
//! [`FieldDef::description`] put the running rule's range there (`1–4` by default), so that the
//! catalogue and TileJSON say what the service does.
//!
//! PostGIS choices, once for all layers:
//! - The filter transforms the *tile envelope* to EPSG:4326 (never the geometry column), so the
//!   GiST index on `geom` is used. The envelope carries the 64/4096 buffer of the tiles. The
//!   `env` CTE is materialized and the filter reads it through a scalar subquery
//!   (`f.geom && (SELECT e4326 FROM env)`), which PostgreSQL runs once as an InitPlan: with the
//!   generic plans of the tile pool, `f.geom && env.e4326` became a join filter that transformed
//!   the envelope again for every row and never used the index.
//! - Geometry is transformed to 3857 only for `ST_AsMVTGeom` (extent 4096, buffer 64, clipped),
//!   after `ST_Simplify` with a one-pixel tolerance at the tile's zoom (`preserveCollapsed`).
//! - A feature that intersects the envelope is never dropped: when `ST_AsMVTGeom` collapses it
//!   (a sub-pixel polygon), a point on its visible part stands in (guards the PostGIS 3.3 drop).

use echinomap_domain::privacy::{Audience, Suppression};

#[macro_use]
mod args;

pub use args::{TileArgs, TileValue};

/// Where a description names the range of hidden counts.
const HIDDEN: &str = "{hidden}";

/// `text` with [`HIDDEN`] replaced by the range `rule` hides from roles without case access
/// (the audience the layers' descriptions speak of).
fn with_hidden_range(text: &str, rule: Suppression) -> String {
    text.replace(
        HIDDEN,
        &rule.label(Audience::Inside).unwrap_or_else(|| "0".into()),
    )
}

/// A field of a layer, as TileJSON's `vector_layers` describes it.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    /// `String`, `Number` or `Boolean`.
    pub kind: &'static str,
    /// May name the hidden range as [`HIDDEN`]: read it through [`FieldDef::description`].
    description: &'static str,
}

impl FieldDef {
    /// What the field holds, the hidden range as `rule` has it.
    pub fn description(&self, rule: Suppression) -> String {
        with_hidden_range(self.description, rule)
    }
}

const fn field(name: &'static str, kind: &'static str, description: &'static str) -> FieldDef {
    FieldDef {
        name,
        kind,
        description,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct TileLayer {
    pub id: &'static str,
    /// May name the hidden range as [`HIDDEN`]: read it through [`TileLayer::description`].
    description: &'static str,
    pub minzoom: u8,
    pub maxzoom: u8,
    pub fields: &'static [FieldDef],
    /// Tables the layer's SQL reads. With [`TileLayer::uses_risk`], the bound village arrays
    /// read more: the service adds the tables of its risk model and indicator engine
    /// (`echinomap_programme::tiles::tables`), and the data versions of all of them key the
    /// cache.
    pub tables: &'static [&'static str],
    /// Rows are filtered by the caller's jurisdiction.
    pub scoped: bool,
    /// Small counts of people are hidden (bound as [`TileArgs::small_max`]) from roles without
    /// case access.
    pub suppressible: bool,
    /// The layer reads `period=`.
    pub uses_period: bool,
    /// The layer shows the risk tier and score of each village (bound as the `v_*` arrays of
    /// [`TileArgs`]); its tiles depend on the day as well as on the data.
    pub uses_risk: bool,
    /// The layer reads `source=` and `resolution=` (hotspot results).
    pub uses_source: bool,
    /// Layer SQL at zoom ≥ `detail_zoom` (per village / per feature).
    sql: &'static str,
    /// Aggregated SQL below `detail_zoom` (per H3 cell), if the layer aggregates.
    sql_low: Option<&'static str>,
    pub detail_zoom: u8,
}

impl TileLayer {
    /// What the layer shows, the hidden range as `rule` has it.
    pub fn description(&self, rule: Suppression) -> String {
        with_hidden_range(self.description, rule)
    }

    /// The statement for zoom `z`.
    pub fn sql(&self, z: u8) -> &'static str {
        match self.sql_low {
            Some(low) if z < self.detail_zoom => low,
            _ => self.sql,
        }
    }

    /// The H3 resolution of the aggregated cells at zoom `z`, when the layer aggregates.
    pub fn cell_resolution(&self, z: u8) -> Option<u8> {
        match self.sql_low {
            Some(_) if z < self.detail_zoom => Some(if z < 7 { 6 } else { 7 }),
            _ => None,
        }
    }
}

/// A count of people hidden from the caller: `1 ≤ count ≤ p.small_max`, false (never NULL) when
/// `p.small_max` is NULL, so that the `suppressed` flags stay booleans.
macro_rules! hidden {
    ($count:literal) => {
        concat!("coalesce(", $count, " BETWEEN 1 AND p.small_max, false)")
    };
}

/// `ST_AsMVTGeom` of a point `f.geom` (4326): a point inside the buffered envelope is never
/// dropped, and there is nothing to simplify.
macro_rules! mvt_point {
    () => {
        "ST_AsMVTGeom(ST_Transform(f.geom, 3857), env.e3857, 4096, 64, true)"
    };
}

/// `ST_AsMVTGeom` of `f.geom` (4326) that never drops an intersecting feature.
macro_rules! mvt_geom {
    () => {
        "coalesce(
            ST_AsMVTGeom(ST_Simplify(ST_Transform(f.geom, 3857), env.px, true), env.e3857, 4096, 64, true),
            ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(ST_Intersection(f.geom, env.e4326)), 3857), env.e3857, 4096, 64, true))"
    };
}

const BOUNDARIES: &str = concat!(
    prelude!(),
    ",
    f AS (
        SELECT code::bigint AS id, 'county' AS kind, code::text AS code, name, false AS synthetic, geom FROM counties
        UNION ALL
        SELECT code::bigint, 'township', code::text, name, synthetic, geom FROM townships
        UNION ALL
        SELECT code::bigint, 'neighbour', code::text, name, false, geom FROM neighbour_counties)
    SELECT ST_AsMVT(t, 'boundaries', 4096, 'geom', 'id') FROM (
        SELECT f.id, f.kind, f.code, f.name, f.synthetic, ",
    mvt_geom!(),
    " AS geom
        FROM f, env
        WHERE f.geom && (SELECT e4326 FROM env) AND ST_Intersects(f.geom, (SELECT e4326 FROM env))) t"
);

const RIVERS: &str = concat!(
    prelude!(),
    "
    SELECT ST_AsMVT(t, 'rivers', 4096, 'geom', 'id') FROM (
        SELECT f.id, f.name, f.level, ",
    mvt_geom!(),
    " AS geom
        FROM rivers f, env
        WHERE f.geom && (SELECT e4326 FROM env) AND ST_Intersects(f.geom, (SELECT e4326 FROM env))) t"
);

const VILLAGES: &str = concat!(
    prelude!(),
    "
    SELECT ST_AsMVT(t, 'villages', 4096, 'geom', 'id') FROM (
        SELECT f.id, f.code::text AS code, f.name, f.township_code::text AS township_code, f.kind::text AS kind,
               nullif(p.v_population[f.id], -1) AS population,
               nullif(p.v_households[f.id], -1) AS households, f.synthetic, f.remote,
               (ARRAY['low', 'medium', 'high'])[p.v_tier[f.id]] AS risk_tier,
               CASE WHEN p.v_tier[f.id] > 0 THEN p.v_score[f.id] END AS risk_score,
               CASE WHEN p.v_cases[f.id] < 0 OR ",
    hidden!("p.v_cases[f.id]"),
    " THEN NULL
                    ELSE p.v_cases[f.id] END AS cases, ",
    hidden!("p.v_cases[f.id]"),
    " AS suppressed,
               nullif(p.v_due[f.id], -1) AS dogs_due, nullif(p.v_dosed[f.id], -1) AS dogs_dosed,
               round(p.v_dosed[f.id]::numeric / nullif(greatest(p.v_due[f.id], 0), 0), 4)::float8 AS deworming_coverage, ",
    mvt_point!(),
    " AS geom
        FROM villages f
        CROSS JOIN env CROSS JOIN p
        WHERE f.geom && (SELECT e4326 FROM env) AND f.code LIKE p.scope || '%') t"
);

const SLAUGHTER_POINTS: &str = concat!(
    prelude!(),
    "
    SELECT ST_AsMVT(t, 'slaughter_points', 4096, 'geom', 'id') FROM (
        SELECT f.id, f.code, f.name, f.kind::text AS kind, f.disposal_facility::text AS disposal_facility,
               v.code::text AS village_code,
               coalesce(i.slaughtered, 0) AS inspected, coalesce(i.infected, 0) AS infected,
               round(i.infected::numeric / nullif(i.slaughtered, 0), 4)::float8 AS infection_rate,
               coalesce(i.not_disposed, 0) AS not_disposed, ",
    mvt_point!(),
    " AS geom
        FROM slaughter_points f
        JOIN villages v ON v.id = f.village_id
        CROSS JOIN env CROSS JOIN p
        LEFT JOIN LATERAL (
            SELECT sum(s.slaughtered) AS slaughtered, sum(s.infected) AS infected,
                   sum(s.infected) FILTER (WHERE NOT s.disposal_done) AS not_disposed
            FROM slaughter_inspections s
            WHERE s.point_id = f.id AND s.deleted_at IS NULL AND s.inspected_on BETWEEN p.d_from AND p.d_to) i ON true
        WHERE f.deleted_at IS NULL AND f.geom && (SELECT e4326 FROM env) AND v.code LIKE p.scope || '%') t"
);

/// The villages of the scope inside the tile (village-level layers).
macro_rules! sel_villages {
    () => {
        "
    sel AS (
        SELECT f.id FROM villages f, env, p
        WHERE f.geom && (SELECT e4326 FROM env) AND f.code LIKE p.scope || '%'),"
    };
}

/// The villages of the scope whose H3 cell (r6 below zoom 7, else r7) meets the tile: a cell
/// that straddles the tile edge adds up all of its villages, inside the tile or not.
macro_rules! sel_cells {
    () => {
        "
    tile_cells AS (
        SELECT f.cell FROM h3_cells f, env, p
        WHERE f.resolution = CASE WHEN p.z < 7 THEN 6 ELSE 7 END
          AND f.geom && (SELECT e4326 FROM env) AND ST_Intersects(f.geom, (SELECT e4326 FROM env))),
    sel AS (
        SELECT v.id FROM villages v CROSS JOIN p
        JOIN tile_cells t ON t.cell = CASE WHEN p.z < 7 THEN v.h3_r6 ELSE v.h3_r7 END
        WHERE v.code LIKE p.scope || '%'),"
    };
}

/// Cases reported in the period per village of `sel` (the villages of the scope the tile
/// needs), and the latest population of each village; the layer hides small counts.
macro_rules! case_counts {
    () => {
        "
    counts AS (
        SELECT v.id AS village_id, count(c.id) AS cases
        FROM sel v CROSS JOIN p
        LEFT JOIN cases c ON c.village_id = v.id AND c.deleted_at IS NULL
                         AND c.reported_on BETWEEN p.d_from AND p.d_to
        GROUP BY v.id),
    population AS (
        SELECT DISTINCT ON (village_id) village_id, population
        FROM village_denominators ORDER BY village_id, year DESC)"
    };
}

const CASE_DENSITY: &str = concat!(
    prelude!(),
    ",",
    sel_villages!(),
    case_counts!(),
    "
    SELECT ST_AsMVT(t, 'case_density', 4096, 'geom', 'id') FROM (
        SELECT f.id, f.code::text AS code, f.name,
               CASE WHEN ",
    hidden!("k.cases"),
    " THEN NULL ELSE k.cases END AS cases, ",
    hidden!("k.cases"),
    " AS suppressed,
               n.population,
               CASE WHEN ",
    hidden!("k.cases"),
    " THEN NULL
                    ELSE round(k.cases * 100000.0 / nullif(n.population, 0), 1)::float8 END AS rate_per_100k, ",
    mvt_point!(),
    " AS geom
        FROM villages f
        JOIN counts k ON k.village_id = f.id
        LEFT JOIN population n ON n.village_id = f.id
        CROSS JOIN env CROSS JOIN p
        WHERE f.geom && (SELECT e4326 FROM env)) t"
);

const CASE_DENSITY_CELLS: &str = concat!(
    prelude!(),
    ",",
    sel_cells!(),
    case_counts!(),
    ",
    cells AS (
        SELECT CASE WHEN p.z < 7 THEN v.h3_r6 ELSE v.h3_r7 END AS cell,
               sum(k.cases) AS cases, sum(n.population) AS population
        FROM villages v
        JOIN counts k ON k.village_id = v.id
        LEFT JOIN population n ON n.village_id = v.id
        CROSS JOIN p
        GROUP BY 1)
    SELECT ST_AsMVT(t, 'case_density', 4096, 'geom', 'id') FROM (
        SELECT f.cell AS id, lower(to_hex(f.cell)) AS cell,
               CASE WHEN ",
    hidden!("c.cases"),
    " THEN NULL ELSE c.cases END AS cases, ",
    hidden!("c.cases"),
    " AS suppressed,
               c.population,
               CASE WHEN ",
    hidden!("c.cases"),
    " THEN NULL
                    ELSE round(c.cases * 100000.0 / nullif(c.population, 0), 1)::float8 END AS rate_per_100k, ",
    mvt_geom!(),
    " AS geom
        FROM h3_cells f
        JOIN cells c ON c.cell = f.cell
        CROSS JOIN env CROSS JOIN p
        WHERE f.geom && (SELECT e4326 FROM env) AND ST_Intersects(f.geom, (SELECT e4326 FROM env))) t"
);

/// Registered live dogs and the dogs dosed in the coverage month, per village of `sel`.
macro_rules! dog_counts {
    () => {
        "
    counts AS (
        SELECT v.id AS village_id,
               (SELECT count(*) FROM dogs d
                 WHERE d.village_id = v.id AND d.deleted_at IS NULL AND d.kind <> 'stray'
                   AND d.registered_on <= p.m_to
                   AND (d.status = 'alive' OR d.status_on > p.m_from)) AS dogs,
               (SELECT count(DISTINCT w.dog_id) FROM dewormings w
                 WHERE w.village_id = v.id AND w.deleted_at IS NULL
                   AND w.dosed_on BETWEEN p.m_from AND p.m_to) AS dosed
        FROM sel v CROSS JOIN p)"
    };
}

const DOG_DENSITY: &str = concat!(
    prelude!(),
    ",",
    sel_villages!(),
    dog_counts!(),
    "
    SELECT ST_AsMVT(t, 'dog_density', 4096, 'geom', 'id') FROM (
        SELECT f.id, f.code::text AS code, f.name, k.dogs, k.dosed,
               round(k.dosed::numeric / nullif(k.dogs, 0), 4)::float8 AS coverage, ",
    mvt_point!(),
    " AS geom
        FROM villages f
        JOIN counts k ON k.village_id = f.id
        CROSS JOIN env
        WHERE f.geom && (SELECT e4326 FROM env)) t"
);

const DOG_DENSITY_CELLS: &str = concat!(
    prelude!(),
    ",",
    sel_cells!(),
    dog_counts!(),
    ",
    cells AS (
        SELECT CASE WHEN p.z < 7 THEN v.h3_r6 ELSE v.h3_r7 END AS cell,
               sum(k.dogs) AS dogs, sum(k.dosed) AS dosed
        FROM villages v JOIN counts k ON k.village_id = v.id CROSS JOIN p
        GROUP BY 1)
    SELECT ST_AsMVT(t, 'dog_density', 4096, 'geom', 'id') FROM (
        SELECT f.cell AS id, lower(to_hex(f.cell)) AS cell, c.dogs, c.dosed,
               round(c.dosed::numeric / nullif(c.dogs, 0), 4)::float8 AS coverage, ",
    mvt_geom!(),
    " AS geom
        FROM h3_cells f
        JOIN cells c ON c.cell = f.cell
        CROSS JOIN env
        WHERE f.geom && (SELECT e4326 FROM env) AND ST_Intersects(f.geom, (SELECT e4326 FROM env))) t"
);

/// The cells of the latest stored hotspot result for the source layer, resolution and scope
/// (and period, when one is asked for).
const HOTSPOTS: &str = concat!(
    prelude!(),
    ",
    latest AS (
        SELECT r.id FROM hotspot_results r CROSS JOIN p
        WHERE r.layer = p.source AND r.resolution = p.resolution AND r.scope = p.scope
          AND (NOT p.has_period OR (r.period_from = p.d_from AND r.period_to = p.d_to))
        ORDER BY r.computed_at DESC, r.id DESC
        LIMIT 1)
    SELECT ST_AsMVT(t, 'hotspots', 4096, 'geom', 'id') FROM (
        SELECT f.cell AS id, f.stats->>'h3_cell' AS h3_cell,
               CASE WHEN p.source = 'human_cases' AND ",
    hidden!("(f.stats->>'count')::float8"),
    "
                    THEN NULL ELSE (f.stats->>'count')::float8 END AS count,
               (f.stats->>'gi_star_z')::float8 AS z, (f.stats->>'gi_star_p')::float8 AS p,
               (f.stats->>'gi_star_bin')::int AS bin, f.stats->>'lisa_cluster' AS cluster, ",
    mvt_geom!(),
    " AS geom
        FROM hotspot_cells f
        JOIN latest l ON l.id = f.result_id
        CROSS JOIN env CROSS JOIN p
        WHERE f.geom && (SELECT e4326 FROM env) AND ST_Intersects(f.geom, (SELECT e4326 FROM env))) t"
);

const AREA_FIELDS: &[FieldDef] = &[
    field("kind", "String", "county, township or neighbour"),
    field("code", "String", "official code"),
    field("name", "String", "name"),
    field(
        "synthetic",
        "Boolean",
        "the outline is a demo construction (Voronoi cell), not surveyed",
    ),
];

pub const LAYERS: &[TileLayer] = &[
    TileLayer {
        id: "boundaries",
        description: "County, township and neighbouring-county outlines (天地图; township areas synthetic)",
        minzoom: 0,
        maxzoom: 16,
        fields: AREA_FIELDS,
        tables: &["counties", "townships", "neighbour_counties"],
        scoped: false,
        suppressible: false,
        uses_risk: false,
        uses_period: false,
        uses_source: false,
        sql: BOUNDARIES,
        sql_low: None,
        detail_zoom: 0,
    },
    TileLayer {
        id: "rivers",
        description: "The Ili river and its branches (GSHHG)",
        minzoom: 0,
        maxzoom: 16,
        fields: &[
            field("name", "String", "river name, if known"),
            field("level", "Number", "WDBII river level"),
        ],
        tables: &["rivers"],
        scoped: false,
        suppressible: false,
        uses_risk: false,
        uses_period: false,
        uses_source: false,
        sql: RIVERS,
        sql_low: None,
        detail_zoom: 0,
    },
    TileLayer {
        id: "villages",
        description: "Village-level units with their latest denominators",
        minzoom: 5,
        maxzoom: 16,
        fields: &[
            field("code", "String", "12-digit village code"),
            field("name", "String", "village name"),
            field("township_code", "String", "9-digit township code"),
            field(
                "kind",
                "String",
                "village_committee, residents_committee or farm_unit",
            ),
            field("population", "Number", "latest year's population"),
            field("households", "Number", "latest year's households"),
            field(
                "synthetic",
                "Boolean",
                "the position is a demo placement, not surveyed",
            ),
            field("remote", "Boolean", "remote village (6-monthly follow-up)"),
            field(
                "risk_tier",
                "String",
                "risk tier today: high, medium or low (docs/RISK.md)",
            ),
            field(
                "risk_score",
                "Number",
                "risk score today, 0–100 (docs/RISK.md)",
            ),
            field(
                "cases",
                "Number",
                "cases reported in the period (null when {hidden} are withheld)",
            ),
            field("suppressed", "Boolean", "the case count is withheld"),
            field(
                "dogs_due",
                "Number",
                "dogs due for deworming in the coverage month (indicator deworming_coverage)",
            ),
            field(
                "dogs_dosed",
                "Number",
                "dogs dewormed in the coverage month",
            ),
            field(
                "deworming_coverage",
                "Number",
                "dogs_dosed / dogs_due, the coverage month being the period's last month so far",
            ),
        ],
        // The SQL reads only the villages; the bound arrays come from the risk model and the
        // indicators, whose tables the service adds (`echinomap_programme::tiles::tables`).
        tables: &["villages"],
        scoped: true,
        suppressible: true,
        uses_risk: true,
        uses_period: true,
        uses_source: false,
        sql: VILLAGES,
        sql_low: None,
        detail_zoom: 0,
    },
    TileLayer {
        id: "slaughter_points",
        description: "Slaughter points with their disposal facility and the period's infection rate",
        minzoom: 5,
        maxzoom: 16,
        fields: &[
            field("code", "String", "slaughter point code"),
            field("name", "String", "name"),
            field("kind", "String", "designated or informal"),
            field("disposal_facility", "String", "incinerator, pit or none"),
            field("village_code", "String", "village of the point"),
            field("inspected", "Number", "animals inspected in the period"),
            field("infected", "Number", "animals with cysts in the period"),
            field("infection_rate", "Number", "infected / inspected"),
            field(
                "not_disposed",
                "Number",
                "infected animals whose offal was not disposed of",
            ),
        ],
        tables: &["slaughter_points", "slaughter_inspections", "villages"],
        scoped: true,
        suppressible: false,
        uses_risk: false,
        uses_period: true,
        uses_source: false,
        sql: SLAUGHTER_POINTS,
        sql_low: None,
        detail_zoom: 0,
    },
    TileLayer {
        id: "case_density",
        description: "Human cases reported in the period: per H3 cell (res 6 below z7, res 7 below z9), per village from z9; counts of {hidden} withheld for roles without case access",
        minzoom: 5,
        maxzoom: 16,
        fields: &[
            field("code", "String", "village code (z ≥ 9)"),
            field("cell", "String", "H3 cell (z < 9)"),
            field("name", "String", "village name (z ≥ 9)"),
            field(
                "cases",
                "Number",
                "cases reported in the period (null when suppressed)",
            ),
            field(
                "suppressed",
                "Boolean",
                "the count is {hidden} and withheld",
            ),
            field("population", "Number", "population"),
            field(
                "rate_per_100k",
                "Number",
                "cases per 100,000 (null when suppressed)",
            ),
        ],
        tables: &["cases", "villages", "village_denominators"],
        scoped: true,
        suppressible: true,
        uses_risk: false,
        uses_period: true,
        uses_source: false,
        sql: CASE_DENSITY,
        sql_low: Some(CASE_DENSITY_CELLS),
        detail_zoom: 9,
    },
    TileLayer {
        id: "dog_density",
        description: "Registered dogs and deworming coverage of the period's (last) month: per H3 cell below z9, per village from z9",
        minzoom: 5,
        maxzoom: 16,
        fields: &[
            field("code", "String", "village code (z ≥ 9)"),
            field("cell", "String", "H3 cell (z < 9)"),
            field("name", "String", "village name (z ≥ 9)"),
            field("dogs", "Number", "registered live dogs (strays excluded)"),
            field("dosed", "Number", "dogs dosed in the month"),
            field("coverage", "Number", "dosed / dogs"),
        ],
        tables: &["dogs", "dewormings", "villages"],
        scoped: true,
        suppressible: false,
        uses_risk: false,
        uses_period: true,
        uses_source: false,
        sql: DOG_DENSITY,
        sql_low: Some(DOG_DENSITY_CELLS),
        detail_zoom: 9,
    },
    TileLayer {
        id: "hotspots",
        description: "H3 cells of the latest hotspot result (GET /api/hotspots) for source= (human_cases, dog_positivity, livestock_infection), resolution= (6–9) and, if given, period=",
        minzoom: 5,
        maxzoom: 16,
        fields: &[
            field("h3_cell", "String", "H3 cell"),
            field(
                "count",
                "Number",
                "cases or positives in the cell (null when suppressed)",
            ),
            field("z", "Number", "Getis-Ord Gi* z"),
            field("p", "Number", "Gi* two-sided p-value"),
            field("bin", "Number", "Gi* bin −3…3 (cold/hot at 99/95/90%, FDR)"),
            field(
                "cluster",
                "String",
                "local Moran cluster: HH, LL, HL, LH or ns",
            ),
        ],
        tables: &["hotspot_results"],
        scoped: true,
        suppressible: true,
        uses_risk: false,
        uses_period: true,
        uses_source: true,
        sql: HOTSPOTS,
        sql_low: None,
        detail_zoom: 0,
    },
];

pub fn layer(id: &str) -> Option<&'static TileLayer> {
    LAYERS.iter().find(|l| l.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_that_shows_village_risk_is_scoped() {
        // The risk model runs inside a jurisdiction: the tile service asks for the scope.
        for l in LAYERS.iter().filter(|l| l.uses_risk) {
            assert!(l.scoped, "{} shows village risk but is not scoped", l.id);
        }
    }

    #[test]
    fn every_layer_has_a_unique_id_and_types_the_parameters_it_reads() {
        let mut ids: Vec<_> = LAYERS.iter().map(|l| l.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), LAYERS.len());
        // The number after each `$` in a statement.
        let params = |sql: &str| -> Vec<u32> {
            sql.split('$')
                .skip(1)
                .filter_map(|rest| {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse().ok()
                })
                .collect()
        };
        for l in LAYERS {
            for z in [5u8, 8, 12] {
                let sql = l.sql(z);
                let used = params(sql);
                // z, x, y and the scope always; nothing past the bound parameters.
                for n in 1..=4 {
                    assert!(used.contains(&n), "{} z{z} ignores ${n}", l.id);
                }
                for n in used {
                    assert!(
                        (1..=TileArgs::COUNT as u32).contains(&n),
                        "{} z{z} reads ${n}",
                        l.id
                    );
                    // Typed where it is read, so that the statement plans whatever types a
                    // client declares (sqlx declares them; PREPARE without types does not).
                    assert!(
                        sql.contains(&format!("${n}::")),
                        "{} z{z} reads ${n} without a cast",
                        l.id
                    );
                }
                assert!(
                    sql.contains(&format!("'{}'", l.id)),
                    "{} names its MVT layer",
                    l.id
                );
            }
        }
    }

    #[test]
    fn aggregated_layers_switch_to_villages_at_their_detail_zoom() {
        let l = layer("case_density").unwrap();
        assert_eq!(l.cell_resolution(6), Some(6));
        assert_eq!(l.cell_resolution(8), Some(7));
        assert_eq!(l.cell_resolution(9), None);
        assert!(l.sql(8).contains("h3_cells") && !l.sql(9).contains("h3_cells"));
    }

    #[test]
    fn small_counts_are_hidden_by_the_bound_maximum_never_by_a_literal() {
        for l in LAYERS {
            for z in [5u8, 8, 12] {
                let sql = l.sql(z);
                let literal = sql.match_indices("BETWEEN 1 AND ").find(|(i, m)| {
                    sql[i + m.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit())
                });
                assert!(
                    literal.is_none(),
                    "{} z{z} hides a literal range of counts",
                    l.id
                );
                assert_eq!(
                    sql.contains("BETWEEN 1 AND p.small_max"),
                    l.suppressible,
                    "{} z{z}: suppressible layers, and only they, read p.small_max",
                    l.id
                );
            }
        }
    }

    #[test]
    fn descriptions_name_the_running_rule() {
        let default = layer("case_density").unwrap();
        assert!(
            default
                .description(Suppression::DEFAULT)
                .contains("counts of 1–4 withheld for roles without case access")
        );
        let rule = Suppression::new(6, 11).unwrap();
        assert!(default.description(rule).contains("counts of 1–6 withheld"));
        let suppressed = default.fields.iter().find(|f| f.name == "suppressed");
        assert_eq!(
            suppressed.map(|f| f.description(rule)).as_deref(),
            Some("the count is 1–6 and withheld")
        );
        for l in LAYERS {
            assert!(!l.description(rule).contains(HIDDEN), "{}", l.id);
            for f in l.fields {
                assert!(!f.description(rule).contains(HIDDEN), "{}.{}", l.id, f.name);
                assert!(!f.description(rule).contains("1–4"), "{}.{}", l.id, f.name);
            }
        }
    }
}
