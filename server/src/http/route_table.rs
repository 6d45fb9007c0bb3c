//! The route table, by resource: each function lists the routes of one resource with the
//! [`Access`] each needs, and [`route_table`] puts them together, in one order, as the one list
//! the router is built from and the authorization test, the OpenAPI document and the page's
//! list of endpoints walk ([`super::routes`]).

use axum::http::Method;
use axum::routing::{delete, get, patch, post};

use super::session::Access::{self, LocalOr, LoggedIn, Needs, Public};
use super::{
    Handler, RouteSpec, audit, cases, exports, field, health, hotspots, imports, indicators,
    metrics, ogc, openapi, quality, records, reports, risk, scan, session, spacetime, stage, stock,
    stock_counts, stock_reports, summary, tiles, users, villages, web, wechat, worklists,
};
use echinomap_programme::auth::Perm;

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
pub(super) fn route_table() -> Vec<(RouteSpec, Handler)> {
    [
        pages(),
        operations(),
        auth(),
        wechat::routes(),
        summary(),
        villages(),
        programme(),
        cases(),
        map(),
        admin(),
        imports(),
        docs(),
        ogc(),
        exports(),
        quality(),
        desk(),
        stock::routes(),
        stock_counts::routes(),
        stock_reports::routes(),
        records::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The health check, the dashboard and its assets, and the field page.
fn pages() -> Vec<(RouteSpec, Handler)> {
    vec![
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
            Method::GET,
            "/field/core/{file}",
            Public,
            get(field::core_file),
        ),
    ]
}

/// What the operator's monitoring reads: `/metrics` for a scraper on this machine (a loopback
/// peer, not through a proxy) or an administrator.
fn operations() -> Vec<(RouteSpec, Handler)> {
    vec![spec(
        Method::GET,
        "/metrics",
        LocalOr(Perm::Admin),
        get(metrics::scrape),
    )]
}

/// `/api/auth`: logging in and out, the session, one's own password.
fn auth() -> Vec<(RouteSpec, Handler)> {
    vec![
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
    ]
}

/// `/api/summary`: the dashboard's counts.
fn summary() -> Vec<(RouteSpec, Handler)> {
    vec![spec(
        Method::GET,
        "/api/summary",
        Needs(Perm::Aggregates),
        get(summary::summary),
    )]
}

/// `/api/villages`: the gazetteer, a point's village, one village, its contacts and its risk.
fn villages() -> Vec<(RouteSpec, Handler)> {
    vec![
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
    ]
}

/// The programme's judgements: village risk, the indicators, the worklists, the control stage
/// and the report forms.
fn programme() -> Vec<(RouteSpec, Handler)> {
    vec![
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
    ]
}

/// `/api/cases`: the patient register's own read side (its writes are the register routes).
fn cases() -> Vec<(RouteSpec, Handler)> {
    vec![
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
    ]
}

/// The map: hotspots, the scan statistic and the vector tiles.
fn map() -> Vec<(RouteSpec, Handler)> {
    vec![
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
            get(scan::scan),
        ),
        spec(
            Method::GET,
            "/api/scan/space-time",
            Needs(Perm::Aggregates),
            get(spacetime::space_time),
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
    ]
}

/// The administrator's: the audit log and the accounts.
fn admin() -> Vec<(RouteSpec, Handler)> {
    vec![
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
        spec(
            Method::PATCH,
            "/api/users/{id}",
            Needs(Perm::Admin),
            patch(users::update),
        ),
        spec(
            Method::POST,
            "/api/users/{id}/password",
            Needs(Perm::Admin),
            post(users::reset_password),
        ),
        spec(
            Method::GET,
            "/api/users/{id}/tokens",
            Needs(Perm::Admin),
            get(users::tokens),
        ),
        spec(
            Method::POST,
            "/api/users/{id}/tokens",
            Needs(Perm::Admin),
            post(users::create_token),
        ),
        spec(
            Method::DELETE,
            "/api/tokens/{id}",
            Needs(Perm::Admin),
            delete(users::revoke_token),
        ),
    ]
}

/// `/api/imports`: uploads, their progress and history, error workbooks and templates. Logged
/// in is enough here: each import checks the permission of its kind.
fn imports() -> Vec<(RouteSpec, Handler)> {
    vec![
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
    ]
}

/// The OpenAPI document and its page.
fn docs() -> Vec<(RouteSpec, Handler)> {
    vec![
        spec(Method::GET, "/api/openapi.json", Public, get(openapi::json)),
        spec(Method::GET, "/api/docs", Public, get(openapi::docs)),
    ]
}

/// `/ogc`: the export layers as OGC API – Features, for the roles that take data away
/// ([`Perm::Export`]); each collection also checks its own rows (a register layer needs its
/// register's permission).
fn ogc() -> Vec<(RouteSpec, Handler)> {
    vec![
        spec(Method::GET, "/ogc", Needs(Perm::Export), get(ogc::landing)),
        spec(
            Method::GET,
            "/ogc/conformance",
            Needs(Perm::Export),
            get(ogc::conformance),
        ),
        spec(Method::GET, "/ogc/api", Needs(Perm::Export), get(ogc::api)),
        spec(
            Method::GET,
            "/ogc/collections",
            Needs(Perm::Export),
            get(ogc::collections),
        ),
        spec(
            Method::GET,
            "/ogc/collections/{id}",
            Needs(Perm::Export),
            get(ogc::one_collection),
        ),
        spec(
            Method::GET,
            "/ogc/collections/{id}/items",
            Needs(Perm::Export),
            get(ogc::items),
        ),
        spec(
            Method::GET,
            "/ogc/collections/{id}/items/{fid}",
            Needs(Perm::Export),
            get(ogc::item),
        ),
    ]
}

/// `/api/export`: the layers planners take away, for the roles that take data away
/// ([`Perm::Export`]; each layer also checks its own rows and audience).
fn exports() -> Vec<(RouteSpec, Handler)> {
    vec![spec(
        Method::GET,
        "/api/export/{file}",
        Needs(Perm::Export),
        get(exports::export),
    )]
}

/// The desk's registers: their declaration as forms and lists are drawn from it (the registers
/// the caller may read), a list as a file (export, and the register's own permission, checked
/// by the handler), and the monthly deworming round.
fn desk() -> Vec<(RouteSpec, Handler)> {
    vec![
        spec(
            Method::GET,
            "/api/registers",
            LoggedIn,
            get(records::registers),
        ),
        spec(
            Method::GET,
            "/api/registers/{name}/export",
            Needs(Perm::Export),
            get(records::export),
        ),
        spec(
            Method::GET,
            "/api/dewormings/round",
            Needs(Perm::AnimalRows),
            get(records::round_dogs),
        ),
        spec(
            Method::POST,
            "/api/dewormings/round",
            Needs(Perm::AnimalRows),
            post(records::round_save),
        ),
    ]
}

/// `/api/quality`: what does not fit in the registers.
fn quality() -> Vec<(RouteSpec, Handler)> {
    vec![
        spec(
            Method::GET,
            "/api/quality",
            Needs(Perm::AnimalRows),
            get(quality::quality),
        ),
        // Roles that correct records reach the reviews; of those, only epidemiologists and
        // administrators mark findings (`programme::quality::REVIEWERS`, 403 for the others).
        spec(
            Method::POST,
            "/api/quality/reviews",
            Needs(Perm::CaseRows),
            post(quality::mark),
        ),
        spec(
            Method::DELETE,
            "/api/quality/reviews/{key}",
            Needs(Perm::CaseRows),
            delete(quality::unmark),
        ),
    ]
}
