//! The villages as the API reads them: the list of a jurisdiction (by township, by part of the
//! name or code, or by pinyin), one village with its denominators, H3 cells, boundary and
//! registered counts, and who answers for it on the ground. Village rows themselves are written
//! by the gazetteer and the `villages` import (`records::villages`).

use echinomap_domain::{PlaceCode, VillageCode};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::error::Error;

/// One village as lists show it. `population` and `households` are the latest year's
/// denominators; `synthetic` says the position is a demo placement, not a survey.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct VillageRow {
    code: String,
    name: String,
    kind: String,
    township_code: String,
    township_name: String,
    lon: f64,
    lat: f64,
    population: Option<i32>,
    households: Option<i32>,
    dogs_estimated: Option<i32>,
    denominator_year: Option<i16>,
    synthetic: bool,
    remote: bool,
    /// The name's pinyin initials (宁古齐牛录村 → `ngqnlc`), for search on a phone keyboard.
    #[sqlx(skip)]
    pinyin_initials: String,
    /// The name's toneless syllables run together (`ningguqiniulucun`): the phone's offline
    /// search matches syllables typed in part (`niulu`) with no pinyin library of its own.
    #[sqlx(skip)]
    pinyin: String,
}

/// The pinyin of a name: its initials (宁古齐牛录村 → `ngqnlc`) and its toneless syllables run
/// together (`ningguqiniulucun`). Characters without a reading (digits, Latin) are kept,
/// lowercased, in both.
fn pinyin_of(name: &str) -> (String, String) {
    use pinyin::ToPinyin;
    let mut initials = String::new();
    let mut syllables = String::new();
    for (c, p) in name.chars().zip(name.to_pinyin()) {
        match p {
            Some(p) => {
                initials.push_str(p.first_letter());
                syllables.push_str(p.plain());
            }
            None if c.is_alphanumeric() => {
                initials.extend(c.to_lowercase());
                syllables.extend(c.to_lowercase());
            }
            None => {}
        }
    }
    (initials, syllables)
}

/// Whether a search text typed in Latin letters names the village: its pinyin initials or
/// syllables contain it (`ngqnl`, `niulu`).
fn pinyin_matches(name: &str, latin: &str) -> bool {
    let (initials, syllables) = pinyin_of(name);
    initials.contains(latin) || syllables.contains(latin)
}

/// Which villages a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// A township by its code.
    pub township_code: Option<&'a str>,
    /// A township by its exact name.
    pub township_name: Option<&'a str>,
    /// Part of the name, the start of the code, or (Latin letters only) the pinyin's initials or
    /// syllables.
    pub q: Option<&'a str>,
}

/// The villages inside the jurisdiction `scope` that pass `filter`, by code.
pub async fn list(
    pool: &PgPool,
    scope: &PlaceCode,
    filter: &Filter<'_>,
) -> Result<Vec<VillageRow>, sqlx::Error> {
    // Latin letters are pinyin: matched here, after SQL, since names are stored in hanzi only.
    let latin = filter
        .q
        .filter(|q| q.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_lowercase);
    let sql_q = if latin.is_some() { None } else { filter.q };
    let mut items: Vec<VillageRow> = sqlx::query_as(concat!(
        include_str!("villages_select.sql"),
        "WHERE ($1::text IS NULL OR v.township_code = $1)
           AND ($2::text IS NULL OR t.name = $2)
           AND ($3::text IS NULL OR strpos(v.name, $3) > 0 OR v.code LIKE $3 || '%')
           AND v.code LIKE $4 || '%'
         ORDER BY v.code"
    ))
    .bind(filter.township_code)
    .bind(filter.township_name)
    .bind(sql_q)
    .bind(scope.as_str())
    .fetch_all(pool)
    .await?;
    if let Some(latin) = &latin {
        items.retain(|v| v.name.contains(latin.as_str()) || pinyin_matches(&v.name, latin));
    }
    for v in &mut items {
        (v.pinyin_initials, v.pinyin) = pinyin_of(&v.name);
    }
    Ok(items)
}

/// One village in full: the list's fields, every year's denominators, its H3 cells, its
/// boundary (GeoJSON, when surveyed) and the households, live dogs and slaughter points
/// registered in it. `None` when no village has the code (the caller checks the jurisdiction).
pub async fn detail(pool: &PgPool, code: &VillageCode) -> Result<Option<Value>, Error> {
    let village: Option<VillageRow> = sqlx::query_as(concat!(
        include_str!("villages_select.sql"),
        "WHERE v.code = $1"
    ))
    .bind(code.as_str())
    .fetch_optional(pool)
    .await?;
    let Some(mut village) = village else {
        return Ok(None);
    };
    let extra: (Value, Value, Option<Value>, i64, i64, i64) = sqlx::query_as(
        "SELECT
            coalesce((SELECT json_agg(json_build_object(
                'year', d.year, 'population', d.population, 'households', d.households,
                'dogs_estimated', d.dogs_estimated, 'sheep', d.sheep, 'goats', d.goats,
                'cattle', d.cattle, 'horses', d.horses, 'camels', d.camels) ORDER BY d.year)
              FROM village_denominators d WHERE d.village_id = v.id), '[]'::json),
            json_build_object('r7', lower(to_hex(v.h3_r7)), 'r8', lower(to_hex(v.h3_r8)), 'r9', lower(to_hex(v.h3_r9))),
            ST_AsGeoJSON(v.boundary, 6)::json,
            (SELECT count(*) FROM households h WHERE h.village_id = v.id AND h.deleted_at IS NULL),
            (SELECT count(*) FROM dogs d WHERE d.village_id = v.id AND d.deleted_at IS NULL AND d.status = 'alive'),
            (SELECT count(*) FROM slaughter_points s WHERE s.village_id = v.id AND s.deleted_at IS NULL)
         FROM villages v WHERE v.code = $1",
    )
    .bind(code.as_str())
    .fetch_one(pool)
    .await?;
    (village.pinyin_initials, village.pinyin) = pinyin_of(&village.name);
    let mut body = serde_json::to_value(village).map_err(anyhow::Error::from)?;
    if let Value::Object(map) = &mut body {
        map.insert("denominators".into(), extra.0);
        map.insert("h3".into(), extra.1);
        map.insert("boundary".into(), extra.2.unwrap_or(Value::Null));
        map.insert(
            "registered".into(),
            json!({ "households": extra.3, "live_dogs": extra.4, "slaughter_points": extra.5 }),
        );
    }
    Ok(Some(body))
}

/// Who answers for a village on the ground: its enabled village-doctor accounts, then the
/// enabled staff of its township, as `{username, display_name, role}`. Names and roles only:
/// accounts carry no phone number, and no other account is listed. `None` when no village has
/// the code.
pub async fn contacts(
    pool: &PgPool,
    code: &VillageCode,
) -> Result<Option<Vec<Value>>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM villages WHERE code = $1)")
        .bind(code.as_str())
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(None);
    }
    let contacts: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT u.username, u.display_name, u.role::text
           FROM villages v
           JOIN users u ON NOT u.disabled
                AND (u.role = 'village_doctor' AND u.jurisdiction = v.code::text
                  OR u.role = 'township_staff' AND u.jurisdiction = v.township_code::text)
          WHERE v.code = $1
          ORDER BY u.role = 'township_staff', u.username",
    )
    .bind(code.as_str())
    .fetch_all(pool)
    .await?;
    Ok(Some(
        contacts
            .into_iter()
            .map(|(username, display_name, role)| {
                json!({ "username": username, "display_name": display_name, "role": role })
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_village_is_found_by_its_pinyin_initials_or_syllables() {
        assert_eq!(pinyin_of("宁古齐牛录村").0, "ngqnlc");
        assert_eq!(pinyin_of("宁古齐牛录村").1, "ningguqiniulucun");
        assert!(pinyin_matches("宁古齐牛录村", "ngqnl"));
        assert!(pinyin_matches("宁古齐牛录村", "niulu"));
        assert!(!pinyin_matches("宁古齐牛录村", "xyz"));
        assert_eq!(pinyin_of("一村2组").0, "yc2z");
    }
}
