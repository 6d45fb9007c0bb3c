//! The indicator engine: the programme's indicators ([`defs::INDICATORS`]) for any village,
//! township or county and any month, quarter or year, or any range of them (`2022..2026`): a
//! [`Period`] is read only by its days and months, so a range is computed as a year is, over
//! its whole span (monthly indicators as the ratio of the sums over its months).
//!
//! Each indicator's SQL returns one row per village (or, for livestock without an origin, per
//! county) and period: numerator, denominator and extra counts. The engine runs it once for all
//! requested periods and adds the rows up into the requested units, so a township or county
//! value is always the ratio of sums over its villages, never a mean of village ratios.
//! The caller's jurisdiction is the SQL's code prefix; the suppression of small counts is
//! applied by [`evaluate`] and [`is_small`], under the maximum the audience of the output gets
//! (`config::Programme::small_max`).

pub mod defs;
pub mod rollup;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

pub use defs::{INDICATORS, Indicator, Measure, Op, PeriodRule};
// The one calendar period of the whole service, defined in `domain`: indicators speak in it.
pub use echinomap_domain::period::{self, Period, PeriodError, PeriodKind};

use echinomap_domain::PlaceCode;
use echinomap_domain::privacy::hidden_under;

/// Prepended to every indicator's SQL. Parameters: `$1` the code prefix of the villages to
/// read, `$2`/`$3` the periods' first and last days (arrays, in order), `$4` the diagnosis
/// classes that count as cases, `$5` the child age limit (inclusive, whole years), `$6` today,
/// `$7` the follow-up grace in days. `per.i` is the 1-based index of the period.
const HEADER: &str = "WITH p AS (
    SELECT $1::text AS prefix, $4::text[] AS classes, $5::int AS child_max_age,
           $6::date AS as_of, $7::int AS grace
), per AS (
    SELECT u.i::int AS i, u.s, u.e FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS u(s, e, i)
), vil AS (
    SELECT v.id, v.code::text AS code FROM villages v, p WHERE v.code LIKE p.prefix || '%'
)
";

/// What the indicator SQL needs besides units and periods.
#[derive(Debug, Clone)]
pub struct Options {
    /// Diagnosis classes counted as cases (from the stage rule set).
    pub diagnosis_classes: Vec<String>,
    /// Age (whole years at the report) up to which a case is a child's.
    pub child_max_age: i32,
    /// Today: the "as of" of state indicators while their period runs.
    pub as_of: NaiveDate,
    /// Days a follow-up may be late before it counts as overdue.
    pub grace_days: i32,
}

/// How rows are added up into units.
#[derive(Debug, Clone)]
pub enum Grouping {
    /// Everything inside one unit (a county, township or village).
    Unit(PlaceCode),
    /// Every unit of a level: the first 6, 9 or 12 characters of the row's code.
    Level(usize),
    /// Every unit of several levels at once (a row counts in each).
    Levels(Vec<usize>),
}

impl Grouping {
    fn keys<'a>(&'a self, code: &'a str) -> Vec<&'a str> {
        match self {
            Grouping::Unit(u) => code
                .starts_with(u.as_str())
                .then_some(u.as_str())
                .into_iter()
                .collect(),
            Grouping::Level(n) => code.get(..*n).into_iter().collect(),
            Grouping::Levels(ns) => {
                let mut keys: Vec<&str> = ns.iter().filter_map(|n| code.get(..*n)).collect();
                keys.dedup();
                keys
            }
        }
    }
}

/// The numbers of one unit and period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub num: f64,
    pub den: f64,
    pub extra: BTreeMap<String, f64>,
    /// For monthly indicators: (numerator, denominator) of each month of the period.
    pub months: Vec<(f64, f64)>,
}

/// Unit code → one cell per requested period (in order).
pub type Cells = HashMap<String, Vec<Cell>>;

/// The periods the SQL is run for, and for each requested period the indices of the rows that
/// add up to it. Monthly indicators are computed on the distinct months of all periods (a
/// quarter, year or range is the sum of its months); the others on the periods themselves (a
/// range as one span of days). A month that begins after `as_of` is not counted: the rest of a
/// running year or range is not yet due (its dogs would count as due with none dosed).
fn query_plan(
    rule: PeriodRule,
    periods: &[Period],
    as_of: NaiveDate,
) -> (Vec<Period>, Vec<Vec<usize>>) {
    if rule == PeriodRule::Monthly {
        let mut months: Vec<Period> = periods
            .iter()
            .flat_map(Period::months)
            .filter(|m| m.start() <= as_of)
            .collect();
        months.sort();
        months.dedup();
        let map = periods
            .iter()
            .map(|p| {
                p.months()
                    .iter()
                    .filter_map(|m| months.binary_search(m).ok())
                    .collect()
            })
            .collect();
        (months, map)
    } else {
        (
            periods.to_vec(),
            (0..periods.len()).map(|i| vec![i]).collect(),
        )
    }
}

/// Runs `def` for the villages inside `area` (a county, township or village) and `periods`, and
/// adds the rows up by `grouping`.
pub async fn compute(
    pool: &sqlx::PgPool,
    def: &Indicator,
    area: &PlaceCode,
    periods: &[Period],
    grouping: &Grouping,
    opts: &Options,
) -> Result<Cells, sqlx::Error> {
    let (query_periods, months_of) = query_plan(def.period_rule, periods, opts.as_of);
    if def.rollup {
        rollup::refresh(pool, &query_periods, opts).await?;
    }
    let starts: Vec<NaiveDate> = query_periods.iter().map(Period::start).collect();
    let ends: Vec<NaiveDate> = query_periods.iter().map(Period::end).collect();
    let sql = format!("{HEADER}{}", def.sql);
    let started = std::time::Instant::now();
    // Built from the constant header and the indicator's constant SQL; every value is bound.
    let rows: Vec<(String, i32, f64, f64, Value)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(area.as_str())
        .bind(&starts)
        .bind(&ends)
        .bind(&opts.diagnosis_classes)
        .bind(opts.child_max_age)
        .bind(opts.as_of)
        .bind(opts.grace_days)
        .fetch_all(pool)
        .await?;
    tracing::debug!(
        indicator.key = def.key,
        rows = rows.len(),
        duration_ms = started.elapsed().as_millis() as u64,
        "indicator rows"
    );
    // (unit, query period) → cell
    let mut by_query: HashMap<String, Vec<Cell>> = HashMap::new();
    for (code, i, num, den, extra) in rows {
        let Some(qi) = usize::try_from(i).ok().and_then(|i| i.checked_sub(1)) else {
            continue;
        };
        for unit in grouping.keys(&code) {
            let cells = by_query
                .entry(unit.to_owned())
                .or_insert_with(|| vec![Cell::default(); query_periods.len()]);
            let Some(cell) = cells.get_mut(qi) else {
                continue;
            };
            cell.num += num;
            cell.den += den;
            if let Value::Object(map) = &extra {
                for (k, v) in map {
                    *cell.extra.entry(k.clone()).or_default() += v.as_f64().unwrap_or(0.0);
                }
            }
        }
    }
    Ok(by_query
        .into_iter()
        .map(|(unit, cells)| {
            let out = months_of
                .iter()
                .map(|idx| {
                    let mut c = Cell::default();
                    for &q in idx {
                        let m = &cells[q];
                        c.num += m.num;
                        c.den += m.den;
                        for (k, v) in &m.extra {
                            *c.extra.entry(k.clone()).or_default() += v;
                        }
                        if def.period_rule == PeriodRule::Monthly {
                            c.months.push((m.num, m.den));
                        }
                    }
                    c
                })
                .collect();
            (unit, out)
        })
        .collect())
}

/// The value of a cell: a proportion, a rate per village or a count; `None` without data.
pub fn value_of(def: &Indicator, cell: &Cell) -> Option<f64> {
    match def.measure {
        Measure::Count => Some(cell.num),
        Measure::Proportion | Measure::PerVillage => (cell.den > 0.0).then(|| cell.num / cell.den),
    }
}

/// met / not_met / no_data, or no_target for indicators without one.
pub fn status_of(def: &Indicator, value: Option<f64>) -> &'static str {
    match (value, def.target) {
        (None, _) => "no_data",
        (Some(_), None) => "no_target",
        (Some(v), Some(t)) if t.op.holds(v, t.value) => "met",
        (Some(_), Some(_)) => "not_met",
    }
}

/// The deworming regime of DOMAIN.md §2 for a human prevalence (a fraction): monthly above 1%,
/// slaughter season from 0.1% to 1%, targeted below 0.1%.
pub fn deworming_regime(prevalence: f64) -> &'static str {
    if prevalence > 0.01 {
        "monthly"
    } else if prevalence >= 0.001 {
        "slaughter_season"
    } else {
        "targeted"
    }
}

/// A whole number as a JSON integer, anything else as a float.
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// True when a cell of a personal indicator must be withheld from a reader whose small counts
/// go up to `small_max` (`None`: nothing is hidden from them): a numerator (or a denominator of
/// people) from 1 to that maximum.
pub fn is_small(def: &Indicator, cell: &Cell, small_max: Option<i64>) -> bool {
    let small = |x: f64| hidden_under(small_max, x);
    def.personal && (small(cell.num) || (def.measure == Measure::Proportion && small(cell.den)))
}

/// The indicator's description, as the API lists it.
pub fn describe(def: &Indicator) -> Value {
    json!({
        "indicator": def.key,
        "name_zh": def.name_zh,
        "name_en": def.name_en,
        "numerator_definition": def.numerator,
        "denominator_definition": if def.denominator.is_empty() { Value::Null } else { json!(def.denominator) },
        "measure": def.measure,
        "period_rule": def.period_rule,
        "target": def.target.map(|t| json!({ "op": t.op.as_str(), "value": t.value })),
        "direction": def.direction,
        "personal": def.personal,
    })
}

/// One indicator's numbers for one unit and period as a reader sees them: everything but the
/// indicator's description (the API shows both, [`evaluate`]; the stage shows these per year).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// The proportion, rate or count; `None` without data or when suppressed.
    pub value: Option<f64>,
    /// The value in percent, two decimals, for proportions (`Some(None)` for other measures or
    /// without data); left out (`None`) when the cell is suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<Option<f64>>,
    /// Whole numbers as JSON integers ([`number`]); `null` when suppressed.
    pub numerator: Value,
    /// `null` for counts and when suppressed.
    pub denominator: Value,
    /// met, not_met, no_data, no_target or suppressed ([`status_of`]).
    pub status: &'static str,
    pub suppressed: bool,
    /// Extra counts (cases by type …), rounds of monthly indicators, the regime of a prevalence.
    pub extra: Map<String, Value>,
}

/// One indicator's numbers for one unit and period, for a reader whose small counts go up to
/// `small_max` (`None`: nothing is hidden from them).
pub fn evaluation(def: &Indicator, cell: Option<&Cell>, small_max: Option<i64>) -> Evaluation {
    let empty = Cell::default();
    let cell = cell.unwrap_or(&empty);
    if is_small(def, cell, small_max) {
        return Evaluation {
            value: None,
            percent: None,
            numerator: Value::Null,
            denominator: Value::Null,
            status: "suppressed",
            suppressed: true,
            extra: Map::new(),
        };
    }
    let value = value_of(def, cell);
    let mut extra: Map<String, Value> = cell
        .extra
        .iter()
        // The extra counts of a personal indicator (cases by type) are not checked one by one:
        // a reader from whom anything may be hidden gets none of them.
        .filter(|_| !(small_max.is_some() && def.personal))
        .map(|(k, v)| (k.clone(), number(*v)))
        .collect();
    if def.period_rule == PeriodRule::Monthly && !cell.months.is_empty() {
        let target = def.target.map_or(0.8, |t| t.value);
        let with_data = cell.months.iter().filter(|(_, d)| *d > 0.0).count();
        let rounds = cell
            .months
            .iter()
            .filter(|(n, d)| *d > 0.0 && Op::AtLeast.holds(n / d, target))
            .count();
        extra.insert("months".into(), json!(cell.months.len()));
        extra.insert("months_with_data".into(), json!(with_data));
        extra.insert("rounds".into(), json!(rounds));
    }
    if def.key == "human_prevalence"
        && let Some(v) = value
    {
        extra.insert("regime".into(), json!(deworming_regime(v)));
    }
    Evaluation {
        value,
        percent: Some(match def.measure {
            Measure::Proportion => value.map(|v| (v * 10000.0).round() / 100.0),
            _ => None,
        }),
        numerator: number(cell.num),
        denominator: match def.measure {
            Measure::Count => Value::Null,
            _ => number(cell.den),
        },
        status: status_of(def, value),
        suppressed: false,
        extra,
    }
}

/// One indicator's value for one unit and period, with its description, numbers, target and
/// status, as `/api/indicators` lists it ([`describe`] and [`evaluation`] in one object).
pub fn evaluate(def: &Indicator, cell: Option<&Cell>, small_max: Option<i64>) -> Value {
    let mut out = describe(def);
    if let (Value::Object(map), Ok(Value::Object(numbers))) = (
        &mut out,
        serde_json::to_value(evaluation(def, cell, small_max)),
    ) {
        map.extend(numbers);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_township_value_is_the_ratio_of_sums_and_targets_compare_exactly() {
        let def = defs::find("deworming_coverage").expect("def");
        let cell = Cell {
            num: 4.0,
            den: 5.0,
            ..Cell::default()
        };
        assert_eq!(value_of(def, &cell), Some(0.8));
        assert_eq!(status_of(def, value_of(def, &cell)), "met");
        assert_eq!(status_of(def, value_of(def, &Cell::default())), "no_data");
        let pos = defs::find("dog_faecal_positivity").expect("def");
        assert_eq!(status_of(pos, Some(0.05)), "not_met");
        assert_eq!(status_of(pos, Some(0.0499)), "met");
    }

    #[test]
    fn a_range_is_computed_on_its_months_or_as_one_span() {
        let p = |s: &str| Period::parse(s).expect("period");
        let asked = [p("2022..2026"), p("2026"), p("2025-12..2026-11")];
        let later = NaiveDate::from_ymd_opt(2030, 1, 1).expect("date");
        let (months, of) = query_plan(PeriodRule::Monthly, &asked, later);
        // 2022-01 … 2026-12, each once although three periods hold some of them.
        assert_eq!(months.len(), 60);
        assert_eq!(months[0].key(), "2022-01");
        assert_eq!(months[59].key(), "2026-12");
        assert_eq!(of[0], (0..60).collect::<Vec<_>>());
        assert_eq!(of[1], (48..60).collect::<Vec<_>>());
        assert_eq!(of[2], (47..59).collect::<Vec<_>>());
        // A range of one part and its single period read the same months.
        let (m1, of1) = query_plan(PeriodRule::Monthly, &[p("2024..2024")], later);
        let (m2, of2) = query_plan(PeriodRule::Monthly, &[p("2024")], later);
        assert_eq!((m1, of1), (m2, of2));
        // The months of a running year after today are not yet due: 2026 on 15 November is
        // January to November.
        let today = NaiveDate::from_ymd_opt(2026, 11, 15).expect("date");
        let (months, of) = query_plan(PeriodRule::Monthly, &[p("2026")], today);
        assert_eq!(months.len(), 11);
        assert_eq!(months[10].key(), "2026-11");
        assert_eq!(of[0], (0..11).collect::<Vec<_>>());
        // Other rules run the range as one period: its first day to its last.
        let (spans, of) = query_plan(PeriodRule::Span, &asked, today);
        assert_eq!(spans, asked.to_vec());
        assert_eq!(of, vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn regimes_follow_the_prevalence_thresholds() {
        assert_eq!(deworming_regime(0.0101), "monthly");
        assert_eq!(deworming_regime(0.01), "slaughter_season");
        assert_eq!(deworming_regime(0.001), "slaughter_season");
        assert_eq!(deworming_regime(0.00099), "targeted");
    }

    #[test]
    fn small_counts_of_people_are_withheld() {
        let def = defs::find("new_cases").expect("def");
        let cell = Cell {
            num: 3.0,
            ..Cell::default()
        };
        let v = evaluate(def, Some(&cell), Some(4));
        assert_eq!(v["value"], Value::Null);
        assert_eq!(v["suppressed"], true);
        let v = evaluate(def, Some(&cell), None);
        assert_eq!(v["value"], 3.0);
        // The maximum decides: 3 is shown under a rule of 1–2, 5 hidden under one of 1–6.
        assert_eq!(evaluate(def, Some(&cell), Some(2))["value"], 3.0);
        let five = Cell {
            num: 5.0,
            ..Cell::default()
        };
        assert!(!is_small(def, &five, Some(4)));
        assert!(is_small(def, &five, Some(6)));
    }
}
