//! The embedded default database: a private PostgreSQL + PostGIS cluster under the data
//! directory, reachable only through a unix socket inside its own 0700 data directory.
//!
//! Lifecycle: `initdb` on the first start, `pg_ctl start` on every start (a cluster left running
//! by a killed echinomap is adopted instead), `pg_ctl stop -m fast` on a clean stop. A watchdog
//! (a small shell loop running as the cluster's owner) stops the cluster with `-m immediate` if
//! the owning process dies without stopping it, so a SIGKILL never leaves a PostgreSQL behind.
//!
//! PostgreSQL refuses to run as root; when echinomap is root, the cluster runs as the `postgres`
//! system user (created by Debian's package), which then owns the data directory.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

    fn bin(&self, name: &str) -> PathBuf {
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

/// A running embedded cluster. Call [`EmbeddedPg::stop`] to stop it; if the process dies
/// instead, the watchdog stops it.
#[derive(Debug)]
pub struct EmbeddedPg {
    bins: PgBinaries,
    pgdata: PathBuf,
    run_as: RunAs,
    /// A guest uses a cluster that another live echinomap process started and will stop
    /// (e.g. `echinomap demo-data` beside a running `serve`): it never stops it.
    guest: bool,
    stopped: bool,
}

impl EmbeddedPg {
    /// Initialises (first time) and starts the cluster under `root/pg`, creates the
    /// `echinomap` database, and returns once it accepts connections.
    pub fn start(root: &Path) -> Result<Self, EmbeddedPgError> {
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
        check_writable(&root).map_err(data_dir_err)?;
        let pgdata = root.join("pg");
        let mut this = Self {
            bins,
            pgdata,
            run_as,
            guest: false,
            stopped: false,
        };
        if !this.pgdata.join("PG_VERSION").is_file() {
            this.initdb()?;
        }
        let owner_file = root.join("pg.owner");
        if !this.is_running() {
            this.remove_stale_pid_file();
            this.pg_ctl_start()?;
        } else if let Some(owner) = live_owner(&owner_file) {
            tracing::info!(
                owner.pid = owner,
                "using the embedded cluster of a running echinomap"
            );
            this.guest = true;
        } else {
            tracing::info!(pgdata = %this.pgdata.display(), "adopting a running embedded cluster");
        }
        if !this.guest {
            std::fs::write(&owner_file, std::process::id().to_string()).map_err(|e| {
                EmbeddedPgError::DataDir {
                    path: owner_file.display().to_string(),
                    reason: e.to_string(),
                }
            })?;
            this.spawn_watchdog()?;
        }
        this.create_database()?;
        Ok(this)
    }

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

    fn is_running(&self) -> bool {
        let mut cmd = self.run_as.command(self.bins.bin("pg_ctl"));
        cmd.arg("status").arg("-D").arg(&self.pgdata);
        cmd.status().map(|s| s.success()).unwrap_or(false)
    }

    /// A `postmaster.pid` whose process is gone (a crash, a reboot) would make PostgreSQL
    /// refuse to start if its PID now belongs to another process.
    fn remove_stale_pid_file(&self) {
        let pid_file = self.pgdata.join("postmaster.pid");
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            return;
        };
        let pid = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<i32>().ok());
        let alive_postgres = pid.is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim().starts_with("postgres"))
                .unwrap_or(false)
        });
        if !alive_postgres {
            tracing::warn!(pid_file = %pid_file.display(), "removing a stale postmaster.pid left by a crash");
            let _ = std::fs::remove_file(&pid_file);
        }
    }

    fn pg_ctl_start(&self) -> Result<(), EmbeddedPgError> {
        // log_error_verbosity=terse: PostgreSQL's log gets no DETAIL, CONTEXT or HINT lines,
        // which quote the values of a failing row ("Key (id_number)=(…) already exists",
        // "Failing row contains (…)"): personal data must not reach any log.
        let options = format!(
            "-c listen_addresses='' -k {} -p {SOCKET_PORT} -c fsync=on -c max_connections=100 -c shared_buffers=256MB -c log_error_verbosity=terse",
            self.pgdata.display()
        );
        let mut cmd = self.run_as.command(self.bins.bin("pg_ctl"));
        cmd.arg("start")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(self.pgdata.join("postgresql.log"))
            .args(["-w", "-t", "120", "-o"])
            .arg(options);
        run(cmd, "starting PostgreSQL").map_err(|e| match e {
            EmbeddedPgError::Command { step, .. } => EmbeddedPgError::Command {
                step,
                detail: format!(
                    "{} (from {})",
                    last_line(
                        &std::fs::read(self.pgdata.join("postgresql.log")).unwrap_or_default()
                    ),
                    self.pgdata.join("postgresql.log").display()
                ),
            },
            other => other,
        })
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

    /// Stops the cluster if the process that started it disappears without stopping it. It
    /// stops only the postmaster it was started for: after a clean stop and a new start by
    /// another process, the new cluster is not its business.
    fn spawn_watchdog(&self) -> Result<(), EmbeddedPgError> {
        let postmaster = self.postmaster_pid().unwrap_or(0);
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 0.5; done; \
             [ \"$(head -n 1 '{pgdata}/postmaster.pid' 2>/dev/null)\" = '{postmaster}' ] \
             && '{pg_ctl}' stop -D '{pgdata}' -m immediate -w -t 30 >/dev/null 2>&1; exit 0",
            pid = std::process::id(),
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

    /// Connection options for a database of this cluster, through its socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.pgdata)
            .port(SOCKET_PORT)
            .username("postgres")
            .database(database)
    }

    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// Fast shutdown: active sessions are rolled back, the cluster is left consistent.
    /// A guest leaves the cluster to its owner.
    pub fn stop(mut self) -> Result<(), EmbeddedPgError> {
        self.stopped = true;
        if self.guest {
            return Ok(());
        }
        run(self.stop_command(), "stopping PostgreSQL")
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

impl Drop for EmbeddedPg {
    fn drop(&mut self) {
        if !self.stopped && !self.guest {
            // Best effort: the watchdog covers the cases where we never get here.
            let _ = self.stop_command().status();
        }
    }
}

/// The pid in `pg.owner`, if that process is a live echinomap other than us.
fn live_owner(owner_file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(owner_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if pid == std::process::id() {
        return None;
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    comm.trim().starts_with("echinomap").then_some(pid)
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

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_owned()
}
