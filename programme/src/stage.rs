//! The county's control stage (2025 technical plan): a versioned rule set kept as data
//! (`config/stage_rules.json`, replaced by `ECHINOMAP_STAGE_RULES`), validated at start-up, and
//! its evaluation for the county and each township over consecutive years.
//!
//! A unit reaches a stage when every rule of that stage and of every stage before it passes. A
//! rule passes when its indicator meets the threshold in each of its `years` consecutive years
//! ending with the evaluated year; a year without data fails the rule (no evidence), unless the
//! rule is `optional_without_data` and there is no data in any of its years.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::indicators::{self, Cell, Grouping, Indicator, Op, Options, Period};
use crate::units::{Level, Unit};

/// The rule set shipped with echinomap.
pub const DEFAULT_RULES: &str = include_str!("../../config/stage_rules.json");

/// The five stages, in order.
pub const STAGE_KEYS: [&str; 5] = [
    "not_controlled",
    "epidemic_control",
    "transmission_control",
    "transmission_interrupted",
    "eliminated",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRules {
    pub version: String,
    #[serde(default)]
    pub source: String,
    pub case_definition: CaseDefinition,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDefinition {
    /// WS 257 classes that count as cases: `suspected`, `clinical`, `confirmed`.
    pub diagnosis_classes: Vec<String>,
    /// New child cases: age at the report, in whole years, at most this.
    pub child_max_age: i32,
    #[serde(default)]
    pub to_confirm: bool,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub key: String,
    pub name_zh: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub indicator: String,
    pub op: Op,
    pub threshold: f64,
    /// Consecutive years that must all meet the threshold.
    pub years: u32,
    /// At county level, every township must meet it too.
    #[serde(default)]
    pub each_township: bool,
    /// A threshold that is not public: a placeholder to confirm.
    #[serde(default)]
    pub to_confirm: bool,
    /// Units without any data for the rule are not judged on it.
    #[serde(default)]
    pub optional_without_data: bool,
    #[serde(default)]
    pub note: String,
}

/// What is wrong with a rule file: the start-up error names the file and the place.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read the stage rule file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the stage rule file {path} does not parse: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the stage rule file {path} is invalid: {what}")]
    Invalid { path: String, what: String },
}

impl StageRules {
    /// The rule file at `path`, or the shipped one; parsed and validated.
    pub fn load(path: Option<&Path>) -> Result<Self, RulesError> {
        match path {
            None => Self::parse(DEFAULT_RULES, "config/stage_rules.json (built in)"),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| RulesError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                Self::parse(&text, &p.display().to_string())
            }
        }
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, RulesError> {
        let rules: StageRules = serde_json::from_str(text).map_err(|source| RulesError::Parse {
            path: origin.to_owned(),
            source,
        })?;
        rules.validate().map_err(|what| RulesError::Invalid {
            path: origin.to_owned(),
            what,
        })?;
        Ok(rules)
    }

    fn validate(&self) -> Result<(), String> {
        if self.version.trim().is_empty() {
            return Err("`version` is empty".into());
        }
        let cd = &self.case_definition;
        if cd.diagnosis_classes.is_empty() {
            return Err("case_definition.diagnosis_classes is empty".into());
        }
        for c in &cd.diagnosis_classes {
            if !["suspected", "clinical", "confirmed"].contains(&c.as_str()) {
                return Err(format!(
                    "case_definition.diagnosis_classes: unknown class {c:?} (suspected, clinical or confirmed)"
                ));
            }
        }
        if !(0..=18).contains(&cd.child_max_age) {
            return Err(format!(
                "case_definition.child_max_age {} is not an age of a child (0–18)",
                cd.child_max_age
            ));
        }
        let keys: Vec<&str> = self.stages.iter().map(|s| s.key.as_str()).collect();
        if keys != STAGE_KEYS {
            return Err(format!(
                "stages must be, in order, {} (got {})",
                STAGE_KEYS.join(", "),
                keys.join(", ")
            ));
        }
        if !self.stages[0].rules.is_empty() {
            return Err("stage not_controlled is where every unit starts: it has no rules".into());
        }
        let mut ids = std::collections::HashSet::new();
        for stage in &self.stages {
            for r in &stage.rules {
                let at = format!("stage {}, rule {:?}", stage.key, r.id);
                if r.id.trim().is_empty() {
                    return Err(format!("stage {}: a rule without an id", stage.key));
                }
                if !ids.insert(r.id.clone()) {
                    return Err(format!("{at}: the id is used twice"));
                }
                if indicators::defs::find(&r.indicator).is_none() {
                    return Err(format!(
                        "{at}: unknown indicator {:?} (known: {})",
                        r.indicator,
                        indicators::defs::keys()
                    ));
                }
                if !(1..=10).contains(&r.years) {
                    return Err(format!("{at}: years must be 1–10, got {}", r.years));
                }
                if !r.threshold.is_finite() || r.threshold < 0.0 {
                    return Err(format!(
                        "{at}: threshold must be a number ≥ 0, got {}",
                        r.threshold
                    ));
                }
            }
        }
        Ok(())
    }

    /// The indicator options its case definition sets.
    pub fn options(&self, as_of: chrono::NaiveDate, grace_days: i32) -> Options {
        Options {
            diagnosis_classes: self.case_definition.diagnosis_classes.clone(),
            child_max_age: self.case_definition.child_max_age,
            as_of,
            grace_days,
        }
    }

    fn max_years(&self) -> u32 {
        self.stages
            .iter()
            .flat_map(|s| &s.rules)
            .map(|r| r.years)
            .max()
            .unwrap_or(1)
    }
}

/// The indicators behind the rules, per unit and year: unit code → indicator → year → cell.
type Evidence = std::collections::HashMap<(String, String), Vec<Cell>>;

/// The stage of `units` (the county and/or townships) in `year`, with the evidence shown to a
/// reader whose small counts go up to `small_max` (`None`: nothing is hidden). The townships of
/// a county are judged too when it is evaluated (for `each_township` rules).
pub async fn evaluate(
    pool: &sqlx::PgPool,
    rules: &StageRules,
    units: &[Unit],
    year: i32,
    opts: &Options,
    small_max: Option<i64>,
) -> Result<Vec<Value>, sqlx::Error> {
    let n = rules.max_years() as i32;
    let years: Vec<i32> = ((year - n + 1)..=year).collect();
    let periods: Vec<Period> = years.iter().map(|y| Period::year(*y)).collect();
    // Every township inside the evaluated units, for `each_township`.
    let mut evidence: Evidence = Evidence::new();
    let mut wanted: Vec<&str> = rules
        .stages
        .iter()
        .flat_map(|s| &s.rules)
        .map(|r| r.indicator.as_str())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    // One query per indicator over the broadest unit, added up by county and by township
    // (no units: nothing to judge, nothing to read).
    let broadest = units
        .iter()
        .map(|u| &u.code)
        .min_by_key(|c| c.as_str().len());
    for key in &wanted {
        let Some(def) = indicators::defs::find(key) else {
            continue;
        };
        let Some(broadest) = broadest else {
            break;
        };
        let cells = indicators::compute(
            pool,
            def,
            broadest,
            &periods,
            &Grouping::Levels(vec![Level::County.digits(), Level::Township.digits()]),
            opts,
        )
        .await?;
        for (unit, c) in cells {
            evidence.insert((unit, (*key).to_owned()), c);
        }
    }
    let townships_of = |county: &str| -> Vec<String> {
        let mut t: Vec<String> = evidence
            .keys()
            .filter(|(c, _)| c.len() == 9 && c.starts_with(county))
            .map(|(c, _)| c.clone())
            .collect();
        t.sort();
        t.dedup();
        t
    };
    let mut out = Vec::new();
    for unit in units {
        let (code, name) = (unit.code.as_str(), &unit.name);
        let mut reached = 0usize;
        let mut blocked = false;
        let mut stages_json = Vec::new();
        for (rank, stage) in rules.stages.iter().enumerate() {
            let mut rules_json = Vec::new();
            let mut all = true;
            for rule in &stage.rules {
                let Some(def) = indicators::defs::find(&rule.indicator) else {
                    continue;
                };
                let first = periods.len() - rule.years as usize;
                let (passed, ev) = judge(
                    def,
                    rule,
                    evidence.get(&(code.to_owned(), rule.indicator.clone())),
                    first,
                    &years,
                    small_max,
                );
                let mut failing = Vec::new();
                if rule.each_township && unit.level() == Level::County {
                    for t in townships_of(code) {
                        let (ok, _) = judge(
                            def,
                            rule,
                            evidence.get(&(t.clone(), rule.indicator.clone())),
                            first,
                            &years,
                            small_max,
                        );
                        if !ok {
                            failing.push(t);
                        }
                    }
                }
                let passed = passed && failing.is_empty();
                all &= passed;
                rules_json.push(json!({
                    "id": rule.id,
                    "indicator": rule.indicator,
                    "op": rule.op.as_str(),
                    "threshold": rule.threshold,
                    "years": years[first..].to_vec(),
                    "each_township": rule.each_township,
                    "to_confirm": rule.to_confirm,
                    "note": rule.note,
                    "passed": passed,
                    "failing_townships": failing,
                    "evidence": ev,
                }));
            }
            if rank > 0 && !blocked {
                if all {
                    reached = rank;
                } else {
                    blocked = true;
                }
            }
            stages_json.push(json!({
                "key": stage.key,
                "name_zh": stage.name_zh,
                "rank": rank,
                "passed": rank == 0 || all,
                "rules": rules_json,
            }));
        }
        let stage = &rules.stages[reached];
        out.push(json!({
            "code": code,
            "name": name,
            "level": unit.level(),
            "stage": { "key": stage.key, "name_zh": stage.name_zh, "rank": reached },
            "stages": stages_json,
        }));
    }
    Ok(out)
}

/// One year of evidence for a rule: the indicator's numbers as the reader sees them
/// ([`indicators::Evaluation`] without its status) and whether the year met the threshold
/// (`None` without data).
#[derive(Debug, Clone, Serialize)]
struct YearEvidence {
    year: i32,
    met: Option<bool>,
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    percent: Option<Option<f64>>,
    numerator: Value,
    denominator: Value,
    suppressed: bool,
    extra: serde_json::Map<String, Value>,
}

/// One rule on one unit: passed, and the evidence year by year.
fn judge(
    def: &Indicator,
    rule: &Rule,
    cells: Option<&Vec<Cell>>,
    first: usize,
    years: &[i32],
    small_max: Option<i64>,
) -> (bool, Vec<YearEvidence>) {
    let empty = Cell::default();
    let mut passed = true;
    let mut any_data = false;
    let mut ev = Vec::new();
    for (i, year) in years.iter().enumerate().skip(first) {
        let cell = cells.and_then(|c| c.get(i)).unwrap_or(&empty);
        let value = indicators::value_of(def, cell);
        let met = value.map(|v| rule.op.holds(v, rule.threshold));
        any_data |= value.is_some();
        passed &= met == Some(true);
        let e = indicators::evaluation(def, Some(cell), small_max);
        let e = YearEvidence {
            year: *year,
            met,
            value: e.value,
            percent: e.percent,
            numerator: e.numerator,
            denominator: e.denominator,
            suppressed: e.suppressed,
            extra: e.extra,
        };
        ev.push(e);
    }
    if rule.optional_without_data && !any_data {
        return (true, ev);
    }
    (passed, ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_are_valid() {
        let r = StageRules::load(None).expect("valid");
        assert_eq!(r.stages.len(), 5);
    }

    #[test]
    fn a_rule_on_an_unknown_indicator_is_refused_with_its_name() {
        let bad = DEFAULT_RULES.replace("\"rodent_infection\"", "\"rodent_density\"");
        let e = StageRules::parse(&bad, "x.json").expect_err("unknown indicator");
        let msg = e.to_string();
        assert!(
            msg.contains("rodent_density") && msg.contains("tc.rodent_infection"),
            "{msg}"
        );
        let e = StageRules::parse("{ not json", "y.json").expect_err("syntax");
        assert!(e.to_string().contains("y.json"), "{e}");
    }
}
