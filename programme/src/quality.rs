//! The data-quality checks behind `GET /api/quality`: what in the registers does not fit, each
//! finding with its record and village. Checks (each one SQL statement below):
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
//!
//! Each finding has a stable key, `check:register:record id` ([`Finding::key`]). Someone who
//! may correct the data ([`REVIEWERS`]: the epidemiologists and administrators, who may read and
//! write every register of their jurisdiction) marks a finding as reviewed ([`mark`]), with a
//! note, or takes the mark back ([`unmark`]); both are audited. A review is kept by key: it
//! applies again if the finding comes back after a correction, and it is never shown without
//! its finding.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use echinomap_domain::PlaceCode;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use crate::audit::{self, Actor, Entry};
use crate::auth::{Caller, Perm, Role};
use crate::error::Error;
use crate::records::spec::SPECS;

/// Every check, in the order they are listed.
pub const CHECKS: &[&str] = &[
    "far_from_village",
    "swapped_lat_lon",
    "future_date",
    "id_number_mismatch",
    "duplicate_person",
    "dead_dog_dewormed",
    "infected_over_slaughtered",
];

/// A record's village inside the scope bound as `$1`: each check keeps to the caller's villages
/// from its first scan (a county's checks read its own rows, not the province's).
const IN_SCOPE: &str = "IN (SELECT sv.id FROM villages sv WHERE sv.code LIKE $1 || '%')";

/// Each check: a SELECT of (check, register, id, village_id, detail), of the villages under `$1`.
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
                       AND ST_DWithin(t.geom::geography, v.geom::geography, $2) = false
                       AND t.village_id {IN_SCOPE}"
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
                       AND EXISTS (SELECT 1 FROM counties c WHERE ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(ST_Y(t.geom), ST_X(t.geom)), 4326)))
                       AND t.village_id {IN_SCOPE}"
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
                     FROM {table} t WHERE {live} t.{d} > current_date AND {village} {IN_SCOPE}",
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
                        OR (p.sex <> 'unknown' AND (substr(p.id_number, 17, 1)::int % 2 = 1) <> (p.sex = 'male')))
                   AND p.village_id {IN_SCOPE}"
            )]
        }
        "duplicate_person" => vec![format!(
            "SELECT 'duplicate_person', 'people', p.id, p.village_id,
                format('same name and birth date as person %s', o.id)
             FROM people p JOIN people o ON o.name = p.name AND o.birth_date = p.birth_date
               AND o.village_id = p.village_id AND o.id < p.id AND o.deleted_at IS NULL
             WHERE p.deleted_at IS NULL AND p.village_id {IN_SCOPE}"
        )],
        "dead_dog_dewormed" => vec![format!(
            "SELECT 'dead_dog_dewormed', 'dewormings', d.id, d.village_id,
                format('dog %s is %s since %s, dosed %s', g.tag, g.status, g.status_on, d.dosed_on)
             FROM dewormings d JOIN dogs g ON g.id = d.dog_id
             WHERE d.deleted_at IS NULL AND g.status <> 'alive' AND d.dosed_on > g.status_on
               AND d.village_id {IN_SCOPE}"
        )],
        "infected_over_slaughtered" => vec![format!(
            "SELECT 'infected_over_slaughtered', 'slaughter_inspections', i.id, p.village_id,
                format('%s infected of %s slaughtered', i.infected, i.slaughtered)
             FROM slaughter_inspections i JOIN slaughter_points p ON p.id = i.point_id
             WHERE i.deleted_at IS NULL AND i.infected > i.slaughtered AND p.village_id {IN_SCOPE}"
        )],
        _ => Vec::new(),
    }
}

/// The checks that read personal data (names, birth dates, ID numbers): only for roles with
/// case-level access.
pub const PERSONAL: &[&str] = &["id_number_mismatch", "duplicate_person"];

/// The checks to run: `check` alone (refused when unknown) or all of them, without the
/// personal ones unless `personal`. Refused when nothing is left.
pub fn choose(check: Option<&str>, personal: bool) -> Result<Vec<&'static str>, Error> {
    let checks: Vec<&'static str> = match check {
        Some(c) => match CHECKS.iter().find(|k| **k == c) {
            Some(k) => vec![*k],
            None => {
                return Err(Error::invalid_param(
                    "check",
                    format!("unknown check {c:?}; checks are {}", CHECKS.join(", ")),
                ));
            }
        },
        None => CHECKS.to_vec(),
    }
    .into_iter()
    .filter(|c| personal || !PERSONAL.contains(c))
    .collect();
    if checks.is_empty() {
        return Err(Error::forbidden(
            "that check reads personal data: it needs case-level access",
        ));
    }
    Ok(checks)
}

/// One finding: which check, which record, why, and the village it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: String,
    pub register: String,
    pub id: i64,
    pub detail: String,
    pub village_code: String,
    pub village_name: String,
    pub township_code: String,
}

impl Finding {
    /// The finding's stable key: `check:register:record id`.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.check, self.register, self.id)
    }
}

/// The findings of `checks` in the villages under `scope`, by check, village and record;
/// `max_distance_m` is the distance beyond which a point is far from its village.
pub async fn findings(
    pool: &PgPool,
    scope: &PlaceCode,
    checks: &[&str],
    max_distance_m: f64,
) -> Result<Vec<Finding>, sqlx::Error> {
    findings_of(pool, scope, checks, max_distance_m, None).await
}

/// [`findings`], of one record (`register`, `id`) when `only` says so.
async fn findings_of(
    pool: &PgPool,
    scope: &PlaceCode,
    checks: &[&str],
    max_distance_m: f64,
    only: Option<(&str, i64)>,
) -> Result<Vec<Finding>, sqlx::Error> {
    type Row = (String, String, i64, String, String, String, String);
    // One statement per check (each has its own good plan), gathered here.
    let mut rows: Vec<Row> = Vec::new();
    for part in checks.iter().flat_map(|c| check_sql(c)) {
        // Built from the constant checks and the register specs; every value is bound.
        let found: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT f.check_name::text, f.register::text, f.id, f.detail, v.code::text, v.name, v.township_code::text
             FROM ({part}) f(check_name, register, id, village_id, detail)
             JOIN villages v ON v.id = f.village_id
             WHERE v.code LIKE $1 || '%' AND $2::float8 IS NOT NULL
               AND ($3::text IS NULL OR (f.register = $3 AND f.id = $4))"
        )))
        .bind(scope.as_str())
        .bind(max_distance_m)
        .bind(only.map(|o| o.0))
        .bind(only.map(|o| o.1))
        .fetch_all(pool)
        .await?;
        rows.extend(found);
    }
    rows.sort_by(|a, b| (&a.0, &a.4, a.2).cmp(&(&b.0, &b.4, b.2)));
    Ok(rows
        .into_iter()
        .map(
            |(check, register, id, detail, village_code, village_name, township_code)| Finding {
                check,
                register,
                id,
                detail,
                village_code,
                village_name,
                township_code,
            },
        )
        .collect())
}

/// The roles that mark findings as reviewed: those that may correct any register of their
/// jurisdiction and answer for the data (epidemiologists, administrators). Township staff and
/// village doctors correct records; vets, planners and viewers read the findings.
pub const REVIEWERS: [Role; 2] = [Role::Admin, Role::Epidemiologist];

pub fn may_review(caller: &Caller) -> bool {
    REVIEWERS.contains(&caller.role)
}

fn reviewer(caller: &Caller) -> Result<(), Error> {
    if may_review(caller) {
        Ok(())
    } else {
        Err(Error::forbidden_because(
            "quality_reviewer",
            "数据质量问题由流行病学专业人员或系统管理员标记为已审核 / findings are marked as reviewed by epidemiologists and administrators",
        ))
    }
}

/// Someone's review of a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Review {
    /// The reviewer's display name (or username).
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// The reviews of the findings `keys`, by key.
pub async fn reviews(
    pool: &PgPool,
    keys: &[String],
) -> Result<HashMap<String, Review>, sqlx::Error> {
    // Key, reviewer, when, note.
    type ReviewRow = (String, Option<String>, DateTime<Utc>, Option<String>);
    let rows: Vec<ReviewRow> = sqlx::query_as(
        "SELECT r.finding_key, coalesce(u.display_name, u.username), r.reviewed_at, r.note
         FROM quality_reviews r LEFT JOIN users u ON u.id = r.reviewed_by
         WHERE r.finding_key = ANY($1)",
    )
    .bind(keys)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, by, at, note)| {
            let by = by.unwrap_or_default();
            (key, Review { by, at, note })
        })
        .collect())
}

/// The check and record a finding key names; 404 `finding_not_found` for anything else.
fn parse_key(key: &str) -> Result<(&'static str, &str, i64), Error> {
    let unknown = || Error::not_found("finding_not_found", format!("no finding {key:?}"));
    let mut parts = key.splitn(3, ':');
    let (Some(check), Some(register), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unknown());
    };
    let check = CHECKS.iter().find(|c| **c == check).ok_or_else(unknown)?;
    let id: i64 = id.parse().map_err(|_| unknown())?;
    if register.is_empty()
        || !register
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Err(unknown());
    }
    Ok((check, register, id))
}

/// The finding `key` as the caller would see it now, or 404: as unknown outside the
/// jurisdiction, for checks of personal data without case access, and once corrected.
/// A point counts as far from its village at any distance here (the list's `max_distance_m`
/// only narrows what it shows).
async fn visible(pool: &PgPool, caller: &Caller, key: &str) -> Result<Finding, Error> {
    let (check, register, id) = parse_key(key)?;
    let checks = choose(Some(check), caller.can(Perm::CaseRows))
        .map_err(|_| Error::not_found("finding_not_found", format!("no finding {key:?}")))?;
    findings_of(
        pool,
        caller.scope.jurisdiction(),
        &checks,
        0.0,
        Some((register, id)),
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| Error::not_found("finding_not_found", format!("no finding {key:?}")))
}

/// The longest note of a review, in characters.
pub const MAX_NOTE: usize = 1000;

/// Marks the finding `key` as reviewed by the caller, with `note` (replacing an earlier review
/// and its note). Refused to roles outside [`REVIEWERS`] (403 `quality_reviewer`); 404 for a
/// finding the caller does not see. Audited: `create` (or `update`) of `quality_reviews`.
pub async fn mark(
    pool: &PgPool,
    caller: &Caller,
    key: &str,
    note: Option<String>,
) -> Result<Review, Error> {
    reviewer(caller)?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(Error::field_refused(
            "note",
            "too_long",
            json!({ "max": MAX_NOTE }),
            format!("备注最多 {MAX_NOTE} 个字符 / a note has at most {MAX_NOTE} characters"),
        ));
    }
    let finding = visible(pool, caller, key).await?;
    let key = finding.key();
    let mut tx = pool.begin().await?;
    let before: Option<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT reviewed_by, note FROM quality_reviews WHERE finding_key = $1 FOR UPDATE",
    )
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await?;
    let at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO quality_reviews (finding_key, reviewed_by, note) VALUES ($1, $2, $3)
         ON CONFLICT (finding_key) DO UPDATE
            SET reviewed_by = excluded.reviewed_by, note = excluded.note, reviewed_at = now()
         RETURNING reviewed_at",
    )
    .bind(&key)
    .bind(caller.user_id)
    .bind(&note)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: if before.is_some() { "update" } else { "create" },
            table: Some("quality_reviews"),
            row_id: Some(key.clone()),
            before: before.map(|(by, note)| json!({ "reviewed_by": by, "note": note })),
            after: Some(
                json!({ "reviewed_by": caller.user_id, "note": note, "detail": finding.detail }),
            ),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    let by: Option<String> = sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
        .bind(caller.user_id)
        .fetch_optional(pool)
        .await?
        .flatten();
    Ok(Review {
        by: by.unwrap_or_else(|| caller.username.clone()),
        at,
        note,
    })
}

/// Takes back the review of the finding `key`: the finding is listed as not reviewed again.
/// The same refusals as [`mark`]; 404 also when the finding has no review. Audited: `delete`
/// of `quality_reviews` with the review as it was.
pub async fn unmark(pool: &PgPool, caller: &Caller, key: &str) -> Result<(), Error> {
    reviewer(caller)?;
    let finding = visible(pool, caller, key).await?;
    let key = finding.key();
    let mut tx = pool.begin().await?;
    let removed: Option<(Option<i64>, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "DELETE FROM quality_reviews WHERE finding_key = $1 RETURNING reviewed_by, reviewed_at, note",
    )
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((by, at, note)) = removed else {
        return Err(Error::not_found(
            "review_not_found",
            format!("the finding {key} has not been reviewed"),
        ));
    };
    audit::record(
        &mut tx,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: "delete",
            table: Some("quality_reviews"),
            row_id: Some(key),
            before: Some(json!({ "reviewed_by": by, "reviewed_at": at, "note": note })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_keys_name_a_known_check_and_a_record() {
        let f = Finding {
            check: "future_date".into(),
            register: "dewormings".into(),
            id: 37,
            detail: String::new(),
            village_code: String::new(),
            village_name: String::new(),
            township_code: String::new(),
        };
        assert_eq!(f.key(), "future_date:dewormings:37");
        assert_eq!(
            parse_key(&f.key()).expect("parsed"),
            ("future_date", "dewormings", 37)
        );
        for bad in [
            "",
            "future_date",
            "nonsense:dogs:1",
            "future_date:dogs:x",
            "future_date:Dogs;--:1",
        ] {
            assert!(
                matches!(parse_key(bad), Err(Error::NotFound { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn personal_checks_are_left_out_for_roles_without_case_access() {
        assert_eq!(choose(None, true).expect("all"), CHECKS.to_vec());
        let some = choose(None, false).expect("some");
        assert!(!some.iter().any(|c| PERSONAL.contains(c)));
        assert!(matches!(
            choose(Some("duplicate_person"), false),
            Err(Error::Forbidden { .. })
        ));
        assert!(matches!(
            choose(Some("nonsense"), true),
            Err(Error::InvalidParam { .. })
        ));
        for c in CHECKS {
            assert!(!check_sql(c).is_empty(), "{c} has SQL");
        }
    }
}
