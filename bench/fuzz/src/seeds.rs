//! The inputs every run starts from, real where there is something real: the bundled gazetteer
//! (`geodata/data/`: villages and townships CSV, county and township GeoJSON), the import
//! templates of every kind as the server writes them (CSV header lines and XLSX workbooks),
//! sheets of a few registers as counties fill them in, and the date, ID-number and phone forms
//! that docs/IMPORT.md lists. Each target also has a dictionary of tokens its parser cares
//! about, for the mutator to insert.

use echinomap_domain::IdNumber;
use echinomap_geodata::import::headers::Kind;
use echinomap_programme::records::templates;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

use crate::targets::Target;

const VILLAGES_CSV: &str = include_str!("../../../geodata/data/villages.csv");
const TOWNSHIPS_CSV: &str = include_str!("../../../geodata/data/townships.csv");
const COUNTY_GEOJSON: &str = include_str!("../../../geodata/data/qapqal_county.geojson");
const SEATS_GEOJSON: &str = include_str!("../../../geodata/data/township_seats_approx.geojson");

/// The first `n` lines of `text`.
fn head(text: &str, n: usize) -> String {
    text.lines().take(n).map(|l| format!("{l}\r\n")).collect()
}

/// A valid ID number with the 17 digits `first17`.
fn id(first17: &str) -> String {
    format!("{first17}{}", IdNumber::check_character(first17))
}

/// Sheets as people fill them in (one per kind that has a row here), as CSV text.
fn register_sheets() -> Vec<String> {
    let person = id("65402219800101123");
    let woman = id("65402219750229002");
    vec![
        "村代码,村名,经度,纬度,remote\r\n654022100001,果尔敏东街社区,81.15,43.84,否\r\n".to_owned(),
        "village_code,village,geometry\n654022100002,'=HYPERLINK(\"x\"),\"{\"\"type\"\":\"\"Polygon\"\",\"\"coordinates\"\":[[[81.1,43.8],[81.2,43.8],[81.2,43.9],[81.1,43.8]]]}\"\n".to_owned(),
        "户编号,户主,地址,村名,经度,纬度\n6540221001-001,张三,'+1+1,安定村,81.15,43.84\n6540221001-002,\"李,四\",\"多\n行\",海努克村,81.2,43.7\n".to_owned(),
        "犬牌号(dog_tag)*,村名,登记日期,类型,性别,出生年份\r\nQB-0001,安定村,2024-03-05,家犬,公,2020\r\nQB-0002,安定村,2024/3/5,牧犬,母,2019\r\n".to_owned(),
        "犬牌号;驱虫日期;药品;剂量(mg);投药人\nQB-0001;2024年3月5日;吡喹酮;1,234.5;王五\n".to_owned(),
        "犬牌号\t驱虫日期\t剂量\nQB-0001\t45356\t50\nQB-0002\t２０２４－０３－０６\t－５\n".to_owned(),
        format!("身份证号,姓名,性别,出生日期,村名,报告日期,类型,电话\n{person},张三,男,1980-01-01,安定村,2024-03-05,囊型,13800138000\n{woman},李四,女,,海努克村,20240306,泡型,+86 138 0013 8000\n"),
        "样本编号,采样日期,结果,村名\nS-1,2024-03-05,阳性,安定村\nS-2,2024.3.6,阴性,安定村\n".to_owned(),
    ]
}

/// The CSV seeds.
pub fn csv() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        head(VILLAGES_CSV, 6).into_bytes(),
        head(TOWNSHIPS_CSV, 3).into_bytes(),
    ];
    for kind in Kind::ALL {
        let headers: Vec<String> = templates::headers(kind).into_iter().map(|h| h.0).collect();
        out.push(format!("\u{feff}{}\r\n", headers.join(",")).into_bytes());
    }
    for sheet in register_sheets() {
        // GBK as Excel saves "CSV" on a Chinese Windows, besides UTF-8.
        let (gbk, _, _) = encoding_rs::GBK.encode(&sheet);
        out.push(gbk.into_owned());
        out.push(sheet.into_bytes());
    }
    out
}

/// A register sheet as an XLSX workbook: text, dates, numbers, a yes/no, a formula with its
/// value, a blank formatted row and a second sheet.
fn register_workbook() -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let ws = wb.add_worksheet();
    ws.set_name("驱虫登记")?;
    for (col, h) in ["村名", "犬牌号", "驱虫日期", "剂量(mg)", "备注", "已驱虫"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, col as u16, *h)?;
    }
    ws.write_string(1, 0, "安定村")?;
    ws.write_string(1, 1, "QB-0001")?;
    ws.write_datetime_with_format(1, 2, &ExcelDateTime::from_ymd(2024, 3, 5)?, &date)?;
    ws.write_number(1, 3, 50.0)?;
    ws.write_number(1, 4, -2.5)?;
    ws.write_boolean(1, 5, true)?;
    ws.write_string(2, 0, "海努克村")?;
    ws.write_string(2, 2, "2024年3月6日")?;
    ws.write_formula(2, 3, "=1+1")?;
    ws.write_string_with_format(2, 4, "=HYPERLINK(\"x\")", &Format::new().set_quote_prefix())?;
    ws.write_blank(6, 0, &date)?;
    let other = wb.add_worksheet();
    other.set_name("说明")?;
    other.write_string(0, 0, "字段")?;
    wb.save_to_buffer()
}

/// The XLSX seeds: the import template of every kind and a filled-in register workbook.
pub fn xlsx() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Kind::ALL
        .into_iter()
        .filter_map(|k| templates::workbook(k).ok())
        .collect();
    out.extend(register_workbook().ok());
    out
}

/// The GeoJSON seeds: the county boundary, the township seats, and small collections of points
/// and of village boundaries as the villages import takes them.
pub fn geojson() -> Vec<Vec<u8>> {
    [
        COUNTY_GEOJSON,
        SEATS_GEOJSON,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"village_code":"654022100001","remote":"否"},"geometry":{"type":"Polygon","coordinates":[[[81.1,43.8],[81.2,43.8],[81.2,43.9],[81.1,43.8]]]}}]}"#,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"犬牌号":"QB-0001","登记日期":"2024-03-05","剂量":50,"已驱虫":true,"备注":null},"geometry":{"type":"Point","coordinates":[81.15,43.84]}},{"type":"Feature","properties":{"犬牌号":"QB-0002","x":{"nested":[1,2]}},"geometry":null}]}"#,
        "\u{feff}{\"type\":\"FeatureCollection\",\"features\":[]}",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"village_code":"654022100002"},"geometry":{"type":"MultiPolygon","coordinates":[[[[81.1,43.8],[81.2,43.8],[81.2,43.9],[81.1,43.8]]]]}}]}"#,
    ]
    .into_iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// The seeds of a target.
pub fn seeds(target: Target) -> Vec<Vec<u8>> {
    let texts: Vec<String> = match target {
        Target::Csv => return csv(),
        Target::Xlsx => return xlsx(),
        Target::Geojson => return geojson(),
        Target::Dates => [
            "2024-03-05",
            "2024/3/5",
            "2024.3.5",
            "2024年3月5日",
            "2024年3月5号",
            "20240305",
            "45356",
            "45356.75",
            "59",
            "60",
            "61",
            "2958465",
            "２０２４－０３－０５",
            " 2024-03-05 ",
            "3/5/2024",
            "2024",
            "2024Q2",
            "2024-06",
            "1900-02-29",
            "9999-12-31",
        ]
        .map(str::to_owned)
        .to_vec(),
        Target::IdNumbers => vec![
            id("65402219800101123"),
            id("65402219750229002"),
            id("11010519491231002"),
            id("65402220000229123").to_lowercase(),
            format!(" {} ", id("65402219991231999")),
            "654022198001011230".to_owned(),
            "65402219800101".to_owned(),
            "６５４０２２１９８００１０１１２３Ｘ".to_owned(),
        ],
        Target::Phone => [
            "13800138000",
            "+86 138 0013 8000",
            "0999-1234567",
            "12345",
            "１３８００１３８０００",
        ]
        .map(str::to_owned)
        .to_vec(),
        Target::Cells => [
            "1,234.5",
            "１，２３４",
            "-0.5",
            "+3",
            "是",
            "否",
            "男",
            "女性",
            "家犬",
            "阳性",
            "吡喹酮",
            "剂量(mg)",
            "经度【WGS84】",
            "=HYPERLINK(\"http://x\",\"y\")",
            "'@SUM(A1)",
            "＝1+1",
        ]
        .map(str::to_owned)
        .to_vec(),
        Target::Barcode => [
            "(01)09506000134352(17)201231(10)ABC123",
            "]d201095060001343521720123110ABC123",
            "]C1010950600013435210ABC123\u{1d}1720123121SN0001",
            "]Q3010950600013435221S1|10L2|17201200",
            "[)>\u{1e}05\u{1d}0109506000134352\u{1d}10ABC\u{1e}\u{4}",
            "(00)106141412345678908",
            "(01)09506000134352(3103)000189(7003)2612312359",
            "4006381333931\r\n",
            "96385074",
            "81902340012345678901",
            "https://www.ivdc.org.cn/trace?code=123456789012345678901234",
            "010950600013435217991332",
            "０１０９５０６０００１３４３５２",
        ]
        .map(str::to_owned)
        .to_vec(),
    };
    texts.into_iter().map(String::into_bytes).collect()
}

/// The tokens the mutator inserts for a target.
pub fn dictionary(target: Target) -> Vec<Vec<u8>> {
    let words: &[&str] = match target {
        Target::Csv => &[
            ",",
            ";",
            "\t",
            "\"",
            "\"\"",
            "\r\n",
            "\n",
            "\r",
            "\u{feff}",
            "'=",
            "=1+1",
            "村名",
            "犬牌号",
            "驱虫日期",
            "村代码",
            "经度",
            "纬度",
            "PK\u{3}\u{4}",
            "\u{0}",
            "\u{7f}",
        ],
        Target::Xlsx => &[
            "<c r=\"A1\" t=\"s\"><v>0</v></c>",
            "<c r=\"XFD1048576\" t=\"n\"><v>1e308</v></c>",
            "<c r=\"B2\" t=\"inlineStr\"><is><t>x</t></is></c>",
            "<c r=\"C3\" t=\"e\"><v>#N/A</v></c>",
            "<c r=\"D4\" s=\"1\"><v>45356</v></c>",
            "<c r=\"E5\" t=\"b\"><v>1</v></c>",
            "<row r=\"4294967295\">",
            "</row>",
            "<si><t>",
            "</t></si>",
            "<sheet name=\"x\" sheetId=\"1\" r:id=\"rId1\"/>",
            "<dimension ref=\"A1:XFD1048576\"/>",
            "<mergeCell ref=\"A1:B2\"/>",
            "&amp;",
            "&#0;",
            "&#x10FFFF;",
            "<![CDATA[",
            "]]>",
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
            "Target=\"/xl/worksheets/sheet1.xml\"",
            "numFmtId=\"14\"",
        ],
        Target::Geojson => &[
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"type\"",
            "\"Feature\"",
            "\"FeatureCollection\"",
            "\"features\"",
            "\"geometry\"",
            "\"properties\"",
            "\"Point\"",
            "\"Polygon\"",
            "\"MultiPolygon\"",
            "\"GeometryCollection\"",
            "\"coordinates\"",
            "null",
            "true",
            "1e999",
            "-0",
            "\"\\u0000\"",
            "\"\\ud800\"",
            "[[[[[[[[[[[[[[[[",
        ],
        Target::Dates => &[
            "年", "月", "日", "号", "-", "/", ".", " ", "\u{3000}", "２", "０", "Q", "q", "1900",
            "9999", "0000", "12", "13", "31", "32", "29", "2958465",
        ],
        Target::IdNumbers => &[
            "X", "x", "Ｘ", "０", "９", " ", "654022", "19000229", "99991231",
        ],
        Target::Phone => &["+", "-", " ", "86", "１", "\u{3000}"],
        Target::Cells => &[
            ",", ".", "-", "+", "e", "E", "１", "，", "．", "是", "否", "(", ")", "（", "【", "'",
            "=", "@",
        ],
        Target::Barcode => &[
            "]d2", "]C1", "]Q3", "]e0", "]E0", "\u{1d}", "|", "^", "(", ")", "01", "10", "17",
            "21", "00", "3103", "7003", "8", "000000", "991332", "\r\n", "\t", "０", "[)>",
        ],
    };
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_seeds_and_a_dictionary() {
        for t in Target::ALL {
            assert!(!seeds(t).is_empty(), "{}", t.name());
            assert!(!dictionary(t).is_empty(), "{}", t.name());
        }
        assert_eq!(
            xlsx().len(),
            Kind::ALL.len() + 1,
            "every template and one sheet"
        );
    }
}
