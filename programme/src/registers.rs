//! The list of registers: one place that names every table a user thinks of as a register,
//! its Chinese name, and the date that places its rows in time. The summary, the demo loader
//! and (later) the generic register API read this list instead of repeating table names.

#[derive(Debug, Clone, Copy)]
pub struct Register {
    pub table: &'static str,
    pub name_zh: &'static str,
    /// The date a row happened on (None for tables without one, e.g. places).
    pub date_column: Option<&'static str>,
    /// Rows are soft-deleted (`deleted_at`) rather than removed.
    pub soft_delete: bool,
    /// How a row finds its place, for jurisdiction scoping.
    pub place: Place,
    /// Rows describe people (patients): their counts are small-count suppressed for roles
    /// without case access.
    pub personal: bool,
}

/// How a register row is placed in the hierarchy. The SQL is a boolean predicate on the row
/// (unqualified columns) in which `$1` is the jurisdiction's code prefix.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// Not tied to a place (campaign definitions, stock items): visible to every scope.
    Anywhere,
    Sql(&'static str),
}

const BY_VILLAGE_ID: Place =
    Place::Sql("village_id IN (SELECT id FROM villages WHERE code LIKE $1 || '%')");
const BY_CASE: Place = Place::Sql(
    "case_id IN (SELECT c.id FROM cases c JOIN villages v ON v.id = c.village_id WHERE v.code LIKE $1 || '%')",
);

const BY_STORE: Place =
    Place::Sql("store_id IN (SELECT id FROM stock_stores WHERE place_code LIKE $1 || '%')");
const STORE_PAIR: Place = Place::Sql(
    "(from_store_id IN (SELECT id FROM stock_stores WHERE place_code LIKE $1 || '%') OR to_store_id IN (SELECT id FROM stock_stores WHERE place_code LIKE $1 || '%'))",
);

impl Register {
    /// The predicate that keeps the rows inside a jurisdiction (`$1` = its code).
    pub fn scope_sql(&self) -> Option<&'static str> {
        match self.place {
            Place::Anywhere => None,
            Place::Sql(sql) => Some(sql),
        }
    }
}

const fn place(table: &'static str, name_zh: &'static str, place: Place) -> Register {
    Register {
        table,
        name_zh,
        date_column: None,
        soft_delete: false,
        place,
        personal: false,
    }
}

const fn record(
    table: &'static str,
    name_zh: &'static str,
    date_column: Option<&'static str>,
) -> Register {
    Register {
        table,
        name_zh,
        date_column,
        soft_delete: true,
        place: BY_VILLAGE_ID,
        personal: false,
    }
}

const fn placed(register: Register, place: Place) -> Register {
    Register { place, ..register }
}

const fn personal(register: Register) -> Register {
    Register {
        personal: true,
        ..register
    }
}

pub const REGISTERS: &[Register] = &[
    // A county or township is in scope when it contains the jurisdiction or lies inside it.
    place("counties", "县", Place::Sql("$1 LIKE code || '%'")),
    place(
        "townships",
        "乡镇",
        Place::Sql("(code LIKE $1 || '%' OR $1 LIKE code || '%')"),
    ),
    place("villages", "村", Place::Sql("code LIKE $1 || '%'")),
    place("village_denominators", "村年度基数", BY_VILLAGE_ID),
    record("households", "户", None),
    personal(record("people", "人员", None)),
    record("dogs", "犬只", Some("registered_on")),
    record("dewormings", "驱虫", Some("dosed_on")),
    record("faecal_tests", "犬粪检测", Some("sampled_on")),
    record("stray_dog_events", "无主犬处置", Some("occurred_on")),
    record("slaughter_points", "屠宰点", None),
    placed(
        record("slaughter_inspections", "屠宰检疫", Some("inspected_on")),
        Place::Sql(
            "point_id IN (SELECT p.id FROM slaughter_points p JOIN villages v ON v.id = p.village_id WHERE v.code LIKE $1 || '%')",
        ),
    ),
    placed(
        record("vaccination_campaigns", "免疫计划", Some("starts_on")),
        Place::Anywhere,
    ),
    record("vaccinations", "羊免疫", Some("vaccinated_on")),
    record("rodent_surveys", "鼠类调查", Some("surveyed_on")),
    personal(record("cases", "病例", Some("reported_on"))),
    personal(placed(
        record("imaging_exams", "影像检查", Some("examined_on")),
        BY_CASE,
    )),
    personal(placed(
        record("treatments", "治疗", Some("started_on")),
        BY_CASE,
    )),
    personal(placed(
        record("followups", "随访", Some("visited_on")),
        BY_CASE,
    )),
    record("screening_campaigns", "筛查", Some("screened_on")),
    record("health_education", "健康教育", Some("held_on")),
    placed(record("stock_items", "物资品目", None), Place::Anywhere),
    // The stock ledger (append-only: no soft delete) and its stores and transfers are placed by
    // the store's place code (docs/STOCK.md).
    place(
        "stock_stores",
        "物资库房",
        Place::Sql("place_code LIKE $1 || '%'"),
    ),
    Register {
        date_column: Some("issued_on"),
        ..place("stock_transfers", "物资调拨", STORE_PAIR)
    },
    Register {
        date_column: Some("moved_on"),
        ..place("stock_movements", "物资出入库", BY_STORE)
    },
];
