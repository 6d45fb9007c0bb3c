//! Logging in and out, the session cookie and API tokens on each request, and the guard that
//! every route passes through (authentication, CSRF, permission).

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use echinomap_domain::PlaceCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::http::AppState;
use echinomap_programme::audit::{self, Actor, Entry};
use echinomap_programme::auth::password;
use echinomap_programme::auth::{AuthVia, Perm, Role, Scope, store, token};

pub const SESSION_COOKIE: &str = "echinomap_session";
const SESSION_HOURS: i64 = 12;
pub const LOCKOUT_FAILURES: i64 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a route needs: nothing, a login, or a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Access {
    Public,
    LoggedIn,
    Needs(Perm),
}

/// The outcome of looking at a request's credentials.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    Caller(echinomap_programme::auth::Caller),
    Invalid(&'static str),
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct CallerRow {
    user_id: i64,
    username: String,
    role: Role,
    jurisdiction: String,
    csrf_token: Option<String>,
    token_id: Option<i64>,
    /// `last_used_at`/`last_seen_at` is older than a minute: refresh it off the request path.
    stale: bool,
    /// When the session ends (tokens: never).
    expires_at: Option<DateTime<Utc>>,
}

/// How often `last_used_at`/`last_seen_at` is written for one credential.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Credentials already resolved, by the digest of the secret, for the account generation they
/// were read at ([`echinomap_programme::watch::Watch::auth_generation`]): any change to users, sessions or
/// tokens moves the generation and empties the cache in effect, so a revoked token or a
/// disabled user is refused at once. Bounded: emptied when it reaches [`CallerCache::MAX`].
#[derive(Debug, Clone, Default)]
pub struct CallerCache {
    inner: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<Vec<u8>, CachedCaller>>>,
}

#[derive(Debug, Clone)]
struct CachedCaller {
    row: CallerRow,
    generation: u64,
    /// When `last_used_at`/`last_seen_at` was last written (or found fresh).
    touched: std::time::Instant,
}

impl CallerCache {
    const MAX: usize = 10_000;

    /// The cached row if it is of `generation` and not expired; `stale` is set when the
    /// credential's last-use time is due for a write (and the due time moves on).
    fn get(&self, digest: &[u8], generation: u64) -> Option<CallerRow> {
        let mut map = self.inner.lock().ok()?;
        let hit = map.get_mut(digest)?;
        if hit.generation != generation || hit.row.expires_at.is_some_and(|e| e <= Utc::now()) {
            map.remove(digest);
            return None;
        }
        let mut row = hit.row.clone();
        row.stale = hit.touched.elapsed() >= TOUCH_EVERY;
        if row.stale {
            hit.touched = std::time::Instant::now();
        }
        Some(row)
    }

    fn put(&self, digest: Vec<u8>, row: &CallerRow, generation: u64) {
        if let Ok(mut map) = self.inner.lock() {
            if map.len() >= Self::MAX {
                map.clear();
            }
            map.insert(
                digest,
                CachedCaller {
                    row: row.clone(),
                    generation,
                    touched: std::time::Instant::now(),
                },
            );
        }
    }
}

/// A credential's row: from the cache when the account generation allows, else from the
/// database with `sql` (bound to the digest), then cached.
async fn lookup(
    state: &AppState,
    sql: &'static str,
    digest: &[u8],
) -> AppResult<Option<CallerRow>> {
    let generation = if state.watch.sync().await {
        state.watch.auth_generation()
    } else {
        None
    };
    if let Some(g) = generation
        && let Some(row) = state.callers.get(digest, g)
    {
        return Ok(Some(row));
    }
    let row: Option<CallerRow> = sqlx::query_as(sql)
        .bind(digest)
        .fetch_optional(&state.pool)
        .await?;
    if let (Some(g), Some(r)) = (generation, row.as_ref()) {
        state.callers.put(digest.to_vec(), r, g);
    }
    Ok(row)
}

impl CallerRow {
    fn into_caller(self) -> Option<echinomap_programme::auth::Caller> {
        let via = match (self.csrf_token, self.token_id) {
            (Some(csrf_token), _) => AuthVia::Session { csrf_token },
            (None, Some(token_id)) => AuthVia::Token { token_id },
            (None, None) => return None,
        };
        Some(echinomap_programme::auth::Caller {
            user_id: self.user_id,
            username: self.username,
            role: self.role,
            scope: Scope::new(PlaceCode::parse(&self.jurisdiction).ok()?),
            via,
        })
    }
}

/// Middleware: resolves the caller (if any) once per request and stores it for the guard and
/// the handlers. Never rejects by itself; the guard decides.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Already resolved in front of the router (the tiles' fast path).
    if req.extensions().get::<Auth>().is_some() {
        return next.run(req).await;
    }
    let auth = match resolve(&state, req.headers()).await {
        Ok(auth) => auth,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// The caller of a request, from its token or session cookie (through the fence and the
/// caller cache).
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> AppResult<Auth> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Some(secret) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return Ok(Auth::Invalid(
                "the Authorization header must be `Bearer <token>`",
            ));
        };
        // Revocation takes effect at once: the cache holds rows only for the current account
        // generation. `last_used_at` is written at most once a minute, off the request path, so
        // that a token does not cost a write per tile.
        let digest = token::digest(secret.trim());
        let row = lookup(
            state,
            "SELECT u.id AS user_id, u.username, u.role, u.jurisdiction, NULL::text AS csrf_token, t.id AS token_id,
                    (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale,
                    NULL::timestamptz AS expires_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
            &digest,
        )
        .await?;
        if let Some(id) = row.as_ref().filter(|r| r.stale).and_then(|r| r.token_id) {
            let pool = state.pool.clone();
            tokio::spawn(async move {
                let _ = sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await;
            });
        }
        return Ok(row.and_then(CallerRow::into_caller).map_or(
            Auth::Invalid("the API token is unknown or revoked"),
            Auth::Caller,
        ));
    }
    let jar = CookieJar::from_headers(headers);
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        let digest = token::digest(cookie.value());
        let row = lookup(
            state,
            "SELECT u.id AS user_id, u.username, u.role, u.jurisdiction, s.csrf_token, NULL::bigint AS token_id,
                    s.last_seen_at < now() - interval '1 minute' AS stale, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
            &digest,
        )
        .await?;
        if row.as_ref().is_some_and(|r| r.stale) {
            let pool = state.pool.clone();
            tokio::spawn(async move {
                let _ =
                    sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1")
                        .bind(digest)
                        .execute(&pool)
                        .await;
            });
        }
        return Ok(row.and_then(CallerRow::into_caller).map_or(
            Auth::Invalid("the session has expired or is not valid; log in again"),
            Auth::Caller,
        ));
    }
    Ok(Auth::Anonymous)
}

/// The guard of one route: login, CSRF for cookie writes, permission.
pub async fn guard(access: Access, req: Request, next: Next) -> Response {
    match check(access, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check(access: Access, req: &Request) -> AppResult<()> {
    let auth = req
        .extensions()
        .get::<Auth>()
        .cloned()
        .unwrap_or(Auth::Anonymous);
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if access == Access::Public {
        // Login forms are CSRF targets too: a cross-site POST is refused.
        if unsafe_method && cross_origin(req.headers()) {
            return Err(AppError::forbidden("cross-origin request refused"));
        }
        return Ok(());
    }
    let caller = match auth {
        Auth::Caller(c) => c,
        Auth::Anonymous => return Err(AppError::unauthorized("login_required", "log in first")),
        Auth::Invalid(why) => return Err(AppError::unauthorized("invalid_credentials", why)),
    };
    if unsafe_method && let AuthVia::Session { csrf_token } = &caller.via {
        let token_ok = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == csrf_token);
        if !token_ok && !same_origin(req.headers()) {
            return Err(AppError::Forbidden {
                code: "csrf",
                message: format!(
                    "a write with a session cookie needs a same-origin Origin header or the {CSRF_HEADER} header"
                ),
            });
        }
    }
    if let Access::Needs(perm) = access {
        caller.require(perm)?;
    }
    Ok(())
}

fn origin_host(headers: &HeaderMap) -> Option<String> {
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))?
        .to_str()
        .ok()?;
    let rest = origin.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest).to_owned())
}

fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((origin_host(headers), host), (Some(o), Some(h)) if o == h)
}

/// An Origin/Referer that names another host; no header at all is not cross-origin (curl).
fn cross_origin(headers: &HeaderMap) -> bool {
    origin_host(headers).is_some() && !same_origin(headers)
}

/// The authenticated caller, as a handler argument: the programme's
/// [`echinomap_programme::auth::Caller`] that the guard resolved, behind `Deref`. Anonymous or
/// invalid credentials are a 401.
#[derive(Debug, Clone)]
pub struct Caller(pub echinomap_programme::auth::Caller);

impl std::ops::Deref for Caller {
    type Target = echinomap_programme::auth::Caller;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Auth>() {
            Some(Auth::Caller(c)) => Ok(Self(c.clone())),
            Some(Auth::Invalid(why)) => Err(AppError::unauthorized("invalid_credentials", *why)),
            _ => Err(AppError::unauthorized("login_required", "log in first")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

fn is_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `Some(until)` when the name is locked: 5 failed logins within 15 minutes since its last
/// success (or password change), locked until 15 minutes after the latest failure.
async fn locked_until(
    state: &AppState,
    username: &str,
    user_id: Option<i64>,
) -> AppResult<Option<DateTime<Utc>>> {
    let failures: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT at FROM audit_log
         WHERE username = $1 AND action = 'login_failed'
           AND at > now() - make_interval(mins => $3)
           AND at > coalesce((SELECT max(at) FROM audit_log WHERE username = $1 AND action = 'login'), '-infinity')
           AND at > coalesce((SELECT max(at) FROM audit_log
                              WHERE action = 'password_change' AND table_name = 'users' AND row_id = $2::text), '-infinity')
         ORDER BY at DESC
         LIMIT $4",
    )
    .bind(username)
    .bind(user_id.map(|id| id.to_string()))
    .bind(LOCKOUT_MINUTES as i32)
    .bind(LOCKOUT_FAILURES)
    .fetch_all(&state.pool)
    .await?;
    if failures.len() as i64 >= LOCKOUT_FAILURES {
        let until = failures[0] + chrono::Duration::minutes(LOCKOUT_MINUTES);
        if until > Utc::now() {
            return Ok(Some(until));
        }
    }
    Ok(None)
}

fn lockout_error() -> AppError {
    AppError::TooMany {
        code: "locked",
        message: format!(
            "too many failed logins: this account is locked for {LOCKOUT_MINUTES} minutes"
        ),
    }
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<(CookieJar, Json<Value>)> {
    let Json(body) = body?;
    let user = check_password(&state, &body.username, &body.password, "login").await?;
    if let Some(days) = state.password_policy.max_age_days()
        && user.password_changed_at < Utc::now() - chrono::Duration::days(days)
    {
        return Err(AppError::Forbidden {
            code: "password_expired",
            message: format!(
                "the password is older than {days} days: change it with POST /api/auth/password"
            ),
        });
    }
    let secret = token::random_secret();
    let csrf = token::random_secret();
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(hours => $4))",
    )
    .bind(token::digest(&secret))
    .bind(user.id)
    .bind(&csrf)
    .bind(SESSION_HOURS as i32)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &Actor::user(user.id, &user.username),
        Entry {
            action: "login",
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(is_tls(&headers))
        .max_age(time_duration_hours(SESSION_HOURS))
        .build();
    Ok((
        jar.add(cookie),
        Json(
            json!({ "user": me_json(&user.username, user.role, &user.jurisdiction, user.display_name.as_deref()), "csrf_token": csrf }),
        ),
    ))
}

fn time_duration_hours(hours: i64) -> time::Duration {
    time::Duration::hours(hours)
}

fn me_json(username: &str, role: Role, jurisdiction: &str, display_name: Option<&str>) -> Value {
    json!({
        "username": username,
        "display_name": display_name,
        "role": role,
        "jurisdiction": jurisdiction,
        "permissions": role.permissions(),
    })
}

pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    jar: CookieJar,
) -> AppResult<(CookieJar, Json<Value>)> {
    let mut tx = state.pool.begin().await?;
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token::digest(cookie.value()))
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        &Actor::user(caller.user_id, &caller.username),
        Entry {
            action: "logout",
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    let removal = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    Ok((jar.remove(removal), Json(json!({ "ok": true }))))
}

/// `GET /api/auth/session`: who is logged in, without an error for nobody (a page asks this on
/// load; a 401 there would be logged by the browser as a failed request).
pub async fn session(
    state: State<AppState>,
    parts: axum::http::request::Parts,
) -> AppResult<Json<Value>> {
    match parts.extensions.get::<Auth>() {
        Some(Auth::Caller(c)) => {
            let me = me(state, Caller(c.clone())).await?;
            Ok(Json(json!({ "authenticated": true, "user": me.0 })))
        }
        _ => Ok(Json(json!({ "authenticated": false, "user": null }))),
    }
}

pub async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let (name, display): (String, Option<String>) = sqlx::query_as(
        "SELECT t.name, u.display_name FROM users u
         LEFT JOIN LATERAL (
            SELECT name FROM counties WHERE code = u.jurisdiction
            UNION ALL SELECT name FROM townships WHERE code = u.jurisdiction
            UNION ALL SELECT name FROM villages WHERE code = u.jurisdiction
         ) t ON true
         WHERE u.id = $1",
    )
    .bind(caller.user_id)
    .fetch_one(&state.pool)
    .await?;
    let mut body = me_json(
        &caller.username,
        caller.role,
        caller.scope.prefix(),
        display.as_deref(),
    );
    body["jurisdiction_name"] = json!(name);
    body["csrf_token"] = match &caller.via {
        AuthVia::Session { csrf_token } => json!(csrf_token),
        AuthVia::Token { .. } => Value::Null,
    };
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    username: String,
    old_password: String,
    new_password: String,
}

/// Changes one's own password with the old one (also when it has expired).
pub async fn change_password(
    State(state): State<AppState>,
    body: Result<Json<PasswordBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body?;
    let u = check_password(
        &state,
        &body.username,
        &body.old_password,
        "password_change",
    )
    .await?;
    if body.new_password == body.old_password {
        return Err(AppError::invalid_field(
            "new_password",
            "the new password must differ from the old one",
        ));
    }
    store::set_password(
        &state.pool,
        &u.username,
        &body.new_password,
        state.password_policy,
        &Actor::user(u.id, &u.username),
    )
    .await
    .map_err(|e| match e {
        echinomap_programme::Error::InvalidField { message, .. } => {
            AppError::invalid_field("new_password", message)
        }
        other => AppError::from(other),
    })?;
    Ok(Json(json!({ "ok": true })))
}

/// The account named `username` if `password` is its password and it is enabled and not
/// locked. Every failure is audited as `login_failed` (by the name typed) and answered the same
/// way whether the user exists or not: a locked name gets 429, anything else 401.
async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
    during: &str,
) -> AppResult<store::User> {
    let username = username.trim().to_owned();
    let mut conn = state.pool.acquire().await?;
    let user = store::find(&mut conn, &username).await?;
    drop(conn);
    let user_id = user.as_ref().map(|u| u.id);
    let actor = Actor {
        user_id,
        username: username.clone(),
    };
    let fail = |reason: &'static str| Entry {
        action: "login_failed",
        detail: Some(json!({ "reason": reason, "during": during })),
        ..Entry::default()
    };
    if locked_until(state, &username, user_id).await?.is_some() {
        let mut tx = state.pool.begin().await?;
        audit::record(&mut tx, &actor, fail("locked")).await?;
        tx.commit().await?;
        return Err(lockout_error());
    }
    // Verify against a dummy hash when there is no such user: the same work either way.
    let hash = user
        .as_ref()
        .map_or(password::dummy_hash(), |u| u.password_hash.as_str())
        .to_owned();
    let candidate = password.to_owned();
    let verified = tokio::task::spawn_blocking(move || password::verify(&candidate, &hash))
        .await
        .map_err(anyhow::Error::from)?;
    match user {
        Some(u) if verified && !u.disabled => Ok(u),
        _ => {
            let mut tx = state.pool.begin().await?;
            audit::record(&mut tx, &actor, fail("credentials")).await?;
            tx.commit().await?;
            // The same answer for an unknown name, a wrong password and a disabled account.
            Err(AppError::unauthorized(
                "invalid_login",
                "wrong username or password",
            ))
        }
    }
}

/// Expired sessions are removed now and then; they are refused anyway.
pub async fn purge_expired_sessions(pool: sqlx::PgPool) {
    loop {
        let _ = sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
            .execute(&pool)
            .await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
