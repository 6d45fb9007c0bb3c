//! Vector tiles: `GET /tiles` (catalogue), `GET /tiles/{layer}.json` (TileJSON 3.0) and
//! `GET /tiles/{layer}/{z}/{x}/{y}.mvt`. This module reads the request, resolves the caller's
//! scope and small-count rule, takes the data versions (in memory, see
//! `echinomap_programme::watch`) and serves from the cache (compressed once, one ETag per
//! encoding, `Vary: Accept-Encoding`); a tile not in the cache is rendered by
//! `echinomap_programme::tiles` (the layers' SQL is `echinomap_tiles::layers`). Every tile says
//! which data it shows (`X-Data-Version`, see `risk::data_version`): the villages layer's
//! colours come from the village arrays, a derived layer that may lag the newest write by 5 s.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use echinomap_domain::period::Asked;
use echinomap_domain::{Period, PlaceCode};
use echinomap_programme::derived::Snapshot;
use echinomap_programme::hotspots::HotspotSource;
use echinomap_programme::tiles::{ArraysOf, TileRequest, TileSources, VillageArrays};
use echinomap_tiles::TileCoord;
use echinomap_tiles::cache::{CacheKey, CachedTile, Encoding, matches_if_none_match};
use echinomap_tiles::layers::{LAYERS, TileLayer, layer};
use echinomap_tiles::tilejson::tilejson;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::session::Caller;
use crate::error::{AppError, AppResult};

pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileParams {
    /// `YYYY`, `YYYYQn`, `YYYY-MM`, a range of one kind (`2022..2026`) or a relative name
    /// (`last_12_months`); default the current year.
    period: Option<String>,
    /// Hotspots: the analysed layer (`human_cases`, `dog_positivity`, `livestock_infection`).
    source: Option<String>,
    /// Hotspots: the H3 resolution, 6–9.
    resolution: Option<u8>,
}

/// The `period=` of tiles and exports: `YYYY`, `YYYYQn`, `YYYY-MM`, a range or a relative name
/// resolved against `today`, as [`Period::resolve`] reads it (a future period is not refused
/// here: its map is empty).
pub(super) fn period_param(s: &str, today: chrono::NaiveDate) -> AppResult<Asked> {
    Period::resolve(s, today).map_err(|e| super::indicators::period_error("period", &e))
}

impl TileParams {
    fn period(&self, today: chrono::NaiveDate) -> AppResult<Option<Asked>> {
        self.period
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| period_param(p, today))
            .transpose()
    }

    fn source(&self) -> AppResult<(&'static str, u8)> {
        let source =
            HotspotSource::parse("source", self.source.as_deref().unwrap_or("human_cases"))?
                .as_str();
        let resolution = self.resolution.unwrap_or(7);
        if !(6..=9).contains(&resolution) {
            return Err(AppError::invalid_param(
                "resolution",
                "resolution must be 6–9",
            ));
        }
        Ok((source, resolution))
    }

    /// The filters a layer reads, canonical: part of the cache key (`resolved`: a relative
    /// period as its concrete key) and of the TileJSON URL (not resolved: the URL stays
    /// relative, `period=last_12_months`).
    fn canonical(
        &self,
        layer: &TileLayer,
        today: chrono::NaiveDate,
        resolved: bool,
    ) -> AppResult<String> {
        let mut parts = Vec::new();
        if let (true, Some(p)) = (layer.uses_period, self.period(today)?) {
            let key = if resolved { p.period.key() } else { p.asked() };
            parts.push(format!("period={key}"));
        }
        if layer.uses_source {
            let (source, resolution) = self.source()?;
            parts.push(format!("source={source}"));
            parts.push(format!("resolution={resolution}"));
        }
        Ok(parts.join("&"))
    }
}

fn find_layer(id: &str) -> AppResult<&'static TileLayer> {
    layer(id).ok_or_else(|| {
        AppError::not_found(
            "unknown_layer",
            format!(
                "no tile layer {id:?}; layers: {}",
                LAYERS.iter().map(|l| l.id).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

pub async fn catalog(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let base = origin(&headers);
    let rule = state.programme.suppression;
    Json(json!({
        "layers": LAYERS.iter().map(|l| json!({
            "id": l.id,
            "description": l.description(rule),
            "minzoom": l.minzoom,
            "maxzoom": l.maxzoom,
            "tilejson": format!("{base}/tiles/{}.json", l.id),
            "filters": if l.uses_period { json!(["period"]) } else { json!([]) },
        })).collect::<Vec<_>>(),
    }))
}

pub async fn tilejson_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(file): ApiPath<String>,
    ApiQuery(params): ApiQuery<TileParams>,
) -> AppResult<Json<Value>> {
    let id = file.strip_suffix(".json").ok_or_else(|| {
        AppError::not_found("not_found", format!("no such endpoint: /tiles/{file}"))
    })?;
    let layer = find_layer(id)?;
    let filters = params.canonical(layer, state.programme.today(), false)?;
    Ok(Json(tilejson(
        layer,
        &origin(&headers),
        &filters,
        state.programme.suppression,
    )))
}

/// One tile request, resolved: everything the cache key and the layer statement need.
struct Prepared {
    layer: &'static TileLayer,
    coord: TileCoord,
    period: Period,
    asked_period: bool,
    source: &'static str,
    resolution: u8,
    coverage_month: Period,
    scope: Option<PlaceCode>,
    small_max: Option<i64>,
    enc: Encoding,
    /// The village arrays the tile shows (layers that show village risk).
    arrays: Option<Snapshot<VillageArrays>>,
    /// `X-Data-Version`: the sum of the versions in the key.
    version: i64,
    key: String,
}

/// Parses a tile request and computes its cache key; `Ok(None)` for a zoom outside the layer's
/// range (204). Shared by the handler and [`fast_path`], so both key a tile the same way.
async fn prepare(
    state: &AppState,
    caller: &echinomap_programme::auth::Caller,
    headers: &HeaderMap,
    (layer_id, z, x, y_file): (&str, &str, &str, &str),
    params: &TileParams,
) -> AppResult<Option<Prepared>> {
    let layer = find_layer(layer_id)?;
    let y = y_file.strip_suffix(".mvt").ok_or_else(|| {
        AppError::invalid_param("y", format!("a tile path ends in .mvt, got {y_file:?}"))
    })?;
    let number = |name: &str, v: &str| {
        v.parse::<u32>().map_err(|_| {
            AppError::invalid_param(
                name,
                format!("{name} must be a non-negative integer, got {v:?}"),
            )
        })
    };
    let coord = TileCoord::new(number("z", z)?, number("x", x)?, number("y", y)?)
        .map_err(|e| AppError::invalid_param("z", e.to_string()))?;
    if coord.z() < layer.minzoom || coord.z() > layer.maxzoom {
        return Ok(None);
    }
    // The service's today (a configured day in tests and demos): relative periods, the default
    // year and the coverage month are all judged against it.
    let today = state.programme.today();
    let asked_period = params.period(today)?.map(|a| a.period);
    let period = asked_period.unwrap_or_else(|| Period::year_of(today));
    let (source, resolution) = params.source()?;
    let coverage_month = period.month_shown(today);
    let filters = params.canonical(layer, today, true)?;
    let scope = layer.scoped.then(|| caller.scope.jurisdiction().clone());
    // The running rule, by value: the cache key holds it, so tiles of two rules never mix.
    let small_max = if layer.suppressible {
        state.programme.small_max(caller.audience())
    } else {
        None
    };
    let enc = Encoding::negotiate(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    // From memory while the change listener is up; a write makes them move at once.
    let mut versions = state
        .watch
        .versions(&state.pool, &echinomap_programme::tiles::tables(layer))
        .await?;
    // The village arrays may lag: the key names the data they were computed from.
    let arrays = match (layer.uses_risk, scope.as_ref()) {
        (true, Some(scope)) => {
            let of = ArraysOf {
                scope,
                small_max,
                period,
                coverage_month,
            };
            let snap = state
                .tile_service
                .village_arrays(&sources(state), of)
                .await?;
            versions.extend(snap.versions.iter());
            Some(snap)
        }
        _ => None,
    };
    let version = echinomap_programme::derived::version_of(&versions);
    // Risk depends on the day too (its windows end today).
    let today_key;
    let key_filters = if layer.uses_risk {
        today_key = format!("{filters}|asof={today}");
        &today_key
    } else {
        &filters
    };
    let key = CacheKey {
        layer: layer.id,
        coord,
        filters: key_filters,
        // An unscoped layer's tiles are the same for everyone: the empty scope.
        scope: scope.as_ref().map_or("", PlaceCode::as_str),
        small_max,
        versions: &versions,
    }
    .to_string();
    Ok(Some(Prepared {
        layer,
        coord,
        period,
        asked_period: asked_period.is_some(),
        source,
        resolution,
        coverage_month,
        scope,
        small_max,
        enc,
        arrays,
        version,
        key,
    }))
}

fn sources(state: &AppState) -> TileSources<'_> {
    TileSources {
        pool: &state.pool,
        tile_pool: &state.tile_pool,
        watch: &state.watch,
        risk: &state.risk,
        programme: &state.programme,
    }
}

/// The answer for a tile in hand: 204 when empty, 304 when `If-None-Match` names its ETag,
/// else the bytes of the negotiated encoding; each says which data it shows.
fn respond(cached: &CachedTile, p: &Prepared, headers: &HeaderMap) -> AppResult<Response> {
    let enc = p.enc;
    let stale_for = p.arrays.as_ref().and_then(|a| a.stale_for);
    let data = super::risk::data_version(p.version, stale_for);
    if cached.is_empty() {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut().extend(data);
        return Ok(r);
    }
    let etag = cached.etag(enc);
    let mut builder = Response::builder();
    for (name, value) in data {
        builder = builder.header(name, value);
    }
    let mut builder = builder
        .header(header::VARY, "Accept-Encoding")
        .header(header::ETAG, &etag)
        // A private dashboard: browsers keep the tile but ask again (a 304 when unchanged).
        .header(header::CACHE_CONTROL, "private, no-cache");
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if matches_if_none_match(inm, &etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(|e| AppError::Internal(e.into()));
    }
    builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, MVT_CONTENT_TYPE);
    if let Some(e) = enc.header() {
        builder = builder.header(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    builder
        .body(Body::from(cached.body(enc)))
        .map_err(|e| AppError::Internal(e.into()))
}

/// Middleware in front of the router: a well-formed tile request of a caller who may see tiles
/// is answered here (from the cache, or rendered and kept), without the router, the trace span,
/// the compression layer or the route guard; the same checks are made (credentials through the
/// fence, the `Aggregates` permission, the caller's scope class in the key). Anything else (no
/// or bad credentials, a parameter the router must refuse) goes on to the router as before,
/// with the credentials already resolved so that they are not resolved twice.
pub async fn fast_path(
    State(state): State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(parts) = tile_path(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let auth = match crate::http::session::resolve(&state, req.headers()).await {
        Ok(auth) => auth,
        Err(e) => return e.into_response(),
    };
    if let crate::http::session::Auth::Caller(caller) = &auth
        && !caller.must_change_password
        && caller.can(echinomap_programme::auth::Perm::Aggregates)
        && let Ok(axum::extract::Query(params)) =
            axum::extract::Query::<TileParams>::try_from_uri(req.uri())
        && let Ok(prepared) = prepare(&state, caller, req.headers(), parts, &params).await
    {
        let served = match prepared {
            None => Ok(StatusCode::NO_CONTENT.into_response()),
            Some(p) => serve(&state, p, req.headers()).await,
        };
        return served.unwrap_or_else(IntoResponse::into_response);
    }
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// `GET /tiles/{layer}/{z}/{x}/{y}`: the four segments, else `None`.
fn tile_path<'a>(
    method: &axum::http::Method,
    path: &'a str,
) -> Option<(&'a str, &'a str, &'a str, &'a str)> {
    if method != axum::http::Method::GET {
        return None;
    }
    let mut it = path.strip_prefix("/tiles/")?.split('/');
    let parts = (it.next()?, it.next()?, it.next()?, it.next()?);
    it.next().is_none().then_some(parts)
}

pub async fn tile(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((layer_id, z, x, y_file)): ApiPath<(String, String, String, String)>,
    ApiQuery(params): ApiQuery<TileParams>,
) -> AppResult<Response> {
    let Some(p) = prepare(
        &state,
        &caller,
        &headers,
        (&layer_id, &z, &x, &y_file),
        &params,
    )
    .await?
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    serve(&state, p, &headers).await
}

/// A prepared tile from the cache, or rendered, compressed and kept; then [`respond`].
async fn serve(state: &AppState, p: Prepared, headers: &HeaderMap) -> AppResult<Response> {
    let (layer, coord, enc) = (p.layer, p.coord, p.enc);
    let cached = match state.tile_cache.get(&p.key) {
        Some(t) => t,
        None => {
            let started = std::time::Instant::now();
            let sources = sources(state);
            let request = TileRequest {
                layer,
                coord,
                scope: p.scope.as_ref(),
                small_max: p.small_max,
                period: p.period,
                has_period: p.asked_period,
                coverage_month: p.coverage_month,
                source: p.source,
                resolution: p.resolution,
                arrays: p.arrays.as_ref().map(|a| &*a.value),
            };
            let raw = state.tile_service.render(&sources, &request).await?;
            let raw_len_small = raw.len() <= 4 * 1024;
            // Compress into every encoding only when the tile is kept; otherwise only the
            // encoding this client asked for.
            let keep = state.tile_cache.is_enabled();
            let compress = move || {
                if keep {
                    CachedTile::new(raw)
                } else {
                    CachedTile::for_one(raw, enc)
                }
            };
            // Small tiles (most of them) compress in tens of microseconds: a hand-off to the
            // blocking pool would cost more than the work.
            let tile = if raw_len_small {
                compress()
            } else {
                tokio::task::spawn_blocking(compress)
                    .await
                    .map_err(anyhow::Error::from)?
            }
            .map_err(anyhow::Error::from)?;
            tracing::debug!(
                tile.layer = layer.id,
                tile.z = coord.z(),
                tile.x = coord.x(),
                tile.y = coord.y(),
                tile.bytes = tile.raw.len(),
                duration_ms = started.elapsed().as_millis() as u64,
                "tile rendered"
            );
            let tile = Arc::new(tile);
            state.tile_cache.insert(p.key.clone(), tile.clone());
            tile
        }
    };
    respond(&cached, &p, headers)
}
