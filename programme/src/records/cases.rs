//! The patient register's own read side ([`super::spec::RegisterSpec::own_read_side`]): the
//! line list of cases with their person, village, latest imaging stage and next follow-up
//! (identifiers masked), and one patient in full with the history of imaging, treatment and
//! follow-up (every read audited). Only cases inside the caller's jurisdiction are seen.
//!
//! The next follow-up and whether it is overdue come from the one schedule, the SQL function
//! `followup_schedule` (docs/INDICATORS.md, "Follow-up schedule"), as of [`AsOf`].

use echinomap_domain::PlaceCode;
use echinomap_domain::privacy::{mask_id_number, mask_phone};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::import::Who;
use crate::audit::{self, Entry};
use crate::auth::Scope;
use crate::error::Error;

#[derive(Debug, sqlx::FromRow)]
struct CaseRow {
    id: i64,
    case_type: String,
    diagnosis_class: String,
    organ: String,
    discovery_route: String,
    reported_on: chrono::NaiveDate,
    status: String,
    is_revisit: bool,
    nndrs_id: Option<String>,
    onset_on: Option<chrono::NaiveDate>,
    diagnosed_on: Option<chrono::NaiveDate>,
    reporting_unit: Option<String>,
    village_code: String,
    village_name: String,
    township_code: String,
    person_id: i64,
    person_name: String,
    sex: String,
    birth_date: chrono::NaiveDate,
    id_number: Option<String>,
    phone: Option<String>,
    latest_stage: Option<String>,
    next_followup_due: Option<chrono::NaiveDate>,
    followup_overdue: bool,
}

/// The day a list or record is read as of, and the follow-up grace days
/// (`config::Programme::today` and `followup_grace_days`).
#[derive(Debug, Clone, Copy)]
pub struct AsOf {
    pub today: chrono::NaiveDate,
    pub grace_days: i32,
}

#[derive(Debug, Serialize)]
struct Person<'a> {
    id: i64,
    name: &'a str,
    sex: &'a str,
    /// In the audited detail only; lists give the age, which does not rebuild a masked ID
    /// number (its hidden digits are the birth date).
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age: Option<i32>,
    id_number: Option<String>,
    phone: Option<String>,
}

impl CaseRow {
    /// The case as JSON; `full` shows the ID number and phone whole (the audited detail),
    /// lists mask them.
    fn to_json(&self, full: bool, today: chrono::NaiveDate) -> Value {
        let (id_number, phone) = if full {
            (self.id_number.clone(), self.phone.clone())
        } else {
            (
                self.id_number.as_deref().map(mask_id_number),
                self.phone.as_deref().map(mask_phone),
            )
        };
        json!({
            "id": self.id,
            "case_type": self.case_type,
            "diagnosis_class": self.diagnosis_class,
            "organ": self.organ,
            "discovery_route": self.discovery_route,
            "reported_on": self.reported_on,
            "status": self.status,
            "is_revisit": self.is_revisit,
            "nndrs_id": self.nndrs_id,
            "onset_on": self.onset_on,
            "diagnosed_on": self.diagnosed_on,
            "reporting_unit": self.reporting_unit,
            "village_code": self.village_code,
            "village_name": self.village_name,
            "township_code": self.township_code,
            "latest_stage": self.latest_stage,
            "next_followup_due": self.next_followup_due,
            "followup_overdue": self.followup_overdue,
            "person": Person {
                id: self.person_id,
                name: &self.person_name,
                sex: &self.sex,
                birth_date: full.then_some(self.birth_date),
                age: (!full).then(|| echinomap_domain::privacy::age_years(self.birth_date, today)),
                id_number,
                phone,
            },
        })
    }
}

const SELECT_CASES: &str = include_str!("cases_select.sql");

/// Which cases a line list shows.
#[derive(Debug, Clone)]
pub struct Filter {
    /// A township or village: it must overlap the caller's jurisdiction.
    pub unit: Option<PlaceCode>,
    /// Only cases with an overdue follow-up.
    pub overdue: bool,
    /// Only the cases of one person (the patient record's other reports).
    pub person: Option<i64>,
    /// A prefix of the patient's name or of the NNDRS report id (the case picker).
    pub q: Option<String>,
    /// The id of the last case of the previous page.
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// A page of the line list.
#[derive(Debug)]
pub struct Page {
    /// The cases of the page, identifiers masked.
    pub items: Vec<Value>,
    /// The cursor of the next page.
    pub next_cursor: Option<i64>,
    /// Every case the filter selects, on all pages.
    pub total: i64,
}

/// A page of the line list in `scope` as of `as_of`. A unit outside the jurisdiction is
/// refused (403), not answered empty.
pub async fn list(
    pool: &PgPool,
    scope: &Scope,
    filter: &Filter,
    as_of: AsOf,
) -> Result<Page, Error> {
    let unit = match &filter.unit {
        None => None,
        Some(code) => {
            if !scope.jurisdiction().contains(code) && !code.contains(scope.jurisdiction()) {
                return Err(Error::forbidden(format!(
                    "{code} lies outside your jurisdiction {}",
                    scope.prefix()
                )));
            }
            Some(code.as_str().to_owned())
        }
    };
    let limit = filter.limit;
    // A prefix: `%`, `_` and `\` typed are themselves.
    let q = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| {
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        });
    // `$1`, `$2` are the schedule's as-of day and grace (cases_select.sql).
    let filtered = |select: &str, page: &str| {
        format!(
            "{select}
             WHERE c.deleted_at IS NULL
               AND v.code LIKE $3 || '%'
               AND ($4::text IS NULL OR v.code LIKE $4 || '%')
               AND (NOT $5 OR coalesce(followup_overdue(fs.next_due, $1::date, $2::int), false))
               AND ($6::bigint IS NULL OR c.person_id = $6)
               AND ($7::text IS NULL OR p.name LIKE $7 || '%' OR c.nndrs_id LIKE $7 || '%')
               {page}"
        )
    };
    let rows: Vec<CaseRow> = sqlx::query_as(sqlx::AssertSqlSafe(filtered(
        SELECT_CASES,
        "AND ($8::bigint IS NULL OR c.id > $8) ORDER BY c.id LIMIT $9",
    )))
    .bind(as_of.today)
    .bind(as_of.grace_days)
    .bind(scope.prefix())
    .bind(&unit)
    .bind(filter.overdue)
    .bind(filter.person)
    .bind(&q)
    .bind(filter.cursor)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    // The count reads the schedule only when it filters on it: for every case of a county it
    // is the costly part.
    let count = if filter.overdue {
        format!(
            "SELECT count(*) FROM ({}) selected",
            filtered(SELECT_CASES, "")
        )
    } else {
        filtered(
            "SELECT count(*) FROM cases c
             JOIN people p ON p.id = c.person_id
             JOIN villages v ON v.id = c.village_id
             CROSS JOIN (SELECT NULL::date AS next_due) fs",
            "",
        )
    };
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
        .bind(as_of.today)
        .bind(as_of.grace_days)
        .bind(scope.prefix())
        .bind(&unit)
        .bind(filter.overdue)
        .bind(filter.person)
        .bind(&q)
        .fetch_one(pool)
        .await?;
    let more = rows.len() as i64 > limit;
    let page: Vec<&CaseRow> = rows.iter().take(limit as usize).collect();
    let next_cursor = if more {
        page.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Page {
        items: page.iter().map(|r| r.to_json(false, as_of.today)).collect(),
        next_cursor,
        total,
    })
}

/// Where a followed patient stands on the schedule (`followup_schedule`).
#[derive(Debug, sqlx::FromRow)]
struct ScheduleRow {
    start: chrono::NaiveDate,
    last_visit: Option<chrono::NaiveDate>,
    remote: bool,
    next_due: chrono::NaiveDate,
    overdue: bool,
}

impl ScheduleRow {
    fn to_json(&self, as_of: AsOf) -> Value {
        let counted_from = match self.last_visit {
            Some(v) if v >= self.start => "last_visit",
            _ => "start",
        };
        json!({
            "due_on": self.next_due,
            "state": if self.overdue { "overdue" } else { "upcoming" },
            "overdue": self.overdue,
            "days_overdue": self.overdue.then(|| (as_of.today - self.next_due).num_days()),
            "days_until": (!self.overdue).then(|| (self.next_due - as_of.today).num_days()),
            "counted_from": counted_from,
            "start_on": self.start,
            "last_visit_on": self.last_visit,
            "interval_months": if counted_from == "start" { 1 } else if self.remote { 6 } else { 3 },
            "remote": self.remote,
            "grace_days": as_of.grace_days,
            "as_of": as_of.today,
        })
    }
}

/// One case of the jurisdiction in full, with its imaging, treatments, the follow-ups recorded
/// and `next_followup` (the schedule's next visit due, `null` for a case that is not followed);
/// the read is audited in its own transaction. Outside the jurisdiction is answered like
/// unknown: existence is not disclosed.
pub async fn detail(pool: &PgPool, who: &Who, id: i64, as_of: AsOf) -> Result<Value, Error> {
    let mut tx = pool.begin().await?;
    let row: Option<CaseRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_CASES} WHERE c.id = $3 AND c.deleted_at IS NULL AND v.code LIKE $4 || '%'"
    )))
    .bind(as_of.today)
    .bind(as_of.grace_days)
    .bind(id)
    .bind(who.prefix())
    .fetch_optional(&mut *tx)
    .await?;
    let row =
        row.ok_or_else(|| Error::not_found("case_not_found", format!("no case with id {id}")))?;
    let history: (Value, Value, Value) = sqlx::query_as(
        "SELECT
            coalesce((SELECT json_agg(json_build_object('examined_on', e.examined_on, 'modality', e.modality,
                'ce_stage', e.ce_stage, 'pnm', CASE WHEN e.pnm_p IS NULL THEN NULL ELSE e.pnm_p::text || e.pnm_n::text || e.pnm_m::text END,
                'largest_cyst_mm', e.largest_cyst_mm) ORDER BY e.examined_on)
              FROM imaging_exams e WHERE e.case_id = $1 AND e.deleted_at IS NULL), '[]'::json),
            coalesce((SELECT json_agg(json_build_object('kind', t.kind, 'started_on', t.started_on, 'ended_on', t.ended_on,
                'dose_mg_per_kg', t.dose_mg_per_kg, 'adherence_pct', t.adherence_pct, 'hospital', t.hospital,
                'procedure', t.procedure) ORDER BY t.started_on)
              FROM treatments t WHERE t.case_id = $1 AND t.deleted_at IS NULL), '[]'::json),
            coalesce((SELECT json_agg(json_build_object('due_on', f.due_on, 'visited_on', f.visited_on, 'outcome', f.outcome,
                'ultrasound_done', f.ultrasound_done) ORDER BY f.due_on)
              FROM followups f WHERE f.case_id = $1 AND f.deleted_at IS NULL), '[]'::json)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let schedule: Option<ScheduleRow> = sqlx::query_as(
        "SELECT s.start, s.last_visit, s.remote, s.next_due,
                followup_overdue(s.next_due, $2, $3) AS overdue
         FROM followup_schedule($2) s WHERE s.case_id = $1",
    )
    .bind(id)
    .bind(as_of.today)
    .bind(as_of.grace_days)
    .fetch_optional(&mut *tx)
    .await?;
    // Every read of a patient record is audited, in the same transaction as the read.
    audit::record(
        &mut tx,
        &who.actor,
        Entry {
            action: "read",
            table: Some("cases"),
            row_id: Some(id.to_string()),
            detail: Some(json!({ "person_id": row.person_id })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    let mut body = row.to_json(true, as_of.today);
    body["imaging"] = history.0;
    body["treatments"] = history.1;
    // The visits recorded (and visits planned, `visited_on` null); whether the patient is
    // overdue is the schedule's `next_followup`, not a planned `due_on`.
    body["followups"] = history.2;
    body["next_followup"] = schedule.map_or(Value::Null, |s| s.to_json(as_of));
    Ok(body)
}
