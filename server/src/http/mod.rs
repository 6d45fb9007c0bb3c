//! The HTTP surface: one route table, one state, one error shape ([`crate::error::AppError`]).
//!
//! Every route is declared once in [`route_table`] with the [`Access`] it needs; the router is
//! built from that table, and the authorization test walks the same table, so a route cannot
//! exist without a declared access rule nor escape the test.

mod audit;
pub mod cases;
mod exports;
pub mod extract;
mod field;
mod health;
mod hotspots;
pub mod imports;
mod indicators;
mod ogc;
mod openapi;
mod quality;
mod records;
mod reports;
mod risk;
pub mod session;
mod stage;
pub mod streaming;
pub mod summary;
pub mod tiles;
mod users;
pub mod villages;
mod web;
mod worklists;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::{MethodRouter, get, post};
use sqlx::PgPool;
use tower_http::trace::TraceLayer;

use self::session::Access;
use crate::error::AppError;
use echinomap_programme::auth::Perm;
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
    pub password_policy: PasswordPolicy,
    pub tile_cache: echinomap_tiles::cache::TileCache,
    pub linker: echinomap_programme::linking::LinkerCache,
    pub imports: imports::Jobs,
    pub programme: std::sync::Arc<echinomap_programme::config::Programme>,
    /// Data versions and account changes, kept in memory by LISTEN/NOTIFY.
    pub watch: echinomap_programme::watch::Watch,
    /// Resolved sessions and tokens, valid for the current account generation.
    pub callers: crate::http::session::CallerCache,
    /// The risk arrays of the villages tile layer.
    pub tile_risk: tiles::TileRisk,
    /// Village risk per county, day and data versions.
    pub risk: echinomap_programme::risk::RiskCache,
    /// `/api/summary` counts per jurisdiction and data versions.
    pub summaries: echinomap_programme::summary::SummaryCache,
}

impl AppState {
    /// The risk of every village under `prefix` as of `as_of` (today when `None`, never later),
    /// from the risk cache ([`echinomap_programme::risk::RiskCache`]).
    pub async fn village_risk(
        &self,
        prefix: &str,
        as_of: Option<chrono::NaiveDate>,
        suppress: bool,
    ) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let mut opts = self.programme.options();
        if let Some(d) = as_of {
            opts.as_of = d.min(opts.as_of);
        }
        self.risk
            .villages(
                &self.pool,
                &self.watch,
                &self.programme.risk,
                prefix,
                &opts,
                suppress,
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

fn spec(
    method: Method,
    path: &'static str,
    access: Access,
    handler: Handler,
) -> (RouteSpec, Handler) {
    (
        RouteSpec {
            method,
            path,
            access,
        },
        handler,
    )
}

/// Every route of the service, in one place.
fn route_table() -> Vec<(RouteSpec, Handler)> {
    use Access::{LoggedIn, Needs, Public};
    let mut table = vec![
        spec(Method::GET, "/healthz", Public, get(health::healthz)),
        spec(Method::GET, "/", Public, get(web::index)),
        spec(
            Method::GET,
            "/assets/{file}",
            Public,
            get(web::asset).layer(tower_http::compression::CompressionLayer::new()),
        ),
        spec(Method::GET, "/field", Public, get(field::page)),
        spec(Method::GET, "/field/{file}", Public, get(field::file)),
        spec(
            Method::POST,
            "/api/auth/login",
            Public,
            post(session::login),
        ),
        spec(
            Method::GET,
            "/api/auth/session",
            Public,
            get(session::session),
        ),
        spec(
            Method::POST,
            "/api/auth/password",
            Public,
            post(session::change_password),
        ),
        spec(
            Method::POST,
            "/api/auth/logout",
            LoggedIn,
            post(session::logout),
        ),
        spec(Method::GET, "/api/auth/me", LoggedIn, get(session::me)),
        spec(
            Method::GET,
            "/api/summary",
            Needs(Perm::Aggregates),
            get(summary::summary),
        ),
        spec(
            Method::GET,
            "/api/villages",
            Needs(Perm::Aggregates),
            get(villages::list),
        ),
        spec(
            Method::GET,
            "/api/villages/locate",
            Needs(Perm::Aggregates),
            get(villages::locate),
        ),
        spec(
            Method::GET,
            "/api/villages/{code}",
            Needs(Perm::Aggregates),
            get(villages::detail),
        ),
        spec(
            Method::GET,
            "/api/villages/{code}/contacts",
            Needs(Perm::Aggregates),
            get(villages::contacts),
        ),
        spec(
            Method::GET,
            "/api/villages/{code}/risk",
            Needs(Perm::Aggregates),
            get(risk::village),
        ),
        spec(
            Method::GET,
            "/api/risk",
            Needs(Perm::Aggregates),
            get(risk::list),
        ),
        spec(
            Method::GET,
            "/api/indicators",
            Needs(Perm::Aggregates),
            get(indicators::indicators),
        ),
        spec(
            Method::GET,
            "/api/indicators/matrix",
            Needs(Perm::Aggregates),
            get(indicators::matrix),
        ),
        spec(
            Method::GET,
            "/api/worklists/{kind}",
            Needs(Perm::Aggregates),
            get(worklists::worklist),
        ),
        spec(
            Method::GET,
            "/api/stage",
            Needs(Perm::Aggregates),
            get(stage::stage),
        ),
        spec(
            Method::GET,
            "/api/reports",
            Needs(Perm::Aggregates),
            get(reports::list),
        ),
        spec(
            Method::GET,
            "/api/reports/{file}",
            Needs(Perm::Aggregates),
            get(reports::download),
        ),
        spec(
            Method::GET,
            "/api/cases",
            Needs(Perm::CaseRows),
            get(cases::list),
        ),
        spec(
            Method::GET,
            "/api/cases/{id}",
            Needs(Perm::CaseRows),
            get(cases::detail),
        ),
        spec(
            Method::GET,
            "/api/hotspots",
            Needs(Perm::Aggregates),
            get(hotspots::hotspots),
        ),
        spec(
            Method::GET,
            "/api/scan",
            Needs(Perm::Aggregates),
            get(hotspots::scan),
        ),
        spec(
            Method::GET,
            "/tiles",
            Needs(Perm::Aggregates),
            get(tiles::catalog),
        ),
        spec(
            Method::GET,
            "/tiles/{file}",
            Needs(Perm::Aggregates),
            get(tiles::tilejson_handler),
        ),
        spec(
            Method::GET,
            "/tiles/{layer}/{z}/{x}/{y}",
            Needs(Perm::Aggregates),
            get(tiles::tile),
        ),
        spec(
            Method::GET,
            "/api/audit",
            Needs(Perm::Admin),
            get(audit::list),
        ),
        spec(
            Method::GET,
            "/api/users",
            Needs(Perm::Admin),
            get(users::list),
        ),
        spec(
            Method::POST,
            "/api/users",
            Needs(Perm::Admin),
            post(users::create),
        ),
    ];
    table.extend([
        spec(
            Method::POST,
            "/api/imports",
            LoggedIn,
            post(imports::create).layer(axum::extract::DefaultBodyLimit::max(
                imports::MAX_UPLOAD_BYTES,
            )),
        ),
        spec(Method::GET, "/api/imports", LoggedIn, get(imports::history)),
        spec(
            Method::GET,
            "/api/imports/{id}",
            LoggedIn,
            get(imports::status),
        ),
        spec(
            Method::GET,
            "/api/imports/{id}/errors.xlsx",
            LoggedIn,
            get(imports::errors_xlsx),
        ),
        spec(
            Method::GET,
            "/api/imports/templates/{file}",
            LoggedIn,
            get(imports::template),
        ),
    ]);
    table.extend([
        spec(Method::GET, "/api/openapi.json", Public, get(openapi::json)),
        spec(Method::GET, "/api/docs", Public, get(openapi::docs)),
        spec(
            Method::GET,
            "/ogc",
            Needs(Perm::Aggregates),
            get(ogc::landing),
        ),
        spec(
            Method::GET,
            "/ogc/conformance",
            Needs(Perm::Aggregates),
            get(ogc::conformance),
        ),
        spec(
            Method::GET,
            "/ogc/api",
            Needs(Perm::Aggregates),
            get(ogc::api),
        ),
        spec(
            Method::GET,
            "/ogc/collections",
            Needs(Perm::Aggregates),
            get(ogc::collections),
        ),
        spec(
            Method::GET,
            "/ogc/collections/{id}",
            Needs(Perm::Aggregates),
            get(ogc::one_collection),
        ),
        spec(
            Method::GET,
            "/ogc/collections/{id}/items",
            Needs(Perm::Aggregates),
            get(ogc::items),
        ),
        spec(
            Method::GET,
            "/ogc/collections/{id}/items/{fid}",
            Needs(Perm::Aggregates),
            get(ogc::item),
        ),
        spec(
            Method::GET,
            "/api/export/{file}",
            Needs(Perm::Aggregates),
            get(exports::export),
        ),
        spec(
            Method::GET,
            "/api/quality",
            Needs(Perm::AnimalRows),
            get(quality::quality),
        ),
    ]);
    table.extend(records::routes());
    table
}

/// The route table without handlers: for the authorization test and the docs.
pub fn routes() -> Vec<RouteSpec> {
    route_table().into_iter().map(|(s, _)| s).collect()
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for (spec, handler) in route_table() {
        let access = spec.access;
        let guarded = handler.route_layer(middleware::from_fn(move |req, next| {
            session::guard(access, req, next)
        }));
        router = router.route(spec.path, guarded);
    }
    with_layers(router, state)
}

/// The layers every answer passes through, around `routes`: authentication, compression, the
/// trace span and the tiles' fast path, with the JSON 404 and 405. [`router`] puts the route
/// table in it; the layer test of `tests/tests/encodings.rs` puts a streaming probe in it, so
/// that what reaches a client is tested through exactly these layers.
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
        // Outermost: tile requests are answered before the router (tiles::fast_path).
        .layer(middleware::from_fn_with_state(state.clone(), tiles::fast_path))
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
