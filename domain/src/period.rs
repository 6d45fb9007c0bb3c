//! Reporting periods: a month (`2024-03`), a quarter (`2024Q1`) or a year (`2024`), or a range
//! of whole periods of one kind (`2022..2026`, `2025-12..2026-11`, `2025Q1..2026Q2`), each a
//! closed range of days. Built only by [`Period::parse`], [`Period::resolve`] (which also reads
//! the relative names of [`Relative`], such as `last_12_months`, against a given today) or from
//! another period, so a `Period` is always a real calendar period between 1990 and 2100 and a
//! range spans at most [`MAX_RANGE_MONTHS`] months.
//!
//! A range is not a new kind of period: it is a `Period` whose first and last parts differ, so
//! everything that reads a period by its days ([`Period::start`], [`Period::end`]) or by its
//! months ([`Period::months`]) reads a range the same way. A range of one part is that part:
//! `2024..2024` is `2024`.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// The most months a range may span (20 years).
pub const MAX_RANGE_MONTHS: u32 = 240;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "month" => Some(Self::Month),
            "quarter" => Some(Self::Quarter),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }

    fn months(self) -> u32 {
        match self {
            Self::Month => 1,
            Self::Quarter => 3,
            Self::Year => 12,
        }
    }

    /// Periods of this kind in a year.
    fn per_year(self) -> u32 {
        12 / self.months()
    }
}

/// Why a period was refused. [`PeriodError::reason`] names each case with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "period {0:?} is not a month (2024-03), a quarter (2024Q1), a year (2024), a range of one \
         kind (2022..2026, 2025-12..2026-11, 2025Q1..2026Q2) or a relative period (last_month, \
         this_month, last_3_months, last_12_months, this_quarter, last_quarter, this_year, \
         last_year, last_5_years)"
    )]
    Malformed(String),
    #[error("period {0:?}: the year must be 1990–2100")]
    YearOutOfRange(String),
    #[error("period {0:?}: a range runs from its first period to a later (or the same) one")]
    Order(String),
    #[error(
        "period {0:?}: both ends of a range must be of one kind (two months, quarters or years)"
    )]
    MixedKinds(String),
    #[error("period {period:?} spans {months} months; a range may span at most {max} months")]
    TooLong {
        period: String,
        months: u32,
        max: u32,
    },
    #[error("period {period} reaches into the future: {part} starts after today ({today})")]
    Future {
        period: String,
        part: String,
        today: NaiveDate,
    },
    #[error("period {0:?} is a range; a single month, quarter or year is needed here")]
    RangeNotAllowed(String),
}

impl PeriodError {
    /// A stable, machine-readable code for why the period was refused (the API's
    /// `details.reason`), so that a client can say it in its own language.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "period_malformed",
            Self::YearOutOfRange(_) => "period_year_out_of_range",
            Self::Order(_) => "period_order",
            Self::MixedKinds(_) => "period_mixed_kinds",
            Self::TooLong { .. } => "period_too_long",
            Self::Future { .. } => "period_future",
            Self::RangeNotAllowed(_) => "period_range_not_allowed",
        }
    }
}

/// A calendar month, quarter or year, or a range of whole months, quarters or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    kind: PeriodKind,
    year: i32,
    /// Month 1–12, quarter 1–4, or 1 for a year.
    index: u32,
    /// The last part of a range (of the same kind); the first part again for a single period.
    last_year: i32,
    last_index: u32,
}

/// Parses one month, quarter or year; `whole` is the text as asked, for the error.
fn parse_part(t: &str, whole: &str) -> Result<Period, PeriodError> {
    let bad = || PeriodError::Malformed(whole.to_owned());
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let (kind, year, index) = if t.len() == 4 && digits(t) {
        (PeriodKind::Year, t, "1")
    } else if let Some((y, q)) = t
        .split_once(['Q', 'q'])
        .map(|(y, q)| (y.strip_suffix('-').unwrap_or(y), q))
    {
        if y.len() != 4 || !digits(y) || q.len() != 1 || !digits(q) {
            return Err(bad());
        }
        (PeriodKind::Quarter, y, q)
    } else if let Some((y, m)) = t.split_once('-') {
        if y.len() != 4 || !digits(y) || m.len() != 2 || !digits(m) {
            return Err(bad());
        }
        (PeriodKind::Month, y, m)
    } else {
        return Err(bad());
    };
    let year: i32 = year.parse().map_err(|_| bad())?;
    let index: u32 = index.parse().map_err(|_| bad())?;
    if !(1..=kind.per_year()).contains(&index) {
        return Err(bad());
    }
    if !(1990..=2100).contains(&year) {
        return Err(PeriodError::YearOutOfRange(whole.to_owned()));
    }
    Ok(Period::single(kind, year, index))
}

impl Period {
    fn single(kind: PeriodKind, year: i32, index: u32) -> Self {
        Self {
            kind,
            year,
            index,
            last_year: year,
            last_index: index,
        }
    }

    /// `2024-03`, `2024Q1` (also `2024-Q1`, `2024q1`), `2024`, or a range of one kind written
    /// `first..last` (`2022..2026`, `2025-12..2026-11`, `2025Q1..2026Q2`; spaces around the ends
    /// are allowed). Relative names are read by [`Period::resolve`], which knows today.
    pub fn parse(s: &str) -> Result<Self, PeriodError> {
        let t = s.trim();
        match t.split_once("..") {
            None => parse_part(t, s),
            Some((a, b)) => {
                if b.contains("..") {
                    return Err(PeriodError::Malformed(s.to_owned()));
                }
                let first = parse_part(a.trim(), s)?;
                let last = parse_part(b.trim(), s)?;
                Self::span(first, last, s)
            }
        }
    }

    /// The range from `first`'s first part to `last`'s last part: one kind, in order, at most
    /// [`MAX_RANGE_MONTHS`] months.
    pub fn range(first: Period, last: Period) -> Result<Self, PeriodError> {
        let text = format!("{}..{}", first.first().key(), last.last().key());
        Self::span(first, last, &text)
    }

    fn span(first: Period, last: Period, text: &str) -> Result<Self, PeriodError> {
        let (first, last) = (first.first(), last.last());
        if first.kind != last.kind {
            return Err(PeriodError::MixedKinds(text.to_owned()));
        }
        if first.start() > last.start() {
            return Err(PeriodError::Order(text.to_owned()));
        }
        let p = Self {
            last_year: last.year,
            last_index: last.index,
            ..first
        };
        let months = p.month_count();
        if months > MAX_RANGE_MONTHS {
            return Err(PeriodError::TooLong {
                period: text.to_owned(),
                months,
                max: MAX_RANGE_MONTHS,
            });
        }
        Ok(p)
    }

    /// A period as a request names it: [`Period::parse`]'s syntax or a relative name
    /// ([`Relative`]) resolved against `today`. Future periods are not refused here
    /// ([`Period::not_future`]).
    pub fn resolve(s: &str, today: NaiveDate) -> Result<Asked, PeriodError> {
        match Relative::parse(s) {
            Some(relative) => Ok(Asked {
                period: relative.resolve(today)?,
                relative: Some(relative),
            }),
            None => Ok(Asked {
                period: Self::parse(s)?,
                relative: None,
            }),
        }
    }

    /// [`Period::resolve`], refusing a period with a part that starts after `today`.
    pub fn parse_not_future(s: &str, today: NaiveDate) -> Result<Self, PeriodError> {
        Self::resolve(s, today)?.period.not_future(today)
    }

    /// This period, unless a part of it starts after `today` (a running period is accepted:
    /// this year, or a range that ends with it).
    pub fn not_future(self, today: NaiveDate) -> Result<Self, PeriodError> {
        let last = self.last();
        if last.start() > today {
            return Err(PeriodError::Future {
                period: self.key(),
                part: last.key(),
                today,
            });
        }
        Ok(self)
    }

    /// This period if it is a single month, quarter or year.
    pub fn single_only(self) -> Result<Self, PeriodError> {
        if self.is_range() {
            return Err(PeriodError::RangeNotAllowed(self.key()));
        }
        Ok(self)
    }

    pub fn year(year: i32) -> Self {
        Self::single(PeriodKind::Year, year.clamp(1990, 2100), 1)
    }

    /// The year that contains `d`.
    pub fn year_of(d: NaiveDate) -> Self {
        Self::year(d.year())
    }

    /// The month within the period whose monthly figures (deworming) are shown for it: its last
    /// month, or the month of `today` while the period is still running.
    pub fn month_shown(&self, today: NaiveDate) -> Self {
        Self::month_of(self.end().min(today))
    }

    /// The month that contains `d`.
    pub fn month_of(d: NaiveDate) -> Self {
        Self::single(PeriodKind::Month, d.year(), d.month())
    }

    /// The kind of the period, or of both ends of a range.
    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    /// The year of the period (of its first part, for a range).
    pub fn year_number(&self) -> i32 {
        self.year
    }

    /// A range of two or more months, quarters or years.
    pub fn is_range(&self) -> bool {
        (self.year, self.index) != (self.last_year, self.last_index)
    }

    /// The first month, quarter or year (the period itself unless it is a range).
    pub fn first(&self) -> Self {
        Self::single(self.kind, self.year, self.index)
    }

    /// The last month, quarter or year (the period itself unless it is a range).
    pub fn last(&self) -> Self {
        Self::single(self.kind, self.last_year, self.last_index)
    }

    /// The months, quarters or years this period is made of, in order (one for a single period).
    pub fn parts(&self) -> Vec<Period> {
        let n = self.last().ordinal() - self.ordinal() + 1;
        (0..n).map(|i| self.first().shifted(i)).collect()
    }

    /// Number of months from the first day to the last.
    pub fn month_count(&self) -> u32 {
        let first = self.first().month_ordinal();
        let last = self.last().month_ordinal() + i64::from(self.kind.months()) - 1;
        u32::try_from(last - first + 1).unwrap_or(u32::MAX)
    }

    /// Periods of its kind since year 0 (of a single period, or of a range's first part).
    fn ordinal(&self) -> i64 {
        i64::from(self.year) * i64::from(self.kind.per_year()) + i64::from(self.index) - 1
    }

    /// Months since year 0 to the first month.
    fn month_ordinal(&self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.first_month()) - 1
    }

    /// The single period `by` periods of its kind after this one's first part.
    fn shifted(&self, by: i64) -> Self {
        let per = i64::from(self.kind.per_year());
        let o = self.ordinal() + by;
        let year = i32::try_from(o.div_euclid(per)).unwrap_or(self.year);
        let index = u32::try_from(o.rem_euclid(per) + 1).unwrap_or(1);
        Self::single(self.kind, year, index)
    }

    fn first_month(&self) -> u32 {
        match self.kind {
            PeriodKind::Month => self.index,
            PeriodKind::Quarter => (self.index - 1) * 3 + 1,
            PeriodKind::Year => 1,
        }
    }

    /// The first day.
    pub fn start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.first_month(), 1).unwrap_or(NaiveDate::MIN)
    }

    /// The last day (inclusive).
    pub fn end(&self) -> NaiveDate {
        self.last()
            .shifted(1)
            .start()
            .pred_opt()
            .unwrap_or(NaiveDate::MAX)
    }

    /// The period of the same kind and length that follows (for a range: the next range of as
    /// many parts).
    pub fn next(&self) -> Self {
        let n = self.last().ordinal() - self.ordinal() + 1;
        let first = self.first().shifted(n);
        let last = self.last().shifted(n);
        Self {
            last_year: last.year,
            last_index: last.index,
            ..first
        }
    }

    /// The same period a year earlier.
    pub fn year_before(&self) -> Self {
        Self {
            year: self.year - 1,
            last_year: self.last_year - 1,
            ..*self
        }
    }

    /// The months this period is made of, in order.
    pub fn months(&self) -> Vec<Period> {
        let first = Self::single(PeriodKind::Month, self.year, self.first_month());
        (0..i64::from(self.month_count()))
            .map(|i| first.shifted(i))
            .collect()
    }

    /// The single period of `kind` that contains this one's first day.
    pub fn as_kind(&self, kind: PeriodKind) -> Self {
        let m = self.first_month();
        let index = match kind {
            PeriodKind::Month => m,
            PeriodKind::Quarter => (m - 1) / 3 + 1,
            PeriodKind::Year => 1,
        };
        Self::single(kind, self.year, index)
    }

    /// `2024-03`, `2024Q1`, `2024`; a range `2022..2026`, `2025-12..2026-11`, `2025Q1..2026Q2`.
    /// The normal form: [`Period::parse`] reads it back to the same period.
    pub fn key(&self) -> String {
        let one = |p: &Self| match p.kind {
            PeriodKind::Month => format!("{}-{:02}", p.year, p.index),
            PeriodKind::Quarter => format!("{}Q{}", p.year, p.index),
            PeriodKind::Year => format!("{}", p.year),
        };
        if self.is_range() {
            format!("{}..{}", one(&self.first()), one(&self.last()))
        } else {
            one(self)
        }
    }

    /// The period in Chinese, as report forms print it: 2024年6月, 2024年第2季度, 2024年; a
    /// range 2022年至2026年.
    pub fn label_zh(&self) -> String {
        let one = |p: &Self| match p.kind {
            PeriodKind::Month => format!("{}年{}月", p.year, p.index),
            PeriodKind::Quarter => format!("{}年第{}季度", p.year, p.index),
            PeriodKind::Year => format!("{}年", p.year),
        };
        if self.is_range() {
            format!("{}至{}", one(&self.first()), one(&self.last()))
        } else {
            one(self)
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// The periods of `kind` from the one containing `from`'s start to the one containing the
/// start of `to`'s last part, inclusive.
pub fn series(from: Period, to: Period, kind: PeriodKind) -> Vec<Period> {
    let mut p = from.as_kind(kind);
    let last = to.last().as_kind(kind);
    let mut out = Vec::new();
    while p <= last && out.len() <= 1200 {
        out.push(p);
        p = p.next();
    }
    out
}

/// A period named relative to today. "Last" periods are whole periods before the current one:
/// `last_12_months` on 2026-11-15 is `2025-11..2026-10`, `last_5_years` is `2021..2025`;
/// "this" periods are the running ones (`this_year` is `2026`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relative {
    ThisMonth,
    LastMonth,
    Last3Months,
    Last12Months,
    ThisQuarter,
    LastQuarter,
    ThisYear,
    LastYear,
    Last5Years,
}

impl Relative {
    pub const ALL: [Relative; 9] = [
        Self::LastMonth,
        Self::ThisMonth,
        Self::Last3Months,
        Self::Last12Months,
        Self::ThisQuarter,
        Self::LastQuarter,
        Self::ThisYear,
        Self::LastYear,
        Self::Last5Years,
    ];

    /// The name as the API spells it (`last_12_months`); surrounding spaces are ignored.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThisMonth => "this_month",
            Self::LastMonth => "last_month",
            Self::Last3Months => "last_3_months",
            Self::Last12Months => "last_12_months",
            Self::ThisQuarter => "this_quarter",
            Self::LastQuarter => "last_quarter",
            Self::ThisYear => "this_year",
            Self::LastYear => "last_year",
            Self::Last5Years => "last_5_years",
        }
    }

    /// The concrete period on the day `today`.
    pub fn resolve(self, today: NaiveDate) -> Result<Period, PeriodError> {
        let month = Period::month_of(today);
        let quarter = month.as_kind(PeriodKind::Quarter);
        let year = month.as_kind(PeriodKind::Year);
        let before = |p: Period, from: i64, to: i64| Period {
            last_year: p.shifted(-to).year,
            last_index: p.shifted(-to).index,
            ..p.shifted(-from)
        };
        let p = match self {
            Self::ThisMonth => month,
            Self::LastMonth => month.shifted(-1),
            Self::Last3Months => before(month, 3, 1),
            Self::Last12Months => before(month, 12, 1),
            Self::ThisQuarter => quarter,
            Self::LastQuarter => quarter.shifted(-1),
            Self::ThisYear => year,
            Self::LastYear => year.shifted(-1),
            Self::Last5Years => before(year, 5, 1),
        };
        if !(1990..=2100).contains(&p.year) || !(1990..=2100).contains(&p.last_year) {
            return Err(PeriodError::YearOutOfRange(self.as_str().to_owned()));
        }
        Ok(p)
    }
}

impl fmt::Display for Relative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A period as a request named it ([`Period::resolve`]): the concrete period, and the relative
/// name it was resolved from, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    pub period: Period,
    pub relative: Option<Relative>,
}

impl Asked {
    /// What was asked, normalised: the relative name, or the period's key.
    pub fn asked(&self) -> String {
        self.relative
            .map_or_else(|| self.period.key(), |r| r.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn p(s: &str) -> Period {
        Period::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn keys(ps: &[Period]) -> Vec<String> {
        ps.iter().map(Period::key).collect()
    }

    #[test]
    fn months_quarters_and_years_parse_to_their_days() {
        let m = p("2024-02");
        assert_eq!((m.start(), m.end()), (d(2024, 2, 1), d(2024, 2, 29)));
        let q = p("2024Q4");
        assert_eq!((q.start(), q.end()), (d(2024, 10, 1), d(2024, 12, 31)));
        assert_eq!(p("2024-q2").key(), "2024Q2");
        let y = p("2024");
        assert_eq!((y.start(), y.end()), (d(2024, 1, 1), d(2024, 12, 31)));
        assert_eq!(y.months().len(), 12);
        assert_eq!(q.months()[0].key(), "2024-10");
        assert!(!y.is_range());
        assert_eq!(y.parts(), vec![y]);
    }

    #[test]
    fn malformed_and_future_periods_are_refused_with_a_reason() {
        for bad in [
            "",
            "2024-13",
            "2024-1",
            "2024Q5",
            "2024Q0",
            "24",
            "2024-03-01",
            "abcd",
            "2024H1",
            "2022-2026",
            "2022...2026",
            "2022..2024..2026",
            "..2026",
            "2022..",
            "last_week",
            "LAST_YEAR",
        ] {
            let e = Period::parse(bad).expect_err(bad);
            assert_eq!(e.reason(), "period_malformed", "{bad}");
        }
        assert!(matches!(
            Period::parse("1899"),
            Err(PeriodError::YearOutOfRange(_))
        ));
        assert_eq!(
            Period::parse("1989..1995").expect_err("year").reason(),
            "period_year_out_of_range"
        );
        let today = d(2026, 11, 15);
        assert!(Period::parse_not_future("2026-11", today).is_ok());
        let e = Period::parse_not_future("2026-12", today).expect_err("future");
        assert!(e.to_string().contains("future"), "{e}");
        assert_eq!(e.reason(), "period_future");
    }

    #[test]
    fn ranges_parse_to_the_days_and_months_of_their_ends() {
        let y = p("2022..2026");
        assert!(y.is_range());
        assert_eq!((y.start(), y.end()), (d(2022, 1, 1), d(2026, 12, 31)));
        assert_eq!(y.months().len(), 60);
        assert_eq!(y.month_count(), 60);
        assert_eq!(keys(&y.parts()), ["2022", "2023", "2024", "2025", "2026"]);
        assert_eq!(y.kind(), PeriodKind::Year);
        assert_eq!(
            (y.first().key(), y.last().key()),
            ("2022".into(), "2026".into())
        );

        let m = p("2025-12..2026-11");
        assert_eq!((m.start(), m.end()), (d(2025, 12, 1), d(2026, 11, 30)));
        let months = m.months();
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].key(), "2025-12");
        assert_eq!(months[1].key(), "2026-01");
        assert_eq!(months[11].key(), "2026-11");

        let q = p("2025Q1..2026Q2");
        assert_eq!((q.start(), q.end()), (d(2025, 1, 1), d(2026, 6, 30)));
        assert_eq!(q.months().len(), 18);
        assert_eq!(
            keys(&q.parts()),
            ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
        );

        // A leap February ends a month range on the 29th.
        assert_eq!(p("2023-11..2024-02").end(), d(2024, 2, 29));
    }

    #[test]
    fn a_range_is_normalised_and_its_key_parses_back() {
        assert_eq!(p(" 2025-q1 .. 2026q2 ").key(), "2025Q1..2026Q2");
        assert_eq!(p("2025-Q1..2026-Q2"), p("2025Q1..2026Q2"));
        assert_eq!(p("2022..2026").to_string(), "2022..2026");
        for s in [
            "2022..2026",
            "2025-12..2026-11",
            "2025Q1..2026Q2",
            "2024",
            "2024-03",
        ] {
            assert_eq!(p(&p(s).key()), p(s), "{s}");
        }
        // One part: the single period itself, with the same key, days and months.
        for (range, single) in [
            ("2024..2024", "2024"),
            ("2024-03..2024-03", "2024-03"),
            ("2024Q2..2024Q2", "2024Q2"),
        ] {
            assert_eq!(p(range), p(single));
            assert_eq!(p(range).key(), single);
            assert!(!p(range).is_range());
        }
        assert_eq!(p("2025-12..2026-11").label_zh(), "2025年12月至2026年11月");
        assert_eq!(p("2022..2026").label_zh(), "2022年至2026年");
    }

    #[test]
    fn a_range_out_of_order_of_mixed_kinds_or_too_long_says_why() {
        let reason = |s: &str| Period::parse(s).expect_err(s).reason();
        assert_eq!(reason("2026..2022"), "period_order");
        assert_eq!(reason("2026-02..2026-01"), "period_order");
        assert_eq!(reason("2026Q2..2026Q1"), "period_order");
        assert_eq!(reason("2022..2026-03"), "period_mixed_kinds");
        assert_eq!(reason("2025Q1..2026-03"), "period_mixed_kinds");
        // 20 years are 240 months: the most a range may span.
        assert!(Period::parse("2000..2019").is_ok());
        assert_eq!(reason("2000..2020"), "period_too_long");
        assert!(Period::parse("2006-01..2025-12").is_ok());
        assert_eq!(reason("2006-01..2026-01"), "period_too_long");
        assert_eq!(reason("1990Q1..2010Q1"), "period_too_long");
        let e = Period::parse("1990..2100").expect_err("long");
        assert!(e.to_string().contains("at most 240 months"), "{e}");
        assert_eq!(
            Period::range(p("2024"), p("2026")).map(|r| r.key()),
            Ok("2024..2026".to_owned())
        );
    }

    #[test]
    fn a_range_is_future_only_when_a_part_has_not_started() {
        let today = d(2026, 11, 15);
        // A range that ends with the running year is read as the running year is.
        assert!(Period::parse_not_future("2022..2026", today).is_ok());
        assert!(Period::parse_not_future("2025-12..2026-11", today).is_ok());
        let e = Period::parse_not_future("2025-12..2026-12", today).expect_err("future");
        assert_eq!(e.reason(), "period_future");
        assert!(e.to_string().contains("2026-12 starts after today"), "{e}");
        assert_eq!(
            Period::parse_not_future("2026..2027", today)
                .expect_err("future")
                .reason(),
            "period_future"
        );
        assert_eq!(
            p("2022..2026").single_only().expect_err("range").reason(),
            "period_range_not_allowed"
        );
        assert_eq!(p("2024..2024").single_only(), Ok(p("2024")));
    }

    #[test]
    fn relative_periods_resolve_against_today() {
        let at = |name: &str, today: NaiveDate| {
            let a = Period::resolve(name, today).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(a.asked(), name);
            a.period.key()
        };
        let today = d(2026, 11, 15);
        assert_eq!(at("this_month", today), "2026-11");
        assert_eq!(at("last_month", today), "2026-10");
        assert_eq!(at("last_3_months", today), "2026-08..2026-10");
        assert_eq!(at("last_12_months", today), "2025-11..2026-10");
        assert_eq!(at("this_quarter", today), "2026Q4");
        assert_eq!(at("last_quarter", today), "2026Q3");
        assert_eq!(at("this_year", today), "2026");
        assert_eq!(at("last_year", today), "2025");
        assert_eq!(at("last_5_years", today), "2021..2025");
        // A December today: the example of the issue.
        assert_eq!(at("last_12_months", d(2026, 12, 7)), "2025-12..2026-11");
        // January: last month, last quarter and the last months cross into the year before.
        let jan = d(2025, 1, 1);
        assert_eq!(at("last_month", jan), "2024-12");
        assert_eq!(at("last_quarter", jan), "2024Q4");
        assert_eq!(at("this_quarter", jan), "2025Q1");
        assert_eq!(at("last_3_months", jan), "2024-10..2024-12");
        assert_eq!(at("last_12_months", jan), "2024-01..2024-12");
        assert_eq!(at("last_year", jan), "2024");
        // A leap day: last_12_months ends with the January before it, and its days are whole.
        let leap = d(2024, 2, 29);
        assert_eq!(at("last_12_months", leap), "2023-02..2024-01");
        assert_eq!(at("this_month", leap), "2024-02");
        let this = Period::resolve("this_month", leap).expect("this").period;
        assert_eq!(this.end(), leap);
        let last3 = Period::resolve("last_3_months", d(2024, 3, 31))
            .expect("p")
            .period;
        assert_eq!(
            (last3.start(), last3.end()),
            (d(2023, 12, 1), d(2024, 2, 29))
        );
        // Every relative period is whole and not in the future; a "last" one has ended.
        for r in Relative::ALL {
            for today in [today, jan, leap, d(2024, 12, 31)] {
                let a = r.resolve(today).expect("resolves");
                assert!(a.not_future(today).is_ok(), "{r} {today}");
                if r.as_str().starts_with("last") {
                    assert!(a.end() < today, "{r} {today}");
                } else {
                    assert!(a.start() <= today && today <= a.end(), "{r} {today}");
                }
            }
        }
        // An explicit period resolves to itself and is asked as its key.
        let a = Period::resolve(" 2022 ..2026", today).expect("range");
        assert_eq!(
            (a.period.key(), a.asked(), a.relative),
            ("2022..2026".into(), "2022..2026".into(), None)
        );
        assert_eq!(
            Period::resolve("last_decade", today)
                .expect_err("bad")
                .reason(),
            "period_malformed"
        );
    }

    #[test]
    fn a_series_steps_by_its_kind() {
        let from = p("2024-11");
        let to = p("2025-02");
        assert_eq!(
            keys(&series(from, to, PeriodKind::Month)),
            ["2024-11", "2024-12", "2025-01", "2025-02"]
        );
        assert_eq!(
            keys(&series(from, to, PeriodKind::Quarter)),
            ["2024Q4", "2025Q1"]
        );
        // A range as `to` runs to its last part.
        assert_eq!(
            keys(&series(
                p("2025-10..2025-11"),
                p("2025-12..2026-01"),
                PeriodKind::Month
            )),
            ["2025-10", "2025-11", "2025-12", "2026-01"]
        );
    }

    #[test]
    fn a_range_steps_and_shifts_as_a_whole() {
        let r = p("2025-11..2026-01");
        assert_eq!(r.next().key(), "2026-02..2026-04");
        assert_eq!(r.year_before().key(), "2024-11..2025-01");
        assert_eq!(r.as_kind(PeriodKind::Year).key(), "2025");
        assert_eq!(p("2024-12").next().key(), "2025-01");
        assert_eq!(p("2024Q4").next().key(), "2025Q1");
        assert_eq!(r.month_shown(d(2026, 11, 15)).key(), "2026-01");
        assert_eq!(
            p("2022..2026").month_shown(d(2026, 11, 15)).key(),
            "2026-11"
        );
        assert_eq!(p("2022..2026").year_number(), 2022);
    }

    // From the tiles' former period type, which this one replaced.
    #[test]
    fn years_quarters_and_months_become_date_ranges() {
        let y = p("2024");
        assert_eq!(
            (y.start().to_string(), y.end().to_string()),
            ("2024-01-01".into(), "2024-12-31".into())
        );
        let q = p("2024Q1");
        assert_eq!(q.end().to_string(), "2024-03-31");
        let m = p("2024-02");
        assert_eq!(m.end().to_string(), "2024-02-29");
        assert_eq!(m.key(), "2024-02");
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in ["24", "2024Q5", "2024-13", "2024-1", "abcd", "2024/03", ""] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_month_shown_is_the_last_month_or_the_current_one() {
        let y = p("2024");
        assert_eq!(y.month_shown(d(2026, 3, 9)).key(), "2024-12");
        assert_eq!(y.month_shown(d(2024, 3, 9)).key(), "2024-03");
        assert_eq!(Period::year_of(d(2025, 7, 1)).key(), "2025");
    }
}
