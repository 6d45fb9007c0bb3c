//! What `GET /metrics` reads from the database: the data version of every table, the imports
//! recorded by outcome and the database's size. Each is one small statement on the request pool
//! (its time limit applies); the server turns the rows into the exposition format.

use sqlx::PgPool;

/// A table's data version (moved by a statement trigger on every change) and when it last
/// moved, in whole seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DataVersion {
    pub table_name: String,
    pub version: i64,
    pub changed_at: i64,
}

/// Every row of `data_versions`, by table name.
pub async fn data_versions(pool: &PgPool) -> Result<Vec<DataVersion>, sqlx::Error> {
    sqlx::query_as(
        "SELECT table_name, version, extract(epoch FROM changed_at)::bigint AS changed_at \
         FROM data_versions ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
}

/// The finished imports recorded in `imports`, per status (`succeeded`, `refused`, `dry_run`),
/// every status listed (0 when none).
pub async fn imports_by_status(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s::text, count(i.id) \
         FROM unnest(enum_range(NULL::import_status)) AS s \
         LEFT JOIN imports i ON i.status = s \
         GROUP BY s ORDER BY s",
    )
    .fetch_all(pool)
    .await
}

/// The size of the current database on disk, in bytes.
pub async fn database_bytes(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await
}
