//! What people read for the registers' names: the label of every field (Chinese first, then
//! English), of every value of an enumeration, and of the keys lists show beside the fields
//! (the village, a dog's owner and last dose). One table for every register, with overrides
//! where a register uses a word otherwise (a dog is 公/母, a person 男/女; `method` is how a
//! dog was dosed in one register and how a sample was tested in another).

/// A label: Chinese, English.
pub type Label = (&'static str, &'static str);

/// Field name → label, for every register.
const FIELDS: &[(&str, Label)] = &[
    ("action", ("处置方式", "Action")),
    ("activity", ("活动内容", "Activity")),
    ("address", ("住址", "Address")),
    ("adherence_pct", ("服药依从性(%)", "Adherence (%)")),
    ("adverse_events", ("不良反应", "Adverse events")),
    ("age_class", ("畜龄", "Age class")),
    ("aware", ("知晓人数", "Aware")),
    ("batch", ("批号", "Batch")),
    ("birth_date", ("出生日期", "Birth date")),
    ("birth_year", ("出生年份", "Birth year")),
    ("camels", ("骆驼数", "Camels")),
    ("campaign", ("免疫计划", "Campaign")),
    ("case_id", ("病例", "Case")),
    ("case_type", ("病例类型", "Case type")),
    ("cattle", ("牛数", "Cattle")),
    ("ce_stage", ("囊型分期", "CE stage")),
    ("collar_id", ("项圈号", "Collar id")),
    ("diagnosed_on", ("诊断日期", "Diagnosed on")),
    ("diagnosis_class", ("诊断分类", "Diagnosis class")),
    ("discovery_route", ("发现途径", "Discovery route")),
    ("disposal_done", ("已无害化处理", "Disposal done")),
    ("disposal_facility", ("无害化处理设施", "Disposal facility")),
    ("disposal_method", ("无害化处理方式", "Disposal method")),
    ("dissected", ("解剖数", "Dissected")),
    ("dog_kind", ("犬类型", "Dog kind")),
    ("dog_tag", ("犬牌号", "Dog tag")),
    ("dogs_estimated", ("犬只数", "Dogs (estimated)")),
    ("dosed_on", ("驱虫日期", "Dosed on")),
    ("dose_mg", ("剂量(mg)", "Dose (mg)")),
    ("dose_mg_per_kg", ("剂量(mg/kg)", "Dose (mg/kg)")),
    ("doses", ("用苗数", "Doses")),
    ("drug", ("药品", "Drug")),
    ("due_on", ("应随访日期", "Due on")),
    ("ended_on", ("结束日期", "Ended on")),
    ("ends_on", ("结束日期", "Ends on")),
    ("ethnicity", ("民族", "Ethnicity")),
    ("examined_on", ("检查日期", "Examined on")),
    ("examiner", ("检查医生", "Examiner")),
    ("expires_on", ("有效期至", "Expires on")),
    ("given_by", ("投药人", "Given by")),
    ("goats", ("山羊数", "Goats")),
    ("head_name", ("户主姓名", "Head of household")),
    ("held_on", ("活动日期", "Held on")),
    ("horses", ("马数", "Horses")),
    ("hospital", ("医院", "Hospital")),
    ("household_no", ("户号", "Household no.")),
    ("households", ("户数", "Households")),
    ("id_number", ("身份证号", "ID number")),
    ("immunised", ("实免数", "Immunised")),
    ("infected", ("感染数", "Infected")),
    ("inspected_on", ("检疫日期", "Inspected on")),
    ("inspector", ("检疫员", "Inspector")),
    ("item_code", ("品目编号", "Item code")),
    ("item_kind", ("品目类别", "Item kind")),
    ("item_name", ("品目名称", "Item name")),
    ("kind", ("类别", "Kind")),
    ("lab", ("检测单位", "Laboratory")),
    ("largest_cyst_mm", ("最大囊径(mm)", "Largest cyst (mm)")),
    ("licence", ("许可证号", "Licence")),
    ("max_age", ("最大年龄", "Maximum age")),
    ("method", ("方式", "Method")),
    ("min_age", ("最小年龄", "Minimum age")),
    ("modality", ("检查方式", "Modality")),
    ("moved_on", ("日期", "Moved on")),
    ("movement_kind", ("出入库类型", "Movement")),
    ("name", ("姓名", "Name")),
    ("n_dogs", ("犬只数", "Dogs")),
    ("nndrs_id", ("报告卡编号", "NNDRS id")),
    ("notes", ("备注", "Notes")),
    ("occupation", ("职业", "Occupation")),
    ("occurred_on", ("发生日期", "Occurred on")),
    ("onset_on", ("发病日期", "Onset on")),
    ("organ", ("病变器官", "Organ")),
    ("outcome", ("随访结果", "Outcome")),
    ("participants", ("参加人数", "Participants")),
    ("pastoral", ("牧民户", "Pastoral")),
    ("phone", ("电话", "Phone")),
    ("pnm_m", ("PNM分期M", "PNM M")),
    ("pnm_n", ("PNM分期N", "PNM N")),
    ("pnm_p", ("PNM分期P", "PNM P")),
    ("point_code", ("屠宰点编号", "Slaughter point code")),
    ("point_kind", ("屠宰点类型", "Slaughter point kind")),
    ("point_name", ("屠宰点名称", "Slaughter point name")),
    ("population", ("人口数", "Population")),
    ("positives", ("阳性数", "Positives")),
    ("procedure", ("手术方式", "Procedure")),
    ("quantity", ("数量", "Quantity")),
    ("registered_on", ("登记日期", "Registered on")),
    ("reported_by", ("报告人", "Reported by")),
    ("reported_on", ("报告日期", "Reported on")),
    ("reporting_unit", ("报告单位", "Reporting unit")),
    ("respondents", ("调查人数", "Respondents")),
    ("result", ("检测结果", "Result")),
    ("sample_id", ("样本编号", "Sample id")),
    ("sampled_on", ("采样日期", "Sampled on")),
    ("scanned_barcode", ("扫码", "Scanned barcode")),
    ("screened", ("筛查人数", "Screened")),
    ("screened_on", ("筛查日期", "Screened on")),
    ("sex", ("性别", "Sex")),
    ("sheep", ("绵羊数", "Sheep")),
    ("site", ("调查地点", "Site")),
    ("slaughtered", ("屠宰数", "Slaughtered")),
    ("species", ("畜种", "Species")),
    ("started_on", ("开始日期", "Started on")),
    ("starts_on", ("开始日期", "Starts on")),
    ("status", ("状态", "Status")),
    ("status_on", ("状态日期", "Status since")),
    ("subsidy_yuan", ("补助(元)", "Subsidy (yuan)")),
    ("surveyed_on", ("调查日期", "Surveyed on")),
    ("target", ("应免数", "Target")),
    ("target_group", ("筛查人群", "Target group")),
    ("team", ("筛查队伍", "Team")),
    ("tested_on", ("检测日期", "Tested on")),
    ("trapped", ("捕获数", "Trapped")),
    ("ultrasound_done", ("是否做B超", "Ultrasound done")),
    ("unit", ("单位", "Unit")),
    ("vaccinated_on", ("免疫日期", "Vaccinated on")),
    ("vaccine", ("疫苗", "Vaccine")),
    ("visited_by", ("随访人", "Visited by")),
    ("visited_on", ("随访日期", "Visited on")),
    ("year", ("年份", "Year")),
];

/// (register, field) → label, where the register says it otherwise.
const FIELD_OVERRIDES: &[(&str, &str, Label)] = &[
    ("dewormings", "method", ("投药方式", "Dosing method")),
    ("faecal_tests", "method", ("检测方法", "Test method")),
    (
        "screening_campaigns",
        "method",
        ("筛查方法", "Screening method"),
    ),
    ("cases", "status", ("病例状态", "Case status")),
    ("cases", "organ", ("受累器官", "Organ")),
    ("dogs", "status", ("犬只状态", "Dog status")),
    ("treatments", "kind", ("治疗方式", "Treatment")),
    ("rodent_surveys", "species", ("鼠种", "Rodent species")),
    (
        "vaccination_campaigns",
        "name",
        ("计划名称", "Campaign name"),
    ),
    ("stock_movements", "item_code", ("物资品目", "Stock item")),
    ("stock_movements", "moved_on", ("出入库日期", "Moved on")),
    ("stock_movements", "store_code", ("库房编码", "Store code")),
    (
        "stock_movements",
        "to_store_code",
        ("接收库房编码", "Receiving store code"),
    ),
    (
        "stock_movements",
        "township_code",
        ("接收乡镇代码", "Receiving township code"),
    ),
    ("stock_movements", "reason", ("调整原因", "Reason")),
    ("stock_movements", "supplier", ("供货单位", "Supplier")),
    ("stock_movements", "reference", ("单据号", "Reference")),
    ("livestock_census", "households", ("户数", "Households")),
    (
        "health_education",
        "respondents",
        ("问卷人数", "Respondents"),
    ),
];

/// Keys of lists and records that are not fields: the place, the derived columns.
const KEYS: &[(&str, Label)] = &[
    ("id", ("编号", "Id")),
    ("village_code", ("村代码", "Village code")),
    ("village_name", ("村", "Village")),
    ("village", ("村", "Village")),
    ("township", ("乡镇", "Township")),
    ("township_code", ("乡镇代码", "Township code")),
    ("origin_village_code", ("来源村代码", "Origin village code")),
    ("origin_village_name", ("来源村", "Origin village")),
    ("lon", ("经度", "Longitude")),
    ("lat", ("纬度", "Latitude")),
    ("age", ("年龄", "Age")),
    ("owner", ("犬主", "Owner")),
    ("last_dosed_on", ("最近驱虫", "Last dosed on")),
    ("link_method", ("定位方式", "Linked by")),
    ("created_by", ("录入人", "Entered by")),
    ("created_at", ("录入时间", "Entered at")),
    ("updated_at", ("修改时间", "Changed at")),
    ("person_name", ("患者姓名", "Patient")),
    ("person.name", ("患者姓名", "Patient")),
    ("latest_stage", ("最新分期", "Latest stage")),
    ("next_followup_due", ("下次随访", "Next follow-up")),
    ("followup_overdue", ("随访逾期", "Follow-up overdue")),
    ("is_revisit", ("复诊", "Revisit")),
];

/// (enum SQL type, value) → label.
const OPTIONS: &[(&str, &str, Label)] = &[
    (
        "dog_kind",
        "domestic_tethered",
        ("拴养家犬", "Tethered domestic"),
    ),
    (
        "dog_kind",
        "domestic_semi",
        ("半拴养犬", "Semi-free domestic"),
    ),
    ("dog_kind", "herding", ("牧犬", "Herding")),
    ("dog_kind", "stray", ("流浪犬", "Stray")),
    ("dog_status", "alive", ("在养", "Alive")),
    ("dog_status", "dead", ("死亡", "Dead")),
    ("dog_status", "moved", ("迁出", "Moved away")),
    ("dog_status", "culled", ("扑杀", "Culled")),
    ("sex", "male", ("男", "Male")),
    ("sex", "female", ("女", "Female")),
    ("sex", "unknown", ("不详", "Unknown")),
    ("deworming_drug", "praziquantel", ("吡喹酮", "Praziquantel")),
    ("deworming_drug", "other", ("其他", "Other")),
    ("deworming_method", "tablet", ("片剂", "Tablet")),
    ("deworming_method", "bait", ("饵剂", "Bait")),
    ("deworming_method", "collar", ("项圈", "Collar")),
    ("deworming_method", "injection", ("注射", "Injection")),
    (
        "faecal_method",
        "copro_elisa",
        ("粪抗原ELISA", "Copro-ELISA"),
    ),
    ("faecal_method", "copro_pcr", ("粪便PCR", "Copro-PCR")),
    (
        "faecal_method",
        "arecoline",
        ("槟榔碱泻下法", "Arecoline purge"),
    ),
    ("faecal_method", "other", ("其他", "Other")),
    ("test_result", "positive", ("阳性", "Positive")),
    ("test_result", "negative", ("阴性", "Negative")),
    ("test_result", "inconclusive", ("可疑", "Inconclusive")),
    ("stray_action", "observed", ("发现", "Observed")),
    ("stray_action", "captured", ("捕获", "Captured")),
    ("stray_action", "sheltered", ("收容", "Sheltered")),
    ("stray_action", "euthanised", ("安乐死", "Euthanised")),
    ("stray_action", "adopted", ("领养", "Adopted")),
    (
        "slaughter_point_kind",
        "designated",
        ("定点屠宰场", "Designated"),
    ),
    ("slaughter_point_kind", "informal", ("非定点", "Informal")),
    (
        "disposal_facility",
        "incinerator",
        ("焚烧炉", "Incinerator"),
    ),
    ("disposal_facility", "pit", ("无害化处理池", "Pit")),
    ("disposal_facility", "none", ("无", "None")),
    ("species", "sheep", ("绵羊", "Sheep")),
    ("species", "goat", ("山羊", "Goat")),
    ("species", "cattle", ("牛", "Cattle")),
    ("species", "camel", ("骆驼", "Camel")),
    ("species", "horse", ("马", "Horse")),
    ("species", "yak", ("牦牛", "Yak")),
    ("species", "pig", ("猪", "Pig")),
    ("species", "other", ("其他", "Other")),
    ("age_class", "under_2y", ("2岁以下", "Under 2 years")),
    ("age_class", "over_2y", ("2岁及以上", "2 years and over")),
    ("age_class", "unknown", ("不详", "Unknown")),
    ("cyst_organ", "none", ("无", "None")),
    ("cyst_organ", "liver", ("肝", "Liver")),
    ("cyst_organ", "lung", ("肺", "Lung")),
    ("cyst_organ", "liver_and_lung", ("肝和肺", "Liver and lung")),
    ("cyst_organ", "other", ("其他", "Other")),
    ("disposal_method", "incineration", ("焚烧", "Incineration")),
    ("disposal_method", "deep_burial", ("深埋", "Deep burial")),
    ("disposal_method", "pit", ("处理池", "Pit")),
    ("disposal_method", "chemical", ("化学处理", "Chemical")),
    ("disposal_method", "none", ("未处理", "None")),
    ("case_type", "CE", ("囊型", "Cystic (CE)")),
    ("case_type", "AE", ("泡型", "Alveolar (AE)")),
    ("diagnosis_class", "suspected", ("疑似", "Suspected")),
    ("diagnosis_class", "clinical", ("临床诊断", "Clinical")),
    ("diagnosis_class", "confirmed", ("确诊", "Confirmed")),
    ("case_organ", "liver", ("肝", "Liver")),
    ("case_organ", "lung", ("肺", "Lung")),
    ("case_organ", "brain", ("脑", "Brain")),
    ("case_organ", "bone", ("骨", "Bone")),
    ("case_organ", "kidney", ("肾", "Kidney")),
    ("case_organ", "spleen", ("脾", "Spleen")),
    ("case_organ", "multiple", ("多器官", "Multiple organs")),
    ("case_organ", "other", ("其他", "Other")),
    ("discovery_route", "screening", ("筛查", "Screening")),
    (
        "discovery_route",
        "hospital_report",
        ("医院报告", "Hospital report"),
    ),
    ("discovery_route", "follow_up", ("随访", "Follow-up")),
    ("discovery_route", "other", ("其他", "Other")),
    (
        "case_status",
        "under_treatment",
        ("治疗中", "Under treatment"),
    ),
    ("case_status", "watch_and_wait", ("观察", "Watch and wait")),
    ("case_status", "cured", ("治愈", "Cured")),
    ("case_status", "died", ("死亡", "Died")),
    (
        "case_status",
        "lost_to_follow_up",
        ("失访", "Lost to follow-up"),
    ),
    ("imaging_modality", "ultrasound", ("B超", "Ultrasound")),
    ("imaging_modality", "ct", ("CT", "CT")),
    ("imaging_modality", "mri", ("核磁共振", "MRI")),
    ("imaging_modality", "xray", ("X线", "X-ray")),
    ("ce_stage", "CL", ("CL", "CL")),
    ("ce_stage", "CE1", ("CE1", "CE1")),
    ("ce_stage", "CE2", ("CE2", "CE2")),
    ("ce_stage", "CE3a", ("CE3a", "CE3a")),
    ("ce_stage", "CE3b", ("CE3b", "CE3b")),
    ("ce_stage", "CE4", ("CE4", "CE4")),
    ("ce_stage", "CE5", ("CE5", "CE5")),
    ("pnm_p", "P0", ("P0", "P0")),
    ("pnm_p", "P1", ("P1", "P1")),
    ("pnm_p", "P2", ("P2", "P2")),
    ("pnm_p", "P3", ("P3", "P3")),
    ("pnm_p", "P4", ("P4", "P4")),
    ("pnm_p", "Px", ("Px(不能评估)", "Px")),
    ("pnm_n", "N0", ("N0", "N0")),
    ("pnm_n", "N1", ("N1", "N1")),
    ("pnm_n", "Nx", ("Nx(不能评估)", "Nx")),
    ("pnm_m", "M0", ("M0", "M0")),
    ("pnm_m", "M1", ("M1", "M1")),
    ("pnm_m", "Mx", ("Mx(不能评估)", "Mx")),
    ("treatment_kind", "albendazole", ("阿苯达唑", "Albendazole")),
    ("treatment_kind", "surgery", ("手术", "Surgery")),
    (
        "treatment_kind",
        "percutaneous",
        ("经皮治疗", "Percutaneous"),
    ),
    ("followup_outcome", "stable", ("稳定", "Stable")),
    ("followup_outcome", "improved", ("好转", "Improved")),
    ("followup_outcome", "progressed", ("进展", "Progressed")),
    ("followup_outcome", "cured", ("治愈", "Cured")),
    ("followup_outcome", "died", ("死亡", "Died")),
    ("followup_outcome", "not_found", ("未找到", "Not found")),
    ("screening_method", "ultrasound", ("B超", "Ultrasound")),
    (
        "screening_method",
        "serology_elisa",
        ("血清学ELISA", "Serology (ELISA)"),
    ),
    (
        "screening_group",
        "general",
        ("一般人群", "General population"),
    ),
    (
        "screening_group",
        "school_children",
        ("学生", "School children"),
    ),
    ("stock_kind", "praziquantel", ("吡喹酮", "Praziquantel")),
    ("stock_kind", "albendazole", ("阿苯达唑", "Albendazole")),
    ("stock_kind", "vaccine", ("疫苗", "Vaccine")),
    ("stock_kind", "elisa_kit", ("检测试剂盒", "ELISA kit")),
    ("stock_kind", "other", ("其他", "Other")),
    ("stock_movement_kind", "receipt", ("入库", "Receipt")),
    (
        "stock_movement_kind",
        "transfer_out",
        ("出库", "Transfer out"),
    ),
    (
        "stock_movement_kind",
        "transfer_in",
        ("调入", "Transfer in"),
    ),
    ("stock_movement_kind", "use", ("使用", "Use")),
    ("stock_movement_kind", "adjustment", ("调整", "Adjustment")),
    (
        "stock_reason",
        "count_correction",
        ("盘点更正", "Count correction"),
    ),
    ("stock_reason", "expired", ("过期", "Expired")),
    ("stock_reason", "damaged", ("破损", "Damaged")),
    ("stock_reason", "lost", ("丢失", "Lost")),
    ("stock_reason", "returned", ("退回", "Returned")),
    (
        "stock_reason",
        "opening_balance",
        ("期初", "Opening balance"),
    ),
];

/// (register, enum SQL type, value) → label, where the register says it otherwise.
const OPTION_OVERRIDES: &[(&str, &str, &str, Label)] = &[
    ("dogs", "sex", "male", ("公", "Male")),
    ("dogs", "sex", "female", ("母", "Female")),
];

/// The label of `field` in `register`.
pub fn field(register: &str, field: &str) -> Option<Label> {
    FIELD_OVERRIDES
        .iter()
        .find(|(r, f, _)| *r == register && *f == field)
        .map(|(_, _, l)| *l)
        .or_else(|| FIELDS.iter().find(|(f, _)| *f == field).map(|(_, l)| *l))
}

/// The label of a list or record key of `register` that is not a field's name (the village,
/// an owner, a column named otherwise than its field): `column` is the field it shows, if any.
pub fn key(register: &str, key: &str, column_of: Option<&str>) -> Option<Label> {
    KEYS.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .or_else(|| field(register, column_of.unwrap_or(key)))
}

/// The label of the value `value` of the enumeration `sql_type` in `register`.
pub fn option(register: &str, sql_type: &str, value: &str) -> Option<Label> {
    OPTION_OVERRIDES
        .iter()
        .find(|(r, t, v, _)| *r == register && *t == sql_type && *v == value)
        .map(|(_, _, _, l)| *l)
        .or_else(|| {
            OPTIONS
                .iter()
                .find(|(t, v, _)| *t == sql_type && *v == value)
                .map(|(_, _, l)| *l)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::spec::{SPECS, Ty};

    fn has_han(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_field_of_every_register_has_a_chinese_and_an_english_label() {
        for spec in SPECS {
            for f in spec.fields {
                let (zh, en) = field(spec.name, f.name)
                    .unwrap_or_else(|| panic!("{}.{} has no label", spec.name, f.name));
                assert!(
                    has_han(zh),
                    "{}.{}: {zh:?} is not Chinese",
                    spec.name,
                    f.name
                );
                assert!(!en.is_empty(), "{}.{}", spec.name, f.name);
            }
        }
    }

    #[test]
    fn every_value_of_every_enumeration_has_a_label_and_stage_codes_stay_codes() {
        for spec in SPECS {
            for f in spec.fields {
                if let Ty::Enum(e) = f.ty {
                    for value in e.labels() {
                        let (zh, en) = option(spec.name, e.sql_type, value).unwrap_or_else(|| {
                            panic!("{}.{} = {value} has no label", spec.name, f.name)
                        });
                        // Staging codes (CE1, P2 …) are written as codes in Chinese too.
                        let code = matches!(e.sql_type, "ce_stage" | "pnm_p" | "pnm_n" | "pnm_m")
                            || value == "ct";
                        assert!(
                            has_han(zh)
                                || (code && zh.to_lowercase().starts_with(&value.to_lowercase())),
                            "{}.{} = {value}: {zh:?} is not Chinese",
                            spec.name,
                            f.name
                        );
                        assert!(!en.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn a_dog_is_male_or_female_in_words_for_animals() {
        assert_eq!(option("dogs", "sex", "male"), Some(("公", "Male")));
        assert_eq!(option("people", "sex", "male"), Some(("男", "Male")));
        assert_eq!(field("dewormings", "method").map(|l| l.0), Some("投药方式"));
        assert_eq!(
            field("faecal_tests", "method").map(|l| l.0),
            Some("检测方法")
        );
    }
}
