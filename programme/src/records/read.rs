//! The read side of every register: one record as JSON (`to_jsonb` of the row without its
//! geometry columns, plus its village, position and the natural keys of what it references),
//! lists with filters and cursor paging, scoped by the caller's jurisdiction.

use serde_json::Value;
use sqlx::PgPool;

use super::spec::{Mask, Point, RegisterSpec, Village};
use crate::auth::Scope;
use crate::registers::REGISTERS;
use echinomap_domain::PlaceCode;
use echinomap_domain::privacy::{mask_id_number, mask_phone};

/// The filters of a list.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub township: Option<String>,
    pub village: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub status: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// The JSON expression of one record `t` joined with its village `v`.
fn json_sql(spec: &RegisterSpec) -> String {
    let mut sql = "(to_jsonb(t) - 'geom' - 'h3_r7' - 'h3_r8' - 'h3_r9' - 'deleted_at')".to_owned();
    match spec.village {
        Village::None => {}
        // Where the animals came from; the record belongs to its slaughter point's place.
        Village::Linked {
            column: "origin_village_id",
            ..
        } => sql.push_str(
            " || jsonb_build_object('origin_village_code', v.code, 'origin_village_name', v.name)",
        ),
        _ => sql.push_str(
            " || jsonb_build_object('village_code', v.code, 'village_name', v.name, 'township_code', v.township_code)",
        ),
    }
    if spec.point != Point::None {
        sql.push_str(
            " || CASE WHEN t.geom IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('lon', round(ST_X(t.geom)::numeric, 6), 'lat', round(ST_Y(t.geom)::numeric, 6)) END",
        );
    }
    // The API's own names for columns named otherwise in the table (`dog_kind` for `kind`), so
    // that a record read can be sent back as it is.
    let renamed: Vec<String> = spec
        .fields
        .iter()
        .filter_map(|f| {
            f.column
                .filter(|c| *c != f.name)
                .map(|c| format!("'{}', t.{c}", f.name))
        })
        .collect();
    if !renamed.is_empty() {
        sql.push_str(&format!(" || jsonb_build_object({})", renamed.join(", ")));
    }
    sql.push_str(" || ");
    sql.push_str(spec.extra_json);
    sql
}

/// `FROM` with the village join and the jurisdiction predicate (`$1` the prefix).
fn from_sql(spec: &RegisterSpec) -> String {
    let join = match spec.village_id_sql() {
        Some(v) => format!("LEFT JOIN villages v ON v.id = {v}"),
        None => String::new(),
    };
    let scope = REGISTERS
        .iter()
        .find(|r| r.table == spec.table)
        .and_then(|r| r.scope_sql())
        .map_or_else(
            || "($1 IS NOT NULL)".to_owned(),
            |s| format!("t.id IN (SELECT id FROM {} WHERE {s})", spec.table),
        );
    let live = if spec.soft_delete {
        " AND t.deleted_at IS NULL"
    } else {
        ""
    };
    format!("FROM {} t {join} WHERE {scope}{live}", spec.table)
}

/// Leaves out what a reader without case rows may not read of a record (a household head's name
/// and address, and the household's position with them).
pub fn restrict(spec: &RegisterSpec, mut record: Value, case_rows: bool) -> Value {
    if !case_rows
        && !spec.personal_fields.is_empty()
        && let Value::Object(map) = &mut record
    {
        for field in spec.personal_fields.iter().chain(&["lon", "lat"]) {
            map.remove(*field);
        }
    }
    record
}

/// Masks the identifiers of a listed record. A masked ID number is never listed beside the
/// birth date its hidden digits are: the list gives the age in years instead.
pub fn mask(spec: &RegisterSpec, mut record: Value) -> Value {
    if spec.masks.iter().any(|(_, m)| *m == Mask::IdNumber)
        && let Value::Object(map) = &mut record
        && let Some(born) = map.remove("birth_date")
    {
        let age = born
            .as_str()
            .and_then(|s| s.parse::<chrono::NaiveDate>().ok())
            .map(|d| echinomap_domain::privacy::age_years(d, chrono::Utc::now().date_naive()));
        map.insert("age".to_owned(), age.into());
    }
    for (field, how) in spec.masks {
        if let Some(v) = record.get_mut(*field)
            && let Some(s) = v.as_str()
        {
            *v = Value::String(match how {
                Mask::IdNumber => mask_id_number(s),
                Mask::Phone => mask_phone(s),
            });
        }
    }
    record
}

/// One record inside the jurisdiction (`None`: anywhere), unmasked.
pub async fn one(
    pool: impl sqlx::PgExecutor<'_>,
    spec: &RegisterSpec,
    scope: Option<&PlaceCode>,
    id: i64,
) -> Result<Option<Value>, sqlx::Error> {
    let sql = format!("SELECT {} {} AND t.id = $2", json_sql(spec), from_sql(spec));
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(scope.map_or("", PlaceCode::as_str))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A page of records (one more than `limit` is fetched to know whether more follow).
pub async fn list(
    pool: &PgPool,
    spec: &RegisterSpec,
    scope: &Scope,
    case_rows: bool,
    f: &Filters,
) -> Result<(Vec<Value>, Option<i64>), sqlx::Error> {
    let date = spec.date_column.map_or_else(
        || "TRUE".to_owned(),
        |d| format!("($4::date IS NULL OR t.{d} >= $4) AND ($5::date IS NULL OR t.{d} <= $5)"),
    );
    let status = spec.status_column.map_or_else(
        || "$6::text IS NULL".to_owned(),
        |c| format!("($6::text IS NULL OR t.{c}::text = $6)"),
    );
    let search = if spec.search.is_empty() {
        "$7::text IS NULL".to_owned()
    } else {
        let ors: Vec<String> = spec
            .search
            .iter()
            .map(|c| format!("t.{c} ILIKE replace(replace($7, '%', ''), '_', '') || '%'"))
            .collect();
        format!("($7::text IS NULL OR {})", ors.join(" OR "))
    };
    let place = if spec.village_id_sql().is_some() {
        "($2::text IS NULL OR v.code LIKE $2 || '%') AND ($3::text IS NULL OR v.code = $3)"
    } else {
        "($2::text IS NULL AND $3::text IS NULL)"
    };
    let sql = format!(
        "SELECT t.id, {json} {from}
           AND {place} AND {date} AND {status} AND {search}
           AND ($8::bigint IS NULL OR t.id > $8)
         ORDER BY t.id LIMIT $9",
        json = json_sql(spec),
        from = from_sql(spec),
    );
    // A list is the expensive read a client may walk away from: its statement is cancelled then.
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(scope.prefix())
        .bind(&f.township)
        .bind(&f.village)
        .bind(f.from)
        .bind(f.to)
        .bind(&f.status)
        .bind(&f.q)
        .bind(f.cursor)
        .bind(f.limit + 1);
    let rows: Vec<(i64, Value)> =
        crate::db::cancel_on_drop(pool, async |c| query.fetch_all(c).await).await?;
    let more = rows.len() as i64 > f.limit;
    let page: Vec<(i64, Value)> = rows.into_iter().take(f.limit as usize).collect();
    let next = if more {
        page.last().map(|(id, _)| *id)
    } else {
        None
    };
    Ok((
        page.into_iter()
            .map(|(_, v)| restrict(spec, mask(spec, v), case_rows))
            .collect(),
        next,
    ))
}
