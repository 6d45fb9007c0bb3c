//! The control programme's configuration as the service runs it: the stage rule set, the risk
//! weights, the county's deworming day and the work-list settings. Loaded and validated once at
//! start-up ([`Programme::load`]): a bad rule file stops the start with a message naming it.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::indicators::Options;
use crate::risk::RiskConfig;
use crate::stage::StageRules;

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
    today: Option<NaiveDate>,
}

impl Programme {
    pub fn load(s: &ProgrammeSettings) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(
            (1..=28).contains(&s.deworming_day),
            "the deworming day must be 1–28 (a day every month has), got {}",
            s.deworming_day
        );
        let rules = StageRules::load(s.stage_rules.as_deref())?;
        let risk = RiskConfig::load(s.risk_config.as_deref())?;
        Ok(Arc::new(Self {
            rules,
            risk,
            deworming_day: s.deworming_day,
            followup_grace_days: s.followup_grace_days,
            faecal_sampling_days: s.faecal_sampling_days,
            today: s.today,
        }))
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
