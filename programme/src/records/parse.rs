//! From cells (a sheet row, or a JSON body turned into cells) to a staged row: every value
//! parsed by its field's type, the village linked by the one linker, the point converted to
//! WGS84 with its H3 cells, the jurisdiction checked, the rules across fields applied. Every
//! problem is a [`RowError`] naming the row, the column, the field, the value and the reason:
//! a stable code with its parameters for the client, which words it in the user's language
//! (`web/src/reasons.ts`), and the English sentence for files and the command line.

use echinomap_domain::{DomainError, IdNumber, PlaceCode};
use echinomap_geodata::gcj02::{CoordinateError, Crs, LonLat};
use echinomap_geodata::import::values;
use echinomap_geodata::linker::{Candidate, LinkError, LinkMethod, Linker};
use serde::Serialize;
use serde_json::{Value, json};

use super::spec::{Check, Point, RegisterSpec, Ty, Village};

/// Every reason code a [`RowError`] may carry (docs/API.md "Reason codes"). The client has a
/// sentence for each; a unit test keeps the list and the code that makes row errors in step.
pub const ALL_CODES: &[&str] = &[
    // One value.
    "required",
    "too_long",
    "not_a_number",
    "not_whole",
    "out_of_range",
    "bad_date",
    "bad_bool",
    "bad_enum",
    "id_number_length",
    "id_number_checksum",
    "id_number_birth_date",
    "id_number_region",
    "bad_phone",
    // The position and the village.
    "lat_without_lon",
    "lon_without_lat",
    "position_required",
    "bad_coordinate",
    "outside_county",
    "village_too_far",
    "no_villages",
    "bad_code",
    "village_not_found",
    "township_not_found",
    "village_ambiguous",
    "village_required",
    "outside_jurisdiction",
    "bad_geometry",
    // What the database knows.
    "reference_not_found",
    "reference_ambiguous",
    "record_not_found",
    "duplicate",
    "duplicate_in_file",
    // A JSON body.
    "unknown_field",
    "bad_json_value",
    "person_field",
    // Rules across fields (`spec::Check`).
    "date_order",
    "not_more",
    "needs",
    "together",
    "dog_status_on",
    "person_sex_birth_date",
    "stage_ce_or_pnm",
    "issue_needs_village",
    "only_adjustment_negative",
    "organ_matches_infected",
    "disposal_done_needs_method",
];

/// Why a value or a row is refused: a code from [`ALL_CODES`], its parameters (a JSON object)
/// and the English sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub code: &'static str,
    pub params: Value,
    pub text: String,
}

impl Reason {
    pub fn new(code: &'static str, params: Value, text: impl Into<String>) -> Self {
        debug_assert!(params.is_object(), "the params of {code} are an object");
        Self {
            code,
            params,
            text: text.into(),
        }
    }

    /// A reason without parameters.
    pub fn plain(code: &'static str, text: impl Into<String>) -> Self {
        Self::new(code, json!({}), text)
    }

    /// Why a value of a register's type is refused.
    fn value(ty: Ty, e: &values::ValueError) -> Self {
        let text = e.to_string();
        match ty {
            Ty::Date => Self::plain("bad_date", text),
            Ty::Bool => Self::plain("bad_bool", text),
            Ty::Enum(t) => Self::new(
                "bad_enum",
                json!({ "type": t.sql_type, "expected": t.labels().collect::<Vec<_>>() }),
                text,
            ),
            _ => Self::plain("not_a_number", text),
        }
    }

    /// Why an ID number is refused.
    pub fn id_number(e: &DomainError) -> Self {
        let text = e.to_string();
        match e {
            DomainError::IdNumberShape { len } => {
                Self::new("id_number_length", json!({ "length": len }), text)
            }
            DomainError::IdNumberChecksum { .. } => Self::plain("id_number_checksum", text),
            DomainError::IdNumberRegion(region) => {
                Self::new("id_number_region", json!({ "region": region }), text)
            }
            _ => Self::plain("id_number_birth_date", text),
        }
    }

    /// Why a coordinate is refused.
    pub fn coordinate(e: &CoordinateError) -> Self {
        let text = e.to_string();
        match e {
            CoordinateError::Latitude { .. } => Self::new(
                "bad_coordinate",
                json!({ "axis": "lat", "min": -90, "max": 90 }),
                text,
            ),
            _ => Self::new(
                "bad_coordinate",
                json!({ "axis": "lon", "min": -180, "max": 180 }),
                text,
            ),
        }
    }

    /// Why the linker found no village.
    pub fn link(e: &LinkError) -> Self {
        let text = e.to_string();
        match e {
            LinkError::MalformedCode { code, .. } => Self::new(
                "bad_code",
                json!({ "value": code, "digits": echinomap_domain::VillageCode::DIGITS }),
                text,
            ),
            LinkError::UnknownCode(code) => {
                Self::new("village_not_found", json!({ "code": code }), text)
            }
            LinkError::EmptyName => Self::plain("required", text),
            LinkError::UnknownTownship(t) => {
                Self::new("township_not_found", json!({ "township": t }), text)
            }
            LinkError::UnknownName {
                name,
                township,
                closest,
                elsewhere,
            } => Self::new(
                "village_not_found",
                json!({
                    "name": name,
                    "township": township,
                    "closest": closest.as_ref().map(|c| candidate(&c.village)),
                    "elsewhere": elsewhere.iter().map(candidate).collect::<Vec<_>>(),
                }),
                text,
            ),
            LinkError::AmbiguousName {
                name,
                township,
                candidates,
            } => Self::new(
                "village_ambiguous",
                json!({
                    "name": name,
                    "township": township,
                    "candidates": candidates.iter().map(candidate).collect::<Vec<_>>(),
                }),
                text,
            ),
            LinkError::Coordinate(c) => Self::coordinate(c),
            LinkError::OutsideCounty { lon, lat } => {
                Self::new("outside_county", json!({ "lon": lon, "lat": lat }), text)
            }
            LinkError::TooFar {
                nearest,
                distance_m,
                max_distance_m,
                ..
            } => Self::new(
                "village_too_far",
                json!({
                    "nearest": candidate(nearest),
                    "distance_m": distance_m.round(),
                    "max_distance_m": max_distance_m,
                }),
                text,
            ),
            LinkError::NoVillages => Self::plain("no_villages", text),
        }
    }

    /// A village outside the caller's jurisdiction.
    pub fn outside_jurisdiction(village: &str, scope: &PlaceCode) -> Self {
        Self::new(
            "outside_jurisdiction",
            json!({ "village": village, "jurisdiction": scope.as_str() }),
            format!("village {village} lies outside your jurisdiction {scope}"),
        )
    }

    /// A record that needs its village and has none.
    pub fn village_required() -> Self {
        Self::plain(
            "village_required",
            "the village is required: give village_code, village (and township) or lon and lat",
        )
    }
}

/// Why a row breaks a rule across its fields.
pub fn check_reason(check: &Check) -> Reason {
    let params = serde_json::from_str(check.params).unwrap_or_else(|_| json!({}));
    Reason::new(check.code, params, check.message)
}

fn candidate(c: &Candidate) -> Value {
    json!({ "code": c.code, "name": c.name, "township_name": c.township_name })
}

/// One refused value or row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    /// The row number as the user sees it (spreadsheet row; 1 for a JSON body).
    pub row: usize,
    /// The column header as written in the file (the field name for JSON).
    pub column: Option<String>,
    /// The canonical field.
    pub field: Option<String>,
    pub value: Option<String>,
    /// What is wrong, for the client: one of [`ALL_CODES`].
    pub code: &'static str,
    /// The code's parameters (a JSON object: `{"min": 0, "max": 100}`).
    pub params: Value,
    /// The same in an English sentence, for files and the command line.
    pub reason: String,
}

impl RowError {
    pub fn new(
        row: usize,
        column: Option<String>,
        field: Option<&str>,
        value: Option<String>,
        why: Reason,
    ) -> Self {
        Self {
            row,
            column,
            field: field.map(str::to_owned),
            value,
            code: why.code,
            params: why.params,
            reason: why.text,
        }
    }
}

/// Where each field and link field is in a row.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The header of each column as written.
    pub headers: Vec<String>,
    /// For each field of the spec, its column.
    pub field_col: Vec<Option<usize>>,
    pub village_code: Option<usize>,
    pub village: Option<usize>,
    pub township: Option<usize>,
    pub lon: Option<usize>,
    pub lat: Option<usize>,
}

impl Layout {
    /// `fields[i]` is the canonical field of column `i` (None: ignored).
    pub fn new(spec: &RegisterSpec, headers: Vec<String>, fields: &[Option<&str>]) -> Self {
        let find = |name: &str| fields.iter().position(|f| *f == Some(name));
        Self {
            field_col: spec.fields.iter().map(|f| find(f.name)).collect(),
            village_code: find("village_code"),
            village: find("village"),
            township: find("township"),
            lon: find("lon"),
            lat: find("lat"),
            headers,
        }
    }

    pub fn has(&self, spec: &RegisterSpec, field: &str) -> bool {
        spec.fields
            .iter()
            .position(|f| f.name == field)
            .is_some_and(|i| self.field_col[i].is_some())
    }

    pub fn has_link(&self) -> bool {
        self.village_code.is_some() || self.village.is_some() || self.lon.is_some()
    }

    pub fn has_point(&self) -> bool {
        self.lon.is_some() && self.lat.is_some()
    }
}

/// How rows are parsed.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub crs: Crs,
    /// The caller's jurisdiction (`None`: the whole database, the command line).
    pub scope: Option<&'a PlaceCode>,
    /// Every required field must have a value (a new record); false for a partial update.
    pub require_all: bool,
    /// On a partial update, the record's stored values (field → staging text): the rules
    /// across fields read them for the fields the update leaves as they are.
    pub stored: Option<&'a std::collections::BTreeMap<String, String>>,
}

/// A row ready for the staging table.
#[derive(Debug, Clone)]
pub struct Staged {
    pub row: usize,
    /// One value per spec field, as the staging column's text.
    pub values: Vec<Option<String>>,
    pub link: Option<(String, LinkMethod, Option<f64>)>,
    /// lon, lat (WGS84) and the H3 cells r7–r9.
    pub point: Option<(f64, f64, [u64; 3])>,
}

fn cell(cells: &[String], col: Option<usize>) -> Option<&str> {
    col.and_then(|c| cells.get(c))
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
}

/// Parses one value of type `ty` into the text the staging column takes.
pub fn parse_value(ty: Ty, raw: &str) -> Result<String, Reason> {
    let decimal = |raw: &str| values::parse_decimal(raw).map_err(|e| Reason::value(ty, &e));
    let range = |min: Value, max: Value| {
        Reason::new(
            "out_of_range",
            json!({ "min": min, "max": max }),
            format!("{raw} is outside {min}..={max}"),
        )
    };
    match ty {
        Ty::Text => {
            if raw.chars().count() > MAX_TEXT {
                Err(Reason::new(
                    "too_long",
                    json!({ "max": MAX_TEXT }),
                    format!("longer than {MAX_TEXT} characters"),
                ))
            } else {
                Ok(raw.to_owned())
            }
        }
        Ty::Int { min, max } => {
            let v = decimal(raw)?;
            if v.fract() != 0.0 {
                return Err(Reason::plain(
                    "not_whole",
                    format!("{raw:?} is not a whole number"),
                ));
            }
            if v < min as f64 || v > max as f64 {
                return Err(range(json!(min), json!(max)));
            }
            Ok(format!("{}", v as i64))
        }
        Ty::Dec { min, max } => {
            let v = decimal(raw)?;
            if v < min || v > max {
                return Err(range(json!(min), json!(max)));
            }
            Ok(v.to_string())
        }
        Ty::Date => values::parse_date(raw)
            .map(|d| d.to_string())
            .map_err(|e| Reason::value(ty, &e)),
        Ty::Bool => values::parse_bool(raw)
            .map(|b| b.to_string())
            .map_err(|e| Reason::value(ty, &e)),
        Ty::Enum(e) => e
            .parse(raw)
            .map_err(|e| Reason::value(ty, &e))
            .map(str::to_owned),
        Ty::IdNumber => IdNumber::parse(raw)
            .map(|n| n.expose().to_owned())
            .map_err(|e| Reason::id_number(&e)),
        Ty::Phone => {
            let ok = (5..=20).contains(&raw.len())
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+- ".contains(&b));
            if ok {
                Ok(raw.to_owned())
            } else {
                Err(Reason::new(
                    "bad_phone",
                    json!({ "min": 5, "max": 20 }),
                    "a phone number is 5 to 20 digits, spaces, + or -",
                ))
            }
        }
    }
}

/// The longest text a field takes, in characters.
const MAX_TEXT: usize = 500;

/// Parses one row. `cells` are in the layout's column order.
pub fn parse_row(
    spec: &RegisterSpec,
    layout: &Layout,
    linker: &Linker,
    opts: Options<'_>,
    row: usize,
    cells: &[String],
) -> Result<Staged, Vec<RowError>> {
    let mut errors = Vec::new();
    let err = |col: Option<usize>, field: &str, value: Option<&str>, why: Reason| {
        RowError::new(
            row,
            col.and_then(|c| layout.headers.get(c).cloned()),
            Some(field),
            value.map(str::to_owned),
            why,
        )
    };
    let mut out = Vec::with_capacity(spec.fields.len());
    for (field, col) in spec.fields.iter().zip(&layout.field_col) {
        match cell(cells, *col) {
            Some(raw) => match parse_value(field.ty, raw) {
                Ok(v) => out.push(Some(v)),
                Err(why) => {
                    errors.push(err(*col, field.name, Some(raw), why));
                    out.push(None);
                }
            },
            None => {
                let needed = field.required && (opts.require_all || col.is_some());
                if needed {
                    errors.push(err(
                        *col,
                        field.name,
                        None,
                        Reason::plain("required", format!("{} is required", field.name)),
                    ));
                }
                out.push(None);
            }
        }
    }
    // The position, in WGS84.
    let mut point = None;
    let lon_raw = cell(cells, layout.lon);
    let lat_raw = cell(cells, layout.lat);
    if spec.point != Point::None || spec.has_village() {
        match (lon_raw, lat_raw) {
            (Some(x), Some(y)) => match (values::parse_decimal(x), values::parse_decimal(y)) {
                (Ok(lon), Ok(lat)) => match LonLat::new(lon, lat) {
                    Ok(p) => {
                        let p = opts.crs.to_wgs84(p);
                        match echinomap_geodata::gazetteer::h3_cells(p.into()) {
                            Ok(cells) => point = Some((p.lon(), p.lat(), cells)),
                            Err(e) => errors.push(err(
                                layout.lon,
                                "lon",
                                Some(x),
                                Reason::new(
                                    "bad_coordinate",
                                    json!({ "axis": "lon", "min": -180, "max": 180 }),
                                    e.to_string(),
                                ),
                            )),
                        }
                    }
                    Err(e) => {
                        let why = Reason::coordinate(&e);
                        let (col, field, raw) = match e {
                            CoordinateError::Latitude { .. } => (layout.lat, "lat", y),
                            _ => (layout.lon, "lon", x),
                        };
                        errors.push(err(col, field, Some(raw), why));
                    }
                },
                (Err(e), _) => errors.push(err(
                    layout.lon,
                    "lon",
                    Some(x),
                    Reason::plain("not_a_number", e.to_string()),
                )),
                (_, Err(e)) => errors.push(err(
                    layout.lat,
                    "lat",
                    Some(y),
                    Reason::plain("not_a_number", e.to_string()),
                )),
            },
            (Some(x), None) => errors.push(err(
                layout.lat,
                "lat",
                Some(x),
                Reason::plain("lon_without_lat", "lon without lat"),
            )),
            (None, Some(y)) => errors.push(err(
                layout.lon,
                "lon",
                Some(y),
                Reason::plain("lat_without_lon", "lat without lon"),
            )),
            (None, None) => {
                if spec.point == Point::Required && (opts.require_all || layout.lon.is_some()) {
                    errors.push(err(
                        layout.lon,
                        "lon",
                        None,
                        Reason::plain("position_required", "a position (lon, lat) is required"),
                    ));
                }
            }
        }
    }
    // The village: by code, else by name (within the township), else by the point.
    let mut link = None;
    if let Village::Linked {
        required, fallback, ..
    } = spec.village
    {
        let code = cell(cells, layout.village_code);
        let name = cell(cells, layout.village);
        let township = cell(cells, layout.township);
        let result = if let Some(code) = code {
            Some((
                layout.village_code,
                "village_code",
                code,
                linker.link_code(code),
            ))
        } else if let Some(name) = name {
            // A code typed into the name column is still a code.
            let by_code = name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit());
            Some((
                layout.village,
                "village",
                name,
                if by_code {
                    linker.link_code(name)
                } else {
                    linker.link_name(name, township)
                },
            ))
        } else if let Some((lon, lat, _)) = point {
            Some((
                layout.lon,
                "lon",
                lon_raw.unwrap_or_default(),
                linker.link_point(lon, lat),
            ))
        } else {
            None
        };
        match result {
            Some((col, field, raw, Ok(l))) => {
                match opts.scope.filter(|s| !s.contains_code(&l.code)) {
                    None => link = Some((l.code, l.method, l.distance_m)),
                    Some(scope) => errors.push(err(
                        col,
                        field,
                        Some(raw),
                        Reason::outside_jurisdiction(&l.code, scope),
                    )),
                }
            }
            Some((col, field, raw, Err(e))) => {
                errors.push(err(col, field, Some(raw), Reason::link(&e)))
            }
            None => {
                if required && fallback.is_none() && (opts.require_all || layout.has_link()) {
                    errors.push(err(
                        layout.village_code,
                        "village_code",
                        None,
                        Reason::village_required(),
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        let get = |name: &str| -> Option<String> {
            if let Some(i) = spec.fields.iter().position(|f| f.name == name) {
                return out[i].clone();
            }
            let col = match name {
                "village_code" => layout.village_code,
                "village" => layout.village,
                "township" => layout.township,
                "lon" => layout.lon,
                "lat" => layout.lat,
                _ => None,
            };
            cell(cells, col).map(str::to_owned)
        };
        for check in spec.checks {
            // On a partial update, a rule is checked only when the row gives one of the fields
            // it reads: the others are the record's and stay as they are (a case's edit does not
            // repeat the patient's sex and birth date).
            let read = std::cell::RefCell::new(Vec::new());
            let tracked = |name: &str| {
                let value = get(name);
                read.borrow_mut().push(value.is_some());
                // A field the update does not give keeps its stored value.
                let given = spec
                    .fields
                    .iter()
                    .position(|f| f.name == name)
                    .is_some_and(|i| layout.field_col[i].is_some());
                match (value, opts.stored) {
                    (None, Some(stored)) if !given => stored.get(name).cloned(),
                    (value, _) => value,
                }
            };
            let holds = (check.holds)(&tracked);
            let touched = read.borrow().iter().any(|given| *given);
            if !holds && (opts.require_all || touched) {
                let i = spec.fields.iter().position(|f| f.name == check.field);
                let col = i.and_then(|i| layout.field_col[i]);
                let value = get(check.field);
                errors.push(err(col, check.field, value.as_deref(), check_reason(check)));
            }
        }
    }
    if errors.is_empty() {
        Ok(Staged {
            row,
            values: out,
            link,
            point,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use echinomap_geodata::import::enums;

    #[test]
    fn values_parse_to_the_staging_text() {
        assert_eq!(parse_value(Ty::Date, "2024年3月5日").unwrap(), "2024-03-05");
        assert_eq!(parse_value(Ty::Int { min: 0, max: 10 }, "７").unwrap(), "7");
        assert!(parse_value(Ty::Int { min: 0, max: 10 }, "11").is_err());
        assert!(parse_value(Ty::Int { min: 0, max: 10 }, "1.5").is_err());
        assert_eq!(
            parse_value(Ty::Enum(&enums::TEST_RESULT), "阳性").unwrap(),
            "positive"
        );
        assert_eq!(
            parse_value(Ty::IdNumber, "11010519491231002x").unwrap(),
            "11010519491231002X"
        );
        let e = parse_value(Ty::IdNumber, "110105194912310021").unwrap_err();
        assert!(e.text.contains("check"), "{e:?}");
        assert_eq!(e.code, "id_number_checksum");
        assert!(parse_value(Ty::Phone, "call me").is_err());
    }

    #[test]
    fn every_refusal_of_a_value_has_its_code_and_parameters() {
        let code = |ty: Ty, raw: &str| {
            let e = parse_value(ty, raw).unwrap_err();
            assert!(e.params.is_object(), "{e:?}");
            (e.code, e.params)
        };
        let int = Ty::Int { min: 0, max: 100 };
        assert_eq!(code(int, "x").0, "not_a_number");
        assert_eq!(code(int, "1.5").0, "not_whole");
        assert_eq!(
            code(int, "101"),
            ("out_of_range", json!({"min": 0, "max": 100}))
        );
        assert_eq!(code(Ty::Date, "2024-13-01").0, "bad_date");
        assert_eq!(code(Ty::Bool, "maybe").0, "bad_bool");
        let (c, p) = code(Ty::Enum(&enums::SEX), "cat");
        assert_eq!(c, "bad_enum");
        assert_eq!(p["expected"], json!(["male", "female", "unknown"]));
        assert_eq!(code(Ty::Text, &"x".repeat(501)).0, "too_long");
        assert_eq!(code(Ty::IdNumber, "123").0, "id_number_length");
        assert_eq!(
            code(Ty::IdNumber, "110105194913310027").0,
            "id_number_checksum"
        );
        let first17 = "10010519491231002";
        let no_province = format!("{first17}{}", IdNumber::check_character(first17));
        assert_eq!(
            code(Ty::IdNumber, &no_province),
            ("id_number_region", json!({"region": "10"}))
        );
        assert_eq!(code(Ty::Phone, "call me").0, "bad_phone");
    }

    /// The string literals that follow `pattern` in `source`.
    fn literals_after<'a>(source: &'a str, pattern: &str) -> Vec<&'a str> {
        source
            .match_indices(pattern)
            .filter_map(|(i, _)| {
                let rest = source[i + pattern.len()..].trim_start();
                let rest = rest.strip_prefix('"')?;
                rest.split('"').next()
            })
            .collect()
    }

    #[test]
    fn all_codes_lists_every_code_a_row_error_is_made_with_and_no_other() {
        let sources = [
            include_str!("parse.rs"),
            include_str!("write.rs"),
            include_str!("one.rs"),
            include_str!("import.rs"),
            include_str!("villages.rs"),
            include_str!("spec.rs"),
            include_str!("round.rs"),
        ];
        let mut used = std::collections::BTreeSet::new();
        for source in sources {
            // The tests' own code is not a code the records make.
            let source = source.split("#[cfg(test)]").next().unwrap_or(source);
            for pattern in [
                "Reason::new(",
                "Reason::plain(",
                "Self::new(",
                "Self::plain(",
                "code: ",
            ] {
                for code in literals_after(source, pattern) {
                    used.insert(code);
                }
            }
            // A field of a JSON body refused as a whole: `field_refused(field, "code", ...)`.
            for (i, _) in source.match_indices("field_refused(") {
                let args = &source[i..];
                let code = args
                    .split_once(',')
                    .and_then(|(_, rest)| rest.trim_start().strip_prefix('"')?.split('"').next());
                used.extend(code);
            }
        }
        // Codes of the records' top-level errors (not row errors) are listed in the client too,
        // but not here.
        for top in [
            "duplicate_record",
            "record_in_use",
            "invalid_body",
            "invalid_idempotency_key",
            "unknown_kind",
            "county_register",
            "bad_headers",
            "not_the_format",
            "file_too_large",
            "wrong_encoding",
            "unknown_sheet",
            "empty_file",
            "malformed_file",
        ] {
            used.remove(top);
        }
        for code in &used {
            assert!(
                ALL_CODES.contains(code),
                "{code} is made but not in ALL_CODES"
            );
        }
        for code in ALL_CODES {
            assert!(used.contains(code), "{code} is in ALL_CODES but never made");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code} is snake_case"
            );
        }
        let distinct: std::collections::BTreeSet<_> = ALL_CODES.iter().collect();
        assert_eq!(distinct.len(), ALL_CODES.len(), "a code is listed twice");
    }
}
