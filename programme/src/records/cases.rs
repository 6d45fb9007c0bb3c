//! The patient register's own read side ([`super::spec::RegisterSpec::own_read_side`]): the
//! line list of cases with their person, village, latest imaging stage and next follow-up
//! (identifiers masked), and one patient in full with the history of imaging, treatment and
//! follow-up (every read audited). Only cases inside the caller's jurisdiction are seen.

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
            "followup_overdue": self.next_followup_due.is_some_and(|d| d < today),
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
    /// The id of the last case of the previous page.
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// A page of the line list in `scope`, identifiers masked, and the cursor of the next page.
/// A unit outside the jurisdiction is refused (403), not answered empty.
pub async fn list(
    pool: &PgPool,
    scope: &Scope,
    filter: &Filter,
    today: chrono::NaiveDate,
) -> Result<(Vec<Value>, Option<i64>), Error> {
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
    let rows: Vec<CaseRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_CASES}
         WHERE c.deleted_at IS NULL
           AND v.code LIKE $1 || '%'
           AND ($2::text IS NULL OR v.code LIKE $2 || '%')
           AND ($3::bigint IS NULL OR c.id > $3)
           AND (NOT $5 OR EXISTS (SELECT 1 FROM followups f WHERE f.case_id = c.id
                AND f.visited_on IS NULL AND f.deleted_at IS NULL AND f.due_on < $6))
         ORDER BY c.id
         LIMIT $4"
    )))
    .bind(scope.prefix())
    .bind(unit)
    .bind(filter.cursor)
    .bind(limit + 1)
    .bind(filter.overdue)
    .bind(today)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let page: Vec<&CaseRow> = rows.iter().take(limit as usize).collect();
    let next_cursor = if more {
        page.last().map(|r| r.id)
    } else {
        None
    };
    Ok((
        page.iter().map(|r| r.to_json(false, today)).collect(),
        next_cursor,
    ))
}

/// One case of the jurisdiction in full, with its imaging, treatments and follow-ups; the
/// read is audited in its own transaction. Outside the jurisdiction is answered like unknown:
/// existence is not disclosed.
pub async fn detail(
    pool: &PgPool,
    who: &Who,
    id: i64,
    today: chrono::NaiveDate,
) -> Result<Value, Error> {
    let mut tx = pool.begin().await?;
    let row: Option<CaseRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_CASES} WHERE c.id = $1 AND c.deleted_at IS NULL AND v.code LIKE $2 || '%'"
    )))
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
                'ultrasound_done', f.ultrasound_done, 'overdue', f.visited_on IS NULL AND f.due_on < $2) ORDER BY f.due_on)
              FROM followups f WHERE f.case_id = $1 AND f.deleted_at IS NULL), '[]'::json)",
    )
    .bind(id)
    .bind(today)
    .fetch_one(&mut *tx)
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
    let mut body = row.to_json(true, today);
    body["imaging"] = history.0;
    body["treatments"] = history.1;
    body["followups"] = history.2;
    Ok(body)
}
