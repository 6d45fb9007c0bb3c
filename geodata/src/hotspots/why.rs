//! "Say why": when an analysis finds no significant hot or cold spot, the likely reasons (too
//! few cases, too few units, too many islands, no variation, or simply no clustering) and what
//! to try instead. The thresholds are in docs/ANALYSIS.md ("Saying why"); each reason and
//! suggestion serialises as `{"code", "params", "message"}` (an English sentence).

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Value, json};

use super::{Correction, LisaCluster, Summary, WeightsInfo, significant};

/// Fewer testable units than this: too few units.
pub const MIN_TESTABLE: usize = 8;
/// Fewer cases in total than this: too few cases.
pub const MIN_CASES: f64 = 10.0;
/// A mean count per unit below this: too few cases.
pub const MIN_MEAN_CASES: f64 = 0.5;
/// More islands than this share of the units: too many islands.
pub const MAX_ISLAND_SHARE: f64 = 0.2;

/// What the units of an analysis are (the suggestions depend on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Village,
    Township,
    H3,
}

/// A reason why an analysis found nothing (or, for islands, a warning).
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// The analysed series is the same in every unit (all counts 0, or EB rates all shrunk to
    /// the mean).
    NoVariation,
    /// Fewer than `min` units have a neighbour.
    TooFewUnits { testable: usize, min: usize },
    /// Fewer than 10 cases, or fewer than 0.5 per unit on average.
    TooFewCases { cases: f64, units: usize },
    /// More than 20 % of the units have no neighbour and are not tested.
    TooManyIslands { islands: usize, n: usize },
    /// Enough data, and nothing significant at `alpha`.
    NoClustering { alpha: f64 },
}

/// What to try instead.
#[derive(Debug, Clone, PartialEq)]
pub enum Suggestion {
    WiderArea,
    /// A period of about `years` years.
    LongerPeriod {
        years: u32,
    },
    FinerUnits,
    /// A larger k, a wider band or a wider ring.
    MoreNeighbours,
    UseKnn,
    CoarserCells,
}

impl Why {
    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Why::NoVariation => "no_variation",
            Why::TooFewUnits { .. } => "too_few_units",
            Why::TooFewCases { .. } => "too_few_cases",
            Why::TooManyIslands { .. } => "too_many_islands",
            Why::NoClustering { .. } => "no_clustering",
        }
    }

    /// The numbers in the message, as JSON.
    pub fn params(&self) -> Value {
        match self {
            Why::NoVariation => json!({}),
            Why::TooFewUnits { testable, min } => json!({ "testable": testable, "min": min }),
            Why::TooFewCases { cases, units } => json!({ "cases": cases, "units": units }),
            Why::TooManyIslands { islands, n } => json!({ "islands": islands, "n": n }),
            Why::NoClustering { alpha } => json!({ "alpha": alpha }),
        }
    }

    /// One English sentence.
    pub fn message(&self) -> String {
        match self {
            Why::NoVariation => {
                "The analysed values are the same in every unit (empirical-Bayes rates all equal the mean when the counts vary no more than chance): there is nothing to compare."
                    .into()
            }
            Why::TooFewUnits { testable, min } => format!(
                "Only {testable} units have a neighbour and can be tested; at least {min} are needed."
            ),
            Why::TooFewCases { cases, units } => format!(
                "Only {cases} cases in {units} units (fewer than {MIN_CASES} in all, or under \
                 {MIN_MEAN_CASES} per unit): too few to tell a cluster from chance."
            ),
            Why::TooManyIslands { islands, n } => format!(
                "{islands} of {n} units have no neighbour and are not tested (more than {}%).",
                MAX_ISLAND_SHARE * 100.0
            ),
            Why::NoClustering { alpha } => format!(
                "The data suffice for the test, and no unit is a significant hot or cold spot at \
                 α = {alpha}: no evidence of clustering."
            ),
        }
    }
}

impl Suggestion {
    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Suggestion::WiderArea => "wider_area",
            Suggestion::LongerPeriod { .. } => "longer_period",
            Suggestion::FinerUnits => "finer_units",
            Suggestion::MoreNeighbours => "more_neighbours",
            Suggestion::UseKnn => "use_knn",
            Suggestion::CoarserCells => "coarser_cells",
        }
    }

    /// The numbers in the message, as JSON.
    pub fn params(&self) -> Value {
        match self {
            Suggestion::LongerPeriod { years } => json!({ "years": years }),
            _ => json!({}),
        }
    }

    /// One English sentence.
    pub fn message(&self) -> String {
        match self {
            Suggestion::WiderArea => {
                "Analyse a wider area (the whole county rather than one township).".into()
            }
            Suggestion::LongerPeriod { years } => format!(
                "Use a longer period: about {years} year{} would gather enough cases.",
                if *years == 1 { "" } else { "s" }
            ),
            Suggestion::FinerUnits => {
                "Use smaller units (villages rather than townships, or finer H3 cells) to get more units.".into()
            }
            Suggestion::MoreNeighbours => {
                "Give each unit more neighbours: a larger k, a wider distance band or a wider ring.".into()
            }
            Suggestion::UseKnn => {
                "Use k-nearest-neighbour weights (weights=knn): every unit then has neighbours.".into()
            }
            Suggestion::CoarserCells => {
                "Use coarser H3 cells (a lower resolution) so that each cell gathers more cases.".into()
            }
        }
    }
}

fn serialize_coded<S: serde::Serializer>(
    s: S,
    code: &str,
    params: Value,
    message: String,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(3))?;
    map.serialize_entry("code", code)?;
    map.serialize_entry("params", &params)?;
    map.serialize_entry("message", &message)?;
    map.end()
}

impl Serialize for Why {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_coded(s, self.code(), self.params(), self.message())
    }
}

impl Serialize for Suggestion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_coded(s, self.code(), self.params(), self.message())
    }
}

/// How many units are significant, why there are none (or a warning), and what to try.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Units significant at the requested level by Gi* (p-value, corrected) or LISA (a cluster
    /// HH, LL, HL or LH): each unit counts once, whichever statistics call it significant.
    pub significant: usize,
    pub reasons: Vec<Why>,
    pub suggestions: Vec<Suggestion>,
}

/// What the diagnosis reads of an analysis.
#[derive(Debug, Clone, Copy)]
pub struct Analysed<'a> {
    /// The analysis's summary (units, testable units, islands, global Moran's I).
    pub summary: &'a Summary,
    /// The Gi* p-value of each unit (`None`: not tested, an island).
    pub gi_star_p: &'a [Option<f64>],
    /// The LISA cluster of each unit at the requested level and correction.
    pub lisa: &'a [LisaCluster],
    /// The total count of the analysed units.
    pub cases: f64,
    /// The weights used.
    pub weights: &'a WeightsInfo,
    /// What the units are.
    pub unit: UnitKind,
    /// The length of the period, years (for the period to suggest).
    pub period_years: f64,
    /// The scope is below the county (a township or a village): only then is there a wider
    /// area to suggest.
    pub below_county: bool,
}

/// How many units are significant at `alpha` under `correction`: Gi* decided from its p-values
/// ([`significant`]), LISA from its clusters; a unit significant by both counts once.
pub fn significant_units(
    gi_star_p: &[Option<f64>],
    lisa: &[LisaCluster],
    alpha: f64,
    correction: Correction,
) -> usize {
    let gi = significant(gi_star_p, alpha, correction);
    (0..gi.len().max(lisa.len()))
        .filter(|&i| {
            gi.get(i).copied().unwrap_or(false)
                || lisa
                    .get(i)
                    .is_some_and(|l| *l != LisaCluster::NotSignificant)
        })
        .count()
}

/// The diagnosis of an analysis `a` tested at `alpha` under `correction`. Reasons are listed
/// only when no unit is significant, except [`Why::TooManyIslands`], listed whenever it holds.
pub fn diagnose(a: &Analysed<'_>, alpha: f64, correction: Correction) -> Diagnosis {
    let summary = a.summary;
    let (cases, weights, unit, period_years) = (a.cases, a.weights, a.unit, a.period_years);
    let significant = significant_units(a.gi_star_p, a.lisa, alpha, correction);
    let mut reasons = Vec::new();
    let mut suggestions = Vec::new();
    let suggest = |s: Suggestion, into: &mut Vec<Suggestion>| {
        if !into.contains(&s) {
            into.push(s);
        }
    };
    let n = summary.n;
    let too_many_islands = n > 0 && summary.islands as f64 > MAX_ISLAND_SHARE * n as f64;
    if significant == 0 {
        let constant = summary.testable > 0 && summary.moran.i.is_none();
        if constant {
            reasons.push(Why::NoVariation);
        }
        if summary.testable < MIN_TESTABLE {
            reasons.push(Why::TooFewUnits {
                testable: summary.testable,
                min: MIN_TESTABLE,
            });
            if a.below_county {
                suggest(Suggestion::WiderArea, &mut suggestions);
            }
            if unit != UnitKind::Village {
                suggest(Suggestion::FinerUnits, &mut suggestions);
            }
        }
        let mean = if n == 0 { 0.0 } else { cases / n as f64 };
        if cases < MIN_CASES || mean < MIN_MEAN_CASES {
            reasons.push(Why::TooFewCases { cases, units: n });
            // The period that would give 10 cases and 0.5 per unit at the same incidence.
            let factor = if cases > 0.0 {
                (MIN_CASES / cases).max(MIN_MEAN_CASES * n as f64 / cases)
            } else {
                2.0
            };
            let years = (period_years.max(1.0 / 12.0) * factor).ceil().max(1.0) as u32;
            suggest(Suggestion::LongerPeriod { years }, &mut suggestions);
            if a.below_county {
                suggest(Suggestion::WiderArea, &mut suggestions);
            }
            if unit == UnitKind::H3 {
                suggest(Suggestion::CoarserCells, &mut suggestions);
            }
        }
        if constant && cases > 0.0 {
            suggest(
                Suggestion::LongerPeriod {
                    years: (period_years * 2.0).ceil().max(1.0) as u32,
                },
                &mut suggestions,
            );
        }
    }
    if too_many_islands {
        reasons.push(Why::TooManyIslands {
            islands: summary.islands,
            n,
        });
        match weights.kind {
            "distance" | "contiguity" => {
                suggest(Suggestion::UseKnn, &mut suggestions);
                if weights.kind == "distance" {
                    suggest(Suggestion::MoreNeighbours, &mut suggestions);
                }
            }
            "ring" => {
                suggest(Suggestion::MoreNeighbours, &mut suggestions);
                suggest(Suggestion::CoarserCells, &mut suggestions);
            }
            _ => suggest(Suggestion::MoreNeighbours, &mut suggestions),
        }
    }
    if significant == 0 && reasons.is_empty() {
        reasons.push(Why::NoClustering { alpha });
    }
    Diagnosis {
        significant,
        reasons,
        suggestions,
    }
}

#[cfg(test)]
mod tests;
