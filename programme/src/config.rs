//! The control programme's configuration as the service runs it: the stage rule set, the risk
//! weights, the county's deworming day and the work-list settings. Loaded and validated once at
//! start-up ([`Programme::load`]): a bad rule file stops the start with a message naming it.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use echinomap_domain::PlaceCode;
use echinomap_domain::privacy::{Audience, Suppression};

use crate::indicators::Options;
use crate::risk::{AreaRisk, RiskCache, RiskConfig};
use crate::stage::StageRules;
use echinomap_domain::privacy::SmallCounts;

/// Where the programme's configuration comes from (part of `Settings` of the server).
#[derive(Debug, Clone)]
pub struct ProgrammeSettings {
    /// A stage rule file replacing `config/stage_rules.json`.
    pub stage_rules: Option<PathBuf>,
    /// A risk configuration replacing `config/risk.json`.
    pub risk_config: Option<PathBuf>,
    /// The county's monthly deworming day (1–28).
    pub deworming_day: u32,
    /// Days a follow-up may be late before it is overdue.
    pub followup_grace_days: u32,
    /// A village is due for faecal sampling when its last sample is older than this.
    pub faecal_sampling_days: u32,
    /// A fixed "today" (demo and tests); the system date when unset.
    pub today: Option<NaiveDate>,
    /// The largest counts hidden inside the organisation and outside it (DOMAIN.md §7: 4 and 9).
    pub small_counts: (i64, i64),
}

impl Default for ProgrammeSettings {
    fn default() -> Self {
        Self {
            stage_rules: None,
            risk_config: None,
            deworming_day: 15,
            followup_grace_days: 0,
            faecal_sampling_days: 90,
            today: None,
            small_counts: (
                Suppression::DEFAULT.inside_max(),
                Suppression::DEFAULT.outside_max(),
            ),
        }
    }
}

#[derive(Debug)]
pub struct Programme {
    pub rules: StageRules,
    pub risk: RiskConfig,
    pub deworming_day: u32,
    pub followup_grace_days: u32,
    pub faecal_sampling_days: u32,
    /// The small-count rule every shared number passes ([`Programme::small_max`]).
    pub suppression: Suppression,
    today: Option<NaiveDate>,
}

impl Programme {
    pub fn load(s: &ProgrammeSettings) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(
            (1..=28).contains(&s.deworming_day),
            "the deworming day must be 1–28 (a day every month has), got {}",
            s.deworming_day
        );
        let suppression = Suppression::new(s.small_counts.0, s.small_counts.1)
            .map_err(|e| anyhow::anyhow!("the small-count thresholds: {e}"))?;
        let rules = StageRules::load(s.stage_rules.as_deref())?;
        let risk = RiskConfig::load(s.risk_config.as_deref())?;
        Ok(Arc::new(Self {
            rules,
            risk,
            deworming_day: s.deworming_day,
            followup_grace_days: s.followup_grace_days,
            faecal_sampling_days: s.faecal_sampling_days,
            suppression,
            today: s.today,
        }))
    }

    /// The largest count hidden from `audience` (`None`: nothing is hidden from it), the one
    /// number every output that carries counts binds or compares with.
    pub fn small_max(&self, audience: Audience) -> Option<i64> {
        self.suppression.max_for(audience)
    }

    /// The rule `audience` reads, as the API states it beside its counts ([`SmallCounts`]).
    pub fn small_counts(&self, audience: Audience) -> SmallCounts {
        self.suppression.stated_for(audience)
    }

    /// Today, or the configured fixed day.
    pub fn today(&self) -> NaiveDate {
        self.today
            .unwrap_or_else(|| chrono::Local::now().date_naive())
    }

    /// Indicator options: the rule set's case definition, today, the follow-up grace.
    pub fn options(&self) -> Options {
        self.rules.options(
            self.today(),
            i32::try_from(self.followup_grace_days).unwrap_or(i32::MAX),
        )
    }
}

// Here rather than in `risk`: the programme holds the risk configuration, so `config` uses
// `risk`, and `risk` must not use `config` back (no import cycles between modules).
impl RiskCache {
    /// The risk of every village inside `area` as `programme` runs it, as of `as_of` (today
    /// when `None`, never later), for a reader whose small counts go up to `small_max`; it may
    /// lag the newest write by [`crate::derived::MAX_LAG`] (the answer says which data it shows).
    pub async fn as_of(
        &self,
        pool: &sqlx::PgPool,
        watch: &crate::watch::Watch,
        programme: &Programme,
        area: &PlaceCode,
        as_of: Option<NaiveDate>,
        small_max: Option<i64>,
    ) -> Result<AreaRisk, sqlx::Error> {
        let mut opts = programme.options();
        if let Some(d) = as_of {
            opts.as_of = d.min(opts.as_of);
        }
        self.villages(pool, watch, &programme.risk, area, &opts, small_max)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_thresholds_are_the_ones_every_output_reads() {
        let p = Programme::load(&ProgrammeSettings {
            small_counts: (6, 11),
            ..ProgrammeSettings::default()
        })
        .expect("valid");
        assert_eq!(p.small_max(Audience::Inside), Some(6));
        let inside = p.small_counts(Audience::Inside);
        assert_eq!(
            (inside.max, inside.label.as_deref()),
            (Some(6), Some("1–6"))
        );
        assert_eq!(
            serde_json::to_value(p.small_counts(Audience::CaseAccess)).expect("json"),
            serde_json::json!({ "max": null, "label": null })
        );
    }
}
