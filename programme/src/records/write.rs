//! Writing staged rows: one COPY into a temporary staging table, references and villages
//! resolved in SQL, natural keys matched against the register, then one UPDATE of the changed
//! records and one INSERT of the new ones — all inside the caller's transaction, so that a
//! failed, refused or killed import leaves nothing behind.

use std::fmt::Write as _;

use echinomap_domain::PlaceCode;
use serde_json::json;
use sqlx::PgConnection;

use super::parse::{Reason, RowError, Staged};
use super::spec::{Point, Reference, RegisterSpec, Village};

/// What the batch may do with records that already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Match natural keys: update what changed, insert what is new (the import).
    Upsert,
    /// Create only: a natural key that exists is an error (POST).
    CreateOnly,
    /// Update the record with this id (PATCH).
    Id(i64),
}

/// Which fields the batch carries (columns in the sheet, keys in the JSON body).
#[derive(Debug, Clone)]
pub struct Present {
    /// Per spec field.
    pub fields: Vec<bool>,
    /// Any village link field.
    pub link: bool,
    /// lon and lat.
    pub point: bool,
}

/// The result of a batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Ids of the inserted and updated records, in row order.
    pub ids: Vec<(usize, i64)>,
    /// Ids of the inserted records.
    pub new_ids: Vec<i64>,
}

fn copy_escape(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// The staging column of a field: its name, or `{name}_key` for a key field named like the
/// column its reference fills (`case_id`, the case a form names by id: the staged key and the
/// resolved reference are different columns of the staged row; the reference's SQL reads
/// `s.case_id_key`).
pub(crate) fn staged_name(spec: &RegisterSpec, field: &str) -> String {
    if spec.refs.iter().any(|r| r.column == field) {
        format!("{field}_key")
    } else {
        field.to_owned()
    }
}

/// The staging table's value columns, in order.
fn staging_columns(spec: &RegisterSpec) -> Vec<(String, &'static str)> {
    let mut cols: Vec<(String, &'static str)> = vec![("row_no".into(), "integer")];
    for f in spec.fields {
        cols.push((staged_name(spec, f.name), f.ty.sql()));
    }
    cols.extend([
        ("link_village_code".into(), "text"),
        ("link_method".into(), "link_method"),
        ("link_distance_m".into(), "double precision"),
        ("geom".into(), "geometry(Point, 4326)"),
        ("h3_r7".into(), "bigint"),
        ("h3_r8".into(), "bigint"),
        ("h3_r9".into(), "bigint"),
    ]);
    cols
}

/// The COPY text of the staged rows.
pub fn copy_text(rows: &[Staged]) -> String {
    let mut out = String::with_capacity(rows.len() * 96);
    for r in rows {
        let _ = write!(out, "{}", r.row);
        for v in &r.values {
            out.push('\t');
            match v {
                Some(v) => copy_escape(&mut out, v),
                None => out.push_str("\\N"),
            }
        }
        match &r.link {
            Some((code, method, d)) => {
                let _ = write!(out, "\t{code}\t{method}\t");
                match d {
                    Some(d) => {
                        let _ = write!(out, "{d}");
                    }
                    None => out.push_str("\\N"),
                }
            }
            None => out.push_str("\t\\N\t\\N\t\\N"),
        }
        match r.point {
            Some((lon, lat, [a, b, c])) => {
                let _ = write!(
                    out,
                    "\tSRID=4326;POINT({lon} {lat})\t{}\t{}\t{}",
                    a as i64, b as i64, c as i64
                );
            }
            None => out.push_str("\t\\N\t\\N\t\\N\t\\N"),
        }
        out.push('\n');
    }
    out
}

/// The q-side expressions of a key predicate `t.a = q.b AND t.c = q.d`: what identifies a new
/// record among the rows of one batch.
fn key_exprs(key: &str) -> Vec<&str> {
    key.split(" AND ")
        .filter_map(|p| p.split_once(" = ").map(|(_, rhs)| rhs.trim()))
        .collect()
}

/// The rows of `table` a writer in `scope` may see, as a FROM item; the table itself for the
/// whole database. A record outside the jurisdiction is never matched, referenced or changed:
/// for the writer it does not exist. The scope is written into the SQL as a literal: a
/// [`PlaceCode`] is 6, 9 or 12 digits, checked when it was made.
pub(crate) fn scoped(table: &str, scope: Option<&PlaceCode>) -> String {
    let sql = crate::registers::REGISTERS
        .iter()
        .find(|r| r.table == table)
        .and_then(|r| r.scope_sql());
    match (scope, sql) {
        (Some(scope), Some(sql)) => {
            debug_assert!(scope.as_str().bytes().all(|b| b.is_ascii_digit()));
            format!(
                "(SELECT * FROM {table} WHERE {})",
                sql.replace("$1", &format!("'{}'", scope.as_str()))
            )
        }
        _ => table.to_owned(),
    }
}

/// A reference's scalar SQL with every register it reads (`FROM dogs x`) limited to `scope`.
fn scoped_ref_sql(sql: &str, scope: Option<&PlaceCode>) -> String {
    let mut out = sql.to_owned();
    for r in crate::registers::REGISTERS {
        let from = format!("FROM {} x", r.table);
        if out.contains(&from) {
            out = out.replace(&from, &format!("FROM {} x", scoped(r.table, scope)));
        }
    }
    out
}

/// A record as the audit log keeps it: its columns without the derived ones.
fn audit_json(spec: &RegisterSpec, alias: &str) -> String {
    let mut sql = format!(
        "(to_jsonb({alias}) - 'geom' - 'h3_r7' - 'h3_r8' - 'h3_r9' - 'updated_at' - 'created_at')"
    );
    if spec.point != Point::None {
        sql.push_str(&format!(
            " || CASE WHEN {alias}.geom IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('lon', round(ST_X({alias}.geom)::numeric, 6), 'lat', round(ST_Y({alias}.geom)::numeric, 6)) END"
        ));
    }
    sql
}

fn err(row: usize, field: Option<&str>, value: Option<String>, why: Reason) -> RowError {
    RowError::new(row, field.map(str::to_owned), field, value, why)
}

/// The fields of the register's first natural key (`dog_tag` of `t.tag = q.dog_tag`), for the
/// client to show a duplicate at.
fn key_fields(spec: &RegisterSpec) -> Vec<&'static str> {
    let Some(key) = spec.keys.first() else {
        return Vec::new();
    };
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    spec.fields
        .iter()
        .map(|f| f.name)
        .filter(|name| {
            [format!("q.{name}"), format!("q.\"{name}\"")]
                .iter()
                .any(|pat| {
                    key.match_indices(pat.as_str())
                        .any(|(i, _)| key.as_bytes().get(i + pat.len()).is_none_or(|&b| !ident(b)))
                })
        })
        .collect()
}

/// The register a reference points into (`dogs`), named in its error: the table its join or
/// its SQL reads (a case line's person is in `people`).
fn referenced(r: &Reference) -> &'static str {
    let table = r.join.map(|(t, _)| t).or_else(|| {
        let from = r.sql.find("FROM ")? + "FROM ".len();
        r.sql[from..].split_whitespace().next()
    });
    match table {
        Some("import_people") => "people",
        Some(t) => t,
        None => r.column,
    }
}

/// Loads `rows` into `import_q` (staged, references and village resolved, target ids matched).
async fn stage(
    conn: &mut PgConnection,
    spec: &RegisterSpec,
    rows: &[Staged],
    target: Target,
    scope: Option<&PlaceCode>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DROP TABLE IF EXISTS import_s, import_q")
        .execute(&mut *conn)
        .await?;
    let cols = staging_columns(spec);
    let defs: Vec<String> = cols.iter().map(|(n, t)| format!("\"{n}\" {t}")).collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE import_s ({}) ON COMMIT DROP",
        defs.join(", ")
    )))
    .execute(&mut *conn)
    .await?;
    let names: Vec<String> = cols.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let mut copy = conn
        .copy_in_raw(&format!("COPY import_s ({}) FROM STDIN", names.join(", ")))
        .await?;
    // In chunks, so that a million rows are never one string.
    for chunk in rows.chunks(20_000) {
        copy.send(copy_text(chunk).into_bytes()).await?;
    }
    copy.finish().await?;
    sqlx::query("ANALYZE import_s").execute(&mut *conn).await?;

    // References: a hash join on the key, a scalar subquery otherwise; both see only the
    // records of the writer's jurisdiction. A key shared by records of several jurisdictions
    // (before the county merged them) refers to the oldest ([`RegisterSpec::shared_key`]).
    let mut refs = String::new();
    let mut joins = String::new();
    let mut ref_order = String::new();
    for (i, r) in spec.refs.iter().enumerate() {
        match r.join {
            Some((table, key)) => {
                refs.push_str(&format!(", j{i}.id AS \"{}\"", r.column));
                // A deleted record is never referred to (a dose is not given to a deleted dog).
                let live = if super::spec::SPECS
                    .iter()
                    .any(|s| s.table == table && s.soft_delete)
                {
                    format!(" AND j{i}.deleted_at IS NULL")
                } else {
                    String::new()
                };
                joins.push_str(&format!(
                    " LEFT JOIN {} j{i} ON j{i}.{key} = s.\"{}\"{live}",
                    scoped(table, scope),
                    r.fields[0]
                ));
                ref_order.push_str(&format!(", q.\"{}\"", r.column));
            }
            None => refs.push_str(&format!(
                ", {} AS \"{}\"",
                scoped_ref_sql(r.sql, scope),
                r.column
            )),
        }
    }
    let village = match spec.village {
        Village::None => "NULL::integer".to_owned(),
        Village::Linked { fallback, .. } => match fallback {
            Some(fb) => format!("coalesce(r.link_village_id, {fb})"),
            None => "r.link_village_id".to_owned(),
        },
        Village::ViaCase => "(SELECT c.village_id FROM cases c WHERE c.id = r.case_id)".to_owned(),
    };
    let table = scoped(spec.table, scope);
    let (target_sql, target_join) = match target {
        Target::Id(id) => (format!("{id}::bigint"), String::new()),
        Target::Upsert | Target::CreateOnly if spec.unique_key && spec.keys.len() == 1 => (
            "t.id".to_owned(),
            format!(" LEFT JOIN {table} t ON {}", spec.keys[0]),
        ),
        Target::Upsert | Target::CreateOnly if !spec.keys.is_empty() => {
            let alts: Vec<String> = spec
                .keys
                .iter()
                .map(|k| format!("(SELECT t.id FROM {table} t WHERE {k} ORDER BY t.id LIMIT 1)"))
                .collect();
            (format!("coalesce({})", alts.join(", ")), String::new())
        }
        _ => ("NULL::bigint".to_owned(), String::new()),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE import_q ON COMMIT DROP AS
         SELECT DISTINCT ON (q.row_no) q.*, {target_sql} AS target_id
         FROM (SELECT r.*, {village} AS village_id
               FROM (SELECT s.*, lv.id AS link_village_id{refs}
                     FROM import_s s LEFT JOIN villages lv ON lv.code = s.link_village_code{joins}) r) q
         {target_join}
         ORDER BY q.row_no, target_id{ref_order}"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Checks what only the database knows: references, villages from references, the jurisdiction
/// of referenced and existing records, and two rows of one batch meaning one record.
async fn check(
    conn: &mut PgConnection,
    spec: &RegisterSpec,
    present: &Present,
    target: Target,
    scope: Option<&PlaceCode>,
) -> Result<Vec<RowError>, sqlx::Error> {
    let mut errors = Vec::new();
    for r in spec.refs {
        // The refusal names the first key the batch gives (a form's `case_id`, a sheet's NNDRS
        // id), the first declared when it gives none.
        let is_given = |f: &&str| {
            spec.fields
                .iter()
                .position(|x| x.name == *f)
                .is_some_and(|i| present.fields[i])
        };
        let given = r.fields.iter().any(is_given);
        if !given {
            continue;
        }
        let field = *r
            .fields
            .iter()
            .find(|f| is_given(f))
            .unwrap_or(&r.fields[0]);
        let rows: Vec<(i32, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT row_no, \"{}\"::text FROM import_q
             WHERE \"{}\" IS NULL AND ({}) ORDER BY row_no",
            staged_name(spec, field),
            r.column,
            r.fields
                .iter()
                .filter(|f| spec.field(f).is_some())
                .map(|f| format!("\"{}\" IS NOT NULL", staged_name(spec, f)))
                .collect::<Vec<_>>()
                .join(" OR ")
        )))
        .fetch_all(&mut *conn)
        .await?;
        for (row, value) in rows {
            let text = match &value {
                Some(v) => format!("no {} {v:?}", r.what),
                None => format!("no {} given", r.what),
            };
            let why = Reason::new(
                "reference_not_found",
                json!({ "what": referenced(r), "key": field, "value": value }),
                text,
            );
            errors.push(err(row as usize, Some(field), value, why));
        }
    }
    if let Village::Linked { required: true, .. } | Village::ViaCase = spec.village {
        let rows: Vec<(i32,)> = sqlx::query_as(
            "SELECT row_no FROM import_q WHERE village_id IS NULL AND target_id IS NULL ORDER BY row_no",
        )
        .fetch_all(&mut *conn)
        .await?;
        let already: std::collections::HashSet<usize> = errors.iter().map(|e| e.row).collect();
        for (row,) in rows {
            if !already.contains(&(row as usize)) {
                errors.push(err(
                    row as usize,
                    Some("village_code"),
                    None,
                    Reason::village_required(),
                ));
            }
        }
    }
    if !matches!(spec.village, Village::None)
        && let Some(scope) = scope
    {
        // The village a row would land in, as the row gave it (references and the record
        // changed were looked up inside the jurisdiction already).
        let rows: Vec<(i32, String)> = sqlx::query_as(
            "SELECT q.row_no, v.code::text FROM import_q q JOIN villages v ON v.id = q.village_id
             WHERE v.code NOT LIKE $1 || '%' ORDER BY 1",
        )
        .bind(scope.as_str())
        .fetch_all(&mut *conn)
        .await?;
        for (row, code) in rows {
            errors.push(err(
                row as usize,
                Some("village_code"),
                Some(code.clone()),
                Reason::outside_jurisdiction(&code, scope),
            ));
        }
    }
    if let Target::Id(id) = target {
        // Outside the jurisdiction reads exactly like unknown.
        let found: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT t.id FROM {} t WHERE t.id = $1",
            scoped(spec.table, scope)
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_none() {
            errors.push(err(
                1,
                None,
                None,
                Reason::new(
                    "record_not_found",
                    json!({ "register": spec.name, "id": id }),
                    format!("no record with id {id}"),
                ),
            ));
        }
    }
    if target == Target::CreateOnly {
        let rows: Vec<(i32, i64)> = sqlx::query_as(
            "SELECT row_no, target_id FROM import_q WHERE target_id IS NOT NULL ORDER BY row_no",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (row, id) in rows {
            errors.push(err(
                row as usize,
                None,
                Some(id.to_string()),
                Reason::new(
                    "duplicate",
                    json!({ "register": spec.name, "id": id, "fields": key_fields(spec) }),
                    format!(
                        "a record with the same natural key exists (id {id}); update it instead"
                    ),
                ),
            ));
        }
    }
    // Two rows of the batch meaning one record: the later ones are refused.
    let mut partitions = vec!["target_id".to_owned()];
    if let Some(k) = spec.keys.first() {
        partitions.push(key_exprs(k).join(", "));
    }
    for (i, by) in partitions.iter().enumerate() {
        let not_null = if i == 0 {
            "target_id IS NOT NULL".to_owned()
        } else {
            let k = spec.keys.first().map(|k| key_exprs(k)).unwrap_or_default();
            format!(
                "target_id IS NULL AND {}",
                k.iter()
                    .map(|e| format!("({e}) IS NOT NULL"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            )
        };
        let rows: Vec<(i32, i32)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT row_no, first FROM (
               SELECT row_no, first_value(row_no) OVER (PARTITION BY {by} ORDER BY row_no) AS first
               FROM import_q q WHERE {not_null}) x
             WHERE row_no <> first ORDER BY row_no"
        )))
        .fetch_all(&mut *conn)
        .await?;
        for (row, first) in rows {
            errors.push(err(
                row as usize,
                None,
                None,
                Reason::new(
                    "duplicate_in_file",
                    json!({ "row": first }),
                    format!("the same record as row {first} (same natural key)"),
                ),
            ));
        }
    }
    errors.sort_by_key(|e| e.row);
    Ok(errors)
}

/// Column ← expression pairs the batch writes.
fn assignments(spec: &RegisterSpec, present: &Present) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (f, &p) in spec.fields.iter().zip(&present.fields) {
        if let (Some(column), true) = (f.column, p) {
            let expr = match f.default {
                Some(d) => format!("coalesce(q.\"{}\", {d})", f.name),
                None => format!("q.\"{}\"", f.name),
            };
            out.push((column, expr));
        }
    }
    for r in spec.refs {
        let given = r
            .fields
            .iter()
            .filter_map(|f| spec.fields.iter().position(|x| x.name == *f))
            .any(|i| present.fields[i]);
        if given {
            out.push((r.column, format!("q.\"{}\"", r.column)));
        }
    }
    if let Village::Linked {
        column,
        link_columns,
        fallback,
        ..
    } = spec.village
    {
        let by_ref = fallback.is_some()
            && spec.refs.iter().any(|r| {
                spec.fields
                    .iter()
                    .position(|x| x.name == r.fields[0])
                    .is_some_and(|i| present.fields[i])
            });
        if present.link || by_ref {
            out.push((column, "q.village_id".to_owned()));
            if link_columns {
                // A village taken from a referenced record (the dog's) counts as linked by code.
                out.push((
                    "link_method",
                    "CASE WHEN q.village_id IS NULL THEN NULL ELSE coalesce(q.link_method, 'code') END".to_owned(),
                ));
                out.push(("link_distance_m", "q.link_distance_m".to_owned()));
            }
        }
    }
    if spec.point != Point::None && present.point {
        for c in ["geom", "h3_r7", "h3_r8", "h3_r9"] {
            out.push((c, format!("q.{c}")));
        }
    }
    out
}

/// How a batch is written.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub present: &'a Present,
    pub target: Target,
    /// The caller's jurisdiction (`None`: the whole database, the command line).
    pub scope: Option<&'a PlaceCode>,
    /// Written to `created_by` and the audit log.
    pub user: &'a str,
    /// The account, for the audit log (`None`: the command line).
    pub user_id: Option<i64>,
    /// Write the good rows when some are refused (`valid_rows`).
    pub keep_valid: bool,
    /// Return the ids written (one API record, revisits of a case import); a large import only
    /// counts.
    pub ids: bool,
}

/// Writes a batch of staged rows. Returns the rows refused (nothing written when any, unless
/// `keep_valid`, in which case the other rows are written) and what was written.
pub async fn write(
    conn: &mut PgConnection,
    spec: &RegisterSpec,
    rows: &[Staged],
    batch: &Batch<'_>,
) -> Result<(Vec<RowError>, Written), sqlx::Error> {
    let Batch {
        present,
        target,
        scope,
        user,
        user_id,
        keep_valid,
        ids: want_ids,
    } = *batch;
    let started = std::time::Instant::now();
    stage(conn, spec, rows, target, scope).await?;
    let staged_at = started.elapsed();
    let errors = check(conn, spec, present, target, scope).await?;
    let checked_at = started.elapsed();
    if !errors.is_empty() {
        if !keep_valid {
            return Ok((errors, Written::default()));
        }
        let bad: Vec<i32> = errors.iter().map(|e| e.row as i32).collect();
        sqlx::query("DELETE FROM import_q WHERE row_no = ANY($1)")
            .bind(&bad)
            .execute(&mut *conn)
            .await?;
    }
    let set = assignments(spec, present);
    let table = spec.table;
    let mut written = Written::default();
    if !set.is_empty() {
        let cols: Vec<String> = set.iter().map(|(c, _)| format!("\"{c}\"")).collect();
        let exprs: Vec<&str> = set.iter().map(|(_, e)| e.as_str()).collect();
        let (undelete, deleted_old, deleted_new) = if spec.soft_delete {
            (
                ", deleted_at = NULL",
                ", t.deleted_at IS NOT NULL",
                ", false",
            )
        } else {
            ("", "", "")
        };
        let assigns: Vec<String> = set.iter().map(|(c, e)| format!("\"{c}\" = {e}")).collect();
        let old: Vec<String> = set.iter().map(|(c, _)| format!("t.\"{c}\"")).collect();
        let any_existing: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM import_q WHERE target_id IS NOT NULL)",
        )
        .fetch_one(&mut *conn)
        .await?;
        // Every changed record is audited in the same statement: the changed fields, before
        // and after.
        let updated: Vec<(i32, i64)> = if any_existing {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "WITH old AS (
                   SELECT t.id, {json_t} AS j FROM {table} t JOIN import_q q ON t.id = q.target_id),
                 upd AS (
                   UPDATE {table} t SET {assigns}{undelete}
                   FROM import_q q
                   WHERE t.id = q.target_id
                     AND (ROW({old}{deleted_old}) IS DISTINCT FROM ROW({new}{deleted_new}))
                   RETURNING q.row_no, t.id, {json_t} AS j),
                 aud AS (
                   INSERT INTO audit_log (user_id, username, action, table_name, row_id, before, after)
                   SELECT $1, $2, 'update', '{table}', upd.id::text,
                     (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(old.j) e
                       WHERE upd.j -> e.key IS DISTINCT FROM e.value),
                     (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(upd.j) e
                       WHERE old.j -> e.key IS DISTINCT FROM e.value)
                   FROM upd JOIN old ON old.id = upd.id)
                 SELECT row_no, id FROM upd",
                json_t = audit_json(spec, "t"),
                assigns = assigns.join(", "),
                old = old.join(", "),
                new = exprs.join(", "),
            )))
            .bind(user_id)
            .bind(user)
            .fetch_all(&mut *conn)
            .await?
        } else {
            Vec::new()
        };
        written.updated = updated.len() as u64;
        written
            .ids
            .extend(updated.into_iter().map(|(r, id)| (r as usize, id)));
        if !matches!(target, Target::Id(_)) {
            // Records (the soft-deleted registers) say who made them; the yearly census does not.
            let (by_col, by_val) = if spec.soft_delete {
                (", created_by", ", $1")
            } else {
                ("", "")
            };
            let insert = format!(
                "INSERT INTO {table} ({cols}{by_col})
                 SELECT {exprs}{by_val} FROM import_q q WHERE q.target_id IS NULL ORDER BY q.row_no",
                cols = cols.join(", "),
                exprs = exprs.join(", "),
            );
            if !want_ids {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(insert));
                if spec.soft_delete {
                    query = query.bind(user);
                }
                written.inserted = query.execute(&mut *conn).await?.rows_affected();
                tracing::info!(
                    register = spec.name,
                    rows = rows.len(),
                    stage_ms = staged_at.as_millis() as u64,
                    check_ms = (checked_at - staged_at).as_millis() as u64,
                    write_ms = (started.elapsed() - checked_at).as_millis() as u64,
                    "batch written"
                );
                let valid: (i64,) = sqlx::query_as("SELECT count(*) FROM import_q")
                    .fetch_one(&mut *conn)
                    .await?;
                written.unchanged =
                    (valid.0 as u64).saturating_sub(written.inserted + written.updated);
                written.ids.sort_unstable();
                flag_duplicates(conn, spec, scope, user).await?;
                return Ok((errors, written));
            }
            // One record at a time (the API): each is audited with what it holds.
            let sql = format!(
                "WITH ins AS ({insert} RETURNING id, {json_t} AS j),
                 aud AS (
                   INSERT INTO audit_log (user_id, username, action, table_name, row_id, after)
                   SELECT {uid}, {uname}, 'create', '{table}', ins.id::text, ins.j FROM ins)
                 SELECT 0, id FROM ins",
                json_t = audit_json(spec, table),
                uid = if spec.soft_delete { "$2" } else { "$1" },
                uname = if spec.soft_delete { "$1" } else { "$2" },
            );
            let mut query = sqlx::query_as::<_, (i32, i64)>(sqlx::AssertSqlSafe(sql));
            if spec.soft_delete {
                query = query.bind(user).bind(user_id);
            } else {
                query = query.bind(user_id).bind(user);
            }
            let inserted: Vec<(i32, i64)> = query.fetch_all(&mut *conn).await?;
            written.inserted = inserted.len() as u64;
            // RETURNING keeps no row numbers; ids follow the insert's row order.
            let new_rows: Vec<(i32,)> = sqlx::query_as(
                "SELECT row_no FROM import_q WHERE target_id IS NULL ORDER BY row_no",
            )
            .fetch_all(&mut *conn)
            .await?;
            let mut ids: Vec<i64> = inserted.into_iter().map(|(_, id)| id).collect();
            ids.sort_unstable();
            written.new_ids.clone_from(&ids);
            written
                .ids
                .extend(new_rows.into_iter().map(|(r,)| r as usize).zip(ids));
        }
    }
    let valid: (i64,) = sqlx::query_as("SELECT count(*) FROM import_q")
        .fetch_one(&mut *conn)
        .await?;
    written.unchanged = (valid.0 as u64).saturating_sub(written.inserted + written.updated);
    written.ids.sort_unstable();
    flag_duplicates(conn, spec, scope, user).await?;
    Ok((errors, written))
}

/// Queues for the county's review every record the batch wrote whose shared key
/// ([`RegisterSpec::shared_key`]) an older live record also holds, inside the writer's
/// jurisdiction or not. The writer's answer is the same either way: nothing here is returned.
async fn flag_duplicates(
    conn: &mut PgConnection,
    spec: &RegisterSpec,
    scope: Option<&PlaceCode>,
    user: &str,
) -> Result<(), sqlx::Error> {
    let (Some((field, column)), Some(_)) = (spec.shared_key, scope) else {
        return Ok(());
    };
    let live = |alias: &str| {
        if spec.soft_delete {
            format!(" AND {alias}.deleted_at IS NULL")
        } else {
            String::new()
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO possible_duplicates (register, record_id, other_id, key_field, found_by)
         SELECT DISTINCT $1, n.id, o.id, $2, $3
         FROM import_q q
         JOIN {scoped} n ON n.{column} = q.\"{field}\"{live_n}
         JOIN {table} o ON o.{column} = n.{column} AND o.id < n.id{live_o}
         ON CONFLICT DO NOTHING",
        scoped = scoped(spec.table, scope),
        table = spec.table,
        live_n = live("n"),
        live_o = live("o"),
    )))
    .bind(spec.name)
    .bind(field)
    .bind(user)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_expressions_are_the_right_hand_sides() {
        assert_eq!(
            key_exprs("t.dog_id = q.dog_id AND t.dosed_on = q.dosed_on"),
            ["q.dog_id", "q.dosed_on"]
        );
        assert_eq!(
            key_exprs("t.point_id = q.point_id AND t.age_class = coalesce(q.age_class, 'unknown')"),
            ["q.point_id", "coalesce(q.age_class, 'unknown')"]
        );
    }

    #[test]
    fn copy_text_escapes_and_nulls() {
        let rows = [Staged {
            row: 2,
            values: vec![Some("a\tb\\c".into()), None],
            link: None,
            point: None,
        }];
        assert_eq!(
            copy_text(&rows),
            "2\ta\\tb\\\\c\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"
        );
    }
}
