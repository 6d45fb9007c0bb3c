//! The manifest of a backup: what the database held when the backup was taken, table by table
//! (its row count and a content hash), and the dump's size and sha256.
//!
//! The content hash of a table is computed in SQL and does not depend on the order of its
//! rows: the sum, as an exact `numeric`, of `hashtextextended(row::text, 0)` over its rows
//! (the 64-bit hash PostgreSQL's hash partitioning uses, which must stay the same across
//! versions; twice as fast as md5 here, where the hash costs as much as the dump itself). The
//! text of a row depends on the session's settings (time zone, date and interval styles, float
//! digits, bytea output): every computation fixes them first, so that the same rows give the
//! same hash on any (little-endian) server. Tables that belong to an extension (PostGIS's
//! `spatial_ref_sys`) are left out: their rows come from the extension's installed version,
//! not from echinomap, and pg_dump does not carry them.

use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, PgPool};

/// The manifest's format; a newer one is refused by an older echinomap.
pub const FORMAT: u32 = 1;

/// What `manifest.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The echinomap that took the backup.
    pub echinomap_version: String,
    /// The last migration applied to the database (none for a database never migrated).
    pub schema_version: Option<i64>,
    /// The time of the snapshot the dump and the tables were read in (UTC).
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// `SHOW server_version` of the database backed up.
    pub postgres_version: String,
    /// Every table of the public schema, by name.
    pub tables: Vec<TableDigest>,
    /// The dump in the archive.
    pub dump: DumpDigest,
    /// The configuration files in the archive (`config/echinomap.toml`, `config/secrets.toml`).
    pub config: Vec<String>,
}

/// One table's row count and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDigest {
    pub table: String,
    pub rows: i64,
    /// The sum of each row's 64-bit hash, in decimal.
    pub hash: String,
}

/// The dump's file name in the archive, size and sha256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpDigest {
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

/// The session settings the text of a row depends on, fixed for the transaction.
const STABLE_TEXT: &str =
    "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true),
        set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true),
        set_config('bytea_output', 'hex', true), set_config('statement_timeout', '0', true)";

/// The tables of the public schema that echinomap's data lives in (not an extension's), the
/// largest first (so that parallel work ends together).
pub async fn tables(conn: &mut PgConnection) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.objid = c.oid AND d.deptype = 'e')
         ORDER BY pg_relation_size(c.oid) DESC, c.relname",
    )
    .fetch_all(conn)
    .await
}

/// A SQL identifier, quoted.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One table's digest, in the connection's current transaction (whose settings
/// [`STABLE_TEXT`] fixed).
async fn table_digest(conn: &mut PgConnection, table: &str) -> sqlx::Result<TableDigest> {
    // The alias is a whole-row reference unless the table has a column of that name.
    let sql = format!(
        "SELECT count(*), coalesce(sum(hashtextextended(echinomap_row_::text COLLATE \"C\", 0)), 0)::text
         FROM public.{} echinomap_row_",
        quote_ident(table)
    );
    let (rows, hash): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(conn)
        .await?;
    Ok(TableDigest {
        table: table.to_owned(),
        rows,
        hash,
    })
}

/// Every table's digest, as the database holds it now (one consistent snapshot), sorted by
/// table name.
pub async fn compute(pool: &PgPool) -> sqlx::Result<Vec<TableDigest>> {
    compute_in(pool, None, 1).await
}

/// Every table's digest, sorted by table name, on `workers` connections of `pool` that all
/// read the same snapshot: the one exported as `snapshot` (`pg_export_snapshot()`) when given,
/// else a new one taken by the first connection and shared with the others.
pub async fn compute_in(
    pool: &PgPool,
    snapshot: Option<&str>,
    workers: usize,
) -> sqlx::Result<Vec<TableDigest>> {
    let mut first = pool.acquire().await?.detach();
    let mut tx = first.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let snapshot = match snapshot {
        Some(id) => {
            import_snapshot(&mut tx, id).await?;
            id.to_owned()
        }
        None => {
            sqlx::query_scalar("SELECT pg_export_snapshot()")
                .fetch_one(&mut *tx)
                .await?
        }
    };
    sqlx::query(STABLE_TEXT).execute(&mut *tx).await?;
    let names = tables(&mut tx).await?;
    let queue = std::sync::Mutex::new(names.into_iter());
    let next = || queue.lock().ok().and_then(|mut q| q.next());
    let work = async |conn: &mut PgConnection| -> sqlx::Result<Vec<TableDigest>> {
        let mut done = Vec::new();
        while let Some(table) = next() {
            done.push(table_digest(conn, &table).await?);
        }
        Ok(done)
    };
    let others = (1..workers.max(1)).map(|_| async {
        let mut conn = pool.acquire().await?.detach();
        let result: sqlx::Result<Vec<TableDigest>> = async {
            let mut tx = conn.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            import_snapshot(&mut tx, &snapshot).await?;
            sqlx::query(STABLE_TEXT).execute(&mut *tx).await?;
            let done = work(&mut tx).await?;
            tx.commit().await?;
            Ok(done)
        }
        .await;
        let _ = conn.close().await;
        result
    });
    let (mine, theirs) = tokio::join!(work(&mut tx), futures_util::future::join_all(others));
    let mut all = mine?;
    for done in theirs {
        all.extend(done?);
    }
    tx.commit().await?;
    let _ = first.close().await;
    all.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(all)
}

async fn import_snapshot(conn: &mut PgConnection, id: &str) -> sqlx::Result<()> {
    // SET TRANSACTION SNAPSHOT takes no parameters; the id is checked to be what
    // pg_export_snapshot() returns (hex digits and dashes).
    if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(sqlx::Error::Protocol(format!("not a snapshot id: {id:?}")));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SET TRANSACTION SNAPSHOT '{id}'"
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// The first difference between what a backup's manifest says and what a database holds:
/// a table missing, a table too many, or a table whose count or hash differs.
pub fn first_difference(expected: &[TableDigest], found: &[TableDigest]) -> Option<String> {
    for want in expected {
        match found.iter().find(|f| f.table == want.table) {
            None => return Some(format!("table {} is missing", want.table)),
            Some(got) if got.rows != want.rows => {
                return Some(format!(
                    "table {} has {} rows, the backup {}",
                    want.table, got.rows, want.rows
                ));
            }
            Some(got) if got.hash != want.hash => {
                return Some(format!(
                    "table {} has other content than the backup ({} rows each, content hash {} instead of {})",
                    want.table, got.rows, got.hash, want.hash
                ));
            }
            Some(_) => {}
        }
    }
    found
        .iter()
        .find(|f| !expected.iter().any(|e| e.table == f.table))
        .map(|f| format!("table {} is not in the backup", f.table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(table: &str, rows: i64, hash: &str) -> TableDigest {
        TableDigest {
            table: table.to_owned(),
            rows,
            hash: hash.to_owned(),
        }
    }

    #[test]
    fn a_difference_names_the_table() {
        let backup = [digest("dogs", 3, "10"), digest("cases", 1, "7")];
        assert_eq!(first_difference(&backup, &backup), None);
        let fewer = [digest("dogs", 2, "10"), digest("cases", 1, "7")];
        assert!(
            first_difference(&backup, &fewer)
                .is_some_and(|d| d.starts_with("table dogs has 2 rows"))
        );
        let other = [digest("dogs", 3, "11"), digest("cases", 1, "7")];
        assert!(
            first_difference(&backup, &other)
                .is_some_and(|d| d.contains("table dogs has other content"))
        );
        assert_eq!(
            first_difference(&backup, &backup[..1]),
            Some("table cases is missing".to_owned())
        );
        let more = [
            digest("dogs", 3, "10"),
            digest("cases", 1, "7"),
            digest("x", 0, "0"),
        ];
        assert_eq!(
            first_difference(&backup, &more),
            Some("table x is not in the backup".to_owned())
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("dogs"), "\"dogs\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
