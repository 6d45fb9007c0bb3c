//! `GET /api/quality`: what in the registers does not fit, per village and township, each
//! finding linked to its record. The checks and their SQL are
//! [`echinomap_programme::quality`]; this module reads the parameters, leaves the checks that
//! read personal data to roles with case-level access, and counts and lists the findings.

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
use echinomap_programme::quality;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityParams {
    max_distance_m: Option<f64>,
    /// Only this check.
    check: Option<String>,
    /// Findings listed per check (counts are always complete); default 200.
    limit: Option<i64>,
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
    let checks = quality::choose(p.check.as_deref(), caller.can(Perm::CaseRows))?;
    let findings = quality::findings(
        &state.pool,
        caller.scope.jurisdiction(),
        &checks,
        max_distance,
    )
    .await?;
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_village: BTreeMap<(&str, &str, &str), BTreeMap<&str, i64>> = BTreeMap::new();
    let mut by_township: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    let mut items = Vec::new();
    for f in &findings {
        let n = totals.entry(&f.check).or_default();
        *n += 1;
        if *n <= limit {
            items.push(json!({
                "check": f.check, "register": f.register, "id": f.id, "detail": f.detail,
                "village_code": f.village_code, "village_name": f.village_name,
                "township_code": f.township_code,
                "link": format!("/api/{}/{}", f.register, f.id),
            }));
        }
        *by_village
            .entry((&f.village_code, &f.village_name, &f.township_code))
            .or_default()
            .entry(&f.check)
            .or_default() += 1;
        *by_township
            .entry(&f.township_code)
            .or_default()
            .entry(&f.check)
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
