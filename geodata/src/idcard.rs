//! 身份证号 (GB 11643-1999): 6-digit region code, birth date YYYYMMDD, 3-digit sequence whose
//! last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check character.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

/// The check character of the first 17 digits, or `None` if they are not 17 ASCII digits.
pub(crate) fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let digits = std::str::from_utf8(first17).ok()?;
    u8::try_from(echinomap_domain::IdNumber::check_character(digits)).ok()
}

/// True when `id` is 18 characters with a correct check character.
#[cfg(test)]
pub(crate) fn is_valid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 18 && check_char(&b[..17]) == Some(b[17])
}

/// Region codes used in turn once 654022 has no free sequence number left for a birth date and
/// sex (500 each). People living in Qapqal were often registered elsewhere first, so these are
/// real Ili and Xinjiang codes. With 40 codes, 20,000 people per birth date and sex fit, enough
/// for scale 100 (18 million people).
const REGIONS: &[&str] = &[
    "654022", "654002", "654021", "654023", "654024", "654025", "654026", "654027", "654028",
    "654003", "654004", "652701", "652722", "652723", "650102", "650103", "650104", "650105",
    "650106", "650107", "650109", "650121", "652301", "652302", "652323", "652324", "652325",
    "652327", "652328", "659001", "654201", "654202", "650202", "650203", "652901", "653101",
    "650402", "652801", "654301", "652201",
];
const PER_REGION: u32 = 500;

/// Hands out ID numbers that are unique across everything it has issued.
#[derive(Debug, Default)]
pub(crate) struct IdAllocator {
    issued: HashMap<NaiveDate, [u32; 2]>,
}

impl IdAllocator {
    /// The next unused number for this birth date and sex, or `None` when all regions are
    /// exhausted for it (the person is then stored without an ID number).
    pub(crate) fn next(&mut self, birth: NaiveDate, male: bool) -> Option<String> {
        let counters = self.issued.entry(birth).or_insert([0, 0]);
        let n = &mut counters[usize::from(male)];
        let region = REGIONS.get((*n / PER_REGION) as usize)?;
        // An affine permutation of 0..500 (263 is coprime to 500) spreads the sequence numbers.
        let salt = birth.num_days_from_ce().unsigned_abs();
        let slot = ((*n % PER_REGION) * 263 + salt) % PER_REGION;
        *n += 1;
        let seq = slot * 2 + u32::from(male);
        let mut id = format!(
            "{region}{:04}{:02}{:02}{seq:03}",
            birth.year(),
            birth.month(),
            birth.day()
        );
        let check = check_char(id.as_bytes())?;
        id.push(char::from(check));
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_example_number_has_the_right_check_character() {
        // The GB 11643 worked example: 11010519491231002X.
        assert!(is_valid("11010519491231002X"));
        assert!(!is_valid("110105194912310021"));
    }

    #[test]
    fn numbers_are_unique_carry_the_sex_and_spill_into_other_regions() {
        let mut a = IdAllocator::default();
        let d = NaiveDate::from_ymd_opt(1980, 2, 29).unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..1200 {
            let male = i % 2 == 0;
            let id = a.next(d, male).unwrap();
            assert!(is_valid(&id));
            assert_eq!(&id[6..14], "19800229");
            assert_eq!((id.as_bytes()[16] - b'0') % 2 == 1, male);
            assert!(seen.insert(id));
        }
        assert!(seen.iter().any(|id| !id.starts_with("654022")));
    }
}
