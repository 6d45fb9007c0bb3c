//! The database: either the embedded cluster under the data directory, or the server named by
//! `DATABASE_URL` (the production path). Migrations are applied on every start; a database
//! that a newer echinomap migrated (a migration this binary does not know) is refused first,
//! with nothing changed ([`schema_status`]). The embedded cluster's server settings come from
//! [`DbSettings::sizing`] (`crate::sizing`).
//!
//! Every statement has a bounded time (PostgreSQL's `statement_timeout`, set on each pool's
//! connections), by class of work ([`Limits`]): a request's queries on [`Database::pool`]
//! (15 s), a tile's on [`Database::tile_pool`] (10 s), and long work (30 min): an export's stream
//! on [`Database::long_pool`], and the jobs that declare themselves long wherever they run
//! ([`begin_long`]: an import, a demo load, the deworming rollup's fill; migrations too). A
//! statement stopped by its limit is told apart by [`is_statement_timeout`].
//!
//! A request that goes away (hyper drops its future when the client disconnects) does not
//! stop its statement by itself: sqlx returns the connection to the pool, which then waits for
//! the statement to end before it can use the connection again. [`cancel_on_drop`] and
//! [`Cancellable`] cancel the statement instead (`pg_cancel_backend`).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use crate::embedded_pg::{DATABASE_NAME, EmbeddedPg, Keeper, RestartPolicy};
use crate::sizing::{Host, Override, Sizing};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// How long one statement may run, per class of work; zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's statements ([`Database::pool`]).
    pub request: Duration,
    /// A tile's statement ([`Database::tile_pool`]).
    pub tile: Duration,
    /// Long work: an export's stream ([`Database::long_pool`]), the jobs that begin their
    /// transaction with [`begin_long`], migrations.
    pub long: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request: Duration::from_secs(15),
            tile: Duration::from_secs(10),
            long: Duration::from_secs(30 * 60),
        }
    }
}

/// The long limit travels with every connection as this custom setting, so that a job knows
/// it whichever pool runs it ([`begin_long`]).
const LONG_LIMIT_SETTING: &str = "echinomap.long_statement_timeout";

/// A duration as PostgreSQL's `statement_timeout` takes it: whole milliseconds (at least 1
/// unless zero, which turns the limit off).
fn millis(d: Duration) -> u128 {
    if d.is_zero() { 0 } else { d.as_millis().max(1) }
}

/// How to open the database: the statement limits, the embedded cluster's keeper and its
/// server settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbSettings {
    pub limits: Limits,
    pub restart: RestartPolicy,
    /// How the embedded cluster is sized (unused with `DATABASE_URL`); `Small` by default.
    pub sizing: Sizing,
    /// `--pg-setting NAME=VALUE`: replaces one sized setting of the embedded cluster.
    pub pg_settings: Vec<Override>,
}

/// Where the data lives, and the cluster to stop when we stop (if we started it).
#[derive(Debug)]
pub struct Database {
    /// Requests: every statement within [`Limits::request`].
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPg>,
    /// For messages: `embedded cluster at ./var/pg` or the URL without its password.
    pub description: String,
    pub limits: Limits,
}

impl Database {
    /// Connects (starting the embedded cluster if no URL is given) with the default limits,
    /// and applies migrations.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        Self::open_with(database_url, data_dir, DbSettings::default()).await
    }

    /// [`Database::open`] with `settings`.
    pub async fn open_with(
        database_url: Option<&str>,
        data_dir: &Path,
        settings: DbSettings,
    ) -> anyhow::Result<Self> {
        let db = Self::open_unmigrated(database_url, data_dir, settings).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// [`Database::open_with`] without applying migrations: for what must see the database
    /// as it is (`echinomap doctor`, a restore).
    pub async fn open_unmigrated(
        database_url: Option<&str>,
        data_dir: &Path,
        settings: DbSettings,
    ) -> anyhow::Result<Self> {
        let (options, embedded, description) = match database_url {
            Some(url) => {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    anyhow::bail!(
                        "DATABASE_URL must be a postgres:// or postgresql:// URL, got {}",
                        redact_url(url)
                    );
                }
                let options = PgConnectOptions::from_str(url).map_err(|e| {
                    anyhow::anyhow!("DATABASE_URL is not a usable PostgreSQL URL: {e}")
                })?;
                (options, None, format!("DATABASE_URL {}", redact_url(url)))
            }
            None => {
                let dir = data_dir.to_owned();
                let server_settings = crate::sizing::server_settings(
                    settings.sizing,
                    &Host::detect(),
                    &settings.pg_settings,
                );
                tracing::info!(
                    sizing = settings.sizing.as_str(),
                    settings = ?server_settings,
                    "embedded PostgreSQL settings"
                );
                let restart = settings.restart;
                let pg = tokio::task::spawn_blocking(move || {
                    EmbeddedPg::start_sized(&dir, restart, server_settings.into_iter().collect())
                })
                .await
                .context("starting the embedded database")??;
                let description = format!("embedded cluster at {}", pg.pgdata().display());
                (pg.connect_options(DATABASE_NAME), Some(pg), description)
            }
        };
        let limits = settings.limits;
        let pool = connect(
            with_limit(options, limits.request, limits.long),
            &description,
        )
        .await?;
        Ok(Self {
            pool,
            embedded,
            description,
            limits,
        })
    }

    /// A database over an existing pool (tests that build an application state of their own).
    pub fn over_pool(pool: PgPool, description: &str) -> Self {
        Self {
            pool,
            embedded: None,
            description: description.to_owned(),
            limits: Limits::default(),
        }
    }

    /// Applies the migrations on a connection of its own, under the long limit (a migration
    /// may rewrite a large table); the connection is closed after, not returned to the pool.
    /// A database migrated by a newer echinomap (a migration this binary does not know) is
    /// refused before anything is changed ([`SchemaStatus::newer_than_this_binary`]).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let failed = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("applying migrations to {}: {e}", self.description)
        };
        let status = schema_status(&self.pool).await.map_err(|e| failed(&e))?;
        if let Some(refusal) = status.newer_than_this_binary() {
            anyhow::bail!("{}: {refusal}", self.description);
        }
        let mut conn = self.pool.acquire().await.map_err(|e| failed(&e))?.detach();
        let limited = sqlx::query("SELECT set_config('statement_timeout', $1, false)")
            .bind(millis(self.limits.long).to_string())
            .execute(&mut conn)
            .await;
        let result = match limited {
            Ok(_) => MIGRATOR.run(&mut conn).await.map_err(|e| failed(&e)),
            Err(e) => Err(failed(&e)),
        };
        let _ = conn.close().await;
        result
    }

    /// The options of the request pool without their limits, for the other pools.
    fn base_options(&self) -> PgConnectOptions {
        (*self.pool.connect_options()).clone()
    }

    /// A second, small pool for tile queries, with generic plans: the shape of a tile query does
    /// not depend on its parameters (the envelope is computed inside the statement), and
    /// planning each execution again cost as much as running it (0.3 ms of a 0.45 ms z12 tile).
    pub fn tile_pool(&self) -> PgPool {
        // Appended options win over the request pool's (PostgreSQL applies them in order).
        let options = with_limit(self.base_options(), self.limits.tile, self.limits.long)
            .options([("plan_cache_mode", "force_generic_plan")]);
        PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            // No ping before each tile query: it was a second round trip (and a second wake-up
            // of the backend) per tile. A connection broken meanwhile fails that one tile, and
            // is replaced; the map asks again.
            .test_before_acquire(false)
            .connect_lazy_with(options)
    }

    /// A small pool for long statements that a request streams to its client (an export of
    /// every dog of a county takes minutes to download: the statement runs until the last row
    /// is taken). Its statements stop at [`Limits::long`].
    pub fn long_pool(&self) -> PgPool {
        let options = with_limit(self.base_options(), self.limits.long, self.limits.long);
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options)
    }

    /// The keeper of the embedded cluster (none with `DATABASE_URL`, or when another process
    /// owns the cluster).
    pub fn keeper(&self) -> Option<Keeper> {
        self.embedded.as_ref().and_then(EmbeddedPg::keeper)
    }

    /// Closes the pool, then stops the embedded cluster if we run one.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(pg) = self.embedded {
            tokio::task::spawn_blocking(move || pg.stop())
                .await
                .context("stopping the embedded database")??;
        }
        Ok(())
    }
}

/// The database's schema against this binary's migrations ([`MIGRATOR`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The last migration applied (none on an empty database).
    pub applied: Option<i64>,
    /// Migrations of this binary not applied yet (version, description).
    pub pending: Vec<(i64, String)>,
    /// Migrations applied that this binary does not know: a newer echinomap applied them.
    pub unknown: Vec<(i64, String)>,
}

impl SchemaStatus {
    /// The one line that refuses a database a newer echinomap migrated, if it is one.
    pub fn newer_than_this_binary(&self) -> Option<String> {
        let (version, description) = self.unknown.iter().max()?;
        Some(format!(
            "the database was migrated by a newer echinomap (migration {version} \"{description}\" is unknown to echinomap {}, whose last migration is {}); nothing was changed: install the echinomap that migrated it, or a later one",
            env!("CARGO_PKG_VERSION"),
            last_migration().unwrap_or_default()
        ))
    }
}

/// The version of this binary's last migration.
pub fn last_migration() -> Option<i64> {
    MIGRATOR.iter().map(|m| m.version).max()
}

/// Reads `_sqlx_migrations` (absent on a new database) and compares it with [`MIGRATOR`].
pub async fn schema_status(pool: &PgPool) -> Result<SchemaStatus, sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let applied: Vec<(i64, String)> = if exists {
        sqlx::query_as(
            "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(pool)
        .await?
    } else {
        Vec::new()
    };
    let known = |v: i64| MIGRATOR.iter().any(|m| m.version == v);
    Ok(SchemaStatus {
        applied: applied.iter().map(|(v, _)| *v).max(),
        pending: MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect(),
        unknown: applied.into_iter().filter(|(v, _)| !known(*v)).collect(),
    })
}

/// The current value of each server setting in `names` that the server has (as `SHOW` gives
/// it, with its unit), by name.
pub async fn server_settings(
    pool: &PgPool,
    names: &[&str],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1) ORDER BY name",
    )
    .bind(names)
    .fetch_all(pool)
    .await
}

/// `options` whose statements stop after `limit`, knowing the `long` limit for [`begin_long`].
fn with_limit(options: PgConnectOptions, limit: Duration, long: Duration) -> PgConnectOptions {
    options.options([
        ("statement_timeout", millis(limit).to_string()),
        (LONG_LIMIT_SETTING, millis(long).to_string()),
    ])
}

pub async fn connect(options: PgConnectOptions, description: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database ({description}): {e}"))
}

/// Begins a transaction of long work (an import, a demo load, the deworming rollup's fill):
/// its statements may run up to the long limit of `pool`'s connections ([`Limits::long`])
/// instead of the request limit, whichever pool runs the job. On a connection without the
/// setting (a pool not opened by [`Database`]) the limit stays as it is.
pub async fn begin_long(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('statement_timeout',
                coalesce(nullif(current_setting($1, true), ''), current_setting('statement_timeout')),
                true)",
    )
    .bind(LONG_LIMIT_SETTING)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// Whether `e` is a statement stopped before its end: by its time limit (`statement_timeout`)
/// or cancelled (SQLSTATE 57014, `query_canceled`; the message is in the server's language).
pub fn is_statement_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57014"))
}

/// Runs `work` on a connection of `pool` and, if this future is dropped before `work` ends
/// (the client of the request went away), cancels the statement `work` was running, so that
/// the backend stops rather than run to the end (see [`Cancellable`]).
///
/// ```ignore
/// let rows: Vec<(i64, Value)> = db::cancel_on_drop(pool, async |conn| {
///     sqlx::query_as(sql).bind(prefix).fetch_all(conn).await
/// })
/// .await?;
/// ```
pub async fn cancel_on_drop<T, E>(
    pool: &PgPool,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<sqlx::Error>,
{
    let mut conn = Cancellable::acquire(pool).await?;
    let out = work(&mut conn).await;
    conn.done();
    out
}

/// A pooled connection that cancels its running statement when it is dropped before
/// [`Cancellable::done`]: for an expensive read of a request, or a stream. On that drop, a
/// task sends `pg_cancel_backend` for its backend from a connection of its own (the pool may be
/// full of such statements), then closes the connection instead of returning it to the pool
/// (the cancelled statement's error is still on its way).
///
/// Use it as a connection (`&mut *conn`), and call [`Cancellable::done`] when the work is
/// finished, also after an error: a guard dropped without it cancels, which on an idle backend
/// does nothing but costs a connection.
#[derive(Debug)]
pub struct Cancellable {
    conn: Option<PoolConnection<Postgres>>,
    /// The backend serving `conn` (`pg_backend_pid()`, asked once on acquiring).
    pid: i32,
    options: Arc<PgConnectOptions>,
}

/// Connections opened at once to send cancellations (each lives a few milliseconds).
static CANCELLERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

impl Cancellable {
    pub async fn acquire(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Self {
            conn: Some(conn),
            pid,
            options: pool.connect_options(),
        })
    }

    /// The PostgreSQL backend (process id) serving this connection.
    pub fn backend_pid(&self) -> i32 {
        self.pid
    }

    /// The work is finished: the connection returns to the pool as any other.
    pub fn done(mut self) {
        drop(self.conn.take());
    }
}

impl std::ops::Deref for Cancellable {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        // Present until `done` or drop, which consume the guard.
        self.conn.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Cancellable {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Cancellable {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let (pid, options) = (self.pid, self.options.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(cancel_and_close(conn, pid, options));
            }
            // No runtime left (the process is ending): the connection is closed by sqlx.
            Err(_) => {
                let mut conn = conn;
                conn.close_on_drop();
            }
        }
    }
}

/// Cancels what backend `pid` runs, from a connection of its own, then closes `conn`.
async fn cancel_and_close(
    conn: PoolConnection<Postgres>,
    pid: i32,
    options: Arc<PgConnectOptions>,
) {
    let cancelled = async {
        let _permit = CANCELLERS.acquire().await.ok();
        let mut canceller = PgConnection::connect_with(&options).await?;
        let sent: bool = sqlx::query_scalar("SELECT pg_cancel_backend($1)")
            .bind(pid)
            .fetch_one(&mut canceller)
            .await?;
        let _ = canceller.close().await;
        Ok::<_, sqlx::Error>(sent)
    }
    .await;
    match cancelled {
        Ok(sent) => tracing::debug!(
            backend.pid = pid,
            sent,
            "the request went away: its statement was cancelled"
        ),
        Err(e) => tracing::warn!(
            backend.pid = pid,
            error = %e,
            "the request went away, and its statement could not be cancelled"
        ),
    }
    let _ = conn.close().await;
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`: URLs may be logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Limits, cancel_on_drop, millis, redact_url};
    use std::time::Duration;

    #[test]
    fn limits_are_whole_milliseconds_and_zero_means_none() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_micros(10)), 1);
        assert_eq!(millis(Duration::from_secs(15)), 15_000);
        let d = Limits::default();
        assert_eq!(
            (d.request, d.tile, d.long),
            (
                Duration::from_secs(15),
                Duration::from_secs(10),
                Duration::from_secs(1800)
            )
        );
    }

    /// A handler's future must be `Send` (axum, tokio::spawn): so must a read it awaits through
    /// [`cancel_on_drop`].
    #[tokio::test]
    async fn a_cancellable_read_can_run_in_a_request() {
        fn send<T: Send>(t: T) -> T {
            t
        }
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@localhost/none")
            .map(|pool| {
                // As a list read builds it: dynamic SQL, parameters borrowed from the request.
                let prefix = String::from("654022");
                let query = sqlx::query_as::<_, (i64, serde_json::Value)>(sqlx::AssertSqlSafe(
                    format!("SELECT 1::bigint, '{{}}'::jsonb WHERE {} <> ''", "$1"),
                ))
                .bind(&prefix);
                let work = send(cancel_on_drop(&pool, async |conn| {
                    query.fetch_all(conn).await
                }));
                drop(work);
            });
        assert!(pool.is_ok());
    }

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_url("postgres://epi:s3cret@db.local:5432/echinomap"),
            "postgres://epi:***@db.local:5432/echinomap"
        );
        assert_eq!(
            redact_url("postgres://db/echinomap"),
            "postgres://db/echinomap"
        );
    }
}
