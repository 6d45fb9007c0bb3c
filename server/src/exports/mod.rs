//! The layers planners take away: one declaration per layer (its columns with their Chinese and
//! English headers and what each is: a count, a personal count, a rate of a count, a name, a
//! value), one SQL query per layer, and the suppression every shared number passes. The exports
//! (`/api/export/{layer}.geojson|csv`) and the OGC API – Features (`/ogc`) both read them.
//!
//! Each layer's SQL selects `id text, geom geometry, <columns>` with `$1` the caller's
//! jurisdiction prefix, `$2`/`$3` the period's first and last day and `$4` a township code or
//! NULL; [`page_sql`] wraps it with the bbox, the order and the paging.

use serde_json::{Map, Value};

/// What a column holds, for suppression and CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Text,
    Number,
    /// A count of people (cases): 1–4 (1–9 for external audiences) become null.
    PersonalCount,
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

/// One exportable layer.
#[derive(Debug)]
pub struct Layer {
    pub name: &'static str,
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
    c("township_code", "乡镇代码", Col::Text),
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

pub const LAYERS: &[Layer] = &[
    Layer {
        name: "villages",
        title_zh: "村",
        title_en: "Villages",
        description: "Villages with their population and, for the period, cases, dog deworming and faecal testing.",
        periodic: true,
        columns: &[
            PLACE_COLS[0], PLACE_COLS[1], PLACE_COLS[2], PLACE_COLS[3],
            MEASURE_COLS[0], MEASURE_COLS[1], MEASURE_COLS[2], MEASURE_COLS[3], MEASURE_COLS[4],
            MEASURE_COLS[5], MEASURE_COLS[6], MEASURE_COLS[7], MEASURE_COLS[8],
            c("synthetic", "位置为示意", Col::Text),
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
               WHERE v.code LIKE $1 || '%' AND ($4::text IS NULL OR v.township_code = $4)) m"
        ),
        has_data_sql: Some(HAS_ANY_RECORD),
    },
    Layer {
        name: "townships",
        title_zh: "乡镇",
        title_en: "Townships",
        description: "Townships (areas) with the same measures as villages, summed.",
        periodic: true,
        columns: &[
            PLACE_COLS[0], PLACE_COLS[1],
            MEASURE_COLS[0], MEASURE_COLS[1], MEASURE_COLS[2], MEASURE_COLS[3], MEASURE_COLS[4],
            MEASURE_COLS[5], MEASURE_COLS[6], MEASURE_COLS[7], MEASURE_COLS[8],
            c("synthetic", "边界为示意", Col::Text),
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
               WHERE (t.code LIKE $1 || '%' OR $1 LIKE t.code || '%') AND ($4::text IS NULL OR t.code = $4)) m"
        ),
        has_data_sql: Some(HAS_ANY_RECORD),
    },
    Layer {
        name: "slaughter_points",
        title_zh: "屠宰点",
        title_en: "Slaughter points",
        description: "Slaughter points with the animals inspected and found infected in the period.",
        periodic: true,
        columns: &[
            c("code", "代码", Col::Text),
            c("name", "名称", Col::Text),
            c("kind", "类型", Col::Text),
            c("disposal_facility", "无害化设施", Col::Text),
            c("village_code", "村代码", Col::Text),
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
    Layer {
        name: "case_counts",
        title_zh: "病例数(村×月)",
        title_en: "Case counts by village and month",
        description: "Human cases reported in the period, by village and month.",
        periodic: true,
        columns: &[
            c("village_code", "村代码", Col::Text),
            c("village_name", "村", Col::Text),
            c("township_code", "乡镇代码", Col::Text),
            c("month", "月份", Col::Text),
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
    Layer {
        name: "dog_counts",
        title_zh: "犬只数(村)",
        title_en: "Dogs by village",
        description: "Registered live dogs by village and kind, at the end of the period.",
        periodic: true,
        columns: &[
            c("village_code", "村代码", Col::Text),
            c("village_name", "村", Col::Text),
            c("township_code", "乡镇代码", Col::Text),
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
    Layer {
        name: "hotspots",
        title_zh: "热点(H3)",
        title_en: "Hotspot cells (H3)",
        description: "The latest stored hotspot result for human cases in the caller's jurisdiction (compute one with /api/hotspots).",
        periodic: false,
        columns: &[
            c("h3_cell", "H3 单元", Col::Text),
            c("layer", "图层", Col::Text),
            c("count", "计数", Col::PersonalCount),
            c("eb_rate", "EB 平滑率", Col::RateOf("count")),
            c("gi_star_z", "Gi* z", Col::Number),
            c("gi_star_bin", "Gi* 分级", Col::Number),
            c("lisa_cluster", "LISA 聚类", Col::Text),
        ],
        sql: "SELECT lower(to_hex(h.cell)) AS id, h.geom, lower(to_hex(h.cell)) AS h3_cell, r.layer,
                (h.stats->>'count')::float8 AS count, (h.stats->>'eb_rate')::float8 AS eb_rate,
                (h.stats->>'gi_star_z')::float8 AS gi_star_z, (h.stats->>'gi_star_bin')::float8 AS gi_star_bin,
                h.stats->>'lisa_cluster' AS lisa_cluster
              FROM hotspot_cells h JOIN hotspot_results r ON r.id = h.result_id
              WHERE r.id = (SELECT r2.id FROM hotspot_results r2 WHERE r2.scope = $1 AND ($4::text IS NULL OR $4 IS NOT NULL)
                              AND $2::date IS NOT NULL AND $3::date IS NOT NULL
                            ORDER BY (r2.layer = 'human_cases') DESC, r2.computed_at DESC LIMIT 1)",
        has_data_sql: None,
    },
];

/// Risk columns of a layer's rows, by row id (the village code), as of `as_of`: score, tier
/// and the recommended deworming regime. Empty for layers without risk columns.
pub async fn risk_columns(
    pool: &sqlx::PgPool,
    programme: &crate::programme::Programme,
    layer: &Layer,
    prefix: &str,
    as_of: chrono::NaiveDate,
    suppress: bool,
) -> Result<std::collections::HashMap<String, Map<String, Value>>, sqlx::Error> {
    let mut out = std::collections::HashMap::new();
    if !layer.columns.iter().any(|c| c.kind == Col::Risk) {
        return Ok(out);
    }
    let mut opts = programme.options();
    opts.as_of = as_of.min(opts.as_of);
    let rows = crate::risk::villages(pool, &programme.risk, prefix, &opts, suppress).await?;
    for r in rows {
        let Some(code) = r["code"].as_str() else {
            continue;
        };
        let mut m = Map::new();
        m.insert("risk_score".into(), r["score"].clone());
        m.insert("risk_tier".into(), r["tier"].clone());
        let regime = match &r["regime"] {
            Value::Object(o) => o.get("regime").cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        m.insert("deworming_regime".into(), regime);
        out.insert(code.to_owned(), m);
    }
    Ok(out)
}

pub fn layer(name: &str) -> Option<&'static Layer> {
    LAYERS.iter().find(|l| l.name == name)
}

/// One row by id (`$5`).
pub fn item_sql(layer: &Layer) -> String {
    format!(
        "SELECT l.id::text, ST_AsGeoJSON(ST_ForcePolygonCCW(l.geom), 6) AS geometry,
                round(ST_X(ST_PointOnSurface(l.geom))::numeric, 6)::float8 AS lon,
                round(ST_Y(ST_PointOnSurface(l.geom))::numeric, 6)::float8 AS lat,
                to_jsonb(l) - 'id' - 'geom' AS properties
         FROM ({sql}) l WHERE l.id::text = $5",
        sql = layer.sql
    )
}

/// The layer's rows as JSON features, in id order, within `bbox` (`$5..$8`: west, south, east,
/// north, all NULL for none), `$9` rows from `$10`.
pub fn page_sql(layer: &Layer) -> String {
    format!(
        "SELECT l.id::text, ST_AsGeoJSON(ST_ForcePolygonCCW(l.geom), 6) AS geometry,
                round(ST_X(ST_PointOnSurface(l.geom))::numeric, 6)::float8 AS lon,
                round(ST_Y(ST_PointOnSurface(l.geom))::numeric, 6)::float8 AS lat,
                to_jsonb(l) - 'id' - 'geom' AS properties
         FROM ({sql}) l
         WHERE ($5::float8 IS NULL OR l.geom && ST_MakeEnvelope($5, $6, $7, $8, 4326))
         ORDER BY l.id
         LIMIT $9 OFFSET $10",
        sql = layer.sql
    )
}

/// The extent and number of the layer's rows (for `bbox` and `numberMatched`).
pub fn extent_sql(layer: &Layer) -> String {
    format!(
        "SELECT count(*), ST_XMin(ST_Extent(l.geom)), ST_YMin(ST_Extent(l.geom)), ST_XMax(ST_Extent(l.geom)), ST_YMax(ST_Extent(l.geom))
         FROM ({sql}) l
         WHERE ($5::float8 IS NULL OR l.geom && ST_MakeEnvelope($5, $6, $7, $8, 4326))",
        sql = layer.sql
    )
}

/// Small-count suppression of one feature's properties: personal counts from 1 to `max`
/// become null, the rates computed from them are withheld, and `suppressed` says so.
pub fn suppress(layer: &Layer, props: &mut Map<String, Value>, max: i64) {
    let mut hidden: Vec<&str> = Vec::new();
    for col in layer.columns {
        if col.kind == Col::PersonalCount
            && let Some(v) = props.get(col.name).and_then(Value::as_f64)
            && v >= 1.0
            && v <= max as f64
        {
            props.insert(col.name.into(), Value::Null);
            hidden.push(col.name);
        }
    }
    for col in layer.columns {
        if let Col::RateOf(of) = col.kind
            && hidden.contains(&of)
        {
            props.insert(col.name.into(), Value::Null);
        }
    }
    props.insert("suppressed".into(), Value::Bool(!hidden.is_empty()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_of_one_to_four_and_their_rates_are_withheld() {
        let l = layer("villages").expect("villages");
        let mut p = json!({"cases": 3, "cases_per_100k": 12.5, "dogs_alive": 2})
            .as_object()
            .cloned()
            .expect("object");
        suppress(l, &mut p, 4);
        assert_eq!(p["cases"], Value::Null);
        assert_eq!(p["cases_per_100k"], Value::Null);
        assert_eq!(p["dogs_alive"], 2, "animal counts are not personal");
        assert_eq!(p["suppressed"], true);
        let mut p = json!({"cases": 0, "cases_per_100k": 0.0})
            .as_object()
            .cloned()
            .expect("object");
        suppress(l, &mut p, 4);
        assert_eq!(
            (p["cases"].as_i64(), p["suppressed"].as_bool()),
            (Some(0), Some(false))
        );
        let mut p = json!({"cases": 7}).as_object().cloned().expect("object");
        suppress(l, &mut p, 9);
        assert_eq!(p["cases"], Value::Null, "external audiences: 1–9");
    }

    #[test]
    fn every_layer_declares_the_columns_its_sql_selects() {
        for l in LAYERS {
            for col in l.columns.iter().filter(|c| c.kind != Col::Risk) {
                assert!(l.sql.contains(col.name), "{}: {}", l.name, col.name);
            }
        }
    }
}
