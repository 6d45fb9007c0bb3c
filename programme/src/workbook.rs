//! Text cells of the workbooks the programme writes (report forms, import templates, import error
//! workbooks), safe from formula injection: a formula-like text
//! ([`echinomap_domain::spreadsheet::is_formula_like`]) keeps its exact text and gets the
//! quote-prefix format (Excel's `'` marker, `quotePrefix` in the file), so that neither opening
//! nor editing the cell evaluates it. Numbers are written as numbers and never pass here.

use std::borrow::Cow;

use echinomap_domain::spreadsheet;
use rust_xlsxwriter::{Format, Worksheet, XlsxError};

/// `format` for a cell holding `text`: with the quote prefix when the text is formula-like.
pub fn text_format<'a>(text: &str, format: &'a Format) -> Cow<'a, Format> {
    if spreadsheet::is_formula_like(text) {
        Cow::Owned(format.clone().set_quote_prefix())
    } else {
        Cow::Borrowed(format)
    }
}

/// Writes `text` as a string cell in `format` (the quote prefix added when it is formula-like).
pub fn write_text(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    text: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, col, text, &text_format(text, format))?;
    Ok(())
}

/// Merges a range and writes `text` in it, as [`write_text`] writes a cell.
pub fn merge_text(
    ws: &mut Worksheet,
    (first_row, first_col): (u32, u16),
    (last_row, last_col): (u32, u16),
    text: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    ws.merge_range(
        first_row,
        first_col,
        last_row,
        last_col,
        text,
        &text_format(text, format),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_formula_like_text_gets_the_quote_prefix() {
        let plain = Format::new().set_bold();
        assert_eq!(
            *text_format("=1+1", &plain),
            plain.clone().set_quote_prefix()
        );
        assert_eq!(*text_format("-3", &plain), plain.clone().set_quote_prefix());
        assert_eq!(*text_format("安定村", &plain), plain);
        assert!(matches!(text_format("a=1", &plain), Cow::Borrowed(_)));
    }
}
