//! `GET /api/quality`: what in the registers does not fit, per village and township, each
//! finding linked to its record and with its review, if any; `POST /api/quality/reviews` and
//! `DELETE /api/quality/reviews/{key}` mark a finding as reviewed and take the mark back. The
//! checks, their SQL and who reviews are [`echinomap_programme::quality`]; this module reads the
//! parameters, leaves the checks that read personal data to roles with case-level access, and
//! counts and lists the findings.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
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
    /// `false`: only findings not reviewed; `true`: only reviewed ones; left out: all.
    reviewed: Option<bool>,
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
    let keys: Vec<String> = findings.iter().map(quality::Finding::key).collect();
    let mut reviews = quality::reviews(&state.pool, &keys).await?;
    let reviewed_count = reviews.len();
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_village: BTreeMap<(&str, &str, &str), BTreeMap<&str, i64>> = BTreeMap::new();
    let mut by_township: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    let mut items = Vec::new();
    for (f, key) in findings.iter().zip(keys) {
        let review = reviews.remove(&key);
        if p.reviewed.is_some_and(|wanted| wanted != review.is_some()) {
            continue;
        }
        let n = totals.entry(&f.check).or_default();
        *n += 1;
        if *n <= limit {
            items.push(json!({
                "key": key,
                "check": f.check, "register": f.register, "record_id": f.id, "id": f.id,
                "detail": f.detail,
                "village_code": f.village_code, "village_name": f.village_name,
                "township_code": f.township_code,
                "link": format!("/api/{}/{}", f.register, f.id),
                "reviewed": review,
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
    body["reviewed_count"] = json!(reviewed_count);
    body["may_review"] = json!(quality::may_review(&caller));
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// The finding's `key` as `GET /api/quality` lists it.
    key: String,
    note: Option<String>,
}

/// `POST /api/quality/reviews`: marks a finding as reviewed (again: replaces the note).
pub async fn mark(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<ReviewBody>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let review = quality::mark(&state.pool, &caller, body.key.trim(), body.note).await?;
    Ok(Json(json!({ "key": body.key.trim(), "reviewed": review })))
}

/// `DELETE /api/quality/reviews/{key}`: the finding is not reviewed any more.
pub async fn unmark(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> AppResult<Json<Value>> {
    quality::unmark(&state.pool, &caller, &key).await?;
    Ok(Json(json!({ "key": key, "reviewed": null })))
}
