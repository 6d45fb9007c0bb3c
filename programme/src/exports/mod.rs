//! The layers planners take away: one declaration per layer (its columns with their Chinese and
//! English headers and what each is: a count, a personal count, a rate of a count, a name, a
//! value), one SQL query per layer, and the suppression every shared number passes. The exports
//! (`/api/export/{layer}.geojson|csv`) and the OGC API – Features (`/ogc`) both read them, through
//! [`read`] (a [`Selection`] of a layer: the period check, extents, pages, one feature, the
//! whole layer as a stream of bytes).
//!
//! Each layer's SQL selects `id, geom geometry, <columns>` (the id text or a number; rows are
//! ordered by it) with `$1` the caller's jurisdiction prefix, `$2`/`$3` the period's first and
//! last day and `$4` a township code or NULL; `page_sql` wraps it with the bbox, the order and
//! the paging, and has PostgreSQL write each row as finished bytes: a GeoJSON feature or a CSV
//! line, with the small-count suppression applied in the same expression. The largest hidden
//! count is a bound `bigint` parameter (NULL: nothing hidden), never text of the SQL, so that one
//! statement serves every audience and the rule comes from the running configuration
//! ([`crate::config::Programme::small_max`]). The server only forwards the rows, so an export of a
//! million rows costs the server no per-row work beyond a copy.

pub mod read;

pub use read::{Extent, Page, Selection, StreamError, audience, jurisdiction_extent};

use echinomap_domain::spreadsheet;
use serde_json::{Map, Value};

use crate::auth::Perm;

/// What a column holds, for suppression and CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// Text a person may have written (a name, a tag): a formula-like value is neutralised in
    /// CSV ([`echinomap_domain::spreadsheet`]).
    Text,
    /// Text the programme writes itself (an official code, an H3 cell, an enumeration, a date or
    /// month): never formula-like, so written as it is, without the per-cell check.
    Code,
    Number,
    /// Yes or no (是/否 in a Chinese CSV).
    Flag,
    /// A list of codes (a JSON array; space-separated in CSV).
    List,
    /// A count of people (cases): 1 to the audience's maximum become null (by default 1–4, and
    /// 1–9 for external audiences).
    PersonalCount,
    /// A count that is of people only in rows where the SQL condition (over the row `l`) holds,
    /// e.g. the observed count of a scan over human cases but not over dog tests.
    PersonalCountWhen(&'static str),
    /// A count of animals or events: shared as is.
    Count,
    /// A rate computed from the named personal count: withheld when that count is suppressed.
    RateOf(&'static str),
    /// The village's risk ([`crate::risk`]), added to the row after the SQL.
    Risk,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub zh: &'static str,
    pub kind: Col,
}

const fn c(name: &'static str, zh: &'static str, kind: Col) -> Column {
    Column { name, zh, kind }
}

/// Who may take a layer away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Aggregates (or animal counts) that passed suppression: every role that sees aggregates.
    Aggregate,
    /// Rows of a register (one per dog…): only roles with the register's permission, and never
    /// for an external audience.
    Register(Perm),
}

/// One exportable layer.
#[derive(Debug)]
pub struct ExportLayer {
    pub name: &'static str,
    pub rows: Rows,
    pub title_zh: &'static str,
    pub title_en: &'static str,
    pub description: &'static str,
    /// The layer depends on the period (`period=`, OGC `datetime`).
    pub periodic: bool,
    pub columns: &'static [Column],
    pub sql: &'static str,
    /// A query that is non-empty when the period has data (`$1`..`$4` as above).
    pub has_data_sql: Option<&'static str>,
}

const PLACE_COLS: [Column; 4] = [
    c("code", "代码", Col::Text),
    c("name", "名称", Col::Text),
    c("township_code", "乡镇代码", Col::Code),
    c("township_name", "乡镇", Col::Text),
];

/// Per-place measures over the period, for villages (`v.id = ...`) and townships.
macro_rules! measures {
    ($place:literal) => {
        concat!(
            "(SELECT count(*) FROM cases c JOIN villages x ON x.id = c.village_id WHERE ", $place, " AND c.deleted_at IS NULL AND c.reported_on BETWEEN $2 AND $3) AS cases,
             (SELECT count(*) FROM dogs g JOIN villages x ON x.id = g.village_id WHERE ", $place, " AND g.deleted_at IS NULL AND g.registered_on <= $3 AND (g.status = 'alive' OR g.status_on >= $2)) AS dogs_alive,
             (SELECT count(DISTINCT w.dog_id) FROM dewormings w JOIN villages x ON x.id = w.village_id WHERE ", $place, " AND w.deleted_at IS NULL AND w.dosed_on BETWEEN $2 AND $3) AS dogs_dewormed,
             (SELECT count(*) FROM faecal_tests f JOIN villages x ON x.id = f.village_id WHERE ", $place, " AND f.deleted_at IS NULL AND f.sampled_on BETWEEN $2 AND $3) AS faecal_tests,
             (SELECT count(*) FROM faecal_tests f JOIN villages x ON x.id = f.village_id WHERE ", $place, " AND f.deleted_at IS NULL AND f.result = 'positive' AND f.sampled_on BETWEEN $2 AND $3) AS faecal_positive"
        )
    };
}

/// The rates of the measures (over the subquery `m`), shared by villages and townships.
macro_rules! rates {
    () => {
        "round((m.cases * 100000.0 / nullif(m.population, 0))::numeric, 2) AS cases_per_100k,
         round((m.dogs_dewormed::numeric / nullif(m.dogs_alive, 0)), 4) AS deworming_coverage,
         round((m.faecal_positive::numeric / nullif(m.faecal_tests, 0)), 4) AS faecal_positivity, "
    };
}

const MEASURE_COLS: [Column; 9] = [
    c("population", "人口", Col::Number),
    c("cases", "病例数", Col::PersonalCount),
    c("cases_per_100k", "病例率(/10万)", Col::RateOf("cases")),
    c("dogs_alive", "期内在养犬数", Col::Count),
    c("dogs_dewormed", "驱虫犬数", Col::Count),
    c("deworming_coverage", "驱虫覆盖率", Col::Number),
    c("faecal_tests", "犬粪检测数", Col::Count),
    c("faecal_positive", "犬粪阳性数", Col::Count),
    c("faecal_positivity", "犬粪阳性率", Col::Number),
];

const HAS_ANY_RECORD: &str = "SELECT 1 WHERE EXISTS (SELECT 1 FROM cases c JOIN villages x ON x.id = c.village_id WHERE x.code LIKE $1 || '%' AND c.reported_on BETWEEN $2 AND $3)
    OR EXISTS (SELECT 1 FROM dewormings w JOIN villages x ON x.id = w.village_id WHERE x.code LIKE $1 || '%' AND w.dosed_on BETWEEN $2 AND $3)
    OR EXISTS (SELECT 1 FROM faecal_tests f JOIN villages x ON x.id = f.village_id WHERE x.code LIKE $1 || '%' AND f.sampled_on BETWEEN $2 AND $3 AND ($4::text IS NULL OR x.township_code = $4))";

pub const LAYERS: &[ExportLayer] = &[
    ExportLayer {
        rows: Rows::Aggregate,
        name: "villages",
        title_zh: "村",
        title_en: "Villages",
        description: "Villages with their population and, for the period, cases, dog deworming and faecal testing.",
        periodic: true,
        columns: &[
            PLACE_COLS[0], PLACE_COLS[1], PLACE_COLS[2], PLACE_COLS[3],
            MEASURE_COLS[0], MEASURE_COLS[1], MEASURE_COLS[2], MEASURE_COLS[3], MEASURE_COLS[4],
            MEASURE_COLS[5], MEASURE_COLS[6], MEASURE_COLS[7], MEASURE_COLS[8],
            c("synthetic", "位置为示意", Col::Flag),
            c("risk_score", "风险评分", Col::Risk),
            c("risk_tier", "风险等级", Col::Risk),
            c("deworming_regime", "建议驱虫方案", Col::Risk),
        ],
        sql: concat!(
            "SELECT m.id, m.geom, m.code, m.name, m.township_code, m.township_name, m.population, m.cases, ",
            rates!(),
            "m.dogs_alive, m.dogs_dewormed, m.faecal_tests, m.faecal_positive, m.synthetic
             FROM (SELECT v.code::text AS id, v.geom, v.code::text AS code, v.name, v.township_code::text AS township_code,
                      t.name AS township_name, v.synthetic,
                      (SELECT d.population FROM village_denominators d WHERE d.village_id = v.id
                         AND d.year <= extract(year FROM $3::date) ORDER BY d.year DESC LIMIT 1) AS population, ",
            measures!("x.id = v.id"),
            " FROM villages v JOIN townships t ON t.code = v.township_code
               WHERE v.code LIKE $1 || '%' AND ($4::text IS NULL OR v.township_code = $4)
               -- OFFSET 0 keeps `m` a subquery of its own: the measures are evaluated once per
               -- row, not again at every mention (rates, suppression, CSV quoting).
               OFFSET 0) m"
        ),
        has_data_sql: Some(HAS_ANY_RECORD),
    },
    ExportLayer {
        rows: Rows::Aggregate,
        name: "townships",
        title_zh: "乡镇",
        title_en: "Townships",
        description: "Townships (areas) with the same measures as villages, summed.",
        periodic: true,
        columns: &[
            PLACE_COLS[0], PLACE_COLS[1],
            MEASURE_COLS[0], MEASURE_COLS[1], MEASURE_COLS[2], MEASURE_COLS[3], MEASURE_COLS[4],
            MEASURE_COLS[5], MEASURE_COLS[6], MEASURE_COLS[7], MEASURE_COLS[8],
            c("synthetic", "边界为示意", Col::Flag),
        ],
        sql: concat!(
            "SELECT m.id, m.geom, m.code, m.name, m.population, m.cases, ",
            rates!(),
            "m.dogs_alive, m.dogs_dewormed, m.faecal_tests, m.faecal_positive, m.synthetic
             FROM (SELECT t.code::text AS id, t.geom, t.code::text AS code, t.name, t.synthetic,
                      (SELECT sum(p.population) FROM villages y CROSS JOIN LATERAL (SELECT d.population FROM village_denominators d
                         WHERE d.village_id = y.id AND d.year <= extract(year FROM $3::date) ORDER BY d.year DESC LIMIT 1) p
                       WHERE y.township_code = t.code) AS population, ",
            measures!("x.township_code = t.code"),
            " FROM townships t
               WHERE (t.code LIKE $1 || '%' OR $1 LIKE t.code || '%') AND ($4::text IS NULL OR t.code = $4)
               OFFSET 0) m"
        ),
        has_data_sql: Some(HAS_ANY_RECORD),
    },
    ExportLayer {
        rows: Rows::Aggregate,
        name: "slaughter_points",
        title_zh: "屠宰点",
        title_en: "Slaughter points",
        description: "Slaughter points with the animals inspected and found infected in the period.",
        periodic: true,
        columns: &[
            c("code", "代码", Col::Text),
            c("name", "名称", Col::Text),
            c("kind", "类型", Col::Code),
            c("disposal_facility", "无害化设施", Col::Code),
            c("village_code", "村代码", Col::Code),
            c("slaughtered", "屠宰数", Col::Count),
            c("infected", "感染数", Col::Count),
            c("infection_rate", "感染率", Col::Number),
        ],
        sql: "SELECT p.code AS id, p.geom, p.code, p.name, p.kind::text AS kind, p.disposal_facility::text AS disposal_facility,
                v.code::text AS village_code, coalesce(s.slaughtered, 0) AS slaughtered, coalesce(s.infected, 0) AS infected,
                round(s.infected::numeric / nullif(s.slaughtered, 0), 4) AS infection_rate
              FROM slaughter_points p JOIN villages v ON v.id = p.village_id
              LEFT JOIN LATERAL (SELECT sum(i.slaughtered) AS slaughtered, sum(i.infected) AS infected FROM slaughter_inspections i
                 WHERE i.point_id = p.id AND i.deleted_at IS NULL AND i.inspected_on BETWEEN $2 AND $3) s ON true
              WHERE p.deleted_at IS NULL AND v.code LIKE $1 || '%' AND ($4::text IS NULL OR v.township_code = $4)",
        has_data_sql: None,
    },
    ExportLayer {
        rows: Rows::Aggregate,
        name: "case_counts",
        title_zh: "病例数(村×月)",
        title_en: "Case counts by village and month",
        description: "Human cases reported in the period, by village and month.",
        periodic: true,
        columns: &[
            c("village_code", "村代码", Col::Code),
            c("village_name", "村", Col::Text),
            c("township_code", "乡镇代码", Col::Code),
            c("month", "月份", Col::Code),
            c("cases", "病例数", Col::PersonalCount),
            c("ce", "囊型", Col::PersonalCount),
            c("ae", "泡型", Col::PersonalCount),
        ],
        sql: "SELECT v.code || '-' || to_char(date_trunc('month', c.reported_on), 'YYYY-MM') AS id, v.geom,
                v.code::text AS village_code, v.name AS village_name, v.township_code::text AS township_code,
                to_char(date_trunc('month', c.reported_on), 'YYYY-MM') AS month, count(*) AS cases,
                count(*) FILTER (WHERE c.case_type = 'CE') AS ce, count(*) FILTER (WHERE c.case_type = 'AE') AS ae
              FROM cases c JOIN villages v ON v.id = c.village_id
              WHERE c.deleted_at IS NULL AND c.reported_on BETWEEN $2 AND $3
                AND v.code LIKE $1 || '%' AND ($4::text IS NULL OR v.township_code = $4)
              GROUP BY v.id, v.code, v.geom, v.name, v.township_code, date_trunc('month', c.reported_on)",
        has_data_sql: Some("SELECT 1 FROM cases c JOIN villages x ON x.id = c.village_id WHERE x.code LIKE $1 || '%' AND c.deleted_at IS NULL AND c.reported_on BETWEEN $2 AND $3 AND ($4::text IS NULL OR x.township_code = $4) LIMIT 1"),
    },
    ExportLayer {
        rows: Rows::Aggregate,
        name: "dog_counts",
        title_zh: "犬只数(村)",
        title_en: "Dogs by village",
        description: "Registered live dogs by village and kind, at the end of the period.",
        periodic: true,
        columns: &[
            c("village_code", "村代码", Col::Code),
            c("village_name", "村", Col::Text),
            c("township_code", "乡镇代码", Col::Code),
            c("dogs", "犬只数", Col::Count),
            c("domestic_tethered", "拴养家犬", Col::Count),
            c("domestic_semi", "半拴养犬", Col::Count),
            c("herding", "牧犬", Col::Count),
            c("stray", "流浪犬", Col::Count),
        ],
        sql: "SELECT v.code::text AS id, v.geom, v.code::text AS village_code, v.name AS village_name, v.township_code::text AS township_code,
                count(g.id) AS dogs,
                count(g.id) FILTER (WHERE g.kind = 'domestic_tethered') AS domestic_tethered,
                count(g.id) FILTER (WHERE g.kind = 'domestic_semi') AS domestic_semi,
                count(g.id) FILTER (WHERE g.kind = 'herding') AS herding,
                count(g.id) FILTER (WHERE g.kind = 'stray') AS stray
              FROM villages v LEFT JOIN dogs g ON g.village_id = v.id AND g.deleted_at IS NULL
                AND g.registered_on <= $3 AND (g.status = 'alive' OR g.status_on > $3)
              WHERE v.code LIKE $1 || '%' AND ($4::text IS NULL OR v.township_code = $4) AND $2::date IS NOT NULL
              GROUP BY v.id, v.code, v.geom, v.name, v.township_code",
        has_data_sql: None,
    },
    ExportLayer {
        rows: Rows::Aggregate,
        name: "hotspots",
        title_zh: "热点(H3)",
        title_en: "Hotspot cells (H3)",
        description: "The latest stored hotspot result for human cases in the caller's jurisdiction (compute one with /api/hotspots).",
        periodic: false,
        columns: &[
            c("h3_cell", "H3 单元", Col::Code),
            c("layer", "图层", Col::Code),
            c("count", "计数", Col::PersonalCount),
            c("eb_rate", "EB 平滑率", Col::RateOf("count")),
            c("gi_star_z", "Gi* z", Col::Number),
            c("gi_star_bin", "Gi* 分级", Col::Number),
            c("lisa_cluster", "LISA 聚类", Col::Code),
        ],
        sql: "SELECT lower(to_hex(h.cell)) AS id, h.geom, lower(to_hex(h.cell)) AS h3_cell, r.layer,
                (h.stats->>'count')::float8 AS count, (h.stats->>'eb_rate')::float8 AS eb_rate,
                (h.stats->>'gi_star_z')::float8 AS gi_star_z, (h.stats->>'gi_star_bin')::float8 AS gi_star_bin,
                h.stats->>'lisa_cluster' AS lisa_cluster
              FROM hotspot_cells h JOIN hotspot_results r ON r.id = h.result_id
              WHERE r.id = (SELECT r2.id FROM hotspot_results r2 WHERE r2.scope = $1 AND r2.published AND ($4::text IS NULL OR $4 IS NOT NULL)
                              AND $2::date IS NOT NULL AND $3::date IS NOT NULL
                            ORDER BY (r2.layer = 'human_cases') DESC, r2.computed_at DESC LIMIT 1)",
        has_data_sql: None,
    },
    ExportLayer {
        rows: Rows::Aggregate,
        name: "scan_clusters",
        title_zh: "扫描聚集区",
        title_en: "Scan clusters (Kulldorff)",
        description: "The clusters of the latest Kulldorff scan of the caller's jurisdiction (or of the township asked for), as circles (run one with /api/scan).",
        periodic: false,
        columns: &[
            c("rank", "排序", Col::Number),
            c("layer", "图层", Col::Code),
            c("model", "模型", Col::Code),
            c("period_from", "起始日期", Col::Code),
            c("period_to", "截止日期", Col::Code),
            c("scope", "范围", Col::Code),
            c("computed_at", "计算时间", Col::Code),
            c("centre_code", "中心村代码", Col::Code),
            c("centre_lon", "中心经度", Col::Number),
            c("centre_lat", "中心纬度", Col::Number),
            c("radius_m", "半径(米)", Col::Number),
            c("n_villages", "村数", Col::Number),
            c("member_codes", "成员村代码", Col::List),
            c("population", "人口/分母", Col::Number),
            c("observed", "观察数", Col::PersonalCountWhen("l.layer = 'human_cases'")),
            c("expected", "期望数", Col::Number),
            c("relative_risk", "相对危险度", Col::RateOf("observed")),
            c("llr", "对数似然比", Col::Number),
            c("p_value", "P 值", Col::Number),
        ],
        // The circle of the cluster on the ellipsoid; a cluster of one village (radius 0) is
        // drawn 200 m wide, as /api/scan draws it.
        sql: "SELECT c.rank AS id, ST_Buffer(c.centre::geography, greatest(c.radius_m, 200.0))::geometry AS geom,
                c.rank, r.layer, r.model, r.period_from, r.period_to, r.scope, r.computed_at, c.centre_code,
                round(ST_X(c.centre)::numeric, 6) AS centre_lon, round(ST_Y(c.centre)::numeric, 6) AS centre_lat,
                round(c.radius_m::numeric, 1) AS radius_m, cardinality(c.member_codes) AS n_villages, c.member_codes,
                c.population, c.observed, round(c.expected::numeric, 4) AS expected,
                round(c.relative_risk::numeric, 4) AS relative_risk, round(c.llr::numeric, 4) AS llr, c.p_value
              FROM scan_clusters c JOIN scan_results r ON r.id = c.result_id
              WHERE r.id = (SELECT r2.id FROM scan_results r2
                            WHERE r2.scope = CASE WHEN $4::text LIKE $1 || '%' THEN $4 ELSE $1 END
                              AND $2::date IS NOT NULL AND $3::date IS NOT NULL
                            ORDER BY r2.computed_at DESC, r2.id DESC LIMIT 1)",
        has_data_sql: None,
    },
    ExportLayer {
        rows: Rows::Register(Perm::AnimalRows),
        name: "dogs",
        title_zh: "犬只",
        title_en: "Registered dogs",
        description: "Every registered dog (one feature each) at its household, or at its village when the household has no point; no owner names or ID numbers. Only for roles that read the dog register.",
        periodic: false,
        columns: &[
            c("tag", "犬牌号", Col::Text),
            c("collar_id", "项圈编号", Col::Text),
            c("village_code", "村代码", Col::Code),
            c("village_name", "村", Col::Text),
            c("township_code", "乡镇代码", Col::Code),
            c("township_name", "乡镇", Col::Text),
            c("kind", "类型", Col::Code),
            c("sex", "性别", Col::Code),
            c("birth_year", "出生年份", Col::Number),
            c("status", "状态", Col::Code),
            c("status_on", "状态日期", Col::Code),
            c("registered_on", "登记日期", Col::Code),
            c("last_dewormed_on", "最近驱虫日期", Col::Code),
            c("located_at", "位置来源", Col::Code),
        ],
        // The latest dose through the (dog_id, dosed_on) index: one short backward scan per dog.
        sql: "SELECT d.id, coalesce(h.geom, v.geom) AS geom, d.tag, d.collar_id, v.code::text AS village_code,
                v.name AS village_name, v.township_code::text AS township_code, t.name AS township_name,
                d.kind::text AS kind, d.sex::text AS sex, d.birth_year, d.status::text AS status, d.status_on,
                d.registered_on,
                (SELECT w.dosed_on FROM dewormings w WHERE w.dog_id = d.id AND w.deleted_at IS NULL
                 ORDER BY w.dosed_on DESC LIMIT 1) AS last_dewormed_on,
                CASE WHEN h.geom IS NULL THEN 'village' ELSE 'household' END AS located_at
              FROM dogs d JOIN villages v ON v.id = d.village_id JOIN townships t ON t.code = v.township_code
              LEFT JOIN households h ON h.id = d.household_id
              WHERE d.deleted_at IS NULL AND v.code LIKE $1 || '%' AND ($4::text IS NULL OR v.township_code = $4)
                AND $2::date IS NOT NULL AND $3::date IS NOT NULL",
        has_data_sql: None,
    },
];

/// Risk columns of a layer's rows, by row id (the village code), from the villages' risk rows
/// (`risk::RiskCache::villages`): score, tier and the recommended deworming regime, as one JSON
/// object bound to the layer's SQL (see [`Selection::page`] and [`Selection::document`]).
pub fn risk_columns(rows: &[crate::risk::VillageRisk]) -> Value {
    let mut out = Map::new();
    for r in rows {
        let mut m = Map::new();
        m.insert("risk_score".into(), r.score.into());
        m.insert("risk_tier".into(), r.tier.as_str().into());
        m.insert("deworming_regime".into(), r.regime.regime.into());
        out.insert(r.code.as_str().to_owned(), Value::Object(m));
    }
    Value::Object(out)
}

pub fn layer(name: &str) -> Option<&'static ExportLayer> {
    LAYERS.iter().find(|l| l.name == name)
}

impl ExportLayer {
    /// The layer has columns computed outside its SQL (the risk), bound as one JSON parameter.
    pub fn has_risk(&self) -> bool {
        self.columns.iter().any(|c| c.kind == Col::Risk)
    }

    /// The layer is one row per register record (not an aggregate).
    pub fn perm(&self) -> Option<Perm> {
        match self.rows {
            Rows::Aggregate => None,
            Rows::Register(p) => Some(p),
        }
    }
}

/// What each row of a layer becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A GeoJSON feature (RFC 7946: exterior rings counter-clockwise, 6 decimals).
    GeoJson,
    /// A CSV line without its line end: the columns, `lon`, `lat` (a polygon's point on
    /// surface) and `suppressed`; yes/no as 是/否 unless `english`.
    Csv { english: bool },
}

/// The numbers of the parameters a row expression reads besides the layer's `$1..$4`.
#[derive(Debug, Clone, Copy)]
struct RowParams {
    /// The largest hidden count of people (`bigint`; NULL: nothing is hidden).
    max: usize,
    /// The risk columns (JSON), bound only when the layer has them.
    risk: usize,
}

/// True (SQL) when the personal count `col` of the row `l` is withheld: 1 to the bound maximum.
/// A NULL maximum makes the comparison NULL and so false: nothing is hidden.
fn hidden(col: &Column, max_param: usize) -> Option<String> {
    let small = format!(
        "coalesce(l.{} BETWEEN 1 AND ${max_param}::bigint, false)",
        col.name
    );
    match col.kind {
        Col::PersonalCount => Some(small),
        Col::PersonalCountWhen(cond) => Some(format!("(coalesce({cond}, true) AND {small})")),
        _ => None,
    }
}

/// The SQL value of one column as shared: suppressed, or looked up in the risk parameter.
fn value_sql(layer: &ExportLayer, col: &Column, params: RowParams) -> String {
    let name = col.name;
    let withheld = |cond: String| format!("CASE WHEN {cond} THEN NULL ELSE l.{name} END");
    match col.kind {
        Col::Risk => format!("(${}::jsonb -> (l.id::text) -> '{name}')", params.risk),
        Col::PersonalCount | Col::PersonalCountWhen(_) => {
            hidden(col, params.max).map_or_else(|| format!("l.{name}"), withheld)
        }
        Col::RateOf(of) => layer
            .columns
            .iter()
            .find(|c| c.name == of)
            .and_then(|c| hidden(c, params.max))
            .map_or_else(|| format!("l.{name}"), withheld),
        _ => format!("l.{name}"),
    }
}

/// `suppressed`: any personal count of the row withheld.
fn suppressed_sql(layer: &ExportLayer, max_param: usize) -> String {
    let any: Vec<String> = layer
        .columns
        .iter()
        .filter_map(|c| hidden(c, max_param))
        .collect();
    if any.is_empty() {
        "false".into()
    } else {
        format!("({})", any.join(" OR "))
    }
}

/// One CSV cell from a SQL value: quoted when it holds a comma, quote or line break.
fn csv_cell_sql(text: &str) -> String {
    format!(
        "CASE WHEN {text} ~ '[\",\\r\\n]' THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END"
    )
}

/// One CSV cell from a SQL text that a person may have written: a formula-like text gets the
/// quote in front ([`echinomap_domain::spreadsheet`], OWASP's rule against formula injection),
/// then it is quoted as [`csv_cell_sql`] quotes.
fn csv_text_sql(text: &str) -> String {
    // One regexp_replace (the quote, then the whole match `\&`) rather than a CASE that names
    // the value three times, each of them again in every mention `csv_cell_sql` makes.
    let re = spreadsheet::csv_quote_regex().replace('\'', "''");
    csv_cell_sql(&format!("regexp_replace({text}, '{re}', '''\\&')"))
}

/// The SQL expression (over the row `l`) that writes one row in `format`, with the parameters
/// `params` names.
fn row_sql(layer: &ExportLayer, format: Format, params: RowParams) -> String {
    let values = layer
        .columns
        .iter()
        .map(|c| (c, value_sql(layer, c, params)));
    let suppressed = suppressed_sql(layer, params.max);
    match format {
        Format::GeoJson => {
            let props: Vec<String> = values
                .map(|(c, v)| format!("'{}', {v}", c.name))
                .chain([format!("'suppressed', {suppressed}")])
                .collect();
            // Concatenated rather than built as one JSON value: the geometry is not parsed again.
            format!(
                "'{{\"type\":\"Feature\",\"id\":' || to_json(l.id)::text
                 || ',\"geometry\":' || coalesce(ST_AsGeoJSON(ST_ForcePolygonCCW(l.geom), 6), 'null')
                 || ',\"properties\":' || json_build_object({}) || '}}'",
                props.join(", ")
            )
        }
        Format::Csv { english } => {
            let (yes, no) = if english {
                ("true", "false")
            } else {
                ("是", "否")
            };
            let flag = |v: &str| format!("CASE WHEN {v} THEN '{yes}' WHEN NOT {v} THEN '{no}' END");
            let cells: Vec<String> = values
                .map(|(c, v)| match c.kind {
                    Col::Flag => flag(&v),
                    Col::List => csv_cell_sql(&format!("array_to_string({v}, ' ')")),
                    Col::Code => csv_cell_sql(&format!("({v})::text")),
                    Col::Risk => csv_cell_sql(&format!("({v} #>> '{{}}')")),
                    Col::Text => csv_text_sql(&format!("({v})::text")),
                    // A number never needs quoting; the value is named once, because a column of
                    // the layer may be a subquery that each mention evaluates again.
                    _ => format!("({v})::text"),
                })
                .chain([
                    "round(ST_X(ST_PointOnSurface(l.geom))::numeric, 6)::text".into(),
                    "round(ST_Y(ST_PointOnSurface(l.geom))::numeric, 6)::text".into(),
                    flag(&suppressed),
                ])
                .collect();
            format!("array_to_string(ARRAY[{}], ',', '')", cells.join(", "))
        }
    }
}

/// One row by id (`$5`), as a GeoJSON feature; the largest hidden count in `$6`, the risk
/// columns in `$7`.
fn item_sql(layer: &ExportLayer) -> String {
    format!(
        "SELECT {row} FROM ({sql}) l WHERE l.id::text = $5",
        row = row_sql(layer, Format::GeoJson, RowParams { max: 6, risk: 7 }),
        sql = layer.sql
    )
}

/// The layer's rows written in `format`, in id order, within `bbox` (`$5..$8`: west, south,
/// east, north, all NULL for none), `$9` rows (NULL: all) from `$10`; the largest hidden count
/// in `$11`, the risk columns in `$12`.
fn page_sql(layer: &ExportLayer, format: Format) -> String {
    format!(
        "SELECT {row} FROM ({sql}) l
         WHERE ($5::float8 IS NULL OR l.geom && ST_MakeEnvelope($5, $6, $7, $8, 4326))
         ORDER BY l.id
         LIMIT $9 OFFSET $10",
        row = row_sql(layer, format, RowParams { max: 11, risk: 12 }),
        sql = layer.sql
    )
}

/// The extent and number of the layer's rows within `bbox` (`$5..$8`, as in [`page_sql`]).
fn extent_sql(layer: &ExportLayer) -> String {
    format!(
        "SELECT count(*), ST_XMin(ST_Extent(l.geom)), ST_YMin(ST_Extent(l.geom)), ST_XMax(ST_Extent(l.geom)), ST_YMax(ST_Extent(l.geom))
         FROM ({sql}) l
         WHERE ($5::float8 IS NULL OR l.geom && ST_MakeEnvelope($5, $6, $7, $8, 4326))",
        sql = layer.sql
    )
}

/// The number of the layer's rows within `bbox` (OGC `numberMatched`): [`extent_sql`] without
/// the extent, which a page does not need.
fn count_sql(layer: &ExportLayer) -> String {
    format!(
        "SELECT count(*) FROM ({sql}) l WHERE ($5::float8 IS NULL OR l.geom && ST_MakeEnvelope($5, $6, $7, $8, 4326))",
        sql = layer.sql
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppression_withholds_personal_counts_and_the_rates_made_from_them_only() {
        let l = layer("villages").expect("villages");
        let params = RowParams { max: 11, risk: 12 };
        let sql = row_sql(l, Format::GeoJson, params);
        assert!(
            sql.contains(
                "CASE WHEN coalesce(l.cases BETWEEN 1 AND $11::bigint, false) THEN NULL ELSE l.cases END"
            ),
            "{sql}"
        );
        assert!(sql.contains("THEN NULL ELSE l.cases_per_100k END"), "{sql}");
        assert!(
            !sql.contains("ELSE l.dogs_alive END"),
            "animal counts are not personal"
        );
        assert!(
            sql.contains("'suppressed', (coalesce(l.cases BETWEEN 1 AND $11::bigint, false))"),
            "{sql}"
        );
        // The maximum is the bound parameter, never text of the SQL: one statement for every
        // audience (NULL, the inside and the outside maximum are values of `$11`)...
        assert!(!sql.contains("BETWEEN 1 AND 4") && !sql.contains("BETWEEN 1 AND 9"));
        // ... and a NULL maximum hides nothing: every comparison with it is wrapped so that
        // NULL reads as "not hidden".
        for expr in [&sql, &row_sql(l, Format::Csv { english: false }, params)] {
            let between = expr.matches("BETWEEN 1 AND $11::bigint").count();
            let wrapped = expr.matches(" BETWEEN 1 AND $11::bigint, false)").count();
            assert!(between > 0 && between == wrapped, "{expr}");
        }
        let scan = row_sql(
            layer("scan_clusters").expect("scan"),
            Format::GeoJson,
            params,
        );
        assert!(
            scan.contains("l.layer = 'human_cases'"),
            "dog tests are not people: {scan}"
        );
        // A layer without counts of people reads no maximum at all.
        let dogs = row_sql(
            layer("dog_counts").expect("dog_counts"),
            Format::GeoJson,
            params,
        );
        assert!(
            !dogs.contains("$11") && dogs.contains("'suppressed', false"),
            "{dogs}"
        );
    }

    #[test]
    fn a_csv_text_cell_is_neutralised_against_formulas_and_a_number_is_not_touched() {
        let l = layer("slaughter_points").expect("slaughter_points");
        let sql = row_sql(
            l,
            Format::Csv { english: true },
            RowParams { max: 11, risk: 12 },
        );
        let re = spreadsheet::csv_quote_regex().replace('\'', "''");
        for text in ["l.code", "l.name"] {
            assert!(
                sql.contains(&format!("regexp_replace(({text})::text, '{re}', '''\\&')")),
                "{text}: {sql}"
            );
        }
        // What the programme writes itself (an enumeration, an official code) skips the check.
        for code in ["l.kind", "l.village_code"] {
            assert!(sql.contains(&format!("({code})::text")), "{sql}");
            assert!(
                !sql.contains(&format!("regexp_replace(({code})")),
                "{code}: {sql}"
            );
        }
        for number in ["l.slaughtered", "l.infected", "l.infection_rate"] {
            assert!(sql.contains(&format!("({number})::text, ")), "{sql}");
            assert!(
                !sql.contains(&format!("regexp_replace(({number})")),
                "{sql}"
            );
        }
    }

    #[test]
    fn pages_and_items_bind_the_maximum_after_their_own_parameters_and_the_risk_last() {
        let l = layer("villages").expect("villages");
        let page = page_sql(l, Format::GeoJson);
        assert!(
            page.contains("$11::bigint") && page.contains("$12::jsonb"),
            "{page}"
        );
        let item = item_sql(l);
        assert!(
            item.contains("$6::bigint") && item.contains("$7::jsonb"),
            "{item}"
        );
        assert!(!item.contains("$11") && !item.contains("$12"), "{item}");
    }

    #[test]
    fn every_layer_declares_the_columns_its_sql_selects() {
        for l in LAYERS {
            for col in l.columns.iter().filter(|c| c.kind != Col::Risk) {
                assert!(l.sql.contains(col.name), "{}: {}", l.name, col.name);
            }
        }
    }

    #[test]
    fn only_register_layers_need_a_register_permission() {
        for l in LAYERS {
            assert_eq!(l.perm().is_some(), l.name == "dogs", "{}", l.name);
        }
    }
}
