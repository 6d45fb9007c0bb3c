//! `GET /api/worklists/{kind}`: what is due, per village and township of the caller's
//! jurisdiction. Kinds: `deworming` (live dogs not dosed this month, against the county's
//! deworming day), `followups` (patients whose next follow-up by the DOMAIN.md schedule is
//! overdue), `faecal_sampling` (villages with dogs and no recent faecal sample) and
//! `vaccination` (villages behind the target of this year's campaigns).
//!
//! Rows (dogs, patients) are listed only to roles that may see those registers; the others get
//! the counts, and counts of patients of 1–4 are withheld from roles without case access.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::indicators::resolve_unit;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::auth::{Perm, SMALL_COUNT_MAX};
use echinomap_programme::indicators::Period;

pub const KINDS: [&str; 4] = ["deworming", "followups", "faecal_sampling", "vaccination"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A township or village inside the jurisdiction; default the jurisdiction.
    unit: Option<String>,
}

/// One line of a work list: its village and what to show.
type Line = (String, String, String, Value);

pub async fn worklist(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(kind): ApiPath<String>,
    ApiQuery(p): ApiQuery<Params>,
) -> AppResult<Json<Value>> {
    if !KINDS.contains(&kind.as_str()) {
        return Err(AppError::not_found(
            "worklist_not_found",
            format!("no work list {kind:?}; kinds: {}", KINDS.join(", ")),
        ));
    }
    let unit = resolve_unit(&state, &caller, "unit", p.unit.as_deref()).await?;
    let today = state.programme.today();
    let (lines, rule, row_perm, personal) = match kind.as_str() {
        "deworming" => deworming(&state, &unit.code, today).await?,
        "followups" => followups(&state, &unit.code, today).await?,
        "faecal_sampling" => faecal(&state, &unit.code, today).await?,
        _ => vaccination(&state, &unit.code, today).await?,
    };
    let show_rows = caller.can(row_perm);
    let suppress = personal && caller.suppress_small_counts();
    let hide = |n: usize| suppress && (1..=SMALL_COUNT_MAX as usize).contains(&n);
    let mut villages: BTreeMap<String, (String, String, Vec<Value>)> = BTreeMap::new();
    for (code, name, township, item) in lines {
        villages
            .entry(code)
            .or_insert_with(|| (name, township, Vec::new()))
            .2
            .push(item);
    }
    let township_names: BTreeMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT code::text, name FROM townships WHERE code LIKE substr($1, 1, 9) || '%'",
    )
    .bind(&unit.code)
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .collect();
    let mut townships: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    let village_json: Vec<Value> = villages
        .into_iter()
        .map(|(code, (name, township, items))| {
            let n = items.len();
            total += n;
            *townships.entry(township.clone()).or_default() += n;
            json!({
                "code": code,
                "name": name,
                "township_code": township,
                "count": if hide(n) { Value::Null } else { json!(n) },
                "items": if show_rows { json!(items) } else { Value::Null },
            })
        })
        .collect();
    let township_json: Vec<Value> = townships
        .into_iter()
        .map(|(t, n)| {
            json!({
                "township_code": t,
                "name": township_names.get(&t),
                "count": if hide(n) { Value::Null } else { json!(n) },
            })
        })
        .collect();
    Ok(Json(json!({
        "kind": kind,
        "unit": unit.json(),
        "as_of": today,
        "rule": rule,
        "total": if hide(total) { Value::Null } else { json!(total) },
        "rows_shown": show_rows,
        "small_counts_suppressed": suppress,
        "townships": township_json,
        "villages": village_json,
    })))
}

type Built = (Vec<Line>, Value, Perm, bool);

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
    start: Option<NaiveDate>,
    last_visit: Option<NaiveDate>,
    next_due: NaiveDate,
}

async fn deworming(state: &AppState, prefix: &str, today: NaiveDate) -> AppResult<Built> {
    let month = Period::month_of(today);
    let day = state.programme.deworming_day;
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
    .bind(prefix)
    .bind(month.start())
    .bind(month.end().min(today))
    .fetch_all(&state.pool)
    .await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            (
                r.code,
                r.name,
                r.township,
                json!({ "dog_id": r.id, "tag": r.tag, "kind": r.kind, "household_no": r.household_no, "last_dosed_on": r.last_dosed_on }),
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

async fn followups(state: &AppState, prefix: &str, today: NaiveDate) -> AppResult<Built> {
    let grace = i32::try_from(state.programme.followup_grace_days).unwrap_or(0);
    let rows: Vec<FollowupRow> = sqlx::query_as(include_str!("worklist_followups.sql"))
        .bind(prefix)
        .bind(today)
        .bind(grace)
        .fetch_all(&state.pool)
        .await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            (
                r.code,
                r.name,
                r.township,
                json!({
                    "case_id": r.id,
                    "case_type": r.case_type,
                    "status": r.status,
                    "remote": r.remote,
                    "treatment_started_on": r.start,
                    "last_visit_on": r.last_visit,
                    "next_due_on": r.next_due,
                    "days_overdue": (today - r.next_due).num_days(),
                }),
            )
        })
        .collect();
    let rule = json!({
        "text": "first visit within 1 month of the start of albendazole (or of diagnosis), then every 3 months, 6 in remote villages, counted from the last visit",
        "grace_days": grace,
    });
    Ok((lines, rule, Perm::CaseRows, true))
}

async fn faecal(state: &AppState, prefix: &str, today: NaiveDate) -> AppResult<Built> {
    let days = i32::try_from(state.programme.faecal_sampling_days).unwrap_or(90);
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
    .bind(prefix)
    .bind(today)
    .bind(days)
    .fetch_all(&state.pool)
    .await?;
    let lines = rows
        .into_iter()
        .map(|(code, name, township, dogs, last, recent)| {
            (
                code,
                name,
                township,
                json!({ "live_dogs": dogs, "last_sampled_on": last, "samples_last_365_days": recent }),
            )
        })
        .collect();
    let rule = json!({
        "text": "villages with live dogs and no faecal sample in the last interval",
        "interval_days": days,
    });
    Ok((lines, rule, Perm::AnimalRows, false))
}

async fn vaccination(state: &AppState, prefix: &str, today: NaiveDate) -> AppResult<Built> {
    let rows: Vec<(String, String, String, String, i32, i32)> = sqlx::query_as(
        "SELECT v.code::text, v.name, v.township_code::text, vc.name, va.target, va.immunised
         FROM vaccinations va
         JOIN vaccination_campaigns vc ON vc.id = va.campaign_id AND vc.deleted_at IS NULL
         JOIN villages v ON v.id = va.village_id
         WHERE v.code LIKE $1 || '%' AND va.deleted_at IS NULL
           AND vc.year = $2 AND va.immunised < va.target
         ORDER BY v.code, vc.name",
    )
    .bind(prefix)
    .bind(i16::try_from(today.year()).unwrap_or(0))
    .fetch_all(&state.pool)
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
            )
        })
        .collect();
    let rule = json!({ "text": "this year's campaigns: villages with fewer immunised than due", "year": today.year() });
    Ok((lines, rule, Perm::AnimalRows, false))
}
