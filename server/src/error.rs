//! One error type for the whole HTTP layer and one JSON shape for every error:
//! `{"error": {"code": "...", "message": "...", "details": ...}}`.
//! Client faults are 4xx with a message that says what to change; internal failures are 500 with
//! a generic message and are logged once, here.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request itself is malformed (a parameter, a path segment, a body).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// 401: not logged in, or the credentials are wrong, expired or revoked.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: logged in, but the role or the jurisdiction does not allow it.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 409: the change conflicts with what is there (a duplicate key).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// 429: too many attempts; try again later.
    #[error("{message}")]
    TooMany { code: &'static str, message: String },
    /// 404: the thing named does not exist (or is outside what the caller may see).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 422: well-formed, but a field's value is not acceptable.
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// 503: the database is unreachable.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }

    /// A 422 naming the field and why its value is refused.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code: "invalid_field",
            message: message.into(),
            details: json!({ "field": field }),
        }
    }

    /// A 400 naming the offending parameter in `details.field`.
    pub fn invalid_param(field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "invalid_parameter",
            message: message.into(),
            details: json!({ "field": field }),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Value) {
        match self {
            Self::BadRequest {
                code,
                message,
                details,
            } => (
                StatusCode::BAD_REQUEST,
                code,
                message.clone(),
                details.clone(),
            ),
            Self::NotFound { code, message } => {
                (StatusCode::NOT_FOUND, code, message.clone(), Value::Null)
            }
            Self::Unauthorized { code, message } => {
                (StatusCode::UNAUTHORIZED, code, message.clone(), Value::Null)
            }
            Self::Forbidden { code, message } => {
                (StatusCode::FORBIDDEN, code, message.clone(), Value::Null)
            }
            Self::Conflict {
                code,
                message,
                details,
            } => (StatusCode::CONFLICT, code, message.clone(), details.clone()),
            Self::TooMany { code, message } => (
                StatusCode::TOO_MANY_REQUESTS,
                code,
                message.clone(),
                Value::Null,
            ),
            Self::Unprocessable {
                code,
                message,
                details,
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                message.clone(),
                details.clone(),
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is not reachable; try again shortly".to_owned(),
                Value::Null,
            ),
            Self::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is not reachable; try again shortly".to_owned(),
                Value::Null,
            ),
            Self::Database(sqlx::Error::Database(e)) if unstorable_text(e.as_ref()) => (
                StatusCode::BAD_REQUEST,
                "invalid_text",
                "a value contains a character that cannot be stored (a NUL byte)".to_owned(),
                Value::Null,
            ),
            Self::Database(e) if echinomap_programme::db::is_statement_timeout(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "query_timeout",
                "the query took longer than the time allowed for a request and was stopped; \
                 narrow it (a shorter period, a smaller area) or try again later"
                    .to_owned(),
                Value::Null,
            ),
            Self::Database(sqlx::Error::Database(e)) if e.code().as_deref() == Some(DISK_FULL) => (
                StatusCode::INSUFFICIENT_STORAGE,
                "disk_full",
                "the database's disk is full: nothing was saved; try again once space has been \
                 freed in its data directory"
                    .to_owned(),
                Value::Null,
            ),
            Self::Database(sqlx::Error::Database(e)) if short_of_resources(e.as_ref()) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "insufficient_resources",
                "the database is short of memory or connections: nothing was saved; try again \
                 shortly"
                    .to_owned(),
                Value::Null,
            ),
            Self::Database(_) | Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; it has been logged".to_owned(),
                Value::Null,
            ),
        }
    }
}

/// PostgreSQL refused a text the client sent: a NUL byte or invalid UTF-8 (22021), or `\u0000`
/// in JSON (22P05). The client's fault, whichever parameter or field carried it.
fn unstorable_text(e: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(e.code().as_deref(), Some("22021" | "22P05"))
}

/// SQLSTATE `disk_full`: PostgreSQL could not extend a file of its data directory. Its statement
/// failed and its transaction rolls back; when it is the WAL that cannot grow, PostgreSQL stops
/// instead (a PANIC) and the embedded cluster's keeper starts it again once there is room.
const DISK_FULL: &str = "53100";

/// SQLSTATE class 53 besides a full disk: out of memory, too many connections, a configured
/// limit. The server's condition, not the client's fault, and passing.
fn short_of_resources(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code().is_some_and(|c| c.starts_with("53"))
}

/// The body of every error response.
pub fn error_body(code: &str, message: &str, details: Value) -> Value {
    json!({ "error": { "code": code, "message": message, "details": details } })
}

impl AppError {
    /// The status and JSON body of this error, logged once if it is the server's (as a
    /// response is; a background job keeps the body for its report).
    pub fn status_and_body(self) -> (StatusCode, Value) {
        let (status, code, message, details) = self.parts();
        if status.is_server_error() {
            // Logged once, here; the chain names what failed, never the row's personal fields.
            tracing::error!(error.code = code, error = ?anyhow::Error::from(self), "request failed");
        }
        (status, error_body(code, &message, details))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        (status, axum::Json(body)).into_response()
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest {
            code: "invalid_query",
            message: r.body_text(),
            details: Value::Null,
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        Self::BadRequest {
            code: "invalid_path",
            message: r.body_text(),
            details: Value::Null,
        }
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        Self::BadRequest {
            code: "invalid_json",
            message: r.body_text(),
            details: Value::Null,
        }
    }
}

impl From<echinomap_programme::Error> for AppError {
    fn from(e: echinomap_programme::Error) -> Self {
        use echinomap_programme::Error as E;
        match e {
            E::InvalidParam { field, message } => Self::invalid_param(&field, message),
            E::InvalidField {
                field,
                code,
                message,
                params,
            } => {
                // `details` is the field and the code's parameters, side by side.
                let mut details = match params {
                    Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                };
                details.insert("field".to_owned(), Value::String(field));
                Self::Unprocessable {
                    code,
                    message,
                    details: Value::Object(details),
                }
            }
            E::Forbidden { code, message } => Self::Forbidden { code, message },
            E::NotFound { code, message } => Self::NotFound { code, message },
            E::Conflict { code, message } => Self::Conflict {
                code,
                message,
                details: Value::Null,
            },
            E::ConflictWith {
                code,
                message,
                details,
            } => Self::Conflict {
                code,
                message,
                details,
            },
            E::InvalidRequest { code, message } => Self::bad_request(code, message),
            E::InvalidRecord { message, details } => Self::Unprocessable {
                code: "invalid_record",
                message,
                details,
            },
            e @ E::InvalidLogin => Self::unauthorized("invalid_login", e.to_string()),
            e @ E::PasswordExpired { .. } => Self::Forbidden {
                code: "password_expired",
                message: e.to_string(),
            },
            e @ E::Locked { .. } => Self::TooMany {
                code: "locked",
                message: e.to_string(),
            },
            E::Database(e) => Self::Database(e),
            E::Internal(e) => Self::Internal(e),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
