//! `GET /api/quality`: what in the registers does not fit, per village and township, each
//! finding linked to its record. Checks (each one SQL statement below):
//! - `far_from_village`: a point farther than `max_distance_m` (default 3 km) from the village
//!   it was linked to by code or name (and outside that village's boundary);
//! - `swapped_lat_lon`: a point outside the county's bounding box that falls inside the county
//!   with lat and lon swapped;
//! - `future_date`: a record dated after today;
//! - `id_number_mismatch`: an ID number whose check character is wrong, or whose birth date or
//!   sex disagrees with the person's record (case-level roles only);
//! - `duplicate_person`: two people with the same name and birth date in one village (case-level
//!   roles only);
//! - `dead_dog_dewormed`: a dose given after the dog's death, move or culling;
//! - `infected_over_slaughtered`: an inspection with more infected than slaughtered animals.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiQuery;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::auth::Perm;
use echinomap_programme::records::spec::SPECS;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityParams {
    max_distance_m: Option<f64>,
    /// Only this check.
    check: Option<String>,
    /// Findings listed per check (counts are always complete); default 200.
    limit: Option<i64>,
}

const CHECKS: &[&str] = &[
    "far_from_village",
    "swapped_lat_lon",
    "future_date",
    "id_number_mismatch",
    "duplicate_person",
    "dead_dog_dewormed",
    "infected_over_slaughtered",
];

/// Each check: a SELECT of (check, register, id, village_id, detail).
fn check_sql(check: &str) -> Vec<String> {
    let point_tables = [
        "households",
        "stray_dog_events",
        "slaughter_points",
        "rodent_surveys",
    ];
    match check {
        "far_from_village" => point_tables
            .iter()
            .map(|t| {
                format!(
                    "SELECT 'far_from_village', '{t}', t.id, t.village_id,
                        format('%s m from %s (%s)', round(ST_Distance(t.geom::geography, v.geom::geography)), v.name, v.code)
                     FROM {t} t JOIN villages v ON v.id = t.village_id
                     WHERE t.deleted_at IS NULL AND t.geom IS NOT NULL AND t.link_method IN ('code', 'name', 'name_fuzzy')
                       AND NOT coalesce(ST_Intersects(v.boundary, t.geom), false)
                       AND ST_DWithin(t.geom::geography, v.geom::geography, $2) = false"
                )
            })
            .collect(),
        "swapped_lat_lon" => point_tables
            .iter()
            .map(|t| {
                format!(
                    "SELECT 'swapped_lat_lon', '{t}', t.id, t.village_id,
                        format('(lon %s, lat %s) lies outside the county; swapped it would be inside', ST_X(t.geom), ST_Y(t.geom))
                     FROM {t} t
                     WHERE t.deleted_at IS NULL AND t.geom IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM counties c WHERE c.geom && t.geom)
                       AND EXISTS (SELECT 1 FROM counties c WHERE ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(ST_Y(t.geom), ST_X(t.geom)), 4326)))"
                )
            })
            .collect(),
        "future_date" => SPECS
            .iter()
            .filter_map(|s| {
                let d = s.date_column?;
                // Follow-ups are scheduled ahead: their due date may be in the future.
                if s.name == "followups" {
                    return None;
                }
                let village = s.village_id_sql()?;
                Some(format!(
                    "SELECT 'future_date', '{name}', t.id, {village},
                        format('{d} %s is after today', t.{d})
                     FROM {table} t WHERE {live} t.{d} > current_date",
                    name = s.name,
                    table = s.table,
                    live = if s.soft_delete { "t.deleted_at IS NULL AND" } else { "" },
                ))
            })
            .collect(),
        "id_number_mismatch" => {
            // GB 11643: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, check "10X98765432"[sum % 11],
            // written out so that it is plain arithmetic per row.
            let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let sum: Vec<String> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| format!("substr(p.id_number, {}, 1)::int * {w}", i + 1))
                .collect();
            let check = format!("substr('10X98765432', ({}) % 11 + 1, 1)", sum.join(" + "));
            vec![format!(
                "SELECT 'id_number_mismatch', 'people', p.id, p.village_id,
                    CASE WHEN {check} <> substr(p.id_number, 18, 1) THEN format('check character should be %s', {check})
                         WHEN substr(p.id_number, 7, 8) <> to_char(p.birth_date, 'YYYYMMDD') THEN format('ID birth date %s, record %s', substr(p.id_number, 7, 8), p.birth_date)
                         ELSE format('ID number says %s, record %s', CASE WHEN substr(p.id_number, 17, 1)::int % 2 = 1 THEN 'male' ELSE 'female' END, p.sex) END
                 FROM people p
                 WHERE p.deleted_at IS NULL AND p.id_number IS NOT NULL
                   AND ({check} <> substr(p.id_number, 18, 1)
                        OR substr(p.id_number, 7, 8) <> to_char(p.birth_date, 'YYYYMMDD')
                        OR (p.sex <> 'unknown' AND (substr(p.id_number, 17, 1)::int % 2 = 1) <> (p.sex = 'male')))"
            )]
        }
        "duplicate_person" => vec![
            "SELECT 'duplicate_person', 'people', p.id, p.village_id,
                format('same name and birth date as person %s', o.id)
             FROM people p JOIN people o ON o.name = p.name AND o.birth_date = p.birth_date
               AND o.village_id = p.village_id AND o.id < p.id AND o.deleted_at IS NULL
             WHERE p.deleted_at IS NULL".to_owned(),
        ],
        "dead_dog_dewormed" => vec![
            "SELECT 'dead_dog_dewormed', 'dewormings', d.id, d.village_id,
                format('dog %s is %s since %s, dosed %s', g.tag, g.status, g.status_on, d.dosed_on)
             FROM dewormings d JOIN dogs g ON g.id = d.dog_id
             WHERE d.deleted_at IS NULL AND g.status <> 'alive' AND d.dosed_on > g.status_on".to_owned(),
        ],
        "infected_over_slaughtered" => vec![
            "SELECT 'infected_over_slaughtered', 'slaughter_inspections', i.id, p.village_id,
                format('%s infected of %s slaughtered', i.infected, i.slaughtered)
             FROM slaughter_inspections i JOIN slaughter_points p ON p.id = i.point_id
             WHERE i.deleted_at IS NULL AND i.infected > i.slaughtered".to_owned(),
        ],
        _ => Vec::new(),
    }
}

pub async fn quality(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<QualityParams>,
) -> AppResult<Json<Value>> {
    let max_distance = p
        .max_distance_m
        .unwrap_or(echinomap_programme::linking::MAX_DISTANCE_M);
    if !(max_distance > 0.0 && max_distance <= 100_000.0) {
        return Err(AppError::invalid_param(
            "max_distance_m",
            "max_distance_m is between 0 and 100000",
        ));
    }
    let limit = p.limit.unwrap_or(200);
    if !(1..=5000).contains(&limit) {
        return Err(AppError::invalid_param(
            "limit",
            "limit is between 1 and 5000",
        ));
    }
    let personal = caller.can(Perm::CaseRows);
    let checks: Vec<&str> = match p.check.as_deref() {
        Some(c) if CHECKS.contains(&c) => vec![c],
        Some(c) => {
            return Err(AppError::invalid_param(
                "check",
                format!("unknown check {c:?}; checks are {}", CHECKS.join(", ")),
            ));
        }
        None => CHECKS.to_vec(),
    }
    .into_iter()
    .filter(|c| personal || !matches!(*c, "id_number_mismatch" | "duplicate_person"))
    .collect();
    if checks.is_empty() {
        return Err(AppError::forbidden(
            "that check reads personal data: it needs case-level access",
        ));
    }
    // One statement per check (each has its own good plan), gathered here.
    type Finding = (String, String, i64, String, String, String, String);
    let mut findings: Vec<Finding> = Vec::new();
    for part in checks.iter().flat_map(|c| check_sql(c)) {
        let rows: Vec<Finding> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT f.check_name::text, f.register::text, f.id, f.detail, v.code::text, v.name, v.township_code::text
             FROM ({part}) f(check_name, register, id, village_id, detail)
             JOIN villages v ON v.id = f.village_id
             WHERE v.code LIKE $1 || '%' AND $2::float8 IS NOT NULL"
        )))
        .bind(caller.scope.prefix())
        .bind(max_distance)
        .fetch_all(&state.pool)
        .await?;
        findings.extend(rows);
    }
    findings.sort_by(|a, b| (&a.0, &a.4, a.2).cmp(&(&b.0, &b.4, b.2)));
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_village: BTreeMap<(String, String, String), BTreeMap<String, i64>> = BTreeMap::new();
    let mut by_township: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut items = Vec::new();
    for (check, register, id, detail, code, name, township) in &findings {
        let n = totals.entry(check.clone()).or_default();
        *n += 1;
        if *n <= limit {
            items.push(json!({
                "check": check, "register": register, "id": id, "detail": detail,
                "village_code": code, "village_name": name, "township_code": township,
                "link": format!("/api/{register}/{id}"),
            }));
        }
        *by_village
            .entry((code.clone(), name.clone(), township.clone()))
            .or_default()
            .entry(check.clone())
            .or_default() += 1;
        *by_township
            .entry(township.clone())
            .or_default()
            .entry(check.clone())
            .or_default() += 1;
    }
    let mut body = json!({
        "items": items,
        "totals": totals,
        "by_village": by_village.into_iter().map(|((code, name, township), counts)| json!({
            "village_code": code, "village_name": name, "township_code": township, "counts": counts,
        })).collect::<Vec<_>>(),
        "by_township": by_township.into_iter().map(|(township, counts)| json!({
            "township_code": township, "counts": counts,
        })).collect::<Vec<_>>(),
    });
    body["checks"] = json!(checks);
    body["max_distance_m"] = json!(max_distance);
    Ok(Json(body))
}
