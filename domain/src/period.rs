//! Reporting periods: a month (`2024-03`), a quarter (`2024Q1`) or a year (`2024`), each a
//! closed range of days. Built only by [`Period::parse`] (or from another period), so a
//! `Period` is always a real calendar period between 1990 and 2100.

use std::fmt;

use chrono::{Datelike, NaiveDate};

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
}

/// Why a period was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("period {0:?} is not a month (2024-03), a quarter (2024Q1) or a year (2024)")]
    Malformed(String),
    #[error("period {0:?}: the year must be 1990–2100")]
    YearOutOfRange(String),
    #[error("period {period} starts after today ({today}): it is in the future")]
    Future { period: String, today: NaiveDate },
}

/// A calendar month, quarter or year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    kind: PeriodKind,
    year: i32,
    /// Month 1–12, quarter 1–4, or 1 for a year.
    index: u32,
}

impl Period {
    /// `2024-03`, `2024Q1` (also `2024-Q1`, `2024q1`) or `2024`.
    pub fn parse(s: &str) -> Result<Self, PeriodError> {
        let t = s.trim();
        let bad = || PeriodError::Malformed(s.to_owned());
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
        let max = match kind {
            PeriodKind::Month => 12,
            PeriodKind::Quarter => 4,
            PeriodKind::Year => 1,
        };
        if !(1..=max).contains(&index) {
            return Err(bad());
        }
        if !(1990..=2100).contains(&year) {
            return Err(PeriodError::YearOutOfRange(s.to_owned()));
        }
        Ok(Self { kind, year, index })
    }

    /// [`Period::parse`], refusing a period that starts after `today`.
    pub fn parse_not_future(s: &str, today: NaiveDate) -> Result<Self, PeriodError> {
        let p = Self::parse(s)?;
        if p.start() > today {
            return Err(PeriodError::Future {
                period: p.key(),
                today,
            });
        }
        Ok(p)
    }

    pub fn year(year: i32) -> Self {
        Self {
            kind: PeriodKind::Year,
            year: year.clamp(1990, 2100),
            index: 1,
        }
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
        Self {
            kind: PeriodKind::Month,
            year: d.year(),
            index: d.month(),
        }
    }

    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    pub fn year_number(&self) -> i32 {
        self.year
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
        self.next().start().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    /// The period of the same kind that follows.
    pub fn next(&self) -> Self {
        let max = 12 / self.kind.months();
        if self.index < max {
            Self {
                index: self.index + 1,
                ..*self
            }
        } else {
            Self {
                year: self.year + 1,
                index: 1,
                ..*self
            }
        }
    }

    /// The same period a year earlier.
    pub fn year_before(&self) -> Self {
        Self {
            year: self.year - 1,
            ..*self
        }
    }

    /// The months this period is made of, in order.
    pub fn months(&self) -> Vec<Period> {
        let first = self.first_month();
        (first..first + self.kind.months())
            .map(|m| Self {
                kind: PeriodKind::Month,
                year: self.year,
                index: m,
            })
            .collect()
    }

    /// The period of `kind` that contains this one's first day.
    pub fn as_kind(&self, kind: PeriodKind) -> Self {
        let m = self.first_month();
        let index = match kind {
            PeriodKind::Month => m,
            PeriodKind::Quarter => (m - 1) / 3 + 1,
            PeriodKind::Year => 1,
        };
        Self {
            kind,
            year: self.year,
            index,
        }
    }

    /// `2024-03`, `2024Q1`, `2024`.
    pub fn key(&self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{}-{:02}", self.year, self.index),
            PeriodKind::Quarter => format!("{}Q{}", self.year, self.index),
            PeriodKind::Year => format!("{}", self.year),
        }
    }

    /// The period in Chinese, as report forms print it: 2024年6月, 2024年第2季度, 2024年.
    pub fn label_zh(&self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{}年{}月", self.year, self.index),
            PeriodKind::Quarter => format!("{}年第{}季度", self.year, self.index),
            PeriodKind::Year => format!("{}年", self.year),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// The periods of `kind` from the one containing `from`'s start to the one containing `to`'s
/// start, inclusive.
pub fn series(from: Period, to: Period, kind: PeriodKind) -> Vec<Period> {
    let mut p = from.as_kind(kind);
    let last = to.as_kind(kind);
    let mut out = Vec::new();
    while p <= last && out.len() <= 1200 {
        out.push(p);
        p = p.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn months_quarters_and_years_parse_to_their_days() {
        let m = Period::parse("2024-02").expect("month");
        assert_eq!((m.start(), m.end()), (d(2024, 2, 1), d(2024, 2, 29)));
        let q = Period::parse("2024Q4").expect("quarter");
        assert_eq!((q.start(), q.end()), (d(2024, 10, 1), d(2024, 12, 31)));
        assert_eq!(Period::parse("2024-q2").expect("quarter").key(), "2024Q2");
        let y = Period::parse("2024").expect("year");
        assert_eq!((y.start(), y.end()), (d(2024, 1, 1), d(2024, 12, 31)));
        assert_eq!(y.months().len(), 12);
        assert_eq!(q.months()[0].key(), "2024-10");
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
        ] {
            assert!(
                matches!(Period::parse(bad), Err(PeriodError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Period::parse("1899"),
            Err(PeriodError::YearOutOfRange(_))
        ));
        let today = d(2026, 11, 15);
        assert!(Period::parse_not_future("2026-11", today).is_ok());
        let e = Period::parse_not_future("2026-12", today).expect_err("future");
        assert!(e.to_string().contains("future"), "{e}");
    }

    #[test]
    fn a_series_steps_by_its_kind() {
        let from = Period::parse("2024-11").expect("p");
        let to = Period::parse("2025-02").expect("p");
        let keys: Vec<String> = series(from, to, PeriodKind::Month)
            .iter()
            .map(Period::key)
            .collect();
        assert_eq!(keys, ["2024-11", "2024-12", "2025-01", "2025-02"]);
        let q: Vec<String> = series(from, to, PeriodKind::Quarter)
            .iter()
            .map(Period::key)
            .collect();
        assert_eq!(q, ["2024Q4", "2025Q1"]);
    }

    // From the tiles' former period type, which this one replaced.
    #[test]
    fn years_quarters_and_months_become_date_ranges() {
        let y = Period::parse("2024").unwrap();
        assert_eq!(
            (y.start().to_string(), y.end().to_string()),
            ("2024-01-01".into(), "2024-12-31".into())
        );
        let q = Period::parse("2024Q1").unwrap();
        assert_eq!(q.end().to_string(), "2024-03-31");
        let m = Period::parse("2024-02").unwrap();
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
        let y = Period::parse("2024").unwrap();
        assert_eq!(y.month_shown(d(2026, 3, 9)).key(), "2024-12");
        assert_eq!(y.month_shown(d(2024, 3, 9)).key(), "2024-03");
        assert_eq!(Period::year_of(d(2025, 7, 1)).key(), "2025");
    }
}
