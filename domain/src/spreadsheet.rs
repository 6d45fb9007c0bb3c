//! Spreadsheet formula injection ("CSV injection"): a text that a spreadsheet would read as a
//! formula when it opens or edits the cell, and the one rule every CSV and XLSX writer applies to
//! it (OWASP: prefix a single quote `'` to the text).
//!
//! A text is formula-like when its first character is one of [`TRIGGERS`]: `=`, `+`, `-`, `@`
//! (what Excel, LibreOffice and WPS evaluate), tab and carriage return (OWASP lists them: some
//! importers drop them and evaluate what follows), and the full-width `＝ ＋ － ＠`, which
//! Excel and WPS with a Chinese input method also take as the start of a formula. Leading
//! spaces are not looked through: no spreadsheet evaluates ` =1+1`.
//!
//! - CSV writes the text as [`csv_text`] (`'=1+1`); PostgreSQL, which writes the export CSV
//!   lines itself, tests the same texts with [`csv_quote_regex`].
//! - XLSX keeps the text exact and gives the cell the quote-prefix format instead (the
//!   programme's workbooks do so through `echinomap_programme::workbook`), so an XLSX cell's
//!   text is never changed.
//! - Importing a CSV takes the quote off again with [`strip_quote_prefix`], so that a round trip
//!   does not carry a `'` into the data. The round trip is exact for every text: a text that
//!   itself starts with quotes before a trigger (`'=1`) gets one more (`''=1`), and one is taken
//!   off.
//!
//! Numbers written as numbers are not text and are never touched: only a text cell holding
//! `-3` is neutralised.

use std::borrow::Cow;

/// The first characters that make a spreadsheet read a text as a formula.
pub const TRIGGERS: [char; 10] = [
    '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// The quote that marks a cell as text, prefixed to a formula-like text.
pub const QUOTE: char = '\'';

/// The text starts with one of [`TRIGGERS`]: an XLSX text cell holding it gets the
/// quote-prefix format.
pub fn is_formula_like(text: &str) -> bool {
    text.starts_with(TRIGGERS)
}

/// A CSV cell holding `text` needs [`QUOTE`] in front: the text is formula-like after any
/// quotes it starts with (those are data, which [`strip_quote_prefix`] must give back whole).
pub fn needs_csv_quote(text: &str) -> bool {
    is_formula_like(text.trim_start_matches(QUOTE))
}

/// `text` as a CSV cell may carry it: with [`QUOTE`] in front when [`needs_csv_quote`], else
/// unchanged. (CSV quoting of commas, quotes and line breaks is the writer's, after this.)
pub fn csv_text(text: &str) -> Cow<'_, str> {
    if needs_csv_quote(text) {
        Cow::Owned(format!("{QUOTE}{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// An imported CSV cell without the quote [`csv_text`] added: `'=1+1` reads as `=1+1`, `'-3`
/// as `-3`, `''=1` as `'=1`. A quote before anything else (`'abc`) is data and stays.
pub fn strip_quote_prefix(cell: &str) -> &str {
    match cell.strip_prefix(QUOTE) {
        Some(rest) if needs_csv_quote(rest) => rest,
        _ => cell,
    }
}

/// A regular expression (POSIX, as PostgreSQL's `~` reads it) that matches exactly the texts
/// [`needs_csv_quote`] accepts: `^'*[` the triggers `]`, with `-` last in the bracket so that
/// it is literal; tab and carriage return stand in it as themselves. It holds a quote: inside a
/// SQL string literal it must be written with the quote doubled.
pub fn csv_quote_regex() -> String {
    let mut class: String = TRIGGERS.iter().filter(|&&c| c != '-').collect();
    class.push('-');
    format!("^{QUOTE}*[{class}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_starting_with_a_trigger_gets_a_quote_and_anything_else_is_left_alone() {
        for t in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "＝1+1",
            "＋1",
            "－1",
            "＠SUM(A1)",
            "-3",
        ] {
            assert!(is_formula_like(t), "{t:?}");
            assert_eq!(csv_text(t), format!("'{t}"));
        }
        for t in [
            "",
            "安定村",
            "QB-0001",
            " =1+1",
            "'abc",
            "2024-03-05",
            "a=b",
            "\n=1",
        ] {
            assert!(!is_formula_like(t), "{t:?}");
            assert_eq!(csv_text(t), t);
        }
    }

    #[test]
    fn a_text_that_starts_with_quotes_before_a_trigger_gets_one_more() {
        assert_eq!(csv_text("'=1"), "''=1");
        assert_eq!(csv_text("''-3"), "'''-3");
        assert_eq!(csv_text("'abc"), "'abc");
        assert!(!is_formula_like("'=1"), "XLSX: Excel does not evaluate it");
    }

    #[test]
    fn stripping_undoes_the_quote_and_only_that_quote() {
        for t in [
            "=1+1", "-3", "@x", "＝1", "\t1", "plain", "", "'", "'=", "''@x", "'abc", "a'=",
        ] {
            assert_eq!(strip_quote_prefix(&csv_text(t)), t, "{t:?}");
        }
        assert_eq!(strip_quote_prefix("'abc"), "'abc");
        assert_eq!(strip_quote_prefix("'=1"), "=1");
        assert_eq!(strip_quote_prefix("''=1"), "'=1");
        assert_eq!(strip_quote_prefix("'"), "'");
    }

    #[test]
    fn the_regex_names_every_trigger_once_after_any_quotes_with_the_dash_last() {
        let re = csv_quote_regex();
        assert!(re.starts_with("^'*[") && re.ends_with("-]"), "{re:?}");
        for c in TRIGGERS {
            assert_eq!(re.matches(c).count(), 1, "{c:?} in {re:?}");
        }
    }
}
