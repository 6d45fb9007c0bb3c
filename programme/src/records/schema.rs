//! The register declaration ([`super::spec`]) as the dashboard draws its forms and lists from it
//! (`GET /api/registers`): every field with its type, bounds, enumeration values and labels
//! (Chinese first, [`super::labels`]), the key a list or record gives it under, the register a
//! picker chooses it from; and the columns of each register's list. A field added to the
//! declaration appears in the API, the import and the form at once.

use serde_json::{Value, json};

use super::import::Who;
use super::labels;
use super::read;
use super::spec::{Field, Point, RegisterSpec, SPECS, Ty, Village};
use crate::auth::{Caller, Perm};

/// The registers `caller` may read, as forms and lists are drawn from them.
pub fn registers(caller: &Caller, who: &Who) -> Value {
    let items: Vec<Value> = SPECS
        .iter()
        .filter(|s| s.generic_api && caller.can(s.perm))
        .map(|s| register(s, caller, who))
        .collect();
    json!({ "items": items })
}

/// One register's declaration for `caller`.
pub fn register(spec: &'static RegisterSpec, caller: &Caller, who: &Who) -> Value {
    let may_write = caller.can(spec.perm) && who.may_write(spec).is_ok();
    let case_rows = caller.can(Perm::CaseRows);
    let (village, village_required) = match spec.village {
        Village::None => ("none", false),
        Village::Linked {
            required, fallback, ..
        } => ("linked", required && fallback.is_none()),
        Village::ViaCase => ("via_case", false),
    };
    let point = match spec.point {
        Point::None => "none",
        Point::Optional => "optional",
        Point::Required => "required",
    };
    let fields: Vec<Value> = spec.fields.iter().map(|f| field(spec, f, caller)).collect();
    json!({
        "name": spec.name,
        "name_zh": spec.name_zh,
        "name_en": spec.name_en,
        "may_write": may_write,
        "may_delete": may_write,
        "soft_delete": spec.soft_delete,
        "own_read_side": spec.own_read_side,
        "personal": spec.personal,
        "village": village,
        "village_required": village_required,
        "point": point,
        "date_column": spec.date_column,
        "status_column": spec.status_column,
        "search": spec.search,
        "fields": fields,
        "list_columns": list_columns(spec, case_rows),
        "sort_keys": read::sort_keys(spec, case_rows).into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
    })
}

fn field(spec: &'static RegisterSpec, f: &'static Field, caller: &Caller) -> Value {
    let (ty, min, max, options) = match f.ty {
        Ty::Text => ("text", None, None, None),
        Ty::Int { min, max } => ("int", Some(min as f64), Some(max as f64), None),
        Ty::Dec { min, max } => ("dec", Some(min), Some(max), None),
        Ty::Date => ("date", None, None, None),
        Ty::Bool => ("bool", None, None, None),
        Ty::Enum(e) => {
            let options: Vec<Value> = e
                .labels()
                .map(|value| {
                    let (zh, en) =
                        labels::option(spec.name, e.sql_type, value).unwrap_or((value, value));
                    json!({ "value": value, "zh": zh, "en": en })
                })
                .collect();
            ("enum", None, None, Some(options))
        }
        Ty::IdNumber => ("id_number", None, None, None),
        Ty::Phone => ("phone", None, None, None),
    };
    let (label_zh, label_en) = labels::field(spec.name, f.name).unwrap_or((f.name, f.name));
    let column = f.column.or_else(|| read::list_key(spec, f));
    json!({
        "name": f.name,
        "type": ty,
        "required": f.required,
        "min": min,
        "max": max,
        "options": options,
        "label_zh": label_zh,
        "label_en": label_en,
        "column": column,
        "person": spec.is_person_field(f.name),
        "picker": picker(spec, f.name, caller),
    })
}

/// Key fields chosen from another register's list: (field, register, the picked record's key
/// that is sent).
const PICKERS: &[(&str, &str, &str)] = &[
    ("dog_tag", "dogs", "dog_tag"),
    ("household_no", "households", "household_no"),
    ("point_code", "slaughter_points", "point_code"),
    ("campaign", "vaccination_campaigns", "name"),
    ("item_code", "stock_items", "item_code"),
    ("case_id", "cases", "id"),
];

/// The picker of a field: another register's list the caller may read (a register's own key,
/// a dog's tag on the dog, is typed).
fn picker(spec: &RegisterSpec, field: &str, caller: &Caller) -> Value {
    PICKERS
        .iter()
        .find(|(f, register, _)| *f == field && *register != spec.name)
        .filter(|(_, register, _)| {
            super::spec::by_name(register).is_some_and(|target| caller.can(target.perm))
        })
        .map_or(
            Value::Null,
            |(_, register, key)| json!({ "register": register, "key": key }),
        )
}

/// The columns each register's list shows, by the keys of its list JSON (`/api/cases` nests
/// the person: `person.name`).
const LIST_COLUMNS: &[(&str, &[&str])] = &[
    (
        "households",
        &["household_no", "head_name", "village_name", "pastoral"],
    ),
    (
        "people",
        &["name", "sex", "age", "village_name", "ethnicity", "phone"],
    ),
    (
        "dogs",
        &[
            "dog_tag",
            "dog_kind",
            "sex",
            "household_no",
            "owner",
            "village_name",
            "status",
            "registered_on",
            "last_dosed_on",
        ],
    ),
    (
        "dewormings",
        &[
            "dog_tag",
            "dosed_on",
            "drug",
            "method",
            "batch",
            "given_by",
            "village_name",
        ],
    ),
    (
        "faecal_tests",
        &[
            "sample_id",
            "dog_tag",
            "sampled_on",
            "result",
            "method",
            "village_name",
        ],
    ),
    (
        "stray_dog_events",
        &[
            "occurred_on",
            "n_dogs",
            "action",
            "village_name",
            "reported_by",
        ],
    ),
    (
        "slaughter_points",
        &[
            "point_code",
            "point_name",
            "point_kind",
            "disposal_facility",
            "village_name",
        ],
    ),
    (
        "slaughter_inspections",
        &[
            "point_code",
            "inspected_on",
            "species",
            "slaughtered",
            "infected",
            "organ",
            "origin_village_name",
        ],
    ),
    (
        "vaccination_campaigns",
        &["name", "year", "vaccine", "species", "starts_on", "ends_on"],
    ),
    (
        "vaccinations",
        &[
            "campaign",
            "village_name",
            "vaccinated_on",
            "target",
            "immunised",
            "doses",
        ],
    ),
    (
        "livestock_census",
        &[
            "village_name",
            "year",
            "population",
            "households",
            "dogs_estimated",
            "sheep",
        ],
    ),
    (
        "rodent_surveys",
        &[
            "surveyed_on",
            "village_name",
            "site",
            "trapped",
            "dissected",
            "infected",
        ],
    ),
    (
        "cases",
        &[
            "person.name",
            "case_type",
            "diagnosis_class",
            "village_name",
            "reported_on",
            "status",
            "latest_stage",
            "next_followup_due",
        ],
    ),
    (
        "imaging_exams",
        &[
            "case_id",
            "examined_on",
            "modality",
            "ce_stage",
            "pnm_p",
            "village_name",
        ],
    ),
    (
        "treatments",
        &[
            "case_id",
            "kind",
            "started_on",
            "ended_on",
            "hospital",
            "village_name",
        ],
    ),
    (
        "followups",
        &[
            "case_id",
            "due_on",
            "visited_on",
            "outcome",
            "visited_by",
            "village_name",
        ],
    ),
    (
        "screening_campaigns",
        &[
            "screened_on",
            "village_name",
            "method",
            "target_group",
            "screened",
            "positives",
        ],
    ),
    (
        "health_education",
        &[
            "held_on",
            "village_name",
            "activity",
            "participants",
            "aware",
        ],
    ),
    (
        "stock_items",
        &["item_code", "item_name", "item_kind", "unit"],
    ),
    (
        "stock_movements",
        &[
            "item_code",
            "moved_on",
            "movement_kind",
            "quantity",
            "batch",
            "village_name",
        ],
    ),
];

/// The columns of `spec`'s list for a reader with or without case rows: what [`read::restrict`]
/// leaves out is not a column for them.
pub fn list_columns(spec: &RegisterSpec, case_rows: bool) -> Vec<Value> {
    let keys = LIST_COLUMNS
        .iter()
        .find(|(r, _)| *r == spec.name)
        .map_or(&[][..], |(_, k)| *k);
    keys.iter()
        .filter(|k| case_rows || !spec.personal_fields.contains(k))
        .map(|key| {
            let (zh, en) = spec
                .field(key)
                .and_then(|f| labels::field(spec.name, f.name))
                .or_else(|| labels::key(spec.name, key, None))
                .unwrap_or((key, key));
            json!({ "key": key, "label_zh": zh, "label_en": en })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_register_lists_columns_that_its_list_can_be_sorted_by_but_masked_identifiers() {
        for spec in SPECS {
            let cols = list_columns(spec, true);
            assert!(!cols.is_empty(), "{} has no list columns", spec.name);
            if spec.own_read_side {
                continue;
            }
            let keys: Vec<String> = read::sort_keys(spec, true)
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            for c in cols {
                let key = c["key"].as_str().unwrap_or_default();
                // A masked identifier is shown but not sorted by (its order tells the digits).
                assert!(
                    keys.iter().any(|k| k == key) || spec.masks.iter().any(|(m, _)| *m == key),
                    "{}: {key} is no sort key",
                    spec.name
                );
                assert!(
                    c["label_zh"].as_str().is_some_and(|l| l != key),
                    "{}: {key} has no label",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn a_dogs_owner_is_no_column_for_readers_without_case_rows() {
        let dogs = super::super::spec::by_name("dogs").expect("dogs");
        let keys = |case_rows| -> Vec<Value> {
            list_columns(dogs, case_rows)
                .into_iter()
                .map(|c| c["key"].clone())
                .collect()
        };
        assert!(keys(true).contains(&json!("owner")));
        assert!(!keys(false).contains(&json!("owner")));
        assert!(
            !read::sort_keys(dogs, false)
                .iter()
                .any(|(k, _)| k == "owner")
        );
    }

    #[test]
    fn pickers_name_registers_and_keys_that_exist() {
        for (field, register, key) in PICKERS {
            let target = super::super::spec::by_name(register).expect(register);
            assert!(
                *key == "id" || target.field(key).is_some(),
                "{field}: {register} has no {key}"
            );
        }
    }
}
