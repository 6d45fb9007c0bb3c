//! Cell values every register shares: dates, sex, yes/no and decimals, each as people write them.

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

/// A cell value that is not what its column expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {expected}")]
pub struct ValueError {
    /// The cell as written.
    pub value: String,
    /// What the column accepts, in words.
    pub expected: &'static str,
}

const DATE_EXPECTED: &str = "a date: expected 2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日, 20240305 or an Excel date serial number (1 to 2958465, not 60)";
const SEX_EXPECTED: &str = "a sex: expected 男, 女, 男性, 女性, M, F, male or female";
const BOOL_EXPECTED: &str = "yes or no: expected 是, 否, 有, 无, yes, no, 1, 0, true or false";
const DECIMAL_EXPECTED: &str = "a number: expected digits with an optional sign, decimal point and thousands separators (1,234.5)";

/// The largest Excel serial number, 9999-12-31.
const MAX_SERIAL: u32 = 2_958_465;

fn invalid(value: &str, expected: &'static str) -> ValueError {
    ValueError {
        value: value.to_owned(),
        expected,
    }
}

/// NFKC (full-width digits and letters to ASCII) and surrounding whitespace removed.
fn normalise(s: &str) -> String {
    s.nfkc().collect::<String>().trim().to_owned()
}

/// Parses a date written as `2024-03-05`, `2024/3/5`, `2024.3.5`, `2024年3月5日`, `20240305`, or
/// an Excel serial number in the 1900 date system (`45356`; a time fraction is ignored).
///
/// Excel counts 1900-02-29, a day that never was, as serial 60: 60 is refused, and serial 61 is
/// 1900-03-01. Serials are accepted from 1 (1900-01-01) to 2958465 (9999-12-31), and only when
/// the cell is a plain number.
pub fn parse_date(s: &str) -> Result<NaiveDate, ValueError> {
    let err = || invalid(s, DATE_EXPECTED);
    let t = normalise(s);
    if t.is_empty() {
        return Err(err());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) && t.len() == 8 {
        let (y, m, d) = (&t[..4], &t[4..6], &t[6..]);
        return ymd(y, m, d).ok_or_else(err);
    }
    if is_plain_number(&t) {
        let whole = t.split('.').next().unwrap_or("");
        let serial: u32 = whole.parse().map_err(|_| err())?;
        return from_excel_serial(serial).ok_or_else(err);
    }
    let t = t
        .strip_suffix('日')
        .or_else(|| t.strip_suffix('号'))
        .unwrap_or(&t)
        .replace(['年', '月'], "-");
    let parts: Vec<&str> = t.split(['-', '/', '.']).map(str::trim).collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) => {
            ymd(y, m, d).ok_or_else(err)
        }
        _ => Err(err()),
    }
}

fn is_plain_number(t: &str) -> bool {
    let mut parts = t.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    if ![y, m, d]
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The date of an Excel serial number in the 1900 date system, `None` for 0, 60 (the phantom
/// 1900-02-29) and serials past 9999-12-31.
pub fn from_excel_serial(serial: u32) -> Option<NaiveDate> {
    if serial == 0 || serial == 60 || serial > MAX_SERIAL {
        return None;
    }
    // Up to 59 the serial counts from 1899-12-31; from 61 on, the phantom day shifts it by one.
    let epoch = if serial < 60 {
        NaiveDate::from_ymd_opt(1899, 12, 31)?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    };
    epoch.checked_add_days(chrono::Days::new(u64::from(serial)))
}

/// The Excel serial number (1900 date system) of a date from 1900-01-01 to 9999-12-31.
pub fn excel_serial(date: NaiveDate) -> Option<u32> {
    let march_1900 = NaiveDate::from_ymd_opt(1900, 3, 1)?;
    let epoch = if date < march_1900 {
        NaiveDate::from_ymd_opt(1899, 12, 31)?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    };
    if date.year() < 1900 {
        return None;
    }
    u32::try_from((date - epoch).num_days())
        .ok()
        .filter(|s| (1..=MAX_SERIAL).contains(s))
}

/// A person's or an animal's sex, as the `sex` enum of the schema spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// `male` or `female`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
        }
    }
}

/// Parses 男/女/男性/女性/M/F/male/female (any case, full or half width).
pub fn parse_sex(s: &str) -> Result<Sex, ValueError> {
    match normalise(s).to_lowercase().as_str() {
        "男" | "男性" | "m" | "male" => Ok(Sex::Male),
        "女" | "女性" | "f" | "female" => Ok(Sex::Female),
        _ => Err(invalid(s, SEX_EXPECTED)),
    }
}

/// Parses 是/否, 有/无, yes/no, 1/0, true/false (any case, full or half width).
pub fn parse_bool(s: &str) -> Result<bool, ValueError> {
    match normalise(s).to_lowercase().as_str() {
        "是" | "有" | "yes" | "y" | "1" | "true" => Ok(true),
        "否" | "无" | "no" | "n" | "0" | "false" => Ok(false),
        _ => Err(invalid(s, BOOL_EXPECTED)),
    }
}

/// Parses a decimal number written with full- or half-width digits, an optional sign, an
/// optional decimal point and optional thousands separators (`,` or `，` every three digits:
/// `1,234.5`, `１２３４`, `-0.5`).
pub fn parse_decimal(s: &str) -> Result<f64, ValueError> {
    let err = || invalid(s, DECIMAL_EXPECTED);
    // NFKC turns the full-width comma into `,` as well.
    let t = normalise(s);
    let unsigned = t.strip_prefix(['-', '+']).unwrap_or(&t);
    let (whole, frac) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    if whole.is_empty() && frac.is_none_or(str::is_empty) {
        return Err(err());
    }
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if frac.is_some_and(|f| !digits(f)) {
        return Err(err());
    }
    if whole.contains(',') {
        let mut groups = whole.split(',');
        let head = groups.next().unwrap_or("");
        if !(1..=3).contains(&head.len())
            || !digits(head)
            || !groups.all(|g| g.len() == 3 && digits(g))
        {
            return Err(err());
        }
    } else if !digits(whole) {
        return Err(err());
    }
    let plain: String = t.chars().filter(|&c| c != ',').collect();
    plain
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn every_written_form_of_a_date_parses_to_the_same_day() {
        for s in [
            "2024-03-05",
            "2024/3/5",
            "2024.3.5",
            "2024年3月5日",
            "2024年03月05日",
            "20240305",
            " 2024-3-5 ",
            "２０２４－０３－０５",
            "45356",
            "45356.75",
        ] {
            assert_eq!(parse_date(s), Ok(date(2024, 3, 5)), "{s}");
        }
    }

    #[test]
    fn excel_serials_follow_the_1900_leap_year_bug() {
        assert_eq!(parse_date("1"), Ok(date(1900, 1, 1)));
        assert_eq!(parse_date("59"), Ok(date(1900, 2, 28)));
        assert!(parse_date("60").is_err(), "1900-02-29 never was");
        assert_eq!(parse_date("61"), Ok(date(1900, 3, 1)));
        assert_eq!(parse_date("2958465"), Ok(date(9999, 12, 31)));
        assert!(parse_date("2958466").is_err());
        assert!(parse_date("0").is_err());
        assert!(parse_date("-5").is_err());
    }

    #[test]
    fn the_serial_of_a_date_is_the_inverse_of_its_date() {
        for serial in [1, 59, 61, 45356, 2_958_465] {
            let day = from_excel_serial(serial).unwrap();
            assert_eq!(excel_serial(day), Some(serial));
        }
    }

    #[test]
    fn impossible_or_ambiguous_dates_are_refused_with_what_is_expected() {
        for s in [
            "2024-02-30",
            "2024-13-01",
            "24-3-5",
            "3/5/2024",
            "2024-03",
            "昨天",
            "",
            "20241305",
        ] {
            let err = parse_date(s).unwrap_err();
            assert!(
                err.to_string().contains("expected 2024-03-05"),
                "{s}: {err}"
            );
        }
        assert_eq!(
            parse_date("2024-02-30").unwrap_err().to_string(),
            format!("\"2024-02-30\" is not {DATE_EXPECTED}")
        );
    }

    #[test]
    fn sex_is_read_in_chinese_and_english() {
        for s in ["男", "男性", "M", "m", "male", "Male", "Ｍ"] {
            assert_eq!(parse_sex(s), Ok(Sex::Male), "{s}");
        }
        for s in ["女", "女性", "F", "female", " FEMALE "] {
            assert_eq!(parse_sex(s), Ok(Sex::Female), "{s}");
        }
        let err = parse_sex("未知").unwrap_err();
        assert!(err.to_string().contains("expected 男, 女"), "{err}");
    }

    #[test]
    fn yes_and_no_are_read_in_chinese_and_english() {
        for s in ["是", "有", "yes", "YES", "1", "true", "TRUE"] {
            assert_eq!(parse_bool(s), Ok(true), "{s}");
        }
        for s in ["否", "无", "no", "0", "false", "False"] {
            assert_eq!(parse_bool(s), Ok(false), "{s}");
        }
        assert!(
            parse_bool("maybe")
                .unwrap_err()
                .to_string()
                .contains("expected 是, 否")
        );
    }

    #[test]
    fn decimals_accept_full_width_digits_and_thousands_separators() {
        assert_eq!(parse_decimal("1,234.5"), Ok(1234.5));
        assert_eq!(parse_decimal("１，２３４"), Ok(1234.0));
        assert_eq!(parse_decimal("１２３．５"), Ok(123.5));
        assert_eq!(parse_decimal("-0.5"), Ok(-0.5));
        assert_eq!(parse_decimal("+50"), Ok(50.0));
        assert_eq!(parse_decimal(".5"), Ok(0.5));
        assert_eq!(parse_decimal("1,000,000"), Ok(1_000_000.0));
    }

    #[test]
    fn malformed_decimals_are_refused_with_what_is_expected() {
        for s in [
            "",
            "abc",
            "1,23",
            "12,345,67",
            "1.2.3",
            "NaN",
            "inf",
            "1e5",
            "50mg",
            ",123",
            "-",
        ] {
            let err = parse_decimal(s).unwrap_err();
            assert!(err.to_string().contains("expected digits"), "{s}: {err}");
        }
    }
}
