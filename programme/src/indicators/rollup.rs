//! The deworming rollup: monthly coverage per village kept in `deworming_rollup`, so that a
//! village × month matrix over a province does not re-read tens of millions of doses.
//!
//! Fresh by construction: statement triggers on `dogs` and `dewormings` mark the villages a
//! write touched (`deworming_rollup_dirty`); [`refresh`] recomputes the marked villages and any
//! month not yet held, with the indicator's own SQL (`sql/deworming_coverage_raw.sql`), before
//! the engine reads. Refreshes are serialised by an advisory lock.

use chrono::NaiveDate;
use echinomap_domain::VillageCode;

use super::{HEADER, Options, Period};

const RAW: &str = include_str!("sql/deworming_coverage_raw.sql");

/// Key of the advisory lock that serialises refreshes.
const LOCK: i64 = 0x6563_686e_6f5f_6477; // "echno_dw"

/// How many months up to today the rollup holds ahead of any request (the dashboard's matrix,
/// the risk model's windows).
pub const RECENT_MONTHS: usize = 24;

/// The [`RECENT_MONTHS`] months up to `as_of`'s, newest first.
pub fn recent_months(as_of: NaiveDate) -> Vec<Period> {
    let mut months = vec![Period::month_of(as_of)];
    for _ in 1..RECENT_MONTHS {
        let first = months[months.len() - 1].start();
        months.push(Period::month_of(first.pred_opt().unwrap_or(first)));
    }
    months
}

/// [`refresh`] of the [`recent_months`] up to `opts.as_of`: the start-up warm-up, and the end of
/// a demo load (so that the first start after a load does not read every dose).
pub async fn refresh_recent(pool: &sqlx::PgPool, opts: &Options) -> Result<(), sqlx::Error> {
    refresh(pool, &recent_months(opts.as_of), opts).await
}

/// Makes the rollup hold `months` for every village, with no village stale.
pub async fn refresh(
    pool: &sqlx::PgPool,
    months: &[Period],
    opts: &Options,
) -> Result<(), sqlx::Error> {
    let started = std::time::Instant::now();
    // Long work: the first fill reads every dose (40 s at demo scale 100).
    let mut tx = crate::db::begin_long(pool).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK)
        .execute(&mut *tx)
        .await?;
    let wanted: Vec<NaiveDate> = months.iter().map(Period::start).collect();
    let held: Vec<NaiveDate> = sqlx::query_scalar("SELECT month FROM deworming_rollup_months")
        .fetch_all(&mut *tx)
        .await?;
    let missing: Vec<Period> = months
        .iter()
        .filter(|m| !held.contains(&m.start()))
        .copied()
        .collect();
    // Stale villages: recomputed for every month held (the missing ones follow for everyone).
    let dirty: Vec<String> = sqlx::query_scalar(
        "WITH d AS (DELETE FROM deworming_rollup_dirty RETURNING village_id)
         SELECT v.code::text FROM d JOIN villages v ON v.id = d.village_id ORDER BY v.code",
    )
    .fetch_all(&mut *tx)
    .await?;
    if !dirty.is_empty() && !held.is_empty() {
        let held_periods: Vec<Period> = held.iter().map(|m| Period::month_of(*m)).collect();
        sqlx::query(
            "DELETE FROM deworming_rollup WHERE village_id IN (SELECT id FROM villages WHERE code = ANY($1))",
        )
        .bind(&dirty)
        .execute(&mut *tx)
        .await?;
        for code in &dirty {
            let village = VillageCode::parse(code).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            fill(&mut tx, Some(&village), &held_periods, opts).await?;
        }
    }
    if !missing.is_empty() {
        fill(&mut tx, None, &missing, opts).await?;
        sqlx::query(
            "INSERT INTO deworming_rollup_months SELECT unnest($1::date[]) ON CONFLICT DO NOTHING",
        )
        .bind(missing.iter().map(Period::start).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    if !missing.is_empty() || !dirty.is_empty() {
        tracing::info!(
            months.missing = missing.len(),
            villages.stale = dirty.len(),
            months.wanted = wanted.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "deworming rollup refreshed"
        );
    }
    Ok(())
}

/// Computes `village` (every village when `None`) for `months` and stores them.
async fn fill(
    tx: &mut sqlx::PgConnection,
    village: Option<&VillageCode>,
    months: &[Period],
    opts: &Options,
) -> Result<(), sqlx::Error> {
    let starts: Vec<NaiveDate> = months.iter().map(Period::start).collect();
    let ends: Vec<NaiveDate> = months.iter().map(Period::end).collect();
    // The header and the raw SQL are constants; every value is bound.
    let sql = format!(
        "INSERT INTO deworming_rollup (village_id, month, dogs_due, dogs_dosed)
         SELECT v.id, ($2::date[])[r.i], r.den::int, r.num::int
         FROM ({HEADER}{RAW}) AS r(code, i, num, den, extra)
         JOIN villages v ON v.code = r.code"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        // The empty prefix: every village.
        .bind(village.map_or("", VillageCode::as_str))
        .bind(&starts)
        .bind(&ends)
        .bind(&opts.diagnosis_classes)
        .bind(opts.child_max_age)
        .bind(opts.as_of)
        .bind(opts.grace_days)
        .execute(tx)
        .await?;
    Ok(())
}
