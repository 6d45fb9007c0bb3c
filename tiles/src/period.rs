//! The `period=` filter of tiles and layers: a year (`2024`), a quarter (`2024Q2`) or a month
//! (`2024-03`), as an inclusive date range.

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The text it was parsed from, canonical (part of cache keys and URLs).
    label: PeriodLabel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeriodLabel {
    Year(i32),
    Quarter(i32, u32),
    Month(i32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period must be YYYY, YYYYQn or YYYY-MM, got {0:?}")]
pub struct PeriodError(pub String);

impl Period {
    pub fn parse(s: &str) -> Result<Self, PeriodError> {
        let err = || PeriodError(s.to_owned());
        let s = s.trim();
        let year = |y: &str| -> Result<i32, PeriodError> {
            y.parse::<i32>()
                .ok()
                .filter(|y| (1990..=2100).contains(y) && s.len() >= 4)
                .ok_or_else(err)
        };
        let label = if s.len() == 4 {
            PeriodLabel::Year(year(s)?)
        } else if let Some((y, q)) = s.split_once(['Q', 'q']) {
            let q: u32 = q
                .parse()
                .ok()
                .filter(|q| (1..=4).contains(q))
                .ok_or_else(err)?;
            PeriodLabel::Quarter(year(y)?, q)
        } else if let Some((y, m)) = s.split_once('-') {
            let m: u32 = m
                .parse()
                .ok()
                .filter(|m| (1..=12).contains(m) && m_len_ok(s))
                .ok_or_else(err)?;
            PeriodLabel::Month(year(y)?, m)
        } else {
            return Err(err());
        };
        let (from, to) = match label {
            PeriodLabel::Year(y) => (ymd(y, 1, 1), ymd(y, 12, 31)),
            PeriodLabel::Quarter(y, q) => (ymd(y, 3 * q - 2, 1), month_end(y, 3 * q)),
            PeriodLabel::Month(y, m) => (ymd(y, m, 1), month_end(y, m)),
        };
        Ok(Self { from, to, label })
    }

    /// The year that holds `today`.
    pub fn year_of(today: NaiveDate) -> Self {
        Self {
            from: ymd(today.year(), 1, 1),
            to: ymd(today.year(), 12, 31),
            label: PeriodLabel::Year(today.year()),
        }
    }

    /// The month within the period whose deworming is shown: its last month, or the month of
    /// `today` when the period is still running.
    pub fn coverage_month(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let end = self.to.min(today);
        let start = ymd(end.year(), end.month(), 1);
        (start, month_end(end.year(), end.month()))
    }

    pub fn label(&self) -> String {
        match self.label {
            PeriodLabel::Year(y) => format!("{y}"),
            PeriodLabel::Quarter(y, q) => format!("{y}Q{q}"),
            PeriodLabel::Month(y, m) => format!("{y}-{m:02}"),
        }
    }
}

fn m_len_ok(s: &str) -> bool {
    s.len() == 7
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn month_end(y: i32, m: u32) -> NaiveDate {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    ymd(ny, nm, 1).pred_opt().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_quarters_and_months_become_date_ranges() {
        let y = Period::parse("2024").unwrap();
        assert_eq!(
            (y.from.to_string(), y.to.to_string()),
            ("2024-01-01".into(), "2024-12-31".into())
        );
        let q = Period::parse("2024Q1").unwrap();
        assert_eq!(q.to.to_string(), "2024-03-31");
        let m = Period::parse("2024-02").unwrap();
        assert_eq!(m.to.to_string(), "2024-02-29");
        assert_eq!(m.label(), "2024-02");
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in ["24", "2024Q5", "2024-13", "2024-1", "abcd", "2024/03", ""] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }
}
