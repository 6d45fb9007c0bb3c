//! The database: either the embedded cluster under the data directory, or the server named by
//! `DATABASE_URL` (the production path). Migrations are applied on every start.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::embedded_pg::{DATABASE_NAME, EmbeddedPg};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Where the data lives, and the cluster to stop when we stop (if we started it).
#[derive(Debug)]
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPg>,
    /// For messages: `embedded cluster at ./var/pg` or the URL without its password.
    pub description: String,
}

impl Database {
    /// Connects (starting the embedded cluster if no URL is given) and applies migrations.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
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
                let pg = tokio::task::spawn_blocking(move || EmbeddedPg::start(&dir))
                    .await
                    .context("starting the embedded database")??;
                let description = format!("embedded cluster at {}", pg.pgdata().display());
                (pg.connect_options(DATABASE_NAME), Some(pg), description)
            }
        };
        let pool = connect(options, &description).await?;
        let db = Self {
            pool,
            embedded,
            description,
        };
        db.migrate().await?;
        Ok(db)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| anyhow::anyhow!("applying migrations to {}: {e}", self.description))
    }

    /// A second, small pool for tile queries, with generic plans: the shape of a tile query does
    /// not depend on its parameters (the envelope is computed inside the statement), and
    /// planning each execution again cost as much as running it (0.3 ms of a 0.45 ms z12 tile).
    pub fn tile_pool(&self) -> PgPool {
        let options = (*self.pool.connect_options())
            .clone()
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

pub async fn connect(options: PgConnectOptions, description: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database ({description}): {e}"))
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
    use super::redact_url;

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
