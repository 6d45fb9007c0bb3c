//! Every register of the API and the import, declared once: its fields (the canonical names of
//! the import headers, which are also the JSON names of the API), their types, the references
//! that turn a natural key into a row id (a dog tag into `dog_id`), how a record finds its
//! village, and the natural keys that make an import idempotent.
//!
//! SQL fragments use fixed aliases: `s` a staged row (typed values as parsed), `r` a staged row
//! with its references resolved (ref columns added), `q` that row with its village resolved,
//! `t` the register table.

use echinomap_geodata::import::enums::{self, EnumType};
use echinomap_geodata::import::headers::Kind;

use crate::auth::Perm;

/// The type of a field's value, checked in Rust before anything reaches the database.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Text,
    Int {
        min: i64,
        max: i64,
    },
    Dec {
        min: f64,
        max: f64,
    },
    Date,
    Bool,
    Enum(&'static EnumType),
    /// 身份证号, GB 11643 checksum verified.
    IdNumber,
    Phone,
}

impl Ty {
    /// The column type of the staging table.
    pub fn sql(self) -> &'static str {
        match self {
            Ty::Text | Ty::IdNumber | Ty::Phone => "text",
            Ty::Int { .. } => "bigint",
            Ty::Dec { .. } => "numeric",
            Ty::Date => "date",
            Ty::Bool => "boolean",
            Ty::Enum(e) => e.sql_type,
        }
    }
}

/// One field of a register.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Canonical name: import header field, JSON key, staging column.
    pub name: &'static str,
    pub ty: Ty,
    /// A new record needs it.
    pub required: bool,
    /// The table column it is written to; `None` for fields that only resolve a reference or a
    /// key (a dog tag on a deworming row).
    pub column: Option<&'static str>,
    /// SQL for an empty value of a NOT NULL column with a default.
    pub default: Option<&'static str>,
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
        column: Some(name),
        default: None,
    }
}

const fn req(field: Field) -> Field {
    Field {
        required: true,
        ..field
    }
}

const fn col(field: Field, column: &'static str) -> Field {
    Field {
        column: Some(column),
        ..field
    }
}

const fn key_only(field: Field) -> Field {
    Field {
        column: None,
        ..field
    }
}

const fn default(field: Field, sql: &'static str) -> Field {
    Field {
        default: Some(sql),
        ..field
    }
}

const TEXT: Ty = Ty::Text;
const DATE: Ty = Ty::Date;
const BOOL: Ty = Ty::Bool;
const COUNT: Ty = Ty::Int {
    min: 0,
    max: 100_000_000,
};
const YEAR: Ty = Ty::Int {
    min: 1990,
    max: 2100,
};
const fn en(e: &'static EnumType) -> Ty {
    Ty::Enum(e)
}

/// A reference from a record to another row, found by a natural key in the record.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    /// The column of the register it fills (`dog_id`).
    pub column: &'static str,
    /// A scalar SQL expression over the staged row `s` giving the id, NULL when not found.
    pub sql: &'static str,
    /// The fields it reads: the reference is attempted when the first is present.
    pub fields: &'static [&'static str],
    /// A new record needs it.
    pub required: bool,
    /// What is referenced, for messages ("dog with tag").
    pub what: &'static str,
    /// The same as a join, `(table, key column)` on the first field, when the key is unique: a
    /// million rows then resolve with one hash join instead of a million index probes.
    pub join: Option<(&'static str, &'static str)>,
}

/// How a record finds its village.
#[derive(Debug, Clone, Copy)]
pub enum Village {
    /// Not tied to a village (stock items, vaccination campaigns).
    None,
    /// By the link fields (code, name, point); `fallback` (SQL over `r`) gives the village when
    /// the row has no link fields, e.g. the village of the dog a deworming row names.
    Linked {
        required: bool,
        fallback: Option<&'static str>,
        /// The table keeps `link_method` and `link_distance_m`.
        link_columns: bool,
        /// The table column (`village_id`, or `origin_village_id`).
        column: &'static str,
    },
    /// Placed through the case it belongs to (imaging, treatment, follow-up).
    ViaCase,
}

/// Whether a record has a position (`lon`, `lat` → `geom` and H3 cells r7–r9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    None,
    Optional,
    Required,
}

/// How a field is shown in lists: personal identifiers are masked there and whole only in the
/// (audited) detail of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    IdNumber,
    Phone,
}

/// How the lines of a register carry the person they are about (the case line list names the
/// patient on the line of the case). The fields named like fields of `register` are the
/// person's: a batch writes them to `register` first (matched by its natural keys; sex and birth
/// date read from the ID number when the line leaves them out), and the record's reference to
/// its person reads the temporary table `import_people` (row number → person id) that this
/// fills. A record never changes its person: person fields are changed on the person's record.
#[derive(Debug, Clone, Copy)]
pub struct PersonLink {
    /// The register of persons (`people`).
    pub register: &'static str,
    /// The field whose column says the lines name their person (`name`); without it the batch
    /// names no person and leaves the records' persons as they are.
    pub named_by: &'static str,
}

/// Whether a row keeps a rule, given `get`, which gives a field's parsed value.
pub type Rule = fn(&dyn Fn(&str) -> Option<String>) -> bool;

/// A rule across fields of one row, checked in Rust.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// The field the refusal is shown at.
    pub field: &'static str,
    /// The reason code (`records::parse::ALL_CODES`): general codes take the fields they name
    /// as parameters (`date_order {first, second}`).
    pub code: &'static str,
    /// The code's parameters, a JSON object.
    pub params: &'static str,
    /// The English sentence, for files and the command line.
    pub message: &'static str,
    /// Whether a row keeps the rule.
    pub holds: Rule,
}

/// `first` must not come after `second` (`ends_after`).
const fn date_order(
    first_then_second: &'static str,
    message: &'static str,
    holds: Rule,
    field: &'static str,
) -> Check {
    Check {
        field,
        code: "date_order",
        params: first_then_second,
        message,
        holds,
    }
}

/// `part` cannot exceed `whole` (`not_more`).
const fn no_more(
    part_and_whole: &'static str,
    message: &'static str,
    holds: Rule,
    field: &'static str,
) -> Check {
    Check {
        field,
        code: "not_more",
        params: part_and_whole,
        message,
        holds,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RegisterSpec {
    /// The URL segment and the import `kind=` (`dewormings`).
    pub name: &'static str,
    pub table: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// The import kind that feeds it, if any.
    pub kind: Option<Kind>,
    /// What reading and writing it needs.
    pub perm: Perm,
    pub fields: &'static [Field],
    pub refs: &'static [Reference],
    pub village: Village,
    pub point: Point,
    /// Natural keys, in order of preference: SQL predicates between `t` and `q`.
    pub keys: &'static [&'static str],
    /// The one natural key is a unique constraint of the table: matched with a join.
    pub unique_key: bool,
    /// The date that places a record in time (`from`/`to` filters).
    pub date_column: Option<&'static str>,
    /// The column the `status` filter compares.
    pub status_column: Option<&'static str>,
    /// Columns the `q` filter searches (prefix match).
    pub search: &'static [&'static str],
    /// Extra JSON for the read side (SQL over `t`, a jsonb object).
    pub extra_json: &'static str,
    /// Identifiers masked in lists.
    pub masks: &'static [(&'static str, Mask)],
    /// Personal health data: reads of one record are audited.
    pub personal: bool,
    pub soft_delete: bool,
    pub checks: &'static [Check],
    /// The lines carry their person (cases).
    pub person: Option<PersonLink>,
    /// SQL that flags the new records repeating an earlier one of the same subject (`$1`: the
    /// ids a batch inserted); the rows it changes are the import report's `revisits`. A batch
    /// of such a register returns the ids it wrote.
    pub revisits: Option<&'static str>,
    /// `GET /api/{name}` and `/api/{name}/{id}` answer from a read side of the register's own
    /// (cases: the line list with the person, the latest stage and the next follow-up), not
    /// from the generic one; its writes are the generic ones.
    pub own_read_side: bool,
    /// The natural key that may also name a record in another jurisdiction, `(field, column)`
    /// (an ID number, a dog tag): a writer who cannot see that record writes a new one, and the
    /// pair is queued in `possible_duplicates` for the county ([`crate::duplicates`]).
    pub shared_key: Option<(&'static str, &'static str)>,
    /// Fields only roles with case rows read (a household head's name and address; the
    /// household's position goes with them).
    pub personal_fields: &'static [&'static str],
    /// `/api/{name}` and `/api/{name}/{id}` exist (GET, POST, PATCH, DELETE). The stock ledger
    /// has none: it is read at `/api/stock/movements` and written through `/api/stock/*`; its
    /// spec declares the import's columns, which `stock::import` writes into the ledger.
    pub generic_api: bool,
}

impl RegisterSpec {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether `field` belongs to the person the line carries ([`PersonLink`]), not to the
    /// record.
    pub fn is_person_field(&self, field: &str) -> bool {
        self.person
            .and_then(|link| by_name(link.register))
            .is_some_and(|people| people.field(field).is_some())
    }

    /// The statement that deletes the record `$1`: soft where the register keeps deleted
    /// records.
    pub fn delete_sql(&self) -> String {
        if self.soft_delete {
            format!("UPDATE {} SET deleted_at = now() WHERE id = $1", self.table)
        } else {
            format!("DELETE FROM {} WHERE id = $1", self.table)
        }
    }

    pub fn has_village(&self) -> bool {
        matches!(self.village, Village::Linked { .. })
    }

    /// The SQL expression for a record's village id (for scope and the read side).
    pub fn village_id_sql(&self) -> Option<&'static str> {
        match self.village {
            Village::None => None,
            Village::Linked { column, .. } => Some(match column {
                "village_id" => "t.village_id",
                _ => "t.origin_village_id",
            }),
            Village::ViaCase => Some("(SELECT c.village_id FROM cases c WHERE c.id = t.case_id)"),
        }
    }
}

const BASE: RegisterSpec = RegisterSpec {
    name: "",
    table: "",
    name_zh: "",
    name_en: "",
    kind: None,
    perm: Perm::AnimalRows,
    fields: &[],
    refs: &[],
    village: Village::Linked {
        required: true,
        fallback: None,
        link_columns: true,
        column: "village_id",
    },
    point: Point::None,
    keys: &[],
    unique_key: false,
    date_column: None,
    status_column: None,
    search: &[],
    extra_json: "'{}'::jsonb",
    masks: &[],
    personal: false,
    soft_delete: true,
    checks: &[],
    person: None,
    revisits: None,
    own_read_side: false,
    shared_key: None,
    personal_fields: &[],
    generic_api: true,
};

const DOG_BY_TAG: Reference = Reference {
    column: "dog_id",
    sql: "(SELECT x.id FROM dogs x WHERE x.tag = s.dog_tag)",
    fields: &["dog_tag"],
    required: true,
    what: "dog with tag",
    join: Some(("dogs", "tag")),
};
const HOUSEHOLD_BY_NO: Reference = Reference {
    column: "household_id",
    sql: "(SELECT x.id FROM households x WHERE x.household_no = s.household_no)",
    fields: &["household_no"],
    required: false,
    what: "household with number",
    join: Some(("households", "household_no")),
};
/// A case by its id (a form opened from the patient's record), else by its NNDRS report id, else
/// the latest case of the person with that ID number, else of the person with that name and
/// birth date. Every branch reads only the writer's cases (`write::scoped`).
const CASE_REF: Reference = Reference {
    column: "case_id",
    sql: "coalesce(
        (SELECT x.id FROM cases x WHERE x.id = s.case_id_key AND x.deleted_at IS NULL),
        (SELECT x.id FROM cases x WHERE s.case_id_key IS NULL AND x.nndrs_id = s.nndrs_id),
        (SELECT x.id FROM cases x JOIN people p ON p.id = x.person_id
          WHERE s.case_id_key IS NULL AND s.nndrs_id IS NULL AND p.id_number = s.id_number ORDER BY x.reported_on DESC, x.id DESC LIMIT 1),
        (SELECT x.id FROM cases x JOIN people p ON p.id = x.person_id
          WHERE s.case_id_key IS NULL AND s.nndrs_id IS NULL AND s.id_number IS NULL AND p.name = s.name AND p.birth_date = s.birth_date
          ORDER BY x.reported_on DESC, x.id DESC LIMIT 1))",
    // `case_id` last: a sheet names its cases by the others, and an unknown one is named by them.
    fields: &["nndrs_id", "id_number", "name", "case_id"],
    required: true,
    what: "case with id, NNDRS id, ID number or name and birth date",
    join: None,
};
const CASE_FIELDS_FOR_REF: [Field; 5] = [
    key_only(f(
        "case_id",
        Ty::Int {
            min: 1,
            max: 1_000_000_000_000,
        },
    )),
    key_only(f("nndrs_id", TEXT)),
    key_only(f("id_number", Ty::IdNumber)),
    key_only(f("name", TEXT)),
    key_only(f("birth_date", DATE)),
];

const DOG_FALLBACK: Option<&str> = Some("(SELECT x.village_id FROM dogs x WHERE x.id = r.dog_id)");

fn ends_after(get: &dyn Fn(&str) -> Option<String>, start: &str, end: &str) -> bool {
    match (get(start), get(end)) {
        (Some(a), Some(b)) => a <= b,
        _ => true,
    }
}

fn not_more(get: &dyn Fn(&str) -> Option<String>, part: &str, whole: &str) -> bool {
    match (
        get(part).and_then(|p| p.parse::<i64>().ok()),
        get(whole).and_then(|w| w.parse::<i64>().ok()),
    ) {
        (Some(p), Some(w)) => p <= w,
        _ => true,
    }
}

pub const SPECS: &[RegisterSpec] = &[
    RegisterSpec {
        name: "households",
        unique_key: true,
        table: "households",
        name_zh: "户",
        name_en: "Households",
        kind: Some(Kind::Households),
        fields: &[
            req(f("household_no", TEXT)),
            req(f("head_name", TEXT)),
            f("address", TEXT),
            default(f("pastoral", BOOL), "false"),
        ],
        point: Point::Optional,
        keys: &["t.household_no = q.household_no"],
        search: &["household_no", "head_name"],
        shared_key: Some(("household_no", "household_no")),
        personal_fields: &["head_name", "address"],
        ..BASE
    },
    RegisterSpec {
        name: "people",
        table: "people",
        name_zh: "人员",
        name_en: "People",
        perm: Perm::CaseRows,
        fields: &[
            req(f("name", TEXT)),
            f("id_number", Ty::IdNumber),
            req(f("sex", en(&enums::SEX))),
            req(f("birth_date", DATE)),
            f("ethnicity", TEXT),
            f("occupation", TEXT),
            f("phone", Ty::Phone),
            key_only(f("household_no", TEXT)),
        ],
        refs: &[HOUSEHOLD_BY_NO],
        keys: &[
            "t.id_number = q.id_number",
            "(t.id_number IS NULL OR q.id_number IS NULL) AND t.name = q.name AND t.birth_date = q.birth_date AND t.village_id = q.village_id",
        ],
        search: &["name"],
        masks: &[("id_number", Mask::IdNumber), ("phone", Mask::Phone)],
        personal: true,
        shared_key: Some(("id_number", "id_number")),
        ..BASE
    },
    RegisterSpec {
        name: "dogs",
        unique_key: true,
        table: "dogs",
        name_zh: "犬只",
        name_en: "Dogs",
        kind: Some(Kind::Dogs),
        fields: &[
            req(col(f("dog_tag", TEXT), "tag")),
            f("collar_id", TEXT),
            key_only(f("household_no", TEXT)),
            req(col(f("dog_kind", en(&enums::DOG_KIND)), "kind")),
            default(f("sex", en(&enums::SEX)), "'unknown'"),
            f("birth_year", YEAR),
            default(f("status", en(&enums::DOG_STATUS)), "'alive'"),
            f("status_on", DATE),
            req(f("registered_on", DATE)),
        ],
        refs: &[HOUSEHOLD_BY_NO],
        keys: &["t.tag = q.dog_tag"],
        date_column: Some("registered_on"),
        status_column: Some("status"),
        search: &["tag"],
        // The owner (the household head: only for roles with case rows, `personal_fields`) and
        // the latest dose, which the desk's lists and the deworming round show.
        extra_json: "jsonb_build_object('dog_tag', t.tag, 'household_no', (SELECT x.household_no FROM households x WHERE x.id = t.household_id),
            'owner', (SELECT x.head_name FROM households x WHERE x.id = t.household_id),
            'last_dosed_on', (SELECT max(x.dosed_on) FROM dewormings x WHERE x.dog_id = t.id AND x.deleted_at IS NULL))",
        checks: &[
            Check {
                field: "status_on",
                code: "dog_status_on",
                params: "{}",
                message: "a dog that is no longer alive needs status_on (since when)",
                holds: |g| g("status").is_none_or(|s| s == "alive") || g("status_on").is_some(),
            },
            date_order(
                r#"{"first": "registered_on", "second": "status_on"}"#,
                "status_on cannot be before registered_on",
                |g| ends_after(g, "registered_on", "status_on"),
                "status_on",
            ),
        ],
        shared_key: Some(("dog_tag", "tag")),
        personal_fields: &["owner"],
        ..BASE
    },
    RegisterSpec {
        name: "dewormings",
        unique_key: true,
        table: "dewormings",
        name_zh: "驱虫",
        name_en: "Dewormings",
        kind: Some(Kind::Dewormings),
        fields: &[
            req(key_only(f("dog_tag", TEXT))),
            req(f("dosed_on", DATE)),
            default(f("drug", en(&enums::DEWORMING_DRUG)), "'praziquantel'"),
            f("batch", TEXT),
            f(
                "dose_mg",
                Ty::Dec {
                    min: 0.1,
                    max: 100_000.0,
                },
            ),
            default(f("method", en(&enums::DEWORMING_METHOD)), "'tablet'"),
            f("given_by", TEXT),
        ],
        refs: &[DOG_BY_TAG],
        village: Village::Linked {
            required: true,
            fallback: DOG_FALLBACK,
            link_columns: false,
            column: "village_id",
        },
        keys: &["t.dog_id = q.dog_id AND t.dosed_on = q.dosed_on"],
        date_column: Some("dosed_on"),
        extra_json: "jsonb_build_object('dog_tag', (SELECT x.tag FROM dogs x WHERE x.id = t.dog_id))",
        ..BASE
    },
    RegisterSpec {
        name: "faecal_tests",
        unique_key: true,
        table: "faecal_tests",
        name_zh: "犬粪检测",
        name_en: "Faecal tests",
        kind: Some(Kind::FaecalTests),
        fields: &[
            req(f("sample_id", TEXT)),
            key_only(f("dog_tag", TEXT)),
            key_only(f("household_no", TEXT)),
            req(f("sampled_on", DATE)),
            f("tested_on", DATE),
            default(f("method", en(&enums::FAECAL_METHOD)), "'copro_elisa'"),
            req(f("result", en(&enums::TEST_RESULT))),
            f("lab", TEXT),
        ],
        refs: &[
            Reference {
                required: false,
                ..DOG_BY_TAG
            },
            HOUSEHOLD_BY_NO,
        ],
        village: Village::Linked {
            required: true,
            fallback: DOG_FALLBACK,
            link_columns: true,
            column: "village_id",
        },
        keys: &["t.sample_id = q.sample_id"],
        date_column: Some("sampled_on"),
        status_column: Some("result"),
        search: &["sample_id"],
        extra_json: "jsonb_build_object('dog_tag', (SELECT x.tag FROM dogs x WHERE x.id = t.dog_id))",
        checks: &[date_order(
            r#"{"first": "sampled_on", "second": "tested_on"}"#,
            "tested_on cannot be before sampled_on",
            |g| ends_after(g, "sampled_on", "tested_on"),
            "tested_on",
        )],
        shared_key: Some(("sample_id", "sample_id")),
        ..BASE
    },
    RegisterSpec {
        name: "stray_dog_events",
        table: "stray_dog_events",
        name_zh: "无主犬处置",
        name_en: "Stray dog events",
        fields: &[
            req(f("occurred_on", DATE)),
            req(f(
                "n_dogs",
                Ty::Int {
                    min: 1,
                    max: 10_000,
                },
            )),
            req(f("action", en(&enums::STRAY_ACTION))),
            f("reported_by", TEXT),
        ],
        point: Point::Required,
        date_column: Some("occurred_on"),
        status_column: Some("action"),
        ..BASE
    },
    RegisterSpec {
        name: "slaughter_points",
        unique_key: true,
        table: "slaughter_points",
        name_zh: "屠宰点",
        name_en: "Slaughter points",
        kind: Some(Kind::SlaughterPoints),
        fields: &[
            req(col(f("point_code", TEXT), "code")),
            req(col(f("point_name", TEXT), "name")),
            req(col(
                f("point_kind", en(&enums::SLAUGHTER_POINT_KIND)),
                "kind",
            )),
            req(f("disposal_facility", en(&enums::DISPOSAL_FACILITY))),
            f("licence", TEXT),
        ],
        point: Point::Required,
        keys: &["t.code = q.point_code"],
        status_column: Some("kind"),
        search: &["code", "name"],
        shared_key: Some(("point_code", "code")),
        ..BASE
    },
    RegisterSpec {
        name: "slaughter_inspections",
        unique_key: true,
        table: "slaughter_inspections",
        name_zh: "屠宰检疫",
        name_en: "Slaughter inspections",
        kind: Some(Kind::SlaughterInspections),
        fields: &[
            req(key_only(f("point_code", TEXT))),
            req(f("inspected_on", DATE)),
            req(f("species", en(&enums::SPECIES))),
            default(f("age_class", en(&enums::AGE_CLASS)), "'unknown'"),
            req(f(
                "slaughtered",
                Ty::Int {
                    min: 1,
                    max: 1_000_000,
                },
            )),
            req(f("infected", COUNT)),
            req(f("organ", en(&enums::CYST_ORGAN))),
            req(f("disposal_method", en(&enums::DISPOSAL_METHOD))),
            req(f("disposal_done", BOOL)),
            f("inspector", TEXT),
        ],
        refs: &[Reference {
            column: "point_id",
            sql: "(SELECT x.id FROM slaughter_points x WHERE x.code = s.point_code)",
            fields: &["point_code"],
            required: true,
            what: "slaughter point with code",
            join: Some(("slaughter_points", "code")),
        }],
        // The village is where the animals came from, when the sheet says.
        village: Village::Linked {
            required: false,
            fallback: None,
            link_columns: true,
            column: "origin_village_id",
        },
        keys: &[
            "t.point_id = q.point_id AND t.inspected_on = q.inspected_on AND t.species = q.species AND t.age_class = coalesce(q.age_class, 'unknown')",
        ],
        date_column: Some("inspected_on"),
        status_column: Some("species"),
        extra_json: "jsonb_build_object('point_code', (SELECT x.code FROM slaughter_points x WHERE x.id = t.point_id))",
        checks: &[
            no_more(
                r#"{"part": "infected", "whole": "slaughtered"}"#,
                "infected cannot exceed slaughtered",
                |g| not_more(g, "infected", "slaughtered"),
                "infected",
            ),
            // The table's own rules, said before the database refuses the row without a field.
            Check {
                field: "organ",
                code: "organ_matches_infected",
                params: "{}",
                message: "organ is none exactly when no animal is infected",
                holds: |g| match (g("infected"), g("organ")) {
                    (Some(n), Some(organ)) => (n == "0") == (organ == "none"),
                    _ => true,
                },
            },
            Check {
                field: "disposal_method",
                code: "disposal_done_needs_method",
                params: "{}",
                message: "a disposal done needs a disposal method other than none",
                holds: |g| {
                    g("disposal_done").as_deref() != Some("true")
                        || g("disposal_method").is_none_or(|m| m != "none")
                },
            },
        ],
        ..BASE
    },
    RegisterSpec {
        name: "vaccination_campaigns",
        unique_key: true,
        table: "vaccination_campaigns",
        name_zh: "免疫计划",
        name_en: "Vaccination campaigns",
        fields: &[
            req(f("name", TEXT)),
            req(f("year", YEAR)),
            req(f("vaccine", TEXT)),
            default(f("species", en(&enums::SPECIES)), "'sheep'"),
            req(f("starts_on", DATE)),
            req(f("ends_on", DATE)),
        ],
        village: Village::None,
        keys: &["t.name = q.name"],
        date_column: Some("starts_on"),
        search: &["name"],
        checks: &[date_order(
            r#"{"first": "starts_on", "second": "ends_on"}"#,
            "ends_on cannot be before starts_on",
            |g| ends_after(g, "starts_on", "ends_on"),
            "ends_on",
        )],
        ..BASE
    },
    RegisterSpec {
        name: "vaccinations",
        unique_key: true,
        table: "vaccinations",
        name_zh: "羊免疫",
        name_en: "Vaccinations",
        kind: Some(Kind::Vaccinations),
        fields: &[
            req(key_only(f("campaign", TEXT))),
            req(f("vaccinated_on", DATE)),
            req(f("target", COUNT)),
            req(f("immunised", COUNT)),
            req(f("doses", COUNT)),
            f("batch", TEXT),
        ],
        refs: &[Reference {
            column: "campaign_id",
            sql: "(SELECT x.id FROM vaccination_campaigns x WHERE x.name = s.campaign AND x.deleted_at IS NULL)",
            fields: &["campaign"],
            required: true,
            what: "vaccination campaign named",
            join: None,
        }],
        keys: &["t.campaign_id = q.campaign_id AND t.village_id = q.village_id"],
        date_column: Some("vaccinated_on"),
        extra_json: "jsonb_build_object('campaign', (SELECT x.name FROM vaccination_campaigns x WHERE x.id = t.campaign_id))",
        ..BASE
    },
    RegisterSpec {
        name: "livestock_census",
        unique_key: true,
        table: "village_denominators",
        name_zh: "村年度基数",
        name_en: "Village census",
        kind: Some(Kind::LivestockCensus),
        perm: Perm::AnimalRows,
        fields: &[
            req(f("year", YEAR)),
            req(f("population", COUNT)),
            req(f("households", COUNT)),
            req(f("dogs_estimated", COUNT)),
            default(f("sheep", COUNT), "0"),
            default(f("goats", COUNT), "0"),
            default(f("cattle", COUNT), "0"),
            default(f("horses", COUNT), "0"),
            default(f("camels", COUNT), "0"),
        ],
        village: Village::Linked {
            required: true,
            fallback: None,
            link_columns: false,
            column: "village_id",
        },
        keys: &["t.village_id = q.village_id AND t.year = q.year"],
        soft_delete: false,
        ..BASE
    },
    RegisterSpec {
        name: "rodent_surveys",
        table: "rodent_surveys",
        name_zh: "鼠类调查",
        name_en: "Rodent surveys",
        fields: &[
            req(f("surveyed_on", DATE)),
            f("site", TEXT),
            req(f("trapped", COUNT)),
            req(f("dissected", COUNT)),
            req(f("infected", COUNT)),
            f("species", TEXT),
        ],
        point: Point::Required,
        date_column: Some("surveyed_on"),
        checks: &[
            no_more(
                r#"{"part": "dissected", "whole": "trapped"}"#,
                "dissected cannot exceed trapped",
                |g| not_more(g, "dissected", "trapped"),
                "dissected",
            ),
            no_more(
                r#"{"part": "infected", "whole": "dissected"}"#,
                "infected cannot exceed dissected",
                |g| not_more(g, "infected", "dissected"),
                "infected",
            ),
        ],
        ..BASE
    },
    RegisterSpec {
        name: "cases",
        table: "cases",
        name_zh: "病例",
        name_en: "Cases",
        kind: Some(Kind::Cases),
        perm: Perm::CaseRows,
        fields: &[
            // The person, from the same line of the line list.
            req(key_only(f("name", TEXT))),
            key_only(f("id_number", Ty::IdNumber)),
            key_only(f("sex", en(&enums::SEX))),
            key_only(f("birth_date", DATE)),
            key_only(f("ethnicity", TEXT)),
            key_only(f("occupation", TEXT)),
            key_only(f("phone", Ty::Phone)),
            key_only(f("household_no", TEXT)),
            // The case.
            req(f("case_type", en(&enums::CASE_TYPE))),
            req(f("diagnosis_class", en(&enums::DIAGNOSIS_CLASS))),
            req(f("organ", en(&enums::CASE_ORGAN))),
            req(f("discovery_route", en(&enums::DISCOVERY_ROUTE))),
            f("onset_on", DATE),
            f("diagnosed_on", DATE),
            req(f("reported_on", DATE)),
            f("nndrs_id", TEXT),
            f("reporting_unit", TEXT),
            default(f("status", en(&enums::CASE_STATUS)), "'under_treatment'"),
        ],
        refs: &[Reference {
            column: "person_id",
            sql: "(SELECT x.person_id FROM import_people x WHERE x.row_no = s.row_no)",
            fields: &["name"],
            required: true,
            what: "person",
            join: None,
        }],
        village: Village::Linked {
            required: true,
            fallback: None,
            link_columns: false,
            column: "village_id",
        },
        keys: &[
            "t.nndrs_id = q.nndrs_id",
            "(t.nndrs_id IS NULL OR q.nndrs_id IS NULL) AND t.person_id = q.person_id AND t.case_type = q.case_type AND t.reported_on = q.reported_on",
        ],
        date_column: Some("reported_on"),
        status_column: Some("status"),
        search: &["nndrs_id"],
        personal: true,
        checks: &[
            date_order(
                r#"{"first": "onset_on", "second": "diagnosed_on"}"#,
                "diagnosed_on cannot be before onset_on",
                |g| ends_after(g, "onset_on", "diagnosed_on"),
                "diagnosed_on",
            ),
            date_order(
                r#"{"first": "diagnosed_on", "second": "reported_on"}"#,
                "reported_on cannot be before diagnosed_on",
                |g| ends_after(g, "diagnosed_on", "reported_on"),
                "reported_on",
            ),
            Check {
                field: "birth_date",
                code: "person_sex_birth_date",
                params: "{}",
                message: "a person without an ID number needs sex and birth_date",
                holds: |g| {
                    g("id_number").is_some() || (g("birth_date").is_some() && g("sex").is_some())
                },
            },
        ],
        person: Some(PersonLink {
            register: "people",
            named_by: "name",
        }),
        // A person's second case, reported after the first: a relapse or a re-registration.
        revisits: Some(
            "UPDATE cases c SET is_revisit = true
             WHERE c.id = ANY($1) AND NOT c.is_revisit AND EXISTS (
               SELECT 1 FROM cases o WHERE o.person_id = c.person_id AND o.id <> c.id
                 AND o.deleted_at IS NULL AND o.reported_on <= c.reported_on)",
        ),
        own_read_side: true,
        shared_key: Some(("nndrs_id", "nndrs_id")),
        ..BASE
    },
    RegisterSpec {
        name: "imaging_exams",
        unique_key: true,
        table: "imaging_exams",
        name_zh: "影像检查",
        name_en: "Imaging exams",
        perm: Perm::CaseRows,
        fields: &[
            CASE_FIELDS_FOR_REF[0],
            CASE_FIELDS_FOR_REF[1],
            CASE_FIELDS_FOR_REF[2],
            CASE_FIELDS_FOR_REF[3],
            CASE_FIELDS_FOR_REF[4],
            req(f("examined_on", DATE)),
            default(f("modality", en(&enums::IMAGING_MODALITY)), "'ultrasound'"),
            f("ce_stage", en(&enums::CE_STAGE)),
            f("pnm_p", en(&enums::PNM_P)),
            f("pnm_n", en(&enums::PNM_N)),
            f("pnm_m", en(&enums::PNM_M)),
            f("largest_cyst_mm", Ty::Int { min: 1, max: 1000 }),
            f("examiner", TEXT),
        ],
        refs: &[CASE_REF],
        village: Village::ViaCase,
        keys: &[
            "t.case_id = q.case_id AND t.examined_on = q.examined_on AND t.modality = coalesce(q.modality, 'ultrasound')",
        ],
        date_column: Some("examined_on"),
        personal: true,
        checks: &[Check {
            field: "ce_stage",
            code: "stage_ce_or_pnm",
            params: "{}",
            message: "give either ce_stage (CE) or all of pnm_p, pnm_n, pnm_m (AE), not both",
            holds: |g| {
                let pnm = [g("pnm_p"), g("pnm_n"), g("pnm_m")];
                match g("ce_stage") {
                    Some(_) => pnm.iter().all(Option::is_none),
                    None => pnm.iter().all(Option::is_some),
                }
            },
        }],
        ..BASE
    },
    RegisterSpec {
        name: "treatments",
        table: "treatments",
        name_zh: "治疗",
        name_en: "Treatments",
        perm: Perm::CaseRows,
        fields: &[
            CASE_FIELDS_FOR_REF[0],
            CASE_FIELDS_FOR_REF[1],
            CASE_FIELDS_FOR_REF[2],
            CASE_FIELDS_FOR_REF[3],
            CASE_FIELDS_FOR_REF[4],
            req(f("kind", en(&enums::TREATMENT_KIND))),
            req(f("started_on", DATE)),
            f("ended_on", DATE),
            f(
                "dose_mg_per_kg",
                Ty::Dec {
                    min: 0.1,
                    max: 50.0,
                },
            ),
            f("adherence_pct", Ty::Int { min: 0, max: 100 }),
            f("adverse_events", TEXT),
            f("hospital", TEXT),
            f("procedure", TEXT),
            f(
                "subsidy_yuan",
                Ty::Dec {
                    min: 0.0,
                    max: 10_000_000.0,
                },
            ),
        ],
        refs: &[CASE_REF],
        village: Village::ViaCase,
        keys: &["t.case_id = q.case_id AND t.kind = q.kind AND t.started_on = q.started_on"],
        date_column: Some("started_on"),
        status_column: Some("kind"),
        personal: true,
        checks: &[
            date_order(
                r#"{"first": "started_on", "second": "ended_on"}"#,
                "ended_on cannot be before started_on",
                |g| ends_after(g, "started_on", "ended_on"),
                "ended_on",
            ),
            Check {
                field: "dose_mg_per_kg",
                code: "needs",
                params: r#"{"field": "dose_mg_per_kg", "if_field": "kind", "if_values": ["albendazole"], "type": "treatment_kind"}"#,
                message: "albendazole needs dose_mg_per_kg",
                holds: |g| {
                    g("kind").as_deref() != Some("albendazole") || g("dose_mg_per_kg").is_some()
                },
            },
            Check {
                field: "hospital",
                code: "needs",
                params: r#"{"field": "hospital", "if_field": "kind", "if_values": ["surgery", "percutaneous"], "type": "treatment_kind"}"#,
                message: "surgery and percutaneous treatment need the hospital",
                holds: |g| g("kind").is_none_or(|k| k == "albendazole") || g("hospital").is_some(),
            },
        ],
        ..BASE
    },
    RegisterSpec {
        name: "followups",
        unique_key: true,
        table: "followups",
        name_zh: "随访",
        name_en: "Follow-ups",
        kind: Some(Kind::Followups),
        perm: Perm::CaseRows,
        fields: &[
            CASE_FIELDS_FOR_REF[0],
            CASE_FIELDS_FOR_REF[1],
            CASE_FIELDS_FOR_REF[2],
            CASE_FIELDS_FOR_REF[3],
            CASE_FIELDS_FOR_REF[4],
            req(f("due_on", DATE)),
            f("visited_on", DATE),
            f("outcome", en(&enums::FOLLOWUP_OUTCOME)),
            default(f("ultrasound_done", BOOL), "false"),
            f("visited_by", TEXT),
            f("notes", TEXT),
        ],
        refs: &[CASE_REF],
        village: Village::ViaCase,
        keys: &["t.case_id = q.case_id AND t.due_on = q.due_on"],
        date_column: Some("due_on"),
        status_column: Some("outcome"),
        personal: true,
        checks: &[Check {
            field: "outcome",
            code: "together",
            params: r#"{"fields": ["visited_on", "outcome"]}"#,
            message: "a visit (visited_on) and its outcome go together: give both or neither",
            holds: |g| g("visited_on").is_some() == g("outcome").is_some(),
        }],
        ..BASE
    },
    RegisterSpec {
        name: "screening_campaigns",
        unique_key: true,
        table: "screening_campaigns",
        name_zh: "筛查",
        name_en: "Screening",
        perm: Perm::CaseRows,
        fields: &[
            req(f("screened_on", DATE)),
            req(f("method", en(&enums::SCREENING_METHOD))),
            req(f("target_group", en(&enums::SCREENING_GROUP))),
            req(f("min_age", Ty::Int { min: 3, max: 120 })),
            f("max_age", Ty::Int { min: 3, max: 120 }),
            req(f("screened", COUNT)),
            req(f("positives", COUNT)),
            f("team", TEXT),
        ],
        keys: &[
            "t.village_id = q.village_id AND t.screened_on = q.screened_on AND t.method = q.method AND t.target_group = q.target_group",
        ],
        date_column: Some("screened_on"),
        status_column: Some("target_group"),
        checks: &[no_more(
            r#"{"part": "positives", "whole": "screened"}"#,
            "positives cannot exceed screened",
            |g| not_more(g, "positives", "screened"),
            "positives",
        )],
        ..BASE
    },
    RegisterSpec {
        name: "health_education",
        table: "health_education",
        name_zh: "健康教育",
        name_en: "Health education",
        perm: Perm::CaseRows,
        fields: &[
            req(f("held_on", DATE)),
            req(f("activity", TEXT)),
            req(f("participants", COUNT)),
            default(f("respondents", COUNT), "0"),
            default(f("aware", COUNT), "0"),
        ],
        village: Village::Linked {
            required: true,
            fallback: None,
            link_columns: false,
            column: "village_id",
        },
        date_column: Some("held_on"),
        checks: &[no_more(
            r#"{"part": "aware", "whole": "respondents"}"#,
            "aware cannot exceed respondents",
            |g| not_more(g, "aware", "respondents"),
            "aware",
        )],
        ..BASE
    },
    RegisterSpec {
        name: "stock_items",
        unique_key: true,
        table: "stock_items",
        name_zh: "物资品目",
        name_en: "Stock items",
        fields: &[
            req(col(f("item_code", TEXT), "code")),
            req(col(f("item_name", TEXT), "name")),
            req(col(f("item_kind", en(&enums::STOCK_KIND)), "kind")),
            req(f("unit", TEXT)),
        ],
        village: Village::None,
        keys: &["t.code = q.item_code"],
        status_column: Some("kind"),
        search: &["code", "name"],
        ..BASE
    },
    // The import's columns of the stock ledger (docs/IMPORT.md "Stock movements"): parsed and
    // linked here, written row by row through the ledger by `stock::import` (stores, lots and
    // transfers resolved there). No generic API ([`RegisterSpec::generic_api`]).
    RegisterSpec {
        name: "stock_movements",
        table: "stock_movements",
        name_zh: "物资出入库",
        name_en: "Stock movements",
        kind: Some(Kind::StockMovements),
        perm: Perm::StockWrite,
        generic_api: false,
        soft_delete: false,
        fields: &[
            req(key_only(f("item_code", TEXT))),
            key_only(f("item_name", TEXT)),
            req(f("moved_on", DATE)),
            req(col(
                f("movement_kind", en(&enums::STOCK_MOVEMENT_KIND)),
                "kind",
            )),
            req(f(
                "quantity",
                Ty::Int {
                    min: -100_000_000,
                    max: 100_000_000,
                },
            )),
            req(f("batch", TEXT)),
            f("expires_on", DATE),
            key_only(f("store_code", TEXT)),
            key_only(f("to_store_code", TEXT)),
            key_only(f("township_code", TEXT)),
            f("reason", en(&enums::STOCK_REASON)),
            f("supplier", TEXT),
            f("reference", TEXT),
            f("scanned_barcode", TEXT),
            col(f("notes", TEXT), "note"),
        ],
        // An issue to a village, and a use, name the village; the rest have none.
        village: Village::Linked {
            required: false,
            fallback: None,
            link_columns: false,
            column: "village_id",
        },
        date_column: Some("moved_on"),
        status_column: Some("kind"),
        extra_json: "jsonb_build_object('item_code', (SELECT x.code FROM stock_items x WHERE x.id = t.item_id))",
        checks: &[
            Check {
                field: "village",
                code: "issue_needs_village",
                params: "{}",
                message: "an issue names where it goes (to_store_code, township_code or the village); a use names the village",
                holds: |g| {
                    let village =
                        g("village_code").is_some() || g("village").is_some() || g("lon").is_some();
                    match g("movement_kind").as_deref() {
                        Some("transfer_out") => {
                            village || g("to_store_code").is_some() || g("township_code").is_some()
                        }
                        Some("use") => village,
                        _ => true,
                    }
                },
            },
            Check {
                field: "quantity",
                code: "only_adjustment_negative",
                params: "{}",
                message: "only an adjustment may be negative, and no movement is zero",
                holds: |g| {
                    let q = g("quantity").and_then(|q| q.parse::<i64>().ok());
                    if g("movement_kind").as_deref() == Some("adjustment") {
                        q != Some(0)
                    } else {
                        q.is_none_or(|q| q > 0)
                    }
                },
            },
            Check {
                field: "reason",
                code: "needs",
                params: r#"{"field": "reason", "if_field": "movement_kind", "if_values": ["adjustment"], "type": "stock_movement_kind"}"#,
                message: "an adjustment needs its reason",
                holds: |g| {
                    g("movement_kind").as_deref() != Some("adjustment") || g("reason").is_some()
                },
            },
        ],
        ..BASE
    },
];

/// The register named `name` in a URL or `kind=`.
pub fn by_name(name: &str) -> Option<&'static RegisterSpec> {
    SPECS.iter().find(|s| s.name == name)
}

/// The register an import kind feeds (`villages` has its own path).
pub fn by_kind(kind: Kind) -> Option<&'static RegisterSpec> {
    SPECS.iter().find(|s| s.kind == Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_link_names_a_register_that_has_the_field_naming_the_person() {
        for spec in SPECS {
            if let Some(link) = spec.person {
                let people = by_name(link.register).expect("the person register exists");
                assert!(people.field(link.named_by).is_some(), "{}", spec.name);
                assert!(spec.field(link.named_by).is_some(), "{}", spec.name);
                assert!(spec.is_person_field("id_number"), "{}", spec.name);
                assert!(!spec.is_person_field("reported_on"), "{}", spec.name);
            }
        }
        assert!(!by_name("people").expect("people").is_person_field("name"));
    }

    #[test]
    fn every_check_has_object_params_naming_fields_of_its_register() {
        for spec in SPECS {
            for check in spec.checks {
                let params: serde_json::Value =
                    serde_json::from_str(check.params).expect("params are JSON");
                let params = params.as_object().expect("params are an object");
                for key in ["first", "second", "part", "whole", "field", "if_field"] {
                    if let Some(name) = params.get(key).and_then(|v| v.as_str()) {
                        assert!(spec.field(name).is_some(), "{}: {name}", spec.name);
                    }
                }
            }
        }
    }
}
