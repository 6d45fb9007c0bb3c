//! The programme's error: what failed and on which input, in words a user can act on. The HTTP
//! layer maps each variant to a status and the one JSON error shape (`server::error::AppError`);
//! the command line prints the message.

/// A refusal or a failure of a programme operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter of the request is not acceptable (HTTP 400 `invalid_parameter`).
    #[error("{message}")]
    InvalidParam { field: String, message: String },
    /// A field's value is refused (HTTP 422 with `code`, `invalid_field` unless a reason code
    /// says more; `details` is `{"field", ...params}`).
    #[error("{message}")]
    InvalidField {
        field: String,
        code: &'static str,
        message: String,
        /// The code's parameters (a JSON object, or null).
        params: serde_json::Value,
    },
    /// The role or the jurisdiction does not allow it (HTTP 403 with `code`, `forbidden` unless
    /// a code says why, like `county_register`).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The thing named does not exist, or lies outside what the caller may see (HTTP 404).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The change conflicts with what is there (HTTP 409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The same as [`Error::Conflict`], with parameters for the client in `details` (a record
    /// whose natural key exists: `{"field", "register", "id"}`).
    #[error("{message}")]
    ConflictWith {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    /// The request is malformed as a whole, not in one parameter (HTTP 400 with `code`): a body
    /// that is not a JSON object, an idempotency key of the wrong length.
    #[error("{message}")]
    InvalidRequest { code: &'static str, message: String },
    /// A record refused as a whole (HTTP 422 `invalid_record`); `details` names the field and
    /// the parser's row errors, or the constraint the database enforced.
    #[error("{message}")]
    InvalidRecord {
        message: String,
        details: serde_json::Value,
    },
    /// An unknown name, a wrong password or a disabled account, answered alike (HTTP 401
    /// `invalid_login`).
    #[error("wrong username or password")]
    InvalidLogin,
    /// The password is older than the policy allows (HTTP 403 `password_expired`).
    #[error(
        "the password is older than {max_age_days} days: change it with POST /api/auth/password"
    )]
    PasswordExpired { max_age_days: i64 },
    /// Too many login attempts (HTTP 429): of one name from one address (`code` `locked`), or
    /// from one address (`too_many_attempts`); try again after `retry_after_secs`.
    #[error("{message}")]
    Locked {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid_param(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidParam {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.to_owned(),
            code: "invalid_field",
            message: message.into(),
            params: serde_json::Value::Null,
        }
    }

    /// A field refused with a reason code and its parameters, for the client to word.
    pub fn field_refused(
        field: &str,
        code: &'static str,
        params: serde_json::Value,
        message: impl Into<String>,
    ) -> Self {
        Self::InvalidField {
            field: field.to_owned(),
            code,
            message: message.into(),
            params,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }

    /// A refusal whose `code` says why (`county_register`).
    pub fn forbidden_because(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
