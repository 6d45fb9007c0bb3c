//! One record at a time, as the JSON API (`/api/{register}/{id}`) reads and writes it: the
//! audited read of one record, a create or an update through the import's parser, linker and
//! writer (a JSON object is one sheet row), with the idempotency key of a device that queued
//! the record offline, and the delete. A record outside the caller's jurisdiction is answered
//! like an unknown one.

use std::collections::BTreeMap;

use echinomap_geodata::gcj02::Crs;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::import::{Who, write_rows};
use super::parse::{self, Layout, Options, RowError};
use super::read;
use super::spec::{RegisterSpec, Village};
use super::write::{Batch, Present, Target};
use crate::audit::{self, Entry};
use crate::auth::Scope;
use crate::error::Error;
use crate::linking::LinkerCache;
use crate::watch::Watch;

/// The link fields a body may give when the register links records to villages.
const LINK_FIELDS: [&str; 5] = ["village_code", "village", "township", "lon", "lat"];

/// A 404 for a record that does not exist, was deleted or lies outside the jurisdiction.
pub fn not_found(spec: &RegisterSpec, id: i64) -> Error {
    Error::not_found(
        "record_not_found",
        format!("no {} record with id {id}", spec.name),
    )
}

/// The record `id` in the caller's jurisdiction, whole; reading one record of a
/// register with personal data is audited in the read's transaction.
pub async fn read_audited(
    pool: &PgPool,
    spec: &'static RegisterSpec,
    who: &Who,
    case_rows: bool,
    id: i64,
) -> Result<Value, Error> {
    let mut tx = pool.begin().await?;
    let record = read::one(&mut *tx, spec, who.scope.as_ref(), id)
        .await?
        .map(|r| read::restrict(spec, r, case_rows))
        .ok_or_else(|| not_found(spec, id))?;
    if spec.personal {
        audit::record(
            &mut tx,
            &who.actor,
            Entry {
                action: "read",
                table: Some(spec.table),
                row_id: Some(id.to_string()),
                ..Entry::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(record)
}

/// A page of a register's list (`read::list`), audited when it shows people by name (the ids
/// listed are kept, so the log says who saw whom).
pub async fn list(
    pool: &PgPool,
    spec: &'static RegisterSpec,
    who: &Who,
    scope: &Scope,
    case_rows: bool,
    filters: &read::Filters,
) -> Result<(Vec<Value>, Option<i64>), Error> {
    let (items, next) = read::list(pool, spec, scope, case_rows, filters).await?;
    let names = spec.personal || (case_rows && !spec.personal_fields.is_empty());
    if names && !items.is_empty() {
        audit_list(pool, who, spec.table, &items).await?;
    }
    Ok((items, next))
}

/// Records that `who` was shown the listed `items` (their ids) of `table`.
pub async fn audit_list(
    pool: &PgPool,
    who: &Who,
    table: &str,
    items: &[Value],
) -> Result<(), Error> {
    let ids: Vec<&Value> = items.iter().filter_map(|r| r.get("id")).collect();
    let mut conn = pool.acquire().await?;
    audit::record(
        &mut conn,
        &who.actor,
        Entry {
            action: "list",
            table: Some(table),
            detail: Some(json!({ "count": ids.len(), "ids": ids })),
            ..Entry::default()
        },
    )
    .await?;
    Ok(())
}

/// The record `id` in the caller's `scope`, or [`not_found`]; not audited (the answer to a
/// write the caller just made).
pub async fn read_written(
    pool: &PgPool,
    spec: &'static RegisterSpec,
    scope: &Scope,
    id: i64,
) -> Result<Value, Error> {
    read::one(pool, spec, Some(scope.jurisdiction()), id)
        .await?
        .ok_or_else(|| not_found(spec, id))
}

/// Headers, their canonical fields, and cells.
type BodyRow = (Vec<String>, Vec<Option<&'static str>>, Vec<String>);

/// A JSON object as one sheet row: its keys as headers, its values as cells.
fn body_row(spec: &RegisterSpec, body: &Value) -> Result<BodyRow, Error> {
    let Value::Object(map) = body else {
        return Err(Error::InvalidRequest {
            code: "invalid_body",
            message: "the body must be a JSON object".to_owned(),
        });
    };
    let mut headers = Vec::new();
    let mut fields = Vec::new();
    let mut cells = Vec::new();
    let links = matches!(spec.village, Village::Linked { .. });
    for (k, v) in map {
        let field = spec
            .fields
            .iter()
            .map(|f| f.name)
            .chain(LINK_FIELDS.iter().copied().filter(|_| links))
            .find(|f| f == k);
        let Some(field) = field else {
            let mut known: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
            if links {
                known.extend(LINK_FIELDS);
            }
            return Err(Error::field_refused(
                k,
                "unknown_field",
                json!({ "register": spec.name, "known": known }),
                format!(
                    "{} has no field {k:?}; its fields are {}",
                    spec.name,
                    known.join(", ")
                ),
            ));
        };
        let cell = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(Error::field_refused(
                    k,
                    "bad_json_value",
                    json!({}),
                    format!("{k} must be a string, number, boolean or null"),
                ));
            }
        };
        headers.push(k.clone());
        fields.push(Some(field));
        cells.push(cell);
    }
    Ok((headers, fields, cells))
}

/// The record refused by the parser or the writer: a 409 when its natural key exists, else a
/// 422 naming the first field and listing every row error (also the deworming round's,
/// [`super::round`]).
pub(crate) fn refused(errors: Vec<RowError>) -> Error {
    let first = errors.first();
    let message = first.map_or_else(
        || "the record was refused".to_owned(),
        |e| match &e.field {
            Some(f) => format!("{f}: {}", e.reason),
            None => e.reason.clone(),
        },
    );
    if let Some(dup) = errors.iter().find(|e| e.code == "duplicate") {
        // The client shows it at the key's (first) field and may open the record that exists.
        let mut details = dup.params.clone();
        details["field"] = details["fields"].get(0).cloned().unwrap_or(Value::Null);
        return Error::ConflictWith {
            code: "duplicate_record",
            message,
            details,
        };
    }
    Error::InvalidRecord {
        message,
        details: json!({
            "field": first.and_then(|e| e.field.clone()),
            "errors": errors,
        }),
    }
}

/// A constraint the database enforces and the parser did not foresee: a 422 naming it.
fn db_refusal(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e
        && let Some(code) = db.code()
        && code.starts_with("23")
    {
        let field = db.constraint().unwrap_or("record").to_owned();
        return Error::InvalidRecord {
            message: db.message().to_owned(),
            details: json!({ "field": field, "constraint": db.constraint() }),
        };
    }
    Error::Database(e)
}

/// The stored values of record `id` as the parser's staging text, by field name (fields kept
/// in a column of the register's table). Nothing when the writer cannot see the record: the
/// write then answers that it is not found.
async fn stored_values(
    pool: &PgPool,
    spec: &RegisterSpec,
    who: &Who,
    id: i64,
) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let row: Option<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT to_jsonb(t) FROM {} t WHERE t.id = $1",
        super::write::scoped(spec.table, who.scope.as_ref())
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let mut out = std::collections::BTreeMap::new();
    let Some(row) = row else {
        return Ok(out);
    };
    for f in spec.fields {
        let Some(column) = f.column else { continue };
        let text = match &row[column] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        out.insert(f.name.to_owned(), text);
    }
    Ok(out)
}

/// Where [`save`] finds the village linker: built from the villages, cached until they change.
#[derive(Debug, Clone, Copy)]
pub struct Linking<'a> {
    pub cache: &'a LinkerCache,
    pub watch: &'a Watch,
}

/// One record to save: the JSON body, the coordinate system of its lon/lat, and what it
/// creates or updates.
#[derive(Debug, Clone, Copy)]
pub struct Save<'a> {
    pub body: &'a Value,
    pub crs: Crs,
    /// [`Target::CreateOnly`] (POST) or [`Target::Id`] (PATCH).
    pub target: Target,
    /// A device's own id for a record it queued offline: a resend creates nothing.
    pub client_key: Option<&'a str>,
}

/// Creates or updates one record in one transaction, audited. Returns its id and whether the
/// write is a resend of one already made with the same idempotency key (nothing written).
pub async fn save(
    pool: &PgPool,
    linking: Linking<'_>,
    spec: &'static RegisterSpec,
    who: &Who,
    save: Save<'_>,
) -> Result<(i64, bool), Error> {
    let Save {
        body,
        crs,
        target,
        client_key,
    } = save;
    if let Some(key) = client_key {
        if !(8..=128).contains(&key.len()) {
            return Err(Error::InvalidRequest {
                code: "invalid_idempotency_key",
                message: "Idempotency-Key is 8 to 128 characters (a client-generated id)"
                    .to_owned(),
            });
        }
        let seen: Option<i64> = sqlx::query_scalar(
            "SELECT record_id FROM client_writes WHERE key = $1 AND user_id = $2 AND register = $3",
        )
        .bind(key)
        .bind(who.actor.user_id)
        .bind(spec.name)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = seen {
            return Ok((id, true));
        }
    }
    who.may_write(spec)?;
    let (headers, fields, cells) = body_row(spec, body)?;
    if matches!(target, Target::Id(_))
        && let Some(f) = fields.iter().flatten().find(|f| spec.is_person_field(f))
    {
        return Err(Error::field_refused(
            f,
            "person_field",
            json!({ "register": "people" }),
            "person fields are changed at /api/people/{id}, not on the case",
        ));
    }
    let layout = Layout::new(spec, headers, &fields);
    let linker = linking.cache.get(pool, linking.watch).await?;
    // An update's rules across fields read the stored values of the fields it leaves as they
    // are (a visit's outcome corrected alone still has its visit date).
    let stored = match target {
        Target::Id(id) => Some(stored_values(pool, spec, who, id).await?),
        _ => None,
    };
    let opts = Options {
        crs,
        scope: who.scope.as_ref(),
        require_all: !matches!(target, Target::Id(_)),
        stored: stored.as_ref(),
    };
    let staged = parse::parse_row(spec, &layout, &linker, opts, 1, &cells).map_err(refused)?;
    let present = Present {
        fields: layout.field_col.iter().map(Option::is_some).collect(),
        link: layout.has_link(),
        point: layout.has_point(),
    };
    let mut tx = pool.begin().await?;
    let mut errors = BTreeMap::new();
    let batch = Batch {
        present: &present,
        target,
        scope: who.scope.as_ref(),
        user: &who.actor.username,
        user_id: who.actor.user_id,
        keep_valid: false,
        ids: true,
    };
    let (written, _) = write_rows(&mut tx, spec, vec![staged], &batch, &mut errors)
        .await
        .map_err(db_refusal)?;
    if !errors.is_empty() {
        return Err(refused(errors.into_values().flatten().collect()));
    }
    let id = match target {
        Target::Id(id) => id,
        _ => written
            .ids
            .first()
            .map(|(_, id)| *id)
            .ok_or_else(|| anyhow::anyhow!("a created record has no id"))?,
    };
    // The write audited itself, with the fields it changed (`write::write`).
    if let Some(key) = client_key {
        sqlx::query(
            "INSERT INTO client_writes (key, user_id, register, record_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(key)
        .bind(who.actor.user_id)
        .bind(spec.name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((id, false))
}

/// Deletes the record `id` of the jurisdiction (soft where the register keeps deleted records),
/// audited; a record others refer to is a 409.
pub async fn delete(
    pool: &PgPool,
    spec: &'static RegisterSpec,
    who: &Who,
    id: i64,
) -> Result<(), Error> {
    who.may_write(spec)?;
    let mut tx = pool.begin().await?;
    let before = read::one(&mut *tx, spec, who.scope.as_ref(), id)
        .await?
        .ok_or_else(|| not_found(spec, id))?;
    sqlx::query(sqlx::AssertSqlSafe(spec.delete_sql()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23503") => Error::Conflict {
                code: "record_in_use",
                message: format!("{} record {id} is referenced by other records", spec.name),
            },
            _ => Error::Database(e),
        })?;
    audit::record(
        &mut tx,
        &who.actor,
        Entry {
            action: "delete",
            table: Some(spec.table),
            row_id: Some(id.to_string()),
            before: Some(before),
            ..Entry::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
