//! Tile coordinates for echinomap's vector tiles: the `z/x/y` address of a tile, checked on
//! construction, and its bounds in Web Mercator (EPSG:3857) and WGS84 (EPSG:4326).
//! No HTTP and no database: the server turns a request path into a [`TileCoord`] and the
//! per-layer SQL uses its envelope.
//!
//! Web Mercator exists only here and inside tile SQL; everything else is EPSG:4326.
//!
//! Modules: [`layers`] (the layer catalogue: fields, zooms, the SQL of each and the named
//! parameters it binds, [`layers::TileArgs`]), [`tilejson`] (TileJSON 3.0), [`cache`] (tiles
//! compressed once, a strong ETag per encoding, a byte-bounded cache keyed by the data versions
//! of the tables a layer reads and by the small-count rule). The statements run in
//! `echinomap_programme::tiles`; the `period=` filter is `echinomap_domain::Period`.

pub mod cache;
pub mod layers;
pub mod tilejson;

use std::f64::consts::PI;

/// Half the side of the Web Mercator square, in metres (EPSG:3857).
pub const MERCATOR_HALF_WORLD: f64 = 20_037_508.342_789_244;
/// The deepest zoom echinomap serves.
pub const MAX_ZOOM: u8 = 22;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("zoom {0} is outside 0..={MAX_ZOOM}")]
    Zoom(u32),
    #[error("tile {x}/{y} does not exist at zoom {z} (x and y must be below {limit})")]
    OutOfRange { z: u8, x: u32, y: u32, limit: u32 },
}

/// A tile in the XYZ scheme (y grows southwards), valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TileCoord {
    z: u8,
    x: u32,
    y: u32,
}

/// A rectangle: west, south, east, north.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bounds {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl TileCoord {
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, TileError> {
        let z = u8::try_from(z)
            .ok()
            .filter(|z| *z <= MAX_ZOOM)
            .ok_or(TileError::Zoom(z))?;
        let limit = 1u32 << z;
        if x >= limit || y >= limit {
            return Err(TileError::OutOfRange { z, x, y, limit });
        }
        Ok(Self { z, x, y })
    }

    pub fn z(&self) -> u8 {
        self.z
    }
    pub fn x(&self) -> u32 {
        self.x
    }
    pub fn y(&self) -> u32 {
        self.y
    }

    /// The tile's square in EPSG:3857 metres.
    pub fn mercator_bounds(&self) -> Bounds {
        let size = 2.0 * MERCATOR_HALF_WORLD / f64::from(1u32 << self.z);
        let west = -MERCATOR_HALF_WORLD + f64::from(self.x) * size;
        let north = MERCATOR_HALF_WORLD - f64::from(self.y) * size;
        Bounds {
            west,
            south: north - size,
            east: west + size,
            north,
        }
    }

    /// The tile's rectangle in EPSG:4326 degrees.
    pub fn lonlat_bounds(&self) -> Bounds {
        let n = f64::from(1u32 << self.z);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        Bounds {
            west: lon(f64::from(self.x)),
            south: lat(f64::from(self.y) + 1.0),
            east: lon(f64::from(self.x) + 1.0),
            north: lat(f64::from(self.y)),
        }
    }

    /// The tile holding a WGS84 point at zoom `z`.
    pub fn containing(lon: f64, lat: f64, z: u8) -> Result<Self, TileError> {
        let n = f64::from(1u32 << z.min(MAX_ZOOM));
        let lat = lat.clamp(-85.051_128_78, 85.051_128_78).to_radians();
        let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
        let y = ((1.0 - lat.tan().asinh() / PI) / 2.0 * n)
            .floor()
            .clamp(0.0, n - 1.0);
        Self::new(u32::from(z), x as u32, y as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zoom_zero_tile_covers_the_mercator_world() {
        let t = TileCoord::new(0, 0, 0).unwrap();
        let b = t.mercator_bounds();
        assert!((b.west + MERCATOR_HALF_WORLD).abs() < 1e-6);
        assert!((b.north - MERCATOR_HALF_WORLD).abs() < 1e-6);
        assert!((t.lonlat_bounds().north - 85.051_128_78).abs() < 1e-6);
    }

    #[test]
    fn tiles_outside_their_zoom_are_refused() {
        assert_eq!(
            TileCoord::new(2, 4, 0),
            Err(TileError::OutOfRange {
                z: 2,
                x: 4,
                y: 0,
                limit: 4
            })
        );
        assert_eq!(TileCoord::new(23, 0, 0), Err(TileError::Zoom(23)));
    }

    #[test]
    fn the_county_seat_falls_in_the_tile_whose_bounds_hold_it() {
        let (lon, lat) = (81.1513, 43.8407);
        for z in [6u8, 10, 14] {
            let t = TileCoord::containing(lon, lat, z).unwrap();
            let b = t.lonlat_bounds();
            assert!(
                b.west <= lon && lon < b.east && b.south <= lat && lat < b.north,
                "z{z}"
            );
        }
    }
}
