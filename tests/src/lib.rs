//! The test harness: a throwaway PostgreSQL + PostGIS cluster per test binary (started on
//! first use, stopped by its watchdog when the test process exits), a fresh database per test
//! cloned from a migrated template, an in-process [`TestApp`] on a free loopback port, and
//! helpers to run the real `echinomap` binary.
//!
//! The cluster is the same [`EmbeddedPg`] the server uses, so the tests exercise the real
//! start-up path, including running as the `postgres` user when the tests run as root.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use echinomap_programme::audit::Actor;
use echinomap_programme::auth::password::PasswordPolicy;
use echinomap_programme::auth::{Role, store};
use echinomap_programme::demo::DemoSettings;
use echinomap_programme::embedded_pg::EmbeddedPg;
use echinomap_server::settings::{Secret, Settings};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

pub use anyhow::Result;

/// The demo's fixed "today" in tests, so that expectations do not move with the calendar.
pub fn demo_today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap_or_default()
}

pub const DEMO_SEED: u64 = 2024;

struct Cluster {
    pg: EmbeddedPg,
    _dir: tempfile::TempDir,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static TEMPLATES: tokio::sync::Mutex<(bool, bool)> = tokio::sync::Mutex::const_new((false, false));
static COUNTER: AtomicU32 = AtomicU32::new(0);

const TEMPLATE_EMPTY: &str = "tmpl_migrated";
const TEMPLATE_DEMO: &str = "tmpl_demo";

/// A directory under the system temp dir that the `postgres` user can traverse (the cluster
/// runs as that user when the tests run as root).
pub fn shared_tempdir() -> tempfile::TempDir {
    shared_tempdir_with_prefix("echinomap-test-")
}

fn shared_tempdir_with_prefix(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("cannot chmod the temp dir: {e}"));
    dir
}

/// Where every test process writes its log (the in-process server's and the spawned
/// binaries'), so that the whole run's logs can be searched for personal data afterwards.
pub fn log_dir() -> PathBuf {
    let dir = workspace_root().join("target").join("test-logs");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Sends this process's tracing output (debug level) to `target/test-logs/`.
pub fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "test".to_owned());
        let path = log_dir().join(format!("{exe}-{}.log", std::process::id()));
        if let Ok(file) = std::fs::File::create(path) {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(TEST_LOG_FILTER))
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .try_init();
        }
    });
}

/// The log filter of every server and command a test starts (written to [`log_dir`]).
pub const TEST_LOG_FILTER: &str = "debug,hyper=info,h2=info";

/// Keeps what a command the test ran printed on stderr with the run's logs.
pub fn keep_log(name: &str, stderr: &[u8]) {
    let path = log_dir().join(format!(
        "{name}-{}-{}.log",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::write(path, stderr);
}

/// A test binary's cluster lives until the process ends (a static is never dropped; the
/// watchdog stops PostgreSQL then). Its directory is removed by the next test process: every
/// `echinomap-cluster-PID-*` directory whose PID is gone, after its PostgreSQL log is copied
/// to [`log_dir`] (also while that cluster still stops: the copy must not wait for it).
pub fn remove_clusters_of_ended_runs() {
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("echinomap-cluster-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        // PostgreSQL's own log joins the run's logs: the personal-data check reads it too.
        let _ = std::fs::copy(
            entry.path().join("pg").join("postgresql.log"),
            log_dir().join(format!("postgresql-{name}.log")),
        );
        if !entry.path().join("pg").join("postmaster.pid").exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Every PostgreSQL log a run may have left under the temp dir, copied to [`log_dir`] as
/// `postgresql-*.log`: the harness clusters of ended test processes
/// ([`remove_clusters_of_ended_runs`]), and the clusters of `echinomap serve --data-dir` that a
/// test or the browser tests started (`echinomap-test-*`, `echinomap-web-*`), which copy their
/// log when they stop, here found even when a test died before it could. Returns how many
/// logs of such data directories were still there.
pub fn collect_postgres_logs() -> usize {
    remove_clusters_of_ended_runs();
    let mut found = 0;
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("echinomap-test-") || name.starts_with("echinomap-web-")) {
            continue;
        }
        // `DIR/pg/postgresql.log` (web) or `DIR/SUB/pg/postgresql.log` (a data dir inside).
        let mut candidates = vec![(String::new(), entry.path().join("pg"))];
        for sub in std::fs::read_dir(entry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let sub_name = sub.file_name().to_string_lossy().into_owned();
            candidates.push((format!("-{sub_name}"), sub.path().join("pg")));
        }
        for (suffix, pgdata) in candidates {
            let log = pgdata.join("postgresql.log");
            if log.is_file() {
                let _ = std::fs::copy(
                    &log,
                    log_dir().join(format!("postgresql-left-{name}{suffix}.log")),
                );
                found += 1;
            }
        }
    }
    found
}

fn cluster() -> &'static Cluster {
    init_logging();
    CLUSTER.get_or_init(|| {
        remove_clusters_of_ended_runs();
        let dir = shared_tempdir_with_prefix(&format!("echinomap-cluster-{}-", std::process::id()));
        let pg = EmbeddedPg::start(dir.path())
            .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL cluster: {e}"));
        Cluster { pg, _dir: dir }
    })
}

fn options(database: &str) -> PgConnectOptions {
    cluster().pg.connect_options(database)
}

/// The test cluster's own log (PostgreSQL's `postgresql.log`).
pub fn cluster_log() -> PathBuf {
    cluster().pg.pgdata().join("postgresql.log")
}

/// A URL for `database` on the test cluster, through its socket directory.
pub fn database_url(database: &str) -> String {
    format!(
        "postgres://postgres@localhost:5432/{database}?host={}",
        cluster().pg.pgdata().display()
    )
}

async fn admin_exec(sql: &str) -> Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options("postgres"))
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// Makes sure the templates exist: migrated, and (when `demo`) with the demo data loaded.
async fn ensure_template(demo: bool) -> Result<&'static str> {
    let mut done = TEMPLATES.lock().await;
    if !done.0 {
        admin_exec(&format!("CREATE DATABASE {TEMPLATE_EMPTY}")).await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options(TEMPLATE_EMPTY))
            .await?;
        echinomap_programme::db::MIGRATOR.run(&pool).await?;
        pool.close().await;
        done.0 = true;
    }
    if demo && !done.1 {
        admin_exec(&format!(
            "CREATE DATABASE {TEMPLATE_DEMO} TEMPLATE {TEMPLATE_EMPTY}"
        ))
        .await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options(TEMPLATE_DEMO))
            .await?;
        echinomap_programme::demo::load(&pool, &demo_settings(), false, false).await?;
        pool.close().await;
        done.1 = true;
    }
    Ok(if demo { TEMPLATE_DEMO } else { TEMPLATE_EMPTY })
}

pub fn demo_settings() -> DemoSettings {
    DemoSettings {
        seed: DEMO_SEED,
        scale: 1,
        today: demo_today(),
    }
}

/// A fresh database of its own for one test: migrated, empty or with the demo data.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn empty() -> Result<Self> {
        Self::from_template(false).await
    }

    pub async fn demo() -> Result<Self> {
        Self::from_template(true).await
    }

    async fn from_template(demo: bool) -> Result<Self> {
        let template = ensure_template(demo).await?;
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        admin_exec(&format!(
            "CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"
        ))
        .await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options(&name))
            .await?;
        Ok(Self { name, pool })
    }

    pub fn url(&self) -> String {
        database_url(&self.name)
    }

    /// A new pool on a database made earlier in this process.
    pub async fn reopen(name: &str) -> Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options(name))
            .await?;
        Ok(Self {
            name: name.to_owned(),
            pool,
        })
    }
}

/// Grows the dog register of `db` to `n` dogs by copying the demo's (as `bench/exports.sh`
/// does): a register large enough for a statement to run for seconds.
pub async fn grow_dogs(db: &TestDb, n: i64) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO dogs (tag, household_id, village_id, kind, sex, birth_year, status, status_on,
                           registered_on, link_method, link_distance_m, created_by)
         SELECT d.tag || '~' || k, d.household_id, d.village_id, d.kind, d.sex, d.birth_year,
                d.status, d.status_on, d.registered_on, d.link_method, d.link_distance_m, 'test'
         FROM dogs d
         CROSS JOIN generate_series(1, ceil({n}::float8 / (SELECT count(*) FROM dogs))::int) k
         ORDER BY k, d.id
         LIMIT greatest({n} - (SELECT count(*) FROM dogs WHERE deleted_at IS NULL), 0)"
    )))
    .execute(&db.pool)
    .await?;
    sqlx::query("ANALYZE dogs").execute(&db.pool).await?;
    Ok(())
}

/// The application, in process, on 127.0.0.1 with a free port, over its own database.
#[derive(Debug)]
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub db: TestDb,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn with_demo() -> Result<Self> {
        Self::spawn(TestDb::demo().await?, None).await
    }

    pub async fn empty() -> Result<Self> {
        Self::spawn(TestDb::empty().await?, None).await
    }

    /// Starts the app; `demo` makes its start-up load the demo data itself.
    pub async fn spawn(db: TestDb, demo: Option<DemoSettings>) -> Result<Self> {
        Self::spawn_with(db, demo, |_| {}).await
    }

    /// Starts the app with settings changed by `tweak`.
    pub async fn spawn_with(
        db: TestDb,
        demo: Option<DemoSettings>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Result<Self> {
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse()?,
            database_url: Some(Secret::new(db.url())),
            demo,
            admin_password: Some(Secret::new(TEST_ADMIN_PASSWORD.to_owned())),
            // Every test logs in from 127.0.0.1, some dozens of times a second: the per-address
            // limit is the login tests' own business (tests/tests/auth.rs sets theirs).
            login: echinomap_server::settings::LoginSettings {
                throttle: echinomap_programme::auth::sessions::Throttle {
                    per_address_per_minute: 1_000_000,
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Settings::defaults()
        };
        tweak(&mut settings);
        let app = echinomap_server::app::Application::build(settings).await?;
        let addr = app.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        Ok(Self {
            addr,
            db,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// An anonymous GET.
    pub async fn get(&self, path: &str) -> Result<reqwest::Response> {
        Ok(self.client.get(self.url(path)).send().await?)
    }

    /// An anonymous GET, expecting `status`, returning the JSON body.
    pub async fn get_json(&self, path: &str, status: u16) -> Result<serde_json::Value> {
        expect_json(self.get(path).await?, "GET", path, status).await
    }

    /// A new account with `role` over `jurisdiction`, and a client that calls as it (with an
    /// API token).
    pub async fn user(&self, role: Role, jurisdiction: &str) -> Result<ApiClient> {
        api_client(
            &self.db.pool,
            &format!("http://{}", self.addr),
            role,
            jurisdiction,
        )
        .await
    }

    /// The county epidemiologist: sees everything but admin pages.
    pub async fn epi(&self) -> Result<ApiClient> {
        self.user(Role::Epidemiologist, "654022").await
    }
}

/// A new account with `role` over `jurisdiction` in the database `pool`, and a client that
/// calls the server at `base` as it (with an API token).
pub async fn api_client(
    pool: &PgPool,
    base: &str,
    role: Role,
    jurisdiction: &str,
) -> Result<ApiClient> {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let username = format!("{}_{n}", role.as_str().replace('_', ""));
    store::create(
        pool,
        store::NewUser {
            username: username.clone(),
            display_name: None,
            role,
            jurisdiction: jurisdiction.to_owned(),
            password: TEST_USER_PASSWORD.to_owned(),
            demo: false,
        },
        PasswordPolicy::Default,
        &Actor::cli(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating {username}: {e}"))?;
    let (token_id, token) = store::create_token(pool, &username, "test", &Actor::cli())
        .await
        .map_err(|e| anyhow::anyhow!("token for {username}: {e}"))?;
    Ok(ApiClient {
        base: base.to_owned(),
        username,
        token,
        token_id,
        client: reqwest::Client::new(),
    })
}

/// The password of accounts made by [`TestApp::user`].
pub const TEST_USER_PASSWORD: &str = "Test-Passw0rd!";
/// The first admin's password in tests.
pub const TEST_ADMIN_PASSWORD: &str = "Admin-Passw0rd!";

async fn expect_json(
    r: reqwest::Response,
    method: &str,
    path: &str,
    status: u16,
) -> Result<serde_json::Value> {
    let got = r.status().as_u16();
    let text = r.text().await?;
    let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{method} {path}: status {got}, body is not JSON ({e}): {text}")
    })?;
    anyhow::ensure!(
        got == status,
        "{method} {path}: status {got}, expected {status}: {body}"
    );
    Ok(body)
}

/// The `X-Data-Version` of an answer.
pub fn data_version(r: &reqwest::Response) -> Result<i64> {
    r.headers()
        .get("x-data-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{}: no X-Data-Version header", r.url().path()))
}

/// Calls the API as one account, with `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    pub base: String,
    pub username: String,
    pub token: String,
    pub token_id: i64,
    pub client: reqwest::Client,
}

impl ApiClient {
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Result<reqwest::Response> {
        Ok(self.request(reqwest::Method::GET, path).send().await?)
    }

    pub async fn get_json(&self, path: &str, status: u16) -> Result<serde_json::Value> {
        expect_json(self.get(path).await?, "GET", path, status).await
    }

    /// A derived answer (risk, the villages tiles' colours) and the data version it shows
    /// (`X-Data-Version`, required).
    pub async fn get_versioned(&self, path: &str) -> Result<(serde_json::Value, i64)> {
        let r = self.get(path).await?;
        let version = data_version(&r)?;
        Ok((expect_json(r, "GET", path, 200).await?, version))
    }

    /// `path` once it shows data newer than `version` (a derived layer recomputes in the
    /// background after a write, within 5 s), as JSON: see [`ApiClient::newer_than`].
    pub async fn get_newer_than(
        &self,
        path: &str,
        version: i64,
    ) -> Result<(serde_json::Value, i64)> {
        let (r, got) = self.newer_than(path, version).await?;
        Ok((expect_json(r, "GET", path, 200).await?, got))
    }

    /// The answer to `path` once its `X-Data-Version` is larger than `version`: asked again
    /// (every 50 ms, for at most 60 s) until then. Every answer on the way must say how long
    /// newer data has waited (`X-Data-Stale-Ms`), and that must be at most 5 s.
    pub async fn newer_than(&self, path: &str, version: i64) -> Result<(reqwest::Response, i64)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let r = self.get(path).await?;
            let got = data_version(&r)?;
            if got > version {
                return Ok((r, got));
            }
            let stale_ms: u64 = r
                .headers()
                .get("x-data-stale-ms")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "GET {path}: an answer older than the data without X-Data-Stale-Ms"
                    )
                })?;
            anyhow::ensure!(
                stale_ms <= 5_000,
                "GET {path}: the answer lags by {stale_ms} ms"
            );
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "GET {path}: still data version {got} after 60 s (waiting for > {version})"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        status: u16,
    ) -> Result<serde_json::Value> {
        let r = self
            .request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await?;
        expect_json(r, "POST", path, status).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The real `echinomap` binary serving a test database on a free loopback port, its log (at
/// [`TEST_LOG_FILTER`]) in [`log_dir`] as `NAME-PORT.log`. Killed when dropped.
#[derive(Debug)]
pub struct BinaryServer {
    pub child: std::process::Child,
    pub base: String,
    /// With its own embedded cluster ([`BinaryServer::start_embedded`]): the data directory.
    pub data_dir: Option<PathBuf>,
    name: String,
    port: u16,
}

impl BinaryServer {
    pub async fn start(db: &TestDb, name: &str) -> Result<Self> {
        Self::spawn(name, &[], &[("DATABASE_URL", db.url().as_str())], None).await
    }

    /// [`BinaryServer::start`] with the variables `env` set too.
    pub async fn start_with_env(db: &TestDb, name: &str, env: &[(&str, &str)]) -> Result<Self> {
        let url = db.url();
        let mut all = vec![("DATABASE_URL", url.as_str())];
        all.extend_from_slice(env);
        Self::spawn(name, &[], &all, None).await
    }

    /// The binary with its own embedded cluster under `data_dir` (`serve --data-dir`, no
    /// `DATABASE_URL`), with the variables `env` set. The cluster's log joins the run's logs
    /// (as `postgresql-NAME-PORT.log`) when the server is dropped.
    pub async fn start_embedded(data_dir: &Path, name: &str, env: &[(&str, &str)]) -> Result<Self> {
        let dir = data_dir.display().to_string();
        Self::spawn(name, &["--data-dir", &dir], env, Some(data_dir)).await
    }

    async fn spawn(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        data_dir: Option<&Path>,
    ) -> Result<Self> {
        let port = free_port();
        let log = std::fs::File::create(log_dir().join(format!("{name}-{port}.log")))?;
        let child = std::process::Command::new(binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env_remove("DATABASE_URL")
            // A configuration in /etc (a host with the package installed) is not the test's.
            .env("ECHINOMAP_CONFIG", "none")
            .env("ECHINOMAP_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD)
            .env("ECHINOMAP_LOG", TEST_LOG_FILTER)
            // A test cluster keeps small fixed settings, whatever the host (a test may ask for
            // `auto` through `env`).
            .env("ECHINOMAP_DATABASE_SIZING", "small")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.map(Path::to_path_buf),
            name: name.to_owned(),
            port,
        };
        // A first start with its own cluster runs initdb and loads the gazetteer.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while reqwest::get(format!("{}/healthz", server.base))
            .await
            .is_err()
        {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Ok(server)
    }

    /// The embedded cluster's data directory (`DATA_DIR/pg`), with [`BinaryServer::start_embedded`].
    pub fn pgdata(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join("pg"))
    }

    /// The server process's resident-size high-water mark (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/{}/status", self.child.id()))
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pgdata) = self.pgdata() {
            // Its cluster's own log joins the run's logs (the personal-data check reads them).
            let _ = std::fs::copy(
                pgdata.join("postgresql.log"),
                log_dir().join(format!("postgresql-{}-{}.log", self.name, self.port)),
            );
        }
    }
}

/// The `echinomap` binary built by `cargo build` (the Makefile builds it before the tests).
pub fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug").join("echinomap");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p echinomap-server` first (make test does)",
        bin.display()
    );
    bin
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Processes whose command line mentions `needle` (e.g. a data directory).
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(raw) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
            if cmd.contains(needle) {
                found.push((pid, cmd));
            }
        }
    }
    found
}

/// Reading what the service answered: report forms (XLSX) and vector tiles, cell by cell.
pub mod read {
    use calamine::{Data, Reader as _, Xlsx};
    use mvt_reader::feature::{Feature, Value as MvtValue};

    /// The rows of a report form's sheet `报表`.
    pub fn sheet(bytes: &[u8]) -> crate::Result<Vec<Vec<Data>>> {
        let mut wb = Xlsx::new(std::io::Cursor::new(bytes.to_vec()))?;
        let range = wb.worksheet_range("报表")?;
        Ok(range.rows().map(<[Data]>::to_vec).collect())
    }

    /// A cell as text (numbers as Rust prints them, blanks empty).
    pub fn cell_text(d: &Data) -> String {
        match d {
            Data::String(s) => s.clone(),
            Data::Float(f) => f.to_string(),
            Data::Int(i) => i.to_string(),
            _ => String::new(),
        }
    }

    /// A cell's number, if it holds one.
    pub fn cell_number(d: &Data) -> Option<f64> {
        match d {
            Data::Float(f) => Some(*f),
            Data::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// A tile feature's numeric property, whatever its MVT type.
    pub fn mvt_number(f: &Feature, key: &str) -> Option<f64> {
        match f.properties.as_ref()?.get(key)? {
            MvtValue::Int(i) | MvtValue::SInt(i) => Some(*i as f64),
            MvtValue::UInt(u) => Some(*u as f64),
            MvtValue::Double(d) => Some(*d),
            MvtValue::Float(x) => Some(f64::from(*x)),
            _ => None,
        }
    }

    /// A tile feature's text property.
    pub fn mvt_text(f: &Feature, key: &str) -> Option<String> {
        match f.properties.as_ref()?.get(key)? {
            MvtValue::String(s) => Some(s.clone()),
            _ => None,
        }
    }
}
