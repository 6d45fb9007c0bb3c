//! Work lists: what is due, per village and township of a unit. Kinds ([`Kind`]):
//! `deworming` (live dogs not dosed this month, against the county's deworming day),
//! `followups` (patients whose next follow-up is overdue by the one schedule, the SQL function
//! `followup_schedule` of docs/INDICATORS.md, and on request those due in the next days),
//! `faecal_sampling` (villages with dogs and no recent faecal sample) and `vaccination`
//! (villages behind the target of this year's campaigns).
//!
//! A list holds every line; who may see the lines (dogs, patients) and which counts are small
//! is decided where it is shown: [`Worklist::row_perm`] names the register permission the lines
//! need, [`Worklist::personal`] says its counts are of people.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use echinomap_domain::PlaceCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::auth::Perm;
use crate::config::Programme;
use crate::indicators::Period;
use crate::units::{self, Level};

/// A kind of work list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deworming,
    Followups,
    FaecalSampling,
    Vaccination,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Deworming,
        Kind::Followups,
        Kind::FaecalSampling,
        Kind::Vaccination,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deworming => "deworming",
            Self::Followups => "followups",
            Self::FaecalSampling => "faecal_sampling",
            Self::Vaccination => "vaccination",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What to list besides what is due now.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `followups`: also the patients whose next visit is due within this many days (not yet
    /// overdue), each line's `state` saying which.
    pub upcoming_days: Option<u32>,
}

/// One village with something due, and the lines of what is.
#[derive(Debug, Clone)]
pub struct VillageDue {
    pub code: String,
    pub name: String,
    pub township_code: String,
    /// One per dog, patient, sampling or campaign due, as the API shows it.
    pub items: Vec<Value>,
    /// Of the items, those upcoming rather than overdue (`followups` with upcoming ones).
    pub upcoming: usize,
}

/// One township: how many lines are due in its villages.
#[derive(Debug, Clone)]
pub struct TownshipDue {
    pub code: String,
    pub name: Option<String>,
    pub count: usize,
    /// Of the count, the upcoming lines.
    pub upcoming: usize,
}

/// A work list of a unit as of a day.
#[derive(Debug, Clone)]
pub struct Worklist {
    pub kind: Kind,
    pub as_of: NaiveDate,
    /// The rule that made the list (month, due day, interval …), as the API shows it.
    pub rule: Value,
    /// What a reader needs to see the lines themselves (otherwise the counts only).
    pub row_perm: Perm,
    /// The lines are people (patients): their counts are small-count suppressed.
    pub personal: bool,
    /// By village code.
    pub villages: Vec<VillageDue>,
    /// By township code.
    pub townships: Vec<TownshipDue>,
    pub total: usize,
    /// Of the total, the upcoming lines.
    pub upcoming: usize,
}

/// One line of a work list: its village (code, name, township), what to show and whether it is
/// upcoming rather than due now.
type Line = (String, String, String, Value, bool);

/// What one kind's query gives: its lines, its rule, the permission the lines need, personal.
type Built = (Vec<Line>, Value, Perm, bool);

/// The work list `kind` of `unit` as of `programme`'s today.
pub async fn build(
    pool: &PgPool,
    programme: &Programme,
    kind: Kind,
    unit: &PlaceCode,
    options: Options,
) -> Result<Worklist, sqlx::Error> {
    let today = programme.today();
    let (lines, rule, row_perm, personal) = match kind {
        Kind::Deworming => deworming(pool, programme, unit, today).await?,
        Kind::Followups => followups(pool, programme, unit, today, options).await?,
        Kind::FaecalSampling => faecal(pool, programme, unit, today).await?,
        Kind::Vaccination => vaccination(pool, unit, today).await?,
    };
    let mut by_village: BTreeMap<String, VillageDue> = BTreeMap::new();
    for (code, name, township_code, item, upcoming) in lines {
        let village = by_village
            .entry(code.clone())
            .or_insert_with(|| VillageDue {
                code,
                name,
                township_code,
                items: Vec::new(),
                upcoming: 0,
            });
        village.items.push(item);
        village.upcoming += usize::from(upcoming);
    }
    let names: BTreeMap<String, String> =
        units::within(pool, &units::townships_area(unit), Level::Township)
            .await?
            .into_iter()
            .map(|u| (u.code.as_str().to_owned(), u.name))
            .collect();
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for v in by_village.values() {
        let c = counts.entry(v.township_code.clone()).or_default();
        c.0 += v.items.len();
        c.1 += v.upcoming;
    }
    Ok(Worklist {
        kind,
        as_of: today,
        rule,
        row_perm,
        personal,
        total: counts.values().map(|c| c.0).sum(),
        upcoming: counts.values().map(|c| c.1).sum(),
        townships: counts
            .into_iter()
            .map(|(code, (count, upcoming))| TownshipDue {
                name: names.get(&code).cloned(),
                code,
                count,
                upcoming,
            })
            .collect(),
        villages: by_village.into_values().collect(),
    })
}

#[derive(Debug, sqlx::FromRow)]
struct DogRow {
    code: String,
    name: String,
    township: String,
    id: i64,
    tag: String,
    kind: String,
    household_no: Option<String>,
    last_dosed_on: Option<NaiveDate>,
}

#[derive(Debug, sqlx::FromRow)]
struct FollowupRow {
    code: String,
    name: String,
    township: String,
    id: i64,
    case_type: String,
    status: String,
    remote: bool,
    treatment_start: Option<NaiveDate>,
    start: NaiveDate,
    last_visit: Option<NaiveDate>,
    next_due: NaiveDate,
    overdue: bool,
}

async fn deworming(
    pool: &PgPool,
    programme: &Programme,
    unit: &PlaceCode,
    today: NaiveDate,
) -> Result<Built, sqlx::Error> {
    let month = Period::month_of(today);
    let day = programme.deworming_day;
    let due_on = NaiveDate::from_ymd_opt(today.year(), today.month(), day).unwrap_or(today);
    let rows: Vec<DogRow> = sqlx::query_as(
        "SELECT v.code::text AS code, v.name, v.township_code::text AS township, d.id, d.tag,
                    d.kind::text AS kind, h.household_no,
                    (SELECT max(w.dosed_on) FROM dewormings w
                      WHERE w.dog_id = d.id AND w.deleted_at IS NULL) AS last_dosed_on
             FROM dogs d
             JOIN villages v ON v.id = d.village_id
             LEFT JOIN households h ON h.id = d.household_id
             WHERE v.code LIKE $1 || '%' AND d.deleted_at IS NULL
               AND d.status = 'alive' AND d.registered_on <= $3
               AND NOT EXISTS (SELECT 1 FROM dewormings w
                                WHERE w.dog_id = d.id AND w.deleted_at IS NULL
                                  AND w.dosed_on BETWEEN $2 AND $3)
             ORDER BY v.code, d.tag",
    )
    .bind(unit.as_str())
    .bind(month.start())
    .bind(month.end().min(today))
    .fetch_all(pool)
    .await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            (
                r.code,
                r.name,
                r.township,
                json!({ "dog_id": r.id, "tag": r.tag, "kind": r.kind, "household_no": r.household_no, "last_dosed_on": r.last_dosed_on }),
                false,
            )
        })
        .collect();
    let rule = json!({
        "month": month.key(),
        "deworming_day": day,
        "due_on": due_on,
        "overdue": today > due_on,
        "text": "live registered dogs without a dose this month",
    });
    Ok((lines, rule, Perm::AnimalRows, false))
}

async fn followups(
    pool: &PgPool,
    programme: &Programme,
    unit: &PlaceCode,
    today: NaiveDate,
    options: Options,
) -> Result<Built, sqlx::Error> {
    let grace = i32::try_from(programme.followup_grace_days).unwrap_or(i32::MAX);
    let upcoming_days = options
        .upcoming_days
        .map(|d| i32::try_from(d).unwrap_or(i32::MAX));
    let rows: Vec<FollowupRow> = sqlx::query_as(include_str!("worklist_followups.sql"))
        .bind(unit.as_str())
        .bind(today)
        .bind(grace)
        .bind(upcoming_days)
        .fetch_all(pool)
        .await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            let days = (today - r.next_due).num_days();
            (
                r.code,
                r.name,
                r.township,
                json!({
                    "case_id": r.id,
                    "case_type": r.case_type,
                    "status": r.status,
                    "remote": r.remote,
                    "state": if r.overdue { "overdue" } else { "upcoming" },
                    "treatment_started_on": r.treatment_start,
                    "counted_from": r.start,
                    "last_visit_on": r.last_visit,
                    "next_due_on": r.next_due,
                    "days_overdue": r.overdue.then_some(days),
                    "days_until": (!r.overdue).then_some(-days),
                }),
                !r.overdue,
            )
        })
        .collect();
    let rule = json!({
        "text": "first visit one month after the start of albendazole (or the diagnosis, else the report, without one) while no visit has been made since, then 3 months after the last visit, 6 in remote villages; overdue when today is past the due date plus the grace days",
        "text_zh": "首次随访在阿苯达唑治疗开始（无治疗则诊断，否则报告）后1个月内；此后距上次随访3个月（偏远村6个月）；超过应随访日期加宽限天数即为逾期",
        "grace_days": grace,
        "upcoming_days": upcoming_days,
    });
    Ok((lines, rule, Perm::CaseRows, true))
}

async fn faecal(
    pool: &PgPool,
    programme: &Programme,
    unit: &PlaceCode,
    today: NaiveDate,
) -> Result<Built, sqlx::Error> {
    let days = i32::try_from(programme.faecal_sampling_days).unwrap_or(90);
    let rows: Vec<(String, String, String, i64, Option<NaiveDate>, i64)> = sqlx::query_as(
        "SELECT v.code::text, v.name, v.township_code::text,
                (SELECT count(*) FROM dogs d WHERE d.village_id = v.id AND d.deleted_at IS NULL AND d.status = 'alive'),
                f.last, coalesce(f.recent, 0)
         FROM villages v
         LEFT JOIN LATERAL (
             SELECT max(sampled_on) AS last,
                    count(*) FILTER (WHERE sampled_on > $2 - 365) AS recent
             FROM faecal_tests WHERE village_id = v.id AND deleted_at IS NULL AND sampled_on <= $2
         ) f ON true
         WHERE v.code LIKE $1 || '%'
           AND EXISTS (SELECT 1 FROM dogs d WHERE d.village_id = v.id AND d.deleted_at IS NULL AND d.status = 'alive')
           AND (f.last IS NULL OR f.last < $2 - $3)
         ORDER BY v.code",
    )
    .bind(unit.as_str())
    .bind(today)
    .bind(days)
    .fetch_all(pool)
    .await?;
    let lines = rows
        .into_iter()
        .map(|(code, name, township, dogs, last, recent)| {
            (
                code,
                name,
                township,
                json!({ "live_dogs": dogs, "last_sampled_on": last, "samples_last_365_days": recent }),
                false,
            )
        })
        .collect();
    let rule = json!({
        "text": "villages with live dogs and no faecal sample in the last interval",
        "interval_days": days,
    });
    Ok((lines, rule, Perm::AnimalRows, false))
}

async fn vaccination(
    pool: &PgPool,
    unit: &PlaceCode,
    today: NaiveDate,
) -> Result<Built, sqlx::Error> {
    let rows: Vec<(String, String, String, String, i32, i32)> = sqlx::query_as(
        "SELECT v.code::text, v.name, v.township_code::text, vc.name, va.target, va.immunised
         FROM vaccinations va
         JOIN vaccination_campaigns vc ON vc.id = va.campaign_id AND vc.deleted_at IS NULL
         JOIN villages v ON v.id = va.village_id
         WHERE v.code LIKE $1 || '%' AND va.deleted_at IS NULL
           AND vc.year = $2 AND va.immunised < va.target
         ORDER BY v.code, vc.name",
    )
    .bind(unit.as_str())
    .bind(i16::try_from(today.year()).unwrap_or(0))
    .fetch_all(pool)
    .await?;
    let lines = rows
        .into_iter()
        .map(|(code, name, township, campaign, target, immunised)| {
            (
                code,
                name,
                township,
                json!({
                    "campaign": campaign,
                    "target": target,
                    "immunised": immunised,
                    "behind": target - immunised,
                    "progress": if target > 0 { json!(f64::from(immunised) / f64::from(target)) } else { Value::Null },
                }),
                false,
            )
        })
        .collect();
    let rule = json!({ "text": "this year's campaigns: villages with fewer immunised than due", "year": today.year() });
    Ok((lines, rule, Perm::AnimalRows, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_from_their_names() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("rabies"), None);
    }
}
