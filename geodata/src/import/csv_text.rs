//! CSV: encoding detection, delimiter choice, quote balance and column counts.

use std::borrow::Cow;

use echinomap_domain::spreadsheet;

use super::{Budget, Format, ImportError, Limits, Row, Table, is_blank};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub(super) fn read(bytes: &[u8], limits: &Limits) -> Result<Table, ImportError> {
    refuse_binary(bytes)?;
    let text = decode(bytes)?;
    let delimiter = delimiter(&text);
    check_quotes(&text, delimiter)?;

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut budget = Budget::new(limits);
    let mut record = csv::StringRecord::new();
    loop {
        let line = usize::try_from(reader.position().line()).unwrap_or(usize::MAX);
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(ImportError::Malformed {
                    row: line,
                    reason: e.to_string(),
                });
            }
        }
        let number = record
            .position()
            .map_or(line, |p| record_line(text.as_bytes(), p));
        // A cell that an export neutralised against formula injection (`'=1+1`) reads as it was
        // stored (`=1+1`): the round trip adds nothing (docs/IMPORT.md).
        let cells: Vec<String> = record
            .iter()
            .map(|c| spreadsheet::strip_quote_prefix(c).to_owned())
            .collect();
        if is_blank(&cells) {
            continue;
        }
        match &headers {
            None => headers = Some(cells.iter().map(|c| c.trim().to_owned()).collect()),
            Some(h) => {
                if cells.len() != h.len() {
                    return Err(ImportError::ColumnCount {
                        row: number,
                        found: cells.len(),
                        expected: h.len(),
                    });
                }
                budget.take_row(cells.len())?;
                rows.push(Row { number, cells });
            }
        }
    }
    let headers = headers.ok_or(ImportError::Empty)?;
    Ok(Table { headers, rows })
}

/// The line a record starts on. The csv crate skips blank lines before a record but reports
/// the position where it started looking, so the line breaks it skipped are counted here.
fn record_line(text: &[u8], position: &csv::Position) -> usize {
    let start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let skipped = text
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .filter(|&&b| b == b'\n')
        .count();
    usize::try_from(position.line())
        .unwrap_or(usize::MAX)
        .saturating_add(skipped)
}

/// Refuses bytes that are plainly not text: other container formats and control characters
/// (GBK never uses bytes below 0x40 inside a character, so they mean the same in both encodings).
fn refuse_binary(bytes: &[u8]) -> Result<(), ImportError> {
    let not_csv = |reason: String| ImportError::NotFormat {
        expected: Format::Csv,
        reason,
    };
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Err(not_csv(
            "it is a ZIP archive (an XLSX workbook? import it with format=xlsx)".into(),
        ));
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(not_csv(
            "it is an old Excel .xls workbook; save it as XLSX or CSV".into(),
        ));
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(not_csv("it is UTF-16 text; save it as CSV UTF-8".into()));
    }
    if let Some(at) = bytes
        .iter()
        .position(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7F)
    {
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        return Err(not_csv(format!(
            "line {line} holds the control byte 0x{:02X}: binary data, not text",
            bytes[at]
        )));
    }
    Ok(())
}

/// UTF-8 (a BOM is dropped) when the bytes are valid UTF-8, else GBK, else an error naming the
/// first line that decodes as neither.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ImportError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
    if had_errors {
        let at = text.find('\u{FFFD}').unwrap_or(0);
        let line = 1 + text[..at].matches('\n').count();
        return Err(ImportError::Encoding { line });
    }
    Ok(text)
}

/// `,` unless the first non-empty line has none and has `;` or a tab.
fn delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.contains(',') {
        b','
    } else if first.contains(';') {
        b';'
    } else if first.contains('\t') {
        b'\t'
    } else {
        b','
    }
}

/// Finds a quoted field that never closes. The csv crate reads such a field to the end of the
/// file without complaint, silently merging every later row into one cell, so the quoting is
/// walked here first with the same rules (a quote opens a field only at its start; `""` inside
/// a quoted field is a literal quote).
fn check_quotes(text: &str, delimiter: u8) -> Result<(), ImportError> {
    let delimiter = char::from(delimiter);
    let mut line = 1;
    let mut column = 1;
    let mut at_field_start = true;
    let mut open: Option<(usize, usize)> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if open.is_some() {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                }
                '"' => open = None,
                '\n' => line += 1,
                _ => {}
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                open = Some((line, column));
                at_field_start = false;
            }
            '\n' => {
                line += 1;
                column = 1;
                at_field_start = true;
            }
            '\r' => at_field_start = true,
            c if c == delimiter => {
                column += 1;
                at_field_start = true;
            }
            _ => at_field_start = false,
        }
    }
    match open {
        Some((row, column)) => Err(ImportError::UnbalancedQuote { row, column }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::import::{Format, ImportError, Limits, Row, read_table};

    fn csv(bytes: &[u8]) -> Result<crate::import::Table, ImportError> {
        read_table(bytes, Format::Csv, None, &Limits::default())
    }

    #[test]
    fn a_utf8_csv_reads_headers_and_rows_with_their_line_numbers() {
        let t = csv("村名,经度,纬度\n安定村,81.1,43.8\n\n海努克村,81.2,43.7\n".as_bytes()).unwrap();
        assert_eq!(t.headers, ["村名", "经度", "纬度"]);
        assert_eq!(
            t.rows,
            [
                Row {
                    number: 2,
                    cells: vec!["安定村".into(), "81.1".into(), "43.8".into()]
                },
                Row {
                    number: 4,
                    cells: vec!["海努克村".into(), "81.2".into(), "43.7".into()]
                },
            ]
        );
    }

    #[test]
    fn a_cell_an_export_neutralised_against_formulas_reads_without_its_quote() {
        let t = csv("name,note\n'=1+1,'-3\n''@x,'abc\n".as_bytes()).unwrap();
        assert_eq!(t.rows[0].cells, ["=1+1", "-3"]);
        assert_eq!(t.rows[1].cells, ["'@x", "'abc"]);
    }

    #[test]
    fn a_bom_at_the_start_of_a_utf8_csv_is_not_part_of_the_first_header() {
        let t = csv(b"\xEF\xBB\xBFvillage,tag\r\nx,1\r\n").unwrap();
        assert_eq!(t.headers, ["village", "tag"]);
        assert_eq!(t.rows[0].cells, ["x", "1"]);
    }

    #[test]
    fn a_gbk_csv_is_decoded() {
        let (bytes, _, unmappable) = encoding_rs::GBK.encode("村名,犬牌号\n安定村,A-001\n");
        assert!(!unmappable);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "the test file must not be UTF-8"
        );
        let t = csv(&bytes).unwrap();
        assert_eq!(t.headers, ["村名", "犬牌号"]);
        assert_eq!(t.rows[0].cells, ["安定村", "A-001"]);
    }

    #[test]
    fn bytes_that_are_neither_utf8_nor_gbk_are_an_encoding_error_naming_the_line() {
        // 0x80 alone is not a GBK lead byte, 0xFF never occurs in GBK.
        let err = csv(b"a,b\n1,2\n\xFF\xFF,3\n").unwrap_err();
        assert!(matches!(err, ImportError::Encoding { line: 3 }), "{err}");
    }

    #[test]
    fn semicolons_and_tabs_separate_when_the_header_has_no_comma() {
        let t = csv("村名;剂量\n安定村;50,5\n".as_bytes()).unwrap();
        assert_eq!(t.rows[0].cells, ["安定村", "50,5"]);
        let t = csv(b"a\tb\n1\t2\n").unwrap();
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(t.rows[0].cells, ["1", "2"]);
    }

    #[test]
    fn quoted_fields_may_hold_delimiters_quotes_and_newlines() {
        let t = csv(b"a,b\n\"x, \"\"y\"\"\",\"two\nlines\"\n3,4\n").unwrap();
        assert_eq!(t.rows[0].cells, ["x, \"y\"", "two\nlines"]);
        assert_eq!(t.rows[1].number, 4);
    }

    #[test]
    fn an_unbalanced_quote_is_an_error_naming_its_row_and_column() {
        let err = csv(b"a,b\n1,2\n3,\"oops\n5,6\n7,8\n").unwrap_err();
        assert!(
            matches!(err, ImportError::UnbalancedQuote { row: 3, column: 2 }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "row 3, column 2: a quoted field opens here and is never closed"
        );
    }

    #[test]
    fn a_row_with_a_different_column_count_is_an_error_naming_the_row() {
        let err = csv(b"a,b,c\n1,2,3\n4,5\n").unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::ColumnCount {
                    row: 3,
                    found: 2,
                    expected: 3
                }
            ),
            "{err}"
        );
        let err = csv(b"a,b\n1,2,3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 2: 3 columns, but the header row has 2"
        );
    }

    #[test]
    fn binary_garbage_is_not_csv() {
        let garbage: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let err = csv(&garbage).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::NotFormat {
                    expected: Format::Csv,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_xlsx_uploaded_as_csv_is_not_csv() {
        let err = csv(b"PK\x03\x04rest of a zip").unwrap_err();
        assert!(err.to_string().contains("format=xlsx"), "{err}");
    }

    #[test]
    fn an_empty_file_has_no_header_row() {
        assert!(matches!(csv(b"").unwrap_err(), ImportError::Empty));
        assert!(matches!(csv(b"\n,,\n").unwrap_err(), ImportError::Empty));
    }

    #[test]
    fn rows_beyond_max_rows_are_refused() {
        let limits = Limits {
            max_rows: 2,
            ..Limits::default()
        };
        let err = read_table(b"a\n1\n2\n3\n", Format::Csv, None, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::TooLarge {
                    actual: 3,
                    limit: 2,
                    ..
                }
            ),
            "{err}"
        );
        let limits = Limits {
            max_cells: 3,
            ..Limits::default()
        };
        let err = read_table(b"a,b\n1,2\n3,4\n", Format::Csv, None, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::TooLarge {
                    actual: 4,
                    limit: 3,
                    ..
                }
            ),
            "{err}"
        );
    }
}
