//! The programme's indicators (DOMAIN.md §3, docs/INDICATORS.md), declared in one place: what is
//! counted over what, how a period is read, the target and which way is better. The SQL of each
//! sits beside this file in `sql/KEY.sql`; the engine (`super`) runs it and aggregates.

/// How the numbers of a period are gathered. A range (`2022..2026`) is read as one period over
/// its whole span, as a year is (docs/INDICATORS.md, "Periods, ranges and relative periods").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodRule {
    /// Rows dated inside the period (a range: from its first day to its last).
    Span,
    /// Each month on its own; a quarter, year or range is the sum of its months' numerators over
    /// the sum of their denominators (never a mean of ratios), and reports how many months met
    /// the target (`rounds`).
    Monthly,
    /// The state at the period's last day, over the denominator of that day's year (a range:
    /// its last day, the denominator of its last year).
    AtEnd,
    /// The state at the period's last day, or today while the period (or range) runs.
    AsOf,
}

/// What the value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// numerator / denominator, a fraction 0–1 (may exceed 1 for vaccination).
    Proportion,
    /// numerator / number of villages.
    PerVillage,
    /// the numerator itself; no denominator.
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// A target: the value must be at least, or below, `value`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Target {
    pub op: Op,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = ">")]
    Above,
    #[serde(rename = "<")]
    Below,
    #[serde(rename = "<=")]
    AtMost,
}

impl Op {
    /// Floating-point values are compared with a tolerance of 1e-12 so that 4/5 meets 0.8.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        const EPS: f64 = 1e-12;
        match self {
            Op::AtLeast => value >= threshold - EPS,
            Op::Above => value > threshold + EPS,
            Op::Below => value < threshold - EPS,
            Op::AtMost => value <= threshold + EPS,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::AtLeast => ">=",
            Op::Above => ">",
            Op::Below => "<",
            Op::AtMost => "<=",
        }
    }
}

#[derive(Debug)]
pub struct Indicator {
    pub key: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub numerator: &'static str,
    pub denominator: &'static str,
    pub measure: Measure,
    pub period_rule: PeriodRule,
    pub target: Option<Target>,
    pub direction: Direction,
    /// Counts of people: small counts are suppressed for roles without case access.
    pub personal: bool,
    /// Rows (code, period index, numerator, denominator, extra jsonb); see `super::HEADER`.
    pub sql: &'static str,
    /// The SQL reads the deworming rollup, which `super::rollup::refresh` updates first.
    pub rollup: bool,
}

const fn at_least(value: f64) -> Option<Target> {
    Some(Target {
        op: Op::AtLeast,
        value,
    })
}

const fn below(value: f64) -> Option<Target> {
    Some(Target {
        op: Op::Below,
        value,
    })
}

/// Every indicator, in the order of DOMAIN.md §3 (rodent infection last: stage rules only).
pub const INDICATORS: &[Indicator] = &[
    Indicator {
        key: "dog_registration",
        name_zh: "家犬登记管理率",
        name_en: "dog registration rate",
        numerator: "registered dogs (not strays) alive at the period's end, by the dog's village",
        denominator: "estimated dogs of the village for the period's year (village_denominators)",
        measure: Measure::Proportion,
        period_rule: PeriodRule::AtEnd,
        target: at_least(0.90),
        direction: Direction::HigherIsBetter,
        personal: false,
        sql: include_str!("sql/dog_registration.sql"),
        rollup: false,
    },
    Indicator {
        key: "deworming_coverage",
        name_zh: "犬驱虫覆盖率",
        name_en: "monthly deworming coverage",
        numerator: "distinct dogs of the denominator dosed in the month, by the dose's village",
        denominator: "dogs registered by the month's last day and alive on its first day",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Monthly,
        target: at_least(0.80),
        direction: Direction::HigherIsBetter,
        personal: false,
        sql: include_str!("sql/deworming_coverage.sql"),
        rollup: true,
    },
    Indicator {
        key: "dog_faecal_positivity",
        name_zh: "犬粪抗原阳性率",
        name_en: "dog faecal positivity",
        numerator: "positive faecal samples taken in the period",
        denominator: "positive + negative samples (inconclusive reported apart)",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        target: below(0.05),
        direction: Direction::LowerIsBetter,
        personal: false,
        sql: include_str!("sql/dog_faecal_positivity.sql"),
        rollup: false,
    },
    Indicator {
        key: "ownerless_dogs",
        name_zh: "无主犬",
        name_en: "ownerless dogs per village",
        numerator: "ownerless dogs recorded in the period (sum of n_dogs, every action)",
        denominator: "villages",
        measure: Measure::PerVillage,
        period_rule: PeriodRule::Span,
        target: below(1.0),
        direction: Direction::LowerIsBetter,
        personal: false,
        sql: include_str!("sql/ownerless_dogs.sql"),
        rollup: false,
    },
    Indicator {
        key: "offal_disposal",
        name_zh: "病害脏器无害化处理率",
        name_en: "infected offal disposal rate",
        numerator: "infected animals whose offal was disposed of, at the point's village",
        denominator: "infected animals found at inspection",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        target: at_least(1.0),
        direction: Direction::HigherIsBetter,
        personal: false,
        sql: include_str!("sql/offal_disposal.sql"),
        rollup: false,
    },
    Indicator {
        key: "livestock_infection",
        name_zh: "家畜患病率",
        name_en: "livestock infection (animals under 2 years)",
        numerator: "animals under 2 years with cysts, by origin village",
        denominator: "animals under 2 years inspected, by origin village (no origin: county only)",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        target: below(0.10),
        direction: Direction::LowerIsBetter,
        personal: false,
        sql: include_str!("sql/livestock_infection.sql"),
        rollup: false,
    },
    Indicator {
        key: "child_seropositivity",
        name_zh: "儿童血清阳性率",
        name_en: "child seropositivity (6–12 years)",
        numerator: "positives of school surveys by serum ELISA",
        denominator: "children screened in those surveys",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        target: below(0.05),
        direction: Direction::LowerIsBetter,
        personal: true,
        sql: include_str!("sql/child_seropositivity.sql"),
        rollup: false,
    },
    Indicator {
        key: "human_prevalence",
        name_zh: "人群患病率",
        name_en: "human prevalence (ultrasound)",
        numerator: "positives of B-ultrasound screening",
        denominator: "people screened by B-ultrasound",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        // No target: 1% and 0.1% choose the deworming regime (reported as `regime`).
        target: None,
        direction: Direction::LowerIsBetter,
        personal: true,
        sql: include_str!("sql/human_prevalence.sql"),
        rollup: false,
    },
    Indicator {
        key: "new_cases",
        name_zh: "新发病例",
        name_en: "new cases",
        numerator: "distinct people with a first (non-revisit) case report in the period",
        denominator: "",
        measure: Measure::Count,
        period_rule: PeriodRule::Span,
        target: None,
        direction: Direction::LowerIsBetter,
        personal: true,
        sql: include_str!("sql/new_cases.sql"),
        rollup: false,
    },
    Indicator {
        key: "new_child_cases",
        name_zh: "新发儿童病例",
        name_en: "new child cases",
        numerator: "new cases aged at most the rule set's child age at the report",
        denominator: "",
        measure: Measure::Count,
        period_rule: PeriodRule::Span,
        target: None,
        direction: Direction::LowerIsBetter,
        personal: true,
        sql: include_str!("sql/new_child_cases.sql"),
        rollup: false,
    },
    Indicator {
        key: "vaccination_progress",
        name_zh: "羊免疫进度",
        name_en: "sheep vaccination progress",
        numerator: "animals immunised on vaccination rows dated in the period",
        denominator: "animals due (target) on the same rows",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        target: at_least(1.0),
        direction: Direction::HigherIsBetter,
        personal: false,
        sql: include_str!("sql/vaccination_progress.sql"),
        rollup: false,
    },
    Indicator {
        key: "patients_managed",
        name_zh: "规范管理率",
        name_en: "patients managed on schedule",
        numerator: "followed patients whose next follow-up is not overdue (the one schedule)",
        denominator: "followed patients: first reports under treatment or watch-and-wait",
        measure: Measure::Proportion,
        period_rule: PeriodRule::AsOf,
        target: None,
        direction: Direction::HigherIsBetter,
        personal: true,
        sql: include_str!("sql/patients_managed.sql"),
        rollup: false,
    },
    Indicator {
        key: "awareness",
        name_zh: "知晓率",
        name_en: "awareness",
        numerator: "correct answers in knowledge surveys held in the period",
        denominator: "respondents",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        target: at_least(0.80),
        direction: Direction::HigherIsBetter,
        personal: false,
        sql: include_str!("sql/awareness.sql"),
        rollup: false,
    },
    Indicator {
        key: "rodent_infection",
        name_zh: "鼠类感染率",
        name_en: "rodent infection",
        numerator: "rodents infected",
        denominator: "rodents dissected",
        measure: Measure::Proportion,
        period_rule: PeriodRule::Span,
        target: None,
        direction: Direction::LowerIsBetter,
        personal: false,
        sql: include_str!("sql/rodent_infection.sql"),
        rollup: false,
    },
];

/// The indicator named `key`.
pub fn find(key: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|i| i.key == key)
}

/// The names of every indicator, for error messages.
pub fn keys() -> String {
    INDICATORS
        .iter()
        .map(|i| i.key)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_proportions_have_a_denominator() {
        let mut seen = std::collections::HashSet::new();
        for i in INDICATORS {
            assert!(seen.insert(i.key), "{} twice", i.key);
            assert_eq!(
                i.measure == Measure::Count,
                i.denominator.is_empty(),
                "{}",
                i.key
            );
            assert!(i.sql.contains("SELECT"), "{}", i.key);
        }
    }
}
