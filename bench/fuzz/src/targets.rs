//! The fuzz targets: each calls the parser the server calls on what people upload or type (no
//! copies), from one input's bytes, and names the outcome in a few words. An outcome is what
//! the run counts as "distinct": the result's kind (a table's shape, an error's variant and the
//! start of its reason), not its exact text.

use std::io::{Cursor, Read as _, Write as _};

use echinomap_domain::barcode::{self, BarcodeError, Gtin, Options, Scanned};
use echinomap_domain::{IdNumber, Period, privacy, spreadsheet};
use echinomap_geodata::import::{self, Format, Limits, headers, values};
use echinomap_programme::records::parse::parse_value;
use echinomap_programme::records::spec::{SPECS, Ty};

use crate::mutate::Mutator;

/// A parser under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The import's CSV reader (`import::read_table`, format CSV: encodings, delimiters, quotes,
    /// limits) and the header mapping of an import kind.
    Csv,
    /// The import's XLSX reader (`import::read_table`, format XLSX: the ZIP checks, calamine)
    /// and the header mapping.
    Xlsx,
    /// The import's GeoJSON reader (`import::read_table`, format GeoJSON: the villages'
    /// boundaries and any register as points).
    Geojson,
    /// The date parser of every date cell (`import::values::parse_date`) and the period of
    /// exports, tiles and reports (`Period::parse`).
    Dates,
    /// ID numbers: `IdNumber::parse`, the birth date and sex it holds, and the list mask.
    IdNumbers,
    /// Phone numbers as a register cell (`records::parse::parse_value` of `Ty::Phone`) and
    /// their list mask.
    Phone,
    /// Every other cell a register parses (`parse_value` over the field types of every
    /// register: decimals, whole numbers, yes/no, the enumerations, text), the header key and
    /// the formula-injection rule.
    Cells,
    /// A scan as a stock page sends it (`barcode::parse`: GS1 element strings, GTINs, the
    /// Chinese drug and veterinary traceability codes), with and without a GS replacement.
    Barcode,
}

impl Target {
    pub const ALL: [Target; 8] = [
        Target::Csv,
        Target::Xlsx,
        Target::Geojson,
        Target::Dates,
        Target::IdNumbers,
        Target::Phone,
        Target::Cells,
        Target::Barcode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Csv => "csv",
            Target::Xlsx => "xlsx",
            Target::Geojson => "geojson",
            Target::Dates => "dates",
            Target::IdNumbers => "id_numbers",
            Target::Phone => "phone",
            Target::Cells => "cells",
            Target::Barcode => "barcode",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The longest input the mutator makes, in bytes.
    pub fn max_len(self) -> usize {
        match self {
            Target::Csv | Target::Geojson => 16 * 1024,
            Target::Xlsx => 256 * 1024,
            Target::Dates | Target::IdNumbers | Target::Phone | Target::Cells => 256,
            Target::Barcode => 512,
        }
    }

    /// Calls the parser on `input` and names the outcome.
    pub fn execute(self, input: &[u8]) -> String {
        match self {
            Target::Csv => table(input, Format::Csv),
            Target::Xlsx => table(input, Format::Xlsx),
            Target::Geojson => table(input, Format::Geojson),
            Target::Dates => dates(&String::from_utf8_lossy(input)),
            Target::IdNumbers => id_number(&String::from_utf8_lossy(input)),
            Target::Phone => phone(&String::from_utf8_lossy(input)),
            Target::Cells => cells(input),
            Target::Barcode => scan(&String::from_utf8_lossy(input)),
        }
    }

    /// A new input from `input` (a copy of a corpus entry) and `other` (another one). XLSX
    /// mutates the XML inside the workbook half of the time and zips it again, so that calamine
    /// sees more than damaged ZIP containers.
    pub fn mutate(self, m: &mut Mutator, input: &mut Vec<u8>, other: &[u8]) {
        if self == Target::Xlsx
            && m.chance(0.5)
            && let Some(bytes) = mutate_inside_zip(m, input, other)
        {
            *input = bytes;
            return;
        }
        m.mutate(input, other);
    }
}

/// Import limits small enough that a mutated input meets them too, large enough for the seeds.
fn limits() -> Limits {
    Limits {
        max_bytes: 1 << 20,
        max_rows: 2_000,
        max_cells: 40_000,
        max_xlsx_uncompressed_bytes: 16 << 20,
        max_xlsx_ratio: 500,
    }
}

/// Counts up to 3 as they are, then "many".
fn bucket(n: usize) -> String {
    if n <= 3 {
        n.to_string()
    } else {
        "many".to_owned()
    }
}

/// An error message as an outcome: its first words, without numbers, quoted values or any word
/// of the input itself, so that "row 7" and "row 8", or `"abc" is not a date` and `"abd" is not a
/// date`, are one outcome.
fn shape_of(message: &str, input: &str) -> String {
    // A value is quoted as Rust's Debug quotes it (escapes included): from the first quote to the
    // last is the value.
    let unquoted = match (message.find('"'), message.rfind('"')) {
        (Some(a), Some(b)) if a < b => format!("{} {}", &message[..a], &message[b + 1..]),
        _ => message.to_owned(),
    };
    unquoted
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| c.is_ascii_punctuation()))
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphabetic()))
        .filter(|w| {
            !input
                .split(|c: char| !c.is_ascii_alphabetic())
                .any(|i| i == *w)
        })
        .take(8)
        .collect::<Vec<_>>()
        .join(" ")
}

fn table(input: &[u8], format: Format) -> String {
    match import::read_table(input, format, None, &limits()) {
        Ok(t) => {
            // What the import does next with the header row: map it for a kind (chosen by the
            // input, so that a crash replays). For one input in eight: the mapping normalises
            // every alias of every field again (NFKC), which would otherwise take 60% of the
            // time, and `cells` fuzzes the header key on its own.
            let mapped = if input.len().is_multiple_of(8) {
                let kind = headers::Kind::ALL[input.len() / 8 % headers::Kind::ALL.len()];
                match headers::map_headers(kind, &t.headers) {
                    Ok(fields) => format!("mapped {}", bucket(fields.iter().flatten().count())),
                    Err(headers::HeaderError::Missing { .. }) => "missing".to_owned(),
                    Err(headers::HeaderError::Duplicate { .. }) => "duplicate".to_owned(),
                }
            } else {
                String::new()
            };
            for row in &t.rows {
                assert_eq!(
                    row.cells.len(),
                    t.headers.len(),
                    "a row as wide as the header"
                );
            }
            format!(
                "ok cols {} rows {} {mapped}",
                bucket(t.headers.len()),
                bucket(t.rows.len())
            )
        }
        Err(e) => shape_of(&e.to_string(), &String::from_utf8_lossy(input)),
    }
}

fn dates(s: &str) -> String {
    let date = match values::parse_date(s) {
        Ok(d) => {
            // A date Excel can hold reads back from its serial number.
            match values::excel_serial(d) {
                Some(serial) => {
                    assert_eq!(values::from_excel_serial(serial), Some(d), "{d}");
                    "date in Excel's range".to_owned()
                }
                None => "date outside Excel's range".to_owned(),
            }
        }
        Err(e) => format!("not a date ({})", e.expected.len()),
    };
    let period = match Period::parse(s) {
        Ok(p) => {
            assert!(p.start() <= p.end(), "{p:?}");
            assert_eq!(Period::parse(&p.key()).ok(), Some(p), "a key parses back");
            format!("period {:?}", p.kind())
        }
        Err(e) => shape_of(&e.to_string(), s),
    };
    format!("{date}; {period}")
}

fn id_number(s: &str) -> String {
    let parsed = IdNumber::parse(s);
    // A valid number is masked in its normal form (18 characters), anything else character by
    // character: the mask never changes the length of what it hides.
    let masked = privacy::mask_id_number(s);
    let shown = if parsed.is_ok() {
        18
    } else {
        s.chars().count()
    };
    assert_eq!(masked.chars().count(), shown, "{masked}");
    match parsed {
        Ok(n) => {
            assert!(n.birth_date().is_some(), "a valid number holds a date");
            assert_eq!(IdNumber::parse(n.expose()).ok(), Some(n.clone()));
            assert_eq!(n.masked(), masked);
            format!("valid {}", if n.is_male() { "male" } else { "female" })
        }
        Err(e) => shape_of(&e.to_string(), s),
    }
}

fn phone(s: &str) -> String {
    let masked = privacy::mask_phone(s);
    assert_eq!(masked.chars().count(), s.chars().count());
    match parse_value(Ty::Phone, s) {
        Ok(v) => format!("phone {}", bucket(v.len() / 5)),
        Err(e) => format!("{} {}", e.code, shape_of(&e.text, s)),
    }
}

/// Every field type of every register, once each (enumerations by their table).
fn field_types() -> Vec<Ty> {
    let mut out: Vec<Ty> = Vec::new();
    for spec in SPECS {
        for f in spec.fields {
            let ty = f.ty;
            if !out.iter().any(|t| same_type(*t, ty)) {
                out.push(ty);
            }
        }
    }
    out
}

fn same_type(a: Ty, b: Ty) -> bool {
    match (a, b) {
        (Ty::Enum(x), Ty::Enum(y)) => std::ptr::eq(x, y),
        _ => format!("{a:?}") == format!("{b:?}"),
    }
}

thread_local! {
    static TYPES: Vec<Ty> = field_types();
}

fn cells(input: &[u8]) -> String {
    let s = String::from_utf8_lossy(input);
    // The type is chosen by the input (a crash replays): its length picks it.
    let outcome = TYPES.with(|types| {
        let ty = types[input.len() % types.len()];
        match parse_value(ty, &s) {
            Ok(_) => format!("{} ok", ty.sql()),
            Err(e) => format!("{} {} {}", ty.sql(), e.code, shape_of(&e.text, &s)),
        }
    });
    let _ = values::parse_decimal(&s);
    let _ = values::parse_bool(&s);
    let _ = values::parse_sex(&s);
    let _ = headers::header_key(&s);
    let csv = spreadsheet::csv_text(&s);
    assert_eq!(
        spreadsheet::strip_quote_prefix(&csv),
        s,
        "the CSV round trip"
    );
    assert!(
        !csv.starts_with(spreadsheet::TRIGGERS),
        "a CSV cell is neutralised"
    );
    outcome
}

/// A scan, with the GS replacement chosen by the input's length (a crash replays): none, `|`
/// or `^`.
fn scan(s: &str) -> String {
    let gs_replacement = [None, Some('|'), Some('^')][s.len() % 3];
    match barcode::parse(s, &Options { gs_replacement }) {
        Ok(scanned) => {
            let (by, key) = scanned.lookup();
            match &scanned {
                Scanned::Gs1 { gtin, .. } | Scanned::Plain { gtin } => {
                    assert_eq!(
                        Gtin::parse(gtin.as_str()).as_ref(),
                        Ok(gtin),
                        "a GTIN-14 parses back"
                    );
                }
                Scanned::CnDrug { code, product } => {
                    assert!(
                        code.len() == 20 && code.starts_with(product.as_str()),
                        "{code}"
                    );
                }
                Scanned::VetDrug { code } => assert_eq!(code.len(), 24, "{code}"),
            }
            assert!(!key.is_empty(), "a lookup key");
            let json = scanned.to_json();
            assert_eq!(json["kind"], scanned.kind(), "{json}");
            format!(
                "{} by {by} serialised {}",
                scanned.kind(),
                scanned.serial_key().is_some()
            )
        }
        Err(e) => {
            assert!(BarcodeError::CODES.contains(&e.code), "{}", e.code);
            assert!(!e.message.is_empty(), "a message");
            if let Some(p) = e.params.get("position").and_then(|p| p.as_u64()) {
                // The end of the scan is a position too (a value cut short there).
                assert!(
                    p <= s.chars().count() as u64,
                    "position {p} inside the scan"
                );
            }
            e.code.to_owned()
        }
    }
}

/// The entries of a ZIP, in order; `None` when it does not unzip.
fn unzip(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).ok()?;
        let mut data = Vec::with_capacity(usize::try_from(entry.size()).ok()?.min(1 << 20));
        entry.read_to_end(&mut data).ok()?;
        out.push((entry.name().ok()?.into_owned(), data));
    }
    Some(out)
}

fn zip_entries(entries: &[(String, Vec<u8>)], deflate: bool) -> Option<Vec<u8>> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    // A fixed time (1980-01-01), so that the same entries zip into the same bytes.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(zip::DateTime::DEFAULT);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(name.as_str(), options).ok()?;
        zip.write_all(data).ok()?;
    }
    Some(zip.finish().ok()?.into_inner())
}

/// Mutates one XML entry of the workbook `input` (the sheets, shared strings, the workbook and
/// its relations most often), splicing with the same entry of `other` when it has one.
fn mutate_inside_zip(m: &mut Mutator, input: &[u8], other: &[u8]) -> Option<Vec<u8>> {
    let mut entries = unzip(input)?;
    if entries.is_empty() {
        return None;
    }
    let preferred: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| {
            n.starts_with("xl/worksheets/")
                || n == "xl/sharedStrings.xml"
                || n == "xl/workbook.xml"
                || n.ends_with(".rels")
                || n == "xl/styles.xml"
        })
        .map(|(i, _)| i)
        .collect();
    let i = if !preferred.is_empty() && m.chance(0.8) {
        preferred[m.below(preferred.len())]
    } else {
        m.below(entries.len())
    };
    let name = entries[i].0.clone();
    let other_entry = unzip(other)
        .and_then(|o| o.into_iter().find(|(n, _)| *n == name))
        .map(|(_, d)| d)
        .unwrap_or_default();
    m.mutate(&mut entries[i].1, &other_entry);
    if m.chance(0.05) {
        // Now and then an entry goes missing or comes twice.
        if m.chance(0.5) {
            entries.remove(i);
        } else {
            let copy = entries[i].clone();
            entries.push(copy);
        }
    }
    let deflate = m.chance(0.5);
    zip_entries(&entries, deflate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_name_that_parses_back() {
        for t in Target::ALL {
            assert_eq!(Target::parse(t.name()), Some(t));
        }
    }

    #[test]
    fn an_error_outcome_forgets_numbers_and_quoted_values() {
        assert_eq!(
            shape_of("row 7: 3 columns, but the header row has \"x\" 2", ""),
            shape_of("row 12: 4 columns, but the header row has \"yy\" 3", "")
        );
        assert_eq!(
            shape_of("\"abc\" is not a date", "abc"),
            shape_of("\"abd\" is not a date", "abd")
        );
    }

    #[test]
    fn a_workbook_zips_again_into_one_that_reads() {
        let wb = crate::seeds::xlsx()
            .into_iter()
            .next()
            .expect("a workbook seed");
        let again = zip_entries(&unzip(&wb).expect("unzips"), true).expect("zips");
        assert!(
            table(&again, Format::Xlsx).starts_with("ok"),
            "{}",
            table(&again, Format::Xlsx)
        );
    }
}
