//! The values of the schema's enum types, each with the words counties write for it: a sheet may
//! say 家犬, 阳性 or 确诊 where the database says `domestic_tethered`, `positive`, `confirmed`.
//! Compared after NFKC, lower-casing and removing spaces, so `Copro-ELISA` and `ｃｏｐｒｏ_elisa`
//! match `copro_elisa`.

use unicode_normalization::UnicodeNormalization;

use super::values::ValueError;

/// One enum type: its SQL name and its labels, each with the other words it is known by.
#[derive(Debug)]
pub struct EnumType {
    pub sql_type: &'static str,
    pub values: &'static [(&'static str, &'static [&'static str])],
    /// What the column accepts, in words, for error messages.
    pub expected: &'static str,
}

macro_rules! enum_type {
    ($name:ident, $sql:literal, $expected:literal, [$(($label:literal, [$($alias:literal),*])),* $(,)?]) => {
        pub const $name: EnumType = EnumType {
            sql_type: $sql,
            values: &[$(($label, &[$($alias),*])),*],
            expected: $expected,
        };
    };
}

enum_type!(
    DOG_KIND,
    "dog_kind",
    "a dog kind: 拴养家犬/domestic_tethered, 半拴养/domestic_semi, 牧犬/herding, 流浪犬/stray",
    [
        (
            "domestic_tethered",
            ["家犬", "拴养", "拴养犬", "拴养家犬", "tethered"]
        ),
        (
            "domestic_semi",
            ["半拴养", "半拴养犬", "散养", "散养犬", "semi"]
        ),
        ("herding", ["牧犬", "牧羊犬", "牧区犬"]),
        ("stray", ["流浪犬", "无主犬"]),
    ]
);
enum_type!(
    DOG_STATUS,
    "dog_status",
    "a dog status: 在养/alive, 死亡/dead, 迁出/moved, 扑杀/culled",
    [
        ("alive", ["在养", "存活", "正常", "在"]),
        ("dead", ["死亡", "已死亡"]),
        ("moved", ["迁出", "转出", "外迁"]),
        ("culled", ["扑杀", "捕杀", "处理"]),
    ]
);
enum_type!(
    SEX,
    "sex",
    "a sex: 男/male, 女/female, 不详/unknown (公/母 for animals)",
    [
        ("male", ["男", "男性", "m", "公", "雄", "雄性"]),
        ("female", ["女", "女性", "f", "母", "雌", "雌性"]),
        ("unknown", ["不详", "未知", "u"]),
    ]
);
enum_type!(
    DEWORMING_DRUG,
    "deworming_drug",
    "a drug: 吡喹酮/praziquantel or 其他/other",
    [
        ("praziquantel", ["吡喹酮", "pzq", "吡喹酮片"]),
        ("other", ["其他", "其它"]),
    ]
);
enum_type!(
    DEWORMING_METHOD,
    "deworming_method",
    "a method: 片剂/tablet, 饵剂/bait, 项圈/collar, 注射/injection",
    [
        ("tablet", ["片剂", "投药", "口服", "喂药"]),
        ("bait", ["饵剂", "药饵", "诱饵"]),
        ("collar", ["项圈", "智能项圈", "自动投药项圈"]),
        ("injection", ["注射", "针剂"]),
    ]
);
enum_type!(
    FAECAL_METHOD,
    "faecal_method",
    "a method: 粪抗原ELISA/copro_elisa, PCR/copro_pcr, 槟榔碱/arecoline, 其他/other",
    [
        (
            "copro_elisa",
            ["elisa", "粪抗原", "粪抗原elisa", "粪便抗原", "犬粪抗原"]
        ),
        ("copro_pcr", ["pcr", "粪便pcr"]),
        ("arecoline", ["槟榔碱", "槟榔碱泻下法", "泻下法"]),
        ("other", ["其他", "其它"]),
    ]
);
enum_type!(
    TEST_RESULT,
    "test_result",
    "a result: 阳性/positive, 阴性/negative, 可疑/inconclusive",
    [
        ("positive", ["阳性", "阳", "+", "pos"]),
        ("negative", ["阴性", "阴", "-", "neg"]),
        ("inconclusive", ["可疑", "不确定", "待定", "±"]),
    ]
);
enum_type!(
    STRAY_ACTION,
    "stray_action",
    "an action: 发现/observed, 捕获/captured, 收容/sheltered, 安乐死/euthanised, 领养/adopted",
    [
        ("observed", ["发现", "目击", "观察"]),
        ("captured", ["捕获", "抓捕"]),
        ("sheltered", ["收容"]),
        ("euthanised", ["安乐死", "扑杀", "euthanized"]),
        ("adopted", ["领养", "认领"]),
    ]
);
enum_type!(
    SLAUGHTER_POINT_KIND,
    "slaughter_point_kind",
    "a kind: 定点/designated or 非定点/informal",
    [
        ("designated", ["定点", "定点屠宰场", "屠宰场", "定点屠宰"]),
        ("informal", ["非定点", "分散", "个体", "自宰", "私宰"]),
    ]
);
enum_type!(
    DISPOSAL_FACILITY,
    "disposal_facility",
    "a facility: 焚烧炉/incinerator, 无害化处理池/pit, 无/none",
    [
        ("incinerator", ["焚烧炉", "焚烧"]),
        ("pit", ["处理池", "无害化处理池", "深埋坑", "坑"]),
        ("none", ["无", "没有"]),
    ]
);
enum_type!(
    SPECIES,
    "species",
    "a species: 绵羊/sheep, 山羊/goat, 牛/cattle, 骆驼/camel, 马/horse, 牦牛/yak, 猪/pig, 其他/other",
    [
        ("sheep", ["羊", "绵羊"]),
        ("goat", ["山羊"]),
        ("cattle", ["牛", "黄牛", "奶牛"]),
        ("camel", ["骆驼"]),
        ("horse", ["马"]),
        ("yak", ["牦牛"]),
        ("pig", ["猪"]),
        ("other", ["其他", "其它"]),
    ]
);
enum_type!(
    AGE_CLASS,
    "age_class",
    "an age class: 2岁以下/under_2y, 2岁及以上/over_2y, 不详/unknown",
    [
        ("under_2y", ["2岁以下", "两岁以下", "<2", "幼畜"]),
        (
            "over_2y",
            ["2岁及以上", "2岁以上", "两岁以上", ">=2", "成畜"]
        ),
        ("unknown", ["不详", "未知"]),
    ]
);
enum_type!(
    CYST_ORGAN,
    "cyst_organ",
    "an organ: 无/none, 肝/liver, 肺/lung, 肝肺/liver_and_lung, 其他/other",
    [
        ("none", ["无", "未见"]),
        ("liver", ["肝", "肝脏"]),
        ("lung", ["肺", "肺脏"]),
        ("liver_and_lung", ["肝肺", "肝和肺", "肝脏和肺脏"]),
        ("other", ["其他", "其它"]),
    ]
);
enum_type!(
    DISPOSAL_METHOD,
    "disposal_method",
    "a disposal: 焚烧/incineration, 深埋/deep_burial, 处理池/pit, 化学处理/chemical, 未处理/none",
    [
        ("incineration", ["焚烧"]),
        ("deep_burial", ["深埋", "掩埋"]),
        ("pit", ["处理池", "无害化处理池"]),
        ("chemical", ["化学处理", "化制"]),
        ("none", ["未处理", "无"]),
    ]
);
enum_type!(
    CASE_TYPE,
    "case_type",
    "a type: 囊型/CE or 泡型/AE",
    [
        ("CE", ["囊型", "囊型包虫病", "细粒棘球蚴病", "ce"]),
        ("AE", ["泡型", "泡型包虫病", "多房棘球蚴病", "ae"]),
    ]
);
enum_type!(
    DIAGNOSIS_CLASS,
    "diagnosis_class",
    "a class: 疑似/suspected, 临床诊断/clinical, 确诊/confirmed",
    [
        ("suspected", ["疑似", "疑似病例"]),
        ("clinical", ["临床诊断", "临床", "临床诊断病例"]),
        ("confirmed", ["确诊", "实验室确诊", "确诊病例"]),
    ]
);
enum_type!(
    CASE_ORGAN,
    "case_organ",
    "an organ: 肝/liver, 肺/lung, 脑/brain, 骨/bone, 肾/kidney, 脾/spleen, 多器官/multiple, 其他/other",
    [
        ("liver", ["肝", "肝脏"]),
        ("lung", ["肺", "肺脏"]),
        ("brain", ["脑"]),
        ("bone", ["骨"]),
        ("kidney", ["肾", "肾脏"]),
        ("spleen", ["脾", "脾脏"]),
        ("multiple", ["多器官", "多脏器"]),
        ("other", ["其他", "其它"]),
    ]
);
enum_type!(
    DISCOVERY_ROUTE,
    "discovery_route",
    "a route: 筛查/screening, 医院报告/hospital_report, 随访/follow_up, 其他/other",
    [
        ("screening", ["筛查", "人群筛查", "b超筛查"]),
        ("hospital_report", ["医院报告", "就诊", "医院", "门诊"]),
        ("follow_up", ["随访"]),
        ("other", ["其他", "其它"]),
    ]
);
enum_type!(
    CASE_STATUS,
    "case_status",
    "a status: 治疗中/under_treatment, 观察/watch_and_wait, 治愈/cured, 死亡/died, 失访/lost_to_follow_up",
    [
        ("under_treatment", ["治疗中", "在治"]),
        ("watch_and_wait", ["观察", "随访观察", "等待观察"]),
        ("cured", ["治愈", "痊愈"]),
        ("died", ["死亡"]),
        ("lost_to_follow_up", ["失访"]),
    ]
);
enum_type!(
    IMAGING_MODALITY,
    "imaging_modality",
    "a modality: B超/ultrasound, CT, MRI, X线/xray",
    [
        ("ultrasound", ["b超", "超声"]),
        ("ct", []),
        ("mri", ["核磁"]),
        ("xray", ["x线", "x光"]),
    ]
);
enum_type!(
    CE_STAGE,
    "ce_stage",
    "a WHO-IWGE stage: CL, CE1, CE2, CE3a, CE3b, CE4, CE5",
    [
        ("CL", ["cl"]),
        ("CE1", ["ce1"]),
        ("CE2", ["ce2"]),
        ("CE3a", ["ce3a"]),
        ("CE3b", ["ce3b"]),
        ("CE4", ["ce4"]),
        ("CE5", ["ce5"]),
    ]
);
enum_type!(
    PNM_P,
    "pnm_p",
    "a PNM P: P0–P4 or Px",
    [
        ("P0", ["p0"]),
        ("P1", ["p1"]),
        ("P2", ["p2"]),
        ("P3", ["p3"]),
        ("P4", ["p4"]),
        ("Px", ["px"]),
    ]
);
enum_type!(
    PNM_N,
    "pnm_n",
    "a PNM N: N0, N1 or Nx",
    [("N0", ["n0"]), ("N1", ["n1"]), ("Nx", ["nx"])]
);
enum_type!(
    PNM_M,
    "pnm_m",
    "a PNM M: M0, M1 or Mx",
    [("M0", ["m0"]), ("M1", ["m1"]), ("Mx", ["mx"])]
);
enum_type!(
    TREATMENT_KIND,
    "treatment_kind",
    "a treatment: 阿苯达唑/albendazole, 手术/surgery, 经皮治疗/percutaneous",
    [
        ("albendazole", ["阿苯达唑", "药物", "药物治疗"]),
        ("surgery", ["手术", "手术治疗"]),
        ("percutaneous", ["经皮", "经皮治疗", "穿刺"]),
    ]
);
enum_type!(
    FOLLOWUP_OUTCOME,
    "followup_outcome",
    "an outcome: 稳定/stable, 好转/improved, 进展/progressed, 治愈/cured, 死亡/died, 未找到/not_found",
    [
        ("stable", ["稳定"]),
        ("improved", ["好转"]),
        ("progressed", ["进展", "加重"]),
        ("cured", ["治愈", "痊愈"]),
        ("died", ["死亡"]),
        ("not_found", ["未找到", "失访", "未见到"]),
    ]
);
enum_type!(
    SCREENING_METHOD,
    "screening_method",
    "a method: B超/ultrasound or 血清学/serology_elisa",
    [
        ("ultrasound", ["b超", "超声"]),
        ("serology_elisa", ["血清学", "elisa", "血清elisa"]),
    ]
);
enum_type!(
    SCREENING_GROUP,
    "screening_group",
    "a group: 一般人群/general or 学生/school_children",
    [
        ("general", ["一般人群", "人群", "居民"]),
        ("school_children", ["学生", "儿童", "小学生", "中小学生"]),
    ]
);
enum_type!(
    STOCK_KIND,
    "stock_kind",
    "a kind: 吡喹酮/praziquantel, 阿苯达唑/albendazole, 疫苗/vaccine, 检测试剂盒/elisa_kit, 其他/other",
    [
        ("praziquantel", ["吡喹酮"]),
        ("albendazole", ["阿苯达唑"]),
        ("vaccine", ["疫苗"]),
        ("elisa_kit", ["试剂盒", "检测试剂盒", "elisa试剂盒"]),
        ("other", ["其他", "其它"]),
    ]
);
enum_type!(
    STOCK_MOVEMENT_KIND,
    "stock_movement_kind",
    "a movement: 入库/receipt, 出库/transfer_out, 使用/use, 调整/adjustment",
    [
        ("receipt", ["入库", "收货", "领入"]),
        // The old `issue`: to a store (or township centre); to a village it is a `use`.
        (
            "transfer_out",
            ["出库", "发放", "下发", "调拨", "调出", "issue"]
        ),
        ("use", ["使用", "领用", "用药"]),
        ("adjustment", ["调整", "报损"]),
    ]
);
enum_type!(
    STOCK_REASON,
    "stock_reason",
    "a reason: 盘点更正/count_correction, 过期/expired, 破损/damaged, 丢失/lost, 退回/returned",
    [
        ("count_correction", ["盘点更正", "盘点差异", "更正"]),
        ("expired", ["过期", "过期报废"]),
        ("damaged", ["破损", "损坏"]),
        ("lost", ["丢失", "遗失"]),
        ("returned", ["退回", "退货"]),
    ]
);

fn key(s: &str) -> String {
    s.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .collect()
}

impl EnumType {
    /// The label `s` means: the label itself or one of its words (case, width, spaces, `-` and
    /// `_` ignored).
    pub fn parse(&self, s: &str) -> Result<&'static str, ValueError> {
        let k = key(s);
        // `-` alone means negative; it must survive the key's removal of `-`.
        let k = if k.is_empty() { s.trim().to_owned() } else { k };
        self.values
            .iter()
            .find(|(label, aliases)| {
                key(label) == k || aliases.iter().any(|a| key(a) == k || *a == k)
            })
            .map(|(label, _)| *label)
            .ok_or_else(|| ValueError {
                value: s.to_owned(),
                expected: self.expected,
            })
    }

    /// The labels, in schema order.
    pub fn labels(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.iter().map(|(l, _)| *l)
    }
}

/// Every enum type, for lookups by SQL name and for the tests.
pub const ALL: &[&EnumType] = &[
    &DOG_KIND,
    &DOG_STATUS,
    &SEX,
    &DEWORMING_DRUG,
    &DEWORMING_METHOD,
    &FAECAL_METHOD,
    &TEST_RESULT,
    &STRAY_ACTION,
    &SLAUGHTER_POINT_KIND,
    &DISPOSAL_FACILITY,
    &SPECIES,
    &AGE_CLASS,
    &CYST_ORGAN,
    &DISPOSAL_METHOD,
    &CASE_TYPE,
    &DIAGNOSIS_CLASS,
    &CASE_ORGAN,
    &DISCOVERY_ROUTE,
    &CASE_STATUS,
    &IMAGING_MODALITY,
    &CE_STAGE,
    &PNM_P,
    &PNM_N,
    &PNM_M,
    &TREATMENT_KIND,
    &FOLLOWUP_OUTCOME,
    &SCREENING_METHOD,
    &SCREENING_GROUP,
    &STOCK_KIND,
    &STOCK_MOVEMENT_KIND,
    &STOCK_REASON,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_their_words_parse() {
        assert_eq!(DOG_KIND.parse("牧犬").unwrap(), "herding");
        assert_eq!(TEST_RESULT.parse("阳性").unwrap(), "positive");
        assert_eq!(TEST_RESULT.parse("-").unwrap(), "negative");
        assert_eq!(FAECAL_METHOD.parse("Copro-ELISA").unwrap(), "copro_elisa");
        assert_eq!(CASE_TYPE.parse("ce").unwrap(), "CE");
        assert_eq!(CE_STAGE.parse("CE3A").unwrap(), "CE3a");
        assert_eq!(SPECIES.parse("ｓｈｅｅｐ").unwrap(), "sheep");
        let err = DOG_KIND.parse("猫").unwrap_err();
        assert!(err.to_string().contains("牧犬"), "{err}");
    }

    #[test]
    fn no_word_means_two_labels() {
        for t in ALL {
            let mut seen = std::collections::HashMap::new();
            for (label, aliases) in t.values {
                for w in std::iter::once(label).chain(aliases.iter()) {
                    if let Some(other) = seen.insert(key(w), *label) {
                        assert_eq!(
                            other, *label,
                            "{}: {w:?} means {other} and {label}",
                            t.sql_type
                        );
                    }
                }
            }
        }
    }
}
