//! Sessions and the credentials of a request, in the database: logging in (password, the
//! throttle of attempts, expiry) and out, changing one's password, and resolving a session secret
//! or an API token to its [`Caller`] through a cache that is exact for the account generation it
//! was read at. Cookies, headers, the client's address and the CSRF check are the HTTP layer's
//! (`server::http::session`).
//!
//! Logins are throttled twice ([`Throttle`]): each client address may try
//! [`Throttle::per_address_per_minute`] times a minute, whatever the names (counted in memory by
//! [`LoginGate`]), and each name typed at each address has [`Throttle::free_failures`] failures,
//! after which every attempt waits a delay that doubles with each further failure (counted in
//! `login_failures`). Failures elsewhere never lock a name out here: an office behind one NAT
//! address keeps logging in while a stranger guesses the admin's password from another.
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
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
/// A name's failures at an address are forgotten when the last is older than this.
pub const FAILURES_FORGOTTEN_AFTER_HOURS: i32 = 24;

/// How logins are throttled (module docs). The defaults leave an office behind one address room
/// for dozens of people logging in at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Login attempts (right or wrong, any name) one client address may make in a minute.
    pub per_address_per_minute: u32,
    /// Failed logins of one name from one address before its attempts from there wait.
    pub free_failures: u32,
    /// The wait after the last free failure, in seconds; each further failure doubles it.
    pub first_delay_secs: u64,
    /// The longest wait, in seconds.
    pub max_delay_secs: u64,
}

impl Throttle {
    pub const DEFAULT: Self = Self {
        per_address_per_minute: 30,
        free_failures: 5,
        first_delay_secs: 1,
        max_delay_secs: 900,
    };

    /// How long after its last failure a name that failed `failures` times at an address waits
    /// there, in seconds: nothing for the free failures, then the first delay (1 s by default),
    /// doubling with each further failure, up to the maximum.
    pub fn delay_secs(&self, failures: u32) -> u64 {
        match failures.checked_sub(self.free_failures) {
            None => 0,
            Some(beyond) => 2u64
                .checked_pow(beyond)
                .and_then(|d| d.checked_mul(self.first_delay_secs))
                .unwrap_or(u64::MAX)
                .min(self.max_delay_secs),
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The login attempts of each client address in the last minute, in memory: the first throttle,
/// checked before anything touches the database. An IPv6 address counts by its /64
/// ([`client_network`]). Bounded: addresses without an attempt in the last minute are dropped
/// when it holds [`LoginGate::MAX_ADDRESSES`].
#[derive(Debug, Default)]
pub struct LoginGate {
    pub throttle: Throttle,
    recent: std::sync::Mutex<HashMap<IpAddr, VecDeque<std::time::Instant>>>,
}

impl LoginGate {
    const MAX_ADDRESSES: usize = 100_000;
    const WINDOW: Duration = Duration::from_secs(60);

    pub fn new(throttle: Throttle) -> Self {
        Self {
            throttle,
            recent: std::sync::Mutex::default(),
        }
    }

    /// Counts an attempt from `address`, or refuses it ([`Error::Locked`], `too_many_attempts`)
    /// when the address (an IPv6 one: its /64) made [`Throttle::per_address_per_minute`]
    /// attempts in the last minute.
    pub fn admit(&self, address: IpAddr) -> Result<(), Error> {
        let now = std::time::Instant::now();
        let limit = self.throttle.per_address_per_minute as usize;
        let mut map = self
            .recent
            .lock()
            .map_err(|_| Error::Internal(anyhow::anyhow!("the login gate's lock is poisoned")))?;
        if map.len() >= Self::MAX_ADDRESSES {
            map.retain(|_, times| times.back().is_some_and(|t| now - *t < Self::WINDOW));
        }
        let times = map.entry(client_network(address)).or_default();
        while times.front().is_some_and(|t| now - *t >= Self::WINDOW) {
            times.pop_front();
        }
        if times.len() >= limit {
            let wait = times
                .front()
                .map_or(Self::WINDOW, |t| Self::WINDOW.saturating_sub(now - *t));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Error::Locked {
                code: "too_many_attempts",
                message: format!(
                    "该地址登录尝试过多，请 {secs} 秒后再试 / too many login attempts from this address: try again in {secs} seconds"
                ),
                retry_after_secs: secs.max(1),
            });
        }
        times.push_back(now);
        Ok(())
    }
}

/// The network a client address is counted by: an IPv4 address itself, an IPv6 address its
/// /64 (the rest zeroed). A phone or a home gets a whole /64 and picks addresses in it at will
/// (privacy extensions rotate them daily), so a per-address count of IPv6 addresses counts
/// nothing.
pub fn client_network(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// Where a login attempt comes from: the client's address (as the HTTP layer established it)
/// and the gate that throttles it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub address: IpAddr,
    pub gate: &'a LoginGate,
}

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
    /// The token is a mini-program session (kind `wechat`).
    mini_program: bool,
    /// `last_used_at`/`last_seen_at` is older than a minute: refresh it off the request path.
    stale: bool,
    /// When the session or the token ends (`None`: a token without expiry).
    expires_at: Option<DateTime<Utc>>,
    must_change_password: bool,
}

impl CallerRow {
    fn into_caller(self) -> Option<Caller> {
        let via = match (self.csrf_token, self.token_id) {
            (Some(csrf_token), _) => AuthVia::Session { csrf_token },
            (None, Some(token_id)) if self.mini_program => AuthVia::WeChat { token_id },
            (None, Some(token_id)) => AuthVia::Token { token_id },
            (None, None) => return None,
        };
        Some(Caller {
            user_id: self.user_id,
            username: self.username,
            role: self.role,
            scope: Scope::new(PlaceCode::parse(&self.jurisdiction).ok()?),
            via,
            must_change_password: self.must_change_password,
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

    /// The caller of an API token; `None` when it is unknown, revoked or expired, unused for
    /// its `idle_days` (a mini-program session: 30), its account is disabled, or it is a
    /// mini-program session whose WeChat binding was removed (unbinding revokes the binding's
    /// sessions too; this also refuses one opened in a race with the unbinding).
    pub async fn by_token(&self, secret: &str) -> Result<Option<Caller>, sqlx::Error> {
        // Revocation takes effect at once: the cache holds rows only for the current account
        // generation. `last_used_at` is written at most once a minute, off the request path, so
        // that a token does not cost a write per tile. An idle limit makes the row expire, for
        // the cache too, `idle_days` after the last use it was read with (a token in use is
        // read again then, with its newer last use).
        let digest = token::digest(secret);
        let row = self
            .lookup(
                "SELECT u.id AS user_id, u.username, u.role, u.jurisdiction, NULL::text AS csrf_token, t.id AS token_id,
                        t.kind = 'wechat' AS mini_program,
                        (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale,
                        LEAST(t.expires_at, COALESCE(t.last_used_at, t.created_at) + make_interval(days => t.idle_days)) AS expires_at,
                        u.must_change_password
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled
                   AND (t.expires_at IS NULL OR t.expires_at > now())
                   AND (t.idle_days IS NULL
                        OR COALESCE(t.last_used_at, t.created_at) > now() - make_interval(days => t.idle_days))
                   AND (t.kind <> 'wechat' OR EXISTS (
                        SELECT 1 FROM wechat_bindings b
                        WHERE b.id = t.wechat_binding_id AND b.removed_at IS NULL))",
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
                        false AS mini_program,
                        s.last_seen_at < now() - interval '1 minute' AS stale, s.expires_at,
                        u.must_change_password
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

/// The name as counted: as typed, at most 64 characters (no account has a longer one).
fn counted_name(username: &str) -> String {
    username.chars().take(64).collect()
}

/// The seconds `name` still waits at `address` before it may try again, if it must.
async fn waiting(
    pool: &PgPool,
    name: &str,
    address: IpAddr,
    throttle: &Throttle,
) -> Result<Option<u64>, sqlx::Error> {
    let row: Option<(i32, f64)> = sqlx::query_as(
        "SELECT failures, extract(epoch FROM now() - last_failed_at)::float8 FROM login_failures
         WHERE username = $1 AND address = $2::inet
           AND last_failed_at > now() - make_interval(hours => $3)",
    )
    .bind(name)
    .bind(address.to_string())
    .bind(FAILURES_FORGOTTEN_AFTER_HOURS)
    .fetch_optional(pool)
    .await?;
    let Some((failures, elapsed)) = row else {
        return Ok(None);
    };
    let delay = throttle.delay_secs(u32::try_from(failures).unwrap_or(0)) as f64;
    let left = (delay - elapsed).ceil();
    Ok((left > 0.0).then_some(left as u64))
}

/// The account named `username` if `password` is its password and it is enabled, and the
/// attempt is neither over its address's limit nor waiting after the name's failures at that
/// address ([`Throttle`]). Every refusal of a password is audited as `login_failed` (by the name
/// typed, with `during` and the address) and answered the same way whether the user exists or
/// not: [`Error::Locked`] while the name waits at this address, [`Error::InvalidLogin`] for
/// anything else.
pub async fn check_password(
    pool: &PgPool,
    username: &str,
    password: &str,
    during: &str,
    from: Attempt<'_>,
) -> Result<User, Error> {
    from.gate.admit(from.address)?;
    let username = username.trim().to_owned();
    let name = counted_name(&username);
    let address = from.address.to_string();
    // A name's failures are counted by the client's network (an IPv6 address by its /64, which
    // a phone rotates through at will); the audit keeps the address itself.
    let network = client_network(from.address);
    let counted_at = network.to_string();
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
        detail: Some(json!({ "reason": reason, "during": during, "address": address })),
        ..Entry::default()
    };
    if let Some(secs) = waiting(pool, &name, network, &from.gate.throttle).await? {
        let mut tx = pool.begin().await?;
        audit::record(&mut tx, &actor, fail("locked")).await?;
        tx.commit().await?;
        return Err(Error::Locked {
            code: "locked",
            message: format!(
                "该用户名从此地址登录失败次数过多，请 {secs} 秒后再试 / too many failed logins of this name from this address: try again in {secs} seconds"
            ),
            retry_after_secs: secs,
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
        Some(u) if verified && !u.disabled => {
            // A success clears this address's count of the name; other addresses keep theirs.
            sqlx::query("DELETE FROM login_failures WHERE username = $1 AND address = $2::inet")
                .bind(&name)
                .bind(&counted_at)
                .execute(pool)
                .await?;
            Ok(u)
        }
        _ => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO login_failures (username, address, failures) VALUES ($1, $2::inet, 1)
                 ON CONFLICT (username, address) DO UPDATE
                 SET failures = CASE
                         WHEN login_failures.last_failed_at <= now() - make_interval(hours => $3) THEN 1
                         ELSE login_failures.failures + 1 END,
                     last_failed_at = now()",
            )
            .bind(&name)
            .bind(&counted_at)
            .bind(FAILURES_FORGOTTEN_AFTER_HOURS)
            .execute(&mut *tx)
            .await?;
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
/// session of [`SESSION_HOURS`], audited as `login` with the client's address.
pub async fn login(
    pool: &PgPool,
    username: &str,
    password: &str,
    policy: PasswordPolicy,
    from: Attempt<'_>,
) -> Result<Session, Error> {
    let user = check_password(pool, username, password, "login", from).await?;
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
            detail: Some(json!({ "address": from.address.to_string() })),
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
    from: Attempt<'_>,
) -> Result<(), Error> {
    let u = check_password(pool, username, old_password, "password_change", from).await?;
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
        Error::InvalidField {
            code,
            message,
            params,
            ..
        } => Error::field_refused("new_password", code, params, message),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_free_failures_up_to_the_maximum() {
        let t = Throttle::DEFAULT;
        let waits: Vec<u64> = (0..=16).map(|f| t.delay_secs(f)).collect();
        assert_eq!(
            waits,
            [
                0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900
            ]
        );
        assert_eq!(t.delay_secs(u32::MAX), 900);
        let slow = Throttle {
            free_failures: 2,
            first_delay_secs: 60,
            ..Throttle::DEFAULT
        };
        assert_eq!(
            (0..6).map(|f| slow.delay_secs(f)).collect::<Vec<_>>(),
            [0, 0, 60, 120, 240, 480]
        );
    }

    #[test]
    fn an_address_gets_its_attempts_per_minute_and_others_are_not_counted_with_it() {
        let gate = LoginGate::new(Throttle {
            per_address_per_minute: 3,
            ..Throttle::DEFAULT
        });
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        for _ in 0..3 {
            assert!(gate.admit(a).is_ok());
        }
        match gate.admit(a) {
            Err(Error::Locked {
                code,
                retry_after_secs,
                ..
            }) => {
                assert_eq!(code, "too_many_attempts");
                assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("a fourth attempt in a minute: {other:?}"),
        }
        assert!(gate.admit(b).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        let gate = LoginGate::new(Throttle {
            per_address_per_minute: 2,
            ..Throttle::DEFAULT
        });
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert_eq!(
            client_network(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(client_network(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_network(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert!(gate.admit(ip("2001:db8:1:2::1")).is_ok());
        assert!(gate.admit(ip("2001:db8:1:2:ffff::9")).is_ok());
        assert!(gate.admit(ip("2001:db8:1:2:1234::1")).is_err());
        assert!(gate.admit(ip("2001:db8:1:3::1")).is_ok());
    }
}
