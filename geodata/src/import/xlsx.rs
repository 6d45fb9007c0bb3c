//! XLSX: the ZIP directory is inspected before calamine parses anything, so that a zip bomb is
//! refused from its declared sizes, at no cost in time or memory.

use std::io::Cursor;

use calamine::{Data, DataRef, Reader, Xlsx};

use super::{Budget, Format, ImportError, Limits, Row, Table, values};

/// Entries smaller than this are not held to the compression-ratio limit: tiny XML parts
/// (styles, relationships) can compress far better than any sheet without being a threat.
const RATIO_EXEMPT_BYTES: u64 = 1024 * 1024;

pub(super) fn read(
    bytes: &[u8],
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Table, ImportError> {
    check_container(bytes, limits)?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| not_xlsx(e.to_string()))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted)
            .or_else(|| names.iter().find(|n| n.trim() == wanted.trim()))
            .cloned()
            .ok_or_else(|| ImportError::UnknownSheet {
                requested: wanted.to_owned(),
                available: names.clone(),
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| not_xlsx("the workbook has no sheet".into()))?,
    };
    let cells = sparse_cells(&mut workbook, &name)?;
    let (Some(col_start), Some(col_end)) = (
        cells.iter().map(|c| c.1).min(),
        cells.iter().map(|c| c.1).max(),
    ) else {
        return Err(ImportError::Empty);
    };
    // Rows are as wide as the columns the sheet uses, and only non-empty rows are laid out:
    // calamine's dense `worksheet_range` (used until 2026-12-07) made a 5 KB file with cells in
    // A1 and XFD1048576 ask for 550 GB and abort the process (found by bench/fuzz). A cell
    // reference past Excel's last column would make even one row too wide: refused.
    let width = u64::from(col_end - col_start) + 1;
    if width > MAX_COLUMNS {
        return Err(ImportError::TooLarge {
            what: "the number of columns",
            actual: width,
            limit: MAX_COLUMNS,
        });
    }
    let width = usize::try_from(width).unwrap_or(usize::MAX);

    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut budget = Budget::new(limits);
    let mut cells = cells.into_iter().peekable();
    while let Some(&(row, ..)) = cells.peek() {
        let mut in_row = Vec::new();
        while let Some((_, col, text)) = cells.next_if(|c| c.0 == row) {
            in_row.push((col, text));
        }
        if in_row.iter().all(|(_, t)| t.trim().is_empty()) {
            continue;
        }
        if headers.is_some() {
            // Counted before the row is made, so that the budget bounds memory.
            budget.take_row(width)?;
        }
        let mut line = vec![String::new(); width];
        for (col, text) in in_row {
            line[usize::try_from(col - col_start).unwrap_or(0)] = text;
        }
        match headers {
            None => headers = Some(line.iter().map(|c| c.trim().to_owned()).collect()),
            Some(_) => rows.push(Row {
                number: usize::try_from(row).unwrap_or(usize::MAX).saturating_add(1),
                cells: line,
            }),
        }
    }
    let headers = headers.ok_or(ImportError::Empty)?;
    Ok(Table { headers, rows })
}

/// Excel's last column is XFD, the 16,384th.
const MAX_COLUMNS: u64 = 16_384;

/// The non-empty cells of sheet `name` as (row, column, text), sorted by row and column (a later
/// cell at the same position wins, as in calamine's ranges). Sparse: memory follows the cells
/// the file holds, never the area they span. A chart sheet has none.
fn sparse_cells(
    workbook: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
) -> Result<Vec<(u32, u32, String)>, ImportError> {
    let cannot = |e: calamine::XlsxError| not_xlsx(format!("sheet {name:?} cannot be read: {e}"));
    let mut reader = match workbook.worksheet_cells_reader(name) {
        Ok(reader) => reader,
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(Vec::new()),
        Err(e) => return Err(cannot(e)),
    };
    let mut cells = Vec::new();
    while let Some(cell) = reader.next_cell().map_err(cannot)? {
        if matches!(cell.get_value(), DataRef::Empty) {
            continue;
        }
        let (row, col) = cell.get_position();
        let text = cell_text(&Data::from(cell.get_value().clone()));
        cells.push((row, col, text));
    }
    cells.sort_by_key(|c| (c.0, c.1));
    Ok(cells)
}

fn not_xlsx(reason: String) -> ImportError {
    ImportError::NotFormat {
        expected: Format::Xlsx,
        reason,
    }
}

/// Refuses what is not a ZIP, a ZIP that is not a workbook, and entries whose declared or real
/// uncompressed size exceeds the limits.
fn check_container(bytes: &[u8], limits: &Limits) -> Result<(), ImportError> {
    if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(not_xlsx(
            "it is an old Excel .xls workbook; save it as XLSX".into(),
        ));
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(not_xlsx(
            "it does not start with the ZIP signature of an XLSX workbook (a CSV? import it with format=csv)"
                .into(),
        ));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| not_xlsx(format!("its ZIP container is damaged: {e}")))?;
    let mut declared: u64 = 0;
    let mut has_workbook = false;
    let mut shared_strings = Vec::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| not_xlsx(format!("ZIP entry {i} is damaged: {e}")))?;
        if entry.name().is_ok_and(|n| n == "xl/workbook.xml") {
            has_workbook = true;
        }
        // calamine finds parts by name whatever their case and slashes.
        if entry.name().is_ok_and(|n| {
            n.replace('\\', "/")
                .to_ascii_lowercase()
                .ends_with("sharedstrings.xml")
        }) {
            shared_strings.push(i);
        }
        let size = entry.size();
        declared = declared.saturating_add(size);
        if declared > limits.max_xlsx_uncompressed_bytes {
            return Err(ImportError::TooLarge {
                what: "the declared uncompressed size of the XLSX in bytes",
                actual: declared,
                limit: limits.max_xlsx_uncompressed_bytes,
            });
        }
        let ratio = size / entry.compressed_size().max(1);
        if size > RATIO_EXEMPT_BYTES && ratio > limits.max_xlsx_ratio {
            return Err(ImportError::TooLarge {
                what: "the compression ratio of an XLSX entry",
                actual: ratio,
                limit: limits.max_xlsx_ratio,
            });
        }
    }
    if !has_workbook {
        return Err(not_xlsx(
            "it is a ZIP archive without xl/workbook.xml, not an Excel workbook".into(),
        ));
    }
    for i in shared_strings {
        check_shared_strings(&mut archive, i)?;
    }
    // Declared sizes can lie, but the zip crate (which calamine reads through) refuses to inflate
    // an entry past its declared size, so the sums checked above bound what parsing inflates; a
    // test pins that behaviour.
    Ok(())
}

/// The fewest bytes a shared string takes in its part: `<si/>`.
const SHARED_STRING_MIN_BYTES: u64 = 5;

/// Refuses a shared-strings part whose `<sst uniqueCount="N">` says more strings than the part
/// can hold. calamine reserves room for N strings before it reads one: a 5 KB workbook that
/// declared 10^17 asked for exabytes and aborted the process (found by bench/fuzz). The `sst`
/// element is found as calamine finds it (quick-xml's events, the first element of that local
/// name); every `uniqueCount` in its tag is read, leading zeros and all, and a number too long
/// to read counts as too large.
fn check_shared_strings(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    index: usize,
) -> Result<(), ImportError> {
    use quick_xml::events::Event;

    let entry = archive
        .by_index(index)
        .map_err(|e| not_xlsx(format!("ZIP entry {index} is damaged: {e}")))?;
    let name = entry
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.into_owned());
    let holds = entry.size() / SHARED_STRING_MIN_BYTES;
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(entry));
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "sst" => {
                let tag: &str = &e;
                let declared = unique_counts(tag.as_bytes()).max().unwrap_or(0);
                if declared > holds {
                    return Err(not_xlsx(format!(
                        "{name} declares {} shared strings; it can hold at most {holds}",
                        if declared == u64::MAX {
                            "more than 2^64".to_owned()
                        } else {
                            declared.to_string()
                        }
                    )));
                }
                return Ok(());
            }
            // Whatever calamine makes of a malformed part, it reserves nothing for it.
            Ok(Event::Eof) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

/// The values of every `uniqueCount` in the bytes of a start tag (`u64::MAX` for one too long).
fn unique_counts(tag: &[u8]) -> impl Iterator<Item = u64> + '_ {
    const KEY: &[u8] = b"uniqueCount";
    tag.windows(KEY.len())
        .enumerate()
        .filter(|(_, w)| *w == KEY)
        .map(move |(at, _)| {
            let rest = &tag[at + KEY.len()..];
            let value = rest
                .iter()
                .position(|b| *b == b'"' || *b == b'\'')
                .map_or(&[][..], |q| &rest[q + 1..]);
            let digits: Vec<u8> = value
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .skip_while(|b| *b == b'0')
                .collect();
            std::str::from_utf8(&digits)
                .ok()
                .filter(|d| !d.is_empty())
                .map_or(0, |d| d.parse().unwrap_or(u64::MAX))
        })
}

/// A cell as text: strings as they are, integral numbers without `.0`, dates as their serial
/// number in the 1900 date system (the one [`values::parse_date`] reads).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => b.to_string(),
        Data::Error(e) => e.to_string(),
        Data::DateTime(dt) => {
            let value = dt.as_f64();
            if dt.is_duration() {
                return number_text(value);
            }
            // 1904-system workbooks count from another epoch: go through the calendar date.
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            let serial = chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
                .and_then(values::excel_serial)
                .map_or(value, |days| f64::from(days) + value.fract());
            number_text(serial)
        }
    }
}

fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};
    use zip::write::SimpleFileOptions;

    use crate::import::{Format, ImportError, Limits, read_table, values::parse_date};

    fn xlsx(bytes: &[u8], sheet: Option<&str>) -> Result<crate::import::Table, ImportError> {
        read_table(bytes, Format::Xlsx, sheet, &Limits::default())
    }

    fn register_workbook() -> Vec<u8> {
        let mut wb = Workbook::new();
        let date = CellFormat::new().set_num_format("yyyy-mm-dd");
        let ws = wb.add_worksheet();
        ws.set_name("驱虫登记").unwrap();
        for (col, h) in ["村名", "犬牌号", "驱虫日期", "剂量(mg)", "备注"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, col as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "安定村").unwrap();
        ws.write_string(1, 1, "QB-0001").unwrap();
        let day = ExcelDateTime::from_ymd(2024, 3, 5).unwrap();
        ws.write_datetime_with_format(1, 2, &day, &date).unwrap();
        ws.write_number(1, 3, 50.0).unwrap();
        ws.write_number(1, 4, 2.5).unwrap();
        ws.write_string(3, 0, "海努克村").unwrap();
        ws.write_string(3, 2, "2024年3月6日").unwrap();
        // A formatted but empty trailing row.
        ws.write_blank(6, 0, &date).unwrap();
        let other = wb.add_worksheet();
        other.set_name("说明").unwrap();
        other.write_string(0, 0, "字段").unwrap();
        wb.save_to_buffer().unwrap()
    }

    /// `bytes` (an XLSX) with `edit` applied to the XML of its part `part`, zipped again.
    fn with_part(bytes: &[u8], part: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
        use std::io::Read;
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().unwrap().into_owned();
            let mut data = String::new();
            entry.read_to_string(&mut data).unwrap();
            if name == part {
                data = edit(&data);
            }
            zip.start_file(name, SimpleFileOptions::default()).unwrap();
            zip.write_all(data.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    // Found by bench/fuzz: calamine's dense range of a sheet with two far-apart cells asked for
    // 550 GB (1.3 TB for the input the fuzzer made) and aborted the process: an allocation
    // failure is not a panic.
    #[test]
    fn two_cells_at_opposite_corners_of_a_sheet_read_as_one_row_without_a_dense_sheet() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "村名").unwrap();
        ws.write_string(1_048_575, 16_383, "x").unwrap();
        let t = xlsx(&wb.save_to_buffer().unwrap(), None).unwrap();
        assert_eq!(t.headers.len(), 16_384);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].number, 1_048_576);
        assert_eq!(t.rows[0].cells[16_383], "x");
    }

    // Found by bench/fuzz: calamine reserved room for the declared number of shared strings and
    // aborted the process asking for 4.7 EB.
    #[test]
    fn more_shared_strings_declared_than_the_part_holds_is_not_xlsx_not_an_abort() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "村名").unwrap();
        ws.write_string(1, 0, "安定村").unwrap();
        let good = wb.save_to_buffer().unwrap();
        for (count, says) in [
            (
                "196666666666666666",
                "declares 196666666666666666 shared strings",
            ),
            ("0000000000000000000000000000001", "declares 1 shared"),
            (
                "99999999999999999999999",
                "declares more than 2^64 shared strings",
            ),
        ] {
            let bytes = with_part(&good, "xl/sharedStrings.xml", |xml| {
                xml.replacen("uniqueCount=\"2\"", &format!("uniqueCount=\"{count}\""), 1)
            });
            match xlsx(&bytes, None) {
                Err(e) if count.starts_with('0') => panic!("{count}: {e}"),
                Err(e) => assert!(e.to_string().contains(says), "{count}: {e}"),
                Ok(t) => assert!(count.starts_with('0'), "{count}: read {t:?}"),
            }
        }
    }

    #[test]
    fn a_cell_past_excels_last_column_is_too_large_not_an_abort() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "村名").unwrap();
        ws.write_string(1, 0, "安定村").unwrap();
        let bytes = with_part(
            &wb.save_to_buffer().unwrap(),
            "xl/worksheets/sheet1.xml",
            |xml| {
                xml.replace(
                    "</row></sheetData>",
                    "<c r=\"ZZZZZZ2\" t=\"inlineStr\"><is><t>x</t></is></c></row></sheetData>",
                )
            },
        );
        let err = xlsx(&bytes, None).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::TooLarge {
                    what: "the number of columns",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_xlsx_with_chinese_headers_reads_its_first_sheet_with_dates_as_serials() {
        let t = xlsx(&register_workbook(), None).unwrap();
        assert_eq!(
            t.headers,
            ["村名", "犬牌号", "驱虫日期", "剂量(mg)", "备注"]
        );
        assert_eq!(t.rows.len(), 2, "{t:?}");
        assert_eq!(t.rows[0].number, 2);
        assert_eq!(t.rows[0].cells, ["安定村", "QB-0001", "45356", "50", "2.5"]);
        assert_eq!(
            parse_date(&t.rows[0].cells[2]).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2024, 3, 5).unwrap()
        );
        assert_eq!(t.rows[1].number, 4);
        assert_eq!(t.rows[1].cells, ["海努克村", "", "2024年3月6日", "", ""]);
    }

    #[test]
    fn a_named_sheet_is_read_and_an_unknown_one_lists_the_sheets() {
        let book = register_workbook();
        let t = xlsx(&book, Some("说明")).unwrap();
        assert_eq!(t.headers, ["字段"]);
        let err = xlsx(&book, Some("Sheet1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the workbook has no sheet \"Sheet1\"; its sheets are: 驱虫登记, 说明"
        );
    }

    #[test]
    fn csv_text_uploaded_as_xlsx_is_not_xlsx() {
        let err = xlsx("村名,经度\n安定村,81\n".as_bytes(), None).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::NotFormat {
                    expected: Format::Xlsx,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn binary_garbage_is_not_xlsx() {
        let garbage: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        assert!(matches!(
            xlsx(&garbage, None).unwrap_err(),
            ImportError::NotFormat { .. }
        ));
        let mut truncated = register_workbook();
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            xlsx(&truncated, None).unwrap_err(),
            ImportError::NotFormat { .. }
        ));
    }

    #[test]
    fn a_zip_that_is_not_a_workbook_is_not_xlsx() {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("word/document.xml", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"<w:document/>").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let err = xlsx(&bytes, None).unwrap_err();
        assert!(err.to_string().contains("xl/workbook.xml"), "{err}");
    }

    /// A ZIP whose one entry inflates to 1 GiB of zeros, written by streaming 1 MiB at a time.
    fn zip_bomb() -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("xl/workbook.xml", options).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_bomb_is_too_large_before_anything_is_inflated() {
        let bomb = zip_bomb();
        assert!(bomb.len() < 4 << 20, "the bomb is {} bytes", bomb.len());
        let err = xlsx(&bomb, None).unwrap_err();
        assert!(
            matches!(err, ImportError::TooLarge { what, .. } if what.contains("ratio")),
            "{err}"
        );
        let limits = Limits {
            max_xlsx_uncompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        let err = read_table(&bomb, Format::Xlsx, None, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::TooLarge {
                    actual: 1_073_741_824,
                    ..
                }
            ),
            "{err}"
        );
    }

    /// Overwrites the declared uncompressed size of every entry larger than 1 MiB, in its local
    /// header and in the central directory, with `size`.
    fn understate_large_entries(zip: &mut [u8], size: u32) {
        let mut i = 0;
        while i + 4 <= zip.len() {
            let field = match &zip[i..i + 4] {
                b"PK\x03\x04" => Some(i + 22),
                b"PK\x01\x02" => Some(i + 24),
                _ => None,
            };
            if let Some(at) = field {
                let declared = u32::from_le_bytes(zip[at..at + 4].try_into().unwrap());
                if declared > 1 << 20 {
                    zip[at..at + 4].copy_from_slice(&size.to_le_bytes());
                }
            }
            i += 1;
        }
    }

    /// The register workbook with 8 MiB of whitespace inside its first sheet's XML.
    fn padded_workbook() -> Vec<u8> {
        let mut book = zip::ZipArchive::new(Cursor::new(register_workbook())).unwrap();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for i in 0..book.len() {
            let mut entry = book.by_index(i).unwrap();
            let name = entry.name().unwrap().to_string();
            let mut content = String::new();
            std::io::Read::read_to_string(&mut entry, &mut content).unwrap();
            if name == "xl/worksheets/sheet1.xml" {
                let padding = " ".repeat(8 << 20);
                content = content.replacen("<sheetData>", &format!("<sheetData>{padding}"), 1);
            }
            out.start_file(name, options).unwrap();
            out.write_all(content.as_bytes()).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn an_entry_that_inflates_past_its_declared_size_is_refused_not_inflated() {
        // Whitespace compresses about 1000×: let the ratio through to reach the inflation.
        let limits = Limits {
            max_xlsx_ratio: u64::MAX,
            ..Limits::default()
        };
        let padded = padded_workbook();
        let honest = read_table(&padded, Format::Xlsx, None, &limits).unwrap();
        assert_eq!(honest.rows.len(), 2, "the padding is valid XML");
        let mut lying = padded;
        understate_large_entries(&mut lying, 1000);
        let err = read_table(&lying, Format::Xlsx, None, &limits).unwrap_err();
        assert!(
            matches!(&err, ImportError::NotFormat { reason, .. } if reason.contains("declared")),
            "{err}"
        );
    }

    #[test]
    fn a_workbook_over_the_uncompressed_limit_is_refused() {
        let limits = Limits {
            max_xlsx_uncompressed_bytes: 1000,
            ..Limits::default()
        };
        let err = read_table(&register_workbook(), Format::Xlsx, None, &limits).unwrap_err();
        assert!(
            matches!(err, ImportError::TooLarge { limit: 1000, .. }),
            "{err}"
        );
    }
}
