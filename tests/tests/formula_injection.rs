//! Spreadsheet formula injection (issue 17, item 14): texts people type that a spreadsheet would
//! evaluate (`=HYPERLINK(..)`, `+1+1`, `@SUM(A1)`, `-2+3`) come out of every CSV export, report
//! form and import error workbook neutralised as OWASP says: a CSV cell gets a `'` in front, an
//! XLSX cell keeps its exact text and gets the quote-prefix format. Numbers stay numbers, and a
//! CSV that went out neutralised comes back in without the quote.
//!
//! The texts are planted through the API and the imports, as an epidemiologist (and, for
//! villages, the administrator) would: a
//! household (its head's name and address reach only the error workbook of an import: no export
//! carries them), slaughter points (names and codes: the `slaughter_points` export), a dog (tag
//! and collar: the `dogs` export) and a village's name (the villages import: the `villages`,
//! `case_counts`, `dog_counts` and `dogs` exports and the rows of the report forms).

use std::collections::BTreeMap;
use std::io::{Cursor, Read as _};

use calamine::{Data, Reader as _, Xlsx};
use echinomap_domain::spreadsheet::{QUOTE, is_formula_like};
use echinomap_programme::auth::Role;
use echinomap_programme::exports::{Col, LAYERS};
use echinomap_tests::read::{cell_number, cell_text, sheet};
use echinomap_tests::{ApiClient, Result, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const VILLAGE: &str = "654022100200";
const TOWNSHIP: &str = "654022100";
/// Another village of the same township, renamed with the text of an exported CSV cell.
const OTHER_VILLAGE: &str = "654022100201";

const HYPERLINK: &str = "=HYPERLINK(\"http://x\",\"y\")";
const PLANTED: [&str; 4] = [HYPERLINK, "+1+1", "@SUM(A1)", "-2+3"];

async fn send(c: &ApiClient, method: Method, path: &str, body: &Value) -> Result<(u16, Value)> {
    let r = c.request(method, path).json(body).send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

async fn import(c: &ApiClient, query: &str, csv: String) -> Result<(u16, Value)> {
    let r = c
        .request(Method::POST, &format!("/api/imports?{query}"))
        .body(csv)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await?))
}

async fn bytes(c: &ApiClient, path: &str) -> Result<Vec<u8>> {
    let r = c.get(path).await?;
    let status = r.status().as_u16();
    let body = r.bytes().await?.to_vec();
    anyhow::ensure!(
        status == 200,
        "GET {path}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    Ok(body)
}

/// A CSV as written (CSV quoting applies; the formula rule is the caller's).
fn csv_of(rows: &[Vec<&str>]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The records of a CSV export (after its BOM), header first.
fn csv_records(body: &[u8]) -> Result<Vec<Vec<String>>> {
    let text = std::str::from_utf8(body)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in r.records() {
        out.push(rec?.iter().map(str::to_owned).collect());
    }
    Ok(out)
}

/// One text cell of a workbook's first sheet, as the file stores it.
struct TextCell {
    at: String,
    text: String,
    quote_prefix: bool,
}

/// The text of an XML element's content, unescaped.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// An attribute of an XML start tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[at..].split('"').next()
}

/// The concatenated `<t>` texts inside `xml`.
fn t_texts(xml: &str) -> String {
    xml.split("<t")
        .skip(1)
        .filter_map(|p| {
            let p = p
                .strip_prefix('>')
                .or_else(|| p.split_once('>').map(|x| x.1))?;
            p.split("</t>").next()
        })
        .map(unescape)
        .collect()
}

fn entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<String> {
    let mut s = String::new();
    zip.by_name(name)?.read_to_string(&mut s)?;
    Ok(s)
}

/// Every text cell of the first worksheet of `xlsx`, with whether its style has the quote prefix
/// (`quotePrefix="1"` on its `cellXfs` entry): read from the file's XML, since calamine reads
/// values, not styles.
fn text_cells(xlsx: &[u8]) -> Result<Vec<TextCell>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(xlsx))?;
    let styles = entry(&mut zip, "xl/styles.xml")?;
    let xfs = styles
        .split("<cellXfs")
        .nth(1)
        .and_then(|s| s.split("</cellXfs>").next())
        .ok_or_else(|| anyhow::anyhow!("no cellXfs"))?;
    let quoted: Vec<bool> = xfs
        .split("<xf ")
        .skip(1)
        .map(|xf| {
            xf.split('>')
                .next()
                .unwrap_or("")
                .contains("quotePrefix=\"1\"")
        })
        .collect();
    let shared: Vec<String> = match entry(&mut zip, "xl/sharedStrings.xml") {
        Ok(xml) => xml
            .split("<si>")
            .skip(1)
            .map(|si| t_texts(si.split("</si>").next().unwrap_or("")))
            .collect(),
        Err(_) => Vec::new(),
    };
    let sheet = entry(&mut zip, "xl/worksheets/sheet1.xml")?;
    let mut out = Vec::new();
    for c in sheet.split("<c ").skip(1) {
        let (tag, rest) = c.split_once('>').unwrap_or((c, ""));
        let tag = format!(" {tag}");
        let value = rest
            .split("<v>")
            .nth(1)
            .and_then(|v| v.split("</v>").next());
        let text = match attr(&tag, "t") {
            Some("s") => {
                let i: usize = value.unwrap_or("").parse()?;
                shared.get(i).cloned().unwrap_or_default()
            }
            Some("inlineStr") => t_texts(rest.split("</c>").next().unwrap_or("")),
            Some("str") => unescape(value.unwrap_or("")),
            _ => continue,
        };
        let style: usize = attr(&tag, "s").map_or(Ok(0), str::parse)?;
        out.push(TextCell {
            at: attr(&tag, "r").unwrap_or("?").to_owned(),
            text,
            quote_prefix: quoted.get(style).copied().unwrap_or(false),
        });
    }
    Ok(out)
}

/// Asserts that every formula-like text cell of `xlsx` has the quote prefix, and returns the
/// texts of the cells.
fn assert_neutralised_xlsx(what: &str, xlsx: &[u8]) -> Result<Vec<String>> {
    let cells = text_cells(xlsx)?;
    assert!(!cells.is_empty(), "{what}: no text cells");
    let open: Vec<&TextCell> = cells
        .iter()
        .filter(|c| is_formula_like(&c.text) && !c.quote_prefix)
        .collect();
    assert!(
        open.is_empty(),
        "{what}: formula-like cells without the quote prefix: {:?}",
        open.iter().map(|c| (&c.at, &c.text)).collect::<Vec<_>>()
    );
    Ok(cells.into_iter().map(|c| c.text).collect())
}

/// Asserts that no text cell of a CSV export of `layer` is formula-like (numbers may be
/// negative: a cell that is a number is one), and returns its records.
fn assert_neutralised_csv(layer: &str, body: &[u8]) -> Result<Vec<Vec<String>>> {
    let records = csv_records(body)?;
    let Some(l) = LAYERS.iter().find(|l| l.name == layer) else {
        anyhow::bail!("no layer {layer}");
    };
    for (i, rec) in records.iter().enumerate() {
        for (j, cell) in rec.iter().enumerate() {
            let text_column = i == 0
                || l.columns
                    .get(j)
                    .is_some_and(|c| matches!(c.kind, Col::Text | Col::List));
            let is_number = !text_column && cell.parse::<f64>().is_ok();
            assert!(
                is_number || !is_formula_like(cell),
                "{layer}.csv row {i} column {j}: {cell:?} is formula-like"
            );
        }
    }
    Ok(records)
}

#[tokio::test]
async fn formula_like_texts_leave_every_csv_and_xlsx_neutralised_and_come_back_in_unchanged()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let village = epi
        .get_json(&format!("/api/villages/{VILLAGE}"), 200)
        .await?;
    let (lon, lat) = (
        village["lon"].as_f64().expect("lon"),
        village["lat"].as_f64().expect("lat"),
    );

    // Planted through the API: a household, four slaughter points, a dog.
    let (s, household) = send(&epi, Method::POST, "/api/households", &json!({"household_no": "FI-H1", "head_name": HYPERLINK, "address": "+1+1", "village_code": VILLAGE})).await?;
    assert_eq!(s, 201, "{household}");
    assert_eq!(
        (
            household["head_name"].as_str(),
            household["address"].as_str()
        ),
        (Some(HYPERLINK), Some("+1+1")),
        "the data is stored as typed: only spreadsheets are neutralised"
    );
    for (i, name) in PLANTED.iter().enumerate() {
        let code = format!("{}P{i}", &name[..1]);
        let (s, p) = send(&epi, Method::POST, "/api/slaughter_points", &json!({"point_code": code, "point_name": name, "point_kind": "定点", "disposal_facility": "焚烧炉", "lon": lon, "lat": lat})).await?;
        assert_eq!(s, 201, "{p}");
    }
    let (s, dog) = send(&epi, Method::POST, "/api/dogs", &json!({"dog_tag": "-2+3", "collar_id": "@SUM(A1)", "dog_kind": "牧犬", "registered_on": "2025-01-05", "village_code": VILLAGE, "household_no": "FI-H1"})).await?;
    assert_eq!(s, 201, "{dog}");
    // ... and a village's name through the villages import (the administrator's).
    let admin = app.user(Role::Admin, "654022").await?;
    let (s, report) = import(
        &admin,
        "kind=villages&format=csv",
        csv_of(&[vec!["village_code", "village"], vec![VILLAGE, HYPERLINK]])?,
    )
    .await?;
    assert_eq!(s, 200, "{report}");
    // Stored hot spots give the exports negative numbers (Gi* z below 0).
    epi.get_json(
        "/api/hotspots?layer=human_cases&unit=h3&resolution=7&from=2025-01-01&to=2025-12-31",
        200,
    )
    .await?;

    // Every CSV export, in both languages.
    let mut cells: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut negative_numbers = 0;
    for layer in LAYERS {
        for lang in ["zh", "en"] {
            let path = format!("/api/export/{}.csv?period=2025&lang={lang}", layer.name);
            let records = assert_neutralised_csv(layer.name, &bytes(&epi, &path).await?)?;
            for rec in records.iter().skip(1) {
                for (j, cell) in rec.iter().enumerate() {
                    let numeric = layer
                        .columns
                        .get(j)
                        .is_some_and(|c| !matches!(c.kind, Col::Text | Col::List));
                    if numeric && cell.starts_with('-') && cell.parse::<f64>().is_ok() {
                        negative_numbers += 1;
                    }
                }
            }
            cells
                .entry(layer.name)
                .or_default()
                .extend(records.into_iter().flatten());
        }
    }
    assert!(
        negative_numbers > 0,
        "some export has a negative number, left a number"
    );
    let quoted = |t: &str| format!("{QUOTE}{t}");
    for name in PLANTED {
        assert!(
            cells["slaughter_points"].contains(&quoted(name)),
            "slaughter_points.csv carries {name:?} with the quote"
        );
    }
    for layer in ["villages", "case_counts", "dog_counts", "dogs"] {
        assert!(
            cells[layer].contains(&quoted(HYPERLINK)),
            "{layer}.csv carries the village name with the quote"
        );
    }
    assert!(cells["dogs"].contains(&quoted("-2+3")) && cells["dogs"].contains(&quoted("@SUM(A1)")));

    // The cell as exported, imported again: the name comes back without the quote.
    let exported = quoted(HYPERLINK);
    let (s, report) = import(
        &admin,
        "kind=villages&format=csv",
        csv_of(&[
            vec!["village_code", "village"],
            vec![OTHER_VILLAGE, &exported],
        ])?,
    )
    .await?;
    assert_eq!(s, 200, "{report}");
    let other = epi
        .get_json(&format!("/api/villages/{OTHER_VILLAGE}"), 200)
        .await?;
    assert_eq!(other["name"].as_str(), Some(HYPERLINK), "{other}");

    // The report forms of the township: one row per village, the renamed ones among them.
    let forms = epi.get_json("/api/reports", 200).await?;
    let examples: Vec<String> = forms["forms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["example"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(examples.len(), 3, "{forms}");
    for example in &examples {
        let path = format!("{example}&unit={TOWNSHIP}");
        let xlsx = bytes(&epi, &path).await?;
        let texts = assert_neutralised_xlsx(&path, &xlsx)?;
        assert!(
            texts.iter().any(|t| t == HYPERLINK),
            "{path}: the village's name, exact"
        );
        let rows = sheet(&xlsx)?;
        assert!(
            rows.iter().flatten().any(|c| cell_text(c) == HYPERLINK),
            "{path}: calamine reads the name as it is"
        );
        assert!(
            rows.iter().flatten().any(|c| cell_number(c).is_some()),
            "{path}: numbers stay numbers"
        );
    }

    // An import refused for a bad row that holds formulas: its error workbook.
    let (s, refused) = import(
        &epi,
        "kind=households&format=csv",
        csv_of(&[
            vec![
                "household_no",
                "head_name",
                "address",
                "village_code",
                "@note",
            ],
            vec!["FI-H2", "=1+1", "-3", "999999999999", "+cmd"],
        ])?,
    )
    .await?;
    assert_eq!(s, 422, "{refused}");
    let id = refused["error"]["details"]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no import id: {refused}"))?;
    let xlsx = bytes(&epi, &format!("/api/imports/{id}/errors.xlsx")).await?;
    let texts = assert_neutralised_xlsx("errors.xlsx", &xlsx)?;
    for t in ["=1+1", "-3", "@note", "+cmd"] {
        assert!(
            texts.iter().any(|x| x == t),
            "errors.xlsx keeps {t:?} exact: {texts:?}"
        );
    }
    let mut wb = Xlsx::new(Cursor::new(xlsx))?;
    let range = wb.worksheet_range("errors")?;
    assert!(
        range
            .rows()
            .flatten()
            .any(|c| matches!(c, Data::String(s) if s == "=1+1")),
        "calamine reads the cell as text, not as a formula"
    );
    Ok(())
}
