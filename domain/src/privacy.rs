//! Who may see which numbers (DOMAIN.md §7): the [`Audience`] of an output, the small-count
//! [`Suppression`] rule each audience gets, and the masking of personal identifiers in lists.
//!
//! Patient records are personal health information (PIPL). Case-level rows go only to roles
//! allowed to see them; every other output is an aggregate whose small counts of people are
//! hidden, more of them when the output leaves the organisation. The thresholds live here once,
//! so that API lists, tiles, exports, OGC, hotspots, reports and work lists cannot disagree;
//! each output keeps its own way of *showing* a hidden value (`null` and a `suppressed` flag,
//! `*` in a spreadsheet, `1–4` on the field page: see [`Suppression::label`]).

use crate::{DomainError, IdNumber, mask_middle};

/// Who receives an output, as far as small counts are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Roles allowed to see case rows, within their own area: nothing is hidden from them,
    /// since the rows behind any count are theirs to read anyway.
    CaseAccess,
    /// Inside the organisation without case access (planners, vets, viewers): small counts
    /// hidden, by default cells of 1–4.
    Inside,
    /// Shared outside the organisation (an export marked for an external audience), whatever
    /// the role of who asked for it: more is hidden, by default cells of 1–9.
    Outside,
}

/// The small-count rule: for each audience, the largest count of people that is hidden.
/// Zero is always shown (an empty cell identifies nobody) and so is any count above the
/// maximum. Built only through [`Suppression::new`] or [`Suppression::DEFAULT`], so a value in
/// hand always hides at least the count 1 and never hides less outside than inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suppression {
    inside_max: i64,
    outside_max: i64,
}

impl Suppression {
    /// DOMAIN.md §7: cells of 1–4 hidden inside the organisation, 1–9 outside.
    pub const DEFAULT: Self = Self {
        inside_max: 4,
        outside_max: 9,
    };

    /// The largest count hidden inside the organisation.
    pub const fn inside_max(self) -> i64 {
        self.inside_max
    }

    /// The largest count hidden outside the organisation.
    pub const fn outside_max(self) -> i64 {
        self.outside_max
    }

    /// A rule hiding 1..=`inside_max` inside the organisation and 1..=`outside_max` outside
    /// it. Refused unless `1 ≤ inside_max ≤ outside_max`: a maximum of 0 would hide nothing,
    /// and an outside audience must never see a count the inside one does not.
    pub fn new(inside_max: i64, outside_max: i64) -> Result<Self, DomainError> {
        if inside_max >= 1 && outside_max >= inside_max {
            Ok(Self {
                inside_max,
                outside_max,
            })
        } else {
            Err(DomainError::SuppressionRule {
                inside_max,
                outside_max,
            })
        }
    }

    /// The largest hidden count for `audience`; `None` when nothing is hidden. An `i64`
    /// because it is compared with PostgreSQL's `bigint` counts and bound as a parameter of
    /// the SQL that applies it.
    pub fn max_for(self, audience: Audience) -> Option<i64> {
        match audience {
            Audience::CaseAccess => None,
            Audience::Inside => Some(self.inside_max),
            Audience::Outside => Some(self.outside_max),
        }
    }

    /// True when `audience` must not see `count`: 1 ≤ `count` ≤ the audience's maximum.
    pub fn hides(self, audience: Audience, count: i64) -> bool {
        self.max_for(audience)
            .is_some_and(|max| (1..=max).contains(&count))
    }

    /// [`Suppression::hides`] for counts that arrive as floating point (sums of indicator
    /// cells, numbers read from JSON): hidden when 1 ≤ `count` ≤ the maximum. NaN is not
    /// hidden (it is no count of anybody).
    pub fn hides_f64(self, audience: Audience, count: f64) -> bool {
        hidden_under(self.max_for(audience), count)
    }

    /// The rule as one audience reads it beside its counts.
    pub fn stated_for(self, audience: Audience) -> SmallCounts {
        SmallCounts {
            max: self.max_for(audience),
            label: self.label(audience),
        }
    }

    /// `count` as `audience` may see it: `None` when it is hidden.
    pub fn apply(self, audience: Audience, count: i64) -> Option<i64> {
        (!self.hides(audience, count)).then_some(count)
    }

    /// The range hidden from `audience` as people read it, `1–4` (with an en dash), for the
    /// outputs that show the range in place of a hidden value; `None` when nothing is hidden.
    pub fn label(self, audience: Audience) -> Option<String> {
        self.max_for(audience).map(|max| format!("1–{max}"))
    }
}

/// True when `count` is hidden under `max`, the largest count hidden from the reader of an
/// output (`None`: nothing is hidden; [`Suppression::max_for`]): 1 ≤ `count` ≤ `max`. The one
/// comparison of the rule for counts computed in Rust; SQL outputs bind `max` as a parameter
/// and compare there. Counts arrive as `f64` from indicator cells and statistics, and whole
/// numbers convert exactly; NaN is not hidden.
pub fn hidden_under(max: Option<i64>, count: f64) -> bool {
    max.is_some_and(|max| count >= 1.0 && count <= max as f64)
}

/// The small-count rule as one audience reads it (`"small_counts": {"max": 4, "label": "1–4"}`),
/// both `null` when nothing is hidden from it. Outputs that show the hidden range (the field
/// page, the dashboard's legend) take it from here rather than writing a number of their own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SmallCounts {
    /// The largest count hidden.
    pub max: Option<i64>,
    /// The hidden range as people read it ([`Suppression::label`]).
    pub label: Option<String>,
}

impl Default for Suppression {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A national ID number as lists show it (the whole number only in the audited detail of one
/// record): the first 6 characters (the region) and the last 4 visible.
///
/// A valid number is masked in its normal form (trimmed, check character `X` upper case);
/// anything else is masked as given, character by character, so that a malformed value is
/// hidden too. A value of 10 characters or fewer is all `*`.
pub fn mask_id_number(id: &str) -> String {
    IdNumber::parse(id).map_or_else(|_| mask_middle(id, 6, 4), |n| n.masked())
}

/// A phone number as lists show it: the first 3 and last 4 characters visible, counted in
/// characters; 7 characters or fewer are all `*`.
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// Whole years of age on `today` of someone born on `birth_date`: what lists show instead of the
/// birth date beside a masked ID number, whose hidden digits are that date (issue 17). An age
/// leaves about 730 possible birth dates, about 66 with a valid check character.
pub fn age_years(birth_date: chrono::NaiveDate, today: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut age = today.year() - birth_date.year();
    if (today.month(), today.day()) < (birth_date.month(), birth_date.day()) {
        age -= 1;
    }
    age.max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years() {
        let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        assert_eq!(age_years(d(1985, 3, 12), d(2026, 3, 11)), 40);
        assert_eq!(age_years(d(1985, 3, 12), d(2026, 3, 12)), 41);
        assert_eq!(age_years(d(2000, 2, 29), d(2001, 2, 28)), 0);
        assert_eq!(age_years(d(2030, 1, 1), d(2026, 1, 1)), 0);
    }

    use Audience::{CaseAccess, Inside, Outside};

    #[test]
    fn the_default_rule_hides_one_to_four_inside_and_one_to_nine_outside() {
        let s = Suppression::default();
        assert_eq!(s, Suppression::DEFAULT);
        assert_eq!(Suppression::new(4, 9), Ok(s));
        assert_eq!(s.max_for(CaseAccess), None);
        assert_eq!(s.max_for(Inside), Some(4));
        assert_eq!(s.max_for(Outside), Some(9));
        assert_eq!(s.label(CaseAccess), None);
        assert_eq!(s.label(Inside).as_deref(), Some("1–4"));
        assert_eq!(s.label(Outside).as_deref(), Some("1–9"));
    }

    #[test]
    fn a_rule_that_hides_nothing_or_less_outside_than_inside_is_refused() {
        for (inside, outside) in [(0, 9), (-1, 9), (0, 0), (4, 3), (5, 0), (1, -1)] {
            assert_eq!(
                Suppression::new(inside, outside),
                Err(DomainError::SuppressionRule {
                    inside_max: inside,
                    outside_max: outside
                }),
                "{inside}, {outside}"
            );
        }
        assert!(Suppression::new(1, 1).is_ok());
        assert!(Suppression::new(4, 4).is_ok());
        assert!(
            DomainError::SuppressionRule {
                inside_max: 5,
                outside_max: 3
            }
            .to_string()
            .contains("inside 5 and outside 3")
        );
    }

    /// `hides`, `hides_f64` and `apply` at 0, 1, the maximum and one above it.
    fn check_edges(s: Suppression, audience: Audience, max: i64) {
        for (count, hidden) in [(0, false), (1, true), (max, true), (max + 1, false)] {
            let at = format!("{audience:?} {count}");
            assert_eq!(s.hides(audience, count), hidden, "{at}");
            assert_eq!(s.hides_f64(audience, count as f64), hidden, "{at}");
            assert_eq!(s.apply(audience, count), (!hidden).then_some(count), "{at}");
        }
    }

    #[test]
    fn counts_from_one_to_the_maximum_are_hidden_and_zero_and_larger_counts_shown() {
        let s = Suppression::DEFAULT;
        check_edges(s, Inside, 4);
        check_edges(s, Outside, 9);
        assert!(!s.hides(Inside, 9) && s.hides(Outside, 9));
        assert!(!s.hides(Inside, -1) && !s.hides(Outside, i64::MAX));
    }

    #[test]
    fn roles_with_case_access_see_every_count() {
        let s = Suppression::DEFAULT;
        for count in [0, 1, 4, 5, 9, 10] {
            assert!(!s.hides(CaseAccess, count));
            assert!(!s.hides_f64(CaseAccess, count as f64));
            assert_eq!(s.apply(CaseAccess, count), Some(count));
        }
    }

    #[test]
    fn a_test_only_rule_of_one_to_six_and_one_to_eleven_moves_every_edge() {
        let s = Suppression::new(6, 11).expect("valid");
        assert_eq!(s.max_for(Inside), Some(6));
        assert_eq!(s.max_for(Outside), Some(11));
        assert_eq!(s.label(Inside).as_deref(), Some("1–6"));
        assert_eq!(s.label(Outside).as_deref(), Some("1–11"));
        check_edges(s, Inside, 6);
        check_edges(s, Outside, 11);
        assert!(s.hides(Inside, 5) && !Suppression::DEFAULT.hides(Inside, 5));
    }

    #[test]
    fn fractional_counts_are_hidden_only_within_one_to_the_maximum() {
        let s = Suppression::DEFAULT;
        assert!(!s.hides_f64(Inside, 0.5));
        assert!(s.hides_f64(Inside, 2.5));
        assert!(!s.hides_f64(Inside, 4.5));
        assert!(s.hides_f64(Outside, 4.5));
        assert!(!s.hides_f64(Inside, f64::NAN));
    }

    #[test]
    fn id_numbers_show_their_first_six_and_last_four_characters() {
        for (input, masked) in [
            // Valid (GB 11643 example): masked in normal form.
            ("11010519491231002X", "110105********002X"),
            ("11010519491231002x", "110105********002X"),
            (" 11010519491231002X ", "110105********002X"),
            // Not valid (check character, check character in lower case, month 13, length, blanks):
            // masked as given.
            ("110105194912310021", "110105********0021"),
            ("11010519491231003x", "110105********003x"),
            ("110105194913310021", "110105********0021"),
            (" 110105194912310021 ", " 11010**********021 "),
            ("110105491231002", "110105*****1002"),
            ("12345678901", "123456*8901"),
            ("1234567890", "**********"),
            ("12345", "*****"),
            ("", ""),
            // Characters, not bytes.
            (
                "６５４０２２１９８００１０１１２３４",
                "６５４０２２********１２３４",
            ),
            ("阿依古丽", "****"),
        ] {
            assert_eq!(mask_id_number(input), masked, "{input:?}");
        }
    }

    #[test]
    fn phones_show_their_first_three_and_last_four_characters() {
        for (input, masked) in [
            ("13912345678", "139****5678"),
            ("0999-1234567", "099*****4567"),
            ("+86 139 1234 5678", "+86**********5678"),
            ("12345678", "123*5678"),
            ("1234567", "*******"),
            ("123", "***"),
            ("", ""),
            ("１３９１２３４５６７８", "１３９****５６７８"),
        ] {
            assert_eq!(mask_phone(input), masked, "{input:?}");
        }
    }

    #[test]
    fn a_count_is_hidden_from_one_to_the_maximum_and_never_without_one() {
        for (count, hidden) in [
            (0.0, false),
            (1.0, true),
            (4.0, true),
            (4.5, false),
            (5.0, false),
        ] {
            assert_eq!(hidden_under(Some(4), count), hidden, "{count}");
            assert!(!hidden_under(None, count), "{count}");
        }
        assert!(hidden_under(Some(6), 5.0));
    }

    #[test]
    fn each_audience_reads_its_rule_and_its_range() {
        let rule = Suppression::new(6, 11).expect("valid");
        let inside = rule.stated_for(Audience::Inside);
        assert_eq!(
            (inside.max, inside.label.as_deref()),
            (Some(6), Some("1–6"))
        );
        let none = rule.stated_for(Audience::CaseAccess);
        assert_eq!((none.max, none.label), (None, None));
    }
}
