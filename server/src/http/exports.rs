//! `GET /api/export/{layer}.geojson` and `.csv`: a layer of [`echinomap_programme::exports`] for a period,
//! streamed row by row (constant memory whatever the size), suppressed for the caller, audited.
//! GeoJSON per RFC 7946: WGS84 longitude/latitude, exterior rings counter-clockwise, 6
//! decimals, a `bbox`, no `crs` member. CSV: UTF-8 with a BOM, `lon`/`lat` columns (a polygon's
//! point on surface), Chinese (`lang=zh`, default) or English headers.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use tracing::Instrument;

use super::extract::{ApiPath, ApiQuery};
use super::session::Caller;
use super::{AppState, streaming};
use crate::error::{AppError, AppResult};
use echinomap_programme::audit::{self, Actor, Entry};
use echinomap_programme::exports::{self, Layer};

/// Personal counts up to this are withheld from roles without unsuppressed access.
pub const SMALL_COUNT_MAX: i64 = 4;
/// ... and up to this for anything marked for an external audience.
pub const EXTERNAL_COUNT_MAX: i64 = 9;
/// Bytes gathered before a chunk goes to the client.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `2024`, `2024Q2` or `2024-06`; default: the current year.
    period: Option<String>,
    township: Option<String>,
    /// `zh` (default) or `en` CSV headers.
    lang: Option<String>,
    /// `internal` (default) or `external`: suppression 1–9 for everybody.
    audience: Option<String>,
}

/// What an export or an OGC request reads: layer, period, township, suppression.
#[derive(Debug, Clone)]
pub struct Selection {
    pub layer: &'static Layer,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub period_label: String,
    pub township: Option<String>,
    /// Personal counts 1..=max are withheld; None: unsuppressed.
    pub suppress_max: Option<i64>,
}

pub fn suppression(caller: &Caller, external: bool) -> Option<i64> {
    if external {
        Some(EXTERNAL_COUNT_MAX)
    } else if caller.suppress_small_counts() {
        Some(SMALL_COUNT_MAX)
    } else {
        None
    }
}

pub fn township_param(caller: &Caller, township: Option<&str>) -> AppResult<Option<String>> {
    match township.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => {
            let code = echinomap_domain::TownshipCode::parse(t)
                .map_err(|e| AppError::invalid_param("township", e.to_string()))?;
            if !code.as_str().starts_with(caller.scope.prefix())
                && !caller.scope.prefix().starts_with(code.as_str())
            {
                return Err(AppError::forbidden(format!(
                    "township {code} lies outside your jurisdiction"
                )));
            }
            Ok(Some(code.as_str().to_owned()))
        }
    }
}

/// Refuses a period in the future, and a period without any record of the layer.
pub async fn check_period(state: &AppState, caller: &Caller, sel: &Selection) -> AppResult<()> {
    let today = chrono::Local::now().date_naive();
    if sel.layer.periodic && sel.from > today {
        return Err(AppError::invalid_param(
            "period",
            format!("the period {} has not started", sel.period_label),
        ));
    }
    if let Some(sql) = sel.layer.has_data_sql {
        let any: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(caller.scope.prefix())
            .bind(sel.from)
            .bind(sel.to)
            .bind(&sel.township)
            .fetch_optional(&state.pool)
            .await?;
        if any.is_none() {
            return Err(AppError::not_found(
                "no_data_for_period",
                format!(
                    "{} has no records in {} within your jurisdiction",
                    sel.layer.name, sel.period_label
                ),
            ));
        }
    }
    Ok(())
}

/// Risk columns by village code for the layers that have them (as of the period's end), as the
/// JSON parameter of [`exports::page_sql`]; null for the other layers.
pub async fn risk_for(state: &AppState, caller: &Caller, sel: &Selection) -> AppResult<Value> {
    if !sel.layer.has_risk() {
        return Ok(Value::Null);
    }
    let rows = state
        .village_risk(
            caller.scope.prefix(),
            Some(sel.to),
            caller.suppress_small_counts(),
        )
        .await?;
    Ok(exports::risk_columns(rows))
}

/// Refuses a register layer (one row per dog…) to a role without the register's permission, and
/// to any external audience: register rows stay inside the programme.
pub fn check_rows(caller: &Caller, layer: &Layer, external: bool) -> AppResult<()> {
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
    let period = match p.period.as_deref() {
        Some(s) => echinomap_tiles::period::Period::parse(s)
            .map_err(|e| AppError::invalid_param("period", e.to_string()))?,
        None => echinomap_tiles::period::Period::year_of(chrono::Local::now().date_naive()),
    };
    let english = match p.lang.as_deref() {
        None | Some("zh") => false,
        Some("en") => true,
        Some(l) => {
            return Err(AppError::invalid_param(
                "lang",
                format!("lang is zh or en, not {l:?}"),
            ));
        }
    };
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
        from: period.from,
        to: period.to,
        period_label: period.label(),
        township: township_param(&caller, p.township.as_deref())?,
        suppress_max: suppression(&caller, external),
    };
    check_period(&state, &caller, &sel).await?;
    let risk = risk_for(&state, &caller, &sel).await?;
    let bbox: (i64, Option<f64>, Option<f64>, Option<f64>, Option<f64>) =
        sqlx::query_as(sqlx::AssertSqlSafe(exports::extent_sql(layer)))
            .bind(caller.scope.prefix())
            .bind(sel.from)
            .bind(sel.to)
            .bind(&sel.township)
            .bind(None::<f64>)
            .bind(None::<f64>)
            .bind(None::<f64>)
            .bind(None::<f64>)
            .fetch_one(&state.pool)
            .await?;
    // Audited before the first byte: an interrupted download was still an export.
    let mut conn = state.pool.acquire().await?;
    audit::record(
        &mut conn,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: "export",
            table: Some(layer.name),
            detail: Some(json!({"format": format, "period": sel.period_label, "township": sel.township,
                "audience": if external { "external" } else { "internal" }, "suppressed": sel.suppress_max, "features": bbox.0})),
            ..Entry::default()
        },
    )
    .await?;
    drop(conn);
    let (writer, body) = streaming::body();
    let head = if format == "geojson" {
        let mut h = format!(
            "{{\"type\":\"FeatureCollection\",\"name\":{},\"period\":{},",
            json!(layer.name),
            json!(sel.period_label)
        );
        if let (_, Some(a), Some(b), Some(c), Some(d)) = bbox {
            let bb = json!([round6(a), round6(b), round6(c), round6(d)]);
            h.push_str(&format!("\"bbox\":{bb},"));
        }
        h.push_str("\"features\":[");
        h
    } else {
        let mut h = String::from("\u{feff}");
        let names: Vec<&str> = layer
            .columns
            .iter()
            .map(|c| if english { c.name } else { c.zh })
            .chain(if english {
                ["lon", "lat", "suppressed"]
            } else {
                ["经度", "纬度", "已抑制"]
            })
            .collect();
        h.push_str(&names.join(","));
        h.push_str("\r\n");
        h
    };
    let geojson = format == "geojson";
    let row_format = if geojson {
        exports::Format::GeoJson
    } else {
        exports::Format::Csv { english }
    };
    let pool = state.pool.clone();
    let scope = caller.scope.prefix().to_owned();
    // The producer logs in the request's span (its path), after the handler has returned.
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            if writer.send(Bytes::from(head)).await.is_err() {
                return;
            }
            // PostgreSQL writes every row (suppression included); here rows are only copied into
            // 64 KiB chunks. The rows arrive as the socket is read: memory stays flat.
            let sql = exports::page_sql(sel.layer, row_format, sel.suppress_max);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&scope)
                .bind(sel.from)
                .bind(sel.to)
                .bind(&sel.township)
                .bind(None::<f64>)
                .bind(None::<f64>)
                .bind(None::<f64>)
                .bind(None::<f64>)
                .bind(None::<i64>)
                .bind(0i64);
            if sel.layer.has_risk() {
                query = query.bind(risk);
            }
            let mut rows = query.fetch(&pool);
            let mut first = true;
            let mut buf = bytes::BytesMut::with_capacity(CHUNK + 4096);
            loop {
                let row = match rows.try_next().await {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        // The body is already streaming: end it as failed rather than pretend.
                        let reason = format!("export of {} failed mid-stream: {e}", sel.layer.name);
                        writer.fail(reason).await;
                        return;
                    }
                };
                let Ok(text) = row.try_get::<&str, _>(0) else {
                    let reason = format!("export of {}: a row is not text", sel.layer.name);
                    writer.fail(reason).await;
                    return;
                };
                if geojson && !first {
                    buf.extend_from_slice(b",");
                }
                buf.extend_from_slice(text.as_bytes());
                if !geojson {
                    buf.extend_from_slice(b"\r\n");
                }
                first = false;
                if buf.len() >= CHUNK && writer.send(buf.split().freeze()).await.is_err() {
                    return;
                }
            }
            if geojson {
                buf.extend_from_slice(b"]}");
            }
            if writer.send(buf.freeze()).await.is_ok() {
                writer.finish();
            }
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
                    period.label()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
