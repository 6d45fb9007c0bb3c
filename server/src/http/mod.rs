//! The HTTP surface: one route table, one state, one error shape ([`crate::error::AppError`]).
//!
//! Every route is declared once in [`route_table`] (by resource, in `route_table.rs`) with the
//! [`Access`] it needs; the router is built from that table, and the authorization test walks
//! the same table, so a route cannot exist without a declared access rule nor escape the test.

mod audit;
pub mod cases;
pub mod connections;
mod exports;
pub mod extract;
mod field;
pub mod hardening;
mod health;
mod hotspots;
pub mod imports;
mod indicators;
pub mod metrics;
mod ogc;
mod openapi;
mod quality;
mod records;
mod reports;
mod risk;
mod route_table;
mod scan;
pub mod session;
mod spacetime;
mod stage;
mod stock;
mod stock_counts;
mod stock_reports;
pub mod streaming;
pub mod summary;
pub mod tiles;
pub mod tls;
mod users;
pub mod villages;
mod web;
pub mod wechat;
mod worklists;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::MethodRouter;
use sqlx::PgPool;
use tower_http::trace::TraceLayer;

use self::route_table::route_table;
use self::session::Access;
use crate::error::AppError;
use echinomap_programme::auth::password::PasswordPolicy;

/// Shared by every handler. The router hands a clone to every request, so it is one reference
/// count ([`Shared`] behind an `Arc`); fields read through `Deref` (`state.pool`).
#[derive(Clone, Debug)]
pub struct AppState(std::sync::Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(std::sync::Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Shared {
    pub pool: PgPool,
    /// Tile queries only: generic plans (`Database::tile_pool`).
    pub tile_pool: PgPool,
    /// Long statements a request streams to its client, an export (`Database::long_pool`).
    pub long_pool: PgPool,
    /// The embedded cluster's keeper, for `/healthz` (none with `DATABASE_URL`).
    pub keeper: Option<echinomap_programme::embedded_pg::Keeper>,
    pub password_policy: PasswordPolicy,
    pub tile_cache: echinomap_tiles::cache::TileCache,
    pub linker: echinomap_programme::linking::LinkerCache,
    pub imports: imports::Jobs,
    pub programme: std::sync::Arc<echinomap_programme::config::Programme>,
    /// Data versions and account changes, kept in memory by LISTEN/NOTIFY.
    pub watch: echinomap_programme::watch::Watch,
    /// Resolved sessions and tokens, valid for the current account generation.
    pub callers: crate::http::session::CallerCache,
    /// Renders tiles (and keeps the risk arrays of the villages layer).
    pub tile_service: echinomap_programme::tiles::TileService,
    /// Village risk per county, day and data versions.
    pub risk: echinomap_programme::risk::RiskCache,
    /// Village and township hotspot analyses per request and data versions.
    pub units: echinomap_programme::hotspots::UnitsCache,
    /// `/api/summary` counts per jurisdiction and data versions.
    pub summaries: echinomap_programme::summary::SummaryCache,
    /// The throttle of logins and the trusted proxies (`session::Logins`).
    pub logins: session::Logins,
    /// Request counts and latencies since start, and the directories `/metrics` looks at.
    pub metrics: metrics::Metrics,
    /// The WeChat mini-program's code2Session client (or sign-in off).
    pub wechat: wechat::WeChat,
}

impl AppState {
    /// The risk of every village inside `area` as of `as_of` (today when `None`, never later),
    /// with counts of people up to `small_max` hidden (`Programme::small_max` of the reader's
    /// audience), from the risk cache ([`echinomap_programme::risk::RiskCache`]).
    pub async fn village_risk(
        &self,
        area: &echinomap_domain::PlaceCode,
        as_of: Option<chrono::NaiveDate>,
        small_max: Option<i64>,
    ) -> Result<echinomap_programme::risk::AreaRisk, sqlx::Error> {
        self.risk
            .as_of(
                &self.pool,
                &self.watch,
                &self.programme,
                area,
                as_of,
                small_max,
            )
            .await
    }
}

/// One route: its method, path (axum syntax) and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

pub(crate) type Handler = MethodRouter<AppState>;

/// The route table without handlers: for the authorization test and the docs.
pub fn routes() -> Vec<RouteSpec> {
    route_table().into_iter().map(|(s, _)| s).collect()
}

pub fn router(state: AppState, limits: &crate::settings::HttpLimits) -> Router {
    let mut router = Router::new();
    for (spec, handler) in route_table() {
        let access = spec.access;
        let guarded = handler.route_layer(middleware::from_fn(move |req, next| {
            session::guard(access, req, next)
        }));
        router = router.route(spec.path, guarded);
    }
    with_layers_for(router, state, limits)
}

/// [`with_layers_for`] with the default limits.
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    with_layers_for(routes, state, &crate::settings::HttpLimits::default())
}

/// The layers every answer passes through, around `routes`: the request metrics
/// ([`metrics::record`]), the security headers and the query guard ([`hardening`]),
/// authentication, compression, the trace span, the tiles' fast path, and the JSON shape for
/// the 404, the 405 and axum's text rejections. [`router`] puts the route table in it; the layer
/// test of `tests/tests/encodings.rs` puts a streaming probe in it, so that what reaches a
/// client is tested through exactly these layers.
pub fn with_layers_for(
    routes: Router<AppState>,
    state: AppState,
    limits: &crate::settings::HttpLimits,
) -> Router {
    let settings = hardening::LayerSettings::from(limits);
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost: rejections are still uncompressed text here.
        .layer(middleware::map_response(hardening::json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), session::authenticate))
        // gzip or brotli by Accept-Encoding for every answer: JSON shrinks 20–30 times, which is
        // what makes the field page usable on 2G (docs/FIELD.md). Answers that carry their own
        // Content-Encoding (tiles) and images pass through untouched.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(
            // Paths and status only: query strings may carry names or ID numbers.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::info_span!("http", http.method = %req.method(), http.path = %req.uri().path())
            }),
        )
        // Tile requests are answered before the router (tiles::fast_path).
        .layer(middleware::from_fn_with_state(state.clone(), tiles::fast_path))
        // Before anything reads the query (the fast path does).
        .layer(middleware::from_fn(move |req, next| {
            hardening::guard_query(settings.max_param_chars, req, next)
        }))
        // Every answer, errors and tiles included, gets the headers.
        .layer(middleware::from_fn(move |req, next| {
            hardening::security_headers(settings.hsts, req, next)
        }))
        // Outermost: every answer is counted by its route template (`metrics::record`).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .with_state(state)
}

async fn not_found(uri: Uri) -> AppError {
    AppError::not_found("not_found", format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = format!("{method} is not allowed on {}", uri.path());
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(crate::error::error_body(
            "method_not_allowed",
            &message,
            serde_json::Value::Null,
        )),
    )
        .into_response()
}
