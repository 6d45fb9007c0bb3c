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
}

const fn place(table: &'static str, name_zh: &'static str) -> Register {
    Register {
        table,
        name_zh,
        date_column: None,
        soft_delete: false,
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
    }
}

pub const REGISTERS: &[Register] = &[
    place("counties", "县"),
    place("townships", "乡镇"),
    place("villages", "村"),
    place("village_denominators", "村年度基数"),
    record("households", "户", None),
    record("people", "人员", None),
    record("dogs", "犬只", Some("registered_on")),
    record("dewormings", "驱虫", Some("dosed_on")),
    record("faecal_tests", "犬粪检测", Some("sampled_on")),
    record("stray_dog_events", "无主犬处置", Some("occurred_on")),
    record("slaughter_points", "屠宰点", None),
    record("slaughter_inspections", "屠宰检疫", Some("inspected_on")),
    record("vaccination_campaigns", "免疫计划", Some("starts_on")),
    record("vaccinations", "羊免疫", Some("vaccinated_on")),
    record("rodent_surveys", "鼠类调查", Some("surveyed_on")),
    record("cases", "病例", Some("reported_on")),
    record("imaging_exams", "影像检查", Some("examined_on")),
    record("treatments", "治疗", Some("started_on")),
    record("followups", "随访", Some("visited_on")),
    record("screening_campaigns", "筛查", Some("screened_on")),
    record("health_education", "健康教育", Some("held_on")),
    record("stock_items", "物资品目", None),
    record("stock_movements", "物资出入库", Some("moved_on")),
];
