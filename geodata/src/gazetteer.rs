//! The places of Qapqal county: the county polygon, its 19 township-level units with synthetic
//! Voronoi areas, its village-level units at synthetic positions, the neighbouring counties and the
//! Ili river system, all parsed from the files embedded from `data/` (see `data/SOURCES.md`).
//!
//! Invariants of what [`qapqal`] returns (tested below):
//! - every township seat and every village lies inside the county polygon;
//! - the township areas are the Voronoi cells of the included seats (planar lon/lat metric) clipped
//!   to the county: they cover it without overlap, so a village inside its township's area is also
//!   nearer to its own seat than to any other;
//! - villages are at least [`MIN_VILLAGE_SPACING_M`] apart;
//! - the same input always gives the same positions (a fixed internal seed).

use std::collections::HashMap;

use geo::{
    BooleanOps, Contains, Coord, Distance, Haversine, LineString, MultiPolygon, Point, Polygon,
    Translate,
};
use h3o::{LatLng, Resolution};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use crate::GeodataError;

const COUNTY_GEOJSON: &str = include_str!("../data/qapqal_county.geojson");
const NEIGHBOURS_GEOJSON: &str = include_str!("../data/ili_neighbour_counties.geojson");
const RIVERS_GEOJSON: &str = include_str!("../data/rivers.geojson");
const TOWNSHIPS_CSV: &str = include_str!("../data/townships.csv");
const VILLAGES_CSV: &str = include_str!("../data/villages.csv");

/// The real county's code.
pub const QAPQAL_CODE: &str = "654022";
/// Villages are placed at least this far apart (metres, haversine).
pub const MIN_VILLAGE_SPACING_M: f64 = 500.0;
/// Grid step between synthetic county copies (degrees): larger than the county's extent
/// (1.11° × 0.66°), so copies never overlap the real county or each other.
pub const COPY_STEP_LON: f64 = 1.4;
pub const COPY_STEP_LAT: f64 = 0.8;
/// Copies per grid row in [`Gazetteer::scaled`].
pub const COPY_COLUMNS: u32 = 10;
/// The largest scale [`Gazetteer::scaled`] honours: synthetic codes are `99` + 4 digits.
pub const MAX_SCALE: u32 = 9999;

/// The fixed seed of the synthetic placement: positions are part of the demo's geography and
/// must not change with the demo-data seed.
const PLACEMENT_SEED: u64 = 0x0654_0220_5EED;

/// Which units to include.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GazetteerOptions {
    /// Include the two XPCC regiment units (兵团) and their villages; off by default, as they are
    /// administered by the Corps, not by the county.
    pub include_xpcc: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct County {
    /// 6 digits: `654022`, or `99kkkk` for synthetic copy k.
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub geom: MultiPolygon<f64>,
    pub source: String,
    /// True for the translated copies made by [`Gazetteer::scaled`].
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourCounty {
    pub code: String,
    pub name: String,
    pub geom: MultiPolygon<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct River {
    pub name: Option<String>,
    /// GSHHG WDBII river level (2 = permanent major, 3 = additional).
    pub level: i16,
    pub geom: LineString<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Township {
    /// 9 digits; the first 6 are the county's code.
    pub code: String,
    pub name: String,
    /// SQL `township_kind` label: `town`, `township`, `farm_forest_port` or `xpcc_regiment`.
    pub kind: &'static str,
    pub seat: Point<f64>,
    /// True when no source gives the seat and it was placed here.
    pub seat_synthetic: bool,
    /// The source's confidence grade (`high`, `medium`, `low`, `very low`, `none`).
    pub seat_confidence: String,
    /// Voronoi cell of the seat clipped to the county: always synthetic.
    pub geom: MultiPolygon<f64>,
    pub synthetic: bool,
}

impl Township {
    pub fn county_code(&self) -> &str {
        self.code.get(..6).unwrap_or(&self.code)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Village {
    /// 12 digits; the first 9 are the township's code.
    pub code: String,
    pub township_code: String,
    pub name: String,
    /// SQL `village_kind` label: `village_committee`, `residents_committee` or `farm_unit`.
    pub kind: &'static str,
    pub position: Point<f64>,
    pub synthetic: bool,
    /// Mountain or pastoral village: followed up every 6 months instead of 3.
    pub remote: bool,
}

impl Village {
    pub fn county_code(&self) -> &str {
        self.code.get(..6).unwrap_or(&self.code)
    }

    /// The code without its county prefix (township and village digits): equal across copies.
    pub fn local_code(&self) -> &str {
        self.code.get(6..).unwrap_or(&self.code)
    }
}

/// The places of one or more counties.
#[derive(Debug, Clone, PartialEq)]
pub struct Gazetteer {
    /// The real county first, then synthetic copies.
    pub counties: Vec<County>,
    pub neighbours: Vec<NeighbourCounty>,
    pub rivers: Vec<River>,
    /// County by county, in `townships.csv` order.
    pub townships: Vec<Township>,
    /// County by county, in `villages.csv` order; a village's database id is its index + 1.
    pub villages: Vec<Village>,
}

/// The H3 cells at resolutions 7, 8 and 9 of a WGS84 point.
///
/// The database stores them as `bigint`: write `cell as i64`. H3 indexes use 63 bits (the top
/// bit is reserved and zero), so the cast keeps the bits and the value.
pub fn h3_cells(p: Point<f64>) -> Result<[u64; 3], GeodataError> {
    let ll = LatLng::new(p.y(), p.x()).map_err(|source| GeodataError::InvalidCoordinate {
        lon: p.x(),
        lat: p.y(),
        source,
    })?;
    Ok([
        u64::from(ll.to_cell(Resolution::Seven)),
        u64::from(ll.to_cell(Resolution::Eight)),
        u64::from(ll.to_cell(Resolution::Nine)),
    ])
}

/// Builds the gazetteer of Qapqal from the embedded files.
pub fn qapqal(opts: &GazetteerOptions) -> Result<Gazetteer, GeodataError> {
    let county = parse_county()?;
    let neighbours = parse_neighbours()?;
    let rivers = parse_rivers()?;
    let mut townships = parse_townships(&county.geom, opts)?;
    let seats: Vec<Point<f64>> = townships.iter().map(|t| t.seat).collect();
    for (i, t) in townships.iter_mut().enumerate() {
        t.geom = voronoi_cell(i, &seats, &county.geom);
    }
    let villages = place_villages(&townships, &county.geom, opts)?;
    Ok(Gazetteer {
        counties: vec![county],
        neighbours,
        rivers,
        townships,
        villages,
    })
}

impl Gazetteer {
    /// The gazetteer repeated `scale` times: copy 0 is this one, copy k ≥ 1 is its first county
    /// (polygon, townships, villages) translated by a grid offset of [`COPY_STEP_LON`] ×
    /// [`COPY_STEP_LAT`] degrees east and north, with county code `99{k:04}`, township codes =
    /// county code + the original's last 3 digits, village codes = township code + the original's
    /// last 3 digits, and names suffixed `（合成k）`. `scale` is clamped to 1..=[`MAX_SCALE`].
    ///
    /// Translation keeps containment, so every invariant of [`qapqal`] holds in each copy except
    /// the metric village spacing, which shrinks east–west with the cosine of the latitude (by up
    /// to ~15% at the northern rows of scale 100).
    pub fn scaled(&self, scale: u32) -> Gazetteer {
        let scale = scale.clamp(1, MAX_SCALE);
        let mut out = self.clone();
        let Some(base) = self.counties.first() else {
            return out;
        };
        let base_townships: Vec<&Township> = self
            .townships
            .iter()
            .filter(|t| t.county_code() == base.code)
            .collect();
        let base_villages: Vec<&Village> = self
            .villages
            .iter()
            .filter(|v| v.county_code() == base.code)
            .collect();
        for k in 1..scale {
            let dx = f64::from(k % COPY_COLUMNS) * COPY_STEP_LON;
            let dy = f64::from(k / COPY_COLUMNS) * COPY_STEP_LAT;
            let code = format!("99{k:04}");
            let suffix = format!("（合成{k}）");
            out.counties.push(County {
                code: code.clone(),
                name: format!("{}{suffix}", base.name),
                name_en: format!("{} (synthetic copy {k})", base.name_en),
                geom: base.geom.translate(dx, dy),
                source: format!("synthetic copy {k} of {} ({})", base.code, base.source),
                synthetic: true,
            });
            for t in &base_townships {
                out.townships.push(Township {
                    code: format!("{code}{}", tail(&t.code, 3)),
                    name: format!("{}{suffix}", t.name),
                    kind: t.kind,
                    seat: t.seat.translate(dx, dy),
                    seat_synthetic: true,
                    seat_confidence: t.seat_confidence.clone(),
                    geom: t.geom.translate(dx, dy),
                    synthetic: true,
                });
            }
            for v in &base_villages {
                let township_code = format!("{code}{}", tail(&v.township_code, 3));
                out.villages.push(Village {
                    code: format!("{township_code}{}", tail(&v.code, 3)),
                    township_code,
                    name: format!("{}{suffix}", v.name),
                    kind: v.kind,
                    position: v.position.translate(dx, dy),
                    synthetic: true,
                    remote: v.remote,
                });
            }
        }
        out
    }

    /// The county a township or village code belongs to.
    pub fn county_of(&self, code: &str) -> Option<&County> {
        let prefix = code.get(..6)?;
        self.counties.iter().find(|c| c.code == prefix)
    }
}

fn tail(s: &str, n: usize) -> &str {
    s.get(s.len().saturating_sub(n)..).unwrap_or(s)
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn embedded(file: &'static str) -> impl Fn(String) -> GeodataError {
    move |message| GeodataError::EmbeddedData { file, message }
}

fn features(file: &'static str, text: &str) -> Result<Vec<geojson::Feature>, GeodataError> {
    let fc: geojson::FeatureCollection =
        text.parse()
            .map_err(|e: geojson::Error| GeodataError::EmbeddedData {
                file,
                message: e.to_string(),
            })?;
    Ok(fc.features)
}

fn prop_str(f: &geojson::Feature, key: &str) -> Option<String> {
    f.property(key).and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn feature_geom<T>(file: &'static str, f: &geojson::Feature) -> Result<T, GeodataError>
where
    T: for<'a> TryFrom<&'a geojson::Geometry, Error = geojson::Error>,
{
    let g = f
        .geometry
        .as_ref()
        .ok_or_else(|| embedded(file)("a feature has no geometry".into()))?;
    T::try_from(g).map_err(|e| embedded(file)(e.to_string()))
}

fn parse_county() -> Result<County, GeodataError> {
    const FILE: &str = "qapqal_county.geojson";
    let fs = features(FILE, COUNTY_GEOJSON)?;
    let f = fs
        .iter()
        .find(|f| prop_str(f, "adcode").as_deref() == Some(QAPQAL_CODE))
        .ok_or_else(|| embedded(FILE)(format!("no feature with adcode {QAPQAL_CODE}")))?;
    Ok(County {
        code: QAPQAL_CODE.to_owned(),
        name: prop_str(f, "name").unwrap_or_else(|| "察布查尔锡伯自治县".into()),
        name_en: prop_str(f, "name_en").unwrap_or_else(|| "Qapqal Xibe Autonomous County".into()),
        geom: feature_geom(FILE, f)?,
        source: prop_str(f, "source").unwrap_or_else(|| "Tianditu".into()),
        synthetic: false,
    })
}

fn parse_neighbours() -> Result<Vec<NeighbourCounty>, GeodataError> {
    const FILE: &str = "ili_neighbour_counties.geojson";
    let mut out = Vec::new();
    for f in features(FILE, NEIGHBOURS_GEOJSON)? {
        let code = prop_str(&f, "adcode")
            .ok_or_else(|| embedded(FILE)("a feature has no adcode".into()))?;
        // The file also carries Qapqal itself, which is a county here, not a neighbour.
        if code == QAPQAL_CODE {
            continue;
        }
        out.push(NeighbourCounty {
            name: prop_str(&f, "name").unwrap_or_else(|| code.clone()),
            code,
            geom: feature_geom(FILE, &f)?,
        });
    }
    Ok(out)
}

fn parse_rivers() -> Result<Vec<River>, GeodataError> {
    const FILE: &str = "rivers.geojson";
    features(FILE, RIVERS_GEOJSON)?
        .iter()
        .map(|f| {
            let level = f
                .property("wdb_level")
                .and_then(serde_json::Value::as_i64)
                .and_then(|l| i16::try_from(l).ok())
                .ok_or_else(|| embedded(FILE)("a feature has no integer wdb_level".into()))?;
            Ok(River {
                name: prop_str(f, "name"),
                level,
                geom: feature_geom(FILE, f)?,
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct TownshipRow {
    code: String,
    name: String,
    kind: String,
    seat_lon: Option<f64>,
    seat_lat: Option<f64>,
    seat_confidence: String,
}

#[derive(Debug, Deserialize)]
struct VillageRow {
    code: String,
    name: String,
    township_code: String,
    unit_kind: String,
}

fn read_csv<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<Vec<T>, GeodataError> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .map(|r| r.map_err(|e| embedded(file)(e.to_string())))
        .collect()
}

fn township_kind(kind: &str) -> Option<&'static str> {
    if kind.starts_with('镇') {
        Some("town")
    } else if kind.starts_with('乡') {
        Some("township")
    } else if kind.starts_with("farm/forest/port") {
        Some("farm_forest_port")
    } else if kind.starts_with("XPCC") {
        Some("xpcc_regiment")
    } else {
        None
    }
}

fn village_kind(unit_kind: &str) -> Option<&'static str> {
    if unit_kind.contains("村委会") {
        Some("village_committee")
    } else if unit_kind.contains("社区") || unit_kind.contains("居委会") {
        Some("residents_committee")
    } else if unit_kind.contains("farm") || unit_kind.contains("regiment") {
        Some("farm_unit")
    } else {
        None
    }
}

/// Seats for the six units no source places (lon, lat), chosen inside the county:
/// - 安班巴格良繁场 (seed farm) and 伊犁州平原林场 (plain forest farm): the northern plain by the Ili;
/// - 山区林场 (mountain forest farm): the Wusun mountains in the south;
/// - 都拉塔口岸 (Dulata port): the south-western border with Kazakhstan;
/// - the two XPCC units: a part of the plain and piedmont no other seat uses.
const SYNTHETIC_SEATS: &[(&str, f64, f64)] = &[
    ("654022401", 81.11, 43.89),
    ("654022403", 80.85, 43.85),
    ("654022404", 81.10, 43.47),
    ("654022408", 80.70, 43.64),
    ("654022503", 81.30, 43.60),
    ("654022504", 80.80, 43.70),
];

fn parse_townships(
    county: &MultiPolygon<f64>,
    opts: &GazetteerOptions,
) -> Result<Vec<Township>, GeodataError> {
    const FILE: &str = "townships.csv";
    let mut out = Vec::new();
    for row in read_csv::<TownshipRow>(FILE, TOWNSHIPS_CSV)? {
        let kind = township_kind(&row.kind)
            .ok_or_else(|| embedded(FILE)(format!("{}: unknown kind {:?}", row.code, row.kind)))?;
        if kind == "xpcc_regiment" && !opts.include_xpcc {
            continue;
        }
        let (seat, seat_synthetic) = match (row.seat_lon, row.seat_lat) {
            (Some(lon), Some(lat)) => (Point::new(lon, lat), false),
            _ => {
                let &(_, lon, lat) = SYNTHETIC_SEATS
                    .iter()
                    .find(|(c, _, _)| *c == row.code)
                    .ok_or_else(|| embedded(FILE)(format!("{}: no seat", row.code)))?;
                (Point::new(lon, lat), true)
            }
        };
        out.push(Township {
            seat: nudge_inside(seat, county),
            code: row.code,
            name: row.name,
            kind,
            seat_synthetic,
            seat_confidence: row.seat_confidence,
            geom: MultiPolygon(Vec::new()),
            synthetic: true,
        });
    }
    Ok(out)
}

/// Moves a point outside the county towards the county's interior until it is inside. None of
/// the bundled seats needs it today (a test checks that); it keeps the invariant if the
/// approximate seats in townships.csv are revised.
fn nudge_inside(p: Point<f64>, county: &MultiPolygon<f64>) -> Point<f64> {
    if county.contains(&p) {
        return p;
    }
    let Some(target) = interior_point(county) else {
        return p;
    };
    (1..=100)
        .map(|i| {
            let t = f64::from(i) / 100.0;
            Point::new(
                p.x() + (target.x() - p.x()) * t,
                p.y() + (target.y() - p.y()) * t,
            )
        })
        .find(|q| county.contains(q))
        .unwrap_or(target)
}

fn interior_point(mp: &MultiPolygon<f64>) -> Option<Point<f64>> {
    use geo::InteriorPoint;
    mp.interior_point()
}

// ---------------------------------------------------------------------------------------------
// Voronoi cells

/// The Voronoi cell of seat `i` among `seats`, clipped to the county. The unclipped cell is the
/// intersection of half-planes, so it is convex: it is clipped exactly with Sutherland–Hodgman
/// (a dozen lines), and only the final intersection with the non-convex county uses BooleanOps.
fn voronoi_cell(i: usize, seats: &[Point<f64>], county: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let Some(bbox) = geo::BoundingRect::bounding_rect(county) else {
        return MultiPolygon(Vec::new());
    };
    let (min, max) = (bbox.min(), bbox.max());
    let mut cell = vec![
        (min.x - 1.0, min.y - 1.0),
        (max.x + 1.0, min.y - 1.0),
        (max.x + 1.0, max.y + 1.0),
        (min.x - 1.0, max.y + 1.0),
    ];
    let s = seats[i];
    for (j, o) in seats.iter().enumerate() {
        if j == i {
            continue;
        }
        // Points x nearer to s than to o: 2 (o − s) · x ≤ |o|² − |s|².
        let (a, b) = (2.0 * (o.x() - s.x()), 2.0 * (o.y() - s.y()));
        let c = o.x() * o.x() + o.y() * o.y() - s.x() * s.x() - s.y() * s.y();
        cell = clip_half_plane(&cell, a, b, c);
        if cell.is_empty() {
            break;
        }
    }
    if cell.len() < 3 {
        return MultiPolygon(Vec::new());
    }
    let ring: Vec<Coord<f64>> = cell.iter().map(|&(x, y)| Coord { x, y }).collect();
    let poly = Polygon::new(LineString::new(ring), Vec::new());
    county.intersection(&poly)
}

/// Keeps the part of a convex polygon where `a x + b y ≤ c`.
fn clip_half_plane(poly: &[(f64, f64)], a: f64, b: f64, c: f64) -> Vec<(f64, f64)> {
    let side = |p: (f64, f64)| a * p.0 + b * p.1 - c;
    let mut out = Vec::with_capacity(poly.len() + 1);
    for (k, &p) in poly.iter().enumerate() {
        let q = poly[(k + 1) % poly.len()];
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp < 0.0 && sq > 0.0) || (sp > 0.0 && sq < 0.0) {
            let t = sp / (sp - sq);
            out.push((p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Village placement

/// Kilometres to degrees at a latitude (equirectangular, good to <1% over a county).
fn offset_km(p: Point<f64>, east_km: f64, north_km: f64) -> Point<f64> {
    let km_per_deg_lat = 111.32;
    let km_per_deg_lon = km_per_deg_lat * p.y().to_radians().cos();
    Point::new(
        p.x() + east_km / km_per_deg_lon,
        p.y() + north_km / km_per_deg_lat,
    )
}

/// Remote (6-monthly follow-up): the mountain forest farm, and villages of the two southern
/// pastoral towns more than this far from their seat.
const REMOTE_TOWNSHIPS: &[&str] = &["654022404"];
const PASTORAL_TOWNSHIPS: &[&str] = &["654022104", "654022105"];
const REMOTE_DISTANCE_M: f64 = 7_000.0;

fn place_villages(
    townships: &[Township],
    county: &MultiPolygon<f64>,
    opts: &GazetteerOptions,
) -> Result<Vec<Village>, GeodataError> {
    const FILE: &str = "villages.csv";
    let index: HashMap<&str, usize> = townships
        .iter()
        .enumerate()
        .map(|(i, t)| (t.code.as_str(), i))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(PLACEMENT_SEED);
    let mut placed: Vec<Point<f64>> = Vec::new();
    let mut out = Vec::new();
    for row in read_csv::<VillageRow>(FILE, VILLAGES_CSV)? {
        let kind = village_kind(&row.unit_kind).ok_or_else(|| {
            embedded(FILE)(format!(
                "{}: unknown unit kind {:?}",
                row.code, row.unit_kind
            ))
        })?;
        let Some(&ti) = index.get(row.township_code.as_str()) else {
            if row.township_code.starts_with("6540225") && !opts.include_xpcc {
                continue;
            }
            return Err(GeodataError::UnknownTownship {
                code: row.code,
                township_code: row.township_code,
            });
        };
        let t = &townships[ti];
        let (r_min, r_max) = match kind {
            "residents_committee" => (0.2, 1.5),
            _ if row.unit_kind.starts_with("virtual") => (0.5, 3.0),
            _ => (3.0, 12.0),
        };
        let position = place_one(&mut rng, t, county, &placed, r_min, r_max).ok_or_else(|| {
            GeodataError::Placement {
                code: row.code.clone(),
                township_code: row.township_code.clone(),
            }
        })?;
        placed.push(position);
        let remote = REMOTE_TOWNSHIPS.contains(&t.code.as_str())
            || (PASTORAL_TOWNSHIPS.contains(&t.code.as_str())
                && Haversine.distance(position, t.seat) > REMOTE_DISTANCE_M);
        out.push(Village {
            code: row.code,
            township_code: row.township_code,
            name: row.name,
            kind,
            position,
            synthetic: true,
            remote,
        });
    }
    Ok(out)
}

/// Rejection sampling around the seat; the ring widens (inner radius shrinks, outer grows) after
/// every 200 failed draws so that small Voronoi cells still get their villages.
fn place_one(
    rng: &mut ChaCha8Rng,
    t: &Township,
    county: &MultiPolygon<f64>,
    placed: &[Point<f64>],
    r_min: f64,
    r_max: f64,
) -> Option<Point<f64>> {
    for round in 0..20 {
        let shrink = 0.7_f64.powi(round);
        let (lo, hi) = (r_min * shrink, r_max * (1.0 + 0.25 * f64::from(round)));
        for _ in 0..200 {
            let angle = rng.random_range(0.0..std::f64::consts::TAU);
            // Uniform over the ring's area.
            let r = (rng.random_range(lo * lo..=hi * hi)).sqrt();
            let p = offset_km(t.seat, r * angle.cos(), r * angle.sin());
            if t.geom.contains(&p)
                && county.contains(&p)
                && placed
                    .iter()
                    .all(|q| Haversine.distance(p, *q) >= MIN_VILLAGE_SPACING_M)
            {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;

    fn gaz() -> Gazetteer {
        qapqal(&GazetteerOptions::default()).unwrap()
    }

    #[test]
    fn the_csv_lists_nineteen_township_units() {
        let all = qapqal(&GazetteerOptions { include_xpcc: true }).unwrap();
        assert_eq!(all.townships.len(), 19);
        assert_eq!(all.villages.len(), 94);
        assert_eq!(
            all.townships
                .iter()
                .filter(|t| t.kind == "xpcc_regiment")
                .count(),
            2
        );
    }

    #[test]
    fn xpcc_units_are_excluded_by_default() {
        let g = gaz();
        assert_eq!(g.townships.len(), 17);
        assert_eq!(g.villages.len(), 84);
        assert!(g.townships.iter().all(|t| t.kind != "xpcc_regiment"));
        assert!(
            g.villages
                .iter()
                .all(|v| !v.township_code.starts_with("6540225"))
        );
    }

    #[test]
    fn village_kinds_follow_the_unit_kind_column() {
        let all = qapqal(&GazetteerOptions { include_xpcc: true }).unwrap();
        let count = |k| all.villages.iter().filter(|v| v.kind == k).count();
        assert_eq!(count("village_committee"), 64);
        assert_eq!(count("residents_committee"), 13);
        assert_eq!(count("farm_unit"), 17);
    }

    #[test]
    fn only_the_six_unplaced_units_have_synthetic_seats_and_every_seat_is_in_the_county() {
        let all = qapqal(&GazetteerOptions { include_xpcc: true }).unwrap();
        let county = &all.counties[0].geom;
        assert_eq!(all.townships.iter().filter(|t| t.seat_synthetic).count(), 6);
        for t in &all.townships {
            assert!(
                county.contains(&t.seat),
                "seat of {} outside the county",
                t.code
            );
            assert!(
                t.geom.contains(&t.seat),
                "seat of {} outside its own area",
                t.code
            );
            assert!(t.synthetic);
        }
        // No source seat needed nudging: the positions are the CSV's.
        let seat100 = all
            .townships
            .iter()
            .find(|t| t.code == "654022100")
            .unwrap();
        assert_eq!((seat100.seat.x(), seat100.seat.y()), (81.15, 43.838));
    }

    fn assert_villages_in_place(g: &Gazetteer) {
        let county = &g.counties[0].geom;
        for v in &g.villages {
            let t = g
                .townships
                .iter()
                .find(|t| t.code == v.township_code)
                .unwrap();
            assert!(
                county.contains(&v.position),
                "{} outside the county",
                v.code
            );
            assert!(
                t.geom.contains(&v.position),
                "{} outside its township",
                v.code
            );
            assert!(v.synthetic);
        }
    }

    #[test]
    fn every_village_is_inside_the_county_and_its_own_township_area() {
        assert_villages_in_place(&gaz());
        assert_villages_in_place(&qapqal(&GazetteerOptions { include_xpcc: true }).unwrap());
    }

    #[test]
    fn township_areas_cover_the_county_without_overlap() {
        for g in [
            gaz(),
            qapqal(&GazetteerOptions { include_xpcc: true }).unwrap(),
        ] {
            let county_area = g.counties[0].geom.unsigned_area();
            let sum: f64 = g.townships.iter().map(|t| t.geom.unsigned_area()).sum();
            assert!(
                ((sum - county_area) / county_area).abs() < 0.001,
                "{sum} vs {county_area}"
            );
            for (i, a) in g.townships.iter().enumerate() {
                for b in &g.townships[i + 1..] {
                    let overlap = a.geom.intersection(&b.geom).unsigned_area();
                    assert!(
                        overlap < county_area * 1e-6,
                        "{} overlaps {}",
                        a.code,
                        b.code
                    );
                }
            }
        }
    }

    #[test]
    fn villages_are_at_least_500_m_apart() {
        let g = qapqal(&GazetteerOptions { include_xpcc: true }).unwrap();
        for (i, a) in g.villages.iter().enumerate() {
            for b in &g.villages[i + 1..] {
                let d = Haversine.distance(a.position, b.position);
                assert!(
                    d >= MIN_VILLAGE_SPACING_M,
                    "{} and {}: {d} m",
                    a.code,
                    b.code
                );
            }
        }
    }

    #[test]
    fn placement_is_deterministic_and_marks_mountain_villages_remote() {
        let (a, b) = (gaz(), gaz());
        assert_eq!(a, b);
        let forest = a
            .villages
            .iter()
            .find(|v| v.code == "654022404598")
            .unwrap();
        assert!(forest.remote);
        assert!(a.villages.iter().filter(|v| v.remote).count() >= 2);
        let seat_town = a.villages.iter().filter(|v| v.township_code == "654022100");
        assert!(seat_town.clone().all(|v| !v.remote));
    }

    #[test]
    fn neighbours_exclude_qapqal_and_rivers_have_levels() {
        let g = gaz();
        assert_eq!(g.neighbours.len(), 16);
        assert!(g.neighbours.iter().all(|n| n.code != QAPQAL_CODE));
        assert_eq!(g.rivers.len(), 4);
        assert!(g.rivers.iter().all(|r| r.level == 2 || r.level == 3));
    }

    #[test]
    fn scaled_three_has_three_counties_with_unique_codes_and_villages_inside_their_county() {
        let g = gaz().scaled(3);
        assert_eq!(g.counties.len(), 3);
        let codes: std::collections::HashSet<_> = g.counties.iter().map(|c| &c.code).collect();
        assert_eq!(codes.len(), 3);
        assert_eq!(g.counties[1].code, "990001");
        assert!(g.counties[1].synthetic && !g.counties[0].synthetic);
        assert_eq!(g.villages.len(), 3 * 84);
        assert_eq!(g.townships.len(), 3 * 17);
        let vcodes: std::collections::HashSet<_> = g.villages.iter().map(|v| &v.code).collect();
        assert_eq!(vcodes.len(), g.villages.len());
        for v in &g.villages {
            let county = g.county_of(&v.code).unwrap();
            assert!(
                county.geom.contains(&v.position),
                "{} outside {}",
                v.code,
                county.code
            );
            assert!(v.code.starts_with(&v.township_code) && v.code.len() == 12);
        }
        for c in &g.counties[1..] {
            let overlap = c.geom.intersection(&g.counties[0].geom).unsigned_area();
            assert_eq!(overlap, 0.0);
        }
        let copy = g
            .villages
            .iter()
            .find(|v| v.code == "990002100001")
            .unwrap();
        assert!(copy.name.ends_with("（合成2）"));
    }

    #[test]
    fn h3_cells_are_resolutions_seven_to_nine_and_fit_in_a_bigint() {
        let cells = h3_cells(Point::new(81.1513, 43.8407)).unwrap();
        for (cell, res) in cells.iter().zip([7_u8, 8, 9]) {
            let c = h3o::CellIndex::try_from(*cell).unwrap();
            assert_eq!(u8::from(c.resolution()), res);
            assert!(*cell as i64 > 0);
        }
        assert!(h3_cells(Point::new(f64::NAN, 0.0)).is_err());
    }
}
