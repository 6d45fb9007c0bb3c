//! Loading the gazetteer and the demo data with COPY, in one transaction: a failed or killed
//! load leaves the database as it was.
//!
//! The generator (`echinomap_geodata::demo`) is synchronous and streams COPY batches; it runs
//! on a blocking thread and hands batches over a small bounded channel, so memory stays flat
//! whatever the scale.

use std::fmt;
use std::time::Instant;

use anyhow::Context;
use echinomap_geodata::GeodataError;
use echinomap_geodata::copy::CopyTable;
use echinomap_geodata::demo::DemoOptions;
use echinomap_geodata::gazetteer::{Gazetteer, GazetteerOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::registers::REGISTERS;

/// The demo data to load: its seed, scale and "today".
#[derive(Debug, Clone, Copy)]
pub struct DemoSettings {
    pub seed: u64,
    pub scale: u32,
    /// The demo's "today": its 24 months of deworming end in this month.
    pub today: chrono::NaiveDate,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            seed: 2024,
            scale: 1,
            today: chrono::Local::now().date_naive(),
        }
    }
}

/// Rows loaded per table, in load order, and the time it took.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub tables: Vec<(&'static str, u64)>,
    pub bytes: u64,
    pub seconds: f64,
}

impl LoadStats {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }

    fn add(&mut self, table: &'static str, rows: u64, bytes: usize) {
        self.bytes += bytes as u64;
        match self.tables.last_mut() {
            Some((t, n)) if *t == table => *n += rows,
            _ => self.tables.push((table, rows)),
        }
    }
}

impl fmt::Display for LoadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (table, rows) in &self.tables {
            writeln!(f, "{table:<24} {rows:>12}")?;
        }
        let rate = self.total_rows() as f64 / self.seconds.max(1e-9);
        write!(
            f,
            "{:<24} {:>12} rows in {:.1} s ({:.0} rows/s, {:.1} MB)",
            "total",
            self.total_rows(),
            self.seconds,
            rate,
            self.bytes as f64 / 1e6
        )
    }
}

fn gazetteer(include_xpcc: bool) -> anyhow::Result<Gazetteer> {
    echinomap_geodata::gazetteer::qapqal(&GazetteerOptions { include_xpcc })
        .context("reading the bundled Qapqal gazetteer")
}

async fn is_empty(pool: &PgPool, table: &str) -> anyhow::Result<bool> {
    let (exists,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM {table})"
    )))
    .fetch_one(pool)
    .await?;
    Ok(!exists)
}

/// Without `--demo`: the county, its townships and villages are reference data every register
/// hangs off, so a new database gets them on its first start.
pub async fn load_gazetteer_if_empty(pool: &PgPool, include_xpcc: bool) -> anyhow::Result<()> {
    if !is_empty(pool, "counties").await? {
        return Ok(());
    }
    let gaz = gazetteer(include_xpcc)?;
    let stats = copy_stream(pool, move |sink| {
        echinomap_geodata::demo::gazetteer_tables(&gaz, sink).map(|_| ())
    })
    .await?;
    tracing::info!(rows = stats.total_rows(), "gazetteer loaded");
    Ok(())
}

/// With `--demo`: loads the demo data when the database holds no villages yet. A database
/// that already has data is left alone (the demo never overwrites real records).
pub async fn load_if_empty(
    pool: &PgPool,
    demo: &DemoSettings,
    include_xpcc: bool,
) -> anyhow::Result<Option<LoadStats>> {
    if !is_empty(pool, "villages").await? {
        return Ok(None);
    }
    load(pool, demo, include_xpcc, false).await.map(Some)
}

/// Generates and loads the demo data; with `replace`, empties every register first (in the
/// same transaction).
pub async fn load(
    pool: &PgPool,
    demo: &DemoSettings,
    include_xpcc: bool,
    replace: bool,
) -> anyhow::Result<LoadStats> {
    if !replace && !is_empty(pool, "villages").await? {
        anyhow::bail!(
            "the database already holds villages; demo data loads only into an empty database (use --replace to empty it first)"
        );
    }
    let gaz = gazetteer(include_xpcc)?.scaled(demo.scale);
    let options = DemoOptions {
        seed: demo.seed,
        scale: demo.scale,
        today: demo.today,
    };
    tracing::info!(seed = demo.seed, scale = demo.scale, today = %demo.today, "generating demo data");
    let started = std::time::Instant::now();
    let mut stats = copy_stream_with(pool, replace, move |sink| {
        echinomap_geodata::demo::generate(&gaz, &options, sink).map(|_| ())
    })
    .await?;
    // The deworming rollup of the months before the demo's today, so that the first start after
    // a load does not read every dose while the first map waits (40 s at scale 100). The
    // default rules: the rollup's coverage does not depend on the stage rule set.
    let programme = crate::config::Programme::load(&crate::config::ProgrammeSettings {
        today: Some(demo.today),
        ..Default::default()
    })?;
    crate::indicators::rollup::refresh_recent(pool, &programme.options()).await?;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// Why the generator side of a load stopped.
#[derive(Debug, thiserror::Error)]
enum ProduceError {
    #[error(transparent)]
    Geodata(#[from] GeodataError),
    /// The COPY side stopped (an error there is reported instead).
    #[error("the database side of the load stopped")]
    Stopped,
}

type Sink<'a> = &'a mut dyn FnMut(CopyTable) -> Result<(), ProduceError>;

async fn copy_stream<F>(pool: &PgPool, produce: F) -> anyhow::Result<LoadStats>
where
    F: FnOnce(Sink<'_>) -> Result<(), ProduceError> + Send + 'static,
{
    copy_stream_with(pool, false, produce).await
}

/// Runs `produce` on a blocking thread and COPYs every batch it emits, all in one transaction.
async fn copy_stream_with<F>(pool: &PgPool, replace: bool, produce: F) -> anyhow::Result<LoadStats>
where
    F: FnOnce(Sink<'_>) -> Result<(), ProduceError> + Send + 'static,
{
    let started = Instant::now();
    let mut tx = crate::db::begin_long(pool).await?;
    if replace {
        truncate_all(&mut tx).await?;
    }
    // The stock ledger's row trigger moves `stock_on_hand` one ledger row at a time: in one
    // transaction each update of a lot's row leaves a version the next must walk past, which
    // grows as the square of the rows (over an hour for the ledger at scale 120). The load turns
    // it off for its own transaction and books the ledger set-based at the end
    // ([`book_stock_ledger`]), with the trigger's checks made over the whole ledger.
    sqlx::query("ALTER TABLE stock_movements DISABLE TRIGGER stock_movements_apply")
        .execute(&mut *tx)
        .await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<CopyTable>(4);
    let producer = tokio::task::spawn_blocking(move || {
        let mut sink = |batch: CopyTable| {
            sender
                .blocking_send(batch)
                .map_err(|_| ProduceError::Stopped)
        };
        produce(&mut sink)
    });
    let mut stats = LoadStats::default();
    let mut copy_error = None;
    while let Some(batch) = receiver.recv().await {
        if let Err(e) = copy_batch(&mut tx, &batch).await {
            copy_error = Some(e);
            break;
        }
        stats.add(batch.table, batch.rows, batch.data.len());
    }
    drop(receiver);
    let produced = producer.await.context("the demo generator thread")?;
    if let Some(e) = copy_error {
        return Err(e);
    }
    produced.context("generating demo data")?;
    book_stock_ledger(&mut tx).await?;
    reset_identities(&mut tx).await?;
    tx.commit().await?;
    refresh_h3_cells(pool).await?;
    // Fresh statistics so that the first queries get good plans (long work at scale 100).
    let mut analyze = crate::db::begin_long(pool).await?;
    sqlx::query("ANALYZE").execute(&mut *analyze).await?;
    analyze.commit().await?;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

async fn copy_batch(tx: &mut Transaction<'_, Postgres>, batch: &CopyTable) -> anyhow::Result<()> {
    let mut copy = tx
        .copy_in_raw(&batch.copy_statement())
        .await
        .with_context(|| format!("starting COPY into {}", batch.table))?;
    copy.send(batch.data.as_slice())
        .await
        .with_context(|| format!("COPY into {}", batch.table))?;
    copy.finish()
        .await
        .with_context(|| format!("COPY into {}", batch.table))?;
    Ok(())
}

/// Tables emptied by `--replace` besides the registers: the basemap and results computed from
/// the data. One TRUNCATE of the whole list handles the foreign keys between them; accounts
/// and the audit log are kept.
const ALL_TABLES: &[&str] = &[
    "neighbour_counties",
    "rivers",
    "hotspot_results",
    "hotspot_cells",
    "scan_results",
    "scan_clusters",
    "h3_cells",
    "stock_lots",
    "stock_barcodes",
    "stock_transfer_receipts",
    "stock_counts",
    "stock_count_lines",
    "stock_count_entries",
    "stock_on_hand",
];

/// The append-only stock tables refuse TRUNCATE (migration `stock_ledger`): `--replace` turns
/// that trigger off for its own TRUNCATE, in its transaction.
const APPEND_ONLY: &[(&str, &str)] = &[
    ("stock_movements", "stock_movements_no_truncate"),
    ("stock_transfers", "stock_transfers_no_truncate"),
    (
        "stock_transfer_receipts",
        "stock_transfer_receipts_no_truncate",
    ),
];

async fn truncate_all(tx: &mut Transaction<'_, Postgres>) -> anyhow::Result<()> {
    let mut tables: Vec<&str> = REGISTERS
        .iter()
        .map(|r| r.table)
        .chain(ALL_TABLES.iter().copied())
        .collect();
    tables.sort_unstable();
    tables.dedup();
    for (table, trigger) in APPEND_ONLY {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} DISABLE TRIGGER {trigger}"
        )))
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "TRUNCATE {} RESTART IDENTITY",
        tables.join(", ")
    )))
    .execute(&mut **tx)
    .await?;
    for (table, trigger) in APPEND_ONLY {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} ENABLE TRIGGER {trigger}"
        )))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// COPY wrote explicit ids: move each identity past the highest id so later inserts do not
/// collide.
/// What the ledger's row trigger (`stock_movement_apply`) does, for the rows a load copied with it
/// off: every lot of the right item, nothing issued or used past its expiry, stock on hand the
/// sum of the ledger per store and lot (never negative: its CHECK), then the trigger back on.
async fn book_stock_ledger(tx: &mut Transaction<'_, Postgres>) -> anyhow::Result<()> {
    let (wrong_item, expired): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE l.item_id <> m.item_id),
                count(*) FILTER (WHERE m.kind IN ('transfer_out', 'use')
                                   AND l.expires_on IS NOT NULL AND l.expires_on < m.moved_on)
         FROM stock_movements m JOIN stock_lots l ON l.id = m.lot_id",
    )
    .fetch_one(&mut **tx)
    .await?;
    anyhow::ensure!(
        wrong_item == 0 && expired == 0,
        "the demo's stock ledger has {wrong_item} rows of a lot of another item and {expired} issued or used past the lot's expiry"
    );
    // Only the ledger's trigger may write stock on hand (`stock_on_hand_guard`): this is its work.
    sqlx::query("ALTER TABLE stock_on_hand DISABLE TRIGGER stock_on_hand_guard")
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO stock_on_hand (store_id, lot_id, quantity, last_movement_id)
         SELECT store_id, lot_id, sum(quantity), max(id) FROM stock_movements
         GROUP BY store_id, lot_id
         ON CONFLICT (store_id, lot_id) DO UPDATE
             SET quantity = stock_on_hand.quantity + EXCLUDED.quantity,
                 last_movement_id = greatest(stock_on_hand.last_movement_id,
                                             EXCLUDED.last_movement_id)",
    )
    .execute(&mut **tx)
    .await
    .context("booking the demo's stock ledger")?;
    for enable in [
        "ALTER TABLE stock_on_hand ENABLE TRIGGER stock_on_hand_guard",
        "ALTER TABLE stock_movements ENABLE TRIGGER stock_movements_apply",
    ] {
        sqlx::query(enable).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn reset_identities(tx: &mut Transaction<'_, Postgres>) -> anyhow::Result<()> {
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT c.table_name::text FROM information_schema.columns c
         WHERE c.table_schema = 'public' AND c.column_name = 'id' AND c.is_identity = 'YES'",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (table,) in tables {
        // Table names come from the catalogue, not from input.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        )))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Fills `villages.h3_r6` and the outline of every H3 cell (resolutions 6–9) that holds a
/// village, for the cell-aggregated map layers. Idempotent and cheap (one row per village);
/// runs at every start, so villages loaded or moved by any path get their cells.
pub async fn refresh_h3_cells(pool: &PgPool) -> anyhow::Result<()> {
    let stale: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM villages v WHERE v.h3_r6 IS NULL
                           OR NOT EXISTS (SELECT 1 FROM h3_cells c WHERE c.cell = v.h3_r9))",
    )
    .fetch_one(pool)
    .await?;
    if !stale {
        return Ok(());
    }
    let villages: Vec<(i32, i64, i64, i64)> =
        sqlx::query_as("SELECT id, h3_r7, h3_r8, h3_r9 FROM villages")
            .fetch_all(pool)
            .await?;
    let mut ids = Vec::with_capacity(villages.len());
    let mut r6s = Vec::with_capacity(villages.len());
    let mut cells = std::collections::BTreeMap::new();
    for (id, r7, r8, r9) in villages {
        // H3 indexes use 63 bits: the bigint holds the u64 bit for bit.
        let Some(r6) = echinomap_geodata::cells::parent(r7 as u64, 6) else {
            anyhow::bail!("village {id} has an invalid H3 cell {r7:x}");
        };
        ids.push(id);
        r6s.push(r6 as i64);
        for cell in [r6, r7 as u64, r8 as u64, r9 as u64] {
            cells.entry(cell).or_insert_with(|| {
                let res = echinomap_geodata::cells::resolution(cell).unwrap_or(0);
                let wkt = echinomap_geodata::cells::outline(cell).map(|p| {
                    let coords: Vec<String> = p
                        .exterior()
                        .coords()
                        .map(|c| format!("{:.7} {:.7}", c.x, c.y))
                        .collect();
                    format!("POLYGON(({}))", coords.join(", "))
                });
                (i16::from(res), wkt)
            });
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE villages SET h3_r6 = u.r6 FROM unnest($1::int[], $2::bigint[]) AS u(id, r6)
         WHERE villages.id = u.id AND villages.h3_r6 IS DISTINCT FROM u.r6",
    )
    .bind(&ids)
    .bind(&r6s)
    .execute(&mut *tx)
    .await?;
    let (cell_ids, rest): (Vec<i64>, Vec<(i16, String)>) = cells
        .into_iter()
        .filter_map(|(cell, (res, wkt))| wkt.map(|w| (cell as i64, (res, w))))
        .unzip();
    let (resolutions, wkts): (Vec<i16>, Vec<String>) = rest.into_iter().unzip();
    sqlx::query(
        "INSERT INTO h3_cells (cell, resolution, geom)
         SELECT c, r, ST_GeomFromText(w, 4326) FROM unnest($1::bigint[], $2::smallint[], $3::text[]) AS u(c, r, w)
         ON CONFLICT (cell) DO NOTHING",
    )
    .bind(&cell_ids)
    .bind(&resolutions)
    .bind(&wkts)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
