//! Possible duplicates, for the county to review: a record written from one jurisdiction whose
//! natural key (an ID number, a dog tag, …) a record of another jurisdiction already holds. The
//! writer cannot see the other record, so the write was accepted with the same answer as when no
//! match exists (issue 17: no existence oracle); `records::write` queues the pair here. An
//! account of the whole county lists the open pairs, and either merges them (the references to
//! the dropped record move to the kept one, which keeps its own fields; the dropped record is
//! deleted) or marks them distinct. Both are audited.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::error::Error;
use crate::records::import::Who;
use crate::records::read;
use crate::records::spec::{self, RegisterSpec};

/// Only an account of the whole county that may read the register reviews its duplicates.
fn reviewer(caller: &Caller, spec: &RegisterSpec) -> Result<(), Error> {
    if caller.scope.jurisdiction().as_str().len() != 6 || !caller.can(spec.perm) {
        return Err(Error::forbidden(format!(
            "疑似重复记录由县级账号审核 / possible duplicates of {} are reviewed by the county's accounts",
            spec.name
        )));
    }
    Ok(())
}

fn register(name: &str) -> Result<&'static RegisterSpec, Error> {
    spec::by_name(name)
        .filter(|s| s.shared_key.is_some())
        .ok_or_else(|| Error::invalid_field("register", format!("{name} has no duplicates")))
}

/// One pair as stored.
type PairRow = (
    i64,
    String,
    i64,
    i64,
    String,
    chrono::DateTime<chrono::Utc>,
    String,
);

/// The open pairs the caller may review (of every register whose records it reads), each with
/// both records in full, oldest first.
pub async fn list(pool: &PgPool, caller: &Caller) -> Result<Vec<Value>, Error> {
    let rows: Vec<PairRow> = sqlx::query_as(
        "SELECT id, register, record_id, other_id, key_field, found_at, found_by
         FROM possible_duplicates WHERE resolution IS NULL ORDER BY id LIMIT 200",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for (id, reg, record_id, other_id, key_field, found_at, found_by) in rows {
        let Ok(spec) = register(&reg) else { continue };
        if reviewer(caller, spec).is_err() {
            continue;
        }
        let record = read::one(pool, spec, None, record_id).await?;
        let other = read::one(pool, spec, None, other_id).await?;
        out.push(json!({
            "id": id,
            "register": reg,
            "key_field": key_field,
            "found_at": found_at,
            "found_by": found_by,
            "record": record,
            "other": other,
        }));
    }
    Ok(out)
}

/// What a reviewer decides.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Keep this record (one of the pair); the other is merged into it.
    Merge { keep: i64 },
    /// Two different records that share a key.
    Distinct,
}

/// Resolves the open pair `id`. A merge moves every reference to the dropped record (found
/// from the database's foreign keys) to the kept one and deletes the dropped one, in one
/// transaction; a reference that would then repeat (two dewormings of the kept dog on one day)
/// refuses the merge with a 409 that names it.
pub async fn resolve(
    pool: &PgPool,
    caller: &Caller,
    who: &Who,
    id: i64,
    decision: Decision,
) -> Result<Value, Error> {
    let mut tx = pool.begin().await?;
    let pair: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT register, record_id, other_id FROM possible_duplicates
         WHERE id = $1 AND resolution IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (reg, record_id, other_id) = pair.ok_or_else(|| {
        Error::not_found(
            "duplicate_not_found",
            format!("no open possible duplicate with id {id}"),
        )
    })?;
    let spec = register(&reg)?;
    reviewer(caller, spec)?;
    let (resolution, kept, dropped) = match decision {
        Decision::Distinct => ("distinct", None, None),
        Decision::Merge { keep } if keep == record_id => ("merged", Some(keep), Some(other_id)),
        Decision::Merge { keep } if keep == other_id => ("merged", Some(keep), Some(record_id)),
        Decision::Merge { keep } => {
            return Err(Error::invalid_field(
                "keep",
                format!("keep is {record_id} or {other_id}, the records of the pair, not {keep}"),
            ));
        }
    };
    let mut moved = serde_json::Map::new();
    if let (Some(keep), Some(drop)) = (kept, dropped) {
        let refs: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.conrelid::regclass::text, a.attname::text
             FROM pg_constraint c
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
             WHERE c.contype = 'f' AND c.confrelid = $1::regclass AND cardinality(c.conkey) = 1
             ORDER BY 1, 2",
        )
        .bind(spec.table)
        .fetch_all(&mut *tx)
        .await?;
        for (table, column) in refs {
            let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET \"{column}\" = $1 WHERE \"{column}\" = $2"
            )))
            .bind(keep)
            .bind(drop)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                    Error::Conflict {
                        code: "merge_conflict",
                        message: format!(
                            "both records have {table} that would repeat after the merge; \
                             delete or correct one of them first"
                        ),
                    }
                }
                _ => Error::Database(e),
            })?
            .rows_affected();
            if n > 0 {
                moved.insert(table, n.into());
            }
        }
        let before = read::one(&mut *tx, spec, None, drop).await?;
        sqlx::query(sqlx::AssertSqlSafe(spec.delete_sql()))
            .bind(drop)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &who.actor,
            Entry {
                action: "delete",
                table: Some(spec.table),
                row_id: Some(drop.to_string()),
                before,
                detail: Some(json!({ "merged_into": keep })),
                ..Entry::default()
            },
        )
        .await?;
        // Other open pairs of the dropped record now concern the kept one.
        sqlx::query(
            "INSERT INTO possible_duplicates (register, record_id, other_id, key_field, found_by)
             SELECT register, greatest($2, x), least($2, x), key_field, found_by
             FROM (SELECT register, key_field, found_by,
                          CASE WHEN record_id = $3 THEN other_id ELSE record_id END AS x
                   FROM possible_duplicates
                   WHERE register = $1 AND resolution IS NULL AND id <> $4
                     AND (record_id = $3 OR other_id = $3)) p
             WHERE x <> $2
             ON CONFLICT DO NOTHING",
        )
        .bind(&reg)
        .bind(keep)
        .bind(drop)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE possible_duplicates SET resolution = 'merged', kept_id = $2,
                    resolved_at = now(), resolved_by = $4
             WHERE register = $1 AND resolution IS NULL AND id <> $5
               AND (record_id = $3 OR other_id = $3)",
        )
        .bind(&reg)
        .bind(keep)
        .bind(drop)
        .bind(&who.actor.username)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE possible_duplicates SET resolution = $2::duplicate_resolution, kept_id = $3,
                resolved_at = now(), resolved_by = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(resolution)
    .bind(kept)
    .bind(&who.actor.username)
    .execute(&mut *tx)
    .await?;
    let detail = json!({
        "register": reg, "record_id": record_id, "other_id": other_id,
        "resolution": resolution, "kept": kept, "dropped": dropped, "moved": moved,
    });
    audit::record(
        &mut tx,
        &who.actor,
        Entry {
            action: "merge",
            table: Some("possible_duplicates"),
            row_id: Some(id.to_string()),
            detail: Some(detail.clone()),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(detail)
}
