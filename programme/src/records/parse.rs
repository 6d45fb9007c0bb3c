//! From cells (a sheet row, or a JSON body turned into cells) to a staged row: every value
//! parsed by its field's type, the village linked by the one linker, the point converted to
//! WGS84 with its H3 cells, the jurisdiction checked, the rules across fields applied. Every
//! problem is a [`RowError`] naming the row, the column, the field, the value and the reason.

use echinomap_domain::{IdNumber, PlaceCode};
use echinomap_geodata::gcj02::{Crs, LonLat};
use echinomap_geodata::import::values;
use echinomap_geodata::linker::{LinkMethod, Linker};
use serde::Serialize;

use super::spec::{Point, RegisterSpec, Ty, Village};

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
    pub reason: String,
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
pub fn parse_value(ty: Ty, raw: &str) -> Result<String, String> {
    match ty {
        Ty::Text => {
            if raw.chars().count() > 500 {
                Err("longer than 500 characters".to_owned())
            } else {
                Ok(raw.to_owned())
            }
        }
        Ty::Int { min, max } => {
            let v = values::parse_decimal(raw).map_err(|e| e.to_string())?;
            if v.fract() != 0.0 {
                return Err(format!("{raw:?} is not a whole number"));
            }
            if v < min as f64 || v > max as f64 {
                return Err(format!("{raw} is outside {min}..={max}"));
            }
            Ok(format!("{}", v as i64))
        }
        Ty::Dec { min, max } => {
            let v = values::parse_decimal(raw).map_err(|e| e.to_string())?;
            if v < min || v > max {
                return Err(format!("{raw} is outside {min}..={max}"));
            }
            Ok(v.to_string())
        }
        Ty::Date => values::parse_date(raw)
            .map(|d| d.to_string())
            .map_err(|e| e.to_string()),
        Ty::Bool => values::parse_bool(raw)
            .map(|b| b.to_string())
            .map_err(|e| e.to_string()),
        Ty::Enum(e) => e.parse(raw).map(str::to_owned).map_err(|e| e.to_string()),
        Ty::IdNumber => IdNumber::parse(raw)
            .map(|n| n.expose().to_owned())
            .map_err(|e| e.to_string()),
        Ty::Phone => {
            let ok = (5..=20).contains(&raw.len())
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+- ".contains(&b));
            if ok {
                Ok(raw.to_owned())
            } else {
                Err("a phone number is 5 to 20 digits, spaces, + or -".to_owned())
            }
        }
    }
}

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
    let err = |col: Option<usize>, field: &str, value: Option<&str>, reason: String| RowError {
        row,
        column: col.and_then(|c| layout.headers.get(c).cloned()),
        field: Some(field.to_owned()),
        value: value.map(str::to_owned),
        reason,
    };
    let mut out = Vec::with_capacity(spec.fields.len());
    for (field, col) in spec.fields.iter().zip(&layout.field_col) {
        match cell(cells, *col) {
            Some(raw) => match parse_value(field.ty, raw) {
                Ok(v) => out.push(Some(v)),
                Err(reason) => {
                    errors.push(err(*col, field.name, Some(raw), reason));
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
                        format!("{} is required", field.name),
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
                            Err(e) => errors.push(err(layout.lon, "lon", Some(x), e.to_string())),
                        }
                    }
                    Err(e) => errors.push(err(layout.lon, "lon", Some(x), e.to_string())),
                },
                (Err(e), _) => errors.push(err(layout.lon, "lon", Some(x), e.to_string())),
                (_, Err(e)) => errors.push(err(layout.lat, "lat", Some(y), e.to_string())),
            },
            (Some(x), None) => errors.push(err(
                layout.lat,
                "lat",
                Some(x),
                "lon without lat".to_owned(),
            )),
            (None, Some(y)) => errors.push(err(
                layout.lon,
                "lon",
                Some(y),
                "lat without lon".to_owned(),
            )),
            (None, None) => {
                if spec.point == Point::Required && (opts.require_all || layout.lon.is_some()) {
                    errors.push(err(
                        layout.lon,
                        "lon",
                        None,
                        "a position (lon, lat) is required".to_owned(),
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
                        format!("village {} lies outside your jurisdiction {scope}", l.code),
                    )),
                }
            }
            Some((col, field, raw, Err(e))) => {
                errors.push(err(col, field, Some(raw), e.to_string()))
            }
            None => {
                if required && fallback.is_none() && (opts.require_all || layout.has_link()) {
                    errors.push(err(
                        layout.village_code,
                        "village_code",
                        None,
                        "the village is required: give village_code, village (and township) or lon and lat".to_owned(),
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
        for (field, message, holds) in spec.checks {
            // Only rules whose fields the row gives are checked on a partial update.
            if !holds(&get) {
                let i = spec.fields.iter().position(|f| f.name == *field);
                let col = i.and_then(|i| layout.field_col[i]);
                let value = get(field);
                errors.push(err(col, field, value.as_deref(), (*message).to_owned()));
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
        assert!(e.contains("check"), "{e}");
        assert!(parse_value(Ty::Phone, "call me").is_err());
    }
}
