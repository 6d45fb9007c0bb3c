//! The append-only audit log. [`record`] takes the same connection (transaction) as the change it
//! records, so that the change and its audit row commit or roll back together; [`list`] reads
//! the log for administrators, newest first.

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

/// Records, on a connection of its own, that `actor` read one row (`row_id`) of `table`: the
/// single features the OGC API serves by id.
pub async fn record_read(
    pool: &sqlx::PgPool,
    actor: &Actor,
    table: &str,
    row_id: &str,
) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    record(
        &mut conn,
        actor,
        Entry {
            action: "read",
            table: Some(table),
            row_id: Some(row_id.to_owned()),
            ..Entry::default()
        },
    )
    .await
}

/// Which audit rows a page shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The account, or the name typed at a failed login (exactly).
    pub user: Option<String>,
    /// Part of the username or of the account's display name (any case).
    pub q: Option<String>,
    pub table: Option<String>,
    /// The id of one record (with `table`: the history of that record).
    pub record_id: Option<String>,
    pub action: Option<String>,
    /// First day included.
    pub from: Option<chrono::NaiveDate>,
    /// Last day included.
    pub to: Option<chrono::NaiveDate>,
    /// The id of the last row of the previous page: rows older than it.
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// One audit row as the log shows it, with the account's display name (when the row has an
/// account and the account has one).
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct Row {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub action: String,
    pub table_name: Option<String>,
    pub row_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub detail: Option<Value>,
}

/// `text` as a LIKE pattern that matches it literally anywhere.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A page of the log, newest first, and the cursor of the next page.
pub async fn list(
    pool: &sqlx::PgPool,
    filter: &Filter,
) -> Result<(Vec<Row>, Option<i64>), sqlx::Error> {
    let limit = filter.limit;
    let q = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(contains_pattern);
    let mut rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.at, a.user_id, a.username, u.display_name, a.action::text AS action,
                a.table_name, a.row_id, a.before, a.after, a.detail
         FROM audit_log a LEFT JOIN users u ON u.id = a.user_id
         WHERE ($1::text IS NULL OR a.username = $1)
           AND ($2::text IS NULL OR a.table_name = $2)
           AND ($3::text IS NULL OR a.action::text = $3)
           AND ($4::date IS NULL OR a.at >= $4::date)
           AND ($5::date IS NULL OR a.at < $5::date + 1)
           AND ($6::bigint IS NULL OR a.id < $6)
           AND ($8::text IS NULL OR a.row_id = $8)
           AND ($9::text IS NULL OR a.username ILIKE $9 OR u.display_name ILIKE $9)
         ORDER BY a.id DESC
         LIMIT $7",
    )
    .bind(&filter.user)
    .bind(&filter.table)
    .bind(&filter.action)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.cursor)
    .bind(limit + 1)
    .bind(&filter.record_id)
    .bind(q)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows, next_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_text_matches_itself_literally() {
        assert_eq!(contains_pattern("wang"), "%wang%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
