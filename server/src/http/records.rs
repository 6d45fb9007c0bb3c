//! `/api/{register}` and `/api/{register}/{id}` for every register of [`echinomap_programme::records::spec`]:
//! list (filters, cursor paging, identifiers masked), create, read one (audited for personal
//! data), update (only the fields given) and soft delete. Bodies use the field names of the
//! import, values as a sheet would have them (`"阳性"` and `"positive"` both work), and go
//! through the same parser, linker and writer as the import
//! ([`echinomap_programme::records::one`]).

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{delete, get, patch, post};
use echinomap_domain::PlaceCode;
use echinomap_geodata::gcj02::Crs;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, ApiQuery};
use super::session::Caller;
use super::{AppState, Handler, RouteSpec};
use crate::error::{AppError, AppResult};
use crate::http::session::Access;
use echinomap_programme::auth::Perm;
use echinomap_programme::records::one::{self, Linking, Save};
use echinomap_programme::records::read::Filters;
use echinomap_programme::records::spec::{RegisterSpec, SPECS};
use echinomap_programme::records::write::Target;

const MAX_LIMIT: i64 = 500;

/// `/api/{name}` and `/api/{name}/{id}` of every register, made once.
static PATHS: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    SPECS
        .iter()
        .map(|s| {
            let list: &'static str = Box::leak(format!("/api/{}", s.name).into_boxed_str());
            let one: &'static str = Box::leak(format!("/api/{}/{{id}}", s.name).into_boxed_str());
            (list, one)
        })
        .collect()
});

/// The routes of every register. A register with a read side of its own
/// ([`RegisterSpec::own_read_side`]: `/api/cases`, the line list with the person, stage and
/// follow-up status) gets only its writes here.
pub fn routes() -> Vec<(RouteSpec, Handler)> {
    let mut out = Vec::new();
    for (spec, (list_path, one_path)) in SPECS.iter().zip(PATHS.iter()) {
        let access = Access::Needs(spec.perm);
        let r = |method, path, handler| {
            (
                RouteSpec {
                    method,
                    path,
                    access,
                },
                handler,
            )
        };
        if !spec.own_read_side {
            out.push(r(
                Method::GET,
                *list_path,
                get(move |st, c, q| list(spec, st, c, q)),
            ));
            out.push(r(
                Method::GET,
                *one_path,
                get(move |st, c, p| one(spec, st, c, p)),
            ));
        }
        out.push(r(
            Method::POST,
            *list_path,
            post(move |st, c, q, h, b| create(spec, st, c, q, h, b)),
        ));
        out.push(r(
            Method::PATCH,
            *one_path,
            patch(move |st, c, p, q, b| update(spec, st, c, p, q, b)),
        ));
        out.push(r(
            Method::DELETE,
            *one_path,
            delete(move |st, c, p| remove(spec, st, c, p)),
        ));
    }
    // The county's review of records that may repeat one of another jurisdiction.
    let access = Access::Needs(Perm::AnimalRows);
    out.push((
        RouteSpec {
            method: Method::GET,
            path: "/api/duplicates",
            access,
        },
        get(duplicates),
    ));
    out.push((
        RouteSpec {
            method: Method::POST,
            path: "/api/duplicates/{id}/merge",
            access,
        },
        post(merge_duplicate),
    ));
    out.push((
        RouteSpec {
            method: Method::POST,
            path: "/api/duplicates/{id}/distinct",
            access,
        },
        post(distinct_duplicate),
    ));
    out
}

async fn duplicates(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let items = echinomap_programme::duplicates::list(&state.pool, &caller).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The record of the pair to keep.
    keep: i64,
}

async fn merge_duplicate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    Json(body): Json<MergeBody>,
) -> AppResult<Json<Value>> {
    let decision = echinomap_programme::duplicates::Decision::Merge { keep: body.keep };
    Ok(Json(
        echinomap_programme::duplicates::resolve(&state.pool, &caller, &caller.who(), id, decision)
            .await?,
    ))
}

async fn distinct_duplicate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    let decision = echinomap_programme::duplicates::Decision::Distinct;
    Ok(Json(
        echinomap_programme::duplicates::resolve(&state.pool, &caller, &caller.who(), id, decision)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A 9-digit township code.
    township: Option<String>,
    /// A 12-digit village code.
    village: Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    status: Option<String>,
    q: Option<String>,
    cursor: Option<i64>,
    limit: Option<i64>,
}

fn place_param(name: &str, value: Option<String>, digits: usize) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            let code =
                PlaceCode::parse(v).map_err(|e| AppError::invalid_param(name, e.to_string()))?;
            if code.as_str().len() != digits {
                return Err(AppError::invalid_param(
                    name,
                    format!("{name} is a {digits}-digit code"),
                ));
            }
            Ok(Some(code.as_str().to_owned()))
        }
    }
}

async fn list(
    spec: &'static RegisterSpec,
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Json<Value>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid_param(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if let (Some(from), Some(to)) = (p.from, p.to)
        && from > to
    {
        return Err(AppError::invalid_param("from", "from is after to"));
    }
    if p.status.is_some() && spec.status_column.is_none() {
        return Err(AppError::invalid_param(
            "status",
            format!("{} has no status to filter by", spec.name),
        ));
    }
    let filters = Filters {
        township: place_param("township", p.township, 9)?,
        village: place_param("village", p.village, 12)?,
        from: p.from,
        to: p.to,
        status: p.status.filter(|s| !s.is_empty()),
        q: p.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
        cursor: p.cursor,
        limit,
    };
    let (items, next_cursor) = one::list(
        &state.pool,
        spec,
        &caller.who(),
        &caller.scope,
        caller.can(Perm::CaseRows),
        &filters,
    )
    .await?;
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })))
}

async fn one(
    spec: &'static RegisterSpec,
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        one::read_audited(
            &state.pool,
            spec,
            &caller.who(),
            caller.can(Perm::CaseRows),
            id,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteParams {
    /// `gcj02` when lon/lat come from AMap or WeChat.
    crs: Option<String>,
}

fn parse_crs(crs: Option<&str>) -> AppResult<Crs> {
    match crs.map(str::trim) {
        None | Some("") | Some("wgs84") => Ok(Crs::Wgs84),
        Some("gcj02") => Ok(Crs::Gcj02),
        Some(other) => Err(AppError::invalid_param(
            "crs",
            format!("crs is wgs84 or gcj02, not {other:?}"),
        )),
    }
}

fn linking(state: &AppState) -> Linking<'_> {
    Linking {
        cache: &state.linker,
        watch: &state.watch,
    }
}

async fn create(
    spec: &'static RegisterSpec,
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<WriteParams>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> AppResult<(StatusCode, Json<Value>)> {
    // A device that queued the record offline sends its own id; a resend creates nothing.
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let save = Save {
        body: &body,
        crs: parse_crs(p.crs.as_deref())?,
        target: Target::CreateOnly,
        client_key: key,
    };
    let (id, replayed) = one::save(&state.pool, linking(&state), spec, &caller.who(), save).await?;
    let record = one::read_written(&state.pool, spec, &caller.scope, id).await?;
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(record)))
}

async fn update(
    spec: &'static RegisterSpec,
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<WriteParams>,
    Json(body): Json<Value>,
) -> AppResult<Json<Value>> {
    // Outside the jurisdiction (or deleted) is answered like unknown.
    one::read_written(&state.pool, spec, &caller.scope, id).await?;
    let save = Save {
        body: &body,
        crs: parse_crs(p.crs.as_deref())?,
        target: Target::Id(id),
        client_key: None,
    };
    one::save(&state.pool, linking(&state), spec, &caller.who(), save).await?;
    let record = one::read_written(&state.pool, spec, &caller.scope, id).await?;
    Ok(Json(record))
}

async fn remove(
    spec: &'static RegisterSpec,
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    one::delete(&state.pool, spec, &caller.who(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
