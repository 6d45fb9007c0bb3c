//! `echinomap doctor`: what an operator without a database administrator needs to know, in
//! one command. It prints echinomap's version, PostgreSQL's and PostGIS's, the schema version
//! and pending migrations, the effective database settings, the embedded cluster's state, the
//! disk space of the data and backup directories and the age of the last backup; then every
//! problem in plain words, Chinese first, then English, and exits with 1 if there is one.
//!
//! It changes nothing: it never migrates, never creates a cluster, and a cluster it had to
//! start for its checks (the service was stopped) it stops again.

use std::path::{Path, PathBuf};

use clap::Args;

use super::DatabaseArgs;
use crate::settings::{Secret, Settings};
use echinomap_programme::db::{self, Database};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Where `echinomap backup` writes its archives (default: DATA_DIR/backups).
    #[arg(long, env = "ECHINOMAP_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// The certificate `serve` presents (PEM): its expiry is checked.
    #[arg(long, env = "ECHINOMAP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
}

/// A certificate that expires within this many days is a problem (time to renew it).
pub const CERT_WARN_DAYS: i64 = 30;

/// A backup older than this is a problem (a daily timer, with two hours of slack).
pub const BACKUP_MAX_AGE_HOURS: i64 = 26;
/// A disk used beyond this percentage is a problem.
pub const DISK_WARN_PERCENT: u64 = 80;

/// The server settings shown (those `--database-sizing` derives, and what keeps data safe).
const SETTINGS: &[&str] = &[
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "max_connections",
    "max_wal_size",
    "min_wal_size",
    "wal_compression",
    "max_worker_processes",
    "max_parallel_workers",
    "max_parallel_workers_per_gather",
    "random_page_cost",
    "effective_io_concurrency",
    "fsync",
    "synchronous_commit",
];

/// One problem, said twice: in Chinese for the county's staff, in English.
#[derive(Debug)]
struct Problem {
    zh: String,
    en: String,
}

fn problem(zh: String, en: String) -> Problem {
    Problem { zh, en }
}

pub async fn run(args: DoctorArgs) -> anyhow::Result<()> {
    let settings = args.db.settings();
    let backup_dir = args
        .backup_dir
        .clone()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| settings.data_dir.join("backups"));
    let mut problems = Vec::new();
    println!("echinomap {}", env!("CARGO_PKG_VERSION"));
    database(&settings, &mut problems).await;
    disks(&settings.data_dir, &backup_dir, &mut problems);
    backups(&backup_dir, &mut problems);
    if let Some(cert) = args
        .tls_cert
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        certificate(cert, chrono::Utc::now(), &mut problems);
    }
    if problems.is_empty() {
        println!("没有发现问题 / no problems found");
        return Ok(());
    }
    println!("问题 {n} 个 / {n} problem(s):", n = problems.len());
    for p in &problems {
        println!("- {}", p.zh);
        println!("  {}", p.en);
    }
    anyhow::bail!(
        "echinomap doctor 发现 {n} 个问题 / found {n} problem(s) (listed above)",
        n = problems.len()
    )
}

/// The embedded cluster before doctor opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClusterBefore {
    /// `DATABASE_URL`: no embedded cluster.
    External,
    Running,
    Stopped,
}

async fn database(settings: &Settings, problems: &mut Vec<Problem>) {
    let url = settings.database_url.as_ref().map(Secret::expose);
    let before = match url {
        Some(_) => ClusterBefore::External,
        None => {
            let pgdata = settings.data_dir.join("pg");
            if !pgdata.join("PG_VERSION").is_file() {
                println!("database: no embedded cluster at {}", pgdata.display());
                problems.push(problem(
                    format!(
                        "{} 中没有数据库：服务从未用这个数据目录启动过，或者 data_dir 设置错了。",
                        pgdata.display()
                    ),
                    format!(
                        "There is no database in {}: the service never started with this data directory, or data_dir is wrong.",
                        pgdata.display()
                    ),
                ));
                return;
            }
            if postmaster_alive(&pgdata) {
                ClusterBefore::Running
            } else {
                ClusterBefore::Stopped
            }
        }
    };
    // Never migrated here: doctor shows the schema as it is.
    let db =
        match Database::open_unmigrated(url, &settings.data_dir, settings.database.clone()).await {
            Ok(db) => db,
            Err(e) => {
                println!("database: cannot be opened");
                problems.push(problem(
                    format!("无法打开数据库：{e:#}"),
                    format!("The database cannot be opened: {e:#}"),
                ));
                return;
            }
        };
    println!("database: {}", db.description);
    let guest = db.embedded.as_ref().is_some_and(|pg| pg.is_guest());
    match before {
        ClusterBefore::External => {}
        ClusterBefore::Running if guest => {
            println!("embedded cluster: running, kept by the echinomap service");
        }
        ClusterBefore::Running => {
            println!(
                "embedded cluster: running without the echinomap process that started it (used for these checks, stopped after)"
            );
            problems.push(problem(
                "数据库在运行，但启动它的 echinomap 服务已经不在了：请重启服务（systemctl restart echinomap）。".to_owned(),
                "The database runs, but the echinomap service that started it is gone: restart the service (systemctl restart echinomap).".to_owned(),
            ));
        }
        ClusterBefore::Stopped => {
            println!("embedded cluster: was not running (started for these checks, stopped after)");
            problems.push(problem(
                "数据库没有在运行：echinomap 服务是否已停止？请运行 systemctl status echinomap 查看。".to_owned(),
                "The database was not running: is the echinomap service stopped? See systemctl status echinomap.".to_owned(),
            ));
        }
    }
    inspect(&db, problems).await;
    if let Err(e) = db.close().await {
        println!("database: not closed cleanly: {e:#}");
    }
}

/// Versions, schema and settings of an open database.
async fn inspect(db: &Database, problems: &mut Vec<Problem>) {
    match echinomap_programme::health::probe(&db.pool).await {
        Ok(v) => println!("PostgreSQL {}, PostGIS {}", v.postgres, v.postgis),
        Err(e) => problems.push(problem(
            format!("数据库不回答，或缺少 PostGIS：{e}"),
            format!("The database does not answer, or lacks PostGIS: {e}"),
        )),
    }
    match db::schema_status(&db.pool).await {
        Ok(status) => {
            println!(
                "schema: {} (this echinomap's last migration: {}; {} pending)",
                status
                    .applied
                    .map_or_else(|| "empty".to_owned(), |v| v.to_string()),
                db::last_migration().unwrap_or_default(),
                status.pending.len()
            );
            if let Some((version, _)) = status.unknown.iter().max() {
                problems.push(problem(
                    format!(
                        "数据库已被更新版本的 echinomap 升级过（迁移 {version}），本程序（{}）太旧：请安装升级数据库的那个版本或更新的版本。",
                        env!("CARGO_PKG_VERSION")
                    ),
                    status.newer_than_this_binary().unwrap_or_default(),
                ));
            } else if !status.pending.is_empty() {
                let names: Vec<String> = status
                    .pending
                    .iter()
                    .map(|(v, d)| format!("{v} {d}"))
                    .collect();
                problems.push(problem(
                    format!(
                        "有 {} 个数据库迁移尚未执行（{}）：重启服务或运行 echinomap migrate 即可执行。",
                        names.len(),
                        names.join("，")
                    ),
                    format!(
                        "{} migration(s) not applied yet ({}): restart the service, or run echinomap migrate.",
                        names.len(),
                        names.join(", ")
                    ),
                ));
            }
        }
        Err(e) => problems.push(problem(
            format!("无法读取数据库的迁移记录：{e}"),
            format!("The database's migrations cannot be read: {e}"),
        )),
    }
    match db::server_settings(&db.pool, SETTINGS).await {
        Ok(values) => {
            println!("settings:");
            for (name, value) in values {
                println!("  {name} = {value}");
            }
        }
        Err(e) => println!("settings: cannot be read ({e})"),
    }
}

/// Whether `pgdata/postmaster.pid` names a live PostgreSQL process.
fn postmaster_alive(pgdata: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(pgdata.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
    else {
        return false;
    };
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim().starts_with("postgres"))
}

/// Disk space of a directory's file system.
#[derive(Debug, Clone, Copy)]
struct Usage {
    total: u64,
    available: u64,
    used_percent: u64,
    fsid: u64,
}

fn usage(dir: &Path) -> Option<Usage> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    let fragment = s.fragment_size();
    let total = s.blocks() * fragment;
    let free = s.blocks_free() * fragment;
    let available = s.blocks_available() * fragment;
    // As `df` counts: what root keeps in reserve is not usable.
    let used = total.saturating_sub(free);
    let usable = used + available;
    let used_percent = if usable == 0 {
        0
    } else {
        (used * 100).div_ceil(usable)
    };
    Some(Usage {
        total,
        available,
        used_percent,
        fsid: s.filesystem_id(),
    })
}

fn gb(bytes: u64) -> String {
    #[expect(
        clippy::cast_precision_loss,
        reason = "a disk's size in GB, shown with one decimal"
    )]
    let gb = bytes as f64 / 1e9;
    format!("{gb:.1} GB")
}

fn disks(data_dir: &Path, backup_dir: &Path, problems: &mut Vec<Problem>) {
    let mut warned = Vec::new();
    for (what, dir) in [("data dir", data_dir), ("backup dir", backup_dir)] {
        if !dir.is_dir() {
            println!("disk: {what} {} does not exist", dir.display());
            continue;
        }
        let Some(u) = usage(dir) else {
            println!("disk: {what} {}: unknown", dir.display());
            continue;
        };
        println!(
            "disk: {what} {}: {} free of {} ({} % used)",
            dir.display(),
            gb(u.available),
            gb(u.total),
            u.used_percent
        );
        if u.used_percent >= DISK_WARN_PERCENT && !warned.contains(&u.fsid) {
            warned.push(u.fsid);
            problems.push(problem(
                format!(
                    "磁盘快满了：{} 所在的磁盘已用 {} %（超过 {DISK_WARN_PERCENT} %），只剩 {}。请清理旧文件或扩容（见 docs/OPERATIONS.md「磁盘满了怎么办」）。",
                    dir.display(),
                    u.used_percent,
                    gb(u.available)
                ),
                format!(
                    "The disk of {} is {} % full (over {DISK_WARN_PERCENT} %), {} left. Free space or grow the disk (docs/OPERATIONS.md, when the disk fills).",
                    dir.display(),
                    u.used_percent,
                    gb(u.available)
                ),
            ));
        }
    }
}

fn backups(dir: &Path, problems: &mut Vec<Problem>) {
    let Some(last) = echinomap_programme::backup::latest(dir) else {
        println!("last backup: none in {}", dir.display());
        problems.push(problem(
            format!(
                "没有备份：{} 中找不到任何备份。请运行 echinomap backup，并确认定时备份 echinomap-backup.timer 已启用（systemctl status echinomap-backup.timer）。",
                dir.display()
            ),
            format!(
                "No backup: {} holds none. Run echinomap backup, and check that the daily echinomap-backup.timer is enabled (systemctl status echinomap-backup.timer).",
                dir.display()
            ),
        ));
        return;
    };
    let age = chrono::Utc::now() - last.taken_at;
    let hours = age.num_hours();
    println!(
        "last backup: {} ({} h {} min ago)",
        last.path.display(),
        hours,
        age.num_minutes() % 60
    );
    if hours >= BACKUP_MAX_AGE_HOURS {
        problems.push(problem(
            format!(
                "最近一次备份是 {hours} 小时前（超过 {BACKUP_MAX_AGE_HOURS} 小时）：定时备份可能没有运行。请查看 systemctl status echinomap-backup.timer 和 journalctl -u echinomap-backup。"
            ),
            format!(
                "The last backup is {hours} hours old (over {BACKUP_MAX_AGE_HOURS} h): the daily backup may not run. See systemctl status echinomap-backup.timer and journalctl -u echinomap-backup."
            ),
        ));
    }
}

/// The first certificate of a PEM file: its subject and when it stops being valid; a problem
/// when it cannot be read or expires within [`CERT_WARN_DAYS`].
fn certificate(path: &Path, now: chrono::DateTime<chrono::Utc>, problems: &mut Vec<Problem>) {
    match certificate_expiry(path) {
        Ok((subject, not_after)) => {
            let days = (not_after - now).num_days();
            println!(
                "certificate: {subject}, valid until {} ({days} days)",
                not_after.format("%Y-%m-%d %H:%M UTC")
            );
            if not_after <= now {
                problems.push(problem(
                    format!(
                        "HTTPS 证书 {} 已于 {} 过期：浏览器和小程序都无法连接。请换上新证书并执行 systemctl reload echinomap。",
                        path.display(),
                        not_after.format("%Y-%m-%d")
                    ),
                    format!(
                        "The HTTPS certificate {} expired on {}: browsers and the mini-program cannot connect. Install a new one and run systemctl reload echinomap.",
                        path.display(),
                        not_after.format("%Y-%m-%d")
                    ),
                ));
            } else if days < CERT_WARN_DAYS {
                problems.push(problem(
                    format!(
                        "HTTPS 证书 {} 将在 {days} 天后（{}）过期：请续期并执行 systemctl reload echinomap。",
                        path.display(),
                        not_after.format("%Y-%m-%d")
                    ),
                    format!(
                        "The HTTPS certificate {} expires in {days} days ({}): renew it and run systemctl reload echinomap.",
                        path.display(),
                        not_after.format("%Y-%m-%d")
                    ),
                ));
            }
        }
        Err(reason) => {
            println!("certificate: cannot be read");
            problems.push(problem(
                format!("无法读取 HTTPS 证书 {}：{reason}", path.display()),
                format!(
                    "The HTTPS certificate {} cannot be read: {reason}",
                    path.display()
                ),
            ));
        }
    }
}

fn certificate_expiry(path: &Path) -> Result<(String, chrono::DateTime<chrono::Utc>), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(&bytes).map_err(|_| "not a PEM certificate".to_owned())?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    let not_after = chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| "an expiry date out of range".to_owned())?;
    Ok((cert.subject().to_string(), not_after))
}
