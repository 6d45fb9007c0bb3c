//! Column headers as counties write them, in Chinese or English, mapped to the canonical field
//! names of each import kind.
//!
//! Everything here is a declarative table: [`KINDS`] lists each kind's required and optional
//! fields (from the columns of `migrations/`, with a record's village given by
//! [`LINK_FIELDS`]); `ALIASES` lists the headers each field is known by; `KIND_ALIASES`
//! the headers whose meaning depends on the kind (`日期` is the deworming date in a deworming
//! sheet and the sampling date in a faecal test sheet).

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// What an import file holds: one register (the `kind=` of the import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Villages,
    Households,
    Dogs,
    Dewormings,
    FaecalTests,
    SlaughterPoints,
    SlaughterInspections,
    Cases,
    Followups,
    LivestockCensus,
    Vaccinations,
    StockMovements,
}

/// One kind's fields, canonical names only.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: Kind,
    /// Fields every row must have a column for.
    pub required: &'static [&'static str],
    /// Fields a sheet may have.
    pub optional: &'static [&'static str],
    /// Whether rows are linked to a village by [`LINK_FIELDS`] (a code, a name, or coordinates;
    /// which of them is present is checked per row, not per sheet).
    pub linked: bool,
}

/// The fields that attach a row to its village: a 12-digit code, a name (optionally within a
/// township), or a point.
pub const LINK_FIELDS: &[&str] = &["village_code", "village", "township", "lon", "lat"];

/// Every kind with its fields. Person fields (`sex`, `birth_date`) are optional in a case line
/// list because an ID number carries both.
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: Kind::Villages,
        required: &["village_code"],
        optional: &["village", "township", "lon", "lat", "remote", "geometry"],
        linked: false,
    },
    KindSpec {
        kind: Kind::Households,
        required: &["household_no", "head_name"],
        optional: &["address", "pastoral"],
        linked: true,
    },
    KindSpec {
        kind: Kind::Dogs,
        required: &["dog_tag", "dog_kind", "registered_on"],
        optional: &[
            "collar_id",
            "household_no",
            "sex",
            "birth_year",
            "status",
            "status_on",
        ],
        linked: true,
    },
    KindSpec {
        kind: Kind::Dewormings,
        required: &["dog_tag", "dosed_on"],
        optional: &["drug", "batch", "dose_mg", "method", "given_by"],
        linked: true,
    },
    KindSpec {
        kind: Kind::FaecalTests,
        required: &["sample_id", "sampled_on", "result"],
        optional: &["dog_tag", "household_no", "tested_on", "method", "lab"],
        linked: true,
    },
    KindSpec {
        kind: Kind::SlaughterPoints,
        required: &[
            "point_code",
            "point_name",
            "point_kind",
            "disposal_facility",
            "lon",
            "lat",
        ],
        optional: &["licence"],
        linked: true,
    },
    KindSpec {
        kind: Kind::SlaughterInspections,
        required: &[
            "point_code",
            "inspected_on",
            "species",
            "slaughtered",
            "infected",
            "organ",
            "disposal_method",
            "disposal_done",
        ],
        optional: &["age_class", "inspector"],
        // The origin village of the animals, when known.
        linked: true,
    },
    KindSpec {
        kind: Kind::Cases,
        required: &[
            "name",
            "case_type",
            "diagnosis_class",
            "organ",
            "discovery_route",
            "reported_on",
        ],
        optional: &[
            "id_number",
            "sex",
            "birth_date",
            "ethnicity",
            "occupation",
            "phone",
            "household_no",
            "onset_on",
            "diagnosed_on",
            "nndrs_id",
            "reporting_unit",
            "status",
        ],
        linked: true,
    },
    KindSpec {
        kind: Kind::Followups,
        required: &["due_on"],
        optional: &[
            "nndrs_id",
            "id_number",
            "name",
            "birth_date",
            "visited_on",
            "outcome",
            "ultrasound_done",
            "visited_by",
            "notes",
        ],
        linked: false,
    },
    KindSpec {
        kind: Kind::LivestockCensus,
        required: &["year", "population", "households", "dogs_estimated"],
        optional: &["sheep", "goats", "cattle", "horses", "camels"],
        linked: true,
    },
    KindSpec {
        kind: Kind::Vaccinations,
        required: &["campaign", "vaccinated_on", "target", "immunised", "doses"],
        optional: &["batch", "vaccine", "species"],
        linked: true,
    },
    KindSpec {
        kind: Kind::StockMovements,
        required: &[
            "item_code",
            "moved_on",
            "movement_kind",
            "quantity",
            "batch",
        ],
        optional: &[
            "item_name",
            "expires_on",
            "store_code",
            "to_store_code",
            "township_code",
            "reason",
            "supplier",
            "reference",
            "scanned_barcode",
            "notes",
        ],
        linked: true,
    },
];

/// Headers every kind reads the same way: canonical name, then the other names it is known by.
/// Compared after [`header_key`], so case, width, spaces, `_`, `-` and units in brackets do not
/// matter.
const ALIASES: &[(&str, &[&str])] = &[
    ("geometry", &["几何", "边界", "boundary", "geom"]),
    (
        "village",
        &[
            "村名",
            "村",
            "村庄",
            "行政村",
            "村委会",
            "所在村",
            "村名称",
            "village_name",
        ],
    ),
    (
        "village_code",
        &[
            "村代码",
            "村编码",
            "村庄代码",
            "村代号",
            "区划代码",
            "行政区划代码",
        ],
    ),
    (
        "township",
        &["乡镇", "乡", "镇", "乡镇名", "乡镇名称", "所在乡镇", "town"],
    ),
    ("lon", &["经度", "lng", "long", "longitude", "x"]),
    ("lat", &["纬度", "latitude", "y"]),
    ("remote", &["偏远", "是否偏远", "偏远村"]),
    (
        "id_number",
        &[
            "身份证号",
            "身份证",
            "身份证号码",
            "公民身份号码",
            "id_no",
            "id_card",
        ],
    ),
    ("name", &["姓名", "患者姓名", "patient_name"]),
    ("sex", &["性别", "gender"]),
    (
        "birth_date",
        &["出生日期", "出生年月日", "生日", "date_of_birth", "dob"],
    ),
    ("ethnicity", &["民族", "nationality"]),
    ("occupation", &["职业"]),
    (
        "phone",
        &[
            "电话",
            "手机",
            "手机号",
            "手机号码",
            "联系电话",
            "电话号码",
            "mobile",
            "tel",
        ],
    ),
    ("household_no", &["户号", "户编号", "家庭编号", "household"]),
    ("head_name", &["户主", "户主姓名", "head"]),
    ("address", &["住址", "地址", "家庭住址"]),
    ("pastoral", &["牧区", "牧民户", "是否牧民"]),
    (
        "dog_tag",
        &["犬牌号", "犬只编号", "犬牌", "犬号", "犬编号", "tag"],
    ),
    ("collar_id", &["项圈号", "项圈编号", "collar"]),
    ("dog_kind", &["犬类型", "犬只类型", "犬类别"]),
    ("birth_year", &["出生年份", "出生年"]),
    ("status", &["状态", "现状"]),
    ("status_on", &["状态日期", "变更日期"]),
    ("registered_on", &["登记日期", "登记时间", "registered"]),
    ("dosed_on", &["驱虫日期", "投药日期", "dosing_date"]),
    ("drug", &["药品", "药物", "药品名称"]),
    ("batch", &["批号", "生产批号", "batch_no", "lot"]),
    ("dose_mg", &["剂量", "dose"]),
    ("given_by", &["投药人", "投药员", "驱虫人", "驱虫员"]),
    ("method", &["方式", "方法", "投药方式", "检测方法"]),
    (
        "sample_id",
        &["样本编号", "样品编号", "样本号", "样品号", "sample"],
    ),
    ("sampled_on", &["采样日期", "采样时间"]),
    ("tested_on", &["检测日期", "检测时间"]),
    ("result", &["检测结果", "结果"]),
    ("lab", &["检测单位", "实验室", "检测机构"]),
    (
        "point_code",
        &["屠宰点编号", "屠宰点代码", "屠宰点", "slaughter_point"],
    ),
    ("point_name", &["屠宰点名称"]),
    ("point_kind", &["屠宰点类型"]),
    ("licence", &["许可证号", "许可证", "license"]),
    ("disposal_facility", &["无害化处理设施", "处理设施"]),
    ("inspected_on", &["检查日期", "屠宰日期", "检疫日期"]),
    ("species", &["畜种", "动物种类", "种类"]),
    ("age_class", &["年龄", "年龄段", "畜龄"]),
    ("slaughtered", &["屠宰数", "屠宰数量", "屠宰头数"]),
    ("infected", &["感染数", "阳性数", "感染数量", "病变数"]),
    ("organ", &["病变器官", "器官", "感染器官", "病变部位"]),
    ("disposal_method", &["处理方式", "无害化处理方式"]),
    (
        "disposal_done",
        &["是否无害化处理", "已无害化处理", "已处理"],
    ),
    ("inspector", &["检疫员", "检查人", "检查员"]),
    ("case_type", &["病例类型", "包虫病类型", "病种"]),
    ("diagnosis_class", &["诊断类型", "诊断分类", "病例分类"]),
    ("discovery_route", &["发现途径", "发现方式"]),
    ("onset_on", &["发病日期"]),
    ("diagnosed_on", &["诊断日期"]),
    ("reported_on", &["报告日期"]),
    (
        "nndrs_id",
        &["报告卡编号", "卡片编号", "传报卡号", "报告卡号"],
    ),
    ("reporting_unit", &["报告单位"]),
    ("due_on", &["应随访日期", "计划随访日期"]),
    ("visited_on", &["随访日期", "实际随访日期"]),
    ("outcome", &["随访结果", "转归"]),
    (
        "ultrasound_done",
        &["是否做B超检查", "是否b超", "b超", "b超检查"],
    ),
    ("visited_by", &["随访人", "随访医生", "随访者"]),
    ("notes", &["备注", "说明", "note"]),
    ("year", &["年份", "年度"]),
    ("population", &["人口", "人口数", "总人口"]),
    ("households", &["户数", "总户数"]),
    ("dogs_estimated", &["犬只数", "犬数", "家犬数", "dogs"]),
    ("sheep", &["绵羊", "绵羊数"]),
    ("goats", &["山羊", "山羊数"]),
    ("cattle", &["牛", "牛数"]),
    ("horses", &["马", "马数"]),
    ("camels", &["骆驼", "骆驼数"]),
    ("campaign", &["免疫活动", "活动名称", "免疫批次"]),
    ("vaccine", &["疫苗", "疫苗名称"]),
    ("vaccinated_on", &["免疫日期", "接种日期"]),
    ("target", &["应免数", "目标数"]),
    ("immunised", &["实免数", "免疫数", "immunized"]),
    ("doses", &["剂数", "用苗量", "疫苗剂数"]),
    ("item_code", &["物资编码", "物资代码", "品目编码", "item"]),
    ("item_name", &["物资名称", "品名"]),
    ("moved_on", &["出入库日期"]),
    ("movement_kind", &["出入库类型"]),
    ("quantity", &["数量"]),
    ("expires_on", &["有效期", "有效期至", "失效日期"]),
    ("scanned_barcode", &["条码", "条形码", "barcode"]),
    (
        "store_code",
        &["库房编码", "库房代码", "库房", "发出库房", "store"],
    ),
    (
        "to_store_code",
        &["接收库房编码", "接收库房", "调入库房", "to_store"],
    ),
    ("township_code", &["乡镇代码", "乡镇编码", "接收乡镇代码"]),
    ("reason", &["调整原因", "原因"]),
    ("supplier", &["供货单位", "供应商", "来源"]),
    ("reference", &["单据号", "凭证号", "单号", "ref"]),
];

/// Headers whose field depends on the kind: kind, header, canonical field.
const KIND_ALIASES: &[(Kind, &str, &str)] = &[
    (Kind::Dogs, "日期", "registered_on"),
    (Kind::Dogs, "date", "registered_on"),
    (Kind::Dogs, "类型", "dog_kind"),
    (Kind::Dogs, "kind", "dog_kind"),
    (Kind::Dewormings, "日期", "dosed_on"),
    (Kind::Dewormings, "date", "dosed_on"),
    (Kind::FaecalTests, "日期", "sampled_on"),
    (Kind::FaecalTests, "date", "sampled_on"),
    (Kind::SlaughterPoints, "编号", "point_code"),
    (Kind::SlaughterPoints, "代码", "point_code"),
    (Kind::SlaughterPoints, "code", "point_code"),
    (Kind::SlaughterPoints, "名称", "point_name"),
    (Kind::SlaughterPoints, "name", "point_name"),
    (Kind::SlaughterPoints, "类型", "point_kind"),
    (Kind::SlaughterPoints, "kind", "point_kind"),
    (Kind::SlaughterInspections, "日期", "inspected_on"),
    (Kind::SlaughterInspections, "date", "inspected_on"),
    (Kind::SlaughterInspections, "来源村", "village"),
    (Kind::SlaughterInspections, "来源村代码", "village_code"),
    (Kind::Cases, "日期", "reported_on"),
    (Kind::Cases, "date", "reported_on"),
    (Kind::Cases, "类型", "case_type"),
    (Kind::Followups, "日期", "visited_on"),
    (Kind::Followups, "date", "visited_on"),
    (Kind::Vaccinations, "日期", "vaccinated_on"),
    (Kind::Vaccinations, "date", "vaccinated_on"),
    (Kind::StockMovements, "日期", "moved_on"),
    (Kind::StockMovements, "date", "moved_on"),
    (Kind::StockMovements, "类型", "movement_kind"),
    (Kind::StockMovements, "kind", "movement_kind"),
    (Kind::StockMovements, "编号", "item_code"),
    (Kind::StockMovements, "code", "item_code"),
];

impl Kind {
    /// Every kind, in the order of [`KINDS`].
    pub const ALL: [Kind; 12] = [
        Kind::Villages,
        Kind::Households,
        Kind::Dogs,
        Kind::Dewormings,
        Kind::FaecalTests,
        Kind::SlaughterPoints,
        Kind::SlaughterInspections,
        Kind::Cases,
        Kind::Followups,
        Kind::LivestockCensus,
        Kind::Vaccinations,
        Kind::StockMovements,
    ];

    /// Parses the `kind=` value (`dewormings`, `faecal_tests`, …; surrounding spaces and case
    /// are ignored).
    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.trim().to_ascii_lowercase();
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The name used in `kind=`, in `/api/{register}` and in template names.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Villages => "villages",
            Kind::Households => "households",
            Kind::Dogs => "dogs",
            Kind::Dewormings => "dewormings",
            Kind::FaecalTests => "faecal_tests",
            Kind::SlaughterPoints => "slaughter_points",
            Kind::SlaughterInspections => "slaughter_inspections",
            Kind::Cases => "cases",
            Kind::Followups => "followups",
            Kind::LivestockCensus => "livestock_census",
            Kind::Vaccinations => "vaccinations",
            Kind::StockMovements => "stock_movements",
        }
    }

    /// This kind's row of [`KINDS`].
    pub fn spec(self) -> &'static KindSpec {
        KINDS
            .iter()
            .find(|s| s.kind == self)
            .unwrap_or_else(|| unreachable!("KINDS lists every kind; a test checks it"))
    }

    /// Whether `field` is one of this kind's canonical fields (required, optional, or a link
    /// field of a linked kind).
    pub fn has_field(self, field: &str) -> bool {
        let spec = self.spec();
        spec.required.contains(&field)
            || spec.optional.contains(&field)
            || (spec.linked && LINK_FIELDS.contains(&field))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header as compared: NFKC (full width to half width), lower case, units and notes in
/// brackets removed (`剂量(mg)`, `剂量（毫克）`, `dose [mg]`, `经度【WGS84】`), a required-field
/// marker `*` removed, and spaces, `_` and `-` dropped.
pub fn header_key(header: &str) -> String {
    let text: String = header.nfkc().collect::<String>().to_lowercase();
    let mut key = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' | '【' | '〔' | '<' | '《' => depth += 1,
            ')' | ']' | '】' | '〕' | '>' | '》' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_whitespace() || matches!(c, '_' | '-' | '*' | ':' | '：') => {}
            c => key.push(c),
        }
    }
    key
}

/// The canonical field a header means in a sheet of `kind`, or `None` when it means none of
/// the kind's fields (a column the import ignores).
pub fn canonical_header(kind: Kind, header: &str) -> Option<&'static str> {
    let key = header_key(header);
    if key.is_empty() {
        return None;
    }
    let kind_specific = KIND_ALIASES
        .iter()
        .find(|(k, alias, _)| *k == kind && header_key(alias) == key)
        .map(|(_, _, field)| *field);
    let field = kind_specific.or_else(|| {
        ALIASES
            .iter()
            .find(|(field, aliases)| {
                header_key(field) == key || aliases.iter().any(|a| header_key(a) == key)
            })
            .map(|(field, _)| *field)
    })?;
    kind.has_field(field).then_some(field)
}

/// Why a header row does not fit a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Required fields without a column.
    #[error("a {kind} sheet needs the columns {}; the header row has none for them", missing.join(", "))]
    Missing {
        kind: Kind,
        missing: Vec<&'static str>,
    },
    /// Two columns mean the same field.
    #[error(
        "columns {first} ({first_header:?}) and {second} ({second_header:?}) both mean {field}"
    )]
    Duplicate {
        field: &'static str,
        first: usize,
        first_header: String,
        second: usize,
        second_header: String,
    },
}

/// Maps a header row: for each column (in order) its canonical field, or `None` for a column the
/// import ignores. Every required field must have exactly one column; no field may have two.
/// Column numbers in errors are 1-based.
pub fn map_headers(
    kind: Kind,
    headers: &[String],
) -> Result<Vec<Option<&'static str>>, HeaderError> {
    let fields: Vec<Option<&'static str>> =
        headers.iter().map(|h| canonical_header(kind, h)).collect();
    for (i, field) in fields.iter().enumerate() {
        let Some(field) = field else { continue };
        if let Some(j) = fields[i + 1..].iter().position(|f| f == &Some(*field)) {
            let j = i + 1 + j;
            return Err(HeaderError::Duplicate {
                field,
                first: i + 1,
                first_header: headers[i].clone(),
                second: j + 1,
                second_header: headers[j].clone(),
            });
        }
    }
    let missing: Vec<&'static str> = kind
        .spec()
        .required
        .iter()
        .copied()
        .filter(|r| !fields.contains(&Some(*r)))
        .collect();
    if missing.is_empty() {
        Ok(fields)
    } else {
        Err(HeaderError::Missing { kind, missing })
    }
}

/// The Chinese header a template uses for `field`: its first alias written in Chinese.
pub fn label_zh(field: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|(f, _)| *f == field)
        .and_then(|(_, aliases)| aliases.iter().find(|a| !a.is_ascii()))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headers_of_the_issue_map_to_their_fields() {
        let cases: &[(Kind, &[&str], &str)] = &[
            (
                Kind::Dogs,
                &["村名", "村", "village", "village_name", "Village Name"],
                "village",
            ),
            (
                Kind::Dogs,
                &["村代码", "村编码", "village_code"],
                "village_code",
            ),
            (
                Kind::Cases,
                &["身份证号", "身份证", "id_number", "ID Number"],
                "id_number",
            ),
            (
                Kind::Households,
                &["经度", "lon", "longitude", "经度(WGS84)"],
                "lon",
            ),
            (Kind::Households, &["纬度", "lat", "latitude"], "lat"),
            (
                Kind::Dewormings,
                &["犬牌号", "犬只编号", "tag", "dog_tag", "DOG-TAG"],
                "dog_tag",
            ),
            (
                Kind::Dewormings,
                &["驱虫日期", "日期", "date", "dosed_on"],
                "dosed_on",
            ),
            (Kind::Dewormings, &["药品", "drug"], "drug"),
            (Kind::Dewormings, &["批号", "batch"], "batch"),
            (
                Kind::Dewormings,
                &["剂量", "剂量(mg)", "剂量（mg）", "dose_mg", "dose [mg]"],
                "dose_mg",
            ),
            (Kind::Dewormings, &["投药人", "given_by"], "given_by"),
            (Kind::Dewormings, &["方式", "method"], "method"),
            (Kind::Cases, &["姓名", "name", "姓名*"], "name"),
            (Kind::Cases, &["性别", "sex"], "sex"),
            (Kind::Cases, &["出生日期", "birth_date"], "birth_date"),
            (Kind::Cases, &["民族", "ethnicity"], "ethnicity"),
            (Kind::Cases, &["电话", "手机", "phone", "　电话　"], "phone"),
            (Kind::Cases, &["乡镇", "township"], "township"),
        ];
        for (kind, headers, field) in cases {
            for h in *headers {
                assert_eq!(canonical_header(*kind, h), Some(*field), "{kind} {h:?}");
            }
        }
    }

    #[test]
    fn a_generic_date_header_means_the_main_date_of_each_kind() {
        assert_eq!(canonical_header(Kind::Dewormings, "日期"), Some("dosed_on"));
        assert_eq!(
            canonical_header(Kind::FaecalTests, "日期"),
            Some("sampled_on")
        );
        assert_eq!(
            canonical_header(Kind::SlaughterInspections, "Date"),
            Some("inspected_on")
        );
        assert_eq!(canonical_header(Kind::Villages, "日期"), None);
    }

    #[test]
    fn a_header_of_another_kind_or_of_no_kind_maps_to_nothing() {
        assert_eq!(canonical_header(Kind::Dewormings, "身份证号"), None);
        assert_eq!(canonical_header(Kind::Dewormings, "签名"), None);
        assert_eq!(canonical_header(Kind::Dewormings, ""), None);
        assert_eq!(canonical_header(Kind::Followups, "经度"), None);
    }

    #[test]
    fn every_kind_parses_from_its_name_and_has_its_fields() {
        assert_eq!(KINDS.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.spec().kind, kind);
            for field in kind.spec().required {
                assert_eq!(
                    canonical_header(kind, field),
                    Some(*field),
                    "{kind}.{field}"
                );
            }
            for field in kind.spec().optional {
                assert_eq!(
                    canonical_header(kind, field),
                    Some(*field),
                    "{kind}.{field}"
                );
            }
        }
        assert_eq!(Kind::parse(" Faecal_Tests "), Some(Kind::FaecalTests));
        assert_eq!(Kind::parse("people"), None);
    }

    #[test]
    fn every_alias_names_a_field_some_kind_has() {
        for (field, _) in ALIASES {
            assert!(
                Kind::ALL.iter().any(|k| k.has_field(field)),
                "{field} belongs to no kind"
            );
        }
        for (kind, alias, field) in KIND_ALIASES {
            assert!(
                kind.has_field(field),
                "{alias} → {field} is not a {kind} field"
            );
        }
    }

    #[test]
    fn a_header_row_maps_column_by_column_and_names_missing_fields() {
        let headers: Vec<String> = ["犬牌号", "驱虫日期", "剂量(mg)", "签名"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            map_headers(Kind::Dewormings, &headers).unwrap(),
            [Some("dog_tag"), Some("dosed_on"), Some("dose_mg"), None]
        );
        let err = map_headers(Kind::Dewormings, &headers[2..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a dewormings sheet needs the columns dog_tag, dosed_on; the header row has none for them"
        );
    }

    #[test]
    fn two_columns_meaning_the_same_field_are_an_error() {
        let headers: Vec<String> = ["犬牌号", "日期", "驱虫日期"].map(String::from).to_vec();
        let err = map_headers(Kind::Dewormings, &headers).unwrap_err();
        assert_eq!(
            err.to_string(),
            "columns 2 (\"日期\") and 3 (\"驱虫日期\") both mean dosed_on"
        );
    }
}
