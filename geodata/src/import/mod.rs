//! The file-reading half of the bulk import: sheets as people keep them, turned into a [`Table`]
//! of strings with their spreadsheet row numbers, before any database work.
//!
//! - [`read_table`] reads CSV (UTF-8 with or without BOM, or GBK; `,`, `;` or tab) and XLSX (the
//!   first sheet or a named one) within [`Limits`], and refuses what is not the format it claims,
//!   malformed CSV and zip bombs with an [`ImportError`] that names the row and the reason.
//! - [`headers`] maps Chinese or English column headers to the canonical field names of each
//!   import [`headers::Kind`].
//! - [`values`] parses the cell values every register shares: dates (including Excel serial
//!   numbers), sex, yes/no and decimals.
//!
//! Nothing here touches the database or the network.

mod csv_text;
pub mod enums;
mod geojson_table;
pub mod headers;
pub mod values;
mod xlsx;

use std::fmt;

/// The format a file claims to be in (the `format=` of the import).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-, semicolon- or tab-separated text in UTF-8 or GBK.
    Csv,
    /// An Office Open XML workbook.
    Xlsx,
    /// A GeoJSON FeatureCollection (properties as columns, points as `lon`/`lat`).
    Geojson,
}

impl Format {
    /// Parses `csv`, `xlsx` or `geojson` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            "geojson" | "json" => Some(Self::Geojson),
            _ => None,
        }
    }

    /// `csv`, `xlsx` or `geojson`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Geojson => "geojson",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Csv => f.write_str("CSV"),
            Self::Xlsx => f.write_str("XLSX"),
            Self::Geojson => f.write_str("GeoJSON"),
        }
    }
}

/// Bounds on what one import may read, so that a hostile or mistaken file cannot exhaust memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest file accepted, in bytes (default 200 MiB).
    pub max_bytes: u64,
    /// The most data rows (header excluded) accepted (default 2,000,000).
    pub max_rows: usize,
    /// The most cells (data rows × columns) accepted (default 40,000,000).
    pub max_cells: u64,
    /// The largest total of the uncompressed sizes of an XLSX's ZIP entries (default 2 GiB).
    pub max_xlsx_uncompressed_bytes: u64,
    /// The highest uncompressed ÷ compressed ratio of an XLSX entry larger than 1 MiB
    /// (default 500; worksheet XML compresses 10–100×, a run of zeros about 1000×).
    pub max_xlsx_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 200 * 1024 * 1024,
            max_rows: 2_000_000,
            max_cells: 40_000_000,
            max_xlsx_uncompressed_bytes: 2 * 1024 * 1024 * 1024,
            max_xlsx_ratio: 500,
        }
    }
}

/// A sheet as read: the header row and the data rows, every cell as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// The cells of the header row, trimmed.
    pub headers: Vec<String>,
    /// The data rows that have at least one non-empty cell, in file order.
    pub rows: Vec<Row>,
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The 1-based row number people see in a spreadsheet (the header row is 1 when it is the
    /// first line). For CSV, the line on which the record starts.
    pub number: usize,
    /// One cell per header, in header order.
    pub cells: Vec<String>,
}

/// Why a file could not be read as a table.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bytes are not the format the upload claims.
    #[error("the file is not {expected}: {reason}")]
    NotFormat { expected: Format, reason: String },
    /// The file, or what it would expand to, exceeds a [`Limits`] bound.
    #[error("the file is too large: {what} is {actual}, the limit is {limit}")]
    TooLarge {
        what: &'static str,
        actual: u64,
        limit: u64,
    },
    /// A CSV that is neither valid UTF-8 nor valid GBK.
    #[error(
        "the file is neither UTF-8 nor GBK: line {line} has bytes that decode as neither; save it as CSV UTF-8"
    )]
    Encoding { line: usize },
    /// A quoted field that is never closed.
    #[error("row {row}, column {column}: a quoted field opens here and is never closed")]
    UnbalancedQuote { row: usize, column: usize },
    /// A row whose number of cells differs from the header's.
    #[error("row {row}: {found} columns, but the header row has {expected}")]
    ColumnCount {
        row: usize,
        found: usize,
        expected: usize,
    },
    /// Any other malformation, with the row it was found on.
    #[error("row {row}: {reason}")]
    Malformed { row: usize, reason: String },
    /// `sheet=` names a sheet the workbook does not have.
    #[error("the workbook has no sheet {requested:?}; its sheets are: {}", available.join(", "))]
    UnknownSheet {
        requested: String,
        available: Vec<String>,
    },
    /// No header row: the file or sheet is empty.
    #[error("the file has no header row: it is empty")]
    Empty,
}

/// Reads `bytes` as a table in `format`, `sheet` naming the XLSX sheet (the first when `None`;
/// ignored for CSV).
///
/// The first non-empty row is the header row; data rows whose cells are all empty are skipped
/// (their numbers are not reused). Every bound of `limits` is checked before the data are
/// parsed, or as soon as the parse reaches it.
pub fn read_table(
    bytes: &[u8],
    format: Format,
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Table, ImportError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limits.max_bytes {
        return Err(ImportError::TooLarge {
            what: "the file size in bytes",
            actual: size,
            limit: limits.max_bytes,
        });
    }
    match format {
        Format::Csv => csv_text::read(bytes, limits),
        Format::Xlsx => xlsx::read(bytes, sheet, limits),
        Format::Geojson => geojson_table::read(bytes, limits),
    }
}

/// Counts rows and cells against the limits while a table grows.
struct Budget<'a> {
    limits: &'a Limits,
    rows: usize,
    cells: u64,
}

impl<'a> Budget<'a> {
    fn new(limits: &'a Limits) -> Self {
        Self {
            limits,
            rows: 0,
            cells: 0,
        }
    }

    fn take_row(&mut self, cells: usize) -> Result<(), ImportError> {
        self.rows += 1;
        self.cells += u64::try_from(cells).unwrap_or(u64::MAX);
        if self.rows > self.limits.max_rows {
            return Err(ImportError::TooLarge {
                what: "the number of data rows",
                actual: u64::try_from(self.rows).unwrap_or(u64::MAX),
                limit: u64::try_from(self.limits.max_rows).unwrap_or(u64::MAX),
            });
        }
        if self.cells > self.limits.max_cells {
            return Err(ImportError::TooLarge {
                what: "the number of cells",
                actual: self.cells,
                limit: self.limits.max_cells,
            });
        }
        Ok(())
    }
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_max_bytes_is_refused_before_parsing() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let err = read_table(b"a,b\n1,2\n3,4\n", Format::Csv, None, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::TooLarge {
                    actual: 12,
                    limit: 10,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn the_format_parses_from_its_query_value() {
        assert_eq!(Format::parse("XLSX"), Some(Format::Xlsx));
        assert_eq!(Format::parse("csv"), Some(Format::Csv));
        assert_eq!(Format::parse("xls"), None);
    }
}
