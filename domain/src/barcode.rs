//! What a scanned barcode says: the one parser of the codes on drug and kit packs (issue 20),
//! shared by the server and, through the fixture `tests/fixtures/barcodes.json`, by the
//! client's twin (`web/src/stock/barcode.ts`), so that both agree by construction.
//!
//! Four kinds of code reach a stock page ([`Scanned`]):
//! - a **GS1 element string** (GS1 General Specifications §3, §7.8): a DataMatrix, GS1-128, QR
//!   or DataBar symbol read by a scanner, with or without its symbology identifier (`]d2`,
//!   `]C1`, `]Q3`, `]e0` …), its application identifiers (AIs) of predefined length read by
//!   length and the others ended by the GS character (0x1D, FNC1), or by the character a
//!   scanner that cannot send GS is configured to send instead ([`Options::gs_replacement`]);
//!   also the human-readable form `(01)09506000134352(17)201231(10)ABC123`;
//! - a **plain GTIN** (EAN-13, UPC-A, EAN-8, GTIN-14) with its check digit;
//! - **China's 20-digit drug traceability code** (药品追溯码): the first 7 digits name the product;
//! - the **24-digit veterinary drug traceability code** (兽药二维码), bare or inside the URL of its
//!   QR code; it names no product (it is tied to an item and lot when the lot is received).
//!
//! Every refusal is a [`BarcodeError`] with a stable code, an English message that says what is
//! wrong and where, and its parameters (the AI, the position in the scanned text, the value).
//!
//! Hand-written rather than a crate: no crate on crates.io knows the Chinese codes, and the
//! client must follow the same rules line by line (the fixture checks both).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

/// How the scanner at hand sends its codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// The character a scanner that cannot send GS (0x1D) sends in its place, e.g. `|` or `^`
    /// (neither is in the character set of GS1 data, so it cannot be mistaken for data).
    pub gs_replacement: Option<char>,
}

/// A GTIN as GTIN-14: 14 digits, the check digit verified. EAN-13, UPC-A and EAN-8 are
/// left-padded with zeros, as GS1 keys them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin(String);

impl Gtin {
    /// 8, 12, 13 or 14 digits with a valid GS1 check digit.
    pub fn parse(value: &str) -> Result<Gtin, BarcodeError> {
        let chars: Vec<char> = value.chars().collect();
        gtin_at(&chars, 0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a scanned code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// A GS1 element string (with or without symbology identifier ]d2 ]C1 ]Q3 ]e0 ]d1 ]Q1 ... ).
    Gs1 {
        gtin: Gtin,
        /// AI 17, the expiry date (day 00: the month's last day).
        expiry: Option<NaiveDate>,
        /// AI 10.
        batch: Option<String>,
        /// AI 21.
        serial: Option<String>,
    },
    /// Plain digits: EAN-13 (or UPC-A 12, EAN-8 8, GTIN-14 14) with a valid check digit, no AIs.
    Plain { gtin: Gtin },
    /// China's 20-digit drug traceability code (药品追溯码): product = first 7 digits, serial =
    /// next 9, check = last 4.
    CnDrug { code: String, product: String },
    /// The 24-digit veterinary drug traceability code (兽药二维码), bare or inside a URL/text of
    /// the QR code (the single run of exactly 24 digits). Does not name the product.
    VetDrug { code: String },
}

impl Scanned {
    /// `"gs1"`, `"plain"`, `"cn_drug"` or `"vet_drug"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scanned::Gs1 { .. } => "gs1",
            Scanned::Plain { .. } => "plain",
            Scanned::CnDrug { .. } => "cn_drug",
            Scanned::VetDrug { .. } => "vet_drug",
        }
    }

    /// The key that makes one physical pack count once per stock count, if the code is
    /// serialised: Gs1 with serial → "gs1:{gtin}:{serial}", CnDrug → "cn:{code}", VetDrug →
    /// "vet:{code}", else None.
    pub fn serial_key(&self) -> Option<String> {
        match self {
            Scanned::Gs1 {
                gtin,
                serial: Some(serial),
                ..
            } => Some(format!("gs1:{gtin}:{serial}")),
            Scanned::Gs1 { serial: None, .. } | Scanned::Plain { .. } => None,
            Scanned::CnDrug { code, .. } => Some(format!("cn:{code}")),
            Scanned::VetDrug { code } => Some(format!("vet:{code}")),
        }
    }

    /// How the catalogue looks it up: ("gtin", gtin14) for Gs1/Plain, ("cn_drug", product7),
    /// ("vet_drug", code24).
    pub fn lookup(&self) -> (&'static str, &str) {
        match self {
            Scanned::Gs1 { gtin, .. } | Scanned::Plain { gtin } => ("gtin", gtin.as_str()),
            Scanned::CnDrug { product, .. } => ("cn_drug", product),
            Scanned::VetDrug { code } => ("vet_drug", code),
        }
    }

    /// The JSON the API and the fixture use: `kind`, the fields of the kind, `serial_key` and
    /// `lookup` (the client's parser returns the same shape).
    pub fn to_json(&self) -> Value {
        let (by, key) = self.lookup();
        let mut out = match self {
            Scanned::Gs1 {
                gtin,
                expiry,
                batch,
                serial,
            } => json!({
                "gtin": gtin.as_str(),
                "expiry": expiry.map(|d| d.format("%Y-%m-%d").to_string()),
                "batch": batch,
                "serial": serial,
            }),
            Scanned::Plain { gtin } => json!({ "gtin": gtin.as_str() }),
            Scanned::CnDrug { code, product } => json!({ "code": code, "product": product }),
            Scanned::VetDrug { code } => json!({ "code": code }),
        };
        if let Some(map) = out.as_object_mut() {
            map.insert("kind".to_owned(), json!(self.kind()));
            map.insert("serial_key".to_owned(), json!(self.serial_key()));
            map.insert("lookup".to_owned(), json!([by, key]));
        }
        out
    }
}

/// Why a scan was refused: a stable `code` (one of [`BarcodeError::CODES`]), an English
/// `message` that says what and where, and `params` for the client's own wording (e.g.
/// `{"ai":"17","position":18,"value":"991332"}`; `position` counts characters from 0 in the
/// scanned text without the whitespace at its ends).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct BarcodeError {
    pub code: &'static str,
    pub message: String,
    pub params: Value,
}

impl BarcodeError {
    /// Every code a [`BarcodeError`] can carry.
    pub const CODES: [&'static str; 8] = [
        EMPTY,
        BAD_CHARACTER,
        CHECK_DIGIT,
        UNKNOWN_AI,
        TRUNCATED,
        BAD_DATE,
        UNKNOWN_FORMAT,
        MISSING_GTIN,
    ];

    fn new(code: &'static str, message: String, params: Value) -> Self {
        Self {
            code,
            message,
            params,
        }
    }
}

const EMPTY: &str = "barcode_empty";
const BAD_CHARACTER: &str = "barcode_bad_character";
const CHECK_DIGIT: &str = "barcode_check_digit";
const UNKNOWN_AI: &str = "barcode_unknown_ai";
const TRUNCATED: &str = "barcode_truncated";
const BAD_DATE: &str = "barcode_bad_date";
const UNKNOWN_FORMAT: &str = "barcode_unknown_format";
const MISSING_GTIN: &str = "barcode_missing_gtin";

/// The group separator (FNC1 inside the data).
const GS: char = '\u{1d}';
/// Longer than any symbol a pack carries (a DataMatrix holds at most 2,335 characters).
const MAX_CHARS: usize = 3000;

/// Parses a scan as of today (local date: the century of two-digit years depends on it).
pub fn parse(raw: &str, opts: &Options) -> Result<Scanned, BarcodeError> {
    parse_on(raw, opts, chrono::Local::now().date_naive())
}

/// [`parse`] with the date two-digit years are read against (GS1 §7.12), for tests.
pub fn parse_on(raw: &str, opts: &Options, today: NaiveDate) -> Result<Scanned, BarcodeError> {
    // Full-width ASCII (a Chinese input method in full-width mode while a wedge scanner types)
    // is read as ASCII; the text keeps its length, so positions stay true.
    let all: Vec<char> = raw.chars().map(halfwidth).collect();
    let start = all.iter().position(|c| !is_trimmed(*c));
    let Some(start) = start else {
        return Err(empty());
    };
    let end = all
        .iter()
        .rposition(|c| !is_trimmed(*c))
        .map_or(start, |e| e + 1);
    let text = &all[start..end];
    if text.len() > MAX_CHARS {
        return Err(BarcodeError::new(
            UNKNOWN_FORMAT,
            format!(
                "the scan holds {} characters, more than any pack's code ({MAX_CHARS})",
                text.len()
            ),
            json!({ "length": text.len() }),
        ));
    }
    let is_gs = |c: char| c == GS || Some(c) == opts.gs_replacement;

    // The envelope of ISO/IEC 15434 format 05 (GS1 data): `[)>` RS `05` GS … RS EOT.
    let mut from = 0;
    let mut to = text.len();
    let mut forced_gs1 = false;
    if text.starts_with(&['[', ')', '>', '\u{1e}', '0', '5']) && text.len() > 6 && is_gs(text[6]) {
        from = 7;
        forced_gs1 = true;
        while to > from && matches!(text[to - 1], '\u{1e}' | '\u{4}') {
            to -= 1;
        }
    }
    // The symbology identifier (ISO/IEC 15424): `]`, a letter, a modifier character.
    let mut symbology = None;
    if text.len() >= from + 3
        && text[from] == ']'
        && text[from + 1].is_ascii_alphabetic()
        && text[from + 2].is_ascii_alphanumeric()
    {
        let id: String = text[from + 1..from + 3].iter().collect();
        forced_gs1 |= matches!(
            id.as_str(),
            "C1" | "c1" | "d2" | "D2" | "Q3" | "q3" | "e0" | "J1" | "j1"
        );
        symbology = Some(id);
        from += 3;
    }
    // A leading FNC1 that the scanner sent as GS: GS1 data follows.
    while from < to && is_gs(text[from]) {
        from += 1;
        forced_gs1 = true;
    }
    let data = &text[from..to];
    if data.is_empty() {
        return Err(empty());
    }
    let at = Cursor {
        chars: data,
        base: from,
    };
    if data[0] == '(' {
        return gs1_result(parse_human_readable(&at, today)?);
    }
    if forced_gs1 {
        return gs1_result(parse_element_string(&at, &is_gs, today)?);
    }
    let all_digits = data.iter().all(char::is_ascii_digit);
    let starts_like_gs1 =
        data.len() >= 16 && data.starts_with(&['0']) && matches!(data[1], '0' | '1' | '2');
    if all_digits {
        return match data.len() {
            8 | 12 | 13 | 14 => Ok(Scanned::Plain {
                gtin: gtin_at(data, from)?,
            }),
            20 if data[0] == '8' => {
                let code: String = data.iter().collect();
                Ok(Scanned::CnDrug {
                    product: code[..7].to_owned(),
                    code,
                })
            }
            24 if !looks_like_gs1_gtin(&at) => Ok(Scanned::VetDrug {
                code: data.iter().collect(),
            }),
            _ if starts_like_gs1 => gs1_result(parse_element_string(&at, &is_gs, today)?),
            n => Err(unknown_format(n, symbology.as_deref())),
        };
    }
    if starts_like_gs1 || (data.iter().any(|c| is_gs(*c)) && data[0].is_ascii_digit()) {
        return gs1_result(parse_element_string(&at, &is_gs, today)?);
    }
    // The veterinary code inside the text of its QR code (a URL): the one run of 24 digits.
    let runs = digit_runs(data);
    let vet: Vec<&(usize, usize)> = runs.iter().filter(|(a, b)| b - a == 24).collect();
    if let [(a, b)] = vet.as_slice() {
        return Ok(Scanned::VetDrug {
            code: data[*a..*b].iter().collect(),
        });
    }
    // Almost a GTIN or a drug code, but for a character: say which.
    let digits = data.iter().filter(|c| c.is_ascii_digit()).count();
    let near_gtin = matches!(data.len(), 8 | 12 | 13 | 14) && digits * 2 > data.len();
    let near_cn = data.len() == 20 && data[0] == '8' && digits * 2 > data.len();
    if (near_gtin || near_cn) && data[0].is_ascii_digit() {
        let bad = data.iter().position(|c| !c.is_ascii_digit()).unwrap_or(0);
        return Err(bad_character(
            None,
            from + bad,
            data[bad],
            if near_cn {
                "a drug traceability code"
            } else {
                "a GTIN"
            },
        ));
    }
    Err(unknown_format(data.len(), symbology.as_deref()))
}

/// Whitespace a scanner or a paste leaves at the ends.
fn is_trimmed(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '\u{b}' | '\u{c}' | '\u{a0}' | '\u{3000}' | '\u{feff}'
    )
}

/// Full-width ASCII (U+FF01–U+FF5E) as ASCII.
fn halfwidth(c: char) -> char {
    match u32::from(c) {
        0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn empty() -> BarcodeError {
    BarcodeError::new(EMPTY, "the scan is empty".to_owned(), json!({}))
}

fn unknown_format(len: usize, symbology: Option<&str>) -> BarcodeError {
    BarcodeError::new(
        UNKNOWN_FORMAT,
        format!(
            "a code of {len} characters is none of GS1, EAN/UPC, the 20-digit drug traceability code or the 24-digit veterinary drug code"
        ),
        json!({ "length": len, "symbology": symbology }),
    )
}

fn bad_character(ai: Option<&str>, position: usize, c: char, what: &str) -> BarcodeError {
    let shown = if c.is_control() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("\"{c}\"")
    };
    let message = match ai {
        Some(ai) => format!(
            "AI {ai} ({what}) has the character {shown} at position {position}, which it cannot hold"
        ),
        None => format!("{what} cannot hold the character {shown} at position {position}"),
    };
    BarcodeError::new(
        BAD_CHARACTER,
        message,
        json!({ "ai": ai, "position": position, "character": c.to_string() }),
    )
}

/// The digit runs of `data` as `(start, end)`.
fn digit_runs(data: &[char]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, c) in data.iter().enumerate() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, data.len()));
    }
    runs
}

/// The GS1 check digit (mod 10, weights 3 and 1 from the right) of `digits` without it.
fn check_digit(digits: &[char]) -> char {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    char::from(b'0' + u8::try_from((10 - sum % 10) % 10).unwrap_or(0))
}

/// A GTIN of 8, 12, 13 or 14 digits at `position` of the scan.
fn gtin_at(chars: &[char], position: usize) -> Result<Gtin, BarcodeError> {
    if let Some(bad) = chars.iter().position(|c| !c.is_ascii_digit()) {
        return Err(bad_character(None, position + bad, chars[bad], "a GTIN"));
    }
    if !matches!(chars.len(), 8 | 12 | 13 | 14) {
        return Err(BarcodeError::new(
            UNKNOWN_FORMAT,
            format!("a GTIN has 8, 12, 13 or 14 digits, not {}", chars.len()),
            json!({ "length": chars.len() }),
        ));
    }
    verify_check_digit(None, chars, position)?;
    let padded = format!("{:0>14}", chars.iter().collect::<String>());
    Ok(Gtin(padded))
}

fn verify_check_digit(
    ai: Option<&str>,
    chars: &[char],
    position: usize,
) -> Result<(), BarcodeError> {
    let Some((last, body)) = chars.split_last() else {
        return Ok(());
    };
    let expected = check_digit(body);
    if *last == expected {
        return Ok(());
    }
    let value: String = chars.iter().collect();
    let what = match ai {
        Some(ai) => format!("AI {ai} ({})", ai_name(ai)),
        None => "the GTIN".to_owned(),
    };
    Err(BarcodeError::new(
        CHECK_DIGIT,
        format!(
            "{what} {value} at position {position} ends with check digit {last}, but its digits give {expected}"
        ),
        json!({ "ai": ai, "position": position, "value": value, "expected": expected.to_string(), "got": last.to_string() }),
    ))
}

/// The scan's data (after the symbology identifier and a leading FNC1) and where it starts in
/// the scan.
struct Cursor<'a> {
    chars: &'a [char],
    base: usize,
}

/// What a GS1 element string held, in order, and the expiry date AI 17 gave.
struct Elements(Vec<(String, String)>, Option<NaiveDate>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    /// The last digit is a GS1 check digit.
    Digit,
    /// YYMMDD; `true`: day 00 allowed (the month's last day).
    Date(bool),
    /// YYMMDDHHMM.
    DateTime,
}

#[derive(Clone, Copy)]
struct Spec {
    min: usize,
    max: usize,
    numeric: bool,
    check: Check,
}

const fn n(min: usize, max: usize) -> Spec {
    Spec {
        min,
        max,
        numeric: true,
        check: Check::None,
    }
}

const fn an(min: usize, max: usize) -> Spec {
    Spec {
        min,
        max,
        numeric: false,
        check: Check::None,
    }
}

const fn with(spec: Spec, check: Check) -> Spec {
    Spec {
        min: spec.min,
        max: spec.max,
        numeric: spec.numeric,
        check,
    }
}

/// The AIs of the GS1 General Specifications' table (§3.2) this parser knows: the value's
/// length (fixed when min = max), its characters and what is checked.
fn ai_spec(ai: &str) -> Option<Spec> {
    let date = with(n(6, 6), Check::Date(true));
    Some(match ai {
        "00" => with(n(18, 18), Check::Digit),
        "01" | "02" | "03" => with(n(14, 14), Check::Digit),
        "10" | "21" | "22" => an(1, 20),
        "11" | "12" | "13" | "15" | "16" | "17" => date,
        "20" => n(2, 2),
        "235" => an(1, 28),
        "240" | "241" | "250" | "251" | "400" | "401" | "403" => an(1, 30),
        "242" => n(1, 6),
        "243" | "254" | "420" => an(1, 20),
        "253" => an(14, 30),
        "255" => n(14, 25),
        "30" | "37" => n(1, 8),
        "402" => with(n(17, 17), Check::Digit),
        "410" | "411" | "412" | "413" | "414" | "415" | "416" | "417" => {
            with(n(13, 13), Check::Digit)
        }
        "421" => an(4, 12),
        "422" | "424" | "426" => n(3, 3),
        "423" | "425" => n(4, 15),
        "427" => an(1, 3),
        "7001" => n(13, 13),
        "7002" | "7023" => an(1, 30),
        "7003" => with(n(10, 10), Check::DateTime),
        "7004" => n(1, 4),
        "7005" => an(1, 12),
        "7006" => with(n(6, 6), Check::Date(false)),
        "7007" => n(6, 12),
        "7008" => an(1, 3),
        "7009" => an(1, 10),
        "7010" => an(1, 2),
        "7011" => n(6, 10),
        "7020" | "7021" | "7022" => an(1, 20),
        "7040" => an(4, 4),
        "710" | "711" | "712" | "713" | "714" | "715" | "716" => an(1, 20),
        "8001" => n(14, 14),
        "8002" | "8012" => an(1, 20),
        "8003" => an(15, 30),
        "8004" | "8010" => an(1, 30),
        "8005" => n(6, 6),
        "8006" | "8026" => n(18, 18),
        "8007" => an(1, 34),
        "8008" => n(9, 12),
        "8009" => an(1, 50),
        "8011" => n(1, 12),
        "8013" | "8020" => an(1, 25),
        "8017" | "8018" => with(n(18, 18), Check::Digit),
        "8019" => n(1, 10),
        "8110" | "8112" | "8200" => an(1, 70),
        "8111" => n(4, 4),
        "90" => an(1, 30),
        "91" | "92" | "93" | "94" | "95" | "96" | "97" | "98" | "99" => an(1, 90),
        _ => return measure_ai(ai),
    })
}

/// The AIs with a decimal point digit (31nn–36nn, 39nn) and 703n.
fn measure_ai(ai: &str) -> Option<Spec> {
    if ai.len() != 4 || !ai.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let three = &ai[..3];
    Some(match three {
        "310" | "311" | "312" | "313" | "314" | "315" | "316" => n(6, 6),
        "320" | "321" | "322" | "323" | "324" | "325" | "326" | "327" | "328" | "329" => n(6, 6),
        "330" | "331" | "332" | "333" | "334" | "335" | "336" | "337" => n(6, 6),
        "340" | "341" | "342" | "343" | "344" | "345" | "346" | "347" | "348" | "349" => n(6, 6),
        "350" | "351" | "352" | "353" | "354" | "355" | "356" | "357" => n(6, 6),
        "360" | "361" | "362" | "363" | "364" | "365" | "366" | "367" | "368" | "369" => n(6, 6),
        "390" | "392" => n(1, 15),
        "391" | "393" => n(4, 18),
        "394" => n(4, 4),
        "395" => n(6, 6),
        "703" => an(4, 30),
        _ => return None,
    })
}

/// The length of an AI by its first two digits (GS1 General Specifications §3.2).
fn ai_length(first_two: &str) -> usize {
    match first_two {
        "23" | "24" | "25" | "40" | "41" | "42" | "71" => 3,
        "31" | "32" | "33" | "34" | "35" | "36" | "39" | "43" | "70" | "72" | "80" | "81"
        | "82" => 4,
        _ => 2,
    }
}

/// A short name for messages.
fn ai_name(ai: &str) -> &'static str {
    match ai {
        "00" => "SSCC",
        "01" => "GTIN",
        "02" => "GTIN of contained items",
        "10" => "batch",
        "11" => "production date",
        "13" => "packaging date",
        "15" => "best before date",
        "16" => "sell by date",
        "17" => "expiry date",
        "21" => "serial number",
        "7003" => "expiry date and time",
        "7006" => "first freeze date",
        _ => "data",
    }
}

/// The element string `(01)09506000134352(17)201231(10)ABC123` as printed under a symbol
/// (spaces around values allowed: labels print them).
fn parse_human_readable(at: &Cursor<'_>, today: NaiveDate) -> Result<Elements, BarcodeError> {
    let data = at.chars;
    let mut elements = Elements(Vec::new(), None);
    let mut i = 0;
    while i < data.len() {
        if data[i] == ' ' {
            i += 1;
            continue;
        }
        if data[i] != '(' {
            return Err(bad_character(
                None,
                at.base + i,
                data[i],
                "a printed element string (an AI in parentheses expected)",
            ));
        }
        let close = data[i + 1..]
            .iter()
            .position(|c| *c == ')')
            .map(|p| i + 1 + p);
        let Some(close) = close else {
            return Err(truncated_ai(
                &data[i + 1..].iter().collect::<String>(),
                at.base + i,
            ));
        };
        let ai: String = data[i + 1..close].iter().collect();
        let Some(spec) = (ai.len() >= 2 && ai.bytes().all(|b| b.is_ascii_digit()))
            .then(|| ai_spec(&ai))
            .flatten()
        else {
            return Err(unknown_ai(&ai, at.base + i + 1));
        };
        let mut start = close + 1;
        let mut end = data[start..]
            .iter()
            .position(|c| *c == '(')
            .map_or(data.len(), |p| start + p);
        i = end;
        while start < end && data[start] == ' ' {
            start += 1;
        }
        while end > start && data[end - 1] == ' ' {
            end -= 1;
        }
        let value = &data[start..end];
        if value.len() < spec.min {
            return Err(truncated(&ai, spec, value, at.base + start));
        }
        if value.len() > spec.max {
            return Err(too_long(&ai, spec, value, at.base + start));
        }
        let date = check_value(&ai, spec, value, at.base + start, today)?;
        if ai == "17" {
            elements.1 = date;
        }
        elements.push(ai, value)?;
    }
    Ok(elements)
}

/// An element string as a scanner sends it: AIs of fixed length read by length, the others up
/// to GS (or the replacement character, or the end).
fn parse_element_string(
    at: &Cursor<'_>,
    is_gs: &dyn Fn(char) -> bool,
    today: NaiveDate,
) -> Result<Elements, BarcodeError> {
    let data = at.chars;
    let mut elements = Elements(Vec::new(), None);
    let mut i = 0;
    while i < data.len() {
        if is_gs(data[i]) {
            i += 1;
            continue;
        }
        let head: String = data[i..(i + 2).min(data.len())].iter().collect();
        if !head.bytes().all(|b| b.is_ascii_digit()) {
            let ai: String = data[i..(i + 4).min(data.len())]
                .iter()
                .take_while(|c| !is_gs(**c))
                .collect();
            return Err(unknown_ai(&ai, at.base + i));
        }
        let len = if head.len() < 2 { 2 } else { ai_length(&head) };
        if i + len > data.len() || data[i..i + len].iter().any(|c| !c.is_ascii_digit()) {
            let ai: String = data[i..(i + len).min(data.len())].iter().collect();
            if i + len > data.len() {
                return Err(truncated_ai(&ai, at.base + i));
            }
            return Err(unknown_ai(&ai, at.base + i));
        }
        let ai: String = data[i..i + len].iter().collect();
        let Some(spec) = ai_spec(&ai) else {
            return Err(unknown_ai(&ai, at.base + i));
        };
        let start = i + len;
        let value = if spec.min == spec.max {
            let end = (start + spec.max).min(data.len());
            let value = &data[start..end];
            if let Some(g) = value.iter().position(|c| is_gs(*c)) {
                return Err(truncated(&ai, spec, &value[..g], at.base + start));
            }
            if value.len() < spec.min {
                return Err(truncated(&ai, spec, value, at.base + start));
            }
            value
        } else {
            let end = data[start..]
                .iter()
                .position(|c| is_gs(*c))
                .map_or(data.len(), |p| start + p);
            let value = &data[start..end];
            if value.len() < spec.min {
                return Err(truncated(&ai, spec, value, at.base + start));
            }
            if value.len() > spec.max {
                return Err(too_long(&ai, spec, value, at.base + start));
            }
            value
        };
        let date = check_value(&ai, spec, value, at.base + start, today)?;
        if ai == "17" {
            elements.1 = date;
        }
        elements.push(ai, value)?;
        i = start + value.len();
    }
    Ok(elements)
}

impl Elements {
    /// Adds an element; the same AI twice must hold the same value (GS1 §4.14.1).
    fn push(&mut self, ai: String, value: &[char]) -> Result<(), BarcodeError> {
        let value: String = value.iter().collect();
        if let Some((_, before)) = self.0.iter().find(|(a, _)| *a == ai) {
            if *before != value {
                return Err(BarcodeError::new(
                    UNKNOWN_FORMAT,
                    format!("AI {ai} appears twice, with {before:?} and {value:?}"),
                    json!({ "ai": ai, "value": value, "first": before }),
                ));
            }
            return Ok(());
        }
        self.0.push((ai, value));
        Ok(())
    }

    fn get(&self, ai: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(a, _)| a == ai)
            .map(|(_, v)| v.as_str())
    }
}

fn unknown_ai(ai: &str, position: usize) -> BarcodeError {
    BarcodeError::new(
        UNKNOWN_AI,
        format!("{ai:?} at position {position} is no application identifier this parser knows"),
        json!({ "ai": ai, "position": position }),
    )
}

fn truncated_ai(ai: &str, position: usize) -> BarcodeError {
    BarcodeError::new(
        TRUNCATED,
        format!("the scan ends inside an application identifier ({ai:?} at position {position})"),
        json!({ "ai": ai, "position": position, "value": "" }),
    )
}

fn truncated(ai: &str, spec: Spec, value: &[char], position: usize) -> BarcodeError {
    let value: String = value.iter().collect();
    let wanted = if spec.min == spec.max {
        format!("{} characters", spec.min)
    } else {
        format!("at least {} characters", spec.min)
    };
    BarcodeError::new(
        TRUNCATED,
        format!(
            "AI {ai} ({}) at position {position} is cut short: {value:?} where {wanted} are needed",
            ai_name(ai)
        ),
        json!({ "ai": ai, "position": position, "value": value, "expected_length": spec.min }),
    )
}

fn too_long(ai: &str, spec: Spec, value: &[char], position: usize) -> BarcodeError {
    let value: String = value.iter().collect();
    BarcodeError::new(
        UNKNOWN_FORMAT,
        format!(
            "AI {ai} ({}) at position {position} holds {} characters, at most {} allowed (a GS separator missing?)",
            ai_name(ai),
            value.chars().count(),
            spec.max
        ),
        json!({ "ai": ai, "position": position, "value": value, "max_length": spec.max }),
    )
}

/// GS1's character set 82: what an alphanumeric AI may hold.
fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

fn check_value(
    ai: &str,
    spec: Spec,
    value: &[char],
    position: usize,
    today: NaiveDate,
) -> Result<Option<NaiveDate>, BarcodeError> {
    let allowed = |c: &char| {
        if spec.numeric {
            c.is_ascii_digit()
        } else {
            is_cset82(*c)
        }
    };
    if let Some(bad) = value.iter().position(|c| !allowed(c)) {
        return Err(bad_character(
            Some(ai),
            position + bad,
            value[bad],
            ai_name(ai),
        ));
    }
    match spec.check {
        Check::None => Ok(None),
        Check::Digit => verify_check_digit(Some(ai), value, position).map(|()| None),
        Check::Date(zero_day) => date_of(ai, value, position, today, zero_day).map(Some),
        Check::DateTime => {
            date_of(ai, &value[..6], position, today, false)?;
            let hh = two(&value[6..8]);
            let mm = two(&value[8..10]);
            if hh > 23 || mm > 59 {
                return Err(bad_date(ai, value, position, "the time is no time of day"));
            }
            Ok(None)
        }
    }
}

fn two(d: &[char]) -> u32 {
    d.iter()
        .fold(0, |acc, c| acc * 10 + c.to_digit(10).unwrap_or(0))
}

fn bad_date(ai: &str, value: &[char], position: usize, why: &str) -> BarcodeError {
    let value: String = value.iter().collect();
    BarcodeError::new(
        BAD_DATE,
        format!(
            "AI {ai} ({}) at position {position}: {value:?} is not a date ({why})",
            ai_name(ai)
        ),
        json!({ "ai": ai, "position": position, "value": value }),
    )
}

/// A YYMMDD date: the century by GS1's sliding window (§7.12: 49 years back, 50 ahead of
/// `today`), day 00 the month's last day where `zero_day` allows it.
fn date_of(
    ai: &str,
    value: &[char],
    position: usize,
    today: NaiveDate,
    zero_day: bool,
) -> Result<NaiveDate, BarcodeError> {
    let yy = i32::try_from(two(&value[0..2])).unwrap_or(0);
    let month = two(&value[2..4]);
    let day = two(&value[4..6]);
    let this = today.year();
    let century = this - this.rem_euclid(100);
    let diff = yy - this.rem_euclid(100);
    let year = if diff >= 51 {
        century - 100 + yy
    } else if diff <= -50 {
        century + 100 + yy
    } else {
        century + yy
    };
    if !(1..=12).contains(&month) {
        return Err(bad_date(ai, value, position, &format!("month {month:02}")));
    }
    if day == 0 {
        if !zero_day {
            return Err(bad_date(ai, value, position, "day 00"));
        }
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        return next
            .and_then(|d| d.pred_opt())
            .ok_or_else(|| bad_date(ai, value, position, "out of range"));
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        bad_date(
            ai,
            value,
            position,
            &format!("{year}-{month:02} has no day {day:02}"),
        )
    })
}

/// 24 digits that start with AI 01 and a GTIN whose check digit is right: a GS1 element string
/// (AI 01 and a date AI, or a bad one), not a veterinary code (the two share their length; a
/// veterinary code passes this test by chance once in a thousand at most).
fn looks_like_gs1_gtin(at: &Cursor<'_>) -> bool {
    let d = at.chars;
    d.len() == 24 && d[0] == '0' && d[1] == '1' && check_digit(&d[2..15]) == d[15]
}

fn gs1_result(elements: Elements) -> Result<Scanned, BarcodeError> {
    let Some(gtin) = elements.get("01") else {
        let ais: Vec<&str> = elements.0.iter().map(|(a, _)| a.as_str()).collect();
        return Err(BarcodeError::new(
            MISSING_GTIN,
            format!(
                "the GS1 code holds AIs {} but no GTIN (AI 01): it names no trade item",
                ais.join(", ")
            ),
            json!({ "ais": ais }),
        ));
    };
    // The values were checked on the way in: the GTIN's check digit is valid.
    Ok(Scanned::Gs1 {
        gtin: Gtin(gtin.to_owned()),
        expiry: elements.1,
        batch: elements.get("10").map(str::to_owned),
        serial: elements.get("21").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
    }

    fn on(raw: &str, today: &str) -> Result<Scanned, BarcodeError> {
        parse_on(raw, &Options::default(), day(today))
    }

    /// Every case of `tests/fixtures/barcodes.json`, the file the client's parser is tested on
    /// too (web/unit/barcode.test.mjs).
    #[test]
    fn every_case_of_the_shared_fixture_parses_as_it_says() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/barcodes.json"
        );
        let text = std::fs::read_to_string(path).expect("the fixture file");
        let fixture: Value = serde_json::from_str(&text).expect("the fixture is JSON");
        let cases = fixture["cases"].as_array().expect("cases");
        assert!(cases.len() >= 40, "{} cases", cases.len());
        let mut failures = Vec::new();
        for case in cases {
            let name = case["name"].as_str().expect("a name");
            let raw = case["raw"].as_str().expect("raw");
            let gs_replacement = case["options"]["gs_replacement"]
                .as_str()
                .and_then(|s| s.chars().next());
            let today = day(case["today"].as_str().expect("today"));
            let got = parse_on(raw, &Options { gs_replacement }, today);
            match (got, case.get("expect"), case["error"].as_str()) {
                (Ok(scanned), Some(expect), None) => {
                    if scanned.to_json() != *expect {
                        failures.push(format!("{name}: got {}", scanned.to_json()));
                    }
                }
                (Err(e), None, Some(code)) => {
                    assert!(BarcodeError::CODES.contains(&e.code), "{name}: {}", e.code);
                    assert!(!e.message.is_empty(), "{name}");
                    if e.code != code {
                        failures.push(format!("{name}: got {} ({})", e.code, e.message));
                    } else if let Some(params) = case.get("params")
                        && *params != e.params
                    {
                        failures.push(format!("{name}: params {}", e.params));
                    }
                }
                (Ok(scanned), _, Some(code)) => {
                    failures.push(format!(
                        "{name}: expected {code}, got {}",
                        scanned.to_json()
                    ));
                }
                (Err(e), _, _) => failures.push(format!("{name}: {} ({})", e.code, e.message)),
                (Ok(_), None, None) => failures.push(format!("{name}: the case expects nothing")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_gtin_of_any_length_becomes_fourteen_digits_with_its_check_digit_verified() {
        for (raw, gtin14) in [
            ("96385074", "00000096385074"),
            ("036000291452", "00036000291452"),
            ("4006381333931", "04006381333931"),
            ("09506000134352", "09506000134352"),
        ] {
            assert_eq!(Gtin::parse(raw).expect(raw).as_str(), gtin14);
        }
        assert_eq!(
            Gtin::parse("4006381333932").map_err(|e| e.code),
            Err(CHECK_DIGIT)
        );
        assert_eq!(
            Gtin::parse("40063813339").map_err(|e| e.code),
            Err(UNKNOWN_FORMAT)
        );
        assert_eq!(
            Gtin::parse("40063813339x1").map_err(|e| e.code),
            Err(BAD_CHARACTER)
        );
    }

    #[test]
    fn a_serialised_pack_has_a_key_and_a_plain_gtin_has_none() {
        let with_serial = on("]d20109506000134352211234", "2026-12-07").expect("parses");
        assert_eq!(
            with_serial.serial_key().as_deref(),
            Some("gs1:09506000134352:1234")
        );
        assert_eq!(with_serial.lookup(), ("gtin", "09506000134352"));
        let plain = on("4006381333931", "2026-12-07").expect("parses");
        assert_eq!(plain.serial_key(), None);
        let cn = on("81902340012345678901", "2026-12-07").expect("parses");
        assert_eq!(cn.lookup(), ("cn_drug", "8190234"));
        assert_eq!(cn.serial_key().as_deref(), Some("cn:81902340012345678901"));
        let vet = on("210040002400123456789012", "2026-12-07").expect("parses");
        assert_eq!(vet.lookup(), ("vet_drug", "210040002400123456789012"));
    }

    #[test]
    fn the_century_of_a_two_digit_year_slides_with_today() {
        let expiry = |yy: &str, today: &str| match on(&format!("010950600013435217{yy}0101"), today)
        {
            Ok(Scanned::Gs1 { expiry, .. }) => expiry.map(|d| d.year()),
            other => panic!("{other:?}"),
        };
        assert_eq!(expiry("76", "2026-12-07"), Some(2076));
        assert_eq!(expiry("77", "2026-12-07"), Some(1977));
        assert_eq!(expiry("00", "2049-01-01"), Some(2000));
        assert_eq!(expiry("99", "2049-01-01"), Some(2099));
        assert_eq!(expiry("00", "2051-01-01"), Some(2100));
        assert_eq!(expiry("49", "1999-06-01"), Some(2049));
        assert_eq!(expiry("50", "1999-06-01"), Some(1950));
    }

    #[test]
    fn an_error_says_what_is_wrong_and_where() {
        let e = on("010950600013435217991332", "2026-12-07").expect_err("month 13");
        assert_eq!(e.code, BAD_DATE);
        assert_eq!(
            e.params,
            json!({"ai": "17", "position": 18, "value": "991332"})
        );
        assert!(
            e.message.contains("AI 17") && e.message.contains("position 18"),
            "{e}"
        );
        assert_eq!(e.to_string(), e.message);
        let e = on("(01)09506000134353", "2026-12-07").expect_err("check digit");
        assert!(
            e.message.contains("check digit 3") && e.message.contains("give 2"),
            "{e}"
        );
    }

    #[test]
    fn parse_reads_two_digit_years_against_the_clock() {
        let this_year = chrono::Local::now().date_naive().year();
        let yy = this_year.rem_euclid(100);
        let raw = format!("(01)09506000134352(17){yy:02}0600");
        match parse(&raw, &Options::default()) {
            Ok(Scanned::Gs1 {
                expiry: Some(d), ..
            }) => assert_eq!((d.year(), d.month(), d.day()), (this_year, 6, 30)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn odd_input_is_refused_without_a_panic() {
        for raw in [
            "(",
            "()",
            "(0",
            "(01",
            "(01)",
            "]",
            "]d",
            "\u{1d}",
            "[)>\u{1e}05\u{1d}",
            "01\u{1d}",
            "0109506000134352\u{1d}\u{1d}",
            "(7003)2612312460",
            "0109506000134352(10)x",
            "é",
            "０",
        ] {
            let _ = on(raw, "2026-12-07");
        }
        let long = "1".repeat(MAX_CHARS + 1);
        assert_eq!(
            on(&long, "2026-12-07").map_err(|e| e.code),
            Err(UNKNOWN_FORMAT)
        );
    }
}
