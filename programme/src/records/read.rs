//! The read side of every register: one record as JSON (`to_jsonb` of the row without its
//! geometry columns, plus its village, position and the natural keys of what it references),
//! lists with filters, sorting and paging (by cursor in id order, or by offset), scoped by the
//! caller's jurisdiction, and a list as a file (CSV or XLSX) masked exactly like the list.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::import::Who;
use super::labels::{self, Label};
use super::spec::{Field, Mask, Point, RegisterSpec, Ty, Village};
use crate::audit::{self, Entry};
use crate::auth::Scope;
use crate::error::Error;
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
    /// Rows skipped before the page (paging of a sorted list).
    pub offset: i64,
    /// A list key ([`sort_keys`]); `None`: by id.
    pub sort: Option<String>,
    pub descending: bool,
}

/// The keys a list of `spec` may be sorted by, each with its SQL over `t` (and `v`, the
/// village): the id, every field the list shows under its own name or its column's, the place,
/// and the keys of the register's extra JSON (a dog's owner and last dose). What the reader may
/// not see ([`restrict`]) is no sort key for them either.
pub fn sort_keys(spec: &RegisterSpec, case_rows: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![("id".into(), "t.id".into())];
    let hidden = |k: &str| {
        !case_rows
            && !spec.personal_fields.is_empty()
            && (spec.personal_fields.contains(&k) || k == "lon" || k == "lat")
    };
    for f in spec.fields {
        if let Some(c) = f.column {
            for k in [f.name, c] {
                if !hidden(k) && !out.iter().any(|(x, _)| x == k) {
                    out.push((k.to_owned(), format!("t.{c}")));
                }
            }
        } else if spec.refs.iter().any(|r| r.column == f.name) {
            // A key named like the reference it resolves (`case_id`): the record keeps it.
            out.push((f.name.to_owned(), format!("t.{}", f.name)));
        }
    }
    // A masked identifier is no sort key: the order of ID numbers within a region is the order
    // of birth dates, and of phones their hidden digits.
    out.retain(|(k, _)| !spec.masks.iter().any(|(m, _)| m == k));
    if spec.masks.iter().any(|(_, m)| *m == Mask::IdNumber) && spec.field("birth_date").is_some() {
        out.retain(|(k, _)| k != "birth_date");
        out.push((
            "age".into(),
            "date_part('year', age(current_date, t.birth_date))".into(),
        ));
    }
    match spec.village {
        Village::None => {}
        Village::Linked {
            column: "origin_village_id",
            ..
        } => {
            out.push(("origin_village_code".into(), "v.code".into()));
            out.push(("origin_village_name".into(), "v.name".into()));
        }
        _ => {
            out.push(("village_code".into(), "v.code".into()));
            out.push(("village_name".into(), "v.name".into()));
            out.push(("township_code".into(), "v.township_code".into()));
        }
    }
    for key in extra_keys(spec) {
        if !hidden(key) && !out.iter().any(|(x, _)| x == key) {
            out.push((
                key.to_owned(),
                format!("(({}) ->> '{key}')", spec.extra_json),
            ));
        }
    }
    out
}

/// The keys of a register's extra JSON (`jsonb_build_object('dog_tag', …, 'owner', …)`).
pub fn extra_keys(spec: &RegisterSpec) -> Vec<&'static str> {
    let parts: Vec<&'static str> = spec.extra_json.split('\'').collect();
    parts
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            i % 2 == 1
                && !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && parts
                    .get(i + 1)
                    .is_some_and(|next| next.trim_start().starts_with(','))
        })
        .map(|(_, p)| *p)
        .collect()
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

/// The filters of a list as SQL over `t` and `v`: `$1` the jurisdiction, `$2`–`$7` the
/// filters, `$8` the cursor.
fn where_sql(spec: &RegisterSpec, case_rows: bool) -> String {
    let date = spec.date_column.map_or_else(
        || "TRUE".to_owned(),
        |d| format!("($4::date IS NULL OR t.{d} >= $4) AND ($5::date IS NULL OR t.{d} <= $5)"),
    );
    let status = spec.status_column.map_or_else(
        || "$6::text IS NULL".to_owned(),
        |c| format!("($6::text IS NULL OR t.{c}::text = $6)"),
    );
    // A field the reader may not see is not searched either (a vet learns no household head's
    // name by trying names). The text is a prefix: `%`, `_` and `\` in it are themselves.
    let ors: Vec<String> = spec
        .search
        .iter()
        .filter(|c| case_rows || !spec.personal_fields.contains(c))
        .map(|c| {
            format!(
                "t.{c} ILIKE replace(replace(replace($7, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"
            )
        })
        .collect();
    let search = if ors.is_empty() {
        "$7::text IS NULL".to_owned()
    } else {
        format!("($7::text IS NULL OR {})", ors.join(" OR "))
    };
    let place = if spec.village_id_sql().is_some() {
        "($2::text IS NULL OR v.code LIKE $2 || '%') AND ($3::text IS NULL OR v.code = $3)"
    } else {
        "($2::text IS NULL AND $3::text IS NULL)"
    };
    format!(
        "{from}
           AND {place} AND {date} AND {status} AND {search}
           AND ($8::bigint IS NULL OR t.id > $8)",
        from = from_sql(spec),
    )
}

/// The `ORDER BY` of a list: the sort key (nulls last), then the id.
fn order_sql(spec: &RegisterSpec, case_rows: bool, f: &Filters) -> Option<String> {
    let dir = if f.descending { "DESC" } else { "ASC" };
    match &f.sort {
        None => Some(format!("t.id {dir}")),
        Some(key) => sort_keys(spec, case_rows)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, sql)| format!("{sql} {dir} NULLS LAST, t.id {dir}")),
    }
}

/// How many records the filters select (on every page).
pub async fn count(
    pool: &PgPool,
    spec: &RegisterSpec,
    scope: &Scope,
    case_rows: bool,
    f: &Filters,
) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT count(*) {}", where_sql(spec, case_rows));
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(scope.prefix())
        .bind(&f.township)
        .bind(&f.village)
        .bind(f.from)
        .bind(f.to)
        .bind(&f.status)
        .bind(&f.q)
        .bind(None::<i64>);
    crate::db::cancel_on_drop(pool, async |c| query.fetch_one(c).await).await
}

/// A page of records (one more than `limit` is fetched to know whether more follow), in the
/// order `f` asks for; an unknown sort key reads as the id.
pub async fn list(
    pool: &PgPool,
    spec: &RegisterSpec,
    scope: &Scope,
    case_rows: bool,
    f: &Filters,
) -> Result<(Vec<Value>, Option<i64>), sqlx::Error> {
    let order = order_sql(spec, case_rows, f).unwrap_or_else(|| "t.id".to_owned());
    let sql = format!(
        "SELECT t.id, {json} {filtered} ORDER BY {order} LIMIT $9 OFFSET $10",
        json = json_sql(spec),
        filtered = where_sql(spec, case_rows),
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
        .bind(f.limit + 1)
        .bind(f.offset.max(0));
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

/// The file a list is taken away as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// UTF-8 with a BOM (Excel opens it as UTF-8), formula-like cells quoted.
    Csv,
    /// One sheet, formula-like text cells with the quote prefix ([`crate::workbook`]).
    Xlsx,
}

impl FileFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// The key under which a list or record of `spec` gives `field`: its own name (a column named
/// otherwise is given under both), or `None` for a key the record does not keep (the NNDRS id
/// a follow-up line names its case by).
pub fn list_key(spec: &RegisterSpec, field: &Field) -> Option<&'static str> {
    if field.column.is_some()
        || spec.refs.iter().any(|r| r.column == field.name)
        || extra_keys(spec).contains(&field.name)
    {
        Some(field.name)
    } else {
        None
    }
}

/// One column of a list's file.
#[derive(Debug, Clone)]
pub struct Column {
    /// The key in the list's JSON.
    pub key: &'static str,
    pub label: Label,
    /// The field it shows, if it is one (enumerations are written by their labels).
    pub field: Option<&'static Field>,
}

/// The columns of a list of `spec` as a reader with or without case rows sees it: the id, every
/// field the list gives, the place, and the register's extra keys; without what
/// [`restrict`] leaves out, and with the age instead of a birth date [`mask`] hides.
pub fn file_columns(spec: &'static RegisterSpec, case_rows: bool) -> Vec<Column> {
    let hidden = |k: &str| {
        !case_rows
            && !spec.personal_fields.is_empty()
            && (spec.personal_fields.contains(&k) || k == "lon" || k == "lat")
    };
    let aged = spec.masks.iter().any(|(_, m)| *m == Mask::IdNumber);
    let label = |key: &str| labels::key(spec.name, key, None).unwrap_or(("", ""));
    let mut out = vec![Column {
        key: "id",
        label: label("id"),
        field: None,
    }];
    for f in spec.fields {
        let Some(key) = list_key(spec, f) else {
            continue;
        };
        if hidden(key) || out.iter().any(|c| c.key == key) {
            continue;
        }
        if aged && key == "birth_date" {
            out.push(Column {
                key: "age",
                label: label("age"),
                field: None,
            });
            continue;
        }
        out.push(Column {
            key,
            label: labels::field(spec.name, f.name).unwrap_or((f.name, f.name)),
            field: Some(f),
        });
    }
    let place: &[&'static str] = match spec.village {
        Village::None => &[],
        Village::Linked {
            column: "origin_village_id",
            ..
        } => &["origin_village_code", "origin_village_name"],
        _ => &["village_code", "village_name", "township_code"],
    };
    let point: &[&'static str] = if spec.point == Point::None {
        &[]
    } else {
        &["lon", "lat"]
    };
    for key in place.iter().chain(point).copied().chain(extra_keys(spec)) {
        if !hidden(key) && !out.iter().any(|c| c.key == key) {
            out.push(Column {
                key,
                label: label(key),
                field: None,
            });
        }
    }
    out
}

/// A value of a listed record as a cell's text: enumerations by their label, yes/no in words.
fn cell_text(spec: &RegisterSpec, column: &Column, value: &Value, english: bool) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => match (b, english) {
            (true, false) => "是",
            (false, false) => "否",
            (true, true) => "yes",
            (false, true) => "no",
        }
        .to_owned(),
        Value::String(s) => match column.field.map(|f| f.ty) {
            Some(Ty::Enum(e)) => labels::option(spec.name, e.sql_type, s).map_or_else(
                || s.clone(),
                |(zh, en)| if english { en } else { zh }.to_owned(),
            ),
            _ => s.clone(),
        },
        other => other.to_string(),
    }
}

/// The rows as a CSV file: a BOM, the header, formula-like cells quoted
/// ([`echinomap_domain::spreadsheet::csv_text`]).
fn csv_file(
    spec: &RegisterSpec,
    columns: &[Column],
    rows: &[Value],
    english: bool,
) -> Result<Vec<u8>, csv::Error> {
    use echinomap_domain::spreadsheet::csv_text;
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(
            columns
                .iter()
                .map(|c| csv_text(if english { c.label.1 } else { c.label.0 }).into_owned()),
        )?;
        for row in rows {
            w.write_record(columns.iter().map(|c| {
                let v = row.get(c.key).unwrap_or(&Value::Null);
                csv_text(&cell_text(spec, c, v, english)).into_owned()
            }))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// The rows as a workbook of one sheet: numbers as numbers, text with the quote prefix when
/// formula-like ([`crate::workbook::write_text`]).
fn xlsx_file(
    spec: &RegisterSpec,
    columns: &[Column],
    rows: &[Value],
    english: bool,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(if english { spec.name } else { spec.name_zh })?;
    let bold = Format::new().set_bold();
    let plain = Format::new();
    for (c, col) in columns.iter().enumerate() {
        let header = if english { col.label.1 } else { col.label.0 };
        crate::workbook::write_text(sheet, 0, c as u16, header, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, col) in columns.iter().enumerate() {
            match row.get(col.key).unwrap_or(&Value::Null) {
                Value::Null => {}
                Value::Number(n) if n.as_f64().is_some() => {
                    sheet.write_number(r, c as u16, n.as_f64().unwrap_or_default())?;
                }
                v => {
                    let text = cell_text(spec, col, v, english);
                    crate::workbook::write_text(sheet, r, c as u16, &text, &plain)?;
                }
            }
        }
    }
    wb.save_to_buffer()
}

/// What a list's file is made of.
#[derive(Debug, Clone, Copy)]
pub struct FileRequest {
    pub format: FileFormat,
    /// English headers and labels (Chinese by default).
    pub english: bool,
    /// The most rows a file holds; a list selecting more is refused (narrow the filters).
    pub max_rows: i64,
}

/// A list as a file, masked and restricted exactly like the list, audited as an export (with
/// the ids of the records when they name people, as a list that names them is). Returns the
/// file and its number of rows.
pub async fn export(
    pool: &PgPool,
    spec: &'static RegisterSpec,
    who: &Who,
    scope: &Scope,
    case_rows: bool,
    filters: &Filters,
    req: FileRequest,
) -> Result<(Vec<u8>, usize), Error> {
    let f = Filters {
        cursor: None,
        offset: 0,
        limit: req.max_rows,
        ..filters.clone()
    };
    let (rows, more) = list(pool, spec, scope, case_rows, &f).await?;
    if more.is_some() {
        return Err(Error::InvalidRequest {
            code: "export_too_large",
            message: format!(
                "导出最多{max}行，请缩小筛选范围 / an export holds at most {max} rows: narrow the filters",
                max = req.max_rows
            ),
        });
    }
    let columns = file_columns(spec, case_rows);
    let bytes = match req.format {
        FileFormat::Csv => csv_file(spec, &columns, &rows, req.english)
            .map_err(|e| anyhow::anyhow!("writing the CSV of {}: {e}", spec.name))?,
        FileFormat::Xlsx => xlsx_file(spec, &columns, &rows, req.english)
            .map_err(|e| anyhow::anyhow!("writing the workbook of {}: {e}", spec.name))?,
    };
    let names = spec.personal || (case_rows && !spec.personal_fields.is_empty());
    let ids: Option<Vec<&Value>> = names.then(|| rows.iter().filter_map(|r| r.get("id")).collect());
    let mut conn = pool.acquire().await?;
    audit::record(
        &mut conn,
        &who.actor,
        Entry {
            action: "export",
            table: Some(spec.table),
            detail: Some(json!({
                "register": spec.name,
                "format": req.format.extension(),
                "rows": rows.len(),
                "ids": ids,
                "filters": {
                    "township": f.township, "village": f.village, "from": f.from, "to": f.to,
                    "status": f.status, "q": f.q, "sort": f.sort,
                    "order": if f.descending { "desc" } else { "asc" },
                },
            })),
            ..Entry::default()
        },
    )
    .await?;
    Ok((bytes, rows.len()))
}
