//! The append-only audit log. [`record`] takes the same connection (transaction) as the change it
//! records, so that the change and its audit row commit or roll back together.

use serde_json::Value;
use sqlx::PgConnection;

/// Who did it: an account, or the command line / the service itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: String,
}

impl Actor {
    pub fn user(user_id: i64, username: &str) -> Self {
        Self {
            user_id: Some(user_id),
            username: username.to_owned(),
        }
    }

    /// The `echinomap` command line, run by whoever has shell access to the server.
    pub fn cli() -> Self {
        Self {
            user_id: None,
            username: "cli".to_owned(),
        }
    }

    /// The service itself (first start, demo accounts).
    pub fn system() -> Self {
        Self {
            user_id: None,
            username: "system".to_owned(),
        }
    }
}

/// One audit row. `action` is a label of the `audit_action` enum.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub table: Option<&'a str>,
    pub row_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub detail: Option<Value>,
}

pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (user_id, username, action, table_name, row_id, before, after, detail)
         VALUES ($1, $2, $3::audit_action, $4, $5, $6, $7, $8)",
    )
    .bind(actor.user_id)
    .bind(&actor.username)
    .bind(entry.action)
    .bind(entry.table)
    .bind(entry.row_id)
    .bind(entry.before)
    .bind(entry.after)
    .bind(entry.detail)
    .execute(conn)
    .await?;
    Ok(())
}
