//! Sessions and the credentials of a request, in the database: logging in (password, lockout,
//! expiry) and out, changing one's password, and resolving a session secret or an API token to
//! its [`Caller`] through a cache that is exact for the account generation it was read at.
//! Cookies, headers and the CSRF check are the HTTP layer's (`server::http::session`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use echinomap_domain::PlaceCode;
use serde_json::json;
use sqlx::PgPool;

use super::password::{self, PasswordPolicy};
use super::store::{self, User};
use super::{AuthVia, Caller, Role, Scope, token};
use crate::audit::{self, Actor, Entry};
use crate::error::Error;
use crate::watch::Watch;

/// How long a session lasts, in hours.
pub const SESSION_HOURS: i64 = 12;
/// Failed logins within [`LOCKOUT_MINUTES`] that lock a name.
pub const LOCKOUT_FAILURES: i64 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;

/// How often `last_used_at`/`last_seen_at` is written for one credential.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

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

impl CallerRow {
    fn into_caller(self) -> Option<Caller> {
        let via = match (self.csrf_token, self.token_id) {
            (Some(csrf_token), _) => AuthVia::Session { csrf_token },
            (None, Some(token_id)) => AuthVia::Token { token_id },
            (None, None) => return None,
        };
        Some(Caller {
            user_id: self.user_id,
            username: self.username,
            role: self.role,
            scope: Scope::new(PlaceCode::parse(&self.jurisdiction).ok()?),
            via,
        })
    }
}

/// Credentials already resolved, by the digest of the secret, for the account generation they
/// were read at ([`Watch::auth_generation`]): any change to users, sessions or tokens moves the
/// generation and empties the cache in effect, so a revoked token or a disabled user is
/// refused at once. Bounded: emptied when it reaches [`CallerCache::MAX`].
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

/// Where credentials are resolved: the database, the watch that announces account changes,
/// and the cache of resolved callers.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub pool: &'a PgPool,
    pub watch: &'a Watch,
    pub cache: &'a CallerCache,
}

impl Credentials<'_> {
    /// A credential's row: from the cache when the account generation allows, else from the
    /// database with `sql` (bound to the digest), then cached.
    async fn lookup(
        &self,
        sql: &'static str,
        digest: &[u8],
    ) -> Result<Option<CallerRow>, sqlx::Error> {
        let generation = if self.watch.sync().await {
            self.watch.auth_generation()
        } else {
            None
        };
        if let Some(g) = generation
            && let Some(row) = self.cache.get(digest, g)
        {
            return Ok(Some(row));
        }
        let row: Option<CallerRow> = sqlx::query_as(sql)
            .bind(digest)
            .fetch_optional(self.pool)
            .await?;
        if let (Some(g), Some(r)) = (generation, row.as_ref()) {
            self.cache.put(digest.to_vec(), r, g);
        }
        Ok(row)
    }

    /// The caller of an API token; `None` when it is unknown or revoked, or its account is
    /// disabled.
    pub async fn by_token(&self, secret: &str) -> Result<Option<Caller>, sqlx::Error> {
        // Revocation takes effect at once: the cache holds rows only for the current account
        // generation. `last_used_at` is written at most once a minute, off the request path, so
        // that a token does not cost a write per tile.
        let digest = token::digest(secret);
        let row = self
            .lookup(
                "SELECT u.id AS user_id, u.username, u.role, u.jurisdiction, NULL::text AS csrf_token, t.id AS token_id,
                        (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale,
                        NULL::timestamptz AS expires_at
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
                &digest,
            )
            .await?;
        if let Some(id) = row.as_ref().filter(|r| r.stale).and_then(|r| r.token_id) {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let _ = sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await;
            });
        }
        Ok(row.and_then(CallerRow::into_caller))
    }

    /// The caller of a session secret; `None` when the session is unknown or has expired, or
    /// its account is disabled.
    pub async fn by_session(&self, secret: &str) -> Result<Option<Caller>, sqlx::Error> {
        let digest = token::digest(secret);
        let row = self
            .lookup(
                "SELECT u.id AS user_id, u.username, u.role, u.jurisdiction, s.csrf_token, NULL::bigint AS token_id,
                        s.last_seen_at < now() - interval '1 minute' AS stale, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
                &digest,
            )
            .await?;
        if row.as_ref().is_some_and(|r| r.stale) {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let _ =
                    sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1")
                        .bind(digest)
                        .execute(&pool)
                        .await;
            });
        }
        Ok(row.and_then(CallerRow::into_caller))
    }
}

/// `Some(until)` when the name is locked: [`LOCKOUT_FAILURES`] failed logins within
/// [`LOCKOUT_MINUTES`] since its last success (or password change), locked until
/// [`LOCKOUT_MINUTES`] after the latest failure.
async fn locked_until(
    pool: &PgPool,
    username: &str,
    user_id: Option<i64>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
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
    .fetch_all(pool)
    .await?;
    if failures.len() as i64 >= LOCKOUT_FAILURES {
        let until = failures[0] + chrono::Duration::minutes(LOCKOUT_MINUTES);
        if until > Utc::now() {
            return Ok(Some(until));
        }
    }
    Ok(None)
}

/// The account named `username` if `password` is its password and it is enabled and not
/// locked. Every failure is audited as `login_failed` (by the name typed, with `during`) and
/// answered the same way whether the user exists or not: [`Error::Locked`] for a locked name,
/// [`Error::InvalidLogin`] for anything else.
pub async fn check_password(
    pool: &PgPool,
    username: &str,
    password: &str,
    during: &str,
) -> Result<User, Error> {
    let username = username.trim().to_owned();
    let mut conn = pool.acquire().await?;
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
    if locked_until(pool, &username, user_id).await?.is_some() {
        let mut tx = pool.begin().await?;
        audit::record(&mut tx, &actor, fail("locked")).await?;
        tx.commit().await?;
        return Err(Error::Locked {
            minutes: LOCKOUT_MINUTES,
        });
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
            let mut tx = pool.begin().await?;
            audit::record(&mut tx, &actor, fail("credentials")).await?;
            tx.commit().await?;
            // The same answer for an unknown name, a wrong password and a disabled account.
            Err(Error::InvalidLogin)
        }
    }
}

/// A new session: its secret (for the cookie; only its digest is stored) and its CSRF token.
#[derive(Debug)]
pub struct Session {
    pub user: User,
    pub secret: String,
    pub csrf_token: String,
}

/// Logs in: checks the password ([`check_password`]) and its age under `policy`, then opens a
/// session of [`SESSION_HOURS`], audited as `login`.
pub async fn login(
    pool: &PgPool,
    username: &str,
    password: &str,
    policy: PasswordPolicy,
) -> Result<Session, Error> {
    let user = check_password(pool, username, password, "login").await?;
    if let Some(days) = policy.max_age_days()
        && user.password_changed_at < Utc::now() - chrono::Duration::days(days)
    {
        return Err(Error::PasswordExpired { max_age_days: days });
    }
    let secret = token::random_secret();
    let csrf_token = token::random_secret();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(hours => $4))",
    )
    .bind(token::digest(&secret))
    .bind(user.id)
    .bind(&csrf_token)
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
    Ok(Session {
        user,
        secret,
        csrf_token,
    })
}

/// Logs out: ends the session of `secret` (if the request came with one), audited as `logout`.
pub async fn logout(pool: &PgPool, actor: &Actor, secret: Option<&str>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(secret) = secret {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token::digest(secret))
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "logout",
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await
}

/// Changes one's own password with the old one (also when it has expired); the new one must
/// differ and pass `policy` (refusals name the field `new_password`).
pub async fn change_password(
    pool: &PgPool,
    username: &str,
    old_password: &str,
    new_password: &str,
    policy: PasswordPolicy,
) -> Result<(), Error> {
    let u = check_password(pool, username, old_password, "password_change").await?;
    if new_password == old_password {
        return Err(Error::invalid_field(
            "new_password",
            "the new password must differ from the old one",
        ));
    }
    store::set_password(
        pool,
        &u.username,
        new_password,
        policy,
        &Actor::user(u.id, &u.username),
    )
    .await
    .map_err(|e| match e {
        Error::InvalidField { message, .. } => Error::invalid_field("new_password", message),
        other => other,
    })
}

/// Removes expired sessions now and then, forever; they are refused anyway.
pub async fn purge_expired_sessions(pool: PgPool) {
    loop {
        let _ = sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
            .execute(&pool)
            .await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
