//! Backups of the database and the configuration, and their restore.
//!
//! A backup is one tar file named `echinomap-backup-YYYYMMDDTHHMMSSZ.tar` (UTC, the time the
//! snapshot was taken) holding `database.dump` (`pg_dump -Fc` of an exported snapshot),
//! `manifest.json` (per table of the public schema its row count and an order-independent content
//! hash computed in SQL in the same snapshot, and the dump's sha256 and size), and the
//! configuration files under `config/`. PostgreSQL's own tools do the dumping and the restoring.

pub mod archive;
pub mod manifest;
pub mod retention;

use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use crate::embedded_pg::{DATABASE_NAME, EmbeddedPg, PgBinaries};
pub use archive::{ArchiveError, Verified};
pub use manifest::{Manifest, TableDigest};
pub use retention::Retention;

/// The prefix of every backup file name.
pub const FILE_PREFIX: &str = "echinomap-backup-";
/// The suffix of every finished backup file name.
pub const FILE_SUFFIX: &str = ".tar";
/// The time format between prefix and suffix (UTC, basic ISO 8601).
pub const TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// A finished backup file found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    /// The archive's path.
    pub path: PathBuf,
    /// When the backup's snapshot was taken (from the file name).
    pub taken_at: DateTime<Utc>,
}

/// The file name of a backup taken at `at` (seconds precision).
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{FILE_PREFIX}{}{FILE_SUFFIX}", at.format(TIME_FORMAT))
}

/// The time a backup file name stands for, or `None` when the name is not a finished backup's
/// (a `.partial` file, or anything else).
pub fn parse_file_name(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
    let naive = NaiveDateTime::parse_from_str(stamp, TIME_FORMAT).ok()?;
    Some(naive.and_utc())
}

/// Every finished backup in `dir`, oldest first. A missing or unreadable directory has none.
pub fn list(dir: &Path) -> Vec<BackupFile> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<BackupFile> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let taken_at = parse_file_name(entry.file_name().to_str()?)?;
            entry.file_type().ok()?.is_file().then(|| BackupFile {
                path: entry.path(),
                taken_at,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        a.taken_at
            .cmp(&b.taken_at)
            .then_with(|| a.path.cmp(&b.path))
    });
    found
}

/// The newest finished backup in `dir` (by the time in its name), if any.
pub fn latest(dir: &Path) -> Option<BackupFile> {
    list(dir).pop()
}

/// The database a backup is taken of or restored into.
#[derive(Debug, Clone, Copy)]
pub enum Db<'a> {
    /// The `echinomap` database of a running embedded cluster: the tools run as the cluster's
    /// user, through its socket.
    Embedded(&'a EmbeddedPg),
    /// A server named by a `postgres://` URL: the tools run as we do, with the URL's password
    /// in `PGPASSWORD` (never on a command line).
    Url(&'a str),
}

impl Db<'_> {
    /// `program` (`pg_dump`, `pg_restore`) of the right PostgreSQL, ready to reach the database.
    fn tool(&self, program: &str) -> anyhow::Result<Command> {
        match self {
            Db::Embedded(pg) => Ok(pg.tool(program, DATABASE_NAME)),
            Db::Url(url) => {
                // The newest installed PostgreSQL's tools (they read older servers); else PATH.
                let path = PgBinaries::find()
                    .map(|b| b.bin(program))
                    .ok()
                    .filter(|p| p.is_file())
                    .unwrap_or_else(|| PathBuf::from(program));
                let mut parsed = url::Url::parse(url)
                    .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a usable URL: {e}"))?;
                let password = parsed.password().map(|p| {
                    percent_encoding::percent_decode_str(p)
                        .decode_utf8_lossy()
                        .into_owned()
                });
                let _ = parsed.set_password(None);
                let mut cmd = Command::new(path);
                cmd.arg(format!("--dbname={parsed}"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .env_remove("PGPASSWORD");
                if let Some(p) = password {
                    cmd.env("PGPASSWORD", p);
                }
                Ok(cmd)
            }
        }
    }

    fn connect_options(&self) -> anyhow::Result<PgConnectOptions> {
        match self {
            Db::Embedded(pg) => Ok(pg.connect_options(DATABASE_NAME)),
            Db::Url(url) => PgConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a usable PostgreSQL URL: {e}")),
        }
    }

    async fn pool(&self, connections: u32) -> anyhow::Result<PgPool> {
        // The manifest's statements read whole tables: no time limit, and not logged as slow.
        let options =
            sqlx::ConnectOptions::disable_statement_logging(self.connect_options()?.options([
                ("statement_timeout", "0"),
                ("idle_in_transaction_session_timeout", "0"),
            ]));
        PgPoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))
    }
}

/// Starts (or joins) the embedded cluster under `data_dir` with the sizing of `settings`, without
/// migrating: a backup reads the database as it is, a restore needs it empty.
pub async fn start_embedded(
    data_dir: &Path,
    settings: &crate::db::DbSettings,
) -> anyhow::Result<EmbeddedPg> {
    let server_settings = crate::sizing::server_settings(
        settings.sizing,
        &crate::sizing::Host::detect(),
        &settings.pg_settings,
    );
    let (dir, restart) = (data_dir.to_owned(), settings.restart);
    let pg = tokio::task::spawn_blocking(move || {
        EmbeddedPg::start_sized(&dir, restart, server_settings.into_iter().collect())
    })
    .await
    .context("starting the embedded database")??;
    Ok(pg)
}

/// Stops the embedded cluster if this process started it.
pub async fn stop_embedded(pg: EmbeddedPg) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || pg.stop())
        .await
        .context("stopping the embedded database")??;
    Ok(())
}

/// What `echinomap backup` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Where the archive is written (created 0700 if missing).
    pub dest: PathBuf,
    /// A second directory the finished archive is copied to.
    pub copy_dir: Option<PathBuf>,
    /// The configuration file the running echinomap read, archived as `config/echinomap.toml`.
    pub config_file: Option<PathBuf>,
    /// The secrets file, archived as `config/secrets.toml` (only when asked to).
    pub secrets_file: Option<PathBuf>,
    /// Apply the retention to both directories after the backup.
    pub prune: bool,
    /// Connections that compute the manifest beside pg_dump (at least 1).
    pub manifest_workers: usize,
}

/// What a backup wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub copy: Option<PathBuf>,
    pub manifest: Manifest,
    /// Archives removed by the retention, in both directories.
    pub pruned: Vec<PathBuf>,
}

/// Takes a backup of `db`: pg_dump and the manifest read the same snapshot, exported by a
/// REPEATABLE READ transaction held open until both are done; the archive appears under its
/// final name only when complete and synced.
pub async fn take(db: Db<'_>, options: &BackupOptions) -> anyhow::Result<BackupReport> {
    let dest = &options.dest;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dest)
        .with_context(|| format!("cannot create the backup directory {}", dest.display()))?;
    let _lock = lock(dest)?;
    remove_partials(dest);
    let mut configs: Vec<(&str, Vec<u8>)> = Vec::new();
    for (name, file) in [
        (archive::CONFIG, &options.config_file),
        (archive::SECRETS, &options.secrets_file),
    ] {
        if let Some(file) = file {
            let content = std::fs::read(file)
                .with_context(|| format!("cannot read {} for the backup", file.display()))?;
            configs.push((name, content));
        }
    }

    let workers = options.manifest_workers.max(1);
    let pool = db.pool(u32::try_from(workers).unwrap_or(4) + 1).await?;
    let mut holder = pool.acquire().await?.detach();
    let mut tx = holder.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (snapshot, taken_at, postgres_version): (String, DateTime<Utc>, String) = sqlx::query_as(
        "SELECT pg_export_snapshot(), date_trunc('second', now()), current_setting('server_version')",
    )
    .fetch_one(&mut *tx)
    .await?;
    let schema_version: Option<i64> = sqlx::query_scalar(
        "SELECT CASE WHEN to_regclass('public._sqlx_migrations') IS NOT NULL
                THEN (xpath('/row/v/text()', query_to_xml(
                      'SELECT max(version) AS v FROM public._sqlx_migrations WHERE success', false, true, '')))[1]::text::bigint
                END",
    )
    .fetch_one(&mut *tx)
    .await?;
    // An empty cluster (a mistyped data_dir made a new one) backed up as if it were the
    // county's data would push the real backups out of the retention.
    anyhow::ensure!(
        schema_version.is_some(),
        "the database has no echinomap schema (no migration applied): it is not echinomap's database (a wrong data_dir or database_url?); nothing was written"
    );

    let path = dest.join(file_name(taken_at));
    anyhow::ensure!(
        !path.exists(),
        "a backup named {} exists already; try again in a second",
        path.display()
    );
    let mut writer = archive::Writer::create(&path)
        .with_context(|| format!("cannot write the backup file in {}", dest.display()))?;
    let mut dump_cmd = db.tool("pg_dump")?;
    // zlib level 1, not pg_dump's default 6: less than half the time for a dump a quarter
    // larger (scale 100: 34 s and 972 MB against 74 s and 784 MB), which leaves the CPU the
    // manifest's hashing needs beside it (with level 6 the backup was 0.79× as fast as pg_dump
    // alone on the 2-core bench machine; docs/BENCHMARKS.md).
    dump_cmd
        .args(["--format=custom", "--compress=1", "--no-sync"])
        .arg(format!("--snapshot={snapshot}"));
    let dumping = tokio::task::spawn_blocking(move || {
        let result = run_dump(dump_cmd, &mut writer);
        (writer, result)
    });
    let digests = manifest::compute_in(&pool, Some(&snapshot), workers).await;
    let (writer, dumped) = dumping.await.context("the dump's thread")?;
    let _ = tx.commit().await;
    let _ = holder.close().await;
    pool.close().await;
    let tables = digests.context("computing the manifest")?;
    let (size, sha256) = dumped?;

    let manifest = Manifest {
        format: manifest::FORMAT,
        echinomap_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version,
        created_at: taken_at,
        postgres_version,
        tables,
        dump: manifest::DumpDigest {
            file: archive::DUMP.to_owned(),
            size,
            sha256,
        },
        config: configs.iter().map(|(n, _)| (*n).to_owned()).collect(),
    };
    let path = writer
        .finish(&manifest, &configs)
        .with_context(|| format!("cannot finish the backup file {}", path.display()))?;
    // The retention of the first directory does not wait for the second: a second disk that
    // is gone must not fill the first one night after night.
    let mut pruned = Vec::new();
    if options.prune {
        pruned.extend(prune(dest, &Retention::default())?);
    }
    let copy = match &options.copy_dir {
        Some(dir) => {
            // Never created here: a directory that is missing is a disk that is not mounted,
            // and the copy would land on the disk it is meant to protect against.
            anyhow::ensure!(
                dir.is_dir(),
                "the backup {} was written, but the copy directory {} does not exist (is its disk mounted?)",
                path.display(),
                dir.display()
            );
            let copy = archive::copy_to(&path, dir).with_context(|| {
                format!(
                    "the backup {} was written, but copying it to {} failed",
                    path.display(),
                    dir.display()
                )
            })?;
            if options.prune {
                pruned.extend(prune(dir, &Retention::default())?);
            }
            Some(copy)
        }
        None => None,
    };
    Ok(BackupReport {
        path,
        copy,
        manifest,
        pruned,
    })
}

/// Runs pg_dump with its output streamed into the archive; its error is its last stderr line.
fn run_dump(mut cmd: Command, writer: &mut archive::Writer) -> anyhow::Result<(u64, String)> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot run pg_dump")?;
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = e.read_to_string(&mut text);
            text
        })
    });
    let written = match child.stdout.take() {
        Some(mut out) => writer.write_dump(&mut out),
        None => Err(std::io::Error::other("no output")),
    };
    let status = child.wait().context("waiting for pg_dump")?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    if !status.success() {
        anyhow::bail!("pg_dump failed: {}", error_line(&stderr));
    }
    written.with_context(|| format!("cannot write the dump into {}", writer.partial().display()))
}

/// The line of a PostgreSQL tool's stderr that says what failed: its first error line, never
/// the `DETAIL`/`CONTEXT` lines after it (they quote the values of a row: personal data), cut
/// to 300 characters.
fn error_line(text: &str) -> String {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    let quotes_a_row = |l: &&str| l.contains("DETAIL:") || l.contains("CONTEXT:");
    let line = lines()
        .find(|l| {
            (l.contains("error:") || l.contains("ERROR:") || l.contains("FATAL:"))
                && !quotes_a_row(l)
        })
        .or_else(|| lines().rfind(|l| !quotes_a_row(l)))
        .unwrap_or("no message");
    line.chars().take(300).collect()
}

/// One backup at a time per directory: an exclusive `flock` on the directory itself (no lock
/// file, which root's backup would leave unwritable for the service's user).
fn lock(dir: &Path) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    let file =
        std::fs::File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        anyhow::anyhow!(
            "another backup is being written to {} now; try again when it is done",
            dir.display()
        )
    })
}

/// `.partial` files under the lock are left by a backup that was killed.
fn remove_partials(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(FILE_PREFIX) && name.ends_with(".partial") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes the backups of `dir` that `retention` does not keep; returns them.
pub fn prune(dir: &Path, retention: &Retention) -> anyhow::Result<Vec<PathBuf>> {
    let all = list(dir);
    let times: Vec<_> = all.iter().map(|b| b.taken_at).collect();
    let keep = retention.keep(&times);
    let mut removed = Vec::new();
    for backup in all {
        if !keep.contains(&backup.taken_at) {
            std::fs::remove_file(&backup.path).with_context(|| {
                format!("cannot remove the old backup {}", backup.path.display())
            })?;
            removed.push(backup.path);
        }
    }
    Ok(removed)
}

/// Reads the backup at `path` in full and checks it ([`archive::verify`]).
pub fn verify(path: &Path) -> Result<Verified, ArchiveError> {
    archive::verify(path)
}

/// A table of `pool`'s public schema that is not an extension's, if there is one (a database
/// to restore into must have none).
pub async fn first_table(pool: &PgPool) -> sqlx::Result<Option<String>> {
    let mut conn = pool.acquire().await?;
    Ok(manifest::tables(&mut conn).await?.into_iter().next())
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Configuration files written (with `--config-to`).
    pub config_written: Vec<PathBuf>,
}

/// Restores the verified archive into `db`, which must be empty: pg_restore in one
/// transaction (a failure leaves the database as empty as it was), then every table's count
/// and hash are computed again and compared with the manifest. `config_to` receives the
/// archived configuration files (0600).
pub async fn restore(
    backup: &Verified,
    db: Db<'_>,
    config_to: Option<&Path>,
) -> anyhow::Result<RestoreReport> {
    if let Some(dir) = config_to {
        for (name, _) in &backup.config {
            let target = Path::new(name).file_name().map(|f| dir.join(f));
            if let Some(target) = target.filter(|t| t.exists()) {
                anyhow::bail!(
                    "{} exists already: --config-to needs a directory without the archived files; nothing was changed",
                    target.display()
                );
            }
        }
    }
    // A backup of a newer schema would be restored and then refused by this binary.
    if let (Some(theirs), Some(ours)) =
        (backup.manifest.schema_version, crate::db::last_migration())
        && theirs > ours
    {
        anyhow::bail!(
            "the backup was made by a newer echinomap (schema {theirs}, this one knows up to {ours}): restore it with echinomap {} or later; nothing was changed",
            backup.manifest.echinomap_version
        );
    }
    let pool = db.pool(4).await?;
    if let Some(table) = first_table(&pool).await? {
        pool.close().await;
        anyhow::bail!(
            "the target database is not empty (it has table {table}); restore into a new data directory or an empty database; nothing was changed"
        );
    }
    let mut cmd = db.tool("pg_restore")?;
    cmd.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ]);
    if let Db::Embedded(_) = db {
        cmd.arg(format!("--dbname={DATABASE_NAME}"));
    }
    let mut reader = backup
        .dump_reader()
        .with_context(|| format!("cannot read {}", backup.path.display()))?;
    tokio::task::spawn_blocking(move || run_restore(cmd, &mut reader))
        .await
        .context("the restore's thread")??;
    let found = manifest::compute_in(&pool, None, 2)
        .await
        .context("computing the restored tables' digests")?;
    pool.close().await;
    if let Some(difference) = manifest::first_difference(&backup.manifest.tables, &found) {
        anyhow::bail!("the restored database differs from the backup: {difference}");
    }
    let mut config_written = Vec::new();
    if let Some(dir) = config_to {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, content) in &backup.config {
            let Some(file) = Path::new(name).file_name() else {
                continue;
            };
            let target = dir.join(file);
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&target)
                .with_context(|| {
                    format!("cannot write {} (it must not exist)", target.display())
                })?;
            std::io::Write::write_all(&mut out, content)
                .with_context(|| format!("cannot write {}", target.display()))?;
            config_written.push(target);
        }
    }
    Ok(RestoreReport {
        manifest: backup.manifest.clone(),
        config_written,
    })
}

/// Runs pg_restore with the dump on its stdin.
fn run_restore(mut cmd: Command, dump: &mut impl Read) -> anyhow::Result<()> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot run pg_restore")?;
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = e.read_to_string(&mut text);
            text
        })
    });
    // A pg_restore that stops early closes its stdin: its status says why, not the broken pipe.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = std::io::copy(dump, &mut stdin);
    }
    let status = child.wait().context("waiting for pg_restore")?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    if !status.success() {
        anyhow::bail!(
            "pg_restore failed, nothing was restored: {}",
            error_line(&stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_file_name_round_trips_to_its_time() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 7, 2, 30, 5)
            .single()
            .expect("valid time");
        let name = file_name(at);
        assert_eq!(name, "echinomap-backup-20261207T023005Z.tar");
        assert_eq!(parse_file_name(&name), Some(at));
    }

    #[test]
    fn partial_and_foreign_names_are_not_backups() {
        assert_eq!(
            parse_file_name("echinomap-backup-20261207T023005Z.tar.partial"),
            None
        );
        assert_eq!(parse_file_name("echinomap-backup-2026.tar"), None);
        assert_eq!(parse_file_name("notes.txt"), None);
    }

    #[test]
    fn latest_is_the_newest_by_name_time_and_ignores_partials() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "echinomap-backup-20261201T023000Z.tar",
            "echinomap-backup-20261207T023000Z.tar",
            "echinomap-backup-20261208T023000Z.tar.partial",
            "echinomap-backup-20261203T023000Z.tar",
            "other.tar",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        let newest = latest(dir.path()).expect("a backup");
        assert_eq!(
            newest.path,
            dir.path().join("echinomap-backup-20261207T023000Z.tar")
        );
        assert_eq!(latest(&dir.path().join("missing")), None);
    }

    #[test]
    fn a_tool_s_error_is_its_error_line_never_the_row_it_quotes() {
        let stderr = "pg_restore: error: COPY failed for table \"people\": ERROR:  duplicate key value violates unique constraint \"people_pkey\"\nDETAIL:  Key (id_number)=(110101199003077777) already exists.\nCONTEXT:  COPY people, line 3: \"3\t110101199003077777\t张三\"\n";
        let line = error_line(stderr);
        assert!(line.starts_with("pg_restore: error: COPY failed"), "{line}");
        assert!(
            !line.contains("110101199003077777") && !line.contains("张三"),
            "{line}"
        );
        assert_eq!(error_line("\n"), "no message");
        assert_eq!(error_line(&"x".repeat(1000)).chars().count(), 300);
    }
}
