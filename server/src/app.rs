//! A built application: a bound listener, an open database with migrations applied, the
//! gazetteer (and, with `--demo`, the demo data) loaded, and the router. Tests build one on
//! port 0 and read [`Application::local_addr`].

use std::future::Future;
use std::net::SocketAddr;

use crate::http::{AppState, router};
use crate::settings::{Secret, Settings};
use echinomap_domain::PlaceCode;
use echinomap_programme::auth::password::PasswordPolicy;
use echinomap_programme::auth::store;
use echinomap_programme::db::Database;

#[derive(Debug)]
pub struct Application {
    listener: tokio::net::TcpListener,
    db: Database,
    password_policy: PasswordPolicy,
    tile_cache_mb: u64,
    programme: std::sync::Arc<echinomap_programme::config::Programme>,
    http: crate::settings::HttpLimits,
    login: crate::settings::LoginSettings,
    /// The data and backup directories `/metrics` reports on.
    metrics_paths: crate::http::metrics::Paths,
    /// HTTPS on `listener` (`http::tls`), and the plain-HTTP listener that only redirects.
    tls: Option<crate::http::tls::Tls>,
    redirect: Option<tokio::net::TcpListener>,
    /// SIGHUP, registered at the start of `build` so that it never ends the process.
    hangup: tokio::signal::unix::Signal,
    /// The WeChat mini-program's code2Session client (or sign-in off).
    wechat: crate::http::wechat::WeChat,
}

/// Demo accounts exist only while the service runs with `--demo`; a database without users
/// gets its first admin.
async fn prepare_accounts(pool: &sqlx::PgPool, settings: &Settings) -> anyhow::Result<()> {
    if settings.demo.is_some() {
        store::ensure_demo_accounts(pool).await.map_err(anyhow_of)?;
    } else {
        let disabled = store::disable_demo_accounts(pool)
            .await
            .map_err(anyhow_of)?;
        if disabled > 0 {
            tracing::warn!(
                accounts = disabled,
                "demo accounts disabled: the service runs without --demo"
            );
        }
    }
    let admin_password = settings.admin_password.as_ref().map(Secret::expose);
    if let Some(generated) =
        store::ensure_first_admin(pool, admin_password, settings.password_policy)
            .await
            .map_err(anyhow_of)?
    {
        // Printed once, to the console only (never to the log), and kept in a file only the
        // service's user can read, for an installation whose console nobody watches (the
        // package: docs/OPERATIONS.md). The first login must replace it.
        // Under systemd standard output is the journal, which others may read: the password
        // is printed only to a terminal.
        use std::io::IsTerminal;
        let file = initial_password_file(settings);
        let here = if std::io::stdout().is_terminal() {
            format!(" (and here: {generated})")
        } else {
            String::new()
        };
        match write_private(&file, &format!("{generated}\n")) {
            Ok(()) => println!(
                "first start: created the user `admin`; its password is in {}{here}; the first login must change it",
                file.display()
            ),
            // Without a file to keep it in, the console is the only place left.
            Err(e) => {
                println!("first start: created the user `admin` with the password {generated}");
                tracing::warn!(file = %file.display(), error = %e, "cannot keep the first admin's password in a file");
            }
        }
        println!("change it with: echinomap user passwd admin");
    } else {
        forget_initial_password(pool, settings).await;
    }
    Ok(())
}

/// `DATA_DIR/initial-admin-password`: the generated password of the first admin, until it is
/// changed.
pub fn initial_password_file(settings: &Settings) -> std::path::PathBuf {
    settings.data_dir.join("initial-admin-password")
}

/// Writes `text` to a new file readable by its owner only (0600 from its creation).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The first admin's generated password stops working when it is changed: its file goes then.
async fn forget_initial_password(pool: &sqlx::PgPool, settings: &Settings) {
    let file = initial_password_file(settings);
    if !file.exists() {
        return;
    }
    if let Ok(Some(false) | None) = store::first_admin_must_change_password(pool).await
        && std::fs::remove_file(&file).is_ok()
    {
        tracing::info!(file = %file.display(), "the first admin's password was changed: its file is removed");
    }
}

fn anyhow_of(e: echinomap_programme::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // The rule set and risk weights first: a bad file stops the start before anything runs.
        let programme = echinomap_programme::config::Programme::load(&settings.programme)?;
        // SIGHUP reloads the certificate (or is logged): its default action would end us.
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| anyhow::anyhow!("cannot handle SIGHUP: {e}"))?;
        // The certificate and key are checked before anything starts too.
        let tls = crate::http::tls::Tls::from_settings(&settings.tls)?;
        let wechat = crate::http::wechat::WeChat::from_settings(&settings.wechat)?;
        // Bind first: a port in use is reported before a database is started for nothing.
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let redirect = match settings.tls.redirect_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?,
            ),
            None => None,
        };
        let db = Database::open_with(
            settings.database_url.as_ref().map(Secret::expose),
            &settings.data_dir,
            settings.database.clone(),
        )
        .await?;
        tracing::info!(database = %db.description, "database ready, migrations applied");
        match &settings.demo {
            Some(demo) => {
                if let Some(stats) =
                    echinomap_programme::demo::load_if_empty(&db.pool, demo, settings.include_xpcc)
                        .await?
                {
                    tracing::info!(
                        rows = stats.total_rows(),
                        seconds = stats.seconds,
                        "demo data loaded"
                    );
                }
            }
            None => {
                echinomap_programme::demo::load_gazetteer_if_empty(&db.pool, settings.include_xpcc)
                    .await?
            }
        }
        echinomap_programme::demo::refresh_h3_cells(&db.pool).await?;
        prepare_accounts(&db.pool, &settings).await?;
        let metrics_paths = crate::http::metrics::Paths {
            backup_dir: Some(settings.backup_dir()),
            data_dir: Some(settings.data_dir.clone()),
        };
        Ok(Self {
            listener,
            db,
            password_policy: settings.password_policy,
            tile_cache_mb: settings.tile_cache_mb,
            programme,
            // With its own TLS, the service tells browsers to come back over HTTPS only.
            http: crate::settings::HttpLimits {
                hsts: settings.http.hsts || tls.is_some(),
                ..settings.http
            },
            login: settings.login,
            metrics_paths,
            tls,
            redirect,
            hangup,
            wechat,
        })
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
        let (state, listener) = app_state_with(
            &self.db,
            self.password_policy,
            self.tile_cache_mb,
            self.programme,
            crate::http::session::Logins::new(&self.login),
            self.metrics_paths,
            self.wechat,
        );
        let tile_pool = state.tile_pool.clone();
        let long_pool = state.long_pool.clone();
        let warm = tokio::spawn(warm_up(state.clone()));
        let app = router(state, &self.http);
        tokio::spawn(crate::http::session::purge_expired_sessions(
            self.db.pool.clone(),
        ));
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(listen = %addr, "echinomap is serving on {scheme}://{addr}/");
        let reload = tokio::spawn(crate::http::tls::reload_on_hangup(
            self.hangup,
            self.tls.clone(),
        ));
        // The redirect listener stops and drains with the main one.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let redirect = self.redirect.map(|listener| {
            let mut stopped = stopped;
            if let Ok(at) = listener.local_addr() {
                tracing::info!(listen = %at, "plain HTTP on {at} redirects to HTTPS");
            }
            tokio::spawn(crate::http::connections::serve(
                listener,
                crate::http::tls::redirect_router(addr.port()),
                self.http.clone(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            ))
        });
        let acceptor = self.tls.as_ref().map(crate::http::tls::Tls::acceptor);
        crate::http::connections::serve_with(self.listener, app, self.http, acceptor, async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await;
        if let Some(redirect) = redirect {
            let _ = redirect.await;
        }
        reload.abort();
        tracing::info!("stopping");
        // The listener holds a pooled connection: stop it before the pool closes.
        listener.abort();
        let _ = listener.await;
        warm.abort();
        let _ = warm.await;
        tile_pool.close().await;
        long_pool.close().await;
        self.db.close().await
    }
}

/// The state every handler shares, over `db`, with its change listener running (the handle:
/// abort it before the pool closes). Tests that mount their own routes in
/// [`crate::http::with_layers`] build it too.
pub fn app_state(
    db: &Database,
    password_policy: PasswordPolicy,
    tile_cache_mb: u64,
    programme: std::sync::Arc<echinomap_programme::config::Programme>,
    logins: crate::http::session::Logins,
    metrics_paths: crate::http::metrics::Paths,
) -> (AppState, tokio::task::JoinHandle<()>) {
    app_state_with(
        db,
        password_policy,
        tile_cache_mb,
        programme,
        logins,
        metrics_paths,
        crate::http::wechat::WeChat::not_configured(),
    )
}

/// [`app_state`] with the WeChat mini-program's sign-in (`settings.wechat`).
pub fn app_state_with(
    db: &Database,
    password_policy: PasswordPolicy,
    tile_cache_mb: u64,
    programme: std::sync::Arc<echinomap_programme::config::Programme>,
    logins: crate::http::session::Logins,
    metrics_paths: crate::http::metrics::Paths,
    wechat: crate::http::wechat::WeChat,
) -> (AppState, tokio::task::JoinHandle<()>) {
    let (watch, listener) = echinomap_programme::watch::Watch::spawn(db.pool.clone());
    let state = AppState::new(crate::http::Shared {
        pool: db.pool.clone(),
        tile_pool: db.tile_pool(),
        long_pool: db.long_pool(),
        keeper: db.keeper(),
        password_policy,
        tile_cache: echinomap_tiles::cache::TileCache::new(tile_cache_mb * 1024 * 1024),
        linker: echinomap_programme::linking::LinkerCache::default(),
        imports: crate::http::imports::Jobs::default(),
        programme,
        watch,
        callers: crate::http::session::CallerCache::default(),
        tile_service: echinomap_programme::tiles::TileService::default(),
        risk: echinomap_programme::risk::RiskCache::default(),
        units: echinomap_programme::hotspots::UnitsCache::default(),
        summaries: echinomap_programme::summary::SummaryCache::default(),
        logins,
        metrics: crate::http::metrics::Metrics::new(metrics_paths),
        wechat,
    });
    (state, listener)
}

/// Work the first page view would otherwise wait for, done while nobody waits: the deworming
/// rollup for the last 24 months (its first fill reads every dose: 40 s at demo scale 100), the
/// village risk of the counties of the enabled accounts, and the register counts of
/// `/api/summary` for the county-level accounts (seconds at scale 100). A request that comes
/// meanwhile waits only for what is left (the rollup refresh is serialised by a lock); a failure
/// is logged and changes nothing.
async fn warm_up(state: AppState) {
    let started = std::time::Instant::now();
    let opts = state.programme.options();
    let result = async {
        echinomap_programme::indicators::rollup::refresh_recent(&state.pool, &opts).await?;
        // The jurisdictions of the enabled accounts: what the first pages ask for.
        let jurisdictions = store::enabled_jurisdictions(&state.pool).await?;
        let mut counties: Vec<PlaceCode> = jurisdictions
            .iter()
            .map(|j| PlaceCode::from(j.county()))
            .collect();
        counties.dedup();
        for county in &counties {
            state.village_risk(county, None, None).await?;
        }
        // Summaries for the county desks only: a count per village account at every start
        // would cost more than it saves (each counts every register of its area).
        for j in jurisdictions
            .iter()
            .filter(|j| matches!(j, PlaceCode::County(_)))
        {
            state.summaries.counts(&state.pool, &state.watch, j).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    match result {
        Ok(()) => tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "warm-up done: deworming rollup and village risk"
        ),
        Err(e) => tracing::warn!(error = %e, "warm-up failed; pages compute on demand"),
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
