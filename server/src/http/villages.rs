//! `GET /api/villages` and `GET /api/villages/{code}`: the gazetteer of village-level units.

use super::extract::{ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use echinomap_domain::{TownshipCode, VillageCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::session::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A township code (9 digits) or its exact name.
    township: Option<String>,
    /// Part of the village name, the start of its code, or its pinyin (initials or syllables).
    q: Option<String>,
}

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

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Value>> {
    let (township_code, township_name) = match params.township.as_deref().map(str::trim) {
        None | Some("") => (None, None),
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) => {
            let code = TownshipCode::parse(t)
                .map_err(|e| AppError::invalid_param("township", e.to_string()))?;
            (Some(code.as_str().to_owned()), None)
        }
        Some(t) => (None, Some(t.to_owned())),
    };
    let q = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    // Latin letters are pinyin: matched here, after SQL, since names are stored in hanzi only.
    let latin = q
        .filter(|q| q.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_lowercase);
    let sql_q = if latin.is_some() { None } else { q };
    let mut items: Vec<VillageRow> = sqlx::query_as(concat!(
        include_str!("villages_select.sql"),
        "WHERE ($1::text IS NULL OR v.township_code = $1)
           AND ($2::text IS NULL OR t.name = $2)
           AND ($3::text IS NULL OR strpos(v.name, $3) > 0 OR v.code LIKE $3 || '%')
           AND v.code LIKE $4 || '%'
         ORDER BY v.code"
    ))
    .bind(township_code)
    .bind(township_name)
    .bind(sql_q)
    .bind(caller.scope.prefix())
    .fetch_all(&state.pool)
    .await?;
    if let Some(latin) = &latin {
        items.retain(|v| v.name.contains(latin.as_str()) || pinyin_matches(&v.name, latin));
    }
    for v in &mut items {
        v.pinyin_initials = pinyin_of(&v.name).0;
    }
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

/// 404 for a village code: unknown, or outside the caller's jurisdiction (answered alike, so
/// that existence is not disclosed).
pub fn not_found(code: &VillageCode) -> AppError {
    AppError::not_found("village_not_found", format!("no village with code {code}"))
}

/// A village code from a path: 400 when malformed, [`not_found`] outside the jurisdiction.
pub fn code_in_scope(caller: &Caller, raw: &str) -> AppResult<VillageCode> {
    let code =
        VillageCode::parse(raw).map_err(|e| AppError::invalid_param("code", e.to_string()))?;
    if !caller.scope.covers(code.as_str()) {
        return Err(not_found(&code));
    }
    Ok(code)
}

pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let code = code_in_scope(&caller, &code)?;
    let mut village: VillageRow = sqlx::query_as(concat!(
        include_str!("villages_select.sql"),
        "WHERE v.code = $1"
    ))
    .bind(code.as_str())
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| not_found(&code))?;
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
    .fetch_one(&state.pool)
    .await?;
    village.pinyin_initials = pinyin_of(&village.name).0;
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
    Ok(Json(body))
}

/// `GET /api/villages/{code}/contacts`: who answers for the village on the ground: the enabled
/// village-doctor accounts of the village, then the staff of its township. Names and roles
/// only: accounts carry no phone number, and no other account is listed.
pub async fn contacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let code = code_in_scope(&caller, &code)?;
    let unknown = || not_found(&code);
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM villages WHERE code = $1)")
        .bind(code.as_str())
        .fetch_one(&state.pool)
        .await?;
    if !exists {
        return Err(unknown());
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
    .fetch_all(&state.pool)
    .await?;
    let items: Vec<Value> = contacts
        .into_iter()
        .map(|(username, display_name, role)| {
            json!({ "username": username, "display_name": display_name, "role": role })
        })
        .collect();
    Ok(Json(
        json!({ "village_code": code.as_str(), "items": items }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocateParams {
    lon: f64,
    lat: f64,
    /// `wgs84` (default) or `gcj02` (WeChat, AMap).
    crs: Option<String>,
    /// How many nearest villages to list (default 5, at most 50).
    n: Option<usize>,
}

/// `GET /api/villages/locate`: the village at a point, the way the linker links records.
pub async fn locate(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<LocateParams>,
) -> AppResult<Json<Value>> {
    use echinomap_geodata::gcj02::{Crs, LonLat};
    let crs: Crs = p.crs.as_deref().unwrap_or("wgs84").parse().map_err(
        |e: echinomap_geodata::gcj02::CoordinateError| {
            AppError::invalid_param("crs", e.to_string())
        },
    )?;
    let given =
        LonLat::new(p.lon, p.lat).map_err(|e| AppError::invalid_param("lon", e.to_string()))?;
    let wgs = crs.to_wgs84(given);
    let n = p.n.unwrap_or(5);
    if !(1..=50).contains(&n) {
        return Err(AppError::invalid_param("n", "n must be 1–50"));
    }
    let linker = state.linker.get(&state.pool, &state.watch).await?;
    let located = linker
        .locate(wgs.lon(), wgs.lat(), n)
        .map_err(|e| AppError::invalid_param("lon", e.to_string()))?;
    let in_scope = |code: &str| caller.scope.covers(code);
    let outside = located.village.as_ref().is_some_and(|v| !in_scope(&v.code));
    let village = located.village.as_ref().filter(|v| in_scope(&v.code));
    let nearest: Vec<_> = located
        .nearest
        .iter()
        .filter(|v| in_scope(&v.code))
        .collect();
    Ok(Json(json!({
        "village": village,
        "method": village.and(located.method.map(|m| m.as_str())),
        "inside": village.is_some() && located.inside,
        "distance_m": village.and(located.distance_m),
        "in_county": located.in_county,
        "outside_jurisdiction": outside,
        "nearest": nearest,
        "point": { "lon": wgs.lon(), "lat": wgs.lat(), "crs": "wgs84", "given": { "lon": p.lon, "lat": p.lat, "crs": crs.as_str() } },
    })))
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
