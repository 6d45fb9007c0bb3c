//! The row count of every register inside a jurisdiction, and the date range of the data
//! (`GET /api/summary` shows them), memoised by data version.

use echinomap_domain::PlaceCode;
use sqlx::PgPool;

use crate::registers::REGISTERS;
use crate::watch::{Memo, Watch};

/// `WHERE` for one register: live rows inside the scope (`$1`).
fn filter(r: &crate::registers::Register) -> String {
    let mut conditions = Vec::new();
    if r.soft_delete {
        conditions.push("deleted_at IS NULL".to_owned());
    }
    if let Some(scope) = r.scope_sql() {
        conditions.push(scope.to_owned());
    }
    if conditions.is_empty() {
        // Keeps $1 referenced so that the statement always takes one parameter.
        conditions.push("$1::text IS NOT NULL".to_owned());
    }
    format!(" WHERE {}", conditions.join(" AND "))
}

/// The counts and date range of a scope (before suppression).
pub type Counts = (
    Vec<i64>,
    Option<chrono::NaiveDate>,
    Option<chrono::NaiveDate>,
);

/// The counts per jurisdiction and data versions.
#[derive(Debug, Clone)]
pub struct SummaryCache {
    memo: Memo<Counts>,
}

impl Default for SummaryCache {
    fn default() -> Self {
        Self {
            memo: Memo::new(64),
        }
    }
}

impl SummaryCache {
    /// The counts of every register inside `area`, from the memo while no register changed: at
    /// demo scale 100 counting 40 million rows takes seconds, and the dashboard asks on every load.
    pub async fn counts(
        &self,
        pool: &PgPool,
        watch: &Watch,
        area: &PlaceCode,
    ) -> Result<std::sync::Arc<Counts>, sqlx::Error> {
        let tables: Vec<&str> = REGISTERS.iter().map(|r| r.table).collect();
        let versions = watch.versions(pool, &tables).await?;
        let key = format!("{area}|{versions:?}");
        if let Some(hit) = self.memo.get(&key) {
            return Ok(hit);
        }
        // One statement: the counts are taken from a single snapshot.
        let counts_sql = REGISTERS
            .iter()
            .map(|r| format!("(SELECT count(*) FROM {}{})", r.table, filter(r)))
            .collect::<Vec<_>>()
            .join(", ");
        let range_sql = REGISTERS
            .iter()
            .filter_map(|r| {
                r.date_column.map(|c| {
                    format!(
                        "SELECT min({c}) AS lo, max({c}) AS hi FROM {}{}",
                        r.table,
                        filter(r)
                    )
                })
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sql = format!(
            "SELECT ARRAY[{counts_sql}]::bigint[], r.lo, r.hi FROM (SELECT min(lo) AS lo, max(hi) AS hi FROM ({range_sql}) x) r"
        );
        // Built only from the constant register list; the jurisdiction is bound.
        let counts: Counts = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(area.as_str())
            .fetch_one(pool)
            .await?;
        Ok(self.memo.put(key, counts))
    }
}
