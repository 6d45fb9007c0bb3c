//! Accounts and API tokens in the database: creating accounts, changing them (display name,
//! role, jurisdiction, disabled), passwords changed by their user or reset by an administrator,
//! tokens with an optional expiry and their revocation. Every change is audited in its own
//! transaction with the account as it was and as it is (never a password, a hash or a token).
//! The HTTP handlers (`server::http::users`) and the command line (`echinomap user`) call the
//! same functions. Sessions, logins and the credentials of a request are in [`super::sessions`].
//!
//! Two rules keep the service administrable: an administrator cannot disable their own account,
//! and no change leaves the service without an enabled administrator (both 409).

use chrono::{DateTime, Utc};
use echinomap_domain::PlaceCode;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::Role;
use super::password::{self, PasswordPolicy};
use super::token;
use crate::audit::{self, Actor, Entry};
use crate::error::Error;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub jurisdiction: String,
    #[serde(skip)]
    pub password_hash: String,
    pub password_changed_at: DateTime<Utc>,
    pub disabled: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub demo: bool,
    /// An administrator set or generated the password: the user changes it at the next login.
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id, username, display_name, role, jurisdiction, password_hash, password_changed_at, disabled, locked_until, demo, must_change_password, created_at";

/// The audited view of an account: never its password hash.
fn audit_view(u: &User) -> serde_json::Value {
    json!({ "username": u.username, "role": u.role, "jurisdiction": u.jurisdiction, "disabled": u.disabled, "display_name": u.display_name })
}

/// The Chinese name of a role, as the administration pages show it.
pub fn role_zh(role: Role) -> &'static str {
    match role {
        Role::Admin => "系统管理员",
        Role::Epidemiologist => "流行病学专业人员",
        Role::TownshipStaff => "乡镇防治人员",
        Role::VillageDoctor => "村医",
        Role::Vet => "兽医",
        Role::Planner => "规划人员",
        Role::Viewer => "只读用户",
        Role::StockKeeper => "库管员",
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub jurisdiction: String,
    pub password: String,
    pub demo: bool,
}

/// Which account: by id (the API) or by name (the command line).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Id(i64),
    Name(&'a str),
}

pub async fn find(conn: &mut PgConnection, username: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
    )))
    .bind(username)
    .fetch_optional(conn)
    .await
}

/// The account `target`, locked for the rest of the transaction; 404 when there is none.
async fn locked(conn: &mut PgConnection, target: Target<'_>) -> Result<User, Error> {
    let (id, name) = match target {
        Target::Id(id) => (Some(id), None),
        Target::Name(name) => (None, Some(name)),
    };
    let user: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 OR username = $2 FOR UPDATE"
    )))
    .bind(id)
    .bind(name)
    .fetch_optional(conn)
    .await?;
    user.ok_or_else(|| not_found(target))
}

fn not_found(target: Target<'_>) -> Error {
    match target {
        Target::Id(id) => Error::not_found("user_not_found", format!("no user with id {id}")),
        Target::Name(name) => Error::not_found("user_not_found", format!("no user named {name}")),
    }
}

/// The name of the account's jurisdiction (county, township or village), the account's display
/// name, and whether it must change its password.
pub async fn profile(
    pool: &PgPool,
    user_id: i64,
) -> Result<(String, Option<String>, bool), sqlx::Error> {
    sqlx::query_as(
        "SELECT t.name, u.display_name, u.must_change_password FROM users u
         LEFT JOIN LATERAL (
            SELECT name FROM counties WHERE code = u.jurisdiction
            UNION ALL SELECT name FROM townships WHERE code = u.jurisdiction
            UNION ALL SELECT name FROM villages WHERE code = u.jurisdiction
         ) t ON true
         WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &PgPool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY username"
    )))
    .fetch_all(pool)
    .await
}

/// An account as the administration pages list it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    /// [`role_zh`].
    #[sqlx(skip)]
    pub role_zh: &'static str,
    /// The code of the county, township or village the account answers for.
    pub jurisdiction: String,
    pub jurisdiction_name: Option<String>,
    pub disabled: bool,
    pub demo: bool,
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
    /// The last successful login (from the audit log); `None` for never.
    pub last_login_at: Option<DateTime<Utc>>,
    /// API tokens neither revoked nor expired.
    pub active_tokens: i64,
}

/// Every account (`None`) or one, by username.
async fn read_accounts(pool: &PgPool, id: Option<i64>) -> Result<Vec<Account>, sqlx::Error> {
    let mut accounts: Vec<Account> = sqlx::query_as(
        "SELECT u.id, u.username, u.display_name, u.role, u.jurisdiction,
                (SELECT name FROM counties WHERE code = u.jurisdiction
                 UNION ALL SELECT name FROM townships WHERE code = u.jurisdiction
                 UNION ALL SELECT name FROM villages WHERE code = u.jurisdiction
                 LIMIT 1) AS jurisdiction_name,
                u.disabled, u.demo, u.must_change_password, u.created_at, u.password_changed_at,
                -- The partial index of logins by name (audit_log_login_idx) answers this.
                (SELECT max(a.at) FROM audit_log a
                  WHERE a.username = u.username AND a.action = 'login' AND a.user_id = u.id) AS last_login_at,
                (SELECT count(*) FROM api_tokens t
                  WHERE t.user_id = u.id AND t.revoked_at IS NULL
                    AND (t.expires_at IS NULL OR t.expires_at > now())
                    AND (t.idle_days IS NULL
                         OR COALESCE(t.last_used_at, t.created_at) > now() - make_interval(days => t.idle_days))) AS active_tokens
         FROM users u
         WHERE $1::bigint IS NULL OR u.id = $1
         ORDER BY u.username",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    for a in &mut accounts {
        a.role_zh = role_zh(a.role);
    }
    Ok(accounts)
}

/// Every account, by username.
pub async fn accounts(pool: &PgPool) -> Result<Vec<Account>, sqlx::Error> {
    read_accounts(pool, None).await
}

/// One account; 404 when there is none.
pub async fn account(pool: &PgPool, id: i64) -> Result<Account, Error> {
    read_accounts(pool, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| not_found(Target::Id(id)))
}

/// Usernames: lower-case letters, digits, `_ . -`, 2–64 characters, starting with a letter or
/// digit (the same rule as the CHECK in the schema).
pub fn check_username(name: &str) -> Result<(), Error> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "username",
            "a username has 2–64 characters: lower-case letters, digits, _ . - (starting with a letter or digit)",
        ))
    }
}

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 64;

/// A display name as stored: trimmed, `None` when empty; at most [`MAX_DISPLAY_NAME`]
/// characters and no control characters.
pub fn check_display_name(name: Option<String>) -> Result<Option<String>, Error> {
    let Some(name) = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(Error::field_refused(
            "display_name",
            "too_long",
            json!({ "max": MAX_DISPLAY_NAME }),
            format!(
                "显示名最多 {MAX_DISPLAY_NAME} 个字符 / a display name has at most {MAX_DISPLAY_NAME} characters"
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            "display_name",
            "显示名不能含控制字符 / a display name has no control characters",
        ));
    }
    Ok(Some(name))
}

/// The jurisdiction must be a county, township or village that exists.
async fn check_jurisdiction(conn: &mut PgConnection, code: &str) -> Result<(), Error> {
    let code =
        PlaceCode::parse(code).map_err(|e| Error::invalid_field("jurisdiction", e.to_string()))?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM counties WHERE code = $1)
             OR EXISTS (SELECT 1 FROM townships WHERE code = $1)
             OR EXISTS (SELECT 1 FROM villages WHERE code = $1)",
    )
    .bind(code.as_str())
    .fetch_one(conn)
    .await?;
    if exists {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "jurisdiction",
            format!("no county, township or village has the code {code}"),
        ))
    }
}

pub async fn create(
    pool: &PgPool,
    new: NewUser,
    policy: PasswordPolicy,
    actor: &Actor,
) -> Result<User, Error> {
    check_username(&new.username)?;
    let display_name = check_display_name(new.display_name)?;
    policy
        .check(&new.password, &new.username)
        .map_err(weak_password)?;
    let hash = password::hash(&new.password)?;
    let mut tx = pool.begin().await?;
    check_jurisdiction(&mut tx, &new.jurisdiction).await?;
    let user: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (username, display_name, role, jurisdiction, password_hash, demo)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (username) DO NOTHING
         RETURNING {USER_COLUMNS}"
    )))
    .bind(&new.username)
    .bind(&display_name)
    .bind(new.role)
    .bind(&new.jurisdiction)
    .bind(&hash)
    .bind(new.demo)
    .fetch_optional(&mut *tx)
    .await?;
    let user = user.ok_or_else(|| Error::Conflict {
        code: "user_exists",
        message: format!("a user named {} exists already", new.username),
    })?;
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "user_create",
            table: Some("users"),
            row_id: Some(user.id.to_string()),
            after: Some(audit_view(&user)),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// What a change of an account changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// `Some(None)` (or an empty name) removes the display name.
    pub display_name: Option<Option<String>>,
    pub role: Option<Role>,
    /// A county, township or village code that exists.
    pub jurisdiction: Option<String>,
    /// Disabling ends the account's sessions; its tokens are refused while it is disabled.
    pub disabled: Option<bool>,
}

/// Changes an account ([`Changes`]); audited as `user_update` with the account before and
/// after. Refused (409) when an administrator would disable their own account
/// (`cannot_disable_self`) or when no enabled administrator would be left (`last_admin`).
/// Nothing to change is not an error: the account is answered as it is, and nothing audited.
pub async fn update(
    pool: &PgPool,
    target: Target<'_>,
    changes: Changes,
    actor: &Actor,
) -> Result<User, Error> {
    apply(pool, target, changes, actor, true).await
}

/// [`update`]; `keep_an_admin` false only for the demo accounts, which come and go with
/// `--demo` whatever else exists.
async fn apply(
    pool: &PgPool,
    target: Target<'_>,
    changes: Changes,
    actor: &Actor,
    keep_an_admin: bool,
) -> Result<User, Error> {
    let display_name = changes.display_name.map(check_display_name).transpose()?;
    let mut tx = pool.begin().await?;
    // One change of accounts at a time: the count of administrators left is then exact, and
    // two administrators disabling each other cannot both succeed (nor deadlock).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('echinomap.users'))")
        .execute(&mut *tx)
        .await?;
    let before = locked(&mut tx, target).await?;
    if let Some(code) = &changes.jurisdiction {
        check_jurisdiction(&mut tx, code).await?;
    }
    let after = User {
        display_name: display_name.unwrap_or_else(|| before.display_name.clone()),
        role: changes.role.unwrap_or(before.role),
        jurisdiction: changes
            .jurisdiction
            .unwrap_or_else(|| before.jurisdiction.clone()),
        disabled: changes.disabled.unwrap_or(before.disabled),
        ..before.clone()
    };
    if audit_view(&after) == audit_view(&before) {
        return Ok(before);
    }
    if after.disabled && !before.disabled && actor.user_id == Some(before.id) {
        return Err(Error::Conflict {
            code: "cannot_disable_self",
            message: "不能停用自己的账号 / you cannot disable your own account".to_owned(),
        });
    }
    let was_admin = before.role == Role::Admin && !before.disabled;
    let stays_admin = after.role == Role::Admin && !after.disabled;
    if keep_an_admin && was_admin && !stays_admin {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1",
        )
        .bind(before.id)
        .fetch_one(&mut *tx)
        .await?;
        if others == 0 {
            return Err(Error::Conflict {
                code: "last_admin",
                message: format!(
                    "{} 是唯一启用的系统管理员，不能停用或改变其角色 / {} is the only enabled administrator: it cannot be disabled or given another role",
                    before.username, before.username
                ),
            });
        }
    }
    let user: User = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE users SET display_name = $2, role = $3, jurisdiction = $4, disabled = $5
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    )))
    .bind(before.id)
    .bind(&after.display_name)
    .bind(after.role)
    .bind(&after.jurisdiction)
    .bind(after.disabled)
    .fetch_one(&mut *tx)
    .await?;
    if user.disabled && !before.disabled {
        // The UPDATE above tells the caller cache (NOTIFY on commit): the sessions and tokens
        // of the account are refused from the next request on.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "user_update",
            table: Some("users"),
            row_id: Some(before.id.to_string()),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&user)),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// A password the policy refuses: 422 on the field `password` with the code `weak_password`
/// and the policy's reason (in Chinese and English) as the message.
pub fn weak_password(reason: String) -> Error {
    Error::field_refused("password", "weak_password", json!({}), reason)
}

/// Writes a new password hash on the transaction: lifts every wait of the name after failed
/// logins, ends every session of the account, and audits `password_change` with `detail`.
async fn store_password(
    tx: &mut PgConnection,
    user: &User,
    hash: &str,
    must_change: bool,
    actor: &Actor,
    detail: Option<serde_json::Value>,
) -> Result<(), Error> {
    // A new password lifts every wait of the name, at every address.
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(&user.username)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = now(), locked_until = NULL,
                must_change_password = $3
         WHERE id = $1",
    )
    .bind(user.id)
    .bind(hash)
    .bind(must_change)
    .execute(&mut *tx)
    .await?;
    // A new password ends every session of the account.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        Entry {
            action: "password_change",
            table: Some("users"),
            row_id: Some(user.id.to_string()),
            detail,
            ..Entry::default()
        },
    )
    .await?;
    Ok(())
}

/// Sets the password of `username` (the user's own change, or `echinomap user passwd`): it
/// need not be changed again at the next login.
pub async fn set_password(
    pool: &PgPool,
    username: &str,
    new_password: &str,
    policy: PasswordPolicy,
    actor: &Actor,
) -> Result<(), Error> {
    policy
        .check(new_password, username)
        .map_err(weak_password)?;
    let hash = password::hash(new_password)?;
    let mut tx = pool.begin().await?;
    let user = locked(&mut tx, Target::Name(username)).await?;
    store_password(&mut tx, &user, &hash, false, actor, None).await?;
    tx.commit().await?;
    Ok(())
}

/// An administrator resets the password of the account `user_id`: to `new_password` (checked
/// against `policy`, refused as a 422 on the field `password`), or to a generated one that is
/// returned, once, to be handed over. Either way the user must change it at the next login;
/// the account's sessions end. Audited as `password_change` with `{"for", "generated",
/// "must_change": true}`, never the password.
pub async fn reset_password(
    pool: &PgPool,
    user_id: i64,
    new_password: Option<&str>,
    policy: PasswordPolicy,
    actor: &Actor,
) -> Result<Option<String>, Error> {
    let mut tx = pool.begin().await?;
    let user = locked(&mut tx, Target::Id(user_id)).await?;
    let (password, generated) = match new_password {
        Some(p) => (p.to_owned(), false),
        None => (password::generate(), true),
    };
    policy
        .check(&password, &user.username)
        .map_err(weak_password)?;
    let hash = password::hash(&password)?;
    let detail = json!({ "for": user.username, "generated": generated, "must_change": true });
    store_password(&mut tx, &user, &hash, true, actor, Some(detail)).await?;
    tx.commit().await?;
    Ok(generated.then_some(password))
}

/// Disables or enables `username` (`echinomap user disable|enable`), as [`update`] does.
pub async fn set_disabled(
    pool: &PgPool,
    username: &str,
    disabled: bool,
    actor: &Actor,
) -> Result<(), Error> {
    let changes = Changes {
        disabled: Some(disabled),
        ..Changes::default()
    };
    update(pool, Target::Name(username), changes, actor).await?;
    Ok(())
}

/// Clears every count of failed logins of the name `username` (at every address), so that it
/// logs in at once from anywhere: `echinomap user unlock`. Works for a name without an account
/// too (failures are counted by the name typed); audited as `user_update` with `unlocked`, the
/// number of addresses cleared.
pub async fn unlock(pool: &PgPool, username: &str, actor: &Actor) -> Result<u64, Error> {
    let mut tx = pool.begin().await?;
    let user = find(&mut tx, username).await?;
    let cleared = sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "user_update",
            table: Some("users"),
            row_id: user.map(|u| u.id.to_string()),
            detail: Some(json!({ "for": username, "unlocked": cleared })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cleared)
}

/// An API token as lists show it: never the token, only its first characters (`prefix`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Neither revoked nor expired (nor unused for its `idle_days`).
    pub active: bool,
    /// `api` (made by an administrator or `echinomap user token`) or `wechat` (a mini-program
    /// session, `auth::wechat`).
    pub kind: String,
    /// Refused after this many days without use (mini-program sessions: 30); `None`: never.
    pub idle_days: Option<i32>,
}

/// The API tokens of the account `user_id`, newest first; 404 when there is no such account.
pub async fn tokens(pool: &PgPool, user_id: i64) -> Result<Vec<Token>, Error> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(user_id)
        .fetch_one(pool)
        .await?;
    if !exists {
        return Err(not_found(Target::Id(user_id)));
    }
    Ok(sqlx::query_as(
        "SELECT id, name, prefix, created_at, expires_at, last_used_at, revoked_at,
                revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                  AND (idle_days IS NULL
                       OR COALESCE(last_used_at, created_at) > now() - make_interval(days => idle_days)) AS active,
                kind, idle_days
         FROM api_tokens WHERE user_id = $1 ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

/// A token just made: the token itself is here once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: i64,
    pub name: String,
    pub secret: String,
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The longest a token may be made to last, in days (ten years).
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// A new API token for the account `target`, named `name` (what it is for, 1–100 characters),
/// expiring after `expires_in_days` (1–[`MAX_TOKEN_DAYS`]) or never. Audited as
/// `token_create` with the account, the name and the expiry.
pub async fn issue_token(
    pool: &PgPool,
    target: Target<'_>,
    name: &str,
    expires_in_days: Option<u32>,
    actor: &Actor,
) -> Result<NewToken, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::field_refused(
            "name",
            "required",
            json!({}),
            "令牌需要名称 / a token needs a name (what it is for)",
        ));
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::field_refused(
            "name",
            "too_long",
            json!({ "max": 100 }),
            "令牌名称最多 100 个字符 / a token's name has at most 100 characters",
        ));
    }
    if let Some(days) = expires_in_days
        && !(1..=MAX_TOKEN_DAYS).contains(&days)
    {
        return Err(Error::field_refused(
            "expires_in_days",
            "out_of_range",
            json!({ "min": 1, "max": MAX_TOKEN_DAYS }),
            format!(
                "有效期为 1–{MAX_TOKEN_DAYS} 天 / a token lasts 1–{MAX_TOKEN_DAYS} days (or leave it out: no expiry)"
            ),
        ));
    }
    let secret = token::new_api_token();
    let prefix = secret[..8].to_owned();
    let mut tx = pool.begin().await?;
    let user = locked(&mut tx, target).await?;
    let (id, expires_at): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(days => $5))
         RETURNING id, expires_at",
    )
    .bind(user.id)
    .bind(name)
    .bind(token::digest(&secret))
    .bind(&prefix)
    .bind(expires_in_days.map(|d| d as i32))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "token_create",
            table: Some("api_tokens"),
            row_id: Some(id.to_string()),
            detail: Some(json!({ "for": user.username, "name": name, "expires_at": expires_at })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(NewToken {
        id,
        name: name.to_owned(),
        secret,
        prefix,
        expires_at,
    })
}

/// A new API token for `username` that does not expire (`echinomap user token`); the token
/// itself is returned once and never stored.
pub async fn create_token(
    pool: &PgPool,
    username: &str,
    name: &str,
    actor: &Actor,
) -> Result<(i64, String), Error> {
    let t = issue_token(pool, Target::Name(username), name, None, actor).await?;
    Ok((t.id, t.secret))
}

/// Revokes an active API token: refused from the next request on (the UPDATE tells the caller
/// cache). 404 when no active token has the id. Audited as `token_revoke` with its account and
/// name.
pub async fn revoke_token(pool: &PgPool, token_id: i64, actor: &Actor) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    let revoked: Option<(String, String)> = sqlx::query_as(
        "UPDATE api_tokens t SET revoked_at = now()
         FROM users u
         WHERE t.id = $1 AND t.revoked_at IS NULL AND u.id = t.user_id
         RETURNING u.username, t.name",
    )
    .bind(token_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((username, name)) = revoked else {
        return Err(Error::not_found(
            "token_not_found",
            format!("no active API token with id {token_id}"),
        ));
    };
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "token_revoke",
            table: Some("api_tokens"),
            row_id: Some(token_id.to_string()),
            detail: Some(json!({ "for": username, "name": name })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The password of the demo accounts (README).
pub const DEMO_PASSWORD: &str = "Qapqal-2024";
/// The village of the demo village doctor (宁古齐牛录村, 察布查尔镇).
pub const DEMO_VILLAGE: &str = "654022100200";

/// `(username, role, jurisdiction)` of every demo account.
pub fn demo_accounts() -> Vec<(String, Role, &'static str)> {
    vec![
        ("admin".to_owned(), Role::Admin, "654022"),
        ("epi".to_owned(), Role::Epidemiologist, "654022"),
        ("planner".to_owned(), Role::Planner, "654022"),
        ("vet".to_owned(), Role::Vet, "654022"),
        ("viewer".to_owned(), Role::Viewer, "654022"),
        ("keeper".to_owned(), Role::StockKeeper, "654022"),
        ("ts_654022100".to_owned(), Role::TownshipStaff, "654022100"),
        (
            format!("vd_{DEMO_VILLAGE}"),
            Role::VillageDoctor,
            DEMO_VILLAGE,
        ),
    ]
}

/// The display name of the demo account of `role` (each role has one demo account): made-up
/// people of Qapqal, so that screens and forms name a person, never a username.
pub fn demo_display_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "佟建国",
        Role::Epidemiologist => "王华",
        Role::Planner => "关淑兰",
        Role::Vet => "努尔兰·别克",
        Role::Viewer => "赵敏",
        Role::TownshipStaff => "吴春梅",
        Role::VillageDoctor => "郭永福",
        Role::StockKeeper => "那春生",
    }
}

/// With `--demo`: creates the demo accounts that are missing, re-enables those a start without
/// `--demo` disabled, and gives a display name to those made before they had one.
pub async fn ensure_demo_accounts(pool: &PgPool) -> Result<(), Error> {
    for (username, role, jurisdiction) in demo_accounts() {
        let mut conn = pool.acquire().await?;
        let existing = find(&mut conn, &username).await?;
        drop(conn);
        match existing {
            Some(u) if u.demo => {
                let changes = Changes {
                    disabled: u.disabled.then_some(false),
                    display_name: u
                        .display_name
                        .is_none()
                        .then(|| Some(demo_display_name(role).to_owned())),
                    ..Changes::default()
                };
                apply(pool, Target::Id(u.id), changes, &Actor::system(), false).await?;
            }
            Some(_) => {}
            None => {
                create(
                    pool,
                    NewUser {
                        username,
                        display_name: Some(demo_display_name(role).to_owned()),
                        role,
                        jurisdiction: jurisdiction.to_owned(),
                        password: DEMO_PASSWORD.to_owned(),
                        demo: true,
                    },
                    PasswordPolicy::Default,
                    &Actor::system(),
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Without `--demo`: demo accounts (with their published password) must not work.
pub async fn disable_demo_accounts(pool: &PgPool) -> Result<u64, Error> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE demo AND NOT disabled")
        .fetch_all(pool)
        .await?;
    for id in &ids {
        let changes = Changes {
            disabled: Some(true),
            ..Changes::default()
        };
        apply(pool, Target::Id(*id), changes, &Actor::system(), false).await?;
    }
    Ok(ids.len() as u64)
}

/// First start: when no user exists, creates `admin` (county jurisdiction) with the given
/// password, or a random one that is returned to be printed once.
pub async fn ensure_first_admin(
    pool: &PgPool,
    password: Option<&str>,
    policy: PasswordPolicy,
) -> Result<Option<String>, Error> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
        .fetch_one(pool)
        .await?;
    if any {
        return Ok(None);
    }
    let county: Option<String> =
        sqlx::query_scalar("SELECT code::text FROM counties ORDER BY code LIMIT 1")
            .fetch_optional(pool)
            .await?;
    let jurisdiction = county.unwrap_or_else(|| "654022".to_owned());
    let (password, generated) = match password {
        Some(p) => (p.to_owned(), false),
        None => (password::generate(), true),
    };
    create(
        pool,
        NewUser {
            username: "admin".to_owned(),
            display_name: Some(role_zh(Role::Admin).to_owned()),
            role: Role::Admin,
            jurisdiction,
            password: password.clone(),
            demo: false,
        },
        policy,
        &Actor::system(),
    )
    .await?;
    if generated {
        // A generated password is shown to whoever installed the service: its first use must
        // replace it (the desk's forced change, as for a reset password).
        sqlx::query("UPDATE users SET must_change_password = true WHERE username = 'admin'")
            .execute(pool)
            .await?;
    }
    Ok(generated.then_some(password))
}

/// Whether the first admin (`admin`) still has to replace its password (`None`: no such user).
pub async fn first_admin_must_change_password(pool: &PgPool) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT must_change_password FROM users WHERE username = 'admin'")
        .fetch_optional(pool)
        .await
}

/// The jurisdictions of the enabled accounts, sorted: what the first pages will ask for.
pub async fn enabled_jurisdictions(pool: &PgPool) -> Result<Vec<PlaceCode>, sqlx::Error> {
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT jurisdiction FROM users WHERE NOT disabled ORDER BY 1")
            .fetch_all(pool)
            .await?;
    codes
        .iter()
        .map(|c| PlaceCode::parse(c).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(check_display_name(None).unwrap(), None);
        assert_eq!(check_display_name(Some("  ".into())).unwrap(), None);
        assert_eq!(
            check_display_name(Some(" 王华 ".into()))
                .unwrap()
                .as_deref(),
            Some("王华")
        );
        assert!(check_display_name(Some("王".repeat(65))).is_err());
        assert!(check_display_name(Some("a\u{0}b".into())).is_err());
    }

    #[test]
    fn every_role_has_a_chinese_name_and_a_demo_person() {
        let mut seen = std::collections::HashSet::new();
        for role in Role::ALL {
            assert!(!role_zh(role).is_ascii(), "{role:?}");
            assert!(seen.insert(demo_display_name(role)), "{role:?}");
        }
        assert_eq!(demo_accounts().len(), Role::ALL.len());
    }
}
