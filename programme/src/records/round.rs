//! The monthly deworming round at the desk: a village's live dogs for a month, with each dog's
//! last dose and whether it was dosed in the month ([`dogs`]); and the round saved in one go
//! ([`save`]): one deworming per ticked dog, the date, drug and batch entered once, written in one
//! transaction through the import's parser and batch writer (so a value the import refuses the
//! round refuses too), all or nothing, each new record audited. A dog already dosed that day is
//! left as it is. Dogs are found by tag among the writer's own only: another jurisdiction's dog
//! reads as unknown, as everywhere.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use echinomap_domain::VillageCode;
use echinomap_geodata::gcj02::Crs;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::import::{Who, present_of, write_rows};
use super::one::{Linking, audit_list, refused};
use super::parse::{self, Layout, Options, Reason, RowError};
use super::spec::{self, RegisterSpec};
use super::write::{Batch, Target, scoped};
use crate::error::Error;

/// The most dogs one round saves.
pub const MAX_DOGS: usize = 5_000;

/// A village of the caller's jurisdiction, or the 404 of an unknown one (outside reads alike):
/// its id and name.
async fn village(pool: &PgPool, who: &Who, code: &VillageCode) -> Result<(i32, String), Error> {
    let not_found = || {
        Error::not_found(
            "village_not_found",
            format!("no village {code} in your jurisdiction"),
        )
    };
    if !who.prefix().is_empty() && !code.as_str().starts_with(who.prefix()) {
        return Err(not_found());
    }
    sqlx::query_as("SELECT id, name FROM villages WHERE code = $1")
        .bind(code.as_str())
        .fetch_optional(pool)
        .await?
        .ok_or_else(not_found)
}

/// The live dogs of `village` (alive, registered by the month's end) with their household, owner
/// (only for `case_rows`: the household head is personal), last dose and the dose of the month
/// `[first, last]`; and the exact counts of dogs and dosed dogs. A list that names owners is
/// audited with the dogs it showed.
pub async fn dogs(
    pool: &PgPool,
    who: &Who,
    case_rows: bool,
    code: &VillageCode,
    (first, last): (NaiveDate, NaiveDate),
) -> Result<Value, Error> {
    let (village_id, name) = village(pool, who, code).await?;
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<NaiveDate>,
        Option<NaiveDate>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.tag, d.kind::text, h.household_no, h.head_name,
                (SELECT max(w.dosed_on) FROM dewormings w
                  WHERE w.dog_id = d.id AND w.deleted_at IS NULL AND w.dosed_on <= $3),
                (SELECT max(w.dosed_on) FROM dewormings w
                  WHERE w.dog_id = d.id AND w.deleted_at IS NULL AND w.dosed_on BETWEEN $2 AND $3)
         FROM dogs d LEFT JOIN households h ON h.id = d.household_id
         WHERE d.village_id = $1 AND d.deleted_at IS NULL AND d.status = 'alive'
           AND d.registered_on <= $3
         ORDER BY h.household_no NULLS LAST, d.tag",
    )
    .bind(village_id)
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    let dosed = rows.iter().filter(|r| r.6.is_some()).count();
    let items: Vec<Value> = rows
        .into_iter()
        .map(
            |(id, tag, kind, household_no, owner, last_dosed_on, dosed_on)| {
                let mut item = json!({
                    "id": id,
                    "tag": tag,
                    "kind": kind,
                    "household_no": household_no,
                    "last_dosed_on": last_dosed_on,
                    "dosed_in_month": dosed_on.is_some(),
                    "dosed_on": dosed_on,
                });
                if case_rows {
                    item["owner"] = json!(owner);
                }
                item
            },
        )
        .collect();
    if case_rows && !items.is_empty() {
        audit_list(pool, who, "dogs", &items).await?;
    }
    Ok(json!({
        "village": { "code": code.as_str(), "name": name },
        "month": first.format("%Y-%m").to_string(),
        "from": first,
        "to": last,
        "counts": { "dogs": items.len(), "dosed": dosed },
        "items": items,
    }))
}

/// One round as the desk sends it: what is entered once, and the ticked dogs.
#[derive(Debug, Clone)]
pub struct Round {
    pub village: VillageCode,
    pub dosed_on: String,
    pub drug: Option<String>,
    pub method: Option<String>,
    pub batch: Option<String>,
    pub dose_mg: Option<String>,
    pub given_by: Option<String>,
    pub dog_tags: Vec<String>,
}

/// What a saved round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    /// New dewormings (and deleted ones of the day restored).
    pub created: u64,
    /// Dogs already dosed that day: left as they were.
    pub unchanged: u64,
}

/// Saves a round in one transaction: every ticked dog gets its deworming, or (any dog or value
/// refused) nothing is written and the one 422 lists every refusal, each row naming its dog.
pub async fn save(
    pool: &PgPool,
    linking: Linking<'_>,
    who: &Who,
    round: &Round,
) -> Result<Saved, Error> {
    let spec: &'static RegisterSpec = spec::by_name("dewormings")
        .ok_or_else(|| anyhow::anyhow!("the dewormings register is declared"))?;
    who.may_write(spec)?;
    let (village_id, _) = village(pool, who, &round.village).await?;
    // Ticking a dog twice doses it once.
    let mut seen = HashSet::new();
    let tags: Vec<String> = round
        .dog_tags
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| seen.insert(t.clone()))
        .collect();
    if tags.is_empty() {
        return Err(Error::invalid_field(
            "dog_tags",
            "请至少选择一只犬 / tick at least one dog",
        ));
    }
    if tags.len() > MAX_DOGS {
        return Err(Error::invalid_field(
            "dog_tags",
            format!("一次最多{MAX_DOGS}只犬 / at most {MAX_DOGS} dogs in one round"),
        ));
    }
    // The row of a sheet the round would be: the values given once, the dog's tag.
    let once: Vec<(&'static str, &str)> = [
        ("dosed_on", Some(round.dosed_on.as_str())),
        ("drug", round.drug.as_deref()),
        ("method", round.method.as_deref()),
        ("batch", round.batch.as_deref()),
        ("dose_mg", round.dose_mg.as_deref()),
        ("given_by", round.given_by.as_deref()),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.map(|v| (f, v)))
    .collect();
    let mut headers = vec!["dog_tag".to_owned()];
    let mut fields = vec![Some("dog_tag")];
    for (f, _) in &once {
        headers.push((*f).to_owned());
        fields.push(Some(*f));
    }
    let layout = Layout::new(spec, headers, &fields);
    let linker = linking.cache.get(pool, linking.watch).await?;
    let opts = Options {
        crs: Crs::Wgs84,
        scope: who.scope.as_ref(),
        require_all: true,
        stored: None,
    };
    let mut tx = pool.begin().await?;
    let mut errors: BTreeMap<usize, Vec<RowError>> = BTreeMap::new();
    // Each tag must be one live dog of the round's village: a tag of a dog of another village,
    // a deleted or dead dog, or a tag two live dogs of the jurisdiction share (before the
    // county merged them) is refused, so that a dose never lands on another dog.
    let found: Vec<(String, i64, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.tag, count(*), bool_and(d.village_id = $2 AND d.status = 'alive')
         FROM {} d WHERE d.tag = ANY($1) AND d.deleted_at IS NULL GROUP BY d.tag",
        scoped("dogs", who.scope.as_ref())
    )))
    .bind(&tags)
    .bind(village_id)
    .fetch_all(&mut *tx)
    .await?;
    for (i, tag) in tags.iter().enumerate() {
        let why = match found.iter().find(|(t, _, _)| t == tag) {
            Some((_, 1, true)) => continue,
            Some((_, n, _)) if *n > 1 => Reason::new(
                "reference_ambiguous",
                json!({ "what": "dogs", "key": "dog_tag", "value": tag, "n": n }),
                format!("{n} dogs have the tag {tag:?}: the county merges them first"),
            ),
            _ => Reason::new(
                "reference_not_found",
                json!({ "what": "dogs", "key": "dog_tag", "value": tag }),
                format!("no live dog with tag {tag:?} in the village"),
            ),
        };
        errors.entry(i + 1).or_default().push(RowError::new(
            i + 1,
            Some("dog_tag".to_owned()),
            Some("dog_tag"),
            Some(tag.clone()),
            why,
        ));
    }
    if !errors.is_empty() {
        tx.rollback().await?;
        return Err(refused(errors.into_values().flatten().collect()));
    }
    let dosed_on = parse::parse_value(spec::Ty::Date, &round.dosed_on).ok();
    // Dogs of the writer's jurisdiction already dosed that day.
    let already: Vec<String> = match &dosed_on {
        Some(day) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT DISTINCT d.tag FROM {} d
             JOIN dewormings w ON w.dog_id = d.id AND w.deleted_at IS NULL
             WHERE d.tag = ANY($1) AND w.dosed_on = $2::date
               AND d.deleted_at IS NULL AND d.village_id = $3",
                scoped("dogs", who.scope.as_ref())
            )))
            .bind(&tags)
            .bind(day)
            .bind(village_id)
            .fetch_all(&mut *tx)
            .await?
        }
        None => Vec::new(),
    };
    let mut staged = Vec::new();
    // A value given once is refused once, not once per dog.
    let mut refused_fields = HashSet::new();
    for (i, tag) in tags.iter().enumerate() {
        if already.contains(tag) {
            continue;
        }
        let mut cells = vec![tag.clone()];
        cells.extend(once.iter().map(|(_, v)| (*v).to_owned()));
        match parse::parse_row(spec, &layout, &linker, opts, i + 1, &cells) {
            Ok(row) => staged.push(row),
            Err(es) => {
                for e in es {
                    let field = e.field.clone().unwrap_or_default();
                    if field == "dog_tag" || refused_fields.insert(field) {
                        errors.entry(e.row).or_default().push(e);
                    }
                }
            }
        }
    }
    let mut written = super::write::Written::default();
    if errors.is_empty() && !staged.is_empty() {
        let present = present_of(&layout);
        let batch = Batch {
            present: &present,
            target: Target::Upsert,
            scope: who.scope.as_ref(),
            user: &who.actor.username,
            user_id: who.actor.user_id,
            keep_valid: false,
            // Each new record audited with what it holds, as one written through the API.
            ids: true,
        };
        written = write_rows(&mut tx, spec, staged, &batch, &mut errors)
            .await?
            .0;
    }
    if !errors.is_empty() {
        tx.rollback().await?;
        return Err(refused(errors.into_values().flatten().collect()));
    }
    tx.commit().await?;
    Ok(Saved {
        created: written.inserted + written.updated,
        unchanged: already.len() as u64 + written.unchanged,
    })
}
