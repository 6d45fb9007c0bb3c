//! Ethnicities and personal names for the demo population.
//!
//! Han, Hui and Xibe people have a Chinese surname and one or two given characters; Uyghur,
//! Kazakh and Mongol names are transliterated as "given·father's name", as on Chinese ID cards.

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ethnicity {
    Han,
    Uyghur,
    Kazakh,
    Xibe,
    Hui,
    Mongol,
}

impl Ethnicity {
    pub(crate) const ALL: [Ethnicity; 6] = [
        Ethnicity::Han,
        Ethnicity::Uyghur,
        Ethnicity::Kazakh,
        Ethnicity::Xibe,
        Ethnicity::Hui,
        Ethnicity::Mongol,
    ];

    /// The label stored in `people.ethnicity`, as written on the ID card.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Ethnicity::Han => "汉族",
            Ethnicity::Uyghur => "维吾尔族",
            Ethnicity::Kazakh => "哈萨克族",
            Ethnicity::Xibe => "锡伯族",
            Ethnicity::Hui => "回族",
            Ethnicity::Mongol => "蒙古族",
        }
    }

    fn transliterated(self) -> bool {
        matches!(
            self,
            Ethnicity::Uyghur | Ethnicity::Kazakh | Ethnicity::Mongol
        )
    }
}

const HAN_SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "贾", "夏", "付",
    "方", "白", "孟", "秦", "江", "薛", "闫", "段", "雷", "侯", "龙", "史", "贺", "毛", "郝", "武",
];
const HUI_SURNAMES: &[&str] = &[
    "马", "马", "马", "杨", "丁", "白", "海", "哈", "沙", "纳", "李", "王", "冶", "穆", "韩", "苏",
];
const XIBE_SURNAMES: &[&str] = &[
    "关", "佟", "吴", "郭", "何", "安", "赵", "韩", "杨", "富", "肖", "伊", "图", "常", "胡", "托",
    "那", "额",
];
const MALE_CHARS: &[&str] = &[
    "伟", "强", "军", "磊", "勇", "杰", "涛", "明", "斌", "超", "鹏", "华", "建", "国", "平", "辉",
    "刚", "峰", "亮", "文", "林", "波", "宇", "浩", "俊", "凯", "鑫", "东", "海", "龙", "春", "志",
    "永", "新", "成", "德", "福", "生", "兴", "荣",
];
const FEMALE_CHARS: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "桂", "英", "红", "梅", "兰", "琴",
    "萍", "雪", "婷", "慧", "莹", "洁", "晶", "琳", "秀", "珍", "玉", "凤", "丹", "蓉",
];
const UYGHUR_MALE: &[&str] = &[
    "艾力",
    "买买提",
    "阿不都",
    "吐尔逊",
    "艾合买提",
    "亚森",
    "努尔",
    "阿里木",
    "麦麦提",
    "伊斯拉木",
    "热合曼",
    "吾买尔",
    "阿卜杜拉",
    "库尔班",
    "肉孜",
    "塔依尔",
    "尼亚孜",
    "玉素甫",
    "卡德尔",
    "依明",
];
const UYGHUR_FEMALE: &[&str] = &[
    "古丽",
    "阿依古丽",
    "帕提古丽",
    "热依拉",
    "阿娜尔",
    "米日古丽",
    "布维",
    "再娜甫",
    "努尔古丽",
    "祖丽皮亚",
    "阿依努尔",
    "玛依拉",
    "迪丽努尔",
    "哈丽旦",
];
const KAZAKH_MALE: &[&str] = &[
    "努尔兰",
    "叶尔兰",
    "别克",
    "哈那提",
    "达吾提",
    "叶尔肯",
    "沙比特",
    "加尔肯",
    "阿依登",
    "塔力甫",
    "木拉提",
    "巴合提",
    "哈斯木",
    "阿斯哈尔",
    "叶尔江",
    "赛力克",
    "马合沙提",
];
const KAZAKH_FEMALE: &[&str] = &[
    "阿依古丽",
    "古丽娜尔",
    "阿依达娜",
    "加娜尔",
    "哈丽恰",
    "古丽米拉",
    "阿克玛依",
    "巴合古丽",
    "沙吾列",
    "阿依江",
    "哈丽玛",
];
const MONGOL_MALE: &[&str] = &[
    "巴特尔",
    "巴音",
    "额尔敦",
    "朝鲁",
    "宝音",
    "孟克",
    "那顺",
    "敖其尔",
    "达来",
    "乌力吉",
];
const MONGOL_FEMALE: &[&str] = &[
    "其其格",
    "萨仁",
    "乌云",
    "高娃",
    "图雅",
    "娜仁",
    "斯琴",
    "塔娜",
];

fn pick(rng: &mut ChaCha8Rng, list: &'static [&'static str]) -> &'static str {
    list.choose(rng).copied().unwrap_or("某")
}

/// What family members share: the surname (Chinese-style names) or the father's given name
/// (transliterated names).
pub(crate) fn family_name(rng: &mut ChaCha8Rng, e: Ethnicity) -> &'static str {
    match e {
        Ethnicity::Han => pick(rng, HAN_SURNAMES),
        Ethnicity::Hui => pick(rng, HUI_SURNAMES),
        Ethnicity::Xibe => pick(rng, XIBE_SURNAMES),
        Ethnicity::Uyghur => pick(rng, UYGHUR_MALE),
        Ethnicity::Kazakh => pick(rng, KAZAKH_MALE),
        Ethnicity::Mongol => pick(rng, MONGOL_MALE),
    }
}

/// A full name; `family` comes from [`family_name`] (the head's surname, or the father's name).
pub(crate) fn person_name(rng: &mut ChaCha8Rng, e: Ethnicity, male: bool, family: &str) -> String {
    if e.transliterated() {
        let given = match (e, male) {
            (Ethnicity::Uyghur, true) => pick(rng, UYGHUR_MALE),
            (Ethnicity::Uyghur, false) => pick(rng, UYGHUR_FEMALE),
            (Ethnicity::Kazakh, true) => pick(rng, KAZAKH_MALE),
            (Ethnicity::Kazakh, false) => pick(rng, KAZAKH_FEMALE),
            (_, true) => pick(rng, MONGOL_MALE),
            (_, false) => pick(rng, MONGOL_FEMALE),
        };
        return format!("{given}·{family}");
    }
    let chars = if male { MALE_CHARS } else { FEMALE_CHARS };
    let mut name = String::from(family);
    name.push_str(pick(rng, chars));
    if rng.random_bool(0.6) {
        name.push_str(pick(rng, chars));
    }
    name
}
