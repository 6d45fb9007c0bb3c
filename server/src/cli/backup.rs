//! `echinomap backup` and `echinomap restore` (programme::backup does the work).

use std::path::PathBuf;

use clap::Args;

use super::DatabaseArgs;
use crate::settings::Secret;
use echinomap_programme::backup::{self, BackupOptions, Db};

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Write the backup here instead of the backup directory.
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// Where backups are written and kept (default: DATA_DIR/backups).
    #[arg(long, env = "ECHINOMAP_BACKUP_DIR", value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// A second directory (another disk, mounted storage) that receives a copy of each backup.
    #[arg(long, env = "ECHINOMAP_BACKUP_COPY_DIR", value_name = "DIR")]
    pub backup_copy_dir: Option<PathBuf>,
    /// Also archive the secrets file (the archive is readable by its owner only).
    #[arg(long)]
    pub include_secrets: bool,
    /// Keep every backup (default: keep 7 daily, 4 weekly, 12 monthly in each directory).
    #[arg(long)]
    pub no_prune: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (echinomap-backup-YYYYMMDDTHHMMSSZ.tar).
    pub file: PathBuf,
    /// Into the embedded cluster of --data-dir (a new or empty one), or the empty database of
    /// --database-url.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Write the archived configuration files into this directory (secrets with mode 0600).
    #[arg(long, value_name = "DIR")]
    pub config_to: Option<PathBuf>,
}

/// The configured database: the URL's server, or the embedded cluster (started if needed).
async fn open(
    db: &DatabaseArgs,
) -> anyhow::Result<(
    Option<Secret>,
    Option<echinomap_programme::embedded_pg::EmbeddedPg>,
)> {
    let settings = db.settings();
    match settings.database_url {
        Some(url) => Ok((Some(url), None)),
        None => Ok((
            None,
            Some(backup::start_embedded(&settings.data_dir, &db.database_settings()).await?),
        )),
    }
}

pub async fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let settings = args.db.settings();
    // A data directory without a cluster is a wrong data_dir: never initdb one to back it up.
    let pgdata = settings.data_dir.join("pg");
    anyhow::ensure!(
        settings.database_url.is_some() || pgdata.join("PG_VERSION").is_file(),
        "there is no database in {} (a wrong data_dir?); nothing was written",
        pgdata.display()
    );
    let dest = args
        .dest
        .clone()
        .or_else(|| args.backup_dir.clone())
        .unwrap_or_else(|| settings.data_dir.join("backups"));
    let loaded = crate::config_file::loaded();
    let secrets_file = loaded.and_then(|l| l.secrets_path.clone());
    anyhow::ensure!(
        !args.include_secrets || secrets_file.is_some(),
        "--include-secrets: no secrets file was read (secrets_file in the configuration file); nothing was written"
    );
    let options = BackupOptions {
        dest,
        copy_dir: args.backup_copy_dir.clone(),
        config_file: loaded.map(|l| l.path.clone()),
        secrets_file: secrets_file.filter(|_| args.include_secrets),
        prune: !args.no_prune,
        manifest_workers: manifest_workers(),
    };
    let (url, pg) = open(&args.db).await?;
    let db = match (&url, &pg) {
        (Some(url), _) => Db::Url(url.expose()),
        (None, Some(pg)) => Db::Embedded(pg),
        (None, None) => anyhow::bail!("no database"),
    };
    let result = backup::take(db, &options).await;
    if let Some(pg) = pg {
        backup::stop_embedded(pg).await?;
    }
    let report = result?;
    let rows: i64 = report.manifest.tables.iter().map(|t| t.rows).sum();
    println!(
        "backup written: {} ({} bytes of dump, {} tables, {} rows, schema {})",
        report.path.display(),
        report.manifest.dump.size,
        report.manifest.tables.len(),
        rows,
        report
            .manifest
            .schema_version
            .map_or_else(|| "none".to_owned(), |v| v.to_string())
    );
    if let Some(copy) = &report.copy {
        println!("copied to: {}", copy.display());
    }
    for old in &report.pruned {
        println!("removed (retention): {}", old.display());
    }
    Ok(())
}

/// Connections computing the manifest beside pg_dump: half the cores (pg_dump and its server
/// process take the other half), at least 1, at most 4.
fn manifest_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get() / 2)
        .clamp(1, 4)
}

pub async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    // The whole archive is read and checked before anything is started or created.
    let verified = backup::verify(&args.file)?;
    let (url, pg) = open(&args.db).await?;
    let db = match (&url, &pg) {
        (Some(url), _) => Db::Url(url.expose()),
        (None, Some(pg)) => Db::Embedded(pg),
        (None, None) => anyhow::bail!("no database"),
    };
    let result = backup::restore(&verified, db, args.config_to.as_deref()).await;
    if let Some(pg) = pg {
        backup::stop_embedded(pg).await?;
    }
    let report = result?;
    let rows: i64 = report.manifest.tables.iter().map(|t| t.rows).sum();
    println!(
        "restored {} ({} tables, {} rows, every table's count and content hash checked; backup of {}, schema {})",
        args.file.display(),
        report.manifest.tables.len(),
        rows,
        report.manifest.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        report
            .manifest
            .schema_version
            .map_or_else(|| "none".to_owned(), |v| v.to_string())
    );
    for file in &report.config_written {
        println!("configuration written: {}", file.display());
    }
    Ok(())
}
