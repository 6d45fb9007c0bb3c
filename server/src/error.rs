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
    Conflict { code: &'static str, message: String },
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
            Self::Conflict { code, message } => {
                (StatusCode::CONFLICT, code, message.clone(), Value::Null)
            }
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
            Self::Database(_) | Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; it has been logged".to_owned(),
                Value::Null,
            ),
        }
    }
}

/// The body of every error response.
pub fn error_body(code: &str, message: &str, details: Value) -> Value {
    json!({ "error": { "code": code, "message": message, "details": details } })
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message, details) = self.parts();
        if status.is_server_error() {
            // Logged once, here; the chain names what failed, never the row's personal fields.
            tracing::error!(error.code = code, error = ?anyhow::Error::from(self), "request failed");
        }
        (status, axum::Json(error_body(code, &message, details))).into_response()
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
            E::InvalidField { field, message } => Self::invalid_field(&field, message),
            E::Forbidden { message } => Self::forbidden(message),
            E::NotFound { code, message } => Self::NotFound { code, message },
            E::Conflict { code, message } => Self::Conflict { code, message },
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
