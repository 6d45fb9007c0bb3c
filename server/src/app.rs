//! A built application: a bound listener, an open database with migrations applied, the
//! gazetteer (and, with `--demo`, the demo data) loaded, and the router. Tests build one on
//! port 0 and read [`Application::local_addr`].

use std::future::Future;
use std::net::SocketAddr;

use crate::db::Database;
use crate::http::{AppState, router};
use crate::settings::{Secret, Settings};

#[derive(Debug)]
pub struct Application {
    listener: tokio::net::TcpListener,
    db: Database,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Bind first: a port in use is reported before a database is started for nothing.
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let db = Database::open(
            settings.database_url.as_ref().map(Secret::expose),
            &settings.data_dir,
        )
        .await?;
        tracing::info!(database = %db.description, "database ready, migrations applied");
        match &settings.demo {
            Some(demo) => {
                if let Some(stats) =
                    crate::demo::load_if_empty(&db.pool, demo, settings.include_xpcc).await?
                {
                    tracing::info!(
                        rows = stats.total_rows(),
                        seconds = stats.seconds,
                        "demo data loaded"
                    );
                }
            }
            None => crate::demo::load_gazetteer_if_empty(&db.pool, settings.include_xpcc).await?,
        }
        Ok(Self { listener, db })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.db.pool
    }

    /// Serves until `shutdown` completes, then drains connections and stops the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        let app = router(AppState {
            pool: self.db.pool.clone(),
        });
        tracing::info!(listen = %addr, "echinomap is serving on http://{addr}/");
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        tracing::info!("stopping");
        let closed = self.db.close().await;
        served.map_err(|e| anyhow::anyhow!("server error: {e}"))?;
        closed
    }
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
