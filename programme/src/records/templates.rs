//! Import templates: for each kind, a header row people recognise (`犬牌号(dog_tag)*`: the
//! Chinese name, the canonical field in brackets, `*` when required — the import reads all three
//! forms) and, in the workbook, a second sheet explaining every column and its accepted values.

use echinomap_geodata::import::headers::{self, Kind, LINK_FIELDS};

use super::spec::{self, Ty};
use crate::workbook;

/// The template's columns: header text and whether it is required.
pub fn headers(kind: Kind) -> Vec<(String, bool)> {
    let k = kind.spec();
    let mut out = Vec::new();
    let mut push = |field: &str, required: bool| {
        let label = match headers::label_zh(field) {
            Some(zh) => format!("{zh}({field})"),
            None => field.to_owned(),
        };
        out.push((if required { format!("{label}*") } else { label }, required));
    };
    for f in k.required {
        push(f, true);
    }
    for f in k.optional {
        push(f, false);
    }
    if k.linked {
        for f in LINK_FIELDS {
            if !k.required.contains(f) && !k.optional.contains(f) {
                push(f, false);
            }
        }
    }
    out
}

/// What a column accepts, in words.
fn accepts(kind: Kind, field: &str) -> String {
    let ty = spec::by_kind(kind)
        .and_then(|s| s.field(field))
        .map(|f| f.ty);
    match (field, ty) {
        ("village_code", _) => "12位村代码 / 12-digit village code".to_owned(),
        ("village", _) => {
            "村名 (可加乡镇) / village name (with township when ambiguous)".to_owned()
        }
        ("township", _) => "乡镇名称或9位代码 / township name or 9-digit code".to_owned(),
        ("lon" | "lat", _) => {
            "WGS84 度; 高德/微信坐标加 crs=gcj02 / degrees, WGS84 (crs=gcj02 for AMap/WeChat)"
                .to_owned()
        }
        (_, Some(Ty::Date)) => "日期: 2024-03-05, 2024/3/5, 2024年3月5日 或 Excel 日期".to_owned(),
        (_, Some(Ty::Bool)) => "是/否".to_owned(),
        (_, Some(Ty::Int { min, max })) => format!("整数 {min}–{max}"),
        (_, Some(Ty::Dec { min, max })) => format!("数字 {min}–{max}"),
        (_, Some(Ty::Enum(e))) => e.expected.to_owned(),
        (_, Some(Ty::IdNumber)) => "18位身份证号 (校验位) / national ID number".to_owned(),
        (_, Some(Ty::Phone)) => "电话 / phone".to_owned(),
        _ => "文本 / text".to_owned(),
    }
}

/// The template workbook: the header row, then a sheet describing each column.
pub fn workbook(kind: Kind) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Color, Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let required = Format::new().set_bold().set_font_color(Color::Red);
    let cols = headers(kind);
    let sheet = wb.add_worksheet();
    sheet.set_name(kind.as_str())?;
    for (i, (h, req)) in cols.iter().enumerate() {
        workbook::write_text(sheet, 0, i as u16, h, if *req { &required } else { &bold })?;
        sheet.set_column_width(i as u16, 18)?;
    }
    let help = wb.add_worksheet();
    help.set_name("说明")?;
    for (i, h) in ["列 / column", "必填 / required", "填写 / accepts"]
        .iter()
        .enumerate()
    {
        help.write_string_with_format(0, i as u16, *h, &bold)?;
    }
    let k = kind.spec();
    let fields: Vec<(&str, bool)> = k
        .required
        .iter()
        .map(|f| (*f, true))
        .chain(k.optional.iter().map(|f| (*f, false)))
        .chain(
            LINK_FIELDS
                .iter()
                .filter(|f| k.linked && !k.required.contains(f) && !k.optional.contains(f))
                .map(|f| (*f, false)),
        )
        .collect();
    for (r, (f, req)) in fields.iter().enumerate() {
        let r = r as u32 + 1;
        workbook::write_text(help, r, 0, cols[r as usize - 1].0.as_str(), &Format::new())?;
        help.write_string(r, 1, if *req { "是" } else { "" })?;
        help.write_string(r, 2, accepts(kind, f))?;
    }
    help.set_column_width(0, 24)?;
    help.set_column_width(2, 80)?;
    wb.save_to_buffer()
}
