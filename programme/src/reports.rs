//! Report forms laid out as Chinese county report forms (title, reporting unit, period, units in
//! the header, a totals row, compiled-by and date) and written as XLSX: the monthly deworming
//! report, the quarterly slaughter-inspection report and the annual case report.
//!
//! Every number comes from the indicator engine with the same definitions as
//! `/api/indicators`: a row is a unit one level below the reporting unit, the totals row is the
//! reporting unit itself (a ratio of sums, so it equals the API's value for that unit).

use chrono::NaiveDate;
use echinomap_domain::privacy::{Audience, Suppression};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use crate::indicators::{self, Cell, Cells, Grouping, Options, Period, PeriodKind};
use crate::units::{self, Level, Unit};
use crate::workbook;

/// A report form: its key, name and the kind of period it covers.
#[derive(Debug, Clone, Copy)]
pub struct Form {
    pub key: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub period: PeriodKind,
    pub example: &'static str,
}

pub const FORMS: [Form; 3] = [
    Form {
        key: "deworming_monthly",
        name_zh: "犬只驱虫月报表",
        name_en: "monthly deworming report",
        period: PeriodKind::Month,
        example: "2024-06",
    },
    Form {
        key: "slaughter_quarterly",
        name_zh: "屠宰检疫季报表",
        name_en: "quarterly slaughter-inspection report",
        period: PeriodKind::Quarter,
        example: "2024Q2",
    },
    Form {
        key: "cases_annual",
        name_zh: "包虫病病例年报表",
        name_en: "annual case report",
        period: PeriodKind::Year,
        example: "2024",
    },
];

pub fn find(key: &str) -> Option<&'static Form> {
    FORMS.iter().find(|f| f.key == key)
}

/// One cell of a form.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Int(f64),
    /// A rate shown as a percentage with two decimals (the value is the fraction).
    Percent(Option<f64>),
    /// A small count withheld from this reader.
    Suppressed,
}

/// A form filled in, ready to be written.
#[derive(Debug, Clone)]
pub struct Filled {
    pub title: String,
    pub reporting_unit: String,
    pub period_label: String,
    pub units_note: &'static str,
    pub headers: Vec<&'static str>,
    /// (unit code, unit name, cells after the name)
    pub rows: Vec<(String, String, Vec<Value>)>,
    pub total: Vec<Value>,
    /// The account's display name (its username when it has none).
    pub compiled_by: String,
    pub compiled_on: NaiveDate,
    /// The range of counts shown as `*`, for the form's note (`1–4`).
    pub small_label: String,
    /// The smallest count shown as a number, for the form's note (“小于5的数”): the small-count
    /// maximum the note states plus one.
    pub small_below: Option<i64>,
}

/// Who a form is filled in for: their account (compiled by) and the small-count rule they read.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// The account's username: the form names the account's display name, this when it has
    /// none.
    pub name: &'a str,
    pub audience: Audience,
    pub suppression: Suppression,
}

impl Reader<'_> {
    /// The largest count shown as `*` to this reader; `None` when nothing is hidden.
    fn small_max(&self) -> Option<i64> {
        self.suppression.max_for(self.audience)
    }

    /// The note's range: the reader's, or for a reader from whom nothing is hidden the
    /// organisation's (the note states the rule the form follows for everyone else).
    fn small_label(&self) -> String {
        self.suppression
            .label(self.audience)
            .or_else(|| self.suppression.label(Audience::Inside))
            .unwrap_or_default()
    }

    /// The note's bound: one more than the largest count of [`Self::small_label`].
    fn small_below(&self) -> Option<i64> {
        self.suppression
            .max_for(self.audience)
            .or_else(|| self.suppression.max_for(Audience::Inside))
            .map(|max| max + 1)
    }
}

/// The name a form gives as 填表人: the account's display name, its username without one.
pub async fn compiled_by(pool: &sqlx::PgPool, username: &str) -> Result<String, sqlx::Error> {
    let display: Option<Option<String>> =
        sqlx::query_scalar("SELECT display_name FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await?;
    Ok(display
        .flatten()
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| username.to_owned()))
}

/// One column: a header and how a unit's numbers give its cell.
struct Column {
    header: &'static str,
    indicator: &'static str,
    what: What,
}

#[derive(Clone, Copy)]
enum What {
    Num,
    Den,
    Rate,
    Extra(&'static str),
}

fn columns(form: &Form) -> Vec<Column> {
    let c = |header, indicator, what| Column {
        header,
        indicator,
        what,
    };
    match form.key {
        "deworming_monthly" => vec![
            c("应驱虫犬数(只)", "deworming_coverage", What::Den),
            c("实驱虫犬数(只)", "deworming_coverage", What::Num),
            c("驱虫覆盖率(%)", "deworming_coverage", What::Rate),
            c("登记犬数(只)", "dog_registration", What::Num),
            c("估计犬数(只)", "dog_registration", What::Den),
            c("登记管理率(%)", "dog_registration", What::Rate),
        ],
        "slaughter_quarterly" => vec![
            c(
                "屠宰检疫数(头/只)",
                "offal_disposal",
                What::Extra("slaughtered"),
            ),
            c("检出病害数(头/只)", "offal_disposal", What::Den),
            c("无害化处理数(头/只)", "offal_disposal", What::Num),
            c("无害化处理率(%)", "offal_disposal", What::Rate),
            c("2岁以下检疫数(头/只)", "livestock_infection", What::Den),
            c("2岁以下检出数(头/只)", "livestock_infection", What::Num),
            c("2岁以下患病率(%)", "livestock_infection", What::Rate),
        ],
        _ => vec![
            c("新发病例(例)", "new_cases", What::Num),
            c("其中囊型(例)", "new_cases", What::Extra("CE")),
            c("其中泡型(例)", "new_cases", What::Extra("AE")),
            c("新发儿童病例(例)", "new_child_cases", What::Num),
            c("B超筛查人数(人)", "human_prevalence", What::Den),
            c("阳性人数(人)", "human_prevalence", What::Num),
            c("人群患病率(%)", "human_prevalence", What::Rate),
            c("应管理病例(例)", "patients_managed", What::Den),
            c("规范管理病例(例)", "patients_managed", What::Num),
            c("规范管理率(%)", "patients_managed", What::Rate),
            c(
                "随访逾期病例(例)",
                "patients_managed",
                What::Extra("overdue"),
            ),
        ],
    }
}

fn cell_value(
    def: &indicators::Indicator,
    cell: &Cell,
    what: What,
    small_max: Option<i64>,
) -> Value {
    if indicators::is_small(def, cell, small_max) {
        return Value::Suppressed;
    }
    match what {
        What::Num => Value::Int(cell.num),
        What::Den => Value::Int(cell.den),
        What::Rate => Value::Percent(indicators::value_of(def, cell)),
        What::Extra(k) => {
            let x = cell.extra.get(k).copied().unwrap_or(0.0);
            if def.personal && echinomap_domain::privacy::hidden_under(small_max, x) {
                Value::Suppressed
            } else {
                Value::Int(x)
            }
        }
    }
}

/// Fills `form` for `unit` and `period`: one row per unit a level below (the townships of a
/// county, the villages of a township or the village itself), for `reader`.
pub async fn fill(
    pool: &sqlx::PgPool,
    form: &Form,
    unit: &Unit,
    period: Period,
    opts: &Options,
    reader: &Reader<'_>,
) -> Result<Filled, sqlx::Error> {
    let small_max = reader.small_max();
    let cols = columns(form);
    let (code, name) = (unit.code.as_str(), unit.name.as_str());
    let row_level = match unit.level() {
        Level::County => Level::Township,
        _ => Level::Village,
    };
    let rows = units::within(pool, &unit.code, row_level).await?;
    let row_level = row_level.digits();
    let mut by_indicator: std::collections::HashMap<&str, Cells> = Default::default();
    for col in &cols {
        if by_indicator.contains_key(col.indicator) {
            continue;
        }
        let Some(def) = indicators::defs::find(col.indicator) else {
            continue;
        };
        let grouping = Grouping::Levels(vec![code.len(), row_level]);
        let cells = indicators::compute(pool, def, &unit.code, &[period], &grouping, opts).await?;
        by_indicator.insert(col.indicator, cells);
    }
    let empty = Cell::default();
    let line = |unit_code: &str| -> Vec<Value> {
        cols.iter()
            .map(|col| {
                let def = indicators::defs::find(col.indicator);
                let cell = by_indicator
                    .get(col.indicator)
                    .and_then(|c| c.get(unit_code))
                    .and_then(|c| c.first())
                    .unwrap_or(&empty);
                def.map_or(Value::Text(String::new()), |d| {
                    cell_value(d, cell, col.what, small_max)
                })
            })
            .collect()
    };
    Ok(Filled {
        title: format!("{name}{}", form.name_zh),
        reporting_unit: name.to_owned(),
        period_label: period.label_zh(),
        units_note: match form.key {
            "cases_annual" => "单位：例、人、%",
            "slaughter_quarterly" => "单位：头（只）、%",
            _ => "单位：只、%",
        },
        headers: cols.iter().map(|c| c.header).collect(),
        rows: rows
            .iter()
            .map(|u| {
                let c = u.code.as_str();
                (c.to_owned(), u.name.clone(), line(c))
            })
            .collect(),
        total: line(code),
        compiled_by: compiled_by(pool, reader.name).await?,
        compiled_on: opts.as_of,
        small_label: reader.small_label(),
        small_below: reader.small_below(),
    })
}

/// The form as an XLSX workbook.
pub fn to_xlsx(f: &Filled) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("报表")?;
    let ncols = (f.headers.len() + 3) as u16; // 序号, 单位名称, 代码, then the columns
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
    let pct = Format::new()
        .set_border(FormatBorder::Thin)
        .set_num_format("0.00");
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin);
    // Every text that holds a name goes through `workbook`: a formula-like one gets the quote
    // prefix (formula injection).
    workbook::merge_text(ws, (0, 0), (0, last), &f.title, &title)?;
    workbook::write_text(ws, 1, 0, &format!("填报单位：{}", f.reporting_unit), &plain)?;
    ws.merge_range(
        1,
        last - 2,
        1,
        last,
        &format!("报告期：{}", f.period_label),
        &right,
    )?;
    ws.merge_range(2, last - 2, 2, last, f.units_note, &right)?;
    let header_row = 3;
    ws.set_row_height(header_row, 36)?;
    for (i, h) in ["序号", "单位名称", "代码"]
        .iter()
        .chain(&f.headers)
        .enumerate()
    {
        ws.write_string_with_format(header_row, i as u16, *h, &head)?;
    }
    ws.set_column_width(0, 6)?;
    ws.set_column_width(1, 22)?;
    ws.set_column_width(2, 14)?;
    for c in 3..ncols {
        ws.set_column_width(c, 13)?;
    }
    let write = |ws: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, v: &Value| match v {
        Value::Text(s) => workbook::write_text(ws, r, c, s, &cell),
        Value::Int(x) => ws.write_number_with_format(r, c, *x, &int).map(|_| ()),
        Value::Percent(Some(x)) => ws
            .write_number_with_format(r, c, (x * 10000.0).round() / 100.0, &pct)
            .map(|_| ()),
        Value::Percent(None) => ws.write_string_with_format(r, c, "—", &cell).map(|_| ()),
        Value::Suppressed => ws.write_string_with_format(r, c, "*", &cell).map(|_| ()),
    };
    let mut r = header_row + 1;
    for (i, (code, name, values)) in f.rows.iter().enumerate() {
        ws.write_number_with_format(r, 0, (i + 1) as f64, &int)?;
        workbook::write_text(ws, r, 1, name, &cell)?;
        workbook::write_text(ws, r, 2, code, &cell)?;
        for (j, v) in values.iter().enumerate() {
            write(ws, r, (j + 3) as u16, v)?;
        }
        r += 1;
    }
    ws.merge_range(r, 0, r, 2, "合计", &bold)?;
    for (j, v) in f.total.iter().enumerate() {
        write(ws, r, (j + 3) as u16, v)?;
    }
    let notes = r + 2;
    workbook::write_text(
        ws,
        notes,
        0,
        &format!("填表人：{}", f.compiled_by),
        &Format::new(),
    )?;
    ws.write_string(notes, 3, "审核人：")?;
    ws.write_string(
        notes,
        6,
        format!("填报日期：{}", f.compiled_on.format("%Y年%m月%d日")),
    )?;
    let stars = match f.small_below {
        Some(below) => format!(
            "“*”为小于{below}的数（{}），按规定不予显示；",
            f.small_label
        ),
        None => String::new(),
    };
    ws.write_string(
        notes + 1,
        0,
        format!("说明：{stars}“—”为无数据。指标定义见 docs/INDICATORS.md。"),
    )?;
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_of_people_read_star_up_to_the_readers_maximum() {
        let def = indicators::defs::find("new_cases").expect("def");
        let cell = Cell {
            num: 5.0,
            ..Cell::default()
        };
        assert_eq!(cell_value(def, &cell, What::Num, Some(4)), Value::Int(5.0));
        assert_eq!(
            cell_value(def, &cell, What::Num, Some(6)),
            Value::Suppressed
        );
        assert_eq!(cell_value(def, &cell, What::Num, None), Value::Int(5.0));
        let reader = |audience| Reader {
            name: "x",
            audience,
            suppression: Suppression::new(6, 11).expect("rule"),
        };
        assert_eq!(reader(Audience::Inside).small_label(), "1–6");
        assert_eq!(reader(Audience::Outside).small_label(), "1–11");
        // Nothing is hidden from case access; the note states the organisation's rule.
        assert_eq!(reader(Audience::CaseAccess).small_max(), None);
        assert_eq!(reader(Audience::CaseAccess).small_label(), "1–6");
        assert_eq!(reader(Audience::Inside).small_below(), Some(7));
        assert_eq!(reader(Audience::Outside).small_below(), Some(12));
        assert_eq!(reader(Audience::CaseAccess).small_below(), Some(7));
    }
}
