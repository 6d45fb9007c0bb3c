//! `GET /api/export/{layer}.geojson` and `.csv`: a layer of [`echinomap_programme::exports`] for a period,
//! streamed row by row (constant memory whatever the size), suppressed for the caller, audited.
//! GeoJSON per RFC 7946: WGS84 longitude/latitude, exterior rings counter-clockwise, 6
//! decimals, a `bbox`, no `crs` member. CSV: UTF-8 with a BOM, `lon`/`lat` columns (a polygon's
//! point on surface), Chinese (`lang=zh`, default) or English headers.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

use super::extract::{ApiPath, ApiQuery};
use super::session::Caller;
use super::{AppState, streaming};
use crate::error::{AppError, AppResult};
use echinomap_domain::TownshipCode;
use echinomap_programme::audit::{self, Actor, Entry};
use echinomap_programme::exports::{self, ExportLayer, Selection};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `2024`, `2024Q2`, `2024-06`, a range (`2022..2026`) or a relative name
    /// (`last_12_months`); default: the current year.
    period: Option<String>,
    township: Option<String>,
    /// `zh` (default) or `en` CSV headers.
    lang: Option<String>,
    /// `internal` (default) or `external`: the outside audience's suppression for everybody.
    audience: Option<String>,
}

/// The largest count of people withheld from what `caller` reads (`external`: from what they
/// take outside the organisation), by the running rule ([`echinomap_programme::config::Programme::small_max`]).
pub fn suppress_max(state: &AppState, caller: &Caller, external: bool) -> Option<i64> {
    state
        .programme
        .small_max(exports::audience(caller, external))
}

pub fn township_param(caller: &Caller, township: Option<&str>) -> AppResult<Option<TownshipCode>> {
    match township.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => {
            let code = TownshipCode::parse(t)
                .map_err(|e| AppError::invalid_param("township", e.to_string()))?;
            if !code.as_str().starts_with(caller.scope.prefix())
                && !caller.scope.prefix().starts_with(code.as_str())
            {
                return Err(AppError::forbidden(format!(
                    "township {code} lies outside your jurisdiction"
                )));
            }
            Ok(Some(code))
        }
    }
}

/// Risk columns by village code for the layers that have them (as of the period's end), as the
/// JSON parameter of the layer's rows ([`Selection::page`], [`Selection::document`]); null for
/// the other layers.
pub async fn risk_for(state: &AppState, caller: &Caller, sel: &Selection) -> AppResult<Value> {
    if !sel.layer.has_risk() {
        return Ok(Value::Null);
    }
    // The caller's own rule, whatever the audience of the export: the columns are a score,
    // a tier and a regime, not counts (as it always was).
    let small_max = state.programme.small_max(caller.audience());
    let rows = state
        .village_risk(caller.scope.jurisdiction(), Some(sel.to), small_max)
        .await?;
    Ok(exports::risk_columns(&rows.villages))
}

/// Refuses a register layer (one row per dog…) to a role without the register's permission, and
/// to any external audience: register rows stay inside the programme.
pub fn check_rows(caller: &Caller, layer: &ExportLayer, external: bool) -> AppResult<()> {
    let Some(perm) = layer.perm() else {
        return Ok(());
    };
    if external {
        return Err(AppError::forbidden(format!(
            "{} has one row per register record; it is not exported for an external audience",
            layer.name
        )));
    }
    if !caller.can(perm) {
        return Err(AppError::forbidden(format!(
            "{} has one row per register record; the role {} may not read that register",
            layer.name,
            caller.role.as_str()
        )));
    }
    Ok(())
}

pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(file): ApiPath<String>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let (name, format) = file
        .rsplit_once('.')
        .filter(|(_, f)| matches!(*f, "geojson" | "csv"))
        .ok_or_else(|| {
            AppError::not_found(
                "unknown_export",
                format!("no export {file}: use LAYER.geojson or LAYER.csv"),
            )
        })?;
    let layer = exports::layer(name).ok_or_else(|| {
        let names: Vec<&str> = exports::LAYERS.iter().map(|l| l.name).collect();
        AppError::not_found(
            "unknown_layer",
            format!("no layer {name}; layers are {}", names.join(", ")),
        )
    })?;
    let today = state.programme.today();
    let asked = match p.period.as_deref() {
        Some(s) => super::tiles::period_param(s, today)?,
        None => echinomap_domain::period::Asked {
            period: echinomap_domain::Period::year_of(today),
            relative: None,
        },
    };
    let period = asked.period;
    let english = english_param(p.lang.as_deref())?;
    let external = match p.audience.as_deref() {
        None | Some("internal") => false,
        Some("external") => true,
        Some(a) => {
            return Err(AppError::invalid_param(
                "audience",
                format!("audience is internal or external, not {a:?}"),
            ));
        }
    };
    check_rows(&caller, layer, external)?;
    let sel = Selection {
        layer,
        scope: caller.scope.clone(),
        from: period.start(),
        to: period.end(),
        period_label: period.key(),
        township: township_param(&caller, p.township.as_deref())?,
        suppress_max: suppress_max(&state, &caller, external),
    };
    sel.check_period(&state.pool).await?;
    let risk = risk_for(&state, &caller, &sel).await?;
    let extent = sel.extent(&state.pool, None).await?;
    // Audited before the first byte: an interrupted download was still an export.
    let mut conn = state.pool.acquire().await?;
    audit::record(
        &mut conn,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: "export",
            table: Some(layer.name),
            detail: Some(json!({"format": format, "period": sel.period_label, "period_asked": asked.asked(), "township": sel.township,
                "audience": if external { "external" } else { "internal" }, "suppressed": sel.suppress_max, "features": extent.count})),
            ..Entry::default()
        },
    )
    .await?;
    drop(conn);
    let row_format = if format == "geojson" {
        exports::Format::GeoJson
    } else {
        exports::Format::Csv { english }
    };
    let (writer, body) = streaming::body();
    // The long pool: the statement runs until the client has taken the last row.
    let pool = state.long_pool.clone();
    // The producer logs in the request's span (its path), after the handler has returned.
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            // A client that goes away drops `conn` before `done`: its statement is cancelled.
            let mut conn = match echinomap_programme::db::Cancellable::acquire(&pool).await {
                Ok(conn) => conn,
                Err(e) => return writer.fail(e.to_string()).await,
            };
            {
                // PostgreSQL writes every row (suppression included); the programme only joins
                // them into chunks, read as the client takes them: memory stays flat.
                let chunks = sel.document(&mut conn, row_format, extent.bbox, &risk);
                let mut chunks = std::pin::pin!(chunks);
                while let Some(chunk) = chunks.next().await {
                    match chunk {
                        Ok(bytes) => {
                            if writer.send(bytes).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            // The body is already streaming: end it as failed rather than pretend.
                            writer.fail(e.to_string()).await;
                            return;
                        }
                    }
                }
            }
            conn.done();
            writer.finish();
        }
        .instrument(span),
    );
    let (content_type, ext) = if format == "geojson" {
        ("application/geo+json", "geojson")
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{}.{ext}\"",
                    layer.name,
                    period.key()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// The `lang=` of a file: Chinese headers and labels (`zh`, the default) or English (`en`).
pub(super) fn english_param(lang: Option<&str>) -> AppResult<bool> {
    match lang {
        None | Some("zh") => Ok(false),
        Some("en") => Ok(true),
        Some(l) => Err(AppError::invalid_param(
            "lang",
            format!("lang is zh or en, not {l:?}"),
        )),
    }
}
