//! WGS84 ↔ GCJ-02 ("Mars coordinates", 火星坐标), the obfuscated datum that Chinese map services
//! (AMap/Gaode, Tencent, WeChat location sharing, Google Maps in China) use for coordinates inside
//! China. Records copied from those apps are 200–700 m off on a WGS84 map; `crs=gcj02` on the API
//! and the import turns them back into WGS84 with [`gcj02_to_wgs84`].
//!
//! The forward transform [`wgs84_to_gcj02`] is the public reconstruction published by the
//! eviltransform project (googollee/eviltransform) and the coordtransform libraries: an offset
//! given by two trigonometric polynomials of (lon − 105°, lat − 35°), scaled from metres to degrees
//! on the Krasovsky 1940 ellipsoid (a = 6 378 245 m, e² = 0.006 693 421 622 965 943 23). It
//! reproduces eviltransform's own test vectors to the last digit (see the tests).
//!
//! The inverse has no closed form. [`gcj02_to_wgs84`] solves `forward(w) = g` by fixed-point
//! iteration, `w₀ = g`, `wₖ₊₁ = wₖ − (forward(wₖ) − g)`, until `forward(wₖ)` is within
//! [`INVERSE_TOLERANCE_DEG`] (1e-9°) of `g` in both coordinates. The offset varies slowly: the
//! norm of its derivative is below 0.01 everywhere in the China rectangle (0.009 at most on a
//! 0.1° grid), so the iteration is a contraction that shrinks the error at least a hundredfold
//! per step (at most 3 corrections on a 0.25° grid). When it stops, the error of the estimate is
//! at most the residual divided by (1 − 0.01), below 1.02e-9° or about 0.1 mm, far below the 1 m
//! the issue requires. The tests check the round trip with haversine over grids covering Xinjiang
//! and China.
//!
//! "Inside China" is the rectangle every implementation uses, lon 72.004–137.8347°E and
//! lat 0.8293–55.8271°N ([`in_china`]). It is coarse: it also covers Mongolia, the Korean
//! peninsula, parts of Central Asia and Japan, where apps do not shift coordinates. That does not
//! matter for a county in Xinjiang, but a point outside the rectangle is always returned unchanged.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// Krasovsky 1940 semi-major axis (metres), as in the published transform.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// Krasovsky 1940 first eccentricity squared.
#[expect(
    clippy::excessive_precision,
    reason = "the published constant, digit for digit"
)]
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943_23;

/// The inverse stops when the forward transform of its estimate is this close to the input
/// (degrees, each coordinate): 1e-9° is 0.11 mm of latitude.
pub const INVERSE_TOLERANCE_DEG: f64 = 1e-9;
/// Safety bound on the fixed-point iteration; 3 corrections suffice everywhere in China.
const INVERSE_MAX_ITERATIONS: usize = 30;

/// Why a coordinate was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordinateError {
    #[error("longitude {lon} is not a number between -180 and 180 (latitude {lat})")]
    Longitude { lon: f64, lat: f64 },
    #[error("latitude {lat} is not a number between -90 and 90 (longitude {lon})")]
    Latitude { lon: f64, lat: f64 },
    #[error("unknown coordinate system {0:?}: expected \"wgs84\" or \"gcj02\"")]
    UnknownCrs(String),
}

/// A longitude/latitude pair in degrees, finite and within range.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LonLat {
    lon: f64,
    lat: f64,
}

impl LonLat {
    /// Checks that `lon` is in −180..=180 and `lat` in −90..=90 (NaN and infinities refused).
    pub fn new(lon: f64, lat: f64) -> Result<Self, CoordinateError> {
        if !(-180.0..=180.0).contains(&lon) {
            return Err(CoordinateError::Longitude { lon, lat });
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(CoordinateError::Latitude { lon, lat });
        }
        Ok(Self { lon, lat })
    }

    /// Longitude, degrees east.
    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Latitude, degrees north.
    pub fn lat(self) -> f64 {
        self.lat
    }
}

impl From<LonLat> for geo::Point<f64> {
    fn from(p: LonLat) -> Self {
        geo::Point::new(p.lon, p.lat)
    }
}

impl fmt::Display for LonLat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(lon {}, lat {})", self.lon, self.lat)
    }
}

/// The coordinate system of incoming coordinates: the `crs=` parameter of the API and the import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Crs {
    /// WGS84 (EPSG:4326), what GPS receivers and the database use.
    #[default]
    Wgs84,
    /// GCJ-02, what AMap, Tencent maps and WeChat give inside China.
    Gcj02,
}

impl Crs {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wgs84 => "wgs84",
            Self::Gcj02 => "gcj02",
        }
    }

    /// The point in WGS84.
    pub fn to_wgs84(self, p: LonLat) -> LonLat {
        match self {
            Self::Wgs84 => p,
            Self::Gcj02 => gcj02_to_wgs84(p),
        }
    }
}

impl FromStr for Crs {
    type Err = CoordinateError;

    /// `wgs84` (also `epsg:4326`, `4326`) or `gcj02` (also `gcj-02`), any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wgs84" | "wgs-84" | "epsg:4326" | "4326" => Ok(Self::Wgs84),
            "gcj02" | "gcj-02" => Ok(Self::Gcj02),
            _ => Err(CoordinateError::UnknownCrs(s.to_owned())),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True inside the rectangle lon 72.004–137.8347°E, lat 0.8293–55.8271°N where GCJ-02 applies
/// (the conventional test of every public implementation; see the module docs for its limits).
pub fn in_china(p: LonLat) -> bool {
    (72.004..=137.8347).contains(&p.lon) && (0.8293..=55.8271).contains(&p.lat)
}

/// WGS84 → GCJ-02. Points outside [`in_china`] are returned unchanged.
pub fn wgs84_to_gcj02(p: LonLat) -> LonLat {
    if !in_china(p) {
        return p;
    }
    let (dlon, dlat) = offset(p.lon, p.lat);
    LonLat {
        lon: p.lon + dlon,
        lat: p.lat + dlat,
    }
}

/// GCJ-02 → WGS84 by fixed-point iteration (see the module docs): the result's forward transform
/// is within [`INVERSE_TOLERANCE_DEG`] of `p`, an error below 0.1 mm. Points outside [`in_china`]
/// are returned unchanged.
pub fn gcj02_to_wgs84(p: LonLat) -> LonLat {
    if !in_china(p) {
        return p;
    }
    let (mut lon, mut lat) = (p.lon, p.lat);
    for _ in 0..INVERSE_MAX_ITERATIONS {
        let (dlon, dlat) = offset(lon, lat);
        let (err_lon, err_lat) = (lon + dlon - p.lon, lat + dlat - p.lat);
        if err_lon.abs() < INVERSE_TOLERANCE_DEG && err_lat.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
        lon -= err_lon;
        lat -= err_lat;
    }
    // The offset is at most ~0.01°, so the estimate stays a valid coordinate.
    LonLat { lon, lat }
}

/// The GCJ-02 offset (dlon, dlat) in degrees at a WGS84 point.
fn offset(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = (lon - 105.0, lat - 35.0);
    let dlat_m = transform_lat(x, y);
    let dlon_m = transform_lon(x, y);
    let rad_lat = lat.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    // Metres to degrees on the Krasovsky ellipsoid: meridian and parallel radii of curvature.
    let dlat =
        (dlat_m * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon_m * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (dlon, dlat)
}

/// The shared periodic term of both polynomials.
fn periodic_x(x: f64) -> f64 {
    (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0
}

fn transform_lat(x: f64, y: f64) -> f64 {
    -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * x.abs().sqrt()
        + periodic_x(x)
        + (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0
        + (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0
}

fn transform_lon(x: f64, y: f64) -> f64 {
    300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * x.abs().sqrt()
        + periodic_x(x)
        + (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0
        + (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Haversine};

    fn ll(lon: f64, lat: f64) -> LonLat {
        LonLat::new(lon, lat).unwrap()
    }

    fn metres(a: LonLat, b: LonLat) -> f64 {
        Haversine.distance(geo::Point::from(a), geo::Point::from(b))
    }

    /// eviltransform's test vectors (wgsLat, wgsLng, gcjLat, gcjLng in its `TESTS` table, here
    /// as lon/lat): Shanghai, Shenzhen, Beijing.
    const EVILTRANSFORM_VECTORS: [(f64, f64, f64, f64); 3] = [
        (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
        (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
        (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    ];

    #[test]
    fn the_forward_transform_reproduces_the_eviltransform_test_vectors() {
        for (wlon, wlat, glon, glat) in EVILTRANSFORM_VECTORS {
            let g = wgs84_to_gcj02(ll(wlon, wlat));
            assert!((g.lon() - glon).abs() < 1e-9, "{g} vs {glon}");
            assert!((g.lat() - glat).abs() < 1e-9, "{g} vs {glat}");
        }
    }

    #[test]
    fn the_inverse_recovers_the_eviltransform_wgs84_points_within_a_millimetre() {
        for (wlon, wlat, glon, glat) in EVILTRANSFORM_VECTORS {
            let w = gcj02_to_wgs84(ll(glon, glat));
            assert!(metres(w, ll(wlon, wlat)) < 0.001, "{w}");
        }
    }

    #[test]
    fn tiananmen_shifts_to_its_published_gcj02_position() {
        // The widely quoted pair: WGS84 (116.391275, 39.906217) ↔ GCJ-02 ≈ (116.397515, 39.907617).
        let g = wgs84_to_gcj02(ll(116.391275, 39.906217));
        assert!((g.lon() - 116.397515).abs() < 1e-5, "{g}");
        assert!((g.lat() - 39.907617).abs() < 1e-5, "{g}");
        let w = gcj02_to_wgs84(ll(116.397515, 39.907617));
        assert!(metres(w, ll(116.391275, 39.906217)) < 1.5, "{w}");
    }

    #[test]
    fn the_offset_at_the_qapqal_county_seat_is_between_200_and_300_metres() {
        let seat = ll(81.1513, 43.8407);
        let g = wgs84_to_gcj02(seat);
        let d = metres(seat, g);
        assert!((200.0..300.0).contains(&d), "{d} m");
        // Shifted north-east, as everywhere in Xinjiang.
        assert!(g.lon() > seat.lon() && g.lat() > seat.lat());
    }

    fn round_trip_max_error_m(lons: (f64, f64), lats: (f64, f64), step: f64) -> f64 {
        let mut worst: f64 = 0.0;
        let mut lon = lons.0;
        while lon <= lons.1 {
            let mut lat = lats.0;
            while lat <= lats.1 {
                let w = ll(lon, lat);
                let back = gcj02_to_wgs84(wgs84_to_gcj02(w));
                worst = worst.max(metres(w, back));
                // And the other way: a GCJ-02 input, inverted, maps forward onto itself.
                let g = w;
                let fwd = wgs84_to_gcj02(gcj02_to_wgs84(g));
                worst = worst.max(metres(g, fwd));
                lat += step;
            }
            lon += step;
        }
        worst
    }

    #[test]
    fn the_round_trip_error_is_below_a_millimetre_over_xinjiang() {
        let worst = round_trip_max_error_m((73.5, 96.4), (34.3, 49.2), 0.1);
        eprintln!("worst round trip: {worst} m");
        assert!(worst < 0.001, "{worst} m");
    }

    #[test]
    fn the_round_trip_error_is_below_a_millimetre_over_all_of_china() {
        let worst = round_trip_max_error_m((72.1, 137.8), (0.9, 55.8), 0.5);
        eprintln!("worst round trip: {worst} m");
        assert!(worst < 0.001, "{worst} m");
    }

    #[test]
    fn points_outside_china_are_unchanged() {
        for p in [
            ll(139.6917, 35.6895),  // Tokyo, east of the rectangle
            ll(-0.1276, 51.5072),   // London
            ll(151.2093, -33.8688), // Sydney
            ll(71.43, 51.13),       // Astana, west of 72.004°E
            ll(180.0, 90.0),
        ] {
            assert_eq!(wgs84_to_gcj02(p), p);
            assert_eq!(gcj02_to_wgs84(p), p);
            assert!(!in_china(p));
        }
        assert!(in_china(ll(81.1513, 43.8407)));
    }

    #[test]
    fn out_of_range_and_non_finite_coordinates_are_refused_with_the_value() {
        let e = LonLat::new(181.0, 43.0).unwrap_err();
        assert_eq!(
            e,
            CoordinateError::Longitude {
                lon: 181.0,
                lat: 43.0
            }
        );
        assert!(e.to_string().contains("181"));
        assert!(matches!(
            LonLat::new(81.0, -90.5),
            Err(CoordinateError::Latitude { .. })
        ));
        assert!(LonLat::new(f64::NAN, 43.0).is_err());
        assert!(LonLat::new(81.0, f64::INFINITY).is_err());
        assert!(LonLat::new(-180.0, -90.0).is_ok());
    }

    /// The phone's copy of the transform (web/field-core/coords.js) is checked against the same
    /// file by `node --test web/field-core/test/`: both sides agree to 1e-9°.
    #[test]
    fn the_shared_fixture_matches_this_transform_both_ways() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/gcj02.json")).unwrap();
        let tolerance = fixture["tolerance_deg"].as_f64().unwrap();
        let inverse_tolerance = fixture["inverse_tolerance_deg"].as_f64().unwrap();
        let pair = |v: &serde_json::Value| ll(v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
        let points = fixture["points"].as_array().unwrap();
        assert!(points.len() >= 10, "{} points", points.len());
        for p in points {
            let (w, g) = (pair(&p["wgs84"]), pair(&p["gcj02"]));
            let fwd = wgs84_to_gcj02(w);
            assert!(
                (fwd.lon() - g.lon()).abs() <= tolerance
                    && (fwd.lat() - g.lat()).abs() <= tolerance,
                "{}: {fwd} vs {g}",
                p["name"]
            );
            let back = gcj02_to_wgs84(g);
            assert!(
                (back.lon() - w.lon()).abs() <= inverse_tolerance
                    && (back.lat() - w.lat()).abs() <= inverse_tolerance,
                "{}: {back} vs {w}",
                p["name"]
            );
        }
    }

    #[test]
    fn crs_parses_its_labels_and_converts_only_gcj02() {
        assert_eq!("GCJ02".parse::<Crs>().unwrap(), Crs::Gcj02);
        assert_eq!(" wgs84 ".parse::<Crs>().unwrap(), Crs::Wgs84);
        assert_eq!(Crs::default(), Crs::Wgs84);
        let e = "bd09".parse::<Crs>().unwrap_err();
        assert!(e.to_string().contains("bd09"), "{e}");
        let p = ll(81.1513, 43.8407);
        assert_eq!(Crs::Wgs84.to_wgs84(p), p);
        assert_eq!(Crs::Gcj02.to_wgs84(p), gcj02_to_wgs84(p));
        assert_eq!(Crs::Gcj02.to_string(), "gcj02");
    }
}
