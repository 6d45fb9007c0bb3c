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

use echinomap_domain::PlaceCode;
use sqlx::PgPool;

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

/// The findings of `checks` in the villages under `scope`, by check, village and record;
/// `max_distance_m` is the distance beyond which a point is far from its village.
pub async fn findings(
    pool: &PgPool,
    scope: &PlaceCode,
    checks: &[&str],
    max_distance_m: f64,
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
             WHERE v.code LIKE $1 || '%' AND $2::float8 IS NOT NULL"
        )))
        .bind(scope.as_str())
        .bind(max_distance_m)
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

#[cfg(test)]
mod tests {
    use super::*;

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
