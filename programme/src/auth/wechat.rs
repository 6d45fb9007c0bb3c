//! WeChat mini-program sign-in, in the database: bindings of a WeChat user (an openid of the
//! mini-program's AppID) to an account, the one-time binding codes, the count of wrong codes,
//! and the mini-program's sessions. Talking to WeChat (code2Session) is the HTTP layer's
//! (`server::http::wechat`); it hands an openid here.
//!
//! How a binding is made: an account signed in on the dashboard or `/field` asks for a 6-digit
//! code ([`new_binding_code`], valid [`CODE_MINUTES`] minutes, once; asking again supersedes the
//! unused ones). The mini-program sends it with the username and a `wx.login` code;
//! [`check_binding_code`] verifies it before WeChat is asked, and [`bind`] binds the openid
//! WeChat answered, in one transaction with the session it opens. Accounts are never created
//! from WeChat.
//!
//! Guessing is bounded twice: [`MAX_WRONG_CODES`] wrong codes per account (the username as
//! typed, lower-cased, so that an unknown name counts like a known one) and per client address
//! (an IPv6 one by its /64, `sessions::client_network`) lock that key for [`LOCK_MINUTES`]
//! minutes; a successful binding clears both keys. Attempts on one key are checked one at a
//! time (a transaction-scoped advisory lock per key, [`lock_keys`]): guesses sent together are
//! counted exactly like guesses sent one after the other. An unknown name costs the same
//! queries as a known one. Counts and codes older than a day are purged ([`purge`]).
//!
//! A mini-program session is an API token of kind `wechat` ([`TOKEN_NAME`], refused after
//! [`IDLE_DAYS`] days without use by `sessions::Credentials::by_token`): listed with the
//! account's tokens, revoked like them, stopped at once by a disabled account. Unbinding or
//! replacing a binding revokes its tokens, and a session is refused once its binding is
//! removed: opening one locks the binding row, so an unbinding either waits for the new session
//! (and revokes it) or is seen by it (and no session opens). A session may not administer,
//! export nor ask for binding codes (`auth::Caller::can`).
//!
//! The openid never reaches a log nor the audit: audit rows hold its last four characters
//! ([`openid_hint`]) at most, and never a code.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::sessions::client_network;
use super::store::{self, User};
use super::token;
use crate::audit::{self, Actor, Entry};
use crate::error::Error;

/// The name of a mini-program session in the account's token list.
pub const TOKEN_NAME: &str = "微信小程序";
/// A mini-program session ends after this many days without a request.
pub const IDLE_DAYS: i32 = 30;
/// How long a binding code is valid, in minutes.
pub const CODE_MINUTES: i32 = 10;
/// Wrong binding codes per account, and per address, before the key is locked.
pub const MAX_WRONG_CODES: i32 = 5;
/// How long a key stays locked after its last allowed wrong code, in minutes.
pub const LOCK_MINUTES: i32 = 15;
/// Wrong codes older than this are forgotten (and the count starts again); counts and binding
/// codes older than this are purged.
const FAILURES_FORGOTTEN_AFTER_HOURS: i32 = 24;
/// The class of the advisory locks that make attempts on one key one at a time (the first
/// half of `pg_advisory_xact_lock(int, int)`; the second is the key's hash).
const BIND_LOCK_CLASS: i32 = 0x5743_0021;

/// The last four characters of an openid: enough to tell two bindings apart in a list or an
/// audit row, not enough to name the WeChat user.
pub fn openid_hint(openid: &str) -> String {
    let chars: Vec<char> = openid.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// A binding code just made: the digits are here once; only their SHA-256 is stored.
#[derive(Debug, Clone, Serialize)]
pub struct BindingCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// A new binding code for the account of `actor`, superseding its unused ones. Audited as
/// `wechat_binding_code` (never the code).
pub async fn new_binding_code(pool: &PgPool, actor: &Actor) -> Result<BindingCode, Error> {
    let user_id = actor
        .user_id
        .ok_or_else(|| Error::forbidden("a binding code is asked for by an account"))?;
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let mut tx = pool.begin().await?;
    let superseded = sqlx::query(
        "UPDATE wechat_binding_codes SET superseded_at = now()
         WHERE user_id = $1 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > now()",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let (id, expires_at): (i64, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO wechat_binding_codes (user_id, code_hash, expires_at)
         VALUES ($1, $2, now() + make_interval(mins => $3))
         RETURNING id, expires_at",
    )
    .bind(user_id)
    .bind(token::digest(&code))
    .bind(CODE_MINUTES)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "wechat_binding_code",
            table: Some("wechat_binding_codes"),
            row_id: Some(id.to_string()),
            detail: Some(json!({ "expires_at": expires_at, "superseded": superseded })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(BindingCode { code, expires_at })
}

/// A mini-program session just opened: the token is here once; only its digest is stored.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub binding_id: i64,
    pub token: String,
    pub token_id: i64,
}

/// Who a refused sign-in or binding is audited as: the account when one is known, else the
/// name typed (a binding) or `wechat` (a sign-in, which names nobody).
fn actor_of(user: Option<&User>, typed: Option<&str>) -> Actor {
    match (user, typed) {
        (Some(u), _) => Actor::user(u.id, &u.username),
        (None, Some(name)) => Actor {
            user_id: None,
            username: name.to_owned(),
        },
        (None, None) => Actor {
            user_id: None,
            username: "wechat".to_owned(),
        },
    }
}

/// Records a refused sign-in or binding as `wechat_login_failed`, on a connection of its own:
/// `reason` (`not_bound`, `code_invalid`, `high_risk`, `binding_code_wrong` …), `during`
/// (`sign_in` or `bind`), the client's address, and the openid's hint when WeChat named one.
pub async fn record_failure(
    pool: &PgPool,
    reason: &str,
    during: &str,
    openid: Option<&str>,
    address: IpAddr,
    actor: &Actor,
) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    audit::record(
        &mut conn,
        actor,
        Entry {
            action: "wechat_login_failed",
            detail: Some(json!({
                "reason": reason,
                "during": during,
                "address": address.to_string(),
                "openid_hint": openid.map(openid_hint),
            })),
            ..Entry::default()
        },
    )
    .await
}

/// Refuses an account that may not open a session: disabled (`account_disabled`) or with a
/// password an administrator reset (`password_change_required`, as everywhere else).
fn check_account(user: &User) -> Result<(), (&'static str, Error)> {
    if user.disabled {
        return Err((
            "account_disabled",
            Error::forbidden_because(
                "account_disabled",
                "该账号已停用，请联系管理员 / this account is disabled: ask an administrator",
            ),
        ));
    }
    if user.must_change_password {
        return Err((
            "password_change_required",
            Error::forbidden_because(
                "password_change_required",
                "请先在电脑端或现场页（/field）设置新密码 / choose a new password first (dashboard or /field)",
            ),
        ));
    }
    Ok(())
}

/// Opens a mini-program session of the binding `binding_id` in `tx`, and marks the binding's
/// last sign-in; `None` when the binding was removed meanwhile. The binding's row stays locked
/// until `tx` ends: an unbinding waits, then revokes this session with the others.
async fn open_session(
    tx: &mut PgConnection,
    user_id: i64,
    binding_id: i64,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let live: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM wechat_bindings WHERE id = $1 AND removed_at IS NULL FOR UPDATE",
    )
    .bind(binding_id)
    .fetch_optional(&mut *tx)
    .await?;
    if live.is_none() {
        return Ok(None);
    }
    let secret = token::new_api_token();
    let prefix = secret[..8].to_owned();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, kind, idle_days, last_used_at, wechat_binding_id)
         VALUES ($1, $2, $3, $4, 'wechat', $5, now(), $6)
         RETURNING id",
    )
    .bind(user_id)
    .bind(TOKEN_NAME)
    .bind(token::digest(&secret))
    .bind(&prefix)
    .bind(IDLE_DAYS)
    .bind(binding_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE wechat_bindings SET last_login_at = now() WHERE id = $1")
        .bind(binding_id)
        .execute(&mut *tx)
        .await?;
    Ok(Some((id, secret)))
}

/// Signs in the WeChat user `openid` of the mini-program `app_id`: a new session for the
/// account it is bound to, audited as `wechat_login`. Refused (403, audited as
/// `wechat_login_failed`, nothing else written): an unbound openid (`wechat_not_bound`), a
/// disabled account (`account_disabled`), a password to change (`password_change_required`).
pub async fn sign_in(
    pool: &PgPool,
    app_id: &str,
    openid: &str,
    address: IpAddr,
) -> Result<SignedIn, Error> {
    let bound: Option<(i64, String)> = sqlx::query_as(
        "SELECT b.id, u.username FROM wechat_bindings b JOIN users u ON u.id = b.user_id
         WHERE b.openid = $1 AND b.app_id = $2 AND b.removed_at IS NULL",
    )
    .bind(openid)
    .bind(app_id)
    .fetch_optional(pool)
    .await?;
    let not_bound = async || -> Result<SignedIn, Error> {
        record_failure(
            pool,
            "not_bound",
            "sign_in",
            Some(openid),
            address,
            &actor_of(None, None),
        )
        .await?;
        Err(Error::forbidden_because(
            "wechat_not_bound",
            "该微信尚未绑定平台账号：请在电脑端或现场页（/field）获取 6 位绑定码后绑定 / this WeChat is not bound to an account: get a 6-digit binding code on the dashboard or /field, then bind",
        ))
    };
    let Some((binding_id, username)) = bound else {
        return not_bound().await;
    };
    let mut conn = pool.acquire().await?;
    let user = store::find(&mut conn, &username)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a binding's account is gone")))?;
    drop(conn);
    if let Err((reason, e)) = check_account(&user) {
        record_failure(
            pool,
            reason,
            "sign_in",
            Some(openid),
            address,
            &actor_of(Some(&user), None),
        )
        .await?;
        return Err(e);
    }
    let mut tx = pool.begin().await?;
    let Some((token_id, token)) = open_session(&mut tx, user.id, binding_id).await? else {
        // Unbound since the binding was read.
        tx.rollback().await?;
        return not_bound().await;
    };
    audit::record(
        &mut tx,
        &Actor::user(user.id, &user.username),
        Entry {
            action: "wechat_login",
            table: Some("wechat_bindings"),
            row_id: Some(binding_id.to_string()),
            detail: Some(json!({
                "binding_id": binding_id,
                "token_id": token_id,
                "address": address.to_string(),
            })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn {
        user,
        binding_id,
        token,
        token_id,
    })
}

/// The keys a binding attempt is counted under: the name as typed (trimmed, lower-cased, at
/// most 64 characters) and the client's address (an IPv6 one: its /64, written `net/64`).
fn failure_keys(username: &str, address: IpAddr) -> (String, String) {
    let name: String = username.trim().to_lowercase().chars().take(64).collect();
    let address = match client_network(address) {
        IpAddr::V6(net) => format!("{net}/64"),
        v4 => v4.to_string(),
    };
    (name, address)
}

/// Waits for, then holds until `tx` ends, the advisory locks of the two keys (always the
/// account's first, so that two attempts never wait for each other crosswise): every check and
/// count of a key, and the clearing by a binding, happen one at a time.
async fn lock_keys(tx: &mut PgConnection, account: &str, address: &str) -> Result<(), sqlx::Error> {
    for key in [format!("account:{account}"), format!("address:{address}")] {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(BIND_LOCK_CLASS)
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// A binding code that [`check_binding_code`] found right, for [`bind`].
#[derive(Debug, Clone)]
pub struct VerifiedCode {
    pub code_id: i64,
    pub user: User,
    account_key: String,
    address_key: String,
}

/// The seconds left of the longer lock of the two keys, if either is locked.
async fn locked_for(
    tx: &mut PgConnection,
    account: &str,
    address: &str,
) -> Result<Option<u64>, sqlx::Error> {
    let left: Option<f64> = sqlx::query_scalar(
        "SELECT max(extract(epoch FROM locked_until - now()))::float8 FROM wechat_bind_failures
         WHERE ((kind = 'account' AND key = $1) OR (kind = 'address' AND key = $2))
           AND locked_until > now()",
    )
    .bind(account)
    .bind(address)
    .fetch_one(tx)
    .await?;
    Ok(left.map(|s| s.ceil().max(1.0) as u64))
}

fn locked_error(secs: u64) -> Error {
    let minutes = secs.div_ceil(60);
    Error::Locked {
        code: "binding_locked",
        message: format!(
            "绑定码错误次数过多，请 {minutes} 分钟后再试 / too many wrong binding codes: try again in {minutes} minutes"
        ),
        retry_after_secs: secs,
    }
}

/// Counts a wrong code under both keys, in the caller's transaction (which holds the keys'
/// locks); the most failures of the two.
async fn count_failure(
    tx: &mut PgConnection,
    account: &str,
    address: &str,
) -> Result<i32, sqlx::Error> {
    let mut most = 0;
    for (kind, key) in [("account", account), ("address", address)] {
        // A lock that has run out, or failures forgotten, start the count again.
        let failures: i32 = sqlx::query_scalar(
            "INSERT INTO wechat_bind_failures (kind, key, failures, locked_until)
             VALUES ($1, $2, 1, CASE WHEN $3 <= 1 THEN now() + make_interval(mins => $4) END)
             ON CONFLICT (kind, key) DO UPDATE SET
                 failures = CASE
                     WHEN wechat_bind_failures.locked_until <= now()
                       OR wechat_bind_failures.last_failed_at <= now() - make_interval(hours => $5)
                     THEN 1 ELSE wechat_bind_failures.failures + 1 END,
                 locked_until = CASE
                     WHEN (CASE
                             WHEN wechat_bind_failures.locked_until <= now()
                               OR wechat_bind_failures.last_failed_at <= now() - make_interval(hours => $5)
                             THEN 1 ELSE wechat_bind_failures.failures + 1 END) >= $3
                     THEN now() + make_interval(mins => $4) END,
                 last_failed_at = now()
             RETURNING failures",
        )
        .bind(kind)
        .bind(key)
        .bind(MAX_WRONG_CODES)
        .bind(LOCK_MINUTES)
        .bind(FAILURES_FORGOTTEN_AFTER_HOURS)
        .fetch_one(&mut *tx)
        .await?;
        most = most.max(failures);
    }
    Ok(most)
}

/// What a binding attempt found, under the keys' locks.
enum Attempt {
    Right(i64, User),
    Locked(u64),
    Used,
    Expired,
    Wrong(i32),
}

/// Checks the binding code `code` of the account typed as `username`, from `address`, before
/// WeChat is asked. Refused: 429 `binding_locked` while the account or the address is locked
/// (also for a right code); 422 `binding_code_expired` (or superseded), `binding_code_used`;
/// anything else, an unknown name or another account's code included, is 422
/// `binding_code_wrong` with `tries_left`, counted under both keys (the last allowed one
/// locks: 429). Every refusal is audited as `wechat_login_failed`; nothing else is written.
pub async fn check_binding_code(
    pool: &PgPool,
    username: &str,
    code: &str,
    address: IpAddr,
) -> Result<VerifiedCode, Error> {
    let (account_key, address_key) = failure_keys(username, address);
    let mut tx = pool.begin().await?;
    // The lock check, the comparison and the count, one attempt at a time per key: a burst of
    // guesses cannot all pass the check before the first is counted.
    lock_keys(&mut tx, &account_key, &address_key).await?;
    let user = store::find(&mut tx, &account_key).await?;
    let attempt = match locked_for(&mut tx, &account_key, &address_key).await? {
        Some(secs) => Attempt::Locked(secs),
        None => {
            // (used, stale) of the account's codes with these digits, the live one first. The
            // same query for an unknown name (no rows) and any typed code, so that neither
            // answers sooner.
            let found: Vec<(i64, bool, bool)> = sqlx::query_as(
                "SELECT id, used_at IS NOT NULL,
                        used_at IS NULL AND (superseded_at IS NOT NULL OR expires_at <= now())
                 FROM wechat_binding_codes WHERE user_id = $1 AND code_hash = $2
                 ORDER BY (used_at IS NULL AND superseded_at IS NULL AND expires_at > now()) DESC,
                          (used_at IS NOT NULL) DESC, id DESC",
            )
            .bind(user.as_ref().map(|u| u.id))
            .bind(token::digest(code.trim()))
            .fetch_all(&mut *tx)
            .await?;
            match (found.first(), &user) {
                (Some(&(code_id, false, false)), Some(u)) => Attempt::Right(code_id, u.clone()),
                (Some((_, true, _)), Some(_)) => Attempt::Used,
                (Some(_), Some(_)) => Attempt::Expired,
                _ => Attempt::Wrong(count_failure(&mut tx, &account_key, &address_key).await?),
            }
        }
    };
    tx.commit().await?;
    let actor = &actor_of(user.as_ref(), Some(&account_key));
    let refuse = async |reason: &'static str| {
        record_failure(pool, reason, "bind", None, address, actor).await
    };
    match attempt {
        Attempt::Right(code_id, user) => Ok(VerifiedCode {
            code_id,
            user,
            account_key,
            address_key,
        }),
        Attempt::Locked(secs) => {
            refuse("binding_locked").await?;
            Err(locked_error(secs))
        }
        Attempt::Used => {
            refuse("binding_code_used").await?;
            Err(code_used())
        }
        Attempt::Expired => {
            refuse("binding_code_expired").await?;
            Err(code_expired())
        }
        Attempt::Wrong(failures) => {
            refuse("binding_code_wrong").await?;
            if failures >= MAX_WRONG_CODES {
                return Err(locked_error(LOCK_MINUTES as u64 * 60));
            }
            let tries_left = MAX_WRONG_CODES - failures;
            Err(Error::field_refused(
                "binding_code",
                "binding_code_wrong",
                json!({ "tries_left": tries_left }),
                format!(
                    "用户名或绑定码不正确，还可尝试 {tries_left} 次 / wrong username or binding code: {tries_left} tries left"
                ),
            ))
        }
    }
}

fn code_used() -> Error {
    Error::field_refused(
        "binding_code",
        "binding_code_used",
        json!({}),
        "该绑定码已使用，请重新获取 / this binding code has been used: ask for a new one",
    )
}

fn code_expired() -> Error {
    Error::field_refused(
        "binding_code",
        "binding_code_expired",
        json!({ "valid_minutes": CODE_MINUTES }),
        format!(
            "绑定码已过期（{CODE_MINUTES} 分钟内有效）或已被新的绑定码取代，请重新获取 / this binding code has expired (valid {CODE_MINUTES} minutes) or a newer one replaced it: ask for a new one"
        ),
    )
}

/// Binds the WeChat user `openid` of `app_id` to the account of the verified code, uses the
/// code, replaces the account's previous binding (removed, its sessions revoked), clears both
/// failure keys and opens a session: one transaction, audited as `wechat_bind`. Refused, with
/// nothing written but the audit row: the code was used meanwhile (`binding_code_used`), it
/// expired (`binding_code_expired`), the account may not sign in (`account_disabled`,
/// `password_change_required`), or the openid is bound to another account (409
/// `wechat_already_bound`, which never says which).
pub async fn bind(
    pool: &PgPool,
    verified: &VerifiedCode,
    app_id: &str,
    openid: &str,
    address: IpAddr,
) -> Result<SignedIn, Error> {
    let user = &verified.user;
    let actor = &Actor::user(user.id, &user.username);
    let refuse = move |reason: &'static str| {
        record_failure(pool, reason, "bind", Some(openid), address, actor)
    };
    let mut tx = pool.begin().await?;
    // The keys first (as every attempt takes them), then the rows: clearing the counts below
    // waits for an attempt being counted, never crosswise.
    lock_keys(&mut tx, &verified.account_key, &verified.address_key).await?;
    // The account as it is now, locked: a disabling that commits meanwhile is seen.
    let current: Option<(bool, bool)> =
        sqlx::query_as("SELECT disabled, must_change_password FROM users WHERE id = $1 FOR UPDATE")
            .bind(user.id)
            .fetch_optional(&mut *tx)
            .await?;
    let (disabled, must_change_password) =
        current.ok_or_else(|| Error::not_found("user_not_found", "the account is gone"))?;
    if let Err((reason, e)) = check_account(&User {
        disabled,
        must_change_password,
        ..user.clone()
    }) {
        tx.rollback().await?;
        refuse(reason).await?;
        return Err(e);
    }
    let used: Option<i64> = sqlx::query_scalar(
        "UPDATE wechat_binding_codes SET used_at = now()
         WHERE id = $1 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > now()
         RETURNING id",
    )
    .bind(verified.code_id)
    .fetch_optional(&mut *tx)
    .await?;
    if used.is_none() {
        tx.rollback().await?;
        let was_used: bool = sqlx::query_scalar(
            "SELECT used_at IS NOT NULL FROM wechat_binding_codes WHERE id = $1",
        )
        .bind(verified.code_id)
        .fetch_one(pool)
        .await?;
        return if was_used {
            refuse("binding_code_used").await?;
            Err(code_used())
        } else {
            refuse("binding_code_expired").await?;
            Err(code_expired())
        };
    }
    let owner: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM wechat_bindings WHERE openid = $1 AND removed_at IS NULL FOR UPDATE",
    )
    .bind(openid)
    .fetch_optional(&mut *tx)
    .await?;
    if owner.is_some_and(|o| o != user.id) {
        tx.rollback().await?;
        refuse("already_bound").await?;
        return Err(Error::Conflict {
            code: "wechat_already_bound",
            message: "该微信已绑定其他平台账号：请先在那个账号中解除绑定 / this WeChat is bound to another account: unbind it there first".to_owned(),
        });
    }
    let replaced: Vec<i64> = sqlx::query_scalar(
        "UPDATE wechat_bindings SET removed_at = now(), removed_by = $1
         WHERE user_id = $1 AND removed_at IS NULL RETURNING id",
    )
    .bind(user.id)
    .fetch_all(&mut *tx)
    .await?;
    let revoked = revoke_sessions(&mut tx, &replaced).await?;
    let binding_id: i64 = sqlx::query_scalar(
        "INSERT INTO wechat_bindings (user_id, app_id, openid) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(user.id)
    .bind(app_id)
    .bind(openid)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM wechat_bind_failures
         WHERE (kind = 'account' AND key = $1) OR (kind = 'address' AND key = $2)",
    )
    .bind(&verified.account_key)
    .bind(&verified.address_key)
    .execute(&mut *tx)
    .await?;
    let (token_id, token) = open_session(&mut tx, user.id, binding_id)
        .await?
        .ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "a binding made in this transaction is gone"
            ))
        })?;
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "wechat_bind",
            table: Some("wechat_bindings"),
            row_id: Some(binding_id.to_string()),
            detail: Some(json!({
                "binding_id": binding_id,
                "replaced": replaced,
                "revoked_tokens": revoked,
                "token_id": token_id,
                "openid_hint": openid_hint(openid),
                "address": address.to_string(),
            })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn {
        user: user.clone(),
        binding_id,
        token,
        token_id,
    })
}

/// Revokes the live sessions of the bindings `ids` (refused from the next request on: the
/// UPDATE tells the caller cache); how many.
async fn revoke_sessions(tx: &mut PgConnection, ids: &[i64]) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(sqlx::query(
        "UPDATE api_tokens SET revoked_at = now()
         WHERE wechat_binding_id = ANY($1) AND revoked_at IS NULL",
    )
    .bind(ids)
    .execute(tx)
    .await?
    .rows_affected())
}

/// Removes what the WeChat sign-in no longer needs: counts of wrong codes whose last one is a
/// day old and that lock nothing (any name typed leaves one), and binding codes that expired a
/// day ago (used or not; the audit keeps their ids). Run by the service's hourly purge
/// (`sessions::purge_expired_sessions`). How many rows of each.
pub async fn purge(pool: &PgPool) -> Result<(u64, u64), sqlx::Error> {
    let failures = sqlx::query(
        "DELETE FROM wechat_bind_failures
         WHERE last_failed_at < now() - make_interval(hours => $1)
           AND (locked_until IS NULL OR locked_until < now())",
    )
    .bind(FAILURES_FORGOTTEN_AFTER_HOURS)
    .execute(pool)
    .await?
    .rows_affected();
    let codes = sqlx::query(
        "DELETE FROM wechat_binding_codes WHERE expires_at < now() - make_interval(hours => $1)",
    )
    .bind(FAILURES_FORGOTTEN_AFTER_HOURS)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((failures, codes))
}

/// A live binding as lists show it: never the openid, only its last four characters.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Binding {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub app_id: String,
    pub openid_hint: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// The live bindings, of every account (`None`) or of one, by username and id.
pub async fn bindings(pool: &PgPool, user_id: Option<i64>) -> Result<Vec<Binding>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.id, b.user_id, u.username, u.display_name, b.app_id,
                right(b.openid, 4) AS openid_hint, b.created_at, b.last_login_at
         FROM wechat_bindings b JOIN users u ON u.id = b.user_id
         WHERE b.removed_at IS NULL AND ($1::bigint IS NULL OR b.user_id = $1)
         ORDER BY u.username, b.id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Removes the live binding `id`: the caller's own, or any when `admin`; its sessions are
/// revoked at once. 404 `binding_not_found` for anything else (another's binding is not
/// shown to exist). Audited as `wechat_unbind` with `by` `self` or `admin`.
pub async fn unbind(pool: &PgPool, id: i64, actor: &Actor, admin: bool) -> Result<(), Error> {
    let by = actor.user_id;
    let mut tx = pool.begin().await?;
    let removed: Option<(i64, String)> = sqlx::query_as(
        "UPDATE wechat_bindings b SET removed_at = now(), removed_by = $2
         FROM users u
         WHERE b.id = $1 AND b.removed_at IS NULL AND u.id = b.user_id
           AND ($3 OR b.user_id = $2)
         RETURNING b.user_id, u.username",
    )
    .bind(id)
    .bind(by)
    .bind(admin)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((owner, username)) = removed else {
        return Err(Error::not_found(
            "binding_not_found",
            format!("没有编号为 {id} 的微信绑定 / no WeChat binding with id {id}"),
        ));
    };
    let revoked = revoke_sessions(&mut tx, &[id]).await?;
    let who = if by == Some(owner) { "self" } else { "admin" };
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "wechat_unbind",
            table: Some("wechat_bindings"),
            row_id: Some(id.to_string()),
            detail: Some(
                json!({ "by": who, "for": username, "binding_id": id, "revoked_tokens": revoked }),
            ),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends the mini-program session `token_id` (revoked at once), audited as `logout`. 400
/// `not_a_wechat_session` when it is not a live session of kind `wechat`.
pub async fn logout(pool: &PgPool, token_id: i64, actor: &Actor) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    let revoked: Option<i64> = sqlx::query_scalar(
        "UPDATE api_tokens SET revoked_at = now()
         WHERE id = $1 AND kind = 'wechat' AND revoked_at IS NULL RETURNING id",
    )
    .bind(token_id)
    .fetch_optional(&mut *tx)
    .await?;
    if revoked.is_none() {
        return Err(not_a_wechat_session());
    }
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "logout",
            table: Some("api_tokens"),
            row_id: Some(token_id.to_string()),
            detail: Some(json!({ "wechat": true, "token_id": token_id })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The answer to a mini-program logout made with anything but a mini-program session.
pub fn not_a_wechat_session() -> Error {
    Error::InvalidRequest {
        code: "not_a_wechat_session",
        message: "只有小程序会话可以这样退出 / only a mini-program session signs out here (a browser: POST /api/auth/logout)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openid_is_shown_by_its_last_four_characters_only() {
        assert_eq!(openid_hint("oAbCdEfGh1234"), "1234");
        assert_eq!(openid_hint("ab"), "ab");
        assert_eq!(openid_hint("微信用户标识"), "用户标识");
    }

    #[test]
    fn failures_are_counted_by_the_name_as_typed_lower_cased() {
        let a: IpAddr = [192, 0, 2, 1].into();
        assert_eq!(
            failure_keys("  VD_654022100200 ", a),
            ("vd_654022100200".to_owned(), "192.0.2.1".to_owned())
        );
        assert_eq!(failure_keys(&"x".repeat(100), a).0.len(), 64);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        let key = |s: &str| failure_keys("x", s.parse().expect("an address")).1;
        assert_eq!(key("2001:db8:7:8:1:2:3:4"), "2001:db8:7:8::/64");
        assert_eq!(key("2001:db8:7:8:ffff::1"), "2001:db8:7:8::/64");
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1");
    }
}
