//! The embedded default database: a private PostgreSQL + PostGIS cluster under the data
//! directory, reachable only through a unix socket inside its own 0700 data directory.
//!
//! Lifecycle: `initdb` on the first start, `pg_ctl start` on every start (a cluster left running
//! by a killed echinomap is adopted instead), `pg_ctl stop -m fast` on a clean stop. A watchdog
//! (a small shell loop running as the cluster's owner) stops the cluster with `-m immediate` if
//! the owning process dies without stopping it, so a SIGKILL never leaves a PostgreSQL behind.
//! A keeper (a thread of the owning process) starts the cluster again when its postmaster dies
//! (killed, out of memory): PostgreSQL recovers from its WAL by itself on that start, and the
//! keeper retries with a growing pause (1 s, 2 s, 4 s … up to [`RestartPolicy::max_backoff`]).
//! [`Keeper::report`] says how often it did, when, and what went wrong last (`GET /healthz`).
//!
//! `pg.owner` beside the cluster names the owning echinomap process (first line) and the
//! postmaster it guards (second line, `starting` while a start is under way): a second command
//! on the same data directory uses the running cluster as a guest, and the watchdog stops only
//! the postmaster its process owned.
//!
//! PostgreSQL refuses to run as root; when echinomap is root, the cluster runs as the `postgres`
//! system user (created by Debian's package), which then owns the data directory.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

/// The port only names the socket file (`.s.PGSQL.5432`); no TCP listener is opened.
const SOCKET_PORT: u16 = 5432;
pub const DATABASE_NAME: &str = "echinomap";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    #[error(
        "PostgreSQL server binaries not found (looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin); install them with `apt-get install postgresql postgresql-15-postgis-3`, or set DATABASE_URL to use an existing server"
    )]
    BinariesMissing,
    #[error(
        "PostGIS is not installed for PostgreSQL {major} (no {control}); install it with `apt-get install postgresql-{major}-postgis-3`"
    )]
    PostgisMissing { major: u32, control: String },
    #[error("cannot use data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error(
        "echinomap runs as root, and PostgreSQL refuses to: it needs the unprivileged `postgres` system user (Debian's postgresql package creates it)"
    )]
    NoUnprivilegedUser,
    #[error("{step} failed: {detail}")]
    Command { step: &'static str, detail: String },
}

/// Where the PostgreSQL programs of one major version are.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub bindir: PathBuf,
    pub major: u32,
}

impl PgBinaries {
    /// Finds `initdb`/`pg_ctl` of the newest PostgreSQL that has PostGIS: in
    /// `ECHINOMAP_PG_BINDIR` when set (and only there), else `pg_config --bindir`, then
    /// `/usr/lib/postgresql/*/bin`, newest first.
    pub fn find() -> Result<Self, EmbeddedPgError> {
        let candidates = match std::env::var_os("ECHINOMAP_PG_BINDIR") {
            // An explicit setting is the only place looked at: no silent fallback.
            Some(dir) => vec![PathBuf::from(dir)],
            None => default_bindirs(),
        };
        let mut found_without_postgis: Option<EmbeddedPgError> = None;
        for bindir in candidates {
            if !bindir.join("initdb").is_file() || !bindir.join("pg_ctl").is_file() {
                continue;
            }
            let Some(major) = major_version(&bindir) else {
                continue;
            };
            match postgis_control(&bindir, major) {
                Ok(()) => return Ok(Self { bindir, major }),
                Err(e) => {
                    found_without_postgis.get_or_insert(e);
                }
            }
        }
        Err(found_without_postgis.unwrap_or(EmbeddedPgError::BinariesMissing))
    }

    /// The path of the program `name` (`pg_dump`, `pg_restore` …) of this version.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

fn default_bindirs() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        ));
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    candidates.extend(versioned.into_iter().map(|(_, p)| p));
    candidates
}

fn major_version(bindir: &Path) -> Option<u32> {
    let out = Command::new(bindir.join("pg_ctl"))
        .arg("--version")
        .output()
        .ok()?;
    // "pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2)?;
    version.split('.').next()?.parse().ok()
}

fn postgis_control(bindir: &Path, major: u32) -> Result<(), EmbeddedPgError> {
    // Debian: /usr/lib/postgresql/15/bin → /usr/share/postgresql/15; a source build keeps share
    // beside bin.
    let mut sharedirs = vec![PathBuf::from(format!("/usr/share/postgresql/{major}"))];
    if let Some(prefix) = bindir.parent() {
        sharedirs.push(prefix.join("share/postgresql"));
        sharedirs.push(prefix.join("share"));
    }
    let control = sharedirs
        .iter()
        .map(|d| d.join("extension/postgis.control"))
        .find(|p| p.is_file());
    match control {
        Some(_) => Ok(()),
        None => Err(EmbeddedPgError::PostgisMissing {
            major,
            control: sharedirs[0]
                .join("extension/postgis.control")
                .display()
                .to_string(),
        }),
    }
}

/// Unix user the cluster runs as: ourselves, or `postgres` when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
    switch: bool,
}

impl RunAs {
    fn detect() -> Result<Self, EmbeddedPgError> {
        let me = nix::unistd::geteuid();
        if !me.is_root() {
            return Ok(Self {
                uid: me.as_raw(),
                gid: nix::unistd::getegid().as_raw(),
                switch: false,
            });
        }
        let user = nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .ok_or(EmbeddedPgError::NoUnprivilegedUser)?;
        Ok(Self {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            switch: true,
        })
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        if self.switch {
            cmd.uid(self.uid).gid(self.gid).env("HOME", "/tmp");
        }
        // The cluster's processes must not hold our stdio: a caller reading our output would
        // otherwise never see it end. PostgreSQL logs to its own file.
        cmd.current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGPORT");
        cmd
    }

    fn chown(&self, path: &Path) -> std::io::Result<()> {
        if self.switch {
            std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))?;
        }
        Ok(())
    }
}

/// What starting and stopping one cluster needs: its programs, its directory, its user.
#[derive(Debug, Clone)]
struct Cluster {
    bins: PgBinaries,
    pgdata: PathBuf,
    run_as: RunAs,
    /// Server settings by name (`crate::sizing`), given as `-c` options on every start.
    settings: Vec<(String, String)>,
}

/// A running embedded cluster. Call [`EmbeddedPg::stop`] to stop it; if the process dies
/// instead, the watchdog stops it.
#[derive(Debug)]
pub struct EmbeddedPg {
    cluster: Cluster,
    /// A guest uses a cluster that another live echinomap process started and will stop
    /// (e.g. `echinomap demo-data` beside a running `serve`): it never stops it.
    guest: bool,
    stopped: bool,
    /// Restarts the cluster when its postmaster dies (the owner only).
    keeper: Option<Keeper>,
}

impl EmbeddedPg {
    /// Initialises (first time) and starts the cluster under `root/pg`, creates the
    /// `echinomap` database, and returns once it accepts connections. The keeper restarts it
    /// with the default [`RestartPolicy`].
    pub fn start(root: &Path) -> Result<Self, EmbeddedPgError> {
        Self::start_with(root, RestartPolicy::default())
    }

    /// [`EmbeddedPg::start`], with the keeper's pauses between restart attempts.
    pub fn start_with(root: &Path, restart: RestartPolicy) -> Result<Self, EmbeddedPgError> {
        let small = crate::sizing::server_settings(
            crate::sizing::Sizing::Small,
            &crate::sizing::Host::detect(),
            &[],
        );
        Self::start_sized(root, restart, small.into_iter().collect())
    }

    /// [`EmbeddedPg::start_with`], the cluster running with the server `settings` (by name,
    /// from [`crate::sizing::server_settings`]).
    pub fn start_sized(
        root: &Path,
        restart: RestartPolicy,
        settings: Vec<(String, String)>,
    ) -> Result<Self, EmbeddedPgError> {
        let bins = PgBinaries::find()?;
        let run_as = RunAs::detect()?;
        let data_dir_err = |reason: String| EmbeddedPgError::DataDir {
            path: root.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(root).map_err(|e| data_dir_err(e.to_string()))?;
        let root = root
            .canonicalize()
            .map_err(|e| data_dir_err(e.to_string()))?;
        check_owner(&root).map_err(data_dir_err)?;
        check_writable(&root).map_err(data_dir_err)?;
        let cluster = Cluster {
            bins,
            pgdata: root.join("pg"),
            run_as,
            settings,
        };
        if !cluster.pgdata.join("PG_VERSION").is_file() {
            cluster.initdb()?;
        }
        let owner = OwnerFile(root.join("pg.owner"));
        let mut guest = false;
        if !cluster.is_running() {
            cluster.remove_stale_pid_file();
            // Named as ours before the start: a kill during the start leaves the watchdog a
            // cluster to stop.
            owner.write(None)?;
            cluster.spawn_watchdog(&owner)?;
            cluster.pg_ctl_start()?;
            owner.write(cluster.postmaster_pid())?;
        } else if let Some(pid) = live_owner(&owner.0) {
            tracing::info!(
                owner.pid = pid,
                "using the embedded cluster of a running echinomap"
            );
            guest = true;
        } else {
            tracing::info!(pgdata = %cluster.pgdata.display(), "adopting a running embedded cluster");
            owner.write(cluster.postmaster_pid())?;
            cluster.spawn_watchdog(&owner)?;
        }
        cluster.create_database()?;
        // A guest's keeper waits for the owner to end and then keeps the cluster itself: a
        // `serve` that started while `echinomap backup` owned the cluster must not lose its
        // database when the backup ends and stops it.
        let keeper = Some(if guest {
            Keeper::spawn_successor(cluster.clone(), owner, restart)
        } else {
            Keeper::spawn(cluster.clone(), owner, restart)
        });
        Ok(Self {
            cluster,
            guest,
            stopped: false,
            keeper,
        })
    }

    /// Connection options for a database of this cluster, through its socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.cluster.pgdata)
            .port(SOCKET_PORT)
            .username("postgres")
            .database(database)
    }

    pub fn pgdata(&self) -> &Path {
        &self.cluster.pgdata
    }

    /// One of the cluster's PostgreSQL client programs (`pg_dump`, `pg_restore`, `psql`) of
    /// the cluster's own version, run as the cluster's user (`postgres` when we are root) and
    /// reaching `database` through the cluster's socket as the `postgres` role (PGHOST, PGPORT,
    /// PGUSER and PGDATABASE are set). Its stdin is null and its stdout and stderr are piped:
    /// set them as the caller needs.
    pub fn tool(&self, program: &str, database: &str) -> Command {
        let mut cmd = self.cluster.run_as.command(self.cluster.bins.bin(program));
        cmd.stdout(Stdio::piped())
            .env("PGHOST", &self.cluster.pgdata)
            .env("PGPORT", SOCKET_PORT.to_string())
            .env("PGUSER", "postgres")
            .env("PGDATABASE", database)
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE");
        cmd
    }

    /// The PostgreSQL programs this cluster runs with.
    pub fn binaries(&self) -> &PgBinaries {
        &self.cluster.bins
    }

    /// Whether another live echinomap process started this cluster and keeps it (we only use
    /// it, and leave it running).
    pub fn is_guest(&self) -> bool {
        self.guest
    }

    /// The keeper of this cluster (a guest's waits for the owner to end, then keeps it).
    pub fn keeper(&self) -> Option<Keeper> {
        self.keeper.clone()
    }

    /// Fast shutdown: active sessions are rolled back, the cluster is left consistent.
    /// A guest leaves the cluster to its owner.
    pub fn stop(mut self) -> Result<(), EmbeddedPgError> {
        self.stopped = true;
        // The keeper first: it must not start again the cluster we stop.
        let took_over = self.keeper.take().is_some_and(|keeper| {
            keeper.stop();
            keeper.took_over()
        });
        if self.guest && !took_over {
            return Ok(());
        }
        run(self.cluster.stop_command(), "stopping PostgreSQL")
    }
}

impl Cluster {
    fn initdb(&self) -> Result<(), EmbeddedPgError> {
        tracing::info!(pgdata = %self.pgdata.display(), "initialising the embedded PostgreSQL cluster");
        // A previous initdb that died half way leaves a directory without PG_VERSION.
        if self.pgdata.exists() {
            std::fs::remove_dir_all(&self.pgdata).map_err(|e| EmbeddedPgError::DataDir {
                path: self.pgdata.display().to_string(),
                reason: format!("cannot clear a half-initialised cluster: {e}"),
            })?;
        }
        std::fs::create_dir_all(&self.pgdata).map_err(|e| EmbeddedPgError::DataDir {
            path: self.pgdata.display().to_string(),
            reason: e.to_string(),
        })?;
        std::fs::set_permissions(&self.pgdata, std::fs::Permissions::from_mode(0o700))
            .and_then(|()| self.run_as.chown(&self.pgdata))
            .map_err(|e| EmbeddedPgError::DataDir {
                path: self.pgdata.display().to_string(),
                reason: e.to_string(),
            })?;
        // Trust over the unix socket only: the socket lives inside the 0700 data directory, so
        // only the cluster's owner (and root) can reach it; TCP is off.
        let mut cmd = self.run_as.command(self.bins.bin("initdb"));
        cmd.arg("-D").arg(&self.pgdata).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]);
        run(cmd, "initdb")
    }

    /// Whether the postmaster named by `postmaster.pid` is alive. Not `pg_ctl status`: it
    /// takes a killed postmaster that nobody has reaped yet (a zombie) for a running one.
    fn is_running(&self) -> bool {
        self.postmaster_pid().is_some_and(postgres_alive)
    }

    /// A `postmaster.pid` (or the socket's lock file) whose process is gone (a crash, a
    /// reboot, a kill) would make PostgreSQL refuse to start if its PID still names a process
    /// (another one, or the unreaped zombie of the killed postmaster).
    fn remove_stale_pid_file(&self) {
        if self.is_running() {
            return;
        }
        let socket_lock = self.pgdata.join(format!(".s.PGSQL.{SOCKET_PORT}.lock"));
        for lock in [self.pgdata.join("postmaster.pid"), socket_lock] {
            if lock.exists() {
                tracing::warn!(lock = %lock.display(), "removing a stale lock file left by a crash");
                let _ = std::fs::remove_file(&lock);
            }
        }
    }

    fn pg_ctl_start(&self) -> Result<(), EmbeddedPgError> {
        // Nothing a statement carries may reach PostgreSQL's log (personal data: ID numbers,
        // phones, names):
        // - log_error_verbosity=terse: no DETAIL, CONTEXT or HINT lines, which quote the values
        //   of a failing row ("Key (id_number)=(…) already exists", "Failing row contains (…)");
        // - log_min_error_statement=panic: no STATEMENT line with the text of a failing
        //   statement (its literals);
        // - log_statement=none, log_min_duration_statement=-1: no statement is logged for
        //   itself, and log_parameter_max_length(_on_error)=0: never with its parameters.
        let options = format!(
            "-c listen_addresses='' -k {} -p {SOCKET_PORT} -c fsync=on \
             -c log_error_verbosity=terse -c log_min_error_statement=panic -c log_statement=none \
             -c log_min_duration_statement=-1 -c log_parameter_max_length=0 -c log_parameter_max_length_on_error=0{}",
            self.pgdata.display(),
            setting_options(&self.settings)
        );
        let mut cmd = self.run_as.command(self.bins.bin("pg_ctl"));
        cmd.arg("start")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "120", "-o"])
            .arg(options);
        // What this start writes to the log says why it failed.
        let logged_before = std::fs::metadata(self.log_file()).map_or(0, |m| m.len());
        run(cmd, "starting PostgreSQL").map_err(|e| match e {
            EmbeddedPgError::Command { step, .. } => {
                let log = std::fs::read(self.log_file()).unwrap_or_default();
                let written = log.get(logged_before as usize..).unwrap_or(&log);
                EmbeddedPgError::Command {
                    step,
                    detail: format!(
                        "{} (from {})",
                        why_it_failed(written),
                        self.log_file().display()
                    ),
                }
            }
            other => other,
        })
    }

    fn log_file(&self) -> PathBuf {
        self.pgdata.join("postgresql.log")
    }

    /// The postmaster's PID, from the first line of `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops the cluster if this process disappears without stopping it: the postmaster that
    /// `pg.owner` names while it names this process (or any, while a start is under way). After
    /// a clean stop and a start by another process, which names itself in `pg.owner`, the
    /// cluster is not its business. One watchdog serves every restart by the keeper.
    fn spawn_watchdog(&self, owner: &OwnerFile) -> Result<(), EmbeddedPgError> {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 0.5; done; \
             owner=$(sed -n 1p '{owner}' 2>/dev/null); guarded=$(sed -n 2p '{owner}' 2>/dev/null); \
             running=$(head -n 1 '{pgdata}/postmaster.pid' 2>/dev/null); \
             [ \"$owner\" = '{pid}' ] && [ -n \"$running\" ] && {{ [ \"$guarded\" = starting ] || [ \"$guarded\" = \"$running\" ]; }} \
             && '{pg_ctl}' stop -D '{pgdata}' -m immediate -w -t 30 >/dev/null 2>&1; exit 0",
            pid = std::process::id(),
            owner = owner.0.display(),
            pgdata = self.pgdata.display(),
            pg_ctl = self.bins.bin("pg_ctl").display(),
        );
        let mut cmd = self.run_as.command("/bin/sh");
        cmd.arg("-c").arg(script).stderr(Stdio::null());
        // Its own process group: a Ctrl-C in the terminal must not kill it before we stop.
        cmd.process_group(0);
        cmd.spawn().map_err(|e| EmbeddedPgError::Command {
            step: "starting the cluster watchdog",
            detail: e.to_string(),
        })?;
        Ok(())
    }

    fn create_database(&self) -> Result<(), EmbeddedPgError> {
        let mut cmd = self.run_as.command(self.bins.bin("psql"));
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.pgdata)
            .args([
                "-p",
                &SOCKET_PORT.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ]);
        // \gexec runs only from a script, not from `psql -c`.
        run_with_stdin(
            cmd,
            &format!(
                "SELECT 'CREATE DATABASE {DATABASE_NAME}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE_NAME}') \\gexec\n"
            ),
            "creating the echinomap database",
        )
    }

    fn stop_command(&self) -> Command {
        let mut cmd = self.run_as.command(self.bins.bin("pg_ctl"));
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-t", "60"]);
        cmd
    }
}

/// `pg.owner`: the owning echinomap's pid, then the postmaster's (`starting` before it is
/// known). The watchdog reads it ([`Cluster::spawn_watchdog`]), a second command too
/// ([`live_owner`]).
#[derive(Debug)]
struct OwnerFile(PathBuf);

impl OwnerFile {
    fn write(&self, postmaster: Option<u32>) -> Result<(), EmbeddedPgError> {
        let guarded = postmaster.map_or_else(|| "starting".to_owned(), |p| p.to_string());
        std::fs::write(&self.0, format!("{}\n{guarded}\n", std::process::id())).map_err(|e| {
            EmbeddedPgError::DataDir {
                path: self.0.display().to_string(),
                reason: e.to_string(),
            }
        })
    }
}

/// How the keeper paces its attempts to start a cluster whose postmaster died: the first
/// after `first_backoff`, each next one after twice the pause before, at most `max_backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl RestartPolicy {
    /// The pause after `pause`: twice as long, at most `max_backoff`.
    pub fn next(&self, pause: Duration) -> Duration {
        (pause * 2).min(self.max_backoff)
    }
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// What the keeper did: for `GET /healthz` and the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeeperReport {
    /// Starts of the cluster after its postmaster died, since this process started it.
    pub restarts: u64,
    pub last_restart: Option<chrono::DateTime<chrono::Utc>>,
    /// The last failure seen: the postmaster's death, or a start that failed.
    pub last_error: Option<String>,
}

/// Keeps the embedded cluster running: a thread that looks at the postmaster every second and
/// starts the cluster again when it died. Cloning shares it; [`Keeper::stop`] ends it.
#[derive(Debug, Clone)]
pub struct Keeper {
    shared: Arc<KeeperShared>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

#[derive(Debug, Default)]
struct KeeperShared {
    report: Mutex<KeeperReport>,
    stop: Mutex<bool>,
    wake: Condvar,
    /// A guest's keeper that took the cluster over from its ended owner.
    took_over: std::sync::atomic::AtomicBool,
}

/// How often the keeper looks at the postmaster.
const KEEPER_CHECK: Duration = Duration::from_secs(1);

impl Keeper {
    fn spawn(cluster: Cluster, owner: OwnerFile, policy: RestartPolicy) -> Self {
        let shared = Arc::new(KeeperShared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("pg-keeper".into())
                .spawn(move || keep(&cluster, &owner, policy, &shared))
                .map_err(|e| tracing::error!(error = %e, "cannot start the cluster keeper"))
                .ok()
        };
        Self {
            shared,
            thread: Arc::new(Mutex::new(thread)),
        }
    }

    /// A guest's keeper: waits until the echinomap that owns the cluster has ended, then takes
    /// the cluster over (the owner file, a watchdog of its own) and keeps it like an owner's.
    fn spawn_successor(cluster: Cluster, owner: OwnerFile, policy: RestartPolicy) -> Self {
        let shared = Arc::new(KeeperShared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("pg-keeper".into())
                .spawn(move || {
                    while live_owner(&owner.0).is_some() {
                        if shared.stopped_within(KEEPER_CHECK) {
                            return;
                        }
                    }
                    tracing::warn!(
                        pgdata = %cluster.pgdata.display(),
                        "the echinomap that owned the embedded cluster ended: this one keeps it now"
                    );
                    if let Err(e) = owner.write(cluster.postmaster_pid()) {
                        tracing::error!(error = %e, "cannot name this process the cluster's owner");
                    }
                    if let Err(e) = cluster.spawn_watchdog(&owner) {
                        tracing::error!(error = %e, "cannot start the cluster's watchdog");
                    }
                    shared
                        .took_over
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    keep(&cluster, &owner, policy, &shared);
                })
                .map_err(|e| tracing::error!(error = %e, "cannot start the cluster keeper"))
                .ok()
        };
        Self {
            shared,
            thread: Arc::new(Mutex::new(thread)),
        }
    }

    /// Whether this (guest's) keeper took the cluster over from its ended owner.
    fn took_over(&self) -> bool {
        self.shared
            .took_over
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What the keeper did so far.
    pub fn report(&self) -> KeeperReport {
        self.shared
            .report
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Ends the keeper (waiting for a start it may be running) before the cluster is stopped.
    fn stop(&self) {
        if let Ok(mut stop) = self.shared.stop.lock() {
            *stop = true;
        }
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl KeeperShared {
    /// Waits `pause` unless asked to stop meanwhile; true when asked to stop.
    fn stopped_within(&self, pause: Duration) -> bool {
        let Ok(stop) = self.stop.lock() else {
            return true;
        };
        self.wake
            .wait_timeout_while(stop, pause, |stop| !*stop)
            .map(|(stop, _)| *stop)
            .unwrap_or(true)
    }

    fn update(&self, f: impl FnOnce(&mut KeeperReport)) {
        if let Ok(mut report) = self.report.lock() {
            f(&mut report);
        }
    }
}

/// The keeper's loop: while not stopped, a dead postmaster is followed by start attempts
/// until one succeeds.
fn keep(cluster: &Cluster, owner: &OwnerFile, policy: RestartPolicy, shared: &KeeperShared) {
    let mut postmaster = cluster.postmaster_pid();
    loop {
        if shared.stopped_within(KEEPER_CHECK) {
            return;
        }
        if postmaster.is_some_and(postgres_alive) {
            continue;
        }
        let died = format!(
            "the PostgreSQL postmaster (pid {}) stopped unexpectedly",
            postmaster.map_or_else(|| "unknown".to_owned(), |p| p.to_string())
        );
        tracing::error!(pgdata = %cluster.pgdata.display(), "{died}; starting it again");
        shared.update(|r| r.last_error = Some(died));
        let mut pause = policy.first_backoff;
        loop {
            // A pause before each attempt: the dying backends leave the shared memory first.
            if shared.stopped_within(pause) {
                return;
            }
            match restart(cluster, owner) {
                Ok(pid) => {
                    postmaster = pid;
                    shared.update(|r| {
                        r.restarts += 1;
                        r.last_restart = Some(chrono::Utc::now());
                    });
                    tracing::warn!(
                        postmaster.pid = pid,
                        "the embedded PostgreSQL cluster was started again (crash recovery done)"
                    );
                    break;
                }
                Err(e) => {
                    let message = e.to_string();
                    pause = policy.next(pause);
                    tracing::error!(
                        error = %message,
                        retry_in_s = pause.as_secs_f64(),
                        "the embedded PostgreSQL cluster did not start again"
                    );
                    shared.update(|r| r.last_error = Some(message));
                }
            }
        }
    }
}

/// One attempt to start the cluster after its postmaster died (a running one, started by
/// someone else meanwhile, is taken as it is).
fn restart(cluster: &Cluster, owner: &OwnerFile) -> Result<Option<u32>, EmbeddedPgError> {
    if !cluster.is_running() {
        cluster.remove_stale_pid_file();
        owner.write(None)?;
        cluster.pg_ctl_start()?;
    }
    let pid = cluster.postmaster_pid();
    owner.write(pid)?;
    Ok(pid)
}

/// Whether `pid` is a live PostgreSQL process: not gone, not a zombie nobody reaped yet, and
/// not another program that got the pid since.
fn postgres_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S …": the state follows the last ')'.
    let Some((head, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    let state = rest.trim_start().chars().next().unwrap_or('X');
    comm.starts_with("postgres") && !matches!(state, 'Z' | 'X' | 'x')
}

impl Drop for EmbeddedPg {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let took_over = self.keeper.take().is_some_and(|keeper| {
            keeper.stop();
            keeper.took_over()
        });
        if !self.guest || took_over {
            // Best effort: the watchdog covers the cases where we never get here.
            let _ = self.cluster.stop_command().status();
        }
    }
}

/// The pid on the first line of `pg.owner`, if that process is a live echinomap other than us.
fn live_owner(owner_file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(owner_file)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()?;
    if pid == std::process::id() {
        return None;
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    comm.trim().starts_with("echinomap").then_some(pid)
}

/// `settings` as `-c` options for `pg_ctl -o`, which hands them to a shell: each value is
/// single-quoted (its quotes escaped), names are PostgreSQL's (checked by
/// [`crate::sizing::Override::parse`]).
fn setting_options(settings: &[(String, String)]) -> String {
    settings
        .iter()
        .map(|(name, value)| format!(" -c {name}='{}'", value.replace('\'', "'\\''")))
        .collect()
}

/// A data directory of another user is refused with one line (unless we are root, who may
/// use any and runs the cluster as `postgres`): PostgreSQL would refuse it anyway, later and
/// less clearly, and the service must not take over a directory it was not given.
fn check_owner(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid();
    if me.is_root() {
        return Ok(());
    }
    let owner = std::fs::metadata(dir).map_err(|e| e.to_string())?.uid();
    if owner == me.as_raw() {
        return Ok(());
    }
    let name = |uid: u32| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {uid}"), |u| u.name)
    };
    Err(format!(
        "it belongs to {}, and echinomap runs as {}: run echinomap as {0} (e.g. `sudo -u {0} echinomap …`), or give the directory to {1} (`chown -R {1} {}`); nothing was changed",
        name(owner),
        name(me.as_raw()),
        dir.display()
    ))
}

fn check_writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(".echinomap-write-test");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("not writable ({e})"))
}

fn run(cmd: Command, step: &'static str) -> Result<(), EmbeddedPgError> {
    run_with_stdin(cmd, "", step)
}

/// Runs `cmd` with `input` on its stdin; a failure carries the last line of its stderr.
fn run_with_stdin(
    mut cmd: Command,
    input: &str,
    step: &'static str,
) -> Result<(), EmbeddedPgError> {
    use std::io::Write;
    let failed = |detail: String| EmbeddedPgError::Command { step, detail };
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(last_line(&out.stderr)))
    }
}

/// The last FATAL or PANIC line of what PostgreSQL logged, else its last line.
fn why_it_failed(log: &[u8]) -> String {
    let text = String::from_utf8_lossy(log);
    text.lines()
        .rev()
        .find(|l| l.contains("FATAL:") || l.contains("PANIC:"))
        .map_or_else(|| last_line(log), |l| l.trim().to_owned())
}

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::{RestartPolicy, postgres_alive, why_it_failed};
    use std::time::Duration;

    #[test]
    fn only_a_live_postgres_process_counts_as_a_running_postmaster() {
        // This test process is alive but not PostgreSQL; pid 0 is nobody's.
        assert!(!postgres_alive(std::process::id()));
        assert!(!postgres_alive(0));
    }

    #[test]
    fn a_failed_start_is_explained_by_its_fatal_line() {
        let log = b"LOG:  starting PostgreSQL 15\nFATAL:  lock file \"x.lock\" already exists\nLOG:  database system is shut down\n";
        assert_eq!(
            why_it_failed(log),
            "FATAL:  lock file \"x.lock\" already exists"
        );
        assert_eq!(why_it_failed(b"LOG:  a\nLOG:  b\n"), "LOG:  b");
    }

    #[test]
    fn restarts_back_off_from_one_second_to_thirty() {
        let p = RestartPolicy::default();
        let pauses: Vec<u64> = std::iter::successors(Some(p.first_backoff), |d| Some(p.next(*d)))
            .take(7)
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(p.max_backoff, Duration::from_secs(30));
    }
}
