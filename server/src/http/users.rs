//! `GET /api/users` and `POST /api/users`: account management for admins.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::session::Caller;
use crate::error::{AppError, AppResult};
use echinomap_programme::audit::Actor;
use echinomap_programme::auth::Role;
use echinomap_programme::auth::store::{self, NewUser};

pub async fn list(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let users = store::list(&state.pool).await?;
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
    let role = Role::parse(&body.role).ok_or_else(|| {
        AppError::invalid_field(
            "role",
            format!(
                "unknown role {:?}; one of {}",
                body.role,
                Role::ALL.map(Role::as_str).join(", ")
            ),
        )
    })?;
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
        &Actor::user(caller.user_id, &caller.username),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}
