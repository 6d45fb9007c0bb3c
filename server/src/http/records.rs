//! `/api/{register}` and `/api/{register}/{id}` for every register of [`echinomap_programme::records::spec`]:
//! list (filters, cursor paging, identifiers masked), create, read one (audited for personal
//! data), update (only the fields given) and soft delete. Bodies use the field names of the
//! import, values as a sheet would have them (`"阳性"` and `"positive"` both work), and go
//! through the same parser, linker and writer as the import.

use std::collections::BTreeMap;
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
use echinomap_programme::audit::{self, Actor, Entry};
use echinomap_programme::records::import::{Who, write_rows};
use echinomap_programme::records::parse::{self, Layout, Options, RowError};
use echinomap_programme::records::read::{self, Filters};
use echinomap_programme::records::spec::{RegisterSpec, SPECS, Village};
use echinomap_programme::records::write::{Batch, Present, Target};

const MAX_LIMIT: i64 = 500;
const LINK_FIELDS: [&str; 5] = ["village_code", "village", "township", "lon", "lat"];

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

/// The routes of every register. `/api/cases` keeps its own read side (the line list with the
/// person, stage and follow-up status); its writes are these.
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
        if spec.name != "cases" {
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
    out
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
    let (items, next_cursor) =
        read::list(&state.pool, spec, caller.scope.prefix(), &filters).await?;
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })))
}

fn not_found(spec: &RegisterSpec, id: i64) -> AppError {
    AppError::not_found(
        "record_not_found",
        format!("no {} record with id {id}", spec.name),
    )
}

async fn one(
    spec: &'static RegisterSpec,
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    let mut tx = state.pool.begin().await?;
    let record = read::one(&mut *tx, spec, caller.scope.prefix(), id)
        .await?
        .ok_or_else(|| not_found(spec, id))?;
    if spec.personal {
        audit::record(
            &mut tx,
            &Actor::user(caller.user_id, &caller.username),
            Entry {
                action: "read",
                table: Some(spec.table),
                row_id: Some(id.to_string()),
                ..Entry::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(record))
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

/// Headers, their canonical fields, and cells.
type BodyRow = (Vec<String>, Vec<Option<&'static str>>, Vec<String>);

/// A JSON object as one sheet row: its keys as headers, its values as cells.
fn body_row(spec: &RegisterSpec, body: &Value) -> AppResult<BodyRow> {
    let Value::Object(map) = body else {
        return Err(AppError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        ));
    };
    let mut headers = Vec::new();
    let mut fields = Vec::new();
    let mut cells = Vec::new();
    let links = matches!(spec.village, Village::Linked { .. });
    for (k, v) in map {
        let field = spec
            .fields
            .iter()
            .map(|f| f.name)
            .chain(LINK_FIELDS.iter().copied().filter(|_| links))
            .find(|f| f == k);
        let Some(field) = field else {
            let mut known: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
            if links {
                known.extend(LINK_FIELDS);
            }
            return Err(AppError::invalid_field(
                k,
                format!(
                    "{} has no field {k:?}; its fields are {}",
                    spec.name,
                    known.join(", ")
                ),
            ));
        };
        let cell = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(AppError::invalid_field(
                    k,
                    format!("{k} must be a string, number, boolean or null"),
                ));
            }
        };
        headers.push(k.clone());
        fields.push(Some(field));
        cells.push(cell);
    }
    Ok((headers, fields, cells))
}

fn refused(errors: Vec<RowError>) -> AppError {
    let first = errors.first();
    let message = first.map_or_else(
        || "the record was refused".to_owned(),
        |e| match &e.field {
            Some(f) => format!("{f}: {}", e.reason),
            None => e.reason.clone(),
        },
    );
    let conflict = errors
        .iter()
        .any(|e| e.reason.contains("same natural key exists"));
    if conflict {
        return AppError::Conflict {
            code: "duplicate_record",
            message,
        };
    }
    AppError::Unprocessable {
        code: "invalid_record",
        message,
        details: json!({
            "field": first.and_then(|e| e.field.clone()),
            "errors": errors,
        }),
    }
}

async fn save(
    spec: &'static RegisterSpec,
    state: &AppState,
    caller: &Caller,
    crs: Option<&str>,
    body: &Value,
    target: Target,
    client_key: Option<&str>,
) -> AppResult<(i64, bool)> {
    let crs = parse_crs(crs)?;
    if let Some(key) = client_key {
        if !(8..=128).contains(&key.len()) {
            return Err(AppError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key is 8 to 128 characters (a client-generated id)",
            ));
        }
        let seen: Option<i64> = sqlx::query_scalar(
            "SELECT record_id FROM client_writes WHERE key = $1 AND user_id = $2 AND register = $3",
        )
        .bind(key)
        .bind(caller.user_id)
        .bind(spec.name)
        .fetch_optional(&state.pool)
        .await?;
        if let Some(id) = seen {
            return Ok((id, true));
        }
    }
    let (headers, fields, cells) = body_row(spec, body)?;
    if spec.name == "cases" && matches!(target, Target::Id(_)) {
        let person = [
            "name",
            "id_number",
            "sex",
            "birth_date",
            "ethnicity",
            "occupation",
            "phone",
            "household_no",
        ];
        if let Some(f) = fields.iter().flatten().find(|f| person.contains(f)) {
            return Err(AppError::invalid_field(
                f,
                "person fields are changed at /api/people/{id}, not on the case",
            ));
        }
    }
    let layout = Layout::new(spec, headers, &fields);
    let linker = state.linker.get(&state.pool, &state.watch).await?;
    let opts = Options {
        crs,
        scope: caller.scope.prefix(),
        require_all: !matches!(target, Target::Id(_)),
    };
    let staged = parse::parse_row(spec, &layout, &linker, opts, 1, &cells).map_err(refused)?;
    let present = Present {
        fields: layout.field_col.iter().map(Option::is_some).collect(),
        link: layout.has_link(),
        point: layout.has_point(),
    };
    let who = Who {
        actor: Actor::user(caller.user_id, &caller.username),
        scope: caller.scope.prefix().to_owned(),
    };
    let mut tx = state.pool.begin().await?;
    let mut errors = BTreeMap::new();
    let batch = Batch {
        present: &present,
        target,
        scope: &who.scope,
        user: &who.actor.username,
        keep_valid: false,
        ids: true,
    };
    let (written, _) = write_rows(&mut tx, spec, vec![staged], &batch, &mut errors)
        .await
        .map_err(db_refusal)?;
    if !errors.is_empty() {
        return Err(refused(errors.into_values().flatten().collect()));
    }
    let id = match target {
        Target::Id(id) => id,
        _ => written
            .ids
            .first()
            .map(|(_, id)| *id)
            .ok_or_else(|| anyhow::anyhow!("a created record has no id"))?,
    };
    audit::record(
        &mut tx,
        &who.actor,
        Entry {
            action: if matches!(target, Target::Id(_)) {
                "update"
            } else {
                "create"
            },
            table: Some(spec.table),
            row_id: Some(id.to_string()),
            ..Entry::default()
        },
    )
    .await?;
    if let Some(key) = client_key {
        sqlx::query(
            "INSERT INTO client_writes (key, user_id, register, record_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(key)
        .bind(caller.user_id)
        .bind(spec.name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((id, false))
}

/// A constraint the database enforces and the parser did not foresee: a 422 naming it.
fn db_refusal(e: sqlx::Error) -> AppError {
    if let sqlx::Error::Database(db) = &e
        && let Some(code) = db.code()
        && code.starts_with("23")
    {
        let field = db.constraint().unwrap_or("record").to_owned();
        return AppError::Unprocessable {
            code: "invalid_record",
            message: db.message().to_owned(),
            details: json!({ "field": field, "constraint": db.constraint() }),
        };
    }
    AppError::Database(e)
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
    let (id, replayed) = save(
        spec,
        &state,
        &caller,
        p.crs.as_deref(),
        &body,
        Target::CreateOnly,
        key,
    )
    .await?;
    let record = read::one(&state.pool, spec, caller.scope.prefix(), id)
        .await?
        .ok_or_else(|| not_found(spec, id))?;
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
    read::one(&state.pool, spec, caller.scope.prefix(), id)
        .await?
        .ok_or_else(|| not_found(spec, id))?;
    save(
        spec,
        &state,
        &caller,
        p.crs.as_deref(),
        &body,
        Target::Id(id),
        None,
    )
    .await?;
    let record = read::one(&state.pool, spec, caller.scope.prefix(), id)
        .await?
        .ok_or_else(|| not_found(spec, id))?;
    Ok(Json(record))
}

async fn remove(
    spec: &'static RegisterSpec,
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    read::one(&mut *tx, spec, caller.scope.prefix(), id)
        .await?
        .ok_or_else(|| not_found(spec, id))?;
    let sql = if spec.soft_delete {
        format!("UPDATE {} SET deleted_at = now() WHERE id = $1", spec.table)
    } else {
        format!("DELETE FROM {} WHERE id = $1", spec.table)
    };
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23503") => {
                AppError::Conflict {
                    code: "record_in_use",
                    message: format!("{} record {id} is referenced by other records", spec.name),
                }
            }
            _ => AppError::Database(e),
        })?;
    audit::record(
        &mut tx,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: "delete",
            table: Some(spec.table),
            row_id: Some(id.to_string()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
