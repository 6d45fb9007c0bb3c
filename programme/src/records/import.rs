//! The bulk import: a file (CSV, XLSX or GeoJSON) of one kind → a table of cells → staged rows
//! (parsed, linked, checked) → one transaction that writes them all, or nothing. Used by
//! `POST /api/imports`, by `echinomap import`, and (with one row) by the JSON API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use echinomap_domain::{IdNumber, PlaceCode};
use echinomap_geodata::gcj02::Crs;
use echinomap_geodata::import::headers::{self, Kind};
use echinomap_geodata::import::{self as files, Format, Limits, Table};
use echinomap_geodata::linker::Linker;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::parse::{self, Layout, Options, RowError, Staged};
use super::spec::{self, RegisterSpec};
use super::write::{self, Batch, Present, Target, Written};
use crate::audit::{self, Actor, Entry};
use crate::error::Error;

/// The most row errors a report lists (the error workbook has them all).
pub const MAX_REPORTED_ERRORS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Any error: nothing is written.
    Atomic,
    /// Good rows are written, bad rows reported.
    ValidRows,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "atomic" => Some(Self::Atomic),
            "valid_rows" => Some(Self::ValidRows),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Atomic => "atomic",
            Self::ValidRows => "valid_rows",
        }
    }
}

/// What to import, and how.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: Kind,
    pub format: Format,
    pub crs: Crs,
    pub mode: Mode,
    pub dry_run: bool,
    pub sheet: Option<String>,
    pub filename: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
/// The import's parameters as the API's query string and `echinomap import` give them.
pub struct Params {
    pub kind: String,
    pub format: Option<String>,
    pub crs: Option<String>,
    pub mode: Option<String>,
    pub dry_run: Option<bool>,
    pub sheet: Option<String>,
    pub filename: Option<String>,
}

impl Params {
    /// The parameters of `echinomap import`.
    pub fn new(
        kind: String,
        format: Option<String>,
        crs: Option<String>,
        mode: Option<String>,
        dry_run: bool,
        sheet: Option<String>,
        filename: Option<String>,
    ) -> Self {
        Self {
            kind,
            format,
            crs,
            mode,
            dry_run: Some(dry_run),
            sheet,
            filename,
        }
    }
}

impl Params {
    /// The import these parameters ask for; a parameter that is not acceptable is an
    /// [`Error::InvalidParam`] naming it.
    pub fn parse(&self) -> Result<Request, Error> {
        let p = self;
        let kind = Kind::parse(&p.kind).ok_or_else(|| {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            Error::invalid_param(
                "kind",
                format!("unknown kind {:?}; kinds are {}", p.kind, kinds.join(", ")),
            )
        })?;
        let format = match p.format.as_deref() {
            None => p
                .filename
                .as_deref()
                .and_then(|f| f.rsplit_once('.'))
                .and_then(|(_, ext)| Format::parse(ext))
                .unwrap_or(Format::Csv),
            Some(f) => Format::parse(f).ok_or_else(|| {
                Error::invalid_param(
                    "format",
                    format!("format is csv, xlsx or geojson, not {f:?}"),
                )
            })?,
        };
        let crs = match p.crs.as_deref() {
            None | Some("wgs84") => Crs::Wgs84,
            Some("gcj02") => Crs::Gcj02,
            Some(c) => {
                return Err(Error::invalid_param(
                    "crs",
                    format!("crs is wgs84 or gcj02, not {c:?}"),
                ));
            }
        };
        let mode = match p.mode.as_deref() {
            None => Mode::Atomic,
            Some(m) => Mode::parse(m).ok_or_else(|| {
                Error::invalid_param("mode", format!("mode is atomic or valid_rows, not {m:?}"))
            })?,
        };
        Ok(Request {
            kind,
            format,
            crs,
            mode,
            dry_run: p.dry_run.unwrap_or(false),
            sheet: p.sheet.clone(),
            filename: p.filename.clone(),
        })
    }
}

/// Who acts (an import, an API write, an audited read): the audit actor and the jurisdiction
/// the rows must fall in (`None`: the whole database, the command line).
#[derive(Debug, Clone)]
pub struct Who {
    pub actor: Actor,
    pub scope: Option<PlaceCode>,
}

impl Who {
    /// The jurisdiction as the code prefix SQL binds (`""` for the whole database).
    pub(crate) fn prefix(&self) -> &str {
        self.scope.as_ref().map_or("", PlaceCode::as_str)
    }

    /// A register of the whole county (stock items, vaccination campaigns: no village) is
    /// written only by accounts of the whole county (or the command line).
    pub fn may_write(&self, spec: &RegisterSpec) -> Result<(), crate::error::Error> {
        if matches!(spec.village, spec::Village::None)
            && !matches!(self.scope, None | Some(PlaceCode::County(_)))
        {
            return Err(crate::error::Error::forbidden_because(
                "county_register",
                format!(
                    "{}属于全县，只有县级账号可以修改 / {} belong to the whole county: only accounts of the county write them",
                    spec.name_zh, spec.name
                ),
            ));
        }
        Ok(())
    }
}

/// How far an import is, for `GET /api/imports/{id}` and the CLI's progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    /// 0 reading, 1 validating, 2 writing, 3 done.
    pub phase: AtomicU64,
    pub rows_total: AtomicU64,
    pub rows_checked: AtomicU64,
}

impl Progress {
    pub fn phase_name(&self) -> &'static str {
        match self.phase.load(Ordering::Relaxed) {
            0 => "reading",
            1 => "validating",
            2 => "writing",
            _ => "done",
        }
    }
}

/// The import report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: String,
    pub kind: &'static str,
    pub format: &'static str,
    pub mode: Mode,
    pub dry_run: bool,
    /// `succeeded`, `refused` (atomic with errors: nothing written) or `dry_run`.
    pub status: &'static str,
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// New cases of people already in the register (flagged `is_revisit`).
    pub revisits: u64,
    pub errors: Vec<RowError>,
    pub errors_truncated: bool,
}

/// A file the import cannot read at all.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FileError {
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

/// Why an import failed: the file, or the database.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn file_error(code: &'static str, message: impl Into<String>, details: Value) -> Failure {
    Failure::File(FileError {
        code,
        message: message.into(),
        details,
    })
}

/// A new import id: 16 hex digits.
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Reads the file into a table and maps its headers (blocking work: call on a blocking thread).
pub fn read(
    bytes: &[u8],
    req: &Request,
    limits: &Limits,
) -> Result<(Table, Vec<Option<&'static str>>), Failure> {
    let table =
        files::read_table(bytes, req.format, req.sheet.as_deref(), limits).map_err(|e| {
            let details = match &e {
                files::ImportError::UnbalancedQuote { row, column } => {
                    json!({"row": row, "column": column})
                }
                files::ImportError::ColumnCount { row, .. }
                | files::ImportError::Malformed { row, .. } => {
                    json!({"row": row})
                }
                files::ImportError::Encoding { line } => json!({"row": line}),
                _ => Value::Null,
            };
            let code = match &e {
                files::ImportError::NotFormat { .. } => "not_the_format",
                files::ImportError::TooLarge { .. } => "file_too_large",
                files::ImportError::Encoding { .. } => "wrong_encoding",
                files::ImportError::UnknownSheet { .. } => "unknown_sheet",
                files::ImportError::Empty => "empty_file",
                _ => "malformed_file",
            };
            file_error(code, e.to_string(), details)
        })?;
    let fields = headers::map_headers(req.kind, &table.headers).map_err(|e| {
        let details = match &e {
            headers::HeaderError::Missing { missing, .. } => json!({ "missing": missing }),
            headers::HeaderError::Duplicate {
                first,
                second,
                field,
                ..
            } => {
                json!({ "columns": [first, second], "field": field })
            }
        };
        file_error("bad_headers", e.to_string(), details)
    })?;
    Ok((table, fields))
}

/// Parses every row (in parallel), filling `errors` with the refused ones.
pub fn stage_rows(
    spec: &RegisterSpec,
    layout: &Layout,
    linker: &Linker,
    opts: Options<'_>,
    rows: &[files::Row],
    progress: &Progress,
    errors: &mut BTreeMap<usize, Vec<RowError>>,
) -> Vec<Staged> {
    use rayon::prelude::*;
    let results: Vec<Result<Staged, Vec<RowError>>> = rows
        .par_iter()
        .map(|r| {
            let res = parse::parse_row(spec, layout, linker, opts, r.number, &r.cells);
            progress.rows_checked.fetch_add(1, Ordering::Relaxed);
            res
        })
        .collect();
    let mut staged = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(s) => staged.push(s),
            Err(es) => {
                if let Some(first) = es.first() {
                    errors.entry(first.row).or_default().extend(es);
                }
            }
        }
    }
    staged
}

/// The person a line carries ([`spec::PersonLink`]): the person fields of the row, sex and birth
/// date read from the ID number when the line leaves them out.
fn person_of(spec: &RegisterSpec, people: &RegisterSpec, row: &Staged) -> Staged {
    let get = |name: &str| {
        spec.fields
            .iter()
            .position(|f| f.name == name)
            .and_then(|i| row.values[i].clone())
    };
    let id = get("id_number").and_then(|n| IdNumber::parse(&n).ok());
    let values = people
        .fields
        .iter()
        .map(|f| match (f.name, get(f.name), &id) {
            ("sex", None, Some(id)) => {
                Some(if id.is_male() { "male" } else { "female" }.to_owned())
            }
            ("birth_date", None, Some(id)) => id.birth_date().map(|d| d.to_string()),
            (_, v, _) => v,
        })
        .collect();
    Staged {
        row: row.row,
        values,
        link: row.link.clone(),
        point: None,
    }
}

pub fn present_of(layout: &Layout) -> Present {
    Present {
        fields: layout.field_col.iter().map(Option::is_some).collect(),
        link: layout.has_link(),
        point: layout.has_point(),
    }
}

/// Writes the persons the lines of `spec` carry into their register and fills `import_people`
/// (row number → person id), which the records' person reference reads; the rows whose person
/// is refused are dropped from `staged`. A batch that names no person gets an empty table.
async fn write_persons(
    tx: &mut sqlx::PgConnection,
    spec: &RegisterSpec,
    link: spec::PersonLink,
    staged: &mut Vec<Staged>,
    batch: &Batch<'_>,
    errors: &mut BTreeMap<usize, Vec<RowError>>,
) -> Result<(), sqlx::Error> {
    let present = batch.present;
    let named = spec
        .fields
        .iter()
        .zip(&present.fields)
        .any(|(f, p)| *p && f.name == link.named_by);
    if !named {
        sqlx::query("CREATE TEMP TABLE IF NOT EXISTS import_people (row_no integer, person_id bigint) ON COMMIT DROP")
            .execute(&mut *tx)
            .await?;
        return Ok(());
    }
    let people = spec::by_name(link.register).ok_or_else(|| {
        sqlx::Error::Protocol(format!(
            "{} names {} as its persons' register, which does not exist",
            spec.name, link.register
        ))
    })?;
    let persons: Vec<Staged> = staged.iter().map(|r| person_of(spec, people, r)).collect();
    let person_present = Present {
        fields: people
            .fields
            .iter()
            .map(|f| {
                matches!(f.name, "sex" | "birth_date")
                    || spec
                        .fields
                        .iter()
                        .position(|x| x.name == f.name)
                        .is_some_and(|i| present.fields[i])
            })
            .collect(),
        link: present.link,
        point: false,
    };
    let person_batch = Batch {
        present: &person_present,
        target: target_for_people(batch.target),
        ids: false,
        ..*batch
    };
    let (person_errors, _) = write::write(tx, people, &persons, &person_batch).await?;
    for e in person_errors {
        errors.entry(e.row).or_default().push(e);
    }
    let keys: Vec<String> = people
        .keys
        .iter()
        .map(|k| {
            format!(
                "(SELECT t.id FROM {} t WHERE {k} ORDER BY t.id LIMIT 1)",
                write::scoped(people.table, batch.scope)
            )
        })
        .collect();
    sqlx::query("DROP TABLE IF EXISTS import_people")
        .execute(&mut *tx)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE import_people ON COMMIT DROP AS
         SELECT q.row_no, coalesce({}) AS person_id FROM import_q q",
        keys.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    staged.retain(|r| !errors.contains_key(&r.row));
    Ok(())
}

/// Writes staged rows of `spec` in `tx` (the persons its lines carry first, [`write_persons`]).
/// Returns the written counts and the number of revisits ([`RegisterSpec::revisits`]).
pub async fn write_rows(
    tx: &mut sqlx::PgConnection,
    spec: &RegisterSpec,
    staged: Vec<Staged>,
    batch: &Batch<'_>,
    errors: &mut BTreeMap<usize, Vec<RowError>>,
) -> Result<(Written, u64), sqlx::Error> {
    let mut staged = staged;
    if let Some(link) = spec.person {
        write_persons(tx, spec, link, &mut staged, batch, errors).await?;
    }
    let (row_errors, written) = write::write(tx, spec, &staged, batch).await?;
    for e in row_errors {
        errors.entry(e.row).or_default().push(e);
    }
    let mut revisits = 0;
    if let Some(sql) = spec.revisits
        && !written.new_ids.is_empty()
    {
        revisits = sqlx::query(sql)
            .bind(&written.new_ids)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    Ok((written, revisits))
}

/// A record created by POST (or updated) may name a person already in the register.
fn target_for_people(target: Target) -> Target {
    match target {
        Target::CreateOnly | Target::Id(_) => Target::Upsert,
        Target::Upsert => Target::Upsert,
    }
}

/// A file as read: its table and the canonical field of each column.
#[derive(Debug, Clone, Copy)]
pub struct Sheet<'a> {
    pub table: &'a Arc<Table>,
    pub fields: &'a [Option<&'static str>],
}

/// Runs an import of an already-read table of one register (not villages: [`super::run_import`]
/// chooses). Commits unless refused or a dry run.
pub(super) async fn run_register(
    pool: &PgPool,
    linker: &Arc<Linker>,
    who: &Who,
    req: &Request,
    id: &str,
    sheet: Sheet<'_>,
    progress: &Arc<Progress>,
) -> Result<Report, Failure> {
    let Sheet { table, fields } = sheet;
    let started = chrono::Utc::now();
    let spec = spec::by_kind(req.kind).ok_or_else(|| {
        file_error(
            "unknown_kind",
            format!("no register for kind {}", req.kind),
            Value::Null,
        )
    })?;
    if let Err(e) = who.may_write(spec) {
        return Err(file_error("county_register", e.to_string(), Value::Null));
    }
    progress.phase.store(1, Ordering::Relaxed);
    progress
        .rows_total
        .store(table.rows.len() as u64, Ordering::Relaxed);
    let layout = Layout::new(spec, table.headers.clone(), fields);
    // Parsing and linking are CPU work: on the blocking pool, in parallel.
    let (staged, mut errors) = {
        let (table, layout, linker, progress) = (
            table.clone(),
            layout.clone(),
            linker.clone(),
            progress.clone(),
        );
        let (crs, scope) = (req.crs, who.scope.clone());
        tokio::task::spawn_blocking(move || {
            let opts = Options {
                crs,
                scope: scope.as_ref(),
                require_all: true,
                stored: None,
            };
            let mut errors: BTreeMap<usize, Vec<RowError>> = BTreeMap::new();
            let staged = stage_rows(
                spec,
                &layout,
                &linker,
                opts,
                &table.rows,
                &progress,
                &mut errors,
            );
            (staged, errors)
        })
        .await
        .map_err(|e| Failure::Database(sqlx::Error::Protocol(format!("the parser failed: {e}"))))?
    };
    let keep_valid = req.mode == Mode::ValidRows;
    progress.phase.store(2, Ordering::Relaxed);
    let mut tx = crate::db::begin_long(pool).await?;
    let present = present_of(&layout);
    let (written, revisits) = if errors.is_empty() || keep_valid {
        let batch = Batch {
            present: &present,
            target: Target::Upsert,
            scope: who.scope.as_ref(),
            user: &who.actor.username,
            user_id: who.actor.user_id,
            keep_valid,
            // Only a register that flags revisits needs the new ids; the rest only counts.
            ids: spec.revisits.is_some(),
        };
        write_rows(&mut tx, spec, staged, &batch, &mut errors).await?
    } else {
        (Written::default(), 0)
    };
    // Name the column as the file does.
    for es in errors.values_mut() {
        for e in es.iter_mut() {
            if let Some(i) = e
                .field
                .as_deref()
                .and_then(|f| fields.iter().position(|x| *x == Some(f)))
            {
                e.column = table.headers.get(i).cloned();
            }
        }
    }
    let counts = Counts {
        inserted: written.inserted,
        updated: written.updated,
        unchanged: written.unchanged,
        revisits,
    };
    let report = report(id, req, table.rows.len(), errors, counts);
    conclude(pool, tx, who, req, &report, started).await?;
    progress.phase.store(3, Ordering::Relaxed);
    Ok(report)
}

/// Whether an import is refused, nothing written: any row error in atomic mode. In
/// `valid_rows` mode the good rows are written and the bad ones reported, even when no row is
/// good. The one rule of every import kind (registers and villages).
pub fn refused(errors: &BTreeMap<usize, Vec<RowError>>, mode: Mode) -> bool {
    !errors.is_empty() && mode == Mode::Atomic
}

/// What an import's writes did, before [`refused`] decides whether they stay.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub revisits: u64,
}

/// The report of an import of `read` rows with these row errors (by row) and counts: the one
/// place that builds a [`Report`], for every import kind. A refused import ([`refused`]) reports
/// nothing written.
pub fn report(
    id: &str,
    req: &Request,
    read: usize,
    errors: BTreeMap<usize, Vec<RowError>>,
    counts: Counts,
) -> Report {
    let refused = refused(&errors, req.mode);
    let status = if refused {
        "refused"
    } else if req.dry_run {
        "dry_run"
    } else {
        "succeeded"
    };
    let all: Vec<RowError> = errors.into_values().flatten().collect();
    let rejected = all
        .iter()
        .map(|e| e.row)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    let counts = if refused { Counts::default() } else { counts };
    Report {
        id: id.to_owned(),
        kind: req.kind.as_str(),
        format: req.format.as_str(),
        mode: req.mode,
        dry_run: req.dry_run,
        status,
        read: read as u64,
        inserted: counts.inserted,
        updated: counts.updated,
        unchanged: counts.unchanged,
        rejected,
        revisits: counts.revisits,
        errors_truncated: all.len() > MAX_REPORTED_ERRORS,
        errors: all.into_iter().take(MAX_REPORTED_ERRORS).collect(),
    }
}

/// Ends an import: commits its writes with the history and audit rows, or (refused, or a dry
/// run) rolls them back and records the history and audit alone.
pub async fn conclude(
    pool: &PgPool,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    who: &Who,
    req: &Request,
    report: &Report,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    if report.status == "refused" || req.dry_run {
        tx.rollback().await?;
        let mut conn = pool.acquire().await?;
        finish(&mut conn, who, req, report, started).await
    } else {
        finish(&mut tx, who, req, report, started).await?;
        tx.commit().await
    }
}

/// Records the import in the history and the audit log (in the import's transaction when it
/// commits).
pub async fn finish(
    conn: &mut sqlx::PgConnection,
    who: &Who,
    req: &Request,
    report: &Report,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    let status = match report.status {
        "refused" => "refused",
        "dry_run" => "dry_run",
        _ => "succeeded",
    };
    let body = serde_json::to_value(report).unwrap_or(Value::Null);
    sqlx::query(
        "INSERT INTO imports (id, kind, format, filename, mode, dry_run, status, read, inserted,
            updated, unchanged, rejected, report, user_id, username, jurisdiction, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::import_status, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&report.id)
    .bind(report.kind)
    .bind(report.format)
    .bind(&req.filename)
    .bind(req.mode.as_str())
    .bind(req.dry_run)
    .bind(status)
    .bind(report.read as i32)
    .bind(report.inserted as i32)
    .bind(report.updated as i32)
    .bind(report.unchanged as i32)
    .bind(report.rejected as i32)
    .bind(&body)
    .bind(who.actor.user_id)
    .bind(&who.actor.username)
    .bind(who.prefix())
    .bind(started)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &who.actor,
        Entry {
            action: "import",
            table: Some(report.kind),
            row_id: Some(report.id.clone()),
            detail: Some(json!({
                "status": report.status, "read": report.read, "inserted": report.inserted,
                "updated": report.updated, "unchanged": report.unchanged, "rejected": report.rejected,
                "filename": req.filename,
            })),
            ..Entry::default()
        },
    )
    .await
}

/// An import as its history keeps it: the report, and the account that ran it.
pub async fn stored_report(
    pool: &PgPool,
    id: &str,
) -> Result<Option<(Value, Option<i64>)>, sqlx::Error> {
    sqlx::query_as("SELECT report, user_id FROM imports WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The latest 100 imports, newest first (the report's counts without its row errors): those
/// of `user_id`, or everyone's when `everyone`.
pub async fn history(
    pool: &PgPool,
    user_id: i64,
    everyone: bool,
) -> Result<Vec<Value>, sqlx::Error> {
    let rows: Vec<(Value,)> = sqlx::query_as(
        "SELECT jsonb_build_object('id', id, 'kind', kind, 'format', format, 'filename', filename,
            'mode', mode, 'dry_run', dry_run, 'status', status, 'read', read, 'inserted', inserted,
            'updated', updated, 'unchanged', unchanged, 'rejected', rejected, 'username', username,
            'finished_at', finished_at)
         FROM imports WHERE user_id = $1 OR $2 ORDER BY finished_at DESC LIMIT 100",
    )
    .bind(user_id)
    .bind(everyone)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}

/// The uploaded sheet again, with an error column: every row in atomic mode (fix and upload the
/// whole sheet again), only the refused rows in `valid_rows` mode (the others are in).
pub fn error_workbook(
    table: &Table,
    report: &Report,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let mut by_row: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for e in &report.errors {
        let what = match (&e.column, &e.value) {
            (Some(c), Some(v)) => format!("{c} = {v:?}: {}", e.reason),
            (Some(c), None) => format!("{c}: {}", e.reason),
            _ => e.reason.clone(),
        };
        by_row.entry(e.row).or_default().push(what);
    }
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name("errors")?;
    let bold = CellFormat::new().set_bold();
    let red = CellFormat::new().set_font_color(rust_xlsxwriter::Color::Red);
    // The sheet is what people uploaded: a formula-like cell keeps its text and gets the quote
    // prefix (`workbook`), so that opening the error workbook evaluates nothing.
    let plain = CellFormat::new();
    let err_col = table.headers.len() as u16;
    for (c, h) in table.headers.iter().enumerate() {
        crate::workbook::write_text(sheet, 0, c as u16, h, &bold)?;
    }
    sheet.write_string_with_format(0, err_col, "错误 / errors", &bold)?;
    let mut out_row = 1u32;
    for r in &table.rows {
        let errs = by_row.get(&r.number);
        if report.mode == Mode::ValidRows && errs.is_none() {
            continue;
        }
        for (c, v) in r.cells.iter().enumerate() {
            crate::workbook::write_text(sheet, out_row, c as u16, v, &plain)?;
        }
        if let Some(errs) = errs {
            crate::workbook::write_text(sheet, out_row, err_col, &errs.join("; "), &red)?;
        }
        out_row += 1;
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mode: Mode, dry_run: bool) -> Request {
        Request {
            kind: Kind::Villages,
            format: Format::Csv,
            crs: Crs::Wgs84,
            mode,
            dry_run,
            sheet: None,
            filename: None,
        }
    }

    fn row_error(row: usize) -> BTreeMap<usize, Vec<RowError>> {
        BTreeMap::from([(
            row,
            vec![RowError::new(
                row,
                None,
                None,
                None,
                parse::Reason::plain("required", "bad"),
            )],
        )])
    }

    const WROTE: Counts = Counts {
        inserted: 1,
        updated: 2,
        unchanged: 3,
        revisits: 1,
    };

    #[test]
    fn an_atomic_import_with_a_row_error_is_refused_and_reports_nothing_written() {
        let r = report("x", &request(Mode::Atomic, false), 7, row_error(3), WROTE);
        assert_eq!(r.status, "refused");
        assert_eq!(
            (r.inserted, r.updated, r.unchanged, r.revisits),
            (0, 0, 0, 0)
        );
        assert_eq!((r.read, r.rejected), (7, 1));
    }

    #[test]
    fn a_valid_rows_import_is_never_refused_even_when_no_row_is_good() {
        let r = report(
            "x",
            &request(Mode::ValidRows, false),
            1,
            row_error(2),
            Counts::default(),
        );
        assert_eq!(r.status, "succeeded");
        assert_eq!(r.rejected, 1);
        let r = report("x", &request(Mode::ValidRows, true), 7, row_error(2), WROTE);
        assert_eq!((r.status, r.updated), ("dry_run", 2));
    }

    #[test]
    fn an_import_without_errors_reports_what_it_wrote() {
        let r = report(
            "x",
            &request(Mode::Atomic, false),
            7,
            BTreeMap::new(),
            WROTE,
        );
        assert_eq!(r.status, "succeeded");
        assert_eq!(
            (r.inserted, r.updated, r.unchanged, r.revisits),
            (1, 2, 3, 1)
        );
        assert!(!refused(&BTreeMap::new(), Mode::Atomic));
    }
}
