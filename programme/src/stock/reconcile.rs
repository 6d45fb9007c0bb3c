//! The praziquantel reconciliation (核销, docs/STOCK.md): per village, township or store and per
//! month, the PZQ handed out (the ledger's `use` rows), the doses the deworming register
//! records, the dogs due, and the stock left, with flags where they cannot all be true: far more
//! issued than recorded (doses not entered, or tablets lost), more recorded than issued and held
//! (a data error), and dosing with no stock at all.
//!
//! Three statements beside this file read the registers once for the whole unit and period
//! (`reconcile_villages.sql` per village × month, `reconcile_stores.sql` per store × month,
//! `reconcile_store_villages.sql` the villages each store handed PZQ to, per month); the
//! rows and the totals are added up from them here, so that a township is the sum of its
//! villages and the totals row the sum of the rows. The dogs are the deworming-coverage
//! indicator's denominator (`indicators/sql/deworming_coverage_raw.sql`), read from the
//! deworming rollup after [`crate::indicators::rollup::refresh`]. The XLSX report form
//! 物资出入库及核销月报 ([`to_xlsx`]) writes the same numbers as the JSON answer ([`Reconciliation::to_json`]).

use std::collections::HashMap;

use chrono::{Months, NaiveDate};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use serde_json::{Value, json};

use super::{StoreRef, store_json};
use crate::error::{Error, Result};
use crate::indicators::{Options, Period, rollup};
use crate::units::{self, Level, Unit};
use crate::workbook;

/// How far, in percent of the doses recorded, the doses issued may exceed them before the month
/// is flagged `issued_above_recorded` (a village doctor keeps some tablets for next month's
/// round, and a round may straddle the month's end).
pub const TOLERANCE_PCT: f64 = 20.0;

/// The smallest excess of doses issued over doses recorded that is flagged
/// `issued_above_recorded`: below it a small village's round, a dog or two away, is no signal.
pub const MIN_DOSES: f64 = 10.0;

const VILLAGES_SQL: &str = include_str!("reconcile_villages.sql");
const STORES_SQL: &str = include_str!("reconcile_stores.sql");
const STORE_VILLAGES_SQL: &str = include_str!("reconcile_store_villages.sql");

/// The months before the period whose surplus of doses issued over doses recorded is carried
/// into it (floored at 0): tablets of a bulk hand-out kept by the village doctors.
pub const CARRY_MONTHS: u32 = 3;

/// The rows of the reconciliation: one per village, township or store inside the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Village,
    Township,
    Store,
}

impl By {
    pub const ALL: [By; 3] = [By::Village, By::Township, By::Store];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Village => "village",
            Self::Township => "township",
            Self::Store => "store",
        }
    }

    /// The rows a unit gets when `by` is not given: its townships for a county, its villages
    /// otherwise.
    pub fn default_for(unit: &Unit) -> Self {
        match unit.level() {
            Level::County => Self::Township,
            _ => Self::Village,
        }
    }
}

/// What a month of a unit shows that cannot all be true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// Doses issued in the month above the doses recorded in it by more than [`TOLERANCE_PCT`]
    /// and at least [`MIN_DOSES`]: doses not entered, or tablets lost.
    IssuedAboveRecorded,
    /// More doses recorded from the period's first month to this one than issued over the same
    /// months, plus the doses in the unit's stores at the period's start, plus the carry-in
    /// (issued − recorded over the [`CARRY_MONTHS`] before the period, floored at 0):
    /// impossible, a data error.
    RecordedAboveIssued,
    /// Doses recorded, none issued in the month, no surplus carried to the month's start
    /// (carry-in + issued − recorded over the period's earlier months ≤ 0), and no stock in the
    /// unit's stores at the month's start.
    DosingWithoutStock,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IssuedAboveRecorded => "issued_above_recorded",
            Self::RecordedAboveIssued => "recorded_above_issued",
            Self::DosingWithoutStock => "dosing_without_stock",
        }
    }

    /// As the report form says it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::IssuedAboveRecorded => "发放多于记录",
            Self::RecordedAboveIssued => "记录多于发放",
            Self::DosingWithoutStock => "无库存却有驱虫记录",
        }
    }
}

/// The numbers of one unit (or store) and month.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Numbers {
    /// PZQ base units (tablets) handed to villages: minus the sum of the `use` rows.
    pub issued_units: i64,
    /// The same in doses: each row's units over its item's `units_per_dose` (1 when unset).
    pub issued_doses: f64,
    /// Praziquantel dewormings in the register (not deleted) dosed in the month.
    pub recorded_doses: i64,
    /// `recorded_doses` × the configured units per dose ([`Factor`]).
    pub recorded_units: f64,
    /// Live registered dogs: the deworming-coverage indicator's denominator. One dose each is
    /// expected (`expected_doses` in the answer).
    pub dogs: i64,
    /// PZQ on hand in the unit's stores at the month's end (base units).
    pub stock_left_units: i64,
    /// PZQ on hand in the unit's stores at the month's start, in units and in doses.
    pub stock_start_units: i64,
    pub stock_start_doses: f64,
    pub flags: Vec<Flag>,
}

/// Two decimals: doses of items with a fractional `units_per_dose` are shown and compared so.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Numbers {
    /// Rounds the doses (the flags are set on the whole series, [`set_flags`]).
    fn finish(mut self, factor: f64) -> Self {
        self.issued_doses = round2(self.issued_doses);
        self.stock_start_doses = round2(self.stock_start_doses);
        self.recorded_units = round2(self.recorded_doses as f64 * factor);
        self
    }

    fn json(&self) -> Value {
        json!({
            "issued_units": self.issued_units,
            "issued_doses": self.issued_doses,
            "recorded_doses": self.recorded_doses,
            "recorded_units": self.recorded_units,
            "dogs": self.dogs,
            "expected_doses": self.dogs,
            "stock_left_units": self.stock_left_units,
            "stock_start_units": self.stock_start_units,
            "flags": self.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        })
    }
}

/// Sets the flags of a subject's months (rounded numbers): `series` holds the `pre` months
/// before the period ([`CARRY_MONTHS`], for the carry-in) and then the period's months, whose
/// flags are set.
fn set_flags(series: &mut [Numbers], pre: usize) {
    let pre = pre.min(series.len());
    let carry = round2(
        series[..pre]
            .iter()
            .map(|m| m.issued_doses - m.recorded_doses as f64)
            .sum::<f64>(),
    )
    .max(0.0);
    let held = series.get(pre).map_or(0.0, |m| m.stock_start_doses);
    let (mut issued, mut recorded) = (0.0, 0.0);
    for n in &mut series[pre..] {
        let month_recorded = n.recorded_doses as f64;
        let surplus = round2(carry + issued - recorded);
        issued += n.issued_doses;
        recorded += month_recorded;
        let mut out = Vec::new();
        if n.issued_doses > month_recorded * (1.0 + TOLERANCE_PCT / 100.0)
            && n.issued_doses - month_recorded >= MIN_DOSES
        {
            out.push(Flag::IssuedAboveRecorded);
        }
        if round2(recorded) > round2(issued + held + carry) {
            out.push(Flag::RecordedAboveIssued);
        }
        if n.recorded_doses > 0
            && n.issued_doses == 0.0
            && surplus <= 0.0
            && n.stock_start_units == 0
        {
            out.push(Flag::DosingWithoutStock);
        }
        n.flags = out;
    }
}

/// The units one dose of the register takes: `units_per_dose` of the active praziquantel item
/// counted in tablets (unit `片`) with the smallest id; 1 without one.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// (id, code, name) of the item the factor is read from.
    pub item: Option<(i64, String, String)>,
    pub units_per_dose: f64,
}

/// What a row is about.
#[derive(Debug, Clone)]
pub enum Subject {
    Unit(Unit),
    Store(StoreRef),
}

impl Subject {
    fn code(&self) -> &str {
        match self {
            Self::Unit(u) => u.code.as_str(),
            Self::Store(s) => &s.code,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Unit(u) => &u.name,
            Self::Store(s) => &s.name,
        }
    }

    fn json(&self) -> (&'static str, Value) {
        match self {
            Self::Unit(u) => ("unit", json!(u)),
            Self::Store(s) => ("store", store_json(s)),
        }
    }
}

/// One row: a subject and a month.
#[derive(Debug, Clone)]
pub struct Row {
    pub subject: Subject,
    pub month: Period,
    pub numbers: Numbers,
}

impl Row {
    fn json(&self) -> Value {
        let mut v = self.numbers.json();
        let (key, subject) = self.subject.json();
        v[key] = subject;
        v["month"] = json!(self.month.key());
        v
    }
}

/// The reconciliation of a unit over a period.
#[derive(Debug, Clone)]
pub struct Reconciliation {
    pub unit: Unit,
    pub period: Period,
    pub by: By,
    pub factor: Factor,
    /// Subject by subject, each month in order.
    pub rows: Vec<Row>,
    /// The unit itself, month by month (the totals rows of the form).
    pub totals_by_month: Vec<Row>,
}

impl Reconciliation {
    /// The whole period for the unit: the sums of the months, and for the dogs and the stock
    /// left the last month's.
    pub fn totals(&self) -> Value {
        let mut t = Numbers::default();
        let mut expected = 0;
        for r in &self.totals_by_month {
            t.issued_units += r.numbers.issued_units;
            t.issued_doses += r.numbers.issued_doses;
            t.recorded_doses += r.numbers.recorded_doses;
            expected += r.numbers.dogs;
        }
        let last = self.totals_by_month.last().map(|r| &r.numbers);
        json!({
            "issued_units": t.issued_units,
            "issued_doses": round2(t.issued_doses),
            "recorded_doses": t.recorded_doses,
            "recorded_units": round2(t.recorded_doses as f64 * self.factor.units_per_dose),
            "dogs": last.map_or(0, |n| n.dogs),
            "expected_doses": expected,
            "stock_left_units": last.map_or(0, |n| n.stock_left_units),
            "rows_flagged": self.rows.iter().filter(|r| !r.numbers.flags.is_empty()).count(),
        })
    }

    pub fn settings(&self) -> Value {
        json!({
            "tolerance_pct": TOLERANCE_PCT,
            "min_doses": MIN_DOSES,
            "min_units": round2(MIN_DOSES * self.factor.units_per_dose),
            "units_per_dose": self.factor.units_per_dose,
            "factor_item": self.factor.item.as_ref().map(|(id, code, name)| {
                json!({ "id": id, "code": code, "name": name })
            }),
        })
    }

    /// The API's answer (docs/STOCK.md, 核销).
    pub fn to_json(&self) -> Value {
        json!({
            "unit": self.unit,
            "period": self.period.key(),
            "by": self.by.as_str(),
            "months": self.period.months().iter().map(Period::key).collect::<Vec<_>>(),
            "rows": self.rows.iter().map(Row::json).collect::<Vec<_>>(),
            "totals_by_month": self.totals_by_month.iter().map(Row::json).collect::<Vec<_>>(),
            "totals": self.totals(),
            "settings": self.settings(),
        })
    }
}

/// Per village × month, from `reconcile_villages.sql`.
#[derive(Debug, Clone, Copy, Default)]
struct VillageCell {
    issued_units: i64,
    issued_doses: f64,
    recorded: i64,
    dogs: i64,
}

/// Per store × month, from `reconcile_stores.sql`.
#[derive(Debug, Clone, Copy, Default)]
struct StoreCell {
    left_units: i64,
    start_units: i64,
    start_doses: f64,
    used_units: i64,
    used_doses: f64,
}

async fn factor(pool: &sqlx::PgPool) -> Result<Factor> {
    let row: Option<(i64, String, String, Option<f64>)> = sqlx::query_as(
        "SELECT id, code, name, units_per_dose::float8 FROM stock_items
         WHERE kind = 'praziquantel' AND active AND unit = '片' AND deleted_at IS NULL
         ORDER BY id LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some((id, code, name, per)) => Factor {
            item: Some((id, code, name)),
            units_per_dose: per.unwrap_or(1.0),
        },
        None => Factor {
            item: None,
            units_per_dose: 1.0,
        },
    })
}

/// The reconciliation of `unit` (a county, township or village) over the months of `period`,
/// one row per village, township or store inside it (`by`; [`By::default_for`] when `None`).
/// The caller has checked that `unit` lies inside the jurisdiction.
pub async fn reconcile(
    pool: &sqlx::PgPool,
    unit: &Unit,
    period: Period,
    by: Option<By>,
    opts: &Options,
) -> Result<Reconciliation> {
    let by = by.unwrap_or_else(|| By::default_for(unit));
    if by == By::Township && unit.level() == Level::Village {
        return Err(Error::invalid_param(
            "by",
            format!(
                "{} is a village: its rows are by=village or by=store",
                unit.code
            ),
        ));
    }
    let months = period.months();
    // The dogs come from the deworming rollup: bring the months already begun up to date.
    let due: Vec<Period> = months
        .iter()
        .filter(|m| m.start() <= opts.as_of)
        .copied()
        .collect();
    if !due.is_empty() {
        rollup::refresh(pool, &due, opts).await?;
    }
    // The period's months, after the CARRY_MONTHS before it (read for the carry-in only).
    let pre = CARRY_MONTHS as usize;
    let first = months.first().map_or(opts.as_of, Period::start);
    let mut starts: Vec<NaiveDate> = (1..=CARRY_MONTHS)
        .rev()
        .filter_map(|k| first.checked_sub_months(Months::new(k)))
        .collect();
    let mut ends: Vec<NaiveDate> = starts
        .iter()
        .filter_map(|s| s.checked_add_months(Months::new(1))?.pred_opt())
        .collect();
    if starts.len() != pre || ends.len() != pre {
        return Err(Error::invalid_param(
            "period",
            "out of the calendar's range",
        ));
    }
    starts.extend(months.iter().map(Period::start));
    ends.extend(months.iter().map(Period::end));
    let prefix = unit.code.as_str();
    let village_rows: Vec<(String, i32, i64, f64, i64, i64)> = sqlx::query_as(VILLAGES_SQL)
        .bind(prefix)
        .bind(&starts)
        .bind(&ends)
        .fetch_all(pool)
        .await?;
    let store_rows: Vec<(i64, i32, i64, i64, f64, i64, f64)> = sqlx::query_as(STORES_SQL)
        .bind(prefix)
        .bind(&starts)
        .bind(&ends)
        .fetch_all(pool)
        .await?;
    let store_village_rows: Vec<(i64, i32, i64, i64)> = sqlx::query_as(STORE_VILLAGES_SQL)
        .bind(prefix)
        .bind(&starts)
        .bind(&ends)
        .fetch_all(pool)
        .await?;
    let stores: Vec<StoreRef> = sqlx::query_as(
        "SELECT id, code, name, kind::text AS kind, place_code, active FROM stock_stores
         WHERE place_code LIKE $1 || '%' ORDER BY place_code, code",
    )
    .bind(prefix)
    .fetch_all(pool)
    .await?;
    let factor = factor(pool).await?;

    // Indexes into the months read: the CARRY_MONTHS first, then the period's.
    let n = starts.len();
    let index = |i: i32| usize::try_from(i - 1).ok().filter(|&i| i < n);
    let villages: Vec<(String, usize, VillageCell)> = village_rows
        .into_iter()
        .filter_map(|(code, i, issued_units, issued_doses, recorded, dogs)| {
            Some((
                code,
                index(i)?,
                VillageCell {
                    issued_units,
                    issued_doses,
                    recorded,
                    dogs,
                },
            ))
        })
        .collect();
    let place_of: HashMap<i64, &str> = stores
        .iter()
        .map(|s| (s.id, s.place_code.as_str()))
        .collect();
    let store_cells: Vec<(i64, usize, StoreCell)> = store_rows
        .into_iter()
        .filter_map(
            |(id, i, left_units, start_units, start_doses, used_units, used_doses)| {
                Some((
                    id,
                    index(i)?,
                    StoreCell {
                        left_units,
                        start_units,
                        start_doses,
                        used_units,
                        used_doses,
                    },
                ))
            },
        )
        .collect();
    // Per store × month: the doses recorded and the dogs due in the villages it handed PZQ to.
    let store_villages: Vec<(i64, usize, i64, i64)> = store_village_rows
        .into_iter()
        .filter_map(|(id, i, recorded, dogs)| Some((id, index(i)?, recorded, dogs)))
        .collect();

    // The numbers, month by month (the CARRY_MONTHS first), of the villages under
    // `villages_prefix` and the stores `in_store` (a unit row); or of one store, `issued_by`:
    // its own `use` rows, its stock, and the villages it handed PZQ to in each month.
    let gather = |villages_prefix: &str,
                  in_store: &dyn Fn(i64) -> bool,
                  issued_by: Option<i64>|
     -> Vec<Numbers> {
        let mut out = vec![Numbers::default(); n];
        match issued_by {
            None => {
                for (code, i, c) in &villages {
                    if code.starts_with(villages_prefix) {
                        let m = &mut out[*i];
                        m.issued_units += c.issued_units;
                        m.issued_doses += c.issued_doses;
                        m.recorded_doses += c.recorded;
                        m.dogs += c.dogs;
                    }
                }
            }
            Some(store) => {
                for (id, i, recorded, dogs) in &store_villages {
                    if *id == store {
                        out[*i].recorded_doses += recorded;
                        out[*i].dogs += dogs;
                    }
                }
            }
        }
        for (id, i, c) in &store_cells {
            if in_store(*id) {
                let m = &mut out[*i];
                m.stock_left_units += c.left_units;
                m.stock_start_units += c.start_units;
                m.stock_start_doses += c.start_doses;
                if issued_by == Some(*id) {
                    m.issued_units += c.used_units;
                    m.issued_doses += c.used_doses;
                }
            }
        }
        let mut out: Vec<Numbers> = out
            .into_iter()
            .map(|m| m.finish(factor.units_per_dose))
            .collect();
        set_flags(&mut out, pre);
        out.split_off(pre.min(out.len()))
    };
    let for_place = |code: &str| -> Vec<Numbers> {
        gather(
            code,
            &|id| place_of.get(&id).is_some_and(|p| p.starts_with(code)),
            None,
        )
    };

    let subjects: Vec<Subject> = match by {
        By::Store => stores.iter().cloned().map(Subject::Store).collect(),
        By::Village => units::within(pool, &unit.code, Level::Village)
            .await?
            .into_iter()
            .map(Subject::Unit)
            .collect(),
        By::Township => units::within(pool, &unit.code, Level::Township)
            .await?
            .into_iter()
            .map(Subject::Unit)
            .collect(),
    };
    let mut rows = Vec::with_capacity(subjects.len() * n);
    for subject in subjects {
        let numbers = match &subject {
            Subject::Unit(u) => for_place(u.code.as_str()),
            Subject::Store(s) => gather(&s.place_code, &|id| id == s.id, Some(s.id)),
        };
        for (month, numbers) in months.iter().zip(numbers) {
            rows.push(Row {
                subject: subject.clone(),
                month: *month,
                numbers,
            });
        }
    }
    let totals_by_month = months
        .iter()
        .zip(for_place(prefix))
        .map(|(month, numbers)| Row {
            subject: Subject::Unit(unit.clone()),
            month: *month,
            numbers,
        })
        .collect();
    Ok(Reconciliation {
        unit: unit.clone(),
        period,
        by,
        factor,
        rows,
        totals_by_month,
    })
}

/// The headers of the form's number columns, in the order of [`form_numbers`].
pub const FORM_HEADERS: [&str; 8] = [
    "发放数量(片)",
    "发放折合剂数(剂)",
    "登记驱虫剂数(剂)",
    "登记折合片数(片)",
    "登记存活犬数(只)",
    "应驱虫剂数(剂)",
    "月末库存(片)",
    "核销提示",
];

/// A row's numbers in the form's columns (the flags as the last, text, column).
fn form_numbers(n: &Numbers) -> [f64; 7] {
    [
        n.issued_units as f64,
        n.issued_doses,
        n.recorded_doses as f64,
        n.recorded_units,
        n.dogs as f64,
        n.dogs as f64,
        n.stock_left_units as f64,
    ]
}

fn flags_zh(n: &Numbers) -> String {
    n.flags
        .iter()
        .map(|f| f.label_zh())
        .collect::<Vec<_>>()
        .join("；")
}

/// The report form 物资出入库及核销月报: title rows, one row per subject × month, then the
/// unit's totals row of each month, compiled-by and date, and a note with the flags' rules.
pub fn to_xlsx(
    r: &Reconciliation,
    compiled_by: &str,
    compiled_on: NaiveDate,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("报表")?;
    let ncols = (FORM_HEADERS.len() + 4) as u16; // 序号, 单位名称, 代码, 月份, then the columns
    let last = ncols - 1;
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let plain = Format::new();
    let right = Format::new().set_align(FormatAlign::Right);
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let int = Format::new()
        .set_border(FormatBorder::Thin)
        .set_num_format("0");
    let dec = Format::new()
        .set_border(FormatBorder::Thin)
        .set_num_format("0.##");
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin);
    workbook::merge_text(
        ws,
        (0, 0),
        (0, last),
        &format!("{}物资出入库及核销月报", r.unit.name),
        &title,
    )?;
    workbook::write_text(ws, 1, 0, &format!("填报单位：{}", r.unit.name), &plain)?;
    ws.merge_range(
        1,
        last - 3,
        1,
        last,
        &format!("报告期：{}", r.period.label_zh()),
        &right,
    )?;
    ws.merge_range(2, last - 3, 2, last, "单位：片、剂、只", &right)?;
    let header_row = 3;
    ws.set_row_height(header_row, 36)?;
    for (i, h) in ["序号", "单位名称", "代码", "月份"]
        .iter()
        .chain(&FORM_HEADERS)
        .enumerate()
    {
        ws.write_string_with_format(header_row, i as u16, *h, &head)?;
    }
    ws.set_column_width(0, 6)?;
    ws.set_column_width(1, 22)?;
    ws.set_column_width(2, 14)?;
    ws.set_column_width(3, 9)?;
    for c in 4..last {
        ws.set_column_width(c, 11)?;
    }
    ws.set_column_width(last, 30)?;
    let numbers =
        |ws: &mut rust_xlsxwriter::Worksheet, row: u32, n: &Numbers| -> Result<(), XlsxError> {
            for (j, x) in form_numbers(n).iter().enumerate() {
                // Doses may be fractional (an item of 1.5 tablets a dose); the rest are whole.
                let f = if matches!(j, 1 | 3) { &dec } else { &int };
                ws.write_number_with_format(row, (j + 4) as u16, *x, f)?;
            }
            workbook::write_text(ws, row, last, &flags_zh(n), &cell)
        };
    let mut row = header_row + 1;
    for (i, rr) in r.rows.iter().enumerate() {
        ws.write_number_with_format(row, 0, (i + 1) as f64, &int)?;
        workbook::write_text(ws, row, 1, rr.subject.name(), &cell)?;
        workbook::write_text(ws, row, 2, rr.subject.code(), &cell)?;
        ws.write_string_with_format(row, 3, rr.month.key(), &cell)?;
        numbers(ws, row, &rr.numbers)?;
        row += 1;
    }
    for t in &r.totals_by_month {
        ws.write_string_with_format(row, 0, "合计", &bold)?;
        workbook::write_text(ws, row, 1, t.subject.name(), &bold)?;
        workbook::write_text(ws, row, 2, t.subject.code(), &bold)?;
        ws.write_string_with_format(row, 3, t.month.key(), &bold)?;
        numbers(ws, row, &t.numbers)?;
        row += 1;
    }
    let notes = row + 1;
    workbook::write_text(ws, notes, 0, &format!("填表人：{compiled_by}"), &plain)?;
    ws.write_string(notes, 4, "审核人：")?;
    ws.write_string(
        notes,
        7,
        format!("填报日期：{}", compiled_on.format("%Y年%m月%d日")),
    )?;
    let per = match &r.factor.item {
        Some((_, code, name)) => format!(
            "每剂按{}片计（品目 {name} {code}）",
            r.factor.units_per_dose
        ),
        None => "每剂按1片计（未设置吡喹酮片剂品目）".to_owned(),
    };
    workbook::write_text(
        ws,
        notes + 1,
        0,
        &format!(
            "说明：发放为发放到村的吡喹酮（出库用途为发放）；登记为犬驱虫登记中的吡喹酮驱虫次数，{per}；\
             应驱虫剂数为月内存活登记犬数（每犬每月一剂）；月末库存为单位内各库点的吡喹酮结存；\
             库点行的登记剂数与犬数只计该库点当月发放到的村。"
        ),
        &plain,
    )?;
    workbook::write_text(
        ws,
        notes + 2,
        0,
        &format!(
            "核销提示：发放多于记录 = 当月发放剂数超过登记剂数的{}%且至少多{}剂；记录多于发放 = \
             自报告期首月至当月累计登记剂数多于累计发放剂数、报告期初库存剂数与结转剂数（报告期前{}个月\
             发放减登记，不小于0）之和；无库存却有驱虫记录 = 当月有驱虫登记、无发放、月初无结余\
             （结转加此前累计发放减累计登记不大于0）且月初无库存。",
            TOLERANCE_PCT, MIN_DOSES, CARRY_MONTHS
        ),
        &plain,
    )?;
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A month of `issued` doses (2 tablets each), `recorded` doses and the stock at its start.
    fn month(issued: f64, recorded: i64, start_units: i64, start_doses: f64) -> Numbers {
        Numbers {
            issued_units: (issued * 2.0) as i64,
            issued_doses: issued,
            recorded_doses: recorded,
            stock_start_units: start_units,
            stock_start_doses: start_doses,
            ..Numbers::default()
        }
        .finish(2.0)
    }

    /// The flags of the months after `pre` months before the period.
    fn flags_of(mut series: Vec<Numbers>, pre: usize) -> Vec<Vec<Flag>> {
        set_flags(&mut series, pre);
        series[pre..].iter().map(|n| n.flags.clone()).collect()
    }

    #[test]
    fn issued_above_recorded_needs_both_the_tolerance_and_the_minimum() {
        // 20 % above 50 is 60: 61 is flagged (11 more), 60 is not.
        let one = |issued, recorded| flags_of(vec![month(issued, recorded, 0, 0.0)], 0);
        assert_eq!(one(61.0, 50), [vec![Flag::IssuedAboveRecorded]]);
        assert_eq!(one(60.0, 50), [vec![]]);
        // Far above in percent, but fewer than 10 doses more.
        assert_eq!(one(9.0, 0), [vec![]]);
        assert_eq!(one(10.0, 0), [vec![Flag::IssuedAboveRecorded]]);
    }

    #[test]
    fn recorded_above_issued_runs_over_the_period_with_the_stock_at_its_start() {
        // 3 doses held at the period's start: 5 + 3 ≥ 8, not 9.
        assert_eq!(flags_of(vec![month(5.0, 8, 6, 3.0)], 0), [vec![]]);
        assert_eq!(
            flags_of(vec![month(5.0, 9, 6, 3.0)], 0),
            [vec![Flag::RecordedAboveIssued]]
        );
        assert_eq!(
            flags_of(vec![month(0.0, 1, 0, 0.0)], 0),
            [vec![Flag::RecordedAboveIssued, Flag::DosingWithoutStock]]
        );
        // Stock at the start: dosing from it is not "without stock".
        assert_eq!(flags_of(vec![month(0.0, 1, 2, 1.0)], 0), [vec![]]);
    }

    #[test]
    fn a_bulk_hand_out_covers_the_following_months_until_it_is_used_up() {
        // 30 doses handed out in the first month, 10 recorded a month, then 5 more.
        let series = vec![
            month(30.0, 10, 0, 0.0),
            month(0.0, 10, 0, 0.0),
            month(0.0, 10, 0, 0.0),
            month(0.0, 5, 0, 0.0),
        ];
        assert_eq!(
            flags_of(series, 0),
            [
                vec![Flag::IssuedAboveRecorded],
                vec![],
                vec![],
                vec![Flag::RecordedAboveIssued, Flag::DosingWithoutStock],
            ]
        );
    }

    #[test]
    fn the_carry_in_is_the_surplus_of_the_months_before_floored_at_zero() {
        // 12 doses kept from before the period: 12 recorded without an issue are covered.
        let before = vec![
            month(0.0, 0, 0, 0.0),
            month(20.0, 5, 0, 0.0),
            month(0.0, 3, 0, 0.0),
        ];
        let mut covered = before.clone();
        covered.push(month(0.0, 12, 0, 0.0));
        assert_eq!(flags_of(covered, 3), [vec![]]);
        let mut over = before;
        over.push(month(0.0, 13, 0, 0.0));
        assert_eq!(flags_of(over, 3), [vec![Flag::RecordedAboveIssued]]);
        // A deficit before the period is not carried.
        let deficit = vec![month(0.0, 50, 0, 0.0), month(5.0, 5, 0, 0.0)];
        assert_eq!(flags_of(deficit, 1), [vec![]]);
    }

    #[test]
    fn recorded_units_use_the_factor() {
        assert_eq!(month(0.0, 3, 10, 5.0).recorded_units, 6.0);
    }
}
