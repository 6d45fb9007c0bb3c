//! OGC API – Features, Part 1 Core with the GeoJSON encoding, over the export layers
//! ([`echinomap_programme::exports`]): the same rows, jurisdiction and suppression as `/api/export`. QGIS adds
//! it as an "OGC API – Features" connection to `http://HOST/ogc` with an API token sent as
//! `Authorization: Bearer ...` (an "API header" authentication in QGIS). Errors are OGC
//! exceptions in their JSON form: `{"code": ..., "description": ...}`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::exports::{check_rows, risk_for, suppress_max};
use super::extract::ApiPath;
use super::session::Caller;
use crate::error::AppError;
use echinomap_programme::audit::{self, Actor, Entry};
use echinomap_programme::exports::{self, ExportLayer, LAYERS, Selection};

/// The most features one page returns.
pub const MAX_LIMIT: i64 = 10_000;
const DEFAULT_LIMIT: i64 = 100;

/// An OGC API exception.
#[derive(Debug)]
pub struct OgcError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OgcError {
    fn bad(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }

    fn not_found(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            description: description.into(),
        }
    }
}

impl IntoResponse for OgcError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "description": self.description})),
        )
            .into_response()
    }
}

impl From<AppError> for OgcError {
    fn from(e: AppError) -> Self {
        // Client faults keep their message; server faults were logged and say only that.
        let description = e.to_string();
        let status = e.into_response().status();
        let code = match status.as_u16() {
            400 => "InvalidParameterValue",
            403 => "Forbidden",
            404 => "NotFound",
            _ => "ServerError",
        };
        Self {
            status,
            code,
            description,
        }
    }
}

impl From<sqlx::Error> for OgcError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "OGC API request failed in the database");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ServerError",
            description: "internal error; it has been logged".into(),
        }
    }
}

impl From<echinomap_programme::Error> for OgcError {
    fn from(e: echinomap_programme::Error) -> Self {
        match e {
            echinomap_programme::Error::Database(e) => e.into(),
            e => AppError::from(e).into(),
        }
    }
}

type OgcResult<T> = Result<T, OgcError>;

fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}/ogc")
}

fn geojson_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/geo+json")], body).into_response()
}

pub async fn landing(headers: HeaderMap) -> Json<Value> {
    let b = base(&headers);
    Json(json!({
        "title": "echinomap",
        "description": "包虫病防治监测 echinococcosis surveillance layers of Qapqal county (察布查尔锡伯自治县): villages, townships, slaughter points, case and dog counts, hotspots, scan clusters (and, for roles that read the dog register, the registered dogs). Small counts suppressed by role.",
        "links": [
            {"href": b, "rel": "self", "type": "application/json", "title": "this document"},
            {"href": format!("{b}/api"), "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API definition"},
            {"href": format!("{b}/conformance"), "rel": "conformance", "type": "application/json", "title": "conformance classes"},
            {"href": format!("{b}/collections"), "rel": "data", "type": "application/json", "title": "collections"},
        ],
    }))
}

pub async fn conformance() -> Json<Value> {
    Json(json!({"conformsTo": [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    ]}))
}

pub async fn api(headers: HeaderMap) -> Response {
    let b = base(&headers);
    let ids: Vec<&str> = LAYERS.iter().map(|l| l.name).collect();
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "echinomap OGC API – Features", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": b}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "collectionId": {"name": "collectionId", "in": "path", "required": true, "schema": {"type": "string", "enum": ids}},
                "featureId": {"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}},
                "bbox": {"name": "bbox", "in": "query", "style": "form", "explode": false, "schema": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}},
                "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                "offset": {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                "datetime": {"name": "datetime", "in": "query", "schema": {"type": "string"}},
            }},
        "security": [{"bearer": []}],
        "paths": {
            "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "responses": {"200": {"description": "links"}}}},
            "/conformance": {"get": {"summary": "Conformance classes", "operationId": "getConformance", "responses": {"200": {"description": "conformsTo"}}}},
            "/collections": {"get": {"summary": "Collections", "operationId": "getCollections", "responses": {"200": {"description": "collections"}}}},
            "/collections/{collectionId}": {"get": {"summary": "A collection", "operationId": "describeCollection",
                "parameters": [{"$ref": "#/components/parameters/collectionId"}], "responses": {"200": {"description": "collection"}, "404": {"description": "unknown"}}}},
            "/collections/{collectionId}/items": {"get": {"summary": "Features", "operationId": "getFeatures",
                "parameters": [{"$ref": "#/components/parameters/collectionId"}, {"$ref": "#/components/parameters/bbox"},
                    {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/offset"}, {"$ref": "#/components/parameters/datetime"}],
                "responses": {"200": {"description": "GeoJSON FeatureCollection", "content": {"application/geo+json": {}}}, "400": {"description": "bad parameter"}}}},
            "/collections/{collectionId}/items/{featureId}": {"get": {"summary": "One feature", "operationId": "getFeature",
                "parameters": [{"$ref": "#/components/parameters/collectionId"}, {"$ref": "#/components/parameters/featureId"}],
                "responses": {"200": {"description": "GeoJSON Feature", "content": {"application/geo+json": {}}}, "404": {"description": "unknown"}}}},
        },
    });
    (
        [(
            header::CONTENT_TYPE,
            "application/vnd.oai.openapi+json;version=3.0",
        )],
        Json(doc),
    )
        .into_response()
}

fn collection(b: &str, l: &ExportLayer, bbox: Option<[f64; 4]>) -> Value {
    let mut c = json!({
        "id": l.name,
        "title": format!("{} {}", l.title_zh, l.title_en),
        "description": l.description,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            {"href": format!("{b}/collections/{}", l.name), "rel": "self", "type": "application/json"},
            {"href": format!("{b}/collections/{}/items", l.name), "rel": "items", "type": "application/geo+json"},
        ],
    });
    if let Some(bb) = bbox {
        c["extent"] = json!({"spatial": {"bbox": [bb], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}});
    }
    c
}

/// The collection `id`, if the caller may read it (a register layer needs its permission).
fn find_layer(caller: &Caller, id: &str) -> OgcResult<&'static ExportLayer> {
    let l = exports::layer(id).ok_or_else(|| {
        let ids: Vec<&str> = readable(caller).map(|l| l.name).collect();
        OgcError::not_found(format!(
            "no collection {id:?}; collections are {}",
            ids.join(", ")
        ))
    })?;
    check_rows(caller, l, false)?;
    Ok(l)
}

/// The layers the caller may read.
fn readable(caller: &Caller) -> impl Iterator<Item = &'static ExportLayer> {
    LAYERS
        .iter()
        .filter(|l| l.perm().is_none_or(|p| caller.can(p)))
}

pub async fn collections(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> OgcResult<Json<Value>> {
    let b = base(&headers);
    let bbox = exports::jurisdiction_extent(&state.pool, &caller.scope).await?;
    Ok(Json(json!({
        "links": [{"href": format!("{b}/collections"), "rel": "self", "type": "application/json"}],
        "collections": readable(&caller).map(|l| collection(&b, l, bbox)).collect::<Vec<_>>(),
    })))
}

pub async fn one_collection(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> OgcResult<Json<Value>> {
    let l = find_layer(&caller, &id)?;
    let bbox = exports::jurisdiction_extent(&state.pool, &caller.scope).await?;
    Ok(Json(collection(&base(&headers), l, bbox)))
}

#[derive(Debug)]
pub struct ItemsParams {
    bbox: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    datetime: Option<String>,
}

fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    let d = s.get(..10)?;
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// `datetime`: an instant or an interval (`a/b`, `../b`, `a/..`), dates or RFC 3339 times; or,
/// as the rest of the API takes them, a period (`2024`, `2024Q2`, `2024-06`), a range
/// (`2022..2026`) or a relative name (`last_12_months`, against `today`).
fn datetime_range(
    s: Option<&str>,
    today: chrono::NaiveDate,
) -> OgcResult<(chrono::NaiveDate, chrono::NaiveDate, String)> {
    let bad = || {
        OgcError::bad(
            "InvalidParameterValue",
            format!(
                "datetime {:?} is not a date, a date-time, an interval a/b (.. for open) or a \
                 period (2024, 2024Q2, 2024-06, 2022..2026, last_12_months)",
                s.unwrap_or("")
            ),
        )
    };
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            let p = echinomap_domain::Period::year_of(today);
            Ok((p.start(), p.end(), p.key()))
        }
        // Not a date and not an interval: a period in the API's own syntax.
        Some(s) if !s.contains('/') && parse_date(s).is_none() => {
            match echinomap_domain::Period::resolve(s, today) {
                Ok(a) => Ok((a.period.start(), a.period.end(), a.period.key())),
                Err(echinomap_domain::PeriodError::Malformed(_)) => Err(bad()),
                Err(e) => Err(OgcError::bad(
                    "InvalidParameterValue",
                    format!("datetime: {e}"),
                )),
            }
        }
        Some(s) => {
            let (a, b) = match s.split_once('/') {
                Some((a, b)) => (a, b),
                None => (s, s),
            };
            let from = if a == ".." || a.is_empty() {
                chrono::NaiveDate::from_ymd_opt(1990, 1, 1).ok_or_else(bad)?
            } else {
                parse_date(a).ok_or_else(bad)?
            };
            let to = if b == ".." || b.is_empty() {
                today
            } else {
                parse_date(b).ok_or_else(bad)?
            };
            if from > to {
                return Err(OgcError::bad(
                    "InvalidParameterValue",
                    format!("datetime {s:?} ends before it starts"),
                ));
            }
            Ok((from, to, s.to_owned()))
        }
    }
}

fn parse_bbox(s: Option<&str>) -> OgcResult<Option<[f64; 4]>> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        OgcError::bad(
            "InvalidParameterValue",
            format!("bbox {s:?}: {why}; give minLon,minLat,maxLon,maxLat in WGS84"),
        )
    };
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("not four numbers"))?;
    let [a, b, c, d] = v[..] else {
        return Err(bad("not four numbers"));
    };
    if !(-180.0..=180.0).contains(&a)
        || !(-180.0..=180.0).contains(&c)
        || !(-90.0..=90.0).contains(&b)
        || !(-90.0..=90.0).contains(&d)
    {
        return Err(bad("outside −180..180, −90..90"));
    }
    if b > d || a > c {
        return Err(bad("minimum above maximum"));
    }
    Ok(Some([a, b, c, d]))
}

fn parse_int(name: &str, s: Option<&str>, default: i64, max: i64) -> OgcResult<i64> {
    match s {
        None => Ok(default),
        Some(v) => {
            let n: i64 = v.trim().parse().map_err(|_| {
                OgcError::bad(
                    "InvalidParameterValue",
                    format!("{name} {v:?} is not a whole number"),
                )
            })?;
            if n < 0 || (name == "limit" && n == 0) || n > max {
                return Err(OgcError::bad(
                    "InvalidParameterValue",
                    format!(
                        "{name} must be between {} and {max}",
                        i64::from(name == "limit")
                    ),
                ));
            }
            Ok(n)
        }
    }
}

pub async fn items(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    query: Result<
        axum::extract::Query<std::collections::HashMap<String, String>>,
        axum::extract::rejection::QueryRejection,
    >,
) -> OgcResult<Response> {
    let l = find_layer(&caller, &id)?;
    // Other parameters (QGIS adds its own) are ignored, as Part 1 allows.
    let q = query
        .map_err(|e| OgcError::bad("InvalidParameterValue", e.body_text()))?
        .0;
    let p = ItemsParams {
        bbox: q.get("bbox").cloned(),
        limit: q.get("limit").cloned(),
        offset: q.get("offset").cloned(),
        datetime: q.get("datetime").cloned(),
    };
    let bbox = parse_bbox(p.bbox.as_deref())?;
    let limit = parse_int("limit", p.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = parse_int("offset", p.offset.as_deref(), 0, i64::MAX)?;
    let (from, to, label) = datetime_range(p.datetime.as_deref(), state.programme.today())?;
    let sel = Selection {
        layer: l,
        scope: caller.scope.clone(),
        from,
        to,
        period_label: label,
        township: None,
        suppress_max: suppress_max(&state, &caller, false),
    };
    sel.check_period(&state.pool).await?;
    let risk = risk_for(&state, &caller, &sel).await?;
    let matched = sel.count(&state.pool, bbox).await?;
    let found = sel.page(&state.pool, bbox, limit, offset, &risk).await?;
    let mut conn = state.pool.acquire().await?;
    audit::record(&mut conn, &Actor::user(caller.user_id, &caller.username), Entry {
        action: "export",
        table: Some(l.name),
        detail: Some(json!({"via": "ogc", "datetime": sel.period_label, "offset": offset, "returned": found.returned, "suppressed": sel.suppress_max})),
        ..Entry::default()
    }).await?;
    let b = base(&headers);
    let mut q = Vec::new();
    if let Some(bb) = p.bbox.as_deref() {
        q.push(format!("bbox={bb}"));
    }
    if let Some(dt) = p.datetime.as_deref() {
        q.push(format!("datetime={dt}"));
    }
    let page = |off: i64| {
        let mut parts = q.clone();
        parts.push(format!("limit={limit}"));
        parts.push(format!("offset={off}"));
        format!("{b}/collections/{}/items?{}", l.name, parts.join("&"))
    };
    let mut links = vec![
        json!({"href": page(offset), "rel": "self", "type": "application/geo+json"}),
        json!({"href": format!("{b}/collections/{}", l.name), "rel": "collection", "type": "application/json"}),
    ];
    let returned = found.returned as i64;
    if offset + returned < matched {
        links.push(
            json!({"href": page(offset + limit), "rel": "next", "type": "application/geo+json"}),
        );
    }
    if offset > 0 {
        links.push(json!({"href": page((offset - limit).max(0)), "rel": "prev", "type": "application/geo+json"}));
    }
    // The features are PostgreSQL's finished text; only the envelope is written here.
    let mut body = json!({
        "type": "FeatureCollection",
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "numberMatched": matched,
        "numberReturned": returned,
        "links": links,
    })
    .to_string();
    body.pop();
    body.push_str(",\"features\":[");
    body.push_str(&found.features);
    body.push_str("]}");
    Ok(geojson_text(body))
}

pub async fn item(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, fid)): ApiPath<(String, String)>,
) -> OgcResult<Response> {
    let l = find_layer(&caller, &id)?;
    let (from, to, label) = datetime_range(None, state.programme.today())?;
    let sel = Selection {
        layer: l,
        scope: caller.scope.clone(),
        from,
        to,
        period_label: label,
        township: None,
        suppress_max: suppress_max(&state, &caller, false),
    };
    let risk = risk_for(&state, &caller, &sel).await?;
    let feature = sel
        .item(&state.pool, &fid, &risk)
        .await?
        .ok_or_else(|| OgcError::not_found(format!("no feature {fid:?} in {}", l.name)))?;
    // One feature by id is a look at one place's (or dog's) row: audited like one record.
    let actor = Actor::user(caller.user_id, &caller.username);
    audit::record_read(&state.pool, &actor, l.name, &fid).await?;
    Ok(geojson_text(feature))
}
