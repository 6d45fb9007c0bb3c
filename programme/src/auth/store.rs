//! Accounts and API tokens in the database. Every change is audited in its own transaction.
//! Sessions, logins and the credentials of a request are in [`super::sessions`].

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
    pub password_changed_at: chrono::DateTime<chrono::Utc>,
    pub disabled: bool,
    pub locked_until: Option<chrono::DateTime<chrono::Utc>>,
    pub demo: bool,
}

const USER_COLUMNS: &str = "id, username, display_name, role, jurisdiction, password_hash, password_changed_at, disabled, locked_until, demo";

/// The audited view of an account: never its password hash.
fn audit_view(u: &User) -> serde_json::Value {
    json!({ "username": u.username, "role": u.role, "jurisdiction": u.jurisdiction, "disabled": u.disabled, "display_name": u.display_name })
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

pub async fn find(conn: &mut PgConnection, username: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
    )))
    .bind(username)
    .fetch_optional(conn)
    .await
}

/// The name of the account's jurisdiction (county, township or village) and the account's
/// display name.
pub async fn profile(pool: &PgPool, user_id: i64) -> Result<(String, Option<String>), sqlx::Error> {
    sqlx::query_as(
        "SELECT t.name, u.display_name FROM users u
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
    policy
        .check(&new.password, &new.username)
        .map_err(|m| Error::invalid_field("password", m))?;
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
    .bind(&new.display_name)
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

async fn existing(conn: &mut PgConnection, username: &str) -> Result<User, Error> {
    find(conn, username)
        .await?
        .ok_or_else(|| Error::not_found("user_not_found", format!("no user named {username}")))
}

pub async fn set_password(
    pool: &PgPool,
    username: &str,
    new_password: &str,
    policy: PasswordPolicy,
    actor: &Actor,
) -> Result<(), Error> {
    policy
        .check(new_password, username)
        .map_err(|m| Error::invalid_field("password", m))?;
    let hash = password::hash(new_password)?;
    let mut tx = pool.begin().await?;
    let user = existing(&mut tx, username).await?;
    // A new password lifts every wait of the name, at every address.
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(&user.username)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = now(), locked_until = NULL WHERE id = $1",
    )
    .bind(user.id)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    // A new password ends every session of the account.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "password_change",
            table: Some("users"),
            row_id: Some(user.id.to_string()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_disabled(
    pool: &PgPool,
    username: &str,
    disabled: bool,
    actor: &Actor,
) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    let before = existing(&mut tx, username).await?;
    sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
        .bind(before.id)
        .bind(disabled)
        .execute(&mut *tx)
        .await?;
    if disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
    }
    let after = User {
        disabled,
        ..before.clone()
    };
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "user_update",
            table: Some("users"),
            row_id: Some(before.id.to_string()),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
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

/// A new API token for `username`; the token itself is returned once and never stored.
pub async fn create_token(
    pool: &PgPool,
    username: &str,
    name: &str,
    actor: &Actor,
) -> Result<(i64, String), Error> {
    let secret = token::new_api_token();
    let mut tx = pool.begin().await?;
    let user = existing(&mut tx, username).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user.id)
    .bind(name)
    .bind(token::digest(&secret))
    .bind(&secret[..8])
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "token_create",
            table: Some("api_tokens"),
            row_id: Some(id.to_string()),
            detail: Some(json!({ "for": user.username, "name": name })),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok((id, secret))
}

pub async fn revoke_token(pool: &PgPool, token_id: i64, actor: &Actor) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    let revoked = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if revoked == 0 {
        return Err(Error::not_found(
            "token_not_found",
            format!("no active API token with id {token_id}"),
        ));
    }
    audit::record(
        &mut tx,
        actor,
        Entry {
            action: "token_revoke",
            table: Some("api_tokens"),
            row_id: Some(token_id.to_string()),
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
        ("ts_654022100".to_owned(), Role::TownshipStaff, "654022100"),
        (
            format!("vd_{DEMO_VILLAGE}"),
            Role::VillageDoctor,
            DEMO_VILLAGE,
        ),
    ]
}

/// With `--demo`: creates the demo accounts that are missing and re-enables those a start
/// without `--demo` disabled.
pub async fn ensure_demo_accounts(pool: &PgPool) -> Result<(), Error> {
    for (username, role, jurisdiction) in demo_accounts() {
        let mut conn = pool.acquire().await?;
        match find(&mut conn, &username).await? {
            Some(u) if u.demo && u.disabled => {
                set_disabled(pool, &username, false, &Actor::system()).await?
            }
            Some(_) => {}
            None => {
                create(
                    pool,
                    NewUser {
                        username,
                        display_name: None,
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
    let names: Vec<String> =
        sqlx::query_scalar("SELECT username FROM users WHERE demo AND NOT disabled")
            .fetch_all(pool)
            .await?;
    for name in &names {
        set_disabled(pool, name, true, &Actor::system()).await?;
    }
    Ok(names.len() as u64)
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
            display_name: Some("Administrator".to_owned()),
            role: Role::Admin,
            jurisdiction,
            password: password.clone(),
            demo: false,
        },
        policy,
        &Actor::system(),
    )
    .await?;
    Ok(generated.then_some(password))
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
