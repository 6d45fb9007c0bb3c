//! `echinomap import --kind KIND FILE`: the bulk import from the command line, with the same
//! reading, checks, modes and report as `POST /api/imports`. Runs as the `cli` actor over the
//! whole database (shell access to the server is the county administrator's). Prints the report
//! as JSON on standard output, progress on standard error, and exits 1 when the import is refused.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use clap::Args;
use echinomap_geodata::import::Limits;

use super::DatabaseArgs;
use crate::settings::Secret;
use echinomap_programme::audit::Actor;
use echinomap_programme::records::import::{self, Failure, Progress, Who};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// villages, households, dogs, dewormings, faecal_tests, slaughter_points,
    /// slaughter_inspections, cases, followups, livestock_census, vaccinations, stock_movements.
    #[arg(long)]
    pub kind: String,
    /// The file: CSV (UTF-8 or GBK), XLSX or GeoJSON.
    pub file: PathBuf,
    /// csv, xlsx or geojson (default: from the file name).
    #[arg(long)]
    pub format: Option<String>,
    /// wgs84 (default) or gcj02 for coordinates from AMap or WeChat.
    #[arg(long)]
    pub crs: Option<String>,
    /// atomic (default: any error, nothing written) or valid_rows.
    #[arg(long)]
    pub mode: Option<String>,
    /// Check everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The XLSX sheet (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Also write the sheet with an error column here when rows are refused.
    #[arg(long)]
    pub errors_xlsx: Option<PathBuf>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let params = import::Params::new(
        args.kind.clone(),
        args.format.clone(),
        args.crs.clone(),
        args.mode.clone(),
        args.dry_run,
        args.sheet.clone(),
        args.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    );
    let request = params.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let settings = args.db.settings();
    let db = echinomap_programme::db::Database::open(
        settings.database_url.as_ref().map(Secret::expose),
        &settings.data_dir,
    )
    .await?;
    echinomap_programme::demo::load_gazetteer_if_empty(&db.pool, settings.include_xpcc).await?;
    let progress = Arc::new(Progress::default());
    let ticker = {
        let progress = progress.clone();
        let tty = std::io::stderr().is_terminal();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(if tty {
                    200
                } else {
                    2000
                }))
                .await;
                let total = progress.rows_total.load(Ordering::Relaxed).max(1);
                let done = progress.rows_checked.load(Ordering::Relaxed);
                let width = 30u64;
                let filled = (done * width / total).min(width) as usize;
                eprint!(
                    "{}{:<10} [{}{}] {done}/{total}{}",
                    if tty { "\r" } else { "" },
                    progress.phase_name(),
                    "#".repeat(filled),
                    " ".repeat(width as usize - filled),
                    if tty { "" } else { "\n" }
                );
                let _ = std::io::stderr().flush();
            }
        })
    };
    let result = async {
        let req = request.clone();
        let (table, fields) =
            tokio::task::spawn_blocking(move || import::read(&bytes, &req, &Limits::default()))
                .await??;
        let table = Arc::new(table);
        let linker = Arc::new(echinomap_programme::linking::build(&db.pool).await?);
        let who = Who {
            actor: Actor::cli(),
            scope: None,
        };
        let id = import::new_id();
        let report = if request.kind == echinomap_geodata::import::headers::Kind::StockMovements {
            echinomap_programme::stock::import::run(
                &db.pool,
                &linker,
                &who,
                &request,
                &id,
                import::Sheet {
                    table: &table,
                    fields: &fields,
                },
                &progress,
            )
            .await
        } else {
            echinomap_programme::records::run_import(
                &db.pool,
                &linker,
                &who,
                &request,
                &id,
                import::Sheet {
                    table: &table,
                    fields: &fields,
                },
                &progress,
            )
            .await
        };
        anyhow::Ok((report, table))
    }
    .await;
    ticker.abort();
    eprintln!();
    let closed = db.close().await;
    let (report, table) = result?;
    closed?;
    match report {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            if report.rejected > 0
                && let Some(path) = &args.errors_xlsx
            {
                std::fs::write(path, import::error_workbook(&table, &report)?)?;
                eprintln!("the sheet with an error column: {}", path.display());
            }
            anyhow::ensure!(
                report.status != "refused",
                "{} of {} rows have errors; nothing was written",
                report.rejected,
                report.read
            );
            Ok(())
        }
        Err(Failure::File(e)) => anyhow::bail!("{} ({})", e.message, e.code),
        Err(Failure::Database(e)) => Err(e).context("the import failed; nothing was written"),
    }
}
