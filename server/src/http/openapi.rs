//! The OpenAPI 3.1 description of the service, generated from the code: every path and method
//! from the route table (so it cannot miss a route), the access each needs, and for every
//! register the schema of its records made from the same field declarations the parser uses.
//! `GET /api/openapi.json` serves it; `GET /api/docs` is a self-contained page that browses it
//! (no remote script, style or font).

use std::sync::LazyLock;

use axum::Json;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde_json::{Map, Value, json};

use super::RouteSpec;
use crate::http::session::Access;
use echinomap_programme::records::spec::{Point, RegisterSpec, SPECS, Ty, Village};

/// What a route does, for the routes that are not register routes.
const SUMMARIES: &[(&str, &str)] = &[
    ("GET /healthz", "Liveness and database reachability"),
    ("GET /", "The dashboard"),
    ("POST /api/auth/login", "Log in (cookie session)"),
    (
        "GET /api/auth/session",
        "Who is logged in (null when nobody)",
    ),
    ("POST /api/auth/password", "Change a password"),
    ("POST /api/auth/logout", "Log out"),
    ("GET /api/auth/me", "The caller"),
    (
        "POST /api/auth/wechat",
        "WeChat mini-program sign-in: {\"code\"} of wx.login → a bearer token (idle 30 days)",
    ),
    (
        "POST /api/auth/wechat/bind",
        "Bind WeChat to an account: {\"code\", \"username\", \"binding_code\"} → a bearer token",
    ),
    (
        "POST /api/auth/wechat/binding-code",
        "A one-time 6-digit code to bind a WeChat user (10 minutes)",
    ),
    (
        "POST /api/auth/wechat/logout",
        "End the mini-program session of this token",
    ),
    (
        "GET /api/wechat/bindings",
        "WeChat bindings: all for an admin (?user_id=), else one's own",
    ),
    (
        "DELETE /api/wechat/bindings/{id}",
        "Unbind WeChat (one's own, or any for an admin); its sessions end",
    ),
    (
        "GET /api/summary",
        "Register counts in the caller's jurisdiction",
    ),
    ("GET /api/villages", "Villages in the jurisdiction"),
    (
        "GET /api/villages/locate",
        "The village at a point (lon, lat, crs=gcj02)",
    ),
    (
        "GET /api/villages/{code}",
        "One village with its denominators",
    ),
    ("GET /api/cases", "The case line list (identifiers masked)"),
    ("GET /api/cases/{id}", "One case in full (audited)"),
    (
        "GET /api/hotspots",
        "Hotspots on villages, townships or H3 cells (Gi*, local Moran, EB rates, diagnosis)",
    ),
    ("GET /api/scan", "Kulldorff spatial scan"),
    (
        "GET /api/scan/space-time",
        "Kulldorff space-time scan (clusters with their months)",
    ),
    ("GET /tiles", "Tile layers"),
    ("GET /tiles/{file}", "TileJSON of a layer"),
    ("GET /tiles/{layer}/{z}/{x}/{y}", "A vector tile (MVT)"),
    ("GET /api/audit", "The audit log"),
    ("GET /api/users", "Accounts"),
    ("POST /api/users", "Create an account"),
    (
        "PATCH /api/users/{id}",
        "Change an account: display_name, role, jurisdiction, disabled",
    ),
    (
        "POST /api/users/{id}/password",
        "Reset a password: {\"password\"} or {} for a generated one (answered once)",
    ),
    ("GET /api/users/{id}/tokens", "The API tokens of an account"),
    (
        "POST /api/users/{id}/tokens",
        "A new API token: {\"name\", \"expires_in_days\"} (answered once)",
    ),
    ("DELETE /api/tokens/{id}", "Revoke an API token"),
    (
        "POST /api/imports",
        "Import a file: ?kind=&format=csv|xlsx|geojson&crs=&mode=atomic|valid_rows&dry_run=",
    ),
    ("GET /api/imports", "Recent imports"),
    ("GET /api/imports/{id}", "Progress or report of an import"),
    (
        "GET /api/imports/{id}/errors.xlsx",
        "The uploaded sheet with an error column",
    ),
    (
        "GET /api/imports/templates/{file}",
        "Import template: {kind}.xlsx or {kind}.csv",
    ),
    (
        "GET /api/quality",
        "Data quality findings per village and township",
    ),
    (
        "POST /api/quality/reviews",
        "Mark a finding as reviewed: {\"key\", \"note\"}",
    ),
    (
        "DELETE /api/quality/reviews/{key}",
        "Take back the review of a finding",
    ),
    (
        "GET /api/indicators",
        "Programme indicators of a unit and period: value, numerator, denominator, target, status",
    ),
    (
        "GET /api/indicators/matrix",
        "One indicator for units × periods (charts, choropleths)",
    ),
    (
        "GET /api/villages/{code}/risk",
        "Village risk score with its components and regime",
    ),
    (
        "GET /api/risk",
        "Risk of every village of a township, sortable",
    ),
    (
        "GET /api/worklists/{kind}",
        "Work list with counts by township and village: deworming, followups (?include=upcoming&days=N), faecal_sampling, vaccination",
    ),
    (
        "GET /api/stage",
        "Control stage of the county and townships under the rule set",
    ),
    ("GET /api/reports", "The report forms"),
    (
        "GET /api/reports/{file}",
        "A report form as XLSX: {form}.xlsx?period=",
    ),
    (
        "GET /api/duplicates",
        "Possible duplicates for the county's review (a key held in two jurisdictions)",
    ),
    (
        "POST /api/duplicates/{id}/merge",
        "Merge a pair: {\"keep\": id}; references move to the kept record",
    ),
    (
        "POST /api/duplicates/{id}/distinct",
        "Mark a pair as two different records",
    ),
    (
        "GET /api/registers",
        "The registers the caller may read, as forms and lists (fields, labels, pickers)",
    ),
    (
        "GET /api/registers/{name}/export",
        "A register's list as CSV or XLSX (masked like the list; audited)",
    ),
    (
        "GET /api/dewormings/round",
        "A village's live dogs for the month's deworming round",
    ),
    (
        "POST /api/dewormings/round",
        "Save a deworming round: one dose per ticked dog, all or nothing",
    ),
    ("GET /api/openapi.json", "This description"),
    ("GET /api/docs", "Browse this description"),
    ("GET /api/stock/items", "Stock items with their barcodes"),
    ("POST /api/stock/items", "Add a stock item (administrators)"),
    (
        "PATCH /api/stock/items/{id}",
        "Change a stock item (administrators)",
    ),
    (
        "POST /api/stock/barcodes",
        "Map a barcode to an item (administrators)",
    ),
    (
        "DELETE /api/stock/barcodes/{id}",
        "Remove a barcode mapping (administrators)",
    ),
    (
        "POST /api/stock/scan",
        "What a scanned code names: parsed, item, lot, quantity",
    ),
    (
        "GET /api/stock/stores",
        "Every store, with whether the caller may act there",
    ),
    ("POST /api/stock/stores", "Add a store (administrators)"),
    (
        "PATCH /api/stock/stores/{id}",
        "Rename or close a store (administrators)",
    ),
    ("GET /api/stock/lots", "Lots of an item with their expiry"),
    (
        "GET /api/stock/on-hand",
        "Stock on hand per store, item and lot, with expiry flags",
    ),
    ("GET /api/stock/movements", "The stock ledger, filtered"),
    (
        "GET /api/stock/fefo",
        "The lots to issue first (first expiry, first out)",
    ),
    ("POST /api/stock/receipts", "Receive stock from a supplier"),
    (
        "GET /api/stock/transfers",
        "Transfers from and to the caller's stores",
    ),
    ("POST /api/stock/transfers", "Issue stock to another store"),
    (
        "POST /api/stock/transfers/{id}/receive",
        "Confirm a transfer's arrival and what arrived",
    ),
    (
        "POST /api/stock/uses",
        "Hand stock to a village for a deworming round",
    ),
    ("POST /api/stock/adjustments", "Adjust stock with a reason"),
    ("GET /api/stock/counts", "Stock counts"),
    (
        "POST /api/stock/counts",
        "Open a stock count (freezes the book)",
    ),
    ("GET /api/stock/counts/{id}", "A stock count and its lines"),
    (
        "POST /api/stock/counts/{id}/entries",
        "Scanned or typed count entries (idempotent by client id)",
    ),
    (
        "POST /api/stock/counts/{id}/lines/{lot_id}",
        "The reason of a count line's difference",
    ),
    (
        "POST /api/stock/counts/{id}/finalise",
        "Finalise a count: its adjustments in one transaction",
    ),
    ("POST /api/stock/counts/{id}/cancel", "Cancel an open count"),
    (
        "GET /api/stock/reconciliation",
        "PZQ issued against doses recorded and dogs registered",
    ),
    (
        "GET /api/stock/reconciliation.xlsx",
        "The monthly stock and reconciliation report form (XLSX)",
    ),
];

fn ty_schema(ty: Ty) -> Value {
    match ty {
        Ty::Text => json!({"type": "string", "maxLength": 500}),
        Ty::Int { min, max } => {
            json!({"type": ["integer", "string"], "minimum": min, "maximum": max})
        }
        Ty::Dec { min, max } => {
            json!({"type": ["number", "string"], "minimum": min, "maximum": max})
        }
        Ty::Date => {
            json!({"type": "string", "format": "date", "description": "2024-03-05; also 2024/3/5, 2024年3月5日, 20240305 or an Excel serial"})
        }
        Ty::Bool => json!({"type": ["boolean", "string"], "description": "true/false, 是/否"}),
        Ty::Enum(e) => {
            json!({"type": "string", "enum": e.labels().collect::<Vec<_>>(), "description": format!("{} (Chinese words accepted)", e.expected)})
        }
        Ty::IdNumber => {
            json!({"type": "string", "pattern": "^[0-9]{17}[0-9Xx]$", "description": "身份证号, GB 11643 check character verified"})
        }
        Ty::Phone => json!({"type": "string", "pattern": "^[0-9+\\- ]{5,20}$"}),
    }
}

fn schema_name(spec: &RegisterSpec) -> String {
    spec.name
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The body of a create or update.
fn input_schema(spec: &RegisterSpec) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in spec.fields {
        props.insert(f.name.into(), ty_schema(f.ty));
        if f.required {
            required.push(f.name);
        }
    }
    if let Village::Linked { .. } = spec.village {
        props.insert("village_code".into(), json!({"type": "string", "pattern": "^[0-9]{12}$", "description": "the village: by code, or village (+ township) by name, or lon/lat"}));
        props.insert("village".into(), json!({"type": "string", "description": "village name; exact, normalised (村/村委会/社区 and widths ignored) or fuzzy"}));
        props.insert("township".into(), json!({"type": "string", "description": "township name or 9-digit code, to resolve a village name"}));
    }
    if spec.point != Point::None || spec.has_village() {
        props.insert("lon".into(), json!({"type": ["number", "string"], "minimum": -180, "maximum": 180, "description": "WGS84, or GCJ-02 with ?crs=gcj02"}));
        props.insert(
            "lat".into(),
            json!({"type": ["number", "string"], "minimum": -90, "maximum": 90}),
        );
    }
    json!({
        "type": "object",
        "title": format!("{} / {} (input)", spec.name_zh, spec.name_en),
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// A record as the API returns it.
fn record_schema(spec: &RegisterSpec) -> Value {
    let mut props = Map::new();
    props.insert("id".into(), json!({"type": "integer"}));
    for f in spec.fields {
        props.insert(f.name.into(), ty_schema(f.ty));
    }
    for (k, d) in [
        ("village_code", "the record's village"),
        ("village_name", ""),
        ("township_code", ""),
        (
            "link_method",
            "code, name, name_fuzzy, point_in_polygon or nearest",
        ),
        ("link_distance_m", "metres from the point to the village"),
        ("created_at", ""),
        ("updated_at", ""),
    ] {
        props.insert(k.into(), json!({"description": d}));
    }
    json!({"type": "object", "title": format!("{} / {}", spec.name_zh, spec.name_en), "properties": props})
}

fn error_ref() -> Value {
    json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn operation(route: &RouteSpec) -> Value {
    let method = route.method.as_str();
    let key = format!("{method} {}", route.path);
    let register = SPECS.iter().find(|s| {
        route.path == format!("/api/{}", s.name) || route.path == format!("/api/{}/{{id}}", s.name)
    });
    let mut params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": if name == "id" && register.is_some() { "integer" } else { "string" }}}))
        .collect();
    let mut op = Map::new();
    let mut responses = Map::new();
    let summary;
    match register {
        Some(spec) => {
            let name = schema_name(spec);
            let one = route.path.ends_with("{id}");
            op.insert(
                "tags".into(),
                json!([format!("{} {}", spec.name_zh, spec.name_en)]),
            );
            let record = json!({"$ref": format!("#/components/schemas/{name}")});
            let input = json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}Input")}}}, "required": true});
            summary = match (method, one) {
                ("GET", false) => {
                    for (p, t, d) in [
                        ("township", "string", "9-digit township code"),
                        ("village", "string", "12-digit village code"),
                        ("from", "string", "first date (inclusive)"),
                        ("to", "string", "last date (inclusive)"),
                        ("status", "string", "status value"),
                        ("q", "string", "prefix search"),
                        (
                            "sort",
                            "string",
                            "a list key (sort_keys of GET /api/registers)",
                        ),
                        ("order", "string", "asc (default) or desc"),
                        (
                            "cursor",
                            "integer",
                            "next_cursor of the previous page (unsorted lists)",
                        ),
                        ("offset", "integer", "next_offset of the previous page"),
                        ("limit", "integer", "1–500, default 100"),
                        ("count", "boolean", "also answer total"),
                    ] {
                        params.push(json!({"name": p, "in": "query", "schema": {"type": t}, "description": d}));
                    }
                    responses.insert("200".into(), json!({"description": "A page", "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": record}, "next_cursor": {"type": ["integer", "null"]}, "next_offset": {"type": ["integer", "null"]}, "total": {"type": ["integer", "null"]}}}}}}));
                    format!("List {}", spec.name_en.to_lowercase())
                }
                ("GET", true) => {
                    responses.insert("200".into(), json!({"description": "The record", "content": {"application/json": {"schema": record}}}));
                    format!(
                        "One {} record{}",
                        spec.name,
                        if spec.personal { " (audited)" } else { "" }
                    )
                }
                ("POST", _) => {
                    params.push(json!({"name": "crs", "in": "query", "schema": {"type": "string", "enum": ["wgs84", "gcj02"]}}));
                    op.insert("requestBody".into(), input);
                    responses.insert("201".into(), json!({"description": "Created", "content": {"application/json": {"schema": record}}}));
                    responses.insert("409".into(), error_ref());
                    responses.insert("422".into(), error_ref());
                    format!("Create a {} record", spec.name)
                }
                ("PATCH", _) => {
                    params.push(json!({"name": "crs", "in": "query", "schema": {"type": "string", "enum": ["wgs84", "gcj02"]}}));
                    op.insert("requestBody".into(), json!({"content": {"application/json": {"schema": {"description": "any subset of the input fields"}}}, "required": true}));
                    responses.insert("200".into(), json!({"description": "Updated", "content": {"application/json": {"schema": record}}}));
                    responses.insert("422".into(), error_ref());
                    format!("Change fields of a {} record", spec.name)
                }
                _ => {
                    responses.insert("204".into(), json!({"description": "Deleted (soft)"}));
                    format!("Delete a {} record", spec.name)
                }
            };
        }
        None => {
            summary = SUMMARIES
                .iter()
                .find(|(k, _)| *k == key)
                .map_or_else(|| key.clone(), |(_, s)| (*s).to_owned());
            let tag = route
                .path
                .split('/')
                .nth(if route.path.starts_with("/api/") {
                    2
                } else {
                    1
                })
                .unwrap_or("");
            op.insert("tags".into(), json!([tag]));
            responses.insert("200".into(), json!({"description": "OK"}));
        }
    }
    responses.insert("4XX".into(), error_ref());
    op.insert("summary".into(), json!(summary));
    op.insert(
        "operationId".into(),
        json!(key.replace(['/', '{', '}', ' ', '.'], "_")),
    );
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let perm_name = |p| {
        serde_json::to_value(p)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let access = match route.access {
        Access::Public => "public".to_owned(),
        Access::PublicNoCookie => {
            "public, also from another origin (reads and sets no cookie)".to_owned()
        }
        Access::LoggedIn => "any logged-in user".to_owned(),
        Access::Needs(p) => format!("needs permission {}", perm_name(p)),
        Access::LocalOr(p) => format!(
            "a request from this machine (loopback peer, not through a proxy), or permission {}",
            perm_name(p)
        ),
    };
    op.insert(
        "description".into(),
        json!(format!(
            "Access: {access}. Rows are limited to the caller's jurisdiction."
        )),
    );
    if matches!(route.access, Access::Public | Access::PublicNoCookie) {
        op.insert("security".into(), json!([]));
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The whole description.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in super::routes() {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_lowercase()] = operation(&route);
    }
    let mut schemas = Map::new();
    for spec in SPECS {
        schemas.insert(schema_name(spec), record_schema(spec));
        schemas.insert(format!("{}Input", schema_name(spec)), input_schema(spec));
    }
    schemas.insert("Error".into(), json!({
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "details": {"description": "what and where: field, row, column, the import report; the parameters of `code`; `errors` (RowError) for invalid_record"}},
            "required": ["code", "message"]}},
        "required": ["error"],
    }));
    schemas.insert("RowError".into(), json!({
        "type": "object",
        "description": "one refused value or row: `code` and `params` for the client to word (docs/API.md, Reason codes), `reason` the English sentence",
        "properties": {
            "row": {"type": "integer"}, "column": {"type": ["string", "null"]},
            "field": {"type": ["string", "null"]}, "value": {"type": ["string", "null"]},
            "code": {"type": "string", "enum": echinomap_programme::records::parse::ALL_CODES},
            "params": {"type": "object"}, "reason": {"type": "string"}},
        "required": ["row", "code", "params", "reason"],
    }));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "echinomap",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Echinococcosis surveillance and control: registers, import, hotspots, tiles. Field names are the import's canonical names; values may be written as in county sheets (Chinese words, 2024年3月5日).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token from `echinomap user token`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "echinomap_session", "description": "from POST /api/auth/login; writes also need X-CSRF-Token or a same-origin Origin"},
            },
        },
    })
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(document);

pub async fn json() -> Json<Value> {
    Json(DOCUMENT.clone())
}

const DOCS_HTML: &str = include_str!("docs.html");

pub async fn docs() -> impl IntoResponse {
    // Its own policy: the page's inline script and style, allowed by their hashes.
    let csp = super::hardening::inline_page_csp(DOCS_HTML);
    (
        [
            (header::CACHE_CONTROL, "no-cache".to_owned()),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        Html(DOCS_HTML),
    )
}
