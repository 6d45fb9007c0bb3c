//! `/api/{register}` and `/api/{register}/{id}` for every register of [`echinomap_programme::records::spec`]:
//! list (filters, cursor paging, identifiers masked), create, read one (audited for personal
//! data), update (only the fields given) and soft delete. Bodies use the field names of the
//! import, values as a sheet would have them (`"阳性"` and `"positive"` both work), and go
//! through the same parser, linker and writer as the import
//! ([`echinomap_programme::records::one`]).

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use echinomap_domain::{PlaceCode, VillageCode};
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
use echinomap_programme::records::read::{self, FileFormat, FileRequest, Filters};
use echinomap_programme::records::round::{self, Round};
use echinomap_programme::records::schema;
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
/// follow-up status) gets only its writes here; the stock ledger gets none
/// ([`RegisterSpec::generic_api`]: it is read and written at `/api/stock/*`).
pub fn routes() -> Vec<(RouteSpec, Handler)> {
    let mut out = Vec::new();
    for (spec, (list_path, one_path)) in SPECS.iter().zip(PATHS.iter()) {
        if !spec.generic_api {
            continue;
        }
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
    /// A list key (`read::sort_keys`); default the id.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    cursor: Option<i64>,
    /// Rows skipped (paging of a sorted list: the `next_offset` of the previous page).
    offset: Option<i64>,
    limit: Option<i64>,
    /// Also answer `total`, the records selected on every page.
    count: Option<bool>,
}

/// The filters a list and its file share.
struct FilterParams {
    township: Option<String>,
    village: Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
}

/// The list's filters and order, checked against the register (`case_rows`: what the reader
/// may sort by).
fn filters_of(
    spec: &'static RegisterSpec,
    p: FilterParams,
    case_rows: bool,
    limit: i64,
) -> AppResult<Filters> {
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
    let descending = match p.order.as_deref().map(str::trim) {
        None | Some("") | Some("asc") => false,
        Some("desc") => true,
        Some(o) => {
            return Err(AppError::invalid_param(
                "order",
                format!("order is asc or desc, not {o:?}"),
            ));
        }
    };
    let sort = p
        .sort
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(key) = &sort {
        let keys = read::sort_keys(spec, case_rows);
        if !keys.iter().any(|(k, _)| k == key) {
            let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
            return Err(AppError::invalid_param(
                "sort",
                format!(
                    "{} cannot be sorted by {key:?}; its keys are {}",
                    spec.name,
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(Filters {
        township: place_param("township", p.township, 9)?,
        village: place_param("village", p.village, 12)?,
        from: p.from,
        to: p.to,
        status: p.status.filter(|s| !s.is_empty()),
        q: p.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
        cursor: None,
        limit,
        offset: 0,
        sort,
        descending,
    })
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
    let offset = p.offset.unwrap_or(0);
    if offset < 0 {
        return Err(AppError::invalid_param("offset", "offset is 0 or more"));
    }
    let case_rows = caller.can(Perm::CaseRows);
    let params = FilterParams {
        township: p.township,
        village: p.village,
        from: p.from,
        to: p.to,
        status: p.status,
        q: p.q,
        sort: p.sort,
        order: p.order,
    };
    let mut filters = filters_of(spec, params, case_rows, limit)?;
    // The cursor is the last id of a page in id order; a sorted list pages by offset.
    let by_id = filters.sort.is_none() && !filters.descending;
    if p.cursor.is_some() && !by_id {
        return Err(AppError::invalid_param(
            "cursor",
            "a sorted list pages by offset (next_offset), not by cursor",
        ));
    }
    filters.cursor = p.cursor;
    filters.offset = offset;
    let (items, more) = one::list(
        &state.pool,
        spec,
        &caller.who(),
        &caller.scope,
        case_rows,
        &filters,
    )
    .await?;
    let total = if p.count.unwrap_or(false) {
        Some(read::count(&state.pool, spec, &caller.scope, case_rows, &filters).await?)
    } else {
        None
    };
    Ok(Json(json!({
        "items": items,
        "next_cursor": more.filter(|_| by_id),
        "next_offset": more.map(|_| offset + limit),
        "total": total,
    })))
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
    // What the reader may not read of it (a dog's owner for a vet) is left out here too.
    let record = read::restrict(spec, record, caller.can(Perm::CaseRows));
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
    Ok(Json(read::restrict(
        spec,
        record,
        caller.can(Perm::CaseRows),
    )))
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

/// `GET /api/registers`: the registers the caller may read, as the desk draws its forms and
/// lists ([`schema`]).
pub async fn registers(caller: Caller) -> Json<Value> {
    Json(schema::registers(&caller, &caller.who()))
}

/// The most rows a list's file holds.
const MAX_EXPORT_ROWS: i64 = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `csv` (default) or `xlsx`.
    format: Option<String>,
    /// `zh` (default) or `en` headers and labels.
    lang: Option<String>,
    township: Option<String>,
    village: Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
}

/// `GET /api/registers/{name}/export`: the list (its filters and order) as a CSV or XLSX file,
/// masked like the list, audited as an export. The route needs [`Perm::Export`]; the register
/// needs its own permission too.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let spec = echinomap_programme::records::spec::by_name(&name)
        .filter(|s| s.generic_api)
        .ok_or_else(|| AppError::not_found("unknown_register", format!("no register {name}")))?;
    caller.require(spec.perm)?;
    let format = match p.format.as_deref().map(str::trim) {
        None | Some("") => FileFormat::Csv,
        Some(f) => FileFormat::parse(f).ok_or_else(|| {
            AppError::invalid_param("format", format!("format is csv or xlsx, not {f:?}"))
        })?,
    };
    let english = super::exports::english_param(p.lang.as_deref())?;
    let case_rows = caller.can(Perm::CaseRows);
    let params = FilterParams {
        township: p.township,
        village: p.village,
        from: p.from,
        to: p.to,
        status: p.status,
        q: p.q,
        sort: p.sort,
        order: p.order,
    };
    let filters = filters_of(spec, params, case_rows, MAX_EXPORT_ROWS)?;
    let req = FileRequest {
        format,
        english,
        max_rows: MAX_EXPORT_ROWS,
    };
    let (bytes, _) = read::export(
        &state.pool,
        spec,
        &caller.who(),
        &caller.scope,
        case_rows,
        &filters,
        req,
    )
    .await?;
    let day = state.programme.today();
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{day}.{}\"",
                    spec.name,
                    format.extension()
                ),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundParams {
    /// The 12-digit village code.
    village: String,
    /// `YYYY-MM`.
    month: String,
}

/// `GET /api/dewormings/round?village=&month=`: the village's live dogs for the month's round.
pub async fn round_dogs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<RoundParams>,
) -> AppResult<Json<Value>> {
    let village = VillageCode::parse(&p.village)
        .map_err(|e| AppError::invalid_param("village", e.to_string()))?;
    let first = chrono::NaiveDate::parse_from_str(&format!("{}-01", p.month.trim()), "%Y-%m-%d")
        .map_err(|_| {
            AppError::invalid_param("month", format!("month is YYYY-MM, not {:?}", p.month))
        })?;
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .ok_or_else(|| AppError::invalid_param("month", "month is out of range"))?;
    Ok(Json(
        round::dogs(
            &state.pool,
            &caller.who(),
            caller.can(Perm::CaseRows),
            &village,
            (first, last),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundBody {
    village_code: String,
    dosed_on: String,
    drug: Option<String>,
    method: Option<String>,
    batch: Option<String>,
    dose_mg: Option<Value>,
    given_by: Option<String>,
    dog_tags: Vec<String>,
}

/// `POST /api/dewormings/round`: one deworming per ticked dog, in one transaction.
pub async fn round_save(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RoundBody>,
) -> AppResult<Json<Value>> {
    let village = VillageCode::parse(&body.village_code)
        .map_err(|e| AppError::invalid_param("village_code", e.to_string()))?;
    let dose_mg = match body.dose_mg {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(AppError::invalid_param(
                "dose_mg",
                "dose_mg is a number or null",
            ));
        }
    };
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let round = Round {
        village,
        dosed_on: body.dosed_on,
        drug: blank(body.drug),
        method: blank(body.method),
        batch: blank(body.batch),
        dose_mg: blank(dose_mg),
        given_by: blank(body.given_by),
        dog_tags: body.dog_tags,
    };
    let saved = round::save(&state.pool, linking(&state), &caller.who(), &round).await?;
    Ok(Json(
        json!({ "created": saved.created, "unchanged": saved.unchanged }),
    ))
}
