//! Account management for admins: `GET|POST /api/users`, `PATCH /api/users/{id}`,
//! `POST /api/users/{id}/password`, `GET|POST /api/users/{id}/tokens` and
//! `DELETE /api/tokens/{id}`. The rules (the last administrator, one's own account, the password
//! policy, the audit) are [`echinomap_programme::auth::store`]'s, which the command line shares.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::AppState;
use super::extract::ApiPath;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::audit::Actor;
use echinomap_programme::auth::Role;
use echinomap_programme::auth::store::{self, Changes, NewUser, Target};

/// Secrets shown once (a generated password, a new token) are never kept by a cache.
const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

fn actor(caller: &Caller) -> Actor {
    Actor::user(caller.user_id, &caller.username)
}

fn parse_role(role: &str) -> AppResult<Role> {
    Role::parse(role).ok_or_else(|| {
        AppError::invalid_field(
            "role",
            format!(
                "unknown role {role:?}; one of {}",
                Role::ALL.map(Role::as_str).join(", ")
            ),
        )
    })
}

pub async fn list(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let users = store::accounts(&state.pool).await?;
    Ok(Json(json!({ "items": users })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    username: String,
    role: String,
    jurisdiction: String,
    password: String,
    display_name: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(body) = body?;
    let role = parse_role(&body.role)?;
    let user = store::create(
        &state.pool,
        NewUser {
            username: body.username,
            display_name: body.display_name,
            role,
            jurisdiction: body.jurisdiction,
            password: body.password,
            demo: false,
        },
        state.password_policy,
        &actor(&caller),
    )
    .await?;
    let account = store::account(&state.pool, user.id).await?;
    Ok((StatusCode::CREATED, Json(json!(account))))
}

/// A field that may be sent as `null`: `Some(None)` then, `None` when it is left out.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    /// A string, or `null`/`""` to remove it.
    #[serde(default, deserialize_with = "nullable")]
    display_name: Option<Option<String>>,
    role: Option<String>,
    /// A county, township or village code that exists.
    jurisdiction: Option<String>,
    disabled: Option<bool>,
}

/// `PATCH /api/users/{id}`: any of display name, role, jurisdiction, disabled. Answers the
/// account as it now is. 409 `cannot_disable_self`, `last_admin`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<PatchBody>, JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let changes = Changes {
        display_name: body.display_name,
        role: body.role.as_deref().map(parse_role).transpose()?,
        jurisdiction: body.jurisdiction.map(|j| j.trim().to_owned()),
        disabled: body.disabled,
    };
    store::update(&state.pool, Target::Id(id), changes, &actor(&caller)).await?;
    Ok(Json(json!(store::account(&state.pool, id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// Left out: a strong password is generated and answered once.
    password: Option<String>,
}

/// `POST /api/users/{id}/password`: `{"password": "…"}` sets it (the policy applies: 422
/// `weak_password`), `{}` generates one and answers it once as `{"password": "…"}`. Either way
/// the account's sessions end and the user changes the password at the next login.
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> AppResult<([(header::HeaderName, &'static str); 1], Json<Value>)> {
    let Json(body) = body?;
    let generated = store::reset_password(
        &state.pool,
        id,
        body.password.as_deref(),
        state.password_policy,
        &actor(&caller),
    )
    .await?;
    let answer = match generated {
        Some(password) => json!({ "password": password, "must_change_password": true }),
        None => json!({ "ok": true, "must_change_password": true }),
    };
    Ok((NO_STORE, Json(answer)))
}

/// `GET /api/users/{id}/tokens`: the account's API tokens, newest first (never the token).
pub async fn tokens(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    let items = store::tokens(&state.pool, id).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What the token is for.
    name: String,
    /// Left out or null: no expiry.
    expires_in_days: Option<u32>,
}

/// `POST /api/users/{id}/tokens`: a new API token of the account; the token is in this answer
/// only (`token`), never again.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> AppResult<(
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    Json<Value>,
)> {
    let Json(body) = body?;
    let t = store::issue_token(
        &state.pool,
        Target::Id(id),
        &body.name,
        body.expires_in_days,
        &actor(&caller),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        NO_STORE,
        Json(json!({
            "id": t.id, "name": t.name, "prefix": t.prefix, "expires_at": t.expires_at,
            "token": t.secret,
        })),
    ))
}

/// `DELETE /api/tokens/{id}`: revokes an active token, refused from the next request on.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    store::revoke_token(&state.pool, id, &actor(&caller)).await?;
    Ok(Json(json!({ "ok": true, "id": id })))
}
