//! Vector tiles: `GET /tiles` (catalogue), `GET /tiles/{layer}.json` (TileJSON 3.0) and
//! `GET /tiles/{layer}/{z}/{x}/{y}.mvt`. The SQL of each layer lives in `echinomap_tiles::layers`;
//! this module binds the caller's scope, takes the data versions (in memory, see `echinomap_programme::watch`),
//! and serves from the
//! cache (compressed once, one ETag per encoding).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use echinomap_tiles::TileCoord;
use echinomap_tiles::cache::{CacheKey, CachedTile, Encoding, matches_if_none_match};
use echinomap_tiles::layers::{LAYERS, LayerDef, layer};
use echinomap_tiles::period::Period;
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
    /// `YYYY`, `YYYYQn` or `YYYY-MM`; default the current year.
    period: Option<String>,
    /// Hotspots: the analysed layer (`human_cases`, `dog_positivity`, `livestock_infection`).
    source: Option<String>,
    /// Hotspots: the H3 resolution, 6–9.
    resolution: Option<u8>,
}

impl TileParams {
    fn period(&self) -> AppResult<Option<Period>> {
        self.period
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| Period::parse(p).map_err(|e| AppError::invalid_param("period", e.to_string())))
            .transpose()
    }

    fn source(&self) -> AppResult<(&'static str, u8)> {
        let source = super::hotspots::Layer::parse(
            "source",
            self.source.as_deref().unwrap_or("human_cases"),
        )?
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

    /// The filters a layer reads, canonical: part of the cache key and of the TileJSON URL.
    fn canonical(&self, layer: &LayerDef) -> AppResult<String> {
        let mut parts = Vec::new();
        if let (true, Some(p)) = (layer.uses_period, self.period()?) {
            parts.push(format!("period={}", p.label()));
        }
        if layer.uses_source {
            let (source, resolution) = self.source()?;
            parts.push(format!("source={source}"));
            parts.push(format!("resolution={resolution}"));
        }
        Ok(parts.join("&"))
    }
}

fn find_layer(id: &str) -> AppResult<&'static LayerDef> {
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

pub async fn catalog(headers: HeaderMap) -> Json<Value> {
    let base = origin(&headers);
    Json(json!({
        "layers": LAYERS.iter().map(|l| json!({
            "id": l.id,
            "description": l.description,
            "minzoom": l.minzoom,
            "maxzoom": l.maxzoom,
            "tilejson": format!("{base}/tiles/{}.json", l.id),
            "filters": if l.uses_period { json!(["period"]) } else { json!([]) },
        })).collect::<Vec<_>>(),
    }))
}

pub async fn tilejson_handler(
    headers: HeaderMap,
    ApiPath(file): ApiPath<String>,
    ApiQuery(params): ApiQuery<TileParams>,
) -> AppResult<Json<Value>> {
    let id = file.strip_suffix(".json").ok_or_else(|| {
        AppError::not_found("not_found", format!("no such endpoint: /tiles/{file}"))
    })?;
    let layer = find_layer(id)?;
    let filters = params.canonical(layer)?;
    Ok(Json(tilejson(layer, &origin(&headers), &filters)))
}

/// One tile request, resolved: everything the cache key and the layer statement need.
struct Prepared {
    layer: &'static LayerDef,
    coord: TileCoord,
    period: Period,
    asked_period: bool,
    source: &'static str,
    resolution: u8,
    m_from: chrono::NaiveDate,
    m_to: chrono::NaiveDate,
    scope: String,
    suppress: bool,
    enc: Encoding,
    versions: Vec<i64>,
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
    let today = chrono::Local::now().date_naive();
    let asked_period = params.period()?;
    let period = asked_period.unwrap_or_else(|| Period::year_of(today));
    let (source, resolution) = params.source()?;
    let (m_from, m_to) = period.coverage_month(today);
    let filters = params.canonical(layer)?;
    let scope = if layer.scoped {
        caller.scope.prefix()
    } else {
        ""
    };
    let suppress = layer.suppressible && caller.suppress_small_counts();
    let enc = Encoding::negotiate(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    // From memory while the change listener is up; a write makes them move at once.
    let versions = state.watch.versions(&state.pool, layer.tables).await?;
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
        scope,
        suppressed: suppress,
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
        m_from,
        m_to,
        scope: scope.to_owned(),
        suppress,
        enc,
        versions,
        key,
    }))
}

/// The answer for a tile in hand: 204 when empty, 304 when `If-None-Match` names its ETag,
/// else the bytes of the negotiated encoding.
fn respond(cached: &CachedTile, enc: Encoding, headers: &HeaderMap) -> AppResult<Response> {
    if cached.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let etag = cached.etag(enc);
    let mut builder = Response::builder()
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
            let village = if layer.uses_risk {
                state
                    .tile_risk
                    .get(
                        state,
                        &p.scope,
                        p.suppress,
                        &p.period.label(),
                        p.m_from,
                        &p.versions,
                    )
                    .await?
            } else {
                Arc::default()
            };
            let raw: Option<Vec<u8>> = sqlx::query_scalar(layer.sql(coord.z()))
                .bind(i32::from(coord.z()))
                .bind(coord.x() as i32)
                .bind(coord.y() as i32)
                .bind(&p.scope)
                .bind(p.suppress)
                .bind(p.period.from)
                .bind(p.period.to)
                .bind(p.m_from)
                .bind(p.m_to)
                .bind(p.source)
                .bind(i32::from(p.resolution))
                .bind(p.asked_period)
                .bind(&village.tier)
                .bind(&village.score)
                .bind(&village.cases)
                .bind(&village.dogs_due)
                .bind(&village.dogs_dosed)
                .bind(&village.population)
                .bind(&village.households)
                .fetch_one(&state.tile_pool)
                .await?;
            let raw = raw.unwrap_or_default();
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
            state.tile_cache.insert(p.key, tile.clone());
            tile
        }
    };
    respond(&cached, enc, headers)
}

/// What the villages layer shows of each village of a scope, from the same engines as the API
/// (risk model, indicator definitions) and the latest denominators, as the arrays the layer
/// binds (`$13`–`$19`), indexed by `villages.id` (position id − 1), −1 (tier: 0) where a village
/// has no value. The denominators are here rather than joined in the tile statement: a lateral
/// lookup per village cost a z6 tile a third of its time.
#[derive(Debug, Default)]
pub struct VillageArrays {
    /// 1 low, 2 medium, 3 high.
    tier: Vec<i16>,
    score: Vec<f64>,
    /// `new_cases` in the tile's period.
    cases: Vec<i64>,
    /// `deworming_coverage` of the coverage month: dogs due and dogs dosed.
    dogs_due: Vec<i64>,
    dogs_dosed: Vec<i64>,
    /// The latest year's `village_denominators`.
    population: Vec<i64>,
    households: Vec<i64>,
}

/// Village arrays by scope, day, period, suppression and the data versions of the villages
/// layer: the engines run once per change of data, day or period, not once per tile (also
/// when the tile cache is off: this is a computation, not a tile).
#[derive(Debug, Clone)]
pub struct TileRisk {
    memo: echinomap_programme::watch::Memo<VillageArrays>,
}

impl Default for TileRisk {
    fn default() -> Self {
        Self {
            memo: echinomap_programme::watch::Memo::new(64),
        }
    }
}

impl TileRisk {
    async fn get(
        &self,
        state: &AppState,
        scope: &str,
        suppress: bool,
        period: &str,
        coverage_month: chrono::NaiveDate,
        versions: &[i64],
    ) -> AppResult<Arc<VillageArrays>> {
        use echinomap_programme::indicators::{self, Grouping, Period as IndicatorPeriod};
        let opts = state.programme.options();
        let key = format!(
            "{scope}|{suppress}|{}|{period}|{coverage_month}|{versions:?}",
            opts.as_of
        );
        if let Some(hit) = self.memo.get(&key) {
            return Ok(hit);
        }
        let risk = state.village_risk(scope, None, suppress).await?;
        let run = |key: &'static str, p: IndicatorPeriod| {
            let opts = opts.clone();
            async move {
                let def = indicators::defs::find(key).ok_or_else(|| {
                    sqlx::Error::Protocol(format!("indicator {key} is not defined"))
                })?;
                indicators::compute(&state.pool, def, scope, &[p], &Grouping::Level(12), &opts)
                    .await
            }
        };
        let span = IndicatorPeriod::parse(period)
            .map_err(|e| AppError::invalid_param("period", e.to_string()))?;
        let cases = run("new_cases", span).await?;
        let coverage = run(
            "deworming_coverage",
            IndicatorPeriod::month_of(coverage_month),
        )
        .await?;
        let first = |cells: &indicators::Cells, code: &str| {
            cells
                .get(code)
                .and_then(|c| c.first())
                .map_or((0, 0), |c| (c.num.round() as i64, c.den.round() as i64))
        };
        // The villages of the scope with their latest denominators, in one read.
        let villages: Vec<(i32, String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT v.id, v.code::text, d.population::int8, d.households::int8
             FROM villages v
             LEFT JOIN LATERAL (
                 SELECT population, households FROM village_denominators
                 WHERE village_id = v.id ORDER BY year DESC LIMIT 1) d ON true
             WHERE v.code LIKE $1 || '%'",
        )
        .bind(scope)
        .fetch_all(&state.pool)
        .await?;
        let len = villages
            .iter()
            .filter_map(|v| usize::try_from(v.0).ok())
            .max()
            .unwrap_or(0);
        let mut arrays = VillageArrays {
            tier: vec![0; len],
            score: vec![-1.0; len],
            cases: vec![-1; len],
            dogs_due: vec![-1; len],
            dogs_dosed: vec![-1; len],
            population: vec![-1; len],
            households: vec![-1; len],
        };
        let mut ids = std::collections::HashMap::with_capacity(villages.len());
        for (id, code, population, households) in villages {
            let Some(i) = usize::try_from(id).ok().and_then(|id| id.checked_sub(1)) else {
                continue;
            };
            arrays.population[i] = population.unwrap_or(-1);
            arrays.households[i] = households.unwrap_or(-1);
            ids.insert(code, i);
        }
        for r in risk {
            let Some(code) = r["code"].as_str() else {
                continue;
            };
            let Some(&i) = ids.get(code) else {
                continue;
            };
            arrays.tier[i] = match r["tier"].as_str() {
                Some("low") => 1,
                Some("medium") => 2,
                Some("high") => 3,
                _ => 0,
            };
            arrays.score[i] = r["score"].as_f64().unwrap_or(-1.0);
            let (dosed, due) = first(&coverage, code);
            arrays.cases[i] = first(&cases, code).0;
            arrays.dogs_due[i] = due;
            arrays.dogs_dosed[i] = dosed;
        }
        Ok(self.memo.put(key, arrays))
    }
}
