//! The shared vocabulary of echinomap: the official place codes of the administrative hierarchy
//! (county → township → village) and other values that must be valid before anything else
//! touches them.
//!
//! Main types: [`CountyCode`], [`TownshipCode`], [`VillageCode`], [`PlaceCode`] (any of the three),
//! and [`IdNumber`] (the 18-character Chinese national ID, checksum verified).
//! [`privacy`] holds the rules of DOMAIN.md §7: who sees which counts ([`Audience`],
//! [`Suppression`]) and how identifiers are masked in lists. [`spreadsheet`] is the one rule
//! against formula injection that every CSV and XLSX writer applies. [`barcode`] reads what a
//! scanner sends from a drug or kit pack (GS1, EAN, China's drug and veterinary traceability codes).
//! Every type here can only be built through a checking constructor, so code that holds one
//! never re-validates it.

pub mod barcode;
pub mod period;
pub mod privacy;
pub mod spreadsheet;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use period::{Period, PeriodError, PeriodKind};
pub use privacy::{Audience, Suppression};

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{kind} must be {digits} digits, got {value:?}")]
    BadCode {
        kind: &'static str,
        digits: usize,
        value: String,
    },
    #[error(
        "national ID number must be 17 digits and a check character (0-9 or X), got {len} characters"
    )]
    IdNumberShape { len: usize },
    #[error("national ID number has check character {got} but its digits give {expected}")]
    IdNumberChecksum { got: char, expected: char },
    #[error("national ID number holds birth date {0}, which is not a date")]
    IdNumberBirthDate(String),
    #[error("national ID number starts with {0}, which is no province's code (GB/T 2260)")]
    IdNumberRegion(String),
    #[error(
        "small-count suppression needs 1 ≤ inside maximum ≤ outside maximum, got inside {inside_max} and outside {outside_max}"
    )]
    SuppressionRule { inside_max: i64, outside_max: i64 },
}

macro_rules! place_code {
    ($name:ident, $digits:expr, $kind:expr) => {
        #[doc = concat!("An official ", $kind, " code: ", stringify!($digits), " ASCII digits (NBS 统计用区划代码).")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const DIGITS: usize = $digits;

            pub fn parse(value: &str) -> Result<Self, DomainError> {
                let value = value.trim();
                if value.len() == $digits && value.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(DomainError::BadCode {
                        kind: $kind,
                        digits: $digits,
                        value: value.to_owned(),
                    })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(c: $name) -> String {
                c.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

place_code!(CountyCode, 6, "county code");
place_code!(TownshipCode, 9, "township code");
place_code!(VillageCode, 12, "village code");

impl TownshipCode {
    /// The county this township belongs to (its first six digits).
    pub fn county(&self) -> CountyCode {
        CountyCode(self.0[..6].to_owned())
    }
}

impl VillageCode {
    /// The township this village belongs to (its first nine digits).
    pub fn township(&self) -> TownshipCode {
        TownshipCode(self.0[..9].to_owned())
    }
}

/// A code at any level of the hierarchy, told apart by its length: what a jurisdiction or a
/// `unit=` parameter holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PlaceCode {
    County(CountyCode),
    Township(TownshipCode),
    Village(VillageCode),
}

impl PlaceCode {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim();
        match value.len() {
            6 => CountyCode::parse(value).map(Self::County),
            9 => TownshipCode::parse(value).map(Self::Township),
            _ => VillageCode::parse(value)
                .map(Self::Village)
                .map_err(|_| DomainError::BadCode {
                    kind: "place code",
                    digits: 12,
                    value: format!("{value} (6, 9 or 12 digits expected)"),
                }),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::County(c) => c.as_str(),
            Self::Township(c) => c.as_str(),
            Self::Village(c) => c.as_str(),
        }
    }

    /// True when `other` lies inside this unit (or is it): a prefix test on official codes.
    pub fn contains(&self, other: &PlaceCode) -> bool {
        self.contains_code(other.as_str())
    }

    /// True when the code `other` (of any level, as a row holds it) lies inside this unit (or
    /// is it).
    pub fn contains_code(&self, other: &str) -> bool {
        other.starts_with(self.as_str())
    }

    /// The county the unit lies in (its first six digits).
    pub fn county(&self) -> CountyCode {
        match self {
            Self::County(c) => c.clone(),
            Self::Township(t) => t.county(),
            Self::Village(v) => v.township().county(),
        }
    }
}

impl From<CountyCode> for PlaceCode {
    fn from(c: CountyCode) -> Self {
        Self::County(c)
    }
}

impl From<TownshipCode> for PlaceCode {
    fn from(c: TownshipCode) -> Self {
        Self::Township(c)
    }
}

impl From<VillageCode> for PlaceCode {
    fn from(c: VillageCode) -> Self {
        Self::Village(c)
    }
}

impl TryFrom<String> for PlaceCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PlaceCode> for String {
    fn from(c: PlaceCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for PlaceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Chinese resident identity number (身份证号, GB 11643-1999): six digits of region, eight of
/// birth date, three of sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check
/// character. `Debug` and `Display` never print the number: use [`IdNumber::masked`] for lists
/// and [`IdNumber::expose`] only where the full value is allowed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        let shape_ok = bytes.len() == 18
            && bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
        if !shape_ok {
            return Err(DomainError::IdNumberShape {
                len: value.chars().count(),
            });
        }
        let expected = Self::check_character(&value[..17]);
        let got = char::from(bytes[17]);
        if got != expected {
            return Err(DomainError::IdNumberChecksum { got, expected });
        }
        if !Self::province_known(&value[..2]) {
            return Err(DomainError::IdNumberRegion(value[..2].to_owned()));
        }
        let birth = &value[6..14];
        if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
            return Err(DomainError::IdNumberBirthDate(birth.to_owned()));
        }
        Ok(Self(value))
    }

    /// Whether the first two digits are a province of GB/T 2260 (with 83, Taiwan residents'
    /// permits, and 9x, foreigners' permanent residence cards).
    fn province_known(two: &str) -> bool {
        const PROVINCES: [&str; 35] = [
            "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
            "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
            "63", "64", "65", "71", "81", "82", "83",
        ];
        PROVINCES.contains(&two) || two.starts_with('9')
    }

    /// The ISO 7064 MOD 11-2 check character of the first 17 digits.
    pub fn check_character(first17: &str) -> char {
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
        let sum: u32 = first17
            .bytes()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b.saturating_sub(b'0')) * w)
            .sum();
        CHECK[(sum % 11) as usize]
    }

    /// The birth date the number encodes.
    pub fn birth_date(&self) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").ok()
    }

    /// Odd sequence digit: male.
    pub fn is_male(&self) -> bool {
        self.0.as_bytes()[16] % 2 == 1
    }

    /// First 6 and last 4 characters visible: `654022********123X`.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 6, 4)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// Replaces every character but the first `head` and last `tail` with `*`.
pub fn mask_middle(value: &str, head: usize, tail: usize) -> String {
    let n = value.chars().count();
    if n <= head + tail {
        return "*".repeat(n);
    }
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_village_code_knows_its_township_and_county() {
        let v = VillageCode::parse("654022100001").unwrap();
        assert_eq!(v.township().as_str(), "654022100");
        assert_eq!(v.township().county().as_str(), "654022");
    }

    #[test]
    fn a_place_code_of_any_level_knows_its_county() {
        for code in ["654022", "654022100", "654022100001"] {
            assert_eq!(PlaceCode::parse(code).unwrap().county().as_str(), "654022");
        }
        let v = VillageCode::parse("654022100001").unwrap();
        assert_eq!(PlaceCode::from(v.clone()).as_str(), v.as_str());
    }

    #[test]
    fn codes_of_the_wrong_length_or_with_letters_are_refused() {
        assert!(VillageCode::parse("65402210000").is_err());
        assert!(VillageCode::parse("65402210000a").is_err());
        assert!(TownshipCode::parse("654022100001").is_err());
        assert!(PlaceCode::parse("6540221").is_err());
    }

    #[test]
    fn a_place_code_contains_the_units_below_it_only() {
        let county = PlaceCode::parse("654022").unwrap();
        let town = PlaceCode::parse("654022100").unwrap();
        let village = PlaceCode::parse("654022100001").unwrap();
        let sibling = PlaceCode::parse("654022101").unwrap();
        assert!(county.contains(&town) && county.contains(&village) && town.contains(&village));
        assert!(!sibling.contains(&village) && !village.contains(&town));
    }

    #[test]
    fn id_numbers_are_checked_and_masked() {
        // GB 11643 example number.
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(
            id.birth_date(),
            chrono::NaiveDate::from_ymd_opt(1949, 12, 31)
        );
        assert!(!id.is_male());
        assert!(!format!("{id:?}").contains("19491231"));
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(DomainError::IdNumberChecksum {
                got: '1',
                expected: 'X'
            })
        );
        assert!(matches!(
            IdNumber::parse("1101051949123100"),
            Err(DomainError::IdNumberShape { .. })
        ));
        let first17 = "10010519491231002";
        let no_province = format!("{first17}{}", IdNumber::check_character(first17));
        assert_eq!(
            IdNumber::parse(&no_province),
            Err(DomainError::IdNumberRegion("10".to_owned()))
        );
    }
}
