//! `POST /api/imports`: a file of one register kind, as the body or a multipart field `file`.
//! Small files are imported before the answer (200 with the report, or 422 with the report when
//! refused); files over [`BACKGROUND_BYTES`] run in the background: 202 with the job id, then
//! `GET /api/imports/{id}` shows progress and, when done, the report. The error workbook of a
//! recent import is at `GET /api/imports/{id}/errors.xlsx`; templates at
//! `GET /api/imports/templates/{kind}.xlsx|csv`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use echinomap_geodata::import::headers::Kind;
use echinomap_geodata::import::{Format, Limits};
use serde_json::{Value, json};

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::auth::Perm;
use echinomap_programme::records::import::{
    self, Failure, Progress, Report, Request as ImportRequest, Who,
};
use echinomap_programme::records::spec;

/// Files larger than this are imported in the background (202 and a job id).
pub const BACKGROUND_BYTES: usize = 4 * 1024 * 1024;
/// The largest upload (the import's own limit, plus room for a multipart envelope).
pub const MAX_UPLOAD_BYTES: usize = 200 * 1024 * 1024 + 64 * 1024;
/// Recent jobs kept in memory (progress, report, error workbook).
const KEPT_JOBS: usize = 32;

#[derive(Debug)]
struct Job {
    user_id: i64,
    progress: Arc<Progress>,
    outcome: Option<Result<Report, Value>>,
    errors_xlsx: Option<Vec<u8>>,
    order: u64,
}

/// The import jobs of this process.
#[derive(Debug, Default, Clone)]
pub struct Jobs {
    inner: Arc<Mutex<(u64, HashMap<String, Job>)>>,
}

impl Jobs {
    fn insert(&self, id: &str, user_id: i64, progress: Arc<Progress>) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.0 += 1;
        let order = g.0;
        g.1.insert(
            id.to_owned(),
            Job {
                user_id,
                progress,
                outcome: None,
                errors_xlsx: None,
                order,
            },
        );
        while g.1.len() > KEPT_JOBS {
            let oldest =
                g.1.iter()
                    .min_by_key(|(_, j)| j.order)
                    .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => g.1.remove(&k),
                None => break,
            };
        }
    }

    fn finish(&self, id: &str, outcome: Result<Report, Value>, xlsx: Option<Vec<u8>>) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(j) = g.1.get_mut(id) {
            j.outcome = Some(outcome);
            j.errors_xlsx = xlsx;
        }
    }

    /// Jobs started and not finished (for `/metrics`).
    pub fn running(&self) -> usize {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.1.values().filter(|j| j.outcome.is_none()).count()
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&Job) -> T) -> Option<T> {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.1.get(id).map(f)
    }
}

/// The permission a kind needs: villages are the administrator's, the rest their register's.
pub fn kind_perm(kind: Kind) -> Perm {
    spec::by_kind(kind).map_or(Perm::Admin, |s| s.perm)
}

fn failure_body(f: Failure) -> (StatusCode, Value) {
    match f {
        Failure::File(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::error::error_body(e.code, &e.message, e.details),
        ),
        // The import's one transaction rolled back. A cause the client can act on (a full disk,
        // a timeout, the database away) is named as for any request; any other is internal.
        Failure::Database(e) => match AppError::Database(e).status_and_body() {
            (StatusCode::INTERNAL_SERVER_ERROR, _) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::error::error_body(
                    "internal",
                    "internal error; it has been logged; nothing was written",
                    Value::Null,
                ),
            ),
            named => named,
        },
    }
}

fn report_response(report: &Report) -> Response {
    let body = serde_json::to_value(report).unwrap_or(Value::Null);
    if report.status == "refused" {
        let message = format!(
            "{rejected} 行有错误（共 {read} 行），未写入任何记录。请下载错误清单修改后重新上传，或选择只写入无误的行。 / {rejected} of {read} rows have errors; nothing was written. Fix them (GET /api/imports/{id}/errors.xlsx) and upload again, or import with mode=valid_rows",
            rejected = report.rejected,
            read = report.read,
            id = report.id
        );
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(crate::error::error_body("import_refused", &message, body)),
        )
            .into_response()
    } else {
        (StatusCode::OK, Json(body)).into_response()
    }
}

/// The file: the body, or the `file` field of a multipart form.
async fn upload(req: Request) -> AppResult<(Bytes, Option<String>)> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let too_large = |e: &dyn std::fmt::Display| {
        AppError::bad_request(
            "invalid_upload",
            format!("the upload could not be read: {e} (the limit is 200 MiB)"),
        )
    };
    if multipart {
        let mut form = axum::extract::Multipart::from_request(req, &())
            .await
            .map_err(|e| too_large(&e))?;
        while let Some(field) = form.next_field().await.map_err(|e| too_large(&e))? {
            if field.name() == Some("file") {
                let name = field.file_name().map(str::to_owned);
                let data = field.bytes().await.map_err(|e| too_large(&e))?;
                return Ok((data, name));
            }
        }
        Err(AppError::bad_request(
            "invalid_upload",
            "the form has no field named file",
        ))
    } else {
        let data = Bytes::from_request(req, &())
            .await
            .map_err(|e| too_large(&e))?;
        Ok((data, None))
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<import::Params>,
    req: Request,
) -> AppResult<Response> {
    let mut request = params.parse()?;
    caller.require(kind_perm(request.kind))?;
    let (bytes, name) = upload(req).await?;
    if request.filename.is_none() {
        request.filename = name;
        if params.format.is_none()
            && let Some(f) = request
                .filename
                .as_deref()
                .and_then(|f| f.rsplit_once('.'))
                .and_then(|(_, e)| Format::parse(e))
        {
            request.format = f;
        }
    }
    let who = caller.who();
    let limits = Limits::default();
    if bytes.len() as u64 > limits.max_bytes {
        return Err(AppError::Unprocessable {
            code: "file_too_large",
            message: format!(
                "the file is too large: {} bytes, the limit is {} (200 MiB); split it",
                bytes.len(),
                limits.max_bytes
            ),
            details: json!({ "bytes": bytes.len(), "limit": limits.max_bytes }),
        });
    }
    let id = import::new_id();
    let progress = Arc::new(Progress::default());
    state.imports.insert(&id, caller.user_id, progress.clone());
    let background = bytes.len() > BACKGROUND_BYTES;
    let task = {
        let state = state.clone();
        let id = id.clone();
        async move {
            let outcome = run_job(&state, &who, &request, &id, bytes, &progress).await;
            match outcome {
                Ok((report, xlsx)) => {
                    state.imports.finish(&id, Ok(report.clone()), xlsx);
                    Ok(report)
                }
                Err(f) => {
                    let (status, body) = failure_body(f);
                    state.imports.finish(&id, Err(body.clone()), None);
                    Err((status, body))
                }
            }
        }
    };
    if background {
        tokio::spawn(task);
        return Ok((
            StatusCode::ACCEPTED,
            Json(
                json!({ "id": id, "status": "running", "progress": format!("/api/imports/{id}") }),
            ),
        )
            .into_response());
    }
    match task.await {
        Ok(report) => Ok(report_response(&report)),
        Err((status, body)) => Ok((status, Json(body)).into_response()),
    }
}

async fn run_job(
    state: &AppState,
    who: &Who,
    request: &ImportRequest,
    id: &str,
    bytes: Bytes,
    progress: &Arc<Progress>,
) -> Result<(Report, Option<Vec<u8>>), Failure> {
    let req2 = request.clone();
    let (table, fields) =
        tokio::task::spawn_blocking(move || import::read(&bytes, &req2, &Limits::default()))
            .await
            .map_err(|e| Failure::Database(sqlx::Error::Protocol(e.to_string())))??;
    let linker = state
        .linker
        .get(&state.pool, &state.watch)
        .await
        .map_err(|e| Failure::Database(sqlx::Error::Protocol(e.to_string())))?;
    let table = Arc::new(table);
    let report = if request.kind == Kind::StockMovements {
        echinomap_programme::stock::import::run(
            &state.pool,
            &linker,
            who,
            request,
            id,
            import::Sheet {
                table: &table,
                fields: &fields,
            },
            progress,
        )
        .await
    } else {
        echinomap_programme::records::run_import(
            &state.pool,
            &linker,
            who,
            request,
            id,
            import::Sheet {
                table: &table,
                fields: &fields,
            },
            progress,
        )
        .await
    }?;
    let xlsx = if report.rejected > 0 {
        let (t, r) = (table.clone(), report.clone());
        tokio::task::spawn_blocking(move || import::error_workbook(&t, &r).ok())
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    Ok((report, xlsx))
}

pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    let live = state.imports.with(&id, |j| {
        (
            j.user_id,
            j.outcome.clone(),
            j.progress.phase_name(),
            j.progress.rows_total.load(Ordering::Relaxed),
            j.progress.rows_checked.load(Ordering::Relaxed),
        )
    });
    if let Some((owner, outcome, phase, total, checked)) = live {
        if owner != caller.user_id && !caller.can(Perm::Admin) {
            return Err(AppError::not_found(
                "import_not_found",
                format!("no import {id}"),
            ));
        }
        return Ok(match outcome {
            // The rows are all written but the import is still finishing (its history, its
            // commit): "done" only once its outcome is there.
            None => Json(json!({
                "id": id, "status": "running", "phase": if phase == "done" { "writing" } else { phase },
                "rows_total": total, "rows_checked": checked,
            }))
            .into_response(),
            Some(Ok(report)) => {
                let mut body = serde_json::to_value(&report).unwrap_or(Value::Null);
                body["phase"] = json!("done");
                Json(body).into_response()
            }
            Some(Err(err)) => (StatusCode::OK, Json(json!({ "id": id, "status": "failed", "phase": "done", "failure": err["error"] }))).into_response(),
        });
    }
    match import::stored_report(&state.pool, &id).await? {
        Some((report, owner)) if owner == Some(caller.user_id) || caller.can(Perm::Admin) => {
            Ok(Json(report).into_response())
        }
        _ => Err(AppError::not_found(
            "import_not_found",
            format!("no import {id}"),
        )),
    }
}

pub async fn errors_xlsx(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    let found = state
        .imports
        .with(&id, |j| (j.user_id, j.errors_xlsx.clone()));
    match found {
        Some((owner, Some(bytes))) if owner == caller.user_id || caller.can(Perm::Admin) => Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"import-{id}-errors.xlsx\""),
                ),
            ],
            bytes,
        )
            .into_response()),
        _ => Err(AppError::not_found(
            "import_not_found",
            format!(
                "no error workbook for import {id} (kept for the {KEPT_JOBS} most recent imports until the server restarts)"
            ),
        )),
    }
}

pub async fn history(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let items = import::history(&state.pool, caller.user_id, caller.can(Perm::Admin)).await?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/imports/templates/{kind}.xlsx` or `.csv`: the headers of a kind (Chinese, with the
/// canonical name in brackets, which the import maps back), required ones marked with `*`.
pub async fn template(ApiPath(file): ApiPath<String>) -> AppResult<Response> {
    let (name, ext) = file.rsplit_once('.').ok_or_else(|| {
        AppError::not_found(
            "template_not_found",
            format!("no template {file}; use KIND.xlsx or KIND.csv"),
        )
    })?;
    let kind = Kind::parse(name).ok_or_else(|| {
        AppError::not_found("template_not_found", format!("no import kind {name}"))
    })?;
    let headers = echinomap_programme::records::templates::headers(kind);
    match ext {
        "csv" => {
            let mut body = String::from("\u{feff}");
            body.push_str(
                &headers
                    .iter()
                    .map(|h| h.0.clone())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            body.push_str("\r\n");
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}.csv\""),
                    ),
                ],
                body,
            )
                .into_response())
        }
        "xlsx" => {
            let bytes = echinomap_programme::records::templates::workbook(kind)
                .map_err(|e| anyhow::anyhow!(e))?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                            .to_owned(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}.xlsx\""),
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        _ => Err(AppError::not_found(
            "template_not_found",
            format!("templates are .xlsx or .csv, not .{ext}"),
        )),
    }
}
