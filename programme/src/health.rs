//! Whether the database answers, and with which PostgreSQL and PostGIS (`GET /healthz`).

use sqlx::PgPool;

/// The versions a working database reports.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DatabaseVersions {
    pub postgres: String,
    pub postgis: String,
}

/// Asks the database for its PostgreSQL and PostGIS versions: an answer means it is reachable
/// and has PostGIS. The caller bounds the wait.
pub async fn probe(pool: &PgPool) -> Result<DatabaseVersions, sqlx::Error> {
    sqlx::query_as(
        "SELECT current_setting('server_version') AS postgres, postgis_lib_version() AS postgis",
    )
    .fetch_one(pool)
    .await
}
